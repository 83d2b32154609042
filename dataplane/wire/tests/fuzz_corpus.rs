//! The fuzz corpora, as tests.
//!
//! * Every committed seed (`fuzz/seeds/<target>/`) and every kept input of
//!   a crash the fuzzer found (`tests/fuzz_regressions/<target>/`) runs
//!   through its decoder of `o7s_wire::decoders::ALL`, the entry points
//!   the fuzz targets call; none may panic. A fixed crash thus stays a
//!   regression test with its input kept.
//! * The seeds are generated, not picked by hand: [`generate`] takes the
//!   vectors of `tests/common` and splits the C prototype's captures
//!   (`../shared/captures`, see its README) into an input per decoder:
//!   whole frames, eth-dix headers and management messages, OAP headers,
//!   CACEP, OEP and DHT protobufs, DT packets, flow-allocator and
//!   link-state messages, FRCT headers, UDP datagrams and UDP management
//!   messages. eth-llc and raptor have no capture: their seeds are the
//!   same payloads and management messages re-framed with this crate's
//!   emitters. `scripts/fuzz --seeds` (the ignored test at the end)
//!   rewrites `fuzz/seeds/` after the vectors, the captures or the
//!   selection change; a test checks that the committed seeds are what
//!   it makes.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use o7s_wire::decoders::{self, ALL};
use o7s_wire::dix::{self, DixHeader};
use o7s_wire::dt::{self, DtHeader, DtLayout};
use o7s_wire::eth::{self, EthFrame, MacAddr};
use o7s_wire::fa::{FaCode, FaMessage, FaRepr};
use o7s_wire::frct::FrctHeader;
use o7s_wire::llc::{self, LlcFrame, LlcRepr};
use o7s_wire::lsm::{Lsm, LsmRepr};
use o7s_wire::oap::{OapHeader, OapKind, OapRepr};
use o7s_wire::proto::{self, cep::CepMsg, dht::DhtMsg, enroll};
use o7s_wire::qos::QosSpec;
use o7s_wire::raptor::{self, RaptorFrame, RaptorRepr};
use o7s_wire::shim_mgmt::{Framing, ShimMgmt};
use o7s_wire::udp::{self, UdpDatagram};

mod common;

/// Most seeds kept per decoder: enough for one of each kind of message
/// the captures hold, few enough that the corpora stay a few hundred
/// files.
const MAX_SEEDS_PER_TARGET: usize = 24;

/// Hash length of the captured layers (SHA3-256, as the decoders assume).
const HASH_LEN: usize = 32;

/// The `dt_layout` decoder's first octet for the default layout: address
/// size 1 + (3 & 7) = 4, EID size 1 + (7 & 7) = 8.
const DEFAULT_LAYOUT_PICK: u8 = 3 | 7 << 3;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The committed seed corpora, one directory per fuzz target.
fn seeds_dir() -> PathBuf {
    manifest_dir().join("../../fuzz/seeds")
}

/// Inputs of crashes the fuzzer found, one directory per fuzz target.
fn regressions_dir() -> PathBuf {
    manifest_dir().join("tests/fuzz_regressions")
}

/// The C prototype's captures: `O7S_CAPTURES`, or `../shared/captures`
/// beside the repository.
fn captures_dir() -> PathBuf {
    std::env::var_os("O7S_CAPTURES").map_or_else(|| manifest_dir().join("../../../shared/captures"), PathBuf::from)
}

/// The files under `root/<target>/`, by target, in name order. Files in
/// `root` itself (a README) are not inputs.
fn kept_inputs(root: &Path) -> BTreeMap<String, BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    let Ok(dirs) = fs::read_dir(root) else {
        return out;
    };
    for dir in dirs {
        let dir = dir.expect("readable directory entry").path();
        if !dir.is_dir() {
            continue;
        }
        let target = dir.file_name().expect("named").to_string_lossy().into_owned();
        let files: &mut BTreeMap<String, Vec<u8>> = out.entry(target).or_default();
        for file in fs::read_dir(&dir).expect("readable directory") {
            let file = file.expect("readable directory entry").path();
            if file.is_file() {
                let name = file.file_name().expect("named").to_string_lossy().into_owned();
                files.insert(name, fs::read(&file).expect("readable input"));
            }
        }
    }
    out
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)")
}

#[test]
fn every_seed_and_kept_crash_input_runs_through_its_decoder() {
    let seeds = kept_inputs(&seeds_dir());
    let regressions = kept_inputs(&regressions_dir());
    let mut failures = Vec::new();
    let mut fed = 0;
    for (root, corpora) in [(seeds_dir(), &seeds), (regressions_dir(), &regressions)] {
        for (target, inputs) in corpora {
            let dir = root.join(target);
            let Some(decoder) = decoders::by_name(target) else {
                failures.push(format!("{}: no decoder is called {target:?}", dir.display()));
                continue;
            };
            for (name, input) in inputs {
                fed += 1;
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| (decoder.run)(input))) {
                    failures.push(format!("{}: {}", dir.join(name).display(), panic_message(&*panic)));
                }
            }
        }
    }
    for decoder in ALL {
        if seeds.get(decoder.name).is_none_or(BTreeMap::is_empty) {
            failures.push(format!("fuzz/seeds/{} is missing or empty", decoder.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!(
        "{fed} inputs: {} seeds, {} kept crash inputs",
        seeds.values().map(BTreeMap::len).sum::<usize>(),
        regressions.values().map(BTreeMap::len).sum::<usize>()
    );
}

#[test]
fn committed_seeds_are_what_the_generator_makes() {
    let Some(captures) = read_captures() else {
        // Straight to stderr: libtest hides what a passing test prints.
        let line = format!(
            "SKIPPED committed_seeds_are_what_the_generator_makes: no captures in {} (O7S_CAPTURES names them)\n",
            captures_dir().display()
        );
        let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
        return;
    };
    let generated = generate(&captures);
    let committed = kept_inputs(&seeds_dir());
    let empty = BTreeMap::new();
    let mut differences = Vec::new();
    for target in generated.keys().chain(committed.keys()).collect::<BTreeSet<_>>() {
        let want = generated.get(target).unwrap_or(&empty);
        let have = committed.get(target).unwrap_or(&empty);
        for name in want.keys().chain(have.keys()).collect::<BTreeSet<_>>() {
            match (want.get(name), have.get(name)) {
                (Some(_), None) => differences.push(format!("{target}/{name}: missing")),
                (None, Some(_)) => differences.push(format!("{target}/{name}: not generated")),
                (want, have) if want != have => differences.push(format!("{target}/{name}: other contents")),
                _ => {}
            }
        }
    }
    assert!(
        differences.is_empty(),
        "fuzz/seeds is not what the generator makes; run `scripts/fuzz --seeds` and commit the result:\n{}",
        differences.join("\n")
    );
}

#[test]
#[ignore = "rewrites fuzz/seeds/ from the vectors and the captures: run by `scripts/fuzz --seeds`"]
fn regenerate_fuzz_seeds() {
    let captures = read_captures().unwrap_or_else(|| panic!("no captures in {}", captures_dir().display()));
    let generated = generate(&captures);
    for decoder in ALL {
        let dir = seeds_dir().join(decoder.name);
        fs::create_dir_all(&dir).expect("seed directory");
        for old in fs::read_dir(&dir).expect("readable seed directory") {
            let old = old.expect("readable directory entry").path();
            if old.is_file() {
                fs::remove_file(&old).expect("old seed removed");
            }
        }
        let files = &generated[decoder.name];
        for (name, input) in files {
            fs::write(dir.join(name), input).expect("seed written");
        }
        println!("{:>12}: {} seeds", decoder.name, files.len());
    }
}

// ---------------------------------------------------------------------
// The generator.
// ---------------------------------------------------------------------

/// One capture: its file name without `.pcap`, and its frames.
struct Capture {
    stem: String,
    frames: Vec<Vec<u8>>,
}

/// Every `*.pcap` of the captures directory, in name order; `None` when
/// there is none.
fn read_captures() -> Option<Vec<Capture>> {
    let mut paths: Vec<PathBuf> = fs::read_dir(captures_dir())
        .ok()?
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "pcap"))
        .collect();
    paths.sort();
    let captures: Vec<Capture> = paths
        .iter()
        .map(|path| Capture {
            stem: path.file_stem().expect("named").to_string_lossy().into_owned(),
            frames: pcap_frames(&fs::read(path).expect("readable capture")),
        })
        .collect();
    (!captures.is_empty()).then_some(captures)
}

/// The frames of a classic little-endian pcap file of Ethernet frames.
fn pcap_frames(file: &[u8]) -> Vec<Vec<u8>> {
    let u32_le = |at: usize| u32::from_le_bytes(file[at..at + 4].try_into().expect("4 octets")) as usize;
    assert_eq!(file[..4], [0xd4, 0xc3, 0xb2, 0xa1], "a classic little-endian pcap file");
    assert_eq!(u32_le(20), 1, "Ethernet link type");
    let mut frames = Vec::new();
    let mut at = 24;
    while at < file.len() {
        let captured = u32_le(at + 8);
        at += 16;
        frames.push(file[at..at + captured].to_vec());
        at += captured;
    }
    frames
}

/// An input for a decoder: its file name and the kind of message it is.
struct Candidate {
    name: String,
    kind: String,
    input: Vec<u8>,
}

/// Candidates by decoder, in the order they were found.
#[derive(Default)]
struct Candidates(BTreeMap<&'static str, Vec<Candidate>>);

impl Candidates {
    fn add(&mut self, target: &'static str, name: &str, kind: &str, input: &[u8]) {
        assert!(decoders::by_name(target).is_some(), "no decoder {target}");
        self.0.entry(target).or_default().push(Candidate {
            name: name.to_owned(),
            kind: kind.to_owned(),
            input: input.to_vec(),
        });
    }

    /// Per decoder, at most [`MAX_SEEDS_PER_TARGET`] inputs: no two equal,
    /// one per kind and length, taken round-robin over the kinds (first
    /// found first) so that every kind is in before any has a second.
    fn select(mut self) -> BTreeMap<String, BTreeMap<String, Vec<u8>>> {
        let mut out = BTreeMap::new();
        for decoder in ALL {
            let (mut shapes, mut inputs) = (HashSet::new(), HashSet::new());
            let mut kinds: Vec<(String, Vec<Candidate>)> = Vec::new();
            for candidate in self.0.remove(decoder.name).unwrap_or_default() {
                if !shapes.insert((candidate.kind.clone(), candidate.input.len()))
                    || !inputs.insert(candidate.input.clone())
                {
                    continue;
                }
                match kinds.iter_mut().find(|(kind, _)| *kind == candidate.kind) {
                    Some((_, list)) => list.push(candidate),
                    None => kinds.push((candidate.kind.clone(), vec![candidate])),
                }
            }
            let mut files = BTreeMap::new();
            let deepest = kinds.iter().map(|k| k.1.len()).max().unwrap_or(0);
            'rounds: for round in 0..deepest {
                for (_, list) in &kinds {
                    if files.len() == MAX_SEEDS_PER_TARGET {
                        break 'rounds;
                    }
                    if let Some(candidate) = list.get(round) {
                        let fresh = files.insert(candidate.name.clone(), candidate.input.clone()).is_none();
                        assert!(fresh, "{}: two seeds named {}", decoder.name, candidate.name);
                    }
                }
            }
            out.insert(decoder.name.to_owned(), files);
        }
        out
    }
}

/// The seeds of every decoder: its vectors, then what the captures hold.
fn generate(captures: &[Capture]) -> BTreeMap<String, BTreeMap<String, Vec<u8>>> {
    let mut candidates = Candidates::default();
    for decoder in ALL {
        for (index, vector) in common::vectors(decoder.name).iter().enumerate() {
            let name = format!("vector-{index:02}");
            candidates.add(decoder.name, &name, &name, vector);
        }
    }
    for capture in captures {
        let mut dissector = Dissector::default();
        for (index, frame) in capture.frames.iter().enumerate() {
            dissector.frame(&mut candidates, &format!("{}-{index:05}", capture.stem), frame);
        }
    }
    candidates.select()
}

/// Follows the flows of one capture, to tell what each frame carries.
#[derive(Default)]
struct Dissector {
    /// The component each eth-dix flow serves (CACEP's comp_name), by
    /// receiver MAC and EID.
    components: HashMap<(MacAddr, u16), String>,
    /// DT EIDs of the N+1 flows that run FRCT: those whose FLOW_REQ asked
    /// for in-order delivery.
    frct_eids: HashSet<u64>,
}

impl Dissector {
    fn frame(&mut self, seeds: &mut Candidates, name: &str, frame: &[u8]) {
        let eth = EthFrame::new_checked(frame).expect("an Ethernet frame");
        let kind = match eth.ethertype() {
            eth::ETHERTYPE_O7S => self.dix(seeds, name, eth.dst_addr(), eth.src_addr(), eth.payload()),
            0x0800 => udp4(seeds, name, eth.payload()),
            other => format!("ethertype {other:#06x}"),
        };
        seeds.add("eth", name, &kind, frame);
    }

    /// An eth-dix frame's inner header and payload; also re-framed as
    /// eth-llc and raptor.
    fn dix(&mut self, seeds: &mut Candidates, name: &str, dst: MacAddr, src: MacAddr, inner: &[u8]) -> String {
        let header = DixHeader::new_checked(inner).expect("every captured frame parses");
        let payload = header.payload();
        let (kind, llc_payload, raptor_payload, sap, raptor_eid) = if header.eid() == dix::MGMT_EID {
            let (kind, llc_body, raptor_body) = dix_mgmt(seeds, name, payload);
            (kind, llc_body, raptor_body, llc::MGMT_SAP, raptor::MGMT_EID)
        } else {
            let kind = self.flow(seeds, name, dst, header.eid(), payload);
            // SAPs and raptor EIDs of flows are 2..=63.
            let low = 2 + (header.eid() % 62) as u8;
            (kind, payload.to_vec(), Some(payload.to_vec()), low, low)
        };
        seeds.add("dix", name, &kind, inner);

        if llc_payload.len() <= llc::MAX_PAYLOAD_LEN {
            let repr = LlcRepr {
                dst_addr: dst,
                src_addr: src,
                dsap: sap,
                ssap: sap,
                control: llc::CONTROL_UI,
                payload_len: llc_payload.len() as u16,
            };
            let mut frame = vec![0; repr.total_len()];
            repr.emit(&mut LlcFrame::new_unchecked(&mut frame[..])).expect("fits");
            frame[llc::HEADER_LEN..].copy_from_slice(&llc_payload);
            seeds.add("llc", name, &kind, &frame);
        }
        if let Some(raptor_payload) = raptor_payload.filter(|p| p.len() <= raptor::MAX_PAYLOAD_LEN) {
            let repr = RaptorRepr {
                eid: raptor_eid,
                payload_len: raptor_payload.len() as u16,
            };
            let mut frame = vec![0; repr.total_len()];
            repr.emit(&mut RaptorFrame::new_unchecked(&mut frame[..]))
                .expect("fits");
            frame[raptor::HEADER_LEN..].copy_from_slice(&raptor_payload);
            seeds.add("raptor", name, &kind, &frame);
        }
        kind
    }

    /// The payload of an eth-dix flow: a CACEP message, or what the
    /// component it announced speaks.
    fn flow(&mut self, seeds: &mut Candidates, name: &str, dst: MacAddr, eid: u16, payload: &[u8]) -> String {
        if payload.is_empty() {
            return "keepalive".into();
        }
        if let Ok(cep) = proto::decode_limited::<CepMsg>(payload) {
            let kind = format!("CACEP {}", cep.comp_name);
            seeds.add("cep", name, &kind, payload);
            self.components.insert((dst, eid), cep.comp_name);
            return kind;
        }
        match self.components.get(&(dst, eid)).map(String::as_str) {
            Some("Enrollment") => enrollment(seeds, name, payload),
            Some("Management") => {
                LsmRepr::parse(&Lsm::new_checked(payload).expect("a link-state message")).expect("valid");
                seeds.add("lsm", name, "link state", payload);
                "link state".into()
            }
            Some("Data Transfer") => self.dt(seeds, name, payload),
            Some(other) => panic!("{name}: a flow of component {other:?}"),
            // A flow of an application straight over the shim (oping).
            None => "eth-dix flow".into(),
        }
    }

    /// A DT packet and what it carries.
    fn dt(&mut self, seeds: &mut Candidates, name: &str, packet: &[u8]) -> String {
        let header = DtHeader::new_checked(packet, DtLayout::DEFAULT).expect("a DT packet");
        let payload = header.payload();
        let kind = match header.eid() {
            _ if payload.is_empty() => "DT keepalive".to_owned(),
            dt::FA_EID => self.fa(seeds, name, payload),
            dt::DHT_EID => {
                let msg = proto::decode::<DhtMsg>(payload).expect("a DHT message");
                let kind = format!("DHT code {}", msg.code);
                seeds.add("dht", name, &kind, payload);
                kind
            }
            eid if self.frct_eids.contains(&eid) => {
                let frct = FrctHeader::new_checked(payload).expect("an FRCT header");
                let kind = format!("FRCT flags {:#04x}", frct.flags().0);
                seeds.add("frct", name, &kind, payload);
                kind
            }
            _ => "DT raw flow".to_owned(),
        };
        seeds.add("dt", name, &kind, packet);
        seeds.add("dt_layout", name, &kind, &[&[DEFAULT_LAYOUT_PICK], packet].concat());
        kind
    }

    /// A flow allocator message; a FLOW_REQ for in-order delivery and its
    /// reply name the EIDs of an FRCT flow.
    fn fa(&mut self, seeds: &mut Candidates, name: &str, msg: &[u8]) -> String {
        let repr = FaRepr::parse(&FaMessage::new_checked(msg).expect("an FA message"), HASH_LEN).expect("valid");
        match repr.code {
            FaCode::FlowReq if repr.qos.in_order != 0 => {
                self.frct_eids.insert(repr.s_eid);
            }
            FaCode::FlowReply if self.frct_eids.contains(&repr.r_eid) => {
                self.frct_eids.insert(repr.s_eid);
            }
            _ => {}
        }
        oap(seeds, name, repr.code == FaCode::FlowReq, repr.data);
        let kind = format!("FA {}", repr.code);
        seeds.add("fa", name, &kind, msg);
        kind
    }
}

/// An eth-dix management message, and the same message as eth-llc and
/// raptor carry it (raptor's when it has no OAP header, and EIDs of 8
/// bits, as do the captures').
fn dix_mgmt(seeds: &mut Candidates, name: &str, body: &[u8]) -> (String, Vec<u8>, Option<Vec<u8>>) {
    let msg = Framing::EthDix
        .parse(body, HASH_LEN)
        .expect("a valid management message");
    let kind = format!("management {}", msg.name());
    seeds.add("dix_mgmt", name, &kind, body);
    oap(seeds, name, matches!(msg, ShimMgmt::FlowReq { .. }), msg.data());

    let mut llc_body = vec![0; Framing::EthLlc.buffer_len(&msg)];
    Framing::EthLlc
        .emit(&msg, &mut llc_body)
        .expect("the captures' EIDs fit 8-bit SAPs");
    seeds.add("llc_mgmt", name, &kind, &llc_body);

    // Raptor carries no OAP header, and no QoS timeout.
    let raptor_body = msg.data().is_empty().then(|| {
        let msg = match msg {
            ShimMgmt::FlowReq {
                requester,
                qos,
                hash,
                data,
            } => ShimMgmt::FlowReq {
                requester,
                qos: QosSpec { timeout: 0, ..qos },
                hash,
                data,
            },
            other => other,
        };
        let mut body = vec![0; Framing::Raptor.buffer_len(&msg)];
        Framing::Raptor
            .emit(&msg, &mut body)
            .expect("the captures' EIDs and responses fit 8 bits");
        seeds.add("raptor_mgmt", name, &kind, &body);
        body
    });
    (kind, llc_body, raptor_body)
}

/// The OAP header of a FLOW_REQ (`request`) or FLOW_REPLY, if any.
fn oap(seeds: &mut Candidates, name: &str, request: bool, header: &[u8]) {
    if header.is_empty() {
        return;
    }
    let (target, kind) = if request {
        ("oap_req", OapKind::Request)
    } else {
        ("oap_rsp", OapKind::Response { req_hash_len: 48 })
    };
    OapRepr::parse(&OapHeader::new_checked(header).expect("an OAP header"), kind).expect("valid");
    seeds.add(target, name, "OAP", header);
}

/// An OEP message: response, acknowledgement or request (tried in that
/// order: each decodes as the ones after it, not before).
fn enrollment(seeds: &mut Candidates, name: &str, msg: &[u8]) -> String {
    let target = if proto::decode_limited::<enroll::EnrollRespMsg>(msg).is_ok() {
        "enroll_resp"
    } else if proto::decode_limited::<enroll::EnrollAckMsg>(msg).is_ok() {
        "enroll_ack"
    } else {
        proto::decode_limited::<enroll::EnrollReqMsg>(msg).expect("an OEP message");
        "enroll_req"
    };
    seeds.add(target, name, target, msg);
    target.into()
}

/// An IPv4 packet: the UDP shim's datagrams and management messages.
fn udp4(seeds: &mut Candidates, name: &str, packet: &[u8]) -> String {
    let header_len = usize::from(packet[0] & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    if packet[9] != 17 {
        return format!("IPv4 protocol {}", packet[9]);
    }
    let datagram = &packet[header_len + 8..total_len];
    let shim = UdpDatagram::new_checked(datagram).expect("a UDP shim datagram");
    let kind = if shim.eid() == udp::MGMT_EID {
        let msg = Framing::Udp.parse(datagram, udp::HASH_LEN).expect("a valid message");
        let kind = format!("UDP management {}", msg.name());
        seeds.add("udp_mgmt", name, &kind, datagram);
        oap(seeds, name, matches!(msg, ShimMgmt::FlowReq { .. }), msg.data());
        kind
    } else {
        "UDP flow".to_owned()
    };
    seeds.add("udp", name, &kind, datagram);
    kind
}
