#![no_main]
// Fuzzes the `fa` decoder: see o7s_wire::decoders.
libfuzzer_sys::fuzz_target!(|data: &[u8]| (o7s_wire::decoders::by_name("fa").expect("registered").run)(data));
