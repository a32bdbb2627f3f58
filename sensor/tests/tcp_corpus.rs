//! TCP reassembly against real captures: for every connection in a few Zeek
//! test traces, the bytes [`TcpSession`] delivers per direction must equal a
//! naive reassembly (sort segments by sequence number, first copy of each
//! byte wins, stop at the FIN).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use pcap_parser::PcapCapture;
use vigie_sensor::flow::reassembly::{
    DeliveryMode, Direction, OverlapPolicy, ReassemblyBudget, ReassemblyConfig, Segment,
    StreamEvent, TcpAnomaly, TcpFlags, TcpSession,
};

/// Captures that hold complete, well-formed TCP connections.
const TRACES: &[&str] = &[
    "http/get.pcap",
    "http/bro.org.pcap",
    "http/http-post-large.pcap",
    "http/pipelined-requests.pcap",
    "http/putty-upload.pcap",
    "http/m57-long-49600-80.pcap",
    "ftp/retr.pcap",
    "smtp.pcap",
    "tcp/option-sack.pcap",
    "tcp/reassembly.pcap",
    "tcp/retransmit-fast009.pcap",
    "pe/pe.pcap",
    "ftp/ipv6-retr-samba.pcap",
    "ftp/ipv6.pcap",
    "smb/smb2readwrite.pcap",
    "ssh/single-conn.pcap",
    "tls/ecdhe.pcap",
    "tls/chrome-34-google.pcap",
];

fn corpus_dir() -> Option<PathBuf> {
    shared_dir("corpus/pcaps/zeek")
}

/// `<crate>/../../shared/<sub>`, or None (skip) when absent and
/// VIGIE_EXTERNAL_TESTS is not 1.
fn shared_dir(sub: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared")
        .join(sub);
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("VIGIE_EXTERNAL_TESTS").as_deref() == Ok("1") {
        panic!(
            "corpus missing at {} (VIGIE_EXTERNAL_TESTS=1)",
            dir.display()
        );
    }
    eprintln!("skipping: corpus not found at {}", dir.display());
    None
}

/// One TCP segment pulled out of a frame.
struct Tcp<'a> {
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &'a [u8],
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Ethernet (optionally VLAN-tagged) / IPv4 or IPv6 / TCP, nothing else.
fn parse_frame(frame: &[u8]) -> Option<Tcp<'_>> {
    let mut ethertype = be16(frame, 12)?;
    let mut at = 14;
    while ethertype == 0x8100 || ethertype == 0x88a8 {
        ethertype = be16(frame, at + 2)?;
        at += 4;
    }
    let ip = frame.get(at..)?;
    let (src, dst, l4) = match ethertype {
        0x0800 => {
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            let total = usize::from(be16(ip, 2)?);
            let frag = be16(ip, 6)? & 0x3fff;
            if *ip.get(9)? != 6 || frag != 0 || ihl < 20 || total < ihl {
                return None;
            }
            let s: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
            let d: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
            (IpAddr::from(s), IpAddr::from(d), ip.get(ihl..total)?)
        }
        0x86dd => {
            let plen = usize::from(be16(ip, 4)?);
            if *ip.get(6)? != 6 {
                return None;
            }
            let s: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let d: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            (IpAddr::from(s), IpAddr::from(d), ip.get(40..40 + plen)?)
        }
        _ => return None,
    };
    let off = usize::from(l4.get(12)? >> 4) * 4;
    Some(Tcp {
        src: (src, be16(l4, 0)?),
        dst: (dst, be16(l4, 2)?),
        seq: be32(l4, 4)?,
        ack: be32(l4, 8)?,
        flags: *l4.get(13)?,
        payload: l4.get(off..)?,
    })
}

/// What one direction of one connection sent and what reassembly made of it.
#[derive(Default)]
struct Side {
    syn_seq: Option<u32>,
    fin_seq: Option<u32>,
    segments: Vec<(u32, Vec<u8>)>,
    delivered: Vec<(u64, Vec<u8>)>,
    gaps: Vec<(u64, u64)>,
    anomalies: Vec<TcpAnomaly>,
}

impl Side {
    /// Sort-and-dedup reassembly from the SYN: `(bytes, holes, conflicts)`.
    fn naive(&self) -> Option<(Vec<u8>, usize, usize)> {
        let base = self.syn_seq?.wrapping_add(1);
        let end = self.fin_seq.map(|f| f.wrapping_sub(base) as usize);
        let mut segs: Vec<(usize, &[u8])> = self
            .segments
            .iter()
            .filter(|(seq, p)| (seq.wrapping_sub(base) as i32) >= 0 && !p.is_empty())
            .map(|(seq, p)| (seq.wrapping_sub(base) as usize, p.as_slice()))
            .collect();
        segs.sort_by_key(|(off, _)| *off);
        let mut bytes: Vec<Option<u8>> = Vec::new();
        let mut conflicts = 0;
        for (off, p) in segs {
            for (i, b) in p.iter().enumerate() {
                let at = off + i;
                if end.is_some_and(|e| at >= e) {
                    break;
                }
                if bytes.len() <= at {
                    bytes.resize(at + 1, None);
                }
                match bytes[at] {
                    None => bytes[at] = Some(*b),
                    Some(old) if old != *b => conflicts += 1,
                    Some(_) => {}
                }
            }
        }
        let holes = bytes.iter().filter(|b| b.is_none()).count();
        Some((
            bytes.iter().map(|b| b.unwrap_or(0)).collect(),
            holes,
            conflicts,
        ))
    }

    fn reassembled(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (off, d) in &self.delivered {
            assert_eq!(
                *off as usize,
                out.len() + self.gap_bytes_before(*off),
                "offsets out of step"
            );
            out.extend_from_slice(d);
        }
        out
    }

    /// The stream as Suricata prints it: gaps as "[N bytes missing]".
    fn printable(&self) -> String {
        let mut events: Vec<(u64, String)> = self
            .delivered
            .iter()
            .map(|(o, d)| (*o, String::from_utf8_lossy(d).into_owned()))
            .chain(
                self.gaps
                    .iter()
                    .map(|(o, l)| (*o, format!("[{l} bytes missing]"))),
            )
            .collect();
        events.sort_by_key(|(o, _)| *o);
        events.into_iter().map(|(_, s)| s).collect()
    }

    fn gap_bytes_before(&self, off: u64) -> usize {
        self.gaps
            .iter()
            .filter(|(g, _)| *g < off)
            .map(|(_, l)| *l as usize)
            .sum()
    }
}

struct Conn {
    client: (IpAddr, u16),
    session: TcpSession,
    sides: [Side; 2],
}

#[derive(Default)]
struct Totals {
    streams: usize,
    verified: usize,
    verified_bytes: usize,
    skipped: usize,
}

/// Feeds every TCP segment of a capture to one session per connection.
fn replay(path: &Path, config: &ReassemblyConfig) -> (Vec<Conn>, ReassemblyBudget) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let capture =
        PcapCapture::from_file(&bytes).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    let mut budget = ReassemblyBudget::new(config.clone());
    let mut live: HashMap<[(IpAddr, u16); 2], Conn> = HashMap::new();
    let mut done: Vec<Conn> = Vec::new();
    for block in &capture.blocks {
        let Some(tcp) = parse_frame(block.data) else {
            continue;
        };
        let key = if tcp.src <= tcp.dst {
            [tcp.src, tcp.dst]
        } else {
            [tcp.dst, tcp.src]
        };
        let seg = Segment {
            seq: tcp.seq,
            ack: tcp.ack,
            flags: TcpFlags(tcp.flags),
            payload: tcp.payload,
            ts_us: u64::from(block.ts_sec) * 1_000_000 + u64::from(block.ts_usec),
        };
        if live
            .get(&key)
            .is_some_and(|c| c.session.is_port_reuse(&seg))
        {
            if let Some(mut old) = live.remove(&key) {
                let Conn { session, sides, .. } = &mut old;
                session.finish(&mut budget, &mut |e| record(sides, e));
                done.push(old);
            }
        }
        let conn = live.entry(key).or_insert_with(|| Conn {
            client: tcp.src,
            session: TcpSession::new(config),
            sides: [Side::default(), Side::default()],
        });
        let dir = if tcp.src == conn.client {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let side = &mut conn.sides[dir.index()];
        if tcp.flags & 0x02 != 0 && side.syn_seq.is_none() {
            side.syn_seq = Some(tcp.seq);
        }
        if tcp.flags & 0x01 != 0 && side.fin_seq.is_none() {
            side.fin_seq = Some(tcp.seq.wrapping_add(tcp.payload.len() as u32));
        }
        if tcp.flags & 0x04 == 0 {
            side.segments.push((tcp.seq, tcp.payload.to_vec()));
        }
        let Conn { session, sides, .. } = conn;
        session.on_segment(dir, &seg, &mut budget, &mut |e| record(sides, e));
    }
    for (_, mut conn) in live.drain() {
        let Conn { session, sides, .. } = &mut conn;
        session.finish(&mut budget, &mut |e| record(sides, e));
        done.push(conn);
    }
    assert_eq!(
        budget.memuse(),
        0,
        "{}: memory not returned",
        path.display()
    );
    (done, budget)
}

fn check_trace(path: &Path, delivery: DeliveryMode, totals: &mut Totals) {
    let config = ReassemblyConfig {
        depth: 0,
        delivery,
        ..ReassemblyConfig::default()
    };
    let (done, _) = replay(path, &config);
    for conn in &done {
        for (i, side) in conn.sides.iter().enumerate() {
            totals.streams += 1;
            let Some((naive, holes, conflicts)) = side.naive() else {
                eprintln!("  {:?} dir {i}: no SYN seen, not compared", conn.client);
                totals.skipped += 1;
                continue;
            };
            let got = side.reassembled();
            if holes == 0 && conflicts == 0 {
                assert!(
                    side.gaps.is_empty(),
                    "{} {:?} dir {i}: gaps {:?} in a complete stream",
                    path.display(),
                    conn.client,
                    side.gaps
                );
                assert_eq!(
                    got.len(),
                    naive.len(),
                    "{} {:?} dir {i}: length differs",
                    path.display(),
                    conn.client
                );
                assert!(
                    got == naive,
                    "{} {:?} dir {i}: bytes differ",
                    path.display(),
                    conn.client
                );
                totals.verified += 1;
                totals.verified_bytes += got.len();
            } else {
                // incomplete capture: every delivered byte must still be the naive one
                for (off, d) in &side.delivered {
                    let off = *off as usize;
                    if conflicts == 0 {
                        assert_eq!(
                            naive.get(off..off + d.len()),
                            Some(d.as_slice()),
                            "{}",
                            path.display()
                        );
                    }
                }
                eprintln!(
                    "  {:?} dir {i}: {holes} missing and {conflicts} conflicting bytes, \
                     {} delivered bytes checked, {} gaps",
                    conn.client,
                    got.len(),
                    side.gaps.len()
                );
                totals.skipped += 1;
            }
        }
    }
}

fn record(sides: &mut [Side; 2], e: StreamEvent<'_>) {
    match e {
        StreamEvent::Data { dir, offset, data } => {
            sides[dir.index()].delivered.push((offset, data.to_vec()))
        }
        StreamEvent::Gap { dir, offset, len } => sides[dir.index()].gaps.push((offset, len)),
        StreamEvent::Anomaly { dir, anomaly } => sides[dir.index()].anomalies.push(anomaly),
        _ => {}
    }
}

#[test]
fn reassembly_matches_naive_reassembly_on_zeek_traces() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    let mut totals = Totals::default();
    for delivery in [DeliveryMode::Immediate, DeliveryMode::Acked] {
        for t in TRACES {
            let path = dir.join(t);
            if !path.is_file() {
                panic!("trace missing from corpus: {}", path.display());
            }
            let before = totals.verified;
            check_trace(&path, delivery, &mut totals);
            eprintln!(
                "{delivery:?} {t}: {} streams verified",
                totals.verified - before
            );
        }
    }
    eprintln!(
        "streams {} verified {} ({} bytes) skipped {}",
        totals.streams, totals.verified, totals.verified_bytes, totals.skipped
    );
    assert!(
        totals.verified >= 80,
        "too few complete streams verified: {}",
        totals.verified
    );
    assert!(
        totals.verified_bytes >= 1_000_000,
        "too few bytes verified: {}",
        totals.verified_bytes
    );
}

/// Cases from suricata-verify (tests/<name>/ pcap + expected stream alerts),
/// checked on the reassembled client or server stream.
struct VerifyCase {
    test: &'static str,
    pcap: &'static str,
    /// Source port of the connection's client.
    client_port: u16,
    policy: OverlapPolicy,
    dir: Direction,
    /// The whole reassembled stream, gaps printed as Suricata prints them.
    stream: &'static str,
    overlap_diff: bool,
}

const VERIFY_CASES: &[VerifyCase] = &[
    // GOOD then EVIL at the same sequence numbers; default policy keeps GOOD
    VerifyCase {
        test: "eve-overlap-payload-01",
        pcap: "tcp-overlap.pcap",
        client_port: 12345,
        policy: OverlapPolicy::Bsd,
        dir: Direction::ToServer,
        stream: "GOOD",
        overlap_diff: true,
    },
    VerifyCase {
        test: "eve-payload-01-tcp-exact-overlap",
        pcap: "tcp-overlap.pcap",
        client_port: 12345,
        policy: OverlapPolicy::Bsd,
        dir: Direction::ToServer,
        stream: "GOOD",
        overlap_diff: true,
    },
    // same traffic, receiver runs old-linux: EVIL replaces GOOD
    VerifyCase {
        test: "eve-overlap-payload-02-policy-oldlinux",
        pcap: "tcp-overlap.pcap",
        client_port: 12345,
        policy: OverlapPolicy::OldLinux,
        dir: Direction::ToServer,
        stream: "EVIL",
        overlap_diff: true,
    },
    VerifyCase {
        test: "eve-payload-02-tcp-exact-overlap-policy-oldlinux",
        pcap: "tcp-overlap.pcap",
        client_port: 12345,
        policy: OverlapPolicy::OldLinux,
        dir: Direction::ToServer,
        stream: "EVIL",
        overlap_diff: true,
    },
    // GOOD then XXX one byte later: XXX never makes it into the stream
    VerifyCase {
        test: "eve-overlap-payload-04-partial-overlap",
        pcap: "tcp-overlap2.pcap",
        client_port: 12345,
        policy: OverlapPolicy::Bsd,
        dir: Direction::ToServer,
        stream: "GOOD",
        overlap_diff: true,
    },
    // the first 4 bytes ("VERY") never sent: the stream starts with a gap
    VerifyCase {
        test: "eve-payload-06-tcp-data-leading-gap",
        pcap: "tcp-leading-gap.pcap",
        client_port: 12345,
        policy: OverlapPolicy::Bsd,
        dir: Direction::ToServer,
        stream: "[4 bytes missing]GOODDATA",
        overlap_diff: false,
    },
    // RST before the data is acknowledged: the unacked data is still
    // inspected ("Me In" matches); the missing "Let " is a gap here
    VerifyCase {
        test: "tcp-rst-unacked-stream-03-gap",
        pcap: "input.pcap",
        client_port: 12345,
        policy: OverlapPolicy::Bsd,
        dir: Direction::ToClient,
        stream: "Please [4 bytes missing]Me In!",
        overlap_diff: false,
    },
    // RST carrying text: the text is not stream data
    VerifyCase {
        test: "bug-6244-tcp-rst-with-data",
        pcap: "tcp-rst-with-data.pcap",
        client_port: 12345,
        policy: OverlapPolicy::Bsd,
        dir: Direction::ToClient,
        stream: "Please Let Me In!",
        overlap_diff: false,
    },
    VerifyCase {
        test: "bug-6244-tcp-rst-with-data",
        pcap: "tcp-rst-with-data.pcap",
        client_port: 12345,
        policy: OverlapPolicy::Bsd,
        dir: Direction::ToServer,
        stream: "",
        overlap_diff: false,
    },
    // four-way split handshake: the client's data is still the client stream
    VerifyCase {
        test: "tcp-split-handshake-01-4whs",
        pcap: "split-handshake-4whs.pcap",
        client_port: 12345,
        policy: OverlapPolicy::Bsd,
        dir: Direction::ToServer,
        stream: "EVIL",
        overlap_diff: false,
    },
    // TCP Fast Open: the request rides on the SYN
    VerifyCase {
        test: "tcp-fastopen-01",
        pcap: "tfo.pcap",
        client_port: 55534,
        policy: OverlapPolicy::Bsd,
        dir: Direction::ToServer,
        stream: "GET //index.php?page=../../../etc/passwd HTTP/1.0\r\nUser-Agent: czxt2s\r\nAccept: */*\r\n\r\n",
        overlap_diff: false,
    },
];

#[test]
fn suricata_verify_overlap_and_gap_cases() {
    let Some(dir) = shared_dir("suricata-verify/tests") else {
        return;
    };
    for case in VERIFY_CASES {
        let path = dir.join(case.test).join(case.pcap);
        if !path.is_file() {
            panic!("suricata-verify case missing: {}", path.display());
        }
        // in Acked mode, as Suricata in IDS mode; Immediate mode only
        // differs where in-order data is resent differently before the ACK
        let config = ReassemblyConfig {
            policy: case.policy,
            delivery: DeliveryMode::Acked,
            ..ReassemblyConfig::default()
        };
        let (conns, budget) = replay(&path, &config);
        let Some(conn) = conns.iter().find(|c| c.client.1 == case.client_port) else {
            panic!(
                "{}: no connection from port {}",
                case.test, case.client_port
            );
        };
        let side = &conn.sides[case.dir.index()];
        assert_eq!(side.printable(), case.stream, "{}", case.test);
        let diff = side.anomalies.contains(&TcpAnomaly::OverlapDifferentData);
        assert_eq!(
            diff, case.overlap_diff,
            "{}: {:?}",
            case.test, side.anomalies
        );
        assert_eq!(
            budget.counters.anomaly(TcpAnomaly::OverlapDifferentData) > 0,
            case.overlap_diff
        );
    }
}

#[test]
fn anomaly_event_names_exist_in_suricata_stream_event_rules() {
    let Some(dir) = shared_dir("corpus/rules/suricata-builtin-events") else {
        return;
    };
    let path = dir.join("stream-events.rules");
    let rules =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut named = 0;
    for anomaly in TcpAnomaly::ALL {
        if let Some(event) = anomaly.suricata_event() {
            let keyword = format!("stream-event:{event};");
            assert!(
                rules.contains(&keyword),
                "{keyword} not in {}",
                path.display()
            );
            named += 1;
        }
    }
    assert!(named >= 4);
}
