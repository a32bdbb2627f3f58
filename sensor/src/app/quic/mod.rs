//! QUIC Initial packets: decrypts the client's Initial packets (keys come
//! from the connection id, RFC 9001 section 5) and reads the TLS ClientHello
//! they carry, for SNI, ALPN and JA4 (`q` prefix). Nothing after the
//! Initial packets can be read by a passive sensor.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes128Gcm, Nonce};
use hkdf::Hkdf;
use serde_json::{json, Map, Value};
use sha2::Sha256;

use super::tls::fingerprint::{ja3, ja4, Ja3, Ja4Transport};
use super::tls::parser::{parse_client_hello, ClientHello};
use super::Direction;

/// Bytes of CRYPTO stream kept per flow while waiting for the ClientHello.
pub const MAX_CRYPTO_BYTES: usize = 64 * 1024;
/// Initial packets of a flow that are decrypted at most.
pub const MAX_INITIAL_PACKETS: usize = 16;

/// QUIC anomalies, counted per flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuicEvent {
    /// A long header that is cut or inconsistent.
    MalformedHeader,
    /// An Initial packet that failed to decrypt (wrong keys or corrupt).
    DecryptFailed,
    /// A frame that could not be parsed inside a decrypted Initial.
    MalformedFrame,
    /// CRYPTO data beyond the kept size, or too many Initial packets.
    TooMuchCryptoData,
    /// The CRYPTO stream did not hold a valid ClientHello.
    InvalidClientHello,
}

impl QuicEvent {
    /// Every event, in declaration order (index = counter slot).
    pub const ALL: [QuicEvent; 5] = [
        QuicEvent::MalformedHeader,
        QuicEvent::DecryptFailed,
        QuicEvent::MalformedFrame,
        QuicEvent::TooMuchCryptoData,
        QuicEvent::InvalidClientHello,
    ];

    /// Name as used in `app-layer-event:quic.<name>` rules.
    pub fn name(self) -> &'static str {
        match self {
            QuicEvent::MalformedHeader => "malformed_header",
            QuicEvent::DecryptFailed => "decrypt_failed",
            QuicEvent::MalformedFrame => "malformed_frame",
            QuicEvent::TooMuchCryptoData => "too_much_crypto_data",
            QuicEvent::InvalidClientHello => "invalid_client_hello",
        }
    }
}

/// Per-version constants of the Initial packet protection.
struct VersionKeys {
    salt: [u8; 20],
    key_label: &'static [u8],
    iv_label: &'static [u8],
    hp_label: &'static [u8],
    /// Long-header packet type value of Initial packets.
    initial_type: u8,
}

fn version_keys(version: u32) -> Option<VersionKeys> {
    let v1 = |salt: [u8; 20]| VersionKeys {
        salt,
        key_label: b"quic key",
        iv_label: b"quic iv",
        hp_label: b"quic hp",
        initial_type: 0,
    };
    match version {
        0x0000_0001 => Some(v1([
            0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8,
            0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
        ])),
        // draft-29 .. draft-32
        0xff00_001d..=0xff00_0020 => Some(v1([
            0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61,
            0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99,
        ])),
        0x6b33_43cf => Some(VersionKeys {
            salt: [
                0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26,
                0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9,
            ],
            key_label: b"quicv2 key",
            iv_label: b"quicv2 iv",
            hp_label: b"quicv2 hp",
            initial_type: 1,
        }),
        _ => None,
    }
}

/// HKDF-Expand-Label of TLS 1.3 with an empty context.
fn expand_label(secret: &[u8], label: &[u8], out: &mut [u8]) -> Option<()> {
    let hk = Hkdf::<Sha256>::from_prk(secret).ok()?;
    let mut info = Vec::with_capacity(4 + 6 + label.len());
    info.extend_from_slice(&(out.len() as u16).to_be_bytes());
    info.push((6 + label.len()) as u8);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label);
    info.push(0);
    hk.expand(&info, out).ok()
}

/// Client Initial packet protection keys: (key, iv, header protection key).
pub fn client_initial_keys(version: u32, dcid: &[u8]) -> Option<([u8; 16], [u8; 12], [u8; 16])> {
    let vk = version_keys(version)?;
    let (initial, _) = Hkdf::<Sha256>::extract(Some(&vk.salt), dcid);
    let mut client = [0u8; 32];
    expand_label(&initial, b"client in", &mut client)?;
    let (mut key, mut iv, mut hp) = ([0u8; 16], [0u8; 12], [0u8; 16]);
    expand_label(&client, vk.key_label, &mut key)?;
    expand_label(&client, vk.iv_label, &mut iv)?;
    expand_label(&client, vk.hp_label, &mut hp)?;
    Some((key, iv, hp))
}

/// Looks at the first client datagram: a long-header Initial packet of a
/// known QUIC version.
pub fn probe(datagram: &[u8]) -> super::detect::Probe {
    use super::detect::Probe;
    let Some(&first) = datagram.first() else {
        return Probe::NoMatch;
    };
    if first & 0xc0 != 0xc0 || datagram.len() < 7 {
        return Probe::NoMatch;
    }
    let version = u32::from_be_bytes([datagram[1], datagram[2], datagram[3], datagram[4]]);
    match version_keys(version) {
        Some(vk) if (first >> 4) & 0x03 == vk.initial_type && usize::from(datagram[5]) <= 20 => {
            Probe::Match
        }
        _ => Probe::NoMatch,
    }
}

/// A QUIC variable-length integer at `*pos`.
fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let first = *b.get(*pos)?;
    let len = 1usize << (first >> 6);
    let bytes = b.get(*pos..*pos + len)?;
    let mut v = u64::from(first & 0x3f);
    for &x in &bytes[1..] {
        v = (v << 8) | u64::from(x);
    }
    *pos += len;
    Some(v)
}

/// Per-flow QUIC state: the client's Initial CRYPTO stream and what it holds.
#[derive(Debug, Default)]
pub struct QuicState {
    /// QUIC version of the first client Initial.
    pub version: Option<u32>,
    /// QUIC version of the server's first long-header packet (not a
    /// version negotiation).
    pub server_version: Option<u32>,
    /// CRYPTO frames received: (offset, data).
    crypto: Vec<(u64, Vec<u8>)>,
    crypto_bytes: usize,
    packets: usize,
    /// The ClientHello, once complete.
    pub client_hello: Option<ClientHello>,
    /// JA3 of the ClientHello.
    pub ja3: Option<Ja3>,
    /// JA4 (`q` transport) of the ClientHello.
    pub ja4: Option<String>,
    counts: [u64; QuicEvent::ALL.len()],
    done: bool,
}

impl QuicState {
    /// New, empty state.
    pub fn new() -> QuicState {
        QuicState::default()
    }

    /// How many times `ev` was raised on this flow.
    pub fn event_count(&self, ev: QuicEvent) -> u64 {
        self.counts[ev as usize]
    }

    fn raise(&mut self, ev: QuicEvent) {
        self.counts[ev as usize] += 1;
    }

    /// Parses one UDP datagram travelling in `dir` (only client Initial
    /// packets are decrypted).
    pub fn parse(&mut self, datagram: &[u8], dir: Direction) {
        if dir == Direction::ToClient {
            if let (None, Some(&[first, a, b, c, d])) = (self.server_version, datagram.get(..5)) {
                let v = u32::from_be_bytes([a, b, c, d]);
                if first & 0x80 != 0 && v != 0 {
                    self.server_version = Some(v);
                }
            }
            return;
        }
        if self.done {
            return;
        }
        let mut rest = datagram;
        // Coalesced packets: each long header carries its own length.
        while let Some(&first) = rest.first() {
            if first & 0x80 == 0 {
                return; // short header: 1-RTT, unreadable
            }
            match self.initial_packet(rest) {
                Some(used) if used > 0 && used <= rest.len() => rest = &rest[used..],
                _ => return,
            }
            if self.done {
                return;
            }
        }
    }

    /// Handles one long-header packet; returns its length in the datagram.
    fn initial_packet(&mut self, pkt: &[u8]) -> Option<usize> {
        let bad = |s: &mut QuicState| {
            s.raise(QuicEvent::MalformedHeader);
            None
        };
        if pkt.len() < 7 {
            return bad(self);
        }
        let version = u32::from_be_bytes([pkt[1], pkt[2], pkt[3], pkt[4]]);
        let mut pos = 5;
        let dcid_len = usize::from(pkt[pos]);
        pos += 1;
        let Some(dcid) = pkt.get(pos..pos + dcid_len) else {
            return bad(self);
        };
        pos += dcid_len;
        let Some(&scid_len) = pkt.get(pos) else {
            return bad(self);
        };
        pos += 1 + usize::from(scid_len);
        let vk = version_keys(version)?;
        let ptype = (pkt[0] >> 4) & 0x03;
        if ptype != vk.initial_type {
            // 0-RTT / Handshake / Retry: skip using its length when present.
            if ptype == 3 {
                return None;
            }
            let Some(len) = varint(pkt, &mut pos) else {
                return bad(self);
            };
            return Some(pos.saturating_add(len as usize));
        }
        let Some(token_len) = varint(pkt, &mut pos) else {
            return bad(self);
        };
        pos = pos.saturating_add(token_len as usize);
        let Some(len) = varint(pkt, &mut pos) else {
            return bad(self);
        };
        let pn_offset = pos;
        let end = pn_offset.saturating_add(len as usize);
        if end > pkt.len() || len < 20 {
            return bad(self);
        }
        self.packets += 1;
        if self.packets > MAX_INITIAL_PACKETS {
            self.raise(QuicEvent::TooMuchCryptoData);
            self.done = true;
            return None;
        }
        self.version.get_or_insert(version);
        let (key, iv, hp) = client_initial_keys(version, dcid)?;
        // Header protection: the mask comes from a 16-byte sample 4 bytes in.
        let sample = pkt.get(pn_offset + 4..pn_offset + 20)?;
        let mut block = aes::Block::clone_from_slice(sample);
        Aes128::new(&hp.into()).encrypt_block(&mut block);
        let first = pkt[0] ^ (block[0] & 0x0f);
        let pn_len = usize::from(first & 0x03) + 1;
        let mut header = pkt[..pn_offset + pn_len].to_vec();
        header[0] = first;
        let mut pn: u64 = 0;
        for i in 0..pn_len {
            header[pn_offset + i] ^= block[1 + i];
            pn = (pn << 8) | u64::from(header[pn_offset + i]);
        }
        let mut nonce = iv;
        for (i, b) in pn.to_be_bytes().iter().enumerate() {
            nonce[4 + i] ^= b;
        }
        let cipher = Aes128Gcm::new(&key.into());
        let payload = Payload {
            msg: &pkt[pn_offset + pn_len..end],
            aad: &header,
        };
        match cipher.decrypt(Nonce::from_slice(&nonce), payload) {
            Ok(plain) => self.frames(&plain),
            Err(_) => self.raise(QuicEvent::DecryptFailed),
        }
        Some(end)
    }

    fn frames(&mut self, p: &[u8]) {
        let mut pos = 0;
        while pos < p.len() {
            let Some(t) = varint(p, &mut pos) else { break };
            let ok = match t {
                0x00 | 0x01 => Some(()),
                0x02 | 0x03 => (|| {
                    varint(p, &mut pos)?;
                    varint(p, &mut pos)?;
                    let ranges = varint(p, &mut pos)?;
                    varint(p, &mut pos)?;
                    for _ in 0..ranges.min(1024) {
                        varint(p, &mut pos)?;
                        varint(p, &mut pos)?;
                    }
                    if t == 0x03 {
                        for _ in 0..3 {
                            varint(p, &mut pos)?;
                        }
                    }
                    Some(())
                })(),
                0x06 => (|| {
                    let off = varint(p, &mut pos)?;
                    let len = varint(p, &mut pos)? as usize;
                    let data = p.get(pos..pos.checked_add(len)?)?;
                    pos += len;
                    if self.crypto_bytes + len > MAX_CRYPTO_BYTES {
                        self.raise(QuicEvent::TooMuchCryptoData);
                        self.done = true;
                        return Some(());
                    }
                    self.crypto_bytes += len;
                    self.crypto.push((off, data.to_vec()));
                    Some(())
                })(),
                0x1c => (|| {
                    varint(p, &mut pos)?;
                    varint(p, &mut pos)?;
                    let l = varint(p, &mut pos)? as usize;
                    pos = pos.checked_add(l)?;
                    Some(())
                })(),
                _ => None,
            };
            if ok.is_none() {
                self.raise(QuicEvent::MalformedFrame);
                break;
            }
        }
        self.try_client_hello();
    }

    fn try_client_hello(&mut self) {
        if self.done || self.crypto.is_empty() {
            return;
        }
        self.crypto.sort_by_key(|(o, _)| *o);
        let mut stream: Vec<u8> = Vec::new();
        for (off, data) in &self.crypto {
            let off = *off as usize;
            if off > stream.len() {
                break;
            }
            if off + data.len() > stream.len() {
                stream.extend_from_slice(&data[stream.len() - off..]);
            }
        }
        if stream.len() < 4 {
            return;
        }
        let len =
            (usize::from(stream[1]) << 16) | (usize::from(stream[2]) << 8) | usize::from(stream[3]);
        if stream.len() < 4 + len {
            return;
        }
        self.done = true;
        if stream[0] != 1 {
            self.raise(QuicEvent::InvalidClientHello);
            return;
        }
        match parse_client_hello(&stream[4..4 + len]) {
            Ok(ch) => {
                self.ja3 = Some(ja3(&ch));
                self.ja4 = Some(ja4(&ch, Ja4Transport::Quic).0);
                self.client_hello = Some(ch);
            }
            Err(_) => self.raise(QuicEvent::InvalidClientHello),
        }
        self.crypto.clear();
    }

    /// Server name from the ClientHello.
    pub fn sni(&self) -> Option<&[u8]> {
        self.client_hello.as_ref().and_then(|c| c.sni.as_deref())
    }

    /// Calls `f(name, bytes)` for each detection buffer in `dir`:
    /// `quic.version` (4 bytes as on the wire) both ways; `quic.sni`,
    /// `ja4.hash`, `ja3.hash`, `ja3.string` to the server.
    pub fn for_each_buffer(&self, dir: Direction, mut f: impl FnMut(&'static str, &[u8])) {
        let version = match dir {
            Direction::ToServer => self.version,
            Direction::ToClient => self.server_version,
        };
        if let Some(v) = version {
            f("quic.version", &v.to_be_bytes());
        }
        if dir == Direction::ToServer {
            if let Some(s) = self.sni() {
                f("quic.sni", s);
            }
            if let Some(j) = &self.ja4 {
                f("ja4.hash", j.as_bytes());
            }
            if let Some(j) = &self.ja3 {
                f("ja3.hash", j.hash.as_bytes());
                f("ja3.string", j.string.as_bytes());
            }
        }
    }

    /// The (name, bytes) pairs of [`QuicState::for_each_buffer`].
    pub fn buffers(&self, dir: Direction) -> Vec<(&'static str, Vec<u8>)> {
        let mut v = Vec::new();
        self.for_each_buffer(dir, |n, b| v.push((n, b.to_vec())));
        v
    }

    /// The EVE `quic` object: version, sni, ja3, ja4.
    pub fn eve(&self) -> Value {
        let mut o = Map::new();
        if let Some(v) = self.version {
            let s = match v {
                1 => "1".to_string(),
                0x6b33_43cf => "2".to_string(),
                0xff00_0000..=0xff00_00ff => format!("draft-{}", v & 0xff),
                _ => format!("{v:08x}"),
            };
            o.insert("version".into(), json!(s));
        }
        if let Some(s) = self.sni() {
            o.insert("sni".into(), json!(String::from_utf8_lossy(s)));
        }
        if let Some(j) = &self.ja3 {
            o.insert("ja3".into(), json!({"hash": j.hash, "string": j.string}));
        }
        if let Some(j) = &self.ja4 {
            o.insert("ja4".into(), json!(j));
        }
        Value::Object(o)
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::app::hex_lower;

    #[test]
    fn rfc9001_initial_keys() {
        // RFC 9001 appendix A.1: client keys for DCID 0x8394c8f03e515708.
        let dcid = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
        let (key, iv, hp) = client_initial_keys(1, &dcid).unwrap();
        assert_eq!(hex_lower(&key), "1f369613dd76d5467730efcbe3b1a22d");
        assert_eq!(hex_lower(&iv), "fa044b2f42a3fd3b46fb255c");
        assert_eq!(hex_lower(&hp), "9f50449e04a0e810283a1e9933adedd2");
    }

    #[test]
    fn varints_and_garbage() {
        // RFC 9000 section 16 examples.
        let mut p = 0;
        assert_eq!(
            varint(&[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c], &mut p),
            Some(151_288_809_941_952_652)
        );
        let mut p = 0;
        assert_eq!(varint(&[0x7b, 0xbd], &mut p), Some(15_293));
        let mut p = 0;
        assert_eq!(varint(&[0x40], &mut p), None);
        let mut s = QuicState::new();
        s.parse(&[0xc0, 0, 0, 0, 1, 8, 1, 2, 3], Direction::ToServer);
        s.parse(
            &[0xc0, 0, 0, 0, 1, 0, 0, 0, 0x41, 0x00],
            Direction::ToServer,
        );
        assert!(s.event_count(QuicEvent::MalformedHeader) >= 1);
        assert!(s.client_hello.is_none());
    }
}
