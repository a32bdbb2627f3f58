//! Decodes Zeek's tunnel/encapsulation btest traces with vigie's decoder and
//! checks that every connection in Zeek's baseline conn.log (dns.log for the
//! IPv6 fragment case) shows up among the tuples vigie decodes, inner and
//! outer (UDP tunnel) alike.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use pcap_parser::{create_reader, Block, PcapBlockOwned, PcapError};
use vigie_sensor::decode::{Decoded, Decoder, DecoderConfig, Packet, TunnelKind, L4};

fn corpus() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    if p.is_dir() {
        return Some(p);
    }
    if std::env::var("VIGIE_EXTERNAL_TESTS").as_deref() == Ok("1") {
        panic!("VIGIE_EXTERNAL_TESTS=1 but {} is missing", p.display());
    }
    eprintln!("skip: corpus not found at {}", p.display());
    None
}

/// (link type, timestamp ns, frame) for every packet of a pcap or pcapng file.
fn read_pcap(path: &Path) -> Result<Vec<(u32, u64, Vec<u8>)>, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut reader = create_reader(1 << 16, f).map_err(|e| format!("{}: {e:?}", path.display()))?;
    let mut out = Vec::new();
    let mut legacy_lt = 1u32;
    let mut legacy_nanos = false;
    let mut ifaces: Vec<(u32, u64)> = Vec::new(); // (linktype, ticks per second)
    loop {
        match reader.next() {
            Ok((n, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy_lt = h.network.0 as u32;
                        legacy_nanos = h.is_nanosecond_precision();
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let frac = if legacy_nanos {
                            u64::from(b.ts_usec)
                        } else {
                            u64::from(b.ts_usec) * 1000
                        };
                        let ts = u64::from(b.ts_sec) * 1_000_000_000 + frac;
                        let len = (b.caplen as usize).min(b.data.len());
                        out.push((legacy_lt, ts, b.data[..len].to_vec()));
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => ifaces.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        ifaces.push((
                            idb.linktype.0 as u32,
                            idb.ts_resolution().unwrap_or(1_000_000),
                        ));
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let (lt, res) = ifaces
                            .get(epb.if_id as usize)
                            .copied()
                            .unwrap_or((1, 1_000_000));
                        let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                        let res = res.max(1);
                        let ts = (ticks / res).saturating_mul(1_000_000_000)
                            + ticks % res * 1_000_000_000 / res;
                        let len = (epb.caplen as usize).min(epb.data.len());
                        out.push((lt, ts, epb.data[..len].to_vec()));
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        let lt = ifaces.first().map_or(1, |i| i.0);
                        out.push((lt, 0, spb.data.to_vec()));
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                reader.consume(n);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if reader.refill().is_err() {
                    break;
                }
            }
            Err(e) => return Err(format!("{}: {e:?}", path.display())),
        }
    }
    Ok(out)
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Tuple {
    a: IpAddr,
    ap: u16,
    b: IpAddr,
    bp: u16,
    /// IP protocol; ICMPv4 and ICMPv6 are both 1, as Zeek logs both as "icmp".
    proto: u8,
}

fn add_tuples(p: &Packet, set: &mut HashSet<Tuple>) {
    for t in p.tunnels() {
        if t.proto == 17 {
            set.insert(Tuple {
                a: t.src,
                ap: t.sport,
                b: t.dst,
                bp: t.dport,
                proto: 17,
            });
        }
    }
    let Some(l3) = p.l3 else { return };
    let (ap, bp, proto) = match p.l4 {
        L4::Tcp(t) => (t.sport, t.dport, 6),
        L4::Udp { sport, dport, .. } => (sport, dport, 17),
        // ICMP: keep the type as the first port; Zeek logs (type, code or counterpart).
        L4::Icmp4 { itype, .. } | L4::Icmp6 { itype, .. } => (u16::from(itype), 0, 1),
        L4::Other(p) => (0, 0, p),
        _ => return,
    };
    set.insert(Tuple {
        a: l3.src,
        ap,
        b: l3.dst,
        bp,
        proto,
    });
}

/// Zeek's (orig_h, orig_p, resp_h, resp_p, proto) rows of a conn/dns log.
fn zeek_conns(log: &Path) -> Vec<Tuple> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut idx = None;
    let mut rows = Vec::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("#fields\t") {
            let names: Vec<&str> = f.split('\t').collect();
            let pos = |n: &str| names.iter().position(|x| *x == n);
            idx = Some([
                pos("id.orig_h"),
                pos("id.orig_p"),
                pos("id.resp_h"),
                pos("id.resp_p"),
                pos("proto"),
                pos("ip_proto"),
            ]);
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let Some([Some(oh), Some(op), Some(rh), Some(rp), Some(pr), ipp]) = idx else {
            continue;
        };
        let c: Vec<&str> = line.split('\t').collect();
        let (Some(a), Some(b)) = (
            c.get(oh).and_then(|s| s.parse().ok()),
            c.get(rh).and_then(|s| s.parse().ok()),
        ) else {
            continue;
        };
        let proto = match c.get(pr).copied() {
            Some("tcp") => 6,
            Some("udp") => 17,
            Some("icmp") => 1,
            // Zeek's unknown_transport rows carry the number in ip_proto.
            Some("unknown_transport") => {
                match ipp.and_then(|i| c.get(i)).and_then(|s| s.parse().ok()) {
                    Some(n) => n,
                    None => continue,
                }
            }
            _ => continue,
        };
        rows.push(Tuple {
            a,
            ap: c.get(op).and_then(|s| s.parse().ok()).unwrap_or(0),
            b,
            bp: c.get(rp).and_then(|s| s.parse().ok()).unwrap_or(0),
            proto,
        });
    }
    rows
}

/// Zeek's tunnel type for a vigie tunnel kind.
fn zeek_tunnel_type(k: TunnelKind) -> &'static str {
    match k {
        TunnelKind::Gre | TunnelKind::Erspan | TunnelKind::Pptp => "Tunnel::GRE",
        TunnelKind::IpInIp
        | TunnelKind::SixInFour
        | TunnelKind::FourInSix
        | TunnelKind::SixInSix => "Tunnel::IP",
        TunnelKind::Vxlan | TunnelKind::VxlanGpe => "Tunnel::VXLAN",
        TunnelKind::Geneve => "Tunnel::GENEVE",
        TunnelKind::GtpU => "Tunnel::GTPv1",
        TunnelKind::Teredo => "Tunnel::TEREDO",
        TunnelKind::Ayiya => "Tunnel::AYIYA",
    }
}

/// Zeek's tunnel.log rows: (orig_h, orig_p, resp_h, resp_p, tunnel_type).
fn zeek_tunnels(log: &Path) -> Vec<(IpAddr, u16, IpAddr, u16, String)> {
    let Ok(text) = std::fs::read_to_string(log) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            Some((
                c.get(2)?.parse().ok()?,
                c.get(3)?.parse().ok()?,
                c.get(4)?.parse().ok()?,
                c.get(5)?.parse().ok()?,
                c.get(6)?.to_string(),
            ))
        })
        .collect()
}

fn seen(set: &HashSet<Tuple>, z: &Tuple) -> bool {
    if z.proto == 1 {
        // Zeek: orig_p is the originator's type; resp_p the counterpart type or the code.
        return set.iter().any(|v| {
            v.proto == 1
                && ((v.a == z.a && v.b == z.b && v.ap == z.ap)
                    || (v.a == z.b && v.b == z.a && v.ap == z.bp))
        });
    }
    let rev = Tuple {
        a: z.b,
        ap: z.bp,
        b: z.a,
        bp: z.ap,
        proto: z.proto,
    };
    set.contains(z) || set.contains(&rev)
}

const CASES: &[&str] = &[
    "core-tunnels-vxlan",
    "core-tunnels-geneve",
    "core-tunnels-gre",
    "core-tunnels-gre-pptp",
    "core-erspanII",
    "core-tunnels-teredo",
    "core-tunnels-gtp-outer_ip_frag",
    "core-tunnels-ayiya",
    "core-vlan-mpls",
    "core-mpls-in-vlan",
    "core-q-in-q",
    "core-pppoe",
    "core-vntag",
    "core-ipv6-frag",
    "core-tunnels-analyzer-confirmation",
];

#[test]
fn zeek_tunnel_cases_match_conn_log() {
    let Some(corpus) = corpus() else { return };
    let mut failures = Vec::new();
    for case in CASES {
        let dir = corpus.join("expected/zeek").join(case);
        let pcap = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
            .unwrap_or_else(|| panic!("no trace in {}", dir.display()));
        let log = if dir.join("conn.log").exists() {
            dir.join("conn.log")
        } else {
            dir.join("dns.log")
        };
        let frames = read_pcap(&pcap).unwrap_or_else(|e| panic!("{e}"));
        let mut dec = Decoder::new(DecoderConfig::default());
        let mut set = HashSet::new();
        let mut out = Packet::default();
        let mut tunnels = 0;
        let mut tunnel_set: HashSet<(IpAddr, u16, IpAddr, u16, &'static str)> = HashSet::new();
        for (lt, ts, f) in &frames {
            match dec.decode(*lt, *ts, f, &mut out) {
                Decoded::Ok | Decoded::Reassembled => {
                    tunnels += usize::from(out.tunnel_count);
                    for t in out.tunnels() {
                        let ty = zeek_tunnel_type(t.kind);
                        tunnel_set.insert((t.src, t.sport, t.dst, t.dport, ty));
                        tunnel_set.insert((t.dst, t.dport, t.src, t.sport, ty));
                    }
                    add_tuples(&out, &mut set);
                }
                Decoded::FragmentHeld | Decoded::NoL3 => {}
            }
        }
        let zeek = zeek_conns(&log);
        assert!(!zeek.is_empty(), "{case}: no rows in {}", log.display());
        let missing: Vec<&Tuple> = zeek.iter().filter(|z| !seen(&set, z)).collect();
        eprintln!(
            "{case}: {}/{} Zeek conns matched; {} packets, {} tunnel layers, {} anomalies, {} reassembled",
            zeek.len() - missing.len(),
            zeek.len(),
            frames.len(),
            tunnels,
            dec.counters.anomalies(),
            dec.counters.get("defrag.ipv4.reassembled").unwrap_or(0) + dec.counters.get("defrag.ipv6.reassembled").unwrap_or(0),
        );
        let ztun = zeek_tunnels(&dir.join("tunnel.log"));
        for (a, ap, b, bp, ty) in &ztun {
            if !tunnel_set
                .iter()
                .any(|(x, xp, y, yp, t)| x == a && xp == ap && y == b && yp == bp && t == ty)
            {
                eprintln!("  missing tunnel {a}:{ap} -> {b}:{bp} {ty}");
                failures.push(format!("{case}: tunnel {a}:{ap} -> {b}:{bp} {ty}"));
            }
        }
        if !ztun.is_empty() {
            eprintln!("  {} Zeek tunnel.log rows checked", ztun.len());
        }
        for m in &missing {
            eprintln!("  missing {m:?}");
            failures.push(format!("{case}: {m:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "unmatched Zeek connections: {failures:#?}"
    );
}

const ARKIME_CASES: &[&str] = &[
    "6-4-gre-ppp-udp-4-dns",
    "gre-erspan-vxlan",
    "gre-erspan",
    "gre-sample",
    "gtp-iphone",
    "gtp-u",
    "ipv6-gtp6",
    "ipv6-in-ipv4",
    "mpls-basic",
    "nflog",
    "pppoe",
    "socks5-http-302-frag",
    "tcpdump-geneve",
    "twovlan",
    "vxlan",
];

/// Arkime's expected sessions for its tunnel traces: every session's IP pair
/// and protocol (and ports, where Arkime gives them) must be among the inner
/// or outer tuples vigie decodes.
#[test]
fn arkime_tunnel_cases_match_sessions() {
    let Some(corpus) = corpus() else { return };
    let mut failures = Vec::new();
    for case in ARKIME_CASES {
        let dir = corpus.join("expected/arkime").join(case);
        let frames = read_pcap(&dir.join(format!("{case}.pcap"))).unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(dir.join(format!("{case}.test")))
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        let json: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{case}: {e}"));
        let mut dec = Decoder::new(DecoderConfig::default());
        let mut out = Packet::default();
        let mut seen_tuples: HashSet<(IpAddr, u16, IpAddr, u16, u8)> = HashSet::new();
        for (lt, ts, f) in &frames {
            if matches!(
                dec.decode(*lt, *ts, f, &mut out),
                Decoded::Ok | Decoded::Reassembled
            ) {
                for t in out.tunnels() {
                    seen_tuples.insert((t.src, t.sport, t.dst, t.dport, t.proto));
                }
                if let Some(l3) = out.l3 {
                    let (sp, dp) = out.ports();
                    seen_tuples.insert((l3.src, sp, l3.dst, dp, l3.proto));
                }
            }
        }
        let sessions = json["sessions3"].as_array().cloned().unwrap_or_default();
        assert!(!sessions.is_empty(), "{case}: no sessions");
        let (mut matched, mut non_ip) = (0, 0);
        for s in &sessions {
            let b = &s["body"];
            let ip = |side: &str| {
                b[side]["ip"]
                    .as_str()
                    .and_then(|s| s.parse::<IpAddr>().ok())
            };
            let port = |side: &str| b[side]["port"].as_u64().unwrap_or(0) as u16;
            let (Some(a), Some(z)) = (ip("source"), ip("destination")) else {
                non_ip += 1;
                continue;
            };
            let (ap, zp) = (port("source"), port("destination"));
            let proto = b["ipProtocol"].as_u64().unwrap_or(0) as u8;
            let ports_known = ap != 0 && zp != 0;
            let hit = seen_tuples.iter().any(|&(x, xp, y, yp, p)| {
                p == proto
                    && ((x == a && y == z && (!ports_known || (xp == ap && yp == zp)))
                        || (x == z && y == a && (!ports_known || (xp == zp && yp == ap))))
            });
            if hit {
                matched += 1;
            } else {
                eprintln!("  {case}: missing {a}:{ap} -> {z}:{zp} proto {proto}");
                failures.push(format!("{case}: {a}:{ap} -> {z}:{zp} proto {proto}"));
            }
        }
        eprintln!(
            "arkime {case}: {matched}/{} IP sessions matched ({non_ip} non-IP sessions skipped); {} packets",
            sessions.len() - non_ip,
            frames.len()
        );
    }
    assert!(
        failures.is_empty(),
        "unmatched Arkime sessions: {failures:#?}"
    );
}
