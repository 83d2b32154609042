//! The typed values of a lab file: durations, percentages, rates, interface
//! addresses, and netem settings rendered as `tc` arguments.
//!
//! | TOML | type | accepted |
//! |---|---|---|
//! | `"10ms"` | [`Dur`] | a decimal number and one of `ns`, `us`, `ms`, `s`, `m` |
//! | `"1%"`, `0.5` | [`Percent`] | 0 to 100, with or without `%` |
//! | `"100mbit"` | [`Rate`] | a number and a `tc` unit: `bit kbit mbit gbit tbit bps kbps mbps gbps tbps` |
//! | `"10.0.0.1/24"` | [`IfAddr`] | an address and its prefix length |

use core::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// A duration written with its unit, `"10ms"`, `"1.5s"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl Dur {
    /// Parses `"<number><unit>"`.
    pub fn parse(text: &str) -> Result<Dur, String> {
        let (number, unit) = split_number(text.trim());
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "" => return Err(format!("{text:?} has no unit: write e.g. \"10ms\" or \"2s\"")),
            _ => return Err(format!("{text:?}: unknown unit {unit:?} (ns, us, ms, s, m)")),
        };
        let value: f64 = number
            .parse()
            .map_err(|_| format!("{text:?} is not a duration such as \"10ms\" or \"2s\""))?;
        let secs = value * scale;
        if !(0.0..=86_400.0).contains(&secs) {
            return Err(format!("{text:?} is out of range (0 to 24 hours)"));
        }
        Ok(Dur(Duration::from_secs_f64(secs)))
    }

    /// As `tc` reads it: whole microseconds.
    pub fn tc(self) -> String {
        format!("{}us", self.0.as_micros())
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// Splits `"12.5ms"` into `("12.5", "ms")`.
fn split_number(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    (&text[..end], text[end..].trim())
}

/// A share in percent, 0 to 100.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Percent(pub f64);

impl Percent {
    /// Checks the range.
    pub fn new(value: f64) -> Result<Percent, String> {
        if (0.0..=100.0).contains(&value) {
            Ok(Percent(value))
        } else {
            Err(format!("{value} is not a percentage from 0 to 100"))
        }
    }

    /// Parses `"1%"`, `"0.5"`.
    pub fn parse(text: &str) -> Result<Percent, String> {
        let number = text.trim().trim_end_matches('%').trim();
        let value: f64 = number
            .parse()
            .map_err(|_| format!("{text:?} is not a percentage such as \"1%\""))?;
        Percent::new(value)
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

/// A rate as `tc` reads it, `"100mbit"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate(String);

impl Rate {
    const UNITS: [&'static str; 10] = [
        "bit", "kbit", "mbit", "gbit", "tbit", "bps", "kbps", "mbps", "gbps", "tbps",
    ];

    /// Parses `"<number><unit>"` with one of `tc`'s units.
    pub fn parse(text: &str) -> Result<Rate, String> {
        let lower = text.trim().to_ascii_lowercase();
        let (number, unit) = split_number(&lower);
        let value: f64 = number
            .parse()
            .map_err(|_| format!("{text:?} is not a rate such as \"100mbit\""))?;
        if !Rate::UNITS.contains(&unit) {
            return Err(format!(
                "{text:?}: the unit must be one of {} (bit/s or bytes/s, as tc reads them)",
                Rate::UNITS.join(", ")
            ));
        }
        if value <= 0.0 {
            return Err(format!("{text:?}: a rate must be above 0"));
        }
        Ok(Rate(format!("{number}{unit}")))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An interface address with its prefix length, `10.0.0.1/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IfAddr {
    /// The address.
    pub addr: IpAddr,
    /// The prefix length.
    pub prefix: u8,
}

impl IfAddr {
    /// Parses `"<address>/<prefix>"`.
    pub fn parse(text: &str) -> Result<IfAddr, String> {
        let (addr, prefix) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?} has no prefix length: write e.g. \"10.0.0.1/24\""))?;
        let addr: IpAddr = addr.parse().map_err(|_| format!("{addr:?} is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?;
        if addr.is_unspecified() || addr.is_multicast() || addr.is_loopback() {
            return Err(format!("{text:?}: not an address an interface can have"));
        }
        Ok(IfAddr { addr, prefix })
    }
}

impl TryFrom<String> for IfAddr {
    type Error = String;
    fn try_from(text: String) -> Result<IfAddr, String> {
        IfAddr::parse(&text)
    }
}

impl From<IfAddr> for String {
    fn from(a: IfAddr) -> String {
        a.to_string()
    }
}

impl fmt::Display for IfAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// What netem does to the packets leaving one end of a link.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Netem {
    /// Added to every packet.
    pub delay: Option<Dur>,
    /// Spread of the delay (needs `delay`).
    pub jitter: Option<Dur>,
    /// Packets dropped.
    pub loss: Option<Percent>,
    /// Packets sent at once instead of delayed, so that they overtake
    /// others (needs `delay`).
    pub reorder: Option<Percent>,
    /// Packets sent twice.
    pub duplicate: Option<Percent>,
    /// Bandwidth limit.
    pub rate: Option<Rate>,
}

impl Netem {
    /// The arguments after `tc qdisc add dev <dev> root netem`.
    pub fn tc_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(delay) = self.delay {
            args.extend(["delay".to_owned(), delay.tc()]);
            if let Some(jitter) = self.jitter {
                args.push(jitter.tc());
            }
        }
        for (key, value) in [
            ("loss", self.loss),
            ("reorder", self.reorder),
            ("duplicate", self.duplicate),
        ] {
            if let Some(p) = value {
                args.extend([key.to_owned(), p.to_string()]);
            }
        }
        if let Some(rate) = &self.rate {
            args.extend(["rate".to_owned(), rate.to_string()]);
        }
        args
    }
}

impl fmt::Display for Netem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tc_args().join(" "))
    }
}

/// The expected exit status of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusExpect {
    /// Exactly this code (0 unless told).
    Code(u8),
    /// Any exit, also by a signal.
    Any,
    /// An exit with a code other than 0.
    Nonzero,
}

impl fmt::Display for StatusExpect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusExpect::Code(c) => write!(f, "exit status {c}"),
            StatusExpect::Any => f.write_str("any exit status"),
            StatusExpect::Nonzero => f.write_str("a non-zero exit status"),
        }
    }
}

/// Deserializes a value that TOML may spell in several ways, through a
/// `parse` of its text (numbers are read as their decimal text).
macro_rules! from_text {
    ($t:ty, $expecting:literal, $parse:expr, numbers: $numbers:literal) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$t, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$t, E> {
                        ($parse)(v).map_err(E::custom)
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$t, E> {
                        if $numbers {
                            ($parse)(&v.to_string()).map_err(E::custom)
                        } else {
                            Err(E::invalid_type(de::Unexpected::Signed(v), &self))
                        }
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<$t, E> {
                        if $numbers {
                            ($parse)(&v.to_string()).map_err(E::custom)
                        } else {
                            Err(E::invalid_type(de::Unexpected::Float(v), &self))
                        }
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

from_text!(Dur, "a duration with its unit, such as \"10ms\" or \"2s\"", Dur::parse, numbers: false);
from_text!(Percent, "a percentage such as \"1%\" or 0.5", Percent::parse, numbers: true);
from_text!(Rate, "a rate such as \"100mbit\"", Rate::parse, numbers: false);

impl StatusExpect {
    fn parse(text: &str) -> Result<StatusExpect, String> {
        match text {
            "any" => Ok(StatusExpect::Any),
            "nonzero" => Ok(StatusExpect::Nonzero),
            code => code
                .parse()
                .map(StatusExpect::Code)
                .map_err(|_| format!("{code:?}: write an exit code 0 to 255, \"any\" or \"nonzero\"")),
        }
    }
}

from_text!(StatusExpect, "an exit code 0 to 255, \"any\" or \"nonzero\"", StatusExpect::parse, numbers: true);

/// One string or an array of strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OneOrMany(pub Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<OneOrMany, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_owned()]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut all = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    all.push(s);
                }
                Ok(OneOrMany(all))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit_and_stay_in_range() {
        assert_eq!(Dur::parse("10ms"), Ok(Dur(Duration::from_millis(10))));
        assert_eq!(Dur::parse("1.5s"), Ok(Dur(Duration::from_millis(1500))));
        assert_eq!(Dur::parse("250us").map(Dur::tc), Ok("250us".to_owned()));
        assert_eq!(Dur::parse("2m"), Ok(Dur(Duration::from_secs(120))));
        for bad in ["10", "ms", "10 parsecs", "-1s", "1.2.3s", "", "99999h", "2d"] {
            assert!(Dur::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn percentages_are_0_to_100_with_or_without_the_sign() {
        assert_eq!(Percent::parse("1%"), Ok(Percent(1.0)));
        assert_eq!(Percent::parse("0.5"), Ok(Percent(0.5)));
        for bad in ["101%", "-1", "x%", ""] {
            assert!(Percent::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates_take_the_units_tc_knows() {
        assert_eq!(Rate::parse("100Mbit").map(|r| r.to_string()), Ok("100mbit".to_owned()));
        assert_eq!(Rate::parse("1.5gbps").map(|r| r.to_string()), Ok("1.5gbps".to_owned()));
        for bad in ["100", "100mb", "0mbit", "fast"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn interface_addresses_need_a_prefix_in_range() {
        let a = IfAddr::parse("10.0.0.1/24").unwrap();
        assert_eq!((a.addr.to_string(), a.prefix), ("10.0.0.1".to_owned(), 24));
        assert_eq!(IfAddr::parse("fd00::1/64").unwrap().to_string(), "fd00::1/64");
        for bad in [
            "10.0.0.1",
            "10.0.0.1/33",
            "fd00::1/129",
            "10.0.0/24",
            "0.0.0.0/0",
            "127.0.0.1/8",
            "::1/128",
        ] {
            assert!(IfAddr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn netem_renders_as_tc_arguments_in_tc_order() {
        let netem = Netem {
            delay: Some(Dur(Duration::from_millis(20))),
            jitter: Some(Dur(Duration::from_millis(2))),
            loss: Some(Percent(1.0)),
            reorder: Some(Percent(25.0)),
            duplicate: None,
            rate: Some(Rate::parse("10mbit").unwrap()),
        };
        assert_eq!(
            netem.to_string(),
            "delay 20000us 2000us loss 1% reorder 25% rate 10mbit"
        );
        assert_eq!(Netem::default().tc_args(), Vec::<String>::new());
    }

    #[test]
    fn exit_status_expectations_read_codes_and_words() {
        assert_eq!(StatusExpect::parse("0"), Ok(StatusExpect::Code(0)));
        assert_eq!(StatusExpect::parse("any"), Ok(StatusExpect::Any));
        assert_eq!(StatusExpect::parse("nonzero"), Ok(StatusExpect::Nonzero));
        assert!(StatusExpect::parse("256").is_err());
        assert!(StatusExpect::parse("-1").is_err());
    }
}
