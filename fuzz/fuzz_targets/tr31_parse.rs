//! TR-31 header parsing and unwrapping must never panic on any input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use paycrypto::algo::tr31;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = tr31::parse_header(s);
        let _ = tr31::unwrap(&[0x01; 16], s);
        let _ = tr31::unwrap(&[0x02; 32], s);
    }
});
