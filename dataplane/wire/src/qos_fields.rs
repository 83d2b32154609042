//! Where a flow-allocation message carries the fields of a [`QosSpec`].
//!
//! Every flow-allocation message (eth-dix, eth-llc, UDP, FA, raptor) has
//! the same eight QoS fields, big-endian, each in its own order and
//! without padding between them:
//!
//! | field | width | dix | llc | udp | fa | raptor |
//! |---|---|---|---|---|---|---|
//! | loss         | 4 |  4 |  4 | 28 | 40 |  4 |
//! | bandwidth    | 8 |  8 |  8 | 16 | 24 |  8 |
//! | ber          | 4 | 16 | 16 | 32 | 44 | 16 |
//! | max_gap      | 4 | 20 | 20 | 36 | 48 | 20 |
//! | delay        | 4 | 24 | 24 | 24 | 36 | 24 |
//! | timeout      | 4 | 28 | 28 | 40 | 52 | —  |
//! | in_order     | 1 | 36 | 36 | 46 | 60 | 28 |
//! | availability | 1 | 38 |  3 | 45 | 59 | 29 |
//!
//! Each format states its column once, as a [`QosFields`] next to its
//! other field offsets, and its view's `qos`/`set_qos` read and write
//! through it. The widths are those of the [`QosSpec`] fields, so a table
//! holds offsets only; [`QosFields::within`] checks at compile time that
//! the fields lie inside the message's fixed part and do not overlap, so
//! the view's one length check still covers every access.

use crate::octets::{put_u32_be, put_u64_be, u32_be, u64_be};
use crate::qos::QosSpec;

/// Octets of the four-octet fields.
const WORD: usize = 4;
/// Octets of `bandwidth`.
const BANDWIDTH_LEN: usize = 8;

/// The offset of every QoS field in one message format.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QosFields {
    pub(crate) delay: usize,
    pub(crate) bandwidth: usize,
    pub(crate) availability: usize,
    pub(crate) loss: usize,
    pub(crate) ber: usize,
    pub(crate) in_order: usize,
    pub(crate) max_gap: usize,
    /// `None` where the format has no timeout field (raptor): it reads as
    /// 0 and is not written.
    pub(crate) timeout: Option<usize>,
}

impl QosFields {
    /// The table itself, after a compile-time check that every field ends
    /// by `fixed_len` and no two fields share an octet. Used in constants,
    /// where a failed check stops the build.
    pub(crate) const fn within(self, fixed_len: usize) -> QosFields {
        let spans = self.spans();
        let mut i = 0;
        while i < spans.len() {
            let (start, len) = spans[i];
            assert!(start + len <= fixed_len, "QoS field beyond the fixed part");
            let mut j = i + 1;
            while j < spans.len() {
                let (other, other_len) = spans[j];
                assert!(start + len <= other || other + other_len <= start, "QoS fields overlap");
                j += 1;
            }
            i += 1;
        }
        self
    }

    /// (offset, width) of each field the format carries; an absent
    /// timeout is given width 0 so that it takes no octet.
    pub(crate) const fn spans(&self) -> [(usize, usize); 8] {
        let timeout = match self.timeout {
            Some(at) => (at, WORD),
            None => (0, 0),
        };
        [
            (self.delay, WORD),
            (self.bandwidth, BANDWIDTH_LEN),
            (self.availability, 1),
            (self.loss, WORD),
            (self.ber, WORD),
            (self.in_order, 1),
            (self.max_gap, WORD),
            timeout,
        ]
    }

    /// Reads the fields out of a message at least as long as its fixed part.
    #[inline]
    pub(crate) fn read(&self, msg: &[u8]) -> QosSpec {
        let word = |at: usize| u32_be(&msg[at..at + WORD]);
        QosSpec {
            delay: word(self.delay),
            bandwidth: u64_be(&msg[self.bandwidth..self.bandwidth + BANDWIDTH_LEN]),
            availability: msg[self.availability],
            loss: word(self.loss),
            ber: word(self.ber),
            in_order: msg[self.in_order],
            max_gap: word(self.max_gap),
            timeout: self.timeout.map_or(0, word),
        }
    }

    /// Writes the fields into a message at least as long as its fixed
    /// part; a timeout the format does not carry is dropped.
    #[inline]
    pub(crate) fn write(&self, msg: &mut [u8], qos: &QosSpec) {
        let mut word = |at: usize, value: u32| put_u32_be(&mut msg[at..at + WORD], value);
        word(self.delay, qos.delay);
        word(self.loss, qos.loss);
        word(self.ber, qos.ber);
        word(self.max_gap, qos.max_gap);
        if let Some(at) = self.timeout {
            word(at, qos.timeout);
        }
        put_u64_be(&mut msg[self.bandwidth..self.bandwidth + BANDWIDTH_LEN], qos.bandwidth);
        msg[self.availability] = qos.availability;
        msg[self.in_order] = qos.in_order;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::arb_qos;
    use proptest::prelude::*;

    /// A layout of no real format: the fields packed in declaration
    /// order, then two octets that are not QoS.
    const PACKED: QosFields = QosFields {
        delay: 0,
        bandwidth: 4,
        availability: 12,
        loss: 13,
        ber: 17,
        in_order: 21,
        max_gap: 22,
        timeout: Some(26),
    }
    .within(30);

    /// A spec whose every octet is different, so that a field written at
    /// another's offset shows.
    const DISTINCT: QosSpec = QosSpec {
        delay: 0x0102_0304,
        bandwidth: 0x1112_1314_1516_1718,
        availability: 0x21,
        loss: 0x3132_3334,
        ber: 0x4142_4344,
        in_order: 0x51,
        max_gap: 0x6162_6364,
        timeout: 0x7172_7374,
    };

    #[test]
    fn each_field_lands_at_its_offset_big_endian() {
        let qos = DISTINCT;
        let mut msg = [0u8; 32];
        PACKED.write(&mut msg, &qos);
        let expected: Vec<u8> = [
            &[1, 2, 3, 4][..],
            &[0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18],
            &[0x21],
            &[0x31, 0x32, 0x33, 0x34],
            &[0x41, 0x42, 0x43, 0x44],
            &[0x51],
            &[0x61, 0x62, 0x63, 0x64],
            &[0x71, 0x72, 0x73, 0x74],
            &[0, 0],
        ]
        .concat();
        assert_eq!(msg[..], expected[..]);
        assert_eq!(PACKED.read(&msg), qos);
    }

    #[test]
    fn a_format_without_timeout_reads_zero_and_leaves_the_octets_alone() {
        let no_timeout = QosFields {
            timeout: None,
            ..PACKED
        }
        .within(26);
        let mut msg = [0xeeu8; 30];
        no_timeout.write(&mut msg, &QosSpec::RAW);
        assert_eq!(msg[26..], [0xee; 4]);
        assert_eq!(
            no_timeout.read(&msg),
            QosSpec {
                timeout: 0,
                ..QosSpec::RAW
            }
        );
    }

    #[test]
    fn every_format_puts_each_field_where_the_table_above_says() {
        use crate::fa;
        use crate::shim_mgmt::{Framing, ShimMgmt};

        // A shim's FLOW_REQ, emitted through the shared codec, fixed part only.
        let shim = |framing: Framing| {
            let req = ShimMgmt::FlowReq {
                requester: 0,
                qos: DISTINCT,
                hash: &[0; 16],
                data: &[],
            };
            let mut out = vec![0u8; framing.buffer_len(&req)];
            framing.emit(&req, &mut out).expect("fits");
            out.truncate(framing.fixed_len());
            out
        };
        let (dix, llc, udp, raptor) = (
            shim(Framing::EthDix),
            shim(Framing::EthLlc),
            shim(Framing::Udp),
            shim(Framing::Raptor),
        );
        let mut fa = [0u8; fa::FIXED_LEN];
        fa::FaMessage::new_unchecked(&mut fa[..]).set_qos(&DISTINCT);

        let q = DISTINCT;
        // The rows of the table, in its order.
        let octets: [&[u8]; 8] = [
            &q.loss.to_be_bytes(),
            &q.bandwidth.to_be_bytes(),
            &q.ber.to_be_bytes(),
            &q.max_gap.to_be_bytes(),
            &q.delay.to_be_bytes(),
            &q.timeout.to_be_bytes(),
            &[q.in_order],
            &[q.availability],
        ];
        // A format, its fixed part with DISTINCT written, and its column.
        type Column<'a> = (&'static str, &'a [u8], [Option<usize>; 8]);
        let columns: [Column; 5] = [
            ("dix", &dix[..], [4, 8, 16, 20, 24, 28, 36, 38].map(Some)),
            ("llc", &llc[..], [4, 8, 16, 20, 24, 28, 36, 3].map(Some)),
            ("udp", &udp[..], [28, 16, 32, 36, 24, 40, 46, 45].map(Some)),
            ("fa", &fa, [40, 24, 44, 48, 36, 52, 60, 59].map(Some)),
            (
                "raptor",
                &raptor[..],
                [Some(4), Some(8), Some(16), Some(20), Some(24), None, Some(28), Some(29)],
            ),
        ];
        for (format, msg, offsets) in columns {
            for (field, at) in octets.iter().zip(offsets) {
                if let Some(at) = at {
                    assert_eq!(&msg[at..at + field.len()], *field, "{format} at {at}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn write_then_read_is_identity_and_touches_only_qos_octets(
            qos in arb_qos(), fill in any::<u8>()
        ) {
            let mut msg = [fill; 32];
            PACKED.write(&mut msg, &qos);
            prop_assert_eq!(PACKED.read(&msg), qos);
            prop_assert_eq!(&msg[30..], &[fill; 2]);
        }
    }
}
