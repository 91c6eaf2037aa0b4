//! The clocks inside and outside a scope.
#![cfg(all(
    target_os = "linux",
    target_env = "gnu",
    not(target_feature = "crt-static")
))]
#![allow(
    clippy::disallowed_methods,
    reason = "these tests read the clocks on purpose"
)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pretty_assertions::assert_eq;
use sansnet_intercept::{active, enter, installed, set_now_ns, EPOCH_UNIX_NS};

fn virtual_system_time(now_ns: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(EPOCH_UNIX_NS + now_ns)
}

#[test]
fn installed_in_a_binary_that_links_the_crate() {
    assert!(installed());
    assert!(!active(), "the probe leaves no scope behind");
}

#[test]
fn system_time_inside_a_scope_is_the_virtual_clock() {
    let _scope = enter(1, 42_000_000_123);
    assert_eq!(SystemTime::now(), virtual_system_time(42_000_000_123));
}

#[test]
fn epoch_is_2030_01_01() {
    let _scope = enter(1, 0);
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(secs, 1_893_456_000);
}

#[test]
fn set_now_ns_moves_system_time() {
    let _scope = enter(1, 0);
    set_now_ns(5_000_000_007);
    assert_eq!(SystemTime::now(), virtual_system_time(5_000_000_007));
    set_now_ns(9_000_000_000);
    assert_eq!(SystemTime::now(), virtual_system_time(9_000_000_000));
}

#[test]
fn instant_differences_follow_set_now_ns() {
    let _scope = enter(1, 1_000);
    let start = Instant::now();
    set_now_ns(1_000 + 2_500_000_000);
    assert_eq!(Instant::now() - start, Duration::from_millis(2_500));
    assert_eq!(start.elapsed(), Duration::from_millis(2_500));
}

#[test]
fn set_now_ns_outside_a_scope_does_nothing() {
    set_now_ns(7);
    assert!(!active());
    let _scope = enter(1, 3);
    assert_eq!(SystemTime::now(), virtual_system_time(3));
}

/// The kernel stamps a new file with its own clock, which no interposed function reads.
fn kernel_now() -> SystemTime {
    let path = std::env::temp_dir().join(format!(
        "sansnet-intercept-mtime-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&path, b"now").unwrap();
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::fs::remove_file(&path).unwrap();
    mtime
}

fn assert_close_to_kernel_time(now: SystemTime) {
    let kernel = kernel_now();
    let gap = match now.duration_since(kernel) {
        Ok(ahead) => ahead,
        Err(behind) => behind.duration(),
    };
    assert!(
        gap < Duration::from_secs(5),
        "SystemTime {now:?} vs file mtime {kernel:?}"
    );
}

#[test]
fn system_time_outside_a_scope_is_real() {
    assert_close_to_kernel_time(SystemTime::now());
    {
        let _scope = enter(1, 0);
        assert_eq!(SystemTime::now(), virtual_system_time(0));
    }
    assert_close_to_kernel_time(SystemTime::now());
}

#[test]
fn nested_scopes_restore_the_outer_clock() {
    let outer = enter(1, 10);
    {
        let _inner = enter(2, 20);
        assert_eq!(SystemTime::now(), virtual_system_time(20));
        set_now_ns(25);
        assert_eq!(SystemTime::now(), virtual_system_time(25));
    }
    assert_eq!(SystemTime::now(), virtual_system_time(10));
    drop(outer);
    assert!(!active());
}

#[test]
fn libc_time_and_gettimeofday_read_the_virtual_clock() {
    let _scope = enter(1, 3_000_000_000 + 4_000);
    // SAFETY: null is allowed for time's argument.
    let secs = unsafe { libc::time(std::ptr::null_mut()) };
    assert_eq!(secs, 1_893_456_003);
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    // SAFETY: `tv` is a valid timeval; a null timezone is allowed.
    let ret = unsafe { libc::gettimeofday(&mut tv, std::ptr::null_mut()) };
    assert_eq!((ret, tv.tv_sec, tv.tv_usec), (0, 1_893_456_003, 4));
}

#[test]
fn cpu_time_clocks_go_to_the_os() {
    let _scope = enter(1, 0);
    let mut ts = libc::timespec {
        tv_sec: -1,
        tv_nsec: -1,
    };
    // SAFETY: `ts` is a valid timespec.
    let ret = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(ret, 0);
    assert!(ts.tv_sec >= 0 && ts.tv_nsec >= 0);
}
