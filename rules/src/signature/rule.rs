//! A compiled rule and the compiler from option text to it.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use super::addr::{parse_addr, parse_ports, AddrSet, PortSet, Vars};
use super::buffer::{AppProto, BufferId};
use super::config::Classifications;
use super::text::{parse_content, split_options, split_rule, strip_quotes, unescape};
pub(crate) use super::transform::Transform;

/// What to do when a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Raise an alert.
    Alert,
    /// Stop inspecting the packet/flow with lower-priority rules.
    Pass,
    /// Drop the packet (IPS) and alert.
    Drop,
    /// Send a reset/unreachable to the sender and alert.
    Reject,
    /// Reject towards the source.
    RejectSrc,
    /// Reject towards the destination.
    RejectDst,
    /// Reject towards both ends.
    RejectBoth,
}

impl Action {
    /// The action's name as written in rules and in EVE `alert.action` input.
    pub fn name(self) -> &'static str {
        match self {
            Action::Alert => "alert",
            Action::Pass => "pass",
            Action::Drop => "drop",
            Action::Reject => "reject",
            Action::RejectSrc => "rejectsrc",
            Action::RejectDst => "rejectdst",
            Action::RejectBoth => "rejectboth",
        }
    }

    pub(crate) fn from_name(s: &str) -> Option<Action> {
        Some(match s {
            "alert" => Action::Alert,
            "pass" => Action::Pass,
            "drop" => Action::Drop,
            "reject" => Action::Reject,
            "rejectsrc" => Action::RejectSrc,
            "rejectdst" => Action::RejectDst,
            "rejectboth" => Action::RejectBoth,
            _ => return None,
        })
    }
}

/// Everything about a rule that an alert reports. Shared (`Arc`) between the
/// engine and every [`Match`](super::Match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMeta {
    /// Action written in the rule.
    pub action: Action,
    /// Generator id (`gid`, default 1).
    pub gid: u32,
    /// Signature id.
    pub sid: u32,
    /// Revision.
    pub rev: u32,
    /// `msg` text, unescaped.
    pub msg: String,
    /// `classtype` short name.
    pub classtype: Option<String>,
    /// Classification description (EVE `alert.category`).
    pub category: Option<Arc<str>>,
    /// Priority (EVE `alert.severity`): `priority` keyword, else the classtype's, else 3.
    pub severity: u8,
    /// `metadata` as (key, value) pairs in rule order; a key may repeat.
    /// Strings are interned across the rule set.
    pub metadata: Box<[(Arc<str>, Arc<str>)]>,
    /// `reference` values as written (`url,example.com`).
    pub references: Vec<String>,
    /// `target:src_ip|dest_ip`, if given.
    pub target: Option<String>,
    /// The rule has `noalert` or `flowbits:noalert`.
    pub noalert: bool,
    /// File or origin name the rule came from.
    pub origin: Arc<str>,
    /// Line of the rule in its origin.
    pub line: usize,
}

impl RuleMeta {
    /// Values of one metadata key, in rule order.
    pub fn metadata_values<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.metadata
            .iter()
            .filter(move |(k, _)| &**k == key)
            .map(|(_, v)| &**v)
    }

    /// Metadata grouped as key -> values (EVE `alert.metadata`), keys in first-seen order.
    pub fn metadata_grouped(&self) -> Vec<(&str, Vec<&str>)> {
        let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
        for (k, v) in self.metadata.iter() {
            match out.iter_mut().find(|(ok, _)| *ok == &**k) {
                Some((_, vs)) => vs.push(v),
                None => out.push((k, vec![v])),
            }
        }
        out
    }
}

/// A numeric comparison (`dsize:>10`, `ttl:<5`, `urilen:10<>20`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumCmp {
    Eq(u64),
    Ne(u64),
    Lt(u64),
    Gt(u64),
    Le(u64),
    Ge(u64),
    /// Exclusive range.
    Range(u64, u64),
}

impl NumCmp {
    pub(crate) fn test(self, v: u64) -> bool {
        match self {
            NumCmp::Eq(a) => v == a,
            NumCmp::Ne(a) => v != a,
            NumCmp::Lt(a) => v < a,
            NumCmp::Gt(a) => v > a,
            NumCmp::Le(a) => v <= a,
            NumCmp::Ge(a) => v >= a,
            NumCmp::Range(a, b) => v > a && v < b,
        }
    }
}

fn parse_u64(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let r = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16)
    } else {
        s.parse::<u64>()
    };
    r.map_err(|_| format!("bad number \"{s}\""))
}

fn parse_i64(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Some(r) = s.strip_prefix('-') {
        return parse_u64(r).and_then(|v| {
            i64::try_from(v)
                .map(|v| -v)
                .map_err(|_| format!("number \"{s}\" too large"))
        });
    }
    parse_u64(s).and_then(|v| i64::try_from(v).map_err(|_| format!("number \"{s}\" too large")))
}

pub(crate) fn parse_num_cmp(s: &str, max: u64) -> Result<NumCmp, String> {
    let s = s.trim();
    let chk = |v: u64| {
        if v > max {
            Err(format!("value {v} out of range (max {max})"))
        } else {
            Ok(v)
        }
    };
    let c = if let Some((a, b)) = s.split_once("<>") {
        let (a, b) = (chk(parse_u64(a)?)?, chk(parse_u64(b)?)?);
        if a >= b {
            return Err(format!("bad range \"{s}\""));
        }
        NumCmp::Range(a, b)
    } else if let Some(r) = s.strip_prefix("<=") {
        NumCmp::Le(chk(parse_u64(r)?)?)
    } else if let Some(r) = s.strip_prefix(">=") {
        NumCmp::Ge(chk(parse_u64(r)?)?)
    } else if let Some(r) = s.strip_prefix("!=").or_else(|| s.strip_prefix('!')) {
        NumCmp::Ne(chk(parse_u64(r)?)?)
    } else if let Some(r) = s.strip_prefix('<') {
        NumCmp::Lt(chk(parse_u64(r)?)?)
    } else if let Some(r) = s.strip_prefix('>') {
        NumCmp::Gt(chk(parse_u64(r)?)?)
    } else if let Some(r) = s.strip_prefix('=') {
        NumCmp::Eq(chk(parse_u64(r)?)?)
    } else if let Some((a, b)) = s.split_once('-').filter(|(a, _)| !a.is_empty()) {
        let (a, b) = (chk(parse_u64(a)?)?, chk(parse_u64(b)?)?);
        if a > b {
            return Err(format!("bad range \"{s}\""));
        }
        // Inclusive `a-b` as used by some keywords.
        NumCmp::Range(a.saturating_sub(1).min(a), b.saturating_add(1))
    } else {
        NumCmp::Eq(chk(parse_u64(s)?)?)
    };
    if let NumCmp::Range(0, b) = c {
        if s.contains('-') {
            return Ok(NumCmp::Lt(b));
        }
    }
    Ok(c)
}

/// A Suricata integer-keyword comparison (`dns.opcode:!0`, `dns.rrtype:1`,
/// `dns.opcode:7-15`): ranges are exclusive, `!` negates any form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UintCmp {
    Cmp(NumCmp),
    /// `!a-b`: outside the exclusive range (at most `a` or at least `b`).
    NotRange(u64, u64),
    /// `&mask=value` / `&mask!=value`.
    Mask {
        mask: u64,
        value: u64,
        ne: bool,
    },
}

impl UintCmp {
    pub(crate) fn test(self, v: u64) -> bool {
        match self {
            UintCmp::Cmp(c) => c.test(v),
            UintCmp::NotRange(a, b) => v <= a || v >= b,
            UintCmp::Mask { mask, value, ne } => ((v & mask) == value) != ne,
        }
    }
}

/// Parses a Suricata unsigned-integer keyword value no larger than `max`;
/// `names` maps enumeration names (`nxdomain`, `mx`) to values.
pub(crate) fn parse_uint_cmp(s: &str, max: u64, names: &[(&str, u64)]) -> Result<UintCmp, String> {
    let s = s.trim();
    let num = |t: &str| -> Result<u64, String> {
        let t = t.trim();
        let v = match names.iter().find(|(n, _)| n.eq_ignore_ascii_case(t)) {
            Some((_, v)) => *v,
            None => parse_u64(t)?,
        };
        if v > max {
            return Err(format!("value {v} out of range (max {max})"));
        }
        Ok(v)
    };
    if let Some(r) = s.strip_prefix('&') {
        let (m, ne, v) = match r.split_once("!=") {
            Some((m, v)) => (m, true, v),
            None => {
                let (m, v) = r
                    .split_once('=')
                    .ok_or_else(|| format!("bad bitmask \"{s}\": expected &mask=value"))?;
                (m, false, v)
            }
        };
        let (mask, value) = (num(m)?, num(v)?);
        if value & !mask != 0 {
            return Err(format!("bitmask \"{s}\" can never match"));
        }
        return Ok(UintCmp::Mask { mask, value, ne });
    }
    let range = |t: &str| -> Result<Option<(u64, u64)>, String> {
        let split = t.split_once("<>").or_else(|| t.split_once('-'));
        match split {
            Some((a, b)) if !a.trim().is_empty() => {
                let (a, b) = (num(a)?, num(b)?);
                if a >= b {
                    return Err(format!("bad range \"{t}\""));
                }
                Ok(Some((a, b)))
            }
            _ => Ok(None),
        }
    };
    if let Some(r) = s.strip_prefix("!=") {
        return Ok(UintCmp::Cmp(NumCmp::Ne(num(r)?)));
    }
    if let Some(r) = s.strip_prefix('!') {
        return Ok(match range(r)? {
            Some((a, b)) => UintCmp::NotRange(a, b),
            None => UintCmp::Cmp(NumCmp::Ne(num(r)?)),
        });
    }
    if let Some((a, b)) = range(s)? {
        return Ok(UintCmp::Cmp(NumCmp::Range(a, b)));
    }
    let c = if let Some(r) = s.strip_prefix(">=") {
        NumCmp::Ge(num(r)?)
    } else if let Some(r) = s.strip_prefix("<=") {
        NumCmp::Le(num(r)?)
    } else if let Some(r) = s.strip_prefix('>') {
        NumCmp::Gt(num(r)?)
    } else if let Some(r) = s.strip_prefix('<') {
        NumCmp::Lt(num(r)?)
    } else if let Some(r) = s.strip_prefix('=') {
        NumCmp::Eq(num(r)?)
    } else {
        NumCmp::Eq(num(s)?)
    };
    Ok(UintCmp::Cmp(c))
}

/// A UUID written `8-4-4-4-12` hex digits, as its 16 bytes in that order.
pub(crate) fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let groups: Vec<&str> = s.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    if groups.len() != 5 || groups.iter().zip(lens).any(|(g, n)| g.len() != n) {
        return None;
    }
    let hex: String = groups.concat();
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// `dcerpc.opnum` values: numbers and inclusive `a-b` ranges, comma separated.
fn parse_opnums(v: &str) -> Result<Vec<(u64, u64)>, String> {
    let mut out = Vec::new();
    for p in v.split(',').map(str::trim) {
        let (a, b) = match p.split_once('-') {
            Some((a, b)) => (parse_u64(a)?, parse_u64(b)?),
            None => (parse_u64(p)?, parse_u64(p)?),
        };
        if a > b || b > 65535 {
            return Err(format!(
                "dcerpc.opnum: bad value \"{p}\" (0..65535, a-b with a <= b)"
            ));
        }
        out.push((a, b));
    }
    Ok(out)
}

/// Which instances of a multi-instance buffer must match (multi-integer index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MultiIndex {
    /// At least one instance (the default).
    Any,
    /// Every instance, and there is at least one.
    All,
    /// The instance at this position; negative counts from the end.
    At(i64),
}

/// `dns.rcode` names (RFC 1035, 2136).
const DNS_RCODES: &[(&str, u64)] = &[
    ("noerror", 0),
    ("formerr", 1),
    ("servfail", 2),
    ("nxdomain", 3),
    ("notimp", 4),
    ("refused", 5),
    ("yxdomain", 6),
    ("yxrrset", 7),
    ("nxrrset", 8),
    ("notauth", 9),
    ("notzone", 10),
];

/// `dns.rrtype` names of common record types.
const DNS_RRTYPES: &[(&str, u64)] = &[
    ("a", 1),
    ("ns", 2),
    ("cname", 5),
    ("soa", 6),
    ("null", 10),
    ("ptr", 12),
    ("hinfo", 13),
    ("mx", 15),
    ("txt", 16),
    ("aaaa", 28),
    ("srv", 33),
    ("naptr", 35),
    ("opt", 41),
    ("ds", 43),
    ("sshfp", 44),
    ("rrsig", 46),
    ("nsec", 47),
    ("dnskey", 48),
    ("nsec3", 50),
    ("tlsa", 52),
    ("svcb", 64),
    ("https", 65),
    ("axfr", 252),
    ("any", 255),
    ("caa", 257),
];

/// `mqtt.type` names: MQTT control packet types.
const MQTT_TYPES: &[(&str, u64)] = &[
    ("unassigned", 0),
    ("connect", 1),
    ("connack", 2),
    ("publish", 3),
    ("puback", 4),
    ("pubrec", 5),
    ("pubrel", 6),
    ("pubcomp", 7),
    ("subscribe", 8),
    ("suback", 9),
    ("unsubscribe", 10),
    ("unsuback", 11),
    ("pingreq", 12),
    ("pingresp", 13),
    ("disconnect", 14),
    ("auth", 15),
];

/// `mqtt.flags` names: fixed-header flag bits.
const MQTT_FLAGS: &[(&str, u64)] = &[("dup", 0x08), ("retain", 0x01)];

/// `mqtt.connect.flags` names: CONNECT flag bits (MQTT 3.1.1 3.1.2.3).
const MQTT_CONNECT_FLAGS: &[(&str, u64)] = &[
    ("username", 0x80),
    ("password", 0x40),
    ("will_retain", 0x20),
    ("will", 0x04),
    ("clean_session", 0x02),
];

/// A flags keyword's value: an integer comparison (`mqtt.flags:0`), or a
/// comma-separated list of bit names, each optionally negated with `!`
/// (`!retain,dup`): those bits set or clear, the others ignored.
fn parse_flag_names(keyword: &str, v: &str, names: &[(&str, u64)]) -> Result<UintCmp, String> {
    let v = v.trim();
    if v.starts_with(|c: char| c.is_ascii_digit() || "<>=&".contains(c)) {
        return parse_uint_cmp(v, 255, &[]).map_err(|e| format!("{keyword}: {e}"));
    }
    let (mut mask, mut value) = (0u64, 0u64);
    for item in v.split(',').map(str::trim) {
        let (neg, n) = match item.strip_prefix('!') {
            Some(r) => (true, r.trim()),
            None => (false, item),
        };
        let bit = names
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(n))
            .map(|(_, b)| *b)
            .ok_or_else(|| {
                let known: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
                format!(
                    "{keyword}: unknown flag \"{n}\" (known: {})",
                    known.join(", ")
                )
            })?;
        if mask & bit != 0 {
            return Err(format!("{keyword}: flag \"{n}\" given twice"));
        }
        mask |= bit;
        if !neg {
            value |= bit;
        }
    }
    Ok(UintCmp::Mask {
        mask,
        value,
        ne: false,
    })
}

/// The index part of a multi-integer value (`dns.rrtype:1,all`).
fn parse_multi_index(s: &str) -> Result<MultiIndex, String> {
    let s = s.trim();
    match s {
        "any" => Ok(MultiIndex::Any),
        "all" => Ok(MultiIndex::All),
        "all_or_absent" | "or_absent" | "oob_or" => Err(format!(
            "multi-integer index \"{s}\" is not supported (any, all and positions are)"
        )),
        _ if s.starts_with("nb") || s.contains(':') => Err(format!(
            "multi-integer index \"{s}\" is not supported (any, all and positions are)"
        )),
        _ => parse_i64(s)
            .map(MultiIndex::At)
            .map_err(|_| format!("bad multi-integer index \"{s}\"")),
    }
}

/// Seconds since the epoch of a UTC civil date.
fn epoch_of(y: i64, mo: i64, d: i64, h: i64, mi: i64, sec: i64) -> i64 {
    // Days from 1970-01-01 (proleptic Gregorian), counting years from March.
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + h * 3600 + mi * 60 + sec
}

/// A `tls_cert_notbefore`/`tls_cert_notafter` date: ISO 8601 (`2015`,
/// `2015-10`, `2015-10-22`, `2015-10-22T23:59`, `2015-10-22T23:59:59`, UTC)
/// or, with more than 4 digits, seconds since the epoch.
fn parse_date(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let bad = || format!("bad date \"{s}\" (want YYYY[-MM[-DD[THH:MM[:SS]]]] or epoch seconds)");
    if s.len() > 4 && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<u64>().map_err(|_| bad());
    }
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut dp = date.split('-');
    let field = |t: Option<&str>, lo: i64, hi: i64, default: i64| -> Result<i64, String> {
        match t {
            None => Ok(default),
            Some(t) if !t.is_empty() && t.len() <= 4 && t.bytes().all(|b| b.is_ascii_digit()) => {
                let v: i64 = t.parse().map_err(|_| bad())?;
                if (lo..=hi).contains(&v) {
                    Ok(v)
                } else {
                    Err(bad())
                }
            }
            Some(_) => Err(bad()),
        }
    };
    let y = field(dp.next(), 1970, 9999, 1970)?;
    let mo = field(dp.next(), 1, 12, 1)?;
    let d = field(dp.next(), 1, 31, 1)?;
    if dp.next().is_some() || (date.len() != 4 && date.len() != 7 && date.len() != 10) {
        return Err(bad());
    }
    let (h, mi, sec) = match time {
        None => (0, 0, 0),
        Some(t) => {
            let mut tp = t.split(':');
            let h = field(tp.next(), 0, 23, 0)?;
            let mi = field(Some(tp.next().ok_or_else(bad)?), 0, 59, 0)?;
            let sec = field(tp.next(), 0, 60, 0)?;
            if tp.next().is_some() {
                return Err(bad());
            }
            (h, mi, sec)
        }
    };
    u64::try_from(epoch_of(y, mo, d, h, mi, sec)).map_err(|_| bad())
}

/// `[<|>]date` or `date<>date` (exclusive) of the certificate validity keywords.
fn parse_date_cmp(s: &str) -> Result<NumCmp, String> {
    let s = s.trim();
    if let Some((a, b)) = s.split_once("<>") {
        let (a, b) = (parse_date(a)?, parse_date(b)?);
        if a >= b {
            return Err(format!("bad date range \"{s}\""));
        }
        return Ok(NumCmp::Range(a, b));
    }
    Ok(if let Some(r) = s.strip_prefix('<') {
        NumCmp::Lt(parse_date(r)?)
    } else if let Some(r) = s.strip_prefix('>') {
        NumCmp::Gt(parse_date(r)?)
    } else {
        NumCmp::Eq(parse_date(s.strip_prefix('=').unwrap_or(s))?)
    })
}

/// An integer operand: literal or a `byte_extract`/`byte_math` variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Val {
    Lit(i64),
    Var(u8),
}

/// A content match.
#[derive(Debug, Clone)]
pub(crate) struct Content {
    pub(crate) pat: Vec<u8>,
    pub(crate) nocase: bool,
    pub(crate) negated: bool,
    pub(crate) offset: Option<Val>,
    pub(crate) depth: Option<Val>,
    pub(crate) distance: Option<Val>,
    pub(crate) within: Option<Val>,
    pub(crate) startswith: bool,
    pub(crate) endswith: bool,
    pub(crate) fast_pattern: bool,
}

impl Content {
    /// `pat` anywhere in the buffer, case-sensitive, no modifiers yet.
    fn new(pat: Vec<u8>, negated: bool) -> Content {
        Content {
            pat,
            nocase: false,
            negated,
            offset: None,
            depth: None,
            distance: None,
            within: None,
            startswith: false,
            endswith: false,
            fast_pattern: false,
        }
    }

    pub(crate) fn relative(&self) -> bool {
        self.distance.is_some() || self.within.is_some()
    }
}

/// Compiled regular expression: the `regex` crate's bytes engine where it
/// supports the pattern, `fancy-regex` over a Latin-1 view otherwise.
#[derive(Debug)]
pub(crate) enum Re {
    Bytes {
        src: String,
        compiled: OnceLock<Option<regex::bytes::Regex>>,
    },
    Fancy {
        src: String,
        compiled: OnceLock<Option<Box<FancyRe>>>,
    },
}

/// A pattern `fancy-regex` runs with its backtracking VM.
pub(crate) enum FancyRe {
    /// Anchored at the start of the buffer (`^` without the `m` flag): the
    /// program tries position 0 only. `fancy-regex` wraps every pattern in a
    /// lazy `.*?` to search, which for an anchored pattern costs a VM step
    /// per byte of the buffer before failing; ET Open's relative pcres
    /// (`/^...​/R`) run after each content match, so that cost multiplied.
    Anchored(fancy_regex::internal::Prog),
    /// Any other pattern, searched from every position.
    Search(fancy_regex::Regex),
}

impl std::fmt::Debug for FancyRe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FancyRe::Anchored(_) => "Anchored",
            FancyRe::Search(_) => "Search",
        })
    }
}

/// Compiles an anchored pattern to a program without the search prefix;
/// `None` when the pattern does not start with `^` (start of text).
fn compile_anchored(src: &str) -> Option<fancy_regex::internal::Prog> {
    use fancy_regex::{Assertion, Expr};
    let mut tree = Expr::parse_tree(src).ok()?;
    let anchored = match &tree.expr {
        Expr::Concat(v) => matches!(v.first(), Some(Expr::Assertion(Assertion::StartText))),
        Expr::Assertion(Assertion::StartText) => true,
        _ => false,
    };
    if !anchored {
        return None;
    }
    // Group 0 records the match bounds, as fancy-regex's own wrapper does.
    let inner = std::mem::replace(&mut tree.expr, Expr::Empty);
    tree.expr = Expr::Concat(vec![Expr::Group(Box::new(inner))]);
    let info = fancy_regex::internal::analyze(&tree).ok()?;
    fancy_regex::internal::compile(&info).ok()
}

#[derive(Debug)]
pub(crate) struct Pcre {
    pub(crate) re: Re,
    pub(crate) relative: bool,
    pub(crate) negated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endian {
    Big,
    Little,
}

/// Options shared by the byte_* keywords.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ByteSpec {
    pub(crate) nbytes: u8,
    /// Byte count taken from a `byte_extract` variable (Suricata 7); `nbytes` unused then.
    pub(crate) nbytes_var: Option<u8>,
    pub(crate) offset: Val,
    pub(crate) relative: bool,
    pub(crate) endian: Endian,
    /// `string,<base>`: value written as text in this base.
    pub(crate) string_base: Option<u32>,
    pub(crate) bitmask: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ByteOp {
    Lt,
    Gt,
    Eq,
    Le,
    Ge,
    And,
    Xor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MathOp {
    Add,
    Sub,
    Mul,
    Div,
    Shl,
    Shr,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct JumpSpec {
    pub(crate) multiplier: u32,
    pub(crate) align: bool,
    pub(crate) from_beginning: bool,
    pub(crate) from_end: bool,
    pub(crate) post_offset: i64,
}

/// One step of a buffer's inspection list.
#[derive(Debug)]
pub(crate) enum Item {
    Content(Box<Content>),
    Pcre(Box<Pcre>),
    IsDataAt {
        n: Val,
        relative: bool,
        negated: bool,
    },
    ByteTest {
        spec: ByteSpec,
        op: ByteOp,
        negated: bool,
        value: Val,
    },
    ByteJump {
        spec: ByteSpec,
        jump: JumpSpec,
    },
    ByteExtract {
        spec: ByteSpec,
        multiplier: u32,
        var: u8,
    },
    ByteMath {
        spec: ByteSpec,
        op: MathOp,
        rvalue: Val,
        var: u8,
    },
    Bsize(NumCmp),
    /// An integer keyword on a buffer holding one big-endian unsigned value.
    Uint(UintCmp),
    /// `filemd5` / `filesha1` / `filesha256`: the buffer (a raw digest) is
    /// in the list (not in it, negated).
    HashIn {
        set: Arc<std::collections::HashSet<Vec<u8>>>,
        negated: bool,
    },
    /// `filesize` on a [`BufferId::FileSize`] buffer: a closed file's size is
    /// compared; an open file's only for `>`/`>=` (it can only grow); a
    /// truncated file never matches.
    FileSize(UintCmp),
    /// The value is in one of these inclusive ranges (`dcerpc.opnum:1,5-7`).
    UintSet(Vec<(u64, u64)>),
    /// A `dcerpc.iface` instance: the UUID's 16 bytes, then the version
    /// (2 bytes big-endian) tested against `ver` when given.
    DceIface {
        uuid: [u8; 16],
        ver: Option<UintCmp>,
    },
    Base64Decode {
        bytes: Option<u32>,
        offset: u32,
        relative: bool,
    },
}

impl Item {
    pub(crate) fn relative(&self) -> bool {
        match self {
            Item::Content(c) => c.relative(),
            Item::Pcre(p) => p.relative,
            Item::IsDataAt { relative, .. } => *relative,
            Item::ByteTest { spec, .. }
            | Item::ByteJump { spec, .. }
            | Item::ByteExtract { spec, .. }
            | Item::ByteMath { spec, .. } => spec.relative,
            Item::Base64Decode { relative, .. } => *relative,
            Item::Bsize(_)
            | Item::Uint(_)
            | Item::HashIn { .. }
            | Item::FileSize(_)
            | Item::UintSet(_)
            | Item::DceIface { .. } => false,
        }
    }
}

/// Where a list's bytes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Src {
    /// Packet payload, and/or the reassembled stream.
    Payload,
    /// An app-layer buffer.
    App(BufferId),
    /// The output of the last `base64_decode`.
    Base64,
    /// A packet header, raw (`ipv4.hdr`, `tcp.hdr`, ...).
    Hdr(Hdr),
}

/// Packet headers a rule can inspect as raw bytes, options included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Hdr {
    Ipv4,
    Ipv6,
    Tcp,
    Udp,
    Icmpv4,
    Icmpv6,
}

impl Hdr {
    fn from_name(s: &str) -> Option<Hdr> {
        Some(match s {
            "ipv4.hdr" => Hdr::Ipv4,
            "ipv6.hdr" => Hdr::Ipv6,
            "tcp.hdr" => Hdr::Tcp,
            "udp.hdr" => Hdr::Udp,
            "icmpv4.hdr" => Hdr::Icmpv4,
            "icmpv6.hdr" => Hdr::Icmpv6,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Hdr::Ipv4 => "ipv4.hdr",
            Hdr::Ipv6 => "ipv6.hdr",
            Hdr::Tcp => "tcp.hdr",
            Hdr::Udp => "udp.hdr",
            Hdr::Icmpv4 => "icmpv4.hdr",
            Hdr::Icmpv6 => "icmpv6.hdr",
        }
    }
}

#[derive(Debug)]
pub(crate) struct List {
    pub(crate) src: Src,
    /// `buffer: to_server` / `to_client` in a `=>` rule: only instances from
    /// that side of the transaction (`Some(true)`: to server).
    pub(crate) side: Option<bool>,
    /// `absent`: the list matches when no instance of the buffer exists in
    /// a transaction pass; `Some(true)` (`absent: or_else`): or else when its
    /// items match.
    pub(crate) absent: Option<bool>,
    pub(crate) transforms: Vec<Transform>,
    pub(crate) items: Vec<Item>,
    /// Which instances of a multi-instance buffer must match.
    pub(crate) index: MultiIndex,
}

impl List {
    /// An empty list on `src`: every instance, both sides, no transforms.
    fn new(src: Src) -> List {
        List {
            src,
            side: None,
            absent: None,
            transforms: Vec::new(),
            items: Vec::new(),
            index: MultiIndex::Any,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Any,
    Tcp,
    Udp,
    Icmp,
    Sctp,
    /// ARP frames (no IP layer): addresses are the sender's and the
    /// target's protocol addresses.
    Arp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamSel {
    Both,
    OnlyStream,
    NoStream,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FlowCond {
    pub(crate) to_server: Option<bool>,
    pub(crate) established: Option<bool>,
    pub(crate) stateless: bool,
    pub(crate) stream: StreamSel,
    pub(crate) frag: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagMode {
    /// Exactly these flags (after the mask).
    Exact,
    /// At least these.
    Plus,
    /// Any of these.
    Any,
    /// None of these.
    Not,
}

/// Which protocol `app-layer-protocol` tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AlpSide {
    /// The flow's (`final`, no modifier).
    Flow,
    /// The flow's, or either direction's (`either`).
    Either,
    /// What the client's first bytes showed (`to_server`).
    ToServer,
    /// What the server's first bytes showed (`to_client`).
    ToClient,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamWhich {
    Server,
    Client,
    Both,
    Either,
}

/// Header-field checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PktCheck {
    Dsize(NumCmp),
    Ttl(NumCmp),
    IpProto(NumCmp),
    Ipopts(u32),
    Fragbits {
        mode: FlagMode,
        bits: u8,
    },
    Fragoffset(NumCmp),
    Flags {
        mode: FlagMode,
        bits: u8,
        mask: u8,
    },
    Seq(u32),
    Ack(u32),
    Window(NumCmp),
    TcpMss(NumCmp),
    Itype(NumCmp),
    Icode(NumCmp),
    IcmpId(u16),
    IcmpSeq(u16),
    Id(u32),
    Tos(NumCmp),
    SameIp,
    UriLen {
        cmp: NumCmp,
        raw: bool,
    },
    AppProto {
        proto: AppProto,
        negated: bool,
        side: AlpSide,
    },
    StreamSize {
        which: StreamWhich,
        cmp: NumCmp,
    },
    /// `decode-event`: the decoder raised this event ([`event_id`]) on the packet.
    DecodeEvent(u32),
    /// `app-layer-event` / `stream-event`: the app layer or the TCP stream
    /// raised this event ([`event_id`] of `proto.name` or `stream.name`).
    Event(u32),
    /// `tls_cert_expired` (true) / `tls_cert_valid` (false): the server
    /// certificate's validity against the packet's time.
    CertExpired(bool),
    /// `flow.pkts` (`pkts`) or `flow.bytes` of the flow so far.
    FlowCount {
        pkts: bool,
        side: FlowSide,
        cmp: NumCmp,
    },
    /// `vlan.id`: the packet's VLAN ids, outermost first.
    VlanId {
        cmp: NumCmp,
        layer: VlanLayer,
    },
}

/// Which direction's counter `flow.pkts` / `flow.bytes` test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlowSide {
    ToServer,
    ToClient,
    Either,
    Both,
}

/// Which VLAN id `vlan.id` tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VlanLayer {
    /// Any of them.
    Any,
    /// Every one (and there is at least one).
    All,
    /// One layer: 0 outermost, -1 innermost.
    Index(i8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BitCond {
    IsSet { ids: Vec<u32>, any: bool },
    IsNotSet { ids: Vec<u32>, any: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BitAct {
    Set(u32),
    Unset(u32),
    Toggle(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntCond {
    IsSet(u32),
    NotSet(u32),
    Cmp {
        id: u32,
        op: ByteOp,
        ne: bool,
        value: i64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntAct {
    Set(u32, i64),
    Add(u32, i64),
    Sub(u32, i64),
}

/// What an `xbits` keyword keys its bit on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum XTrack {
    Src,
    Dst,
    Pair,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum XOp {
    IsSet,
    IsNotSet,
    Set,
    Unset,
    Toggle,
}

/// One `xbits` keyword: a bit keyed by host or host pair instead of flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Xbit {
    pub(crate) op: XOp,
    pub(crate) id: u32,
    pub(crate) track: XTrack,
    /// Seconds the bit lives after a set (0: until unset).
    pub(crate) expire: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThreshKind {
    Limit,
    Threshold,
    Both,
    DetectionFilter,
    /// Exponential: alert on hit `count * multiplier^k`.
    Backoff(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Track {
    Source,
    Destination,
    Rule,
    Pair,
    Flow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Threshold {
    pub(crate) kind: ThreshKind,
    pub(crate) track: Track,
    pub(crate) count: u64,
    pub(crate) seconds: u64,
    /// `detection_filter` `unique_on`: count distinct values of this port
    /// instead of hits.
    pub(crate) unique_on: Option<UniqueOn>,
}

/// What `detection_filter: ..., unique_on <field>` counts distinct values of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UniqueOn {
    SrcPort,
    DstPort,
}

/// A compiled rule.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) meta: Arc<RuleMeta>,
    pub(crate) transport: Transport,
    pub(crate) app: Option<(AppProto, bool)>,
    pub(crate) src: Arc<AddrSet>,
    pub(crate) sport: Arc<PortSet>,
    pub(crate) dst: Arc<AddrSet>,
    pub(crate) dport: Arc<PortSet>,
    pub(crate) bidir: bool,
    /// `=>` (transactional bidirectional): the rule's buffers may come from
    /// both sides of one transaction; its addresses are client -> server.
    pub(crate) txbidir: bool,
    pub(crate) flow: FlowCond,
    pub(crate) checks: Vec<PktCheck>,
    pub(crate) lists: Vec<List>,
    pub(crate) bit_conds: Vec<BitCond>,
    pub(crate) bit_acts: Vec<BitAct>,
    pub(crate) int_conds: Vec<IntCond>,
    pub(crate) int_acts: Vec<IntAct>,
    pub(crate) xbits: Vec<Xbit>,
    pub(crate) threshold: Option<Threshold>,
    pub(crate) detection_filter: Option<Threshold>,
    pub(crate) nvars: u8,
    /// Keywords accepted but without effect on matching (`tag`).
    pub(crate) ignored: Vec<&'static str>,
    /// Protocol-detection-only rule: `app-layer-protocol` is all it tests
    /// (besides addresses, ports and `flow`), so it matches only on the
    /// packet with which a protocol was detected, not on every later one.
    pub(crate) pd_only: bool,
    /// `proto:flow_start` hook: only the first packet of each direction of a flow.
    pub(crate) flow_start: bool,
}

impl Rule {
    /// App-layer buffers this rule needs from the sensor.
    pub(crate) fn needed_buffers(&self) -> Vec<BufferId> {
        let mut v: Vec<BufferId> = self
            .lists
            .iter()
            .filter_map(|l| match l.src {
                Src::App(b) => Some(b),
                _ => None,
            })
            .collect();
        for c in &self.checks {
            if let PktCheck::UriLen { raw, .. } = c {
                v.push(if *raw {
                    BufferId::HttpUriRaw
                } else {
                    BufferId::HttpUri
                });
            }
            if let PktCheck::CertExpired(_) = c {
                v.push(BufferId::TlsCertNotBefore);
                v.push(BufferId::TlsCertNotAfter);
            }
        }
        v.sort();
        v.dedup();
        v
    }

    /// An event (decoder, app-layer or stream) the rule requires, if any.
    pub(crate) fn event(&self) -> Option<u32> {
        self.checks.iter().find_map(|c| match c {
            PktCheck::DecodeEvent(id) | PktCheck::Event(id) => Some(*id),
            _ => None,
        })
    }

    /// (list index, pattern, nocase) chosen for the prefilter.
    pub(crate) fn fast_pattern(&self) -> Option<(usize, &[u8])> {
        let mut best: Option<(usize, &Content)> = None;
        for (li, l) in self.lists.iter().enumerate() {
            // A buffer that may be absent cannot gate the rule.
            if l.src == Src::Base64 || l.absent.is_some() {
                continue;
            }
            for it in &l.items {
                if let Item::Content(c) = it {
                    if c.negated {
                        continue;
                    }
                    if c.fast_pattern {
                        return Some((li, &c.pat));
                    }
                    if best.is_none_or(|(_, b)| c.pat.len() > b.pat.len()) {
                        best = Some((li, c));
                    }
                }
            }
        }
        best.map(|(li, c)| (li, c.pat.as_slice()))
    }
}

/// Tables shared by all rules of one engine: flowbit/flowint ids, interned
/// strings and resolved address/port expressions (most rules share a few).
#[derive(Debug, Default)]
pub(crate) struct Names {
    pub(crate) bits: HashMap<String, u32>,
    pub(crate) ints: HashMap<String, u32>,
    xbits: HashMap<String, u32>,
    strings: std::collections::HashSet<Arc<str>>,
    addrs: HashMap<String, Arc<AddrSet>>,
    ports: HashMap<String, Arc<PortSet>>,
}

impl Names {
    /// Forgets resolved expressions (after a variable changed).
    pub(crate) fn clear_exprs(&mut self) {
        self.addrs.clear();
        self.ports.clear();
    }

    fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.strings.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.strings.insert(a.clone());
        a
    }

    fn addr(&mut self, expr: &str, vars: &Vars) -> Result<Arc<AddrSet>, String> {
        if let Some(a) = self.addrs.get(expr) {
            return Ok(a.clone());
        }
        let a = Arc::new(parse_addr(expr, vars)?);
        self.addrs.insert(expr.to_string(), a.clone());
        Ok(a)
    }

    fn ports(&mut self, expr: &str, vars: &Vars) -> Result<Arc<PortSet>, String> {
        if let Some(p) = self.ports.get(expr) {
            return Ok(p.clone());
        }
        let p = Arc::new(parse_ports(expr, vars)?);
        self.ports.insert(expr.to_string(), p.clone());
        Ok(p)
    }

    fn bit(&mut self, n: &str) -> u32 {
        let next = self.bits.len() as u32;
        *self.bits.entry(n.to_string()).or_insert(next)
    }
    fn xbit(&mut self, n: &str) -> u32 {
        let next = self.xbits.len() as u32;
        *self.xbits.entry(n.to_string()).or_insert(next)
    }

    fn int(&mut self, n: &str) -> u32 {
        let next = self.ints.len() as u32;
        *self.ints.entry(n.to_string()).or_insert(next)
    }
}

/// Why a rule did not load, with its sid when it could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleError {
    pub(crate) sid: Option<u32>,
    pub(crate) reason: String,
}

pub(crate) struct CompileCtx<'a> {
    pub(crate) vars: &'a Vars,
    pub(crate) classes: &'a Classifications,
    pub(crate) names: &'a mut Names,
    pub(crate) origin: Arc<str>,
    /// Ids of the decoder events the sensor raises ([`event_id`]); empty: any.
    pub(crate) decode_events: &'a std::collections::HashSet<u32>,
    /// App-layer and stream events the sensor raises; empty: any.
    pub(crate) app_events: &'a KnownEvents,
}

/// App-layer and stream event names a sensor raises (`http.gap`,
/// `stream.reassembly_seq_gap`), so that rules naming others are rejected.
#[derive(Debug, Default)]
pub(crate) struct KnownEvents {
    pub(crate) ids: std::collections::HashSet<u32>,
    /// The part before the dot of every name (`http`, `stream`).
    pub(crate) protos: std::collections::HashSet<String>,
}

impl KnownEvents {
    /// Checks `name` (`proto.event`); the error says which component does not raise it.
    fn check(&self, keyword: &str, name: &str) -> Result<u32, String> {
        let id = event_id(name);
        if self.ids.is_empty() || self.ids.contains(&id) {
            return Ok(id);
        }
        let (proto, _) = name.split_once('.').unwrap_or((name, ""));
        let who = match proto {
            "stream" => "TCP stream tracking".to_string(),
            "applayer" => "app-layer protocol detection".to_string(),
            "http2" => "HTTP/2 parser".to_string(),
            p => format!("{} parser", p.to_ascii_uppercase()),
        };
        if self.protos.contains(proto) {
            Err(format!(
                "{keyword}: vigie's {who} does not raise \"{name}\""
            ))
        } else {
            Err(format!(
                "{keyword}: vigie has no {who} raising events (\"{name}\")"
            ))
        }
    }
}

/// Id of a decoder event name (`ipv4.trunc_pkt`, case-insensitive): how
/// `decode-event` rules and the sensor's packets name events.
pub fn event_id(name: &str) -> u32 {
    // FNV-1a, 32 bits.
    name.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b.to_ascii_lowercase())).wrapping_mul(0x0100_0193)
    })
}

/// Finds `sid:N` in raw text, for error reports on rules that fail early.
pub(crate) fn scan_sid(text: &str) -> Option<u32> {
    let mut rest = text;
    while let Some(i) = rest.find("sid") {
        let before = rest[..i].chars().next_back();
        let after = rest[i + 3..].trim_start();
        if matches!(
            before,
            None | Some(' ') | Some(';') | Some('(') | Some('\t')
        ) {
            if let Some(v) = after.strip_prefix(':') {
                let d: String = v
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_ascii_digit())
                    .collect();
                if let Ok(n) = d.parse() {
                    return Some(n);
                }
            }
        }
        rest = &rest[i + 3..];
    }
    None
}

const MAX_VARS: usize = 8;

/// Longest accepted rule (Suricata's own limit is 8 KiB; ET's longest is ~3.3 KiB).
const MAX_RULE_LEN: usize = 64 * 1024;

struct Builder<'c, 'a> {
    ctx: &'c mut CompileCtx<'a>,
    rule: Rule,
    /// Index into `rule.lists` of the current sticky buffer.
    cur: usize,
    /// Last content item, which content modifiers apply to: (list, item).
    last: Option<(usize, usize)>,
    vars: Vec<String>,
    priority: Option<u8>,
    sid: Option<u32>,
}

/// Parses and compiles one logical rule line.
pub(crate) fn compile_rule(
    text: &str,
    line: usize,
    ctx: &mut CompileCtx<'_>,
) -> Result<Rule, RuleError> {
    let sid_hint = scan_sid(text);
    let err = |reason: String| RuleError {
        sid: sid_hint,
        reason,
    };
    if text.len() > MAX_RULE_LEN {
        return Err(err(format!(
            "rule is {} bytes long, more than {MAX_RULE_LEN}",
            text.len()
        )));
    }
    let raw = split_rule(text).map_err(err)?;
    let action = Action::from_name(raw.action)
        .ok_or_else(|| err(format!("unknown action \"{}\"", raw.action)))?;
    let (proto, flow_start) = parse_hook(raw.proto).map_err(err)?;
    let (transport, app, stream_override) = parse_proto(proto).map_err(err)?;
    // `=>`: one transaction, request and response sides together.
    let txbidir = raw.dir == "=>";
    let bidir = match raw.dir {
        "->" | "=>" => false,
        "<>" => true,
        "<-" => {
            return Err(err(
                "direction \"<-\" is not supported; write the rule with \"->\"".into(),
            ))
        }
        d => return Err(err(format!("bad direction \"{d}\""))),
    };
    let src = ctx
        .names
        .addr(raw.src, ctx.vars)
        .map_err(|e| err(format!("source address: {e}")))?;
    let sport = ctx
        .names
        .ports(raw.sport, ctx.vars)
        .map_err(|e| err(format!("source port: {e}")))?;
    let dst = ctx
        .names
        .addr(raw.dst, ctx.vars)
        .map_err(|e| err(format!("destination address: {e}")))?;
    let dport = ctx
        .names
        .ports(raw.dport, ctx.vars)
        .map_err(|e| err(format!("destination port: {e}")))?;
    let opts = split_options(raw.options).map_err(err)?;
    let meta = RuleMeta {
        action,
        gid: 1,
        sid: 0,
        rev: 0,
        msg: String::new(),
        classtype: None,
        category: None,
        severity: 3,
        metadata: Box::new([]),
        references: Vec::new(),
        target: None,
        noalert: false,
        origin: ctx.origin.clone(),
        line,
    };
    let rule = Rule {
        meta: Arc::new(meta),
        transport,
        app,
        src,
        sport,
        dst,
        dport,
        bidir,
        txbidir,
        flow: FlowCond {
            to_server: None,
            established: None,
            stateless: false,
            stream: stream_override,
            frag: None,
        },
        checks: Vec::new(),
        lists: vec![List::new(Src::Payload)],
        bit_conds: Vec::new(),
        bit_acts: Vec::new(),
        int_conds: Vec::new(),
        int_acts: Vec::new(),
        xbits: Vec::new(),
        threshold: None,
        detection_filter: None,
        nvars: 0,
        ignored: Vec::new(),
        pd_only: false,
        flow_start,
    };
    let mut meta_tmp = (*rule.meta).clone();
    let mut b = Builder {
        ctx,
        rule,
        cur: 0,
        last: None,
        vars: Vec::new(),
        priority: None,
        sid: None,
    };
    for (name, value) in opts {
        b.option(name, value, &mut meta_tmp)
            .map_err(|reason| RuleError {
                sid: b.sid.or(sid_hint),
                reason,
            })?;
    }
    let sid = b.sid.ok_or_else(|| err("rule has no sid".into()))?;
    meta_tmp.sid = sid;
    if let Some(p) = b.priority {
        meta_tmp.severity = p;
    }
    b.finish(&mut meta_tmp).map_err(|reason| RuleError {
        sid: Some(sid),
        reason,
    })?;
    let mut rule = b.rule;
    rule.meta = Arc::new(meta_tmp);
    rule.pd_only = rule.app.is_none()
        && rule.lists.iter().all(|l| l.items.is_empty())
        && rule.bit_conds.is_empty()
        && rule.int_conds.is_empty()
        && !rule.checks.is_empty()
        && rule
            .checks
            .iter()
            .all(|c| matches!(c, PktCheck::AppProto { .. }));
    Ok(rule)
}

/// Splits a packet-layer rule hook off the protocol (`tcp:flow_start`):
/// `flow_start` (first packet each way) and `all` (every packet) are
/// evaluated; the firewall-only and app-layer hooks are refused by name.
fn parse_hook(p: &str) -> Result<(&str, bool), String> {
    match p.split_once(':') {
        None => Ok((p, false)),
        Some((proto, "flow_start")) => Ok((proto, true)),
        Some((proto, "all")) => Ok((proto, false)),
        Some((_, hook)) => Err(format!(
            "rule hook \"{hook}\" is not supported (packet hooks flow_start and all are)"
        )),
    }
}

/// Transport, app protocol (with "http means any HTTP version"), stream selection.
type ProtoSpec = (Transport, Option<(AppProto, bool)>, StreamSel);

fn parse_proto(p: &str) -> Result<ProtoSpec, String> {
    let lower = p.to_ascii_lowercase();
    Ok(match lower.as_str() {
        "ip" | "pkt" | "ipv4" | "ipv6" | "ip4" | "ip6" | "pkthdr" => {
            (Transport::Any, None, StreamSel::Both)
        }
        "tcp" => (Transport::Tcp, None, StreamSel::Both),
        "tcp-pkt" => (Transport::Tcp, None, StreamSel::NoStream),
        "tcp-stream" => (Transport::Tcp, None, StreamSel::OnlyStream),
        "udp" => (Transport::Udp, None, StreamSel::Both),
        "icmp" | "icmpv4" | "icmpv6" => (Transport::Icmp, None, StreamSel::Both),
        "sctp" => (Transport::Sctp, None, StreamSel::Both),
        "arp" => (Transport::Arp, None, StreamSel::Both),
        "http" => (
            Transport::Any,
            Some((AppProto::Http1, true)),
            StreamSel::Both,
        ),
        other => match AppProto::from_name(other) {
            Some(a) if !matches!(a, AppProto::Unknown | AppProto::Failed) => {
                (Transport::Any, Some((a, false)), StreamSel::Both)
            }
            _ => return Err(format!("unsupported protocol \"{p}\"")),
        },
    })
}

fn need<'v>(name: &str, v: Option<&'v str>) -> Result<&'v str, String> {
    match v {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(format!("keyword \"{name}\" needs a value")),
    }
}

fn no_value(name: &str, v: Option<&str>) -> Result<(), String> {
    match v {
        None => Ok(()),
        Some(x) => Err(format!("keyword \"{name}\" takes no value (got \"{x}\")")),
    }
}

/// `filestore` takes nothing or `<direction>,<scope>`.
fn check_filestore(value: Option<&str>) -> Result<(), String> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(());
    };
    let mut parts = v.split(',').map(str::trim);
    let dir = parts.next().unwrap_or_default();
    if !matches!(
        dir,
        "request" | "response" | "both" | "to_server" | "to_client"
    ) {
        return Err(format!(
            "filestore: bad direction \"{dir}\" (request, response, both, to_server, to_client)"
        ));
    }
    if let Some(scope) = parts.next() {
        if !matches!(scope, "file" | "tx" | "ssn" | "flow") {
            return Err(format!(
                "filestore: bad scope \"{scope}\" (file, tx, ssn, flow)"
            ));
        }
    }
    if let Some(extra) = parts.next() {
        return Err(format!("filestore: unexpected \"{extra}\""));
    }
    Ok(())
}

/// A file named by a rule, relative to the rules file's folder when the
/// rules came from a file (else to the working directory).
fn rules_relative(origin: &str, file: &str) -> std::path::PathBuf {
    let f = std::path::Path::new(file);
    if f.is_absolute() {
        return f.to_path_buf();
    }
    let o = std::path::Path::new(origin);
    match o.parent() {
        Some(dir) if o.is_file() => dir.join(f),
        _ => f.to_path_buf(),
    }
}

/// Digests of `len` bytes, one per line as hex (what `md5sum` prints: text
/// after the digest is ignored); `#` comments and blank lines skipped.
/// Error: (line number, reason).
pub(crate) fn parse_hash_list(
    text: &str,
    len: usize,
) -> Result<std::collections::HashSet<Vec<u8>>, (usize, String)> {
    let mut set = std::collections::HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let hex = line.split_whitespace().next().unwrap_or_default();
        if hex.len() != len * 2 {
            return Err((
                i + 1,
                format!("\"{hex}\" is not a {}-hex-digit digest", len * 2),
            ));
        }
        let mut d = Vec::with_capacity(len);
        for k in (0..hex.len()).step_by(2) {
            let byte = hex
                .get(k..k + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| (i + 1, format!("\"{hex}\" is not hexadecimal")))?;
            d.push(byte);
        }
        set.insert(d);
    }
    Ok(set)
}

/// Keywords Suricata has that this engine recognises but cannot evaluate.
const UNSUPPORTED: &[&str] = &[
    "asn1",
    "ftpbounce",
    "ssl_version",
    "ssl_state",
    "tls.version",
    "engine-event",
    "iprep",
    "dataset",
    "datarep",
    "lua",
    "luajit",
    "replace",
    "geoip",
    "to_md5",
    "to_sha1",
    "to_sha256",
    "strip_pseudo_headers",
    "rpc",
    "fragbits_ext",
    "http2.header",
    "quic.sni",
    "krb5_cname",
    "krb5_sname",
    "snmp.community",
    "mqtt.topic",
    "ike.vendor",
    "tcp.flags_ext",
    "dnp3_func",
    "dnp3_ind",
    "dnp3_obj",
    "dnp3_data",
    "modbus",
    "enip_command",
    "cip_service",
    "base64_decode_ext",
    "transform_xor",
    "bypass",
    "config",
];

impl Builder<'_, '_> {
    fn list_for(&mut self, src: Src) -> usize {
        if let Some(i) = self
            .rule
            .lists
            .iter()
            .position(|l| l.src == src && l.transforms.is_empty() && l.side.is_none())
        {
            return i;
        }
        self.rule.lists.push(List::new(src));
        self.rule.lists.len() - 1
    }

    /// `frame:proto.name` or `frame:name` (the rule's protocol): the frame's
    /// bytes become the sticky buffer, and the rule's protocol the frame's.
    fn frame(&mut self, v: &str) -> Result<(), String> {
        let rule_proto = self.rule.app.map(|(a, _)| a.name());
        let (proto, frame) = match v.split_once('.') {
            Some((p, rest)) if AppProto::from_name(p).is_some() => (p, rest),
            _ => match rule_proto {
                Some(p) => (p, v),
                None => {
                    return Err(format!(
                        "frame: \"{v}\" names no protocol and the rule has none (write frame:proto.{v})"
                    ))
                }
            },
        };
        let Some(app) = AppProto::from_name(proto) else {
            return Err(format!("frame: unknown protocol \"{proto}\""));
        };
        if !BufferId::FRAMED_PROTOCOLS.contains(&app.name()) {
            return Err(format!(
                "frame: vigie marks no frames for protocol \"{proto}\" (it frames {})",
                BufferId::FRAMED_PROTOCOLS.join(", ")
            ));
        }
        let b = BufferId::frame(app.name(), frame).ok_or_else(|| {
            let known: Vec<&str> = BufferId::ALL
                .iter()
                .filter_map(|b| b.name().strip_prefix("frame:"))
                .filter_map(|n| n.strip_prefix(app.name())?.strip_prefix('.'))
                .collect();
            format!(
                "frame: unknown frame type \"{frame}\" for {} (known: {})",
                app.name(),
                known.join(", ")
            )
        })?;
        match self.rule.app {
            None => self.rule.app = Some((app, false)),
            Some((a, _)) if a == app => {}
            Some((a, _)) => {
                return Err(format!(
                    "frame: {v} is a {} frame but the rule is for {}",
                    app.name(),
                    a.name()
                ))
            }
        }
        self.sticky(Src::App(b));
        Ok(())
    }

    fn sticky(&mut self, src: Src) {
        self.cur = self.list_for(src);
    }

    fn push(&mut self, item: Item) {
        let is_content = matches!(item, Item::Content(_));
        self.rule.lists[self.cur].items.push(item);
        if is_content {
            self.last = Some((self.cur, self.rule.lists[self.cur].items.len() - 1));
        }
    }

    fn last_content(&mut self, kw: &str) -> Result<&mut Content, String> {
        let (l, i) = self
            .last
            .ok_or_else(|| format!("\"{kw}\" needs a preceding content"))?;
        match self.rule.lists.get_mut(l).and_then(|l| l.items.get_mut(i)) {
            Some(Item::Content(c)) => Ok(c),
            _ => Err(format!("\"{kw}\" needs a preceding content")),
        }
    }

    fn val(&self, s: &str) -> Result<Val, String> {
        let s = s.trim();
        if s.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
            return parse_i64(s).map(Val::Lit);
        }
        match self.vars.iter().position(|v| v == s) {
            Some(i) => Ok(Val::Var(i as u8)),
            None => Err(format!("unknown byte variable \"{s}\"")),
        }
    }

    fn new_var(&mut self, name: &str) -> Result<u8, String> {
        let name = name.trim();
        if let Some(i) = self.vars.iter().position(|v| v == name) {
            return Ok(i as u8);
        }
        if self.vars.len() >= MAX_VARS {
            return Err(format!("too many byte variables (max {MAX_VARS})"));
        }
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!("bad byte variable name \"{name}\""));
        }
        self.vars.push(name.to_string());
        self.rule.nvars = self.vars.len() as u8;
        Ok((self.vars.len() - 1) as u8)
    }

    fn option(
        &mut self,
        name: &str,
        value: Option<&str>,
        meta: &mut RuleMeta,
    ) -> Result<(), String> {
        match name {
            "msg" => meta.msg = unescape(strip_quotes(need(name, value)?)),
            "sid" => {
                let v = need(name, value)?;
                let n = v
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| format!("bad sid \"{v}\""))?;
                if n == 0 {
                    return Err("sid must not be 0".into());
                }
                self.sid = Some(n);
            }
            "rev" => {
                meta.rev = need(name, value)?
                    .trim()
                    .parse()
                    .map_err(|_| "bad rev".to_string())?
            }
            "gid" => {
                meta.gid = need(name, value)?
                    .trim()
                    .parse()
                    .map_err(|_| "bad gid".to_string())?
            }
            "classtype" => {
                let c = need(name, value)?.trim();
                let (desc, prio) = self
                    .ctx
                    .classes
                    .get(c)
                    .ok_or_else(|| format!("unknown classtype \"{c}\""))?;
                meta.classtype = Some(c.to_string());
                meta.category = Some(desc);
                meta.severity = prio;
            }
            "priority" => {
                let p = need(name, value)?
                    .trim()
                    .parse::<u8>()
                    .map_err(|_| "bad priority".to_string())?;
                if p == 0 {
                    return Err("priority must be 1-255".into());
                }
                self.priority = Some(p);
            }
            "metadata" => {
                let mut md: Vec<(Arc<str>, Arc<str>)> =
                    std::mem::take(&mut meta.metadata).into_vec();
                for kv in need(name, value)?.split(',') {
                    let kv = kv.trim();
                    if kv.is_empty() {
                        continue;
                    }
                    let (k, v) = kv
                        .split_once(' ')
                        .map(|(k, v)| (k.trim(), v.trim()))
                        .unwrap_or((kv, ""));
                    md.push((self.ctx.names.intern(k), self.ctx.names.intern(v)));
                }
                meta.metadata = md.into_boxed_slice();
            }
            "reference" => meta.references.push(need(name, value)?.to_string()),
            "target" => {
                let t = need(name, value)?.trim();
                if t != "src_ip" && t != "dest_ip" {
                    return Err(format!("bad target \"{t}\""));
                }
                meta.target = Some(t.to_string());
            }
            "noalert" => {
                no_value(name, value)?;
                meta.noalert = true;
            }
            "tag" => self.rule.ignored.push("tag"),
            "prefilter" => {}
            "absent" => {
                let or_else = match value.map(str::trim) {
                    None => false,
                    Some("or_else") => true,
                    Some(v) => return Err(format!("absent: unknown option \"{v}\" (or_else)")),
                };
                let l = &mut self.rule.lists[self.cur];
                if !matches!(l.src, Src::App(_)) {
                    return Err(format!(
                        "absent needs an app-layer buffer, not {}",
                        src_name(l.src)
                    ));
                }
                if !or_else && !l.items.is_empty() {
                    return Err(
                        "absent: the buffer already has matches (use absent: or_else)".into(),
                    );
                }
                l.absent = Some(or_else);
            }
            "requires" => {}
            "content" | "uricontent" => {
                let (negated, pat) = parse_content(need(name, value)?)?;
                let c = Content::new(pat, negated);
                if name == "uricontent" {
                    let l = self.list_for(Src::App(BufferId::HttpUri));
                    self.rule.lists[l].items.push(Item::Content(Box::new(c)));
                    self.last = Some((l, self.rule.lists[l].items.len() - 1));
                } else {
                    self.push(Item::Content(Box::new(c)));
                }
            }
            "nocase" => {
                no_value(name, value)?;
                self.last_content(name)?.nocase = true;
            }
            "rawbytes" => {
                self.last_content(name)?;
            }
            "fast_pattern" => {
                // On a negated content it can't select packets: the rule then
                // picks another pattern or is evaluated without prefilter.
                let c = self.last_content(name)?;
                c.fast_pattern = !c.negated;
            }
            "offset" | "depth" | "distance" | "within" => {
                let v = need(name, value)?;
                let val = self.val(v)?;
                let c = self.last_content(name)?;
                if let Val::Lit(n) = val {
                    if name != "distance" && n < 0 {
                        return Err(format!("negative {name}"));
                    }
                    if (name == "depth" || name == "within") && (n as usize) < c.pat.len() {
                        return Err(format!(
                            "{name} {n} is smaller than the content length {}",
                            c.pat.len()
                        ));
                    }
                }
                let slot = match name {
                    "offset" => &mut c.offset,
                    "depth" => &mut c.depth,
                    "distance" => &mut c.distance,
                    _ => &mut c.within,
                };
                *slot = Some(val);
                if (c.offset.is_some() || c.depth.is_some() || c.startswith) && c.relative() {
                    return Err(format!("can't mix relative (distance/within) and absolute (offset/depth) modifiers on content \"{}\"", String::from_utf8_lossy(&c.pat)));
                }
            }
            "startswith" => {
                no_value(name, value)?;
                let c = self.last_content(name)?;
                if c.relative() || c.offset.is_some() || c.depth.is_some() {
                    return Err(
                        "startswith can't be combined with offset/depth/distance/within".into(),
                    );
                }
                c.startswith = true;
            }
            "endswith" => {
                no_value(name, value)?;
                self.last_content(name)?.endswith = true;
            }
            "isdataat" => {
                let v = need(name, value)?;
                let mut parts = v.split(',').map(str::trim);
                let first = parts.next().unwrap_or("");
                let (negated, n) = match first.strip_prefix('!') {
                    Some(r) => (true, r.trim()),
                    None => (false, first),
                };
                let n = self.val(n)?;
                let mut relative = false;
                for p in parts {
                    match p {
                        "relative" => relative = true,
                        "rawbytes" => {}
                        o => return Err(format!("isdataat: unknown option \"{o}\"")),
                    }
                }
                self.push(Item::IsDataAt {
                    n,
                    relative,
                    negated,
                });
            }
            "pcre" => self.pcre(need(name, value)?)?,
            "byte_test" => self.byte_test(need(name, value)?)?,
            "byte_jump" => self.byte_jump(need(name, value)?)?,
            "byte_extract" => self.byte_extract(need(name, value)?)?,
            "byte_math" => self.byte_math(need(name, value)?)?,
            "bsize" => {
                let c = parse_num_cmp(need(name, value)?, u32::MAX as u64)?;
                self.push(Item::Bsize(c));
            }
            "base64_decode" => {
                let mut bytes = None;
                let mut offset = 0;
                let mut relative = false;
                if let Some(v) = value {
                    for p in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                        let (k, a) = p
                            .split_once(' ')
                            .map(|(k, a)| (k.trim(), a.trim()))
                            .unwrap_or((p, ""));
                        match k {
                            "bytes" => {
                                bytes = Some(
                                    a.parse()
                                        .map_err(|_| format!("base64_decode: bad bytes \"{a}\""))?,
                                )
                            }
                            "offset" => {
                                offset = a
                                    .parse()
                                    .map_err(|_| format!("base64_decode: bad offset \"{a}\""))?
                            }
                            "relative" => relative = true,
                            o => return Err(format!("base64_decode: unknown option \"{o}\"")),
                        }
                    }
                }
                self.push(Item::Base64Decode {
                    bytes,
                    offset,
                    relative,
                });
            }
            "base64_data" => {
                no_value(name, value)?;
                self.rule.lists.push(List::new(Src::Base64));
                self.cur = self.rule.lists.len() - 1;
            }
            "pkt_data" => {
                no_value(name, value)?;
                self.sticky(Src::Payload);
            }
            "flow" => self.flow(need(name, value)?)?,
            "flowbits" => self.flowbits(need(name, value)?, meta)?,
            "flowint" => self.flowint(need(name, value)?)?,
            "xbits" => self.xbits(need(name, value)?, meta)?,
            "hostbits" => self.hostbits(need(name, value)?, meta)?,
            "threshold" | "detection_filter" => {
                let t = parse_threshold(need(name, value)?, name == "detection_filter")?;
                if name == "threshold" {
                    self.rule.threshold = Some(t);
                } else {
                    self.rule.detection_filter = Some(t);
                }
            }
            "dsize" => self.check(PktCheck::Dsize(parse_num_cmp(need(name, value)?, 65535)?)),
            "ttl" => self.check(PktCheck::Ttl(parse_num_cmp(need(name, value)?, 255)?)),
            "tos" => self.check(PktCheck::Tos(parse_num_cmp(need(name, value)?, 255)?)),
            "ip_proto" => {
                let v = need(name, value)?.trim();
                let (neg, body) = match v.strip_prefix('!') {
                    Some(r) => (true, r.trim()),
                    None => (false, v),
                };
                let (op, body) = if let Some(r) = body.strip_prefix('<') {
                    ('<', r)
                } else if let Some(r) = body.strip_prefix('>') {
                    ('>', r)
                } else {
                    ('=', body)
                };
                let n = match body.parse::<u8>() {
                    Ok(n) => n,
                    Err(_) => ip_proto_number(body)
                        .ok_or_else(|| format!("ip_proto: unknown protocol \"{body}\""))?,
                } as u64;
                let cmp = match (neg, op) {
                    (true, _) => NumCmp::Ne(n),
                    (false, '<') => NumCmp::Lt(n),
                    (false, '>') => NumCmp::Gt(n),
                    _ => NumCmp::Eq(n),
                };
                self.check(PktCheck::IpProto(cmp));
            }
            "ipopts" => {
                let v = need(name, value)?.trim();
                let bit = match v {
                    "rr" => super::input::IPOPT_RR,
                    "eol" => super::input::IPOPT_EOL,
                    "nop" => super::input::IPOPT_NOP,
                    "ts" => super::input::IPOPT_TS,
                    "sec" => super::input::IPOPT_SEC,
                    "esec" => super::input::IPOPT_ESEC,
                    "lsrr" | "lsrre" => super::input::IPOPT_LSRR,
                    "ssrr" => super::input::IPOPT_SSRR,
                    "satid" => super::input::IPOPT_SATID,
                    "any" => u32::MAX,
                    o => return Err(format!("ipopts: unknown option \"{o}\"")),
                };
                self.check(PktCheck::Ipopts(bit));
            }
            "fragbits" => {
                let (mode, bits, _) = parse_flags(need(name, value)?, "MDR", &[0x01, 0x02, 0x04])?;
                self.check(PktCheck::Fragbits { mode, bits });
            }
            "fragoffset" => self.check(PktCheck::Fragoffset(parse_num_cmp(
                need(name, value)?,
                8191,
            )?)),
            "flags" | "tcp.flags" => {
                let (mode, bits, mask) = parse_flags(
                    need(name, value)?,
                    "FSRPAUCE",
                    &[0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x80, 0x40],
                )?;
                self.check(PktCheck::Flags { mode, bits, mask });
            }
            "seq" => self
                .check(PktCheck::Seq(parse_u64(need(name, value)?).and_then(
                    |v| u32::try_from(v).map_err(|_| "seq out of range".into()),
                )?)),
            "ack" => self
                .check(PktCheck::Ack(parse_u64(need(name, value)?).and_then(
                    |v| u32::try_from(v).map_err(|_| "ack out of range".into()),
                )?)),
            "window" => {
                let v = need(name, value)?.trim();
                let c = match v.strip_prefix('!') {
                    Some(r) => NumCmp::Ne(parse_num_cmp(r, 65535).and_then(eq_only)?),
                    None => NumCmp::Eq(parse_num_cmp(v, 65535).and_then(eq_only)?),
                };
                self.check(PktCheck::Window(c));
            }
            "tcp.mss" => self.check(PktCheck::TcpMss(parse_num_cmp(need(name, value)?, 65535)?)),
            "itype" => self.check(PktCheck::Itype(parse_num_cmp(need(name, value)?, 255)?)),
            "icode" => self.check(PktCheck::Icode(parse_num_cmp(need(name, value)?, 255)?)),
            "icmp_id" => self.check(PktCheck::IcmpId(
                need(name, value)?
                    .trim()
                    .parse()
                    .map_err(|_| "bad icmp_id".to_string())?,
            )),
            "icmp_seq" => self.check(PktCheck::IcmpSeq(
                need(name, value)?
                    .trim()
                    .parse()
                    .map_err(|_| "bad icmp_seq".to_string())?,
            )),
            "id" => self.check(PktCheck::Id(
                need(name, value)?
                    .trim()
                    .parse()
                    .map_err(|_| "bad id".to_string())?,
            )),
            "sameip" => {
                no_value(name, value)?;
                self.check(PktCheck::SameIp);
            }
            "urilen" => {
                let v = need(name, value)?;
                let (cmp_s, raw) = match v.split_once(',') {
                    Some((c, m)) => match m.trim() {
                        "raw" => (c, true),
                        "norm" => (c, false),
                        o => return Err(format!("urilen: unknown modifier \"{o}\"")),
                    },
                    None => (v, false),
                };
                let cmp = parse_num_cmp(cmp_s, u32::MAX as u64)?;
                self.check(PktCheck::UriLen { cmp, raw });
            }
            "decode-event" => {
                let v = need(name, value)?.trim();
                let v = v.strip_prefix("decoder.").unwrap_or(v);
                let id = event_id(v);
                if !self.ctx.decode_events.is_empty() && !self.ctx.decode_events.contains(&id) {
                    return Err(format!(
                        "decode-event: vigie's decoder does not raise \"{v}\""
                    ));
                }
                self.check(PktCheck::DecodeEvent(id));
            }
            "app-layer-event" => {
                let v = need(name, value)?.trim();
                // The generic detection events keep their old spelling
                // (`applayer_mismatch_protocol_both_directions`).
                let full = match v.strip_prefix("applayer_") {
                    Some(e) => format!("applayer.{e}"),
                    None if v.contains('.') => v.to_ascii_lowercase(),
                    None => {
                        return Err(format!(
                            "app-layer-event: \"{v}\" must be <protocol>.<event>"
                        ))
                    }
                };
                let id = self.ctx.app_events.check(name, &full)?;
                self.check(PktCheck::Event(id));
            }
            "stream-event" => {
                let v = need(name, value)?.trim().to_ascii_lowercase();
                let v = v.strip_prefix("stream.").unwrap_or(&v);
                let id = self.ctx.app_events.check(name, &format!("stream.{v}"))?;
                self.check(PktCheck::Event(id));
            }
            "frame" => self.frame(need(name, value)?.trim())?,
            "app-layer-protocol" => {
                let v = need(name, value)?.trim();
                let (negated, p) = match v.strip_prefix('!') {
                    Some(r) => (true, r.trim()),
                    None => (false, v),
                };
                let mut parts = p.split(',').map(str::trim);
                let p = parts.next().unwrap_or(p);
                // vigie decides one protocol per flow, once (`final`; also
                // the default, where the reference IDS tests the packet's
                // direction), and keeps what each direction's own
                // first bytes showed (`to_server`, `to_client`); the protocol
                // before a change (`original`) is not tracked.
                let side = match parts.next() {
                    None | Some("final") => AlpSide::Flow,
                    Some("either") => AlpSide::Either,
                    Some("to_server") => AlpSide::ToServer,
                    Some("to_client") => AlpSide::ToClient,
                    Some("original") => {
                        return Err(
                            "app-layer-protocol: \"original\" is not supported (vigie does not follow protocol changes within a flow)"
                                .into(),
                        )
                    }
                    Some(m) => return Err(format!("app-layer-protocol: unknown modifier \"{m}\"")),
                };
                if let Some(extra) = parts.next() {
                    return Err(format!("app-layer-protocol: unexpected \"{extra}\""));
                }
                let proto = AppProto::from_name(p)
                    .ok_or_else(|| format!("app-layer-protocol: unknown protocol \"{p}\""))?;
                self.check(PktCheck::AppProto {
                    proto,
                    negated,
                    side,
                });
            }
            "dns.opcode" => {
                self.uint_list(BufferId::DnsOpcode, need(name, value)?, 255, &[], false)?
            }
            "dns.rcode" => self.uint_list(
                BufferId::DnsRcode,
                need(name, value)?,
                65535,
                DNS_RCODES,
                false,
            )?,
            "dns.rrtype" => self.uint_list(
                BufferId::DnsRrtype,
                need(name, value)?,
                65535,
                DNS_RRTYPES,
                true,
            )?,
            "dcerpc.iface" | "dce_iface" => self.dce_iface(need(name, value)?)?,
            "dcerpc.opnum" | "dce_opnum" => {
                let set = parse_opnums(need(name, value)?)?;
                self.rule.lists.push(List {
                    items: vec![Item::UintSet(set)],
                    ..List::new(Src::App(BufferId::DcerpcOpnum))
                });
            }
            "smb.version" => {
                let v = need(name, value)?.trim();
                let n = match v {
                    "1" => 1,
                    "2" => 2,
                    _ => return Err(format!("smb.version: \"{v}\" is not 1 or 2")),
                };
                self.int_list(
                    BufferId::SmbVersion,
                    UintCmp::Cmp(NumCmp::Eq(n)),
                    MultiIndex::Any,
                );
            }
            "mqtt.type" => self.uint_list(
                BufferId::MqttType,
                need(name, value)?,
                255,
                MQTT_TYPES,
                true,
            )?,
            "mqtt.reason_code" | "mqtt.connack.return_code" => self.uint_list(
                BufferId::MqttReasonCode,
                need(name, value)?,
                255,
                &[],
                false,
            )?,
            "mqtt.protocol_version" => self.uint_list(
                BufferId::MqttProtocolVersion,
                need(name, value)?,
                255,
                &[],
                false,
            )?,
            "mqtt.qos" => {
                let v = need(name, value)?.trim();
                let q = parse_u64(v)
                    .ok()
                    .filter(|q| *q <= 2)
                    .ok_or_else(|| format!("mqtt.qos: expected 0, 1 or 2, got \"{v}\""))?;
                self.int_list(
                    BufferId::MqttQos,
                    UintCmp::Cmp(NumCmp::Eq(q)),
                    MultiIndex::Any,
                );
            }
            "mqtt.flags" => {
                let cmp = parse_flag_names(name, need(name, value)?, MQTT_FLAGS)?;
                self.int_list(BufferId::MqttFlags, cmp, MultiIndex::Any);
            }
            "mqtt.connect.flags" => {
                let cmp = parse_flag_names(name, need(name, value)?, MQTT_CONNECT_FLAGS)?;
                self.int_list(BufferId::MqttConnectFlags, cmp, MultiIndex::Any);
            }
            "mqtt.connack.session_present" => {
                let v = need(name, value)?.trim();
                let b = match v.to_ascii_lowercase().as_str() {
                    "true" | "yes" | "1" => 1,
                    "false" | "no" | "0" => 0,
                    _ => {
                        return Err(format!(
                            "mqtt.connack.session_present: expected true or false, got \"{v}\""
                        ))
                    }
                };
                self.int_list(
                    BufferId::MqttConnackSessionPresent,
                    UintCmp::Cmp(NumCmp::Eq(b)),
                    MultiIndex::Any,
                );
            }
            "tls_cert_expired" | "tls_cert_valid" => {
                no_value(name, value)?;
                self.check(PktCheck::CertExpired(name == "tls_cert_expired"));
            }
            "dhcp.leasetime" | "dhcp.rebinding_time" | "dhcp.renewal_time" => {
                let b = BufferId::from_name(name).ok_or("dhcp: unknown buffer")?;
                self.uint_list(b, need(name, value)?, u64::MAX, &[], false)?
            }
            "domain" | "tld" => {
                return Err(format!(
                    "transform \"{name}\" needs the Public Suffix List, which vigie does not bundle"
                ))
            }
            "tls_cert_notbefore" | "tls_cert_notafter" => {
                let b = if name == "tls_cert_notbefore" {
                    BufferId::TlsCertNotBefore
                } else {
                    BufferId::TlsCertNotAfter
                };
                let cmp = parse_date_cmp(need(name, value)?)?;
                self.int_list(b, UintCmp::Cmp(cmp), MultiIndex::Any);
            }
            "tls.subject" | "tls.issuerdn" | "tls.fingerprint" => {
                self.legacy_tls_value(name, need(name, value)?)?
            }
            "filename" | "fileext" | "filemagic" => self.file_value(name, need(name, value)?)?,
            "filemd5" | "filesha1" | "filesha256" => self.file_hash(name, need(name, value)?)?,
            "filesize" => self.file_size(need(name, value)?)?,
            "filestore" => {
                check_filestore(value)?;
                // Accepted; files are not written to disk.
                self.rule.ignored.push("filestore");
            }
            "stream_size" => {
                let v = need(name, value)?;
                let parts: Vec<&str> = v.split(',').map(str::trim).collect();
                if parts.len() != 3 {
                    return Err(format!(
                        "stream_size: expected <server|client|both|either>,<op>,<n>, got \"{v}\""
                    ));
                }
                let which = match parts[0] {
                    "server" => StreamWhich::Server,
                    "client" => StreamWhich::Client,
                    "both" => StreamWhich::Both,
                    "either" => StreamWhich::Either,
                    o => return Err(format!("stream_size: bad side \"{o}\"")),
                };
                let n = parse_u64(parts[2])?;
                let cmp = match parts[1] {
                    "<" => NumCmp::Lt(n),
                    ">" => NumCmp::Gt(n),
                    "=" => NumCmp::Eq(n),
                    "!=" => NumCmp::Ne(n),
                    "<=" => NumCmp::Le(n),
                    ">=" => NumCmp::Ge(n),
                    o => return Err(format!("stream_size: bad operator \"{o}\"")),
                };
                self.check(PktCheck::StreamSize { which, cmp });
            }
            "flow.pkts" | "flow.bytes" => {
                let v = need(name, value)?;
                let (side, cmp) = v
                    .split_once(',')
                    .ok_or_else(|| format!("{name}: expected <toserver|toclient|either|both>,<number test>, got \"{v}\""))?;
                let side = match side.trim() {
                    "toserver" => FlowSide::ToServer,
                    "toclient" => FlowSide::ToClient,
                    "either" => FlowSide::Either,
                    "both" => FlowSide::Both,
                    o => return Err(format!("{name}: bad direction \"{o}\"")),
                };
                let cmp = parse_num_cmp(cmp, u64::MAX)?;
                self.check(PktCheck::FlowCount {
                    pkts: name == "flow.pkts",
                    side,
                    cmp,
                });
            }
            "vlan.id" => {
                let v = need(name, value)?;
                let (cmp, layer) = match v.split_once(',') {
                    None => (v, VlanLayer::Any),
                    Some((c, l)) => (
                        c,
                        match l.trim() {
                            "all" => VlanLayer::All,
                            n => VlanLayer::Index(
                                n.parse::<i8>()
                                    .ok()
                                    .filter(|i| (-3..=2).contains(i))
                                    .ok_or_else(|| {
                                        format!("vlan.id: bad layer \"{n}\" (0..2, -1..-3 or all)")
                                    })?,
                            ),
                        },
                    ),
                };
                let cmp = parse_num_cmp(cmp, 4095)?;
                self.check(PktCheck::VlanId { cmp, layer });
            }
            _ => return self.buffer_or_transform(name, value),
        }
        Ok(())
    }

    /// `dcerpc.iface:<uuid>[,<op><version>][,any_frag]`. `any_frag` is
    /// accepted: vigie keeps a call's interface whichever fragment is looked at.
    fn dce_iface(&mut self, v: &str) -> Result<(), String> {
        let mut parts = v.split(',').map(str::trim);
        let u = parts.next().unwrap_or("");
        let u = u.strip_prefix("uuid ").unwrap_or(u).trim();
        let uuid = parse_uuid(u).ok_or_else(|| format!("dcerpc.iface: bad UUID \"{u}\""))?;
        let mut ver = None;
        for p in parts {
            if p == "any_frag" {
                continue;
            }
            let c = match p.strip_prefix('=') {
                Some(n) => UintCmp::Cmp(NumCmp::Eq(parse_u64(n)?)),
                None if p.starts_with(['<', '>', '!']) => {
                    let cmp =
                        parse_uint_cmp(p, 65535, &[]).map_err(|e| format!("dcerpc.iface: {e}"))?;
                    if matches!(cmp, UintCmp::Cmp(NumCmp::Range(..)) | UintCmp::NotRange(..)) {
                        return Err(format!("dcerpc.iface: bad version test \"{p}\""));
                    }
                    cmp
                }
                None => {
                    return Err(format!(
                        "dcerpc.iface: unexpected \"{p}\" (expected <op><version> or any_frag)"
                    ))
                }
            };
            if ver.replace(c).is_some() {
                return Err("dcerpc.iface: more than one version test".into());
            }
        }
        self.rule.lists.push(List {
            items: vec![Item::DceIface { uuid, ver }],
            ..List::new(Src::App(BufferId::DcerpcIface))
        });
        Ok(())
    }

    /// An integer keyword: its own list on the value buffer `b`, so it
    /// neither changes the sticky buffer nor joins another keyword's list.
    fn int_list(&mut self, b: BufferId, cmp: UintCmp, index: MultiIndex) {
        self.rule.lists.push(List {
            items: vec![Item::Uint(cmp)],
            index,
            ..List::new(Src::App(b))
        });
    }

    /// `value[,index]` of an integer keyword; the index only for multi-integers.
    fn uint_list(
        &mut self,
        b: BufferId,
        v: &str,
        max: u64,
        names: &[(&str, u64)],
        multi: bool,
    ) -> Result<(), String> {
        let (v, index) = match v.split_once(',') {
            Some((v, idx)) if multi => (v, parse_multi_index(idx)?),
            Some(_) => return Err(format!("{}: takes no index", b.name())),
            None => (v, MultiIndex::Any),
        };
        let cmp = parse_uint_cmp(v, max, names).map_err(|e| format!("{}: {e}", b.name()))?;
        self.int_list(b, cmp, index);
        Ok(())
    }

    /// Suricata's older value keywords `tls.subject:"..."`, `tls.issuerdn:"..."`
    /// (substring of the certificate's subject / issuer) and
    /// `tls.fingerprint:"..."` (its SHA-1, any letter case); `!` negates, and
    /// none matches without a server certificate.
    fn legacy_tls_value(&mut self, name: &str, v: &str) -> Result<(), String> {
        let v = v.trim();
        let (negated, v) = match v.strip_prefix('!') {
            Some(r) => (true, r.trim_start()),
            None => (false, v),
        };
        let text = strip_quotes(v);
        if text.is_empty() {
            return Err(format!("{name}: empty value"));
        }
        let (b, nocase) = match name {
            "tls.subject" => (BufferId::TlsCertSubject, false),
            "tls.issuerdn" => (BufferId::TlsCertIssuer, false),
            _ => (BufferId::TlsCertFingerprint, true),
        };
        let c = Content {
            nocase,
            ..Content::new(unescape(text).into_bytes(), negated)
        };
        self.rule.lists.push(List {
            items: vec![Item::Content(Box::new(c))],
            ..List::new(Src::App(b))
        });
        Ok(())
    }

    fn check(&mut self, c: PktCheck) {
        self.rule.checks.push(c);
    }

    /// The older file keywords with a value: `filename:"a.exe"` (substring
    /// of the name), `fileext:"exe"` (the name ends with ".exe"),
    /// `filemagic:"PDF"` (substring of the type); all ignore letter case,
    /// `!` negates, and each is a list of its own so the sticky buffer stays.
    fn file_value(&mut self, name: &str, v: &str) -> Result<(), String> {
        let v = v.trim();
        let (negated, v) = match v.strip_prefix('!') {
            Some(r) => (true, r.trim_start()),
            None => (false, v),
        };
        let text = unescape(strip_quotes(v));
        if text.is_empty() {
            return Err(format!("{name}: empty value"));
        }
        let (b, pat, endswith) = match name {
            "fileext" => {
                if text.contains('.') {
                    return Err(format!(
                        "fileext: \"{text}\" is an extension without its dot (fileext:\"pdf\")"
                    ));
                }
                (BufferId::FileName, format!(".{text}"), true)
            }
            "filemagic" => (BufferId::FileMagic, text, false),
            _ => (BufferId::FileName, text, false),
        };
        let c = Content {
            nocase: true,
            endswith,
            ..Content::new(pat.into_bytes(), negated)
        };
        self.rule.lists.push(List {
            items: vec![Item::Content(Box::new(c))],
            ..List::new(Src::App(b))
        });
        Ok(())
    }

    /// `filemd5:[!]list` (and sha1, sha256): a file of hex digests, one per
    /// line, relative to the rules file's folder; the file's digest must
    /// (negated: must not) be in it. Bad lines reject the rule with file:line.
    fn file_hash(&mut self, name: &str, v: &str) -> Result<(), String> {
        let v = v.trim();
        let (negated, v) = match v.strip_prefix('!') {
            Some(r) => (true, r.trim_start()),
            None => (false, v),
        };
        let file = strip_quotes(v).trim();
        if file.is_empty() {
            return Err(format!("{name}: needs a file name"));
        }
        let (b, len) = match name {
            "filemd5" => (BufferId::FileMd5, 16),
            "filesha1" => (BufferId::FileSha1, 20),
            _ => (BufferId::FileSha256, 32),
        };
        let path = rules_relative(&self.ctx.origin, file);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("{name}: cannot read {}: {e}", path.display()))?;
        let set = parse_hash_list(&text, len)
            .map_err(|(line, e)| format!("{name}: {}:{line}: {e}", path.display()))?;
        if set.is_empty() {
            return Err(format!("{name}: {} holds no hash", path.display()));
        }
        self.rule.lists.push(List {
            items: vec![Item::HashIn {
                set: Arc::new(set),
                negated,
            }],
            ..List::new(Src::App(b))
        });
        Ok(())
    }

    /// `filesize:[to_server|to_client,]<cmp>` (`100`, `<100`, `>100`,
    /// `100<>200`, `100-200`); the side only in `=>` rules.
    fn file_size(&mut self, v: &str) -> Result<(), String> {
        let (side, v) = match v.split_once(',') {
            Some((s, rest)) if matches!(s.trim(), "to_server" | "to_client") => {
                if !self.rule.txbidir {
                    return Err(format!("\"filesize: {v}\" needs a transactional (=>) rule"));
                }
                (Some(s.trim() == "to_server"), rest)
            }
            _ => (None, v),
        };
        let cmp = parse_uint_cmp(v, u64::MAX, &[]).map_err(|e| format!("filesize: {e}"))?;
        self.rule.lists.push(List {
            side,
            items: vec![Item::FileSize(cmp)],
            ..List::new(Src::App(BufferId::FileSize))
        });
        Ok(())
    }

    fn buffer_or_transform(&mut self, name: &str, value: Option<&str>) -> Result<(), String> {
        if Transform::is_transform(name) {
            let t = Transform::parse(name, value)?;
            let cur = self.cur;
            if !self.rule.lists[cur].items.is_empty() {
                // A transform after matches on the same buffer: what follows inspects
                // the transformed buffer, in a list of its own.
                let src = self.rule.lists[cur].src;
                let mut transforms = self.rule.lists[cur].transforms.clone();
                transforms.push(t);
                let side = self.rule.lists[cur].side;
                self.rule.lists.push(List {
                    side,
                    transforms,
                    ..List::new(src)
                });
                self.cur = self.rule.lists.len() - 1;
                return Ok(());
            }
            self.rule.lists[cur].transforms.push(t);
            return Ok(());
        }
        if let Some(b) = BufferId::legacy_is_modifier(name) {
            no_value(name, value)?;
            let (l, i) = self.last.ok_or_else(|| {
                format!("\"{name}\" modifies the content before it and there is none (Snort 3 sticky-buffer syntax?)")
            })?;
            if !matches!(self.rule.lists[l].items.get(i), Some(Item::Content(_))) {
                return Err(format!("\"{name}\" needs a preceding content"));
            }
            if self.rule.lists[l].src != Src::Payload {
                return Err(format!(
                    "\"{name}\" on a content already in buffer {}",
                    src_name(self.rule.lists[l].src)
                ));
            }
            let item = self.rule.lists[l].items.remove(i);
            let target = self.list_for(Src::App(b));
            self.rule.lists[target].items.push(item);
            self.last = Some((target, self.rule.lists[target].items.len() - 1));
            return Ok(());
        }
        if let Some(h) = Hdr::from_name(name) {
            no_value(name, value)?;
            self.sticky(Src::Hdr(h));
            return Ok(());
        }
        if let Some(b) = BufferId::from_name(name) {
            if b.is_integer() {
                return Err(format!("keyword \"{name}\" needs a value"));
            }
            if let Some(v) = value {
                let side = match v.trim() {
                    "to_server" => true,
                    "to_client" => false,
                    _ => {
                        return Err(format!(
                        "keyword \"{name}\" takes no value or to_server / to_client (got \"{v}\")"
                    ))
                    }
                };
                if !self.rule.txbidir {
                    return Err(format!("\"{name}: {v}\" needs a transactional (=>) rule"));
                }
                let src = Src::App(b);
                self.cur =
                    match self.rule.lists.iter().position(|l| {
                        l.src == src && l.transforms.is_empty() && l.side == Some(side)
                    }) {
                        Some(i) => i,
                        None => {
                            self.rule.lists.push(List {
                                side: Some(side),
                                ..List::new(src)
                            });
                            self.rule.lists.len() - 1
                        }
                    };
                return Ok(());
            }
            if b.is_keyword_value() {
                return Err(format!(
                    "\"{name}\" is not a sticky buffer: use {name}:<value>"
                ));
            }
            let cur = self.rule.lists.get(self.cur);
            if b.is_per_file()
                && self
                    .rule
                    .lists
                    .iter()
                    .any(|l| l.src == Src::App(b) && !l.items.is_empty())
                && !cur.is_some_and(|l| l.src == Src::App(b) && l.items.is_empty())
            {
                // A per-file buffer named again: a new match on any file.
                self.rule.lists.push(List::new(Src::App(b)));
                self.cur = self.rule.lists.len() - 1;
                return Ok(());
            }
            // A sticky buffer named again continues its list; a buffer with
            // transforms gets its own list so the transforms stay scoped.
            self.sticky(Src::App(b));
            return Ok(());
        }
        if UNSUPPORTED.contains(&name) {
            return Err(format!("unsupported keyword \"{name}\""));
        }
        Err(format!("unknown keyword \"{name}\""))
    }

    fn pcre(&mut self, v: &str) -> Result<(), String> {
        let v = v.trim();
        let (negated, v) = match v.strip_prefix('!') {
            Some(r) => (true, r.trim_start()),
            None => (false, v),
        };
        let body = v
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .ok_or("pcre: value must be a quoted /regex/flags")?;
        let (negated, body) = match body.strip_prefix('!') {
            Some(r) => (true, r),
            None => (negated, body),
        };
        let body = body
            .strip_prefix('/')
            .ok_or("pcre: regex must start with '/'")?;
        let end = body.rfind('/').ok_or("pcre: regex must end with '/'")?;
        let (pat, flags) = (&body[..end], &body[end + 1..]);
        let mut inline = String::new();
        let mut relative = false;
        let mut buffer: Option<BufferId> = None;
        let mut anchored = false;
        let mut ungreedy = false;
        let mut dollar_endonly = false;
        for f in flags.chars() {
            match f {
                'i' | 's' | 'm' | 'x' => inline.push(f),
                'A' => anchored = true,
                'E' => dollar_endonly = true,
                'G' => ungreedy = true,
                'R' => relative = true,
                'O' | 'B' => {}
                'U' => buffer = Some(BufferId::HttpUri),
                'I' => buffer = Some(BufferId::HttpUriRaw),
                'H' => buffer = Some(BufferId::HttpHeader),
                'D' => buffer = Some(BufferId::HttpHeaderRaw),
                'M' => buffer = Some(BufferId::HttpMethod),
                'C' => buffer = Some(BufferId::HttpCookie),
                'P' => buffer = Some(BufferId::HttpRequestBody),
                'Q' => buffer = Some(BufferId::FileData),
                'S' => buffer = Some(BufferId::HttpStatCode),
                'Y' => buffer = Some(BufferId::HttpStatMsg),
                'V' => buffer = Some(BufferId::HttpUserAgent),
                'W' => buffer = Some(BufferId::HttpHost),
                'Z' => buffer = Some(BufferId::HttpHostRaw),
                o => return Err(format!("bad pcre: unknown flag '{o}'")),
            }
        }
        let _ = dollar_endonly;
        let mut src = String::with_capacity(pat.len() + 16);
        if !inline.is_empty() {
            src.push_str("(?");
            src.push_str(&inline);
            src.push(')');
        }
        if anchored {
            src.push_str("\\A(?:");
            src.push_str(pat);
            src.push(')');
        } else {
            src.push_str(pat);
        }
        let re = compile_regex(&pcre_compat(&src), ungreedy)?;
        let item = Item::Pcre(Box::new(Pcre {
            re,
            relative,
            negated,
        }));
        match buffer {
            Some(b) => {
                let cur_src = self.rule.lists[self.cur].src;
                if cur_src != Src::Payload && cur_src != Src::App(b) {
                    return Err(format!(
                        "bad pcre: buffer flag for {b} inside sticky buffer {}",
                        src_name(cur_src)
                    ));
                }
                let l = self.list_for(Src::App(b));
                self.rule.lists[l].items.push(item);
            }
            None => self.push(item),
        }
        Ok(())
    }

    fn byte_spec(
        &self,
        parts: &[&str],
        fixed: usize,
        kw: &str,
    ) -> Result<(ByteSpec, Vec<String>), String> {
        let nb = parts
            .first()
            .ok_or_else(|| format!("{kw}: missing byte count"))?;
        let nb = nb.trim();
        let (nbytes, nbytes_var) = match nb.parse::<u8>() {
            Ok(n) => (n, None),
            Err(_) => match self.vars.iter().position(|v| v == nb) {
                Some(i) => (1, Some(i as u8)),
                None => return Err(format!("{kw}: bad byte count \"{nb}\"")),
            },
        };
        let off_i = if kw == "byte_test" { 3 } else { 1 };
        let off = parts
            .get(off_i)
            .ok_or_else(|| format!("{kw}: missing offset"))?;
        let offset = self.val(off)?;
        let mut spec = ByteSpec {
            nbytes,
            nbytes_var,
            offset,
            relative: false,
            endian: Endian::Big,
            string_base: None,
            bitmask: None,
        };
        let mut rest = Vec::new();
        let mut string = false;
        let mut base = None;
        for p in parts.iter().skip(fixed) {
            let p = p.trim();
            let (k, a) = p
                .split_once(' ')
                .map(|(k, a)| (k.trim(), a.trim()))
                .unwrap_or((p, ""));
            match k {
                "relative" => spec.relative = true,
                "big" => spec.endian = Endian::Big,
                "little" => spec.endian = Endian::Little,
                "string" => string = true,
                "dec" => base = Some(10),
                "hex" => base = Some(16),
                "oct" => base = Some(8),
                "dce" => return Err(format!("{kw}: \"dce\" is not supported")),
                "bitmask" => spec.bitmask = Some(parse_u64(a)?),
                "endian" => match a {
                    "big" => spec.endian = Endian::Big,
                    "little" => spec.endian = Endian::Little,
                    "dce" => return Err(format!("{kw}: \"dce\" is not supported")),
                    _ => return Err(format!("{kw}: bad endian \"{a}\"")),
                },
                _ => rest.push(p.to_string()),
            }
        }
        if string || base.is_some() {
            spec.string_base = Some(base.unwrap_or(10));
            // 0 means "the rest of the buffer" (Suricata 7, e.g. on http.content_len).
            if nbytes > 20 {
                return Err(format!("{kw}: string byte count must be 0-20"));
            }
        } else if nbytes == 0 && kw == "byte_jump" {
            // byte_jump:0 jumps by post_offset only.
        } else if !(1..=8).contains(&nbytes) {
            return Err(format!("{kw}: byte count must be 1-8"));
        }
        Ok((spec, rest))
    }

    fn byte_test(&mut self, v: &str) -> Result<(), String> {
        let parts: Vec<&str> = v.split(',').map(str::trim).collect();
        if parts.len() < 4 {
            return Err(format!(
                "byte_test: expected bytes,op,value,offset[,...], got \"{v}\""
            ));
        }
        let (spec, rest) = self.byte_spec(&parts, 4, "byte_test")?;
        if let Some(r) = rest.first() {
            return Err(format!("byte_test: unknown option \"{r}\""));
        }
        let op_s = parts[1];
        let (negated, op_s) = match op_s.strip_prefix('!') {
            Some(r) => (true, r.trim()),
            None => (false, op_s),
        };
        let op = match op_s {
            "<" => ByteOp::Lt,
            ">" => ByteOp::Gt,
            "=" | "" => ByteOp::Eq,
            "<=" => ByteOp::Le,
            ">=" => ByteOp::Ge,
            "&" => ByteOp::And,
            "^" => ByteOp::Xor,
            o => return Err(format!("byte_test: bad operator \"{o}\"")),
        };
        let value = self.val(parts[2])?;
        self.push(Item::ByteTest {
            spec,
            op,
            negated,
            value,
        });
        Ok(())
    }

    fn byte_jump(&mut self, v: &str) -> Result<(), String> {
        let parts: Vec<&str> = v.split(',').map(str::trim).collect();
        if parts.len() < 2 {
            return Err(format!(
                "byte_jump: expected bytes,offset[,...], got \"{v}\""
            ));
        }
        let (spec, rest) = self.byte_spec(&parts, 2, "byte_jump")?;
        let mut jump = JumpSpec {
            multiplier: 1,
            align: false,
            from_beginning: false,
            from_end: false,
            post_offset: 0,
        };
        for r in rest {
            let (k, a) = r
                .split_once(' ')
                .map(|(k, a)| (k.trim(), a.trim()))
                .unwrap_or((r.as_str(), ""));
            match k {
                "multiplier" => {
                    jump.multiplier = a
                        .parse()
                        .map_err(|_| format!("byte_jump: bad multiplier \"{a}\""))?
                }
                "align" => jump.align = true,
                "from_beginning" => jump.from_beginning = true,
                "from_end" => jump.from_end = true,
                "post_offset" => jump.post_offset = parse_i64(a)?,
                o => return Err(format!("byte_jump: unknown option \"{o}\"")),
            }
        }
        self.push(Item::ByteJump { spec, jump });
        Ok(())
    }

    fn byte_extract(&mut self, v: &str) -> Result<(), String> {
        let parts: Vec<&str> = v.split(',').map(str::trim).collect();
        if parts.len() < 3 {
            return Err(format!(
                "byte_extract: expected bytes,offset,name[,...], got \"{v}\""
            ));
        }
        let (spec, rest) = self.byte_spec(&parts, 3, "byte_extract")?;
        let mut multiplier = 1;
        for r in rest {
            let (k, a) = r
                .split_once(' ')
                .map(|(k, a)| (k.trim(), a.trim()))
                .unwrap_or((r.as_str(), ""));
            match k {
                "multiplier" => {
                    multiplier = a
                        .parse()
                        .map_err(|_| format!("byte_extract: bad multiplier \"{a}\""))?
                }
                "align" => {}
                o => return Err(format!("byte_extract: unknown option \"{o}\"")),
            }
        }
        let var = self.new_var(parts[2])?;
        self.push(Item::ByteExtract {
            spec,
            multiplier,
            var,
        });
        Ok(())
    }

    fn byte_math(&mut self, v: &str) -> Result<(), String> {
        let mut kv: HashMap<&str, &str> = HashMap::new();
        let mut flags = Vec::new();
        for p in v.split(',').map(str::trim) {
            match p.split_once(' ') {
                Some((k, a)) => {
                    kv.insert(k.trim(), a.trim());
                }
                None => flags.push(p),
            }
        }
        let get = |k: &str| {
            kv.get(k)
                .copied()
                .ok_or_else(|| format!("byte_math: missing \"{k}\""))
        };
        let nbytes = get("bytes")?;
        let offset = get("offset")?;
        let mut parts: Vec<&str> = vec![nbytes, offset];
        parts.extend(flags.iter().copied());
        let endian_s;
        if let Some(e) = kv.get("endian") {
            endian_s = format!("endian {e}");
            parts.push(&endian_s);
        }
        let string_s;
        if let Some(s) = kv.get("string") {
            string_s = s.to_string();
            parts.push("string");
            parts.push(&string_s);
        }
        let bitmask_s;
        if let Some(b) = kv.get("bitmask") {
            bitmask_s = format!("bitmask {b}");
            parts.push(&bitmask_s);
        }
        let (spec, rest) = self.byte_spec(&parts, 2, "byte_math")?;
        if let Some(r) = rest.first() {
            return Err(format!("byte_math: unknown option \"{r}\""));
        }
        let op = match get("oper")? {
            "+" => MathOp::Add,
            "-" => MathOp::Sub,
            "*" => MathOp::Mul,
            "/" => MathOp::Div,
            "<<" => MathOp::Shl,
            ">>" => MathOp::Shr,
            o => return Err(format!("byte_math: bad oper \"{o}\"")),
        };
        let rvalue = self.val(get("rvalue")?)?;
        let var = self.new_var(get("result")?)?;
        self.push(Item::ByteMath {
            spec,
            op,
            rvalue,
            var,
        });
        Ok(())
    }

    fn flow(&mut self, v: &str) -> Result<(), String> {
        for p in v.split(',').map(str::trim) {
            let f = &mut self.rule.flow;
            match p {
                "established" => f.established = Some(true),
                "not_established" => f.established = Some(false),
                "stateless" => f.stateless = true,
                "to_server" | "from_client" => f.to_server = Some(true),
                "to_client" | "from_server" => f.to_server = Some(false),
                "only_stream" => f.stream = StreamSel::OnlyStream,
                "no_stream" => f.stream = StreamSel::NoStream,
                "only_frag" => f.frag = Some(true),
                "no_frag" => f.frag = Some(false),
                o => return Err(format!("flow: unknown option \"{o}\"")),
            }
        }
        Ok(())
    }

    fn flowbits(&mut self, v: &str, meta: &mut RuleMeta) -> Result<(), String> {
        let (cmd, arg) = match v.split_once(',') {
            Some((c, a)) => (c.trim(), a.trim()),
            None => (v.trim(), ""),
        };
        if cmd == "noalert" {
            meta.noalert = true;
            return Ok(());
        }
        if arg.is_empty() {
            return Err(format!("flowbits: \"{cmd}\" needs a name"));
        }
        let any = arg.contains('|');
        let names: Vec<&str> = arg
            .split(['|', '&'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if names.is_empty() || names.iter().any(|n| n.contains(char::is_whitespace)) {
            return Err(format!("flowbits: bad name \"{arg}\""));
        }
        let ids: Vec<u32> = names.iter().map(|n| self.ctx.names.bit(n)).collect();
        match cmd {
            "isset" => self.rule.bit_conds.push(BitCond::IsSet { ids, any }),
            "isnotset" => self.rule.bit_conds.push(BitCond::IsNotSet { ids, any }),
            "set" | "unset" | "toggle" => {
                if any {
                    return Err(format!("flowbits: \"{cmd}\" can't use '|'"));
                }
                for id in ids {
                    self.rule.bit_acts.push(match cmd {
                        "set" => BitAct::Set(id),
                        "unset" => BitAct::Unset(id),
                        _ => BitAct::Toggle(id),
                    });
                }
            }
            o => return Err(format!("flowbits: unknown command \"{o}\"")),
        }
        Ok(())
    }

    fn xbits(&mut self, v: &str, meta: &mut RuleMeta) -> Result<(), String> {
        let parts: Vec<&str> = v.split(',').map(str::trim).collect();
        if parts.first() == Some(&"noalert") {
            meta.noalert = true;
            return Ok(());
        }
        let (op, name) = bit_command("xbits", &parts)?;
        let mut track = None;
        let mut expire = 0;
        for p in parts.iter().skip(2) {
            let (k, a) = p
                .split_once(char::is_whitespace)
                .map(|(k, a)| (k.trim(), a.trim()))
                .unwrap_or((p, ""));
            match k {
                "track" => {
                    track = Some(match a {
                        "ip_src" => XTrack::Src,
                        "ip_dst" => XTrack::Dst,
                        "ip_pair" => XTrack::Pair,
                        o => return Err(format!("xbits: unsupported track \"{o}\"")),
                    })
                }
                "expire" => expire = parse_u64(a)?,
                o => return Err(format!("xbits: unknown option \"{o}\"")),
            }
        }
        let track = track.ok_or("xbits: missing track")?;
        let id = self.ctx.names.xbit(name);
        self.rule.xbits.push(Xbit {
            op,
            id,
            track,
            expire,
        });
        Ok(())
    }

    /// `hostbits:<cmd>,<name>[,src|dst|both][,expire N]`: bits on hosts,
    /// kept with xbits (`xbits` tracked `ip_src`/`ip_dst` share them).
    fn hostbits(&mut self, v: &str, meta: &mut RuleMeta) -> Result<(), String> {
        let parts: Vec<&str> = v.split(',').map(str::trim).collect();
        if parts.as_slice() == ["noalert"] {
            meta.noalert = true;
            return Ok(());
        }
        let (op, name) = bit_command("hostbits", &parts)?;
        let mut tracks: &[XTrack] = &[XTrack::Src];
        let mut expire = 0;
        for p in parts.iter().skip(2) {
            match p.split_once(char::is_whitespace) {
                Some(("expire", a)) => {
                    expire = parse_u64(a.trim())?;
                    if expire == 0 {
                        return Err("hostbits: expire must be at least 1 second".into());
                    }
                }
                _ => {
                    tracks = match *p {
                        "src" => &[XTrack::Src],
                        "dst" => &[XTrack::Dst],
                        "both" => &[XTrack::Src, XTrack::Dst],
                        o => return Err(format!("hostbits: unknown option \"{o}\"")),
                    }
                }
            }
        }
        let id = self.ctx.names.xbit(name);
        for &track in tracks {
            self.rule.xbits.push(Xbit {
                op,
                id,
                track,
                expire,
            });
        }
        Ok(())
    }

    fn flowint(&mut self, v: &str) -> Result<(), String> {
        let parts: Vec<&str> = v.split(',').map(str::trim).collect();
        let name = *parts.first().ok_or("flowint: missing name")?;
        if name.is_empty() {
            return Err("flowint: missing name".into());
        }
        let op = *parts.get(1).ok_or("flowint: missing operator")?;
        let id = self.ctx.names.int(name);
        let value = || -> Result<i64, String> {
            let s = parts.get(2).ok_or("flowint: missing value")?;
            parse_i64(s).map_err(|_| format!("flowint: value \"{s}\" must be a number"))
        };
        match op {
            "isset" => self.rule.int_conds.push(IntCond::IsSet(id)),
            "notset" | "isnotset" => self.rule.int_conds.push(IntCond::NotSet(id)),
            "=" => self.rule.int_acts.push(IntAct::Set(id, value()?)),
            "+" => self.rule.int_acts.push(IntAct::Add(id, value()?)),
            "-" => self.rule.int_acts.push(IntAct::Sub(id, value()?)),
            "==" | "!=" | "<" | ">" | "<=" | ">=" => {
                let (op, ne) = match op {
                    "==" => (ByteOp::Eq, false),
                    "!=" => (ByteOp::Eq, true),
                    "<" => (ByteOp::Lt, false),
                    ">" => (ByteOp::Gt, false),
                    "<=" => (ByteOp::Le, false),
                    _ => (ByteOp::Ge, false),
                };
                self.rule.int_conds.push(IntCond::Cmp {
                    id,
                    op,
                    ne,
                    value: value()?,
                });
            }
            o => return Err(format!("flowint: unknown operator \"{o}\"")),
        }
        Ok(())
    }

    fn finish(&mut self, meta: &mut RuleMeta) -> Result<(), String> {
        let _ = meta;
        // Drop an unused default payload list.
        if self
            .rule
            .lists
            .first()
            .is_some_and(|l| l.items.is_empty() && l.transforms.is_empty())
        {
            self.rule.lists.remove(0);
        }
        for l in &self.rule.lists {
            if l.absent == Some(false) && !l.items.is_empty() {
                return Err(format!(
                    "absent on {} cannot be followed by matches on it (use absent: or_else)",
                    src_name(l.src)
                ));
            }
            if l.items.is_empty() && l.absent != Some(false) {
                return Err(format!(
                    "sticky buffer {} has no content or other match after it",
                    src_name(l.src)
                ));
            }
            if l.src == Src::Base64
                && !self.rule.lists.iter().any(|o| {
                    o.items
                        .iter()
                        .any(|i| matches!(i, Item::Base64Decode { .. }))
                })
            {
                return Err("base64_data without base64_decode".into());
            }
        }
        let t = self.rule.transport;
        for c in &self.rule.checks {
            let bad = match c {
                PktCheck::Flags { .. }
                | PktCheck::Seq(_)
                | PktCheck::Ack(_)
                | PktCheck::Window(_)
                | PktCheck::TcpMss(_) => !matches!(t, Transport::Tcp | Transport::Any),
                PktCheck::Itype(_)
                | PktCheck::Icode(_)
                | PktCheck::IcmpId(_)
                | PktCheck::IcmpSeq(_) => !matches!(t, Transport::Icmp | Transport::Any),
                _ => false,
            };
            if bad {
                return Err(format!("keyword {c:?} does not apply to this protocol"));
            }
        }
        Ok(())
    }
}

fn eq_only(c: NumCmp) -> Result<u64, String> {
    match c {
        NumCmp::Eq(v) => Ok(v),
        _ => Err("window takes a plain number".into()),
    }
}

pub(crate) fn src_name(s: Src) -> &'static str {
    match s {
        Src::Payload => "pkt_data",
        Src::App(b) => b.name(),
        Src::Base64 => "base64_data",
        Src::Hdr(h) => h.name(),
    }
}

fn ip_proto_number(name: &str) -> Option<u8> {
    Some(match name.to_ascii_lowercase().as_str() {
        "icmp" => 1,
        "igmp" => 2,
        "tcp" => 6,
        "udp" => 17,
        "ipv6" => 41,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        "ipv6-icmp" | "icmpv6" => 58,
        "sctp" => 132,
        "pim" => 103,
        "vrrp" => 112,
        _ => return None,
    })
}

/// `flags`/`fragbits` value: `[!*+]LETTERS[,MASK]`.
fn parse_flags(v: &str, letters: &str, bits: &[u8]) -> Result<(FlagMode, u8, u8), String> {
    let v = v.trim();
    let (main, mask_s) = match v.split_once(',') {
        Some((a, b)) => (a.trim(), Some(b.trim())),
        None => (v, None),
    };
    let mut mode = FlagMode::Exact;
    let mut set = 0u8;
    let bit_of = |c: char| -> Result<u8, String> {
        let c = match c {
            '1' => 'C',
            '2' => 'E',
            c => c.to_ascii_uppercase(),
        };
        letters
            .find(c)
            .and_then(|i| bits.get(i).copied())
            .ok_or_else(|| format!("unknown flag '{c}' in \"{v}\""))
    };
    for c in main.chars() {
        match c {
            '!' => mode = FlagMode::Not,
            '*' => mode = FlagMode::Any,
            '+' => mode = FlagMode::Plus,
            '0' => {}
            c => set |= bit_of(c)?,
        }
    }
    let mut mask = 0xff;
    if let Some(m) = mask_s {
        for c in m.chars() {
            mask &= !bit_of(c)?;
        }
    }
    Ok((mode, set, mask))
}

fn parse_threshold(v: &str, detection_filter: bool) -> Result<Threshold, String> {
    let mut kind = if detection_filter {
        Some(ThreshKind::DetectionFilter)
    } else {
        None
    };
    let mut track = None;
    let mut count = None;
    let mut seconds = None;
    let mut multiplier = None;
    let mut unique_on = None;
    for p in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, a) = p
            .split_once(char::is_whitespace)
            .map(|(k, a)| (k.trim(), a.trim()))
            .ok_or_else(|| format!("threshold: bad option \"{p}\""))?;
        match k {
            "type" if !detection_filter => {
                kind = Some(match a {
                    "limit" => ThreshKind::Limit,
                    "threshold" => ThreshKind::Threshold,
                    "both" => ThreshKind::Both,
                    "backoff" => ThreshKind::Backoff(0),
                    o => return Err(format!("threshold: bad type \"{o}\"")),
                })
            }
            "track" => {
                track = Some(match a {
                    "by_src" => Track::Source,
                    "by_dst" => Track::Destination,
                    "by_rule" => Track::Rule,
                    "by_both" => Track::Pair,
                    "by_flow" => Track::Flow,
                    o => return Err(format!("threshold: bad track \"{o}\"")),
                })
            }
            "count" => count = Some(parse_u64(a)?),
            "seconds" => seconds = Some(parse_u64(a)?),
            "multiplier" => multiplier = Some(parse_u64(a)?),
            "unique_on" if detection_filter => {
                unique_on = Some(match a {
                    "src_port" => UniqueOn::SrcPort,
                    "dst_port" => UniqueOn::DstPort,
                    o => return Err(format!("detection_filter: bad unique_on \"{o}\"")),
                })
            }
            o => return Err(format!("threshold: unknown option \"{o}\"")),
        }
    }
    let mut kind = kind.ok_or("threshold: missing type")?;
    let count = count.ok_or("threshold: missing count")?;
    let seconds = if let ThreshKind::Backoff(_) = kind {
        // Alerts on hit count, count*m, count*m^2, ...: no time window.
        let m = multiplier.ok_or("threshold: backoff needs multiplier")?;
        if m < 2 || count == 0 {
            return Err("threshold: backoff needs count >= 1 and multiplier >= 2".into());
        }
        kind = ThreshKind::Backoff(m);
        u64::MAX / 1_000_000
    } else {
        seconds.ok_or("threshold: missing seconds")?
    };
    Ok(Threshold {
        kind,
        track: track.ok_or("threshold: missing track")?,
        count,
        seconds,
        unique_on,
    })
}

pub(crate) fn parse_threshold_pub(v: &str) -> Result<Threshold, String> {
    parse_threshold(v, false)
}

/// Rewrites PCRE spellings the Rust engines read differently: `\xH` with a
/// single hex digit (PCRE reads `\x2s` as byte 0x02 then `s`).
fn pcre_compat(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len() + 4);
    let mut i = 0;
    let mut last = 0;
    while i + 1 < b.len() {
        if b[i] == b'\\' {
            if b[i + 1] == b'x'
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
                && !b.get(i + 3).is_some_and(u8::is_ascii_hexdigit)
            {
                out.push_str(&src[last..i + 2]);
                out.push('0');
                last = i + 2;
                i += 3;
                continue;
            }
            i += 2;
            continue;
        }
        i += 1;
    }
    out.push_str(&src[last..]);
    out
}

/// Compiles a pcre body: `regex` bytes engine when it can, else `fancy-regex`.
fn compile_regex(src: &str, ungreedy: bool) -> Result<Re, String> {
    let mut p = regex_syntax::ParserBuilder::new();
    p.unicode(false)
        .utf8(false)
        .swap_greed(ungreedy)
        .nest_limit(250);
    match p.build().parse(src) {
        Ok(_) => Ok(Re::Bytes {
            src: if ungreedy {
                format!("(?U){src}")
            } else {
                src.to_string()
            },
            compiled: OnceLock::new(),
        }),
        Err(first) => {
            let fsrc = if ungreedy {
                format!("(?U){src}")
            } else {
                src.to_string()
            };
            // Parse now so a bad pattern is a load-time error; compile on first use.
            match fancy_regex::Expr::parse_tree(&fsrc) {
                Ok(_) => Ok(Re::Fancy {
                    src: fsrc,
                    compiled: OnceLock::new(),
                }),
                Err(e) => {
                    let first = first.to_string();
                    let first = first.lines().last().unwrap_or("").trim().to_string();
                    Err(format!("bad pcre: {e} ({first})"))
                }
            }
        }
    }
}

impl Re {
    /// The compiled bytes regex, built on first use.
    pub(crate) fn bytes(&self) -> Option<&regex::bytes::Regex> {
        match self {
            Re::Bytes { src, compiled } => compiled
                .get_or_init(|| {
                    regex::bytes::RegexBuilder::new(src)
                        .unicode(false)
                        .size_limit(4 << 20)
                        .dfa_size_limit(1 << 20)
                        .build()
                        .ok()
                })
                .as_ref(),
            Re::Fancy { .. } => None,
        }
    }

    /// The compiled fancy regex, built on first use.
    pub(crate) fn fancy(&self) -> Option<&FancyRe> {
        match self {
            Re::Fancy { src, compiled } => compiled
                .get_or_init(|| {
                    if let Some(p) = compile_anchored(src) {
                        return Some(Box::new(FancyRe::Anchored(p)));
                    }
                    fancy_regex::RegexBuilder::new(src)
                        .backtrack_limit(100_000)
                        .build()
                        .ok()
                        .map(|r| Box::new(FancyRe::Search(r)))
                })
                .as_deref(),
            Re::Bytes { .. } => None,
        }
    }
}

/// The command and bit name opening an `xbits` / `hostbits` value.
fn bit_command<'v>(kw: &str, parts: &[&'v str]) -> Result<(XOp, &'v str), String> {
    let op = match parts.first().copied().unwrap_or("") {
        "isset" => XOp::IsSet,
        "isnotset" => XOp::IsNotSet,
        "set" => XOp::Set,
        "unset" => XOp::Unset,
        "toggle" => XOp::Toggle,
        o => return Err(format!("{kw}: unknown command \"{o}\"")),
    };
    let name = parts
        .get(1)
        .copied()
        .filter(|n| !n.is_empty() && !n.contains(char::is_whitespace))
        .ok_or_else(|| format!("{kw}: missing name"))?;
    Ok((op, name))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn pcre_single_hex_digit() {
        assert_eq!(
            pcre_compat(r"a\x2serve\x2Enet\\x2"),
            r"a\x02serve\x2Enet\\x2"
        );
        assert_eq!(pcre_compat(r"\x4"), r"\x04");
        assert_eq!(pcre_compat(r"\x{41}"), r"\x{41}");
    }

    #[test]
    fn num_cmp_forms() {
        assert_eq!(parse_num_cmp("10", 255), Ok(NumCmp::Eq(10)));
        assert_eq!(parse_num_cmp(">=3", 255), Ok(NumCmp::Ge(3)));
        assert_eq!(parse_num_cmp("!5", 255), Ok(NumCmp::Ne(5)));
        assert_eq!(parse_num_cmp("1<>4", 255), Ok(NumCmp::Range(1, 4)));
        assert!(NumCmp::Range(1, 4).test(2) && !NumCmp::Range(1, 4).test(4));
        assert!(parse_num_cmp("300", 255).is_err());
        assert!(parse_num_cmp("5<>5", 255).is_err());
        assert!(parse_num_cmp("x", 255).is_err());
    }

    #[test]
    fn sid_scan() {
        assert_eq!(
            scan_sid("alert tcp any any -> any any (msg:\"sid:9\"; sid: 42; rev:1;)"),
            Some(42)
        );
        assert_eq!(scan_sid("(foo; sid:42;)"), Some(42));
        assert_eq!(scan_sid("(nosid:1;)"), None);
    }
}

#[cfg(test)]
mod anchored_test {
    use super::*;

    #[test]
    fn anchored_fancy_patterns_skip_the_search_prefix() {
        for (src, anchored) in [
            (
                r"(?si)^\s*?\)\s*?\{\s*(?P<var>[^\s]+)\s*=[^\x5b]+?\x5b\s*(?P=var)",
                true,
            ),
            (r"^(?P<q>[\x22\x27])\+(?P=q)", true),
            (r"(?m)^(a)\1", false),
            (r"x^(a)\1", false),
            (r"(a)\1", false),
        ] {
            assert_eq!(compile_anchored(src).is_some(), anchored, "{src}");
        }
        let re = compile_regex(r"^\s*(?P<v>\w+)=(?P=v);", false).unwrap();
        let Some(FancyRe::Anchored(p)) = re.fancy() else {
            panic!("not anchored")
        };
        let run = |s: &str| {
            fancy_regex::internal::run_default(p, s, 0)
                .unwrap()
                .map(|v| v[1])
        };
        assert_eq!(run("  ab=ab; tail"), Some(8));
        assert_eq!(run("x ab=ab;"), None, "only position 0 may match");
        assert_eq!(run("  ab=ac;"), None);
    }
}

#[cfg(test)]
mod integer_keyword_test {
    use super::*;

    #[test]
    fn uint_forms_follow_the_reference_grammar() {
        let p = |s: &str| parse_uint_cmp(s, 255, DNS_RCODES).unwrap();
        assert!(p("4").test(4) && !p("4").test(5));
        assert!(p("!0").test(1) && !p("!0").test(0));
        assert!(p("!=3").test(2) && !p("!=3").test(3));
        // Ranges are exclusive, and a negated range keeps its bounds.
        assert!(!p("7-15").test(7) && p("7-15").test(8) && !p("7-15").test(15));
        assert!(p("!7-15").test(7) && !p("!7-15").test(8) && p("!7-15").test(15));
        assert!(p("3<>5").test(4) && !p("3<>5").test(5));
        assert!(p(">=2").test(2) && !p(">2").test(2) && p("<=2").test(2) && !p("<2").test(2));
        assert!(p("&0xc0=0x80").test(0x81) && !p("&0xc0=0x80").test(0xc1));
        assert!(p("&0xc0!=0").test(0x40) && !p("&0xc0!=0").test(0x01));
        assert!(p("NXDOMAIN").test(3) && p("!noerror").test(3));
        assert!(parse_uint_cmp("&0x0f=0x10", 255, &[]).is_err());
        assert!(parse_uint_cmp("5-5", 255, &[]).is_err());
        assert!(parse_uint_cmp("x", 255, &[]).is_err());
        assert_eq!(parse_multi_index(" all").unwrap(), MultiIndex::All);
        assert_eq!(parse_multi_index("-1").unwrap(), MultiIndex::At(-1));
        assert!(parse_multi_index("or_absent").is_err());
    }

    #[test]
    fn certificate_dates() {
        assert_eq!(parse_date("1970").unwrap(), 0);
        assert_eq!(parse_date("2015").unwrap(), 1_420_070_400);
        assert_eq!(parse_date("2015-02-12T18:07:27").unwrap(), 1_423_764_447);
        assert_eq!(parse_date("2015-02-12 18:07").unwrap(), 1_423_764_420);
        assert_eq!(parse_date("2000-03-01").unwrap(), 951_868_800);
        assert_eq!(parse_date("1445852105").unwrap(), 1_445_852_105);
        for bad in [
            "15",
            "2015-2",
            "2015-02-30x",
            "2015-00",
            "2015-01-01T25:00",
            "20a5",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_date_cmp("<2025").unwrap(),
            NumCmp::Lt(parse_date("2025").unwrap())
        );
        assert!(parse_date_cmp("2016<>2015").is_err());
    }
}

#[cfg(test)]
mod file_keyword_test {
    use super::super::{DetectScratch, EngineBuilder, FlowVars, PacketInput};
    use super::*;

    fn engine(rules: &str) -> super::super::Engine {
        let mut b = EngineBuilder::new();
        b.add_str(rules, "inline");
        let e = b.build().unwrap();
        assert_eq!(e.report().rejected_count(), 0, "{:?}", e.report().rejected);
        e
    }

    fn sids(e: &super::super::Engine, bufs: &[(BufferId, &[u8])]) -> Vec<u32> {
        let mut p = PacketInput::new(
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
            6,
            b"",
        );
        p.flow.tracked = true;
        p.buffers = bufs;
        p.app_only = true;
        let (mut fv, mut sc, mut out) = (FlowVars::default(), DetectScratch::new(), Vec::new());
        e.inspect(&p, &mut fv, &mut sc, &mut out);
        let mut v: Vec<u32> = out.iter().map(|m| m.rule.sid).collect();
        v.sort();
        v
    }

    fn size(state: u8, n: u64) -> Vec<u8> {
        let mut v = vec![state];
        v.extend_from_slice(&n.to_be_bytes());
        v
    }

    #[test]
    fn name_ext_magic_ignore_case_and_negate() {
        let e = engine(
            r#"alert tcp any any -> any any (filename:"R.PDF"; sid:1;)
alert tcp any any -> any any (fileext:"Pdf"; sid:2;)
alert tcp any any -> any any (fileext:!"doc"; sid:3;)
alert tcp any any -> any any (fileext:"df"; sid:4;)
alert tcp any any -> any any (filemagic:"pdf document"; sid:5;)
alert tcp any any -> any any (file.name; content:"r.pdf"; endswith; sid:6;)
alert tcp any any -> any any (filename:!"r.pdf"; sid:7;)"#,
        );
        let bufs: &[(BufferId, &[u8])] = &[
            (BufferId::FileName, b"/~regit/r.pdf"),
            (BufferId::FileMagic, b"PDF document, version 1.5"),
        ];
        assert_eq!(sids(&e, bufs), [1, 2, 3, 5, 6]);
        // No file, no file rule.
        assert!(sids(&e, &[]).is_empty());
    }

    #[test]
    fn filesize_waits_for_a_closed_file_except_greater_than() {
        let e = engine(
            r#"alert tcp any any -> any any (filesize:<70; sid:1;)
alert tcp any any -> any any (filesize:>50; sid:2;)
alert tcp any any -> any any (filesize:68; sid:3;)
alert tcp any any -> any any (filesize:60<>70; sid:4;)"#,
        );
        let closed = size(1, 68);
        assert_eq!(sids(&e, &[(BufferId::FileSize, &closed)]), [1, 2, 3, 4]);
        let open = size(0, 68);
        assert_eq!(sids(&e, &[(BufferId::FileSize, &open)]), [2]);
        let truncated = size(2, 68);
        assert!(sids(&e, &[(BufferId::FileSize, &truncated)]).is_empty());
    }

    #[test]
    fn hash_lists_are_read_relative_to_the_rules_file() {
        let dir = std::env::temp_dir().join(format!("vigie-filemd5-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let md5 = [0x44u8; 16];
        std::fs::write(
            dir.join("bad.md5"),
            "# comment\n44444444444444444444444444444444  eicar.com\n\n",
        )
        .unwrap();
        std::fs::write(dir.join("broken.md5"), "4444\n").unwrap();
        std::fs::write(
            dir.join("t.rules"),
            "alert http any any -> any any (filemd5:bad.md5; sid:1;)\n\
             alert http any any -> any any (filemd5:!bad.md5; sid:2;)\n\
             alert http any any -> any any (filemd5:broken.md5; sid:3;)\n\
             alert http any any -> any any (filesha1:missing.sha1; sid:4;)\n",
        )
        .unwrap();
        let mut b = EngineBuilder::new();
        b.add_file(dir.join("t.rules")).unwrap();
        let e = b.build().unwrap();
        let rej = &e.report().rejected;
        assert_eq!(rej.len(), 2, "{rej:?}");
        assert!(rej[0].reason.contains("broken.md5:1"), "{}", rej[0].reason);
        assert!(rej[1].reason.contains("missing.sha1"), "{}", rej[1].reason);
        let p = PacketInput::new(
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
            6,
            b"",
        );
        let mut p = PacketInput {
            app_only: true,
            ..p
        };
        p.flow.tracked = true;
        p.flow.app_proto = AppProto::Http1;
        let (mut fv, mut sc, mut out) = (FlowVars::default(), DetectScratch::new(), Vec::new());
        let bufs = [(BufferId::FileMd5, &md5[..])];
        p.buffers = &bufs;
        e.inspect(&p, &mut fv, &mut sc, &mut out);
        assert_eq!(out.iter().map(|m| m.rule.sid).collect::<Vec<_>>(), [1]);
        let other = [0u8; 16];
        let bufs = [(BufferId::FileMd5, &other[..])];
        p.buffers = &bufs;
        out.clear();
        e.inspect(&p, &mut fv, &mut sc, &mut out);
        assert_eq!(out.iter().map(|m| m.rule.sid).collect::<Vec<_>>(), [2]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn file_data_named_again_matches_any_file() {
        let e = engine(
            r#"alert http any any -> any any (file.data; content:"bateau"; file.data; content:"minet"; sid:7;)
alert http any any -> any any (file.data; content:"bateau"; content:"minet"; sid:8;)"#,
        );
        let bufs: &[(BufferId, &[u8])] = &[
            (BufferId::FileData, b"toto est dans un bateau"),
            (BufferId::FileData, b"Titi a vu un gros minet"),
        ];
        let mut p = PacketInput::new(
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
            6,
            b"",
        );
        p.flow.tracked = true;
        p.flow.app_proto = AppProto::Http1;
        p.buffers = bufs;
        p.app_only = true;
        let (mut fv, mut sc, mut out) = (FlowVars::default(), DetectScratch::new(), Vec::new());
        e.inspect(&p, &mut fv, &mut sc, &mut out);
        assert_eq!(out.iter().map(|m| m.rule.sid).collect::<Vec<_>>(), [7]);
    }

    #[test]
    fn filestore_forms_and_bad_values() {
        let mut b = EngineBuilder::new();
        b.add_str(
            r#"alert http any any -> any any (filestore; sid:1;)
alert http any any -> any any (filestore:response,file; sid:2;)
alert http any any -> any any (filestore:both,flow; sid:3;)
alert http any any -> any any (filestore:sideways; sid:4;)
alert http any any -> any any (filestore:request,forever; sid:5;)
alert http any any -> any any (fileext:".exe"; sid:6;)
alert http any any -> any any (filesize:abc; sid:7;)
alert http any any -> any any (filemd5; sid:8;)
alert http any any -> any any (filesize:to_client,>5; sid:9;)"#,
            "inline",
        );
        let e = b.build().unwrap();
        let rej: Vec<Option<u32>> = e.report().rejected.iter().map(|r| r.sid).collect();
        assert_eq!(
            rej,
            [Some(4), Some(5), Some(6), Some(7), Some(8), Some(9)],
            "{:?}",
            e.report().rejected
        );
        assert!(e.report().rejected.iter().all(|r| !r.reason.is_empty()));
    }

    #[test]
    fn hash_list_lines() {
        assert_eq!(parse_hash_list("AB\n", 1).unwrap().len(), 1);
        assert_eq!(parse_hash_list("zz\n", 1).unwrap_err().0, 1);
        assert_eq!(parse_hash_list("# x\n\nab\nabc\n", 1).unwrap_err().0, 4);
    }
}
