//! Test-only helpers for the app-layer comparison tests: a small pcap reader
//! and TCP stream assembler over vigie's decoder (tunnels, defragmentation), plus
//! per-field score keeping.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use vigie_sensor::app::Direction;

/// Corpus root, or `None` (test should skip) when it is missing and
/// VIGIE_EXTERNAL_TESTS is not 1.
pub fn corpus() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    if p.is_dir() {
        return Some(p);
    }
    if std::env::var("VIGIE_EXTERNAL_TESTS").as_deref() == Ok("1") {
        panic!(
            "corpus missing at {} and VIGIE_EXTERNAL_TESTS=1",
            p.display()
        );
    }
    eprintln!("skip: corpus not found at {}", p.display());
    None
}

/// One connection (TCP) or one UDP 5-tuple, client first.
#[derive(Debug, Clone)]
pub struct Conn {
    /// 6 or 17.
    pub proto: u8,
    /// Client address and port.
    pub client: (IpAddr, u16),
    /// Server address and port.
    pub server: (IpAddr, u16),
    /// In-order payload chunks (TCP: new stream bytes; UDP: datagrams), in
    /// capture order.
    pub chunks: Vec<(Direction, Vec<u8>)>,
    /// A TCP direction had a gap (bytes never captured).
    pub gap: bool,
    /// Gap markers: chunk index (an empty chunk) → bytes missing there.
    pub gaps: HashMap<usize, u64>,
}

impl Conn {
    /// All stream bytes of one direction.
    pub fn stream(&self, dir: Direction) -> Vec<u8> {
        let mut v = Vec::new();
        for (d, c) in &self.chunks {
            if *d == dir {
                v.extend_from_slice(c);
            }
        }
        v
    }

    /// True if this connection joins (a, ap) and (b, bp) either way.
    pub fn is(&self, a: IpAddr, ap: u16, b: IpAddr, bp: u16) -> bool {
        (self.client == (a, ap) && self.server == (b, bp))
            || (self.client == (b, bp) && self.server == (a, ap))
    }
}

#[derive(Default)]
struct DirAsm {
    next: Option<u32>,
    pending: Vec<(u32, Vec<u8>)>,
    fin: bool,
}

struct TcpAsm {
    conn: Conn,
    dirs: [DirAsm; 2],
}

fn dir_idx(d: Direction) -> usize {
    match d {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

/// Offsets of the IP header in a frame of link type `lt`, or None.
fn l3_start(lt: i32, frame: &[u8]) -> Option<(usize, u16)> {
    match lt {
        1 => {
            let mut off = 12;
            let mut et = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
            while et == 0x8100 || et == 0x88a8 || et == 0x9100 {
                off += 4;
                et = u16::from_be_bytes([*frame.get(off)?, *frame.get(off + 1)?]);
            }
            if et == 0x8864 {
                // PPPoE session: 6-byte header then 2-byte PPP protocol.
                let ppp = u16::from_be_bytes([*frame.get(off + 8)?, *frame.get(off + 9)?]);
                let et = match ppp {
                    0x0021 => 0x0800,
                    0x0057 => 0x86dd,
                    _ => return None,
                };
                return Some((off + 10, et));
            }
            Some((off + 2, et))
        }
        // 802.11 with radiotap (127) or bare (105): data frames with LLC/SNAP.
        105 | 127 => {
            let rt = if lt == 127 {
                usize::from(u16::from_le_bytes([*frame.get(2)?, *frame.get(3)?]))
            } else {
                0
            };
            let fc = *frame.get(rt)?;
            let flags = *frame.get(rt + 1)?;
            if (fc >> 2) & 0x3 != 2 {
                return None; // not a data frame
            }
            let mut hdr = 24;
            if flags & 0x03 == 0x03 {
                hdr += 6;
            }
            if fc & 0x80 != 0 {
                hdr += 2; // QoS control
            }
            let llc = rt + hdr;
            if frame.get(llc..llc + 3)? != [0xaa, 0xaa, 0x03] {
                return None;
            }
            Some((
                llc + 8,
                u16::from_be_bytes([*frame.get(llc + 6)?, *frame.get(llc + 7)?]),
            ))
        }
        // NFLOG: 4-byte header, then TLVs; type 9 holds the packet.
        239 => {
            let mut off = 4;
            loop {
                let len = usize::from(u16::from_le_bytes([*frame.get(off)?, *frame.get(off + 1)?]));
                let typ = u16::from_le_bytes([*frame.get(off + 2)?, *frame.get(off + 3)?]);
                if len < 4 {
                    return None;
                }
                if typ == 9 {
                    let v = frame.get(off + 4)? >> 4;
                    return Some((off + 4, if v == 6 { 0x86dd } else { 0x0800 }));
                }
                off += (len + 3) & !3;
            }
        }
        // Cisco HDLC: address, control, then an Ethernet type.
        104 => Some((4, u16::from_be_bytes([*frame.get(2)?, *frame.get(3)?]))),
        // LINUX_SLL
        113 => Some((16, u16::from_be_bytes([*frame.get(14)?, *frame.get(15)?]))),
        // LINUX_SLL2
        276 => Some((20, u16::from_be_bytes([*frame.first()?, *frame.get(1)?]))),
        // RAW / IPV4 / IPV6
        12 | 14 | 101 | 228 | 229 => {
            let v = frame.first()? >> 4;
            Some((0, if v == 6 { 0x86dd } else { 0x0800 }))
        }
        // NULL / LOOP
        0 | 108 => {
            let v = frame.get(4)? >> 4;
            Some((4, if v == 6 { 0x86dd } else { 0x0800 }))
        }
        _ => None,
    }
}

struct L4<'a> {
    proto: u8,
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    seq: u32,
    flags: u8,
    payload: &'a [u8],
}

fn parse_l3(et: u16, p: &[u8], depth: u8) -> Option<L4<'_>> {
    let (proto, src, dst, l4) = match et {
        0x0800 => {
            let ihl = usize::from(p.first()? & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([*p.get(2)?, *p.get(3)?]));
            let frag = u16::from_be_bytes([*p.get(6)?, *p.get(7)?]);
            if frag & 0x3fff != 0 {
                return None; // fragments are out of scope for this helper
            }
            let src: [u8; 4] = p.get(12..16)?.try_into().ok()?;
            let dst: [u8; 4] = p.get(16..20)?.try_into().ok()?;
            let end = total.min(p.len()).max(ihl);
            (
                *p.get(9)?,
                IpAddr::from(src),
                IpAddr::from(dst),
                p.get(ihl..end)?,
            )
        }
        0x86dd => {
            let plen = usize::from(u16::from_be_bytes([*p.get(4)?, *p.get(5)?]));
            let mut nh = *p.get(6)?;
            let src: [u8; 16] = p.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = p.get(24..40)?.try_into().ok()?;
            let end = (40 + plen).min(p.len());
            let mut off = 40;
            while matches!(nh, 0 | 43 | 60 | 44) {
                if nh == 44 {
                    return None;
                }
                nh = *p.get(off)?;
                off += (usize::from(*p.get(off + 1)?) + 1) * 8;
            }
            (nh, IpAddr::from(src), IpAddr::from(dst), p.get(off..end)?)
        }
        _ => return None,
    };
    parse_l4(proto, src, dst, l4, depth)
}

/// Inner IP packet of an Ethernet frame.
fn parse_eth(frame: &[u8], depth: u8) -> Option<L4<'_>> {
    let (off, et) = l3_start(1, frame)?;
    parse_l3(et, frame.get(off..)?, depth + 1)
}

fn parse_l4(proto: u8, src: IpAddr, dst: IpAddr, l4: &[u8], depth: u8) -> Option<L4<'_>> {
    if depth > 4 {
        return None;
    }
    match proto {
        4 => parse_l3(0x0800, l4, depth + 1),
        41 => parse_l3(0x86dd, l4, depth + 1),
        47 => {
            let flags = u16::from_be_bytes([*l4.first()?, *l4.get(1)?]);
            let et = u16::from_be_bytes([*l4.get(2)?, *l4.get(3)?]);
            if flags & 0x0007 == 1 && et == 0x880b {
                // Enhanced GRE (PPTP): key always, sequence/ack optional, PPP inside.
                let mut off = 8;
                if flags & 0x1000 != 0 {
                    off += 4;
                }
                if flags & 0x0080 != 0 {
                    off += 4;
                }
                let mut ppp = l4.get(off..)?;
                if ppp.starts_with(&[0xff, 0x03]) {
                    ppp = &ppp[2..];
                }
                let (proto, rest) = if ppp.first()? & 1 == 1 {
                    (u16::from(ppp[0]), &ppp[1..])
                } else {
                    (u16::from_be_bytes([ppp[0], *ppp.get(1)?]), ppp.get(2..)?)
                };
                return match proto {
                    0x21 => parse_l3(0x0800, rest, depth + 1),
                    0x57 => parse_l3(0x86dd, rest, depth + 1),
                    _ => None,
                };
            }
            if flags & 0x0007 != 0 {
                return None;
            }
            let mut off = 4;
            for bit in [0x8000u16, 0x2000, 0x1000] {
                if flags & bit != 0 {
                    off += 4;
                }
            }
            let inner = l4.get(off..)?;
            match et {
                0x6558 => parse_eth(inner, depth),
                // ERSPAN type II: 8-byte header, then the mirrored frame.
                0x88be => parse_eth(inner.get(8..)?, depth),
                0x0800 | 0x86dd => parse_l3(et, inner, depth + 1),
                _ => None,
            }
        }
        6 => {
            let doff = usize::from(l4.get(12)? >> 4) * 4;
            Some(L4 {
                proto,
                src,
                dst,
                sport: u16::from_be_bytes([l4[0], l4[1]]),
                dport: u16::from_be_bytes([l4[2], l4[3]]),
                seq: u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]),
                flags: *l4.get(13)?,
                payload: l4.get(doff..)?,
            })
        }
        17 => {
            let ulen = usize::from(u16::from_be_bytes([*l4.get(4)?, *l4.get(5)?]));
            let end = ulen.clamp(8, l4.len());
            let sport = u16::from_be_bytes([l4[0], l4[1]]);
            let dport = u16::from_be_bytes([l4[2], l4[3]]);
            let payload = l4.get(8..end)?;
            let tunnel = |p: u16| sport == p || dport == p;
            if tunnel(4789) {
                return parse_eth(payload.get(8..)?, depth);
            }
            if tunnel(6081) {
                let optlen = usize::from(payload.first()? & 0x3f) * 4;
                return parse_eth(payload.get(8 + optlen..)?, depth);
            }
            if tunnel(2152) {
                let flags = *payload.first()?;
                let off = if flags & 0x07 != 0 { 12 } else { 8 };
                let inner = payload.get(off..)?;
                let et = if inner.first()? >> 4 == 6 {
                    0x86dd
                } else {
                    0x0800
                };
                return parse_l3(et, inner, depth + 1);
            }
            if tunnel(3544) {
                // Teredo: optional authentication and origin indication headers.
                let mut p = payload;
                if p.starts_with(&[0, 1]) {
                    let id = usize::from(*p.get(2)?);
                    let au = usize::from(*p.get(3)?);
                    p = p.get(4 + id + au + 9..)?;
                }
                if p.starts_with(&[0, 0]) {
                    p = p.get(8..)?;
                }
                if p.first().is_some_and(|b| b >> 4 == 6) {
                    if let Some(inner) = parse_l3(0x86dd, p, depth + 1) {
                        return Some(inner);
                    }
                }
            }
            if tunnel(5072) {
                // AYIYA: identity 2^n bytes and signature 4*m bytes follow 8 bytes.
                let id = 1usize << (payload.first()? >> 4);
                let sig = usize::from(payload.get(1)? >> 4) * 4;
                let next = *payload.get(3)?;
                let inner = payload.get(8 + id + sig..)?;
                return match next {
                    41 => parse_l3(0x86dd, inner, depth + 1),
                    4 => parse_l3(0x0800, inner, depth + 1),
                    _ => None,
                };
            }
            Some(L4 {
                proto,
                src,
                dst,
                sport: u16::from_be_bytes([l4[0], l4[1]]),
                dport: u16::from_be_bytes([l4[2], l4[3]]),
                seq: 0,
                flags: 0,
                payload: l4.get(8..end)?,
            })
        }
        _ => None,
    }
}

/// Frames of a pcap or pcapng file with their link types.
/// Every frame as its innermost IP packet, as a raw IP frame (link type
/// 101), through vigie's decoder (whose tunnel decapsulation and
/// defragmentation are tested against Zeek elsewhere): fragments are
/// replaced by the datagram they make up. Frames without IP stay as they are.
fn defragmented(frames: Vec<(i32, Vec<u8>)>) -> Vec<(i32, Vec<u8>)> {
    use vigie_sensor::decode::{Decoded, Decoder, DecoderConfig, Packet};
    let mut dec = Decoder::new(DecoderConfig::default());
    let mut pkt = Packet::default();
    let mut out = Vec::with_capacity(frames.len());
    for (lt, frame) in frames {
        match dec.decode(lt as u32, 0, &frame, &mut pkt) {
            Decoded::Reassembled => {
                let ip = dec
                    .reassembled()
                    .get(pkt.ip_off as usize..)
                    .unwrap_or_default();
                out.push((101, ip.to_vec()));
            }
            Decoded::FragmentHeld => {}
            // Tunnels too: the innermost IP packet, as vigie sees it.
            Decoded::Ok if pkt.l3.is_some() => {
                let ip = frame.get(pkt.ip_off as usize..).unwrap_or_default();
                out.push((101, ip.to_vec()));
            }
            Decoded::Ok | Decoded::NoL3 => out.push((lt, frame)),
        }
    }
    out
}

pub fn read_frames(path: &Path) -> Vec<(i32, Vec<u8>)> {
    use pcap_parser::pcapng::Block;
    use pcap_parser::{PcapCapture, PcapNGCapture};
    let Ok(mut data) = std::fs::read(path) else {
        return Vec::new();
    };
    if data.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        if std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&data[..]), &mut out)
            .is_ok()
        {
            data = out;
        }
    }
    let mut frames = Vec::new();
    if let Ok(cap) = PcapCapture::from_file(&data) {
        let lt = cap.header.network.0;
        for b in &cap.blocks {
            let n = (b.caplen as usize).min(b.data.len());
            frames.push((lt, b.data[..n].to_vec()));
        }
    } else if let Ok(cap) = PcapNGCapture::from_file(&data) {
        for s in &cap.sections {
            let mut lts = Vec::new();
            for b in &s.blocks {
                match b {
                    Block::InterfaceDescription(idb) => lts.push(idb.linktype.0),
                    Block::EnhancedPacket(epb) => {
                        let lt = lts.get(epb.if_id as usize).copied().unwrap_or(1);
                        let n = (epb.caplen as usize).min(epb.data.len());
                        frames.push((lt, epb.data[..n].to_vec()));
                    }
                    Block::SimplePacket(spb) => {
                        frames.push((lts.first().copied().unwrap_or(1), spb.data.to_vec()));
                    }
                    _ => {}
                }
            }
        }
    }
    frames
}

/// Moves every pending segment that is now contiguous into the stream.
fn drain(conn: &mut Conn, d: &mut DirAsm, dir: Direction) {
    let Some(mut next) = d.next else { return };
    loop {
        let mut progressed = false;
        let mut i = 0;
        while i < d.pending.len() {
            let (seq, ref data) = d.pending[i];
            let rel = seq.wrapping_sub(next) as i32;
            let end_rel = rel as i64 + data.len() as i64;
            if end_rel <= 0 {
                d.pending.swap_remove(i);
                continue;
            }
            if rel <= 0 {
                let fresh = data[(-rel) as usize..].to_vec();
                next = next.wrapping_add(fresh.len() as u32);
                conn.chunks.push((dir, fresh));
                d.pending.swap_remove(i);
                progressed = true;
                continue;
            }
            i += 1;
        }
        if !progressed {
            break;
        }
    }
    d.next = Some(next);
}

/// Declares the bytes up to the nearest pending segment lost, then drains.
fn skip_gap(conn: &mut Conn, d: &mut DirAsm, dir: Direction) {
    let Some(next) = d.next else {
        d.pending.clear();
        return;
    };
    let nearest = d
        .pending
        .iter()
        .map(|(s, _)| s.wrapping_sub(next) as i32)
        .filter(|r| *r > 0)
        .min();
    match nearest {
        Some(rel) => {
            conn.gap = true;
            conn.gaps.insert(conn.chunks.len(), rel as u64);
            conn.chunks.push((dir, Vec::new()));
            d.next = Some(next.wrapping_add(rel as u32));
            drain(conn, d, dir);
        }
        None => d.pending.clear(),
    }
}

/// Reads a capture and returns its connections with in-order payload.
pub fn connections(path: &Path) -> Vec<Conn> {
    let mut tcp: Vec<TcpAsm> = Vec::new();
    let mut tcp_index: HashMap<(IpAddr, u16, IpAddr, u16), usize> = HashMap::new();
    let mut udp: Vec<Conn> = Vec::new();
    let mut udp_index: HashMap<(IpAddr, u16, IpAddr, u16), usize> = HashMap::new();
    for (lt, frame) in defragmented(read_frames(path)) {
        let Some((off, et)) = l3_start(lt, &frame) else {
            continue;
        };
        let Some(l4) = frame.get(off..).and_then(|p| parse_l3(et, p, 0)) else {
            continue;
        };
        let fwd = (l4.src, l4.sport, l4.dst, l4.dport);
        let rev = (l4.dst, l4.dport, l4.src, l4.sport);
        if l4.proto == 17 {
            if l4.payload.is_empty() {
                continue;
            }
            let (idx, dir) = match (udp_index.get(&fwd), udp_index.get(&rev)) {
                (Some(&i), _) => (i, Direction::ToServer),
                (None, Some(&i)) => (i, Direction::ToClient),
                (None, None) => {
                    // The side on a well-known port is the server.
                    let swap = l4.sport < 1024 && l4.dport >= 1024;
                    let (c, s) = if swap {
                        ((l4.dst, l4.dport), (l4.src, l4.sport))
                    } else {
                        ((l4.src, l4.sport), (l4.dst, l4.dport))
                    };
                    udp.push(Conn {
                        proto: 17,
                        client: c,
                        server: s,
                        chunks: Vec::new(),
                        gap: false,
                        gaps: HashMap::new(),
                    });
                    let i = udp.len() - 1;
                    udp_index.insert((c.0, c.1, s.0, s.1), i);
                    (
                        i,
                        if swap {
                            Direction::ToClient
                        } else {
                            Direction::ToServer
                        },
                    )
                }
            };
            udp[idx].chunks.push((dir, l4.payload.to_vec()));
            continue;
        }
        let syn = l4.flags & 0x02 != 0;
        let ack = l4.flags & 0x10 != 0;
        let rst = l4.flags & 0x04 != 0;
        let existing = match (tcp_index.get(&fwd), tcp_index.get(&rev)) {
            (Some(&i), _) => Some((i, Direction::ToServer)),
            (None, Some(&i)) => Some((i, Direction::ToClient)),
            _ => None,
        };
        // A fresh SYN on a finished/known tuple starts a new connection.
        let reuse = match existing {
            Some((i, Direction::ToServer)) if syn && !ack => {
                let a = &tcp[i];
                a.dirs[0].next.is_some_and(|n| n != l4.seq.wrapping_add(1))
                    && !a.conn.chunks.is_empty()
            }
            _ => false,
        };
        let (idx, dir) = match existing {
            Some(e) if !reuse => e,
            _ => {
                let swap = if syn {
                    ack
                } else {
                    l4.sport < 1024 && l4.dport >= 1024
                };
                let (c, s) = if swap {
                    ((l4.dst, l4.dport), (l4.src, l4.sport))
                } else {
                    ((l4.src, l4.sport), (l4.dst, l4.dport))
                };
                tcp.push(TcpAsm {
                    conn: Conn {
                        proto: 6,
                        client: c,
                        server: s,
                        chunks: Vec::new(),
                        gap: false,
                        gaps: HashMap::new(),
                    },
                    dirs: [DirAsm::default(), DirAsm::default()],
                });
                let i = tcp.len() - 1;
                tcp_index.insert((c.0, c.1, s.0, s.1), i);
                tcp_index.remove(&(s.0, s.1, c.0, c.1));
                (
                    i,
                    if swap {
                        Direction::ToClient
                    } else {
                        Direction::ToServer
                    },
                )
            }
        };
        let asm = &mut tcp[idx];
        let d = &mut asm.dirs[dir_idx(dir)];
        if syn {
            d.next = Some(l4.seq.wrapping_add(1));
        }
        if rst {
            continue;
        }
        if l4.payload.is_empty() {
            continue;
        }
        d.next.get_or_insert(l4.seq);
        // Data on a SYN (TCP Fast Open) starts after the SYN's sequence number.
        let seq = if syn { l4.seq.wrapping_add(1) } else { l4.seq };
        d.pending.push((seq, l4.payload.to_vec()));
        drain(&mut asm.conn, d, dir);
        // Far behind: the missing bytes are not coming (capture loss).
        if d.pending.len() > 64 {
            skip_gap(&mut asm.conn, d, dir);
        }
    }
    for a in &mut tcp {
        for (i, dir) in [(0, Direction::ToServer), (1, Direction::ToClient)] {
            while !a.dirs[i].pending.is_empty() {
                skip_gap(&mut a.conn, &mut a.dirs[i], dir);
            }
        }
    }
    let mut out: Vec<Conn> = tcp.into_iter().map(|a| a.conn).collect();
    out.extend(udp);
    out
}

/// Per-field equal/total counters.
#[derive(Default)]
pub struct Score {
    fields: std::collections::BTreeMap<&'static str, (u64, u64)>,
    /// Differences, for the report.
    pub diffs: Vec<String>,
}

impl Score {
    /// Records one comparison of `field`.
    pub fn check(&mut self, field: &'static str, ours: &str, theirs: &str, ctx: &str) {
        let e = self.fields.entry(field).or_default();
        e.1 += 1;
        if ours == theirs {
            e.0 += 1;
        } else if self.diffs.len() < 400 {
            self.diffs
                .push(format!("{ctx} {field}: ours={ours:?} theirs={theirs:?}"));
        }
    }

    /// Totals over all fields.
    pub fn totals(&self) -> (u64, u64) {
        self.fields
            .values()
            .fold((0, 0), |a, v| (a.0 + v.0, a.1 + v.1))
    }

    /// Prints the summary and differences.
    pub fn print(&self, title: &str) {
        println!("== {title}");
        for (f, (eq, tot)) in &self.fields {
            println!("  {f:<28} {eq}/{tot}");
        }
        let (eq, tot) = self.totals();
        println!("  {:<28} {eq}/{tot}", "TOTAL");
        for d in &self.diffs {
            println!("  diff: {d}");
        }
    }

    /// Ratio equal/total (1.0 when nothing was compared).
    pub fn ratio(&self) -> f64 {
        let (eq, tot) = self.totals();
        if tot == 0 {
            1.0
        } else {
            eq as f64 / tot as f64
        }
    }
}

/// Every `.pcap`/`.pcapng` file directly in `dir`.
pub fn pcaps_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| is_capture(p));
    v.sort();
    v
}

/// Capture files under `dir` and its subfolders, appended to `out`.
pub fn pcaps_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for p in rd.flatten().map(|e| e.path()) {
        if p.is_dir() {
            pcaps_under(&p, out);
        } else if is_capture(&p) {
            out.push(p);
        }
    }
}

fn is_capture(p: &Path) -> bool {
    let s = p.to_string_lossy();
    s.ends_with(".pcap") || s.ends_with(".pcapng") || s.ends_with(".pcap.gz") || s.ends_with(".cap")
}

/// Subdirectories of `dir`, sorted.
pub fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Rows of a Zeek ASCII log as field-name → value maps.
pub fn zeek_log(path: &Path) -> Vec<HashMap<String, String>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut fields: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("#fields\t") {
            fields = f.split('\t').map(str::to_string).collect();
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let vals: Vec<&str> = line.split('\t').collect();
        rows.push(
            fields
                .iter()
                .cloned()
                .zip(vals.iter().map(|s| s.to_string()))
                .collect(),
        );
    }
    rows
}
