//! The public indicator set: one independently built part per group of
//! kinds, each shared behind its own `Arc`, and the builder that routes
//! entries to the parts. Splitting by kind lets a reload that replaces most
//! of the set swap it part by part ([`StagedReload`]), so that at most one
//! part is held twice at any time instead of the whole set.

use super::report::{LoadReport, Location, Quoted};
use super::set::{PartBuilder, PartSet};
use super::value::{normalize, IndicatorType, KeyBuf};
use super::warninglist::Warninglist;
use super::{IndicatorKind, Provenance, DEFAULT_MAX_DELTA_PERCENT, DEFAULT_MAX_INDICATORS};
use std::net::IpAddr;
use std::sync::Arc;

use super::layer::{Hit, Hits};
use super::set::SetLayout;

/// The parts of an [`IndicatorSet`], each built, stored and swapped on its
/// own. Every kind belongs to exactly one part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SetPart {
    /// IPv4 addresses and CIDRs.
    Ipv4 = 0,
    /// IPv6 addresses and CIDRs.
    Ipv6 = 1,
    /// Domains.
    Domain = 2,
    /// URLs.
    Url = 3,
    /// File hashes (MD5, SHA-1, SHA-256).
    FileHash = 4,
    /// TLS fingerprints (JA3, JA3S, JA4), certificate SHA-1 and e-mail
    /// addresses.
    Other = 5,
}

/// Number of parts.
const PARTS: usize = 6;

impl SetPart {
    /// Every part, in storage order.
    pub const ALL: [SetPart; PARTS] = [
        SetPart::Ipv4,
        SetPart::Ipv6,
        SetPart::Domain,
        SetPart::Url,
        SetPart::FileHash,
        SetPart::Other,
    ];

    /// The part holding indicators of `kind`.
    pub fn of(kind: IndicatorKind) -> SetPart {
        match kind {
            IndicatorKind::Ipv4 => SetPart::Ipv4,
            IndicatorKind::Ipv6 => SetPart::Ipv6,
            IndicatorKind::Domain => SetPart::Domain,
            IndicatorKind::Url => SetPart::Url,
            IndicatorKind::Md5 | IndicatorKind::Sha1 | IndicatorKind::Sha256 => SetPart::FileHash,
            IndicatorKind::Ja3
            | IndicatorKind::Ja3s
            | IndicatorKind::Ja4
            | IndicatorKind::CertSha1
            | IndicatorKind::Email => SetPart::Other,
        }
    }

    /// Short lowercase name (metrics label).
    pub fn as_str(self) -> &'static str {
        match self {
            SetPart::Ipv4 => "ipv4",
            SetPart::Ipv6 => "ipv6",
            SetPart::Domain => "domain",
            SetPart::Url => "url",
            SetPart::FileHash => "file-hash",
            SetPart::Other => "tls-email",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// An entry given as `ty` may be stored in this part (a domain may be
    /// an IP address; `Auto` may be anything).
    fn may_hold(self, ty: IndicatorType) -> bool {
        use IndicatorType as T;
        match ty {
            T::Ip => matches!(self, SetPart::Ipv4 | SetPart::Ipv6),
            T::Domain | T::Hostname => {
                matches!(self, SetPart::Domain | SetPart::Ipv4 | SetPart::Ipv6)
            }
            T::Url => self == SetPart::Url,
            T::Md5 | T::Sha1 | T::Sha256 | T::FileHash => self == SetPart::FileHash,
            T::Ja3 | T::Ja3s | T::Ja4 | T::CertSha1 | T::Email => self == SetPart::Other,
            T::Auto => true,
        }
    }
}

/// An immutable, indexed set of indicators. `Send + Sync`; share it in an `Arc`.
///
/// It is made of one part per [`SetPart`], each behind its own `Arc`: cloning
/// a set is cheap and shares the parts. A part built from scratch is one
/// layer; a part built by a reload ([`IndicatorSetBuilder::reloading`]) that
/// changed little shares the previous part's base layer and adds a small
/// delta layer and a bit per base record no longer in it; lookups answer as
/// a set built from scratch on the same input would (hits of one value may
/// come in another order). Each lookup reads exactly one part.
#[derive(Clone, Debug)]
pub struct IndicatorSet {
    parts: [Arc<PartSet>; PARTS],
}

impl Default for IndicatorSet {
    fn default() -> Self {
        let empty = Arc::new(PartSet::default());
        IndicatorSet {
            parts: std::array::from_fn(|_| empty.clone()),
        }
    }
}

impl IndicatorSet {
    fn part(&self, p: SetPart) -> &PartSet {
        &self.parts[p.index()]
    }

    /// Number of indicators.
    pub fn len(&self) -> usize {
        self.parts.iter().map(|p| p.len()).sum()
    }

    /// True when the set holds no indicator.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of indicators of one kind.
    pub fn count(&self, kind: IndicatorKind) -> u64 {
        self.part(SetPart::of(kind)).count(kind)
    }

    /// Heap memory held by the set, in bytes (shared layers counted whole).
    pub fn heap_bytes(&self) -> usize {
        self.parts.iter().map(|p| p.heap_bytes()).sum()
    }

    /// Heap memory held by one part, in bytes.
    pub fn part_heap_bytes(&self, p: SetPart) -> usize {
        self.part(p).heap_bytes()
    }

    /// How the set is laid out: base, dead and delta records summed over the
    /// parts.
    pub fn layout(&self) -> SetLayout {
        self.parts.iter().fold(SetLayout::default(), |acc, p| {
            let l = p.layout();
            SetLayout {
                base: acc.base + l.base,
                dead: acc.dead + l.dead,
                delta: acc.delta + l.delta,
            }
        })
    }

    /// True when every non-empty part of `other` shares its base layer with
    /// the same part of `self` (one was reloaded from the other without a
    /// rebuild).
    pub fn shares_base_with(&self, other: &IndicatorSet) -> bool {
        self.parts
            .iter()
            .zip(&other.parts)
            .all(|(a, b)| b.layout().base == 0 || a.shares_base_with(b))
    }

    /// True when part `p` of `self` and `other` is the same object (neither
    /// was rebuilt nor reloaded in between).
    pub fn same_part(&self, other: &IndicatorSet, p: SetPart) -> bool {
        Arc::ptr_eq(&self.parts[p.index()], &other.parts[p.index()])
    }

    /// Indicators for an IP address: the most specific prefix (address or
    /// CIDR) holding it that has a live indicator. The sensor calls this once
    /// per flow for each endpoint, not per packet. IPv4-mapped IPv6
    /// addresses are looked up as IPv4.
    #[inline]
    pub fn lookup_ip(&self, ip: IpAddr, now: u64) -> Hits<'_> {
        let v4 = match ip {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(a) => a.to_ipv4_mapped(),
        };
        match v4 {
            Some(a) => self.part(SetPart::Ipv4).lookup_ip(IpAddr::V4(a), now),
            None => self.part(SetPart::Ipv6).lookup_ip(ip, now),
        }
    }

    /// Indicators for a domain name (DNS query or answer, HTTP host, TLS SNI):
    /// an exact indicator for the name, else the closest parent domain whose
    /// indicator covers subdomains. Case-insensitive; one trailing dot ignored.
    #[inline]
    pub fn lookup_domain(&self, name: &[u8], now: u64) -> Hits<'_> {
        self.part(SetPart::Domain).lookup_domain(name, now)
    }

    /// Indicators for an HTTP request: `host` (Host header, port allowed) and
    /// `target` (`/path?query`, or an absolute `http://host/path` target,
    /// whose host then wins). Tries host+path+query, then host+path, so a
    /// URL indicator without a query matches any query.
    #[inline]
    pub fn lookup_url(&self, host: &[u8], target: &[u8], now: u64) -> Hits<'_> {
        self.part(SetPart::Url).lookup_url(host, target, now)
    }

    /// Indicators for a raw file digest (16 bytes MD5, 20 SHA-1, 32 SHA-256).
    pub fn lookup_hash(&self, digest: &[u8], now: u64) -> Hits<'_> {
        self.part(SetPart::FileHash).lookup_hash(digest, now)
    }

    /// Like [`IndicatorSet::lookup_hash`], for a hex digest.
    pub fn lookup_hash_hex(&self, hex: &str, now: u64) -> Hits<'_> {
        self.part(SetPart::FileHash).lookup_hash_hex(hex, now)
    }

    /// Indicators for a JA3 client fingerprint (MD5 hex, any case).
    pub fn lookup_ja3(&self, ja3: &str, now: u64) -> Hits<'_> {
        self.part(SetPart::Other).lookup_ja3(ja3, now)
    }

    /// Indicators for a JA3S server fingerprint (MD5 hex, any case).
    pub fn lookup_ja3s(&self, ja3s: &str, now: u64) -> Hits<'_> {
        self.part(SetPart::Other).lookup_ja3s(ja3s, now)
    }

    /// Indicators for a JA4 fingerprint (any case).
    pub fn lookup_ja4(&self, ja4: &str, now: u64) -> Hits<'_> {
        self.part(SetPart::Other).lookup_ja4(ja4, now)
    }

    /// Indicators for the raw SHA-1 (20 bytes) of a TLS certificate.
    pub fn lookup_cert_sha1(&self, sha1: &[u8], now: u64) -> Hits<'_> {
        self.part(SetPart::Other).lookup_cert_sha1(sha1, now)
    }

    /// Indicators for an e-mail address (case-insensitive).
    pub fn lookup_email(&self, addr: &[u8], now: u64) -> Hits<'_> {
        self.part(SetPart::Other).lookup_email(addr, now)
    }

    /// Every indicator, part by part; within a part the base layer's in
    /// storage order (kind, then value), then the delta's.
    pub fn iter(&self) -> impl Iterator<Item = Hit<'_>> {
        self.parts.iter().flat_map(|p| p.iter())
    }
}

/// Builds an [`IndicatorSet`]: loaders call [`IndicatorSetBuilder::add`] for
/// each entry; [`IndicatorSetBuilder::build`] applies removals and
/// warninglists, merges duplicates and indexes everything, part by part.
#[derive(Debug)]
pub struct IndicatorSetBuilder {
    parts: Vec<PartBuilder>,
    /// Only this part's entries are stored (a pass of a staged reload); the
    /// others are validated and counted.
    only: Option<SetPart>,
    /// With `only`: the first pass never reached the indicator cap, so
    /// entries that cannot belong to that part are skipped unread.
    uncapped: bool,
    /// The set being reloaded.
    previous: Option<IndicatorSet>,
    staged: bool,
    max_delta_percent: usize,
    report: LoadReport,
    buf: Box<KeyBuf>,
    added: usize,
    max_indicators: usize,
}

impl Default for IndicatorSetBuilder {
    fn default() -> Self {
        IndicatorSetBuilder::new()
    }
}

impl IndicatorSetBuilder {
    /// An empty builder with the default indicator cap.
    pub fn new() -> IndicatorSetBuilder {
        IndicatorSetBuilder {
            parts: (0..PARTS).map(|_| PartBuilder::new()).collect(),
            only: None,
            uncapped: false,
            previous: None,
            staged: false,
            max_delta_percent: DEFAULT_MAX_DELTA_PERCENT,
            report: LoadReport::default(),
            buf: Box::new(KeyBuf::new()),
            added: 0,
            max_indicators: DEFAULT_MAX_INDICATORS,
        }
    }

    /// A builder for the next generation of `current` (a reload). Entries
    /// that come again unchanged (same kind, value, feed, event, tags, TLP,
    /// confidence and times) are marked in `current`'s base layers instead of
    /// being stored again; [`IndicatorSetBuilder::build`] then shares each
    /// part's base with a small delta layer when little of that part changed
    /// (see [`IndicatorSetBuilder::max_delta_percent`]), and builds a fresh
    /// single-layer part otherwise. Either way the result answers lookups as
    /// a set built by [`IndicatorSetBuilder::new`] from the same input.
    ///
    /// Memory: a reload that shares the bases holds only the changed entries
    /// and two bits per base record; a rebuild of a part holds its old and
    /// new versions at once. [`IndicatorSetBuilder::staged`] bounds that to
    /// one part at a time.
    pub fn reloading(current: &IndicatorSet) -> IndicatorSetBuilder {
        let mut b = IndicatorSetBuilder::new();
        b.parts = current
            .parts
            .iter()
            .map(|p| PartBuilder::reloading(p))
            .collect();
        b.previous = Some(current.clone());
        b
    }

    /// For a reload ([`IndicatorSetBuilder::reloading`]): the parts keep
    /// sharing their old bases while the delta records plus the base records
    /// no longer present, over the whole set, stay within `percent` of the
    /// bases (default 25); past that every part that changed is rebuilt as
    /// one layer. 0 rebuilds on any change.
    pub fn max_delta_percent(mut self, percent: usize) -> IndicatorSetBuilder {
        self.max_delta_percent = percent;
        for p in &mut self.parts {
            p.max_delta_percent(percent);
        }
        self
    }

    /// For a reload: build the parts that must be rebuilt whole one at a
    /// time, each by a pass of its own over the sources, and publish each as
    /// soon as it is built ([`IndicatorSetBuilder::build_staged`],
    /// [`StagedReload`]). This pass then only validates and counts the
    /// entries of those parts (their stored entries are freed as soon as a
    /// part passes the delta limit), so the reload never holds more than one
    /// part twice.
    pub fn staged(mut self) -> IndicatorSetBuilder {
        self.staged = true;
        for p in &mut self.parts {
            p.staged();
        }
        self
    }

    /// Caps the number of indicators; entries past the cap are rejected
    /// ("indicator limit reached") so a huge feed cannot exhaust memory.
    pub fn max_indicators(mut self, n: usize) -> IndicatorSetBuilder {
        self.max_indicators = n;
        for p in &mut self.parts {
            p.max_indicators(n);
        }
        self
    }

    /// Entries added so far (before duplicates and warninglists).
    pub fn len(&self) -> usize {
        self.added
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.added == 0
    }

    /// The loaders' report so far (rejections and skips).
    pub fn report(&self) -> &LoadReport {
        &self.report
    }

    /// Adds a warninglist applied at [`IndicatorSetBuilder::build`] to every
    /// indicator, whenever it was added.
    pub fn add_warninglist(&mut self, list: Warninglist) {
        let list = Arc::new(list);
        for p in &mut self.parts {
            p.add_warninglist(list.clone());
        }
    }

    /// Records a refused entry (for loaders: the reason category and detail).
    pub fn reject(&mut self, source: &str, location: Location, reason: &'static str, detail: &str) {
        self.report.reject(source, location, reason, &detail);
    }

    /// Counts an entry deliberately not loaded, by reason.
    pub fn skip(&mut self, reason: &str) {
        self.report.skip(reason);
    }

    /// Counts one source (file, document) read.
    pub fn count_source(&mut self) {
        self.report.sources += 1;
    }

    fn stores(&self, p: SetPart) -> bool {
        self.only.is_none_or(|o| o == p)
    }

    /// Validates and adds one indicator. On a bad value the entry is counted
    /// as rejected with `source` and `location`, and `false` is returned.
    pub fn add(
        &mut self,
        ty: IndicatorType,
        value: &str,
        prov: &Provenance<'_>,
        source: &str,
        location: Location,
    ) -> bool {
        if self.uncapped && self.only.is_some_and(|p| !p.may_hold(ty)) {
            return true;
        }
        let norm = match normalize(ty, value, &mut self.buf) {
            Ok(n) => n,
            Err(e) => {
                self.report
                    .reject(source, location, e.as_str(), &Quoted(value));
                return false;
            }
        };
        if self.added >= self.max_indicators {
            self.report
                .reject(source, location, "indicator limit reached", &Quoted(value));
            return false;
        }
        let p = SetPart::of(norm.kind);
        if self.stores(p) {
            let Some(part) = self.parts.get_mut(p.index()) else {
                return false;
            };
            if !part.add_norm(norm, self.buf.as_bytes(), prov, source, location) {
                return false;
            }
        }
        self.added += 1;
        true
    }

    /// Registers a removal: at build, indicators of this value and feed are
    /// dropped (Zeek `meta.remove`). Returns false if the value is invalid.
    pub fn remove(&mut self, ty: IndicatorType, value: &str, feed: &str) -> bool {
        if self.uncapped && self.only.is_some_and(|p| !p.may_hold(ty)) {
            return true;
        }
        let Ok(norm) = normalize(ty, value, &mut self.buf) else {
            return false;
        };
        let p = SetPart::of(norm.kind);
        match self.parts.get_mut(p.index()) {
            Some(part) if self.only.is_none_or(|o| o == p) => {
                part.remove_norm(norm.kind, self.buf.as_bytes(), feed)
            }
            _ => true,
        }
    }

    /// Registers an exclusion (allow-list entry, Zeek `meta.whitelist`): at
    /// build, indicators of this value are dropped whatever their feed.
    /// Returns false if the value is invalid.
    pub fn exclude(&mut self, ty: IndicatorType, value: &str) -> bool {
        if self.uncapped && self.only.is_some_and(|p| !p.may_hold(ty)) {
            return true;
        }
        let Ok(norm) = normalize(ty, value, &mut self.buf) else {
            return false;
        };
        let p = SetPart::of(norm.kind);
        if self.stores(p) {
            if let Some(part) = self.parts.get_mut(p.index()) {
                part.exclude_norm(norm.kind, self.buf.as_bytes());
            }
        }
        true
    }

    /// For a reload: layer or rebuild, decided over the whole set as one
    /// set of a single part would.
    fn decide(&mut self) {
        if self.previous.is_none() {
            return;
        }
        let (mut changed, mut base) = (0usize, 0usize);
        for p in &mut self.parts {
            let (c, b) = p.settle();
            changed = changed.saturating_add(c);
            base = base.saturating_add(b);
        }
        let rebuild = changed.saturating_mul(100) > base.saturating_mul(self.max_delta_percent);
        for p in &mut self.parts {
            p.decide_rebuild(rebuild);
        }
    }

    /// Builds the set and returns it with the final report. Parts are built
    /// one after the other, each freeing its pending entries as it goes.
    /// A [`staged`](IndicatorSetBuilder::staged) builder should be finished
    /// with [`IndicatorSetBuilder::build_staged`]: here the parts it would
    /// rebuild by passes of their own stay the old ones (counted as skips).
    pub fn build(mut self) -> (IndicatorSet, LoadReport) {
        if self.staged {
            return self.build_staged().finish();
        }
        self.decide();
        let mut report = self.report;
        let mut parts = Vec::with_capacity(PARTS);
        for p in self.parts {
            let (set, r) = p.build();
            report.absorb(r);
            parts.push(Arc::new(set));
        }
        let set = IndicatorSet {
            parts: std::array::from_fn(|i| parts.get(i).cloned().unwrap_or_default()),
        };
        (set, report)
    }

    /// Builds what this pass can (for a [`staged`](IndicatorSetBuilder::staged)
    /// reload): the parts that changed little, as [`IndicatorSetBuilder::build`]
    /// would; the parts that must be rebuilt whole stay the old ones in
    /// [`StagedReload::set`] until [`StagedReload::install`] replaces each.
    pub fn build_staged(mut self) -> StagedReload {
        self.decide();
        let IndicatorSetBuilder {
            parts: builders,
            previous,
            report: mut load_report,
            max_indicators,
            added,
            ..
        } = self;
        let mut parts = previous.unwrap_or_default().parts;
        let mut todo = Vec::new();
        let mut build_report = LoadReport::default();
        for (i, b) in builders.into_iter().enumerate() {
            let part = SetPart::ALL.get(i).copied().unwrap_or(SetPart::Other);
            let expected = b.expected();
            match b.build_staged() {
                Some((set, r)) => {
                    build_report.absorb(r);
                    if let Some(slot) = parts.get_mut(i) {
                        *slot = Arc::new(set);
                    }
                }
                None => todo.push((part, expected)),
            }
        }
        // The report keeps the loaders' rejections and skips of this pass;
        // the parts built later add their counts.
        load_report.absorb(build_report);
        StagedReload {
            set: IndicatorSet { parts },
            todo,
            report: load_report,
            max_indicators,
            capped: added >= max_indicators,
            kept_old: Vec::new(),
        }
    }
}

/// A reload swapped part by part (see [`IndicatorSetBuilder::staged`]).
///
/// The first pass over the sources validated every entry (a source that
/// fails to load fails the whole reload before anything is published) and
/// built the parts that changed little. [`StagedReload::set`] is the set to
/// publish now: those new parts with the old versions of the others. Then,
/// for each part still to do ([`StagedReload::next_part`]), the caller loads
/// the sources again into [`StagedReload::part_builder`], which stores only
/// that part's entries, hands it to [`StagedReload::install`] and publishes
/// [`StagedReload::set`] again, so the old part can be freed before the next
/// one is built. Between two publications, lookups of different kinds may
/// answer from different generations.
#[derive(Debug)]
pub struct StagedReload {
    set: IndicatorSet,
    /// Parts still to build, with (entries, value bytes) counted for each
    /// by the first pass.
    todo: Vec<(SetPart, (usize, usize))>,
    report: LoadReport,
    max_indicators: usize,
    /// The first pass reached the indicator cap.
    capped: bool,
    kept_old: Vec<SetPart>,
}

impl StagedReload {
    /// The set as built so far (cheap: the parts are shared).
    pub fn set(&self) -> IndicatorSet {
        self.set.clone()
    }

    /// The next part to build by a pass of its own, if any.
    pub fn next_part(&self) -> Option<SetPart> {
        self.todo.first().map(|t| t.0)
    }

    /// Parts still to build.
    pub fn parts_left(&self) -> usize {
        self.todo.len()
    }

    /// A builder for the pass of the next part: load every source into it,
    /// then give it to [`StagedReload::install`]. It validates and counts
    /// every entry (so the indicator cap falls where a full build puts it)
    /// but stores only that part's.
    pub fn part_builder(&self) -> Option<IndicatorSetBuilder> {
        let &(p, (records, bytes)) = self.todo.first()?;
        let mut b = IndicatorSetBuilder::new().max_indicators(self.max_indicators);
        b.only = Some(p);
        b.uncapped = !self.capped;
        if let Some(part) = b.parts.get_mut(p.index()) {
            part.reserve(records, bytes);
        }
        Some(b)
    }

    /// Builds the part `b` was loaded for and puts it in the set, dropping
    /// this reload's hold on the old part.
    pub fn install(&mut self, b: IndicatorSetBuilder) {
        let Some(p) = b.only else {
            return;
        };
        if self.next_part() != Some(p) {
            return;
        }
        self.todo.remove(0);
        let mut builders = b.parts;
        if p.index() >= builders.len() {
            return;
        }
        let part = builders.swap_remove(p.index());
        drop(builders);
        let (set, r) = part.build();
        self.report.absorb_counts(r);
        // This reload's hold on the old part ends here; the caller's
        // publication of the set ends the workers' once they take it.
        self.set.parts[p.index()] = Arc::new(set);
    }

    /// Keeps the old version of the next part (its pass failed: a source
    /// could not be read again); counted in the report's skips.
    pub fn keep_old(&mut self, why: &str) {
        if let Some(p) = self.next_part() {
            self.todo.remove(0);
            self.kept_old.push(p);
            self.report.skip(&format!(
                "staged reload: {} part kept old: {why}",
                p.as_str()
            ));
            for kind in IndicatorKind::ALL {
                if SetPart::of(kind) == p {
                    self.report.by_kind[kind as usize] = self.set.count(kind);
                }
            }
        }
    }

    /// Parts whose old version was kept ([`StagedReload::keep_old`]).
    pub fn kept_old(&self) -> &[SetPart] {
        &self.kept_old
    }

    /// The final set and report. Parts not built yet stay the old ones
    /// (counted in the report's skips).
    pub fn finish(mut self) -> (IndicatorSet, LoadReport) {
        while self.next_part().is_some() {
            self.keep_old("reload finished before this part's pass");
        }
        (self.set, self.report)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn entries(salt: &str, n: usize) -> Vec<(IndicatorType, String)> {
        (0..n)
            .map(|i| match i % 5 {
                0 => (
                    IndicatorType::Ip,
                    format!(
                        "{}.{}.{}.{}",
                        10 + salt.len(),
                        i >> 16,
                        (i >> 8) & 255,
                        i & 255
                    ),
                ),
                1 => (
                    IndicatorType::Ip,
                    format!("2001:db8:{}::{:x}", salt.len(), i),
                ),
                2 => (IndicatorType::Domain, format!("{salt}d{i}.example.com")),
                3 => (IndicatorType::Url, format!("http://{salt}h{i}.test/p")),
                _ => (
                    IndicatorType::Sha256,
                    format!("{:064x}", i * 7 + salt.len()),
                ),
            })
            .collect()
    }

    fn load(b: &mut IndicatorSetBuilder, feed: &str, input: &[(IndicatorType, String)]) {
        let prov = Provenance {
            feed,
            ..Default::default()
        };
        for (ty, v) in input {
            assert!(b.add(*ty, v, &prov, feed, Location::Whole), "{v}");
        }
    }

    /// Feed of the hit for `probe` (one entry of the input), or "".
    fn feed_of(set: &IndicatorSet, e: &(IndicatorType, String)) -> String {
        let hits: Vec<String> = match e.0 {
            IndicatorType::Ip => set
                .lookup_ip(e.1.parse().unwrap(), 0)
                .map(|h| h.feed().to_string())
                .collect(),
            IndicatorType::Domain => set
                .lookup_domain(e.1.as_bytes(), 0)
                .map(|h| h.feed().to_string())
                .collect(),
            IndicatorType::Url => {
                let rest = e.1.strip_prefix("http://").unwrap();
                let (host, path) = rest.split_at(rest.find('/').unwrap());
                set.lookup_url(host.as_bytes(), path.as_bytes(), 0)
                    .map(|h| h.feed().to_string())
                    .collect()
            }
            _ => set
                .lookup_hash_hex(&e.1, 0)
                .map(|h| h.feed().to_string())
                .collect(),
        };
        assert!(hits.len() <= 1, "{hits:?}");
        hits.into_iter().next().unwrap_or_default()
    }

    /// A staged reload of a completely new set: after each part is
    /// installed, every lookup answers from either the whole old part or
    /// the whole new part of its kind, never a mix or nothing, and the end
    /// state equals a build from scratch.
    #[test]
    fn staged_swap_answers_old_or_new_per_kind() {
        let old_in = entries("", 1000);
        let new_in = entries("n", 1000);
        let mut b = IndicatorSetBuilder::new();
        load(&mut b, "old", &old_in);
        let (old, _) = b.build();
        let mut b = IndicatorSetBuilder::reloading(&old).staged();
        load(&mut b, "new", &new_in);
        let mut st = b.build_staged();
        assert_eq!(st.parts_left(), 5, "every non-empty part is rebuilt");
        let mut done = Vec::new();
        loop {
            let set = st.set();
            for (o, n) in old_in.iter().zip(&new_in) {
                let p = match o.0 {
                    IndicatorType::Ip if o.1.contains(':') => SetPart::Ipv6,
                    IndicatorType::Ip => SetPart::Ipv4,
                    IndicatorType::Domain => SetPart::Domain,
                    IndicatorType::Url => SetPart::Url,
                    _ => SetPart::FileHash,
                };
                let swapped = done.contains(&p);
                let (fo, fn_) = (feed_of(&set, o), feed_of(&set, n));
                if swapped {
                    assert_eq!((fo.as_str(), fn_.as_str()), ("", "new"), "{p:?} {o:?}");
                } else {
                    assert_eq!((fo.as_str(), fn_.as_str()), ("old", ""), "{p:?} {o:?}");
                }
            }
            let Some(p) = st.next_part() else { break };
            let mut pb = st.part_builder().unwrap();
            load(&mut pb, "new", &new_in);
            st.install(pb);
            done.push(p);
        }
        let (got, report) = st.finish();
        let mut b = IndicatorSetBuilder::new();
        load(&mut b, "new", &new_in);
        let (want, want_report) = b.build();
        assert_eq!(got.len(), want.len());
        assert_eq!(report.loaded(), want_report.loaded());
        assert_eq!(
            report.feeds().collect::<Vec<_>>(),
            want_report.feeds().collect::<Vec<_>>()
        );
        for k in IndicatorKind::ALL {
            assert_eq!(report.count(k), want_report.count(k), "{k}");
        }
        // The old set, still held, answers as before.
        assert_eq!(feed_of(&old, &old_in[2]), "old");
    }

    /// A staged reload that changes little builds every part in its first
    /// pass, sharing the old bases.
    #[test]
    fn staged_small_change_needs_no_extra_pass() {
        let mut input = entries("", 1000);
        let mut b = IndicatorSetBuilder::new();
        load(&mut b, "f", &input);
        let (old, _) = b.build();
        for e in input.iter_mut().step_by(20) {
            if e.0 == IndicatorType::Domain {
                e.1 = format!("x{}", e.1);
            }
        }
        let mut b = IndicatorSetBuilder::reloading(&old).staged();
        load(&mut b, "f", &input);
        let st = b.build_staged();
        assert_eq!(st.parts_left(), 0);
        let (set, _) = st.finish();
        assert!(set.shares_base_with(&old));
        assert_eq!(set.len(), 1000);
    }

    /// The indicator cap falls on the same entries in a part's own pass as
    /// in a full build.
    #[test]
    fn staged_pass_keeps_the_cap_of_a_full_build() {
        let input = entries("", 100);
        let mut b = IndicatorSetBuilder::new();
        load(&mut b, "f", &entries("o", 100));
        let (old, _) = b.build();
        let mut b = IndicatorSetBuilder::reloading(&old)
            .max_indicators(50)
            .staged();
        let prov = Provenance {
            feed: "f",
            ..Default::default()
        };
        for (ty, v) in &input {
            b.add(*ty, v, &prov, "f", Location::Whole);
        }
        let mut st = b.build_staged();
        while st.next_part().is_some() {
            let mut pb = st.part_builder().unwrap();
            for (ty, v) in &input {
                pb.add(*ty, v, &prov, "f", Location::Whole);
            }
            st.install(pb);
        }
        let (got, _) = st.finish();
        let mut b = IndicatorSetBuilder::new().max_indicators(50);
        for (ty, v) in &input {
            b.add(*ty, v, &prov, "f", Location::Whole);
        }
        let (want, _) = b.build();
        assert_eq!(got.len(), 50);
        for e in &input {
            assert_eq!(feed_of(&got, e), feed_of(&want, e), "{e:?}");
        }
    }
}
