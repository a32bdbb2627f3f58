//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod medallion;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use vigie_sensor::pipeline::{self, EveTypes, Progress, ReplayConfig, RunSummary};

/// The shared corpus, or None (test skipped with a printed reason) when it is
/// missing and VIGIE_EXTERNAL_TESTS is not set.
pub fn corpus() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    if p.join("MANIFEST.tsv").exists() {
        return Some(p);
    }
    skip("test", &format!("the corpus is missing at {}", p.display()));
    None
}

/// Bundled captures in tests/pcaps.
pub fn bundled(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/pcaps")
        .join(name)
}

/// (path relative to the corpus folder, capinfos packet count) for every capture
/// in MANIFEST.tsv.
pub fn manifest_pcaps(corpus: &Path) -> Vec<(String, u64)> {
    let text = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut out = Vec::new();
    for line in text.lines() {
        let mut cols = line.split('\t');
        let Some(path) = cols.next() else { continue };
        let Some(note) = line.split('\t').nth(6) else {
            continue;
        };
        let Some(n) = note
            .split("packets=")
            .nth(1)
            .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        out.push((path.trim_start_matches("corpus/").to_string(), n));
    }
    out
}

#[derive(Clone, Default)]
pub struct SharedBuf(pub Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Replays `files` without rules and returns the EVE bytes and the run
/// summary. Sessions whose start the capture lacks are picked up (as Zeek,
/// Arkime and nDPI do, which these replays are compared with).
pub fn replay(files: Vec<PathBuf>, threads: usize, types: &str) -> (Vec<u8>, RunSummary) {
    let mut cfg = replay_config(threads, types, None);
    cfg.reassembly.midstream = true;
    run_replay(&cfg, files)
}

/// Loads rule files or directories into an engine.
pub fn engine(paths: &[PathBuf]) -> Arc<vigie_rules::signature::Engine> {
    let (e, _) =
        vigie_sensor::detect::load_engine(paths, None, &Default::default()).expect("rules load");
    Arc::new(e)
}

/// Replays `files` with an optional signature engine (sessions without
/// their start are not picked up, as in the reference IDS).
pub fn replay_with(
    files: Vec<PathBuf>,
    threads: usize,
    types: &str,
    engine: Option<Arc<vigie_rules::signature::Engine>>,
) -> (Vec<u8>, RunSummary) {
    run_replay(&replay_config(threads, types, engine), files)
}

fn replay_config(
    threads: usize,
    types: &str,
    engine: Option<Arc<vigie_rules::signature::Engine>>,
) -> ReplayConfig {
    ReplayConfig {
        threads,
        eve_types: EveTypes::parse(types).unwrap(),
        engine,
        ..Default::default()
    }
}

fn run_replay(cfg: &ReplayConfig, files: Vec<PathBuf>) -> (Vec<u8>, RunSummary) {
    let buf = SharedBuf::default();
    let summary = pipeline::replay(
        cfg,
        files,
        Box::new(buf.clone()),
        Arc::new(Progress::default()),
    )
    .expect("replay");
    let bytes = std::mem::take(&mut *buf.0.lock().unwrap());
    (bytes, summary)
}

/// Alerts per signature id among `events`.
pub fn alerts_by_sid(events: &[serde_json::Value]) -> std::collections::BTreeMap<u64, usize> {
    let mut by_sid = std::collections::BTreeMap::new();
    for e in events.iter().filter(|e| e["event_type"] == "alert") {
        let sid = e["alert"]["signature_id"]
            .as_u64()
            .expect("alert without sid");
        *by_sid.entry(sid).or_insert(0) += 1;
    }
    by_sid
}

/// Parses EVE lines.
pub fn events(bytes: &[u8]) -> Vec<serde_json::Value> {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("valid JSON line"))
        .collect()
}

/// The EVE alert lines of an EVE file, in file order.
pub fn eve_alert_lines(eve: &Path) -> Vec<String> {
    std::fs::read_to_string(eve)
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"event_type\":\"alert\""))
        .map(str::to_string)
        .collect()
}

/// Every line of a collector's EVE archive (all its files), sorted.
pub fn archived_lines(state_dir: &Path) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_dir(state_dir.join("archive"))
        .unwrap()
        .flat_map(|e| {
            std::fs::read_to_string(e.unwrap().path())
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    lines.sort();
    lines
}

/// A TCP port free on loopback right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Messages in the VIGIE_ALERTS stream now (0 before the stream exists).
pub fn stream_messages(nats_port: u16) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let Ok(client) = async_nats::connect(format!("127.0.0.1:{nats_port}")).await else {
            return 0;
        };
        let js = async_nats::jetstream::new(client);
        match js.get_stream("VIGIE_ALERTS").await {
            Ok(mut s) => s.info().await.map_or(0, |i| i.state.messages),
            Err(_) => 0,
        }
    })
}

/// True when VIGIE_EXTERNAL_TESTS=1: missing external data or tools fail the
/// test instead of skipping it.
pub fn external_required() -> bool {
    std::env::var("VIGIE_EXTERNAL_TESTS").is_ok_and(|v| v == "1")
}

/// Skips the calling test with a printed reason, or fails it when
/// VIGIE_EXTERNAL_TESTS=1.
pub fn skip(test: &str, reason: &str) {
    assert!(!external_required(), "VIGIE_EXTERNAL_TESTS=1 but {reason}");
    eprintln!("{test} skipped: {reason}");
}

/// The suricata-verify folder: `VIGIE_SV_DIR`, else `../shared/suricata-verify`
/// next to the workspace (where CI puts it).
pub fn sv_root() -> PathBuf {
    std::env::var_os("VIGIE_SV_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/suricata-verify")
        })
}

/// suricata-verify's case folder, or None (skipped with a reason; a failure
/// under VIGIE_EXTERNAL_TESTS=1) when it is missing.
pub fn sv_tests(test: &str) -> Option<PathBuf> {
    let tests = sv_root().join("tests");
    if tests.is_dir() {
        return Some(tests);
    }
    skip(
        test,
        &format!("no suricata-verify cases at {}", tests.display()),
    );
    None
}

/// What running `svcheck.py` needs: (case folder root, svcheck.py), or None
/// (skipped with the reason) when the cases, the script (`VIGIE_SVCHECK`,
/// else `../tools/svcheck.py` beside the cases) or python3 with PyYAML is
/// missing.
pub fn svcheck(test: &str) -> Option<(PathBuf, PathBuf)> {
    let sv = sv_root();
    let script = std::env::var_os("VIGIE_SVCHECK")
        .map(PathBuf::from)
        .unwrap_or_else(|| sv.join("../tools/svcheck.py"));
    if !sv.join("tests").is_dir() || !script.is_file() {
        skip(
            test,
            &format!(
                "no suricata-verify cases at {} or no svcheck.py at {}",
                sv.display(),
                script.display()
            ),
        );
        return None;
    }
    let has_yaml = std::process::Command::new("python3")
        .args(["-c", "import yaml"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_yaml {
        skip(test, "python3 with PyYAML (python3-yaml) is not installed");
        return None;
    }
    Some((sv, script))
}
