//! JA3, JA3S and JA4 fingerprints of hellos.

use md5::Md5;
use sha2::{Digest, Sha256};

use super::is_grease;
use super::parser::{ext, ClientHello, ServerHello};
use crate::app::hex_lower;

/// A fingerprint string and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ja3 {
    /// The comma/dash string that was hashed.
    pub string: String,
    /// Lowercase hex MD5 of `string`.
    pub hash: String,
}

fn join_dec<T: ToString>(it: impl Iterator<Item = T>) -> String {
    it.map(|v| v.to_string()).collect::<Vec<_>>().join("-")
}

fn md5_hex(s: &str) -> String {
    hex_lower(&Md5::digest(s.as_bytes()))
}

/// JA3 of a ClientHello (GREASE removed from ciphers, extensions, groups).
pub fn ja3(ch: &ClientHello) -> Ja3 {
    let string = format!(
        "{},{},{},{},{}",
        ch.version,
        join_dec(ch.ciphers.iter().filter(|c| !is_grease(**c))),
        join_dec(ch.extensions.iter().filter(|c| !is_grease(**c))),
        join_dec(ch.groups.iter().filter(|c| !is_grease(**c))),
        join_dec(ch.ec_point_formats.iter()),
    );
    let hash = md5_hex(&string);
    Ja3 { string, hash }
}

/// JA3S of a ServerHello.
pub fn ja3s(sh: &ServerHello) -> Ja3 {
    let string = format!(
        "{},{},{}",
        sh.version,
        sh.cipher,
        join_dec(sh.extensions.iter().filter(|c| !is_grease(**c))),
    );
    let hash = md5_hex(&string);
    Ja3 { string, hash }
}

/// Transport a hello was carried on, the first JA4 character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ja4Transport {
    /// TLS over TCP: `t`.
    Tcp,
    /// QUIC: `q`.
    Quic,
    /// DTLS: `d`.
    Dtls,
}

fn ja4_version(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

fn sha256_12(s: &str) -> String {
    let mut h = hex_lower(&Sha256::digest(s.as_bytes()));
    h.truncate(12);
    h
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// JA4 (FoxIO) of a ClientHello, and its raw (unhashed, sorted) form `ja4_r`.
pub fn ja4(ch: &ClientHello, transport: Ja4Transport) -> (String, String) {
    let t = match transport {
        Ja4Transport::Tcp => 't',
        Ja4Transport::Quic => 'q',
        Ja4Transport::Dtls => 'd',
    };
    let version = ch
        .supported_versions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .max()
        .unwrap_or(ch.version);
    let sni = if ch.extensions.contains(&ext::SERVER_NAME) {
        'd'
    } else {
        'i'
    };
    let mut ciphers: Vec<u16> = ch
        .ciphers
        .iter()
        .copied()
        .filter(|c| !is_grease(*c))
        .collect();
    let exts: Vec<u16> = ch
        .extensions
        .iter()
        .copied()
        .filter(|c| !is_grease(*c))
        .collect();
    let alpn = match ch.alpn.first() {
        Some(a) if !a.is_empty() => {
            let (f, l) = (a[0], a[a.len() - 1]);
            if is_alnum(f) && is_alnum(l) {
                format!("{}{}", char::from(f), char::from(l))
            } else {
                let hf = hex_lower(&[f]);
                let hl = hex_lower(&[l]);
                format!("{}{}", &hf[..1], &hl[1..])
            }
        }
        _ => "00".to_string(),
    };
    let prefix = format!(
        "{t}{}{sni}{:02}{:02}{alpn}",
        ja4_version(version),
        ciphers.len().min(99),
        exts.len().min(99)
    );
    ciphers.sort_unstable();
    let cipher_list = ciphers
        .iter()
        .map(|c| format!("{c:04x}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut sorted_exts: Vec<u16> = exts
        .iter()
        .copied()
        .filter(|e| *e != ext::SERVER_NAME && *e != ext::ALPN)
        .collect();
    sorted_exts.sort_unstable();
    let mut ext_list = sorted_exts
        .iter()
        .map(|c| format!("{c:04x}"))
        .collect::<Vec<_>>()
        .join(",");
    let sigs: Vec<String> = ch
        .signature_algorithms
        .iter()
        .filter(|s| !is_grease(**s))
        .map(|s| format!("{s:04x}"))
        .collect();
    if !sigs.is_empty() {
        ext_list.push('_');
        ext_list.push_str(&sigs.join(","));
    }
    let cipher_hash = if ciphers.is_empty() {
        "000000000000".to_string()
    } else {
        sha256_12(&cipher_list)
    };
    let ext_hash = if sorted_exts.is_empty() {
        "000000000000".to_string()
    } else {
        sha256_12(&ext_list)
    };
    let hashed = format!("{prefix}_{cipher_hash}_{ext_hash}");
    let raw = format!("{prefix}_{cipher_list}_{ext_list}");
    (hashed, raw)
}

#[cfg(test)]
mod test {
    use super::*;

    /// ClientHello of curl to enabled.tls13.com, fields as Arkime's
    /// curl-enabled-tls13 test lists them (ja3string and ja4_r).
    fn curl_hello() -> ClientHello {
        ClientHello {
            version: 771,
            ciphers: vec![4866, 4867, 4865, 255],
            extensions: vec![0, 11, 10, 13172, 16, 22, 23, 49, 13, 43, 45, 51, 21],
            sni: Some(b"enabled.tls13.com".to_vec()),
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            supported_versions: vec![0x0304, 0x0303],
            groups: vec![29, 23, 30, 25, 24],
            ec_point_formats: vec![0, 1, 2],
            signature_algorithms: vec![
                0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0809, 0x080a, 0x080b, 0x0804, 0x0805,
                0x0806, 0x0401, 0x0501, 0x0601,
            ],
            ..ClientHello::default()
        }
    }

    #[test]
    fn ja3_matches_arkime() {
        let j = ja3(&curl_hello());
        assert_eq!(
            j.string,
            "771,4866-4867-4865-255,0-11-10-13172-16-22-23-49-13-43-45-51-21,29-23-30-25-24,0-1-2"
        );
        assert_eq!(j.hash, "eeadfd2f446a45ded96f804720a0c75b");
    }

    #[test]
    fn ja4_matches_arkime() {
        let (h, r) = ja4(&curl_hello(), Ja4Transport::Tcp);
        assert_eq!(h, "t13d0413h2_16476d049b0b_ffceb19bae65");
        assert_eq!(
            r,
            "t13d0413h2_00ff,1301,1302,1303_000a,000b,000d,0015,0016,0017,002b,002d,0031,0033,3374_0403,0503,0603,0807,0808,0809,080a,080b,0804,0805,0806,0401,0501,0601"
        );
    }

    #[test]
    fn ja3s_matches_arkime_and_grease_is_dropped() {
        let sh = ServerHello {
            version: 771,
            cipher: 4866,
            extensions: vec![51, 43],
            ..ServerHello::default()
        };
        let j = ja3s(&sh);
        assert_eq!(j.string, "771,4866,51-43");
        assert_eq!(j.hash, "907bf3ecef1c987c889946b737b43de8");
        let mut ch = curl_hello();
        ch.ciphers.insert(0, 0x2a2a);
        ch.extensions.insert(0, 0xdada);
        assert_eq!(ja3(&ch).hash, "eeadfd2f446a45ded96f804720a0c75b");
        ch.alpn = vec![vec![0xab, 0x01]];
        assert_eq!(&ja4(&ch, Ja4Transport::Tcp).0[8..10], "a1");
    }
}
