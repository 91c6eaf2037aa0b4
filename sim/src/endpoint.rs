//! The node contract: whatever sits on a simulated network's NICs.

use std::any::Any;

use sansnet_stack::frame::SharedFrame;
use sansnet_stack::time::Instant;
use sansnet_stack::wire::EthernetAddress;

/// Lets the simulator hand a node back as its concrete type (`sim.with_node::<Host, _>`).
/// Implemented for every `'static` type; nobody implements it by hand.
pub trait AsAny: Any {
    /// `self` as `&dyn Any`.
    fn as_any(&self) -> &dyn Any;
    /// `self` as `&mut dyn Any`.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any> AsAny for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A node on the simulated network, sans-IO: the simulator calls `handle_*` with the current
/// simulated time and drains `poll_transmit` after every call, then re-reads `poll_timeout`
/// and wakes the node at that deadline.
///
/// The call protocol, after any input (`handle_frame`, `handle_timeout`, or an application
/// calling into the node between steps):
/// 1. `poll_transmit` until it returns `None` (frames go out in that order);
/// 2. `poll_timeout`, whose answer replaces any earlier deadline.
///
/// `handle_timeout` may be called a little after the deadline (never before) and must
/// tolerate being called when nothing is due.
pub trait Endpoint: AsAny {
    /// A frame arrived on NIC `nic`.
    fn handle_frame(&mut self, now: Instant, nic: usize, frame: &[u8]);
    /// A frame arrived on NIC `nic`, in a buffer the endpoint may keep a reference to
    /// (sansnet's host keeps a TCP segment's payload there until its application reads
    /// it); the simulator takes the buffer back for its pool once it is let go. The
    /// default reads it as [`handle_frame`](Self::handle_frame) does.
    fn handle_frame_shared(&mut self, now: Instant, nic: usize, frame: &SharedFrame) {
        self.handle_frame(now, nic, frame);
    }
    /// Next frame to send: written into `buf`, returns `(nic, len)`.
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, usize)>;
    /// Next frame to send, written into `buf`'s bytes or handed over by replacing `*buf`
    /// with a buffer of the endpoint's own that holds it already (never a shorter one):
    /// returns `(nic, len)`, the frame being `buf[..len]`. The simulator calls this for
    /// endpoints that give a [`max_frame_len`](Self::max_frame_len), with a buffer of
    /// that length. The default writes into `buf` as
    /// [`poll_transmit`](Self::poll_transmit) does; sansnet's host trades a frame it
    /// wrote while handling an input instead of copying it.
    fn poll_transmit_vec(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<(usize, usize)> {
        self.poll_transmit(now, buf)
    }
    /// The length of `buf` that `poll_transmit` needs for its largest frame, if the endpoint
    /// knows it. The simulator then hands `poll_transmit` a buffer of exactly that length
    /// from its pool of frame buffers (when it is at most 2 KiB), and the frame travels in
    /// the buffer it was written to; otherwise (the default, `None`) the endpoint writes
    /// into a 64 KiB scratch buffer and each frame is copied out of it.
    fn max_frame_len(&self) -> Option<usize> {
        None
    }
    /// When the node next wants `handle_timeout`, if ever.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Time has reached (or passed) the deadline from `poll_timeout`.
    fn handle_timeout(&mut self, now: Instant);

    /// Appends the keys of whatever became ready since the last call (sockets, for a host)
    /// and returns `true`; tasks waiting on a key are then woken only when it is reported.
    /// The default, `false`, says the endpoint does not track readiness, and every waiter
    /// on the node is woken after each activity.
    fn drain_changed(&mut self, out: &mut Vec<u64>) -> bool {
        let _ = out;
        false
    }
}

/// What a node factory knows when it builds (or rebuilds, after a crash) its node.
#[derive(Clone, Debug)]
pub struct NodeCtx {
    /// The node's name.
    pub name: String,
    /// The MAC address of each NIC, by index (stable across restarts).
    pub macs: Vec<EthernetAddress>,
    /// A seed for the node's own randomness (ISN secret, ephemeral ports), derived from the
    /// run's seed, the node's name and the incarnation.
    pub seed: u64,
    /// 0 for the first start, then one more per restart.
    pub incarnation: u32,
    /// When the node is being built.
    pub now: Instant,
}

/// Builds a node; called again on every restart.
pub type NodeFactory = Box<dyn FnMut(&NodeCtx) -> Box<dyn Endpoint>>;
