//! TLS detection buffers.

use super::state::TlsState;
use crate::app::Direction;

/// Buffer names TLS flows provide.
pub const BUFFER_NAMES: &[&str] = &[
    "tls.sni",
    "tls.cert_subject",
    "tls.cert_issuer",
    "tls.cert_serial",
    "tls.cert_fingerprint",
    "ja3.hash",
    "ja3.string",
    "ja3s.hash",
    "ja3s.string",
    "ja4.hash",
];

impl TlsState {
    /// Calls `f(name, bytes)` for each detection buffer available in `dir`.
    pub fn for_each_buffer<'a>(
        &'a self,
        dir: Direction,
        mut f: impl FnMut(&'static str, &'a [u8]),
    ) {
        match dir {
            Direction::ToServer => {
                if let Some(sni) = self.client_hello.as_ref().and_then(|c| c.sni.as_deref()) {
                    f("tls.sni", sni);
                }
                if let Some(j) = &self.ja3 {
                    f("ja3.hash", j.hash.as_bytes());
                    f("ja3.string", j.string.as_bytes());
                }
                if let Some(j) = &self.ja4 {
                    f("ja4.hash", j.as_bytes());
                }
            }
            Direction::ToClient => {
                if let Some(c) = self.leaf() {
                    f("tls.cert_subject", c.subject.as_bytes());
                    f("tls.cert_issuer", c.issuer.as_bytes());
                    f("tls.cert_serial", c.serial.as_bytes());
                    f("tls.cert_fingerprint", c.fingerprint.as_bytes());
                }
                if let Some(j) = &self.ja3s {
                    f("ja3s.hash", j.hash.as_bytes());
                    f("ja3s.string", j.string.as_bytes());
                }
            }
        }
    }

    /// The (buffer name, bytes) pairs available in direction `dir`.
    pub fn buffers(&self, dir: Direction) -> Vec<(&'static str, &[u8])> {
        let mut v = Vec::new();
        self.for_each_buffer(dir, |n, b| v.push((n, b)));
        v
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::app::tls::ClientHello;

    #[test]
    fn sni_buffer_only_to_server() {
        let mut s = TlsState::new();
        assert!(s.buffers(Direction::ToServer).is_empty());
        s.client_hello = Some(ClientHello {
            sni: Some(b"vigie.example".to_vec()),
            ..ClientHello::default()
        });
        assert_eq!(
            s.buffers(Direction::ToServer),
            vec![("tls.sni", &b"vigie.example"[..])]
        );
        assert!(s.buffers(Direction::ToClient).is_empty());
        for (n, _) in s.buffers(Direction::ToServer) {
            assert!(BUFFER_NAMES.contains(&n));
        }
    }
}
