//! IPv4 and IPv6 headers: zero-copy views, IPv4 options and IPv6 extension headers.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::counters::DecodeEvent;

/// An IP protocol / IPv6 next-header number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpProtocol {
    /// IPv6 hop-by-hop options (0).
    HopByHop,
    /// ICMP (1).
    Icmp,
    /// IP in IP (4).
    IpInIp,
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// IPv6 encapsulation (41).
    Ipv6,
    /// IPv6 routing header (43).
    Ipv6Route,
    /// IPv6 fragment header (44).
    Ipv6Frag,
    /// GRE (47).
    Gre,
    /// ESP (50).
    Esp,
    /// AH (51).
    Ah,
    /// ICMPv6 (58).
    Icmpv6,
    /// IPv6 no next header (59).
    Ipv6NoNxt,
    /// IPv6 destination options (60).
    Ipv6Opts,
    /// SCTP (132).
    Sctp,
    /// Any other number, kept as is.
    Unknown(u8),
}

impl From<u8> for IpProtocol {
    fn from(v: u8) -> Self {
        match v {
            0 => IpProtocol::HopByHop,
            1 => IpProtocol::Icmp,
            4 => IpProtocol::IpInIp,
            6 => IpProtocol::Tcp,
            17 => IpProtocol::Udp,
            41 => IpProtocol::Ipv6,
            43 => IpProtocol::Ipv6Route,
            44 => IpProtocol::Ipv6Frag,
            47 => IpProtocol::Gre,
            50 => IpProtocol::Esp,
            51 => IpProtocol::Ah,
            58 => IpProtocol::Icmpv6,
            59 => IpProtocol::Ipv6NoNxt,
            60 => IpProtocol::Ipv6Opts,
            132 => IpProtocol::Sctp,
            other => IpProtocol::Unknown(other),
        }
    }
}

impl From<IpProtocol> for u8 {
    fn from(p: IpProtocol) -> u8 {
        match p {
            IpProtocol::HopByHop => 0,
            IpProtocol::Icmp => 1,
            IpProtocol::IpInIp => 4,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
            IpProtocol::Ipv6 => 41,
            IpProtocol::Ipv6Route => 43,
            IpProtocol::Ipv6Frag => 44,
            IpProtocol::Gre => 47,
            IpProtocol::Esp => 50,
            IpProtocol::Ah => 51,
            IpProtocol::Icmpv6 => 58,
            IpProtocol::Ipv6NoNxt => 59,
            IpProtocol::Ipv6Opts => 60,
            IpProtocol::Sctp => 132,
            IpProtocol::Unknown(v) => v,
        }
    }
}

/// IPv4 option bits in [`super::L3::ipopts`] (Suricata `ipopts` names).
pub mod ipopt {
    /// Record route (7).
    pub const RR: u16 = 1 << 0;
    /// Loose source route (131).
    pub const LSRR: u16 = 1 << 1;
    /// Strict source route (137).
    pub const SSRR: u16 = 1 << 2;
    /// Timestamp (68).
    pub const TS: u16 = 1 << 3;
    /// Security (130).
    pub const SEC: u16 = 1 << 4;
    /// Extended security (133).
    pub const ESEC: u16 = 1 << 5;
    /// Stream/SATNET id (136).
    pub const SATID: u16 = 1 << 6;
    /// End of option list (0).
    pub const EOL: u16 = 1 << 7;
    /// No operation (1).
    pub const NOP: u16 = 1 << 8;
    /// Router alert (148).
    pub const RTRALT: u16 = 1 << 9;
    /// Commercial security / CIPSO (134).
    pub const CIPSO: u16 = 1 << 10;
    /// Quick-start (25).
    pub const QS: u16 = 1 << 11;
    /// Any other option type.
    pub const OTHER: u16 = 1 << 12;
}

/// IPv6 extension header bits in [`super::L3::ipv6_exthdrs`].
pub mod exthdr {
    /// Hop-by-hop options.
    pub const HOP: u16 = 1 << 0;
    /// Routing header.
    pub const ROUTING: u16 = 1 << 1;
    /// Fragment header.
    pub const FRAG: u16 = 1 << 2;
    /// Destination options.
    pub const DSTOPTS: u16 = 1 << 3;
    /// Authentication header.
    pub const AH: u16 = 1 << 4;
    /// ESP (decoding stops there).
    pub const ESP: u16 = 1 << 5;
    /// No next header.
    pub const NONE: u16 = 1 << 6;
}

/// Why an IP header could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpError {
    /// The anomaly to count.
    Event(DecodeEvent),
}

mod field4 {
    use std::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLG_OFF: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
    pub const MIN_LEN: usize = 20;
}

/// A zero-copy IPv4 header view.
#[derive(Debug, Clone)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps `buffer` after checking version, IHL and that the header is present.
    pub fn new_checked(buffer: T) -> Result<Self, IpError> {
        let b = buffer.as_ref();
        if b.len() < field4::MIN_LEN {
            return Err(IpError::Event(DecodeEvent::Ipv4PktTooSmall));
        }
        if b[field4::VER_IHL] >> 4 != 4 {
            return Err(IpError::Event(DecodeEvent::Ipv4WrongIpVersion));
        }
        let hl = usize::from(b[field4::VER_IHL] & 0x0f) * 4;
        if hl < field4::MIN_LEN {
            return Err(IpError::Event(DecodeEvent::Ipv4HlenTooSmall));
        }
        if b.len() < hl {
            return Err(IpError::Event(DecodeEvent::Ipv4PktTooSmall));
        }
        let p = Ipv4Packet { buffer };
        if usize::from(p.total_len()) < hl {
            return Err(IpError::Event(DecodeEvent::Ipv4IplenSmallerThanHlen));
        }
        Ok(p)
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn u16_at(&self, r: std::ops::Range<usize>) -> u16 {
        let b = &self.b()[r];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Header length in bytes.
    pub fn header_len(&self) -> usize {
        usize::from(self.b()[field4::VER_IHL] & 0x0f) * 4
    }
    /// Type of service byte.
    pub fn tos(&self) -> u8 {
        self.b()[field4::TOS]
    }
    /// Total length field.
    pub fn total_len(&self) -> u16 {
        self.u16_at(field4::LENGTH)
    }
    /// Identification field.
    pub fn ident(&self) -> u16 {
        self.u16_at(field4::IDENT)
    }
    /// Reserved (evil) bit.
    pub fn rb(&self) -> bool {
        self.u16_at(field4::FLG_OFF) & 0x8000 != 0
    }
    /// Don't-fragment bit.
    pub fn df(&self) -> bool {
        self.u16_at(field4::FLG_OFF) & 0x4000 != 0
    }
    /// More-fragments bit.
    pub fn mf(&self) -> bool {
        self.u16_at(field4::FLG_OFF) & 0x2000 != 0
    }
    /// Fragment offset in 8-byte units.
    pub fn frag_offset(&self) -> u16 {
        self.u16_at(field4::FLG_OFF) & 0x1fff
    }
    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.b()[field4::TTL]
    }
    /// Protocol number as a byte.
    pub fn protocol_raw(&self) -> u8 {
        self.b()[field4::PROTOCOL]
    }
    /// Protocol number.
    pub fn protocol(&self) -> IpProtocol {
        IpProtocol::from(self.b()[field4::PROTOCOL])
    }
    /// Header checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(field4::CHECKSUM)
    }
    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        let s = &self.b()[field4::SRC];
        Ipv4Addr::new(s[0], s[1], s[2], s[3])
    }
    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        let s = &self.b()[field4::DST];
        Ipv4Addr::new(s[0], s[1], s[2], s[3])
    }
    /// Option bytes (between the fixed header and the payload).
    pub fn options(&self) -> &[u8] {
        &self.b()[field4::MIN_LEN..self.header_len()]
    }
}

/// Computes the IPv4 header checksum over `hdr` (checksum field included as is).
pub fn ipv4_checksum(hdr: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in hdr.chunks(2) {
        let w = match c {
            [a, b] => u16::from_be_bytes([*a, *b]),
            [a] => u16::from_be_bytes([*a, 0]),
            _ => 0,
        };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Parses IPv4 options into an [`ipopt`] bitmask, raising anomalies.
pub fn parse_ipv4_options(opts: &[u8], raise: &mut impl FnMut(DecodeEvent)) -> u16 {
    let mut bits = 0u16;
    let mut i = 0;
    while i < opts.len() {
        let kind = opts[i];
        let bit = match kind {
            0 => {
                bits |= ipopt::EOL;
                break;
            }
            1 => {
                bits |= ipopt::NOP;
                i += 1;
                continue;
            }
            7 => ipopt::RR,
            131 => ipopt::LSRR,
            137 => ipopt::SSRR,
            68 => ipopt::TS,
            130 => ipopt::SEC,
            133 => ipopt::ESEC,
            136 => ipopt::SATID,
            148 => ipopt::RTRALT,
            134 => ipopt::CIPSO,
            25 => ipopt::QS,
            _ => ipopt::OTHER,
        };
        let Some(&len) = opts.get(i + 1) else {
            raise(DecodeEvent::Ipv4OptMalformed);
            break;
        };
        let len = usize::from(len);
        if len < 2 {
            raise(DecodeEvent::Ipv4OptInvalidLen);
            break;
        }
        if i + len > opts.len() {
            raise(DecodeEvent::Ipv4OptMalformed);
            break;
        }
        // Fixed-size options must have their fixed size.
        let bad_len = match kind {
            136 => len != 4,
            148 => len != 4,
            7 | 131 | 137 | 68 => len < 3,
            _ => false,
        };
        if bad_len {
            raise(DecodeEvent::Ipv4OptInvalidLen);
        }
        if bit == ipopt::OTHER {
            raise(DecodeEvent::Ipv4OptUnknown);
        } else if bits & bit != 0 {
            raise(DecodeEvent::Ipv4OptDuplicate);
        }
        bits |= bit;
        i += len;
    }
    bits
}

mod field6 {
    use std::ops::Range;
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Range<usize> = 8..24;
    pub const DST: Range<usize> = 24..40;
    pub const HEADER_LEN: usize = 40;
}

/// Length of the fixed IPv6 header.
pub const IPV6_HEADER_LEN: usize = field6::HEADER_LEN;

/// A zero-copy IPv6 fixed-header view.
#[derive(Debug, Clone)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wraps `buffer` after checking the version and that the fixed header is present.
    pub fn new_checked(buffer: T) -> Result<Self, IpError> {
        let b = buffer.as_ref();
        if b.len() < field6::HEADER_LEN {
            return Err(IpError::Event(DecodeEvent::Ipv6PktTooSmall));
        }
        if b[0] >> 4 != 6 {
            return Err(IpError::Event(DecodeEvent::Ipv6WrongIpVersion));
        }
        Ok(Ipv6Packet { buffer })
    }
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    /// Traffic class.
    pub fn traffic_class(&self) -> u8 {
        let b = &self.b()[field6::VER_TC_FLOW];
        (b[0] << 4) | (b[1] >> 4)
    }
    /// Payload length field (0 for jumbograms).
    pub fn payload_len(&self) -> u16 {
        let b = &self.b()[field6::LENGTH];
        u16::from_be_bytes([b[0], b[1]])
    }
    /// Next header after the fixed header, as a byte.
    pub fn next_header_raw(&self) -> u8 {
        self.b()[field6::NXT_HDR]
    }
    /// Next header after the fixed header.
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.b()[field6::NXT_HDR])
    }
    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.b()[field6::HOP_LIMIT]
    }
    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.b()[field6::SRC]);
        Ipv6Addr::from(a)
    }
    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.b()[field6::DST]);
        Ipv6Addr::from(a)
    }
}

/// An IPv6 fragment header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Frag {
    /// Offset of this fragment's data in bytes.
    pub offset: u32,
    /// More fragments follow.
    pub more: bool,
    /// Identification.
    pub id: u32,
    /// Next header of the fragmentable part.
    pub next_header: u8,
    /// Offset (from the start of the IPv6 header) of the fragment header.
    pub hdr_off: usize,
}

/// Result of walking IPv6 extension headers.
#[derive(Clone, Copy, Debug)]
pub struct Ipv6Ext {
    /// Final upper-layer protocol (or 44 when a non-first fragment stops the walk).
    pub proto: u8,
    /// Offset of the upper-layer header from the start of the IPv6 header.
    pub l4_off: usize,
    /// [`exthdr`] bits seen.
    pub bits: u16,
    /// The fragment header, if any.
    pub frag: Option<Ipv6Frag>,
}

/// Walks extension headers of the IPv6 packet `pkt` (fixed header included,
/// trimmed to the payload length). Stops at ESP, no-next-header, a fragment
/// header with a non-zero offset, a truncated header, or any other protocol.
pub fn walk_ipv6_ext(pkt: &[u8], first: u8, raise: &mut impl FnMut(DecodeEvent)) -> Ipv6Ext {
    let mut nh = first;
    let mut off = IPV6_HEADER_LEN;
    let mut bits = 0u16;
    let mut frag = None;
    let mut dst_count = 0;
    // Each header is at least 8 bytes, so a packet of at most 64 KiB ends the
    // loop; the explicit bound keeps jumbo inputs cheap too.
    for _ in 0..32 {
        // Past an extension header, whatever comes next needs two bytes.
        if bits != 0 && nh != 59 && pkt.len() < off + 2 {
            raise(DecodeEvent::Ipv6TruncExthdr);
            break;
        }
        match nh {
            // Hop-by-hop, routing, destination options, mobility, HIP, shim6.
            0 | 43 | 60 | 135 | 139 | 140 => {
                let Some(h) = pkt.get(off..off + 2) else {
                    raise(DecodeEvent::Ipv6TruncExthdr);
                    break;
                };
                let len = (usize::from(h[1]) + 1) * 8;
                let Some(body) = pkt.get(off..off + len) else {
                    raise(DecodeEvent::Ipv6TruncExthdr);
                    break;
                };
                match nh {
                    0 => {
                        if bits & exthdr::HOP != 0 {
                            raise(DecodeEvent::Ipv6ExthdrDuplHh);
                        }
                        bits |= exthdr::HOP;
                        check_tlv_options(&body[2..], true, raise);
                    }
                    43 => {
                        if bits & exthdr::ROUTING != 0 {
                            raise(DecodeEvent::Ipv6ExthdrDuplRh);
                        }
                        bits |= exthdr::ROUTING;
                        if body[2] == 0 {
                            raise(DecodeEvent::Ipv6RhType0);
                        }
                    }
                    60 => {
                        dst_count += 1;
                        if dst_count > 2 {
                            raise(DecodeEvent::Ipv6ExthdrDuplDh);
                        }
                        bits |= exthdr::DSTOPTS;
                        check_tlv_options(&body[2..], false, raise);
                    }
                    _ => {}
                }
                nh = h[0];
                off += len;
            }
            44 => {
                let Some(h) = pkt.get(off..off + 8) else {
                    raise(DecodeEvent::Ipv6TruncExthdr);
                    break;
                };
                if bits & exthdr::FRAG != 0 {
                    raise(DecodeEvent::Ipv6ExthdrDuplFh);
                }
                bits |= exthdr::FRAG;
                let fo = u16::from_be_bytes([h[2], h[3]]);
                if h[1] != 0 || fo & 0x6 != 0 {
                    raise(DecodeEvent::Ipv6FhNonZeroReservedField);
                }
                let f = Ipv6Frag {
                    offset: u32::from(fo & 0xfff8),
                    more: fo & 1 != 0,
                    id: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                    next_header: h[0],
                    hdr_off: off,
                };
                if f.offset == 0 && !f.more {
                    raise(DecodeEvent::Ipv6ExthdrUselessFh);
                }
                frag = Some(f);
                off += 8;
                if f.offset != 0 {
                    // Only the first fragment carries the upper-layer header.
                    return Ipv6Ext {
                        proto: 44,
                        l4_off: off,
                        bits,
                        frag,
                    };
                }
                nh = h[0];
            }
            51 => {
                let Some(h) = pkt.get(off..off + 4) else {
                    raise(DecodeEvent::Ipv6TruncExthdr);
                    break;
                };
                let len = (usize::from(h[1]) + 2) * 4;
                if pkt.len() < off + len {
                    raise(DecodeEvent::Ipv6TruncExthdr);
                    break;
                }
                if bits & exthdr::AH != 0 {
                    raise(DecodeEvent::Ipv6ExthdrDuplAh);
                }
                if h[2] != 0 || h[3] != 0 {
                    raise(DecodeEvent::Ipv6ExthdrAhResNotNull);
                }
                bits |= exthdr::AH;
                nh = h[0];
                off += len;
            }
            50 => {
                bits |= exthdr::ESP;
                break;
            }
            59 => {
                bits |= exthdr::NONE;
                if off < pkt.len() {
                    raise(DecodeEvent::Ipv6DataAfterNoneHeader);
                }
                break;
            }
            // ICMP (an event of its own when decoded), IPv4, TCP, UDP, IPv6,
            // GRE, ICMPv6, SCTP.
            1 | 4 | 6 | 17 | 41 | 47 | 58 | 132 => break,
            _ => {
                raise(DecodeEvent::Ipv6UnknownNextHeader);
                break;
            }
        }
    }
    Ipv6Ext {
        proto: nh,
        l4_off: off.min(pkt.len()),
        bits,
        frag,
    }
}

/// Checks the TLV options of a hop-by-hop (`hop`) or destination options
/// header: lengths, option types the decoder does not know, zero-length
/// PadN, and headers that carry only padding (room for a covert channel).
fn check_tlv_options(opts: &[u8], hop: bool, raise: &mut impl FnMut(DecodeEvent)) {
    // Pad1, PadN, router alert, jumbo payload; home address in destination options.
    const PAD1: u8 = 0;
    const PADN: u8 = 1;
    const ROUTER_ALERT: u8 = 5;
    const JUMBO: u8 = 0xc2;
    const HOME_ADDRESS: u8 = 0xc9;
    let (mut padding, mut other) = (0usize, 0usize);
    let mut i = 0;
    while i < opts.len() {
        let kind = opts[i];
        if kind == PAD1 {
            padding += 1;
            i += 1;
            continue;
        }
        let Some(&len) = opts.get(i + 1) else {
            raise(DecodeEvent::Ipv6ExthdrInvalidOptlen);
            return;
        };
        match kind {
            PADN => {
                padding += 1;
                if len == 0 {
                    raise(DecodeEvent::Ipv6ZeroLenPadn);
                }
            }
            ROUTER_ALERT | JUMBO => other += 1,
            HOME_ADDRESS if !hop => other += 1,
            _ => {
                other += 1;
                raise(if hop {
                    DecodeEvent::Ipv6HopoptsUnknownOpt
                } else {
                    DecodeEvent::Ipv6DstoptsUnknownOpt
                });
            }
        }
        i += 2 + usize::from(len);
        if i > opts.len() {
            raise(DecodeEvent::Ipv6ExthdrInvalidOptlen);
            return;
        }
    }
    if padding > 0 && other == 0 {
        raise(if hop {
            DecodeEvent::Ipv6HopoptsOnlyPadding
        } else {
            DecodeEvent::Ipv6DstoptsOnlyPadding
        });
    }
}

#[cfg(test)]
mod test {
    use super::*;

    // IPv4/UDP header of frame 1 of the Zeek q-in-q trace (after two VLAN tags).
    const V4_UDP: [u8; 20] = [
        0x45, 0x00, 0x00, 0x2e, 0x47, 0x96, 0x00, 0x00, 0x40, 0x11, 0x74, 0x9e, 0xac, 0x13, 0x33,
        0x25, 0xac, 0x13, 0x33, 0x3f,
    ];

    #[test]
    fn ipv4_fields() {
        let p = Ipv4Packet::new_checked(&V4_UDP[..]).unwrap();
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.total_len(), 46);
        assert_eq!(p.ident(), 0x4796);
        assert!(!p.df() && !p.mf() && !p.rb());
        assert_eq!(p.frag_offset(), 0);
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), IpProtocol::Udp);
        assert_eq!(p.checksum(), 0x749e);
        assert_eq!(p.src_addr(), Ipv4Addr::new(172, 19, 51, 37));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(172, 19, 51, 63));
        // A correct header checksums to zero.
        assert_eq!(ipv4_checksum(&V4_UDP), 0);
    }

    #[test]
    fn ipv4_errors() {
        for n in 0..20 {
            assert_eq!(
                Ipv4Packet::new_checked(&V4_UDP[..n]).unwrap_err(),
                IpError::Event(DecodeEvent::Ipv4PktTooSmall)
            );
        }
        let mut b = V4_UDP;
        b[0] = 0x44;
        assert_eq!(
            Ipv4Packet::new_checked(&b[..]).unwrap_err(),
            IpError::Event(DecodeEvent::Ipv4HlenTooSmall)
        );
        b[0] = 0x65;
        assert_eq!(
            Ipv4Packet::new_checked(&b[..]).unwrap_err(),
            IpError::Event(DecodeEvent::Ipv4WrongIpVersion)
        );
        let mut b = V4_UDP;
        b[3] = 10;
        assert_eq!(
            Ipv4Packet::new_checked(&b[..]).unwrap_err(),
            IpError::Event(DecodeEvent::Ipv4IplenSmallerThanHlen)
        );
    }

    #[test]
    fn ipv4_option_bits() {
        let mut ev = Vec::new();
        // Router alert, NOP, record route (len 7), EOL.
        let opts = [148, 4, 0, 0, 1, 7, 7, 4, 0, 0, 0, 0, 0];
        let bits = parse_ipv4_options(&opts, &mut |e| ev.push(e));
        assert_eq!(bits, ipopt::RTRALT | ipopt::NOP | ipopt::RR | ipopt::EOL);
        assert!(ev.is_empty(), "{ev:?}");
        // Length running past the end, then a zero length.
        let bits = parse_ipv4_options(&[7, 9, 4, 0], &mut |e| ev.push(e));
        assert_eq!(bits, 0);
        parse_ipv4_options(&[68, 0], &mut |e| ev.push(e));
        parse_ipv4_options(&[7, 3, 4, 7, 3, 4, 99, 2], &mut |e| ev.push(e));
        assert_eq!(
            ev,
            vec![
                DecodeEvent::Ipv4OptMalformed,
                DecodeEvent::Ipv4OptInvalidLen,
                DecodeEvent::Ipv4OptDuplicate,
                DecodeEvent::Ipv4OptUnknown
            ]
        );
    }

    #[test]
    fn ipv6_ext_walk() {
        // Fixed header + hop-by-hop (PadN) + fragment header (offset 0, M) + UDP.
        let mut p = vec![0x60, 0, 0, 0, 0, 24, 0, 64];
        p.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        p.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]);
        p.extend_from_slice(&[17, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef]);
        p.extend_from_slice(&[0, 53, 0, 53, 0, 8, 0, 0]);
        let v6 = Ipv6Packet::new_checked(&p[..]).unwrap();
        assert_eq!(v6.next_header(), IpProtocol::HopByHop);
        assert_eq!(v6.payload_len(), 24);
        let mut ev = Vec::new();
        let x = walk_ipv6_ext(&p, 0, &mut |e| ev.push(e));
        assert_eq!(x.proto, 17);
        assert_eq!(x.l4_off, 56);
        assert_eq!(x.bits, exthdr::HOP | exthdr::FRAG);
        let f = x.frag.unwrap();
        assert_eq!(
            (f.offset, f.more, f.id, f.hdr_off),
            (0, true, 0xdeadbeef, 48)
        );
        // The hop-by-hop header holds nothing but a PadN.
        assert_eq!(ev, vec![DecodeEvent::Ipv6HopoptsOnlyPadding]);
        // Every truncation is reported, never a panic.
        for n in 40..p.len() {
            let _ = walk_ipv6_ext(&p[..n], 0, &mut |e| ev.push(e));
        }
        assert!(ev.contains(&DecodeEvent::Ipv6TruncExthdr));
    }

    /// A fixed IPv6 header (payload length from `rest`) followed by `rest`.
    fn v6(first: u8, rest: &[u8]) -> (Vec<u8>, u8) {
        let mut p = vec![0x60, 0, 0, 0, 0, rest.len() as u8, first, 64];
        p.extend_from_slice(&[0; 32]);
        p.extend_from_slice(rest);
        (p, first)
    }

    fn events_of(first: u8, rest: &[u8]) -> Vec<DecodeEvent> {
        let (p, nh) = v6(first, rest);
        let mut ev = Vec::new();
        walk_ipv6_ext(&p, nh, &mut |e| ev.push(e));
        ev
    }

    #[test]
    fn ipv6_ext_anomalies() {
        use DecodeEvent::*;
        // Destination options: an unknown option type (0x1e), then PadN.
        let ev = events_of(60, &[59, 0, 0x1e, 2, 0xaa, 0xbb, 1, 0]);
        assert_eq!(ev, vec![Ipv6DstoptsUnknownOpt, Ipv6ZeroLenPadn]);
        // Destination options: home address is known there, not in hop-by-hop.
        let hao = [
            59, 2, 0xc9, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0,
        ];
        assert!(events_of(60, &hao).is_empty());
        let ev = events_of(0, &hao);
        assert_eq!(ev, vec![Ipv6HopoptsUnknownOpt]);
        // Only padding in destination options; router alert in hop-by-hop is fine.
        assert_eq!(
            events_of(60, &[59, 0, 1, 4, 0, 0, 0, 0]),
            vec![Ipv6DstoptsOnlyPadding]
        );
        assert!(events_of(0, &[59, 0, 5, 2, 0, 0, 0, 0]).is_empty());
        // Two AH headers, the second with a reserved field set.
        let ah = [
            51, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 59, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
        ];
        assert_eq!(
            events_of(51, &ah),
            vec![Ipv6ExthdrDuplAh, Ipv6ExthdrAhResNotNull]
        );
        // Fragment header with its reserved byte set.
        let ev = events_of(44, &[17, 1, 0, 1, 0, 0, 0, 1, 0, 53, 0, 53, 0, 8, 0, 0]);
        assert_eq!(ev, vec![Ipv6FhNonZeroReservedField]);
        // Bytes after "no next header".
        assert_eq!(
            events_of(60, &[59, 0, 5, 2, 0, 0, 0, 0, 0xde, 0xad]),
            vec![Ipv6DataAfterNoneHeader]
        );
        assert!(events_of(59, &[]).is_empty());
        // A useless fragment header with nothing after it (TCP, 0 bytes).
        assert_eq!(
            events_of(44, &[6, 0, 0, 0, 0xfa, 0xce, 0xf0, 0xe1]),
            vec![Ipv6ExthdrUselessFh, Ipv6TruncExthdr]
        );
        // OSPF is not decoded; TCP, UDP, ICMPv6, SCTP, GRE and tunnels are.
        assert_eq!(events_of(89, &[0; 8]), vec![Ipv6UnknownNextHeader]);
        for nh in [4, 6, 17, 41, 47, 58, 132] {
            assert!(events_of(nh, &[0; 8]).is_empty(), "{nh}");
        }
    }
}
