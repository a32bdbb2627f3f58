//! vigie collector: the central receiver of alert batches from sensors.
//!
//! A sensor streams [`Batch`]es over gRPC with mutual TLS; its identity is the
//! common name of its client certificate. For each batch the collector drops
//! alert ids it has already delivered or is delivering ([`ledger::Ledger`],
//! persisted), appends the new alerts to a rotating EVE JSONL archive
//! ([`archive::EveArchive`]), publishes each to NATS JetStream (stream
//! `VIGIE_ALERTS`, subject `vigie.alerts.<sensor>`, `Nats-Msg-Id` = alert id)
//! and waits for the publish acks. Only then is the batch acked to the sensor,
//! so an alert is never acked before it is stored twice. Batches of a stream
//! are pipelined ([`PIPELINE_DEPTH`]): the next is archived and published while
//! the one before waits for JetStream, and acks go back in order.
#![deny(missing_docs)]

pub mod archive;
pub mod dedup;
pub mod ledger;
pub mod pki;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use async_nats::jetstream::context::PublishAckFuture;
use async_nats::Subject;
use futures_util::Stream;
use ledger::{Claim, Delivery, Ledger};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status, Streaming};
use vigie_proto::v1::collector_server::{Collector, CollectorServer};
use vigie_proto::v1::{Ack, Alert, Batch, SensorHealth};

/// Name of the JetStream stream alerts are published to.
pub const STREAM: &str = "VIGIE_ALERTS";

/// `vigie collector --config FILE` (TOML).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorConfig {
    /// Address to listen on, e.g. `0.0.0.0:4317` (`127.0.0.1:0` picks a free port).
    pub listen: String,
    /// CA that signs sensor certificates (PEM).
    pub ca: PathBuf,
    /// Collector certificate (PEM).
    pub cert: PathBuf,
    /// Collector private key (PEM).
    pub key: PathBuf,
    /// Directory of dedup state, health and the archive.
    pub state_dir: PathBuf,
    /// NATS server URL; without it alerts are only archived.
    #[serde(default)]
    pub nats_url: Option<String>,
    /// Alert ids remembered for dedup.
    #[serde(default = "default_window")]
    pub dedup_window: usize,
    /// Archive file size before rotation, bytes.
    #[serde(default = "default_archive_bytes")]
    pub archive_file_bytes: u64,
    /// Archive files kept.
    #[serde(default = "default_archive_files")]
    pub archive_files: usize,
}

fn default_window() -> usize {
    1_000_000
}
fn default_archive_bytes() -> u64 {
    256 << 20
}
fn default_archive_files() -> usize {
    64
}

impl CollectorConfig {
    /// Reads a TOML config file; unknown keys are an error that names them.
    pub fn load(path: &Path) -> Result<CollectorConfig, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Per-sensor health as the collector last saw it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SensorStatus {
    /// Unix seconds of the last batch.
    pub last_seen: u64,
    /// Alerts archived and published.
    pub accepted: u64,
    /// Alerts dropped as duplicates.
    pub duplicates: u64,
    /// Batches received.
    pub batches: u64,
    /// Last health report: packets, drops, spool depth and drops, version.
    pub packets: u64,
    /// Packets dropped by the kernel.
    pub kernel_drops: u64,
    /// Alerts waiting in the sensor's spool.
    pub spool_depth: u64,
    /// Alerts the sensor's spool dropped at its bound.
    pub spool_dropped: u64,
    /// Alerts dropped before the spool (queue full).
    pub queue_drops: u64,
    /// Sensor version.
    pub version: String,
}

/// Most batches of one stream archived and published but not yet settled
/// (JetStream acks awaited, ids recorded); the next one waits to be read.
pub const PIPELINE_DEPTH: usize = 8;

/// JetStream publish acks awaited at once, all streams together: room for
/// [`PIPELINE_DEPTH`] batches of a few thousand alerts from a few sensors.
const MAX_ACKS_IN_FLIGHT: usize = 65_536;

/// Health of every sensor and the file `vigie collector status` reads.
struct HealthBook {
    sensors: BTreeMap<String, SensorStatus>,
    path: PathBuf,
}

/// The gRPC service (cheap to clone: shared state).
#[derive(Clone)]
pub struct CollectorService {
    ledger: Arc<Mutex<Ledger>>,
    archive: Arc<Mutex<archive::EveArchive>>,
    health: Arc<Mutex<HealthBook>>,
    js: Option<async_nats::jetstream::Context>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics halfway through an update, so a poisoned lock is usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Sensor id from the first certificate the client presented: its common name.
fn peer_identity<T>(req: &Request<T>) -> Result<String, Status> {
    let certs = req
        .peer_certs()
        .ok_or_else(|| Status::unauthenticated("no client certificate"))?;
    let der = certs
        .first()
        .ok_or_else(|| Status::unauthenticated("no client certificate"))?;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|_| Status::unauthenticated("unreadable client certificate"))?;
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .ok_or_else(|| Status::unauthenticated("client certificate has no common name"))?;
    if cn.is_empty()
        || !cn
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(Status::permission_denied(format!(
            "sensor id {cn:?} is not a valid subject token"
        )));
    }
    Ok(cn.to_string())
}

/// Minimal EVE line for an alert the sensor sent without one.
fn eve_line(a: &Alert) -> Vec<u8> {
    let v = serde_json::json!({
        "timestamp_ns": a.timestamp_ns, "flow_id": a.flow_id, "event_type": "alert",
        "src_ip": a.src_ip, "src_port": a.src_port, "dest_ip": a.dest_ip,
        "dest_port": a.dest_port, "proto": a.proto,
        "alert": {"action": a.action, "gid": a.gid, "signature_id": a.signature_id,
                  "rev": a.rev, "signature": a.signature, "category": a.category,
                  "severity": a.severity},
    });
    serde_json::to_vec(&v).unwrap_or_default()
}

/// A batch archived and published, its publish acks not yet awaited.
struct InFlight {
    batch_seq: u64,
    claim: Claim,
    publish_acks: Vec<PublishAckFuture>,
    waits_for: Vec<Arc<Delivery>>,
    accepted: u32,
    duplicates: u32,
    health: Option<SensorHealth>,
}

impl CollectorService {
    /// First half of a batch: claims its new ids, archives them (written and
    /// synced) and publishes them; the publish acks are left to [`Self::settle`].
    async fn deliver(
        &self,
        sensor: &str,
        subject: &Subject,
        batch: Batch,
    ) -> Result<InFlight, Status> {
        if let Some(a) = batch.alerts.iter().find(|a| a.sensor_id != sensor) {
            return Err(Status::permission_denied(format!(
                "alert {} claims sensor {:?} but the certificate says {sensor:?}",
                a.id, a.sensor_id
            )));
        }
        let sorted = Ledger::claim(&self.ledger, batch.alerts.iter().map(|a| a.id.as_str()));
        let mut alerts = batch.alerts;
        let mut lines = Vec::with_capacity(sorted.fresh.len());
        let mut archived = Vec::new();
        for &i in &sorted.fresh {
            let Some(a) = alerts.get_mut(i) else {
                continue;
            };
            let line = if a.eve_json.is_empty() {
                eve_line(a)
            } else {
                std::mem::take(&mut a.eve_json).into_bytes()
            };
            archived.extend_from_slice(&line);
            archived.push(b'\n');
            lines.push((std::mem::take(&mut a.id), line));
        }
        if !archived.is_empty() {
            // The fsync blocks a thread, not this runtime's workers.
            let archive = self.archive.clone();
            tokio::task::spawn_blocking(move || lock(&archive).write_all(&archived))
                .await
                .map_err(|e| Status::internal(format!("archive writer: {e}")))?
                .map_err(|e| Status::unavailable(format!("archive write failed: {e}")))?;
        }
        let mut publish_acks = Vec::new();
        if let Some(js) = &self.js {
            publish_acks.reserve(lines.len());
            for (id, line) in lines {
                let mut h = async_nats::HeaderMap::new();
                h.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
                let f = js
                    .publish_with_headers(subject.clone(), h, line.into())
                    .await
                    .map_err(|e| Status::unavailable(format!("JetStream publish failed: {e}")))?;
                publish_acks.push(f);
            }
        }
        Ok(InFlight {
            batch_seq: batch.batch_seq,
            accepted: sorted.fresh.len() as u32,
            duplicates: sorted.duplicates,
            claim: sorted.claim,
            waits_for: sorted.waits_for,
            publish_acks,
            health: batch.health,
        })
    }

    /// Second half of a batch: waits for its publish acks and for the batches
    /// delivering ids it repeats, records its ids as delivered, notes health.
    async fn settle(&self, sensor: &str, b: InFlight) -> Result<Ack, Status> {
        for f in b.publish_acks {
            f.await
                .map_err(|e| Status::unavailable(format!("JetStream publish ack failed: {e}")))?;
        }
        let claim = b.claim;
        tokio::task::spawn_blocking(move || claim.settle())
            .await
            .map_err(|e| Status::internal(format!("dedup writer: {e}")))?
            .map_err(|e| Status::unavailable(format!("dedup log write failed: {e}")))?;
        for d in &b.waits_for {
            if !d.delivered().await {
                return Err(Status::unavailable(format!(
                    "batch {}: some alerts were being delivered by another stream of {sensor:?}, which failed; send them again",
                    b.batch_seq
                )));
            }
        }
        let mut book = lock(&self.health);
        let HealthBook { sensors, path } = &mut *book;
        let s = sensors.entry(sensor.to_string()).or_default();
        s.last_seen = now_secs();
        s.batches += 1;
        s.accepted += b.accepted as u64;
        s.duplicates += b.duplicates as u64;
        if let Some(h) = b.health {
            apply_health(s, &h);
            let snapshot = serde_json::to_vec_pretty(&sensors).unwrap_or_default();
            let tmp = path.with_extension("json.tmp");
            if std::fs::write(&tmp, snapshot).is_ok() {
                let _ = std::fs::rename(&tmp, &*path);
            }
        }
        Ok(Ack {
            batch_seq: b.batch_seq,
            accepted: b.accepted,
            duplicates: b.duplicates,
        })
    }
}

fn apply_health(s: &mut SensorStatus, h: &SensorHealth) {
    s.packets = h.packets;
    s.kernel_drops = h.kernel_drops;
    s.queue_drops = h.queue_drops;
    s.spool_depth = h.spool_depth;
    s.spool_dropped = h.spool_dropped;
    s.version = h.version.clone();
}

type AckStream = Pin<Box<dyn Stream<Item = Result<Ack, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl Collector for CollectorService {
    type ShipStream = AckStream;

    /// Three tasks per stream, joined by bounded channels: the reader takes
    /// batches off the wire, the deliverer archives and publishes them, the
    /// settler awaits their publish acks in order and sends the acks. Each
    /// awaits one thing at a time (nothing is raced in a `select!`), and each
    /// ends when the one before it does, or when the one after it is gone.
    async fn ship(&self, req: Request<Streaming<Batch>>) -> Result<Response<AckStream>, Status> {
        let sensor = peer_identity(&req)?;
        let mut inbound = req.into_inner();
        let (batch_tx, mut batch_rx) = mpsc::channel::<Batch>(2);
        let (flight_tx, mut flight_rx) = mpsc::channel::<Result<InFlight, Status>>(PIPELINE_DEPTH);
        let (ack_tx, ack_rx) = mpsc::channel::<Result<Ack, Status>>(PIPELINE_DEPTH);
        tokio::spawn(async move {
            // Ends when the sensor hangs up or breaks the connection.
            while let Ok(Some(b)) = inbound.message().await {
                if batch_tx.send(b).await.is_err() {
                    break;
                }
            }
        });
        let svc = self.clone();
        let subject = Subject::from(format!("vigie.alerts.{sensor}"));
        let sensor2 = sensor.clone();
        tokio::spawn(async move {
            while let Some(b) = batch_rx.recv().await {
                let r = svc.deliver(&sensor2, &subject, b).await;
                let stop = r.is_err();
                if flight_tx.send(r).await.is_err() || stop {
                    break;
                }
            }
        });
        let svc = self.clone();
        tokio::spawn(async move {
            // Batches already published are settled even when the sensor is
            // gone: their ids are recorded, a resend is a duplicate.
            while let Some(b) = flight_rx.recv().await {
                let r = match b {
                    Ok(b) => svc.settle(&sensor, b).await,
                    Err(e) => Err(e),
                };
                let stop = r.is_err();
                let _ = ack_tx.send(r).await;
                if stop {
                    break;
                }
            }
        });
        let out = futures_util::stream::unfold(ack_rx, |mut rx| async move {
            rx.recv().await.map(|x| (x, rx))
        });
        Ok(Response::new(Box::pin(out)))
    }
}

/// Reads the health file `vigie collector status` shows.
pub fn read_status(cfg: &CollectorConfig) -> Result<BTreeMap<String, SensorStatus>, String> {
    let p = cfg.state_dir.join("health.json");
    match std::fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| format!("{}: {e}", p.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(format!("{}: {e}", p.display())),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Runs the collector until `shutdown` resolves. `on_listen` gets the bound
/// address (useful with port 0).
pub async fn serve(
    cfg: CollectorConfig,
    on_listen: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), String> {
    std::fs::create_dir_all(&cfg.state_dir)
        .map_err(|e| format!("{}: {e}", cfg.state_dir.display()))?;
    let dedup = dedup::DedupWindow::open(&cfg.state_dir, cfg.dedup_window)
        .map_err(|e| format!("{}: dedup log: {e}", cfg.state_dir.display()))?;
    let archive = archive::EveArchive::open(
        &cfg.state_dir.join("archive"),
        cfg.archive_file_bytes,
        cfg.archive_files,
    )
    .map_err(|e| format!("{}: archive: {e}", cfg.state_dir.display()))?;
    let js = match &cfg.nats_url {
        Some(url) => {
            let client = async_nats::connect(url.as_str())
                .await
                .map_err(|e| format!("NATS {url}: {e}"))?;
            let js = async_nats::jetstream::ContextBuilder::new()
                .max_ack_inflight(MAX_ACKS_IN_FLIGHT)
                .build(client);
            js.get_or_create_stream(async_nats::jetstream::stream::Config {
                name: STREAM.to_string(),
                subjects: vec!["vigie.alerts.>".to_string()],
                duplicate_window: std::time::Duration::from_secs(600),
                ..Default::default()
            })
            .await
            .map_err(|e| format!("NATS {url}: stream {STREAM}: {e}"))?;
            Some(js)
        }
        None => None,
    };
    let svc = CollectorService {
        ledger: Arc::new(Mutex::new(Ledger::new(dedup))),
        archive: Arc::new(Mutex::new(archive)),
        health: Arc::new(Mutex::new(HealthBook {
            sensors: read_status(&cfg).unwrap_or_default(),
            path: cfg.state_dir.join("health.json"),
        })),
        js,
    };
    let tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(read(&cfg.cert)?, read(&cfg.key)?))
        .client_ca_root(Certificate::from_pem(read(&cfg.ca)?))
        .client_auth_optional(false);
    let addr: SocketAddr = cfg
        .listen
        .parse()
        .map_err(|e| format!("listen {:?}: {e}", cfg.listen))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("listen {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    on_listen(local);
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    Server::builder()
        .tls_config(tls)
        .map_err(|e| format!("TLS config: {e}"))?
        .add_service(
            CollectorServer::new(svc)
                .accept_compressed(tonic::codec::CompressionEncoding::Zstd)
                .max_decoding_message_size(64 << 20),
        )
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(|e| format!("gRPC server: {e}"))
}

/// Loads the config and runs the collector on its own runtime until SIGINT or
/// SIGTERM. Prints `listening on ADDR` on stdout once bound.
pub fn run_blocking(config: &Path) -> Result<(), String> {
    let cfg = CollectorConfig::load(config)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    rt.block_on(async move {
        let shutdown = async {
            let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
            match term {
                Ok(mut t) => {
                    tokio::select! {
                        _ = t.recv() => {}
                        _ = tokio::signal::ctrl_c() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        };
        serve(
            cfg,
            |a| {
                use std::io::Write;
                let mut o = std::io::stdout();
                let _ = writeln!(o, "listening on {a}");
                let _ = o.flush();
            },
            shutdown,
        )
        .await
    })
}
