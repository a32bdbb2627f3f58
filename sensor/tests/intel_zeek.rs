//! vigie's indicator hits against Zeek's intel framework on the Zeek btest
//! cases in the corpus (expected/zeek/policy-frameworks-intel-*): the same
//! trace and intel.dat, compared with Zeek's intel.log.
//!
//! Zeek logs every sighting; vigie alerts once per indicator per flow, so both
//! sides are reduced to the set of (connection endpoints, indicator). Zeek
//! sightings vigie cannot make (file names, SMTP addresses: no file analysis or
//! SMTP parser) are listed and excluded.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use vigie_rules::intel::misp::MispOptions;
use vigie_sensor::intel::{load_indicators, SharedIndicators};
use vigie_sensor::pipeline::{self, EveTypes, Progress, ReplayConfig};

/// ((lower endpoint, higher endpoint), indicator).
type Sighting = ((String, String), String);

fn pair(a: String, b: String) -> (String, String) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// Where-locations vigie looks at (see sensor/src/intel/mod.rs).
fn vigie_can_see(where_: &str) -> bool {
    matches!(
        where_,
        "Conn::IN_ORIG"
            | "Conn::IN_RESP"
            | "DNS::IN_REQUEST"
            | "DNS::IN_RESPONSE"
            | "HTTP::IN_HOST_HEADER"
            | "HTTP::IN_URL"
            | "SSL::IN_SERVER_NAME"
            | "X509::IN_CERT"
    )
}

/// Zeek's sightings from intel.log: (seen by vigie's locations, not).
fn zeek_sightings(log: &Path) -> (BTreeSet<Sighting>, BTreeSet<String>) {
    let text = std::fs::read_to_string(log).expect("intel.log");
    let mut fields: Vec<String> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut unsupported = BTreeSet::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("#fields\t") {
            fields = f.split('\t').map(str::to_string).collect();
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let col = |name: &str| {
            fields
                .iter()
                .position(|f| f == name)
                .and_then(|i| cols.get(i).copied())
                .unwrap_or("-")
        };
        let indicator = col("seen.indicator").to_ascii_lowercase();
        let where_ = col("seen.where");
        let p = pair(
            format!("{}:{}", col("id.orig_h"), col("id.orig_p")),
            format!("{}:{}", col("id.resp_h"), col("id.resp_p")),
        );
        if vigie_can_see(where_) {
            seen.insert((p, indicator));
        } else {
            unsupported.insert(format!("{indicator} in {where_}"));
        }
    }
    (seen, unsupported)
}

/// vigie's indicator alerts for `pcaps` with the indicators of `intel`.
fn vigie_sightings(
    pcaps: &[PathBuf],
    intel: &[PathBuf],
    threads: usize,
) -> (BTreeSet<Sighting>, Vec<u8>) {
    let (set, report) = load_indicators(intel, &MispOptions::default()).expect("intel loads");
    // Cases whose intel.dat holds only types vigie does not match (file
    // names) load nothing; their Zeek sightings are all "not comparable".
    assert_eq!(report.rejected_total(), 0, "{report}");
    let cfg = ReplayConfig {
        threads,
        eve_types: EveTypes::parse("alert").unwrap(),
        intel: Some(SharedIndicators::new(set)),
        ..Default::default()
    };
    let mut all = BTreeSet::new();
    let mut raw = Vec::new();
    // One replay per trace, like Zeek's one run per trace.
    for pcap in pcaps {
        let buf = common::SharedBuf::default();
        pipeline::replay(
            &cfg,
            vec![pcap.clone()],
            Box::new(buf.clone()),
            Default::default(),
        )
        .expect("replay");
        let bytes = std::mem::take(&mut *buf.0.lock().unwrap());
        for ev in common::events(&bytes) {
            let src = ev.get("alert").and_then(|a| a.get("source"));
            let Some(src) = src else { continue };
            let p = pair(
                format!("{}:{}", ev["src_ip"].as_str().unwrap(), ev["src_port"]),
                format!("{}:{}", ev["dest_ip"].as_str().unwrap(), ev["dest_port"]),
            );
            all.insert((p, src["value"].as_str().unwrap().to_string()));
        }
        raw.extend_from_slice(&bytes);
    }
    let _ = Progress::default();
    (all, raw)
}

struct Case {
    dir: &'static str,
    pcaps: &'static [&'static str],
    intel: &'static [&'static str],
    log: &'static str,
}

const CASES: &[Case] = &[
    Case {
        dir: "policy-frameworks-intel-seen-certs",
        pcaps: &["ecdsa-cert.pcap", "ssl.v3.pcap"],
        intel: &["intel.dat"],
        log: "intel-all.log",
    },
    Case {
        dir: "policy-frameworks-intel-whitelisting",
        pcaps: &["wikipedia.pcap"],
        intel: &["intel.dat", "whitelist.dat"],
        log: "intel.log",
    },
    Case {
        dir: "policy-frameworks-intel-seen-filename-in-http-get-response",
        pcaps: &["http-filename.pcap"],
        intel: &["intel.dat"],
        log: "intel.log",
    },
    Case {
        dir: "policy-frameworks-intel-seen-filename-in-http-post",
        pcaps: &["putty-upload.pcap"],
        intel: &["intel.dat"],
        log: "intel.log",
    },
    Case {
        dir: "policy-frameworks-intel-seen-smb",
        pcaps: &["smb2readwrite.pcap"],
        intel: &["intel.dat"],
        log: "intel.log",
    },
    Case {
        dir: "policy-frameworks-intel-seen-smtp",
        pcaps: &["smtp-multi-addr.pcap"],
        intel: &["intel.dat"],
        log: "intel.log",
    },
];

#[test]
fn zeek_intel_cases_agree() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let mut total_zeek = 0;
    for case in CASES {
        let dir = corpus.join("expected/zeek").join(case.dir);
        let pcaps: Vec<PathBuf> = case.pcaps.iter().map(|p| dir.join(p)).collect();
        let intel: Vec<PathBuf> = case.intel.iter().map(|p| dir.join(p)).collect();
        let (zeek, unsupported) = zeek_sightings(&dir.join(case.log));
        let (vigie, raw) = vigie_sightings(&pcaps, &intel, 1);
        println!("== {}", case.dir);
        println!("  zeek sightings vigie can make: {}", zeek.len());
        for u in &unsupported {
            println!("  not comparable (vigie does not look there): {u}");
        }
        for s in zeek.difference(&vigie) {
            println!("  MISSED by vigie: {s:?}");
        }
        for s in vigie.difference(&zeek) {
            println!("  only vigie: {s:?}");
        }
        // vigie finds every sighting Zeek makes at the places both look, and
        // nothing else on these traces.
        assert_eq!(vigie, zeek, "{}", case.dir);
        total_zeek += zeek.len();
        // Same alerts with more workers, same bytes.
        let (_, raw4) = vigie_sightings(&pcaps, &intel, 3);
        assert_eq!(
            raw, raw4,
            "{}: output depends on the thread count",
            case.dir
        );
    }
    assert!(total_zeek >= 10, "the cases hold comparable sightings");
}

#[test]
fn alert_shape() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let dir = corpus.join("expected/zeek/policy-frameworks-intel-whitelisting");
    let (_, raw) = vigie_sightings(
        &[dir.join("wikipedia.pcap")],
        &[dir.join("intel.dat"), dir.join("whitelist.dat")],
        1,
    );
    let evs = common::events(&raw);
    assert!(!evs.is_empty());
    let mut saw_dns = false;
    let mut saw_http = false;
    for ev in &evs {
        let a = &ev["alert"];
        assert_eq!(a["gid"], 1);
        assert_eq!(a["signature_id"], vigie_rules::intel::feed_sid("source1"));
        assert_eq!(a["severity"], 2);
        assert_eq!(a["source"]["type"], "domain");
        assert_eq!(a["source"]["value"], "upload.wikimedia.org");
        assert_eq!(a["source"]["feed"], "source1");
        assert_eq!(a["source"]["tags"][0], "somehow bad");
        assert!(a["signature"]
            .as_str()
            .unwrap()
            .starts_with("VIGIE INTEL domain upload.wikimedia.org"));
        // meta.wikimedia.org is whitelisted by whitelist.dat.
        assert_ne!(a["source"]["value"], "meta.wikimedia.org");
        saw_dns |= ev.get("dns").is_some() && ev["app_proto"] == "dns";
        saw_http |= ev.get("http").is_some() && ev["app_proto"] == "http";
    }
    assert!(saw_dns && saw_http, "alerts carry their app objects");
}
