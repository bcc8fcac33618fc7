//! TDES DUKPT, ANSI X9.24-1:2009 (host side).

use super::{Ksn, TDES_COUNTER_MASK};
use crate::algo::cipher::{xor_into, BlockCipher};
use crate::algo::{AlgoError, AlgoResult};
use zeroize::{Zeroize, Zeroizing};

/// The key-register mask of X9.24-1:2009 (IPEK right half and step 4 of the
/// non-reversible key generation process).
const KEY_MASK: [u8; 16] = [
    0xC0, 0xC0, 0xC0, 0xC0, 0, 0, 0, 0, 0xC0, 0xC0, 0xC0, 0xC0, 0, 0, 0, 0,
];

/// What a TDES DUKPT working key is for (X9.24-1:2009 A.6 key variants).
///
/// Each usage XORs the transaction key with a variant mask. The two data
/// usages without `Variant` additionally encrypt that variant key under
/// itself (X9.24-1:2009 figure A-2), which is the data encryption key
/// HSMs and AWS Payment Cryptography use for request / response data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TdesDukptUsage {
    /// PIN encryption key (mask `00000000000000FF` in each half).
    Pin,
    /// MAC key, request direction (mask `000000000000FF00`).
    MacRequest,
    /// MAC key, response direction (mask `00000000FF000000`).
    MacResponse,
    /// Data key variant, request direction (mask `0000000000FF0000`), not encrypted.
    DataRequestVariant,
    /// Data key variant, response direction (mask `000000FF00000000`), not encrypted.
    DataResponseVariant,
    /// Data encryption key, request direction: the request variant encrypted under itself.
    DataRequest,
    /// Data encryption key, response direction: the response variant encrypted under itself.
    DataResponse,
}

impl TdesDukptUsage {
    /// Every usage, in declaration order.
    pub const ALL: [Self; 7] = [
        Self::Pin,
        Self::MacRequest,
        Self::MacResponse,
        Self::DataRequestVariant,
        Self::DataResponseVariant,
        Self::DataRequest,
        Self::DataResponse,
    ];

    /// The 16-byte variant mask XORed into the transaction key.
    pub fn variant_mask(self) -> [u8; 16] {
        let byte = match self {
            Self::Pin => 7,
            Self::MacRequest => 6,
            Self::MacResponse => 4,
            Self::DataRequestVariant | Self::DataRequest => 5,
            Self::DataResponseVariant | Self::DataResponse => 3,
        };
        let mut m = [0u8; 16];
        m[byte] = 0xFF;
        m[byte + 8] = 0xFF;
        m
    }

    /// True for [`Self::DataRequest`] and [`Self::DataResponse`], whose
    /// variant key is then encrypted under itself.
    pub fn is_encrypted_data_key(self) -> bool {
        matches!(self, Self::DataRequest | Self::DataResponse)
    }
}

/// Copies a 16-byte key from `key`, or errors naming `field`.
fn key16(field: &'static str, key: &[u8]) -> AlgoResult<Zeroizing<[u8; 16]>> {
    <[u8; 16]>::try_from(key).map(Zeroizing::new).map_err(|_| {
        AlgoError::new(
            field,
            format!(
                "length {} bytes, expected 16 (double-length TDES key; X9.24-1:2009 defines no other)",
                key.len()
            ),
        )
    })
}

/// TDES-encrypts one 8-byte block under a 16-byte key (or DES under an 8-byte key).
fn encrypt_block(key: &[u8], block: &mut [u8; 8]) -> AlgoResult<()> {
    BlockCipher::tdes(key)?.encrypt8(block)
}

/// Initial PIN encryption key (IPEK) from a double-length BDK and a KSN
/// (X9.24-1:2009 A.6): the KSN with its counter cleared, leftmost 8 bytes,
/// TDES-encrypted under the BDK (left half) and under the BDK XOR
/// `C0C0C0C000000000C0C0C0C000000000` (right half).
///
/// Any TDES KSN works (its counter is ignored). Errors: `bdk` not 16 bytes
/// (a 24-byte BDK is not defined by X9.24-1:2009); `ksn` is an AES KSN.
pub fn tdes_ipek(bdk: &[u8], ksn: &Ksn) -> AlgoResult<Zeroizing<[u8; 16]>> {
    let bdk = key16("bdk", bdk)?;
    let initial = ksn.initial();
    let bytes = initial.tdes_bytes()?;
    let mut reg = [0u8; 8];
    reg.copy_from_slice(&bytes[..8]);
    let mut ipek = Zeroizing::new([0u8; 16]);
    let mut left = reg;
    encrypt_block(bdk.as_slice(), &mut left)?;
    let mut masked = bdk.clone();
    xor_into(masked.as_mut_slice(), &KEY_MASK);
    let mut right = reg;
    encrypt_block(masked.as_slice(), &mut right)?;
    ipek[..8].copy_from_slice(&left);
    ipek[8..].copy_from_slice(&right);
    left.zeroize();
    right.zeroize();
    Ok(ipek)
}

/// The non-reversible key generation process of X9.24-1:2009 A.2: replaces
/// `key` by the future key for crypto register-1 = `reg`.
fn non_reversible(key: &mut [u8; 16], reg: &[u8; 8]) -> AlgoResult<()> {
    fn half(key: &[u8; 16], reg: &[u8; 8]) -> AlgoResult<[u8; 8]> {
        let mut out = *reg;
        xor_into(&mut out, &key[8..]);
        encrypt_block(&key[..8], &mut out)?;
        xor_into(&mut out, &key[8..]);
        Ok(out)
    }
    let mut right = half(key, reg)?;
    xor_into(key, &KEY_MASK);
    let mut left = half(key, reg)?;
    key[..8].copy_from_slice(&left);
    key[8..].copy_from_slice(&right);
    left.zeroize();
    right.zeroize();
    Ok(())
}

/// The current transaction key for `ksn` from the IPEK (X9.24-1:2009 A.6,
/// host algorithm): starting from the IPEK, for each one-bit of the 21-bit
/// counter from the most significant, set it in the KSN register and apply
/// the non-reversible key generation process.
///
/// Errors: `ipek` not 16 bytes; `ksn` is AES or has a zero counter.
pub fn tdes_transaction_key_from_ipek(ipek: &[u8], ksn: &Ksn) -> AlgoResult<Zeroizing<[u8; 16]>> {
    let mut key = key16("ipek", ipek)?;
    let k = ksn.tdes_bytes()?;
    ksn.require_transaction()?;
    let counter = ksn.counter();
    let mut rightmost = [0u8; 8];
    rightmost.copy_from_slice(&k[2..]);
    let mut reg = u64::from_be_bytes(rightmost) & !u64::from(TDES_COUNTER_MASK);
    for shift in (0..21).rev() {
        let bit = 1u32 << shift;
        if counter & bit != 0 {
            reg |= u64::from(bit);
            non_reversible(&mut key, &reg.to_be_bytes())?;
        }
    }
    Ok(key)
}

/// The current transaction key for `ksn` from the BDK (IPEK, then
/// [`tdes_transaction_key_from_ipek`]). Errors as those two.
pub fn tdes_transaction_key(bdk: &[u8], ksn: &Ksn) -> AlgoResult<Zeroizing<[u8; 16]>> {
    ksn.tdes_bytes()?;
    ksn.require_transaction()?;
    let ipek = tdes_ipek(bdk, ksn)?;
    tdes_transaction_key_from_ipek(ipek.as_slice(), ksn)
}

/// The variant key: `transaction_key` XOR the usage's variant mask only (for
/// the data usages this is the un-encrypted variant, whatever the usage's
/// `Variant` suffix). Errors: `transaction key` not 16 bytes.
pub fn tdes_variant_key(
    transaction_key: &[u8],
    usage: TdesDukptUsage,
) -> AlgoResult<Zeroizing<[u8; 16]>> {
    let mut key = key16("transaction key", transaction_key)?;
    xor_into(key.as_mut_slice(), &usage.variant_mask());
    Ok(key)
}

/// The data encryption key from a data variant key: each 8-byte half of the
/// variant key TDES-encrypted under the variant key itself (X9.24-1:2009
/// figure A-2). Errors: `variant key` not 16 bytes.
pub fn tdes_data_encryption_key(variant_key: &[u8]) -> AlgoResult<Zeroizing<[u8; 16]>> {
    let mut key = key16("variant key", variant_key)?;
    BlockCipher::tdes(variant_key)?.encrypt_ecb(key.as_mut_slice())?;
    Ok(key)
}

/// The working key for `usage` from the current transaction key: the
/// variant, encrypted under itself for [`TdesDukptUsage::DataRequest`] and
/// [`TdesDukptUsage::DataResponse`]. Errors: `transaction key` not 16 bytes.
pub fn tdes_working_key_from_transaction_key(
    transaction_key: &[u8],
    usage: TdesDukptUsage,
) -> AlgoResult<Zeroizing<[u8; 16]>> {
    let variant = tdes_variant_key(transaction_key, usage)?;
    if usage.is_encrypted_data_key() {
        tdes_data_encryption_key(variant.as_slice())
    } else {
        Ok(variant)
    }
}

/// One call for a host: the TDES DUKPT working key for `usage` from the BDK
/// and the transaction KSN. Errors: `bdk` not 16 bytes; `ksn` is AES or has
/// a zero counter.
pub fn tdes_working_key(
    bdk: &[u8],
    ksn: &Ksn,
    usage: TdesDukptUsage,
) -> AlgoResult<Zeroizing<[u8; 16]>> {
    let tk = tdes_transaction_key(bdk, ksn)?;
    tdes_working_key_from_transaction_key(tk.as_slice(), usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BDK: &str = "0123456789ABCDEFFEDCBA9876543210";

    fn bdk() -> Vec<u8> {
        hex::decode(BDK).unwrap()
    }

    // X9.24-1:2009 A.4 (shared vectors, kind tdes_dukpt_ipek / tdes_dukpt_transaction).
    #[test]
    fn ipek_and_first_key() {
        let ksn = Ksn::parse_hex("FFFF9876543210E00001").unwrap();
        let ipek = tdes_ipek(&bdk(), &ksn).unwrap();
        assert_eq!(
            hex::encode_upper(ipek.as_slice()),
            "6AC292FAA1315B4D858AB3A3D7D5933A"
        );
        let tk = tdes_transaction_key(&bdk(), &ksn).unwrap();
        assert_eq!(
            hex::encode_upper(tk.as_slice()),
            "042666B49184CFA368DE9628D0397BC9"
        );
    }

    #[test]
    fn errors_name_the_field() {
        let ksn = Ksn::parse_hex("FFFF9876543210E00001").unwrap();
        assert_eq!(tdes_ipek(&[0u8; 24], &ksn).unwrap_err().field, "bdk");
        assert_eq!(tdes_ipek(&[0u8; 8], &ksn).unwrap_err().field, "bdk");
        assert_eq!(
            tdes_transaction_key_from_ipek(&[0u8; 15], &ksn)
                .unwrap_err()
                .field,
            "ipek"
        );
        let aes = Ksn::parse_hex("123456789012345600000001").unwrap();
        assert_eq!(tdes_ipek(&bdk(), &aes).unwrap_err().field, "ksn");
        assert_eq!(
            tdes_working_key(&bdk(), &aes, TdesDukptUsage::Pin)
                .unwrap_err()
                .field,
            "ksn"
        );
        let initial = ksn.initial();
        assert!(tdes_ipek(&bdk(), &initial).is_ok());
        assert_eq!(
            tdes_transaction_key(&bdk(), &initial).unwrap_err().field,
            "ksn"
        );
        assert_eq!(
            tdes_variant_key(&[0u8; 17], TdesDukptUsage::Pin)
                .unwrap_err()
                .field,
            "transaction key"
        );
        assert_eq!(
            tdes_data_encryption_key(&[0u8; 1]).unwrap_err().field,
            "variant key"
        );
        let e = tdes_ipek(&[7u8; 24], &ksn).unwrap_err().to_string();
        assert!(!e.contains("0707"), "no key bytes in errors: {e}");
    }

    #[test]
    fn masks_are_distinct_and_symmetric() {
        let masks: Vec<_> = TdesDukptUsage::ALL
            .iter()
            .map(|u| u.variant_mask())
            .collect();
        for m in &masks {
            assert_eq!(m[..8], m[8..]);
            assert_eq!(m.iter().filter(|b| **b == 0xFF).count(), 2);
        }
        assert_eq!(masks[3], masks[5]);
        assert_eq!(masks[4], masks[6]);
    }
}
