//! The simulator's frame buffers: a steady stream of frames reuses the pool's buffers,
//! including those a receiving host kept (TCP payload held in its frame until read) and
//! let go once its application read them, so a longer transfer allocates no more.

use sansnet_sim::net::{TcpListener, TcpStream};
use sansnet_sim::Builder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Buffers allocated for a transfer of `bytes` from server to client, and the bytes read.
fn buffers_for(bytes: usize) -> (u64, usize) {
    let mut sim = Builder::new().rng_seed(3).build();
    sim.host("server", move || async move {
        let listener = TcpListener::bind(("0.0.0.0", 80)).await?;
        let (mut conn, _) = listener.accept().await?;
        let chunk = vec![0x5a; 64 * 1024];
        let mut sent = 0;
        while sent < bytes {
            let n = chunk.len().min(bytes - sent);
            conn.write_all(&chunk[..n]).await?;
            sent += n;
        }
        conn.shutdown().await?;
        Ok(())
    });
    let got = std::rc::Rc::new(std::cell::Cell::new(0));
    let seen = std::rc::Rc::clone(&got);
    sim.client("client", async move {
        let mut conn = TcpStream::connect("server:80").await?;
        let mut buf = vec![0; 16 * 1024];
        loop {
            let n = conn.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            assert!(buf[..n].iter().all(|&b| b == 0x5a), "the bytes changed");
            seen.set(seen.get() + n);
        }
        Ok(())
    });
    sim.run().expect("the transfer completes");
    (sim.sim().frame_buffers_allocated(), got.get())
}

#[test]
fn a_longer_transfer_allocates_no_more_frame_buffers() {
    let (short, got_short) = buffers_for(1 << 20);
    let (long, got_long) = buffers_for(8 << 20);
    assert_eq!((got_short, got_long), (1 << 20, 8 << 20));
    // 8 MiB is about 5,800 full-size frames: had kept buffers not come back, each frame
    // past the pool's first would have been a new buffer.
    assert!(
        long <= short + 64,
        "1 MiB allocated {short} buffers, 8 MiB {long}"
    );
    assert!(short < 2_000, "{short} buffers for 1 MiB");
    eprintln!("frame buffers allocated: {short} for 1 MiB, {long} for 8 MiB");
}
