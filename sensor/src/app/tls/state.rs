//! Per-flow TLS state: record layer per direction, handshake reassembly,
//! hellos, certificate chain and fingerprints.

use super::cert::{parse_certificate, Certificate};
use super::fingerprint::{ja3, ja3s, ja4, Ja3, Ja4Transport};
use super::parser::{
    parse_client_hello, parse_server_hello, split_certificates, ClientHello, ServerHello,
};
use crate::app::Direction;

/// Largest record payload accepted (2^14 plus the allowed expansion).
pub const MAX_RECORD_LEN: usize = 16_384 + 2_048;
/// Largest handshake message reassembled (certificate chains are the big ones).
pub const MAX_HANDSHAKE_LEN: usize = 256 * 1024;
/// Certificates of a chain that are parsed; the rest are counted.
pub const MAX_CHAIN_LEN: usize = 16;

/// TLS protocol anomalies, counted per flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsEvent {
    /// A record type outside 20-24.
    InvalidRecordType,
    /// A record version that is not 3.x.
    InvalidRecordVersion,
    /// A record longer than [`MAX_RECORD_LEN`].
    InvalidRecordLength,
    /// A handshake message that could not be parsed.
    InvalidHandshakeMessage,
    /// A handshake message longer than [`MAX_HANDSHAKE_LEN`].
    HandshakeTooLarge,
    /// A certificate that could not be parsed.
    InvalidCertificate,
    /// A chain longer than [`MAX_CHAIN_LEN`].
    CertificateChainTooLong,
    /// A hello extension that could not be parsed.
    MalformedExtension,
    /// A second ClientHello on the same flow (kept: the first).
    MultipleClientHello,
    /// An SSLv2-framed ClientHello: skipped, not fingerprinted.
    Sslv2Record,
    /// A stream gap outside application data: the direction stopped.
    Gap,
}

impl TlsEvent {
    /// Every event, in declaration order (index = counter slot).
    pub const ALL: [TlsEvent; 11] = [
        TlsEvent::InvalidRecordType,
        TlsEvent::InvalidRecordVersion,
        TlsEvent::InvalidRecordLength,
        TlsEvent::InvalidHandshakeMessage,
        TlsEvent::HandshakeTooLarge,
        TlsEvent::InvalidCertificate,
        TlsEvent::CertificateChainTooLong,
        TlsEvent::MalformedExtension,
        TlsEvent::MultipleClientHello,
        TlsEvent::Sslv2Record,
        TlsEvent::Gap,
    ];

    /// Name as used in `app-layer-event:tls.<name>` rules.
    pub fn name(self) -> &'static str {
        match self {
            TlsEvent::InvalidRecordType => "invalid_record_type",
            TlsEvent::InvalidRecordVersion => "invalid_record_version",
            TlsEvent::InvalidRecordLength => "invalid_record_length",
            TlsEvent::InvalidHandshakeMessage => "invalid_handshake_message",
            TlsEvent::HandshakeTooLarge => "handshake_too_large",
            TlsEvent::InvalidCertificate => "invalid_certificate",
            TlsEvent::CertificateChainTooLong => "certificate_chain_too_long",
            TlsEvent::MalformedExtension => "malformed_extension",
            TlsEvent::MultipleClientHello => "multiple_client_hello",
            TlsEvent::Sslv2Record => "sslv2_record",
            TlsEvent::Gap => "gap",
        }
    }

    /// Name in `app-layer-event` rules (the reference IDS's) for the events
    /// with the same meaning there.
    pub fn rule_name(self) -> Option<&'static str> {
        Some(match self {
            TlsEvent::InvalidRecordType => "tls.invalid_record_type",
            TlsEvent::InvalidRecordVersion => "tls.invalid_record_version",
            TlsEvent::InvalidHandshakeMessage => "tls.invalid_handshake_message",
            TlsEvent::InvalidCertificate => "tls.invalid_certificate",
            _ => return None,
        })
    }
}

#[derive(Debug, Default)]
struct DirState {
    header: [u8; 5],
    header_len: usize,
    record_type: u8,
    remaining: usize,
    handshake: Vec<u8>,
    /// After ChangeCipherSpec: handshake records are encrypted.
    encrypted: bool,
    /// Record framing lost: the rest of this direction is ignored.
    failed: bool,
    /// Saw an application data record.
    app_data: bool,
    bytes: u64,
}

/// Per-flow TLS parser state.
#[derive(Debug, Default)]
pub struct TlsState {
    dirs: [DirState; 2],
    /// First ClientHello.
    pub client_hello: Option<ClientHello>,
    /// ServerHello.
    pub server_hello: Option<ServerHello>,
    /// Server certificate chain, leaf first (parsed ones only).
    pub server_certs: Vec<Certificate>,
    /// DER bytes of the server leaf certificate.
    pub server_leaf_der: Option<Vec<u8>>,
    /// Number of certificates the server sent (including unparsed ones).
    pub server_chain_len: usize,
    /// JA3 of the ClientHello.
    pub ja3: Option<Ja3>,
    /// JA3S of the ServerHello.
    pub ja3s: Option<Ja3>,
    /// JA4 of the ClientHello.
    pub ja4: Option<String>,
    /// JA4 raw (sorted, unhashed) of the ClientHello.
    pub ja4_r: Option<String>,
    counts: [u64; TlsEvent::ALL.len()],
    events: Vec<TlsEvent>,
}

impl TlsState {
    /// New, empty state.
    pub fn new() -> TlsState {
        TlsState::default()
    }

    /// Feeds in-order stream bytes travelling in `dir`.
    pub fn parse(&mut self, mut data: &[u8], dir: Direction) {
        let d = match dir {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        };
        self.dirs[d].bytes += data.len() as u64;
        while !data.is_empty() && !self.dirs[d].failed {
            if self.dirs[d].remaining == 0 {
                let st = &mut self.dirs[d];
                let take = (5 - st.header_len).min(data.len());
                st.header[st.header_len..st.header_len + take].copy_from_slice(&data[..take]);
                st.header_len += take;
                data = &data[take..];
                if st.header_len < 5 {
                    return;
                }
                st.header_len = 0;
                let h = st.header;
                if h[0] & 0x80 != 0 && h[2] == 1 {
                    // SSLv2-framed ClientHello (2-byte header): skip it, the
                    // records that follow are v3 framed.
                    let len = (usize::from(h[0] & 0x7f) << 8) | usize::from(h[1]);
                    st.record_type = 0;
                    st.remaining = len.saturating_sub(3);
                    self.raise(TlsEvent::Sslv2Record);
                    continue;
                }
                if !(20..=24).contains(&h[0]) {
                    st.failed = true;
                    self.raise(TlsEvent::InvalidRecordType);
                    return;
                }
                if h[1] != 3 {
                    st.failed = true;
                    self.raise(TlsEvent::InvalidRecordVersion);
                    return;
                }
                let len = usize::from(u16::from_be_bytes([h[3], h[4]]));
                if len > MAX_RECORD_LEN {
                    st.failed = true;
                    self.raise(TlsEvent::InvalidRecordLength);
                    return;
                }
                st.record_type = h[0];
                st.remaining = len;
                if len == 0 {
                    continue;
                }
            }
            let st = &mut self.dirs[d];
            let take = st.remaining.min(data.len());
            let chunk = &data[..take];
            data = &data[take..];
            st.remaining -= take;
            match st.record_type {
                20 => st.encrypted = true,
                22 if !st.encrypted => {
                    if st.handshake.len() + chunk.len() > MAX_HANDSHAKE_LEN {
                        st.failed = true;
                        self.raise(TlsEvent::HandshakeTooLarge);
                        return;
                    }
                    st.handshake.extend_from_slice(chunk);
                    self.drain_handshakes(d, dir);
                }
                23 => st.app_data = true,
                _ => {}
            }
        }
    }

    /// `len` stream bytes in `dir` are missing (a reassembly gap). Inside an
    /// encrypted or application record the gap is skipped; anywhere else the
    /// record framing is lost and the direction stops.
    pub fn gap(&mut self, dir: Direction, len: u64) {
        let d = match dir {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        };
        let st = &mut self.dirs[d];
        if st.failed {
            return;
        }
        let skippable = st.header_len == 0
            && (st.remaining as u64) >= len
            && (st.record_type != 22 || st.encrypted);
        if skippable {
            st.remaining -= len as usize;
        } else {
            st.failed = true;
            self.raise(TlsEvent::Gap);
        }
    }

    fn drain_handshakes(&mut self, d: usize, dir: Direction) {
        let buf = std::mem::take(&mut self.dirs[d].handshake);
        let mut pos = 0;
        while let Some(h) = buf.get(pos..pos + 4) {
            let len = (usize::from(h[1]) << 16) | (usize::from(h[2]) << 8) | usize::from(h[3]);
            if len > MAX_HANDSHAKE_LEN {
                self.dirs[d].failed = true;
                self.raise(TlsEvent::HandshakeTooLarge);
                return;
            }
            let Some(body) = buf.get(pos + 4..pos + 4 + len) else {
                break;
            };
            self.handle_handshake(h[0], body, dir);
            pos += 4 + len;
        }
        let mut rest = buf;
        rest.drain(..pos);
        self.dirs[d].handshake = rest;
    }

    fn handle_handshake(&mut self, typ: u8, body: &[u8], dir: Direction) {
        match (typ, dir) {
            (1, Direction::ToServer) => {
                if self.client_hello.is_some() {
                    self.raise(TlsEvent::MultipleClientHello);
                    return;
                }
                match parse_client_hello(body) {
                    Ok(ch) => {
                        if ch.malformed_extension {
                            self.raise(TlsEvent::MalformedExtension);
                        }
                        self.ja3 = Some(ja3(&ch));
                        let (h, r) = ja4(&ch, Ja4Transport::Tcp);
                        self.ja4 = Some(h);
                        self.ja4_r = Some(r);
                        self.client_hello = Some(ch);
                    }
                    Err(_) => self.raise(TlsEvent::InvalidHandshakeMessage),
                }
            }
            (2, Direction::ToClient) => match parse_server_hello(body) {
                Ok(sh) => {
                    if sh.malformed_extension {
                        self.raise(TlsEvent::MalformedExtension);
                    }
                    // A HelloRetryRequest is followed by the real ServerHello.
                    self.ja3s = Some(ja3s(&sh));
                    let v = sh.negotiated_version();
                    if v == 0x0304 || v & 0xff00 == 0x7f00 {
                        // The rest of the server's handshake is encrypted.
                        self.dirs[1].encrypted = true;
                    }
                    self.server_hello = Some(sh);
                }
                Err(_) => self.raise(TlsEvent::InvalidHandshakeMessage),
            },
            (11, Direction::ToClient) => self.handle_certificates(body),
            _ => {}
        }
    }

    fn handle_certificates(&mut self, body: &[u8]) {
        if !self.server_certs.is_empty() || self.server_leaf_der.is_some() {
            return;
        }
        let (ders, more) = match split_certificates(body, MAX_CHAIN_LEN) {
            Ok(x) => x,
            Err(_) => {
                self.raise(TlsEvent::InvalidHandshakeMessage);
                return;
            }
        };
        if more {
            self.raise(TlsEvent::CertificateChainTooLong);
        }
        self.server_chain_len = ders.len();
        for (i, der) in ders.iter().enumerate() {
            if i == 0 {
                self.server_leaf_der = Some(der.to_vec());
            }
            match parse_certificate(der) {
                Ok(c) => self.server_certs.push(c),
                Err(_) => {
                    self.raise(TlsEvent::InvalidCertificate);
                    if i == 0 {
                        // Without a leaf, the chain's order means nothing.
                        return;
                    }
                }
            }
        }
    }

    fn raise(&mut self, ev: TlsEvent) {
        self.counts[ev as usize] += 1;
        if self.events.len() < 64 {
            self.events.push(ev);
        }
    }

    /// The server's leaf certificate, if one was seen and parsed.
    pub fn leaf(&self) -> Option<&Certificate> {
        if self.server_leaf_der.is_some() {
            self.server_certs.first()
        } else {
            None
        }
    }

    /// The negotiated (or, before the ServerHello, offered) version.
    pub fn version(&self) -> Option<u16> {
        match (&self.server_hello, &self.client_hello) {
            (Some(sh), _) => Some(sh.negotiated_version()),
            (None, Some(ch)) => Some(ch.version),
            _ => None,
        }
    }

    /// True once both sides have moved to encrypted traffic (or one side's
    /// framing failed): no more handshake fields will come.
    pub fn handshake_done(&self) -> bool {
        let side_done = |s: &DirState| s.encrypted || s.app_data || s.failed;
        side_done(&self.dirs[0]) && side_done(&self.dirs[1])
    }

    /// Events raised so far (the first 64), oldest first.
    pub fn events(&self) -> &[TlsEvent] {
        &self.events
    }

    /// Events raised since the last call (bounded), for alerting.
    pub fn take_events(&mut self) -> Vec<TlsEvent> {
        std::mem::take(&mut self.events)
    }

    /// How many times `ev` was raised on this flow.
    pub fn event_count(&self, ev: TlsEvent) -> u64 {
        self.counts[ev as usize]
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn record(typ: u8, body: &[u8]) -> Vec<u8> {
        let mut r = vec![typ, 3, 3];
        r.extend_from_slice(&(body.len() as u16).to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    fn client_hello_msg() -> Vec<u8> {
        let mut b = vec![0x03, 0x03];
        b.extend_from_slice(&[7; 32]);
        b.push(0);
        b.extend_from_slice(&[0, 4, 0xc0, 0x2f, 0x00, 0x9c, 1, 0]);
        b.extend_from_slice(&[0, 9, 0, 0, 0, 5, 0, 3, 0, 0, 0]);
        let mut m = vec![1, 0, 0, b.len() as u8];
        m.extend_from_slice(&b);
        m
    }

    #[test]
    fn handshake_split_over_records_and_bytes() {
        let m = client_hello_msg();
        let mut stream = record(22, &m[..10]);
        stream.extend_from_slice(&record(22, &m[10..]));
        let mut s = TlsState::new();
        for b in &stream {
            s.parse(std::slice::from_ref(b), Direction::ToServer);
        }
        let ch = s.client_hello.as_ref().unwrap();
        assert_eq!(ch.ciphers, vec![0xc02f, 0x009c]);
        assert_eq!(ch.sni.as_deref(), Some(&[][..]));
        assert_eq!(s.ja3.as_ref().unwrap().string, "771,49199-156,0,,");
        assert_eq!(s.event_count(TlsEvent::InvalidHandshakeMessage), 0);
    }

    #[test]
    fn two_handshakes_in_one_record() {
        let mut m = client_hello_msg();
        m.extend_from_slice(&client_hello_msg());
        let mut s = TlsState::new();
        s.parse(&record(22, &m), Direction::ToServer);
        assert!(s.client_hello.is_some());
        assert_eq!(s.event_count(TlsEvent::MultipleClientHello), 1);
    }

    #[test]
    fn gap_in_app_data_is_skipped() {
        let mut s = TlsState::new();
        let mut app = record(23, &[0xee; 100]);
        app.extend_from_slice(&record(22, &client_hello_msg()));
        s.parse(&app[..20], Direction::ToServer);
        s.gap(Direction::ToServer, 50);
        s.parse(&app[70..], Direction::ToServer);
        assert!(s.client_hello.is_some());
        assert_eq!(s.event_count(TlsEvent::Gap), 0);
        // A gap inside a handshake record stops the direction.
        let mut s = TlsState::new();
        let hs = record(22, &client_hello_msg());
        s.parse(&hs[..10], Direction::ToServer);
        s.gap(Direction::ToServer, 5);
        s.parse(&hs[15..], Direction::ToServer);
        assert!(s.client_hello.is_none());
        assert_eq!(s.event_count(TlsEvent::Gap), 1);
    }

    #[test]
    fn bad_framing_is_counted() {
        let mut s = TlsState::new();
        s.parse(b"GET / HTTP/1.1\r\n", Direction::ToServer);
        assert_eq!(s.event_count(TlsEvent::InvalidRecordType), 1);
        let mut s = TlsState::new();
        s.parse(&[22, 3, 1, 0xff, 0xff], Direction::ToServer);
        assert_eq!(s.event_count(TlsEvent::InvalidRecordLength), 1);
        // A huge handshake length is refused before buffering it.
        let mut s = TlsState::new();
        s.parse(&record(22, &[11, 0xff, 0xff, 0xff]), Direction::ToClient);
        assert_eq!(s.event_count(TlsEvent::HandshakeTooLarge), 1);
        assert!(!s.handshake_done());
    }
}
