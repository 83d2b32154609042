//! The sans-IO client and server, driven in virtual time.
#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use core::time::Duration;

use o7s_oping::client::{Client, ClientError, ClientParams, Outcome, Pacing};
use o7s_oping::message::{Message, MessageError, MessageType, SduSize};
use o7s_oping::server::Server;
use o7s_oping::stats::{ReplyKind, UnknownId};

const MS: Duration = Duration::from_millis(1);
const S: Duration = Duration::from_secs(1);

fn params(pacing: Pacing, count: Option<u32>) -> ClientParams {
    ClientParams {
        size: SduSize::DEFAULT,
        pacing,
        count,
    }
}

/// Sends what is due at `now`; returns the SDUs.
fn drain(client: &mut Client, now: Duration) -> Vec<Vec<u8>> {
    let mut buf = [0u8; SduSize::MAX];
    let mut out = Vec::new();
    while let Some(len) = client.poll_transmit(now, &mut buf) {
        out.push(buf[..len].to_vec());
    }
    out
}

/// The reply a C server would send.
fn answer(mut sdu: Vec<u8>) -> Vec<u8> {
    o7s_oping::reply_in_place(&mut sdu).unwrap();
    sdu
}

#[test]
fn requests_leave_once_per_interval_the_first_at_once() {
    let t0 = Duration::from_secs(100);
    let mut client = Client::new("oping", params(Pacing::Every(S), Some(3)), t0);
    let first = drain(&mut client, t0);
    assert_eq!(first.len(), 1);
    assert_eq!(Message::decode(&first[0]).unwrap(), Message::request(0, t0));
    assert_eq!(first[0].len(), 64);
    assert_eq!(client.poll_timeout(), Some(t0 + S));
    assert!(drain(&mut client, t0 + S - MS).is_empty());
    let second = drain(&mut client, t0 + S);
    assert_eq!(Message::decode(&second[0]).unwrap().id, 1);
}

#[test]
fn a_run_of_three_completes_when_the_last_reply_arrives() {
    let t0 = Duration::ZERO;
    let mut client = Client::new("oping", params(Pacing::Every(S), Some(3)), t0);
    for k in 0..3u32 {
        let sent_at = t0 + S * k;
        let request = drain(&mut client, sent_at).pop().unwrap();
        let reply = client.handle_reply(sent_at + 10 * MS, &answer(request)).unwrap();
        assert_eq!(
            (reply.id, reply.rtt, reply.kind, reply.len),
            (k, 10 * MS, ReplyKind::InOrder, 64)
        );
    }
    assert_eq!(client.outcome(), Some(Outcome::Complete));
    assert_eq!(client.poll_timeout(), None);
    assert!(drain(&mut client, 10 * S).is_empty());
    let stats = client.stats();
    assert_eq!((stats.transmitted(), stats.received(), stats.loss_percent()), (3, 3, 0));
    assert_eq!(stats.elapsed(), 2 * S + 10 * MS);
}

#[test]
fn interval_zero_sends_back_to_back_up_to_the_count() {
    let mut client = Client::new(
        "oping",
        params(Pacing::Every(Duration::ZERO), Some(1000)),
        Duration::ZERO,
    );
    assert_eq!(drain(&mut client, Duration::ZERO).len(), 1000);
    assert_eq!(client.stats().transmitted(), 1000);
}

#[test]
fn flood_sends_the_next_request_when_an_sdu_came_back() {
    let mut client = Client::new("oping", params(Pacing::Flood, Some(2)), Duration::ZERO);
    let first = drain(&mut client, Duration::ZERO);
    assert_eq!(first.len(), 1);
    assert!(drain(&mut client, S).is_empty(), "waits for the reply");
    // Any SDU releases the next request, even one that does not count.
    assert!(client.handle_reply(MS, &[0; 10]).is_err());
    assert_eq!(client.poll_timeout(), Some(MS));
    assert_eq!(drain(&mut client, MS).len(), 1);
}

#[test]
fn a_silent_server_ends_the_run_after_the_c_receive_timeout() {
    // C: interval / 1000 + 2 seconds, restarted by every SDU read.
    let mut client = Client::new("oping", params(Pacing::Every(S), None), Duration::ZERO);
    assert_eq!(client.params().receive_timeout(), 3 * S);
    drain(&mut client, Duration::ZERO);
    drain(&mut client, S);
    client.handle_reply(S + MS, b"not oping").unwrap_err();
    drain(&mut client, 2 * S);
    drain(&mut client, 3 * S);
    client.handle_timeout(4 * S);
    assert_eq!(client.outcome(), None, "the SDU at 1.001 s restarted the wait");
    drain(&mut client, 4 * S);
    assert_eq!(client.poll_timeout(), Some(S + MS + 3 * S));
    client.handle_timeout(S + MS + 3 * S);
    assert_eq!(client.outcome(), Some(Outcome::ServerTimedOut));
    assert_eq!(client.stats().transmitted(), 5);
    assert_eq!(client.stats().elapsed(), 4 * S + MS);
}

#[test]
fn flood_mode_gives_up_after_two_seconds_where_c_would_wait_forever() {
    let mut client = Client::new("oping", params(Pacing::Flood, None), Duration::ZERO);
    drain(&mut client, Duration::ZERO);
    assert_eq!(client.poll_timeout(), Some(2 * S));
    client.handle_timeout(2 * S);
    assert_eq!(client.outcome(), Some(Outcome::ServerTimedOut));
}

#[test]
fn the_long_wait_applies_at_the_ten_second_interval() {
    assert_eq!(params(Pacing::Every(10 * S), None).receive_timeout(), 12 * S);
    assert_eq!(params(Pacing::Every(1999 * MS), None).receive_timeout(), 3 * S);
}

#[test]
fn after_a_stall_the_client_resumes_its_rhythm_without_a_burst() {
    let mut client = Client::new("oping", params(Pacing::Every(S), None), Duration::ZERO);
    drain(&mut client, Duration::ZERO);
    assert_eq!(drain(&mut client, 5 * S + 300 * MS).len(), 1);
    assert!(drain(&mut client, 6 * S + 299 * MS).is_empty());
    assert_eq!(drain(&mut client, 6 * S + 300 * MS).len(), 1);
}

#[test]
fn sdus_that_are_not_replies_are_refused_with_the_reason() {
    let mut client = Client::new("oping", params(Pacing::Every(S), None), 5 * S);
    let request = drain(&mut client, 5 * S).pop().unwrap();

    assert_eq!(client.handle_reply(5 * S, &request), Err(ClientError::NotAReply));
    assert_eq!(
        client.handle_reply(5 * S, &request[..20]),
        Err(ClientError::Message(MessageError::Truncated { len: 20 }))
    );

    let mut never_sent = vec![0; 64];
    Message {
        kind: MessageType::EchoReply,
        id: 7,
        sent: 5 * S,
    }
    .encode(&mut never_sent)
    .unwrap();
    assert_eq!(
        client.handle_reply(5 * S, &never_sent),
        Err(ClientError::UnknownId(UnknownId { id: 7, transmitted: 1 }))
    );

    let reply = answer(request);
    let err = client.handle_reply(4 * S, &reply).unwrap_err();
    assert_eq!(err, ClientError::SentInFuture { id: 0, ahead: S });
    assert_eq!(client.stats().received(), 0);
    client.handle_reply(5 * S + MS, &reply).unwrap();
    assert_eq!(client.stats().received(), 1);
}

#[test]
fn stopping_ends_the_run_and_later_replies_are_not_counted() {
    let mut client = Client::new("oping", params(Pacing::Every(S), None), Duration::ZERO);
    let request = drain(&mut client, Duration::ZERO).pop().unwrap();
    client.stop(700 * MS);
    assert_eq!(client.outcome(), Some(Outcome::Stopped));
    assert_eq!(client.stats().elapsed(), 700 * MS);
    assert_eq!(
        client.handle_reply(800 * MS, &answer(request)),
        Err(ClientError::Finished)
    );
    client.stop(900 * MS);
    assert_eq!(client.stats().elapsed(), 700 * MS, "the first end stands");
}

#[test]
fn a_reply_prints_like_the_c_line() {
    let mut client = Client::new("oping", params(Pacing::Every(Duration::ZERO), None), Duration::ZERO);
    let requests = drain_n(&mut client, 2);
    let late = client
        .handle_reply(Duration::from_micros(31), &answer(requests[1].clone()))
        .unwrap();
    let early = client
        .handle_reply(Duration::from_micros(45), &answer(requests[0].clone()))
        .unwrap();
    assert_eq!(
        late.line("oping").to_string(),
        "64 bytes from oping: seq=1 time=0.031 ms"
    );
    assert_eq!(
        early.line("oping").to_string(),
        "64 bytes from oping: seq=0 time=0.045 ms [out-of-order]"
    );
}

fn drain_n(client: &mut Client, n: usize) -> Vec<Vec<u8>> {
    let mut buf = [0u8; SduSize::MAX];
    (0..n)
        .map_while(|_| {
            client
                .poll_transmit(Duration::ZERO, &mut buf)
                .map(|len| buf[..len].to_vec())
        })
        .collect()
}

#[test]
fn the_server_turns_a_request_into_its_reply_in_place() {
    let mut server = Server::new();
    let mut sdu = vec![0; 1500];
    Message::request(9, 3 * S).encode(&mut sdu).unwrap();
    let before = sdu.clone();
    server.handle(64, Duration::ZERO, &mut sdu).unwrap();
    assert_eq!(sdu[3], 1);
    assert_eq!(sdu[4..], before[4..]);
    assert!(server.contains(64), "a request on an unknown flow starts serving it");
}

#[test]
fn the_server_answers_only_requests_and_only_requests_keep_a_flow_alive() {
    let mut server = Server::new();
    server.accept(64, Duration::ZERO);
    let mut reply = answer({
        let mut sdu = vec![0; 64];
        Message::request(0, Duration::ZERO).encode(&mut sdu).unwrap();
        sdu
    });
    assert_eq!(server.handle(64, 9 * S, &mut reply), Err(MessageError::NotARequest(1)));
    assert_eq!(
        server.poll_timeout(),
        Some(10 * S),
        "a refused SDU does not restart the clock"
    );
}

#[test]
fn a_flow_is_deallocated_ten_seconds_after_its_last_request() {
    let mut server = Server::new();
    server.accept(64, Duration::ZERO);
    server.accept(65, 2 * S);
    let mut request = vec![0; 64];
    Message::request(0, Duration::ZERO).encode(&mut request).unwrap();
    server.handle(64, 5 * S, &mut request).unwrap();

    assert_eq!(server.poll_timeout(), Some(12 * S));
    assert_eq!(server.poll_expired(12 * S - MS), None);
    assert_eq!(server.poll_expired(12 * S), Some(65));
    assert_eq!(server.poll_expired(12 * S), None);
    assert_eq!(server.poll_timeout(), Some(15 * S));
    assert_eq!(server.poll_expired(15 * S), Some(64));
    assert!(server.is_empty());
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn a_flow_removed_by_the_caller_is_no_longer_served() {
    let mut server = Server::new();
    server.accept(64, Duration::ZERO);
    assert!(server.remove(64));
    assert!(!server.remove(64));
    assert_eq!((server.len(), server.poll_expired(100 * S)), (0, None));
}

/// xorshift64*: a seeded, dependency-free source for the link below.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// ```text
///   Client ──requests──▶ link (drop 10 %, duplicate 5 %, delay 1–40 ms) ──▶ Server
///          ◀──replies──────────────────────────────────────────────────────┘ (answers at once)
/// ```
/// Requests go every 5 ms, so replies overtake each other. Whatever the
/// seed, the figures add up: every delivered id is received once, the
/// extra copies are duplicates, and nothing the link lost is counted.
#[test]
fn over_a_lossy_duplicating_reordering_link_the_figures_add_up() {
    for seed in [1u64, 7, 42, 0xDEAD_BEEF] {
        let mut rng = Rng(seed);
        let mut client = Client::new("oping", params(Pacing::Every(5 * MS), Some(2000)), Duration::ZERO);
        let mut server = Server::new();
        server.accept(64u32, Duration::ZERO);
        // (arrival time at the client, reply SDU)
        let mut in_flight: Vec<(Duration, Vec<u8>)> = Vec::new();
        let mut delivered = std::collections::BTreeSet::new();
        let mut copies = 0u64;
        let mut ooo = 0u64;
        let mut now = Duration::ZERO;
        while client.outcome().is_none() {
            for mut sdu in drain(&mut client, now) {
                if rng.below(100) < 10 {
                    continue;
                }
                let id = Message::decode(&sdu).unwrap().id;
                server.handle(64, now, &mut sdu).unwrap();
                let n = if rng.below(100) < 5 { 2 } else { 1 };
                for _ in 0..n {
                    in_flight.push((now + MS * (1 + rng.below(40) as u32), sdu.clone()));
                }
                if !delivered.insert(id) {
                    unreachable!("ids are sent once");
                }
                copies += n - 1;
            }
            in_flight.sort_by_key(|(at, _)| *at);
            let due = in_flight.iter().take_while(|(at, _)| *at <= now).count();
            for (at, sdu) in in_flight.drain(..due) {
                if let Ok(reply) = client.handle_reply(at, &sdu) {
                    ooo += u64::from(reply.kind == ReplyKind::OutOfOrder);
                }
            }
            let next_arrival = in_flight.first().map(|(at, _)| *at);
            let deadline = client.poll_timeout().unwrap_or(now);
            now = next_arrival
                .map_or(deadline, |at| at.min(deadline))
                .max(now + Duration::from_nanos(1));
            client.handle_timeout(now);
        }
        let stats = client.stats();
        assert_eq!(
            client.outcome(),
            Some(Outcome::ServerTimedOut),
            "seed {seed}: lost replies never come"
        );
        assert_eq!(stats.transmitted(), 2000);
        assert_eq!(stats.received(), delivered.len() as u64, "seed {seed}");
        assert_eq!(stats.duplicates(), copies, "seed {seed}");
        assert_eq!(stats.out_of_order(), ooo, "seed {seed}");
        assert!(ooo > 0 && copies > 0, "seed {seed}: the link did reorder and duplicate");
        let loss = stats.loss_percent();
        assert!((5..=15).contains(&loss), "seed {seed}: {loss}% for a 10 % link");
    }
}
