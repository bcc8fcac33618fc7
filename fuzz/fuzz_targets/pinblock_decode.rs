//! Every PIN block decoder and decipherer returns Ok or a typed error on any
//! bytes, and PIN blocks round-trip: a PIN encoded (and enciphered) in any
//! format with any fill decodes (deciphers) to the same PIN; a block that
//! decodes re-encodes, with its own fill, to a block that decodes to the
//! same PIN.
#![no_main]
use libfuzzer_sys::fuzz_target;
use paycrypto::algo::{cipher::BlockCipher, pinblock};
use paycrypto::{Pin, PinBlockFormat};

/// A fill valid for every format (nibbles A-F, as format 3 requires), taken
/// from the input.
fn fill_of(data: &[u8]) -> [u8; 8] {
    let mut f = [0xAA; 8];
    for (o, i) in f.iter_mut().zip(data.iter().rev()) {
        *o = ((0xA + (i >> 4) % 6) << 4) | (0xA + (i & 0x0F) % 6);
    }
    f
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Ok(format) = PinBlockFormat::from_code(sel % 5) else {
        return;
    };
    let (pan_bytes, block) = rest.split_at(rest.len().min(19));
    let pan = std::str::from_utf8(pan_bytes).ok();
    let cipher = if format == PinBlockFormat::Iso4 {
        BlockCipher::aes(&[0x01; 16])
    } else {
        BlockCipher::tdes(&[0x01; 16])
    };
    let Ok(cipher) = cipher else { return };

    // Decoding never panics; what decodes re-encodes to the same PIN.
    if let Ok(pin) = pinblock::decode_pin_block(format, block, pan) {
        let again = pinblock::encode_pin_block_with_fill(format, &pin, pan, &fill_of(block))
            .expect("a decoded PIN re-encodes");
        let back = pinblock::decode_pin_block(format, again.as_bytes(), pan)
            .expect("a re-encoded block decodes");
        assert!(back == pin, "decode/encode round trip");
    }
    let _ = pinblock::decrypt_pin_block(&cipher, format, block, pan);

    // Encode → decode and encipher → decipher give the PIN back.
    let digits: Vec<u8> = block
        .iter()
        .map(|b| b'0' + b % 10)
        .take(4 + usize::from(sel % 9))
        .collect();
    let Ok(pin) = Pin::from_digits(&digits) else {
        return;
    };
    let Ok(clear) = pinblock::encode_pin_block_with_fill(format, &pin, pan, &fill_of(rest)) else {
        return; // e.g. a format that needs a PAN and got none
    };
    let back = pinblock::decode_pin_block(format, clear.as_bytes(), pan).expect("encoded decodes");
    assert!(back == pin, "encode/decode round trip");
    if let Ok(enc) = pinblock::encipher_pin_block(&cipher, format, clear.as_bytes(), pan) {
        let d = pinblock::decrypt_pin_block(&cipher, format, enc.as_bytes(), pan)
            .expect("enciphered decrypts");
        assert!(d == pin, "encipher/decipher round trip");
    }
});
