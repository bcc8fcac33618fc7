#![no_main]
//! The payShield codec: frame splitting and every response parser, plus the
//! simulator's command processor, never panic on any input.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    paycrypto::payshield::codec::parse_all(data);
});
