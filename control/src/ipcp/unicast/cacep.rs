//! CACEP: the one message each end of a connection-manager flow sends
//! right after allocation, naming the component the flow is for
//! (PROTOCOL.md §10). Sans IO: messages in, messages and verdicts out.
//!
//! ```text
//!  requester                                   acceptor
//!  request(component, own address) ──cep_msg──► accept(msg, own components, own address)
//!                                  ◄──cep_msg── its own record, or all-empty when it has none
//!  check_answer(msg) ──► the neighbour's address, or refused (flow deallocated)
//! ```
//!
//! | IPCP | component | protocol | version | syntax | address |
//! |---|---|---|---|---|---|
//! | unicast | `Data Transfer` | `dtp` | 1 | 2 (fixed) | own |
//! | unicast | `Management` | `LSP` | 1 | 0 (GPB) | own |
//! | unicast, broadcast | `Enrollment` | `OEP` | 1 | 0 | 0 |
//! | broadcast | `Data Transfer` | (empty) | 0 | 0 | 0 |

use o7s_wire::proto::{self, cep::CepMsg};

use crate::ipcp::unicast::lsr::Addr;

/// What a connection-manager flow is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Component {
    /// Unicast DT packets (§7).
    DataTransfer,
    /// Link-state messages (§12).
    Management,
    /// OEP (§11).
    Enrollment,
    /// A broadcast layer's data transfer (§14).
    BroadcastData,
}

impl Component {
    /// The name on the wire.
    pub const fn name(self) -> &'static str {
        match self {
            Component::DataTransfer | Component::BroadcastData => "Data Transfer",
            Component::Management => "Management",
            Component::Enrollment => "Enrollment",
        }
    }

    /// This member's record for the component.
    pub fn record(self, own: Addr) -> CepMsg {
        let (protocol, version, syntax, address) = match self {
            Component::DataTransfer => ("dtp", 1, 2, own),
            Component::Management => ("LSP", 1, 0, own),
            Component::Enrollment => ("OEP", 1, 0, 0),
            Component::BroadcastData => ("", 0, 0, 0),
        };
        CepMsg {
            comp_name: self.name().to_owned(),
            protocol: protocol.to_owned(),
            pref_version: version,
            pref_syntax: syntax,
            address,
            ..CepMsg::default()
        }
    }
}

/// Why a CACEP exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacepError {
    /// Not a `cep_msg` of at most 128 octets.
    #[error("not a CACEP message")]
    Malformed,
    /// The acceptor has no such component (it answered all-empty), or
    /// the request names none of ours.
    #[error("no component {0:?} here or there")]
    NoComponent(String),
    /// Protocol, version or syntax differ from ours.
    #[error("component {comp} speaks {protocol} version {version} syntax {syntax}, not ours")]
    Mismatch {
        comp: String,
        protocol: String,
        version: i32,
        syntax: i32,
    },
}

/// The request a requester sends for `component`.
pub fn request(component: Component, own: Addr) -> Vec<u8> {
    proto::encode(&component.record(own))
}

/// What the acceptor makes of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The answer to send back.
    pub answer: Vec<u8>,
    /// The component the flow now belongs to and the neighbour's address
    /// (from the request), or `None`: the flow is deallocated after the
    /// answer.
    pub to: Option<(Component, Addr)>,
}

/// The acceptor's side: `msg` read from a new flow, this member's
/// components and address.
pub fn accept(msg: &[u8], components: &[Component], own: Addr) -> Result<Accepted, CacepError> {
    let req: CepMsg = proto::decode_limited(msg).map_err(|_| CacepError::Malformed)?;
    match components.iter().find(|c| c.name() == req.comp_name) {
        Some(&c) => Ok(Accepted {
            answer: proto::encode(&c.record(own)),
            to: Some((c, req.address)),
        }),
        None => Ok(Accepted {
            answer: proto::encode(&CepMsg::default()),
            to: None,
        }),
    }
}

/// The requester's side: the answer to its request for `component`;
/// the neighbour's address when it speaks the same protocol.
pub fn check_answer(component: Component, msg: &[u8]) -> Result<Addr, CacepError> {
    let answer: CepMsg = proto::decode_limited(msg).map_err(|_| CacepError::Malformed)?;
    let ours = component.record(0);
    if answer.comp_name.is_empty() && answer.protocol.is_empty() {
        return Err(CacepError::NoComponent(ours.comp_name));
    }
    if (&answer.protocol, answer.pref_version, answer.pref_syntax)
        != (&ours.protocol, ours.pref_version, ours.pref_syntax)
    {
        return Err(CacepError::Mismatch {
            comp: answer.comp_name,
            protocol: answer.protocol,
            version: answer.pref_version,
            syntax: answer.pref_syntax,
        });
    }
    Ok(answer.address)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNICAST: [Component; 3] = [Component::DataTransfer, Component::Management, Component::Enrollment];

    #[test]
    fn a_request_for_a_component_is_answered_with_the_acceptor_s_record() {
        let req = request(Component::Management, 0xa10e_e46e);
        let acc = accept(&req, &UNICAST, 0x361a_66f1).unwrap();
        assert_eq!(acc.to, Some((Component::Management, 0xa10e_e46e)));
        assert_eq!(check_answer(Component::Management, &acc.answer), Ok(0x361a_66f1));
    }

    #[test]
    fn an_unknown_component_gets_an_empty_answer_which_the_requester_refuses() {
        let req = request(Component::Management, 7);
        let acc = accept(&req, &[Component::BroadcastData, Component::Enrollment], 9).unwrap();
        assert_eq!(acc.to, None);
        assert_eq!(
            check_answer(Component::Management, &acc.answer),
            Err(CacepError::NoComponent("Management".into()))
        );
    }

    #[test]
    fn another_protocol_version_or_syntax_is_refused_and_garbage_is_malformed() {
        let mut theirs = Component::DataTransfer.record(5);
        theirs.pref_version = 2;
        assert!(matches!(
            check_answer(Component::DataTransfer, &proto::encode(&theirs)),
            Err(CacepError::Mismatch { version: 2, .. })
        ));
        assert_eq!(accept(&[0xff; 4], &UNICAST, 1), Err(CacepError::Malformed));
        assert_eq!(
            accept(&[0x0a; 200], &UNICAST, 1),
            Err(CacepError::Malformed),
            "over 128 octets"
        );
        assert_eq!(check_answer(Component::Enrollment, &[]), Err(CacepError::Malformed));
    }
}
