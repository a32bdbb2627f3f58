//! SSH banners and HASSH fingerprints against other tools on the same
//! captures: Arkime's session JSON (hassh, hasshServer, versions) and
//! Zeek's ssh.log (client and server banners); and the reference IDS's
//! alert counts for the suricata-verify HASSH and banner cases.

mod common;

use std::path::Path;

use serde_json::Value;

fn ssh_events(pcap: &Path) -> Vec<Value> {
    let (bytes, _) = common::replay(vec![pcap.to_path_buf()], 1, "ssh");
    common::events(&bytes)
        .into_iter()
        .filter(|e| e["event_type"] == "ssh")
        .map(|e| e["ssh"].clone())
        .collect()
}

fn banner(side: &Value) -> String {
    format!(
        "ssh-{}-{}",
        side["proto_version"].as_str().unwrap_or(""),
        side["software_version"].as_str().unwrap_or("")
    )
    .to_ascii_lowercase()
}

#[test]
fn hassh_matches_arkime() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let mut compared = 0;
    for case in ["ssh2", "ssh2-moloch-crash", "gre-sample", "tcpdump-geneve"] {
        let dir = corpus.join("expected/arkime").join(case);
        let text = std::fs::read_to_string(dir.join(format!("{case}.test"))).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        let want: Vec<&Value> = doc["sessions3"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["body"].get("ssh"))
            .collect();
        assert_eq!(want.len(), 1, "{case}: one ssh session in Arkime's output");
        let want = want[0];
        let ours = ssh_events(&dir.join(format!("{case}.pcap")));
        assert_eq!(ours.len(), 1, "{case}: ssh events {ours:?}");
        let o = &ours[0];
        assert_eq!(o["client"]["hassh"]["hash"], want["hassh"][0], "{case}");
        assert_eq!(
            o["server"]["hassh"]["hash"], want["hasshServer"][0],
            "{case}"
        );
        // Arkime keeps whole banners (comments too), lowercased.
        let versions: Vec<&str> = want["version"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for side in ["client", "server"] {
            let b = banner(&o[side]);
            assert!(
                versions.iter().any(|v| v.starts_with(&b)),
                "{case} {side}: {b} not in {versions:?}"
            );
        }
        compared += 1;
    }
    println!("ssh: {compared} sessions agree with Arkime");
}

#[test]
fn banners_match_zeek() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let dir = corpus.join("expected/zeek/base-protocols-ssh-curve25519_kex");
    let log = std::fs::read_to_string(dir.join("ssh.log")).unwrap();
    let fields: Vec<&str> = log
        .lines()
        .find_map(|l| l.strip_prefix("#fields\t"))
        .unwrap()
        .split('\t')
        .collect();
    let row: Vec<&str> = log
        .lines()
        .find(|l| !l.starts_with('#'))
        .unwrap()
        .split('\t')
        .collect();
    let col = |n: &str| row[fields.iter().position(|f| *f == n).unwrap()];
    let ours = ssh_events(&dir.join("ssh_kex_curve25519.pcap"));
    assert_eq!(ours.len(), 1);
    assert_eq!(
        banner(&ours[0]["client"]),
        col("client").to_ascii_lowercase()
    );
    assert_eq!(
        banner(&ours[0]["server"]),
        col("server").to_ascii_lowercase()
    );
    // Zeek's negotiated algorithms are the first client choice the server
    // also offers: each is in both HASSH strings.
    for (alg, pos) in [("kex_alg", 0), ("cipher_alg", 1), ("mac_alg", 2)] {
        for side in ["client", "server"] {
            let s = ours[0][side]["hassh"]["string"].as_str().unwrap();
            let list = s.split(';').nth(pos).unwrap();
            assert!(
                list.split(',').any(|a| a == col(alg)),
                "{alg} {} not offered by {side}: {list}",
                col(alg)
            );
        }
    }
}

#[test]
fn suricata_verify_ssh_alert_counts() {
    let Some(sv) = common::sv_tests("app_ssh") else {
        return;
    };
    // (case, [(sid, count)]) from each test.yaml: the hash rules once each,
    // the banner rules once per side.
    let cases: [(&str, &[(u64, usize)]); 3] = [
        ("ssh-hassh-only", &[(1, 1), (2, 1), (3, 1), (4, 1)]),
        ("ssh-hassh-reassembled", &[(1, 1), (2, 1), (3, 1), (4, 1)]),
        ("ssh-banner-only", &[(1, 2), (3, 2)]),
    ];
    for (case, want) in cases {
        let dir = sv.join(case);
        let engine = common::engine(&[dir.join("test.rules")]);
        let (bytes, _) =
            common::replay_with(vec![dir.join("input.pcap")], 1, "alert", Some(engine));
        let events = common::events(&bytes);
        let by_sid = common::alerts_by_sid(&events);
        for e in events.iter().filter(|e| e["event_type"] == "alert") {
            assert!(e["ssh"].is_object(), "{case}: alert without ssh object");
        }
        for (sid, n) in want {
            assert_eq!(
                by_sid.get(sid).copied().unwrap_or(0),
                *n,
                "{case} sid {sid}"
            );
        }
    }
}
