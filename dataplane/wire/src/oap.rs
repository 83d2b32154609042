//! OAP, the flow-allocation authentication and key-exchange header carried
//! as the piggybacked data of every FLOW_REQ / FLOW_REPLY (PROTOCOL.md §6.1).
//!
//! ```text
//! offset  size      field       integers BE
//!  0      16        id          random per allocation; echoed in the response
//! 16       8        timestamp   sender's real-time clock, ns since the epoch
//! 24       2        cipher_nid  0 = none
//! 26       2        kdf_nid     0 = none
//! 28       2        md_nid      signature digest; 0 = none / post-quantum
//! 30       2        crt_len
//! 32       2        kex         bit 15 F (raw key), bit 14 R (client
//!                               encapsulates), bits 13-0 kex_len
//! 34       2        data_len
//! 36       crt_len  certificate X.509 DER
//!  .       kex_len  kex data    public key or KEM ciphertext
//!  .       data_len data
//!  .       H        req_hash    responses only: digest of the request
//!  .       rest     signature   over everything before it; iff certificate
//! ```
//!
//! Nothing in the header says whether it is a request or a response, nor
//! how long `req_hash` is: that is the request's digest (its md_nid, or
//! SHA-384 when 0), known only to the two ends. Parsing therefore takes an
//! [`OapKind`]. Like the C decoder, parsing refuses unknown cipher and
//! digest NIDs and unsigned headers with octets after the last field; a
//! certificate without a signature parses (verifying it is not a wire
//! matter). An unauthenticated request is 36 octets, the response to it 84.

use core::fmt;

use crate::octets::{Hex, put_u16_be, put_u64_be, u16_be, u64_be};
use crate::view::{self, impl_view};
use crate::{Result, WireError};

/// Octets of the fixed part, and of an unauthenticated request.
pub const FIXED_LEN: usize = field::VARIABLE;
/// Octets of the id.
pub const ID_LEN: usize = 16;
/// Kex field bit F: the key is raw (hybrid KEM), not DER.
pub const KEX_RAW: u16 = 0x8000;
/// Kex field bit R: the client encapsulated (KEM only).
pub const KEX_CLIENT_ENCAP: u16 = 0x4000;
/// Kex field bits holding the kex length.
pub const KEX_LEN_MASK: u16 = 0x3FFF;
/// Octets of an unauthenticated, unencrypted response (SHA-384 req_hash).
pub const UNAUTHENTICATED_RESPONSE_LEN: usize = FIXED_LEN + 48;

/// OpenSSL NIDs of the ciphers and digests OAP names (§6.4).
pub mod nid {
    /// No algorithm.
    pub const UNDEF: u16 = 0;

    /// aes-128-ctr
    pub const AES_128_CTR: u16 = 904;
    /// aes-192-ctr
    pub const AES_192_CTR: u16 = 905;
    /// aes-256-ctr
    pub const AES_256_CTR: u16 = 906;
    /// aes-128-gcm
    pub const AES_128_GCM: u16 = 895;
    /// aes-192-gcm
    pub const AES_192_GCM: u16 = 898;
    /// aes-256-gcm, the default cipher
    pub const AES_256_GCM: u16 = 901;
    /// chacha20-poly1305
    pub const CHACHA20_POLY1305: u16 = 1018;
    /// Every cipher, weakest first.
    pub const CIPHERS: [u16; 7] = [
        AES_128_CTR,
        AES_192_CTR,
        AES_256_CTR,
        AES_128_GCM,
        AES_192_GCM,
        AES_256_GCM,
        CHACHA20_POLY1305,
    ];

    /// blake2s256
    pub const BLAKE2S256: u16 = 1057;
    /// sha256, the default KDF and signature digest
    pub const SHA256: u16 = 672;
    /// sha3-256
    pub const SHA3_256: u16 = 1096;
    /// sha384; also what req_hash uses when the request's md_nid is 0
    pub const SHA384: u16 = 673;
    /// sha3-384
    pub const SHA3_384: u16 = 1097;
    /// blake2b512
    pub const BLAKE2B512: u16 = 1056;
    /// sha512
    pub const SHA512: u16 = 674;
    /// sha3-512
    pub const SHA3_512: u16 = 1098;
    /// Every digest with its output length, weakest first.
    pub const DIGESTS: [(u16, usize); 8] = [
        (BLAKE2S256, 32),
        (SHA256, 32),
        (SHA3_256, 32),
        (SHA384, 48),
        (SHA3_384, 48),
        (BLAKE2B512, 64),
        (SHA512, 64),
        (SHA3_512, 64),
    ];
}

/// Output octets of the digest `md_nid` names; `None` for 0 and unknown NIDs.
pub fn md_digest_len(md_nid: u16) -> Option<usize> {
    nid::DIGESTS.iter().find(|(n, _)| *n == md_nid).map(|&(_, len)| len)
}

/// Octets of the req_hash in the response to a request whose md_nid is
/// `request_md_nid`: its digest, or SHA-384 (48) when it is 0.
pub fn req_hash_len(request_md_nid: u16) -> Option<usize> {
    match request_md_nid {
        nid::UNDEF => Some(48),
        md => md_digest_len(md),
    }
}

/// What a header is, which decides whether a req_hash follows the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OapKind {
    /// Sent with FLOW_REQ.
    Request,
    /// Sent with FLOW_REPLY; `req_hash_len` from [`req_hash_len`].
    Response {
        /// Octets of the request digest.
        req_hash_len: usize,
    },
}

impl OapKind {
    /// The kind of a response to a request whose md_nid is
    /// `request_md_nid`; `None` when that NID is unknown.
    pub fn response_to(request_md_nid: u16) -> Option<OapKind> {
        req_hash_len(request_md_nid).map(|req_hash_len| OapKind::Response { req_hash_len })
    }
}

mod field {
    use core::ops::Range;

    pub const ID: Range<usize> = 0..16;
    pub const TIMESTAMP: Range<usize> = 16..24;
    pub const CIPHER_NID: Range<usize> = 24..26;
    pub const KDF_NID: Range<usize> = 26..28;
    pub const MD_NID: Range<usize> = 28..30;
    pub const CRT_LEN: Range<usize> = 30..32;
    pub const KEX: Range<usize> = 32..34;
    pub const DATA_LEN: Range<usize> = 34..36;
    pub const VARIABLE: usize = 36;
}

/// A read/write view of an OAP header.
///
/// Unchecked, only the fixed-field accessors may panic: the variable-part
/// accessors (certificate, kex data, data, rest) never do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OapHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl_view!(
    OapHeader,
    "Wraps a buffer holding the fixed part and the certificate, kex data and data its length fields announce."
);

impl<T: AsRef<[u8]>> OapHeader<T> {
    /// Checks the fixed part and the three length-delimited fields.
    pub fn check_len(&self) -> Result<()> {
        let have = self.buffer.as_ref().len();
        view::check_min(have, FIXED_LEN)?;
        let announced = self.rest_offset() - FIXED_LEN;
        if announced > have - FIXED_LEN {
            return Err(WireError::BadLength {
                field: announced,
                have: have - FIXED_LEN,
            });
        }
        Ok(())
    }

    /// Random allocation id.
    pub fn id(&self) -> [u8; ID_LEN] {
        let mut id = [0; ID_LEN];
        id.copy_from_slice(&self.buffer.as_ref()[field::ID]);
        id
    }

    /// Sender's clock, ns since the UNIX epoch.
    pub fn timestamp(&self) -> u64 {
        u64_be(&self.buffer.as_ref()[field::TIMESTAMP])
    }

    /// Symmetric cipher, 0 = none.
    pub fn cipher_nid(&self) -> u16 {
        u16_be(&self.buffer.as_ref()[field::CIPHER_NID])
    }

    /// HKDF digest, 0 = none.
    pub fn kdf_nid(&self) -> u16 {
        u16_be(&self.buffer.as_ref()[field::KDF_NID])
    }

    /// Signature digest, 0 = none or post-quantum signature.
    pub fn md_nid(&self) -> u16 {
        u16_be(&self.buffer.as_ref()[field::MD_NID])
    }

    /// Octets of certificate.
    pub fn crt_len(&self) -> u16 {
        u16_be(&self.buffer.as_ref()[field::CRT_LEN])
    }

    /// The kex field as on the wire: flags and length.
    pub fn kex_field(&self) -> u16 {
        u16_be(&self.buffer.as_ref()[field::KEX])
    }

    /// Bit F: the kex data is a raw (hybrid KEM) key, not DER.
    pub fn kex_raw(&self) -> bool {
        self.kex_field() & KEX_RAW != 0
    }

    /// Bit R: the client encapsulated (KEM only).
    pub fn kex_client_encap(&self) -> bool {
        self.kex_field() & KEX_CLIENT_ENCAP != 0
    }

    /// Octets of kex data.
    pub fn kex_len(&self) -> u16 {
        self.kex_field() & KEX_LEN_MASK
    }

    /// Octets of data.
    pub fn data_len(&self) -> u16 {
        u16_be(&self.buffer.as_ref()[field::DATA_LEN])
    }

    /// Where the certificate, kex data, data and the rest start.
    fn offsets(&self) -> [usize; 4] {
        let crt = FIXED_LEN;
        let kex = crt + usize::from(self.crt_len());
        let data = kex + usize::from(self.kex_len());
        let rest = data + usize::from(self.data_len());
        [crt, kex, data, rest]
    }

    fn rest_offset(&self) -> usize {
        self.offsets()[3]
    }

    /// `start..end` of the buffer, or nothing when it is not all there.
    fn part(&self, start: usize, end: usize) -> &[u8] {
        self.buffer.as_ref().get(start..end).unwrap_or(&[])
    }

    /// The certificate.
    pub fn certificate(&self) -> &[u8] {
        let [crt, kex, ..] = self.offsets();
        self.part(crt, kex)
    }

    /// The kex data.
    pub fn kex_data(&self) -> &[u8] {
        let [_, kex, data, _] = self.offsets();
        self.part(kex, data)
    }

    /// The data.
    pub fn data(&self) -> &[u8] {
        let [.., data, rest] = self.offsets();
        self.part(data, rest)
    }

    /// Everything after the data: req_hash (responses) and signature.
    pub fn rest(&self) -> &[u8] {
        self.buffer.as_ref().get(self.rest_offset()..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> OapHeader<T> {
    /// Sets the id.
    pub fn set_id(&mut self, id: &[u8; ID_LEN]) {
        self.buffer.as_mut()[field::ID].copy_from_slice(id);
    }

    /// Sets the timestamp.
    pub fn set_timestamp(&mut self, ns: u64) {
        put_u64_be(&mut self.buffer.as_mut()[field::TIMESTAMP], ns);
    }

    /// Sets the cipher NID.
    pub fn set_cipher_nid(&mut self, nid: u16) {
        put_u16_be(&mut self.buffer.as_mut()[field::CIPHER_NID], nid);
    }

    /// Sets the KDF NID.
    pub fn set_kdf_nid(&mut self, nid: u16) {
        put_u16_be(&mut self.buffer.as_mut()[field::KDF_NID], nid);
    }

    /// Sets the signature digest NID.
    pub fn set_md_nid(&mut self, nid: u16) {
        put_u16_be(&mut self.buffer.as_mut()[field::MD_NID], nid);
    }

    /// Sets the certificate length.
    pub fn set_crt_len(&mut self, len: u16) {
        put_u16_be(&mut self.buffer.as_mut()[field::CRT_LEN], len);
    }

    /// Sets the kex field (flags and length) as it goes on the wire.
    pub fn set_kex_field(&mut self, value: u16) {
        put_u16_be(&mut self.buffer.as_mut()[field::KEX], value);
    }

    /// Sets the data length.
    pub fn set_data_len(&mut self, len: u16) {
        put_u16_be(&mut self.buffer.as_mut()[field::DATA_LEN], len);
    }
}

fn check_nids(cipher_nid: u16, kdf_nid: u16, md_nid: u16) -> Result<()> {
    if cipher_nid != nid::UNDEF && !nid::CIPHERS.contains(&cipher_nid) {
        return Err(WireError::UnknownCode {
            what: "OAP cipher NID",
            value: cipher_nid.into(),
        });
    }
    for (what, digest) in [("OAP KDF NID", kdf_nid), ("OAP digest NID", md_nid)] {
        if digest != nid::UNDEF && md_digest_len(digest).is_none() {
            return Err(WireError::UnknownCode {
                what,
                value: digest.into(),
            });
        }
    }
    Ok(())
}

/// An OAP header; the variable parts borrow the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OapRepr<'a> {
    /// Random allocation id; a response repeats the request's.
    pub id: [u8; ID_LEN],
    /// Sender's clock, ns since the UNIX epoch.
    pub timestamp: u64,
    /// Symmetric cipher ([`nid::CIPHERS`]), 0 = none.
    pub cipher_nid: u16,
    /// HKDF digest, 0 = none.
    pub kdf_nid: u16,
    /// Signature digest, 0 = none or post-quantum signature.
    pub md_nid: u16,
    /// Kex bit F: raw (hybrid KEM) key.
    pub kex_raw: bool,
    /// Kex bit R: client encapsulated.
    pub kex_client_encap: bool,
    /// X.509 DER certificate, empty when anonymous.
    pub certificate: &'a [u8],
    /// Public key or KEM ciphertext, empty without key exchange.
    pub kex: &'a [u8],
    /// Piggybacked application data (always empty in the C prototype).
    pub data: &'a [u8],
    /// Digest of the request: `Some` exactly for responses.
    pub req_hash: Option<&'a [u8]>,
    /// Signature over every preceding octet; empty without certificate.
    pub signature: &'a [u8],
}

impl<'a> OapRepr<'a> {
    /// Reads a checked header of the given kind.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(header: &OapHeader<&'a T>, kind: OapKind) -> Result<OapRepr<'a>> {
        header.check_len()?;
        check_nids(header.cipher_nid(), header.kdf_nid(), header.md_nid())?;
        let buffer: &'a [u8] = header.buffer.as_ref();
        let [crt, kex, data, rest] = header.offsets();
        // In range: check_len covered every offset up to `rest`.
        let mut tail = &buffer[rest..];
        let req_hash = match kind {
            OapKind::Request => None,
            OapKind::Response { req_hash_len } => {
                let Some((hash, after)) = tail.split_at_checked(req_hash_len) else {
                    return Err(WireError::Truncated {
                        need: rest + req_hash_len,
                        have: buffer.len(),
                    });
                };
                tail = after;
                Some(hash)
            }
        };
        if crt == kex && !tail.is_empty() {
            return Err(WireError::Invalid {
                what: "octets after an unsigned OAP header",
            });
        }
        Ok(OapRepr {
            id: header.id(),
            timestamp: header.timestamp(),
            cipher_nid: header.cipher_nid(),
            kdf_nid: header.kdf_nid(),
            md_nid: header.md_nid(),
            kex_raw: header.kex_raw(),
            kex_client_encap: header.kex_client_encap(),
            certificate: &buffer[crt..kex],
            kex: &buffer[kex..data],
            data: &buffer[data..rest],
            req_hash,
            signature: tail,
        })
    }

    /// The kind of header this is.
    pub fn kind(&self) -> OapKind {
        match self.req_hash {
            None => OapKind::Request,
            Some(hash) => OapKind::Response {
                req_hash_len: hash.len(),
            },
        }
    }

    /// Octets the signature covers: everything before it.
    pub fn signed_len(&self) -> usize {
        FIXED_LEN + self.certificate.len() + self.kex.len() + self.data.len() + self.req_hash.map_or(0, <[u8]>::len)
    }

    /// Octets [`OapRepr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        self.signed_len() + self.signature.len()
    }

    /// Writes the header into the first [`OapRepr::buffer_len`] octets;
    /// fails when a part is too long for its length field, a NID is
    /// unknown, a signature comes without certificate, or the buffer is short.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, header: &mut OapHeader<T>) -> Result<()> {
        check_nids(self.cipher_nid, self.kdf_nid, self.md_nid)?;
        let too_long = |len: usize, max: u16| WireError::TooLong { len, max: max.into() };
        let crt_len = u16::try_from(self.certificate.len()).map_err(|_| too_long(self.certificate.len(), u16::MAX))?;
        let kex_len = u16::try_from(self.kex.len())
            .ok()
            .filter(|len| *len <= KEX_LEN_MASK)
            .ok_or(too_long(self.kex.len(), KEX_LEN_MASK))?;
        let data_len = u16::try_from(self.data.len()).map_err(|_| too_long(self.data.len(), u16::MAX))?;
        if self.certificate.is_empty() && !self.signature.is_empty() {
            return Err(WireError::Invalid {
                what: "signature without certificate",
            });
        }
        let len = self.buffer_len();
        let have = header.buffer.as_ref().len();
        if have < len {
            return Err(WireError::Truncated { need: len, have });
        }

        header.set_id(&self.id);
        header.set_timestamp(self.timestamp);
        header.set_cipher_nid(self.cipher_nid);
        header.set_kdf_nid(self.kdf_nid);
        header.set_md_nid(self.md_nid);
        header.set_crt_len(crt_len);
        let flags = if self.kex_raw { KEX_RAW } else { 0 } | if self.kex_client_encap { KEX_CLIENT_ENCAP } else { 0 };
        header.set_kex_field(flags | kex_len);
        header.set_data_len(data_len);

        let mut at = FIXED_LEN;
        let buffer = header.buffer.as_mut();
        for part in [
            self.certificate,
            self.kex,
            self.data,
            self.req_hash.unwrap_or(&[]),
            self.signature,
        ] {
            buffer[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        Ok(())
    }
}

impl fmt::Display for OapRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.req_hash.is_some() { "rsp" } else { "req" };
        write!(
            f,
            "oap {kind} id {} ts {}.{:09} cipher {} kdf {} md {} crt {} kex{}{} {} data {}",
            Hex(&self.id),
            self.timestamp / 1_000_000_000,
            self.timestamp % 1_000_000_000,
            self.cipher_nid,
            self.kdf_nid,
            self.md_nid,
            Hex(self.certificate),
            if self.kex_raw { " raw" } else { "" },
            if self.kex_client_encap { " client-encap" } else { "" },
            Hex(self.kex),
            Hex(self.data),
        )?;
        if let Some(hash) = self.req_hash {
            write!(f, " req_hash {}", Hex(hash))?;
        }
        write!(f, " sig {}", Hex(self.signature))
    }
}

fn fuzz(name: &str, data: &[u8], kind: OapKind) {
    crate::decoders::round_trip(
        name,
        data,
        |d| OapRepr::parse(&OapHeader::new_checked(d)?, kind),
        OapRepr::buffer_len,
        |repr, out| repr.emit(&mut OapHeader::new_unchecked(out)),
    );
}

/// Decoder entry: a request header round-trips.
pub(crate) fn fuzz_request(data: &[u8]) {
    fuzz("oap_req", data, OapKind::Request);
}

/// Decoder entry: a response to a request with md_nid 0 (SHA-384
/// req_hash) round-trips.
pub(crate) fn fuzz_response(data: &[u8]) {
    fuzz("oap_rsp", data, OapKind::Response { req_hash_len: 48 });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{oap_request, oap_response};
    use proptest::prelude::*;

    #[test]
    fn unauthenticated_request_is_36_octets_and_round_trips() {
        let bytes = oap_request();
        assert_eq!(bytes.len(), FIXED_LEN);
        let header = OapHeader::new_checked(&bytes[..]).expect("valid");
        let repr = OapRepr::parse(&header, OapKind::Request).expect("valid request");
        assert_eq!(
            repr,
            OapRepr {
                id: core::array::from_fn(|i| i as u8),
                timestamp: 1_700_000_000_000_000_000,
                cipher_nid: 0,
                kdf_nid: 0,
                md_nid: 0,
                kex_raw: false,
                kex_client_encap: false,
                certificate: &[],
                kex: &[],
                data: &[],
                req_hash: None,
                signature: &[],
            }
        );
        let mut out = [0u8; FIXED_LEN];
        repr.emit(&mut OapHeader::new_unchecked(&mut out[..])).expect("fits");
        assert_eq!(out[..], bytes[..]);
    }

    #[test]
    fn unauthenticated_response_is_84_octets_with_a_sha384_req_hash() {
        let bytes = oap_response();
        assert_eq!(bytes.len(), UNAUTHENTICATED_RESPONSE_LEN);
        let kind = OapKind::response_to(0).expect("md_nid 0 is SHA-384");
        assert_eq!(kind, OapKind::Response { req_hash_len: 48 });
        let header = OapHeader::new_checked(&bytes[..]).expect("valid");
        let repr = OapRepr::parse(&header, kind).expect("valid response");
        assert_eq!(repr.req_hash, Some(&bytes[36..]));
        assert_eq!(repr.signature, &[] as &[u8]);
        assert_eq!(repr.kind(), kind);
        let mut out = [0u8; 84];
        repr.emit(&mut OapHeader::new_unchecked(&mut out[..])).expect("fits");
        assert_eq!(out[..], bytes[..]);
    }

    #[test]
    fn response_parsed_as_request_has_trailing_octets_and_is_refused() {
        let bytes = oap_response();
        let header = OapHeader::new_checked(&bytes[..]).expect("valid");
        assert_eq!(
            OapRepr::parse(&header, OapKind::Request),
            Err(WireError::Invalid {
                what: "octets after an unsigned OAP header"
            })
        );
        let short = OapHeader::new_checked(&bytes[..83]).expect("fixed part ok");
        assert_eq!(
            OapRepr::parse(&short, OapKind::Response { req_hash_len: 48 }),
            Err(WireError::Truncated { need: 84, have: 83 })
        );
    }

    #[test]
    fn signed_request_splits_certificate_kex_data_and_signature() {
        let mut bytes = oap_request();
        bytes[24..26].copy_from_slice(&nid::AES_256_GCM.to_be_bytes());
        bytes[26..28].copy_from_slice(&nid::SHA256.to_be_bytes());
        bytes[28..30].copy_from_slice(&nid::SHA256.to_be_bytes());
        bytes[30..32].copy_from_slice(&3u16.to_be_bytes()); // crt_len
        bytes[32..34].copy_from_slice(&(KEX_RAW | KEX_CLIENT_ENCAP | 2).to_be_bytes());
        bytes[34..36].copy_from_slice(&1u16.to_be_bytes()); // data_len
        bytes.extend([0xc1, 0xc2, 0xc3, 0x4b, 0x4b, 0xda, 0x51, 0x52, 0x53, 0x54]);
        let header = OapHeader::new_checked(&bytes[..]).expect("valid");
        assert_eq!((header.crt_len(), header.kex_len(), header.data_len()), (3, 2, 1));
        let repr = OapRepr::parse(&header, OapKind::Request).expect("valid signed request");
        assert_eq!(repr.certificate, &[0xc1, 0xc2, 0xc3]);
        assert_eq!(repr.kex, &[0x4b, 0x4b]);
        assert!(repr.kex_raw && repr.kex_client_encap);
        assert_eq!(repr.data, &[0xda]);
        assert_eq!(repr.signature, &[0x51, 0x52, 0x53, 0x54]);
        assert_eq!(repr.signed_len(), 42);
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut OapHeader::new_unchecked(&mut out[..])).expect("fits");
        assert_eq!(out, bytes);
    }

    #[test]
    fn certificate_without_signature_parses_like_the_c_decoder() {
        let mut bytes = oap_request();
        bytes[30..32].copy_from_slice(&1u16.to_be_bytes());
        bytes.push(0xc1);
        let header = OapHeader::new_checked(&bytes[..]).expect("valid");
        let repr = OapRepr::parse(&header, OapKind::Request).expect("parses");
        assert_eq!((repr.certificate, repr.signature), (&[0xc1][..], &[][..]));
    }

    #[test]
    fn announced_parts_longer_than_the_header_are_refused() {
        let mut bytes = oap_request();
        bytes[34..36].copy_from_slice(&5u16.to_be_bytes());
        bytes.extend([0; 4]);
        assert_eq!(
            OapHeader::new_checked(&bytes[..]),
            Err(WireError::BadLength { field: 5, have: 4 })
        );
        assert_eq!(
            OapHeader::new_checked(&bytes[..35]),
            Err(WireError::Truncated { need: 36, have: 35 })
        );
        // The variable-part accessors stay in bounds even unchecked.
        let unchecked = OapHeader::new_unchecked(&bytes[..]);
        assert_eq!((unchecked.data(), unchecked.rest()), (&[][..], &[][..]));
    }

    #[test]
    fn unknown_nids_are_refused_and_zero_is_none() {
        for (at, what) in [(24, "OAP cipher NID"), (26, "OAP KDF NID"), (28, "OAP digest NID")] {
            let mut bytes = oap_request();
            bytes[at..at + 2].copy_from_slice(&999u16.to_be_bytes());
            let header = OapHeader::new_checked(&bytes[..]).expect("length ok");
            assert_eq!(
                OapRepr::parse(&header, OapKind::Request),
                Err(WireError::UnknownCode { what, value: 999 })
            );
        }
    }

    #[test]
    fn digest_lengths_follow_6_4_and_md_nid_zero_means_sha384() {
        assert_eq!(req_hash_len(0), Some(48));
        assert_eq!(md_digest_len(0), None);
        for (nid, len) in [
            (1057, 32),
            (672, 32),
            (1096, 32),
            (673, 48),
            (1097, 48),
            (1056, 64),
            (674, 64),
            (1098, 64),
        ] {
            assert_eq!((md_digest_len(nid), req_hash_len(nid)), (Some(len), Some(len)));
        }
        assert_eq!(req_hash_len(901), None);
        assert_eq!(OapKind::response_to(901), None);
    }

    #[test]
    fn emit_refuses_what_parse_would_refuse() {
        let repr = OapRepr {
            id: [0; ID_LEN],
            timestamp: 0,
            cipher_nid: 0,
            kdf_nid: 0,
            md_nid: 0,
            kex_raw: false,
            kex_client_encap: false,
            certificate: &[],
            kex: &[],
            data: &[],
            req_hash: None,
            signature: &[1],
        };
        let mut out = [0u8; 64];
        let mut view = OapHeader::new_unchecked(&mut out[..]);
        assert!(matches!(repr.emit(&mut view), Err(WireError::Invalid { .. })));
        let big = vec![0u8; 0x4000];
        let kex_too_long = OapRepr {
            kex: &big,
            signature: &[],
            ..repr
        };
        assert_eq!(
            kex_too_long.emit(&mut view),
            Err(WireError::TooLong {
                len: 0x4000,
                max: 0x3fff
            })
        );
        let bad_cipher = OapRepr {
            cipher_nid: 1,
            signature: &[],
            ..repr
        };
        assert!(matches!(bad_cipher.emit(&mut view), Err(WireError::UnknownCode { .. })));
    }

    #[test]
    fn display_is_one_line() {
        let bytes = oap_response();
        let header = OapHeader::new_checked(&bytes[..]).expect("valid");
        let repr = OapRepr::parse(&header, OapKind::Response { req_hash_len: 48 }).expect("valid");
        let text = repr.to_string();
        assert!(!text.contains('\n'));
        assert!(
            text.starts_with("oap rsp id 0001020304050607…(16 octets) ts 1700000000.065"),
            "{text}"
        );
    }

    fn arb_nid(choices: Vec<u16>) -> impl Strategy<Value = u16> {
        prop_oneof![Just(0u16), proptest::sample::select(choices)]
    }

    type Parts = (
        [u8; ID_LEN],
        u64,
        (u16, u16, u16),
        (bool, bool),
        (Vec<u8>, Vec<u8>, Vec<u8>),
        Option<Vec<u8>>,
        Vec<u8>,
    );

    fn arb_parts() -> impl Strategy<Value = Parts> {
        use proptest::collection::vec;
        let digests: Vec<u16> = nid::DIGESTS.iter().map(|&(n, _)| n).collect();
        (
            any::<[u8; ID_LEN]>(),
            any::<u64>(),
            (
                arb_nid(nid::CIPHERS.to_vec()),
                arb_nid(digests.clone()),
                arb_nid(digests),
            ),
            any::<(bool, bool)>(),
            (vec(any::<u8>(), 0..40), vec(any::<u8>(), 0..40), vec(any::<u8>(), 0..8)),
            proptest::option::of(vec(any::<u8>(), 0..65)),
            vec(any::<u8>(), 0..40),
        )
            .prop_map(|mut parts| {
                if parts.4.0.is_empty() {
                    parts.6.clear();
                }
                parts
            })
    }

    proptest! {
        #[test]
        fn repr_emit_then_parse_is_identity(parts in arb_parts()) {
            let (id, timestamp, (cipher_nid, kdf_nid, md_nid), (kex_raw, kex_client_encap),
                 (certificate, kex, data), req_hash, signature) = parts;
            let repr = OapRepr {
                id, timestamp, cipher_nid, kdf_nid, md_nid, kex_raw, kex_client_encap,
                certificate: &certificate, kex: &kex, data: &data,
                req_hash: req_hash.as_deref(), signature: &signature,
            };
            let mut out = vec![0u8; repr.buffer_len()];
            repr.emit(&mut OapHeader::new_unchecked(&mut out[..])).expect("valid repr");
            let header = OapHeader::new_checked(&out[..]).expect("emitted header");
            prop_assert_eq!(OapRepr::parse(&header, repr.kind()), Ok(repr));
        }

        #[test]
        fn parse_then_emit_is_identity(
            fixed in proptest::collection::vec(any::<u8>(), FIXED_LEN),
            lens in (0u16..20, 0u16..20, 0u16..20),
            kex_flags in 0u16..4,
            tail in proptest::collection::vec(any::<u8>(), 0..150),
            nids in (0u16..3, 0u16..3, 0u16..3),
        ) {
            let mut bytes = fixed;
            let pick = |i: u16, known: u16| [0, known, i + 1][usize::from(i)];
            bytes[24..26].copy_from_slice(&pick(nids.0, nid::AES_128_GCM).to_be_bytes());
            bytes[26..28].copy_from_slice(&pick(nids.1, nid::SHA3_256).to_be_bytes());
            bytes[28..30].copy_from_slice(&pick(nids.2, nid::SHA512).to_be_bytes());
            bytes[30..32].copy_from_slice(&lens.0.to_be_bytes());
            bytes[32..34].copy_from_slice(&((kex_flags << 14) | lens.1).to_be_bytes());
            bytes[34..36].copy_from_slice(&lens.2.to_be_bytes());
            bytes.extend(&tail);
            fuzz_request(&bytes);
            fuzz_response(&bytes);
            let exact = FIXED_LEN + usize::from(lens.0 + lens.1 + lens.2);
            if bytes.len() >= exact {
                fuzz_request(&bytes[..exact]);
                fuzz_response(&bytes[..(exact + 48).min(bytes.len())]);
            }
        }
    }
}
