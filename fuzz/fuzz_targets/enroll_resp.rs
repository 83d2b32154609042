#![no_main]
// Fuzzes the `enroll_resp` decoder: see o7s_wire::decoders.
libfuzzer_sys::fuzz_target!(|data: &[u8]| (o7s_wire::decoders::by_name("enroll_resp").expect("registered").run)(data));
