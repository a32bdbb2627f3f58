//! One indexed layer of indicators: packed records, their value arena, the
//! provenance tables and the lookup indexes, and the lookup results that
//! point into it. An [`IndicatorSet`](super::IndicatorSet) is one layer, or,
//! after a reload that changed little, the previous set's layer (shared) plus
//! a small delta layer and a bit per base record no longer in the set.

use super::index::{hash_bytes, KeyTable, SuffixFilter, SuffixHasher};
use super::ip::{Prefix, Prefix4, RangeTable, NONE};
use super::report::LoadReport;
use super::{IndicatorKind, Tlp};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Record flag: a domain indicator that also matches subdomains.
pub(super) const SUBDOMAINS: u8 = 1;
/// Confidence byte meaning "not given".
pub(super) const NO_CONFIDENCE: u8 = 255;

/// A group reference (what the IP range tables and the key arena store)
/// carries two facts about the group's first record in its top bits, so the
/// common lookup answers without reading the record: it never expires
/// ([`REF_LIVE`]), it covers subdomains ([`REF_SUBDOMAINS`]). The low bits
/// are the group id (its first record's index).
pub(super) const REF_LIVE: u32 = 1 << 31;
pub(super) const REF_SUBDOMAINS: u32 = 1 << 30;
pub(super) const REF_GROUP: u32 = REF_SUBDOMAINS - 1;
/// Bytes before each hashed value (every kind but IP prefixes) in the set's
/// arena: kind (1), value length (2, LE), group reference (4, LE). A hash
/// table slot points at the value; one cache line then holds the bytes to
/// compare and the answer.
pub(super) const KEY_HDR: usize = 7;

/// True for kinds found through a hash table (a key header in the arena).
pub(super) fn keyed_kind(kind: u8) -> bool {
    !matches!(
        IndicatorKind::from_u8(kind),
        IndicatorKind::Ipv4 | IndicatorKind::Ipv6
    )
}

/// One indicator, packed (32 bytes). The value lives in the arena; equal
/// values share their bytes. Times are unix seconds, 0 = not given.
#[derive(Clone, Copy, Debug)]
pub(super) struct Record {
    pub(super) value_off: u32,
    pub(super) value_len: u16,
    pub(super) kind: u8,
    pub(super) flags: u8,
    pub(super) tlp: u8,
    pub(super) confidence: u8,
    pub(super) feed: u16,
    pub(super) event: u32,
    pub(super) tags: u32,
    pub(super) first_seen: u32,
    pub(super) last_seen: u32,
    pub(super) expires: u32,
}

pub(super) fn secs(t: Option<u64>) -> u32 {
    t.map_or(0, |t| u32::try_from(t).unwrap_or(u32::MAX).max(1))
}

/// Interned strings stored end to end.
#[derive(Debug, Default)]
pub(super) struct StrTable {
    pub(super) text: String,
    pub(super) ends: Vec<u32>,
}

impl StrTable {
    pub(super) fn get(&self, i: u32) -> &str {
        let i = i as usize;
        let start = if i == 0 {
            0
        } else {
            self.ends.get(i - 1).copied().unwrap_or(0) as usize
        };
        let end = self.ends.get(i).copied().unwrap_or(0) as usize;
        self.text.get(start..end).unwrap_or("")
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * 4
    }
}

/// The prefixes holding one address in one layer, most specific first:
/// (group reference, prefix length).
pub(super) struct PrefixChain<'a> {
    set: &'a Layer,
    v6: bool,
    p: u32,
}

impl Iterator for PrefixChain<'_> {
    type Item = (u32, u8);

    #[inline]
    fn next(&mut self) -> Option<(u32, u8)> {
        let (g, parent) = if self.v6 {
            self.set.v6.prefix(self.p)?
        } else {
            self.set.v4.prefix(self.p)?
        };
        self.p = parent;
        let v = self.set.value_bytes(self.set.group_rec(g & REF_GROUP));
        Some((g, v.last().copied().unwrap_or(0)))
    }
}

/// A bit per record index (the base records a layered set no longer has).
#[derive(Clone, Debug, Default)]
pub(super) struct Bits {
    words: Vec<u64>,
}

impl Bits {
    /// `n` bits, all clear.
    pub(super) fn new(n: usize) -> Bits {
        Bits {
            words: vec![0; n.div_ceil(64)],
        }
    }

    #[inline]
    pub(super) fn get(&self, i: u32) -> bool {
        self.words
            .get((i >> 6) as usize)
            .is_some_and(|w| w & (1 << (i & 63)) != 0)
    }

    pub(super) fn set(&mut self, i: u32) {
        if let Some(w) = self.words.get_mut((i >> 6) as usize) {
            *w |= 1 << (i & 63);
        }
    }

    pub(super) fn clear(&mut self, i: u32) {
        if let Some(w) = self.words.get_mut((i >> 6) as usize) {
            *w &= !(1 << (i & 63));
        }
    }

    /// Flips the first `n` bits (and clears the rest).
    pub(super) fn invert(&mut self, n: usize) {
        for (i, w) in self.words.iter_mut().enumerate() {
            let valid = n.saturating_sub(i * 64);
            *w = !*w
                & if valid >= 64 {
                    u64::MAX
                } else {
                    (1u64 << valid) - 1
                };
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.words.capacity() * 8
    }
}

/// One indexed layer of indicators: the records, their values and
/// provenance, and the lookup indexes. Immutable once indexed.
#[derive(Debug, Default)]
pub(super) struct Layer {
    pub(super) records: Vec<Record>,
    pub(super) arena: Vec<u8>,
    pub(super) feed_names: StrTable,
    pub(super) feed_sids: Vec<u32>,
    pub(super) events: StrTable,
    pub(super) tags: StrTable,
    pub(super) tagset_items: Vec<u32>,
    pub(super) tagset_ends: Vec<u32>,
    pub(super) v4: RangeTable<u32>,
    pub(super) v6: RangeTable<u128>,
    pub(super) domains: KeyTable,
    pub(super) domain_filter: SuffixFilter,
    pub(super) urls: KeyTable,
    pub(super) hashes: KeyTable,
    pub(super) ja3: KeyTable,
    pub(super) ja4: KeyTable,
    pub(super) certs: KeyTable,
    pub(super) emails: KeyTable,
    pub(super) counts: [u64; 12],
}

/// Group starts: records whose value is not the previous record's.
fn starts(records: &[Record]) -> impl Iterator<Item = u32> + '_ {
    let mut prev = None;
    (0..records.len() as u32).filter(move |&i| {
        let off = records[i as usize].value_off;
        let start = prev != Some(off);
        prev = Some(off);
        start
    })
}

impl Layer {
    /// Indexes every group. A group is all records of one kind and value,
    /// adjacent, sharing `value_off`; its id is its first record's index.
    pub(super) fn index(&mut self, report: &mut LoadReport) {
        let mut per_kind = [0usize; 12];
        for g in starts(&self.records) {
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
        let records = std::mem::take(&mut self.records);
        for g in starts(&records) {
            let r = records[g as usize];
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
                IndicatorKind::Ipv4 if v.len() == 5 => v4.push(Prefix4 {
                    start: u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
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
        self.records = records;
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
    pub(super) fn group_rec(&self, g: u32) -> &Record {
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
    pub(super) fn value_bytes(&self, r: &Record) -> &[u8] {
        let s = r.value_off as usize;
        self.arena.get(s..s + r.value_len as usize).unwrap_or(&[])
    }

    /// (kind, group reference, value) of the keyed value at arena offset
    /// `off` (what a hash table slot holds).
    #[inline]
    pub(super) fn key_at(&self, off: u32) -> (u8, u32, &[u8]) {
        let o = off as usize;
        let Some(h) = o.checked_sub(KEY_HDR).and_then(|s| self.arena.get(s..o)) else {
            return (u8::MAX, NONE, &[]);
        };
        let len = usize::from(u16::from_le_bytes([h[1], h[2]]));
        let gref = u32::from_le_bytes([h[3], h[4], h[5], h[6]]);
        (h[0], gref, self.arena.get(o..o + len).unwrap_or(&[]))
    }

    /// The hits of a group, from its reference, skipping the records in
    /// `dead` (base records no longer in the set). When the reference says
    /// the first record is live (and covers subdomains if needed), the first
    /// hit costs no record read.
    #[inline]
    pub(super) fn group_hits<'a>(
        &'a self,
        gref: u32,
        now: u64,
        need_subdomains: bool,
        dead: Option<&'a Bits>,
    ) -> GroupHits<'a> {
        let g = gref & REF_GROUP;
        GroupHits {
            set: self,
            dead,
            group: g,
            cur: g,
            end: self.records.len() as u32,
            value_off: None,
            now,
            need_subdomains,
            first_live: gref & REF_LIVE != 0
                && (!need_subdomains || gref & REF_SUBDOMAINS != 0)
                && !dead.is_some_and(|d| d.get(g)),
        }
    }

    pub(super) fn no_hits(&self) -> GroupHits<'_> {
        GroupHits {
            set: self,
            dead: None,
            group: 0,
            cur: 0,
            end: 0,
            value_off: None,
            now: 0,
            need_subdomains: false,
            first_live: false,
        }
    }

    /// The tag names of tag set `t`.
    pub(super) fn tag_names(&self, t: u32) -> impl Iterator<Item = &str> + '_ {
        let t = t as usize;
        let start = if t == 0 {
            0
        } else {
            self.tagset_ends.get(t - 1).copied().unwrap_or(0)
        };
        let end = self.tagset_ends.get(t).copied().unwrap_or(start);
        self.tagset_items
            .get(start as usize..end as usize)
            .unwrap_or(&[])
            .iter()
            .map(move |&i| self.tags.get(i))
    }

    /// One past the last record of group `g` (records sharing its value).
    pub(super) fn group_end(&self, g: u32) -> u32 {
        let off = self.group_rec(g).value_off;
        let mut end = g;
        while self
            .records
            .get(end as usize)
            .is_some_and(|r| r.value_off == off)
        {
            end += 1;
        }
        end
    }

    /// The hash table holding keys of `kind` (`None` for IP kinds).
    pub(super) fn table(&self, kind: IndicatorKind) -> Option<&KeyTable> {
        Some(match kind {
            IndicatorKind::Ipv4 | IndicatorKind::Ipv6 => return None,
            IndicatorKind::Domain => &self.domains,
            IndicatorKind::Url => &self.urls,
            IndicatorKind::Md5 | IndicatorKind::Sha1 | IndicatorKind::Sha256 => &self.hashes,
            IndicatorKind::Ja3 | IndicatorKind::Ja3s => &self.ja3,
            IndicatorKind::Ja4 => &self.ja4,
            IndicatorKind::CertSha1 => &self.certs,
            IndicatorKind::Email => &self.emails,
        })
    }

    /// Group reference of the stored value `key` of `kind` (not a domain:
    /// those are hashed by [`SuffixHasher`]).
    #[inline]
    pub(super) fn find_exact(&self, key: &[u8], kind: IndicatorKind) -> Option<u32> {
        let table = self.table(kind)?;
        let off = table.find(hash_bytes(key), |off| {
            let (k, _, v) = self.key_at(off);
            k == kind as u8 && v == key
        })?;
        Some(self.key_at(off).1)
    }

    /// The suffix filter may hold the domain hash `hash`.
    #[inline]
    pub(super) fn domain_may_contain(&self, hash: u64) -> bool {
        self.domain_filter.may_contain(hash)
    }

    /// Group reference of the domain `name` (any case) whose suffix hash is
    /// `hash`, once the filter has said "maybe".
    #[inline]
    pub(super) fn find_domain_unfiltered(&self, hash: u64, name: &[u8]) -> Option<u32> {
        let off = self
            .domains
            .find(hash, |off| self.key_at(off).2.eq_ignore_ascii_case(name))?;
        Some(self.key_at(off).1)
    }

    /// Group id (no flag bits) of a stored value of `kind`, as the builder
    /// wrote it: used by a reload to find what is already in the set.
    pub(super) fn find_group(&self, kind: IndicatorKind, value: &[u8]) -> Option<u32> {
        let gref = match kind {
            IndicatorKind::Ipv4 | IndicatorKind::Ipv6 => {
                let mut chain = self.prefix_chain_of_value(kind, value)?;
                chain
                    .find(|&(g, _)| self.value_bytes(self.group_rec(g & REF_GROUP)) == value)?
                    .0
            }
            IndicatorKind::Domain => {
                let h = SuffixHasher::of(value);
                if !self.domain_may_contain(h) {
                    return None;
                }
                self.find_domain_unfiltered(h, value)?
            }
            _ => self.find_exact(value, kind)?,
        };
        Some(gref & REF_GROUP)
    }

    fn prefix_chain_of_value(&self, kind: IndicatorKind, value: &[u8]) -> Option<PrefixChain<'_>> {
        match (kind, value.len()) {
            (IndicatorKind::Ipv4, 5) => {
                Some(self.v4_chain(u32::from_be_bytes([value[0], value[1], value[2], value[3]])))
            }
            (IndicatorKind::Ipv6, 17) => {
                let mut a = [0u8; 16];
                a.copy_from_slice(&value[..16]);
                Some(self.v6_chain(u128::from_be_bytes(a)))
            }
            _ => None,
        }
    }

    /// The IPv4 prefixes holding `addr`, most specific first.
    pub(super) fn v4_chain(&self, addr: u32) -> PrefixChain<'_> {
        self.chain_at(&self.v4, self.v4.slot(addr), false)
    }

    /// The IPv6 prefixes holding `addr`, most specific first.
    pub(super) fn v6_chain(&self, addr: u128) -> PrefixChain<'_> {
        self.chain_at(&self.v6, self.v6.slot(addr), true)
    }

    /// The prefixes of `table` (this layer's v4 or v6 one) holding an
    /// address that falls in `slot`, most specific first.
    fn chain_at<A>(
        &self,
        table: &RangeTable<A>,
        (g, range): (u32, u32),
        v6: bool,
    ) -> PrefixChain<'_> {
        PrefixChain {
            set: self,
            v6,
            p: if g == NONE {
                NONE
            } else {
                table.range_prefix(range)
            },
        }
    }

    /// Number of records.
    pub(super) fn len(&self) -> usize {
        self.records.len()
    }

    /// Number of indicators of one kind.
    pub(super) fn count(&self, kind: IndicatorKind) -> u64 {
        self.counts[kind as usize]
    }

    /// Heap memory held by the set, in bytes.
    pub(super) fn heap_bytes(&self) -> usize {
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
}

/// Indicators matching one lookup: all live indicators of the matched value
/// (one per feed and event). Allocation-free; empty when nothing matched.
#[derive(Clone, Debug)]
pub struct Hits<'a> {
    first: GroupHits<'a>,
    /// The same value's records in the base, after those of the delta
    /// (layered sets only).
    second: Option<GroupHits<'a>>,
}

impl<'a> Hits<'a> {
    #[inline]
    pub(super) fn one(g: GroupHits<'a>) -> Hits<'a> {
        Hits {
            first: g,
            second: None,
        }
    }

    /// True when the next hit is known to exist without reading a record
    /// (false does not mean empty).
    #[inline]
    pub(super) fn surely_nonempty(&self) -> bool {
        self.first.first_live
    }

    #[inline]
    pub(super) fn two(first: GroupHits<'a>, second: GroupHits<'a>) -> Hits<'a> {
        Hits {
            first,
            second: Some(second),
        }
    }
}

impl<'a> Iterator for Hits<'a> {
    type Item = Hit<'a>;

    #[inline]
    fn next(&mut self) -> Option<Hit<'a>> {
        match self.first.next() {
            Some(h) => Some(h),
            None => self.second.as_mut()?.next(),
        }
    }
}

/// The live records of one group in one layer.
#[derive(Clone, Debug)]
pub(super) struct GroupHits<'a> {
    set: &'a Layer,
    /// Records of `set` to skip (base records no longer in the set).
    dead: Option<&'a Bits>,
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

impl<'a> Iterator for GroupHits<'a> {
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
            if self.dead.is_some_and(|d| d.get(rec)) {
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
    pub(super) set: &'a Layer,
    pub(super) rec: u32,
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
        self.set.tag_names(self.r().tags)
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
    pub(super) fn from_stored(kind: IndicatorKind, v: &'a [u8]) -> IndicatorValue<'a> {
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
