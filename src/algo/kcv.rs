//! Key check values, by algorithm and method: the one place a KCV is computed.
//!
//! - `ANSI_X9_24` (ANSI X9.24-1): encrypt a zero block with the TDES key,
//!   leftmost 3 bytes.
//! - `CMAC` (X9.24-3, AWS `CMAC`): CMAC of one zero block (AES, or TDES when
//!   asked for), leftmost 3 bytes.
//! - `HMAC` (AWS `HMAC`): HMAC of the empty message with the key's hash
//!   (SHA-224/256/384/512), leftmost 3 bytes. AWS documents `HMAC` as a KCV
//!   algorithm without saying which hash or message; HMAC-SHA-256 of the
//!   empty message is this crate's choice for SHA-256 keys, the key's own
//!   hash the same choice for the others.
//!
//! The default method per algorithm is the one AWS Payment Cryptography
//! uses: ANSI X9.24 for TDES, CMAC for AES, HMAC for HMAC keys.

use super::cipher::{kcv_aes_cmac, kcv_tdes, BlockCipher};
use super::mac::{cmac, hmac, HmacHash};
use super::{AlgoError, AlgoResult};
use crate::types::{Kcv, KeyAlgorithm};

/// How a key check value is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KcvMethod {
    /// ANSI X9.24-1: TDES encryption of a zero block (TDES keys only).
    AnsiX924,
    /// CMAC of a zero block (AES or TDES keys).
    Cmac,
    /// HMAC of the empty message with the key's hash (HMAC keys only).
    Hmac,
}

impl KcvMethod {
    /// The method AWS Payment Cryptography uses by default for `alg`.
    pub fn default_for(alg: KeyAlgorithm) -> Self {
        if alg.is_tdes() {
            Self::AnsiX924
        } else if alg.is_aes() {
            Self::Cmac
        } else {
            Self::Hmac
        }
    }

    /// The AWS `KeyCheckValueAlgorithm` value.
    pub fn aws_name(self) -> &'static str {
        match self {
            Self::AnsiX924 => "ANSI_X9_24",
            Self::Cmac => "CMAC",
            Self::Hmac => "HMAC",
        }
    }

    /// From an AWS `KeyCheckValueAlgorithm` value (`None` when unknown).
    pub fn from_aws_name(name: &str) -> Option<Self> {
        [Self::AnsiX924, Self::Cmac, Self::Hmac]
            .into_iter()
            .find(|m| m.aws_name() == name)
    }

    /// A one-line description, for people.
    pub fn description(self) -> &'static str {
        match self {
            Self::AnsiX924 => "ANSI X9.24 (encrypt a zero block)",
            Self::Cmac => "CMAC of a zero block",
            Self::Hmac => "HMAC (the key's hash) of the empty message",
        }
    }

    /// True when the method applies to keys of `alg`.
    pub fn applies_to(self, alg: KeyAlgorithm) -> bool {
        match self {
            Self::AnsiX924 => alg.is_tdes(),
            Self::Cmac => alg.is_tdes() || alg.is_aes(),
            Self::Hmac => alg.is_hmac(),
        }
    }
}

/// The KCV of `key` (an `alg` key) by `method`. Errors (`key`): the key does
/// not fit the algorithm; (`kcv method`): the method does not apply to `alg`.
pub fn kcv_with(alg: KeyAlgorithm, method: KcvMethod, key: &[u8]) -> AlgoResult<Kcv> {
    if !method.applies_to(alg) {
        return Err(AlgoError::new(
            "kcv method",
            format!("{} does not apply to {}", method.aws_name(), alg.aws_name()),
        ));
    }
    let first3 = |t: &[u8]| -> AlgoResult<[u8; 3]> {
        match t {
            [a, b, c, ..] => Ok([*a, *b, *c]),
            _ => Err(AlgoError::new("key", "check value too short")),
        }
    };
    let b = match method {
        KcvMethod::AnsiX924 => kcv_tdes(key)?,
        KcvMethod::Cmac if alg.is_aes() => kcv_aes_cmac(key)?,
        KcvMethod::Cmac => first3(cmac(&BlockCipher::tdes(key)?, &[0u8; 8]).as_bytes())?,
        KcvMethod::Hmac => {
            if key.len() != alg.key_len() {
                return Err(AlgoError::new(
                    "key",
                    format!("length {} bytes, expected {}", key.len(), alg.key_len()),
                ));
            }
            let hash = HmacHash::of_key(alg)
                .ok_or_else(|| AlgoError::new("kcv method", "not an HMAC key"))?;
            first3(hmac(hash, key, &[])?.as_bytes())?
        }
    };
    Ok(Kcv(b))
}

/// The KCV of `key` by the default method for `alg` ([`KcvMethod::default_for`]).
pub fn key_check_value(alg: KeyAlgorithm, key: &[u8]) -> AlgoResult<Kcv> {
    kcv_with(alg, KcvMethod::default_for(alg), key)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Source: shared vectors kind "kcv" (thalessimulatorlibrary AW): 08D7B4.
    #[test]
    fn default_methods() {
        let tdes = hex::decode("0123456789ABCDEFFEDCBA9876543210").unwrap();
        assert_eq!(
            key_check_value(KeyAlgorithm::Tdes2, &tdes)
                .unwrap()
                .to_string(),
            "08D7B4"
        );
        assert_eq!(
            KcvMethod::default_for(KeyAlgorithm::Aes128),
            KcvMethod::Cmac
        );
        assert!(kcv_with(KeyAlgorithm::Aes128, KcvMethod::AnsiX924, &[0; 16]).is_err());
        assert!(key_check_value(KeyAlgorithm::HmacSha256, &[0; 16]).is_err());
        assert_eq!(KcvMethod::from_aws_name("CMAC"), Some(KcvMethod::Cmac));
        assert_eq!(KcvMethod::from_aws_name("SHA_1"), None);
    }
}
