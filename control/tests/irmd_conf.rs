//! The example configuration (tests/fixtures/irmd.conf, the semantics of
//! the C prototype's irmd.conf) parses to exactly this.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use o7s_control::ipcp_config::{
    BootstrapConfig, CongestionAvoidance, DhtParams, EthDixConfig, EthLlcConfig, IpcpType, LinkStateConfig,
    LocalConfig, RoutingPolicy, Udp4Config, Udp6Config, UnicastConfig,
};
use o7s_control::irmd_config::{IpcpAction, IpcpConfig, IrmdConfig, NameConfig, ProgramConfig};
use o7s_control::name_info::{LoadBalance, SecurityPaths};
use o7s_wire::hash::HashAlgo;

const FIXTURE: &str = include_str!("fixtures/irmd.conf");

fn program(path: &str, args: Option<&[&str]>) -> ProgramConfig {
    ProgramConfig {
        path: PathBuf::from(path),
        auto_args: args.map(|a| a.iter().map(|s| (*s).to_owned()).collect()),
    }
}

fn name(n: &str, lb: LoadBalance, programs: Vec<ProgramConfig>) -> NameConfig {
    NameConfig {
        name: n.into(),
        lb,
        programs,
        security: SecurityPaths::default(),
    }
}

fn ipcp(n: &str, ipcp_type: IpcpType, action: IpcpAction) -> IpcpConfig {
    IpcpConfig {
        name: n.into(),
        ipcp_type,
        action,
        autobind: false,
        reg: vec![],
        conn: vec![],
        hosts: Default::default(),
    }
}

fn bootstrap(layer: &str, config: BootstrapConfig) -> IpcpAction {
    IpcpAction::Bootstrap {
        layer: layer.into(),
        config,
    }
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn the_example_file_loads_without_warnings() {
    let config = IrmdConfig::parse(FIXTURE).expect("fixture parses");
    assert_eq!(config.warnings, vec![]);
}

#[test]
fn the_example_names_are_created_in_file_order_with_their_programs() {
    let config = IrmdConfig::parse(FIXTURE).expect("fixture parses");
    let listen: Option<&[&str]> = Some(&["--listen"]);
    let mut secure = name(
        "oping.secure",
        LoadBalance::RoundRobin,
        vec![program("/usr/bin/oping", listen)],
    );
    secure.security.server_crt = Some("/etc/ouroboros/security/server/oping.secure/crt.pem".into());
    secure.security.server_key = Some("/etc/ouroboros/security/server/oping.secure/key.pem".into());
    assert_eq!(
        config.names,
        vec![
            name(
                "oping",
                LoadBalance::RoundRobin,
                vec![program("/usr/bin/oping", listen)]
            ),
            name(
                "oecho",
                LoadBalance::RoundRobin,
                vec![program("/usr/bin/oecho", listen)]
            ),
            name("ocbr", LoadBalance::Spill, vec![program("/usr/bin/ocbr", None)]),
            name("ovpn", LoadBalance::Spill, vec![program("/usr/bin/ovpn", None)]),
            secure,
        ]
    );
}

#[test]
fn the_example_ipcps_are_set_up_in_file_order_with_their_options() {
    let config = IrmdConfig::parse(FIXTURE).expect("fixture parses");
    let sha3 = HashAlgo::Sha3_256;

    let mut local1 = ipcp(
        "local1",
        IpcpType::Local,
        bootstrap("local1", BootstrapConfig::Local(LocalConfig { hash: sha3 })),
    );
    local1.reg = strings(&["bc1", "LAN"]);

    let ethl = ipcp(
        "ethl",
        IpcpType::EthLlc,
        bootstrap(
            "ethl1",
            BootstrapConfig::EthLlc(EthLlcConfig {
                dev: "lo".into(),
                hash: sha3,
            }),
        ),
    );

    let mut eth1 = ipcp(
        "eth1",
        IpcpType::EthDix,
        bootstrap(
            "eth1",
            BootstrapConfig::EthDix(EthDixConfig {
                dev: "lo".into(),
                ethertype: 0xA007,
                hash: sha3,
            }),
        ),
    );
    eth1.reg = strings(&["lan1"]);

    let udp1 = ipcp(
        "udp1",
        IpcpType::Udp4,
        bootstrap(
            "udp",
            BootstrapConfig::Udp4(Udp4Config {
                ip: Ipv4Addr::LOCALHOST,
                port: 3435,
                dns: None,
            }),
        ),
    );
    let udp2 = ipcp(
        "udp2",
        IpcpType::Udp6,
        bootstrap(
            "udp2",
            BootstrapConfig::Udp6(Udp6Config {
                ip: Ipv6Addr::LOCALHOST,
                port: 9000,
                dns: None,
            }),
        ),
    );

    let bc1 = ipcp(
        "bc1",
        IpcpType::Broadcast,
        bootstrap("broadcast", BootstrapConfig::Broadcast),
    );
    let bc2 = ipcp("bc2", IpcpType::Broadcast, IpcpAction::Enrol { dst: "bc1".into() });

    let mut lan1 = ipcp(
        "lan1",
        IpcpType::Unicast,
        bootstrap(
            "LAN",
            BootstrapConfig::Unicast(UnicastConfig {
                max_ttl: 30,
                routing: LinkStateConfig {
                    policy: RoutingPolicy::Lfa,
                    t_timeo: 30,
                    ..LinkStateConfig::default()
                },
                congestion: CongestionAvoidance::None,
                dht: DhtParams {
                    t_expire: 3600,
                    ..DhtParams::default()
                },
                ..UnicastConfig::default()
            }),
        ),
    );
    lan1.autobind = true;
    lan1.reg = strings(&["oping"]);

    let mut lan2 = ipcp("lan2", IpcpType::Unicast, IpcpAction::Enrol { dst: "LAN".into() });
    lan2.autobind = true;
    lan2.conn = strings(&["lan1"]);

    assert_eq!(config.ipcps, vec![local1, ethl, eth1, udp1, udp2, bc1, bc2, lan1, lan2]);
}

#[test]
fn the_example_file_uses_every_table_kind() {
    let config = IrmdConfig::parse(FIXTURE).expect("fixture parses");
    for t in IpcpType::ALL {
        assert!(config.ipcps.iter().any(|i| i.ipcp_type == t), "no [{t}.…] table");
    }
    assert!(!config.names.is_empty());
}
