//! OAP without cryptography (PROTOCOL.md §6): the header irmd puts in
//! every flow request, and the response that proves the responder saw it.
//! Sans IO: the id and the clock come in.
//!
//! ```text
//!  requester: request(id, now)  ── 36 octets: id, timestamp, no algorithms ──> FLOW_REQ
//!  responder: respond(request, now) ── same id, own timestamp, SHA-384(request) ──> FLOW_REPLY
//!  requester: check_response(request, response): the id and the digest match
//! ```
//!
//! A request that asks for authentication or encryption (a certificate, a
//! key exchange, a cipher) is refused: o7s does not do OAP's cryptography
//! yet, and answering it unauthenticated would make the requester believe
//! otherwise.

use o7s_wire::oap::{FIXED_LEN, ID_LEN, OapHeader, OapKind, OapRepr, nid};
use sha2::{Digest, Sha384};

/// Why an OAP header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OapError {
    #[error("malformed OAP header: {0}")]
    Malformed(o7s_wire::WireError),
    #[error("the request asks for {0}, which o7s does not do yet")]
    Unsupported(&'static str),
    #[error("the response answers another request (id or digest differ)")]
    Mismatch,
}

/// An unauthenticated, unencrypted request.
pub fn request(id: [u8; ID_LEN], timestamp_ns: u64) -> Vec<u8> {
    let repr = OapRepr {
        id,
        timestamp: timestamp_ns,
        cipher_nid: nid::UNDEF,
        kdf_nid: nid::UNDEF,
        md_nid: nid::UNDEF,
        kex_raw: false,
        kex_client_encap: false,
        certificate: &[],
        kex: &[],
        data: &[],
        req_hash: None,
        signature: &[],
    };
    let mut buf = vec![0; repr.buffer_len()];
    // In range: the buffer is exactly the header's length, the parts empty.
    let _ = repr.emit(&mut OapHeader::new_unchecked(&mut buf[..]));
    buf
}

/// The response to `request`: its id, `timestamp_ns`, and the request's
/// SHA-384.
pub fn respond(request: &[u8], timestamp_ns: u64) -> Result<Vec<u8>, OapError> {
    let header = OapHeader::new_checked(request).map_err(OapError::Malformed)?;
    let req = OapRepr::parse(&header, OapKind::Request).map_err(OapError::Malformed)?;
    if !req.certificate.is_empty() {
        return Err(OapError::Unsupported("authentication (a certificate)"));
    }
    if !req.kex.is_empty() || req.cipher_nid != nid::UNDEF {
        return Err(OapError::Unsupported("encryption (a key exchange)"));
    }
    if req.md_nid != nid::UNDEF {
        return Err(OapError::Unsupported("a signature digest"));
    }
    let digest = Sha384::digest(request);
    let repr = OapRepr {
        timestamp: timestamp_ns,
        data: &[],
        req_hash: Some(&digest[..]),
        ..req
    };
    let mut buf = vec![0; repr.buffer_len()];
    repr.emit(&mut OapHeader::new_unchecked(&mut buf[..]))
        .map_err(OapError::Malformed)?;
    Ok(buf)
}

/// Whether `response` answers `request`.
pub fn check_response(request: &[u8], response: &[u8]) -> Result<(), OapError> {
    let header = OapHeader::new_checked(response).map_err(OapError::Malformed)?;
    let kind = OapKind::Response { req_hash_len: 48 };
    let rsp = OapRepr::parse(&header, kind).map_err(OapError::Malformed)?;
    let id = request.get(..ID_LEN).ok_or(OapError::Mismatch)?;
    if rsp.id[..] != *id || rsp.req_hash != Some(&Sha384::digest(request)[..]) || request.len() < FIXED_LEN {
        return Err(OapError::Mismatch);
    }
    Ok(())
}

/// A random OAP id from the operating system's generator.
pub fn random_id() -> [u8; ID_LEN] {
    let mut id = [0; ID_LEN];
    // The OS generator does not fail on Linux once booted; a zero id is
    // still a valid (if guessable) one.
    let _ = getrandom::fill(&mut id);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_carries_the_request_id_and_its_sha384() {
        let req = request([7; ID_LEN], 1_000);
        assert_eq!(req.len(), FIXED_LEN);
        let rsp = respond(&req, 2_000).unwrap();
        assert_eq!(rsp.len(), o7s_wire::oap::UNAUTHENTICATED_RESPONSE_LEN);
        assert_eq!(&rsp[..ID_LEN], &[7; ID_LEN]);
        assert_eq!(&rsp[FIXED_LEN..], &Sha384::digest(&req)[..]);
        check_response(&req, &rsp).unwrap();
        let other = request([8; ID_LEN], 1_000);
        assert_eq!(check_response(&other, &rsp), Err(OapError::Mismatch));
        assert!(matches!(check_response(&req, &rsp[..40]), Err(OapError::Malformed(_))));
    }

    #[test]
    fn requests_for_cryptography_are_refused_and_garbage_is_malformed() {
        let mut req = request([1; ID_LEN], 5);
        req[24..26].copy_from_slice(&nid::AES_256_GCM.to_be_bytes());
        assert!(matches!(respond(&req, 6), Err(OapError::Unsupported(_))));
        assert!(matches!(respond(&[1, 2, 3], 6), Err(OapError::Malformed(_))));
        assert_ne!(random_id(), random_id());
    }
}
