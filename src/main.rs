//! The `sansnet` command.
//!
//! Today: `sansnet decode HEX...` prints one line per Ethernet frame given in hex (or read
//! line by line from standard input with `-`). Seed sweeps, replay and shrinking arrive with
//! the simulator (see the README).

use std::io::BufRead;
use std::process::ExitCode;

use sansnet::decode::{describe_frame, parse_hex};

const USAGE: &str =
    "usage: sansnet decode HEX... | sansnet decode -   (one hex frame per line on stdin)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("decode") => decode(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn decode(inputs: &[String]) -> ExitCode {
    let lines: Vec<String> = if inputs.is_empty() || inputs == ["-"] {
        std::io::stdin()
            .lock()
            .lines()
            .map_while(Result::ok)
            .collect()
    } else {
        inputs.to_vec()
    };
    let mut status = ExitCode::SUCCESS;
    for line in lines.iter().filter(|l| !l.trim().is_empty()) {
        match parse_hex(line) {
            Ok(bytes) => println!("{}", describe_frame(&bytes)),
            Err(e) => {
                eprintln!("sansnet decode: {e}");
                status = ExitCode::from(1);
            }
        }
    }
    status
}
