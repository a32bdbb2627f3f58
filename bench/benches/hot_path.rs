//! Hot-path benchmarks: capture file reading, decoding per layer stack, flow
//! hashing and dispatch, EVE encoding. Compare results as ratios within one run.

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

use vigie_bench::{bundled, frames, in_vxlan, with_vlan, write_pcap};
use vigie_sensor::capture::file::FileSource;
use vigie_sensor::capture::RawBatch;
use vigie_sensor::decode::{Decoder, DecoderConfig, Packet};
use vigie_sensor::flow::table::{EndReason, FlowConfig, FlowKey, FlowPacket, FlowTable};
use vigie_sensor::output::{eve, flowlog};
use vigie_sensor::pipeline::dispatch::Dispatcher;
use vigie_sensor::pipeline::WorkBatch;

fn sample_frames() -> Vec<(u32, Vec<u8>)> {
    let mut f = frames(&bundled("heartbleed.pcap"));
    f.extend(frames(&bundled("pipelined-requests.pcap")));
    f.extend(frames(&bundled("dns-edns-ecs.pcap")));
    f
}

fn bench_capture(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("vigie-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("read.pcap");
    let n = write_pcap(&path, &sample_frames(), 64 << 20);
    let bytes = std::fs::metadata(&path).unwrap().len();
    let mut g = c.benchmark_group("capture");
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(10);
    g.bench_function("pcap_read_64MiB", |b| {
        b.iter(|| {
            let mut src = FileSource::new(vec![path.clone()]);
            let mut batch = RawBatch::default();
            let mut got = 0;
            while src.fill(&mut batch, 256, 4 << 20) {
                got += batch.recs.len();
            }
            assert_eq!(got, n);
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(dir);
}

fn bench_decode(c: &mut Criterion) {
    let all = sample_frames();
    let tcp = all[0].1.clone();
    let dns = frames(&bundled("dns-edns-ecs.pcap"))[0].1.clone();
    let stacks: Vec<(&str, Vec<u8>)> = vec![
        ("eth_ipv4_tcp", tcp.clone()),
        ("eth_ipv4_udp_dns", dns),
        ("eth_vlan_ipv4_tcp", with_vlan(&tcp)),
        ("eth_ipv4_udp_vxlan_eth_ipv4_tcp", in_vxlan(&tcp)),
    ];
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    for (name, frame) in &stacks {
        let mut d = Decoder::new(DecoderConfig::default());
        let mut p = Packet::default();
        g.bench_function(*name, |b| {
            b.iter(|| black_box(d.decode(1, 1, black_box(frame), &mut p)))
        });
    }
    g.finish();
}

fn bench_flow(c: &mut Criterion) {
    let a: IpAddr = "192.168.1.10".parse().unwrap();
    let z: IpAddr = "93.184.216.34".parse().unwrap();
    let mut g = c.benchmark_group("flow");
    g.throughput(Throughput::Elements(1));
    g.bench_function("key_and_symmetric_hash", |b| {
        b.iter(|| {
            let (k, fwd) = FlowKey::new(black_box(&a), black_box(&z), 51000, 443, 6, [0; 3], 0);
            black_box((k.hash64(), fwd))
        })
    });
    // lookup of existing flows in a table of 100k
    let mut t = FlowTable::new(FlowConfig::default());
    let pkts: Vec<FlowPacket> = (0..100_000u32)
        .map(|i| {
            let src = IpAddr::V4((0x0a00_0000 + i).into());
            let (key, fwd) = FlowKey::new(&src, &z, (i % 60000) as u16 + 1024, 443, 6, [0; 3], 0);
            FlowPacket {
                key,
                hash: key.hash64(),
                fwd,
                src,
                dst: z,
                sport: 1,
                dport: 443,
                vlan: [0; 3],
                vlan_count: 0,
                tcp_flags: Some(0x10),
                pkt_no: i as u64 + 1,
                ts: 1,
                len: 100,
            }
        })
        .collect();
    for p in &pkts {
        t.track(p, &mut |_, _| {});
    }
    let mut i = 0usize;
    g.bench_function("track_existing_100k_flows", |b| {
        b.iter(|| {
            i = (i + 7919) % pkts.len();
            let (f, d) = t.track(&pkts[i], &mut |_, _| {});
            black_box((f.id, d));
        })
    });
    g.finish();
}

fn bench_dispatch(c: &mut Criterion) {
    let all = sample_frames();
    let mut batch = RawBatch::default();
    batch.first_pkt_no = 1;
    for (i, (dlt, f)) in all.iter().cycle().take(256).enumerate() {
        batch.push(
            1_600_000_000_000_000_000 + i as u64,
            *dlt,
            f.len() as u32,
            f,
        );
    }
    let batch = std::sync::Arc::new(batch);
    let mut g = c.benchmark_group("dispatch");
    g.throughput(Throughput::Elements(256));
    for workers in [1usize, 2] {
        let mut d = Dispatcher::new(DecoderConfig::default(), workers);
        let mut outs: Vec<WorkBatch> = (0..workers).map(|_| WorkBatch::default()).collect();
        g.bench_function(
            format!("decode_hash_route_256_pkts_{workers}_workers"),
            |b| {
                b.iter(|| {
                    d.dispatch(&batch, 0, &mut outs);
                    black_box(outs[0].pkts.len())
                })
            },
        );
    }
    g.finish();
}

fn bench_eve(c: &mut Criterion) {
    let a: IpAddr = "192.168.1.10".parse().unwrap();
    let z: IpAddr = "2001:db8::1".parse().unwrap();
    let mut t = FlowTable::new(FlowConfig::default());
    let (key, fwd) = FlowKey::new(&a, &z, 51000, 443, 6, [0; 3], 0);
    let p = FlowPacket {
        key,
        hash: key.hash64(),
        fwd,
        src: a,
        dst: z,
        sport: 51000,
        dport: 443,
        vlan: [7, 0, 0],
        vlan_count: 1,
        tcp_flags: Some(0x1b),
        pkt_no: 1,
        ts: 1_600_000_000_123_456_789,
        len: 1500,
    };
    t.track(&p, &mut |_, _| {});
    let mut flows = Vec::new();
    t.drain(&mut |f, _| flows.push(f));
    let flow = &flows[0];
    let mut out = Vec::with_capacity(4096);
    let mut g = c.benchmark_group("eve");
    g.throughput(Throughput::Elements(1));
    g.bench_function("flow_record", |b| {
        b.iter(|| {
            out.clear();
            flowlog::write_flow_record(&mut out, black_box(flow), EndReason::Timeout, 1);
            black_box(out.len())
        })
    });
    g.bench_function("community_id", |b| {
        b.iter(|| black_box(eve::community_id(black_box(a), z, 51000, 443, 6)))
    });
    g.bench_function("timestamp", |b| {
        b.iter_batched_ref(
            Vec::<u8>::new,
            |v| eve::push_timestamp(v, black_box(1_600_000_000_123_456_789)),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_capture,
    bench_decode,
    bench_flow,
    bench_dispatch,
    bench_eve
);
criterion_main!(benches);
