//! Indicator hot reload during a replay: a new set stored mid-capture loses
//! no packet, every flow still alerts exactly once, alerts switch from the
//! old set to the new one at a batch boundary, and the old set's memory is
//! released once the workers have moved on.
//!
//! The capture is crafted with pnet's packet builders: 2,000 UDP flows to
//! distinct servers, one packet each.

mod common;

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use pnet_packet::ethernet::{EtherTypes, MutableEthernetPacket};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv4::{self, MutableIpv4Packet};
use pnet_packet::udp::MutableUdpPacket;
use vigie_rules::intel::{IndicatorSet, IndicatorSetBuilder, IndicatorType, Location, Provenance};
use vigie_sensor::capture::file::FileSource;
use vigie_sensor::capture::{PacketSource, RawBatch};
use vigie_sensor::intel::SharedIndicators;
use vigie_sensor::pipeline::{self, EveTypes, Progress, ReplayConfig};

const FLOWS: u32 = 2_000;
const SWAP_AT: u64 = 1_000;

fn server(i: u32) -> Ipv4Addr {
    Ipv4Addr::new(10, 9, (i / 250) as u8, (i % 250 + 1) as u8)
}

fn frame(i: u32) -> Vec<u8> {
    let payload = b"vigie reload test";
    let mut buf = vec![0u8; 14 + 20 + 8 + payload.len()];
    {
        let mut eth = MutableEthernetPacket::new(&mut buf).unwrap();
        eth.set_destination([2, 0, 0, 0, 0, 2].into());
        eth.set_source([2, 0, 0, 0, 0, 1].into());
        eth.set_ethertype(EtherTypes::Ipv4);
    }
    {
        let mut ip = MutableIpv4Packet::new(&mut buf[14..]).unwrap();
        ip.set_version(4);
        ip.set_header_length(5);
        ip.set_total_length((20 + 8 + payload.len()) as u16);
        ip.set_ttl(64);
        ip.set_next_level_protocol(IpNextHeaderProtocols::Udp);
        ip.set_source(Ipv4Addr::new(192, 168, 7, 7));
        ip.set_destination(server(i));
        let c = ipv4::checksum(&ip.to_immutable());
        ip.set_checksum(c);
    }
    {
        let mut udp = MutableUdpPacket::new(&mut buf[34..]).unwrap();
        udp.set_source(40_000 + (i % 20_000) as u16);
        udp.set_destination(5_000);
        udp.set_length((8 + payload.len()) as u16);
        udp.set_payload(payload);
    }
    buf
}

/// Writes a classic pcap (Ethernet, microseconds) with one frame per flow.
fn write_pcap(path: &std::path::Path) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0u8; 8]);
    out.extend_from_slice(&65_535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for i in 0..FLOWS {
        let f = frame(i);
        out.extend_from_slice(&(1_790_000_000 + i / 1000).to_le_bytes());
        out.extend_from_slice(&((i % 1000) * 1000).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&f);
    }
    std::fs::write(path, out).unwrap();
}

fn set_for(feed: &'static str) -> IndicatorSet {
    let mut b = IndicatorSetBuilder::new();
    let prov = Provenance {
        feed,
        ..Default::default()
    };
    for i in 0..FLOWS {
        assert!(b.add(
            IndicatorType::Ip,
            &server(i).to_string(),
            &prov,
            feed,
            Location::Whole
        ));
    }
    b.build().0
}

/// Reads the capture; once `SWAP_AT` packets were handed out and the workers
/// have raised some alerts with the old set, stores the new set. At the end
/// it waits (bounded) for the old set to be freed and records whether it was.
struct SwappingSource {
    inner: FileSource,
    shared: SharedIndicators,
    next: Option<IndicatorSet>,
    old: Weak<IndicatorSet>,
    progress: Arc<Progress>,
    released: Arc<AtomicBool>,
}

impl PacketSource for SwappingSource {
    fn fill(&mut self, batch: &mut RawBatch, max_pkts: usize, max_bytes: usize) -> bool {
        let more = self.inner.fill(batch, max_pkts.min(100), max_bytes);
        if self.next.is_some() && self.inner.packets() >= SWAP_AT {
            let t0 = Instant::now();
            while self.progress.alerts.load(Ordering::Relaxed) < 300
                && t0.elapsed() < Duration::from_secs(60)
            {
                std::thread::sleep(Duration::from_millis(1));
            }
            self.shared.store(self.next.take().unwrap());
        }
        if !more {
            let t0 = Instant::now();
            while self.old.strong_count() > 0 && t0.elapsed() < Duration::from_secs(60) {
                std::thread::sleep(Duration::from_millis(1));
            }
            self.released
                .store(self.old.strong_count() == 0, Ordering::SeqCst);
        }
        more
    }
    fn packets(&self) -> u64 {
        self.inner.packets()
    }
    fn bytes(&self) -> u64 {
        self.inner.bytes()
    }
    fn errors(&self) -> Vec<String> {
        self.inner.errors()
    }
}

fn run(threads: usize, pcap: &std::path::Path) -> (u64, Vec<(u64, String)>, bool) {
    let shared = SharedIndicators::new(set_for("old-set"));
    let old = Arc::downgrade(&shared.current());
    let progress = Arc::new(Progress::default());
    let released = Arc::new(AtomicBool::new(false));
    let source = SwappingSource {
        inner: FileSource::new(vec![pcap.to_path_buf()]),
        shared: shared.clone(),
        next: Some(set_for("new-set")),
        old,
        progress: progress.clone(),
        released: released.clone(),
    };
    let cfg = ReplayConfig {
        threads,
        batch_packets: 64,
        eve_types: EveTypes::parse("alert").unwrap(),
        intel: Some(shared),
        ..Default::default()
    };
    let buf = common::SharedBuf::default();
    let summary = pipeline::run(
        &cfg,
        Box::new(source),
        Box::new(buf.clone()),
        progress.clone(),
    )
    .expect("run");
    // The live counters (metrics, periodic stats) end where the summary does.
    let live = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::SeqCst);
    assert_eq!(live(&progress.alerts), summary.alerts);
    assert_eq!(
        live(&progress.intel_alerts),
        summary.alerts,
        "all indicator alerts"
    );
    assert_eq!(live(&progress.flows), summary.flows.total);
    assert_eq!(live(&progress.flows_active), 0, "every flow ended");
    assert_eq!(live(&progress.anomalies), summary.decode.anomalies());
    let bytes = std::mem::take(&mut *buf.0.lock().unwrap());
    let alerts: Vec<(u64, String)> = common::events(&bytes)
        .into_iter()
        .filter(|e| e["event_type"] == "alert")
        .map(|e| {
            (
                e["pcap_cnt"].as_u64().unwrap(),
                e["alert"]["source"]["feed"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (summary.packets, alerts, released.load(Ordering::SeqCst))
}

#[test]
fn indicator_swap_mid_replay_loses_nothing_and_frees_the_old_set() {
    let dir = std::env::temp_dir().join(format!("vigie-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("flows.pcap");
    write_pcap(&pcap);
    for threads in [1, 2] {
        let (packets, alerts, released) = run(threads, &pcap);
        assert_eq!(packets, u64::from(FLOWS), "threads {threads}: packets lost");
        // One alert per flow, whichever set matched it.
        let mut pkts: Vec<u64> = alerts.iter().map(|a| a.0).collect();
        pkts.sort_unstable();
        pkts.dedup();
        assert_eq!(pkts.len(), FLOWS as usize, "threads {threads}");
        assert_eq!(alerts.len(), FLOWS as usize, "threads {threads}");
        let old: Vec<u64> = alerts
            .iter()
            .filter(|a| a.1 == "old-set")
            .map(|a| a.0)
            .collect();
        let new: Vec<u64> = alerts
            .iter()
            .filter(|a| a.1 == "new-set")
            .map(|a| a.0)
            .collect();
        assert!(!old.is_empty() && !new.is_empty(), "threads {threads}");
        // No packet read after the swap is matched with the old set.
        assert!(
            old.iter().all(|&p| p <= SWAP_AT + 100),
            "threads {threads}: old set used after the swap: {:?}",
            old.iter().max()
        );
        if threads == 1 {
            // One worker switches once, at a batch boundary.
            let last_old = *old.iter().max().unwrap();
            assert!(
                new.iter().all(|&p| p > last_old),
                "threads 1: sets interleave"
            );
        }
        assert!(released, "threads {threads}: the old set was never freed");
        println!(
            "threads {threads}: {} alerts from the old set, {} from the new one, old set freed",
            old.len(),
            new.len()
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Reads the capture; once `SWAP_AT` packets were handed out (and the old
/// set has raised some alerts), replaces the indicator file by a completely
/// new one and reloads it through the hub sync, which swaps the set part by
/// part. Records how many packets had been read when the reload ended.
struct StagedSource {
    inner: FileSource,
    sync: Option<vigie_sensor::hub::HubSync>,
    file: std::path::PathBuf,
    new_text: String,
    progress: Arc<Progress>,
    done_at: Arc<std::sync::atomic::AtomicU64>,
    staged: Arc<AtomicBool>,
}

impl PacketSource for StagedSource {
    fn fill(&mut self, batch: &mut RawBatch, max_pkts: usize, max_bytes: usize) -> bool {
        let more = self.inner.fill(batch, max_pkts.min(100), max_bytes);
        if self.inner.packets() >= SWAP_AT {
            if let Some(mut sync) = self.sync.take() {
                let t0 = Instant::now();
                while self.progress.alerts.load(Ordering::Relaxed) < 200
                    && t0.elapsed() < Duration::from_secs(60)
                {
                    std::thread::sleep(Duration::from_millis(1));
                }
                std::fs::write(&self.file, &self.new_text).unwrap();
                sync.reload_files().expect("reload");
                self.staged
                    .store(sync.last_build().unwrap().staged, Ordering::SeqCst);
                self.done_at.store(self.inner.packets(), Ordering::SeqCst);
            }
        }
        more
    }
    fn packets(&self) -> u64 {
        self.inner.packets()
    }
    fn bytes(&self) -> u64 {
        self.inner.bytes()
    }
    fn errors(&self) -> Vec<String> {
        self.inner.errors()
    }
}

/// A CSV indicator list: the servers of the flows `i` with `i % 2 == odd`,
/// and as many domains (not seen in the traffic) named after `salt`.
fn csv_list(odd: u32, salt: &str) -> String {
    let mut out = String::new();
    for i in (0..FLOWS).filter(|i| i % 2 == odd) {
        out.push_str(&format!("{},ip\n{salt}{i}.example.org,domain\n", server(i)));
    }
    out
}

/// A reload that replaces the whole set (every indicator new) is swapped
/// part by part while the replay runs: no packet is lost, every flow
/// alerts at most once, and every flow read after the reload ended alerts
/// exactly when the new set lists its server, with the new set's
/// indicators only.
#[test]
fn staged_reload_mid_replay_loses_nothing_and_ends_with_the_new_set() {
    use vigie_rules::intel::misp::MispOptions;
    use vigie_rules::intel::SetPart;
    use vigie_sensor::hub::{HubClient, HubSync};
    let dir = std::env::temp_dir().join(format!("vigie-staged-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("flows.pcap");
    write_pcap(&pcap);
    for threads in [1, 2] {
        let file = dir.join("intel.csv");
        std::fs::write(&file, csv_list(0, "old")).unwrap();
        let shared = SharedIndicators::new(IndicatorSet::default());
        let mut sync = HubSync::new(
            shared.clone(),
            HubClient::default(),
            Duration::from_secs(60),
        )
        .with_files(vec![file.clone()], MispOptions::default());
        sync.reload_files().expect("first load");
        assert_eq!(shared.current().len(), FLOWS as usize);
        let progress = Arc::new(Progress::default());
        let done_at = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let staged = Arc::new(AtomicBool::new(false));
        let source = StagedSource {
            inner: FileSource::new(vec![pcap.clone()]),
            sync: Some(sync),
            file,
            new_text: csv_list(1, "new"),
            progress: progress.clone(),
            done_at: done_at.clone(),
            staged: staged.clone(),
        };
        let cfg = ReplayConfig {
            threads,
            batch_packets: 64,
            eve_types: EveTypes::parse("alert").unwrap(),
            intel: Some(shared.clone()),
            ..Default::default()
        };
        let buf = common::SharedBuf::default();
        let summary = pipeline::run(
            &cfg,
            Box::new(source),
            Box::new(buf.clone()),
            progress.clone(),
        )
        .expect("run");
        assert_eq!(
            summary.packets,
            u64::from(FLOWS),
            "threads {threads}: packets lost"
        );
        assert!(
            staged.load(Ordering::SeqCst),
            "threads {threads}: reload not staged"
        );
        let done = done_at.load(Ordering::SeqCst);
        assert!(
            done >= SWAP_AT && done < u64::from(FLOWS),
            "threads {threads}: {done}"
        );
        let bytes = std::mem::take(&mut *buf.0.lock().unwrap());
        let alerts: Vec<(u64, String)> = common::events(&bytes)
            .into_iter()
            .filter(|e| e["event_type"] == "alert")
            .map(|e| {
                (
                    e["pcap_cnt"].as_u64().unwrap(),
                    e["dest_ip"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let mut pkts: Vec<u64> = alerts.iter().map(|a| a.0).collect();
        pkts.sort_unstable();
        pkts.dedup();
        assert_eq!(
            pkts.len(),
            alerts.len(),
            "threads {threads}: a flow alerted twice"
        );
        // Flow i is packet i + 1; its server is listed by the old set when
        // i is even, by the new one when odd.
        for (pkt, dst) in &alerts {
            assert_eq!(dst, &server((*pkt - 1) as u32).to_string());
        }
        let old: Vec<u64> = pkts.iter().copied().filter(|p| (p - 1) % 2 == 0).collect();
        assert!(
            !old.is_empty(),
            "threads {threads}: the old set never matched"
        );
        // Read after the reload ended: exactly the new set's alerts.
        let after: Vec<u64> = pkts.iter().copied().filter(|&p| p > done).collect();
        let want: Vec<u64> = (done + 1..=u64::from(FLOWS))
            .filter(|p| (p - 1) % 2 == 1)
            .collect();
        assert_eq!(after, want, "threads {threads}: alerts after the reload");
        // Every part that changed is of the new generation, none mixed.
        assert!(!shared.mixed());
        assert!(shared.mixed_publications() >= 1);
        assert_eq!(shared.staged_reloads(), 1);
        for p in [SetPart::Ipv4, SetPart::Domain] {
            assert_eq!(shared.part_generation(p), 3, "threads {threads}: {p:?}");
        }
        let set = shared.current();
        assert_eq!(set.len(), FLOWS as usize);
        assert!(set.lookup_domain(b"new1.example.org", 0).next().is_some());
        assert!(set.lookup_domain(b"old0.example.org", 0).next().is_none());
        println!(
            "threads {threads}: {} alerts from the old set, {} from the new one, reload ended after packet {done}",
            old.len(),
            pkts.len() - old.len()
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
