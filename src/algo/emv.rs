//! EMV issuer cryptography (double-length TDES keys): ICC master key
//! derivation (EMV Book 2 A1.4), session keys (A1.3 common session key,
//! Mastercard SKD, Visa CVN 10 "none", Visa secure messaging), ARQC / TC / AAC
//! generation and verification (ISO 9797-1 MAC algorithm 3), ARPC methods 1
//! and 2 (Book 2 8.2), the secure-messaging MAC, and the Mastercard
//! contactless CVC3.
//!
//! Derived keys are returned odd-parity adjusted in [`Zeroizing`] arrays.
//! Verification compares in constant time and reports a mismatch as
//! `Ok(false)`; only malformed input is an error.

use super::cipher::{fix_odd_parity, xor_into, BlockCipher};
use super::mac::{retail_mac, verify_truncated, Padding};
use super::{AlgoError, AlgoResult};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A derived double-length DES key (ICC master key or session key).
pub type DesKey16 = Zeroizing<[u8; 16]>;

fn bad_len(field: &'static str, len: usize, expected: &str) -> AlgoError {
    AlgoError::new(field, format!("length {len} bytes, expected {expected}"))
}

/// A two-key TDES cipher from exactly 16 bytes.
fn tdes16(field: &'static str, key: &[u8]) -> AlgoResult<BlockCipher> {
    if key.len() != 16 {
        return Err(bad_len(field, key.len(), "16 (double-length TDES)"));
    }
    BlockCipher::tdes(key).map_err(|e| AlgoError::new(field, e.reason))
}

fn fixed<'a, const N: usize>(field: &'static str, v: &'a [u8]) -> AlgoResult<&'a [u8; N]> {
    v.try_into()
        .map_err(|_| bad_len(field, v.len(), &N.to_string()))
}

fn check_digits(field: &'static str, s: &str, min: usize, max: usize) -> AlgoResult<()> {
    let n = s.len();
    if n < min || n > max {
        return Err(AlgoError::new(
            field,
            format!("length {n} digits, expected {min}..={max}"),
        ));
    }
    if let Some(pos) = s.bytes().position(|c| !c.is_ascii_digit()) {
        return Err(AlgoError::new(
            field,
            format!("non-digit character at position {pos}"),
        ));
    }
    Ok(())
}

pub use crate::types::MkDerivation;

/// Derives the ICC master key from a 16-byte issuer master key.
///
/// `pan` is 1..=19 ASCII digits; `psn` is the 2-digit PAN sequence number
/// (`None` means `"00"`). Option A encrypts `Y` = the rightmost 16 digits of
/// `PAN || PSN` (left zero-filled, packed BCD) and `Y XOR FF..FF` under the
/// IMK; the result is odd-parity adjusted. Option B with a PAN over 16
/// digits builds `Y` from SHA-1 instead (see [`option_b_y`]). Errors:
/// `"issuer master key"`, `"pan"`, `"psn"`.
pub fn derive_icc_mk(
    imk: &[u8],
    pan: &str,
    psn: Option<&str>,
    method: MkDerivation,
) -> AlgoResult<DesKey16> {
    let cipher = tdes16("issuer master key", imk)?;
    check_digits("pan", pan, 1, 19)?;
    let psn = psn.unwrap_or("00");
    check_digits("psn", psn, 2, 2)?;
    let mut y = Zeroizing::new([0u8; 8]);
    if method == MkDerivation::OptionB && pan.len() > 16 {
        option_b_y(pan, psn, &mut y);
        return encrypt_y(&cipher, &y);
    }
    // Rightmost 16 digits of PAN || PSN, left-filled with zeros, as packed BCD.
    let total = pan.len() + psn.len();
    for (i, d) in pan.bytes().chain(psn.bytes()).enumerate() {
        // Position in the 16-digit field (digits that fall off the left are dropped).
        let Some(pos) = (i + 16).checked_sub(total) else {
            continue;
        };
        if let Some(b) = y.get_mut(pos / 2) {
            let nib = d - b'0';
            *b |= if pos % 2 == 0 { nib << 4 } else { nib };
        }
    }
    encrypt_y(&cipher, &y)
}

/// `E(IMK, Y) || E(IMK, Y XOR FF..FF)`, odd-parity adjusted (EMV A1.4.1 step 2).
fn encrypt_y(cipher: &BlockCipher, y: &[u8; 8]) -> AlgoResult<DesKey16> {
    let mut mk = Zeroizing::new([0u8; 16]);
    let (l, r) = mk.split_at_mut(8);
    l.copy_from_slice(&y[..]);
    r.copy_from_slice(&y[..]);
    r.iter_mut().for_each(|b| *b ^= 0xFF);
    cipher.encrypt_ecb(&mut mk[..])?;
    fix_odd_parity(&mut mk[..]);
    Ok(mk)
}

/// EMV Book 2 A1.4.2 option B, step 2 onwards, for PANs over 16 digits:
/// `X = PAN || PSN` (left-padded with one `0` to an even length) as packed
/// BCD; `Y` = the first 16 decimal digits of SHA-1(X) read nibble by nibble,
/// completed if needed by the hex digits A-F of the hash converted to 0-5,
/// in order. `pan` and `psn` must already be validated as decimal digits.
pub fn option_b_y(pan: &str, psn: &str, y: &mut [u8; 8]) {
    use sha1::{Digest, Sha1};
    let digits = pan.len() + psn.len();
    let mut x = Zeroizing::new([0u8; 11]); // at most 19 + 2 digits, padded to 22
    let offset = digits % 2; // one leading zero nibble when odd
    for (i, d) in pan.bytes().chain(psn.bytes()).enumerate() {
        let pos = i + offset;
        if let Some(b) = x.get_mut(pos / 2) {
            let nib = d.wrapping_sub(b'0') & 0x0F;
            *b |= if pos.is_multiple_of(2) { nib << 4 } else { nib };
        }
    }
    let len = (digits + offset) / 2;
    let hash = Sha1::digest(x.get(..len).unwrap_or(&[]));
    let nibbles = || hash.iter().flat_map(|b| [b >> 4, b & 0x0F]);
    let decimal = nibbles().filter(|n| *n < 10);
    let letters = nibbles().filter(|n| *n >= 10).map(|n| n - 10);
    *y = [0u8; 8];
    for (pos, n) in decimal.chain(letters).take(16).enumerate() {
        if let Some(b) = y.get_mut(pos / 2) {
            *b |= if pos % 2 == 0 { n << 4 } else { n };
        }
    }
}

/// EMV common session key derivation (Book 2 A1.3.1) for double-length keys:
/// `SK = E_MK(R0 R1 F0 R3..R7) || E_MK(R0 R1 0F R3..R7)`, odd-parity adjusted.
/// `mk` is the 16-byte ICC master key, `r` the 8-byte diversification value
/// (usually [`common_session_key_r`]). Errors: `"master key"`, `"r"`.
pub fn derive_common_session_key(mk: &[u8], r: &[u8]) -> AlgoResult<DesKey16> {
    let cipher = tdes16("master key", mk)?;
    let r: &[u8; 8] = fixed("r", r)?;
    let mut sk = Zeroizing::new([0u8; 16]);
    let (l, rr) = sk.split_at_mut(8);
    l.copy_from_slice(r);
    rr.copy_from_slice(r);
    if let (Some(a), Some(b)) = (l.get_mut(2), rr.get_mut(2)) {
        *a = 0xF0;
        *b = 0x0F;
    }
    cipher.encrypt_ecb(&mut sk[..])?;
    fix_odd_parity(&mut sk[..]);
    Ok(sk)
}

/// The usual EMV CSK diversification value `R = ATC || 00 00 00 00 00 00`.
/// Errors: `"atc"` unless 2 bytes.
pub fn common_session_key_r(atc: &[u8]) -> AlgoResult<[u8; 8]> {
    let atc: &[u8; 2] = fixed("atc", atc)?;
    Ok([atc[0], atc[1], 0, 0, 0, 0, 0, 0])
}

/// Mastercard M/Chip session key (SKD): the common derivation with
/// `R = ATC || 00 00 || UN`. Errors: `"master key"`, `"atc"` (2 bytes),
/// `"unpredictable number"` (4 bytes).
pub fn derive_mastercard_session_key(mk: &[u8], atc: &[u8], un: &[u8]) -> AlgoResult<DesKey16> {
    let atc: &[u8; 2] = fixed("atc", atc)?;
    let un: &[u8; 4] = fixed("unpredictable number", un)?;
    let r = [atc[0], atc[1], 0, 0, un[0], un[1], un[2], un[3]];
    derive_common_session_key(mk, &r)
}

/// Visa secure-messaging session key: `MK XOR (00..00 ATC || 00..00 ~ATC)`
/// (the ATC in the last two bytes of each half, complemented in the right
/// half), odd-parity adjusted. Errors: `"master key"`, `"atc"`.
pub fn derive_visa_sm_session_key(mk: &[u8], atc: &[u8]) -> AlgoResult<DesKey16> {
    let mk: &[u8; 16] = fixed("master key", mk)?;
    let atc: &[u8; 2] = fixed("atc", atc)?;
    let mut sk = Zeroizing::new(*mk);
    let mask = [
        0, 0, 0, 0, 0, 0, atc[0], atc[1], 0, 0, 0, 0, 0, 0, !atc[0], !atc[1],
    ];
    xor_into(&mut sk[..], &mask);
    fix_odd_parity(&mut sk[..]);
    Ok(sk)
}

/// How the application-cryptogram session key is obtained from the ICC MK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKeyDerivation<'a> {
    /// No session key: the ICC master key is used directly (Visa CVN 10).
    None,
    /// EMV common session key with an explicit 8-byte `R` (Book 2 A1.3.1).
    EmvCommon {
        /// The 8-byte diversification value.
        r: &'a [u8],
    },
    /// EMV common session key with `R = ATC || 00..00`.
    EmvCommonAtc {
        /// Application transaction counter (2 bytes).
        atc: &'a [u8],
    },
    /// Mastercard SKD: `R = ATC || 00 00 || UN`.
    Mastercard {
        /// Application transaction counter (2 bytes).
        atc: &'a [u8],
        /// Unpredictable number (4 bytes).
        un: &'a [u8],
    },
}

/// Derives the AC session key from the 16-byte ICC master key `mk` by
/// `method`. Errors: `"master key"`, `"r"`, `"atc"`, `"unpredictable number"`.
pub fn derive_session_key(mk: &[u8], method: SessionKeyDerivation<'_>) -> AlgoResult<DesKey16> {
    match method {
        SessionKeyDerivation::None => Ok(Zeroizing::new(*fixed::<16>("master key", mk)?)),
        SessionKeyDerivation::EmvCommon { r } => derive_common_session_key(mk, r),
        SessionKeyDerivation::EmvCommonAtc { atc } => {
            derive_common_session_key(mk, &common_session_key_r(atc)?)
        }
        SessionKeyDerivation::Mastercard { atc, un } => derive_mastercard_session_key(mk, atc, un),
    }
}

/// Application cryptogram (ARQC, TC or AAC): ISO 9797-1 MAC algorithm 3
/// under the 16-byte session key over `data` padded by `padding` (EMV uses
/// method 1 or 2; `Padding::None` MACs data the caller already padded).
/// Errors: `"session key"`, `"data"`.
pub fn generate_ac(session_key: &[u8], data: &[u8], padding: Padding) -> AlgoResult<[u8; 8]> {
    if session_key.len() != 16 {
        return Err(bad_len("session key", session_key.len(), "16"));
    }
    retail_mac(session_key, data, padding)
}

/// Recomputes the cryptogram and compares it with the 8-byte `ac` in constant
/// time. Errors: as [`generate_ac`], plus `"ac"` unless 8 bytes.
pub fn verify_ac(session_key: &[u8], data: &[u8], padding: Padding, ac: &[u8]) -> AlgoResult<bool> {
    let ac: &[u8; 8] = fixed("ac", ac)?;
    let mine = generate_ac(session_key, data, padding)?;
    Ok(mine.ct_eq(ac).into())
}

/// ARPC method 1 (Book 2 8.2.1): `E_K(ARQC XOR (ARC || 00..00))` under the
/// 16-byte key `key` (the ICC MK or the session key, per scheme). Errors:
/// `"key"`, `"arqc"` (8 bytes), `"arc"` (2 bytes).
pub fn generate_arpc_method1(key: &[u8], arqc: &[u8], arc: &[u8]) -> AlgoResult<[u8; 8]> {
    let cipher = tdes16("key", key)?;
    let arqc: &[u8; 8] = fixed("arqc", arqc)?;
    let arc: &[u8; 2] = fixed("arc", arc)?;
    let mut block = *arqc;
    xor_into(&mut block, arc);
    cipher.encrypt_ecb(&mut block)?;
    Ok(block)
}

/// Verifies an 8-byte method-1 ARPC in constant time. Errors: as
/// [`generate_arpc_method1`], plus `"arpc"` unless 8 bytes.
pub fn verify_arpc_method1(key: &[u8], arqc: &[u8], arc: &[u8], arpc: &[u8]) -> AlgoResult<bool> {
    let arpc: &[u8; 8] = fixed("arpc", arpc)?;
    Ok(generate_arpc_method1(key, arqc, arc)?.ct_eq(arpc).into())
}

/// ARPC method 2 (Book 2 8.2.2): the leftmost 4 bytes of ISO 9797-1 MAC
/// algorithm 3 (padding method 2) under the 16-byte session key over
/// `ARQC || CSU || proprietary authentication data`. Errors: `"session key"`,
/// `"arqc"` (8 bytes), `"csu"` (4 bytes), `"proprietary auth data"` (0..=8 bytes).
pub fn generate_arpc_method2(
    session_key: &[u8],
    arqc: &[u8],
    csu: &[u8],
    proprietary: &[u8],
) -> AlgoResult<[u8; 4]> {
    if session_key.len() != 16 {
        return Err(bad_len("session key", session_key.len(), "16"));
    }
    let arqc: &[u8; 8] = fixed("arqc", arqc)?;
    let csu: &[u8; 4] = fixed("csu", csu)?;
    if proprietary.len() > 8 {
        return Err(bad_len("proprietary auth data", proprietary.len(), "0..=8"));
    }
    let mut buf = [0u8; 20];
    let (a, rest) = buf.split_at_mut(8);
    a.copy_from_slice(arqc);
    let (c, p) = rest.split_at_mut(4);
    c.copy_from_slice(csu);
    if let Some(dst) = p.get_mut(..proprietary.len()) {
        dst.copy_from_slice(proprietary);
    }
    let msg = buf.get(..12 + proprietary.len()).unwrap_or(&[]);
    let mac = retail_mac(session_key, msg, Padding::Method2)?;
    Ok([mac[0], mac[1], mac[2], mac[3]])
}

/// Verifies a 4-byte method-2 ARPC in constant time. Errors: as
/// [`generate_arpc_method2`], plus `"arpc"` unless 4 bytes.
pub fn verify_arpc_method2(
    session_key: &[u8],
    arqc: &[u8],
    csu: &[u8],
    proprietary: &[u8],
    arpc: &[u8],
) -> AlgoResult<bool> {
    let arpc: &[u8; 4] = fixed("arpc", arpc)?;
    let mine = generate_arpc_method2(session_key, arqc, csu, proprietary)?;
    Ok(mine.ct_eq(arpc).into())
}

/// Secure-messaging command MAC (Book 2 A1.2): ISO 9797-1 MAC algorithm 3
/// with padding method 2 under the 16-byte SM integrity session key; 8 bytes
/// (the card usually receives the leftmost 4..=8). Errors: `"session key"`.
pub fn secure_messaging_mac(session_key: &[u8], data: &[u8]) -> AlgoResult<[u8; 8]> {
    if session_key.len() != 16 {
        return Err(bad_len("session key", session_key.len(), "16"));
    }
    retail_mac(session_key, data, Padding::Method2)
}

/// Verifies a secure-messaging MAC (leftmost 4..=8 bytes) in constant time.
/// Errors: as [`secure_messaging_mac`], plus `"mac"` for a bad length.
pub fn verify_secure_messaging_mac(
    session_key: &[u8],
    data: &[u8],
    mac: &[u8],
) -> AlgoResult<bool> {
    verify_truncated(&secure_messaging_mac(session_key, data)?, mac)
}

/// Mastercard IVCVC3: the rightmost 2 bytes of ISO 9797-1 MAC algorithm 3
/// (padding method 2) under the 16-byte ICC MK for CVC3 over the track data.
/// Errors: `"master key"`.
pub fn mastercard_ivcvc3(mk_cvc3: &[u8], track: &[u8]) -> AlgoResult<[u8; 2]> {
    if mk_cvc3.len() != 16 {
        return Err(bad_len("master key", mk_cvc3.len(), "16"));
    }
    let mac = retail_mac(mk_cvc3, track, Padding::Method2)?;
    Ok([mac[6], mac[7]])
}

/// Mastercard dynamic CVC3 (5 ASCII digits): TDES-encrypt
/// `IVCVC3 || UN || ATC` under the ICC MK for CVC3 and print the rightmost 2
/// bytes as a 5-digit decimal number. Errors: `"master key"`, `"ivcvc3"` (2
/// bytes), `"unpredictable number"` (4 bytes), `"atc"` (2 bytes).
pub fn mastercard_cvc3(
    mk_cvc3: &[u8],
    ivcvc3: &[u8],
    un: &[u8],
    atc: &[u8],
) -> AlgoResult<Zeroizing<[u8; 5]>> {
    let cipher = tdes16("master key", mk_cvc3)?;
    let iv: &[u8; 2] = fixed("ivcvc3", ivcvc3)?;
    let un: &[u8; 4] = fixed("unpredictable number", un)?;
    let atc: &[u8; 2] = fixed("atc", atc)?;
    let mut block = Zeroizing::new([iv[0], iv[1], un[0], un[1], un[2], un[3], atc[0], atc[1]]);
    cipher.encrypt_ecb(&mut block[..])?;
    let mut v = u32::from(u16::from_be_bytes([block[6], block[7]]));
    let mut out = Zeroizing::new([b'0'; 5]);
    for o in out.iter_mut().rev() {
        // v < 65536 fits in 5 digits.
        *o = b'0' + (v % 10) as u8;
        v /= 10;
    }
    Ok(out)
}

/// Mastercard dynamic CVC3 from the track data: [`mastercard_ivcvc3`] over
/// `track` then [`mastercard_cvc3`] (5 ASCII digits; a card or terminal
/// shows the rightmost 3 to 5). Errors: `"master key"`, `"unpredictable
/// number"` (4 bytes), `"atc"` (2 bytes).
pub fn mastercard_cvc3_from_track(
    mk_cvc3: &[u8],
    track: &[u8],
    un: &[u8],
    atc: &[u8],
) -> AlgoResult<Zeroizing<[u8; 5]>> {
    let iv = mastercard_ivcvc3(mk_cvc3, track)?;
    mastercard_cvc3(mk_cvc3, &iv, un, atc)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMK: [u8; 16] = [
        0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32,
        0x10,
    ];

    #[test]
    fn field_errors() {
        let f = |r: AlgoResult<DesKey16>| r.unwrap_err().field;
        assert_eq!(
            f(derive_icc_mk(
                &IMK[..8],
                "1234",
                None,
                MkDerivation::OptionA
            )),
            "issuer master key"
        );
        assert_eq!(
            f(derive_icc_mk(&IMK, "", None, MkDerivation::OptionA)),
            "pan"
        );
        assert_eq!(
            f(derive_icc_mk(
                &IMK,
                "12345678901234567890",
                None,
                MkDerivation::OptionA
            )),
            "pan"
        );
        assert_eq!(
            f(derive_icc_mk(&IMK, "12a4", None, MkDerivation::OptionA)),
            "pan"
        );
        assert_eq!(
            f(derive_icc_mk(
                &IMK,
                "1234",
                Some("1"),
                MkDerivation::OptionA
            )),
            "psn"
        );
        assert_eq!(
            f(derive_icc_mk(
                &IMK,
                "1234",
                Some("x1"),
                MkDerivation::OptionA
            )),
            "psn"
        );
        // Option B: a long PAN takes the SHA-1 branch (differs from option A);
        // a PAN of up to 16 digits equals option A.
        let a = derive_icc_mk(&IMK, "12345678901234567", None, MkDerivation::OptionA).unwrap();
        let b = derive_icc_mk(&IMK, "12345678901234567", None, MkDerivation::OptionB).unwrap();
        assert_ne!(a[..], b[..]);
        let a = derive_icc_mk(&IMK, "1234567890123456", None, MkDerivation::OptionA).unwrap();
        let b = derive_icc_mk(&IMK, "1234567890123456", None, MkDerivation::OptionB).unwrap();
        assert_eq!(a[..], b[..]);
        assert_eq!(
            f(derive_icc_mk(
                &IMK,
                "1234567890123456789x",
                None,
                MkDerivation::OptionB
            )),
            "pan"
        );
        assert_eq!(f(derive_common_session_key(&IMK, &[0; 7])), "r");
        assert_eq!(
            f(derive_common_session_key(&IMK[..15], &[0; 8])),
            "master key"
        );
        assert_eq!(
            f(derive_mastercard_session_key(&IMK, &[0; 3], &[0; 4])),
            "atc"
        );
        assert_eq!(
            f(derive_mastercard_session_key(&IMK, &[0; 2], &[0; 5])),
            "unpredictable number"
        );
        assert_eq!(f(derive_visa_sm_session_key(&IMK, &[0; 1])), "atc");
        assert_eq!(
            f(derive_session_key(&IMK[..8], SessionKeyDerivation::None)),
            "master key"
        );
        assert_eq!(
            generate_ac(&IMK[..8], &[0; 8], Padding::None)
                .unwrap_err()
                .field,
            "session key"
        );
        assert_eq!(
            generate_ac(&IMK, &[0; 7], Padding::None).unwrap_err().field,
            "data"
        );
        assert_eq!(
            verify_ac(&IMK, &[0; 8], Padding::None, &[0; 4])
                .unwrap_err()
                .field,
            "ac"
        );
        assert_eq!(
            generate_arpc_method1(&IMK, &[0; 8], &[0; 3])
                .unwrap_err()
                .field,
            "arc"
        );
        assert_eq!(
            generate_arpc_method1(&IMK, &[0; 7], &[0; 2])
                .unwrap_err()
                .field,
            "arqc"
        );
        assert_eq!(
            generate_arpc_method1(&IMK[..8], &[0; 8], &[0; 2])
                .unwrap_err()
                .field,
            "key"
        );
        assert_eq!(
            verify_arpc_method1(&IMK, &[0; 8], &[0; 2], &[0; 4])
                .unwrap_err()
                .field,
            "arpc"
        );
        assert_eq!(
            generate_arpc_method2(&IMK, &[0; 8], &[0; 3], &[])
                .unwrap_err()
                .field,
            "csu"
        );
        assert_eq!(
            generate_arpc_method2(&IMK, &[0; 8], &[0; 4], &[0; 9])
                .unwrap_err()
                .field,
            "proprietary auth data"
        );
        assert_eq!(
            verify_arpc_method2(&IMK, &[0; 8], &[0; 4], &[], &[0; 8])
                .unwrap_err()
                .field,
            "arpc"
        );
        assert_eq!(
            verify_secure_messaging_mac(&IMK, b"x", &[0; 3])
                .unwrap_err()
                .field,
            "mac"
        );
        assert_eq!(
            mastercard_cvc3(&IMK, &[0; 3], &[0; 4], &[0; 2])
                .unwrap_err()
                .field,
            "ivcvc3"
        );
    }

    // Short PANs are left-filled with zeros; PSN None equals "00"; parity is odd.
    #[test]
    fn option_a_layout() {
        let a = derive_icc_mk(&IMK, "123", None, MkDerivation::OptionA).unwrap();
        let b = derive_icc_mk(&IMK, "00000000123", Some("00"), MkDerivation::OptionB).unwrap();
        assert_eq!(*a, *b);
        assert!(super::super::cipher::has_odd_parity(&a[..]));
        let c = derive_icc_mk(
            &IMK,
            "9991234567890123456",
            Some("45"),
            MkDerivation::OptionA,
        )
        .unwrap();
        let d = derive_icc_mk(&IMK, "1234567890123456", Some("45"), MkDerivation::OptionA).unwrap();
        assert_eq!(*c, *d, "only the rightmost 16 digits of PAN||PSN count");
    }

    #[test]
    fn verification_round_trips() {
        let data = [0x11u8; 29];
        let ac = generate_ac(&IMK, &data, Padding::Method2).unwrap();
        assert!(verify_ac(&IMK, &data, Padding::Method2, &ac).unwrap());
        assert!(!verify_ac(&IMK, &data, Padding::Method1, &ac).unwrap());
        let arpc = generate_arpc_method1(&IMK, &ac, &[0x30, 0x30]).unwrap();
        assert!(verify_arpc_method1(&IMK, &ac, &[0x30, 0x30], &arpc).unwrap());
        assert!(!verify_arpc_method1(&IMK, &ac, &[0x30, 0x31], &arpc).unwrap());
        let arpc2 = generate_arpc_method2(&IMK, &ac, &[0, 0x12, 0, 0], &[1, 2]).unwrap();
        assert!(verify_arpc_method2(&IMK, &ac, &[0, 0x12, 0, 0], &[1, 2], &arpc2).unwrap());
        assert!(!verify_arpc_method2(&IMK, &ac, &[0, 0x12, 0, 0], &[1, 3], &arpc2).unwrap());
        let m = secure_messaging_mac(&IMK, b"command").unwrap();
        assert!(verify_secure_messaging_mac(&IMK, b"command", &m[..4]).unwrap());
        assert!(!verify_secure_messaging_mac(&IMK, b"commanD", &m).unwrap());
    }
}
