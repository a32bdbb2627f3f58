//! Dispatcher: decodes every frame (defragmenting on the way), computes the
//! symmetric flow hash and hands packets to workers in per-worker batches.

use std::net::IpAddr;
use std::sync::Arc;

use crate::capture::RawBatch;
use crate::decode::{DecodeCounters, DecodeEvent, Decoded, Decoder, DecoderConfig, Packet, L4};
use crate::flow::table::FlowKey;

/// One packet as a worker receives it: decoded, with its flow key.
#[derive(Clone, Copy, Debug)]
pub struct WorkPacket {
    /// Packet number in the run (1-based).
    pub pkt_no: u64,
    /// Capture time (ns since epoch).
    pub ts_ns: u64,
    /// Offset of the packet's bytes: in the shared reader batch, or in
    /// [`WorkBatch::reassembled`] when `reassembled` is set.
    pub off: u32,
    /// The bytes are a reassembled datagram kept in [`WorkBatch::reassembled`].
    pub reassembled: bool,
    /// Length of the packet's bytes (the frame, or the reassembled datagram).
    pub len: u32,
    /// Captured length of the frame on the wire side (for byte counters).
    pub wire_len: u32,
    /// Decoded layers; offsets are relative to `off`.
    pub dec: Packet,
    /// Flow key.
    pub key: FlowKey,
    /// `key.hash64()`.
    pub hash: u64,
    /// Orientation of this packet in `key`.
    pub fwd: bool,
    /// Source and destination "ports" as written in EVE: ICMP type and code for ICMP.
    pub sport: u16,
    /// See `sport`.
    pub dport: u16,
}

/// The packets of one reader batch that belong to one worker. Every worker gets a
/// batch for every reader batch, even an empty one, so all workers see the same
/// clock (used for flow timeouts) and the output can order events.
#[derive(Debug, Default)]
pub struct WorkBatch {
    /// Reader batch sequence number.
    pub seq: u64,
    /// Highest packet number of the reader batch.
    pub last_pkt_no: u64,
    /// Time of the reader batch's last packet (ns): the clock flow timeouts use.
    pub clock_ts: u64,
    /// This worker's packets.
    pub pkts: Vec<WorkPacket>,
    /// The reader batch holding the frames, shared by all workers (no copy).
    pub raw: Option<Arc<RawBatch>>,
    /// When the reader handed the batch over (stage latencies).
    pub filled_at: Option<std::time::Instant>,
    /// Bytes of datagrams rebuilt from fragments.
    pub reassembled: Vec<u8>,
    /// Decoder anomalies of the reader batch (only in the first worker's batch,
    /// and only when anomaly events are wanted).
    pub anomalies: Vec<AnomalyRecord>,
    /// ARP messages of the reader batch, for `arp` rules (only in the first
    /// worker's batch, and only when detection runs).
    pub arps: Vec<ArpRecord>,
}

/// One ARP frame: ARP has no IP layer and no flow.
#[derive(Clone, Copy, Debug)]
pub struct ArpRecord {
    /// Packet number.
    pub pkt_no: u64,
    /// Packet time (ns).
    pub ts_ns: u64,
    /// The message.
    pub arp: crate::decode::Arp,
}

/// A decoder anomaly to be written as an EVE `anomaly` event.
#[derive(Clone, Copy, Debug)]
pub struct AnomalyRecord {
    /// Packet number.
    pub pkt_no: u64,
    /// Packet time (ns).
    pub ts_ns: u64,
    /// The anomaly.
    pub event: DecodeEvent,
    /// Addresses and protocol, when the packet got that far.
    pub l3: Option<(IpAddr, IpAddr, u8)>,
    /// Ports, when the transport header was decoded ((0, 0) otherwise).
    pub ports: (u16, u16),
    /// Index among the packet's anomalies.
    pub index: u8,
}

impl WorkBatch {
    /// The bytes of one packet.
    pub fn bytes(&self, p: &WorkPacket) -> &[u8] {
        if p.reassembled {
            let s = p.off as usize;
            &self.reassembled[s..s + p.len as usize]
        } else {
            match &self.raw {
                Some(r) => r.bytes_at(p.off, p.len),
                None => &[],
            }
        }
    }
}

/// Decodes and routes packets.
pub struct Dispatcher {
    decoder: Decoder,
    workers: usize,
    scratch: Packet,
    max_ts: u64,
    anomalies: bool,
    arps: bool,
}

/// ICMP "ports" for the flow key, as Zeek and Community ID pair them: the type,
/// and the type of the answer when there is one (else the code). A request and
/// its answer then share a key, while requests sent each way are two flows.
fn icmp_key_ports(proto: u8, t: u8, code: u8) -> (u16, u16) {
    let peer = match (proto, t) {
        (1, 0) => 8,
        (1, 8) => 0,
        (1, 13) => 14,
        (1, 14) => 13,
        (1, 15) => 16,
        (1, 16) => 15,
        (1, 17) => 18,
        (1, 18) => 17,
        (1, 9) => 10,
        (1, 10) => 9,
        (58, 128) => 129,
        (58, 129) => 128,
        (58, 133) => 134,
        (58, 134) => 133,
        (58, 135) => 136,
        (58, 136) => 135,
        (58, 130) => 131,
        (58, 131) => 130,
        (58, 144) => 145,
        (58, 145) => 144,
        _ => return (t as u16, code as u16),
    };
    (t as u16, peer as u16)
}

fn tunnel_context(p: &Packet) -> u32 {
    let n = (p.tunnel_count as usize).min(p.tunnels.len());
    let mut h: u64 = 0;
    for t in &p.tunnels[..n] {
        let a = ip_hash(&t.src);
        let b = ip_hash(&t.dst);
        // symmetric in the outer pair
        let pair = a.min(b).wrapping_mul(31) ^ a.max(b);
        h = (h ^ pair ^ (t.kind as u64)).wrapping_mul(0x100_0000_01b3);
    }
    (h ^ (h >> 32)) as u32
}

fn ip_hash(ip: &IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v) => u32::from_be_bytes(v.octets()) as u64,
        IpAddr::V6(v) => {
            let o = v.octets();
            let mut a = [0u8; 8];
            let mut b = [0u8; 8];
            a.copy_from_slice(&o[..8]);
            b.copy_from_slice(&o[8..]);
            u64::from_be_bytes(a) ^ u64::from_be_bytes(b).rotate_left(13)
        }
    }
}

impl Dispatcher {
    /// A dispatcher for `workers` workers.
    pub fn new(cfg: DecoderConfig, workers: usize) -> Self {
        Dispatcher {
            decoder: Decoder::new(cfg),
            workers: workers.max(1),
            scratch: Packet::default(),
            max_ts: 0,
            anomalies: false,
            arps: false,
        }
    }

    /// Also collect ARP messages, for `arp` rules.
    pub fn with_arp_records(mut self, on: bool) -> Self {
        self.arps = on;
        self
    }

    /// Also collect decoder anomalies for EVE `anomaly` events.
    pub fn with_anomaly_events(mut self, on: bool) -> Self {
        self.anomalies = on;
        self
    }

    /// Decodes `batch` and fills one output batch per worker (`outs.len() == workers`).
    pub fn dispatch(&mut self, batch: &Arc<RawBatch>, seq: u64, outs: &mut [WorkBatch]) {
        for o in outs.iter_mut() {
            o.pkts.clear();
            o.reassembled.clear();
            o.seq = seq;
            o.filled_at = batch.filled_at;
            o.raw = Some(batch.clone());
            o.anomalies.clear();
            o.arps.clear();
        }
        let mut pkt_no = batch.first_pkt_no;
        let mut last_expire = self.max_ts;
        for rec in &batch.recs {
            let frame = batch.frame(rec);
            if rec.ts_ns > self.max_ts {
                self.max_ts = rec.ts_ns;
            }
            let this_no = pkt_no;
            pkt_no += 1;
            let status = self
                .decoder
                .decode(rec.dlt, rec.ts_ns, frame, &mut self.scratch);
            if self.anomalies {
                let l3 = self.scratch.l3.map(|l| (l.src, l.dst, l.proto));
                let ports = self.scratch.ports();
                for (i, e) in self.decoder.last_anomalies().iter().enumerate() {
                    outs[0].anomalies.push(AnomalyRecord {
                        pkt_no: this_no,
                        ts_ns: rec.ts_ns,
                        event: *e,
                        l3,
                        ports,
                        index: i as u8,
                    });
                }
            }
            let reassembled = match status {
                Decoded::Ok => false,
                Decoded::Reassembled => true,
                Decoded::NoL3 => {
                    if let Some(arp) = self.scratch.arp.filter(|_| self.arps) {
                        outs[0].arps.push(ArpRecord {
                            pkt_no: this_no,
                            ts_ns: rec.ts_ns,
                            arp,
                        });
                    }
                    continue;
                }
                Decoded::FragmentHeld => continue,
            };
            let dec = self.scratch;
            let Some(l3) = dec.l3 else { continue };
            let (sport, dport, kp_s, kp_d) = match dec.l4 {
                L4::Icmp4 { itype, code, .. } | L4::Icmp6 { itype, code, .. } => {
                    let (a, b) = icmp_key_ports(l3.proto, itype, code);
                    (itype as u16, code as u16, a, b)
                }
                _ => {
                    let (s, d) = dec.ports();
                    (s, d, s, d)
                }
            };
            let (key, fwd) = FlowKey::new(
                &l3.src,
                &l3.dst,
                kp_s,
                kp_d,
                l3.proto,
                dec.vlan,
                tunnel_context(&dec),
            );
            let hash = key.hash64();
            let w = (((hash >> 32) * self.workers as u64) >> 32) as usize;
            let out = &mut outs[w.min(self.workers - 1)];
            let (off, len) = if reassembled {
                let bytes = self.decoder.reassembled();
                let off = out.reassembled.len() as u32;
                out.reassembled.extend_from_slice(bytes);
                (off, bytes.len() as u32)
            } else {
                (rec.off, rec.caplen)
            };
            out.pkts.push(WorkPacket {
                pkt_no: this_no,
                ts_ns: rec.ts_ns,
                off,
                reassembled,
                len,
                wire_len: rec.caplen,
                dec,
                key,
                hash,
                fwd,
                sport,
                dport,
            });
            // Defrag timeouts follow packet time; checking once a second is plenty.
            if self.max_ts >= last_expire + 1_000_000_000 {
                self.decoder.expire(self.max_ts);
                last_expire = self.max_ts;
            }
        }
        let last = pkt_no.saturating_sub(1);
        let clock = batch.recs.last().map_or(self.max_ts, |r| r.ts_ns);
        for o in outs.iter_mut() {
            o.last_pkt_no = last;
            o.clock_ts = clock;
        }
    }

    /// Decoder anomaly events so far.
    pub fn anomalies(&self) -> u64 {
        self.decoder.counters.anomalies()
    }

    /// Ends the run and returns the decoder's counters.
    pub fn finish(self) -> DecodeCounters {
        self.decoder.counters
    }
}
