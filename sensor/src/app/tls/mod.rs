//! TLS: record layer, handshake messages, certificates, JA3/JA3S/JA4.

pub mod cert;
pub mod detect;
pub mod eve;
pub mod fingerprint;
pub mod parser;
pub mod state;

pub use cert::{parse_certificate, Certificate};
pub use parser::{ClientHello, ServerHello};
pub use state::{TlsEvent, TlsState};

use super::detect::Probe;

/// Looks at the first bytes of one direction: a TLS handshake record
/// (ClientHello or ServerHello) or an SSLv2-framed ClientHello.
pub fn probe(data: &[u8]) -> Probe {
    if data.is_empty() {
        return Probe::NoMatch;
    }
    if data[0] == 0x16 {
        if data.len() < 6 {
            // Record header prefix: 0x16 0x03 0x0X ...
            return match data.get(1) {
                None | Some(0x03) => Probe::NeedMore,
                _ => Probe::NoMatch,
            };
        }
        let major = data[1];
        let minor = data[2];
        let len = u16::from_be_bytes([data[3], data[4]]);
        let hs = data[5];
        if major == 3 && minor <= 4 && len > 0 && len <= 16_384 + 2048 && (hs == 1 || hs == 2) {
            return Probe::Match;
        }
        return Probe::NoMatch;
    }
    // SSLv2 record header (2-byte length, high bit set) carrying a ClientHello.
    if data[0] & 0x80 != 0 {
        if data.len() < 5 {
            return Probe::NeedMore;
        }
        if data[2] == 1 && data[3] == 3 && data[4] <= 3 {
            return Probe::Match;
        }
    }
    Probe::NoMatch
}

/// Small cursor with checked reads: every length is checked before it is taken.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Some(a)
    }
    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    pub(crate) fn u24(&mut self) -> Option<usize> {
        self.take(3)
            .map(|b| (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2]))
    }
    /// A vector with a 1-byte length prefix.
    pub(crate) fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }
    /// A vector with a 2-byte length prefix.
    pub(crate) fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
    /// A vector with a 3-byte length prefix.
    pub(crate) fn vec24(&mut self) -> Option<&'a [u8]> {
        let n = self.u24()?;
        self.take(n)
    }
}

/// True for the RFC 8701 GREASE values (0x0a0a, 0x1a1a, ... 0xfafa).
pub fn is_grease(v: u16) -> bool {
    (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn grease_and_probe() {
        assert!(is_grease(0x0a0a) && is_grease(0xfafa) && !is_grease(0x0a1a) && !is_grease(0x1301));
        assert_eq!(probe(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]), Probe::Match);
        assert_eq!(probe(&[0x16]), Probe::NeedMore);
        assert_eq!(probe(b"GET / HTTP/1.1"), Probe::NoMatch);
        // SSLv2-framed ClientHello offering up to TLS 1.0.
        assert_eq!(probe(&[0x80, 0x2e, 0x01, 0x03, 0x01]), Probe::Match);
    }

    #[test]
    fn reader_never_reads_past_end() {
        let mut r = Reader::new(&[0x00, 0x05, 1, 2]);
        assert_eq!(r.vec16(), None);
        let mut r = Reader::new(&[0x02, 1, 2, 3]);
        assert_eq!(r.vec8(), Some(&[1u8, 2][..]));
        assert_eq!(r.u16(), None);
        assert_eq!(r.u8(), Some(3));
        assert!(r.is_empty());
    }
}
