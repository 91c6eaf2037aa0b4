//! A paused tokio runtime built inside a scope starts its clock at the virtual `Instant`.
#![cfg(all(
    target_os = "linux",
    target_env = "gnu",
    not(target_feature = "crt-static")
))]

use std::time::Duration;

use pretty_assertions::assert_eq;
use sansnet_intercept::enter;

fn paused_runtime_instants(seed: u64) -> (std::time::Instant, std::time::Instant) {
    std::thread::spawn(move || {
        let _scope = enter(seed, 0);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let start = tokio::time::Instant::now();
            tokio::time::sleep(Duration::from_secs(3)).await;
            (start.into_std(), tokio::time::Instant::now().into_std())
        })
    })
    .join()
    .unwrap()
}

#[test]
fn tokio_paused_instant_is_the_same_across_fresh_thread_runs() {
    let first = paused_runtime_instants(9);
    assert_eq!(first, paused_runtime_instants(9));
    assert_eq!(first.1 - first.0, Duration::from_secs(3));
}
