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
    "tls.subjectaltname",
    "tls.random",
    "tls.random_time",
    "tls.random_bytes",
    "tls_cert_notbefore",
    "tls_cert_notafter",
];

/// Calls `f` with the hello random and its two parts, as `tls.random`,
/// `tls.random_time` (first 4 bytes) and `tls.random_bytes` (last 28).
fn random_buffers(random: &[u8; 32], f: &mut impl FnMut(&'static str, &[u8])) {
    f("tls.random", random);
    let (time, bytes) = random.split_at(4);
    f("tls.random_time", time);
    f("tls.random_bytes", bytes);
}

impl TlsState {
    /// Calls `f(name, bytes)` for each detection buffer available in `dir`;
    /// `tls.subjectaltname` has one instance per DNS name of the leaf.
    pub fn for_each_buffer(&self, dir: Direction, mut f: impl FnMut(&'static str, &[u8])) {
        match dir {
            Direction::ToServer => {
                if let Some(ch) = &self.client_hello {
                    if let Some(sni) = ch.sni.as_deref() {
                        f("tls.sni", sni);
                    }
                    random_buffers(&ch.random, &mut f);
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
                    for name in &c.san_dns {
                        f("tls.subjectaltname", name.as_bytes());
                    }
                    // Dates before the epoch have no value for the date keywords.
                    if let Ok(t) = u64::try_from(c.not_before) {
                        f("tls_cert_notbefore", &t.to_be_bytes());
                    }
                    if let Ok(t) = u64::try_from(c.not_after) {
                        f("tls_cert_notafter", &t.to_be_bytes());
                    }
                }
                if let Some(sh) = &self.server_hello {
                    random_buffers(&sh.random, &mut f);
                }
                if let Some(j) = &self.ja3s {
                    f("ja3s.hash", j.hash.as_bytes());
                    f("ja3s.string", j.string.as_bytes());
                }
            }
        }
    }

    /// The (buffer name, bytes) pairs available in direction `dir`.
    pub fn buffers(&self, dir: Direction) -> Vec<(&'static str, Vec<u8>)> {
        let mut v = Vec::new();
        self.for_each_buffer(dir, |n, b| v.push((n, b.to_vec())));
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
        let mut random = [0u8; 32];
        random[0] = 0x94;
        random[31] = 0xbc;
        s.client_hello.as_mut().unwrap().random = random;
        let b = s.buffers(Direction::ToServer);
        assert_eq!(b[0], ("tls.sni", b"vigie.example".to_vec()));
        assert_eq!(b[1], ("tls.random", random.to_vec()));
        assert_eq!(b[2], ("tls.random_time", vec![0x94, 0, 0, 0]));
        assert_eq!(b[3].1.len(), 28);
        assert_eq!(b[3].1[27], 0xbc);
        assert!(s.buffers(Direction::ToClient).is_empty());
        for (n, _) in s.buffers(Direction::ToServer) {
            assert!(BUFFER_NAMES.contains(&n));
        }
    }
}
