//! IPv4 and IPv6 fragment reassembly.
//!
//! Policy: **first wins**. Bytes already received are never overwritten by a
//! later overlapping fragment; every overlap is counted (`frag_overlap`).
//! Memory is bounded by a byte memcap and a maximum number of datagrams in
//! progress; when either is reached the oldest datagram is evicted (counted).
//! Datagrams not completed within the timeout (by packet time) are dropped by
//! [`Defragmenter::expire`].

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use super::counters::{DecodeCounters, DecodeEvent, Stat};
use super::ip::ipv4_checksum;

/// Largest IP datagram we reassemble (IPv4 total length / IPv6 payload length).
const MAX_DATAGRAM: usize = 65535;
/// Bookkeeping bytes charged per datagram on top of its data.
const TRACKER_OVERHEAD: usize = 128;
/// Finished trackers kept for reuse (their buffers are what is reused).
const POOL_MAX: usize = 64;
/// Trackers with a larger data buffer are freed, not pooled, so the pool
/// holds at most `POOL_MAX * POOL_MAX_CAPACITY` bytes outside the memcap.
const POOL_MAX_CAPACITY: usize = 16 * 1024;

/// Identifies one datagram in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragKey {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IPv4 identification or IPv6 fragment id.
    pub id: u32,
    /// IPv4 protocol (0 for IPv6, whose key is the id alone).
    pub proto: u8,
    /// Outer VLAN ids, so equal inner addresses on different VLANs stay apart.
    pub vlan: [u16; 3],
    /// Tunnel depth and a digest of the tunnel stack.
    pub tunnel: u64,
}

impl Hash for FragKey {
    /// One `write` of the packed key: far cheaper with SipHash than a write per field.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut b = [0u8; 53];
        for (at, addr) in [(0, self.src), (17, self.dst)] {
            match addr {
                IpAddr::V4(a) => {
                    b[at..at + 4].copy_from_slice(&a.octets());
                    b[at + 16] = 4;
                }
                IpAddr::V6(a) => {
                    b[at..at + 16].copy_from_slice(&a.octets());
                    b[at + 16] = 6;
                }
            }
        }
        b[34..38].copy_from_slice(&self.id.to_be_bytes());
        b[38] = self.proto;
        for (i, v) in self.vlan.iter().enumerate() {
            b[39 + 2 * i..41 + 2 * i].copy_from_slice(&v.to_be_bytes());
        }
        b[45..53].copy_from_slice(&self.tunnel.to_be_bytes());
        state.write(&b);
    }
}

/// One fragment handed to the defragmenter.
#[derive(Clone, Copy, Debug)]
pub struct Fragment<'a> {
    /// Datagram key.
    pub key: FragKey,
    /// IPv6 (else IPv4).
    pub v6: bool,
    /// Offset of `payload` in the datagram, in bytes.
    pub offset: u32,
    /// More fragments follow.
    pub more: bool,
    /// IP header to rebuild the datagram with (used from the offset-0 fragment;
    /// for IPv6 the 40-byte fixed header).
    pub header: &'a [u8],
    /// IPv6: next header of the fragmentable part.
    pub next_header: u8,
    /// Fragment data.
    pub payload: &'a [u8],
    /// Packet time.
    pub ts_ns: u64,
}

/// What happened to a fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insert {
    /// Stored; the datagram is not complete yet.
    Held,
    /// The datagram is complete and was written to the output buffer.
    Completed,
    /// Not stored (too large, invalid length, or no room).
    Dropped,
}

/// Defragmenter limits.
#[derive(Clone, Copy, Debug)]
pub struct DefragConfig {
    /// Bytes of fragment data (plus bookkeeping) held at most.
    pub memcap: usize,
    /// Datagrams in progress at most.
    pub max_datagrams: usize,
    /// Datagrams older than this (since their first fragment) are dropped.
    pub timeout_ns: u64,
}

#[derive(Debug)]
struct Tracker {
    serial: u64,
    first_ns: u64,
    header: Vec<u8>,
    next_header: u8,
    data: Vec<u8>,
    /// Received byte ranges, sorted and disjoint.
    covered: Vec<(u32, u32)>,
    total: Option<u32>,
    v6: bool,
}

impl Tracker {
    fn mem(&self) -> usize {
        self.data.len() + self.header.len() + self.covered.len() * 8 + TRACKER_OVERHEAD
    }
}

/// Reassembles IPv4 and IPv6 datagrams within bounded memory.
#[derive(Debug)]
pub struct Defragmenter {
    cfg: DefragConfig,
    trackers: HashMap<FragKey, Tracker>,
    /// Creation order (key, serial, first seen) for eviction and expiry;
    /// entries whose tracker is gone are skipped lazily.
    order: VecDeque<(FragKey, u64, u64)>,
    next_serial: u64,
    mem_used: usize,
    pool: Vec<Tracker>,
}

impl Defragmenter {
    /// A defragmenter with the given limits.
    pub fn new(cfg: DefragConfig) -> Self {
        Defragmenter {
            cfg,
            trackers: HashMap::new(),
            order: VecDeque::new(),
            next_serial: 0,
            mem_used: 0,
            pool: Vec::new(),
        }
    }

    /// Datagrams in progress.
    pub fn in_progress(&self) -> usize {
        self.trackers.len()
    }

    /// Bytes charged against the memcap.
    pub fn mem_used(&self) -> usize {
        self.mem_used
    }

    /// Adds a fragment. On [`Insert::Completed`], `out` holds the whole IP
    /// datagram (header fixed up: lengths, fragment fields, IPv4 checksum).
    pub fn insert(
        &mut self,
        f: &Fragment<'_>,
        c: &mut DecodeCounters,
        raise: &mut impl FnMut(DecodeEvent),
        out: &mut Vec<u8>,
    ) -> Insert {
        c.bump(if f.v6 {
            Stat::DefragIpv6Fragments
        } else {
            Stat::DefragIpv4Fragments
        });
        let start = f.offset as usize;
        let end = start + f.payload.len();
        let limit = if f.v6 {
            MAX_DATAGRAM
        } else {
            MAX_DATAGRAM.saturating_sub(f.header.len())
        };
        if end > limit {
            raise(if f.v6 {
                DecodeEvent::Ipv6FragPktTooLarge
            } else {
                DecodeEvent::Ipv4FragPktTooLarge
            });
            return Insert::Dropped;
        }
        if f.v6 && f.more && f.payload.len() & 7 != 0 {
            raise(DecodeEvent::Ipv6FragInvalidLength);
            return Insert::Dropped;
        }
        let existing = self.trackers.get(&f.key).map(|t| t.data.len());
        if existing.is_none() {
            if self.cfg.max_datagrams == 0 {
                return Insert::Dropped;
            }
            if self.trackers.len() >= self.cfg.max_datagrams {
                c.bump(Stat::DefragMaxTrackersReached);
                self.evict_oldest(None, c);
            }
            let serial = self.next_serial;
            self.next_serial += 1;
            let t = match self.pool.pop() {
                Some(mut t) => {
                    t.serial = serial;
                    t.first_ns = f.ts_ns;
                    t.next_header = 0;
                    t.total = None;
                    t.v6 = f.v6;
                    t
                }
                None => Tracker {
                    serial,
                    first_ns: f.ts_ns,
                    header: Vec::new(),
                    next_header: 0,
                    data: Vec::new(),
                    covered: Vec::new(),
                    total: None,
                    v6: f.v6,
                },
            };
            self.mem_used += t.mem();
            self.trackers.insert(f.key, t);
            self.order.push_back((f.key, serial, f.ts_ns));
            if self.order.len() > 2 * self.trackers.len() + 64 {
                let live = &self.trackers;
                self.order
                    .retain(|(k, s, _)| live.get(k).is_some_and(|t| t.serial == *s));
            }
        }
        // Room for the growth of this datagram.
        let growth = existing.map_or(end, |len| end.saturating_sub(len))
            + if start == 0 { f.header.len() } else { 0 };
        if self.mem_used + growth > self.cfg.memcap {
            c.bump(Stat::DefragMemcapReached);
            while self.mem_used + growth > self.cfg.memcap {
                if !self.evict_oldest(Some(&f.key), c) {
                    break;
                }
            }
            if self.mem_used + growth > self.cfg.memcap {
                if let Some(t) = self.remove(&f.key) {
                    self.recycle(t);
                }
                c.bump(Stat::DefragEvicted);
                return Insert::Dropped;
            }
        }
        let Some(t) = self.trackers.get_mut(&f.key) else {
            return Insert::Dropped;
        };
        let before = t.mem();
        if t.v6 != f.v6 {
            return Insert::Dropped;
        }
        if t.data.len() < end {
            t.data.resize(end, 0);
        }
        if copy_first_wins(t, start as u32, end as u32, f.payload) {
            raise(if f.v6 {
                DecodeEvent::Ipv6FragOverlap
            } else {
                DecodeEvent::Ipv4FragOverlap
            });
        }
        if start == 0 && t.header.is_empty() {
            t.header.extend_from_slice(f.header);
            t.next_header = f.next_header;
        }
        if !f.more && t.total.is_none() {
            t.total = Some(end as u32);
        }
        self.mem_used = self.mem_used + t.mem() - before;
        let complete = match (t.total, t.covered.first()) {
            (Some(total), Some(&(0, e))) => e >= total && !t.header.is_empty(),
            _ => false,
        };
        if !complete {
            return Insert::Held;
        }
        let Some(t) = self.remove(&f.key) else {
            return Insert::Dropped;
        };
        let total = t.total.unwrap_or(0) as usize;
        let next_header = t.next_header;
        out.clear();
        out.extend_from_slice(&t.header);
        out.extend_from_slice(&t.data[..total.min(t.data.len())]);
        self.recycle(t);
        if f.v6 {
            let plen = (total as u16).to_be_bytes();
            if let Some(h) = out.get_mut(4..7) {
                h[0] = plen[0];
                h[1] = plen[1];
                h[2] = next_header;
            }
            c.bump(Stat::DefragIpv6Reassembled);
        } else {
            let hl = out.len() - total.min(out.len());
            let tl = ((hl + total) as u16).to_be_bytes();
            if let Some(h) = out.get_mut(0..hl) {
                if h.len() >= 20 {
                    h[2] = tl[0];
                    h[3] = tl[1];
                    h[6] &= 0x40; // keep DF, clear MF and the offset
                    h[7] = 0;
                    h[10] = 0;
                    h[11] = 0;
                    let sum = ipv4_checksum(h).to_be_bytes();
                    h[10] = sum[0];
                    h[11] = sum[1];
                }
            }
            c.bump(Stat::DefragIpv4Reassembled);
        }
        Insert::Completed
    }

    /// Drops datagrams whose first fragment is older than the timeout at `now_ns`.
    pub fn expire(&mut self, now_ns: u64, c: &mut DecodeCounters) {
        // The queue is in creation order, so the first young entry ends the scan
        // without touching the map.
        while let Some(&(key, serial, first_ns)) = self.order.front() {
            if first_ns.saturating_add(self.cfg.timeout_ns) > now_ns {
                break;
            }
            self.order.pop_front();
            if self.trackers.get(&key).is_some_and(|t| t.serial == serial) {
                if let Some(t) = self.remove(&key) {
                    self.recycle(t);
                }
                c.bump(Stat::DefragTimeouts);
            }
        }
    }

    /// Keeps a finished tracker's buffers for the next datagram.
    fn recycle(&mut self, mut t: Tracker) {
        if self.pool.len() < POOL_MAX && t.data.capacity() <= POOL_MAX_CAPACITY {
            t.header.clear();
            t.data.clear();
            t.covered.clear();
            self.pool.push(t);
        }
    }

    fn remove(&mut self, key: &FragKey) -> Option<Tracker> {
        let t = self.trackers.remove(key)?;
        self.mem_used = self.mem_used.saturating_sub(t.mem());
        Some(t)
    }

    /// Evicts the oldest datagram other than `keep`; false if none.
    fn evict_oldest(&mut self, keep: Option<&FragKey>, c: &mut DecodeCounters) -> bool {
        let mut kept = None;
        let mut evicted = false;
        while let Some((key, serial, first_ns)) = self.order.pop_front() {
            let live = self.trackers.get(&key).is_some_and(|t| t.serial == serial);
            if !live {
                continue;
            }
            if Some(&key) == keep {
                kept = Some((key, serial, first_ns));
                continue;
            }
            if let Some(t) = self.remove(&key) {
                self.recycle(t);
            }
            c.bump(Stat::DefragEvicted);
            evicted = true;
            break;
        }
        if let Some(k) = kept {
            self.order.push_front(k);
        }
        evicted
    }
}

/// Copies `payload` (covering `[start, end)`) into the gaps of `t`, leaving
/// bytes already received untouched. Returns true if any overlap was seen.
fn copy_first_wins(t: &mut Tracker, start: u32, end: u32, payload: &[u8]) -> bool {
    if start == end {
        return false;
    }
    let mut overlap = false;
    let mut pos = start;
    for &(cs, ce) in &t.covered {
        if ce <= pos {
            continue;
        }
        if cs >= end {
            break;
        }
        if cs > pos {
            copy_range(&mut t.data, payload, start, pos, cs.min(end));
        }
        overlap = true;
        pos = pos.max(ce);
        if pos >= end {
            break;
        }
    }
    if pos < end {
        copy_range(&mut t.data, payload, start, pos, end);
    }
    // Merge [start, end) into the covered list.
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(t.covered.len() + 1);
    let mut new = (start, end);
    let mut placed = false;
    for &(cs, ce) in &t.covered {
        if ce < new.0 {
            merged.push((cs, ce));
        } else if cs > new.1 {
            if !placed {
                merged.push(new);
                placed = true;
            }
            merged.push((cs, ce));
        } else {
            new = (new.0.min(cs), new.1.max(ce));
        }
    }
    if !placed {
        merged.push(new);
    }
    t.covered = merged;
    overlap
}

fn copy_range(data: &mut [u8], payload: &[u8], base: u32, from: u32, to: u32) {
    let (a, b) = ((from - base) as usize, (to - base) as usize);
    if let (Some(dst), Some(src)) = (data.get_mut(from as usize..to as usize), payload.get(a..b)) {
        dst.copy_from_slice(src);
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use std::net::Ipv4Addr;

    fn key(id: u32) -> FragKey {
        FragKey {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            id,
            proto: 17,
            vlan: [0; 3],
            tunnel: 0,
        }
    }

    // A 20-byte IPv4 header with MF set, id 7, proto UDP.
    const HDR: [u8; 20] = [
        0x45, 0, 0, 36, 0, 7, 0x20, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];

    fn frag<'a>(id: u32, off: u32, more: bool, p: &'a [u8], ts: u64) -> Fragment<'a> {
        Fragment {
            key: key(id),
            v6: false,
            offset: off,
            more,
            header: &HDR,
            next_header: 0,
            payload: p,
            ts_ns: ts,
        }
    }

    fn cfg() -> DefragConfig {
        DefragConfig {
            memcap: 1 << 20,
            max_datagrams: 16,
            timeout_ns: 60_000_000_000,
        }
    }

    #[test]
    fn out_of_order_with_overlap_first_wins() {
        let mut d = Defragmenter::new(cfg());
        let mut c = DecodeCounters::default();
        let mut ev = Vec::new();
        let mut out = Vec::new();
        let a = [b'A'; 16];
        let b = [b'B'; 16];
        let z = [b'Z'; 8];
        assert_eq!(
            d.insert(
                &frag(7, 16, false, &b, 1),
                &mut c,
                &mut |e| ev.push(e),
                &mut out
            ),
            Insert::Held
        );
        // Overlaps the tail of the first 16 bytes and the head of B: ignored there.
        assert_eq!(
            d.insert(
                &frag(7, 8, true, &a, 2),
                &mut c,
                &mut |e| ev.push(e),
                &mut out
            ),
            Insert::Held
        );
        assert_eq!(ev, vec![DecodeEvent::Ipv4FragOverlap]);
        assert_eq!(
            d.insert(
                &frag(7, 0, true, &z, 3),
                &mut c,
                &mut |e| ev.push(e),
                &mut out
            ),
            Insert::Completed
        );
        assert_eq!(out.len(), 20 + 32);
        assert_eq!(&out[20..28], &z);
        assert_eq!(&out[28..36], &a[..8]);
        assert_eq!(&out[36..52], &b);
        assert_eq!(u16::from_be_bytes([out[2], out[3]]), 52);
        assert_eq!(out[6] & 0x3f, 0);
        assert_eq!(ipv4_checksum(&out[..20]), 0);
        assert_eq!(d.in_progress(), 0);
        assert_eq!(d.mem_used(), 0);
        assert_eq!(c.stat(Stat::DefragIpv4Fragments), 3);
        assert_eq!(c.stat(Stat::DefragIpv4Reassembled), 1);
    }

    #[test]
    fn limits_timeout_and_too_large() {
        let mut d = Defragmenter::new(DefragConfig {
            max_datagrams: 2,
            ..cfg()
        });
        let mut c = DecodeCounters::default();
        let mut ev = Vec::new();
        let mut out = Vec::new();
        let p = [0u8; 8];
        for id in 0..3 {
            d.insert(
                &frag(id, 0, true, &p, u64::from(id)),
                &mut c,
                &mut |e| ev.push(e),
                &mut out,
            );
        }
        assert_eq!(d.in_progress(), 2);
        assert_eq!(c.stat(Stat::DefragMaxTrackersReached), 1);
        assert_eq!(c.stat(Stat::DefragEvicted), 1);
        // id 0 was evicted: its tail now starts a new datagram.
        assert_eq!(
            d.insert(&frag(1, 8, false, &p, 5), &mut c, &mut |_| {}, &mut out),
            Insert::Completed
        );
        d.expire(60_000_000_001, &mut c);
        assert_eq!(c.stat(Stat::DefragTimeouts), 0);
        d.expire(60_000_000_002, &mut c);
        assert_eq!(c.stat(Stat::DefragTimeouts), 1);
        assert_eq!(d.in_progress(), 0);
        assert_eq!(d.mem_used(), 0);
        let big = vec![0u8; 1000];
        assert_eq!(
            d.insert(
                &frag(9, 65000, false, &big, 9),
                &mut c,
                &mut |e| ev.push(e),
                &mut out
            ),
            Insert::Dropped
        );
        assert_eq!(ev, vec![DecodeEvent::Ipv4FragPktTooLarge]);
    }

    #[test]
    fn memcap_evicts_oldest() {
        let mut d = Defragmenter::new(DefragConfig {
            memcap: 3000,
            ..cfg()
        });
        let mut c = DecodeCounters::default();
        let mut out = Vec::new();
        let p = vec![1u8; 1000];
        for id in 0..4 {
            d.insert(&frag(id, 0, true, &p, 1), &mut c, &mut |_| {}, &mut out);
            assert!(d.mem_used() <= 3000, "{}", d.mem_used());
        }
        assert!(c.stat(Stat::DefragMemcapReached) >= 1);
        assert!(c.stat(Stat::DefragEvicted) >= 1);
        // A datagram larger than the whole memcap is refused.
        let huge = vec![1u8; 4000];
        assert_eq!(
            d.insert(&frag(99, 0, true, &huge, 1), &mut c, &mut |_| {}, &mut out),
            Insert::Dropped
        );
        assert!(d.mem_used() <= 3000);
    }
}
