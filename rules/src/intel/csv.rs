//! Simple CSV indicator lists: one indicator a line, `value[,type[,tag]]`.
//!
//! `#` starts a comment line; a first row whose first field is `value` or
//! `indicator` is a header. Type names (case-insensitive): `ip`, `ipv4`,
//! `ipv6`, `ip-src`, `ip-dst`, `cidr`, `subnet`, `domain` (with subdomains),
//! `hostname`/`host` (exact), `url`/`uri`, `md5`, `sha1`, `sha256`, `hash`,
//! `ja3`, `ja3s`, `ja4`, `cert-sha1`/`x509-sha1`, `email`. An empty type or
//! `auto` (or no type column) detects the type from the value (a 32-hex value
//! is then an MD5, never a JA3). Fields may be double-quoted.

use super::lines::{Line, LineReader};
use super::{IndicatorSetBuilder, IndicatorType, IntelError, Location, Provenance};
use std::borrow::Cow;
use std::io::BufRead;
use std::path::Path;

/// Splits one CSV line (RFC 4180 quoting) into at most `max` fields; commas
/// in the last field are part of its text.
pub(crate) fn split_fields(line: &str, max: usize) -> Vec<Cow<'_, str>> {
    if !line.contains('"') {
        return line
            .splitn(max.max(1), ',')
            .map(|f| Cow::Borrowed(f.trim()))
            .collect();
    }
    let mut out: Vec<Cow<'_, str>> = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut in_quotes = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    in_quotes = false;
                }
            } else {
                cur.push(c);
            }
            continue;
        }
        match c {
            '"' if at_start => in_quotes = true,
            ',' if out.len() + 1 < max => {
                out.push(Cow::Owned(std::mem::take(&mut cur).trim().to_string()));
                at_start = true;
                continue;
            }
            ' ' | '\t' if at_start => continue,
            _ => cur.push(c),
        }
        at_start = false;
    }
    out.push(Cow::Owned(cur.trim().to_string()));
    out
}

/// The indicator type for a CSV type name, `Auto` for empty/auto, `None` if unknown.
pub fn type_from_name(name: &str) -> Option<IndicatorType> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "" | "auto" => IndicatorType::Auto,
        "ip" | "ipv4" | "ipv6" | "ip-src" | "ip-dst" | "addr" | "cidr" | "subnet" | "net" => {
            IndicatorType::Ip
        }
        "domain" => IndicatorType::Domain,
        "hostname" | "host" | "fqdn" => IndicatorType::Hostname,
        "url" | "uri" => IndicatorType::Url,
        "md5" => IndicatorType::Md5,
        "sha1" | "sha-1" => IndicatorType::Sha1,
        "sha256" | "sha-256" => IndicatorType::Sha256,
        "hash" | "filehash" | "file_hash" => IndicatorType::FileHash,
        "ja3" => IndicatorType::Ja3,
        "ja3s" => IndicatorType::Ja3s,
        "ja4" => IndicatorType::Ja4,
        "cert-sha1" | "x509-sha1" | "cert_sha1" | "x509-fingerprint-sha1" => {
            IndicatorType::CertSha1
        }
        "email" | "email-addr" | "e-mail" => IndicatorType::Email,
        _ => return None,
    })
}

/// Loads a CSV list. Every row gets `feed` as its feed name.
pub fn load_csv<R: BufRead>(
    reader: R,
    source: &str,
    feed: &str,
    b: &mut IndicatorSetBuilder,
) -> Result<(), IntelError> {
    b.count_source();
    let mut lines = LineReader::new(reader);
    let mut first = true;
    while let Some((number, line)) = lines.next_line().map_err(|e| IntelError::io(source, e))? {
        let at = Location::Line(number);
        let line = match line {
            Line::Text(t) => t.trim_start_matches('\u{feff}'),
            Line::TooLong => {
                b.reject(source, at, "line too long", "");
                continue;
            }
        };
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fields = split_fields(trimmed, 3);
        let value = fields.first().map_or("", |f| f.as_ref());
        if first {
            first = false;
            if value.eq_ignore_ascii_case("value") || value.eq_ignore_ascii_case("indicator") {
                continue;
            }
        }
        let type_name = fields.get(1).map_or("", |f| f.as_ref());
        let Some(ty) = type_from_name(type_name) else {
            b.reject(source, at, "unknown indicator type", type_name);
            continue;
        };
        let tag = fields.get(2).map(|f| f.as_ref()).filter(|t| !t.is_empty());
        let tags: Vec<&str> = tag.into_iter().collect();
        let prov = Provenance {
            feed,
            tags: &tags,
            ..Provenance::default()
        };
        b.add(ty, value, &prov, source, at);
    }
    Ok(())
}

/// Loads a CSV list file; the feed name is the file name.
pub fn load_csv_file(path: &Path, b: &mut IndicatorSetBuilder) -> Result<(), IntelError> {
    let name = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|e| IntelError::io(&name, e))?;
    let feed = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.clone());
    load_csv(std::io::BufReader::new(f), &name, &feed, b)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::intel::IndicatorKind as K;

    #[test]
    fn fields_split_with_quotes() {
        assert_eq!(split_fields("a, b ,c", 3), ["a", "b", "c"]);
        assert_eq!(
            split_fields("\"x,y\",url,\"say \"\"hi\"\"\"", 3),
            ["x,y", "url", "say \"hi\""]
        );
        assert_eq!(split_fields("a,b,c,d,e", 3), ["a", "b", "c,d,e"]);
        assert_eq!(split_fields("", 3), [""]);
    }

    #[test]
    fn csv_typed_and_detected() {
        let data = "\u{feff}value,type,tag\n\
                    # comment\n\
                    1.2.3.4,ip,scanner\n\
                    10.0.0.0/8,cidr\n\
                    evil.com,domain\n\
                    www.exact.org,hostname\n\
                    http://bad.net/x,url\n\
                    d41d8cd98f00b204e9800998ecf8427f,md5\n\
                    b386946a5a44d1ddcc843bc75336dfce,ja3\n\
                    bad@evil.org,email\n\
                    autodetected.net\n\
                    \"2001:db8::1\",,quoted\n\
                    nonsense value,\n\
                    1.2.3.4,bogus-type\n\
                    1.2.3.999,ip\n";
        let mut b = IndicatorSetBuilder::new();
        load_csv(data.as_bytes(), "list.csv", "mylist", &mut b).unwrap();
        let (set, report) = b.build();
        assert_eq!(set.len(), 10, "{report}");
        assert_eq!(report.rejected_total(), 3);
        let r: Vec<String> = report
            .rejections()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            r,
            [
                "list.csv:13: cannot tell the indicator type from the value: \"nonsense value\"",
                "list.csv:14: unknown indicator type: bogus-type",
                "list.csv:15: invalid IP address: \"1.2.3.999\"",
            ]
        );
        assert_eq!(set.count(K::Ja3), 1);
        assert_eq!(set.count(K::Ipv6), 1);
        let h = set.lookup_ip("1.2.3.4".parse().unwrap(), 0).next().unwrap();
        assert_eq!((h.feed(), h.tags().next()), ("mylist", Some("scanner")));
        assert!(set
            .lookup_domain(b"sub.autodetected.net", 0)
            .next()
            .is_some());
    }
}
