//! Suricata dataset files (`dataset:` keyword): one value a line, optionally
//! followed by `,<reputation>` (datarep). The type is not in the file; the
//! caller gives it from the rule or config: `string` (base64-encoded; the
//! decoded value's type is detected, so `.evil.com` is a domain with its
//! subdomains), `md5`, `sha256`, `ipv4`, `ip`.

use super::lines::{Line, LineReader};
use super::{IndicatorSetBuilder, IndicatorType, IntelError, Location, Provenance};
use std::io::BufRead;

/// The declared type of a Suricata dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatasetType {
    /// Base64-encoded strings.
    String,
    /// MD5 hex.
    Md5,
    /// SHA-256 hex.
    Sha256,
    /// IPv4 addresses.
    Ipv4,
    /// IPv4 or IPv6 addresses.
    Ip,
}

impl DatasetType {
    /// Parses the dataset type name used in Suricata rules and config.
    pub fn parse(s: &str) -> Option<DatasetType> {
        Some(match s {
            "string" => DatasetType::String,
            "md5" => DatasetType::Md5,
            "sha256" => DatasetType::Sha256,
            "ipv4" => DatasetType::Ipv4,
            "ip" | "ipv6" => DatasetType::Ip,
            _ => return None,
        })
    }
}

/// Decodes standard base64 (padding optional); `None` on a bad character.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Loads a Suricata dataset file of type `ty`.
pub fn load_suricata_dataset<R: BufRead>(
    reader: R,
    ty: DatasetType,
    source: &str,
    feed: &str,
    b: &mut IndicatorSetBuilder,
) -> Result<(), IntelError> {
    b.count_source();
    let mut lines = LineReader::new(reader);
    let prov = Provenance {
        feed,
        ..Provenance::default()
    };
    while let Some((number, line)) = lines.next_line().map_err(|e| IntelError::io(source, e))? {
        let at = Location::Line(number);
        let line = match line {
            Line::Text(t) => t.trim(),
            Line::TooLong => {
                b.reject(source, at, "line too long", "");
                continue;
            }
        };
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let value = line.split(',').next().unwrap_or("").trim();
        match ty {
            DatasetType::String => {
                let Some(raw) = base64_decode(value) else {
                    b.reject(source, at, "invalid base64", value);
                    continue;
                };
                let text = String::from_utf8_lossy(&raw);
                b.add(IndicatorType::Auto, text.trim(), &prov, source, at);
            }
            DatasetType::Md5 => {
                b.add(IndicatorType::Md5, value, &prov, source, at);
            }
            DatasetType::Sha256 => {
                b.add(IndicatorType::Sha256, value, &prov, source, at);
            }
            DatasetType::Ipv4 => {
                if value.contains(':') {
                    b.reject(source, at, "IPv6 address in an ipv4 dataset", value);
                    continue;
                }
                b.add(IndicatorType::Ip, value, &prov, source, at);
            }
            DatasetType::Ip => {
                b.add(IndicatorType::Ip, value, &prov, source, at);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::intel::testutil::corpus;
    use crate::intel::IndicatorKind;

    #[test]
    fn base64_values() {
        assert_eq!(base64_decode("LmV2aWwuY29tCg==").unwrap(), b".evil.com\n");
        assert_eq!(base64_decode("YQ").unwrap(), b"a");
        assert_eq!(base64_decode("a b"), None);
    }

    #[test]
    fn oisf_string_dataset() {
        let Some(dir) = corpus("intel/suricata-datasets") else {
            return;
        };
        let f = std::fs::File::open(dir.join("oisf-docrules-blocked-domains.lst")).unwrap();
        let mut b = IndicatorSetBuilder::new();
        load_suricata_dataset(
            std::io::BufReader::new(f),
            DatasetType::String,
            "blocked",
            "blocked",
            &mut b,
        )
        .unwrap();
        let (set, report) = b.build();
        assert_eq!(
            (set.count(IndicatorKind::Domain), report.rejected_total()),
            (1, 0)
        );
        let h = set.lookup_domain(b"www.evil.com", 0).next().unwrap();
        assert!(h.covers_subdomains());
        assert!(set.lookup_domain(b"notevil.com", 0).next().is_none());
    }

    #[test]
    fn iprep_categories_file_is_not_indicators() {
        // The categories file defines reputation categories, not values: as a
        // CSV list every row is refused with a reason.
        let Some(dir) = corpus("intel/suricata-datasets") else {
            return;
        };
        let mut b = IndicatorSetBuilder::new();
        crate::intel::csv::load_csv_file(&dir.join("oisf-docrules-iprep-categories.lst"), &mut b)
            .unwrap();
        let (set, report) = b.build();
        assert_eq!((set.len(), report.rejected_total()), (0, 3));
        assert!(report
            .rejections()
            .iter()
            .all(|r| r.reason == "unknown indicator type"));
    }

    #[test]
    fn typed_datasets() {
        let data = "1.2.3.4\n10.0.0.0/8,50\n::1\n";
        let mut b = IndicatorSetBuilder::new();
        load_suricata_dataset(data.as_bytes(), DatasetType::Ipv4, "d", "d", &mut b).unwrap();
        let (set, r) = b.build();
        assert_eq!((set.len(), r.rejected_total()), (2, 1));
        let mut b = IndicatorSetBuilder::new();
        let data = format!("{}\n{}\nzz\n", "a".repeat(32), "b".repeat(64));
        load_suricata_dataset(data.as_bytes(), DatasetType::Md5, "d", "d", &mut b).unwrap();
        let (set, r) = b.build();
        assert_eq!((set.len(), r.rejected_total()), (1, 2));
        assert_eq!(DatasetType::parse("sha256"), Some(DatasetType::Sha256));
        assert_eq!(DatasetType::parse("bogus"), None);
    }
}
