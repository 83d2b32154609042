//! Map layouts shared with the C programs: the Rust mirror of
//! `bpf/o7s_abi.h` (keep the two in step; the tests below pin the numbers).
//!
//! | map | kind | key | value |
//! |---|---|---|---|
//! | `o7s_cfg` | `ARRAY[1]` | `0` | `struct o7s_cfg` = `[ethertype, udp_port, 0, 0]` as host-order `u16`s |
//! | `o7s_stats` | `PERCPU_ARRAY[7]` | [`Stat`] | `u64` per CPU |
//! | `xsks` | `XSKMAP[64]` | rx queue | AF_XDP socket fd |
//! | `o7s_self` | `ARRAY[1]` | `0` | `u32` own address (0: fast path off) |
//! | `o7s_demux` | `ARRAY[65536]` | shim EID (on this interface) | `u32` cube + 1, 0 = no flow |
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

/// `struct o7s_cfg { u16 ethertype; u16 udp_port; u32 flags; }` as four
/// host-order `u16`s: an array is already `aya::Pod`, so no `unsafe impl`
/// is needed for a struct of our own.
pub(crate) type ConfigValue = [u16; 4];

/// `O7S_CFG_NO_UDP`: leave UDP to the kernel.
pub(crate) const CFG_NO_UDP: u32 = 0x1;

pub(crate) const fn config_value(ethertype: u16, udp_port: u16, flags: u32) -> ConfigValue {
    // The u32 lies in host order over the last two u16s.
    let f = flags.to_ne_bytes();
    [
        ethertype,
        udp_port,
        u16::from_ne_bytes([f[0], f[1]]),
        u16::from_ne_bytes([f[2], f[3]]),
    ]
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
}

impl Stat {
    /// `O7S_STAT_COUNT`.
    pub(crate) const COUNT: u32 = 7;
    pub(crate) const ALL: [Self; Self::COUNT as usize] = [
        Self::RedirectedEth,
        Self::RedirectedUdp,
        Self::NoXskEth,
        Self::NoXskUdp,
        Self::Passed,
        Self::Malformed,
        Self::FastForwarded,
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

    #[test]
    fn config_value_is_struct_o7s_cfg() {
        // struct o7s_cfg is two u16s and a u32: 8 bytes, 2-byte aligned fields.
        assert_eq!(size_of::<ConfigValue>(), 8);
        assert_eq!(config_value(0xA000, 3435, 0), [0xA000, 3435, 0, 0]);
        let flags = config_value(0xA000, 3435, CFG_NO_UDP);
        assert_eq!(
            u32::from_ne_bytes(
                [flags[2].to_ne_bytes(), flags[3].to_ne_bytes()]
                    .concat()
                    .try_into()
                    .unwrap()
            ),
            1
        );
    }

    #[test]
    fn fast_path_layouts_match_the_c_structs() {
        // struct o7s_fib_key: two u32s; o7s_nexthop: u32, 6 + 6 octets,
        // u16, u16 = 20 octets with no padding.
        assert_eq!(size_of::<FibKey>(), 8);
        assert_eq!(size_of::<NextHopValue>(), 20);
        let body = HEADER
            .split("struct o7s_nexthop {")
            .nth(1)
            .and_then(|rest| rest.split("};").next())
            .expect("struct o7s_nexthop in o7s_abi.h");
        let fields: Vec<&str> = body
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("__"))
            .map(|l| l.split(';').next().unwrap_or_default())
            .collect();
        assert_eq!(
            fields,
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
