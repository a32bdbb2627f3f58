//! Cost of indicator matching in the pipeline with a large synthetic set:
//! replays corpus captures with an empty set and with N IPv4 indicators
//! (1,000,000 in release builds, 100,000 in debug; VIGIE_INTEL_SCALE_N
//! overrides) and prints the difference per flow. Timings are printed, never
//! asserted: `cargo test --release -p vigie-sensor --test intel_scale -- --nocapture`.

mod common;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Instant;

use vigie_rules::intel::{IndicatorSet, IndicatorSetBuilder, IndicatorType, Location, Provenance};
use vigie_sensor::intel::SharedIndicators;
use vigie_sensor::pipeline::{self, EveTypes, ReplayConfig};

fn synthetic_set(n: usize, plant: &[Ipv4Addr]) -> IndicatorSet {
    let mut b = IndicatorSetBuilder::new();
    let prov = Provenance {
        feed: "synthetic",
        event_id: "scale",
        ..Default::default()
    };
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..n {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let a = Ipv4Addr::from((x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32);
        b.add(
            IndicatorType::Ip,
            &a.to_string(),
            &prov,
            "synthetic",
            Location::Index(i as u64),
        );
    }
    for a in plant {
        b.add(
            IndicatorType::Ip,
            &a.to_string(),
            &prov,
            "synthetic",
            Location::Whole,
        );
    }
    b.build().0
}

fn run(files: &[PathBuf], intel: Option<SharedIndicators>) -> (f64, u64, u64) {
    let cfg = ReplayConfig {
        threads: 1,
        eve_types: EveTypes::parse("alert").unwrap(),
        intel,
        ..Default::default()
    };
    let buf = common::SharedBuf::default();
    let t = Instant::now();
    let s = pipeline::replay(
        &cfg,
        files.to_vec(),
        Box::new(buf.clone()),
        Default::default(),
    )
    .unwrap();
    (t.elapsed().as_secs_f64(), s.flows.total, s.alerts)
}

#[test]
fn ip_lookup_cost_per_flow() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let n: usize = std::env::var("VIGIE_INTEL_SCALE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) {
            100_000
        } else {
            1_000_000
        });
    // Captures with many flows from the corpus manifest.
    let mut files: Vec<(u64, PathBuf)> = common::manifest_pcaps(&corpus)
        .into_iter()
        .map(|(p, pk)| (pk, corpus.join(p)))
        .filter(|(pk, p)| *pk > 2000 && *pk < 200_000 && p.exists())
        .collect();
    files.sort();
    let files: Vec<PathBuf> = files.into_iter().rev().take(8).map(|(_, p)| p).collect();
    assert!(!files.is_empty());
    let t0 = Instant::now();
    let set = synthetic_set(n, &[]);
    println!(
        "synthetic set: {} indicators built in {:.2} s",
        set.len(),
        t0.elapsed().as_secs_f64()
    );
    let empty = SharedIndicators::new(IndicatorSet::default());
    let full = SharedIndicators::new(set);
    // Warm the page cache, then alternate to even out noise.
    let _ = run(&files, None);
    let mut base = f64::MAX;
    let mut with = f64::MAX;
    let mut flows = 0;
    for _ in 0..3 {
        let (t, f, _) = run(&files, Some(empty.clone()));
        base = base.min(t);
        flows = f;
        let (t, _, _) = run(&files, Some(full.clone()));
        with = with.min(t);
    }
    let lookups = {
        let s = full.current();
        let t = Instant::now();
        let mut hits = 0u64;
        for i in 0..1_000_000u32 {
            hits += s
                .lookup_ip(Ipv4Addr::from(i.wrapping_mul(2_654_435_761)).into(), 0)
                .count() as u64;
        }
        (t.elapsed().as_secs_f64() * 1e9 / 1e6, hits)
    };
    println!(
        "{} captures, {flows} flows: empty set {base:.3} s, {n} IPv4 indicators {with:.3} s, \
         difference {:.0} ns per flow (2+ lookups per flow); direct lookup_ip {:.0} ns",
        files.len(),
        (with - base).max(0.0) * 1e9 / flows.max(1) as f64,
        lookups.0
    );
    assert!(flows > 0);
}
