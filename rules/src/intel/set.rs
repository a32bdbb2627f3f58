//! The indicator set (one layer, or a shared base with a delta after a
//! reload), its builder, and the lookups.

use super::index::{hash_bytes, SuffixHasher};
use super::ip::{RangeTable, V4Filter, NONE};
use super::layer::{
    keyed_kind, secs, Bits, Layer, PrefixChain, Record, StrTable, KEY_HDR, NO_CONFIDENCE,
    REF_GROUP, SUBDOMAINS,
};
use super::report::{LoadReport, Location};
use super::value::{decode_hex, url_key, KeyBuf, Normalized};
use super::warninglist::Warninglist;
use super::{feed_sid, IndicatorKind, Provenance};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

pub use super::layer::{Hit, Hits, IndicatorValue};

/// Default share of the base (percent) that a reload's delta and dropped base
/// records may reach before the set is rebuilt as one layer.
pub const DEFAULT_MAX_DELTA_PERCENT: usize = 25;

/// Build-time interner feeding a [`StrTable`].
#[derive(Debug, Default)]
struct Interner {
    map: HashMap<Box<str>, u32>,
    table: StrTable,
}

impl Interner {
    fn intern(&mut self, s: &str) -> Option<u32> {
        if let Some(&i) = self.map.get(s) {
            return Some(i);
        }
        let i = u32::try_from(self.table.ends.len()).ok()?;
        self.table.text.push_str(s);
        let end = u32::try_from(self.table.text.len()).ok()?;
        self.table.ends.push(end);
        self.map.insert(s.into(), i);
        Some(i)
    }

    fn get(&self, s: &str) -> Option<u32> {
        self.map.get(s).copied()
    }

    fn len(&self) -> usize {
        self.table.ends.len()
    }
}

/// Builds one part of an indicator set (the kinds of one [`SetPart`](super::SetPart)):
/// the public builder routes each normalised entry to its part's
/// [`PartBuilder::add_norm`]; [`PartBuilder::build`] applies removals and
/// warninglists, merges duplicates and indexes everything.
#[derive(Debug)]
pub(super) struct PartBuilder {
    arena: Vec<u8>,
    pending: Vec<Record>,
    feeds: Interner,
    events: Interner,
    tags: Interner,
    tagsets: HashMap<Vec<u32>, u32>,
    tagset_items: Vec<u32>,
    tagset_ends: Vec<u32>,
    removals: HashSet<(u8, Vec<u8>, u16)>,
    exclusions: HashSet<(u8, Vec<u8>)>,
    warninglists: Vec<Arc<Warninglist>>,
    report: LoadReport,
    max_indicators: usize,
    /// Entries accepted (kept in `pending` or found unchanged in the reference).
    added: usize,
    /// The set being reloaded, when building its next generation.
    reference: Option<Reference>,
    /// A reload keeps the reference's base while the delta and the base
    /// records dropped stay within this percentage of the base.
    max_delta_percent: usize,
    /// Staged reload ([`PartBuilder::staged`]): when this part would be
    /// rebuilt whole, stop storing entries and leave the build to a pass
    /// of its own.
    stage: bool,
    /// Staged and past the delta limit: entries are only counted.
    overflowed: bool,
    /// Records of the reference's base when it overflowed.
    overflow_base: usize,
    /// Arena bytes the entries added so far take (stored or not).
    value_bytes: usize,
    /// Whether a reload rebuilds this part whole, as decided over the whole
    /// set ([`PartBuilder::decide_rebuild`]); `None`: by this part alone.
    rebuild: Option<bool>,
}

/// The base layer of the set a reload replaces: entries that come again
/// unchanged are marked here instead of being stored again.
#[derive(Debug)]
struct Reference {
    base: Arc<Layer>,
    /// Base records added again unchanged.
    seen: Bits,
    /// Base records whose key (kind, value, feed, event, flags) came again
    /// with other attributes; the delta holds them from then on.
    changed: Bits,
    /// Seen records added unchanged more than once: how many times more.
    repeats: HashMap<u32, u32>,
    /// Base records no longer in the set, once [`PartBuilder::settle`] has
    /// applied removals and warninglists to the seen ones.
    dead: Option<usize>,
}

/// What a reload found for an added entry in its reference.
enum Known {
    /// Stored in the base exactly as added (record index).
    Same(u32),
    /// Its key is in the base with other attributes (record index).
    Changed(u32),
    /// Not in the base.
    New,
}

impl Reference {
    fn classify(
        &self,
        kind: IndicatorKind,
        flags: u8,
        value: &[u8],
        prov: &Provenance<'_>,
    ) -> Known {
        let base = &*self.base;
        let Some(g) = base.find_group(kind, value) else {
            return Known::New;
        };
        for rec in g..base.group_end(g) {
            let Some(r) = base.records.get(rec as usize) else {
                break;
            };
            if r.flags != flags
                || base.feed_names.get(u32::from(r.feed)) != prov.feed
                || base.events.get(r.event) != prov.event_id
            {
                continue;
            }
            let same = !self.changed.get(rec)
                && r.tlp == prov.tlp as u8
                && r.confidence == prov.confidence.map_or(NO_CONFIDENCE, |c| c.min(100))
                && r.first_seen == secs(prov.first_seen)
                && r.last_seen == secs(prov.last_seen)
                && r.expires == secs(prov.expires)
                && base
                    .tag_names(r.tags)
                    .eq(prov.tags.iter().take(MAX_TAGS).copied());
            return if same {
                Known::Same(rec)
            } else {
                Known::Changed(rec)
            };
        }
        Known::New
    }
}

/// Tags kept per indicator.
const MAX_TAGS: usize = 64;

impl Default for PartBuilder {
    fn default() -> Self {
        PartBuilder::new()
    }
}

/// Default cap on indicators in one set (about 2 GB of memory at the cap).
pub const DEFAULT_MAX_INDICATORS: usize = 20_000_000;

impl PartBuilder {
    /// An empty builder with the default indicator cap.
    pub fn new() -> PartBuilder {
        let mut b = PartBuilder {
            arena: Vec::new(),
            pending: Vec::new(),
            feeds: Interner::default(),
            events: Interner::default(),
            tags: Interner::default(),
            tagsets: HashMap::new(),
            tagset_items: Vec::new(),
            tagset_ends: Vec::new(),
            removals: HashSet::new(),
            exclusions: HashSet::new(),
            warninglists: Vec::new(),
            report: LoadReport::default(),
            max_indicators: DEFAULT_MAX_INDICATORS,
            added: 0,
            reference: None,
            max_delta_percent: DEFAULT_MAX_DELTA_PERCENT,
            stage: false,
            overflowed: false,
            overflow_base: 0,
            value_bytes: 0,
            rebuild: None,
        };
        // Tag set 0 is the empty set; event 0 is the empty id.
        b.tagset_ends.push(0);
        b.tagsets.insert(Vec::new(), 0);
        let _ = b.events.intern("");
        b
    }

    /// A builder for the next generation of `current` (a reload). Entries
    /// that come again unchanged (same kind, value, feed, event, tags, TLP,
    /// confidence and times) are marked in `current`'s base layer instead of
    /// being stored again; [`PartBuilder::build`] then shares that
    /// base with a small delta layer when little changed (see
    /// [`PartBuilder::max_delta_percent`]), and builds a fresh
    /// single-layer set otherwise. Either way the result answers lookups as
    /// a set built by [`PartBuilder::new`] from the same input.
    ///
    /// Memory: a reload that shares the base holds only the changed entries
    /// and two bits per base record; a rebuild holds the old and the new set
    /// at once, as a build from scratch does.
    pub fn reloading(current: &PartSet) -> PartBuilder {
        let mut b = PartBuilder::new();
        let base = current.base.clone();
        let n = base.len();
        if n > 0 {
            b.reference = Some(Reference {
                base,
                seen: Bits::new(n),
                changed: Bits::new(n),
                repeats: HashMap::new(),
                dead: None,
            });
        }
        b
    }

    /// For a reload ([`PartBuilder::reloading`]): the new set keeps
    /// sharing the old base while the delta records plus the base records
    /// no longer present stay within `percent` of the base (default 25);
    /// past that it is rebuilt as one layer. 0 rebuilds on any change.
    pub fn max_delta_percent(&mut self, percent: usize) {
        self.max_delta_percent = percent;
    }

    /// Staged reload: once the new and changed entries alone pass the delta
    /// limit (so the part will be rebuilt whole), the pending entries are
    /// freed and further ones only counted; [`PartBuilder::build_staged`]
    /// then answers `None` and the part is built by a pass of its own.
    pub fn staged(&mut self) {
        self.stage = true;
    }

    /// Caps the number of indicators; entries past the cap are rejected
    /// ("indicator limit reached") so a huge feed cannot exhaust memory.
    pub fn max_indicators(&mut self, n: usize) {
        // Group ids must fit under the reference flag bits.
        self.max_indicators = n.min(REF_GROUP as usize - 1);
    }

    /// Adds a warninglist applied at [`PartBuilder::build`] to every
    /// indicator, whenever it was added.
    pub fn add_warninglist(&mut self, list: Arc<Warninglist>) {
        self.warninglists.push(list);
    }

    /// Adds one indicator already normalised (its stored bytes `value`).
    /// The caller has checked the indicator cap.
    pub fn add_norm(
        &mut self,
        norm: Normalized,
        value: &[u8],
        prov: &Provenance<'_>,
        source: &str,
        location: Location,
    ) -> bool {
        let hdr = if keyed_kind(norm.kind as u8) {
            KEY_HDR
        } else {
            0
        };
        self.value_bytes = self.value_bytes.saturating_add(hdr + value.len());
        if self.overflowed {
            self.added += 1;
            return true;
        }
        let flags = if norm.subdomains { SUBDOMAINS } else { 0 };
        if let Some(rf) = self.reference.as_mut() {
            match rf.classify(norm.kind, flags, value, prov) {
                Known::Same(rec) => {
                    if rf.seen.get(rec) {
                        *rf.repeats.entry(rec).or_default() += 1;
                    } else {
                        rf.seen.set(rec);
                    }
                    self.added += 1;
                    return true;
                }
                Known::Changed(rec) => {
                    rf.changed.set(rec);
                    if rf.seen.get(rec) {
                        // Added unchanged before: the delta takes those
                        // entries too, so all merge as in a full build.
                        rf.seen.clear(rec);
                        let times = 1 + rf.repeats.remove(&rec).unwrap_or(0);
                        let base = rf.base.clone();
                        for _ in 0..times {
                            if !self.push_from(&base, rec) {
                                self.report
                                    .reject(source, location, "provenance tables full", &"");
                            }
                        }
                    }
                }
                Known::New => {}
            }
        }
        let Some(feed) = self
            .feeds
            .intern(prov.feed)
            .and_then(|f| u16::try_from(f).ok())
        else {
            self.report
                .reject(source, location, "too many feeds (max 65535)", &prov.feed);
            return false;
        };
        let (Some(event), Some(tags)) = (
            self.events.intern(prov.event_id),
            self.intern_tags(prov.tags),
        ) else {
            self.report
                .reject(source, location, "provenance tables full", &"");
            return false;
        };
        let Some(value_off) = arena_push(&mut self.arena, norm.kind as u8, value) else {
            self.report.reject(
                source,
                location,
                "indicator set full (value storage exceeds 4 GiB)",
                &"",
            );
            return false;
        };
        let value_len = value.len() as u16;
        self.pending.push(Record {
            value_off,
            value_len,
            kind: norm.kind as u8,
            flags,
            tlp: prov.tlp as u8,
            confidence: prov.confidence.map_or(NO_CONFIDENCE, |c| c.min(100)),
            feed,
            event,
            tags,
            first_seen: secs(prov.first_seen),
            last_seen: secs(prov.last_seen),
            expires: secs(prov.expires),
        });
        self.added += 1;
        if self.stage {
            if let Some(rf) = &self.reference {
                if self.pending.len().saturating_mul(100)
                    > rf.base.len().saturating_mul(self.max_delta_percent)
                {
                    self.overflow();
                }
            }
        }
        true
    }

    /// Staged reload past the delta limit: frees what was stored and the
    /// reference; from now on entries are only counted.
    fn overflow(&mut self) {
        self.overflowed = true;
        self.overflow_base = self.reference.take().map_or(0, |rf| rf.base.len());
        self.pending = Vec::new();
        self.arena = Vec::new();
        self.removals = HashSet::new();
        self.exclusions = HashSet::new();
    }

    /// Copies record `rec` of `layer` (value and provenance) into the
    /// pending records. False when a table is full.
    fn push_from(&mut self, layer: &Layer, rec: u32) -> bool {
        let Some(r) = layer.records.get(rec as usize) else {
            return false;
        };
        let tags: Vec<&str> = layer.tag_names(r.tags).collect();
        let (Some(feed), Some(event), Some(tagset)) = (
            self.feeds
                .intern(layer.feed_names.get(u32::from(r.feed)))
                .and_then(|f| u16::try_from(f).ok()),
            self.events.intern(layer.events.get(r.event)),
            self.intern_tags(&tags),
        ) else {
            return false;
        };
        let Some(value_off) = arena_push(&mut self.arena, r.kind, layer.value_bytes(r)) else {
            return false;
        };
        self.pending.push(Record {
            value_off,
            feed,
            event,
            tags: tagset,
            ..*r
        });
        true
    }

    /// Registers a removal of the normalised `value` of `kind`: at build,
    /// indicators of this value and feed are dropped (Zeek `meta.remove`).
    pub fn remove_norm(&mut self, kind: IndicatorKind, value: &[u8], feed: &str) -> bool {
        if self.overflowed {
            return true;
        }
        let Some(feed) = self.feeds.intern(feed).and_then(|f| u16::try_from(f).ok()) else {
            return false;
        };
        if self.removals.len() < self.max_indicators {
            self.removals.insert((kind as u8, value.to_vec(), feed));
        }
        true
    }

    /// Registers an exclusion of the normalised `value` of `kind`
    /// (allow-list entry, Zeek `meta.whitelist`): at build, indicators of
    /// this value are dropped whatever their feed.
    pub fn exclude_norm(&mut self, kind: IndicatorKind, value: &[u8]) {
        if !self.overflowed && self.exclusions.len() < self.max_indicators {
            self.exclusions.insert((kind as u8, value.to_vec()));
        }
    }

    fn intern_tags(&mut self, tags: &[&str]) -> Option<u32> {
        if tags.is_empty() {
            return Some(0);
        }
        let mut ids = Vec::with_capacity(tags.len().min(64));
        for t in tags.iter().take(MAX_TAGS) {
            ids.push(self.tags.intern(t)?);
        }
        if let Some(&i) = self.tagsets.get(&ids) {
            return Some(i);
        }
        let i = u32::try_from(self.tagset_ends.len()).ok()?;
        self.tagset_items.extend_from_slice(&ids);
        self.tagset_ends
            .push(u32::try_from(self.tagset_items.len()).ok()?);
        self.tagsets.insert(ids, i);
        Some(i)
    }

    /// Builds the part and returns it with its report.
    pub fn build(mut self) -> (PartSet, LoadReport) {
        self.stage = false;
        self.build_staged().unwrap_or_default()
    }

    /// Builds the part, or `None` for a staged reload that would rebuild it
    /// whole ([`PartBuilder::staged`]): it is then built by a pass of its
    /// own, with nothing of it held here.
    pub fn build_staged(mut self) -> Option<(PartSet, LoadReport)> {
        if self.overflowed {
            return None;
        }
        match self.reference.take() {
            None => {
                let (layer, report) = self.build_layer();
                Some((PartSet::single(layer), report))
            }
            Some(rf) => self.build_on(rf),
        }
    }

    /// `n` entries of `kind`, stored value `v` and builder feed id `feed`
    /// (None: a feed the builder never saw) are removed by a removal, an
    /// exclusion or a warninglist; counts them.
    fn drops(&mut self, kind: u8, v: &[u8], feed: Option<u16>, n: u64, text: &mut Vec<u8>) -> bool {
        if let Some(feed) = feed {
            if !self.removals.is_empty() && self.removals.contains(&(kind, v.to_vec(), feed)) {
                self.report.removed += n;
                return true;
            }
        }
        if !self.exclusions.is_empty() && self.exclusions.contains(&(kind, v.to_vec())) {
            self.report.removed += n;
            return true;
        }
        if !self.warninglists.is_empty() {
            let kind = IndicatorKind::from_u8(kind);
            text.clear();
            render_text(kind, v, text);
            if let Some(wl) = self
                .warninglists
                .iter()
                .find(|wl| wl.matches(kind, v, text))
            {
                self.report.warninglist_hit(wl.name(), n);
                return true;
            }
        }
        false
    }

    /// Builds the next generation of a reloaded set: the base shared with
    /// the delta when little changed, else one fresh layer.
    /// For a reload: applies removals, exclusions and warninglists to the
    /// base records added again, and returns (records changed: new or
    /// dropped, base records). An overflowed staged part counts as wholly
    /// changed.
    pub fn settle(&mut self) -> (usize, usize) {
        if self.overflowed {
            return (self.overflow_base, self.overflow_base);
        }
        let Some(mut rf) = self.reference.take() else {
            return (self.pending.len(), 0);
        };
        let dead = match rf.dead {
            Some(d) => d,
            None => {
                // Removals, exclusions and warninglists apply to the kept
                // base records as to the pending ones.
                let base = rf.base.clone();
                let mut text = Vec::new();
                let mut live = 0usize;
                for (rec, r) in base.records.iter().enumerate() {
                    let rec = rec as u32;
                    if !rf.seen.get(rec) {
                        continue;
                    }
                    let feed = self
                        .feeds
                        .get(base.feed_names.get(u32::from(r.feed)))
                        .and_then(|f| u16::try_from(f).ok());
                    // Entries added again several times count as a build
                    // from scratch counts them: removed each, or merged as
                    // duplicates.
                    let again = u64::from(rf.repeats.get(&rec).copied().unwrap_or(0));
                    if self.drops(r.kind, base.value_bytes(r), feed, 1 + again, &mut text) {
                        rf.seen.clear(rec);
                    } else {
                        live += 1;
                        self.report.duplicates += again;
                    }
                }
                base.len() - live
            }
        };
        rf.dead = Some(dead);
        let n = rf.base.len();
        self.reference = Some(rf);
        (dead + self.pending.len(), n)
    }

    /// (entries added, arena bytes they take): what a pass of its own for
    /// this part will store, at most.
    pub fn expected(&self) -> (usize, usize) {
        (self.added, self.value_bytes)
    }

    /// Reserves room for `records` entries of `bytes` value bytes, so a
    /// pass of its own grows no vector by doubling (and copying).
    pub fn reserve(&mut self, records: usize, bytes: usize) {
        self.pending.reserve_exact(records);
        self.arena.reserve_exact(bytes);
    }

    /// Sets whether a reload rebuilds this part whole (when anything in it
    /// changed) instead of layering a delta on its base.
    pub fn decide_rebuild(&mut self, rebuild: bool) {
        self.rebuild = Some(rebuild);
    }

    fn build_on(mut self, rf: Reference) -> Option<(PartSet, LoadReport)> {
        let Some(dead) = rf.dead else {
            self.reference = Some(rf);
            self.settle();
            let rf = self.reference.take()?;
            return self.build_on(rf);
        };
        let Reference { base, seen, .. } = rf;
        let changed = dead + self.pending.len();
        if changed == 0 {
            // Nothing changed: the same base, alone.
            let mut report = std::mem::take(&mut self.report);
            report.by_feed.clear();
            report.by_kind = count_live(&base, &seen, &mut report);
            return Some((
                PartSet {
                    base,
                    overlay: None,
                },
                report,
            ));
        }
        let rebuild = self.rebuild.unwrap_or_else(|| {
            changed.saturating_mul(100) > base.len().saturating_mul(self.max_delta_percent)
        });
        if rebuild {
            if self.stage {
                return None;
            }
            // Too much changed: one fresh layer (the old set serves until
            // it is ready, so memory holds both meanwhile).
            for rec in 0..base.len() as u32 {
                if seen.get(rec) && !self.push_from(&base, rec) {
                    self.report.skip("indicator set full when rebuilding");
                }
            }
            drop(seen);
            drop(base);
            let (layer, report) = self.build_layer();
            return Some((PartSet::single(layer), report));
        }
        let (delta, mut report) = self.build_layer();
        let mut counts = count_live(&base, &seen, &mut report);
        for (c, d) in counts.iter_mut().zip(delta.counts) {
            *c += d;
        }
        report.by_kind = counts;
        let mut dead_bits = seen;
        dead_bits.invert(base.len());
        let v4: Vec<(u32, u8)> = delta
            .records
            .iter()
            .filter(|r| r.kind == IndicatorKind::Ipv4 as u8)
            .filter_map(|r| match *delta.value_bytes(r) {
                [a, b, c, d, len] => Some((u32::from_be_bytes([a, b, c, d]), len)),
                _ => None,
            })
            .collect();
        let set = PartSet {
            base,
            overlay: Some(Box::new(Overlay {
                v4_filter: V4Filter::new(&v4),
                delta,
                dead: dead_bits,
                dead_count: dead,
                counts,
            })),
        };
        Some((set, report))
    }

    /// Builds the pending records into one layer.
    fn build_layer(mut self) -> (Layer, LoadReport) {
        // The pending records become the set's records and the builder's
        // arena its arena, in place: a build holds no second copy of either.
        let mut arena = std::mem::take(&mut self.arena);
        let mut records = std::mem::take(&mut self.pending);

        // Removals and warninglists.
        let mut text = Vec::new();
        records.retain(|r| {
            let s = r.value_off as usize;
            let v = arena.get(s..s + r.value_len as usize).unwrap_or(&[]);
            !self.drops(r.kind, v, Some(r.feed), 1, &mut text)
        });
        let PartBuilder {
            feeds,
            events,
            tags,
            tagset_items,
            tagset_ends,
            mut report,
            ..
        } = self;
        let value = |r: &Record| -> &[u8] {
            let s = r.value_off as usize;
            arena.get(s..s + r.value_len as usize).unwrap_or(&[])
        };

        // Equal values must end up adjacent; their order does not matter, so
        // sort on (kind, hash of value) and compare bytes only on equal keys.
        let mut keyed: Vec<(u64, u32)> = records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                (
                    (u64::from(r.kind) << 59) | (hash_bytes(value(r)) >> 5),
                    i as u32,
                )
            })
            .collect();
        keyed.sort_unstable_by(|&(ka, a), &(kb, b)| {
            ka.cmp(&kb).then_with(|| {
                let (ra, rb) = (&records[a as usize], &records[b as usize]);
                value(ra)
                    .cmp(value(rb))
                    .then(ra.feed.cmp(&rb.feed))
                    .then(ra.event.cmp(&rb.event))
                    .then(ra.flags.cmp(&rb.flags))
                    .then(a.cmp(&b))
            })
        });
        // Put the records in that order, in place: follow each cycle of the
        // permutation, marking the slots done.
        const DONE: u32 = u32::MAX;
        for start in 0..keyed.len() {
            if keyed[start].1 == DONE {
                continue;
            }
            let first = records[start];
            let mut k = start;
            loop {
                let src = keyed[k].1 as usize;
                keyed[k].1 = DONE;
                if src == start {
                    records[k] = first;
                    break;
                }
                records[k] = records[src];
                k = src;
            }
        }
        drop(keyed);

        // Merge duplicates (same kind, value, feed, event, flags), compacting
        // in place; records of one value share the first one's bytes.
        let mut w = 0usize;
        for i in 0..records.len() {
            let r = records[i];
            let mut out = r;
            if let Some(p) = w.checked_sub(1).map(|l| records[l]) {
                if p.kind == r.kind && value(&p) == value(&r) {
                    if p.feed == r.feed && p.event == r.event && p.flags == r.flags {
                        report.duplicates += 1;
                        merge_times(&mut records[w - 1], &r);
                        continue;
                    }
                    out.value_off = p.value_off;
                }
            }
            records[w] = out;
            w += 1;
        }
        records.truncate(w);
        records.shrink_to_fit();
        // Bytes of merged duplicates and removed entries stay unused.
        arena.shrink_to_fit();

        let nfeeds = feeds.len() as u32;
        let mut set = Layer {
            records,
            arena,
            feed_names: feeds.table,
            events: events.table,
            tags: tags.table,
            tagset_items,
            tagset_ends,
            ..Layer::default()
        };
        set.feed_sids = (0..nfeeds)
            .map(|i| feed_sid(set.feed_names.get(i)))
            .collect();
        set.index(&mut report);
        (set, report)
    }
}

/// Appends a value to a builder arena, after room for its key header if its
/// kind is hashed (the built set keeps this arena: index() fills the
/// headers). The value's offset, or `None` when the arena would pass 4 GiB
/// or the value 64 KiB.
fn arena_push(arena: &mut Vec<u8>, kind: u8, v: &[u8]) -> Option<u32> {
    let hdr = if keyed_kind(kind) { KEY_HDR } else { 0 };
    u16::try_from(v.len()).ok()?;
    let off = u32::try_from(arena.len() + hdr).ok()?;
    u32::try_from(arena.len() + hdr + v.len()).ok()?;
    arena.extend_from_slice(&[0; KEY_HDR][..hdr]);
    arena.extend_from_slice(v);
    Some(off)
}

/// Counts the base records marked in `live` into the report's feeds;
/// returns their counts by kind.
fn count_live(base: &Layer, live: &Bits, report: &mut LoadReport) -> [u64; 12] {
    let mut per_feed = vec![0u64; base.feed_names.ends.len()];
    let mut counts = [0u64; 12];
    for (rec, r) in base.records.iter().enumerate() {
        if live.get(rec as u32) {
            counts[usize::from(r.kind)] += 1;
            if let Some(c) = per_feed.get_mut(usize::from(r.feed)) {
                *c += 1;
            }
        }
    }
    for (f, n) in per_feed.iter().enumerate() {
        if *n > 0 {
            report.count_feed(base.feed_names.get(f as u32), *n);
        }
    }
    counts
}

fn merge_times(into: &mut Record, from: &Record) {
    into.first_seen = match (into.first_seen, from.first_seen) {
        (0, x) | (x, 0) => x,
        (a, b) => a.min(b),
    };
    into.last_seen = into.last_seen.max(from.last_seen);
    // Never-expiring wins; otherwise the later expiry.
    into.expires = if into.expires == 0 || from.expires == 0 {
        0
    } else {
        into.expires.max(from.expires)
    };
}

/// Text form of a stored value (for warninglists and display).
fn render_text(kind: IndicatorKind, v: &[u8], out: &mut Vec<u8>) {
    use std::io::Write;
    match IndicatorValue::from_stored(kind, v) {
        IndicatorValue::Text(t) => out.extend_from_slice(t.as_bytes()),
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// An immutable, indexed set of indicators. `Send + Sync`; share it in an `Arc`.
///
/// A set built from scratch is one layer. A set built by a reload
/// ([`PartBuilder::reloading`]) that changed little shares the
/// previous set's base layer and adds a small delta layer (the new and
/// changed indicators) and a bit per base record that is no longer in the
/// set; lookups consult both and answer as a set built from scratch on the
/// same input would (hits of one value may come in another order).
#[derive(Debug)]
pub(super) struct PartSet {
    base: Arc<Layer>,
    overlay: Option<Box<Overlay>>,
}

/// What a layered set adds to its shared base.
#[derive(Debug)]
struct Overlay {
    delta: Layer,
    /// The IPv4 addresses the delta's prefixes may hold.
    v4_filter: V4Filter,
    /// Base records not in this set (dropped or changed by the reload).
    dead: Bits,
    dead_count: usize,
    /// Indicators of the set, by kind (live base records + delta).
    counts: [u64; 12],
}

/// How a set is laid out in memory (see [`PartSet::layout`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetLayout {
    /// Records in the base layer (shared with the set it was reloaded from,
    /// if any), including those no longer in this set.
    pub base: usize,
    /// Base records no longer in this set.
    pub dead: usize,
    /// Records in the delta layer (new or changed since the base was built).
    pub delta: usize,
}

impl Default for PartSet {
    fn default() -> Self {
        PartBuilder::new().build().0
    }
}

/// What the lookups read: one layer, or a base layer with a delta. The lookup
/// logic is written once over this and compiled for each.
trait View<'a>: Copy {
    /// A found value: its group reference(s).
    type G: Copy;
    /// Placeholder for an empty slot.
    const ABSENT: Self::G;
    fn count(self, kind: IndicatorKind) -> u64;
    fn find_exact(self, key: &[u8], kind: IndicatorKind) -> Option<Self::G>;
    /// Which layers' suffix filters may hold the domain hash `hash` (a
    /// bit per layer; 0: none).
    fn domain_may_contain(self, hash: u64) -> u8;
    /// The domain `name` whose suffix hash is `hash`, probing the layers
    /// `maybe` (from [`View::domain_may_contain`]) says may hold it.
    fn find_domain(self, hash: u64, maybe: u8, name: &[u8]) -> Option<Self::G>;
    fn hits(self, g: Self::G, now: u64, need_subdomains: bool) -> Hits<'a>;
    fn no_hits(self) -> Hits<'a>;
    fn lookup_v4(self, a: u32, now: u64) -> Hits<'a>;
    fn lookup_v6(self, a: u128, now: u64) -> Hits<'a>;
}

/// A set of one layer.
#[derive(Clone, Copy)]
struct One<'a>(&'a Layer);

/// Longest-prefix match in one layer: the hits of the most specific prefix
/// holding the address that has a live indicator. `g` is the group
/// reference of the most specific prefix (NONE when no prefix holds the
/// address); `best` gives its prefix index, read only when every indicator
/// of that prefix expired (a lookup that answers at once costs no second
/// memory read); `prefix` gives a prefix's (group, parent).
#[inline]
fn lpm_one<'a>(
    g: u32,
    best: impl FnOnce() -> u32,
    prefix: impl Fn(u32) -> Option<(u32, u32)>,
    hits: impl Fn(u32) -> Hits<'a>,
    no_hits: Hits<'a>,
) -> Hits<'a> {
    if g == NONE {
        return no_hits;
    }
    let first = hits(g);
    if first.surely_nonempty() || first.clone().next().is_some() {
        return first;
    }
    // Every indicator of the best prefix expired: its closest parent with
    // a live one.
    let mut p = prefix(best()).map_or(NONE, |(_, parent)| parent);
    while let Some((g, parent)) = prefix(p) {
        let h = hits(g);
        if h.clone().next().is_some() {
            return h;
        }
        p = parent;
    }
    no_hits
}

impl<'a> View<'a> for One<'a> {
    type G = u32;
    const ABSENT: u32 = NONE;

    #[inline]
    fn count(self, kind: IndicatorKind) -> u64 {
        self.0.count(kind)
    }

    #[inline]
    fn find_exact(self, key: &[u8], kind: IndicatorKind) -> Option<u32> {
        self.0.find_exact(key, kind)
    }

    #[inline]
    fn domain_may_contain(self, hash: u64) -> u8 {
        u8::from(self.0.domain_may_contain(hash))
    }

    #[inline]
    fn find_domain(self, hash: u64, _maybe: u8, name: &[u8]) -> Option<u32> {
        self.0.find_domain_unfiltered(hash, name)
    }

    #[inline]
    fn hits(self, g: u32, now: u64, need_subdomains: bool) -> Hits<'a> {
        Hits::one(self.0.group_hits(g, now, need_subdomains, None))
    }

    #[inline]
    fn no_hits(self) -> Hits<'a> {
        Hits::one(self.0.no_hits())
    }

    #[inline]
    fn lookup_v4(self, a: u32, now: u64) -> Hits<'a> {
        let l = self.0;
        let (g, range) = l.v4.slot(a);
        lpm_one(
            g,
            || l.v4.range_prefix(range),
            |p| l.v4.prefix(p),
            |g| self.hits(g, now, false),
            self.no_hits(),
        )
    }

    #[inline]
    fn lookup_v6(self, a: u128, now: u64) -> Hits<'a> {
        let l = self.0;
        let (g, range) = l.v6.slot(a);
        lpm_one(
            g,
            || l.v6.range_prefix(range),
            |p| l.v6.prefix(p),
            |g| self.hits(g, now, false),
            self.no_hits(),
        )
    }
}

/// A layered set: the delta, then the base without its dead records.
#[derive(Clone, Copy)]
struct Two<'a> {
    base: &'a Layer,
    o: &'a Overlay,
    /// The base records no longer in the set, if any.
    dead: Option<&'a Bits>,
}

/// [`View::domain_may_contain`] bits of a layered set.
const IN_DELTA: u8 = 1;
const IN_BASE: u8 = 2;

impl<'a> Two<'a> {
    fn new(base: &'a Layer, o: &'a Overlay) -> Two<'a> {
        Two {
            base,
            o,
            dead: (o.dead_count > 0).then_some(&o.dead),
        }
    }

    /// The base group `gref` still has a record in the set. Reads no record
    /// unless the group's first record was dropped.
    #[inline]
    fn base_alive(self, gref: u32) -> bool {
        let g = gref & REF_GROUP;
        match self.dead {
            Some(dead) if dead.get(g) => (g + 1..self.base.group_end(g)).any(|r| !dead.get(r)),
            _ => true,
        }
    }

    /// Hits of a base group alone.
    #[inline]
    fn base_hits(self, g: u32, now: u64, need_subdomains: bool) -> Hits<'a> {
        Hits::one(self.base.group_hits(g, now, need_subdomains, self.dead))
    }

    #[inline]
    fn pair(self, d: Option<u32>, b: Option<u32>) -> Option<(u32, u32)> {
        let b = b.filter(|&g| self.base_alive(g));
        match (d, b) {
            (None, None) => None,
            _ => Some((d.unwrap_or(NONE), b.unwrap_or(NONE))),
        }
    }

    /// Longest-prefix match of an address that falls in `base_slot` of the
    /// base's range table and `delta_slot` of the delta's: one layer's
    /// answer when only that layer holds the address, else [`Two::lpm`]
    /// over the prefix `chains` (delta, base).
    #[inline]
    fn lpm_slots<A>(
        self,
        tables: (&'a RangeTable<A>, &'a RangeTable<A>),
        (bg, brange): (u32, u32),
        (dg, drange): (u32, u32),
        chains: impl FnOnce() -> (PrefixChain<'a>, PrefixChain<'a>),
        now: u64,
    ) -> Hits<'a> {
        let (b, d) = tables;
        if dg == NONE {
            return lpm_one(
                bg,
                || b.range_prefix(brange),
                |p| b.prefix(p),
                |g| self.base_hits(g, now, false),
                self.no_hits(),
            );
        }
        if bg == NONE {
            // Only the delta holds the address.
            let delta = &self.o.delta;
            return lpm_one(
                dg,
                || d.range_prefix(drange),
                |p| d.prefix(p),
                |g| Hits::one(delta.group_hits(g, now, false, None)),
                self.no_hits(),
            );
        }
        let (dc, bc) = chains();
        self.lpm(dc, bc, now)
    }

    /// Longest-prefix match over both layers: the most specific prefix of
    /// either that has a live indicator; when both hold it, the hits of both.
    fn lpm(self, mut d: PrefixChain<'a>, mut b: PrefixChain<'a>, now: u64) -> Hits<'a> {
        let (mut nd, mut nb) = (d.next(), b.next());
        loop {
            let g = match (nd, nb) {
                (None, None) => return self.no_hits(),
                (Some((gd, ld)), Some((gb, lb))) if ld == lb => {
                    (nd, nb) = (d.next(), b.next());
                    (gd, gb)
                }
                (Some((gd, ld)), Some((_, lb))) if ld > lb => {
                    nd = d.next();
                    (gd, NONE)
                }
                (Some((gd, _)), None) => {
                    nd = d.next();
                    (gd, NONE)
                }
                (_, Some((gb, _))) => {
                    nb = b.next();
                    (NONE, gb)
                }
            };
            let hits = self.hits(g, now, false);
            if hits.clone().next().is_some() {
                return hits;
            }
        }
    }
}

impl<'a> View<'a> for Two<'a> {
    type G = (u32, u32);
    const ABSENT: (u32, u32) = (NONE, NONE);

    #[inline]
    fn count(self, kind: IndicatorKind) -> u64 {
        self.o.counts[kind as usize]
    }

    #[inline]
    fn find_exact(self, key: &[u8], kind: IndicatorKind) -> Option<(u32, u32)> {
        self.pair(
            self.o.delta.find_exact(key, kind),
            self.base.find_exact(key, kind),
        )
    }

    #[inline]
    fn domain_may_contain(self, hash: u64) -> u8 {
        (if self.o.delta.domain_may_contain(hash) {
            IN_DELTA
        } else {
            0
        }) | if self.base.domain_may_contain(hash) {
            IN_BASE
        } else {
            0
        }
    }

    #[inline]
    fn find_domain(self, hash: u64, maybe: u8, name: &[u8]) -> Option<(u32, u32)> {
        let d = if maybe & IN_DELTA != 0 {
            self.o.delta.find_domain_unfiltered(hash, name)
        } else {
            None
        };
        let b = if maybe & IN_BASE != 0 {
            self.base.find_domain_unfiltered(hash, name)
        } else {
            None
        };
        self.pair(d, b)
    }

    #[inline]
    fn hits(self, (d, b): (u32, u32), now: u64, need_subdomains: bool) -> Hits<'a> {
        match (d != NONE, b != NONE) {
            (true, true) => Hits::two(
                self.o.delta.group_hits(d, now, need_subdomains, None),
                self.base.group_hits(b, now, need_subdomains, self.dead),
            ),
            (true, false) => Hits::one(self.o.delta.group_hits(d, now, need_subdomains, None)),
            (false, true) => self.base_hits(b, now, need_subdomains),
            (false, false) => self.no_hits(),
        }
    }

    #[inline]
    fn no_hits(self) -> Hits<'a> {
        Hits::one(self.base.no_hits())
    }

    #[inline]
    fn lookup_v4(self, a: u32, now: u64) -> Hits<'a> {
        let (b, d) = (self.base, &self.o.delta);
        // Most addresses: the filter says no delta prefix holds them, and
        // the delta's range table is not read.
        let dslot = if self.o.v4_filter.may_contain(a) {
            d.v4.slot(a)
        } else {
            (NONE, 0)
        };
        self.lpm_slots(
            (&b.v4, &d.v4),
            b.v4.slot(a),
            dslot,
            || (d.v4_chain(a), b.v4_chain(a)),
            now,
        )
    }

    fn lookup_v6(self, a: u128, now: u64) -> Hits<'a> {
        let (b, d) = (self.base, &self.o.delta);
        self.lpm_slots(
            (&b.v6, &d.v6),
            b.v6.slot(a),
            d.v6.slot(a),
            || (d.v6_chain(a), b.v6_chain(a)),
            now,
        )
    }
}

/// Runs `$e` with `$v` bound to the set's view (one layer or two).
macro_rules! with_view {
    ($set:expr, $v:ident => $e:expr) => {
        match &$set.overlay {
            None => {
                let $v = One(&$set.base);
                $e
            }
            // A reload that changed nothing: the base alone.
            Some(o) if o.dead_count == 0 && o.delta.records.is_empty() => {
                let $v = One(&$set.base);
                $e
            }
            Some(o) => {
                let $v = Two::new(&$set.base, o);
                $e
            }
        }
    };
}

impl PartSet {
    fn single(layer: Layer) -> PartSet {
        PartSet {
            base: Arc::new(layer),
            overlay: None,
        }
    }

    /// Number of indicators.
    pub fn len(&self) -> usize {
        match &self.overlay {
            None => self.base.len(),
            Some(o) => self.base.len() - o.dead_count + o.delta.len(),
        }
    }

    /// Number of indicators of one kind.
    pub fn count(&self, kind: IndicatorKind) -> u64 {
        match &self.overlay {
            None => self.base.count(kind),
            Some(o) => o.counts[kind as usize],
        }
    }

    /// Heap memory held by the set, in bytes (a shared base counted whole).
    pub fn heap_bytes(&self) -> usize {
        self.base.heap_bytes()
            + self.overlay.as_ref().map_or(0, |o| {
                o.delta.heap_bytes() + o.dead.heap_bytes() + o.v4_filter.heap_bytes()
            })
    }

    /// How the set is laid out: one layer, or a shared base with a delta.
    pub fn layout(&self) -> SetLayout {
        SetLayout {
            base: self.base.len(),
            dead: self.overlay.as_ref().map_or(0, |o| o.dead_count),
            delta: self.overlay.as_ref().map_or(0, |o| o.delta.len()),
        }
    }

    /// True when `self` and `other` share their base layer (one was reloaded
    /// from the other without a rebuild).
    pub fn shares_base_with(&self, other: &PartSet) -> bool {
        Arc::ptr_eq(&self.base, &other.base)
    }

    /// Indicators for an IP address: the most specific prefix (address or
    /// CIDR) holding it that has a live indicator. The sensor calls this once
    /// per flow for each endpoint, not per packet. IPv4-mapped IPv6
    /// addresses are looked up as IPv4.
    pub fn lookup_ip(&self, ip: IpAddr, now: u64) -> Hits<'_> {
        let v4 = match ip {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(a) => a.to_ipv4_mapped(),
        };
        match (v4, ip) {
            (Some(a), _) => with_view!(self, v => v.lookup_v4(u32::from(a), now)),
            (None, IpAddr::V6(a)) => with_view!(self, v => v.lookup_v6(u128::from(a), now)),
            (None, IpAddr::V4(_)) => with_view!(self, v => v.no_hits()),
        }
    }

    /// Indicators for a domain name (DNS query or answer, HTTP host, TLS SNI):
    /// an exact indicator for the name, else the closest parent domain whose
    /// indicator covers subdomains. Case-insensitive; one trailing dot ignored.
    pub fn lookup_domain(&self, name: &[u8], now: u64) -> Hits<'_> {
        with_view!(self, v => lookup_domain(v, name, now))
    }

    /// Indicators for an HTTP request: `host` (Host header, port allowed) and
    /// `target` (`/path?query`, or an absolute `http://host/path` target,
    /// whose host then wins). Tries host+path+query, then host+path, so a
    /// URL indicator without a query matches any query.
    pub fn lookup_url(&self, host: &[u8], target: &[u8], now: u64) -> Hits<'_> {
        // Absolute-form target (proxy request): its authority is the host.
        let (host, target) = match strip_scheme(target) {
            Some(rest) => {
                let end = rest
                    .iter()
                    .position(|&b| b == b'/' || b == b'?' || b == b'#')
                    .unwrap_or(rest.len());
                let (authority, path) = rest.split_at(end);
                let host = match memchr::memrchr(b'@', authority) {
                    Some(p) => &authority[p + 1..],
                    None => authority,
                };
                (host, path)
            }
            None => (host, target),
        };
        with_view!(self, v => lookup_url_parts(v, host, target, now))
    }

    /// Indicators for a raw file digest (16 bytes MD5, 20 SHA-1, 32 SHA-256).
    pub fn lookup_hash(&self, digest: &[u8], now: u64) -> Hits<'_> {
        let kind = match digest.len() {
            16 => IndicatorKind::Md5,
            20 => IndicatorKind::Sha1,
            32 => IndicatorKind::Sha256,
            _ => return with_view!(self, v => v.no_hits()),
        };
        with_view!(self, v => lookup_exact(v, digest, kind, now))
    }

    /// Like [`PartSet::lookup_hash`], for a hex digest.
    pub fn lookup_hash_hex(&self, hex: &str, now: u64) -> Hits<'_> {
        let mut raw = [0u8; 64];
        match decode_hex(hex.as_bytes(), &mut raw) {
            Some(d) => self.lookup_hash(d, now),
            None => with_view!(self, v => v.no_hits()),
        }
    }

    fn lookup_md5_kind(&self, hex: &str, kind: IndicatorKind, now: u64) -> Hits<'_> {
        let mut raw = [0u8; 64];
        match decode_hex(hex.as_bytes(), &mut raw).filter(|d| d.len() == 16) {
            Some(d) => with_view!(self, v => lookup_exact(v, d, kind, now)),
            None => with_view!(self, v => v.no_hits()),
        }
    }

    /// Indicators for a JA3 client fingerprint (MD5 hex, any case).
    pub fn lookup_ja3(&self, ja3: &str, now: u64) -> Hits<'_> {
        self.lookup_md5_kind(ja3, IndicatorKind::Ja3, now)
    }

    /// Indicators for a JA3S server fingerprint (MD5 hex, any case).
    pub fn lookup_ja3s(&self, ja3s: &str, now: u64) -> Hits<'_> {
        self.lookup_md5_kind(ja3s, IndicatorKind::Ja3s, now)
    }

    /// Indicators for a JA4 fingerprint (any case).
    pub fn lookup_ja4(&self, ja4: &str, now: u64) -> Hits<'_> {
        let b = ja4.as_bytes();
        if b.len() != 36 {
            return with_view!(self, v => v.no_hits());
        }
        let mut lower = [0u8; 36];
        for (o, i) in lower.iter_mut().zip(b) {
            *o = i.to_ascii_lowercase();
        }
        with_view!(self, v => lookup_exact(v, &lower, IndicatorKind::Ja4, now))
    }

    /// Indicators for the raw SHA-1 (20 bytes) of a TLS certificate.
    pub fn lookup_cert_sha1(&self, sha1: &[u8], now: u64) -> Hits<'_> {
        if sha1.len() != 20 {
            return with_view!(self, v => v.no_hits());
        }
        with_view!(self, v => lookup_exact(v, sha1, IndicatorKind::CertSha1, now))
    }

    /// Indicators for an e-mail address (case-insensitive).
    pub fn lookup_email(&self, addr: &[u8], now: u64) -> Hits<'_> {
        let mut key = KeyBuf::new();
        for &b in addr {
            if !key.push(b.to_ascii_lowercase()) {
                return with_view!(self, v => v.no_hits());
            }
        }
        with_view!(self, v => lookup_exact(v, key.as_bytes(), IndicatorKind::Email, now))
    }

    /// Every indicator: the base layer's in storage order (kind, then
    /// value), then the delta's.
    pub fn iter(&self) -> impl Iterator<Item = Hit<'_>> {
        let base: &Layer = &self.base;
        let dead = self.overlay.as_ref().map(|o| &o.dead);
        let delta = self.overlay.as_ref().map(|o| &o.delta);
        (0..base.len() as u32)
            .filter(move |&rec| !dead.is_some_and(|d| d.get(rec)))
            .map(move |rec| Hit { set: base, rec })
            .chain(
                delta
                    .into_iter()
                    .flat_map(|d| (0..d.len() as u32).map(move |rec| Hit { set: d, rec })),
            )
    }
}

fn lookup_exact<'a, V: View<'a>>(v: V, key: &[u8], kind: IndicatorKind, now: u64) -> Hits<'a> {
    match v.find_exact(key, kind) {
        Some(g) => v.hits(g, now, false),
        None => v.no_hits(),
    }
}

fn lookup_domain<'a, V: View<'a>>(v: V, name: &[u8], now: u64) -> Hits<'a> {
    let name = name.strip_suffix(b".").unwrap_or(name);
    // No length cap: an over-long name (bogus Host or SNI) must still
    // match its listed parent domain; the work is linear in its length.
    // A ":port" suffix (HTTP Host) is ignored.
    let name = match memchr::memrchr(b':', name) {
        Some(p) if p + 1 < name.len() && name[p + 1..].iter().all(u8::is_ascii_digit) => &name[..p],
        _ => name,
    };
    if name.is_empty() || v.count(IndicatorKind::Domain) == 0 {
        return v.no_hits();
    }
    // Suffix hashes come right to left (least specific first), but the
    // lookup tries the most specific first and stops at the first live
    // hit, so an exact hit costs one table probe. While hashing, each
    // suffix is checked against the filter (most are absent: "com",
    // "example.com"); the ones that pass wait in a ring of 16, and a
    // name with more candidates has its less specific ones probed at
    // once (their hits kept, the last 8).
    const RING: usize = 16;
    let mut ring = [(0u64, 0usize, 0u8); RING];
    let (mut held, mut next) = (0usize, 0usize);
    let mut early = [V::ABSENT; 8];
    let mut n_early = 0usize;
    let whole = SuffixHasher::suffixes(name, |i, sh| {
        if i + 1 == name.len() {
            return;
        }
        let maybe = v.domain_may_contain(sh);
        if maybe == 0 {
            return;
        }
        if held == RING {
            let (oh, start, om) = ring[next];
            if let Some(g) = v.find_domain(oh, om, &name[start..]) {
                if n_early == early.len() {
                    early.copy_within(1.., 0);
                    n_early -= 1;
                }
                early[n_early] = g;
                n_early += 1;
            }
        } else {
            held += 1;
        }
        ring[next] = (sh, i + 1, maybe);
        next = (next + 1) % RING;
    });
    let live = |g: V::G, need_subdomains: bool| {
        let hits = v.hits(g, now, need_subdomains);
        hits.clone().next().is_some().then_some(hits)
    };
    // The filter answers most absent names without touching the large table.
    let maybe = v.domain_may_contain(whole);
    if maybe != 0 {
        if let Some(hits) = v
            .find_domain(whole, maybe, name)
            .and_then(|g| live(g, false))
        {
            return hits;
        }
    }
    for k in 1..=held {
        let (sh, start, m) = ring[(next + RING - k) % RING];
        if let Some(hits) = v
            .find_domain(sh, m, &name[start..])
            .and_then(|g| live(g, true))
        {
            return hits;
        }
    }
    for &g in early[..n_early].iter().rev() {
        if let Some(hits) = live(g, true) {
            return hits;
        }
    }
    v.no_hits()
}

fn lookup_url_parts<'a, V: View<'a>>(v: V, host: &[u8], target: &[u8], now: u64) -> Hits<'a> {
    if v.count(IndicatorKind::Url) == 0 {
        return v.no_hits();
    }
    let mut key = KeyBuf::new();
    if url_key(host, target, &mut key) {
        if let Some(g) = v.find_exact(key.as_bytes(), IndicatorKind::Url) {
            return v.hits(g, now, false);
        }
    }
    // Without the query: also when a long query made the full key too
    // long to be any indicator, so padding a query cannot evade.
    let target = match memchr::memchr2(b'?', b'#', target) {
        Some(q) => &target[..q],
        None => return v.no_hits(),
    };
    if url_key(host, target, &mut key) {
        if let Some(g) = v.find_exact(key.as_bytes(), IndicatorKind::Url) {
            return v.hits(g, now, false);
        }
    }
    v.no_hits()
}

/// The rest of an `http://` or `https://` URL, any case.
fn strip_scheme(target: &[u8]) -> Option<&[u8]> {
    for scheme in [&b"http://"[..], b"https://"] {
        if target.len() >= scheme.len() && target[..scheme.len()].eq_ignore_ascii_case(scheme) {
            return Some(&target[scheme.len()..]);
        }
    }
    None
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::intel::Tlp;
    use crate::intel::{IndicatorSet, IndicatorSetBuilder, IndicatorType};
    use std::net::Ipv4Addr;

    fn prov<'a>(feed: &'a str, event: &'a str, tags: &'a [&'a str]) -> Provenance<'a> {
        Provenance {
            feed,
            event_id: event,
            tags,
            tlp: Tlp::Amber,
            confidence: Some(80),
            ..Provenance::default()
        }
    }

    fn add(b: &mut IndicatorSetBuilder, ty: IndicatorType, v: &str, p: &Provenance<'_>) {
        assert!(b.add(ty, v, p, "test", Location::Whole), "rejected {v}");
    }

    #[test]
    fn indicator_set_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<IndicatorSet>();
        check::<Hit<'static>>();
        check::<LoadReport>();
    }

    #[test]
    fn record_is_32_bytes() {
        assert_eq!(std::mem::size_of::<Record>(), 32);
    }

    #[test]
    fn lookups_of_every_kind() {
        let mut b = IndicatorSetBuilder::new();
        let p = prov("feedA", "ev-1", &["c2", "apt"]);
        add(&mut b, IndicatorType::Ip, "10.0.0.0/8", &p);
        add(&mut b, IndicatorType::Ip, "10.1.2.3", &p);
        add(&mut b, IndicatorType::Ip, "2001:db8::/32", &p);
        add(&mut b, IndicatorType::Domain, "evil.com", &p);
        add(&mut b, IndicatorType::Hostname, "exact.org", &p);
        add(&mut b, IndicatorType::Url, "http://bad.net/x/y?q=1", &p);
        add(&mut b, IndicatorType::Url, "http://bad.net/noquery", &p);
        add(&mut b, IndicatorType::Sha256, &"ab".repeat(32), &p);
        add(&mut b, IndicatorType::Md5, &"cd".repeat(16), &p);
        add(
            &mut b,
            IndicatorType::Ja3,
            "B386946A5A44D1DDCC843BC75336DFCE",
            &p,
        );
        add(&mut b, IndicatorType::Ja3s, &"ef".repeat(16), &p);
        add(
            &mut b,
            IndicatorType::Ja4,
            "t13d1516h2_8daaf6152771_b186095e22b6",
            &p,
        );
        add(&mut b, IndicatorType::CertSha1, &"12".repeat(20), &p);
        add(&mut b, IndicatorType::Email, "Bad@Evil.com", &p);
        let (set, report) = b.build();
        assert_eq!(set.len(), 14);
        assert_eq!(report.loaded(), 14);

        let h = set
            .lookup_ip("10.1.2.3".parse().unwrap(), 0)
            .next()
            .unwrap();
        assert_eq!(h.value().to_string(), "10.1.2.3");
        assert_eq!(h.feed(), "feedA");
        assert_eq!(h.event_id(), "ev-1");
        assert_eq!(h.tags().collect::<Vec<_>>(), ["c2", "apt"]);
        assert_eq!((h.tlp(), h.confidence()), (Tlp::Amber, Some(80)));
        assert_eq!(h.sid(), feed_sid("feedA"));
        let h = set
            .lookup_ip("10.200.0.1".parse().unwrap(), 0)
            .next()
            .unwrap();
        assert_eq!(h.value().to_string(), "10.0.0.0/8");
        assert!(set
            .lookup_ip("11.0.0.1".parse().unwrap(), 0)
            .next()
            .is_none());
        assert!(set
            .lookup_ip("::ffff:10.9.9.9".parse().unwrap(), 0)
            .next()
            .is_some());
        assert!(set
            .lookup_ip("2001:db8:1::5".parse().unwrap(), 0)
            .next()
            .is_some());
        assert!(set
            .lookup_ip("2001:db9::5".parse().unwrap(), 0)
            .next()
            .is_none());

        assert!(set.lookup_domain(b"evil.com", 0).next().is_some());
        assert!(set.lookup_domain(b"A.B.EVIL.COM.", 0).next().is_some());
        assert!(set.lookup_domain(b"notevil.com", 0).next().is_none());
        assert!(set.lookup_domain(b"exact.org", 0).next().is_some());
        assert!(set.lookup_domain(b"www.exact.org", 0).next().is_none());
        assert!(set.lookup_domain(b"", 0).next().is_none());
        assert!(set.lookup_domain(b"..", 0).next().is_none());

        assert!(set
            .lookup_url(b"BAD.net:80", b"/x/y?q=1", 0)
            .next()
            .is_some());
        assert!(set
            .lookup_url(b"bad.net", b"/x/%79?q=1#f", 0)
            .next()
            .is_some());
        assert!(set.lookup_url(b"bad.net", b"/x/y?q=2", 0).next().is_none());
        assert!(set
            .lookup_url(b"bad.net", b"/noquery?any=1", 0)
            .next()
            .is_some());
        assert!(set.lookup_url(b"bad.net", b"/other", 0).next().is_none());
        // Proxy-style absolute targets and Host headers with a port.
        assert!(set
            .lookup_url(b"proxy:3128", b"HTTP://Bad.net/x/y?q=1", 0)
            .next()
            .is_some());
        assert!(set
            .lookup_url(b"x", b"http://u@bad.net:80/noquery", 0)
            .next()
            .is_some());
        assert!(set.lookup_domain(b"www.evil.com:8080", 0).next().is_some());
        // Padding evasions: a huge query or a huge subdomain still matches.
        let long_query = format!("/noquery?{}", "a".repeat(10_000));
        assert!(set
            .lookup_url(b"bad.net", long_query.as_bytes(), 0)
            .next()
            .is_some());
        let long_name = format!("{}.evil.com", "a.".repeat(5_000));
        assert!(set.lookup_domain(long_name.as_bytes(), 0).next().is_some());

        assert!(set.lookup_hash(&[0xab; 32], 0).next().is_some());
        assert!(set.lookup_hash(&[0xcd; 16], 0).next().is_some());
        assert!(set.lookup_hash(&[0xcd; 20], 0).next().is_none());
        assert!(set.lookup_hash_hex(&"AB".repeat(32), 0).next().is_some());
        assert!(set
            .lookup_ja3("b386946a5a44d1ddcc843bc75336dfce", 0)
            .next()
            .is_some());
        assert!(set
            .lookup_ja3s("b386946a5a44d1ddcc843bc75336dfce", 0)
            .next()
            .is_none());
        assert!(set.lookup_ja3s(&"EF".repeat(16), 0).next().is_some());
        assert!(set
            .lookup_ja4("T13D1516H2_8DAAF6152771_B186095E22B6", 0)
            .next()
            .is_some());
        assert!(set.lookup_cert_sha1(&[0x12; 20], 0).next().is_some());
        assert!(set.lookup_email(b"BAD@evil.com", 0).next().is_some());
        assert!(set.lookup_email(b"good@evil.com", 0).next().is_none());
        let h = set.lookup_hash(&[0xab; 32], 0).next().unwrap();
        assert_eq!(h.value().to_string(), "ab".repeat(32));
    }

    #[test]
    fn expiry_falls_back_to_less_specific() {
        let mut b = IndicatorSetBuilder::new();
        let mut p = prov("f", "", &[]);
        add(&mut b, IndicatorType::Ip, "192.168.0.0/16", &p);
        add(&mut b, IndicatorType::Domain, "evil.com", &p);
        p.expires = Some(1000);
        add(&mut b, IndicatorType::Ip, "192.168.1.0/24", &p);
        add(&mut b, IndicatorType::Hostname, "a.evil.com", &p);
        let (set, _) = b.build();
        let ip = "192.168.1.7".parse().unwrap();
        assert_eq!(
            set.lookup_ip(ip, 999).next().unwrap().value().to_string(),
            "192.168.1.0/24"
        );
        assert_eq!(
            set.lookup_ip(ip, 1000).next().unwrap().value().to_string(),
            "192.168.0.0/16"
        );
        let h = set.lookup_domain(b"a.evil.com", 999).next().unwrap();
        assert_eq!(h.value().to_string(), "a.evil.com");
        assert_eq!(h.expires(), Some(1000));
        let h = set.lookup_domain(b"a.evil.com", 5000).next().unwrap();
        assert_eq!(h.value().to_string(), "evil.com");
    }

    /// The group reference answers the first hit without reading records;
    /// when its first record does not qualify (expired, or exact-only where a
    /// subdomain is asked), the others of the group are still found.
    #[test]
    fn group_reference_flags_and_shared_digests() {
        let mut b = IndicatorSetBuilder::new();
        add(
            &mut b,
            IndicatorType::Hostname,
            "evil.com",
            &prov("a", "", &[]),
        );
        let expiring = Provenance {
            expires: Some(1000),
            ..prov("b", "", &[])
        };
        add(&mut b, IndicatorType::Domain, "evil.com", &expiring);
        add(&mut b, IndicatorType::Ip, "10.0.0.1", &expiring);
        add(&mut b, IndicatorType::Ip, "10.0.0.1", &prov("c", "", &[]));
        let digest = "B386946A5A44D1DDCC843BC75336DFCE";
        add(
            &mut b,
            IndicatorType::Ja3,
            digest,
            &prov("ja3-feed", "", &[]),
        );
        add(
            &mut b,
            IndicatorType::Ja3s,
            digest,
            &prov("ja3s-feed", "", &[]),
        );
        let (set, _) = b.build();
        let feeds = |h: Hits<'_>| h.map(|h| h.feed().to_string()).collect::<Vec<_>>();
        assert_eq!(feeds(set.lookup_domain(b"evil.com", 999)), ["a", "b"]);
        assert_eq!(feeds(set.lookup_domain(b"evil.com", 1000)), ["a"]);
        assert_eq!(feeds(set.lookup_domain(b"x.Evil.com", 999)), ["b"]);
        assert!(set.lookup_domain(b"x.evil.com", 1000).next().is_none());
        // Deeper than the 16-suffix ring: the most specific listed parent
        // still wins.
        let mut b = IndicatorSetBuilder::new();
        add(
            &mut b,
            IndicatorType::Domain,
            "evil.com",
            &prov("p", "", &[]),
        );
        add(
            &mut b,
            IndicatorType::Domain,
            "b.evil.com",
            &prov("q", "", &[]),
        );
        let (deep, _) = b.build();
        for labels in [1, 15, 16, 17, 40] {
            let name = format!("{}b.evil.com", "x.".repeat(labels));
            assert_eq!(
                feeds(deep.lookup_domain(name.as_bytes(), 0)),
                ["q"],
                "{labels}"
            );
        }
        let ip = "10.0.0.1".parse().unwrap();
        assert_eq!(feeds(set.lookup_ip(ip, 999)), ["b", "c"]);
        assert_eq!(feeds(set.lookup_ip(ip, 1000)), ["c"]);
        assert_eq!(feeds(set.lookup_ja3(digest, 0)), ["ja3-feed"]);
        assert_eq!(feeds(set.lookup_ja3s(digest, 0)), ["ja3s-feed"]);
    }

    #[test]
    fn duplicates_merge_and_feeds_stay_apart() {
        let mut b = IndicatorSetBuilder::new();
        let p1 = Provenance {
            first_seen: Some(200),
            last_seen: Some(300),
            ..prov("f1", "e", &[])
        };
        let p1b = Provenance {
            first_seen: Some(100),
            last_seen: Some(250),
            ..prov("f1", "e", &[])
        };
        add(&mut b, IndicatorType::Ip, "1.2.3.4", &p1);
        add(&mut b, IndicatorType::Ip, "1.2.3.4/32", &p1b);
        add(&mut b, IndicatorType::Ip, "1.2.3.4", &prov("f2", "e", &[]));
        assert!(!b.add(
            IndicatorType::Ip,
            "1.2.3.999",
            &p1,
            "x.csv",
            Location::Line(3)
        ));
        let (set, report) = b.build();
        assert_eq!(set.len(), 2);
        assert_eq!(report.duplicates(), 1);
        assert_eq!(report.rejected_total(), 1);
        assert_eq!(
            report.rejections()[0].to_string(),
            "x.csv:3: invalid IP address: \"1.2.3.999\""
        );
        let hits: Vec<_> = set.lookup_ip("1.2.3.4".parse().unwrap(), 0).collect();
        assert_eq!(hits.len(), 2);
        assert_eq!((hits[0].feed(), hits[1].feed()), ("f1", "f2"));
        assert_eq!(
            (hits[0].first_seen(), hits[0].last_seen()),
            (Some(100), Some(300))
        );
    }

    #[test]
    fn limit_and_removal() {
        let mut b = IndicatorSetBuilder::new().max_indicators(2);
        let p = prov("f", "", &[]);
        add(&mut b, IndicatorType::Ip, "1.1.1.1", &p);
        add(&mut b, IndicatorType::Ip, "1.1.1.2", &p);
        assert!(!b.add(IndicatorType::Ip, "1.1.1.3", &p, "s", Location::Line(3)));
        assert!(b.remove(IndicatorType::Ip, "1.1.1.1", "f"));
        let (set, report) = b.build();
        assert_eq!(set.len(), 1);
        assert_eq!(report.removed(), 1);
        assert_eq!(
            report.rejected_by_reason().next(),
            Some(("indicator limit reached", 1))
        );
    }

    /// Set-level LPM with expiry and several feeds against a naive scan.
    #[test]
    fn random_sets_match_naive_lookup() {
        let mut state = 0x0123_4567_89ab_cdefu64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _round in 0..10 {
            let mut b = IndicatorSetBuilder::new();
            // (network, len, expires) of every added indicator.
            let mut added: Vec<(u32, u8, Option<u64>)> = Vec::new();
            for _ in 0..300 {
                let len = (next() % 33) as u8;
                let addr = ((next() % 4) as u32) << 30 | (next() as u32 & 0x00ff_ffff);
                let net = if len == 0 {
                    0
                } else {
                    addr & (u32::MAX << (32 - u32::from(len)))
                };
                let expires = if next() % 3 == 0 {
                    Some(100 + next() % 100)
                } else {
                    None
                };
                let feed = ["a", "b", "c"][(next() % 3) as usize];
                let p = Provenance {
                    feed,
                    expires,
                    ..Provenance::default()
                };
                let text = format!("{}/{len}", Ipv4Addr::from(net));
                assert!(b.add(IndicatorType::Ip, &text, &p, "t", Location::Whole));
                added.push((net, len, expires));
            }
            let (set, _) = b.build();
            for _ in 0..3000 {
                let pick = added[(next() as usize) % added.len()];
                let addr = match next() % 3 {
                    0 => next() as u32,
                    1 => pick.0,
                    _ => pick.0 | (next() as u32 & 0xff),
                };
                let now = next() % 250;
                let live = |e: &Option<u64>| !matches!(e, Some(t) if now >= *t);
                let covers = |&(net, len, _): &(u32, u8, Option<u64>)| {
                    len == 0 || (addr & (u32::MAX << (32 - u32::from(len)))) == net
                };
                let best = added
                    .iter()
                    .filter(|e| covers(e) && live(&e.2))
                    .map(|e| e.1)
                    .max();
                let hits: Vec<Hit<'_>> = set
                    .lookup_ip(IpAddr::V4(Ipv4Addr::from(addr)), now)
                    .collect();
                match best {
                    None => assert!(hits.is_empty(), "{addr:#x} at {now}"),
                    Some(len) => {
                        assert!(!hits.is_empty(), "{addr:#x} at {now}");
                        for h in &hits {
                            let IndicatorValue::Ip(_, l) = h.value() else {
                                panic!("not an IP hit")
                            };
                            assert_eq!(l, len);
                            assert!(!matches!(h.expires(), Some(t) if now >= t));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn empty_set_lookups() {
        let set = IndicatorSet::default();
        assert!(set.is_empty());
        assert!(set
            .lookup_ip("1.2.3.4".parse().unwrap(), 0)
            .next()
            .is_none());
        assert!(set.lookup_ip("::1".parse().unwrap(), 0).next().is_none());
        assert!(set.lookup_domain(b"a.b", 0).next().is_none());
        assert!(set.lookup_hash(&[0; 16], 0).next().is_none());
        assert!(set.lookup_url(b"a", b"/", 0).next().is_none());
    }

    /// One indicator entry of a generated input.
    #[derive(Clone, Debug)]
    struct Entry {
        ty: IndicatorType,
        value: String,
        feed: &'static str,
        event: &'static str,
        tags: Vec<&'static str>,
        tlp: Tlp,
        confidence: Option<u8>,
        first_seen: Option<u64>,
        expires: Option<u64>,
    }

    fn load(
        mut b: IndicatorSetBuilder,
        input: &[Entry],
        removals: &[&Entry],
    ) -> (IndicatorSet, LoadReport) {
        for e in input {
            let p = Provenance {
                feed: e.feed,
                event_id: e.event,
                tags: &e.tags,
                tlp: e.tlp,
                confidence: e.confidence,
                first_seen: e.first_seen,
                last_seen: e.first_seen.map(|t| t + 10),
                expires: e.expires,
            };
            b.add(e.ty, &e.value, &p, "gen", Location::Whole);
        }
        for r in removals {
            b.remove(r.ty, &r.value, r.feed);
        }
        b.build()
    }

    /// Everything a hit says, as one comparable line.
    fn describe(h: Hit<'_>) -> String {
        format!(
            "{} {} feed={} sid={} ev={} tags={:?} tlp={} conf={:?} seen={:?}..{:?} exp={:?} sub={}",
            h.kind(),
            h.value(),
            h.feed(),
            h.sid(),
            h.event_id(),
            h.tags().collect::<Vec<_>>(),
            h.tlp(),
            h.confidence(),
            h.first_seen(),
            h.last_seen(),
            h.expires(),
            h.covers_subdomains()
        )
    }

    fn sorted(hits: Hits<'_>) -> Vec<String> {
        let mut v: Vec<String> = hits.map(describe).collect();
        v.sort();
        v
    }

    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn pick<T: Copy>(&mut self, items: &[T]) -> T {
            items[self.below(items.len() as u64) as usize]
        }
        /// A value from a small universe, so values, parents and prefixes
        /// collide often.
        fn value(&mut self) -> (IndicatorType, String) {
            let n = self.below(6);
            match self.below(8) {
                0 => {
                    let len = self.pick(&[8u8, 16, 24, 28, 32, 32]);
                    let a = (10u32 << 24) | ((n as u32) << 16) | (self.below(4) as u32) << 8;
                    let a = a | self.below(4) as u32;
                    let net = a & (u32::MAX << (32 - u32::from(len)));
                    (IndicatorType::Ip, format!("{}/{len}", Ipv4Addr::from(net)))
                }
                1 => {
                    let len = self.pick(&[32u32, 48, 64, 128]);
                    let a =
                        (0x2001_0db8u128 << 96) | (u128::from(n) << 80) | u128::from(self.below(3));
                    let net = a & (u128::MAX << (128 - len));
                    (
                        IndicatorType::Ip,
                        format!("{}/{len}", std::net::Ipv6Addr::from(net)),
                    )
                }
                2 | 3 => {
                    let labels = ["", "a.", "b.a.", "c.b.a."][self.below(4) as usize];
                    let ty = if self.below(3) == 0 {
                        IndicatorType::Hostname
                    } else {
                        IndicatorType::Domain
                    };
                    (ty, format!("{labels}evil{n}.com"))
                }
                4 => {
                    let q = ["", "?q=1", "?q=2"][self.below(3) as usize];
                    (
                        IndicatorType::Url,
                        format!("http://h{n}.test/p{}{q}", self.below(2)),
                    )
                }
                5 => (IndicatorType::Sha256, format!("{:064x}", n)),
                6 => (IndicatorType::Md5, format!("{:032x}", n)),
                _ => (
                    IndicatorType::Email,
                    format!("u{}@evil{n}.com", self.below(2)),
                ),
            }
        }
        fn entry(&mut self) -> Entry {
            let (ty, value) = self.value();
            Entry {
                ty,
                value,
                feed: self.pick(&["f1", "f2", "f3"]),
                event: self.pick(&["", "e1", "e2"]),
                tags: match self.below(3) {
                    0 => vec![],
                    1 => vec!["c2"],
                    _ => vec!["c2", "apt"],
                },
                tlp: self.pick(&[Tlp::Unknown, Tlp::Amber]),
                confidence: self.pick(&[None, Some(50)]),
                first_seen: self.pick(&[None, Some(100), Some(150)]),
                expires: self.pick(&[None, None, Some(1000), Some(2000)]),
            }
        }
        /// A changed copy of `e`: other attributes, or another value.
        fn mutate(&mut self, e: &Entry) -> Entry {
            let mut e = e.clone();
            match self.below(5) {
                0 => e.expires = self.pick(&[None, Some(1000), Some(3000)]),
                1 => e.tags = vec!["changed"],
                2 => e.first_seen = Some(50 + self.below(200)),
                3 => e.confidence = Some(self.below(101) as u8),
                _ => (e.ty, e.value) = self.value(),
            }
            e
        }
    }

    /// Every lookup the sensor makes, over the generated universe, at
    /// several times: `got` must answer exactly as `want`.
    fn assert_same_answers(got: &IndicatorSet, want: &IndicatorSet, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: len");
        for k in IndicatorKind::ALL {
            assert_eq!(got.count(k), want.count(k), "{what}: count {k}");
        }
        let mut all_got: Vec<String> = got.iter().map(describe).collect();
        let mut all_want: Vec<String> = want.iter().map(describe).collect();
        all_got.sort();
        all_want.sort();
        assert_eq!(all_got, all_want, "{what}: iter");
        for now in [0u64, 999, 1000, 1500, 2500, 5000] {
            for n in 0..7u32 {
                for x in 0..5u32 {
                    for y in 0..5u32 {
                        let a = Ipv4Addr::from((10u32 << 24) | (n << 16) | (x << 8) | y);
                        let ip = IpAddr::V4(a);
                        assert_eq!(
                            sorted(got.lookup_ip(ip, now)),
                            sorted(want.lookup_ip(ip, now)),
                            "{what}: {ip} at {now}"
                        );
                    }
                    let ip: IpAddr = format!("2001:db8:{n}::{x:x}").parse().unwrap();
                    assert_eq!(
                        sorted(got.lookup_ip(ip, now)),
                        sorted(want.lookup_ip(ip, now)),
                        "{what}: {ip} at {now}"
                    );
                }
                for prefix in ["", "a.", "b.a.", "c.b.a.", "x.c.b.a.", "z."] {
                    let d = format!("{prefix}evil{n}.com");
                    assert_eq!(
                        sorted(got.lookup_domain(d.as_bytes(), now)),
                        sorted(want.lookup_domain(d.as_bytes(), now)),
                        "{what}: {d} at {now}"
                    );
                }
                for target in ["/p0", "/p1", "/p0?q=1", "/p1?q=2", "/p0?q=3"] {
                    let host = format!("h{n}.test");
                    assert_eq!(
                        sorted(got.lookup_url(host.as_bytes(), target.as_bytes(), now)),
                        sorted(want.lookup_url(host.as_bytes(), target.as_bytes(), now)),
                        "{what}: {host}{target} at {now}"
                    );
                }
                let mut d = [0u8; 32];
                d[31] = n as u8;
                assert_eq!(
                    sorted(got.lookup_hash(&d, now)),
                    sorted(want.lookup_hash(&d, now)),
                    "{what}: sha256 {n}"
                );
                assert_eq!(
                    sorted(got.lookup_hash(&d[16..], now)),
                    sorted(want.lookup_hash(&d[16..], now)),
                    "{what}: md5 {n}"
                );
                for u in 0..2 {
                    let e = format!("u{u}@evil{n}.com");
                    assert_eq!(
                        sorted(got.lookup_email(e.as_bytes(), now)),
                        sorted(want.lookup_email(e.as_bytes(), now)),
                        "{what}: {e}"
                    );
                }
            }
        }
    }

    fn assert_same_report(got: &LoadReport, want: &LoadReport, what: &str) {
        assert_eq!(got.loaded(), want.loaded(), "{what}: loaded");
        assert_eq!(
            got.feeds().collect::<Vec<_>>(),
            want.feeds().collect::<Vec<_>>(),
            "{what}: feeds"
        );
        assert_eq!(got.duplicates(), want.duplicates(), "{what}: duplicates");
        assert_eq!(got.removed(), want.removed(), "{what}: removed");
        for k in IndicatorKind::ALL {
            assert_eq!(got.count(k), want.count(k), "{what}: {k}");
        }
    }

    /// A reload (layered or rebuilt) answers every lookup as a set built
    /// from scratch on the same input, over random inputs, changes,
    /// duplicates, removals and chains of reloads.
    #[test]
    fn reloads_agree_with_full_rebuilds() {
        let mut g = Gen(0x1234_5678_9abc_def1);
        for round in 0..60 {
            let n = 20 + g.below(150) as usize;
            let mut input: Vec<Entry> = (0..n).map(|_| g.entry()).collect();
            let (mut current, _) = load(IndicatorSetBuilder::new(), &input, &[]);
            for step in 0..3 {
                // Change some entries, drop some, add some, duplicate some.
                let mut next = Vec::new();
                let change = g.below(4); // 0: none .. 3: most
                for e in &input {
                    match g.below(10) {
                        r if r < change * 2 => next.push(g.mutate(e)),
                        r if r == 9 && change > 0 => {}
                        r if r == 8 && change > 1 => {
                            next.push(e.clone());
                            next.push(g.mutate(e));
                        }
                        _ => next.push(e.clone()),
                    }
                }
                for _ in 0..change * 3 {
                    next.push(g.entry());
                }
                let removals: Vec<&Entry> = if g.below(4) == 0 {
                    next.iter().take(2).collect()
                } else {
                    Vec::new()
                };
                let percent = g.pick(&[0usize, 25, 100, 1000]);
                let what = format!("round {round} step {step} change {change} percent {percent}");
                let (want, want_report) = load(IndicatorSetBuilder::new(), &next, &removals);
                let (got, got_report) = load(
                    IndicatorSetBuilder::reloading(&current).max_delta_percent(percent),
                    &next,
                    &removals,
                );
                assert_same_answers(&got, &want, &what);
                assert_same_report(&got_report, &want_report, &what);
                if percent == 1000 {
                    assert!(
                        got.shares_base_with(&current) || current.is_empty(),
                        "{what}"
                    );
                }
                if percent == 0 && !got.is_empty() && change > 0 {
                    assert_eq!(got.layout().delta, 0, "{what}");
                }
                current = got;
                input = next;
            }
        }
    }

    fn csv_like(n: usize, salt: &str) -> Vec<Entry> {
        (0..n)
            .map(|i| {
                let (ty, value) = match i % 4 {
                    0 => (
                        IndicatorType::Ip,
                        format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255),
                    ),
                    1 => (IndicatorType::Domain, format!("{salt}d{i}.example.com")),
                    2 => (IndicatorType::Url, format!("http://{salt}h{i}.test/p")),
                    _ => (
                        IndicatorType::Sha256,
                        format!("{:064x}", i * 7 + salt.len()),
                    ),
                };
                Entry {
                    ty,
                    value,
                    feed: "list.csv",
                    event: "",
                    tags: vec![],
                    tlp: Tlp::Unknown,
                    confidence: None,
                    first_seen: None,
                    expires: None,
                }
            })
            .collect()
    }

    #[test]
    fn reload_of_the_same_content_keeps_the_set() {
        let input = csv_like(4000, "");
        let (old, _) = load(IndicatorSetBuilder::new(), &input, &[]);
        let (new, report) = load(IndicatorSetBuilder::reloading(&old), &input, &[]);
        assert!(new.shares_base_with(&old));
        assert_eq!(
            new.layout(),
            SetLayout {
                base: 4000,
                dead: 0,
                delta: 0
            }
        );
        assert_eq!(report.loaded(), 4000);
        assert_eq!(report.feeds().collect::<Vec<_>>(), [("list.csv", 4000)]);
        assert_same_answers(&new, &old, "same");
    }

    #[test]
    fn reload_of_ten_percent_changed_is_layered() {
        let mut input = csv_like(4000, "");
        let (old, _) = load(IndicatorSetBuilder::new(), &input, &[]);
        for (i, e) in input.iter_mut().enumerate().filter(|(i, _)| i % 10 == 3) {
            e.value = csv_like(i + 1, "new")[i].value.clone();
        }
        let (new, _) = load(IndicatorSetBuilder::reloading(&old), &input, &[]);
        let (want, _) = load(IndicatorSetBuilder::new(), &input, &[]);
        assert!(new.shares_base_with(&old));
        assert_eq!(
            new.layout(),
            SetLayout {
                base: 4000,
                dead: 400,
                delta: 400
            }
        );
        assert_eq!(new.len(), 4000);
        assert_same_answers(&new, &want, "10%");
        // The old set still answers as before (workers may hold it).
        assert!(old.lookup_domain(b"d1.example.com", 0).next().is_some());
        // A second reload compares against the same base again.
        let (again, _) = load(IndicatorSetBuilder::reloading(&new), &input, &[]);
        assert!(again.shares_base_with(&old));
        assert_same_answers(&again, &want, "10% again");
    }

    #[test]
    fn reload_of_everything_changed_rebuilds() {
        let (old, _) = load(IndicatorSetBuilder::new(), &csv_like(4000, ""), &[]);
        let input = csv_like(4000, "other");
        let (new, _) = load(IndicatorSetBuilder::reloading(&old), &input, &[]);
        let (want, _) = load(IndicatorSetBuilder::new(), &input, &[]);
        assert!(!new.shares_base_with(&old));
        assert_eq!(
            new.layout(),
            SetLayout {
                base: 4000,
                dead: 0,
                delta: 0
            }
        );
        assert_same_answers(&new, &want, "all changed");
    }

    #[test]
    fn reload_with_removals_and_expiry_changes() {
        let mut input = csv_like(400, "");
        let (old, _) = load(IndicatorSetBuilder::new(), &input, &[]);
        // Dropped from the input, removed by a removal entry, and one
        // indicator that now expires.
        input.remove(5);
        let k = (6..input.len())
            .find(|&k| matches!(input[k].ty, IndicatorType::Domain))
            .unwrap();
        input[k].expires = Some(1000);
        let removed = input[20].clone();
        let (new, report) = load(IndicatorSetBuilder::reloading(&old), &input, &[&removed]);
        let (want, want_report) = load(IndicatorSetBuilder::new(), &input, &[&removed]);
        assert!(new.shares_base_with(&old));
        assert_eq!(
            new.layout(),
            SetLayout {
                base: 400,
                dead: 3,
                delta: 1
            }
        );
        assert_eq!(new.len(), 398);
        assert_eq!(report.removed(), 1);
        assert_same_answers(&new, &want, "removals");
        assert_same_report(&report, &want_report, "removals");
        let d = input[k].value.clone();
        assert!(new.lookup_domain(d.as_bytes(), 999).next().is_some(), "{d}");
        assert!(
            new.lookup_domain(d.as_bytes(), 1000).next().is_none(),
            "{d}"
        );
        assert!(
            old.lookup_domain(d.as_bytes(), 1000).next().is_some(),
            "{d}"
        );
    }

    #[test]
    fn reload_applies_new_warninglists_to_kept_indicators() {
        let input = csv_like(400, "");
        let (old, _) = load(IndicatorSetBuilder::new(), &input, &[]);
        let mut b = IndicatorSetBuilder::reloading(&old);
        b.add_warninglist(
            Warninglist::from_json(
                br#"{"name":"ten","type":"cidr","list":["10.0.0.0/8"],"matching_attributes":["ip-dst"]}"#,
                "wl.json",
            )
            .unwrap(),
        );
        let (new, report) = load(b, &input, &[]);
        assert_eq!(new.count(IndicatorKind::Ipv4), 0);
        assert_eq!(report.warninglist_removed_total(), 100);
        assert!(new
            .lookup_ip("10.0.0.1".parse().unwrap(), 0)
            .next()
            .is_none());
    }
}
