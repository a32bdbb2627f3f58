//! Alert shipping with real components: a real `nats-server -js`, the collector
//! (the `vigie collector` binary), the `vigie replay` binary shipping over mTLS,
//! and a JetStream consumer in the test.
//!
//! Needs `nats-server` on PATH; skipped with a reason when it is missing, unless
//! VIGIE_EXTERNAL_TESTS=1, in which case a missing server fails the test.

mod common;

use common::eve_alert_lines;
use common::free_port;
use common::stream_messages;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vigie_collector::pki;

fn external_required() -> bool {
    std::env::var("VIGIE_EXTERNAL_TESTS").is_ok_and(|v| v == "1")
}

fn nats_available() -> bool {
    let ok = Command::new("nats-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if external_required() {
            panic!("VIGIE_EXTERNAL_TESTS=1 but nats-server is not on PATH (apt-get install nats-server)");
        }
        eprintln!(
            "skipped: nats-server not on PATH (set VIGIE_EXTERNAL_TESTS=1 to make this a failure)"
        );
    }
    ok
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vigie-ship-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Kills the child when dropped, so a failed assertion leaves no server behind.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_nats(dir: &Path) -> (Proc, u16) {
    let port = free_port();
    let child = Command::new("nats-server")
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir.join("js"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nats-server");
    let p = Proc(child);
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "nats-server did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (p, port)
}

struct Pki {
    dir: PathBuf,
}

fn make_pki(dir: &Path) -> Pki {
    let d = dir.join("pki");
    pki::init(&d, "test CA").unwrap();
    pki::issue(
        &d,
        "collector",
        true,
        &["localhost".into(), "127.0.0.1".into()],
    )
    .unwrap();
    pki::issue(&d, "s1", false, &[]).unwrap();
    Pki { dir: d }
}

impl Pki {
    fn f(&self, n: &str) -> PathBuf {
        self.dir.join(n)
    }
}

fn write_collector_config(dir: &Path, pki: &Pki, port: u16, nats_port: u16) -> PathBuf {
    let cfg = dir.join("collector.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:{port}\"\nca = {:?}\ncert = {:?}\nkey = {:?}\nstate_dir = {:?}\nnats_url = \"nats://127.0.0.1:{nats_port}\"\n",
            pki.f("ca.pem"),
            pki.f("collector.pem"),
            pki.f("collector.key"),
            dir.join("collector-state"),
        ),
    )
    .unwrap();
    cfg
}

/// A fresh folder with a running nats-server, a PKI (CA, collector, sensor
/// s1) and a collector config on a free port; the collector is not started.
struct Stack {
    dir: PathBuf,
    nats: Option<Proc>,
    nats_port: u16,
    pki: Pki,
    port: u16,
    cfg: PathBuf,
}

impl Drop for Stack {
    /// Stops nats-server first (it writes consumer state until it exits),
    /// then removes the folder.
    fn drop(&mut self) {
        drop(self.nats.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn stack(name: &str) -> Stack {
    let dir = tmpdir(name);
    let (nats, nats_port) = start_nats(&dir);
    let pki = make_pki(&dir);
    let port = free_port();
    let cfg = write_collector_config(&dir, &pki, port, nats_port);
    Stack {
        dir,
        nats: Some(nats),
        nats_port,
        pki,
        port,
        cfg,
    }
}

fn start_collector(cfg: &Path) -> Proc {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["collector", "--config"])
        .arg(cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start collector");
    let out = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).unwrap();
    assert!(line.starts_with("listening on "), "collector said {line:?}");
    Proc(child)
}

/// Every message of the stream, as (Nats-Msg-Id, payload).
fn consume_all(nats_port: u16, expect: usize) -> Vec<(String, String)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        use futures_util::StreamExt;
        let client = async_nats::connect(format!("127.0.0.1:{nats_port}"))
            .await
            .unwrap();
        let js = async_nats::jetstream::new(client);
        let mut stream = js.get_stream("VIGIE_ALERTS").await.unwrap();
        let consumer = stream
            .create_consumer(async_nats::jetstream::consumer::pull::Config {
                deliver_policy: async_nats::jetstream::consumer::DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .unwrap();
        let total = stream.info().await.unwrap().state.messages as usize;
        let mut out = Vec::new();
        let mut msgs = consumer.messages().await.unwrap();
        while out.len() < total.max(expect) {
            let m = match tokio::time::timeout(Duration::from_secs(5), msgs.next()).await {
                Ok(Some(Ok(m))) => m,
                _ => break,
            };
            let id = m
                .headers
                .as_ref()
                .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
                .map(|v| v.to_string())
                .unwrap_or_default();
            out.push((id, String::from_utf8_lossy(&m.payload).into_owned()));
            m.ack().await.unwrap();
        }
        out
    })
}

/// `vigie replay` shipping as sensor s1 to the stack's collector, spooling
/// in the stack's folder, writing its EVE copy to `eve`.
fn ship_cmd(s: &Stack, eve: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vigie"));
    c.arg("replay")
        .arg("--eve")
        .arg(s.dir.join(eve))
        .args(["--ship-to", &format!("https://localhost:{}", s.port)])
        .arg("--ship-ca")
        .arg(s.pki.f("ca.pem"))
        .arg("--ship-cert")
        .arg(s.pki.f("s1.pem"))
        .arg("--ship-key")
        .arg(s.pki.f("s1.key"))
        .arg("--spool")
        .arg(s.dir.join("spool"))
        .args(["--sensor-id", "s1", "--quiet"]);
    c
}

/// The bundled captures the shipping tests replay.
fn bundled_pcaps() -> Vec<PathBuf> {
    [
        "heartbleed.pcap",
        "pipelined-requests.pcap",
        "dns-edns-ecs.pcap",
    ]
    .iter()
    .map(|p| root().join("tests/pcaps").join(p))
    .collect()
}

fn replay_cmd(s: &Stack, extra: &[&str]) -> Command {
    let mut c = ship_cmd(s, "eve.json");
    c.arg("--rules")
        .arg(root().join("rules/default/vigie-demo.rules"))
        .args(extra)
        .args(bundled_pcaps());
    c
}

#[test]
fn replay_ships_exactly_the_eve_alerts_to_jetstream() {
    if !nats_available() {
        return;
    }
    let st = stack("e2e");
    let (dir, nats_port, cfg) = (&st.dir, st.nats_port, &st.cfg);
    let _collector = start_collector(cfg);
    let out = replay_cmd(&st, &["--ship-zstd"]).output().unwrap();
    assert!(
        out.status.success(),
        "replay: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut eve = eve_alert_lines(&dir.join("eve.json"));
    assert!(
        eve.len() >= 10,
        "the demo rules give 12 alerts on the bundled captures, got {}",
        eve.len()
    );
    let got = consume_all(nats_port, eve.len());
    let mut payloads: Vec<String> = got.iter().map(|(_, p)| p.clone()).collect();
    eve.sort();
    payloads.sort();
    assert_eq!(payloads, eve);
    let ids: std::collections::HashSet<&str> = got.iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!(ids.len(), eve.len(), "one distinct id per alert");
    assert!(ids.iter().all(|i| i.starts_with("s1-")));
    // The collector's archive holds the same lines.
    assert_eq!(common::archived_lines(&dir.join("collector-state")), eve);

    // A second replay with the same spool gets new ids: twice as many distinct alerts.
    let out = replay_cmd(&st, &[]).output().unwrap();
    assert!(out.status.success());
    let twice = 2 * eve.len();
    let got = consume_all(nats_port, twice);
    let ids: std::collections::HashSet<&str> = got.iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!((got.len(), ids.len()), (twice, twice));
    // status view reads the health the sensor reported.
    let st = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["collector", "--config"])
        .arg(cfg)
        .arg("status")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&st.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("s1 ") && l.contains(&format!(" {twice} "))),
        "{text}"
    );
}

#[test]
fn link_cut_and_collector_sigkill_deliver_every_alert_exactly_once() {
    if !nats_available() {
        return;
    }
    let st = stack("kill");
    let (dir, pki, port, nats_port, cfg) = (&st.dir, &st.pki, st.port, st.nats_port, &st.cfg);

    // The sensor starts while the collector is down: alerts go to the spool.
    let mut sc = vigie_sensor::ship::ShipConfig::new(
        format!("https://localhost:{port}"),
        pki.f("ca.pem"),
        pki.f("s1.pem"),
        pki.f("s1.key"),
        "s1".into(),
        dir.join("spool"),
    );
    sc.batch_alerts = 200;
    sc.batch_wait = Duration::from_millis(5);
    let shipper = vigie_sensor::ship::Shipper::start(sc).unwrap();
    let tee = shipper.tee().unwrap();
    let n = 20_000u64;
    let line = |i: u64| {
        format!(
            "{{\"timestamp\":\"2026-11-26T10:00:00.000000+0000\",\"flow_id\":{i},\"pcap_cnt\":{i},\"event_type\":\"alert\",\"src_ip\":\"10.0.0.1\",\"src_port\":1,\"dest_ip\":\"10.0.0.2\",\"dest_port\":2,\"proto\":\"TCP\",\"alert\":{{\"action\":\"allowed\",\"gid\":1,\"signature_id\":{},\"rev\":1,\"signature\":\"test {i}\",\"category\":\"\",\"severity\":{}}}}}",
            9_000_000 + i % 7,
            i % 3 + 1
        )
    };
    for i in 0..n / 2 {
        tee.offer(line(i).as_bytes());
    }
    // Collector up; once alerts flow, kill it with SIGKILL, keep capturing, restart it.
    let mut collector = start_collector(cfg);
    let t0 = Instant::now();
    while shipper.acked() < 1_000 {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no ack from the collector"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    collector.0.kill().unwrap();
    collector.0.wait().unwrap();
    let acked_before_kill = shipper.acked();
    for i in n / 2..n {
        tee.offer(line(i).as_bytes());
    }
    drop(tee);
    std::thread::sleep(Duration::from_millis(300));
    eprintln!(
        "collector killed after {acked_before_kill} of {} spooled alerts were acked",
        n / 2
    );
    collector = start_collector(cfg);
    let report = shipper.finish(Duration::from_secs(120)).unwrap();
    assert_eq!(report.tee_drops, 0);
    assert_eq!(report.spooled, 0, "{report:?}");
    assert!(report.reconnects >= 1, "{report:?}");
    let got = consume_all(nats_port, n as usize);
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for (id, _) in &got {
        *by_id.entry(id.clone()).or_default() += 1;
    }
    assert_eq!(by_id.len() as u64, n, "every alert arrives");
    assert_eq!(got.len() as u64, n, "none twice");
    drop(collector);
}

#[test]
fn collector_refuses_plaintext_unknown_ca_and_missing_certificate() {
    if !nats_available() {
        return;
    }
    let st = stack("refuse");
    let (dir, pki, port) = (&st.dir, &st.pki, st.port);
    let other = dir.join("other");
    pki::init(&other, "rogue CA").unwrap();
    pki::issue(&other, "s1", false, &[]).unwrap();
    let _collector = start_collector(&st.cfg);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
        use vigie_proto::v1::collector_client::CollectorClient;
        use vigie_proto::v1::Batch;
        let ca = Certificate::from_pem(std::fs::read(pki.f("ca.pem")).unwrap());
        let try_ship = |ep: Endpoint| async move {
            let ch = ep.connect().await.map_err(|e| e.to_string())?;
            let mut c = CollectorClient::new(ch);
            let b = Batch {
                batch_seq: 1,
                ..Default::default()
            };
            let mut acks = c
                .ship(futures_util::stream::iter(vec![b]))
                .await
                .map_err(|e| e.to_string())?
                .into_inner();
            acks.message().await.map_err(|e| e.to_string())
        };
        // Plaintext.
        let ep = Endpoint::from_shared(format!("http://127.0.0.1:{port}")).unwrap();
        assert!(try_ship(ep).await.is_err(), "plaintext accepted");
        // TLS without a client certificate.
        let ep = Endpoint::from_shared(format!("https://localhost:{port}"))
            .unwrap()
            .tls_config(ClientTlsConfig::new().ca_certificate(ca.clone()))
            .unwrap();
        assert!(
            try_ship(ep).await.is_err(),
            "no client certificate accepted"
        );
        // A client certificate from another CA.
        let id = Identity::from_pem(
            std::fs::read(other.join("s1.pem")).unwrap(),
            std::fs::read(other.join("s1.key")).unwrap(),
        );
        let ep = Endpoint::from_shared(format!("https://localhost:{port}"))
            .unwrap()
            .tls_config(
                ClientTlsConfig::new()
                    .ca_certificate(ca.clone())
                    .identity(id),
            )
            .unwrap();
        assert!(try_ship(ep).await.is_err(), "unknown CA accepted");
        // The right certificate works (the refusals above are not a broken server).
        let id = Identity::from_pem(
            std::fs::read(pki.f("s1.pem")).unwrap(),
            std::fs::read(pki.f("s1.key")).unwrap(),
        );
        let ep = Endpoint::from_shared(format!("https://localhost:{port}"))
            .unwrap()
            .tls_config(ClientTlsConfig::new().ca_certificate(ca).identity(id))
            .unwrap();
        let ack = try_ship(ep).await.unwrap().unwrap();
        assert_eq!(ack.batch_seq, 1);
    });
}

#[test]
fn sensor_sigkill_while_spooling_loses_nothing_spooled_and_sends_nothing_twice() {
    if !nats_available() {
        return;
    }
    let st = stack("sensorkill");
    let (dir, nats_port) = (&st.dir, st.nats_port);
    let _collector = start_collector(&st.cfg);
    let rules = dir.join("every-packet.rules");
    std::fs::write(
        &rules,
        "alert ip any any -> any any (msg:\"every packet\"; classtype:misc-activity; sid:9000001; rev:1;)\n",
    )
    .unwrap();
    // The sensor: one alert per packet over the bundled captures read 200
    // times (about 32,000 alerts), each alert fsynced into the spool.
    let mut sensor = ship_cmd(&st, "eve.json");
    sensor
        .arg("--rules")
        .arg(&rules)
        .args(["--spool-fsync", "always"]);
    for _ in 0..200 {
        sensor.args(bundled_pcaps());
    }
    let mut sensor = Proc(sensor.stderr(Stdio::null()).spawn().unwrap());
    // Killed with SIGKILL once the collector has published some of its alerts.
    let t0 = Instant::now();
    while stream_messages(nats_port) < 300 {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no alert reached JetStream"
        );
        assert!(
            sensor.0.try_wait().unwrap().is_none(),
            "the sensor finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    sensor.0.kill().unwrap();
    sensor.0.wait().unwrap();
    let before: Vec<(String, String)> = consume_all(nats_port, 0);

    // What the spool still holds after the crash (its torn tail, if any, cut).
    let mut spool = vigie_sensor::ship::spool::Spool::open(
        vigie_sensor::ship::spool::SpoolConfig::new(dir.join("spool")),
    )
    .unwrap();
    let pending: Vec<String> = spool
        .take_batch(usize::MAX)
        .unwrap()
        .iter()
        .map(|a| format!("s1-{}", a.seq))
        .collect();
    drop(spool);
    eprintln!(
        "sensor killed: {} alerts in JetStream, {} still spooled",
        before.len(),
        pending.len()
    );
    assert!(!pending.is_empty(), "the kill came after the spool drained");

    // Restart: a sensor with the same spool and no rules drains it.
    let out = ship_cmd(&st, "eve2.json")
        .arg(root().join("tests/pcaps/dns-edns-ecs.pcap"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "restart: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let want: std::collections::BTreeSet<String> = before
        .iter()
        .map(|(id, _)| id.clone())
        .chain(pending.iter().cloned())
        .collect();
    let got = consume_all(nats_port, want.len());
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for (id, payload) in &got {
        *by_id.entry(id.clone()).or_default() += 1;
        assert!(payload.contains("\"signature_id\":9000001"), "{payload}");
    }
    let twice: Vec<&String> = by_id
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(i, _)| i)
        .collect();
    assert!(twice.is_empty(), "published twice: {twice:?}");
    let got_ids: std::collections::BTreeSet<String> = by_id.into_keys().collect();
    let lost: Vec<&String> = want.difference(&got_ids).collect();
    assert!(
        lost.is_empty(),
        "{} spooled alerts lost: {lost:?}",
        lost.len()
    );
    assert_eq!(got_ids, want, "nothing but the first sensor's alerts");
}
