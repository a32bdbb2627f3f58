//! Shared helpers for the benchmarks: real frames from the bundled captures and
//! encapsulated variants of them.

use std::path::{Path, PathBuf};

use vigie_sensor::capture::file::FileSource;
use vigie_sensor::capture::RawBatch;

/// A bundled capture under `tests/pcaps/`.
pub fn bundled(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/pcaps")
        .join(name)
}

/// Every frame of a capture, with its link type.
pub fn frames(path: &Path) -> Vec<(u32, Vec<u8>)> {
    let mut src = FileSource::new(vec![path.to_path_buf()]);
    let mut out = Vec::new();
    let mut b = RawBatch::default();
    while src.fill(&mut b, 256, 1 << 20) {
        for r in &b.recs {
            out.push((r.dlt, b.frame(r).to_vec()));
        }
    }
    out
}

/// The frame with an 802.1Q tag (VLAN 100) inserted after the MAC addresses.
pub fn with_vlan(eth: &[u8]) -> Vec<u8> {
    let mut v = eth[..12].to_vec();
    v.extend_from_slice(&[0x81, 0x00, 0x00, 100]);
    v.extend_from_slice(&eth[12..]);
    v
}

/// The Ethernet frame carried in VXLAN (VNI 42) over IPv4/UDP 4789, in Ethernet.
pub fn in_vxlan(inner: &[u8]) -> Vec<u8> {
    let udp_len = 8 + 8 + inner.len();
    let ip_len = 20 + udp_len;
    let mut v = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
    let mut ip = vec![
        0x45,
        0,
        (ip_len >> 8) as u8,
        ip_len as u8,
        0,
        1,
        0x40,
        0,
        64,
        17,
        0,
        0,
        10,
        0,
        0,
        1,
        10,
        0,
        0,
        2,
    ];
    let mut sum: u32 = ip
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]) as u32)
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let ck = !(sum as u16);
    ip[10] = (ck >> 8) as u8;
    ip[11] = ck as u8;
    v.extend_from_slice(&ip);
    v.extend_from_slice(&[
        0xc0,
        0x01,
        0x12,
        0xb5,
        (udp_len >> 8) as u8,
        udp_len as u8,
        0,
        0,
    ]);
    v.extend_from_slice(&[0x08, 0, 0, 0, 0, 0, 42, 0]);
    v.extend_from_slice(inner);
    v
}

/// Writes a pcap file holding `frames` repeated until about `target_bytes`.
pub fn write_pcap(path: &Path, frames: &[(u32, Vec<u8>)], target_bytes: usize) -> usize {
    let mut v = Vec::with_capacity(target_bytes + 65536);
    v.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&262144u32.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes());
    let mut n = 0usize;
    let mut ts = 1_600_000_000u32;
    while v.len() < target_bytes {
        for (_, f) in frames {
            v.extend_from_slice(&ts.to_le_bytes());
            v.extend_from_slice(&0u32.to_le_bytes());
            v.extend_from_slice(&(f.len() as u32).to_le_bytes());
            v.extend_from_slice(&(f.len() as u32).to_le_bytes());
            v.extend_from_slice(f);
            n += 1;
        }
        ts += 1;
    }
    std::fs::write(path, &v).expect("write bench pcap");
    n
}
