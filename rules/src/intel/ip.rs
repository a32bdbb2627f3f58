//! Longest-prefix match over IP prefixes, as a flattened range table.
//!
//! All prefixes of one family are cut into disjoint address ranges, each
//! labelled with its most specific prefix (or none). A lookup is a binary
//! search for the range holding the address; IPv4 first jumps through a table
//! indexed by the top 16 bits, so the search covers only one /16. Each prefix
//! keeps its parent (the next less specific prefix holding it), so when every
//! indicator of the best prefix has expired, the lookup falls back to the
//! parent without a second search.

/// Slot value for "no prefix covers this range".
pub(crate) const NONE: u32 = u32::MAX;

/// One prefix at build time: first address, prefix length, group id.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pfx<A> {
    pub start: A,
    pub len: u8,
    pub group: u32,
}

/// A prefix of either family (IPv6 tables, tests).
pub(crate) type Prefix = Pfx<u128>;
/// An IPv4 prefix (12 bytes instead of 32 at build time).
pub(crate) type Prefix4 = Pfx<u32>;

/// Ranges of one address family. `bits` is 32 or 128.
#[derive(Debug, Default)]
pub(crate) struct RangeTable<A> {
    /// Per range: (first address, group of its most specific prefix or NONE),
    /// together so the search and its answer share cache lines.
    entries: Vec<(A, u32)>,
    /// Per range: index of its most specific prefix (for the expiry fallback).
    range_prefix: Vec<u32>,
    /// (group, parent prefix index or NONE) per prefix.
    prefixes: Vec<(u32, u32)>,
    /// IPv4 only: index of the range holding `b << 16` for b in 0..=65535.
    top16: Vec<u32>,
}

fn last_addr<A: Copy + Into<u128>>(p: &Pfx<A>, bits: u32) -> u128 {
    let host_bits = bits - u32::from(p.len);
    if host_bits >= 128 {
        u128::MAX
    } else {
        p.start.into() | ((1u128 << host_bits) - 1)
    }
}

/// Per prefix: (group, parent prefix index or NONE).
type PrefixMeta = Vec<(u32, u32)>;

/// Cuts prefixes into disjoint labelled ranges covering the whole space:
/// (first address, prefix index or NONE), in address order, with each
/// prefix's (group, parent). `conv` narrows an address of the family.
fn flatten<A: Copy + Ord + Into<u128>>(
    mut prefixes: Vec<Pfx<A>>,
    bits: u32,
    conv: impl Fn(u128) -> A,
) -> (Vec<(A, u32)>, PrefixMeta) {
    prefixes.sort_unstable_by(|a, b| a.start.cmp(&b.start).then(a.len.cmp(&b.len)));
    prefixes.dedup_by(|b, a| a.start == b.start && a.len == b.len);
    prefixes.shrink_to_fit();
    let mut meta: Vec<(u32, u32)> = Vec::with_capacity(prefixes.len());
    let mut ranges: Vec<(A, u32)> = Vec::with_capacity(prefixes.len() * 2 + 1);
    // `pos`: first address not yet given to a range (None once past the end).
    let mut pos: Option<u128> = Some(0);
    let mut stack: Vec<usize> = Vec::new();
    let emit = |ranges: &mut Vec<(A, u32)>, start: u128, slot: u32| {
        let start = conv(start);
        if let Some(last) = ranges.last_mut() {
            if last.1 == slot {
                return;
            }
            if last.0 == start {
                last.1 = slot;
                return;
            }
        }
        ranges.push((start, slot));
    };
    let close_until = |limit: Option<u128>,
                       stack: &mut Vec<usize>,
                       pos: &mut Option<u128>,
                       ranges: &mut Vec<(A, u32)>| {
        while let Some(&top) = stack.last() {
            let end = last_addr(&prefixes[top], bits);
            if let Some(l) = limit {
                if end >= l {
                    break;
                }
            }
            if let Some(p) = *pos {
                if p <= end {
                    emit(ranges, p, top as u32);
                    *pos = end.checked_add(1);
                }
            }
            stack.pop();
        }
    };
    for (i, p) in prefixes.iter().enumerate() {
        let start: u128 = p.start.into();
        close_until(Some(start), &mut stack, &mut pos, &mut ranges);
        if let Some(cur) = pos {
            if cur < start {
                emit(&mut ranges, cur, stack.last().map_or(NONE, |&t| t as u32));
                pos = Some(start);
            }
        }
        meta.push((p.group, stack.last().map_or(NONE, |&t| t as u32)));
        stack.push(i);
    }
    close_until(None, &mut stack, &mut pos, &mut ranges);
    let space_end = if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    if let Some(p) = pos {
        if p <= space_end {
            emit(&mut ranges, p, NONE);
        }
    }
    if ranges.is_empty() {
        ranges.push((conv(0), NONE));
    }
    drop(prefixes);
    ranges.shrink_to_fit();
    (ranges, meta)
}

/// The table's per-range prefix indexes, and the ranges turned in place
/// into (first address, group) entries.
fn entries_of<A>(mut ranges: Vec<(A, u32)>, prefixes: &PrefixMeta) -> (Vec<(A, u32)>, Vec<u32>) {
    let range_prefix = ranges.iter().map(|r| r.1).collect();
    for r in &mut ranges {
        r.1 = prefixes.get(r.1 as usize).map_or(NONE, |m| m.0);
    }
    (ranges, range_prefix)
}

impl RangeTable<u32> {
    pub(crate) fn build_v4<A: Copy + Into<u128>>(prefixes: Vec<Pfx<A>>) -> RangeTable<u32> {
        // In place when `A` is already u32.
        let prefixes: Vec<Prefix4> = prefixes
            .into_iter()
            .map(|p| Pfx {
                start: p.start.into() as u32,
                len: p.len,
                group: p.group,
            })
            .collect();
        let (ranges, prefixes) = flatten(prefixes, 32, |a| a as u32);
        let (entries, range_prefix) = entries_of(ranges, &prefixes);
        let mut top16 = Vec::with_capacity(1 << 16);
        let mut idx = 0usize;
        for b in 0u32..(1 << 16) {
            let addr = b << 16;
            while idx + 1 < entries.len() && entries[idx + 1].0 <= addr {
                idx += 1;
            }
            top16.push(idx as u32);
        }
        RangeTable {
            entries,
            range_prefix,
            prefixes,
            top16,
        }
    }

    /// (group of the most specific prefix holding `addr` or NONE, range index).
    #[inline]
    pub(crate) fn slot(&self, addr: u32) -> (u32, u32) {
        let b = (addr >> 16) as usize;
        let lo = self.top16.get(b).copied().unwrap_or(0) as usize;
        let hi = match self.top16.get(b + 1) {
            Some(&h) => h as usize,
            None => self.entries.len().saturating_sub(1),
        };
        let Some(window) = self.entries.get(lo..=hi) else {
            return (NONE, NONE);
        };
        let i = lo + window.partition_point(|e| e.0 <= addr).saturating_sub(1);
        match self.entries.get(i) {
            Some(e) => (e.1, i as u32),
            None => (NONE, NONE),
        }
    }

    /// Most specific prefix index holding `addr`, or NONE.
    #[cfg(test)]
    pub(crate) fn find(&self, addr: u32) -> u32 {
        self.range_prefix(self.slot(addr).1)
    }
}

impl RangeTable<u128> {
    pub(crate) fn build_v6(prefixes: Vec<Prefix>) -> RangeTable<u128> {
        let (ranges, prefixes) = flatten(prefixes, 128, |a| a);
        let (entries, range_prefix) = entries_of(ranges, &prefixes);
        RangeTable {
            entries,
            range_prefix,
            prefixes,
            top16: Vec::new(),
        }
    }

    /// (group of the most specific prefix holding `addr` or NONE, range index).
    #[inline]
    pub(crate) fn slot(&self, addr: u128) -> (u32, u32) {
        let i = self
            .entries
            .partition_point(|e| e.0 <= addr)
            .saturating_sub(1);
        match self.entries.get(i) {
            Some(e) => (e.1, i as u32),
            None => (NONE, NONE),
        }
    }

    /// Most specific prefix index holding `addr`, or NONE.
    #[cfg(test)]
    pub(crate) fn find(&self, addr: u128) -> u32 {
        self.range_prefix(self.slot(addr).1)
    }
}

impl<A> RangeTable<A> {
    /// Most specific prefix index of a range (NONE if none).
    #[inline]
    pub(crate) fn range_prefix(&self, range: u32) -> u32 {
        self.range_prefix
            .get(range as usize)
            .copied()
            .unwrap_or(NONE)
    }

    /// (group, parent prefix index) of a prefix.
    #[inline]
    pub(crate) fn prefix(&self, idx: u32) -> Option<(u32, u32)> {
        self.prefixes.get(idx as usize).copied()
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.entries.len() * std::mem::size_of::<(A, u32)>()
            + self.range_prefix.len() * 4
            + self.prefixes.len() * 8
            + self.top16.len() * 4
    }
}

/// Which IPv4 addresses a small layer's prefixes may hold, so a lookup
/// skips that layer's range table (two dependent memory reads) for most
/// addresses. Prefixes of /16 or shorter set a bit per /16 they cover (8 KiB,
/// stays in cache); longer ones set a hashed bit per /24 they cover (about
/// 16 bits per prefix). No false negatives.
#[derive(Debug, Default)]
pub(crate) struct V4Filter {
    short: Box<[u64]>,
    words: Box<[u64]>,
    shift: u32,
}

impl V4Filter {
    /// A filter for the (start, length) prefixes.
    pub(crate) fn new(prefixes: &[(u32, u8)]) -> V4Filter {
        let bits = (prefixes.len() * 16).next_power_of_two().max(64);
        let mut f = V4Filter {
            short: vec![0; 65536 / 64].into_boxed_slice(),
            words: vec![0; bits / 64].into_boxed_slice(),
            shift: 64 - bits.trailing_zeros(),
        };
        for &(start, len) in prefixes {
            let len = len.min(32);
            let start = start & u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            if len <= 16 {
                let first = start >> 16;
                let n = 1u32 << (16 - u32::from(len));
                for b in first..first + n {
                    f.short[(b >> 6) as usize] |= 1 << (b & 63);
                }
            } else {
                let first = start >> 8;
                let n = if len >= 24 {
                    1
                } else {
                    1u32 << (24 - u32::from(len))
                };
                for x in first..first + n {
                    let (w, bit) = f.bit(x);
                    f.words[w] |= bit;
                }
            }
        }
        f
    }

    #[inline]
    fn bit(&self, slash24: u32) -> (usize, u64) {
        let h = (u64::from(slash24).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize;
        (h >> 6, 1 << (h & 63))
    }

    /// False when no prefix holds `addr`.
    #[inline]
    pub(crate) fn may_contain(&self, addr: u32) -> bool {
        let b = addr >> 16;
        if self
            .short
            .get((b >> 6) as usize)
            .is_some_and(|w| w & (1 << (b & 63)) != 0)
        {
            return true;
        }
        let (w, bit) = self.bit(addr >> 8);
        self.words.get(w).is_some_and(|x| x & bit != 0)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        (self.short.len() + self.words.len()) * 8
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// xorshift64*: deterministic test data without a dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    fn naive(prefixes: &[Prefix], addr: u128, bits: u32) -> Option<u32> {
        prefixes
            .iter()
            .filter(|p| p.start <= addr && addr <= last_addr(p, bits))
            .max_by_key(|p| p.len)
            .map(|p| p.group)
    }

    fn mask(addr: u128, len: u8, bits: u32) -> u128 {
        if len == 0 {
            return 0;
        }
        let full = if bits == 128 {
            u128::MAX
        } else {
            (1u128 << bits) - 1
        };
        let host = (1u128 << (bits - u32::from(len))) - 1;
        addr & full & !host
    }

    #[test]
    fn lpm_v4_matches_naive_on_random_prefixes() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..20 {
            let n = 1 + (rng.next() % 400) as usize;
            let mut prefixes = Vec::new();
            for g in 0..n {
                // Cluster addresses so prefixes nest and overlap often.
                let base = (rng.next() % 4) as u32;
                let addr = (base << 30) | (rng.next() as u32 & 0x00ff_ffff);
                let len = match round % 3 {
                    0 => (rng.next() % 33) as u8,
                    _ => 8 + (rng.next() % 25) as u8,
                };
                prefixes.push(Prefix {
                    start: mask(u128::from(addr), len, 32),
                    len,
                    group: g as u32,
                });
            }
            // First occurrence wins for duplicate prefixes, as in `flatten`.
            let mut uniq: Vec<Prefix> = Vec::new();
            for p in &prefixes {
                if !uniq.iter().any(|q| q.start == p.start && q.len == p.len) {
                    uniq.push(*p);
                }
            }
            let t = RangeTable::build_v4(uniq.clone());
            for _ in 0..2000 {
                let pick = &uniq[(rng.next() as usize) % uniq.len()];
                let near = (pick.start as u32)
                    .wrapping_add((rng.next() % 512) as u32)
                    .wrapping_sub(256);
                for addr in [
                    rng.next() as u32,
                    near,
                    pick.start as u32,
                    last_addr(pick, 32) as u32,
                ] {
                    let got = t.prefix(t.find(addr)).map(|p| p.0);
                    assert_eq!(got, naive(&uniq, u128::from(addr), 32), "addr {addr:#x}");
                }
            }
        }
    }

    #[test]
    fn lpm_v6_matches_naive_and_parents_chain() {
        let mut rng = Rng(12345);
        let mut prefixes = Vec::new();
        for g in 0..300u32 {
            let addr = (u128::from(rng.next() % 3) << 126) | (u128::from(rng.next()) << 40);
            let len = (rng.next() % 129) as u8;
            let start = mask(addr, len, 128);
            if !prefixes
                .iter()
                .any(|q: &Prefix| q.start == start && q.len == len)
            {
                prefixes.push(Prefix {
                    start,
                    len,
                    group: g,
                });
            }
        }
        let t = RangeTable::build_v6(prefixes.clone());
        for _ in 0..5000 {
            let pick = &prefixes[(rng.next() as usize) % prefixes.len()];
            for addr in [
                pick.start,
                last_addr(pick, 128),
                (u128::from(rng.next()) << 64) | u128::from(rng.next()),
            ] {
                let idx = t.find(addr);
                assert_eq!(t.prefix(idx).map(|p| p.0), naive(&prefixes, addr, 128));
                // The parent chain visits every covering prefix, most specific first.
                let mut chain = Vec::new();
                let mut i = idx;
                while let Some((g, parent)) = t.prefix(i) {
                    chain.push(g);
                    i = parent;
                }
                let mut covering: Vec<&Prefix> = prefixes
                    .iter()
                    .filter(|p| p.start <= addr && addr <= last_addr(p, 128))
                    .collect();
                covering.sort_by_key(|p| std::cmp::Reverse(p.len));
                assert_eq!(chain, covering.iter().map(|p| p.group).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn edges_of_the_address_space() {
        let t = RangeTable::build_v4(vec![
            Prefix {
                start: 0,
                len: 0,
                group: 7,
            },
            Prefix {
                start: 0xffff_ffff,
                len: 32,
                group: 8,
            },
        ]);
        assert_eq!(t.prefix(t.find(0)).map(|p| p.0), Some(7));
        assert_eq!(t.prefix(t.find(u32::MAX)).map(|p| p.0), Some(8));
        assert_eq!(t.prefix(t.find(u32::MAX - 1)).map(|p| p.0), Some(7));
        let empty = RangeTable::build_v4(Vec::<Pfx<u32>>::new());
        assert_eq!(empty.find(12345), NONE);
        let t6 = RangeTable::build_v6(vec![Prefix {
            start: u128::MAX,
            len: 128,
            group: 1,
        }]);
        assert_eq!(t6.prefix(t6.find(u128::MAX)).map(|p| p.0), Some(1));
        assert_eq!(t6.find(0), NONE);
    }

    #[test]
    fn v4_filter_has_no_false_negatives() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let prefixes: Vec<(u32, u8)> = (0..3000)
            .map(|_| {
                let r = next();
                (r as u32, (r >> 32) as u8 % 33)
            })
            .filter(|&(_, len)| len >= 4)
            .collect();
        let f = V4Filter::new(&prefixes);
        for &(start, len) in &prefixes {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            let first = start & mask;
            let last = first | !mask;
            for a in [first, last, first | (next() as u32 & !mask)] {
                assert!(f.may_contain(a), "{a:#x} in {first:#x}/{len}");
            }
        }
        let few = V4Filter::new(&[(0x0a00_0000, 24), (0xc0a8_0000, 16)]);
        assert!(few.may_contain(0x0a00_00ff) && few.may_contain(0xc0a8_1234));
        let misses = (0..10_000)
            .filter(|_| few.may_contain(next() as u32))
            .count();
        assert!(misses < 500, "{misses}");
        assert!(!V4Filter::new(&[]).may_contain(0x0102_0304));
    }
}
