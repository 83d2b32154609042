#![no_main]
// Fuzzes the `oap_rsp` decoder: see o7s_wire::decoders.
libfuzzer_sys::fuzz_target!(|data: &[u8]| (o7s_wire::decoders::by_name("oap_rsp").expect("registered").run)(data));
