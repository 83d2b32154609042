//! IPCP types and the configuration an IPCP is bootstrapped with
//! (PROTOCOL.md §7.1, §17.2, §17.4): one set of types for `irm ipcp
//! bootstrap` and for the irmd configuration file.
//!
//! ```text
//!  irm ipcp bootstrap … ttl 30 ─┐                     ┌─ BootstrapConfig::Unicast(UnicastConfig)
//!  (words, CLI spelling)        ├─> BootstrapOptions ─┤   BootstrapConfig::EthDix(EthDixConfig)
//!  [unicast.x] max_ttl = 30 ────┘   (each value       └─ …  (resolve(type): options checked
//!  (TOML values, file spelling)      checked alone)          against the type, defaults filled)
//! ```
//!
//! Both front-ends feed the same [`BootstrapOptions`]; only the spelling of
//! the keys differs ([`BootstrapKey::cli_keyword`], [`BootstrapKey::toml_key`]).
//! A value is checked when it is set (range, syntax); whether it applies to
//! the IPCP's type, and whether a required one is missing, is checked by
//! [`BootstrapOptions::resolve`], because `irm ipcp bootstrap` may leave the
//! type to be learned from an IPCP that already exists.
//!
//! | key | types | default | valid |
//! |---|---|---|---|
//! | hash | unicast, local, eth-llc, eth-dix | SHA3_256 | SHA3_224, SHA3_256, SHA3_384, SHA3_512 |
//! | addr_auth | unicast | flat | flat |
//! | directory | unicast | DHT | DHT |
//! | routing | unicast | link_state | link_state, lfa, ecmp |
//! | congestion | unicast | mb-ecn | none, mb-ecn |
//! | addr size | unicast | 4 | 4 (the only address policy refuses anything else) |
//! | eid size | unicast | 8 | 1–255 (the C IPCP forces 8) |
//! | max ttl | unicast | 60 | 1–255 |
//! | dht alpha / k | unicast | 3 / 8 | 1–10 / 1–20 |
//! | dht t_expire / t_refresh / t_replicate | unicast | 86400 / 900 / 900 s | 10–86400 / 3–3600 / 3–3600 |
//! | ls t_recalc / t_update / t_timeo | unicast | 4 / 15 / 60 s | 1–86400 |
//! | ip | udp4, udp6 | required | an address of the type's family, not unspecified |
//! | port | udp4, udp6 | 3435 | 1–65535 |
//! | dns | udp4, udp6 | none | an address of the type's family |
//! | dev | eth-llc, eth-dix | required | 1–15 octets (Linux `IFNAMSIZ`) |
//! | ethertype | eth-dix | 0xA000 | 0x0600–0xFFFE |
//!
//! broadcast layers always hash names with SHA3-256 and the UDP layers with
//! MD5 ([`BootstrapConfig::dir_hash_algo`]), so neither takes `hash`.
//!
//! The ranges are stricter than the C tools in places: the C CLI does not
//! range-check the DHT timers, neither C parser checks `max_ttl`, `port` or
//! the link-state timers against their field widths (a value wraps), and the
//! C file parser does not refuse 0.0.0.0 for `ip`. A value refused here
//! never gave a working layer in C.

use core::fmt;
use core::ops::RangeInclusive;
use core::str::FromStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use o7s_wire::eth::{ETHERTYPE_O7S, ETHERTYPE_VALID};
use o7s_wire::hash::HashAlgo;
use o7s_wire::udp::DEFAULT_PORT;

/// What is wrong with one value; the front-ends say which key it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueProblem {
    /// A keyword value that is not one of the accepted ones.
    #[error("{value:?} is not one of {expected}")]
    NotOneOf {
        /// What was given.
        value: String,
        /// The accepted keywords, comma-separated.
        expected: &'static str,
    },
    /// A number outside its range.
    #[error("{value} is out of range {min}–{max}")]
    OutOfRange {
        /// What was given.
        value: i64,
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// A word that should be a number.
    #[error("{value:?} is not a {radix} number")]
    NotANumber {
        /// What was given.
        value: String,
        /// "decimal" or "hexadecimal".
        radix: &'static str,
    },
    /// A string longer than its field.
    #[error("is {len} octets long, longer than {max}")]
    TooLong {
        /// Length given.
        len: usize,
        /// Longest accepted.
        max: usize,
    },
    /// A value refused for the reason given.
    #[error("{value:?} {reason}")]
    Invalid {
        /// What was given.
        value: String,
        /// Why it is refused, as a predicate ("is not an IPv4 address").
        reason: &'static str,
    },
    /// A key that the IPCP's type does not take.
    #[error("does not apply to {0} IPCPs")]
    NotForType(IpcpType),
    /// A key the IPCP's type needs that was not given.
    #[error("is required for {0} IPCPs")]
    Required(IpcpType),
    /// A value of the wrong kind in the configuration file.
    #[error("must be {expected}, not {found}")]
    WrongType {
        /// What the key takes ("a string", "an integer", …).
        expected: &'static str,
        /// What the file has.
        found: &'static str,
    },
}

/// The kind of an IPCP, that is of the layer it is a member of.
///
/// The discriminant is the C `enum ipcp_type` value; the C IRMd prefers the
/// lowest value when several layers can reach a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum IpcpType {
    /// `local`: loopback within one system.
    Local = 0,
    /// `unicast`: the normal recursive layer.
    Unicast = 1,
    /// `broadcast`: every member gets every packet.
    Broadcast = 2,
    /// `eth-llc`: shim over Ethernet with 802.2 LLC.
    EthLlc = 3,
    /// `eth-dix`: shim over Ethernet II.
    EthDix = 4,
    /// `udp4`: shim over UDP/IPv4.
    Udp4 = 5,
    /// `udp6`: shim over UDP/IPv6.
    Udp6 = 6,
}

impl IpcpType {
    /// Every type, in the order the `irm` usage texts list them.
    pub const ALL: [IpcpType; 7] = [
        IpcpType::Unicast,
        IpcpType::Broadcast,
        IpcpType::Local,
        IpcpType::Udp4,
        IpcpType::Udp6,
        IpcpType::EthLlc,
        IpcpType::EthDix,
    ];

    /// [`IpcpType::ALL`]'s keywords, for messages and help.
    pub const KEYWORDS: &'static str = "unicast, broadcast, local, udp4, udp6, eth-llc, eth-dix";

    /// The keyword in `irm` and the TOML table kind.
    pub const fn keyword(self) -> &'static str {
        match self {
            IpcpType::Local => "local",
            IpcpType::Unicast => "unicast",
            IpcpType::Broadcast => "broadcast",
            IpcpType::EthLlc => "eth-llc",
            IpcpType::EthDix => "eth-dix",
            IpcpType::Udp4 => "udp4",
            IpcpType::Udp6 => "udp6",
        }
    }

    /// The C enum value.
    pub const fn value(self) -> u32 {
        self as u32
    }

    /// Whether IPCPs of this type join a layer by enrolment (and so take
    /// `enroll`, `connect` and `autobind`).
    pub const fn enrols(self) -> bool {
        matches!(self, IpcpType::Unicast | IpcpType::Broadcast)
    }
}

impl FromStr for IpcpType {
    type Err = ValueProblem;

    /// Exact keywords only: the C `bootstrap` happens to prefix-match the
    /// type (so `u` meant unicast and `udp` never meant a UDP layer); a
    /// typed-out type is short enough to ask for in full.
    fn from_str(s: &str) -> Result<IpcpType, ValueProblem> {
        IpcpType::ALL
            .into_iter()
            .find(|t| t.keyword() == s)
            .ok_or_else(|| ValueProblem::NotOneOf {
                value: s.to_owned(),
                expected: IpcpType::KEYWORDS,
            })
    }
}

impl fmt::Display for IpcpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// Parses a directory hash keyword as `irm` and the file accept it:
/// `SHA3_224`, `SHA3_256`, `SHA3_384`, `SHA3_512` (MD5 is forced on the
/// UDP layers, never chosen).
pub fn parse_dir_hash(s: &str) -> Result<HashAlgo, ValueProblem> {
    match s.parse::<HashAlgo>() {
        Ok(HashAlgo::Md5) | Err(_) => Err(ValueProblem::NotOneOf {
            value: s.to_owned(),
            expected: "SHA3_224, SHA3_256, SHA3_384, SHA3_512",
        }),
        Ok(algo) => Ok(algo),
    }
}

/// Address authority policy of a unicast layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AddrAuth {
    /// `flat`: a random non-zero 32-bit address, no collision detection.
    #[default]
    FlatRandom,
}

impl AddrAuth {
    /// The keyword.
    pub const fn keyword(self) -> &'static str {
        "flat"
    }
}

impl FromStr for AddrAuth {
    type Err = ValueProblem;

    fn from_str(s: &str) -> Result<AddrAuth, ValueProblem> {
        match s {
            "flat" => Ok(AddrAuth::FlatRandom),
            _ => Err(ValueProblem::NotOneOf {
                value: s.to_owned(),
                expected: "flat",
            }),
        }
    }
}

/// Directory policy of a unicast layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DirectoryPolicy {
    /// `DHT`: the Kademlia directory of §13.
    #[default]
    Dht,
}

impl DirectoryPolicy {
    /// The keyword.
    pub const fn keyword(self) -> &'static str {
        "DHT"
    }
}

impl FromStr for DirectoryPolicy {
    type Err = ValueProblem;

    /// `DHT` (the CLI's spelling) or `dht` (the file also takes it).
    fn from_str(s: &str) -> Result<DirectoryPolicy, ValueProblem> {
        match s {
            "DHT" | "dht" => Ok(DirectoryPolicy::Dht),
            _ => Err(ValueProblem::NotOneOf {
                value: s.to_owned(),
                expected: "DHT",
            }),
        }
    }
}

/// Next-hop choice of link-state routing (`routing.ls.pol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum RoutingPolicy {
    /// `link_state`: one shortest-path next hop.
    #[default]
    LinkState = 0,
    /// `lfa`: plus loop-free alternates.
    Lfa = 1,
    /// `ecmp`: equal-cost multipath.
    Ecmp = 2,
}

impl RoutingPolicy {
    /// The CLI keyword.
    pub const fn keyword(self) -> &'static str {
        match self {
            RoutingPolicy::LinkState => "link_state",
            RoutingPolicy::Lfa => "lfa",
            RoutingPolicy::Ecmp => "ecmp",
        }
    }

    /// The C enum value (`enum pol_link_state`).
    pub const fn value(self) -> u32 {
        self as u32
    }
}

impl FromStr for RoutingPolicy {
    type Err = ValueProblem;

    /// `link_state` (CLI) and `link-state` (file) are both accepted.
    fn from_str(s: &str) -> Result<RoutingPolicy, ValueProblem> {
        match s {
            "link_state" | "link-state" => Ok(RoutingPolicy::LinkState),
            "lfa" => Ok(RoutingPolicy::Lfa),
            "ecmp" => Ok(RoutingPolicy::Ecmp),
            _ => Err(ValueProblem::NotOneOf {
                value: s.to_owned(),
                expected: "link_state, lfa, ecmp",
            }),
        }
    }
}

/// Congestion avoidance of a unicast layer (§9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum CongestionAvoidance {
    /// `none`.
    None = 0,
    /// `mb-ecn`: multi-bit ECN marking and FLOW_UPDATE.
    #[default]
    MbEcn = 1,
}

impl CongestionAvoidance {
    /// The keyword.
    pub const fn keyword(self) -> &'static str {
        match self {
            CongestionAvoidance::None => "none",
            CongestionAvoidance::MbEcn => "mb-ecn",
        }
    }

    /// The C enum value (`enum pol_cong_avoid`).
    pub const fn value(self) -> u32 {
        self as u32
    }
}

impl FromStr for CongestionAvoidance {
    type Err = ValueProblem;

    fn from_str(s: &str) -> Result<CongestionAvoidance, ValueProblem> {
        match s {
            "none" => Ok(CongestionAvoidance::None),
            "mb-ecn" => Ok(CongestionAvoidance::MbEcn),
            _ => Err(ValueProblem::NotOneOf {
                value: s.to_owned(),
                expected: "none, mb-ecn",
            }),
        }
    }
}

/// Parameters of the DHT directory (§13), all times in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DhtParams {
    /// Parallel lookups (α).
    pub alpha: u32,
    /// Replication factor and bucket size (k).
    pub k: u32,
    /// Lifetime of a stored value.
    pub t_expire: u32,
    /// Contact refresh interval.
    pub t_refresh: u32,
    /// Replication interval.
    pub t_replicate: u32,
}

impl DhtParams {
    /// Accepted α.
    pub const ALPHA: RangeInclusive<u32> = 1..=10;
    /// Accepted k.
    pub const K: RangeInclusive<u32> = 1..=20;
    /// Accepted expiry time.
    pub const T_EXPIRE: RangeInclusive<u32> = 10..=86400;
    /// Accepted refresh interval.
    pub const T_REFRESH: RangeInclusive<u32> = 3..=3600;
    /// Accepted replication interval.
    pub const T_REPLICATE: RangeInclusive<u32> = 3..=3600;
}

impl Default for DhtParams {
    fn default() -> DhtParams {
        DhtParams {
            alpha: 3,
            k: 8,
            t_expire: 86400,
            t_refresh: 900,
            t_replicate: 900,
        }
    }
}

/// Link-state routing (§12): the next-hop policy and its timers (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkStateConfig {
    /// Next-hop choice.
    pub policy: RoutingPolicy,
    /// Forwarding-table recalculation interval.
    pub t_recalc: u32,
    /// Link-state update (LSU) period.
    pub t_update: u32,
    /// Adjacency timeout.
    pub t_timeo: u32,
}

impl LinkStateConfig {
    /// Accepted range of each timer: at least a second (as the C file parser
    /// demands), at most a day.
    pub const TIMER: RangeInclusive<u32> = 1..=86400;
}

impl Default for LinkStateConfig {
    fn default() -> LinkStateConfig {
        LinkStateConfig {
            policy: RoutingPolicy::LinkState,
            t_recalc: 4,
            t_update: 15,
            t_timeo: 60,
        }
    }
}

/// How a unicast layer is set up (§7.1); every member copies it from the
/// enrolment response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnicastConfig {
    /// Directory hash: the length of every name hash and DHT key.
    pub hash: HashAlgo,
    /// Address authority.
    pub addr_auth: AddrAuth,
    /// Address width in octets; only 4 works.
    pub addr_size: u8,
    /// EID width in octets; the C IPCP forces 8.
    pub eid_size: u8,
    /// Initial TTL of DT packets, in hops.
    pub max_ttl: u8,
    /// Routing.
    pub routing: LinkStateConfig,
    /// Directory.
    pub directory: DirectoryPolicy,
    /// DHT parameters.
    pub dht: DhtParams,
    /// Congestion avoidance.
    pub congestion: CongestionAvoidance,
}

impl UnicastConfig {
    /// The only address size the address authority accepts.
    pub const ADDR_SIZE: u8 = 4;
    /// The EID size the C prototype uses whatever is configured.
    pub const EID_SIZE: u8 = 8;
    /// Accepted TTLs.
    pub const MAX_TTL: RangeInclusive<u8> = 1..=255;
}

impl Default for UnicastConfig {
    fn default() -> UnicastConfig {
        UnicastConfig {
            hash: HashAlgo::Sha3_256,
            addr_auth: AddrAuth::FlatRandom,
            addr_size: UnicastConfig::ADDR_SIZE,
            eid_size: UnicastConfig::EID_SIZE,
            max_ttl: 60,
            routing: LinkStateConfig::default(),
            directory: DirectoryPolicy::Dht,
            dht: DhtParams::default(),
            congestion: CongestionAvoidance::MbEcn,
        }
    }
}

/// A local layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LocalConfig {
    /// Directory hash.
    pub hash: HashAlgo,
}

/// An eth-llc layer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EthLlcConfig {
    /// Network interface.
    pub dev: String,
    /// Directory hash; both ends of a segment must agree.
    pub hash: HashAlgo,
}

/// An eth-dix layer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EthDixConfig {
    /// Network interface.
    pub dev: String,
    /// Ethertype of the layer's frames.
    pub ethertype: u16,
    /// Directory hash; both ends of a segment must agree.
    pub hash: HashAlgo,
}

/// A udp4 layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Udp4Config {
    /// Local address (not 0.0.0.0).
    pub ip: Ipv4Addr,
    /// UDP port.
    pub port: u16,
    /// Dynamic DNS server, if names are published through one.
    pub dns: Option<Ipv4Addr>,
}

/// A udp6 layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Udp6Config {
    /// Local address (not ::).
    pub ip: Ipv6Addr,
    /// UDP port.
    pub port: u16,
    /// Dynamic DNS server, if names are published through one.
    pub dns: Option<Ipv6Addr>,
}

/// Everything an IPCP is bootstrapped with besides the layer's name: one
/// variant per [`IpcpType`], with every default filled in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BootstrapConfig {
    /// A unicast layer.
    Unicast(UnicastConfig),
    /// A broadcast layer: nothing to choose.
    Broadcast,
    /// A local layer.
    Local(LocalConfig),
    /// An eth-llc layer.
    EthLlc(EthLlcConfig),
    /// An eth-dix layer.
    EthDix(EthDixConfig),
    /// A udp4 layer.
    Udp4(Udp4Config),
    /// A udp6 layer.
    Udp6(Udp6Config),
}

impl BootstrapConfig {
    /// The IPCP type this configuration is for.
    pub const fn ipcp_type(&self) -> IpcpType {
        match self {
            BootstrapConfig::Unicast(_) => IpcpType::Unicast,
            BootstrapConfig::Broadcast => IpcpType::Broadcast,
            BootstrapConfig::Local(_) => IpcpType::Local,
            BootstrapConfig::EthLlc(_) => IpcpType::EthLlc,
            BootstrapConfig::EthDix(_) => IpcpType::EthDix,
            BootstrapConfig::Udp4(_) => IpcpType::Udp4,
            BootstrapConfig::Udp6(_) => IpcpType::Udp6,
        }
    }

    /// Where the IPCP meets the layer below, for `irm ipcp list`: the
    /// interface of an Ethernet shim, the address and port of a UDP one.
    pub fn device(&self) -> Option<String> {
        match self {
            BootstrapConfig::EthLlc(c) => Some(c.dev.clone()),
            BootstrapConfig::EthDix(c) => Some(c.dev.clone()),
            BootstrapConfig::Udp4(c) => Some(std::net::SocketAddr::from((c.ip, c.port)).to_string()),
            BootstrapConfig::Udp6(c) => Some(std::net::SocketAddr::from((c.ip, c.port)).to_string()),
            BootstrapConfig::Unicast(_) | BootstrapConfig::Broadcast | BootstrapConfig::Local(_) => None,
        }
    }

    /// The hash the layer names with: the configured one, SHA3-256 for
    /// broadcast and MD5 for the UDP layers (their hex digests must fit a
    /// DNS label).
    pub const fn dir_hash_algo(&self) -> HashAlgo {
        match self {
            BootstrapConfig::Unicast(c) => c.hash,
            BootstrapConfig::Broadcast => HashAlgo::Sha3_256,
            BootstrapConfig::Local(c) => c.hash,
            BootstrapConfig::EthLlc(c) => c.hash,
            BootstrapConfig::EthDix(c) => c.hash,
            BootstrapConfig::Udp4(_) | BootstrapConfig::Udp6(_) => HashAlgo::Md5,
        }
    }
}

/// One bootstrap option, whatever it is called in the syntax at hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BootstrapKey {
    /// Directory hash.
    Hash,
    /// Address authority.
    AddrAuth,
    /// Directory policy.
    Directory,
    /// Routing policy.
    Routing,
    /// Congestion avoidance.
    Congestion,
    /// Address size.
    AddrSize,
    /// EID size.
    EidSize,
    /// Maximum TTL.
    MaxTtl,
    /// DHT α.
    DhtAlpha,
    /// DHT k.
    DhtK,
    /// DHT expiry time.
    DhtTExpire,
    /// DHT refresh interval.
    DhtTRefresh,
    /// DHT replication interval.
    DhtTReplicate,
    /// Link-state recalculation interval.
    LsTRecalc,
    /// Link-state update period.
    LsTUpdate,
    /// Link-state adjacency timeout.
    LsTTimeo,
    /// UDP local address.
    Ip,
    /// UDP port.
    Port,
    /// UDP dynamic DNS server.
    Dns,
    /// Ethernet interface.
    Dev,
    /// eth-dix ethertype.
    Ethertype,
}

/// What kind of value a key takes in the configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A string.
    Str,
    /// An integer.
    Int,
}

impl BootstrapKey {
    /// Every key.
    pub const ALL: [BootstrapKey; 21] = [
        BootstrapKey::Hash,
        BootstrapKey::AddrAuth,
        BootstrapKey::Directory,
        BootstrapKey::Routing,
        BootstrapKey::Congestion,
        BootstrapKey::AddrSize,
        BootstrapKey::EidSize,
        BootstrapKey::MaxTtl,
        BootstrapKey::DhtAlpha,
        BootstrapKey::DhtK,
        BootstrapKey::DhtTExpire,
        BootstrapKey::DhtTRefresh,
        BootstrapKey::DhtTReplicate,
        BootstrapKey::LsTRecalc,
        BootstrapKey::LsTUpdate,
        BootstrapKey::LsTTimeo,
        BootstrapKey::Ip,
        BootstrapKey::Port,
        BootstrapKey::Dns,
        BootstrapKey::Dev,
        BootstrapKey::Ethertype,
    ];

    /// The `irm ipcp bootstrap` keyword.
    pub const fn cli_keyword(self) -> &'static str {
        match self {
            BootstrapKey::Hash => "hash",
            BootstrapKey::AddrAuth => "addr_auth",
            BootstrapKey::Directory => "directory",
            BootstrapKey::Routing => "routing",
            BootstrapKey::Congestion => "congestion",
            BootstrapKey::AddrSize => "addr",
            BootstrapKey::EidSize => "eid",
            BootstrapKey::MaxTtl => "ttl",
            BootstrapKey::DhtAlpha => "dht_alpha",
            BootstrapKey::DhtK => "dht_k",
            BootstrapKey::DhtTExpire => "dht_t_expire",
            BootstrapKey::DhtTRefresh => "dht_t_refresh",
            BootstrapKey::DhtTReplicate => "dht_t_replicate",
            BootstrapKey::LsTRecalc => "ls_t_recalc",
            BootstrapKey::LsTUpdate => "ls_t_update",
            BootstrapKey::LsTTimeo => "ls_t_timeo",
            BootstrapKey::Ip => "ip",
            BootstrapKey::Port => "port",
            BootstrapKey::Dns => "dns",
            BootstrapKey::Dev => "device",
            BootstrapKey::Ethertype => "ethertype",
        }
    }

    /// The key in an IPCP table of the configuration file.
    pub const fn toml_key(self) -> &'static str {
        match self {
            BootstrapKey::Hash => "hash",
            BootstrapKey::AddrAuth => "addr-auth",
            BootstrapKey::Directory => "directory",
            BootstrapKey::Routing => "routing",
            BootstrapKey::Congestion => "congestion",
            BootstrapKey::AddrSize => "addr_size",
            BootstrapKey::EidSize => "eid_size",
            BootstrapKey::MaxTtl => "max_ttl",
            BootstrapKey::DhtAlpha => "dht_alpha",
            BootstrapKey::DhtK => "dht_k",
            BootstrapKey::DhtTExpire => "dht_t_expire",
            BootstrapKey::DhtTRefresh => "dht_t_refresh",
            BootstrapKey::DhtTReplicate => "dht_t_replicate",
            BootstrapKey::LsTRecalc => "ls_t_recalc",
            BootstrapKey::LsTUpdate => "ls_t_update",
            BootstrapKey::LsTTimeo => "ls_t_timeo",
            BootstrapKey::Ip => "ip",
            BootstrapKey::Port => "port",
            BootstrapKey::Dns => "dns",
            BootstrapKey::Dev => "dev",
            BootstrapKey::Ethertype => "ethertype",
        }
    }

    /// What the file gives the key as. `ethertype` is an integer (TOML
    /// writes hex as `0xA000`); a hex string is accepted too.
    pub const fn value_kind(self) -> ValueKind {
        match self {
            BootstrapKey::Hash
            | BootstrapKey::AddrAuth
            | BootstrapKey::Directory
            | BootstrapKey::Routing
            | BootstrapKey::Congestion
            | BootstrapKey::Ip
            | BootstrapKey::Dns
            | BootstrapKey::Dev => ValueKind::Str,
            _ => ValueKind::Int,
        }
    }

    /// Whether IPCPs of `ipcp_type` take this key.
    pub const fn applies_to(self, ipcp_type: IpcpType) -> bool {
        match self {
            BootstrapKey::Hash => matches!(
                ipcp_type,
                IpcpType::Unicast | IpcpType::Local | IpcpType::EthLlc | IpcpType::EthDix
            ),
            BootstrapKey::Ip | BootstrapKey::Port | BootstrapKey::Dns => {
                matches!(ipcp_type, IpcpType::Udp4 | IpcpType::Udp6)
            }
            BootstrapKey::Dev => matches!(ipcp_type, IpcpType::EthLlc | IpcpType::EthDix),
            BootstrapKey::Ethertype => matches!(ipcp_type, IpcpType::EthDix),
            _ => matches!(ipcp_type, IpcpType::Unicast),
        }
    }

    /// The accepted range of an integer-valued key.
    const fn range(self) -> Option<(i64, i64)> {
        const fn r(range: RangeInclusive<u32>) -> Option<(i64, i64)> {
            Some((*range.start() as i64, *range.end() as i64))
        }
        match self {
            BootstrapKey::AddrSize => Some((UnicastConfig::ADDR_SIZE as i64, UnicastConfig::ADDR_SIZE as i64)),
            BootstrapKey::EidSize | BootstrapKey::MaxTtl => Some((1, 255)),
            BootstrapKey::DhtAlpha => r(DhtParams::ALPHA),
            BootstrapKey::DhtK => r(DhtParams::K),
            BootstrapKey::DhtTExpire => r(DhtParams::T_EXPIRE),
            BootstrapKey::DhtTRefresh => r(DhtParams::T_REFRESH),
            BootstrapKey::DhtTReplicate => r(DhtParams::T_REPLICATE),
            BootstrapKey::LsTRecalc | BootstrapKey::LsTUpdate | BootstrapKey::LsTTimeo => r(LinkStateConfig::TIMER),
            BootstrapKey::Port => Some((1, 65535)),
            BootstrapKey::Ethertype => Some((*ETHERTYPE_VALID.start() as i64, *ETHERTYPE_VALID.end() as i64)),
            _ => None,
        }
    }
}

/// A problem with one bootstrap option.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}")]
pub struct BootstrapError {
    /// The option.
    pub key: BootstrapKey,
    /// What is wrong with it.
    pub problem: ValueProblem,
}

/// The bootstrap options that were given, each already checked on its own,
/// not yet tied to an IPCP type. `None` = not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootstrapOptions {
    /// `hash`.
    pub hash: Option<HashAlgo>,
    /// `addr_auth` / `addr-auth`.
    pub addr_auth: Option<AddrAuth>,
    /// `directory`.
    pub directory: Option<DirectoryPolicy>,
    /// `routing`.
    pub routing: Option<RoutingPolicy>,
    /// `congestion`.
    pub congestion: Option<CongestionAvoidance>,
    /// `addr` / `addr_size`.
    pub addr_size: Option<u8>,
    /// `eid` / `eid_size`.
    pub eid_size: Option<u8>,
    /// `ttl` / `max_ttl`.
    pub max_ttl: Option<u8>,
    /// `dht_alpha`.
    pub dht_alpha: Option<u32>,
    /// `dht_k`.
    pub dht_k: Option<u32>,
    /// `dht_t_expire`.
    pub dht_t_expire: Option<u32>,
    /// `dht_t_refresh`.
    pub dht_t_refresh: Option<u32>,
    /// `dht_t_replicate`.
    pub dht_t_replicate: Option<u32>,
    /// `ls_t_recalc`.
    pub ls_t_recalc: Option<u32>,
    /// `ls_t_update`.
    pub ls_t_update: Option<u32>,
    /// `ls_t_timeo`.
    pub ls_t_timeo: Option<u32>,
    /// `ip`, of either family until the type is known.
    pub ip: Option<IpAddr>,
    /// `port`.
    pub port: Option<u16>,
    /// `dns`, of either family until the type is known.
    pub dns: Option<IpAddr>,
    /// `device` / `dev`.
    pub dev: Option<String>,
    /// `ethertype`.
    pub ethertype: Option<u16>,
}

/// Longest interface name (Linux `IFNAMSIZ` less the NUL).
pub const MAX_DEV_LEN: usize = 15;

/// Parses an ethertype the way `irm` does: always hexadecimal, with or
/// without `0x`.
pub fn parse_ethertype(s: &str) -> Result<i64, ValueProblem> {
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ValueProblem::NotANumber {
            value: s.to_owned(),
            radix: "hexadecimal",
        });
    }
    i64::from_str_radix(digits, 16).map_err(|_| ValueProblem::NotANumber {
        value: s.to_owned(),
        radix: "hexadecimal",
    })
}

/// Parses a non-negative decimal number (no sign, no spaces: `atoi`'s
/// silent zero for garbage is what this refuses).
pub fn parse_decimal(s: &str) -> Result<i64, ValueProblem> {
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValueProblem::NotANumber {
            value: s.to_owned(),
            radix: "decimal",
        });
    }
    s.parse::<i64>().map_err(|_| ValueProblem::NotANumber {
        value: s.to_owned(),
        radix: "decimal",
    })
}

fn in_range(key: BootstrapKey, value: i64) -> Result<i64, ValueProblem> {
    match key.range() {
        Some((min, max)) if value < min || value > max => {
            if key == BootstrapKey::AddrSize {
                Err(ValueProblem::Invalid {
                    value: value.to_string(),
                    reason: "is not supported: the flat address authority only takes 4",
                })
            } else {
                Err(ValueProblem::OutOfRange { value, min, max })
            }
        }
        _ => Ok(value),
    }
}

/// `value` is in range, so the narrowing cannot fail; saturate rather
/// than panic all the same.
fn narrow<T: TryFrom<i64> + Copy>(value: i64, saturated: T) -> T {
    T::try_from(value).unwrap_or(saturated)
}

impl BootstrapOptions {
    /// Sets an integer-valued option after checking its range.
    pub fn set_int(&mut self, key: BootstrapKey, value: i64) -> Result<(), BootstrapError> {
        let err = |problem| BootstrapError { key, problem };
        if key.value_kind() != ValueKind::Int {
            return Err(err(ValueProblem::WrongType {
                expected: "a string",
                found: "an integer",
            }));
        }
        let v = in_range(key, value).map_err(err)?;
        match key {
            BootstrapKey::AddrSize => self.addr_size = Some(narrow(v, u8::MAX)),
            BootstrapKey::EidSize => self.eid_size = Some(narrow(v, u8::MAX)),
            BootstrapKey::MaxTtl => self.max_ttl = Some(narrow(v, u8::MAX)),
            BootstrapKey::DhtAlpha => self.dht_alpha = Some(narrow(v, u32::MAX)),
            BootstrapKey::DhtK => self.dht_k = Some(narrow(v, u32::MAX)),
            BootstrapKey::DhtTExpire => self.dht_t_expire = Some(narrow(v, u32::MAX)),
            BootstrapKey::DhtTRefresh => self.dht_t_refresh = Some(narrow(v, u32::MAX)),
            BootstrapKey::DhtTReplicate => self.dht_t_replicate = Some(narrow(v, u32::MAX)),
            BootstrapKey::LsTRecalc => self.ls_t_recalc = Some(narrow(v, u32::MAX)),
            BootstrapKey::LsTUpdate => self.ls_t_update = Some(narrow(v, u32::MAX)),
            BootstrapKey::LsTTimeo => self.ls_t_timeo = Some(narrow(v, u32::MAX)),
            BootstrapKey::Port => self.port = Some(narrow(v, u16::MAX)),
            BootstrapKey::Ethertype => self.ethertype = Some(narrow(v, u16::MAX)),
            // String-valued keys were refused above.
            _ => {}
        }
        Ok(())
    }

    /// Sets an option from its textual form (a CLI word, or a string in
    /// the file): keywords, addresses, the device, and numbers written out
    /// (decimal, or hexadecimal for `ethertype`).
    pub fn set_str(&mut self, key: BootstrapKey, value: &str) -> Result<(), BootstrapError> {
        let err = |problem| BootstrapError { key, problem };
        match key {
            BootstrapKey::Hash => self.hash = Some(parse_dir_hash(value).map_err(err)?),
            BootstrapKey::AddrAuth => self.addr_auth = Some(value.parse().map_err(err)?),
            BootstrapKey::Directory => self.directory = Some(value.parse().map_err(err)?),
            BootstrapKey::Routing => self.routing = Some(value.parse().map_err(err)?),
            BootstrapKey::Congestion => self.congestion = Some(value.parse().map_err(err)?),
            BootstrapKey::Ip | BootstrapKey::Dns => {
                let addr = value.parse::<IpAddr>().map_err(|_| {
                    err(ValueProblem::Invalid {
                        value: value.to_owned(),
                        reason: "is not an IPv4 or IPv6 address",
                    })
                })?;
                if key == BootstrapKey::Ip {
                    self.ip = Some(addr);
                } else {
                    self.dns = Some(addr);
                }
            }
            BootstrapKey::Dev => {
                if value.is_empty() {
                    return Err(err(ValueProblem::Invalid {
                        value: String::new(),
                        reason: "is empty",
                    }));
                }
                if value.len() > MAX_DEV_LEN {
                    return Err(err(ValueProblem::TooLong {
                        len: value.len(),
                        max: MAX_DEV_LEN,
                    }));
                }
                self.dev = Some(value.to_owned());
            }
            BootstrapKey::Ethertype => return self.set_int(key, parse_ethertype(value).map_err(err)?),
            _ => return self.set_int(key, parse_decimal(value).map_err(err)?),
        }
        Ok(())
    }

    /// Whether an option was given.
    pub fn is_set(&self, key: BootstrapKey) -> bool {
        match key {
            BootstrapKey::Hash => self.hash.is_some(),
            BootstrapKey::AddrAuth => self.addr_auth.is_some(),
            BootstrapKey::Directory => self.directory.is_some(),
            BootstrapKey::Routing => self.routing.is_some(),
            BootstrapKey::Congestion => self.congestion.is_some(),
            BootstrapKey::AddrSize => self.addr_size.is_some(),
            BootstrapKey::EidSize => self.eid_size.is_some(),
            BootstrapKey::MaxTtl => self.max_ttl.is_some(),
            BootstrapKey::DhtAlpha => self.dht_alpha.is_some(),
            BootstrapKey::DhtK => self.dht_k.is_some(),
            BootstrapKey::DhtTExpire => self.dht_t_expire.is_some(),
            BootstrapKey::DhtTRefresh => self.dht_t_refresh.is_some(),
            BootstrapKey::DhtTReplicate => self.dht_t_replicate.is_some(),
            BootstrapKey::LsTRecalc => self.ls_t_recalc.is_some(),
            BootstrapKey::LsTUpdate => self.ls_t_update.is_some(),
            BootstrapKey::LsTTimeo => self.ls_t_timeo.is_some(),
            BootstrapKey::Ip => self.ip.is_some(),
            BootstrapKey::Port => self.port.is_some(),
            BootstrapKey::Dns => self.dns.is_some(),
            BootstrapKey::Dev => self.dev.is_some(),
            BootstrapKey::Ethertype => self.ethertype.is_some(),
        }
    }

    /// The options that were given, in [`BootstrapKey::ALL`] order.
    pub fn given(&self) -> impl Iterator<Item = BootstrapKey> + '_ {
        BootstrapKey::ALL.into_iter().filter(|&k| self.is_set(k))
    }

    /// Checks the options against `ipcp_type` and fills in the defaults.
    ///
    /// Refuses an option the type does not take (the first, in
    /// [`BootstrapKey::ALL`] order), a missing `ip` or `dev`, and an
    /// address of the wrong family or the unspecified address as `ip`.
    /// A `dns` of 0.0.0.0 or :: means none, as in C.
    pub fn resolve(&self, ipcp_type: IpcpType) -> Result<BootstrapConfig, BootstrapError> {
        if let Some(key) = self.given().find(|k| !k.applies_to(ipcp_type)) {
            return Err(BootstrapError {
                key,
                problem: ValueProblem::NotForType(ipcp_type),
            });
        }
        let required = |key: BootstrapKey| BootstrapError {
            key,
            problem: ValueProblem::Required(ipcp_type),
        };
        let hash = self.hash.unwrap_or_default();
        Ok(match ipcp_type {
            IpcpType::Unicast => {
                let d = UnicastConfig::default();
                let ls = LinkStateConfig::default();
                let dht = DhtParams::default();
                BootstrapConfig::Unicast(UnicastConfig {
                    hash,
                    addr_auth: self.addr_auth.unwrap_or(d.addr_auth),
                    addr_size: self.addr_size.unwrap_or(d.addr_size),
                    eid_size: self.eid_size.unwrap_or(d.eid_size),
                    max_ttl: self.max_ttl.unwrap_or(d.max_ttl),
                    routing: LinkStateConfig {
                        policy: self.routing.unwrap_or(ls.policy),
                        t_recalc: self.ls_t_recalc.unwrap_or(ls.t_recalc),
                        t_update: self.ls_t_update.unwrap_or(ls.t_update),
                        t_timeo: self.ls_t_timeo.unwrap_or(ls.t_timeo),
                    },
                    directory: self.directory.unwrap_or(d.directory),
                    dht: DhtParams {
                        alpha: self.dht_alpha.unwrap_or(dht.alpha),
                        k: self.dht_k.unwrap_or(dht.k),
                        t_expire: self.dht_t_expire.unwrap_or(dht.t_expire),
                        t_refresh: self.dht_t_refresh.unwrap_or(dht.t_refresh),
                        t_replicate: self.dht_t_replicate.unwrap_or(dht.t_replicate),
                    },
                    congestion: self.congestion.unwrap_or(d.congestion),
                })
            }
            IpcpType::Broadcast => BootstrapConfig::Broadcast,
            IpcpType::Local => BootstrapConfig::Local(LocalConfig { hash }),
            IpcpType::EthLlc => BootstrapConfig::EthLlc(EthLlcConfig {
                dev: self.dev.clone().ok_or_else(|| required(BootstrapKey::Dev))?,
                hash,
            }),
            IpcpType::EthDix => BootstrapConfig::EthDix(EthDixConfig {
                dev: self.dev.clone().ok_or_else(|| required(BootstrapKey::Dev))?,
                ethertype: self.ethertype.unwrap_or(ETHERTYPE_O7S),
                hash,
            }),
            IpcpType::Udp4 => {
                let ip = self.ip.ok_or_else(|| required(BootstrapKey::Ip))?;
                BootstrapConfig::Udp4(Udp4Config {
                    ip: v4(BootstrapKey::Ip, ip)?,
                    port: self.port.unwrap_or(DEFAULT_PORT),
                    dns: self
                        .dns
                        .map(|a| v4(BootstrapKey::Dns, a))
                        .transpose()?
                        .filter(|a| !a.is_unspecified()),
                })
            }
            IpcpType::Udp6 => {
                let ip = self.ip.ok_or_else(|| required(BootstrapKey::Ip))?;
                BootstrapConfig::Udp6(Udp6Config {
                    ip: v6(BootstrapKey::Ip, ip)?,
                    port: self.port.unwrap_or(DEFAULT_PORT),
                    dns: self
                        .dns
                        .map(|a| v6(BootstrapKey::Dns, a))
                        .transpose()?
                        .filter(|a| !a.is_unspecified()),
                })
            }
        })
    }
}

fn v4(key: BootstrapKey, addr: IpAddr) -> Result<Ipv4Addr, BootstrapError> {
    let invalid = |reason| BootstrapError {
        key,
        problem: ValueProblem::Invalid {
            value: addr.to_string(),
            reason,
        },
    };
    match addr {
        IpAddr::V4(a) if key == BootstrapKey::Ip && a.is_unspecified() => {
            Err(invalid("is the unspecified address; give the address to bind to"))
        }
        IpAddr::V4(a) => Ok(a),
        IpAddr::V6(_) => Err(invalid("is not an IPv4 address")),
    }
}

fn v6(key: BootstrapKey, addr: IpAddr) -> Result<Ipv6Addr, BootstrapError> {
    let invalid = |reason| BootstrapError {
        key,
        problem: ValueProblem::Invalid {
            value: addr.to_string(),
            reason,
        },
    };
    match addr {
        IpAddr::V6(a) if key == BootstrapKey::Ip && a.is_unspecified() => {
            Err(invalid("is the unspecified address; give the address to bind to"))
        }
        IpAddr::V6(a) => Ok(a),
        IpAddr::V4(_) => Err(invalid("is not an IPv6 address")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: BootstrapKey, value: &str) -> Result<BootstrapOptions, ValueProblem> {
        let mut o = BootstrapOptions::default();
        o.set_str(key, value).map_err(|e| e.problem)?;
        Ok(o)
    }

    #[test]
    fn defaults_are_those_of_the_c_prototype() {
        let c = UnicastConfig::default();
        assert_eq!(c.hash, HashAlgo::Sha3_256);
        assert_eq!((c.addr_size, c.eid_size, c.max_ttl), (4, 8, 60));
        assert_eq!(c.routing.policy, RoutingPolicy::LinkState);
        assert_eq!((c.routing.t_recalc, c.routing.t_update, c.routing.t_timeo), (4, 15, 60));
        assert_eq!(
            c.dht,
            DhtParams {
                alpha: 3,
                k: 8,
                t_expire: 86400,
                t_refresh: 900,
                t_replicate: 900
            }
        );
        assert_eq!(c.congestion, CongestionAvoidance::MbEcn);
        assert_eq!(c.addr_auth, AddrAuth::FlatRandom);
        assert_eq!(c.directory, DirectoryPolicy::Dht);
    }

    #[test]
    fn ipcp_type_values_follow_the_c_enum_and_keywords_are_exact() {
        let values: Vec<u32> = [
            IpcpType::Local,
            IpcpType::Unicast,
            IpcpType::Broadcast,
            IpcpType::EthLlc,
            IpcpType::EthDix,
            IpcpType::Udp4,
            IpcpType::Udp6,
        ]
        .iter()
        .map(|t| t.value())
        .collect();
        assert_eq!(values, [0, 1, 2, 3, 4, 5, 6]);
        for t in IpcpType::ALL {
            assert_eq!(t.keyword().parse(), Ok(t));
        }
        assert!("uni".parse::<IpcpType>().is_err());
        let err = "foo".parse::<IpcpType>().unwrap_err().to_string();
        assert_eq!(
            err,
            "\"foo\" is not one of unicast, broadcast, local, udp4, udp6, eth-llc, eth-dix"
        );
    }

    #[test]
    fn hash_keywords_are_the_four_sha3_and_case_sensitive() {
        assert_eq!(parse_dir_hash("SHA3_224"), Ok(HashAlgo::Sha3_224));
        assert_eq!(parse_dir_hash("SHA3_512"), Ok(HashAlgo::Sha3_512));
        assert!(parse_dir_hash("MD5").is_err());
        assert!(parse_dir_hash("sha3_256").is_err());
    }

    /// Asserts that each (key, text) is refused as not a number or as out
    /// of range.
    fn refused(cases: &[(BootstrapKey, &str)], out_of_range: bool) {
        for &(key, text) in cases {
            let got = set(key, text);
            let ok = match got {
                Err(ValueProblem::OutOfRange { .. }) => out_of_range,
                Err(ValueProblem::NotANumber { .. }) => !out_of_range,
                _ => false,
            };
            assert!(ok, "{key:?} {text:?}: {got:?}");
        }
    }

    #[test]
    fn ethertype_is_hex_with_or_without_0x_in_0600_to_fffe() {
        for (text, value) in [("0xA007", 0xA007), ("a007", 0xA007), ("0600", 0x0600), ("FFFE", 0xFFFE)] {
            assert_eq!(
                set(BootstrapKey::Ethertype, text).unwrap().ethertype,
                Some(value),
                "{text}"
            );
        }
        assert_eq!(
            set(BootstrapKey::Ethertype, "0x05FF"),
            Err(ValueProblem::OutOfRange {
                value: 0x05FF,
                min: 0x0600,
                max: 0xFFFE
            })
        );
        refused(&[(BootstrapKey::Ethertype, "0xFFFF")], true);
        refused(
            &[(BootstrapKey::Ethertype, "0xZZ"), (BootstrapKey::Ethertype, "0x")],
            false,
        );
    }

    #[test]
    fn numbers_are_strict_decimal_and_range_checked() {
        assert_eq!(set(BootstrapKey::MaxTtl, "255").unwrap().max_ttl, Some(255));
        assert_eq!(
            set(BootstrapKey::MaxTtl, "0"),
            Err(ValueProblem::OutOfRange {
                value: 0,
                min: 1,
                max: 255
            })
        );
        refused(
            &[
                (BootstrapKey::MaxTtl, "256"),
                (BootstrapKey::Port, "0"),
                (BootstrapKey::Port, "65536"),
            ],
            true,
        );
        refused(
            &[
                (BootstrapKey::MaxTtl, "-1"),
                (BootstrapKey::MaxTtl, "6o"),
                (BootstrapKey::MaxTtl, "99999999999999999999999"),
            ],
            false,
        );
    }

    #[test]
    fn dht_ranges_are_those_the_c_file_parser_checks() {
        let cases = [
            (BootstrapKey::DhtAlpha, 1, 10),
            (BootstrapKey::DhtK, 1, 20),
            (BootstrapKey::DhtTExpire, 10, 86400),
            (BootstrapKey::DhtTRefresh, 3, 3600),
            (BootstrapKey::DhtTReplicate, 3, 3600),
        ];
        for (key, min, max) in cases {
            let mut o = BootstrapOptions::default();
            assert!(o.set_int(key, min).is_ok(), "{key:?} {min}");
            assert!(o.set_int(key, max).is_ok(), "{key:?} {max}");
            assert_eq!(
                o.set_int(key, min - 1).unwrap_err().problem,
                ValueProblem::OutOfRange {
                    value: min - 1,
                    min,
                    max
                }
            );
            assert_eq!(
                o.set_int(key, max + 1).unwrap_err().problem,
                ValueProblem::OutOfRange {
                    value: max + 1,
                    min,
                    max
                }
            );
        }
    }

    #[test]
    fn addr_size_other_than_4_is_refused_with_the_reason() {
        let err = set(BootstrapKey::AddrSize, "2").unwrap_err().to_string();
        assert!(err.contains("only takes 4"), "{err}");
        assert_eq!(set(BootstrapKey::AddrSize, "4").unwrap().addr_size, Some(4));
    }

    #[test]
    fn resolve_fills_every_default() {
        let o = BootstrapOptions::default();
        assert_eq!(
            o.resolve(IpcpType::Unicast),
            Ok(BootstrapConfig::Unicast(UnicastConfig::default()))
        );
        assert_eq!(o.resolve(IpcpType::Broadcast), Ok(BootstrapConfig::Broadcast));
        assert_eq!(
            o.resolve(IpcpType::Local),
            Ok(BootstrapConfig::Local(LocalConfig {
                hash: HashAlgo::Sha3_256
            }))
        );
        let dix = BootstrapOptions {
            dev: Some("eth0".into()),
            ..Default::default()
        };
        assert_eq!(
            dix.resolve(IpcpType::EthDix),
            Ok(BootstrapConfig::EthDix(EthDixConfig {
                dev: "eth0".into(),
                ethertype: 0xA000,
                hash: HashAlgo::Sha3_256
            }))
        );
        let udp = set(BootstrapKey::Ip, "192.0.2.1").unwrap();
        assert_eq!(
            udp.resolve(IpcpType::Udp4),
            Ok(BootstrapConfig::Udp4(Udp4Config {
                ip: Ipv4Addr::new(192, 0, 2, 1),
                port: 3435,
                dns: None
            }))
        );
    }

    #[test]
    fn resolve_refuses_an_option_the_type_does_not_take() {
        let o = set(BootstrapKey::MaxTtl, "30").unwrap();
        assert_eq!(
            o.resolve(IpcpType::Local),
            Err(BootstrapError {
                key: BootstrapKey::MaxTtl,
                problem: ValueProblem::NotForType(IpcpType::Local)
            })
        );
        let o = set(BootstrapKey::Hash, "SHA3_512").unwrap();
        assert!(o.resolve(IpcpType::Broadcast).is_err());
        assert!(o.resolve(IpcpType::Udp4).is_err());
        assert!(o.resolve(IpcpType::EthLlc).is_err()); // dev missing, but hash is fine
    }

    #[test]
    fn resolve_requires_ip_for_udp_and_dev_for_ethernet() {
        let o = BootstrapOptions::default();
        for (t, key) in [
            (IpcpType::Udp4, BootstrapKey::Ip),
            (IpcpType::Udp6, BootstrapKey::Ip),
            (IpcpType::EthLlc, BootstrapKey::Dev),
            (IpcpType::EthDix, BootstrapKey::Dev),
        ] {
            assert_eq!(
                o.resolve(t),
                Err(BootstrapError {
                    key,
                    problem: ValueProblem::Required(t)
                })
            );
        }
    }

    #[test]
    fn udp_addresses_must_match_the_family_and_not_be_unspecified() {
        let v6 = set(BootstrapKey::Ip, "::1").unwrap();
        let err = v6.resolve(IpcpType::Udp4).unwrap_err();
        assert_eq!(err.key, BootstrapKey::Ip);
        assert!(err.to_string().contains("not an IPv4 address"), "{err}");
        assert!(v6.resolve(IpcpType::Udp6).is_ok());
        let any = set(BootstrapKey::Ip, "0.0.0.0").unwrap();
        assert!(
            any.resolve(IpcpType::Udp4)
                .unwrap_err()
                .to_string()
                .contains("unspecified")
        );
        let any6 = set(BootstrapKey::Ip, "::").unwrap();
        assert!(any6.resolve(IpcpType::Udp6).is_err());
        assert!(matches!(
            set(BootstrapKey::Ip, "1.2.3"),
            Err(ValueProblem::Invalid { .. })
        ));
        let mut dns = set(BootstrapKey::Ip, "192.0.2.1").unwrap();
        dns.set_str(BootstrapKey::Dns, "::1").unwrap();
        assert_eq!(dns.resolve(IpcpType::Udp4).unwrap_err().key, BootstrapKey::Dns);
        dns.set_str(BootstrapKey::Dns, "0.0.0.0").unwrap();
        assert!(matches!(
            dns.resolve(IpcpType::Udp4),
            Ok(BootstrapConfig::Udp4(Udp4Config { dns: None, .. }))
        ));
    }

    #[test]
    fn dev_is_one_to_fifteen_octets() {
        assert!(set(BootstrapKey::Dev, "enp0s31f6").is_ok());
        assert_eq!(
            set(BootstrapKey::Dev, "a-very-long-ifname"),
            Err(ValueProblem::TooLong { len: 18, max: 15 })
        );
        assert!(set(BootstrapKey::Dev, "").is_err());
    }

    #[test]
    fn forced_hashes_are_sha3_256_for_broadcast_and_md5_for_udp() {
        assert_eq!(BootstrapConfig::Broadcast.dir_hash_algo(), HashAlgo::Sha3_256);
        let udp = set(BootstrapKey::Ip, "::1").unwrap().resolve(IpcpType::Udp6).unwrap();
        assert_eq!(udp.dir_hash_algo(), HashAlgo::Md5);
        assert_eq!(udp.ipcp_type(), IpcpType::Udp6);
    }

    #[test]
    fn every_key_applies_to_some_type_and_has_a_kind_and_both_spellings() {
        for key in BootstrapKey::ALL {
            assert!(IpcpType::ALL.into_iter().any(|t| key.applies_to(t)), "{key:?}");
            assert!(!key.cli_keyword().is_empty() && !key.toml_key().is_empty());
            if key.value_kind() == ValueKind::Int {
                assert!(key.range().is_some(), "{key:?} has no range");
            }
        }
    }

    #[test]
    fn a_string_key_set_as_integer_is_a_type_error() {
        let mut o = BootstrapOptions::default();
        assert_eq!(
            o.set_int(BootstrapKey::Hash, 1).unwrap_err().problem,
            ValueProblem::WrongType {
                expected: "a string",
                found: "an integer"
            }
        );
    }
}
