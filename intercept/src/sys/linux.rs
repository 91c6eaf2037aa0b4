//! The interposed libc functions: Linux, glibc, dynamically linked.
//!
//! Each `#[no_mangle]` definition below takes the place of glibc's function of the same name in
//! the executable: calls from the executable bind to it when linking, and the linker exports it
//! to the dynamic symbol table because `libc.so.6` defines the same name, so `dlsym` look-ups
//! and other shared libraries find it too. Outside a scope each one forwards to glibc's
//! definition, found with `dlsym(RTLD_NEXT, ..)`. This is the only module with `unsafe`.

use std::ffi::{c_int, c_long, c_uint, c_void, CStr};
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::{count_random, read_clock, Clock, NANOS_PER_SEC};

/// Whether this build defines the interposed functions.
pub(crate) const INTERPOSES: bool = true;

/// Whether `dlsym(RTLD_DEFAULT, "getrandom")`, the getrandom crate's look-up, finds the
/// definition below rather than glibc's.
pub(crate) fn getrandom_found_by_dlsym() -> bool {
    // SAFETY: the name is a NUL-terminated 'static string; RTLD_DEFAULT is a valid handle.
    let found = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"getrandom".as_ptr()) };
    found == getrandom as Getrandom as *mut c_void
}

/// The definition of a libc function that this executable's own definition hides, looked up
/// at first use.
struct Next {
    name: &'static CStr,
    addr: AtomicPtr<c_void>,
}

impl Next {
    const fn new(name: &'static CStr) -> Next {
        Next {
            name,
            addr: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// The function as an `F`, or `None` if no library after the executable defines it.
    ///
    /// # Safety
    ///
    /// `F` must be the `unsafe extern "C" fn` type of the C function called `self.name`.
    unsafe fn get<F: Copy>(&self) -> Option<F> {
        const { assert!(size_of::<F>() == size_of::<*mut c_void>()) };
        let mut addr = self.addr.load(Ordering::Acquire);
        if addr.is_null() {
            // SAFETY: the name is a NUL-terminated 'static string; RTLD_NEXT is a valid handle
            // in a dynamically linked executable. dlsym calls none of the interposed functions.
            addr = unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr()) };
            // Racing first calls store the same address.
            self.addr.store(addr, Ordering::Release);
        }
        if addr.is_null() {
            return None;
        }
        // SAFETY: `addr` is the address of the C function `name`, whose type the caller
        // guarantees `F` is; a function pointer has the size of a data pointer (asserted).
        Some(unsafe { std::mem::transmute_copy::<*mut c_void, F>(&addr) })
    }
}

fn set_errno(errno: c_int) {
    // SAFETY: __errno_location returns this thread's errno, valid for the thread's lifetime.
    unsafe { *libc::__errno_location() = errno };
}

fn clock_of(clockid: libc::clockid_t) -> Option<Clock> {
    match clockid {
        libc::CLOCK_REALTIME | libc::CLOCK_REALTIME_COARSE => Some(Clock::Realtime),
        libc::CLOCK_MONOTONIC
        | libc::CLOCK_MONOTONIC_COARSE
        | libc::CLOCK_MONOTONIC_RAW
        | libc::CLOCK_BOOTTIME => Some(Clock::Monotonic),
        _ => None,
    }
}

/// Fills `buf` from this thread's scope and counts the call; `None` (nothing written) outside a
/// scope, or for a request the OS should refuse (null buffer, length past `isize::MAX`).
///
/// # Safety
///
/// `buf` is valid for writes of `len` bytes (the contract of `getrandom(2)`), or `len` is 0.
unsafe fn fill_from_scope(buf: *mut c_void, len: usize) -> Option<usize> {
    if !crate::active() || len > isize::MAX as usize || (len > 0 && buf.is_null()) {
        return None;
    }
    let filled = len == 0 || {
        // SAFETY: `buf` is valid for `len` bytes of writes (caller); zeroing them first makes
        // them initialised, so they may be viewed as a `&mut [u8]` for the fill.
        let bytes = unsafe {
            ptr::write_bytes(buf.cast::<u8>(), 0, len);
            std::slice::from_raw_parts_mut(buf.cast::<u8>(), len)
        };
        crate::fill_from_scope(bytes)
    };
    if !filled {
        return None;
    }
    count_random(len as u64);
    Some(len)
}

type ClockGettime = unsafe extern "C" fn(libc::clockid_t, *mut libc::timespec) -> c_int;
static CLOCK_GETTIME: Next = Next::new(c"clock_gettime");

/// `clock_gettime(2)`; `std::time::{SystemTime, Instant}::now` call it.
///
/// # Safety
///
/// `tp` is null or valid for writing a `timespec`.
#[unsafe(no_mangle)]
unsafe extern "C" fn clock_gettime(clockid: libc::clockid_t, tp: *mut libc::timespec) -> c_int {
    if let Some(ns) = clock_of(clockid).and_then(read_clock) {
        if tp.is_null() {
            set_errno(libc::EFAULT);
            return -1;
        }
        // SAFETY: `tp` is non-null, so valid for writing a timespec (caller).
        unsafe {
            (*tp).tv_sec = (ns / NANOS_PER_SEC) as libc::time_t;
            (*tp).tv_nsec = (ns % NANOS_PER_SEC) as _;
        }
        return 0;
    }
    // SAFETY: `ClockGettime` is the C type of clock_gettime.
    match unsafe { CLOCK_GETTIME.get::<ClockGettime>() } {
        // SAFETY: glibc's clock_gettime, with our caller's arguments under the same contract.
        Some(real) => unsafe { real(clockid, tp) },
        None => {
            set_errno(libc::ENOSYS);
            -1
        }
    }
}

type Gettimeofday = unsafe extern "C" fn(*mut libc::timeval, *mut c_void) -> c_int;
static GETTIMEOFDAY: Next = Next::new(c"gettimeofday");

/// `gettimeofday(2)`.
///
/// # Safety
///
/// `tv` is null or valid for writing a `timeval`; `tz` is null or valid for writing a
/// `struct timezone` (two `int`s).
#[unsafe(no_mangle)]
unsafe extern "C" fn gettimeofday(tv: *mut libc::timeval, tz: *mut c_void) -> c_int {
    if let Some(ns) = read_clock(Clock::Realtime) {
        if !tv.is_null() {
            // SAFETY: non-null, so valid for writing a timeval (caller).
            unsafe {
                (*tv).tv_sec = (ns / NANOS_PER_SEC) as libc::time_t;
                (*tv).tv_usec = ((ns % NANOS_PER_SEC) / 1_000) as libc::suseconds_t;
            }
        }
        if !tz.is_null() {
            // SAFETY: non-null, so valid for writing a struct timezone, two ints (caller).
            unsafe { tz.cast::<[c_int; 2]>().write([0, 0]) };
        }
        return 0;
    }
    // SAFETY: `Gettimeofday` is the C type of gettimeofday.
    match unsafe { GETTIMEOFDAY.get::<Gettimeofday>() } {
        // SAFETY: glibc's gettimeofday, with our caller's arguments under the same contract.
        Some(real) => unsafe { real(tv, tz) },
        None => {
            set_errno(libc::ENOSYS);
            -1
        }
    }
}

type Time = unsafe extern "C" fn(*mut libc::time_t) -> libc::time_t;
static TIME: Next = Next::new(c"time");

/// `time(2)`.
///
/// # Safety
///
/// `t` is null or valid for writing a `time_t`.
#[unsafe(no_mangle)]
unsafe extern "C" fn time(t: *mut libc::time_t) -> libc::time_t {
    if let Some(ns) = read_clock(Clock::Realtime) {
        let secs = (ns / NANOS_PER_SEC) as libc::time_t;
        if !t.is_null() {
            // SAFETY: non-null, so valid for writing a time_t (caller).
            unsafe { t.write(secs) };
        }
        return secs;
    }
    // SAFETY: `Time` is the C type of time.
    match unsafe { TIME.get::<Time>() } {
        // SAFETY: glibc's time, with our caller's argument under the same contract.
        Some(real) => unsafe { real(t) },
        None => {
            set_errno(libc::ENOSYS);
            -1
        }
    }
}

type Getrandom = unsafe extern "C" fn(*mut c_void, libc::size_t, c_uint) -> libc::ssize_t;
static GETRANDOM: Next = Next::new(c"getrandom");

/// `getrandom(2)`: std's `RandomState` keys and the getrandom crate 0.3 and 0.4 call it.
///
/// # Safety
///
/// `buf` is valid for writes of `buflen` bytes.
#[unsafe(no_mangle)]
unsafe extern "C" fn getrandom(
    buf: *mut c_void,
    buflen: libc::size_t,
    flags: c_uint,
) -> libc::ssize_t {
    // SAFETY: `buf` is valid for `buflen` bytes of writes (caller).
    if let Some(filled) = unsafe { fill_from_scope(buf, buflen) } {
        return filled as libc::ssize_t;
    }
    // SAFETY: `Getrandom` is the C type of getrandom.
    let ret = match unsafe { GETRANDOM.get::<Getrandom>() } {
        // SAFETY: glibc's getrandom, with our caller's arguments under the same contract.
        Some(real) => unsafe { real(buf, buflen, flags) },
        None => {
            set_errno(libc::ENOSYS);
            -1
        }
    };
    count_random(ret.max(0) as u64);
    ret
}

type Getentropy = unsafe extern "C" fn(*mut c_void, libc::size_t) -> c_int;
static GETENTROPY: Next = Next::new(c"getentropy");

/// `getentropy(3)`: at most 256 bytes, all or nothing.
///
/// # Safety
///
/// `buf` is valid for writes of `len` bytes.
#[unsafe(no_mangle)]
unsafe extern "C" fn getentropy(buf: *mut c_void, len: libc::size_t) -> c_int {
    // Longer requests fail (EIO) in glibc, which checks the length before reading anything.
    if len <= 256 {
        // SAFETY: `buf` is valid for `len` bytes of writes (caller).
        if unsafe { fill_from_scope(buf, len) }.is_some() {
            return 0;
        }
    }
    // SAFETY: `Getentropy` is the C type of getentropy.
    let ret = match unsafe { GETENTROPY.get::<Getentropy>() } {
        // SAFETY: glibc's getentropy, with our caller's arguments under the same contract.
        Some(real) => unsafe { real(buf, len) },
        None => {
            set_errno(libc::ENOSYS);
            -1
        }
    };
    count_random(if ret == 0 { len as u64 } else { 0 });
    ret
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
type Syscall = unsafe extern "C" fn(c_long, ...) -> c_long;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
static SYSCALL: Next = Next::new(c"syscall");

/// `syscall(2)`, for getrandom 0.2's `syscall(SYS_getrandom, buf, len, flags)` (and
/// `SYS_clock_gettime`); every other number goes straight to glibc.
///
/// C declares it `long syscall(long number, ...)`; Rust cannot define a variadic function, so
/// this takes seven `long`s. On x86_64 (System V) and aarch64 Linux (AAPCS64) the integer
/// arguments of a variadic call travel exactly as those of a non-variadic call (registers,
/// then the stack), so each parameter receives what the caller passed; those it did not pass
/// hold unspecified values that are only handed on, as glibc's own `syscall` hands all six to
/// the kernel. Hence the architecture gate.
///
/// # Safety
///
/// The kernel's contract for `number` and its arguments.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[unsafe(no_mangle)]
unsafe extern "C" fn syscall(
    number: c_long,
    a1: c_long,
    a2: c_long,
    a3: c_long,
    a4: c_long,
    a5: c_long,
    a6: c_long,
) -> c_long {
    if number == libc::SYS_getrandom {
        let buf = ptr::with_exposed_provenance_mut::<c_void>(a1 as usize);
        // SAFETY: getrandom(buf = a1, len = a2, flags = a3): `buf` is valid for `len` bytes
        // of writes (caller).
        if let Some(filled) = unsafe { fill_from_scope(buf, a2 as usize) } {
            return filled as c_long;
        }
    } else if number == libc::SYS_clock_gettime {
        let tp = ptr::with_exposed_provenance_mut::<libc::timespec>(a2 as usize);
        // SAFETY: clock_gettime(clockid = a1, tp = a2): `tp` is null or valid for writing a
        // timespec (caller). The libc function has the raw call's return convention.
        return c_long::from(unsafe { clock_gettime(a1 as libc::clockid_t, tp) });
    }
    // SAFETY: `Syscall` is the C type of syscall.
    let ret = match unsafe { SYSCALL.get::<Syscall>() } {
        // SAFETY: glibc's syscall, with our caller's arguments under the same contract.
        Some(real) => unsafe { real(number, a1, a2, a3, a4, a5, a6) },
        None => {
            set_errno(libc::ENOSYS);
            -1
        }
    };
    if number == libc::SYS_getrandom {
        count_random(ret.max(0) as u64);
    }
    ret
}
