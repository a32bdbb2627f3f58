//! Reassembly throughput, measured in release builds:
//! `cargo test --release -p vigie-sensor --test tcp_throughput -- --ignored --nocapture`

use std::hint::black_box;
use std::time::Instant;

use vigie_sensor::flow::reassembly::{
    Direction, ReassemblyBudget, ReassemblyConfig, Segment, StreamEvent, TcpFlags, TcpSession,
};

const MSS: usize = 1448;

/// Feeds `total` bytes as MSS-sized segments; every `swap_every`-th pair of
/// segments arrives swapped (0 = all in order). Returns (bytes delivered, seconds).
fn run(total: usize, swap_every: usize, window: usize) -> (u64, f64) {
    let pattern: Vec<u8> = (0..(1 << 20) + MSS).map(|i| (i * 31 % 251) as u8).collect();
    let config = ReassemblyConfig {
        depth: 0,
        window,
        ..ReassemblyConfig::default()
    };
    let mut budget = ReassemblyBudget::new(config.clone());
    let mut session = TcpSession::new(&config);
    let isn = 0xfff0_0000u32;
    let mut delivered = 0u64;
    let mut out = |e: StreamEvent<'_>| {
        if let StreamEvent::Data { data, .. } = e {
            delivered += data.len() as u64;
            black_box(data);
        }
    };
    let syn = Segment {
        seq: isn,
        ack: 0,
        flags: TcpFlags::SYN,
        payload: b"",
        ts_us: 0,
    };
    session.on_segment(Direction::ToServer, &syn, &mut budget, &mut out);
    let segments = total / MSS;
    let seg_at = |i: usize| {
        let off = i * MSS;
        let from = off % (1 << 20);
        Segment {
            seq: isn.wrapping_add(1).wrapping_add(off as u32),
            ack: 1,
            flags: TcpFlags::ACK | TcpFlags::PSH,
            payload: &pattern[from..from + MSS],
            ts_us: i as u64,
        }
    };
    let start = Instant::now();
    let mut i = 0;
    while i < segments {
        if swap_every > 0 && i % swap_every == 0 && i + 1 < segments {
            session.on_segment(Direction::ToServer, &seg_at(i + 1), &mut budget, &mut out);
            session.on_segment(Direction::ToServer, &seg_at(i), &mut budget, &mut out);
            i += 2;
        } else {
            session.on_segment(Direction::ToServer, &seg_at(i), &mut budget, &mut out);
            i += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    session.finish(&mut budget, &mut out);
    assert_eq!(delivered, (segments * MSS) as u64);
    assert_eq!(budget.memuse(), 0);
    (delivered, secs)
}

#[test]
#[ignore = "throughput measurement; run in release with --ignored"]
fn reassembly_throughput() {
    let total = 2usize << 30;
    for (name, swap, window) in [
        ("in order, 32 KiB window", 0, 32 << 10),
        ("in order, no window", 0, 0),
        ("1 in 10 pairs swapped, 32 KiB window", 10, 32 << 10),
    ] {
        let (bytes, secs) = run(total, swap, window);
        eprintln!(
            "{name}: {:.2} GB/s ({bytes} bytes in {secs:.3} s)",
            bytes as f64 / secs / 1e9
        );
    }
}

#[test]
fn throughput_harness_delivers_everything() {
    // small run so the harness itself is checked in debug builds
    let (bytes, _) = run(4 << 20, 3, 1024);
    assert_eq!(bytes as usize, (4 << 20) / MSS * MSS);
}
