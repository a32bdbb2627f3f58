//! Buffer transforms (`to_lowercase`, `from_base64`, `xor`, `pcrexform`,
//! `subslice`, `gunzip`, ...): parsing their options and applying them.
//!
//! Transforms run on a copy of an inspection buffer in two scratch vectors
//! the caller keeps between packets, so the hot path allocates only when a
//! buffer outgrows them. Every output is capped: most transforms never grow
//! their input, `dotprefix` adds one byte, and the decompressors stop at
//! their `max-size` (at most [`MAX_DECOMPRESSED`]).

use std::io::Read;
use std::sync::Arc;

/// Largest output a decompressing transform may produce (`max-size` is capped to it).
pub(crate) const MAX_DECOMPRESSED: usize = 1 << 20;
/// Output of a decompressing transform without `max-size`.
const DEFAULT_DECOMPRESSED: usize = 64 * 1024;
/// Longest `xor` key, fixed or extracted.
const MAX_XOR_KEY: usize = 255;

/// How `from_base64` treats bytes outside the base64 alphabet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum B64Mode {
    /// Stop decoding at the first one (the default).
    Rfc4648,
    /// Skip them.
    Rfc2045,
    /// Fail: the buffer does not match.
    Strict,
}

/// Where an `xor` key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum XorKey {
    /// A key given in the rule, as hex.
    Fixed(Box<[u8]>),
    /// `len` bytes of the buffer itself, starting at `at`.
    Extract { len: u8, at: u32 },
}

/// A `pcrexform` regex: the buffer becomes its first capture group.
#[derive(Debug, Clone)]
pub(crate) struct PcreXform(Arc<regex::bytes::Regex>);

impl PartialEq for PcreXform {
    fn eq(&self, o: &Self) -> bool {
        self.0.as_str() == o.0.as_str()
    }
}

/// One buffer transformation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Transform {
    ToLowercase,
    ToUppercase,
    StripWhitespace,
    CompressWhitespace,
    DotPrefix,
    UrlDecode,
    /// Lowercases the header name of each `Name: value` line.
    HeaderLowercase,
    /// Decodes base64 from `offset`, at most `bytes` input bytes (0: all).
    FromBase64 {
        offset: u32,
        bytes: u32,
        mode: B64Mode,
    },
    /// XORs from `offset` on with a repeating key.
    Xor {
        key: XorKey,
        offset: u32,
    },
    Pcrexform(PcreXform),
    /// A slice by offset and count; negative values count from the end;
    /// out of range: empty buffer, or clamped with `truncate`.
    Subslice {
        offset: i64,
        count: Option<i64>,
        truncate: bool,
    },
    /// Gzip member, decompressed up to `max` bytes.
    Gunzip {
        max: u32,
    },
    /// Zlib stream, decompressed up to `max` bytes.
    ZlibDeflate {
        max: u32,
    },
}

impl Transform {
    /// Whether `name` is a transform keyword.
    pub(crate) fn is_transform(name: &str) -> bool {
        matches!(
            name,
            "to_lowercase"
                | "to_uppercase"
                | "strip_whitespace"
                | "compress_whitespace"
                | "dotprefix"
                | "url_decode"
                | "header_lowercase"
                | "from_base64"
                | "xor"
                | "pcrexform"
                | "subslice"
                | "gunzip"
                | "zlib_deflate"
        )
    }

    /// Parses a transform keyword and its value.
    pub(crate) fn parse(name: &str, value: Option<&str>) -> Result<Transform, String> {
        let value = value.map(str::trim).filter(|v| !v.is_empty());
        let plain = |t: Transform| match value {
            None => Ok(t),
            Some(v) => Err(format!("keyword \"{name}\" takes no value (got \"{v}\")")),
        };
        match name {
            "to_lowercase" => plain(Transform::ToLowercase),
            "to_uppercase" => plain(Transform::ToUppercase),
            "strip_whitespace" => plain(Transform::StripWhitespace),
            "compress_whitespace" => plain(Transform::CompressWhitespace),
            "dotprefix" => plain(Transform::DotPrefix),
            "url_decode" => plain(Transform::UrlDecode),
            "header_lowercase" => plain(Transform::HeaderLowercase),
            "from_base64" => parse_from_base64(value.unwrap_or("")),
            "xor" => parse_xor(value.ok_or("keyword \"xor\" needs a key or options")?),
            "pcrexform" => parse_pcrexform(value.ok_or("keyword \"pcrexform\" needs a regex")?),
            "subslice" => parse_subslice(value.ok_or("keyword \"subslice\" needs an offset")?),
            "gunzip" => Ok(Transform::Gunzip {
                max: parse_max_size(name, value)?,
            }),
            "zlib_deflate" => Ok(Transform::ZlibDeflate {
                max: parse_max_size(name, value)?,
            }),
            _ => Err(format!("unknown transform \"{name}\"")),
        }
    }
}

fn num<T: std::str::FromStr>(kw: &str, what: &str, s: &str) -> Result<T, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("{kw}: bad {what} \"{}\"", s.trim()))
}

fn parse_from_base64(v: &str) -> Result<Transform, String> {
    let (mut offset, mut bytes, mut mode) = (0u32, 0u32, B64Mode::Rfc4648);
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, val) = part.split_once(char::is_whitespace).unwrap_or((part, ""));
        match k {
            "offset" => offset = num("from_base64", "offset", val)?,
            "bytes" => bytes = num("from_base64", "bytes", val)?,
            "mode" => {
                mode = match val.trim().to_ascii_lowercase().as_str() {
                    "rfc4648" => B64Mode::Rfc4648,
                    "rfc2045" => B64Mode::Rfc2045,
                    "strict" => B64Mode::Strict,
                    m => return Err(format!("from_base64: unknown mode \"{m}\"")),
                }
            }
            _ => return Err(format!("from_base64: unknown option \"{part}\"")),
        }
    }
    Ok(Transform::FromBase64 {
        offset,
        bytes,
        mode,
    })
}

fn parse_xor(v: &str) -> Result<Transform, String> {
    let (mut key, mut offset) = (None, 0u32);
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some(hex) = part.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
            if hex.is_empty() || hex.len() % 2 != 0 || hex.len() / 2 > MAX_XOR_KEY {
                return Err(format!(
                    "xor: key must be 1 to {MAX_XOR_KEY} bytes of hex (got \"{hex}\")"
                ));
            }
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| format!("xor: key \"{hex}\" is not hex"))?;
            key = Some(XorKey::Fixed(bytes.into_boxed_slice()));
            continue;
        }
        let (k, val) = part.split_once(char::is_whitespace).unwrap_or((part, ""));
        match k {
            "offset" => offset = num("xor", "offset", val)?,
            "extract" => {
                let mut it = val.split_whitespace();
                let (Some(len), Some(at), None) = (it.next(), it.next(), it.next()) else {
                    return Err(format!(
                        "xor: extract takes a length and an offset (got \"{val}\")"
                    ));
                };
                let len: u8 = num("xor", "extract length", len)?;
                if len == 0 {
                    return Err("xor: extract length must be at least 1".into());
                }
                key = Some(XorKey::Extract {
                    len,
                    at: num("xor", "extract offset", at)?,
                });
            }
            _ => {
                return Err(format!(
                    "xor: unknown option \"{part}\" (byte variables as keys are not supported)"
                ))
            }
        }
    }
    let key = key.ok_or("xor: needs a quoted hex key or \"extract LEN OFFSET\"")?;
    Ok(Transform::Xor { key, offset })
}

fn parse_pcrexform(v: &str) -> Result<Transform, String> {
    let src = v
        .trim()
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .ok_or("pcrexform: the regex must be quoted")?;
    let re = regex::bytes::RegexBuilder::new(src)
        .unicode(false)
        .size_limit(4 << 20)
        .dfa_size_limit(1 << 20)
        .build()
        .map_err(|e| {
            let e = e.to_string();
            format!(
                "pcrexform: regex not supported by the engine: {}",
                e.lines().last().unwrap_or("").trim()
            )
        })?;
    if re.captures_len() < 2 {
        return Err("pcrexform: the regex needs a capture group".into());
    }
    Ok(Transform::Pcrexform(PcreXform(Arc::new(re))))
}

fn parse_subslice(v: &str) -> Result<Transform, String> {
    let parts: Vec<&str> = v.split(',').map(str::trim).collect();
    let mut truncate = false;
    let mut nums = Vec::new();
    for p in parts {
        if p == "truncate" {
            truncate = true;
        } else if truncate {
            return Err("subslice: \"truncate\" must come last".into());
        } else {
            nums.push(num::<i64>("subslice", "number", p)?);
        }
    }
    let (offset, count) = match nums.as_slice() {
        [o] => (*o, None),
        [o, c] => (*o, Some(*c)),
        _ => {
            return Err(format!(
                "subslice: expected OFFSET[, COUNT][, truncate] (got \"{v}\")"
            ))
        }
    };
    Ok(Transform::Subslice {
        offset,
        count,
        truncate,
    })
}

fn parse_max_size(kw: &str, v: Option<&str>) -> Result<u32, String> {
    let Some(v) = v else {
        return Ok(DEFAULT_DECOMPRESSED as u32);
    };
    let n = v
        .strip_prefix("max-size")
        .ok_or_else(|| format!("{kw}: unknown option \"{v}\" (max-size N)"))?;
    let n: u64 = num(kw, "max-size", n)?;
    if n == 0 || n > MAX_DECOMPRESSED as u64 {
        return Err(format!("{kw}: max-size must be 1..={MAX_DECOMPRESSED}"));
    }
    Ok(n as u32)
}

fn b64_value(b: u8) -> Option<u8> {
    Some(match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    })
}

/// Decodes `src` into `out` as `from_base64` does; false when strict mode fails.
fn from_base64(src: &[u8], mode: B64Mode, out: &mut Vec<u8>) -> bool {
    let (mut acc, mut n) = (0u32, 0u8);
    let mut padded = false;
    for &b in src {
        if b == b'=' {
            padded = true;
            continue;
        }
        let Some(v) = b64_value(b).filter(|_| !padded) else {
            match mode {
                B64Mode::Rfc2045 if !padded => continue,
                B64Mode::Strict => return false,
                _ => break,
            }
        };
        acc = acc << 6 | v as u32;
        n += 1;
        if n == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            (acc, n) = (0, 0);
        }
    }
    match n {
        2 => out.push((acc >> 4) as u8),
        3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        1 if mode == B64Mode::Strict => return false,
        _ => {}
    }
    true
}

/// Range of `len` bytes `subslice` keeps, `None` for an empty result.
fn subslice_range(
    len: usize,
    offset: i64,
    count: Option<i64>,
    truncate: bool,
) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if offset < 0 { len + offset } else { offset };
    if start < 0 || start > len {
        if !truncate {
            return None;
        }
        start = start.clamp(0, len);
    }
    let mut end = match count {
        None => len,
        Some(c) if c >= 0 => start.saturating_add(c),
        Some(c) => len + c,
    };
    if end > len {
        if !truncate {
            return None;
        }
        end = len;
    }
    (end > start).then_some((start as usize, end as usize))
}

/// Decompresses `src` into `out`, keeping at most `max` bytes; false when
/// the data is not a stream of that format at all.
fn decompress(src: &[u8], gzip: bool, max: usize, out: &mut Vec<u8>) -> bool {
    let res = if gzip {
        flate2::read::GzDecoder::new(src)
            .take(max as u64)
            .read_to_end(out)
    } else {
        flate2::read::ZlibDecoder::new(src)
            .take(max as u64)
            .read_to_end(out)
    };
    // A truncated or corrupt stream keeps what decoded before the error.
    res.is_ok() || !out.is_empty()
}

/// Applies `ts` to `src`, leaving the result in `out` (`tmp` is scratch).
/// Returns false when a transform fails (strict base64, an `xor` key past
/// the end, data that does not decompress): the buffer then does not match.
pub(crate) fn apply_transforms(
    ts: &[Transform],
    src: &[u8],
    out: &mut Vec<u8>,
    tmp: &mut Vec<u8>,
) -> bool {
    out.clear();
    out.extend_from_slice(src);
    for t in ts {
        tmp.clear();
        match t {
            Transform::ToLowercase => out.make_ascii_lowercase(),
            Transform::ToUppercase => out.make_ascii_uppercase(),
            Transform::StripWhitespace => out.retain(|b| !b.is_ascii_whitespace()),
            Transform::CompressWhitespace => {
                let mut prev_ws = false;
                for &b in out.iter() {
                    let ws = b.is_ascii_whitespace();
                    if !(ws && prev_ws) {
                        tmp.push(b);
                    }
                    prev_ws = ws;
                }
                std::mem::swap(out, tmp);
            }
            Transform::DotPrefix => out.insert(0, b'.'),
            Transform::UrlDecode => {
                let mut i = 0;
                while i < out.len() {
                    let b = out[i];
                    if b == b'%' && i + 2 < out.len() {
                        let h = (out[i + 1] as char).to_digit(16);
                        let l = (out[i + 2] as char).to_digit(16);
                        if let (Some(h), Some(l)) = (h, l) {
                            tmp.push((h * 16 + l) as u8);
                            i += 3;
                            continue;
                        }
                    }
                    tmp.push(if b == b'+' { b' ' } else { b });
                    i += 1;
                }
                std::mem::swap(out, tmp);
            }
            Transform::HeaderLowercase => {
                let mut in_name = true;
                for b in out.iter_mut() {
                    match *b {
                        b'\n' => in_name = true,
                        b':' => in_name = false,
                        _ if in_name => b.make_ascii_lowercase(),
                        _ => {}
                    }
                }
            }
            Transform::FromBase64 {
                offset,
                bytes,
                mode,
            } => {
                let data = out.get(*offset as usize..).unwrap_or_default();
                let data = match *bytes {
                    0 => data,
                    n => data.get(..n as usize).unwrap_or(data),
                };
                if !from_base64(data, *mode, tmp) {
                    return false;
                }
                std::mem::swap(out, tmp);
            }
            Transform::Xor { key, offset } => {
                // The key is copied first: an extracted key may lie inside
                // the bytes being decoded.
                let mut kbuf = [0u8; MAX_XOR_KEY];
                let k: &[u8] = match key {
                    XorKey::Fixed(k) => k,
                    XorKey::Extract { len, at } => {
                        let (at, len) = (*at as usize, *len as usize);
                        let Some(src) = out.get(at..at.saturating_add(len)) else {
                            return false;
                        };
                        kbuf[..len].copy_from_slice(src);
                        &kbuf[..len]
                    }
                };
                if let Some(data) = out.get_mut(*offset as usize..) {
                    for (b, k) in data.iter_mut().zip(k.iter().cycle()) {
                        *b ^= k;
                    }
                }
            }
            Transform::Pcrexform(PcreXform(re)) => {
                if let Some(g) = re.captures(out).and_then(|c| c.get(1)) {
                    tmp.extend_from_slice(g.as_bytes());
                    std::mem::swap(out, tmp);
                }
            }
            Transform::Subslice {
                offset,
                count,
                truncate,
            } => match subslice_range(out.len(), *offset, *count, *truncate) {
                Some((s, e)) => {
                    out.truncate(e);
                    out.drain(..s);
                }
                None => out.clear(),
            },
            Transform::Gunzip { max } | Transform::ZlibDeflate { max } => {
                let gzip = matches!(t, Transform::Gunzip { .. });
                if !decompress(out, gzip, *max as usize, tmp) {
                    return false;
                }
                std::mem::swap(out, tmp);
            }
        }
    }
    true
}

#[cfg(test)]
mod test {
    use super::*;

    fn run(ts: &[Transform], src: &[u8]) -> Option<Vec<u8>> {
        let (mut o, mut t) = (Vec::new(), Vec::new());
        apply_transforms(ts, src, &mut o, &mut t).then_some(o)
    }

    fn p(name: &str, v: &str) -> Transform {
        Transform::parse(name, Some(v)).unwrap()
    }

    #[test]
    fn simple_transforms() {
        let t = [Transform::DotPrefix, Transform::ToLowercase];
        assert_eq!(run(&t, b"Example.COM").unwrap(), b".example.com");
        assert_eq!(
            run(&[Transform::UrlDecode], b"/a%20b+c%2").unwrap(),
            b"/a b c%2"
        );
        assert_eq!(
            run(&[Transform::CompressWhitespace], b"a  \t b").unwrap(),
            b"a b"
        );
        assert_eq!(run(&[Transform::StripWhitespace], b" a b ").unwrap(), b"ab");
        assert_eq!(
            run(
                &[Transform::HeaderLowercase],
                b"Accept-Ranges: Bytes\r\nX-Y: Z:W\r\n"
            )
            .unwrap(),
            b"accept-ranges: Bytes\r\nx-y: Z:W\r\n"
        );
        assert!(Transform::parse("dotprefix", Some("x")).is_err());
    }

    #[test]
    fn from_base64_options_and_modes() {
        let uri = b"/?arg=dGhpc2lzYXRlc3QK";
        assert_eq!(
            run(&[p("from_base64", "offset 6")], uri).unwrap(),
            b"thisisatest\n"
        );
        assert_eq!(
            run(&[p("from_base64", "bytes 6, offset 6")], uri).unwrap(),
            b"this"
        );
        let spaced = b"/?arg=Zm 9v Ym Fy";
        let m = |mode: &str| {
            run(
                &[p("from_base64", &format!("offset 6, mode {mode}"))],
                spaced,
            )
        };
        assert_eq!(m("rfc2045").unwrap(), b"foobar");
        assert_eq!(m("rfc4648").unwrap(), b"f");
        assert!(m("strict").is_none());
        assert!(Transform::parse("from_base64", Some("mode bogus")).is_err());
        assert!(Transform::parse("from_base64", Some("offset x")).is_err());
        assert_eq!(run(&[p("from_base64", "offset 100")], uri).unwrap(), b"");
    }

    #[test]
    fn xor_fixed_and_extracted_keys() {
        let key = [0x0d, 0x0a, 0xc8, 0xff];
        let enc: Vec<u8> = b"password=x"
            .iter()
            .zip(key.iter().cycle())
            .map(|(a, b)| a ^ b)
            .collect();
        assert_eq!(
            run(&[p("xor", "\"0d0ac8ff\"")], &enc).unwrap(),
            b"password=x"
        );
        let mut body = key.to_vec();
        body.extend_from_slice(&enc);
        let out = run(&[p("xor", "offset 4, extract 4 0")], &body).unwrap();
        assert_eq!(&out[4..], b"password=x");
        // Key inside the decoded range is read before decoding.
        let body = [0x42, b'h' ^ 0x42, b'i' ^ 0x42];
        let out = run(&[p("xor", "\"00\""), p("xor", "extract 1 0")], &body).unwrap();
        assert_eq!(out, [0, b'h', b'i']);
        assert!(run(&[p("xor", "extract 1 200")], &body).is_none());
        assert!(Transform::parse("xor", Some("\"0\"")).is_err());
        assert!(Transform::parse("xor", Some("\"zz\"")).is_err());
        assert!(Transform::parse("xor", Some("offset 1")).is_err());
    }

    #[test]
    fn pcrexform_keeps_first_group() {
        let t = p("pcrexform", r#""[a-zA-Z]+\s+(.*)\s+HTTP""#);
        assert_eq!(
            run(std::slice::from_ref(&t), b"GET /a.jpg HTTP/1.1").unwrap(),
            b"/a.jpg"
        );
        // No match: the buffer is left as it was.
        assert_eq!(run(&[t], b"nothing").unwrap(), b"nothing");
        assert!(Transform::parse("pcrexform", Some("\"abc\"")).is_err());
        assert!(Transform::parse("pcrexform", Some("abc")).is_err());
    }

    #[test]
    fn subslice_ranges() {
        let ua = b"curl/7.64.1";
        let s = |v: &str| run(&[p("subslice", v)], ua).unwrap();
        assert_eq!(s("-20, truncate"), ua);
        assert_eq!(s("-20, 5, truncate"), b"curl/");
        assert_eq!(s("-15, 10, truncate"), b"curl/7.64.");
        assert_eq!(s("-20"), b"");
        assert_eq!(s("0, -8, truncate"), b"cur");
        assert_eq!(s("-11, -6, truncate"), b"curl/");
        assert_eq!(s("0, -30"), b"");
        assert_eq!(s("5"), b"7.64.1");
        assert_eq!(s("2, 100"), b"");
        assert!(Transform::parse("subslice", Some("truncate, 1")).is_err());
        assert!(Transform::parse("subslice", Some("1, 2, 3")).is_err());
    }

    #[test]
    fn gunzip_is_capped() {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&vec![b'A'; 200_000]).unwrap();
        let gz = e.finish().unwrap();
        assert_eq!(
            run(&[Transform::parse("gunzip", None).unwrap()], &gz)
                .unwrap()
                .len(),
            DEFAULT_DECOMPRESSED
        );
        assert_eq!(run(&[p("gunzip", "max-size 8")], &gz).unwrap(), b"AAAAAAAA");
        assert!(run(&[p("gunzip", "max-size 8")], b"not gzip").is_none());
        assert!(Transform::parse("gunzip", Some("max-size 0")).is_err());
        assert!(Transform::parse("zlib_deflate", Some("max-size 99999999")).is_err());
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(b"hello").unwrap();
        assert_eq!(
            run(&[Transform::ZlibDeflate { max: 100 }], &z.finish().unwrap()).unwrap(),
            b"hello"
        );
    }
}
