//! DHCP (RFC 2131, options RFC 2132) over UDP ports 67 and 68.
//!
//! Every datagram stands alone: a client's request or a server's reply, one
//! transaction in the direction it travels. Requests and replies of one
//! exchange often travel in different flows (broadcast, then unicast), so no
//! pairing is attempted.

use std::net::Ipv4Addr;

use serde_json::{json, Map, Value};

use super::detect::Probe;

/// Fixed BOOTP header length, before the magic cookie.
const BOOTP_LEN: usize = 236;
/// The DHCP magic cookie (RFC 2131 3).
const COOKIE: [u8; 4] = [0x63, 0x82, 0x53, 0x63];
/// Datagrams kept per flow until logged; more are counted and dropped.
pub const MAX_PENDING: usize = 64;
/// Options read per datagram at most; more are counted and ignored.
pub const MAX_OPTIONS: usize = 255;

/// One DHCP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpTx {
    /// Transaction id within the flow.
    pub tx_id: u64,
    /// BOOTREQUEST (true) or BOOTREPLY.
    pub request: bool,
    /// The client's transaction id (`xid`).
    pub xid: u32,
    /// The client's own address (`ciaddr`).
    pub client_ip: Ipv4Addr,
    /// Address the server assigns (`yiaddr`).
    pub assigned_ip: Ipv4Addr,
    /// Next server (`siaddr`).
    pub next_server_ip: Ipv4Addr,
    /// Relay agent (`giaddr`).
    pub relay_ip: Ipv4Addr,
    /// Client hardware address (Ethernet: 6 bytes).
    pub client_mac: Vec<u8>,
    /// Option 53.
    pub message_type: Option<u8>,
    /// Option 12.
    pub hostname: Option<Vec<u8>>,
    /// Option 61, without its type byte.
    pub client_id: Option<Vec<u8>>,
    /// Option 50.
    pub requested_ip: Option<Ipv4Addr>,
    /// Option 51 (seconds).
    pub lease_time: Option<u32>,
    /// Option 58, T1 (seconds).
    pub renewal_time: Option<u32>,
    /// Option 59, T2 (seconds).
    pub rebinding_time: Option<u32>,
    /// Option 1.
    pub subnet_mask: Option<Ipv4Addr>,
    /// Option 3.
    pub routers: Vec<Ipv4Addr>,
    /// Option 6.
    pub dns_servers: Vec<Ipv4Addr>,
}

/// DHCP anomalies, counted per flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DhcpEvent {
    /// A datagram shorter than the BOOTP header or without the magic cookie.
    Malformed,
    /// An option whose length runs past the datagram, or of a wrong length.
    TruncatedOptions,
    /// More than [`MAX_PENDING`] messages waiting to be logged.
    TooManyTransactions,
}

/// Per-flow DHCP state.
#[derive(Debug, Default)]
pub struct DhcpState {
    txs: Vec<DhcpTx>,
    next_id: u64,
    counts: [u64; 3],
}

fn ipv4(b: &[u8]) -> Ipv4Addr {
    match b {
        [a, b, c, d, ..] => Ipv4Addr::new(*a, *b, *c, *d),
        _ => Ipv4Addr::UNSPECIFIED,
    }
}

/// Whether one datagram is a BOOTP message carrying the DHCP cookie.
pub fn probe(d: &[u8]) -> Probe {
    let ok =
        d.len() >= BOOTP_LEN + 4 && matches!(d[0], 1 | 2) && d[BOOTP_LEN..BOOTP_LEN + 4] == COOKIE;
    if ok {
        Probe::Match
    } else {
        Probe::NoMatch
    }
}

impl DhcpState {
    /// One datagram, either way.
    pub fn parse(&mut self, d: &[u8]) {
        if probe(d) != Probe::Match {
            self.raise(DhcpEvent::Malformed);
            return;
        }
        if self.txs.len() >= MAX_PENDING {
            self.raise(DhcpEvent::TooManyTransactions);
            return;
        }
        let hlen = usize::from(d[2]).min(16);
        let mut tx = DhcpTx {
            tx_id: self.next_id,
            request: d[0] == 1,
            xid: u32::from_be_bytes([d[4], d[5], d[6], d[7]]),
            client_ip: ipv4(&d[12..]),
            assigned_ip: ipv4(&d[16..]),
            next_server_ip: ipv4(&d[20..]),
            relay_ip: ipv4(&d[24..]),
            client_mac: d[28..28 + hlen].to_vec(),
            message_type: None,
            hostname: None,
            client_id: None,
            requested_ip: None,
            lease_time: None,
            renewal_time: None,
            rebinding_time: None,
            subnet_mask: None,
            routers: Vec::new(),
            dns_servers: Vec::new(),
        };
        self.next_id += 1;
        let mut opts = &d[BOOTP_LEN + 4..];
        let mut n = 0;
        while let Some((&code, rest)) = opts.split_first() {
            match code {
                0 => {
                    opts = rest;
                    continue;
                }
                255 => break,
                _ => {}
            }
            n += 1;
            let Some((&len, rest)) = rest.split_first() else {
                self.raise(DhcpEvent::TruncatedOptions);
                break;
            };
            let Some(v) = rest.get(..usize::from(len)) else {
                self.raise(DhcpEvent::TruncatedOptions);
                break;
            };
            opts = &rest[usize::from(len)..];
            if n > MAX_OPTIONS {
                break;
            }
            let addrs = |v: &[u8]| v.chunks_exact(4).map(ipv4).collect::<Vec<_>>();
            match (code, v.len()) {
                (53, 1) => tx.message_type = Some(v[0]),
                (12, _) => tx.hostname = Some(v.to_vec()),
                (61, 2..) => tx.client_id = Some(v[1..].to_vec()),
                (50, 4) => tx.requested_ip = Some(ipv4(v)),
                (51, 4) => tx.lease_time = Some(u32::from_be_bytes([v[0], v[1], v[2], v[3]])),
                (58, 4) => tx.renewal_time = Some(u32::from_be_bytes([v[0], v[1], v[2], v[3]])),
                (59, 4) => tx.rebinding_time = Some(u32::from_be_bytes([v[0], v[1], v[2], v[3]])),
                (1, 4) => tx.subnet_mask = Some(ipv4(v)),
                (3, _) => tx.routers = addrs(v),
                (6, _) => tx.dns_servers = addrs(v),
                (53 | 50 | 51 | 58 | 59 | 1 | 61, _) => self.raise(DhcpEvent::TruncatedOptions),
                _ => {}
            }
        }
        self.txs.push(tx);
    }

    fn raise(&mut self, ev: DhcpEvent) {
        self.counts[ev as usize] += 1;
    }

    /// How many times `ev` happened on this flow.
    pub fn count(&self, ev: DhcpEvent) -> u64 {
        self.counts[ev as usize]
    }

    /// Messages not yet logged.
    pub fn transactions(&self) -> &[DhcpTx] {
        &self.txs
    }

    /// Takes the messages parsed so far (each is complete on arrival).
    pub fn take_complete(&mut self) -> Vec<DhcpTx> {
        std::mem::take(&mut self.txs)
    }
}

/// Buffer names DHCP messages provide (integer keywords).
pub const BUFFER_NAMES: &[&str] = &["dhcp.leasetime", "dhcp.rebinding_time", "dhcp.renewal_time"];

impl DhcpTx {
    /// Calls `f(name, bytes)` for the lease, rebinding (T2) and renewal (T1)
    /// times this message carries, each 4 bytes big-endian.
    pub fn for_each_buffer(&self, mut f: impl FnMut(&'static str, &[u8])) {
        for (name, v) in [
            ("dhcp.leasetime", self.lease_time),
            ("dhcp.rebinding_time", self.rebinding_time),
            ("dhcp.renewal_time", self.renewal_time),
        ] {
            if let Some(v) = v {
                f(name, &v.to_be_bytes());
            }
        }
    }
}

/// Option 53's name, as EVE `dhcp_type` writes it.
fn message_type_name(t: u8) -> &'static str {
    match t {
        1 => "discover",
        2 => "offer",
        3 => "request",
        4 => "decline",
        5 => "ack",
        6 => "nak",
        7 => "release",
        8 => "inform",
        _ => "unknown",
    }
}

/// The EVE `dhcp` object of a message.
pub fn eve_dhcp(tx: &DhcpTx) -> Value {
    let mut m = Map::new();
    m.insert(
        "type".into(),
        json!(if tx.request { "request" } else { "reply" }),
    );
    m.insert("id".into(), json!(tx.xid));
    m.insert(
        "client_mac".into(),
        json!(super::hex_colon(&tx.client_mac, false)),
    );
    m.insert("assigned_ip".into(), json!(tx.assigned_ip.to_string()));
    m.insert("client_ip".into(), json!(tx.client_ip.to_string()));
    if !tx.relay_ip.is_unspecified() {
        m.insert("relay_ip".into(), json!(tx.relay_ip.to_string()));
    }
    if !tx.next_server_ip.is_unspecified() {
        m.insert(
            "next_server_ip".into(),
            json!(tx.next_server_ip.to_string()),
        );
    }
    if let Some(t) = tx.message_type {
        m.insert("dhcp_type".into(), json!(message_type_name(t)));
    }
    if let Some(c) = &tx.client_id {
        m.insert("client_id".into(), json!(super::hex_colon(c, false)));
    }
    if let Some(h) = &tx.hostname {
        m.insert("hostname".into(), json!(String::from_utf8_lossy(h)));
    }
    if let Some(ip) = tx.requested_ip {
        m.insert("requested_ip".into(), json!(ip.to_string()));
    }
    if let Some(t) = tx.lease_time {
        m.insert("lease_time".into(), json!(t));
    }
    if let Some(t) = tx.rebinding_time {
        m.insert("rebinding_time".into(), json!(t));
    }
    if let Some(t) = tx.renewal_time {
        m.insert("renewal_time".into(), json!(t));
    }
    if let Some(ip) = tx.subnet_mask {
        m.insert("subnet_mask".into(), json!(ip.to_string()));
    }
    let list = |v: &[Ipv4Addr]| json!(v.iter().map(|a| a.to_string()).collect::<Vec<_>>());
    if !tx.routers.is_empty() {
        m.insert("routers".into(), list(&tx.routers));
    }
    if !tx.dns_servers.is_empty() {
        m.insert("dns_servers".into(), list(&tx.dns_servers));
    }
    Value::Object(m)
}

#[cfg(test)]
mod test {
    use super::*;

    /// A DHCPDISCOVER from 00:0b:82:01:fc:42 with a requested address and a hostname.
    fn discover() -> Vec<u8> {
        let mut d = vec![0u8; BOOTP_LEN];
        d[..4].copy_from_slice(&[1, 1, 6, 0]);
        d[4..8].copy_from_slice(&0x3d1d_u32.to_be_bytes());
        d[28..34].copy_from_slice(&[0x00, 0x0b, 0x82, 0x01, 0xfc, 0x42]);
        d.extend_from_slice(&COOKIE);
        d.extend_from_slice(&[53, 1, 1, 0, 50, 4, 192, 168, 0, 10, 12, 3, b'p', b'c', b'1']);
        d.extend_from_slice(&[61, 7, 1, 0x00, 0x0b, 0x82, 0x01, 0xfc, 0x42, 255]);
        d
    }

    #[test]
    fn a_discover_is_one_request() {
        let d = discover();
        assert_eq!(probe(&d), Probe::Match);
        let mut s = DhcpState::default();
        s.parse(&d);
        let txs = s.take_complete();
        assert_eq!(txs.len(), 1);
        assert_eq!(
            eve_dhcp(&txs[0]),
            json!({
                "type": "request", "id": 0x3d1d, "client_mac": "00:0b:82:01:fc:42",
                "assigned_ip": "0.0.0.0", "client_ip": "0.0.0.0", "dhcp_type": "discover",
                "client_id": "00:0b:82:01:fc:42", "hostname": "pc1",
                "requested_ip": "192.168.0.10"
            })
        );
    }

    #[test]
    fn lease_renewal_and_rebinding_times_are_buffers() {
        let mut d = discover();
        d.pop(); // end option
        d.extend_from_slice(&[51, 4, 0, 0, 0x0e, 0x10, 58, 4, 0, 0, 0x06, 0x91]);
        d.extend_from_slice(&[59, 4, 0, 0, 0x0b, 0xd7, 255]);
        let mut s = DhcpState::default();
        s.parse(&d);
        let tx = &s.transactions()[0];
        let mut bufs = Vec::new();
        tx.for_each_buffer(|n, b| bufs.push((n, b.to_vec())));
        assert_eq!(
            bufs,
            [
                ("dhcp.leasetime", 3600u32.to_be_bytes().to_vec()),
                ("dhcp.rebinding_time", 3031u32.to_be_bytes().to_vec()),
                ("dhcp.renewal_time", 1681u32.to_be_bytes().to_vec()),
            ]
        );
        let v = eve_dhcp(tx);
        assert_eq!(
            (v["renewal_time"].clone(), v["rebinding_time"].clone()),
            (json!(1681), json!(3031))
        );
        // A discover without times has no buffers.
        let mut s = DhcpState::default();
        s.parse(&discover());
        let mut n = 0;
        s.transactions()[0].for_each_buffer(|_, _| n += 1);
        assert_eq!(n, 0);
    }

    #[test]
    fn hostile_datagrams_are_counted() {
        let mut s = DhcpState::default();
        s.parse(b"\x01\x01\x06\x00short");
        assert_eq!(s.count(DhcpEvent::Malformed), 1);
        let mut d = discover();
        d.truncate(BOOTP_LEN + 4 + 3);
        d.extend_from_slice(&[12, 200, b'x']);
        s.parse(&d);
        assert_eq!(s.count(DhcpEvent::TruncatedOptions), 1);
        assert_eq!(
            s.transactions().len(),
            1,
            "the header still makes a message"
        );
        for _ in 0..MAX_PENDING {
            s.parse(&discover());
        }
        assert_eq!(s.count(DhcpEvent::TooManyTransactions), 1);
    }
}
