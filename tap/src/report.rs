//! What a run reports.

use std::fmt;
use std::net::SocketAddrV4;
use std::time::Duration;

use sansnet_stack::iface::DropReason;

use crate::{Mode, ObservedCounts, StreamSummary, TcpObserver};

/// Frames the loss injector saw and dropped, per direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LossCounts {
    /// Frames from the kernel dropped before the host.
    pub in_dropped: u64,
    /// Frames from the kernel handed to the host.
    pub in_passed: u64,
    /// Frames of the host dropped before the kernel.
    pub out_dropped: u64,
    /// Frames of the host written to the TAP device.
    pub out_passed: u64,
}

/// The kernel side's own counters, read in the lab's namespace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelCounters {
    /// TCP segments the kernel retransmitted during the run (`Tcp: RetransSegs` of
    /// `/proc/net/snmp` in the namespace, after minus before).
    pub retransmitted_segments: u64,
    /// Frames the TAP device dropped on the kernel's side, sending towards sansnet (its
    /// queue full because the adapter did not read fast enough: loss nobody asked for).
    pub tap_tx_dropped: u64,
    /// Frames the TAP device dropped on the way in from sansnet.
    pub tap_rx_dropped: u64,
}

/// A non-zero drop counter of the sansnet host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostDrop {
    /// Why.
    pub reason: DropReason,
    /// How many.
    pub count: u64,
}

/// The outcome of a run whose bytes all arrived as sent.
#[derive(Debug, Clone)]
pub struct Report {
    /// The mode.
    pub mode: Mode,
    /// The lab's namespace (removed by the time the report exists).
    pub netns: String,
    /// The lab's TAP device (removed likewise).
    pub device: String,
    /// The server's address.
    pub server: SocketAddrV4,
    /// Whether the bytes were checked (false with an external peer: they are counted).
    pub checked: bool,
    /// What sansnet's socket took to send.
    pub sansnet_sent: StreamSummary,
    /// What the kernel's socket read, checked against the pattern.
    pub kernel_received: StreamSummary,
    /// What the kernel's socket sent.
    pub kernel_sent: StreamSummary,
    /// What sansnet's socket read, checked against the pattern.
    pub sansnet_received: StreamSummary,
    /// Connections served (1 unless the peer was external).
    pub connections: u64,
    /// From the start of the connection (connect or accept) to the end of both streams.
    pub wall: Duration,
    /// What the frames said.
    pub observed: ObservedCounts,
    /// The kernel's counters.
    pub kernel: KernelCounters,
    /// The loss injector's counts.
    pub loss: LossCounts,
    /// The host's non-zero drop counters, in the host's order.
    pub host_drops: Vec<HostDrop>,
}

impl Report {
    /// Whether both streams arrived whole: the receivers checked every byte (or it was not
    /// checked, with an external peer), and the hashes of both ends agree.
    pub fn bytes_ok(&self) -> bool {
        !self.checked
            || (self.sansnet_sent == self.kernel_received
                && self.kernel_sent == self.sansnet_received)
    }

    /// The host's drops for `reason`.
    pub fn host_drops(&self, reason: DropReason) -> u64 {
        self.host_drops
            .iter()
            .find(|d| d.reason == reason)
            .map_or(0, |d| d.count)
    }

    /// One line of `key=value` fields, for scripts.
    pub fn summary_line(&self) -> String {
        format!(
            "RESULT mode={} bytes_ok={} to_kernel={} to_sansnet={} wall_ms={} \
             retrans_sansnet={} stalls={} stall_ms={} retrans_kernel={} right_edge_acks={} \
             dsacks={} out_of_window={} loss_in={}/{} loss_out={}/{} tap_drops={}",
            self.mode,
            u8::from(self.bytes_ok()),
            self.kernel_received.bytes,
            self.sansnet_received.bytes,
            self.wall.as_millis(),
            self.observed.retransmitted_segments,
            self.observed.stalls,
            self.observed.stall_time.as_millis(),
            self.kernel.retransmitted_segments,
            self.observed.right_edge_acks,
            self.observed.dsacks_in,
            self.host_drops(DropReason::TcpOutOfWindow),
            self.loss.in_dropped,
            self.loss.in_dropped + self.loss.in_passed,
            self.loss.out_dropped,
            self.loss.out_dropped + self.loss.out_passed,
            self.kernel.tap_tx_dropped + self.kernel.tap_rx_dropped,
        )
    }
}

fn rate(bytes: u64, wall: Duration) -> String {
    let secs = wall.as_secs_f64();
    if bytes == 0 || secs <= 0.0 {
        return String::from("-");
    }
    format!("{:.1} Mbit/s", bytes as f64 * 8.0 / secs / 1e6)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} over TAP: sansnet {} {}, namespace {}, device {}",
            self.mode,
            if self.mode.sansnet_serves() {
                "serving on"
            } else {
                "connected to"
            },
            self.server,
            self.netns,
            self.device
        )?;
        let how = |checked: bool| {
            if checked {
                "checked byte for byte"
            } else {
                "not checked"
            }
        };
        writeln!(
            f,
            "  sansnet -> kernel: {} bytes sent, {} received (xxh3 {:016x} / {:016x}), {}",
            self.sansnet_sent.bytes,
            self.kernel_received.bytes,
            self.sansnet_sent.xxh3,
            self.kernel_received.xxh3,
            how(self.checked)
        )?;
        writeln!(
            f,
            "  kernel -> sansnet: {} bytes sent, {} received (xxh3 {:016x} / {:016x}), {}",
            self.kernel_sent.bytes,
            self.sansnet_received.bytes,
            self.kernel_sent.xxh3,
            self.sansnet_received.xxh3,
            how(self.checked)
        )?;
        writeln!(
            f,
            "  wall time: {:.3} s ({} to the kernel, {} to sansnet){}",
            self.wall.as_secs_f64(),
            rate(self.kernel_received.bytes, self.wall),
            rate(self.sansnet_received.bytes, self.wall),
            if self.connections == 1 {
                String::new()
            } else {
                format!(", {} connections", self.connections)
            }
        )?;
        writeln!(
            f,
            "  retransmitted segments: sansnet {} ({} bytes; {} data segments sent), kernel {}",
            self.observed.retransmitted_segments,
            self.observed.retransmitted_bytes,
            self.observed.data_segments_out,
            self.kernel.retransmitted_segments
        )?;
        writeln!(
            f,
            "  sansnet's retransmissions after {} ms or more of silence (timeouts): {}, after {:.3} s of silence in all",
            TcpObserver::STALL.as_millis(),
            self.observed.stalls,
            self.observed.stall_time.as_secs_f64()
        )?;
        writeln!(
            f,
            "  loss injected: kernel -> sansnet {} of {} frames, sansnet -> kernel {} of {}",
            self.loss.in_dropped,
            self.loss.in_dropped + self.loss.in_passed,
            self.loss.out_dropped,
            self.loss.out_dropped + self.loss.out_passed
        )?;
        writeln!(
            f,
            "  from the kernel: {} pure ACKs, {} of them at sansnet's right window edge; {} D-SACKs",
            self.observed.pure_acks_in, self.observed.right_edge_acks, self.observed.dsacks_in
        )?;
        write!(f, "  host drops:")?;
        if self.host_drops.is_empty() {
            write!(f, " none")?;
        }
        for d in &self.host_drops {
            write!(f, " {}={}", d.reason, d.count)?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "  TAP device drops (kernel side): towards sansnet {}, from sansnet {}",
            self.kernel.tap_tx_dropped, self.kernel.tap_rx_dropped
        )?;
        write!(f, "{}", self.summary_line())
    }
}
