//! Live capture on a real veth pair in a private network namespace: vigie runs
//! as a daemon on one end, tcpreplay sends a corpus capture into the other.
//! Checks: alerts equal replay mode's, kernel drops 0, the metrics endpoint
//! agrees with the EVE stats, SIGHUP loads a changed rule file, a broken one
//! keeps the running rules, SIGTERM stops cleanly.
//!
//! Needs root, `ip` and `tcpreplay`: skips with a reason otherwise, unless
//! VIGIE_EXTERNAL_TESTS=1, when it fails instead.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn external_required() -> bool {
    std::env::var("VIGIE_EXTERNAL_TESTS").is_ok_and(|v| v == "1")
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// None when the test can run; else why not.
fn missing_prerequisite() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root (needs network namespaces and AF_PACKET)".into());
    }
    for t in ["ip", "tcpreplay"] {
        if !have(t) {
            return Some(format!(
                "{t} not installed (apt-get install iproute2 tcpreplay)"
            ));
        }
    }
    None
}

fn sh(args: &[&str]) {
    let st = Command::new(args[0])
        .args(&args[1..])
        .status()
        .expect("spawn");
    assert!(st.success(), "{args:?} failed: {st}");
}

/// A namespace with a veth pair `va` <-> `vb`, removed on drop.
struct Netns {
    name: String,
}

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("vigie-{tag}-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).status();
        sh(&["ip", "netns", "add", &name]);
        let ns = Netns { name };
        // No IPv6 autoconfiguration chatter on the test link.
        ns.exec(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
        ns.exec(&["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
        ns.exec(&[
            "ip", "link", "add", "va", "type", "veth", "peer", "name", "vb",
        ]);
        for l in ["lo", "va", "vb"] {
            ns.exec(&["ip", "link", "set", l, "up"]);
        }
        ns
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(args);
        c
    }

    fn exec(&self, args: &[&str]) {
        let st = self.cmd(args).status().expect("spawn");
        assert!(st.success(), "in netns: {args:?} failed: {st}");
    }

    fn output(&self, args: &[&str]) -> String {
        let o = self.cmd(args).output().expect("spawn");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn scrape(&self, port: u16) -> String {
        let script = format!(
            "exec 3<>/dev/tcp/127.0.0.1/{port}; printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3"
        );
        self.output(&["bash", "-c", &script])
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn metric(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read(path)
        .unwrap_or_default()
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("EVE line is JSON"))
        .collect()
}

fn alert_keys(evs: &[serde_json::Value]) -> Vec<String> {
    let mut v: Vec<String> = evs
        .iter()
        .filter(|e| e["event_type"] == "alert")
        .map(|e| {
            format!(
                "{} {}:{} -> {}:{}",
                e["alert"]["signature_id"],
                e["src_ip"],
                e["src_port"],
                e["dest_ip"],
                e["dest_port"]
            )
        })
        .collect();
    v.sort();
    v
}

/// `vigie config check` passes on `cfg`, then `vigie run` starts in the
/// namespace with its stderr in `log`; returns once it captures on `vb`.
fn start_daemon(ns: &Netns, cfg: &Path, log: &Path) -> Child {
    let bin = env!("CARGO_BIN_EXE_vigie");
    let check = Command::new(bin)
        .args(["config", "check"])
        .arg(cfg)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let child = ns
        .cmd(&[bin, "run", "--config", cfg.to_str().unwrap()])
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    wait_for("vigie to start capturing", Duration::from_secs(60), || {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .contains("capturing on vb")
    });
    child
}

/// Sends `pcap` into `va` at 2,000 packets/s.
fn send(ns: &Netns, pcap: &Path) {
    ns.exec(&[
        "tcpreplay",
        "-q",
        "-i",
        "va",
        "--pps",
        "2000",
        pcap.to_str().unwrap(),
    ]);
}

const RULES_A: &str = r#"alert http any any -> any any (msg:"live test GET"; flow:to_server; http.method; content:"GET"; sid:9100001; rev:1;)
alert http any any -> any any (msg:"live test 200"; flow:to_client; http.stat_code; content:"200"; sid:9100002; rev:1;)
"#;
const RULE_SYN: &str =
    "alert tcp any any -> any any (msg:\"live test SYN\"; flags:S; sid:9100003; rev:1;)\n";

#[test]
fn live_capture_on_veth_matches_replay() {
    if let Some(why) = missing_prerequisite() {
        assert!(!external_required(), "VIGIE_EXTERNAL_TESTS=1 but {why}");
        eprintln!("skipping live_capture_on_veth_matches_replay: {why}");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_vigie");
    let pcap = PathBuf::from("/work/shared/corpus/pcaps/zeek/http/pipelined-requests.pcap");
    let pcap = if pcap.exists() {
        pcap
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/corpus/pcaps/zeek/http/pipelined-requests.pcap")
    };
    assert!(pcap.exists(), "corpus capture {} missing", pcap.display());
    let dir = std::env::temp_dir().join(format!("vigie-live-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("test.rules");
    std::fs::write(&rules, RULES_A).unwrap();

    // Replay mode: the reference alerts.
    let replay_eve = dir.join("replay.json");
    let st = Command::new(bin)
        .args(["replay", "--quiet", "--rules"])
        .arg(&rules)
        .arg("--eve")
        .arg(&replay_eve)
        .arg(&pcap)
        .status()
        .unwrap();
    assert!(st.success());
    let replay_evs = events(&replay_eve);
    let want = alert_keys(&replay_evs);
    assert!(
        !want.is_empty(),
        "the rules must alert on the capture in replay mode"
    );
    let replay_pkts = replay_evs
        .iter()
        .find(|e| e["event_type"] == "stats")
        .and_then(|e| e["stats"]["decoder"]["pkts"].as_u64())
        .expect("replay stats");

    let ns = Netns::new("live");
    let port = 19477u16;
    let eve = dir.join("live.json");
    let cfg = dir.join("vigie.toml");
    std::fs::write(
        &cfg,
        format!(
            "[capture]\ninterface = \"vb\"\nblock_count = 8\nsockets = 2\n[detect]\nrules = [{:?}]\nthreads = 2\n\
             [output]\neve = {:?}\nstats_interval_s = 1\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n",
            rules, eve
        ),
    )
    .unwrap();
    let log = dir.join("stderr.log");
    let mut child = start_daemon(&ns, &cfg, &log);
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();

    // Phase 1: the capture at a fixed rate.
    send(&ns, &pcap);
    wait_for("every packet captured", Duration::from_secs(30), || {
        metric(&ns.scrape(port), "vigie_packets_total").is_some_and(|n| n >= replay_pkts)
    });
    // Let the workers finish the last batch and a periodic stats event go out.
    std::thread::sleep(Duration::from_millis(2500));
    let m1 = ns.scrape(port);
    let alerts1 = metric(&m1, "vigie_alerts_total").unwrap();
    assert_eq!(metric(&m1, "vigie_kernel_drops_total"), Some(0), "{m1}");
    assert_eq!(metric(&m1, "vigie_engine_generation"), Some(1), "{m1}");
    assert_eq!(
        metric(&m1, "vigie_packets_total"),
        Some(replay_pkts),
        "{m1}"
    );

    // Phase 2: SIGHUP with an added rule.
    std::fs::write(&rules, format!("{RULES_A}{RULE_SYN}")).unwrap();
    let pid = child.id().to_string();
    // `ip netns exec` execs the program, so the child's pid is vigie's.
    sh(&["kill", "-HUP", &pid]);
    wait_for("reload", Duration::from_secs(30), || {
        metric(&ns.scrape(port), "vigie_engine_generation") == Some(2)
    });
    send(&ns, &pcap);
    wait_for("second pass captured", Duration::from_secs(30), || {
        metric(&ns.scrape(port), "vigie_packets_total").is_some_and(|n| n >= 2 * replay_pkts)
    });

    // Phase 3: a broken rule file keeps the running engine.
    std::fs::write(&rules, "this is not a rule\n").unwrap();
    sh(&["kill", "-HUP", &pid]);
    wait_for("failed reload", Duration::from_secs(30), || {
        metric(&ns.scrape(port), "vigie_reloads_failed_total") == Some(1)
    });
    std::thread::sleep(Duration::from_millis(2500));
    let m3 = ns.scrape(port);
    assert_eq!(metric(&m3, "vigie_engine_generation"), Some(2), "{m3}");
    assert!(
        read_log().contains("reload failed, running engine kept"),
        "{}",
        read_log()
    );

    sh(&["kill", "-TERM", &pid]);
    let st = child.wait().unwrap();
    assert!(st.success(), "vigie exited with {st}: {}", read_log());

    let evs = events(&eve);
    let alerts: Vec<&serde_json::Value> =
        evs.iter().filter(|e| e["event_type"] == "alert").collect();
    // Phase 1 alerts come first (output is in packet order).
    let phase1: Vec<serde_json::Value> = alerts[..alerts1 as usize]
        .iter()
        .map(|e| (*e).clone())
        .collect();
    assert_eq!(
        alert_keys(&phase1),
        want,
        "live alerts differ from replay mode"
    );
    let syn = alerts[alerts1 as usize..]
        .iter()
        .filter(|e| e["alert"]["signature_id"] == 9100003)
        .count();
    assert!(syn > 0, "the reloaded rule never alerted");
    // Metrics and the last periodic stats event agree (nothing moved since).
    let stats: Vec<&serde_json::Value> =
        evs.iter().filter(|e| e["event_type"] == "stats").collect();
    assert!(stats.len() >= 3, "periodic stats events missing");
    let last_periodic = stats[stats.len() - 2];
    for (eve_path, prom) in [
        (["decoder", "pkts"], "vigie_packets_total"),
        (["detect", "alert"], "vigie_alerts_total"),
        (["capture", "kernel_drops"], "vigie_kernel_drops_total"),
        (["capture", "queue_full"], "vigie_pipeline_queue_full_total"),
        (["decoder", "anomalies"], "vigie_decode_anomalies_total"),
        (["flow", "total"], "vigie_flows_total"),
        (["flow", "active"], "vigie_flows_active"),
    ] {
        assert_eq!(
            last_periodic["stats"][eve_path[0]][eve_path[1]].as_u64(),
            metric(&m3, prom),
            "{prom} vs EVE stats {eve_path:?}"
        );
    }
    assert!(metric(&m3, "vigie_flows_total").unwrap_or(0) > 0, "{m3}");
    // Alerts by source add up to all alerts; this run has rules only.
    let by = |src: &str| {
        metric(
            &m3,
            &format!("vigie_alerts_by_source_total{{source=\"{src}\"}}"),
        )
    };
    assert_eq!(by("signature"), metric(&m3, "vigie_alerts_total"), "{m3}");
    assert_eq!(by("indicator"), Some(0), "{m3}");
    assert_eq!(
        last_periodic["stats"]["detect"]["alert_by_source"]["signature"].as_u64(),
        by("signature")
    );
    // sockets = 2: two sockets in one fanout group, each with its drop counter.
    for sock in ["0", "1"] {
        assert_eq!(
            metric(
                &m3,
                &format!("vigie_socket_kernel_drops_total{{socket=\"{sock}\"}}")
            ),
            Some(0),
            "{m3}"
        );
        assert_eq!(
            last_periodic["stats"]["capture"]["socket_drops"][sock].as_u64(),
            Some(0)
        );
    }
    // Stage latency histograms: the scrape's series counts equal the EVE
    // stats' batch counts, and every stage saw the traffic.
    for stage in ["dispatch", "worker", "pipeline"] {
        let l = &last_periodic["stats"]["latency"][stage];
        let count = metric(
            &m3,
            &format!("vigie_stage_latency_seconds_count{{stage=\"{stage}\"}}"),
        );
        assert_eq!(l["batches"].as_u64(), count, "latency.{stage}.batches");
        assert!(count.unwrap_or(0) > 0, "no {stage} latency recorded");
        assert!(l["p50_us"].as_u64() <= l["p99_us"].as_u64(), "{l}");
    }
    assert_eq!(
        stats[stats.len() - 1]["stats"]["capture"]["kernel_drops"].as_u64(),
        Some(0)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits until `port` accepts connections inside the namespace.
fn wait_port(ns: &Netns, what: &str, port: u16) {
    wait_for(what, Duration::from_secs(60), || {
        ns.cmd(&["bash", "-c", &format!("exec 3<>/dev/tcp/127.0.0.1/{port}")])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
}

/// Kills a helper process started in the namespace when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The daemon with indicators from a file and from a MISP feed polled over
/// HTTP, shipping to a collector over mutual TLS: indicator alerts from both,
/// every alert archived by the collector, SIGHUP with an indicator file that
/// no longer loads keeps the running set, SIGTERM drains the spool.
#[test]
fn live_daemon_with_intel_hub_and_shipping() {
    if let Some(why) = missing_prerequisite() {
        assert!(!external_required(), "VIGIE_EXTERNAL_TESTS=1 but {why}");
        eprintln!("skipping live_daemon_with_intel_hub_and_shipping: {why}");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_vigie");
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/pcaps/pipelined-requests.pcap");
    let dir = std::env::temp_dir().join(format!("vigie-live-intel-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("www/feed")).unwrap();

    // A local indicator file (the server's address) and a MISP feed (its host name).
    let csv = dir.join("local.csv");
    std::fs::write(&csv, "value,type\n63.245.209.11,ip\n").unwrap();
    let uuid = "5f1e7c0a-3b7d-4c52-9a55-0d6c1f3c9e01";
    std::fs::write(
        dir.join("www/feed/manifest.json"),
        format!(r#"{{"{uuid}":{{"info":"live test","date":"2026-11-26","timestamp":"1795000000","Orgc":{{"name":"test"}}}}}}"#),
    )
    .unwrap();
    std::fs::write(
        dir.join(format!("www/feed/{uuid}.json")),
        format!(
            r#"{{"Event":{{"uuid":"{uuid}","info":"live test","date":"2026-11-26","timestamp":"1795000000","Orgc":{{"name":"test"}},"Attribute":[{{"uuid":"0b0e9a4e-52a4-4f0b-a3e4-6f1c2b7d9a11","type":"hostname","category":"Network activity","to_ids":true,"value":"www.mozilla.org","timestamp":"1795000000"}}]}}}}"#
        ),
    )
    .unwrap();

    // PKI for the collector and this sensor.
    let pki = dir.join("pki");
    vigie_collector::pki::init(&pki, "live test CA").unwrap();
    vigie_collector::pki::issue(&pki, "collector", true, &["localhost".into()]).unwrap();
    vigie_collector::pki::issue(&pki, "live1", false, &[]).unwrap();

    let ns = Netns::new("daemon");
    let (web_port, col_port, metrics_port) = (18080u16, 18443u16, 19478u16);
    let _web = Guard(
        ns.cmd(&[
            "python3",
            "-m",
            "http.server",
            &web_port.to_string(),
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(dir.join("www"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap(),
    );
    let ccfg = dir.join("collector.toml");
    std::fs::write(
        &ccfg,
        format!(
            "listen = \"127.0.0.1:{col_port}\"\nca = {:?}\ncert = {:?}\nkey = {:?}\nstate_dir = {:?}\n",
            pki.join("ca.pem"),
            pki.join("collector.pem"),
            pki.join("collector.key"),
            dir.join("collector-state")
        ),
    )
    .unwrap();
    let _collector = Guard(
        ns.cmd(&[bin, "collector", "--config", ccfg.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_port(&ns, "the feed server", web_port);
    wait_port(&ns, "the collector", col_port);

    let eve = dir.join("live.json");
    let cfg = dir.join("vigie.toml");
    std::fs::write(
        &cfg,
        format!(
            "[capture]\ninterface = \"vb\"\nblock_count = 8\n\
             [output]\neve = {eve:?}\nstats_interval_s = 1\n\
             [metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n\
             [intel]\nfiles = [{csv:?}]\npoll_interval_s = 1\nstate_dir = {:?}\n\
             [[hub]]\nname = \"test-feed\"\nkind = \"misp-feed\"\nurl = \"http://127.0.0.1:{web_port}/feed\"\n\
             [ship]\nto = \"https://localhost:{col_port}\"\nca = {:?}\ncert = {:?}\nkey = {:?}\n\
             sensor_id = \"live1\"\nspool = {:?}\n",
            dir.join("hub"),
            pki.join("ca.pem"),
            pki.join("live1.pem"),
            pki.join("live1.key"),
            dir.join("spool"),
        ),
    )
    .unwrap();
    let log = dir.join("stderr.log");
    let mut child = start_daemon(&ns, &cfg, &log);
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    // The feed's indicator joins the file's once the first poll is done.
    wait_for("the hub's first sync", Duration::from_secs(60), || {
        metric(&ns.scrape(metrics_port), "vigie_indicators") == Some(2)
    });
    let m = ns.scrape(metrics_port);
    assert!(
        m.contains("vigie_indicators_by_feed{feed=\"test-feed\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("vigie_hub_source_up{source=\"test-feed\"} 1"),
        "{m}"
    );

    send(&ns, &pcap);
    wait_for(
        "indicator alerts shipped and acked",
        Duration::from_secs(60),
        || {
            let m = ns.scrape(metrics_port);
            let alerts = metric(&m, "vigie_alerts_total").unwrap_or(0);
            alerts >= 2 && metric(&m, "vigie_ship_acked_total") == Some(alerts)
        },
    );

    // SIGHUP after the indicator file is gone: the running set stays.
    std::fs::remove_file(&csv).unwrap();
    let pid = child.id().to_string();
    sh(&["kill", "-HUP", &pid]);
    wait_for("the failed intel reload", Duration::from_secs(30), || {
        read_log().contains("intel reload failed, running set kept")
    });
    assert_eq!(
        metric(&ns.scrape(metrics_port), "vigie_indicators"),
        Some(2)
    );

    sh(&["kill", "-TERM", &pid]);
    let st = child.wait().unwrap();
    assert!(st.success(), "vigie exited with {st}: {}", read_log());
    assert!(
        read_log().contains(", 0 left in the spool"),
        "{}",
        read_log()
    );

    let evs = events(&eve);
    let intel: Vec<&serde_json::Value> =
        evs.iter().filter(|e| e["event_type"] == "alert").collect();
    let feeds: std::collections::BTreeSet<(String, String)> = intel
        .iter()
        .map(|e| {
            (
                e["alert"]["source"]["feed"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                e["alert"]["source"]["value"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    assert!(
        feeds.contains(&("test-feed".into(), "www.mozilla.org".into())),
        "{feeds:?}"
    );
    assert!(
        feeds
            .iter()
            .any(|(f, v)| f.contains("local.csv") && v == "63.245.209.11"),
        "{feeds:?}"
    );
    // The collector archived exactly the EVE alert lines.
    let mut local = common::eve_alert_lines(&eve);
    local.sort();
    assert_eq!(common::archived_lines(&dir.join("collector-state")), local);
    let _ = std::fs::remove_dir_all(&dir);
}
