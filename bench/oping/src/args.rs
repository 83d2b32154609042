//! The oping command line, with the C tool's flags (`oping.c`, `main`).
//!
//! | flag | C | here |
//! |---|---|---|
//! | `-l`, `--listen` | server mode | same |
//! | `--poll`, `--busy` | server waits by polling / busy-polls one flow | same; only with `--listen`, not both |
//! | `-c`, `--count <n>` | packets to send; default `INT_MAX` (until interrupted) | same default: unlimited; 0 refused |
//! | `-d`, `--duration <time>` | sets the count to duration / interval (duration × 10 at interval 0) | same formula; refused together with `-c`, or when it yields no packet |
//! | `-f`, `--flood` | send the next request when an SDU came back | same |
//! | `-F`, `--flood-busy` | flood, busy-polling the flow | same; not together with `-f` |
//! | `-i`, `--interval <time>` | default 1000 ms; above 10 s truncated to 10 s | default 1000 ms; above 10 s refused; 0 = as fast as possible |
//! | `-n`, `--server-name <name>` | required for a client | default `oping`, the name the tutorials register |
//! | `-q`, `--qos <raw\|best\|video\|voice\|data>` | unknown: a warning, then raw | unknown refused |
//! | `-s`, `--size <octets>` | clamped to 64–1500 | outside 64–1500 refused |
//! | `-Q`, `--quiet` | only the final statistics | same |
//! | `-D`, `--timeofday` | time of day before each line | same |
//!
//! A `<time>` is a whole number with an optional unit, as in C: none or
//! `ms` (milliseconds), `s`, `m`, `h`, `d`. Sub-millisecond units (`us`)
//! are refused: the C tool has none either.
//!
//! The list reads "`-Q` qos"; the C tool has `-q` for the QoS and
//! `-Q` for quiet, and so does this one.

use core::time::Duration;

use clap::Parser;
use o7s_wire::qos::QosSpec;

use crate::client::{ClientParams, Pacing};
use crate::message::SduSize;

/// Longest `-i` the C client keeps (it truncates longer ones to this).
pub const MAX_INTERVAL: Duration = Duration::from_secs(10);

/// A refused value on the oping command line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    /// Not a whole number, with or without a unit.
    #[error("{0:?} is not a time: expected a whole number with an optional unit ms, s, m, h or d")]
    NotATime(String),
    /// A number followed by something that is not a unit.
    #[error("unknown time unit {unit:?} in {text:?}: expected ms, s, m, h or d")]
    UnknownTimeUnit {
        /// The whole value.
        text: String,
        /// What followed the number.
        unit: String,
    },
    /// A time too large to represent in milliseconds.
    #[error("{0:?} is too long a time")]
    TimeOverflow(String),
    /// `-i` above 10 s.
    #[error("interval {ms} ms is longer than the 10 s maximum", ms = .0.as_millis())]
    IntervalTooLong(Duration),
    /// `-d 0`.
    #[error("duration must be longer than 0 ms")]
    ZeroDuration,
    /// `-d` shorter than `-i`: the C formula gives a count of 0.
    #[error("duration {duration} ms is shorter than the interval {interval} ms: no packet would be sent", duration = .duration.as_millis(), interval = .interval.as_millis())]
    DurationShorterThanInterval {
        /// The `-d` value.
        duration: Duration,
        /// The `-i` value.
        interval: Duration,
    },
}

/// oping's command line.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "oping",
    about = "Checks liveness between a client and a server and reports the round-trip time (RTT)",
    after_help = "TIME is a whole number with an optional unit: ms (the default), s, m, h or d.\n\
                  Without --count or --duration the client runs until interrupted.\n\n\
                  Exit status, as ping's: 0 when every request sent got its reply, 1 when some or\n\
                  all were lost (or none was sent), 2 on any other error (no irmd, no flow)."
)]
pub struct OpingArgs {
    /// Run in server mode
    #[arg(short = 'l', long)]
    pub listen: bool,

    /// Server uses polling (lower latency)
    #[arg(long, requires = "listen")]
    pub poll: bool,

    /// Server uses busy-poll (single flow)
    #[arg(long, requires = "listen", conflicts_with = "poll")]
    pub busy: bool,

    /// Number of packets [default: unlimited]
    #[arg(short = 'c', long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub count: Option<u32>,

    /// Duration of the test; sets the count to duration / interval
    #[arg(short = 'd', long, value_name = "TIME", value_parser = parse_duration, conflicts_with = "count")]
    pub duration: Option<Duration>,

    /// Send each packet as soon as the previous reply arrives, ignoring the interval
    #[arg(short = 'f', long)]
    pub flood: bool,

    /// Flood with busy-polling (lower latency)
    #[arg(short = 'F', long, conflicts_with = "flood")]
    pub flood_busy: bool,

    /// Interval between packets, at most 10 s; 0 = as fast as possible
    #[arg(short = 'i', long, value_name = "TIME", default_value = "1000", value_parser = parse_interval)]
    pub interval: Duration,

    /// Name of the oping server
    #[arg(short = 'n', long, value_name = "NAME", default_value = "oping")]
    pub server_name: String,

    /// QoS: raw, best, video, voice or data
    #[arg(short = 'q', long, value_name = "QOS", default_value = "raw", value_parser = parse_qos)]
    pub qos: QosSpec,

    /// SDU size in octets, 64 to 1500, the 24-octet header included
    #[arg(short = 's', long, value_name = "OCTETS", default_value = "64")]
    pub size: SduSize,

    /// Only print final statistics
    #[arg(short = 'Q', long)]
    pub quiet: bool,

    /// Print time of day before each line
    #[arg(short = 'D', long)]
    pub timeofday: bool,
}

/// What oping was asked to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `--listen`.
    Server(ServerConfig),
    /// Without `--listen`.
    Client(ClientConfig),
}

/// A client run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Name to allocate the flow to.
    pub server_name: String,
    /// QoS to allocate it with.
    pub qos: QosSpec,
    /// Size, pacing, count.
    pub params: ClientParams,
    /// `-F`: read the flow without blocking, spinning on "nothing yet".
    pub busy_poll: bool,
    /// `-Q`.
    pub quiet: bool,
    /// `-D`.
    pub timeofday: bool,
}

/// How the server waits for SDUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ServerWait {
    /// Wait for events on all flows, waking every 100 ms (C default).
    #[default]
    Events,
    /// `--poll`: check for events without waiting.
    Poll,
    /// `--busy`: serve a single flow, spinning on non-blocking reads.
    Busy,
}

/// A server run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServerConfig {
    /// `-Q`: no line per SDU.
    pub quiet: bool,
    /// How to wait for SDUs.
    pub wait: ServerWait,
}

impl OpingArgs {
    /// The run these arguments ask for, with the C tool's derived values
    /// (count from duration); refuses a duration that yields no packet.
    pub fn mode(&self) -> Result<Mode, ArgError> {
        if self.listen {
            let wait = if self.busy {
                ServerWait::Busy
            } else if self.poll {
                ServerWait::Poll
            } else {
                ServerWait::Events
            };
            return Ok(Mode::Server(ServerConfig {
                quiet: self.quiet,
                wait,
            }));
        }
        let count = match self.duration {
            None => self.count,
            Some(duration) => Some(count_for(duration, self.interval)?),
        };
        let pacing = if self.flood || self.flood_busy {
            Pacing::Flood
        } else {
            Pacing::Every(self.interval)
        };
        Ok(Mode::Client(ClientConfig {
            server_name: self.server_name.clone(),
            qos: self.qos,
            params: ClientParams {
                size: self.size,
                pacing,
                count,
            },
            busy_poll: self.flood_busy,
            quiet: self.quiet,
            timeofday: self.timeofday,
        }))
    }
}

/// The C tool's count for `-d`: duration / interval, or ten packets per
/// millisecond at interval 0. The interval counts even in flood mode, as
/// in C.
fn count_for(duration: Duration, interval: Duration) -> Result<u32, ArgError> {
    let duration_ms = duration.as_millis();
    let count = match interval.as_millis() {
        0 => duration_ms.saturating_mul(10),
        interval_ms => duration_ms / interval_ms,
    };
    if count == 0 {
        return Err(ArgError::DurationShorterThanInterval { duration, interval });
    }
    Ok(u32::try_from(count).unwrap_or(u32::MAX))
}

/// Parses a `<time>`: a whole number with an optional unit.
pub fn parse_time(text: &str) -> Result<Duration, ArgError> {
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    if number.is_empty() {
        return Err(ArgError::NotATime(text.to_owned()));
    }
    let ms_per_unit: u64 = match unit {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(ArgError::UnknownTimeUnit {
                text: text.to_owned(),
                unit: unit.to_owned(),
            });
        }
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(ms_per_unit))
        .map(Duration::from_millis)
        .ok_or_else(|| ArgError::TimeOverflow(text.to_owned()))
}

/// Parses `-i`: a `<time>` of at most 10 s.
pub fn parse_interval(text: &str) -> Result<Duration, ArgError> {
    let interval = parse_time(text)?;
    if interval > MAX_INTERVAL {
        return Err(ArgError::IntervalTooLong(interval));
    }
    Ok(interval)
}

/// Parses `-d`: a `<time>` above 0.
pub fn parse_duration(text: &str) -> Result<Duration, ArgError> {
    let duration = parse_time(text)?;
    if duration.is_zero() {
        return Err(ArgError::ZeroDuration);
    }
    Ok(duration)
}

fn parse_qos(text: &str) -> Result<QosSpec, o7s_wire::qos::UnknownQosPreset> {
    text.parse()
}

impl ClientConfig {
    /// The line the client prints before the first request (unless quiet):
    /// `Pinging oping with 64 bytes of data (10 packets):`.
    pub fn banner(&self) -> String {
        let count = match self.params.count {
            Some(count) => format!("{count} packets"),
            None => "until interrupted".to_owned(),
        };
        let busy = if self.busy_poll { ", busy-poll" } else { "" };
        format!(
            "Pinging {} with {} bytes of data ({count}{busy}):",
            self.server_name, self.params.size
        )
    }
}
