use std::time::{Duration, Instant};

use o7s_wire::proto::{self, dht as pb};

use super::core::{Dht, DhtConfig, DhtDrop, DhtEvent, code};
use super::sim::{DhtSim, addr};
use super::table::{Table, distance};

fn key(n: u8) -> Vec<u8> {
    let mut k = vec![0u8; 32];
    k[0] = n;
    k[31] = n;
    k
}

#[test]
fn distance_is_the_xor_of_the_first_eight_octets() {
    let mut a = vec![0u8; 32];
    let mut b = vec![0u8; 32];
    a[0] = 0x80;
    b[7] = 1;
    b[20] = 0xff;
    assert_eq!(distance(&a, &b), 0x8000_0000_0000_0001);
    assert_eq!(distance(&a, &a), 0);
}

#[test]
fn a_table_keeps_k_per_bucket_and_answers_the_closest() {
    let t0 = Instant::now();
    let mut table = Table::new(vec![0; 32], 2);
    // Ids 0x80.., 0x81.., 0x82.. share bucket 0; 0x01.. is bucket 7.
    for (i, first) in [0x80u8, 0x81, 0x82, 0x01].into_iter().enumerate() {
        let mut id = vec![0u8; 32];
        id[0] = first;
        table.seen(&id, i as u64 + 1, t0);
    }
    table.seen(&[0u8; 32], 99, t0);
    assert_eq!(
        table.len(),
        3,
        "two in bucket 0 (the third an alternate), one in bucket 7, never the own id"
    );
    let mut k = vec![0u8; 32];
    k[0] = 0x81;
    let closest: Vec<u64> = table.closest(&k, 2).iter().map(|c| c.addr).collect();
    assert_eq!(closest, [2, 1]);
}

fn sent(dht: &mut Dht) -> Vec<(u64, pb::DhtMsg)> {
    std::iter::from_fn(|| dht.poll_event())
        .filter_map(|e| match e {
            DhtEvent::Send { to, msg } => Some((to, proto::decode::<pb::DhtMsg>(&msg).expect("our message decodes"))),
            DhtEvent::Resolved { .. } => None,
        })
        .collect()
}

#[test]
fn requests_are_answered_with_the_closest_contacts_and_values() {
    let t = Instant::now();
    let cfg = DhtConfig::default();
    let mut d = Dht::new(cfg, 1, 1, t, 1_800_000_000, 1);
    // Three members introduce themselves with STOREs of a name.
    for a in [2u64, 3, 4] {
        let msg = pb::DhtMsg {
            code: code::STORE,
            src: pb::DhtContactMsg {
                id: key(a as u8),
                addr: a,
            },
            store: Some(pb::DhtStoreMsg {
                key: key(200),
                val: a.to_be_bytes().to_vec(),
                exp: 1_800_000_100,
            }),
            ..Default::default()
        };
        d.receive(t, &proto::encode(&msg)).unwrap();
    }
    assert_eq!(d.contacts(), 3);
    let req = pb::DhtMsg {
        code: code::FIND_VALUE_REQ,
        src: pb::DhtContactMsg { id: key(2), addr: 2 },
        find: Some(pb::DhtFindReqMsg {
            cookie: 77,
            key: key(200),
        }),
        ..Default::default()
    };
    d.receive(t, &proto::encode(&req)).unwrap();
    let out = sent(&mut d);
    let [(to, rsp)] = &out[..] else { panic!("{out:?}") };
    assert_eq!((*to, rsp.code), (2, code::FIND_VALUE_RSP));
    let node = rsp.node.as_ref().expect("contacts");
    assert_eq!((node.cookie, &node.key), (77, &key(200)));
    let mut contacts: Vec<u64> = node.contacts.iter().map(|c| c.addr).collect();
    contacts.sort_unstable();
    assert_eq!(contacts, [2, 3, 4], "the asker too, as C answers");
    let vals: Vec<u64> = rsp
        .val
        .as_ref()
        .expect("values")
        .values
        .iter()
        .map(|v| u64::from_be_bytes(v[..].try_into().unwrap()))
        .collect();
    assert_eq!(vals, [2, 3, 4]);
    assert_eq!(rsp.src.addr, 1);
}

#[test]
fn invalid_unmatched_and_expired_messages_are_refused_by_reason() {
    let t = Instant::now();
    let mut d = Dht::new(DhtConfig::default(), 1, 1, t, 1_800_000_000, 1);
    let msg = |code, id: Vec<u8>, addr| pb::DhtMsg {
        code,
        src: pb::DhtContactMsg { id, addr },
        ..Default::default()
    };
    assert_eq!(d.receive(t, &[0xff, 0xff, 0xff]), Err(DhtDrop::Malformed));
    assert_eq!(d.receive(t, &[]), Err(DhtDrop::Malformed), "required fields missing");
    for (m, what) in [
        (msg(code::FIND_NODE_REQ, key(2), 2), "a request without find"),
        (msg(code::STORE, key(2), 2), "a STORE without store"),
        (msg(9, key(2), 2), "an unknown code"),
        (msg(code::FIND_NODE_REQ, vec![1; 16], 2), "a short id"),
        (msg(code::FIND_NODE_REQ, key(2), 0), "address 0"),
    ] {
        assert_eq!(d.receive(t, &proto::encode(&m)), Err(DhtDrop::Invalid), "{what}");
    }
    let mut rsp = msg(code::FIND_NODE_RSP, key(2), 2);
    rsp.node = Some(pb::DhtFindNodeRspMsg {
        cookie: 5,
        key: key(3),
        contacts: vec![],
    });
    assert_eq!(d.receive(t, &proto::encode(&rsp)), Err(DhtDrop::Unmatched));
    let mut old = msg(code::STORE, key(2), 2);
    old.store = Some(pb::DhtStoreMsg {
        key: key(9),
        val: 2u64.to_be_bytes().to_vec(),
        exp: 1_799_999_999,
    });
    assert_eq!(d.receive(t, &proto::encode(&old)), Err(DhtDrop::Refused));
    assert_eq!(
        d.contacts(),
        1,
        "only the expired STORE, a valid message, made its sender a contact"
    );
    assert_eq!(d.drops()[&DhtDrop::Invalid], 5);
}

/// A layer of `n` members, each joined by a member already in, and one
/// name registered per member.
fn layer(n: usize, seed: u64) -> (DhtSim, Vec<Vec<u8>>) {
    let (sim, names, _) = DhtSim::layer(n, DhtConfig::default(), seed);
    (sim, names)
}

#[test]
fn every_name_is_found_from_every_member_in_few_hops() {
    let n = 64;
    let (mut sim, names) = layer(n, 5);
    let bound = (n as f64).log2().ceil() as u32 + 2;
    let mut lookups = 0;
    for from in 0..n {
        for (owner, name) in names.iter().enumerate().step_by(7) {
            let (answer, stats) = sim.query(from, name);
            assert_eq!(answer, Some(addr(owner)), "{from} asks for {owner}'s name");
            if let Some(s) = stats {
                assert!(s.hops <= bound, "{} hops > {bound}", s.hops);
                lookups += 1;
            }
        }
    }
    assert!(lookups > 0, "some answers needed a lookup");
}

#[test]
fn a_name_nobody_registered_is_not_found() {
    let (mut sim, _) = layer(16, 9);
    assert_eq!(sim.query(3, &key(1)).0, None);
}

#[test]
fn stored_copies_expire_and_registrations_are_republished() {
    let cfg = DhtConfig {
        t_expire: Duration::from_secs(60),
        t_replicate: Duration::from_secs(10),
        t_refresh: Duration::from_secs(10),
        ..DhtConfig::default()
    };
    let mut sim = DhtSim::new(8, cfg, Duration::from_millis(1), 3);
    sim.join(0, 0);
    for i in 1..8 {
        sim.join(i, 0);
    }
    let name = key(42);
    sim.register(5, &name);
    // Republished before expiry, so still found long after t_expire.
    sim.advance(Duration::from_secs(200));
    assert_eq!(sim.query(2, &name).0, Some(addr(5)));
}
