//! Names and addresses handed out deterministically.
//!
//! A MAC address is a hash of (node name, NIC index), so it does not change when another
//! node is added; IPv4 addresses come from a [`Subnet`] in allocation order.

use std::fmt;
use std::net::Ipv4Addr;

use sansnet_stack::hash::{siphash24, SecretKey};
use sansnet_stack::wire::EthernetAddress;

const MAC_KEY: SecretKey = SecretKey(*b"sansnet-mac-addr");

/// The MAC address of NIC `nic` of the node named `node`: locally administered (0x02 in the
/// first byte), unicast, and a function of the name and index only.
pub fn mac_for(node: &str, nic: usize) -> EthernetAddress {
    let mut input = Vec::with_capacity(node.len() + 9);
    input.extend_from_slice(node.as_bytes());
    input.push(0);
    input.extend_from_slice(&(nic as u64).to_le_bytes());
    let h = siphash24(&MAC_KEY, &input).to_le_bytes();
    EthernetAddress([0x02, h[0], h[1], h[2], h[3], h[4]])
}

/// An IPv4 subnet that hands out host addresses in order (`.1`, `.2`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subnet {
    network: Ipv4Addr,
    prefix_len: u8,
    next_host: u32,
}

impl Subnet {
    /// `network/prefix_len`; host bits of `network` are cleared. Panics on a prefix over 30,
    /// which leaves no room for hosts.
    pub fn new(network: Ipv4Addr, prefix_len: u8) -> Subnet {
        assert!(prefix_len <= 30, "a /{prefix_len} has no host addresses");
        let mask = Self::mask_bits(prefix_len);
        Subnet {
            network: Ipv4Addr::from(u32::from(network) & mask),
            prefix_len,
            next_host: 1,
        }
    }

    /// Parses `"10.0.0.0/24"`.
    pub fn parse(text: &str) -> Option<Subnet> {
        let (addr, len) = text.split_once('/')?;
        let len: u8 = len.parse().ok()?;
        let addr: Ipv4Addr = addr.parse().ok()?;
        (len <= 30).then(|| Subnet::new(addr, len))
    }

    fn mask_bits(prefix_len: u8) -> u32 {
        u32::MAX
            .checked_shl(32 - u32::from(prefix_len))
            .unwrap_or(0)
    }

    /// The network address.
    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    /// The prefix length.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The netmask.
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(Self::mask_bits(self.prefix_len))
    }

    /// The directed broadcast address.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !Self::mask_bits(self.prefix_len))
    }

    /// Whether `addr` is inside.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & Self::mask_bits(self.prefix_len) == u32::from(self.network)
    }

    /// Host number `n` (`.n` in a /24), if it is a host address of this subnet.
    pub fn host(&self, n: u32) -> Option<Ipv4Addr> {
        let max = !Self::mask_bits(self.prefix_len);
        (n >= 1 && n < max).then(|| Ipv4Addr::from(u32::from(self.network) + n))
    }

    /// The next unallocated host address, or `None` when the subnet is full.
    pub fn allocate(&mut self) -> Option<Ipv4Addr> {
        let addr = self.host(self.next_host)?;
        self.next_host += 1;
        Some(addr)
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_hands_out_hosts_in_order() {
        let mut s = Subnet::parse("10.0.0.77/30").unwrap();
        assert_eq!(s.network(), Ipv4Addr::new(10, 0, 0, 76));
        assert_eq!(s.allocate(), Some(Ipv4Addr::new(10, 0, 0, 77)));
        assert_eq!(s.allocate(), Some(Ipv4Addr::new(10, 0, 0, 78)));
        assert_eq!(s.allocate(), None);
        assert_eq!(s.broadcast(), Ipv4Addr::new(10, 0, 0, 79));
        assert!(s.contains(Ipv4Addr::new(10, 0, 0, 79)));
    }

    #[test]
    fn macs_are_stable_unicast_and_local() {
        let m = mac_for("client", 0);
        assert_eq!(m, mac_for("client", 0));
        assert_ne!(m, mac_for("client", 1));
        assert!(m.is_unicast());
        assert_eq!(m.0[0] & 0x02, 0x02);
    }
}
