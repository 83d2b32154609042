#![no_main]
// Fuzzes the `udp_mgmt` decoder: see o7s_wire::decoders.
libfuzzer_sys::fuzz_target!(|data: &[u8]| (o7s_wire::decoders::by_name("udp_mgmt").expect("registered").run)(data));
