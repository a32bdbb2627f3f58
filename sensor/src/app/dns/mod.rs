//! DNS over UDP datagrams and TCP streams (2-byte length prefix), and the
//! protocols that share its wire format: mDNS and LLMNR.

pub mod detect;
pub mod eve;
pub mod parser;
pub mod state;

pub use detect::DnsSide;
pub use parser::{parse_message, DnsAnswer, DnsError, DnsHeader, DnsMessage, DnsQuery, RData};
pub use state::{DnsEvent, DnsState, DnsTransaction, DnsVariant};

use super::detect::Probe;

/// Looks at the first bytes of one direction and says whether they are
/// plausibly a DNS message (TCP: with its 2-byte length prefix).
pub fn probe(data: &[u8], tcp: bool) -> Probe {
    let msg = if tcp {
        if data.len() < 2 {
            return if data.is_empty() {
                Probe::NoMatch
            } else {
                Probe::NeedMore
            };
        }
        let len = usize::from(u16::from_be_bytes([data[0], data[1]]));
        if len < 12 {
            return Probe::NoMatch;
        }
        &data[2..]
    } else {
        data
    };
    if msg.is_empty() {
        return Probe::NoMatch;
    }
    if msg.len() < 12 {
        return if tcp { Probe::NeedMore } else { Probe::NoMatch };
    }
    let flags = u16::from_be_bytes([msg[2], msg[3]]);
    let opcode = (flags >> 11) & 0x0f;
    let qd = u16::from_be_bytes([msg[4], msg[5]]);
    let an = u16::from_be_bytes([msg[6], msg[7]]);
    let ns = u16::from_be_bytes([msg[8], msg[9]]);
    let ar = u16::from_be_bytes([msg[10], msg[11]]);
    // Opcodes 0-6 are assigned; real messages carry few records.
    if opcode > 6 || qd > 16 || an > 512 || ns > 512 || ar > 512 {
        return Probe::NoMatch;
    }
    if qd == 0 && an == 0 && ns == 0 && ar == 0 {
        return Probe::NoMatch;
    }
    match parse_message(msg) {
        Ok(m) if m.queries.len() == usize::from(qd) => Probe::Match,
        Ok(_) => Probe::NoMatch,
        Err(DnsError::Truncated) if tcp => Probe::NeedMore,
        Err(_) => Probe::NoMatch,
    }
}
