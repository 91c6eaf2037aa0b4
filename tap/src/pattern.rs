//! The bytes of a transfer: a deterministic pattern, sent from a [`Source`] and checked byte
//! for byte by a [`StreamCheck`], both hashing what passed with XXH3-64.

use xxhash_rust::xxh3::Xxh3;

use crate::{Direction, Error};

/// A stream of bytes that is a function of (seed, offset): any stretch can be generated
/// without the bytes before it, so a receiver checks what arrives without keeping anything.
///
/// Byte `i` is byte `i % 8` (little-endian) of SplitMix64's output for word `i / 8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pattern {
    seed: u64,
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Pattern {
    /// The pattern of `seed`.
    pub fn new(seed: u64) -> Pattern {
        Pattern { seed }
    }

    fn word(&self, index: u64) -> [u8; 8] {
        splitmix64(self.seed ^ index.wrapping_mul(0xd1b5_4a32_d192_ed03)).to_le_bytes()
    }

    /// The byte at `offset`.
    pub fn byte_at(&self, offset: u64) -> u8 {
        self.word(offset / 8)[(offset % 8) as usize]
    }

    /// Fills `buf` with the bytes from `offset` on.
    pub fn fill(&self, offset: u64, buf: &mut [u8]) {
        let mut at = 0;
        let mut pos = offset;
        // The partial word at the start.
        while at < buf.len() && !pos.is_multiple_of(8) {
            buf[at] = self.byte_at(pos);
            at += 1;
            pos += 1;
        }
        let mut chunks = buf[at..].chunks_exact_mut(8);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.word(pos / 8));
            pos += 8;
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let word = self.word(pos / 8);
            let n = rest.len();
            rest.copy_from_slice(&word[..n]);
        }
    }
}

/// A streaming XXH3-64 (the crate's type has no `Debug`).
#[derive(Clone)]
pub(crate) struct Hasher(Xxh3);

impl Hasher {
    pub(crate) fn new() -> Hasher {
        Hasher(Xxh3::new())
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    pub(crate) fn digest(&self) -> u64 {
        self.0.digest()
    }
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hasher({:016x})", self.digest())
    }
}

/// How many bytes a stream carried, and their XXH3-64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSummary {
    /// Bytes.
    pub bytes: u64,
    /// XXH3-64 of them (seed 0).
    pub xxh3: u64,
}

const CHUNK: usize = 64 * 1024;

/// The sending end of a pattern stream of a fixed length.
#[derive(Debug)]
pub struct Source {
    pattern: Pattern,
    len: u64,
    /// Bytes consumed (handed to a socket).
    sent: u64,
    /// Staged bytes `[sent, sent + staged.len() - at)` are `staged[at..]`.
    staged: Vec<u8>,
    at: usize,
    hasher: Hasher,
}

impl Source {
    /// `len` bytes of `pattern`.
    pub fn new(pattern: Pattern, len: u64) -> Source {
        Source {
            pattern,
            len,
            sent: 0,
            staged: Vec::with_capacity(CHUNK),
            at: 0,
            hasher: Hasher::new(),
        }
    }

    /// The next bytes to send (empty once everything was consumed).
    pub fn pending(&mut self) -> &[u8] {
        if self.at == self.staged.len() {
            let n = (self.len - self.sent).min(CHUNK as u64) as usize;
            self.staged.resize(n, 0);
            self.pattern.fill(self.sent, &mut self.staged);
            self.at = 0;
        }
        &self.staged[self.at..]
    }

    /// Marks the first `n` bytes of [`pending`](Self::pending) as sent (at most all of them).
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.staged.len() - self.at);
        self.hasher.update(&self.staged[self.at..self.at + n]);
        self.at += n;
        self.sent += n as u64;
    }

    /// Whether every byte was consumed.
    pub fn is_done(&self) -> bool {
        self.sent == self.len
    }

    /// The stream's length.
    pub fn total(&self) -> u64 {
        self.len
    }

    /// Bytes consumed so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// What was consumed so far.
    pub fn summary(&self) -> StreamSummary {
        StreamSummary {
            bytes: self.sent,
            xxh3: self.hasher.digest(),
        }
    }
}

/// The receiving end: checks each byte against the pattern as it arrives, and the length at
/// the end of the stream.
#[derive(Debug)]
pub struct StreamCheck {
    pattern: Pattern,
    expected_len: u64,
    direction: Direction,
    received: u64,
    hasher: Hasher,
    scratch: Vec<u8>,
}

impl StreamCheck {
    /// Expects `expected_len` bytes of `pattern`, on the stream `direction` (for errors).
    pub fn new(pattern: Pattern, expected_len: u64, direction: Direction) -> StreamCheck {
        StreamCheck {
            pattern,
            expected_len,
            direction,
            received: 0,
            hasher: Hasher::new(),
            scratch: Vec::new(),
        }
    }

    /// Checks the next bytes of the stream.
    pub fn feed(&mut self, data: &[u8]) -> Result<(), Error> {
        let room = self.expected_len - self.received;
        if data.len() as u64 > room {
            return Err(Error::WrongLength {
                direction: self.direction,
                expected: self.expected_len,
                got: self.received + data.len() as u64,
            });
        }
        self.scratch.resize(data.len(), 0);
        self.pattern.fill(self.received, &mut self.scratch);
        if self.scratch[..] != *data {
            let i = self
                .scratch
                .iter()
                .zip(data)
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            return Err(Error::Mismatch {
                direction: self.direction,
                offset: self.received + i as u64,
                expected: self.scratch[i],
                got: data[i],
            });
        }
        self.hasher.update(data);
        self.received += data.len() as u64;
        Ok(())
    }

    /// The stream ended (EOF): every byte must have arrived.
    pub fn finish(&self) -> Result<StreamSummary, Error> {
        if self.received != self.expected_len {
            return Err(Error::WrongLength {
                direction: self.direction,
                expected: self.expected_len,
                got: self.received,
            });
        }
        Ok(self.summary())
    }

    /// Bytes checked so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The bytes expected in all.
    pub fn expected_len(&self) -> u64 {
        self.expected_len
    }

    /// What arrived so far.
    pub fn summary(&self) -> StreamSummary {
        StreamSummary {
            bytes: self.received,
            xxh3: self.hasher.digest(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_agrees_with_byte_at_from_any_offset() {
        let p = Pattern::new(42);
        for offset in [0u64, 1, 7, 8, 9, 1000, 65_537] {
            for len in [0usize, 1, 3, 8, 15, 64, 100] {
                let mut buf = vec![0; len];
                p.fill(offset, &mut buf);
                let want: Vec<u8> = (0..len as u64).map(|i| p.byte_at(offset + i)).collect();
                assert_eq!(buf, want, "offset {offset} len {len}");
            }
        }
        let (mut a, mut b) = ([0; 32], [0; 32]);
        Pattern::new(1).fill(0, &mut a);
        Pattern::new(2).fill(0, &mut b);
        assert_ne!(a, b);
    }

    #[test]
    fn a_source_checks_against_its_pattern_in_any_chunking() {
        let p = Pattern::new(9);
        let len = 200_000;
        let mut src = Source::new(p, len);
        let mut check = StreamCheck::new(p, len, Direction::ToKernel);
        let mut step = 1;
        while !src.is_done() {
            let chunk = src.pending();
            let n = chunk.len().min(step);
            check.feed(&chunk[..n]).unwrap();
            src.consume(n);
            step = step * 3 % 70_001 + 1;
        }
        assert!(src.pending().is_empty());
        let sent = src.summary();
        assert_eq!(sent.bytes, len);
        assert_eq!(check.finish().unwrap(), sent);
        let mut whole = vec![0; len as usize];
        p.fill(0, &mut whole);
        assert_eq!(sent.xxh3, xxhash_rust::xxh3::xxh3_64(&whole));
    }

    #[test]
    fn a_wrong_byte_is_named() {
        let p = Pattern::new(5);
        let mut data = vec![0; 100];
        p.fill(0, &mut data);
        data[37] ^= 0x10;
        let mut check = StreamCheck::new(p, 100, Direction::ToSansnet);
        check.feed(&data[..10]).unwrap();
        match check.feed(&data[10..]) {
            Err(Error::Mismatch {
                offset,
                got,
                expected,
                direction,
            }) => {
                assert_eq!(offset, 37);
                assert_eq!(got ^ expected, 0x10);
                assert_eq!(direction, Direction::ToSansnet);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn short_and_long_streams_are_errors() {
        let p = Pattern::new(5);
        let mut data = vec![0; 101];
        p.fill(0, &mut data);
        let mut check = StreamCheck::new(p, 100, Direction::ToKernel);
        check.feed(&data[..50]).unwrap();
        assert!(matches!(
            check.finish(),
            Err(Error::WrongLength {
                expected: 100,
                got: 50,
                ..
            })
        ));
        assert!(matches!(
            check.feed(&data[50..]),
            Err(Error::WrongLength {
                expected: 100,
                got: 101,
                ..
            })
        ));
    }
}
