//! Per-worker flow table. The dispatcher sends both directions of a flow to the
//! same worker, so the table needs no lock.

use std::net::IpAddr;

use hashbrown::hash_table::Entry;
use hashbrown::HashTable;

/// Bidirectional flow key: endpoints in canonical order plus VLAN and tunnel context.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FlowKey {
    /// Lower endpoint address (IPv4 mapped into IPv6 space).
    pub lo_addr: [u8; 16],
    /// Higher endpoint address.
    pub hi_addr: [u8; 16],
    /// Port of the lower endpoint (ICMP: 0).
    pub lo_port: u16,
    /// Port of the higher endpoint.
    pub hi_port: u16,
    /// IP protocol.
    pub proto: u8,
    /// VLAN ids, outermost first, unused ones 0.
    pub vlan: [u16; 3],
    /// Symmetric hash of the tunnel layers the packet came through (0 when none).
    pub tunnel: u32,
}

fn addr16(ip: &IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v) => v.to_ipv6_mapped().octets(),
        IpAddr::V6(v) => v.octets(),
    }
}

impl FlowKey {
    /// Builds the key of a packet; returns it and whether the packet goes from the
    /// lower to the higher endpoint.
    pub fn new(
        src: &IpAddr,
        dst: &IpAddr,
        sport: u16,
        dport: u16,
        proto: u8,
        vlan: [u16; 3],
        tunnel: u32,
    ) -> (FlowKey, bool) {
        let a = addr16(src);
        let b = addr16(dst);
        // Byte-wise order of the addresses, compared as two integers (the
        // same order as comparing the arrays, without a memcmp call).
        let fwd = (u128::from_be_bytes(a), sport) <= (u128::from_be_bytes(b), dport);
        let (lo_addr, lo_port, hi_addr, hi_port) = if fwd {
            (a, sport, b, dport)
        } else {
            (b, dport, a, sport)
        };
        (
            FlowKey {
                lo_addr,
                hi_addr,
                lo_port,
                hi_port,
                proto,
                vlan,
                tunnel,
            },
            fwd,
        )
    }

    /// Symmetric 64-bit hash (the same for both directions), used both to pick
    /// the worker and as the table hash.
    pub fn hash64(&self) -> u64 {
        let mut h = 0x9e37_79b9_7f4a_7c15u64;
        let mut mix = |v: u64| {
            h = (h ^ v).wrapping_mul(0xff51_afd7_ed55_8ccd);
            h ^= h >> 32;
        };
        for chunk in self
            .lo_addr
            .chunks_exact(8)
            .chain(self.hi_addr.chunks_exact(8))
        {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            mix(u64::from_le_bytes(w));
        }
        mix(((self.lo_port as u64) << 32) | ((self.hi_port as u64) << 16) | self.proto as u64);
        mix(((self.vlan[0] as u64) << 32) | ((self.vlan[1] as u64) << 16) | self.vlan[2] as u64);
        mix(self.tunnel as u64);
        h ^ (h >> 29)
    }
}

/// Direction of a packet relative to the flow's initiator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the client (initiator) to the server.
    ToServer = 0,
    /// From the server to the client.
    ToClient = 1,
}

/// Flow state, as written in EVE flow records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowState {
    /// Seen in one direction only (or TCP handshake not complete).
    New,
    /// Seen both ways (TCP: handshake done or data both ways).
    Established,
    /// TCP FIN both ways or RST.
    Closed,
}

impl FlowState {
    /// EVE name.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowState::New => "new",
            FlowState::Established => "established",
            FlowState::Closed => "closed",
        }
    }
}

/// Why a flow record was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// Idle longer than its state's timeout.
    Timeout,
    /// End of the capture.
    Shutdown,
    /// Evicted because the table was full.
    Forced,
}

impl EndReason {
    /// EVE name.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Timeout => "timeout",
            EndReason::Shutdown => "shutdown",
            EndReason::Forced => "forced",
        }
    }
}

/// One flow.
#[derive(Debug)]
pub struct Flow {
    /// Table key.
    pub key: FlowKey,
    hash: u64,
    /// Stable id written as `flow_id`.
    pub id: u64,
    /// Client (initiator) address and port, server address and port.
    pub src: IpAddr,
    /// Server address.
    pub dst: IpAddr,
    /// Client port (ICMP: type of the first packet).
    pub sport: u16,
    /// Server port (ICMP: code of the first packet).
    pub dport: u16,
    /// IP protocol.
    pub proto: u8,
    /// VLAN ids of the first packet.
    pub vlan: [u16; 3],
    /// Number of VLAN ids in `vlan`.
    pub vlan_count: u8,
    /// Packet number that created the flow (unique; orders flow records).
    pub first_pkt_no: u64,
    /// First and last packet time (ns).
    pub first_ts: u64,
    /// Last packet time (ns).
    pub last_ts: u64,
    /// Packets per direction (index: [`Direction`]).
    pub pkts: [u64; 2],
    /// Bytes per direction.
    pub bytes: [u64; 2],
    /// OR of the TCP flags seen per direction.
    pub tcp_flags: [u8; 2],
    /// Current state.
    pub state: FlowState,
    /// True when the flow's key is in lower→higher orientation for the client.
    client_is_lo: bool,
    /// Alerts raised on this flow.
    pub alerted: bool,
    /// Reassembly, app layer and rule state, for flows that need them.
    pub session: Option<Box<super::session::FlowSession>>,
}

const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_ACK: u8 = 0x10;

impl Flow {
    /// Updates counters and state with one packet; returns its direction.
    pub fn update(&mut self, fwd: bool, len: u64, ts: u64, tcp_flags: Option<u8>) -> Direction {
        let dir = if fwd == self.client_is_lo {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let d = dir as usize;
        self.pkts[d] += 1;
        self.bytes[d] += len;
        if ts > self.last_ts {
            self.last_ts = ts;
        }
        match tcp_flags {
            Some(f) => {
                self.tcp_flags[d] |= f;
                let fin_both = self.tcp_flags[0] & TCP_FIN != 0 && self.tcp_flags[1] & TCP_FIN != 0;
                if f & TCP_RST != 0 || fin_both {
                    self.state = FlowState::Closed;
                } else if self.state == FlowState::New
                    && self.tcp_flags[0] & TCP_SYN != 0
                    && self.tcp_flags[1] & (TCP_SYN | TCP_ACK) == (TCP_SYN | TCP_ACK)
                    && self.tcp_flags[0] & TCP_ACK != 0
                {
                    self.state = FlowState::Established;
                } else if self.state == FlowState::New && self.pkts[0] > 0 && self.pkts[1] > 0 {
                    // picked up midstream: traffic both ways
                    if self.tcp_flags[0] & TCP_SYN == 0 {
                        self.state = FlowState::Established;
                    }
                }
            }
            None => {
                if self.state == FlowState::New && self.pkts[0] > 0 && self.pkts[1] > 0 {
                    self.state = FlowState::Established;
                }
            }
        }
        dir
    }
}

/// Idle timeouts per protocol and state, in seconds (the reference IDS's defaults).
#[derive(Clone, Copy, Debug)]
pub struct FlowTimeouts {
    /// TCP: new, established, closed.
    pub tcp: [u64; 3],
    /// UDP: new, established.
    pub udp: [u64; 2],
    /// ICMP: new, established.
    pub icmp: [u64; 2],
    /// Anything else: new, established.
    pub other: [u64; 2],
}

impl Default for FlowTimeouts {
    fn default() -> Self {
        FlowTimeouts {
            tcp: [60, 600, 60],
            udp: [30, 300],
            icmp: [30, 300],
            other: [30, 300],
        }
    }
}

impl FlowTimeouts {
    /// Whether `f` has been idle past its timeout at time `now` (ns). Idle
    /// time is the distance either way (see [`FlowTable::expire`]).
    fn expired(&self, f: &Flow, now: u64) -> bool {
        now.abs_diff(f.last_ts) / 1_000_000_000 > self.of(f)
    }

    fn of(&self, f: &Flow) -> u64 {
        let pair = match f.proto {
            6 => return self.tcp[f.state as usize],
            17 => self.udp,
            1 | 58 => self.icmp,
            _ => self.other,
        };
        match f.state {
            FlowState::New => pair[0],
            _ => pair[1],
        }
    }
}

/// Flow table configuration.
#[derive(Clone, Copy, Debug)]
pub struct FlowConfig {
    /// Most flows one worker keeps; past this the oldest idle ones are evicted.
    pub max_flows: usize,
    /// Timeouts.
    pub timeouts: FlowTimeouts,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 100_000,
            timeouts: FlowTimeouts::default(),
        }
    }
}

/// Flow counters, with the reference IDS's stats names.
#[derive(Clone, Debug, Default)]
pub struct FlowCounters {
    /// Flows created.
    pub total: u64,
    /// TCP flows created.
    pub tcp: u64,
    /// UDP flows created.
    pub udp: u64,
    /// ICMPv4 flows created.
    pub icmpv4: u64,
    /// ICMPv6 flows created.
    pub icmpv6: u64,
    /// Flows ended by timeout.
    pub timeout: u64,
    /// Flows evicted because the table was full.
    pub evicted: u64,
    /// Flows still open at shutdown.
    pub shutdown: u64,
    /// Most flows in the table at once.
    pub max_active: u64,
}

impl FlowCounters {
    /// Every counter with its stats name.
    pub fn visit(&self, f: &mut dyn FnMut(&'static str, u64)) {
        f("flow.total", self.total);
        f("flow.tcp", self.tcp);
        f("flow.udp", self.udp);
        f("flow.icmpv4", self.icmpv4);
        f("flow.icmpv6", self.icmpv6);
        f("flow.end.timeout", self.timeout);
        f("flow.end.forced", self.evicted);
        f("flow.end.shutdown", self.shutdown);
        f("flow.memcap_evictions", self.evicted);
        f("flow.active_max", self.max_active);
    }

    /// Adds another worker's counters (max for gauges).
    pub fn merge(&mut self, o: &FlowCounters) {
        self.total += o.total;
        self.tcp += o.tcp;
        self.udp += o.udp;
        self.icmpv4 += o.icmpv4;
        self.icmpv6 += o.icmpv6;
        self.timeout += o.timeout;
        self.evicted += o.evicted;
        self.shutdown += o.shutdown;
        self.max_active += o.max_active;
    }
}

/// What the caller knows about a packet to find its flow.
#[derive(Clone, Copy, Debug)]
pub struct FlowPacket {
    /// Key from [`FlowKey::new`].
    pub key: FlowKey,
    /// `key.hash64()`.
    pub hash: u64,
    /// Orientation returned by [`FlowKey::new`].
    pub fwd: bool,
    /// Source address, port, destination address, port as in the packet.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (ICMP: type).
    pub sport: u16,
    /// Destination port (ICMP: code).
    pub dport: u16,
    /// VLAN ids and count.
    pub vlan: [u16; 3],
    /// Number of VLAN ids.
    pub vlan_count: u8,
    /// TCP flags, for TCP.
    pub tcp_flags: Option<u8>,
    /// Packet number.
    pub pkt_no: u64,
    /// Packet time (ns).
    pub ts: u64,
    /// Bytes on the wire (captured length).
    pub len: u64,
}

/// The per-worker flow table.
pub struct FlowTable {
    table: HashTable<Flow>,
    cfg: FlowConfig,
    /// Counters.
    pub counters: FlowCounters,
    last_sweep_s: u64,
}

impl FlowTable {
    /// An empty table.
    pub fn new(cfg: FlowConfig) -> Self {
        FlowTable {
            table: HashTable::new(),
            cfg,
            counters: FlowCounters::default(),
            last_sweep_s: 0,
        }
    }

    /// Flows in the table.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when no flow is tracked.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Finds or creates the packet's flow, updates it and returns it with the
    /// packet's direction. `evicted` receives flows pushed out by a full table,
    /// and the flow the packet belongs to when it was idle past its timeout.
    pub fn track(
        &mut self,
        p: &FlowPacket,
        evicted: &mut dyn FnMut(Flow, EndReason),
    ) -> (&mut Flow, Direction) {
        if self.table.len() >= self.cfg.max_flows
            && self.table.find(p.hash, |f| f.key == p.key).is_none()
        {
            self.evict_oldest(evicted);
        }
        let counters = &mut self.counters;
        let timeouts = self.cfg.timeouts;
        let len_after_insert = self.table.len() as u64 + 1;
        let flow = match self.table.entry(p.hash, |f| f.key == p.key, |f| f.hash) {
            // Idle past its timeout: the flow ends here and the packet starts
            // a new one, as if the periodic sweep had run just before it (so
            // flows do not depend on where batches begin and end).
            Entry::Occupied(o) if timeouts.expired(o.get(), p.ts) => {
                let (old, v) = o.remove();
                counters.timeout += 1;
                evicted(old, EndReason::Timeout);
                counters.count_new(p.key.proto);
                v.insert(new_flow(p)).into_mut()
            }
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => {
                counters.count_new(p.key.proto);
                counters.max_active = counters.max_active.max(len_after_insert);
                v.insert(new_flow(p)).into_mut()
            }
        };
        let dir = flow.update(p.fwd, p.len, p.ts, p.tcp_flags);
        (flow, dir)
    }
}

impl FlowCounters {
    fn count_new(&mut self, proto: u8) {
        self.total += 1;
        match proto {
            6 => self.tcp += 1,
            17 => self.udp += 1,
            1 => self.icmpv4 += 1,
            58 => self.icmpv6 += 1,
            _ => {}
        }
    }
}

fn new_flow(p: &FlowPacket) -> Flow {
    {
        // A SYN/ACK first means we see the server's side first: the client is the destination.
        let server_first =
            matches!(p.tcp_flags, Some(f) if f & (TCP_SYN | TCP_ACK) == (TCP_SYN | TCP_ACK));
        let (src, dst, sport, dport, client_is_lo) = if server_first {
            (p.dst, p.src, p.dport, p.sport, !p.fwd)
        } else {
            (p.src, p.dst, p.sport, p.dport, p.fwd)
        };
        let id = {
            let mut h =
                p.hash ^ p.ts.rotate_left(17) ^ p.pkt_no.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            h = (h ^ (h >> 31)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            h ^= h >> 27;
            h & ((1u64 << 51) - 1)
        };
        Flow {
            key: p.key,
            hash: p.hash,
            id,
            src,
            dst,
            sport,
            dport,
            proto: p.key.proto,
            vlan: p.vlan,
            vlan_count: p.vlan_count,
            first_pkt_no: p.pkt_no,
            first_ts: p.ts,
            last_ts: p.ts,
            pkts: [0; 2],
            bytes: [0; 2],
            tcp_flags: [0; 2],
            state: FlowState::New,
            client_is_lo,
            alerted: false,
            session: None,
        }
    }
}

impl FlowTable {
    fn evict_oldest(&mut self, evicted: &mut dyn FnMut(Flow, EndReason)) {
        // Rare: only when the table is full. Evict the least recently seen ~1/64 of flows.
        let mut ages: Vec<u64> = self.table.iter().map(|f| f.last_ts).collect();
        let k = (ages.len() / 64).max(1);
        let (_, cut, _) = ages.select_nth_unstable(k - 1);
        let cut = *cut;
        let mut n = 0;
        let mut out = Vec::new();
        self.table.retain(|f| {
            if n < k && f.last_ts <= cut {
                n += 1;
                out.push(std::mem::replace(f, placeholder_flow()));
                false
            } else {
                true
            }
        });
        self.counters.evicted += out.len() as u64;
        out.sort_by_key(|f| f.first_pkt_no);
        for f in out {
            evicted(f, EndReason::Forced);
        }
    }

    /// Ends flows idle past their timeout at time `now` (ns). Runs when the clock
    /// has moved to another second. Idle time is the distance between `now` and
    /// the flow's last packet either way: replayed captures made of several files
    /// jump back in time, and a flow the clock moved away from is as good as idle.
    /// Ended flows are passed to `ended` ordered by creation.
    pub fn expire(&mut self, now: u64, ended: &mut dyn FnMut(Flow, EndReason)) {
        let now_s = now / 1_000_000_000;
        if now_s == self.last_sweep_s {
            return;
        }
        self.last_sweep_s = now_s;
        let cfg = self.cfg.timeouts;
        let mut out = Vec::new();
        self.table.retain(|f| {
            if cfg.expired(f, now) {
                out.push(std::mem::replace(f, placeholder_flow()));
                false
            } else {
                true
            }
        });
        self.counters.timeout += out.len() as u64;
        out.sort_by_key(|f| f.first_pkt_no);
        for f in out {
            ended(f, EndReason::Timeout);
        }
    }

    /// Ends every flow (end of capture), ordered by creation.
    pub fn drain(&mut self, ended: &mut dyn FnMut(Flow, EndReason)) {
        let mut out: Vec<Flow> = self.table.drain().collect();
        self.counters.shutdown += out.len() as u64;
        out.sort_by_key(|f| f.first_pkt_no);
        for f in out {
            ended(f, EndReason::Shutdown);
        }
    }
}

fn placeholder_flow() -> Flow {
    let z = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
    Flow {
        key: FlowKey::default(),
        hash: 0,
        id: 0,
        src: z,
        dst: z,
        sport: 0,
        dport: 0,
        proto: 0,
        vlan: [0; 3],
        vlan_count: 0,
        first_pkt_no: 0,
        first_ts: 0,
        last_ts: 0,
        pkts: [0; 2],
        bytes: [0; 2],
        tcp_flags: [0; 2],
        state: FlowState::New,
        client_is_lo: true,
        alerted: false,
        session: None,
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn pkt(
        src: &str,
        dst: &str,
        sp: u16,
        dp: u16,
        flags: Option<u8>,
        no: u64,
        ts_s: u64,
    ) -> FlowPacket {
        let src: IpAddr = src.parse().unwrap();
        let dst: IpAddr = dst.parse().unwrap();
        let (key, fwd) = FlowKey::new(&src, &dst, sp, dp, 6, [0; 3], 0);
        FlowPacket {
            key,
            hash: key.hash64(),
            fwd,
            src,
            dst,
            sport: sp,
            dport: dp,
            vlan: [0; 3],
            vlan_count: 0,
            tcp_flags: flags,
            pkt_no: no,
            ts: ts_s * 1_000_000_000,
            len: 60,
        }
    }

    #[test]
    fn key_and_hash_are_symmetric() {
        let a = pkt("10.0.0.1", "10.0.0.2", 1234, 80, None, 1, 0);
        let b = pkt("10.0.0.2", "10.0.0.1", 80, 1234, None, 2, 0);
        assert_eq!(a.key, b.key);
        assert_eq!(a.hash, b.hash);
        assert_ne!(a.fwd, b.fwd);
    }

    #[test]
    fn handshake_directions_and_close() {
        let mut t = FlowTable::new(FlowConfig::default());
        let mut none = |_f: Flow, _r: EndReason| panic!("no eviction expected");
        let (_, d) = t.track(
            &pkt("10.0.0.1", "10.0.0.2", 1234, 80, Some(TCP_SYN), 1, 0),
            &mut none,
        );
        assert_eq!(d, Direction::ToServer);
        let (_, d) = t.track(
            &pkt(
                "10.0.0.2",
                "10.0.0.1",
                80,
                1234,
                Some(TCP_SYN | TCP_ACK),
                2,
                0,
            ),
            &mut none,
        );
        assert_eq!(d, Direction::ToClient);
        let (f, _) = t.track(
            &pkt("10.0.0.1", "10.0.0.2", 1234, 80, Some(TCP_ACK), 3, 0),
            &mut none,
        );
        assert_eq!(f.state, FlowState::Established);
        assert_eq!(f.pkts, [2, 1]);
        assert_eq!(f.sport, 1234);
        t.track(
            &pkt("10.0.0.2", "10.0.0.1", 80, 1234, Some(TCP_RST), 4, 0),
            &mut none,
        );
        assert_eq!(t.len(), 1);
        let mut ended = Vec::new();
        t.expire(100 * 1_000_000_000, &mut |f, r| {
            ended.push((f.first_pkt_no, r))
        });
        assert_eq!(ended, vec![(1, EndReason::Timeout)]);
        assert!(t.is_empty());
    }

    #[test]
    fn syn_ack_first_makes_destination_the_client() {
        let mut t = FlowTable::new(FlowConfig::default());
        let mut none = |_f: Flow, _r: EndReason| {};
        let (f, d) = t.track(
            &pkt(
                "10.0.0.2",
                "10.0.0.1",
                80,
                1234,
                Some(TCP_SYN | TCP_ACK),
                1,
                0,
            ),
            &mut none,
        );
        assert_eq!(d, Direction::ToClient);
        assert_eq!(f.sport, 1234);
        assert_eq!(f.dport, 80);
    }

    #[test]
    fn full_table_evicts_oldest_and_counts() {
        let mut t = FlowTable::new(FlowConfig {
            max_flows: 100,
            ..Default::default()
        });
        let mut evicted = Vec::new();
        for i in 0..150u64 {
            let p = pkt("10.0.0.1", "10.0.0.2", 1000 + i as u16, 80, None, i + 1, i);
            t.track(&p, &mut |f, _| evicted.push(f.first_pkt_no));
        }
        assert!(t.len() <= 100);
        assert_eq!(t.counters.evicted as usize, evicted.len());
        assert!(evicted.len() >= 50);
        // the oldest went first
        assert_eq!(evicted[0], 1);
        let mut rest = 0;
        t.drain(&mut |_, r| {
            assert_eq!(r, EndReason::Shutdown);
            rest += 1
        });
        assert_eq!(rest + evicted.len(), 150);
    }

    #[test]
    fn packet_after_timeout_starts_a_new_flow_without_a_sweep() {
        let mut t = FlowTable::new(FlowConfig::default());
        let mut ended = Vec::new();
        let syn = pkt("10.0.0.1", "10.0.0.2", 1234, 80, Some(TCP_SYN), 1, 0);
        t.track(&syn, &mut |f, r| ended.push((f.first_pkt_no, r)));
        // Within the new-state timeout: the same flow.
        let again = pkt("10.0.0.1", "10.0.0.2", 1234, 80, Some(TCP_SYN), 2, 5);
        let (f, _) = t.track(&again, &mut |f, r| ended.push((f.first_pkt_no, r)));
        assert_eq!(f.first_pkt_no, 1);
        // Long after it, with no expire() pass in between: the old flow ends
        // as timed out and the packet opens a new one.
        let late = pkt("10.0.0.1", "10.0.0.2", 1234, 80, Some(TCP_SYN), 3, 5 + 3600);
        let (f, _) = t.track(&late, &mut |f, r| ended.push((f.first_pkt_no, r)));
        assert_eq!(f.first_pkt_no, 3);
        assert_eq!(f.pkts, [1, 0]);
        assert_eq!(ended, vec![(1, EndReason::Timeout)]);
        assert_eq!(t.counters.timeout, 1);
        assert_eq!(t.counters.total, 2);
        assert_eq!(t.len(), 1);
    }
}
