//! Initial sequence numbers per RFC 6528, and per-connection timestamp offsets.
//!
//! ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M is a clock
//! ticking every 4 microseconds (RFC 9293 section 3.4.1, MUST-8) read from the simulated
//! time, and F is SipHash-2-4 keyed with the host's secret (SHLD-1, MUST-9).

use core::net::SocketAddrV4;

use crate::hash::{siphash24, SecretKey};
use crate::time::Instant;
use crate::wire::SeqNumber;

fn tuple_bytes(tag: u8, local: SocketAddrV4, remote: SocketAddrV4) -> [u8; 13] {
    let mut b = [0u8; 13];
    b[0] = tag;
    b[1..5].copy_from_slice(&local.ip().octets());
    b[5..7].copy_from_slice(&local.port().to_be_bytes());
    b[7..11].copy_from_slice(&remote.ip().octets());
    b[11..13].copy_from_slice(&remote.port().to_be_bytes());
    b
}

/// The ISN for a connection opened at `now`.
pub fn initial_sequence_number(
    secret: &SecretKey,
    now: Instant,
    local: SocketAddrV4,
    remote: SocketAddrV4,
) -> SeqNumber {
    let m = (now.as_nanos() / 4_000) as u32;
    let f = siphash24(secret, &tuple_bytes(b'I', local, remote)) as u32;
    SeqNumber(m.wrapping_add(f))
}

/// The offset added to the millisecond clock for this connection's TSval, so that
/// timestamps reveal no host uptime (RFC 7323 section 7.1).
pub fn timestamp_offset(secret: &SecretKey, local: SocketAddrV4, remote: SocketAddrV4) -> u32 {
    siphash24(secret, &tuple_bytes(b'T', local, remote)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    const A: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 49152);
    const B: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);

    #[test]
    fn isn_advances_with_the_clock_every_four_microseconds() {
        let key = SecretKey([7; 16]);
        let t0 = initial_sequence_number(&key, Instant::ZERO, A, B);
        let t1 = initial_sequence_number(&key, Instant::from_micros(400), A, B);
        assert_eq!(t1 - t0, 100);
    }

    #[test]
    fn isn_depends_on_the_tuple_and_the_secret() {
        let key = SecretKey([7; 16]);
        let other = SecretKey([8; 16]);
        let base = initial_sequence_number(&key, Instant::ZERO, A, B);
        assert_ne!(base, initial_sequence_number(&key, Instant::ZERO, B, A));
        assert_ne!(base, initial_sequence_number(&other, Instant::ZERO, A, B));
    }
}
