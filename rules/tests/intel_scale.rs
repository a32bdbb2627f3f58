//! A large synthetic indicator set: load time, memory per indicator and
//! lookup cost. Timings are printed, never asserted; run in release for real
//! numbers: `cargo test --release -p vigie-rules --test intel_scale -- --nocapture`.
//! The size is 1,000,000 in release builds and 100,000 in debug builds
//! (override with VIGIE_INTEL_SCALE_N).

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;
use vigie_rules::intel::{
    IndicatorKind, IndicatorSetBuilder, IndicatorType, Location, Provenance, Tlp,
};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn one_million_mixed_indicators() {
    let n: usize = std::env::var("VIGIE_INTEL_SCALE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) {
            100_000
        } else {
            1_000_000
        });
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    // Mix: 35% IPv4 addresses, 5% IPv4 CIDRs (/16../30), 3% IPv6, 27% domains, 15% URLs, 15% hashes.
    let feeds: Vec<String> = (0..10).map(|i| format!("feed-{i}")).collect();
    let tag_sets: Vec<Vec<String>> = (0..20)
        .map(|i| vec![format!("malware-{i}"), "c2".to_string()])
        .collect();
    let mut v4_addrs = Vec::new();
    let mut domains = Vec::new();
    let mut urls = Vec::new();
    let mut hashes = Vec::new();
    let mut values: Vec<(IndicatorType, String)> = Vec::with_capacity(n);
    for i in 0..n {
        let r = rng.next();
        let v = match i % 100 {
            0..=34 => {
                let a = Ipv4Addr::from(r as u32);
                v4_addrs.push(a);
                (IndicatorType::Ip, a.to_string())
            }
            35..=39 => {
                let len = 16 + (r >> 40) as u32 % 15;
                let a = Ipv4Addr::from((r as u32) & (u32::MAX << (32 - len)));
                (IndicatorType::Ip, format!("{a}/{len}"))
            }
            40..=42 => {
                let a = Ipv6Addr::from((u128::from(r) << 64) | u128::from(rng.next()));
                (
                    IndicatorType::Ip,
                    if r & 1 == 0 {
                        a.to_string()
                    } else {
                        format!("{a}/48")
                    },
                )
            }
            43..=69 => {
                let d = format!("x{:x}.example{}.com", r >> 20, r % 97);
                domains.push(d.clone());
                (IndicatorType::Domain, d)
            }
            70..=84 => {
                let host = format!("h{:x}.test", r >> 40);
                let path = format!("/p/{:x}", r & 0xff_ffff);
                urls.push((host.clone(), path.clone()));
                (IndicatorType::Url, format!("http://{host}{path}"))
            }
            _ => {
                let mut d = [0u8; 32];
                for c in d.chunks_mut(8) {
                    c.copy_from_slice(&rng.next().to_le_bytes());
                }
                let len = [16, 20, 32][i % 3];
                hashes.push(d[..len].to_vec());
                (IndicatorType::FileHash, hex(&d[..len]))
            }
        };
        values.push(v);
    }

    let rss = |_: ()| -> u64 {
        std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map_or(0, |p| p * 4096)
    };
    let rss_before = rss(());
    let t0 = Instant::now();
    let mut b = IndicatorSetBuilder::new();
    for (i, (ty, v)) in values.iter().enumerate() {
        let tags: Vec<&str> = tag_sets[i % 20].iter().map(String::as_str).collect();
        let event = format!("event-{}", i / 1000);
        let prov = Provenance {
            feed: &feeds[i % 10],
            event_id: &event,
            tags: &tags,
            tlp: Tlp::Green,
            confidence: Some(70),
            first_seen: Some(1_700_000_000),
            ..Provenance::default()
        };
        assert!(
            b.add(*ty, v, &prov, "synthetic", Location::Index(i as u64)),
            "{v}"
        );
    }
    let t_add = t0.elapsed();
    let (set, report) = b.build();
    let t_total = t0.elapsed();
    let rss_after = rss(());
    let loaded = set.len();
    assert_eq!(report.rejected_total(), 0);
    assert_eq!(loaded as u64 + report.duplicates(), n as u64);
    let heap = set.heap_bytes();
    let per = heap as f64 / loaded as f64;
    eprintln!(
        "{n} indicators ({loaded} after merging duplicates): add {:.2} s, build {:.2} s, total {:.2} s",
        t_add.as_secs_f64(),
        (t_total - t_add).as_secs_f64(),
        t_total.as_secs_f64()
    );
    eprintln!(
        "set heap {} MiB = {per:.1} bytes/indicator; RSS growth {} MiB (includes generated input)",
        heap >> 20,
        rss_after.saturating_sub(rss_before) >> 20
    );
    for k in IndicatorKind::ALL {
        if set.count(k) > 0 {
            eprintln!("  {k}: {}", set.count(k));
        }
    }
    assert!(per <= 100.0, "{per} bytes per indicator");
    drop(values);

    // Every generated value is found.
    for a in &v4_addrs {
        assert!(set.lookup_ip(IpAddr::V4(*a), 0).next().is_some(), "{a}");
    }
    for d in &domains {
        assert!(set.lookup_domain(d.as_bytes(), 0).next().is_some(), "{d}");
    }
    for (h, p) in &urls {
        assert!(
            set.lookup_url(h.as_bytes(), p.as_bytes(), 0)
                .next()
                .is_some(),
            "{h}{p}"
        );
    }
    for h in &hashes {
        assert!(set.lookup_hash(h, 0).next().is_some());
    }

    // Lookup timing, hits and misses apart (1M probes each).
    let now = 1_800_000_000;
    let time_ips = |probes: &[IpAddr]| -> (f64, usize) {
        let t = Instant::now();
        let mut hits = 0usize;
        for ip in probes {
            if black_box(set.lookup_ip(black_box(*ip), now))
                .next()
                .is_some()
            {
                hits += 1;
            }
        }
        (t.elapsed().as_nanos() as f64 / probes.len() as f64, hits)
    };
    let ip_hit: Vec<IpAddr> = (0..1_000_000)
        .map(|_| IpAddr::V4(v4_addrs[(rng.next() as usize) % v4_addrs.len()]))
        .collect();
    let ip_rand: Vec<IpAddr> = (0..1_000_000)
        .map(|_| IpAddr::V4(Ipv4Addr::from(rng.next() as u32)))
        .collect();
    let (hit_ns, hits) = time_ips(&ip_hit);
    assert_eq!(hits, ip_hit.len());
    let (rand_ns, rand_hits) = time_ips(&ip_rand);

    let time_names = |names: &[String]| -> (f64, usize) {
        let t = Instant::now();
        let mut hits = 0usize;
        for n in names {
            if black_box(set.lookup_domain(black_box(n.as_bytes()), now))
                .next()
                .is_some()
            {
                hits += 1;
            }
        }
        (t.elapsed().as_nanos() as f64 / names.len() as f64, hits)
    };
    let exact: Vec<String> = (0..1_000_000)
        .map(|_| domains[(rng.next() as usize) % domains.len()].clone())
        .collect();
    let sub: Vec<String> = exact.iter().map(|d| format!("www.{d}")).collect();
    let miss: Vec<String> = (0..1_000_000)
        .map(|i| format!("miss{:x}.cdn.example{}.net", rng.next() >> 16, i % 50))
        .collect();
    let (exact_ns, h1) = time_names(&exact);
    let (sub_ns, h2) = time_names(&sub);
    let (miss_ns, h3) = time_names(&miss);
    assert_eq!((h1, h2, h3), (exact.len(), sub.len(), 0));
    let note = if cfg!(debug_assertions) {
        " [debug build: not representative]"
    } else {
        ""
    };
    eprintln!(
        "lookup_ip: {hit_ns:.1} ns on listed addresses, {rand_ns:.1} ns on random addresses ({}% hit a CIDR){note}",
        rand_hits * 100 / ip_rand.len()
    );
    eprintln!(
        "lookup_domain: {exact_ns:.1} ns exact hit, {sub_ns:.1} ns subdomain hit, {miss_ns:.1} ns miss{note}"
    );
}
