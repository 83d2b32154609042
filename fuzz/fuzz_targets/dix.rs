#![no_main]
// Fuzzes the `dix` decoder: see o7s_wire::decoders.
libfuzzer_sys::fuzz_target!(|data: &[u8]| (o7s_wire::decoders::by_name("dix").expect("registered").run)(data));
