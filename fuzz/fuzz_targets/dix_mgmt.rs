#![no_main]
// Fuzzes the `dix_mgmt` decoder: see o7s_wire::decoders.
libfuzzer_sys::fuzz_target!(|data: &[u8]| (o7s_wire::decoders::by_name("dix_mgmt").expect("registered").run)(data));
