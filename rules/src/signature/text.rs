//! Rule text: logical lines, header tokens, option list and value escapes.

/// One logical rule line: continuation lines joined, with its first line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleLine {
    pub(crate) line: usize,
    pub(crate) text: String,
}

/// Splits a rules file into logical lines, joining lines that end with `\`
/// and skipping blank lines and `#` comments.
pub(crate) fn logical_lines(text: &str) -> Vec<RuleLine> {
    let mut out = Vec::new();
    let mut cur: Option<RuleLine> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        match cur.as_mut() {
            Some(c) => c.text.push_str(line.trim_start()),
            None => {
                let t = line.trim_start();
                if t.is_empty() || t.starts_with('#') {
                    continue;
                }
                cur = Some(RuleLine {
                    line: i + 1,
                    text: t.to_string(),
                });
            }
        }
        if let Some(c) = cur.as_mut() {
            if c.text.ends_with('\\') {
                c.text.pop();
                continue;
            }
        }
        if let Some(c) = cur.take() {
            out.push(c);
        }
    }
    if let Some(c) = cur.take() {
        out.push(c);
    }
    out
}

/// The seven header fields and the raw option text of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawRule<'a> {
    pub(crate) action: &'a str,
    pub(crate) proto: &'a str,
    pub(crate) src: &'a str,
    pub(crate) sport: &'a str,
    pub(crate) dir: &'a str,
    pub(crate) dst: &'a str,
    pub(crate) dport: &'a str,
    pub(crate) options: &'a str,
}

/// Splits `action proto src sport dir dst dport (options)`.
pub(crate) fn split_rule(text: &str) -> Result<RawRule<'_>, String> {
    let text = text.trim();
    let open = text.find('(').ok_or("no option list: missing '('")?;
    let close = text
        .rfind(')')
        .ok_or("option list not closed: missing ')'")?;
    if close < open {
        return Err("option list not closed: missing ')'".into());
    }
    if !text[close + 1..].trim().is_empty() {
        return Err(format!(
            "text after the option list: \"{}\"",
            text[close + 1..].trim()
        ));
    }
    let head = &text[..open];
    let mut toks: Vec<&str> = Vec::with_capacity(7);
    let mut depth = 0i32;
    let mut start: Option<usize> = None;
    for (i, c) in head.char_indices() {
        match c {
            '[' => {
                depth += 1;
                start.get_or_insert(i);
            }
            ']' => {
                depth -= 1;
                start.get_or_insert(i);
            }
            c if c.is_whitespace() && depth <= 0 => {
                if let Some(s) = start.take() {
                    toks.push(&head[s..i]);
                }
            }
            _ => {
                start.get_or_insert(i);
            }
        }
    }
    if let Some(s) = start {
        toks.push(&head[s..]);
    }
    if depth != 0 {
        return Err("unbalanced brackets in the rule header".into());
    }
    if toks.len() != 7 {
        return Err(format!(
            "rule header has {} fields, expected 7 (action proto src sport dir dst dport)",
            toks.len()
        ));
    }
    Ok(RawRule {
        action: toks[0],
        proto: toks[1],
        src: toks[2],
        sport: toks[3],
        dir: toks[4],
        dst: toks[5],
        dport: toks[6],
        options: &text[open + 1..close],
    })
}

/// Splits the option list at unescaped `;` into `(name, value)` pairs, values
/// trimmed and still escaped. Like Suricata, quotes do not protect a `;`
/// (rules write `\;` or `|3b|`), so a pcre may contain a bare `"`.
pub(crate) fn split_options(opts: &str) -> Result<Vec<(&str, Option<&str>)>, String> {
    let mut out = Vec::new();
    let bytes = opts.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                i += 2;
                continue;
            }
            b';' => {
                push_option(&opts[start..i], &mut out)?;
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    let rest = opts.get(start..).unwrap_or("").trim();
    if !rest.is_empty() {
        return Err(format!("last option \"{rest}\" is not terminated by ';'"));
    }
    Ok(out)
}

fn push_option<'a>(opt: &'a str, out: &mut Vec<(&'a str, Option<&'a str>)>) -> Result<(), String> {
    let opt = opt.trim();
    if opt.is_empty() {
        return Err("empty option (\";;\")".into());
    }
    match opt.split_once(':') {
        Some((k, v)) => out.push((k.trim(), Some(v.trim()))),
        None => out.push((opt, None)),
    }
    Ok(())
}

/// Removes surrounding double quotes, if any.
pub(crate) fn strip_quotes(v: &str) -> &str {
    let v = v.trim();
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

/// Unescapes `\"`, `\;`, `\\`, `\:` in a free-text value such as `msg`.
pub(crate) fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some(n) => out.push(n),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses a content string: optional `!`, quoted text with `|hex|` blocks and
/// `\"`, `\;`, `\\`, `\:` escapes. Returns (negated, bytes).
pub(crate) fn parse_content(v: &str) -> Result<(bool, Vec<u8>), String> {
    let mut v = v.trim();
    let mut negated = false;
    if let Some(r) = v.strip_prefix('!') {
        negated = true;
        v = r.trim_start();
    }
    if !v.starts_with('"') {
        return Err("content must be a double-quoted string".into());
    }
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 1;
    let mut closed = None;
    let mut in_hex = false;
    let mut hex_hi: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        if in_hex {
            match c {
                b'|' => {
                    if hex_hi.is_some() {
                        return Err("odd number of hex digits in content".into());
                    }
                    in_hex = false;
                }
                b' ' | b'\t' => {}
                _ => {
                    let d = (c as char)
                        .to_digit(16)
                        .ok_or_else(|| format!("bad hex character '{}' in content", c as char))?
                        as u8;
                    match hex_hi.take() {
                        Some(h) => out.push(h << 4 | d),
                        None => hex_hi = Some(d),
                    }
                }
            }
        } else {
            match c {
                b'|' => in_hex = true,
                b'\\' => {
                    let n = *b.get(i + 1).ok_or("content ends with a backslash")?;
                    if !matches!(n, b'"' | b';' | b'\\' | b':') {
                        return Err(format!("bad escape \\{} in content", n as char));
                    }
                    out.push(n);
                    i += 1;
                }
                b'"' => {
                    closed = Some(i);
                    break;
                }
                b';' => return Err("unescaped ';' in content".into()),
                _ => out.push(c),
            }
        }
        i += 1;
    }
    let end = closed.ok_or("content string not closed")?;
    if in_hex {
        return Err("unterminated |hex| block in content".into());
    }
    let rest = v[end + 1..].trim();
    if !rest.is_empty() {
        return Err(format!(
            "unexpected \"{rest}\" after the content string (Snort 3 syntax?)"
        ));
    }
    if out.is_empty() {
        return Err("empty content".into());
    }
    Ok((negated, out))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn continuation_and_comments() {
        let t = "# c\n\nalert tcp any any -> any any \\\n  (msg:\"a\"; \\\n sid:1;)\n#alert x\nalert udp any any -> any any (sid:2;)\r\n";
        let l = logical_lines(t);
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].line, 3);
        assert_eq!(
            l[0].text,
            "alert tcp any any -> any any (msg:\"a\"; sid:1;)"
        );
        assert_eq!(l[1].line, 7);
    }

    #[test]
    fn header_with_spaced_lists() {
        let r =
            split_rule("alert tcp [1.2.3.4, 5.6.7.8] any -> $HOME_NET [80, 443] (sid:1;)").unwrap();
        assert_eq!(r.src, "[1.2.3.4, 5.6.7.8]");
        assert_eq!(r.dport, "[80, 443]");
        assert_eq!(r.options, "sid:1;");
        assert!(split_rule("alert tcp any any -> any (sid:1;)").is_err());
        assert!(split_rule("alert tcp any any -> any any sid:1;").is_err());
    }

    #[test]
    fn options_split_on_unescaped_semicolon() {
        let o = split_options(r#"msg:"a\;b c"; content:"x|3b|"; nocase; pcre:"/a\;b/"; sid:1;"#)
            .unwrap();
        let names: Vec<_> = o.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["msg", "content", "nocase", "pcre", "sid"]);
        assert_eq!(o[0].1, Some(r#""a\;b c""#));
        assert!(split_options("sid:1").is_err());
        let p = split_options(r#"pcre:"/^["']?post/Ri"; sid:1;"#).unwrap();
        assert_eq!(p[0], ("pcre", Some(r#""/^["']?post/Ri""#)));
    }

    #[test]
    fn content_bytes() {
        assert_eq!(
            parse_content(r#""A|42 43|D\"\;""#).unwrap(),
            (false, b"ABCD\";".to_vec())
        );
        assert_eq!(
            parse_content(r#"!"|0d0a|""#).unwrap(),
            (true, b"\r\n".to_vec())
        );
        assert!(parse_content(r#""|4|""#).is_err());
        assert!(parse_content(r#""|zz|""#).is_err());
        assert!(parse_content(r#""abc",nocase"#).is_err());
        assert!(parse_content("abc").is_err());
        assert!(parse_content(r#""""#).is_err());
        assert!(parse_content(r#""a\x""#).is_err());
    }
}
