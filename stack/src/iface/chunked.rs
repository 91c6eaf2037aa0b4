//! [`ChunkedVec`]: the storage of the host's big per-connection tables (connections,
//! sockets), a vector that grows by whole chunks once it is past one chunk.
//!
//! A `Vec` grows by doubling: a server's connection table (1,912 bytes an entry then) held up to
//! twice what it used (at 100,000 connections, 131,072 entries: 59 MB unused, a fifth of a
//! connection's memory in `cargo bench -p sansnet-stack --bench host`), and every doubling
//! copied the whole table (125 MB at the last one, with the old and the new both live) at
//! the moment the connection past a power of two arrived. Here the first chunk is a `Vec`
//! that doubles up to [`CHUNK`] entries, so that a host with a connection or two keeps one
//! or two (clients, mostly), and every later chunk is allocated whole, at [`CHUNK`]
//! entries, and never moves: what is unused is at most the last chunk's free entries.
//!
//! The price: a lookup in the first chunk is `Vec::get`'s one comparison; past it, an
//! out-of-line call and one more load (the chunk's address, from a table of 24 bytes a
//! chunk that stays in the cache).

use alloc::vec::Vec;
use core::ops::{Index, IndexMut};

/// Entries a chunk holds (a power of two: an index splits by shift and mask).
pub(crate) const CHUNK: usize = 64;

/// A growable array of `T` that grows by [`CHUNK`]-entry chunks past its first chunk. See
/// the module documentation.
#[derive(Debug)]
pub(crate) struct ChunkedVec<T> {
    /// Entries `0..CHUNK`: grows by doubling up to `CHUNK`.
    first: Vec<T>,
    /// Entries from `CHUNK` on, `CHUNK` to a chunk, each allocated at its full size.
    rest: Vec<Vec<T>>,
}

impl<T> Default for ChunkedVec<T> {
    fn default() -> Self {
        ChunkedVec::new()
    }
}

impl<T> ChunkedVec<T> {
    pub(crate) const fn new() -> ChunkedVec<T> {
        ChunkedVec {
            first: Vec::new(),
            rest: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self.rest.last() {
            Some(last) => CHUNK * self.rest.len() + last.len(),
            None => self.first.len(),
        }
    }

    /// The entry at `i`. In the first chunk this is one comparison, as `Vec::get`: the
    /// first chunk is full whenever there are others, so an index past its length is in
    /// them or past the end. (The rest out of line: inlined at every lookup, it made the
    /// callers too big to inline their own callees, 2% more instructions in a transfer.)
    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        match self.first.get(i) {
            Some(entry) => Some(entry),
            None => self.get_in_rest(i),
        }
    }

    #[inline(always)]
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        if i < self.first.len() {
            return self.first.get_mut(i);
        }
        self.get_in_rest_mut(i)
    }

    #[cold]
    #[inline(never)]
    fn get_in_rest(&self, i: usize) -> Option<&T> {
        self.rest.get((i / CHUNK).checked_sub(1)?)?.get(i % CHUNK)
    }

    #[cold]
    #[inline(never)]
    fn get_in_rest_mut(&mut self, i: usize) -> Option<&mut T> {
        self.rest
            .get_mut((i / CHUNK).checked_sub(1)?)?
            .get_mut(i % CHUNK)
    }

    /// Appends `value` at index `len()`.
    pub(crate) fn push(&mut self, value: T) {
        if self.rest.is_empty() && self.first.len() < CHUNK {
            if self.first.len() == self.first.capacity() {
                // Doubling, but never past a chunk: the first chunk ends at exactly `CHUNK`.
                let more = self.first.len().max(1).min(CHUNK - self.first.len());
                self.first.reserve_exact(more);
            }
            self.first.push(value);
            return;
        }
        match self.rest.last_mut() {
            Some(last) if last.len() < CHUNK => last.push(value),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(value);
                self.rest.push(chunk);
            }
        }
    }

    /// The entries in index order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.first.iter().chain(self.rest.iter().flatten())
    }

    /// Entries the storage has room for without allocating.
    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.first.capacity() + self.rest.iter().map(Vec::capacity).sum::<usize>()
    }
}

impl<T> Index<usize> for ChunkedVec<T> {
    type Output = T;

    /// The entry at `i`; panics past the end, as a `Vec` does (an id the table gave out is
    /// always within it).
    fn index(&self, i: usize) -> &T {
        self.get(i)
            .unwrap_or_else(|| panic!("index {i} past the end of the table"))
    }
}

impl<T> IndexMut<usize> for ChunkedVec<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        self.get_mut(i)
            .unwrap_or_else(|| panic!("index {i} past the end of the table"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;

    fn filled(n: usize) -> ChunkedVec<usize> {
        let mut v = ChunkedVec::new();
        for i in 0..n {
            v.push(i);
        }
        v
    }

    #[test]
    fn an_entry_is_found_at_the_index_it_was_pushed_to_across_chunks() {
        let v = filled(3 * CHUNK + 5);
        assert_eq!(v.len(), 3 * CHUNK + 5);
        for i in 0..v.len() {
            assert_eq!(v.get(i), Some(&i));
        }
        assert_eq!(v.get(v.len()), None);
        assert_eq!(v.get(usize::MAX), None);
        assert_eq!(
            v.iter().copied().collect::<Vec<_>>(),
            (0..v.len()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_small_table_keeps_no_more_than_a_vec_would_and_a_large_one_at_most_a_chunk_spare() {
        // One entry: room for one (a large entry, as a connection's, is a Vec's one too).
        assert_eq!(ChunkedVec::<[u8; 2000]>::new().capacity(), 0);
        let mut one = ChunkedVec::new();
        one.push([0u8; 2000]);
        assert_eq!(one.capacity(), 1);
        // The first chunk doubles up to exactly one chunk.
        assert_eq!(filled(CHUNK).capacity(), CHUNK);
        // Past it, at most the last chunk's free entries are spare.
        for n in [CHUNK + 1, 2 * CHUNK, 100_000] {
            let v = filled(n);
            assert!(
                v.capacity() >= n && v.capacity() - n < CHUNK,
                "{n}: {}",
                v.capacity()
            );
        }
    }

    #[test]
    fn entries_past_the_first_chunk_never_move() {
        let mut v = filled(CHUNK + 1);
        let at = v.get(CHUNK).expect("pushed") as *const usize;
        for i in 0..10 * CHUNK {
            v.push(i);
        }
        assert_eq!(v.get(CHUNK).expect("pushed") as *const usize, at);
    }

    proptest! {
        /// The same answers as a `Vec` given the same pushes and writes.
        #[test]
        fn matches_a_vec(ops in proptest::collection::vec((0usize..400, any::<u32>()), 0..600)) {
            let (mut ours, mut vec) = (ChunkedVec::new(), Vec::new());
            for (at, value) in ops {
                if at % 3 == 0 || vec.is_empty() {
                    ours.push(value);
                    vec.push(value);
                } else {
                    let i = at % (vec.len() + 2); // now and then just past the end
                    prop_assert_eq!(ours.get_mut(i).map(|v| { *v = value; *v }),
                        vec.get_mut(i).map(|v| { *v = value; *v }));
                }
                prop_assert_eq!(ours.len(), vec.len());
            }
            for i in 0..vec.len() + 2 {
                prop_assert_eq!(ours.get(i), vec.get(i));
            }
            prop_assert_eq!(ours.iter().collect::<Vec<_>>(), vec.iter().collect::<Vec<_>>());
        }
    }
}
