//! Line reader with a hard cap on line length, so a file without newlines
//! cannot make a loader buffer gigabytes.

use std::io::BufRead;

/// Longest line kept; longer lines are reported as too long and skipped.
pub(crate) const MAX_LINE: usize = 16 * 1024;

pub(crate) enum Line<'a> {
    /// A line (without `\n` / `\r\n`), lossily decoded if not UTF-8.
    Text(&'a str),
    /// The line exceeded `MAX_LINE` bytes; its rest was discarded.
    TooLong,
}

pub(crate) struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    text: String,
    /// 1-based number of the line last returned.
    pub(crate) number: u64,
}

impl<R: BufRead> LineReader<R> {
    pub(crate) fn new(inner: R) -> LineReader<R> {
        LineReader {
            inner,
            buf: Vec::with_capacity(256),
            text: String::new(),
            number: 0,
        }
    }

    /// Next line, or `None` at end of input.
    pub(crate) fn next_line(&mut self) -> std::io::Result<Option<(u64, Line<'_>)>> {
        self.buf.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            any = true;
            let (take, done) = match memchr::memchr(b'\n', chunk) {
                Some(p) => (p, true),
                None => (chunk.len(), false),
            };
            if !too_long {
                if self.buf.len() + take > MAX_LINE {
                    too_long = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(&chunk[..take]);
                }
            }
            let consumed = if done { take + 1 } else { take };
            self.inner.consume(consumed);
            if done {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.number += 1;
        if too_long {
            return Ok(Some((self.number, Line::TooLong)));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        self.text.clear();
        match std::str::from_utf8(&self.buf) {
            Ok(s) => self.text.push_str(s),
            Err(_) => self.text.push_str(&String::from_utf8_lossy(&self.buf)),
        }
        Ok(Some((self.number, Line::Text(&self.text))))
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn splits_caps_and_numbers_lines() {
        let mut input = b"a\r\nb\n".to_vec();
        input.extend(vec![b'x'; MAX_LINE + 10]);
        input.extend_from_slice(b"\nlast");
        let mut r = LineReader::new(std::io::BufReader::with_capacity(64, &input[..]));
        let mut got = Vec::new();
        while let Some((_, l)) = r.next_line().unwrap() {
            got.push(match l {
                Line::Text(t) => t.to_string(),
                Line::TooLong => "<too long>".to_string(),
            });
        }
        assert_eq!(got, ["a", "b", "<too long>", "last"]);
        assert_eq!(r.number, 4);
    }
}
