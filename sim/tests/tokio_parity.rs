//! One service's source, compiled twice: against `tokio::net` and run on this machine's
//! kernel over loopback, and against `sansnet_sim::net` and run on simulated hosts. The
//! two runs must see the same things. This is the promise `sansnet::net` makes (swap one
//! import, change nothing else) checked on the calls beyond the usual `read`/`write`:
//! `ready(Interest)`, the vectored and `BufMut` tries, `peek`, the halves' own calls,
//! `ttl`, and UDP's peeks and `BufMut` receives. A signature that differs from tokio's
//! fails to compile here.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use pretty_assertions::assert_eq;
use sansnet_sim::{Duration, LinkFaults, Seed, Sim};

/// What the client saw, in order, for comparing runs.
type Seen = Vec<String>;

/// The service: an echo server that uses tokio's readiness calls, and a client that
/// exercises the rest. `$net` is the `net` module to write it against.
macro_rules! service {
    ($($net:ident)::+) => {
        use std::io::{self, IoSlice, IoSliceMut};
        use std::net::SocketAddr;

        use bytes::BytesMut;
        use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
        use $($net)::+ as net;

        /// Binds the server's listener (before the client starts).
        pub async fn listen(at: SocketAddr) -> io::Result<net::TcpListener> {
            let listener = net::TcpListener::bind(at).await?;
            listener.set_ttl(40)?;
            Ok(listener)
        }

        /// Echoes one connection with the `ready`-then-`try_` loop, reading into two
        /// buffers at once and writing them back as two slices; reports the TTL the
        /// accepted stream took from the listener in a last byte.
        pub async fn echo_once(listener: net::TcpListener) -> io::Result<()> {
            let (stream, _) = listener.accept().await?;
            let ttl = u8::try_from(stream.ttl()?).unwrap_or(0);
            let mut pending: Vec<u8> = Vec::new();
            let mut eof = false;
            while !eof || !pending.is_empty() {
                let interest = if pending.is_empty() {
                    Interest::READABLE
                } else {
                    Interest::READABLE | Interest::WRITABLE
                };
                let ready = stream.ready(interest).await?;
                if ready.is_readable() && !eof {
                    let (mut a, mut b) = ([0u8; 5], [0u8; 64]);
                    let mut bufs = [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)];
                    match stream.try_read_vectored(&mut bufs) {
                        Ok(0) => eof = true,
                        Ok(n) => pending.extend_from_slice(&[&a[..], &b[..]].concat()[..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return Err(e),
                    }
                }
                if ready.is_writable() && !pending.is_empty() {
                    let cut = pending.len() / 2;
                    let slices = [IoSlice::new(&pending[..cut]), IoSlice::new(&pending[cut..])];
                    match stream.try_write_vectored(&slices) {
                        Ok(n) => {
                            pending.drain(..n);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            let (_r, mut w) = stream.into_split();
            w.write_all(&[ttl]).await?;
            w.shutdown().await
        }

        /// Talks to the echo server at `to`: a peek, reads into a `BytesMut` on the owned
        /// read half, the halves' tries, the TTL's round trip.
        pub async fn client(to: SocketAddr) -> io::Result<super::Seen> {
            let mut seen = Vec::new();
            let stream = net::TcpStream::connect(to).await?;
            seen.push(format!("default ttl {}", stream.ttl()?));
            stream.set_ttl(7)?;
            seen.push(format!("ttl {}", stream.ttl()?));
            seen.push(format!("ttl 256 {:?}", stream.set_ttl(256).map_err(|e| e.kind())));
            stream.set_quickack(true)?;
            seen.push(format!("quickack {}", stream.quickack()?));
            let (mut r, mut w) = stream.into_split();
            w.write_all(b"hello, world").await?;
            let mut peeked = [0u8; 5];
            let n = r.peek(&mut peeked).await?;
            seen.push(format!("peek {:?}", String::from_utf8_lossy(&peeked[..n])));
            let mut got = BytesMut::with_capacity(64);
            while got.len() < 12 {
                r.readable().await?;
                match r.try_read_buf(&mut got) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            seen.push(format!("echo {:?}", String::from_utf8_lossy(&got)));
            w.ready(Interest::WRITABLE).await?;
            seen.push(format!("try_write {}", w.try_write(b"!")?));
            w.shutdown().await?;
            let mut rest = Vec::new();
            r.read_to_end(&mut rest).await?;
            seen.push(format!("rest {rest:?}"));
            Ok(seen)
        }

        /// A datagram's way: peeks leave it queued, then a `BytesMut` receive takes it.
        pub async fn udp(server_at: SocketAddr, client_at: SocketAddr) -> io::Result<super::Seen> {
            let mut seen = Vec::new();
            let server = net::UdpSocket::bind(server_at).await?;
            let to = server.local_addr()?;
            let client = net::UdpSocket::bind(client_at).await?;
            client.set_ttl(9)?;
            seen.push(format!("udp ttl {}", client.ttl()?));
            client.set_tos_v4(0xb8)?;
            seen.push(format!("udp tos {:#x}", client.tos_v4()?));
            seen.push(format!("broadcast {}", client.broadcast()?));
            client.send_to(b"datagram", to).await?;
            server.ready(Interest::READABLE).await?;
            let sender = server.peek_sender().await?;
            seen.push(format!("sender is client {}", sender == client.local_addr()?));
            let mut small = [0u8; 4];
            let n = server.peek(&mut small).await?;
            seen.push(format!("peek {:?}", String::from_utf8_lossy(&small[..n])));
            let mut whole = [0u8; 16];
            let (n, _) = server.try_peek_from(&mut whole)?;
            seen.push(format!("peek_from {:?}", String::from_utf8_lossy(&whole[..n])));
            let mut buf = BytesMut::with_capacity(16);
            let (n, _) = server.recv_buf_from(&mut buf).await?;
            seen.push(format!("recv_buf_from {n} {:?}", String::from_utf8_lossy(&buf)));
            let mut again = [0u8; 4];
            seen.push(format!("then {:?}", server.try_recv(&mut again).map_err(|e| e.kind())));
            Ok(seen)
        }
    };
}

mod on_tokio {
    service!(tokio::net);
}

mod on_sansnet {
    service!(sansnet_sim::net);
}

fn v4(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(ip, port))
}

/// The service on this machine's kernel, over loopback (ephemeral ports).
fn on_the_kernel() -> (Seen, Seen) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async {
        let listener = on_tokio::listen(v4(Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let at = listener.local_addr().unwrap();
        let server = tokio::spawn(on_tokio::echo_once(listener));
        let seen = on_tokio::client(at).await.unwrap();
        server.await.unwrap().unwrap();
        let udp = on_tokio::udp(v4(Ipv4Addr::LOCALHOST, 0), v4(Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap();
        (seen, udp)
    })
}

/// The same service on two simulated hosts.
fn on_sansnet() -> (Seen, Seen) {
    let server_ip = Ipv4Addr::new(10, 0, 0, 2);
    let mut sim = Sim::new(Seed(28));
    let client = sim.add_host("client", Ipv4Addr::new(10, 0, 0, 1), 24);
    let server = sim.add_host("server", server_ip, 24);
    sim.connect(
        sim.nic(client, 0),
        sim.nic(server, 0),
        LinkFaults::with_latency(Duration::from_millis(1)),
    );
    let listening = sim.spawn_on(server, on_sansnet::listen(v4(Ipv4Addr::UNSPECIFIED, 8080)));
    sim.run_until_complete(&listening).unwrap();
    let listener = listening.take().unwrap().unwrap();
    let served = sim.spawn_on(server, on_sansnet::echo_once(listener));
    let seen = sim.spawn_on(client, on_sansnet::client(v4(server_ip, 8080)));
    sim.run_until_complete(&seen).unwrap();
    sim.run_until_complete(&served).unwrap();
    served.take().unwrap().unwrap();
    let udp = sim.spawn_on(
        client,
        on_sansnet::udp(v4(Ipv4Addr::LOCALHOST, 5353), v4(Ipv4Addr::LOCALHOST, 0)),
    );
    sim.run_until_complete(&udp).unwrap();
    (seen.take().unwrap().unwrap(), udp.take().unwrap().unwrap())
}

fn as_strs((a, b): &(Seen, Seen)) -> (Vec<&str>, Vec<&str>) {
    (
        a.iter().map(String::as_str).collect(),
        b.iter().map(String::as_str).collect(),
    )
}

#[test]
fn the_same_service_sees_the_same_on_the_kernel_and_on_sansnet() {
    let kernel = on_the_kernel();
    // Linux's default TTL is a sysctl (64 unless changed); sansnet's is 64.
    let kernel_default = std::fs::read_to_string("/proc/sys/net/ipv4/ip_default_ttl")
        .ok()
        .and_then(|s| s.trim().parse::<u8>().ok())
        .unwrap_or(64);
    // Written out once, so that a change on either side shows which.
    let expected = (
        vec![
            "default ttl 64",
            "ttl 7",
            "ttl 256 Err(InvalidInput)",
            "quickack true",
            "peek \"hello\"",
            "echo \"hello, world\"",
            "try_write 1",
            "rest [33, 40]",
        ],
        vec![
            "udp ttl 9",
            "udp tos 0xb8",
            "broadcast false",
            "sender is client true",
            "peek \"data\"",
            "peek_from \"datagram\"",
            "recv_buf_from 8 \"datagram\"",
            "then Err(WouldBlock)",
        ],
    );
    let mut on_kernel = as_strs(&kernel);
    let default_line = format!("default ttl {kernel_default}");
    if on_kernel.0.first() == Some(&default_line.as_str()) {
        on_kernel.0[0] = "default ttl 64";
    }
    assert_eq!(on_kernel, expected, "on the kernel");
    assert_eq!(as_strs(&on_sansnet()), expected, "on sansnet");
}
