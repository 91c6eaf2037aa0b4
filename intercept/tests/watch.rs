//! `watch()` counts this thread's clock and randomness calls, in and out of scopes.
#![cfg(all(
    target_os = "linux",
    target_env = "gnu",
    not(target_feature = "crt-static")
))]
#![allow(
    clippy::disallowed_methods,
    reason = "these tests read the clocks on purpose"
)]

use std::time::{Instant, SystemTime};

use pretty_assertions::assert_eq;
use sansnet_intercept::{enter, installed, watch, Counts};

fn getrandom(len: usize) {
    let mut buf = vec![0u8; len];
    // SAFETY: `buf` is valid for `len` bytes of writes.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), len, 0) };
    assert_eq!(n, len as isize);
}

#[test]
fn system_time_counts_as_a_realtime_read_and_getrandom_as_bytes() {
    let _scope = enter(1, 0);
    let watch = watch();
    let _ = SystemTime::now();
    let _ = Instant::now();
    getrandom(24);
    let expected = Counts {
        realtime_reads: 1,
        monotonic_reads: 1,
        random_bytes: 24,
        random_calls: 1,
    };
    assert_eq!(watch.counts(), expected);
}

#[test]
fn calls_outside_a_scope_are_counted_too() {
    let watch = watch();
    let _ = SystemTime::now();
    let _ = SystemTime::now();
    getrandom(5);
    let expected = Counts {
        realtime_reads: 2,
        monotonic_reads: 0,
        random_bytes: 5,
        random_calls: 1,
    };
    assert_eq!(watch.counts(), expected);
}

#[test]
fn a_new_watch_counts_from_zero_and_installed_counts_nothing() {
    let outer = watch();
    let _ = SystemTime::now();
    let inner = watch();
    assert!(installed());
    assert_eq!(inner.counts(), Counts::default());
    assert_eq!(outer.counts().realtime_reads, 1);
}

#[test]
fn another_threads_calls_are_not_counted() {
    let watch = watch();
    std::thread::spawn(|| {
        let _ = SystemTime::now();
        getrandom(8);
    })
    .join()
    .unwrap();
    assert_eq!(watch.counts(), Counts::default());
}
