//! A fixed-width bit set over node indices: edge sets, traces and candidate sub-graphs.
//! Hashable, so that evaluated edge sets can be cached and candidates counted.

/// A set of node indices `0..len`, stored as 64-bit words.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Set {
    words: Vec<u64>,
}

impl Set {
    /// The empty set able to hold indices `0..len`.
    pub fn empty(len: usize) -> Self {
        Self {
            words: vec![0; len.div_ceil(64)],
        }
    }

    /// The set `{0, 1, ..., len - 1}`.
    pub fn full(len: usize) -> Self {
        let mut s = Self::empty(len);
        for i in 0..len {
            s.insert(i);
        }
        s
    }

    pub fn contains(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    pub fn insert(&mut self, i: usize) {
        if let Some(w) = self.words.get_mut(i / 64) {
            *w |= 1u64 << (i % 64);
        }
    }

    pub fn remove(&mut self, i: usize) {
        if let Some(w) = self.words.get_mut(i / 64) {
            *w &= !(1u64 << (i % 64));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    /// Makes this the set whose 64-bit words are `words` (bit `i % 64` of word `i / 64`).
    pub fn set_words(&mut self, words: &[u64]) {
        self.words.clear();
        self.words.extend_from_slice(words);
    }

    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// `self ∪ other`.
    pub fn union(&self, other: &Set) -> Set {
        Set {
            words: self
                .words
                .iter()
                .zip(&other.words)
                .map(|(a, b)| a | b)
                .collect(),
        }
    }

    /// Writes `self ∪ other` into `out` (same width), without allocating.
    pub fn union_into(&self, other: &Set, out: &mut Set) {
        out.words.clear();
        out.words
            .extend(self.words.iter().zip(&other.words).map(|(a, b)| a | b));
    }

    /// `self ∩ other`.
    pub fn intersection(&self, other: &Set) -> Set {
        Set {
            words: self
                .words
                .iter()
                .zip(&other.words)
                .map(|(a, b)| a & b)
                .collect(),
        }
    }

    /// Writes `self ∩ other` into `out` (same width), without allocating.
    pub fn intersect_into(&self, other: &Set, out: &mut Set) {
        out.words.clear();
        out.words
            .extend(self.words.iter().zip(&other.words).map(|(a, b)| a & b));
    }

    /// `self ∖ other`.
    pub fn difference(&self, other: &Set) -> Set {
        Set {
            words: self
                .words
                .iter()
                .zip(&other.words)
                .map(|(a, b)| a & !b)
                .collect(),
        }
    }

    /// `true` when `self ∖ other` is not empty.
    pub fn has_outside(&self, other: &Set) -> bool {
        self.words
            .iter()
            .zip(&other.words)
            .any(|(a, b)| a & !b != 0)
    }

    /// The members of `self ∖ other` in increasing order, without allocating.
    pub fn iter_minus<'a>(&'a self, other: &'a Set) -> impl Iterator<Item = usize> + 'a {
        self.words.iter().enumerate().flat_map(move |(wi, &w)| {
            let mut bits = w & !other.words.get(wi).copied().unwrap_or(0);
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                Some(wi * 64 + b)
            })
        })
    }

    /// The members in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(wi, &w)| {
            let mut bits = w;
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                Some(wi * 64 + b)
            })
        })
    }

    /// Compares as bit vectors with index 0 most significant (used for the HEAD-like order).
    pub fn cmp_lexicographic(&self, other: &Set) -> std::cmp::Ordering {
        for (a, b) in self.words.iter().zip(&other.words) {
            if a != b {
                // The lowest index that differs decides: the set holding it is "greater".
                let diff = a ^ b;
                let low = diff & diff.wrapping_neg();
                return if a & low != 0 {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Less
                };
            }
        }
        std::cmp::Ordering::Equal
    }
}

/// A fast, deterministic hasher for [`Set`] keys (multiply–rotate over the words); the
/// std SipHash is needlessly slow for the many small lookups of the candidate builder.
#[derive(Default, Clone, Copy, Debug)]
pub struct WordHasher(u64);

impl std::hash::Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x517C_C1B7_2722_0A95);
    }
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }
}

/// A `HashMap` keyed by [`Set`] with [`WordHasher`]. Iteration order is never relied upon.
pub type SetMap<V> = std::collections::HashMap<Set, V, std::hash::BuildHasherDefault<WordHasher>>;

/// A map from sets of one width to values, with the keys' words kept in one buffer: no
/// allocation per entry (the evaluation cache holds tens of thousands of them).
#[derive(Clone, Debug, Default)]
pub struct SetTable<V> {
    /// Words per key, fixed by the first key.
    width: usize,
    words: Vec<u64>,
    hashes: Vec<u64>,
    values: Vec<V>,
    /// Open addressing, linear probing: an entry's index + 1, or 0 when free.
    slots: Vec<u32>,
}

impl<V: Copy> SetTable<V> {
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn hash(words: &[u64]) -> u64 {
        let mut h = 0u64;
        for &w in words {
            h = (h.rotate_left(5) ^ w).wrapping_mul(0x517C_C1B7_2722_0A95);
        }
        h ^ (h >> 29)
    }

    /// The slot of `key` (its entry or the free slot where it would go).
    fn find(&self, key: &[u64], hash: u64) -> usize {
        let mask = self.slots.len() - 1;
        let mut at = (hash as usize) & mask;
        loop {
            match self.slots[at] {
                0 => return at,
                e => {
                    let k = e as usize - 1;
                    if self.hashes[k] == hash
                        && self.words[k * self.width..(k + 1) * self.width] == *key
                    {
                        return at;
                    }
                }
            }
            at = (at + 1) & mask;
        }
    }

    pub fn get(&self, key: &Set) -> Option<&V> {
        if self.values.is_empty() || key.words.len() != self.width {
            return None;
        }
        match self.slots[self.find(&key.words, Self::hash(&key.words))] {
            0 => None,
            e => self.values.get(e as usize - 1),
        }
    }

    /// Inserts or replaces the value of `key`. Keys must all have the same width.
    pub fn insert(&mut self, key: &Set, value: V) {
        if let Some(k) = self.index_or_insert(key, value) {
            self.values[k] = value;
        }
    }

    /// The index of `key`'s entry (entries are numbered in insertion order), inserting it
    /// with `value` when absent; `None` for a key of another width than the first key's.
    pub fn index_or_insert(&mut self, key: &Set, value: V) -> Option<usize> {
        self.index_or_insert_hashed(key, Self::hash(&key.words), value)
    }

    /// [`SetTable::index_or_insert`] with the caller's hash of `key`: every key of the table
    /// must be hashed the same way ([`SetTable::get`] hashes with the table's own function).
    pub fn index_or_insert_hashed(&mut self, key: &Set, hash: u64, value: V) -> Option<usize> {
        if self.values.is_empty() {
            self.width = key.words.len();
        }
        if key.words.len() != self.width {
            return None;
        }
        if 2 * (self.values.len() + 1) > self.slots.len() {
            self.grow();
        }
        let at = self.find(&key.words, hash);
        match self.slots[at] {
            0 => {
                self.words.extend_from_slice(&key.words);
                self.hashes.push(hash);
                self.values.push(value);
                self.slots[at] = self.values.len() as u32;
                Some(self.values.len() - 1)
            }
            e => Some(e as usize - 1),
        }
    }

    /// The values, in insertion order.
    pub fn values(&self) -> &[V] {
        &self.values
    }

    pub fn values_mut(&mut self) -> &mut [V] {
        &mut self.values
    }

    /// Writes the key of entry `k` into `out`.
    pub fn key_into(&self, k: usize, out: &mut Set) {
        out.words.clear();
        if let Some(w) = self.words.get(k * self.width..(k + 1) * self.width) {
            out.words.extend_from_slice(w);
        }
    }

    /// Empties the table, keeping its memory.
    pub fn clear(&mut self) {
        self.words.clear();
        self.hashes.clear();
        self.values.clear();
        self.slots.fill(0);
    }

    fn grow(&mut self) {
        let size = (2 * self.slots.len()).max(64);
        self.slots = vec![0; size];
        let mask = size - 1;
        for (k, &hash) in self.hashes.iter().enumerate() {
            let mut at = (hash as usize) & mask;
            while self.slots[at] != 0 {
                at = (at + 1) & mask;
            }
            self.slots[at] = k as u32 + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_operations() {
        let mut a = Set::empty(130);
        a.insert(0);
        a.insert(64);
        a.insert(129);
        assert!(a.contains(64) && !a.contains(63));
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![0, 64, 129]);
        assert_eq!(a.len(), 3);
        let mut b = Set::empty(130);
        b.insert(64);
        assert_eq!(a.difference(&b).iter().collect::<Vec<_>>(), vec![0, 129]);
        assert_eq!(a.iter_minus(&b).collect::<Vec<_>>(), vec![0, 129]);
        assert!(a.has_outside(&b) && !b.has_outside(&a));
        a.remove(0);
        assert_eq!(a.union(&b).len(), 2);
        assert_eq!(
            a.cmp_lexicographic(&b),
            std::cmp::Ordering::Greater,
            "a = {{64,129}} > b = {{64}}"
        );
        assert_eq!(Set::full(70).len(), 70);
    }

    #[test]
    fn set_table_finds_what_was_inserted() {
        let mut t: SetTable<usize> = SetTable::default();
        let sets: Vec<Set> = (0..300)
            .map(|k| {
                let mut s = Set::empty(130);
                s.insert(k % 130);
                s.insert((k * 7) % 129);
                s.insert(k / 3);
                s
            })
            .collect();
        for (k, s) in sets.iter().enumerate() {
            t.insert(s, k);
        }
        let distinct: std::collections::HashSet<&Set> = sets.iter().collect();
        assert_eq!(t.len(), distinct.len());
        for s in &sets {
            // The last insert of an equal set wins.
            let last = sets.iter().rposition(|x| x == s);
            assert_eq!(t.get(s).copied(), last);
        }
        assert_eq!(t.get(&Set::empty(130)), None);
        let mut key = Set::empty(0);
        t.key_into(2, &mut key);
        assert_eq!(key, sets[2]);
        t.clear();
        assert!(t.is_empty() && t.get(&sets[0]).is_none());
        assert_eq!(t.index_or_insert(&sets[5], 9), Some(0));
        assert_eq!(t.index_or_insert(&sets[5], 1), Some(0));
        assert_eq!(t.values(), &[9]);
        assert_eq!(t.get(&Set::full(64)), None, "another width");
    }
}
