//! Indicator lookups with one million indicators loaded (500k IPv4
//! addresses, 100k CIDRs, 400k domains): the per-lookup cost a flow pays for
//! its endpoints and for each DNS name, HTTP host and TLS SNI it carries.
//!
//! `intel_1M_layered` repeats the lookups on the set a reload with 10% of
//! the indicators changed produces: the same base shared with a delta of the
//! changes (the cost of a layered lookup).
//!
//! `cargo bench -p vigie-bench --bench intel`

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{criterion_group, criterion_main, Criterion};
use vigie_rules::intel::{IndicatorSet, IndicatorSetBuilder, IndicatorType, Location, Provenance};

const NOW: u64 = 1_800_000_000;

/// xorshift: reproducible pseudo-random numbers without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn build() -> (IndicatorSet, Vec<Ipv4Addr>, Vec<String>) {
    fill(IndicatorSetBuilder::new(), 0)
}

/// Adds the bench's indicators to `b`, every `change`-th one (if not 0)
/// replaced by another value, and builds.
fn fill(mut b: IndicatorSetBuilder, change: usize) -> (IndicatorSet, Vec<Ipv4Addr>, Vec<String>) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut other = Rng(0x0123_4567_89ab_cdef);
    let mut n = 0usize;
    let mut changed = |v: u64| {
        n += 1;
        if n.checked_rem(change) == Some(0) {
            other.next()
        } else {
            v
        }
    };
    let prov = Provenance {
        feed: "bench",
        ..Default::default()
    };
    let mut ips = Vec::new();
    for _ in 0..500_000 {
        let ip = Ipv4Addr::from(changed(rng.next()) as u32);
        b.add(
            IndicatorType::Ip,
            &ip.to_string(),
            &prov,
            "bench",
            Location::Whole,
        );
        ips.push(ip);
    }
    for _ in 0..100_000 {
        let ip = Ipv4Addr::from(changed(rng.next()) as u32 & 0xffff_ff00);
        b.add(
            IndicatorType::Ip,
            &format!("{ip}/24"),
            &prov,
            "bench",
            Location::Whole,
        );
    }
    let mut domains = Vec::new();
    for i in 0..400_000 {
        let d = format!("h{:x}.example{}.com", changed(rng.next()) >> 20, i % 997);
        b.add(IndicatorType::Domain, &d, &prov, "bench", Location::Whole);
        domains.push(d);
    }
    (b.build().0, ips, domains)
}

fn bench_lookups(c: &mut Criterion) {
    let (set, ips, domains) = build();
    lookups(c, "intel_1M", &set, &ips, &domains);
    let (reloaded, ips, domains) = fill(IndicatorSetBuilder::reloading(&set), 10);
    assert!(reloaded.shares_base_with(&set), "{:?}", reloaded.layout());
    drop(set);
    lookups(c, "intel_1M_layered", &reloaded, &ips, &domains);
}

fn lookups(
    c: &mut Criterion,
    group: &str,
    set: &IndicatorSet,
    ips: &[Ipv4Addr],
    domains: &[String],
) {
    let mut rng = Rng(42);
    let ip_hits: Vec<IpAddr> = (0..4096)
        .map(|_| IpAddr::V4(ips[rng.next() as usize % ips.len()]))
        .collect();
    let ip_rand: Vec<IpAddr> = (0..4096)
        .map(|_| IpAddr::V4(Ipv4Addr::from(rng.next() as u32)))
        .collect();
    let exact: Vec<String> = (0..4096)
        .map(|_| domains[rng.next() as usize % domains.len()].clone())
        .collect();
    let sub: Vec<String> = exact.iter().map(|d| format!("www.{d}")).collect();
    let miss: Vec<String> = (0..4096)
        .map(|i| format!("miss{:x}.cdn.example{}.net", rng.next() >> 16, i % 50))
        .collect();
    let mut g = c.benchmark_group(group);
    let mut i = 0usize;
    g.bench_function("ip_listed", |b| {
        b.iter(|| {
            i = (i + 1) & 4095;
            black_box(set.lookup_ip(ip_hits[i], NOW).next().is_some())
        })
    });
    g.bench_function("ip_random", |b| {
        b.iter(|| {
            i = (i + 1) & 4095;
            black_box(set.lookup_ip(ip_rand[i], NOW).next().is_some())
        })
    });
    for (name, names) in [
        ("domain_exact", &exact),
        ("domain_subdomain", &sub),
        ("domain_miss", &miss),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) & 4095;
                black_box(set.lookup_domain(names[i].as_bytes(), NOW).next().is_some())
            })
        });
    }
    // What a new flow costs: both endpoints looked up.
    g.bench_function("flow_endpoints", |b| {
        b.iter(|| {
            i = (i + 1) & 4095;
            let a = set.lookup_ip(ip_rand[i], NOW).next().is_some();
            let z = set.lookup_ip(ip_rand[(i + 7) & 4095], NOW).next().is_some();
            black_box(a | z)
        })
    });
    g.finish();
}

criterion_group!(benches, bench_lookups);
criterion_main!(benches);
