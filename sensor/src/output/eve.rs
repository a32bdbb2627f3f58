//! EVE JSON encoding, in the reference IDS's format, written by hand into a
//! reusable byte buffer: no allocation per event on the hot path.

use std::net::IpAddr;

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// Appends `ts_ns` as EVE's timestamp: `2009-11-24T21:27:09.534255+0000` (UTC).
pub fn push_timestamp(out: &mut Vec<u8>, ts_ns: u64) {
    let secs = ts_ns / 1_000_000_000;
    let micros = (ts_ns % 1_000_000_000) / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let mut b = itoa::Buffer::new();
    let pad = |out: &mut Vec<u8>, v: u64, width: usize| {
        let mut b = itoa::Buffer::new();
        let s = b.format(v);
        for _ in s.len()..width {
            out.push(b'0');
        }
        out.extend_from_slice(s.as_bytes());
    };
    out.extend_from_slice(b.format(y).as_bytes());
    out.push(b'-');
    pad(out, m as u64, 2);
    out.push(b'-');
    pad(out, d as u64, 2);
    out.push(b'T');
    pad(out, rem / 3600, 2);
    out.push(b':');
    pad(out, (rem % 3600) / 60, 2);
    out.push(b':');
    pad(out, rem % 60, 2);
    out.push(b'.');
    pad(out, micros, 6);
    out.extend_from_slice(b"+0000");
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Appends `s` as a JSON string literal (quotes included), escaping as JSON requires.
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &c) in bytes.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(b"\\u00");
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push(HEX[(c >> 4) as usize]);
                out.push(HEX[(c & 15) as usize]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends bytes that may not be UTF-8 as a JSON string (invalid sequences replaced).
pub fn push_bytes_lossy(out: &mut Vec<u8>, b: &[u8]) {
    push_str(out, &String::from_utf8_lossy(b));
}

/// Appends an unsigned integer.
pub fn push_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Appends an IP address as a JSON string, in the reference IDS's notation
/// (IPv6 fully expanded is not used; the compressed RFC 5952 form is).
pub fn push_ip(out: &mut Vec<u8>, ip: &IpAddr) {
    use std::io::Write;
    out.push(b'"');
    let _ = write!(out, "{ip}");
    out.push(b'"');
}

/// Protocol name as EVE writes it.
pub fn proto_name(proto: u8) -> &'static str {
    match proto {
        1 => "ICMP",
        2 => "IGMP",
        6 => "TCP",
        17 => "UDP",
        41 => "IPv6",
        47 => "GRE",
        50 => "ESP",
        51 => "AH",
        58 => "IPv6-ICMP",
        103 => "PIM",
        112 => "VRRP",
        132 => "SCTP",
        _ => "",
    }
}

/// Appends `"proto":"TCP"` (or the number as a string for protocols without a name).
pub fn push_proto(out: &mut Vec<u8>, proto: u8) {
    out.extend_from_slice(b"\"proto\":");
    let name = proto_name(proto);
    if name.is_empty() {
        out.push(b'"');
        push_u64(out, proto as u64);
        out.push(b'"');
    } else {
        push_str(out, name);
    }
}

/// Community ID v1 (seed 0) of a flow, e.g. `1:LQU9qZlK+B5F3KDmev6m5PMibrg=`.
///
/// The endpoints are ordered as the spec says (smaller address, then port, first);
/// for ICMP, pass type and code as `sport`/`dport`: the type/code pair stands in
/// for the ports, mapped to the reply type when one exists, so both directions
/// get the same ID.
pub fn community_id(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, proto: u8) -> String {
    let (mut sp, mut dp) = (sport, dport);
    let mut one_way = false;
    if proto == 1 || proto == 58 {
        // ports carry (type, code)
        let (t, c) = (sport as u8, dport);
        let (peer, is_one_way) = icmp_peer(proto, t);
        sp = t as u16;
        dp = peer as u16;
        one_way = is_one_way;
        if one_way {
            dp = c;
        }
    }
    let a = ip_bytes(&src);
    let b = ip_bytes(&dst);
    // One-way ICMP messages keep their direction, as the spec says.
    let swap = !one_way && (a.as_slice(), sp) > (b.as_slice(), dp);
    let (a, b, sp, dp) = if swap { (b, a, dp, sp) } else { (a, b, sp, dp) };
    let mut h = Sha1::new();
    h.update(0u16.to_be_bytes());
    h.update(&a);
    h.update(&b);
    h.update([proto, 0]);
    h.update(sp.to_be_bytes());
    h.update(dp.to_be_bytes());
    let digest = h.finalize();
    let mut s = String::with_capacity(30);
    s.push_str("1:");
    base64::engine::general_purpose::STANDARD.encode_string(digest, &mut s);
    s
}

/// The ICMP type that answers `t`, and whether `t` is one-way (no peer).
fn icmp_peer(proto: u8, t: u8) -> (u8, bool) {
    let pairs: &[(u8, u8)] = if proto == 1 {
        &[
            (8, 0),
            (0, 8),
            (13, 14),
            (14, 13),
            (15, 16),
            (16, 15),
            (10, 9),
            (9, 10),
            (17, 18),
            (18, 17),
        ]
    } else {
        &[
            (128, 129),
            (129, 128),
            (133, 134),
            (134, 133),
            (135, 136),
            (136, 135),
            (130, 131),
            (131, 130),
            (144, 145),
            (145, 144),
        ]
    };
    match pairs.iter().find(|(a, _)| *a == t) {
        Some((_, p)) => (*p, false),
        None => (t, true),
    }
}

fn ip_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn timestamps() {
        let mut v = Vec::new();
        push_timestamp(&mut v, 1_259_098_029_534_255_000);
        assert_eq!(
            std::str::from_utf8(&v).unwrap(),
            "2009-11-24T21:27:09.534255+0000"
        );
        v.clear();
        push_timestamp(&mut v, 0);
        assert_eq!(
            std::str::from_utf8(&v).unwrap(),
            "1970-01-01T00:00:00.000000+0000"
        );
        v.clear();
        // 2024-02-29 leap day
        push_timestamp(&mut v, 1_709_164_800_000_000_000);
        assert_eq!(&v[..10], b"2024-02-29");
    }

    #[test]
    fn json_escaping_round_trips() {
        let s = "a\"b\\c\n\u{1}é\u{7f}";
        let mut v = Vec::new();
        push_str(&mut v, s);
        let back: String = serde_json::from_slice(&v).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn community_id_spec_examples() {
        // From the Community ID spec's test vectors (tcp.pcap, udp.pcap, icmp.pcap).
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            community_id(ip("128.232.110.120"), ip("66.35.250.204"), 34855, 80, 6),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
        );
        assert_eq!(
            community_id(ip("66.35.250.204"), ip("128.232.110.120"), 80, 34855, 6),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
        );
        assert_eq!(
            community_id(ip("192.168.1.52"), ip("8.8.8.8"), 54585, 53, 17),
            "1:d/FP5EW3wiY1vCndhwleRRKHowQ="
        );
        // ICMP echo request type 8 code 0, and its reply
        assert_eq!(
            community_id(ip("192.168.0.89"), ip("192.168.0.1"), 8, 0, 1),
            "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="
        );
        assert_eq!(
            community_id(ip("192.168.0.1"), ip("192.168.0.89"), 0, 0, 1),
            "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="
        );
    }
}
