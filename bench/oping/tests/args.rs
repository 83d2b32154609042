//! The oping and oecho command lines: each flag, each refusal.
#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use core::time::Duration;

use clap::{CommandFactory, Parser};
use o7s_oping::args::{ArgError, ClientConfig, Mode, OpingArgs, ServerConfig, ServerWait, parse_interval, parse_time};
use o7s_oping::client::{ClientParams, Pacing};
use o7s_oping::echo::OechoArgs;
use o7s_oping::message::SduSize;
use o7s_wire::qos::QosSpec;

fn parse(args: &[&str]) -> OpingArgs {
    OpingArgs::try_parse_from(std::iter::once("oping").chain(args.iter().copied())).unwrap()
}

fn client(args: &[&str]) -> ClientConfig {
    match parse(args).mode().unwrap() {
        Mode::Client(config) => config,
        Mode::Server(config) => panic!("expected a client, got {config:?}"),
    }
}

fn server(args: &[&str]) -> ServerConfig {
    match parse(args).mode().unwrap() {
        Mode::Server(config) => config,
        Mode::Client(config) => panic!("expected a server, got {config:?}"),
    }
}

/// The error clap prints for `args`, which must be refused.
fn refusal(args: &[&str]) -> String {
    OpingArgs::try_parse_from(std::iter::once("oping").chain(args.iter().copied()))
        .unwrap_err()
        .to_string()
}

#[test]
fn without_flags_the_client_pings_oping_once_a_second_until_interrupted() {
    assert_eq!(
        client(&[]),
        ClientConfig {
            server_name: "oping".into(),
            qos: QosSpec::RAW,
            params: ClientParams {
                size: SduSize::DEFAULT,
                pacing: Pacing::Every(Duration::from_secs(1)),
                count: None
            },
            busy_poll: false,
            quiet: false,
            timeofday: false,
        }
    );
}

#[test]
fn listen_makes_a_server_that_waits_for_events() {
    assert_eq!(
        server(&["-l"]),
        ServerConfig {
            quiet: false,
            wait: ServerWait::Events
        }
    );
    assert_eq!(
        server(&["--listen", "-Q"]),
        ServerConfig {
            quiet: true,
            wait: ServerWait::Events
        }
    );
    assert_eq!(server(&["-l", "--poll"]).wait, ServerWait::Poll);
    assert_eq!(server(&["-l", "--busy"]).wait, ServerWait::Busy);
}

#[test]
fn server_wait_modes_need_listen_and_exclude_each_other() {
    assert!(refusal(&["--poll"]).contains("--listen"));
    assert!(refusal(&["--busy"]).contains("--listen"));
    let both = refusal(&["-l", "--poll", "--busy"]);
    assert!(both.contains("--poll") && both.contains("--busy"), "{both}");
}

#[test]
fn server_name_sets_the_name_to_allocate_a_flow_to() {
    assert_eq!(client(&["-n", "pinger"]).server_name, "pinger");
    assert_eq!(client(&["--server-name", "x.y"]).server_name, "x.y");
}

#[test]
fn count_sets_the_number_of_requests_and_zero_is_refused() {
    assert_eq!(client(&["-c", "10000"]).params.count, Some(10_000));
    assert_eq!(client(&["--count", "1"]).params.count, Some(1));
    let zero = refusal(&["-c", "0"]);
    assert!(zero.contains("'0'") && zero.contains("--count"), "{zero}");
    assert!(refusal(&["-c", "ten"]).contains("--count"));
}

#[test]
fn interval_takes_milliseconds_or_a_c_unit_and_zero_means_as_fast_as_possible() {
    assert_eq!(client(&["-i", "0"]).params.pacing, Pacing::Every(Duration::ZERO));
    assert_eq!(
        client(&["-i", "250"]).params.pacing,
        Pacing::Every(Duration::from_millis(250))
    );
    assert_eq!(
        client(&["--interval", "20ms"]).params.pacing,
        Pacing::Every(Duration::from_millis(20))
    );
    assert_eq!(
        client(&["-i", "2s"]).params.pacing,
        Pacing::Every(Duration::from_secs(2))
    );
    assert_eq!(
        client(&["-i", "10000"]).params.pacing,
        Pacing::Every(Duration::from_secs(10))
    );
}

#[test]
fn interval_refusals_name_the_problem() {
    let long = refusal(&["-i", "10001"]);
    assert!(
        long.contains("interval 10001 ms is longer than the 10 s maximum"),
        "{long}"
    );
    assert!(refusal(&["-i", "1m"]).contains("interval 60000 ms is longer than the 10 s maximum"));
    let unit = refusal(&["-i", "500us"]);
    assert!(unit.contains("unknown time unit \"us\""), "{unit}");
    assert!(refusal(&["-i", "fast"]).contains("\"fast\" is not a time"));
    assert!(refusal(&["--interval=-5"]).contains("\"-5\" is not a time"));
    assert_eq!(
        parse_interval("99999999999999999999"),
        Err(ArgError::TimeOverflow("99999999999999999999".into()))
    );
}

#[test]
fn time_units_are_the_c_tools() {
    let ms = |text| parse_time(text).unwrap().as_millis();
    assert_eq!(
        [ms("7"), ms("7ms"), ms("7s"), ms("7m"), ms("7h"), ms("7d")],
        [7, 7, 7_000, 420_000, 25_200_000, 604_800_000]
    );
}

#[test]
fn duration_sets_the_count_with_the_c_formula() {
    assert_eq!(client(&["-d", "10s"]).params.count, Some(10));
    assert_eq!(client(&["-d", "10s", "-i", "100"]).params.count, Some(100));
    assert_eq!(
        client(&["--duration", "1s", "-i", "0"]).params.count,
        Some(10_000),
        "ten per millisecond at interval 0"
    );
    assert_eq!(client(&["-d", "2500", "-i", "1s"]).params.count, Some(2));
}

#[test]
fn duration_refusals_name_the_problem() {
    assert!(refusal(&["-d", "0"]).contains("duration must be longer than 0 ms"));
    let both = refusal(&["-d", "1s", "-c", "5"]);
    assert!(both.contains("--duration") && both.contains("--count"), "{both}");
    let err = parse(&["-d", "500", "-i", "1s"]).mode().unwrap_err();
    assert_eq!(
        err.to_string(),
        "duration 500 ms is shorter than the interval 1000 ms: no packet would be sent"
    );
}

#[test]
fn flood_waits_for_each_reply_and_flood_busy_also_busy_polls() {
    let flood = client(&["-f"]);
    assert_eq!((flood.params.pacing, flood.busy_poll), (Pacing::Flood, false));
    let busy = client(&["--flood-busy"]);
    assert_eq!((busy.params.pacing, busy.busy_poll), (Pacing::Flood, true));
    assert!(client(&["--flood"]).params.pacing == Pacing::Flood);
    let both = refusal(&["-f", "-F"]);
    assert!(both.contains("--flood") && both.contains("--flood-busy"), "{both}");
}

#[test]
fn qos_takes_the_preset_keywords() {
    for (keyword, spec) in QosSpec::KEYWORDS {
        assert_eq!(client(&["-q", keyword]).qos, spec);
    }
    assert_eq!(client(&["--qos", "data"]).qos, QosSpec::DATA);
}

#[test]
fn an_unknown_qos_is_refused_where_c_falls_back_to_raw() {
    let err = refusal(&["-q", "gold"]);
    assert!(
        err.contains("unknown QoS preset \"gold\"; expected one of raw, best, video, voice, data"),
        "{err}"
    );
}

#[test]
fn size_takes_64_to_1500_octets() {
    assert_eq!(client(&["-s", "64"]).params.size.get(), 64);
    assert_eq!(client(&["--size", "1500"]).params.size.get(), 1500);
    for bad in ["63", "1501", "0"] {
        let err = refusal(&["-s", bad]);
        assert!(
            err.contains(&format!(
                "size {bad} octets is outside the oping range of 64–1500 octets"
            )),
            "{err}"
        );
    }
    assert!(refusal(&["-s", "big"]).contains("\"big\" is not a number of octets"));
}

#[test]
fn quiet_and_timeofday_are_switches() {
    let config = client(&["-Q", "-D"]);
    assert!(config.quiet && config.timeofday);
    let config = client(&["--quiet", "--timeofday"]);
    assert!(config.quiet && config.timeofday);
}

#[test]
fn an_unknown_flag_is_refused() {
    assert!(refusal(&["-x"]).contains("unexpected argument '-x'"));
}

#[test]
fn the_banner_says_what_the_run_will_do() {
    assert_eq!(
        client(&["-c", "10"]).banner(),
        "Pinging oping with 64 bytes of data (10 packets):"
    );
    assert_eq!(
        client(&["-s", "1500", "-F"]).banner(),
        "Pinging oping with 1500 bytes of data (until interrupted, busy-poll):"
    );
}

#[test]
fn help_lists_every_flag() {
    OpingArgs::command().debug_assert();
    let help = OpingArgs::command().render_help().to_string();
    for flag in [
        "-l, --listen",
        "--poll",
        "--busy",
        "-c, --count <N>",
        "-d, --duration <TIME>",
        "-f, --flood",
        "-F, --flood-busy",
        "-i, --interval <TIME>",
        "-n, --server-name <NAME>",
        "-q, --qos <QOS>",
        "-s, --size <OCTETS>",
        "-Q, --quiet",
        "-D, --timeofday",
        "-h, --help",
        "[default: 1000]",
        "[default: oping]",
        "[default: raw]",
        "[default: 64]",
        "[default: unlimited]",
        "ms (the default), s, m, h or d",
    ] {
        assert!(help.contains(flag), "{flag:?} missing from:\n{help}");
    }
}

#[test]
fn oecho_has_listen_only() {
    OechoArgs::command().debug_assert();
    assert!(!OechoArgs::try_parse_from(["oecho"]).unwrap().listen);
    assert!(OechoArgs::try_parse_from(["oecho", "-l"]).unwrap().listen);
    assert!(OechoArgs::try_parse_from(["oecho", "--listen"]).unwrap().listen);
    assert!(OechoArgs::try_parse_from(["oecho", "-n", "x"]).is_err());
}
