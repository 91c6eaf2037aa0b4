//! The host's own addresses and its routing table, indexed so that a lookup costs about the
//! same whatever their number.
//!
//! A router with a NIC per rack (the rpc bench's 31 at 3,000 clients) looked through every
//! interface three times and every route once for each packet it forwarded: 38,000
//! instructions a client at 3,000 clients that were not there at 100, the only work the
//! simulation did per packet in proportion to its size. Linux keeps its local addresses in
//! a hash table and its routes in a trie; here both are sorted vectors searched by halving
//! once they hold more than `SCAN_MAX` entries, and scanned below that: an ordinary host
//! has one or two, where the scan is the fewer instructions (a bulk transfer counted 40
//! more a packet searching by halving), and it reads the same single cache line.
//!
//! Both answer exactly what the scans they replace answered; the property tests below hold
//! them to it.

use alloc::vec::Vec;
use core::cmp::Reverse;
use core::net::Ipv4Addr;

use super::{InterfaceConfig, Route};

/// The network mask of a prefix length (lengths above 32 count as 32).
pub(crate) fn mask(prefix_len: u8) -> u32 {
    match prefix_len {
        0 => 0,
        n => u32::MAX << (32 - u32::from(n.min(32))),
    }
}

/// Whether `addr` is in `net/prefix_len`.
pub(crate) fn in_prefix(addr: Ipv4Addr, net: Ipv4Addr, prefix_len: u8) -> bool {
    (u32::from(addr) ^ u32::from(net)) & mask(prefix_len) == 0
}

/// Tables of at most this many entries are scanned, not searched by halving.
const SCAN_MAX: usize = 8;

/// `AddrKind` as the bits of an `AddrTable` entry.
const LOCAL: u8 = 1;
const BROADCAST: u8 = 2;

/// What an address is to this host: one of its interfaces' addresses, the broadcast
/// address of one of their subnets, both (a strange configuration, where one NIC's address
/// is another's subnet broadcast address) or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AddrKind {
    pub(crate) local: bool,
    pub(crate) subnet_broadcast: bool,
}

/// The host's unicast addresses and its subnets' broadcast addresses (RFC 1122 section
/// 3.3.6: a directed broadcast is the subnet's address with all host bits set, for subnets
/// of more than two addresses), sorted by address. Fixed with the interfaces.
#[derive(Debug, Clone, Default)]
pub(crate) struct AddrTable {
    entries: Vec<(u32, u8)>,
}

impl AddrTable {
    pub(crate) fn new(interfaces: &[InterfaceConfig]) -> AddrTable {
        let mut entries: Vec<(u32, u8)> = Vec::with_capacity(2 * interfaces.len());
        for i in interfaces {
            entries.push((u32::from(i.addr), LOCAL));
            if i.prefix_len < 31 {
                entries.push((u32::from(i.addr) | !mask(i.prefix_len), BROADCAST));
            }
        }
        entries.sort_unstable();
        // One entry per address, its kinds together.
        entries.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 |= later.1;
            }
            same
        });
        AddrTable { entries }
    }

    /// What `ip` is to this host.
    pub(crate) fn kind(&self, ip: Ipv4Addr) -> AddrKind {
        let ip = u32::from(ip);
        let bits = if self.entries.len() <= SCAN_MAX {
            self.entries.iter().find(|e| e.0 == ip).map_or(0, |e| e.1)
        } else {
            match self.entries.binary_search_by_key(&ip, |e| e.0) {
                Ok(at) => self.entries[at].1,
                Err(_) => 0,
            }
        };
        AddrKind {
            local: bits & LOCAL != 0,
            subnet_broadcast: bits & BROADCAST != 0,
        }
    }
}

/// The routing table: the routes longest prefix first, and among routes of one length the
/// first added first (`routes`, what `Host::routes` shows), indexed by prefix length and
/// masked destination.
#[derive(Debug, Clone, Default)]
pub(crate) struct RouteTable {
    routes: Vec<Route>,
    /// `(masked destination, route)`, sorted by prefix length (longest first), then by masked
    /// destination, then in the order of `routes` (the sort is stable): the first entry of a
    /// (length, destination) pair is the route the scan of `routes` would find. Empty while
    /// `routes` is short enough to scan.
    index: Vec<(u32, Route)>,
    /// Bit `n` set when some route has prefix length `n` (0 to 32).
    lens: u64,
}

impl RouteTable {
    pub(crate) fn new(mut routes: Vec<Route>) -> RouteTable {
        routes.sort_by_key(|r| Reverse(r.prefix_len));
        let mut table = RouteTable {
            routes,
            index: Vec::new(),
            lens: 0,
        };
        table.reindex();
        table
    }

    /// Builds the index, which only a table longer than `SCAN_MAX` uses (an ordinary
    /// host's has nothing in it, and allocates nothing).
    fn reindex(&mut self) {
        self.index.clear();
        self.lens = 0;
        if self.routes.len() <= SCAN_MAX {
            return;
        }
        self.index.extend(
            self.routes
                .iter()
                .map(|r| (u32::from(r.dest) & mask(r.prefix_len), *r)),
        );
        self.index
            .sort_by_key(|&(key, r)| (Reverse(r.prefix_len.min(32)), key));
        self.lens = self
            .routes
            .iter()
            .fold(0, |lens, r| lens | 1 << r.prefix_len.min(32));
    }

    /// The routes, longest prefix first; among equals, the first added first.
    pub(crate) fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Adds a route after those of a longer or equal prefix.
    pub(crate) fn add(&mut self, route: Route) {
        let at = self
            .routes
            .iter()
            .position(|r| r.prefix_len < route.prefix_len)
            .unwrap_or(self.routes.len());
        self.routes.insert(at, route);
        self.reindex();
    }

    /// The route for `dst`: the longest prefix that holds it, the first added among equals.
    pub(crate) fn lookup(&self, dst: Ipv4Addr) -> Option<&Route> {
        if self.routes.len() <= SCAN_MAX {
            return self
                .routes
                .iter()
                .find(|r| in_prefix(dst, r.dest, r.prefix_len));
        }
        let dst = u32::from(dst);
        let mut lens = self.lens;
        while lens != 0 {
            let len = (63 - lens.leading_zeros()) as u8;
            lens &= !(1 << len);
            let want = (Reverse(len), dst & mask(len));
            let at = self
                .index
                .partition_point(|&(key, r)| (Reverse(r.prefix_len.min(32)), key) < want);
            if let Some((key, r)) = self.index.get(at) {
                if (Reverse(r.prefix_len.min(32)), *key) == want {
                    return Some(r);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;

    /// What the host answered before the index: a scan of the interfaces.
    fn scan_is_local(interfaces: &[InterfaceConfig], ip: Ipv4Addr) -> bool {
        interfaces.iter().any(|i| i.addr == ip)
    }

    fn scan_is_broadcast(interfaces: &[InterfaceConfig], ip: Ipv4Addr) -> bool {
        interfaces
            .iter()
            .any(|i| i.prefix_len < 31 && u32::from(ip) == u32::from(i.addr) | !mask(i.prefix_len))
    }

    /// ... and a scan of the routes, longest prefix first.
    fn scan_route(routes: &[Route], dst: Ipv4Addr) -> Option<Route> {
        routes
            .iter()
            .find(|r| in_prefix(dst, r.dest, r.prefix_len))
            .copied()
    }

    fn iface(addr: [u8; 4], prefix_len: u8) -> InterfaceConfig {
        InterfaceConfig {
            mac: crate::wire::EthernetAddress([2, 0, 0, 0, 0, 1]),
            addr: Ipv4Addr::from(addr),
            prefix_len,
            mtu: 1500,
        }
    }

    fn route(dest: [u8; 4], prefix_len: u8, nic: usize, gateway: Option<[u8; 4]>) -> Route {
        Route {
            dest: Ipv4Addr::from(dest),
            prefix_len,
            nic,
            gateway: gateway.map(Ipv4Addr::from),
        }
    }

    #[test]
    fn an_address_can_be_local_and_a_broadcast_address_at_once() {
        let table = AddrTable::new(&[iface([10, 0, 0, 255], 16), iface([10, 0, 255, 255], 16)]);
        let both = Ipv4Addr::new(10, 0, 255, 255);
        let kind = |ip| table.kind(ip);
        assert_eq!(
            kind(both),
            AddrKind {
                local: true,
                subnet_broadcast: true
            }
        );
        assert_eq!(
            kind(Ipv4Addr::new(10, 0, 0, 255)),
            AddrKind {
                local: true,
                subnet_broadcast: false
            }
        );
    }

    #[test]
    fn the_longest_prefix_wins_and_the_first_added_among_equals() {
        let mut table = RouteTable::new(vec![
            route([10, 1, 0, 0], 16, 1, None),
            route([0, 0, 0, 0], 0, 0, Some([10, 0, 0, 1])),
        ]);
        table.add(route([10, 1, 2, 0], 24, 2, None));
        table.add(route([10, 1, 2, 7], 24, 3, None)); // the same network, added later
        let nic = |dst: [u8; 4]| table.lookup(Ipv4Addr::from(dst)).map(|r| r.nic);
        assert_eq!(nic([10, 1, 2, 9]), Some(2));
        assert_eq!(nic([10, 1, 3, 9]), Some(1));
        assert_eq!(nic([192, 0, 2, 1]), Some(0));
        let lens: Vec<u8> = table.routes().iter().map(|r| r.prefix_len).collect();
        assert_eq!(lens, vec![24, 24, 16, 0]);
    }

    #[test]
    fn no_route_no_answer() {
        let table = RouteTable::new(vec![route([10, 1, 0, 0], 16, 1, None)]);
        assert_eq!(table.lookup(Ipv4Addr::new(10, 2, 0, 1)), None);
        assert_eq!(
            RouteTable::default().lookup(Ipv4Addr::new(10, 2, 0, 1)),
            None
        );
    }

    /// Addresses drawn from a few small networks, so that lookups hit, miss and tie.
    fn addr() -> impl Strategy<Value = [u8; 4]> {
        (0u8..3, 0u8..4, prop_oneof![0u8..4, Just(255u8)]).prop_map(|(a, b, c)| [10, a, b, c])
    }

    proptest! {
        #[test]
        fn the_index_answers_what_the_scans_answered(
            ifaces in prop::collection::vec((addr(), 0u8..=33), 0..8),
            routes in prop::collection::vec((addr(), 0u8..=33, 0usize..8), 0..40),
            added in prop::collection::vec((addr(), 0u8..=33, 0usize..8), 0..4),
            probes in prop::collection::vec(addr(), 1..24),
        ) {
            let interfaces: Vec<InterfaceConfig> =
                ifaces.iter().map(|&(a, len)| iface(a, len)).collect();
            let addrs = AddrTable::new(&interfaces);
            let mut list: Vec<Route> =
                routes.iter().map(|&(d, len, nic)| route(d, len, nic, None)).collect();
            let mut table = RouteTable::new(list.clone());
            list.sort_by_key(|r| Reverse(r.prefix_len));
            for &(d, len, nic) in &added {
                let r = route(d, len, nic, Some([10, 9, 9, 9]));
                let at = list.iter().position(|x| x.prefix_len < len).unwrap_or(list.len());
                list.insert(at, r);
                table.add(r);
            }
            prop_assert_eq!(table.routes(), &list[..]);
            for p in probes {
                let ip = Ipv4Addr::from(p);
                let kind = addrs.kind(ip);
                prop_assert_eq!(kind.local, scan_is_local(&interfaces, ip));
                prop_assert_eq!(kind.subnet_broadcast, scan_is_broadcast(&interfaces, ip));
                prop_assert_eq!(table.lookup(ip).copied(), scan_route(&list, ip));
            }
        }
    }
}
