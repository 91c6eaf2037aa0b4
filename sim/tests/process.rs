//! Processes and threads of simulated applications (`sansnet_sim::process`): a prefork
//! server's worker serves a connection its master accepted and closed; thread limits.

use std::cell::Cell;
use std::net::SocketAddrV4;
use std::rc::Rc;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use pretty_assertions::assert_eq;
use sansnet_sim::process::{HostThreads, Process};
use sansnet_sim::{seed_from_env_or, Duration, LinkFaults, Sim, TcpStream};

const SERVER: SocketAddrV4 = SocketAddrV4::new(std::net::Ipv4Addr::new(10, 0, 0, 2), 80);

#[test]
fn a_forked_worker_serves_what_its_master_accepted_and_closed() {
    let mut sim = Sim::new(seed_from_env_or(17));
    let a = sim.add_host("a", [10, 0, 0, 1].into(), 24);
    let b = sim.add_host("b", [10, 0, 0, 2].into(), 24);
    let link = LinkFaults::with_latency(Duration::from_millis(1));
    sim.connect(sim.nic(a, 0), sim.nic(b, 0), link);
    let threads = Rc::new(HostThreads::default());
    let third_thread_refused = Rc::new(Cell::new(false));
    {
        let (threads, refused) = (threads.clone(), third_thread_refused.clone());
        sim.spawn_on(b, async move {
            let master = Process::init(b, 1, threads);
            let listener = master.listen(SERVER, 8, false).unwrap();
            let (conn, _) = listener.accept().await.unwrap();
            let worker = master.fork(2).unwrap();
            let fd = conn.fd();
            drop(conn); // the master's copy goes; the worker's keeps the connection
            let conn = worker.stream(fd);
            let mut buf = [0u8; 1];
            assert_eq!(conn.read(&mut buf).await.unwrap(), 1);
            conn.write_all(b"served by the worker").await.unwrap();
            let _second = worker.spawn_thread(std::future::pending::<()>()).unwrap();
            refused.set(worker.spawn_thread(async {}).is_err());
        });
    }
    let client = sim.spawn_on(a, async move {
        let mut c = TcpStream::connect(a, SERVER).await.unwrap();
        c.write_all(b"?").await.unwrap();
        let mut reply = Vec::new();
        c.read_to_end(&mut reply).await.unwrap();
        reply
    });
    sim.run_until_complete(&client).unwrap();
    assert_eq!(client.take().unwrap(), b"served by the worker".to_vec());
    assert!(third_thread_refused.get(), "2 threads at most");
    assert_eq!(
        threads.peak(),
        3,
        "master, worker, and the worker's second thread"
    );
}
