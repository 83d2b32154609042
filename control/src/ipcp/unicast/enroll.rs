//! Enrolment (OEP, PROTOCOL.md §11): how a new member gets a layer's
//! configuration from a member, over an `Enrollment` flow after CACEP.
//! Sans IO: messages and clocks in, messages and the configuration out.
//!
//! ```text
//!  enrollee                                         member
//!  Enrollee::new(id) ── enroll_req {id} ──────────► answer(req, layer, own address, clock)
//!                    ◄─ enroll_resp {id, clock, 0, conf (peer = member)} ─┘
//!  .response(resp) ──► the layer (peer: the DHT's bootstrap contact), clock offset
//!  (starts its components, then)
//!  .ack() ─────────── enroll_ack {id, 0} ─────────► check_ack(ack, id)
//! ```
//!
//! A layer's configuration travels as `ipcp_config_msg`; [`LayerConfig`]
//! converts both ways, refusing values the C prototype would not take.

use o7s_wire::hash::HashAlgo;
use o7s_wire::proto::{
    self,
    enroll::{EnrollAckMsg, EnrollReqMsg, EnrollRespMsg},
    ipcp_config as pc, model,
};

use crate::ipcp::unicast::lsr::Addr;
use crate::ipcp_config::{
    AddrAuth, CongestionAvoidance, DhtParams, DirectoryPolicy, IpcpType, LinkStateConfig, RoutingPolicy, UnicastConfig,
};

/// Octets of an enrolment id.
pub const ID_LEN: usize = 8;

/// Clock offsets beyond this are worth a warning (C: 20 ms).
pub const CLOCK_WARNING_NS: i128 = 20_000_000;

/// A layer as enrolment hands it on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerConfig {
    pub name: String,
    pub ipcp_type: IpcpType,
    /// Directory hash of a broadcast layer; a unicast layer's is in
    /// `unicast.hash`.
    pub hash: HashAlgo,
    /// The unicast layer's parameters (none for broadcast).
    pub unicast: Option<UnicastConfig>,
    /// The member that served the configuration: the DHT's bootstrap
    /// contact.
    pub peer: Addr,
}

/// Why enrolment failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnrollError {
    #[error("not an OEP message")]
    Malformed,
    #[error("the answer is for another enrolment")]
    WrongId,
    #[error("the member refused: response {0}")]
    Refused(i32),
    #[error("the layer is {theirs}, this IPCP is {ours}")]
    WrongType { ours: IpcpType, theirs: String },
    #[error("the layer's configuration is not usable: {0}")]
    BadConfig(String),
}

fn bad(what: impl Into<String>) -> EnrollError {
    EnrollError::BadConfig(what.into())
}

impl LayerConfig {
    /// A unicast layer called `name` set up with `config`, as its first
    /// member holds it (no peer yet).
    pub fn unicast(name: &str, config: UnicastConfig) -> LayerConfig {
        LayerConfig {
            name: name.to_owned(),
            ipcp_type: IpcpType::Unicast,
            hash: config.hash,
            unicast: Some(config),
            peer: 0,
        }
    }

    /// The `ipcp_config_msg` a member serves, naming itself as the peer.
    pub fn to_msg(&self, own: Addr) -> pc::IpcpConfigMsg {
        let hash = self.unicast.map_or(self.hash, |u| u.hash);
        pc::IpcpConfigMsg {
            layer_info: model::LayerInfoMsg {
                name: self.name.clone(),
                dir_hash_algo: hash.value(),
            },
            ipcp_type: self.ipcp_type.value(),
            unicast: self.unicast.map(|u| pc::UniConfigMsg {
                dt: pc::DtConfigMsg {
                    addr_size: u32::from(u.addr_size),
                    eid_size: u32::from(u.eid_size),
                    max_ttl: u32::from(u.max_ttl),
                    routing: pc::RoutingConfigMsg {
                        pol: 0,
                        ls: Some(pc::LsConfigMsg {
                            pol: u.routing.policy.value(),
                            t_recalc: u.routing.t_recalc,
                            t_update: u.routing.t_update,
                            t_timeo: u.routing.t_timeo,
                        }),
                    },
                },
                dir: pc::DirConfigMsg {
                    pol: 0,
                    dht: Some(pc::DirDhtConfigMsg {
                        alpha: u.dht.alpha,
                        k: u.dht.k,
                        t_expire: u.dht.t_expire,
                        t_refresh: u.dht.t_refresh,
                        t_replicate: u.dht.t_replicate,
                        peer: own,
                    }),
                },
                addr_auth_type: 0,
                cong_avoid: u.congestion.value(),
            }),
            ..pc::IpcpConfigMsg::default()
        }
    }

    /// Reads a served configuration.
    pub fn from_msg(msg: &pc::IpcpConfigMsg) -> Result<LayerConfig, EnrollError> {
        let hash = HashAlgo::try_from(msg.layer_info.dir_hash_algo)
            .map_err(|_| bad(format!("hash algorithm {}", msg.layer_info.dir_hash_algo)))?;
        let ipcp_type = match msg.ipcp_type {
            1 => IpcpType::Unicast,
            2 => IpcpType::Broadcast,
            t => return Err(bad(format!("IPCP type {t} does not enrol"))),
        };
        let mut peer = 0;
        let unicast = match (ipcp_type, &msg.unicast) {
            (IpcpType::Unicast, None) => return Err(bad("a unicast layer without its parameters")),
            (IpcpType::Unicast, Some(u)) => {
                let ls =
                    u.dt.routing
                        .ls
                        .as_ref()
                        .ok_or_else(|| bad("no link-state parameters"))?;
                let dht = u.dir.dht.as_ref().ok_or_else(|| bad("no DHT parameters"))?;
                peer = dht.peer;
                let policy = match ls.pol {
                    0 => RoutingPolicy::LinkState,
                    1 => RoutingPolicy::Lfa,
                    2 => RoutingPolicy::Ecmp,
                    p => return Err(bad(format!("routing policy {p}"))),
                };
                let congestion = match u.cong_avoid {
                    0 => CongestionAvoidance::None,
                    1 => CongestionAvoidance::MbEcn,
                    c => return Err(bad(format!("congestion avoidance {c}"))),
                };
                if u.dt.addr_size != u32::from(UnicastConfig::ADDR_SIZE) {
                    return Err(bad(format!("address size {}", u.dt.addr_size)));
                }
                let max_ttl = u8::try_from(u.dt.max_ttl)
                    .ok()
                    .filter(|t| UnicastConfig::MAX_TTL.contains(t))
                    .ok_or_else(|| bad(format!("max TTL {}", u.dt.max_ttl)))?;
                let timer = |t: u32, what: &str| {
                    LinkStateConfig::TIMER
                        .contains(&t)
                        .then_some(t)
                        .ok_or_else(|| bad(format!("{what} {t} s")))
                };
                let in_range = |v: u32, r: std::ops::RangeInclusive<u32>, what: &str| {
                    r.contains(&v).then_some(v).ok_or_else(|| bad(format!("{what} {v}")))
                };
                Some(UnicastConfig {
                    hash,
                    addr_auth: AddrAuth::FlatRandom,
                    addr_size: UnicastConfig::ADDR_SIZE,
                    // The C IPCP forces 8 whatever comes.
                    eid_size: UnicastConfig::EID_SIZE,
                    max_ttl,
                    routing: LinkStateConfig {
                        policy,
                        t_recalc: timer(ls.t_recalc, "t_recalc")?,
                        t_update: timer(ls.t_update, "t_update")?,
                        t_timeo: timer(ls.t_timeo, "t_timeo")?,
                    },
                    directory: DirectoryPolicy::Dht,
                    dht: DhtParams {
                        alpha: in_range(dht.alpha, DhtParams::ALPHA, "DHT alpha")?,
                        k: in_range(dht.k, DhtParams::K, "DHT k")?,
                        t_expire: in_range(dht.t_expire, DhtParams::T_EXPIRE, "DHT t_expire")?,
                        t_refresh: in_range(dht.t_refresh, DhtParams::T_REFRESH, "DHT t_refresh")?,
                        t_replicate: in_range(dht.t_replicate, DhtParams::T_REPLICATE, "DHT t_replicate")?,
                    },
                    congestion,
                })
            }
            _ => None,
        };
        Ok(LayerConfig {
            name: msg.layer_info.name.clone(),
            ipcp_type,
            hash,
            unicast,
            peer,
        })
    }
}

/// The enrollee's side of one enrolment.
#[derive(Debug, Clone)]
pub struct Enrollee {
    id: [u8; ID_LEN],
    ipcp_type: IpcpType,
}

/// What the enrollee learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    pub layer: LayerConfig,
    /// The member's clock minus this one's, in nanoseconds.
    pub clock_offset_ns: i128,
}

impl Enrollee {
    /// An enrolment of an IPCP of `ipcp_type` with id `id` (8 random
    /// octets), and its request.
    pub fn new(id: [u8; ID_LEN], ipcp_type: IpcpType) -> (Enrollee, Vec<u8>) {
        let req = EnrollReqMsg { id: id.to_vec() };
        (Enrollee { id, ipcp_type }, proto::encode(&req))
    }

    /// The member's response, read at `now_ns` (UNIX time in ns).
    pub fn response(&self, msg: &[u8], now_ns: i128) -> Result<Enrolled, EnrollError> {
        let resp: EnrollRespMsg = proto::decode_limited(msg).map_err(|_| EnrollError::Malformed)?;
        if resp.id != self.id {
            return Err(EnrollError::WrongId);
        }
        if resp.response < 0 {
            return Err(EnrollError::Refused(resp.response));
        }
        let conf = resp.conf.as_ref().ok_or_else(|| bad("no configuration"))?;
        if conf.ipcp_type != self.ipcp_type.value() {
            return Err(EnrollError::WrongType {
                ours: self.ipcp_type,
                theirs: format!("type {}", conf.ipcp_type),
            });
        }
        let layer = LayerConfig::from_msg(conf)?;
        let theirs = i128::from(resp.t_sec) * 1_000_000_000 + i128::from(resp.t_nsec);
        Ok(Enrolled {
            layer,
            clock_offset_ns: theirs - now_ns,
        })
    }

    /// The acknowledgement, sent once the components run.
    pub fn ack(&self) -> Vec<u8> {
        proto::encode(&EnrollAckMsg {
            id: self.id.to_vec(),
            result: 0,
        })
    }
}

/// The member's answer to an enrolment request: `layer` as this member
/// (`own`) serves it, its clock `now_ns` (UNIX time in ns). Returns the
/// response and the enrolment id, for [`check_ack`].
pub fn answer(request: &[u8], layer: &LayerConfig, own: Addr, now_ns: i128) -> Result<(Vec<u8>, Vec<u8>), EnrollError> {
    let req: EnrollReqMsg = proto::decode_limited(request).map_err(|_| EnrollError::Malformed)?;
    if req.id.len() != ID_LEN {
        return Err(EnrollError::Malformed);
    }
    let resp = EnrollRespMsg {
        id: req.id.clone(),
        t_sec: i64::try_from(now_ns.div_euclid(1_000_000_000)).unwrap_or(i64::MAX),
        t_nsec: now_ns.rem_euclid(1_000_000_000) as i32,
        response: 0,
        conf: Some(layer.to_msg(own)),
    };
    let bytes = proto::encode_limited(&resp).map_err(|e| bad(e.to_string()))?;
    Ok((bytes, req.id))
}

/// The member's check of the acknowledgement of enrolment `id`.
pub fn check_ack(msg: &[u8], id: &[u8]) -> Result<(), EnrollError> {
    let ack: EnrollAckMsg = proto::decode_limited(msg).map_err(|_| EnrollError::Malformed)?;
    if ack.id != id {
        return Err(EnrollError::WrongId);
    }
    if ack.result != 0 {
        return Err(EnrollError::Refused(ack.result));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unicast_layer() -> LayerConfig {
        LayerConfig::unicast("uni", UnicastConfig::default())
    }

    #[test]
    fn an_enrollee_gets_the_layer_with_the_member_as_its_peer_and_acks() {
        let (enrollee, req) = Enrollee::new(*b"\x01\x02\x03\x04\x05\x06\x07\x08", IpcpType::Unicast);
        let now = 1_800_000_000_123_456_789_i128;
        let (resp, id) = answer(&req, &unicast_layer(), 0x361a_66f1, now).unwrap();
        let got = enrollee.response(&resp, now - 5_000_000).unwrap();
        assert_eq!(got.clock_offset_ns, 5_000_000);
        assert_eq!(
            got.layer,
            LayerConfig {
                peer: 0x361a_66f1,
                ..unicast_layer()
            }
        );
        check_ack(&enrollee.ack(), &id).unwrap();
    }

    #[test]
    fn a_wrong_id_type_or_configuration_fails_enrolment() {
        let (enrollee, req) = Enrollee::new([9; 8], IpcpType::Broadcast);
        let (resp, _) = answer(&req, &unicast_layer(), 1, 0).unwrap();
        assert!(matches!(
            enrollee.response(&resp, 0),
            Err(EnrollError::WrongType { .. })
        ));
        let (other, _) = Enrollee::new([8; 8], IpcpType::Unicast);
        assert_eq!(other.response(&resp, 0), Err(EnrollError::WrongId));
        assert_eq!(check_ack(&other.ack(), &[9; 8]), Err(EnrollError::WrongId));
        assert_eq!(answer(&[0xff], &unicast_layer(), 1, 0), Err(EnrollError::Malformed));
        let mut msg = unicast_layer().to_msg(1);
        msg.unicast.as_mut().unwrap().dt.addr_size = 8;
        assert!(
            LayerConfig::from_msg(&msg)
                .unwrap_err()
                .to_string()
                .contains("address size 8")
        );
    }
}
