//! Shipping throughput on loopback: sensor shipper → collector → JetStream.
//! Throughput runs have nothing else on the two cores: the sensor connects
//! straight to the collector and the stream's message count is read at the
//! end. Observed runs add a counting TCP relay (bytes per alert on the wire)
//! and a subscriber timing each alert from offer to JetStream publish.
//! Ignored by default (it is a measurement, not a check); run with
//! `cargo test -p vigie-sensor --release --test ship_bench -- --ignored --nocapture`.

mod common;

use common::{free_port, stream_messages};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Ships `n` alerts, offered as fast as the shipper takes them or, with
/// `pace`, at that many alerts per second; `observe` adds the relay and the
/// latency subscriber.
fn run(zstd: bool, n: u64, pace: Option<u64>, observe: bool) {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("vigie-ship-bench-{zstd}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let nats_port = free_port();
    let mut nats = Command::new("nats-server")
        .args([
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            &nats_port.to_string(),
            "-sd",
        ])
        .arg(dir.join("js"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server on PATH");
    while std::net::TcpStream::connect(("127.0.0.1", nats_port)).is_err() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let pki = dir.join("pki");
    vigie_collector::pki::init(&pki, "bench CA").unwrap();
    vigie_collector::pki::issue(&pki, "collector", true, &["localhost".into()]).unwrap();
    vigie_collector::pki::issue(&pki, "s1", false, &[]).unwrap();
    let cfg = vigie_collector::CollectorConfig {
        listen: "127.0.0.1:0".into(),
        ca: pki.join("ca.pem"),
        cert: pki.join("collector.pem"),
        key: pki.join("collector.key"),
        state_dir: dir.join("state"),
        nats_url: Some(format!("nats://127.0.0.1:{nats_port}")),
        dedup_window: 1_000_000,
        archive_file_bytes: 256 << 20,
        archive_files: 8,
    };
    let wire = Arc::new(AtomicU64::new(0));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let wire2 = wire.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (ctx, crx) = tokio::sync::oneshot::channel();
            tokio::spawn(vigie_collector::serve(
                cfg,
                move |a| {
                    let _ = ctx.send(a);
                },
                std::future::pending(),
            ));
            let collector = crx.await.unwrap();
            if !observe {
                addr_tx.send(collector).unwrap();
                return std::future::pending::<()>().await;
            }
            // Counting relay: every byte both ways between sensor and collector.
            let relay = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(relay.local_addr().unwrap()).unwrap();
            loop {
                let (mut a, _) = relay.accept().await.unwrap();
                let wire = wire2.clone();
                tokio::spawn(async move {
                    let mut b = tokio::net::TcpStream::connect(collector).await.unwrap();
                    if let Ok((x, y)) = tokio::io::copy_bidirectional(&mut a, &mut b).await {
                        wire.fetch_add(x + y, Ordering::Relaxed);
                    }
                });
            }
        })
    });
    let relay = addr_rx.recv().unwrap();
    // Alert -> JetStream latency: a subscriber on the stream's subjects notes
    // when each alert (found by its pcap_cnt) was published, against when it
    // was offered to the shipper.
    let t0 = Instant::now();
    let offered: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let offered2 = offered.clone();
    let subscriber = observe.then(|| {
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                use futures_util::StreamExt;
                let client = async_nats::connect(format!("127.0.0.1:{nats_port}"))
                    .await
                    .unwrap();
                let mut sub = client.subscribe("vigie.alerts.>").await.unwrap();
                client.flush().await.unwrap();
                ready_tx.send(()).unwrap();
                let mut lat_us = Vec::with_capacity(n as usize);
                while (lat_us.len() as u64) < n {
                    let Ok(Some(m)) =
                        tokio::time::timeout(Duration::from_secs(60), sub.next()).await
                    else {
                        break;
                    };
                    let now = t0.elapsed().as_nanos() as u64;
                    let text = String::from_utf8_lossy(&m.payload);
                    let Some(i) = text
                        .split("\"pcap_cnt\":")
                        .nth(1)
                        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
                        .and_then(|d| d.parse::<usize>().ok())
                    else {
                        continue;
                    };
                    let sent = offered2[i].load(Ordering::Relaxed);
                    lat_us.push(now.saturating_sub(sent) / 1000);
                }
                lat_us
            })
        })
    });
    if observe {
        ready_rx.recv().unwrap();
    }
    let mut sc = vigie_sensor::ship::ShipConfig::new(
        format!("https://localhost:{}", relay.port()),
        pki.join("ca.pem"),
        pki.join("s1.pem"),
        pki.join("s1.key"),
        "s1".into(),
        dir.join("spool"),
    );
    sc.zstd = zstd;
    sc.batch_alerts = 2000;
    sc.window = 8;
    let started = Instant::now();
    let shipper = vigie_sensor::ship::Shipper::start(sc).unwrap();
    let tee = shipper.tee().unwrap();
    for i in 0..n {
        let l = format!(
            "{{\"timestamp\":\"2026-11-26T10:00:00.{:06}+0000\",\"flow_id\":{},\"pcap_cnt\":{i},\"event_type\":\"alert\",\"src_ip\":\"10.0.{}.{}\",\"src_port\":{},\"dest_ip\":\"192.0.2.10\",\"dest_port\":443,\"proto\":\"TCP\",\"community_id\":\"1:abcdefghijklmnopqrstuvwxyz0=\",\"alert\":{{\"action\":\"allowed\",\"gid\":1,\"signature_id\":{},\"rev\":1,\"signature\":\"ET POLICY example signature {}\",\"category\":\"Potentially Bad Traffic\",\"severity\":2,\"metadata\":{{\"signature_severity\":[\"Major\"]}}}}}}",
            i % 1_000_000,
            1_000_000_007u64.wrapping_mul(i + 1) % 9_007_199_254_740_991,
            i / 256 % 256,
            i % 256,
            1024 + i % 50_000,
            2_000_000 + i % 100,
            i % 100
        );
        if let Some(rate) = pace {
            let due = started + Duration::from_nanos(i * 1_000_000_000 / rate);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        // Backpressure for the bench only: keep the tee from overflowing.
        while tee.queued() > 60_000 {
            std::thread::sleep(Duration::from_micros(200));
        }
        offered[i as usize].store(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
        tee.offer(l.as_bytes());
    }
    drop(tee);
    let r = shipper.finish(Duration::from_secs(600)).unwrap();
    let secs = started.elapsed().as_secs_f64();
    let mut lat = match subscriber {
        Some(s) => s.join().unwrap(),
        None => Vec::new(),
    };
    lat.sort_unstable();
    let q = |f: f64| lat.get(((lat.len() as f64 * f) as usize).min(lat.len().saturating_sub(1)));
    // The relay adds a connection's bytes when it closes.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(r.acked, n, "{r:?}");
    if observe {
        assert_eq!(
            lat.len() as u64,
            n,
            "every alert seen on the stream's subjects"
        );
    } else {
        assert_eq!(stream_messages(nats_port), n, "every alert in the stream");
    }
    let offered_at = match pace {
        Some(r) => format!("offered at {r}/s"),
        None => "offered at once".to_string(),
    };
    let observed = if observe {
        format!(
            "; {:.1} wire bytes/alert (TLS, both directions); alert->JetStream latency p50 {} us, p99 {} us, max {} us",
            wire.load(Ordering::Relaxed) as f64 / n as f64,
            q(0.5).unwrap_or(&0),
            q(0.99).unwrap_or(&0),
            lat.last().unwrap_or(&0)
        )
    } else {
        " (no relay, no subscriber)".to_string()
    };
    println!(
        "zstd={zstd}, {offered_at}: {n} alerts in {secs:.2} s = {:.0} alerts/s sensor->collector->JetStream (fsync per batch){observed}",
        n as f64 / secs,
    );
    let _ = nats.kill();
    let _ = nats.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore]
fn shipping_throughput_and_wire_bytes() {
    let n = std::env::var("VIGIE_BENCH_ALERTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    // Throughput: everything offered at once, nothing else running.
    run(false, n, None, false);
    run(true, n, None, false);
    // Latency under a steady load below capacity (a burst measures queueing).
    let rate = std::env::var("VIGIE_BENCH_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    run(false, rate * 3, Some(rate), true);
    run(true, rate * 3, Some(rate), true);
}
