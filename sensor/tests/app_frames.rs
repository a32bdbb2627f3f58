//! App-layer frames (`frame:` rules) against the reference IDS's alert
//! counts for the suricata-verify frame cases, and on real captures: the
//! frames of HTTP/1 pipelining and DNS over TCP are exactly the messages the
//! parsers logged, tile their streams in order, and start where a message
//! starts.

mod common;

use std::collections::BTreeMap;

use serde_json::Value;

/// (signature id, alerts the reference IDS writes).
type Expected = &'static [(u64, usize)];

/// (case, capture, expected alerts), from each case's test.yaml.
const CASES: &[(&str, &str, Expected)] = &[
    (
        "alert-testmyids-frames",
        "input.pcap",
        &[(2100498, 1), (1, 1), (2, 1), (3, 1)],
    ),
    ("dns--dns-frames", "input.pcap", &[(1, 1), (2, 1)]),
    (
        "http-gap-simple-frames",
        "input.pcap",
        &[(1, 1), (2, 1), (3, 1), (4, 0)],
    ),
    (
        "sip-body-frames",
        "public-cloudshark-sip-s0.pcap",
        &[
            (2, 2),
            (22, 3),
            (31, 3),
            (32, 1),
            (41, 5),
            (42, 4),
            (51, 2),
            (61, 1),
        ],
    ),
    (
        "sip-tcp-body-frames",
        "sip-tcp.pcap",
        &[(2, 1), (22, 1), (31, 1), (32, 1), (41, 1), (42, 1)],
    ),
    ("ssh-frames", "input.pcap", &[(1, 1), (2, 1), (3, 1)]),
];

fn alerts_by_sid(events: &[Value]) -> BTreeMap<u64, usize> {
    let mut by_sid = BTreeMap::new();
    for e in events.iter().filter(|e| e["event_type"] == "alert") {
        *by_sid
            .entry(e["alert"]["signature_id"].as_u64().unwrap())
            .or_default() += 1;
    }
    by_sid
}

#[test]
fn suricata_verify_frame_alert_counts() {
    let Some(sv) = common::sv_tests("app_frames") else {
        return;
    };
    for (case, pcap, want) in CASES {
        let dir = sv.join(case);
        let engine = common::engine(&[dir.join("test.rules")]);
        let (bytes, _) = common::replay_with(vec![dir.join(pcap)], 1, "alert", Some(engine));
        let events = common::events(&bytes);
        let by_sid = alerts_by_sid(&events);
        for (sid, n) in *want {
            assert_eq!(
                by_sid.get(sid).copied().unwrap_or(0),
                *n,
                "{case}: alerts of sid {sid}"
            );
        }
        // The frame fields the cases check on their alerts.
        let frame_of = |sid: u64| -> Vec<&Value> {
            events
                .iter()
                .filter(|e| e["alert"]["signature_id"] == sid)
                .map(|e| &e["frame"])
                .collect()
        };
        match *case {
            "sip-body-frames" | "sip-tcp-body-frames" => {
                let f = frame_of(32);
                let len = if *case == "sip-body-frames" { 420 } else { 532 };
                assert_eq!(f[0]["type"], "request.headers");
                assert_eq!(f[0]["length"], len);
                assert_eq!(f[0]["complete"], true);
                assert_eq!(f[0]["direction"], "toserver");
            }
            "http-gap-simple-frames" => {
                // The response with the gap is inspected up to the gap.
                let f = frame_of(1);
                assert_eq!(f[0]["type"], "response");
                assert_eq!(f[0]["complete"], false);
                assert_eq!(f[0]["length"], 99 + 70);
            }
            _ => {}
        }
    }
}

/// Rules that alert on every frame of each kind, by sid.
const EVERY_FRAME: &str = r#"
alert http any any -> any any (flow:to_server; frame:http1.request; bsize:>0; sid:1;)
alert http any any -> any any (flow:to_client; frame:http1.response; bsize:>0; sid:2;)
alert http any any -> any any (frame:http1.request; pcre:"/^[A-Z]+ \S+ HTTP\/1\.[01]\r\n(?:[^\r\n]+\r\n)*\r\n/"; sid:3;)
alert http any any -> any any (frame:http1.response; content:"HTTP/1."; startswith; sid:4;)
alert dns any any -> any any (flow:to_server; frame:dns.pdu; bsize:>11; sid:5;)
alert dns any any -> any any (flow:to_client; frame:dns.pdu; bsize:>11; sid:6;)
"#;

fn every_frame_engine(name: &str) -> std::sync::Arc<vigie_rules::signature::Engine> {
    let dir = std::env::temp_dir().join(format!("vigie-frames-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("frames.rules");
    std::fs::write(&path, EVERY_FRAME).unwrap();
    let e = common::engine(&[path]);
    let _ = std::fs::remove_dir_all(&dir);
    e
}

/// Per TCP flow and direction, the (stream offset, length) of each frame
/// alert of `sid`.
fn frames_of(events: &[Value], sid: u64) -> BTreeMap<(u64, String), Vec<(u64, u64)>> {
    let mut out: BTreeMap<(u64, String), Vec<(u64, u64)>> = BTreeMap::new();
    for e in events.iter().filter(|e| {
        e["event_type"] == "alert" && e["alert"]["signature_id"] == sid && e["proto"] == "TCP"
    }) {
        let f = &e["frame"];
        out.entry((
            e["flow_id"].as_u64().unwrap(),
            f["direction"].as_str().unwrap().to_string(),
        ))
        .or_default()
        .push((
            f["stream_offset"].as_u64().unwrap(),
            f["length"].as_u64().unwrap(),
        ));
    }
    out
}

#[test]
fn frames_are_the_messages_the_parsers_saw_on_real_captures() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let pcaps = corpus.join("pcaps");
    // (capture, HTTP transactions, DNS queries, DNS answers).
    let cases: &[(&str, usize, usize, usize)] = &[
        ("zeek/http/pipelined-requests.pcap", 5, 0, 0),
        ("tcpdump/dns_tcp.pcap", 0, 1, 1),
        ("zeek/dns-edns-tcp-keepalive.pcap", 0, 2, 2),
        ("chrissanders/dns_tcp.pcapng", 0, 2, 2),
    ];
    for (pcap, http, queries, answers) in cases {
        let engine = every_frame_engine(&pcap.replace('/', "_"));
        let (bytes, _) =
            common::replay_with(vec![pcaps.join(pcap)], 1, "alert,http,dns", Some(engine));
        let events = common::events(&bytes);
        let count = |t: &str, dns_type: Option<&str>| {
            events
                .iter()
                .filter(|e| e["event_type"] == t)
                .filter(|e| dns_type.is_none_or(|d| e["dns"]["type"] == d))
                .count()
        };
        // The parsers' view, as logged.
        assert_eq!(count("http", None), *http, "{pcap}: http events");
        assert_eq!(
            count("dns", Some("request")),
            *queries,
            "{pcap}: dns queries"
        );
        assert_eq!(
            count("dns", Some("response")),
            *answers,
            "{pcap}: dns answers"
        );
        // One frame per message, each starting like one, whole.
        let by_sid = alerts_by_sid(&events);
        let n = |sid| by_sid.get(&sid).copied().unwrap_or(0);
        assert_eq!(
            (n(1), n(2), n(3), n(4)),
            (*http, *http, *http, *http),
            "{pcap}"
        );
        assert_eq!((n(5), n(6)), (*queries, *answers), "{pcap}");
        // Frames of a direction follow each other without overlapping.
        for sid in [1, 2, 5, 6] {
            for (key, frames) in frames_of(&events, sid) {
                for w in frames.windows(2) {
                    assert!(
                        w[0].0 + w[0].1 <= w[1].0,
                        "{pcap}: frames of sid {sid} overlap in {key:?}: {frames:?}"
                    );
                }
            }
        }
        // DNS over TCP: each message follows its 2-byte length.
        for (key, frames) in frames_of(&events, 5)
            .into_iter()
            .chain(frames_of(&events, 6))
        {
            let mut at = 0;
            for (off, len) in &frames {
                assert_eq!(*off, at + 2, "{pcap}: {key:?}: {frames:?}");
                at = off + len;
            }
        }
    }
    // Pipelined requests sent back to back tile the client's stream.
    let engine = every_frame_engine("tile");
    let (bytes, summary) = common::replay_with(
        vec![pcaps.join("zeek/http/pipelined-requests.pcap")],
        1,
        "alert",
        Some(engine),
    );
    let events = common::events(&bytes);
    // Counted in the stats: 5 requests and 5 responses, none cut short.
    let stat = |n: &str| {
        summary
            .worker
            .stream
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| *v)
    };
    assert_eq!(stat("app_layer.frames"), Some(10));
    assert_eq!(stat("app_layer.frames_truncated"), Some(0));
    assert_eq!(stat("app_layer.frames_dropped"), Some(0));
    for (key, frames) in frames_of(&events, 1) {
        assert_eq!(frames.first().map(|f| f.0), Some(0), "{key:?}");
        for w in frames.windows(2) {
            assert_eq!(w[0].0 + w[0].1, w[1].0, "{key:?}: {frames:?}");
        }
    }
}

#[test]
fn no_frame_rule_no_frames() {
    let Some(sv) = common::sv_tests("app_frames") else {
        return;
    };
    // The same capture with a rule on another buffer: no frame is built, so
    // no alert carries one.
    let dir = std::env::temp_dir().join(format!("vigie-noframes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("r.rules");
    std::fs::write(
        &path,
        "alert http any any -> any any (http.uri; content:\"/\"; sid:1;)\n",
    )
    .unwrap();
    let engine = common::engine(&[path]);
    let _ = std::fs::remove_dir_all(&dir);
    let pcap = sv.join("alert-testmyids-frames/input.pcap");
    let (bytes, _) = common::replay_with(vec![pcap], 1, "alert", Some(engine));
    let events = common::events(&bytes);
    assert_eq!(alerts_by_sid(&events).get(&1), Some(&1));
    assert!(events.iter().all(|e| e.get("frame").is_none()));
}
