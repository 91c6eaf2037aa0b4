//! Processes: per-process descriptor tables over the host's open file descriptions.
//!
//! POSIX has three levels, and so does a host: each process has a descriptor table (small
//! integers, lowest free first, at most the process's `RLIMIT_NOFILE`: EMFILE past it);
//! a descriptor points at an open file description, host-wide (here a socket of the
//! host's socket table, which counts the descriptors that refer to it in every process; at
//! most `Limits::max_open_files` of them: ENFILE past it); and the description owns the
//! socket and its connection. `dup`, `dup2` and `fork` add references to a description;
//! `close` and `exit` drop them, and a socket is released (its connection closed with a
//! FIN) only with its last reference. That is why a prefork server's parent can close a
//! connection after `fork` without the client seeing anything: the child still holds it.
//!
//! Process 1 exists from the start and cannot exit (as init cannot). Every socket call that
//! names no process (`Host::socket`, `Host::send`, ...) runs as process 1, so code written
//! for one table per host keeps working; [`Host::as_process`] runs calls as another, as a
//! kernel runs a system call in the context of the calling task.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::SocketAddrV4;

use super::socket::SockId;
use super::{Errno, Fd, Host, Interest, Pid, Proto, SocketInfo, SocketState};
use crate::time::Instant;

/// Bytes of a process name kept, as Linux keeps 15 (`TASK_COMM_LEN` less the NUL): names
/// have a bound like every other table entry.
pub const PROCESS_NAME_MAX_LEN: usize = 15;

/// One process: its name and its descriptor table.
#[derive(Debug, Clone)]
pub(crate) struct Process {
    pub name: String,
    pub parent: Option<Pid>,
    /// Descriptor `i` refers to socket `fds[i]`; `None` is a free slot.
    pub fds: Vec<Option<SockId>>,
    /// The free slots of `fds` (all below its length), so the lowest is found in log time.
    pub free_fds: BTreeSet<usize>,
    /// The selector's interests (an epoll instance per process).
    pub registered: BTreeMap<Fd, Interest>,
    /// `RLIMIT_NOFILE`: descriptors at most (EMFILE past it).
    pub max_descriptors: usize,
}

impl Process {
    pub(crate) fn new(name: &str, parent: Option<Pid>, max_descriptors: usize) -> Process {
        Process {
            name: truncated_name(name),
            parent,
            fds: Vec::new(),
            free_fds: BTreeSet::new(),
            registered: BTreeMap::new(),
            max_descriptors,
        }
    }

    /// The open descriptors, ascending, with their sockets.
    pub(crate) fn open_fds(&self) -> impl Iterator<Item = (Fd, SockId)> + '_ {
        self.fds
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|id| (Fd(i as u32), id)))
    }

    pub(crate) fn open_count(&self) -> usize {
        self.fds.len() - self.free_fds.len()
    }
}

fn truncated_name(name: &str) -> String {
    let mut end = name.len().min(PROCESS_NAME_MAX_LEN);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    String::from(&name[..end])
}

/// One row of [`Host::processes`]: what `ps -o pid,ppid,comm` and `ulimit -n` would say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// The process.
    pub pid: Pid,
    /// Its parent (`None` for process 1).
    pub parent: Option<Pid>,
    /// Its name (at most [`PROCESS_NAME_MAX_LEN`] bytes).
    pub name: String,
    /// Open descriptors.
    pub open_fds: usize,
    /// Its descriptor limit (`RLIMIT_NOFILE`).
    pub max_descriptors: usize,
}

/// One entry of a `/proc/<pid>/fd` listing ([`Host::proc_fds`]): `3 -> socket:[7]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcFd {
    /// The descriptor.
    pub fd: Fd,
    /// The socket's inode number: descriptors with the same one share an open file
    /// description (after `dup` or `fork`).
    pub inode: u64,
}

impl fmt::Display for ProcFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> socket:[{}]", self.fd.0, self.inode)
    }
}

/// A process that holds a socket, as `ss -p` shows it: `("name",pid=2,fd=3)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketUser {
    /// The process's name.
    pub name: String,
    /// The process.
    pub pid: Pid,
    /// Its descriptor for the socket.
    pub fd: Fd,
}

/// One row of [`Host::ss_processes`]: an `ss -tuanp` row, with every process holding the
/// socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketProcessInfo {
    /// The socket (its `fds` are process 1's).
    pub socket: SocketInfo,
    /// The socket's inode number; 0 for a connection no descriptor refers to.
    pub inode: u64,
    /// The holders, by pid then descriptor; empty for a connection no process holds.
    pub users: Vec<SocketUser>,
}

fn state_name(state: SocketState) -> &'static str {
    match state {
        SocketState::Unconnected => "UNCONN",
        SocketState::Listen => "LISTEN",
        SocketState::Tcp(s) => s.rfc_name(),
        SocketState::Udp => "UNCONN",
    }
}

fn addr_or_star(a: Option<SocketAddrV4>) -> String {
    use alloc::string::ToString;
    a.map_or(String::from("*:*"), |a| a.to_string())
}

impl fmt::Display for SocketProcessInfo {
    /// `ss -tuanp`'s columns: Netid State Recv-Q Send-Q Local Peer Process.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.socket;
        let netid = match s.proto {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        };
        write!(
            f,
            "{:<5} {:<12} {:>6} {:>6} {:<21} ",
            netid,
            state_name(s.state),
            s.recv_q,
            s.send_q,
            addr_or_star(s.local),
        )?;
        let peer = addr_or_star(s.peer);
        if self.users.is_empty() {
            return f.write_str(&peer);
        }
        write!(f, "{peer:<21}")?;
        {
            f.write_str(" users:(")?;
            for (i, u) in self.users.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "(\"{}\",pid={},fd={})", u.name, u.pid, u.fd.0)?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// One row of [`Host::lsof`]: `lsof -i -n -P`'s columns for one descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LsofRow {
    /// The process's name (`COMMAND`).
    pub command: String,
    /// The process.
    pub pid: Pid,
    /// The descriptor.
    pub fd: Fd,
    /// The socket's inode number (`DEVICE`/`NODE` in lsof's terms).
    pub inode: u64,
    /// The socket as `ss` shows it (its `fds` are process 1's).
    pub socket: SocketInfo,
}

impl fmt::Display for LsofRow {
    /// `COMMAND PID FD TYPE NODE NAME`, NAME as lsof writes it: `10.0.0.1:80 (LISTEN)` or
    /// `10.0.0.1:80->10.0.0.2:49152 (ESTABLISHED)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.socket;
        let proto = match s.proto {
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
        };
        write!(
            f,
            "{:<15} {:>5} {:>4}u IPv4 {:>6} {} {}",
            self.command,
            self.pid,
            self.fd.0,
            self.inode,
            proto,
            addr_or_star(s.local)
        )?;
        if let Some(peer) = s.peer {
            write!(f, "->{peer}")?;
        }
        match s.state {
            SocketState::Udp => Ok(()),
            st => write!(f, " ({})", state_name(st)),
        }
    }
}

impl Host {
    pub(super) fn cur(&self) -> &Process {
        self.processes
            .get(&self.current)
            .expect("the current process exists")
    }

    pub(super) fn cur_mut(&mut self) -> &mut Process {
        self.processes
            .get_mut(&self.current)
            .expect("the current process exists")
    }

    fn process_ref(&self, pid: Pid) -> Result<&Process, Errno> {
        self.processes.get(&pid).ok_or(Errno::ESRCH)
    }

    /// A new pid, or EAGAIN when the process table is full (as `fork(2)` says for
    /// `RLIMIT_NPROC`). Pids are not reused within a host's life: a bound of `u32` pids is
    /// more than a simulation reaches, and a stale pid then never names a new process.
    fn new_pid(&mut self) -> Result<Pid, Errno> {
        if self.processes.len() >= self.cfg.limits.max_processes {
            return Err(Errno::EAGAIN);
        }
        let pid = Pid(self.next_pid);
        self.next_pid = self.next_pid.checked_add(1).ok_or(Errno::EAGAIN)?;
        Ok(pid)
    }

    /// Runs `f` (socket calls on this host) as process `pid`: every descriptor `f` names,
    /// allocates or closes is in `pid`'s table. ESRCH if there is no such process.
    pub fn as_process<R>(&mut self, pid: Pid, f: impl FnOnce(&mut Host) -> R) -> Result<R, Errno> {
        self.process_ref(pid)?;
        let before = core::mem::replace(&mut self.current, pid);
        let r = f(self);
        // `f` may have made `pid` exit; fall back to process 1, which always exists.
        self.current = if self.processes.contains_key(&before) {
            before
        } else {
            Pid::INIT
        };
        Ok(r)
    }

    /// Starts a process named `name` with an empty descriptor table, a child of process 1
    /// (as a program started by init, whose descriptors are close-on-exec).
    pub fn spawn_process(&mut self, name: &str) -> Result<Pid, Errno> {
        let pid = self.new_pid()?;
        let limit = self.cfg.limits.max_descriptors;
        self.processes
            .insert(pid, Process::new(name, Some(Pid::INIT), limit));
        Ok(pid)
    }

    /// `fork(2)`: a child of `parent` with a copy of its descriptor table, every descriptor
    /// sharing the parent's open file description (one more reference each), the same
    /// name, limit and selector interests.
    pub fn fork(&mut self, parent: Pid) -> Result<Pid, Errno> {
        self.process_ref(parent)?;
        let pid = self.new_pid()?;
        let mut child = self.process_ref(parent)?.clone();
        child.parent = Some(parent);
        for (_, id) in child.open_fds() {
            self.socket_mut(id).refs += 1;
        }
        self.processes.insert(pid, child);
        Ok(pid)
    }

    /// `_exit(2)`: closes every descriptor of `pid`, lowest first (each socket whose last
    /// reference goes is released, its connection closed), and removes the process; its
    /// children become process 1's. Process 1 cannot exit (EPERM).
    pub fn exit(&mut self, now: Instant, pid: Pid) -> Result<(), Errno> {
        if pid == Pid::INIT {
            return Err(Errno::EPERM);
        }
        let fds: Vec<Fd> = self
            .process_ref(pid)?
            .open_fds()
            .map(|(fd, _)| fd)
            .collect();
        for fd in fds {
            self.close_in(now, pid, fd)?;
        }
        self.processes.remove(&pid);
        for p in self.processes.values_mut() {
            if p.parent == Some(pid) {
                p.parent = Some(Pid::INIT);
            }
        }
        if self.current == pid {
            self.current = Pid::INIT;
        }
        Ok(())
    }

    /// Renames a process (`prctl(PR_SET_NAME)`), keeping at most
    /// [`PROCESS_NAME_MAX_LEN`] bytes.
    pub fn set_process_name(&mut self, pid: Pid, name: &str) -> Result<(), Errno> {
        let p = self.processes.get_mut(&pid).ok_or(Errno::ESRCH)?;
        p.name = truncated_name(name);
        Ok(())
    }

    /// `setrlimit(RLIMIT_NOFILE)`: the most descriptors `pid` may hold. Unlike Linux, a
    /// limit below the highest open descriptor is EINVAL: the table's length stays within
    /// its bound, which the host's invariants check.
    pub fn set_max_descriptors(&mut self, pid: Pid, limit: usize) -> Result<(), Errno> {
        let p = self.processes.get_mut(&pid).ok_or(Errno::ESRCH)?;
        if limit < p.fds.len() {
            return Err(Errno::EINVAL);
        }
        p.max_descriptors = limit;
        Ok(())
    }

    /// `close(2)` of `fd` in process `pid`: the descriptor goes; the socket goes with its
    /// last reference in any process.
    pub(super) fn close_in(&mut self, now: Instant, pid: Pid, fd: Fd) -> Result<(), Errno> {
        let p = self.processes.get_mut(&pid).ok_or(Errno::ESRCH)?;
        let at = fd.0 as usize;
        let id = p.fds.get(at).copied().flatten().ok_or(Errno::EBADF)?;
        p.fds[at] = None;
        p.free_fds.insert(at);
        while p.fds.last() == Some(&None) {
            p.fds.pop();
            let len = p.fds.len();
            p.free_fds.remove(&len);
        }
        p.registered.remove(&fd);
        self.mark_changed(id);
        let s = self.socket_mut(id);
        s.refs -= 1;
        if s.refs > 0 {
            return Ok(());
        }
        self.release_socket(now, id);
        Ok(())
    }

    /// `dup2(2)`: makes `new` refer to `old`'s socket, closing what `new` referred to first
    /// (which may release that socket: a FIN if it was its last reference). `new` at or
    /// past the process's limit is EBADF, as POSIX says; `old == new` does nothing.
    pub fn dup2(&mut self, now: Instant, old: Fd, new: Fd) -> Result<Fd, Errno> {
        let id = self.sock(old)?;
        if new.0 as usize >= self.cur().max_descriptors {
            return Err(Errno::EBADF);
        }
        if old == new {
            return Ok(new);
        }
        if self.sock(new).is_ok() {
            self.close_in(now, self.current, new)?;
        }
        self.socket_mut(id).refs += 1;
        Ok(self.install_fd(new.0 as usize, id))
    }

    /// The processes, by pid.
    pub fn processes(&self) -> Vec<ProcessInfo> {
        self.processes
            .iter()
            .map(|(&pid, p)| ProcessInfo {
                pid,
                parent: p.parent,
                name: p.name.clone(),
                open_fds: p.open_count(),
                max_descriptors: p.max_descriptors,
            })
            .collect()
    }

    /// `ls -l /proc/<pid>/fd`: `pid`'s open descriptors, lowest first, with the inode of
    /// the socket each refers to.
    pub fn proc_fds(&self, pid: Pid) -> Result<Vec<ProcFd>, Errno> {
        Ok(self
            .process_ref(pid)?
            .open_fds()
            .map(|(fd, id)| ProcFd {
                fd,
                inode: self.socket_ref(id).inode,
            })
            .collect())
    }

    /// `lsof -i`: one row per descriptor of every process, by pid then descriptor.
    pub fn lsof(&self) -> Vec<LsofRow> {
        let fds_of = self.init_fds_map();
        let mut rows = Vec::new();
        for (&pid, p) in &self.processes {
            for (fd, id) in p.open_fds() {
                rows.push(LsofRow {
                    command: p.name.clone(),
                    pid,
                    fd,
                    inode: self.socket_ref(id).inode,
                    socket: self.socket_row(id, fds_of.get(&id).cloned().unwrap_or_default()),
                });
            }
        }
        rows
    }

    /// `ss -tuanp`: [`ss`](Self::ss)'s rows, each with every process holding the socket.
    pub fn ss_processes(&self) -> Vec<SocketProcessInfo> {
        let mut users: BTreeMap<SockId, Vec<SocketUser>> = BTreeMap::new();
        for (&pid, p) in &self.processes {
            for (fd, id) in p.open_fds() {
                users.entry(id).or_default().push(SocketUser {
                    name: p.name.clone(),
                    pid,
                    fd,
                });
            }
        }
        let ids = self.ss_socket_ids();
        let rows = self.ss();
        // `ss` lists held sockets first, in `ss_socket_ids` order, then the connections no
        // descriptor refers to.
        rows.into_iter()
            .enumerate()
            .map(|(i, socket)| match ids.get(i) {
                Some(&id) => SocketProcessInfo {
                    socket,
                    inode: self.socket_ref(id).inode,
                    users: users.remove(&id).unwrap_or_default(),
                },
                None => SocketProcessInfo {
                    socket,
                    inode: 0,
                    users: Vec::new(),
                },
            })
            .collect()
    }
}
