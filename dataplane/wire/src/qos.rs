//! QoS specification, its presets and the cubes a unicast layer maps it to
//! (PROTOCOL.md §1.2–1.3).
//!
//! ```text
//! field         type  unit / meaning
//! delay         u32   maximum one-way delay, ms
//! bandwidth     u64   bits/s
//! availability  u8    "class of nines"
//! loss          u32   tolerated loss; 0 = retransmission wanted
//! ber           u32   bit errors per 10^9 bits; 0 = CRC wanted
//! in_order      u8    non-zero = FRCT on
//! max_gap       u32   maximum interruption, ms
//! timeout       u32   peer keepalive timeout, ms; 0 = none
//! ```
//!
//! A spec has no wire layout of its own: every flow-allocation message
//! (eth-dix, eth-llc, UDP, FA, raptor) lays these fields out in its own
//! order, which each of those modules states in a table that the private
//! `qos_fields` module reads and writes through.

use core::fmt;
use core::str::FromStr;

use crate::{Result, WireError};

/// What a flow asks of the layers below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QosSpec {
    /// Maximum one-way delay, ms.
    pub delay: u32,
    /// Bandwidth, bits/s.
    pub bandwidth: u64,
    /// Availability as a "class of nines".
    pub availability: u8,
    /// Tolerated packet loss; 0 asks for retransmission.
    pub loss: u32,
    /// Bit errors per 10^9 bits; 0 asks for a CRC.
    pub ber: u32,
    /// Non-zero switches FRCT on for the flow.
    pub in_order: u8,
    /// Maximum interruption, ms.
    pub max_gap: u32,
    /// Peer keepalive timeout, ms; 0 means no keepalives.
    pub timeout: u32,
}

impl QosSpec {
    /// `qos_raw`: plain SDUs, no FRCT; what `flow_alloc()` uses without a spec.
    pub const RAW: QosSpec = QosSpec {
        delay: u32::MAX,
        bandwidth: 0,
        availability: 0,
        loss: 1,
        ber: 1,
        in_order: 0,
        max_gap: u32::MAX,
        timeout: 120_000,
    };

    /// Every field zero: what the C senders leave in the QoS of messages
    /// other than a flow request (replies, updates).
    pub const UNSET: QosSpec = QosSpec {
        delay: 0,
        bandwidth: 0,
        availability: 0,
        loss: 0,
        ber: 0,
        in_order: 0,
        max_gap: 0,
        timeout: 0,
    };

    /// `qos_raw_no_errors`: raw with a CRC.
    pub const RAW_NO_ERRORS: QosSpec = QosSpec { ber: 0, ..QosSpec::RAW };

    /// `qos_best_effort`: FRCT without retransmission.
    pub const BEST_EFFORT: QosSpec = QosSpec {
        ber: 0,
        in_order: 1,
        ..QosSpec::RAW
    };

    /// `qos_video`.
    pub const VIDEO: QosSpec = QosSpec {
        delay: 100,
        bandwidth: u64::MAX,
        availability: 3,
        loss: 1,
        ber: 0,
        in_order: 1,
        max_gap: 100,
        timeout: 120_000,
    };

    /// `qos_voice`.
    pub const VOICE: QosSpec = QosSpec {
        delay: 50,
        bandwidth: 100_000,
        availability: 5,
        loss: 1,
        ber: 0,
        in_order: 1,
        max_gap: 50,
        timeout: 120_000,
    };

    /// `qos_data`: FRCT with retransmission.
    pub const DATA: QosSpec = QosSpec {
        delay: 1000,
        bandwidth: 0,
        availability: 0,
        loss: 0,
        ber: 0,
        in_order: 1,
        max_gap: 2000,
        timeout: 120_000,
    };

    /// `qos_np1`: the IPCP's side of an N+1 flow; never sent.
    pub const NP1: QosSpec = QosSpec {
        delay: u32::MAX,
        bandwidth: 0,
        availability: 0,
        loss: u32::MAX,
        ber: u32::MAX,
        in_order: 0,
        max_gap: u32::MAX,
        timeout: 0,
    };

    /// The presets that have a keyword, for `irm`/oping-style parsing.
    pub const KEYWORDS: [(&'static str, QosSpec); 5] = [
        ("raw", QosSpec::RAW),
        ("best", QosSpec::BEST_EFFORT),
        ("video", QosSpec::VIDEO),
        ("voice", QosSpec::VOICE),
        ("data", QosSpec::DATA),
    ];

    /// The cube a unicast layer puts this flow in (§1.3, first match wins).
    pub const fn cube(&self) -> QosCube {
        if self.delay <= 50 && self.bandwidth <= 100_000 && self.availability >= 5 && self.max_gap <= 50 {
            QosCube::Voice
        } else if self.delay <= 100 && self.availability >= 3 && self.max_gap <= 100 {
            QosCube::Video
        } else {
            QosCube::BestEffort
        }
    }
}

impl Default for QosSpec {
    /// `qos_raw`, as the C library uses when no spec is given.
    fn default() -> QosSpec {
        QosSpec::RAW
    }
}

impl fmt::Display for QosSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "qos delay={} bw={} avail={} loss={} ber={} in_order={} max_gap={} timeout={}",
            self.delay,
            self.bandwidth,
            self.availability,
            self.loss,
            self.ber,
            self.in_order,
            self.max_gap,
            self.timeout
        )
    }
}

/// A QoS keyword that names no preset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown QoS preset {0:?}; expected one of raw, best, video, voice, data")]
pub struct UnknownQosPreset(pub String);

impl FromStr for QosSpec {
    type Err = UnknownQosPreset;

    /// Parses a preset keyword (`raw`, `best`, `video`, `voice`, `data`).
    fn from_str(s: &str) -> core::result::Result<QosSpec, UnknownQosPreset> {
        QosSpec::KEYWORDS
            .iter()
            .find(|(name, _)| *name == s)
            .map(|&(_, spec)| spec)
            .ok_or_else(|| UnknownQosPreset(s.to_owned()))
    }
}

/// The class a unicast layer serves a flow in; the DT header's QoS octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum QosCube {
    /// Cube 0: everything that is neither voice nor video; also every
    /// flow-allocator and directory message.
    BestEffort = 0,
    /// Cube 1.
    Video = 1,
    /// Cube 2.
    Voice = 2,
}

impl QosCube {
    /// All cubes, by id.
    pub const ALL: [QosCube; 3] = [QosCube::BestEffort, QosCube::Video, QosCube::Voice];

    /// The build-default real-time priority (0–99) of the C prototype's
    /// reader threads for this cube; nothing on the wire depends on it.
    pub const fn priority(self) -> u8 {
        match self {
            QosCube::BestEffort => 50,
            QosCube::Video => 90,
            QosCube::Voice => 99,
        }
    }
}

impl TryFrom<u8> for QosCube {
    type Error = WireError;

    fn try_from(id: u8) -> Result<QosCube> {
        match id {
            0 => Ok(QosCube::BestEffort),
            1 => Ok(QosCube::Video),
            2 => Ok(QosCube::Voice),
            _ => Err(WireError::UnknownCode {
                what: "QoS cube",
                value: id as u32,
            }),
        }
    }
}

impl From<QosCube> for u8 {
    fn from(cube: QosCube) -> u8 {
        cube as u8
    }
}

impl fmt::Display for QosCube {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QosCube::BestEffort => "best-effort",
            QosCube::Video => "video",
            QosCube::Voice => "voice",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_match_the_table_of_1_2() {
        // (delay, bandwidth, availability, loss, ber, in_order, max_gap, timeout)
        type Row = (u32, u64, u8, u32, u32, u8, u32, u32);
        let rows: [(QosSpec, Row); 7] = [
            (QosSpec::RAW, (u32::MAX, 0, 0, 1, 1, 0, u32::MAX, 120_000)),
            (QosSpec::RAW_NO_ERRORS, (u32::MAX, 0, 0, 1, 0, 0, u32::MAX, 120_000)),
            (QosSpec::BEST_EFFORT, (u32::MAX, 0, 0, 1, 0, 1, u32::MAX, 120_000)),
            (QosSpec::VIDEO, (100, u64::MAX, 3, 1, 0, 1, 100, 120_000)),
            (QosSpec::VOICE, (50, 100_000, 5, 1, 0, 1, 50, 120_000)),
            (QosSpec::DATA, (1000, 0, 0, 0, 0, 1, 2000, 120_000)),
            (QosSpec::NP1, (u32::MAX, 0, 0, u32::MAX, u32::MAX, 0, u32::MAX, 0)),
        ];
        for (spec, (d, bw, av, loss, ber, io, gap, to)) in rows {
            assert_eq!(
                (spec.delay, spec.bandwidth, spec.availability, spec.loss),
                (d, bw, av, loss)
            );
            assert_eq!(
                (spec.ber, spec.in_order, spec.max_gap, spec.timeout),
                (ber, io, gap, to)
            );
        }
    }

    #[test]
    fn raw_best_and_data_are_best_effort_video_and_voice_have_their_cubes() {
        assert_eq!(QosSpec::RAW.cube(), QosCube::BestEffort);
        assert_eq!(QosSpec::BEST_EFFORT.cube(), QosCube::BestEffort);
        assert_eq!(QosSpec::DATA.cube(), QosCube::BestEffort);
        assert_eq!(QosSpec::VIDEO.cube(), QosCube::Video);
        assert_eq!(QosSpec::VOICE.cube(), QosCube::Voice);
        assert_eq!(QosSpec::NP1.cube(), QosCube::BestEffort);
    }

    #[test]
    fn voice_wins_over_video_when_both_conditions_hold() {
        let spec = QosSpec {
            availability: 9,
            ..QosSpec::VOICE
        };
        assert_eq!(spec.cube(), QosCube::Voice);
        // Voice needs bandwidth ≤ 100000; video does not care.
        let spec = QosSpec {
            bandwidth: 100_001,
            ..QosSpec::VOICE
        };
        assert_eq!(spec.cube(), QosCube::Video);
    }

    #[test]
    fn cube_boundaries_are_inclusive() {
        let video_edge = QosSpec {
            delay: 100,
            availability: 3,
            max_gap: 100,
            ..QosSpec::RAW
        };
        assert_eq!(video_edge.cube(), QosCube::Video);
        assert_eq!(
            QosSpec {
                delay: 101,
                ..video_edge
            }
            .cube(),
            QosCube::BestEffort
        );
        assert_eq!(
            QosSpec {
                availability: 2,
                ..video_edge
            }
            .cube(),
            QosCube::BestEffort
        );
    }

    #[test]
    fn keywords_parse_to_their_presets() {
        assert_eq!("raw".parse(), Ok(QosSpec::RAW));
        assert_eq!("best".parse(), Ok(QosSpec::BEST_EFFORT));
        assert_eq!("video".parse(), Ok(QosSpec::VIDEO));
        assert_eq!("voice".parse(), Ok(QosSpec::VOICE));
        assert_eq!("data".parse(), Ok(QosSpec::DATA));
    }

    #[test]
    fn unknown_keyword_is_an_error_naming_the_choices() {
        let err = "fast".parse::<QosSpec>().expect_err("not a preset");
        assert_eq!(err, UnknownQosPreset("fast".into()));
        let text = err.to_string();
        assert!(text.contains("\"fast\"") && text.contains("raw, best, video, voice, data"));
    }

    #[test]
    fn default_spec_is_raw() {
        assert_eq!(QosSpec::default(), QosSpec::RAW);
    }

    #[test]
    fn cube_ids_round_trip_and_three_is_unknown() {
        for cube in QosCube::ALL {
            assert_eq!(QosCube::try_from(u8::from(cube)), Ok(cube));
        }
        assert_eq!(
            QosCube::try_from(3),
            Err(WireError::UnknownCode {
                what: "QoS cube",
                value: 3
            })
        );
    }
}
