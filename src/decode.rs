//! A one-line, tcpdump-like decoder for frames, built on `stack::wire`.
//!
//! Every layer is parsed with checksum verification; a layer that fails says why
//! (`ipv4: checksum does not verify`) instead of guessing.

pub use sansnet_sim::decode::{describe_frame, describe_tcp};

/// Why input could not be decoded at all (as opposed to a frame that decodes to an error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// A character that is not a hex digit (nor whitespace or `:`).
    BadHex {
        /// Byte offset in the input string of the first bad character.
        at: usize,
        /// The character.
        found: char,
    },
    /// An odd number of hex digits: a frame is whole bytes.
    OddLength {
        /// How many digits there were.
        digits: usize,
    },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::BadHex { at, found } => {
                write!(f, "{found:?} at character {at} is not a hex digit")
            }
            DecodeError::OddLength { digits } => write!(
                f,
                "{digits} hex digit{}: a frame is whole bytes, two digits each",
                if *digits == 1 { "" } else { "s" }
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Parses hex, ignoring whitespace and `:` separators.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, DecodeError> {
    let digits: Vec<(usize, u8)> = text
        .char_indices()
        .filter(|(_, c)| !c.is_whitespace() && *c != ':')
        .map(|(i, c)| {
            c.to_digit(16)
                .map(|d| (i, d as u8))
                .ok_or(DecodeError::BadHex { at: i, found: c })
        })
        .collect::<Result<_, _>>()?;
    if !digits.len().is_multiple_of(2) {
        return Err(DecodeError::OddLength {
            digits: digits.len(),
        });
    }
    Ok(digits.chunks(2).map(|p| (p[0].1 << 4) | p[1].1).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    /// The frame in the README: a SYN from 10.0.0.1:49152 to 10.0.0.2:80 with MSS 1460.
    pub const README_FRAME: &str = include_str!("../tests/data/readme_frame.hex");

    #[test]
    fn readme_example_decodes() {
        let bytes = parse_hex(README_FRAME).unwrap();
        assert_eq!(
            describe_frame(&bytes),
            "52:54:00:ab:cd:ef > 52:54:00:12:34:56, 10.0.0.1 > 10.0.0.2 ttl 64, TCP 49152 > 80 [SYN] seq 1000 win 64240 options [mss 1460] length 0"
        );
    }

    #[test]
    fn bad_hex_is_a_typed_error() {
        assert_eq!(
            parse_hex("0g"),
            Err(DecodeError::BadHex { at: 1, found: 'g' })
        );
        assert_eq!(parse_hex("abc"), Err(DecodeError::OddLength { digits: 3 }));
    }
}
