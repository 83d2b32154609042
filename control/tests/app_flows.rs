//! The application library against a real irmd over the local layer: both
//! ends of each flow live in this test process (bound to the name with
//! `irm bind process`), which allocates on one thread and accepts on
//! another.

mod common;

use std::time::{Duration, Instant};

use common::{Irmd, eventually};
use o7s_app::{Error, Event, FQueue, FlowFlags, FlowSet, Ipc, QosSpec};

/// irmd with the tutorial's local layer and `name` bound to this process.
fn setup(test: &str, name: &str) -> (Irmd, Ipc) {
    let irmd = Irmd::start(test);
    irmd.irm_ok(&["ipcp", "bootstrap", "type", "local", "name", "lo", "layer", "lo"]);
    let ipc = Ipc::connect_to(&irmd.dir).expect("connect");
    irmd.irm_ok(&["bind", "process", &ipc.pid().to_string(), "name", name]);
    irmd.irm_ok(&["name", "register", name, "layer", "lo"]);
    (irmd, ipc)
}

/// A flow to `name` and its accepted end.
fn pair(ipc: &Ipc, name: &str, qos: QosSpec) -> (o7s_app::Flow, o7s_app::Flow) {
    std::thread::scope(|s| {
        let acceptor = s.spawn(|| ipc.flow_accept(Some(Duration::from_secs(10))));
        let client = ipc
            .flow_alloc(name, qos, Some(Duration::from_secs(10)))
            .expect("flow_alloc");
        let server = acceptor.join().expect("acceptor thread").expect("flow_accept");
        (client, server)
    })
}

#[test]
fn sdus_cross_a_local_flow_both_ways_with_qos() {
    let (_irmd, ipc) = setup("app-sdus", "echo");
    let (client, server) = pair(&ipc, "echo", QosSpec::VOICE);
    assert_eq!(server.qos(), Some(QosSpec::VOICE));
    assert_eq!(server.name(), "echo");
    assert!(client.fd() >= 64 && server.fd() >= 64 && client.fd() != server.fd());
    let mut buf = [0u8; 2048];
    for i in 0..5000u32 {
        let msg = i.to_be_bytes();
        client.write(&msg).unwrap();
        let n = server.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], &msg);
        server.write(&buf[..n]).unwrap();
        let n = client.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], &msg);
    }
    // An empty SDU is an SDU.
    client.write(&[]).unwrap();
    assert_eq!(server.read(&mut buf).unwrap(), 0);
}

#[test]
fn partial_reads_and_no_partial_reads_follow_the_c_library() {
    let (_irmd, ipc) = setup("app-partial", "part");
    let (client, server) = pair(&ipc, "part", QosSpec::RAW);
    let sdu: Vec<u8> = (0..100u8).collect();
    client.write(&sdu).unwrap();
    let mut small = [0u8; 40];
    assert_eq!(server.read(&mut small).unwrap(), 40);
    assert_eq!(&small[..], &sdu[..40]);
    assert_eq!(server.read(&mut small).unwrap(), 40);
    assert_eq!(&small[..], &sdu[40..80]);
    assert_eq!(server.read(&mut small).unwrap(), 20);
    assert_eq!(&small[..20], &sdu[80..]);
    // A piece that ends an SDU and fills the buffer: a 0 read follows.
    client.write(&sdu[..80]).unwrap();
    assert_eq!(server.read(&mut small).unwrap(), 40);
    assert_eq!(server.read(&mut small).unwrap(), 40);
    assert_eq!(server.read(&mut small).unwrap(), 0);
    server.set_flags(server.flags() | FlowFlags::RNOPART);
    client.write(&sdu).unwrap();
    assert!(matches!(
        server.read(&mut small),
        Err(Error::MessageSize { len: 100, room: 40 })
    ));
    // The oversized SDU was dropped; the next one reads whole.
    client.write(&sdu[..10]).unwrap();
    assert_eq!(server.read(&mut small).unwrap(), 10);
}

#[test]
fn timeouts_non_blocking_and_queue_lengths() {
    let (_irmd, ipc) = setup("app-timeouts", "tmo");
    let (client, server) = pair(&ipc, "tmo", QosSpec::RAW);
    let mut buf = [0u8; 64];
    server.set_rcv_timeout(Some(Duration::from_millis(50)));
    assert_eq!(server.rcv_timeout(), Some(Duration::from_millis(50)));
    let t = Instant::now();
    assert!(matches!(server.read(&mut buf), Err(Error::TimedOut)));
    assert!(t.elapsed() >= Duration::from_millis(45));
    server.set_rcv_timeout(None);
    server.set_flags(FlowFlags::RDWR | FlowFlags::RNOBLOCK);
    assert!(matches!(server.read(&mut buf), Err(Error::WouldBlock)));
    for _ in 0..3 {
        client.write(b"x").unwrap();
    }
    assert_eq!(server.rx_queue_len(), 3);
    assert_eq!(client.tx_queue_len(), 3);
    assert_eq!(server.read(&mut buf).unwrap(), 1);
    assert_eq!(server.rx_queue_len(), 2);
    // The ring holds 1024 SDUs: a non-blocking writer gets WouldBlock, a
    // blocking one its send timeout.
    client.set_flags(FlowFlags::RDWR | FlowFlags::WNOBLOCK);
    let mut sent = 2;
    while client.write(b"y").is_ok() {
        sent += 1;
    }
    assert_eq!(sent, 1024);
    assert!(matches!(client.write(b"y"), Err(Error::WouldBlock)));
    client.set_flags(FlowFlags::DEFAULT);
    client.set_snd_timeout(Some(Duration::from_millis(20)));
    assert!(matches!(client.write(b"y"), Err(Error::TimedOut)));
    // Read-only refuses writes.
    server.set_flags(FlowFlags::RDONLY);
    assert!(matches!(server.write(b"z"), Err(Error::AccessMode(_))));
}

#[test]
fn a_peer_that_deallocates_ends_blocked_reads_and_raises_down() {
    let (irmd, ipc) = setup("app-down", "down");
    let (client, server) = pair(&ipc, "down", QosSpec::RAW);
    let mut set = FlowSet::new();
    set.add(&server);
    let mut fq = FQueue::new();
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut buf = [0u8; 64];
            server.read(&mut buf)
        });
        std::thread::sleep(Duration::from_millis(50));
        client.dealloc().unwrap();
        assert!(matches!(reader.join().unwrap(), Err(Error::FlowDown(_))));
    });
    assert!(ipc.fevent(&set, &mut fq, Some(Duration::from_secs(5))).is_ok());
    assert!(fq.any(|(fd, e)| fd == server.fd() && e == Event::Down));
    assert!(matches!(server.write(b"x"), Err(Error::FlowDown(_))));
    drop(server);
    let mut admin = irmd.admin();
    let gone = eventually(Duration::from_secs(5), || {
        admin.status().unwrap().flows.is_empty().then_some(())
    });
    assert!(
        gone.is_some(),
        "flows left in irmd: {:?}",
        admin.status().unwrap().flows
    );
}

#[test]
fn fevent_reports_packets_and_asynchronous_allocation() {
    let (_irmd, ipc) = setup("app-fevent", "ev");
    let mut fq = FQueue::new();
    // Asynchronous: returns at once, pending while no process accepts (the
    // request waits up to REQ_ARR_TIMEOUT for one), then Alloc on the set.
    let client = ipc.flow_alloc("ev", QosSpec::RAW, Some(Duration::ZERO)).unwrap();
    let mut buf = [0u8; 8];
    assert!(matches!(client.read(&mut buf), Err(Error::Pending(_))));
    assert!(!client.is_up() && client.id().is_none());
    let accept = std::thread::scope(|s| {
        let acceptor = s.spawn(|| ipc.flow_accept(Some(Duration::from_secs(10))));
        let mut set = FlowSet::new();
        set.add(&client);
        let mut events = Vec::new();
        while !events.contains(&(client.fd(), Event::Alloc)) {
            ipc.fevent(&set, &mut fq, Some(Duration::from_secs(5)))
                .expect("alloc event");
            events.extend(&mut fq);
        }
        assert!(client.is_up());
        acceptor.join().unwrap().unwrap()
    });
    let server = accept;
    let mut set = FlowSet::new();
    set.add(&server);
    assert!(matches!(
        ipc.fevent(&set, &mut fq, Some(Duration::from_millis(30))),
        Err(Error::TimedOut)
    ));
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(30));
            client.write(b"ping").unwrap();
        });
        assert_eq!(ipc.fevent(&set, &mut fq, Some(Duration::from_secs(5))).unwrap(), 1);
    });
    assert_eq!(fq.next(), Some((server.fd(), Event::Pkt)));
    assert_eq!(fq.next(), None);
    // An asynchronous allocation to a name no layer knows fails as an event.
    let lost = ipc.flow_alloc("nobody", QosSpec::RAW, Some(Duration::ZERO)).unwrap();
    let mut set = FlowSet::new();
    set.add(&lost);
    ipc.fevent(&set, &mut fq, Some(Duration::from_secs(5))).unwrap();
    assert_eq!(fq.next(), Some((lost.fd(), Event::AllocFailed)));
    let mut buf = [0u8; 8];
    assert!(matches!(lost.read(&mut buf), Err(Error::Unreachable(n)) if n == "nobody"));
}

#[test]
fn unknown_names_are_unreachable_and_accept_times_out() {
    let (_irmd, ipc) = setup("app-unreach", "here");
    let err = ipc.flow_alloc("nowhere", QosSpec::RAW, None).unwrap_err();
    assert!(matches!(err, Error::Unreachable(ref n) if n == "nowhere"), "{err}");
    assert_eq!(err.code(), -o7s_app::error::errno::EHOSTUNREACH);
    let t = Instant::now();
    assert!(matches!(
        ipc.flow_accept(Some(Duration::from_millis(100))),
        Err(Error::TimedOut)
    ));
    assert!(t.elapsed() >= Duration::from_millis(90));
}
