//! AES DUKPT, ANSI X9.24-3:2017 (host side).

use super::{DukptKey, Ksn, AES_INITIAL_KEY_ID_LEN};
use crate::algo::cipher::BlockCipher;
use crate::algo::{AlgoError, AlgoResult};
use zeroize::Zeroize;

/// Key usage indicator of the X9.24-3:2017 derivation data (6.3.2, tables 2 and 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AesDukptUsage {
    /// Key encryption key (`0x0002`); with counter `FFFFFFFF` this is the DUKPT update key.
    KeyEncryption,
    /// PIN encryption (`0x1000`).
    PinEncryption,
    /// MAC generation (`0x2000`).
    MacGeneration,
    /// MAC verification (`0x2001`).
    MacVerification,
    /// MAC generation and verification (`0x2002`).
    MacBoth,
    /// Data encryption, encrypt (`0x3000`).
    DataEncrypt,
    /// Data encryption, decrypt (`0x3001`).
    DataDecrypt,
    /// Data encryption, both ways (`0x3002`).
    DataBoth,
    /// Key derivation (`0x8000`): intermediate derivation keys.
    KeyDerivation,
    /// Initial key derivation (`0x8001`): the initial key from the BDK.
    KeyDerivationInitial,
}

impl AesDukptUsage {
    /// Every usage, in declaration order.
    pub const ALL: [Self; 10] = [
        Self::KeyEncryption,
        Self::PinEncryption,
        Self::MacGeneration,
        Self::MacVerification,
        Self::MacBoth,
        Self::DataEncrypt,
        Self::DataDecrypt,
        Self::DataBoth,
        Self::KeyDerivation,
        Self::KeyDerivationInitial,
    ];

    /// The 2-byte key usage indicator.
    pub fn code(self) -> u16 {
        match self {
            Self::KeyEncryption => 0x0002,
            Self::PinEncryption => 0x1000,
            Self::MacGeneration => 0x2000,
            Self::MacVerification => 0x2001,
            Self::MacBoth => 0x2002,
            Self::DataEncrypt => 0x3000,
            Self::DataDecrypt => 0x3001,
            Self::DataBoth => 0x3002,
            Self::KeyDerivation => 0x8000,
            Self::KeyDerivationInitial => 0x8001,
        }
    }

    /// The usage for a key usage indicator. Errors (field `key usage`): an
    /// indicator X9.24-3:2017 does not define.
    pub fn from_code(code: u16) -> AlgoResult<Self> {
        Self::ALL
            .into_iter()
            .find(|u| u.code() == code)
            .ok_or_else(|| {
                AlgoError::new(
                    "key usage",
                    format!("{code:04X} is not an X9.24-3 key usage"),
                )
            })
    }
}

/// Type of a derived key: its algorithm indicator and length in the
/// X9.24-3:2017 derivation data (6.2.2 / 6.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AesDukptKeyType {
    /// Two-key TDES, 16 bytes (algorithm `0000`, 128 bits).
    Tdes2,
    /// Three-key TDES, 24 bytes (algorithm `0001`, 192 bits).
    Tdes3,
    /// AES-128 (algorithm `0002`).
    Aes128,
    /// AES-192 (algorithm `0003`).
    Aes192,
    /// AES-256 (algorithm `0004`).
    Aes256,
}

impl AesDukptKeyType {
    /// Every key type, in declaration order.
    pub const ALL: [Self; 5] = [
        Self::Tdes2,
        Self::Tdes3,
        Self::Aes128,
        Self::Aes192,
        Self::Aes256,
    ];

    /// The 2-byte algorithm indicator.
    pub fn algorithm_code(self) -> u16 {
        match self {
            Self::Tdes2 => 0,
            Self::Tdes3 => 1,
            Self::Aes128 => 2,
            Self::Aes192 => 3,
            Self::Aes256 => 4,
        }
    }

    /// Key length in bytes (16, 24 or 32).
    pub fn key_len(self) -> usize {
        match self {
            Self::Tdes2 | Self::Aes128 => 16,
            Self::Tdes3 | Self::Aes192 => 24,
            Self::Aes256 => 32,
        }
    }

    /// True for the AES key types.
    pub fn is_aes(self) -> bool {
        !matches!(self, Self::Tdes2 | Self::Tdes3)
    }

    /// The AES type of a derivation key (BDK, initial or intermediate key)
    /// of `len` bytes. Errors name `field`.
    fn of_derivation_key(field: &'static str, len: usize) -> AlgoResult<Self> {
        match len {
            16 => Ok(Self::Aes128),
            24 => Ok(Self::Aes192),
            32 => Ok(Self::Aes256),
            n => Err(AlgoError::new(
                field,
                format!("length {n} bytes, expected 16, 24 or 32 (AES-128/192/256)"),
            )),
        }
    }
}

/// Builds the 16-byte derivation data of X9.24-3:2017 6.3.2 (key block
/// counter left at 1).
fn derivation_data(
    usage: AesDukptUsage,
    key_type: AesDukptKeyType,
    ikid: &[u8; AES_INITIAL_KEY_ID_LEN],
    counter: u32,
) -> [u8; 16] {
    let mut d = [0u8; 16];
    d[0] = 0x01; // version
    d[1] = 0x01; // key block counter
    d[2..4].copy_from_slice(&usage.code().to_be_bytes());
    d[4..6].copy_from_slice(&key_type.algorithm_code().to_be_bytes());
    // key_len() is at most 32, so the bit length fits in u16.
    let bits = (key_type.key_len() * 8) as u16;
    d[6..8].copy_from_slice(&bits.to_be_bytes());
    if usage == AesDukptUsage::KeyDerivationInitial {
        d[8..].copy_from_slice(ikid);
    } else {
        d[8..12].copy_from_slice(&ikid[4..]);
        d[12..].copy_from_slice(&counter.to_be_bytes());
    }
    d
}

/// DeriveKey of X9.24-3:2017 6.3.1: AES-ECB of the derivation data under
/// `key`, one block per 128 bits of output with the block counter counting
/// from 1, truncated to the key type's length. `key` is 16/24/32 bytes
/// (checked by callers; an error names `key` otherwise).
fn derive(key: &[u8], mut data: [u8; 16], key_type: AesDukptKeyType) -> AlgoResult<DukptKey> {
    let cipher = BlockCipher::aes(key)?;
    let mut out = DukptKey::zeroed(key_type.key_len());
    for (i, chunk) in out.as_mut_bytes().chunks_mut(16).enumerate() {
        // At most 2 blocks, so the counter fits in a byte.
        data[1] = (i + 1) as u8;
        let mut block = data;
        cipher.encrypt16(&mut block)?;
        for (d, s) in chunk.iter_mut().zip(block.iter()) {
            *d = *s;
        }
        block.zeroize();
    }
    Ok(out)
}

/// The initial key (IK) of an AES DUKPT device from the BDK (AES-128, -192 or
/// -256) and the KSN's initial key ID (X9.24-3:2017 6.3.1, usage `8001`; the
/// IK has the BDK's type). Any AES KSN works (its counter is ignored).
///
/// Errors: `bdk` not 16/24/32 bytes; `ksn` is a TDES KSN.
pub fn aes_initial_key(bdk: &[u8], ksn: &Ksn) -> AlgoResult<DukptKey> {
    let bdk_type = AesDukptKeyType::of_derivation_key("bdk", bdk.len())?;
    let ikid = ksn.aes_ikid()?;
    let data = derivation_data(AesDukptUsage::KeyDerivationInitial, bdk_type, &ikid, 0);
    derive(bdk, data, bdk_type)
}

/// The derivation key for any 32-bit `counter` from the initial key
/// (X9.24-3:2017 6.1 / 6.4): starting from the IK, for each one-bit of the
/// counter from the most significant, set it in a working counter and derive
/// the next key with usage `8000`. Counter zero gives the IK itself. No
/// one-bit limit is applied, so counter `FFFFFFFF` (the update-key counter)
/// works. Errors: `initial key` not 16/24/32 bytes.
pub fn aes_derivation_key_for_counter(
    initial_key: &[u8],
    initial_key_id: &[u8; AES_INITIAL_KEY_ID_LEN],
    counter: u32,
) -> AlgoResult<DukptKey> {
    let key_type = AesDukptKeyType::of_derivation_key("initial key", initial_key.len())?;
    let mut key = DukptKey::from_slice(initial_key);
    let mut working = 0u32;
    for shift in (0..32).rev() {
        let bit = 1u32 << shift;
        if counter & bit != 0 {
            working |= bit;
            let data = derivation_data(
                AesDukptUsage::KeyDerivation,
                key_type,
                initial_key_id,
                working,
            );
            key = derive(key.as_bytes(), data, key_type)?;
        }
    }
    Ok(key)
}

/// The transaction derivation key for a transaction KSN, from the BDK
/// (initial key, then [`aes_derivation_key_for_counter`] with the KSN's
/// counter). Errors: `bdk` not 16/24/32 bytes; `ksn` is TDES or has a zero
/// counter.
pub fn aes_transaction_derivation_key(bdk: &[u8], ksn: &Ksn) -> AlgoResult<DukptKey> {
    let ikid = ksn.aes_ikid()?;
    ksn.require_transaction()?;
    let ik = aes_initial_key(bdk, ksn)?;
    aes_derivation_key_for_counter(ik.as_bytes(), &ikid, ksn.counter())
}

/// Checks X9.24-3:2017 6.1.3: an AES working key is no longer (stronger)
/// than the key it is derived from. TDES keys (at most 112-bit strength)
/// may come from any AES derivation key.
fn check_strength(key_type: AesDukptKeyType, derivation_len: usize) -> AlgoResult<()> {
    if key_type.is_aes() && key_type.key_len() > derivation_len {
        return Err(AlgoError::new(
            "key type",
            format!(
                "a {}-byte AES working key cannot be derived from a {derivation_len}-byte key \
                 (X9.24-3:2017 6.1.3: no stronger than the derivation key)",
                key_type.key_len()
            ),
        ));
    }
    Ok(())
}

/// The working key of `usage` and `key_type` from the transaction
/// derivation key (X9.24-3:2017 6.3.3: derivation data with the KSN's
/// initial key ID and counter). Errors: `derivation key` not 16/24/32 bytes;
/// `ksn` is TDES or has a zero counter; `key type` is an AES type longer
/// than the derivation key.
pub fn aes_working_key_from_derivation_key(
    derivation_key: &[u8],
    ksn: &Ksn,
    usage: AesDukptUsage,
    key_type: AesDukptKeyType,
) -> AlgoResult<DukptKey> {
    let ikid = ksn.aes_ikid()?;
    ksn.require_transaction()?;
    aes_working_key_for_counter(derivation_key, &ikid, ksn.counter(), usage, key_type)
}

/// The working key of `usage` and `key_type` from a derivation key for a
/// raw initial key ID and counter, with no KSN rules applied (the
/// lower-level twin of [`aes_working_key_from_derivation_key`], for counters
/// a [`Ksn`] refuses, such as more than 16 one-bits). Errors: `derivation
/// key` not 16/24/32 bytes; `key type` is an AES type longer than the
/// derivation key.
pub fn aes_working_key_for_counter(
    derivation_key: &[u8],
    initial_key_id: &[u8; AES_INITIAL_KEY_ID_LEN],
    counter: u32,
    usage: AesDukptUsage,
    key_type: AesDukptKeyType,
) -> AlgoResult<DukptKey> {
    AesDukptKeyType::of_derivation_key("derivation key", derivation_key.len())?;
    check_strength(key_type, derivation_key.len())?;
    derive(
        derivation_key,
        derivation_data(usage, key_type, initial_key_id, counter),
        key_type,
    )
}

/// One call for a host: the AES DUKPT working key of `usage` and `key_type`
/// from the BDK and the transaction KSN. Errors: `bdk` not 16/24/32 bytes;
/// `ksn` is TDES or has a zero counter; `key type` is an AES type longer
/// than the BDK.
pub fn aes_working_key(
    bdk: &[u8],
    ksn: &Ksn,
    usage: AesDukptUsage,
    key_type: AesDukptKeyType,
) -> AlgoResult<DukptKey> {
    AesDukptKeyType::of_derivation_key("bdk", bdk.len())?;
    ksn.aes_ikid()?;
    check_strength(key_type, bdk.len())?;
    let dk = aes_transaction_derivation_key(bdk, ksn)?;
    aes_working_key_from_derivation_key(dk.as_bytes(), ksn, usage, key_type)
}

/// The DUKPT update key (X9.24-3:2017 6.5.3): the derivation key at counter
/// `FFFFFFFF`, then a key-encryption key (usage `0002`) of `key_type` at that
/// counter. Only the KSN's initial key ID is used. Errors: `bdk` not
/// 16/24/32 bytes; `ksn` is TDES; `key type` is an AES type longer than the
/// BDK.
pub fn aes_update_key(bdk: &[u8], ksn: &Ksn, key_type: AesDukptKeyType) -> AlgoResult<DukptKey> {
    AesDukptKeyType::of_derivation_key("bdk", bdk.len())?;
    let ikid = ksn.aes_ikid()?;
    check_strength(key_type, bdk.len())?;
    let ik = aes_initial_key(bdk, ksn)?;
    let dk = aes_derivation_key_for_counter(ik.as_bytes(), &ikid, u32::MAX)?;
    aes_working_key_for_counter(
        dk.as_bytes(),
        &ikid,
        u32::MAX,
        AesDukptUsage::KeyEncryption,
        key_type,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bdk128() -> Vec<u8> {
        hex::decode("FEDCBA9876543210F1F1F1F1F1F1F1F1").unwrap()
    }

    // X9.24-3:2017 supplement, AES-128 BDK (shared vectors, kind aes_dukpt_initial_key).
    #[test]
    fn initial_key_known_answer() {
        let ksn = Ksn::parse_initial_hex("1234567890123456").unwrap();
        let ik = aes_initial_key(&bdk128(), &ksn).unwrap();
        assert_eq!(
            hex::encode_upper(ik.as_bytes()),
            "1273671EA26AC29AFA4D1084127652A1"
        );
    }

    #[test]
    fn derivation_data_layout() {
        let ikid = [0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56];
        let d = derivation_data(
            AesDukptUsage::PinEncryption,
            AesDukptKeyType::Aes256,
            &ikid,
            5,
        );
        // version 01, block 01, usage 1000, algorithm 0004, 0100 bits, IKID right half, counter.
        assert_eq!(hex::encode_upper(d), "01011000000401009012345600000005");
        let d = derivation_data(
            AesDukptUsage::KeyDerivationInitial,
            AesDukptKeyType::Aes128,
            &ikid,
            9,
        );
        assert_eq!(hex::encode_upper(d), "01018001000200801234567890123456");
    }

    #[test]
    fn usage_codes_round_trip() {
        for u in AesDukptUsage::ALL {
            assert_eq!(AesDukptUsage::from_code(u.code()).unwrap(), u);
        }
        assert_eq!(
            AesDukptUsage::from_code(0x4000).unwrap_err().field,
            "key usage"
        );
    }

    #[test]
    fn errors_name_the_field() {
        let ksn = Ksn::parse_hex("123456789012345600000001").unwrap();
        let use_ = AesDukptUsage::PinEncryption;
        let t = AesDukptKeyType::Aes128;
        assert_eq!(
            aes_working_key(&[0u8; 20], &ksn, use_, t)
                .unwrap_err()
                .field,
            "bdk"
        );
        assert_eq!(aes_initial_key(&[0u8; 8], &ksn).unwrap_err().field, "bdk");
        let tdes = Ksn::parse_hex("FFFF9876543210E00001").unwrap();
        assert_eq!(
            aes_working_key(&bdk128(), &tdes, use_, t)
                .unwrap_err()
                .field,
            "ksn"
        );
        assert_eq!(
            aes_update_key(&bdk128(), &tdes, t).unwrap_err().field,
            "ksn"
        );
        let initial = ksn.initial();
        assert_eq!(
            aes_working_key(&bdk128(), &initial, use_, t)
                .unwrap_err()
                .field,
            "ksn"
        );
        assert!(aes_update_key(&bdk128(), &initial, t).is_ok());
        let e = aes_working_key(&bdk128(), &ksn, use_, AesDukptKeyType::Aes256).unwrap_err();
        assert_eq!(e.field, "key type");
        assert_eq!(
            aes_working_key_from_derivation_key(&[0u8; 16], &ksn, use_, AesDukptKeyType::Aes192)
                .unwrap_err()
                .field,
            "key type"
        );
        assert!(aes_working_key(&bdk128(), &ksn, use_, AesDukptKeyType::Tdes3).is_ok());
        assert_eq!(
            aes_derivation_key_for_counter(&[0u8; 15], &[0u8; 8], 1)
                .unwrap_err()
                .field,
            "initial key"
        );
        assert_eq!(
            aes_working_key_from_derivation_key(&[0u8; 12], &ksn, use_, t)
                .unwrap_err()
                .field,
            "derivation key"
        );
    }

    #[test]
    fn counter_zero_is_the_initial_key() {
        let ik = [9u8; 16];
        let k = aes_derivation_key_for_counter(&ik, &[1u8; 8], 0).unwrap();
        assert_eq!(k.as_bytes(), &ik);
        let k1 = aes_derivation_key_for_counter(&ik, &[1u8; 8], 1).unwrap();
        assert_ne!(k1.as_bytes(), &ik);
    }
}
