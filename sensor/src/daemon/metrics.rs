//! Live counters of a running sensor, and the Prometheus text endpoint and
//! periodic EVE `stats` events that show them. Both read the same
//! [`LiveState`], so a scrape and a stats event taken at a quiet moment agree.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::output::stats::StatsSnapshot;
use crate::pipeline::Progress;

/// Counters shared by the pipeline, the reload logic and the endpoints.
#[derive(Debug)]
pub struct LiveState {
    /// Packet, byte, drop and alert counters of the pipeline.
    pub progress: Arc<Progress>,
    /// Engine generation: 1 for the first engine, +1 per successful reload.
    pub engine_generation: AtomicU64,
    /// Milliseconds the last successful engine build took.
    pub engine_load_ms: AtomicU64,
    /// Rules in the running engine.
    pub rules_loaded: AtomicU64,
    /// Successful reloads.
    pub reloads_ok: AtomicU64,
    /// Reloads that failed (old engine kept).
    pub reloads_failed: AtomicU64,
    /// Metrics published by other parts (indicators, hub sources, shipping),
    /// by group; each group is replaced whole by its owner.
    extra: Mutex<BTreeMap<&'static str, Vec<Metric>>>,
    started: Instant,
}

/// One metric published by a part of the daemon, optionally with one label.
#[derive(Debug, Clone)]
pub struct Metric {
    /// Prometheus name.
    pub name: &'static str,
    /// Help text.
    pub help: &'static str,
    /// Counter (else gauge).
    pub counter: bool,
    /// Label name and value, e.g. `("feed", "cert-misp")`.
    pub label: Option<(&'static str, String)>,
    /// Value.
    pub value: u64,
    /// Name in EVE `stats` events (dotted).
    pub eve: String,
}

impl Metric {
    /// A gauge or counter without label.
    pub fn new(
        name: &'static str,
        eve: &str,
        help: &'static str,
        counter: bool,
        value: u64,
    ) -> Self {
        Metric {
            name,
            help,
            counter,
            label: None,
            value,
            eve: eve.to_string(),
        }
    }

    /// The same metric for one label value; the EVE name gets the value appended.
    pub fn labeled(mut self, label: &'static str, value: &str) -> Self {
        self.eve = format!("{}.{value}", self.eve);
        self.label = Some((label, value.to_string()));
        self
    }
}

impl LiveState {
    /// Fresh counters over `progress`.
    pub fn new(progress: Arc<Progress>) -> Self {
        LiveState {
            progress,
            engine_generation: AtomicU64::new(0),
            engine_load_ms: AtomicU64::new(0),
            rules_loaded: AtomicU64::new(0),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
            extra: Mutex::new(BTreeMap::new()),
            started: Instant::now(),
        }
    }

    /// (EVE stats name, Prometheus name, help, is_counter, value), one per metric.
    fn rows(&self) -> Vec<(&'static str, &'static str, &'static str, bool, u64)> {
        let p = &self.progress;
        let pk = p.packets.load(Ordering::Relaxed);
        let drops = p.kernel_drops.load(Ordering::Relaxed);
        // Suppressed first: workers count an alert before the output holds it back.
        let suppressed = p.alerts_suppressed.load(Ordering::Relaxed);
        let alerts = p.alerts.load(Ordering::Relaxed).saturating_sub(suppressed);
        vec![
            (
                "capture.kernel_packets",
                "vigie_kernel_packets_total",
                "Packets the kernel saw (captured + dropped).",
                true,
                pk + drops,
            ),
            (
                "capture.kernel_drops",
                "vigie_kernel_drops_total",
                "Packets the kernel dropped because the ring was full.",
                true,
                drops,
            ),
            (
                "decoder.pkts",
                "vigie_packets_total",
                "Packets captured.",
                true,
                pk,
            ),
            (
                "decoder.bytes",
                "vigie_bytes_total",
                "Captured bytes.",
                true,
                p.bytes.load(Ordering::Relaxed),
            ),
            (
                "capture.queue_full",
                "vigie_pipeline_queue_full_total",
                "Times the capture reader found the pipeline queue full and waited (the pipeline drops nothing; a live source's overflow shows as kernel drops).",
                true,
                p.queue_full.load(Ordering::Relaxed),
            ),
            (
                "decoder.anomalies",
                "vigie_decode_anomalies_total",
                "Decoder anomaly events (truncated or malformed headers, ...).",
                true,
                p.anomalies.load(Ordering::Relaxed),
            ),
            (
                "flow.total",
                "vigie_flows_total",
                "Flows created.",
                true,
                p.flows.load(Ordering::Relaxed),
            ),
            (
                "flow.active",
                "vigie_flows_active",
                "Flows in the workers' flow tables.",
                false,
                p.flows_active.load(Ordering::Relaxed),
            ),
            (
                "detect.alert",
                "vigie_alerts_total",
                "Alerts raised (signatures and indicators).",
                true,
                alerts,
            ),
            (
                "detect.engine.generation",
                "vigie_engine_generation",
                "Signature engine generation (1 + successful reloads).",
                false,
                self.engine_generation.load(Ordering::Relaxed),
            ),
            (
                "detect.engine.load_ms",
                "vigie_engine_load_milliseconds",
                "Time the last engine build took.",
                false,
                self.engine_load_ms.load(Ordering::Relaxed),
            ),
            (
                "detect.engine.rules_loaded",
                "vigie_rules_loaded",
                "Rules in the running engine.",
                false,
                self.rules_loaded.load(Ordering::Relaxed),
            ),
            (
                "detect.engine.reloads",
                "vigie_reloads_total",
                "Successful reloads.",
                true,
                self.reloads_ok.load(Ordering::Relaxed),
            ),
            (
                "detect.engine.reloads_failed",
                "vigie_reloads_failed_total",
                "Failed reloads (old engine kept).",
                true,
                self.reloads_failed.load(Ordering::Relaxed),
            ),
        ]
    }

    /// Replaces the metrics of `group` (e.g. "intel", "ship").
    pub fn publish(&self, group: &'static str, metrics: Vec<Metric>) {
        if let Ok(mut m) = self.extra.lock() {
            m.insert(group, metrics);
        }
    }

    fn extra(&self) -> Vec<Metric> {
        let mut out: Vec<Metric> = self
            .extra
            .lock()
            .map(|m| m.values().flatten().cloned().collect())
            .unwrap_or_default();
        // Alerts by source; the indicator count is read first, so the
        // signature count never goes negative between two worker updates.
        let intel = self.progress.intel_alerts.load(Ordering::Relaxed);
        let suppressed = self.progress.alerts_suppressed.load(Ordering::Relaxed);
        let all = self
            .progress
            .alerts
            .load(Ordering::Relaxed)
            .saturating_sub(suppressed);
        for (source, n) in [
            ("signature", all.saturating_sub(intel)),
            ("indicator", intel),
        ] {
            out.push(
                Metric::new(
                    "vigie_alerts_by_source_total",
                    "detect.alert_by_source",
                    "Alerts raised, by source: signature rules or indicators.",
                    true,
                    n,
                )
                .labeled("source", source),
            );
        }
        // One ring per worker (fanout): each socket's kernel drops.
        if let Ok(d) = self.progress.socket_drops.lock() {
            out.extend(d.iter().enumerate().map(|(i, n)| {
                Metric::new(
                    "vigie_socket_kernel_drops_total",
                    "capture.socket_drops",
                    "Packets the kernel dropped on one capture socket (one per worker).",
                    true,
                    *n,
                )
                .labeled("socket", &i.to_string())
            }));
        }
        out
    }

    /// The counters as an EVE `stats` snapshot.
    pub fn snapshot(&self) -> StatsSnapshot {
        let mut counters: Vec<(String, u64)> = self
            .rows()
            .into_iter()
            .map(|(n, _, _, _, v)| (n.to_string(), v))
            .collect();
        counters.extend(self.extra().into_iter().map(|m| (m.eve, m.value)));
        for (stage, h) in self.progress.latency.stages() {
            let l = h.snapshot();
            counters.push((format!("latency.{stage}.batches"), l.count));
            counters.push((format!("latency.{stage}.sum_us"), l.sum_us));
            counters.push((format!("latency.{stage}.p50_us"), l.quantile_us(0.5)));
            counters.push((format!("latency.{stage}.p99_us"), l.quantile_us(0.99)));
        }
        StatsSnapshot {
            counters,
            uptime_s: self.started.elapsed().as_secs(),
        }
    }

    /// Prometheus text exposition format 0.0.4.
    pub fn prometheus(&self) -> String {
        let mut s = String::new();
        for (_, name, help, counter, v) in self.rows() {
            let kind = if counter { "counter" } else { "gauge" };
            s.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
            ));
        }
        let mut extra = self.extra();
        extra.sort_by(|a, b| a.name.cmp(b.name));
        let mut last = "";
        for m in &extra {
            if m.name != last {
                let kind = if m.counter { "counter" } else { "gauge" };
                s.push_str(&format!(
                    "# HELP {} {}\n# TYPE {} {kind}\n",
                    m.name, m.help, m.name
                ));
                last = m.name;
            }
            match &m.label {
                Some((k, v)) => {
                    let v = v.replace('\\', "\\\\").replace('"', "\\\"");
                    s.push_str(&format!("{}{{{k}=\"{v}\"}} {}\n", m.name, m.value));
                }
                None => s.push_str(&format!("{} {}\n", m.name, m.value)),
            }
        }
        self.latency_histograms(&mut s);
        let up = self.started.elapsed().as_secs();
        s.push_str(&format!(
            "# HELP vigie_uptime_seconds Seconds since start.\n# TYPE vigie_uptime_seconds gauge\nvigie_uptime_seconds {up}\n"
        ));
        s
    }
}

impl LiveState {
    /// `vigie_stage_latency_seconds`, one histogram series per stage.
    fn latency_histograms(&self, s: &mut String) {
        use crate::pipeline::latency::{LatencySnapshot, BUCKETS};
        let name = "vigie_stage_latency_seconds";
        s.push_str(&format!(
            "# HELP {name} Per-batch latency of each pipeline stage (dispatch: reader to worker start; worker: processing; pipeline: reader to events written).\n# TYPE {name} histogram\n"
        ));
        for (stage, h) in self.progress.latency.stages() {
            let l = h.snapshot();
            let mut cum = 0;
            // The last bucket also holds everything slower: only +Inf bounds it.
            for i in 0..BUCKETS - 1 {
                cum += l.buckets[i];
                let le = LatencySnapshot::bound_us(i) as f64 / 1e6;
                s.push_str(&format!(
                    "{name}_bucket{{stage=\"{stage}\",le=\"{le}\"}} {cum}\n"
                ));
            }
            s.push_str(&format!(
                "{name}_bucket{{stage=\"{stage}\",le=\"+Inf\"}} {}\n{name}_sum{{stage=\"{stage}\"}} {}\n{name}_count{{stage=\"{stage}\"}} {}\n",
                l.count,
                l.sum_us as f64 / 1e6,
                l.count
            ));
        }
    }
}

/// Serves `GET /metrics` on `listener` from a background thread.
pub fn serve(listener: TcpListener, state: Arc<LiveState>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("vigie-metrics".into())
        .spawn(move || {
            for conn in listener.incoming() {
                match conn {
                    Ok(c) => answer(c, &state),
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        })?;
    Ok(())
}

fn answer(mut c: TcpStream, state: &LiveState) {
    // A slow or hostile client cannot hold the endpoint for long.
    let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = c.set_write_timeout(Some(Duration::from_secs(2)));
    let mut req = [0u8; 2048];
    let mut n = 0;
    while n < req.len() {
        match c.read(&mut req[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
        if req[..n].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let line = req[..n].split(|&b| b == b'\n').next().unwrap_or_default();
    let (status, body) = if line.starts_with(b"GET /metrics ") || line.starts_with(b"GET / ") {
        ("200 OK", state.prometheus())
    } else {
        ("404 Not Found", "only GET /metrics is served\n".to_string())
    };
    let _ = write!(
        c,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn scrape_matches_snapshot() {
        let p = Arc::new(Progress::default());
        p.packets.store(10, Ordering::Relaxed);
        p.kernel_drops.store(2, Ordering::Relaxed);
        p.alerts.store(3, Ordering::Relaxed);
        p.intel_alerts.store(1, Ordering::Relaxed);
        p.flows.store(7, Ordering::Relaxed);
        p.flows_active.store(4, Ordering::Relaxed);
        p.anomalies.store(5, Ordering::Relaxed);
        p.latency.worker.record(Duration::from_micros(100));
        *p.socket_drops.lock().unwrap() = vec![2, 0];
        p.latency.worker.record(Duration::from_millis(3));
        let st = Arc::new(LiveState::new(p));
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        serve(l, st.clone()).unwrap();
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut body = String::new();
        c.read_to_string(&mut body).unwrap();
        assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
        assert!(body.contains("\nvigie_packets_total 10\n"), "{body}");
        assert!(body.contains("\nvigie_kernel_packets_total 12\n"), "{body}");
        let h = "vigie_stage_latency_seconds";
        assert!(body.contains("# TYPE vigie_stage_latency_seconds histogram\n"));
        assert!(body.contains(&format!(
            "\n{h}_bucket{{stage=\"worker\",le=\"0.000064\"}} 0\n"
        )));
        assert!(body.contains(&format!(
            "\n{h}_bucket{{stage=\"worker\",le=\"0.000128\"}} 1\n"
        )));
        assert!(body.contains(&format!(
            "\n{h}_bucket{{stage=\"worker\",le=\"0.004096\"}} 2\n"
        )));
        assert!(body.contains(&format!("\n{h}_bucket{{stage=\"worker\",le=\"+Inf\"}} 2\n")));
        assert!(
            body.contains(&format!("\n{h}_sum{{stage=\"worker\"}} 0.0031\n")),
            "{body}"
        );
        assert!(body.contains(&format!("\n{h}_count{{stage=\"dispatch\"}} 0\n")));
        let snap = st.snapshot();
        assert_eq!(snap.get("detect.alert"), Some(3));
        for (eve, prom, v) in [
            ("flow.total", "vigie_flows_total", 7),
            ("flow.active", "vigie_flows_active", 4),
            ("decoder.anomalies", "vigie_decode_anomalies_total", 5),
            ("capture.queue_full", "vigie_pipeline_queue_full_total", 0),
            (
                "detect.alert_by_source.signature",
                "vigie_alerts_by_source_total{source=\"signature\"}",
                2,
            ),
            (
                "detect.alert_by_source.indicator",
                "vigie_alerts_by_source_total{source=\"indicator\"}",
                1,
            ),
        ] {
            assert_eq!(snap.get(eve), Some(v), "{eve}");
            assert!(body.contains(&format!("\n{prom} {v}\n")), "{prom}: {body}");
        }
        assert_eq!(snap.get("latency.worker.batches"), Some(2));
        assert_eq!(snap.get("capture.socket_drops.0"), Some(2));
        assert_eq!(snap.get("capture.socket_drops.1"), Some(0));
        assert!(
            body.contains("\nvigie_socket_kernel_drops_total{socket=\"0\"} 2\n"),
            "{body}"
        );
        assert!(body.contains("\nvigie_socket_kernel_drops_total{socket=\"1\"} 0\n"));
        assert_eq!(snap.get("latency.worker.sum_us"), Some(3100));
        assert_eq!(snap.get("latency.worker.p50_us"), Some(128));
        assert_eq!(snap.get("latency.worker.p99_us"), Some(4096));
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(b"POST /x HTTP/1.1\r\n\r\n").unwrap();
        let mut body = String::new();
        c.read_to_string(&mut body).unwrap();
        assert!(body.starts_with("HTTP/1.1 404"), "{body}");
    }
}
