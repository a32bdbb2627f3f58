//! The parsers do only the work someone consumes: HTTP bodies are hashed
//! when file-hash indicators are loaded or `body_hashes` is set, and kept
//! for detection only when rules are loaded.

mod common;

use std::sync::Arc;

use vigie_rules::intel::misp::MispOptions;
use vigie_sensor::intel::{load_indicators, SharedIndicators};
use vigie_sensor::pipeline::{self, EveTypes, Progress, ReplayConfig};

const BODY_MD5: &str = "b932c3310ce47e158d1a5a42e0b01279";

fn run(cfg: ReplayConfig) -> Vec<serde_json::Value> {
    let buf = common::SharedBuf::default();
    pipeline::replay(
        &cfg,
        vec![common::bundled("pipelined-requests.pcap")],
        Box::new(buf.clone()),
        Arc::new(Progress::default()),
    )
    .expect("replay");
    let bytes = std::mem::take(&mut *buf.0.lock().unwrap());
    common::events(&bytes)
}

fn http_md5s(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["event_type"] == "http")
        .filter_map(|e| e["http"]["response_body_md5"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn bodies_are_hashed_only_when_asked_or_needed() {
    let types = EveTypes::parse("alert,http").unwrap();
    let plain = run(ReplayConfig {
        eve_types: types,
        ..Default::default()
    });
    let http = plain.iter().filter(|e| e["event_type"] == "http").count();
    assert!(http >= 5, "http events: {http}");
    assert!(http_md5s(&plain).is_empty(), "no consumer, no hashes");

    let forced = run(ReplayConfig {
        eve_types: types,
        body_hashes: true,
        ..Default::default()
    });
    let md5s = http_md5s(&forced);
    assert!(md5s.iter().any(|m| m == BODY_MD5), "{md5s:?}");
    let sha1 = forced
        .iter()
        .find(|e| e["http"]["response_body_md5"] == BODY_MD5)
        .and_then(|e| e["http"]["response_body_sha1"].as_str())
        .expect("SHA-1 next to the MD5")
        .to_string();
    assert_eq!(sha1.len(), 40);

    // An MD5 indicator turns hashing on by itself, and matches.
    let dir = std::env::temp_dir().join(format!("vigie-needs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("hashes.csv");
    std::fs::write(&csv, format!("{BODY_MD5},md5\n")).unwrap();
    let (set, report) =
        load_indicators(std::slice::from_ref(&csv), &MispOptions::default()).unwrap();
    assert_eq!(report.loaded(), 1, "{report}");
    let with_intel = run(ReplayConfig {
        eve_types: types,
        intel: Some(SharedIndicators::new(set)),
        ..Default::default()
    });
    let hits: Vec<_> = with_intel
        .iter()
        .filter(|e| e["event_type"] == "alert")
        .filter(|e| e["alert"]["source"]["value"] == BODY_MD5)
        .collect();
    assert_eq!(hits.len(), 1, "one alert for the body's MD5");

    // So does a SHA-1 indicator alone.
    std::fs::write(&csv, format!("{sha1},sha1\n")).unwrap();
    let (set, report) = load_indicators(&[csv], &MispOptions::default()).unwrap();
    assert_eq!(report.loaded(), 1, "{report}");
    let with_sha1 = run(ReplayConfig {
        eve_types: types,
        intel: Some(SharedIndicators::new(set)),
        ..Default::default()
    });
    let hits = with_sha1
        .iter()
        .filter(|e| e["event_type"] == "alert")
        .filter(|e| e["alert"]["source"]["value"] == sha1.as_str())
        .count();
    assert_eq!(hits, 1, "one alert for the body's SHA-1");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn decode_only_counts_every_packet_and_tracks_no_flow() {
    let cfg = ReplayConfig {
        eve_types: EveTypes::parse("alert,flow,http,stats").unwrap(),
        decode_only: true,
        ..Default::default()
    };
    let full = ReplayConfig {
        eve_types: EveTypes::parse("alert,flow,http,stats").unwrap(),
        ..Default::default()
    };
    let count = |cfg: &ReplayConfig| {
        let buf = common::SharedBuf::default();
        let s = pipeline::replay(
            cfg,
            vec![common::bundled("pipelined-requests.pcap")],
            Box::new(buf.clone()),
            Arc::new(Progress::default()),
        )
        .expect("replay");
        let bytes = std::mem::take(&mut *buf.0.lock().unwrap());
        (s.packets, common::events(&bytes))
    };
    let (n_decode, ev_decode) = count(&cfg);
    let (n_full, ev_full) = count(&full);
    assert_eq!(n_decode, n_full);
    assert!(n_decode > 0);
    assert!(ev_full.iter().any(|e| e["event_type"] == "flow"));
    assert!(!ev_decode
        .iter()
        .any(|e| e["event_type"] == "flow" || e["event_type"] == "http"));
}
