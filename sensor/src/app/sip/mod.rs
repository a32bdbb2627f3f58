//! SIP (RFC 3261) over UDP, one message per datagram, and over TCP, a
//! stream of messages framed by Content-Length.
//!
//! As in the reference IDS, each message is a transaction of its own:
//! requests travel to the server and responses to the client; a message
//! going the other way keeps the stream's framing but makes no transaction
//! (counted as [`SipEvent::UnexpectedDirection`]).

pub mod detect;
pub mod parser;

use serde_json::{json, Map, Value};

use super::detect::Probe;
use super::Direction;
use parser::{find_head_end, parse_head, probe_start, Parsed, SipHead, StartLine, MAX_HEAD};

/// Messages kept per flow until inspected and logged; more are counted and
/// dropped.
pub const MAX_PENDING: usize = 256;

/// One SIP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipTx {
    /// Transaction id within the flow.
    pub tx_id: u64,
    /// Direction it travelled.
    pub dir: Direction,
    /// Start line and headers.
    pub head: SipHead,
    /// Body bytes (the rest of the datagram, or Content-Length on a stream).
    pub body_len: u64,
    /// Detection has looked at it (it may be freed).
    pub inspected: bool,
}

/// SIP anomalies, counted per flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SipEvent {
    /// A datagram (or stream bytes) that does not start a SIP message.
    InvalidData,
    /// A datagram whose head does not end (no empty line after the headers).
    IncompleteData,
    /// A header line without a name and colon.
    InvalidHeader,
    /// More than [`parser::MAX_HEADERS`] header fields in one message.
    TooManyHeaders,
    /// A message head longer than [`parser::MAX_HEAD`].
    HeadTooLarge,
    /// A Content-Length that is not a number, or two that disagree.
    InvalidContentLength,
    /// A request to the client or a response to the server.
    UnexpectedDirection,
    /// More than [`MAX_PENDING`] messages waiting.
    TooManyTransactions,
    /// Stream bytes lost (TCP gap); parsing resumes at the next message.
    Gap,
}

impl SipEvent {
    /// Every event, in counter order.
    pub const ALL: [SipEvent; 9] = [
        SipEvent::InvalidData,
        SipEvent::IncompleteData,
        SipEvent::InvalidHeader,
        SipEvent::TooManyHeaders,
        SipEvent::HeadTooLarge,
        SipEvent::InvalidContentLength,
        SipEvent::UnexpectedDirection,
        SipEvent::TooManyTransactions,
        SipEvent::Gap,
    ];

    /// Name as used in `app-layer-event:sip.<name>` rules (the first two are
    /// the reference IDS's).
    pub fn name(self) -> &'static str {
        match self {
            SipEvent::InvalidData => "invalid_data",
            SipEvent::IncompleteData => "incomplete_data",
            SipEvent::InvalidHeader => "invalid_header",
            SipEvent::TooManyHeaders => "too_many_headers",
            SipEvent::HeadTooLarge => "head_too_large",
            SipEvent::InvalidContentLength => "invalid_content_length",
            SipEvent::UnexpectedDirection => "unexpected_direction",
            SipEvent::TooManyTransactions => "too_many_transactions",
            SipEvent::Gap => "gap",
        }
    }
}

/// One direction of a SIP stream.
#[derive(Debug, Default)]
struct StreamDir {
    /// Bytes of a message head not complete yet.
    buf: Vec<u8>,
    /// How far `buf` was searched for the head's end.
    scanned: usize,
    /// Body bytes still to pass over.
    skip: u64,
    /// Bytes were lost or did not parse: wait for data that starts a message.
    lost: bool,
}

/// Per-flow SIP state.
#[derive(Debug, Default)]
pub struct SipState {
    txs: Vec<SipTx>,
    next_id: u64,
    counts: [u64; SipEvent::ALL.len()],
    streams: [StreamDir; 2],
}

/// Whether the first bytes one way are a SIP request (`to_server`) or
/// response; on a stream more bytes are wanted while the first line is
/// incomplete (a datagram is whole).
pub fn probe(first: &[u8], to_server: bool, stream: bool) -> Probe {
    match probe_start(first) {
        _ if first.is_empty() => Probe::NoMatch,
        None if stream => Probe::NeedMore,
        None => Probe::NoMatch,
        Some(false) => Probe::NoMatch,
        Some(true) => {
            let response = first.starts_with(b"SIP/");
            if response != to_server {
                Probe::Match
            } else {
                Probe::NoMatch
            }
        }
    }
}

/// Whether `b` holds only what keep-alives send (RFC 5626 4.4.1: CRLFs,
/// and in practice spaces or NULs).
fn is_keepalive(b: &[u8]) -> bool {
    b.iter()
        .all(|c| matches!(c, b'\r' | b'\n' | b' ' | b'\t' | 0))
}

fn slot(dir: Direction) -> usize {
    match dir {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

impl SipState {
    /// One UDP datagram in `dir`.
    pub fn parse_datagram(&mut self, data: &[u8], dir: Direction) {
        if is_keepalive(data) {
            return;
        }
        match parse_head(data) {
            Parsed::Head(head, n) => self.push(*head, (data.len() - n) as u64, dir),
            Parsed::Incomplete => self.raise(SipEvent::IncompleteData),
            Parsed::Invalid => self.raise(SipEvent::InvalidData),
            Parsed::TooLarge => self.raise(SipEvent::HeadTooLarge),
        }
    }

    /// In-order TCP stream bytes in `dir`.
    pub fn parse_stream(&mut self, mut data: &[u8], dir: Direction) {
        let i = slot(dir);
        while !data.is_empty() {
            let s = &mut self.streams[i];
            if s.skip > 0 {
                let n = s.skip.min(data.len() as u64);
                s.skip -= n;
                data = &data[n as usize..];
                continue;
            }
            if s.buf.is_empty() {
                // Keep-alive line ends between messages.
                let start = data
                    .iter()
                    .position(|c| !matches!(c, b'\r' | b'\n'))
                    .unwrap_or(data.len());
                data = &data[start..];
                if data.is_empty() {
                    break;
                }
                if s.lost {
                    // Resume only where a message plausibly starts.
                    if probe_start(data) == Some(false) {
                        return;
                    }
                    s.lost = false;
                }
            }
            // Take what is needed to end the head, at most a cap's worth.
            let room = (MAX_HEAD + 1).saturating_sub(s.buf.len());
            let take = data.len().min(room);
            s.buf.extend_from_slice(&data[..take]);
            let Some(end) = find_head_end(&s.buf, s.scanned) else {
                s.scanned = s.buf.len();
                if s.buf.len() > MAX_HEAD {
                    self.lose(i, SipEvent::HeadTooLarge);
                    return;
                }
                data = &data[take..];
                continue;
            };
            // Bytes past the head go back to `data` for the body and what follows.
            let extra = s.buf.len() - end;
            data = &data[take - extra..];
            s.buf.truncate(end);
            let parsed = parse_head(&s.buf);
            s.buf.clear();
            s.scanned = 0;
            match parsed {
                Parsed::Head(head, _) => {
                    let len = head.content_length.unwrap_or(0);
                    self.streams[i].skip = len;
                    self.push(*head, len, dir);
                }
                Parsed::TooLarge => {
                    self.lose(i, SipEvent::HeadTooLarge);
                    return;
                }
                Parsed::Invalid | Parsed::Incomplete => {
                    self.lose(i, SipEvent::InvalidData);
                    return;
                }
            }
        }
    }

    /// Stream bytes lost in `dir` (a TCP gap).
    pub fn gap(&mut self, dir: Direction) {
        let i = slot(dir);
        let s = &mut self.streams[i];
        if s.buf.is_empty() && s.skip == 0 && s.lost {
            return;
        }
        self.lose(i, SipEvent::Gap);
    }

    fn lose(&mut self, i: usize, ev: SipEvent) {
        let s = &mut self.streams[i];
        s.buf = Vec::new();
        s.scanned = 0;
        s.skip = 0;
        s.lost = true;
        self.raise(ev);
    }

    fn push(&mut self, head: SipHead, body_len: u64, dir: Direction) {
        for e in &head.events {
            self.raise(*e);
        }
        if head.is_request() != (dir == Direction::ToServer) {
            self.raise(SipEvent::UnexpectedDirection);
            return;
        }
        if self.txs.len() >= MAX_PENDING {
            self.raise(SipEvent::TooManyTransactions);
            return;
        }
        self.txs.push(SipTx {
            tx_id: self.next_id,
            dir,
            head,
            body_len,
            inspected: false,
        });
        self.next_id += 1;
    }

    fn raise(&mut self, ev: SipEvent) {
        if let Some(i) = SipEvent::ALL.iter().position(|e| *e == ev) {
            self.counts[i] += 1;
        }
    }

    /// How many times `ev` happened on this flow.
    pub fn count(&self, ev: SipEvent) -> u64 {
        SipEvent::ALL
            .iter()
            .position(|e| *e == ev)
            .map_or(0, |i| self.counts[i])
    }

    /// Messages not yet freed.
    pub fn transactions(&self) -> &[SipTx] {
        &self.txs
    }

    /// Messages not yet freed, for detection to mark what it inspected.
    pub fn transactions_mut(&mut self) -> &mut [SipTx] {
        &mut self.txs
    }

    /// Takes the messages done with: all of them when `all` (flow end) or
    /// nothing inspects them, else those detection has inspected.
    pub fn take_complete(&mut self, all: bool, inspected_only: bool) -> Vec<SipTx> {
        if all || !inspected_only {
            return std::mem::take(&mut self.txs);
        }
        let (done, keep) = std::mem::take(&mut self.txs)
            .into_iter()
            .partition(|t| t.inspected);
        self.txs = keep;
        done
    }
}

fn text(b: &[u8]) -> Value {
    Value::String(String::from_utf8_lossy(b).into_owned())
}

/// The EVE `sip` object of a message, with the reference IDS's fields.
pub fn eve_sip(tx: &SipTx) -> Value {
    let mut m = Map::new();
    match &tx.head.start {
        StartLine::Request {
            method,
            uri,
            version,
        } => {
            m.insert("method".into(), text(method));
            m.insert("uri".into(), text(uri));
            m.insert("version".into(), text(version));
            m.insert("request_line".into(), text(&tx.head.start_line));
        }
        StartLine::Response {
            version,
            code,
            reason,
        } => {
            m.insert("version".into(), text(version));
            m.insert("code".into(), text(code));
            m.insert("reason".into(), text(reason));
            m.insert("response_line".into(), text(&tx.head.start_line));
        }
    }
    json!(m)
}

#[cfg(test)]
mod test {
    use super::*;

    const REGISTER: &[u8] = b"REGISTER sip:192.168.43.100;transport=TCP SIP/2.0\r\n\
Via: SIP/2.0/TCP 192.168.43.1:48376;rport\r\n\
From: <sip:987654@192.168.43.100>;tag=9b99167f\r\n\
To: <sip:987654@192.168.43.100>\r\n\
Content-Length: 0\r\n\r\n";

    #[test]
    fn datagrams_are_transactions_in_their_direction() {
        let mut s = SipState::default();
        s.parse_datagram(REGISTER, Direction::ToServer);
        s.parse_datagram(b"     ", Direction::ToServer);
        s.parse_datagram(
            b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
            Direction::ToClient,
        );
        s.parse_datagram(b"SIP/2.0 200 OK\r\n\r\n", Direction::ToServer);
        s.parse_datagram(b"SIP/2.0 200 OK\r\nVia: x\r\n", Direction::ToClient);
        s.parse_datagram(b"\x80\x00garbage", Direction::ToServer);
        let txs = s.take_complete(false, false);
        assert_eq!(txs.len(), 2);
        assert_eq!(
            eve_sip(&txs[0]),
            json!({"method": "REGISTER", "uri": "sip:192.168.43.100;transport=TCP",
                   "version": "SIP/2.0",
                   "request_line": "REGISTER sip:192.168.43.100;transport=TCP SIP/2.0"})
        );
        assert_eq!(
            eve_sip(&txs[1]),
            json!({"version": "SIP/2.0", "code": "200", "reason": "OK",
                   "response_line": "SIP/2.0 200 OK"})
        );
        assert_eq!(txs[1].tx_id, 1);
        assert_eq!(s.count(SipEvent::UnexpectedDirection), 1);
        assert_eq!(s.count(SipEvent::IncompleteData), 1);
        assert_eq!(s.count(SipEvent::InvalidData), 1);
    }

    #[test]
    fn stream_frames_split_and_pipelined_messages() {
        let mut invite = b"INVITE sip:bob@b.example SIP/2.0\r\nl: 5\r\n\r\nhello".to_vec();
        invite.extend_from_slice(b"\r\n\r\n");
        invite.extend_from_slice(REGISTER);
        invite.extend_from_slice(b"OPTIONS sip:c SIP/2.0\r\nContent-Length: 3\r\n\r\nab");
        // byte by byte: the head end is found without rescanning from the start
        let mut s = SipState::default();
        for b in invite.chunks(1) {
            s.parse_stream(b, Direction::ToServer);
        }
        let txs = s.transactions();
        assert_eq!(txs.len(), 3);
        assert_eq!(txs[0].body_len, 5);
        assert_eq!(
            txs[1].head.start_line,
            b"REGISTER sip:192.168.43.100;transport=TCP SIP/2.0"
        );
        // the last body is one byte short: the next message starts after it
        s.parse_stream(b"cSIP/2.0 200 OK\r\n\r\n", Direction::ToServer);
        assert_eq!(s.transactions().len(), 3);
        assert_eq!(s.count(SipEvent::UnexpectedDirection), 1);
        // the same bytes in one piece
        let mut t = SipState::default();
        t.parse_stream(&invite, Direction::ToServer);
        assert_eq!(t.transactions().len(), 3);
    }

    #[test]
    fn stream_resumes_after_gap_and_garbage() {
        let mut s = SipState::default();
        s.parse_stream(b"REGISTER sip:x SIP/2.0\r\nVia: a", Direction::ToServer);
        s.gap(Direction::ToServer);
        s.parse_stream(b"tail of a lost message\r\n\r\n", Direction::ToServer);
        s.parse_stream(REGISTER, Direction::ToServer);
        assert_eq!(s.transactions().len(), 1);
        assert_eq!(s.count(SipEvent::Gap), 1);
        s.parse_stream(b"\x16\x03\x01\x00garbage\r\n\r\n", Direction::ToServer);
        assert_eq!(s.count(SipEvent::InvalidData), 1);
        s.parse_stream(REGISTER, Direction::ToServer);
        assert_eq!(s.transactions().len(), 2);
    }

    #[test]
    fn caps_hold_on_hostile_streams() {
        let mut s = SipState::default();
        s.parse_stream(b"REGISTER sip:x SIP/2.0\r\nX: ", Direction::ToServer);
        let chunk = vec![b'a'; 4096];
        for _ in 0..40 {
            s.parse_stream(&chunk, Direction::ToServer);
        }
        assert_eq!(s.count(SipEvent::HeadTooLarge), 1);
        assert!(s.streams[0].buf.capacity() <= 2 * MAX_HEAD + 8192);
        // a huge Content-Length is skipped, not kept
        let mut s = SipState::default();
        s.parse_stream(
            b"MESSAGE sip:x SIP/2.0\r\nContent-Length: 99999999999\r\n\r\n",
            Direction::ToServer,
        );
        s.parse_stream(&chunk, Direction::ToServer);
        assert_eq!(s.transactions().len(), 1);
        assert!(s.streams[0].buf.is_empty());
        // transactions per flow
        let mut s = SipState::default();
        for _ in 0..MAX_PENDING + 3 {
            s.parse_datagram(REGISTER, Direction::ToServer);
        }
        assert_eq!(s.transactions().len(), MAX_PENDING);
        assert_eq!(s.count(SipEvent::TooManyTransactions), 3);
    }

    #[test]
    fn inspected_messages_are_freed_first() {
        let mut s = SipState::default();
        s.parse_datagram(REGISTER, Direction::ToServer);
        s.parse_datagram(REGISTER, Direction::ToServer);
        s.transactions_mut()[0].inspected = true;
        assert_eq!(s.take_complete(false, true).len(), 1);
        assert_eq!(s.transactions().len(), 1);
        assert_eq!(s.take_complete(true, true).len(), 1);
    }

    #[test]
    fn probes() {
        assert_eq!(probe(REGISTER, true, false), Probe::Match);
        assert_eq!(probe(REGISTER, false, true), Probe::NoMatch);
        assert_eq!(probe(b"SIP/2.0 100 Trying\r\n", false, false), Probe::Match);
        assert_eq!(probe(b"REGISTER sip:x", true, true), Probe::NeedMore);
        assert_eq!(probe(b"REGISTER sip:x", true, false), Probe::NoMatch);
        assert_eq!(probe(b"GET / HTTP/1.1\r\n", true, true), Probe::NoMatch);
        assert_eq!(probe(b"", true, true), Probe::NoMatch);
    }
}
