//! Replay output does not depend on the number of worker threads: the same
//! bytes with 1, 2 and 3 workers, over many corpus captures in one run.

mod common;

#[test]
fn same_bytes_whatever_the_thread_count() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let files: Vec<_> = common::manifest_pcaps(&corpus)
        .into_iter()
        .map(|(rel, _)| corpus.join(rel))
        .collect();
    assert!(files.len() > 1000);
    // The demo rules plus ET Open's policy/info/dns/exploit sets, thresholds
    // and detection_filters included: those tracked by address are applied
    // where the workers' alerts meet, in packet order.
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/default");
    let et = corpus.join("rules/et-open-suricata-5.0-2024-04-19");
    let mut text = String::new();
    let mut thresholded = 0;
    for f in [
        "emerging-policy.rules",
        "emerging-info.rules",
        "emerging-dns.rules",
        "emerging-exploit.rules",
    ] {
        let all = std::fs::read_to_string(et.join(f)).unwrap();
        thresholded += all
            .lines()
            .filter(|l| l.contains("threshold") || l.contains("detection_filter"))
            .count();
        text.push_str(&all);
        text.push('\n');
    }
    assert!(
        thresholded > 100,
        "only {thresholded} rules with thresholds"
    );
    let filtered = std::env::temp_dir().join(format!("vigie-det-{}.rules", std::process::id()));
    std::fs::write(&filtered, text).unwrap();
    let engine = Some(common::engine(&[demo, filtered]));
    let types = "alert,flow,anomaly,http,dns,tls";
    let (one, s1) = common::replay_with(files.clone(), 1, types, engine.clone());
    let (two, s2) = common::replay_with(files.clone(), 2, types, engine.clone());
    let (three, _) = common::replay_with(files, 3, types, engine);
    println!(
        "{} packets, {} bytes of EVE, {} events, {} alerts; worker balance with 2: {:?}",
        s1.packets,
        one.len(),
        s1.events_written,
        s1.alerts,
        s2.per_worker_packets
    );
    assert!(s1.events_written > 1000);
    assert!(s1.alerts > 20, "only {} alerts", s1.alerts);
    assert_eq!(s1.packets, s2.packets);
    assert!(one == two, "1 and 2 threads differ");
    assert!(one == three, "1 and 3 threads differ");
}

#[test]
fn stats_event_has_the_reference_names() {
    let (eve, s) = common::replay(
        vec![
            common::bundled("heartbleed.pcap"),
            common::bundled("dns-edns-ecs.pcap"),
        ],
        2,
        "stats",
    );
    let ev = common::events(&eve);
    assert_eq!(ev.len(), 1);
    let st = &ev[0]["stats"];
    assert_eq!(st["decoder"]["pkts"], 23 + 89);
    assert_eq!(st["decoder"]["pkts"], s.packets);
    assert!(st["decoder"]["bytes"].as_u64().unwrap() > 0);
    assert!(st["decoder"]["ipv4"].as_u64().unwrap() > 0);
    assert!(st["decoder"]["tcp"].as_u64().unwrap() > 0);
    assert!(st["decoder"]["udp"].as_u64().unwrap() > 0);
    assert_eq!(st["capture"]["kernel_drops"], 0);
    assert!(st["flow"]["total"].as_u64().unwrap() > 0);
}
