//! Every PIN block decoder and decipherer must return Ok or a typed error on any bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use paycrypto::algo::{cipher::BlockCipher, pinblock};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Ok(format) = pinblock::PinBlockFormat::from_code(sel % 5) else {
        return;
    };
    let (pan_bytes, block) = rest.split_at(rest.len().min(19));
    let pan = std::str::from_utf8(pan_bytes).ok();
    let _ = pinblock::decode_pin_block(format, block, pan);
    let cipher = if sel & 0x80 == 0 {
        BlockCipher::tdes(&[0x01; 16])
    } else {
        BlockCipher::aes(&[0x01; 16])
    };
    if let Ok(c) = cipher {
        let _ = pinblock::decrypt_pin_block(&c, format, block, pan);
    }
});
