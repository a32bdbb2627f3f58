//! Validation and normalisation of indicator values. The same code normalises
//! values at load time and inputs at lookup time, so both sides agree.

use super::IndicatorKind;
use std::net::IpAddr;

/// Longest value accepted (URLs); longer values are rejected at load, and
/// longer lookup inputs cannot match.
pub const MAX_VALUE_LEN: usize = 2048;
/// Longest domain name (RFC 1035 text form without the trailing dot).
pub(crate) const MAX_DOMAIN_LEN: usize = 253;

/// The type a feed declares for a value, before validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IndicatorType {
    /// IPv4 or IPv6 address, or CIDR.
    Ip,
    /// Domain: matches the domain and all its subdomains.
    Domain,
    /// Host name: matches exactly this name (a `*.` or `.` prefix widens it to subdomains).
    Hostname,
    /// URL.
    Url,
    /// MD5 hex.
    Md5,
    /// SHA-1 hex.
    Sha1,
    /// SHA-256 hex.
    Sha256,
    /// MD5, SHA-1 or SHA-256 hex, told apart by length.
    FileHash,
    /// JA3 (MD5 hex).
    Ja3,
    /// JA3S (MD5 hex).
    Ja3s,
    /// JA4 fingerprint (`t13d1516h2_8daaf6152771_b186095e22b6`).
    Ja4,
    /// TLS certificate SHA-1 hex (colons allowed).
    CertSha1,
    /// E-mail address.
    Email,
    /// Detect from the value: IP/CIDR, hash by length, URL, JA4, e-mail, domain.
    Auto,
}

/// Why a value was refused. `Display` gives the reason; the loader adds where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ValueError {
    Empty,
    TooLong,
    BadIp,
    BadPrefix,
    BadDomain,
    NonAsciiDomain,
    BadUrl,
    BadHex(usize),
    BadHashLength,
    BadJa4,
    BadEmail,
    Undetected,
}

impl ValueError {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ValueError::Empty => "empty value",
            ValueError::TooLong => "value too long",
            ValueError::BadIp => "invalid IP address",
            ValueError::BadPrefix => "invalid CIDR prefix length",
            ValueError::BadDomain => "invalid domain name",
            ValueError::NonAsciiDomain => "non-ASCII domain name (give it in punycode)",
            ValueError::BadUrl => "invalid URL",
            ValueError::BadHex(32) => "invalid MD5 (want 32 hex digits)",
            ValueError::BadHex(40) => "invalid SHA-1 (want 40 hex digits)",
            ValueError::BadHex(64) => "invalid SHA-256 (want 64 hex digits)",
            ValueError::BadHex(_) => "invalid hex digest",
            ValueError::BadHashLength => "hash is not 32, 40 or 64 hex digits",
            ValueError::BadJa4 => "invalid JA4 fingerprint",
            ValueError::BadEmail => "invalid e-mail address",
            ValueError::Undetected => "cannot tell the indicator type from the value",
        }
    }
}

/// Fixed-capacity byte buffer used to build keys without allocating.
#[derive(Debug)]
pub(crate) struct KeyBuf {
    buf: [u8; MAX_VALUE_LEN],
    len: usize,
}

impl KeyBuf {
    pub(crate) fn new() -> KeyBuf {
        KeyBuf {
            buf: [0; MAX_VALUE_LEN],
            len: 0,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    #[must_use]
    pub(crate) fn push(&mut self, b: u8) -> bool {
        match self.buf.get_mut(self.len) {
            Some(slot) => {
                *slot = b;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    #[must_use]
    pub(crate) fn extend(&mut self, bytes: &[u8]) -> bool {
        bytes.iter().all(|&b| self.push(b))
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Parses `addr` or `addr/len`; returns the network (host bits cleared) and
/// prefix length.
pub(crate) fn parse_ip_or_cidr(s: &str) -> Result<(IpAddr, u8), ValueError> {
    let (a, len) = match s.split_once('/') {
        Some((a, l)) => {
            if l.is_empty() || l.len() > 3 || !l.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ValueError::BadPrefix);
            }
            (a, Some(l.parse::<u8>().map_err(|_| ValueError::BadPrefix)?))
        }
        None => (s, None),
    };
    let ip: IpAddr = a.parse().map_err(|_| ValueError::BadIp)?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(max);
    if len > max {
        return Err(ValueError::BadPrefix);
    }
    Ok((mask_ip(ip, len), len))
}

pub(crate) fn mask_ip(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let m = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len))
            };
            IpAddr::V4((u32::from(v4) & m).into())
        }
        IpAddr::V6(v6) => {
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            IpAddr::V6((u128::from(v6) & m).into())
        }
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes hex into `out`; `None` on a non-hex digit or odd length.
pub(crate) fn decode_hex<'o>(s: &[u8], out: &'o mut [u8; 64]) -> Option<&'o [u8]> {
    if s.len() & 1 == 1 || s.len() > 128 {
        return None;
    }
    for (i, pair) in s.chunks_exact(2).enumerate() {
        out[i] = (hex_val(pair[0])? << 4) | hex_val(pair[1])?;
    }
    Some(&out[..s.len() / 2])
}

/// Validates a domain name and writes it lowercased, without trailing dot.
pub(crate) fn normalize_domain(s: &str, out: &mut KeyBuf) -> Result<(), ValueError> {
    out.clear();
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() {
        return Err(ValueError::Empty);
    }
    if !s.is_ascii() {
        return Err(ValueError::NonAsciiDomain);
    }
    if s.len() > MAX_DOMAIN_LEN {
        return Err(ValueError::BadDomain);
    }
    for label in s.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(ValueError::BadDomain);
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(ValueError::BadDomain);
        }
    }
    for b in s.bytes() {
        if !out.push(b.to_ascii_lowercase()) {
            return Err(ValueError::TooLong);
        }
    }
    Ok(())
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Appends a path or query, decoding percent-escapes of unreserved characters
/// and upper-casing the hex of the others.
fn push_normalized_component(s: &[u8], out: &mut KeyBuf) -> bool {
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b == b'%' && i + 2 < s.len() {
            if let (Some(h), Some(l)) = (hex_val(s[i + 1]), hex_val(s[i + 2])) {
                let c = (h << 4) | l;
                let ok = if is_unreserved(c) {
                    out.push(c)
                } else {
                    out.push(b'%')
                        && out.push(s[i + 1].to_ascii_uppercase())
                        && out.push(s[i + 2].to_ascii_uppercase())
                };
                if !ok {
                    return false;
                }
                i += 3;
                continue;
            }
        }
        if !out.push(b) {
            return false;
        }
        i += 1;
    }
    true
}

/// Writes the match key of a URL: lowercase host, default port (80, 443)
/// removed, then path (`/` if empty) and `?query` if any, with unreserved
/// percent-escapes decoded; no fragment. `host` may carry a port; `target`
/// is the request target (`/path?query`).
pub(crate) fn url_key(host: &[u8], target: &[u8], out: &mut KeyBuf) -> bool {
    out.clear();
    let host = host
        .strip_suffix(b":80")
        .or_else(|| host.strip_suffix(b":443"))
        .unwrap_or(host);
    let host = host.strip_suffix(b".").unwrap_or(host);
    if host.is_empty() {
        return false;
    }
    for &b in host {
        if !out.push(b.to_ascii_lowercase()) {
            return false;
        }
    }
    let target = match memchr::memchr(b'#', target) {
        Some(p) => &target[..p],
        None => target,
    };
    let (path, query) = match memchr::memchr(b'?', target) {
        Some(p) => (&target[..p], Some(&target[p + 1..])),
        None => (target, None),
    };
    if (path.is_empty() || path[0] != b'/') && !out.push(b'/') {
        return false;
    }
    if !push_normalized_component(path, out) {
        return false;
    }
    if let Some(q) = query {
        if !out.push(b'?') || !push_normalized_component(q, out) {
            return false;
        }
    }
    true
}

/// Splits a URL into (host with port, request target) and normalises it.
pub(crate) fn normalize_url(s: &str, out: &mut KeyBuf) -> Result<(), ValueError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(ValueError::Empty);
    }
    if s.len() > MAX_VALUE_LEN {
        return Err(ValueError::TooLong);
    }
    if s.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(ValueError::BadUrl);
    }
    let rest = match s.find("://") {
        Some(p) => {
            let scheme = &s[..p];
            if scheme.is_empty()
                || !scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
            {
                return Err(ValueError::BadUrl);
            }
            &s[p + 3..]
        }
        None => s,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, target) = rest.split_at(end);
    let hostport = match authority.rfind('@') {
        Some(p) => &authority[p + 1..],
        None => authority,
    };
    if hostport.is_empty() {
        return Err(ValueError::BadUrl);
    }
    let host = if let Some(rest) = hostport.strip_prefix('[') {
        // IPv6 literal: "[addr]" with an optional ":port".
        let (addr, after) = rest.split_once(']').ok_or(ValueError::BadUrl)?;
        let port_ok = after.is_empty()
            || after
                .strip_prefix(':')
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if addr.parse::<std::net::Ipv6Addr>().is_err() || !port_ok {
            return Err(ValueError::BadUrl);
        }
        hostport
    } else {
        match hostport.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => {
                if h.is_empty() {
                    return Err(ValueError::BadUrl);
                }
                h
            }
            Some(_) => return Err(ValueError::BadUrl),
            None => hostport,
        }
    };
    if host.parse::<IpAddr>().is_err() && !host.starts_with('[') {
        let mut scratch = KeyBuf::new();
        normalize_domain(host, &mut scratch).map_err(|_| ValueError::BadUrl)?;
    }
    if !url_key(hostport.as_bytes(), target.as_bytes(), out) {
        return Err(ValueError::TooLong);
    }
    Ok(())
}

fn normalize_email(s: &str, out: &mut KeyBuf) -> Result<(), ValueError> {
    out.clear();
    if s.len() > 254 {
        return Err(ValueError::BadEmail);
    }
    let (local, domain) = s.rsplit_once('@').ok_or(ValueError::BadEmail)?;
    if local.is_empty()
        || local.len() > 64
        || local.bytes().any(|b| b <= b' ' || b == b'@' || b >= 0x7f)
    {
        return Err(ValueError::BadEmail);
    }
    let mut d = KeyBuf::new();
    normalize_domain(domain, &mut d).map_err(|_| ValueError::BadEmail)?;
    let ok = out.extend(local.to_ascii_lowercase().as_bytes())
        && out.push(b'@')
        && out.extend(d.as_bytes());
    if ok {
        Ok(())
    } else {
        Err(ValueError::TooLong)
    }
}

pub(crate) fn is_ja4(s: &[u8]) -> bool {
    let mut parts = s.split(|&b| b == b'_');
    let (Some(a), Some(b), Some(c), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    a.len() == 10
        && a.iter().all(|x| x.is_ascii_alphanumeric())
        && matches!(a[0].to_ascii_lowercase(), b't' | b'q' | b'd')
        && b.len() == 12
        && c.len() == 12
        && b.iter().chain(c.iter()).all(|x| x.is_ascii_hexdigit())
}

fn hex_digest(s: &str, want: usize, out: &mut KeyBuf) -> Result<(), ValueError> {
    out.clear();
    let mut raw = [0u8; 64];
    if s.len() != want {
        return Err(ValueError::BadHex(want));
    }
    let d = decode_hex(s.as_bytes(), &mut raw).ok_or(ValueError::BadHex(want))?;
    if out.extend(d) {
        Ok(())
    } else {
        Err(ValueError::TooLong)
    }
}

/// Result of normalising one value: its stored kind and whether a domain
/// indicator also covers subdomains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Normalized {
    pub kind: IndicatorKind,
    pub subdomains: bool,
}

/// Validates `value` as `ty` and writes its stored form into `out`:
/// IPs as address bytes + prefix length, hashes and JA3 as raw digests,
/// everything else as normalised text. A domain that is an IP address is
/// stored as an IP indicator.
pub(crate) fn normalize(
    ty: IndicatorType,
    value: &str,
    out: &mut KeyBuf,
) -> Result<Normalized, ValueError> {
    out.clear();
    let v = value.trim();
    if v.is_empty() {
        return Err(ValueError::Empty);
    }
    if v.len() > MAX_VALUE_LEN {
        return Err(ValueError::TooLong);
    }
    let plain = |kind| Normalized {
        kind,
        subdomains: false,
    };
    match ty {
        IndicatorType::Ip => {
            let (ip, len) = parse_ip_or_cidr(v)?;
            write_ip(ip, len, out);
            Ok(plain(if ip.is_ipv4() {
                IndicatorKind::Ipv4
            } else {
                IndicatorKind::Ipv6
            }))
        }
        IndicatorType::Domain | IndicatorType::Hostname => {
            if let Ok((ip, len)) = parse_ip_or_cidr(v) {
                return normalize(IndicatorType::Ip, &format!("{ip}/{len}"), out);
            }
            let (name, wild) = if let Some(n) = v.strip_prefix("*.") {
                (n, true)
            } else if let Some(n) = v.strip_prefix('.') {
                (n, true)
            } else {
                (v, ty == IndicatorType::Domain)
            };
            normalize_domain(name, out)?;
            Ok(Normalized {
                kind: IndicatorKind::Domain,
                subdomains: wild,
            })
        }
        IndicatorType::Url => {
            normalize_url(v, out)?;
            Ok(plain(IndicatorKind::Url))
        }
        IndicatorType::Md5 => hex_digest(v, 32, out).map(|_| plain(IndicatorKind::Md5)),
        IndicatorType::Sha1 => hex_digest(v, 40, out).map(|_| plain(IndicatorKind::Sha1)),
        IndicatorType::Sha256 => hex_digest(v, 64, out).map(|_| plain(IndicatorKind::Sha256)),
        IndicatorType::FileHash => match v.len() {
            32 => normalize(IndicatorType::Md5, v, out),
            40 => normalize(IndicatorType::Sha1, v, out),
            64 => normalize(IndicatorType::Sha256, v, out),
            _ => Err(ValueError::BadHashLength),
        },
        IndicatorType::Ja3 => hex_digest(v, 32, out).map(|_| plain(IndicatorKind::Ja3)),
        IndicatorType::Ja3s => hex_digest(v, 32, out).map(|_| plain(IndicatorKind::Ja3s)),
        IndicatorType::Ja4 => {
            if !is_ja4(v.as_bytes()) {
                return Err(ValueError::BadJa4);
            }
            if !out.extend(v.to_ascii_lowercase().as_bytes()) {
                return Err(ValueError::TooLong);
            }
            Ok(plain(IndicatorKind::Ja4))
        }
        IndicatorType::CertSha1 => {
            let compact: String = v.chars().filter(|&c| c != ':').collect();
            hex_digest(&compact, 40, out).map(|_| plain(IndicatorKind::CertSha1))
        }
        IndicatorType::Email => {
            normalize_email(v, out)?;
            Ok(plain(IndicatorKind::Email))
        }
        IndicatorType::Auto => normalize(detect(v)?, v, out),
    }
}

/// Guesses the type of a bare value (CSV lists without a type column).
pub(crate) fn detect(v: &str) -> Result<IndicatorType, ValueError> {
    if parse_ip_or_cidr(v).is_ok() {
        return Ok(IndicatorType::Ip);
    }
    if matches!(v.len(), 32 | 40 | 64) && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(IndicatorType::FileHash);
    }
    if v.contains("://") {
        return Ok(IndicatorType::Url);
    }
    if is_ja4(v.as_bytes()) {
        return Ok(IndicatorType::Ja4);
    }
    if v.contains('@') {
        return Ok(IndicatorType::Email);
    }
    let mut scratch = KeyBuf::new();
    let name = v.trim_start_matches("*.").trim_start_matches('.');
    if name.contains('.') && normalize_domain(name, &mut scratch).is_ok() {
        return Ok(IndicatorType::Domain);
    }
    Err(ValueError::Undetected)
}

pub(crate) fn write_ip(ip: IpAddr, len: u8, out: &mut KeyBuf) {
    out.clear();
    let ok = match ip {
        IpAddr::V4(v4) => out.extend(&v4.octets()),
        IpAddr::V6(v6) => out.extend(&v6.octets()),
    } && out.push(len);
    debug_assert!(ok, "an IP always fits the key buffer");
}

#[cfg(test)]
mod test {
    use super::*;

    fn norm(ty: IndicatorType, v: &str) -> Result<(IndicatorKind, bool, Vec<u8>), ValueError> {
        let mut b = KeyBuf::new();
        normalize(ty, v, &mut b).map(|n| (n.kind, n.subdomains, b.as_bytes().to_vec()))
    }

    #[test]
    fn ips_and_cidrs() {
        let (k, _, b) = norm(IndicatorType::Ip, "10.1.2.3/8").unwrap();
        assert_eq!((k, b), (IndicatorKind::Ipv4, vec![10, 0, 0, 0, 8]));
        let (k, _, b) = norm(IndicatorType::Ip, "2001:db8::1").unwrap();
        assert_eq!(k, IndicatorKind::Ipv6);
        assert_eq!(b.len(), 17);
        assert_eq!(b[16], 128);
        assert_eq!(norm(IndicatorType::Ip, "300.1.1.1"), Err(ValueError::BadIp));
        assert_eq!(
            norm(IndicatorType::Ip, "1.1.1.1/33"),
            Err(ValueError::BadPrefix)
        );
        assert_eq!(
            norm(IndicatorType::Ip, "1.1.1.1/"),
            Err(ValueError::BadPrefix)
        );
    }

    #[test]
    fn domains() {
        let (k, sub, b) = norm(IndicatorType::Domain, "Evil.COM.").unwrap();
        assert_eq!(
            (k, sub, b.as_slice()),
            (IndicatorKind::Domain, true, &b"evil.com"[..])
        );
        let (_, sub, _) = norm(IndicatorType::Hostname, "www.evil.com").unwrap();
        assert!(!sub);
        let (_, sub, b) = norm(IndicatorType::Hostname, "*.evil.com").unwrap();
        assert!(sub);
        assert_eq!(b, b"evil.com");
        assert_eq!(
            norm(IndicatorType::Domain, "a..b"),
            Err(ValueError::BadDomain)
        );
        assert_eq!(
            norm(IndicatorType::Domain, "exämple.com"),
            Err(ValueError::NonAsciiDomain)
        );
        assert_eq!(
            norm(IndicatorType::Domain, "a b.com"),
            Err(ValueError::BadDomain)
        );
        let long = format!("{}.com", "a".repeat(64));
        assert_eq!(
            norm(IndicatorType::Domain, &long),
            Err(ValueError::BadDomain)
        );
        // An IP given as a domain becomes an IP indicator.
        let (k, _, _) = norm(IndicatorType::Domain, "176.223.111.131").unwrap();
        assert_eq!(k, IndicatorKind::Ipv4);
    }

    #[test]
    fn urls() {
        let key = |s| {
            let mut b = KeyBuf::new();
            normalize_url(s, &mut b).map(|_| String::from_utf8_lossy(b.as_bytes()).into_owned())
        };
        assert_eq!(
            key("HTTP://Evil.COM:80/a%7eb%2fc?x=%41#frag").unwrap(),
            "evil.com/a~b%2Fc?x=A"
        );
        assert_eq!(key("https://evil.com:443").unwrap(), "evil.com/");
        assert_eq!(key("http://evil.com:8080/x").unwrap(), "evil.com:8080/x");
        assert_eq!(key("http://user:pw@evil.com/x").unwrap(), "evil.com/x");
        assert_eq!(key("evil.com/path").unwrap(), "evil.com/path");
        assert_eq!(key("http://1.2.3.4/x").unwrap(), "1.2.3.4/x");
        assert_eq!(key("http://%%%/x"), Err(ValueError::BadUrl));
        assert_eq!(key("http:///x"), Err(ValueError::BadUrl));
        assert_eq!(key("http://a b/"), Err(ValueError::BadUrl));
        assert_eq!(key("http://[::1/x"), Err(ValueError::BadUrl));
        assert_eq!(key("http://[::1]:8080/x").unwrap(), "[::1]:8080/x");
        assert_eq!(key("http://[nope]/x"), Err(ValueError::BadUrl));
        assert_eq!(key("http://evil.com/%4"), Ok("evil.com/%4".to_string()));
        let mut b = KeyBuf::new();
        assert!(url_key(b"EVIL.com:443", b"/a%7Eb?x=%41", &mut b));
        assert_eq!(b.as_bytes(), b"evil.com/a~b?x=A");
    }

    #[test]
    fn hashes_and_fingerprints() {
        let (k, _, b) = norm(IndicatorType::FileHash, "D41D8CD98F00B204E9800998ECF8427E").unwrap();
        assert_eq!(k, IndicatorKind::Md5);
        assert_eq!(b[..2], [0xd4, 0x1d]);
        assert_eq!(
            norm(IndicatorType::FileHash, "abc"),
            Err(ValueError::BadHashLength)
        );
        assert_eq!(
            norm(
                IndicatorType::Sha1,
                "zz1d8cd98f00b204e9800998ecf8427e00000000"
            ),
            Err(ValueError::BadHex(40))
        );
        let (k, _, b) = norm(
            IndicatorType::CertSha1,
            "19:e6:64:f0:94:01:bf:64:8b:6e:a5:77:19:e3:4a:d7:95:f3:b6:cb",
        )
        .unwrap();
        assert_eq!((k, b.len()), (IndicatorKind::CertSha1, 20));
        let (k, _, _) = norm(IndicatorType::Auto, "t13d1516h2_8daaf6152771_b186095e22b6").unwrap();
        assert_eq!(k, IndicatorKind::Ja4);
        assert_eq!(
            norm(IndicatorType::Ja4, "t13d1516h2_8daaf615277_b186095e22b6"),
            Err(ValueError::BadJa4)
        );
    }

    #[test]
    fn auto_detect() {
        let kind = |v| norm(IndicatorType::Auto, v).map(|x| x.0);
        assert_eq!(kind("1.2.3.0/24"), Ok(IndicatorKind::Ipv4));
        assert_eq!(kind("::1"), Ok(IndicatorKind::Ipv6));
        assert_eq!(kind("http://x.org/"), Ok(IndicatorKind::Url));
        assert_eq!(kind("Bad@Example.org"), Ok(IndicatorKind::Email));
        assert_eq!(kind("evil.org"), Ok(IndicatorKind::Domain));
        let sha = "a".repeat(64);
        assert_eq!(kind(&sha), Ok(IndicatorKind::Sha256));
        assert_eq!(kind("hello"), Err(ValueError::Undetected));
    }
}
