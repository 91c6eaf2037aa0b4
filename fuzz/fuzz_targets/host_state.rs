#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sansnet_stack::fuzzing::host_state(data));
