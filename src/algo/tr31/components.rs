//! Forming a key from clear components (XOR), with KCV and parity checks.

use super::header::Algorithm;
use crate::algo::cipher::{fix_odd_parity, has_odd_parity, kcv_aes_cmac, kcv_tdes, xor_into};
use crate::algo::{AlgoError, AlgoResult};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Most components accepted (payShield-style key forming allows up to 9).
const MAX_COMPONENTS: usize = 9;

/// XORs 2 to 9 key components of equal length (16, 24 or 32 bytes) into
/// the combined key. Errors (`"components"`) on fewer than 2 or more than
/// 9 components, unequal lengths, or a length other than 16/24/32.
pub fn combine_components(components: &[&[u8]]) -> AlgoResult<Zeroizing<Vec<u8>>> {
    let n = components.len();
    if !(2..=MAX_COMPONENTS).contains(&n) {
        return Err(AlgoError::new(
            "components",
            format!("{n} given, expected 2 to {MAX_COMPONENTS}"),
        ));
    }
    let len = components.first().map_or(0, |c| c.len());
    if !matches!(len, 16 | 24 | 32) {
        return Err(AlgoError::new(
            "components",
            format!("length {len} bytes, expected 16, 24 or 32"),
        ));
    }
    if let Some(i) = components.iter().position(|c| c.len() != len) {
        return Err(AlgoError::new(
            "components",
            format!(
                "component {} is {} bytes but component 1 is {len}",
                i + 1,
                components.get(i).map_or(0, |c| c.len())
            ),
        ));
    }
    let mut key = Zeroizing::new(vec![0u8; len]);
    for c in components {
        xor_into(&mut key, c);
    }
    Ok(key)
}

/// What [`combine_components_checked`] does about the DES parity of a
/// combined TDES key. (The XOR of an even number of odd-parity components
/// has even parity, so two-component forming normally adjusts.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParityPolicy {
    /// The combined key must already have odd parity, else an error.
    Require,
    /// Set odd parity on the combined key.
    Adjust,
}

/// Combines components like [`combine_components`] after verifying each
/// component's key check value, then (TDES only) applies `parity`.
///
/// `algorithm` must be [`Algorithm::Tdes`] (components of 16 or 24 bytes;
/// KCV = [`kcv_tdes`]) or [`Algorithm::Aes`] (16/24/32 bytes; KCV =
/// [`kcv_aes_cmac`]). `kcvs` holds one expected KCV per component (2 or 3
/// bytes, compared with the leftmost bytes). Errors: `"algorithm"`,
/// `"components"`, `"kcv"` (count or length), `"component kcv"` (which
/// component did not match, 1-based), `"combined key"` (parity under
/// [`ParityPolicy::Require`]).
pub fn combine_components_checked(
    algorithm: Algorithm,
    components: &[&[u8]],
    kcvs: &[&[u8]],
    parity: ParityPolicy,
) -> AlgoResult<Zeroizing<Vec<u8>>> {
    let kcv: fn(&[u8]) -> AlgoResult<[u8; 3]> = match algorithm {
        Algorithm::Tdes => kcv_tdes,
        Algorithm::Aes => kcv_aes_cmac,
        _ => {
            return Err(AlgoError::new(
                "algorithm",
                "key components are supported for TDES and AES only",
            ))
        }
    };
    if algorithm == Algorithm::Tdes {
        if let Some(c) = components.iter().find(|c| !matches!(c.len(), 16 | 24)) {
            return Err(AlgoError::new(
                "components",
                format!("length {} bytes, expected 16 or 24 for TDES", c.len()),
            ));
        }
    }
    if kcvs.len() != components.len() {
        return Err(AlgoError::new(
            "kcv",
            format!("{} given for {} components", kcvs.len(), components.len()),
        ));
    }
    let mut key = combine_components(components)?;
    for (i, (c, expected)) in components.iter().zip(kcvs).enumerate() {
        if !matches!(expected.len(), 2 | 3) {
            return Err(AlgoError::new(
                "kcv",
                format!("kcv {} is {} bytes, expected 2 or 3", i + 1, expected.len()),
            ));
        }
        let got = kcv(c)?;
        let ok = got.get(..expected.len()).unwrap_or(&[]).ct_eq(expected);
        if !bool::from(ok) {
            return Err(AlgoError::new(
                "component kcv",
                format!("component {} does not match its check value", i + 1),
            ));
        }
    }
    if algorithm == Algorithm::Tdes {
        match parity {
            ParityPolicy::Adjust => fix_odd_parity(&mut key),
            ParityPolicy::Require if !has_odd_parity(&key) => {
                return Err(AlgoError::new(
                    "combined key",
                    "does not have odd DES parity",
                ))
            }
            ParityPolicy::Require => {}
        }
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hx(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn xor_of_components() {
        let a = hx("0123456789ABCDEFFEDCBA9876543210");
        let b = hx("FFFFFFFFFFFFFFFF0000000000000000");
        let k = combine_components(&[&a, &b]).unwrap();
        assert_eq!(hex::encode_upper(&*k), "FEDCBA9876543210FEDCBA9876543210");
        let k3 = combine_components(&[&a, &b, &b]).unwrap();
        assert_eq!(*k3, a);
    }

    #[test]
    fn component_errors() {
        let a = [1u8; 16];
        assert_eq!(combine_components(&[&a]).unwrap_err().field, "components");
        assert_eq!(combine_components(&[]).unwrap_err().field, "components");
        assert_eq!(
            combine_components(&[&a, &[1u8; 24]]).unwrap_err().field,
            "components"
        );
        assert_eq!(
            combine_components(&[&[1u8; 8], &[1u8; 8]])
                .unwrap_err()
                .field,
            "components"
        );
        let many: Vec<&[u8]> = vec![&a; 10];
        assert_eq!(combine_components(&many).unwrap_err().field, "components");
    }

    #[test]
    fn checked_combination() {
        // Three odd-parity TDES components; their XOR keeps odd parity.
        let c1 = hx("0123456789ABCDEFFEDCBA9876543210");
        let c2 = hx("01010101010101010101010101010101");
        let c3 = hx("01010101010101010101010101010101");
        let kcvs: Vec<[u8; 3]> = [&c1, &c2, &c3]
            .iter()
            .map(|c| kcv_tdes(c).unwrap())
            .collect();
        let kv: Vec<&[u8]> = kcvs.iter().map(|k| &k[..]).collect();
        let k = combine_components_checked(
            Algorithm::Tdes,
            &[&c1, &c2, &c3],
            &kv,
            ParityPolicy::Require,
        )
        .unwrap();
        assert_eq!(*k, c1);
        // KCV of the first component is 08D7B4 (shared "kcv" vector); 2-byte prefix works.
        assert_eq!(kcvs[0], [0x08, 0xD7, 0xB4]);
        let short: Vec<&[u8]> = vec![&[0x08, 0xD7], kv[1], kv[2]];
        assert!(combine_components_checked(
            Algorithm::Tdes,
            &[&c1, &c2, &c3],
            &short,
            ParityPolicy::Require
        )
        .is_ok());
        // Wrong KCV on component 2.
        let bad: Vec<&[u8]> = vec![kv[0], &[0, 0, 0], kv[2]];
        let e = combine_components_checked(
            Algorithm::Tdes,
            &[&c1, &c2, &c3],
            &bad,
            ParityPolicy::Require,
        )
        .unwrap_err();
        assert_eq!(e.field, "component kcv");
        assert!(e.reason.contains("component 2"));
        // Two odd-parity components: even parity result.
        let e = combine_components_checked(
            Algorithm::Tdes,
            &[&c1, &c2],
            &kv[..2],
            ParityPolicy::Require,
        )
        .unwrap_err();
        assert_eq!(e.field, "combined key");
        let k = combine_components_checked(
            Algorithm::Tdes,
            &[&c1, &c2],
            &kv[..2],
            ParityPolicy::Adjust,
        )
        .unwrap();
        assert!(has_odd_parity(&k));
        // Count and algorithm errors.
        assert_eq!(
            combine_components_checked(Algorithm::Tdes, &[&c1, &c2], &kv, ParityPolicy::Adjust)
                .unwrap_err()
                .field,
            "kcv"
        );
        assert_eq!(
            combine_components_checked(Algorithm::Rsa, &[&c1, &c2], &kv[..2], ParityPolicy::Adjust)
                .unwrap_err()
                .field,
            "algorithm"
        );
        let a32 = [3u8; 32];
        assert_eq!(
            combine_components_checked(
                Algorithm::Tdes,
                &[&a32, &a32],
                &kv[..2],
                ParityPolicy::Adjust
            )
            .unwrap_err()
            .field,
            "components"
        );
    }

    #[test]
    fn checked_aes_components() {
        let c1 = [0x11u8; 32];
        let c2 = [0x22u8; 32];
        let k1 = kcv_aes_cmac(&c1).unwrap();
        let k2 = kcv_aes_cmac(&c2).unwrap();
        // AES keys: parity policy is irrelevant.
        let k = combine_components_checked(
            Algorithm::Aes,
            &[&c1, &c2],
            &[&k1, &k2],
            ParityPolicy::Require,
        )
        .unwrap();
        assert_eq!(*k, [0x33u8; 32]);
        let e = combine_components_checked(
            Algorithm::Aes,
            &[&c1, &c2],
            &[&k2, &k1],
            ParityPolicy::Require,
        )
        .unwrap_err();
        assert_eq!(e.field, "component kcv");
    }
}
