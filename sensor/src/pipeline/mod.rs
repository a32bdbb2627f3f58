//! The replay pipeline: reader thread → dispatcher (decode, defrag, symmetric
//! flow hash) → N workers (flows, detection, EVE encoding) → one output thread
//! that writes events in packet order, so the bytes written do not depend on the
//! number of workers.
//!
//! Batches travel over bounded crossbeam channels and are recycled: nothing is
//! allocated per packet once the pipeline is warm.

pub mod dispatch;
pub mod latency;
mod order;
mod worker;

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use crossbeam_channel::{bounded, unbounded};
use vigie_rules::signature::Engine;

use crate::capture::file::FileSource;
use crate::capture::{PacketSource, RawBatch};
use crate::decode::{DecodeCounters, DecoderConfig};
use crate::flow::table::{FlowConfig, FlowCounters};
use crate::output::stats::StatsSnapshot;

pub use dispatch::{WorkBatch, WorkPacket};
pub use worker::WorkerCounters;

/// Which EVE event types are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EveTypes {
    /// `alert` events.
    pub alert: bool,
    /// Final `stats` event.
    pub stats: bool,
    /// `flow` records when flows end.
    pub flow: bool,
    /// `anomaly` events for decoder anomalies.
    pub anomaly: bool,
    /// `http` events, one per transaction.
    pub http: bool,
    /// `dns` events.
    pub dns: bool,
    /// `tls` events, one per handshake.
    pub tls: bool,
    /// `tftp` events, one per request.
    pub tftp: bool,
    /// `dhcp` events, one per message.
    pub dhcp: bool,
    /// `sip` events, one per message.
    pub sip: bool,
    /// `ssh` events, one per flow (banners and HASSH).
    pub ssh: bool,
    /// `fileinfo` events, one per file (HTTP bodies and uploads, SMB
    /// files), with MD5/SHA-1/SHA-256 when complete: turns body hashing on.
    pub fileinfo: bool,
    /// `dcerpc` events, one per call over TCP.
    pub dcerpc: bool,
    /// `mqtt` events, one per transaction.
    pub mqtt: bool,
    /// Alert option: the X-Forwarded-For client of an HTTP transaction's
    /// alerts, as an extra field or in place of the proxy's address.
    pub xff: Option<crate::app::http::xff::XffConfig>,
}

impl Default for EveTypes {
    fn default() -> Self {
        EveTypes {
            alert: true,
            stats: true,
            flow: false,
            anomaly: false,
            http: false,
            dns: false,
            tls: false,
            tftp: false,
            dhcp: false,
            sip: false,
            ssh: false,
            fileinfo: false,
            dcerpc: false,
            mqtt: false,
            xff: None,
        }
    }
}

impl EveTypes {
    /// Parses `alert,stats,flow`. Unknown names are an error that names them.
    pub fn parse(list: &str) -> Result<EveTypes, String> {
        let mut t = EveTypes {
            alert: false,
            stats: false,
            flow: false,
            anomaly: false,
            http: false,
            dns: false,
            tls: false,
            tftp: false,
            dhcp: false,
            sip: false,
            ssh: false,
            fileinfo: false,
            dcerpc: false,
            mqtt: false,
            xff: None,
        };
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                "alert" => t.alert = true,
                "stats" => t.stats = true,
                "flow" => t.flow = true,
                "anomaly" => t.anomaly = true,
                "http" => t.http = true,
                "dns" => t.dns = true,
                "tls" => t.tls = true,
                "tftp" => t.tftp = true,
                "dhcp" => t.dhcp = true,
                "sip" => t.sip = true,
                "ssh" => t.ssh = true,
                "fileinfo" | "files" => t.fileinfo = true,
                "dcerpc" => t.dcerpc = true,
                "mqtt" => t.mqtt = true,
                other => {
                    return Err(format!(
                        "unknown EVE type {other:?} (known: alert, stats, flow, anomaly, http, dns, tls, tftp, dhcp, sip, ssh, fileinfo, dcerpc, mqtt)"
                    ))
                }
            }
        }
        Ok(t)
    }
}

/// Replay settings.
#[derive(Clone, Debug)]
pub struct ReplayConfig {
    /// Worker threads.
    pub threads: usize,
    /// Packets per batch.
    pub batch_packets: usize,
    /// What to write.
    pub eve_types: EveTypes,
    /// Decoder settings.
    pub decoder: DecoderConfig,
    /// Flow table settings (per worker).
    pub flow: FlowConfig,
    /// Signature engine, when rules were given.
    pub engine: Option<Arc<Engine>>,
    /// Indicator set (swappable), when indicators were given.
    pub intel: Option<crate::intel::SharedIndicators>,
    /// Copies of every alert line (shipper, sighting reporter); never block
    /// the output.
    pub alert_tees: Vec<crate::ship::AlertTee>,
    /// Always hash HTTP bodies (MD5, SHA-256 in `http` events); otherwise
    /// only while the indicator set holds file hashes.
    pub body_hashes: bool,
    /// Stop after decode and dispatch: workers count packets, no flows,
    /// reassembly, parsers or detection (measures the capture/decode path,
    /// or surveys a capture's decode anomalies fast).
    pub decode_only: bool,
    /// TCP reassembly settings (overlap policies).
    pub reassembly: crate::flow::reassembly::ReassemblyConfig,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        ReplayConfig {
            threads: 1,
            batch_packets: 256,
            eve_types: EveTypes::default(),
            decoder: DecoderConfig::default(),
            flow: FlowConfig::default(),
            engine: None,
            intel: None,
            alert_tees: Vec::new(),
            body_hashes: false,
            decode_only: false,
            reassembly: Default::default(),
        }
    }
}

/// What a run did, for the summary and the final stats event.
#[derive(Debug, Default)]
pub struct RunSummary {
    /// Packets read.
    pub packets: u64,
    /// Captured bytes read.
    pub bytes: u64,
    /// Packets the kernel dropped before capture (live sources).
    pub kernel_drops: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Packets handled by each worker.
    pub per_worker_packets: Vec<u64>,
    /// Alerts written.
    pub alerts: u64,
    /// Alerts an address-tracked threshold or detection_filter held back.
    pub alerts_suppressed: u64,
    /// Threshold tracking entries dropped because their table was full.
    pub threshold_evictions: u64,
    /// Decoder counters.
    pub decode: DecodeCounters,
    /// Flow counters (all workers).
    pub flows: FlowCounters,
    /// Worker counters (all workers).
    pub worker: WorkerCounters,
    /// Errors met while reading capture files (truncation etc.).
    pub capture_errors: Vec<String>,
    /// EVE events written, by type.
    pub events_written: u64,
}

/// Live progress, readable from another thread (progress bar).
#[derive(Debug, Default)]
pub struct Progress {
    /// Packets read so far.
    pub packets: AtomicU64,
    /// Bytes read so far.
    pub bytes: AtomicU64,
    /// Packets the kernel dropped so far (live sources).
    pub kernel_drops: AtomicU64,
    /// Alerts raised so far (updated once per batch by each worker).
    pub alerts: AtomicU64,
    /// Of those, alerts raised by indicators (the rest are signature alerts).
    pub intel_alerts: AtomicU64,
    /// Of `alerts`, those a threshold held back at the output (not written).
    pub alerts_suppressed: AtomicU64,
    /// Flows created so far (updated once per batch by each worker).
    pub flows: AtomicU64,
    /// Flows in the workers' tables now.
    pub flows_active: AtomicU64,
    /// Decoder anomaly events so far (updated once per batch).
    pub anomalies: AtomicU64,
    /// Times the reader found the pipeline's queue full and waited: the
    /// pipeline never drops a packet, it makes the source wait (a live
    /// source then buffers in its kernel ring, whose drops are counted).
    pub queue_full: AtomicU64,
    /// Per-stage latency histograms (one sample per batch and stage).
    pub latency: latency::StageLatency,
    /// Kernel drops of each capture socket, when the source has several.
    pub socket_drops: std::sync::Mutex<Vec<u64>>,
}

const CHANNEL_BATCHES: usize = 8;

/// Replays capture files through the pipeline, writing EVE JSON to `out`.
pub fn replay(
    cfg: &ReplayConfig,
    files: Vec<PathBuf>,
    out: Box<dyn Write + Send>,
    progress: Arc<Progress>,
) -> std::io::Result<RunSummary> {
    run(cfg, Box::new(FileSource::new(files)), out, progress)
}

/// Runs the pipeline over any packet source until it is finished.
pub fn run(
    cfg: &ReplayConfig,
    source: Box<dyn PacketSource>,
    out: Box<dyn Write + Send>,
    progress: Arc<Progress>,
) -> std::io::Result<RunSummary> {
    let slot = Arc::new(ArcSwapOption::new(cfg.engine.clone()));
    run_with_engine_slot(cfg, source, out, progress, slot)
}

/// Like [`run`], but workers take their engine from `slot`, checked once per
/// batch: storing a new engine there (a reload) takes effect on each worker's
/// next batch, without stopping capture. `cfg.engine` is ignored.
pub fn run_with_engine_slot(
    cfg: &ReplayConfig,
    mut source: Box<dyn PacketSource>,
    out: Box<dyn Write + Send>,
    progress: Arc<Progress>,
    slot: Arc<ArcSwapOption<Engine>>,
) -> std::io::Result<RunSummary> {
    let start = Instant::now();
    let threads = cfg.threads.max(1);
    let batch_packets = cfg.batch_packets.max(1);

    // reader → dispatcher
    let (raw_tx, raw_rx) = bounded::<RawBatch>(CHANNEL_BATCHES);
    let (raw_back_tx, raw_back_rx) = unbounded::<RawBatch>();
    // dispatcher → workers, and back
    let mut work_txs = Vec::new();
    let mut work_rxs = Vec::new();
    let (work_back_tx, work_back_rx) = unbounded::<WorkBatch>();
    for _ in 0..threads {
        let (tx, rx) = bounded::<WorkBatch>(CHANNEL_BATCHES);
        work_txs.push(tx);
        work_rxs.push(rx);
    }
    // workers → output
    let (ev_tx, ev_rx) = bounded::<order::WorkerOutput>(CHANNEL_BATCHES * threads);
    let (ev_back_tx, ev_back_rx) = unbounded::<order::EventBuf>();

    let raw_recycle = raw_back_tx.clone();
    let reader_progress = progress.clone();
    let reader = thread::Builder::new()
        .name("vigie-reader".into())
        .spawn(move || {
            for _ in 0..CHANNEL_BATCHES + 2 {
                let _ = raw_back_tx.send(RawBatch::default());
            }
            while let Ok(mut batch) = raw_back_rx.recv() {
                if !source.fill(&mut batch, batch_packets, 4 << 20) {
                    break;
                }
                batch.filled_at = Some(Instant::now());
                // Live sources leave numbering to the pipeline: packet
                // numbers run on across batches (EVE pcap_cnt).
                if batch.first_pkt_no == 0 {
                    batch.first_pkt_no = reader_progress.packets.load(Ordering::Relaxed) + 1;
                }
                reader_progress
                    .packets
                    .fetch_add(batch.recs.len() as u64, Ordering::Relaxed);
                reader_progress
                    .bytes
                    .fetch_add(batch.byte_len() as u64, Ordering::Relaxed);
                reader_progress
                    .kernel_drops
                    .store(source.kernel_drops(), Ordering::Relaxed);
                let per_socket = source.socket_drops();
                if !per_socket.is_empty() {
                    if let Ok(mut d) = reader_progress.socket_drops.lock() {
                        *d = per_socket;
                    }
                }
                let batch = match raw_tx.try_send(batch) {
                    Ok(()) => continue,
                    Err(crossbeam_channel::TrySendError::Full(b)) => {
                        reader_progress.queue_full.fetch_add(1, Ordering::Relaxed);
                        b
                    }
                    Err(crossbeam_channel::TrySendError::Disconnected(_)) => break,
                };
                if raw_tx.send(batch).is_err() {
                    break;
                }
            }
            source
        })?;

    let dcfg = cfg.decoder;
    // Decoder events feed `decode-event` rules as well as `anomaly` records.
    let detecting = slot.load().is_some();
    let want_anomalies = cfg.eve_types.anomaly || detecting;
    let dispatch_progress = progress.clone();
    let dispatcher = thread::Builder::new()
        .name("vigie-dispatch".into())
        .spawn(move || {
            let mut d = dispatch::Dispatcher::new(dcfg, threads)
                .with_anomaly_events(want_anomalies)
                .with_arp_records(detecting);
            let mut seq = 0u64;
            while let Ok(batch) = raw_rx.recv() {
                let batch = Arc::new(batch);
                let mut outs: Vec<WorkBatch> = (0..threads)
                    .map(|_| work_back_rx.try_recv().unwrap_or_default())
                    .collect();
                d.dispatch(&batch, seq, &mut outs);
                dispatch_progress
                    .anomalies
                    .store(d.anomalies(), Ordering::Relaxed);
                seq += 1;
                // Workers hold the batch now; the last one to finish recycles it.
                drop(batch);
                for (w, ob) in outs.into_iter().enumerate() {
                    if work_txs[w].send(ob).is_err() {
                        return d.finish();
                    }
                }
            }
            d.finish()
        })?;

    let mut workers = Vec::new();
    for (w, rx) in work_rxs.into_iter().enumerate() {
        let _ = w;
        let ev_tx = ev_tx.clone();
        let back = work_back_tx.clone();
        let ev_back = ev_back_rx.clone();
        let raw_recycle = raw_recycle.clone();
        let slot = slot.clone();
        let intel = cfg.intel.clone();
        let worker_progress = progress.clone();
        let wcfg = worker::WorkerConfig {
            eve_types: cfg.eve_types,
            flow: cfg.flow,
            body_hashes: cfg.body_hashes,
            decode_only: cfg.decode_only,
            reassembly: cfg.reassembly.clone(),
        };
        workers.push(
            thread::Builder::new()
                .name(format!("vigie-worker-{w}"))
                .spawn(move || {
                    let mut engine = slot.load_full();
                    let mut wk = worker::Worker::new(wcfg, engine.clone());
                    wk.set_intel(intel);
                    let mut seen = worker::LiveCounts::default();
                    while let Ok(mut batch) = rx.recv() {
                        let now = slot.load_full();
                        let same = match (&now, &engine) {
                            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                            (None, None) => true,
                            _ => false,
                        };
                        if !same {
                            engine = now;
                            wk.set_engine(engine.clone());
                        }
                        let buf = ev_back.try_recv().unwrap_or_default();
                        let t0 = Instant::now();
                        if let Some(at) = batch.filled_at {
                            worker_progress
                                .latency
                                .dispatch
                                .record(t0.saturating_duration_since(at));
                        }
                        let out = wk.process(&batch, buf);
                        worker_progress.latency.worker.record(t0.elapsed());
                        let now = wk.live_counts();
                        if now != seen {
                            now.publish_since(&seen, &worker_progress);
                            seen = now;
                        }
                        if let Some(raw) = batch.raw.take().and_then(Arc::into_inner) {
                            let _ = raw_recycle.send(raw);
                        }
                        let _ = back.send(batch);
                        if ev_tx.send(out).is_err() {
                            break;
                        }
                    }
                    let buf = ev_back.try_recv().unwrap_or_default();
                    let last = wk.finish(buf);
                    wk.live_counts().publish_since(&seen, &worker_progress);
                    let _ = ev_tx.send(last);
                    wk.into_counters()
                })?,
        );
    }
    drop(ev_tx);

    let eve_types = cfg.eve_types;
    let tee = cfg.alert_tees.clone();
    let output_progress = progress.clone();
    let output = thread::Builder::new()
        .name("vigie-output".into())
        .spawn(move || {
            order::write_ordered(ev_rx, ev_back_tx, threads, out, tee, &output_progress)
        })?;

    let source = reader
        .join()
        .map_err(|_| std::io::Error::other("reader thread panicked"))?;
    let decode = dispatcher
        .join()
        .map_err(|_| std::io::Error::other("dispatcher thread panicked"))?;
    let mut summary = RunSummary::default();
    for w in workers {
        let (flows, wc) = w
            .join()
            .map_err(|_| std::io::Error::other("worker thread panicked"))?;
        summary.per_worker_packets.push(wc.packets);
        summary.flows.merge(&flows);
        summary.worker.merge(&wc);
    }
    let ordered = output
        .join()
        .map_err(|_| std::io::Error::other("output thread panicked"))??;
    let mut sink = ordered.sink;
    summary.events_written = ordered.written;
    // Alerts a threshold held back at the output were counted by workers.
    summary.worker.alerts = summary.worker.alerts.saturating_sub(ordered.gated);
    summary.alerts_suppressed = ordered.gated;
    summary.threshold_evictions = ordered.gate_evictions;
    summary.packets = source.packets();
    summary.bytes = source.bytes();
    summary.kernel_drops = source.kernel_drops();
    summary.capture_errors = source.errors();
    summary.decode = decode;
    summary.alerts = summary.worker.alerts;
    summary.elapsed = start.elapsed();
    if eve_types.stats {
        let snap = StatsSnapshot::from_summary(&summary);
        let mut line = Vec::new();
        snap.write_eve(&mut line, summary.worker.last_ts);
        sink.write_all(&line)?;
        summary.events_written += 1;
    }
    sink.flush()?;
    Ok(summary)
}
