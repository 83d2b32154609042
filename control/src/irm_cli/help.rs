//! Usage texts: one per command and per group, generated from the same
//! keyword tables and defaults the parser uses, each ending with examples
//! that the tests parse.

use core::fmt;
use std::fmt::Write as _;

use o7s_wire::eth::{ETHERTYPE_O7S, ETHERTYPE_VALID};
use o7s_wire::udp::DEFAULT_PORT;

use super::{BIND_OPS, GROUPS, IPCP_OPS, Keywords, MAX_REGISTER_TARGETS, NAME_OPS, UNBIND_OPS};
use crate::ipcp_config::{DhtParams, IpcpType, LinkStateConfig, MAX_DEV_LEN, UnicastConfig};
use crate::name_info::{LoadBalance, MAX_NAME_LEN, SecurityFile};

/// What `irm help` can explain: the whole tool, a group, or one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HelpTopic {
    /// `irm`.
    Irm,
    /// `irm ipcp`.
    Ipcp,
    /// `irm ipcp create`.
    IpcpCreate,
    /// `irm ipcp destroy`.
    IpcpDestroy,
    /// `irm ipcp bootstrap`.
    IpcpBootstrap,
    /// `irm ipcp enroll`.
    IpcpEnroll,
    /// `irm ipcp connect`.
    IpcpConnect,
    /// `irm ipcp disconnect`.
    IpcpDisconnect,
    /// `irm ipcp list`.
    IpcpList,
    /// `irm ipcp stats`.
    IpcpStats,
    /// `irm bind`.
    Bind,
    /// `irm bind program`.
    BindProgram,
    /// `irm bind process`.
    BindProcess,
    /// `irm bind ipcp`.
    BindIpcp,
    /// `irm unbind`.
    Unbind,
    /// `irm unbind program`.
    UnbindProgram,
    /// `irm unbind process`.
    UnbindProcess,
    /// `irm unbind ipcp`.
    UnbindIpcp,
    /// `irm name`.
    Name,
    /// `irm name create`.
    NameCreate,
    /// `irm name destroy`.
    NameDestroy,
    /// `irm name register`.
    NameRegister,
    /// `irm name unregister`.
    NameUnregister,
    /// `irm name list`.
    NameList,
}

impl HelpTopic {
    /// Every topic.
    pub const ALL: [HelpTopic; 24] = [
        HelpTopic::Irm,
        HelpTopic::Ipcp,
        HelpTopic::IpcpCreate,
        HelpTopic::IpcpDestroy,
        HelpTopic::IpcpBootstrap,
        HelpTopic::IpcpEnroll,
        HelpTopic::IpcpConnect,
        HelpTopic::IpcpDisconnect,
        HelpTopic::IpcpList,
        HelpTopic::IpcpStats,
        HelpTopic::Bind,
        HelpTopic::BindProgram,
        HelpTopic::BindProcess,
        HelpTopic::BindIpcp,
        HelpTopic::Unbind,
        HelpTopic::UnbindProgram,
        HelpTopic::UnbindProcess,
        HelpTopic::UnbindIpcp,
        HelpTopic::Name,
        HelpTopic::NameCreate,
        HelpTopic::NameDestroy,
        HelpTopic::NameRegister,
        HelpTopic::NameUnregister,
        HelpTopic::NameList,
    ];

    /// The command line that leads here, in full (`irm ipcp bootstrap`).
    pub const fn command(self) -> &'static str {
        match self {
            HelpTopic::Irm => "irm",
            HelpTopic::Ipcp => "irm ipcp",
            HelpTopic::IpcpCreate => "irm ipcp create",
            HelpTopic::IpcpDestroy => "irm ipcp destroy",
            HelpTopic::IpcpBootstrap => "irm ipcp bootstrap",
            HelpTopic::IpcpEnroll => "irm ipcp enroll",
            HelpTopic::IpcpConnect => "irm ipcp connect",
            HelpTopic::IpcpDisconnect => "irm ipcp disconnect",
            HelpTopic::IpcpList => "irm ipcp list",
            HelpTopic::IpcpStats => "irm ipcp stats",
            HelpTopic::Bind => "irm bind",
            HelpTopic::BindProgram => "irm bind program",
            HelpTopic::BindProcess => "irm bind process",
            HelpTopic::BindIpcp => "irm bind ipcp",
            HelpTopic::Unbind => "irm unbind",
            HelpTopic::UnbindProgram => "irm unbind program",
            HelpTopic::UnbindProcess => "irm unbind process",
            HelpTopic::UnbindIpcp => "irm unbind ipcp",
            HelpTopic::Name => "irm name",
            HelpTopic::NameCreate => "irm name create",
            HelpTopic::NameDestroy => "irm name destroy",
            HelpTopic::NameRegister => "irm name register",
            HelpTopic::NameUnregister => "irm name unregister",
            HelpTopic::NameList => "irm name list",
        }
    }

    /// The arguments after [`HelpTopic::command`], for usage lines.
    const fn synopsis(self) -> &'static str {
        match self {
            HelpTopic::Irm => "<group> <operation> [<argument>]...",
            HelpTopic::Ipcp | HelpTopic::Bind | HelpTopic::Unbind | HelpTopic::Name => "<operation> [<argument>]...",
            HelpTopic::IpcpCreate => "name <ipcp> type <type>",
            HelpTopic::IpcpDestroy => "name <ipcp>",
            HelpTopic::IpcpBootstrap => "name <ipcp> layer <layer> [type <type>] [autobind] [<option> <value>]...",
            HelpTopic::IpcpEnroll => "name <ipcp> [layer <layer>] [dst <member>] [type unicast|broadcast] [autobind]",
            HelpTopic::IpcpConnect => "name <ipcp> dst <member> [component dt|mgmt] [qos raw|best|video|voice|data]",
            HelpTopic::IpcpDisconnect => "name <ipcp> dst <member> [component dt|mgmt]",
            HelpTopic::IpcpList => "[name <ipcp>] [layer <layer>] [type <type>]",
            HelpTopic::IpcpStats => "[name <ipcp>]",
            HelpTopic::BindProgram => "<program> name <name> [auto] [-- <argument>...]",
            HelpTopic::BindProcess => "<pid> name <name>",
            HelpTopic::BindIpcp => "<ipcp> name <name>",
            HelpTopic::UnbindProgram => "<program> [name <name>]",
            HelpTopic::UnbindProcess => "<pid> [name <name>]",
            HelpTopic::UnbindIpcp => "<ipcp> [name <name>]",
            HelpTopic::NameCreate => "<name> [lb round-robin|spillover] [<file> <path>]...",
            HelpTopic::NameDestroy => "<name>",
            HelpTopic::NameRegister => "<name> [ipcp <ipcp>]... [layer <layer>]...",
            HelpTopic::NameUnregister => "<name> [ipcp <ipcp>]... [layer <layer>]...",
            HelpTopic::NameList => "",
        }
    }

    /// One line on what the command or group is for.
    const fn about(self) -> &'static str {
        match self {
            HelpTopic::Irm => "manage the IPC Resource Manager: IPC processes, names, bindings, registrations",
            HelpTopic::Ipcp => "manage IPC processes (IPCPs) and the layers they form",
            HelpTopic::IpcpCreate => "start an IPCP, not yet a member of any layer",
            HelpTopic::IpcpDestroy => "stop an IPCP",
            HelpTopic::IpcpBootstrap => "make an IPCP the first member of a new layer",
            HelpTopic::IpcpEnroll => "make an IPCP a member of an existing layer through one of its members",
            HelpTopic::IpcpConnect => "open management and/or data-transfer flows to a member of the layer",
            HelpTopic::IpcpDisconnect => "close those flows",
            HelpTopic::IpcpList => "show the IPCPs",
            HelpTopic::IpcpStats => "show an IPCP's packet and drop counters (an o7s command)",
            HelpTopic::Bind => "say which programs, processes and IPCPs accept flows for a name",
            HelpTopic::BindProgram => "every instance of a program accepts flows for a name",
            HelpTopic::BindProcess => "one running process accepts flows for a name",
            HelpTopic::BindIpcp => "an IPCP accepts flows for a name (as `autobind` does)",
            HelpTopic::Unbind => "undo a binding",
            HelpTopic::UnbindProgram => "a program no longer accepts flows for one name, or any",
            HelpTopic::UnbindProcess => "a process no longer accepts flows for one name, or any",
            HelpTopic::UnbindIpcp => "an IPCP no longer accepts flows for one name, or any",
            HelpTopic::Name => "manage names and their registration in layers",
            HelpTopic::NameCreate => "create a name with its load-balancing policy and security files",
            HelpTopic::NameDestroy => "remove a name",
            HelpTopic::NameRegister => "make a name reachable through IPCPs or whole layers",
            HelpTopic::NameUnregister => "withdraw a name from IPCPs or layers",
            HelpTopic::NameList => "show the names",
        }
    }

    /// Command lines that show the topic's use; each one parses.
    pub const fn examples(self) -> &'static [&'static str] {
        match self {
            HelpTopic::Irm => &[
                "irm ipcp bootstrap type local name lo layer lo",
                "irm i b t local n lo l lo",
                "irm b prog /usr/bin/oping n oping",
                "irm n r oping l lo",
            ],
            HelpTopic::Ipcp => &[
                "irm ipcp create name lo type local",
                "irm i c n lo t local",
                "irm ipcp list",
            ],
            HelpTopic::IpcpCreate => &["irm ipcp create name lo type local"],
            HelpTopic::IpcpDestroy => &["irm ipcp destroy name lo"],
            HelpTopic::IpcpBootstrap => &[
                "irm ipcp bootstrap type local name lo layer lo",
                "irm ipcp bootstrap type unicast name uni.a layer net autobind",
                "irm ipcp bootstrap type unicast name uni.a layer net routing lfa ttl 30 hash SHA3_512",
                "irm ipcp bootstrap type eth-dix name dix.a layer eth dev eth0 ethertype 0xA007",
                "irm ipcp bootstrap type udp4 name udp.a layer udp ip 192.0.2.1 port 9000",
                "irm ipcp bootstrap type udp6 name udp6.a layer udp6 ip 2001:db8::1",
                "irm ipcp bootstrap name uni.a layer net",
            ],
            HelpTopic::IpcpEnroll => &[
                "irm ipcp enroll name uni.b layer net autobind",
                "irm ipcp enroll name bc.b dst bc.a type broadcast",
            ],
            HelpTopic::IpcpConnect => &[
                "irm ipcp connect name uni.b dst uni.a",
                "irm ipcp connect name uni.b dst uni.a component dt qos voice",
            ],
            HelpTopic::IpcpDisconnect => &["irm ipcp disconnect name uni.b dst uni.a"],
            HelpTopic::IpcpList => &["irm ipcp list", "irm ipcp list type unicast layer net"],
            HelpTopic::IpcpStats => &["irm ipcp stats", "irm ipcp stats name dix.a"],
            HelpTopic::Bind => &["irm bind program /usr/bin/oping name oping auto -- -l"],
            HelpTopic::BindProgram => &[
                "irm bind program /usr/bin/oping name oping",
                "irm bind program /usr/bin/oping name oping auto -- -l",
            ],
            HelpTopic::BindProcess => &["irm bind process 4242 name oping"],
            HelpTopic::BindIpcp => &["irm bind ipcp uni.a name net.a"],
            HelpTopic::Unbind => &["irm unbind program /usr/bin/oping"],
            HelpTopic::UnbindProgram => &[
                "irm unbind program /usr/bin/oping",
                "irm unbind program /usr/bin/oping name oping",
            ],
            HelpTopic::UnbindProcess => &["irm unbind process 4242 name oping"],
            HelpTopic::UnbindIpcp => &["irm unbind ipcp uni.a name net.a"],
            HelpTopic::Name => &["irm name create oping", "irm name register oping layer lo"],
            HelpTopic::NameCreate => &[
                "irm name create oping lb spillover",
                "irm name create oping.secure scrtpath /etc/o7s/crt.pem skeypath /etc/o7s/key.pem",
            ],
            HelpTopic::NameDestroy => &["irm name destroy oping"],
            HelpTopic::NameRegister => &[
                "irm name register oping layer lo",
                "irm name register oping ipcp uni.a ipcp uni.b layer eth",
            ],
            HelpTopic::NameUnregister => &["irm name unregister oping layer lo"],
            HelpTopic::NameList => &["irm name list"],
        }
    }

    /// The group's operations table, for a group topic.
    fn ops(self) -> Option<&'static Keywords<Option<HelpTopic>>> {
        match self {
            HelpTopic::Ipcp => Some(&IPCP_OPS),
            HelpTopic::Bind => Some(&BIND_OPS),
            HelpTopic::Unbind => Some(&UNBIND_OPS),
            HelpTopic::Name => Some(&NAME_OPS),
            _ => None,
        }
    }
}

impl fmt::Display for HelpTopic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.command())
    }
}

/// The usage text of a topic.
pub fn help(topic: HelpTopic) -> String {
    let mut out = format!("{} - {}\n\nUsage:\n", topic.command(), topic.about());
    match topic.ops() {
        Some(ops) => {
            let width = ops.0.iter().map(|(kw, _)| kw.len()).max().unwrap_or(0);
            for (kw, op) in ops.0 {
                let synopsis = op.map_or("[<operation>]", HelpTopic::synopsis);
                let _ = writeln!(out, "  {} {kw:width$}  {synopsis}", topic.command());
            }
        }
        None if topic == HelpTopic::Irm => {
            let _ = writeln!(out, "  irm {}", topic.synopsis());
        }
        None => {
            let _ = writeln!(out, "  {} {}", topic.command(), topic.synopsis());
        }
    }
    let details = details(topic);
    if !details.is_empty() {
        out.push('\n');
        out.push_str(&details);
    }
    out.push_str("\nExamples:\n");
    for example in topic.examples() {
        let _ = writeln!(out, "  {example}");
    }
    out
}

const ABBREVIATION: &str = "\
Every keyword - group, operation or argument name - may be cut to any prefix;
when a prefix fits several, the first in the order shown wins:
`irm i b` is `irm ipcp bootstrap`, `irm n r` is `irm name register`.
";

fn details(topic: HelpTopic) -> String {
    let hashes = "SHA3_224, SHA3_256, SHA3_384 or SHA3_512";
    match topic {
        HelpTopic::Irm => {
            let mut s = String::from("Groups and their operations:\n");
            for (kw, group) in GROUPS.0 {
                let ops = match group.ops() {
                    Some(ops) => ops.list(),
                    None => "[<group> [<operation>]]: these texts".to_owned(),
                };
                let _ = writeln!(s, "  {kw:<7} {ops}");
            }
            let _ = write!(s, "\n{ABBREVIATION}");
            s
        }
        HelpTopic::Ipcp => format!(
            "<type> is one of {}.\n<ipcp> may be a shell pattern (`uni.*`) for bootstrap and enroll.\n\n{ABBREVIATION}",
            IpcpType::KEYWORDS
        ),
        HelpTopic::Bind | HelpTopic::Unbind | HelpTopic::Name => ABBREVIATION.to_owned(),
        HelpTopic::IpcpCreate => format!("<type> is one of {}.\n", IpcpType::KEYWORDS),
        HelpTopic::IpcpBootstrap => bootstrap_details(hashes),
        HelpTopic::IpcpEnroll => "\
Enrols through the member called <member> (default: the layer name, which
members with `autobind` accept flows for); with `layer`, the layer learned
must be that one. Creates the IPCP (default type unicast) if none matches.
`autobind` then binds the IPCP to its own name and to the layer name.
"
        .to_owned(),
        HelpTopic::IpcpConnect => "\
Without `component`, both: management first (always QoS raw), then data
transfer with `qos` (default raw). `qos` goes with the dt component only.
"
        .to_owned(),
        HelpTopic::IpcpDisconnect => "Without `component`, both: data transfer first, then management.\n".to_owned(),
        HelpTopic::IpcpList => format!(
            "Every filter narrows the list; <type> is one of {}.\n",
            IpcpType::KEYWORDS
        ),
        HelpTopic::IpcpStats => "\
Per IPCP (every one without `name`): packets and octets received, sent and
delivered, management messages, and every drop counted by its reason, in
the dataplane and in the IPCP's control half. Not in the C prototype.
"
        .to_owned(),
        HelpTopic::BindProgram => "\
Every instance of <program> then accepts flows for <name>. With `auto`, irmd
starts the program, with the arguments after `--`, when a flow arrives for
<name> and no instance accepts it.
"
        .to_owned(),
        HelpTopic::UnbindProgram | HelpTopic::UnbindProcess | HelpTopic::UnbindIpcp => {
            "Without `name`, every binding of it is removed.\n".to_owned()
        }
        HelpTopic::NameCreate => {
            let mut s = format!(
                "<name> is 1-{MAX_NAME_LEN} octets. lb defaults to {}.\nSecurity files (default <security dir>/server|client/<name>/<file>):\n",
                LoadBalance::CLI_DEFAULT
            );
            for file in SecurityFile::ALL {
                let side = if file.cli_keyword().starts_with('s') {
                    "server"
                } else {
                    "client"
                };
                let _ = writeln!(
                    s,
                    "  {} <path>   {side} {}",
                    file.cli_keyword(),
                    file.default_file_name()
                );
            }
            s
        }
        HelpTopic::NameRegister | HelpTopic::NameUnregister => format!(
            "At least one `ipcp` or `layer`, at most {MAX_REGISTER_TARGETS} of each; both take shell patterns.\n\
             register creates the name (lb spillover) if it does not exist.\n"
        ),
        _ => String::new(),
    }
}

fn bootstrap_details(hashes: &str) -> String {
    let u = UnicastConfig::default();
    let ls = LinkStateConfig::default();
    let dht = DhtParams::default();
    let r = |range: core::ops::RangeInclusive<u32>| format!("{}-{}", range.start(), range.end());
    let mut s = format!(
        "<type> is one of {}.\n\
         It is needed when no IPCP matches <ipcp>, which is then created.\n\
         <ipcp> may be a shell pattern: every IPCP it matches is bootstrapped.\n",
        IpcpType::KEYWORDS
    );
    let rows: [(&str, &str, String); 17] = [
        ("hash", "<algorithm>", format!("{hashes} (default {})", u.hash)),
        (
            "addr_auth",
            "<policy>",
            format!("flat (default {})", u.addr_auth.keyword()),
        ),
        (
            "directory",
            "<policy>",
            format!("DHT (default {})", u.directory.keyword()),
        ),
        (
            "routing",
            "<policy>",
            format!("link_state, lfa or ecmp (default {})", u.routing.policy.keyword()),
        ),
        (
            "congestion",
            "<policy>",
            format!("none or mb-ecn (default {})", u.congestion.keyword()),
        ),
        ("addr", "<octets>", format!("address size, only {} works", u.addr_size)),
        ("eid", "<octets>", format!("EID size, only {} works", u.eid_size)),
        ("ttl", "<hops>", format!("1-255 (default {})", u.max_ttl)),
        (
            "dht_alpha",
            "<n>",
            format!("parallel lookups, {} (default {})", r(DhtParams::ALPHA), dht.alpha),
        ),
        (
            "dht_k",
            "<n>",
            format!("replication, {} (default {})", r(DhtParams::K), dht.k),
        ),
        (
            "dht_t_expire",
            "<s>",
            format!("{} (default {})", r(DhtParams::T_EXPIRE), dht.t_expire),
        ),
        (
            "dht_t_refresh",
            "<s>",
            format!("{} (default {})", r(DhtParams::T_REFRESH), dht.t_refresh),
        ),
        (
            "dht_t_replicate",
            "<s>",
            format!("{} (default {})", r(DhtParams::T_REPLICATE), dht.t_replicate),
        ),
        (
            "ls_t_recalc",
            "<s>",
            format!(
                "table recalculation, {} (default {})",
                r(LinkStateConfig::TIMER),
                ls.t_recalc
            ),
        ),
        (
            "ls_t_update",
            "<s>",
            format!(
                "link-state updates, {} (default {})",
                r(LinkStateConfig::TIMER),
                ls.t_update
            ),
        ),
        (
            "ls_t_timeo",
            "<s>",
            format!("link timeout, {} (default {})", r(LinkStateConfig::TIMER), ls.t_timeo),
        ),
        (
            "autobind",
            "",
            "bind the IPCP to its name and the layer name".to_owned(),
        ),
    ];
    s.push_str("\nunicast options:\n");
    for (kw, arg, text) in rows {
        let _ = writeln!(s, "  {:<28}{text}", format!("{kw} {arg}"));
    }
    let _ = write!(
        s,
        "\nbroadcast options (names are hashed with SHA3_256):\n  {:<28}as for unicast\n",
        "autobind"
    );
    let _ = write!(
        s,
        "\nlocal options:\n  {:<28}{hashes} (default SHA3_256)\n",
        "hash <algorithm>"
    );
    let _ = write!(
        s,
        "\nudp4 and udp6 options (names are hashed with MD5):\n\
         \x20 {:<28}required; of the layer's family, not 0.0.0.0 or ::\n\
         \x20 {:<28}1-65535 (default {DEFAULT_PORT})\n\
         \x20 {:<28}dynamic DNS server (default none)\n",
        "ip <address>", "port <port>", "dns <address>"
    );
    let _ = write!(
        s,
        "\neth-llc and eth-dix options:\n\
         \x20 {:<28}required, 1-{MAX_DEV_LEN} octets\n\
         \x20 {:<28}{hashes} (default SHA3_256)\n\
         \x20 {:<28}eth-dix only; hex with or without 0x, {:#06X}-{:#06X} (default {:#06X})\n",
        "dev <interface>",
        "hash <algorithm>",
        "ethertype <hex>",
        ETHERTYPE_VALID.start(),
        ETHERTYPE_VALID.end(),
        ETHERTYPE_O7S
    );
    s
}
