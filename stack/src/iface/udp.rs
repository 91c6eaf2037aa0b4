//! UDP sockets (RFC 768, RFC 1122 section 4.1): bind, connect, send_to/recv_from, a
//! bounded datagram queue per socket, broadcast, and ICMP port unreachable both ways.

use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddrV4};

use super::socket::{Kind, SockId};
use super::{DropReason, Errno, Host, IcmpError, NetError, Origin};
use crate::time::Instant;
use crate::wire::icmpv4::DstUnreachable;
use crate::wire::ipv4::{self, IpProtocol};
use crate::wire::{udp, ChecksumMode};

/// The largest UDP payload IPv4 can carry: 65535 - 20 - 8.
const MAX_PAYLOAD: usize = 65507;

impl Host {
    pub(super) fn udp_connect(&mut self, sid: SockId, addr: SocketAddrV4) -> Result<(), Errno> {
        if addr.ip().is_unspecified() && addr.port() == 0 {
            // AF_UNSPEC: dissolve the association.
            if let Kind::Udp(u) = &mut self.socket_mut(sid).kind {
                u.remote = None;
            }
            return Ok(());
        }
        if addr.port() == 0 {
            return Err(Errno::EINVAL);
        }
        // As Linux: a broadcast peer needs SO_BROADCAST already (EACCES at connect).
        if !self.socket_ref(sid).opts.broadcast && self.is_broadcast_addr(*addr.ip()) {
            return Err(Errno::EACCES);
        }
        self.source_for(*addr.ip()).ok_or(Errno::ENETUNREACH)?;
        self.autobind(sid, Ipv4Addr::UNSPECIFIED)?;
        if let Kind::Udp(u) = &mut self.socket_mut(sid).kind {
            u.remote = Some(addr);
        }
        Ok(())
    }

    pub(super) fn udp_send(
        &mut self,
        now: Instant,
        sid: SockId,
        data: &[u8],
        to: Option<SocketAddrV4>,
    ) -> Result<usize, Errno> {
        let default_ttl = self.cfg.tcp.ttl;
        let s = self.socket_mut(sid);
        if let Some(e) = s.so_error.take() {
            return Err(e);
        }
        if s.write_shut {
            return Err(Errno::EPIPE);
        }
        let Kind::Udp(u) = &s.kind else {
            return Err(Errno::EOPNOTSUPP);
        };
        let dst = to.or(u.remote).ok_or(Errno::ENOTCONN)?;
        let dont_frag = s.opts.dont_fragment;
        let multicast = dst.ip().is_multicast();
        let ttl = if multicast {
            s.opts.multicast_ttl
        } else {
            s.opts.ttl.unwrap_or(default_ttl)
        };
        let broadcast_ok = s.opts.broadcast;
        let tos = s.opts.tos;
        let multicast_loop = s.opts.multicast_loop;
        if data.len() > MAX_PAYLOAD {
            return Err(Errno::EMSGSIZE);
        }
        if dst.port() == 0 || dst.ip().is_unspecified() {
            return Err(Errno::EINVAL);
        }
        // As Linux: a broadcast needs SO_BROADCAST, so that no program floods a subnet by
        // a mistaken address.
        let broadcast = self.is_broadcast_addr(*dst.ip());
        if broadcast && !broadcast_ok {
            return Err(Errno::EACCES);
        }
        let local = self.autobind(sid, Ipv4Addr::UNSPECIFIED)?;
        let src = if local.ip().is_unspecified() {
            self.source_for(*dst.ip()).ok_or(Errno::ENETUNREACH)?
        } else {
            *local.ip()
        };
        let len = udp::HEADER_LEN + data.len();
        if dont_frag && ipv4::HEADER_LEN + len > self.mtu_for(now, *dst.ip()) {
            return Err(Errno::EMSGSIZE);
        }
        let repr = udp::Repr {
            src_port: local.port(),
            dst_port: dst.port(),
            payload: data,
        };
        let packet = self.build_ip(
            src,
            *dst.ip(),
            IpProtocol::UDP,
            (ttl, tos),
            dont_frag,
            len,
            |buf, s, d| repr.emit(&mut udp::Packet::new_unchecked(buf), s, d),
        );
        // A broadcast comes back to the host's own sockets too, and so does a datagram to a
        // group the host joined on the way out unless `IP_MULTICAST_LOOP` is off: Linux
        // loops both back (`ip_mc_output`).
        let looped = broadcast
            || multicast
                && multicast_loop
                && self
                    .route(*dst.ip())
                    .is_some_and(|(nic, _)| self.multicast_joined(Some(nic), *dst.ip()));
        let copy = looped.then(|| packet.clone());
        self.ip_output(now, packet, Origin::Udp(sid))?;
        if let Some(copy) = copy {
            if self.loopback.len() < self.cfg.limits.loopback_queue_packets {
                self.loopback.push_back(copy);
            } else {
                self.drop_packet(DropReason::LoopbackQueueFull);
            }
        }
        self.counters.udp.datagrams_out += 1;
        Ok(data.len())
    }

    /// The first queued datagram copied into `buf` (truncated) and its sender; removed
    /// unless `peek` (`MSG_PEEK`).
    pub(super) fn udp_recv(
        &mut self,
        sid: SockId,
        buf: &mut [u8],
        peek: bool,
    ) -> Result<(usize, SocketAddrV4), Errno> {
        let s = self.socket_mut(sid);
        if let Some(e) = s.so_error.take() {
            return Err(e);
        }
        if s.read_shut {
            return Ok((0, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)));
        }
        let Kind::Udp(u) = &mut s.kind else {
            return Err(Errno::EOPNOTSUPP);
        };
        let (from, datagram) = u.queue.front().ok_or(Errno::EAGAIN)?;
        let (from, n) = (*from, datagram.len().min(buf.len()));
        buf[..n].copy_from_slice(&datagram[..n]);
        if !peek {
            u.queue.pop_front();
        }
        Ok((n, from))
    }

    pub(super) fn udp_input(
        &mut self,
        now: Instant,
        ip: &ipv4::Repr,
        payload: &[u8],
        original: &[u8],
        broadcast: bool,
    ) {
        let Ok(packet) = udp::Packet::new_checked(payload) else {
            return self.drop_packet(DropReason::UdpMalformed);
        };
        let repr = match udp::Repr::parse(&packet, ip.src_addr, ip.dst_addr, ChecksumMode::Verify) {
            Ok(r) => r,
            Err(crate::wire::Error::BadChecksum) => {
                return self.drop_packet(DropReason::UdpBadChecksum)
            }
            Err(_) => return self.drop_packet(DropReason::UdpMalformed),
        };
        let from = SocketAddrV4::new(ip.src_addr, repr.src_port);
        // Candidates, best first: connected to this sender, then bound to this address,
        // then to the wildcard.
        let mut matches: Vec<(u8, SockId)> = Vec::new();
        if let Some(v) = self.sockets.udp_binds.get(&repr.dst_port) {
            for &(bound_ip, sid) in v {
                let Some(Kind::Udp(u)) = self.sockets.slots[sid.0].as_ref().map(|s| &s.kind) else {
                    continue;
                };
                let addr_ok = bound_ip == ip.dst_addr || bound_ip.is_unspecified() || broadcast;
                let peer_ok = u.remote.is_none_or(|r| r == from);
                if addr_ok && peer_ok {
                    let rank =
                        u8::from(u.remote.is_none()) * 2 + u8::from(bound_ip.is_unspecified());
                    matches.push((rank, sid));
                }
            }
        }
        if matches.is_empty() {
            self.drop_packet(DropReason::UdpNoSocket);
            if !broadcast {
                self.send_icmp_error(
                    now,
                    original,
                    IcmpError::Unreachable(DstUnreachable::PORT_UNREACHABLE, 0),
                );
            }
            return;
        }
        matches.sort();
        if !broadcast {
            matches.truncate(1);
        }
        let limit = self.cfg.limits.udp_queue_datagrams;
        for (_, sid) in matches {
            let Some(Kind::Udp(u)) = self.sockets.slots[sid.0].as_mut().map(|s| &mut s.kind) else {
                continue;
            };
            if u.queue.len() >= limit {
                self.counters.count_drop(DropReason::UdpQueueFull);
                continue;
            }
            u.queue.push_back((from, repr.payload.to_vec()));
            self.counters.udp.datagrams_in += 1;
            self.mark_changed(sid);
        }
    }

    /// An ICMP error quoting one of our datagrams: connected sockets learn of it (RFC 1122
    /// section 4.1.3.3), as ECONNREFUSED for port unreachable.
    pub(super) fn udp_icmp_error(
        &mut self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        e: NetError,
    ) {
        let errno = match e {
            NetError::Unreachable(
                DstUnreachable::PORT_UNREACHABLE | DstUnreachable::PROTO_UNREACHABLE,
            ) => Errno::ECONNREFUSED,
            NetError::Unreachable(DstUnreachable::FRAG_REQUIRED) => Errno::EMSGSIZE,
            NetError::Unreachable(DstUnreachable::NET_UNREACHABLE) => Errno::ENETUNREACH,
            NetError::Unreachable(_) => Errno::EHOSTUNREACH,
            NetError::Soft(errno) => errno,
        };
        let target = self.sockets.udp_binds.get(&local.port()).and_then(|v| {
            v.iter()
                .find(|&&(ip, sid)| {
                    (ip == *local.ip() || ip.is_unspecified())
                        && matches!(
                            self.sockets.slots[sid.0].as_ref().map(|s| &s.kind),
                            Some(Kind::Udp(u)) if u.remote == Some(remote)
                        )
                })
                .map(|&(_, sid)| sid)
        });
        match target {
            Some(sid) => {
                self.socket_mut(sid).so_error = Some(errno);
                self.mark_changed(sid);
            }
            None => self.drop_packet(DropReason::IcmpErrorNoMatch),
        }
    }

    /// A datagram of `sid` could not be delivered (ARP failed).
    pub(super) fn udp_network_error(&mut self, sid: SockId, errno: Errno) {
        if let Some(s) = self.sockets.slots.get_mut(sid.0).and_then(Option::as_mut) {
            if matches!(&s.kind, Kind::Udp(u) if u.remote.is_some()) {
                s.so_error = Some(errno);
                self.mark_changed(sid);
            }
        }
    }
}
