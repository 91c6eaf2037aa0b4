//! The TCP engine, two at a time: handshakes, transfers and closes over an in-memory pipe.

mod harness;

mod goodput;
mod lossy_pipe;
mod pair;
