//! A received frame in a buffer the host may keep.
//!
//! `Host::handle_frame` borrows the frame: whatever the host keeps of it (a TCP segment's
//! payload, until the application reads it) is copied. `Host::handle_frame_shared` takes a
//! [`SharedFrame`] instead, a reference-counted buffer, and an in-order TCP payload of a
//! full-size segment is kept where it arrived: the receive buffer holds a reference to the
//! frame and the application's read copies from it, as Linux's receive queue holds the
//! packets' own buffers (`sk_buff`). One copy of every payload byte fewer, and one buffer
//! less for the bytes to pass through the cache.
//!
//! The owner of the buffer (a simulator's pool, a benchmark's link) gets it back when the
//! last reference is dropped: [`SharedFrame::is_unique`] tells it when the host is done.

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::ops::Deref;

/// A frame's bytes in a reference-counted buffer: the buffer's first `len` bytes.
///
/// Cloning costs a reference count. The bytes are never written while shared:
/// [`buffer_mut`](Self::buffer_mut) hands them out only to the sole owner.
#[derive(Clone, Debug)]
pub struct SharedFrame {
    buf: Rc<Vec<u8>>,
    len: usize,
}

impl SharedFrame {
    /// A frame of all of `bytes`.
    #[inline]
    pub fn new(bytes: Vec<u8>) -> SharedFrame {
        let len = bytes.len();
        SharedFrame {
            buf: Rc::new(bytes),
            len,
        }
    }

    /// A frame of the first `len` bytes of `buf` (all of it if shorter).
    #[inline]
    pub fn from_rc(buf: Rc<Vec<u8>>, len: usize) -> SharedFrame {
        let len = len.min(buf.len());
        SharedFrame { buf, len }
    }

    /// The buffer, for its owner to reuse once [`is_unique`](Self::is_unique).
    #[inline]
    pub fn into_rc(self) -> Rc<Vec<u8>> {
        self.buf
    }

    /// The frame's length, read from the handle itself: unlike `deref().len()` it leaves
    /// the shared buffer's header alone, a cold cache line for a frame that crossed a busy
    /// simulated network (the simulator counts and records lengths before anyone reads
    /// the bytes).
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the frame has no bytes.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether this is the buffer's only reference (nobody else holds the frame).
    #[inline]
    pub fn is_unique(&self) -> bool {
        Rc::strong_count(&self.buf) == 1 && Rc::weak_count(&self.buf) == 0
    }

    /// How many references the buffer has, this one included: a caller that compares it
    /// before and after handing the frame to a host learns whether the host kept it.
    #[inline]
    pub fn holders(&self) -> usize {
        Rc::strong_count(&self.buf)
    }

    /// The whole buffer, writable, when this is its only reference; the frame is then
    /// its first [`set_len`](Self::set_len) bytes.
    #[inline]
    pub fn buffer_mut(&mut self) -> Option<&mut Vec<u8>> {
        Rc::get_mut(&mut self.buf)
    }

    /// Makes the frame the buffer's first `len` bytes (at most the buffer's length).
    #[inline]
    pub fn set_len(&mut self, len: usize) {
        self.len = len.min(self.buf.len());
    }

    /// Bytes the buffer holds allocated: what keeping the frame costs in memory.
    #[inline]
    pub fn allocated_bytes(&self) -> usize {
        self.buf.capacity()
    }

    /// Where `part` lies in the frame, if it is a slice of the frame's own bytes.
    #[inline]
    pub fn range_of(&self, part: &[u8]) -> Option<core::ops::Range<usize>> {
        let base = self.buf.as_ptr().addr();
        let start = part.as_ptr().addr().checked_sub(base)?;
        let end = start.checked_add(part.len())?;
        (end <= self.len).then_some(start..end)
    }
}

impl Deref for SharedFrame {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn a_slice_of_the_frame_is_found_and_others_are_not() {
        let f = SharedFrame::new(vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(f.range_of(&f[2..5]), Some(2..5));
        assert_eq!(f.range_of(&f[..0]), Some(0..0));
        let other = vec![1, 2, 3];
        assert_eq!(f.range_of(&other), None);
        let mut g = f.clone();
        assert!(!g.is_unique());
        assert!(g.buffer_mut().is_none(), "shared bytes are not writable");
        drop(f);
        assert!(g.is_unique());
        g.set_len(2);
        assert_eq!(g.range_of(&[0u8; 0][..]), None);
        assert_eq!(&g[..], &[1, 2]);
        assert_eq!(g.buffer_mut().map(|b| b.len()), Some(6));
    }
}
