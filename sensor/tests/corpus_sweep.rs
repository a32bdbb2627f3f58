//! Every capture of the corpus runs to completion (no panic, no hang) and vigie's
//! packet count equals the capture's record count (capinfos, in MANIFEST.tsv).

mod common;

use std::sync::mpsc;
use std::time::Duration;

#[test]
fn every_corpus_capture_is_read_completely() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let pcaps = common::manifest_pcaps(&corpus);
    assert!(
        pcaps.len() > 1000,
        "manifest lists {} captures",
        pcaps.len()
    );
    let mut mismatches = Vec::new();
    let mut total = 0u64;
    for (rel, expected) in &pcaps {
        let path = corpus.join(rel);
        let (tx, rx) = mpsc::channel();
        let p2 = path.clone();
        std::thread::spawn(move || {
            let r = std::panic::catch_unwind(|| {
                common::replay(vec![p2], 1, "alert,flow,anomaly,stats")
            });
            let _ = tx.send(r.map(|(_, s)| (s.packets, s.capture_errors)));
        });
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(Ok((n, errs))) => {
                total += n;
                if n != *expected {
                    mismatches.push(format!("{rel}: vigie {n}, capinfos {expected} {errs:?}"));
                }
            }
            Ok(Err(_)) => panic!("{rel}: panicked"),
            Err(_) => panic!("{rel}: no result after 120 s (hang)"),
        }
    }
    println!(
        "{} captures, {} packets, {} count mismatches",
        pcaps.len(),
        total,
        mismatches.len()
    );
    for m in &mismatches {
        println!("  {m}");
    }
    assert!(
        mismatches.is_empty(),
        "{} captures read with a different packet count",
        mismatches.len()
    );
}
