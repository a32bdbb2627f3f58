//! DNS, mDNS, LLMNR, TLS and QUIC keywords on suricata-verify captures: each
//! case's own rules over its capture, alert counts per sid as its test.yaml
//! expects. Needs the case folder (`VIGIE_SV_DIR`, default
//! `../shared/suricata-verify` beside the workspace); without it the test is skipped with a
//! reason, unless `VIGIE_EXTERNAL_TESTS=1`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

/// Replays a case's capture with its rules; (alert counts by sid, events).
fn run_case(dir: &Path, pcap: &str) -> (BTreeMap<u64, usize>, Vec<serde_json::Value>) {
    let engine = common::engine(&[dir.join("test.rules")]);
    let (bytes, _) = common::replay_with(vec![dir.join(pcap)], 1, "alert,dns,tls", Some(engine));
    let events = common::events(&bytes);
    (common::alerts_by_sid(&events), events)
}

/// Expected alert count per sid; sids not listed: none.
type Counts = &'static [(u64, usize)];

/// (case, capture, expected alerts).
const CASES: &[(&str, &str, Counts)] = &[
    (
        "dns--dns-additionals-rrname",
        "20250129-dns-with-additionals.pcap",
        &[(1, 2), (2, 1), (3, 1), (4, 1), (5, 1), (6, 1), (7, 1)],
    ),
    (
        "dns--dns-answer-name",
        "dns-udp-request-with-answer.pcap",
        &[(1, 2), (2, 1), (3, 1), (4, 1)],
    ),
    ("dns--dns-ptr", "20250221-dns-ptr.pcap", &[(1, 1)]),
    (
        "dns--dns-response-mx",
        "dns-udp-google.com-a-aaaa-mx.pcap",
        &[(1, 1)],
    ),
    (
        "dns--dns-rrtype-index",
        "input.pcap",
        &[(1, 3), (2, 3), (3, 4)],
    ),
    ("dns-opcode", "dns-notify.pcap", &[(1, 1), (2, 1)]),
    (
        "mdns",
        "frag-9.pcap",
        &[(1, 1), (2, 1), (3, 1), (11, 1), (12, 1), (13, 1)],
    ),
    (
        "llmnr--llmnr-authority-additional",
        "input.pcap",
        &[(1, 1), (2, 1), (3, 1), (4, 2), (5, 1)],
    ),
    (
        "llmnr--llmnr-hostname-match",
        "input.pcap",
        &[(1, 2), (2, 1), (3, 1), (4, 1)],
    ),
    ("tls--tls-subject", "tls.pcap", &[(1, 4), (2, 4)]),
    ("tls--tls-issuerdn", "tls.pcap", &[(1, 4), (2, 4)]),
    (
        "tls--tls-fingerprint-alert",
        "input.pcap",
        &[(1, 1), (2, 1), (3, 1), (4, 1)],
    ),
    ("tls--tls-cert-validity", "tls.pcap", &[(2, 4), (3, 4)]),
    ("tls--tls-glupteba", "input.pcap", &[(1, 1)]),
    (
        "tls--tls-random",
        "input.pcap",
        &[(1, 1), (2, 1), (3, 1), (4, 1), (5, 1), (6, 1)],
    ),
    (
        "streamsize-keyword-03-prefilter-pseudo",
        "input.pcap",
        &[(1234, 1)],
    ),
    ("quic-v2", "input.pcap", &[(4, 2)]),
    ("ja4-rules", "input.pcap", &[(1, 1), (2, 1)]),
    ("dhcp-eve-extended", "input.pcap", &[(1, 1), (2, 1), (3, 1)]),
];

#[test]
fn keyword_cases_alert_as_expected() {
    let Some(tests) = common::sv_tests("dnstls") else {
        return;
    };
    let mut failures = Vec::new();
    for (case, pcap, want) in CASES {
        let dir = tests.join(case);
        let (got, _) = run_case(&dir, pcap);
        let want: BTreeMap<u64, usize> = want.iter().copied().collect();
        if got != want {
            failures.push(format!("{case}: expected {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn mdns_and_llmnr_have_their_own_records() {
    let Some(tests) = common::sv_tests("dnstls") else {
        return;
    };
    let (_, events) = run_case(&tests.join("mdns"), "frag-9.pcap");
    let resp = events
        .iter()
        .find(|e| e["event_type"] == "mdns" && e["mdns"]["type"] == "response")
        .expect("an mdns response record");
    let answers = &resp["mdns"]["answers"];
    assert_eq!(answers[0]["rrname"], "John’s iMac._device-info._tcp.local");
    assert_eq!(
        answers[0]["txt"],
        serde_json::json!(["model=iMac17,1", "osxvers=17"])
    );
    assert_eq!(answers[1]["ptr"], "John’s iMac._companion-link._tcp.local");
    let req = events
        .iter()
        .find(|e| e["event_type"] == "mdns" && e["mdns"]["type"] == "request")
        .expect("an mdns request record");
    assert_eq!(
        req["mdns"]["queries"][2]["rrname"],
        "_apple-pairable._tcp.local"
    );
    assert_eq!(req["mdns"]["queries"][2]["rrtype"], "ptr");
    // Alerts name the protocol and carry its record.
    let alert = events
        .iter()
        .find(|e| e["event_type"] == "alert")
        .expect("an alert");
    assert_eq!(alert["app_proto"], "mdns");
    assert!(alert["mdns"].is_object());

    let (_, events) = run_case(&tests.join("llmnr--llmnr-hostname-match"), "input.pcap");
    let llmnr: Vec<_> = events
        .iter()
        .filter(|e| e["event_type"] == "llmnr")
        .collect();
    assert_eq!(llmnr.len(), 3);
    let resp = llmnr
        .iter()
        .find(|e| e["llmnr"]["type"] == "response")
        .expect("an llmnr response record");
    assert_eq!(resp["llmnr"]["queries"][0]["rrname"], "malicious-c2.local");
    assert_eq!(resp["llmnr"]["answers"][0]["a"], "10.10.10.10");
    assert!(!events.iter().any(|e| e["event_type"] == "dns"));
}
