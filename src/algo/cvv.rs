//! Visa Card Verification Value (CVV, CVV2, iCVV; also the CVV-method CAVV).
//!
//! The 32-digit block `PAN || expiry || service code || 0...0` is split into
//! two 8-byte halves B1, B2 and MACed with ISO 9797-1 algorithm 3 under the
//! double-length CVK (A = left half, B = right half):
//! `E_A(D_B(E_A(E_A(B1) XOR B2)))`. The result is decimalised (all decimal
//! nibbles left to right, then the A-F nibbles minus 10) and the leftmost
//! digits are the CVV. CVV2 uses service code `000`, iCVV `999`. The Visa
//! dynamic CVV ([`generate_dcvv_digits`]) is the same MAC under a per-card
//! key over the PAN with the ATC in its first four digits.

use super::mac::{retail_mac, Padding};
use super::{AlgoError, AlgoResult};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Service code to pass for CVV2 (the printed card code).
pub const SERVICE_CODE_CVV2: &str = "000";
/// Service code to pass for iCVV (the chip track-2 equivalent).
pub const SERVICE_CODE_ICVV: &str = "999";
/// Longest PAN accepted (ISO/IEC 7812).
pub const MAX_PAN_DIGITS: usize = 19;
/// Fewest output digits [`generate_cvv_digits`] produces.
pub const MIN_CVV_DIGITS: usize = 3;
/// Most output digits [`generate_cvv_digits`] produces.
pub const MAX_CVV_DIGITS: usize = 5;

/// Joins the A and B halves (8 bytes each) of a CVK into the 16-byte key the
/// other functions take. Errors: `"cvk a"` / `"cvk b"` for a wrong length.
pub fn cvk_from_halves(cvk_a: &[u8], cvk_b: &[u8]) -> AlgoResult<Zeroizing<[u8; 16]>> {
    let a: &[u8; 8] = cvk_a.try_into().map_err(|_| {
        AlgoError::new("cvk a", format!("length {} bytes, expected 8", cvk_a.len()))
    })?;
    let b: &[u8; 8] = cvk_b.try_into().map_err(|_| {
        AlgoError::new("cvk b", format!("length {} bytes, expected 8", cvk_b.len()))
    })?;
    let mut k = Zeroizing::new([0u8; 16]);
    let (l, r) = k.split_at_mut(8);
    l.copy_from_slice(a);
    r.copy_from_slice(b);
    Ok(k)
}

/// Checks that `s` is `min..=max` ASCII decimal digits.
fn digits<'a>(field: &'static str, s: &'a str, min: usize, max: usize) -> AlgoResult<&'a [u8]> {
    let b = s.as_bytes();
    if b.len() < min || b.len() > max {
        let want = if min == max {
            format!("{min}")
        } else {
            format!("{min}..={max}")
        };
        return Err(AlgoError::new(
            field,
            format!("length {} digits, expected {want}", b.len()),
        ));
    }
    if let Some(pos) = b.iter().position(|c| !c.is_ascii_digit()) {
        return Err(AlgoError::new(
            field,
            format!("non-digit character at position {pos}"),
        ));
    }
    Ok(b)
}

/// Writes the decimalised CVV digits (ASCII) into `out` (3..=5 bytes).
fn compute(
    cvk: &[u8],
    pan: &str,
    expiry: &str,
    service_code: &str,
    out: &mut [u8],
) -> AlgoResult<()> {
    check_cvk(cvk)?;
    let pan = digits("pan", pan, 1, MAX_PAN_DIGITS)?;
    let expiry = digits("expiry", expiry, 4, 4)?;
    let service_code = digits("service code", service_code, 3, 3)?;
    check_out(out.len())?;
    let nibbles = pan
        .iter()
        .chain(expiry)
        .chain(service_code)
        .map(|d| d - b'0');
    cvv_over_nibbles(cvk, nibbles, out)
}

fn check_cvk(cvk: &[u8]) -> AlgoResult<()> {
    if cvk.len() != 16 {
        return Err(AlgoError::new(
            "cvk",
            format!("length {} bytes, expected 16 (CVK A || CVK B)", cvk.len()),
        ));
    }
    Ok(())
}

fn check_out(n: usize) -> AlgoResult<()> {
    if !(MIN_CVV_DIGITS..=MAX_CVV_DIGITS).contains(&n) {
        return Err(AlgoError::new(
            "digits",
            format!("{n} requested, expected {MIN_CVV_DIGITS}..={MAX_CVV_DIGITS}"),
        ));
    }
    Ok(())
}

/// The CVV MAC over `nibbles` (at most 32, each 0..=15) left-justified in
/// a zero-filled 16-byte block, decimalised into `out`.
fn cvv_over_nibbles(
    cvk: &[u8],
    nibbles: impl Iterator<Item = u8>,
    out: &mut [u8],
) -> AlgoResult<()> {
    // Callers pass at most 4 + 19 + 4 + 3 = 30 nibbles; the rest stay zero.
    let mut block = Zeroizing::new([0u8; 16]);
    for (i, nib) in nibbles.enumerate() {
        if let Some(b) = block.get_mut(i / 2) {
            *b |= if i % 2 == 0 { nib << 4 } else { nib & 0x0F };
        }
    }
    let mac = Zeroizing::new(retail_mac(cvk, &block[..], Padding::None)?);
    decimalise(&mac[..], out);
    Ok(())
}

/// Visa dynamic CVV (dCVV) digits into `out` (3..=5 ASCII digits): the CVV
/// algorithm under the 16-byte ICC key `icc_key` (the issuer master key
/// derived with the PAN and PSN, EMV Book 2 A1.4 option A) over the PAN
/// whose first four digits are replaced by the 2-byte ATC as four hex
/// digits (A-F nibbles kept as they are), then the expiry and the service
/// code — the layout of jPOS `JCESecurityModule.calculatedCVV`, whose
/// published test vectors this reproduces. Errors: `"cvk"` (the ICC key),
/// `"pan"` (5..=19 digits), `"atc"`, `"expiry"`, `"service code"`, `"digits"`.
pub fn generate_dcvv_digits(
    icc_key: &[u8],
    pan: &str,
    atc: &[u8],
    expiry: &str,
    service_code: &str,
    out: &mut [u8],
) -> AlgoResult<()> {
    check_cvk(icc_key)?;
    let pan = digits("pan", pan, 5, MAX_PAN_DIGITS)?;
    let atc: &[u8; 2] = atc
        .try_into()
        .map_err(|_| AlgoError::new("atc", format!("length {} bytes, expected 2", atc.len())))?;
    let expiry = digits("expiry", expiry, 4, 4)?;
    let service_code = digits("service code", service_code, 3, 3)?;
    check_out(out.len())?;
    let atc_nibbles = [atc[0] >> 4, atc[0] & 0x0F, atc[1] >> 4, atc[1] & 0x0F];
    let rest = pan
        .get(4..)
        .unwrap_or_default()
        .iter()
        .chain(expiry)
        .chain(service_code)
        .map(|d| d - b'0');
    cvv_over_nibbles(icc_key, atc_nibbles.into_iter().chain(rest), out)
}

/// Recomputes the dCVV with as many digits as `dcvv` has (3..=5) and
/// compares in constant time (`Ok(false)` on mismatch). Errors: as
/// [`generate_dcvv_digits`], plus `"cvv"` for a candidate length outside 3..=5.
pub fn verify_dcvv(
    icc_key: &[u8],
    pan: &str,
    atc: &[u8],
    expiry: &str,
    service_code: &str,
    dcvv: &[u8],
) -> AlgoResult<bool> {
    check_candidate(dcvv)?;
    let mut buf = Zeroizing::new([0u8; MAX_CVV_DIGITS]);
    let mine = buf.get_mut(..dcvv.len()).unwrap_or(&mut []);
    generate_dcvv_digits(icc_key, pan, atc, expiry, service_code, mine)?;
    Ok(mine.ct_eq(dcvv).into())
}

fn check_candidate(cvv: &[u8]) -> AlgoResult<()> {
    if cvv.len() < MIN_CVV_DIGITS || cvv.len() > MAX_CVV_DIGITS {
        return Err(AlgoError::new(
            "cvv",
            format!(
                "length {} digits, expected {MIN_CVV_DIGITS}..={MAX_CVV_DIGITS}",
                cvv.len()
            ),
        ));
    }
    Ok(())
}

/// Visa decimalisation: decimal nibbles first, then A-F nibbles minus 10.
/// Fills `out` (at most 16 digits are available, `out` is at most 5).
fn decimalise(bytes: &[u8], out: &mut [u8]) {
    let nibbles = || bytes.iter().flat_map(|b| [b >> 4, b & 0x0F]);
    let decimal = nibbles().filter(|n| *n < 10);
    let letters = nibbles().filter(|n| *n >= 10).map(|n| n - 10);
    for (o, n) in out.iter_mut().zip(decimal.chain(letters)) {
        *o = b'0' + n;
    }
}

/// Visa CVV (3 ASCII digits) for a 16-byte CVK, a PAN of 1..=19 digits, a
/// 4-digit expiry (in whatever order the card/track carries it, usually YYMM)
/// and a 3-digit service code (`"000"` for CVV2, `"999"` for iCVV).
/// Errors: `"cvk"`, `"pan"`, `"expiry"`, `"service code"`.
pub fn generate_cvv(
    cvk: &[u8],
    pan: &str,
    expiry: &str,
    service_code: &str,
) -> AlgoResult<Zeroizing<[u8; 3]>> {
    let mut out = Zeroizing::new([0u8; 3]);
    compute(cvk, pan, expiry, service_code, &mut out[..])?;
    Ok(out)
}

/// Like [`generate_cvv`] but writes `out.len()` digits (3..=5) into `out`
/// (used for 4-digit codes and CAVV-style outputs). Errors: as
/// [`generate_cvv`], plus `"digits"` for an output length outside 3..=5.
pub fn generate_cvv_digits(
    cvk: &[u8],
    pan: &str,
    expiry: &str,
    service_code: &str,
    out: &mut [u8],
) -> AlgoResult<()> {
    compute(cvk, pan, expiry, service_code, out)
}

/// Recomputes the CVV with as many digits as `cvv` has (3..=5 ASCII bytes)
/// and compares in constant time: `Ok(false)` on mismatch (including a
/// candidate with non-digit bytes). Errors: as [`generate_cvv`], plus `"cvv"`
/// for a candidate length outside 3..=5.
pub fn verify_cvv(
    cvk: &[u8],
    pan: &str,
    expiry: &str,
    service_code: &str,
    cvv: &[u8],
) -> AlgoResult<bool> {
    check_candidate(cvv)?;
    let mut buf = Zeroizing::new([0u8; MAX_CVV_DIGITS]);
    let mine = buf.get_mut(..cvv.len()).unwrap_or(&mut []);
    compute(cvk, pan, expiry, service_code, mine)?;
    Ok(mine.ct_eq(cvv).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CVK: [u8; 16] = [
        0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32,
        0x10,
    ];

    #[test]
    fn decimalisation() {
        let mut out = [0u8; 5];
        decimalise(&[0xAB, 0xCD, 0xEF, 0xF1, 0x2F, 0xFF, 0xFF, 0xFF], &mut out);
        assert_eq!(&out, b"12012");
        decimalise(&[0x8D, 0x56, 0x25, 0xFA, 0x78, 0x01, 0x1A, 0x0C], &mut out);
        assert_eq!(&out, b"85625");
    }

    #[test]
    fn field_errors() {
        let f = |cvk: &[u8], pan, exp, sc| generate_cvv(cvk, pan, exp, sc).unwrap_err().field;
        assert_eq!(f(&CVK[..8], "4123456789012345", "8701", "101"), "cvk");
        assert_eq!(f(&CVK, "", "8701", "101"), "pan");
        assert_eq!(f(&CVK, "41234567890123456789", "8701", "101"), "pan");
        assert_eq!(f(&CVK, "41234567890X2345", "8701", "101"), "pan");
        assert_eq!(f(&CVK, "4123456789012345", "870", "101"), "expiry");
        assert_eq!(f(&CVK, "4123456789012345", "87O1", "101"), "expiry");
        assert_eq!(f(&CVK, "4123456789012345", "8701", "1011"), "service code");
        assert_eq!(f(&CVK, "4123456789012345", "8701", "1 1"), "service code");
        let e = generate_cvv(&CVK, "41234567890X2345", "8701", "101").unwrap_err();
        assert!(
            !e.to_string().contains("4123"),
            "error must not echo the PAN"
        );
        let mut two = [0u8; 2];
        assert_eq!(
            generate_cvv_digits(&CVK, "4123456789012345", "8701", "101", &mut two)
                .unwrap_err()
                .field,
            "digits"
        );
        assert_eq!(
            verify_cvv(&CVK, "4123456789012345", "8701", "101", b"12")
                .unwrap_err()
                .field,
            "cvv"
        );
        assert_eq!(
            cvk_from_halves(&CVK[..7], &CVK[8..]).unwrap_err().field,
            "cvk a"
        );
        assert_eq!(
            cvk_from_halves(&CVK[..8], &CVK[9..]).unwrap_err().field,
            "cvk b"
        );
    }

    #[test]
    fn dcvv_field_errors_and_layout() {
        let mut out = [0u8; 3];
        let f = |pan, atc: &[u8], exp, sc| {
            let mut o = [0u8; 3];
            generate_dcvv_digits(&CVK, pan, atc, exp, sc, &mut o)
                .unwrap_err()
                .field
        };
        assert_eq!(f("1234", &[0, 1], "1310", "226"), "pan");
        assert_eq!(f("1234567890123456", &[0], "1310", "226"), "atc");
        assert_eq!(f("1234567890123456", &[0, 1], "131", "226"), "expiry");
        assert_eq!(f("1234567890123456", &[0, 1], "1310", "22"), "service code");
        assert_eq!(
            generate_dcvv_digits(
                &CVK[..8],
                "1234567890123456",
                &[0, 1],
                "1310",
                "226",
                &mut out
            )
            .unwrap_err()
            .field,
            "cvk"
        );
        // With the ATC written over the first four PAN digits, the dCVV of a
        // PAN equals the CVV of the PAN whose first digits are the ATC (for
        // an ATC of decimal-looking nibbles).
        generate_dcvv_digits(
            &CVK,
            "4123456789012345",
            &[0x12, 0x34],
            "8701",
            "111",
            &mut out,
        )
        .unwrap();
        assert_eq!(
            &out,
            &*generate_cvv(&CVK, "1234456789012345", "8701", "111").unwrap()
        );
        assert!(verify_dcvv(&CVK, "4123456789012345", &[0x12, 0x34], "8701", "111", &out).unwrap());
        assert!(
            !verify_dcvv(&CVK, "4123456789012345", &[0x12, 0x35], "8701", "111", &out).unwrap()
        );
        assert_eq!(
            verify_dcvv(&CVK, "4123456789012345", &[0, 1], "8701", "111", b"12")
                .unwrap_err()
                .field,
            "cvv"
        );
    }

    // Worked example (alibabacloud CVN write-up, shared vector kind "visa_cvv"): CVV 856,
    // and the decimalised result 8D5625FA78011A0C gives 85625 for 5 digits.
    #[test]
    fn verify_and_digits() {
        let pan = "4123456789012345";
        assert_eq!(&*generate_cvv(&CVK, pan, "8701", "111").unwrap(), b"856");
        assert!(verify_cvv(&CVK, pan, "8701", "111", b"856").unwrap());
        assert!(!verify_cvv(&CVK, pan, "8701", "111", b"857").unwrap());
        assert!(!verify_cvv(&CVK, pan, "8701", "111", b"85 ").unwrap());
        let mut five = [0u8; 5];
        generate_cvv_digits(&CVK, pan, "8701", "111", &mut five).unwrap();
        assert_eq!(&five, b"85625");
        assert!(verify_cvv(&CVK, pan, "8701", "111", b"85625").unwrap());
    }
}
