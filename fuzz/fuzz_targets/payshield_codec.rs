#![no_main]
//! The payShield codec round trip: for any input, every request parser and
//! every response parser that accepts it re-encodes it to the same bytes
//! (`encode(parse(x)) == x`; response fields after the known ones are kept
//! verbatim), read as length-prefixed frames with a 4-character header and
//! as one request body (key blocks `S…` included). And the simulator,
//! with the variant test LMK and with the test key-block LMK, never panics
//! and never answers `00` to a request the codec does not parse.

use libfuzzer_sys::fuzz_target;
use paycrypto::payshield::codec;
use paycrypto::payshield::{KeyBlockLmk, VariantLmk};
use paycrypto::server::payshield::Sim;
use std::sync::OnceLock;

fn sims() -> &'static [Sim; 2] {
    static SIMS: OnceLock<[Sim; 2]> = OnceLock::new();
    SIMS.get_or_init(|| {
        [
            Sim::new(VariantLmk::test_lmk(), 4),
            Sim::new(VariantLmk::test_lmk(), 4).with_key_block_lmk(KeyBlockLmk::test_lmk()),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    if let Some(parser) = codec::round_trip_mismatch(data) {
        panic!("{parser}: encode(parse(x)) != x");
    }
    if data.len() >= 6 {
        for sim in sims() {
            let mut out = Vec::new();
            sim.handle(data, &mut out);
            let (_, payload) = codec::split_frame(&out).expect("one response frame");
            if payload.get(6..8) == Some(b"00") {
                assert!(
                    codec::parse_request(&data[4..]).is_ok(),
                    "the simulator accepted a request the codec refuses"
                );
            }
        }
    }
});
