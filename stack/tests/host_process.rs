//! Processes on a host: per-process descriptor tables over shared open file descriptions
//! (POSIX.1-2017 `fork`, `dup`, `dup2`, `close`, `_exit`), EMFILE against ENFILE,
//! SO_REUSEPORT, and the `ss -p`, `lsof -i` and `/proc/<pid>/fd` views. Where a call has a
//! wire effect (a FIN only with the last reference), the frames the host sent are checked.

mod host_support;

use host_support::*;
use pretty_assertions::assert_eq;
use sansnet_stack::iface::{Errno, Fd, Host, Interest, Pid, SockOpt, SocketState, SocketType};
use sansnet_stack::tcp::State;
use sansnet_stack::time::{Duration, Instant};
use std::net::{Ipv4Addr, SocketAddrV4};

const SEC: Duration = Duration::from_secs(1);
const FIN: u8 = 0x01;
const RST: u8 = 0x04;

/// TCP flags of the segments host `h` sent since `t0`, in order.
fn sent_flags(net: &Net, h: usize, t0: Instant) -> Vec<u8> {
    net.log
        .iter()
        .filter(|(t, from, _)| *from == h && *t >= t0)
        .filter_map(|(_, _, f)| {
            let (ip, tcp) = parse_ip(f)?;
            (ip.protocol == sansnet_stack::wire::ipv4::IpProtocol::TCP && tcp.len() >= 20)
                .then(|| tcp[13])
        })
        .collect()
}

fn fins_sent(net: &Net, h: usize, t0: Instant) -> usize {
    let flags = sent_flags(net, h, t0);
    assert!(
        flags.iter().all(|f| f & RST == 0),
        "no RST expected: {flags:?}"
    );
    flags.iter().filter(|f| *f & FIN != 0).count()
}

/// Host index 1 listening on port 80, host 0 connected to it, the server's end accepted as
/// process 1's descriptor: (net, listener, client fd, server fd).
fn connected() -> (Net, Fd, Fd, Fd) {
    let mut net = Net::lan(&[1, 2]);
    let l = net.tcp_listener(1, 80, 16);
    let c = net.tcp_connect(0, addr(2, 80));
    assert_eq!(net.wait_connected(0, c, SEC), Ok(()));
    let (s, _) = net.accept(1, l).expect("accepted");
    (net, l, c, s)
}

fn stream(h: &mut Host, pid: Pid) -> Result<Fd, Errno> {
    h.as_process(pid, |h| h.socket(SocketType::Stream))?
}

fn state_of(net: &mut Net, h: usize, local_port: u16) -> Option<SocketState> {
    net.h(h)
        .ss()
        .into_iter()
        .find(|r| r.local.map(|a| a.port()) == Some(local_port) && r.peer.is_some())
        .map(|r| r.state)
}

mod descriptor_tables {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn lowest_free_first_in_each_process() {
        let mut h = Host::new(host_config(1));
        let p1: Vec<Fd> = (0..3)
            .map(|_| h.socket(SocketType::Stream).unwrap())
            .collect();
        assert_eq!(p1, vec![Fd(0), Fd(1), Fd(2)]);
        let worker = h.spawn_process("worker").unwrap();
        assert_eq!(stream(&mut h, worker), Ok(Fd(0)), "a table of its own");
        h.close(Instant::ZERO, Fd(1)).unwrap();
        assert_eq!(
            h.socket(SocketType::Stream),
            Ok(Fd(1)),
            "process 1 reuses its hole"
        );
        assert_eq!(stream(&mut h, worker), Ok(Fd(1)));
        assert_eq!(h.proc_fds(worker).unwrap().len(), 2);
        assert_eq!(h.proc_fds(Pid::INIT).unwrap().len(), 3);
    }

    #[test]
    fn emfile_is_per_process_enfile_per_host() {
        let mut cfg = host_config(1);
        cfg.limits.max_descriptors = 2;
        cfg.limits.max_open_files = 3;
        let mut h = Host::new(cfg);
        h.socket(SocketType::Stream).unwrap();
        h.socket(SocketType::Stream).unwrap();
        assert_eq!(h.socket(SocketType::Stream), Err(Errno::EMFILE));
        let other = h.spawn_process("other").unwrap();
        assert_eq!(stream(&mut h, other), Ok(Fd(0)), "its own table has room");
        assert_eq!(
            stream(&mut h, other),
            Err(Errno::ENFILE),
            "the host has none"
        );
        // A fork copies descriptors, not files: no ENFILE; the copy's table is full.
        let child = h.fork(Pid::INIT).unwrap();
        assert_eq!(
            h.as_process(child, |h| h.dup(Fd(0))).unwrap(),
            Err(Errno::EMFILE)
        );
        h.exit(Instant::ZERO, other).unwrap();
        assert_eq!(stream(&mut h, other), Err(Errno::ESRCH));
        let third = h.spawn_process("third").unwrap();
        assert_eq!(stream(&mut h, third), Ok(Fd(0)), "exit gave its file back");
    }

    #[test]
    fn rlimit_nofile_is_per_process_and_never_below_the_table() {
        let mut h = Host::new(host_config(1));
        let p = h.spawn_process("p").unwrap();
        h.set_max_descriptors(p, 1).unwrap();
        assert_eq!(stream(&mut h, p), Ok(Fd(0)));
        assert_eq!(stream(&mut h, p), Err(Errno::EMFILE));
        assert_eq!(h.set_max_descriptors(p, 0), Err(Errno::EINVAL));
        assert_eq!(
            h.socket(SocketType::Stream),
            Ok(Fd(0)),
            "process 1 keeps 1024"
        );
    }

    #[test]
    fn dup2_edges() {
        let mut h = Host::new(host_config(1));
        let now = Instant::ZERO;
        let a = h.socket(SocketType::Stream).unwrap();
        assert_eq!(h.dup2(now, a, a), Ok(a), "onto itself: nothing happens");
        assert_eq!(h.dup2(now, Fd(7), Fd(1)), Err(Errno::EBADF), "old not open");
        assert_eq!(
            h.dup2(now, a, Fd(1024)),
            Err(Errno::EBADF),
            "new past RLIMIT_NOFILE"
        );
        assert_eq!(h.dup2(now, a, Fd(5)), Ok(Fd(5)));
        // The gap below 5 is free, lowest first.
        assert_eq!(h.socket(SocketType::Stream), Ok(Fd(1)));
        let fds: Vec<Fd> = h
            .proc_fds(Pid::INIT)
            .unwrap()
            .iter()
            .map(|e| e.fd)
            .collect();
        assert_eq!(fds, vec![Fd(0), Fd(1), Fd(5)]);
    }

    #[test]
    fn the_selector_is_per_process() {
        let (mut net, l, _c, _s) = connected();
        let child = net.h(1).fork(Pid::INIT).unwrap();
        net.h(1).register(l, Interest::READABLE).unwrap();
        net.h(1).deregister(l).unwrap();
        net.h(1).register(l, Interest::READABLE).unwrap();
        net.h(1)
            .as_process(child, |h| h.deregister(l))
            .unwrap()
            .unwrap();
        let _c2 = net.tcp_connect(0, addr(2, 80));
        net.run_for(Duration::from_millis(100));
        assert_eq!(net.h(1).poll_ready().len(), 1, "process 1 registered it");
        assert_eq!(
            net.h(1).as_process(child, |h| h.poll_ready()).unwrap(),
            vec![],
            "the child deregistered its copy"
        );
    }

    #[test]
    fn process_table_bound_and_names() {
        let mut cfg = host_config(1);
        cfg.limits.max_processes = 2;
        let mut h = Host::new(cfg);
        let p = h.spawn_process("a-very-long-process-name").unwrap();
        assert_eq!(h.fork(p), Err(Errno::EAGAIN));
        assert_eq!(h.spawn_process("x"), Err(Errno::EAGAIN));
        let names: Vec<(Pid, String)> =
            h.processes().into_iter().map(|p| (p.pid, p.name)).collect();
        assert_eq!(
            names,
            vec![(Pid(1), "init".into()), (p, "a-very-long-pro".into())]
        );
        assert_eq!(h.exit(Instant::ZERO, Pid::INIT), Err(Errno::EPERM));
        assert_eq!(h.exit(Instant::ZERO, Pid(99)), Err(Errno::ESRCH));
        assert_eq!(h.as_process(Pid(99), |_| ()), Err(Errno::ESRCH));
    }
}

/// The wire effect of sharing: a connection closes (FIN) only with its last reference.
mod last_reference_sends_fin {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn close_of_one_of_two_dup_descriptors_sends_nothing_the_last_sends_fin() {
        let (mut net, _l, _c, s) = connected();
        let s2 = net.h(1).dup(s).unwrap();
        let t0 = net.now;
        net.h(1).close(t0, s).unwrap();
        net.run_for(SEC);
        assert_eq!(fins_sent(&net, 1, t0), 0);
        assert_eq!(
            state_of(&mut net, 1, 80),
            Some(SocketState::Tcp(State::Established))
        );
        let t1 = net.now;
        net.h(1).close(t1, s2).unwrap();
        net.run_for(SEC);
        assert_eq!(fins_sent(&net, 1, t1), 1);
    }

    #[test]
    fn fork_then_parent_close_keeps_the_connection_open() {
        let (mut net, l, c, s) = connected();
        let child = net.h(1).fork(Pid::INIT).unwrap();
        let t0 = net.now;
        net.h(1).close(t0, s).unwrap();
        net.h(1).close(t0, l).unwrap();
        net.run_for(SEC);
        assert_eq!(fins_sent(&net, 1, t0), 0, "the child still holds it");
        // The child serves it: same descriptor number, same connection.
        let now = net.now;
        let sent = net
            .h(1)
            .as_process(child, |h| h.send(now, s, b"from the child"));
        assert_eq!(sent, Ok(Ok(14)));
        assert_eq!(net.recv_n(0, c, 14), Ok(b"from the child".to_vec()));
        let t1 = net.now;
        net.h(1)
            .as_process(child, |h| h.close(t1, s))
            .unwrap()
            .unwrap();
        net.run_for(SEC);
        assert_eq!(fins_sent(&net, 1, t1), 1);
        assert_eq!(
            net.recv_n(0, c, 1),
            Ok(vec![]),
            "the client reads end of stream"
        );
    }

    #[test]
    fn dup2_over_an_open_descriptor_closes_the_old_one() {
        let (mut net, l, _c, s) = connected();
        let c2 = net.tcp_connect(0, addr(2, 80));
        assert_eq!(net.wait_connected(0, c2, SEC), Ok(()));
        let (s2, peer2) = net.accept(1, l).unwrap();
        let t0 = net.now;
        assert_eq!(net.h(1).dup2(t0, s, s2), Ok(s2));
        net.run_for(SEC);
        assert_eq!(
            fins_sent(&net, 1, t0),
            1,
            "s2's connection lost its only reference"
        );
        assert_eq!(net.h(1).local_addr(s2), net.h(1).local_addr(s));
        assert_ne!(
            net.h(1).peer_addr(s2),
            Ok(peer2),
            "s2 is s's connection now"
        );
        // dup2 over a descriptor whose socket has another reference sends nothing.
        let extra = net.h(1).dup(s).unwrap();
        let t1 = net.now;
        assert_eq!(net.h(1).dup2(t1, l, extra), Ok(extra));
        net.run_for(SEC);
        assert_eq!(fins_sent(&net, 1, t1), 0);
    }

    #[test]
    fn exit_closes_every_descriptor() {
        let (mut net, l, c, s) = connected();
        let c2 = net.tcp_connect(0, addr(2, 80));
        assert_eq!(net.wait_connected(0, c2, SEC), Ok(()));
        let (s2, _) = net.accept(1, l).unwrap();
        // A worker takes both connections over: fork, then the parent lets them go.
        let worker = net.h(1).fork(Pid::INIT).unwrap();
        let grandchild = net.h(1).fork(worker).unwrap();
        net.h(1)
            .as_process(grandchild, |h| -> Result<(), Errno> {
                for fd in [l, s, s2] {
                    h.close(Instant::ZERO, fd)?;
                }
                Ok(())
            })
            .unwrap()
            .unwrap();
        let t0 = net.now;
        net.h(1).close(t0, s).unwrap();
        net.h(1).close(t0, s2).unwrap();
        net.run_for(SEC);
        assert_eq!(fins_sent(&net, 1, t0), 0);
        let t1 = net.now;
        net.h(1).exit(t1, worker).unwrap();
        net.run_for(SEC);
        assert_eq!(fins_sent(&net, 1, t1), 2);
        assert_eq!(net.recv_n(0, c, 1), Ok(vec![]));
        assert_eq!(net.recv_n(0, c2, 1), Ok(vec![]));
        assert_eq!(net.h(1).proc_fds(worker), Err(Errno::ESRCH));
        let parent = net
            .h(1)
            .processes()
            .into_iter()
            .find(|p| p.pid == grandchild);
        assert_eq!(
            parent.and_then(|p| p.parent),
            Some(Pid::INIT),
            "reparented to 1"
        );
        assert_eq!(
            net.h(1).readiness(l).map(|r| r.hang_up),
            Ok(false),
            "1's listener"
        );
    }
}

mod reuse_port {
    use super::*;
    use pretty_assertions::assert_eq;

    fn reuseport_listener(h: &mut Host, pid: Pid, on: bool) -> Result<Fd, Errno> {
        h.as_process(pid, |h| {
            let fd = h.socket(SocketType::Stream)?;
            h.setsockopt(Instant::ZERO, fd, SockOpt::ReusePort(on))?;
            h.bind(fd, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80))?;
            h.listen(fd, 64)?;
            Ok(fd)
        })?
    }

    #[test]
    fn every_member_must_set_it() {
        let mut h = Host::new(host_config(1));
        let a = h.spawn_process("a").unwrap();
        let b = h.spawn_process("b").unwrap();
        let c = h.spawn_process("c").unwrap();
        reuseport_listener(&mut h, a, true).unwrap();
        reuseport_listener(&mut h, b, true).unwrap();
        assert_eq!(reuseport_listener(&mut h, c, false), Err(Errno::EADDRINUSE));
        let listening = h
            .ss()
            .iter()
            .filter(|r| r.state == SocketState::Listen)
            .count();
        assert_eq!(listening, 2);
    }

    /// Four workers with their own listener on port 80; 32 clients connect. Returns how
    /// many each worker accepted.
    fn spread(secret_byte: u8) -> Vec<usize> {
        let mut configs = vec![host_config(1), host_config(2)];
        configs[1].secret.0[0] = secret_byte;
        let mut net = Net::new(configs);
        net.segment(vec![(0, 0), (1, 0)]);
        let workers: Vec<(Pid, Fd)> = (0..4)
            .map(|i| {
                let pid = net.h(1).spawn_process(&format!("worker{i}")).unwrap();
                (pid, reuseport_listener(net.h(1), pid, true).unwrap())
            })
            .collect();
        let clients: Vec<Fd> = (0..32).map(|_| net.tcp_connect(0, addr(2, 80))).collect();
        net.run_for(SEC);
        for c in clients {
            assert_eq!(net.wait_connected(0, c, SEC), Ok(()));
        }
        workers
            .iter()
            .map(|&(pid, l)| {
                let mut n = 0;
                let now = net.now;
                while net
                    .h(1)
                    .as_process(pid, |h| h.accept(now, l))
                    .unwrap()
                    .is_ok()
                {
                    n += 1;
                }
                n
            })
            .collect()
    }

    #[test]
    fn connections_spread_over_the_group_by_a_keyed_hash() {
        let counts = spread(0);
        assert_eq!(counts.iter().sum::<usize>(), 32);
        assert!(
            counts.iter().all(|&n| n > 0),
            "every worker got some: {counts:?}"
        );
        assert_eq!(spread(0), counts, "the same secret spreads the same way");
        assert_ne!(spread(1), counts, "another secret, another spread");
    }

    #[test]
    fn closing_one_member_leaves_the_others_listening() {
        let mut net = Net::lan(&[1, 2]);
        let a = net.h(1).spawn_process("a").unwrap();
        let b = net.h(1).spawn_process("b").unwrap();
        let la = reuseport_listener(net.h(1), a, true).unwrap();
        let lb = reuseport_listener(net.h(1), b, true).unwrap();
        let now = net.now;
        net.h(1).exit(now, a).unwrap();
        let c = net.tcp_connect(0, addr(2, 80));
        assert_eq!(net.wait_connected(0, c, SEC), Ok(()));
        net.run_for(SEC);
        let now = net.now;
        assert!(net
            .h(1)
            .as_process(b, |h| h.accept(now, lb))
            .unwrap()
            .is_ok());
        assert_eq!(
            net.h(1).as_process(a, |h| h.readiness(la)),
            Err(Errno::ESRCH),
            "a and its listener are gone"
        );
    }
}

mod views {
    use super::*;
    use pretty_assertions::assert_eq;

    /// A prefork server: process 1 ("nginx") listening, two forked workers, one of them
    /// serving the one connection (the parent closed its copy).
    fn prefork() -> (Net, Pid, Pid) {
        let (mut net, _l, _c, s) = connected();
        net.h(1).set_process_name(Pid::INIT, "nginx").unwrap();
        let w1 = net.h(1).fork(Pid::INIT).unwrap();
        let w2 = net.h(1).fork(Pid::INIT).unwrap();
        let now = net.now;
        net.h(1).close(now, s).unwrap();
        net.h(1)
            .as_process(w2, |h| h.close(now, s))
            .unwrap()
            .unwrap();
        (net, w1, w2)
    }

    #[test]
    fn ss_p_names_every_holder() {
        let (mut net, w1, w2) = prefork();
        let rows: Vec<String> = net
            .h(1)
            .ss_processes()
            .iter()
            .map(|r| r.to_string())
            .collect();
        assert_eq!(
            rows,
            vec![
                format!(
                    "tcp   LISTEN            0     16 0.0.0.0:80            *:*                   \
                     users:((\"nginx\",pid=1,fd=0),(\"nginx\",pid={w1},fd=0),(\"nginx\",pid={w2},fd=0))"
                ),
                format!(
                    "tcp   ESTABLISHED       0      0 10.0.0.2:80           {:<21} \
                     users:((\"nginx\",pid={w1},fd=1))",
                    net.h(1).as_process(w1, |h| h.peer_addr(Fd(1))).unwrap().unwrap()
                ),
            ]
        );
    }

    #[test]
    fn lsof_and_proc_fd_show_the_shared_description() {
        let (mut net, w1, w2) = prefork();
        let lsof: Vec<(Pid, Fd, u64)> = net
            .h(1)
            .lsof()
            .iter()
            .map(|r| (r.pid, r.fd, r.inode))
            .collect();
        let inode = lsof[0].2;
        let conn = net.h(1).proc_fds(w1).unwrap()[1].inode;
        assert_eq!(
            lsof,
            vec![
                (Pid::INIT, Fd(0), inode),
                (w1, Fd(0), inode),
                (w1, Fd(1), conn),
                (w2, Fd(0), inode),
            ]
        );
        let line = net.h(1).lsof()[2].to_string();
        assert!(
            line.starts_with(&format!("nginx           {w1:>5}    1u IPv4")),
            "{line}"
        );
        assert!(line.contains(" TCP 10.0.0.2:80->10.0.0.1:"), "{line}");
        assert!(line.ends_with(" (ESTABLISHED)"), "{line}");
        let proc_fd: Vec<String> = net
            .h(1)
            .proc_fds(w1)
            .unwrap()
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            proc_fd,
            vec![
                format!("0 -> socket:[{inode}]"),
                format!("1 -> socket:[{conn}]")
            ]
        );
        // ss without -p: process 1's descriptors only (the connection is the worker's).
        let ss = net.h(1).ss();
        assert_eq!(
            (ss[0].fds.clone(), ss[1].fds.clone()),
            (vec![Fd(0)], vec![])
        );
    }
}

/// Random sequences of process and descriptor calls against a model of POSIX's three
/// levels: every result, every table and the host's socket count must match it.
mod against_a_model {
    use super::*;
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    const MAX_FDS: u32 = 6;
    const MAX_FILES: usize = 8;
    const MAX_PROCS: usize = 5;

    #[derive(Debug, Clone)]
    enum Op {
        Socket(usize),
        Dup(usize, u32),
        Dup2(usize, u32, u32),
        Close(usize, u32),
        Fork(usize),
        Exit(usize),
        Spawn,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => any::<usize>().prop_map(Op::Socket),
            2 => (any::<usize>(), 0..8u32).prop_map(|(p, f)| Op::Dup(p, f)),
            2 => (any::<usize>(), 0..8u32, 0..8u32).prop_map(|(p, f, n)| Op::Dup2(p, f, n)),
            3 => (any::<usize>(), 0..8u32).prop_map(|(p, f)| Op::Close(p, f)),
            1 => any::<usize>().prop_map(Op::Fork),
            1 => any::<usize>().prop_map(Op::Exit),
            1 => Just(Op::Spawn),
        ]
    }

    /// Each process's descriptors and the inode each refers to.
    #[derive(Default)]
    struct Model {
        procs: BTreeMap<Pid, BTreeMap<u32, u64>>,
        next_pid: u32,
        next_inode: u64,
    }

    impl Model {
        fn files(&self) -> usize {
            let all: BTreeSet<u64> = self
                .procs
                .values()
                .flat_map(|t| t.values().copied())
                .collect();
            all.len()
        }

        fn lowest_free(&self, pid: Pid) -> Result<u32, Errno> {
            let t = &self.procs[&pid];
            (0..MAX_FDS)
                .find(|f| !t.contains_key(f))
                .ok_or(Errno::EMFILE)
        }

        fn new_pid(&mut self) -> Result<Pid, Errno> {
            if self.procs.len() >= MAX_PROCS {
                return Err(Errno::EAGAIN);
            }
            self.next_pid += 1;
            Ok(Pid(self.next_pid))
        }

        /// What the call should return (descriptors and pids as numbers).
        fn apply(&mut self, op: &Op, pid: Pid) -> Result<u32, Errno> {
            let table = |m: &Model| m.procs[&pid].clone();
            match *op {
                Op::Socket(_) => {
                    let fd = self.lowest_free(pid)?;
                    if self.files() >= MAX_FILES {
                        return Err(Errno::ENFILE);
                    }
                    self.next_inode += 1;
                    let inode = self.next_inode;
                    self.procs.get_mut(&pid).unwrap().insert(fd, inode);
                    Ok(fd)
                }
                Op::Dup(_, old) => {
                    let inode = *table(self).get(&old).ok_or(Errno::EBADF)?;
                    let fd = self.lowest_free(pid)?;
                    self.procs.get_mut(&pid).unwrap().insert(fd, inode);
                    Ok(fd)
                }
                Op::Dup2(_, old, new) => {
                    let inode = *table(self).get(&old).ok_or(Errno::EBADF)?;
                    if new >= MAX_FDS {
                        return Err(Errno::EBADF);
                    }
                    self.procs.get_mut(&pid).unwrap().insert(new, inode);
                    Ok(new)
                }
                Op::Close(_, fd) => {
                    self.procs
                        .get_mut(&pid)
                        .unwrap()
                        .remove(&fd)
                        .ok_or(Errno::EBADF)?;
                    Ok(0)
                }
                Op::Fork(_) => {
                    let child = self.new_pid()?;
                    let t = table(self);
                    self.procs.insert(child, t);
                    Ok(child.0)
                }
                Op::Exit(_) if pid == Pid::INIT => Err(Errno::EPERM),
                Op::Exit(_) => {
                    self.procs.remove(&pid);
                    Ok(0)
                }
                Op::Spawn => {
                    let p = self.new_pid()?;
                    self.procs.insert(p, BTreeMap::new());
                    Ok(p.0)
                }
            }
        }
    }

    fn call(h: &mut Host, op: &Op, pid: Pid) -> Result<u32, Errno> {
        let now = Instant::ZERO;
        match *op {
            Op::Socket(_) => h
                .as_process(pid, |h| h.socket(SocketType::Stream))?
                .map(|f| f.0),
            Op::Dup(_, old) => h.as_process(pid, |h| h.dup(Fd(old)))?.map(|f| f.0),
            Op::Dup2(_, old, new) => h
                .as_process(pid, |h| h.dup2(now, Fd(old), Fd(new)))?
                .map(|f| f.0),
            Op::Close(_, fd) => h.as_process(pid, |h| h.close(now, Fd(fd)))?.map(|()| 0),
            Op::Fork(_) => h.fork(pid).map(|p| p.0),
            Op::Exit(_) => h.exit(now, pid).map(|()| 0),
            Op::Spawn => h.spawn_process("spawned").map(|p| p.0),
        }
    }

    proptest! {
        #[test]
        fn tables_follow_the_model(ops in proptest::collection::vec(op(), 1..60)) {
            let mut cfg = host_config(1);
            cfg.limits.max_descriptors = MAX_FDS as usize;
            cfg.limits.max_open_files = MAX_FILES;
            cfg.limits.max_processes = MAX_PROCS;
            let mut h = Host::new(cfg);
            let mut model = Model { next_pid: 1, ..Model::default() };
            model.procs.insert(Pid::INIT, BTreeMap::new());
            for op in &ops {
                let pids: Vec<Pid> = model.procs.keys().copied().collect();
                let pick = match *op {
                    Op::Socket(p) | Op::Dup(p, _) | Op::Dup2(p, _, _) | Op::Close(p, _)
                    | Op::Fork(p) | Op::Exit(p) => p,
                    Op::Spawn => 0,
                };
                let pid = pids[pick % pids.len()];
                let want = model.apply(op, pid);
                assert_eq!(call(&mut h, op, pid), want, "{op:?} as {pid}");
                for (&pid, table) in &model.procs {
                    let got: Vec<(u32, u64)> =
                        h.proc_fds(pid).unwrap().iter().map(|e| (e.fd.0, e.inode)).collect();
                    let want: Vec<(u32, u64)> = table.iter().map(|(&f, &i)| (f, i)).collect();
                    assert_eq!(got, want, "pid {pid} after {op:?}");
                }
                let pids: Vec<Pid> = h.processes().iter().map(|p| p.pid).collect();
                assert_eq!(pids, model.procs.keys().copied().collect::<Vec<_>>());
                assert_eq!(h.ss().len(), model.files(), "one socket per open file description");
            }
        }
    }
}
