//! The host's invariants (feature `invariants`), checked at the end of `handle_frame`,
//! `poll_transmit` and `handle_timeout`: every table and queue within its `Limits`, the
//! connection slab's accounting, and the TCP timer set. Cheap ones only (nothing walks the
//! connections or the sockets); each connection checks itself (`tcp::Connection`), and the
//! host pairs its timer entry with the connection's deadline where it files it
//! (`update_timer`).

use super::*;
use crate::tcp::invariant;

impl Host {
    /// Checks the host's invariants at `now`. Read-only.
    pub(super) fn check_invariants(&self, now: Instant) {
        let limits = &self.cfg.limits;
        let name = &self.cfg.name;
        invariant!(
            self.tx_queue.len() <= limits.tx_queue_frames
                && self.loopback.len() <= limits.loopback_queue_packets,
            "transmit and loopback queues within their bounds",
            "host {name}: {} frames (bound {}), {} loopback packets (bound {})",
            self.tx_queue.len(),
            limits.tx_queue_frames,
            self.loopback.len(),
            limits.loopback_queue_packets
        );
        invariant!(
            self.tcp.conn_count + self.tcp.free_conns.len() == self.tcp.conns.len()
                && self.tcp.conn_count <= limits.max_connections,
            "connection slab accounting",
            "host {name}: {} connections + {} free slots != {} slots, or over the bound {}",
            self.tcp.conn_count,
            self.tcp.free_conns.len(),
            self.tcp.conns.len(),
            limits.max_connections
        );
        invariant!(
            self.tcp.tuples.len() <= self.tcp.conn_count
                && self.tcp.timers.len() <= self.tcp.conn_count,
            "one 4-tuple and one timer entry per connection at most",
            "host {name}: {} tuples, {} timer entries, {} connections",
            self.tcp.tuples.len(),
            self.tcp.timers.len(),
            self.tcp.conn_count
        );
        invariant!(
            self.tcp
                .last_tuple
                .is_none_or(|(key, id)| self.tcp.tuples.get(&key) == Some(&id)),
            "the demultiplexer's last entry is what the 4-tuple table holds",
            "host {name}: last {:?}",
            self.tcp.last_tuple
        );
        invariant!(
            self.sockets.multicast.len() <= self.sockets.slots.len() * MAX_MEMBERSHIPS
                && self.sockets.multicast.values().all(|&n| n > 0),
            "multicast memberships bounded by the sockets, none held by no socket",
            "host {name}: {} memberships for {} socket slots",
            self.sockets.multicast.len(),
            self.sockets.slots.len()
        );
        for (pid, p) in &self.processes {
            invariant!(
                p.fds.len() <= p.max_descriptors
                    && p.free_fds.last().is_none_or(|&f| f < p.fds.len()),
                "descriptors within their bound",
                "host {name} pid {pid}: {} descriptor slots (bound {}), highest free {:?}",
                p.fds.len(),
                p.max_descriptors,
                p.free_fds.last()
            );
        }
        let open_files = self.sockets.slots.len() - self.sockets.free.len();
        invariant!(
            open_files <= limits.max_open_files
                && self.processes.len() <= limits.max_processes
                && self.processes.contains_key(&super::Pid::INIT),
            "open files and processes within their bounds, process 1 alive",
            "host {name}: {} open files (bound {}), {} processes (bound {})",
            open_files,
            limits.max_open_files,
            self.processes.len(),
            limits.max_processes
        );
        invariant!(
            self.pmtu.len() <= limits.pmtu_entries,
            "path MTU table within its bound",
            "host {name}: {} entries, bound {}",
            self.pmtu.len(),
            limits.pmtu_entries
        );
        invariant!(
            self.arp.cache.len() <= limits.arp_cache_entries
                && self.arp.pending.len() <= limits.arp_pending_addrs
                && self.arp.timers.len() <= self.arp.cache.len(),
            "ARP cache, pending table and probe timers within their bounds",
            "host {name}: {} entries (bound {}), {} pending (bound {}), {} timers",
            self.arp.cache.len(),
            limits.arp_cache_entries,
            self.arp.pending.len(),
            limits.arp_pending_addrs,
            self.arp.timers.len()
        );
        for (key, p) in &self.arp.pending {
            invariant!(
                p.packets.len() <= limits.arp_pending_packets_per_addr,
                "packets waiting for one address within their bound",
                "host {name}: {} packets for {key:?}, bound {}",
                p.packets.len(),
                limits.arp_pending_packets_per_addr
            );
        }
        self.reassembly
            .check_invariants(limits.reassembly_datagrams, limits.reassembly_bytes);
        invariant!(
            self.packet_pool.len() <= self.packet_pool_max()
                && self.sockets.changed.len() <= self.sockets.slots.len()
                && self.sockets.changed_mark.len() <= self.sockets.slots.len(),
            "packet pool and readiness list within their bounds",
            "host {name}: pool {}, changed {} (marks {}) of {} sockets",
            self.packet_pool.len(),
            self.sockets.changed.len(),
            self.sockets.changed_mark.len(),
            self.sockets.slots.len()
        );
        invariant!(
            now == self.last_now,
            "the host's clock is the last verb's now",
            "host {name}: now {now}, clock {}",
            self.last_now
        );
    }

    /// After `handle_timeout(now)`: every TCP timer entry due at `now` was taken out (what
    /// stays is at or after `now`: a connection re-armed at `now` itself may be due again).
    pub(super) fn check_timers_fired(&self, now: Instant) {
        if let Some(&(t, id)) = self.tcp.timers.first() {
            invariant!(
                t >= now,
                "handle_timeout takes every due connection timer",
                "host {}: connection {id:?} still filed at {t} after handle_timeout({now})",
                self.cfg.name
            );
        }
    }
}
