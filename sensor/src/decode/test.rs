//! Decoder tests on real frames (Zeek btest traces) and the corpus sweep.

use super::*;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

use pcap_parser::{create_reader, Block, PcapBlockOwned, PcapError};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

// Frame 1 of Zeek's q-in-q.pcap: two 802.1Q tags (13, 10), IPv4/UDP 47808.
const QINQ: &str = "ffffffffffff00c0e4012ced8100000d8100000a08004500002e479600004011749eac133325ac13333fbac0bac0001ab9da810b00120120ffff00ff10080a1b591a1b59";
// Frame 1 of Zeek's vntag.pcap: VN-Tag, 802.1Q 11, IPv4 protocol 253.
const VNTAG: &str = "0000010200010000010100018926000000008100000b080045000064acb80000fffd08e101010101010102011b794b175fac06aba65841255f34e28cae99cd04bf24d948801f4ef812dc0b6d453274390619cc75bf7a7b5f95dea5a3ebdc42df57cd94a301fe7983bfcbd306edd988b6f69b206263fa163948011d6aa5f1b87d";
// Frame 1 of Zeek's erspanII.pcap: IPv4/GRE/ERSPAN II/Ethernet/IPv4/ICMP echo.
const ERSPAN2: &str = "6400f1e201126400f1e2010108004500009600004000fe2f76330202020201010101100088be0000070410170864000000006400f1e103036400f1e1020208004500006408940000ff0185001700000217000003080057b5001600000000000000a825d7abcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcd";
// Frame 1 of Zeek's gre-pptp.pcap: 802.1Q 100, IPv6, IPv4 (4in6), GRE v1, PPP, IPv4/UDP DNS.
const PPTP: &str = "c500000082c400121ef2613d8100006486dd60000000008b04f62402f00000018e0100000000000055552607fcd00100230000000000b1082a6b4500008b8caf0000402f75fe100000c8c034a69a3081880b0067178000068fb100083a76ff03002145000063000040003c115667ac102c03080808089f400035004f2d23a62c01000001000000000000357871742d6465746563742d6d6f6465322d39373731326538382d313637612d343562392d393365652d39313331343065373636373800001c0001";
// Frame 1 of Zeek's vxlan.pcap: VXLAN carrying ARP.
const VXLAN_ARP: &str = "080027f21d8c080027ae4d6208004500004ed998400040116f9ec0a8380bc0a8380c9bf412b5003a00000800000000007b00ffffffffffffba092b6ef8be08060001080006040001ba092b6ef8be0a0000010000000000000a000002";
// Frame 5 of Zeek's pppoe.pcap: PPPoE session carrying LCP.
const PPPOE_LCP: &str = "ca010e880006cc050e880000886411000011000cc0210101000a050605fcd45900000000000000000000000000000000000000000000000000000000";

fn decode_one(dlt: u32, frame: &[u8]) -> (Decoded, Packet, Decoder) {
    let mut d = Decoder::new(DecoderConfig::default());
    let mut p = Packet::default();
    let r = d.decode(dlt, 1, frame, &mut p);
    (r, p, d)
}

/// Decoding every prefix of `frame` must not panic; returns how many prefixes had L3.
fn prefixes(dlt: u32, frame: &[u8]) -> usize {
    let mut d = Decoder::new(DecoderConfig::default());
    let mut p = Packet::default();
    let mut with_l3 = 0;
    for n in 0..=frame.len() {
        if d.decode(dlt, n as u64, &frame[..n], &mut p) == Decoded::Ok {
            assert!(p.l3.is_some());
            assert!(
                p.payload_off as usize + p.payload_len as usize <= n,
                "offsets past the prefix at {n}"
            );
            with_l3 += 1;
        }
    }
    with_l3
}

#[test]
fn qinq_udp() {
    let f = hex(QINQ);
    let (r, p, d) = decode_one(dlt::ETHERNET, &f);
    assert_eq!(r, Decoded::Ok);
    assert_eq!(&p.vlan[..usize::from(p.vlan_count)], &[13, 10]);
    let l3 = p.l3.unwrap();
    assert_eq!(
        (l3.src, l3.dst, l3.proto, l3.ttl),
        (v4(172, 19, 51, 37), v4(172, 19, 51, 63), 17, 64)
    );
    assert_eq!(
        p.l4,
        L4::Udp {
            sport: 47808,
            dport: 47808,
            len: 26
        }
    );
    assert_eq!(
        (p.ip_off, p.l4_off, p.payload_off, p.payload_len),
        (22, 42, 50, 18)
    );
    assert_eq!(d.counters.stat(Stat::VlanQinq), 1);
    assert_eq!(d.counters.anomalies(), 0);
    // Ethernet padding is not payload: add 10 bytes and nothing changes.
    let mut padded = f.clone();
    padded.extend_from_slice(&[0; 10]);
    let (_, q, _) = decode_one(dlt::ETHERNET, &padded);
    assert_eq!(q.payload_len, 18);
    assert!(prefixes(dlt::ETHERNET, &f) >= 1);
}

// suricata-verify decode-nsh-type1/type2: NSH MD type 1 and 2, IPv4/UDP inside.
const NSH1: &str = "525400000001525400000002894f00060101000001020000000100000002000000030000000445000022284440004011e96a0a0000010a000002cc99ccf0000e0000646174610a0a";
const NSH2: &str = "525400000001525400000002894f000202010000010245000022284440004011e96a0a0000010a000002cc99ccf0000e0000646174610a0a";

#[test]
fn nsh_md_type_1_and_2() {
    for frame in [NSH1, NSH2] {
        let f = hex(frame);
        let (r, p, d) = decode_one(dlt::ETHERNET, &f);
        assert_eq!(r, Decoded::Ok);
        let l3 = p.l3.unwrap();
        assert_eq!((l3.src, l3.dst), (v4(10, 0, 0, 1), v4(10, 0, 0, 2)));
        assert_eq!(p.ports(), (52377, 52464));
        assert_eq!(&f[p.payload_off as usize..], b"data\n\n");
        assert_eq!(d.counters.stat(Stat::Nsh), 1);
        assert_eq!(d.counters.anomalies(), 0);
        prefixes(dlt::ETHERNET, &f);
    }
}

#[test]
fn vntag_other_proto() {
    let f = hex(VNTAG);
    let (r, p, d) = decode_one(dlt::ETHERNET, &f);
    assert_eq!(r, Decoded::Ok);
    assert_eq!(&p.vlan[..usize::from(p.vlan_count)], &[11]);
    assert_eq!(p.l4, L4::Other(253));
    assert_eq!(p.proto(), 253);
    assert_eq!(p.ports(), (0, 0));
    assert_eq!(d.counters.stat(Stat::Vntag), 1);
    prefixes(dlt::ETHERNET, &f);
}

#[test]
fn erspan2_icmp() {
    let f = hex(ERSPAN2);
    let (r, p, d) = decode_one(dlt::ETHERNET, &f);
    assert_eq!(r, Decoded::Ok);
    assert_eq!(p.tunnel_count, 1);
    let t = p.tunnels[0];
    assert_eq!(
        (t.kind, t.src, t.dst, t.proto),
        (TunnelKind::Erspan, v4(2, 2, 2, 2), v4(1, 1, 1, 1), 47)
    );
    let l3 = p.l3.unwrap();
    assert_eq!((l3.src, l3.dst), (v4(23, 0, 0, 2), v4(23, 0, 0, 3)));
    assert!(matches!(
        p.l4,
        L4::Icmp4 {
            itype: 8,
            code: 0,
            ..
        }
    ));
    assert_eq!(d.counters.stat(Stat::Erspan), 1);
    assert_eq!(d.counters.stat(Stat::Ethernet), 2);
    prefixes(dlt::ETHERNET, &f);
}

#[test]
fn pptp_in_4in6_in_vlan() {
    let f = hex(PPTP);
    let (r, p, d) = decode_one(dlt::ETHERNET, &f);
    assert_eq!(r, Decoded::Ok);
    assert_eq!(&p.vlan[..1], &[100]);
    let kinds: Vec<TunnelKind> = p.tunnels().iter().map(|t| t.kind).collect();
    assert_eq!(kinds, vec![TunnelKind::FourInSix, TunnelKind::Pptp]);
    assert_eq!(
        p.tunnels[0].src,
        IpAddr::V6("2402:f000:1:8e01::5555".parse::<Ipv6Addr>().unwrap())
    );
    assert_eq!(
        (p.tunnels[1].src, p.tunnels[1].dst),
        (v4(16, 0, 0, 200), v4(192, 52, 166, 154))
    );
    let l3 = p.l3.unwrap();
    assert_eq!((l3.src, l3.dst), (v4(172, 16, 44, 3), v4(8, 8, 8, 8)));
    assert_eq!(p.ports(), (40768, 53));
    assert_eq!(&f[p.payload_off as usize..][..2], &[0xa6, 0x2c], "DNS id");
    assert_eq!(d.counters.stat(Stat::Ipv4InIpv6), 1);
    assert_eq!(d.counters.stat(Stat::Ppp), 1);
    // Depth limit 1: the PPTP layer is refused, the 4in6 packet is the result.
    let mut dec = Decoder::new(DecoderConfig {
        max_tunnel_depth: 1,
        ..DecoderConfig::default()
    });
    let mut q = Packet::default();
    assert_eq!(dec.decode(dlt::ETHERNET, 0, &f, &mut q), Decoded::Ok);
    assert_eq!(q.tunnel_count, 1);
    assert_eq!(q.l4, L4::Other(47));
    assert_eq!(dec.last_anomalies(), &[DecodeEvent::TooManyLayers]);
    assert_eq!(dec.counters.stat(Stat::Invalid), 1);
    assert!(prefixes(dlt::ETHERNET, &f) >= 1);
}

#[test]
fn vxlan_arp_keeps_outer_udp() {
    let f = hex(VXLAN_ARP);
    let (r, p, d) = decode_one(dlt::ETHERNET, &f);
    assert_eq!(r, Decoded::Ok);
    assert_eq!(
        p.tunnel_count, 0,
        "the inner frame is ARP: no tunnel layer kept"
    );
    assert_eq!(p.ports(), (39924, 4789));
    assert_eq!(d.counters.stat(Stat::Vxlan), 1);
    assert_eq!(d.counters.stat(Stat::Arp), 1);
    prefixes(dlt::ETHERNET, &f);
}

#[test]
fn ieee8021ah_wraps_a_customer_frame() {
    // Provider header + I-TAG (I-SID 0x000100) around the real q-in-q frame.
    let inner = hex(QINQ);
    let mut f = hex("0000000000020000000000018100000588e700000100");
    f.extend_from_slice(&inner);
    let (r, p, d) = decode_one(dlt::ETHERNET, &f);
    assert_eq!(r, Decoded::Ok);
    assert_eq!(&p.vlan[..usize::from(p.vlan_count)], &[5, 13, 10]);
    assert_eq!(p.ports(), (47808, 47808));
    assert_eq!(d.counters.get("decoder.ieee8021ah"), Some(1));
    let (r, _, d) = decode_one(dlt::ETHERNET, &f[..30]);
    assert_eq!(r, Decoded::NoL3);
    assert_eq!(d.last_anomalies(), &[DecodeEvent::Ieee8021ahHeaderTooSmall]);
}

#[test]
fn pppoe_lcp_has_no_l3() {
    let f = hex(PPPOE_LCP);
    let (r, p, d) = decode_one(dlt::ETHERNET, &f);
    assert_eq!(r, Decoded::NoL3);
    assert!(p.l3.is_none());
    assert_eq!(d.counters.stat(Stat::Pppoe), 1);
    assert_eq!(d.counters.anomalies(), 0);
}

#[test]
fn other_link_types_carry_the_same_ip() {
    let f = hex(QINQ);
    let ip = &f[22..];
    let expect = |dlt: u32, frame: &[u8]| {
        let (r, p, _) = decode_one(dlt, frame);
        assert_eq!(r, Decoded::Ok, "dlt {dlt}");
        assert_eq!(p.ports(), (47808, 47808), "dlt {dlt}");
        prefixes(dlt, frame);
    };
    expect(dlt::RAW_101, ip);
    expect(dlt::RAW, ip);
    expect(dlt::IPV4, ip);
    let mut null_le = vec![2, 0, 0, 0];
    null_le.extend_from_slice(ip);
    expect(dlt::NULL, &null_le);
    let mut lo = vec![0, 0, 0, 2];
    lo.extend_from_slice(ip);
    expect(dlt::LOOP, &lo);
    let mut sll = vec![
        0, 0, 0, 1, 0, 6, 0, 0xc0, 0xe4, 1, 0x2c, 0xed, 0, 0, 0x08, 0x00,
    ];
    sll.extend_from_slice(ip);
    expect(dlt::LINUX_SLL, &sll);
    let mut sll2 = vec![
        0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 0, 0xc0, 0xe4, 1, 0x2c, 0xed, 0, 0,
    ];
    sll2.extend_from_slice(ip);
    expect(dlt::LINUX_SLL2, &sll2);
    let mut ppp = vec![0xff, 0x03, 0x00, 0x21];
    ppp.extend_from_slice(ip);
    expect(dlt::PPP, &ppp);
    expect(dlt::PPP_HDLC, &ppp);
    let mut chdlc = vec![0x0f, 0x00, 0x08, 0x00];
    chdlc.extend_from_slice(ip);
    expect(dlt::C_HDLC, &chdlc);
    let mut wifi = vec![0u8, 0, 8, 0, 0, 0, 0, 0, 0x08, 0x01];
    wifi.extend_from_slice(&[0; 22]);
    wifi.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
    wifi.extend_from_slice(ip);
    expect(dlt::RADIOTAP, &wifi);
    // Unknown link type: counted once per frame, by DLT.
    let mut d = Decoder::new(DecoderConfig::default());
    let mut p = Packet::default();
    assert_eq!(d.decode(147, 0, ip, &mut p), Decoded::NoL3);
    assert_eq!(d.decode(147, 0, ip, &mut p), Decoded::NoL3);
    assert_eq!(d.counters.unsupported_linktypes(), &[(147, 2)]);
    // A raw frame that is not IP.
    assert_eq!(
        d.decode(dlt::RAW_101, 0, &[0x15; 30], &mut p),
        Decoded::NoL3
    );
    assert_eq!(d.last_anomalies(), &[DecodeEvent::IprawInvalidIpVersion]);
}

#[test]
fn ipv4_fragments_reassemble_through_decoder() {
    // Split the real q-in-q UDP datagram (26 bytes of UDP) into 16 + 10 bytes.
    let f = hex(QINQ);
    let ip = &f[22..22 + 46];
    let (hdr, body) = ip.split_at(20);
    let mk = |off8: u16, mf: bool, part: &[u8]| {
        let mut h = hdr.to_vec();
        let tl = (20 + part.len()) as u16;
        h[2..4].copy_from_slice(&tl.to_be_bytes());
        let fo = off8 | if mf { 0x2000 } else { 0 };
        h[6..8].copy_from_slice(&fo.to_be_bytes());
        h.extend_from_slice(part);
        h
    };
    let first = mk(0, true, &body[..16]);
    let second = mk(2, false, &body[16..]);
    let mut d = Decoder::new(DecoderConfig::default());
    let mut p = Packet::default();
    assert_eq!(
        d.decode(dlt::RAW_101, 10, &second, &mut p),
        Decoded::FragmentHeld
    );
    assert!(p.frag && p.l3.is_some_and(|l| l.frag_offset == 2));
    assert_eq!(d.defrag_in_progress(), 1);
    assert_eq!(
        d.decode(dlt::RAW_101, 11, &first, &mut p),
        Decoded::Reassembled
    );
    assert_eq!(
        d.reassembled(),
        ip,
        "reassembly rebuilds the original datagram"
    );
    assert_eq!(p.ports(), (47808, 47808));
    assert_eq!(p.payload_off + p.payload_len, 46);
    assert!(p.frag);
    // Overlap with different data: first wins, counted.
    let third = mk(0, true, &[0xee; 16]);
    assert_eq!(
        d.decode(dlt::RAW_101, 12, &second, &mut p),
        Decoded::FragmentHeld
    );
    assert_eq!(
        d.decode(dlt::RAW_101, 12, &first, &mut p),
        Decoded::Reassembled
    );
    assert_eq!(
        d.decode(dlt::RAW_101, 13, &third, &mut p),
        Decoded::FragmentHeld
    );
    assert_eq!(
        d.decode(dlt::RAW_101, 13, &third, &mut p),
        Decoded::FragmentHeld
    );
    assert_eq!(d.counters.event(DecodeEvent::Ipv4FragOverlap), 1);
    // Expiry by packet time.
    d.expire(13 + 60_000_000_000);
    assert_eq!(d.defrag_in_progress(), 0);
    assert_eq!(d.counters.get("defrag.timeouts"), Some(1));
    assert_eq!(d.counters.get("defrag.ipv4.reassembled"), Some(2));
}

#[test]
fn ipv6_fragmented_dns_from_zeek_trace() {
    let Some(corpus) = corpus_dir() else { return };
    let frames =
        read_pcap(&corpus.join("expected/zeek/core-ipv6-frag/ipv6-fragmented-dns.pcap")).unwrap();
    let mut d = Decoder::new(DecoderConfig::default());
    let mut p = Packet::default();
    let mut got = Vec::new();
    for (lt, ts, f) in &frames {
        let r = d.decode(*lt, *ts, f, &mut p);
        if r == Decoded::Reassembled {
            let l3 = p.l3.unwrap();
            assert_eq!(l3.version, 6);
            assert_ne!(l3.ipv6_exthdrs & exthdr::FRAG, 0);
            assert_ne!(l3.id, 0);
            let buf = d.reassembled();
            assert_eq!(buf[0] >> 4, 6);
            assert_eq!(
                usize::from(u16::from_be_bytes([buf[4], buf[5]])) + 40,
                buf.len()
            );
            assert_eq!(p.payload_off as usize + p.payload_len as usize, buf.len());
            got.push((p.ports(), buf.len()));
        }
    }
    // Frame 4 is a lone last fragment (id 1); frames 6-8 are one datagram (id 2)
    // whose last fragment ends at 2864 + 374 bytes.
    assert_eq!(d.counters.get("defrag.ipv6.fragments"), Some(4));
    assert_eq!(d.defrag_in_progress(), 1);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0 .0, 53, "a DNS response from port 53");
    assert_eq!(got[0].1, 40 + 2864 + 374);
}

/// Byte mutations of real frames (deterministic xorshift): offsets stay
/// inside the buffer and nothing panics, whatever the bytes say.
#[test]
fn mutated_frames_stay_in_bounds() {
    let frames: Vec<Vec<u8>> = [QINQ, VNTAG, ERSPAN2, PPTP, VXLAN_ARP, PPPOE_LCP]
        .iter()
        .map(|h| hex(h))
        .collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut d = Decoder::new(DecoderConfig::default());
    let mut p = Packet::default();
    let mut outcomes = [0usize; 4];
    for round in 0..6000 {
        let mut f = frames[round % frames.len()].clone();
        for _ in 0..1 + next() % 4 {
            let i = (next() as usize) % f.len();
            f[i] = next() as u8;
        }
        let cut = f.len() - (next() as usize % 8).min(f.len());
        let f = &f[..cut];
        let r = d.decode(dlt::ETHERNET, round as u64, f, &mut p);
        let buf: &[u8] = if r == Decoded::Reassembled {
            d.reassembled()
        } else {
            f
        };
        outcomes[r as usize] += 1;
        if matches!(r, Decoded::Ok | Decoded::Reassembled) {
            assert!(
                p.payload_off as usize + p.payload_len as usize <= buf.len(),
                "round {round}"
            );
            assert!(p.tunnel_count <= 4 && p.vlan_count <= 3);
        }
    }
    // Most single-byte changes leave the frame decodable; some must not.
    assert!(outcomes[Decoded::Ok as usize] > 3000, "{outcomes:?}");
    assert!(outcomes[Decoded::NoL3 as usize] > 0, "{outcomes:?}");
    assert!(d.counters.anomalies() > 0);
}

#[test]
fn event_names_are_suricatas() {
    // Every event not marked as vigie's own must exist in Suricata's rules.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus/rules/suricata-builtin-events");
    let rules = dir.join("decoder-events.rules");
    let read = |n: &str| std::fs::read_to_string(dir.join(n));
    let Ok(text) = read("decoder-events.rules").and_then(|a| Ok(a + &read("sctp-events.rules")?))
    else {
        if std::env::var("VIGIE_EXTERNAL_TESTS").as_deref() == Ok("1") {
            panic!("missing {}", rules.display());
        }
        eprintln!("skip: {} not found", rules.display());
        return;
    };
    for e in DecodeEvent::ALL {
        let short = e.name().trim_start_matches("decoder.event.");
        // Suricata's NSH decoder (6.0+) raises nsh.* events that its shipped
        // decoder-events.rules has no rules for.
        if short.starts_with("nsh.") {
            continue;
        }
        assert!(
            text.contains(&format!("decode-event:{short};")),
            "{short} is not a Suricata decoder event"
        );
    }
}

#[test]
fn decoder_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Decoder>();
    check::<Packet>();
    check::<DecodeCounters>();
}

/// (link type, ts ns, frame) of every packet in a pcap/pcapng file.
pub(crate) fn read_pcap(path: &Path) -> Result<Vec<(u32, u64, Vec<u8>)>, String> {
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut reader = create_reader(1 << 16, f).map_err(|e| format!("{e:?}"))?;
    let mut out = Vec::new();
    let mut legacy = (1u32, false);
    let mut ifaces: Vec<(u32, u64)> = Vec::new();
    loop {
        match reader.next() {
            Ok((n, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy = (h.network.0 as u32, h.is_nanosecond_precision())
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let frac = if legacy.1 {
                            u64::from(b.ts_usec)
                        } else {
                            u64::from(b.ts_usec) * 1000
                        };
                        let len = (b.caplen as usize).min(b.data.len());
                        out.push((
                            legacy.0,
                            u64::from(b.ts_sec) * 1_000_000_000 + frac,
                            b.data[..len].to_vec(),
                        ));
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => ifaces.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(i)) => ifaces.push((
                        i.linktype.0 as u32,
                        i.ts_resolution().unwrap_or(1_000_000).max(1),
                    )),
                    PcapBlockOwned::NG(Block::EnhancedPacket(e)) => {
                        let (lt, res) = ifaces
                            .get(e.if_id as usize)
                            .copied()
                            .unwrap_or((1, 1_000_000));
                        let t = (u64::from(e.ts_high) << 32) | u64::from(e.ts_low);
                        let ts =
                            (t / res).saturating_mul(1_000_000_000) + t % res * 1_000_000_000 / res;
                        let len = (e.caplen as usize).min(e.data.len());
                        out.push((lt, ts, e.data[..len].to_vec()));
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(s)) => {
                        out.push((ifaces.first().map_or(1, |i| i.0), 0, s.data.to_vec()))
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
            Err(e) => return Err(format!("{e:?}")),
        }
    }
    Ok(out)
}

fn corpus_dir() -> Option<PathBuf> {
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

fn pcaps_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            pcaps_under(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| x == "pcap" || x == "pcapng" || x == "cap")
        {
            out.push(p);
        }
    }
}

/// Decodes every packet of every corpus pcap (and, for the first frames of
/// each file, every prefix): no panic, sane offsets, and most packets have L3.
#[test]
fn corpus_sweep_no_panic() {
    let Some(corpus) = corpus_dir() else { return };
    let mut files = Vec::new();
    pcaps_under(&corpus.join("pcaps"), &mut files);
    pcaps_under(&corpus.join("expected/zeek"), &mut files);
    assert!(!files.is_empty());
    let (mut unreadable, mut pkts, mut with_l3, mut frags) = (0, 0u64, 0u64, 0u64);
    let mut total = DecodeCounters::default();
    for path in &files {
        let frames = match read_pcap(path) {
            Ok(f) => f,
            Err(_) => {
                unreadable += 1;
                continue;
            }
        };
        let mut d = Decoder::new(DecoderConfig::default());
        let mut prefix_dec = Decoder::new(DecoderConfig::default());
        let mut p = Packet::default();
        for (i, (lt, ts, frame)) in frames.iter().enumerate() {
            pkts += 1;
            let r = d.decode(*lt, *ts, frame, &mut p);
            let buf: &[u8] = if r == Decoded::Reassembled {
                d.reassembled()
            } else {
                frame
            };
            match r {
                Decoded::Ok | Decoded::Reassembled => {
                    with_l3 += 1;
                    assert!(p.l3.is_some());
                    let end = p.payload_off as usize + p.payload_len as usize;
                    assert!(
                        end <= buf.len(),
                        "{}#{}: payload past the end",
                        path.display(),
                        i + 1
                    );
                    assert!(
                        p.ip_off <= p.l4_off && p.l4_off <= p.payload_off,
                        "{}#{}",
                        path.display(),
                        i + 1
                    );
                }
                Decoded::FragmentHeld => frags += 1,
                Decoded::NoL3 => assert!(p.l3.is_none()),
            }
            if i < 3 {
                for n in 0..frame.len().min(200) {
                    prefix_dec.decode(*lt, *ts, &frame[..n], &mut p);
                }
            }
            d.expire(*ts);
        }
        total.merge(&d.counters);
    }
    eprintln!(
        "corpus sweep: {} files ({unreadable} unreadable), {pkts} packets, {with_l3} with L3, {frags} fragments held, {} anomalies, unsupported link types {:?}",
        files.len(),
        total.anomalies(),
        total.unsupported_linktypes()
    );
    total.visit(&mut |n, v| {
        if v > 0 && n.starts_with("decoder.event") {
            eprintln!("  {n} = {v}");
        }
    });
    assert!(pkts > 10_000, "only {pkts} packets read");
    assert!(
        with_l3 * 10 > pkts * 8,
        "only {with_l3} of {pkts} packets had L3"
    );
}

#[test]
fn arp_in_vxlan_is_read_and_cut_arp_is_counted() {
    let f = hex(VXLAN_ARP);
    let (r, p, _) = decode_one(dlt::ETHERNET, &f);
    assert_eq!(r, Decoded::Ok, "the outer VXLAN packet stays the L3 layer");
    let a = p.arp.expect("ARP read");
    assert_eq!((a.htype, a.ptype, a.op), (1, 0x0800, 1));
    assert_eq!(a.sha, [0xba, 0x09, 0x2b, 0x6e, 0xf8, 0xbe]);
    assert_eq!(a.spa, Ipv4Addr::new(10, 0, 0, 1));
    assert_eq!(a.tpa, Ipv4Addr::new(10, 0, 0, 2));
    // the bare ARP frame (no tunnel) has no L3
    let inner = &f[50..];
    let (r, p, _) = decode_one(dlt::ETHERNET, inner);
    assert_eq!(r, Decoded::NoL3);
    assert_eq!(p.arp, Some(a));
    let (_, p, d) = decode_one(dlt::ETHERNET, &inner[..30]);
    assert_eq!(p.arp, None);
    assert_eq!(d.counters.stat(Stat::ArpUnreadable), 1);
}
