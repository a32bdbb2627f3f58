//! abuse.ch SSLBL lists: the JA3 fingerprint CSV
//! (`ja3_md5,Firstseen,Lastseen,Listingreason`, `#` comments) and the
//! malicious certificate CSV (`SHA1,ListingReason,ListingDate`, header row,
//! optional `#` comments). The listing reason becomes the tag.

use super::csv::split_fields;
use super::lines::{Line, LineReader};
use super::time::parse_timestamp;
use super::{IndicatorSetBuilder, IndicatorType, IntelError, Location, Provenance};
use std::borrow::Cow;
use std::io::BufRead;
use std::path::Path;

/// Feed name of the SSLBL JA3 list.
pub const SSLBL_JA3_FEED: &str = "abuse.ch SSLBL JA3";
/// Feed name of the SSLBL certificate list.
pub const SSLBL_CERT_FEED: &str = "abuse.ch SSLBL certificates";

fn load_rows<R: BufRead>(
    reader: R,
    source: &str,
    b: &mut IndicatorSetBuilder,
    mut row: impl FnMut(&[Cow<'_, str>], &mut IndicatorSetBuilder, Location),
) -> Result<(), IntelError> {
    b.count_source();
    let mut lines = LineReader::new(reader);
    while let Some((number, line)) = lines.next_line().map_err(|e| IntelError::io(source, e))? {
        let at = Location::Line(number);
        let line = match line {
            Line::Text(t) => t.trim_start_matches('\u{feff}').trim(),
            Line::TooLong => {
                b.reject(source, at, "line too long", "");
                continue;
            }
        };
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields = split_fields(line, 8);
        row(&fields, b, at);
    }
    Ok(())
}

/// Loads the SSLBL JA3 fingerprint CSV.
pub fn load_sslbl_ja3<R: BufRead>(
    reader: R,
    source: &str,
    b: &mut IndicatorSetBuilder,
) -> Result<(), IntelError> {
    load_rows(reader, source, b, |f, b, at| {
        let Some(value) = f.first() else { return };
        let reason = f.get(3).map(|s| s.as_ref()).filter(|s| !s.is_empty());
        let tags: Vec<&str> = reason.into_iter().collect();
        let prov = Provenance {
            feed: SSLBL_JA3_FEED,
            tags: &tags,
            first_seen: f.get(1).and_then(|s| parse_timestamp(s)),
            last_seen: f.get(2).and_then(|s| parse_timestamp(s)),
            ..Provenance::default()
        };
        b.add(IndicatorType::Ja3, value, &prov, source, at);
    })
}

/// Loads the SSLBL malicious certificate SHA-1 CSV.
pub fn load_sslbl_cert_sha1<R: BufRead>(
    reader: R,
    source: &str,
    b: &mut IndicatorSetBuilder,
) -> Result<(), IntelError> {
    load_rows(reader, source, b, |f, b, at| {
        let Some(value) = f.first() else { return };
        if value.eq_ignore_ascii_case("sha1") {
            return;
        }
        let reason = f.get(1).map(|s| s.as_ref()).filter(|s| !s.is_empty());
        let tags: Vec<&str> = reason.into_iter().collect();
        let prov = Provenance {
            feed: SSLBL_CERT_FEED,
            tags: &tags,
            first_seen: f.get(2).and_then(|s| parse_timestamp(s)),
            ..Provenance::default()
        };
        b.add(IndicatorType::CertSha1, value, &prov, source, at);
    })
}

fn open(path: &Path) -> Result<(std::io::BufReader<std::fs::File>, String), IntelError> {
    let name = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|e| IntelError::io(&name, e))?;
    Ok((std::io::BufReader::new(f), name))
}

/// Loads the SSLBL JA3 CSV from a file.
pub fn load_sslbl_ja3_file(path: &Path, b: &mut IndicatorSetBuilder) -> Result<(), IntelError> {
    let (r, name) = open(path)?;
    load_sslbl_ja3(r, &name, b)
}

/// Loads the SSLBL certificate CSV from a file.
pub fn load_sslbl_cert_sha1_file(
    path: &Path,
    b: &mut IndicatorSetBuilder,
) -> Result<(), IntelError> {
    let (r, name) = open(path)?;
    load_sslbl_cert_sha1(r, &name, b)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::intel::testutil::corpus;
    use crate::intel::IndicatorKind;

    #[test]
    fn sslbl_ja3_csv() {
        let Some(dir) = corpus("intel/ja3") else {
            return;
        };
        let mut b = IndicatorSetBuilder::new();
        load_sslbl_ja3_file(&dir.join("abusech-sslbl-ja3_fingerprints.csv"), &mut b).unwrap();
        let (set, report) = b.build();
        assert_eq!(set.count(IndicatorKind::Ja3), 98, "{report}");
        assert_eq!(report.rejected_total(), 0);
        let h = set
            .lookup_ja3("B386946A5A44D1DDCC843BC75336DFCE", 0)
            .next()
            .unwrap();
        assert_eq!(h.tags().next(), Some("Dridex"));
        assert_eq!(h.first_seen(), parse_timestamp("2017-07-14 18:08:15"));
        assert_eq!(h.feed(), SSLBL_JA3_FEED);
    }

    #[test]
    fn sslbl_cert_csv() {
        let Some(dir) = corpus("intel/ja3") else {
            return;
        };
        let mut b = IndicatorSetBuilder::new();
        load_sslbl_cert_sha1_file(&dir.join("abusech-sslbl-cert-sha1-blacklist.csv"), &mut b)
            .unwrap();
        let (set, report) = b.build();
        assert_eq!(set.count(IndicatorKind::CertSha1), 5565, "{report}");
        assert_eq!(report.rejected_total(), 0);
        let mut raw = [0u8; 20];
        for (i, r) in raw.iter_mut().enumerate() {
            *r = u8::from_str_radix(
                &"19e664f09401bf648b6ea57719e34ad795f3b6cb"[i * 2..i * 2 + 2],
                16,
            )
            .unwrap();
        }
        let h = set.lookup_cert_sha1(&raw, 0).next().unwrap();
        assert_eq!(h.tags().next(), Some("AsyncRAT C&C"));
        assert_eq!(h.first_seen(), parse_timestamp("2023-12-22T06:58:00Z"));
    }
}
