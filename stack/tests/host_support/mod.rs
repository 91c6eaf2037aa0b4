//! A tiny in-memory network for host tests: hosts, LAN segments (every frame reaches every
//! other port of its segment after a fixed latency), a virtual clock, and a hook that can
//! drop, reorder or record frames.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddrV4};

use sansnet_stack::frame::SharedFrame;
use sansnet_stack::hash::SecretKey;
use sansnet_stack::iface::{Errno, Fd, Host, HostConfig, InterfaceConfig, SocketType};
use sansnet_stack::time::{Duration, Instant};
use sansnet_stack::wire::EthernetAddress;

pub const LATENCY: Duration = Duration::from_millis(1);

/// What the hook decides for a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Deliver,
    Drop,
    /// Deliver after this extra delay (reordering).
    Delay(Duration),
}

pub type Hook = Box<dyn FnMut(usize, &[u8]) -> Verdict>;

pub struct Net {
    pub hosts: Vec<Host>,
    pub now: Instant,
    /// Per segment, its ports `(host, nic)`.
    segments: Vec<Vec<(usize, usize)>>,
    in_flight: Vec<(Instant, u64, usize, usize, Vec<u8>)>,
    seq: u64,
    /// Sees every frame sent, with the sending host's index.
    pub hook: Option<Hook>,
    /// Every frame sent: (time, from host, bytes).
    pub log: Vec<(Instant, usize, Vec<u8>)>,
    /// Hand frames over as `SharedFrame`s (`Host::handle_frame_shared`) instead of slices.
    pub shared_frames: bool,
    /// The shared frames a host kept a reference to when it was handed them.
    pub kept: Vec<SharedFrame>,
    /// Take frames with `Host::poll_transmit_vec` into a buffer of this length instead of
    /// `poll_transmit` into 70,000 bytes.
    pub vec_buffers: Option<usize>,
    /// Frames `poll_transmit_vec` handed over in a buffer of the host's own.
    pub traded: u64,
    /// The largest allocation a frame was handed over in.
    pub traded_capacity_max: usize,
}

pub fn mac(host: u8, nic: u8) -> EthernetAddress {
    EthernetAddress([0x02, 0, 0, 0, host, nic])
}

pub fn iface(host: u8, nic: u8, addr: [u8; 4], prefix_len: u8) -> InterfaceConfig {
    InterfaceConfig {
        mac: mac(host, nic),
        addr: Ipv4Addr::from(addr),
        prefix_len,
        mtu: 1500,
    }
}

/// A host with one NIC on 10.0.0.0/24 at 10.0.0.`n`.
pub fn host_config(n: u8) -> HostConfig {
    HostConfig {
        name: format!("h{n}"),
        interfaces: vec![iface(n, 0, [10, 0, 0, n], 24)],
        secret: SecretKey([n; 16]),
        ..HostConfig::default()
    }
}

pub fn addr(n: u8, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, n), port)
}

impl Net {
    pub fn new(hosts: Vec<HostConfig>) -> Net {
        Net {
            hosts: hosts.into_iter().map(Host::new).collect(),
            now: Instant::ZERO,
            segments: Vec::new(),
            in_flight: Vec::new(),
            seq: 0,
            hook: None,
            log: Vec::new(),
            shared_frames: false,
            kept: Vec::new(),
            vec_buffers: None,
            traded: 0,
            traded_capacity_max: 0,
        }
    }

    /// Hosts `10.0.0.n` for each `n`, all on one segment.
    pub fn lan(ns: &[u8]) -> Net {
        let mut net = Net::new(ns.iter().map(|&n| host_config(n)).collect());
        net.segment((0..ns.len()).map(|h| (h, 0)).collect());
        net
    }

    pub fn segment(&mut self, ports: Vec<(usize, usize)>) {
        self.segments.push(ports);
    }

    fn segment_of(&self, host: usize, nic: usize) -> Option<&Vec<(usize, usize)>> {
        self.segments.iter().find(|s| s.contains(&(host, nic)))
    }

    /// Sends whatever the hosts have; returns whether anything moved.
    fn flush(&mut self) -> bool {
        let mut moved = false;
        let mut buf = vec![0u8; self.vec_buffers.unwrap_or(70_000)];
        for h in 0..self.hosts.len() {
            loop {
                let before = buf.as_ptr();
                let polled = match self.vec_buffers {
                    Some(_) => self.hosts[h].poll_transmit_vec(self.now, &mut buf),
                    None => self.hosts[h].poll_transmit(self.now, &mut buf),
                };
                let Some((nic, len)) = polled else {
                    break;
                };
                if let Some(want) = self.vec_buffers {
                    assert!(buf.len() >= want, "the buffer came back shorter");
                    if buf.as_ptr() != before {
                        self.traded += 1;
                        self.traded_capacity_max = self.traded_capacity_max.max(buf.capacity());
                    }
                }
                moved = true;
                let frame = buf[..len].to_vec();
                self.log.push((self.now, h, frame.clone()));
                let verdict = match self.hook.as_mut() {
                    Some(hook) => hook(h, &frame),
                    None => Verdict::Deliver,
                };
                let extra = match verdict {
                    Verdict::Drop => continue,
                    Verdict::Deliver => Duration::ZERO,
                    Verdict::Delay(d) => d,
                };
                let Some(ports) = self.segment_of(h, nic).cloned() else {
                    continue;
                };
                for (oh, onic) in ports {
                    if oh != h {
                        self.seq += 1;
                        let at = self.now + LATENCY + extra;
                        self.in_flight.push((at, self.seq, oh, onic, frame.clone()));
                    }
                }
            }
        }
        moved
    }

    /// Runs one step: flush, deliver due frames, or jump the clock (never past
    /// `deadline`). False when nothing happens before the deadline.
    pub fn step(&mut self, deadline: Instant) -> bool {
        if self.flush() {
            return true;
        }
        self.in_flight.sort_by_key(|f| (f.0, f.1));
        if let Some(first) = self.in_flight.first() {
            if first.0 <= self.now {
                let (_, _, h, nic, frame) = self.in_flight.remove(0);
                if self.shared_frames {
                    let frame = SharedFrame::new(frame);
                    self.hosts[h].handle_frame_shared(self.now, nic, &frame);
                    if !frame.is_unique() {
                        self.kept.push(frame);
                    }
                } else {
                    self.hosts[h].handle_frame(self.now, nic, &frame);
                }
                return true;
            }
        }
        let next_frame = self.in_flight.first().map(|f| f.0);
        let next_timer = self.hosts.iter().filter_map(|h| h.poll_timeout()).min();
        let next = match (next_frame, next_timer) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(t) => t,
                None => return false,
            },
        };
        if next > deadline {
            self.now = self.now.max(deadline);
            return false;
        }
        if next > self.now {
            self.now = next;
        }
        let now = self.now;
        for h in &mut self.hosts {
            if h.poll_timeout().is_some_and(|t| t <= now) {
                h.handle_timeout(now);
            }
        }
        true
    }

    /// Steps until `done` or until `limit` of virtual time passes. Returns `done`'s value.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&mut Net) -> bool) -> bool {
        let deadline = self.now + limit;
        for _ in 0..2_000_000 {
            if done(self) {
                return true;
            }
            if !self.step(deadline) {
                // Idle: let time pass to the deadline.
                self.now = deadline;
                return done(self);
            }
            if self.now > deadline {
                return done(self);
            }
        }
        panic!("too many steps");
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let deadline = self.now + d;
        self.run_until(d, |n| n.now >= deadline);
    }

    pub fn h(&mut self, i: usize) -> &mut Host {
        &mut self.hosts[i]
    }

    // Socket shortcuts, at the current time.

    pub fn tcp_listener(&mut self, h: usize, port: u16, backlog: usize) -> Fd {
        let host = &mut self.hosts[h];
        let fd = host.socket(SocketType::Stream).unwrap();
        host.bind(fd, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
            .unwrap();
        host.listen(fd, backlog).unwrap();
        fd
    }

    pub fn tcp_connect(&mut self, h: usize, to: SocketAddrV4) -> Fd {
        let now = self.now;
        let host = &mut self.hosts[h];
        let fd = host.socket(SocketType::Stream).unwrap();
        assert_eq!(host.connect(now, fd, to), Err(Errno::EINPROGRESS));
        fd
    }

    /// Accepts within `limit`.
    pub fn accept(&mut self, h: usize, listener: Fd) -> Option<(Fd, SocketAddrV4)> {
        let mut got = None;
        self.run_until(Duration::from_secs(10), |n| {
            let now = n.now;
            match n.hosts[h].accept(now, listener) {
                Ok(x) => {
                    got = Some(x);
                    true
                }
                Err(Errno::EAGAIN) => false,
                Err(e) => panic!("accept: {e}"),
            }
        });
        got
    }

    /// Waits until connect completes; returns its outcome.
    pub fn wait_connected(&mut self, h: usize, fd: Fd, limit: Duration) -> Result<(), Errno> {
        let mut result = Err(Errno::EINPROGRESS);
        self.run_until(limit, |n| {
            let now = n.now;
            let to = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 1);
            result = n.hosts[h].connect(now, fd, to);
            result != Err(Errno::EINPROGRESS)
        });
        result
    }

    /// Sends all of `data` (waiting for room as needed).
    pub fn send_all(&mut self, h: usize, fd: Fd, data: &[u8]) {
        let mut sent = 0;
        let ok = self.run_until(Duration::from_secs(60), |n| {
            let now = n.now;
            while sent < data.len() {
                match n.hosts[h].send(now, fd, &data[sent..]) {
                    Ok(k) => sent += k,
                    Err(Errno::EAGAIN) => return false,
                    Err(e) => panic!("send: {e}"),
                }
            }
            true
        });
        assert!(ok, "send_all stalled at {sent} of {}", data.len());
    }

    /// Reads until `want` bytes or end of stream (or an error).
    pub fn recv_n(&mut self, h: usize, fd: Fd, want: usize) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        let mut err = None;
        let mut eof = false;
        self.run_until(Duration::from_secs(60), |n| {
            let now = n.now;
            let mut buf = [0u8; 4096];
            loop {
                match n.hosts[h].recv(now, fd, &mut buf) {
                    Ok(0) => {
                        eof = true;
                        return true;
                    }
                    Ok(k) => {
                        out.extend_from_slice(&buf[..k]);
                        if out.len() >= want {
                            return true;
                        }
                    }
                    Err(Errno::EAGAIN) => return false,
                    Err(e) => {
                        err = Some(e);
                        return true;
                    }
                }
            }
        });
        match err {
            Some(e) if out.is_empty() => Err(e),
            _ => {
                let _ = eof;
                Ok(out)
            }
        }
    }
}

// Raw frames, for injecting what no socket would send.

use sansnet_stack::wire::{ethernet, icmpv4, ipv4, udp, ChecksumMode, EtherType};

pub fn ip_repr(src: Ipv4Addr, dst: Ipv4Addr, protocol: ipv4::IpProtocol, len: usize) -> ipv4::Repr {
    ipv4::Repr {
        src_addr: src,
        dst_addr: dst,
        protocol,
        payload_len: len,
        ttl: 64,
        dscp: 0,
        ecn: 0,
        ident: 0x1234,
        dont_frag: false,
        more_frags: false,
        frag_offset: 0,
        options: ipv4::Ipv4Options::EMPTY,
    }
}

/// An Ethernet frame carrying `ip` and `payload` (the IP payload, already serialized).
pub fn ip_frame(
    src: EthernetAddress,
    dst: EthernetAddress,
    ip: &ipv4::Repr,
    payload: &[u8],
) -> Vec<u8> {
    let eth = ethernet::Repr {
        src_addr: src,
        dst_addr: dst,
        vlan: None,
        ethertype: EtherType::IPV4,
    };
    let ip = ipv4::Repr {
        payload_len: payload.len(),
        ..*ip
    };
    let mut f = vec![0u8; 14 + ip.buffer_len()];
    eth.emit(&mut ethernet::Frame::new_unchecked(&mut f[..]));
    ip.emit(&mut ipv4::Packet::new_unchecked(&mut f[14..]));
    f[14 + ip.header_len()..].copy_from_slice(payload);
    f
}

pub fn udp_bytes(src: SocketAddrV4, dst: SocketAddrV4, data: &[u8]) -> Vec<u8> {
    let r = udp::Repr {
        src_port: src.port(),
        dst_port: dst.port(),
        payload: data,
    };
    let mut b = vec![0u8; r.buffer_len()];
    r.emit(
        &mut udp::Packet::new_unchecked(&mut b[..]),
        *src.ip(),
        *dst.ip(),
    );
    b
}

pub fn echo_request(ident: u16, seq_no: u16, data: &[u8]) -> Vec<u8> {
    let r = icmpv4::Repr::EchoRequest {
        ident,
        seq_no,
        data,
    };
    let mut b = vec![0u8; r.buffer_len()];
    r.emit(&mut icmpv4::Packet::new_unchecked(&mut b[..]));
    b
}

/// The IPv4 header and payload of an Ethernet frame, if it carries IPv4.
pub fn parse_ip(frame: &[u8]) -> Option<(ipv4::Repr, Vec<u8>)> {
    let f = ethernet::Frame::new_checked(frame).ok()?;
    if f.ethertype() != EtherType::IPV4 {
        return None;
    }
    let p = ipv4::Packet::new_checked(f.payload()).ok()?;
    let r = ipv4::Repr::parse(&p, ChecksumMode::Verify).ok()?;
    Some((r, p.payload().to_vec()))
}

/// The ICMP messages in the log sent by `host`, as (type, code).
pub fn icmp_sent(net: &Net, host: usize) -> Vec<(u8, u8)> {
    net.log
        .iter()
        .filter(|(_, h, _)| *h == host)
        .filter_map(|(_, _, f)| parse_ip(f))
        .filter(|(ip, _)| ip.protocol == ipv4::IpProtocol::ICMP)
        .map(|(_, p)| (p[0], p[1]))
        .collect()
}
