//! A fixed-width bit set over node indices: edge sets, traces and candidate sub-graphs.
//! Hashable, so that evaluated edge sets can be cached and candidates counted.

/// A set of node indices `0..len`, stored as 64-bit words.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
}
