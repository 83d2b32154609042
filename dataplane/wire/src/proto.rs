//! The protobuf messages of CACEP, enrolment and the DHT.
//!
//! The `.proto` files in `dataplane/wire/proto/` mirror the C prototype's
//! field by field (numbers, types, labels); prost generates the Rust
//! types at build time, one module per file. Packages exist only to name
//! these modules: they never reach the wire.
//!
//! | module | message | PROTOCOL.md | largest SDU |
//! |---|---|---|---|
//! | [`cep`] | `cep_msg`, `fixed_conc_syntax_msg` | §10 | [`CEP_MAX_LEN`] = 128 |
//! | [`enroll`] | `enroll_req_msg`, `enroll_resp_msg`, `enroll_ack_msg` | §11.2 | [`OEP_MAX_LEN`] = 1024 |
//! | [`ipcp_config`] | `ipcp_config_msg`, `uni_config_msg`, `dt_config_msg`, `routing_config_msg`, `ls_config_msg`, `dir_config_msg`, `dir_dht_config_msg`, `eth_config_msg`, `udp4_config_msg`, `udp6_config_msg` | §7.1, §11.2 | (inside `enroll_resp_msg`) |
//! | [`model`] | `layer_info_msg` | §1.1, §11.2 | (inside `ipcp_config_msg`) |
//! | [`dht`] | `dht_msg`, `dht_contact_msg`, `dht_find_req_msg`, `dht_find_node_rsp_msg`, `dht_find_value_rsp_msg`, `dht_store_msg` | §13.1 | — |
//!
//! # proto2 `required`
//!
//! The C peer uses protobuf-c, which always encodes a required field
//! (zero and empty included) and refuses a message that lacks one. prost
//! does the former — required scalars are plain values and required
//! sub-messages are plain structs, so they are always emitted, in
//! field-number order like protobuf-c — but decodes a message with a
//! required field missing as if it held the default. [`decode`] therefore
//! first walks the octets with the schema of the embedded descriptor set
//! ([`FILE_DESCRIPTOR_SET`]) and refuses what protobuf-c would refuse:
//!
//! * a required field absent from any message, top-level or nested
//!   (each occurrence of a sub-message is checked on its own, as
//!   protobuf-c unpacks every occurrence separately before merging);
//! * a known field with a wire type its declared type does not allow
//!   (repeated scalars may come packed or not);
//! * groups (wire types 3 and 4), which protobuf-c does not support, and
//!   wire types 6 and 7;
//! * truncated varints, lengths or fixed-width values.
//!
//! Unknown fields are skipped, as by both libraries. prost then decodes
//! the octets, adding its own checks (UTF-8 in `string` fields, varints
//! of at most 64 bits).
//!
//! Encodings are not canonical (field order, packed or not, overlong
//! varints), so compare decoded messages, not octets, except against the
//! protobuf-c output of PROTOCOL.md §19.6, which [`encode`] reproduces.

use std::sync::OnceLock;

use prost::Message;

use crate::{Result, WireError};

// Generated code: prost derives Debug, so the workspace's
// missing_debug_implementations is satisfied; clippy's style lints do
// not apply to code we do not write.
macro_rules! generated {
    ($(#[$doc:meta])* $name:ident, $file:literal) => {
        $(#[$doc])*
        #[allow(clippy::all, clippy::pedantic, missing_docs)]
        pub mod $name {
            include!(concat!(env!("OUT_DIR"), "/", $file));
        }
    };
}

generated!(
    /// CACEP (`cep.proto`, §10).
    cep,
    "cep.rs"
);
generated!(
    /// `layer_info_msg` (the wire part of the C `model.proto`, §11.2).
    model,
    "model.rs"
);
generated!(
    /// Layer configuration (`ipcp_config.proto`, §7.1, §11.2).
    ipcp_config,
    "ipcp_config.rs"
);
generated!(
    /// OEP (`enroll.proto`, §11.2).
    enroll,
    "enroll.rs"
);
generated!(
    /// The directory DHT (`dht.proto`, §13.1).
    dht,
    "dht.rs"
);

/// The encoded `google.protobuf.FileDescriptorSet` of every `.proto`
/// file above (without source info), as protox compiled it.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor_set.bin"));

/// Largest CACEP message: the C connection manager reads it into a
/// 128-octet buffer (`src/lib/cep.c`).
pub const CEP_MAX_LEN: usize = 128;

/// Largest OEP message: the C enrolment reads each into a 1024-octet
/// buffer (`ENROLL_BUF_LEN`, `src/ipcpd/common/enroll.c`).
pub const OEP_MAX_LEN: usize = 1024;

/// A message that travels as a whole SDU into a fixed-size C buffer.
pub trait SizeLimit {
    /// Largest encoding the C receiver reads, in octets.
    const MAX_LEN: usize;
}

impl SizeLimit for cep::CepMsg {
    const MAX_LEN: usize = CEP_MAX_LEN;
}

impl SizeLimit for enroll::EnrollReqMsg {
    const MAX_LEN: usize = OEP_MAX_LEN;
}

impl SizeLimit for enroll::EnrollRespMsg {
    const MAX_LEN: usize = OEP_MAX_LEN;
}

impl SizeLimit for enroll::EnrollAckMsg {
    const MAX_LEN: usize = OEP_MAX_LEN;
}

/// Decodes `bytes` as `M`, refusing what protobuf-c refuses (see the
/// module docs), in particular a missing required field.
pub fn decode<M: Message + prost::Name + Default>(bytes: &[u8]) -> Result<M> {
    check_required::<M>(bytes)?;
    M::decode(bytes).map_err(|_| WireError::Protobuf { message: M::NAME })
}

/// Checks that `bytes` is well-formed and holds every required field of
/// `M` and of its present sub-messages, without decoding it. Does not
/// allocate.
pub fn check_required<M: prost::Name>(bytes: &[u8]) -> Result<()> {
    let schema = schema();
    let index = schema
        .find(M::PACKAGE, M::NAME)
        .ok_or(WireError::Protobuf { message: M::NAME })?;
    schema.check(index, bytes, 0)
}

/// Encodes `msg` as protobuf-c does: fields in number order, required
/// fields always.
pub fn encode<M: Message>(msg: &M) -> Vec<u8> {
    msg.encode_to_vec()
}

/// Refuses a length above what the C receiver of `M` reads.
pub fn check_size<M: SizeLimit>(len: usize) -> Result<()> {
    if len > M::MAX_LEN {
        return Err(WireError::TooLong { len, max: M::MAX_LEN });
    }
    Ok(())
}

/// [`decode`] of a message received as one SDU, refusing one longer than
/// the C receiver would read.
pub fn decode_limited<M: Message + prost::Name + Default + SizeLimit>(bytes: &[u8]) -> Result<M> {
    check_size::<M>(bytes.len())?;
    decode(bytes)
}

/// [`encode`] of a message sent as one SDU, refusing one longer than the
/// C receiver would read.
pub fn encode_limited<M: Message + SizeLimit>(msg: &M) -> Result<Vec<u8>> {
    check_size::<M>(msg.encoded_len())?;
    Ok(encode(msg))
}

/// Fuzz and sweep entry of [`crate::decoders`]: decode, and on success
/// check that the message survives encode → decode. Messages are
/// compared, not octets, because the input need not be canonical.
pub(crate) fn round_trip<M>(bytes: &[u8])
where
    M: Message + prost::Name + Default + PartialEq + core::fmt::Debug,
{
    if let Ok(msg) = decode::<M>(bytes) {
        let again = decode::<M>(&encode(&msg));
        assert_eq!(again.as_ref(), Ok(&msg), "{} round trip", M::NAME);
    }
}

/// [`round_trip`] for a message with an SDU size limit. The re-encoding
/// is decoded without the limit: a non-canonical input (e.g. a negative
/// int32 in 5 octets instead of 10) may grow when re-encoded.
pub(crate) fn round_trip_limited<M>(bytes: &[u8])
where
    M: Message + prost::Name + Default + PartialEq + SizeLimit + core::fmt::Debug,
{
    if let Ok(msg) = decode_limited::<M>(bytes) {
        let again = decode::<M>(&encode(&msg));
        assert_eq!(again.as_ref(), Ok(&msg), "{} round trip", M::NAME);
    }
}

// ---------------------------------------------------------------------
// The schema walker.
// ---------------------------------------------------------------------

/// prost's own nesting limit; our messages nest at most five deep, so
/// this only guards a future recursive message type.
const RECURSION_LIMIT: u32 = 100;

/// Protobuf wire types.
const WIRE_VARINT: u8 = 0;
const WIRE_FIXED64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_FIXED32: u8 = 5;

/// How a field's value is laid out on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Varint,
    Fixed64,
    Fixed32,
    /// string or bytes
    Len,
    /// Index of the field's message type in [`Schema::messages`].
    Message(usize),
}

#[derive(Debug)]
struct FieldSchema {
    number: u32,
    name: String,
    repeated: bool,
    layout: Layout,
}

#[derive(Debug)]
struct MessageSchema {
    /// Package, empty when none.
    package: String,
    /// Name within the package (`outer.inner` for nested types).
    name: String,
    /// Sorted by field number.
    fields: Vec<FieldSchema>,
    /// Bit i set: `fields[i]` is required.
    required: u64,
}

/// Every message of [`FILE_DESCRIPTOR_SET`], in a form the walker can use
/// without allocating.
#[derive(Debug)]
struct Schema {
    messages: Vec<MessageSchema>,
}

/// The schema, built once from the embedded descriptor set.
fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        // Not input-derived: the set is generated by build.rs from our own
        // files, and `tests::embedded_schema_builds` builds it on every
        // test run, so this cannot fail in a build that passed its tests.
        match Schema::from_descriptor_set(FILE_DESCRIPTOR_SET) {
            Ok(schema) => schema,
            Err(why) => panic!("embedded protobuf descriptor set: {why}"),
        }
    })
}

impl Schema {
    fn from_descriptor_set(bytes: &[u8]) -> core::result::Result<Schema, String> {
        use prost_types::field_descriptor_proto::{Label, Type};

        let set = prost_types::FileDescriptorSet::decode(bytes).map_err(|e| e.to_string())?;

        // First pass: every message's fully-qualified name, so that field
        // type names (".pkg.msg") resolve to indices.
        let mut pending = Vec::new();
        for file in &set.file {
            let package = file.package().to_owned();
            let mut stack: Vec<(String, &prost_types::DescriptorProto)> =
                file.message_type.iter().map(|m| (m.name().to_owned(), m)).collect();
            while let Some((name, message)) = stack.pop() {
                for nested in &message.nested_type {
                    stack.push((format!("{name}.{}", nested.name()), nested));
                }
                pending.push((package.clone(), name, message));
            }
        }
        let full_name = |package: &str, name: &str| {
            if package.is_empty() {
                format!(".{name}")
            } else {
                format!(".{package}.{name}")
            }
        };
        let names: Vec<String> = pending
            .iter()
            .map(|(package, name, _)| full_name(package, name))
            .collect();

        let mut messages = Vec::with_capacity(pending.len());
        for (package, name, message) in &pending {
            let mut fields = Vec::with_capacity(message.field.len());
            for field in &message.field {
                let layout = match field.r#type() {
                    Type::Int32
                    | Type::Int64
                    | Type::Uint32
                    | Type::Uint64
                    | Type::Sint32
                    | Type::Sint64
                    | Type::Bool
                    | Type::Enum => Layout::Varint,
                    Type::Fixed64 | Type::Sfixed64 | Type::Double => Layout::Fixed64,
                    Type::Fixed32 | Type::Sfixed32 | Type::Float => Layout::Fixed32,
                    Type::String | Type::Bytes => Layout::Len,
                    Type::Message => {
                        let target = names
                            .iter()
                            .position(|n| n == field.type_name())
                            .ok_or_else(|| format!("{name}.{}: unresolved type {}", field.name(), field.type_name()))?;
                        Layout::Message(target)
                    }
                    Type::Group => {
                        return Err(format!("{name}.{}: groups are not supported", field.name()));
                    }
                };
                fields.push((
                    field.label(),
                    FieldSchema {
                        number: u32::try_from(field.number()).map_err(|e| e.to_string())?,
                        name: field.name().to_owned(),
                        repeated: field.label() == Label::Repeated,
                        layout,
                    },
                ));
            }
            if fields.len() > 64 {
                return Err(format!("{name}: more than 64 fields"));
            }
            fields.sort_by_key(|(_, f)| f.number);
            let required = fields
                .iter()
                .enumerate()
                .filter(|(_, (label, _))| *label == Label::Required)
                .fold(0u64, |mask, (i, _)| mask | 1 << i);
            messages.push(MessageSchema {
                package: package.clone(),
                name: name.clone(),
                fields: fields.into_iter().map(|(_, f)| f).collect(),
                required,
            });
        }
        Ok(Schema { messages })
    }

    fn find(&self, package: &str, name: &str) -> Option<usize> {
        self.messages
            .iter()
            .position(|m| m.package == package && m.name == name)
    }

    /// Walks one occurrence of message `index` occupying all of `bytes`.
    fn check(&'static self, index: usize, mut bytes: &[u8], depth: u32) -> Result<()> {
        let message = &self.messages[index];
        let malformed = WireError::Protobuf { message: &message.name };
        if depth > RECURSION_LIMIT {
            return Err(malformed);
        }
        let mut seen = 0u64;
        while !bytes.is_empty() {
            let key = read_varint(&mut bytes).ok_or(malformed)?;
            let key = u32::try_from(key).map_err(|_| malformed)?;
            let number = key >> 3;
            // Fits: masked to three bits.
            let wire = (key & 7) as u8;
            if number == 0 {
                return Err(malformed);
            }
            let payload = match wire {
                WIRE_VARINT => {
                    read_varint(&mut bytes).ok_or(malformed)?;
                    &[][..]
                }
                WIRE_FIXED64 => take(&mut bytes, 8).ok_or(malformed)?,
                WIRE_FIXED32 => take(&mut bytes, 4).ok_or(malformed)?,
                WIRE_LEN => {
                    let len = read_varint(&mut bytes).ok_or(malformed)?;
                    let len = usize::try_from(len).map_err(|_| malformed)?;
                    take(&mut bytes, len).ok_or(malformed)?
                }
                // 3 and 4 are groups, which protobuf-c refuses; 6 and 7
                // are not wire types.
                _ => return Err(malformed),
            };
            let Some(slot) = message.fields.iter().position(|f| f.number == number) else {
                continue; // unknown field: skipped
            };
            let field = &message.fields[slot];
            let fits = match (field.layout, wire) {
                (Layout::Varint, WIRE_VARINT)
                | (Layout::Fixed64, WIRE_FIXED64)
                | (Layout::Fixed32, WIRE_FIXED32)
                | (Layout::Len, WIRE_LEN) => true,
                (Layout::Varint, WIRE_LEN) if field.repeated => packed_varints(payload),
                (Layout::Fixed64, WIRE_LEN) if field.repeated => payload.len() % 8 == 0,
                (Layout::Fixed32, WIRE_LEN) if field.repeated => payload.len() % 4 == 0,
                (Layout::Message(sub), WIRE_LEN) => {
                    self.check(sub, payload, depth + 1)?;
                    true
                }
                _ => false,
            };
            if !fits {
                return Err(malformed);
            }
            seen |= 1 << slot;
        }
        let missing = message.required & !seen;
        if missing != 0 {
            // trailing_zeros of a non-zero u64 is below 64 and every bit
            // set in `required` indexes a field.
            let slot = missing.trailing_zeros() as usize;
            return Err(WireError::MissingField {
                message: &message.name,
                field: &message.fields[slot].name,
            });
        }
        Ok(())
    }
}

/// Reads a base-128 varint of at most ten octets, the tenth holding only
/// bit 63 — the rule prost decodes by.
fn read_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, &octet) in bytes.iter().enumerate().take(10) {
        if i == 9 && octet > 1 {
            return None;
        }
        value |= u64::from(octet & 0x7f) << (7 * i);
        if octet & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            return Some(value);
        }
    }
    None
}

/// Splits off the first `len` octets.
fn take<'a>(bytes: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
    if len > bytes.len() {
        return None;
    }
    let (head, tail) = bytes.split_at(len);
    *bytes = tail;
    Some(head)
}

/// True when `payload` is a sequence of whole varints (a packed field).
fn packed_varints(mut payload: &[u8]) -> bool {
    while !payload.is_empty() {
        if read_varint(&mut payload).is_none() {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_schema_builds() {
        let schema = Schema::from_descriptor_set(FILE_DESCRIPTOR_SET).expect("schema");
        // 2 cep + 1 model + 10 ipcp_config + 3 enroll + 6 dht
        assert_eq!(schema.messages.len(), 22);
    }

    #[test]
    fn every_generated_message_has_a_schema() {
        fn has<M: prost::Name>() -> bool {
            schema().find(M::PACKAGE, M::NAME).is_some()
        }
        assert!(has::<cep::CepMsg>());
        assert!(has::<cep::FixedConcSyntaxMsg>());
        assert!(has::<model::LayerInfoMsg>());
        assert!(has::<ipcp_config::IpcpConfigMsg>());
        assert!(has::<ipcp_config::UniConfigMsg>());
        assert!(has::<ipcp_config::DtConfigMsg>());
        assert!(has::<ipcp_config::RoutingConfigMsg>());
        assert!(has::<ipcp_config::LsConfigMsg>());
        assert!(has::<ipcp_config::DirConfigMsg>());
        assert!(has::<ipcp_config::DirDhtConfigMsg>());
        assert!(has::<ipcp_config::EthConfigMsg>());
        assert!(has::<ipcp_config::Udp4ConfigMsg>());
        assert!(has::<ipcp_config::Udp6ConfigMsg>());
        assert!(has::<enroll::EnrollReqMsg>());
        assert!(has::<enroll::EnrollRespMsg>());
        assert!(has::<enroll::EnrollAckMsg>());
        assert!(has::<dht::DhtMsg>());
        assert!(has::<dht::DhtContactMsg>());
        assert!(has::<dht::DhtFindReqMsg>());
        assert!(has::<dht::DhtFindNodeRspMsg>());
        assert!(has::<dht::DhtFindValueRspMsg>());
        assert!(has::<dht::DhtStoreMsg>());
    }

    /// The labels of PROTOCOL.md §10, §11.2 and §13.1, and of the C
    /// prototype's files: everything required unless listed here.
    #[test]
    fn labels_match_the_c_prototype() {
        let schema = schema();
        let not_required: &[(&str, &[&str])] = &[
            ("fixed_conc_syntax_msg", &["fids", "lens"]),
            ("cep_msg", &["supp_version", "supp_syntax", "syntax_spec"]),
            ("enroll_resp_msg", &["conf"]),
            ("ipcp_config_msg", &["unicast", "udp4", "udp6", "eth"]),
            ("routing_config_msg", &["ls"]),
            ("dir_config_msg", &["dht"]),
            ("dht_msg", &["store", "find", "node", "val"]),
            ("dht_find_node_rsp_msg", &["contacts"]),
            ("dht_find_value_rsp_msg", &["values"]),
        ];
        for message in &schema.messages {
            let optional = not_required
                .iter()
                .find(|(name, _)| *name == message.name)
                .map_or(&[][..], |(_, fields)| *fields);
            for (i, field) in message.fields.iter().enumerate() {
                let required = message.required & (1 << i) != 0;
                assert_eq!(
                    required,
                    !optional.contains(&field.name.as_str()),
                    "{}.{}",
                    message.name,
                    field.name
                );
            }
        }
    }

    #[test]
    fn varints_follow_prost_limits() {
        let mut ten: &[u8] = &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(read_varint(&mut ten), Some(u64::MAX));
        assert!(ten.is_empty());
        let mut overflow: &[u8] = &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(read_varint(&mut overflow), None);
        let mut unterminated: &[u8] = &[0x80, 0x80];
        assert_eq!(read_varint(&mut unterminated), None);
        let mut empty: &[u8] = &[];
        assert_eq!(read_varint(&mut empty), None);
    }
}
