//! The simulator's event queue: events ordered by (time, insertion order).
//!
//! Events are kept in buckets, each a FIFO of events at one instant. Two events at the same
//! instant therefore come out in the order they went in, which is the tie-break the replay
//! contract promises.
//!
//! Why buckets rather than a binary heap of (time, seq, event): simulated networks put many
//! events at one instant. A switch flooding a broadcast to N ports over links of equal
//! latency schedules N arrivals for the same nanosecond, and N hosts all starting at time
//! zero do the same. Here they cost an append and a pop at the front of one `VecDeque`.
//!
//! The bucket being drained (the head) is kept apart and stays in place once empty, until
//! the next pop: what an event schedules at its own instant (a NIC's receive drain after an
//! arrival, a wake-up) joins it without touching the ordered part. The later buckets are a
//! binary heap of (instant, creation order) over a slab of buckets; a push at the instant of
//! the bucket made last joins that bucket, any other push at a new instant makes a bucket.
//! Two buckets of one instant (pushes at A, then B, then A) come out in the order they were
//! made, which is the order of their events; when one becomes the head, the others of its
//! instant are merged into it, so that a later push at the head's instant goes after all of
//! them. Frames on a link with a serialiser each arrive at an instant of their own: an
//! ordered map (`BTreeMap`, before) paid a tree insert and a `pop_first` with rebalancing
//! per frame, 16% of a simulated transfer at 10 Gbit/s; a heap push of a later instant is
//! a comparison or two, and a pop a sift of 16-byte keys.
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use sansnet_stack::time::Instant;

/// Buckets that grew past this many events (a flood: thousands of ARP requests, each to
/// every port of a switch, at one instant) are freed when emptied, not kept: see `reuse`.
const BUCKET_KEEP_MAX_EVENTS: usize = 4096;

/// Events by (time, insertion order). See the module documentation.
pub(crate) struct EventQueue<E> {
    /// The bucket being drained and its instant, earlier than every later bucket; it may be
    /// empty (then `peek_time` looks past it).
    head: Option<(Instant, VecDeque<E>)>,
    /// Later buckets: (instant, creation order, slot in `buckets`), earliest first.
    later: BinaryHeap<Reverse<(Instant, u64, u32)>>,
    /// The later buckets' events, by slot; a free slot keeps its emptied bucket for reuse.
    buckets: Vec<VecDeque<E>>,
    free: Vec<u32>,
    /// The bucket made last, which a push at its instant may join: no bucket was made after
    /// it, so its events come after every other event of that instant.
    newest: Option<(Instant, u32)>,
    /// Where the event pushed last is, while it is still the last of its bucket and has
    /// not been popped: its instant and its bucket (`None`: the head). See `last_pushed_mut`.
    last: Option<(Instant, Option<u32>)>,
    made: u64,
    len: usize,
}

impl<E> EventQueue<E> {
    pub(crate) fn new() -> EventQueue<E> {
        EventQueue {
            head: None,
            later: BinaryHeap::new(),
            buckets: Vec::new(),
            free: Vec::new(),
            newest: None,
            last: None,
            made: 0,
            len: 0,
        }
    }

    /// The event pushed last, if it was pushed at `at` and is still queued: nothing was
    /// pushed since, and it has not been popped. Whatever it is changed into keeps its place,
    /// so folding a new event into it is the same as pushing the new one right after it
    /// (what the simulator does with a burst of frames arriving together on one link).
    pub(crate) fn last_pushed_mut(&mut self, at: Instant) -> Option<&mut E> {
        match self.last {
            Some((last_at, None)) if last_at == at => {
                self.head.as_mut().and_then(|(_, events)| events.back_mut())
            }
            Some((last_at, Some(slot))) if last_at == at => self.buckets[slot as usize].back_mut(),
            _ => None,
        }
    }

    /// How many events are queued.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Readies an emptied bucket for reuse, from its first slot: a `VecDeque` emptied by
    /// `pop_front` keeps its head where the last event was, and a bucket reused that way
    /// walks its events through the whole of its capacity, a cold cache line per event
    /// once a flood has grown it to megabytes. A bucket that large is freed instead.
    fn reuse(bucket: &mut VecDeque<E>) {
        if bucket.capacity() > BUCKET_KEEP_MAX_EVENTS {
            *bucket = VecDeque::new();
        } else {
            bucket.clear();
        }
    }

    /// A later bucket at `at`, made now: its slot.
    fn make_bucket(&mut self, at: Instant) -> u32 {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.buckets.push(VecDeque::new());
            u32::try_from(self.buckets.len() - 1).expect("fewer than 2^32 pending instants")
        });
        self.later.push(Reverse((at, self.made, slot)));
        self.made += 1;
        self.newest = Some((at, slot));
        slot
    }

    /// Moves the later bucket in `slot` out (its slot freed, keeping `spare` for reuse).
    fn take_bucket(&mut self, slot: u32, mut spare: VecDeque<E>) -> VecDeque<E> {
        Self::reuse(&mut spare);
        if self.newest.is_some_and(|(_, s)| s == slot) {
            self.newest = None;
        }
        self.free.push(slot);
        std::mem::replace(&mut self.buckets[slot as usize], spare)
    }

    /// Queues `event` at `at`, after every event already queued at `at`.
    pub(crate) fn push(&mut self, at: Instant, event: E) {
        self.len += 1;
        // Every branch below puts the event last in the head, except the one that says so.
        self.last = Some((at, None));
        match &mut self.head {
            Some((head_at, events)) if *head_at == at => events.push_back(event),
            Some((head_at, _)) if *head_at < at => {
                let slot = match self.newest {
                    Some((newest_at, slot)) if newest_at == at => slot,
                    _ => self.make_bucket(at),
                };
                self.buckets[slot as usize].push_back(event);
                self.last = Some((at, Some(slot)));
            }
            Some((head_at, events)) if events.is_empty() => {
                // Earlier than an emptied head, so earlier than every later bucket too.
                *head_at = at;
                events.push_back(event);
            }
            Some(_) => {
                // Earlier than a head with events (only before the first pop, or when the
                // clock was moved past them): the head goes back among the later buckets,
                // as the one made last at its instant, which it is (a push at the head's
                // instant always joins the head).
                let (old_at, old) = self.head.take().expect("matched Some");
                let slot = self.make_bucket(old_at);
                let spare = std::mem::replace(&mut self.buckets[slot as usize], old);
                let mut events = spare;
                Self::reuse(&mut events);
                events.push_back(event);
                self.head = Some((at, events));
            }
            None => {
                let mut events = VecDeque::new();
                events.push_back(event);
                self.head = Some((at, events));
            }
        }
    }

    /// The time of the next event.
    pub(crate) fn peek_time(&self) -> Option<Instant> {
        match &self.head {
            Some((at, events)) if !events.is_empty() => Some(*at),
            _ => self.later.peek().map(|Reverse((at, _, _))| *at),
        }
    }

    /// Removes the next event.
    pub(crate) fn pop(&mut self) -> Option<(Instant, E)> {
        if self
            .head
            .as_ref()
            .is_none_or(|(_, events)| events.is_empty())
        {
            self.advance()?;
        }
        let (at, events) = self.head.as_mut()?;
        let event = events
            .pop_front()
            .expect("the head has events after advance");
        if events.is_empty() && matches!(self.last, Some((_, None))) {
            // That was the event pushed last (the head's last is its only event).
            self.last = None;
        }
        self.len -= 1;
        Some((*at, event))
    }

    /// Makes the earliest later bucket the head, with every other bucket of its instant
    /// appended in the order they were made; `None` if there is none.
    fn advance(&mut self) -> Option<()> {
        let Reverse((at, _, slot)) = self.later.pop()?;
        // The buckets move; the event pushed last may be among them, somewhere new.
        self.last = None;
        let spare = self.head.take().map(|(_, b)| b).unwrap_or_default();
        let mut events = self.take_bucket(slot, spare);
        while let Some(&Reverse((next_at, _, next))) = self.later.peek() {
            if next_at != at {
                break;
            }
            self.later.pop();
            let mut more = self.take_bucket(next, VecDeque::new());
            events.append(&mut more);
        }
        self.head = Some((at, events));
        Some(())
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

    #[test]
    fn pushing_before_an_emptied_head_comes_first() {
        let mut q = EventQueue::new();
        q.push(at(5), 1);
        q.push(at(9), 2);
        assert_eq!(q.pop(), Some((at(5), 1)));
        q.push(at(3), 3);
        q.push(at(5), 4);
        q.push(at(3), 5);
        assert_eq!(q.peek_time(), Some(at(3)));
        assert_eq!(drain(&mut q), vec![(3, 3), (3, 5), (5, 4), (9, 2)]);
    }

    #[test]
    fn buckets_of_one_instant_made_apart_keep_their_order() {
        let mut q = EventQueue::new();
        q.push(at(1), 0);
        q.push(at(4), 1);
        q.push(at(6), 2);
        q.push(at(4), 3);
        q.push(at(6), 4);
        q.push(at(4), 5);
        assert_eq!(q.pop(), Some((at(1), 0)));
        assert_eq!(q.pop(), Some((at(4), 1)));
        // A push at the head's instant goes after the events of every bucket of it.
        q.push(at(4), 6);
        assert_eq!(drain(&mut q), vec![(4, 3), (4, 5), (4, 6), (6, 2), (6, 4)]);
    }

    #[test]
    fn the_event_pushed_last_can_be_changed_in_place() {
        let mut q: EventQueue<Vec<u32>> = EventQueue::new();
        q.push(at(5), vec![1]);
        q.last_pushed_mut(at(5)).expect("just pushed").push(2);
        assert!(q.last_pushed_mut(at(4)).is_none(), "another instant");
        q.push(at(9), vec![3]);
        q.last_pushed_mut(at(9)).expect("just pushed").push(4);
        assert_eq!(q.pop(), Some((at(5), vec![1, 2])));
        assert_eq!(q.pop(), Some((at(9), vec![3, 4])));
        assert!(q.last_pushed_mut(at(9)).is_none(), "popped");
        q.push(at(9), vec![5]);
        assert_eq!(q.pop(), Some((at(9), vec![5])));
        assert!(q.last_pushed_mut(at(9)).is_none(), "popped");
    }

    proptest! {
        /// Folding an event into the one pushed last (when `last_pushed_mut` allows it)
        /// is the same as pushing it right after that one.
        #[test]
        fn folding_into_the_last_push_matches_pushing(ops in proptest::collection::vec(
            proptest::option::of((prop_oneof![0u64..4, 0u64..20, 0u64..5000], any::<bool>())),
            0..400)
        ) {
            let mut q: EventQueue<Vec<u32>> = EventQueue::new();
            let mut model: Vec<(u64, u32)> = Vec::new();
            let mut got = Vec::new();
            let mut now = 0u64;
            for (i, op) in ops.into_iter().enumerate() {
                match op {
                    Some((dt, fold)) => {
                        let t = now + dt;
                        match q.last_pushed_mut(at(t)).filter(|_| fold) {
                            Some(last) => last.push(i as u32),
                            None => q.push(at(t), vec![i as u32]),
                        }
                        model.push((t, i as u32));
                    }
                    None => {
                        if let Some((t, events)) = q.pop() {
                            now = t.as_nanos();
                            got.extend(events.into_iter().map(|e| (now, e)));
                        }
                    }
                }
            }
            while let Some((t, events)) = q.pop() {
                got.extend(events.into_iter().map(|e| (t.as_nanos(), e)));
            }
            model.sort_by_key(|&(t, _)| t);
            prop_assert_eq!(got, model);
        }


        /// Whatever the interleaving of pushes and pops, events come out exactly as a
        /// stable sort by time of everything pushed would give them.
        #[test]
        fn matches_a_stable_sort(ops in proptest::collection::vec(
            proptest::option::of(prop_oneof![0u64..4, 0u64..20, 0u64..5000]), 0..400)
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
