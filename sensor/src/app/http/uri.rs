//! Request URI normalisation, as Suricata's `http.uri` differs from
//! `http.uri.raw`: scheme and authority of an absolute URI are dropped, the
//! path is percent-decoded and its dot segments removed; the query is kept raw.

/// Normalised form of a raw request URI.
pub fn normalize_uri(raw: &[u8]) -> Vec<u8> {
    let rest = strip_scheme_authority(raw).unwrap_or(raw);
    let (path, query) = match memchr::memchr(b'?', rest) {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    let decoded = percent_decode(path);
    let mut out = remove_dot_segments(&decoded);
    if let Some(q) = query {
        out.extend_from_slice(q);
    }
    out
}

/// Authority part (host[:port]) of an absolute URI, if `raw` is one.
pub fn uri_authority(raw: &[u8]) -> Option<&[u8]> {
    let after = scheme_len(raw)?;
    let rest = &raw[after..];
    let end = rest
        .iter()
        .position(|&c| c == b'/' || c == b'?' || c == b'#')
        .unwrap_or(rest.len());
    let auth = &rest[..end];
    // Drop userinfo.
    Some(match memchr::memrchr(b'@', auth) {
        Some(i) => &auth[i + 1..],
        None => auth,
    })
}

/// Length of "scheme://" if `raw` starts with http:// or https://.
fn scheme_len(raw: &[u8]) -> Option<usize> {
    for s in [&b"http://"[..], &b"https://"[..]] {
        if raw.len() >= s.len() && raw[..s.len()].eq_ignore_ascii_case(s) {
            return Some(s.len());
        }
    }
    None
}

fn strip_scheme_authority(raw: &[u8]) -> Option<&[u8]> {
    let after = scheme_len(raw)?;
    let rest = &raw[after..];
    match rest.iter().position(|&c| c == b'/' || c == b'?') {
        Some(i) => Some(&rest[i..]),
        None => Some(b"/"),
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes valid `%XX` escapes; invalid ones are kept as they are.
pub fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' && i + 2 < s.len() {
            if let (Some(h), Some(l)) = (hex_val(s[i + 1]), hex_val(s[i + 2])) {
                out.push((h << 4) | l);
                i += 3;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

/// RFC 3986 section 5.2.4 dot-segment removal.
pub fn remove_dot_segments(path: &[u8]) -> Vec<u8> {
    let mut input: &[u8] = path;
    let mut out: Vec<u8> = Vec::with_capacity(path.len());
    while !input.is_empty() {
        if input.starts_with(b"../") {
            input = &input[3..];
        } else if input.starts_with(b"./") || input.starts_with(b"/./") {
            input = &input[2..];
        } else if input == b"/." {
            input = b"/";
        } else if input.starts_with(b"/../") || input == b"/.." {
            input = if input.len() == 3 { b"/" } else { &input[3..] };
            match memchr::memrchr(b'/', &out) {
                Some(i) => out.truncate(i),
                None => out.clear(),
            }
        } else if input == b"." || input == b".." {
            input = b"";
        } else {
            let start = usize::from(input[0] == b'/');
            let end = input[start..]
                .iter()
                .position(|&c| c == b'/')
                .map(|p| p + start)
                .unwrap_or(input.len());
            out.extend_from_slice(&input[..end]);
            input = &input[end..];
        }
    }
    out
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn decoding_and_dots() {
        assert_eq!(normalize_uri(b"/a/b/../c/./d?x=%20y"), b"/a/c/d?x=%20y");
        assert_eq!(normalize_uri(b"/%2e%2e/%2e%2e/etc/passwd"), b"/etc/passwd");
        assert_eq!(normalize_uri(b"/foo%20bar%zz%4"), b"/foo bar%zz%4");
        assert_eq!(normalize_uri(b"/x%"), b"/x%");
        assert_eq!(normalize_uri(b"http://Example.com:8080/a/../b?q"), b"/b?q");
        assert_eq!(normalize_uri(b"http://example.com"), b"/");
        assert_eq!(normalize_uri(b"/"), b"/");
        assert_eq!(normalize_uri(b"*"), b"*");
    }

    #[test]
    fn authority() {
        assert_eq!(
            uri_authority(b"http://user:pw@Host.example:81/x"),
            Some(&b"Host.example:81"[..])
        );
        assert_eq!(uri_authority(b"/x"), None);
    }
}
