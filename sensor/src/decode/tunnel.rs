//! Encapsulations: VLAN, VN-Tag, MPLS, PPPoE, GRE (incl. PPTP), ERSPAN,
//! VXLAN, Geneve, GTP-U, Teredo and AYIYA.
//!
//! UDP-based tunnels are only accepted when the inner packet looks real, so a
//! stray packet on a tunnel port stays plain UDP.

use super::counters::DecodeEvent;

#[inline]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

/// 802.1Q/802.1ad tag: (VLAN id, inner ethertype).
pub fn vlan(b: &[u8]) -> Result<(u16, u16), DecodeEvent> {
    match b {
        [t0, t1, e0, e1, ..] => Ok((
            u16::from_be_bytes([*t0, *t1]) & 0x0fff,
            u16::from_be_bytes([*e0, *e1]),
        )),
        _ => Err(DecodeEvent::VlanHeaderTooSmall),
    }
}

/// VN-Tag: the inner ethertype (the tag is 4 bytes plus the ethertype).
pub fn vntag(b: &[u8]) -> Result<u16, DecodeEvent> {
    be16(b, 4).ok_or(DecodeEvent::VntagHeaderTooSmall)
}

/// What follows a Network Service Header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NshNext {
    /// Next protocol 1.
    Ipv4,
    /// Next protocol 2.
    Ipv6,
    /// Next protocol 3.
    Ethernet,
    /// Next protocol 5.
    Mpls,
}

/// Network Service Header (RFC 8300, ethertype 0x894F): (what follows, header
/// bytes). The base header carries version, TTL, Length (in 4-byte words,
/// whole header), MD type and next protocol; the service path header follows.
/// MD type 1 has a fixed Length of 6 (four context words); MD type 2 has
/// variable-length context TLVs, Length at least 2.
pub fn nsh(b: &[u8]) -> Result<(NshNext, usize), DecodeEvent> {
    let [b0, b1, b2, b3, _, _, _, _, ..] = b else {
        return Err(DecodeEvent::NshHeaderTooSmall);
    };
    if b0 >> 6 != 0 {
        return Err(DecodeEvent::NshUnsupportedVersion);
    }
    let words = usize::from(u16::from_be_bytes([*b0, *b1]) & 0x3f);
    let len = words * 4;
    match b2 & 0x0f {
        1 if words != 6 => return Err(DecodeEvent::NshBadHeaderLength),
        1 => {}
        2 if words < 2 => return Err(DecodeEvent::NshBadHeaderLength),
        2 => {}
        0x0 | 0xf => return Err(DecodeEvent::NshReservedType),
        _ => return Err(DecodeEvent::NshUnsupportedType),
    }
    if b.len() < len {
        return Err(DecodeEvent::NshHeaderTooSmall);
    }
    let next = match b3 {
        1 => NshNext::Ipv4,
        2 => NshNext::Ipv6,
        3 => NshNext::Ethernet,
        5 => NshNext::Mpls,
        _ => return Err(DecodeEvent::NshUnknownPayload),
    };
    Ok((next, len))
}

/// What follows an MPLS label stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MplsNext {
    /// IPv4 (explicit null label or version nibble 4).
    Ipv4,
    /// IPv6 (explicit null label or version nibble 6).
    Ipv6,
    /// Ethernet pseudo-wire after a 4-byte control word.
    EthernetPw,
}

/// MPLS label stack: returns (what follows, bytes consumed), raising label anomalies.
pub fn mpls(
    b: &[u8],
    raise: &mut impl FnMut(DecodeEvent),
) -> Result<(MplsNext, usize), DecodeEvent> {
    let mut off = 0;
    let mut bottom_label;
    loop {
        let Some(e) = b.get(off..off + 4) else {
            return Err(DecodeEvent::MplsHeaderTooSmall);
        };
        let word = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
        let label = word >> 12;
        bottom_label = label;
        off += 4;
        match label {
            3 => raise(DecodeEvent::MplsBadLabelImplicitNull),
            4..=15 => raise(DecodeEvent::MplsBadLabelReserved),
            _ => {}
        }
        if word & 0x100 != 0 {
            break;
        }
    }
    match bottom_label {
        0 => return Ok((MplsNext::Ipv4, off)),
        2 => return Ok((MplsNext::Ipv6, off)),
        1 => raise(DecodeEvent::MplsBadLabelRouterAlert),
        _ => {}
    }
    let Some(&first) = b.get(off) else {
        return Err(DecodeEvent::MplsPktTooSmall);
    };
    match first >> 4 {
        4 => Ok((MplsNext::Ipv4, off)),
        6 => Ok((MplsNext::Ipv6, off)),
        0 if b.len() >= off + 4 + 14 => Ok((MplsNext::EthernetPw, off + 4)),
        _ => Err(DecodeEvent::MplsUnknownPayloadType),
    }
}

/// PPPoE session header: the bytes after it start with the PPP protocol field.
pub fn pppoe_session(b: &[u8]) -> Result<usize, DecodeEvent> {
    match b {
        [0x11, 0x00, _, _, _, _, ..] => Ok(6),
        [_, _, _, _, _, _, ..] => Err(DecodeEvent::PppoeWrongCode),
        _ => Err(DecodeEvent::PppoePktTooSmall),
    }
}

/// What a GRE header announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gre {
    /// GRE version (0 or 1).
    pub version: u8,
    /// Protocol type (an ethertype).
    pub proto: u16,
    /// Sequence number present (tells ERSPAN type I from II).
    pub seq: bool,
    /// Header length including optional fields and SREs.
    pub hdr_len: usize,
}

/// GRE header (RFC 2784/2890, and RFC 2637 enhanced GRE for PPTP).
pub fn gre(b: &[u8]) -> Result<Gre, DecodeEvent> {
    let (Some(fl), Some(proto)) = (be16(b, 0), be16(b, 2)) else {
        return Err(DecodeEvent::GrePktTooSmall);
    };
    let version = (fl & 0x7) as u8;
    let c = fl & 0x8000 != 0;
    let r = fl & 0x4000 != 0;
    let k = fl & 0x2000 != 0;
    let s = fl & 0x1000 != 0;
    match version {
        0 => {
            let mut hl = 4;
            if c || r {
                hl += 4;
            }
            if k {
                hl += 4;
            }
            if s {
                hl += 4;
            }
            if b.len() < hl {
                return Err(DecodeEvent::GreVersion0HdrTooBig);
            }
            if r {
                // Source route entries: (af 2, offset 1, length 1, data), ended by length 0.
                loop {
                    let Some(e) = b.get(hl..hl + 4) else {
                        return Err(DecodeEvent::GreVersion0HdrTooBig);
                    };
                    let len = usize::from(e[3]);
                    hl += 4 + len;
                    if len == 0 {
                        break;
                    }
                    if hl > b.len() {
                        return Err(DecodeEvent::GreVersion0HdrTooBig);
                    }
                }
            }
            Ok(Gre {
                version,
                proto,
                seq: s,
                hdr_len: hl,
            })
        }
        1 => {
            if c {
                return Err(DecodeEvent::GreVersion1Chksum);
            }
            if r {
                return Err(DecodeEvent::GreVersion1Route);
            }
            if !k {
                return Err(DecodeEvent::GreVersion1NoKey);
            }
            if proto != 0x880b {
                return Err(DecodeEvent::GreVersion1WrongProtocol);
            }
            let mut hl = 8;
            if s {
                hl += 4;
            }
            if fl & 0x0080 != 0 {
                hl += 4;
            }
            if b.len() < hl {
                return Err(DecodeEvent::GreVersion1HdrTooBig);
            }
            Ok(Gre {
                version,
                proto,
                seq: s,
                hdr_len: hl,
            })
        }
        _ => Err(DecodeEvent::GreWrongVersion),
    }
}

/// ERSPAN type II header (8 bytes): returns its length.
pub fn erspan2(b: &[u8]) -> Result<usize, DecodeEvent> {
    let Some(&v) = b.first() else {
        return Err(DecodeEvent::ErspanHeaderTooSmall);
    };
    if b.len() < 8 {
        return Err(DecodeEvent::ErspanHeaderTooSmall);
    }
    if v >> 4 != 1 {
        return Err(DecodeEvent::ErspanUnsupportedVersion);
    }
    Ok(8)
}

/// ERSPAN type III header (12 bytes, plus 8 with the platform sub-header).
pub fn erspan3(b: &[u8]) -> Result<usize, DecodeEvent> {
    if b.len() < 12 {
        return Err(DecodeEvent::ErspanHeaderTooSmall);
    }
    if b[0] >> 4 != 2 {
        return Err(DecodeEvent::ErspanUnsupportedVersion);
    }
    let hl = if b[11] & 0x01 != 0 { 20 } else { 12 };
    if b.len() < hl {
        return Err(DecodeEvent::ErspanHeaderTooSmall);
    }
    Ok(hl)
}

/// True if `b` starts like an Ethernet frame carrying something we decode.
fn plausible_ethernet(b: &[u8]) -> bool {
    matches!(
        be16(b, 12),
        Some(0x0800 | 0x86dd | 0x0806 | 0x8100 | 0x88a8 | 0x8847 | 0x8864 | 0x8863 | 0x9100)
    )
}

/// True if `b` starts with an IPv4 or IPv6 header whose length fields fit.
pub fn plausible_ip(b: &[u8]) -> bool {
    match b.first().map(|v| v >> 4) {
        Some(4) => {
            let ihl = usize::from(b[0] & 0x0f) * 4;
            ihl >= 20 && be16(b, 2).is_some_and(|tl| usize::from(tl) >= ihl)
        }
        Some(6) => b.len() >= 40,
        _ => false,
    }
}

/// VXLAN header (8 bytes, I flag set) followed by a plausible Ethernet frame.
pub fn vxlan(b: &[u8]) -> Option<usize> {
    let f = *b.first()?;
    if f & 0x08 == 0 || b.len() < 8 + 14 || !plausible_ethernet(&b[8..]) {
        return None;
    }
    Some(8)
}

/// What a VXLAN-GPE header announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpeNext {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
    /// Ethernet.
    Ethernet,
}

/// VXLAN-GPE header (UDP 4790, 8 bytes): returns the payload kind when the
/// payload is plausible. Without the P flag the payload is Ethernet.
pub fn vxlan_gpe(b: &[u8]) -> Option<GpeNext> {
    let f = *b.first()?;
    if f & 0x08 == 0 {
        return None;
    }
    let next = if f & 0x04 != 0 { *b.get(3)? } else { 3 };
    let inner = b.get(8..)?;
    match next {
        1 if plausible_ip(inner) && inner[0] >> 4 == 4 => Some(GpeNext::Ipv4),
        2 if plausible_ip(inner) && inner[0] >> 4 == 6 => Some(GpeNext::Ipv6),
        3 if inner.len() >= 14 && plausible_ethernet(inner) => Some(GpeNext::Ethernet),
        _ => None,
    }
}

/// Geneve header: returns (header length, protocol type) when the payload is plausible.
pub fn geneve(b: &[u8]) -> Option<(usize, u16)> {
    let v = *b.first()?;
    if v >> 6 != 0 {
        return None;
    }
    let hl = 8 + usize::from(v & 0x3f) * 4;
    let proto = be16(b, 2)?;
    let inner = b.get(hl..)?;
    let ok = match proto {
        0x6558 => plausible_ethernet(inner),
        0x0800 | 0x86dd => plausible_ip(inner),
        _ => false,
    };
    ok.then_some((hl, proto))
}

/// GTP-U G-PDU header (v1, with optional fields and extension headers):
/// returns its length when an IP packet follows.
pub fn gtpu(b: &[u8]) -> Option<usize> {
    let flags = *b.first()?;
    if flags >> 5 != 1 || flags & 0x10 == 0 || *b.get(1)? != 0xff {
        return None;
    }
    let mut hl = 8;
    if flags & 0x07 != 0 {
        hl = 12;
        let mut next = *b.get(11)?;
        // Each extension header: length in 4-byte units, content, next type.
        let mut guard = 0;
        while next != 0 {
            let units = usize::from(*b.get(hl)?);
            if units == 0 || guard > 16 {
                return None;
            }
            hl += units * 4;
            next = *b.get(hl - 1)?;
            guard += 1;
        }
    }
    let inner = b.get(hl..)?;
    plausible_ip(inner).then_some(hl)
}

/// Teredo (origin and/or authentication indications, then IPv6): returns the
/// IPv6 offset only if an IPv6 header fills the rest exactly.
pub fn teredo(b: &[u8]) -> Option<usize> {
    let mut off = 0;
    if be16(b, 0)? == 0x0001 {
        let id_len = usize::from(*b.get(2)?);
        let au_len = usize::from(*b.get(3)?);
        off += 4 + id_len + au_len + 8 + 1;
    }
    if be16(b, off)? == 0x0000 {
        off += 8;
    }
    let ip = b.get(off..)?;
    if ip.len() < 40 || ip[0] >> 4 != 6 {
        return None;
    }
    let plen = usize::from(be16(ip, 4)?);
    (plen + 40 == ip.len()).then_some(off)
}

/// AYIYA header: returns (header length, next header) for IPv4/IPv6 payloads.
pub fn ayiya(b: &[u8]) -> Option<(usize, u8)> {
    let id_len = 1usize << (*b.first()? >> 4);
    let sig_len = usize::from(*b.get(1)? >> 4) * 4;
    let opcode = *b.get(2)? & 0x0f;
    let next = *b.get(3)?;
    let hl = 8 + id_len + sig_len;
    if opcode != 1 || !(next == 4 || next == 41) {
        return None;
    }
    let inner = b.get(hl..)?;
    let want = if next == 4 { 4 } else { 6 };
    (plausible_ip(inner) && inner[0] >> 4 == want).then_some((hl, next))
}

#[cfg(test)]
mod test {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // Frame 1 of Zeek's erspanII.pcap: Ethernet, IPv4, GRE (seq) 0x88be, ERSPAN II.
    const ERSPAN2: &str = "6400f1e201126400f1e2010108004500009600004000fe2f76330202020201010101100088be0000070410170864000000006400f1e103036400f1e1020208004500006408940000ff0185001700000217000003080057b5";

    #[test]
    fn gre_erspan_from_corpus_bytes() {
        let f = hex(ERSPAN2);
        let g = gre(&f[34..]).unwrap();
        assert_eq!(
            g,
            Gre {
                version: 0,
                proto: 0x88be,
                seq: true,
                hdr_len: 8
            }
        );
        let e = erspan2(&f[42..]).unwrap();
        assert_eq!(e, 8);
        assert_eq!(be16(&f, 50 + 12), Some(0x0800));
        for n in 0..8 {
            assert!(gre(&f[34..34 + n]).is_err());
            assert_eq!(
                erspan2(&f[42..42 + n]),
                Err(DecodeEvent::ErspanHeaderTooSmall)
            );
        }
    }

    #[test]
    fn gre_v1_rules() {
        // PPTP: K, S, A set, v1, PPP.
        let h = [
            0x30, 0x81, 0x88, 0x0b, 0, 0x10, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0,
        ];
        assert_eq!(gre(&h).unwrap().hdr_len, 16);
        assert_eq!(gre(&h[..12]), Err(DecodeEvent::GreVersion1HdrTooBig));
        let mut x = h;
        x[0] = 0x10;
        assert_eq!(gre(&x), Err(DecodeEvent::GreVersion1NoKey));
        x = h;
        x[3] = 0x00;
        assert_eq!(gre(&x), Err(DecodeEvent::GreVersion1WrongProtocol));
        x = h;
        x[0] |= 0x80;
        assert_eq!(gre(&x), Err(DecodeEvent::GreVersion1Chksum));
        x = h;
        x[1] = 0x02;
        assert_eq!(gre(&x), Err(DecodeEvent::GreWrongVersion));
    }

    #[test]
    fn nsh_md_types() {
        // MD type 1: Length 6, four context words, next protocol IPv4.
        let mut t1 = vec![0x00, 0x06, 0x01, 0x01, 0, 0, 1, 2];
        t1.extend_from_slice(&[0; 16]);
        t1.extend_from_slice(&[0x45, 0]);
        assert_eq!(nsh(&t1), Ok((NshNext::Ipv4, 24)));
        // MD type 2 without context headers, next protocol Ethernet.
        assert_eq!(
            nsh(&[0x00, 0x02, 0x02, 0x03, 0, 0, 1, 2]),
            Ok((NshNext::Ethernet, 8))
        );
        // MD type 2 with one 8-byte TLV (Length 4), IPv6 next.
        let mut t2 = vec![0x00, 0x04, 0x02, 0x02, 0, 0, 1, 2];
        t2.extend_from_slice(&[0; 8]);
        assert_eq!(nsh(&t2), Ok((NshNext::Ipv6, 16)));
        assert_eq!(nsh(&t2[..12]), Err(DecodeEvent::NshHeaderTooSmall));
        assert_eq!(nsh(&t1[..7]), Err(DecodeEvent::NshHeaderTooSmall));
        let mut x = t1.clone();
        x[0] = 0x40;
        assert_eq!(nsh(&x), Err(DecodeEvent::NshUnsupportedVersion));
        x = t1.clone();
        x[1] = 0x05;
        assert_eq!(nsh(&x), Err(DecodeEvent::NshBadHeaderLength));
        x = t1.clone();
        x[2] = 0x0f;
        assert_eq!(nsh(&x), Err(DecodeEvent::NshReservedType));
        x[2] = 0x03;
        assert_eq!(nsh(&x), Err(DecodeEvent::NshUnsupportedType));
        x = t1.clone();
        x[3] = 0x07;
        assert_eq!(nsh(&x), Err(DecodeEvent::NshUnknownPayload));
    }

    #[test]
    fn mpls_stack() {
        let mut ev = Vec::new();
        // Two labels (16, 17 bottom), then IPv4.
        let b = [0x00, 0x01, 0x00, 0x40, 0x00, 0x01, 0x11, 0x40, 0x45, 0];
        assert_eq!(mpls(&b, &mut |e| ev.push(e)), Ok((MplsNext::Ipv4, 8)));
        assert!(ev.is_empty());
        // Explicit IPv6 null at the bottom.
        assert_eq!(
            mpls(&[0, 0, 0x21, 0x40], &mut |e| ev.push(e)),
            Ok((MplsNext::Ipv6, 4))
        );
        assert_eq!(
            mpls(&[0, 1, 0x01, 0x40], &mut |e| ev.push(e)),
            Err(DecodeEvent::MplsPktTooSmall)
        );
        assert_eq!(
            mpls(&[0, 1, 0x00, 0x40], &mut |e| ev.push(e)),
            Err(DecodeEvent::MplsHeaderTooSmall)
        );
        assert_eq!(
            mpls(&[0, 0, 0x31, 0x40, 0x45], &mut |e| ev.push(e)),
            Ok((MplsNext::Ipv4, 4))
        );
        assert_eq!(ev, vec![DecodeEvent::MplsBadLabelImplicitNull]);
    }

    #[test]
    fn udp_tunnels_reject_noise() {
        let mut v6 = vec![0x60, 0, 0, 0, 0, 0, 59, 64];
        v6.extend_from_slice(&[0; 32]);
        assert_eq!(teredo(&v6), Some(0));
        let mut with_origin = vec![0, 0, 0xf2, 0x27, 1, 2, 3, 4];
        with_origin.extend_from_slice(&v6);
        assert_eq!(teredo(&with_origin), Some(8));
        // One byte too many: not Teredo.
        v6.push(0);
        assert_eq!(teredo(&v6), None);
        assert_eq!(vxlan(&[0x08, 0, 0, 0, 0, 0, 1, 0]), None);
        assert_eq!(
            gtpu(&[0x30, 0xff, 0, 4, 0, 0, 0, 1, 0x45, 0, 0, 20]),
            Some(8)
        );
        assert_eq!(gtpu(&[0x30, 0x01, 0, 4, 0, 0, 0, 1, 0x45, 0, 0, 20]), None);
        assert_eq!(
            geneve(&[0, 0, 0x08, 0x00, 0, 0, 1, 0, 0x45, 0, 0, 20]),
            Some((8, 0x0800))
        );
        assert_eq!(
            geneve(&[0, 0, 0x08, 0x00, 0, 0, 1, 0, 0x15, 0, 0, 20]),
            None
        );
        assert_eq!(ayiya(&[0x41, 0x52, 0x11, 41, 0, 0, 0, 0]), None);
        let mut gpe = vec![0x0c, 0, 0, 1, 0, 0, 0, 0, 0x45, 0, 0, 20];
        assert_eq!(vxlan_gpe(&gpe), Some(GpeNext::Ipv4));
        gpe[3] = 2;
        assert_eq!(vxlan_gpe(&gpe), None);
    }
}
