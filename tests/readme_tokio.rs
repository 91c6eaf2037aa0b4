//! The README's tokio example, as it is written there: if this fails, the README is wrong.

use sansnet::net;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[test]
fn echo_survives_loss_and_reordering() {
    let mut sim = sansnet::Builder::new()
        .rng_seed(7) // SANSNET_SEED=<n> overrides it: the failure's replay line
        .fail_rate(0.02) // 2% of frames lost on every link; sansnet's TCP recovers
        .reorder_rate(0.02)
        .build();
    sim.host("server", || async {
        let listener = net::TcpListener::bind(("0.0.0.0", 7)).await?;
        loop {
            let (mut conn, _) = listener.accept().await?;
            tokio::spawn(async move {
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    let n = conn.read(&mut buf).await?;
                    if n == 0 {
                        return Ok::<_, std::io::Error>(());
                    }
                    conn.write_all(&buf[..n]).await?;
                }
            });
        }
    });
    sim.client("client", async {
        let mut conn = net::TcpStream::connect("server:7").await?;
        let sent: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        conn.write_all(&sent).await?;
        let mut back = vec![0u8; sent.len()];
        conn.read_exact(&mut back).await?;
        assert_eq!(back, sent);
        tokio::time::sleep(std::time::Duration::from_secs(5)).await; // simulated seconds
        Ok(())
    });
    sim.run().unwrap(); // until every client is done; an Err or a panic fails with the replay line
    assert!(sim.elapsed() >= std::time::Duration::from_secs(5));
}
