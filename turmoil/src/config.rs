//! What a [`Bridge`](crate::Bridge) is made of: its seed, its UDP port and group, the extra
//! faults it draws per frame, whether it captures, and the stack's own configuration.

use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

use sansnet_stack::iface::Limits;
use sansnet_stack::tcp;

/// The UDP port every bridge sends its frames to and receives them on (VXLAN's, since the
/// bridge too carries Ethernet frames in UDP). Code in the simulation must leave it free.
pub const DEFAULT_PORT: u16 = 4789;

/// The turmoil multicast group that stands for Ethernet broadcast (ARP requests): every
/// bridge joins it, so a broadcast frame reaches every host that runs one.
pub const DEFAULT_GROUP: Ipv4Addr = Ipv4Addr::new(239, 83, 78, 84);

/// The configuration of a [`Bridge`](crate::Bridge): the same for every host of a simulation.
///
/// Built by chaining, and checked by [`Bridge::new`](crate::Bridge::new):
///
/// ```
/// let config = sansnet_turmoil::Config::new()
///     .seed(7)
///     .loss(0.01)
///     .reorder(0.02, std::time::Duration::from_millis(20))
///     .capture(true);
/// let bridge = sansnet_turmoil::Bridge::new(config).unwrap();
/// # drop(bridge);
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) seed: u64,
    pub(crate) port: u16,
    pub(crate) group: Ipv4Addr,
    pub(crate) loss: f64,
    pub(crate) corrupt: f64,
    pub(crate) reorder: f64,
    pub(crate) reorder_delay: Duration,
    pub(crate) capture: bool,
    pub(crate) tcp: tcp::Config,
    pub(crate) limits: Limits,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            seed: 0,
            port: DEFAULT_PORT,
            group: DEFAULT_GROUP,
            loss: 0.0,
            corrupt: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(20),
            capture: false,
            tcp: tcp::Config::default(),
            limits: Limits::default(),
        }
    }
}

impl Config {
    /// Seed 0, port [`DEFAULT_PORT`], group [`DEFAULT_GROUP`], no extra faults, no capture,
    /// the stack's defaults.
    pub fn new() -> Config {
        Config::default()
    }

    /// The seed of everything the bridge draws: each host's extra faults and its stack's
    /// secret (ISNs, ephemeral ports). turmoil keeps its own generator to itself, so pass
    /// the seed given to `turmoil::Builder::rng_seed` here too: one number then replays
    /// the whole run.
    pub fn seed(mut self, seed: u64) -> Config {
        self.seed = seed;
        self
    }

    /// The UDP port the bridge uses on every host (default [`DEFAULT_PORT`]).
    pub fn port(mut self, port: u16) -> Config {
        self.port = port;
        self
    }

    /// The turmoil multicast group that carries broadcast frames (default
    /// [`DEFAULT_GROUP`]); must be an IPv4 multicast address.
    pub fn group(mut self, group: Ipv4Addr) -> Config {
        self.group = group;
        self
    }

    /// Drops each arriving frame with probability `rate`, on top of what turmoil loses.
    pub fn loss(mut self, rate: f64) -> Config {
        self.loss = rate;
        self
    }

    /// Flips one bit of each arriving frame with probability `rate` (the stack's checksums
    /// must catch it).
    pub fn corrupt(mut self, rate: f64) -> Config {
        self.corrupt = rate;
        self
    }

    /// Holds each arriving frame with probability `rate` for a delay drawn uniformly up to
    /// `max_delay`, so that frames behind it overtake it.
    pub fn reorder(mut self, rate: f64, max_delay: Duration) -> Config {
        self.reorder = rate;
        self.reorder_delay = max_delay;
        self
    }

    /// Records every frame each host's stack sends and receives, one pcapng per host
    /// ([`Bridge::pcapng`](crate::Bridge::pcapng)).
    pub fn capture(mut self, on: bool) -> Config {
        self.capture = on;
        self
    }

    /// The template of every TCP connection of every host (buffer sizes, timers,
    /// congestion control).
    pub fn tcp(mut self, tcp: tcp::Config) -> Config {
        self.tcp = tcp;
        self
    }

    /// The bounds and host timers of every host's stack (ARP retries among them).
    pub fn limits(mut self, limits: Limits) -> Config {
        self.limits = limits;
        self
    }

    /// Checks every value, naming the first one out of range.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        for (what, rate) in [
            ("loss", self.loss),
            ("corrupt", self.corrupt),
            ("reorder", self.reorder),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(ConfigError::Rate { what, rate });
            }
        }
        if self.port == 0 {
            return Err(ConfigError::Port);
        }
        if !self.group.is_multicast() {
            return Err(ConfigError::Group(self.group));
        }
        if self.reorder > 0.0 && self.reorder_delay.is_zero() {
            return Err(ConfigError::ReorderDelay);
        }
        Ok(())
    }
}

/// A [`Config`] value out of range.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigError {
    /// A probability outside 0..=1 (or NaN).
    Rate {
        /// Which one (`loss`, `corrupt`, `reorder`).
        what: &'static str,
        /// The value given.
        rate: f64,
    },
    /// Port 0: every host must know the port its peers listen on.
    Port,
    /// A group that is not an IPv4 multicast address.
    Group(Ipv4Addr),
    /// Reordering with a zero delay would reorder nothing.
    ReorderDelay,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Rate { what, rate } => {
                write!(f, "{what} rate {rate} is not a probability (0 to 1)")
            }
            ConfigError::Port => f.write_str("the bridge port cannot be 0"),
            ConfigError::Group(g) => write!(f, "{g} is not an IPv4 multicast group"),
            ConfigError::ReorderDelay => f.write_str("a reorder rate needs a non-zero delay"),
        }
    }
}

impl std::error::Error for ConfigError {}
