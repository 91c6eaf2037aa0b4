//! Network shapes: the topology a built-in scenario runs on, as a parameter.
//!
//! A [`Shape`] is data (it is part of every [`RunSpec`](crate::scenario::RunSpec) and of
//! every replay file); [`Network::build`] turns it into hosts, switches, routers and links
//! in a [`Sim`], and [`Shape::topology`] names them without building anything, so that a
//! fault plan can be drawn before the run.
//!
//! | shape | hosts | links |
//! |---|---|---|
//! | `direct` | `client` 10.0.0.1, `server` 10.0.0.2 | one, `client/nic0<->server/nic0` |
//! | `switched:N` | `client0`..`client{N-1}` 10.0.0.10.., `server` 10.0.0.2, switch `sw` | one per host to `sw` |
//! | `routed:N[:R]` | `client*` 10.0.1.10.. behind switch `lan`, routers `router0`..`router{R-1}`, `server` 10.0.2.2 | client ports, `lan` to `router0`, router to router, last router to `server` |
//!
//! `direct` is the default and is exactly the network every scenario built before shapes
//! existed, so old replay files replay to the same trace hash. Switches and routers are
//! store-and-forward (they check the frame check sequence whatever the run's `fcs_check`,
//! which is about the end hosts).

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use sansnet_sim::host::secret_from_seed;
use sansnet_sim::{Duration, FaultChange, FaultPlan, LinkFaults, NicId, NodeId, Sim, SwitchId};
use sansnet_stack::iface::{Host, HostConfig, InterfaceConfig, Limits, Route};
use sansnet_stack::tcp;
use serde::{Deserialize, Serialize};

use crate::scenario::{Built, Topology};

/// The most client hosts a shape may have (addresses are one /24).
pub const MAX_CLIENT_HOSTS: u32 = 64;
/// The most routers in a chain.
pub const MAX_ROUTERS: u32 = 4;

/// The shape of the network a scenario runs on.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(tag = "shape", rename_all = "snake_case")]
pub enum Shape {
    /// One client host and the server on one link (the default).
    #[default]
    Direct,
    /// `client_hosts` client hosts and the server, each on its own link to one learning
    /// switch.
    Switched {
        /// Client hosts (1 to [`MAX_CLIENT_HOSTS`]).
        client_hosts: u32,
    },
    /// Client hosts on one subnet (behind a switch), the server on another, and a chain of
    /// `routers` forwarding hosts between them: faults can hit either side, and every
    /// packet crosses at least three links.
    Routed {
        /// Client hosts (1 to [`MAX_CLIENT_HOSTS`]).
        client_hosts: u32,
        /// Routers in the chain (1 to [`MAX_ROUTERS`]).
        routers: u32,
    },
}

impl Shape {
    /// Whether this is [`Shape::Direct`] (for `skip_serializing_if`).
    pub fn is_direct(&self) -> bool {
        *self == Shape::Direct
    }

    /// Client hosts, within bounds.
    pub fn client_hosts(&self) -> u32 {
        match *self {
            Shape::Direct => 1,
            Shape::Switched { client_hosts } | Shape::Routed { client_hosts, .. } => {
                client_hosts.clamp(1, MAX_CLIENT_HOSTS)
            }
        }
    }

    /// Routers, within bounds.
    pub fn routers(&self) -> u32 {
        match *self {
            Shape::Routed { routers, .. } => routers.clamp(1, MAX_ROUTERS),
            _ => 0,
        }
    }

    /// The names of client hosts, routers, the server and the links, in the order
    /// [`Network::build`] makes them.
    pub fn topology(&self) -> Topology {
        let n = self.client_hosts();
        let clients: Vec<String> = match self {
            Shape::Direct => vec!["client".to_owned()],
            _ => (0..n).map(|i| format!("client{i}")).collect(),
        };
        let routers: Vec<String> = (0..self.routers()).map(|k| format!("router{k}")).collect();
        let links = self.roles().into_iter().map(|(name, _)| name).collect();
        Topology {
            links,
            clients,
            servers: vec!["server".to_owned()],
            routers,
        }
    }

    /// Every link with its role, in build order.
    fn roles(&self) -> Vec<(String, LinkRole)> {
        let n = self.client_hosts();
        match self {
            Shape::Direct => vec![(DIRECT_LINK.to_owned(), LinkRole::Direct)],
            Shape::Switched { .. } => {
                let mut v: Vec<_> = (0..n)
                    .map(|i| {
                        (
                            format!("client{i}/nic0<->sw/port{i}"),
                            LinkRole::ClientAccess(i),
                        )
                    })
                    .collect();
                v.push((format!("server/nic0<->sw/port{n}"), LinkRole::ServerAccess));
                v
            }
            Shape::Routed { .. } => {
                let r = self.routers();
                let mut v: Vec<_> = (0..n)
                    .map(|i| {
                        (
                            format!("client{i}/nic0<->lan/port{i}"),
                            LinkRole::ClientAccess(i),
                        )
                    })
                    .collect();
                v.push((format!("router0/nic0<->lan/port{n}"), LinkRole::Core(0)));
                for k in 1..r {
                    v.push((
                        format!("router{}/nic1<->router{k}/nic0", k - 1),
                        LinkRole::Core(k),
                    ));
                }
                v.push((
                    format!("router{}/nic1<->server/nic0", r - 1),
                    LinkRole::ServerAccess,
                ));
                v
            }
        }
    }

    /// One-step simplifications, simplest first: `direct`, then fewer routers, then
    /// fewer client hosts. The shrinker tries each.
    pub fn simpler(&self) -> Vec<Shape> {
        let mut out = Vec::new();
        let n = self.client_hosts();
        let fewer_hosts = |out: &mut Vec<Shape>, make: &dyn Fn(u32) -> Shape| {
            for m in [1, n / 2, n - 1] {
                let s = make(m);
                if m >= 1 && m < n && !out.contains(&s) {
                    out.push(s);
                }
            }
        };
        match *self {
            Shape::Direct => {}
            Shape::Switched { .. } => {
                out.push(Shape::Direct);
                fewer_hosts(&mut out, &|m| Shape::Switched { client_hosts: m });
            }
            Shape::Routed { .. } => {
                let r = self.routers();
                out.push(Shape::Direct);
                out.push(Shape::Switched { client_hosts: n });
                if r > 1 {
                    out.push(Shape::Routed {
                        client_hosts: n,
                        routers: 1,
                    });
                    if r > 2 {
                        out.push(Shape::Routed {
                            client_hosts: n,
                            routers: r - 1,
                        });
                    }
                }
                fewer_hosts(&mut out, &|m| Shape::Routed {
                    client_hosts: m,
                    routers: r,
                });
            }
        }
        out
    }

    /// `plan`, written for this shape's names, rewritten for `to`'s: a link keeps its role
    /// (a client's access link, the server's, a link between routers); a node keeps its
    /// role (client `k`, the server, router `k`). What has no counterpart goes: a change on
    /// a client that `to` lacks is dropped, a link between routers becomes the server's
    /// access link, and a partition side left empty becomes the clients or the server,
    /// whichever the other side is not. Used by the shrinker to try a simpler shape with
    /// the same faults.
    pub fn translate_plan(&self, plan: &FaultPlan, to: &Shape) -> FaultPlan {
        let (from_t, to_t) = (self.topology(), to.topology());
        let to_roles = to.roles();
        let find = |want: LinkRole| {
            to_roles
                .iter()
                .find(|(_, r)| *r == want)
                .map(|(n, _)| n.clone())
        };
        let link_for = |role: LinkRole| -> Option<String> {
            if to.is_direct() {
                return Some(DIRECT_LINK.to_owned());
            }
            match role {
                LinkRole::Direct | LinkRole::ServerAccess => find(LinkRole::ServerAccess),
                LinkRole::ClientAccess(k) => find(LinkRole::ClientAccess(k)),
                LinkRole::Core(k) => {
                    find(LinkRole::Core(k)).or_else(|| find(LinkRole::ServerAccess))
                }
            }
        };
        let links: BTreeMap<String, Option<String>> = self
            .roles()
            .into_iter()
            .map(|(name, role)| (name, link_for(role)))
            .collect();
        let mut nodes: BTreeMap<String, Option<String>> = BTreeMap::new();
        for (k, c) in from_t.clients.iter().enumerate() {
            nodes.insert(c.clone(), to_t.clients.get(k).cloned());
        }
        for (k, r) in from_t.routers.iter().enumerate() {
            nodes.insert(r.clone(), to_t.routers.get(k).cloned());
        }
        nodes.insert("server".to_owned(), Some("server".to_owned()));
        let node = |n: &String| nodes.get(n).cloned().unwrap_or_else(|| Some(n.clone()));
        let link = |l: &String| links.get(l).cloned().unwrap_or_else(|| Some(l.clone()));

        let mut out = FaultPlan::new();
        for c in &plan.changes {
            let change = match &c.change {
                FaultChange::SetLink {
                    link: l,
                    direction,
                    faults,
                } => link(l).map(|l| FaultChange::SetLink {
                    link: l,
                    direction: *direction,
                    faults: faults.clone(),
                }),
                FaultChange::Clog { link: l, direction } => link(l).map(|l| FaultChange::Clog {
                    link: l,
                    direction: *direction,
                }),
                FaultChange::Unclog { link: l, direction } => {
                    link(l).map(|l| FaultChange::Unclog {
                        link: l,
                        direction: *direction,
                    })
                }
                FaultChange::Partition { from, to, two_way } => {
                    let map = |side: &[String]| -> Vec<String> {
                        let mut v: Vec<String> = side.iter().filter_map(&node).collect();
                        v.dedup();
                        v
                    };
                    let (mut f, mut t) = (map(from), map(to));
                    let fill = |other: &[String]| -> Vec<String> {
                        if other.iter().any(|n| n == "server") {
                            to_t.clients.clone()
                        } else {
                            to_t.servers.clone()
                        }
                    };
                    if f.is_empty() && !t.is_empty() {
                        f = fill(&t);
                    } else if t.is_empty() && !f.is_empty() {
                        t = fill(&f);
                    }
                    (!f.is_empty() && !t.is_empty() && f != t).then_some(FaultChange::Partition {
                        from: f,
                        to: t,
                        two_way: *two_way,
                    })
                }
                FaultChange::Isolate { node: n } => {
                    node(n).map(|n| FaultChange::Isolate { node: n })
                }
                FaultChange::Crash { node: n } => node(n).map(|n| FaultChange::Crash { node: n }),
                FaultChange::Restart { node: n } => {
                    node(n).map(|n| FaultChange::Restart { node: n })
                }
                FaultChange::Heal => Some(FaultChange::Heal),
            };
            if let Some(change) = change {
                out.push(c.at, change);
            }
        }
        // Two links that became one: the later setting at the same instant wins anyway,
        // so the earlier one is not a fault of the new plan.
        let mut keep = vec![true; out.changes.len()];
        for (i, a) in out.changes.iter().enumerate() {
            if let FaultChange::SetLink {
                link, direction, ..
            } = &a.change
            {
                keep[i] = !out.changes[i + 1..].iter().any(|b| {
                    b.at == a.at
                        && matches!(&b.change, FaultChange::SetLink { link: l, direction: d, .. }
                            if l == link && d == direction)
                });
            }
        }
        let mut i = 0;
        out.changes.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        out
    }
}

/// What a link is for, so that a plan can move between shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LinkRole {
    /// The one link of `direct`: both a client's and the server's access link.
    Direct,
    /// Client host `k` to its switch.
    ClientAccess(u32),
    /// The server to its switch or router.
    ServerAccess,
    /// `Core(0)`: the client switch to the first router; `Core(k)`: router `k-1` to `k`.
    Core(u32),
}

/// The link of [`Shape::Direct`], as the simulator names it.
pub const DIRECT_LINK: &str = "client/nic0<->server/nic0";

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Shape::Direct => f.write_str("direct"),
            Shape::Switched { client_hosts } => write!(f, "switched:{client_hosts}"),
            Shape::Routed {
                client_hosts,
                routers: 1,
            } => write!(f, "routed:{client_hosts}"),
            Shape::Routed {
                client_hosts,
                routers,
            } => write!(f, "routed:{client_hosts}:{routers}"),
        }
    }
}

impl FromStr for Shape {
    type Err = String;

    /// `direct`, `switched:N` or `routed:N` / `routed:N:R` (N client hosts, R routers).
    fn from_str(s: &str) -> Result<Shape, String> {
        let mut parts = s.split(':');
        let kind = parts.next().unwrap_or("");
        let nums: Vec<u32> = parts
            .map(|p| {
                p.parse()
                    .map_err(|_| format!("topology {s:?}: {p:?} is not a number"))
            })
            .collect::<Result<_, _>>()?;
        let hosts = |n: u32| {
            if (1..=MAX_CLIENT_HOSTS).contains(&n) {
                Ok(n)
            } else {
                Err(format!(
                    "topology {s:?}: client hosts must be 1 to {MAX_CLIENT_HOSTS}"
                ))
            }
        };
        match (kind, nums.as_slice()) {
            ("direct", []) => Ok(Shape::Direct),
            ("switched", [n]) => Ok(Shape::Switched {
                client_hosts: hosts(*n)?,
            }),
            ("routed", [n]) => Ok(Shape::Routed {
                client_hosts: hosts(*n)?,
                routers: 1,
            }),
            ("routed", [n, r]) if (1..=MAX_ROUTERS).contains(r) => Ok(Shape::Routed {
                client_hosts: hosts(*n)?,
                routers: *r,
            }),
            _ => Err(format!(
                "topology {s:?}: expected direct, switched:N or routed:N[:R] \
                 (N client hosts up to {MAX_CLIENT_HOSTS}, R routers up to {MAX_ROUTERS})"
            )),
        }
    }
}

/// A built network: the hosts a scenario puts its tasks on.
#[derive(Debug)]
pub struct Network {
    /// Client hosts, in order.
    pub clients: Vec<NodeId>,
    /// Their addresses.
    pub client_addrs: Vec<Ipv4Addr>,
    /// The server host.
    pub server: NodeId,
    /// Its address.
    pub server_addr: Ipv4Addr,
    /// Every link's name, as [`Shape::topology`] lists them.
    pub links: Vec<String>,
    /// Every host (clients, routers, server), for the memory check and the `ss` tables.
    pub hosts: Vec<(String, NodeId)>,
    /// The client hosts' and the server's NICs (not the routers').
    pub host_nics: Vec<NicId>,
}

/// The faults of every link when it is built (a plan changes them).
fn wire() -> LinkFaults {
    LinkFaults::with_latency(Duration::from_millis(1))
}

/// What every end host (clients and the server) is built with: `tcp` as the TCP template,
/// `limits` as the host's bounds.
#[derive(Debug, Clone, Default)]
pub struct EndHosts {
    /// The template of every connection's configuration.
    pub tcp: tcp::Config,
    /// The host's bounds (descriptors per process and the rest).
    pub limits: Limits,
}

/// A sansnet host with one NIC at `addr/24` and an optional default gateway.
fn add_end_host(
    sim: &mut Sim,
    name: &str,
    addr: Ipv4Addr,
    gateway: Option<Ipv4Addr>,
    end: &EndHosts,
) -> NodeId {
    sim.set_addr(name, addr);
    let end = end.clone();
    sim.add_host_with(name, 1, move |ctx| HostConfig {
        default_gateway: gateway,
        tcp: end.tcp.clone(),
        limits: end.limits.clone(),
        ..sansnet_sim::one_nic_config(ctx, addr, 24)
    })
}

/// Adds a router: a sansnet host with one NIC per `/24` interface address, forwarding on,
/// the static `routes` and an optional default gateway (all rebuilt on a restart).
pub fn add_router(
    sim: &mut Sim,
    name: &str,
    interfaces: &[Ipv4Addr],
    routes: &[Route],
    default_gateway: Option<Ipv4Addr>,
) -> NodeId {
    if let Some(&first) = interfaces.first() {
        sim.set_addr(name, first);
    }
    let (interfaces, routes) = (interfaces.to_vec(), routes.to_vec());
    sim.add_node_with(name, interfaces.len(), move |ctx| {
        let config = HostConfig {
            name: ctx.name.clone(),
            interfaces: interfaces
                .iter()
                .enumerate()
                .map(|(i, &addr)| InterfaceConfig {
                    mac: ctx.macs[i],
                    addr,
                    prefix_len: 24,
                    mtu: 1500,
                })
                .collect(),
            default_gateway,
            forwarding: true,
            secret: secret_from_seed(ctx.seed),
            ..HostConfig::default()
        };
        let mut host = Host::new(config);
        for &r in &routes {
            host.add_route(r);
        }
        Box::new(host)
    })
}

/// A network under construction.
#[derive(Default)]
struct Parts {
    clients: Vec<NodeId>,
    client_addrs: Vec<Ipv4Addr>,
    links: Vec<String>,
    hosts: Vec<(String, NodeId)>,
}

impl Parts {
    fn add_client(
        &mut self,
        sim: &mut Sim,
        i: u32,
        addr: Ipv4Addr,
        gateway: Option<Ipv4Addr>,
        end: &EndHosts,
        switch: SwitchId,
    ) {
        let name = format!("client{i}");
        let node = add_end_host(sim, &name, addr, gateway, end);
        let link = sim.connect(sim.nic(node, 0), switch, wire());
        self.links.push(sim.link_name(link));
        self.clients.push(node);
        self.client_addrs.push(addr);
        self.hosts.push((name, node));
    }

    fn finish(mut self, sim: &Sim, server: NodeId, server_addr: Ipv4Addr) -> Network {
        self.hosts.push(("server".to_owned(), server));
        let mut host_nics: Vec<NicId> = self.clients.iter().map(|&c| sim.nic(c, 0)).collect();
        host_nics.push(sim.nic(server, 0));
        Network {
            host_nics,
            clients: self.clients,
            client_addrs: self.client_addrs,
            server,
            server_addr,
            links: self.links,
            hosts: self.hosts,
        }
    }
}

/// The client subnet of `routed`.
const ROUTED_CLIENT_NET: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 0);

fn host_in(net: Ipv4Addr, host: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net) | host)
}

/// The subnet between router `k - 1` and router `k`.
fn core_net(k: u32) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 100 + k as u8, 0)
}

impl Network {
    /// Builds `shape` into `sim`; every end host's TCP uses `tcp` as template. Every link
    /// starts with 1 ms latency and no faults.
    pub fn build(sim: &mut Sim, shape: &Shape, tcp: &tcp::Config) -> Network {
        let end = EndHosts {
            tcp: tcp.clone(),
            limits: Limits::default(),
        };
        Network::build_with(sim, shape, &end)
    }

    /// [`build`](Self::build) with the end hosts' TCP template and bounds both given.
    pub fn build_with(sim: &mut Sim, shape: &Shape, end: &EndHosts) -> Network {
        let n = shape.client_hosts();
        match shape {
            Shape::Direct => {
                // Exactly the network of every scenario before shapes existed.
                let (ca, sa) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
                let client = add_end_host(sim, "client", ca, None, end);
                let server = add_end_host(sim, "server", sa, None, end);
                let link = sim.connect(sim.nic(client, 0), sim.nic(server, 0), wire());
                Network {
                    clients: vec![client],
                    client_addrs: vec![ca],
                    server,
                    server_addr: sa,
                    links: vec![sim.link_name(link)],
                    hosts: vec![("client".to_owned(), client), ("server".to_owned(), server)],
                    host_nics: vec![sim.nic(client, 0), sim.nic(server, 0)],
                }
            }
            Shape::Switched { .. } => {
                let sw = sim.add_switch("sw");
                let mut parts = Parts::default();
                for i in 0..n {
                    let addr = Ipv4Addr::new(10, 0, 0, 10 + i as u8);
                    parts.add_client(sim, i, addr, None, end, sw);
                }
                let server_addr = Ipv4Addr::new(10, 0, 0, 2);
                let server = add_end_host(sim, "server", server_addr, None, end);
                let link = sim.connect(sim.nic(server, 0), sw, wire());
                parts.links.push(sim.link_name(link));
                parts.finish(sim, server, server_addr)
            }
            Shape::Routed { .. } => {
                let r = shape.routers();
                let server_net = Ipv4Addr::new(10, 0, 2, 0);
                let lan = sim.add_switch("lan");
                let mut parts = Parts::default();
                let gateway = host_in(ROUTED_CLIENT_NET, 1);
                for i in 0..n {
                    let addr = host_in(ROUTED_CLIENT_NET, 10 + i);
                    parts.add_client(sim, i, addr, Some(gateway), end, lan);
                }
                // Router k: nic0 towards the clients, nic1 towards the server; the routes
                // back to the clients' subnet go through router k - 1.
                let mut routers = Vec::new();
                for k in 0..r {
                    let inner = if k == 0 {
                        gateway
                    } else {
                        host_in(core_net(k), 2)
                    };
                    let outer = if k + 1 == r {
                        host_in(server_net, 1)
                    } else {
                        host_in(core_net(k + 1), 1)
                    };
                    let towards_server = (k + 1 < r).then(|| host_in(core_net(k + 1), 2));
                    let towards_clients: Vec<Route> = (k > 0)
                        .then(|| Route {
                            dest: ROUTED_CLIENT_NET,
                            prefix_len: 24,
                            nic: 0,
                            gateway: Some(host_in(core_net(k), 1)),
                        })
                        .into_iter()
                        .collect();
                    let name = format!("router{k}");
                    let node = add_router(
                        sim,
                        &name,
                        &[inner, outer],
                        &towards_clients,
                        towards_server,
                    );
                    routers.push(node);
                    parts.hosts.push((name, node));
                }
                let link = sim.connect(sim.nic(routers[0], 0), lan, wire());
                parts.links.push(sim.link_name(link));
                for k in 1..routers.len() {
                    let link =
                        sim.connect(sim.nic(routers[k - 1], 1), sim.nic(routers[k], 0), wire());
                    parts.links.push(sim.link_name(link));
                }
                let server_addr = host_in(server_net, 2);
                let server = add_end_host(
                    sim,
                    "server",
                    server_addr,
                    Some(host_in(server_net, 1)),
                    end,
                );
                let last = routers[routers.len() - 1];
                let link = sim.connect(sim.nic(last, 1), sim.nic(server, 0), wire());
                parts.links.push(sim.link_name(link));
                parts.finish(sim, server, server_addr)
            }
        }
    }

    /// Which client host has `addr`.
    pub fn client_index(&self, addr: Ipv4Addr) -> Option<usize> {
        self.client_addrs.iter().position(|&a| a == addr)
    }

    /// What [`Scenario::build`](crate::scenario::Scenario::build) returns, before tasks.
    pub fn built(&self) -> Built {
        Built {
            links: self.links.clone(),
            hosts: self.hosts.clone(),
            tasks: Vec::new(),
            host_nics: Some(self.host_nics.clone()),
        }
    }
}
