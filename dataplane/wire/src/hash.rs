//! Name hashing (PROTOCOL.md §1.1).
//!
//! A layer never sees an application name, only its digest under the
//! layer's directory hash algorithm: the key of the DHT, the hash in shim
//! management messages and flow-allocation requests.
//!
//! | [`HashAlgo`] | config/protobuf value | `irm` keyword | digest octets | used by |
//! |---|---|---|---|---|
//! | `Sha3_224` | 0 | `SHA3_224` | 28 | unicast, eth-dix, eth-llc, local (selectable) |
//! | `Sha3_256` | 1 | `SHA3_256` | 32 | default; forced for broadcast |
//! | `Sha3_384` | 2 | `SHA3_384` | 48 | selectable |
//! | `Sha3_512` | 3 | `SHA3_512` | 64 | selectable |
//! | — | 4 | — | — | CRC-32 in the C enum; never a name hash |
//! | `Md5` | 5 | `MD5` | 16 | forced for udp4/udp6 |
//!
//! Value 4 is the C prototype's `HASH_CRC32`, which only serves the
//! packet CRC of FRCT: no layer hashes names with it, so it is not a
//! [`HashAlgo`] and `HashAlgo::try_from(4)` is refused like any other
//! unknown value. A configuration carrying it is invalid.
//!
//! [`NameHash`] holds a digest inline (at most 64 octets, no heap), so
//! hashes can be keys of hot-path tables and be copied freely.

use core::fmt;
use core::str::FromStr;

use md5::Md5;
use sha3::{Digest, Sha3_224, Sha3_256, Sha3_384, Sha3_512};

use crate::WireError;

/// A directory hash algorithm, with its C enum value as discriminant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum HashAlgo {
    /// FIPS-202 SHA3-224.
    Sha3_224 = 0,
    /// FIPS-202 SHA3-256, the default of every layer type that hashes
    /// names with SHA3.
    #[default]
    Sha3_256 = 1,
    /// FIPS-202 SHA3-384.
    Sha3_384 = 2,
    /// FIPS-202 SHA3-512.
    Sha3_512 = 3,
    /// MD5; the UDP shims use it whatever was configured, because the
    /// hex digest must fit a DNS label.
    Md5 = 5,
}

impl HashAlgo {
    /// Every algorithm, in enum-value order.
    pub const ALL: [HashAlgo; 5] = [
        HashAlgo::Sha3_224,
        HashAlgo::Sha3_256,
        HashAlgo::Sha3_384,
        HashAlgo::Sha3_512,
        HashAlgo::Md5,
    ];

    /// Digest length in octets: the length of every hash, DHT key and
    /// DHT node id in a layer using this algorithm.
    pub const fn digest_len(self) -> usize {
        match self {
            HashAlgo::Sha3_224 => 28,
            HashAlgo::Sha3_256 => 32,
            HashAlgo::Sha3_384 => 48,
            HashAlgo::Sha3_512 => 64,
            HashAlgo::Md5 => 16,
        }
    }

    /// The value carried in `layer_info_msg.dir_hash_algo` and in
    /// configuration files.
    pub const fn value(self) -> u32 {
        self as u32
    }

    /// The keyword `irm ipcp bootstrap … hash` and the TOML `hash` key
    /// accept (case-sensitive, as the C tools compare with `strcmp`).
    pub const fn keyword(self) -> &'static str {
        match self {
            HashAlgo::Sha3_224 => "SHA3_224",
            HashAlgo::Sha3_256 => "SHA3_256",
            HashAlgo::Sha3_384 => "SHA3_384",
            HashAlgo::Sha3_512 => "SHA3_512",
            HashAlgo::Md5 => "MD5",
        }
    }
}

impl TryFrom<u32> for HashAlgo {
    type Error = WireError;

    fn try_from(value: u32) -> Result<Self, WireError> {
        match value {
            0 => Ok(HashAlgo::Sha3_224),
            1 => Ok(HashAlgo::Sha3_256),
            2 => Ok(HashAlgo::Sha3_384),
            3 => Ok(HashAlgo::Sha3_512),
            5 => Ok(HashAlgo::Md5),
            _ => Err(WireError::UnknownCode {
                what: "hash algorithm",
                value,
            }),
        }
    }
}

impl From<HashAlgo> for u32 {
    fn from(algo: HashAlgo) -> u32 {
        algo.value()
    }
}

/// A string that is not one of the `irm` hash keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown hash algorithm (expected SHA3_224, SHA3_256, SHA3_384, SHA3_512 or MD5)")]
pub struct UnknownHashAlgo;

impl FromStr for HashAlgo {
    type Err = UnknownHashAlgo;

    fn from_str(s: &str) -> Result<Self, UnknownHashAlgo> {
        HashAlgo::ALL
            .into_iter()
            .find(|algo| algo.keyword() == s)
            .ok_or(UnknownHashAlgo)
    }
}

impl fmt::Display for HashAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// The longest digest of any [`HashAlgo`] (SHA3-512).
pub const MAX_DIGEST_LEN: usize = 64;

/// A name hash: 1 to [`MAX_DIGEST_LEN`] octets held inline.
///
/// Equality, ordering and hashing look at the digest octets only; the
/// algorithm is not stored, because on the wire a hash is just octets
/// whose length the layer's configuration fixes.
#[derive(Clone, Copy)]
pub struct NameHash {
    len: u8,
    octets: [u8; MAX_DIGEST_LEN],
}

impl NameHash {
    /// A hash from octets read off the wire; `None` if `octets` is empty
    /// or longer than [`MAX_DIGEST_LEN`].
    pub fn from_bytes(octets: &[u8]) -> Option<NameHash> {
        if octets.is_empty() || octets.len() > MAX_DIGEST_LEN {
            return None;
        }
        let mut hash = NameHash {
            len: 0,
            octets: [0; MAX_DIGEST_LEN],
        };
        hash.octets[..octets.len()].copy_from_slice(octets);
        // Cannot truncate: the length was checked against 64 above.
        hash.len = octets.len() as u8;
        Some(hash)
    }

    /// The digest octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.octets[..usize::from(self.len)]
    }

    /// Number of digest octets.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always false: a hash has at least one octet. Present because
    /// clippy expects it next to `len`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The hash of `name` (its octets, no terminator) under `algo`.
pub fn hash_name(algo: HashAlgo, name: impl AsRef<[u8]>) -> NameHash {
    let name = name.as_ref();
    let mut hash = NameHash {
        len: 0,
        octets: [0; MAX_DIGEST_LEN],
    };
    let len = algo.digest_len();
    let out = &mut hash.octets[..len];
    match algo {
        HashAlgo::Sha3_224 => out.copy_from_slice(&Sha3_224::digest(name)),
        HashAlgo::Sha3_256 => out.copy_from_slice(&Sha3_256::digest(name)),
        HashAlgo::Sha3_384 => out.copy_from_slice(&Sha3_384::digest(name)),
        HashAlgo::Sha3_512 => out.copy_from_slice(&Sha3_512::digest(name)),
        HashAlgo::Md5 => out.copy_from_slice(&Md5::digest(name)),
    }
    // digest_len() is at most 64.
    hash.len = len as u8;
    hash
}

impl AsRef<[u8]> for NameHash {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for NameHash {
    fn eq(&self, other: &NameHash) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for NameHash {}

impl PartialOrd for NameHash {
    fn partial_cmp(&self, other: &NameHash) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for NameHash {
    fn cmp(&self, other: &NameHash) -> core::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl core::hash::Hash for NameHash {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

/// Lower-case hex, two characters per octet, no separators — the form
/// the C prototype logs and the UDP shim resolves as a host name.
impl fmt::Display for NameHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for octet in self.as_bytes() {
            write!(f, "{octet:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for NameHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NameHash({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha3_256_of_oping_matches_protocol_vector() {
        let hash = hash_name(HashAlgo::Sha3_256, "oping");
        assert_eq!(
            hash.to_string(),
            "42dee3b0415b4f690fd91cbd99876f1e9bd8d9745ef7fa32b142773af0349d54"
        );
    }

    #[test]
    fn sha3_256_of_server_matches_protocol_vector() {
        let hash = hash_name(HashAlgo::Sha3_256, b"server");
        assert_eq!(
            hash.to_string(),
            "d19778d2e34a1e3ddfc04b48c94152cced725d741756b131543616d20f250f31"
        );
    }

    #[test]
    fn md5_of_oping_matches_protocol_vector() {
        let hash = hash_name(HashAlgo::Md5, "oping");
        assert_eq!(hash.to_string(), "7862c6fec5ecaef4aa2e3934725e23b3");
    }

    #[test]
    fn digest_lengths_follow_the_algorithm() {
        for (algo, len) in [
            (HashAlgo::Sha3_224, 28),
            (HashAlgo::Sha3_256, 32),
            (HashAlgo::Sha3_384, 48),
            (HashAlgo::Sha3_512, 64),
            (HashAlgo::Md5, 16),
        ] {
            assert_eq!(algo.digest_len(), len);
            let hash = hash_name(algo, "oping");
            assert_eq!(hash.len(), len);
            assert_eq!(hash.as_bytes().len(), len);
            assert_eq!(hash.to_string().len(), 2 * len);
        }
    }

    #[test]
    fn enum_values_are_the_c_config_values() {
        for algo in HashAlgo::ALL {
            assert_eq!(HashAlgo::try_from(algo.value()), Ok(algo));
        }
        assert_eq!(HashAlgo::Sha3_224.value(), 0);
        assert_eq!(HashAlgo::Sha3_512.value(), 3);
        assert_eq!(HashAlgo::Md5.value(), 5);
        assert_eq!(HashAlgo::default(), HashAlgo::Sha3_256);
    }

    #[test]
    fn crc32_and_unknown_values_are_not_name_hashes() {
        for value in [4, 6, u32::MAX] {
            assert_eq!(
                HashAlgo::try_from(value),
                Err(WireError::UnknownCode {
                    what: "hash algorithm",
                    value
                })
            );
        }
    }

    #[test]
    fn irm_keywords_parse_and_print() {
        for algo in HashAlgo::ALL {
            assert_eq!(algo.to_string().parse::<HashAlgo>(), Ok(algo));
        }
        assert_eq!("SHA3_384".parse(), Ok(HashAlgo::Sha3_384));
        // The C tools compare with strcmp: no case folding, no dashes.
        assert_eq!("sha3_256".parse::<HashAlgo>(), Err(UnknownHashAlgo));
        assert_eq!("SHA3-256".parse::<HashAlgo>(), Err(UnknownHashAlgo));
        assert_eq!("CRC32".parse::<HashAlgo>(), Err(UnknownHashAlgo));
    }

    #[test]
    fn a_hash_read_from_the_wire_equals_the_computed_one() {
        let computed = hash_name(HashAlgo::Sha3_224, "server");
        let read = NameHash::from_bytes(computed.as_bytes());
        assert_eq!(read, Some(computed));
        assert_eq!(NameHash::from_bytes(&[]), None);
        assert_eq!(NameHash::from_bytes(&[0; 65]), None);
        assert!(NameHash::from_bytes(&[0; 64]).is_some());
    }

    #[test]
    fn hashes_of_different_lengths_differ() {
        let short = NameHash::from_bytes(&[1, 2]);
        let long = NameHash::from_bytes(&[1, 2, 0]);
        assert_ne!(short, long);
    }
}
