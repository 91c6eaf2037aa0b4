//! Processes and threads of a simulated application, over the host's processes
//! (`sansnet_stack::iface::Host::fork` and friends).
//!
//! A [`Process`] is a handle on one process of a sansnet host, for tasks running on that
//! host: its socket calls use the process's descriptor table, `fork` gives a child that
//! shares every open socket, `exit` closes them all. Threads are tasks counted against the
//! process's thread limit: [`Process::spawn_thread`] fails with `EAGAIN` (as
//! `pthread_create` does) once `max_threads` are alive, so a server that blocks a thread per
//! connection serves at most that many at once, while an event loop runs any number of
//! connections as coroutines ([`crate::exec::spawn`]) on one thread. The main thread counts:
//! a process starts with one live thread.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::net::SocketAddrV4;
use std::rc::Rc;

use sansnet_stack::iface::{Errno, Fd, Host, Pid, SockOpt, SocketType};
use sansnet_stack::time::Instant;

use crate::exec::{self, JoinHandle};
use crate::host::{call, poll_call_as, to_io};
use crate::world::NodeId;

/// Thread counts of one process.
#[derive(Debug)]
struct Threads {
    max: usize,
    live: Cell<usize>,
    peak: Cell<usize>,
    host: Rc<HostThreads>,
}

/// Live threads of every process of one host (that this module started), for reports.
#[derive(Debug, Default)]
pub struct HostThreads {
    live: Cell<usize>,
    peak: Cell<usize>,
}

impl HostThreads {
    /// Threads alive now.
    pub fn live(&self) -> usize {
        self.live.get()
    }

    /// The most threads alive at once.
    pub fn peak(&self) -> usize {
        self.peak.get()
    }

    fn add(&self) {
        self.live.set(self.live.get() + 1);
        self.peak.set(self.peak.get().max(self.live.get()));
    }
}

impl Threads {
    fn new(max: usize, host: Rc<HostThreads>) -> Rc<Threads> {
        host.add();
        Rc::new(Threads {
            max: max.max(1),
            live: Cell::new(1),
            peak: Cell::new(1),
            host,
        })
    }
}

/// Held by a running thread's task: the thread ends when the task does (or is dropped).
struct ThreadGuard(Rc<Threads>);

impl Drop for ThreadGuard {
    fn drop(&mut self) {
        self.0.live.set(self.0.live.get() - 1);
        self.0.host.live.set(self.0.host.live.get() - 1);
    }
}

/// A process of a sansnet host (see the module documentation).
#[derive(Debug, Clone)]
pub struct Process {
    node: NodeId,
    pid: Pid,
    threads: Rc<Threads>,
}

fn host_call<R>(
    node: NodeId,
    pid: Pid,
    f: impl FnOnce(&mut Host, Instant) -> Result<R, Errno>,
) -> Result<R, Errno> {
    call(node, |h, now| h.as_process(pid, |h| f(h, now))?)
}

impl Process {
    /// Process 1 of `node` (which always exists), with at most `max_threads` threads.
    pub fn init(node: NodeId, max_threads: usize, host: Rc<HostThreads>) -> Process {
        Process {
            node,
            pid: Pid::INIT,
            threads: Threads::new(max_threads, host),
        }
    }

    /// Starts a new process named `name` on `node` (an empty descriptor table), with at
    /// most `max_threads` threads.
    pub fn spawn(
        node: NodeId,
        name: &str,
        max_threads: usize,
        host: Rc<HostThreads>,
    ) -> io::Result<Process> {
        let pid = call(node, |h, _| h.spawn_process(name)).map_err(to_io)?;
        Ok(Process {
            node,
            pid,
            threads: Threads::new(max_threads, host),
        })
    }

    /// `fork(2)`: a child sharing every open socket, with one thread (fork copies only the
    /// calling thread) and at most `max_threads` (a worker's shape, as gunicorn's
    /// `--threads`, is the program's choice, not the parent's).
    pub fn fork(&self, max_threads: usize) -> io::Result<Process> {
        let pid = call(self.node, |h, _| h.fork(self.pid)).map_err(to_io)?;
        Ok(Process {
            node: self.node,
            pid,
            threads: Threads::new(max_threads, self.threads.host.clone()),
        })
    }

    /// `_exit(2)`: every descriptor of the process is closed (a socket goes with its last
    /// reference). Its tasks keep running, but their calls fail (ESRCH).
    pub fn exit(&self) -> io::Result<()> {
        call(self.node, |h, now| h.exit(now, self.pid)).map_err(to_io)
    }

    /// Its pid.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Its node.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// Threads alive now (the main thread included).
    pub fn threads(&self) -> usize {
        self.threads.live.get()
    }

    /// The most threads it had alive at once.
    pub fn peak_threads(&self) -> usize {
        self.threads.peak.get()
    }

    /// Starts a thread running `future`, on the calling task's node (which must be the
    /// process's: InvalidInput otherwise). `EAGAIN` (`WouldBlock`) at the thread limit.
    pub fn spawn_thread<T: 'static>(
        &self,
        future: impl Future<Output = T> + 'static,
    ) -> io::Result<JoinHandle<T>> {
        if exec::current_node() != Some(self.node) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a thread starts on its process's node",
            ));
        }
        if self.threads.live.get() >= self.threads.max {
            return Err(to_io(Errno::EAGAIN));
        }
        self.threads.live.set(self.threads.live.get() + 1);
        self.threads
            .peak
            .set(self.threads.peak.get().max(self.threads.live.get()));
        self.threads.host.add();
        let guard = ThreadGuard(self.threads.clone());
        Ok(exec::spawn(async move {
            let _running = guard;
            future.await
        }))
    }

    /// `socket` + `setsockopt(SO_REUSEPORT)` if asked + `bind` + `listen(backlog)`.
    pub fn listen(
        &self,
        addr: SocketAddrV4,
        backlog: usize,
        reuse_port: bool,
    ) -> io::Result<Listener> {
        let fd =
            host_call(self.node, self.pid, |h, _| h.socket(SocketType::Stream)).map_err(to_io)?;
        let listener = self.listener(fd);
        host_call(self.node, self.pid, |h, now| {
            h.setsockopt(now, fd, SockOpt::ReusePort(reuse_port))?;
            h.bind(fd, addr)?;
            h.listen(fd, backlog)
        })
        .map_err(to_io)?;
        Ok(listener)
    }

    /// A handle on listening descriptor `fd` of this process (one inherited by `fork`).
    /// Dropping it closes that descriptor.
    pub fn listener(&self, fd: Fd) -> Listener {
        Listener {
            node: self.node,
            pid: self.pid,
            fd,
        }
    }
}

impl Process {
    /// A handle on connected descriptor `fd` of this process (one inherited by `fork`).
    /// Dropping it closes that descriptor.
    pub fn stream(&self, fd: Fd) -> Stream {
        Stream {
            node: self.node,
            pid: self.pid,
            fd,
        }
    }
}

/// A listening descriptor of one process.
#[derive(Debug)]
pub struct Listener {
    node: NodeId,
    pid: Pid,
    fd: Fd,
}

impl Listener {
    /// The descriptor (the same number in a forked child).
    pub fn fd(&self) -> Fd {
        self.fd
    }

    /// The next connection, as a descriptor of this process.
    pub async fn accept(&self) -> io::Result<(Stream, SocketAddrV4)> {
        let (node, pid, fd) = (self.node, self.pid, self.fd);
        let (conn, peer) = futures::future::poll_fn(|cx| {
            poll_call_as(node, Some(pid), fd, cx, |h, now| h.accept(now, fd))
        })
        .await?;
        Ok((
            Stream {
                node,
                pid,
                fd: conn,
            },
            peer,
        ))
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        close_quietly(self.node, self.pid, self.fd);
    }
}

/// A connected descriptor of one process. Dropping it closes the descriptor (a FIN if it
/// was the connection's last reference).
#[derive(Debug)]
pub struct Stream {
    node: NodeId,
    pid: Pid,
    fd: Fd,
}

impl Stream {
    /// The descriptor.
    pub fn fd(&self) -> Fd {
        self.fd
    }

    /// The process whose descriptor it is.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Reads what is there (waiting for something); `Ok(0)` at end of stream.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let (node, pid, fd) = (self.node, self.pid, self.fd);
        futures::future::poll_fn(|cx| {
            poll_call_as(node, Some(pid), fd, cx, |h, now| h.recv(now, fd, buf))
        })
        .await
    }

    /// Writes all of `data` (waiting for room).
    pub async fn write_all(&self, data: &[u8]) -> io::Result<()> {
        let (node, pid, fd) = (self.node, self.pid, self.fd);
        let mut sent = 0;
        while sent < data.len() {
            let rest = &data[sent..];
            sent += futures::future::poll_fn(|cx| {
                poll_call_as(node, Some(pid), fd, cx, |h, now| h.send(now, fd, rest))
            })
            .await?;
        }
        Ok(())
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        close_quietly(self.node, self.pid, self.fd);
    }
}

/// Closes `fd` of `pid` if the simulation and the process are still there.
fn close_quietly(node: NodeId, pid: Pid, fd: Fd) {
    if exec::try_current().is_some() {
        let _gone_already = host_call(node, pid, |h, now| h.close(now, fd));
    }
}
