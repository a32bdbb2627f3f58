//! DHCP and TFTP EVE events against other tools' outputs on the same
//! captures: Zeek's dhcp.log (message types, MAC, host name, addresses,
//! lease) and Arkime's session JSON for a TFTP read request.

mod common;

use std::collections::BTreeSet;

use serde_json::Value;

fn app_events(pcap: std::path::PathBuf, kind: &str) -> Vec<Value> {
    let (bytes, _) = common::replay(vec![pcap], 1, kind);
    common::events(&bytes)
        .into_iter()
        .filter(|e| e["event_type"] == kind)
        .map(|e| e[kind].clone())
        .collect()
}

/// Values of one Zeek log column over all rows, `-` and `(empty)` left out;
/// list columns (`a,b`) give each element.
fn zeek_column(log: &str, name: &str) -> Vec<String> {
    let fields: Vec<&str> = log
        .lines()
        .find_map(|l| l.strip_prefix("#fields\t"))
        .map(|f| f.split('\t').collect())
        .unwrap_or_default();
    let Some(col) = fields.iter().position(|f| *f == name) else {
        return Vec::new();
    };
    log.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split('\t').nth(col))
        .filter(|v| *v != "-" && *v != "(empty)")
        .flat_map(|v| v.split(',').map(str::to_string).collect::<Vec<_>>())
        .collect()
}

#[test]
fn dhcp_messages_match_zeek() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let dir = corpus.join("expected/zeek/base-protocols-dhcp-dhcp-all-msg-types");
    let log = std::fs::read_to_string(dir.join("dhcp.log")).unwrap();
    let ours = app_events(dir.join("dhcp.pcap"), "dhcp");
    let field = |k: &str| -> BTreeSet<String> {
        ours.iter()
            .filter_map(|e| e[k].as_str().map(str::to_string))
            .collect()
    };
    // Every message once, in Zeek's list of message types.
    let mut types: Vec<String> = ours
        .iter()
        .filter_map(|e| e["dhcp_type"].as_str().map(str::to_ascii_uppercase))
        .collect();
    let mut want = zeek_column(&log, "msg_types");
    types.sort();
    want.sort();
    println!("dhcp: {} messages, types {types:?}", ours.len());
    assert_eq!(types, want, "message types");
    let set = |v: Vec<String>| v.into_iter().collect::<BTreeSet<String>>();
    assert_eq!(field("client_mac"), set(zeek_column(&log, "mac")));
    assert_eq!(field("hostname"), set(zeek_column(&log, "host_name")));
    // Zeek's requested address is the last one asked for per exchange.
    let requested = field("requested_ip");
    for r in zeek_column(&log, "requested_addr") {
        assert!(
            requested.contains(&r),
            "requested {r} not seen in {requested:?}"
        );
    }
    // The ACK carries the assigned address and the lease.
    let acks: Vec<&Value> = ours.iter().filter(|e| e["dhcp_type"] == "ack").collect();
    assert_eq!(acks.len(), 1);
    assert_eq!(
        acks[0]["assigned_ip"].as_str().map(str::to_string),
        zeek_column(&log, "assigned_addr").first().cloned()
    );
    let lease: Vec<u64> = zeek_column(&log, "lease_time")
        .iter()
        .filter_map(|v| v.parse::<f64>().ok().map(|f| f as u64))
        .collect();
    assert_eq!(acks[0]["lease_time"].as_u64(), lease.first().copied());
}

#[test]
fn tftp_read_request_matches_arkime() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let dir = corpus.join("expected/arkime/tftp_rrq");
    let text = std::fs::read_to_string(dir.join("tftp_rrq.test")).unwrap();
    // The session JSON, from its first brace.
    let json = &text[text.find('{').unwrap()..];
    let arkime: Value = serde_json::from_str(json).unwrap();
    let sessions = arkime["sessions3"].as_array().cloned().unwrap_or_default();
    let want: BTreeSet<(String, String)> = sessions
        .iter()
        .filter_map(|s| {
            let t = &s["body"]["tftp"];
            let file = t["filename"][0].as_str()?;
            let op = t["opcode"][0].as_str()?;
            Some((file.to_string(), op.to_string()))
        })
        .collect();
    assert!(!want.is_empty(), "no tftp session in the Arkime output");
    let ours: BTreeSet<(String, String)> = app_events(dir.join("tftp_rrq.pcap"), "tftp")
        .iter()
        .map(|e| {
            let op = match e["packet"].as_str() {
                Some("read") => "rrq",
                Some("write") => "wrq",
                _ => "?",
            };
            (e["file"].as_str().unwrap_or("").to_string(), op.to_string())
        })
        .collect();
    println!("tftp: ours {ours:?}, arkime {want:?}");
    assert_eq!(ours, want);
}
