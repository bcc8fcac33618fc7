#![no_main]
//! The payShield codec round trip: for any input, every request parser and
//! every response parser that accepts it re-encodes it to the same bytes
//! (`encode(parse(x)) == x`; response fields after the known ones are kept
//! verbatim), read as length-prefixed frames with a 4-character header and
//! as one request body. And the simulator never panics, and never answers
//! `00` to a request the codec does not parse.

use libfuzzer_sys::fuzz_target;
use paycrypto::payshield::codec;
use paycrypto::payshield::VariantLmk;
use paycrypto::server::payshield::Sim;
use std::sync::OnceLock;

fn sim() -> &'static Sim {
    static SIM: OnceLock<Sim> = OnceLock::new();
    SIM.get_or_init(|| Sim::new(VariantLmk::test_lmk(), 4))
}

fuzz_target!(|data: &[u8]| {
    if let Some(parser) = codec::round_trip_mismatch(data) {
        panic!("{parser}: encode(parse(x)) != x");
    }
    if data.len() >= 6 {
        let mut out = Vec::new();
        sim().handle(data, &mut out);
        let (_, payload) = codec::split_frame(&out).expect("one response frame");
        if payload.get(6..8) == Some(b"00") {
            assert!(
                codec::parse_request(&data[4..]).is_ok(),
                "the simulator accepted a request the codec refuses"
            );
        }
    }
});
