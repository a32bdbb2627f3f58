//! Alert shipping: the output thread tees alert lines into a bounded channel
//! ([`AlertTee`], never blocks, drops counted); an intake thread turns them into
//! protobuf [`Alert`]s with a stable id (`<sensor id>-<seq>`, the sequence kept
//! by the [`spool::Spool`]) and appends them to the disk spool; a sender thread
//! streams spooled alerts to the collector over gRPC with mutual TLS and
//! forgets them only when the collector acks their batch.

pub mod spool;

use std::borrow::Cow;
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use prost::Message;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use vigie_proto::v1::collector_client::CollectorClient;
use vigie_proto::v1::{Alert, Batch, SensorHealth};

use spool::{Spool, SpoolConfig};

/// Alert lines queued between the output thread and the spool.
const TEE_CAPACITY: usize = 65_536;

/// Sender side of the alert tee, held by the output thread.
#[derive(Clone, Debug)]
pub struct AlertTee {
    tx: Sender<Vec<u8>>,
    drops: Arc<AtomicU64>,
}

impl AlertTee {
    /// A tee queueing up to `capacity` alert lines, the receiver of those
    /// lines, and the counter of lines dropped because the queue was full.
    pub fn channel(capacity: usize) -> (AlertTee, Receiver<Vec<u8>>, Arc<AtomicU64>) {
        let (tx, rx) = bounded::<Vec<u8>>(capacity);
        let drops = Arc::new(AtomicU64::new(0));
        (
            AlertTee {
                tx,
                drops: drops.clone(),
            },
            rx,
            drops,
        )
    }

    /// Lines waiting for the spool.
    pub fn queued(&self) -> usize {
        self.tx.len()
    }

    /// Offers one EVE alert line (without or with its newline); drops and counts
    /// it if the queue is full, so the caller never waits.
    pub fn offer(&self, line: &[u8]) {
        if memchr::memmem::find(line, b"\"event_type\":\"alert\"").is_none() {
            return;
        }
        match self.tx.try_send(line.to_vec()) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.drops.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Shipper settings.
#[derive(Clone, Debug)]
pub struct ShipConfig {
    /// Collector URL, `https://host:port`.
    pub url: String,
    /// CA that signed the collector's certificate (PEM file).
    pub ca: PathBuf,
    /// This sensor's certificate (PEM file); its CN must be the sensor id.
    pub cert: PathBuf,
    /// This sensor's private key (PEM file).
    pub key: PathBuf,
    /// TLS server name to expect from the collector (default: the URL's host).
    pub server_name: Option<String>,
    /// Sensor id: prefix of every alert id.
    pub sensor_id: String,
    /// Spool settings.
    pub spool: SpoolConfig,
    /// Most alerts per batch.
    pub batch_alerts: usize,
    /// Longest wait for a batch to fill.
    pub batch_wait: Duration,
    /// Batches sent and not yet acked.
    pub window: usize,
    /// Compress the gRPC stream with zstd.
    pub zstd: bool,
}

impl ShipConfig {
    /// Defaults around the required settings.
    pub fn new(
        url: String,
        ca: PathBuf,
        cert: PathBuf,
        key: PathBuf,
        sensor_id: String,
        spool_dir: PathBuf,
    ) -> ShipConfig {
        ShipConfig {
            url,
            ca,
            cert,
            key,
            server_name: None,
            sensor_id,
            spool: SpoolConfig::new(spool_dir),
            batch_alerts: 1000,
            batch_wait: Duration::from_millis(50),
            window: 4,
            zstd: false,
        }
    }
}

/// Counters of a shipper, shared with its threads.
#[derive(Debug, Default)]
pub struct ShipCounters {
    /// Alert lines dropped because the tee queue was full.
    pub tee_drops: Arc<AtomicU64>,
    /// Alert lines that were not valid EVE alerts.
    pub bad_lines: AtomicU64,
    /// Alerts acked by the collector.
    pub acked: AtomicU64,
    /// Batches sent.
    pub batches: AtomicU64,
    /// Encoded batch bytes handed to gRPC (before compression).
    pub batch_bytes: AtomicU64,
    /// Connection attempts that failed or streams that broke.
    pub reconnects: AtomicU64,
    /// Alerts queued for the spool.
    pub queued: AtomicU64,
}

/// Final numbers of a shipper run.
#[derive(Clone, Debug, Default)]
pub struct ShipReport {
    /// Alerts acked by the collector.
    pub acked: u64,
    /// Alerts still in the spool (sent on the next run).
    pub spooled: u64,
    /// Alerts dropped at the tee (queue full).
    pub tee_drops: u64,
    /// Alerts evicted by the spool bound.
    pub spool_evicted: u64,
    /// Corrupt spool records skipped while opening.
    pub spool_corrupt: u64,
    /// Alerts recovered from the spool at start.
    pub spool_recovered: u64,
    /// Batches sent.
    pub batches: u64,
    /// Broken connections or failed attempts.
    pub reconnects: u64,
    /// How long the oldest alert in the spool has waited for its ack.
    pub lag: Duration,
}

/// A running shipper.
pub struct Shipper {
    tee: Option<AlertTee>,
    intake: Option<JoinHandle<()>>,
    sender: Option<JoinHandle<Result<(), String>>>,
    stop: Arc<AtomicBool>,
    spool: Arc<Mutex<Spool>>,
    counters: Arc<ShipCounters>,
}

fn lock(m: &Mutex<Spool>) -> std::sync::MutexGuard<'_, Spool> {
    // A panic while holding the lock leaves the spool consistent on disk.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shipper {
    /// Opens the spool and starts the intake and sender threads.
    pub fn start(cfg: ShipConfig) -> Result<Shipper, String> {
        if cfg.sensor_id.is_empty()
            || !cfg
                .sensor_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(format!(
                "--sensor-id {:?}: use letters, digits, '-', '_' or '.'",
                cfg.sensor_id
            ));
        }
        let dir = &cfg.spool.dir;
        fs::create_dir_all(dir).map_err(|e| format!("--spool {}: {e}", dir.display()))?;
        // The spool's sequence numbers belong to one sensor id.
        let id_file = dir.join("sensor_id");
        match fs::read_to_string(&id_file) {
            Ok(s) if s.trim() != cfg.sensor_id => {
                return Err(format!(
                    "--spool {}: belongs to sensor {:?}, not {:?}; use another directory",
                    dir.display(),
                    s.trim(),
                    cfg.sensor_id
                ))
            }
            Ok(_) => {}
            Err(_) => fs::write(&id_file, format!("{}\n", cfg.sensor_id))
                .map_err(|e| format!("{}: {e}", id_file.display()))?,
        }
        let spool = Spool::open(cfg.spool.clone())
            .map_err(|e| format!("--spool {}: {e}", dir.display()))?;
        let spool = Arc::new(Mutex::new(spool));
        let counters = Arc::new(ShipCounters::default());
        let (tx, rx) = bounded::<Vec<u8>>(TEE_CAPACITY);
        let tee = AlertTee {
            tx,
            drops: counters.tee_drops.clone(),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let intake = {
            let spool = spool.clone();
            let counters = counters.clone();
            let sensor = cfg.sensor_id.clone();
            std::thread::Builder::new()
                .name("vigie-ship-intake".into())
                .spawn(move || intake_loop(rx, &spool, &sensor, &counters))
                .map_err(|e| e.to_string())?
        };
        let sender = {
            let spool = spool.clone();
            let counters = counters.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("vigie-ship-send".into())
                .spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| format!("tokio runtime: {e}"))?;
                    rt.block_on(send_loop(cfg, spool, counters, stop))
                })
                .map_err(|e| e.to_string())?
        };
        Ok(Shipper {
            tee: Some(tee),
            intake: Some(intake),
            sender: Some(sender),
            stop,
            spool,
            counters,
        })
    }

    /// Alerts acked by the collector so far.
    pub fn acked(&self) -> u64 {
        self.counters.acked.load(Ordering::Relaxed)
    }

    /// Live numbers (for metrics): acked, spool depth, drops, batches.
    pub fn snapshot(&self) -> ShipReport {
        let mut sp = lock(&self.spool);
        let c = sp.counters();
        ShipReport {
            acked: self.counters.acked.load(Ordering::Relaxed),
            spooled: sp.depth(),
            tee_drops: self.counters.tee_drops.load(Ordering::Relaxed),
            spool_evicted: c.evicted,
            spool_corrupt: c.corrupt_records,
            spool_recovered: c.recovered,
            batches: self.counters.batches.load(Ordering::Relaxed),
            reconnects: self.counters.reconnects.load(Ordering::Relaxed),
            lag: sp.oldest_wait(),
        }
    }

    /// The tee to hand to the pipeline.
    pub fn tee(&self) -> Option<AlertTee> {
        self.tee.clone()
    }

    /// Stops taking alerts, waits up to `drain` for the spool to empty, then
    /// stops. Alerts not acked by then stay spooled for the next run.
    pub fn finish(mut self, drain: Duration) -> Result<ShipReport, String> {
        self.tee = None;
        if let Some(h) = self.intake.take() {
            let _ = h.join();
        }
        let deadline = Instant::now() + drain;
        while Instant::now() < deadline && lock(&self.spool).depth() > 0 {
            if self.sender.as_ref().is_some_and(|h| h.is_finished()) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.stop.store(true, Ordering::SeqCst);
        let res = match self.sender.take() {
            Some(h) => h
                .join()
                .map_err(|_| "shipper thread panicked".to_string())?,
            None => Ok(()),
        };
        let report = self.snapshot();
        res.map(|()| report)
    }
}

impl Drop for Shipper {
    fn drop(&mut self) {
        // Without finish(): stop the sender; unacked alerts stay spooled.
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Parses an EVE timestamp `2009-11-24T21:18:00.123456+0100` into Unix ns.
pub(crate) fn eve_time_ns(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut frac_ns = 0i64;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let digits = s.get(start..i.min(start + 9))?;
        frac_ns = digits.parse::<i64>().ok()? * 10i64.pow(9 - digits.len() as u32);
    }
    let mut off = 0i64;
    if let Some(&sign) = b.get(i) {
        if sign == b'+' || sign == b'-' {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 3..i + 5)?;
            off = (oh * 3600 + om * 60) * if sign == b'-' { -1 } else { 1 };
        }
    }
    // Days from civil date (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + mi * 60 + se - off) * 1_000_000_000 + frac_ns)
}

/// The fields of an EVE alert line the protobuf carries, borrowed from the
/// line where they hold no escapes (no per-field allocation but the copies
/// into the message).
#[derive(serde::Deserialize)]
struct EveLine<'a> {
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    #[serde(borrow, default)]
    timestamp: Cow<'a, str>,
    #[serde(default, deserialize_with = "lenient_u64")]
    flow_id: u64,
    #[serde(default, deserialize_with = "lenient_u64")]
    pcap_cnt: u64,
    #[serde(borrow, default)]
    src_ip: Cow<'a, str>,
    #[serde(default, deserialize_with = "lenient_u64")]
    src_port: u64,
    #[serde(borrow, default)]
    dest_ip: Cow<'a, str>,
    #[serde(default, deserialize_with = "lenient_u64")]
    dest_port: u64,
    #[serde(borrow, default)]
    proto: Cow<'a, str>,
    #[serde(borrow, default)]
    community_id: Cow<'a, str>,
    #[serde(borrow)]
    alert: Option<EveAlert<'a>>,
}

#[derive(serde::Deserialize)]
struct EveAlert<'a> {
    #[serde(borrow, default)]
    action: Cow<'a, str>,
    #[serde(default, deserialize_with = "lenient_u64")]
    gid: u64,
    #[serde(default, deserialize_with = "lenient_u64")]
    signature_id: u64,
    #[serde(default, deserialize_with = "lenient_u64")]
    rev: u64,
    #[serde(borrow, default)]
    signature: Cow<'a, str>,
    #[serde(borrow, default)]
    category: Cow<'a, str>,
    #[serde(default, deserialize_with = "lenient_u64")]
    severity: u64,
    metadata: Option<serde_json::Value>,
    /// A string, or for indicator hits the indicator object.
    source: Option<serde_json::Value>,
}

/// A number field: its value when it is an unsigned integer, else 0 (as a
/// missing one), so one odd field does not cost the alert.
fn lenient_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    use serde::Deserialize;
    Ok(serde_json::Value::deserialize(d)?.as_u64().unwrap_or(0))
}

/// Builds the protobuf alert of one EVE alert line; `None` if it is not one.
pub fn alert_from_eve(line: &[u8], sensor_id: &str, seq: u64) -> Option<Alert> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let text = std::str::from_utf8(line).ok()?;
    let v: EveLine = serde_json::from_str(text).ok()?;
    if v.event_type != "alert" {
        return None;
    }
    let a = v.alert?;
    Some(Alert {
        id: format!("{sensor_id}-{seq}"),
        sensor_id: sensor_id.to_string(),
        timestamp_ns: eve_time_ns(&v.timestamp).unwrap_or(0),
        flow_id: v.flow_id,
        pcap_cnt: v.pcap_cnt,
        src_ip: v.src_ip.into_owned(),
        src_port: v.src_port as u32,
        dest_ip: v.dest_ip.into_owned(),
        dest_port: v.dest_port as u32,
        proto: v.proto.into_owned(),
        community_id: v.community_id.into_owned(),
        action: a.action.into_owned(),
        gid: a.gid as u32,
        signature_id: a.signature_id,
        rev: a.rev as u32,
        signature: a.signature.into_owned(),
        category: a.category.into_owned(),
        severity: a.severity as u32,
        metadata_json: a.metadata.map(|m| m.to_string()).unwrap_or_default(),
        source: a
            .source
            .as_ref()
            .and_then(|x| x.as_str())
            .unwrap_or("signature")
            .to_string(),
        eve_json: text.to_string(),
        seq,
    })
}

fn severity_of(line: &[u8]) -> u8 {
    // Cheap look-up of `"severity":N` without a second JSON parse.
    memchr::memmem::find(line, b"\"severity\":")
        .and_then(|p| line.get(p + 11))
        .filter(|c| c.is_ascii_digit())
        .map_or(3, |c| c - b'0')
}

fn intake_loop(rx: Receiver<Vec<u8>>, spool: &Mutex<Spool>, sensor: &str, counters: &ShipCounters) {
    let mut chunk: Vec<Vec<u8>> = Vec::with_capacity(1024);
    while let Ok(first) = rx.recv() {
        chunk.push(first);
        while chunk.len() < 1024 {
            match rx.try_recv() {
                Ok(l) => chunk.push(l),
                Err(_) => break,
            }
        }
        let mut sp = lock(spool);
        for line in chunk.drain(..) {
            let sev = severity_of(&line);
            let mut ok = true;
            let r = sp.append(sev, |seq| match alert_from_eve(&line, sensor, seq) {
                Some(a) => a.encode_to_vec(),
                None => {
                    ok = false;
                    Vec::new()
                }
            });
            match r {
                Ok(seq) if !ok => {
                    // Not an alert after all: forget the empty record at once.
                    let _ = sp.ack(&[seq]);
                    counters.bad_lines.fetch_add(1, Ordering::Relaxed);
                }
                Ok(_) => {
                    counters.queued.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    eprintln!("vigie: spool {}: {e}", sp.dir().display());
                    counters.bad_lines.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if let Err(e) = sp.commit() {
            eprintln!("vigie: spool {}: fsync: {e}", sp.dir().display());
        }
    }
}

/// Exponential backoff with full jitter, 100 ms doubling to 30 s.
struct Backoff {
    attempt: u32,
    rng: u64,
}

impl Backoff {
    fn new() -> Backoff {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9);
        Backoff {
            attempt: 0,
            rng: seed | 1,
        }
    }

    fn next(&mut self) -> Duration {
        let cap = (100u64 << self.attempt.min(9)).min(30_000);
        self.attempt += 1;
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        Duration::from_millis(cap / 2 + self.rng % (cap / 2 + 1))
    }

    fn reset(&mut self) {
        self.attempt = 0;
    }
}

async fn connect(cfg: &ShipConfig) -> Result<tonic::transport::Channel, String> {
    let read = |p: &PathBuf| fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read(&cfg.ca)?))
        .identity(Identity::from_pem(read(&cfg.cert)?, read(&cfg.key)?));
    if let Some(n) = &cfg.server_name {
        tls = tls.domain_name(n.clone());
    }
    Endpoint::from_shared(cfg.url.clone())
        .map_err(|e| format!("--ship-to {}: {e}", cfg.url))?
        .tls_config(tls)
        .map_err(|e| format!("TLS config: {e}"))?
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(|e| format!("connect {}: {e}", cfg.url))
}

async fn send_loop(
    cfg: ShipConfig,
    spool: Arc<Mutex<Spool>>,
    counters: Arc<ShipCounters>,
    stop: Arc<AtomicBool>,
) -> Result<(), String> {
    let mut backoff = Backoff::new();
    let mut batch_seq = 0u64;
    let mut last_error = String::new();
    while !stop.load(Ordering::SeqCst) {
        let chan = match connect(&cfg).await {
            Ok(c) => c,
            Err(e) => {
                last_error = e;
                counters.reconnects.fetch_add(1, Ordering::Relaxed);
                sleep_unless_stopped(backoff.next(), &stop).await;
                continue;
            }
        };
        let mut client = CollectorClient::new(chan).max_decoding_message_size(64 << 20);
        if cfg.zstd {
            client = client.send_compressed(tonic::codec::CompressionEncoding::Zstd);
        }
        let (tx, rx) = tokio::sync::mpsc::channel::<Batch>(cfg.window.max(1));
        let outbound = futures_stream(rx);
        let mut acks = match client.ship(outbound).await {
            Ok(r) => r.into_inner(),
            Err(e) => {
                last_error = format!("ship: {e}");
                counters.reconnects.fetch_add(1, Ordering::Relaxed);
                sleep_unless_stopped(backoff.next(), &stop).await;
                continue;
            }
        };
        let mut in_flight: std::collections::HashMap<u64, Vec<u64>> = Default::default();
        let mut waited_since: Option<Instant> = None;
        let broken = loop {
            if stop.load(Ordering::SeqCst) {
                break None;
            }
            // Fill the window.
            while in_flight.len() < cfg.window.max(1) {
                let batch = {
                    let mut sp = lock(&spool);
                    let avail = sp.available();
                    let waiting = match waited_since {
                        None => true,
                        Some(t) => t.elapsed() < cfg.batch_wait,
                    };
                    if avail == 0 {
                        waited_since = None;
                        None
                    } else if avail < cfg.batch_alerts && waiting {
                        waited_since.get_or_insert_with(Instant::now);
                        None
                    } else {
                        waited_since = None;
                        match sp.take_batch(cfg.batch_alerts) {
                            Ok(b) if !b.is_empty() => Some((b, sp.depth(), sp.counters().evicted)),
                            Ok(_) => None,
                            Err(e) => {
                                last_error = format!("spool read: {e}");
                                None
                            }
                        }
                    }
                };
                let Some((items, depth, evicted)) = batch else {
                    break;
                };
                batch_seq += 1;
                let seqs: Vec<u64> = items.iter().map(|a| a.seq).collect();
                let alerts: Vec<Alert> = items
                    .iter()
                    .filter_map(|a| Alert::decode(a.data.as_slice()).ok())
                    .collect();
                let b = Batch {
                    batch_seq,
                    alerts,
                    health: Some(SensorHealth {
                        sensor_id: cfg.sensor_id.clone(),
                        version: env!("CARGO_PKG_VERSION").to_string(),
                        alerts: counters.queued.load(Ordering::Relaxed),
                        spool_depth: depth,
                        spool_dropped: evicted,
                        queue_drops: counters.tee_drops.load(Ordering::Relaxed),
                        ..Default::default()
                    }),
                };
                counters
                    .batch_bytes
                    .fetch_add(b.encoded_len() as u64, Ordering::Relaxed);
                counters.batches.fetch_add(1, Ordering::Relaxed);
                in_flight.insert(batch_seq, seqs);
                if tx.send(b).await.is_err() {
                    break;
                }
            }
            let tick = if waited_since.is_some() {
                cfg.batch_wait
                    .min(Duration::from_millis(5))
                    .max(Duration::from_millis(1))
            } else {
                Duration::from_millis(5)
            };
            let event = tokio::select! {
                m = acks.message() => Some(m),
                _ = tokio::time::sleep(tick) => None,
            };
            match event {
                None => {}
                Some(Ok(Some(ack))) => {
                    if let Some(seqs) = in_flight.remove(&ack.batch_seq) {
                        let n = seqs.len() as u64;
                        if let Err(e) = lock(&spool).ack(&seqs) {
                            break Some(format!("spool ack: {e}"));
                        }
                        counters.acked.fetch_add(n, Ordering::Relaxed);
                        backoff.reset();
                    }
                }
                Some(Ok(None)) => break Some("collector closed the stream".to_string()),
                Some(Err(e)) => break Some(format!("collector: {e}")),
            }
        };
        drop(tx);
        lock(&spool).release_all();
        if let Some(e) = broken {
            last_error = e;
            counters.reconnects.fetch_add(1, Ordering::Relaxed);
            sleep_unless_stopped(backoff.next(), &stop).await;
        }
    }
    if lock(&spool).depth() > 0 && !last_error.is_empty() {
        eprintln!("vigie: shipping stopped with alerts spooled; last error: {last_error}");
    }
    Ok(())
}

async fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) {
    let end = Instant::now() + d;
    while Instant::now() < end && !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(20).min(d)).await;
    }
}

fn futures_stream(
    rx: tokio::sync::mpsc::Receiver<Batch>,
) -> impl futures_util::Stream<Item = Batch> + Send + 'static {
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) })
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn eve_timestamps() {
        assert_eq!(eve_time_ns("1970-01-01T00:00:00.000000+0000"), Some(0));
        assert_eq!(
            eve_time_ns("2009-11-24T21:18:00.123456+0100"),
            Some((1_259_097_480 - 3600) * 1_000_000_000 + 123_456_000)
        );
        assert_eq!(eve_time_ns("garbage"), None);
        // A fraction or offset cut short is malformed, not guessed at.
        assert_eq!(eve_time_ns("2009-11-24T21:18:00.+0"), None);
    }

    #[test]
    fn alert_from_eve_line() {
        let l = br#"{"timestamp":"2014-04-08T07:00:00.000000+0000","flow_id":5,"pcap_cnt":9,"event_type":"alert","src_ip":"10.0.0.1","src_port":443,"dest_ip":"10.0.0.2","dest_port":5000,"proto":"TCP","alert":{"action":"allowed","gid":1,"signature_id":7,"rev":2,"signature":"x","category":"c","severity":2,"metadata":{"a":["b"]}}}"#;
        let a = alert_from_eve(l, "s1", 42).unwrap();
        assert_eq!(a.id, "s1-42");
        assert_eq!(a.signature_id, 7);
        assert_eq!(a.severity, 2);
        assert_eq!(a.metadata_json, r#"{"a":["b"]}"#);
        assert_eq!(severity_of(l), 2);
        assert_eq!(a.eve_json.as_bytes(), &l[..]);
        assert_eq!(a.source, "signature");
        // Escaped strings, an ICMP alert without ports, an odd number type.
        let l = br#"{"timestamp":"2014-04-08T07:00:00.000000+0000","event_type":"alert","src_ip":"10.0.0.1","dest_ip":"10.0.0.2","proto":"ICMP","alert":{"gid":"1","signature_id":8,"signature":"say \"hi\" \u00e9","severity":1,"source":"intel"}}"#;
        let a = alert_from_eve(l, "s1", 43).unwrap();
        assert_eq!(a.signature, "say \"hi\" \u{e9}");
        assert_eq!((a.src_port, a.dest_port, a.gid), (0, 0, 0));
        assert_eq!(a.source, "intel");
        assert!(a.timestamp_ns > 0);
        assert!(alert_from_eve(b"{\"event_type\":\"alert\"}", "s1", 1).is_none());
        // An indicator hit: alert.source is the indicator object.
        let l = br#"{"event_type":"alert","src_ip":"10.0.0.1","alert":{"signature_id":9,"severity":1,"source":{"value":"evil.example","type":"domain","feed":"f"}}}"#;
        let a = alert_from_eve(l, "s1", 44).expect("indicator alerts are shipped");
        assert_eq!(a.signature_id, 9);
        assert!(alert_from_eve(b"{\"event_type\":\"flow\"}", "s1", 1).is_none());
        assert!(alert_from_eve(b"\xff{", "s1", 1).is_none());
    }

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let mut b = Backoff::new();
        let d: Vec<Duration> = (0..20).map(|_| b.next()).collect();
        assert!(d[0] <= Duration::from_millis(100));
        assert!(d.iter().all(|x| *x <= Duration::from_secs(30)));
        assert!(d[19] >= Duration::from_secs(15));
        b.reset();
        assert!(b.next() <= Duration::from_millis(100));
    }
}
