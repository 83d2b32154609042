//! The UDP shims' directory: a name's hash, written as 32 lower-case hex
//! digits, is a host name (PROTOCOL.md §4.3).
//!
//! ```text
//!  hash ─> static hosts (irmd's TOML file) ──found──> address
//!            │ not there
//!            ├─ a DNS server configured: A (udp4) / AAAA (udp6) query for <hex> ──> address
//!            └─ else the system's resolver (getaddrinfo: /etc/hosts, as C does)
//! ```
//!
//! The lookups that go outside block; the UDP task runs them off irmd's
//! loop. Building the DNS query and reading its answer are sans IO here;
//! an answer is taken only if it answers our query (id, question) and
//! comes from the server asked.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use o7s_wire::hash::{HashAlgo, NameHash, hash_name};
use simple_dns::rdata::RData;
use simple_dns::{CLASS, Name, Packet, QCLASS, QTYPE, Question, TYPE};

/// How long a DNS server gets to answer.
pub const DNS_TIMEOUT: Duration = Duration::from_secs(1);

/// Which addresses a layer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    fn holds(self, ip: IpAddr) -> bool {
        matches!((self, ip), (Family::V4, IpAddr::V4(_)) | (Family::V6, IpAddr::V6(_)))
    }
}

/// The host name a hash is looked up by.
pub fn host_name(hash: &NameHash) -> String {
    hash.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// A DNS query (recursion desired) for the address of `hash`.
pub fn dns_query(id: u16, hash: &NameHash, family: Family) -> Vec<u8> {
    let host = host_name(hash);
    let mut packet = Packet::new_query(id);
    packet.set_flags(simple_dns::PacketFlag::RECURSION_DESIRED);
    let qtype = match family {
        Family::V4 => TYPE::A,
        Family::V6 => TYPE::AAAA,
    };
    packet.questions.push(Question::new(
        Name::new_unchecked(&host),
        QTYPE::TYPE(qtype),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    // A 32-character label in one question always builds.
    packet.build_bytes_vec().unwrap_or_default()
}

/// The address a DNS answer gives for `hash`, if it answers query `id`.
pub fn dns_answer(id: u16, hash: &NameHash, family: Family, answer: &[u8]) -> Option<IpAddr> {
    let packet = Packet::parse(answer).ok()?;
    if packet.id() != id || packet.rcode() != simple_dns::RCODE::NoError {
        return None;
    }
    let host = host_name(hash);
    let asked = packet.questions.first()?;
    if !asked.qname.to_string().eq_ignore_ascii_case(&host) {
        return None;
    }
    packet.answers.iter().find_map(|rr| {
        if !rr.name.to_string().eq_ignore_ascii_case(&host) {
            return None;
        }
        let ip = match &rr.rdata {
            RData::A(a) => IpAddr::from(std::net::Ipv4Addr::from(a.address)),
            RData::AAAA(a) => IpAddr::from(std::net::Ipv6Addr::from(a.address)),
            _ => return None,
        };
        family.holds(ip).then_some(ip)
    })
}

/// A UDP layer's directory.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    hosts: HashMap<NameHash, IpAddr>,
    /// The DNS server (port 53 but in tests).
    dns: Option<SocketAddr>,
}

impl Directory {
    /// A directory asking `dns` (if any) for what `hosts` (name →
    /// address, from irmd's file) does not hold.
    pub fn new<'a>(hosts: impl IntoIterator<Item = (&'a str, IpAddr)>, dns: Option<IpAddr>) -> Directory {
        Directory {
            hosts: hosts
                .into_iter()
                .map(|(name, ip)| (hash_name(HashAlgo::Md5, name), ip))
                .collect(),
            dns: dns.map(|ip| SocketAddr::new(ip, 53)),
        }
    }

    /// The address in the static hosts, without going outside.
    pub fn known(&self, hash: &NameHash) -> Option<IpAddr> {
        self.hosts.get(hash).copied()
    }

    /// Every static entry.
    pub fn static_hosts(&self) -> impl Iterator<Item = (&NameHash, &IpAddr)> {
        self.hosts.iter()
    }

    /// Looks `hash` up, going outside when needed (blocks up to about
    /// [`DNS_TIMEOUT`], or as long as the system's resolver takes).
    pub fn resolve(&self, hash: &NameHash, family: Family) -> Option<IpAddr> {
        if let Some(ip) = self.known(hash) {
            return Some(ip);
        }
        match self.dns {
            Some(server) => ask_dns(server, hash, family),
            None => (host_name(hash), 0)
                .to_socket_addrs()
                .ok()?
                .map(|a| a.ip())
                .find(|ip| family.holds(*ip)),
        }
    }
}

fn ask_dns(to: SocketAddr, hash: &NameHash, family: Family) -> Option<IpAddr> {
    let bind: SocketAddr = if to.is_ipv4() {
        "0.0.0.0:0".parse().ok()?
    } else {
        "[::]:0".parse().ok()?
    };
    let sock = UdpSocket::bind(bind).ok()?;
    sock.connect(to).ok()?;
    sock.set_read_timeout(Some(DNS_TIMEOUT)).ok()?;
    let id = u16::from_be_bytes([hash.as_bytes()[0], hash.as_bytes()[1]]) ^ (std::process::id() as u16);
    sock.send(&dns_query(id, hash, family)).ok()?;
    let mut buf = [0u8; 1500];
    // A connected socket only takes datagrams from the server.
    let n = sock.recv(&mut buf).ok()?;
    dns_answer(id, hash, family, &buf[..n])
}

#[cfg(test)]
mod tests {
    use simple_dns::ResourceRecord;
    use simple_dns::rdata::{A, AAAA};

    use super::*;

    fn oping() -> NameHash {
        hash_name(HashAlgo::Md5, "oping")
    }

    fn reply(query: &[u8], records: Vec<RData<'static>>) -> Vec<u8> {
        let q = Packet::parse(query).unwrap();
        let mut r = Packet::new_reply(q.id());
        r.questions = q.questions.clone();
        let host = host_name(&oping());
        for rdata in records {
            r.answers.push(ResourceRecord::new(
                Name::new_unchecked(&host).into_owned(),
                CLASS::IN,
                60,
                rdata,
            ));
        }
        r.build_bytes_vec().unwrap()
    }

    #[test]
    fn hashes_are_looked_up_by_their_lower_case_hex() {
        // PROTOCOL.md §4.3's example.
        assert_eq!(host_name(&oping()), "7862c6fec5ecaef4aa2e3934725e23b3");
    }

    #[test]
    fn a_dns_answer_counts_only_for_our_query_and_our_family() {
        let q = dns_query(7, &oping(), Family::V4);
        let a = reply(&q, vec![RData::A(A { address: 0x0a09_0002 })]);
        assert_eq!(
            dns_answer(7, &oping(), Family::V4, &a),
            Some("10.9.0.2".parse().unwrap())
        );
        assert_eq!(dns_answer(8, &oping(), Family::V4, &a), None, "another query's answer");
        assert_eq!(dns_answer(7, &oping(), Family::V6, &a), None, "an IPv4 answer for udp6");
        let other = hash_name(HashAlgo::Md5, "other");
        assert_eq!(
            dns_answer(7, &other, Family::V4, &a),
            None,
            "an answer for another name"
        );
        let q6 = dns_query(9, &oping(), Family::V6);
        let a6 = reply(&q6, vec![RData::AAAA(AAAA { address: 1 })]);
        assert_eq!(dns_answer(9, &oping(), Family::V6, &a6), Some("::1".parse().unwrap()));
        for garbage in [&[][..], &[0xff; 3], &a[..a.len() - 3]] {
            assert_eq!(dns_answer(7, &oping(), Family::V4, garbage), None);
        }
    }

    #[test]
    fn static_hosts_come_first_and_the_dns_server_is_asked_for_the_rest() {
        // A DNS server on loopback that knows oping only.
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut dir = Directory::new([("static", "10.9.0.9".parse().unwrap())], None);
        dir.dns = Some(server.local_addr().unwrap());
        let answering = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            for _ in 0..2 {
                let (n, from) = server.recv_from(&mut buf).unwrap();
                let q = Packet::parse(&buf[..n]).unwrap();
                let asks_oping = q.questions[0].qname.to_string() == host_name(&oping());
                let records = if asks_oping {
                    vec![RData::A(A { address: 0x0a09_0002 })]
                } else {
                    Vec::new()
                };
                server.send_to(&reply(&buf[..n], records), from).unwrap();
            }
        });
        let statik = hash_name(HashAlgo::Md5, "static");
        assert_eq!(dir.resolve(&statik, Family::V4), Some("10.9.0.9".parse().unwrap()));
        assert_eq!(dir.resolve(&oping(), Family::V4), Some("10.9.0.2".parse().unwrap()));
        assert_eq!(dir.resolve(&hash_name(HashAlgo::Md5, "nobody"), Family::V4), None);
        answering.join().unwrap();
    }
}
