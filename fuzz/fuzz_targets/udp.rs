#![no_main]
// Fuzzes the `udp` decoder: see o7s_wire::decoders.
libfuzzer_sys::fuzz_target!(|data: &[u8]| (o7s_wire::decoders::by_name("udp").expect("registered").run)(data));
