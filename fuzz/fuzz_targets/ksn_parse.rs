//! KSN parsing (hex and bytes) must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use paycrypto::Ksn;

fuzz_target!(|data: &[u8]| {
    let _ = Ksn::from_bytes(data);
    let _ = Ksn::initial_from_bytes(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = Ksn::parse_hex(s);
        let _ = Ksn::parse_initial_hex(s);
    }
});
