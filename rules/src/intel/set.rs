//! The immutable indicator set, its builder, and the lookup results.

use super::index::{hash_bytes, KeyTable, SuffixFilter, SuffixHasher};
use super::ip::{Prefix, RangeTable, NONE};
use super::report::{LoadReport, Location, Quoted};
use super::value::{decode_hex, normalize, url_key, IndicatorType, KeyBuf};
use super::warninglist::Warninglist;
use super::{feed_sid, IndicatorKind, Provenance, Tlp};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Record flag: a domain indicator that also matches subdomains.
const SUBDOMAINS: u8 = 1;
/// Confidence byte meaning "not given".
const NO_CONFIDENCE: u8 = 255;

/// A group reference (what the IP range tables and the key arena store)
/// carries two facts about the group's first record in its top bits, so the
/// common lookup answers without reading the record: it never expires
/// ([`REF_LIVE`]), it covers subdomains ([`REF_SUBDOMAINS`]). The low bits
/// are the group id (its first record's index).
const REF_LIVE: u32 = 1 << 31;
const REF_SUBDOMAINS: u32 = 1 << 30;
const REF_GROUP: u32 = REF_SUBDOMAINS - 1;
/// Bytes before each hashed value (every kind but IP prefixes) in the set's
/// arena: kind (1), value length (2, LE), group reference (4, LE). A hash
/// table slot points at the value; one cache line then holds the bytes to
/// compare and the answer.
const KEY_HDR: usize = 7;

/// True for kinds found through a hash table (a key header in the arena).
fn keyed_kind(kind: u8) -> bool {
    !matches!(
        IndicatorKind::from_u8(kind),
        IndicatorKind::Ipv4 | IndicatorKind::Ipv6
    )
}

/// One indicator, packed (32 bytes). The value lives in the arena; equal
/// values share their bytes. Times are unix seconds, 0 = not given.
#[derive(Clone, Copy, Debug)]
struct Record {
    value_off: u32,
    value_len: u16,
    kind: u8,
    flags: u8,
    tlp: u8,
    confidence: u8,
    feed: u16,
    event: u32,
    tags: u32,
    first_seen: u32,
    last_seen: u32,
    expires: u32,
}

fn secs(t: Option<u64>) -> u32 {
    t.map_or(0, |t| u32::try_from(t).unwrap_or(u32::MAX).max(1))
}

/// Interned strings stored end to end.
#[derive(Debug, Default)]
struct StrTable {
    text: String,
    ends: Vec<u32>,
}

impl StrTable {
    fn get(&self, i: u32) -> &str {
        let i = i as usize;
        let start = if i == 0 {
            0
        } else {
            self.ends.get(i - 1).copied().unwrap_or(0) as usize
        };
        let end = self.ends.get(i).copied().unwrap_or(0) as usize;
        self.text.get(start..end).unwrap_or("")
    }

    fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * 4
    }
}

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

    fn len(&self) -> usize {
        self.table.ends.len()
    }
}

/// Builds an [`IndicatorSet`]: loaders call [`IndicatorSetBuilder::add`] for each
/// entry; [`IndicatorSetBuilder::build`] applies removals and warninglists,
/// merges duplicates and indexes everything.
#[derive(Debug)]
pub struct IndicatorSetBuilder {
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
    warninglists: Vec<Warninglist>,
    report: LoadReport,
    max_indicators: usize,
    buf: Box<KeyBuf>,
}

impl Default for IndicatorSetBuilder {
    fn default() -> Self {
        IndicatorSetBuilder::new()
    }
}

/// Default cap on indicators in one set (about 2 GB of memory at the cap).
pub const DEFAULT_MAX_INDICATORS: usize = 20_000_000;

impl IndicatorSetBuilder {
    /// An empty builder with the default indicator cap.
    pub fn new() -> IndicatorSetBuilder {
        let mut b = IndicatorSetBuilder {
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
            buf: Box::new(KeyBuf::new()),
        };
        // Tag set 0 is the empty set; event 0 is the empty id.
        b.tagset_ends.push(0);
        b.tagsets.insert(Vec::new(), 0);
        let _ = b.events.intern("");
        b
    }

    /// Caps the number of indicators; entries past the cap are rejected
    /// ("indicator limit reached") so a huge feed cannot exhaust memory.
    pub fn max_indicators(mut self, n: usize) -> IndicatorSetBuilder {
        // Group ids must fit under the reference flag bits.
        self.max_indicators = n.min(REF_GROUP as usize - 1);
        self
    }

    /// Entries added so far (before duplicates and warninglists).
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The report so far (rejections and skips counted by loaders).
    pub fn report(&self) -> &LoadReport {
        &self.report
    }

    /// Adds a warninglist applied at [`IndicatorSetBuilder::build`] to every
    /// indicator, whenever it was added.
    pub fn add_warninglist(&mut self, list: Warninglist) {
        self.warninglists.push(list);
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
        let norm = match normalize(ty, value, &mut self.buf) {
            Ok(n) => n,
            Err(e) => {
                self.report
                    .reject(source, location, e.as_str(), &Quoted(value));
                return false;
            }
        };
        if self.pending.len() >= self.max_indicators {
            self.report
                .reject(source, location, "indicator limit reached", &Quoted(value));
            return false;
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
        let bytes = self.buf.as_bytes();
        let (Ok(value_off), Ok(value_len)) =
            (u32::try_from(self.arena.len()), u16::try_from(bytes.len()))
        else {
            self.report.reject(
                source,
                location,
                "indicator set full (value storage exceeds 4 GiB)",
                &"",
            );
            return false;
        };
        // Room for the built set's key headers too.
        let built = self.arena.len() + bytes.len() + KEY_HDR * (self.pending.len() + 1);
        if u32::try_from(built).is_err() {
            self.report.reject(
                source,
                location,
                "indicator set full (value storage exceeds 4 GiB)",
                &"",
            );
            return false;
        }
        self.arena.extend_from_slice(bytes);
        self.pending.push(Record {
            value_off,
            value_len,
            kind: norm.kind as u8,
            flags: if norm.subdomains { SUBDOMAINS } else { 0 },
            tlp: prov.tlp as u8,
            confidence: prov.confidence.map_or(NO_CONFIDENCE, |c| c.min(100)),
            feed,
            event,
            tags,
            first_seen: secs(prov.first_seen),
            last_seen: secs(prov.last_seen),
            expires: secs(prov.expires),
        });
        true
    }

    /// Registers a removal: at build, indicators of this value and feed are
    /// dropped (Zeek `meta.remove`). Returns false if the value is invalid.
    pub fn remove(&mut self, ty: IndicatorType, value: &str, feed: &str) -> bool {
        let Ok(norm) = normalize(ty, value, &mut self.buf) else {
            return false;
        };
        let Some(feed) = self.feeds.intern(feed).and_then(|f| u16::try_from(f).ok()) else {
            return false;
        };
        if self.removals.len() < self.max_indicators {
            self.removals
                .insert((norm.kind as u8, self.buf.as_bytes().to_vec(), feed));
        }
        true
    }

    /// Registers an exclusion (allow-list entry, Zeek `meta.whitelist`): at
    /// build, indicators of this value are dropped whatever their feed.
    /// Returns false if the value is invalid.
    pub fn exclude(&mut self, ty: IndicatorType, value: &str) -> bool {
        let Ok(norm) = normalize(ty, value, &mut self.buf) else {
            return false;
        };
        if self.exclusions.len() < self.max_indicators {
            self.exclusions
                .insert((norm.kind as u8, self.buf.as_bytes().to_vec()));
        }
        true
    }

    fn intern_tags(&mut self, tags: &[&str]) -> Option<u32> {
        if tags.is_empty() {
            return Some(0);
        }
        let mut ids = Vec::with_capacity(tags.len().min(64));
        for t in tags.iter().take(64) {
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

    /// Builds the set and returns it with the final report.
    pub fn build(self) -> (IndicatorSet, LoadReport) {
        let IndicatorSetBuilder {
            arena: old_arena,
            pending,
            feeds,
            events,
            tags,
            tagsets: _,
            tagset_items,
            tagset_ends,
            removals,
            exclusions,
            warninglists,
            mut report,
            ..
        } = self;
        let value = |r: &Record| -> &[u8] {
            let s = r.value_off as usize;
            old_arena.get(s..s + r.value_len as usize).unwrap_or(&[])
        };

        // Removals and warninglists.
        let mut keep: Vec<u32> = Vec::with_capacity(pending.len());
        let mut text = Vec::new();
        'next: for (i, r) in pending.iter().enumerate() {
            let v = value(r);
            if !removals.is_empty() && removals.contains(&(r.kind, v.to_vec(), r.feed)) {
                report.removed += 1;
                continue;
            }
            if !exclusions.is_empty() && exclusions.contains(&(r.kind, v.to_vec())) {
                report.removed += 1;
                continue;
            }
            if !warninglists.is_empty() {
                let kind = IndicatorKind::from_u8(r.kind);
                text.clear();
                render_text(kind, v, &mut text);
                for wl in &warninglists {
                    if wl.matches(kind, v, &text) {
                        report.warninglist_hit(wl.name());
                        continue 'next;
                    }
                }
            }
            keep.push(i as u32);
        }

        // Equal values must end up adjacent; their order does not matter, so
        // sort on (kind, hash of value) and compare bytes only on equal keys.
        let mut keyed: Vec<(u64, u32)> = keep
            .iter()
            .map(|&i| {
                let r = &pending[i as usize];
                ((u64::from(r.kind) << 59) | (hash_bytes(value(r)) >> 5), i)
            })
            .collect();
        drop(keep);
        keyed.sort_unstable_by(|&(ka, a), &(kb, b)| {
            ka.cmp(&kb).then_with(|| {
                let (ra, rb) = (&pending[a as usize], &pending[b as usize]);
                value(ra)
                    .cmp(value(rb))
                    .then(ra.feed.cmp(&rb.feed))
                    .then(ra.event.cmp(&rb.event))
                    .then(ra.flags.cmp(&rb.flags))
                    .then(a.cmp(&b))
            })
        });

        let mut arena: Vec<u8> = Vec::with_capacity(old_arena.len() / 2);
        let mut records: Vec<Record> = Vec::with_capacity(keyed.len());
        let mut groups: Vec<u32> = Vec::new();
        let mut prev: Option<&Record> = None;
        for &(_, i) in &keyed {
            let r = &pending[i as usize];
            let mut out = *r;
            match prev {
                Some(p) if p.kind == r.kind && value(p) == value(r) => {
                    if p.feed == r.feed && p.event == r.event && p.flags == r.flags {
                        report.duplicates += 1;
                        if let Some(last) = records.last_mut() {
                            merge_times(last, r);
                        }
                        continue;
                    }
                    out.value_off = records.last().map_or(0, |l| l.value_off);
                }
                _ => {
                    groups.push(records.len() as u32);
                    if keyed_kind(r.kind) {
                        // Filled in by index() once the group is complete.
                        arena.extend_from_slice(&[0; KEY_HDR]);
                    }
                    out.value_off = arena.len() as u32;
                    arena.extend_from_slice(value(r));
                }
            }
            records.push(out);
            prev = Some(r);
        }
        drop(keyed);
        drop(pending);
        drop(old_arena);

        let nfeeds = feeds.len() as u32;
        let mut set = IndicatorSet {
            records,
            arena,
            feed_names: feeds.table,
            feed_sids: Vec::new(),
            events: events.table,
            tags: tags.table,
            tagset_items,
            tagset_ends,
            v4: RangeTable::default(),
            v6: RangeTable::default(),
            domains: KeyTable::default(),
            domain_filter: SuffixFilter::default(),
            urls: KeyTable::default(),
            hashes: KeyTable::default(),
            ja3: KeyTable::default(),
            ja4: KeyTable::default(),
            certs: KeyTable::default(),
            emails: KeyTable::default(),
            counts: [0; 12],
        };
        set.feed_sids = (0..nfeeds)
            .map(|i| feed_sid(set.feed_names.get(i)))
            .collect();
        set.index(&groups, &mut report);
        (set, report)
    }
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
#[derive(Debug)]
pub struct IndicatorSet {
    records: Vec<Record>,
    arena: Vec<u8>,
    feed_names: StrTable,
    feed_sids: Vec<u32>,
    events: StrTable,
    tags: StrTable,
    tagset_items: Vec<u32>,
    tagset_ends: Vec<u32>,
    v4: RangeTable<u32>,
    v6: RangeTable<u128>,
    domains: KeyTable,
    domain_filter: SuffixFilter,
    urls: KeyTable,
    hashes: KeyTable,
    ja3: KeyTable,
    ja4: KeyTable,
    certs: KeyTable,
    emails: KeyTable,
    counts: [u64; 12],
}

impl Default for IndicatorSet {
    fn default() -> Self {
        IndicatorSetBuilder::new().build().0
    }
}

impl IndicatorSet {
    /// Indexes every group. A group is all records of one kind and value,
    /// adjacent, sharing `value_off`; its id is its first record's index.
    fn index(&mut self, groups: &[u32], report: &mut LoadReport) {
        let mut per_kind = [0usize; 12];
        for &g in groups {
            per_kind[usize::from(self.group_rec(g).kind)] += 1;
        }
        let cap = |ks: &[IndicatorKind]| ks.iter().map(|&k| per_kind[k as usize]).sum();
        self.domains = KeyTable::with_capacity(cap(&[IndicatorKind::Domain]));
        self.urls = KeyTable::with_capacity(cap(&[IndicatorKind::Url]));
        self.hashes = KeyTable::with_capacity(cap(&[
            IndicatorKind::Md5,
            IndicatorKind::Sha1,
            IndicatorKind::Sha256,
        ]));
        self.ja3 = KeyTable::with_capacity(cap(&[IndicatorKind::Ja3, IndicatorKind::Ja3s]));
        self.ja4 = KeyTable::with_capacity(cap(&[IndicatorKind::Ja4]));
        self.certs = KeyTable::with_capacity(cap(&[IndicatorKind::CertSha1]));
        self.emails = KeyTable::with_capacity(cap(&[IndicatorKind::Email]));
        self.domain_filter = SuffixFilter::with_capacity(per_kind[IndicatorKind::Domain as usize]);
        let mut v4 = Vec::with_capacity(per_kind[0]);
        let mut v6 = Vec::with_capacity(per_kind[1]);
        for &g in groups {
            let r = *self.group_rec(g);
            let gref = g
                | if r.expires == 0 { REF_LIVE } else { 0 }
                | if r.flags & SUBDOMAINS != 0 {
                    REF_SUBDOMAINS
                } else {
                    0
                };
            let off = r.value_off;
            if keyed_kind(r.kind) {
                let start = (off as usize).wrapping_sub(KEY_HDR);
                if let Some(h) = self.arena.get_mut(start..off as usize) {
                    h[0] = r.kind;
                    h[1..3].copy_from_slice(&r.value_len.to_le_bytes());
                    h[3..7].copy_from_slice(&gref.to_le_bytes());
                }
            }
            let v = self.value_bytes(&r);
            let kind = IndicatorKind::from_u8(r.kind);
            match kind {
                IndicatorKind::Ipv4 if v.len() == 5 => v4.push(Prefix {
                    start: u128::from(u32::from_be_bytes([v[0], v[1], v[2], v[3]])),
                    len: v[4],
                    group: gref,
                }),
                IndicatorKind::Ipv6 if v.len() == 17 => {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(&v[..16]);
                    v6.push(Prefix {
                        start: u128::from_be_bytes(a),
                        len: v[16],
                        group: gref,
                    })
                }
                IndicatorKind::Ipv4 | IndicatorKind::Ipv6 => {}
                IndicatorKind::Domain => {
                    let h = SuffixHasher::of(v);
                    self.domain_filter.insert(h);
                    self.domains.insert(h, off)
                }
                IndicatorKind::Url => self.urls.insert(hash_bytes(v), off),
                IndicatorKind::Md5 | IndicatorKind::Sha1 | IndicatorKind::Sha256 => {
                    self.hashes.insert(hash_bytes(v), off)
                }
                IndicatorKind::Ja3 | IndicatorKind::Ja3s => self.ja3.insert(hash_bytes(v), off),
                IndicatorKind::Ja4 => self.ja4.insert(hash_bytes(v), off),
                IndicatorKind::CertSha1 => self.certs.insert(hash_bytes(v), off),
                IndicatorKind::Email => self.emails.insert(hash_bytes(v), off),
            }
        }
        self.v4 = RangeTable::build_v4(v4);
        self.v6 = RangeTable::build_v6(v6);
        let mut per_feed = vec![0u64; self.feed_sids.len()];
        for r in &self.records {
            self.counts[usize::from(r.kind)] += 1;
            if let Some(c) = per_feed.get_mut(usize::from(r.feed)) {
                *c += 1;
            }
        }
        report.by_kind = self.counts;
        report.by_feed.clear();
        for (f, n) in per_feed.iter().enumerate() {
            if *n > 0 {
                report.count_feed(self.feed_names.get(f as u32), *n);
            }
        }
    }

    #[inline]
    fn group_rec(&self, g: u32) -> &Record {
        static EMPTY: Record = Record {
            value_off: u32::MAX,
            value_len: 0,
            kind: u8::MAX,
            flags: 0,
            tlp: 0,
            confidence: 0,
            feed: 0,
            event: 0,
            tags: 0,
            first_seen: 0,
            last_seen: 0,
            expires: 0,
        };
        self.records.get(g as usize).unwrap_or(&EMPTY)
    }

    #[inline]
    fn value_bytes(&self, r: &Record) -> &[u8] {
        let s = r.value_off as usize;
        self.arena.get(s..s + r.value_len as usize).unwrap_or(&[])
    }

    /// (kind, group reference, value) of the keyed value at arena offset
    /// `off` (what a hash table slot holds).
    #[inline]
    fn key_at(&self, off: u32) -> (u8, u32, &[u8]) {
        let o = off as usize;
        let Some(h) = o.checked_sub(KEY_HDR).and_then(|s| self.arena.get(s..o)) else {
            return (u8::MAX, NONE, &[]);
        };
        let len = usize::from(u16::from_le_bytes([h[1], h[2]]));
        let gref = u32::from_le_bytes([h[3], h[4], h[5], h[6]]);
        (h[0], gref, self.arena.get(o..o + len).unwrap_or(&[]))
    }

    /// The hits of a group, from its reference. When the reference says the
    /// first record is live (and covers subdomains if needed), the first hit
    /// costs no record read.
    #[inline]
    fn group_hits(&self, gref: u32, now: u64, need_subdomains: bool) -> Hits<'_> {
        let g = gref & REF_GROUP;
        Hits {
            set: self,
            group: g,
            cur: g,
            end: self.records.len() as u32,
            value_off: None,
            now,
            need_subdomains,
            first_live: gref & REF_LIVE != 0 && (!need_subdomains || gref & REF_SUBDOMAINS != 0),
        }
    }

    fn no_hits(&self) -> Hits<'_> {
        Hits {
            set: self,
            group: 0,
            cur: 0,
            end: 0,
            value_off: None,
            now: 0,
            need_subdomains: false,
            first_live: false,
        }
    }

    /// Number of indicators.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when the set holds no indicator.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Number of indicators of one kind.
    pub fn count(&self, kind: IndicatorKind) -> u64 {
        self.counts[kind as usize]
    }

    /// Heap memory held by the set, in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.records.capacity() * std::mem::size_of::<Record>()
            + self.arena.capacity()
            + self.domain_filter.heap_bytes()
            + self.feed_names.heap_bytes()
            + self.feed_sids.capacity() * 4
            + self.events.heap_bytes()
            + self.tags.heap_bytes()
            + (self.tagset_items.capacity() + self.tagset_ends.capacity()) * 4
            + self.v4.heap_bytes()
            + self.v6.heap_bytes()
            + [
                &self.domains,
                &self.urls,
                &self.hashes,
                &self.ja3,
                &self.ja4,
                &self.certs,
                &self.emails,
            ]
            .iter()
            .map(|t| t.heap_bytes())
            .sum::<usize>()
    }

    /// Indicators for an IP address: the most specific prefix (address or
    /// CIDR) holding it that has a live indicator. The sensor calls this once
    /// per flow for each endpoint, not per packet. IPv4-mapped IPv6
    /// addresses are looked up as IPv4.
    pub fn lookup_ip(&self, ip: IpAddr, now: u64) -> Hits<'_> {
        match ip {
            IpAddr::V4(a) => self.lookup_v4(a, now),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => self.lookup_v4(v4, now),
                None => self.lookup_v6(a, now),
            },
        }
    }

    fn lookup_v4(&self, a: Ipv4Addr, now: u64) -> Hits<'_> {
        let (g, range) = self.v4.slot(u32::from(a));
        if g == NONE {
            return self.no_hits();
        }
        let hits = self.group_hits(g, now, false);
        if hits.clone().next().is_some() {
            return hits;
        }
        self.live_parent(self.v4.range_prefix(range), now, |p| self.v4.prefix(p))
    }

    fn lookup_v6(&self, a: Ipv6Addr, now: u64) -> Hits<'_> {
        let (g, range) = self.v6.slot(u128::from(a));
        if g == NONE {
            return self.no_hits();
        }
        let hits = self.group_hits(g, now, false);
        if hits.clone().next().is_some() {
            return hits;
        }
        self.live_parent(self.v6.range_prefix(range), now, |p| self.v6.prefix(p))
    }

    /// Hits of the closest prefix above prefix `p` that has a live
    /// indicator (every indicator of `p` itself expired).
    fn live_parent(
        &self,
        p: u32,
        now: u64,
        prefix: impl Fn(u32) -> Option<(u32, u32)>,
    ) -> Hits<'_> {
        let mut p = prefix(p).map_or(NONE, |(_, parent)| parent);
        while let Some((g, parent)) = prefix(p) {
            let hits = self.group_hits(g, now, false);
            if hits.clone().next().is_some() {
                return hits;
            }
            p = parent;
        }
        self.no_hits()
    }

    /// Indicators for a domain name (DNS query or answer, HTTP host, TLS SNI):
    /// an exact indicator for the name, else the closest parent domain whose
    /// indicator covers subdomains. Case-insensitive; one trailing dot ignored.
    pub fn lookup_domain(&self, name: &[u8], now: u64) -> Hits<'_> {
        let name = name.strip_suffix(b".").unwrap_or(name);
        // No length cap: an over-long name (bogus Host or SNI) must still
        // match its listed parent domain; the work is linear in its length.
        // A ":port" suffix (HTTP Host) is ignored.
        let name = match memchr::memrchr(b':', name) {
            Some(p) if p + 1 < name.len() && name[p + 1..].iter().all(u8::is_ascii_digit) => {
                &name[..p]
            }
            _ => name,
        };
        if name.is_empty() || self.count(IndicatorKind::Domain) == 0 {
            return self.no_hits();
        }
        // Suffix hashes come right to left (least specific first), but the
        // lookup tries the most specific first and stops at the first live
        // hit, so an exact hit costs one table probe. While hashing, each
        // suffix is checked against the filter (most are absent: "com",
        // "example.com"); the ones that pass wait in a ring of 16, and a
        // name with more candidates has its less specific ones probed at
        // once (their hits kept, the last 8).
        const RING: usize = 16;
        let mut ring = [(0u64, 0usize); RING];
        let (mut held, mut next) = (0usize, 0usize);
        let mut early = [0u32; 8];
        let mut n_early = 0usize;
        let whole = SuffixHasher::suffixes(name, |i, sh| {
            if i + 1 == name.len() || !self.domain_filter.may_contain(sh) {
                return;
            }
            if held == RING {
                let (oh, start) = ring[next];
                if let Some(g) = self.find_domain_unfiltered(oh, &name[start..]) {
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
            ring[next] = (sh, i + 1);
            next = (next + 1) % RING;
        });
        let live = |g: u32, need_subdomains: bool| {
            let hits = self.group_hits(g, now, need_subdomains);
            hits.clone().next().is_some().then_some(hits)
        };
        if let Some(hits) = self.find_domain(whole, name).and_then(|g| live(g, false)) {
            return hits;
        }
        for k in 1..=held {
            let (sh, start) = ring[(next + RING - k) % RING];
            if let Some(hits) = self
                .find_domain_unfiltered(sh, &name[start..])
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
        self.no_hits()
    }

    #[inline]
    fn find_domain(&self, hash: u64, name: &[u8]) -> Option<u32> {
        // The filter answers most absent suffixes ("com", "example.com")
        // without touching the large table.
        if !self.domain_filter.may_contain(hash) {
            return None;
        }
        self.find_domain_unfiltered(hash, name)
    }

    /// [`IndicatorSet::find_domain`] once the filter has said "maybe".
    #[inline]
    fn find_domain_unfiltered(&self, hash: u64, name: &[u8]) -> Option<u32> {
        let off = self
            .domains
            .find(hash, |off| self.key_at(off).2.eq_ignore_ascii_case(name))?;
        Some(self.key_at(off).1)
    }

    /// Group reference of the value `key` of one of `kinds` in `table`.
    fn find_exact(&self, table: &KeyTable, key: &[u8], kinds: &[IndicatorKind]) -> Option<u32> {
        let off = table.find(hash_bytes(key), |off| {
            let (kind, _, v) = self.key_at(off);
            kinds.iter().any(|&k| k as u8 == kind) && v == key
        })?;
        Some(self.key_at(off).1)
    }

    /// Indicators for an HTTP request: `host` (Host header, port allowed) and
    /// `target` (`/path?query`, or an absolute `http://host/path` target,
    /// whose host then wins). Tries host+path+query, then host+path, so a
    /// URL indicator without a query matches any query.
    pub fn lookup_url(&self, host: &[u8], target: &[u8], now: u64) -> Hits<'_> {
        if self.count(IndicatorKind::Url) == 0 {
            return self.no_hits();
        }
        // Absolute-form target (proxy request): its authority is the host.
        if let Some(rest) = strip_scheme(target) {
            let end = rest
                .iter()
                .position(|&b| b == b'/' || b == b'?' || b == b'#')
                .unwrap_or(rest.len());
            let (authority, path) = rest.split_at(end);
            let host = match memchr::memrchr(b'@', authority) {
                Some(p) => &authority[p + 1..],
                None => authority,
            };
            return self.lookup_url_parts(host, path, now);
        }
        self.lookup_url_parts(host, target, now)
    }

    fn lookup_url_parts(&self, host: &[u8], target: &[u8], now: u64) -> Hits<'_> {
        let mut key = KeyBuf::new();
        if url_key(host, target, &mut key) {
            if let Some(g) = self.find_exact(&self.urls, key.as_bytes(), &[IndicatorKind::Url]) {
                return self.group_hits(g, now, false);
            }
        }
        // Without the query: also when a long query made the full key too
        // long to be any indicator, so padding a query cannot evade.
        let target = match memchr::memchr2(b'?', b'#', target) {
            Some(q) => &target[..q],
            None => return self.no_hits(),
        };
        if url_key(host, target, &mut key) {
            if let Some(g) = self.find_exact(&self.urls, key.as_bytes(), &[IndicatorKind::Url]) {
                return self.group_hits(g, now, false);
            }
        }
        self.no_hits()
    }

    /// Indicators for a raw file digest (16 bytes MD5, 20 SHA-1, 32 SHA-256).
    pub fn lookup_hash(&self, digest: &[u8], now: u64) -> Hits<'_> {
        let kind = match digest.len() {
            16 => IndicatorKind::Md5,
            20 => IndicatorKind::Sha1,
            32 => IndicatorKind::Sha256,
            _ => return self.no_hits(),
        };
        match self.find_exact(&self.hashes, digest, &[kind]) {
            Some(g) => self.group_hits(g, now, false),
            None => self.no_hits(),
        }
    }

    /// Like [`IndicatorSet::lookup_hash`], for a hex digest.
    pub fn lookup_hash_hex(&self, hex: &str, now: u64) -> Hits<'_> {
        let mut raw = [0u8; 64];
        match decode_hex(hex.as_bytes(), &mut raw) {
            Some(d) => self.lookup_hash(d, now),
            None => self.no_hits(),
        }
    }

    fn lookup_md5_kind(&self, hex: &str, kind: IndicatorKind, now: u64) -> Hits<'_> {
        let mut raw = [0u8; 64];
        let Some(d) = decode_hex(hex.as_bytes(), &mut raw).filter(|d| d.len() == 16) else {
            return self.no_hits();
        };
        match self.find_exact(&self.ja3, d, &[kind]) {
            Some(g) => self.group_hits(g, now, false),
            None => self.no_hits(),
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
            return self.no_hits();
        }
        let mut lower = [0u8; 36];
        for (o, i) in lower.iter_mut().zip(b) {
            *o = i.to_ascii_lowercase();
        }
        match self.find_exact(&self.ja4, &lower, &[IndicatorKind::Ja4]) {
            Some(g) => self.group_hits(g, now, false),
            None => self.no_hits(),
        }
    }

    /// Indicators for the raw SHA-1 (20 bytes) of a TLS certificate.
    pub fn lookup_cert_sha1(&self, sha1: &[u8], now: u64) -> Hits<'_> {
        if sha1.len() != 20 {
            return self.no_hits();
        }
        match self.find_exact(&self.certs, sha1, &[IndicatorKind::CertSha1]) {
            Some(g) => self.group_hits(g, now, false),
            None => self.no_hits(),
        }
    }

    /// Indicators for an e-mail address (case-insensitive).
    pub fn lookup_email(&self, addr: &[u8], now: u64) -> Hits<'_> {
        let mut key = KeyBuf::new();
        for &b in addr {
            if !key.push(b.to_ascii_lowercase()) {
                return self.no_hits();
            }
        }
        match self.find_exact(&self.emails, key.as_bytes(), &[IndicatorKind::Email]) {
            Some(g) => self.group_hits(g, now, false),
            None => self.no_hits(),
        }
    }

    /// Every indicator, in storage order (kind, then value).
    pub fn iter(&self) -> impl Iterator<Item = Hit<'_>> {
        (0..self.records.len() as u32).map(move |rec| Hit { set: self, rec })
    }
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

/// Indicators matching one lookup: all live indicators of the matched value
/// (one per feed and event). Allocation-free; empty when nothing matched.
#[derive(Clone, Debug)]
pub struct Hits<'a> {
    set: &'a IndicatorSet,
    /// The group id (its first record).
    group: u32,
    cur: u32,
    end: u32,
    /// The group's shared value offset, read when first needed: the group
    /// ends at the first record with another one.
    value_off: Option<u32>,
    now: u64,
    need_subdomains: bool,
    /// The first record is known to match (from the group reference).
    first_live: bool,
}

impl<'a> Iterator for Hits<'a> {
    type Item = Hit<'a>;

    #[inline]
    fn next(&mut self) -> Option<Hit<'a>> {
        if self.first_live {
            self.first_live = false;
            if self.cur < self.end {
                let rec = self.cur;
                self.cur += 1;
                return Some(Hit { set: self.set, rec });
            }
        }
        while self.cur < self.end {
            let rec = self.cur;
            self.cur += 1;
            let r = self.set.records.get(rec as usize)?;
            let group_off = match self.value_off {
                Some(v) => v,
                None => *self
                    .value_off
                    .insert(self.set.group_rec(self.group).value_off),
            };
            if r.value_off != group_off {
                self.cur = self.end;
                return None;
            }
            if r.expires != 0 && self.now >= u64::from(r.expires) {
                continue;
            }
            if self.need_subdomains && r.flags & SUBDOMAINS == 0 {
                continue;
            }
            return Some(Hit { set: self.set, rec });
        }
        None
    }
}

/// One matching indicator: a reference into the set, 16 bytes, no allocation.
#[derive(Clone, Copy, Debug)]
pub struct Hit<'a> {
    set: &'a IndicatorSet,
    rec: u32,
}

impl<'a> Hit<'a> {
    fn r(&self) -> &'a Record {
        &self.set.records[self.rec as usize]
    }

    /// Indicator kind.
    pub fn kind(&self) -> IndicatorKind {
        IndicatorKind::from_u8(self.r().kind)
    }

    /// The indicator's value (address/prefix, text or digest); `Display` renders it.
    pub fn value(&self) -> IndicatorValue<'a> {
        let r = self.r();
        IndicatorValue::from_stored(self.kind(), self.set.value_bytes(r))
    }

    /// Feed name.
    pub fn feed(&self) -> &'a str {
        self.set.feed_names.get(u32::from(self.r().feed))
    }

    /// Stable signature id of the feed (see [`feed_sid`]).
    pub fn sid(&self) -> u32 {
        self.set
            .feed_sids
            .get(usize::from(self.r().feed))
            .copied()
            .unwrap_or(0)
    }

    /// Event or object id in the feed (empty if none).
    pub fn event_id(&self) -> &'a str {
        self.set.events.get(self.r().event)
    }

    /// Tags.
    pub fn tags(&self) -> impl Iterator<Item = &'a str> + 'a {
        let set = self.set;
        let t = self.r().tags as usize;
        let start = if t == 0 {
            0
        } else {
            set.tagset_ends.get(t - 1).copied().unwrap_or(0)
        };
        let end = set.tagset_ends.get(t).copied().unwrap_or(start);
        set.tagset_items
            .get(start as usize..end as usize)
            .unwrap_or(&[])
            .iter()
            .map(move |&i| set.tags.get(i))
    }

    /// TLP marking.
    pub fn tlp(&self) -> Tlp {
        Tlp::from_u8(self.r().tlp)
    }

    /// Confidence 0..=100 if the feed gave one.
    pub fn confidence(&self) -> Option<u8> {
        Some(self.r().confidence).filter(|&c| c != NO_CONFIDENCE)
    }

    /// First seen (unix seconds).
    pub fn first_seen(&self) -> Option<u64> {
        Some(u64::from(self.r().first_seen)).filter(|&t| t != 0)
    }

    /// Last seen (unix seconds).
    pub fn last_seen(&self) -> Option<u64> {
        Some(u64::from(self.r().last_seen)).filter(|&t| t != 0)
    }

    /// Expiry (unix seconds); the indicator does not match from then on.
    pub fn expires(&self) -> Option<u64> {
        Some(u64::from(self.r().expires)).filter(|&t| t != 0)
    }

    /// For domains: whether the indicator also covers subdomains.
    pub fn covers_subdomains(&self) -> bool {
        self.r().flags & SUBDOMAINS != 0
    }
}

/// The value of an indicator as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndicatorValue<'a> {
    /// Address and prefix length (32/128 for a single address).
    Ip(IpAddr, u8),
    /// Domain, URL key (host + path + query), e-mail or JA4, normalised.
    Text(&'a str),
    /// Raw digest bytes (hashes, JA3, certificate SHA-1).
    Digest(&'a [u8]),
}

impl<'a> IndicatorValue<'a> {
    fn from_stored(kind: IndicatorKind, v: &'a [u8]) -> IndicatorValue<'a> {
        match kind {
            IndicatorKind::Ipv4 if v.len() == 5 => {
                IndicatorValue::Ip(IpAddr::V4(Ipv4Addr::new(v[0], v[1], v[2], v[3])), v[4])
            }
            IndicatorKind::Ipv6 if v.len() == 17 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(&v[..16]);
                IndicatorValue::Ip(IpAddr::V6(Ipv6Addr::from(a)), v[16])
            }
            IndicatorKind::Domain
            | IndicatorKind::Url
            | IndicatorKind::Email
            | IndicatorKind::Ja4 => IndicatorValue::Text(std::str::from_utf8(v).unwrap_or("")),
            _ => IndicatorValue::Digest(v),
        }
    }
}

impl fmt::Display for IndicatorValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IndicatorValue::Ip(ip, len) => {
                let max = if ip.is_ipv4() { 32 } else { 128 };
                if *len == max {
                    write!(f, "{ip}")
                } else {
                    write!(f, "{ip}/{len}")
                }
            }
            IndicatorValue::Text(t) => f.write_str(t),
            IndicatorValue::Digest(d) => {
                for b in d.iter() {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

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
}
