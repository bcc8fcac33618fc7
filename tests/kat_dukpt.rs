//! Known-answer tests for DUKPT (TDES X9.24-1:2009 and AES X9.24-3:2017) over
//! every vector of the DUKPT kinds in tests/vectors/vectors.json, plus
//! never-panic and distinctness properties.

mod common;

use common::{h, s, vectors};
use paycrypto::algo::cipher::{xor_into, BlockCipher};
use paycrypto::algo::dukpt::*;
use serde_json::Value;

fn src(v: &Value) -> String {
    v["source"].as_str().unwrap_or("?").to_string()
}

fn hexu(b: &[u8]) -> String {
    hex::encode_upper(b)
}

/// Each expected field must be checked exactly once: the test fails on a
/// field it does not know, so new fields cannot be skipped silently.
fn expected_fields(v: &Value) -> Vec<(String, String)> {
    v["expected"]
        .as_object()
        .expect("expected object")
        .iter()
        .map(|(k, x)| (k.clone(), x.as_str().expect("hex string").to_string()))
        .collect()
}

/// ISO 9797-1 MAC algorithm 3 (ANSI X9.19 retail MAC), padding method 1.
fn retail_mac(key: &[u8], data: &[u8]) -> [u8; 8] {
    let k1 = BlockCipher::tdes(&key[..8]).unwrap();
    let k2 = BlockCipher::tdes(&key[8..16]).unwrap();
    let mut padded = data.to_vec();
    while !padded.len().is_multiple_of(8) {
        padded.push(0);
    }
    k1.encrypt_cbc(&[0u8; 8], &mut padded).unwrap();
    let mut last = [0u8; 8];
    last.copy_from_slice(&padded[padded.len() - 8..]);
    k2.decrypt_ecb(&mut last).unwrap();
    k1.encrypt_ecb(&mut last).unwrap();
    last
}

/// ISO 9564-1 format 0 clear PIN block (to cross-check the vector's input).
fn iso0(pin: &str, pan: &str) -> Vec<u8> {
    let mut pin_field = format!("0{}{pin}", pin.len());
    while pin_field.len() < 16 {
        pin_field.push('F');
    }
    let digits = &pan[..pan.len() - 1];
    let pan_field = format!("0000{}", &digits[digits.len() - 12..]);
    let mut b = hex::decode(pin_field).unwrap();
    xor_into(&mut b, &hex::decode(pan_field).unwrap());
    b
}

#[test]
fn tdes_dukpt_ipek_vectors() {
    let vs = vectors("tdes_dukpt_ipek");
    for v in &vs {
        let ksn = Ksn::parse_initial_hex(s(v, "inputs", "ksn")).unwrap();
        let ipek = tdes_ipek(&h(v, "inputs", "bdk"), &ksn).unwrap();
        for (name, want) in expected_fields(v) {
            match name.as_str() {
                "ipek" => assert_eq!(hexu(ipek.as_slice()), want, "{}", src(v)),
                other => panic!("unchecked field {other} in {}", src(v)),
            }
        }
    }
}

#[test]
fn tdes_dukpt_transaction_vectors() {
    let vs = vectors("tdes_dukpt_transaction");
    assert!(vs.len() >= 17);
    for v in &vs {
        let from = src(v);
        let ksn_hex = s(v, "inputs", "ksn");
        let msg = format!("{from} ksn {ksn_hex}");
        let bdk = h(v, "inputs", "bdk");
        let ksn = Ksn::parse_hex(ksn_hex).unwrap();
        let initial = Ksn::parse_initial_hex(s(v, "inputs", "initial_ksn")).unwrap();
        assert_eq!(ksn.initial(), initial, "{msg}");
        let ipek = tdes_ipek(&bdk, &initial).unwrap();
        assert_eq!(ipek.as_slice(), h(v, "inputs", "ipek"), "{msg}");
        let tk = tdes_transaction_key_from_ipek(ipek.as_slice(), &ksn).unwrap();
        assert_eq!(*tk, *tdes_transaction_key(&bdk, &ksn).unwrap(), "{msg}");

        // The vector's masks are the usages' masks.
        let masks = &v["inputs"]["variant_masks"];
        for (name, usage) in [
            ("pin", TdesDukptUsage::Pin),
            ("mac_request", TdesDukptUsage::MacRequest),
            ("mac_response", TdesDukptUsage::MacResponse),
            ("data_request", TdesDukptUsage::DataRequestVariant),
            ("data_response", TdesDukptUsage::DataResponseVariant),
        ] {
            let m = masks[name].as_str().expect("mask");
            assert_eq!(hexu(&usage.variant_mask()), m, "{msg} mask {name}");
        }

        let key = |u| tdes_working_key(&bdk, &ksn, u).unwrap();
        let data = s(v, "inputs", "mac_and_encryption_data_ascii")
            .as_bytes()
            .to_vec();
        let clear_pb = h(v, "inputs", "clear_pin_block_iso0");
        assert_eq!(
            clear_pb,
            iso0(s(v, "inputs", "pin"), s(v, "inputs", "pan")),
            "{msg}"
        );
        let mut checked = 0;
        for (name, want) in expected_fields(v) {
            let got = match name.as_str() {
                "transaction_key" => hexu(tk.as_slice()),
                "pin_key" => hexu(key(TdesDukptUsage::Pin).as_slice()),
                "mac_request_key" => hexu(key(TdesDukptUsage::MacRequest).as_slice()),
                "mac_response_key" => hexu(key(TdesDukptUsage::MacResponse).as_slice()),
                "data_request_variant_key" => {
                    let a = key(TdesDukptUsage::DataRequestVariant);
                    let b = tdes_variant_key(tk.as_slice(), TdesDukptUsage::DataRequest).unwrap();
                    assert_eq!(*a, *b, "{msg}");
                    hexu(a.as_slice())
                }
                "data_response_variant_key" => {
                    hexu(key(TdesDukptUsage::DataResponseVariant).as_slice())
                }
                "data_request_key_owf" => {
                    let a = key(TdesDukptUsage::DataRequest);
                    let var = key(TdesDukptUsage::DataRequestVariant);
                    let b = tdes_data_encryption_key(var.as_slice()).unwrap();
                    assert_eq!(*a, *b, "{msg}");
                    hexu(a.as_slice())
                }
                "data_response_key_owf" => hexu(key(TdesDukptUsage::DataResponse).as_slice()),
                "encrypted_pin_block" => {
                    let mut pb = clear_pb.clone();
                    let c = BlockCipher::tdes(key(TdesDukptUsage::Pin).as_slice()).unwrap();
                    c.encrypt_ecb(&mut pb).unwrap();
                    hexu(&pb)
                }
                "request_mac_x919_4bytes" => {
                    hexu(&retail_mac(key(TdesDukptUsage::MacRequest).as_slice(), &data)[..4])
                }
                "response_mac_x919_4bytes" => {
                    hexu(&retail_mac(key(TdesDukptUsage::MacResponse).as_slice(), &data)[..4])
                }
                "request_cmac_tdes_8bytes" | "response_cmac_tdes_8bytes" => {
                    let u = if name.starts_with("request") {
                        TdesDukptUsage::MacRequest
                    } else {
                        TdesDukptUsage::MacResponse
                    };
                    let mut out = [0u8; 16];
                    let n = BlockCipher::tdes(key(u).as_slice())
                        .unwrap()
                        .cmac(&data, &mut out);
                    hexu(&out[..n])
                }
                "encrypted_request_data_cbc_iv0" => {
                    let mut pt = h(v, "inputs", "encryption_plaintext_hex");
                    let c = BlockCipher::tdes(key(TdesDukptUsage::DataRequest).as_slice()).unwrap();
                    c.encrypt_cbc(&[0u8; 8], &mut pt).unwrap();
                    hexu(&pt)
                }
                other => panic!("unchecked field {other} in {msg}"),
            };
            assert_eq!(got, want, "{msg}: {name}");
            checked += 1;
        }
        assert_eq!(checked, 14, "{msg}");
    }
}

#[test]
fn aes_dukpt_initial_key_vectors() {
    for v in &vectors("aes_dukpt_initial_key") {
        let ksn = Ksn::parse_initial_hex(s(v, "inputs", "initial_key_id")).unwrap();
        let ik = aes_initial_key(&h(v, "inputs", "bdk"), &ksn).unwrap();
        for (name, want) in expected_fields(v) {
            match name.as_str() {
                "initial_key" => assert_eq!(hexu(ik.as_bytes()), want, "{}", src(v)),
                other => panic!("unchecked field {other} in {}", src(v)),
            }
        }
    }
}

fn key_type_named(name: &str) -> AesDukptKeyType {
    match name {
        "2TDEA" => AesDukptKeyType::Tdes2,
        "3TDEA" => AesDukptKeyType::Tdes3,
        "AES128" | "aes128" => AesDukptKeyType::Aes128,
        "AES192" | "aes192" => AesDukptKeyType::Aes192,
        "AES256" | "aes256" => AesDukptKeyType::Aes256,
        other => panic!("unknown key type {other}"),
    }
}

#[test]
fn aes_dukpt_transaction_vectors() {
    let vs = vectors("aes_dukpt_transaction");
    assert!(vs.len() >= 15);
    for v in &vs {
        let ksn_hex = s(v, "inputs", "ksn");
        let msg = format!("{} ksn {ksn_hex}", src(v));
        let bdk = h(v, "inputs", "bdk");
        let ksn = Ksn::parse_hex(ksn_hex).unwrap();
        assert_eq!(
            ksn.initial_key_id().unwrap().to_vec(),
            h(v, "inputs", "initial_key_id"),
            "{msg}"
        );
        assert_eq!(
            Some(u64::from(ksn.counter())),
            v["inputs"]["transaction_counter"].as_u64(),
            "{msg}"
        );
        let dk = aes_transaction_derivation_key(&bdk, &ksn).unwrap();
        for (name, want) in expected_fields(v) {
            let got = if name == "derivation_key" {
                hexu(dk.as_bytes())
            } else if let Some(kt) = name.strip_prefix("encrypted_pin_block_iso4_") {
                let k =
                    aes_working_key(&bdk, &ksn, AesDukptUsage::PinEncryption, key_type_named(kt))
                        .unwrap();
                let c = BlockCipher::aes(k.as_bytes()).unwrap();
                let mut b = h(v, "inputs", "iso4_plain_pin_field");
                c.encrypt_ecb(&mut b).unwrap();
                xor_into(&mut b, &h(v, "inputs", "iso4_plain_pan_field"));
                c.encrypt_ecb(&mut b).unwrap();
                hexu(&b)
            } else {
                let (usage, kt) = if let Some(kt) = name.strip_prefix("pin_key_") {
                    (AesDukptUsage::PinEncryption, kt)
                } else if let Some(kt) = name.strip_prefix("mac_generation_key_") {
                    (AesDukptUsage::MacGeneration, kt)
                } else if let Some(kt) = name.strip_prefix("data_encryption_encrypt_key_") {
                    (AesDukptUsage::DataEncrypt, kt)
                } else {
                    panic!("unchecked field {name} in {msg}")
                };
                let kt = key_type_named(kt);
                let a = aes_working_key(&bdk, &ksn, usage, kt).unwrap();
                let b =
                    aes_working_key_from_derivation_key(dk.as_bytes(), &ksn, usage, kt).unwrap();
                assert_eq!(a.as_bytes(), b.as_bytes(), "{msg}");
                hexu(a.as_bytes())
            };
            assert_eq!(got, want, "{msg}: {name}");
        }
    }
}

#[test]
fn aes_dukpt_update_key_vectors() {
    let vs = vectors("aes_dukpt_update_key");
    for v in &vs {
        let msg = src(v);
        let bdk = h(v, "inputs", "bdk");
        let ikid: [u8; 8] = h(v, "inputs", "initial_key_id").try_into().unwrap();
        let ksn = Ksn::aes_initial(&ikid);
        assert_eq!(
            v["inputs"]["transaction_counter"].as_u64(),
            Some(0xFFFF_FFFF)
        );
        assert!(s(v, "inputs", "key_usage").starts_with("0002"), "{msg}");
        let kt = key_type_named(s(v, "inputs", "working_key_type"));
        for (name, want) in expected_fields(v) {
            let got = match name.as_str() {
                "update_key" => hexu(aes_update_key(&bdk, &ksn, kt).unwrap().as_bytes()),
                "derivation_key_at_FFFFFFFF" => {
                    let ik = aes_initial_key(&bdk, &ksn).unwrap();
                    let dk =
                        aes_derivation_key_for_counter(ik.as_bytes(), &ikid, u32::MAX).unwrap();
                    hexu(dk.as_bytes())
                }
                other => panic!("unchecked field {other} in {msg}"),
            };
            assert_eq!(got, want, "{msg}: {name}");
        }
    }
}

#[test]
fn aes_dukpt_working_keys_vectors() {
    let vs = vectors("aes_dukpt_working_keys");
    for v in &vs {
        let ksn_hex = s(v, "inputs", "ksn");
        let msg = format!("{} ksn {ksn_hex}", src(v));
        let bdk = h(v, "inputs", "bdk");
        let ikid: [u8; 8] = h(v, "inputs", "initial_key_id").try_into().unwrap();
        let counter = u32::try_from(v["inputs"]["transaction_counter"].as_u64().unwrap()).unwrap();
        let kt = key_type_named(s(v, "inputs", "working_key_type"));
        // A KSN whose counter breaks the X9.24-3 one-bit rule (paysec's
        // 0x1FFFF vector) is refused by Ksn; the raw-counter functions still
        // express the derivation.
        let parsed = Ksn::parse_hex(ksn_hex);
        match &parsed {
            Ok(ksn) => {
                assert_eq!(ksn.counter(), counter, "{msg}");
                assert_eq!(ksn.initial_key_id(), Some(ikid), "{msg}");
            }
            Err(e) => {
                assert!(counter.count_ones() > 16, "{msg}: {e}");
                assert_eq!(&ksn_hex[..16], hexu(&ikid), "{msg}");
                assert_eq!(&ksn_hex[16..], format!("{counter:08X}"), "{msg}");
            }
        }
        let ik = aes_initial_key(&bdk, &Ksn::aes_initial(&ikid)).unwrap();
        let dk = aes_derivation_key_for_counter(ik.as_bytes(), &ikid, counter).unwrap();
        for (name, want) in expected_fields(v) {
            let usage = match name.as_str() {
                "pin_encryption_key" | "pin_key" => AesDukptUsage::PinEncryption,
                "mac_generation_key" | "mac_gen_key" => AesDukptUsage::MacGeneration,
                "data_encryption_encrypt_key" | "data_enc_key" => AesDukptUsage::DataEncrypt,
                other => panic!("unchecked field {other} in {msg}"),
            };
            let k = aes_working_key_for_counter(dk.as_bytes(), &ikid, counter, usage, kt).unwrap();
            if let Ok(ksn) = &parsed {
                let one_call = aes_working_key(&bdk, ksn, usage, kt).unwrap();
                assert_eq!(one_call.as_bytes(), k.as_bytes(), "{msg}: {name}");
            }
            assert_eq!(hexu(k.as_bytes()), want, "{msg}: {name}");
        }
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn valid_tdes_ksn() -> impl Strategy<Value = Ksn> {
        (any::<[u8; 10]>(), 1u32..0x20_0000)
            .prop_filter("at most 10 one-bits", |(_, c)| c.count_ones() <= 10)
            .prop_map(|(b, c)| {
                let mut b = b;
                b[7] &= 0xE0;
                b[8] = 0;
                b[9] = 0;
                Ksn::initial_from_bytes(&b)
                    .unwrap()
                    .with_counter(c)
                    .unwrap()
            })
    }

    fn valid_aes_ksn() -> impl Strategy<Value = Ksn> {
        (any::<[u8; 8]>(), any::<u32>())
            .prop_filter("1..=16 one-bits", |(_, c)| *c != 0 && c.count_ones() <= 16)
            .prop_map(|(id, c)| Ksn::aes_initial(&id).with_counter(c).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn parse_never_panics(text in ".{0,30}") {
            let _ = Ksn::parse_hex(&text);
            let _ = Ksn::parse_initial_hex(&text);
        }

        #[test]
        fn parse_hexlike_agrees_with_rules(text in "[0-9a-fA-FxG]{16,24}") {
            match Ksn::parse_hex(&text) {
                Ok(k) => {
                    prop_assert_eq!(k.to_hex(), text.to_uppercase());
                    prop_assert!(k.counter() != 0);
                    let max = if k.is_aes() { 16 } else { 10 };
                    prop_assert!(k.counter().count_ones() <= max);
                    prop_assert_eq!(Ksn::parse_hex(&k.to_hex()).unwrap(), k);
                    prop_assert_eq!(k.with_counter(k.counter()).unwrap(), k);
                    prop_assert!(k.initial().is_initial());
                }
                Err(e) => prop_assert_eq!(e.field, "ksn"),
            }
        }

        #[test]
        fn from_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
            let strict = Ksn::from_bytes(&bytes);
            let initial = Ksn::initial_from_bytes(&bytes);
            if let Ok(k) = strict {
                prop_assert_eq!(k.as_bytes(), &bytes[..]);
                prop_assert!(initial.is_err());
            }
            if ![8, 10, 12].contains(&bytes.len()) {
                prop_assert!(Ksn::initial_from_bytes(&bytes).is_err());
            }
        }

        #[test]
        fn derivation_never_panics(
            bdk in proptest::collection::vec(any::<u8>(), 0..40),
            ksn in proptest::collection::vec(any::<u8>(), 10..=12),
            ui in 0usize..10,
            ti in 0usize..5,
        ) {
            if let Ok(k) = Ksn::from_bytes(&ksn) {
                let t = tdes_working_key(&bdk, &k, TdesDukptUsage::ALL[ui % 7]);
                prop_assert_eq!(t.is_ok(), bdk.len() == 16 && !k.is_aes());
                let kt = AesDukptKeyType::ALL[ti];
                let a = aes_working_key(&bdk, &k, AesDukptUsage::ALL[ui], kt);
                let fits = !kt.is_aes() || kt.key_len() <= bdk.len();
                prop_assert_eq!(
                    a.is_ok(),
                    k.is_aes() && [16, 24, 32].contains(&bdk.len()) && fits
                );
                if let Ok(key) = a {
                    prop_assert_eq!(key.as_bytes().len(), kt.key_len());
                }
            }
            let initial_ok = Ksn::initial_from_bytes(&ksn);
            if let Ok(k) = initial_ok {
                let _ = tdes_ipek(&bdk, &k);
                let _ = aes_initial_key(&bdk, &k);
                prop_assert!(tdes_transaction_key(&bdk, &k).is_err());
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn tdes_usages_give_distinct_keys(bdk in any::<[u8; 16]>(), ksn in valid_tdes_ksn()) {
            let keys: Vec<[u8; 16]> = TdesDukptUsage::ALL
                .iter()
                .map(|u| *tdes_working_key(&bdk, &ksn, *u).unwrap())
                .collect();
            let tk = tdes_transaction_key(&bdk, &ksn).unwrap();
            for (i, a) in keys.iter().enumerate() {
                prop_assert_ne!(a, &*tk);
                for b in &keys[i + 1..] {
                    prop_assert_ne!(a, b);
                }
            }
            // Host one-call path equals the stepwise path.
            let ipek = tdes_ipek(&bdk, &ksn).unwrap();
            let tk2 = tdes_transaction_key_from_ipek(ipek.as_slice(), &ksn).unwrap();
            prop_assert_eq!(*tk, *tk2);
        }

        #[test]
        fn aes_usages_and_types_give_distinct_keys(
            bdk in prop_oneof![
                any::<[u8; 16]>().prop_map(|b| b.to_vec()),
                any::<[u8; 32]>().prop_map(|b| b.to_vec()),
            ],
            ksn in valid_aes_ksn(),
        ) {
            let dk = aes_transaction_derivation_key(&bdk, &ksn).unwrap();
            let mut seen: Vec<Vec<u8>> = vec![dk.as_bytes().to_vec()];
            for u in AesDukptUsage::ALL {
                for t in AesDukptKeyType::ALL {
                    if t.is_aes() && t.key_len() > bdk.len() {
                        continue;
                    }
                    let k = aes_working_key_from_derivation_key(dk.as_bytes(), &ksn, u, t).unwrap();
                    let head = k.as_bytes()[..16].to_vec();
                    prop_assert!(!seen.iter().any(|s| s[..16] == head[..]), "{:?} {:?}", u, t);
                    seen.push(head);
                }
            }
        }

        #[test]
        fn neighbouring_counters_give_distinct_keys(bdk in any::<[u8; 16]>(), ksn in valid_aes_ksn()) {
            let c = ksn.counter();
            let next = c.checked_add(c & c.wrapping_neg()).and_then(|n| ksn.with_counter(n).ok());
            if let Some(n) = next {
                let u = AesDukptUsage::PinEncryption;
                let t = AesDukptKeyType::Aes128;
                let a = aes_working_key(&bdk, &ksn, u, t).unwrap();
                let b = aes_working_key(&bdk, &n, u, t).unwrap();
                prop_assert_ne!(a.as_bytes(), b.as_bytes());
            }
        }
    }
}
