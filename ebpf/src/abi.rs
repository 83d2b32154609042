//! Map layouts shared with the C programs: the Rust mirror of
//! `bpf/o7s_abi.h` (keep the two in step; the tests below pin the numbers).
//!
//! | map | kind | key | value |
//! |---|---|---|---|
//! | `o7s_cfg` | `ARRAY[1]` | `0` | `struct o7s_cfg` (16 octets, host order): ethertype, udp_port, flags, mac, max_frame |
//! | `o7s_stats` | `PERCPU_ARRAY[13]` | [`Stat`] | `u64` per CPU |
//! | `xsks` | `XSKMAP[64]` | rx queue | AF_XDP socket fd |
//! | `o7s_self` | `ARRAY[1]` | `0` | `struct o7s_self` (8 octets): own address (0: fast path off), max_ttl |
//! | `o7s_demux` | `ARRAY[65536]` | shim EID (on this interface) | `struct o7s_flow` (12 octets): cube + 1 (0 = no flow), peer MAC |
//! | `o7s_fib` | `HASH` | `struct o7s_fib_key` = `[cube, dst]` | `struct o7s_nexthop` (20 octets) |
//! | `o7s_tx` | `DEVMAP_HASH` | ifindex | `struct bpf_devmap_val` |
//! | `tx_port` | `DEVMAP[1]` | `0` | `struct bpf_devmap_val` (egress ifindex) |
//! | `sink_counts` | `PERCPU_ARRAY[1]` | `0` | `struct sink_count` = `[packets, bytes]` as `u64`s, per CPU |

/// Map names, as the C programs spell them.
pub(crate) const MAP_CONFIG: &str = "o7s_cfg";
pub(crate) const MAP_STATS: &str = "o7s_stats";
pub(crate) const MAP_XSKS: &str = "xsks";
pub(crate) const MAP_SELF: &str = "o7s_self";
pub(crate) const MAP_DEMUX: &str = "o7s_demux";
pub(crate) const MAP_FIB: &str = "o7s_fib";
pub(crate) const MAP_TX: &str = "o7s_tx";
pub(crate) const MAP_TX_PORT: &str = "tx_port";
pub(crate) const MAP_SINK_COUNTS: &str = "sink_counts";

/// `O7S_DEFAULT_ETHERTYPE`: the program uses it while `o7s_cfg` is zero.
pub(crate) const DEFAULT_ETHERTYPE: u16 = 0xA000;
/// `O7S_DEFAULT_UDP_PORT`.
pub(crate) const DEFAULT_UDP_PORT: u16 = 3435;
/// `O7S_MAX_QUEUES`: slots in `xsks`.
pub(crate) const MAX_QUEUES: u32 = 64;

/// `struct o7s_cfg { u16 ethertype; u16 udp_port; u32 flags; u8 mac[6];
/// u16 max_frame; }` as 16 octets in host order (no padding: every field is
/// naturally aligned); an array is already `aya::Pod`, so no `unsafe impl`
/// is needed for a struct of our own.
pub(crate) type ConfigValue = [u8; 16];

/// `O7S_CFG_NO_UDP`: leave UDP to the kernel.
pub(crate) const CFG_NO_UDP: u32 = 0x1;
/// `O7S_CFG_CHECK_DST`: drop o7s frames for other MACs than `mac`.
pub(crate) const CFG_CHECK_DST: u32 = 0x2;
/// `O7S_CFG_LLC`: the port serves eth-llc: steer 802.2 LLC frames instead
/// of the Ethertype's.
pub(crate) const CFG_LLC: u32 = 0x4;

pub(crate) fn config_value(ethertype: u16, udp_port: u16, flags: u32, mac: [u8; 6], max_frame: u16) -> ConfigValue {
    let mut v = [0u8; 16];
    v[0..2].copy_from_slice(&ethertype.to_ne_bytes());
    v[2..4].copy_from_slice(&udp_port.to_ne_bytes());
    v[4..8].copy_from_slice(&flags.to_ne_bytes());
    v[8..14].copy_from_slice(&mac);
    v[14..16].copy_from_slice(&max_frame.to_ne_bytes());
    v
}

/// `struct o7s_self { u32 address; u8 max_ttl; u8 pad[3]; }`.
pub(crate) type SelfValue = [u8; 8];

pub(crate) fn self_value(address: u32, max_ttl: u8) -> SelfValue {
    let mut v = [0u8; 8];
    v[0..4].copy_from_slice(&address.to_ne_bytes());
    v[4] = max_ttl;
    v
}

/// `struct o7s_flow { u32 cube1; u8 peer_mac[6]; u16 pad; }`.
pub(crate) type FlowValue = [u8; 12];

pub(crate) fn flow_value(cube: u32, peer_mac: [u8; 6]) -> FlowValue {
    let mut v = [0u8; 12];
    v[0..4].copy_from_slice(&(cube + 1).to_ne_bytes());
    v[4..10].copy_from_slice(&peer_mac);
    v
}

/// `O7S_DEMUX_EIDS`, `O7S_MAX_ROUTES`, `O7S_MAX_TX`: fast-path map sizes
/// (the demux is an array indexed by the 16-bit shim EID).
pub(crate) const DEMUX_EIDS: u32 = 65536;
pub(crate) const MAX_ROUTES: u32 = 65536;
pub(crate) const MAX_TX: u32 = 64;

/// `struct o7s_fib_key { u32 cube; u32 dst; }`.
pub(crate) type FibKey = [u32; 2];
/// `struct o7s_nexthop { u32 ifindex; u8 dst_mac[6]; u8 src_mac[6]; u16 eid;
/// u16 pad; }` as 20 octets (no padding: every field is naturally aligned).
pub(crate) type NextHopValue = [u8; 20];

pub(crate) fn next_hop_value(ifindex: u32, dst_mac: [u8; 6], src_mac: [u8; 6], eid: u16) -> NextHopValue {
    let mut v = [0u8; 20];
    v[0..4].copy_from_slice(&ifindex.to_ne_bytes());
    v[4..10].copy_from_slice(&dst_mac);
    v[10..16].copy_from_slice(&src_mac);
    v[16..18].copy_from_slice(&eid.to_ne_bytes());
    v
}

/// `struct sink_count { u64 packets; u64 bytes; }` (in `redirect.bpf.c`) as
/// an array, which is already `aya::Pod`.
pub(crate) type SinkCountValue = [u64; 2];

/// `enum o7s_stat`: the index of each counter in `o7s_stats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Stat {
    RedirectedEth = 0,
    RedirectedUdp = 1,
    NoXskEth = 2,
    NoXskUdp = 3,
    Passed = 4,
    Malformed = 5,
    FastForwarded = 6,
    Vlan = 7,
    NotForUs = 8,
    MulticastDst = 9,
    Oversize = 10,
    SpoofedSrc = 11,
    FastTxError = 12,
}

impl Stat {
    /// `O7S_STAT_COUNT`.
    pub(crate) const COUNT: u32 = 13;
    pub(crate) const ALL: [Self; Self::COUNT as usize] = [
        Self::RedirectedEth,
        Self::RedirectedUdp,
        Self::NoXskEth,
        Self::NoXskUdp,
        Self::Passed,
        Self::Malformed,
        Self::FastForwarded,
        Self::Vlan,
        Self::NotForUs,
        Self::MulticastDst,
        Self::Oversize,
        Self::SpoofedSrc,
        Self::FastTxError,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = include_str!("../bpf/o7s_abi.h");

    /// The value of `#define NAME value` or `NAME = value,` in the C header.
    fn c_constant(name: &str) -> u64 {
        let line = HEADER
            .lines()
            .find(|l| {
                let l = l.trim_start();
                l.starts_with(&format!("#define {name} ")) || l.starts_with(&format!("{name} "))
            })
            .unwrap_or_else(|| panic!("{name} not in o7s_abi.h"));
        let value = line
            .split(|c: char| c.is_whitespace() || c == '=' || c == ',')
            .filter(|t| !t.is_empty())
            .nth(if line.trim_start().starts_with('#') { 2 } else { 1 })
            .unwrap_or_else(|| panic!("no value on {line:?}"));
        match value.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => value.parse(),
        }
        .unwrap_or_else(|e| panic!("{name} = {value:?}: {e}"))
    }

    #[test]
    fn constants_match_the_c_header() {
        assert_eq!(c_constant("O7S_DEFAULT_ETHERTYPE"), u64::from(DEFAULT_ETHERTYPE));
        assert_eq!(c_constant("O7S_DEFAULT_UDP_PORT"), u64::from(DEFAULT_UDP_PORT));
        assert_eq!(c_constant("O7S_MAX_QUEUES"), u64::from(MAX_QUEUES));
        assert_eq!(c_constant("O7S_STAT_COUNT"), u64::from(Stat::COUNT));
        assert_eq!(c_constant("O7S_DEMUX_EIDS"), u64::from(DEMUX_EIDS));
        assert_eq!(c_constant("O7S_MAX_ROUTES"), u64::from(MAX_ROUTES));
        assert_eq!(c_constant("O7S_MAX_TX"), u64::from(MAX_TX));
    }

    #[test]
    fn stat_indices_match_the_c_enum() {
        let names = [
            (Stat::RedirectedEth, "O7S_STAT_REDIRECTED_ETH"),
            (Stat::RedirectedUdp, "O7S_STAT_REDIRECTED_UDP"),
            (Stat::NoXskEth, "O7S_STAT_NO_XSK_ETH"),
            (Stat::NoXskUdp, "O7S_STAT_NO_XSK_UDP"),
            (Stat::Passed, "O7S_STAT_PASSED"),
            (Stat::Malformed, "O7S_STAT_MALFORMED"),
            (Stat::FastForwarded, "O7S_STAT_FAST_FORWARDED"),
            (Stat::Vlan, "O7S_STAT_VLAN"),
            (Stat::NotForUs, "O7S_STAT_NOT_FOR_US"),
            (Stat::MulticastDst, "O7S_STAT_MULTICAST_DST"),
            (Stat::Oversize, "O7S_STAT_OVERSIZE"),
            (Stat::SpoofedSrc, "O7S_STAT_SPOOFED_SRC"),
            (Stat::FastTxError, "O7S_STAT_FAST_TX_ERROR"),
        ];
        assert_eq!(names.len(), Stat::ALL.len());
        for ((stat, name), listed) in names.into_iter().zip(Stat::ALL) {
            assert_eq!(stat, listed);
            assert_eq!(c_constant(name), stat as u64, "{name}");
        }
    }

    #[test]
    fn sink_count_value_is_two_u64s_in_the_c_order() {
        const SOURCE: &str = include_str!("../bpf/redirect.bpf.c");
        let body = SOURCE
            .split("struct sink_count {")
            .nth(1)
            .and_then(|rest| rest.split("};").next())
            .expect("struct sink_count in redirect.bpf.c");
        let fields: Vec<&str> = body
            .lines()
            .filter_map(|l| l.trim().strip_prefix("__u64 "))
            .map(|l| l.split(';').next().unwrap_or_default())
            .collect();
        assert_eq!(fields, ["packets", "bytes"]);
        assert_eq!(size_of::<SinkCountValue>(), 16);
    }

    /// The field declarations of `struct name` in the C header.
    fn c_fields(name: &str) -> Vec<String> {
        HEADER
            .split(&format!("struct {name} {{"))
            .nth(1)
            .and_then(|rest| rest.split("};").next())
            .unwrap_or_else(|| panic!("struct {name} in o7s_abi.h"))
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("__"))
            .map(|l| l.split(';').next().unwrap_or_default().to_owned())
            .collect()
    }

    #[test]
    fn config_value_is_struct_o7s_cfg() {
        // Two u16s, a u32, six octets and a u16: 16 octets, every field
        // at a multiple of its size.
        assert_eq!(
            c_fields("o7s_cfg"),
            [
                "__u16 ethertype",
                "__u16 udp_port",
                "__u32 flags",
                "__u8 mac[6]",
                "__u16 max_frame"
            ]
        );
        assert_eq!(size_of::<ConfigValue>(), 16);
        assert_eq!(c_constant("O7S_CFG_NO_UDP"), u64::from(CFG_NO_UDP));
        assert_eq!(c_constant("O7S_CFG_CHECK_DST"), u64::from(CFG_CHECK_DST));
        assert_eq!(c_constant("O7S_CFG_LLC"), u64::from(CFG_LLC));
        let v = config_value(0xA000, 3435, CFG_NO_UDP | CFG_CHECK_DST, [1, 2, 3, 4, 5, 6], 1792);
        assert_eq!(u16::from_ne_bytes([v[0], v[1]]), 0xA000);
        assert_eq!(u16::from_ne_bytes([v[2], v[3]]), 3435);
        assert_eq!(u32::from_ne_bytes(v[4..8].try_into().unwrap()), 3);
        assert_eq!(&v[8..14], &[1, 2, 3, 4, 5, 6]);
        assert_eq!(u16::from_ne_bytes([v[14], v[15]]), 1792);
    }

    #[test]
    fn self_and_flow_values_are_the_c_structs() {
        assert_eq!(c_fields("o7s_self"), ["__u32 address", "__u8 max_ttl", "__u8 pad[3]"]);
        let v = self_value(0x0A00_0001, 60);
        assert_eq!(u32::from_ne_bytes(v[0..4].try_into().unwrap()), 0x0A00_0001);
        assert_eq!(v[4..], [60, 0, 0, 0]);
        assert_eq!(c_fields("o7s_flow"), ["__u32 cube1", "__u8 peer_mac[6]", "__u16 pad"]);
        let v = flow_value(2, [9; 6]);
        assert_eq!(u32::from_ne_bytes(v[0..4].try_into().unwrap()), 3, "cube + 1");
        assert_eq!(&v[4..10], &[9; 6]);
        assert_eq!(v[10..], [0, 0]);
    }

    #[test]
    fn fast_path_layouts_match_the_c_structs() {
        // struct o7s_fib_key: two u32s; o7s_nexthop: u32, 6 + 6 octets,
        // u16, u16 = 20 octets with no padding.
        assert_eq!(size_of::<FibKey>(), 8);
        assert_eq!(size_of::<NextHopValue>(), 20);
        assert_eq!(
            c_fields("o7s_nexthop"),
            [
                "__u32 ifindex",
                "__u8 dst_mac[6]",
                "__u8 src_mac[6]",
                "__u16 eid",
                "__u16 pad"
            ]
        );
        let v = next_hop_value(7, [1, 2, 3, 4, 5, 6], [9; 6], 300);
        assert_eq!(u32::from_ne_bytes(v[0..4].try_into().unwrap()), 7);
        assert_eq!(&v[4..10], &[1, 2, 3, 4, 5, 6]);
        assert_eq!(&v[10..16], &[9; 6]);
        assert_eq!(u16::from_ne_bytes([v[16], v[17]]), 300);
    }
}
