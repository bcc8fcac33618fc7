//! Known-answer tests and properties for ISO 9564-1 PIN blocks
//! (`paycrypto::algo::pinblock`). Every vector of the kinds `pin_block_iso0`
//! .. `pin_block_iso4`, `pin_block_iso4_pan_field`, `pin_block_iso4_pin_field`
//! and `pin_block_encrypted_tdes` in tests/vectors/vectors.json is checked;
//! each assertion message names the vector's `source`.

mod common;

use common::{h, s, vectors};
use paycrypto::algo::cipher::BlockCipher;
use paycrypto::algo::pinblock::*;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::Value;

fn src(v: &Value) -> String {
    v["source"].to_string()
}

fn hex_up(b: &[u8]) -> String {
    hex::encode_upper(b)
}

/// The PAN of a vector. Vectors that only give the 12-digit account field
/// (ThalesSim) use `pan_example` if present, else the account field plus an
/// arbitrary check digit (the check digit is not part of the PIN block).
fn pan_of(v: &Value) -> String {
    let i = &v["inputs"];
    if let Some(p) = i["pan"].as_str().or(i["pan_example"].as_str()) {
        return p.to_string();
    }
    format!("{}0", s(v, "inputs", "account_number_12"))
}

/// Checks the account field against `account_number_12` where the vector has one.
fn check_account_field(v: &Value, pan: &str) {
    if let Some(acct) = v["inputs"]["account_number_12"].as_str() {
        let f = pan_field_iso0(pan).unwrap();
        assert_eq!(hex_up(&f), format!("0000{acct}"), "{}", src(v));
    }
}

/// A generator that must not be used (formats 0/2 draw nothing).
struct NoRng;
impl rand::RngCore for NoRng {
    fn next_u32(&mut self) -> u32 {
        panic!("format 0 must not draw randomness")
    }
    fn next_u64(&mut self) -> u64 {
        panic!("format 0 must not draw randomness")
    }
    fn fill_bytes(&mut self, _: &mut [u8]) {
        panic!("format 0 must not draw randomness")
    }
}

#[test]
fn kat_iso0() {
    for v in vectors("pin_block_iso0") {
        let pin = Pin::new(s(&v, "inputs", "pin")).unwrap();
        let pan = pan_of(&v);
        check_account_field(&v, &pan);
        let expected = s(&v, "expected", "clear_pin_block");
        let b = encode_pin_block(PinBlockFormat::Iso0, &pin, Some(&pan), &mut NoRng).unwrap();
        assert_eq!(hex_up(b.as_bytes()), expected, "encode: {}", src(&v));
        let d = decode_pin_block(
            PinBlockFormat::Iso0,
            &h(&v, "expected", "clear_pin_block"),
            Some(&pan),
        )
        .unwrap();
        assert_eq!(d.as_str(), s(&v, "inputs", "pin"), "decode: {}", src(&v));
    }
}

#[test]
fn kat_iso1() {
    for v in vectors("pin_block_iso1") {
        let block = h(&v, "inputs", "clear_pin_block");
        let pin = decode_pin_block(PinBlockFormat::Iso1, &block, None).unwrap();
        assert_eq!(
            pin.as_str(),
            s(&v, "expected", "pin"),
            "decode: {}",
            src(&v)
        );
        // Using the block itself as the fill source reproduces it exactly.
        let fill: [u8; 8] = block.as_slice().try_into().unwrap();
        let b = encode_pin_block_with_fill(PinBlockFormat::Iso1, &pin, None, &fill).unwrap();
        assert_eq!(b.as_bytes(), block.as_slice(), "encode: {}", src(&v));
    }
}

#[test]
fn kat_iso2() {
    for v in vectors("pin_block_iso2") {
        let pin = Pin::new(s(&v, "inputs", "pin")).unwrap();
        let expected = s(&v, "expected", "clear_pin_block");
        let b = encode_pin_block(PinBlockFormat::Iso2, &pin, None, &mut NoRng).unwrap();
        assert_eq!(hex_up(b.as_bytes()), expected, "encode: {}", src(&v));
        let d = decode_pin_block(
            PinBlockFormat::Iso2,
            &h(&v, "expected", "clear_pin_block"),
            None,
        )
        .unwrap();
        assert_eq!(d, pin, "decode: {}", src(&v));
    }
}

#[test]
fn kat_iso3() {
    for v in vectors("pin_block_iso3") {
        let pan = pan_of(&v);
        let block = h(&v, "inputs", "clear_pin_block");
        let pin = decode_pin_block(PinBlockFormat::Iso3, &block, Some(&pan)).unwrap();
        assert_eq!(
            pin.as_str(),
            s(&v, "expected", "pin"),
            "decode: {}",
            src(&v)
        );
        // Re-encode with the vector's own fill (clear block XOR PAN field).
        let mut plain = block.clone();
        let pf = pan_field_iso0(&pan).unwrap();
        plain.iter_mut().zip(pf).for_each(|(b, p)| *b ^= p);
        let fill: [u8; 8] = plain.as_slice().try_into().unwrap();
        let b = encode_pin_block_with_fill(PinBlockFormat::Iso3, &pin, Some(&pan), &fill).unwrap();
        assert_eq!(b.as_bytes(), block.as_slice(), "encode: {}", src(&v));
        // Random fill keeps the 3L + PIN XOR PAN prefix and always decodes.
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..32 {
            let r = encode_pin_block(PinBlockFormat::Iso3, &pin, Some(&pan), &mut rng).unwrap();
            let n = 1 + pin.digits().len() / 2;
            assert_eq!(r.as_bytes()[..n], block[..n], "prefix: {}", src(&v));
            assert_eq!(
                decode_pin_block(PinBlockFormat::Iso3, r.as_bytes(), Some(&pan)).unwrap(),
                pin
            );
        }
    }
}

#[test]
fn kat_iso4_pan_field() {
    for v in vectors("pin_block_iso4_pan_field") {
        let f = pan_field_iso4(s(&v, "inputs", "pan")).unwrap();
        assert_eq!(
            hex_up(&f),
            s(&v, "expected", "plain_pan_field"),
            "{}",
            src(&v)
        );
    }
}

#[test]
fn kat_iso4_pin_field() {
    for v in vectors("pin_block_iso4_pin_field") {
        let pin = Pin::new(s(&v, "inputs", "pin")).unwrap();
        let b = encode_pin_block_with_fill(PinBlockFormat::Iso4, &pin, None, &[0x3C; 8]).unwrap();
        assert_eq!(
            hex_up(&b.as_bytes()[..8]),
            s(&v, "expected", "plain_pin_field_first_8_bytes"),
            "{}",
            src(&v)
        );
        assert_eq!(b.as_bytes()[8..], [0x3C; 8], "random half: {}", src(&v));
        assert_eq!(
            decode_pin_block(PinBlockFormat::Iso4, b.as_bytes(), None).unwrap(),
            pin
        );
    }
}

#[test]
fn kat_iso4() {
    for v in vectors("pin_block_iso4") {
        let aes = BlockCipher::aes(&h(&v, "inputs", "aes_key")).unwrap();
        let pan = s(&v, "inputs", "pan");
        let pin_str = v["inputs"]["pin"]
            .as_str()
            .or(v["expected"]["pin"].as_str())
            .unwrap();
        let pin = Pin::new(pin_str).unwrap();
        let pin_field = h(&v, "expected", "plain_pin_field");
        let enc = v["inputs"]["enciphered_pin_block"]
            .as_str()
            .or(v["expected"]["enciphered_pin_block"].as_str())
            .unwrap();

        assert_eq!(
            hex_up(&pan_field_iso4(pan).unwrap()),
            s(&v, "expected", "plain_pan_field"),
            "{}",
            src(&v)
        );

        // Encode with the vector's random half, then encipher.
        let fill: [u8; 8] = pin_field[8..].try_into().unwrap();
        let clear =
            encode_pin_block_with_fill(PinBlockFormat::Iso4, &pin, Some(pan), &fill).unwrap();
        assert_eq!(
            clear.as_bytes(),
            pin_field.as_slice(),
            "plain PIN field: {}",
            src(&v)
        );
        let e =
            encipher_pin_block(&aes, PinBlockFormat::Iso4, clear.as_bytes(), Some(pan)).unwrap();
        assert_eq!(hex_up(e.as_bytes()), enc, "encipher: {}", src(&v));

        // Intermediate blocks where the source prints them: A = E(pin field), B = A XOR pan field.
        if let Some(a) = v["expected"]["intermediate_block_a"].as_str() {
            let mut blk = pin_field.clone();
            aes.encrypt_ecb(&mut blk).unwrap();
            assert_eq!(hex_up(&blk), a, "block A: {}", src(&v));
            blk.iter_mut()
                .zip(pan_field_iso4(pan).unwrap())
                .for_each(|(b, p)| *b ^= p);
            assert_eq!(
                hex_up(&blk),
                s(&v, "expected", "intermediate_block_b"),
                "block B: {}",
                src(&v)
            );
        }

        // Decipher and decrypt.
        let enc_b = hex::decode(enc).unwrap();
        let d = decipher_pin_block(&aes, PinBlockFormat::Iso4, &enc_b, Some(pan)).unwrap();
        assert_eq!(d.as_bytes(), pin_field.as_slice(), "decipher: {}", src(&v));
        let p = decrypt_pin_block(&aes, PinBlockFormat::Iso4, &enc_b, Some(pan)).unwrap();
        assert_eq!(p.as_str(), pin_str, "decrypt: {}", src(&v));
    }
}

#[test]
fn kat_encrypted_tdes() {
    for v in vectors("pin_block_encrypted_tdes") {
        assert!(
            s(&v, "inputs", "format").starts_with("ISO-0"),
            "{}",
            src(&v)
        );
        let key = BlockCipher::tdes(&h(&v, "inputs", "zpk_clear")).unwrap();
        let pin = Pin::new(s(&v, "inputs", "pin")).unwrap();
        let pan = pan_of(&v);
        check_account_field(&v, &pan);
        let clear =
            encode_pin_block_with_fill(PinBlockFormat::Iso0, &pin, Some(&pan), &[0; 8]).unwrap();
        assert_eq!(
            hex_up(clear.as_bytes()),
            s(&v, "expected", "clear_pin_block"),
            "clear: {}",
            src(&v)
        );
        let e =
            encrypt_pin_block(&key, PinBlockFormat::Iso0, &pin, Some(&pan), &mut NoRng).unwrap();
        assert_eq!(
            hex_up(e.as_bytes()),
            s(&v, "expected", "encrypted_pin_block"),
            "encrypt: {}",
            src(&v)
        );
        let enc = h(&v, "expected", "encrypted_pin_block");
        let d = decipher_pin_block(&key, PinBlockFormat::Iso0, &enc, None).unwrap();
        assert_eq!(d.as_bytes(), clear.as_bytes(), "decipher: {}", src(&v));
        assert_eq!(
            decrypt_pin_block(&key, PinBlockFormat::Iso0, &enc, Some(&pan)).unwrap(),
            pin,
            "decrypt: {}",
            src(&v)
        );
        // A wrong PAN must not yield the vector's PIN.
        let other = "4000001234567899";
        assert!(
            decrypt_pin_block(&key, PinBlockFormat::Iso0, &enc, Some(other))
                .map(|p| p != pin)
                .unwrap_or(true),
            "wrong PAN: {}",
            src(&v)
        );
    }
}

// ---------------------------------------------------------------------------
// Properties

fn cipher_for(format: PinBlockFormat, key_len_sel: usize, key: &[u8]) -> BlockCipher {
    if format == PinBlockFormat::Iso4 {
        let n = [16, 24, 32][key_len_sel % 3];
        BlockCipher::aes(&key[..n]).unwrap()
    } else {
        let n = [8, 16, 24][key_len_sel % 3];
        BlockCipher::tdes(&key[..n]).unwrap()
    }
}

fn any_format() -> impl Strategy<Value = PinBlockFormat> {
    prop::sample::select(PinBlockFormat::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip_every_format(
        format in any_format(),
        pin in "[0-9]{4,12}",
        pan in "[0-9]{12,19}",
        key in prop::collection::vec(any::<u8>(), 32),
        key_sel in 0usize..3,
        seed in any::<u64>(),
    ) {
        let cipher = cipher_for(format, key_sel, &key);
        let pin = Pin::new(&pin).unwrap();
        let pan = format.needs_pan().then_some(pan.as_str());
        let mut rng = StdRng::seed_from_u64(seed);
        let e = encrypt_pin_block(&cipher, format, &pin, pan, &mut rng).unwrap();
        prop_assert_eq!(e.as_bytes().len(), format.block_len());
        let d = decrypt_pin_block(&cipher, format, e.as_bytes(), pan).unwrap();
        prop_assert_eq!(d, pin);
    }

    #[test]
    fn decode_never_panics(
        format in any_format(),
        block in prop::collection::vec(any::<u8>(), 0..40),
        pan in prop::option::of("[0-9]{10,21}|[0-9a-z ]{0,20}"),
        key in prop::collection::vec(any::<u8>(), 32),
        key_sel in 0usize..3,
    ) {
        let pan = pan.as_deref();
        if let Ok(p) = decode_pin_block(format, &block, pan) {
            prop_assert!((4..=12).contains(&p.digits().len()));
        }
        // Both cipher families against every format: mismatches must be errors, not panics.
        for c in [cipher_for(PinBlockFormat::Iso0, key_sel, &key), cipher_for(PinBlockFormat::Iso4, key_sel, &key)] {
            let _ = decipher_pin_block(&c, format, &block, pan);
            let _ = decrypt_pin_block(&c, format, &block, pan);
        }
    }

    #[test]
    fn wrong_pan_gives_error_or_other_pin(
        format in prop::sample::select(vec![PinBlockFormat::Iso0, PinBlockFormat::Iso3, PinBlockFormat::Iso4]),
        pin in "[0-9]{4,12}",
        pan in "[0-9]{12,19}",
        pan2 in "[0-9]{12,19}",
        key in prop::collection::vec(any::<u8>(), 32),
        key_sel in 0usize..3,
        seed in any::<u64>(),
    ) {
        let cipher = cipher_for(format, key_sel, &key);
        let pin = Pin::new(&pin).unwrap();
        let mut rng = StdRng::seed_from_u64(seed);
        let e = encrypt_pin_block(&cipher, format, &pin, Some(&pan), &mut rng).unwrap();
        let r = decrypt_pin_block(&cipher, format, e.as_bytes(), Some(&pan2));
        // Whether the two PANs differ where they can change the PIN:
        // format 4 binds the whole PAN; formats 0/3 bind the 12-digit account
        // field, and format 3 only detects changes under the PIN digits
        // (fill A-F XOR a difference may stay in A-F).
        let binds = match format {
            PinBlockFormat::Iso4 => pan != pan2,
            PinBlockFormat::Iso0 => pan_field_iso0(&pan).unwrap() != pan_field_iso0(&pan2).unwrap(),
            _ => {
                let (a, b) = (pan_field_iso0(&pan).unwrap(), pan_field_iso0(&pan2).unwrap());
                // PIN digits occupy nibbles 2 .. 2 + len.
                let nib = |x: &[u8; 8], i: usize| (x[i / 2] >> (4 * (1 - i % 2))) & 0x0F;
                (2..2 + pin.digits().len()).any(|i| nib(&a, i) != nib(&b, i))
            }
        };
        if binds {
            prop_assert!(r.map(|p| p != pin).unwrap_or(true));
        }
    }
}
