//! The lab: a network namespace for the kernel side and a TAP device joining it to this
//! process, each removed by a guard.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::{self, JoinHandle};

use nix::sched::{setns, CloneFlags};
use tappers::linux::Tap;
use tappers::Interface;

use crate::{Error, LabConfig, Privileges};

/// Every lab namespace is called `sntap-<pid>-<n>`.
const NETNS_PREFIX: &str = "sntap-";
/// Where `ip netns` keeps named namespaces.
const NETNS_DIR: &str = "/run/netns";

const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;

/// Labs built by this process so far (the `<n>` of the names).
static LABS: AtomicU32 = AtomicU32::new(0);

fn status_field<'a>(status: &'a str, name: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map(str::trim)
}

pub(crate) fn check_privileges() -> Result<Privileges, Error> {
    let status = fs::read_to_string("/proc/self/status")
        .map_err(|e| Error::io("reading /proc/self/status", e))?;
    let euid = status_field(&status, "Uid:")
        .and_then(|v| v.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            Error::io(
                "reading /proc/self/status",
                io::ErrorKind::InvalidData.into(),
            )
        })?;
    let caps = status_field(&status, "CapEff:")
        .and_then(|v| u64::from_str_radix(v, 16).ok())
        .ok_or_else(|| {
            Error::io(
                "reading /proc/self/status",
                io::ErrorKind::InvalidData.into(),
            )
        })?;
    let mut missing = Vec::new();
    if caps & (1 << CAP_NET_ADMIN) == 0 {
        missing.push("CAP_NET_ADMIN (TAP devices, links, addresses)".to_string());
    }
    if caps & (1 << CAP_SYS_ADMIN) == 0 {
        missing.push("CAP_SYS_ADMIN (network namespaces)".to_string());
    }
    if !Path::new("/dev/net/tun").exists() {
        missing.push("/dev/net/tun (the tun module)".to_string());
    }
    if !missing.is_empty() {
        return Err(Error::NotPermitted { euid, missing });
    }
    Command::new("ip")
        .arg("-V")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::ToolMissing { tool: "ip", source })?;
    Ok(Privileges {
        euid,
        effective_caps: caps,
    })
}

/// Runs `ip` with `args`; a failure is an error with its stderr.
pub(crate) fn ip(args: &[&str]) -> Result<(), Error> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::ToolMissing { tool: "ip", source })?;
    if out.status.success() {
        return Ok(());
    }
    Err(Error::Command {
        command: format!("ip {}", args.join(" ")),
        status: out.status.to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

/// The pid in a lab namespace's name.
fn owner_pid(name: &str) -> Option<u32> {
    name.strip_prefix(NETNS_PREFIX)?
        .split('-')
        .next()?
        .parse()
        .ok()
}

pub(crate) fn cleanup_stale() -> Result<Vec<String>, Error> {
    let entries = match fs::read_dir(NETNS_DIR) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("listing {NETNS_DIR}"), e)),
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| {
            owner_pid(name).is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
        })
        .collect();
    names.sort();
    for name in &names {
        ip(&["netns", "del", name])?;
    }
    Ok(names)
}

/// A named network namespace, deleted when dropped.
#[derive(Debug)]
pub(crate) struct Netns {
    name: String,
}

impl Netns {
    fn create(name: String) -> Result<Netns, Error> {
        ip(&["netns", "add", &name])?;
        Ok(Netns { name })
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    fn path(&self) -> PathBuf {
        Path::new(NETNS_DIR).join(&self.name)
    }

    /// Runs `f` on a new thread inside the namespace: sockets it creates belong to the
    /// namespace (and stay there whichever thread uses them later).
    pub(crate) fn spawn<T, F>(
        &self,
        thread_name: &str,
        f: F,
    ) -> Result<JoinHandle<Result<T, Error>>, Error>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, Error> + Send + 'static,
    {
        // Opened here, so that the thread enters this namespace even if it is deleted
        // before the thread runs.
        let ns = File::open(self.path())
            .map_err(|e| Error::io(format!("opening namespace {}", self.name), e))?;
        let name = self.name.clone();
        thread::Builder::new()
            .name(thread_name.to_string())
            .spawn(move || {
                setns(&ns, CloneFlags::CLONE_NEWNET).map_err(|e| {
                    Error::io(format!("entering namespace {name}"), io::Error::from(e))
                })?;
                drop(ns);
                f()
            })
            .map_err(|e| Error::io("starting a thread", e))
    }

    /// Runs `f` inside the namespace and waits for it.
    pub(crate) fn run<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, Error> + Send + 'static,
    {
        self.spawn("sansnet-tap-ns", f)?
            .join()
            .map_err(|p| Error::KernelPanicked(panic_message(&*p)))?
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = ip(&["netns", "del", &self.name]) {
            eprintln!(
                "sansnet-tap: could not remove network namespace {}: {e}",
                self.name
            );
        }
    }
}

pub(crate) fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(not a string)".to_string()
    }
}

/// A namespace and a TAP device in it, addressed and up.
///
/// Dropping it closes the TAP descriptor first (a TAP device that is not persistent goes
/// with its last descriptor), then deletes the namespace. The device also goes if this
/// process dies in any way; the namespace outlives a SIGKILL and is then removed by
/// [`cleanup_stale`], which every new lab runs first.
pub(crate) struct Lab {
    // Field order is drop order: the device before the namespace.
    pub(crate) tap: Tap,
    pub(crate) device: String,
    pub(crate) netns: Netns,
}

impl std::fmt::Debug for Lab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lab")
            .field("device", &self.device)
            .field("netns", &self.netns)
            .finish_non_exhaustive()
    }
}

impl Lab {
    pub(crate) fn create(cfg: &LabConfig) -> Result<Lab, Error> {
        check_privileges()?;
        // A lab of a process that was killed outright leaves its namespace behind.
        if let Err(e) = cleanup_stale() {
            eprintln!("sansnet-tap: could not remove stale lab namespaces: {e}");
        }
        let n = LABS.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let netns = Netns::create(format!("{NETNS_PREFIX}{pid}-{n}"))?;
        // At most 15 bytes: "snt" + pid (at most 6 hex digits, pid_max is 2^22) + "x" + n.
        let device = format!("snt{pid:x}x{n:x}");
        let iface = Interface::new(&device)
            .map_err(|e| Error::io(format!("naming TAP device {device}"), e))?;
        let tap = Tap::new_named(iface)
            .map_err(|e| Error::io(format!("creating TAP device {device}"), e))?;
        tap.set_nonblocking(true)
            .map_err(|e| Error::io(format!("making TAP device {device} non-blocking"), e))?;
        let lab = Lab { tap, device, netns };
        lab.configure(cfg)?;
        Ok(lab)
    }

    fn configure(&self, cfg: &LabConfig) -> Result<(), Error> {
        let (ns, dev) = (self.netns.name(), self.device.as_str());
        ip(&["link", "set", "dev", dev, "netns", ns])?;
        ip(&["-n", ns, "link", "set", "dev", "lo", "up"])?;
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
        // IPv6 off on the device before it is up, so that the kernel's router and neighbour
        // solicitations do not fill the host's drop counters (the host speaks IPv4 only).
        // Best effort: a kernel without IPv6 has no such file.
        let path = format!("/proc/sys/net/ipv6/conf/{dev}/disable_ipv6");
        let _ = self
            .netns
            .run(move || fs::write(&path, "1").map_err(|e| Error::io(path.clone(), e)));
        let addr = format!("{}/{}", cfg.kernel_addr, cfg.prefix_len);
        ip(&["-n", ns, "addr", "add", &addr, "dev", dev])?;
        ip(&["-n", ns, "link", "set", "dev", dev, "up"])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_read_from_names() {
        assert_eq!(owner_pid("sntap-1234-0"), Some(1234));
        assert_eq!(owner_pid("sntap-1234-17"), Some(1234));
        assert_eq!(owner_pid("sntap-x-0"), None);
        assert_eq!(owner_pid("other-1234-0"), None);
    }

    #[test]
    fn status_fields() {
        let s = "Name:\tx\nUid:\t0\t5\t0\t0\nCapEff:\t000001fffeffffff\n";
        assert_eq!(status_field(s, "Uid:"), Some("0\t5\t0\t0"));
        assert_eq!(status_field(s, "CapEff:"), Some("000001fffeffffff"));
        assert_eq!(status_field(s, "CapPrm:"), None);
    }
}
