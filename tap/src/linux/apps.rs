//! The applications on the sansnet host: non-blocking socket calls, stepped by the loop.

use std::collections::VecDeque;
use std::net::SocketAddrV4;

use sansnet_stack::iface::{Errno, Fd, Host, Shutdown, SocketType};
use sansnet_stack::time::Instant;

use crate::pattern::Hasher;
use crate::{Error, Source, StreamCheck, StreamSummary};

/// Bytes an echo holds between reading and writing back at most (its reading stops when
/// it is full, so the window closes: back-pressure, as an echo server's would).
const ECHO_BUFFER: usize = 256 * 1024;

fn socket_err(call: &'static str) -> impl FnOnce(Errno) -> Error {
    move |errno| Error::Socket { call, errno }
}

/// What a connection does with its bytes.
#[derive(Debug)]
pub(crate) enum Work {
    /// Sends `source`, checks what arrives against `check`, both at once.
    Transfer {
        source: Box<Source>,
        check: Box<StreamCheck>,
    },
    /// Sends back what arrives, checked against `check` on the way through.
    Echo { check: Box<StreamCheck> },
    /// Sends back what arrives (an external peer's bytes: nothing to check them against).
    EchoUnchecked,
    /// Reads and discards (an external peer's bytes).
    Discard,
}

/// One connection of the sansnet host.
#[derive(Debug)]
pub(crate) struct Conn {
    fd: Fd,
    work: Work,
    echo: VecDeque<u8>,
    connected: bool,
    got_eof: bool,
    sent_fin: bool,
    closed: bool,
    sent_bytes: u64,
    sent_hash: Hasher,
    received_bytes: u64,
    received_hash: Hasher,
}

impl Conn {
    pub(crate) fn new(fd: Fd, work: Work, connected: bool) -> Conn {
        Conn {
            fd,
            work,
            echo: VecDeque::new(),
            connected,
            got_eof: false,
            sent_fin: false,
            closed: false,
            sent_bytes: 0,
            sent_hash: Hasher::new(),
            received_bytes: 0,
            received_hash: Hasher::new(),
        }
    }

    /// Both directions finished: the peer's FIN read, ours sent.
    pub(crate) fn is_done(&self) -> bool {
        self.got_eof && self.sent_fin
    }

    pub(crate) fn sent(&self) -> StreamSummary {
        StreamSummary {
            bytes: self.sent_bytes,
            xxh3: self.sent_hash.digest(),
        }
    }

    pub(crate) fn received(&self) -> StreamSummary {
        StreamSummary {
            bytes: self.received_bytes,
            xxh3: self.received_hash.digest(),
        }
    }

    /// Progress in words, for a timeout.
    pub(crate) fn progress(&self) -> String {
        let expected = |c: &StreamCheck| format!("/{}", c.expected_len());
        let (sent_of, recv_of) = match &self.work {
            Work::Transfer { source, check } => {
                let total = source.total();
                (format!("/{total}"), expected(check))
            }
            Work::Echo { check } => (expected(check), expected(check)),
            Work::EchoUnchecked | Work::Discard => (String::new(), String::new()),
        };
        format!(
            "sansnet sent {}{sent_of} bytes{} and received {}{recv_of}{}",
            self.sent_bytes,
            if self.sent_fin { " and its FIN" } else { "" },
            self.received_bytes,
            if self.got_eof { " and the FIN" } else { "" },
        )
    }

    /// Does what can be done without blocking. Returns whether anything happened.
    pub(crate) fn step(
        &mut self,
        now: Instant,
        host: &mut Host,
        buf: &mut [u8],
    ) -> Result<bool, Error> {
        if self.closed {
            return Ok(false);
        }
        if !self.connected {
            let ready = host.readiness(self.fd).map_err(socket_err("poll"))?;
            if ready.error {
                let errno = host
                    .take_error(self.fd)
                    .map_err(socket_err("connect"))?
                    .unwrap_or(Errno::ECONNREFUSED);
                return Err(Error::Socket {
                    call: "connect",
                    errno,
                });
            }
            if ready.hang_up {
                return Err(Error::Socket {
                    call: "connect",
                    errno: Errno::ECONNREFUSED,
                });
            }
            if !ready.writable {
                return Ok(false);
            }
            self.connected = true;
        }
        let mut progress = false;
        // Receive.
        while !self.got_eof {
            let room = match self.work {
                Work::Echo { .. } | Work::EchoUnchecked => ECHO_BUFFER - self.echo.len(),
                _ => buf.len(),
            }
            .min(buf.len());
            if room == 0 {
                break;
            }
            match host.recv(now, self.fd, &mut buf[..room]) {
                Ok(0) => {
                    self.got_eof = true;
                    progress = true;
                    match &self.work {
                        Work::Transfer { check, .. } | Work::Echo { check } => {
                            check.finish()?;
                        }
                        Work::EchoUnchecked | Work::Discard => {}
                    }
                }
                Ok(n) => {
                    progress = true;
                    let data = &buf[..n];
                    match &mut self.work {
                        Work::Transfer { check, .. } => check.feed(data)?,
                        Work::Echo { check } => {
                            check.feed(data)?;
                            self.echo.extend(data);
                        }
                        Work::EchoUnchecked => self.echo.extend(data),
                        Work::Discard => {}
                    }
                    self.received_hash.update(data);
                    self.received_bytes += n as u64;
                }
                Err(Errno::EAGAIN) => break,
                Err(e) => {
                    return Err(Error::Socket {
                        call: "recv",
                        errno: e,
                    })
                }
            }
        }
        // Send.
        let mut all_sent = false;
        if let Work::Transfer { source, .. } = &mut self.work {
            loop {
                let chunk = source.pending();
                if chunk.is_empty() {
                    all_sent = true;
                    break;
                }
                let n = match host.send(now, self.fd, chunk) {
                    Ok(n) => n,
                    Err(Errno::EAGAIN) => 0,
                    Err(e) => {
                        return Err(Error::Socket {
                            call: "send",
                            errno: e,
                        })
                    }
                };
                if n == 0 {
                    break;
                }
                self.sent_hash.update(&chunk[..n]);
                self.sent_bytes += n as u64;
                source.consume(n);
                progress = true;
            }
        } else if matches!(self.work, Work::Echo { .. } | Work::EchoUnchecked) {
            while !self.echo.is_empty() {
                let (front, _) = self.echo.as_slices();
                let n = match host.send(now, self.fd, front) {
                    Ok(n) => n,
                    Err(Errno::EAGAIN) => 0,
                    Err(e) => {
                        return Err(Error::Socket {
                            call: "send",
                            errno: e,
                        })
                    }
                };
                if n == 0 {
                    break;
                }
                self.sent_hash.update(&front[..n]);
                self.sent_bytes += n as u64;
                self.echo.drain(..n);
                progress = true;
            }
            all_sent = self.got_eof && self.echo.is_empty();
        } else {
            all_sent = self.got_eof;
        }
        if all_sent && !self.sent_fin {
            host.shutdown(now, self.fd, Shutdown::Write)
                .map_err(socket_err("shutdown"))?;
            self.sent_fin = true;
            progress = true;
        }
        Ok(progress)
    }

    /// Closes the descriptor (the host finishes the connection in the background).
    pub(crate) fn close(&mut self, now: Instant, host: &mut Host) {
        if !self.closed {
            self.closed = true;
            // EBADF cannot happen: the descriptor is ours and open.
            let _ = host.close(now, self.fd);
        }
    }
}

/// What the server makes of each connection it accepts.
pub(crate) type MakeWork = Box<dyn FnMut() -> Work>;

/// The sansnet side of a run.
pub(crate) enum App {
    /// A listener and its connections.
    Server {
        listener: Fd,
        make: MakeWork,
        /// Connections to accept at most (`None`: any number).
        limit: Option<u64>,
        accepted: u64,
        conns: Vec<Conn>,
        /// Finished connections: (sent, received).
        done: Vec<(StreamSummary, StreamSummary)>,
    },
    /// One connection to a kernel server.
    Client { conn: Box<Conn> },
}

impl App {
    /// A server listening on `addr`.
    pub(crate) fn server(
        host: &mut Host,
        addr: SocketAddrV4,
        make: MakeWork,
        limit: Option<u64>,
    ) -> Result<App, Error> {
        let fd = host
            .socket(SocketType::Stream)
            .map_err(socket_err("socket"))?;
        host.bind(fd, addr).map_err(socket_err("bind"))?;
        host.listen(fd, 128).map_err(socket_err("listen"))?;
        Ok(App::Server {
            listener: fd,
            make,
            limit,
            accepted: 0,
            conns: Vec::new(),
            done: Vec::new(),
        })
    }

    /// A client connecting to `addr`.
    pub(crate) fn client(
        now: Instant,
        host: &mut Host,
        addr: SocketAddrV4,
        work: Work,
    ) -> Result<App, Error> {
        let fd = host
            .socket(SocketType::Stream)
            .map_err(socket_err("socket"))?;
        match host.connect(now, fd, addr) {
            Ok(()) | Err(Errno::EINPROGRESS) => {}
            Err(e) => {
                return Err(Error::Socket {
                    call: "connect",
                    errno: e,
                })
            }
        }
        Ok(App::Client {
            conn: Box::new(Conn::new(fd, work, false)),
        })
    }

    /// Does what can be done without blocking. Returns whether anything happened.
    pub(crate) fn step(
        &mut self,
        now: Instant,
        host: &mut Host,
        buf: &mut [u8],
    ) -> Result<bool, Error> {
        match self {
            App::Client { conn } => {
                let progress = conn.step(now, host, buf)?;
                if conn.is_done() {
                    conn.close(now, host);
                }
                Ok(progress)
            }
            App::Server {
                listener,
                make,
                limit,
                accepted,
                conns,
                done,
            } => {
                let mut progress = false;
                while limit.is_none_or(|l| *accepted < l) {
                    match host.accept(now, *listener) {
                        Ok((fd, _peer)) => {
                            *accepted += 1;
                            conns.push(Conn::new(fd, make(), true));
                            progress = true;
                        }
                        Err(Errno::EAGAIN) => break,
                        Err(e) => {
                            return Err(Error::Socket {
                                call: "accept",
                                errno: e,
                            })
                        }
                    }
                }
                let external = limit.is_none();
                let mut i = 0;
                while i < conns.len() {
                    let result = conns[i].step(now, host, buf);
                    match result {
                        Ok(p) => progress |= p,
                        // An external peer that resets its connection ends that one, not
                        // the server.
                        Err(Error::Socket { .. }) if external => {
                            conns[i].close(now, host);
                            let c = conns.remove(i);
                            done.push((c.sent(), c.received()));
                            continue;
                        }
                        Err(e) => return Err(e),
                    }
                    if conns[i].is_done() {
                        conns[i].close(now, host);
                        let c = conns.remove(i);
                        done.push((c.sent(), c.received()));
                        progress = true;
                        continue;
                    }
                    i += 1;
                }
                Ok(progress)
            }
        }
    }

    /// Whether the expected connections are all done (never, for a server of any number).
    pub(crate) fn is_done(&self) -> bool {
        match self {
            App::Client { conn } => conn.is_done(),
            App::Server {
                limit,
                accepted,
                conns,
                ..
            } => limit.is_some_and(|l| *accepted >= l) && conns.is_empty(),
        }
    }

    /// The totals over the connections: (sent, received, connections). Hashes are those of
    /// the first connection (the only one, with a built-in peer).
    pub(crate) fn totals(&self) -> (StreamSummary, StreamSummary, u64) {
        match self {
            App::Client { conn } => (conn.sent(), conn.received(), 1),
            App::Server { conns, done, .. } => {
                let mut all: Vec<(StreamSummary, StreamSummary)> = done.clone();
                all.extend(conns.iter().map(|c| (c.sent(), c.received())));
                let Some(&(first_sent, first_received)) = all.first() else {
                    let zero = StreamSummary { bytes: 0, xxh3: 0 };
                    return (zero, zero, 0);
                };
                let sum = |f: fn(&(StreamSummary, StreamSummary)) -> u64| all.iter().map(f).sum();
                (
                    StreamSummary {
                        bytes: sum(|c| c.0.bytes),
                        xxh3: first_sent.xxh3,
                    },
                    StreamSummary {
                        bytes: sum(|c| c.1.bytes),
                        xxh3: first_received.xxh3,
                    },
                    all.len() as u64,
                )
            }
        }
    }

    /// Progress in words, for a timeout.
    pub(crate) fn progress(&self) -> String {
        match self {
            App::Client { conn } => {
                if conn.connected {
                    conn.progress()
                } else {
                    "sansnet's connect has not completed".into()
                }
            }
            App::Server {
                conns, accepted, ..
            } => match conns.first() {
                Some(c) => c.progress(),
                None if *accepted == 0 => "sansnet accepted no connection".into(),
                None => "sansnet's connections are done".into(),
            },
        }
    }
}
