//! Community ID v1 of vigie's flow records equals Zeek's on the Zeek
//! community-id traces (expected/zeek/bifs-community_id-run-pcaps).

mod common;

use std::collections::BTreeSet;

use vigie_sensor::output::eve::community_id;

#[test]
fn community_ids_equal_zeeks() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let dir = corpus.join("expected/zeek/bifs-community_id-run-pcaps");
    let mut expected_total = 0;
    let mut matched = 0;
    for name in ["arp", "icmp", "icmp6", "ipv6", "sctp", "tcp", "udp"] {
        let pcap = dir.join(format!("{name}.pcap"));
        let out = std::fs::read_to_string(dir.join(format!("{name}.pcap.out"))).unwrap();
        let zeek: BTreeSet<String> = out
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.rsplit(", ").next())
            .map(|s| s.trim().to_string())
            .filter(|s| s.starts_with("1:"))
            .collect();
        let (eve, _) = common::replay(vec![pcap], 1, "flow");
        let evs = common::events(&eve);
        let mut ours: BTreeSet<String> = evs
            .iter()
            .filter_map(|e| e["community_id"].as_str().map(str::to_string))
            .collect();
        if name == "sctp" {
            // Zeek (this build) does not read SCTP ports and hashes them as 0; the
            // Community ID spec and the reference IDS hash the real ports, as vigie
            // does. Check that this is the only difference.
            for e in &evs {
                let ip = |k: &str| e[k].as_str().unwrap().parse().unwrap();
                assert_ne!(e["src_port"], 0);
                ours.insert(community_id(ip("src_ip"), ip("dest_ip"), 0, 0, 132));
            }
        }
        for id in &zeek {
            expected_total += 1;
            if ours.contains(id) {
                matched += 1;
            } else {
                println!("{name}: Zeek's {id} not among vigie's {ours:?}");
            }
        }
    }
    println!("community id: {matched}/{expected_total} equal to Zeek's");
    assert_eq!(expected_total, 19);
    assert_eq!(matched, expected_total);
}
