//! A frame's bytes in flight, and the pool their buffers come back to.
//!
//! Every frame a node sends is copied out of the simulator's transmit buffer into a buffer of
//! its own, which travels with the frame through links, switches and receive rings until the
//! receiving node has read it. Allocating that buffer per frame and freeing it on arrival was
//! a tenth of a simulated bulk transfer's CPU time (the allocator's bins for 1.5 KB chunks, and
//! a cold chunk to copy into); a pool of finished buffers, reused last-in first-out, makes a
//! steady stream of frames allocate nothing and copy into a buffer the cache still holds.
//! Reuse changes where bytes live, never what they are: the trace is the same.

use std::collections::VecDeque;
use std::rc::Rc;

use sansnet_stack::frame::SharedFrame;

/// At most this many finished buffers are kept (a window's worth of full-size frames: a bulk
/// transfer with 1 MiB windows has about 720 data frames and 360 ACKs in flight).
const POOL_BUFFERS: usize = 1024;

/// At most this many short buffers are kept: thousands of clients each with a request or
/// an ACK in flight (the rpc bench at 3,000 clients) 2 MiB at most.
const SMALL_POOL_BUFFERS: usize = 8192;
/// Buffers that grew larger than this (jumbo frames) are freed, not kept, so the pool holds
/// at most 2 MiB.
const POOL_BUFFER_MAX_BYTES: usize = 2048;

/// Frames this short (ACKs, requests) travel in short buffers of their own, made to their
/// length and pooled apart: an endpoint writes into a full-size buffer, and a short frame is
/// copied out of it, so that thousands of short frames in flight do not each hold a
/// full-size buffer (the rpc bench: 11% more heap per client and 15% more CPU time at 3,000
/// clients when they did).
const SMALL_FRAME_BYTES: usize = 256;

/// A frame's bytes: shared by the copies of a flooded or duplicated frame (and by a
/// determinism probe keeping the record, and by a host keeping a segment's payload where it
/// arrived), so that a copy costs a reference count. The frame is the buffer's first `len`
/// bytes: a buffer an endpoint wrote into keeps the length it was handed, so that reusing
/// it needs no zeroing. The stack's own type, so that a host can keep it.
pub(crate) type FrameBytes = SharedFrame;

/// A pooled buffer an endpoint is writing a frame into (`FramePool::writable`).
pub(crate) struct Writable(Rc<Vec<u8>>);

impl Writable {
    /// The buffer, as long as asked for.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        // A `Writable` is never shared: made or taken from the pool unshared, and not
        // cloned.
        Rc::get_mut(&mut self.0).map_or(&mut [], |v| v.as_mut_slice())
    }

    /// The buffer itself, for an endpoint that may trade it for one holding its frame
    /// (`Endpoint::poll_transmit_vec`). Never `None`: a `Writable` is unshared (see
    /// `bytes_mut`).
    pub(crate) fn vec_mut(&mut self) -> Option<&mut Vec<u8>> {
        Rc::get_mut(&mut self.0)
    }

    /// The frame written: the buffer's first `len` bytes.
    pub(crate) fn into_frame(self, len: usize) -> FrameBytes {
        SharedFrame::from_rc(self.0, len)
    }
}

/// At most this many buffers still held elsewhere are remembered, to come back once let go.
const LENT_BUFFERS: usize = 2048;

/// How many lent buffers one look at the lent queue checks at most.
const LENT_SCAN: usize = 8;

/// Buffers of frames that are done with, for the next frames to be copied or written into.
#[derive(Debug, Default)]
pub(crate) struct FramePool {
    /// Full-size buffers (more than `SMALL_FRAME_BYTES`).
    free: Vec<Rc<Vec<u8>>>,
    /// Buffers of at most `SMALL_FRAME_BYTES`, for short frames.
    small: Vec<Rc<Vec<u8>>>,
    /// Buffers of delivered frames that a host still holds (a TCP payload kept until its
    /// application reads it), oldest first: they join the pool once let go, which a look
    /// at the oldest few before every take finds. Hosts let go of them in about the order
    /// they got them.
    lent: VecDeque<Rc<Vec<u8>>>,
    /// Buffers made because the pool had none to give.
    pub(crate) made: u64,
}

impl FramePool {
    /// A frame's bytes, copied into a pooled buffer when there is one.
    pub(crate) fn copy_of(&mut self, bytes: &[u8]) -> FrameBytes {
        let short = bytes.len() <= SMALL_FRAME_BYTES;
        if let Some(mut buf) = self.take(short) {
            // Only unshared buffers are pooled, and nothing shares them while pooled.
            if let Some(v) = Rc::get_mut(&mut buf) {
                v.clear();
                v.extend_from_slice(bytes);
                return SharedFrame::from_rc(buf, bytes.len());
            }
        }
        self.made += 1;
        SharedFrame::new(bytes.to_vec())
    }

    /// A pooled buffer, short or full-size, if there is one. Lent buffers let go since the
    /// last call join the pool first: their host's application has just read them, so
    /// they are in the cache (taking them only once the pool ran dry walked the senders
    /// through every buffer of the pool).
    fn take(&mut self, short: bool) -> Option<Rc<Vec<u8>>> {
        self.reclaim();
        if short {
            self.small.pop()
        } else {
            self.free.pop()
        }
    }

    /// Moves lent buffers that were let go into the pool: the oldest while they are free,
    /// and a held one to the back, at most `LENT_SCAN` looks.
    fn reclaim(&mut self) {
        for _ in 0..LENT_SCAN.min(self.lent.len()) {
            let Some(buf) = self.lent.pop_front() else {
                return;
            };
            if Rc::strong_count(&buf) == 1 && Rc::weak_count(&buf) == 0 {
                self.keep(buf);
            } else {
                self.lent.push_back(buf);
                return;
            }
        }
    }

    /// The frame an endpoint wrote into `w`, its first `len` bytes: in `w` itself, or, when
    /// short, copied into a short buffer (and `w` kept for the next frame).
    pub(crate) fn written(&mut self, w: Writable, len: usize) -> FrameBytes {
        if len > SMALL_FRAME_BYTES {
            return w.into_frame(len);
        }
        let frame = self.copy_of(&w.0[..len.min(w.0.len())]);
        self.keep(w.0);
        frame
    }

    /// A buffer of exactly `len` bytes for an endpoint to write a frame into: pooled when
    /// there is one (zeroed only where it grows), else new. `None` past the largest
    /// buffer the pool keeps.
    pub(crate) fn writable(&mut self, len: usize) -> Option<Writable> {
        if len > POOL_BUFFER_MAX_BYTES {
            return None;
        }
        if let Some(mut buf) = self.take(false) {
            if let Some(v) = Rc::get_mut(&mut buf) {
                v.resize(len, 0);
                return Some(Writable(buf));
            }
        }
        self.made += 1;
        Some(Writable(Rc::new(vec![0; len])))
    }

    /// Takes back a buffer an endpoint was given but wrote nothing into.
    pub(crate) fn unused(&mut self, w: Writable) {
        self.keep(w.0);
    }

    /// Takes back a frame's bytes once the frame is done with: the buffer is kept when this
    /// was its last copy, the pool has room and the buffer is not oversized; otherwise it is
    /// dropped as before (freed with its last copy).
    pub(crate) fn recycle(&mut self, bytes: FrameBytes) {
        self.keep(bytes.into_rc());
    }

    /// Takes back a delivered frame's bytes: as [`recycle`](Self::recycle), except that a
    /// buffer the receiving endpoint `kept` a reference to is remembered, to join the pool
    /// once that is let go (a full lent queue forgets it: it is then freed when let go).
    pub(crate) fn recycle_delivered(&mut self, bytes: FrameBytes, kept: bool) {
        let buf = bytes.into_rc();
        if kept && self.lent.len() < LENT_BUFFERS && buf.capacity() <= POOL_BUFFER_MAX_BYTES {
            self.lent.push_back(buf);
        } else {
            self.keep(buf);
        }
    }

    fn keep(&mut self, mut buf: Rc<Vec<u8>>) {
        let Some(capacity) = Rc::get_mut(&mut buf).map(|v| v.capacity()) else {
            return;
        };
        let (free, limit) = if capacity <= SMALL_FRAME_BYTES {
            (&mut self.small, SMALL_POOL_BUFFERS)
        } else {
            (&mut self.free, POOL_BUFFERS)
        };
        if free.len() < limit && capacity <= POOL_BUFFER_MAX_BYTES {
            free.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_comes_back_only_from_its_last_copy() {
        let mut pool = FramePool::default();
        let a = pool.copy_of(&[7; 600]);
        let b = a.clone();
        pool.recycle(a);
        assert_eq!(pool.free.len(), 0, "a copy is still in flight");
        assert_eq!(&b[..], &[7; 600][..]);
        let ptr = b.as_ptr();
        pool.recycle(b);
        assert_eq!(pool.free.len(), 1);
        let c = pool.copy_of(&[9; 500]);
        assert_eq!(&c[..], &[9; 500][..]);
        assert_eq!(c.as_ptr(), ptr, "the buffer is reused");
        assert!(pool.free.is_empty());
    }

    #[test]
    fn a_written_buffer_is_reused_without_zeroing_what_it_had() {
        let mut pool = FramePool::default();
        let mut w = pool.writable(1518).expect("small enough");
        assert_eq!(w.bytes_mut().len(), 1518);
        w.bytes_mut()[..400].fill(3);
        let f = pool.written(w, 400);
        assert_eq!(&f[..], &[3; 400][..]);
        let ptr = f.as_ptr();
        pool.recycle(f);
        let mut w = pool.writable(1518).expect("small enough");
        assert_eq!(w.bytes_mut().as_ptr(), ptr, "the buffer is reused");
        assert_eq!(&w.bytes_mut()[..4], &[3; 4], "and not zeroed again");
        pool.unused(w);
        assert_eq!(pool.free.len(), 1);
        assert!(pool.writable(POOL_BUFFER_MAX_BYTES + 1).is_none());
    }

    #[test]
    fn a_short_frame_leaves_its_full_size_buffer_behind() {
        let mut pool = FramePool::default();
        let mut w = pool.writable(1554).expect("small enough");
        let big = w.bytes_mut().as_ptr();
        w.bytes_mut()[..60].fill(5);
        let f = pool.written(w, 60);
        assert_eq!(&f[..], &[5; 60][..]);
        assert_ne!(f.as_ptr(), big);
        assert_eq!(pool.free.len(), 1, "the full-size buffer is back");
        pool.recycle(f);
        assert_eq!(
            pool.small.len(),
            1,
            "and the short one goes to its own pool"
        );
        let mut w = pool.writable(1554).expect("small enough");
        assert_eq!(w.bytes_mut().as_ptr(), big);
    }

    #[test]
    fn a_kept_buffer_comes_back_once_let_go() {
        let mut pool = FramePool::default();
        let f = pool.copy_of(&[4; 1400]);
        let ptr = f.as_ptr();
        let kept = f.clone();
        pool.recycle_delivered(f, true);
        assert!(pool.free.is_empty());
        let other = pool.copy_of(&[5; 1400]);
        assert_ne!(other.as_ptr(), ptr, "still held: not reused");
        assert_eq!(&kept[..], &[4; 1400][..], "and not written over");
        drop(kept);
        let again = pool.copy_of(&[6; 1400]);
        assert_eq!(again.as_ptr(), ptr, "let go: the next take reuses it");
        assert!(pool.lent.is_empty());
        pool.recycle(other);
        pool.recycle(again);
    }

    #[test]
    fn the_pool_is_bounded() {
        let mut pool = FramePool::default();
        let frames: Vec<FrameBytes> = (0..POOL_BUFFERS + 10)
            .map(|_| pool.copy_of(&[0; 512]))
            .collect();
        for f in frames {
            pool.recycle(f);
        }
        assert_eq!(pool.free.len(), POOL_BUFFERS);
        pool.recycle(FrameBytes::new(vec![0; POOL_BUFFER_MAX_BYTES + 1]));
        assert_eq!(pool.free.len(), POOL_BUFFERS);
        let mut other = FramePool::default();
        other.recycle(FrameBytes::new(vec![0; POOL_BUFFER_MAX_BYTES + 1]));
        assert!(other.free.is_empty(), "a jumbo buffer is freed");
    }
}
