#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sansnet::fuzzing::sim_run(data));
