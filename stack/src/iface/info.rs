//! `getsockopt(TCP_INFO)` on a host: a connection's [`TcpInfo`] by descriptor, or by its
//! addresses for the connections no descriptor refers to (`ss -i` lists those too).

use core::net::SocketAddrV4;

use super::socket::Kind;
use super::{Errno, Fd, Host};
use crate::tcp::TcpInfo;

impl Host {
    /// `getsockopt(fd, IPPROTO_TCP, TCP_INFO)`: the connection's state, timers, windows,
    /// loss figures and counters. ENOTCONN for a TCP socket with no connection (unbound,
    /// listening, or closed and gone), EOPNOTSUPP for UDP, EBADF for no descriptor.
    pub fn tcp_info(&self, fd: Fd) -> Result<TcpInfo, Errno> {
        let id = self.sock(fd)?;
        match &self.socket_ref(id).kind {
            Kind::TcpConn { id: conn, .. } => self
                .conn_ref(*conn)
                .map(|e| e.conn.info())
                .ok_or(Errno::ENOTCONN),
            Kind::Udp(_) => Err(Errno::EOPNOTSUPP),
            Kind::TcpIdle | Kind::TcpListener(_) => Err(Errno::ENOTCONN),
        }
    }

    /// The [`TcpInfo`] of the connection from `local` to `peer`, whether or not a
    /// descriptor refers to it (one waiting in a listener's queue, or closed by the
    /// application and finishing in the background).
    pub fn tcp_info_of(&self, local: SocketAddrV4, peer: SocketAddrV4) -> Option<TcpInfo> {
        self.tcp
            .conns
            .iter()
            .flatten()
            .find(|e| e.conn.local() == local && e.conn.remote() == peer)
            .map(|e| e.conn.info())
    }
}
