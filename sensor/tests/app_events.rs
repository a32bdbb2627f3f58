//! `app-layer-event` and `stream-event` rules on suricata-verify captures:
//! each case's expected alert counts (one alert per event and transaction),
//! and the load-time rejection of events vigie never raises. Needs the case
//! folder (`VIGIE_SV_DIR`, default `../shared/suricata-verify` beside the workspace); without
//! it the test is skipped with a reason, unless `VIGIE_EXTERNAL_TESTS=1`.

mod common;

use std::path::Path;
use std::process::Command;

/// Replays `case` with its rules: (sid, pcap_cnt) of every alert.
fn alerts(dir: &Path, case: &str) -> Vec<(u64, u64)> {
    let d = dir.join(case);
    let pcap = std::fs::read_dir(&d)
        .expect("case dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "pcap"))
        .expect("case pcap");
    let eve = std::env::temp_dir().join(format!(
        "vigie-app-events-{}-{case}.json",
        std::process::id()
    ));
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["replay", "--quiet", "--rules"])
        .arg(d.join("test.rules"))
        .arg("--eve")
        .arg(&eve)
        .arg(&pcap)
        .output()
        .expect("run vigie");
    assert!(
        out.status.success(),
        "{case}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&eve).expect("eve");
    let _ = std::fs::remove_file(&eve);
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event_type"] == "alert")
        .map(|v| {
            (
                v["alert"]["signature_id"].as_u64().unwrap_or(0),
                v["pcap_cnt"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn count(a: &[(u64, u64)], sid: u64) -> usize {
    a.iter().filter(|(s, _)| *s == sid).count()
}

#[test]
fn event_rules_alert_once_per_event_on_reference_captures() {
    let Some(dir) = common::sv_tests("app_events") else {
        return;
    };
    // (case, sid, alerts expected by the case's test.yaml)
    for (case, sid, n) in [
        ("http-event-chunk", 2221054, 1),
        ("http-multiple-cl", 2221034, 1),
        ("http-auth-unrecognized", 1, 1),
        ("http-double-encoded-uri", 1, 1),
        ("http-not09", 2221055, 1),
        // Two requests whose bodies come without Content-Length.
        ("http-request-invalid", 1, 2),
        // Raised by the response, matched by a to_server rule.
        ("bug-2511", 1, 1),
        ("proto-mismatch-http-ssh", 2260000, 1),
        // 23 different SYNs: 10 remembered, 13 raise the event.
        ("bug-7657-01", 2210063, 13),
        // Holes flushed when a RST ends the session raise no gap event.
        ("tcp-rst-unacked-stream-03-gap", 2210048, 0),
    ] {
        let a = alerts(&dir, case);
        assert_eq!(count(&a, sid), n, "{case} sid {sid}: {a:?}");
    }
    // The Z flag is set on the response only (packet 2).
    let a = alerts(&dir, "dns--dns-query--dns-detect-query-05");
    assert_eq!(
        a.iter().filter(|x| x.0 == 3).collect::<Vec<_>>(),
        vec![&(3, 2)]
    );
}

#[test]
fn rules_naming_events_vigie_never_raises_are_rejected_with_the_reason() {
    let rules = std::env::temp_dir().join(format!("vigie-app-events-{}.rules", std::process::id()));
    std::fs::write(
        &rules,
        "alert http any any -> any any (app-layer-event:http.request_chunk_extension; sid:1;)\n\
         alert http any any -> any any (app-layer-event:http.no_such_event; sid:2;)\n\
         alert tcp any any -> any any (stream-event:pkt_invalid_timestamp; sid:3;)\n",
    )
    .expect("write rules");
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["rules", "check"])
        .arg(&rules)
        .output()
        .expect("run vigie");
    let _ = std::fs::remove_file(&rules);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains(
            "sid 2: app-layer-event: vigie's HTTP parser does not raise \"http.no_such_event\""
        ),
        "{text}"
    );
    assert!(
        text.contains("sid 3: stream-event: vigie's TCP stream tracking does not raise \"stream.pkt_invalid_timestamp\""),
        "{text}"
    );
    assert!(text.contains("1 rules loaded, 2 rejected"), "{text}");
}

#[test]
fn every_event_vigie_raises_has_the_reference_ids_name() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let dir = corpus.join("rules/suricata-builtin-events");
    if !dir.is_dir() {
        return common::skip(
            "app_events",
            &format!("no built-in event rules at {}", dir.display()),
        );
    }
    let mut all = String::new();
    for e in std::fs::read_dir(&dir).expect("rules dir").flatten() {
        all += &std::fs::read_to_string(e.path()).unwrap_or_default();
    }
    let stream = vigie_sensor::flow::reassembly::TcpAnomaly::ALL
        .iter()
        .filter_map(|a| a.rule_name());
    for name in vigie_sensor::app::event_rule_names()
        .into_iter()
        .chain(stream)
    {
        let keyword = match (name.strip_prefix("stream."), name.strip_prefix("applayer.")) {
            (Some(e), _) => format!("stream-event:{e};"),
            (_, Some(e)) => format!("app-layer-event:applayer_{e};"),
            _ => format!("app-layer-event:{name};"),
        };
        assert!(
            all.contains(&keyword),
            "{keyword} is in no built-in event rule"
        );
    }
}
