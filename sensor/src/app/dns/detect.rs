//! DNS detection buffers.

use super::state::DnsTransaction;
use crate::app::Direction;

/// Buffer names DNS transactions provide.
pub const BUFFER_NAMES: &[&str] = &["dns.query"];

impl DnsTransaction {
    /// Calls `f(name, bytes)` for each detection buffer of this transaction in
    /// direction `dir`; `dns.query` is a multi-buffer (one per question).
    pub fn for_each_buffer<'a>(
        &'a self,
        dir: Direction,
        mut f: impl FnMut(&'static str, &'a [u8]),
    ) {
        let msg = match dir {
            Direction::ToServer => self.request.as_ref(),
            Direction::ToClient => self.response.as_ref(),
        };
        if let Some(m) = msg {
            for q in &m.queries {
                f("dns.query", &q.name);
            }
        }
    }

    /// The (buffer name, bytes) pairs of this transaction in direction `dir`.
    pub fn buffers(&self, dir: Direction) -> Vec<(&'static str, &[u8])> {
        let mut v = Vec::new();
        self.for_each_buffer(dir, |n, b| v.push((n, b)));
        v
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::app::dns::DnsState;

    #[test]
    fn query_buffer_has_no_trailing_dot() {
        let q = [
            0x00, 0x07, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, b'v',
            b'i', b'g', b'e', 0x03, b'o', b'r', b'g', 0x00, 0x00, 0x1c, 0x00, 0x01,
        ];
        let mut s = DnsState::new();
        s.parse_udp(&q, Direction::ToServer);
        let tx = &s.transactions()[0];
        assert_eq!(
            tx.buffers(Direction::ToServer),
            vec![("dns.query", &b"vige.org"[..])]
        );
        assert!(tx.buffers(Direction::ToClient).is_empty());
    }
}
