//! A frame's bytes in flight, and the pool their buffers come back to.
//!
//! Every frame a node sends is copied out of the simulator's transmit buffer into a buffer of
//! its own, which travels with the frame through links, switches and receive rings until the
//! receiving node has read it. Allocating that buffer per frame and freeing it on arrival was
//! a tenth of a simulated bulk transfer's CPU time (the allocator's bins for 1.5 KB chunks, and
//! a cold chunk to copy into); a pool of finished buffers, reused last-in first-out, makes a
//! steady stream of frames allocate nothing and copy into a buffer the cache still holds.
//! Reuse changes where bytes live, never what they are: the trace is the same.

use std::ops::Deref;
use std::rc::Rc;

/// At most this many finished buffers are kept (a window's worth of full-size frames: a bulk
/// transfer with 1 MiB windows has about 720 data frames and 360 ACKs in flight).
const POOL_BUFFERS: usize = 1024;

/// Buffers that grew larger than this (jumbo frames) are freed, not kept, so the pool holds
/// at most 2 MiB.
const POOL_BUFFER_MAX_BYTES: usize = 2048;

/// A frame's bytes: shared by the copies of a flooded or duplicated frame (and by a
/// determinism probe keeping the record), so that a copy costs a reference count.
#[derive(Clone, Debug)]
pub(crate) struct FrameBytes(Rc<Vec<u8>>);

impl Deref for FrameBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for FrameBytes {
    fn from(bytes: Vec<u8>) -> FrameBytes {
        FrameBytes(Rc::new(bytes))
    }
}

/// Buffers of frames that are done with, for the next frames to be copied into.
#[derive(Debug, Default)]
pub(crate) struct FramePool {
    free: Vec<Rc<Vec<u8>>>,
}

impl FramePool {
    /// A frame's bytes, copied into a pooled buffer when there is one.
    pub(crate) fn copy_of(&mut self, bytes: &[u8]) -> FrameBytes {
        while let Some(mut buf) = self.free.pop() {
            // Only unshared buffers are pooled, and nothing shares them while pooled.
            if let Some(v) = Rc::get_mut(&mut buf) {
                v.clear();
                v.extend_from_slice(bytes);
                return FrameBytes(buf);
            }
        }
        FrameBytes(Rc::new(bytes.to_vec()))
    }

    /// Takes back a frame's bytes once the frame is done with: the buffer is kept when this
    /// was its last copy, the pool has room and the buffer is not oversized; otherwise it is
    /// dropped as before (freed with its last copy).
    pub(crate) fn recycle(&mut self, bytes: FrameBytes) {
        let mut buf = bytes.0;
        if self.free.len() < POOL_BUFFERS
            && Rc::get_mut(&mut buf).is_some_and(|v| v.capacity() <= POOL_BUFFER_MAX_BYTES)
        {
            self.free.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_comes_back_only_from_its_last_copy() {
        let mut pool = FramePool::default();
        let a = pool.copy_of(&[7; 60]);
        let b = a.clone();
        pool.recycle(a);
        assert_eq!(pool.free.len(), 0, "a copy is still in flight");
        assert_eq!(&b[..], &[7; 60][..]);
        let ptr = b.as_ptr();
        pool.recycle(b);
        assert_eq!(pool.free.len(), 1);
        let c = pool.copy_of(&[1, 2, 3]);
        assert_eq!(&c[..], &[1, 2, 3]);
        assert_eq!(c.as_ptr(), ptr, "the buffer is reused");
        assert!(pool.free.is_empty());
    }

    #[test]
    fn the_pool_is_bounded() {
        let mut pool = FramePool::default();
        let frames: Vec<FrameBytes> = (0..POOL_BUFFERS + 10)
            .map(|_| pool.copy_of(&[0; 64]))
            .collect();
        for f in frames {
            pool.recycle(f);
        }
        assert_eq!(pool.free.len(), POOL_BUFFERS);
        pool.recycle(FrameBytes::from(vec![0; POOL_BUFFER_MAX_BYTES + 1]));
        assert_eq!(pool.free.len(), POOL_BUFFERS);
        let mut small = FramePool::default();
        small.recycle(FrameBytes::from(vec![0; POOL_BUFFER_MAX_BYTES + 1]));
        assert!(small.free.is_empty(), "a jumbo buffer is freed");
    }
}
