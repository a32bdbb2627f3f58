//! Daemon mode (`vigie run --config FILE`): live capture into the pipeline,
//! SIGHUP reload of the detection engine, SIGTERM clean shutdown, systemd
//! readiness and watchdog, Prometheus metrics and periodic EVE `stats`.
//!
//! Start-up order matters: the capture socket, the EVE file and the metrics
//! socket are opened first (they need privileges), then root is dropped, and
//! only then are threads started.

pub mod config;
pub mod intel;
pub mod metrics;
pub mod system;

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;
use vigie_rules::signature::Engine;

use crate::capture::PacketSource;
use crate::pipeline::{self, Progress, ReplayConfig};
use config::{Backend, DaemonConfig};
use metrics::LiveState;

/// What the sensor loads into its detection engine: built at start and on
/// every SIGHUP, off the packet path.
///
/// Extension point for indicator sets: when the hub's indicator loading
/// lands, `EngineSources::build` is where its sets join the rules, so that a
/// reload swaps rules and indicators together.
pub struct EngineSources<'a> {
    cfg: &'a DaemonConfig,
}

/// A freshly built engine and what it holds.
pub struct BuiltEngine {
    /// The engine; `None` when no rules are configured.
    pub engine: Option<Arc<Engine>>,
    /// Rules loaded.
    pub rules: u64,
    /// Rules rejected (details: `vigie rules check`).
    pub rejected: u64,
    /// Build time.
    pub took: Duration,
}

impl<'a> EngineSources<'a> {
    /// The sources named in `cfg`.
    pub fn new(cfg: &'a DaemonConfig) -> Self {
        EngineSources { cfg }
    }

    /// Builds a new engine. A file that cannot be read or an engine that
    /// cannot be built is an error; the caller then keeps the running engine.
    pub fn build(&self) -> Result<BuiltEngine, String> {
        let t0 = Instant::now();
        let d = &self.cfg.detect;
        if d.rules.is_empty() {
            return Ok(BuiltEngine {
                engine: None,
                rules: 0,
                rejected: 0,
                took: t0.elapsed(),
            });
        }
        let (vars, _) = d.settings()?;
        let (engine, report) =
            crate::detect::load_engine(&d.rules, d.classification.as_deref(), &vars)?;
        if report.loaded() == 0 && report.rejected_count() == 0 {
            // Rule files that hold only comments (the packaged, empty
            // local.rules before the operator adds anything): run without
            // signatures rather than refuse to start.
            return Ok(BuiltEngine {
                engine: None,
                rules: 0,
                rejected: 0,
                took: t0.elapsed(),
            });
        }
        if report.loaded() == 0 {
            return Err(format!(
                "no rule could be loaded from {:?} ({} rejected; see vigie rules check)",
                d.rules,
                report.rejected_count()
            ));
        }
        Ok(BuiltEngine {
            engine: Some(Arc::new(engine)),
            rules: report.loaded() as u64,
            rejected: report.rejected_count() as u64,
            took: t0.elapsed(),
        })
    }
}

/// `vigie config check FILE`: parses the file, builds the engine and loads
/// the indicator files it names, and checks the shipping files are readable.
/// Returns a one-paragraph summary.
pub fn check(path: &Path) -> Result<String, String> {
    let cfg = DaemonConfig::load(path)?;
    let built = EngineSources::new(&cfg).build()?;
    let (_, report) = crate::intel::load_indicators(&cfg.intel.files, &intel::misp_options(&cfg))
        .map_err(|e| format!("intel.files: {e}"))?;
    for h in &cfg.hub {
        intel::hub_auth(h).map_err(|e| format!("hub {:?}: {e}", h.name))?;
        if h.kind == config::HubKind::MispRest {
            intel::misp_key(h)?;
        }
    }
    let ship = match &cfg.ship {
        Some(s) => {
            for (k, p) in [
                ("ship.ca", &s.ca),
                ("ship.cert", &s.cert),
                ("ship.key", &s.key),
            ] {
                std::fs::metadata(p).map_err(|e| format!("{k} {}: {e}", p.display()))?;
            }
            format!("to {} as {}", s.to, s.sensor_id)
        }
        None => "off".into(),
    };
    Ok(format!(
        "{}: OK: capture on {} ({:?}), {} rules loaded, {} rejected, {} indicators from files ({} rejected), {} hub source(s), EVE to {}, shipping {ship}, metrics {}",
        path.display(),
        cfg.capture.interface,
        cfg.capture.backend,
        built.rules,
        built.rejected,
        report.loaded(),
        report.rejected_total(),
        cfg.hub.len(),
        cfg.output.eve,
        cfg.metrics
            .listen
            .map(|a| a.to_string())
            .unwrap_or_else(|| "off".into())
    ))
}

fn start_shipper(s: &config::ShipSection) -> Result<crate::ship::Shipper, String> {
    let mut sc = crate::ship::ShipConfig::new(
        s.to.clone(),
        s.ca.clone(),
        s.cert.clone(),
        s.key.clone(),
        s.sensor_id.clone(),
        s.spool.clone(),
    );
    sc.server_name = s.server_name.clone();
    sc.zstd = s.zstd;
    sc.spool.max_bytes = s.spool_max_mb.saturating_mul(1 << 20);
    sc.spool.fsync = crate::ship::spool::FsyncPolicy::parse(&s.spool_fsync)?;
    crate::ship::Shipper::start(sc).map_err(|e| format!("ship: {e}"))
}

fn publish_ship(state: &LiveState, shipper: &crate::ship::Shipper) {
    use metrics::Metric;
    let r = shipper.snapshot();
    state.publish(
        "ship",
        vec![
            Metric::new(
                "vigie_ship_acked_total",
                "ship.acked",
                "Alerts acked by the collector.",
                true,
                r.acked,
            ),
            Metric::new(
                "vigie_spool_depth",
                "ship.spool_depth",
                "Alerts in the spool waiting for the collector's ack.",
                false,
                r.spooled,
            ),
            Metric::new(
                "vigie_ship_lag_seconds",
                "ship.lag_s",
                "How long the oldest alert in the spool has waited for the collector's ack (0 when the spool is empty).",
                false,
                r.lag.as_secs(),
            ),
            Metric::new(
                "vigie_spool_dropped_total",
                "ship.spool_dropped",
                "Alerts evicted by the spool bound (oldest low-severity first).",
                true,
                r.spool_evicted,
            ),
            Metric::new(
                "vigie_ship_queue_drops_total",
                "ship.queue_drops",
                "Alerts dropped before the spool because its queue was full.",
                true,
                r.tee_drops,
            ),
            Metric::new(
                "vigie_ship_batches_total",
                "ship.batches",
                "Batches sent to the collector.",
                true,
                r.batches,
            ),
            Metric::new(
                "vigie_ship_reconnects_total",
                "ship.reconnects",
                "Failed connection attempts or broken streams to the collector.",
                true,
                r.reconnects,
            ),
        ],
    );
}

/// A writer shared by the pipeline's output thread and the stats timer: only
/// whole lines reach the file, so events never interleave.
#[derive(Clone)]
struct LineSink {
    inner: Arc<Mutex<Box<dyn Write + Send>>>,
    pending: Vec<u8>,
}

impl LineSink {
    fn write_line(&self, line: &[u8]) -> std::io::Result<()> {
        let mut w = self
            .inner
            .lock()
            .map_err(|_| std::io::Error::other("EVE writer poisoned"))?;
        w.write_all(line)?;
        w.flush()
    }
}

impl Write for LineSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if let Some(end) = memchr::memrchr(b'\n', &self.pending) {
            let mut w = self
                .inner
                .lock()
                .map_err(|_| std::io::Error::other("EVE writer poisoned"))?;
            w.write_all(&self.pending[..=end])?;
            drop(w);
            self.pending.drain(..=end);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let mut w = self
            .inner
            .lock()
            .map_err(|_| std::io::Error::other("EVE writer poisoned"))?;
        w.write_all(&self.pending)?;
        self.pending.clear();
        w.flush()
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// `capture.filter` compiled for the interface's link type, to attach to the
/// AF_PACKET socket.
#[cfg(target_os = "linux")]
fn af_packet_filter(
    c: &config::CaptureSection,
) -> Result<Option<Vec<crate::capture::afpacket::BpfInsn>>, String> {
    let Some(expr) = &c.filter else {
        return Ok(None);
    };
    #[cfg(feature = "libpcap")]
    {
        let dlt = crate::capture::afpacket::link_type(&c.interface)
            .map_err(|e| format!("capture.filter on {}: {e}", c.interface))?;
        crate::capture::pcap_live::compile_filter(expr, dlt).map(Some)
    }
    #[cfg(not(feature = "libpcap"))]
    {
        Err(format!(
            "capture.filter {expr:?} needs a build with the libpcap feature"
        ))
    }
}

fn open_source(cfg: &DaemonConfig, stop: Arc<AtomicBool>) -> Result<Box<dyn PacketSource>, String> {
    let c = &cfg.capture;
    match c.backend {
        #[cfg(target_os = "linux")]
        Backend::AfPacket => {
            let ac = crate::capture::afpacket::AfPacketConfig {
                interface: c.interface.clone(),
                block_size: c.block_size,
                block_count: c.block_count,
                block_timeout_ms: c.block_timeout_ms,
                snaplen: c.snaplen,
                promisc: c.promisc,
                fanout_group: c.fanout_group,
                ignore_outgoing: c.ignore_outgoing,
                bpf: af_packet_filter(c)?,
            };
            // Several sockets in a fanout hash group: the kernel keeps each
            // flow on one ring, and each ring has its drop counter.
            let source: Box<dyn PacketSource> = if c.sockets > 1 {
                Box::new(
                    crate::capture::afpacket::FanoutSource::open(&ac, c.sockets, stop)
                        .map_err(|e| e.to_string())?,
                )
            } else {
                Box::new(
                    crate::capture::afpacket::AfPacketSource::open(&ac, stop)
                        .map_err(|e| e.to_string())?,
                )
            };
            Ok(source)
        }
        #[cfg(not(target_os = "linux"))]
        Backend::AfPacket => Err("capture.backend = \"af-packet\" needs Linux".into()),
        #[cfg(feature = "libpcap")]
        Backend::Libpcap => {
            let pc = crate::capture::pcap_live::PcapLiveConfig {
                interface: c.interface.clone(),
                snaplen: c.snaplen,
                promisc: c.promisc,
                buffer_size: c.block_size.saturating_mul(c.block_count),
                filter: c.filter.clone(),
            };
            crate::capture::pcap_live::PcapLiveSource::open(&pc, stop)
                .map(|s| Box::new(s) as Box<dyn PacketSource>)
        }
        #[cfg(not(feature = "libpcap"))]
        Backend::Libpcap => Err("built without the libpcap feature".into()),
    }
}

fn log(msg: &str) {
    eprintln!("vigie: {msg}");
}

/// Rebuilds the engine and swaps it in; on failure the running engine stays.
fn reload(cfg_path: &Path, slot: &ArcSwapOption<Engine>, state: &LiveState) {
    let result = DaemonConfig::load(cfg_path).and_then(|cfg| EngineSources::new(&cfg).build());
    match result {
        Ok(b) => {
            slot.store(b.engine);
            let g = state.engine_generation.fetch_add(1, Ordering::Relaxed) + 1;
            state
                .engine_load_ms
                .store(b.took.as_millis() as u64, Ordering::Relaxed);
            state.rules_loaded.store(b.rules, Ordering::Relaxed);
            state.reloads_ok.fetch_add(1, Ordering::Relaxed);
            log(&format!(
                "reload: engine generation {g}: {} rules loaded, {} rejected, built in {} ms",
                b.rules,
                b.rejected,
                b.took.as_millis()
            ));
            system::sd_notify(&format!("STATUS=engine generation {g}, {} rules", b.rules));
        }
        Err(e) => {
            state.reloads_failed.fetch_add(1, Ordering::Relaxed);
            log(&format!("reload failed, running engine kept: {e}"));
        }
    }
}

/// `vigie run --config FILE`: runs until SIGTERM/SIGINT.
pub fn run(cfg_path: &Path) -> Result<(), String> {
    let cfg = DaemonConfig::load(cfg_path)?;
    system::install_signal_handlers()?;
    let built = EngineSources::new(&cfg).build()?;
    log(&format!(
        "{} rules loaded, {} rejected, built in {} ms",
        built.rules,
        built.rejected,
        built.took.as_millis()
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let source = open_source(&cfg, stop.clone())?;
    let sink: Box<dyn Write + Send> = if cfg.output.eve == "-" {
        Box::new(std::io::stdout())
    } else {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&cfg.output.eve)
            .map_err(|e| format!("output.eve {}: cannot open: {e}", cfg.output.eve))?;
        Box::new(f)
    };
    let listener = match cfg.metrics.listen {
        Some(a) => {
            Some(std::net::TcpListener::bind(a).map_err(|e| format!("metrics.listen {a}: {e}"))?)
        }
        None => None,
    };
    if let Some(user) = &cfg.daemon.user {
        if system::drop_privileges(user, cfg.daemon.group.as_deref())? {
            log(&format!("running as user {user}"));
        }
    }

    let progress = Arc::new(Progress::default());
    let state = Arc::new(LiveState::new(progress.clone()));
    state.engine_generation.store(1, Ordering::Relaxed);
    state
        .engine_load_ms
        .store(built.took.as_millis() as u64, Ordering::Relaxed);
    state.rules_loaded.store(built.rules, Ordering::Relaxed);
    if let Some(l) = listener {
        metrics::serve(l, state.clone()).map_err(|e| format!("metrics thread: {e}"))?;
    }
    let intel = intel::IntelRuntime::start(&cfg, state.clone())?;
    let shipper = match &cfg.ship {
        Some(s) => {
            let sh = start_shipper(s)?;
            log(&format!("shipping alerts to {} as {}", s.to, s.sensor_id));
            Some(sh)
        }
        None => None,
    };
    let sensor_name = cfg
        .ship
        .as_ref()
        .map(|s| s.sensor_id.clone())
        .unwrap_or_else(|| cfg.capture.interface.clone());
    let sightings = intel::start_sightings(&cfg, &sensor_name)?;
    let mut tees: Vec<crate::ship::AlertTee> = shipper.iter().filter_map(|s| s.tee()).collect();
    tees.extend(sightings.as_ref().map(|r| r.tee()));
    let slot = Arc::new(ArcSwapOption::new(built.engine));
    let sink = LineSink {
        inner: Arc::new(Mutex::new(sink)),
        pending: Vec::new(),
    };
    let mut eve_types = cfg.eve_types();
    let mut reassembly = crate::flow::reassembly::ReassemblyConfig::default();
    if let (_, Some(c)) = cfg.detect.settings()? {
        eve_types.xff = c.xff;
        reassembly.hosts = Arc::new(c.host_policies);
        reassembly.midstream = c.midstream.unwrap_or(false);
    }
    if let Some(m) = cfg.detect.midstream {
        reassembly.midstream = m;
    }
    let pcfg = ReplayConfig {
        threads: cfg.detect.threads.unwrap_or(1),
        eve_types,
        reassembly,
        intel: intel.shared.clone(),
        body_hashes: cfg.intel.body_hashes,
        alert_tees: tees,
        ..Default::default()
    };
    let pipe = {
        let (slot, progress, sink) = (slot.clone(), progress.clone(), sink.clone());
        std::thread::Builder::new()
            .name("vigie-pipeline".into())
            .spawn(move || {
                pipeline::run_with_engine_slot(&pcfg, source, Box::new(sink), progress, slot)
            })
            .map_err(|e| format!("starting the pipeline: {e}"))?
    };
    system::sd_notify("READY=1");
    log(&format!("capturing on {}", cfg.capture.interface));

    let watchdog = system::watchdog_interval().map(|d| d / 2);
    let mut last_watchdog = Instant::now();
    let stats_every = Duration::from_secs(cfg.output.stats_interval_s);
    let mut last_stats = Instant::now();
    let want_stats = cfg.eve_types().stats && !stats_every.is_zero();
    let mut last_ship_metrics = Instant::now();
    while !system::stop_requested() && !pipe.is_finished() {
        std::thread::sleep(Duration::from_millis(100));
        if system::take_reload_request() {
            system::sd_notify("RELOADING=1");
            reload(cfg_path, &slot, &state);
            intel.request_reload();
            system::sd_notify("READY=1");
        }
        if last_ship_metrics.elapsed() >= Duration::from_secs(1) {
            last_ship_metrics = Instant::now();
            if let Some(s) = &shipper {
                publish_ship(&state, s);
            }
            if let Some(r) = &sightings {
                intel::publish_sightings(&state, r);
            }
        }
        if want_stats && last_stats.elapsed() >= stats_every {
            last_stats = Instant::now();
            let mut line = Vec::new();
            state.snapshot().write_eve(&mut line, now_ns());
            if let Err(e) = sink.write_line(&line) {
                log(&format!("writing stats to {}: {e}", cfg.output.eve));
            }
        }
        if let Some(w) = watchdog {
            if last_watchdog.elapsed() >= w {
                last_watchdog = Instant::now();
                system::sd_notify("WATCHDOG=1");
            }
        }
    }
    system::sd_notify("STOPPING=1");
    log("stopping: draining the pipeline");
    stop.store(true, Ordering::Relaxed);
    let summary = pipe
        .join()
        .map_err(|_| "pipeline thread panicked".to_string())?
        .map_err(|e| format!("EVE output {}: {e}", cfg.output.eve))?;
    log(&format!(
        "stopped: {} packets, {} kernel drops, {} alerts",
        summary.packets, summary.kernel_drops, summary.alerts
    ));
    for e in &summary.capture_errors {
        log(e);
    }
    intel.stop();
    if let Some(r) = sightings {
        let s = r.finish(Duration::from_secs(10));
        log(&format!(
            "sightings stopped: {} reported, {} still pending, {} dropped",
            s.sent,
            s.pending,
            s.dropped + s.tee_drops
        ));
    }
    if let (Some(s), Some(sc)) = (shipper, &cfg.ship) {
        log(&format!(
            "shipping: waiting up to {} s for the collector to ack the spool",
            sc.drain_s
        ));
        match s.finish(Duration::from_secs(sc.drain_s)) {
            Ok(r) => log(&format!(
                "shipping stopped: {} acked, {} left in the spool for the next start, {} dropped",
                r.acked,
                r.spooled,
                r.tee_drops + r.spool_evicted
            )),
            Err(e) => log(&format!("shipping stopped with an error: {e}")),
        }
    }
    Ok(())
}
