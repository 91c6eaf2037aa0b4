//! A lab for a raw peer: a network namespace whose kernel is the TCP under test, joined to
//! this process by a TAP device on which the caller writes and reads whole Ethernet frames
//! as the peer (`sansnet conformance --stack linux` plays the conformance scripts this way).
//!
//! Outside any simulation: the frames the kernel sends are stamped with a [`WallClock`] by
//! a reader thread inside the namespace. Sockets the caller creates inside the namespace
//! ([`RawLab::in_namespace`]) are the kernel's, whichever thread uses them later.

use std::net::Ipv4Addr;

use sansnet_stack::time::Instant;

use crate::{Error, WallClock};

/// How to build a raw lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLabConfig {
    /// The kernel's address, on the TAP device in the namespace.
    pub kernel_addr: Ipv4Addr,
    /// The kernel's MAC address (set on the device, so the peer knows it).
    pub kernel_mac: [u8; 6],
    /// The peer's address (a permanent neighbour entry: the kernel sends no ARP).
    pub peer_addr: Ipv4Addr,
    /// The peer's MAC address.
    pub peer_mac: [u8; 6],
    /// The subnet's prefix length.
    pub prefix_len: u8,
    /// The device's MTU.
    pub mtu: usize,
    /// Sysctls to write in the namespace (`net.ipv4.tcp_sack`, `0`); those the kernel
    /// refuses are listed by [`RawLab::unapplied`].
    pub sysctls: Vec<(String, String)>,
    /// Options of the subnet's route (`rto_min`, `1000ms`, `initcwnd`, `10` ...), as
    /// `ip route` takes them.
    pub route_options: Vec<String>,
}

/// A frame the kernel sent, and when it was read off the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The lab clock's time when the reader took it.
    pub at: Instant,
    /// The Ethernet frame.
    pub bytes: Vec<u8>,
}

/// A raw lab, up. Dropping it removes the device and the namespace.
#[derive(Debug)]
pub struct RawLab {
    #[cfg(target_os = "linux")]
    inner: crate::linux::raw::RawLab,
}

impl RawLab {
    /// Builds the lab: namespace, TAP device with `kernel_addr` and `kernel_mac`, the
    /// peer's neighbour entry, the route options and the sysctls; then starts the reader.
    pub fn create(cfg: &RawLabConfig, clock: WallClock) -> Result<RawLab, Error> {
        #[cfg(target_os = "linux")]
        {
            Ok(RawLab {
                inner: crate::linux::raw::RawLab::create(cfg, clock)?,
            })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (cfg, clock);
            Err(Error::Unsupported {
                os: std::env::consts::OS,
            })
        }
    }

    /// The lab's clock (what the frames are stamped with).
    pub fn clock(&self) -> WallClock {
        #[cfg(target_os = "linux")]
        {
            self.inner.clock()
        }
        #[cfg(not(target_os = "linux"))]
        {
            unreachable_lab()
        }
    }

    /// Writes one Ethernet frame to the kernel.
    pub fn send(&self, frame: &[u8]) -> Result<(), Error> {
        #[cfg(target_os = "linux")]
        {
            self.inner.send(frame)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = frame;
            unreachable_lab()
        }
    }

    /// The next frame the kernel sent, if one is waiting.
    pub fn try_recv(&self) -> Option<Frame> {
        #[cfg(target_os = "linux")]
        {
            self.inner.try_recv()
        }
        #[cfg(not(target_os = "linux"))]
        {
            unreachable_lab()
        }
    }

    /// Frames dropped because the caller read none for too long.
    pub fn dropped(&self) -> u64 {
        #[cfg(target_os = "linux")]
        {
            self.inner.dropped()
        }
        #[cfg(not(target_os = "linux"))]
        {
            unreachable_lab()
        }
    }

    /// Runs `f` on a thread inside the namespace and waits for it: sockets it creates are
    /// the namespace's kernel's.
    pub fn in_namespace<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, Error> + Send + 'static,
    {
        #[cfg(target_os = "linux")]
        {
            self.inner.netns().run(f)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = f;
            unreachable_lab()
        }
    }

    /// A file of the namespace's `/proc/net` (`tcp`, `snmp`, `netstat`).
    pub fn proc_net(&self, file: &str) -> Result<String, Error> {
        #[cfg(target_os = "linux")]
        {
            self.inner.proc_net(file)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = file;
            unreachable_lab()
        }
    }

    /// The TAP device's name (in the namespace).
    pub fn device(&self) -> &str {
        #[cfg(target_os = "linux")]
        {
            self.inner.device()
        }
        #[cfg(not(target_os = "linux"))]
        {
            unreachable_lab()
        }
    }

    /// Sets the lab to `cfg`'s sysctls, route options and MTU, for the next use of a lab
    /// kept from one run to the next (building one takes a fifth of a second of `ip`
    /// commands that hold the kernel's locks); returns what the kernel refused. Its
    /// addresses are the ones it was built with.
    pub fn reconfigure(&mut self, cfg: &RawLabConfig) -> Result<Vec<String>, Error> {
        #[cfg(target_os = "linux")]
        {
            self.inner.reconfigure(cfg)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = cfg;
            unreachable_lab()
        }
    }

    /// Empties the namespace's route cache (path MTUs learned from ICMP, among others).
    pub fn flush_route_cache(&self) -> Result<(), Error> {
        #[cfg(target_os = "linux")]
        {
            self.inner.flush_route_cache()
        }
        #[cfg(not(target_os = "linux"))]
        {
            unreachable_lab()
        }
    }

    /// The sysctls and route options the kernel refused, with its error.
    pub fn unapplied(&self) -> &[String] {
        #[cfg(target_os = "linux")]
        {
            self.inner.unapplied()
        }
        #[cfg(not(target_os = "linux"))]
        {
            unreachable_lab()
        }
    }
}

/// No `RawLab` exists off Linux: `create` is the only way to one, and it fails there.
#[cfg(not(target_os = "linux"))]
fn unreachable_lab() -> ! {
    unreachable!("a RawLab cannot be created off Linux")
}
