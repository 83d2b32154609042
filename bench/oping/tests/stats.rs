//! The client's figures and summary, fed ids and RTTs directly.
#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use core::time::Duration;

use o7s_oping::stats::{ReplyKind, Stats, UnknownId};
use proptest::prelude::*;

fn ms(ms: f64) -> Duration {
    Duration::from_secs_f64(ms / 1e3)
}

/// Sends `sent` requests, then feeds the replies `(id, rtt ms)` in order.
fn run(sent: u32, replies: &[(u32, f64)]) -> (Stats, Vec<ReplyKind>) {
    let mut stats = Stats::new("oping");
    for _ in 0..sent {
        stats.record_transmit();
    }
    let kinds = replies
        .iter()
        .map(|&(id, rtt)| stats.record_reply(id, ms(rtt)).unwrap())
        .collect();
    (stats, kinds)
}

#[test]
fn a_clean_run_prints_the_c_lines_plus_percentiles() {
    let (mut stats, kinds) = run(4, &[(0, 1.0), (1, 2.0), (2, 3.0), (3, 4.0)]);
    stats.set_elapsed(Duration::from_micros(3_004_250));
    assert!(kinds.iter().all(|&k| k == ReplyKind::InOrder));
    // mdev: sample standard deviation of 1, 2, 3, 4 = sqrt(5/3) = 1.29099…
    assert_eq!(
        stats.to_string(),
        "--- oping ping statistics ---\n\
         4 packets transmitted, 4 received, 0 out-of-order, 0% packet loss, time: 3004.250 ms\n\
         rtt min/avg/max/mdev = 1.000/2.500/4.000/1.291 ms\n\
         rtt p50/p99 = 2.000/4.000 ms\n"
    );
}

#[test]
fn loss_is_a_whole_percentage_rounded_up_as_in_c() {
    let loss = |sent, received: u32| {
        let replies: Vec<_> = (0..received).map(|id| (id, 1.0)).collect();
        run(sent, &replies).0.loss_percent()
    };
    assert_eq!(loss(10, 10), 0);
    assert_eq!(loss(10, 9), 10);
    assert_eq!(loss(3, 2), 34);
    assert_eq!(loss(10_000, 9_999), 1);
    assert_eq!(loss(4, 0), 100);
    assert_eq!(loss(0, 0), 0);
}

#[test]
fn a_reply_below_the_highest_id_answered_is_out_of_order() {
    let (stats, kinds) = run(4, &[(0, 1.0), (2, 1.0), (1, 1.0), (3, 1.0)]);
    assert_eq!(
        kinds,
        [
            ReplyKind::InOrder,
            ReplyKind::InOrder,
            ReplyKind::OutOfOrder,
            ReplyKind::InOrder
        ]
    );
    assert_eq!((stats.received(), stats.out_of_order()), (4, 1));
    assert!(stats.to_string().contains("4 received, 1 out-of-order, 0% packet loss"));
}

#[test]
fn a_duplicate_counts_apart_and_does_not_hide_a_loss() {
    let (stats, kinds) = run(3, &[(0, 1.0), (1, 2.0), (1, 50.0)]);
    assert_eq!(kinds[2], ReplyKind::Duplicate);
    assert_eq!((stats.received(), stats.duplicates(), stats.lost()), (2, 1, 1));
    assert!(
        stats
            .to_string()
            .contains("3 packets transmitted, 2 received, +1 duplicates, 0 out-of-order, 34% packet loss")
    );
    // The duplicate's RTT is not a sample.
    assert_eq!(stats.rtt_summary().unwrap().max, 2.0);
}

#[test]
fn a_reply_to_an_id_never_sent_is_refused_and_counted_nowhere_else() {
    let mut stats = Stats::new("oping");
    stats.record_transmit();
    let err = stats.record_reply(1, ms(1.0)).unwrap_err();
    assert_eq!(err, UnknownId { id: 1, transmitted: 1 });
    assert_eq!(err.to_string(), "reply to id 1, but only ids below 1 were sent");
    assert_eq!((stats.received(), stats.unknown_ids(), stats.lost()), (0, 1, 1));
}

#[test]
fn a_single_reply_has_no_mdev_as_in_c() {
    let (stats, _) = run(1, &[(0, 0.042)]);
    assert!(
        stats
            .to_string()
            .contains("rtt min/avg/max/mdev = 0.042/0.042/0.042/NaN ms\n")
    );
    assert_eq!(stats.rtt_summary().unwrap().mdev, None);
}

#[test]
fn without_replies_there_are_no_rtt_lines() {
    let (mut stats, _) = run(5, &[]);
    stats.set_elapsed(Duration::from_secs(3));
    assert_eq!(
        stats.to_string(),
        "--- oping ping statistics ---\n\
         5 packets transmitted, 0 received, 0 out-of-order, 100% packet loss, time: 3000.000 ms\n"
    );
    assert_eq!(stats.rtt(0.5), None);
}

#[test]
fn percentiles_follow_the_distribution_and_stay_within_min_and_max() {
    // 99 replies at 10 µs and one at 5 ms: p50 is the fast path, p99 too,
    // and the quantile API reaches the outlier.
    let mut replies: Vec<_> = (0..99).map(|id| (id, 0.010)).collect();
    replies.push((99, 5.0));
    let (stats, _) = run(100, &replies);
    let rtt = stats.rtt_summary().unwrap();
    assert_eq!(format!("{:.3}/{:.3}", rtt.p50, rtt.p99), "0.010/0.010");
    let top = stats.rtt(1.0).unwrap().as_secs_f64() * 1e3;
    assert!((top - 5.0).abs() < 5.0e-3, "three significant digits: {top}");
    assert!(rtt.p99 <= rtt.max && rtt.p50 >= rtt.min);
}

#[test]
fn duplicates_are_caught_across_the_whole_window_and_old_replies_count_once() {
    let mut stats = Stats::new("oping");
    for _ in 0..=70_000 {
        stats.record_transmit();
    }
    let mut reply = |id| stats.record_reply(id, ms(1.0)).unwrap();
    assert_eq!(reply(0), ReplyKind::InOrder);
    assert_eq!(reply(65_535), ReplyKind::InOrder);
    assert_eq!(
        reply(0),
        ReplyKind::Duplicate,
        "65 535 ids back is still inside the window"
    );
    assert_eq!(reply(65_536), ReplyKind::InOrder, "id 0's slot is reused");
    assert_eq!(reply(1), ReplyKind::OutOfOrder, "first reply to 1, below the highest");
    assert_eq!(reply(1), ReplyKind::Duplicate);
    assert_eq!(
        reply(0),
        ReplyKind::OutOfOrder,
        "below the window: cannot be told from a late first reply"
    );
    assert_eq!(reply(70_000), ReplyKind::InOrder);
    assert_eq!(reply(65_536), ReplyKind::Duplicate);
}

fn c_mdev(samples: &[f64]) -> f64 {
    let n = samples.len() as f64;
    let mean = samples.iter().sum::<f64>() / n;
    (samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

proptest! {
    #[test]
    fn figures_match_a_two_pass_computation(rtts in proptest::collection::vec(0.001f64..100.0, 2..200)) {
        let replies: Vec<_> = rtts.iter().enumerate().map(|(id, &rtt)| (id as u32, rtt)).collect();
        let (stats, _) = run(rtts.len() as u32, &replies);
        let summary = stats.rtt_summary().unwrap();
        let mean = rtts.iter().sum::<f64>() / rtts.len() as f64;
        prop_assert!((summary.avg - mean).abs() < 1e-5);
        prop_assert!((summary.mdev.unwrap() - c_mdev(&rtts)).abs() < 1e-5);
        prop_assert!(summary.min <= summary.p50 && summary.p50 <= summary.p99 && summary.p99 <= summary.max);
    }

    #[test]
    fn received_plus_lost_is_transmitted_whatever_the_replies(ids in proptest::collection::vec(0u32..300, 0..600)) {
        let mut stats = Stats::new("oping");
        for _ in 0..200 {
            stats.record_transmit();
        }
        let mut distinct = std::collections::BTreeSet::new();
        for id in ids {
            if stats.record_reply(id, ms(1.0)).is_ok() {
                distinct.insert(id);
            }
        }
        prop_assert_eq!(stats.received(), distinct.len() as u64);
        prop_assert_eq!(stats.received() + stats.lost(), 200);
    }
}
