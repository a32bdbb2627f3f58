//! MQTT against other tools on the same captures: the reference IDS's alert
//! counts and EVE fields for the suricata-verify MQTT cases, and Arkime's
//! per-session MQTT fields (client id, user, will topic, packet types,
//! topics, protocol version, CONNACK code, QoS) for its two MQTT captures.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

/// (signature id, alerts the reference IDS writes).
type Expected = &'static [(u64, usize)];

/// (case, capture, expected alerts), from each case's test.yaml.
const CASES: &[(&str, &str, Expected)] = &[
    ("mqtt-binary-message", "mqtt5_pub_jpeg.pcap", &[(1, 1)]),
    ("mqtt-connect-rules-3", "mqtt5_pub_jpeg.pcap", &[(4, 1)]),
    ("mqtt-events-invalid-qos", "input.pcap", &[(2226006, 1)]),
    ("mqtt-events-missing-connect", "input.pcap", &[(2226000, 1)]),
    (
        "mqtt-events-unassigned-msgtype",
        "input.pcap",
        &[(2226008, 1)],
    ),
    ("mqtt5-excessiveproplen", "input.pcap", &[(1234, 1)]),
    (
        "mqtt-pub-rules",
        "mqtt5_pub_jpeg.pcap",
        &[
            (1, 1),
            (3, 1),
            (4, 3),
            (6, 3),
            (12, 1),
            (13, 1),
            (16, 1),
            (18, 1),
            (19, 1),
            (20, 1),
        ],
    ),
    (
        "mqtt-sub-rules",
        "input.pcap",
        &[
            (1, 1),
            (3, 1),
            (4, 3),
            (6, 3),
            (12, 1),
            (13, 1),
            (15, 1),
            (16, 1),
            (19, 1),
            (20, 1),
        ],
    ),
];

#[test]
fn suricata_verify_mqtt_alert_counts() {
    let Some(sv) = common::sv_tests("app_mqtt") else {
        return;
    };
    for (case, pcap, want) in CASES {
        let dir = sv.join(case);
        let engine = common::engine(&[dir.join("test.rules")]);
        let (bytes, _) =
            common::replay_with(vec![dir.join(pcap)], 1, "alert,mqtt,anomaly", Some(engine));
        let events = common::events(&bytes);
        let by_sid = common::alerts_by_sid(&events);
        for e in events.iter().filter(|e| e["event_type"] == "alert") {
            // Alerts carry the transaction they matched on.
            assert!(
                e["mqtt"].is_object(),
                "{case}: alert without mqtt object: {e}"
            );
            assert_eq!(e["app_proto"], "mqtt");
        }
        for (sid, n) in *want {
            assert_eq!(
                by_sid.get(sid).copied().unwrap_or(0),
                *n,
                "{case}: sid {sid}; all: {by_sid:?}"
            );
        }
        // Each event case raises its event once, as an app-layer anomaly too.
        let anomaly = match *case {
            "mqtt-events-invalid-qos" => Some("invalid_qos_level"),
            "mqtt-events-missing-connect" => Some("missing_connect"),
            "mqtt-events-unassigned-msgtype" => Some("unassigned_msg_type"),
            "mqtt5-excessiveproplen" => Some("malformed_traffic"),
            _ => None,
        };
        if let Some(name) = anomaly {
            let n = events
                .iter()
                .filter(|e| {
                    e["event_type"] == "anomaly"
                        && e["anomaly"]["event"] == name
                        && e["anomaly"]["type"] == "applayer"
                        && e["anomaly"]["app_proto"] == "mqtt"
                })
                .count();
            assert_eq!(n, 1, "{case}: {name} anomalies");
        }
        // The rules of the event cases name every event: only the expected fire.
        if case.starts_with("mqtt-events-invalid") || case.starts_with("mqtt-events-unassigned") {
            assert_eq!(by_sid.len(), 1, "{case}: {by_sid:?}");
        }
    }
}

/// The `mqtt` events of a capture, with the fields test.yaml checks.
#[test]
fn suricata_verify_mqtt_eve_fields() {
    let Some(sv) = common::sv_tests("app_mqtt") else {
        return;
    };
    let (bytes, _) = common::replay(vec![sv.join("mqtt-sub-rules/input.pcap")], 1, "mqtt");
    let tx: Vec<Value> = common::events(&bytes)
        .into_iter()
        .filter(|e| e["event_type"] == "mqtt")
        .map(|e| e["mqtt"].clone())
        .collect();
    assert_eq!(tx.len(), 3, "{tx:?}");
    let c = &tx[0]["connect"];
    assert_eq!(c["protocol_string"], "MQTT");
    assert_eq!(c["protocol_version"], 5);
    assert_eq!(c["client_id"], "myvoiceismypassport");
    assert_eq!(c["username"], "user");
    assert_eq!(c["password"], "pass");
    assert_eq!(c["flags"]["clean_session"], true);
    assert_eq!(c["flags"]["will"], false);
    assert_eq!(c["properties"]["receive_maximum"], 20);
    assert_eq!(tx[0]["connack"]["return_code"], 0);
    assert_eq!(tx[0]["connack"]["properties"]["topic_alias_maximum"], 10);
    assert_eq!(tx[1]["subscribe"]["qos"], 1);
    assert_eq!(
        tx[1]["subscribe"]["topics"],
        serde_json::json!([{"topic": "topicX", "qos": 0}, {"topic": "topicY", "qos": 0}])
    );
    assert_eq!(tx[1]["suback"]["message_id"], 1);
    assert_eq!(tx[1]["suback"]["qos_granted"], serde_json::json!([0, 0]));
    assert!(tx[2]["disconnect"].is_object());
}

/// One session's MQTT fields, as sets of strings by Arkime's field name.
type Fields = BTreeMap<&'static str, BTreeSet<String>>;

/// Arkime's MQTT fields per client port.
fn arkime_sessions(test: &Path) -> BTreeMap<u64, Fields> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(test).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for s in v["sessions3"].as_array().unwrap() {
        let b = &s["body"];
        let Some(m) = b["mqtt"].as_object() else {
            continue;
        };
        let mut f = Fields::new();
        // Arkime keeps the user name at the session level.
        let user = b["user"].as_array().cloned().unwrap_or_default();
        f.insert(
            "user",
            user.iter()
                .filter_map(|u| u.as_str().map(String::from))
                .collect(),
        );
        for k in [
            "clientId",
            "willTopic",
            "type",
            "topic",
            "version",
            "connackCode",
            "qos",
        ] {
            let set = m
                .get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|x| match x {
                            Value::String(s) => s.clone(),
                            o => o.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            f.insert(k, set);
        }
        out.insert(b["source"]["port"].as_u64().unwrap(), f);
    }
    out
}

/// The same fields from our `mqtt` events, per client port.
fn our_sessions(events: &[Value]) -> BTreeMap<u64, Fields> {
    let mut out: BTreeMap<u64, Fields> = BTreeMap::new();
    for e in events.iter().filter(|e| e["event_type"] == "mqtt") {
        let f = out.entry(e["src_port"].as_u64().unwrap()).or_default();
        let mut add = |k: &'static str, v: String| {
            f.entry(k).or_default().insert(v);
        };
        for (kind, m) in e["mqtt"].as_object().unwrap() {
            add("type", kind.to_ascii_uppercase());
            let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
            match kind.as_str() {
                "connect" => {
                    add("clientId", s(&m["client_id"]));
                    if m["username"].is_string() {
                        add("user", s(&m["username"]));
                    }
                    if m["will"]["topic"].is_string() {
                        add("willTopic", s(&m["will"]["topic"]));
                    }
                    let version = match m["protocol_version"].as_u64() {
                        Some(3) => "3.1",
                        Some(4) => "3.1.1",
                        Some(5) => "5.0",
                        _ => "?",
                    };
                    add("version", version.into());
                }
                "connack" => add("connackCode", m["return_code"].to_string()),
                "publish" => {
                    add("topic", s(&m["topic"]));
                    add("qos", m["qos"].to_string());
                }
                "subscribe" => {
                    for t in m["topics"].as_array().unwrap() {
                        add("topic", s(&t["topic"]));
                    }
                }
                "unsubscribe" => {
                    for t in m["topics"].as_array().unwrap() {
                        add("topic", s(t));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

#[test]
fn mqtt_sessions_match_arkime() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let (mut fields, mut same) = (0, 0);
    let mut differences = Vec::new();
    for name in ["mqtt_synthetic", "mqtt_big"] {
        let dir = corpus.join("expected/arkime").join(name);
        let want = arkime_sessions(&dir.join(format!("{name}.test")));
        assert!(
            !want.is_empty(),
            "{name}: no MQTT session in Arkime's output"
        );
        let (bytes, _) = common::replay(vec![dir.join(format!("{name}.pcap"))], 1, "mqtt");
        let got = our_sessions(&common::events(&bytes));
        for (port, w) in &want {
            let g = got.get(port).cloned().unwrap_or_default();
            for (k, wv) in w {
                let gv = g.get(k).cloned().unwrap_or_default();
                fields += 1;
                if *wv == gv {
                    same += 1;
                } else {
                    let show = |v: &BTreeSet<String>| {
                        let t = format!("{v:?}");
                        t.chars().take(80).collect::<String>()
                    };
                    eprintln!(
                        "{name} port {port} {k}: arkime {} vigie {}",
                        show(wv),
                        show(&gv)
                    );
                    differences.push(format!("{name}:{port}:{k}"));
                }
            }
        }
    }
    eprintln!("mqtt vs arkime: {same}/{fields} session fields equal");
    // Arkime counts the will's QoS among the QoS levels (the reference IDS's
    // EVE, which we follow, does not show it), and leaves out a PUBLISH whose
    // topic is over its length limit (a 64 KiB topic, which we keep).
    assert_eq!(
        differences,
        [
            "mqtt_synthetic:44444:qos",
            "mqtt_synthetic:55557:qos",
            "mqtt_synthetic:55557:topic",
        ],
        "{same}/{fields}"
    );
}

/// Zeek's MQTT trace (no MQTT log of Zeek's for it in the corpus): the
/// packet types per flow as Wireshark's dissector counts them (tshark 4,
/// `-Y mqtt -T fields -e mqtt.msgtype`), and the client ids.
#[test]
fn zeek_trace_packets_match_wireshark() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let (bytes, _) = common::replay(vec![corpus.join("pcaps/zeek/mqtt.pcap")], 1, "mqtt");
    let mut kinds: BTreeMap<(u64, String), usize> = BTreeMap::new();
    let mut clients = BTreeSet::new();
    for e in common::events(&bytes)
        .iter()
        .filter(|e| e["event_type"] == "mqtt")
    {
        for (k, m) in e["mqtt"].as_object().unwrap() {
            *kinds
                .entry((e["src_port"].as_u64().unwrap(), k.clone()))
                .or_default() += 1;
            if k == "connect" {
                clients.insert(m["client_id"].as_str().unwrap().to_string());
            }
        }
    }
    let want: BTreeMap<(u64, String), usize> = [
        (49327, "connect", 1),
        (49327, "connack", 1),
        (49327, "subscribe", 1),
        (49327, "suback", 1),
        // The broker's deliveries of SampleTopic to the subscriber.
        (49327, "publish", 2),
        (49327, "pingreq", 5),
        (49327, "pingresp", 5),
        (49330, "connect", 1),
        (49330, "connack", 1),
        (49330, "publish", 1),
        (49330, "disconnect", 1),
    ]
    .into_iter()
    .map(|(p, k, n)| ((p, k.to_string()), n))
    .collect();
    assert_eq!(kinds, want);
    assert_eq!(
        clients,
        BTreeSet::from([
            "paho/34AAE54A75D839566E".to_string(),
            "paho/DDE4DDAF4108D3E363".to_string()
        ])
    );
}
