//! Minimal X.509 reader: the fields EVE and detection need, from DER.

use sha1::{Digest, Sha1};

/// The parts of a certificate that are logged and matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// Subject DN, RFC 4514-ish in certificate order: "C=US, O=Org, CN=name".
    pub subject: String,
    /// Issuer DN, same format.
    pub issuer: String,
    /// Serial as colon-separated uppercase hex of its DER content bytes.
    pub serial: String,
    /// notBefore as seconds since the Unix epoch.
    pub not_before: i64,
    /// notAfter as seconds since the Unix epoch.
    pub not_after: i64,
    /// DNS names of the subjectAltName extension.
    pub san_dns: Vec<String>,
    /// SHA-1 of the DER, lowercase colon-separated hex.
    pub fingerprint: String,
}

/// Why a certificate could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertError {
    /// A DER element is cut or its length is wrong.
    BadDer,
    /// A required field has the wrong tag.
    UnexpectedTag,
    /// A time field is not a valid UTCTime/GeneralizedTime.
    BadTime,
}

struct Der<'a> {
    buf: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(buf: &'a [u8]) -> Der<'a> {
        Der { buf }
    }
    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    fn peek_tag(&self) -> Option<u8> {
        self.buf.first().copied()
    }
    /// Reads one element: (tag, content, whole element bytes).
    fn next(&mut self) -> Result<(u8, &'a [u8], &'a [u8]), CertError> {
        let b = self.buf;
        let tag = *b.first().ok_or(CertError::BadDer)?;
        if tag & 0x1f == 0x1f {
            return Err(CertError::BadDer);
        }
        let l0 = *b.get(1).ok_or(CertError::BadDer)?;
        let (len, hdr) = if l0 < 0x80 {
            (usize::from(l0), 2)
        } else {
            let n = usize::from(l0 & 0x7f);
            if n == 0 || n > 4 {
                return Err(CertError::BadDer);
            }
            let bytes = b.get(2..2 + n).ok_or(CertError::BadDer)?;
            let len = bytes.iter().fold(0usize, |a, &x| (a << 8) | usize::from(x));
            (len, 2 + n)
        };
        let end = hdr.checked_add(len).ok_or(CertError::BadDer)?;
        let content = b.get(hdr..end).ok_or(CertError::BadDer)?;
        let whole = &b[..end];
        self.buf = &b[end..];
        Ok((tag, content, whole))
    }
    fn expect_tag(&mut self, tag: u8) -> Result<&'a [u8], CertError> {
        let (t, c, _) = self.next()?;
        if t != tag {
            return Err(CertError::UnexpectedTag);
        }
        Ok(c)
    }
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;

/// Parses a DER certificate.
pub fn parse_certificate(der: &[u8]) -> Result<Certificate, CertError> {
    let mut top = Der::new(der);
    let cert = top.expect_tag(SEQUENCE)?;
    let mut c = Der::new(cert);
    let tbs = c.expect_tag(SEQUENCE)?;
    let mut t = Der::new(tbs);
    if t.peek_tag() == Some(0xa0) {
        t.next()?;
    }
    let serial = t.expect_tag(INTEGER)?;
    t.expect_tag(SEQUENCE)?; // signature algorithm
    let issuer = t.expect_tag(SEQUENCE)?;
    let validity = t.expect_tag(SEQUENCE)?;
    let subject = t.expect_tag(SEQUENCE)?;
    t.expect_tag(SEQUENCE)?; // subjectPublicKeyInfo
    let mut san_dns = Vec::new();
    while !t.is_empty() {
        let (tag, content, _) = t.next()?;
        if tag == 0xa3 {
            // Extensions are informative: a malformed one does not fail the cert.
            let _ = read_san(content, &mut san_dns);
        }
    }
    let mut v = Der::new(validity);
    let (nb_tag, nb, _) = v.next()?;
    let (na_tag, na, _) = v.next()?;
    Ok(Certificate {
        subject: format_name(subject)?,
        issuer: format_name(issuer)?,
        serial: crate::app::hex_colon(serial, true),
        not_before: parse_time(nb_tag, nb)?,
        not_after: parse_time(na_tag, na)?,
        san_dns,
        fingerprint: crate::app::hex_colon(&Sha1::digest(der), false),
    })
}

fn read_san(exts: &[u8], out: &mut Vec<String>) -> Result<(), CertError> {
    let mut outer = Der::new(exts);
    let list = outer.expect_tag(SEQUENCE)?;
    let mut l = Der::new(list);
    while !l.is_empty() {
        let ext = l.expect_tag(SEQUENCE)?;
        let mut e = Der::new(ext);
        let oid = e.expect_tag(OID)?;
        // 2.5.29.17 subjectAltName
        if oid != [0x55, 0x1d, 0x11] {
            continue;
        }
        let mut value = e.next()?;
        if value.0 == 0x01 {
            value = e.next()?; // critical flag
        }
        let mut names = Der::new(Der::new(value.1).expect_tag(SEQUENCE)?);
        while !names.is_empty() {
            let (tag, content, _) = names.next()?;
            if tag == 0x82 && out.len() < 256 {
                out.push(String::from_utf8_lossy(content).into_owned());
            }
        }
    }
    Ok(())
}

/// Short name of a DN attribute OID (DER content bytes), as the X.509
/// library behind Suricata's EVE prints them (CN, C, L, ST, O, OU, DC and
/// Email abbreviated, others by their registry name); `None` for others
/// (printed dotted).
fn attr_short_name(oid: &[u8]) -> Option<&'static str> {
    Some(match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x04] => "surname",
        [0x55, 0x04, 0x05] => "serialNumber",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x09] => "streetAddress",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        [0x55, 0x04, 0x0c] => "title",
        [0x55, 0x04, 0x0d] => "description",
        [0x55, 0x04, 0x0f] => "businessCategory",
        [0x55, 0x04, 0x11] => "postalCode",
        [0x55, 0x04, 0x2a] => "givenName",
        [0x55, 0x04, 0x2b] => "initials",
        [0x55, 0x04, 0x2e] => "dnQualifier",
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "Email",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01] => "UID",
        _ => return None,
    })
}

/// Dotted text form of an OID's content bytes.
fn oid_dotted(oid: &[u8]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut acc: u64 = 0;
    let mut first = true;
    for &b in oid {
        acc = (acc << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if first {
                let (a, b2) = if acc < 40 {
                    (0, acc)
                } else if acc < 80 {
                    (1, acc - 40)
                } else {
                    (2, acc - 80)
                };
                parts.push(a.to_string());
                parts.push(b2.to_string());
                first = false;
            } else {
                parts.push(acc.to_string());
            }
            acc = 0;
        }
    }
    parts.join(".")
}

/// Formats a Name (content of its SEQUENCE) as "C=US, O=Org, CN=x".
fn format_name(name: &[u8]) -> Result<String, CertError> {
    let mut out = String::new();
    let mut rdns = Der::new(name);
    while !rdns.is_empty() {
        let set = rdns.expect_tag(SET)?;
        let mut attrs = Der::new(set);
        let mut first_in_rdn = true;
        while !attrs.is_empty() {
            let atv = attrs.expect_tag(SEQUENCE)?;
            let mut a = Der::new(atv);
            let oid = a.expect_tag(OID)?;
            let (tag, value, _) = a.next()?;
            if !out.is_empty() {
                out.push_str(if first_in_rdn { ", " } else { " + " });
            }
            first_in_rdn = false;
            match attr_short_name(oid) {
                Some(n) => out.push_str(n),
                None => out.push_str(&oid_dotted(oid)),
            }
            out.push('=');
            out.push_str(&attr_value(tag, value));
        }
    }
    Ok(out)
}

fn attr_value(tag: u8, value: &[u8]) -> String {
    match tag {
        // BMPString: UTF-16BE
        0x1e => {
            let units: Vec<u16> = value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        // UniversalString: UTF-32BE
        0x1c => value
            .chunks_exact(4)
            .map(|c| {
                char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])).unwrap_or('\u{fffd}')
            })
            .collect(),
        // T61String: treat as Latin-1
        0x14 => match std::str::from_utf8(value) {
            Ok(s) => s.to_string(),
            Err(_) => value.iter().map(|&b| char::from(b)).collect(),
        },
        _ => String::from_utf8_lossy(value).into_owned(),
    }
}

fn digits(b: &[u8]) -> Result<i64, CertError> {
    let mut v: i64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return Err(CertError::BadTime);
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Ok(v)
}

/// UTCTime (tag 0x17) or GeneralizedTime (0x18) to Unix seconds.
fn parse_time(tag: u8, b: &[u8]) -> Result<i64, CertError> {
    let (year, rest) = match tag {
        0x17 => {
            let yy = digits(b.get(0..2).ok_or(CertError::BadTime)?)?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &b[2..])
        }
        0x18 => (digits(b.get(0..4).ok_or(CertError::BadTime)?)?, &b[4..]),
        _ => return Err(CertError::BadTime),
    };
    let f = |i: usize| -> Result<i64, CertError> {
        digits(rest.get(i..i + 2).ok_or(CertError::BadTime)?)
    };
    let (mon, day, hour, min) = (f(0)?, f(2)?, f(4)?, f(6)?);
    // Seconds are optional in UTCTime.
    let sec = if rest.get(8).is_some_and(|c| c.is_ascii_digit()) {
        f(8)?
    } else {
        0
    };
    if !(1..=12).contains(&mon) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return Err(CertError::BadTime);
    }
    Ok(days_from_civil(year, mon, day) * 86_400 + hour * 3600 + min * 60 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds as "YYYY-MM-DDTHH:MM:SS" (Suricata's EVE `notbefore` format).
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn time_round_trip() {
        let t = parse_time(0x17, b"191217011728Z").unwrap();
        assert_eq!(format_time(t), "2019-12-17T01:17:28");
        assert_eq!(t, 1_576_545_448);
        let g = parse_time(0x18, b"20500101000000Z").unwrap();
        assert_eq!(format_time(g), "2050-01-01T00:00:00");
        assert!(parse_time(0x17, b"19x217011728Z").is_err());
        assert!(parse_time(0x17, b"1912").is_err());
    }

    #[test]
    fn oid_text() {
        assert_eq!(
            oid_dotted(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]),
            "1.2.840.113549.1.9.1"
        );
        assert_eq!(oid_dotted(&[0x55, 0x04, 0x03]), "2.5.4.3");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse_certificate(&[]).is_err());
        assert!(parse_certificate(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(parse_certificate(&[0x30, 0x03, 0x30, 0x01]).is_err());
    }
}
