#![no_main]
// Fuzzes the `eth` decoder: see o7s_wire::decoders.
libfuzzer_sys::fuzz_target!(|data: &[u8]| (o7s_wire::decoders::by_name("eth").expect("registered").run)(data));
