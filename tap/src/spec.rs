//! What a run is: the mode, the bytes each way, the loss, the lab's addresses.

use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

use sansnet_stack::wire::EthernetAddress;

use crate::Error;

/// Who serves, and what the server does with the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// sansnet serves and echoes; the kernel's client sends its stream and checks it comes
    /// back. sansnet checks the stream as it passes through.
    Echo,
    /// sansnet serves, checks the kernel client's stream and sends its own, both at once
    /// (a pure sink when it sends nothing, a pure source when it expects nothing).
    Sink,
    /// The kernel serves; sansnet connects, sends its stream and checks the kernel's.
    Client,
}

impl Mode {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Echo => "echo",
            Mode::Sink => "sink",
            Mode::Client => "client",
        }
    }

    /// Whether sansnet is the server.
    pub fn sansnet_serves(self) -> bool {
        !matches!(self, Mode::Client)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The lab's link: two addresses on one subnet, the kernel's on the TAP device in the
/// namespace, sansnet's on the host behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabConfig {
    /// The kernel's address (on the TAP device, in the namespace).
    pub kernel_addr: Ipv4Addr,
    /// sansnet's address.
    pub sansnet_addr: Ipv4Addr,
    /// The subnet's prefix length.
    pub prefix_len: u8,
    /// sansnet's MAC address.
    pub sansnet_mac: EthernetAddress,
    /// The link MTU (the TAP device's and sansnet's).
    pub mtu: usize,
}

impl Default for LabConfig {
    /// 198.18.0.1 (kernel) and 198.18.0.2 (sansnet) on a /24: RFC 2544's benchmarking range,
    /// only ever routed inside the lab's namespace. A locally administered MAC. MTU 1500.
    fn default() -> LabConfig {
        LabConfig {
            kernel_addr: Ipv4Addr::new(198, 18, 0, 1),
            sansnet_addr: Ipv4Addr::new(198, 18, 0, 2),
            prefix_len: 24,
            sansnet_mac: EthernetAddress([0x02, 0x53, 0x4e, 0x00, 0x00, 0x02]),
            mtu: 1500,
        }
    }
}

/// One run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Who serves.
    pub mode: Mode,
    /// Bytes sansnet sends (in echo mode, what it echoes: equal to `sansnet_receives`).
    pub sansnet_sends: u64,
    /// Bytes sansnet receives (the kernel sends).
    pub sansnet_receives: u64,
    /// The server's port.
    pub port: u16,
    /// Percentage of frames from the kernel dropped before the host sees them.
    pub loss_in_percent: f64,
    /// Percentage of the host's frames dropped before they reach the kernel.
    pub loss_out_percent: f64,
    /// Seeds the loss injector, the host's secret and the streams' patterns.
    pub seed: u64,
    /// The run fails with [`Error::Timeout`] past this.
    pub timeout: Duration,
    /// No built-in kernel peer: sansnet serves whoever connects from the namespace (`ip
    /// netns exec <ns> nc ...`) until cancelled or `serve_for` has passed, echoing or
    /// discarding without checks. Server modes only.
    pub external_peer: bool,
    /// With `external_peer`: how long to serve (`None`: until cancelled).
    pub serve_for: Option<Duration>,
    /// The lab's addresses.
    pub lab: LabConfig,
}

impl RunSpec {
    /// `bytes` each way in `mode`, no loss, seed 1, port 7 (echo) or 9 (sink, client), a
    /// 120 s limit.
    pub fn new(mode: Mode, bytes: u64) -> RunSpec {
        RunSpec {
            mode,
            sansnet_sends: bytes,
            sansnet_receives: bytes,
            port: match mode {
                Mode::Echo => 7,
                Mode::Sink | Mode::Client => 9,
            },
            loss_in_percent: 0.0,
            loss_out_percent: 0.0,
            seed: 1,
            timeout: Duration::from_secs(120),
            external_peer: false,
            serve_for: None,
            lab: LabConfig::default(),
        }
    }

    /// The same loss both ways.
    pub fn with_loss(mut self, percent: f64) -> RunSpec {
        self.loss_in_percent = percent;
        self.loss_out_percent = percent;
        self
    }

    /// Checks what can be checked before a lab is built.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |m: String| Err(Error::InvalidSpec(m));
        for (name, p) in [
            ("inbound loss", self.loss_in_percent),
            ("outbound loss", self.loss_out_percent),
        ] {
            if !p.is_finite() || !(0.0..=100.0).contains(&p) {
                return bad(format!("{name} is a percentage from 0 to 100, not {p}"));
            }
        }
        if self.port == 0 {
            return bad("the port cannot be 0".into());
        }
        if self.timeout.is_zero() {
            return bad("the time limit cannot be zero".into());
        }
        if self.mode == Mode::Echo && self.sansnet_sends != self.sansnet_receives {
            return bad(format!(
                "an echo server sends back what it receives: {} bytes cannot come back as {}",
                self.sansnet_receives, self.sansnet_sends
            ));
        }
        if self.external_peer && !self.mode.sansnet_serves() {
            return bad("an external peer needs a sansnet server (echo or sink)".into());
        }
        let lab = &self.lab;
        if !(1..=30).contains(&lab.prefix_len) {
            return bad(format!(
                "the lab's prefix length must leave room for two hosts, not /{}",
                lab.prefix_len
            ));
        }
        let mask = u32::MAX << (32 - u32::from(lab.prefix_len));
        let (k, s) = (u32::from(lab.kernel_addr), u32::from(lab.sansnet_addr));
        if k == s || k & mask != s & mask {
            return bad(format!(
                "the kernel's {} and sansnet's {} must be two addresses of one /{} subnet",
                lab.kernel_addr, lab.sansnet_addr, lab.prefix_len
            ));
        }
        for addr in [lab.kernel_addr, lab.sansnet_addr] {
            if addr.is_loopback()
                || addr.is_multicast()
                || addr.is_broadcast()
                || addr.is_unspecified()
            {
                return bad(format!("{addr} cannot be a lab address"));
            }
        }
        if !lab.sansnet_mac.is_unicast() {
            return bad("sansnet's MAC address must be unicast".into());
        }
        if !(576..=9000).contains(&lab.mtu) {
            return bad(format!("an MTU from 576 to 9000, not {}", lab.mtu));
        }
        Ok(())
    }
}

/// Parses a byte count: a number with an optional binary unit (`10MiB`, `10M`, `512k`,
/// `1GiB`, `4096`, `0`).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(format!(
            "`{s}` is not a byte count (try 10MiB, 512k or 4096)"
        ));
    }
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is too large a byte count"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => 1 << 10,
        "m" | "mib" | "mb" => 1 << 20,
        "g" | "gib" | "gb" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{s}` (units are binary: k/KiB, M/MiB, G/GiB)"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large a byte count"))
}

/// Parses a duration: a number with a unit (`500ms`, `90s`, `2m`, `1h`; a bare number is
/// seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(format!("`{s}` is not a duration (try 500ms, 90s, 2m)"));
    }
    let n: u64 = num.parse().map_err(|_| format!("`{s}` is too long"))?;
    let d = match unit {
        "" | "s" => n.checked_mul(1000),
        "ms" => Some(n),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        other => return Err(format!("unknown unit `{other}` in `{s}` (ms, s, m, h)")),
    };
    d.map(Duration::from_millis)
        .ok_or_else(|| format!("`{s}` is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts() {
        assert_eq!(parse_bytes("10MiB"), Ok(10 << 20));
        assert_eq!(parse_bytes("10M"), Ok(10 << 20));
        assert_eq!(parse_bytes("512k"), Ok(512 << 10));
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert_eq!(parse_bytes("0"), Ok(0));
        for bad in [
            "",
            "MiB",
            "10 parsecs",
            "-1",
            "1.5M",
            "99999999999999999999",
            "99999999999G",
        ] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["", "s", "1d", "1.5s", "-1s", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn specs_are_checked() {
        assert!(RunSpec::new(Mode::Sink, 1).validate().is_ok());
        let mut s = RunSpec::new(Mode::Echo, 100);
        s.sansnet_sends = 50;
        assert!(matches!(s.validate(), Err(Error::InvalidSpec(_))));
        let s = RunSpec::new(Mode::Client, 1).with_loss(101.0);
        assert!(s.validate().is_err());
        let mut s = RunSpec::new(Mode::Client, 1);
        s.external_peer = true;
        assert!(s.validate().is_err());
        let mut s = RunSpec::new(Mode::Sink, 1);
        s.lab.sansnet_addr = Ipv4Addr::new(198, 19, 0, 2);
        assert!(s.validate().is_err());
        let mut s = RunSpec::new(Mode::Sink, 1);
        s.lab.sansnet_addr = s.lab.kernel_addr;
        assert!(s.validate().is_err());
        let mut s = RunSpec::new(Mode::Sink, 1);
        s.port = 0;
        assert!(s.validate().is_err());
        let mut s = RunSpec::new(Mode::Sink, 1);
        s.lab.mtu = 100;
        assert!(s.validate().is_err());
    }
}
