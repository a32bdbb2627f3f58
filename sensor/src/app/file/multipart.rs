//! `multipart/form-data` bodies (RFC 7578): each part with a `filename` in
//! its Content-Disposition is a file of its own (an upload form with two
//! files gives two files, each with its name and contents).

use memchr::memmem;

/// Parts read from one body; later ones are not files (counted by the caller).
pub const MAX_PARTS: usize = 64;
/// Longest boundary accepted (RFC 2046 allows 70 characters).
const MAX_BOUNDARY: usize = 200;
/// Header bytes of one part looked at.
const MAX_PART_HEADERS: usize = 8 * 1024;

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    /// `filename` of the Content-Disposition (quotes removed), if any.
    pub filename: Option<&'a [u8]>,
    /// The part's contents.
    pub data: &'a [u8],
    /// The closing boundary delimiter was seen after the contents.
    pub complete: bool,
}

/// The boundary of a `multipart/form-data` (or other `multipart/`)
/// Content-Type value, without the leading dashes.
pub fn boundary(content_type: &[u8]) -> Option<&[u8]> {
    let lower_starts = content_type
        .iter()
        .take(10)
        .map(u8::to_ascii_lowercase)
        .eq(b"multipart/".iter().copied());
    if !lower_starts {
        return None;
    }
    param(content_type, b"boundary").filter(|b| !b.is_empty() && b.len() <= MAX_BOUNDARY)
}

/// The value of parameter `name` (case-insensitive) in a header value such
/// as `form-data; name="a"; filename="b.txt"`, quotes removed.
pub fn param<'a>(value: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut rest = value;
    while let Some(semi) = memchr::memchr(b';', rest) {
        rest = &rest[semi + 1..];
        let t = trim(rest);
        let eq = memchr::memchr(b'=', t)?;
        let key = trim(&t[..eq]);
        let val = trim(&t[eq + 1..]);
        if !key.eq_ignore_ascii_case(name) {
            continue;
        }
        if let Some(q) = val.strip_prefix(b"\"") {
            let end = memchr::memchr(b'"', q).unwrap_or(q.len());
            return Some(&q[..end]);
        }
        let end = memchr::memchr(b';', val).unwrap_or(val.len());
        return Some(trim(&val[..end]));
    }
    None
}

fn trim(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |i| i + 1);
    b.get(s..e).unwrap_or_default()
}

/// The parts of `body` delimited by `boundary` (at most [`MAX_PARTS`]). A
/// body cut short gives its last part incomplete.
pub fn parts<'a>(body: &'a [u8], boundary: &[u8]) -> Vec<Part<'a>> {
    parts_up_to(body, boundary, MAX_PARTS)
}

/// Parts of `body` past [`MAX_PARTS`], which are not tracked as files (the
/// worker counts them).
pub fn parts_over_cap(body: &[u8], boundary: &[u8]) -> usize {
    parts_up_to(body, boundary, usize::MAX)
        .len()
        .saturating_sub(MAX_PARTS)
}

fn parts_up_to<'a>(body: &'a [u8], boundary: &[u8], max: usize) -> Vec<Part<'a>> {
    let mut out = Vec::new();
    let mut delim = Vec::with_capacity(boundary.len() + 4);
    delim.extend_from_slice(b"\r\n--");
    delim.extend_from_slice(boundary);
    // The first delimiter may open the body without the CRLF before it.
    let first = if body.starts_with(&delim[2..]) {
        Some(0)
    } else {
        memmem::find(body, &delim).map(|i| i + 2)
    };
    let Some(mut at) = first else {
        return out;
    };
    let finder = memmem::Finder::new(&delim);
    while out.len() < max {
        // `at` is at "--boundary".
        let after = at + delim.len() - 2;
        let Some(rest) = body.get(after..) else { break };
        if rest.starts_with(b"--") {
            break; // Closing delimiter.
        }
        // Rest of the delimiter line (transport padding), then headers.
        let Some(eol) = memchr::memchr(b'\n', rest) else {
            break;
        };
        let head_start = after + eol + 1;
        let Some(head_area) = body.get(head_start..) else {
            break;
        };
        let (head_len, sep) = match memmem::find(head_area, b"\r\n\r\n") {
            Some(i) => (i, 4),
            None => match memmem::find(head_area, b"\n\n") {
                Some(i) => (i, 2),
                None => break,
            },
        };
        let headers = &head_area[..head_len.min(MAX_PART_HEADERS)];
        let data_start = head_start + head_len + sep;
        let data_area = body.get(data_start..).unwrap_or_default();
        let (data, complete, next) = match finder.find(data_area) {
            Some(i) => (&data_area[..i], true, Some(data_start + i + 2)),
            None => (data_area, false, None),
        };
        out.push(Part {
            filename: disposition_filename(headers),
            data,
            complete,
        });
        match next {
            Some(n) => at = n,
            None => break,
        }
    }
    out
}

/// `filename` of the part's Content-Disposition header.
fn disposition_filename(headers: &[u8]) -> Option<&[u8]> {
    headers.split(|c| *c == b'\n').find_map(|line| {
        let colon = memchr::memchr(b':', line)?;
        if !trim(&line[..colon]).eq_ignore_ascii_case(b"content-disposition") {
            return None;
        }
        param(trim(&line[colon + 1..]), b"filename")
    })
}

#[cfg(test)]
mod test {
    use super::*;

    const BODY: &[u8] = b"--------------------------DGoa8IkJzGtIQpK8j2fLTv\r\nContent-Disposition: form-data; name=\"upload1\"; filename=\"toto.txt\"\r\nContent-Type: text/plain\r\n\r\ntoto est dans un bateau\n\r\n--------------------------DGoa8IkJzGtIQpK8j2fLTv\r\nContent-Disposition: form-data; name=\"upload2\"; filename=\"titi.txt\"\r\nContent-Type: text/plain\r\n\r\nTiti a vu un gros minet.\n\r\n--------------------------DGoa8IkJzGtIQpK8j2fLTv--\r\n";

    #[test]
    fn curl_upload_of_two_files() {
        let b = boundary(
            b"multipart/form-data; boundary=------------------------DGoa8IkJzGtIQpK8j2fLTv",
        )
        .unwrap();
        let p = parts(BODY, b);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].filename, Some(&b"toto.txt"[..]));
        assert_eq!(p[0].data, b"toto est dans un bateau\n");
        assert_eq!(p[1].filename, Some(&b"titi.txt"[..]));
        assert_eq!(p[1].data, b"Titi a vu un gros minet.\n");
        assert!(p.iter().all(|p| p.complete));
        // Cut anywhere: never a panic, the last part incomplete.
        for n in 0..BODY.len() {
            let p = parts(&BODY[..n], b);
            assert!(p.len() <= 2);
        }
    }

    #[test]
    fn parts_past_the_cap_are_counted() {
        let mut body = Vec::new();
        for i in 0..MAX_PARTS + 3 {
            body.extend_from_slice(b"--q\r\nContent-Disposition: form-data; filename=\"f");
            body.extend_from_slice(i.to_string().as_bytes());
            body.extend_from_slice(b"\"\r\n\r\nx\r\n");
        }
        body.extend_from_slice(b"--q--\r\n");
        assert_eq!(parts(&body, b"q").len(), MAX_PARTS);
        assert_eq!(parts_over_cap(&body, b"q"), 3);
        assert_eq!(
            parts_over_cap(BODY, b"------------------------DGoa8IkJzGtIQpK8j2fLTv"),
            0
        );
    }

    #[test]
    fn params() {
        assert_eq!(
            param(b"attachment; filename=\"a b.exe\"", b"filename"),
            Some(&b"a b.exe"[..])
        );
        assert_eq!(
            param(b"attachment; FILENAME=x.pdf; size=3", b"filename"),
            Some(&b"x.pdf"[..])
        );
        assert_eq!(param(b"inline", b"filename"), None);
        assert_eq!(boundary(b"text/plain; boundary=x"), None);
        assert_eq!(
            boundary(b"Multipart/Form-Data; boundary=\"q\""),
            Some(&b"q"[..])
        );
    }
}
