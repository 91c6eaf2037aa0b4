//! Randomness inside a scope: std's hash keys, rand's thread generators, the raw functions.
#![cfg(all(
    target_os = "linux",
    target_env = "gnu",
    not(target_feature = "crt-static")
))]

use std::collections::HashMap;

use pretty_assertions::{assert_eq, assert_ne};
use sansnet_intercept::enter;

/// std and rand seed their per-thread state once per thread: every run gets a new thread.
fn on_fresh_thread<T: Send + 'static>(run: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(run).join().unwrap()
}

fn hash_order(seed: u64) -> Vec<u64> {
    on_fresh_thread(move || {
        let _scope = enter(seed, 0);
        let map: HashMap<u64, ()> = (0..1_000).map(|k| (k, ())).collect();
        map.into_keys().collect()
    })
}

#[test]
fn hashmap_order_is_the_same_for_the_same_seed() {
    assert_eq!(hash_order(7), hash_order(7));
}

#[test]
fn hashmap_order_differs_for_another_seed() {
    assert_ne!(hash_order(7), hash_order(8));
}

#[test]
fn rand_rng_draws_the_same_for_the_same_seed() {
    let draws = |seed| {
        on_fresh_thread(move || {
            use rand::RngExt;
            let _scope = enter(seed, 0);
            let mut rng = rand::rng();
            (0..8).map(|_| rng.random::<u64>()).collect::<Vec<_>>()
        })
    };
    assert_eq!(draws(3), draws(3));
    assert_ne!(draws(3), draws(4));
}

#[test]
fn rand_0_9_rng_draws_the_same_for_the_same_seed() {
    let draws = |seed| {
        on_fresh_thread(move || {
            use rand09::Rng;
            let _scope = enter(seed, 0);
            let mut rng = rand09::rng();
            (0..8).map(|_| rng.random::<u64>()).collect::<Vec<_>>()
        })
    };
    assert_eq!(draws(3), draws(3));
    assert_ne!(draws(3), draws(4));
}

#[test]
fn rand_0_8_thread_rng_draws_the_same_for_the_same_seed() {
    let draws = |seed| {
        on_fresh_thread(move || {
            use rand08::Rng;
            let _scope = enter(seed, 0);
            let mut rng = rand08::thread_rng();
            (0..8).map(|_| rng.gen::<u64>()).collect::<Vec<_>>()
        })
    };
    assert_eq!(draws(3), draws(3));
    assert_ne!(draws(3), draws(4));
}

fn getrandom_bytes(seed: u64) -> [u8; 32] {
    let _scope = enter(seed, 0);
    let mut buf = [0u8; 32];
    // SAFETY: `buf` is valid for 32 bytes of writes.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    assert_eq!(n, 32);
    buf
}

#[test]
fn getrandom_bytes_depend_only_on_the_seed() {
    assert_eq!(getrandom_bytes(11), getrandom_bytes(11));
    assert_ne!(getrandom_bytes(11), getrandom_bytes(12));
}

#[test]
fn getrandom_0_2_raw_syscall_reads_the_scope() {
    let draw = |seed| {
        let _scope = enter(seed, 0);
        let mut buf = [0u8; 32];
        getrandom02::getrandom(&mut buf).unwrap();
        buf
    };
    assert_eq!(draw(11), draw(11));
    assert_eq!(
        draw(11),
        getrandom_bytes(11),
        "the same stream as libc's getrandom"
    );
}

#[test]
fn getentropy_reads_the_scope_and_refuses_over_256_bytes() {
    let _scope = enter(11, 0);
    let mut buf = [0u8; 32];
    // SAFETY: `buf` is valid for 32 bytes of writes.
    let ret = unsafe { libc::getentropy(buf.as_mut_ptr().cast(), buf.len()) };
    assert_eq!(ret, 0);
    assert_eq!(buf, getrandom_bytes(11));
    let mut big = [0u8; 257];
    // SAFETY: `big` is valid for 257 bytes of writes.
    let ret = unsafe { libc::getentropy(big.as_mut_ptr().cast(), big.len()) };
    assert_eq!(
        (ret, std::io::Error::last_os_error().raw_os_error()),
        (-1, Some(libc::EIO))
    );
}

#[test]
fn nested_scopes_restore_the_outer_stream() {
    let draw = |len: usize| {
        let mut buf = vec![0u8; len];
        // SAFETY: `buf` is valid for `len` bytes of writes.
        let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), len, 0) };
        assert_eq!(n, len as isize);
        buf
    };
    let straight = {
        let _scope = enter(5, 0);
        draw(16)
    };
    let _outer = enter(5, 0);
    let mut interrupted = draw(8);
    {
        let _inner = enter(6, 0);
        draw(8);
    }
    interrupted.extend(draw(8));
    assert_eq!(interrupted, straight);
}

#[test]
fn getrandom_outside_a_scope_is_the_os() {
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    getrandom02::getrandom(&mut a).unwrap();
    getrandom02::getrandom(&mut b).unwrap();
    assert_ne!(a, b);
    assert_ne!(a, getrandom_bytes(0));
}
