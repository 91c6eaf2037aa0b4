//! The simulator's event queue: events ordered by (time, insertion order).
//!
//! Events are kept in buckets, one per distinct instant, each a FIFO. Two events at the same
//! instant therefore come out in the order they went in, which is the tie-break the replay
//! contract promises, with no sequence number to compare.
//!
//! Why buckets rather than a binary heap of (time, seq, event): simulated networks put many
//! events at one instant. A switch flooding a broadcast to N ports over links of equal
//! latency schedules N arrivals for the same nanosecond, and N hosts all starting at time
//! zero do the same. A heap pays O(log n) comparisons with cache misses for each of them;
//! here they cost an append and a pop at the front of one `VecDeque`, and only distinct
//! instants pay for the ordered map. The bucket at the front is kept out of the map, so the
//! common step (pop the next event at the current instant) touches no tree at all.

use std::collections::{BTreeMap, VecDeque};

use sansnet_stack::time::Instant;

/// A bounded pool of emptied buckets, so a steady run stops allocating them.
const SPARE_BUCKETS: usize = 64;

/// Buckets that grew past this many events (a flood: thousands of ARP requests, each to
/// every port of a switch, at one instant) are freed, not kept: see `recycle`.
const SPARE_BUCKET_MAX_EVENTS: usize = 4096;

/// Events by (time, insertion order). See the module documentation.
pub(crate) struct EventQueue<E> {
    /// The earliest instant and its events, outside the map.
    head: Option<(Instant, VecDeque<E>)>,
    /// Every later instant.
    later: BTreeMap<Instant, VecDeque<E>>,
    len: usize,
    spare: Vec<VecDeque<E>>,
}

impl<E> EventQueue<E> {
    pub(crate) fn new() -> EventQueue<E> {
        EventQueue {
            head: None,
            later: BTreeMap::new(),
            len: 0,
            spare: Vec::new(),
        }
    }

    /// How many events are queued.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn bucket(&mut self) -> VecDeque<E> {
        self.spare.pop().unwrap_or_default()
    }

    /// Keeps an emptied bucket for reuse, from its first slot: a `VecDeque` emptied by
    /// `pop_front` keeps its head where the last event was, and a bucket reused that way
    /// walks its events through the whole of its capacity, a cold cache line per event
    /// once a flood has grown it to megabytes. A bucket that large is freed instead.
    fn recycle(&mut self, mut bucket: VecDeque<E>) {
        if self.spare.len() < SPARE_BUCKETS && bucket.capacity() <= SPARE_BUCKET_MAX_EVENTS {
            bucket.clear();
            self.spare.push(bucket);
        }
    }

    /// Queues `event` at `at`, after every event already queued at `at`.
    pub(crate) fn push(&mut self, at: Instant, event: E) {
        self.len += 1;
        match &mut self.head {
            Some((head_at, events)) if *head_at == at => events.push_back(event),
            Some((head_at, _)) if *head_at < at => match self.later.get_mut(&at) {
                Some(events) => events.push_back(event),
                None => {
                    let mut events = self.bucket();
                    events.push_back(event);
                    self.later.insert(at, events);
                }
            },
            head => {
                // Earlier than the head (or nothing queued): the new event starts the head
                // bucket and the old head goes back among the later ones.
                let mut events = self.spare.pop().unwrap_or_default();
                events.push_back(event);
                if let Some((old_at, old)) = head.replace((at, events)) {
                    self.later.insert(old_at, old);
                }
            }
        }
    }

    /// The time of the next event.
    pub(crate) fn peek_time(&self) -> Option<Instant> {
        self.head.as_ref().map(|(at, _)| *at)
    }

    /// Removes the next event.
    pub(crate) fn pop(&mut self) -> Option<(Instant, E)> {
        let (at, events) = self.head.as_mut()?;
        let at = *at;
        let event = events
            .pop_front()
            .expect("the head bucket is never left empty");
        self.len -= 1;
        if events.is_empty() {
            let next = self.later.pop_first();
            if let Some((_, empty)) = std::mem::replace(&mut self.head, next) {
                self.recycle(empty);
            }
        }
        Some((at, event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;

    fn at(ns: u64) -> Instant {
        Instant::from_nanos(ns)
    }

    fn drain(q: &mut EventQueue<u32>) -> Vec<(u64, u32)> {
        std::iter::from_fn(|| q.pop().map(|(t, e)| (t.as_nanos(), e))).collect()
    }

    #[test]
    fn ties_come_out_in_insertion_order() {
        let mut q = EventQueue::new();
        q.push(at(5), 1);
        q.push(at(5), 2);
        q.push(at(3), 3);
        q.push(at(5), 4);
        q.push(at(3), 5);
        assert_eq!(q.len(), 5);
        assert_eq!(q.peek_time(), Some(at(3)));
        assert_eq!(drain(&mut q), vec![(3, 3), (3, 5), (5, 1), (5, 2), (5, 4)]);
        assert_eq!(q.len(), 0);
        assert_eq!(q.peek_time(), None);
    }

    #[test]
    fn pushing_at_the_popped_instant_keeps_order() {
        let mut q = EventQueue::new();
        q.push(at(1), 1);
        q.push(at(2), 2);
        assert_eq!(q.pop(), Some((at(1), 1)));
        q.push(at(1), 3);
        q.push(at(2), 4);
        assert_eq!(drain(&mut q), vec![(1, 3), (2, 2), (2, 4)]);
    }

    proptest! {
        /// Whatever the interleaving of pushes and pops, events come out exactly as a
        /// stable sort by time of everything pushed would give them.
        #[test]
        fn matches_a_stable_sort(ops in proptest::collection::vec(
            proptest::option::of(0u64..20), 0..200)
        ) {
            let mut q = EventQueue::new();
            let mut model: Vec<(u64, u32)> = Vec::new();
            let mut got = Vec::new();
            let mut expected = Vec::new();
            let mut now = 0u64;
            for (i, op) in ops.into_iter().enumerate() {
                match op {
                    // Events are never scheduled in the past.
                    Some(dt) => {
                        q.push(at(now + dt), i as u32);
                        model.push((now + dt, i as u32));
                    }
                    None => {
                        let popped = q.pop().map(|(t, e)| (t.as_nanos(), e));
                        model.sort_by_key(|&(t, _)| t); // stable: ties keep push order
                        let want = (!model.is_empty()).then(|| model.remove(0));
                        if let Some((t, _)) = popped {
                            now = t;
                        }
                        got.push(popped);
                        expected.push(want);
                    }
                }
                prop_assert_eq!(q.len(), model.len());
            }
            prop_assert_eq!(got, expected);
            model.sort_by_key(|&(t, _)| t);
            prop_assert_eq!(drain(&mut q), model);
        }
    }
}
