//! DNS, mDNS and LLMNR detection buffers.

use vigie_rules::signature::BufferId;

use super::parser::{DnsAnswer, DnsMessage, RData};
use super::state::{DnsTransaction, DnsVariant};

/// Buffer names DNS, mDNS and LLMNR transactions provide.
pub const BUFFER_NAMES: &[&str] = &[
    "dns.query",
    "dns.queries.rrname",
    "dns.answers.rrname",
    "dns.authorities.rrname",
    "dns.additionals.rrname",
    "dns.response.rrname",
    "dns.opcode",
    "dns.rcode",
    "dns.rrtype",
    "mdns.queries.rrname",
    "mdns.answers.rrname",
    "mdns.authorities.rrname",
    "mdns.additionals.rrname",
    "mdns.response.rrname",
    "llmnr.queries.rrname",
    "llmnr.answers.rrname",
    "llmnr.authorities.rrname",
    "llmnr.additionals.rrname",
    "llmnr.response.rrname",
];

/// Which message of a transaction a detection part carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsSide {
    /// The query (QR bit clear).
    Request,
    /// The response (QR bit set).
    Response,
}

/// The name buffers of one protocol: questions, answers, authorities,
/// additionals, and every name of a response.
struct NameBuffers {
    queries: BufferId,
    answers: BufferId,
    authorities: BufferId,
    additionals: BufferId,
    response: BufferId,
}

fn name_buffers(v: DnsVariant) -> NameBuffers {
    match v {
        DnsVariant::Dns => NameBuffers {
            queries: BufferId::DnsQueriesRrname,
            answers: BufferId::DnsAnswersRrname,
            authorities: BufferId::DnsAuthoritiesRrname,
            additionals: BufferId::DnsAdditionalsRrname,
            response: BufferId::DnsResponseRrname,
        },
        DnsVariant::Mdns => NameBuffers {
            queries: BufferId::MdnsQueriesRrname,
            answers: BufferId::MdnsAnswersRrname,
            authorities: BufferId::MdnsAuthoritiesRrname,
            additionals: BufferId::MdnsAdditionalsRrname,
            response: BufferId::MdnsResponseRrname,
        },
        DnsVariant::Llmnr => NameBuffers {
            queries: BufferId::LlmnrQueriesRrname,
            answers: BufferId::LlmnrAnswersRrname,
            authorities: BufferId::LlmnrAuthoritiesRrname,
            additionals: BufferId::LlmnrAdditionalsRrname,
            response: BufferId::LlmnrResponseRrname,
        },
    }
}

/// The rdata of a record that is a host name, for `*.response.rrname`:
/// CNAME, PTR, NS, MX exchange, SOA primary server (as the reference IDS).
fn rdata_name(rr: &DnsAnswer) -> Option<&[u8]> {
    match (&rr.data, rr.rrtype) {
        (RData::Name(n), 2 | 5 | 12) => Some(n),
        (RData::Mx { exchange, .. }, _) => Some(exchange),
        (RData::Soa { mname, .. }, _) => Some(mname),
        _ => None,
    }
}

impl DnsTransaction {
    /// Calls `f(buffer, bytes)` for each detection buffer of this
    /// transaction's request or response (`side`) that `wants` accepts. The
    /// name buffers are multi-buffers (one instance per question or record;
    /// empty root names are left out); `dns.rrtype` has one instance per
    /// question of a request or per answer of a response.
    pub fn for_each_buffer(
        &self,
        side: DnsSide,
        variant: DnsVariant,
        wants: impl Fn(BufferId) -> bool,
        mut f: impl FnMut(BufferId, &[u8]),
    ) {
        let msg = match side {
            DnsSide::Request => self.request.as_ref(),
            DnsSide::Response => self.response.as_ref(),
        };
        let Some(m) = msg else { return };
        let nb = name_buffers(variant);
        let mut names = |id: BufferId, rrs: &[DnsAnswer]| {
            if wants(id) {
                for rr in rrs.iter().filter(|r| !r.name.is_empty()) {
                    f(id, &rr.name);
                }
            }
        };
        names(nb.answers, &m.answers);
        names(nb.authorities, &m.authorities);
        names(nb.additionals, &m.additionals);
        let queries = m.queries.iter().filter(|q| !q.name.is_empty());
        if wants(nb.queries) {
            for q in queries.clone() {
                f(nb.queries, &q.name);
            }
        }
        if side == DnsSide::Request && variant == DnsVariant::Dns && wants(BufferId::DnsQuery) {
            for q in queries.clone() {
                f(BufferId::DnsQuery, &q.name);
            }
        }
        if side == DnsSide::Response && wants(nb.response) {
            for q in queries {
                f(nb.response, &q.name);
            }
            for rr in response_records(m) {
                if !rr.name.is_empty() {
                    f(nb.response, &rr.name);
                }
                if let Some(n) = rdata_name(rr).filter(|n| !n.is_empty()) {
                    f(nb.response, n);
                }
            }
        }
        if variant != DnsVariant::Dns {
            return;
        }
        let h = &m.header;
        if wants(BufferId::DnsOpcode) {
            f(BufferId::DnsOpcode, &[h.opcode()]);
        }
        if wants(BufferId::DnsRcode) {
            f(BufferId::DnsRcode, &[h.rcode()]);
        }
        if wants(BufferId::DnsRrtype) {
            match side {
                DnsSide::Request => {
                    for q in &m.queries {
                        f(BufferId::DnsRrtype, &q.rrtype.to_be_bytes());
                    }
                }
                DnsSide::Response => {
                    for rr in &m.answers {
                        f(BufferId::DnsRrtype, &rr.rrtype.to_be_bytes());
                    }
                }
            }
        }
    }

    /// The (buffer, bytes) pairs of one side, every buffer wanted.
    pub fn buffers(&self, side: DnsSide, variant: DnsVariant) -> Vec<(BufferId, Vec<u8>)> {
        let mut v = Vec::new();
        self.for_each_buffer(side, variant, |_| true, |b, d| v.push((b, d.to_vec())));
        v
    }
}

/// Answer, authority and additional records, in that order.
fn response_records(m: &DnsMessage) -> impl Iterator<Item = &DnsAnswer> {
    m.answers.iter().chain(&m.authorities).chain(&m.additionals)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::app::dns::DnsState;
    use crate::app::Direction;

    const QUERY: &[u8] = &[
        0x00, 0x07, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, b'v', b'i',
        b'g', b'e', 0x03, b'o', b'r', b'g', 0x00, 0x00, 0x1c, 0x00, 0x01,
    ];

    /// The response to QUERY: a CNAME answer to `www.vige.org`, an MX answer
    /// and an SOA authority whose primary server is `ns.vige.org`.
    fn response() -> Vec<u8> {
        let mut r = QUERY.to_vec();
        r[2] = 0x81;
        r[3] = 0x83; // NXDOMAIN, to test rcode
        r[7] = 2; // answers
        r[9] = 1; // authorities
                  // CNAME -> www.<ptr to vige.org>
        r.extend_from_slice(&[0xc0, 0x0c, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6]);
        r.extend_from_slice(&[3, b'w', b'w', b'w', 0xc0, 0x0c]);
        // MX 10 mx.<vige.org>
        r.extend_from_slice(&[0xc0, 0x0c, 0, 15, 0, 1, 0, 0, 0, 60, 0, 7, 0, 10]);
        r.extend_from_slice(&[2, b'm', b'x', 0xc0, 0x0c]);
        // SOA ns.<vige.org> root.<vige.org> + 5 numbers
        r.extend_from_slice(&[0xc0, 0x0c, 0, 6, 0, 1, 0, 0, 0, 60, 0, 32]);
        r.extend_from_slice(&[
            2, b'n', b's', 0xc0, 0x0c, 4, b'r', b'o', b'o', b't', 0xc0, 0x0c,
        ]);
        r.extend_from_slice(&[0u8; 20]);
        r
    }

    fn names(v: &[(BufferId, Vec<u8>)], id: BufferId) -> Vec<String> {
        v.iter()
            .filter(|(b, _)| *b == id)
            .map(|(_, d)| String::from_utf8_lossy(d).into_owned())
            .collect()
    }

    #[test]
    fn request_and_response_buffers() {
        let mut s = DnsState::new();
        s.parse_udp(QUERY, Direction::ToServer);
        s.parse_udp(&response(), Direction::ToClient);
        let tx = &s.transactions()[0];
        let req = tx.buffers(DnsSide::Request, DnsVariant::Dns);
        assert_eq!(names(&req, BufferId::DnsQuery), ["vige.org"]);
        assert_eq!(names(&req, BufferId::DnsQueriesRrname), ["vige.org"]);
        assert!(names(&req, BufferId::DnsResponseRrname).is_empty());
        assert!(req.contains(&(BufferId::DnsRrtype, vec![0, 28])));
        assert!(req.contains(&(BufferId::DnsOpcode, vec![0])));
        let resp = tx.buffers(DnsSide::Response, DnsVariant::Dns);
        assert!(names(&resp, BufferId::DnsQuery).is_empty());
        assert_eq!(
            names(&resp, BufferId::DnsAnswersRrname),
            ["vige.org", "vige.org"]
        );
        assert_eq!(names(&resp, BufferId::DnsAuthoritiesRrname), ["vige.org"]);
        // Questions, each owner name, then CNAME / MX / SOA-mname rdata;
        // the SOA rname is not a host name and stays out.
        assert_eq!(
            names(&resp, BufferId::DnsResponseRrname),
            [
                "vige.org",
                "vige.org",
                "www.vige.org",
                "vige.org",
                "mx.vige.org",
                "vige.org",
                "ns.vige.org"
            ]
        );
        assert!(resp.contains(&(BufferId::DnsRcode, vec![3])));
        // One rrtype per answer (CNAME, MX), not per authority.
        let rr: Vec<_> = resp
            .iter()
            .filter(|(b, _)| *b == BufferId::DnsRrtype)
            .map(|(_, d)| d.clone())
            .collect();
        assert_eq!(rr, [vec![0, 5], vec![0, 15]]);
        // Unwanted buffers are not built.
        let mut n = 0;
        tx.for_each_buffer(
            DnsSide::Response,
            DnsVariant::Dns,
            |b| b == BufferId::DnsAnswersRrname,
            |b, _| {
                assert_eq!(b, BufferId::DnsAnswersRrname);
                n += 1
            },
        );
        assert_eq!(n, 2);
        // mDNS names go to the mdns.* buffers, with no DNS header keywords.
        let m = tx.buffers(DnsSide::Response, DnsVariant::Mdns);
        assert_eq!(names(&m, BufferId::MdnsAnswersRrname).len(), 2);
        assert!(m.iter().all(|(b, _)| b.name().starts_with("mdns.")));
    }
}
