//! Packet decoding: link layers, VLAN/MPLS/PPPoE, IPv4/IPv6 (with
//! defragmentation), TCP/UDP/ICMP/SCTP and tunnels (GRE, ERSPAN, PPTP, VXLAN,
//! VXLAN-GPE, Geneve, GTP-U, Teredo, AYIYA, IP-in-IP in every combination).
//!
//! [`Decoder::decode`] fills a [`Packet`] of byte offsets and parsed header
//! values for one captured frame without allocating. Every anomaly is a
//! [`DecodeEvent`], counted in [`DecodeCounters`] and never printed.
//!
//! Behaviour worth knowing:
//! - Truncated captures (snaplen) raise `ipv4.trunc_pkt` / `ipv6.trunc_pkt`
//!   / `udp.pkt_too_small` and decoding goes on with the bytes present.
//! - Link padding is cut at the IP (or PPPoE, UDP) length, so
//!   `payload_len` never counts Ethernet padding.
//! - UDP tunnels are recognised by port and only when the inner packet is
//!   plausible: VXLAN 4789, VXLAN-GPE 4790, Geneve 6081, GTP-U 2152 (G-PDU),
//!   AYIYA 5072, Teredo on 3544 or, on other ports (relays), when an inner
//!   address is a Teredo address (2001:0::/32) and the IPv6 length fits exactly.
//! - When a tunnel's inner frame has no IP (ARP in VXLAN, PPP control in
//!   PPTP, ...), the outer packet is the result and its tunnel entry is dropped.
//! - Deeper than `max_tunnel_depth` tunnels: `too_many_layers`, the last
//!   accepted layer is the result.
//! - Fragments go to [`defrag`] (first data wins on overlap).

pub mod counters;
pub mod defrag;
pub mod ip;
pub mod link;
pub mod transport;
pub mod tunnel;

use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr};

pub use counters::{DecodeCounters, DecodeEvent, Stat};
pub use ip::{exthdr, ipopt};

use defrag::{DefragConfig, Defragmenter, FragKey, Fragment, Insert};
use ip::{IpError, Ipv4Packet, Ipv6Packet};
use link::{EthernetFrame, PppNext};
use tunnel::{MplsNext, NshNext};

/// pcap link-layer types (DLT / LINKTYPE numbers) the decoder knows.
pub mod dlt {
    /// BSD loopback, host byte order family.
    pub const NULL: u32 = 0;
    /// Ethernet.
    pub const ETHERNET: u32 = 1;
    /// PPP.
    pub const PPP: u32 = 9;
    /// Raw IP (OpenBSD value).
    pub const RAW: u32 = 12;
    /// Raw IP (other BSD value).
    pub const RAW_14: u32 = 14;
    /// PPP in HDLC-like framing.
    pub const PPP_HDLC: u32 = 50;
    /// Raw IP (LINKTYPE_RAW).
    pub const RAW_101: u32 = 101;
    /// Cisco HDLC.
    pub const C_HDLC: u32 = 104;
    /// 802.11 without radio header.
    pub const IEEE802_11: u32 = 105;
    /// OpenBSD loopback, network byte order family.
    pub const LOOP: u32 = 108;
    /// Linux cooked capture v1.
    pub const LINUX_SLL: u32 = 113;
    /// 802.11 with radiotap header.
    pub const RADIOTAP: u32 = 127;
    /// Raw IPv4.
    pub const IPV4: u32 = 228;
    /// Raw IPv6.
    pub const IPV6: u32 = 229;
    /// Linux netfilter log.
    pub const NFLOG: u32 = 239;
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: u32 = 276;
}

/// Decoder limits.
#[derive(Clone, Copy, Debug)]
pub struct DecoderConfig {
    /// Bytes the defragmenter may hold.
    pub defrag_memcap: usize,
    /// Datagrams the defragmenter tracks at once.
    pub defrag_max_datagrams: usize,
    /// Incomplete datagrams older than this are dropped (packet time).
    pub defrag_timeout_ns: u64,
    /// Tunnels decoded inside each other at most; deeper is `too_many_layers`.
    pub max_tunnel_depth: u8,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            defrag_memcap: 32 << 20,
            defrag_max_datagrams: 65536,
            defrag_timeout_ns: 60_000_000_000,
            max_tunnel_depth: 4,
        }
    }
}

/// Outcome of [`Decoder::decode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Decoded; `out` describes the frame.
    Ok,
    /// An IP fragment was consumed by defragmentation (held, or dropped and
    /// counted): nothing to process now. `out.l3` describes the fragment.
    FragmentHeld,
    /// A fragment completed a datagram: `out` offsets point into
    /// [`Decoder::reassembled`].
    Reassembled,
    /// Unusable at L3 (truncated, non-IP such as ARP, unknown ethertype,
    /// unsupported link type): counted, `out.l3` is None.
    NoL3,
}

/// Kind of a tunnel layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TunnelKind {
    /// GRE (v0) carrying IP, Ethernet (TEB) or MPLS.
    Gre,
    /// ERSPAN type I, II or III over GRE.
    Erspan,
    /// PPTP enhanced GRE (v1) carrying PPP.
    Pptp,
    /// VXLAN (UDP 4789).
    Vxlan,
    /// VXLAN-GPE (UDP 4790).
    VxlanGpe,
    /// Geneve (UDP 6081).
    Geneve,
    /// GTP-U (UDP 2152).
    GtpU,
    /// Teredo (UDP, port 3544 or a Teredo address inside).
    Teredo,
    /// IPv4 in IPv4 (proto 4).
    IpInIp,
    /// IPv6 in IPv4 (proto 41).
    SixInFour,
    /// IPv4 in IPv6 (next header 4).
    FourInSix,
    /// IPv6 in IPv6 (next header 41).
    SixInSix,
    /// AYIYA (UDP 5072).
    Ayiya,
}

/// One tunnel: its kind and the outer IP pair (and ports for UDP tunnels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TunnelLayer {
    /// Tunnel kind.
    pub kind: TunnelKind,
    /// Outer source address.
    pub src: IpAddr,
    /// Outer destination address.
    pub dst: IpAddr,
    /// Outer IP protocol (17 for UDP tunnels, 47 for GRE, 4/41 for IP-in-IP).
    pub proto: u8,
    /// Outer UDP source port (0 if not UDP).
    pub sport: u16,
    /// Outer UDP destination port (0 if not UDP).
    pub dport: u16,
}

impl Default for TunnelLayer {
    /// A placeholder; entries past `Packet::tunnel_count` hold no meaning.
    fn default() -> Self {
        TunnelLayer {
            kind: TunnelKind::Gre,
            src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            proto: 0,
            sport: 0,
            dport: 0,
        }
    }
}

/// The innermost IP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L3 {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// 4 or 6.
    pub version: u8,
    /// Upper-layer protocol (after IPv6 extension headers).
    pub proto: u8,
    /// TTL / hop limit.
    pub ttl: u8,
    /// TOS / traffic class.
    pub tos: u8,
    /// IPv4 identification, or the IPv6 fragment id if any.
    pub id: u32,
    /// IPv4 total length / 40 + IPv6 payload length, as far as captured.
    pub total_len: u32,
    /// IPv4 header length / IPv6 header plus extension headers.
    pub hdr_len: u16,
    /// Don't fragment.
    pub df: bool,
    /// More fragments.
    pub mf: bool,
    /// IPv4 reserved bit.
    pub rb: bool,
    /// Fragment offset in 8-byte units.
    pub frag_offset: u16,
    /// IPv4 options seen, [`ipopt`] bits.
    pub ipopts: u16,
    /// IPv6 extension headers seen, [`exthdr`] bits.
    pub ipv6_exthdrs: u16,
}

/// TCP header values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flags: FIN=1 SYN=2 RST=4 PSH=8 ACK=16 URG=32 ECE=64 CWR=128.
    pub flags: u8,
    /// Window (unscaled).
    pub window: u16,
    /// Header length in bytes.
    pub hdr_len: u8,
    /// MSS option.
    pub mss: Option<u16>,
    /// Window scale option.
    pub wscale: Option<u8>,
    /// SACK-permitted option.
    pub sack_ok: bool,
    /// Timestamp value option.
    pub tsval: Option<u32>,
}

/// The innermost transport header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum L4 {
    /// None (no IP, a non-first fragment, or a malformed transport header).
    #[default]
    None,
    /// TCP.
    Tcp(TcpInfo),
    /// UDP.
    Udp {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
        /// Length field.
        len: u16,
    },
    /// ICMPv4 (id/seq are bytes 4..8, meaningful for echo).
    Icmp4 {
        /// Type.
        itype: u8,
        /// Code.
        code: u8,
        /// Identifier.
        id: u16,
        /// Sequence.
        seq: u16,
    },
    /// ICMPv6.
    Icmp6 {
        /// Type.
        itype: u8,
        /// Code.
        code: u8,
        /// Identifier.
        id: u16,
        /// Sequence.
        seq: u16,
    },
    /// SCTP common header.
    Sctp {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
    },
    /// Another IP protocol (GRE not decoded further, ESP, ...).
    Other(u8),
}

/// What one frame decoded to. Offsets are into the frame, or into
/// [`Decoder::reassembled`] after [`Decoded::Reassembled`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Packet {
    /// VLAN ids, outermost first (tags inside tunnels count too, up to 3);
    /// entries past `vlan_count` are stale.
    pub vlan: [u16; 3],
    /// Number of valid entries in `vlan`.
    pub vlan_count: u8,
    /// Tunnels, outermost first; entries past `tunnel_count` are stale (use [`Packet::tunnels`]).
    pub tunnels: [TunnelLayer; 4],
    /// Number of valid entries in `tunnels`.
    pub tunnel_count: u8,
    /// Innermost IP layer.
    pub l3: Option<L3>,
    /// Innermost transport layer.
    pub l4: L4,
    /// Offset of the innermost IP header.
    pub ip_off: u32,
    /// Offset of the innermost transport header.
    pub l4_off: u32,
    /// Offset of the transport payload.
    pub payload_off: u32,
    /// Length of the transport payload (as captured, without link padding).
    pub payload_len: u32,
    /// This packet is (or was reassembled from) a fragment.
    pub frag: bool,
    /// The ARP message, for an ARP frame (which has no IP layer).
    pub arp: Option<Arp>,
}

/// An ARP message over Ethernet for IPv4 (RFC 826).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arp {
    /// Hardware type (1: Ethernet).
    pub htype: u16,
    /// Protocol type (0x0800: IPv4).
    pub ptype: u16,
    /// Opcode (1 request, 2 reply).
    pub op: u16,
    /// Sender hardware address.
    pub sha: [u8; 6],
    /// Sender protocol address.
    pub spa: Ipv4Addr,
    /// Target hardware address.
    pub tha: [u8; 6],
    /// Target protocol address.
    pub tpa: Ipv4Addr,
}

/// Reads an ARP message; only 6-byte hardware and 4-byte protocol
/// addresses (Ethernet and IPv4), None for a cut or other one.
pub fn parse_arp(d: &[u8]) -> Option<Arp> {
    let b = d.get(..28)?;
    if b[4] != 6 || b[5] != 4 {
        return None;
    }
    let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    let mac = |i: usize| [b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5]];
    let ip = |i: usize| Ipv4Addr::new(b[i], b[i + 1], b[i + 2], b[i + 3]);
    Some(Arp {
        htype: u16_at(0),
        ptype: u16_at(2),
        op: u16_at(6),
        sha: mac(8),
        spa: ip(14),
        tha: mac(18),
        tpa: ip(24),
    })
}

impl Packet {
    /// (source, destination) ports; (0, 0) for protocols without ports (ICMP too).
    pub fn ports(&self) -> (u16, u16) {
        match self.l4 {
            L4::Tcp(t) => (t.sport, t.dport),
            L4::Udp { sport, dport, .. } | L4::Sctp { sport, dport } => (sport, dport),
            _ => (0, 0),
        }
    }

    /// IP protocol of the innermost layer (0 without L3).
    pub fn proto(&self) -> u8 {
        self.l3.map_or(0, |l| l.proto)
    }

    /// Valid tunnel entries.
    pub fn tunnels(&self) -> &[TunnelLayer] {
        &self.tunnels[..usize::from(self.tunnel_count).min(self.tunnels.len())]
    }
}

/// Events remembered per decode call for [`Decoder::last_anomalies`].
const LAST_EVENTS: usize = 8;
/// Bound on layers walked per frame, whatever the tunnel depth.
const MAX_LAYERS: usize = 40;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layer {
    Ethernet,
    /// The bytes at the offset are the payload of this ethertype.
    EtherType(u16),
    Ipv4,
    Ipv6,
    /// IPv4 or IPv6 by version nibble.
    IpAuto,
    Ppp,
    ErspanII,
    ErspanIII,
    /// Transport protocol after an IP header.
    Proto(u8),
}

/// Decodes frames; one per worker (holds defragmentation state).
#[derive(Debug)]
pub struct Decoder {
    /// Counters since creation.
    pub counters: DecodeCounters,
    cfg: DecoderConfig,
    defrag: Defragmenter,
    reasm: Vec<u8>,
    spare: Vec<u8>,
    reasm_set: bool,
    last: [DecodeEvent; LAST_EVENTS],
    last_n: usize,
    raised: bool,
}

impl Decoder {
    /// A decoder with the given limits.
    pub fn new(cfg: DecoderConfig) -> Self {
        Decoder {
            counters: DecodeCounters::default(),
            cfg,
            defrag: Defragmenter::new(DefragConfig {
                memcap: cfg.defrag_memcap,
                max_datagrams: cfg.defrag_max_datagrams,
                timeout_ns: cfg.defrag_timeout_ns,
            }),
            reasm: Vec::new(),
            spare: Vec::new(),
            reasm_set: false,
            last: [DecodeEvent::TooManyLayers; LAST_EVENTS],
            last_n: 0,
            raised: false,
        }
    }

    /// After [`Decoded::Reassembled`]: the reassembled bytes `out`'s offsets
    /// point into (the vlan/tunnel values in `out` are those of the last
    /// fragment's outer stack). Empty otherwise.
    pub fn reassembled(&self) -> &[u8] {
        if self.reasm_set {
            &self.reasm
        } else {
            &[]
        }
    }

    /// Expires defrag state older than the timeout; call with packet time.
    pub fn expire(&mut self, now_ns: u64) {
        self.defrag.expire(now_ns, &mut self.counters);
    }

    /// Anomalies raised by the last `decode` call (the first 8 of them).
    pub fn last_anomalies(&self) -> &[DecodeEvent] {
        &self.last[..self.last_n]
    }

    /// Datagrams waiting for fragments.
    pub fn defrag_in_progress(&self) -> usize {
        self.defrag.in_progress()
    }

    /// Decodes one captured frame of link type `dlt` seen at `ts_ns` (ns since
    /// epoch); fills `out`. Counts `decoder.pkts`/`bytes` and per-layer counters.
    pub fn decode(&mut self, dlt: u32, ts_ns: u64, frame: &[u8], out: &mut Packet) -> Decoded {
        // Entries of `vlan` and `tunnels` past their counts hold no meaning,
        // so only the counted and scalar fields are reset (cheaper than a
        // whole `Packet::default()`).
        out.vlan_count = 0;
        out.tunnel_count = 0;
        out.l3 = None;
        out.l4 = L4::None;
        out.arp = None;
        out.ip_off = 0;
        out.l4_off = 0;
        out.payload_off = 0;
        out.payload_len = 0;
        out.frag = false;
        if self.reasm_set {
            // Recycle the previous reassembly buffer.
            let old = std::mem::take(&mut self.reasm);
            if self.spare.capacity() < old.capacity() {
                self.spare = old;
            }
            self.reasm_set = false;
        }
        self.last_n = 0;
        self.raised = false;
        let c = &mut self.counters;
        c.bump(Stat::Pkts);
        c.add(Stat::Bytes, frame.len() as u64);
        c.saw_size(frame.len() as u64);
        // pcap LINKTYPE values may carry FCS information in the upper bits:
        // bit 26 set means the frames end with (bits 28-31) 16-bit words of FCS.
        let (dlt, frame) = if dlt > 0xffff {
            let fcs = if dlt & 0x0400_0000 != 0 {
                ((dlt >> 28) as usize) * 2
            } else {
                0
            };
            (dlt & 0xffff, &frame[..frame.len().saturating_sub(fcs)])
        } else {
            (dlt, frame)
        };

        let start = match dlt {
            dlt::ETHERNET => Ok((Layer::Ethernet, 0)),
            dlt::RAW | dlt::RAW_14 | dlt::RAW_101 => {
                c.bump(Stat::Raw);
                Ok((Layer::IpAuto, 0))
            }
            dlt::IPV4 => {
                c.bump(Stat::Raw);
                Ok((Layer::Ipv4, 0))
            }
            dlt::IPV6 => {
                c.bump(Stat::Raw);
                Ok((Layer::Ipv6, 0))
            }
            dlt::NULL | dlt::LOOP => {
                c.bump(Stat::Null);
                link::null_family(frame, dlt == dlt::LOOP)
                    .map(|v| (if v == 4 { Layer::Ipv4 } else { Layer::Ipv6 }, 4))
            }
            dlt::LINUX_SLL => {
                c.bump(Stat::Sll);
                link::sll(frame).map(|(p, hl)| (Layer::EtherType(p), hl))
            }
            dlt::LINUX_SLL2 => {
                c.bump(Stat::Sll2);
                link::sll2(frame).map(|(p, hl)| (Layer::EtherType(p), hl))
            }
            dlt::PPP | dlt::PPP_HDLC => Ok((Layer::Ppp, 0)),
            dlt::NFLOG => match link::nflog(frame) {
                Some((v, off, len)) => {
                    c.bump(Stat::Nflog);
                    let layer = if v == 4 { Layer::Ipv4 } else { Layer::Ipv6 };
                    let r = self.decode_from(frame, layer, off, off + len, ts_ns, out, 0);
                    return self.finish(r);
                }
                None => return Decoded::NoL3,
            },
            dlt::C_HDLC => {
                c.bump(Stat::Chdlc);
                link::chdlc(frame).map(|(p, hl)| (Layer::EtherType(p), hl))
            }
            dlt::RADIOTAP | dlt::IEEE802_11 => {
                let rt = if dlt == dlt::RADIOTAP {
                    link::radiotap(frame)
                } else {
                    Some((0, false))
                };
                match rt {
                    Some((hl, fcs)) => {
                        let end = if fcs {
                            frame.len().saturating_sub(4)
                        } else {
                            frame.len()
                        };
                        match frame.get(hl..end).and_then(link::ieee80211_data) {
                            Some((et, l)) => {
                                c.bump(Stat::Ieee80211);
                                let r = self.decode_from(
                                    frame,
                                    Layer::EtherType(et),
                                    hl + l,
                                    end,
                                    ts_ns,
                                    out,
                                    0,
                                );
                                return self.finish(r);
                            }
                            None => return Decoded::NoL3,
                        }
                    }
                    None => return Decoded::NoL3,
                }
            }
            other => {
                c.add_unsupported(other, 1);
                return Decoded::NoL3;
            }
        };
        let r = match start {
            Ok((layer, off)) => self.decode_from(frame, layer, off, frame.len(), ts_ns, out, 0),
            Err(e) => {
                self.ev(e);
                Decoded::NoL3
            }
        };
        self.finish(r)
    }

    fn finish(&mut self, r: Decoded) -> Decoded {
        if self.raised {
            self.counters.bump(Stat::Invalid);
        }
        r
    }

    #[inline]
    fn ev(&mut self, e: DecodeEvent) {
        self.counters.raise(e);
        self.raised = true;
        if self.last_n < LAST_EVENTS {
            self.last[self.last_n] = e;
            self.last_n += 1;
        }
    }

    /// Stops at a layer that gives no IP: inside a tunnel the outer packet is
    /// the result (its tunnel entry is dropped), otherwise there is no L3.
    fn no_l3(out: &mut Packet, tunnel_at_entry: u8) -> Decoded {
        if out.tunnel_count > tunnel_at_entry && out.l3.is_some() {
            out.tunnel_count -= 1;
            Decoded::Ok
        } else {
            out.l3 = None;
            out.l4 = L4::None;
            Decoded::NoL3
        }
    }

    /// Records a tunnel whose outer IP pair is the current `out.l3`; false
    /// (and `too_many_layers`) when the depth limit is reached.
    fn push_tunnel(&mut self, out: &mut Packet, kind: TunnelKind, sport: u16, dport: u16) -> bool {
        let Some(l3) = out.l3 else {
            return false;
        };
        let n = usize::from(out.tunnel_count);
        if n >= usize::from(self.cfg.max_tunnel_depth) || n >= out.tunnels.len() {
            self.counters.bump(Stat::TooManyLayers);
            self.ev(DecodeEvent::TooManyLayers);
            return false;
        }
        out.tunnels[n] = TunnelLayer {
            kind,
            src: l3.src,
            dst: l3.dst,
            proto: l3.proto,
            sport,
            dport,
        };
        out.tunnel_count += 1;
        true
    }

    fn frag_key(out: &Packet, src: IpAddr, dst: IpAddr, id: u32, proto: u8) -> FragKey {
        let tunnel = if out.tunnel_count == 0 {
            0
        } else {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            out.tunnels().hash(&mut h);
            h.finish()
        };
        let mut vlan = [0u16; 3];
        let n = usize::from(out.vlan_count).min(3);
        vlan[..n].copy_from_slice(&out.vlan[..n]);
        FragKey {
            src,
            dst,
            id,
            proto,
            vlan,
            tunnel,
        }
    }

    /// Hands a fragment to the defragmenter; on completion decodes the datagram.
    fn defrag_step(&mut self, f: Fragment<'_>, out: &mut Packet, depth: u8) -> Decoded {
        out.frag = true;
        out.l4 = L4::None;
        self.defrag.expire(f.ts_ns, &mut self.counters);
        let mut buf = std::mem::take(&mut self.spare);
        let mut pending = [DecodeEvent::TooManyLayers; 4];
        let mut np = 0;
        let r = self.defrag.insert(
            &f,
            &mut self.counters,
            &mut |e| {
                if np < pending.len() {
                    pending[np] = e;
                    np += 1;
                }
            },
            &mut buf,
        );
        for e in &pending[..np] {
            self.ev(*e);
        }
        if r != Insert::Completed {
            self.spare = buf;
            return Decoded::FragmentHeld;
        }
        let layer = if f.v6 { Layer::Ipv6 } else { Layer::Ipv4 };
        let len = buf.len();
        let tunnels_before = out.tunnel_count;
        let r = self.decode_from(&buf, layer, 0, len, f.ts_ns, out, depth + 1);
        out.frag = true;
        // The rebuilt IPv6 header has no fragment header: when it is the
        // innermost IP layer, say where it came from.
        if f.v6 && out.tunnel_count == tunnels_before {
            if let Some(l3) = out.l3.as_mut() {
                l3.id = f.key.id;
                l3.ipv6_exthdrs |= exthdr::FRAG;
            }
        }
        if !self.reasm_set {
            self.reasm = buf;
            self.reasm_set = true;
        } else if self.spare.capacity() < buf.capacity() {
            self.spare = buf;
        }
        match r {
            Decoded::Ok => Decoded::Reassembled,
            other => other,
        }
    }

    /// Sets transport offsets for a header of `hl` bytes at `off`.
    fn set_l4(out: &mut Packet, off: usize, hl: usize, end: usize) {
        out.l4_off = off as u32;
        let p = (off + hl).min(end);
        out.payload_off = p as u32;
        out.payload_len = (end - p) as u32;
    }

    #[allow(clippy::too_many_arguments)]
    fn decode_from(
        &mut self,
        buf: &[u8],
        mut layer: Layer,
        mut off: usize,
        mut end: usize,
        ts_ns: u64,
        out: &mut Packet,
        depth: u8,
    ) -> Decoded {
        if depth > self.cfg.max_tunnel_depth.saturating_add(1) {
            self.ev(DecodeEvent::TooManyLayers);
            return Decoded::FragmentHeld;
        }
        let entry_tunnels = out.tunnel_count;
        end = end.min(buf.len());
        for _ in 0..MAX_LAYERS {
            let data = buf.get(off..end).unwrap_or(&[]);
            match layer {
                Layer::Ethernet => {
                    let f = match EthernetFrame::new_checked(data) {
                        Ok(f) => f,
                        Err(e) => {
                            self.ev(e);
                            return Self::no_l3(out, entry_tunnels);
                        }
                    };
                    self.counters.bump(Stat::Ethernet);
                    layer = Layer::EtherType(f.ethertype_raw());
                    off += link::ETHERNET_HEADER_LEN;
                }
                Layer::EtherType(et) => match et {
                    0x0800 => layer = Layer::Ipv4,
                    0x86dd => layer = Layer::Ipv6,
                    0x8100 | 0x88a8 | 0x9100 => {
                        let (id, inner) = match tunnel::vlan(data) {
                            Ok(v) => v,
                            Err(e) => {
                                self.ev(e);
                                return Self::no_l3(out, entry_tunnels);
                            }
                        };
                        let n = usize::from(out.vlan_count);
                        if n >= out.vlan.len() {
                            self.ev(DecodeEvent::VlanTooManyLayers);
                            return Self::no_l3(out, entry_tunnels);
                        }
                        out.vlan[n] = id;
                        out.vlan_count += 1;
                        self.counters.bump(Stat::Vlan);
                        match n {
                            1 => self.counters.bump(Stat::VlanQinq),
                            2 => self.counters.bump(Stat::VlanQinqinq),
                            _ => {}
                        }
                        off += 4;
                        layer = Layer::EtherType(inner);
                    }
                    0x8847 | 0x8848 => {
                        self.counters.bump(Stat::Mpls);
                        match tunnel::mpls(data, &mut |e| self.ev(e)) {
                            Ok((next, n)) => {
                                off += n;
                                layer = match next {
                                    MplsNext::Ipv4 => Layer::Ipv4,
                                    MplsNext::Ipv6 => Layer::Ipv6,
                                    MplsNext::EthernetPw => Layer::Ethernet,
                                };
                            }
                            Err(e) => {
                                self.ev(e);
                                return Self::no_l3(out, entry_tunnels);
                            }
                        }
                    }
                    0x894f => {
                        self.counters.bump(Stat::Nsh);
                        match tunnel::nsh(data) {
                            Ok((next, hl)) => {
                                off += hl;
                                layer = match next {
                                    NshNext::Ipv4 => Layer::Ipv4,
                                    NshNext::Ipv6 => Layer::Ipv6,
                                    NshNext::Ethernet => Layer::Ethernet,
                                    NshNext::Mpls => Layer::EtherType(0x8847),
                                };
                            }
                            Err(e) => {
                                self.ev(e);
                                return Self::no_l3(out, entry_tunnels);
                            }
                        }
                    }
                    0x8864 => {
                        self.counters.bump(Stat::Pppoe);
                        match tunnel::pppoe_session(data) {
                            Ok(hl) => {
                                let plen = usize::from(u16::from_be_bytes([data[4], data[5]]));
                                end = end.min(off + hl + plen);
                                off += hl;
                                layer = Layer::Ppp;
                            }
                            Err(e) => {
                                self.ev(e);
                                return Self::no_l3(out, entry_tunnels);
                            }
                        }
                    }
                    0x8863 => {
                        self.counters.bump(Stat::Pppoe);
                        return Self::no_l3(out, entry_tunnels);
                    }
                    0x8926 => match tunnel::vntag(data) {
                        Ok(inner) => {
                            self.counters.bump(Stat::Vntag);
                            off += 6;
                            layer = Layer::EtherType(inner);
                        }
                        Err(e) => {
                            self.ev(e);
                            return Self::no_l3(out, entry_tunnels);
                        }
                    },
                    0x88e7 => {
                        // 802.1ah: a 4-byte I-TAG, then the customer's Ethernet header.
                        if data.len() < 4 + link::ETHERNET_HEADER_LEN {
                            self.ev(DecodeEvent::Ieee8021ahHeaderTooSmall);
                            return Self::no_l3(out, entry_tunnels);
                        }
                        self.counters.bump(Stat::Ieee8021ah);
                        off += 4;
                        layer = Layer::Ethernet;
                    }
                    0x6558 => layer = Layer::Ethernet,
                    0x880b => layer = Layer::Ppp,
                    0x0806 => {
                        self.counters.bump(Stat::Arp);
                        out.arp = parse_arp(data);
                        if out.arp.is_none() {
                            self.counters.bump(Stat::ArpUnreadable);
                        }
                        return Self::no_l3(out, entry_tunnels);
                    }
                    other => {
                        self.counters.bump(Stat::UnknownEthertype);
                        // 802.3 length fields (LLC: STP, CDP, ...) are not anomalies.
                        if other > 1500 {
                            self.ev(DecodeEvent::EthernetUnknownEthertype);
                        }
                        return Self::no_l3(out, entry_tunnels);
                    }
                },
                Layer::Ppp => {
                    self.counters.bump(Stat::Ppp);
                    match link::ppp(data) {
                        Ok((PppNext::Ipv4, hl)) => {
                            off += hl;
                            layer = Layer::Ipv4;
                        }
                        Ok((PppNext::Ipv6, hl)) => {
                            off += hl;
                            layer = Layer::Ipv6;
                        }
                        Ok((PppNext::Mpls, hl)) => {
                            off += hl;
                            layer = Layer::EtherType(0x8847);
                        }
                        Ok((PppNext::Control, _)) => return Self::no_l3(out, entry_tunnels),
                        Ok((PppNext::Unsupported, _)) => {
                            self.ev(DecodeEvent::PppUnsupProto);
                            return Self::no_l3(out, entry_tunnels);
                        }
                        Err(e) => {
                            self.ev(e);
                            return Self::no_l3(out, entry_tunnels);
                        }
                    }
                }
                Layer::ErspanII | Layer::ErspanIII => {
                    let r = if layer == Layer::ErspanII {
                        tunnel::erspan2(data)
                    } else {
                        tunnel::erspan3(data)
                    };
                    match r {
                        Ok(hl) => {
                            off += hl;
                            layer = Layer::Ethernet;
                        }
                        Err(e) => {
                            self.ev(e);
                            return Self::no_l3(out, entry_tunnels);
                        }
                    }
                }
                Layer::IpAuto => match data.first().map(|b| b >> 4) {
                    Some(4) => layer = Layer::Ipv4,
                    Some(6) => layer = Layer::Ipv6,
                    _ => {
                        self.ev(DecodeEvent::IprawInvalidIpVersion);
                        return Self::no_l3(out, entry_tunnels);
                    }
                },
                Layer::Ipv4 => {
                    let p = match Ipv4Packet::new_checked(data) {
                        Ok(p) => p,
                        Err(IpError::Event(e)) => {
                            self.ev(e);
                            return Self::no_l3(out, entry_tunnels);
                        }
                    };
                    self.counters.bump(Stat::Ipv4);
                    let hl = p.header_len();
                    let tl = usize::from(p.total_len());
                    let ip_end = if tl > data.len() {
                        self.ev(DecodeEvent::Ipv4TruncPkt);
                        data.len()
                    } else {
                        tl
                    };
                    let ipopts = if hl > 20 {
                        ip::parse_ipv4_options(p.options(), &mut |e| self.ev(e))
                    } else {
                        0
                    };
                    let proto = p.protocol_raw();
                    let (src, dst) = (IpAddr::V4(p.src_addr()), IpAddr::V4(p.dst_addr()));
                    out.l3 = Some(L3 {
                        src,
                        dst,
                        version: 4,
                        proto,
                        ttl: p.ttl(),
                        tos: p.tos(),
                        id: u32::from(p.ident()),
                        total_len: ip_end as u32,
                        hdr_len: hl as u16,
                        df: p.df(),
                        mf: p.mf(),
                        rb: p.rb(),
                        frag_offset: p.frag_offset(),
                        ipopts,
                        ipv6_exthdrs: 0,
                    });
                    out.l4 = L4::None;
                    out.ip_off = off as u32;
                    Self::set_l4(out, off + hl, 0, off + ip_end);
                    end = off + ip_end;
                    if p.mf() || p.frag_offset() != 0 {
                        let f = Fragment {
                            key: Self::frag_key(out, src, dst, u32::from(p.ident()), proto),
                            v6: false,
                            offset: u32::from(p.frag_offset()) * 8,
                            more: p.mf(),
                            header: &data[..hl],
                            next_header: 0,
                            payload: &data[hl..ip_end],
                            ts_ns,
                        };
                        return self.defrag_step(f, out, depth);
                    }
                    off += hl;
                    layer = Layer::Proto(proto);
                }
                Layer::Ipv6 => {
                    let p = match Ipv6Packet::new_checked(data) {
                        Ok(p) => p,
                        Err(IpError::Event(e)) => {
                            self.ev(e);
                            return Self::no_l3(out, entry_tunnels);
                        }
                    };
                    self.counters.bump(Stat::Ipv6);
                    let plen = usize::from(p.payload_len());
                    let ip_end = if plen == 0 {
                        data.len()
                    } else if ip::IPV6_HEADER_LEN + plen > data.len() {
                        self.ev(DecodeEvent::Ipv6TruncPkt);
                        data.len()
                    } else {
                        ip::IPV6_HEADER_LEN + plen
                    };
                    let pkt = &data[..ip_end];
                    let x = ip::walk_ipv6_ext(pkt, p.next_header_raw(), &mut |e| self.ev(e));
                    let (src, dst) = (IpAddr::V6(p.src_addr()), IpAddr::V6(p.dst_addr()));
                    let frag = x.frag.filter(|f| f.offset != 0 || f.more);
                    out.l3 = Some(L3 {
                        src,
                        dst,
                        version: 6,
                        proto: if frag.is_some_and(|f| f.offset != 0) {
                            frag.map_or(0, |f| f.next_header)
                        } else {
                            x.proto
                        },
                        ttl: p.hop_limit(),
                        tos: p.traffic_class(),
                        id: x.frag.map_or(0, |f| f.id),
                        total_len: ip_end as u32,
                        hdr_len: x.l4_off as u16,
                        df: false,
                        mf: x.frag.is_some_and(|f| f.more),
                        rb: false,
                        frag_offset: x.frag.map_or(0, |f| (f.offset / 8) as u16),
                        ipopts: 0,
                        ipv6_exthdrs: x.bits,
                    });
                    out.l4 = L4::None;
                    out.ip_off = off as u32;
                    Self::set_l4(out, off + x.l4_off, 0, off + ip_end);
                    end = off + ip_end;
                    if let Some(fr) = frag {
                        let f = Fragment {
                            key: Self::frag_key(out, src, dst, fr.id, 0),
                            v6: true,
                            offset: fr.offset,
                            more: fr.more,
                            header: &pkt[..ip::IPV6_HEADER_LEN],
                            next_header: fr.next_header,
                            payload: pkt.get(fr.hdr_off + 8..).unwrap_or(&[]),
                            ts_ns,
                        };
                        return self.defrag_step(f, out, depth);
                    }
                    off += x.l4_off;
                    if x.bits & (exthdr::ESP | exthdr::NONE) != 0 {
                        if x.bits & exthdr::ESP != 0 {
                            self.counters.bump(Stat::Esp);
                        }
                        out.l4 = L4::Other(x.proto);
                        return Decoded::Ok;
                    }
                    layer = Layer::Proto(x.proto);
                }
                Layer::Proto(proto) => {
                    let v6 = out.l3.is_some_and(|l| l.version == 6);
                    match proto {
                        6 => {
                            self.counters.bump(Stat::Tcp);
                            match transport::decode_tcp(data, &mut |e| self.ev(e)) {
                                Ok((t, hl)) => {
                                    out.l4 = L4::Tcp(t);
                                    Self::set_l4(out, off, hl, end);
                                }
                                Err(e) => self.ev(e),
                            }
                            return Decoded::Ok;
                        }
                        17 => {
                            self.counters.bump(Stat::Udp);
                            let (sport, dport, ulen) = match transport::decode_udp(data) {
                                Ok(v) => v,
                                Err(e) => {
                                    self.ev(e);
                                    return Decoded::Ok;
                                }
                            };
                            let ul = usize::from(ulen);
                            if ul < 8 {
                                self.ev(DecodeEvent::UdpLenInvalid);
                                return Decoded::Ok;
                            }
                            if ul > data.len() {
                                self.ev(DecodeEvent::UdpPktTooSmall);
                            } else {
                                end = off + ul;
                            }
                            out.l4 = L4::Udp {
                                sport,
                                dport,
                                len: ulen,
                            };
                            Self::set_l4(out, off, 8, end);
                            let payload = buf.get(off + 8..end).unwrap_or(&[]);
                            match Self::udp_tunnel(payload, sport, dport) {
                                Some((kind, next, hl, stat)) => {
                                    if !self.push_tunnel(out, kind, sport, dport) {
                                        return Decoded::Ok;
                                    }
                                    self.counters.bump(stat);
                                    off += 8 + hl;
                                    layer = next;
                                }
                                None => return Decoded::Ok,
                            }
                        }
                        1 | 58 => {
                            if proto == 58 && !v6 {
                                self.ev(DecodeEvent::Ipv4Icmpv6);
                            } else if proto == 1 && v6 {
                                self.ev(DecodeEvent::Ipv6Icmpv4);
                            }
                            match transport::decode_icmp(data) {
                                Some((itype, code, id, seq)) => {
                                    out.l4 = if proto == 1 {
                                        self.counters.bump(Stat::Icmpv4);
                                        L4::Icmp4 {
                                            itype,
                                            code,
                                            id,
                                            seq,
                                        }
                                    } else {
                                        self.counters.bump(Stat::Icmpv6);
                                        L4::Icmp6 {
                                            itype,
                                            code,
                                            id,
                                            seq,
                                        }
                                    };
                                    Self::set_l4(out, off, 8, end);
                                }
                                None => self.ev(if proto == 1 {
                                    DecodeEvent::Icmpv4PktTooSmall
                                } else {
                                    DecodeEvent::Icmpv6PktTooSmall
                                }),
                            }
                            return Decoded::Ok;
                        }
                        132 => {
                            self.counters.bump(Stat::Sctp);
                            match transport::decode_sctp(data) {
                                Some((sport, dport)) => {
                                    out.l4 = L4::Sctp { sport, dport };
                                    Self::set_l4(out, off, 12, end);
                                }
                                None => self.ev(DecodeEvent::SctpPktTooSmall),
                            }
                            return Decoded::Ok;
                        }
                        47 => {
                            self.counters.bump(Stat::Gre);
                            out.l4 = L4::Other(47);
                            let g = match tunnel::gre(data) {
                                Ok(g) => g,
                                Err(e) => {
                                    self.ev(e);
                                    return Decoded::Ok;
                                }
                            };
                            Self::set_l4(out, off, g.hdr_len, end);
                            let (kind, next) = if g.version == 1 {
                                if data.len() <= g.hdr_len {
                                    return Decoded::Ok; // PPTP acknowledgement only
                                }
                                (TunnelKind::Pptp, Layer::Ppp)
                            } else {
                                match g.proto {
                                    0x88be if g.seq => (TunnelKind::Erspan, Layer::ErspanII),
                                    0x88be => (TunnelKind::Erspan, Layer::Ethernet),
                                    0x22eb => (TunnelKind::Erspan, Layer::ErspanIII),
                                    p => (TunnelKind::Gre, Layer::EtherType(p)),
                                }
                            };
                            if !self.push_tunnel(out, kind, 0, 0) {
                                return Decoded::Ok;
                            }
                            if kind == TunnelKind::Erspan {
                                self.counters.bump(Stat::Erspan);
                            }
                            off += g.hdr_len;
                            layer = next;
                        }
                        4 | 41 => {
                            out.l4 = L4::Other(proto);
                            Self::set_l4(out, off, 0, end);
                            let inner_ok = match proto {
                                4 => Ipv4Packet::new_checked(data).is_ok(),
                                _ => Ipv6Packet::new_checked(data).is_ok(),
                            };
                            if v6 && !inner_ok {
                                self.ev(match (proto, data.len()) {
                                    (4, n) if n < 20 => DecodeEvent::Ipv6Ipv4InIpv6TooSmall,
                                    (4, _) => DecodeEvent::Ipv6Ipv4InIpv6WrongVersion,
                                    (_, n) if n < 40 => DecodeEvent::Ipv6Ipv6InIpv6TooSmall,
                                    _ => DecodeEvent::Ipv6Ipv6InIpv6WrongVersion,
                                });
                                return Decoded::Ok;
                            }
                            let (kind, stat) = match (v6, proto) {
                                (false, 4) => (TunnelKind::IpInIp, Stat::Ipv4InIpv4),
                                (false, _) => (TunnelKind::SixInFour, Stat::Ipv6InIpv4),
                                (true, 4) => (TunnelKind::FourInSix, Stat::Ipv4InIpv6),
                                (true, _) => (TunnelKind::SixInSix, Stat::Ipv6InIpv6),
                            };
                            if !self.push_tunnel(out, kind, 0, 0) {
                                return Decoded::Ok;
                            }
                            self.counters.bump(stat);
                            layer = if proto == 4 { Layer::Ipv4 } else { Layer::Ipv6 };
                        }
                        other => {
                            if other == 50 {
                                self.counters.bump(Stat::Esp);
                            }
                            out.l4 = L4::Other(other);
                            Self::set_l4(out, off, 0, end);
                            return Decoded::Ok;
                        }
                    }
                }
            }
        }
        self.counters.bump(Stat::TooManyLayers);
        self.ev(DecodeEvent::TooManyLayers);
        Self::no_l3(out, entry_tunnels)
    }

    /// Recognises a UDP tunnel whose inner packet is plausible: (kind, next
    /// layer, tunnel header length, stat).
    fn udp_tunnel(
        payload: &[u8],
        sport: u16,
        dport: u16,
    ) -> Option<(TunnelKind, Layer, usize, Stat)> {
        let either = |p: u16| sport == p || dport == p;
        if dport == 4789 {
            if let Some(hl) = tunnel::vxlan(payload) {
                return Some((TunnelKind::Vxlan, Layer::Ethernet, hl, Stat::Vxlan));
            }
        }
        if dport == 4790 {
            if let Some(next) = tunnel::vxlan_gpe(payload) {
                let l = match next {
                    tunnel::GpeNext::Ipv4 => Layer::Ipv4,
                    tunnel::GpeNext::Ipv6 => Layer::Ipv6,
                    tunnel::GpeNext::Ethernet => Layer::Ethernet,
                };
                return Some((TunnelKind::VxlanGpe, l, 8, Stat::Vxlan));
            }
        }
        if dport == 6081 {
            if let Some((hl, proto)) = tunnel::geneve(payload) {
                return Some((
                    TunnelKind::Geneve,
                    Layer::EtherType(proto),
                    hl,
                    Stat::Geneve,
                ));
            }
        }
        if either(2152) {
            if let Some(hl) = tunnel::gtpu(payload) {
                return Some((TunnelKind::GtpU, Layer::IpAuto, hl, Stat::GtpU));
            }
        }
        if either(5072) {
            if let Some((hl, next)) = tunnel::ayiya(payload) {
                let l = if next == 4 { Layer::Ipv4 } else { Layer::Ipv6 };
                return Some((TunnelKind::Ayiya, l, hl, Stat::Ayiya));
            }
        }
        // Teredo relays use any port: off 3544, accept only when an inner
        // address is a Teredo address (2001:0::/32).
        if payload.len() >= 40 {
            if let Some(hl) = tunnel::teredo(payload) {
                let teredo_addr = |a: &[u8]| a.starts_with(&[0x20, 0x01, 0x00, 0x00]);
                let src = payload.get(hl + 8..hl + 24).unwrap_or(&[]);
                let dst = payload.get(hl + 24..hl + 40).unwrap_or(&[]);
                if either(3544) || teredo_addr(src) || teredo_addr(dst) {
                    return Some((TunnelKind::Teredo, Layer::Ipv6, hl, Stat::Teredo));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod test;
