#![no_main]
// Fuzzes the `raptor_mgmt` decoder: see o7s_wire::decoders.
libfuzzer_sys::fuzz_target!(|data: &[u8]| (o7s_wire::decoders::by_name("raptor_mgmt").expect("registered").run)(data));
