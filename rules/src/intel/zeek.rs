//! Zeek intel framework files: tab-separated, with a `#fields` header naming
//! the columns (`indicator`, `indicator_type`, `meta.source`, `meta.desc`,
//! `meta.url`, `meta.do_notice`, `meta.remove`, ...).
//!
//! Mapping: `Intel::ADDR`/`Intel::SUBNET` → IP, `Intel::DOMAIN` → exact host
//! name (Zeek matches domains exactly), `Intel::URL`, `Intel::EMAIL`,
//! `Intel::FILE_HASH` (MD5/SHA-1/SHA-256 by length), `Intel::CERT_HASH`
//! (certificate SHA-1), and the non-standard `Intel::JA3`/`Intel::JA3S`/
//! `Intel::JA4` some feeds use. Other types (`SOFTWARE`, `USER_NAME`,
//! `FILE_NAME`, `PUBKEY_HASH`) are skipped and counted. Provenance: feed =
//! `meta.source` (else the file's feed name), event id = `meta.url`, tag =
//! `meta.desc`. A row with `meta.remove` = `T` removes the indicator of that
//! source; a row with `meta.whitelist` = `T` drops the value from every source.

use super::lines::{Line, LineReader};
use super::{IndicatorSetBuilder, IndicatorType, IntelError, Location, Provenance};
use std::io::BufRead;
use std::path::Path;

fn unset(v: &str) -> bool {
    v.is_empty() || v == "-" || v == "(empty)"
}

fn parse_separator(s: &str) -> Option<char> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix("\\x") {
        return u8::from_str_radix(hex, 16).ok().map(char::from);
    }
    let mut c = s.chars();
    match (c.next(), c.next()) {
        (Some(ch), None) => Some(ch),
        _ => None,
    }
}

struct Columns {
    n: usize,
    indicator: usize,
    ty: usize,
    source: Option<usize>,
    desc: Option<usize>,
    url: Option<usize>,
    remove: Option<usize>,
    whitelist: Option<usize>,
}

/// Loads a Zeek intel file from a reader. `source` names it in rejections;
/// `default_feed` is used for rows without `meta.source`.
pub fn load_zeek_intel<R: BufRead>(
    reader: R,
    source: &str,
    default_feed: &str,
    b: &mut IndicatorSetBuilder,
) -> Result<(), IntelError> {
    b.count_source();
    let mut lines = LineReader::new(reader);
    let mut sep = '\t';
    let mut cols: Option<Columns> = None;
    while let Some((number, line)) = lines.next_line().map_err(|e| IntelError::io(source, e))? {
        let at = Location::Line(number);
        let line = match line {
            Line::Text(t) => t,
            Line::TooLong => {
                b.reject(source, at, "line too long", "");
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            if let Some(s) = rest.strip_prefix("separator") {
                sep = parse_separator(s).ok_or_else(|| {
                    IntelError::format(source, format!("line {}: bad #separator", number))
                })?;
            } else if let Some(f) = rest.strip_prefix("fields") {
                let names: Vec<&str> = f.trim_start_matches([' ', sep]).split(sep).collect();
                let pos = |n: &str| names.iter().position(|&x| x == n);
                let (Some(indicator), Some(ty)) = (pos("indicator"), pos("indicator_type")) else {
                    return Err(IntelError::format(
                        source,
                        format!(
                            "line {}: #fields lacks 'indicator' and 'indicator_type' columns",
                            number
                        ),
                    ));
                };
                cols = Some(Columns {
                    n: names.len(),
                    indicator,
                    ty,
                    source: pos("meta.source"),
                    desc: pos("meta.desc"),
                    url: pos("meta.url"),
                    remove: pos("meta.remove"),
                    whitelist: pos("meta.whitelist"),
                });
            }
            continue;
        }
        let Some(c) = &cols else {
            return Err(IntelError::format(
                source,
                format!(
                    "line {}: data before the #fields header (is this a Zeek intel file?)",
                    number
                ),
            ));
        };
        let fields: Vec<&str> = line.split(sep).collect();
        if fields.len() != c.n {
            b.reject(
                source,
                at,
                "wrong number of fields",
                &format!("expected {}, found {}", c.n, fields.len()),
            );
            continue;
        }
        let get = |i: Option<usize>| i.and_then(|i| fields.get(i).copied()).filter(|v| !unset(v));
        let value = fields[c.indicator];
        let ty_name = fields[c.ty];
        let ty = match ty_name {
            "Intel::ADDR" => {
                if value.contains('/') {
                    b.reject(source, at, "CIDR in Intel::ADDR (use Intel::SUBNET)", value);
                    continue;
                }
                IndicatorType::Ip
            }
            "Intel::SUBNET" => IndicatorType::Ip,
            "Intel::DOMAIN" => IndicatorType::Hostname,
            "Intel::URL" => IndicatorType::Url,
            "Intel::EMAIL" => IndicatorType::Email,
            "Intel::FILE_HASH" => IndicatorType::FileHash,
            "Intel::CERT_HASH" => IndicatorType::CertSha1,
            "Intel::JA3" => IndicatorType::Ja3,
            "Intel::JA3S" => IndicatorType::Ja3s,
            "Intel::JA4" => IndicatorType::Ja4,
            "Intel::SOFTWARE" | "Intel::USER_NAME" | "Intel::FILE_NAME" | "Intel::PUBKEY_HASH" => {
                b.skip(&format!(
                    "zeek {ty_name}: not a network indicator vigie matches"
                ));
                continue;
            }
            other => {
                b.reject(source, at, "unknown Zeek indicator_type", other);
                continue;
            }
        };
        let feed = get(c.source).unwrap_or(default_feed);
        if get(c.remove) == Some("T") {
            if !b.remove(ty, value, feed) {
                b.reject(source, at, "invalid value in removal entry", value);
            }
            continue;
        }
        if get(c.whitelist) == Some("T") {
            if !b.exclude(ty, value) {
                b.reject(source, at, "invalid value in whitelist entry", value);
            }
            continue;
        }
        let desc = get(c.desc);
        let tags: Vec<&str> = desc.into_iter().collect();
        let prov = Provenance {
            feed,
            event_id: get(c.url).unwrap_or(""),
            tags: &tags,
            ..Provenance::default()
        };
        b.add(ty, value, &prov, source, at);
    }
    if cols.is_none() {
        b.reject(
            source,
            Location::Whole,
            "no #fields header",
            "file has no Zeek intel rows",
        );
    }
    Ok(())
}

/// Loads a Zeek intel file; the default feed name is the file name.
pub fn load_zeek_intel_file(path: &Path, b: &mut IndicatorSetBuilder) -> Result<(), IntelError> {
    let name = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|e| IntelError::io(&name, e))?;
    let feed = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.clone());
    load_zeek_intel(std::io::BufReader::new(f), &name, &feed, b)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::intel::testutil::corpus;
    use crate::intel::IndicatorKind as K;

    #[test]
    fn zeek_feeds_load_with_manifest_counts() {
        let Some(dir) = corpus("intel/zeek-feeds") else {
            return;
        };
        // (file, rows by type from MANIFEST.tsv: ADDR, DOMAIN, URL, EMAIL,
        // FILE_HASH, SUBNET; then loaded, rejected, duplicates merged). Duplicates
        // are rows repeating value + meta.source + meta.url (checked with sort -u).
        let expect = [
            (
                "Amnesty_NSO_Domains.intel",
                [0, 1407, 0, 17, 0, 0],
                (1424, 0, 0),
            ),
            ("abuse-ch-malware.intel", [0, 0, 0, 0, 828, 0], (828, 0, 0)),
            (
                "abuse-ch-threatfox-ip.intel",
                [3493, 0, 0, 0, 0, 0],
                (2342, 0, 1151),
            ),
            (
                "cps-collected-iocs.intel",
                [31759, 822, 15605, 1134, 538, 10],
                (47662, 2, 2204),
            ),
            (
                "stalkerware.intel",
                [35, 566, 0, 0, 1938, 0],
                (2228, 0, 311),
            ),
            ("tor-exit.intel", [3251, 0, 0, 0, 0, 0], (1372, 0, 1879)),
        ];
        for (file, rows, (loaded, rejected, dup)) in expect {
            let mut b = IndicatorSetBuilder::new();
            load_zeek_intel_file(&dir.join(file), &mut b).unwrap();
            let (set, report) = b.build();
            let total: u64 = rows.iter().sum();
            assert_eq!(
                (
                    report.loaded(),
                    report.rejected_total(),
                    report.duplicates()
                ),
                (loaded, rejected, dup),
                "{file}\n{report}"
            );
            assert_eq!(loaded + rejected + dup, total, "{file}");
            assert_eq!(set.len() as u64, loaded);
            let [addr, dom, url, email, hash, subnet] = rows;
            let ips = set.count(K::Ipv4) + set.count(K::Ipv6);
            let hashes = set.count(K::Md5) + set.count(K::Sha1) + set.count(K::Sha256);
            assert!(ips <= addr + subnet && set.count(K::Domain) <= dom);
            assert!(set.count(K::Url) <= url && hashes <= hash);
            assert!(set.count(K::Email) <= email);
        }
        // The two rejected rows are Intel::DOMAIN values carrying a URL path.
        let mut b = IndicatorSetBuilder::new();
        load_zeek_intel_file(&dir.join("cps-collected-iocs.intel"), &mut b).unwrap();
        let r = b.report();
        assert_eq!(r.rejections()[0].location, Location::Line(49207));
        assert_eq!(r.rejections()[0].reason, "invalid domain name");
        assert!(r.rejections()[0].detail.contains("publicvm.com/ws/agent/"));
    }

    #[test]
    fn zeek_btest_files() {
        let Some(dir) = corpus("intel/zeek") else {
            return;
        };
        let load = |f: &str| {
            let mut b = IndicatorSetBuilder::new();
            load_zeek_intel_file(&dir.join(f), &mut b).unwrap();
            b.build()
        };
        let (set, report) = load("match-subnet.intel.dat");
        assert_eq!(set.len(), 6);
        let h = set
            .lookup_ip("192.168.142.5".parse().unwrap(), 0)
            .next()
            .unwrap();
        assert_eq!(h.value().to_string(), "192.168.142.0/26");
        assert_eq!(h.tags().next(), Some("this subnetwork is inside"));
        assert_eq!(h.event_id(), "http://some-data-distributor.com/4");
        assert_eq!(h.feed(), "source1");
        let h = set
            .lookup_ip("192.168.142.100".parse().unwrap(), 0)
            .next()
            .unwrap();
        assert_eq!(h.value().to_string(), "192.168.142.0/24");
        let h = set
            .lookup_ip("192.168.142.1".parse().unwrap(), 0)
            .next()
            .unwrap();
        assert_eq!(h.value().to_string(), "192.168.142.1");
        let h = set
            .lookup_ip("192.168.130.1".parse().unwrap(), 0)
            .next()
            .unwrap();
        assert_eq!(h.value().to_string(), "192.168.128.0/18");
        assert_eq!(report.rejected_total(), 0);

        let (set, report) = load("cluster-indicator-inserted-new-min-store.intel.dat");
        assert_eq!((set.len(), report.skipped_total()), (4, 3));
        assert_eq!(set.lookup_ip("1.2.3.4".parse().unwrap(), 0).count(), 2);

        let (set, report) = load("input-and-match.intel.dat");
        assert_eq!((set.len(), report.duplicates()), (2, 1));
        assert!(set.lookup_email(b"e@mail.com", 0).next().is_some());

        let (set, report) = load("removal.intel.dat");
        assert_eq!((set.len(), report.removed()), (1, 0));
        assert!(set
            .lookup_ip("10.0.0.2".parse().unwrap(), 0)
            .next()
            .is_some());
        assert!(set
            .lookup_ip("10.0.0.1".parse().unwrap(), 0)
            .next()
            .is_none());

        for (f, n) in [
            ("expire-item.intel.dat", 2),
            ("filter-item.intel.dat", 2),
            ("read-file-dist-cluster.intel.dat", 2),
            ("remove-non-existing.intel.dat", 1),
            ("updated-match.intel1.dat", 1),
            ("updated-match.intel2.dat", 2),
            ("updated-match.intel3.dat", 2),
        ] {
            let (set, report) = load(f);
            assert_eq!(set.len(), n, "{f}");
            assert_eq!(report.rejected_total(), 0, "{f}");
        }
    }

    #[test]
    fn zeek_expected_cert_and_domain_intel() {
        let Some(dir) = corpus("expected/zeek/policy-frameworks-intel-seen-certs") else {
            return;
        };
        let mut b = IndicatorSetBuilder::new();
        load_zeek_intel_file(&dir.join("intel.dat"), &mut b).unwrap();
        let (set, report) = b.build();
        assert_eq!(set.count(K::Domain), 2, "{report}");
        assert_eq!(set.count(K::CertSha1), 1, "{report}");
    }

    #[test]
    fn zeek_btest_intel_files_with_expected_logs() {
        let Some(dir) = corpus("expected/zeek") else {
            return;
        };
        // (test folder, files, indicators loaded, skipped) from MANIFEST.tsv types.
        let cases = [
            (
                "policy-frameworks-intel-seen-certs",
                &["intel.dat"][..],
                3,
                0,
            ),
            (
                "policy-frameworks-intel-seen-filename-in-http-get-response",
                &["intel.dat"],
                0,
                1,
            ),
            (
                "policy-frameworks-intel-seen-filename-in-http-post",
                &["intel.dat"],
                0,
                2,
            ),
            ("policy-frameworks-intel-seen-smb", &["intel.dat"], 0, 1),
            ("policy-frameworks-intel-seen-smtp", &["intel.dat"], 6, 0),
            (
                "policy-frameworks-intel-whitelisting",
                &["intel.dat", "whitelist.dat"],
                1,
                0,
            ),
        ];
        for (test, files, loaded, skipped) in cases {
            let mut b = IndicatorSetBuilder::new();
            for f in files {
                load_zeek_intel_file(&dir.join(test).join(f), &mut b).unwrap();
            }
            let (set, report) = b.build();
            assert_eq!(
                (set.len(), report.skipped_total(), report.rejected_total()),
                (loaded, skipped, 0),
                "{test}\n{report}"
            );
        }
        // As in the baseline intel.log: upload.wikimedia.org matches, the
        // whitelisted meta.wikimedia.org does not.
        let mut b = IndicatorSetBuilder::new();
        let w = dir.join("policy-frameworks-intel-whitelisting");
        load_zeek_intel_file(&w.join("intel.dat"), &mut b).unwrap();
        load_zeek_intel_file(&w.join("whitelist.dat"), &mut b).unwrap();
        let (set, report) = b.build();
        assert_eq!(report.removed(), 1);
        assert!(set
            .lookup_domain(b"upload.wikimedia.org", 0)
            .next()
            .is_some());
        assert!(set.lookup_domain(b"meta.wikimedia.org", 0).next().is_none());
        let log = std::fs::read_to_string(w.join("intel.log")).unwrap();
        assert!(log.contains("upload.wikimedia.org") && !log.contains("meta.wikimedia.org"));
    }

    #[test]
    fn zeek_bad_rows_are_counted_not_fatal() {
        let data = "#separator \\x09\n#fields\tindicator\tindicator_type\tmeta.source\n\
                    1.2.3.4\tIntel::ADDR\ts\n\
                    1.2.3.0/24\tIntel::ADDR\ts\n\
                    nope\tIntel::ADDR\ts\n\
                    x\tIntel::BOGUS\ts\n\
                    too\tfew\n\
                    evil.com\tIntel::DOMAIN\t-\n";
        let mut b = IndicatorSetBuilder::new();
        load_zeek_intel(data.as_bytes(), "t.dat", "dflt", &mut b).unwrap();
        let (set, report) = b.build();
        assert_eq!(set.len(), 2);
        assert_eq!(report.rejected_total(), 4);
        let lines: Vec<Location> = report.rejections().iter().map(|r| r.location).collect();
        assert_eq!(
            lines,
            [
                Location::Line(4),
                Location::Line(5),
                Location::Line(6),
                Location::Line(7)
            ]
        );
        assert_eq!(
            set.lookup_domain(b"evil.com", 0).next().unwrap().feed(),
            "dflt"
        );
        let mut b = IndicatorSetBuilder::new();
        let e = load_zeek_intel(&b"1.2.3.4\tIntel::ADDR\n"[..], "t.dat", "d", &mut b).unwrap_err();
        assert!(e.to_string().contains("before the #fields header"));
    }
}
