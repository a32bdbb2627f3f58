//! Application-layer parsers, one folder per protocol.
//!
//! Each protocol folder holds its parser, per-flow state, detection buffers and
//! EVE logger side by side. Parsers are pure and total: they take in-order
//! stream bytes per direction (TCP) or whole datagrams (UDP), keep incremental
//! state, and turn malformed or hostile input into named, counted events.

pub mod dcerpc;
pub mod detect;
pub mod dhcp;
pub mod dns;
pub mod file;
pub mod frames;
pub mod http;
pub mod layer;
pub mod mqtt;
pub mod quic;
pub mod sip;
pub mod smb;
pub mod ssh;
pub mod tftp;
pub mod tls;

pub use detect::{detect_direction, detect_protocol, AppProto};
pub use layer::{AppLayer, AppNeeds, AppState};

/// Every `proto.event` name the app layer raises where `app-layer-event`
/// rules see it (on a transaction, or on the packet for the generic
/// protocol-detection events).
pub fn event_rule_names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = http::HttpEvent::ALL
        .iter()
        .filter_map(|e| e.rule_name())
        .chain(dns::DnsEvent::ALL.iter().filter_map(|e| e.rule_name()))
        .chain(tls::TlsEvent::ALL.iter().filter_map(|e| e.rule_name()))
        .chain(mqtt::MqttEvent::ALL.iter().filter_map(|e| e.rule_name()))
        .collect();
    v.push(layer::MISMATCH_BOTH_DIRECTIONS);
    v
}

/// Which way application data travels inside a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client (connection initiator) to the server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

impl Direction {
    /// The other direction.
    pub fn flip(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }
}

/// Lowercase hex of `bytes`, no separator.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Hex of `bytes` with `:` between bytes, upper or lower case.
pub(crate) fn hex_colon(bytes: &[u8], upper: bool) -> String {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push(digits[usize::from(b >> 4)] as char);
        out.push(digits[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Lowercase hex of a digest, as EVE and the comparison tests print hashes.
pub fn hex_digest(bytes: &[u8]) -> String {
    hex_lower(bytes)
}
