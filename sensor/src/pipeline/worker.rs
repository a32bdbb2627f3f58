//! Worker: owns a flow table, runs detection and encodes EVE events for the
//! packets the dispatcher gives it.

use super::dispatch::{WorkBatch, WorkPacket};
use super::order::{EventBuf, EventKey, WorkerOutput};
use super::EveTypes;
use crate::decode::L4;
use crate::flow::table::{EndReason, Flow, FlowConfig, FlowCounters, FlowPacket, FlowTable};
use crate::output::eve;

/// Worker settings.
#[derive(Clone, Copy, Debug)]
pub struct WorkerConfig {
    /// What to write.
    pub eve_types: EveTypes,
    /// Flow table settings.
    pub flow: FlowConfig,
}

/// Per-worker counters.
#[derive(Clone, Debug, Default)]
pub struct WorkerCounters {
    /// Packets handled.
    pub packets: u64,
    /// Bytes handled.
    pub bytes: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// Flow records written.
    pub flow_records: u64,
    /// Latest packet time seen (ns).
    pub last_ts: u64,
}

impl WorkerCounters {
    /// Adds another worker's counters.
    pub fn merge(&mut self, o: &WorkerCounters) {
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.alerts += o.alerts;
        self.flow_records += o.flow_records;
        self.last_ts = self.last_ts.max(o.last_ts);
    }
}

/// One worker's state.
pub struct Worker {
    cfg: WorkerConfig,
    flows: FlowTable,
    counters: WorkerCounters,
}

impl Worker {
    /// A worker with an empty flow table.
    pub fn new(cfg: WorkerConfig) -> Self {
        Worker {
            flows: FlowTable::new(cfg.flow),
            cfg,
            counters: WorkerCounters::default(),
        }
    }

    /// Handles one batch; returns its events for the output stage.
    pub fn process(&mut self, batch: &WorkBatch, mut buf: EventBuf) -> WorkerOutput {
        buf.clear();
        let write_flows = self.cfg.eve_types.flow;
        for p in &batch.pkts {
            self.counters.packets += 1;
            self.counters.bytes += p.wire_len as u64;
            let fp = flow_packet(p);
            let flows = &mut self.flows;
            let counters = &mut self.counters;
            let mut evicted = |f: Flow, r: EndReason| {
                if write_flows {
                    counters.flow_records += 1;
                    write_flow(&mut buf, &f, r, p.pkt_no, p.ts_ns);
                }
            };
            let (_flow, _dir) = flows.track(&fp, &mut evicted);
        }
        if batch.max_ts > self.counters.last_ts {
            self.counters.last_ts = batch.max_ts;
        }
        let counters = &mut self.counters;
        let (last, now) = (batch.last_pkt_no, batch.max_ts);
        self.flows.expire(batch.max_ts, &mut |f, r| {
            if write_flows {
                counters.flow_records += 1;
                write_flow(&mut buf, &f, r, last, now);
            }
        });
        WorkerOutput {
            seq: batch.seq,
            events: buf,
        }
    }

    /// Ends every flow still open (end of capture).
    pub fn finish(&mut self, mut buf: EventBuf) -> WorkerOutput {
        buf.clear();
        let write_flows = self.cfg.eve_types.flow;
        let counters = &mut self.counters;
        let now = counters.last_ts;
        self.flows.drain(&mut |f, r| {
            if write_flows {
                counters.flow_records += 1;
                write_flow(&mut buf, &f, r, u64::MAX, now);
            }
        });
        WorkerOutput {
            seq: u64::MAX,
            events: buf,
        }
    }

    /// The worker's counters, once it is done.
    pub fn into_counters(self) -> (FlowCounters, WorkerCounters) {
        (self.flows.counters, self.counters)
    }
}

fn flow_packet(p: &WorkPacket) -> FlowPacket {
    let (src, dst) = match p.dec.l3 {
        Some(l3) => (l3.src, l3.dst),
        None => unreachable_addr(),
    };
    let tcp_flags = match p.dec.l4 {
        L4::Tcp(t) => Some(t.flags),
        _ => None,
    };
    FlowPacket {
        key: p.key,
        hash: p.hash,
        fwd: p.fwd,
        src,
        dst,
        sport: p.sport,
        dport: p.dport,
        vlan: p.dec.vlan,
        vlan_count: p.dec.vlan_count,
        tcp_flags,
        pkt_no: p.pkt_no,
        ts: p.ts_ns,
        len: p.wire_len as u64,
    }
}

/// The dispatcher only sends packets with an IP layer; this keeps the worker total anyway.
fn unreachable_addr() -> (std::net::IpAddr, std::net::IpAddr) {
    let z = std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
    (z, z)
}

/// Appends the common EVE header of a flow: timestamp through community_id.
fn push_flow_header(out: &mut Vec<u8>, f: &Flow, ts: u64, pkt_no: Option<u64>, event: &str) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    eve::push_timestamp(out, ts);
    out.extend_from_slice(b"\",\"flow_id\":");
    eve::push_u64(out, f.id);
    if let Some(n) = pkt_no {
        out.extend_from_slice(b",\"pcap_cnt\":");
        eve::push_u64(out, n);
    }
    out.extend_from_slice(b",\"event_type\":");
    eve::push_str(out, event);
    if f.vlan_count > 0 {
        out.extend_from_slice(b",\"vlan\":[");
        for (i, v) in f.vlan[..(f.vlan_count as usize).min(3)].iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            eve::push_u64(out, *v as u64);
        }
        out.push(b']');
    }
    out.extend_from_slice(b",\"src_ip\":");
    eve::push_ip(out, &f.src);
    let icmp = f.proto == 1 || f.proto == 58;
    if !icmp {
        out.extend_from_slice(b",\"src_port\":");
        eve::push_u64(out, f.sport as u64);
    }
    out.extend_from_slice(b",\"dest_ip\":");
    eve::push_ip(out, &f.dst);
    if !icmp {
        out.extend_from_slice(b",\"dest_port\":");
        eve::push_u64(out, f.dport as u64);
    }
    out.push(b',');
    eve::push_proto(out, f.proto);
    if icmp {
        out.extend_from_slice(b",\"icmp_type\":");
        eve::push_u64(out, f.sport as u64);
        out.extend_from_slice(b",\"icmp_code\":");
        eve::push_u64(out, f.dport as u64);
    }
    out.extend_from_slice(b",\"community_id\":");
    let cid = eve::community_id(f.src, f.dst, f.sport, f.dport, f.proto);
    eve::push_str(out, &cid);
}

fn tcp_flags_hex(out: &mut Vec<u8>, name: &str, v: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":\"");
    out.push(HEX[(v >> 4) as usize]);
    out.push(HEX[(v & 15) as usize]);
    out.push(b'"');
}

/// Writes an EVE `flow` record.
fn write_flow(buf: &mut EventBuf, f: &Flow, reason: EndReason, order_pkt: u64, now: u64) {
    let start = buf.begin();
    let out = &mut buf.data;
    let ts = if reason == EndReason::Shutdown { f.last_ts } else { now.max(f.last_ts) };
    push_flow_header(out, f, ts, None, "flow");
    out.extend_from_slice(b",\"flow\":{\"pkts_toserver\":");
    eve::push_u64(out, f.pkts[0]);
    out.extend_from_slice(b",\"pkts_toclient\":");
    eve::push_u64(out, f.pkts[1]);
    out.extend_from_slice(b",\"bytes_toserver\":");
    eve::push_u64(out, f.bytes[0]);
    out.extend_from_slice(b",\"bytes_toclient\":");
    eve::push_u64(out, f.bytes[1]);
    out.extend_from_slice(b",\"start\":\"");
    eve::push_timestamp(out, f.first_ts);
    out.extend_from_slice(b"\",\"end\":\"");
    eve::push_timestamp(out, f.last_ts);
    out.extend_from_slice(b"\",\"age\":");
    eve::push_u64(out, (f.last_ts.saturating_sub(f.first_ts)) / 1_000_000_000);
    out.extend_from_slice(b",\"state\":");
    eve::push_str(out, f.state.as_str());
    out.extend_from_slice(b",\"reason\":");
    eve::push_str(out, reason.as_str());
    out.extend_from_slice(b",\"alerted\":");
    out.extend_from_slice(if f.alerted { b"true" } else { b"false" });
    out.push(b'}');
    if f.proto == 6 {
        out.extend_from_slice(b",\"tcp\":{");
        let all = f.tcp_flags[0] | f.tcp_flags[1];
        // strip the leading comma of the first field
        let mark = out.len();
        tcp_flags_hex(out, "tcp_flags", all);
        out.remove(mark);
        tcp_flags_hex(out, "tcp_flags_ts", f.tcp_flags[0]);
        tcp_flags_hex(out, "tcp_flags_tc", f.tcp_flags[1]);
        for (bit, name) in [
            (0x01u8, "fin"),
            (0x02, "syn"),
            (0x04, "rst"),
            (0x08, "psh"),
            (0x10, "ack"),
            (0x20, "urg"),
            (0x40, "ece"),
            (0x80, "cwr"),
        ] {
            if all & bit != 0 {
                out.extend_from_slice(b",\"");
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b"\":true");
            }
        }
        out.push(b'}');
    }
    out.push(b'}');
    buf.end(
        start,
        EventKey {
            pkt_no: order_pkt,
            kind: 2,
            tiebreak: f.first_pkt_no,
        },
    );
}
