//! Worker: owns a flow table, runs detection and encodes EVE events for the
//! packets the dispatcher gives it.

use super::dispatch::{WorkBatch, WorkPacket};
use super::order::{EventBuf, EventKey, WorkerOutput};
use super::EveTypes;
use crate::decode::L4;
use crate::flow::table::{EndReason, Flow, FlowConfig, FlowCounters, FlowPacket, FlowTable};
use crate::output::flowlog;

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
        if self.cfg.eve_types.anomaly {
            for a in &batch.anomalies {
                let start = buf.begin();
                flowlog::write_anomaly(&mut buf.data, a);
                buf.end(
                    start,
                    EventKey {
                        pkt_no: a.pkt_no,
                        kind: 1,
                        tiebreak: a.index as u64,
                    },
                );
            }
        }
        if batch.clock_ts > self.counters.last_ts {
            self.counters.last_ts = batch.clock_ts;
        }
        let counters = &mut self.counters;
        let (last, now) = (batch.last_pkt_no, batch.clock_ts);
        self.flows.expire(now, &mut |f, r| {
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

/// Writes an EVE `flow` record into the worker's event buffer.
fn write_flow(buf: &mut EventBuf, f: &Flow, reason: EndReason, order_pkt: u64, now: u64) {
    let start = buf.begin();
    flowlog::write_flow_record(&mut buf.data, f, reason, now);
    buf.end(
        start,
        EventKey {
            pkt_no: order_pkt,
            kind: 2,
            tiebreak: f.first_pkt_no,
        },
    );
}
