//! The shims' management messages: one meaning, four framings
//! (PROTOCOL.md §2.2, §3, §4.2; raptor as its module says).
//!
//! Every shim allocates flows the same way — ask who has a name hash,
//! request a flow to it, answer the request — so what a message *says* is
//! one type, [`ShimMgmt`], and each shim only lays it out its own way, a
//! [`Framing`]:
//!
//! | | eth-dix | eth-llc | UDP | raptor |
//! |---|---|---|---|---|
//! | fixed part | 39 | 37 | 47 (EID word 0 first) | 30 |
//! | codes REQ / REPLY / QUERY / QUERY REPLY | 0 / 1 / 2 / 3 | 0 / 1 / 2 / 3 | 1 / 2 / — / — | 0 / 1 / 2 / 3 |
//! | EID width | 16 | 8 (SAP) | 32 | 8 |
//! | FLOW_REQ: requester in | seid | ssap | s_eid | seid |
//! | FLOW_REPLY: responder / requester in | seid / deid | ssap / dsap | **d_eid / s_eid** | seid / deid |
//! | response | i32 | i32 | i32 | i8 |
//! | hash | the layer's | the layer's | MD5 (16) | the layer's |
//! | piggybacked data (OAP) | yes | yes | yes | no |
//! | QoS timeout | yes | yes | yes | no (reads 0) |
//! | longest message | 9000 | 1532 | 2048 | 3892 |
//!
//! Each shim module states its column once, as a `MgmtLayout` beside its
//! other field offsets and its diagram; parsing and emitting are written
//! once, here, and read the table. Fields a message does not use are
//! written as zero, as the C senders do, and ignored when read, as the C
//! receivers do: `emit(parse(x))` is `x` with those fields zeroed.
//!
//! A value the shim has no room for is refused, never cut to fit: an EID
//! wider than the shim's field ([`WireError::DoesNotFit`]), a message the
//! shim does not have ([`WireError::NotCarried`]: a name query over UDP,
//! an OAP header over raptor), a UDP hash that is not MD5's 16 octets
//! ([`WireError::HashLen`]).
//!
//! ```text
//!  shim IPCP (control)           ShimMgmt                       the wire
//!  FlowReq { requester: 64 } ──► Framing::EthDix.emit ──► seid=64 deid=0 code=0 ... hash oap
//!                            ◄── Framing::EthDix.parse ◄──
//! ```

use core::fmt;

use crate::octets::Hex;
use crate::qos::QosSpec;
use crate::qos_fields::QosFields;
use crate::trailer::{self, Trailer};
use crate::view;
use crate::{Result, WireError};

/// What a shim management message says, whatever the shim (PROTOCOL.md §2.2, §3, §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShimMgmt<'a> {
    /// Who has this name hash? (broadcast; eth shims only)
    NameQuery { hash: &'a [u8] },
    /// I have this name hash.
    NameReply { hash: &'a [u8] },
    /// Allocate a flow to `hash`; `requester` is the EID (or SAP) the requester chose.
    FlowReq {
        requester: u32,
        qos: QosSpec,
        hash: &'a [u8],
        data: &'a [u8],
    },
    /// The answer to a FlowReq: `responder` is the EID the responder chose (meaningless when response != 0).
    FlowReply {
        requester: u32,
        responder: u32,
        response: i32,
        data: &'a [u8],
    },
}

impl<'a> ShimMgmt<'a> {
    /// The name hash; empty in a FLOW_REPLY.
    pub const fn hash(&self) -> &'a [u8] {
        match *self {
            ShimMgmt::NameQuery { hash } | ShimMgmt::NameReply { hash } | ShimMgmt::FlowReq { hash, .. } => hash,
            ShimMgmt::FlowReply { .. } => &[],
        }
    }

    /// The piggybacked data (the OAP header); empty in name queries.
    pub const fn data(&self) -> &'a [u8] {
        match *self {
            ShimMgmt::FlowReq { data, .. } | ShimMgmt::FlowReply { data, .. } => data,
            ShimMgmt::NameQuery { .. } | ShimMgmt::NameReply { .. } => &[],
        }
    }

    /// The C prototype's name of the message.
    pub const fn name(&self) -> &'static str {
        Kind::of(self).name()
    }
}

impl fmt::Display for ShimMgmt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        match *self {
            ShimMgmt::NameQuery { hash } | ShimMgmt::NameReply { hash } => write!(f, " hash {}", Hex(hash)),
            ShimMgmt::FlowReq {
                requester,
                qos,
                hash,
                data,
            } => write!(
                f,
                " requester {requester} hash {} data {} ({qos})",
                Hex(hash),
                data.len()
            ),
            ShimMgmt::FlowReply {
                requester,
                responder,
                response,
                data,
            } => write!(
                f,
                " requester {requester} responder {responder} response {response} data {}",
                data.len()
            ),
        }
    }
}

/// How one shim lays a [`ShimMgmt`] out on the wire: the whole message,
/// from the first octet after the shim's own header (for UDP, from the
/// EID word, which reads 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    /// eth-dix, the payload of a frame with EID 0 (PROTOCOL.md §2.2).
    EthDix,
    /// eth-llc, the payload of a frame whose SAPs are both 1 (§3).
    EthLlc,
    /// UDP, a datagram whose EID word is 0 (§4.2).
    Udp,
    /// raptor, the payload of a frame to EID 1 ([`crate::raptor`]).
    Raptor,
}

impl Framing {
    /// Every framing.
    pub const ALL: [Framing; 4] = [Framing::EthDix, Framing::EthLlc, Framing::Udp, Framing::Raptor];

    const fn layout(self) -> &'static MgmtLayout {
        match self {
            Framing::EthDix => &crate::dix::MGMT_LAYOUT,
            Framing::EthLlc => &crate::llc::MGMT_LAYOUT,
            Framing::Udp => &crate::udp::MGMT_LAYOUT,
            Framing::Raptor => &crate::raptor::MGMT_LAYOUT,
        }
    }

    /// The shim's name.
    pub const fn name(self) -> &'static str {
        self.layout().shim
    }

    /// Octets of the fixed part, in front of the hash and the data.
    pub const fn fixed_len(self) -> usize {
        self.layout().fixed_len
    }

    /// Longest message the shim carries.
    pub const fn max_len(self) -> usize {
        self.layout().max_len
    }

    /// Reads a whole management message of a layer whose name hashes are
    /// `hash_len` octets (over UDP that must be MD5's 16). Refuses a
    /// message shorter than the fixed part or longer than the shim
    /// carries, an unknown code, a hash cut short, and octets after a
    /// message that ends with its hash.
    pub fn parse(self, msg: &[u8], hash_len: usize) -> Result<ShimMgmt<'_>> {
        let l = self.layout();
        view::check_bounds(msg.len(), l.fixed_len, l.max_len)?;
        let hash_len = l.hash_len(hash_len)?;
        if let Some(word) = l.zero_word
            && word.read(msg) != 0
        {
            return Err(WireError::Invalid {
                what: "management message with a non-zero EID",
            });
        }
        let kind = l.kind(msg[l.code])?;
        let (hash, data) = kind.trailer(l.data).split(&msg[l.fixed_len..], hash_len, l.fixed_len)?;
        Ok(match kind {
            Kind::NameQuery => ShimMgmt::NameQuery { hash },
            Kind::NameReply => ShimMgmt::NameReply { hash },
            Kind::FlowReq => ShimMgmt::FlowReq {
                requester: l.request_requester.read(msg),
                qos: l.qos.read(msg),
                hash,
                data,
            },
            Kind::FlowReply => ShimMgmt::FlowReply {
                requester: l.reply_requester.read(msg),
                responder: l.reply_responder.read(msg),
                response: l.response.read_signed(msg),
                data,
            },
        })
    }

    /// Octets [`Framing::emit`] writes for `msg`.
    pub const fn buffer_len(self, msg: &ShimMgmt<'_>) -> usize {
        self.layout().fixed_len + msg.hash().len() + msg.data().len()
    }

    /// Writes `msg` at the start of `buf` and returns its length
    /// ([`Framing::buffer_len`]). Refuses, before writing anything, what
    /// the shim cannot carry (see the module documentation), a message
    /// longer than the shim allows, and a buffer too short for it.
    pub fn emit(self, msg: &ShimMgmt<'_>, buf: &mut [u8]) -> Result<usize> {
        let l = self.layout();
        let kind = Kind::of(msg);
        let Some(code) = l.codes[kind as usize] else {
            return Err(WireError::NotCarried {
                format: l.shim,
                what: kind.name(),
            });
        };
        if !l.data && !msg.data().is_empty() {
            return Err(WireError::NotCarried {
                format: l.shim,
                what: "piggybacked data",
            });
        }
        if let (Some(want), Trailer { hash: true, .. }) = (l.fixed_hash_len, kind.trailer(l.data))
            && msg.hash().len() != want
        {
            return Err(WireError::HashLen {
                len: msg.hash().len(),
                want,
            });
        }
        // (field, value) of every integer the message sets, checked
        // before any octet is written.
        let ints: [(IntField, &'static str, i64); 3] = match *msg {
            ShimMgmt::FlowReq { requester, .. } => [
                (l.request_requester, "requester EID", requester.into()),
                (IntField::NONE, "", 0),
                (IntField::NONE, "", 0),
            ],
            ShimMgmt::FlowReply {
                requester,
                responder,
                response,
                ..
            } => [
                (l.reply_requester, "requester EID", requester.into()),
                (l.reply_responder, "responder EID", responder.into()),
                (l.response, "response", response.into()),
            ],
            ShimMgmt::NameQuery { .. } | ShimMgmt::NameReply { .. } => [(IntField::NONE, "", 0); 3],
        };
        for (field, what, value) in ints {
            field.check(what, value)?;
        }
        let len = self.buffer_len(msg);
        view::check_emit(len, l.max_len, buf.len())?;
        let (fixed, rest) = buf[..len].split_at_mut(l.fixed_len);
        fixed.fill(0);
        fixed[l.code] = code;
        for (field, _, value) in ints {
            field.write(fixed, value);
        }
        if let ShimMgmt::FlowReq { qos, .. } = msg {
            l.qos.write(fixed, qos);
        }
        trailer::put(rest, msg.hash(), msg.data());
        Ok(len)
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The four messages, in the order of a layout's `codes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    FlowReq,
    FlowReply,
    NameQuery,
    NameReply,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::FlowReq, Kind::FlowReply, Kind::NameQuery, Kind::NameReply];

    const fn of(msg: &ShimMgmt<'_>) -> Kind {
        match msg {
            ShimMgmt::FlowReq { .. } => Kind::FlowReq,
            ShimMgmt::FlowReply { .. } => Kind::FlowReply,
            ShimMgmt::NameQuery { .. } => Kind::NameQuery,
            ShimMgmt::NameReply { .. } => Kind::NameReply,
        }
    }

    const fn name(self) -> &'static str {
        match self {
            Kind::FlowReq => "FLOW_REQ",
            Kind::FlowReply => "FLOW_REPLY",
            Kind::NameQuery => "NAME_QUERY_REQ",
            Kind::NameReply => "NAME_QUERY_REPLY",
        }
    }

    /// What follows the fixed part; without `data`, a FLOW_REQ ends with
    /// its hash and a FLOW_REPLY with its fixed part (raptor).
    const fn trailer(self, data: bool) -> Trailer {
        match (self, data) {
            (Kind::FlowReq, true) => Trailer::HASH_AND_DATA,
            (Kind::FlowReply, true) => Trailer::DATA,
            (Kind::FlowReply, false) => Trailer::NONE,
            (Kind::FlowReq | Kind::NameQuery | Kind::NameReply, _) => Trailer::HASH,
        }
    }
}

/// A big-endian integer of 1, 2 or 4 octets in a message's fixed part:
/// an EID (unsigned) or the allocation result (two's complement).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IntField {
    at: usize,
    width: usize,
    signed: bool,
}

impl IntField {
    /// A field of no width: nothing to check or write.
    const NONE: IntField = IntField {
        at: 0,
        width: 0,
        signed: false,
    };

    /// An EID of `width` octets at `at`.
    pub(crate) const fn eid(at: usize, width: usize) -> IntField {
        assert!(width == 1 || width == 2 || width == 4, "a 1-, 2- or 4-octet EID");
        IntField {
            at,
            width,
            signed: false,
        }
    }

    /// A signed result of `width` octets at `at`.
    pub(crate) const fn response(at: usize, width: usize) -> IntField {
        assert!(width == 1 || width == 4, "a 1- or 4-octet response");
        IntField {
            at,
            width,
            signed: true,
        }
    }

    const fn bits(self) -> u32 {
        8 * self.width as u32
    }

    const fn span(self) -> (usize, usize) {
        (self.at, self.width)
    }

    fn read(self, msg: &[u8]) -> u32 {
        msg[self.at..self.at + self.width]
            .iter()
            .fold(0, |v, &octet| v << 8 | u32::from(octet))
    }

    /// The field as a two's-complement number of its width.
    fn read_signed(self, msg: &[u8]) -> i32 {
        let shift = 32 - self.bits();
        ((self.read(msg) << shift) as i32) >> shift
    }

    /// Whether `value` fits the field.
    fn check(self, what: &'static str, value: i64) -> Result<()> {
        if self.width == 0 {
            return Ok(());
        }
        let bits = self.bits();
        let (min, max) = if self.signed {
            (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
        } else {
            (0, (1i64 << bits) - 1)
        };
        if (min..=max).contains(&value) {
            Ok(())
        } else {
            Err(WireError::DoesNotFit { what, value, bits })
        }
    }

    /// Writes a value [`IntField::check`] accepted: its low octets are
    /// all of it.
    fn write(self, msg: &mut [u8], value: i64) {
        let octets = value.to_be_bytes();
        msg[self.at..self.at + self.width].copy_from_slice(&octets[8 - self.width..]);
    }
}

/// Where one shim puts each piece of a management message: the column of
/// the table in the module documentation.
#[derive(Debug)]
pub(crate) struct MgmtLayout {
    /// The shim's name, in errors.
    pub(crate) shim: &'static str,
    /// What an unknown code is reported as.
    pub(crate) code_name: &'static str,
    pub(crate) fixed_len: usize,
    pub(crate) max_len: usize,
    /// The code octet.
    pub(crate) code: usize,
    /// The code of FLOW_REQ, FLOW_REPLY, NAME_QUERY_REQ and
    /// NAME_QUERY_REPLY; `None` where the shim has no such message.
    pub(crate) codes: [Option<u8>; 4],
    /// A word that reads zero in every management message (UDP's EID).
    pub(crate) zero_word: Option<IntField>,
    /// The requester's EID in a FLOW_REQ.
    pub(crate) request_requester: IntField,
    /// The requester's EID in a FLOW_REPLY.
    pub(crate) reply_requester: IntField,
    /// The responder's EID in a FLOW_REPLY.
    pub(crate) reply_responder: IntField,
    /// The allocation result in a FLOW_REPLY.
    pub(crate) response: IntField,
    pub(crate) qos: QosFields,
    /// `Some(n)`: every hash is `n` octets, whatever the layer (UDP).
    pub(crate) fixed_hash_len: Option<usize>,
    /// Whether FLOW_REQ and FLOW_REPLY carry piggybacked data.
    pub(crate) data: bool,
}

impl MgmtLayout {
    /// The layout itself, after a compile-time check that every field lies
    /// in the fixed part and that no two fields one message uses share an
    /// octet (a failed check stops the build).
    pub(crate) const fn checked(self) -> MgmtLayout {
        let zero = match self.zero_word {
            Some(word) => word.span(),
            None => (0, 0),
        };
        let common = [(self.code, 1), zero];
        let request = [self.request_requester.span()];
        let reply = [
            self.reply_requester.span(),
            self.reply_responder.span(),
            self.response.span(),
        ];
        let qos = self.qos.spans();
        let mut spans = [(0, 0); 14];
        // Request: common, requester, QoS.
        let mut n = 0;
        n = push(&mut spans, n, &common);
        n = push(&mut spans, n, &request);
        n = push(&mut spans, n, &qos);
        disjoint_within(&spans, n, self.fixed_len);
        // Reply: common, the EIDs, the response.
        let mut n = 0;
        n = push(&mut spans, n, &common);
        n = push(&mut spans, n, &reply);
        disjoint_within(&spans, n, self.fixed_len);
        self
    }

    /// The hash length of the layer, checked against the shim's own.
    fn hash_len(&self, layer: usize) -> Result<usize> {
        match self.fixed_hash_len {
            Some(want) if want != layer => Err(WireError::HashLen { len: layer, want }),
            _ => Ok(layer),
        }
    }

    /// The message a code octet names.
    fn kind(&self, code: u8) -> Result<Kind> {
        let mut i = 0;
        while i < Kind::ALL.len() {
            if self.codes[i] == Some(code) {
                return Ok(Kind::ALL[i]);
            }
            i += 1;
        }
        Err(WireError::UnknownCode {
            what: self.code_name,
            value: code.into(),
        })
    }
}

/// Appends `new` to the first `n` of `spans`; returns the new count.
const fn push(spans: &mut [(usize, usize); 14], n: usize, new: &[(usize, usize)]) -> usize {
    let mut i = 0;
    while i < new.len() {
        spans[n + i] = new[i];
        i += 1;
    }
    n + new.len()
}

/// Panics (at compile time, in a constant) unless the first `n` spans end
/// by `fixed_len` and share no octet.
const fn disjoint_within(spans: &[(usize, usize); 14], n: usize, fixed_len: usize) {
    let mut i = 0;
    while i < n {
        let (start, len) = spans[i];
        assert!(start + len <= fixed_len, "management field beyond the fixed part");
        let mut j = i + 1;
        while j < n {
            let (other, other_len) = spans[j];
            assert!(
                len == 0 || other_len == 0 || start + len <= other || other + other_len <= start,
                "management fields overlap"
            );
            j += 1;
        }
        i += 1;
    }
}

/// The hash length the decoders give a framing: MD5's over UDP, else
/// SHA3-256's (every layer's default).
const fn fuzz_hash_len(framing: Framing) -> usize {
    match framing.layout().fixed_hash_len {
        Some(len) => len,
        None => crate::decoders::FUZZ_HASH_LEN,
    }
}

/// The round trip of a management decoder: a message that parses emits
/// to as many octets, which parse to the same message, and differ from
/// the input only where the emitted octets are zero (fields the message
/// does not use). Panics otherwise.
fn fuzz(framing: Framing, input: &[u8]) {
    let hash_len = fuzz_hash_len(framing);
    let Ok(msg) = framing.parse(input, hash_len) else {
        return;
    };
    let mut out = vec![0; framing.buffer_len(&msg)];
    match framing.emit(&msg, &mut out) {
        Ok(len) => assert_eq!(len, out.len(), "{framing}: emit wrote another length"),
        Err(e) => panic!("{framing}: a parsed message does not emit: {e}"),
    }
    assert_eq!(out.len(), input.len(), "{framing}: {msg} covers another length");
    assert_eq!(
        framing.parse(&out, hash_len),
        Ok(msg),
        "{framing}: parse(emit(parse(x))) != parse(x)"
    );
    for (at, (&was, &now)) in input.iter().zip(&out).enumerate() {
        assert!(
            was == now || now == 0,
            "{framing}: octet {at} of a field {msg} uses came out {now:#04x}, was {was:#04x}"
        );
    }
}

/// Decoder entry: an eth-dix management message of a SHA3-256 layer.
pub(crate) fn fuzz_eth_dix(data: &[u8]) {
    fuzz(Framing::EthDix, data);
}

/// Decoder entry: an eth-llc management body of a SHA3-256 layer.
pub(crate) fn fuzz_eth_llc(data: &[u8]) {
    fuzz(Framing::EthLlc, data);
}

/// Decoder entry: a UDP management message (MD5 hashes).
pub(crate) fn fuzz_udp(data: &[u8]) {
    fuzz(Framing::Udp, data);
}

/// Decoder entry: a raptor management message of a SHA3-256 layer.
pub(crate) fn fuzz_raptor(data: &[u8]) {
    fuzz(Framing::Raptor, data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{MgmtPieces, QOS_UNSET, arb_mgmt_pieces, arb_qos, fuzz_with_code};
    use proptest::prelude::*;

    fn req(requester: u32) -> ShimMgmt<'static> {
        ShimMgmt::FlowReq {
            requester,
            qos: QosSpec::RAW,
            hash: &[7; 16],
            data: &[],
        }
    }

    fn reply(requester: u32, responder: u32, response: i32) -> ShimMgmt<'static> {
        ShimMgmt::FlowReply {
            requester,
            responder,
            response,
            data: &[],
        }
    }

    #[test]
    fn an_eid_wider_than_the_shims_field_is_refused_not_cut() {
        let mut buf = [0xee; 200];
        let cases = [
            (Framing::EthDix, 65_535, 65_536, 16),
            (Framing::EthLlc, 255, 256, 8),
            (Framing::Raptor, 255, 256, 8),
        ];
        for (framing, widest, too_wide, bits) in cases {
            assert!(framing.emit(&req(widest), &mut buf).is_ok(), "{framing}");
            for msg in [req(too_wide), reply(too_wide, 1, 0)] {
                assert_eq!(
                    framing.emit(&msg, &mut buf),
                    Err(WireError::DoesNotFit {
                        what: "requester EID",
                        value: too_wide.into(),
                        bits
                    }),
                    "{framing}"
                );
            }
            assert_eq!(
                framing.emit(&reply(1, too_wide, 0), &mut buf),
                Err(WireError::DoesNotFit {
                    what: "responder EID",
                    value: too_wide.into(),
                    bits
                })
            );
        }
        assert!(Framing::Udp.emit(&reply(u32::MAX, u32::MAX, 0), &mut buf).is_ok());
    }

    #[test]
    fn raptor_refuses_a_response_outside_eight_bits_and_any_oap_header() {
        let mut buf = [0u8; 100];
        assert!(Framing::Raptor.emit(&reply(2, 3, -128), &mut buf).is_ok());
        assert_eq!(
            Framing::Raptor.emit(&reply(2, 3, -1009), &mut buf),
            Err(WireError::DoesNotFit {
                what: "response",
                value: -1009,
                bits: 8
            })
        );
        assert!(matches!(
            Framing::Raptor.emit(&reply(2, 3, 128), &mut buf),
            Err(WireError::DoesNotFit { .. })
        ));
        let with_oap = ShimMgmt::FlowReply {
            requester: 2,
            responder: 3,
            response: 0,
            data: &[1],
        };
        assert_eq!(
            Framing::Raptor.emit(&with_oap, &mut buf),
            Err(WireError::NotCarried {
                format: "raptor",
                what: "piggybacked data"
            })
        );
    }

    #[test]
    fn udp_has_no_name_queries_and_only_md5_hashes() {
        let mut buf = [0u8; 100];
        for (msg, what) in [
            (ShimMgmt::NameQuery { hash: &[0; 16] }, "NAME_QUERY_REQ"),
            (ShimMgmt::NameReply { hash: &[0; 16] }, "NAME_QUERY_REPLY"),
        ] {
            assert_eq!(
                Framing::Udp.emit(&msg, &mut buf),
                Err(WireError::NotCarried { format: "udp", what })
            );
        }
        let sha3 = ShimMgmt::FlowReq {
            requester: 64,
            qos: QosSpec::RAW,
            hash: &[0; 32],
            data: &[],
        };
        assert_eq!(
            Framing::Udp.emit(&sha3, &mut buf),
            Err(WireError::HashLen { len: 32, want: 16 })
        );
        let len = Framing::Udp.emit(&req(64), &mut buf).expect("MD5");
        assert_eq!(
            Framing::Udp.parse(&buf[..len], 32),
            Err(WireError::HashLen { len: 32, want: 16 })
        );
        assert_eq!(Framing::Udp.parse(&buf[..len], 16), Ok(req(64)));
    }

    #[test]
    fn a_refused_emit_writes_nothing() {
        for framing in [Framing::EthDix, Framing::EthLlc, Framing::Raptor] {
            let mut buf = [0xee; 100];
            assert!(framing.emit(&reply(1, 1 << 20, 0), &mut buf).is_err());
            assert_eq!(buf, [0xee; 100], "{framing}");
        }
    }

    #[test]
    fn unused_fields_are_written_zero_and_ignored_when_read() {
        for framing in Framing::ALL {
            let msg = reply(9, 10, -1);
            let mut out = vec![0xee; framing.buffer_len(&msg)];
            framing.emit(&msg, &mut out).expect("fits");
            let l = framing.layout();
            // The QoS of a reply is unused: zero.
            assert_eq!(l.qos.read(&out), QOS_UNSET, "{framing}");
            // Garbage in the QoS of a reply changes nothing.
            let mut noisy = out.clone();
            l.qos.write(&mut noisy, &QosSpec::RAW);
            assert_eq!(framing.parse(&noisy, 16), Ok(msg), "{framing}");
        }
    }

    #[test]
    fn every_message_says_what_it_is() {
        let text = ShimMgmt::FlowReply {
            requester: 64,
            responder: 65,
            response: -1009,
            data: &[0; 84],
        }
        .to_string();
        assert_eq!(text, "FLOW_REPLY requester 64 responder 65 response -1009 data 84");
        assert_eq!(
            ShimMgmt::NameQuery { hash: &[0xab; 2] }.to_string(),
            "NAME_QUERY_REQ hash abab"
        );
        assert_eq!(Framing::EthLlc.to_string(), "eth-llc");
    }

    proptest! {
        /// Whatever the message and the shim, emit either refuses it with
        /// a reason or writes what parses back to it (raptor's QoS
        /// without its timeout).
        #[test]
        fn emit_then_parse_is_identity_or_a_typed_refusal(
            pieces in arb_mgmt_pieces(), framing in proptest::sample::select(Framing::ALL.to_vec()),
        ) {
            let msg = pieces.msg();
            let mut out = vec![0u8; framing.buffer_len(&msg)];
            match framing.emit(&msg, &mut out) {
                Ok(len) => {
                    prop_assert_eq!(len, out.len());
                    // The layer's hash length: the message's, if it has one.
                    let hash_len = match msg {
                        ShimMgmt::FlowReply { .. } => fuzz_hash_len(framing),
                        _ => msg.hash().len(),
                    };
                    let mut want = msg;
                    if let (Framing::Raptor, ShimMgmt::FlowReq { qos, .. }) = (framing, &mut want) {
                        qos.timeout = 0;
                    }
                    prop_assert_eq!(framing.parse(&out, hash_len), Ok(want));
                }
                Err(WireError::DoesNotFit { .. } | WireError::NotCarried { .. } | WireError::HashLen { .. } | WireError::TooLong { .. }) => {}
                Err(e) => prop_assert!(false, "{framing}: {e}"),
            }
        }

        #[test]
        fn parse_then_emit_zeroes_only_unused_fields(
            framing in proptest::sample::select(Framing::ALL.to_vec()), code in 0u8..5,
            body in proptest::collection::vec(any::<u8>(), 47..200), qos in arb_qos(),
        ) {
            let l = framing.layout();
            let mut body = body;
            if let Some(word) = l.zero_word {
                body[word.at..word.at + word.width].fill(0);
            }
            l.qos.write(&mut body, &qos);
            let entry = match framing {
                Framing::EthDix => fuzz_eth_dix,
                Framing::EthLlc => fuzz_eth_llc,
                Framing::Udp => fuzz_udp,
                Framing::Raptor => fuzz_raptor,
            };
            fuzz_with_code(entry, body, l.code, code, l.fixed_len, fuzz_hash_len(framing));
        }
    }

    #[test]
    fn pieces_round_trip_through_every_framing_that_carries_them() {
        let pieces = MgmtPieces::FlowReq(64, QosSpec::DATA, vec![1; 16], Vec::new());
        for framing in Framing::ALL {
            let msg = pieces.msg();
            let mut out = vec![0u8; framing.buffer_len(&msg)];
            framing.emit(&msg, &mut out).expect("every shim carries it");
            let mut want = msg;
            if let (Framing::Raptor, ShimMgmt::FlowReq { qos, .. }) = (framing, &mut want) {
                qos.timeout = 0;
            }
            assert_eq!(framing.parse(&out, 16), Ok(want), "{framing}");
        }
    }
}
