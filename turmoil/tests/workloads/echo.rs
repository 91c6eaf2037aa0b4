//! turmoil's README example: an echo server, and clients that check what comes back.

use std::time::Duration;

use super::{Shared, Tally, Tcp, REQUEST_TIMEOUT};

pub const PORT: u16 = 1234;
pub const CLIENTS: u64 = 2;
pub const REQUESTS: u64 = 10;

/// Request `k` of client `c`: 1 byte to 16 KiB, a pattern that a misplaced or damaged
/// byte cannot match.
pub fn message(c: u64, k: u64) -> Vec<u8> {
    let len = 1 + ((c * 7919 + k * 104_729) % (16 * 1024)) as usize;
    (0..len)
        .map(|i| (i as u64).wrapping_mul(31).wrapping_add(c * 131 + k * 17) as u8)
        .collect()
}

macro_rules! echo_over {
    ($name:ident, $($net:ident)::+) => {
        pub mod $name {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            use $($net)::+::{TcpListener, TcpStream};

            use super::*;

            /// The README's server, as it is.
            pub async fn server() -> turmoil::Result {
                let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
                loop {
                    let (mut socket, _) = listener.accept().await?;
                    tokio::spawn(async move {
                        let mut buf = [0u8; 1024];
                        while let Ok(n @ 1..) = socket.read(&mut buf).await {
                            if socket.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    });
                }
            }

            /// Connects, retrying a failed dial with backoff as a production client does.
            async fn dial(tally: &Shared) -> Option<TcpStream> {
                let mut backoff = Duration::from_millis(100);
                for attempt in 0..6 {
                    if attempt > 0 {
                        tally.borrow_mut().redials += 1;
                        tokio::time::sleep(backoff).await;
                        backoff *= 2;
                    }
                    let dialled = tokio::time::timeout(
                        REQUEST_TIMEOUT,
                        TcpStream::connect(("server", PORT)),
                    );
                    if let Ok(Ok(socket)) = dialled.await {
                        return Some(socket);
                    }
                }
                None
            }

            /// `REQUESTS` echoes on one connection, each checked byte for byte; stops at
            /// the first that fails.
            pub async fn client(c: u64, tally: Shared) -> turmoil::Result {
                tally.borrow_mut().requested += REQUESTS;
                let Some(mut socket) = dial(&tally).await else {
                    tally.borrow_mut().failed += 1;
                    return Ok(());
                };
                for k in 0..REQUESTS {
                    let sent = message(c, k);
                    let exchange = async {
                        socket.write_all(&sent).await?;
                        let mut back = vec![0u8; sent.len()];
                        socket.read_exact(&mut back).await?;
                        Ok::<_, std::io::Error>(back)
                    };
                    match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
                        Ok(Ok(back)) => {
                            if back != sent {
                                return Err(format!("client {c}: echo {k} differs").into());
                            }
                            let mut t = tally.borrow_mut();
                            t.completed += 1;
                            t.bytes_checked += back.len() as u64;
                        }
                        _ => {
                            tally.borrow_mut().failed += 1;
                            return Ok(());
                        }
                    }
                }
                Ok(())
            }
        }
    };
}

echo_over!(bridged, sansnet_turmoil::net);
echo_over!(plain, turmoil::net);

/// Puts the server and `CLIENTS` clients on `sim`, over `tcp`.
pub fn install(sim: &mut turmoil::Sim<'_>, tcp: Tcp, tally: &Shared) {
    match tcp {
        Tcp::Bridged => sim.host("server", bridged::server),
        Tcp::Plain => sim.host("server", plain::server),
    }
    for c in 0..CLIENTS {
        let tally = tally.clone();
        match tcp {
            Tcp::Bridged => sim.client(format!("client{c}"), bridged::client(c, tally)),
            Tcp::Plain => sim.client(format!("client{c}"), plain::client(c, tally)),
        }
    }
}

/// Every request `CLIENTS` clients make.
pub fn expected() -> Tally {
    let bytes = (0..CLIENTS)
        .flat_map(|c| (0..REQUESTS).map(move |k| message(c, k).len() as u64))
        .sum();
    Tally {
        requested: CLIENTS * REQUESTS,
        completed: CLIENTS * REQUESTS,
        bytes_checked: bytes,
        failed: 0,
        redials: 0,
    }
}
