//! STIX 2.1 patterning language: a parser for the whole grammar and a
//! translation of the subset a single lookup can decide into indicators.
//!
//! Precedence (lowest first): `FOLLOWEDBY`, `OR`, `AND` between observation
//! expressions; `OR`, `AND` inside `[...]`. Supported, each giving one or more
//! alternative indicators (any of them matching means the pattern matches):
//! - `=` comparisons on `ipv4-addr:value`, `ipv6-addr:value` (address or
//!   CIDR), `domain-name:value`, `url:value`, `email-addr:value`,
//!   `file:hashes.MD5|'SHA-1'|'SHA-256'` (any case, quoted or not, with or
//!   without the dash) and `x509-certificate:hashes.'SHA-1'`;
//! - `OR` of supported parts, inside or between observations;
//! - `AND` inside `[...]` when every side is a hash of the same object
//!   (`[file:hashes.MD5 = 'a' AND file:hashes.'SHA-256' = 'b']`): the hashes
//!   identify the same file, so either one seen means the file was seen.
//!
//! Not supported (counted with the reason): other `AND`s (they constrain
//! several properties of one object, or several objects, which one value
//! lookup cannot check), `FOLLOWEDBY` and `AND` between observations (need
//! correlation across observations), qualifiers (`WITHIN`, `REPEATS`,
//! `START`/`STOP`: need time windows), operators other than `=` (`!=`, `<`,
//! `IN`, `LIKE`, `MATCHES`, `ISSUBSET`, ...), `NOT`, `EXISTS`, and any other
//! object path (`process:name`, `file:name`, `app:id`, ...).

use crate::intel::IndicatorType;
use std::fmt;

/// Deepest nesting of parentheses/brackets accepted.
const MAX_DEPTH: usize = 64;
/// Longest pattern accepted, in bytes.
pub const MAX_PATTERN_LEN: usize = 256 * 1024;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    LBrack,
    RBrack,
    LParen,
    RParen,
    Comma,
    Colon,
    Dot,
    Star,
    Op(&'static str),
    Word(String),
    Str(String),
    Num(String),
    Typed(char, String),
}

/// Why a pattern (or part of it) gives no indicator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unsupported {
    /// The pattern does not parse; offset and message.
    Syntax(usize, String),
    /// AND / FOLLOWEDBY between observation expressions.
    ObservationJoin(&'static str),
    /// WITHIN / REPEATS / START-STOP qualifier.
    Qualifier(&'static str),
    /// Operator other than `=`.
    Operator(String),
    /// Negated comparison.
    Negation,
    /// EXISTS test.
    Exists,
    /// AND of comparisons that are not hashes of one object.
    And,
    /// Object path vigie does not match on.
    Property(String),
    /// Literal is not a string.
    Literal,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsupported::Syntax(at, m) => write!(f, "pattern syntax error at byte {at}: {m}"),
            Unsupported::ObservationJoin(op) => write!(
                f,
                "{op} between observations needs correlation of several observations"
            ),
            Unsupported::Qualifier(q) => write!(f, "qualifier {q} needs a time window"),
            Unsupported::Operator(op) => write!(f, "operator {op} is not an equality"),
            Unsupported::Negation => f.write_str("negated comparison (NOT)"),
            Unsupported::Exists => f.write_str("EXISTS test"),
            Unsupported::And => f.write_str(
                "AND of comparisons on different properties cannot be decided by one lookup",
            ),
            Unsupported::Property(p) => write!(f, "object path {p} is not a supported indicator"),
            Unsupported::Literal => f.write_str("comparison value is not a string"),
        }
    }
}

impl Unsupported {
    /// A short category for report counts.
    pub fn category(&self) -> &'static str {
        match self {
            Unsupported::Syntax(..) => "stix pattern: syntax error",
            Unsupported::ObservationJoin(_) => "stix pattern: AND/FOLLOWEDBY between observations",
            Unsupported::Qualifier(_) => "stix pattern: qualifier",
            Unsupported::Operator(_) => "stix pattern: operator other than =",
            Unsupported::Negation => "stix pattern: NOT",
            Unsupported::Exists => "stix pattern: EXISTS",
            Unsupported::And => "stix pattern: AND of different properties",
            Unsupported::Property(_) => "stix pattern: unsupported object path",
            Unsupported::Literal => "stix pattern: non-string value",
        }
    }
}

fn lex(s: &str) -> Result<Vec<Tok>, Unsupported> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |i: usize, m: &str| Unsupported::Syntax(i, m.to_string());
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'[' => (out.push(Tok::LBrack), i += 1).1,
            b']' => (out.push(Tok::RBrack), i += 1).1,
            b'(' => (out.push(Tok::LParen), i += 1).1,
            b')' => (out.push(Tok::RParen), i += 1).1,
            b',' => (out.push(Tok::Comma), i += 1).1,
            b':' => (out.push(Tok::Colon), i += 1).1,
            b'.' => (out.push(Tok::Dot), i += 1).1,
            b'*' => (out.push(Tok::Star), i += 1).1,
            b'=' => (out.push(Tok::Op("=")), i += 1).1,
            b'!' if b.get(i + 1) == Some(&b'=') => (out.push(Tok::Op("!=")), i += 2).1,
            b'<' | b'>' => {
                let eq = b.get(i + 1) == Some(&b'=');
                let op = match (c, eq) {
                    (b'<', true) => "<=",
                    (b'<', false) => "<",
                    (_, true) => ">=",
                    _ => ">",
                };
                out.push(Tok::Op(op));
                i += if eq { 2 } else { 1 };
            }
            b'\'' => {
                let (v, next) =
                    string_lit(s, i + 1).ok_or_else(|| err(i, "unterminated string"))?;
                out.push(Tok::Str(v));
                i = next;
            }
            b'0'..=b'9' | b'-' | b'+' => {
                let start = i;
                i += 1;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                    i += 1;
                }
                out.push(Tok::Num(s[start..i].to_string()));
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'-')
                {
                    i += 1;
                }
                let w = &s[start..i];
                // Typed literals: t'...', h'...', b'...'.
                if w.len() == 1 && b.get(i) == Some(&b'\'') && matches!(c, b't' | b'h' | b'b') {
                    let (v, next) =
                        string_lit(s, i + 1).ok_or_else(|| err(i, "unterminated string"))?;
                    out.push(Tok::Typed(char::from(c), v));
                    i = next;
                } else {
                    out.push(Tok::Word(w.to_string()));
                }
            }
            _ => return Err(err(i, "unexpected character")),
        }
    }
    Ok(out)
}

/// Reads a quoted string body starting after the opening quote.
fn string_lit(s: &str, mut i: usize) -> Option<(String, usize)> {
    let b = s.as_bytes();
    let mut v = String::new();
    let start = i;
    let mut seg = i;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                v.push_str(&s[seg..i]);
                let n = *b.get(i + 1)?;
                if n != b'\'' && n != b'\\' {
                    return None;
                }
                v.push(char::from(n));
                i += 2;
                seg = i;
            }
            b'\'' => {
                v.push_str(&s[seg..i]);
                let _ = start;
                return Some((v, i + 1));
            }
            _ => i += 1,
        }
    }
    None
}

/// One step of an object path.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Key(String),
    Index,
}

#[derive(Clone, Debug, PartialEq)]
struct ObjPath {
    object: String,
    steps: Vec<Step>,
}

impl fmt::Display for ObjPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.object)?;
        for (i, s) in self.steps.iter().enumerate() {
            match s {
                Step::Key(k) if i == 0 => write!(f, "{k}")?,
                Step::Key(k) => write!(f, ".{k}")?,
                Step::Index => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Comp {
    Test {
        path: ObjPath,
        negated: bool,
        op: String,
        value: Option<String>,
    },
    Exists,
    Or(Vec<Comp>),
    And(Vec<Comp>),
}

#[derive(Clone, Debug, PartialEq)]
enum Obs {
    Comp(Comp),
    Or(Vec<Obs>),
    And(Vec<Obs>),
    FollowedBy(Vec<Obs>),
    Qualified(&'static str),
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn err<T>(&self, m: &str) -> Result<T, Unsupported> {
        Err(Unsupported::Syntax(
            self.pos,
            format!("{m} (token {})", self.pos),
        ))
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn expect(&mut self, t: Tok) -> Result<(), Unsupported> {
        if self.peek() == Some(&t) {
            self.pos += 1;
            Ok(())
        } else {
            self.err(&format!("expected {t:?}"))
        }
    }

    fn enter(&mut self) -> Result<(), Unsupported> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err("nesting too deep");
        }
        Ok(())
    }

    fn observations(&mut self) -> Result<Obs, Unsupported> {
        let mut parts = vec![self.obs_or()?];
        while self.is_word("FOLLOWEDBY") {
            self.pos += 1;
            parts.push(self.obs_or()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Obs::FollowedBy(parts)
        })
    }

    fn obs_or(&mut self) -> Result<Obs, Unsupported> {
        let mut parts = vec![self.obs_and()?];
        while self.is_word("OR") {
            self.pos += 1;
            parts.push(self.obs_and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Obs::Or(parts)
        })
    }

    fn obs_and(&mut self) -> Result<Obs, Unsupported> {
        let mut parts = vec![self.obs_qualified()?];
        while self.is_word("AND") {
            self.pos += 1;
            parts.push(self.obs_qualified()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Obs::And(parts)
        })
    }

    fn obs_qualified(&mut self) -> Result<Obs, Unsupported> {
        let mut o = self.obs_atom()?;
        loop {
            if self.is_word("WITHIN") {
                self.pos += 1;
                self.number()?;
                self.keyword("SECONDS")?;
                o = Obs::Qualified("WITHIN");
            } else if self.is_word("REPEATS") {
                self.pos += 1;
                self.number()?;
                self.keyword("TIMES")?;
                o = Obs::Qualified("REPEATS");
            } else if self.is_word("START") {
                self.pos += 1;
                self.timestamp()?;
                self.keyword("STOP")?;
                self.timestamp()?;
                o = Obs::Qualified("START/STOP");
            } else {
                return Ok(o);
            }
        }
    }

    fn keyword(&mut self, w: &str) -> Result<(), Unsupported> {
        if self.is_word(w) {
            self.pos += 1;
            Ok(())
        } else {
            self.err(&format!("expected {w}"))
        }
    }

    fn number(&mut self) -> Result<(), Unsupported> {
        match self.peek() {
            Some(Tok::Num(_)) => {
                self.pos += 1;
                Ok(())
            }
            _ => self.err("expected a number"),
        }
    }

    fn timestamp(&mut self) -> Result<(), Unsupported> {
        match self.peek() {
            Some(Tok::Typed('t', _)) => {
                self.pos += 1;
                Ok(())
            }
            _ => self.err("expected t'timestamp'"),
        }
    }

    fn obs_atom(&mut self) -> Result<Obs, Unsupported> {
        self.enter()?;
        let r = match self.peek() {
            Some(Tok::LBrack) => {
                self.pos += 1;
                let c = self.comp_or()?;
                self.expect(Tok::RBrack)?;
                Ok(Obs::Comp(c))
            }
            Some(Tok::LParen) => {
                self.pos += 1;
                let o = self.observations()?;
                self.expect(Tok::RParen)?;
                Ok(o)
            }
            _ => self.err("expected '[' or '('"),
        };
        self.depth -= 1;
        r
    }

    fn comp_or(&mut self) -> Result<Comp, Unsupported> {
        let mut parts = vec![self.comp_and()?];
        while self.is_word("OR") {
            self.pos += 1;
            parts.push(self.comp_and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Comp::Or(parts)
        })
    }

    fn comp_and(&mut self) -> Result<Comp, Unsupported> {
        let mut parts = vec![self.prop_test()?];
        while self.is_word("AND") {
            self.pos += 1;
            parts.push(self.prop_test()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Comp::And(parts)
        })
    }

    fn prop_test(&mut self) -> Result<Comp, Unsupported> {
        if self.peek() == Some(&Tok::LParen) {
            self.enter()?;
            self.pos += 1;
            let c = self.comp_or()?;
            self.expect(Tok::RParen)?;
            self.depth -= 1;
            return Ok(c);
        }
        if self.is_word("EXISTS") {
            self.pos += 1;
            self.path()?;
            return Ok(Comp::Exists);
        }
        let path = self.path()?;
        let negated = if self.is_word("NOT") {
            self.pos += 1;
            true
        } else {
            false
        };
        let op = match self.peek() {
            Some(Tok::Op(o)) => o.to_string(),
            Some(Tok::Word(w))
                if ["IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k)) =>
            {
                w.to_ascii_uppercase()
            }
            _ => return self.err("expected a comparison operator"),
        };
        self.pos += 1;
        let value = if op == "IN" {
            self.set_literal()?;
            None
        } else {
            self.literal()?
        };
        Ok(Comp::Test {
            path,
            negated,
            op,
            value,
        })
    }

    /// A literal; `Some` only for plain strings.
    fn literal(&mut self) -> Result<Option<String>, Unsupported> {
        let v = match self.peek() {
            Some(Tok::Str(s)) => Some(s.clone()),
            Some(Tok::Num(_)) | Some(Tok::Typed(..)) => None,
            Some(Tok::Word(w))
                if w.eq_ignore_ascii_case("true") || w.eq_ignore_ascii_case("false") =>
            {
                None
            }
            _ => return self.err("expected a literal"),
        };
        self.pos += 1;
        Ok(v)
    }

    fn set_literal(&mut self) -> Result<(), Unsupported> {
        self.expect(Tok::LParen)?;
        loop {
            self.literal()?;
            match self.peek() {
                Some(Tok::Comma) => self.pos += 1,
                Some(Tok::RParen) => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return self.err("expected ',' or ')'"),
            }
        }
    }

    fn path(&mut self) -> Result<ObjPath, Unsupported> {
        let object = match self.peek() {
            Some(Tok::Word(w)) => w.clone(),
            _ => return self.err("expected an object type"),
        };
        self.pos += 1;
        self.expect(Tok::Colon)?;
        let mut steps = vec![self.key()?];
        loop {
            match self.peek() {
                Some(Tok::Dot) => {
                    self.pos += 1;
                    steps.push(self.key()?);
                }
                Some(Tok::LBrack) => {
                    self.pos += 1;
                    match self.peek() {
                        Some(Tok::Star) | Some(Tok::Num(_)) => self.pos += 1,
                        _ => return self.err("expected an index or *"),
                    }
                    self.expect(Tok::RBrack)?;
                    steps.push(Step::Index);
                }
                _ => return Ok(ObjPath { object, steps }),
            }
        }
    }

    fn key(&mut self) -> Result<Step, Unsupported> {
        let k = match self.peek() {
            Some(Tok::Word(w)) => w.clone(),
            Some(Tok::Str(s)) => s.clone(),
            _ => return self.err("expected a property name"),
        };
        self.pos += 1;
        Ok(Step::Key(k))
    }
}

/// What a supported comparison matches on.
fn path_type(p: &ObjPath) -> Result<IndicatorType, Unsupported> {
    let keys: Vec<&str> = p
        .steps
        .iter()
        .map(|s| match s {
            Step::Key(k) => k.as_str(),
            Step::Index => "[*]",
        })
        .collect();
    let hash = |name: &str| {
        let n: String = name
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .collect::<String>()
            .to_ascii_uppercase();
        match n.as_str() {
            "MD5" => Some(IndicatorType::Md5),
            "SHA1" => Some(IndicatorType::Sha1),
            "SHA256" => Some(IndicatorType::Sha256),
            _ => None,
        }
    };
    let t = match (p.object.as_str(), keys.as_slice()) {
        ("ipv4-addr" | "ipv6-addr", ["value"]) => Some(IndicatorType::Ip),
        ("domain-name", ["value"]) => Some(IndicatorType::Domain),
        ("url", ["value"]) => Some(IndicatorType::Url),
        ("email-addr", ["value"]) => Some(IndicatorType::Email),
        ("file", ["hashes", h]) => hash(h),
        ("x509-certificate", ["hashes", h]) => match hash(h) {
            Some(IndicatorType::Sha1) => Some(IndicatorType::CertSha1),
            _ => None,
        },
        _ => None,
    };
    t.ok_or_else(|| Unsupported::Property(p.to_string()))
}

/// One alternative of a pattern: a value to look for, or why a part gives none.
pub type Alternative = Result<(IndicatorType, String), Unsupported>;

fn comp_alternatives(c: &Comp, out: &mut Vec<Alternative>) {
    match c {
        Comp::Test {
            path,
            negated,
            op,
            value,
        } => {
            if *negated {
                out.push(Err(Unsupported::Negation));
            } else if op != "=" {
                out.push(Err(Unsupported::Operator(op.clone())));
            } else {
                match (path_type(path), value) {
                    (Err(e), _) => out.push(Err(e)),
                    (Ok(_), None) => out.push(Err(Unsupported::Literal)),
                    (Ok(t), Some(v)) => out.push(Ok((t, v.clone()))),
                }
            }
        }
        Comp::Exists => out.push(Err(Unsupported::Exists)),
        Comp::Or(parts) => {
            for p in parts {
                comp_alternatives(p, out);
            }
        }
        Comp::And(parts) => {
            // Hashes of one object: each identifies it on its own.
            let mut object: Option<&str> = None;
            let mut alts = Vec::new();
            for p in parts {
                let Comp::Test {
                    path,
                    negated: false,
                    op,
                    value: Some(v),
                } = p
                else {
                    out.push(Err(Unsupported::And));
                    return;
                };
                let is_hash = op == "="
                    && matches!(path.object.as_str(), "file" | "x509-certificate")
                    && matches!(path.steps.first(), Some(Step::Key(k)) if k == "hashes");
                if !is_hash || object.is_some_and(|o| o != path.object) {
                    out.push(Err(Unsupported::And));
                    return;
                }
                object = Some(&path.object);
                match path_type(path) {
                    Ok(t) => alts.push(Ok((t, v.clone()))),
                    Err(e) => alts.push(Err(e)),
                }
            }
            out.extend(alts);
        }
    }
}

fn obs_alternatives(o: &Obs, out: &mut Vec<Alternative>) {
    match o {
        Obs::Comp(c) => comp_alternatives(c, out),
        Obs::Or(parts) => {
            for p in parts {
                obs_alternatives(p, out);
            }
        }
        Obs::And(_) => out.push(Err(Unsupported::ObservationJoin("AND"))),
        Obs::FollowedBy(_) => out.push(Err(Unsupported::ObservationJoin("FOLLOWEDBY"))),
        Obs::Qualified(q) => out.push(Err(Unsupported::Qualifier(q))),
    }
}

/// Parses a STIX pattern and returns its alternatives: each `Ok` is an
/// indicator that alone satisfies the pattern; each `Err` is a part that
/// gives no indicator, with the reason. A syntax error is a single `Err`.
pub fn alternatives(pattern: &str) -> Vec<Alternative> {
    if pattern.len() > MAX_PATTERN_LEN {
        return vec![Err(Unsupported::Syntax(
            MAX_PATTERN_LEN,
            "pattern too long".into(),
        ))];
    }
    let toks = match lex(pattern) {
        Ok(t) => t,
        Err(e) => return vec![Err(e)],
    };
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    let obs = match p.observations() {
        Ok(o) => o,
        Err(e) => return vec![Err(e)],
    };
    if p.pos != p.toks.len() {
        return vec![Err(Unsupported::Syntax(p.pos, "trailing input".into()))];
    }
    let mut out = Vec::new();
    obs_alternatives(&obs, &mut out);
    out
}

#[cfg(test)]
mod test {
    use super::*;
    use IndicatorType as T;

    fn ok(t: T, v: &str) -> Alternative {
        Ok((t, v.to_string()))
    }

    /// The table of supported and unsupported patterns, with reasons.
    #[test]
    fn pattern_table() {
        let table: Vec<(&str, Vec<Alternative>)> = vec![
            ("[ipv4-addr:value = '10.0.0.0']", vec![ok(T::Ip, "10.0.0.0")]),
            ("[ ipv4-addr:value = '223.166.0.0/15' ]", vec![ok(T::Ip, "223.166.0.0/15")]),
            ("[ipv6-addr:value = '2001:db8::/32']", vec![ok(T::Ip, "2001:db8::/32")]),
            ("[domain-name:value='weather4free.com']", vec![ok(T::Domain, "weather4free.com")]),
            ("[url:value = 'http://x.test/a?b=\\'c\\'']", vec![ok(T::Url, "http://x.test/a?b='c'")]),
            ("[email-addr:value = 'a@b.test']", vec![ok(T::Email, "a@b.test")]),
            ("[file:hashes.md5 = 'aa']", vec![ok(T::Md5, "aa")]),
            ("[file:hashes.'SHA-256' = 'bb']", vec![ok(T::Sha256, "bb")]),
            ("[file:hashes.sha256 = 'bb']", vec![ok(T::Sha256, "bb")]),
            ("[file:hashes.'SHA-1' = 'cc']", vec![ok(T::Sha1, "cc")]),
            ("[x509-certificate:hashes.'SHA-1' = 'dd']", vec![ok(T::CertSha1, "dd")]),
            (
                "[domain-name:value = 'a.test' OR ipv4-addr:value = '1.2.3.4']",
                vec![ok(T::Domain, "a.test"), ok(T::Ip, "1.2.3.4")],
            ),
            (
                "[domain-name:value = 'a.test'] OR [ipv4-addr:value = '1.2.3.4']",
                vec![ok(T::Domain, "a.test"), ok(T::Ip, "1.2.3.4")],
            ),
            (
                "[file:hashes.MD5 = 'aa' AND file:hashes.'SHA-256' = 'bb']",
                vec![ok(T::Md5, "aa"), ok(T::Sha256, "bb")],
            ),
            ("([ipv4-addr:value = '1.1.1.1'])", vec![ok(T::Ip, "1.1.1.1")]),
            // Unsupported, with the reason.
            ("[process:name = 'fservernetd']", vec![Err(Unsupported::Property("process:name".into()))]),
            ("[file:name = 'x.plist']", vec![Err(Unsupported::Property("file:name".into()))]),
            ("[app:id = 'com.gu.activity']", vec![Err(Unsupported::Property("app:id".into()))]),
            ("[app:cert.sha256 = 'ab']", vec![Err(Unsupported::Property("app:cert.sha256".into()))]),
            (
                "[x509-certificate:hashes.'SHA-256' = 'ab']",
                vec![Err(Unsupported::Property("x509-certificate:hashes.SHA-256".into()))],
            ),
            (
                "[email-message:subject MATCHES '^[IMPORTANT] Please Review Before']",
                vec![Err(Unsupported::Operator("MATCHES".into()))],
            ),
            ("[domain-name:value LIKE '%.evil.test']", vec![Err(Unsupported::Operator("LIKE".into()))]),
            ("[ipv4-addr:value != '1.2.3.4']", vec![Err(Unsupported::Operator("!=".into()))]),
            ("[ipv4-addr:value NOT = '1.2.3.4']", vec![Err(Unsupported::Negation)]),
            ("[ipv4-addr:value IN ('1.1.1.1', '2.2.2.2')]", vec![Err(Unsupported::Operator("IN".into()))]),
            ("[file:size = 25536]", vec![Err(Unsupported::Property("file:size".into()))]),
            ("[ipv4-addr:value = 123]", vec![Err(Unsupported::Literal)]),
            ("[EXISTS file:name]", vec![Err(Unsupported::Exists)]),
            (
                "[x509-certificate:issuer = 'CN=WEBMAIL' AND x509-certificate:serial_number = '4c:0b']",
                vec![Err(Unsupported::And)],
            ),
            (
                "[ipv4-addr:value = '1.1.1.1' AND domain-name:value = 'a.test']",
                vec![Err(Unsupported::And)],
            ),
            (
                "[ipv4-addr:value = '1.1.1.1'] AND [domain-name:value = 'a.test']",
                vec![Err(Unsupported::ObservationJoin("AND"))],
            ),
            (
                "[ipv4-addr:value = '1.1.1.1'] FOLLOWEDBY [domain-name:value = 'a.test']",
                vec![Err(Unsupported::ObservationJoin("FOLLOWEDBY"))],
            ),
            (
                "[ipv4-addr:value = '1.1.1.1'] WITHIN 300 SECONDS",
                vec![Err(Unsupported::Qualifier("WITHIN"))],
            ),
            (
                "[ipv4-addr:value = '1.1.1.1'] REPEATS 5 TIMES",
                vec![Err(Unsupported::Qualifier("REPEATS"))],
            ),
            (
                "[ipv4-addr:value = '1.1.1.1'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'",
                vec![Err(Unsupported::Qualifier("START/STOP"))],
            ),
            (
                "[email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\\\.exe$']",
                vec![Err(Unsupported::Operator("MATCHES".into()))],
            ),
            // A mix: the supported alternative is kept, the other reported.
            (
                "[domain-name:value = 'a.test' OR process:name = 'x']",
                vec![ok(T::Domain, "a.test"), Err(Unsupported::Property("process:name".into()))],
            ),
        ];
        for (pattern, want) in table {
            assert_eq!(alternatives(pattern), want, "{pattern}");
        }
    }

    /// Random token soup never panics and always gives at least one answer.
    #[test]
    fn random_token_soup() {
        let pieces = [
            "[",
            "]",
            "(",
            ")",
            " AND ",
            " OR ",
            " FOLLOWEDBY ",
            "ipv4-addr:value",
            " = ",
            "'1.2.3.4'",
            "file:hashes.'SHA-256'",
            " MATCHES ",
            " NOT ",
            " WITHIN 5 SECONDS",
            "'",
            "\\",
            "[*]",
            ".",
            ":",
            "t'2020-01-01T00:00:00Z'",
            " IN ",
            "(",
            "'a', 'b'",
            " EXISTS ",
            "123",
            "h'00'",
        ];
        let mut state = 42u64;
        for _ in 0..20_000 {
            let mut p = String::new();
            for _ in 0..(state % 12) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                p.push_str(pieces[(state % pieces.len() as u64) as usize]);
            }
            state = state.wrapping_add(1);
            assert!(!alternatives(&p).is_empty(), "{p}");
        }
    }

    #[test]
    fn syntax_errors_and_hostile_patterns() {
        for bad in [
            "",
            "[",
            "[ipv4-addr:value = '1.1.1.1'",
            "[ipv4-addr:value = '1.1.1.1]",
            "ipv4-addr:value = '1.1.1.1'",
            "[ipv4-addr:value '1.1.1.1']",
            "[ipv4-addr = '1.1.1.1']",
            "[ipv4-addr:value = '1.1.1.1'] OR",
            "[ipv4-addr:value = '1.1.1.1'] garbage",
            "[a:b = 'x\\q']",
            "[a:b = 'x'] WITHIN SECONDS",
            "\u{0}",
        ] {
            let r = alternatives(bad);
            assert!(
                matches!(r.as_slice(), [Err(Unsupported::Syntax(..))]),
                "{bad:?}: {r:?}"
            );
        }
        let deep = format!("{}[a:b = 'x']{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(
            matches!(alternatives(&deep).as_slice(), [Err(Unsupported::Syntax(_, m))] if m.contains("too deep"))
        );
        let long = format!("[a:b = '{}']", "x".repeat(MAX_PATTERN_LEN));
        assert!(matches!(
            alternatives(&long).as_slice(),
            [Err(Unsupported::Syntax(..))]
        ));
        let wide = vec!["[domain-name:value = 'a.test']"; 5000].join(" OR ");
        assert_eq!(alternatives(&wide).len(), 5000);
    }
}
