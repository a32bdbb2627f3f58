//! Flows, TCP reassembly and application-layer parsers: flow table insert and
//! lookup, reassembly throughput in and out of order, and the HTTP/1.x, DNS
//! and TLS parsers on real traffic (the bundled captures, and for TLS a
//! capture of the shared corpus, skipped with a message when it is absent).
//!
//! `cargo bench -p vigie-bench --bench app_flow`

use std::collections::HashSet;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

use vigie_bench::{bundled, frames};
use vigie_sensor::app::dns::{parse_message, DnsState};
use vigie_sensor::app::http::{HttpConfig, HttpState};
use vigie_sensor::app::tls::fingerprint::{ja3, ja3s, ja4, Ja4Transport};
use vigie_sensor::app::tls::parser::{parse_client_hello, parse_server_hello, split_certificates};
use vigie_sensor::app::tls::state::MAX_CHAIN_LEN;
use vigie_sensor::app::tls::{parse_certificate, TlsState};
use vigie_sensor::app::{AppLayer, AppProto, AppState, Direction as AppDir};
use vigie_sensor::decode::{Decoded, Decoder, DecoderConfig, Packet, L4};
use vigie_sensor::flow::reassembly::{
    Direction as StreamDir, ReassemblyBudget, ReassemblyConfig, Segment, StreamEvent, TcpFlags,
    TcpSession,
};
use vigie_sensor::flow::session::{app_dir, FlowSession};
use vigie_sensor::flow::table::{FlowConfig, FlowKey, FlowPacket, FlowTable};

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

/// A capture of the shared corpus (`/work/shared/corpus/pcaps/...`), if present.
fn corpus(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus/pcaps")
        .join(rel);
    if p.is_file() {
        Some(p)
    } else {
        eprintln!(
            "app_flow: {} not found (shared corpus missing): skipping the benchmarks that need it",
            p.display()
        );
        None
    }
}

/// One TCP segment of a captured connection.
struct Seg {
    to_server: bool,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: Vec<u8>,
}

/// Client and server ports of the connection `tcp_segments` picked.
struct Conn {
    sport: u16,
    dport: u16,
    segs: Vec<Seg>,
}

/// The segments of the first TCP connection to or from `port` in a capture.
fn tcp_segments(path: &Path, port: u16) -> Conn {
    let mut d = Decoder::new(DecoderConfig::default());
    let mut p = Packet::default();
    let mut ends: Option<((IpAddr, u16), (IpAddr, u16))> = None;
    let mut segs = Vec::new();
    for (i, (dlt, f)) in frames(path).iter().enumerate() {
        if d.decode(*dlt, i as u64, f, &mut p) != Decoded::Ok {
            continue;
        }
        let (Some(l3), L4::Tcp(t)) = (p.l3, p.l4) else {
            continue;
        };
        let src = (l3.src, t.sport);
        let dst = (l3.dst, t.dport);
        if ends.is_none() && (t.sport == port || t.dport == port) {
            ends = Some(if t.dport == port {
                (src, dst)
            } else {
                (dst, src)
            });
        }
        let Some((client, server)) = ends else {
            continue;
        };
        let to_server = (src, dst) == (client, server);
        if !to_server && (src, dst) != (server, client) {
            continue;
        }
        let off = p.payload_off as usize;
        segs.push(Seg {
            to_server,
            seq: t.seq,
            ack: t.ack,
            flags: t.flags,
            payload: f[off..off + p.payload_len as usize].to_vec(),
        });
    }
    let ((_, sport), (_, dport)) = ends.expect("no TCP connection on the port");
    Conn { sport, dport, segs }
}

fn stream_dir(to_server: bool) -> StreamDir {
    if to_server {
        StreamDir::ToServer
    } else {
        StreamDir::ToClient
    }
}

/// The connection's in-order data as the sensor's reassembly delivers it to
/// the app layer: (direction, bytes) chunks in delivery order.
fn delivered_chunks(conn: &Conn) -> Vec<(AppDir, Vec<u8>)> {
    let mut budget = ReassemblyBudget::new(ReassemblyConfig::default());
    let mut s = TcpSession::new(budget.config());
    let mut out = Vec::new();
    let mut push = |ev: StreamEvent<'_>| {
        if let StreamEvent::Data { dir, data, .. } = ev {
            out.push((app_dir(dir), data.to_vec()));
        }
    };
    for g in &conn.segs {
        let seg = Segment {
            seq: g.seq,
            ack: g.ack,
            flags: TcpFlags(g.flags),
            payload: &g.payload,
            ts_us: 1,
        };
        s.on_segment(stream_dir(g.to_server), &seg, &mut budget, &mut push);
    }
    s.finish(&mut budget, &mut push);
    out
}

fn stream_of(chunks: &[(AppDir, Vec<u8>)], dir: AppDir) -> Vec<u8> {
    chunks
        .iter()
        .filter(|(d, _)| *d == dir)
        .flat_map(|(_, b)| b.iter().copied())
        .collect()
}

fn chunk_bytes(chunks: &[(AppDir, Vec<u8>)]) -> u64 {
    chunks.iter().map(|(_, b)| b.len() as u64).sum()
}

// ---------------------------------------------------------------- flow table

/// `n` distinct TCP/UDP 5-tuples: random clients in 10/8 talking to 1000
/// servers on ports 443, 80 and 53, as the client's first packet.
fn flow_packets(n: usize) -> Vec<FlowPacket> {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let servers: Vec<IpAddr> = (0..1000)
        .map(|_| IpAddr::V4(Ipv4Addr::from(rng.next() as u32 | 0x0100_0000)))
        .collect();
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let r = rng.next();
        let src = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (r as u32 & 0x00ff_ffff)));
        let dst = servers[(r >> 32) as usize % servers.len()];
        let sport = 1024 + (r >> 48) as u16 % 64_000;
        let (dport, proto) = [(443, 6), (80, 6), (53, 17)][(r >> 40) as usize % 3];
        let (key, fwd) = FlowKey::new(&src, &dst, sport, dport, proto, [0; 3], 0);
        if !seen.insert(key) {
            continue;
        }
        out.push(FlowPacket {
            key,
            hash: key.hash64(),
            fwd,
            src,
            dst,
            sport,
            dport,
            vlan: [0; 3],
            vlan_count: 0,
            tcp_flags: (proto == 6).then_some(0x02),
            pkt_no: out.len() as u64 + 1,
            ts: 1_600_000_000_000_000_000 + out.len() as u64 * 1000,
            len: 74,
        });
    }
    out
}

/// The packet answering `p` (server to client).
fn reply(p: &FlowPacket) -> FlowPacket {
    let (key, fwd) = FlowKey::new(&p.dst, &p.src, p.dport, p.sport, p.key.proto, [0; 3], 0);
    FlowPacket {
        key,
        hash: key.hash64(),
        fwd,
        src: p.dst,
        dst: p.src,
        sport: p.dport,
        dport: p.sport,
        tcp_flags: p.tcp_flags.map(|_| 0x12),
        pkt_no: p.pkt_no + 1_000_000,
        ts: p.ts + 1_000_000,
        ..*p
    }
}

fn bench_flow_table(c: &mut Criterion) {
    const N: usize = 100_000;
    let pkts = flow_packets(N);
    let cfg = FlowConfig {
        max_flows: 1 << 20,
        ..FlowConfig::default()
    };
    let mut g = c.benchmark_group("flow_table");

    // creating 100k flows in an empty table (growth included, as in a worker
    // that starts up); the table is dropped outside the measurement
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(20);
    g.bench_function("insert_100k_new_flows", |b| {
        b.iter_batched(
            || FlowTable::new(cfg),
            |mut t| {
                for p in &pkts {
                    let (f, d) = t.track(p, &mut |_, _| {});
                    black_box((f.id, d));
                }
                assert_eq!(t.len(), N);
                t
            },
            BatchSize::PerIteration,
        )
    });

    // lookup (and counter update) of existing flows, in random order
    let mut t = FlowTable::new(cfg);
    for p in &pkts {
        t.track(p, &mut |_, _| {});
    }
    let replies: Vec<FlowPacket> = pkts.iter().map(reply).collect();
    let mut rng = Rng(7);
    let order: Vec<usize> = (0..1 << 16).map(|_| rng.next() as usize % N).collect();
    g.throughput(Throughput::Elements(1));
    g.sample_size(100);
    let mut i = 0usize;
    g.bench_function("lookup_existing_100k_to_server", |b| {
        b.iter(|| {
            i = (i + 1) & 0xffff;
            let (f, d) = t.track(&pkts[order[i]], &mut |_, _| {});
            black_box((f.id, d));
        })
    });
    g.bench_function("lookup_existing_100k_to_client", |b| {
        b.iter(|| {
            i = (i + 1) & 0xffff;
            let (f, d) = t.track(&replies[order[i]], &mut |_, _| {});
            black_box((f.id, d));
        })
    });
    assert_eq!(t.len(), N);
    g.finish();
}

// ------------------------------------------------------------ TCP reassembly

const CLIENT_ISN: u32 = 0xfff0_0000; // wraps 2^32 within the first MiB
const SERVER_ISN: u32 = 5000;
const MSS: usize = 1448;

/// Segments to send, as (stream offset, length), in sending order.
type Order = [(usize, usize)];

fn seg(seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Segment<'_> {
    Segment {
        seq,
        ack,
        flags: TcpFlags(flags),
        payload,
        ts_us: 1,
    }
}

/// One session: a three-way handshake, then `data` from the client as the
/// segments (stream offset, length) of `order`, with a server ACK after every
/// `ack_every` segments (0: none), then the flow's end. Returns the bytes
/// delivered in order.
fn run_stream(budget: &mut ReassemblyBudget, data: &[u8], order: &Order, ack_every: usize) -> u64 {
    let mut s = TcpSession::new(budget.config());
    let mut got = 0u64;
    let mut out = |ev: StreamEvent<'_>| {
        if let StreamEvent::Data { data, .. } = ev {
            got += data.len() as u64;
            black_box(data);
        }
    };
    let c = StreamDir::ToServer;
    let sv = StreamDir::ToClient;
    s.on_segment(c, &seg(CLIENT_ISN, 0, 0x02, &[]), budget, &mut out);
    s.on_segment(
        sv,
        &seg(SERVER_ISN, CLIENT_ISN.wrapping_add(1), 0x12, &[]),
        budget,
        &mut out,
    );
    let base = CLIENT_ISN.wrapping_add(1);
    s.on_segment(c, &seg(base, SERVER_ISN + 1, 0x10, &[]), budget, &mut out);
    let mut acked = 0usize;
    for (n, &(off, len)) in order.iter().enumerate() {
        let sq = base.wrapping_add(off as u32);
        s.on_segment(
            c,
            &seg(sq, SERVER_ISN + 1, 0x18, &data[off..off + len]),
            budget,
            &mut out,
        );
        // the receiver's ACKs, as a capture of both directions has them
        if ack_every > 0 && (n + 1) % ack_every == 0 {
            acked = acked.max(off + len);
            let a = seg(SERVER_ISN + 1, base.wrapping_add(acked as u32), 0x10, &[]);
            s.on_segment(sv, &a, budget, &mut out);
        }
    }
    s.finish(budget, &mut out);
    got
}

fn bench_reassembly(c: &mut Criterion) {
    const TOTAL: usize = 1 << 20;
    // real bytes (an HTTP response stream) repeated up to 1 MiB
    let http = delivered_chunks(&tcp_segments(&bundled("pipelined-requests.pcap"), 80));
    let src = stream_of(&http, AppDir::ToClient);
    let data: Vec<u8> = src.iter().copied().cycle().take(TOTAL).collect();
    let in_order: Vec<(usize, usize)> = (0..TOTAL)
        .step_by(MSS)
        .map(|o| (o, MSS.min(TOTAL - o)))
        .collect();
    let mut swapped = in_order.clone();
    for pair in swapped.chunks_mut(2) {
        pair.reverse();
    }
    let cfg = ReassemblyConfig {
        depth: 0, // the whole MiB is reassembled
        ..ReassemblyConfig::default()
    };
    let mut budget = ReassemblyBudget::new(cfg);
    for order in [&in_order, &swapped] {
        assert_eq!(run_stream(&mut budget, &data, order, 2), TOTAL as u64);
    }
    assert_eq!(budget.memuse(), 0);
    let mut g = c.benchmark_group("reassembly");
    g.throughput(Throughput::Bytes(TOTAL as u64));
    g.sample_size(30);
    let cases: [(&str, &Order, usize); 4] = [
        ("in_order_1MiB_mss1448", &in_order, 0),
        ("in_order_1MiB_mss1448_with_acks", &in_order, 2),
        ("ooo_swapped_pairs_1MiB_mss1448", &swapped, 0),
        ("ooo_swapped_pairs_1MiB_mss1448_with_acks", &swapped, 2),
    ];
    for (name, order, ack_every) in cases {
        g.bench_function(name, |b| {
            b.iter(|| black_box(run_stream(&mut budget, &data, order, ack_every)))
        });
    }
    g.finish();
}

// -------------------------------------------------------------------- HTTP

fn bench_http(c: &mut Criterion) {
    // one keep-alive connection carrying pipelined GETs and their responses
    let conn = tcp_segments(&bundled("pipelined-requests.pcap"), 80);
    let chunks = delivered_chunks(&conn);
    let bytes = chunk_bytes(&chunks);
    let run = |cfg: HttpConfig| {
        let mut s = HttpState::with_config(cfg);
        for (dir, data) in &chunks {
            s.parse(data, *dir);
        }
        s.close(AppDir::ToServer);
        s.close(AppDir::ToClient);
        s.take_complete()
    };
    let txs = run(HttpConfig::default());
    assert!(txs.len() >= 5, "expected several transactions");
    eprintln!(
        "app_flow: http connection: {} transactions, {} bytes in {} chunks",
        txs.len(),
        bytes,
        chunks.len()
    );
    let no_bodies = HttpConfig {
        request_body_limit: 0,
        response_body_limit: 0,
        body_hashes: false,
        ..HttpConfig::default()
    };
    let mut g = c.benchmark_group("http");
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(50);
    g.bench_function("pipelined_conn_bodies_and_hashes", |b| {
        b.iter(|| black_box(run(HttpConfig::default()).len()))
    });
    g.bench_function("pipelined_conn_no_bodies", |b| {
        b.iter(|| black_box(run(no_bodies).len()))
    });
    // detection from the first bytes, then the parser, as a flow holds it
    g.bench_function("pipelined_conn_app_layer", |b| {
        b.iter(|| {
            let mut a = AppLayer::new(6, conn.sport, conn.dport);
            for (dir, data) in &chunks {
                a.on_data(*dir, data);
            }
            let AppState::Http(s) = &mut a.state else {
                panic!("not detected as http")
            };
            black_box(s.take_complete().len())
        })
    });
    // the captured segments through the flow's session: reassembly + app layer
    let payload: u64 = conn.segs.iter().map(|s| s.payload.len() as u64).sum();
    g.throughput(Throughput::Bytes(payload));
    let mut budget = ReassemblyBudget::new(ReassemblyConfig::default());
    g.bench_function("pipelined_conn_segments_through_flow_session", |b| {
        b.iter(|| {
            let mut fs = FlowSession::new(6, conn.sport, conn.dport, &budget);
            for s in &conn.segs {
                let seg = Segment {
                    seq: s.seq,
                    ack: s.ack,
                    flags: TcpFlags(s.flags),
                    payload: &s.payload,
                    ts_us: 1,
                };
                fs.on_tcp(stream_dir(s.to_server), &seg, &mut budget);
            }
            fs.finish(&mut budget);
            debug_assert_eq!(fs.app.proto, Some(AppProto::Http));
            black_box(fs.app.proto)
        })
    });
    g.finish();
}

// --------------------------------------------------------------------- DNS

/// UDP payloads to or from port 53 in a capture.
fn udp_dns_messages(path: &Path) -> Vec<(u16, u16, Vec<u8>)> {
    let mut d = Decoder::new(DecoderConfig::default());
    let mut p = Packet::default();
    let mut out = Vec::new();
    for (i, (dlt, f)) in frames(path).iter().enumerate() {
        if d.decode(*dlt, i as u64, f, &mut p) != Decoded::Ok {
            continue;
        }
        if let L4::Udp { sport, dport, .. } = p.l4 {
            if sport == 53 || dport == 53 {
                let off = p.payload_off as usize;
                out.push((sport, dport, f[off..off + p.payload_len as usize].to_vec()));
            }
        }
    }
    out
}

fn bench_dns(c: &mut Criterion) {
    let msgs = udp_dns_messages(&bundled("dns-edns-ecs.pcap"));
    let find = |id: u16, response: bool| {
        msgs.iter()
            .find(|(_, _, m)| {
                m.len() >= 12
                    && u16::from_be_bytes([m[0], m[1]]) == id
                    && (m[2] & 0x80 != 0) == response
            })
            .unwrap_or_else(|| panic!("dns-edns-ecs.pcap: no message id {id} response={response}"))
    };
    // `A? ns1.weberdns.de.` with EDNS client subnet, and its answer:
    // 2 answers (A, RRSIG), 3 authorities, 5 additionals
    let (q_sport, q_dport, query) = find(42561, false).clone();
    let (_, _, answer) = find(42561, true).clone();
    // CNAME atlas-ui.ripe.net., RRSIG, A, RRSIG (4 answers) + OPT
    let (_, _, cname) = find(63353, true).clone();
    for (m, an) in [(&query, 0), (&answer, 2), (&cname, 4)] {
        let p = parse_message(m).expect("dns message parses");
        assert_eq!(p.answers.len(), an);
    }
    let mut g = c.benchmark_group("dns");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_query_edns_ecs_55B", |b| {
        b.iter(|| black_box(parse_message(black_box(&query)).unwrap().queries.len()))
    });
    g.bench_function("parse_response_2an_3ns_5ar_820B", |b| {
        b.iter(|| black_box(parse_message(black_box(&answer)).unwrap().answers.len()))
    });
    g.bench_function("parse_response_4an_cname_rrsig_418B", |b| {
        b.iter(|| black_box(parse_message(black_box(&cname)).unwrap().answers.len()))
    });
    // per-flow state: query and response matched into one transaction
    g.bench_function("state_udp_query_and_response", |b| {
        b.iter(|| {
            let mut s = DnsState::new();
            s.parse_udp(&query, AppDir::ToServer);
            s.parse_udp(&answer, AppDir::ToClient);
            let txs = s.take_complete();
            debug_assert_eq!(txs.len(), 1);
            black_box(txs.len())
        })
    });
    // as a UDP flow holds it: detection on the first datagram, then the state
    g.bench_function("app_layer_udp_query_and_response", |b| {
        b.iter(|| {
            let mut a = AppLayer::new(17, q_sport, q_dport);
            a.on_data(AppDir::ToServer, &query);
            a.on_data(AppDir::ToClient, &answer);
            let AppState::Dns(s) = &mut a.state else {
                panic!("not detected as dns")
            };
            black_box(s.take_complete().len())
        })
    });
    g.finish();
}

// --------------------------------------------------------------------- TLS

/// Handshake messages (type, body) of one direction, up to ChangeCipherSpec.
fn handshake_messages(stream: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut hs = Vec::new();
    let mut pos = 0;
    while let Some(h) = stream.get(pos..pos + 5) {
        let len = usize::from(u16::from_be_bytes([h[3], h[4]]));
        let Some(body) = stream.get(pos + 5..pos + 5 + len) else {
            break;
        };
        match h[0] {
            22 => hs.extend_from_slice(body),
            20 => break,
            _ => {}
        }
        pos += 5 + len;
    }
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(h) = hs.get(pos..pos + 4) {
        let len = (usize::from(h[1]) << 16) | (usize::from(h[2]) << 8) | usize::from(h[3]);
        let Some(body) = hs.get(pos + 4..pos + 4 + len) else {
            break;
        };
        out.push((h[0], body.to_vec()));
        pos += 4 + len;
    }
    out
}

fn bench_tls(c: &mut Criterion) {
    // Safari to a TLS 1.2 server: real ClientHello (GREASE, ALPN, SNI), and
    // ServerHello + Certificate chain in the clear
    let Some(path) = corpus("ndpi/443-safari.pcap") else {
        return;
    };
    let conn = tcp_segments(&path, 443);
    let chunks = delivered_chunks(&conn);
    let client = handshake_messages(&stream_of(&chunks, AppDir::ToServer));
    let server = handshake_messages(&stream_of(&chunks, AppDir::ToClient));
    let body = |msgs: &[(u8, Vec<u8>)], t: u8| {
        msgs.iter()
            .find(|(typ, _)| *typ == t)
            .map(|(_, b)| b.clone())
            .unwrap_or_else(|| panic!("443-safari.pcap: no handshake message of type {t}"))
    };
    let ch = body(&client, 1);
    let sh = body(&server, 2);
    let certs = body(&server, 11);
    let hello = parse_client_hello(&ch).expect("ClientHello parses");
    let (ders, _) = split_certificates(&certs, MAX_CHAIN_LEN).expect("Certificate splits");
    assert!(ders.iter().all(|d| parse_certificate(d).is_ok()));
    let (ja4_hash, _) = ja4(&hello, Ja4Transport::Tcp);
    eprintln!(
        "app_flow: tls: ClientHello {} B ({} ciphers, {} extensions, ja3 {}, ja4 {}), \
         ServerHello {} B, Certificate {} B ({} certificates)",
        ch.len(),
        hello.ciphers.len(),
        hello.extensions.len(),
        ja3(&hello).hash,
        ja4_hash,
        sh.len(),
        certs.len(),
        ders.len()
    );
    let mut g = c.benchmark_group("tls");
    g.throughput(Throughput::Elements(1));
    g.bench_function("client_hello_parse", |b| {
        b.iter(|| black_box(parse_client_hello(black_box(&ch)).unwrap()))
    });
    g.bench_function("client_hello_parse_ja3_ja4", |b| {
        b.iter(|| {
            let h = parse_client_hello(black_box(&ch)).unwrap();
            black_box((ja3(&h), ja4(&h, Ja4Transport::Tcp)))
        })
    });
    g.bench_function("server_hello_parse_ja3s", |b| {
        b.iter(|| {
            let h = parse_server_hello(black_box(&sh)).unwrap();
            black_box(ja3s(&h))
        })
    });
    g.bench_function("certificate_chain_parse", |b| {
        b.iter(|| {
            let (ders, _) = split_certificates(black_box(&certs), MAX_CHAIN_LEN).unwrap();
            let parsed: Vec<_> = ders.iter().map(|d| parse_certificate(d).unwrap()).collect();
            black_box(parsed)
        })
    });
    // the whole connection through the per-flow state: record layer,
    // handshake reassembly, hellos, fingerprints and certificates
    g.throughput(Throughput::Bytes(chunk_bytes(&chunks)));
    g.bench_function("state_whole_connection", |b| {
        b.iter(|| {
            let mut s = TlsState::new();
            for (dir, data) in &chunks {
                s.parse(data, *dir);
            }
            debug_assert!(s.leaf().is_some() && s.ja4.is_some());
            black_box(s.server_chain_len)
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_flow_table,
    bench_reassembly,
    bench_http,
    bench_dns,
    bench_tls
);
criterion_main!(benches);
