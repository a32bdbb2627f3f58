//! SIP message heads (RFC 3261 7): a start line, header fields up to an
//! empty line, then a body whose length is the Content-Length over a stream
//! and the rest of the datagram over UDP.

use super::SipEvent;

/// Longest message head (start line and headers) looked for (bytes); a
/// longer one is a [`SipEvent::HeadTooLarge`].
pub const MAX_HEAD: usize = 64 << 10;
/// Longest start line waited for without its line end (bytes).
const MAX_START_LINE: usize = 4096;
/// Header fields kept per message; more are counted and not kept.
pub const MAX_HEADERS: usize = 128;

/// The header fields detection and logging use, by canonical name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SipHeader {
    /// `From` (compact `f`).
    From,
    /// `To` (compact `t`).
    To,
    /// `Via` (compact `v`).
    Via,
    /// `User-Agent`.
    UserAgent,
    /// `Content-Type` (compact `c`).
    ContentType,
    /// `Content-Length` (compact `l`).
    ContentLength,
}

impl SipHeader {
    /// The header a field name stands for, long or compact form (RFC 3261
    /// 7.3.3), compared without case.
    pub fn from_name(name: &[u8]) -> Option<SipHeader> {
        const NAMES: [(&[u8], &[u8], SipHeader); 6] = [
            (b"from", b"f", SipHeader::From),
            (b"to", b"t", SipHeader::To),
            (b"via", b"v", SipHeader::Via),
            (b"user-agent", b"", SipHeader::UserAgent),
            (b"content-type", b"c", SipHeader::ContentType),
            (b"content-length", b"l", SipHeader::ContentLength),
        ];
        NAMES
            .iter()
            .find(|(long, short, _)| {
                name.eq_ignore_ascii_case(long)
                    || (!short.is_empty() && name.eq_ignore_ascii_case(short))
            })
            .map(|(_, _, h)| *h)
    }
}

/// What the start line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// `METHOD Request-URI SIP-Version`.
    Request {
        /// Method token (`INVITE`).
        method: Vec<u8>,
        /// Request-URI as sent.
        uri: Vec<u8>,
        /// `SIP/2.0`.
        version: Vec<u8>,
    },
    /// `SIP-Version Status-Code Reason-Phrase`.
    Response {
        /// `SIP/2.0`.
        version: Vec<u8>,
        /// Three digits.
        code: Vec<u8>,
        /// Reason phrase, possibly empty.
        reason: Vec<u8>,
    },
}

/// One parsed message head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipHead {
    /// Request or status line.
    pub start: StartLine,
    /// The start line as sent, without its line end.
    pub start_line: Vec<u8>,
    /// Values of the headers of [`SipHeader`], in order, one per field line
    /// (folded lines joined by a space), trimmed.
    pub headers: Vec<(SipHeader, Vec<u8>)>,
    /// Content-Length, when present and a number.
    pub content_length: Option<u64>,
    /// Anomalies met in the head that did not stop it being parsed.
    pub events: Vec<SipEvent>,
}

impl SipHead {
    /// Whether it is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }
}

/// The outcome of looking for one message head at the start of some bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A head, and the bytes it took (through the empty line).
    Head(Box<SipHead>, usize),
    /// The head does not end in these bytes.
    Incomplete,
    /// Not a SIP message.
    Invalid,
    /// The head goes on past [`MAX_HEAD`].
    TooLarge,
}

/// RFC 3261 token characters (methods and header names).
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// `SIP/` digits `.` digits.
fn is_version(v: &[u8]) -> bool {
    let Some(rest) = v.strip_prefix(b"SIP/") else {
        return false;
    };
    let mut parts = rest.splitn(2, |b| *b == b'.');
    let digits =
        |p: Option<&[u8]>| p.is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit));
    digits(parts.next()) && digits(parts.next())
}

/// A request or status line (without its line end).
pub fn parse_start_line(line: &[u8]) -> Option<StartLine> {
    if line.iter().any(|b| b.is_ascii_control() && *b != b'\t') {
        return None;
    }
    if line.starts_with(b"SIP/") {
        let mut it = line.splitn(3, |b| *b == b' ');
        let version = it.next()?;
        let code = it.next()?;
        let reason = it.next().unwrap_or_default();
        if !is_version(version) || code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
            return None;
        }
        return Some(StartLine::Response {
            version: version.to_vec(),
            code: code.to_vec(),
            reason: reason.to_vec(),
        });
    }
    let mut it = line.split(|b| *b == b' ');
    let (method, uri, version) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some()
        || method.is_empty()
        || method.len() > 32
        || !method.iter().all(|b| is_token(*b))
        || uri.is_empty()
        || !is_version(version)
    {
        return None;
    }
    Some(StartLine::Request {
        method: method.to_vec(),
        uri: uri.to_vec(),
        version: version.to_vec(),
    })
}

/// Whether `b` could be the beginning of a start line (for detection and
/// for finding the next message after a gap): a whole valid line, or a
/// prefix of one still without its line end.
pub fn probe_start(b: &[u8]) -> Option<bool> {
    match line_end(b) {
        Some((end, _)) => Some(parse_start_line(&b[..end]).is_some()),
        None => {
            let plausible = b.len() < MAX_START_LINE
                && !b.is_empty()
                && b.iter().all(|c| !c.is_ascii_control() || *c == b'\r')
                // a status line, or a method token then (maybe) a space
                && (b.starts_with(b"SIP/")
                    || b"SIP/".starts_with(&b[..b.len().min(4)])
                    || b.iter().position(|c| !is_token(*c)).is_none_or(|i| {
                        i > 0 && b[i] == b' '
                    }));
            if plausible {
                None
            } else {
                Some(false)
            }
        }
    }
}

/// End of the first line: (index of its last content byte + 1, index after
/// the LF). Lines end in CRLF or a bare LF.
fn line_end(b: &[u8]) -> Option<(usize, usize)> {
    let lf = b.iter().position(|c| *c == b'\n')?;
    let end = if lf > 0 && b[lf - 1] == b'\r' {
        lf - 1
    } else {
        lf
    };
    Some((end, lf + 1))
}

fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// Where the head that starts `b` ends (the index after its empty line),
/// searching from `from` on (what an earlier search already covered).
pub fn find_head_end(b: &[u8], from: usize) -> Option<usize> {
    let from = from.saturating_sub(2).min(b.len());
    let mut i = from;
    while let Some(p) = b[i..].iter().position(|c| *c == b'\n') {
        let lf = i + p;
        let prev_lf = match lf.checked_sub(1).map(|j| b[j]) {
            Some(b'\n') => true,
            Some(b'\r') => lf >= 2 && b[lf - 2] == b'\n',
            _ => false,
        };
        if prev_lf {
            return Some(lf + 1);
        }
        i = lf + 1;
    }
    None
}

/// Whether `b` (a datagram) is one SIP message as [`parse_head`] reads it.
pub fn is_message(b: &[u8]) -> bool {
    matches!(parse_head(b), Parsed::Head(..))
}

/// Parses the message head at the start of `b` (leading empty lines, as
/// keep-alives send, are the caller's to skip).
pub fn parse_head(b: &[u8]) -> Parsed {
    let incomplete = || {
        if b.len() > MAX_HEAD {
            Parsed::TooLarge
        } else {
            Parsed::Incomplete
        }
    };
    let Some((end, mut pos)) = line_end(b) else {
        return if probe_start(b) == Some(false) {
            Parsed::Invalid
        } else {
            incomplete()
        };
    };
    let line = &b[..end];
    let Some(start) = parse_start_line(line) else {
        return Parsed::Invalid;
    };
    let mut head = SipHead {
        start,
        start_line: line.to_vec(),
        headers: Vec::new(),
        content_length: None,
        events: Vec::new(),
    };
    let mut fields = 0usize;
    // (header, value) of the field being read, to join folded lines.
    let mut cur: Option<(Option<SipHeader>, Vec<u8>)> = None;
    loop {
        if pos > MAX_HEAD {
            return Parsed::TooLarge;
        }
        let Some((end, next)) = line_end(&b[pos..]) else {
            return incomplete();
        };
        let line = &b[pos..pos + end];
        pos += next;
        let folded = matches!(line.first(), Some(b' ' | b'\t'));
        if folded {
            if let Some((_, v)) = cur.as_mut() {
                v.push(b' ');
                v.extend_from_slice(trim(line));
                continue;
            }
        }
        if let Some((Some(h), v)) = cur.take() {
            head.push(h, v);
        }
        if line.is_empty() {
            break;
        }
        let field = line.iter().position(|c| *c == b':').and_then(|colon| {
            let name = trim(&line[..colon]);
            (!name.is_empty() && name.iter().all(|c| is_token(*c)))
                .then(|| (name, trim(&line[colon + 1..])))
        });
        let Some((name, value)) = field else {
            head.event(SipEvent::InvalidHeader);
            continue;
        };
        fields += 1;
        if fields > MAX_HEADERS {
            if fields == MAX_HEADERS + 1 {
                head.event(SipEvent::TooManyHeaders);
            }
            continue;
        }
        cur = Some((SipHeader::from_name(name), value.to_vec()));
    }
    if pos > MAX_HEAD {
        return Parsed::TooLarge;
    }
    Parsed::Head(Box::new(head), pos)
}

impl SipHead {
    fn push(&mut self, h: SipHeader, v: Vec<u8>) {
        if h == SipHeader::ContentLength {
            let n = std::str::from_utf8(&v)
                .ok()
                .and_then(|s| s.parse::<u64>().ok());
            match n {
                Some(n) if self.content_length.is_none_or(|c| c == n) => {
                    self.content_length = Some(n)
                }
                _ => self.event(SipEvent::InvalidContentLength),
            }
        }
        self.headers.push((h, v));
    }

    fn event(&mut self, e: SipEvent) {
        if !self.events.contains(&e) {
            self.events.push(e);
        }
    }

    /// Values of header `h`, in order.
    pub fn values(&self, h: SipHeader) -> impl Iterator<Item = &[u8]> {
        self.headers
            .iter()
            .filter(move |(k, _)| *k == h)
            .map(|(_, v)| v.as_slice())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn head(b: &[u8]) -> (SipHead, usize) {
        match parse_head(b) {
            Parsed::Head(h, n) => (*h, n),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn request_with_compact_and_folded_headers() {
        let msg = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
v: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Via: SIP/2.0/UDP proxy.example.com\r\n\
f: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
TO :  Bob\r\n <sip:bob@biloxi.example.com>  \r\n\
user-agent: softphone/1.0\r\n\
c: application/sdp\r\n\
l: 4\r\n\r\nv=0\r\n";
        let (h, n) = head(msg);
        assert_eq!(&msg[n..], b"v=0\r\n");
        assert!(h.is_request());
        assert_eq!(
            h.start,
            StartLine::Request {
                method: b"INVITE".to_vec(),
                uri: b"sip:bob@biloxi.example.com".to_vec(),
                version: b"SIP/2.0".to_vec()
            }
        );
        assert_eq!(h.start_line, b"INVITE sip:bob@biloxi.example.com SIP/2.0");
        let vias: Vec<&[u8]> = h.values(SipHeader::Via).collect();
        assert_eq!(vias.len(), 2);
        assert_eq!(vias[1], b"SIP/2.0/UDP proxy.example.com");
        assert_eq!(
            h.values(SipHeader::To).next(),
            Some(&b"Bob <sip:bob@biloxi.example.com>"[..])
        );
        assert_eq!(
            h.values(SipHeader::UserAgent).next(),
            Some(&b"softphone/1.0"[..])
        );
        assert_eq!(
            h.values(SipHeader::ContentType).next(),
            Some(&b"application/sdp"[..])
        );
        assert_eq!(h.content_length, Some(4));
        assert!(h.events.is_empty());
    }

    #[test]
    fn responses_and_bad_start_lines() {
        let (h, _) = head(b"SIP/2.0 100 trying -- your call is important to us\r\n\r\n");
        assert_eq!(
            h.start,
            StartLine::Response {
                version: b"SIP/2.0".to_vec(),
                code: b"100".to_vec(),
                reason: b"trying -- your call is important to us".to_vec()
            }
        );
        let (h, _) = head(b"SIP/2.0 200\n\n");
        assert!(matches!(h.start, StartLine::Response { ref reason, .. } if reason.is_empty()));
        for bad in [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            b"SIP/2.0 20 OK\r\n\r\n",
            b"SIP/2 200 OK\r\n\r\n",
            b"INVITE  sip:x SIP/2.0\r\n\r\n",
            b"IN\x01VITE sip:x SIP/2.0\r\n\r\n",
            b"     ",
        ] {
            assert_eq!(parse_head(bad), Parsed::Invalid, "{bad:?}");
        }
        assert_eq!(
            parse_head(b"REGISTER sip:x SIP/2.0\r\nFrom: a\r\n"),
            Parsed::Incomplete
        );
        assert_eq!(parse_head(b"REGISTER sip:x SI"), Parsed::Incomplete);
        assert_eq!(probe_start(b"REGISTER sip:x SI"), None);
        assert_eq!(probe_start(b"REGISTER sip:x SIP/2.0\r\n"), Some(true));
        assert_eq!(probe_start(b"SIP/2.0 200 OK\r\n"), Some(true));
        assert_eq!(probe_start(b"SI"), None);
        assert_eq!(probe_start(b"\x16\x03\x01"), Some(false));
        assert_eq!(probe_start(b"GET / HTTP/1.1\r\n"), Some(false));
    }

    #[test]
    fn hostile_heads_are_capped() {
        let mut msg = b"OPTIONS sip:x SIP/2.0\r\n".to_vec();
        for i in 0..(MAX_HEADERS + 10) {
            msg.extend_from_slice(format!("Via: hop{i}\r\n").as_bytes());
        }
        msg.extend_from_slice(b"no colon here\r\nContent-Length: x\r\n\r\n");
        let (h, _) = head(&msg);
        assert_eq!(h.headers.len(), MAX_HEADERS);
        assert!(h.events.contains(&SipEvent::TooManyHeaders));
        assert!(h.events.contains(&SipEvent::InvalidHeader));
        let mut big = b"OPTIONS sip:x SIP/2.0\r\nX: ".to_vec();
        big.resize(MAX_HEAD + 10, b'a');
        big.extend_from_slice(b"\r\n\r\n");
        assert_eq!(parse_head(&big), Parsed::TooLarge);
        assert_eq!(parse_head(&big[..MAX_HEAD + 5]), Parsed::TooLarge);
        let mut msg = b"OPTIONS sip:x SIP/2.0\r\nl: 5\r\nContent-Length: 6\r\n\r\n".to_vec();
        let (h, _) = head(&msg);
        assert_eq!(h.content_length, Some(5));
        assert!(h.events.contains(&SipEvent::InvalidContentLength));
        msg.truncate(10);
        assert_eq!(parse_head(&msg), Parsed::Incomplete);
    }
}
