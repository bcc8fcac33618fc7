//! TR-31 header parsing and unwrapping never panic on any input, and key
//! blocks round-trip: a block that unwraps, wrapped again under the same key
//! block protection key with the same header, unwraps to the same header and
//! key.
#![no_main]
use libfuzzer_sys::fuzz_target;
use paycrypto::algo::tr31;

const KBPKS: [&[u8]; 2] = [&[0x01; 16], &[0x02; 32]];

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = tr31::parse_header(s);
    for kbpk in KBPKS {
        if let Ok((header, key)) = tr31::unwrap(kbpk, s) {
            let pad = vec![0x5A; tr31::padding_len(header.version, header.algorithm, key.len())];
            let again = tr31::wrap_with_padding(kbpk, &header, &key, &pad)
                .expect("an unwrapped key wraps again");
            let (h2, k2) = tr31::unwrap(kbpk, &again).expect("a wrapped block unwraps");
            assert_eq!(h2, header, "header round trip");
            assert!(*k2 == *key, "key round trip");
        }
    }
});
