//! The user's handle: which configuration the hosts' stacks start with, and what they
//! recorded (counters, captures).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::rc::Rc;

use sansnet_sim::pcapng::{Direction, PcapngWriter};
use sansnet_stack::time::Instant;
use sansnet_stack::wire::EthernetAddress;

use crate::config::{Config, ConfigError};

/// One bridge for one turmoil simulation: the configuration every host's stack starts
/// with, and what those stacks recorded.
///
/// A host's stack starts on its first socket call (or [`install`](crate::install)) with
/// the configuration of the bridge [entered](Bridge::enter) on the thread at that moment,
/// or the default configuration when none is. [`Bridge::run`] enters it around
/// `sim.run()`:
///
/// ```no_run
/// let bridge = sansnet_turmoil::Bridge::new(sansnet_turmoil::Config::new().seed(7)).unwrap();
/// let mut sim = turmoil::Builder::new().rng_seed(7).build();
/// // sim.host(..), sim.client(..) with sansnet_turmoil::net
/// bridge.run(&mut sim).unwrap();
/// ```
///
/// Use one bridge per simulation: a second simulation on the same bridge adds to the same
/// counters and captures. Cloning gives another handle to the same bridge.
#[derive(Clone)]
pub struct Bridge {
    inner: Rc<Inner>,
}

struct Inner {
    config: Config,
    hosts: RefCell<BTreeMap<Ipv4Addr, Rc<HostRecord>>>,
}

impl fmt::Debug for Bridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bridge")
            .field("config", &self.inner.config)
            .field("hosts", &self.inner.hosts.borrow().len())
            .finish()
    }
}

thread_local! {
    /// Bridges entered on this thread, innermost last.
    static ENTERED: RefCell<Vec<Bridge>> = const { RefCell::new(Vec::new()) };
    /// The bridge of stacks that start with none entered.
    static DEFAULT: Bridge = Bridge::with_valid(Config::default());
}

impl Bridge {
    /// A bridge with `config`, if every value in it is in range.
    pub fn new(config: Config) -> Result<Bridge, ConfigError> {
        config.validate()?;
        Ok(Bridge::with_valid(config))
    }

    fn with_valid(config: Config) -> Bridge {
        Bridge {
            inner: Rc::new(Inner {
                config,
                hosts: RefCell::new(BTreeMap::new()),
            }),
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Makes this the bridge that stacks starting on this thread take their configuration
    /// from, until the guard is dropped (for code that steps a simulation itself:
    /// `sim.step()`, `sim.crash()`, `sim.bounce()` between steps).
    pub fn enter(&self) -> EnterGuard {
        ENTERED.with(|e| e.borrow_mut().push(self.clone()));
        EnterGuard {
            _not_send: Rc::new(()),
        }
    }

    /// Runs `sim` to the end with this bridge entered: `sim.run()` for bridged hosts.
    pub fn run(&self, sim: &mut turmoil::Sim<'_>) -> turmoil::Result {
        let _entered = self.enter();
        sim.run()
    }

    /// The bridge a stack starting now belongs to.
    pub(crate) fn current() -> Bridge {
        ENTERED
            .with(|e| e.borrow().last().cloned())
            .unwrap_or_else(|| DEFAULT.with(Bridge::clone))
    }

    /// The record of the host at `ip`, made on its first stack.
    pub(crate) fn record(&self, ip: Ipv4Addr, name: &str, mac: EthernetAddress) -> Rc<HostRecord> {
        let mut hosts = self.inner.hosts.borrow_mut();
        let record = hosts
            .entry(ip)
            .or_insert_with(|| Rc::new(HostRecord::new(ip, name, mac, self.inner.config.capture)));
        record.starts.set(record.starts.get() + 1);
        record.clone()
    }

    /// Every host a stack ran on, in address order.
    pub fn hosts(&self) -> Vec<HostInfo> {
        self.inner
            .hosts
            .borrow()
            .values()
            .map(|r| r.info())
            .collect()
    }

    /// The host named `host` (its turmoil name, or its address written out).
    pub fn host(&self, host: &str) -> Option<HostInfo> {
        self.find(host).map(|r| r.info())
    }

    /// The pcapng of every frame the stack of `host` (a turmoil name or an address) sent
    /// and received, as far as the run got: one interface named after the host, outbound
    /// and inbound flagged, simulated nanoseconds since the start of the simulation, and
    /// frames the bridge dropped, corrupted or held back marked with a comment. `None` for
    /// an unknown host, or when [`Config::capture`] is off.
    pub fn pcapng(&self, host: &str) -> Option<Vec<u8>> {
        let record = self.find(host)?;
        let capture = record.capture.borrow();
        capture.as_ref().map(|c| c.bytes.borrow().clone())
    }

    fn find(&self, host: &str) -> Option<Rc<HostRecord>> {
        let hosts = self.inner.hosts.borrow();
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            return hosts.get(&ip).cloned();
        }
        hosts.values().find(|r| r.name == host).cloned()
    }
}

/// Keeps a [`Bridge`] entered on this thread ([`Bridge::enter`]).
#[derive(Debug)]
#[must_use = "the bridge is entered only while the guard lives"]
pub struct EnterGuard {
    /// The guard belongs to the thread whose list it pushed onto.
    _not_send: Rc<()>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let _gone_at_thread_exit = ENTERED.try_with(|e| e.borrow_mut().pop());
    }
}

/// What a bridge knows of one host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostInfo {
    /// The host's turmoil name (its address when it has none).
    pub name: String,
    /// Its address: the turmoil host's, given to its stack's one interface.
    pub addr: Ipv4Addr,
    /// Its stack's MAC address, derived from the address (`02:73:` and the four bytes).
    pub mac: EthernetAddress,
    /// What its bridge counted, over every run of the host.
    pub stats: Stats,
}

/// What the bridge of one host counted, summed over every time its stack started (a
/// `bounce` starts a new stack).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Times a stack started on the host.
    pub starts: u32,
    /// Frames the stack sent that the bridge handed to turmoil.
    pub frames_sent: u64,
    /// Frames turmoil refused (no link to the destination).
    pub send_errors: u64,
    /// Frames to a MAC address that names no turmoil host (a damaged ARP reply can teach
    /// one): dropped, as a switch with no port for it would.
    pub undeliverable: u64,
    /// Frames that arrived from turmoil.
    pub frames_received: u64,
    /// Arriving frames the bridge dropped ([`Config::loss`]).
    pub lost: u64,
    /// Arriving frames the bridge flipped a bit of ([`Config::corrupt`]).
    pub corrupted: u64,
    /// Arriving frames the bridge held back ([`Config::reorder`]).
    pub reordered: u64,
}

/// The bridge's record of one host, shared by the host's stacks (one per start).
pub(crate) struct HostRecord {
    name: String,
    ip: Ipv4Addr,
    mac: EthernetAddress,
    starts: Cell<u32>,
    pub(crate) stats: RefCell<Stats>,
    capture: RefCell<Option<Capture>>,
}

impl HostRecord {
    fn new(ip: Ipv4Addr, name: &str, mac: EthernetAddress, capture: bool) -> HostRecord {
        HostRecord {
            name: name.to_owned(),
            ip,
            mac,
            starts: Cell::new(0),
            stats: RefCell::new(Stats::default()),
            capture: RefCell::new(capture.then(|| Capture::new(name, ip, mac)).flatten()),
        }
    }

    fn info(&self) -> HostInfo {
        HostInfo {
            name: self.name.clone(),
            addr: self.ip,
            mac: self.mac,
            stats: Stats {
                starts: self.starts.get(),
                ..*self.stats.borrow()
            },
        }
    }

    /// Counts with `f`.
    pub(crate) fn count(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut self.stats.borrow_mut());
    }

    /// Whether frames are captured (so callers can skip building comments).
    pub(crate) fn capturing(&self) -> bool {
        self.capture.borrow().is_some()
    }

    /// Records `frame` at `at`. A capture that cannot be written (it only grows a `Vec`)
    /// is switched off rather than failing the host.
    pub(crate) fn capture(
        &self,
        at: Instant,
        frame: &[u8],
        direction: Direction,
        comment: Option<&str>,
    ) {
        let mut capture = self.capture.borrow_mut();
        let failed = match capture.as_mut() {
            Some(c) => c
                .writer
                .write_packet_with_comment(0, at, frame, direction, comment)
                .is_err(),
            None => false,
        };
        if failed {
            *capture = None;
        }
    }
}

/// A pcapng being written into memory.
struct Capture {
    writer: PcapngWriter<SharedBytes>,
    bytes: Rc<RefCell<Vec<u8>>>,
}

impl Capture {
    fn new(name: &str, ip: Ipv4Addr, mac: EthernetAddress) -> Option<Capture> {
        let bytes = Rc::new(RefCell::new(Vec::new()));
        let mut writer = PcapngWriter::new(SharedBytes(bytes.clone())).ok()?;
        let description = format!("sansnet stack of turmoil host {name}: {ip}, {mac}");
        writer.add_interface(name, Some(&description)).ok()?;
        Some(Capture { writer, bytes })
    }
}

/// A `Vec` the writer appends to and the bridge reads from.
struct SharedBytes(Rc<RefCell<Vec<u8>>>);

impl Write for SharedBytes {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
