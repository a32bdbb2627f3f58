//! MISP warninglists: lists of known-benign values (public DNS resolvers,
//! CDN ranges, top-level domains, hashes of empty files, ...). Indicators
//! that match a list are removed when the set is built and counted per list.
//!
//! List types: `cidr` (an IP indicator whose whole prefix lies in a listed
//! range), `hostname` (a domain, or a URL's host, equal to or under a listed
//! name), `string` (the value equals an entry, case-insensitive) and
//! `substring` (the value contains an entry). `matching_attributes` limits a
//! list to the MISP attribute types it names; an empty list applies to all.

use super::value::{parse_ip_or_cidr, KeyBuf};
use super::{read_capped, IndicatorKind, IntelError, MAX_JSON_DOCUMENT};
use aho_corasick::AhoCorasick;
use serde::Deserialize;
use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;

#[derive(Deserialize)]
struct RawList {
    name: String,
    #[serde(rename = "type")]
    list_type: String,
    list: Vec<String>,
    #[serde(default)]
    matching_attributes: Vec<String>,
}

#[derive(Debug)]
enum Matcher {
    /// Sorted, merged inclusive ranges.
    Cidr {
        v4: Vec<(u128, u128)>,
        v6: Vec<(u128, u128)>,
    },
    Hostname(HashSet<Vec<u8>>),
    String(HashSet<Vec<u8>>),
    Substring(AhoCorasick),
}

/// A parsed MISP warninglist.
#[derive(Debug)]
pub struct Warninglist {
    name: String,
    kinds: u16,
    entries: usize,
    matcher: Matcher,
}

/// Kinds a MISP attribute type covers (as a bit mask of `IndicatorKind`).
fn kinds_of_misp_type(t: &str) -> u16 {
    use IndicatorKind as K;
    let bits = |ks: &[IndicatorKind]| ks.iter().fold(0u16, |m, &k| m | (1 << k as u16));
    match t {
        "ip-src" | "ip-dst" | "ip-src|port" | "ip-dst|port" => bits(&[K::Ipv4, K::Ipv6]),
        "domain|ip" => bits(&[K::Ipv4, K::Ipv6, K::Domain]),
        "domain" | "hostname" | "hostname|port" => bits(&[K::Domain]),
        "url" | "uri" | "link" => bits(&[K::Url]),
        "md5" | "filename|md5" => bits(&[K::Md5]),
        "sha1" | "filename|sha1" => bits(&[K::Sha1]),
        "sha256" | "filename|sha256" => bits(&[K::Sha256]),
        "x509-fingerprint-sha1" => bits(&[K::CertSha1]),
        "ja3-fingerprint-md5" => bits(&[K::Ja3, K::Ja3s]),
        "ja4-fingerprint" => bits(&[K::Ja4]),
        "email" | "email-src" | "email-dst" => bits(&[K::Email]),
        _ => 0,
    }
}

fn merge(mut r: Vec<(u128, u128)>) -> Vec<(u128, u128)> {
    r.sort_unstable();
    let mut out: Vec<(u128, u128)> = Vec::with_capacity(r.len());
    for (s, e) in r {
        match out.last_mut() {
            Some(last) if s <= last.1.saturating_add(1) => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

fn range_of(ip: IpAddr, len: u8) -> (u128, u128) {
    let (start, bits) = match ip {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32u32),
        IpAddr::V6(a) => (u128::from(a), 128u32),
    };
    let host = bits - u32::from(len);
    let end = if host >= 128 {
        u128::MAX
    } else {
        start | ((1u128 << host) - 1)
    };
    (start, end)
}

fn in_ranges(ranges: &[(u128, u128)], s: u128, e: u128) -> bool {
    let i = ranges.partition_point(|r| r.0 <= s);
    i > 0 && ranges[i - 1].1 >= e
}

impl Warninglist {
    /// Parses a warninglist `list.json` document.
    pub fn from_json(bytes: &[u8], source: &str) -> Result<Warninglist, IntelError> {
        let raw: RawList =
            serde_json::from_slice(bytes).map_err(|e| IntelError::json(source, e))?;
        let kinds = if raw.matching_attributes.is_empty() {
            u16::MAX
        } else {
            raw.matching_attributes
                .iter()
                .fold(0, |m, t| m | kinds_of_misp_type(t))
        };
        let lower = |s: &String| s.trim().to_ascii_lowercase().into_bytes();
        let entries = raw.list.len();
        let matcher = match raw.list_type.as_str() {
            "cidr" => {
                let (mut v4, mut v6) = (Vec::new(), Vec::new());
                for e in &raw.list {
                    // Entries that are not addresses are ignored, as MISP does.
                    if let Ok((ip, len)) = parse_ip_or_cidr(e.trim()) {
                        let r = range_of(ip, len);
                        if ip.is_ipv4() {
                            v4.push(r);
                        } else {
                            v6.push(r);
                        }
                    }
                }
                Matcher::Cidr {
                    v4: merge(v4),
                    v6: merge(v6),
                }
            }
            "hostname" => Matcher::Hostname(
                raw.list
                    .iter()
                    .map(|e| {
                        lower(e)
                            .strip_suffix(b".")
                            .map(<[u8]>::to_vec)
                            .unwrap_or_else(|| lower(e))
                    })
                    .map(|e| e.strip_prefix(b".").map(<[u8]>::to_vec).unwrap_or(e))
                    .collect(),
            ),
            "string" => Matcher::String(raw.list.iter().map(lower).collect()),
            "substring" => {
                let pats: Vec<Vec<u8>> = raw
                    .list
                    .iter()
                    .map(lower)
                    .filter(|p| !p.is_empty())
                    .collect();
                let ac = AhoCorasick::new(&pats).map_err(|e| {
                    IntelError::format(source, format!("warninglist substring patterns: {e}"))
                })?;
                Matcher::Substring(ac)
            }
            "regex" => {
                return Err(IntelError::format(
                    source,
                    format!("warninglist '{}': type regex is not supported", raw.name),
                ))
            }
            other => {
                return Err(IntelError::format(
                    source,
                    format!("warninglist '{}': unknown type '{other}'", raw.name),
                ))
            }
        };
        Ok(Warninglist {
            name: raw.name,
            kinds,
            entries,
            matcher,
        })
    }

    /// Reads and parses a warninglist file.
    pub fn from_file(path: &Path) -> Result<Warninglist, IntelError> {
        let bytes = read_capped(path, MAX_JSON_DOCUMENT)?;
        Warninglist::from_json(&bytes, &path.display().to_string())
    }

    /// The list's name, as counted in the report.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Entries in the list.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// True for an empty list.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Whether an indicator (stored form `stored`, text form `text`) is on the list.
    pub(crate) fn matches(&self, kind: IndicatorKind, stored: &[u8], text: &[u8]) -> bool {
        if self.kinds & (1 << kind as u16) == 0 {
            return false;
        }
        match &self.matcher {
            Matcher::Cidr { v4, v6 } => {
                let (ranges, bits) = match (kind, stored.len()) {
                    (IndicatorKind::Ipv4, 5) => (v4, 32u32),
                    (IndicatorKind::Ipv6, 17) => (v6, 128u32),
                    _ => return false,
                };
                let n = (bits / 8) as usize;
                let mut a = [0u8; 16];
                a[16 - n..].copy_from_slice(&stored[..n]);
                let start = u128::from_be_bytes(a);
                let host = bits - u32::from(stored[n]);
                let end = if host >= 128 {
                    u128::MAX
                } else {
                    start | ((1u128 << host) - 1)
                };
                in_ranges(ranges, start, end)
            }
            Matcher::Hostname(names) => {
                let host = match kind {
                    IndicatorKind::Domain => text,
                    IndicatorKind::Url => {
                        let end = text
                            .iter()
                            .position(|&b| b == b'/' || b == b':')
                            .unwrap_or(text.len());
                        &text[..end]
                    }
                    IndicatorKind::Email => match text.iter().rposition(|&b| b == b'@') {
                        Some(p) => &text[p + 1..],
                        None => return false,
                    },
                    _ => return false,
                };
                let mut rest = host;
                loop {
                    if names.contains(rest) {
                        return true;
                    }
                    match rest.iter().position(|&b| b == b'.') {
                        Some(p) => rest = &rest[p + 1..],
                        None => return false,
                    }
                }
            }
            Matcher::String(set) => {
                let mut k = KeyBuf::new();
                for &b in text {
                    if !k.push(b.to_ascii_lowercase()) {
                        return false;
                    }
                }
                set.contains(k.as_bytes())
            }
            Matcher::Substring(ac) => {
                let mut k = KeyBuf::new();
                for &b in text {
                    if !k.push(b.to_ascii_lowercase()) {
                        return false;
                    }
                }
                ac.is_match(k.as_bytes())
            }
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::intel::testutil::corpus;
    use crate::intel::{IndicatorSetBuilder, IndicatorType, Location, Provenance};

    fn load_all() -> Option<Vec<Warninglist>> {
        let dir = corpus("intel/misp/warninglists")?;
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        Some(
            names
                .iter()
                .map(|p| Warninglist::from_file(p).unwrap())
                .collect(),
        )
    }

    #[test]
    fn corpus_warninglists_parse_with_their_entry_counts() {
        let Some(lists) = load_all() else { return };
        assert_eq!(lists.len(), 20);
        let by = |n: &str| lists.iter().find(|l| l.name().contains(n)).unwrap();
        assert_eq!(by("Akamai").len(), 268);
        assert_eq!(by("RFC 1918").len(), 3);
        let total: usize = lists.iter().map(Warninglist::len).sum();
        assert_eq!(
            total,
            268 + 26
                + 69
                + 391
                + 6
                + 8
                + 1
                + 141
                + 16
                + 108
                + 269
                + 3
                + 15
                + 1
                + 10231
                + 647
                + 107
                + 1438
                + 255
                + 234
        );
    }

    #[test]
    fn warninglists_remove_false_positives_per_list() {
        let Some(lists) = load_all() else { return };
        let mut b = IndicatorSetBuilder::new();
        for l in lists {
            b.add_warninglist(l);
        }
        let p = Provenance {
            feed: "t",
            ..Provenance::default()
        };
        let items = [
            (IndicatorType::Ip, "10.1.2.3"),                  // rfc1918 (cidr)
            (IndicatorType::Ip, "10.0.0.0/8"),                // whole prefix inside rfc1918
            (IndicatorType::Ip, "fe80::1"),                   // ipv6 link-local
            (IndicatorType::Ip, "8.8.4.4"),                   // kept (no public-dns-v4 list here)
            (IndicatorType::Ip, "0.0.0.0/0"), // not inside any single list range: kept
            (IndicatorType::Domain, "com"),   // tlds (string)
            (IndicatorType::Domain, "co.uk"), // second-level-tlds (string)
            (IndicatorType::Domain, "api.ipify.org"), // whats-my-ip (hostname, subdomain)
            (IndicatorType::Url, "https://bit.ly/abc"), // url-shortener (hostname, on URL)
            (IndicatorType::Domain, "x.analyze.intezer.com"), // automated-malware-analysis (substring)
            (IndicatorType::Md5, "d41d8cd98f00b204e9800998ecf8427e"), // empty-hashes (string)
            (IndicatorType::Domain, "really-evil.example"),   // kept
        ];
        for (ty, v) in items {
            assert!(b.add(ty, v, &p, "t", Location::Whole), "{v}");
        }
        let (set, report) = b.build();
        let removed: Vec<(String, u64)> = report
            .warninglist_removals()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(report.warninglist_removed_total(), 9, "{removed:?}");
        assert_eq!(set.len(), 3);
        let count = |n: &str| {
            removed
                .iter()
                .filter(|(k, _)| k.contains(n))
                .map(|(_, v)| *v)
                .sum::<u64>()
        };
        assert_eq!(count("RFC 1918"), 2);
        // The MD5 of the empty file is on two lists; the first one loaded counts it.
        assert_eq!(
            count("hashes for empty files") + count("hashes with common false-positives"),
            1
        );
        assert!(set
            .lookup_domain(b"really-evil.example", 0)
            .next()
            .is_some());
        assert!(set
            .lookup_ip("8.8.4.4".parse().unwrap(), 0)
            .next()
            .is_some());
    }

    #[test]
    fn bad_warninglists_are_errors() {
        assert!(Warninglist::from_json(b"{", "w.json").is_err());
        let e = Warninglist::from_json(br#"{"name":"x","type":"regex","list":[]}"#, "w.json")
            .unwrap_err();
        assert!(e.to_string().contains("regex is not supported"));
        let l = Warninglist::from_json(
            br#"{"name":"x","type":"cidr","list":["not an ip","1.2.3.0/24"],"matching_attributes":["ip-dst"]}"#,
            "w.json",
        )
        .unwrap();
        assert!(l.matches(IndicatorKind::Ipv4, &[1, 2, 3, 9, 32], b"1.2.3.9"));
        assert!(!l.matches(IndicatorKind::Ipv4, &[1, 2, 4, 9, 32], b"1.2.4.9"));
        assert!(!l.matches(IndicatorKind::Domain, b"a.b", b"a.b"));
    }
}
