//! What the sensor hands to detection for one packet, and the per-flow and
//! per-worker state detection keeps between packets.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::buffer::{AppProto, BufferId};
use super::rule::{Action, RuleMeta, Threshold, Track};

/// `ipopts` bit: record route.
pub const IPOPT_RR: u32 = 1 << 0;
/// `ipopts` bit: end of list.
pub const IPOPT_EOL: u32 = 1 << 1;
/// `ipopts` bit: no-op.
pub const IPOPT_NOP: u32 = 1 << 2;
/// `ipopts` bit: timestamp.
pub const IPOPT_TS: u32 = 1 << 3;
/// `ipopts` bit: security.
pub const IPOPT_SEC: u32 = 1 << 4;
/// `ipopts` bit: extended security.
pub const IPOPT_ESEC: u32 = 1 << 5;
/// `ipopts` bit: loose source routing.
pub const IPOPT_LSRR: u32 = 1 << 6;
/// `ipopts` bit: strict source routing.
pub const IPOPT_SSRR: u32 = 1 << 7;
/// `ipopts` bit: stream identifier.
pub const IPOPT_SATID: u32 = 1 << 8;

/// TCP flag bits as in the TCP header (`flags` keyword letters F S R P A U C E).
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// URG.
    pub const URG: u8 = 0x20;
    /// ECE.
    pub const ECE: u8 = 0x40;
    /// CWR.
    pub const CWR: u8 = 0x80;
}

/// IP header fields used by `ttl`, `id`, `fragbits`, `fragoffset`, `ipopts`, `tos`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IpFields {
    /// TTL / hop limit.
    pub ttl: u8,
    /// Identification (IPv4) or fragment id (IPv6).
    pub id: u32,
    /// Type of service / traffic class.
    pub tos: u8,
    /// Don't fragment bit.
    pub df: bool,
    /// More fragments bit.
    pub mf: bool,
    /// Reserved bit.
    pub rb: bool,
    /// Fragment offset in 8-byte units.
    pub frag_offset: u16,
    /// Options present, as `IPOPT_*` bits.
    pub ipopts: u32,
}

/// TCP header fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpFields {
    /// Flags byte (see [`tcp_flags`]).
    pub flags: u8,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Window (unscaled).
    pub window: u16,
    /// MSS option, if present.
    pub mss: Option<u16>,
}

/// ICMP / ICMPv6 header fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IcmpFields {
    /// Type.
    pub itype: u8,
    /// Code.
    pub icode: u8,
    /// Identifier (echo and similar messages).
    pub id: Option<u16>,
    /// Sequence number (echo and similar messages).
    pub seq: Option<u16>,
}

/// What the flow table knows about the packet's flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowInfo {
    /// The packet belongs to a tracked flow (false: `flow:stateless` only).
    pub tracked: bool,
    /// Packet goes from client to server.
    pub to_server: bool,
    /// Three-way handshake completed (TCP) or traffic seen both ways (UDP).
    pub established: bool,
    /// Application protocol detected on the flow.
    pub app_proto: AppProto,
    /// Protocol the client's own first bytes showed (`Unknown` if none):
    /// differs from `app_proto` on a protocol mismatch.
    pub app_proto_ts: AppProto,
    /// Protocol the server's own first bytes showed (`Unknown` if none).
    pub app_proto_tc: AppProto,
    /// This is the first packet of its flow in its direction (`flow_start` hook).
    pub first_in_direction: bool,
    /// A protocol (the flow's or one direction's) was detected with this
    /// packet: rules testing only `app-layer-protocol` match on such packets.
    pub app_detected: bool,
    /// Bytes of packets the client sent so far (`flow.bytes`).
    pub bytes_to_server: u64,
    /// Bytes of packets the server sent so far.
    pub bytes_to_client: u64,
    /// TCP sequence space each side has used so far, as (client, server):
    /// in-order stream bytes plus one for a SYN seen (`stream_size`). None
    /// when the flow has no TCP stream tracking.
    pub stream_size: Option<(u64, u64)>,
    /// Packets the client sent so far, this one included (`flow.pkts`).
    pub pkts_to_server: u64,
    /// Packets the server sent so far, this one included.
    pub pkts_to_client: u64,
}

/// One packet as detection sees it. Fields are public: the sensor fills them
/// from its decoder, flow table, reassembler and app-layer parsers.
#[derive(Debug, Clone, Copy)]
pub struct PacketInput<'a> {
    /// Packet time, microseconds since the epoch (thresholds use it).
    pub ts_micros: u64,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (0 if none).
    pub sport: u16,
    /// Destination port (0 if none).
    pub dport: u16,
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...).
    pub proto: u8,
    /// IP header fields.
    pub ip: IpFields,
    /// Packet is an IP fragment (not reassembled).
    pub is_fragment: bool,
    /// TCP header, for TCP packets.
    pub tcp: Option<TcpFields>,
    /// ICMP header, for ICMP packets.
    pub icmp: Option<IcmpFields>,
    /// Transport payload of this packet.
    pub payload: &'a [u8],
    /// VLAN ids of the frame, outermost first (`vlan.id`).
    pub vlan: &'a [u16],
    /// Raw innermost IP header, options / extension headers included
    /// (`ipv4.hdr`, `ipv6.hdr`); empty when unknown.
    pub l3_header: &'a [u8],
    /// Raw transport header, options included (`tcp.hdr`, `udp.hdr`,
    /// `icmpv4.hdr`, `icmpv6.hdr`); empty when unknown.
    pub l4_header: &'a [u8],
    /// Flow information.
    pub flow: FlowInfo,
    /// Reassembled stream data for this direction that this packet made
    /// available, when the sensor has it; its first
    /// [`PacketInput::stream_context`] bytes were delivered earlier.
    pub stream: Option<&'a [u8]>,
    /// Bytes at the start of `stream` that earlier packets already delivered
    /// (and were inspected with them): they let a pattern split over segments
    /// match once its last piece arrives, and a match lying wholly inside them
    /// is not reported again.
    pub stream_context: usize,
    /// App-layer buffers present for this packet; a buffer may appear several times.
    pub buffers: &'a [(BufferId, &'a [u8])],
    /// When `buffers` hold both sides of one transaction: the index of the
    /// first response-side (to client) buffer, for `=>` rules that name a
    /// side (`http.connection: to_client`). `None`: all are from the
    /// packet's own direction.
    pub to_client_buffers_from: Option<usize>,
    /// The packet is an ARP frame: `src`/`dst` are the sender's and the
    /// target's IPv4 addresses, and only `arp` rules apply.
    pub arp: bool,
    /// Decoder events raised on this packet ([`super::rule::event_id`] of
    /// their names), for `decode-event` rules.
    pub decode_events: &'a [u32],
    /// App-layer and TCP stream events raised with this packet or carried by
    /// the transaction being inspected ([`super::rule::event_id`] of
    /// `proto.name`, `stream.name`, `applayer.name`), for `app-layer-event`
    /// and `stream-event` rules.
    pub events: &'a [u32],
    /// Inspect only rules that use an app-layer buffer: set when inspecting one
    /// transaction part after the packet itself was inspected, so packet rules
    /// do not alert twice for one packet.
    pub app_only: bool,
}

impl<'a> PacketInput<'a> {
    /// A packet with the given addresses, protocol and payload and every other field empty.
    pub fn new(src: IpAddr, dst: IpAddr, proto: u8, payload: &'a [u8]) -> Self {
        PacketInput {
            ts_micros: 0,
            src,
            dst,
            sport: 0,
            dport: 0,
            proto,
            ip: IpFields {
                ttl: 64,
                ..IpFields::default()
            },
            is_fragment: false,
            tcp: None,
            icmp: None,
            payload,
            vlan: &[],
            l3_header: &[],
            l4_header: &[],
            flow: FlowInfo::default(),
            stream: None,
            stream_context: 0,
            decode_events: &[],
            events: &[],
            arp: false,
            buffers: &[],
            to_client_buffers_from: None,
            app_only: false,
        }
    }
}

/// Per-flow rule state (flowbits, flowint). The sensor keeps one per flow,
/// created with `Default`, and passes it to every inspection of the flow.
#[derive(Debug, Clone, Default)]
pub struct FlowVars {
    /// Engine these ids belong to: state from an older engine is dropped.
    pub(crate) engine_id: u64,
    pub(crate) bits: Vec<u64>,
    pub(crate) ints: Vec<(u32, i64)>,
    /// `track by_flow` threshold counters: (slot, entry).
    pub(crate) thresh: Vec<(u32, TrackEntry)>,
}

impl FlowVars {
    pub(crate) fn bind(&mut self, engine_id: u64) {
        if self.engine_id != engine_id {
            self.engine_id = engine_id;
            self.bits.clear();
            self.ints.clear();
            self.thresh.clear();
        }
    }

    pub(crate) fn is_set(&self, bit: u32) -> bool {
        let (w, b) = ((bit / 64) as usize, bit % 64);
        self.bits.get(w).is_some_and(|v| v & (1 << b) != 0)
    }

    pub(crate) fn set(&mut self, bit: u32, on: bool) {
        let (w, b) = ((bit / 64) as usize, bit % 64);
        if self.bits.len() <= w {
            if !on {
                return;
            }
            self.bits.resize(w + 1, 0);
        }
        if on {
            self.bits[w] |= 1 << b;
        } else {
            self.bits[w] &= !(1 << b);
        }
    }

    pub(crate) fn int(&self, id: u32) -> Option<i64> {
        self.ints.iter().find(|(k, _)| *k == id).map(|(_, v)| *v)
    }

    pub(crate) fn set_int(&mut self, id: u32, v: i64) {
        match self.ints.iter_mut().find(|(k, _)| *k == id) {
            Some(e) => e.1 = v,
            None => self.ints.push((id, v)),
        }
    }

    /// Whether no flowbit or flowint is set.
    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|w| *w == 0) && self.ints.is_empty()
    }
}

/// One rule that matched a packet: what an EVE alert needs.
#[derive(Debug, Clone)]
pub struct Match {
    /// The rule's metadata, shared with the engine.
    pub rule: Arc<RuleMeta>,
    /// Action to take (the rule's, or a `rate_filter`'s new action).
    pub action: Action,
    /// The rule matched but must not raise an alert (`noalert`, `flowbits:noalert`,
    /// a `pass` action).
    pub noalert: bool,
    /// Address-tracked `detection_filter`/`threshold` still to pass, when the
    /// scratch defers them ([`DetectScratch::defer_address_tracking`]).
    pub gate: Option<Box<Gate>>,
}

/// The `detection_filter` and `threshold` of a match that count by address
/// (`by_src`, `by_dst`, `by_both`, `by_rule`), not yet applied. A worker sees
/// only its own flows, so a sensor with several workers applies these where
/// the matches of all workers meet, in packet order, with one [`GateState`]:
/// the alerts are then the same whatever the number of workers.
#[derive(Debug, Clone)]
pub struct Gate {
    pub(crate) engine: u64,
    /// (tracking slot, filter): the detection_filter, then the threshold.
    pub(crate) filters: [Option<(u32, Threshold)>; 2],
    pub(crate) ts_micros: u64,
    pub(crate) src: IpAddr,
    pub(crate) dst: IpAddr,
    pub(crate) sport: u16,
    pub(crate) dport: u16,
}

/// The counters behind [`Gate::pass`]: one for all workers.
#[derive(Debug, Default)]
pub struct GateState {
    tracks: HashMap<(u64, TrackKey), TrackEntry>,
    evictions: u64,
}

impl GateState {
    /// Tracking entries dropped because the table was full of live entries.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }
}

impl Gate {
    /// Counts this match in `state`; whether it may alert.
    pub fn pass(&self, state: &mut GateState) -> bool {
        for (slot, t) in self.filters.iter().flatten() {
            let key = (
                self.engine,
                TrackKey::new(*slot, t.track, self.src, self.dst),
            );
            let e = tracked(
                &mut state.tracks,
                &mut state.evictions,
                key,
                t,
                self.ts_micros,
            );
            if !e.hit(t, self.ts_micros, self.sport, self.dport) {
                return false;
            }
        }
        true
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TrackKey {
    pub(crate) slot: u32,
    pub(crate) a: Option<IpAddr>,
    pub(crate) b: Option<IpAddr>,
}

impl TrackKey {
    /// The key of tracking `slot` by `track` for a packet from `src` to `dst`.
    pub(crate) fn new(slot: u32, track: Track, src: IpAddr, dst: IpAddr) -> TrackKey {
        let (a, b) = match track {
            Track::Source => (Some(src), None),
            Track::Destination => (Some(dst), None),
            Track::Rule | Track::Flow => (None, None),
            Track::Pair => (Some(src), Some(dst)),
        };
        TrackKey { slot, a, b }
    }
}

/// Entries kept per table before expired ones are swept.
pub(crate) const MAX_TRACKS: usize = 65_536;

/// The entry of `key` in `tracks`, new for a first hit; a full table first
/// drops its expired entries, then, still full, starts over (counted).
pub(crate) fn tracked<'t, K: std::hash::Hash + Eq>(
    tracks: &'t mut HashMap<K, TrackEntry>,
    evictions: &mut u64,
    key: K,
    t: &Threshold,
    now: u64,
) -> &'t mut TrackEntry {
    if tracks.len() >= MAX_TRACKS {
        tracks.retain(|_, e| now.saturating_sub(e.start) < e.window || now < e.until);
        if tracks.len() >= MAX_TRACKS {
            // Still full of live entries: start over rather than grow without bound.
            *evictions += tracks.len() as u64;
            tracks.clear();
        }
    }
    tracks
        .entry(key)
        .or_insert_with(|| TrackEntry::fresh(t, now))
}

#[derive(Debug, Clone)]
pub(crate) struct TrackEntry {
    pub(crate) start: u64,
    pub(crate) count: u64,
    /// For rate_filter: new action in force until this time.
    pub(crate) until: u64,
    /// Window length in microseconds, for expiry.
    pub(crate) window: u64,
    /// `detection_filter` `unique_on`: the distinct port values seen in the
    /// window, sorted, at most `count + 1` of them (`count` is then their number).
    pub(crate) distinct: Vec<u16>,
}

impl TrackEntry {
    pub(crate) fn fresh(t: &Threshold, now: u64) -> TrackEntry {
        TrackEntry {
            start: now,
            count: 0,
            until: 0,
            window: t.seconds.saturating_mul(1_000_000),
            distinct: Vec::new(),
        }
    }

    /// Counts a hit of threshold `t` at `now`; returns whether it may alert.
    pub(crate) fn hit(&mut self, t: &Threshold, now: u64, sport: u16, dport: u16) -> bool {
        use super::rule::{ThreshKind, UniqueOn};
        let e = self;
        if now.saturating_sub(e.start) >= e.window {
            e.start = now;
            e.count = 0;
            e.distinct.clear();
        }
        if let Some(field) = t.unique_on {
            // Count distinct port values; past count + 1 of them the filter is
            // exceeded for the rest of the window, so no more are remembered.
            let port = match field {
                UniqueOn::SrcPort => sport,
                UniqueOn::DstPort => dport,
            };
            if (e.distinct.len() as u64) <= t.count {
                if let Err(at) = e.distinct.binary_search(&port) {
                    e.distinct.insert(at, port);
                }
            }
            e.count = e.distinct.len() as u64;
        } else {
            e.count += 1;
        }
        match t.kind {
            ThreshKind::Limit => e.count <= t.count,
            ThreshKind::Threshold => {
                if e.count >= t.count {
                    e.count = 0;
                    true
                } else {
                    false
                }
            }
            ThreshKind::Both => e.count == t.count,
            ThreshKind::DetectionFilter => e.count > t.count,
            ThreshKind::Backoff(m) => {
                // `until` holds the next hit number that alerts.
                if e.until == 0 {
                    e.until = t.count;
                }
                if e.count == e.until {
                    e.until = e.until.saturating_mul(m);
                    true
                } else {
                    false
                }
            }
        }
    }
}

/// Per-worker mutable detection state: prefilter scratch space and the
/// time-based counters of `threshold`, `detection_filter` and `threshold.config`.
/// One per worker thread; not shared.
#[derive(Debug, Default)]
pub struct DetectScratch {
    pub(crate) engine_id: u64,
    pub(crate) seen: Vec<u64>,
    pub(crate) candidates: Vec<u32>,
    pub(crate) tmp: Vec<u8>,
    pub(crate) tmp2: Vec<u8>,
    pub(crate) b64: Vec<u8>,
    pub(crate) latin1: String,
    pub(crate) tracks: HashMap<TrackKey, TrackEntry>,
    pub(crate) evictions: u64,
    /// xbits: (name, host or host pair) -> expiry time in µs (`u64::MAX`: none).
    pub(crate) xbits: HashMap<(u32, IpAddr, Option<IpAddr>), u64>,
    /// Address-tracked filters go into [`Match::gate`] instead of `tracks`.
    pub(crate) defer: bool,
    /// The packet's new stream bytes equal its payload (set per inspection).
    pub(crate) new_is_payload: bool,
}

impl DetectScratch {
    /// Empty scratch; sized on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// Leaves address-tracked `detection_filter`s and `threshold`s to the
    /// caller: matches carry them as a [`Gate`] instead of being counted here.
    pub fn defer_address_tracking(&mut self, on: bool) {
        self.defer = on;
    }

    /// Number of threshold/detection_filter tracking entries currently held.
    pub fn tracked_entries(&self) -> usize {
        self.tracks.len()
    }

    /// Tracking entries dropped because the table was full of live entries
    /// (thresholds restart for them): a counter for stats.
    pub fn threshold_evictions(&self) -> u64 {
        self.evictions
    }
}
