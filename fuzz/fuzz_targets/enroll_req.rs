#![no_main]
// Fuzzes the `enroll_req` decoder: see o7s_wire::decoders.
libfuzzer_sys::fuzz_target!(|data: &[u8]| (o7s_wire::decoders::by_name("enroll_req").expect("registered").run)(data));
