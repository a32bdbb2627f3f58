//! Evaluation of one rule's inspection list over one buffer: content search
//! windows, relative matching with backtracking, pcre, byte_* and friends.

use super::rule::{
    ByteOp, ByteSpec, Content, Endian, FancyRe, Item, MathOp, NumCmp, Re, UintCmp, Val,
};

/// Caps the work one list may do on one buffer (backtracking over repeated hits).
const BUDGET: u32 = 4096;

/// State threaded through one list evaluation.
pub(crate) struct ListCtx<'s> {
    pub(crate) vars: [i64; 8],
    pub(crate) budget: u32,
    pub(crate) b64: &'s mut Vec<u8>,
    pub(crate) latin1: &'s mut String,
    /// (address, length) of the buffer `latin1` holds the Latin-1 view of:
    /// relative pcres run again at each cursor of the same buffer, and the
    /// view is built once per buffer and list.
    latin1_of: Option<(usize, usize)>,
    /// Last (buffer offset, view offset) pair, to find the next one from it.
    latin1_at: (usize, usize),
}

impl<'s> ListCtx<'s> {
    pub(crate) fn new(b64: &'s mut Vec<u8>, latin1: &'s mut String) -> Self {
        ListCtx {
            vars: [0; 8],
            budget: BUDGET,
            b64,
            latin1,
            latin1_of: None,
            latin1_at: (0, 0),
        }
    }
}

fn val(v: Val, ctx: &ListCtx<'_>) -> i64 {
    match v {
        Val::Lit(n) => n,
        Val::Var(i) => ctx.vars.get(i as usize).copied().unwrap_or(0),
    }
}

/// Whether the list's items all match `buf`, starting at the buffer start.
pub(crate) fn match_list(items: &[Item], buf: &[u8], ctx: &mut ListCtx<'_>) -> bool {
    ctx.budget = BUDGET;
    ctx.latin1_of = None;
    step(items, 0, buf, 0, ctx)
}

/// The value of an integer buffer: 1 to 8 bytes, big-endian.
fn be_value(buf: &[u8]) -> Option<u64> {
    if buf.is_empty() || buf.len() > 8 {
        return None;
    }
    Some(buf.iter().fold(0u64, |v, b| (v << 8) | u64::from(*b)))
}

fn find(c: &Content, hay: &[u8]) -> Option<usize> {
    if c.pat.len() > hay.len() {
        return None;
    }
    if !c.nocase {
        return memchr::memmem::find(hay, &c.pat);
    }
    let first = c.pat[0];
    let (lo, up) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    let last_start = hay.len() - c.pat.len();
    let mut from = 0;
    while from <= last_start {
        let i = from + memchr::memchr2(lo, up, &hay[from..=last_start])?;
        if hay[i..i + c.pat.len()].eq_ignore_ascii_case(&c.pat) {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

/// The [start, end) window a content may match in, or None if it's empty.
fn window(c: &Content, buf_len: usize, cursor: usize, ctx: &ListCtx<'_>) -> Option<(usize, usize)> {
    let len = buf_len as i64;
    let (mut start, mut end) = (0i64, len);
    if c.relative() {
        let dist = c.distance.map(|d| val(d, ctx)).unwrap_or(0);
        start = (cursor as i64).saturating_add(dist);
        if let Some(w) = c.within {
            end = (cursor as i64)
                .saturating_add(dist)
                .saturating_add(val(w, ctx))
                .min(len);
        }
        start = start.max(0);
    } else {
        if let Some(o) = c.offset {
            start = val(o, ctx).max(0);
        }
        if let Some(d) = c.depth {
            end = end.min(start.saturating_add(val(d, ctx)));
        }
        if c.startswith {
            end = end.min(c.pat.len() as i64);
        }
    }
    if start > end || end - start < c.pat.len() as i64 {
        return None;
    }
    Some((start as usize, end as usize))
}

fn step(items: &[Item], i: usize, buf: &[u8], cursor: usize, ctx: &mut ListCtx<'_>) -> bool {
    let Some(item) = items.get(i) else {
        return true;
    };
    if ctx.budget == 0 {
        return false;
    }
    ctx.budget -= 1;
    match item {
        Item::Content(c) => {
            let win = window(c, buf.len(), cursor, ctx);
            if c.negated {
                let found = match win {
                    None => false,
                    Some((s, e)) if c.endswith => {
                        e == buf.len() && e - s >= c.pat.len() && eq(c, &buf[e - c.pat.len()..e])
                    }
                    Some((s, e)) => find(c, &buf[s..e]).is_some(),
                };
                return !found && step(items, i + 1, buf, cursor, ctx);
            }
            let Some((s, e)) = win else {
                return false;
            };
            if c.endswith {
                if e != buf.len() {
                    return false;
                }
                let m = e - c.pat.len();
                return eq(c, &buf[m..e]) && step(items, i + 1, buf, e, ctx);
            }
            let backtrack = items.get(i + 1).is_some_and(Item::relative);
            let mut from = s;
            while from + c.pat.len() <= e {
                let Some(p) = find(c, &buf[from..e]) else {
                    return false;
                };
                let m = from + p;
                let end = m + c.pat.len();
                if step(items, i + 1, buf, end, ctx) {
                    return true;
                }
                if !backtrack || ctx.budget == 0 {
                    return false;
                }
                from = m + 1;
            }
            false
        }
        Item::Pcre(p) => {
            let base = if p.relative { cursor.min(buf.len()) } else { 0 };
            let found = regex_find(&p.re, buf, base, ctx);
            match (found, p.negated) {
                (Some(end), false) => step(items, i + 1, buf, base + end, ctx),
                (None, true) => step(items, i + 1, buf, cursor, ctx),
                _ => false,
            }
        }
        Item::IsDataAt {
            n,
            relative,
            negated,
        } => {
            let n = val(*n, ctx);
            // Suricata: relative wants cursor + n <= len, absolute wants n < len.
            let ok = if *relative {
                (cursor as i64).saturating_add(n) <= buf.len() as i64
            } else {
                n < buf.len() as i64
            };
            ok != *negated && step(items, i + 1, buf, cursor, ctx)
        }
        Item::ByteTest {
            spec,
            op,
            negated,
            value,
        } => {
            let Some((v, _)) = read_bytes(spec, buf, cursor, ctx) else {
                return false;
            };
            let want = val(*value, ctx) as u64;
            let r = match op {
                ByteOp::Lt => v < want,
                ByteOp::Gt => v > want,
                ByteOp::Eq => v == want,
                ByteOp::Le => v <= want,
                ByteOp::Ge => v >= want,
                ByteOp::And => v & want != 0,
                ByteOp::Xor => v ^ want != 0,
            };
            r != *negated && step(items, i + 1, buf, cursor, ctx)
        }
        Item::ByteJump { spec, jump } => {
            let Some((v, after)) = read_bytes(spec, buf, cursor, ctx) else {
                return false;
            };
            let mut dist = (v as i64).saturating_mul(jump.multiplier as i64);
            if jump.align {
                dist = dist.saturating_add(3) & !3;
            }
            let base = if jump.from_beginning {
                0
            } else if jump.from_end {
                buf.len() as i64
            } else {
                after as i64
            };
            let pos = base.saturating_add(dist).saturating_add(jump.post_offset);
            if pos < 0 || pos > buf.len() as i64 {
                return false;
            }
            step(items, i + 1, buf, pos as usize, ctx)
        }
        Item::ByteExtract {
            spec,
            multiplier,
            var,
        } => {
            let Some((v, after)) = read_bytes(spec, buf, cursor, ctx) else {
                return false;
            };
            if let Some(slot) = ctx.vars.get_mut(*var as usize) {
                *slot = (v as i64).saturating_mul(*multiplier as i64);
            }
            step(items, i + 1, buf, after, ctx)
        }
        Item::ByteMath {
            spec,
            op,
            rvalue,
            var,
        } => {
            let Some((v, _)) = read_bytes(spec, buf, cursor, ctx) else {
                return false;
            };
            let (v, r) = (v as i64, val(*rvalue, ctx));
            let res = match op {
                MathOp::Add => v.checked_add(r),
                MathOp::Sub => v.checked_sub(r),
                MathOp::Mul => v.checked_mul(r),
                MathOp::Div => v.checked_div(r),
                MathOp::Shl => u32::try_from(r).ok().and_then(|r| v.checked_shl(r)),
                MathOp::Shr => u32::try_from(r).ok().and_then(|r| v.checked_shr(r)),
            };
            let Some(res) = res else {
                return false;
            };
            if let Some(slot) = ctx.vars.get_mut(*var as usize) {
                *slot = res;
            }
            step(items, i + 1, buf, cursor, ctx)
        }
        Item::Bsize(cmp) => cmp.test(buf.len() as u64) && step(items, i + 1, buf, cursor, ctx),
        Item::Uint(cmp) => {
            be_value(buf).is_some_and(|v| cmp.test(v)) && step(items, i + 1, buf, cursor, ctx)
        }
        Item::HashIn { set, negated } => {
            (set.contains(buf) != *negated) && step(items, i + 1, buf, cursor, ctx)
        }
        Item::FileSize(cmp) => file_size_ok(*cmp, buf) && step(items, i + 1, buf, cursor, ctx),
        Item::UintSet(set) => {
            be_value(buf).is_some_and(|v| set.iter().any(|(a, b)| (*a..=*b).contains(&v)))
                && step(items, i + 1, buf, cursor, ctx)
        }
        Item::DceIface { uuid, ver } => {
            let hit = buf.get(..16) == Some(&uuid[..])
                && ver.is_none_or(|c| {
                    buf.get(16..18)
                        .is_some_and(|v| c.test(u64::from(u16::from_be_bytes([v[0], v[1]]))))
                });
            hit && step(items, i + 1, buf, cursor, ctx)
        }
        Item::Base64Decode {
            bytes,
            offset,
            relative,
        } => {
            let start = if *relative { cursor } else { 0 }.saturating_add(*offset as usize);
            let src = buf.get(start..).unwrap_or(&[]);
            let src = match bytes {
                Some(n) => &src[..src.len().min(*n as usize)],
                None => src,
            };
            ctx.latin1_of = None;
            base64_decode(src, ctx.b64);
            !ctx.b64.is_empty() && step(items, i + 1, buf, cursor, ctx)
        }
    }
}

/// `filesize` on a `[state, size (8 bytes BE)]` buffer: a closed file is
/// compared; an open one only by `>`/`>=`, which its growth cannot undo; a
/// truncated one (gap, cut short) never, as its size is not the file's.
fn file_size_ok(cmp: UintCmp, buf: &[u8]) -> bool {
    let Some((&state, size)) = buf.split_first() else {
        return false;
    };
    let Some(size) = be_value(size) else {
        return false;
    };
    match state {
        1 => cmp.test(size),
        0 => matches!(cmp, UintCmp::Cmp(NumCmp::Gt(_) | NumCmp::Ge(_))) && cmp.test(size),
        _ => false,
    }
}

fn eq(c: &Content, hay: &[u8]) -> bool {
    if c.nocase {
        hay.eq_ignore_ascii_case(&c.pat)
    } else {
        hay == c.pat.as_slice()
    }
}

/// Runs a regex over `buf[base..]` (the pattern sees that slice as its whole
/// subject, as PCRE does); returns the end offset of the first match,
/// relative to `base`.
fn regex_find(re: &Re, buf: &[u8], base: usize, ctx: &mut ListCtx<'_>) -> Option<usize> {
    match re {
        Re::Bytes { .. } => re.bytes()?.find(&buf[base..]).map(|m| m.end()),
        Re::Fancy { .. } => {
            let r = re.fancy()?;
            // Latin-1 view: each byte is one char, so `\xNN` in the pattern
            // means byte NN. Bytes >= 0x80 take two bytes in the view.
            let key = (buf.as_ptr() as usize, buf.len());
            if ctx.latin1_of != Some(key) {
                ctx.latin1.clear();
                ctx.latin1.extend(buf.iter().map(|&b| b as char));
                ctx.latin1_of = Some(key);
                ctx.latin1_at = (0, 0);
            }
            let off = if ctx.latin1.len() == buf.len() {
                base // all ASCII
            } else {
                let (from, from_off) = if base >= ctx.latin1_at.0 {
                    ctx.latin1_at
                } else {
                    (0, 0)
                };
                let off = from_off
                    + (base - from)
                    + buf[from..base].iter().filter(|&&b| b >= 0x80).count();
                ctx.latin1_at = (base, off);
                off
            };
            let hay = ctx.latin1.get(off..)?;
            let end = match r {
                FancyRe::Search(r) => r.find(hay).ok().flatten()?.end(),
                FancyRe::Anchored(p) => {
                    // Past fancy-regex's default backtrack limit: an error, i.e. no match.
                    let saves = fancy_regex::internal::run_default(p, hay, 0).ok()??;
                    *saves.get(1)?
                }
            };
            Some(hay[..end].chars().count())
        }
    }
}

/// Reads the value a byte_* keyword points at; returns (value, offset after the bytes).
fn read_bytes(
    spec: &ByteSpec,
    buf: &[u8],
    cursor: usize,
    ctx: &ListCtx<'_>,
) -> Option<(u64, usize)> {
    let base = if spec.relative { cursor as i64 } else { 0 };
    let start = base.checked_add(val(spec.offset, ctx))?;
    if start < 0 {
        return None;
    }
    let start = start as usize;
    let max = if spec.string_base.is_some() { 20 } else { 8 };
    let nbytes = match spec.nbytes_var {
        // Suricata only bounds a variable byte count from above: 0 reads
        // nothing (value 0, cursor unmoved), except as text, where it fails.
        Some(v) => u8::try_from(val(Val::Var(v), ctx))
            .ok()
            .filter(|&n| n <= max && (n > 0 || spec.string_base.is_none()))?,
        None => spec.nbytes,
    };
    if nbytes == 0 && spec.string_base.is_none() {
        return (start <= buf.len()).then_some((0, start));
    }
    let end = if nbytes == 0 {
        buf.len().min(start.saturating_add(20))
    } else {
        start.checked_add(nbytes as usize)?
    };
    let raw = buf.get(start..end)?;
    if raw.is_empty() {
        return None;
    }
    let mut v: u64 = match spec.string_base {
        Some(base) => {
            let s = std::str::from_utf8(raw).ok()?;
            let s = s.trim_matches(|c: char| c == ' ' || c == '\0');
            let digits: &str = match s.find(|c: char| !c.is_digit(base)) {
                Some(0) => return None,
                Some(i) => &s[..i],
                None => s,
            };
            if digits.is_empty() {
                return None;
            }
            u64::from_str_radix(digits, base).ok()?
        }
        None => {
            let mut v = 0u64;
            match spec.endian {
                Endian::Big => raw.iter().for_each(|&b| v = v << 8 | b as u64),
                Endian::Little => raw.iter().rev().for_each(|&b| v = v << 8 | b as u64),
            }
            v
        }
    };
    if let Some(mask) = spec.bitmask {
        v &= mask;
        if mask != 0 {
            v >>= mask.trailing_zeros();
        }
    }
    Some((v, end))
}

/// Lenient base64 decoder (RFC 2045 style): skips whitespace, stops at the
/// first other non-alphabet byte or at padding.
pub(crate) fn base64_decode(src: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut acc = 0u32;
    let mut n = 0;
    for &b in src {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => break,
        };
        acc = acc << 6 | v as u32;
        n += 1;
        if n == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            acc = 0;
            n = 0;
        }
    }
    match n {
        2 => out.push((acc >> 4) as u8),
        3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => {}
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn base64_lenient() {
        let mut o = Vec::new();
        base64_decode(b"aGVsbG8gd29ybGQ=", &mut o);
        assert_eq!(o, b"hello world");
        base64_decode(b"aGVs\r\nbG8", &mut o);
        assert_eq!(o, b"hello");
        base64_decode(b"!!", &mut o);
        assert!(o.is_empty());
    }
}
