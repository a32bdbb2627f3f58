//! TCP, UDP, ICMP and SCTP headers.

use super::counters::DecodeEvent;
use super::TcpInfo;

mod tcp_field {
    use std::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ: Range<usize> = 4..8;
    pub const ACK: Range<usize> = 8..12;
    pub const OFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: Range<usize> = 14..16;
    pub const MIN_LEN: usize = 20;
}

/// A zero-copy TCP header view.
#[derive(Debug, Clone)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wraps `buffer` after checking the fixed header and the data offset.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeEvent> {
        let b = buffer.as_ref();
        if b.len() < tcp_field::MIN_LEN {
            return Err(DecodeEvent::TcpPktTooSmall);
        }
        let hl = usize::from(b[tcp_field::OFF] >> 4) * 4;
        if hl < tcp_field::MIN_LEN || hl > b.len() {
            return Err(DecodeEvent::TcpHlenTooSmall);
        }
        Ok(TcpPacket { buffer })
    }
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    fn u16_at(&self, r: std::ops::Range<usize>) -> u16 {
        let b = &self.b()[r];
        u16::from_be_bytes([b[0], b[1]])
    }
    fn u32_at(&self, r: std::ops::Range<usize>) -> u32 {
        let b = &self.b()[r];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }
    /// Source port.
    pub fn src_port(&self) -> u16 {
        self.u16_at(tcp_field::SRC_PORT)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        self.u16_at(tcp_field::DST_PORT)
    }
    /// Sequence number.
    pub fn seq(&self) -> u32 {
        self.u32_at(tcp_field::SEQ)
    }
    /// Acknowledgement number.
    pub fn ack(&self) -> u32 {
        self.u32_at(tcp_field::ACK)
    }
    /// Header length in bytes.
    pub fn header_len(&self) -> usize {
        usize::from(self.b()[tcp_field::OFF] >> 4) * 4
    }
    /// Flags byte (FIN=1 ... CWR=128).
    pub fn flags(&self) -> u8 {
        self.b()[tcp_field::FLAGS]
    }
    /// Window field.
    pub fn window(&self) -> u16 {
        self.u16_at(tcp_field::WINDOW)
    }
    /// Option bytes.
    pub fn options(&self) -> &[u8] {
        &self.b()[tcp_field::MIN_LEN..self.header_len()]
    }
}

/// Decodes a TCP header into [`TcpInfo`], parsing options; returns the header length.
pub fn decode_tcp(
    b: &[u8],
    raise: &mut impl FnMut(DecodeEvent),
) -> Result<(TcpInfo, usize), DecodeEvent> {
    let p = TcpPacket::new_checked(b)?;
    let hl = p.header_len();
    let mut info = TcpInfo {
        sport: p.src_port(),
        dport: p.dst_port(),
        seq: p.seq(),
        ack: p.ack(),
        flags: p.flags(),
        window: p.window(),
        hdr_len: hl as u8,
        ..TcpInfo::default()
    };
    let opts = p.options();
    let mut seen = 0u16;
    let mut i = 0;
    while i < opts.len() {
        let kind = opts[i];
        if kind == 0 {
            break;
        }
        if kind == 1 {
            i += 1;
            continue;
        }
        let Some(&len) = opts.get(i + 1) else {
            raise(DecodeEvent::TcpInvalidOptlen);
            break;
        };
        let len = usize::from(len);
        if len < 2 || i + len > opts.len() {
            raise(DecodeEvent::TcpInvalidOptlen);
            break;
        }
        let body = &opts[i + 2..i + len];
        if kind < 16 {
            let bit = 1u16 << kind;
            if seen & bit != 0 && kind != 5 {
                raise(DecodeEvent::TcpOptDuplicate);
            }
            seen |= bit;
        }
        match (kind, body) {
            (2, [a, b]) => info.mss = Some(u16::from_be_bytes([*a, *b])),
            (3, [s]) => info.wscale = Some(*s),
            (4, []) => info.sack_ok = true,
            (8, [a, b, c, d, ..]) if body.len() == 8 => {
                info.tsval = Some(u32::from_be_bytes([*a, *b, *c, *d]))
            }
            (2 | 3 | 4 | 8, _) => raise(DecodeEvent::TcpOptInvalidLen),
            (5, _) if (len - 2) & 7 != 0 => raise(DecodeEvent::TcpOptInvalidLen),
            _ => {}
        }
        i += len;
    }
    Ok((info, hl))
}

/// UDP header fields: (source port, destination port, length field).
pub fn decode_udp(b: &[u8]) -> Result<(u16, u16, u16), DecodeEvent> {
    match b {
        [s0, s1, d0, d1, l0, l1, _, _, ..] => Ok((
            u16::from_be_bytes([*s0, *s1]),
            u16::from_be_bytes([*d0, *d1]),
            u16::from_be_bytes([*l0, *l1]),
        )),
        _ => Err(DecodeEvent::UdpHlenTooSmall),
    }
}

/// ICMP / ICMPv6 header: (type, code, id, seq); id/seq are bytes 4..8 as for echo.
pub fn decode_icmp(b: &[u8]) -> Option<(u8, u8, u16, u16)> {
    match b {
        [t, c, _, _, i0, i1, s0, s1, ..] => Some((
            *t,
            *c,
            u16::from_be_bytes([*i0, *i1]),
            u16::from_be_bytes([*s0, *s1]),
        )),
        _ => None,
    }
}

/// SCTP common header: (source port, destination port).
pub fn decode_sctp(b: &[u8]) -> Option<(u16, u16)> {
    match b {
        [s0, s1, d0, d1, _, _, _, _, _, _, _, _, ..] => Some((
            u16::from_be_bytes([*s0, *s1]),
            u16::from_be_bytes([*d0, *d1]),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod test {
    use super::*;

    // TCP SYN header (with options) of frame 1 of the Zeek tcp-missing-syn? no:
    // taken from Zeek's get.pcap trace (core-tcp-reassembly-known-ports), bytes 34..74.
    fn get_pcap_syn() -> Option<Vec<u8>> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/corpus/expected/zeek/core-tcp-reassembly-known-ports/get.pcap");
        let d = std::fs::read(path).ok()?;
        // Classic pcap, little-endian: first record starts at 24 + 16.
        let cap = u32::from_le_bytes([d[32], d[33], d[34], d[35]]) as usize;
        let frame = d[40..40 + cap].to_vec();
        Some(frame)
    }

    #[test]
    fn tcp_syn_with_options_from_corpus() {
        let Some(frame) = get_pcap_syn() else {
            if std::env::var("VIGIE_EXTERNAL_TESTS").as_deref() == Ok("1") {
                panic!("corpus missing");
            }
            eprintln!("skip: ../shared/corpus not found");
            return;
        };
        let ihl = usize::from(frame[14] & 0x0f) * 4;
        let tcp = &frame[14 + ihl..];
        let mut ev = Vec::new();
        let (t, hl) = decode_tcp(tcp, &mut |e| ev.push(e)).unwrap();
        assert_eq!(t.flags & 0x02, 0x02, "first packet is a SYN");
        assert!(hl > 20, "SYN carries options");
        assert!(t.mss.is_some());
        assert!(ev.is_empty(), "{ev:?}");
        for n in 0..tcp.len() {
            let _ = decode_tcp(&tcp[..n], &mut |_| {});
        }
    }

    #[test]
    fn tcp_options_crafted() {
        // SYN from 1.2.3.4:1234 with MSS 1460, SACK-permitted, timestamps, NOP, wscale 7.
        let mut h = vec![
            0x04, 0xd2, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0xa0, 0x02, 0xff, 0xff, 0, 0, 0, 0,
        ];
        h.extend_from_slice(&[
            2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 42, 0, 0, 0, 0, 1, 3, 3, 7,
        ]);
        let mut ev = Vec::new();
        let (t, hl) = decode_tcp(&h, &mut |e| ev.push(e)).unwrap();
        assert_eq!((t.sport, t.dport, t.seq, t.flags, hl), (1234, 80, 1, 2, 40));
        assert_eq!(t.mss, Some(1460));
        assert_eq!(t.wscale, Some(7));
        assert!(t.sack_ok);
        assert_eq!(t.tsval, Some(42));
        assert!(ev.is_empty());
        // Broken option length, duplicate MSS, bad MSS length.
        h[21] = 40;
        let _ = decode_tcp(&h, &mut |e| ev.push(e));
        assert_eq!(ev, vec![DecodeEvent::TcpInvalidOptlen]);
        ev.clear();
        h[21] = 4;
        h[24..28].copy_from_slice(&[2, 4, 0, 1]);
        let _ = decode_tcp(&h, &mut |e| ev.push(e));
        assert_eq!(ev, vec![DecodeEvent::TcpOptDuplicate]);
        // Data offset below 5.
        h[12] = 0x40;
        assert_eq!(
            decode_tcp(&h, &mut |_| {}).unwrap_err(),
            DecodeEvent::TcpHlenTooSmall
        );
        assert_eq!(
            decode_tcp(&h[..19], &mut |_| {}).unwrap_err(),
            DecodeEvent::TcpPktTooSmall
        );
    }

    #[test]
    fn udp_icmp_sctp() {
        let udp = [0xba, 0xc0, 0xba, 0xc0, 0x00, 0x1a, 0xb9, 0xda];
        assert_eq!(decode_udp(&udp), Ok((47808, 47808, 26)));
        assert_eq!(decode_udp(&udp[..7]), Err(DecodeEvent::UdpHlenTooSmall));
        assert_eq!(decode_icmp(&[8, 0, 0, 0, 0, 1, 0, 2]), Some((8, 0, 1, 2)));
        assert_eq!(decode_icmp(&[8, 0, 0]), None);
        assert_eq!(
            decode_sctp(&[0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]),
            Some((1, 2))
        );
        assert_eq!(decode_sctp(&[0, 1, 0, 2]), None);
    }
}
