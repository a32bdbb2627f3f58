//! Address and port expressions of a rule header (`[10.0.0.0/8,!10.1.0.0/16]`,
//! `$HOME_NET`, `1024:`, `![80,443]`), resolved to sorted interval sets.

use std::collections::HashMap;
use std::net::IpAddr;

/// Sorted, disjoint, inclusive intervals over `0..=max`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RangeSet {
    ranges: Vec<(u128, u128)>,
    max: u128,
}

impl RangeSet {
    pub(crate) fn empty(max: u128) -> Self {
        RangeSet {
            ranges: Vec::new(),
            max,
        }
    }

    pub(crate) fn full(max: u128) -> Self {
        RangeSet {
            ranges: vec![(0, max)],
            max,
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.ranges.len() == 1 && self.ranges[0] == (0, self.max)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    fn from_ranges(mut r: Vec<(u128, u128)>, max: u128) -> Self {
        r.sort_unstable();
        let mut out: Vec<(u128, u128)> = Vec::with_capacity(r.len());
        for (lo, hi) in r {
            if let Some(last) = out.last_mut() {
                if lo <= last.1.saturating_add(1) {
                    if hi > last.1 {
                        last.1 = hi;
                    }
                    continue;
                }
            }
            out.push((lo, hi));
        }
        RangeSet { ranges: out, max }
    }

    pub(crate) fn union(&self, other: &RangeSet) -> RangeSet {
        let mut r = self.ranges.clone();
        r.extend_from_slice(&other.ranges);
        RangeSet::from_ranges(r, self.max)
    }

    pub(crate) fn complement(&self) -> RangeSet {
        let mut out = Vec::new();
        let mut next = 0u128;
        let mut done = false;
        for &(lo, hi) in &self.ranges {
            if lo > next {
                out.push((next, lo - 1));
            }
            if hi == self.max {
                done = true;
                break;
            }
            next = hi + 1;
        }
        if !done {
            out.push((next, self.max));
        }
        RangeSet {
            ranges: out,
            max: self.max,
        }
    }

    pub(crate) fn minus(&self, other: &RangeSet) -> RangeSet {
        self.intersect(&other.complement())
    }

    pub(crate) fn intersect(&self, other: &RangeSet) -> RangeSet {
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while i < self.ranges.len() && j < other.ranges.len() {
            let (a0, a1) = self.ranges[i];
            let (b0, b1) = other.ranges[j];
            let lo = a0.max(b0);
            let hi = a1.min(b1);
            if lo <= hi {
                out.push((lo, hi));
            }
            if a1 < b1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        RangeSet {
            ranges: out,
            max: self.max,
        }
    }

    pub(crate) fn contains(&self, v: u128) -> bool {
        // Most sets hold one to a few intervals: a linear scan beats a binary search there.
        if self.ranges.len() <= 8 {
            return self.ranges.iter().any(|&(lo, hi)| lo <= v && v <= hi);
        }
        match self.ranges.binary_search_by(|&(lo, _)| lo.cmp(&v)) {
            Ok(_) => true,
            Err(0) => false,
            Err(i) => self.ranges[i - 1].1 >= v,
        }
    }
}

/// A resolved address expression: IPv4 and IPv6 parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AddrSet {
    v4: RangeSet,
    v6: RangeSet,
    any: bool,
}

impl AddrSet {
    pub(crate) fn any() -> Self {
        AddrSet {
            v4: RangeSet::full(u32::MAX as u128),
            v6: RangeSet::full(u128::MAX),
            any: true,
        }
    }

    fn empty() -> Self {
        AddrSet {
            v4: RangeSet::empty(u32::MAX as u128),
            v6: RangeSet::empty(u128::MAX),
            any: false,
        }
    }

    fn fix(mut self) -> Self {
        self.any = self.v4.is_full() && self.v6.is_full();
        self
    }

    fn union(&self, o: &AddrSet) -> AddrSet {
        AddrSet {
            v4: self.v4.union(&o.v4),
            v6: self.v6.union(&o.v6),
            any: false,
        }
        .fix()
    }

    fn minus(&self, o: &AddrSet) -> AddrSet {
        AddrSet {
            v4: self.v4.minus(&o.v4),
            v6: self.v6.minus(&o.v6),
            any: false,
        }
        .fix()
    }

    fn complement(&self) -> AddrSet {
        AddrSet {
            v4: self.v4.complement(),
            v6: self.v6.complement(),
            any: false,
        }
        .fix()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Whether the set is small enough to index (less than a /8 of IPv4, a /28 of IPv6).
    pub(crate) fn is_narrow(&self) -> bool {
        let v4: u128 = self.v4.ranges.iter().map(|(l, h)| h - l + 1).sum();
        let v6 = self
            .v6
            .ranges
            .iter()
            .try_fold(0u128, |a, (l, h)| a.checked_add((h - l).saturating_add(1)));
        v4 < (1 << 24) && v6.is_some_and(|n| n < (1 << 100))
    }

    pub(crate) fn v4_ranges(&self) -> &[(u128, u128)] {
        &self.v4.ranges
    }

    pub(crate) fn v6_ranges(&self) -> &[(u128, u128)] {
        &self.v6.ranges
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        if self.any {
            return true;
        }
        match ip {
            IpAddr::V4(a) => self.v4.contains(u32::from(a) as u128),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => self.v4.contains(u32::from(v4) as u128),
                None => self.v6.contains(u128::from(a)),
            },
        }
    }
}

/// Point lookup over many address ranges: which rules' ranges contain an address.
#[derive(Debug, Default)]
pub(crate) struct AddrIndex {
    v4: SegmentIndex,
    v6: SegmentIndex,
}

#[derive(Debug, Default)]
struct SegmentIndex {
    /// Segment i covers `starts[i]..starts[i+1]`.
    starts: Vec<u128>,
    lists: Vec<Box<[u32]>>,
}

impl SegmentIndex {
    fn build(mut ranges: Vec<(u128, u128, u32)>) -> Self {
        // Sweep over range starts and ends, keeping the set of active rules.
        let mut events: Vec<(u128, bool, u32)> = Vec::with_capacity(ranges.len() * 2);
        for (lo, hi, r) in ranges.drain(..) {
            events.push((lo, true, r));
            if let Some(end) = hi.checked_add(1) {
                events.push((end, false, r));
            }
        }
        events.sort_unstable();
        let mut active: Vec<u32> = Vec::new();
        let mut idx = SegmentIndex::default();
        let mut i = 0;
        while i < events.len() {
            let pos = events[i].0;
            while i < events.len() && events[i].0 == pos {
                let (_, start, r) = events[i];
                if start {
                    active.push(r);
                } else if let Some(j) = active.iter().position(|&a| a == r) {
                    active.swap_remove(j);
                }
                i += 1;
            }
            let mut l = active.clone();
            l.sort_unstable();
            l.dedup();
            idx.starts.push(pos);
            idx.lists.push(l.into_boxed_slice());
        }
        idx
    }

    fn lookup(&self, x: u128) -> &[u32] {
        match self.starts.partition_point(|s| *s <= x) {
            0 => &[],
            i => &self.lists[i - 1],
        }
    }
}

impl AddrIndex {
    /// Builds the index from (set, rule) pairs.
    pub(crate) fn build<'a>(sets: impl Iterator<Item = (&'a AddrSet, u32)>) -> Self {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for (s, r) in sets {
            v4.extend(s.v4_ranges().iter().map(|&(l, h)| (l, h, r)));
            v6.extend(s.v6_ranges().iter().map(|&(l, h)| (l, h, r)));
        }
        AddrIndex {
            v4: SegmentIndex::build(v4),
            v6: SegmentIndex::build(v6),
        }
    }

    /// Rules whose indexed set contains `ip`.
    pub(crate) fn lookup(&self, ip: IpAddr) -> &[u32] {
        match ip {
            IpAddr::V4(a) => self.v4.lookup(u32::from(a) as u128),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => self.v4.lookup(u32::from(v4) as u128),
                None => self.v6.lookup(u128::from(a)),
            },
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.v4.starts.is_empty() && self.v6.starts.is_empty()
    }
}

/// A resolved port expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PortSet {
    set: RangeSet,
    any: bool,
}

impl PortSet {
    fn from_set(set: RangeSet) -> Self {
        let any = set.is_full();
        PortSet { set, any }
    }

    #[cfg(test)]
    pub(crate) fn is_any(&self) -> bool {
        self.any
    }

    pub(crate) fn contains(&self, port: u16) -> bool {
        self.any || self.set.contains(port as u128)
    }
}

/// Rule variables (`HOME_NET`, `HTTP_PORTS`, ...): raw text, resolved on use.
#[derive(Debug, Clone)]
pub(crate) struct Vars {
    pub(crate) addr: HashMap<String, String>,
    pub(crate) port: HashMap<String, String>,
}

const MAX_DEPTH: usize = 16;

impl Default for Vars {
    /// Suricata's default `address-groups` and `port-groups`.
    fn default() -> Self {
        let mut addr = HashMap::new();
        addr.insert(
            "HOME_NET".into(),
            "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]".into(),
        );
        addr.insert("EXTERNAL_NET".into(), "!$HOME_NET".into());
        for n in [
            "HTTP_SERVERS",
            "SMTP_SERVERS",
            "SQL_SERVERS",
            "DNS_SERVERS",
            "TELNET_SERVERS",
            "AIM_SERVERS",
            "DC_SERVERS",
            "DNP3_SERVER",
            "DNP3_CLIENT",
            "MODBUS_CLIENT",
            "MODBUS_SERVER",
            "ENIP_CLIENT",
            "ENIP_SERVER",
        ] {
            addr.insert(n.into(), "$HOME_NET".into());
        }
        let mut port = HashMap::new();
        for (n, v) in [
            ("HTTP_PORTS", "80"),
            ("SHELLCODE_PORTS", "!80"),
            ("ORACLE_PORTS", "1521"),
            ("SSH_PORTS", "22"),
            ("DNP3_PORTS", "20000"),
            ("MODBUS_PORTS", "502"),
            ("FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]"),
            ("FTP_PORTS", "21"),
            ("GENEVE_PORTS", "6081"),
            ("VXLAN_PORTS", "4789"),
            ("TEREDO_PORTS", "3544"),
        ] {
            port.insert(n.into(), v.into());
        }
        Vars { addr, port }
    }
}

/// Splits `a, [b, c], d` at top-level commas.
fn split_list(s: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth < 0 {
                    return Err(format!("unbalanced ']' in \"{s}\""));
                }
            }
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("unbalanced '[' in \"{s}\""));
    }
    out.push(s[start..].trim());
    Ok(out)
}

fn strip_brackets(s: &str) -> Option<&str> {
    s.strip_prefix('[').and_then(|r| r.strip_suffix(']'))
}

/// Resolves an address expression.
pub(crate) fn parse_addr(s: &str, vars: &Vars) -> Result<AddrSet, String> {
    let set = parse_addr_depth(s.trim(), vars, 0)?;
    if set.is_empty() {
        return Err(format!("address \"{s}\" matches nothing"));
    }
    Ok(set)
}

fn parse_addr_depth(s: &str, vars: &Vars, depth: usize) -> Result<AddrSet, String> {
    if depth > MAX_DEPTH {
        return Err(format!("address variables nest too deep at \"{s}\""));
    }
    if s.is_empty() {
        return Err("empty address".into());
    }
    if let Some(rest) = s.strip_prefix('!') {
        return Ok(parse_addr_depth(rest.trim(), vars, depth + 1)?.complement());
    }
    if let Some(inner) = strip_brackets(s) {
        let mut pos = AddrSet::empty();
        let mut neg = AddrSet::empty();
        let mut any_pos = false;
        for item in split_list(inner)? {
            if let Some(r) = item.strip_prefix('!') {
                neg = neg.union(&parse_addr_depth(r.trim(), vars, depth + 1)?);
            } else {
                any_pos = true;
                pos = pos.union(&parse_addr_depth(item, vars, depth + 1)?);
            }
        }
        if !any_pos {
            pos = AddrSet::any();
        }
        return Ok(pos.minus(&neg));
    }
    if s.starts_with('[') || s.ends_with(']') {
        return Err(format!("unbalanced brackets in address \"{s}\""));
    }
    if let Some(name) = s.strip_prefix('$') {
        let v = vars
            .addr
            .get(name)
            .ok_or_else(|| format!("unknown address variable \"${name}\""))?;
        return parse_addr_depth(v.trim(), vars, depth + 1);
    }
    if s == "any" {
        return Ok(AddrSet::any());
    }
    parse_cidr(s)
}

fn parse_cidr(s: &str) -> Result<AddrSet, String> {
    let mut set = AddrSet::empty();
    if let Some((a, b)) = s.split_once('-') {
        let lo: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("bad address \"{s}\""))?;
        let hi: IpAddr = b
            .trim()
            .parse()
            .map_err(|_| format!("bad address \"{s}\""))?;
        match (lo, hi) {
            (IpAddr::V4(l), IpAddr::V4(h)) if l <= h => {
                set.v4 = RangeSet::from_ranges(
                    vec![(u32::from(l) as u128, u32::from(h) as u128)],
                    u32::MAX as u128,
                )
            }
            (IpAddr::V6(l), IpAddr::V6(h)) if l <= h => {
                set.v6 = RangeSet::from_ranges(vec![(u128::from(l), u128::from(h))], u128::MAX)
            }
            _ => return Err(format!("bad address range \"{s}\"")),
        }
        return Ok(set.fix());
    }
    let (ip_s, len_s) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let ip: IpAddr = ip_s.parse().map_err(|_| format!("bad address \"{s}\""))?;
    let bits = match ip {
        IpAddr::V4(_) => 32u32,
        IpAddr::V6(_) => 128,
    };
    let len = match len_s {
        None => bits,
        Some(l) => {
            if let Ok(n) = l.parse::<u32>() {
                n
            } else if let (IpAddr::V4(_), Ok(std::net::IpAddr::V4(mask))) =
                (ip, l.parse::<IpAddr>())
            {
                // Dotted netmask (`255.255.255.0`).
                u32::from(mask).leading_ones()
            } else {
                return Err(format!("bad netmask in \"{s}\""));
            }
        }
    };
    if len > bits {
        return Err(format!("bad prefix length in \"{s}\""));
    }
    match ip {
        IpAddr::V4(a) => {
            let v = u32::from(a) as u128;
            let host = if len == 0 {
                u32::MAX as u128
            } else {
                ((1u128 << (32 - len)) - 1) & (u32::MAX as u128)
            };
            let lo = v & !host & (u32::MAX as u128);
            set.v4 = RangeSet::from_ranges(vec![(lo, lo | host)], u32::MAX as u128);
        }
        IpAddr::V6(a) => {
            let v = u128::from(a);
            let host = if len == 0 {
                u128::MAX
            } else if len == 128 {
                0
            } else {
                (1u128 << (128 - len)) - 1
            };
            let lo = v & !host;
            set.v6 = RangeSet::from_ranges(vec![(lo, lo | host)], u128::MAX);
        }
    }
    Ok(set.fix())
}

/// Resolves a port expression.
pub(crate) fn parse_ports(s: &str, vars: &Vars) -> Result<PortSet, String> {
    let set = parse_ports_depth(s.trim(), vars, 0)?;
    if set.is_empty() {
        return Err(format!("port \"{s}\" matches nothing"));
    }
    Ok(PortSet::from_set(set))
}

fn parse_ports_depth(s: &str, vars: &Vars, depth: usize) -> Result<RangeSet, String> {
    if depth > MAX_DEPTH {
        return Err(format!("port variables nest too deep at \"{s}\""));
    }
    if s.is_empty() {
        return Err("empty port".into());
    }
    if let Some(rest) = s.strip_prefix('!') {
        return Ok(parse_ports_depth(rest.trim(), vars, depth + 1)?.complement());
    }
    if let Some(inner) = strip_brackets(s) {
        let mut pos = RangeSet::empty(65535);
        let mut neg = RangeSet::empty(65535);
        let mut any_pos = false;
        for item in split_list(inner)? {
            if let Some(r) = item.strip_prefix('!') {
                neg = neg.union(&parse_ports_depth(r.trim(), vars, depth + 1)?);
            } else {
                any_pos = true;
                pos = pos.union(&parse_ports_depth(item, vars, depth + 1)?);
            }
        }
        if !any_pos {
            pos = RangeSet::full(65535);
        }
        return Ok(pos.minus(&neg));
    }
    if let Some(name) = s.strip_prefix('$') {
        let v = vars
            .port
            .get(name)
            .ok_or_else(|| format!("unknown port variable \"${name}\""))?;
        return parse_ports_depth(v.trim(), vars, depth + 1);
    }
    if s == "any" {
        return Ok(RangeSet::full(65535));
    }
    let num = |t: &str| -> Result<u128, String> {
        t.trim()
            .parse::<u16>()
            .map(|v| v as u128)
            .map_err(|_| format!("bad port \"{s}\""))
    };
    let (lo, hi) = match s.split_once(':') {
        Some((a, b)) => {
            let lo = if a.trim().is_empty() { 0 } else { num(a)? };
            let hi = if b.trim().is_empty() { 65535 } else { num(b)? };
            (lo, hi)
        }
        None => {
            let v = num(s)?;
            (v, v)
        }
    };
    if lo > hi {
        return Err(format!("bad port range \"{s}\""));
    }
    Ok(RangeSet::from_ranges(vec![(lo, hi)], 65535))
}

#[cfg(test)]
mod test {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn home_and_external_net() {
        let v = Vars::default();
        let home = parse_addr("$HOME_NET", &v).unwrap();
        let ext = parse_addr("$EXTERNAL_NET", &v).unwrap();
        assert!(home.contains(ip("10.1.2.3")));
        assert!(home.contains(ip("172.31.255.255")));
        assert!(!home.contains(ip("172.32.0.0")));
        assert!(!ext.contains(ip("192.168.1.1")));
        assert!(ext.contains(ip("8.8.8.8")));
        assert!(ext.contains(ip("2001:db8::1")));
        assert!(!home.contains(ip("2001:db8::1")));
    }

    #[test]
    fn nested_lists_and_negation() {
        let v = Vars::default();
        let s = parse_addr("[10.0.0.0/8,![10.1.0.0/16,10.2.3.4]]", &v).unwrap();
        assert!(s.contains(ip("10.3.0.1")));
        assert!(!s.contains(ip("10.1.9.9")));
        assert!(!s.contains(ip("10.2.3.4")));
        assert!(s.contains(ip("10.2.3.5")));
        assert!(!s.contains(ip("11.0.0.1")));
        let only_neg = parse_addr("[!1.2.3.4]", &v).unwrap();
        assert!(only_neg.contains(ip("1.2.3.5")) && !only_neg.contains(ip("1.2.3.4")));
        assert!(parse_addr("[1.2.3.4", &v).is_err());
        assert!(parse_addr("$NOPE", &v).is_err());
        assert!(parse_addr("1.2.3.4/33", &v).is_err());
        assert!(parse_addr("!any", &v).is_err());
        let v6 = parse_addr("2001:db8::/32", &v).unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::1")));
    }

    #[test]
    fn addr_index_lookup() {
        let v = Vars::default();
        let a = parse_addr("[1.2.3.0/24,5.6.7.8]", &v).unwrap();
        let b = parse_addr("[1.2.3.128/25,2001:db8::/64]", &v).unwrap();
        let idx = AddrIndex::build([(&a, 0u32), (&b, 1u32)].into_iter());
        assert_eq!(idx.lookup(ip("1.2.3.1")), &[0]);
        assert_eq!(idx.lookup(ip("1.2.3.200")), &[0, 1]);
        assert_eq!(idx.lookup(ip("5.6.7.8")), &[0]);
        assert!(idx.lookup(ip("5.6.7.9")).is_empty());
        assert!(idx.lookup(ip("0.0.0.0")).is_empty());
        assert_eq!(idx.lookup(ip("2001:db8::5")), &[1]);
        assert!(a.is_narrow() && b.is_narrow());
        assert!(!parse_addr("$EXTERNAL_NET", &v).unwrap().is_narrow());
        assert!(!parse_addr("$HOME_NET", &v).unwrap().is_narrow());
    }

    #[test]
    fn ports() {
        let v = Vars::default();
        let p = parse_ports("[1024:,!8080,$HTTP_PORTS]", &v).unwrap();
        assert!(p.contains(80) && p.contains(1024) && p.contains(65535));
        assert!(!p.contains(8080) && !p.contains(443));
        let q = parse_ports(":1023", &v).unwrap();
        assert!(q.contains(0) && q.contains(1023) && !q.contains(1024));
        let f = parse_ports("$FILE_DATA_PORTS", &v).unwrap();
        assert!(f.contains(110) && f.contains(143) && f.contains(80) && !f.contains(81));
        let s = parse_ports("$SHELLCODE_PORTS", &v).unwrap();
        assert!(!s.contains(80) && s.contains(81));
        assert!(parse_ports("70000", &v).is_err());
        assert!(parse_ports("90:80", &v).is_err());
        assert!(parse_ports("any", &v).unwrap().is_any());
    }
}
