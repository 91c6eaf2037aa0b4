//! sansnet's TCP for code inside [turmoil](https://docs.rs/turmoil) hosts, over turmoil's
//! network.
//!
//! turmoil's own TCP is a reliable message queue with no retransmission: one lost segment
//! (`fail_rate`, a partition) hangs its connection for good. This crate gives every
//! turmoil host that asks a real TCP/IP stack instead, sansnet's, and carries the stack's
//! Ethernet frames between hosts as turmoil UDP datagrams, so that turmoil's `fail_rate`,
//! latency, partitions, holds, crashes and bounces act on them and TCP recovers from what
//! they do. A test switches one import:
//!
//! ```diff
//! -use turmoil::net::{TcpListener, TcpStream};
//! +use sansnet_turmoil::net::{TcpListener, TcpStream};
//! ```
//!
//! # How it works
//!
//! - **One stack per turmoil host**, started by the host's first socket call (or by
//!   [`install`]) and driven by a task on that host's tokio runtime. A `bounce` starts a
//!   fresh stack (a reboot: the old connections' peers get RSTs); a `crash` takes the
//!   stack away with the host's tasks, without a FIN or RST leaving.
//! - **Frames are turmoil datagrams** on one UDP port ([`Config::port`], 4789 by default),
//!   one frame each. A unicast frame goes to the host its destination MAC names: a
//!   stack's MAC is `02:73` followed by its IPv4 address, which is the turmoil host's
//!   own. Broadcasts (ARP) go to a turmoil multicast group every bridge joins.
//! - **Time is turmoil's**: the stack reads `turmoil::sim_elapsed()`, and its timers are
//!   `tokio::time` sleeps on the host's paused runtime, so they fire on turmoil's ticks.
//! - **Randomness is seeded.** turmoil does not hand its generator to host code, so the
//!   bridge's own draws (the extra faults below, each stack's ISN secret) come from
//!   [`Config::seed`]; give it the seed given to `turmoil::Builder::rng_seed`, and one
//!   number replays the run.
//! - **Extra faults**: on top of turmoil's, the bridge can lose, corrupt or hold back
//!   (reorder) each arriving frame ([`Config::loss`], [`Config::corrupt`],
//!   [`Config::reorder`]).
//! - **Captures**: with [`Config::capture`], every frame each stack sent or received is
//!   written to a pcapng per host ([`Bridge::pcapng`]) that Wireshark opens.
//!
//! Without a [`Bridge`] entered, stacks start with [`Config::default`] (seed 0, no extra
//! faults, no capture). With one:
//!
//! ```no_run
//! use sansnet_turmoil::{Bridge, Config};
//!
//! let seed = 7;
//! let bridge = Bridge::new(Config::new().seed(seed).loss(0.01).capture(true)).unwrap();
//! let mut sim = turmoil::Builder::new().rng_seed(seed).fail_rate(0.02).build();
//! // sim.host(..) and sim.client(..) using sansnet_turmoil::net
//! bridge.run(&mut sim).unwrap();
//! let pcapng = bridge.pcapng("server");
//! # drop(pcapng);
//! ```
//!
//! # Limits
//!
//! - IPv4 simulations only (turmoil's default); sansnet has no IPv6.
//! - A host learns its own address from turmoil by sending a probe to the bridges'
//!   multicast group and reading its source when it loops back: a stack's first socket
//!   call waits one turmoil tick for it.
//! - turmoil's UDP sockets queue at most `udp_capacity` datagrams (64 by default) between
//!   two runs of a host; a stack that receives more frames than that in one tick loses the
//!   rest, and TCP recovers. Raise `turmoil::Builder::udp_capacity` for bulk transfers.
//! - The bridge's UDP port must stay free for it on every host.

mod bridge;
mod config;
pub mod net;
mod stack;

pub use bridge::{Bridge, EnterGuard, HostInfo, Stats};
pub use config::{Config, ConfigError, DEFAULT_GROUP, DEFAULT_PORT};

/// Starts this host's stack now rather than on its first socket call, and returns the
/// host's address: a host whose software only answers (RSTs to connections nobody
/// listens for, ARP) is then reachable from its start. Calls it on a host whose stack is
/// up return at once.
pub async fn install() -> std::io::Result<std::net::Ipv4Addr> {
    let id = std::future::poll_fn(stack::poll_here).await?;
    stack::with_stack(id, |s, _| s.ip())
}
