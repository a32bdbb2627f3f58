//! What a load did: counts per type and feed, rejected entries with reasons,
//! warninglist removals. Printed by `vigie intel check`.

use super::IndicatorKind;
use std::collections::BTreeMap;
use std::fmt;

/// Rejected entries kept with their details; the rest are only counted.
pub const MAX_LISTED_REJECTIONS: usize = 100;
/// Distinct reason / skip / feed keys kept; further keys are folded into "(other)".
const MAX_KEYS: usize = 1024;

/// Where in a source an entry was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// The whole source.
    Whole,
    /// 1-based line number (text formats).
    Line(u64),
    /// 0-based index in a JSON array (attributes, STIX objects).
    Index(u64),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Whole => Ok(()),
            Location::Line(n) => write!(f, ":{n}"),
            Location::Index(n) => write!(f, "[{n}]"),
        }
    }
}

/// One refused entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// File or source name.
    pub source: String,
    /// Line or index in the source.
    pub location: Location,
    /// Reason category (e.g. `invalid IP address`).
    pub reason: &'static str,
    /// The offending value or detail, truncated.
    pub detail: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}: {}", self.source, self.location, self.reason)?;
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// Counts and reasons from loading indicator sources and building a set.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    pub(crate) by_kind: [u64; 12],
    pub(crate) by_feed: BTreeMap<String, u64>,
    pub(crate) rejected: Vec<Rejection>,
    pub(crate) rejected_total: u64,
    pub(crate) rejected_by_reason: BTreeMap<&'static str, u64>,
    pub(crate) skipped: BTreeMap<String, u64>,
    pub(crate) warninglist_removed: BTreeMap<String, u64>,
    pub(crate) duplicates: u64,
    pub(crate) removed: u64,
    pub(crate) sources: u64,
}

/// Displays a value quoted and cut to a printable length.
pub(crate) struct Quoted<'a>(pub &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", truncate_detail(self.0))
    }
}

/// Cuts a detail string to a printable length on a char boundary.
pub(crate) fn truncate_detail(s: &str) -> String {
    const MAX: usize = 120;
    let mut out: String = s.chars().take(MAX).collect();
    if s.chars().nth(MAX).is_some() {
        out.push_str("...");
    }
    out
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str, n: u64) {
    if let Some(v) = map.get_mut(key) {
        *v += n;
    } else if map.len() < MAX_KEYS {
        map.insert(key.to_string(), n);
    } else {
        *map.entry("(other)".to_string()).or_insert(0) += n;
    }
}

impl LoadReport {
    /// Counts a rejection; the detail is only formatted for listed ones, so
    /// millions of bad lines cost no formatting.
    pub(crate) fn reject(
        &mut self,
        source: &str,
        location: Location,
        reason: &'static str,
        detail: &dyn fmt::Display,
    ) {
        self.rejected_total += 1;
        *self.rejected_by_reason.entry(reason).or_insert(0) += 1;
        if self.rejected.len() < MAX_LISTED_REJECTIONS {
            self.rejected.push(Rejection {
                source: source.to_string(),
                location,
                reason,
                detail: truncate_detail(&detail.to_string()),
            });
        }
    }

    /// Adds another report (a part's build) to this one.
    pub(crate) fn absorb(&mut self, mut o: LoadReport) {
        for (r, n) in &o.rejected_by_reason {
            *self.rejected_by_reason.entry(r).or_insert(0) += n;
        }
        self.rejected_total += o.rejected_total;
        let room = MAX_LISTED_REJECTIONS.saturating_sub(self.rejected.len());
        self.rejected
            .extend(std::mem::take(&mut o.rejected).into_iter().take(room));
        for (k, n) in &o.skipped {
            bump(&mut self.skipped, k, *n);
        }
        self.sources += o.sources;
        self.absorb_counts(o);
    }

    /// Adds the build counts of another report (what is in the set,
    /// duplicates, removals, warninglist hits), not its rejections and skips.
    pub(crate) fn absorb_counts(&mut self, o: LoadReport) {
        for (c, n) in self.by_kind.iter_mut().zip(o.by_kind) {
            *c += n;
        }
        for (f, n) in &o.by_feed {
            bump(&mut self.by_feed, f, *n);
        }
        for (l, n) in &o.warninglist_removed {
            bump(&mut self.warninglist_removed, l, *n);
        }
        self.duplicates += o.duplicates;
        self.removed += o.removed;
    }

    pub(crate) fn skip(&mut self, reason: &str) {
        bump(&mut self.skipped, reason, 1);
    }

    pub(crate) fn warninglist_hit(&mut self, list: &str, n: u64) {
        bump(&mut self.warninglist_removed, list, n);
    }

    pub(crate) fn count_feed(&mut self, feed: &str, n: u64) {
        bump(&mut self.by_feed, feed, n);
    }

    /// Indicators in the built set (after duplicates, removals and warninglists).
    pub fn loaded(&self) -> u64 {
        self.by_kind.iter().sum()
    }

    /// Indicators of one kind in the built set.
    pub fn count(&self, kind: IndicatorKind) -> u64 {
        self.by_kind[kind as usize]
    }

    /// Indicators per feed in the built set.
    pub fn feeds(&self) -> impl Iterator<Item = (&str, u64)> {
        self.by_feed.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// Number of rejected entries (all of them, not only those listed).
    pub fn rejected_total(&self) -> u64 {
        self.rejected_total
    }

    /// The first [`MAX_LISTED_REJECTIONS`] rejected entries with reasons.
    pub fn rejections(&self) -> &[Rejection] {
        &self.rejected
    }

    /// Rejections counted per reason.
    pub fn rejected_by_reason(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.rejected_by_reason.iter().map(|(k, v)| (*k, *v))
    }

    /// Entries deliberately not loaded (not `to_ids`, types that are not
    /// network indicators, unsupported STIX patterns), counted per reason.
    pub fn skipped(&self) -> impl Iterator<Item = (&str, u64)> {
        self.skipped.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// Total of [`LoadReport::skipped`].
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    /// Indicators removed by each warninglist (by list name).
    pub fn warninglist_removals(&self) -> impl Iterator<Item = (&str, u64)> {
        self.warninglist_removed
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
    }

    /// Total of [`LoadReport::warninglist_removals`].
    pub fn warninglist_removed_total(&self) -> u64 {
        self.warninglist_removed.values().sum()
    }

    /// Entries merged because the same value, feed and event appeared twice.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Sources (files, documents) read.
    pub fn sources(&self) -> u64 {
        self.sources
    }

    /// Indicators dropped by removal or exclusion entries (Zeek `meta.remove`,
    /// `meta.whitelist`).
    pub fn removed(&self) -> u64 {
        self.removed
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.sources > 0 {
            writeln!(f, "sources read: {}", self.sources)?;
        }
        writeln!(f, "indicators by type:")?;
        for kind in IndicatorKind::ALL {
            let n = self.count(kind);
            if n > 0 {
                writeln!(f, "  {:<10} {n}", kind.as_str())?;
            }
        }
        if !self.by_feed.is_empty() {
            writeln!(f, "indicators by feed:")?;
            for (feed, n) in &self.by_feed {
                writeln!(f, "  {feed}: {n}")?;
            }
        }
        if self.duplicates > 0 {
            writeln!(f, "duplicates merged: {}", self.duplicates)?;
        }
        if self.removed > 0 {
            writeln!(
                f,
                "removed by removal or whitelist entries: {}",
                self.removed
            )?;
        }
        if !self.skipped.is_empty() {
            writeln!(f, "skipped (not loadable as network indicators):")?;
            for (why, n) in &self.skipped {
                writeln!(f, "  {why}: {n}")?;
            }
        }
        if !self.warninglist_removed.is_empty() {
            writeln!(f, "warninglist removals:")?;
            for (list, n) in &self.warninglist_removed {
                writeln!(f, "  {list}: {n}")?;
            }
        }
        if self.rejected_total > 0 {
            writeln!(f, "rejected by reason:")?;
            for (why, n) in &self.rejected_by_reason {
                writeln!(f, "  {why}: {n}")?;
            }
            let shown = self.rejected.len() as u64;
            if shown < self.rejected_total {
                writeln!(
                    f,
                    "rejected entries (first {shown} of {}):",
                    self.rejected_total
                )?;
            } else {
                writeln!(f, "rejected entries:")?;
            }
            for r in &self.rejected {
                writeln!(f, "  {r}")?;
            }
        }
        write!(
            f,
            "{} indicators loaded, {} rejected",
            self.loaded(),
            self.rejected_total
        )
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn rejections_are_bounded_but_counted() {
        let mut r = LoadReport::default();
        for i in 0..1000u64 {
            r.reject(
                "feed.csv",
                Location::Line(i + 1),
                "invalid IP address",
                &"x".repeat(500),
            );
        }
        assert_eq!(r.rejected_total(), 1000);
        assert_eq!(r.rejections().len(), MAX_LISTED_REJECTIONS);
        assert!(r.rejections()[0].detail.len() < 130);
        let text = r.to_string();
        assert!(text.contains("feed.csv:1: invalid IP address: xxx"));
        assert!(text.contains("first 100 of 1000"));
        assert!(text.ends_with("0 indicators loaded, 1000 rejected"));
    }

    #[test]
    fn skip_keys_are_bounded() {
        let mut r = LoadReport::default();
        for i in 0..5000 {
            r.skip(&format!("reason {i}"));
        }
        assert_eq!(r.skipped_total(), 5000);
        assert!(r.skipped().count() <= MAX_KEYS + 1);
    }
}
