//! Session and stream tests with crafted segments.

use super::*;

const C: Direction = Direction::ToServer;
const S: Direction = Direction::ToClient;
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;
const PA: u8 = 0x18;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    Established,
    Data(Direction, u64, Vec<u8>),
    Gap(Direction, u64, u64),
    Anomaly(Direction, TcpAnomaly),
    End(Direction),
    Closed(bool),
}

fn record(events: &mut Vec<Ev>, e: StreamEvent<'_>) {
    events.push(match e {
        StreamEvent::Established => Ev::Established,
        StreamEvent::Data { dir, offset, data } => Ev::Data(dir, offset, data.to_vec()),
        StreamEvent::Gap { dir, offset, len } => Ev::Gap(dir, offset, len),
        StreamEvent::Anomaly { dir, anomaly } => Ev::Anomaly(dir, anomaly),
        StreamEvent::StreamEnd { dir } => Ev::End(dir),
        StreamEvent::Closed { reset } => Ev::Closed(reset),
    });
}

struct Harness {
    session: TcpSession,
    budget: ReassemblyBudget,
    events: Vec<Ev>,
}

impl Harness {
    fn new(config: ReassemblyConfig) -> Harness {
        Harness {
            session: TcpSession::new(&config),
            budget: ReassemblyBudget::new(config),
            events: Vec::new(),
        }
    }

    fn seg(&mut self, dir: Direction, seq: u32, ack: u32, flags: u8, payload: &[u8]) {
        let seg = Segment {
            seq,
            ack,
            flags: TcpFlags(flags),
            payload,
            ts_us: 1,
        };
        let events = &mut self.events;
        self.session
            .on_segment(dir, &seg, &mut self.budget, &mut |e| record(events, e));
    }

    fn finish(&mut self) {
        let events = &mut self.events;
        self.session
            .finish(&mut self.budget, &mut |e| record(events, e));
    }

    /// Client ISN `c`, server ISN `s`; afterwards client data starts at c+1.
    fn handshake(&mut self, c: u32, s: u32) {
        self.seg(C, c, 0, SYN, b"");
        self.seg(S, s, c.wrapping_add(1), SYN | ACK, b"");
        self.seg(C, c.wrapping_add(1), s.wrapping_add(1), ACK, b"");
    }

    /// Delivered bytes of one direction, checking offsets are contiguous with gaps.
    fn data(&self, dir: Direction) -> Vec<u8> {
        let mut out = Vec::new();
        let mut expect_off = None;
        for e in &self.events {
            match e {
                Ev::Data(d, off, bytes) if *d == dir => {
                    if let Some(x) = expect_off {
                        assert_eq!(*off, x, "data offset not contiguous");
                    }
                    out.extend_from_slice(bytes);
                    expect_off = Some(off + bytes.len() as u64);
                }
                Ev::Gap(d, off, len) if *d == dir => {
                    if let Some(x) = expect_off {
                        assert_eq!(*off, x, "gap offset not contiguous");
                    }
                    expect_off = Some(off + len);
                }
                _ => {}
            }
        }
        out
    }

    fn gaps(&self, dir: Direction) -> Vec<(u64, u64)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Ev::Gap(d, off, len) if *d == dir => Some((*off, *len)),
                _ => None,
            })
            .collect()
    }

    fn anomalies(&self) -> Vec<TcpAnomaly> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Ev::Anomaly(_, a) => Some(*a),
                _ => None,
            })
            .collect()
    }

    fn count(&self, want: &Ev) -> usize {
        self.events.iter().filter(|e| *e == want).count()
    }
}

fn cfg() -> ReassemblyConfig {
    ReassemblyConfig::default()
}

#[test]
fn handshake_then_in_order_data_both_ways() {
    let mut h = Harness::new(cfg());
    h.handshake(1000, 5000);
    assert_eq!(h.session.state(), TcpState::Established);
    assert_eq!(h.events, vec![Ev::Established]);
    h.seg(C, 1001, 5001, PA, b"GET / ");
    h.seg(C, 1007, 5001, PA, b"HTTP/1.1\r\n\r\n");
    h.seg(S, 5001, 1019, PA, b"HTTP/1.1 200 OK\r\n");
    assert_eq!(h.data(C), b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(h.data(S), b"HTTP/1.1 200 OK\r\n");
    assert!(h
        .events
        .contains(&Ev::Data(C, 6, b"HTTP/1.1\r\n\r\n".to_vec())));
    assert_eq!(h.session.stream(C).window(), b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(h.session.stream(C).next_seq(), 1019);
    assert_eq!(h.session.stream(C).isn(), Some(1000));
    assert!(!h.session.is_midstream());
    assert_eq!(h.session.client(), Some(C));
    assert!(h.anomalies().is_empty());
    let c = &h.budget.counters;
    assert_eq!((c.syn, c.synack, c.sessions, c.segments), (1, 1, 1, 6));
    assert_eq!(c.reassembled_bytes, 18 + 17);
    // in-order traffic holds no segment memory
    assert_eq!(h.session.stream(C).held_segments(), 0);
}

#[test]
fn out_of_order_is_held_then_delivered_in_order() {
    let mut h = Harness::new(cfg());
    h.handshake(10, 20);
    h.seg(C, 21, 21, PA, b"ccc");
    h.seg(C, 17, 21, PA, b"bbbb");
    assert_eq!(h.data(C), b"");
    assert_eq!(h.session.stream(C).held_segments(), 2);
    assert!(h.budget.memuse() > 0);
    h.seg(C, 11, 21, PA, b"aaaaaa");
    assert_eq!(h.data(C), b"aaaaaabbbbccc");
    assert_eq!(h.session.stream(C).held_segments(), 0);
    assert!(h.gaps(C).is_empty());
    // only the window's memory is left
    assert_eq!(h.budget.memuse(), h.session.memuse());
    h.finish();
    assert_eq!(h.budget.memuse(), 0);
}

#[test]
fn retransmissions_exact_and_partial() {
    let mut h = Harness::new(cfg());
    h.handshake(100, 200);
    h.seg(C, 101, 201, PA, b"hello ");
    h.seg(C, 101, 201, PA, b"hello "); // exact resend
    h.seg(C, 104, 201, PA, b"lo world"); // partial: 3 old bytes, 5 new
    h.seg(C, 101, 201, PA, b"he"); // inside delivered data
    assert_eq!(h.data(C), b"hello world");
    assert!(h.anomalies().is_empty(), "{:?}", h.anomalies());
    assert_eq!(h.budget.counters.overlap, 3);
}

#[test]
fn resend_with_different_data_is_reported_and_ignored() {
    let mut h = Harness::new(cfg());
    h.handshake(100, 200);
    h.seg(C, 101, 201, PA, b"user=alice");
    h.seg(C, 106, 201, PA, b"mallory!!");
    assert_eq!(h.data(C), b"user=alicery!!");
    assert_eq!(h.anomalies(), vec![TcpAnomaly::OverlapDifferentData]);
    assert_eq!(
        h.budget.counters.anomaly(TcpAnomaly::OverlapDifferentData),
        1
    );
    assert_eq!(
        TcpAnomaly::OverlapDifferentData.suricata_event(),
        Some("reassembly_overlap_different_data")
    );
}

/// Delivers "0123456789" at 0..10, holds `held` at 20.., then `new` at
/// `new_off`, then fills what is left of the hole 10..20 with '.'; returns
/// delivered bytes.
fn overlap_case(
    policy: OverlapPolicy,
    held: &[u8],
    new_off: u32,
    new: &[u8],
) -> (Vec<u8>, Vec<TcpAnomaly>) {
    let mut h = Harness::new(ReassemblyConfig { policy, ..cfg() });
    h.handshake(0, 0);
    h.seg(C, 1, 1, PA, b"0123456789");
    h.seg(C, 21, 1, PA, held);
    h.seg(C, 1 + new_off, 1, PA, new);
    let hole = new_off.min(20) as usize - 10;
    h.seg(C, 11, 1, PA, &b".........."[..hole]);
    h.finish();
    assert!(h.gaps(C).is_empty());
    (h.data(C), h.anomalies())
}

#[test]
fn full_overlap_with_different_data_under_each_policy() {
    let old: &[u8] = b"AAAAAAAAAA";
    let new: &[u8] = b"BBBBBBBBBB";
    let expect: [(OverlapPolicy, &[u8]); 6] = [
        (OverlapPolicy::First, old),
        (OverlapPolicy::Last, new),
        (OverlapPolicy::Bsd, old),
        (OverlapPolicy::Linux, old),
        (OverlapPolicy::OldLinux, new),
        (OverlapPolicy::Solaris, new),
    ];
    for (policy, winner) in expect {
        let (data, anomalies) = overlap_case(policy, old, 20, new);
        let mut want = b"0123456789..........".to_vec();
        want.extend_from_slice(winner);
        assert_eq!(data, want, "policy {policy}");
        assert_eq!(
            anomalies,
            vec![TcpAnomaly::OverlapDifferentData],
            "policy {policy}"
        );
    }
}

#[test]
fn partial_overlaps_under_each_policy() {
    // held 20..30 'A'; new 15..25 'B' starts before and ends inside
    let cases: [(OverlapPolicy, &[u8]); 6] = [
        (OverlapPolicy::First, b".....BBBBBAAAAAAAAAA"),
        (OverlapPolicy::Last, b".....BBBBBBBBBBAAAAA"),
        (OverlapPolicy::Bsd, b".....BBBBBBBBBBAAAAA"),
        (OverlapPolicy::Linux, b".....BBBBBBBBBBAAAAA"),
        (OverlapPolicy::OldLinux, b".....BBBBBBBBBBAAAAA"),
        (OverlapPolicy::Solaris, b".....BBBBBAAAAAAAAAA"),
    ];
    for (policy, tail) in cases {
        let (data, _) = overlap_case(policy, b"AAAAAAAAAA", 15, b"BBBBBBBBBB");
        let mut want = b"0123456789".to_vec();
        want.extend_from_slice(tail);
        assert_eq!(data, want, "policy {policy}");
    }
    // held 20..30 'A'; new 20..35 'B' same start, ends beyond
    for (policy, new_wins) in [
        (OverlapPolicy::First, false),
        (OverlapPolicy::Last, true),
        (OverlapPolicy::Bsd, false),
        (OverlapPolicy::Linux, true),
        (OverlapPolicy::OldLinux, true),
        (OverlapPolicy::Solaris, true),
    ] {
        let (data, _) = overlap_case(policy, b"AAAAAAAAAA", 20, b"BBBBBBBBBBBBBBB");
        let body = if new_wins {
            b"BBBBBBBBBBBBBBB"
        } else {
            b"AAAAAAAAAABBBBB"
        };
        let mut want = b"0123456789..........".to_vec();
        want.extend_from_slice(body);
        assert_eq!(data, want, "policy {policy}");
    }
    // held 20..30 'A'; new 25..35 'B' starts inside, ends beyond
    for (policy, new_wins) in [
        (OverlapPolicy::First, false),
        (OverlapPolicy::Last, true),
        (OverlapPolicy::Bsd, false),
        (OverlapPolicy::Linux, false),
        (OverlapPolicy::OldLinux, false),
        (OverlapPolicy::Solaris, true),
    ] {
        let (data, _) = overlap_case(policy, b"AAAAAAAAAA", 25, b"BBBBBBBBBB");
        let body = if new_wins {
            b"AAAAABBBBBBBBBB"
        } else {
            b"AAAAAAAAAABBBBB"
        };
        let mut want = b"0123456789..........".to_vec();
        want.extend_from_slice(body);
        assert_eq!(data, want, "policy {policy}");
    }
    // new segment strictly inside a held one: held 20..30, new 22..25
    let (data, anomalies) = overlap_case(OverlapPolicy::Last, b"AAAAAAAAAA", 22, b"BBB");
    assert_eq!(&data[20..], b"AABBBAAAAA");
    assert_eq!(anomalies, vec![TcpAnomaly::OverlapDifferentData]);
    let (data, _) = overlap_case(OverlapPolicy::First, b"AAAAAAAAAA", 22, b"BBB");
    assert_eq!(&data[20..], b"AAAAAAAAAA");
}

#[test]
fn in_order_segment_overlapping_held_data_follows_policy() {
    for (policy, want) in [
        (OverlapPolicy::First, &b"0123456789xxxxxAAAAA"[..]),
        (OverlapPolicy::Last, &b"0123456789xxxxxxxxxx"[..]),
    ] {
        let mut h = Harness::new(ReassemblyConfig { policy, ..cfg() });
        h.handshake(0, 0);
        h.seg(C, 1, 1, PA, b"0123456789");
        h.seg(C, 16, 1, PA, b"AAAAA");
        h.seg(C, 11, 1, PA, b"xxxxxxxxxx");
        assert_eq!(h.data(C), want, "policy {policy}");
        assert_eq!(h.session.stream(C).held_segments(), 0);
    }
}

#[test]
fn sequence_numbers_wrap_at_2_pow_32() {
    let mut h = Harness::new(cfg());
    let isn = u32::MAX - 5;
    h.handshake(isn, u32::MAX);
    // data starts at 2^32 - 5 and runs across the wrap; deliver out of order
    h.seg(C, 5, 0, PA, b"KLMNO"); // after the wrap
    h.seg(C, isn.wrapping_add(1), 0, PA, b"ABCDE");
    h.seg(C, 0, 0, PA, b"FGHIJ"); // 2^32 - 5 + 5 = 0
    assert_eq!(h.data(C), b"ABCDEFGHIJKLMNO");
    assert_eq!(h.session.stream(C).next_seq(), 10);
    // server ISN u32::MAX: its data starts at seq 0
    h.seg(S, 0, 10, PA, b"ok");
    assert_eq!(h.data(S), b"ok");
    assert!(h.anomalies().is_empty());
}

#[test]
fn ack_past_a_hole_makes_a_gap() {
    let mut h = Harness::new(cfg());
    h.handshake(1000, 9000);
    h.seg(C, 1001, 9001, PA, b"0123456789");
    // 1011..1021 lost by the capture
    h.seg(C, 1021, 9001, PA, b"KLMNOPQRST");
    assert_eq!(h.data(C), b"0123456789");
    h.seg(S, 9001, 1031, ACK, b"");
    assert_eq!(h.gaps(C), vec![(10, 10)]);
    assert_eq!(h.data(C), b"0123456789KLMNOPQRST");
    assert_eq!(h.budget.counters.anomaly(TcpAnomaly::Gap), 1);
    assert_eq!(h.budget.counters.gap_bytes, 10);
    assert_eq!(h.session.stream(C).gap_bytes(), 10);
    // the window restarts after the gap
    assert_eq!(h.session.stream(C).window(), b"KLMNOPQRST");
    assert_eq!(h.session.stream(C).window_offset(), 20);
    // an ACK beyond anything the client sent does not invent a gap
    h.seg(S, 9001, 5000, ACK, b"");
    assert_eq!(h.gaps(C), vec![(10, 10)]);
}

#[test]
fn full_hold_list_forces_a_gap() {
    let mut h = Harness::new(ReassemblyConfig {
        max_ooo_segments: 2,
        ..cfg()
    });
    h.handshake(0, 0);
    h.seg(C, 11, 1, PA, b"bb"); // 10..12 (0..10 missing)
    h.seg(C, 21, 1, PA, b"cc"); // 20..22
    assert_eq!(h.session.stream(C).held_segments(), 2);
    h.seg(C, 31, 1, PA, b"dd"); // no room: skip to 10
    assert!(h.anomalies().contains(&TcpAnomaly::OutOfOrderLimit));
    assert_eq!(h.gaps(C), vec![(0, 10)]);
    assert_eq!(h.data(C), b"bb");
    assert_eq!(h.session.stream(C).held_segments(), 2);
    h.finish();
    assert_eq!(h.gaps(C), vec![(0, 10), (12, 8), (22, 8)]);
    assert_eq!(h.data(C), b"bbccdd");
    assert_eq!(h.budget.memuse(), 0);
}

#[test]
fn zero_hold_limit_means_gap_at_once() {
    let mut h = Harness::new(ReassemblyConfig {
        max_ooo_segments: 0,
        ..cfg()
    });
    h.handshake(0, 0);
    h.seg(C, 6, 1, PA, b"world");
    assert_eq!(h.gaps(C), vec![(0, 5)]);
    assert_eq!(h.data(C), b"world");
}

#[test]
fn session_end_flushes_with_gaps_and_closes() {
    let mut h = Harness::new(cfg());
    h.handshake(0, 0);
    h.seg(C, 1, 1, PA, b"abc");
    h.seg(C, 7, 1, PA, b"ghi");
    h.finish();
    assert_eq!(h.data(C), b"abcghi");
    assert_eq!(h.gaps(C), vec![(3, 3)]);
    assert_eq!(h.count(&Ev::End(C)), 1);
    assert_eq!(h.count(&Ev::End(S)), 1);
    assert_eq!(h.events.last(), Some(&Ev::Closed(false)));
    assert_eq!(h.budget.memuse(), 0);
}

#[test]
fn depth_limits_each_direction() {
    let mut h = Harness::new(ReassemblyConfig { depth: 25, ..cfg() });
    h.handshake(0, 0);
    h.seg(C, 31, 1, PA, b"later"); // held beyond depth, dropped when depth is reached
    for i in 0..4u32 {
        h.seg(C, 1 + i * 10, 1, PA, b"0123456789");
    }
    assert_eq!(h.data(C), b"0123456789012345678901234");
    assert_eq!(h.anomalies(), vec![TcpAnomaly::DepthReached]);
    assert!(h.session.stream(C).depth_reached());
    assert_eq!(h.session.stream(C).held_segments(), 0);
    // the other direction is not affected
    h.seg(S, 1, 41, PA, b"server says hi");
    assert_eq!(h.data(S), b"server says hi");
    assert_eq!(h.budget.counters.anomaly(TcpAnomaly::DepthReached), 1);
    assert_eq!(
        TcpAnomaly::DepthReached.counter_name(),
        "tcp.stream_depth_reached"
    );
}

#[test]
fn memcap_refuses_out_of_order_but_not_in_order() {
    let mut h = Harness::new(ReassemblyConfig {
        memcap: 200,
        window: 0,
        ..cfg()
    });
    h.handshake(0, 0);
    h.seg(C, 101, 1, PA, &[b'x'; 100]); // held: 100 + overhead fits
    h.seg(C, 301, 1, PA, &[b'y'; 100]); // refused
    assert_eq!(h.anomalies(), vec![TcpAnomaly::SegmentMemcapDrop]);
    assert_eq!(h.budget.counters.anomaly(TcpAnomaly::SegmentMemcapDrop), 1);
    assert_eq!(h.session.stream(C).held_segments(), 1);
    // in-order data still flows
    h.seg(C, 1, 1, PA, &[b'a'; 100]);
    assert_eq!(h.data(C).len(), 200);
    assert_eq!(h.budget.memuse(), 0);
    assert!(h.budget.memuse_peak() <= 200);
    // the refused range becomes a gap once acknowledged
    h.seg(C, 201, 1, PA, &[b'b'; 100]);
    h.seg(C, 401, 1, PA, b"z");
    h.seg(S, 1, 402, ACK, b"");
    assert_eq!(h.gaps(C), vec![(300, 100)]);
    assert_eq!(h.data(C).len(), 301);
}

#[test]
fn midstream_pickup() {
    let mut h = Harness::new(ReassemblyConfig {
        midstream: true,
        ..cfg()
    });
    h.seg(S, 777_000, 5000, PA, b"220 smtp ready\r\n");
    assert!(h.session.is_midstream());
    assert_eq!(h.session.state(), TcpState::Established);
    assert_eq!(h.session.client(), Some(S));
    assert!(h.session.stream(S).is_midstream());
    h.seg(C, 5000, 777_016, PA, b"EHLO x\r\n");
    h.seg(S, 777_016, 5008, PA, b"250 ok\r\n");
    assert_eq!(h.data(S), b"220 smtp ready\r\n250 ok\r\n");
    assert_eq!(h.data(C), b"EHLO x\r\n");
    assert_eq!(h.budget.counters.midstream_pickups, 1);
    assert_eq!(h.count(&Ev::Established), 1);

    // Off by default, as in the reference IDS.
    let mut off = Harness::new(cfg());
    off.seg(S, 777_000, 5000, PA, b"220 smtp ready\r\n");
    assert_eq!(off.session.state(), TcpState::New);
    assert!(off.events.is_empty());
}

#[test]
fn rst_resets_and_later_data_is_ignored() {
    let mut h = Harness::new(cfg());
    h.handshake(0, 0);
    h.seg(C, 1, 1, PA, b"abc");
    h.seg(C, 10, 1, PA, b"held"); // out of order when the RST comes
    h.seg(S, 1, 4, RST | ACK, b"");
    assert_eq!(h.session.state(), TcpState::Reset);
    assert_eq!(h.events.last(), Some(&Ev::Closed(true)));
    assert_eq!(h.count(&Ev::End(C)), 1);
    assert_eq!(h.data(C), b"abcheld");
    h.seg(C, 4, 1, PA, b"more");
    assert_eq!(h.data(C), b"abcheld");
    assert_eq!(h.budget.counters.rst, 1);
}

#[test]
fn rst_far_out_of_window_is_ignored() {
    let mut h = Harness::new(cfg());
    h.handshake(0, 0);
    h.seg(S, 0x4000_0000, 1, RST, b"");
    assert_eq!(h.anomalies(), vec![TcpAnomaly::RstInvalid]);
    assert_eq!(h.session.state(), TcpState::Established);
    h.seg(C, 1, 1, PA, b"still here");
    assert_eq!(h.data(C), b"still here");
}

#[test]
fn fin_in_both_directions_closes() {
    let mut h = Harness::new(cfg());
    h.handshake(100, 500);
    h.seg(C, 101, 501, PA, b"bye");
    h.seg(C, 104, 501, FIN | ACK, b"");
    assert_eq!(h.session.state(), TcpState::FinWait1);
    assert_eq!(h.count(&Ev::End(C)), 1);
    h.seg(S, 501, 105, ACK, b"");
    assert_eq!(h.session.state(), TcpState::FinWait2);
    h.seg(S, 501, 105, FIN | ACK | 0x08, b"ok");
    assert_eq!(h.session.state(), TcpState::Closing);
    assert_eq!(h.count(&Ev::End(S)), 1);
    assert_eq!(h.count(&Ev::Closed(false)), 0);
    h.seg(C, 105, 504, ACK, b"");
    assert_eq!(h.session.state(), TcpState::Closed);
    assert_eq!(h.events.last(), Some(&Ev::Closed(false)));
    assert_eq!(h.data(C), b"bye");
    assert_eq!(h.data(S), b"ok");
    // retransmitted FIN after close changes nothing
    let n = h.events.len();
    h.seg(S, 501, 105, FIN | ACK, b"ok");
    h.finish();
    assert_eq!(h.events.len(), n);
    assert_eq!(h.budget.memuse(), 0);
}

#[test]
fn data_after_fin_is_not_stream_data_and_early_fin_waits_for_data() {
    let mut h = Harness::new(cfg());
    h.handshake(0, 0);
    // FIN arrives before the data preceding it
    h.seg(C, 4, 1, FIN | ACK, b"def");
    assert_eq!(h.count(&Ev::End(C)), 0);
    h.seg(C, 1, 1, PA, b"abcdefXYZ"); // bytes past the FIN are dropped
    assert_eq!(h.data(C), b"abcdef");
    assert_eq!(h.count(&Ev::End(C)), 1);

    // segments held before the FIN shows up are cut at the FIN
    let mut h = Harness::new(cfg());
    h.handshake(0, 0);
    h.seg(C, 4, 1, PA, b"defXY");
    h.seg(C, 20, 1, PA, b"beyond");
    h.seg(C, 7, 1, FIN | ACK, b"");
    assert_eq!(h.session.stream(C).held_segments(), 1);
    h.seg(C, 1, 1, PA, b"abc");
    assert_eq!(h.data(C), b"abcdef");
    assert_eq!(h.count(&Ev::End(C)), 1);
    assert_eq!(h.session.stream(C).memuse(), h.budget.memuse());

    // a FIN behind delivered data is not believed
    let mut h = Harness::new(cfg());
    h.handshake(0, 0);
    h.seg(C, 1, 1, PA, b"abcdef");
    h.seg(C, 3, 1, FIN | ACK, b"");
    assert!(!h.session.stream(C).fin_seen());
    h.seg(C, 7, 1, PA, b"gh");
    assert_eq!(h.data(C), b"abcdefgh");
}

#[test]
fn syn_after_close_is_port_reuse() {
    let mut h = Harness::new(cfg());
    h.handshake(0, 0);
    let syn = Segment {
        seq: 99,
        ack: 0,
        flags: TcpFlags::SYN,
        payload: b"",
        ts_us: 2,
    };
    assert!(!h.session.is_port_reuse(&syn));
    h.seg(C, 1, 1, RST, b"");
    assert!(h.session.is_port_reuse(&syn));
    let synack = Segment {
        flags: TcpFlags::SYN | TcpFlags::ACK,
        ..syn
    };
    assert!(!h.session.is_port_reuse(&synack));
}

#[test]
fn synack_with_wrong_ack_is_ignored() {
    let mut h = Harness::new(cfg());
    h.seg(C, 1000, 0, SYN, b"");
    h.seg(S, 7000, 4242, SYN | ACK, b"");
    assert_eq!(h.anomalies(), vec![TcpAnomaly::SynAckWrongAck]);
    assert_eq!(h.session.state(), TcpState::SynSent);
    h.seg(S, 8000, 1001, SYN | ACK, b"");
    assert_eq!(h.session.state(), TcpState::SynRecv);
    assert_eq!(h.session.stream(S).isn(), Some(8000));
}

#[test]
fn keepalive_probe_is_not_data() {
    for config in [cfg(), acked()] {
        let mut h = Harness::new(config);
        h.handshake(0, 0);
        h.seg(C, 1, 1, PA, b"hello");
        h.seg(C, 5, 1, ACK, b"\0"); // keep-alive: one garbage byte at next_seq - 1
        h.seg(C, 5, 1, ACK, b""); // zero-length variant
        h.seg(S, 1, 6, ACK, b"");
        h.seg(C, 6, 1, PA, b"!");
        h.finish();
        assert_eq!(h.data(C), b"hello!");
        assert!(h.anomalies().is_empty(), "{:?}", h.anomalies());
        assert_eq!(h.budget.counters.keepalive, 2);
    }
}

#[test]
fn split_handshake_and_bare_acks() {
    // SYN, a bare ACK from the server, the server's own SYN, the client's
    // SYN/ACK, the server's ACK, then client data (four-way split handshake)
    let mut h = Harness::new(cfg());
    h.seg(C, 1000, 0, SYN, b"");
    h.seg(S, 2000, 1001, ACK, b"");
    assert!(
        !h.session.stream(S).is_started(),
        "a bare ACK starts no stream"
    );
    h.seg(S, 3000, 0, SYN, b"");
    assert_eq!(h.session.stream(S).isn(), Some(3000));
    h.seg(C, 1000, 3001, SYN | ACK, b"");
    assert_eq!(h.session.state(), TcpState::SynRecv);
    h.seg(S, 3001, 1001, ACK, b"");
    assert_eq!(h.session.state(), TcpState::Established);
    h.seg(C, 1001, 3001, PA, b"EVIL");
    h.seg(S, 3001, 1005, PA, b"ok");
    assert_eq!(h.data(C), b"EVIL");
    assert_eq!(h.data(S), b"ok");
    assert!(h.anomalies().is_empty());
}

#[test]
fn synack_first_when_syn_missing() {
    let mut h = Harness::new(cfg());
    h.seg(S, 7000, 1001, SYN | ACK, b"");
    h.seg(C, 1001, 7001, ACK, b"");
    assert_eq!(h.session.state(), TcpState::Established);
    assert_eq!(h.session.client(), Some(C));
    assert!(!h.session.is_midstream());
    h.seg(C, 1001, 7001, PA, b"hi");
    h.seg(S, 7001, 1003, PA, b"yo");
    assert_eq!(h.data(C), b"hi");
    assert_eq!(h.data(S), b"yo");
}

#[test]
fn window_holds_recent_bytes_only() {
    let mut h = Harness::new(ReassemblyConfig { window: 8, ..cfg() });
    h.handshake(0, 0);
    h.seg(C, 1, 1, PA, b"0123456789");
    h.seg(C, 11, 1, PA, b"abc");
    assert_eq!(h.session.stream(C).window().len(), 8);
    assert_eq!(h.session.stream(C).window(), b"56789abc");
    assert_eq!(h.session.stream(C).window_offset(), 5);
}

fn acked() -> ReassemblyConfig {
    ReassemblyConfig {
        delivery: DeliveryMode::Acked,
        ..cfg()
    }
}

#[test]
fn acked_mode_waits_for_the_ack_and_splits_segments() {
    let mut h = Harness::new(acked());
    h.handshake(0, 0);
    h.seg(C, 1, 1, PA, b"hello ");
    h.seg(C, 7, 1, PA, b"world");
    assert_eq!(h.data(C), b"");
    h.seg(S, 1, 4, ACK, b""); // acknowledges "hel"
    assert_eq!(h.data(C), b"hel");
    h.seg(S, 1, 12, ACK, b"");
    assert_eq!(h.data(C), b"hello world");
    assert_eq!(h.session.stream(C).held_segments(), 0);
    assert!(h.gaps(C).is_empty());
}

#[test]
fn acked_mode_applies_policy_to_unacked_resends() {
    // the suricata-verify "eve-overlap-payload" case: GOOD, then EVIL at the
    // same sequence numbers, then the ACK
    for (policy, want) in [
        (OverlapPolicy::Bsd, &b"GOOD"[..]),
        (OverlapPolicy::First, b"GOOD"),
        (OverlapPolicy::OldLinux, b"EVIL"),
        (OverlapPolicy::Solaris, b"EVIL"),
        (OverlapPolicy::Last, b"EVIL"),
        (OverlapPolicy::Linux, b"GOOD"),
    ] {
        let mut h = Harness::new(ReassemblyConfig { policy, ..acked() });
        h.handshake(1, 1000);
        h.seg(C, 2, 1001, PA, b"GOOD");
        h.seg(C, 2, 1001, PA, b"EVIL");
        h.seg(S, 1001, 6, ACK, b"");
        assert_eq!(h.data(C), want, "policy {policy}");
        assert_eq!(h.anomalies(), vec![TcpAnomaly::OverlapDifferentData]);
    }
    // immediate mode keeps what it already delivered
    let mut h = Harness::new(ReassemblyConfig {
        policy: OverlapPolicy::Last,
        ..cfg()
    });
    h.handshake(1, 1000);
    h.seg(C, 2, 1001, PA, b"GOOD");
    h.seg(C, 2, 1001, PA, b"EVIL");
    assert_eq!(h.data(C), b"GOOD");
    assert_eq!(h.anomalies(), vec![TcpAnomaly::OverlapDifferentData]);
}

#[test]
fn acked_mode_one_sided_still_delivers() {
    let mut h = Harness::new(ReassemblyConfig {
        max_ooo_segments: 4,
        ..acked()
    });
    h.handshake(0, 0);
    for i in 0..10u32 {
        h.seg(C, 1 + i * 3, 1, PA, b"abc");
    }
    // held up to the limit, then delivered one by one
    assert_eq!(h.data(C).len(), 6 * 3);
    assert_eq!(h.session.stream(C).held_segments(), 4);
    h.finish();
    assert_eq!(h.data(C), b"abc".repeat(10));
    assert!(h.gaps(C).is_empty());
    assert_eq!(h.budget.memuse(), 0);

    // memcap: unacknowledged in-order data is delivered rather than dropped
    let mut h = Harness::new(ReassemblyConfig {
        memcap: 200,
        window: 0,
        ..acked()
    });
    h.handshake(0, 0);
    h.seg(C, 1, 1, PA, &[b'a'; 60]);
    assert_eq!(h.data(C), b"");
    h.seg(C, 61, 1, PA, &[b'b'; 60]);
    assert_eq!(h.data(C), [b'a'; 60]);
    assert!(h.anomalies().is_empty());
    h.seg(C, 121, 1, PA, &[b'c'; 60]);
    assert_eq!(h.data(C).len(), 120);
    h.finish();
    assert_eq!(h.data(C).len(), 180);
    assert!(h.anomalies().is_empty());
    assert_eq!(h.budget.memuse(), 0);
}

#[test]
fn session_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<TcpSession>();
    assert_send::<ReassemblyBudget>();
}

/// Small deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[test]
fn random_permutations_rebuild_the_stream() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..3000 {
        let len = 1 + rng.below(3000) as usize;
        let stream: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let isn = rng.next() as u32;
        // cut into segments, add some resends (exact and shifted)
        let mut segs: Vec<(usize, usize)> = Vec::new();
        let mut at = 0;
        while at < len {
            let n = (1 + rng.below(200) as usize).min(len - at);
            segs.push((at, at + n));
            at += n;
        }
        let originals = segs.len();
        for _ in 0..rng.below(8) {
            let a = rng.below(len as u64) as usize;
            let b = (a + 1 + rng.below(300) as usize).min(len);
            segs.push((a, b));
        }
        for i in (1..segs.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            segs.swap(i, j);
        }
        let policy = OverlapPolicy::ALL[round % OverlapPolicy::ALL.len()];
        let delivery = if round % 2 == 0 {
            DeliveryMode::Immediate
        } else {
            DeliveryMode::Acked
        };
        let mut h = Harness::new(ReassemblyConfig {
            policy,
            delivery,
            window: 64,
            ..cfg()
        });
        h.handshake(isn, 1);
        let mut acked = 0;
        for (a, b) in &segs {
            let seq = isn.wrapping_add(1).wrapping_add(*a as u32);
            h.seg(C, seq, 2, PA, &stream[*a..*b]);
            // the receiver acknowledges what it has in order so far
            if delivery == DeliveryMode::Acked && rng.below(3) == 0 {
                acked = h.session.stream(C).offset().max(acked);
                let ack = isn.wrapping_add(1).wrapping_add(acked as u32);
                h.seg(S, 2, ack, ACK, b"");
            }
        }
        if delivery == DeliveryMode::Acked {
            let ack = isn.wrapping_add(1).wrapping_add(len as u32);
            h.seg(S, 2, ack, ACK, b"");
        }
        assert_eq!(
            h.data(C),
            stream,
            "round {round}: {originals} segments {segs:?}"
        );
        assert!(h.gaps(C).is_empty(), "round {round}");
        assert!(
            h.anomalies().is_empty(),
            "round {round}: {:?}",
            h.anomalies()
        );
        assert_eq!(h.session.stream(C).held_segments(), 0);
        let tail = &stream[len.saturating_sub(64)..];
        assert_eq!(h.session.stream(C).window(), tail);
        h.finish();
        assert_eq!(h.budget.memuse(), 0, "round {round}");
    }
}

#[test]
fn random_losses_become_exact_gaps() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let mut exact_rounds = 0;
    for round in 0..2000 {
        let len = 1 + rng.below(4000) as usize;
        let stream: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let isn = rng.next() as u32;
        let mut segs: Vec<(usize, usize)> = Vec::new();
        let mut at = 0;
        while at < len {
            let n = (1 + rng.below(300) as usize).min(len - at);
            if rng.below(8) != 0 {
                segs.push((at, at + n));
            }
            at += n;
        }
        for i in (1..segs.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            segs.swap(i, j);
        }
        let mut covered = vec![false; len];
        for (a, b) in &segs {
            covered[*a..*b].iter_mut().for_each(|c| *c = true);
        }
        let seen_end = covered.iter().rposition(|c| *c).map_or(0, |p| p + 1);
        // with acks, the sensor may give up on a hole before a late segment fills it
        let with_acks = round % 2 == 1;
        let mut h = Harness::new(ReassemblyConfig {
            max_ooo_segments: 1 + rng.below(40) as usize,
            ..cfg()
        });
        h.handshake(isn, 7);
        let mut acked = 0usize;
        for (a, b) in &segs {
            let seq = isn.wrapping_add(1).wrapping_add(*a as u32);
            h.seg(C, seq, 8, PA, &stream[*a..*b]);
            if with_acks && rng.below(4) == 0 {
                acked = acked.max(*b);
                h.seg(
                    S,
                    8,
                    isn.wrapping_add(1).wrapping_add(acked as u32),
                    ACK,
                    b"",
                );
            }
        }
        h.finish();
        // every delivered byte is the original byte at its offset
        let mut rebuilt = vec![None; len];
        for e in &h.events {
            if let Ev::Data(C, off, bytes) = e {
                for (i, b) in bytes.iter().enumerate() {
                    assert_eq!(*b, stream[*off as usize + i], "round {round}");
                    rebuilt[*off as usize + i] = Some(*b);
                }
            }
        }
        // data and gaps tile the stream up to the last byte seen
        let delivered = h.data(C).len() as u64;
        let gap_total: u64 = h.gaps(C).iter().map(|(_, l)| *l).sum();
        assert_eq!(delivered + gap_total, seen_end as u64, "round {round}");
        if !with_acks && h.anomalies().iter().all(|a| *a == TcpAnomaly::Gap) {
            // nothing given up early: exactly the lost bytes are gaps
            exact_rounds += 1;
            for (i, c) in covered.iter().enumerate().take(seen_end) {
                assert_eq!(*c, rebuilt[i].is_some(), "round {round} byte {i}");
            }
        }
        assert_eq!(h.budget.memuse(), 0, "round {round}");
    }
    assert!(
        exact_rounds > 200,
        "only {exact_rounds} rounds checked exactly"
    );
}

#[test]
fn random_garbage_never_panics_and_returns_memory() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let mut totals = TcpCounters::default();
    for round in 0..3000 {
        let config = ReassemblyConfig {
            policy: OverlapPolicy::ALL[round % OverlapPolicy::ALL.len()],
            delivery: if round % 3 == 0 {
                DeliveryMode::Acked
            } else {
                DeliveryMode::Immediate
            },
            depth: [0, 1, 100, 5000][rng.below(4) as usize],
            memcap: [0, 300, 5000, 1 << 20][rng.below(4) as usize],
            max_ooo_segments: rng.below(6) as usize,
            window: [0, 1, 16, 4096][rng.below(4) as usize],
            midstream: rng.below(4) != 0,
            hosts: Default::default(),
        };
        let mut h = Harness::new(config);
        // sequence numbers near a few bases, so segments do land in windows
        let bases = [rng.next() as u32, rng.next() as u32];
        let payload: Vec<u8> = (0..600).map(|_| rng.next() as u8).collect();
        for _ in 0..rng.below(60) {
            let dir = if rng.below(2) == 0 { C } else { S };
            let near = |rng: &mut Rng, base: u32| -> u32 {
                match rng.below(8) {
                    0 => rng.next() as u32,
                    1 => base.wrapping_sub(rng.below(3000) as u32),
                    _ => base.wrapping_add(rng.below(3000) as u32),
                }
            };
            let seq = near(&mut rng, bases[dir.index()]);
            let ack = near(&mut rng, bases[dir.opposite().index()]);
            let mut flags = (rng.next() as u8) & 0x3f;
            if rng.below(3) != 0 {
                flags &= !(SYN | RST);
            }
            let n = rng.below(payload.len() as u64) as usize;
            let from = rng.below((payload.len() - n) as u64 + 1) as usize;
            h.seg(dir, seq, ack, flags, &payload[from..from + n]);
            if rng.below(50) == 0 {
                h.finish();
            }
        }
        h.finish();
        assert_eq!(h.budget.memuse(), 0, "round {round}");
        assert_eq!(h.session.memuse(), 0, "round {round}");
        for dir in [C, S] {
            // offsets of data and gaps stay contiguous (checked inside data())
            let _ = h.data(dir);
            assert!(h.count(&Ev::End(dir)) <= 1, "round {round}");
        }
        assert!(h.count(&Ev::Established) <= 1);
        let closed = h
            .events
            .iter()
            .filter(|e| matches!(e, Ev::Closed(_)))
            .count();
        assert_eq!(closed, 1, "round {round}");
        totals.merge(&h.budget.counters);
    }
    // the garbage reached every path worth reaching
    assert!(totals.reassembled_bytes > 100_000, "{totals:?}");
    assert!(totals.midstream_pickups > 100, "{totals:?}");
    // (more than ten different SYNs in one handshake: a test of its own)
    for a in TcpAnomaly::ALL
        .into_iter()
        .filter(|a| *a != TcpAnomaly::SynFlood)
    {
        assert!(totals.anomaly(a) > 0, "{a:?} never happened: {totals:?}");
    }
}

#[test]
fn syns_past_the_queue_raise_syn_flood_once_each() {
    let mut h = Harness::new(cfg());
    h.seg(C, 1000, 0, SYN, b"");
    // The same SYN again, then ten different ones: remembered, no event.
    h.seg(C, 1000, 0, SYN, b"");
    for k in 0..MAX_SYN_QUEUED as u32 {
        h.seg(C, 2000 + k, 0, SYN, b"");
        h.seg(C, 2000 + k, 0, SYN, b"");
    }
    assert!(h.anomalies().is_empty(), "{:?}", h.anomalies());
    // Each further SYN not remembered raises the event, a repeat too.
    h.seg(C, 9000, 0, SYN, b"");
    h.seg(C, 9000, 0, SYN, b"");
    h.seg(C, 2003, 0, SYN, b"");
    assert_eq!(h.anomalies(), vec![TcpAnomaly::SynFlood; 2]);
    assert_eq!(h.budget.counters.anomaly(TcpAnomaly::SynFlood), 2);
    // The handshake goes on with the last SYN's ISN.
    h.seg(S, 7000, 2004, SYN | ACK, b"");
    h.seg(C, 2004, 7001, ACK, b"");
    assert_eq!(h.session.state(), TcpState::Established);
}
