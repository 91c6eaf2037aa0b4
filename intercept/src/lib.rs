//! The wall clock and OS randomness, answered by the simulation on the current thread.
//!
//! Services running inside a simulation call `SystemTime::now()`, `Instant::now()`, build
//! `HashMap`s (whose `RandomState` keys come from the OS) and draw from `rand::rng()` (seeded
//! from the OS). Each of these makes two runs of the same seed differ. This crate defines the
//! libc functions those calls end in (`clock_gettime`, `gettimeofday`, `time`, `getrandom`,
//! `getentropy` and, on x86_64 and aarch64, `syscall`) in the binary that links it, so that the
//! binary's own definitions win over glibc's. Each definition asks one question of a
//! thread-local: is this thread inside a [`Scope`]? If so it answers from the scope (virtual
//! time, a byte stream from the seed); if not it forwards to the real libc function, found
//! once with `dlsym(RTLD_NEXT, ..)` and cached, with its return value and `errno` untouched.
//!
//! ```
//! let run = |seed: u64| {
//!     // A fresh thread: std and rand cache their OS-seeded state per thread.
//!     std::thread::spawn(move || {
//!         let _scope = sansnet_intercept::enter(seed, 0);
//!         let start = std::time::Instant::now();
//!         let map: std::collections::HashMap<u32, u32> = (0..100).map(|i| (i, i)).collect();
//!         sansnet_intercept::set_now_ns(1_500_000_000);
//!         let order: Vec<u32> = map.into_keys().collect();
//!         (order, start.elapsed())
//!     })
//!     .join()
//!     .unwrap()
//! };
//! assert_eq!(run(7), run(7)); // same order, same 1.5 s elapsed
//! ```
//!
//! # Inside a scope
//!
//! | call | answer |
//! | --- | --- |
//! | `clock_gettime` of `CLOCK_REALTIME`, `CLOCK_REALTIME_COARSE`; `gettimeofday`; `time` | [`EPOCH_UNIX_NS`] + virtual now (so `SystemTime::now()` is 2030-01-01 at virtual zero) |
//! | `clock_gettime` of `CLOCK_MONOTONIC`, `_COARSE`, `_RAW`, `CLOCK_BOOTTIME` | [`MONOTONIC_BASE_NS`] + virtual now |
//! | `clock_gettime` of any other clock (CPU time, `CLOCK_TAI`, ..) | the OS |
//! | `getrandom`, `getentropy`, `syscall(SYS_getrandom, ..)` | the scope's stream |
//!
//! The stream is ChaCha8 (`rand_chacha`), keyed by `rand_core`'s portable
//! `SeedableRng::seed_from_u64(seed)` on stream id [`RANDOM_STREAM_ID`]; each request takes the
//! next bytes (`fill_bytes`). The bytes a thread draws therefore depend only on the seed and
//! on the sequence of request lengths. Every [`enter`] starts a new stream.
//!
//! # What is covered, and the evidence
//!
//! Checked on rustc 1.95, glibc 2.36, x86_64, with the default linker (rust-lld) and with
//! GNU ld and gold (`-C linker-features=-lld [-C link-arg=-fuse-ld=gold]`), debug and release
//! with fat LTO; `tests/` re-checks every covered row in this crate's own test binaries.
//!
//! | source | path it takes | covered |
//! | --- | --- | --- |
//! | `std::time::SystemTime::now` | libc `clock_gettime(CLOCK_REALTIME)` | yes |
//! | `std::time::Instant::now`, and so `tokio::time::Instant` (a paused runtime's clock starts at `std::time::Instant::now()` at its creation) | libc `clock_gettime(CLOCK_MONOTONIC)` | yes |
//! | std `RandomState` keys (`HashMap`, `HashSet`) | libc `getrandom(.., GRND_INSECURE)`: std refers to `getrandom` as a weak undefined symbol (`readelf -s` on libstd's rlib: `WEAK UND getrandom`), which the linker binds to this crate's definition; std makes the raw system call only when no `getrandom` symbol exists at all | yes, once per thread |
//! | getrandom 0.3 and 0.4 (`rand` 0.9 and 0.10: `rng()`, `ThreadRng`, `OsRng`, `SysRng`) | `dlsym(RTLD_DEFAULT, "getrandom")` | yes: see below |
//! | getrandom 0.2 (`rand` 0.8: `thread_rng()`, `OsRng`) | libc `syscall(SYS_getrandom, ..)` | yes on x86_64 and aarch64 (the `syscall` definition) |
//! | C code calling `getentropy`, `gettimeofday`, `time`, `clock_gettime` | libc | yes |
//!
//! The getrandom crate looks its function up with `dlsym(RTLD_DEFAULT, ..)`, which searches
//! the executable's *dynamic* symbol table first. A Rust executable exports few symbols, but
//! every ELF linker tried (rust-lld, GNU ld, gold) exports an executable's definition of a
//! symbol that a linked shared library (here `libc.so.6`) also defines, so that it interposes;
//! `nm -D` on the test binaries lists `clock_gettime`, `getrandom`, `getentropy`, `syscall`, ..
//! as defined (`T`). No link argument is needed. [`installed`] checks this lookup too.
//!
//! Not covered (the call reaches the OS; the run may differ):
//!
//! - System calls made with inline assembly, which no symbol can interpose: `rustix` with its
//!   default `linux_raw` backend (its `time`, `rand` modules; it also reads the vDSO clock
//!   itself), getrandom with `--cfg getrandom_backend="linux_raw"` (its default only on
//!   libc-less Linux targets). Give such code an injected clock or generator, switch rustix
//!   to libc (its `use-libc` feature), or pick `getrandom_backend="custom"`.
//! - Reads of `/dev/urandom` or `/dev/random` (std and getrandom fall back to them only when
//!   the `getrandom` system call is unavailable or blocked by seccomp).
//! - CPU instructions: `rdtsc` clocks (`quanta`, `minstant`), `rdrand`.
//! - Other threads: a scope covers the thread that entered it. Thread pools, tokio's blocking
//!   pool, `spawn_blocking`: each thread must enter its own scope.
//! - Process-wide state seeded before the scope or shared between runs: tokio's
//!   `RngSeed::new()` hashes a process-wide counter (seed runtimes with
//!   `Builder::rng_seed`, `tokio_unstable`), `OnceLock`s filled with a random value, ..
//! - Statically linked executables (`crt-static`, musl) and targets other than Linux with
//!   glibc: there the crate compiles without the interposed functions, [`installed`] is
//!   false, and scopes only track state ([`active`], [`watch`] counts nothing).
//!
//! # Run each simulation on a fresh thread
//!
//! std draws a thread's `RandomState` keys from the OS once, at the thread's first
//! `RandomState::new()` (the first `HashMap::new()`), and derives every later map's keys from
//! them by incrementing. rand does the same with `rng()`: one generator per thread, seeded at
//! first use (and reseeded every 64 KiB, from the scope when inside one). So a scope only
//! makes hash orders and `rng()` draws deterministic if the thread has built no `HashMap` and
//! used no `rng()` before entering it: **run each simulation on a newly spawned thread, and
//! enter the scope first thing on it**, before building the runtime or anything else.
//!
//! # Opt-in, and where the `unsafe` is
//!
//! Only binaries that link this crate are affected: its symbols take effect in an executable
//! (test, example, bench or bin) that links it, directly or through a crate that uses it, and
//! in no other. A direct dependency that the code never names is not linked at all (checked:
//! its symbols are absent); `use sansnet_intercept as _;` is enough to link it. Outside a
//! scope every call is forwarded to glibc unchanged; the cost is a thread-local read and an
//! indirect call (for `syscall`, which std's futex-based locks also go through, a comparison
//! of the number and an indirect call). The workspace forbids `unsafe`; this crate
//! alone allows it, confined to the private `sys` module (the rest of the crate denies it): the `extern "C"` definitions (which
//! write through the caller's pointers as the C contract says), the `dlsym` look-ups and calls
//! of the real functions, and `errno`. Every `unsafe` block carries a `// SAFETY:` comment.
//! The thread-locals are `const`-initialised and have no destructor, so reading them never
//! allocates, never registers a destructor and never calls back into an interposed function.

// `unsafe` (and `#[no_mangle]`, which the lint counts as unsafe) only in the Linux `sys` module.
#![deny(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU8, Ordering};

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[cfg(all(
    target_os = "linux",
    target_env = "gnu",
    not(target_feature = "crt-static")
))]
#[path = "sys/linux.rs"]
#[allow(unsafe_code)]
mod sys;
#[cfg(not(all(
    target_os = "linux",
    target_env = "gnu",
    not(target_feature = "crt-static")
)))]
#[path = "sys/none.rs"]
mod sys;

/// Unix time, in ns, that `SystemTime::now()` reads at virtual time zero:
/// 2030-01-01T00:00:00Z.
pub const EPOCH_UNIX_NS: u64 = 1_893_456_000 * NANOS_PER_SEC;

/// What `CLOCK_MONOTONIC` (and `_COARSE`, `_RAW`, `CLOCK_BOOTTIME`) reads at virtual time zero:
/// 1000 s, so that a virtual `Instant` is never the all-zero value.
pub const MONOTONIC_BASE_NS: u64 = 1_000 * NANOS_PER_SEC;

/// The ChaCha stream id of every scope's random bytes (`b"intercpt"` as a little-endian
/// `u64`), so that they differ from a plain `ChaCha8Rng::seed_from_u64(seed)` of the same seed.
pub const RANDOM_STREAM_ID: u64 = u64::from_le_bytes(*b"intercpt");

const NANOS_PER_SEC: u64 = 1_000_000_000;

thread_local! {
    /// Virtual now, in ns since virtual zero; `Some` exactly while this thread is in a scope.
    static NOW_NS: Cell<Option<u64>> = const { Cell::new(None) };
    /// The scope's byte stream; `Some` exactly while `NOW_NS` is.
    static RNG: RefCell<Option<ChaCha8Rng>> = const { RefCell::new(None) };
    /// Calls seen on this thread since it started (wrapping); a `Watch` subtracts.
    static SEEN: Cell<Counts> = const { Cell::new(Counts::ZERO) };
}

// Reading a thread-local with a destructor registers it on first access (which may allocate)
// and fails during thread teardown; these have none, so the interposed functions may read
// them at any point of a thread's life.
const _: () = assert!(!std::mem::needs_drop::<RefCell<Option<ChaCha8Rng>>>());
const _: () = assert!(!std::mem::needs_drop::<Cell<Counts>>());

/// This thread answers clock and randomness calls from the simulation until the guard drops.
///
/// `seed` keys the byte stream handed to `getrandom`/`getentropy`, `now_ns` is the virtual time
/// (ns since virtual zero) until [`set_now_ns`] moves it. Nesting: entering while entered
/// replaces the state (a new stream from `seed`), and the inner guard restores the previous
/// state, stream position included, when it drops. Drop guards in the reverse order of
/// entering.
///
/// Enter on a fresh thread, before anything builds a `HashMap` or uses `rand::rng()` there
/// (see the crate documentation).
pub fn enter(seed: u64, now_ns: u64) -> Scope {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(RANDOM_STREAM_ID);
    let prev_rng = RNG.with(|cell| cell.replace(Some(rng)));
    let prev_now_ns = NOW_NS.with(|cell| cell.replace(Some(now_ns)));
    Scope {
        prev_now_ns,
        prev_rng,
        _not_send: PhantomData,
    }
}

/// Advances the virtual clock seen by this thread (no-op when not entered).
pub fn set_now_ns(now_ns: u64) {
    NOW_NS.with(|cell| {
        if cell.get().is_some() {
            cell.set(Some(now_ns));
        }
    });
}

/// Whether this thread is inside a scope.
pub fn active() -> bool {
    NOW_NS.with(|cell| cell.get().is_some())
}

/// Whether interposition is in effect in this binary. Cached after the first call.
///
/// Probes, on the calling thread, inside a temporary scope: does `SystemTime::now()` read the
/// virtual clock, and does `dlsym(RTLD_DEFAULT, "getrandom")` (the getrandom crate's look-up)
/// find this crate's `getrandom`? The probe leaves the caller's scope and [`watch`] counts as
/// they were. Always false where the crate compiles without interposition (see the crate
/// documentation).
pub fn installed() -> bool {
    const UNKNOWN: u8 = 0;
    const YES: u8 = 1;
    const NO: u8 = 2;
    static CACHE: AtomicU8 = AtomicU8::new(UNKNOWN);
    match CACHE.load(Ordering::Relaxed) {
        YES => true,
        NO => false,
        _ => {
            let installed = probe();
            CACHE.store(if installed { YES } else { NO }, Ordering::Relaxed);
            installed
        }
    }
}

#[allow(
    clippy::disallowed_methods,
    reason = "the probe reads the clock on purpose"
)]
fn probe() -> bool {
    if !sys::INTERPOSES {
        return false;
    }
    const PROBE_NS: u64 = 123_456_789_012;
    let seen = SEEN.with(Cell::get);
    let clock = {
        let _scope = enter(0, PROBE_NS);
        std::time::SystemTime::now()
            == std::time::UNIX_EPOCH + std::time::Duration::from_nanos(EPOCH_UNIX_NS + PROBE_NS)
    };
    SEEN.with(|cell| cell.set(seen));
    clock && sys::getrandom_found_by_dlsym()
}

/// Guard of [`enter`]: while it lives, this thread answers from the simulation. Not `Send`:
/// the state it restores belongs to the thread that entered.
#[must_use = "the scope ends when the guard drops"]
pub struct Scope {
    prev_now_ns: Option<u64>,
    prev_rng: Option<ChaCha8Rng>,
    _not_send: PhantomData<*const ()>,
}

impl Drop for Scope {
    fn drop(&mut self) {
        let prev_rng = self.prev_rng.take();
        RNG.with(|cell| *cell.borrow_mut() = prev_rng);
        NOW_NS.with(|cell| cell.set(self.prev_now_ns));
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("now_ns", &NOW_NS.with(Cell::get))
            .field("nested", &self.prev_now_ns.is_some())
            .finish_non_exhaustive()
    }
}

/// Counts of clock and randomness calls seen on one thread, in and out of scopes alike.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// `clock_gettime` of `CLOCK_REALTIME`/`_COARSE`, `gettimeofday`, `time`
    /// (`SystemTime::now()` is one).
    pub realtime_reads: u64,
    /// `clock_gettime` of `CLOCK_MONOTONIC`/`_COARSE`/`_RAW`, `CLOCK_BOOTTIME`
    /// (`Instant::now()` is one).
    pub monotonic_reads: u64,
    /// Bytes handed out by `getrandom`, `getentropy`, `syscall(SYS_getrandom)`: from the scope's
    /// stream, or from the OS (what it returned) outside a scope.
    pub random_bytes: u64,
    /// Calls of those randomness functions, the empty ones included.
    pub random_calls: u64,
}

impl Counts {
    const ZERO: Counts = Counts {
        realtime_reads: 0,
        monotonic_reads: 0,
        random_bytes: 0,
        random_calls: 0,
    };

    fn since(self, start: Counts) -> Counts {
        Counts {
            realtime_reads: self.realtime_reads.wrapping_sub(start.realtime_reads),
            monotonic_reads: self.monotonic_reads.wrapping_sub(start.monotonic_reads),
            random_bytes: self.random_bytes.wrapping_sub(start.random_bytes),
            random_calls: self.random_calls.wrapping_sub(start.random_calls),
        }
    }
}

/// Starts counting this thread's clock and randomness calls, in and out of scopes (outside a
/// scope the calls go to the OS and are counted on the way), so that a harness can say "the
/// service read the wall clock 3 times" when two runs differ.
///
/// Watches nest freely: each counts from its own creation.
pub fn watch() -> Watch {
    Watch {
        start: SEEN.with(Cell::get),
        _not_send: PhantomData,
    }
}

/// Guard of [`watch`]. Not `Send`: it counts the calls of the thread that created it.
#[derive(Debug)]
pub struct Watch {
    start: Counts,
    _not_send: PhantomData<*const ()>,
}

impl Watch {
    /// The calls this thread made since this watch began.
    pub fn counts(&self) -> Counts {
        SEEN.with(Cell::get).since(self.start)
    }
}

/// Which virtual clock a clock id reads.
#[derive(Clone, Copy)]
#[cfg_attr(
    not(all(
        target_os = "linux",
        target_env = "gnu",
        not(target_feature = "crt-static")
    )),
    allow(dead_code)
)]
enum Clock {
    Realtime,
    Monotonic,
}

/// Counts one read of `clock` and returns its virtual reading in ns, or `None` outside a scope.
#[cfg_attr(
    not(all(
        target_os = "linux",
        target_env = "gnu",
        not(target_feature = "crt-static")
    )),
    allow(dead_code)
)]
fn read_clock(clock: Clock) -> Option<u64> {
    let _ = SEEN.try_with(|cell| {
        let mut seen = cell.get();
        match clock {
            Clock::Realtime => seen.realtime_reads = seen.realtime_reads.wrapping_add(1),
            Clock::Monotonic => seen.monotonic_reads = seen.monotonic_reads.wrapping_add(1),
        }
        cell.set(seen);
    });
    let now_ns = NOW_NS.try_with(Cell::get).ok().flatten()?;
    Some(match clock {
        Clock::Realtime => EPOCH_UNIX_NS.saturating_add(now_ns),
        Clock::Monotonic => MONOTONIC_BASE_NS.saturating_add(now_ns),
    })
}

/// Counts one randomness call that handed out `bytes`.
#[cfg_attr(
    not(all(
        target_os = "linux",
        target_env = "gnu",
        not(target_feature = "crt-static")
    )),
    allow(dead_code)
)]
fn count_random(bytes: u64) {
    let _ = SEEN.try_with(|cell| {
        let mut seen = cell.get();
        seen.random_calls = seen.random_calls.wrapping_add(1);
        seen.random_bytes = seen.random_bytes.wrapping_add(bytes);
        cell.set(seen);
    });
}

/// Fills `buf` from the scope's stream and returns true, or returns false outside a scope (or
/// when the stream is in use further up this thread's stack, as from a signal handler).
#[cfg_attr(
    not(all(
        target_os = "linux",
        target_env = "gnu",
        not(target_feature = "crt-static")
    )),
    allow(dead_code)
)]
fn fill_from_scope(buf: &mut [u8]) -> bool {
    RNG.try_with(|cell| match cell.try_borrow_mut() {
        Ok(mut rng) => match rng.as_mut() {
            Some(rng) => {
                rng.fill_bytes(buf);
                true
            }
            None => false,
        },
        Err(_) => false,
    })
    .unwrap_or(false)
}
