//! Reassembly throughput, measured in release builds:
//! `cargo test --release -p vigie-sensor --test tcp_throughput -- --ignored --nocapture`

use std::hint::black_box;
use std::time::Instant;

use vigie_sensor::flow::reassembly::{
    DeliveryMode, Direction, ReassemblyBudget, ReassemblyConfig, Segment, StreamEvent, TcpFlags,
    TcpSession,
};

const MSS: usize = 1448;

/// CPU time of this thread in seconds (Linux; None elsewhere), so the
/// number means something on a loaded machine.
fn thread_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // fields after the ")" that closes the command name; utime and stime are 14 and 15
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Feeds `total` bytes as MSS-sized segments; every `swap_every`-th pair of
/// segments arrives swapped (0 = all in order). In Acked mode the receiver
/// acknowledges every second segment. Returns (bytes delivered, wall
/// seconds, CPU seconds if known).
fn run(
    total: usize,
    swap_every: usize,
    window: usize,
    delivery: DeliveryMode,
) -> (u64, f64, Option<f64>) {
    let pattern: Vec<u8> = (0..(1 << 20) + MSS).map(|i| (i * 31 % 251) as u8).collect();
    let config = ReassemblyConfig {
        depth: 0,
        window,
        delivery,
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
    let ack_at = |i: usize| Segment {
        seq: 1,
        ack: isn.wrapping_add(1).wrapping_add((i * MSS) as u32),
        flags: TcpFlags::ACK,
        payload: b"",
        ts_us: i as u64,
    };
    let acking = delivery == DeliveryMode::Acked;
    let start = Instant::now();
    let cpu_start = thread_cpu_secs();
    let mut i = 0;
    while i < segments {
        if acking && i % 2 == 0 {
            session.on_segment(Direction::ToClient, &ack_at(i), &mut budget, &mut out);
        }
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
    let cpu = match (cpu_start, thread_cpu_secs()) {
        (Some(a), Some(b)) if b > a => Some(b - a),
        _ => None,
    };
    session.finish(&mut budget, &mut out);
    assert_eq!(delivered, (segments * MSS) as u64);
    assert_eq!(budget.memuse(), 0);
    (delivered, secs, cpu)
}

#[test]
#[ignore = "throughput measurement; run in release with --ignored"]
fn reassembly_throughput() {
    let total = 8usize << 30;
    let (imm, acked) = (DeliveryMode::Immediate, DeliveryMode::Acked);
    for (name, swap, window, delivery) in [
        ("immediate, in order, 32 KiB window", 0, 32 << 10, imm),
        ("immediate, in order, no window", 0, 0, imm),
        (
            "immediate, 1 in 10 pairs swapped, 32 KiB window",
            10,
            32 << 10,
            imm,
        ),
        ("acked, in order, 32 KiB window", 0, 32 << 10, acked),
        (
            "acked, 1 in 10 pairs swapped, 32 KiB window",
            10,
            32 << 10,
            acked,
        ),
    ] {
        let (bytes, secs, cpu) = run(total, swap, window, delivery);
        let per_cpu = cpu.map_or(String::from("n/a"), |c| {
            format!("{:.2} GB/s", bytes as f64 / c / 1e9)
        });
        eprintln!(
            "{name}: {:.2} GB/s wall, {per_cpu} per CPU second ({bytes} bytes in {secs:.3} s)",
            bytes as f64 / secs / 1e9
        );
    }
}

#[test]
fn throughput_harness_delivers_everything() {
    // small run so the harness itself is checked in debug builds
    for delivery in [DeliveryMode::Immediate, DeliveryMode::Acked] {
        let (bytes, _, _) = run(4 << 20, 3, 1024, delivery);
        assert_eq!(bytes as usize, (4 << 20) / MSS * MSS);
    }
}
