//! Frames between the TAP descriptor and the host, with the clock, the loss injector and
//! the observer at the edge.

use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

use nix::errno::Errno as NixErrno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use sansnet_stack::iface::Host;
use sansnet_stack::time::Instant;
use tappers::linux::Tap;

use crate::{Error, Loss, LossCounts, TcpObserver, WallClock};

/// Frames read from the device per turn at most, so that the host's output (its ACKs) is
/// not held back behind a long queue.
const RX_BATCH: usize = 64;
/// Large enough for any frame of a TAP device without offloads (MTU 9000 at most).
const FRAME_BUF: usize = 16 * 1024;

/// The host on the TAP device. See the crate documentation for the clock.
pub(crate) struct Adapter<'a> {
    pub(crate) host: Host,
    tap: &'a Tap,
    clock: WallClock,
    loss_in: Loss,
    loss_out: Loss,
    pub(crate) observer: TcpObserver,
    rx: Vec<u8>,
    tx: Vec<u8>,
    /// Frames the device refused (its queue full): lost like any other.
    pub(crate) tap_write_drops: u64,
}

impl<'a> Adapter<'a> {
    pub(crate) fn new(
        host: Host,
        tap: &'a Tap,
        clock: WallClock,
        loss_in: Loss,
        loss_out: Loss,
        observer: TcpObserver,
    ) -> Adapter<'a> {
        Adapter {
            host,
            tap,
            clock,
            loss_in,
            loss_out,
            observer,
            rx: vec![0; FRAME_BUF],
            tx: vec![0; FRAME_BUF],
            tap_write_drops: 0,
        }
    }

    /// The host's `now`: the wall clock read here, at the edge.
    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Hands the frames waiting on the device to the host (those the injector keeps).
    /// Returns how many were read.
    pub(crate) fn receive(&mut self) -> Result<usize, Error> {
        let mut read = 0;
        while read < RX_BATCH {
            let n = match self.tap.recv(&mut self.rx) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("reading the TAP device", e)),
            };
            read += 1;
            if self.loss_in.drop_next() {
                continue;
            }
            let frame = &self.rx[..n];
            self.observer.inbound(frame);
            let now = self.clock.now();
            self.host.handle_frame(now, 0, frame);
        }
        Ok(read)
    }

    /// Writes every frame the host has to send (those the injector keeps) to the device.
    /// Returns how many the host produced.
    pub(crate) fn transmit(&mut self) -> Result<usize, Error> {
        let mut produced = 0;
        loop {
            let now = self.clock.now();
            let Some((_nic, len)) = self.host.poll_transmit(now, &mut self.tx) else {
                return Ok(produced);
            };
            produced += 1;
            let frame = &self.tx[..len];
            self.observer.outbound(now, frame);
            if self.loss_out.drop_next() {
                continue;
            }
            match self.tap.send(frame) {
                Ok(_) => {}
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.raw_os_error() == Some(NixErrno::ENOBUFS as i32) =>
                {
                    self.tap_write_drops += 1;
                }
                Err(e) => return Err(Error::io("writing to the TAP device", e)),
            }
        }
    }

    /// Fires the host's timers when their deadline has passed. Returns whether it did.
    pub(crate) fn timers(&mut self) -> bool {
        let now = self.clock.now();
        match self.host.poll_timeout() {
            Some(deadline) if deadline <= now => {
                self.host.handle_timeout(now);
                true
            }
            _ => false,
        }
    }

    /// Sleeps until a frame arrives, the host's next deadline, or `max`, whichever is first.
    pub(crate) fn wait(&mut self, max: Duration) -> Result<(), Error> {
        let mut wait = max;
        if let Some(deadline) = self.host.poll_timeout() {
            wait = wait.min(self.clock.until(deadline));
        }
        // poll(2) counts milliseconds: round up, so that a timer is at most a millisecond
        // late and the loop never spins on a deadline less than a millisecond away.
        let ms = wait.as_nanos().div_ceil(1_000_000);
        if ms == 0 {
            return Ok(());
        }
        let timeout = PollTimeout::try_from(ms.min(10_000) as u32).unwrap_or(PollTimeout::NONE);
        let mut fds = [PollFd::new(self.tap.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(_) | Err(NixErrno::EINTR) => Ok(()),
            Err(e) => Err(Error::io("waiting on the TAP device", io::Error::from(e))),
        }
    }

    pub(crate) fn loss_counts(&self) -> LossCounts {
        LossCounts {
            in_dropped: self.loss_in.dropped(),
            in_passed: self.loss_in.passed(),
            out_dropped: self.loss_out.dropped(),
            out_passed: self.loss_out.passed(),
        }
    }
}
