//! Open-addressing hash table from a 64-bit key hash to a 32-bit payload (the
//! indicator set stores the arena offset of the key). The table stores only a
//! 32-bit tag and the payload (8 bytes a slot, load <= 1/2); the caller
//! confirms a candidate by comparing the stored value, so a tag collision
//! costs a compare, never a wrong answer.

const EMPTY: u64 = 0;

/// Finaliser of MurmurHash3: spreads every input bit over the output.
#[inline]
pub(crate) fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Hash of exact bytes (digests, URL keys, e-mail, JA4).
#[inline]
pub(crate) fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = FNV_OFFSET;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w))
            .wrapping_mul(FNV_PRIME)
            .rotate_left(29);
    }
    for &x in chunks.remainder() {
        h = (h ^ u64::from(x)).wrapping_mul(FNV_PRIME);
    }
    mix(h ^ b.len() as u64)
}

/// Hash of a domain name and of each of its label suffixes, lowercased,
/// read right to left so each suffix's hash is ready when its dot is reached.
pub(crate) struct SuffixHasher;

impl SuffixHasher {
    /// Hash of `name`; calls `at_dot(i, hash of name[i + 1..])` for each
    /// dot `i`, right to left.
    #[inline]
    pub(crate) fn suffixes(name: &[u8], mut at_dot: impl FnMut(usize, u64)) -> u64 {
        let mut h = FNV_OFFSET;
        for (i, &b) in name.iter().enumerate().rev() {
            if b == b'.' {
                at_dot(i, mix(h));
            }
            h = (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(FNV_PRIME);
        }
        mix(h)
    }

    /// Hash of a whole name.
    pub(crate) fn of(name: &[u8]) -> u64 {
        SuffixHasher::suffixes(name, |_, _| {})
    }
}

/// Blocked Bloom filter over suffix hashes: two bits in one 64-bit word,
/// about 8 bits per name, so it stays in cache when the table does not.
#[derive(Debug, Default)]
pub(crate) struct SuffixFilter {
    words: Box<[u64]>,
    mask: usize,
}

impl SuffixFilter {
    pub(crate) fn with_capacity(n: usize) -> SuffixFilter {
        if n == 0 {
            return SuffixFilter::default();
        }
        let words = (n / 8).max(1).next_power_of_two();
        SuffixFilter {
            words: vec![0; words].into_boxed_slice(),
            mask: words - 1,
        }
    }

    #[inline]
    fn bits(hash: u64) -> (usize, u64) {
        let word = (hash >> 40) as usize;
        let bits = (1u64 << (hash & 63)) | (1u64 << ((hash >> 6) & 63));
        (word, bits)
    }

    pub(crate) fn insert(&mut self, hash: u64) {
        let (w, bits) = Self::bits(hash);
        if let Some(word) = self.words.get_mut(w & self.mask) {
            *word |= bits;
        }
    }

    #[inline]
    pub(crate) fn may_contain(&self, hash: u64) -> bool {
        let (w, bits) = Self::bits(hash);
        match self.words.get(w & self.mask) {
            Some(word) => word & bits == bits,
            None => false,
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.words.len() * 8
    }
}

/// Hash → payload table.
#[derive(Debug, Default)]
pub(crate) struct KeyTable {
    slots: Box<[u64]>,
    mask: usize,
}

impl KeyTable {
    pub(crate) fn with_capacity(n: usize) -> KeyTable {
        if n == 0 {
            return KeyTable::default();
        }
        let size = (n * 2).next_power_of_two().max(8);
        KeyTable {
            slots: vec![EMPTY; size].into_boxed_slice(),
            mask: size - 1,
        }
    }

    #[inline]
    fn tag(hash: u64) -> u64 {
        // Never 0 in the tag half, so a full slot is never EMPTY.
        (hash >> 32) | 1
    }

    /// Inserts a payload whose key is known to be absent.
    pub(crate) fn insert(&mut self, hash: u64, payload: u32) {
        if self.slots.is_empty() {
            return;
        }
        let entry = (Self::tag(hash) << 32) | u64::from(payload);
        let mut i = (hash as usize) & self.mask;
        while self.slots[i] != EMPTY {
            i = (i + 1) & self.mask;
        }
        self.slots[i] = entry;
    }

    /// Finds the payload whose key has `hash` and for which `eq` holds.
    #[inline]
    pub(crate) fn find(&self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let tag = Self::tag(hash);
        let mut i = (hash as usize) & self.mask;
        loop {
            let s = self.slots[i];
            if s == EMPTY {
                return None;
            }
            if s >> 32 == tag {
                let g = s as u32;
                if eq(g) {
                    return Some(g);
                }
            }
            i = (i + 1) & self.mask;
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.slots.len() * 8
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn suffix_hash_matches_whole_name_hash() {
        for name in [
            &b"a.Evil.com"[..],
            b"www.very-long-label-here.EXAMPLE.co.uk",
            b"x",
            b"..a..",
            b"a.b",
            b"longlabel.b",
            b"b.longlabel",
        ] {
            let mut at = Vec::new();
            let whole = SuffixHasher::suffixes(name, |i, h| at.push((i, h)));
            assert_eq!(whole, SuffixHasher::of(&name.to_ascii_lowercase()));
            let dots: Vec<usize> = (0..name.len()).rev().filter(|&i| name[i] == b'.').collect();
            assert_eq!(at.iter().map(|a| a.0).collect::<Vec<_>>(), dots);
            for (i, h) in at {
                let suffix = name[i + 1..].to_ascii_lowercase();
                assert_eq!(
                    h,
                    SuffixHasher::of(&suffix),
                    "{:?}",
                    String::from_utf8_lossy(&suffix)
                );
            }
        }
        assert_ne!(SuffixHasher::of(b"evil.com"), SuffixHasher::of(b"evilc.om"));
        assert_ne!(SuffixHasher::of(b"ab.c"), SuffixHasher::of(b"a.bc"));
    }

    #[test]
    fn table_finds_inserted_and_rejects_others() {
        let keys: Vec<Vec<u8>> = (0..1000u32).map(|i| i.to_le_bytes().to_vec()).collect();
        let mut t = KeyTable::with_capacity(keys.len());
        for (g, k) in keys.iter().enumerate() {
            t.insert(hash_bytes(k), g as u32);
        }
        for (g, k) in keys.iter().enumerate() {
            let found = t.find(hash_bytes(k), |c| keys[c as usize] == *k);
            assert_eq!(found, Some(g as u32));
        }
        let absent = 5000u32.to_le_bytes();
        assert_eq!(
            t.find(hash_bytes(&absent), |c| keys[c as usize] == absent),
            None
        );
        assert_eq!(KeyTable::default().find(1, |_| true), None);
    }
}
