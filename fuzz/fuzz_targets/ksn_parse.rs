//! KSN parsing (hex and bytes) never panics, and round-trips: a KSN that
//! parses re-encodes to the same bytes and hex, and parses back to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use paycrypto::Ksn;

fn round_trip(k: Ksn, initial: bool) {
    let again = if initial {
        Ksn::initial_from_bytes(k.as_bytes())
    } else {
        Ksn::from_bytes(k.as_bytes())
    };
    assert_eq!(again.ok(), Some(k), "bytes round trip");
    let hex = if initial {
        Ksn::parse_initial_hex(&k.to_hex())
    } else {
        Ksn::parse_hex(&k.to_hex())
    };
    assert_eq!(hex.ok(), Some(k), "hex round trip");
    assert_eq!(k.initial().counter(), 0);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(k) = Ksn::from_bytes(data) {
        assert_eq!(k.as_bytes(), data);
        round_trip(k, false);
    }
    if let Ok(k) = Ksn::initial_from_bytes(data) {
        round_trip(k, true);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(k) = Ksn::parse_hex(s) {
            assert!(k.to_hex().eq_ignore_ascii_case(s));
            round_trip(k, false);
        }
        if let Ok(k) = Ksn::parse_initial_hex(s) {
            round_trip(k, true);
        }
    }
});
