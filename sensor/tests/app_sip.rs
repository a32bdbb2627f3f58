//! SIP over UDP and TCP against other tools on the same captures: the
//! reference IDS's alert counts for the suricata-verify SIP cases (each rule
//! on its buffer, once per message), and nDPI's per-flow view of its SIP
//! capture (which flows are SIP, how many datagrams each side sent, what the
//! first request was).

mod common;

use std::collections::BTreeMap;

use serde_json::Value;

/// (signature id, alerts the reference IDS writes).
type Expected = &'static [(u64, usize)];

/// (case, capture, expected alerts), from each case's test.yaml.
const CASES: &[(&str, &str, Expected)] = &[
    ("sip-method", "sip.pcap", &[(1, 18), (2, 0)]),
    ("sip-uri", "sip.pcap", &[(1, 18)]),
    ("sip-protocol", "sip.pcap", &[(1, 47), (2, 34)]),
    ("sip-stat-code", "sip.pcap", &[(1, 7), (2, 0)]),
    ("sip-stat-msg", "sip.pcap", &[(1, 6)]),
    ("sip-response-line", "sip.pcap", &[(1, 3)]),
    ("sip-from", "sip.pcap", &[(1, 47), (2, 34)]),
    ("sip-to", "sip.pcap", &[(1, 15), (2, 3)]),
    ("sip-via", "sip.pcap", &[(1, 47), (2, 34)]),
    ("sip-user-agent", "sip.pcap", &[(1, 40)]),
    ("sip-content-length", "sip.pcap", &[(1, 8), (2, 1)]),
    ("sip-tcp-protocol", "sip-tcp.pcap", &[(1, 1), (2, 1)]),
    ("sip-tcp-request-line", "sip-tcp.pcap", &[(1, 1)]),
    ("sip-tcp-response-line", "sip-tcp.pcap", &[(1, 1)]),
    ("sip-tcp-uri", "sip-tcp.pcap", &[(1, 1)]),
];

#[test]
fn suricata_verify_sip_alert_counts() {
    let Some(sv) = common::sv_tests("app_sip") else {
        return;
    };
    for (case, pcap, want) in CASES {
        let dir = sv.join(case);
        let yaml = std::fs::read_to_string(dir.join("test.yaml")).unwrap();
        for (_, n) in want.iter().filter(|(_, n)| *n > 0) {
            assert!(
                yaml.contains(&format!("count: {n}")),
                "{case}: test.yaml no longer expects {n}"
            );
        }
        let engine = common::engine(&[dir.join("test.rules")]);
        let (bytes, _) = common::replay_with(vec![dir.join(pcap)], 1, "alert,sip", Some(engine));
        let events = common::events(&bytes);
        let by_sid = common::alerts_by_sid(&events);
        for e in events.iter().filter(|e| e["event_type"] == "alert") {
            // Alerts carry the message they matched on.
            assert!(
                e["sip"].is_object(),
                "{case}: alert without sip object: {e}"
            );
            assert_eq!(e["app_proto"], "sip");
        }
        for (sid, n) in *want {
            assert_eq!(
                by_sid.get(sid).copied().unwrap_or(0),
                *n,
                "{case}: alerts of sid {sid}"
            );
        }
        // The reference logs every message of the TCP capture: two, over TCP.
        if pcap.contains("tcp") {
            let sip: Vec<&Value> = events
                .iter()
                .filter(|e| e["event_type"] == "sip" && e["proto"] == "TCP")
                .collect();
            assert_eq!(sip.len(), 2, "{case}: sip events");
        }
    }
}

/// nDPI's flow lines: `UDP a:p <-> b:p [proto: N/SIP]...[X pkts/.. bytes <-> Y pkts/..]...[PLAIN TEXT (...)]`.
struct NdpiFlow {
    client: String,
    server: String,
    proto: String,
    pkts: (u64, u64),
    plain: String,
}

fn ndpi_flows(text: &str) -> Vec<NdpiFlow> {
    let between = |l: &str, a: &str, b: &str| -> Option<String> {
        let s = l.split_once(a)?.1;
        Some(s.split_once(b)?.0.to_string())
    };
    text.lines()
        .filter(|l| l.contains(" <-> ") || l.contains(" -> "))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let _idx = w.next()?;
            let _l4 = w.next()?;
            let client = w.next()?.to_string();
            let _arrow = w.next()?;
            let server = w.next()?.to_string();
            let proto = between(l, "[proto: ", "]")?;
            let counts = l.split('[').find(|f| f.contains(" pkts/"))?;
            let mut n = counts
                .split(" pkts/")
                .map(|s| s.rsplit(' ').next().unwrap_or("").parse::<u64>());
            let pkts = (n.next()?.ok()?, n.next().and_then(|r| r.ok()).unwrap_or(0));
            let plain = between(l, "[PLAIN TEXT (", ")]").unwrap_or_default();
            Some(NdpiFlow {
                client,
                server,
                proto,
                pkts,
                plain,
            })
        })
        .collect()
}

#[test]
fn sip_flows_match_ndpi() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let dir = corpus.join("expected/ndpi/sip");
    let flows = ndpi_flows(&std::fs::read_to_string(dir.join("sip.pcap.out")).unwrap());
    let sip_flows: Vec<&NdpiFlow> = flows.iter().filter(|f| f.proto.ends_with("/SIP")).collect();
    assert_eq!(sip_flows.len(), 2, "nDPI output changed");
    let (bytes, _) = common::replay(vec![dir.join("sip.pcap")], 1, "sip");
    // (client, server) -> (requests, responses, first request line)
    let mut ours: BTreeMap<(String, String), (u64, u64, String)> = BTreeMap::new();
    for e in common::events(&bytes) {
        if e["event_type"] != "sip" {
            continue;
        }
        let a = format!("{}:{}", e["src_ip"].as_str().unwrap(), e["src_port"]);
        let b = format!("{}:{}", e["dest_ip"].as_str().unwrap(), e["dest_port"]);
        let m = ours.entry((a, b)).or_default();
        match e["sip"]["request_line"].as_str() {
            Some(line) => {
                m.0 += 1;
                if m.2.is_empty() {
                    m.2 = line.to_string();
                }
            }
            None => m.1 += 1,
        }
    }
    println!("sip flows: ours {ours:?}");
    // The same flows are SIP (RTP and the unknown flow are not).
    let mut want: Vec<(String, String)> = sip_flows
        .iter()
        .map(|f| (f.client.clone(), f.server.clone()))
        .collect();
    want.sort();
    assert_eq!(ours.keys().cloned().collect::<Vec<_>>(), want);
    for f in sip_flows {
        let (req, resp, first) = &ours[&(f.client.clone(), f.server.clone())];
        // Every server datagram is a response; client datagrams are
        // requests or keep-alives.
        assert_eq!(*resp, f.pkts.1, "{} responses", f.client);
        assert!(*req > 0 && *req <= f.pkts.0, "{} requests {req}", f.client);
        // nDPI's printable start of the flow is the first request line's.
        assert!(
            first.starts_with(&f.plain),
            "first request {first:?}, nDPI {:?}",
            f.plain
        );
    }
}
