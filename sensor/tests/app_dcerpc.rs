//! DCERPC over TCP and SMB named pipes against other tools on the same
//! captures: the reference IDS's alert counts on the suricata-verify DCERPC
//! and SMB cases (`dcerpc.iface`, `dcerpc.opnum`, `dcerpc.stub_data`,
//! `smb.version`, `smb.share`, `smb.named_pipe`), Zeek's `dce_rpc.log`
//! operations on its DCE-RPC traces, and Arkime's per-session interfaces
//! and opnums on its synthetic DCERPC capture.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// (signature id, alerts the reference IDS writes).
type Expected = &'static [(u64, usize)];

/// (case, expected alerts), from each case's test.yaml.
const CASES: &[(&str, Expected)] = &[
    ("dcerpc--dcerpc-dce-iface-01", &[(1, 2)]),
    (
        "dcerpc--dcerpc-dce-iface-02",
        &[(1, 1), (2, 1), (3, 0), (4, 0), (5, 1)],
    ),
    ("dcerpc--dcerpc-dce-iface-03", &[(1, 1)]),
    ("dcerpc--dcerpc-dce-iface-04", &[(1, 0)]),
    ("dcerpc--dcerpc-dce-iface-many", &[(1, 12)]),
    (
        "dcerpc--dcerpc-dce-stub-data",
        &[(1, 1), (2, 1), (3, 0), (11, 1), (12, 1), (13, 0)],
    ),
    ("dcerpc--dcerpc-dcepayload", &[(1, 1)]),
    ("dcerpc-issue-7187-01", &[(1, 1)]),
    ("dcerpc-smb-fail", &[(1, 2), (2, 2), (3, 2)]),
    ("dcerpc-smb-test-01", &[(1, 2), (2, 2), (3, 2)]),
    ("smb-dce_iface", &[(1, 6)]),
    ("smb-named-pipe-ascii", &[(1, 1)]),
    ("smb-named-pipe-unicode", &[(1, 1)]),
    ("smb-version-keyword", &[(1, 2), (2, 14)]),
    ("smb-filename", &[(2, 4)]),
];

fn capture(dir: &Path) -> PathBuf {
    let caps: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    assert_eq!(caps.len(), 1, "{}: one capture", dir.display());
    caps[0].clone()
}

#[test]
fn suricata_verify_dcerpc_and_smb_alert_counts() {
    let Some(sv) = common::sv_tests("app_dcerpc") else {
        return;
    };
    for (case, want) in CASES {
        let dir = sv.join(case);
        let yaml = std::fs::read_to_string(dir.join("test.yaml")).unwrap();
        for (_, n) in want.iter().filter(|(_, n)| *n > 0) {
            assert!(
                yaml.contains(&format!("count: {n}")),
                "{case}: test.yaml no longer expects {n}"
            );
        }
        let engine = common::engine(&[dir.join("test.rules")]);
        let (bytes, _) = common::replay_with(vec![capture(&dir)], 1, "alert", Some(engine));
        let events = common::events(&bytes);
        let by_sid = common::alerts_by_sid(&events);
        for e in events.iter().filter(|e| e["event_type"] == "alert") {
            // Alerts on calls carry the call; over SMB inside the smb object.
            if e["app_proto"] == "dcerpc" {
                assert!(e["dcerpc"]["call_id"].is_u64(), "{case}: {e}");
            }
        }
        for (sid, n) in *want {
            assert_eq!(
                by_sid.get(sid).copied().unwrap_or(0),
                *n,
                "{case}: alerts of sid {sid}"
            );
        }
    }
}

/// (interface UUID, opnum) -> (Zeek endpoint, operation), for the
/// interfaces of the compared captures only.
const OPERATIONS: &[(&str, u64, &str, &str)] = &[
    (
        "e3514235-4b06-11d1-ab04-00c04fc2dcd2",
        0,
        "drsuapi",
        "DRSBind",
    ),
    (
        "e3514235-4b06-11d1-ab04-00c04fc2dcd2",
        1,
        "drsuapi",
        "DRSUnbind",
    ),
    (
        "e3514235-4b06-11d1-ab04-00c04fc2dcd2",
        12,
        "drsuapi",
        "DRSCrackNames",
    ),
    (
        "12345678-1234-abcd-ef00-01234567cffb",
        45,
        "netlogon",
        "NetrLogonSamLogonWithFlags",
    ),
];

/// Zeek's dce_rpc.log rows (endpoint, operation) for its btests
/// `scripts.base.protocols.dce-rpc.context` and `.dce_rpc_netlogon`
/// (zeek/zeek testing/btest/Baseline; the corpus holds the traces only).
const ZEEK: &[(&str, &[(&str, &str)])] = &[
    (
        "cs_window7-join_stream092.pcap",
        &[
            ("drsuapi", "DRSBind"),
            ("drsuapi", "DRSCrackNames"),
            ("drsuapi", "DRSUnbind"),
        ],
    ),
    (
        "dce_rpc_netlogon.pcapng",
        &[("netlogon", "NetrLogonSamLogonWithFlags")],
    ),
];

fn name_of(uuid: &str, opnum: u64) -> (String, String) {
    OPERATIONS
        .iter()
        .find(|(u, o, _, _)| *u == uuid && *o == opnum)
        .map_or_else(
            || (uuid.to_string(), opnum.to_string()),
            |(_, _, e, n)| (e.to_string(), n.to_string()),
        )
}

#[test]
fn zeek_dce_rpc_operations() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let (mut agree, mut total) = (0usize, 0usize);
    for (pcap, rows) in ZEEK {
        let path = corpus.join("pcaps/zeek/dce-rpc").join(pcap);
        let (bytes, _) = common::replay(vec![path], 1, "dcerpc");
        let ours: Vec<(String, String)> = common::events(&bytes)
            .iter()
            .filter(|e| e["event_type"] == "dcerpc" && e["dcerpc"]["request"] == "REQUEST")
            .map(|e| {
                let d = &e["dcerpc"];
                let uuid = d["interfaces"][0]["uuid"].as_str().unwrap_or("?");
                name_of(uuid, d["req"]["opnum"].as_u64().unwrap_or(u64::MAX))
            })
            .collect();
        let want: Vec<(String, String)> = rows
            .iter()
            .map(|(e, o)| (e.to_string(), o.to_string()))
            .collect();
        total += want.len().max(ours.len());
        agree += want.iter().zip(&ours).filter(|(a, b)| a == b).count();
        println!("{pcap}: zeek {want:?}, vigie {ours:?}");
    }
    println!("zeek dce_rpc.log operations: {agree}/{total} agree");
    assert_eq!(agree, total, "every operation Zeek logs, in order");
}

#[test]
fn arkime_interfaces_and_opnums() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let dir = corpus.join("expected/arkime/dcerpc_synthetic");
    let test: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("dcerpc_synthetic.test")).unwrap())
            .unwrap();
    // Per client port: (UUIDs, opnums) Arkime saw.
    let mut want: BTreeMap<u64, (BTreeSet<String>, BTreeSet<u64>)> = BTreeMap::new();
    for s in test["sessions3"].as_array().unwrap() {
        let b = &s["body"];
        let Some(d) = b.get("dcerpc") else { continue };
        let port = b["source"]["port"].as_u64().unwrap();
        let uuids = d["uuid"].as_array().into_iter().flatten();
        let ops = d["opnum"].as_array().into_iter().flatten();
        want.insert(
            port,
            (
                uuids.filter_map(|u| u.as_str().map(String::from)).collect(),
                ops.filter_map(Value::as_u64).collect(),
            ),
        );
    }
    let (bytes, _) = common::replay(vec![dir.join("dcerpc_synthetic.pcap")], 1, "dcerpc");
    let mut ours: BTreeMap<u64, (BTreeSet<String>, BTreeSet<u64>)> = BTreeMap::new();
    for e in common::events(&bytes)
        .iter()
        .filter(|e| e["event_type"] == "dcerpc")
    {
        let o = ours.entry(e["src_port"].as_u64().unwrap()).or_default();
        let d = &e["dcerpc"];
        for i in d["interfaces"].as_array().into_iter().flatten() {
            o.0.insert(i["uuid"].as_str().unwrap_or("").to_string());
        }
        if let Some(op) = d["req"]["opnum"].as_u64() {
            o.1.insert(op);
        }
    }
    let agree = want.iter().filter(|(p, w)| ours.get(p) == Some(w)).count();
    for (p, w) in &want {
        if ours.get(p) != Some(w) {
            println!("port {p}: arkime {w:?}, vigie {:?}", ours.get(p));
        }
    }
    println!(
        "arkime dcerpc sessions: {agree}/{} agree on interfaces and opnums",
        want.len()
    );
    assert!(want.len() >= 15, "Arkime's sessions were read");
    assert!(
        agree * 10 >= want.len() * 8,
        "at least 80% of sessions agree"
    );
}
