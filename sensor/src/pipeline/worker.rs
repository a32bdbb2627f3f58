//! Worker: owns a flow table, runs detection and encodes EVE events for the
//! packets the dispatcher gives it.

use std::sync::Arc;

use vigie_rules::signature::{event_id, BufferId, Engine};

use super::dispatch::{WorkBatch, WorkPacket};
use super::order::{EventBuf, EventKey, WorkerOutput};
use super::EveTypes;
use crate::app::dns::eve as dns_eve;
use crate::app::dns::{DnsSide, DnsVariant};
use crate::app::file;
use crate::app::frames::{Frame, FrameNeeds};
use crate::app::http::eve as http_eve;
use crate::app::http::xff::XffMode;
use crate::app::smb::eve as smb_eve;
use crate::app::tls::eve as tls_eve;
use crate::app::{AppNeeds, AppProto, AppState, Direction as AppDir};
use crate::decode::L4;
use crate::detect::Detector;
use crate::flow::reassembly::{
    Direction as StreamDir, ReassemblyBudget, ReassemblyConfig, Segment, TcpFlags,
};
use crate::flow::session::FlowSession;
use crate::flow::table::{
    Direction, EndReason, Flow, FlowConfig, FlowCounters, FlowPacket, FlowTable,
};
use crate::output::flowlog;

/// Worker settings.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// What to write.
    pub eve_types: EveTypes,
    /// Flow table settings.
    pub flow: FlowConfig,
    /// Always compute MD5/SHA-256 of HTTP bodies (written in `http` events);
    /// otherwise only while the indicator set holds MD5 or SHA-256 hashes.
    pub body_hashes: bool,
    /// Count packets only (see `ReplayConfig::decode_only`).
    pub decode_only: bool,
    /// TCP reassembly settings.
    pub reassembly: ReassemblyConfig,
}

/// Per-worker counters.
#[derive(Clone, Debug, Default)]
pub struct WorkerCounters {
    /// App-layer frames of the flows that ended (built, cut short, dropped).
    pub frames: crate::app::frames::FrameCounts,
    /// Multipart parts past the per-body cap, not tracked as files.
    pub multipart_parts_dropped: u64,
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
    /// TCP tracking and reassembly counters (name, value).
    pub stream: Vec<(&'static str, u64)>,
    /// Indicator matching counters.
    pub intel: crate::intel::IntelCounters,
}

/// One worker's counters that [`super::Progress`] follows live.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveCounts {
    /// Alerts raised.
    pub alerts: u64,
    /// Of those, indicator alerts.
    pub intel_alerts: u64,
    /// Flows created.
    pub flows: u64,
    /// Flows in the table.
    pub flows_active: u64,
}

impl LiveCounts {
    /// Adds what changed since `before` to the shared progress.
    pub fn publish_since(&self, before: &LiveCounts, p: &super::Progress) {
        use std::sync::atomic::Ordering::Relaxed;
        p.alerts.fetch_add(self.alerts - before.alerts, Relaxed);
        p.intel_alerts
            .fetch_add(self.intel_alerts - before.intel_alerts, Relaxed);
        p.flows.fetch_add(self.flows - before.flows, Relaxed);
        if self.flows_active >= before.flows_active {
            p.flows_active
                .fetch_add(self.flows_active - before.flows_active, Relaxed);
        } else {
            p.flows_active
                .fetch_sub(before.flows_active - self.flows_active, Relaxed);
        }
    }
}

impl WorkerCounters {
    /// Adds another worker's counters.
    pub fn merge(&mut self, o: &WorkerCounters) {
        self.frames.frames += o.frames.frames;
        self.frames.truncated += o.frames.truncated;
        self.frames.dropped += o.frames.dropped;
        self.multipart_parts_dropped += o.multipart_parts_dropped;
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.alerts += o.alerts;
        self.flow_records += o.flow_records;
        self.last_ts = self.last_ts.max(o.last_ts);
        self.intel.merge(&o.intel);
        for (name, v) in &o.stream {
            match self.stream.iter_mut().find(|(n, _)| n == name) {
                Some(e) => e.1 += v,
                None => self.stream.push((name, *v)),
            }
        }
    }
}

/// One worker's state.
pub struct Worker {
    cfg: WorkerConfig,
    flows: FlowTable,
    counters: WorkerCounters,
    budget: ReassemblyBudget,
    detector: Option<Detector>,
    intel: Option<crate::intel::IntelMatcher>,
}

/// Where an event goes in the output order.
struct Emit<'a> {
    buf: &'a mut EventBuf,
    sub: u32,
}

impl Emit<'_> {
    fn push(&mut self, pkt_no: u64, kind: u8, tiebreak: u64, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.buf.begin();
        write(&mut self.buf.data);
        self.sub += 1;
        self.buf.end(
            start,
            EventKey {
                pkt_no,
                kind,
                tiebreak,
                sub: self.sub,
            },
        );
    }

    /// Pushes the alert of `m`; one carrying an address-tracked threshold
    /// is written only if that passes at the output.
    fn push_alert(
        &mut self,
        pkt_no: u64,
        m: &vigie_rules::signature::Match,
        write: impl FnOnce(&mut Vec<u8>),
    ) {
        self.push(pkt_no, KIND_ALERT, 0, write);
        if let Some(g) = &m.gate {
            self.buf.gate_last(g.clone());
        }
    }
}

/// Event kinds, in output order within one packet.
const KIND_ALERT: u8 = 0;
const KIND_FLOW: u8 = 2;
const KIND_APP: u8 = 3;

impl Worker {
    /// A worker with an empty flow table, and detection when `engine` is given.
    pub fn new(cfg: WorkerConfig, engine: Option<Arc<Engine>>) -> Self {
        Worker {
            flows: FlowTable::new(cfg.flow),
            budget: ReassemblyBudget::new(cfg.reassembly.clone()),
            detector: engine.map(Detector::new),
            intel: None,
            cfg,
            counters: WorkerCounters::default(),
        }
    }

    /// Matches indicators from `shared` (its current set, taken per batch).
    pub fn set_intel(&mut self, shared: Option<crate::intel::SharedIndicators>) {
        self.intel = shared.map(crate::intel::IntelMatcher::new);
    }

    /// Handles one batch; returns its events for the output stage.
    pub fn process(&mut self, batch: &WorkBatch, buf: EventBuf) -> WorkerOutput {
        if let Some(i) = self.intel.as_mut() {
            i.begin_batch();
        }
        let out = self.process_batch(batch, buf);
        if let Some(i) = self.intel.as_mut() {
            i.end_batch();
        }
        out
    }

    fn process_batch(&mut self, batch: &WorkBatch, mut buf: EventBuf) -> WorkerOutput {
        buf.clear();
        let mut emit = Emit {
            buf: &mut buf,
            sub: 0,
        };
        let types = self.cfg.eve_types;
        // The indicator set changes only between batches (begin_batch).
        // Bodies are hashed only for someone: indicators, `--body-hashes`,
        // fileinfo events, or rules on file digests.
        let hash_rules = self.detector.as_ref().is_some_and(|d| {
            [BufferId::FileMd5, BufferId::FileSha1, BufferId::FileSha256]
                .iter()
                .any(|b| d.uses_buffer(*b))
        });
        let needs = AppNeeds {
            body_hashes: self.cfg.body_hashes
                || types.fileinfo
                || hash_rules
                || self.intel.as_ref().is_some_and(|i| i.wants_body_hashes()),
            bodies: self.detector.is_some() || types.fileinfo,
            inspection: self.detector.is_some(),
            frames: self
                .detector
                .as_ref()
                .map(|d| d.frame_needs())
                .unwrap_or_default(),
        };
        for p in &batch.pkts {
            self.counters.packets += 1;
            self.counters.bytes += p.wire_len as u64;
            if self.cfg.decode_only {
                continue;
            }
            let fp = flow_packet(p);
            let Worker {
                flows,
                counters,
                budget,
                detector,
                intel,
                ..
            } = self;
            let mut evicted = |mut f: Flow, r: EndReason| {
                end_flow(
                    &mut f,
                    r,
                    p.pkt_no,
                    p.ts_ns,
                    budget,
                    (detector.as_mut(), intel.as_mut()),
                    counters,
                    types,
                    &mut emit,
                );
            };
            let (flow, dir) = flows.track(&fp, &mut evicted);
            let bytes = batch.bytes(p);
            handle_packet(
                p,
                bytes,
                flow,
                dir,
                (budget, needs),
                detector.as_mut(),
                intel.as_mut(),
                counters,
                types,
                &mut emit,
            );
        }
        if batch.clock_ts > self.counters.last_ts {
            self.counters.last_ts = batch.clock_ts;
        }
        if let Some(det) = self.detector.as_mut() {
            decode_event_alerts(&batch.anomalies, det, &mut self.counters, types, &mut emit);
            for a in &batch.arps {
                det.inspect_arp(a.ts_ns, &a.arp);
                flowless_alerts(
                    det,
                    a.pkt_no,
                    &mut self.counters,
                    types,
                    &mut emit,
                    |out, m| flowlog::write_arp_alert(out, a, m),
                );
            }
        }
        if types.anomaly {
            for a in &batch.anomalies {
                emit.push(a.pkt_no, 1, a.index as u64, |out| {
                    flowlog::write_anomaly(out, a)
                });
            }
        }
        if self.cfg.decode_only {
            return WorkerOutput {
                seq: batch.seq,
                events: buf,
                born: batch.filled_at,
            };
        }
        let Worker {
            flows,
            counters,
            budget,
            detector,
            intel,
            ..
        } = self;
        let (last, now) = (batch.last_pkt_no, batch.clock_ts);
        flows.expire(now, &mut |mut f, r| {
            end_flow(
                &mut f,
                r,
                last,
                now,
                budget,
                (detector.as_mut(), intel.as_mut()),
                counters,
                types,
                &mut emit,
            );
        });
        WorkerOutput {
            seq: batch.seq,
            events: buf,
            born: batch.filled_at,
        }
    }

    /// Ends every flow still open (end of capture).
    pub fn finish(&mut self, buf: EventBuf) -> WorkerOutput {
        if let Some(i) = self.intel.as_mut() {
            i.begin_batch();
        }
        let out = self.finish_flows(buf);
        if let Some(i) = self.intel.as_mut() {
            i.end_batch();
        }
        out
    }

    fn finish_flows(&mut self, mut buf: EventBuf) -> WorkerOutput {
        buf.clear();
        let mut emit = Emit {
            buf: &mut buf,
            sub: 0,
        };
        let types = self.cfg.eve_types;
        let Worker {
            flows,
            counters,
            budget,
            detector,
            intel,
            ..
        } = self;
        let now = counters.last_ts;
        flows.drain(&mut |mut f, r| {
            end_flow(
                &mut f,
                r,
                u64::MAX,
                now,
                budget,
                (detector.as_mut(), intel.as_mut()),
                counters,
                types,
                &mut emit,
            );
        });
        WorkerOutput {
            seq: u64::MAX,
            events: buf,
            born: None,
        }
    }

    /// Replaces the signature engine (reload); flow variables of the old
    /// engine are dropped by the engine's own id check.
    pub fn set_engine(&mut self, engine: Option<Arc<Engine>>) {
        self.detector = engine.map(Detector::new);
    }

    /// Counters the pipeline publishes live, once per batch.
    pub fn live_counts(&self) -> LiveCounts {
        LiveCounts {
            alerts: self.counters.alerts,
            intel_alerts: self.intel.as_ref().map_or(0, |i| i.counters.alerts),
            flows: self.flows.counters.total,
            flows_active: self.flows.len() as u64,
        }
    }

    /// The worker's counters, once it is done.
    pub fn into_counters(self) -> (FlowCounters, WorkerCounters) {
        let mut c = self.counters;
        if let Some(i) = &self.intel {
            c.intel = i.counters.clone();
        }
        self.budget.visit(&mut |name, v| c.stream.push((name, v)));
        if c.frames.frames + c.frames.dropped > 0 {
            c.stream.push(("app_layer.frames", c.frames.frames));
            c.stream
                .push(("app_layer.frames_truncated", c.frames.truncated));
            c.stream
                .push(("app_layer.frames_dropped", c.frames.dropped));
        }
        if c.multipart_parts_dropped > 0 {
            c.stream.push((
                "app_layer.files.multipart_parts_dropped",
                c.multipart_parts_dropped,
            ));
        }
        (self.flows.counters, c)
    }
}

fn stream_dir(d: Direction) -> StreamDir {
    match d {
        Direction::ToServer => StreamDir::ToServer,
        Direction::ToClient => StreamDir::ToClient,
    }
}

fn to_app_dir(d: Direction) -> AppDir {
    match d {
        Direction::ToServer => AppDir::ToServer,
        Direction::ToClient => AppDir::ToClient,
    }
}

/// Flow ended: flush reassembly into the app layer, write the app events still
/// pending and the flow record.
#[allow(clippy::too_many_arguments)]
fn end_flow(
    f: &mut Flow,
    r: EndReason,
    order_pkt: u64,
    now: u64,
    budget: &mut ReassemblyBudget,
    (det, intel): (
        Option<&mut Detector>,
        Option<&mut crate::intel::IntelMatcher>,
    ),
    counters: &mut WorkerCounters,
    types: EveTypes,
    emit: &mut Emit<'_>,
) {
    let mut sess = f.session.take();
    if let Some(s) = sess.as_mut() {
        s.finish(budget);
        if let Some(fr) = s.app.frames.as_ref() {
            counters.frames.frames += fr.counts.frames;
            counters.frames.truncated += fr.counts.truncated;
            counters.frames.dropped += fr.counts.dropped;
        }
        if let Some(det) = det.filter(|_| !s.passed) {
            final_inspection(f, s, det, counters, types, emit);
        }
    }
    if let Some(i) = intel {
        // Indicator hits in what the flow still held, then forget the flow.
        let tiebreak = f.first_pkt_no;
        counters.alerts +=
            i.on_flow_end(f, sess.as_deref(), order_pkt, now, types.alert, &mut |w| {
                emit.push(order_pkt, KIND_ALERT, tiebreak, |out| w(out))
            });
    }
    if let Some(mut sess) = sess {
        log_app(f, &mut sess, now, order_pkt, true, types, counters, emit);
    }
    if types.flow {
        counters.flow_records += 1;
        emit.push(order_pkt, KIND_FLOW, f.first_pkt_no, |out| {
            flowlog::write_flow_record(out, f, r, now)
        });
    }
}

/// Writes app-layer events for finished transactions and frees them.
#[allow(clippy::too_many_arguments)]
fn log_app(
    f: &Flow,
    sess: &mut FlowSession,
    ts: u64,
    order_pkt: u64,
    all: bool,
    types: EveTypes,
    counters: &mut WorkerCounters,
    emit: &mut Emit<'_>,
) {
    let tiebreak = f.first_pkt_no;
    match &mut sess.app.state {
        AppState::Http(h) => {
            let txs = if all { h.take_all() } else { h.take_complete() };
            for tx in &txs {
                counters.multipart_parts_dropped += file::request_parts_over_cap(tx) as u64;
            }
            let app_proto = if h.is_http2() { "http2" } else { "http" };
            if types.http {
                for tx in &txs {
                    let v = http_eve::eve_http(tx);
                    emit.push(order_pkt, KIND_APP, tiebreak, |out| {
                        flowlog::write_app_event(out, f, ts, "http", &v)
                    });
                }
            }
            if types.fileinfo {
                for tx in &txs {
                    let files: Vec<_> = [AppDir::ToServer, AppDir::ToClient]
                        .into_iter()
                        .flat_map(|d| file::http_files(tx, d, None, true))
                        .collect();
                    if files.is_empty() {
                        continue;
                    }
                    let http = http_eve::eve_http(tx);
                    for fv in &files {
                        let info = file::at_flow_end(fv.clone(), all).eve();
                        emit.push(order_pkt, KIND_APP, tiebreak, |out| {
                            flowlog::write_fileinfo_event(
                                out,
                                f,
                                ts,
                                Some(("http", &http)),
                                app_proto,
                                &info,
                            )
                        });
                    }
                }
            }
        }
        AppState::Dns(d) => {
            let variant = d.variant();
            let txs = if all { d.take_all() } else { d.take_complete() };
            if types.dns && variant != DnsVariant::Dns {
                for tx in &txs {
                    let v = dns_eve::eve_multicast(tx, variant);
                    emit.push(order_pkt, KIND_APP, tiebreak, |out| {
                        flowlog::write_app_event(out, f, ts, variant.name(), &v)
                    });
                }
            } else if types.dns {
                for tx in &txs {
                    for v in dns_eve::eve_request_v3(tx)
                        .into_iter()
                        .chain(dns_eve::eve_response_v3(tx))
                    {
                        emit.push(order_pkt, KIND_APP, tiebreak, |out| {
                            flowlog::write_app_event(out, f, ts, "dns", &v)
                        });
                    }
                }
            }
        }
        AppState::Tls(t)
            if types.tls
                && !sess.tls_logged
                && (all || t.handshake_done())
                && t.client_hello.is_some() =>
        {
            sess.tls_logged = true;
            let v = tls_eve::eve_tls(t);
            emit.push(order_pkt, KIND_APP, tiebreak, |out| {
                flowlog::write_app_event(out, f, ts, "tls", &v)
            });
        }
        // Closed files, once inspected in full, are freed; so are commands
        // and pipe calls rules have seen both ways.
        AppState::Smb(m) => {
            for sf in m.take_closed(all).iter().filter(|_| types.fileinfo) {
                let info = file::at_flow_end(file::smb_file(sf, true), all).eve();
                emit.push(order_pkt, KIND_APP, tiebreak, |out| {
                    flowlog::write_fileinfo_event(out, f, ts, None, "smb", &info)
                });
            }
            let inspected_only = sess.app.needs.inspection && !sess.passed;
            m.take_commands(all, inspected_only);
            for p in m.pipes_mut() {
                p.rpc.take_complete(all, inspected_only);
            }
            m.drop_idle_pipes();
        }
        // Calls wait for detection to see them both ways.
        AppState::Dcerpc(st) => {
            let inspected_only = sess.app.needs.inspection && !sess.passed;
            for tx in st.take_complete(all, inspected_only) {
                if types.dcerpc {
                    let v = crate::app::dcerpc::eve::eve_dcerpc(st, &tx);
                    emit.push(order_pkt, KIND_APP, tiebreak, |out| {
                        flowlog::write_app_event(out, f, ts, "dcerpc", &v)
                    });
                }
            }
        }
        AppState::Tftp(t) => {
            for tx in t.take_complete().iter().filter(|_| types.tftp) {
                let v = crate::app::tftp::eve_tftp(tx);
                emit.push(order_pkt, KIND_APP, tiebreak, |out| {
                    flowlog::write_app_event(out, f, ts, "tftp", &v)
                });
            }
        }
        AppState::Dhcp(d) => {
            for tx in d.take_complete().iter().filter(|_| types.dhcp) {
                let v = crate::app::dhcp::eve_dhcp(tx);
                emit.push(order_pkt, KIND_APP, tiebreak, |out| {
                    flowlog::write_app_event(out, f, ts, "dhcp", &v)
                });
            }
        }
        // One event per flow, once both sides are read (or the flow ends).
        AppState::Ssh(h) if !h.logged && (all || h.done()) => {
            h.logged = true;
            if types.ssh && h.sides.iter().any(|s| s.banner_seen) {
                let v = crate::app::ssh::eve_ssh(h);
                emit.push(order_pkt, KIND_APP, tiebreak, |out| {
                    flowlog::write_app_event(out, f, ts, "ssh", &v)
                });
            }
        }
        // Messages wait for detection to see them in their direction.
        // (A passed flow is not inspected any more.)
        AppState::Sip(m) => {
            let inspected_only = sess.app.needs.inspection && !sess.passed;
            for tx in m
                .take_complete(all, inspected_only)
                .iter()
                .filter(|_| types.sip)
            {
                let v = crate::app::sip::eve_sip(tx);
                emit.push(order_pkt, KIND_APP, tiebreak, |out| {
                    flowlog::write_app_event(out, f, ts, "sip", &v)
                });
            }
        }
        // Transactions wait until complete and seen whole by detection.
        AppState::Mqtt(m) => {
            let inspected_only = sess.app.needs.inspection && !sess.passed;
            for tx in m.take_complete(all, inspected_only) {
                if types.mqtt && !tx.msgs.is_empty() {
                    let v = crate::app::mqtt::eve_mqtt(&tx);
                    emit.push(order_pkt, KIND_APP, tiebreak, |out| {
                        flowlog::write_app_event(out, f, ts, "mqtt", &v)
                    });
                }
                // The transaction's parser events, as the reference IDS's
                // app-layer anomaly records.
                for e in tx.events.iter().filter(|_| types.anomaly) {
                    let v = serde_json::json!({
                        "app_proto": "mqtt",
                        "type": "applayer",
                        "event": e.name(),
                        "layer": "proto_parser",
                        "tx_id": tx.tx_id,
                    });
                    emit.push(order_pkt, KIND_APP, tiebreak, |out| {
                        flowlog::write_app_event(out, f, ts, "anomaly", &v)
                    });
                }
            }
        }
        _ => {}
    }
}

/// One packet of a tracked flow: reassembly, app layer, detection, events.
#[allow(clippy::too_many_arguments)]
fn handle_packet(
    p: &WorkPacket,
    bytes: &[u8],
    flow: &mut Flow,
    dir: Direction,
    (budget, needs): (&mut ReassemblyBudget, AppNeeds),
    detector: Option<&mut Detector>,
    intel: Option<&mut crate::intel::IntelMatcher>,
    counters: &mut WorkerCounters,
    types: EveTypes,
    emit: &mut Emit<'_>,
) {
    let proto = p.dec.l3.map_or(0, |l| l.proto);
    let start = (p.dec.payload_off as usize).min(bytes.len());
    let end = (start + p.dec.payload_len as usize).min(bytes.len());
    let payload = &bytes[start..end];
    if proto == 6 || (proto == 17 && !payload.is_empty()) {
        let sess = flow.session.get_or_insert_with(|| {
            let mut s = FlowSession::new(proto, flow.sport, flow.dport, budget);
            s.app.needs = needs;
            if let Some(tcp) = s.tcp.as_mut() {
                let hosts = &budget.config().hosts;
                for (dir, receiver) in [
                    (Direction::ToServer, flow.dst),
                    (Direction::ToClient, flow.src),
                ] {
                    if let Some(policy) = hosts.lookup(receiver) {
                        tcp.set_receiver_policy(stream_dir(dir), policy);
                    }
                }
            }
            Box::new(s)
        });
        match p.dec.l4 {
            L4::Tcp(t) => {
                let seg = Segment {
                    seq: t.seq,
                    ack: t.ack,
                    flags: TcpFlags(t.flags),
                    payload,
                    ts_us: p.ts_ns / 1000,
                };
                sess.on_tcp(stream_dir(dir), &seg, budget);
            }
            L4::Udp { .. } => sess.on_udp(to_app_dir(dir), payload),
            _ => {}
        }
    }
    if let Some(det) = detector {
        inspect(p, bytes, flow, dir, det, counters, types, emit);
    }
    if let Some(i) = intel {
        // Before log_app frees the completed transactions.
        intel_packet(p, flow, dir, i, counters, types, emit);
    }
    let wants_app = types.http || types.dns || types.tls;
    if let Some(mut sess) = flow.session.take() {
        // Completed transactions are logged (when asked) and freed.
        if wants_app || !matches!(sess.app.state, AppState::Tls(_)) {
            log_app(
                flow, &mut sess, p.ts_ns, p.pkt_no, false, types, counters, emit,
            );
        }
        flow.session = Some(sess);
    }
}

/// Runs detection on the packet, then on each app-layer transaction part that
/// became available with it, and writes the alerts.
#[allow(clippy::too_many_arguments)]
fn inspect(
    p: &WorkPacket,
    bytes: &[u8],
    flow: &mut Flow,
    dir: Direction,
    det: &mut Detector,
    counters: &mut WorkerCounters,
    types: EveTypes,
    emit: &mut Emit<'_>,
) {
    // Every flow gets a session for its rule state (flowbits, by_flow thresholds).
    let proto = p.dec.l3.map_or(0, |l| l.proto);
    let mut sess = flow
        .session
        .take()
        .unwrap_or_else(|| Box::new(FlowSession::rules_only(proto, flow.sport, flow.dport)));
    if sess.passed {
        flow.session = Some(sess);
        return;
    }
    // Packet rules, with the stream bytes this packet delivered in order.
    {
        let s: &mut FlowSession = &mut sess;
        let events = std::mem::take(&mut s.pkt_events);
        let info = crate::detect::SessionInfo {
            app: s.app.proto,
            app_dirs: s.app.dir_proto,
            app_detected: s.app.detected_now,
            stream_size: s.stream_size(),
            established: s.established(flow.state != crate::flow::FlowState::New),
            stream: None,
            app_only: false,
            events: &events,
            to_client_buffers_from: None,
        };
        let (stream, vars) = s.stream_and_vars(stream_dir(dir));
        det.inspect(
            p,
            bytes,
            flow,
            dir,
            crate::detect::SessionInfo { stream, ..info },
            vars,
            &[],
        );
        s.pkt_events = events;
        let ms = std::mem::take(&mut det.matches);
        let datagram = if ms.is_empty() {
            None
        } else {
            datagram_object(&sess)
        };
        write_alerts(
            p,
            flow,
            dir,
            &ms,
            (datagram.as_ref().map(|(n, v)| (*n, v)), None),
            Some(&sess),
            counters,
            types,
            emit,
        );
        // A matching pass rule passes the whole flow.
        sess.passed = ms
            .iter()
            .any(|m| m.action == vigie_rules::signature::Action::Pass);
        det.matches = ms;
        // Detection happened with this packet only.
        sess.app.detected_now = false;
    }
    if !sess.passed {
        inspect_app(p, bytes, flow, dir, det, &mut sess, counters, types, emit);
    }
    flow.session = Some(sess);
}

/// `decode-event` rules over the decoder events of a batch (in packet order),
/// one inspection per packet with all its events.
fn decode_event_alerts(
    anomalies: &[super::dispatch::AnomalyRecord],
    det: &mut Detector,
    counters: &mut WorkerCounters,
    types: EveTypes,
    emit: &mut Emit<'_>,
) {
    let mut ids = Vec::new();
    let mut rest = anomalies;
    while let Some(a) = rest.first() {
        let n = rest.iter().take_while(|b| b.pkt_no == a.pkt_no).count();
        ids.clear();
        ids.extend(
            rest[..n]
                .iter()
                .map(|b| vigie_rules::signature::event_id(b.event.rule_name())),
        );
        rest = &rest[n..];
        det.inspect_events(a.ts_ns, a.l3, a.ports, &ids);
        flowless_alerts(det, a.pkt_no, counters, types, emit, |out, m| {
            flowlog::write_packet_alert(out, a, m)
        });
    }
}

/// Counts and writes the alerts of the detector's last inspection of a
/// packet outside any flow (decoder events, ARP).
fn flowless_alerts(
    det: &Detector,
    pkt_no: u64,
    counters: &mut WorkerCounters,
    types: EveTypes,
    emit: &mut Emit<'_>,
    write: impl Fn(&mut Vec<u8>, &vigie_rules::signature::Match),
) {
    for m in det.matches.iter().filter(|m| !m.noalert) {
        counters.alerts += 1;
        if types.alert {
            emit.push_alert(pkt_no, m, |out| write(out, m));
        }
    }
}

/// The app object of the message this packet carried, for protocols whose
/// messages are single datagrams (TFTP, DHCP, SIP over UDP): their alerts name it.
fn datagram_object(s: &FlowSession) -> Option<(&'static str, serde_json::Value)> {
    if !s.new_data {
        return None;
    }
    match &s.app.state {
        AppState::Tftp(t) => t
            .transactions()
            .last()
            .map(|tx| ("tftp", crate::app::tftp::eve_tftp(tx))),
        AppState::Dhcp(d) => d
            .transactions()
            .last()
            .map(|tx| ("dhcp", crate::app::dhcp::eve_dhcp(tx))),
        // Over UDP a message is its datagram.
        AppState::Sip(m) if s.tcp.is_none() => m
            .transactions()
            .last()
            .filter(|tx| !tx.inspected)
            .map(|tx| ("sip", crate::app::sip::eve_sip(tx))),
        _ => None,
    }
}

/// Most `http.request_header` / `http.response_header` instances built per
/// transaction side; headers past it are only in `http.header`.
const MAX_HEADER_INSTANCES: usize = 256;

/// `http.request_header` / `http.response_header`: one "Name: value" per header.
fn header_lines(
    out: &mut Vec<(BufferId, Vec<u8>)>,
    id: BufferId,
    headers: &[crate::app::http::HttpHeader],
) {
    for h in headers.iter().take(MAX_HEADER_INSTANCES) {
        let mut v = Vec::with_capacity(h.name.len() + 2 + h.value.len());
        v.extend_from_slice(&h.name);
        v.extend_from_slice(b": ");
        v.extend_from_slice(&h.value);
        out.push((id, v));
    }
}

/// `http.header_names`: CRLF, then each header name followed by CRLF, then CRLF.
fn header_names(headers: &[crate::app::http::HttpHeader]) -> Vec<u8> {
    let mut v = b"\r\n".to_vec();
    for h in headers {
        v.extend_from_slice(&h.name);
        v.extend_from_slice(b"\r\n");
    }
    v.extend_from_slice(b"\r\n");
    v
}

/// Response bodies are inspected as they grow (each time their size has
/// doubled) up to this size, then once complete.
const PARTIAL_BODY_MAX: usize = 64 << 10;

/// Ids of the events of DNS transaction `tx_id` not yet handed to detection,
/// marking them handed: each event is inspected once, with whichever side of
/// the transaction comes first after it was raised.
fn new_dns_events(
    seen: &mut Vec<(u64, [usize; 2])>,
    tx_id: u64,
    events: &[crate::app::dns::DnsEvent],
) -> Vec<u32> {
    if events.is_empty() {
        return Vec::new();
    }
    let done = match seen.iter_mut().find(|(id, _)| *id == tx_id) {
        Some((_, c)) => std::mem::replace(&mut c[0], events.len()),
        None => {
            seen.push((tx_id, [events.len(), 0]));
            0
        }
    };
    events
        .get(done..)
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.rule_name())
        .map(event_id)
        .collect()
}

/// Whether loaded rules test file digests (files are then hashed for them).
fn file_hashes_wanted(det: &Detector) -> bool {
    [BufferId::FileMd5, BufferId::FileSha1, BufferId::FileSha256]
        .iter()
        .any(|b| det.uses_buffer(*b))
}

/// Adds the buffer a parser named `name` to a transaction part's buffers
/// (names detection does not know are skipped).
fn push_named_buffer(out: &mut Vec<(BufferId, Vec<u8>)>, name: &str, b: &[u8]) {
    if let Some(id) = BufferId::from_name(name) {
        out.push((id, b.to_vec()));
    }
}

/// Part ids of SMB commands and DCERPC calls, apart from SMB file ids.
const SMB_COMMAND_PARTS: u64 = 1 << 62;
const DCERPC_PARTS: u64 = 1 << 61;

/// DCERPC calls whose side in `dir` completed with an earlier packet are
/// inspected with this one (the reference IDS parses stream data once the
/// other side acknowledged it, and inspects it with the direction's next
/// packet); sides completed since are readied for the next one. A call
/// may alert once per rule and direction.
fn dcerpc_parts(
    st: &mut crate::app::dcerpc::DcerpcState,
    dir: AppDir,
    over_smb: bool,
    det: &Detector,
    parts: &mut Vec<crate::flow::session::AppPart>,
) {
    let d = usize::from(dir == AppDir::ToClient);
    let wanted = [
        BufferId::DcerpcStubData,
        BufferId::DcerpcOpnum,
        BufferId::DcerpcIface,
    ]
    .iter()
    .any(|b| det.uses_buffer(*b));
    if wanted {
        for tx in st.transactions().iter().filter(|t| t.inspect[d] == 1) {
            let mut bufs = Vec::new();
            crate::app::dcerpc::for_each_buffer(st, tx, dir, |n, b| {
                push_named_buffer(&mut bufs, n, b)
            });
            let obj = crate::app::dcerpc::eve::eve_dcerpc(st, tx);
            let app = if over_smb {
                ("smb", serde_json::json!({ "dcerpc": obj }))
            } else {
                ("dcerpc", obj)
            };
            let id = DCERPC_PARTS | (tx.tx_id << 1) | d as u64;
            parts.push((id, bufs, app, None, Vec::new(), None));
        }
    }
    for tx in st.transactions_mut() {
        if tx.inspect[d] == 1 {
            tx.inspect[d] = 2;
        }
        for (e, side) in tx.sides.iter().enumerate() {
            if tx.inspect[e] == 0 && side.done {
                tx.inspect[e] = 1;
            }
        }
    }
}

/// SMB commands, inspected as DCERPC calls are: once per direction, with
/// the direction's next packet after they became ready.
fn smb_command_parts(
    m: &mut crate::app::smb::SmbState,
    dir: AppDir,
    det: &Detector,
    parts: &mut Vec<crate::flow::session::AppPart>,
) {
    let d = usize::from(dir == AppDir::ToClient);
    let wanted = [
        BufferId::SmbVersion,
        BufferId::SmbShare,
        BufferId::SmbNamedPipe,
    ]
    .iter()
    .any(|b| det.uses_buffer(*b));
    for c in m.commands_mut() {
        if c.inspect[d] == 1 {
            c.inspect[d] = 2;
            if wanted {
                let mut bufs = Vec::new();
                c.for_each_buffer(dir, |n, b| push_named_buffer(&mut bufs, n, b));
                let id = SMB_COMMAND_PARTS | (c.tx_id << 1) | d as u64;
                let app = ("smb", smb_eve::eve_command(c));
                parts.push((id, bufs, app, None, Vec::new(), None));
            }
        }
        for e in &mut c.inspect {
            if *e == 0 {
                *e = 1;
            }
        }
    }
}

/// App-layer parts to inspect: (transaction id, direction, buffers, app object).
#[allow(clippy::too_many_arguments)]
fn inspect_app(
    p: &WorkPacket,
    bytes: &[u8],
    flow: &mut Flow,
    dir: Direction,
    det: &mut Detector,
    s: &mut FlowSession,
    counters: &mut WorkerCounters,
    types: EveTypes,
    emit: &mut Emit<'_>,
) {
    // Collect what is new, with owned EVE objects, then inspect each part.
    let mut parts: Vec<crate::flow::session::AppPart> = Vec::new();
    let adir = to_app_dir(dir);
    // Transactions freed before this direction saw their events.
    if !s.late_parts.is_empty() {
        let (now, keep) = std::mem::take(&mut s.late_parts)
            .into_iter()
            .partition(|(d, _)| *d == adir);
        s.late_parts = keep;
        parts.extend(now.into_iter().map(|(_, p): (AppDir, _)| p));
    }
    let add = push_named_buffer;
    // Rules on file names, types, digests or sizes: files give those buffers.
    let file_rules = file::FILE_BUFFERS.iter().any(|b| det.uses_buffer(*b));
    if let AppState::Smb(m) = &mut s.app.state {
        // Each file is a transaction; its data is inspected as it grows and
        // once more when closed, in the direction it travels.
        for f in m.files_mut() {
            if f.dir != to_app_dir(dir) || !f.wants_inspection() {
                continue;
            }
            f.inspected = f.data.len();
            f.inspected_closed = f.closed;
            let mut bufs = Vec::new();
            f.for_each_buffer(|n, b| add(&mut bufs, n, b));
            let hash = file_hashes_wanted(det);
            if file_rules {
                file::smb_file(f, hash).push_buffers(&mut bufs, false, &|b| det.uses_buffer(b));
            }
            parts.push((
                f.tx_id,
                bufs,
                ("files", smb_eve::eve_alert_files(f, hash)),
                None,
                Vec::new(),
                None,
            ));
        }
    }
    if matches!(s.app.state, AppState::Dcerpc(_) | AppState::Smb(_)) {
        s.last_pkt[usize::from(adir == AppDir::ToClient)] = Some(*p);
    }
    match &mut s.app.state {
        AppState::Dcerpc(st) => dcerpc_parts(st, adir, false, det, &mut parts),
        AppState::Smb(m) => {
            smb_command_parts(m, adir, det, &mut parts);
            for p in m.pipes_mut() {
                dcerpc_parts(&mut p.rpc, adir, true, det, &mut parts);
            }
        }
        _ => {}
    }
    if let AppState::Ssh(h) = &mut s.app.state {
        // Each side's banner, then its fingerprint, as they become known;
        // alerts stay once per rule and side (the side is the transaction).
        let i = match dir {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        };
        let side = &mut h.sides[i];
        let banner = side.banner_seen && !side.inspected.0;
        let kex = side.hassh.is_some() && !side.inspected.1;
        if banner || kex {
            side.inspected = (side.banner_seen, side.hassh.is_some());
            let mut bufs = Vec::new();
            h.sides[i].for_each_buffer(to_app_dir(dir), |n, b| add(&mut bufs, n, b));
            parts.push((
                i as u64,
                bufs,
                ("ssh", crate::app::ssh::eve_ssh(h)),
                None,
                Vec::new(),
                None,
            ));
        }
    }
    if let AppState::Sip(m) = &mut s.app.state {
        // Each message once, with a packet going its way.
        for tx in m.transactions_mut() {
            if tx.inspected || tx.dir != to_app_dir(dir) {
                continue;
            }
            tx.inspected = true;
            let mut bufs = Vec::new();
            tx.for_each_buffer(|n, b| add(&mut bufs, n, b));
            parts.push((
                tx.tx_id,
                bufs,
                ("sip", crate::app::sip::eve_sip(tx)),
                None,
                Vec::new(),
                None,
            ));
        }
    }
    if let AppState::Mqtt(m) = &mut s.app.state {
        // A transaction is inspected each time a packet or an event joins
        // it, with all its packets; alerts stay once per rule and transaction.
        for tx in m.transactions_mut() {
            if tx.is_inspected() {
                continue;
            }
            let events: Vec<u32> = tx
                .events
                .get(tx.inspected.1..)
                .unwrap_or_default()
                .iter()
                .filter_map(|e| e.rule_name())
                .map(event_id)
                .collect();
            tx.inspected = (tx.msgs.len(), tx.events.len());
            let mut bufs = Vec::new();
            tx.for_each_buffer(|n, b| add(&mut bufs, n, b));
            parts.push((
                tx.tx_id,
                bufs,
                ("mqtt", crate::app::mqtt::eve_mqtt(tx)),
                None,
                events,
                None,
            ));
        }
    }
    match &s.app.state {
        AppState::Http(h) => {
            let in_progress = h.response_body_in_progress();
            for tx in h.transactions() {
                let req_ready =
                    tx.request_complete && tx.tx_id >= s.req_next && dir == Direction::ToServer;
                let resp_ready =
                    tx.response_complete && tx.tx_id >= s.resp_next && dir == Direction::ToClient;
                // A response body is inspected as it grows (file.data of a download
                // that never completes); alerts stay once per rule and transaction.
                let body = in_progress
                    .filter(|(id, b)| *id == tx.tx_id && !b.is_empty())
                    .map(|(_, b)| b);
                let resp_grew = !tx.response_complete
                    && tx.tx_id >= s.resp_next
                    && dir == Direction::ToClient
                    && body.is_some_and(|b| {
                        // Re-inspected each time it has doubled (not on every
                        // segment: that rescans the body quadratically).
                        s.resp_partial.0 != tx.tx_id
                            || (s.resp_partial.1 < PARTIAL_BODY_MAX
                                && b.len() >= 2 * s.resp_partial.1)
                    });
                if let Some(b) = body.filter(|_| resp_grew) {
                    s.resp_partial = (tx.tx_id, b.len());
                }
                // Events raised on the transaction since it was last
                // inspected in this direction are matched with it.
                let new_events = FlowSession::new_tx_events(
                    &mut s.tx_events_seen,
                    tx.tx_id,
                    tx.events.len(),
                    adir,
                );
                if !(req_ready || resp_ready || resp_grew || new_events) {
                    continue;
                }
                let mut bufs = Vec::new();
                tx.for_each_buffer(AppDir::ToServer, |n, b| add(&mut bufs, n, b));
                bufs.push((BufferId::HttpHeaderNames, header_names(&tx.request_headers)));
                if det.uses_buffer(BufferId::HttpRequestHeader) {
                    header_lines(&mut bufs, BufferId::HttpRequestHeader, &tx.request_headers);
                }
                let mut files = Vec::new();
                if file_rules {
                    files = file::http_files(tx, AppDir::ToServer, None, file_hashes_wanted(det));
                    for fv in &files {
                        fv.push_buffers(&mut bufs, false, &|b| det.uses_buffer(b));
                    }
                }
                // Request-side buffers first: `=>` rules tell the sides apart by index.
                let split = bufs.len();
                if resp_grew || resp_ready {
                    if file_rules {
                        let grown = body.filter(|_| resp_grew);
                        let resp = file::http_files(tx, AppDir::ToClient, grown, false);
                        for fv in &resp {
                            fv.push_buffers(&mut bufs, false, &|b| det.uses_buffer(b));
                        }
                        files.extend(resp);
                    }
                    tx.for_each_buffer(AppDir::ToClient, |n, b| add(&mut bufs, n, b));
                    bufs.push((
                        BufferId::HttpHeaderNames,
                        header_names(&tx.response_headers),
                    ));
                    if det.uses_buffer(BufferId::HttpResponseHeader) {
                        header_lines(
                            &mut bufs,
                            BufferId::HttpResponseHeader,
                            &tx.response_headers,
                        );
                    }
                }
                if let Some(b) = body.filter(|_| resp_grew) {
                    bufs.push((BufferId::HttpResponseBody, b.to_vec()));
                    bufs.push((BufferId::FileData, b.to_vec()));
                }
                if resp_ready {
                    s.resp_next = tx.tx_id + 1;
                }
                if req_ready {
                    s.req_next = tx.tx_id + 1;
                }
                let xff = types
                    .xff
                    .and_then(|x| x.pick(tx.header(AppDir::ToServer, x.header())?));
                let events: Vec<u32> = tx
                    .events
                    .iter()
                    .filter_map(|e| e.rule_name())
                    .map(event_id)
                    .collect();
                let eve = http_eve::eve_http(tx);
                // Alerts of file rules carry the transaction's files too.
                let (app_name, eve) = if files.is_empty() {
                    ("http", eve)
                } else {
                    let mut o = serde_json::Map::new();
                    o.insert("http".into(), eve);
                    o.insert("files".into(), file::eve_files(&files));
                    ("", serde_json::Value::Object(o))
                };
                // A finished transaction is freed after this packet: the
                // other direction's rules see its events with its next packet.
                let other = match adir {
                    AppDir::ToServer => AppDir::ToClient,
                    AppDir::ToClient => AppDir::ToServer,
                };
                let unseen_other = s.tx_events_seen.iter().any(|(id, seen)| {
                    *id == tx.tx_id
                        && seen[usize::from(other == AppDir::ToClient)] < tx.events.len()
                });
                if !events.is_empty()
                    && unseen_other
                    && tx.request_complete
                    && tx.response_complete
                    && s.late_parts.len() < crate::flow::session::MAX_LATE_PARTS
                {
                    let part = (
                        tx.tx_id,
                        bufs.clone(),
                        (app_name, eve.clone()),
                        xff,
                        events.clone(),
                        Some(split),
                    );
                    s.late_parts.push((other, part));
                }
                parts.push((tx.tx_id, bufs, (app_name, eve), xff, events, Some(split)));
            }
            if !s.tx_events_seen.is_empty() {
                let first = h.transactions().first().map_or(u64::MAX, |t| t.tx_id);
                s.tx_events_seen.retain(|(id, _)| *id >= first);
            }
        }
        AppState::Dns(d) => {
            let variant = d.variant();
            // mDNS and LLMNR messages are transactions of their own, whichever
            // way they travel; a DNS query goes to the server, its answer back.
            let multicast = variant != DnsVariant::Dns;
            for tx in d.transactions() {
                let req_ready = tx.request.is_some()
                    && tx.tx_id >= s.req_next
                    && (multicast || dir == Direction::ToServer);
                let resp_ready = tx.response.is_some()
                    && tx.tx_id >= s.resp_next
                    && (multicast || dir == Direction::ToClient);
                if req_ready {
                    s.req_next = tx.tx_id + 1;
                }
                if resp_ready {
                    s.resp_next = tx.tx_id + 1;
                }
                let sides = [
                    (req_ready, DnsSide::Request),
                    (resp_ready, DnsSide::Response),
                ];
                // Each event goes with the first side inspected after it was
                // raised, so a rule without a direction alerts on it once.
                let mut fresh = if req_ready || resp_ready {
                    new_dns_events(&mut s.tx_events_seen, tx.tx_id, &tx.events)
                } else {
                    Vec::new()
                };
                for (side_no, (_, side)) in sides.into_iter().enumerate().filter(|(_, (r, _))| *r) {
                    let mut bufs = Vec::new();
                    tx.for_each_buffer(
                        side,
                        variant,
                        |b| det.uses_buffer(b),
                        |b, data| bufs.push((b, data.to_vec())),
                    );
                    // Only rules with app buffers or events run on a part:
                    // none wanted, no part.
                    if bufs.is_empty() && fresh.is_empty() {
                        continue;
                    }
                    let app = match variant {
                        DnsVariant::Dns => ("dns", dns_eve::eve_alert(tx)),
                        v => (v.name(), dns_eve::eve_multicast(tx, v)),
                    };
                    // Each side alerts once per rule: a rule without a
                    // direction may match the query and the answer.
                    // One side per part: its buffers are all request or all
                    // response ones.
                    let split = match side {
                        DnsSide::Request => bufs.len(),
                        DnsSide::Response => 0,
                    };
                    parts.push((
                        tx.tx_id * 2 + side_no as u64,
                        bufs,
                        app,
                        None,
                        std::mem::take(&mut fresh),
                        Some(split),
                    ));
                }
            }
            if !s.tx_events_seen.is_empty() {
                let first = d.transactions().first().map_or(u64::MAX, |t| t.tx_id);
                s.tx_events_seen.retain(|(id, _)| *id >= first);
            }
        }
        AppState::Dhcp(d) => {
            // Each message is a transaction, inspected as it arrives.
            let from = s.req_next;
            for tx in d.transactions().iter().filter(|t| t.tx_id >= from) {
                s.req_next = tx.tx_id + 1;
                let mut bufs = Vec::new();
                tx.for_each_buffer(|n, b| {
                    if BufferId::from_name(n).is_some_and(|id| det.uses_buffer(id)) {
                        add(&mut bufs, n, b)
                    }
                });
                if !bufs.is_empty() {
                    parts.push((
                        tx.tx_id,
                        bufs,
                        ("dhcp", crate::app::dhcp::eve_dhcp(tx)),
                        None,
                        Vec::new(),
                        None,
                    ));
                }
            }
        }
        AppState::Quic(q) => {
            let client = dir == Direction::ToServer
                && ((q.version.is_some() && !s.quic_version_done)
                    || (q.client_hello.is_some() && !s.tls_client_done));
            let server =
                dir == Direction::ToClient && q.server_version.is_some() && !s.tls_server_done;
            if client || server {
                s.quic_version_done |= client && q.version.is_some();
                s.tls_client_done |= client && q.client_hello.is_some();
                s.tls_server_done |= server;
                let mut bufs = Vec::new();
                q.for_each_buffer(to_app_dir(dir), |n, b| {
                    if BufferId::from_name(n).is_some_and(|id| det.uses_buffer(id)) {
                        add(&mut bufs, n, b)
                    }
                });
                if !bufs.is_empty() {
                    parts.push((
                        u64::from(server),
                        bufs,
                        ("quic", q.eve()),
                        None,
                        Vec::new(),
                        None,
                    ));
                }
            }
        }
        AppState::Tls(t) => {
            let client =
                !s.tls_client_done && t.client_hello.is_some() && dir == Direction::ToServer;
            let server = !s.tls_server_done
                && (t.leaf().is_some() || t.handshake_done())
                && t.server_hello.is_some()
                && dir == Direction::ToClient;
            // The session is TLS's one transaction: its events come with it.
            let new_events =
                FlowSession::new_tx_events(&mut s.tx_events_seen, 0, t.events().len(), adir);
            if client || server || new_events {
                let mut bufs = Vec::new();
                t.for_each_buffer(AppDir::ToServer, |n, b| add(&mut bufs, n, b));
                let split = bufs.len();
                if server {
                    t.for_each_buffer(AppDir::ToClient, |n, b| add(&mut bufs, n, b));
                    s.tls_server_done = true;
                }
                if client {
                    s.tls_client_done = true;
                }
                let events = t
                    .events()
                    .iter()
                    .filter_map(|e| e.rule_name())
                    .map(event_id)
                    .collect();
                parts.push((
                    0,
                    bufs,
                    ("tls", tls_eve::eve_tls(t)),
                    None,
                    events,
                    Some(split),
                ));
            }
        }
        _ => {}
    }
    if det.frame_needs().has(FrameNeeds::STREAM) {
        // `proto.stream`: the bytes this packet delivered, with some before.
        let kind = match s.app.proto {
            Some(AppProto::Http) => Some(BufferId::FrameHttp1Stream),
            Some(AppProto::Dns) => Some(BufferId::FrameDnsStream),
            Some(AppProto::Sip) => Some(BufferId::FrameSipStream),
            Some(AppProto::Ssh) => Some(BufferId::FrameSshStream),
            Some(AppProto::Tls) => Some(BufferId::FrameTlsStream),
            _ => None,
        };
        let d = stream_dir(dir);
        if let Some(kind) = kind.filter(|k| det.uses_buffer(*k)) {
            let start = s.delivered[d.index()].map_or(0, |(start, _)| start);
            let (stream, _) = s.stream_and_vars(d);
            if let Some((bytes, context)) = stream {
                let offset = start.saturating_sub(context as u64);
                let f = Frame {
                    kind,
                    dir: adir,
                    id: u64::from(d.index() as u8),
                    offset,
                    len: bytes.len() as u64,
                    data: bytes.to_vec(),
                    complete: false,
                };
                parts.push(frame_part(f, true));
            }
        }
    }
    if let Some(f) = s.app.frames.as_mut() {
        for frame in f.take_ready(adir) {
            parts.push(frame_part(frame, false));
        }
    }
    inspect_parts(p, bytes, flow, dir, det, s, parts, counters, types, emit);
}

/// Flow end: DCERPC calls and SMB commands complete but not yet inspected
/// (no later packet went their way) are inspected with the last packet of
/// each direction, as the reference IDS does with its end-of-flow packets.
fn final_inspection(
    f: &mut Flow,
    s: &mut FlowSession,
    det: &mut Detector,
    counters: &mut WorkerCounters,
    types: EveTypes,
    emit: &mut Emit<'_>,
) {
    for (i, dir) in [(0, Direction::ToServer), (1, Direction::ToClient)] {
        let Some(p) = s.last_pkt[i] else { continue };
        let adir = to_app_dir(dir);
        let mut parts = Vec::new();
        match &mut s.app.state {
            AppState::Dcerpc(st) => {
                st.ready_all();
                dcerpc_parts(st, adir, false, det, &mut parts);
            }
            AppState::Smb(m) => {
                m.ready_all();
                smb_command_parts(m, adir, det, &mut parts);
                for pipe in m.pipes_mut() {
                    pipe.rpc.ready_all();
                    dcerpc_parts(&mut pipe.rpc, adir, true, det, &mut parts);
                }
            }
            _ => return,
        }
        // The packet's bytes are gone: only app buffers are inspected.
        inspect_parts(&p, &[], f, dir, det, s, parts, counters, types, emit);
    }
}

/// Runs detection on each app-layer part and writes the alerts, once per
/// rule and part.
#[allow(clippy::too_many_arguments)]
fn inspect_parts(
    p: &WorkPacket,
    bytes: &[u8],
    flow: &mut Flow,
    dir: Direction,
    det: &mut Detector,
    s: &mut FlowSession,
    parts: Vec<crate::flow::session::AppPart>,
    counters: &mut WorkerCounters,
    types: EveTypes,
    emit: &mut Emit<'_>,
) {
    for (tx_id, bufs, app, xff, events, to_client_from) in parts {
        let refs: Vec<(BufferId, &[u8])> = bufs.iter().map(|(i, b)| (*i, b.as_slice())).collect();
        let info = crate::detect::SessionInfo {
            app: s.app.proto,
            app_dirs: s.app.dir_proto,
            app_detected: s.app.detected_now,
            stream_size: s.stream_size(),
            established: s.established(flow.state != crate::flow::FlowState::New),
            stream: None,
            app_only: true,
            events: &events,
            to_client_buffers_from: to_client_from,
        };
        det.inspect(p, bytes, flow, dir, info, &mut s.vars, &refs);
        let mut ms = std::mem::take(&mut det.matches);
        // One alert per rule per transaction; the packet pass above already
        // reported rules without app buffers.
        ms.retain(|m| {
            let key = (tx_id, m.rule.sid);
            if s.tx_alerted.contains(&key) {
                false
            } else {
                s.tx_alerted.push(key);
                true
            }
        });
        write_alerts(
            p,
            flow,
            dir,
            &ms,
            (Some((app.0, &app.1)), xff),
            Some(s),
            counters,
            types,
            emit,
        );
        s.passed |= ms
            .iter()
            .any(|m| m.action == vigie_rules::signature::Action::Pass);
        det.matches = ms;
    }
}

/// Transaction ids of frames, apart from the parsers' transactions (one
/// alert per rule and frame); the stream frames of a flow are one each way.
const FRAME_TX_BASE: u64 = 1 << 62;
const STREAM_FRAME_TX: u64 = 3 << 62;

/// One frame as an app part: its bytes as the frame's buffer, and the EVE
/// `frame` object for alerts.
fn frame_part(f: Frame, stream: bool) -> crate::flow::session::AppPart {
    let tx = if stream {
        STREAM_FRAME_TX + f.id
    } else {
        FRAME_TX_BASE + f.id
    };
    let eve = f.eve();
    (
        tx,
        vec![(f.kind, f.data)],
        ("frame", eve),
        None,
        Vec::new(),
        None,
    )
}

#[allow(clippy::too_many_arguments)]
fn write_alerts(
    p: &WorkPacket,
    flow: &mut Flow,
    dir: Direction,
    ms: &[vigie_rules::signature::Match],
    (app, xff): (Option<(&str, &serde_json::Value)>, Option<std::net::IpAddr>),
    sess: Option<&FlowSession>,
    counters: &mut WorkerCounters,
    types: EveTypes,
    emit: &mut Emit<'_>,
) {
    let Some(l3) = p.dec.l3 else { return };
    let app_proto = sess.and_then(|s| s.app.proto).map(|a| a.eve_name());
    for m in ms.iter().filter(|m| !m.noalert) {
        counters.alerts += 1;
        flow.alerted = true;
        if !types.alert {
            continue;
        }
        let f: &Flow = flow;
        // X-Forwarded-For: the proxied client replaces the proxy's address
        // (overwrite), or is added as a field (extra-data).
        let (mut src, mut dst, mut extra) = (l3.src, l3.dst, None);
        if let (Some(cfg), Some(ip)) = (types.xff, xff) {
            match (cfg.mode, dir) {
                (XffMode::ExtraData, _) => extra = Some(ip),
                (XffMode::Overwrite, Direction::ToServer) => src = ip,
                (XffMode::Overwrite, Direction::ToClient) => dst = ip,
            }
        }
        emit.push_alert(p.pkt_no, m, |out| {
            flowlog::write_alert(
                out,
                f,
                p.ts_ns,
                p.pkt_no,
                &src,
                &dst,
                p.sport,
                p.dport,
                l3.proto,
                dir == Direction::ToServer,
                m,
                app_proto,
                app,
                extra.as_ref(),
            )
        });
    }
}

/// Indicator lookups for one packet (endpoints of a new flow, new app-layer
/// fields); alerts go out in packet order like signature alerts.
fn intel_packet(
    p: &WorkPacket,
    flow: &mut Flow,
    dir: Direction,
    intel: &mut crate::intel::IntelMatcher,
    counters: &mut WorkerCounters,
    types: EveTypes,
    emit: &mut Emit<'_>,
) {
    counters.alerts += intel.on_packet(p, flow, dir, types.alert, &mut |w| {
        emit.push(p.pkt_no, KIND_ALERT, 0, |out| w(out))
    });
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
