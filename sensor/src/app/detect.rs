//! Application protocol detection: by content first, then by port.

use super::{dcerpc, dhcp, dns, http, mqtt, quic, sip, tftp, tls};

/// IP protocol number of TCP.
const IPPROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
const IPPROTO_UDP: u8 = 17;

/// Application protocol of a flow, named as Suricata names it in EVE `app_proto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppProto {
    /// HTTP/1.x.
    Http,
    /// HTTP/2 over cleartext TCP (the client starts with the preface).
    Http2,
    /// TLS (and SSLv3).
    Tls,
    /// DNS over UDP or TCP.
    Dns,
    /// Multicast DNS (UDP 5353), parsed as DNS.
    Mdns,
    /// LLMNR (UDP or TCP 5355), parsed as DNS.
    Llmnr,
    /// QUIC (IETF versions 1 and 2, drafts 29-32): Initial packets only.
    Quic,
    /// SMB (1, 2 or 3) over NetBIOS session service.
    Smb,
    /// SSH: detected by its version banner, not parsed.
    Ssh,
    /// SMTP: detected by the client's `EHLO`/`HELO`, not parsed.
    Smtp,
    /// TFTP read and write requests to port 69.
    Tftp,
    /// DHCP over UDP ports 67 and 68.
    Dhcp,
    /// SIP over UDP or TCP, by content where a port is 5060.
    Sip,
    /// DCERPC over TCP (any port), by its PDU header.
    Dcerpc,
    /// MQTT over TCP: any packet on port 1883, a CONNECT naming the protocol elsewhere.
    Mqtt,
    /// Detection ran and failed: EVE `app_proto` "failed".
    Unknown,
}

impl AppProto {
    /// The EVE `app_proto` string.
    pub fn eve_name(self) -> &'static str {
        match self {
            AppProto::Http => "http",
            AppProto::Http2 => "http2",
            AppProto::Tls => "tls",
            AppProto::Dns => "dns",
            AppProto::Mdns => "mdns",
            AppProto::Llmnr => "llmnr",
            AppProto::Quic => "quic",
            AppProto::Smb => "smb",
            AppProto::Ssh => "ssh",
            AppProto::Smtp => "smtp",
            AppProto::Tftp => "tftp",
            AppProto::Dhcp => "dhcp",
            AppProto::Sip => "sip",
            AppProto::Dcerpc => "dcerpc",
            AppProto::Mqtt => "mqtt",
            AppProto::Unknown => "failed",
        }
    }
}

/// Result of looking at the first bytes of one direction for one protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// The bytes are this protocol.
    Match,
    /// The bytes are a prefix of this protocol: wait for more.
    NeedMore,
    /// The bytes are not this protocol.
    NoMatch,
}

/// Bytes after which a protocol still undecided by content is decided by port.
const DECIDE_AFTER: usize = 64;

/// Detects the application protocol of a flow from its first bytes in each
/// direction (whatever has been seen so far) and its ports.
///
/// Returns `None` while the bytes seen are too few to decide, `Some(Unknown)`
/// once nothing matches.
pub fn detect_protocol(
    proto: u8,
    sport: u16,
    dport: u16,
    first_bytes_to_server: &[u8],
    first_bytes_to_client: &[u8],
) -> Option<AppProto> {
    let tcp = match proto {
        IPPROTO_TCP => true,
        IPPROTO_UDP => false,
        _ => return Some(AppProto::Unknown),
    };
    let ts = first_bytes_to_server;
    let tc = first_bytes_to_client;
    if ts.is_empty() && tc.is_empty() {
        return None;
    }
    // DNS and the protocols on its wire format, told apart by port.
    let dns_kind = |p: u16| match p {
        53 => Some(AppProto::Dns),
        5353 if tcp => Some(AppProto::Dns),
        5353 => Some(AppProto::Mdns),
        5355 => Some(AppProto::Llmnr),
        _ => None,
    };
    let mut need_more = false;
    let mut probes: Vec<(AppProto, Probe)> = Vec::with_capacity(3);
    let ports = PortHints::new(sport, dport);
    if tcp {
        probes.extend(tcp_probes(ts, tc, ports));
    }
    if !tcp {
        probes.push((AppProto::Quic, quic::probe(ts)));
        if dport == 69 {
            probes.push((AppProto::Tftp, tftp::probe(ts)));
        }
        let dhcp_port = |p: u16| p == 67 || p == 68;
        if dhcp_port(sport) && dhcp_port(dport) {
            probes.push((AppProto::Dhcp, combine(dhcp::probe(ts), dhcp::probe(tc))));
        }
        if ports.sip {
            probes.push((AppProto::Sip, probe_sip(ts, tc, false)));
        }
    }
    // DNS has no magic bytes: only judged by plausibility on DNS ports.
    if let Some(kind) = dns_kind(dport).or_else(|| dns_kind(sport)) {
        let d = combine(dns::probe(ts, tcp), dns::probe(tc, tcp));
        probes.push((kind, d));
    }
    for (p, r) in &probes {
        match r {
            Probe::Match => return Some(*p),
            Probe::NeedMore => need_more = true,
            Probe::NoMatch => {}
        }
    }
    if need_more && ts.len().max(tc.len()) < DECIDE_AFTER {
        return None;
    }
    // TCP: one direction matched nothing and the other has sent nothing
    // yet. Its first bytes decide (an HTTP response to a request with an
    // unknown method is HTTP), as in the reference IDS; the caller gives up
    // once a direction has buffered its detection limit.
    if tcp && !need_more && (ts.is_empty() || tc.is_empty()) {
        return None;
    }
    // Port fallback, only where the content does not contradict it.
    let by_port = |p: u16| -> Option<AppProto> {
        match (tcp, p) {
            (true, 80 | 8080 | 8000 | 3128) => Some(AppProto::Http),
            (true, 443 | 8443 | 465 | 993 | 995 | 636 | 853) => Some(AppProto::Tls),
            (_, 53) | (true, 5353) => Some(AppProto::Dns),
            (false, 5353) => Some(AppProto::Mdns),
            (_, 5355) => Some(AppProto::Llmnr),
            _ => None,
        }
    };
    for port in [dport, sport] {
        if let Some(p) = by_port(port) {
            let contradicted = probes.iter().any(|(q, r)| *q == p && *r == Probe::NoMatch);
            if !contradicted {
                return Some(p);
            }
        }
    }
    Some(AppProto::Unknown)
}

/// Whether either port is an SMB one (139, 445): a short SMB prefix waits there.
pub fn is_smb_port(sport: u16, dport: u16) -> bool {
    [139, 445].contains(&sport) || [139, 445].contains(&dport)
}

/// The SIP port (as the reference IDS, SIP is only probed for there).
const SIP_PORT: u16 = 5060;

/// The MQTT port (IANA 1883).
const MQTT_PORT: u16 = 1883;

/// What a flow's ports allow the content probes to consider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortHints {
    /// A port is an SMB one: a short SMB prefix waits for more.
    pub smb: bool,
    /// A port is the SIP one: SIP messages are looked for.
    pub sip: bool,
    /// A port is the MQTT one: any plausible MQTT packet is MQTT.
    pub mqtt: bool,
}

impl PortHints {
    /// The hints of a flow between `sport` and `dport`.
    pub fn new(sport: u16, dport: u16) -> PortHints {
        PortHints {
            smb: is_smb_port(sport, dport),
            sip: sport == SIP_PORT || dport == SIP_PORT,
            mqtt: sport == MQTT_PORT || dport == MQTT_PORT,
        }
    }
}

/// SIP: a request line from the client or a status line from the server.
fn probe_sip(ts: &[u8], tc: &[u8], stream: bool) -> Probe {
    combine(sip::probe(ts, true, stream), sip::probe(tc, false, stream))
}

/// The TCP protocols recognised by their first bytes, in the order they are
/// tried, each combining what the client's (`ts`) and the server's (`tc`)
/// first bytes show. Every probe says `NoMatch` on no bytes.
fn tcp_probes(ts: &[u8], tc: &[u8], ports: PortHints) -> [(AppProto, Probe); 9] {
    let sip = if ports.sip {
        probe_sip(ts, tc, true)
    } else {
        Probe::NoMatch
    };
    [
        // Before HTTP, which takes `OPTIONS ` for its own.
        (AppProto::Sip, sip),
        (AppProto::Tls, combine(tls::probe(ts), tls::probe(tc))),
        (AppProto::Http2, http::probe_h2_preface(ts)),
        (
            AppProto::Http,
            combine(http::probe_request(ts), http::probe_response(tc)),
        ),
        (
            AppProto::Smb,
            combine(probe_smb(ts, ports.smb), probe_smb(tc, ports.smb)),
        ),
        (AppProto::Ssh, combine(probe_ssh(ts), probe_ssh(tc))),
        (AppProto::Smtp, probe_smtp(ts)),
        (
            AppProto::Dcerpc,
            combine(dcerpc::probe(ts), dcerpc::probe(tc)),
        ),
        // Last: two bytes of fixed header are a weak sign.
        (
            AppProto::Mqtt,
            combine(mqtt::probe(ts, ports.mqtt), mqtt::probe(tc, ports.mqtt)),
        ),
    ]
}

/// The protocol one TCP direction's first bytes show on their own, without
/// ports or the other direction (`app-layer-protocol:X,to_server` /
/// `to_client`); `None` when they match nothing or are too short to tell.
pub fn detect_direction(to_server: bool, first: &[u8], ports: PortHints) -> Option<AppProto> {
    let (ts, tc) = if to_server {
        (first, &[][..])
    } else {
        (&[][..], first)
    };
    tcp_probes(ts, tc, ports)
        .into_iter()
        .find(|(_, r)| *r == Probe::Match)
        .map(|(p, _)| p)
}

/// `data` against a fixed opening `magic`: a match once all of it is there,
/// more wanted while `data` is a prefix of it.
pub fn probe_prefix(data: &[u8], magic: &[u8]) -> Probe {
    let n = data.len().min(magic.len());
    if data.is_empty() || data[..n] != magic[..n] {
        Probe::NoMatch
    } else if n < magic.len() {
        Probe::NeedMore
    } else {
        Probe::Match
    }
}

/// SSH: both sides open with a `SSH-protoversion-softwareversion` banner
/// (RFC 4253 4.2).
fn probe_ssh(b: &[u8]) -> Probe {
    probe_prefix(b, b"SSH-")
}

/// SMTP: the client greets with `EHLO` or `HELO` and a space (RFC 5321
/// 4.1.1.1), in any case. The server's `220` banner alone does not tell SMTP
/// from FTP, so the greeting decides.
fn probe_smtp(b: &[u8]) -> Probe {
    let n = b.len().min(5);
    let head = &b[..n];
    let fits = |verb: &[u8; 5]| head.eq_ignore_ascii_case(&verb[..n]);
    if n == 0 || !(fits(b"EHLO ") || fits(b"HELO ")) {
        Probe::NoMatch
    } else if n < 5 {
        Probe::NeedMore
    } else {
        Probe::Match
    }
}

/// SMB in a NetBIOS session message: type 0, 3-byte length, then the
/// SMB1/SMB2/SMB3-transform magic. A short prefix waits only on SMB ports.
fn probe_smb(b: &[u8], smb_port: bool) -> Probe {
    const MAGIC: [&[u8; 4]; 3] = [b"\xffSMB", b"\xfeSMB", b"\xfdSMB"];
    match b.get(4..8) {
        Some(m) if b[0] == 0 && MAGIC.iter().any(|x| &x[..] == m) => Probe::Match,
        None if smb_port && !b.is_empty() && b[0] == 0 => Probe::NeedMore,
        _ => Probe::NoMatch,
    }
}

/// Combines two directions' probes: a match either way wins.
fn combine(a: Probe, b: Probe) -> Probe {
    match (a, b) {
        (Probe::Match, _) | (_, Probe::Match) => Probe::Match,
        (Probe::NeedMore, _) | (_, Probe::NeedMore) => Probe::NeedMore,
        _ => Probe::NoMatch,
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn tls_client_hello_on_any_port() {
        let ch = [
            0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03,
        ];
        assert_eq!(
            detect_protocol(6, 51000, 9999, &ch, &[]),
            Some(AppProto::Tls)
        );
    }

    #[test]
    fn http2_preface_on_any_port_even_after_the_server_spoke() {
        let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
        let server_settings = [0u8, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100];
        assert_eq!(
            detect_protocol(6, 56508, 3000, preface, &server_settings),
            Some(AppProto::Http2)
        );
        assert_eq!(detect_protocol(6, 56508, 3000, &[], &server_settings), None);
        assert_eq!(detect_protocol(6, 56508, 3000, b"PRI * HTT", &[]), None);
        assert_eq!(
            detect_protocol(6, 56508, 80, b"PRI * HTTP/1.1\r\n\r\n", b"HTTP/1.1 400 Bad"),
            Some(AppProto::Http),
            "not the preface: the HTTP/1 answer decides"
        );
    }

    #[test]
    fn ssh_banner_and_per_direction_protocols() {
        assert_eq!(
            detect_protocol(6, 40000, 2222, b"SSH-2.0-OpenSSH_9.6\r\n", &[]),
            Some(AppProto::Ssh)
        );
        assert_eq!(detect_protocol(6, 40000, 2222, b"SS", &[]), None);
        // an HTTP request answered by an SSH server
        let req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(
            detect_direction(true, req, PortHints::new(40000, 80)),
            Some(AppProto::Http)
        );
        assert_eq!(
            detect_direction(
                false,
                b"SSH-2.0-OpenSSH_6.6.1\r\n",
                PortHints::new(40000, 80)
            ),
            Some(AppProto::Ssh)
        );
        assert_eq!(
            detect_direction(false, b"GET / HTTP/1.1\r\n", PortHints::new(40000, 80)),
            None
        );
        assert_eq!(
            detect_direction(true, b"\x00\x01garbage", PortHints::new(40000, 80)),
            None
        );
    }

    #[test]
    fn smtp_by_the_client_greeting_after_the_banner() {
        let banner = b"220 mail.example ESMTP\r\n";
        assert_eq!(detect_protocol(6, 40000, 25, &[], banner), None);
        assert_eq!(
            detect_protocol(6, 40000, 25, b"ehlo client.example\r\n", banner),
            Some(AppProto::Smtp)
        );
        assert_eq!(detect_protocol(6, 40000, 25, b"HEL", banner), None);
        assert_eq!(
            detect_protocol(6, 40000, 21, b"USER anonymous\r\n", banner),
            Some(AppProto::Unknown),
            "an FTP login after the same banner is not SMTP"
        );
    }

    #[test]
    fn sip_by_content_on_its_port() {
        let reg = b"REGISTER sip:192.168.43.100;transport=TCP SIP/2.0\r\nVia: x\r\n";
        assert_eq!(detect_protocol(6, 58882, 5060, &reg[..20], &[]), None);
        assert_eq!(
            detect_protocol(6, 58882, 5060, reg, &[]),
            Some(AppProto::Sip)
        );
        assert_eq!(
            detect_protocol(6, 58882, 5061, reg, b"SIP/2.0 200 OK\r\n"),
            Some(AppProto::Unknown),
            "SIP is only looked for on its port"
        );
        let opts = b"OPTIONS sip:carol@chicago.example.com SIP/2.0\r\n\r\n";
        assert_eq!(
            detect_protocol(6, 40000, 5060, opts, &[]),
            Some(AppProto::Sip)
        );
        assert_eq!(
            detect_protocol(17, 5060, 5060, opts, &[]),
            Some(AppProto::Sip)
        );
        assert_eq!(
            detect_protocol(17, 5060, 5060, &[], b"SIP/2.0 100 Trying\r\n\r\n"),
            Some(AppProto::Sip)
        );
        assert_eq!(
            detect_protocol(17, 5060, 5060, b"     ", &[]),
            Some(AppProto::Unknown)
        );
        assert_eq!(
            detect_direction(false, b"SIP/2.0 200 OK\r\n", PortHints::new(1, 5060)),
            Some(AppProto::Sip)
        );
        assert_eq!(AppProto::Sip.eve_name(), "sip");
    }

    #[test]
    fn http_request_on_odd_port() {
        let req = b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(
            detect_protocol(6, 40000, 1234, req, &[]),
            Some(AppProto::Http)
        );
        // A prefix of a method waits for more bytes.
        assert_eq!(detect_protocol(6, 40000, 1234, b"GE", &[]), None);
    }

    #[test]
    fn dns_query_by_plausibility() {
        // Real query for example.com A.
        let q = [
            0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, b'e',
            b'x', b'a', b'm', b'p', b'l', b'e', 0x03, b'c', b'o', b'm', 0x00, 0x00, 0x01, 0x00,
            0x01,
        ];
        assert_eq!(detect_protocol(17, 5000, 53, &q, &[]), Some(AppProto::Dns));
        // Garbage on port 53 is not DNS.
        assert_eq!(
            detect_protocol(17, 5000, 53, &[0xff; 40], &[]),
            Some(AppProto::Unknown)
        );
    }

    #[test]
    fn quic_initial_by_content() {
        // Long header, Initial, version 1, 8-byte DCID, then token/length.
        let mut p = vec![
            0xc3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0x41, 0x00,
        ];
        p.resize(1200, 0);
        assert_eq!(
            detect_protocol(17, 50000, 443, &p, &[]),
            Some(AppProto::Quic)
        );
        // Version negotiation / unknown version is not QUIC Initial.
        p[4] = 9;
        assert_ne!(
            detect_protocol(17, 50000, 4433, &p, &[]),
            Some(AppProto::Quic)
        );
    }

    #[test]
    fn smb_by_content() {
        // NBSS header then an SMB2 NEGOTIATE header start.
        let neg = [0, 0, 0, 0x66, 0xfe, b'S', b'M', b'B', 0x40, 0];
        assert_eq!(
            detect_protocol(6, 50000, 445, &neg, &[]),
            Some(AppProto::Smb)
        );
        assert_eq!(detect_protocol(6, 50000, 445, &neg[..3], &[]), None);
        assert_eq!(AppProto::Smb.eve_name(), "smb");
    }

    #[test]
    fn tcp_waits_for_the_other_direction_before_failing() {
        let req = b"NOTMETHOD /WANIPConnection HTTP/1.1\r\nHost: 192.168.0.1\r\n\r\n";
        assert_eq!(detect_protocol(6, 59888, 80, req, &[]), None);
        assert_eq!(
            detect_protocol(6, 59888, 80, req, b"HTTP/1.0 200 OK\r\n"),
            Some(AppProto::Http)
        );
        assert_eq!(
            detect_protocol(6, 59888, 80, req, b"\x00\x01garbage garbage"),
            Some(AppProto::Unknown)
        );
    }

    #[test]
    fn port_fallback_and_failed() {
        // Server speaks first on 443 with bytes that are not TLS: failed once
        // the client has said something that is not TLS either.
        let banner = b"220 mail.example.org ESMTP ready\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n";
        assert_eq!(detect_protocol(6, 443, 50000, &[], banner), None);
        assert_eq!(
            detect_protocol(6, 443, 50000, b"XYZZY client.example.org\r\n", banner),
            Some(AppProto::Unknown)
        );
        // ... and SMTP when the client greets, whatever the port says.
        assert_eq!(
            detect_protocol(6, 443, 50000, b"EHLO client.example.org\r\n", banner),
            Some(AppProto::Smtp)
        );
        // An SSH banner on 443 is SSH, whatever the port says.
        assert_eq!(
            detect_protocol(6, 443, 50000, &[], b"SSH-2.0-OpenSSH_8.9\r\n"),
            Some(AppProto::Ssh)
        );
        assert_eq!(AppProto::Unknown.eve_name(), "failed");
        assert_eq!(detect_protocol(1, 0, 0, b"x", b""), Some(AppProto::Unknown));
    }
}
