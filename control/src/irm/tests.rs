//! The IRM's behaviour, driven in virtual time; a tiny local IPCP is
//! played by the tests themselves (it answers queries and pairs flows).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use o7s_wire::hash::{HashAlgo, NameHash, hash_name};
use o7s_wire::qos::QosSpec;

use super::*;
use crate::ipcp_config::{LocalConfig, Udp4Config};

const OPING: &str = "/usr/bin/oping";
const SERVER: u32 = 100;
const CLIENT: u32 = 200;

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

/// A non-root account that binds programs.
fn operator() -> Account {
    Account {
        uid: 1000,
        gid: 1000,
        groups: vec![1000, 27],
    }
}

fn auto_as(account: &Account, args: &[&str]) -> AutoStart {
    AutoStart {
        args: strings(args),
        account: account.clone(),
    }
}

fn drain(irm: &mut Irm) -> Vec<IrmEvent> {
    std::iter::from_fn(|| irm.poll_event()).collect()
}

fn local(algo: HashAlgo) -> BootstrapConfig {
    BootstrapConfig::Local(LocalConfig { hash: algo })
}

fn udp4() -> BootstrapConfig {
    BootstrapConfig::Udp4(Udp4Config {
        ip: Ipv4Addr::new(127, 0, 0, 1),
        port: 3435,
        dns: None,
    })
}

fn sha3(name: &str) -> NameHash {
    hash_name(HashAlgo::Sha3_256, name)
}

/// `irm ipcp bootstrap type local name lo layer lo`.
fn with_lo() -> Irm {
    let mut irm = Irm::new();
    irm.ipcp_create("lo", IpcpType::Local).unwrap();
    irm.ipcp_bootstrap("lo", "lo", &local(HashAlgo::Sha3_256)).unwrap();
    drain(&mut irm);
    irm
}

/// The tutorial's set-up: lo, `bind program oping name oping`,
/// `name register oping layer lo`, a server process announced.
fn tutorial() -> Irm {
    let mut irm = with_lo();
    irm.bind_program(Path::new(OPING), "oping", None).unwrap();
    irm.name_register("oping", &[], &strings(&["lo"])).unwrap();
    irm.process_started(SERVER, Some(Path::new(OPING))).unwrap();
    irm.process_started(CLIENT, Some(Path::new("/usr/bin/client"))).unwrap();
    drain(&mut irm);
    irm
}

/// The client allocates "oping" over lo and the local IPCP delivers the
/// request back to the IRM; returns (requester flow, responder flow).
fn allocate_over_lo(irm: &mut Irm, t: Instant) -> (FlowId, FlowId) {
    let f1 = irm.flow_alloc(t, CLIENT, "oping", QosSpec::RAW).unwrap();
    irm.query_answered(f1, "lo", true).unwrap();
    drain(irm);
    let f2 = irm.flow_request_arrived(t, "lo", sha3("oping"), QosSpec::RAW).unwrap();
    irm.alloc_reply(f1, "lo", Ok(())).unwrap();
    drain(irm);
    (f1, f2)
}

fn state(irm: &Irm, flow: FlowId) -> Option<FlowState> {
    irm.flow_info(flow).map(|f| f.state)
}

#[test]
fn local_tutorial_allocates_both_ends_then_deallocates_from_each_side() {
    let t = Instant::now();
    let mut irm = with_lo();
    irm.bind_program(Path::new(OPING), "oping", None).unwrap();
    irm.name_register("oping", &[], &strings(&["lo"])).unwrap();
    let hash = sha3("oping");
    assert_eq!(
        hash.to_string(),
        "42dee3b0415b4f690fd91cbd99876f1e9bd8d9745ef7fa32b142773af0349d54"
    );
    assert_eq!(
        drain(&mut irm),
        [IrmEvent::RegisterOnIpcp {
            ipcp: "lo".into(),
            name: "oping".into(),
            hash
        }]
    );

    // oping -l
    irm.process_started(SERVER, Some(Path::new(OPING))).unwrap();
    irm.flow_accept(t, SERVER, None).unwrap();
    // oping -n oping
    irm.process_started(CLIENT, Some(Path::new("/usr/bin/client"))).unwrap();
    let f1 = irm.flow_alloc(t, CLIENT, "oping", QosSpec::RAW).unwrap();
    assert_eq!(state(&irm, f1), Some(FlowState::Pending));
    assert_eq!(
        drain(&mut irm),
        [IrmEvent::QueryLayers {
            flow: f1,
            hashes_per_ipcp: vec![("lo".into(), hash)]
        }]
    );
    irm.query_answered(f1, "lo", true).unwrap();
    assert_eq!(
        drain(&mut irm),
        [IrmEvent::AllocateOnIpcp {
            flow: f1,
            ipcp: "lo".into(),
            hash,
            qos: QosSpec::RAW
        }]
    );
    // The local IPCP hands the request to the responder side.
    let f2 = irm.flow_request_arrived(t, "lo", hash, QosSpec::RAW).unwrap();
    assert_eq!(
        drain(&mut irm),
        [
            IrmEvent::FlowAccepted {
                flow: f2,
                pid: SERVER,
                name: "oping".into(),
                qos: QosSpec::RAW
            },
            IrmEvent::RespondOnIpcp {
                flow: f2,
                ipcp: "lo".into(),
                accepted: true
            },
        ]
    );
    irm.alloc_reply(f1, "lo", Ok(())).unwrap();
    assert_eq!(
        drain(&mut irm),
        [IrmEvent::FlowAllocated {
            flow: f1,
            pid: CLIENT,
            qos: QosSpec::RAW
        }]
    );
    assert_eq!(state(&irm, f1), Some(FlowState::Allocated));
    assert_eq!(state(&irm, f2), Some(FlowState::Allocated));
    assert_eq!(irm.poll_timeout(), None);

    // Client deallocates: app side, then the IPCP side; the IPCP releases
    // the server's end too, which goes down until the server releases it.
    irm.flow_dealloc(CLIENT, f1).unwrap();
    assert_eq!(state(&irm, f1), Some(FlowState::Deallocated));
    assert_eq!(
        drain(&mut irm),
        [IrmEvent::DeallocOnIpcp {
            flow: f1,
            ipcp: "lo".into()
        }]
    );
    irm.ipcp_flow_dealloc("lo", f1).unwrap();
    irm.ipcp_flow_dealloc("lo", f2).unwrap();
    assert_eq!(state(&irm, f2), Some(FlowState::Deallocated));
    irm.flow_dealloc(SERVER, f2).unwrap();
    assert_eq!(
        drain(&mut irm),
        [
            IrmEvent::FlowGone { flow: f1 },
            IrmEvent::FlowDown { flow: f2, pid: SERVER },
            IrmEvent::FlowGone { flow: f2 },
        ]
    );
    assert!(irm.flows().is_empty());
}

#[test]
fn a_flow_is_gone_only_when_both_sides_released_it() {
    let t = Instant::now();
    let mut irm = tutorial();
    irm.flow_accept(t, SERVER, None).unwrap();
    let (f1, _) = allocate_over_lo(&mut irm, t);
    irm.ipcp_flow_dealloc("lo", f1).unwrap();
    assert_eq!(state(&irm, f1), Some(FlowState::Deallocated));
    assert!(matches!(
        irm.ipcp_flow_dealloc("lo", f1),
        Err(IrmError::WrongFlowState { .. })
    ));
    irm.flow_dealloc(CLIENT, f1).unwrap();
    assert_eq!(state(&irm, f1), None);
    assert_eq!(
        drain(&mut irm),
        [
            IrmEvent::FlowDown { flow: f1, pid: CLIENT },
            IrmEvent::FlowGone { flow: f1 }
        ]
    );
}

#[test]
fn names_hash_with_their_layer_algorithm_md5_for_udp_sha3_256_by_default() {
    let t = Instant::now();
    let mut irm = with_lo();
    irm.ipcp_create("udp", IpcpType::Udp4).unwrap();
    irm.ipcp_bootstrap("udp", "net", &udp4()).unwrap();
    irm.ipcp_create("lo512", IpcpType::Local).unwrap();
    irm.ipcp_bootstrap("lo512", "big", &local(HashAlgo::Sha3_512)).unwrap();
    let list = irm.ipcp_list(None, None, None);
    let algos: Vec<_> = list.iter().map(|i| i.hash_algo).collect();
    assert_eq!(
        algos,
        [Some(HashAlgo::Sha3_256), Some(HashAlgo::Md5), Some(HashAlgo::Sha3_512)]
    );
    drain(&mut irm);
    irm.name_register("oping", &strings(&["udp"]), &[]).unwrap();
    let md5 = hash_name(HashAlgo::Md5, "oping");
    assert_eq!(md5.to_string(), "7862c6fec5ecaef4aa2e3934725e23b3");
    assert_eq!(
        drain(&mut irm),
        [IrmEvent::RegisterOnIpcp {
            ipcp: "udp".into(),
            name: "oping".into(),
            hash: md5
        }]
    );
    irm.process_started(CLIENT, None).unwrap();
    let f = irm.flow_alloc(t, CLIENT, "server", QosSpec::RAW).unwrap();
    let IrmEvent::QueryLayers { flow, hashes_per_ipcp } = irm.poll_event().unwrap() else {
        panic!("expected a query");
    };
    assert_eq!(flow, f);
    assert_eq!(
        hashes_per_ipcp,
        [
            ("lo".to_owned(), sha3("server")),
            ("lo512".to_owned(), hash_name(HashAlgo::Sha3_512, "server")),
            ("udp".to_owned(), hash_name(HashAlgo::Md5, "server")),
        ]
    );
    assert_eq!(
        sha3("server").to_string(),
        "d19778d2e34a1e3ddfc04b48c94152cced725d741756b131543616d20f250f31"
    );
}

#[test]
fn incoming_request_finds_the_name_by_hashing_with_the_ipcps_algorithm() {
    let t = Instant::now();
    let mut irm = with_lo();
    irm.ipcp_create("udp", IpcpType::Udp4).unwrap();
    irm.ipcp_bootstrap("udp", "net", &udp4()).unwrap();
    irm.process_started(SERVER, None).unwrap();
    irm.bind_process(SERVER, "oping").unwrap();
    irm.name_create("oping", LoadBalance::RoundRobin, SecurityPaths::default())
        .unwrap();
    irm.flow_accept(t, SERVER, None).unwrap();
    let before = irm.clone();
    // The SHA3 hash means nothing in the MD5 layer.
    assert!(matches!(
        irm.flow_request_arrived(t, "udp", sha3("oping"), QosSpec::RAW),
        Err(IrmError::UnknownHash { .. })
    ));
    assert_eq!(irm, before);
    let f = irm
        .flow_request_arrived(t, "udp", hash_name(HashAlgo::Md5, "oping"), QosSpec::DATA)
        .unwrap();
    let info = irm.flow_info(f).unwrap();
    assert_eq!(
        (info.state, info.pid, info.name.as_str(), info.qos),
        (FlowState::Allocated, Some(SERVER), "oping", QosSpec::DATA)
    );
}

/// Three layers created unicast, udp4, local: the order of preference is
/// local, the shim, unicast, whatever the creation order.
fn three_layers() -> Irm {
    let mut irm = Irm::new();
    irm.ipcp_create("uni", IpcpType::Unicast).unwrap();
    irm.ipcp_enroll("uni", "net").unwrap();
    irm.ipcp_enrolled("uni", "net", HashAlgo::Sha3_256).unwrap();
    irm.ipcp_create("udp", IpcpType::Udp4).unwrap();
    irm.ipcp_bootstrap("udp", "wan", &udp4()).unwrap();
    irm.ipcp_create("lo", IpcpType::Local).unwrap();
    irm.ipcp_bootstrap("lo", "lo", &local(HashAlgo::Sha3_256)).unwrap();
    irm.ipcp_create("bc", IpcpType::Broadcast).unwrap();
    irm.ipcp_bootstrap("bc", "chat", &BootstrapConfig::Broadcast).unwrap();
    irm.process_started(CLIENT, None).unwrap();
    drain(&mut irm);
    irm
}

#[test]
fn allocation_prefers_local_then_shims_then_unicast_and_skips_broadcast() {
    let t = Instant::now();
    let mut irm = three_layers();
    let f = irm.flow_alloc(t, CLIENT, "oping", QosSpec::RAW).unwrap();
    let Some(IrmEvent::QueryLayers { hashes_per_ipcp, .. }) = irm.poll_event() else {
        panic!("expected a query");
    };
    let order: Vec<&str> = hashes_per_ipcp.iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!(order, ["lo", "udp", "uni"]);
    // unicast and udp know it; the decision waits for the better layers.
    irm.query_answered(f, "uni", true).unwrap();
    irm.query_answered(f, "udp", true).unwrap();
    assert_eq!(irm.poll_event(), None);
    irm.query_answered(f, "lo", false).unwrap();
    assert_eq!(
        drain(&mut irm),
        [IrmEvent::AllocateOnIpcp {
            flow: f,
            ipcp: "udp".into(),
            hash: hash_name(HashAlgo::Md5, "oping"),
            qos: QosSpec::RAW
        }]
    );
    assert_eq!(irm.flow_info(f).unwrap().ipcp.as_deref(), Some("udp"));
    // A late answer is refused and changes nothing.
    let before = irm.clone();
    assert!(matches!(
        irm.query_answered(f, "lo", true),
        Err(IrmError::WrongFlowState { .. })
    ));
    assert_eq!(irm, before);
}

#[test]
fn the_best_layer_is_used_at_once_without_waiting_for_worse_ones() {
    let t = Instant::now();
    let mut irm = three_layers();
    let f = irm.flow_alloc(t, CLIENT, "oping", QosSpec::RAW).unwrap();
    drain(&mut irm);
    irm.query_answered(f, "lo", true).unwrap();
    assert!(matches!(
        irm.poll_event(),
        Some(IrmEvent::AllocateOnIpcp { ipcp, .. }) if ipcp == "lo"
    ));
}

#[test]
fn silent_layers_count_as_not_knowing_the_name_after_the_query_timeout() {
    let t = Instant::now();
    let mut irm = three_layers();
    let f = irm.flow_alloc(t, CLIENT, "oping", QosSpec::RAW).unwrap();
    drain(&mut irm);
    irm.query_answered(f, "uni", true).unwrap();
    assert_eq!(irm.poll_timeout(), Some(t + QUERY_TIMEOUT));
    irm.handle_timeout(t + QUERY_TIMEOUT - Duration::from_millis(1));
    assert_eq!(irm.poll_event(), None);
    irm.handle_timeout(t + QUERY_TIMEOUT);
    assert!(matches!(
        irm.poll_event(),
        Some(IrmEvent::AllocateOnIpcp { ipcp, .. }) if ipcp == "uni"
    ));
    // The allocation deadline counts from flow_alloc.
    assert_eq!(irm.poll_timeout(), Some(t + FLOW_ALLOC_TIMEOUT));
}

#[test]
fn allocation_fails_unreachable_when_no_layer_knows_the_name() {
    let t = Instant::now();
    let mut irm = three_layers();
    let f = irm.flow_alloc(t, CLIENT, "nobody", QosSpec::RAW).unwrap();
    drain(&mut irm);
    irm.query_answered(f, "lo", false).unwrap();
    irm.query_answered(f, "udp", false).unwrap();
    irm.handle_timeout(t + QUERY_TIMEOUT);
    assert_eq!(
        drain(&mut irm),
        [IrmEvent::FlowAllocFailed {
            flow: f,
            pid: CLIENT,
            reason: AllocFailure::Unreachable
        }]
    );
    assert_eq!(irm.flow_info(f), None);
}

#[test]
fn allocation_times_out_when_the_ipcp_never_replies() {
    let t = Instant::now();
    let mut irm = tutorial();
    let f = irm.flow_alloc(t, CLIENT, "oping", QosSpec::RAW).unwrap();
    irm.query_answered(f, "lo", true).unwrap();
    drain(&mut irm);
    assert_eq!(irm.poll_timeout(), Some(t + FLOW_ALLOC_TIMEOUT));
    irm.handle_timeout(t + FLOW_ALLOC_TIMEOUT);
    assert_eq!(
        drain(&mut irm),
        [IrmEvent::FlowAllocFailed {
            flow: f,
            pid: CLIENT,
            reason: AllocFailure::TimedOut
        }]
    );
    assert_eq!(irm.poll_timeout(), None);
    assert!(matches!(
        irm.alloc_reply(f, "lo", Ok(())),
        Err(IrmError::UnknownFlow(_))
    ));
}

#[test]
fn a_refused_allocation_reports_the_peers_result_code() {
    let t = Instant::now();
    let mut irm = tutorial();
    let f = irm.flow_alloc(t, CLIENT, "oping", QosSpec::RAW).unwrap();
    irm.query_answered(f, "lo", true).unwrap();
    drain(&mut irm);
    irm.alloc_reply(f, "lo", Err(-1007)).unwrap();
    assert_eq!(
        drain(&mut irm),
        [IrmEvent::FlowAllocFailed {
            flow: f,
            pid: CLIENT,
            reason: AllocFailure::Refused(-1007)
        }]
    );
}

#[test]
fn super_server_starts_the_program_once_and_hands_it_the_pending_requests() {
    let t = Instant::now();
    let mut irm = with_lo();
    irm.bind_program(Path::new(OPING), "oping", Some(auto_as(&operator(), &["-l"])))
        .unwrap();
    irm.name_register("oping", &[], &strings(&["lo"])).unwrap();
    drain(&mut irm);
    let r1 = irm.flow_request_arrived(t, "lo", sha3("oping"), QosSpec::RAW).unwrap();
    let r2 = irm
        .flow_request_arrived(t, "lo", sha3("oping"), QosSpec::VOICE)
        .unwrap();
    assert_eq!(
        drain(&mut irm),
        [IrmEvent::StartProgram {
            path: PathBuf::from(OPING),
            args: strings(&["-l"]),
            account: operator(),
        }]
    );
    assert_eq!(state(&irm, r1), Some(FlowState::Pending));
    assert_eq!(irm.poll_timeout(), Some(t + REQ_ARR_TIMEOUT));

    // The started program announces itself and accepts: oldest first.
    let later = t + Duration::from_millis(300);
    irm.process_started(300, Some(Path::new(OPING))).unwrap();
    irm.flow_accept(later, 300, None).unwrap();
    irm.flow_accept(later, 300, None).unwrap();
    assert_eq!(
        drain(&mut irm),
        [
            IrmEvent::FlowAccepted {
                flow: r1,
                pid: 300,
                name: "oping".into(),
                qos: QosSpec::RAW
            },
            IrmEvent::RespondOnIpcp {
                flow: r1,
                ipcp: "lo".into(),
                accepted: true
            },
            IrmEvent::FlowAccepted {
                flow: r2,
                pid: 300,
                name: "oping".into(),
                qos: QosSpec::VOICE
            },
            IrmEvent::RespondOnIpcp {
                flow: r2,
                ipcp: "lo".into(),
                accepted: true
            },
        ]
    );
    assert_eq!(irm.poll_timeout(), None);
}

#[test]
fn an_arrived_request_nobody_accepts_is_refused_after_req_arr_timeout() {
    let t = Instant::now();
    let mut irm = with_lo();
    irm.bind_program(Path::new(OPING), "oping", Some(auto_as(&Account::default(), &[])))
        .unwrap();
    irm.name_register("oping", &[], &strings(&["lo"])).unwrap();
    drain(&mut irm);
    let r = irm.flow_request_arrived(t, "lo", sha3("oping"), QosSpec::RAW).unwrap();
    drain(&mut irm);
    irm.handle_timeout(t + REQ_ARR_TIMEOUT - Duration::from_millis(1));
    assert_eq!(irm.poll_event(), None);
    irm.handle_timeout(t + REQ_ARR_TIMEOUT);
    assert_eq!(
        drain(&mut irm),
        [IrmEvent::RespondOnIpcp {
            flow: r,
            ipcp: "lo".into(),
            accepted: false
        }]
    );
    assert!(irm.flows().is_empty());
    // A bound process arriving later finds nothing to accept and waits.
    irm.process_started(300, Some(Path::new(OPING))).unwrap();
    irm.flow_accept(t + REQ_ARR_TIMEOUT, 300, None).unwrap();
    assert_eq!(irm.poll_event(), None);
}

#[test]
fn a_bound_but_busy_process_gets_the_request_when_it_accepts_again() {
    let t = Instant::now();
    let mut irm = tutorial();
    let r = irm.flow_request_arrived(t, "lo", sha3("oping"), QosSpec::RAW).unwrap();
    assert_eq!(irm.poll_event(), None, "no program to start");
    irm.flow_accept(t + Duration::from_millis(10), SERVER, None).unwrap();
    assert_eq!(irm.flow_info(r).unwrap().pid, Some(SERVER));
}

#[test]
fn a_request_no_process_could_ever_take_is_refused_and_changes_nothing() {
    let t = Instant::now();
    let mut irm = with_lo();
    irm.name_register("oping", &[], &strings(&["lo"])).unwrap();
    drain(&mut irm);
    let before = irm.clone();
    let err = irm
        .flow_request_arrived(t, "lo", sha3("oping"), QosSpec::RAW)
        .unwrap_err();
    assert_eq!(err, IrmError::NoAcceptor("oping".into()));
    assert!(err.to_string().contains("\"oping\""));
    assert_eq!(irm, before);
}

/// Two processes (announced 10 then 20) bound to "svc", both accepting;
/// returns who gets the first and the second request (the first one
/// served accepts again in between).
fn serve_two(lb: LoadBalance) -> [u32; 2] {
    let t = Instant::now();
    let mut irm = with_lo();
    irm.name_create("svc", lb, SecurityPaths::default()).unwrap();
    for pid in [10, 20] {
        irm.process_started(pid, None).unwrap();
        irm.bind_process(pid, "svc").unwrap();
    }
    irm.flow_accept(t, 20, None).unwrap();
    irm.flow_accept(t, 10, None).unwrap();
    let first = irm.flow_request_arrived(t, "lo", sha3("svc"), QosSpec::RAW).unwrap();
    let first = irm.flow_info(first).unwrap().pid.unwrap();
    irm.flow_accept(t, first, None).unwrap();
    let second = irm.flow_request_arrived(t, "lo", sha3("svc"), QosSpec::RAW).unwrap();
    [first, irm.flow_info(second).unwrap().pid.unwrap()]
}

#[test]
fn round_robin_serves_accepting_processes_in_turn() {
    assert_eq!(serve_two(LoadBalance::RoundRobin), [10, 20]);
}

#[test]
fn spillover_serves_the_first_process_while_it_accepts() {
    assert_eq!(serve_two(LoadBalance::Spill), [10, 10]);
}

#[test]
fn an_accept_with_a_timeout_returns_when_it_passes() {
    let t = Instant::now();
    let mut irm = tutorial();
    irm.flow_accept(t, SERVER, Some(Duration::from_secs(5))).unwrap();
    assert_eq!(irm.poll_timeout(), Some(t + Duration::from_secs(5)));
    irm.handle_timeout(t + Duration::from_secs(5));
    assert_eq!(drain(&mut irm), [IrmEvent::AcceptTimedOut { pid: SERVER }]);
    assert_eq!(irm.poll_timeout(), None);
}

#[test]
fn a_dead_server_releases_its_flows_accepts_and_bindings() {
    let t = Instant::now();
    let mut irm = tutorial();
    irm.bind_process(SERVER, "other").unwrap();
    irm.flow_accept(t, SERVER, None).unwrap();
    let (f1, f2) = allocate_over_lo(&mut irm, t);
    irm.flow_accept(t, SERVER, None).unwrap();

    assert_eq!(irm.process_exited(SERVER), Ok(vec![f2]));
    assert!(!irm.process_alive(SERVER));
    assert_eq!(
        drain(&mut irm),
        [IrmEvent::DeallocOnIpcp {
            flow: f2,
            ipcp: "lo".into()
        }]
    );
    // The IPCP releases both ends; the client sees its flow go down.
    irm.ipcp_flow_dealloc("lo", f2).unwrap();
    irm.ipcp_flow_dealloc("lo", f1).unwrap();
    assert_eq!(
        drain(&mut irm),
        [
            IrmEvent::FlowGone { flow: f2 },
            IrmEvent::FlowDown { flow: f1, pid: CLIENT }
        ]
    );
    // Its pending accept went with it: a new request finds no one (the
    // program binding stays, but no process runs it).
    let before = irm.clone();
    assert_eq!(
        irm.flow_request_arrived(t, "lo", sha3("oping"), QosSpec::RAW),
        Err(IrmError::NoAcceptor("oping".into()))
    );
    assert_eq!(irm, before);
    assert_eq!(irm.bind_process(SERVER, "x"), Err(IrmError::UnknownProcess(SERVER)));
}

#[test]
fn a_dead_client_drops_its_pending_allocations_and_frees_released_flows() {
    let t = Instant::now();
    let mut irm = tutorial();
    irm.flow_accept(t, SERVER, None).unwrap();
    let (f1, _) = allocate_over_lo(&mut irm, t);
    irm.ipcp_flow_dealloc("lo", f1).unwrap();
    let pending = irm.flow_alloc(t, CLIENT, "oping", QosSpec::RAW).unwrap();
    drain(&mut irm);
    assert_eq!(irm.process_exited(CLIENT), Ok(vec![f1]));
    assert_eq!(drain(&mut irm), [IrmEvent::FlowGone { flow: f1 }]);
    assert_eq!(irm.flow_info(pending), None);
    assert_eq!(irm.poll_timeout(), None);
}

#[test]
fn destroying_an_ipcp_unregisters_its_names_and_downs_its_flows() {
    let t = Instant::now();
    let mut irm = tutorial();
    irm.flow_accept(t, SERVER, None).unwrap();
    let (f1, f2) = allocate_over_lo(&mut irm, t);
    irm.ipcp_destroy("lo").unwrap();
    assert_eq!(
        drain(&mut irm),
        [
            IrmEvent::UnregisterOnIpcp {
                ipcp: "lo".into(),
                name: "oping".into(),
                hash: sha3("oping")
            },
            IrmEvent::FlowDown { flow: f1, pid: CLIENT },
            IrmEvent::FlowDown { flow: f2, pid: SERVER },
            IrmEvent::IpcpDestroyed { ipcp: "lo".into() },
        ]
    );
    assert!(irm.ipcp_list(None, None, None).is_empty());
    assert!(irm.name_list()[0].ipcps.is_empty());
}

#[test]
fn register_creates_an_unknown_name_with_spillover_and_keeps_a_known_ones_policy() {
    let mut irm = with_lo();
    irm.name_register("a", &strings(&["lo"]), &[]).unwrap();
    irm.name_create("b", LoadBalance::RoundRobin, SecurityPaths::default())
        .unwrap();
    irm.name_register("b", &[], &strings(&["l*"])).unwrap();
    let names = irm.name_list();
    assert_eq!(
        names
            .iter()
            .map(|n| (n.name.as_str(), n.lb, n.layers.clone()))
            .collect::<Vec<_>>(),
        [
            ("a", LoadBalance::Spill, strings(&["lo"])),
            ("b", LoadBalance::RoundRobin, strings(&["lo"]))
        ]
    );
}

#[test]
fn destroying_a_name_unregisters_it_everywhere() {
    let mut irm = with_lo();
    irm.name_register("a", &strings(&["lo"]), &[]).unwrap();
    drain(&mut irm);
    irm.name_destroy("a").unwrap();
    assert_eq!(
        drain(&mut irm),
        [IrmEvent::UnregisterOnIpcp {
            ipcp: "lo".into(),
            name: "a".into(),
            hash: sha3("a")
        }]
    );
    assert!(irm.name_list().is_empty());
}

#[test]
fn ipcp_list_filters_by_name_layer_and_type() {
    let irm = three_layers();
    let names = |v: Vec<IpcpInfo>| v.into_iter().map(|i| i.name).collect::<Vec<_>>();
    assert_eq!(names(irm.ipcp_list(None, None, None)), ["uni", "udp", "lo", "bc"]);
    assert_eq!(names(irm.ipcp_list(Some("u*"), None, None)), ["uni", "udp"]);
    assert_eq!(names(irm.ipcp_list(None, Some("wan"), None)), ["udp"]);
    assert_eq!(names(irm.ipcp_list(None, None, Some(IpcpType::Broadcast))), ["bc"]);
    let uni = &irm.ipcp_list(Some("uni"), None, None)[0];
    assert_eq!((uni.state, uni.layer.as_deref()), (IpcpState::Enrolled, Some("net")));
}

#[test]
fn a_failed_bootstrap_or_enrolment_returns_the_ipcp_to_init() {
    let mut irm = Irm::new();
    irm.ipcp_create("lo", IpcpType::Local).unwrap();
    irm.ipcp_bootstrap("lo", "lo", &local(HashAlgo::Sha3_256)).unwrap();
    irm.ipcp_bootstrap_failed("lo").unwrap();
    irm.ipcp_create("u", IpcpType::Unicast).unwrap();
    irm.ipcp_enroll("u", "net").unwrap();
    assert_eq!(irm.ipcp_list(Some("u"), None, None)[0].state, IpcpState::Enrolling);
    irm.ipcp_enroll_failed("u").unwrap();
    for info in irm.ipcp_list(None, None, None) {
        assert_eq!((info.state, info.layer, info.hash_algo), (IpcpState::Init, None, None));
    }
}

#[test]
fn glob_patterns_match_like_the_shell() {
    assert!(glob_match("*", "anything"));
    assert!(glob_match("l?", "lo"));
    assert!(glob_match("a*c*e", "abcde"));
    assert!(!glob_match("a*c", "abcd"));
    assert!(!glob_match("lo", "lo2"));
}

/// An IRM with something of every kind in it, for the refusal table.
fn populated() -> (Irm, FlowId, FlowId) {
    let t = Instant::now();
    let mut irm = tutorial();
    irm.ipcp_create("uni", IpcpType::Unicast).unwrap();
    irm.ipcp_create("udp", IpcpType::Udp4).unwrap();
    irm.bind_ipcp("lo", "lo").unwrap();
    irm.bind_process(SERVER, "extra").unwrap();
    irm.name_create("rr", LoadBalance::RoundRobin, SecurityPaths::default())
        .unwrap();
    irm.name_create("extra", LoadBalance::Spill, SecurityPaths::default())
        .unwrap();
    irm.flow_accept(t, SERVER, None).unwrap();
    let (f1, f2) = allocate_over_lo(&mut irm, t);
    // Leave an undrained event in the queue: refusals must not touch it.
    irm.name_register("rr", &strings(&["lo"]), &[]).unwrap();
    (irm, f1, f2)
}

#[test]
fn every_refusal_names_the_problem_and_leaves_the_state_unchanged() {
    let t = Instant::now();
    type Op = Box<dyn Fn(&mut Irm, FlowId, FlowId) -> Result<(), IrmError>>;
    let long = "n".repeat(256);
    let long2 = long.clone();
    let cases: Vec<(&str, Op)> = vec![
        (
            "\"lo\" already exists",
            Box::new(|i, _, _| i.ipcp_create("lo", IpcpType::Local)),
        ),
        (
            "invalid IPCP name",
            Box::new(|i, _, _| i.ipcp_create("", IpcpType::Local)),
        ),
        ("no IPCP named \"x\"", Box::new(|i, _, _| i.ipcp_destroy("x"))),
        (
            "no IPCP named \"x\"",
            Box::new(|i, _, _| i.ipcp_bootstrap("x", "l", &local(HashAlgo::Sha3_256))),
        ),
        (
            "already bootstrapped",
            Box::new(|i, _, _| i.ipcp_bootstrap("lo", "lo2", &local(HashAlgo::Sha3_256))),
        ),
        (
            "a bootstrap configuration for udp4",
            Box::new(|i, _, _| i.ipcp_bootstrap("uni", "net", &udp4())),
        ),
        (
            "invalid layer name",
            Box::new(move |i, _, _| i.ipcp_bootstrap("udp", &long, &udp4())),
        ),
        (
            "enrol needs unicast or broadcast",
            Box::new(|i, _, _| i.ipcp_enroll("udp", "net")),
        ),
        (
            "\"uni\" is not in a layer",
            Box::new(|i, _, _| i.ipcp_bootstrap_failed("uni")),
        ),
        (
            "not in a layer",
            Box::new(|i, _, _| i.ipcp_enrolled("uni", "net", HashAlgo::Sha3_256)),
        ),
        ("not in a layer", Box::new(|i, _, _| i.ipcp_enroll_failed("lo"))),
        (
            "process 100 is already known",
            Box::new(|i, _, _| i.process_started(SERVER, None)),
        ),
        (
            "program /usr/bin/oping is already bound",
            Box::new(|i, _, _| i.bind_program(Path::new(OPING), "oping", None)),
        ),
        (
            "\"/nope\" is not bound",
            Box::new(|i, _, _| i.unbind_program(Path::new("/nope"), None)),
        ),
        (
            "is not bound to name \"zz\"",
            Box::new(|i, _, _| i.unbind_program(Path::new(OPING), Some("zz"))),
        ),
        ("no process with pid 7", Box::new(|i, _, _| i.bind_process(7, "oping"))),
        (
            "process 100 is already bound",
            Box::new(|i, _, _| i.bind_process(SERVER, "extra")),
        ),
        (
            "process 100 is not bound",
            Box::new(|i, _, _| i.unbind_process(SERVER, Some("zz"))),
        ),
        ("no process with pid 7", Box::new(|i, _, _| i.unbind_process(7, None))),
        ("IPCP lo is already bound", Box::new(|i, _, _| i.bind_ipcp("lo", "lo"))),
        ("no IPCP named \"x\"", Box::new(|i, _, _| i.bind_ipcp("x", "n"))),
        (
            "IPCP lo is not bound",
            Box::new(|i, _, _| i.unbind_ipcp("lo", Some("zz"))),
        ),
        (
            "name \"oping\" already exists",
            Box::new(|i, _, _| i.name_create("oping", LoadBalance::Spill, SecurityPaths::default())),
        ),
        (
            "invalid name",
            Box::new(move |i, _, _| i.name_create(&long2, LoadBalance::Spill, SecurityPaths::default())),
        ),
        ("no name \"zz\"", Box::new(|i, _, _| i.name_destroy("zz"))),
        (
            "no ipcp or layer given",
            Box::new(|i, _, _| i.name_register("new", &[], &[])),
        ),
        (
            "no layer matches \"nowhere\"",
            Box::new(|i, _, _| i.name_register("new", &[], &strings(&["nowhere"]))),
        ),
        (
            "no IPCP matches \"x*\"",
            Box::new(|i, _, _| i.name_register("new", &strings(&["x*"]), &[])),
        ),
        (
            "\"uni\" is not in a layer",
            Box::new(|i, _, _| i.name_register("new", &strings(&["uni"]), &[])),
        ),
        (
            "already registered with IPCP \"lo\"",
            Box::new(|i, _, _| i.name_register("oping", &[], &strings(&["lo"]))),
        ),
        (
            "no name \"zz\"",
            Box::new(|i, _, _| i.name_unregister("zz", &[], &strings(&["lo"]))),
        ),
        (
            "\"extra\" is not registered",
            Box::new(|i, _, _| i.name_unregister("extra", &strings(&["lo"]), &[])),
        ),
        (
            "no process with pid 7",
            Box::new(move |i, _, _| i.flow_alloc(t, 7, "oping", QosSpec::RAW).map(drop)),
        ),
        (
            "no process with pid 7",
            Box::new(move |i, _, _| i.flow_accept(t, 7, None)),
        ),
        ("no flow #999", Box::new(|i, _, _| i.flow_dealloc(CLIENT, FlowId(999)))),
        (
            "does not belong to process 100",
            Box::new(|i, f1, _| i.flow_dealloc(SERVER, f1)),
        ),
        (
            "does not go through IPCP \"udp\"",
            Box::new(|i, f1, _| i.ipcp_flow_dealloc("udp", f1)),
        ),
        (
            "is allocated; cannot take a query answer",
            Box::new(|i, f1, _| i.query_answered(f1, "lo", true)),
        ),
        (
            "is allocated; cannot take an allocation reply",
            Box::new(|i, f1, _| i.alloc_reply(f1, "lo", Ok(()))),
        ),
        (
            "not in a layer",
            Box::new(move |i, _, _| i.flow_request_arrived(t, "uni", sha3("oping"), QosSpec::RAW).map(drop)),
        ),
        (
            "matches no known name",
            Box::new(move |i, _, _| i.flow_request_arrived(t, "lo", sha3("zz"), QosSpec::RAW).map(drop)),
        ),
        (
            "no process with pid 7",
            Box::new(|i, _, _| i.process_exited(7).map(drop)),
        ),
    ];
    for (expected, op) in cases {
        let (mut irm, f1, f2) = populated();
        let before = irm.clone();
        let err = op(&mut irm, f1, f2).expect_err(expected);
        let message = err.to_string();
        assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        assert_eq!(irm, before, "{expected}: state changed");
    }
}

#[test]
fn flow_alloc_without_any_layer_is_refused() {
    let mut irm = Irm::new();
    irm.ipcp_create("lo", IpcpType::Local).unwrap();
    irm.process_started(CLIENT, None).unwrap();
    let before = irm.clone();
    assert_eq!(
        irm.flow_alloc(Instant::now(), CLIENT, "oping", QosSpec::RAW),
        Err(IrmError::NoLayer("oping".into()))
    );
    assert_eq!(irm, before);
}

// ----- the IPCPs' own flows ---------------------------------------------------

const IRMD: u32 = 1;

/// A udp4 layer "u" and a unicast IPCP "net.a" bootstrapped in "net",
/// bound to its own name and the layer's; irmd is the IPCPs' process.
fn with_member() -> Irm {
    let mut irm = Irm::new();
    irm.set_ipcp_process(IRMD).unwrap();
    irm.ipcp_create("udp", IpcpType::Udp4).unwrap();
    irm.ipcp_bootstrap("udp", "u", &udp4()).unwrap();
    irm.ipcp_create("net.a", IpcpType::Unicast).unwrap();
    let config = BootstrapConfig::Unicast(crate::ipcp_config::UnicastConfig::default());
    irm.ipcp_bootstrap("net.a", "net", &config).unwrap();
    irm.bind_ipcp("net.a", "net.a").unwrap();
    irm.bind_ipcp("net.a", "net").unwrap();
    irm.name_register("net", &[], &strings(&["u"])).unwrap();
    drain(&mut irm);
    irm
}

/// `name` hashed as the udp layer hashes.
fn in_udp(irm: &Irm, name: &str) -> NameHash {
    let algo = irm.ipcp_list(Some("udp"), None, None)[0].hash_algo.unwrap();
    hash_name(algo, name)
}

#[test]
fn a_flow_for_a_name_bound_to_a_unicast_ipcp_goes_to_that_ipcp_held_by_irmd() {
    let mut irm = with_member();
    let t = Instant::now();
    let flow = irm
        .flow_request_arrived(t, "udp", in_udp(&irm, "net"), QosSpec::RAW)
        .unwrap();
    assert_eq!(
        drain(&mut irm),
        [
            IrmEvent::IpcpFlowArrived {
                flow,
                acceptor: "net.a".to_owned(),
                name: "net".to_owned(),
            },
            IrmEvent::RespondOnIpcp {
                flow,
                ipcp: "udp".to_owned(),
                accepted: true,
            },
        ]
    );
    // irmd releases it like any process, and the IPCP below follows.
    irm.flow_dealloc(IRMD, flow).unwrap();
    assert_eq!(
        drain(&mut irm),
        [IrmEvent::DeallocOnIpcp {
            flow,
            ipcp: "udp".to_owned(),
        }]
    );
}

#[test]
fn an_ipcp_s_own_flow_is_allocated_over_the_layers_below_never_its_own() {
    let mut irm = with_member();
    let t = Instant::now();
    let flow = irm.ipcp_flow_alloc(t, "net.a", "net.b", QosSpec::RAW).unwrap();
    let [IrmEvent::QueryLayers { hashes_per_ipcp, .. }] = &drain(&mut irm)[..] else {
        panic!("one query")
    };
    assert_eq!(
        hashes_per_ipcp,
        &[("udp".to_owned(), in_udp(&irm, "net.b"))],
        "not net.a's own layer"
    );
    irm.query_answered(flow, "udp", true).unwrap();
    irm.alloc_reply(flow, "udp", Ok(())).unwrap();
    let events = drain(&mut irm);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, IrmEvent::FlowAllocated { flow: f, pid: IRMD, .. } if *f == flow)),
        "{events:?}"
    );
    // No flow limit holds irmd back.
    irm.set_flow_limit(Some(1));
    irm.ipcp_flow_alloc(t, "net.a", "net.c", QosSpec::RAW).unwrap();
    assert!(matches!(
        irm.ipcp_flow_alloc(t, "nope", "net.c", QosSpec::RAW),
        Err(IrmError::UnknownIpcp(_))
    ));
}

#[test]
fn flow_join_takes_the_broadcast_member_of_the_layer_and_nothing_else() {
    let mut irm = Irm::new();
    irm.ipcp_create("bc.a", IpcpType::Broadcast).unwrap();
    irm.ipcp_bootstrap("bc.a", "bc", &BootstrapConfig::Broadcast).unwrap();
    irm.process_started(CLIENT, None).unwrap();
    drain(&mut irm);
    let t = Instant::now();
    let (flow, ipcp) = irm.flow_join(t, CLIENT, "bc").unwrap();
    assert_eq!(ipcp, "bc.a");
    assert!(drain(&mut irm).is_empty(), "joined at once");
    assert_eq!(irm.flow_info(flow).map(|f| f.name), Some("bc".to_owned()));
    assert_eq!(
        irm.flow_join(t, CLIENT, "other"),
        Err(IrmError::NoBroadcastLayer("other".to_owned()))
    );
    assert_eq!(irm.flow_join(t, 4242, "bc"), Err(IrmError::UnknownProcess(4242)));
    // Leaving: the member releases its side.
    irm.flow_dealloc(CLIENT, flow).unwrap();
    assert_eq!(
        drain(&mut irm),
        [IrmEvent::DeallocOnIpcp {
            flow,
            ipcp: "bc.a".to_owned(),
        }]
    );
}
