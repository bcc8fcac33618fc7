//! Known-answer tests for `paycrypto::algo::mac` over the shared vector kinds
//! `mac_iso9797_alg3`, `mac_cmac_tdes` and `mac_cmac_aes`, plus properties
//! (verify accepts its own MAC, rejects a flipped bit; no panics).

mod common;

use common::{h, s, vectors};
use paycrypto::algo::cipher::BlockCipher;
use paycrypto::algo::mac::*;
use proptest::prelude::*;

// Sources: openemv/crypto crypto_tdes2_retail_mac_test.c (ISO 9797-1:2011 B.4) and
// thalessimulatorlibrary EncryptionTests.vb TestX919Mac.
#[test]
fn kat_mac_iso9797_alg3() {
    for v in vectors("mac_iso9797_alg3") {
        let key = h(&v, "inputs", "key");
        let data = s(&v, "inputs", "data_ascii").as_bytes();
        assert!(
            s(&v, "inputs", "padding").starts_with("method 1"),
            "{}",
            v["source"]
        );
        let mac = retail_mac(&key, data, Padding::Method1).unwrap();
        let want = match v["expected"]["mac"].as_str() {
            Some(_) => h(&v, "expected", "mac"),
            None => h(&v, "expected", "mac_4bytes"),
        };
        assert_eq!(
            hex::encode_upper(&mac[..want.len()]),
            hex::encode_upper(&want),
            "{}",
            v["source"]
        );
        assert!(verify_retail_mac(&key, data, Padding::Method1, &want).unwrap());
        let mut bad = want.clone();
        bad[0] ^= 0x80;
        assert!(!verify_retail_mac(&key, data, Padding::Method1, &bad).unwrap());
    }
}

fn check_cmac(kind: &str, make: fn(&[u8]) -> paycrypto::algo::AlgoResult<BlockCipher>) {
    for v in vectors(kind) {
        let c = make(&h(&v, "inputs", "key")).unwrap();
        let msg = h(&v, "inputs", "message");
        let want = h(&v, "expected", "cmac");
        let tag = cmac(&c, &msg);
        assert_eq!(
            hex::encode_upper(tag.as_bytes()),
            hex::encode_upper(&want),
            "{}",
            v["source"]
        );
        assert!(verify_cmac(&c, &msg, &want).unwrap());
        assert!(verify_cmac(&c, &msg, &want[..4]).unwrap());
        let mut bad = want.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(!verify_cmac(&c, &msg, &bad).unwrap());
    }
}

// Source: openemv/crypto crypto_tdes_cmac_test.c (NIST SP 800-38B Appendix D).
#[test]
fn kat_mac_cmac_tdes() {
    check_cmac("mac_cmac_tdes", BlockCipher::tdes);
}

// Source: openemv/crypto crypto_aes_cmac_test.c (NIST SP 800-38B Appendix D / RFC 4493).
#[test]
fn kat_mac_cmac_aes() {
    check_cmac("mac_cmac_aes", BlockCipher::aes);
}

fn any_padding() -> impl Strategy<Value = Padding> {
    prop_oneof![
        Just(Padding::None),
        Just(Padding::Method1),
        Just(Padding::Method2),
        Just(Padding::Method3)
    ]
}

fn flip(mac: &[u8], bit: usize) -> Vec<u8> {
    let mut m = mac.to_vec();
    let i = (bit / 8) % m.len();
    m[i] ^= 1 << (bit % 8);
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn verify_accepts_own_and_rejects_flipped_bit(
        key16 in prop::array::uniform16(any::<u8>()),
        key32 in prop::array::uniform32(any::<u8>()),
        data in prop::collection::vec(any::<u8>(), 0..100),
        pad in prop_oneof![Just(Padding::Method1), Just(Padding::Method2), Just(Padding::Method3)],
        trunc in 4usize..=8,
        bit in 0usize..256,
    ) {
        // Retail MAC (alg 3), full and truncated.
        let m = retail_mac(&key16, &data, pad).unwrap();
        prop_assert!(verify_retail_mac(&key16, &data, pad, &m).unwrap());
        prop_assert!(verify_retail_mac(&key16, &data, pad, &m[..trunc]).unwrap());
        prop_assert!(!verify_retail_mac(&key16, &data, pad, &flip(&m[..trunc], bit)).unwrap());

        // CBC-MAC (alg 1), CMAC with TDES and AES, HMAC-SHA-256.
        for c in [BlockCipher::tdes(&key16).unwrap(), BlockCipher::aes(&key32).unwrap()] {
            let t = cbc_mac(&c, &data, pad).unwrap();
            prop_assert!(verify_cbc_mac(&c, &data, pad, t.as_bytes()).unwrap());
            prop_assert!(!verify_cbc_mac(&c, &data, pad, &flip(t.as_bytes(), bit)).unwrap());
            let t = cmac(&c, &data);
            prop_assert!(verify_cmac(&c, &data, t.truncated(trunc).unwrap()).unwrap());
            prop_assert!(!verify_cmac(&c, &data, &flip(t.as_bytes(), bit)).unwrap());
        }
        let t = hmac_sha256(&data, &key32).unwrap();
        prop_assert!(verify_hmac_sha256(&data, &key32, t.as_bytes()).unwrap());
        prop_assert!(!verify_hmac_sha256(&data, &key32, &flip(t.as_bytes(), bit)).unwrap());
    }

    #[test]
    fn padded_length_matches_pad_into(
        data in prop::collection::vec(any::<u8>(), 0..70),
        pad in any_padding(),
        aes in any::<bool>(),
    ) {
        let bs = if aes { 16 } else { 8 };
        let mut out = [0u8; 128];
        match padded_len(data.len(), pad, bs) {
            Ok(n) => {
                prop_assert_eq!(pad_into(&data, pad, bs, &mut out).unwrap(), n);
                prop_assert!(n % bs == 0 && n >= data.len() && n > 0);
                // Padding::None over the padded bytes gives the same MAC.
                let c = if aes { BlockCipher::aes(&[3; 16]) } else { BlockCipher::tdes(&[3; 16]) }
                    .unwrap();
                let via_pad = cbc_mac(&c, &data, pad).unwrap();
                let direct = cbc_mac(&c, &out[..n], Padding::None).unwrap();
                prop_assert_eq!(via_pad.as_bytes(), direct.as_bytes());
            }
            Err(e) => prop_assert_eq!(e.field, "data"),
        }
    }

    #[test]
    fn never_panics(
        key in prop::collection::vec(any::<u8>(), 0..40),
        data in prop::collection::vec(any::<u8>(), 0..70),
        mac in prop::collection::vec(any::<u8>(), 0..40),
        out_len in 0usize..100,
        bs in 0usize..20,
        pad in any_padding(),
    ) {
        let _ = padded_len(data.len(), pad, bs);
        let mut out = vec![0u8; out_len];
        let _ = pad_into(&data, pad, bs, &mut out);
        let _ = retail_mac(&key, &data, pad);
        let _ = verify_retail_mac(&key, &data, pad, &mac);
        let _ = hmac_sha256(&key, &data);
        let _ = verify_hmac_sha256(&key, &data, &mac);
        let _ = verify_truncated(&data, &mac);
        for c in [BlockCipher::tdes(&key), BlockCipher::aes(&key)].into_iter().flatten() {
            let _ = cbc_mac(&c, &data, pad);
            let _ = verify_cbc_mac(&c, &data, pad, &mac);
            let t = cmac(&c, &data);
            let _ = t.truncated(out_len);
            let _ = verify_cmac(&c, &data, &mac);
        }
    }
}
