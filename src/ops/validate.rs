//! The request-shape rules that do not depend on a key, written once.
//!
//! Values that can be checked alone are newtypes ([`Pan`](crate::Pan),
//! [`Cvv`](crate::Cvv), [`ProprietaryAuthData`](crate::types::ProprietaryAuthData),
//! [`Ksn`](crate::Ksn), …): a malformed one cannot be constructed. What
//! relates several fields of a request (a PIN block's length and its format,
//! data length and padding, a TDES KSN and the working-key type) is checked
//! by [`Request::validate`], which every backend calls before anything else,
//! so every backend refuses the same malformed request with the same
//! [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) and message.
//! Rules that need the key's attributes live in the crate's `rules` module.

use super::pindata::PinVerification;
use super::types::*;
use super::Request;
use crate::algo::pinblock::check_translation;
use crate::error::{Error, Result};
use crate::types::{KeyAlgorithm, PinBlockFormat};

/// Longest MAC any supported algorithm gives (HMAC-SHA-512).
pub const MAX_MAC_LEN: usize = 64;
/// Shortest MAC accepted (ISO 9797-1 and AWS: 4 bytes).
pub const MIN_MAC_LEN: usize = 4;

impl Request {
    /// Checks the rules between this request's fields that do not depend on
    /// a key. Backends call it first; callers may call it early. Errors are
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the field.
    pub fn validate(&self) -> Result<()> {
        match self {
            Request::TranslatePin(r) => {
                check_translation(r.incoming_format, r.outgoing_format)?;
                check_block_len(r.incoming_format, r.pin_block.as_bytes().len())?;
                if let PinKey::Dukpt(d) = &r.incoming_key {
                    check_dukpt(d)?;
                }
                Ok(())
            }
            Request::EncryptData(r) => {
                check_data_key(&r.key)?;
                check_cipher_input("plaintext", r.plaintext.len(), &r.mode)
            }
            Request::DecryptData(r) => {
                check_data_key(&r.key)?;
                check_cipher_input("ciphertext", r.ciphertext.len(), &r.mode)
            }
            Request::ReEncryptData(r) => {
                check_data_key(&r.incoming_key)?;
                check_data_key(&r.outgoing_key)?;
                check_cipher_input("ciphertext", r.ciphertext.len(), &r.incoming_mode)?;
                if let CipherMode::Cbc { iv } = &r.outgoing_mode {
                    if iv.len() != 8 && iv.len() != 16 {
                        return Err(Error::invalid(
                            "outgoing iv",
                            format!("{} bytes; one cipher block (8 TDES, 16 AES)", iv.len()),
                        ));
                    }
                }
                Ok(())
            }
            Request::VerifyArqc(r) => check_ac_data(r.padding, r.transaction_data.len()),
            Request::GenerateArqc(r) => check_ac_data(r.padding, r.transaction_data.len()),
            Request::GenerateMac(r) => {
                check_mac_data(r.algorithm, r.data.len())?;
                match r.mac_length {
                    Some(n) if !(MIN_MAC_LEN..=max_mac_len(r.algorithm)).contains(&n) => {
                        Err(Error::invalid(
                            "mac length",
                            format!(
                                "must be {MIN_MAC_LEN} to {} bytes for this algorithm",
                                max_mac_len(r.algorithm)
                            ),
                        ))
                    }
                    _ => Ok(()),
                }
            }
            Request::GeneratePinData(r) => {
                check_pin_data_format(r.format)?;
                if let Some(b) = r.method.incoming_block() {
                    check_block_len(r.format, b.as_bytes().len())?;
                }
                Ok(())
            }
            Request::VerifyPinData(r) => {
                check_pin_data_format(r.format)?;
                check_block_len(r.format, r.pin_block.as_bytes().len())?;
                if let PinKey::Dukpt(d) = &r.pin_key {
                    check_dukpt(d)?;
                }
                if let (Some(n), PinVerification::Ibm3624 { offset, .. }) =
                    (r.pin_length, &r.method)
                {
                    if n.get() < offset.len() {
                        return Err(Error::invalid(
                            "pin length",
                            "shorter than the PIN offset (the PIN check length)",
                        ));
                    }
                }
                Ok(())
            }
            Request::VerifyMac(r) => {
                check_mac_data(r.algorithm, r.data.len())?;
                if !(MIN_MAC_LEN..=max_mac_len(r.algorithm)).contains(&r.mac.len()) {
                    return Err(Error::invalid(
                        "mac",
                        format!(
                            "must be {MIN_MAC_LEN} to {} bytes for this algorithm",
                            max_mac_len(r.algorithm)
                        ),
                    ));
                }
                Ok(())
            }
            Request::ImportKey(r) => match &r.material {
                KeyMaterial::Tr34(t) => {
                    if t.key_block.is_empty() || t.key_block.len() > MAX_TR34_BLOCK {
                        return Err(Error::invalid(
                            "tr34 key block",
                            format!("{} bytes; must be 1 to {MAX_TR34_BLOCK}", t.key_block.len()),
                        ));
                    }
                    check_nonce(t.random_nonce.as_deref())
                }
                KeyMaterial::RootCertificate { attributes, .. }
                | KeyMaterial::TrustedCertificate { attributes, .. } => {
                    if attributes.algorithm.is_symmetric() {
                        return Err(Error::invalid(
                            "key algorithm",
                            "a certificate's public key is RSA or ECC",
                        ));
                    }
                    attributes.validate()
                }
                KeyMaterial::Ecdh { params, key_block } => {
                    if key_block.is_empty() {
                        return Err(Error::invalid("key block", "is empty"));
                    }
                    check_ecdh(params)
                }
                _ => Ok(()),
            },
            Request::ExportKey(r) => match &r.method {
                ExportMethod::Tr34(t) => check_nonce(t.random_nonce.as_deref()),
                ExportMethod::Ecdh(p) => check_ecdh(p),
                ExportMethod::Tr31 { .. } => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

/// Longest TR-34 block AWS takes (`Tr34WrappedKeyBlock`: 4096 hex digits).
pub const MAX_TR34_BLOCK: usize = 2048;

/// A TR-34 random nonce: 8 to 16 bytes (AWS `EvenHexLengthBetween16And32`).
fn check_nonce(nonce: Option<&[u8]>) -> Result<()> {
    match nonce {
        Some(n) if !(8..=16).contains(&n.len()) => Err(Error::invalid(
            "random nonce",
            format!("{} bytes; must be 8 to 16", n.len()),
        )),
        _ => Ok(()),
    }
}

/// ECDH parameters: the derived key protects a TR-31 block (TDES or AES);
/// shared information of 1 to 1024 bytes (AWS `SharedInformation`: 2 to
/// 2048 hex digits).
fn check_ecdh(p: &EcdhParameters) -> Result<()> {
    if !(p.derive_key_algorithm.is_tdes() || p.derive_key_algorithm.is_aes()) {
        return Err(Error::invalid(
            "derive key algorithm",
            format!(
                "{}; the derived key protects a TR-31 block (TDES or AES)",
                p.derive_key_algorithm.aws_name()
            ),
        ));
    }
    if !(1..=1024).contains(&p.shared_information.len()) {
        return Err(Error::invalid(
            "shared information",
            format!("{} bytes; must be 1 to 1024", p.shared_information.len()),
        ));
    }
    Ok(())
}

/// The longest MAC `alg` gives for some key: a cipher block for ISO 9797-1
/// algorithm 1 and CMAC (16 with AES, 8 with TDES; the key decides), 8 for
/// algorithm 3 (TDES only), the hash's output for HMAC (28, 32, 48, 64).
pub fn max_mac_len(alg: MacAlgorithm) -> usize {
    match alg {
        MacAlgorithm::Iso9797Alg3(_) => 8,
        MacAlgorithm::Iso9797Alg1(_) | MacAlgorithm::Cmac => 16,
        MacAlgorithm::HmacSha224 => 28,
        MacAlgorithm::HmacSha256 => 32,
        MacAlgorithm::HmacSha384 => 48,
        MacAlgorithm::HmacSha512 => MAX_MAC_LEN,
    }
}

fn check_block_len(format: PinBlockFormat, len: usize) -> Result<()> {
    if len == format.block_len() {
        Ok(())
    } else {
        Err(Error::invalid(
            "pin block",
            format!(
                "{len} bytes; ISO format {} blocks are {} bytes",
                format.code(),
                format.block_len()
            ),
        ))
    }
}

/// PIN data travels in ISO formats 0, 1, 3 and 4; format 2 is for ICC
/// offline PIN only (ISO 9564-1).
fn check_pin_data_format(format: PinBlockFormat) -> Result<()> {
    if format == PinBlockFormat::Iso2 {
        return Err(Error::invalid(
            "format",
            "ISO format 2 is for ICC offline PIN only, not for issuer PIN data",
        ));
    }
    Ok(())
}

/// A DUKPT derivation: HMAC is no working-key type; TDES DUKPT (a 10-byte
/// KSN) derives double-length TDES keys only.
fn check_dukpt(d: &Dukpt) -> Result<()> {
    if !(d.key_type.is_tdes() || d.key_type.is_aes()) {
        return Err(Error::invalid(
            "dukpt key type",
            "HMAC and asymmetric algorithms are not DUKPT working key types",
        ));
    }
    if !d.ksn.is_aes() && d.key_type != KeyAlgorithm::Tdes2 {
        return Err(Error::invalid(
            "dukpt key type",
            "TDES DUKPT (X9.24-1) derives double-length TDES keys only",
        ));
    }
    Ok(())
}

fn check_data_key(k: &DataKey) -> Result<()> {
    match k {
        DataKey::Dukpt { dukpt, .. } => check_dukpt(dukpt),
        DataKey::Key(_) => Ok(()),
    }
}

/// Data for a block cipher without padding: a positive multiple of 8 bytes
/// (the AES block of 16 is checked with the key); a CBC IV of one block.
fn check_cipher_input(field: &'static str, len: usize, mode: &CipherMode) -> Result<()> {
    if len == 0 || !len.is_multiple_of(8) {
        return Err(Error::invalid(
            field,
            format!("{len} bytes; must be a positive multiple of the cipher block"),
        ));
    }
    if let CipherMode::Cbc { iv } = mode {
        if iv.len() != 8 && iv.len() != 16 {
            return Err(Error::invalid(
                "iv",
                format!("{} bytes; one cipher block (8 TDES, 16 AES)", iv.len()),
            ));
        }
    }
    Ok(())
}

/// Application-cryptogram data without padding: whole 8-byte blocks (the
/// MAC is computed over the data as given).
fn check_ac_data(padding: Iso9797Padding, len: usize) -> Result<()> {
    if padding == Iso9797Padding::None && (len == 0 || !len.is_multiple_of(8)) {
        return Err(Error::invalid(
            "transaction data",
            "must be a positive multiple of 8 bytes without padding",
        ));
    }
    Ok(())
}

/// ISO 9797-1 without padding needs whole 8-byte blocks.
fn check_mac_data(alg: MacAlgorithm, len: usize) -> Result<()> {
    match alg {
        MacAlgorithm::Iso9797Alg1(Iso9797Padding::None)
        | MacAlgorithm::Iso9797Alg3(Iso9797Padding::None)
            if len == 0 || !len.is_multiple_of(8) =>
        {
            Err(Error::invalid(
                "data",
                "must be a positive multiple of 8 bytes without padding",
            ))
        }
        _ => Ok(()),
    }
}
