//! A lab for a raw peer: the kernel in the lab's namespace is the stack under test, and this
//! process writes and reads whole Ethernet frames on the TAP descriptor as the peer.
//!
//! Outside any simulation: a reader thread (inside the namespace) stamps every frame the
//! kernel sends with the lab's wall clock and queues it; the caller's own threads write.

use std::fs;
use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use nix::errno::Errno as NixErrno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::lab::{ip, Lab, Netns};
use crate::raw::{Frame, RawLabConfig};
use crate::{Error, LabConfig, WallClock};

/// Frames queued from the kernel at most; beyond it they are counted and dropped (a peer
/// that reads nothing for that long has failed anyway).
const QUEUE_FRAMES: usize = 8192;
/// How long the reader waits on the device before it looks at its stop flag.
const POLL_MS: u16 = 5;
/// Large enough for any frame of a TAP device without offloads.
const FRAME_BUF: usize = 16 * 1024;

/// The raw lab. Dropping it stops the reader, then removes the device and the namespace.
pub(crate) struct RawLab {
    lab: Arc<Lab>,
    clock: WallClock,
    rx: Receiver<Frame>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<Result<(), Error>>>,
    reader_tid: i32,
    dropped: Arc<AtomicU64>,
    unapplied: Vec<String>,
}

impl std::fmt::Debug for RawLab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawLab")
            .field("lab", &self.lab)
            .field("unapplied", &self.unapplied)
            .finish_non_exhaustive()
    }
}

fn mac(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl RawLab {
    pub(crate) fn create(cfg: &RawLabConfig, clock: WallClock) -> Result<RawLab, Error> {
        let lab = Lab::create(&LabConfig {
            kernel_addr: cfg.kernel_addr,
            sansnet_addr: cfg.peer_addr,
            prefix_len: cfg.prefix_len,
            sansnet_mac: sansnet_stack::wire::EthernetAddress(cfg.peer_mac),
            mtu: cfg.mtu,
        })?;
        let (ns, dev) = (lab.netns.name().to_string(), lab.device.clone());
        // The kernel's MAC is chosen, so the peer can address its frames without asking;
        // the peer's is a permanent neighbour entry, so the kernel sends no ARP.
        ip(&[
            "-n",
            &ns,
            "link",
            "set",
            "dev",
            &dev,
            "address",
            &mac(cfg.kernel_mac),
        ])?;
        ip(&[
            "-n",
            &ns,
            "neigh",
            "replace",
            &cfg.peer_addr.to_string(),
            "lladdr",
            &mac(cfg.peer_mac),
            "dev",
            &dev,
            "nud",
            "permanent",
        ])?;
        let mut unapplied = Vec::new();
        if let Err(e) = set_route(&lab, cfg) {
            unapplied.push(format!("route {}: {e}", cfg.route_options.join(" ")));
        }
        unapplied.extend(set_sysctls(&lab.netns, &cfg.sysctls)?);
        let lab = Arc::new(lab);
        let stop = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicU64::new(0));
        let (tx, rx) = mpsc::sync_channel(QUEUE_FRAMES);
        let (tid_tx, tid_rx) = mpsc::channel();
        let reader = {
            let (shared, stop, dropped) =
                (Arc::clone(&lab), Arc::clone(&stop), Arc::clone(&dropped));
            lab.netns.spawn("sansnet-raw-reader", move || {
                let _ = tid_tx.send(nix::unistd::gettid().as_raw());
                read_frames(&shared, clock, &tx, &stop, &dropped)
            })?
        };
        let reader_tid = tid_rx.recv().map_err(|_| {
            Error::io(
                "starting the lab's reader",
                io::Error::other("it ended at once"),
            )
        })?;
        Ok(RawLab {
            lab,
            clock,
            rx,
            stop,
            reader: Some(reader),
            reader_tid,
            dropped,
            unapplied,
        })
    }

    pub(crate) fn clock(&self) -> WallClock {
        self.clock
    }

    pub(crate) fn send(&self, frame: &[u8]) -> Result<(), Error> {
        loop {
            match self.lab.tap.send(frame) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("writing to the TAP device", e)),
            }
        }
    }

    pub(crate) fn try_recv(&self) -> Option<Frame> {
        self.rx.try_recv().ok()
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn netns(&self) -> &Netns {
        &self.lab.netns
    }

    pub(crate) fn device(&self) -> &str {
        &self.lab.device
    }

    pub(crate) fn proc_net(&self, file: &str) -> Result<String, Error> {
        // The reader thread lives in the namespace: its view of /proc/net is the lab's.
        let path = format!("/proc/self/task/{}/net/{file}", self.reader_tid);
        fs::read_to_string(&path).map_err(|e| Error::io(path, e))
    }

    pub(crate) fn unapplied(&self) -> &[String] {
        &self.unapplied
    }

    pub(crate) fn flush_route_cache(&self) -> Result<(), Error> {
        ip(&["-n", self.lab.netns.name(), "route", "flush", "cache"])
    }

    /// Sets the lab to `cfg`'s sysctls, route options and MTU (its addresses stay); returns
    /// what the kernel refused.
    pub(crate) fn reconfigure(&mut self, cfg: &RawLabConfig) -> Result<Vec<String>, Error> {
        let mut unapplied = Vec::new();
        if let Err(e) = set_route(&self.lab, cfg) {
            unapplied.push(format!("route {}: {e}", cfg.route_options.join(" ")));
        }
        let (ns, dev) = (self.lab.netns.name(), self.lab.device.as_str());
        ip(&[
            "-n",
            ns,
            "link",
            "set",
            "dev",
            dev,
            "mtu",
            &cfg.mtu.to_string(),
        ])?;
        unapplied.extend(set_sysctls(&self.lab.netns, &cfg.sysctls)?);
        self.unapplied.clone_from(&unapplied);
        Ok(unapplied)
    }
}

fn set_route(lab: &Lab, cfg: &RawLabConfig) -> Result<(), Error> {
    if cfg.route_options.is_empty() {
        return Ok(());
    }
    let (ns, dev) = (lab.netns.name(), lab.device.as_str());
    let net = format!(
        "{}/{}",
        network(cfg.kernel_addr, cfg.prefix_len),
        cfg.prefix_len
    );
    let mut args: Vec<&str> = vec!["-n", ns, "route", "replace", &net, "dev", dev];
    args.extend(cfg.route_options.iter().map(String::as_str));
    ip(&args)
}

/// Writes `sysctls` in the namespace; returns those the kernel refused, with its error.
fn set_sysctls(netns: &Netns, sysctls: &[(String, String)]) -> Result<Vec<String>, Error> {
    let sysctls = sysctls.to_vec();
    netns.run(move || {
        let mut failed = Vec::new();
        for (key, value) in &sysctls {
            let path = format!("/proc/sys/{}", key.replace('.', "/"));
            if let Err(e) = fs::write(&path, value) {
                failed.push(format!("{key}={value}: {e}"));
            }
        }
        Ok(failed)
    })
}

impl Drop for RawLab {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
    }
}

fn network(addr: std::net::Ipv4Addr, prefix_len: u8) -> std::net::Ipv4Addr {
    let mask = u32::MAX
        .checked_shl(32 - u32::from(prefix_len.min(32)))
        .unwrap_or(0);
    std::net::Ipv4Addr::from(u32::from(addr) & mask)
}

fn read_frames(
    lab: &Lab,
    clock: WallClock,
    tx: &SyncSender<Frame>,
    stop: &AtomicBool,
    dropped: &AtomicU64,
) -> Result<(), Error> {
    let mut buf = vec![0u8; FRAME_BUF];
    while !stop.load(Ordering::SeqCst) {
        let mut fds = [PollFd::new(lab.tap.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(POLL_MS)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(NixErrno::EINTR) => continue,
            Err(e) => return Err(Error::io("waiting on the TAP device", io::Error::from(e))),
        }
        loop {
            let n = match lab.tap.recv(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("reading the TAP device", e)),
            };
            let frame = Frame {
                at: clock.now(),
                bytes: buf[..n].to_vec(),
            };
            match tx.try_send(frame) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    dropped.fetch_add(1, Ordering::Relaxed);
                }
                Err(TrySendError::Disconnected(_)) => return Ok(()),
            }
        }
    }
    Ok(())
}
