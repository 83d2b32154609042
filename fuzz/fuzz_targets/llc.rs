#![no_main]
// Fuzzes the `llc` decoder: see o7s_wire::decoders.
libfuzzer_sys::fuzz_target!(|data: &[u8]| (o7s_wire::decoders::by_name("llc").expect("registered").run)(data));
