//! Loading indicator files and folders whose format is recognised from their
//! content, for `vigie intel check FILE...` and `vigie replay --intel PATH`.

use super::misp::{load_misp_feed_dir, load_misp_json, MispOptions};
use super::warninglist::Warninglist;
use super::{
    abusech, csv, read_capped, stix, zeek, IndicatorSetBuilder, IntelError, MAX_JSON_DOCUMENT,
};
use std::io::{BufReader, Read};
use std::path::Path;

/// The format of an indicator source, as recognised by [`detect_format`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceFormat {
    /// MISP feed directory (has `manifest.json`).
    MispFeedDir,
    /// MISP event or restSearch JSON.
    MispJson,
    /// STIX 2.x bundle.
    StixBundle,
    /// MISP warninglist (applied to the whole set, not loaded as indicators).
    Warninglist,
    /// Zeek intel file.
    ZeekIntel,
    /// abuse.ch SSLBL JA3 CSV.
    SslblJa3,
    /// abuse.ch SSLBL certificate SHA-1 CSV.
    SslblCert,
    /// Simple CSV list.
    Csv,
}

/// Bytes looked at to recognise a format.
const SNIFF: usize = 4096;

/// Recognises a format from the first bytes of a file.
pub fn detect_format(head: &[u8]) -> SourceFormat {
    let text = String::from_utf8_lossy(&head[..head.len().min(SNIFF)]);
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        let compact: String = t.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.contains("\"type\":\"bundle\"") {
            return SourceFormat::StixBundle;
        }
        if compact.contains("\"matching_attributes\"")
            || (compact.contains("\"list\":[") && !compact.contains("\"Attribute\""))
        {
            return SourceFormat::Warninglist;
        }
        return SourceFormat::MispJson;
    }
    if t.lines().any(|l| l.starts_with("#fields")) {
        return SourceFormat::ZeekIntel;
    }
    if t.contains("ja3_md5,Firstseen") || t.contains("JA3 Fingerprint Blacklist") {
        return SourceFormat::SslblJa3;
    }
    if t.lines().next().is_some_and(|l| {
        l.trim()
            .eq_ignore_ascii_case("SHA1,ListingReason,ListingDate")
    }) {
        return SourceFormat::SslblCert;
    }
    SourceFormat::Csv
}

fn file_feed(path: &Path) -> String {
    path.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Loads a file or folder, recognising each file's format. A folder with a
/// `manifest.json` is a MISP feed; other folders are loaded file by file
/// (sorted by name, not recursively; hidden files skipped). The feed name of
/// a file is its file name (Zeek rows with `meta.source` use that), of a
/// MISP feed folder its folder name. Warninglists found are added to the
/// builder. Returns the format of a single file (`None` for folders).
pub fn load_path(
    path: &Path,
    opts: &MispOptions,
    b: &mut IndicatorSetBuilder,
) -> Result<Option<SourceFormat>, IntelError> {
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| IntelError::io(&name, e))?;
    if meta.is_dir() {
        if path.join("manifest.json").is_file() {
            load_misp_feed_dir(path, &file_feed(path), opts, b)?;
            return Ok(None);
        }
        let mut files: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| IntelError::io(&name, e))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && !file_feed(p).starts_with('.'))
            .collect();
        files.sort();
        for f in files {
            load_path(&f, opts, b)?;
        }
        return Ok(None);
    }
    let mut file = std::fs::File::open(path).map_err(|e| IntelError::io(&name, e))?;
    let mut head = vec![0u8; SNIFF];
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(IntelError::io(&name, e)),
        }
    }
    head.truncate(n);
    let format = detect_format(&head);
    let feed = file_feed(path);
    match format {
        SourceFormat::ZeekIntel
        | SourceFormat::SslblJa3
        | SourceFormat::SslblCert
        | SourceFormat::Csv => {
            // Text formats stream: the sniffed bytes, then the rest of the file.
            let r = BufReader::new(std::io::Cursor::new(head).chain(file));
            match format {
                SourceFormat::ZeekIntel => zeek::load_zeek_intel(r, &name, &feed, b)?,
                SourceFormat::SslblJa3 => abusech::load_sslbl_ja3(r, &name, b)?,
                SourceFormat::SslblCert => abusech::load_sslbl_cert_sha1(r, &name, b)?,
                _ => csv::load_csv(r, &name, &feed, b)?,
            }
        }
        SourceFormat::StixBundle => {
            let bytes = read_capped(path, MAX_JSON_DOCUMENT)?;
            stix::load_stix_json(&bytes, &name, &feed, b)?;
        }
        SourceFormat::MispJson => {
            let bytes = read_capped(path, MAX_JSON_DOCUMENT)?;
            load_misp_json(&bytes, &name, &feed, opts, b)?;
        }
        SourceFormat::Warninglist => {
            let bytes = read_capped(path, MAX_JSON_DOCUMENT)?;
            b.add_warninglist(Warninglist::from_json(&bytes, &name)?);
        }
        SourceFormat::MispFeedDir => {}
    }
    Ok(Some(format))
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::intel::testutil::corpus;
    use crate::intel::IndicatorKind as K;

    #[test]
    fn every_corpus_intel_file_is_recognised_and_loads() {
        let Some(dir) = corpus("intel") else {
            return;
        };
        let expect = [
            (
                "ja3/abusech-sslbl-ja3_fingerprints.csv",
                SourceFormat::SslblJa3,
            ),
            (
                "ja3/abusech-sslbl-cert-sha1-blacklist.csv",
                SourceFormat::SslblCert,
            ),
            ("zeek-feeds/tor-exit.intel", SourceFormat::ZeekIntel),
            ("zeek/match-subnet.intel.dat", SourceFormat::ZeekIntel),
            ("stix/amnesty-novispy.stix2.json", SourceFormat::StixBundle),
            ("misp/pymisp-tests/stix2.json", SourceFormat::StixBundle),
            ("misp/pymisp-tests/misp_event.json", SourceFormat::MispJson),
            ("misp/pymisp-tests/to_delete2.json", SourceFormat::MispJson),
            ("misp/warninglists/rfc1918.json", SourceFormat::Warninglist),
            (
                "misp/tweetfeed-feed/67317f07-5461-555f-9491-d7685196f614.json",
                SourceFormat::MispJson,
            ),
        ];
        for (f, want) in expect {
            let mut b = IndicatorSetBuilder::new();
            let got = load_path(&dir.join(f), &MispOptions::default(), &mut b).unwrap();
            assert_eq!(got, Some(want), "{f}");
        }
        // Whole folders, as `vigie intel check` would get them.
        for (sub, min) in [
            ("zeek-feeds", 50_000),
            ("stix", 1900),
            ("zeek", 10),
            ("ja3", 5663),
            ("misp/tweetfeed-feed", 2805),
        ] {
            let mut b = IndicatorSetBuilder::new();
            assert_eq!(
                load_path(&dir.join(sub), &MispOptions::default(), &mut b).unwrap(),
                None
            );
            let (set, report) = b.build();
            assert!(set.len() >= min, "{sub}: {}\n{report}", set.len());
        }
        // Warninglists in a folder load with indicators and filter them.
        let mut b = IndicatorSetBuilder::new();
        load_path(
            &dir.join("misp/warninglists"),
            &MispOptions::default(),
            &mut b,
        )
        .unwrap();
        load_path(
            &dir.join("zeek-feeds/cps-collected-iocs.intel"),
            &MispOptions::default(),
            &mut b,
        )
        .unwrap();
        let (set, report) = b.build();
        assert!(report.warninglist_removed_total() > 0, "{report}");
        assert!(set.count(K::Ipv4) > 0);
        assert!(report.to_string().contains("warninglist removals:"));
    }

    #[test]
    fn format_sniffing() {
        assert_eq!(detect_format(b"1.2.3.4,ip\n"), SourceFormat::Csv);
        assert_eq!(
            detect_format(b"\xef\xbb\xbfSHA1,ListingReason,ListingDate\n"),
            SourceFormat::SslblCert
        );
        assert_eq!(
            detect_format(b"{ \"type\" : \"bundle\" }"),
            SourceFormat::StixBundle
        );
        assert_eq!(
            detect_format(b"{\"response\":{\"Attribute\":[]}}"),
            SourceFormat::MispJson
        );
        assert_eq!(
            detect_format(b"#separator \\x09\n#fields\tindicator"),
            SourceFormat::ZeekIntel
        );
        assert_eq!(detect_format(b""), SourceFormat::Csv);
    }
}
