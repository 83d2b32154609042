#![no_main]
// Fuzzes the `dt_layout` decoder: see o7s_wire::decoders.
libfuzzer_sys::fuzz_target!(|data: &[u8]| (o7s_wire::decoders::by_name("dt_layout").expect("registered").run)(data));
