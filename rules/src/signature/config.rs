//! `classification.config` and `threshold.config`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::addr::{parse_addr, AddrSet, Vars};
use super::rule::{parse_threshold_pub, Action, Threshold, Track};

/// The built-in table: Emerging Threats Open's classification.config (BSD).
const DEFAULT_CLASSIFICATION: &str = include_str!("default-classification.config");

/// classtype -> (description used as `alert.category`, priority used as `alert.severity`).
#[derive(Debug, Clone)]
pub struct Classifications {
    map: HashMap<String, (Arc<str>, u8)>,
}

impl Default for Classifications {
    fn default() -> Self {
        let mut c = Classifications {
            map: HashMap::new(),
        };
        // The embedded table is well-formed; a bad line would show as an empty table in tests.
        let _ = c.parse(DEFAULT_CLASSIFICATION);
        c
    }
}

impl Classifications {
    /// An empty table.
    pub fn empty() -> Self {
        Classifications {
            map: HashMap::new(),
        }
    }

    /// Adds (or replaces) the entries of a `classification.config` text.
    /// Returns the lines it could not read, as `(line, reason)`.
    pub fn parse(&mut self, text: &str) -> Vec<(usize, String)> {
        let mut errors = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let Some(rest) = l.strip_prefix("config classification:") else {
                errors.push((i + 1, format!("expected \"config classification: name,description,priority\", got \"{l}\"")));
                continue;
            };
            let parts: Vec<&str> = rest.split(',').map(str::trim).collect();
            if parts.len() != 3 || parts[0].is_empty() {
                errors.push((
                    i + 1,
                    format!(
                        "expected name,description,priority, got \"{}\"",
                        rest.trim()
                    ),
                ));
                continue;
            }
            match parts[2].parse::<u8>() {
                Ok(p) if p > 0 => {
                    self.map
                        .insert(parts[0].to_string(), (Arc::from(parts[1]), p));
                }
                _ => errors.push((i + 1, format!("bad priority \"{}\"", parts[2]))),
            }
        }
        errors
    }

    /// Looks a classtype up.
    pub fn get(&self, name: &str) -> Option<(Arc<str>, u8)> {
        self.map.get(name).cloned()
    }

    /// Number of classtypes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// One `suppress` line.
#[derive(Debug, Clone)]
pub(crate) struct Suppress {
    pub(crate) gid: u32,
    pub(crate) sid: u32,
    /// `None`: suppress everything from the rule.
    pub(crate) by: Option<(Track, AddrSet)>,
}

/// One `rate_filter` line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RateFilter {
    pub(crate) track: Track,
    pub(crate) count: u64,
    pub(crate) seconds: u64,
    pub(crate) new_action: Action,
    pub(crate) timeout: u64,
}

/// Parsed `threshold.config`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ThresholdConfig {
    pub(crate) suppress: Vec<Suppress>,
    /// (gid, sid) -> threshold replacing the rule's own; sid 0 = every rule of the gid.
    pub(crate) thresholds: HashMap<(u32, u32), Threshold>,
    pub(crate) rate_filters: HashMap<(u32, u32), RateFilter>,
}

fn kv_list(rest: &str) -> Vec<(&str, &str)> {
    rest.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.split_once(char::is_whitespace)
                .map(|(k, v)| (k.trim(), v.trim()))
                .unwrap_or((p, ""))
        })
        .collect()
}

impl ThresholdConfig {
    /// Adds the lines of a threshold.config text; returns `(line, reason)` for lines it rejects.
    pub(crate) fn parse(&mut self, text: &str, vars: &Vars) -> Vec<(usize, String)> {
        let mut errors = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            if let Err(e) = self.line(l, vars) {
                errors.push((i + 1, e));
            }
        }
        errors
    }

    fn line(&mut self, l: &str, vars: &Vars) -> Result<(), String> {
        let (kind, rest) = l
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("unknown line \"{l}\""))?;
        let kv = kv_list(rest);
        let get = |k: &str| kv.iter().find(|(a, _)| *a == k).map(|(_, v)| *v);
        let num = |k: &str| -> Result<u64, String> {
            let v = get(k).ok_or_else(|| format!("{kind}: missing {k}"))?;
            v.parse().map_err(|_| format!("{kind}: bad {k} \"{v}\""))
        };
        let gid = num("gen_id")? as u32;
        let sid = num("sig_id")? as u32;
        let track = |v: Option<&str>| -> Result<Track, String> {
            Ok(match v {
                Some("by_src") => Track::Source,
                Some("by_dst") => Track::Destination,
                Some("by_rule") => Track::Rule,
                Some("by_both") => Track::Pair,
                Some("by_flow") => Track::Flow,
                Some(o) => return Err(format!("{kind}: bad track \"{o}\"")),
                None => return Err(format!("{kind}: missing track")),
            })
        };
        match kind {
            "suppress" => {
                let by = match get("track") {
                    None => None,
                    Some(t) => {
                        let tr = track(Some(t))?;
                        let ip = get("ip").ok_or("suppress: track needs ip")?;
                        Some((tr, parse_addr(ip, vars)?))
                    }
                };
                self.suppress.push(Suppress { gid, sid, by });
            }
            "threshold" | "event_filter" => {
                let t = parse_threshold_pub(
                    rest.split_once(',')
                        .and_then(|(_, r)| r.split_once(','))
                        .map(|(_, r)| r)
                        .unwrap_or(""),
                )?;
                self.thresholds.insert((gid, sid), t);
            }
            "rate_filter" => {
                let new_action = get("new_action").ok_or("rate_filter: missing new_action")?;
                let new_action = Action::from_name(new_action)
                    .ok_or_else(|| format!("rate_filter: bad new_action \"{new_action}\""))?;
                self.rate_filters.insert(
                    (gid, sid),
                    RateFilter {
                        track: track(get("track"))?,
                        count: num("count")?,
                        seconds: num("seconds")?,
                        new_action,
                        timeout: num("timeout")?,
                    },
                );
            }
            o => return Err(format!("unknown directive \"{o}\"")),
        }
        Ok(())
    }

    pub(crate) fn suppressed(&self, gid: u32, sid: u32, src: IpAddr, dst: IpAddr) -> bool {
        self.suppress.iter().any(|s| {
            s.gid == gid
                && (s.sid == sid || s.sid == 0)
                && match &s.by {
                    None => true,
                    Some((Track::Source, set)) => set.contains(src),
                    Some((Track::Destination, set)) => set.contains(dst),
                    Some((_, set)) => set.contains(src) || set.contains(dst),
                }
        })
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn default_table_has_et_classes() {
        let c = Classifications::default();
        assert!(c.len() >= 40);
        let (desc, prio) = c.get("trojan-activity").unwrap();
        assert_eq!(&*desc, "A Network Trojan was detected");
        assert_eq!(prio, 1);
        assert_eq!(c.get("bad-unknown").unwrap().1, 2);
        assert!(c.get("nope").is_none());
    }

    #[test]
    fn classification_errors_are_reported() {
        let mut c = Classifications::empty();
        let e = c.parse("config classification: a,A,1\nconfig classification: b,B\nfoo\nconfig classification: c,C,x\n");
        assert_eq!(c.len(), 1);
        assert_eq!(e.iter().map(|(l, _)| *l).collect::<Vec<_>>(), vec![2, 3, 4]);
    }

    #[test]
    fn threshold_config_lines() {
        let mut t = ThresholdConfig::default();
        let v = Vars::default();
        let e = t.parse(
            "suppress gen_id 1, sig_id 2002087, track by_src, ip 10.1.1.54\n\
             suppress gen_id 1, sig_id 2003614\n\
             threshold gen_id 1, sig_id 10, type limit, track by_src, count 1, seconds 60\n\
             event_filter gen_id 1, sig_id 11, type both, track by_dst, count 2, seconds 10\n\
             rate_filter gen_id 1, sig_id 12, track by_rule, count 10, seconds 1, new_action drop, timeout 5\n\
             bogus gen_id 1\n",
            &v,
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(t.suppress.len(), 2);
        let a: IpAddr = "10.1.1.54".parse().unwrap();
        let b: IpAddr = "10.1.1.55".parse().unwrap();
        assert!(t.suppressed(1, 2002087, a, b));
        assert!(!t.suppressed(1, 2002087, b, a));
        assert!(t.suppressed(1, 2003614, b, a));
        assert_eq!(t.thresholds.len(), 2);
        assert_eq!(t.rate_filters[&(1, 12)].new_action, Action::Drop);
    }
}
