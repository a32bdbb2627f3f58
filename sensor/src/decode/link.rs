//! Link layers: Ethernet, Linux cooked (SLL, SLL2), BSD NULL/LOOP, PPP,
//! Cisco HDLC and 802.11 data frames behind radiotap.

use super::counters::DecodeEvent;

/// An Ethernet type (also used by SLL, VLAN, GRE, Geneve).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EtherType {
    /// 0x0800.
    Ipv4,
    /// 0x0806.
    Arp,
    /// 0x86dd.
    Ipv6,
    /// 0x8100 (802.1Q).
    Vlan,
    /// 0x88a8 (802.1ad).
    QinQ,
    /// 0x9100 (old QinQ).
    QinQOld,
    /// 0x8847 MPLS unicast.
    MplsUnicast,
    /// 0x8848 MPLS multicast.
    MplsMulticast,
    /// 0x8863 PPPoE discovery.
    PppoeDiscovery,
    /// 0x8864 PPPoE session.
    PppoeSession,
    /// 0x8926 VN-Tag.
    VnTag,
    /// 0x6558 transparent Ethernet bridging.
    TransEtherBridging,
    /// 0x88be ERSPAN type I/II.
    Erspan,
    /// 0x22eb ERSPAN type III.
    Erspan3,
    /// 0x880b PPP.
    Ppp,
    /// Anything else.
    Unknown(u16),
}

impl From<u16> for EtherType {
    fn from(v: u16) -> Self {
        match v {
            0x0800 => EtherType::Ipv4,
            0x0806 => EtherType::Arp,
            0x86dd => EtherType::Ipv6,
            0x8100 => EtherType::Vlan,
            0x88a8 => EtherType::QinQ,
            0x9100 => EtherType::QinQOld,
            0x8847 => EtherType::MplsUnicast,
            0x8848 => EtherType::MplsMulticast,
            0x8863 => EtherType::PppoeDiscovery,
            0x8864 => EtherType::PppoeSession,
            0x8926 => EtherType::VnTag,
            0x6558 => EtherType::TransEtherBridging,
            0x88be => EtherType::Erspan,
            0x22eb => EtherType::Erspan3,
            0x880b => EtherType::Ppp,
            other => EtherType::Unknown(other),
        }
    }
}

mod eth_field {
    use std::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const HEADER_LEN: usize = 14;
}

/// Length of an Ethernet header.
pub const ETHERNET_HEADER_LEN: usize = eth_field::HEADER_LEN;

/// A zero-copy Ethernet II header view.
#[derive(Debug, Clone)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wraps `buffer` after checking it holds a full header.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeEvent> {
        if buffer.as_ref().len() < eth_field::HEADER_LEN {
            return Err(DecodeEvent::EthernetPktTooSmall);
        }
        Ok(EthernetFrame { buffer })
    }
    /// Destination MAC.
    pub fn dst_addr(&self) -> [u8; 6] {
        let mut m = [0u8; 6];
        m.copy_from_slice(&self.buffer.as_ref()[eth_field::DST]);
        m
    }
    /// Source MAC.
    pub fn src_addr(&self) -> [u8; 6] {
        let mut m = [0u8; 6];
        m.copy_from_slice(&self.buffer.as_ref()[eth_field::SRC]);
        m
    }
    /// Ethertype as a number.
    pub fn ethertype_raw(&self) -> u16 {
        let b = &self.buffer.as_ref()[eth_field::ETHERTYPE];
        u16::from_be_bytes([b[0], b[1]])
    }
    /// Ethertype.
    pub fn ethertype(&self) -> EtherType {
        let b = &self.buffer.as_ref()[eth_field::ETHERTYPE];
        EtherType::from(u16::from_be_bytes([b[0], b[1]]))
    }
}

/// Linux cooked v1 header: returns the protocol (ethertype) and header length.
pub fn sll(b: &[u8]) -> Result<(u16, usize), DecodeEvent> {
    match b.get(14..16) {
        Some(p) => Ok((u16::from_be_bytes([p[0], p[1]]), 16)),
        None => Err(DecodeEvent::SllPktTooSmall),
    }
}

/// Linux cooked v2 header: returns the protocol (ethertype) and header length.
pub fn sll2(b: &[u8]) -> Result<(u16, usize), DecodeEvent> {
    if b.len() < 20 {
        return Err(DecodeEvent::SllPktTooSmall);
    }
    Ok((u16::from_be_bytes([b[0], b[1]]), 20))
}

/// Address family of a BSD NULL (host byte order) or LOOP (network byte
/// order) header: returns 4 or 6 for IPv4/IPv6.
pub fn null_family(b: &[u8], network_order: bool) -> Result<u8, DecodeEvent> {
    let Some(w) = b.get(0..4) else {
        return Err(DecodeEvent::LtnullPktTooSmall);
    };
    let w = [w[0], w[1], w[2], w[3]];
    // The capturing host's byte order is unknown for NULL: the family is small,
    // so the interpretation below 256 is the right one.
    let fam = if network_order {
        u32::from_be_bytes(w)
    } else {
        let le = u32::from_le_bytes(w);
        if le < 256 {
            le
        } else {
            u32::from_be_bytes(w)
        }
    };
    match fam {
        2 => Ok(4),
        24 | 28 | 30 => Ok(6),
        _ => Err(DecodeEvent::LtnullUnsupportedType),
    }
}

/// What a PPP protocol field announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PppNext {
    /// IPv4 (0x0021).
    Ipv4,
    /// IPv6 (0x0057).
    Ipv6,
    /// MPLS unicast or multicast (0x0281, 0x0283).
    Mpls,
    /// Link/network control or compressed data: no IP to decode.
    Control,
    /// Anything else.
    Unsupported,
}

/// PPP header with optional HDLC address/control and protocol-field
/// compression: returns what follows and the header length.
pub fn ppp(b: &[u8]) -> Result<(PppNext, usize), DecodeEvent> {
    let mut off = 0;
    if b.first() == Some(&0xff) {
        if b.get(1) != Some(&0x03) {
            return Err(if b.len() < 2 {
                DecodeEvent::PppPktTooSmall
            } else {
                DecodeEvent::PppWrongType
            });
        }
        off = 2;
    }
    let Some(&first) = b.get(off) else {
        return Err(DecodeEvent::PppPktTooSmall);
    };
    let (proto, len) = if first & 1 == 1 {
        (u16::from(first), 1)
    } else {
        match b.get(off + 1) {
            Some(&second) => (u16::from_be_bytes([first, second]), 2),
            None => return Err(DecodeEvent::PppPktTooSmall),
        }
    };
    let next = match proto {
        0x0021 => PppNext::Ipv4,
        0x0057 => PppNext::Ipv6,
        0x0281 | 0x0283 => PppNext::Mpls,
        p if p >= 0x8000 || p == 0x00fd || p == 0x002d || p == 0x002f => PppNext::Control,
        _ => PppNext::Unsupported,
    };
    Ok((next, off + len))
}

/// NFLOG (Linux netfilter log) header and TLVs: returns (IP version, offset
/// and length of the packet payload TLV). TLV lengths are in the capturing
/// host's byte order; little-endian is tried first.
pub fn nflog(b: &[u8]) -> Option<(u8, usize, usize)> {
    let version = match *b.first()? {
        2 => 4,
        10 => 6,
        _ => return None,
    };
    if *b.get(1)? != 0 {
        return None;
    }
    let mut off = 4;
    while off + 4 <= b.len() {
        let h = b.get(off..off + 4)?;
        let le = (
            usize::from(u16::from_le_bytes([h[0], h[1]])),
            u16::from_le_bytes([h[2], h[3]]),
        );
        let be = (
            usize::from(u16::from_be_bytes([h[0], h[1]])),
            u16::from_be_bytes([h[2], h[3]]),
        );
        let fits = |(len, _): (usize, u16)| len >= 4 && off + len <= b.len();
        let (len, ty) = if fits(le) {
            le
        } else if fits(be) {
            be
        } else {
            return None;
        };
        if ty & 0x7fff == 9 {
            return Some((version, off + 4, len - 4));
        }
        off += len.div_ceil(4) * 4;
    }
    None
}

/// Cisco HDLC header: returns the ethertype and header length.
pub fn chdlc(b: &[u8]) -> Result<(u16, usize), DecodeEvent> {
    match b {
        [0x0f | 0x8f, 0x00, p0, p1, ..] => Ok((u16::from_be_bytes([*p0, *p1]), 4)),
        [_, _, _, _, ..] => Err(DecodeEvent::PppWrongType),
        _ => Err(DecodeEvent::PppPktTooSmall),
    }
}

/// Radiotap header: returns (header length, whether the 802.11 frame ends with an FCS).
pub fn radiotap(b: &[u8]) -> Option<(usize, bool)> {
    let len = usize::from(u16::from_le_bytes([*b.get(2)?, *b.get(3)?]));
    if b.first() != Some(&0) || len < 8 || len > b.len() {
        return None;
    }
    // Present words chain while bit 31 is set.
    let mut off = 4;
    let mut present0 = None;
    loop {
        let w = b.get(off..off + 4)?;
        let p = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        present0.get_or_insert(p);
        off += 4;
        if p & 0x8000_0000 == 0 {
            break;
        }
    }
    let present0 = present0?;
    let mut fcs = false;
    if present0 & 0b10 != 0 {
        // TSFT (bit 0) is 8 bytes aligned to 8; flags (bit 1) is the next byte.
        if present0 & 1 != 0 {
            off = off.div_ceil(8) * 8 + 8;
        }
        if off < len {
            fcs = b.get(off).is_some_and(|f| f & 0x10 != 0);
        }
    }
    Some((len, fcs))
}

/// 802.11 data frame with LLC/SNAP: returns (ethertype, header length incl. LLC/SNAP).
/// Non-data, null-data and protected frames give None.
pub fn ieee80211_data(b: &[u8]) -> Option<(u16, usize)> {
    let fc0 = *b.first()?;
    let fc1 = *b.get(1)?;
    let ftype = (fc0 >> 2) & 0x3;
    let subtype = fc0 >> 4;
    if ftype != 2 || subtype & 0x4 != 0 || fc1 & 0x40 != 0 {
        return None;
    }
    let mut hl = 24;
    if fc1 & 0x03 == 0x03 {
        hl += 6;
    }
    if subtype & 0x8 != 0 {
        hl += 2;
        if fc1 & 0x80 != 0 {
            hl += 4;
        }
    }
    match b.get(hl..hl + 8)? {
        [0xaa, 0xaa, 0x03, 0, 0, 0, e0, e1] => Some((u16::from_be_bytes([*e0, *e1]), hl + 8)),
        _ => None,
    }
}

#[cfg(test)]
mod test {
    use super::*;

    // First frame of the Zeek q-in-q trace.
    const QINQ: &str = "ffffffffffff00c0e4012ced8100000d8100000a0800";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn ethernet_view() {
        let f = hex(QINQ);
        let e = EthernetFrame::new_checked(&f[..]).unwrap();
        assert_eq!(e.dst_addr(), [0xff; 6]);
        assert_eq!(e.src_addr(), [0x00, 0xc0, 0xe4, 0x01, 0x2c, 0xed]);
        assert_eq!(e.ethertype(), EtherType::Vlan);
        for n in 0..14 {
            assert_eq!(
                EthernetFrame::new_checked(&f[..n]).unwrap_err(),
                DecodeEvent::EthernetPktTooSmall
            );
        }
        assert_eq!(EtherType::from(0x1234), EtherType::Unknown(0x1234));
    }

    #[test]
    fn null_both_orders() {
        assert_eq!(null_family(&[2, 0, 0, 0], false), Ok(4));
        assert_eq!(null_family(&[0, 0, 0, 2], false), Ok(4));
        assert_eq!(null_family(&[0, 0, 0, 30], true), Ok(6));
        assert_eq!(null_family(&[24, 0, 0, 0], false), Ok(6));
        assert_eq!(
            null_family(&[7, 0, 0, 0], false),
            Err(DecodeEvent::LtnullUnsupportedType)
        );
        assert_eq!(
            null_family(&[2, 0, 0], false),
            Err(DecodeEvent::LtnullPktTooSmall)
        );
    }

    #[test]
    fn ppp_forms() {
        assert_eq!(ppp(&[0xff, 0x03, 0x00, 0x21]), Ok((PppNext::Ipv4, 4)));
        assert_eq!(ppp(&[0x00, 0x57]), Ok((PppNext::Ipv6, 2)));
        assert_eq!(ppp(&[0x21]), Ok((PppNext::Ipv4, 1)));
        assert_eq!(ppp(&[0xff, 0x03, 0xc0, 0x21]), Ok((PppNext::Control, 4)));
        assert_eq!(
            ppp(&[0xff, 0x05, 0x00, 0x21]),
            Err(DecodeEvent::PppWrongType)
        );
        assert_eq!(ppp(&[0xff, 0x03, 0x00]), Err(DecodeEvent::PppPktTooSmall));
        assert_eq!(ppp(&[0x00, 0x2b]), Ok((PppNext::Unsupported, 2)));
        assert_eq!(chdlc(&[0x0f, 0, 0x08, 0x00]), Ok((0x0800, 4)));
        assert_eq!(ppp(&[0x02, 0x81]), Ok((PppNext::Mpls, 2)));
    }

    // Frame 1 of tcpdump's nflog.pcap: IPv4 DNS answer inside TLV type 9.
    const NFLOG: &str = "02000014080001000800012705000a00000000000800040000000002100008000006ffffb8a386b9c3d6000006000f000001000006001100000e0000120010000811961c10c8b8a386b9c3d6080000001400030000000000522a1f9e00000000000960fc4d00090045000049000040003711c5144a522a2a0a0000140035a65900356ddf437181800001000100000000076578616d706c6503636f6d0000010001c00c0001000100002f9600045db8d877000000";

    #[test]
    fn nflog_payload_tlv() {
        let f = hex(NFLOG);
        let (v, off, len) = nflog(&f).unwrap();
        assert_eq!(v, 4);
        assert_eq!(f[off], 0x45);
        assert_eq!(len, 0x49, "the IPv4 total length");
        for n in 0..f.len() {
            if let Some((_, o, l)) = nflog(&f[..n]) {
                assert!(o + l <= n);
            }
        }
        assert_eq!(nflog(&[7, 0, 0, 0]), None);
    }

    #[test]
    fn radiotap_and_80211() {
        // Radiotap: len 12, present = flags only, flags has FCS bit.
        let rt = [0u8, 0, 12, 0, 0x02, 0, 0, 0, 0x10, 0, 0, 0];
        assert_eq!(radiotap(&rt), Some((12, true)));
        assert_eq!(radiotap(&rt[..10]), None);
        // QoS data frame (subtype 8), to-DS, LLC/SNAP IPv4.
        let mut f = vec![0x88, 0x01];
        f.extend_from_slice(&[0; 24]);
        f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
        assert_eq!(ieee80211_data(&f), Some((0x0800, 34)));
        f[1] = 0x41; // protected
        assert_eq!(ieee80211_data(&f), None);
        assert_eq!(ieee80211_data(&f[..20]), None);
    }
}
