//! Hostile inputs for the indicator loaders: millions of lines, truncated
//! files, garbage. Memory must stay bounded and nothing may panic.

use std::io::{BufReader, Read};
use std::path::PathBuf;
use vigie_rules::intel::misp::{load_misp_json, MispOptions};
use vigie_rules::intel::{csv, stix, zeek, IndicatorSetBuilder, Location};

/// Resident set size of this process in bytes, from /proc/self/statm.
fn rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn corpus(sub: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus")
        .join(sub);
    if p.exists() {
        return Some(p);
    }
    if std::env::var("VIGIE_EXTERNAL_TESTS").as_deref() == Ok("1") {
        panic!(
            "corpus path {} missing and VIGIE_EXTERNAL_TESTS=1",
            p.display()
        );
    }
    eprintln!("skipping: corpus path {} not found", p.display());
    None
}

/// Generates CSV lines on the fly, so the input itself takes no memory.
struct Generated {
    line: u64,
    lines: u64,
    buf: Vec<u8>,
    pos: usize,
}

impl Generated {
    fn line_text(i: u64, out: &mut Vec<u8>) {
        use std::io::Write;
        let _ = match i % 8 {
            // Valid indicators (until the builder's cap).
            0 => writeln!(
                out,
                "10.{}.{}.{},ip",
                (i >> 16) & 255,
                (i >> 8) & 255,
                i & 255
            ),
            1 => writeln!(out, "host{i}.example.org,domain"),
            // Garbage of every kind.
            2 => writeln!(out, "not-an-ip-{i},ip"),
            3 => writeln!(out, "{i},bogus-type"),
            4 => writeln!(out, "\"unterminated,{i}"),
            5 => writeln!(out, "http://[::1/{i},url"),
            6 => writeln!(out, "{},sha256", "z".repeat((i % 100) as usize)),
            // Every 1000th of these is a 20 KB line without a comma.
            _ if i % 1000 == 7 => writeln!(out, "{}", "x".repeat(20_000)),
            _ => writeln!(out, "#comment {i}"),
        };
    }
}

impl Read for Generated {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.buf.len() {
            if self.line == self.lines {
                return Ok(0);
            }
            self.buf.clear();
            self.pos = 0;
            Self::line_text(self.line, &mut self.buf);
            self.line += 1;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn ten_million_csv_lines_in_bounded_memory() {
    const LINES: u64 = 10_000_000;
    const CAP: usize = 100_000;
    let before = rss_bytes();
    let mut b = IndicatorSetBuilder::new().max_indicators(CAP);
    let input = Generated {
        line: 0,
        lines: LINES,
        buf: Vec::new(),
        pos: 0,
    };
    csv::load_csv(BufReader::new(input), "generated.csv", "gen", &mut b).unwrap();
    let after_load = rss_bytes();
    let (set, report) = b.build();
    let after_build = rss_bytes();
    assert_eq!(set.len(), CAP);
    // Per 8 lines: 2 valid, 5 bad, 1 comment (or, every 1000th, too long).
    let valid = LINES / 8 * 2;
    let bad = LINES / 8 * 5;
    let too_long = (0..LINES).filter(|i| i % 8 == 7 && i % 1000 == 7).count() as u64;
    assert_eq!(
        report.rejected_total(),
        bad + too_long + (valid - CAP as u64)
    );
    assert_eq!(report.rejections().len(), 100);
    let reasons: Vec<(&str, u64)> = report.rejected_by_reason().collect();
    assert!(
        reasons.contains(&("indicator limit reached", valid - CAP as u64)),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&("line too long", too_long)),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&("unknown indicator type", LINES / 8)),
        "{reasons:?}"
    );
    assert!(report.to_string().ends_with(&format!(
        "{CAP} indicators loaded, {} rejected",
        report.rejected_total()
    )));
    if let (Some(a), Some(l), Some(z)) = (before, after_load, after_build) {
        let grown = l.max(z).saturating_sub(a);
        eprintln!(
            "RSS before {} MiB, after load {} MiB, after build {} MiB",
            a >> 20,
            l >> 20,
            z >> 20
        );
        assert!(grown < 64 << 20, "RSS grew by {} MiB", grown >> 20);
    }
}

#[test]
fn truncated_and_corrupted_corpus_files() {
    let Some(dir) = corpus("intel") else {
        return;
    };
    let json_files = [
        "stix/amnesty-novispy.stix2.json",
        "stix/oasis-threat-report-poisonivy.json",
        "misp/pymisp-tests/to_delete2.json",
        "misp/tweetfeed-feed/67317f07-5461-555f-9491-d7685196f614.json",
    ];
    for f in json_files {
        let bytes = std::fs::read(dir.join(f)).unwrap();
        for cut in (1..20).map(|k| bytes.len() * k / 20) {
            let mut b = IndicatorSetBuilder::new();
            let r = if f.starts_with("stix") {
                stix::load_stix_json(&bytes[..cut], f, "t", &mut b)
            } else {
                load_misp_json(&bytes[..cut], f, "t", &MispOptions::default(), &mut b)
            };
            let e = r.expect_err("a truncated JSON document must be an error");
            assert!(e.to_string().starts_with(f), "{e}");
            assert!(e.to_string().contains("invalid JSON"), "{e}");
        }
        // Flipped bytes: an error or a load with rejections, never a panic.
        let mut bad = bytes.clone();
        for i in (0..bad.len()).step_by(97) {
            bad[i] ^= 0x55;
        }
        let mut b = IndicatorSetBuilder::new();
        let _ = load_misp_json(&bad, f, "t", &MispOptions::default(), &mut b);
        let _ = stix::load_stix_json(&bad, f, "t", &mut b);
    }
    for f in [
        "zeek-feeds/cps-collected-iocs.intel",
        "zeek/match-subnet.intel.dat",
    ] {
        let bytes = std::fs::read(dir.join(f)).unwrap();
        for cut in (1..10).map(|k| bytes.len() * k / 10) {
            let mut b = IndicatorSetBuilder::new();
            let head = &bytes[..cut];
            match zeek::load_zeek_intel(head, f, "t", &mut b) {
                Ok(()) => {
                    // Only the cut line may be refused (wrong field count or bad value).
                    assert!(
                        b.report().rejected_total() <= 3,
                        "{f} cut {cut}: {}",
                        b.report()
                    );
                    let last_line = head.iter().filter(|&&c| c == b'\n').count() as u64 + 1;
                    for r in b.report().rejections() {
                        if r.location == Location::Line(last_line) {
                            continue;
                        }
                        // cps-collected-iocs has two real bad rows, lines 49207-49208.
                        assert!(matches!(r.location, Location::Line(49207 | 49208)), "{r}");
                    }
                }
                Err(e) => panic!("{f} cut at {cut}: {e}"),
            }
        }
    }
}

#[test]
fn garbage_bytes_in_text_loaders() {
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut junk = Vec::with_capacity(1 << 20);
    for _ in 0..(1 << 20) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        junk.push(state as u8);
    }
    let mut b = IndicatorSetBuilder::new();
    csv::load_csv(&junk[..], "junk.csv", "j", &mut b).unwrap();
    let mut with_header = b"#fields\tindicator\tindicator_type\n".to_vec();
    with_header.extend_from_slice(&junk);
    zeek::load_zeek_intel(&with_header[..], "junk.intel", "j", &mut b).unwrap();
    assert!(zeek::load_zeek_intel(&junk[..], "junk.intel", "j", &mut b).is_err());
    let (set, report) = b.build();
    assert!(report.rejected_total() > 1000);
    assert!(set.len() < 10);
}
