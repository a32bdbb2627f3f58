//! TFTP (RFC 1350, options RFC 2347): read and write requests to port 69.
//!
//! A request opens a transfer whose data then flows between two other ports,
//! a flow of its own that carries no request; so only the request flow is
//! TFTP, and each request is one transaction: packet type, file name, mode.

use serde_json::{json, Value};

use super::detect::Probe;
use super::Direction;

/// Read request opcode.
const RRQ: u16 = 1;
/// Write request opcode.
const WRQ: u16 = 2;
/// Longest file name kept (bytes); longer names are cut and counted.
pub const MAX_FILE_NAME: usize = 512;
/// Requests kept per flow until logged; more are counted and dropped.
pub const MAX_PENDING: usize = 64;

/// Transfer modes of RFC 1350, compared without case.
const MODES: [&[u8]; 3] = [b"netascii", b"octet", b"mail"];

/// One TFTP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TftpTx {
    /// Transaction id within the flow.
    pub tx_id: u64,
    /// Read (true) or write request.
    pub read: bool,
    /// File name, as sent (cut at [`MAX_FILE_NAME`]).
    pub file: Vec<u8>,
    /// Transfer mode, lowercased.
    pub mode: String,
}

/// TFTP anomalies, counted per flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TftpEvent {
    /// A datagram to the server that is not a well-formed request, data,
    /// acknowledgement or error packet.
    Malformed,
    /// A file name longer than [`MAX_FILE_NAME`].
    FileNameTooLong,
    /// More than [`MAX_PENDING`] requests waiting to be logged.
    TooManyTransactions,
}

/// Per-flow TFTP state.
#[derive(Debug, Default)]
pub struct TftpState {
    txs: Vec<TftpTx>,
    next_id: u64,
    counts: [u64; 3],
}

/// A request parsed from one datagram: (read, file, mode).
fn parse_request(d: &[u8]) -> Option<(bool, &[u8], &[u8])> {
    let op = u16::from_be_bytes([*d.first()?, *d.get(1)?]);
    if op != RRQ && op != WRQ {
        return None;
    }
    let rest = &d[2..];
    let nul = rest.iter().position(|b| *b == 0)?;
    let (file, rest) = (&rest[..nul], &rest[nul + 1..]);
    let nul = rest.iter().position(|b| *b == 0)?;
    let mode = &rest[..nul];
    if file.is_empty() || !MODES.iter().any(|m| m.eq_ignore_ascii_case(mode)) {
        return None;
    }
    Some((op == RRQ, file, mode))
}

/// Whether one datagram to the server is a TFTP read or write request.
pub fn probe(first_to_server: &[u8]) -> Probe {
    if parse_request(first_to_server).is_some() {
        Probe::Match
    } else {
        Probe::NoMatch
    }
}

impl TftpState {
    /// One datagram in `dir`.
    pub fn parse(&mut self, data: &[u8], dir: Direction) {
        let op = match data {
            [a, b, ..] => u16::from_be_bytes([*a, *b]),
            _ => 0,
        };
        match parse_request(data) {
            Some((read, file, mode)) if dir == Direction::ToServer => {
                if self.txs.len() >= MAX_PENDING {
                    self.raise(TftpEvent::TooManyTransactions);
                    return;
                }
                if file.len() > MAX_FILE_NAME {
                    self.raise(TftpEvent::FileNameTooLong);
                }
                self.txs.push(TftpTx {
                    tx_id: self.next_id,
                    read,
                    file: file[..file.len().min(MAX_FILE_NAME)].to_vec(),
                    mode: String::from_utf8_lossy(mode).to_ascii_lowercase(),
                });
                self.next_id += 1;
            }
            // Data, acknowledgement, error and option-acknowledgement packets
            // may share the flow (a server answering from port 69).
            _ if (3..=6).contains(&op) => {}
            _ => self.raise(TftpEvent::Malformed),
        }
    }

    fn raise(&mut self, ev: TftpEvent) {
        self.counts[ev as usize] += 1;
    }

    /// How many times `ev` happened on this flow.
    pub fn count(&self, ev: TftpEvent) -> u64 {
        self.counts[ev as usize]
    }

    /// Requests not yet logged.
    pub fn transactions(&self) -> &[TftpTx] {
        &self.txs
    }

    /// Takes the requests parsed so far (each is complete on arrival).
    pub fn take_complete(&mut self) -> Vec<TftpTx> {
        std::mem::take(&mut self.txs)
    }
}

/// The EVE `tftp` object of a request.
pub fn eve_tftp(tx: &TftpTx) -> Value {
    json!({
        "packet": if tx.read { "read" } else { "write" },
        "file": String::from_utf8_lossy(&tx.file),
        "mode": tx.mode,
    })
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn requests_are_transactions_and_the_rest_is_counted() {
        let rrq = b"\x00\x01rfc1350.txt\x00octet\x00";
        assert_eq!(probe(rrq), Probe::Match);
        assert_eq!(probe(b"\x00\x03\x00\x01data"), Probe::NoMatch);
        assert_eq!(probe(b"\x00\x01name-without-mode"), Probe::NoMatch);
        assert_eq!(probe(b"\x00\x02f\x00binary\x00"), Probe::NoMatch);
        let mut s = TftpState::default();
        s.parse(rrq, Direction::ToServer);
        s.parse(
            b"\x00\x02up.bin\x00NetASCII\x00blksize\x001428\x00",
            Direction::ToServer,
        );
        s.parse(b"\x00\x05\x00\x01File not found\x00", Direction::ToClient);
        s.parse(b"\xff", Direction::ToServer);
        let txs = s.take_complete();
        assert_eq!(txs.len(), 2);
        assert_eq!(
            eve_tftp(&txs[0]),
            json!({"packet": "read", "file": "rfc1350.txt", "mode": "octet"})
        );
        assert_eq!(
            eve_tftp(&txs[1]),
            json!({"packet": "write", "file": "up.bin", "mode": "netascii"})
        );
        assert_eq!(txs[1].tx_id, 1);
        assert_eq!(s.count(TftpEvent::Malformed), 1);
        assert!(s.transactions().is_empty());
    }

    #[test]
    fn caps_hold_on_hostile_requests() {
        let mut s = TftpState::default();
        let mut long = b"\x00\x01".to_vec();
        long.extend(std::iter::repeat_n(b'a', 5000));
        long.extend_from_slice(b"\x00octet\x00");
        s.parse(&long, Direction::ToServer);
        assert_eq!(s.transactions()[0].file.len(), MAX_FILE_NAME);
        assert_eq!(s.count(TftpEvent::FileNameTooLong), 1);
        for _ in 0..MAX_PENDING {
            s.parse(b"\x00\x01f\x00mail\x00", Direction::ToServer);
        }
        assert_eq!(s.transactions().len(), MAX_PENDING);
        assert_eq!(s.count(TftpEvent::TooManyTransactions), 1);
    }
}
