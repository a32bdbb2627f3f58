//! Per-flow DNS state: TCP framing, transactions matched by id, events.

use super::parser::{parse_message, DnsError, DnsMessage};
use crate::app::Direction;

/// Transactions kept per flow before the oldest are dropped.
pub const MAX_TRANSACTIONS: usize = 256;
/// Bytes of an unfinished TCP DNS message kept per direction (length + body).
const MAX_TCP_BUFFER: usize = 65_537;

/// DNS protocol anomalies, counted per flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DnsEvent {
    /// A message could not be parsed at all.
    MalformedData,
    /// A message ended inside its answer, authority or additional records.
    TruncatedRecords,
    /// A name was longer than 255 bytes and was cut.
    NameTooLong,
    /// A compression pointer looped or pointed forward.
    PointerLoop,
    /// A section held more records than are kept.
    TooManyRecords,
    /// More live transactions than allowed: the oldest was dropped.
    TooManyTransactions,
    /// A response matched no outstanding query.
    UnsolicitedResponse,
    /// A request arrived with the QR bit set, or a response without it.
    NotARequest,
    /// A TCP message of length zero.
    ZeroLengthMessage,
    /// A TCP stream gap: the direction stopped.
    Gap,
    /// The reserved Z bit of the header flags is set.
    ZFlagSet,
}

impl DnsEvent {
    /// Every event, in declaration order (index = counter slot).
    pub const ALL: [DnsEvent; 11] = [
        DnsEvent::MalformedData,
        DnsEvent::TruncatedRecords,
        DnsEvent::NameTooLong,
        DnsEvent::PointerLoop,
        DnsEvent::TooManyRecords,
        DnsEvent::TooManyTransactions,
        DnsEvent::UnsolicitedResponse,
        DnsEvent::NotARequest,
        DnsEvent::ZeroLengthMessage,
        DnsEvent::Gap,
        DnsEvent::ZFlagSet,
    ];

    /// Name as used in `app-layer-event:dns.<name>` rules.
    pub fn name(self) -> &'static str {
        match self {
            DnsEvent::MalformedData => "malformed_data",
            DnsEvent::TruncatedRecords => "truncated_records",
            DnsEvent::NameTooLong => "name_too_long",
            DnsEvent::PointerLoop => "infinite_loop",
            DnsEvent::TooManyRecords => "too_many_records",
            DnsEvent::TooManyTransactions => "too_many_transactions",
            DnsEvent::UnsolicitedResponse => "unsolicited_response",
            DnsEvent::NotARequest => "not_a_request",
            DnsEvent::ZeroLengthMessage => "zero_length_message",
            DnsEvent::Gap => "gap",
            DnsEvent::ZFlagSet => "z_flag_set",
        }
    }

    /// Name in `app-layer-event` rules (the reference IDS's) for the events
    /// raised on a transaction with the same meaning there.
    pub fn rule_name(self) -> Option<&'static str> {
        Some(match self {
            DnsEvent::NameTooLong => "dns.name_too_long",
            DnsEvent::ZFlagSet => "dns.z_flag_set",
            _ => return None,
        })
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// One query and, once seen, its response.
#[derive(Debug, Clone, Default)]
pub struct DnsTransaction {
    /// Per-flow transaction number, from 0.
    pub tx_id: u64,
    /// The query message, if seen.
    pub request: Option<DnsMessage>,
    /// The response message, if seen.
    pub response: Option<DnsMessage>,
    /// Events raised while parsing this transaction's messages.
    pub events: Vec<DnsEvent>,
}

impl DnsTransaction {
    /// DNS message id of this transaction.
    pub fn id(&self) -> Option<u16> {
        self.request
            .as_ref()
            .or(self.response.as_ref())
            .map(|m| m.header.id)
    }
}

/// Which protocol on the DNS wire format a flow carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DnsVariant {
    /// Unicast DNS: a response completes the query with its id.
    #[default]
    Dns,
    /// Multicast DNS (RFC 6762, UDP 5353): every message is its own
    /// transaction, queries and answers alike, whichever way it travels.
    Mdns,
    /// Link-Local Multicast Name Resolution (RFC 4795, port 5355): every
    /// message is its own transaction too (responses come from whoever
    /// answers the multicast query, on a flow of their own).
    Llmnr,
}

impl DnsVariant {
    /// The protocol's name in rules and EVE (`dns`, `mdns`, `llmnr`).
    pub fn name(self) -> &'static str {
        match self {
            DnsVariant::Dns => "dns",
            DnsVariant::Mdns => "mdns",
            DnsVariant::Llmnr => "llmnr",
        }
    }
}

/// Per-flow DNS parser state.
#[derive(Debug, Default)]
pub struct DnsState {
    variant: DnsVariant,
    txs: Vec<DnsTransaction>,
    next_tx_id: u64,
    tcp_buf: [Vec<u8>; 2],
    tcp_failed: [bool; 2],
    counts: [u64; DnsEvent::ALL.len()],
}

impl DnsState {
    /// New, empty state.
    pub fn new() -> DnsState {
        DnsState::default()
    }

    /// New, empty state for mDNS or LLMNR (or DNS).
    pub fn with_variant(variant: DnsVariant) -> DnsState {
        DnsState {
            variant,
            ..DnsState::default()
        }
    }

    /// The protocol this state parses.
    pub fn variant(&self) -> DnsVariant {
        self.variant
    }

    /// Parses one UDP datagram travelling in `dir`.
    pub fn parse_udp(&mut self, data: &[u8], dir: Direction) {
        self.handle_message(data, dir);
    }

    /// Feeds in-order TCP stream bytes travelling in `dir`; messages are
    /// 2-byte length prefixed and may be split or batched arbitrarily.
    pub fn parse_tcp(&mut self, data: &[u8], dir: Direction) {
        let slot = match dir {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        };
        if self.tcp_failed[slot] {
            return;
        }
        let mut buf = std::mem::take(&mut self.tcp_buf[slot]);
        buf.extend_from_slice(data);
        let mut pos = 0;
        while let Some(hdr) = buf.get(pos..pos + 2) {
            let len = usize::from(u16::from_be_bytes([hdr[0], hdr[1]]));
            if len == 0 {
                self.raise(DnsEvent::ZeroLengthMessage, None);
                pos += 2;
                continue;
            }
            match buf.get(pos + 2..pos + 2 + len) {
                Some(msg) => {
                    self.handle_message(msg, dir);
                    pos += 2 + len;
                }
                None => break,
            }
        }
        buf.drain(..pos);
        // What is left is less than one message: at most 2 + 65535 bytes.
        debug_assert!(buf.len() <= MAX_TCP_BUFFER);
        self.tcp_buf[slot] = buf;
    }

    /// `len` TCP stream bytes in `dir` are missing (a reassembly gap): the
    /// message framing is lost, so the direction stops.
    pub fn gap(&mut self, dir: Direction, _len: u64) {
        let slot = match dir {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        };
        self.tcp_buf[slot].clear();
        if !self.tcp_failed[slot] {
            self.tcp_failed[slot] = true;
            self.raise(DnsEvent::Gap, None);
        }
    }

    fn handle_message(&mut self, data: &[u8], dir: Direction) {
        let msg = match parse_message(data) {
            Ok(m) => m,
            Err(e) => {
                let ev = if e == DnsError::PointerLoop {
                    DnsEvent::PointerLoop
                } else {
                    DnsEvent::MalformedData
                };
                self.raise(ev, None);
                return;
            }
        };
        let mut events = Vec::new();
        if msg.truncated_records {
            events.push(DnsEvent::TruncatedRecords);
        }
        if msg.name_too_long {
            events.push(DnsEvent::NameTooLong);
        }
        if msg.records_dropped {
            events.push(DnsEvent::TooManyRecords);
        }
        if msg.header.flags & 0x0040 != 0 {
            events.push(DnsEvent::ZFlagSet);
        }
        let is_response = msg.header.is_response();
        if self.variant != DnsVariant::Dns {
            // Multicast: no pairing by id, and either kind may travel either way.
            let idx = if is_response {
                self.new_tx(None, Some(msg))
            } else {
                self.new_tx(Some(msg), None)
            };
            for e in events {
                self.raise(e, Some(idx));
            }
            return;
        }
        if (dir == Direction::ToServer) == is_response {
            events.push(DnsEvent::NotARequest);
        }
        let idx = if is_response {
            let id = msg.header.id;
            let found = self.txs.iter().position(|t| {
                t.response.is_none() && t.request.as_ref().map(|r| r.header.id) == Some(id)
            });
            match found {
                Some(i) => {
                    self.txs[i].response = Some(msg);
                    i
                }
                None => {
                    events.push(DnsEvent::UnsolicitedResponse);
                    self.new_tx(None, Some(msg))
                }
            }
        } else {
            self.new_tx(Some(msg), None)
        };
        for e in events {
            self.raise(e, Some(idx));
        }
    }

    fn new_tx(&mut self, request: Option<DnsMessage>, response: Option<DnsMessage>) -> usize {
        if self.txs.len() >= MAX_TRANSACTIONS {
            self.txs.remove(0);
            self.counts[DnsEvent::TooManyTransactions.slot()] += 1;
        }
        self.txs.push(DnsTransaction {
            tx_id: self.next_tx_id,
            request,
            response,
            events: Vec::new(),
        });
        self.next_tx_id += 1;
        self.txs.len() - 1
    }

    fn raise(&mut self, ev: DnsEvent, tx: Option<usize>) {
        self.counts[ev.slot()] += 1;
        if let Some(t) = tx.and_then(|i| self.txs.get_mut(i)) {
            if t.events.len() < 16 {
                t.events.push(ev);
            }
        }
    }

    /// Live transactions, oldest first.
    pub fn transactions(&self) -> &[DnsTransaction] {
        &self.txs
    }

    /// Removes and returns the transactions that have both query and response,
    /// plus unsolicited responses; queries still waiting stay.
    pub fn take_complete(&mut self) -> Vec<DnsTransaction> {
        let multicast = self.variant != DnsVariant::Dns;
        let (done, live): (Vec<_>, Vec<_>) = std::mem::take(&mut self.txs)
            .into_iter()
            .partition(|t| multicast || t.response.is_some());
        self.txs = live;
        done
    }

    /// Removes and returns every transaction (flow end).
    pub fn take_all(&mut self) -> Vec<DnsTransaction> {
        std::mem::take(&mut self.txs)
    }

    /// How many times `ev` was raised on this flow.
    pub fn event_count(&self, ev: DnsEvent) -> u64 {
        self.counts[ev.slot()]
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const QUERY: &[u8] = &[
        0x9d, 0x2b, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, b'w', b'w',
        b'w', 0x06, b'g', b'o', b'o', b'g', b'l', b'e', 0x03, b'c', b'o', b'm', 0x00, 0x00, 0x01,
        0x00, 0x01,
    ];

    fn response() -> Vec<u8> {
        let mut r = QUERY.to_vec();
        r[2] = 0x81;
        r[3] = 0x80;
        r[7] = 1;
        r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]);
        r
    }

    #[test]
    fn udp_query_response_pair() {
        let mut s = DnsState::new();
        s.parse_udp(QUERY, Direction::ToServer);
        s.parse_udp(&response(), Direction::ToClient);
        let txs = s.take_complete();
        assert_eq!(txs.len(), 1);
        assert_eq!(txs[0].id(), Some(0x9d2b));
        assert!(txs[0].request.is_some() && txs[0].response.is_some());
        assert_eq!(s.event_count(DnsEvent::UnsolicitedResponse), 0);
    }

    #[test]
    fn tcp_split_and_batched() {
        let mut stream = Vec::new();
        for _ in 0..3 {
            stream.extend_from_slice(&(QUERY.len() as u16).to_be_bytes());
            stream.extend_from_slice(QUERY);
        }
        // Feed one byte at a time.
        let mut s = DnsState::new();
        for b in &stream {
            s.parse_tcp(std::slice::from_ref(b), Direction::ToServer);
        }
        assert_eq!(s.transactions().len(), 3);
        // Feed all at once.
        let mut s = DnsState::new();
        s.parse_tcp(&stream, Direction::ToServer);
        assert_eq!(s.transactions().len(), 3);
        let r = response();
        let mut resp = (r.len() as u16).to_be_bytes().to_vec();
        resp.extend_from_slice(&r);
        s.parse_tcp(&resp[..5], Direction::ToClient);
        s.parse_tcp(&resp[5..], Direction::ToClient);
        assert_eq!(s.take_complete().len(), 1);
    }

    #[test]
    fn garbage_and_caps_are_events() {
        let mut s = DnsState::new();
        s.parse_udp(&[1, 2, 3], Direction::ToServer);
        assert_eq!(s.event_count(DnsEvent::MalformedData), 1);
        s.parse_udp(&response(), Direction::ToClient);
        assert_eq!(s.event_count(DnsEvent::UnsolicitedResponse), 1);
        for _ in 0..MAX_TRANSACTIONS + 5 {
            s.parse_udp(QUERY, Direction::ToServer);
        }
        assert_eq!(s.transactions().len(), MAX_TRANSACTIONS);
        assert!(s.event_count(DnsEvent::TooManyTransactions) >= 5);
        s.parse_tcp(&[0, 0, 0, 0], Direction::ToServer);
        assert_eq!(s.event_count(DnsEvent::ZeroLengthMessage), 2);
        // After a gap the TCP framing is lost: later messages are ignored.
        let mut s = DnsState::new();
        s.gap(Direction::ToServer, 10);
        s.parse_tcp(&[0, 32], Direction::ToServer);
        s.parse_tcp(QUERY, Direction::ToServer);
        assert_eq!(s.event_count(DnsEvent::Gap), 1);
        assert!(s.transactions().is_empty());
        s.parse_udp(QUERY, Direction::ToServer);
        assert_eq!(s.transactions().len(), 1);
    }
}
