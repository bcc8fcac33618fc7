//! DUKPT (Derived Unique Key Per Transaction) key derivation, host side.
//!
//! - TDES DUKPT per ANSI X9.24-1:2009 (double-length BDK, 10-byte KSN with a
//!   21-bit transaction counter): IPEK, current transaction key and the
//!   PIN / MAC / data working-key variants ([`tdes_working_key`]).
//! - AES DUKPT per ANSI X9.24-3:2017 (AES-128/192/256 BDK, 12-byte KSN with an
//!   8-byte initial key ID and a 32-bit counter): initial key, transaction
//!   derivation key, working keys of every key usage and type, and the DUKPT
//!   update key ([`aes_working_key`]).
//!
//! Every function is pure: bytes in, keys out. Derived keys are secret and are
//! returned in [`zeroize::Zeroizing`] or in [`DukptKey`], which wipes itself on
//! drop and never prints its bytes. A [`Ksn`] is not secret.

mod aes;
mod tdes;

pub use aes::{
    aes_derivation_key_for_counter, aes_initial_key, aes_transaction_derivation_key,
    aes_update_key, aes_working_key, aes_working_key_for_counter,
    aes_working_key_from_derivation_key, AesDukptKeyType, AesDukptUsage,
};
pub use tdes::{
    tdes_data_encryption_key, tdes_ipek, tdes_transaction_key, tdes_transaction_key_from_ipek,
    tdes_variant_key, tdes_working_key, tdes_working_key_from_transaction_key, TdesDukptUsage,
};

use zeroize::{Zeroize, ZeroizeOnDrop};

pub(crate) use crate::types::ksn::TDES_COUNTER_MASK;
pub use crate::types::ksn::{Ksn, AES_INITIAL_KEY_ID_LEN, AES_KSN_LEN, TDES_KSN_LEN};

/// A derived DUKPT key of 16, 24 or 32 bytes (AES DUKPT keys of any type, or
/// TDES keys derived by AES DUKPT). Fixed storage, no allocation; wiped on
/// drop; `Debug` prints only the length.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DukptKey {
    bytes: [u8; 32],
    len: usize,
}

impl DukptKey {
    /// An all-zero key of `len` bytes (`len` ≤ 32, guaranteed by callers).
    fn zeroed(len: usize) -> Self {
        Self {
            bytes: [0u8; 32],
            len: len.min(32),
        }
    }

    /// A copy of `key` (16, 24 or 32 bytes, checked by callers).
    fn from_slice(key: &[u8]) -> Self {
        let mut k = Self::zeroed(key.len());
        for (d, s) in k.bytes.iter_mut().zip(key) {
            *d = *s;
        }
        k
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    fn as_mut_bytes(&mut self) -> &mut [u8] {
        self.bytes.get_mut(..self.len).unwrap_or(&mut [])
    }
}

impl std::fmt::Debug for DukptKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DukptKey({} bytes, ***)", self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tdes_and_aes() {
        let k = Ksn::parse_hex("FFFF9876543210E00001").unwrap();
        assert!(!k.is_aes());
        assert_eq!(k.counter(), 1);
        assert_eq!(k.initial().to_hex(), "FFFF9876543210E00000");
        assert_eq!(k.initial_key_id(), None);
        assert_eq!(format!("{k:?}"), "Ksn(FFFF9876543210E00001)");
        let a = Ksn::parse_hex("123456789012345600000001").unwrap();
        assert!(a.is_aes());
        assert_eq!(a.counter(), 1);
        assert_eq!(
            a.initial_key_id(),
            Some([0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56])
        );
        assert_eq!(a.initial().to_hex(), "123456789012345600000000");
        assert_eq!("ffff9876543210e00003".parse::<Ksn>().unwrap().counter(), 3);
        // The device-ID bits above the counter stay out of the counter.
        assert_eq!(
            Ksn::parse_hex("FFFF9876543210EFF801").unwrap().counter(),
            0x0F_F801
        );
    }

    #[test]
    fn rejects_bad_ksn() {
        for (s, why) in [
            ("", "length"),
            ("FFFF9876543210E0000", "length"),
            ("FFFF9876543210E000011", "length"),
            ("FFFF9876543210E0000G", "hexadecimal"),
            ("FFFF9876543210E0000\u{e9}", "length"),
            ("FFFF9876543210E00000", "zero"),
            ("123456789012345600000000", "zero"),
            ("FFFF9876543210E007FF", "11 one-bits"),
            ("12345678901234560001FFFF", "17 one-bits"),
            ("1234567890123456", "length"),
        ] {
            let e = Ksn::parse_hex(s).unwrap_err();
            assert_eq!(e.field, "ksn", "{s}");
            assert!(e.reason.contains(why), "{s}: {}", e.reason);
        }
        assert!(Ksn::from_bytes(&[0u8; 11]).is_err());
        assert!(Ksn::parse_hex("FFFF9876543210E003FF").is_ok()); // exactly 10 bits
        assert!(Ksn::parse_hex("12345678901234560000FFFF").is_ok()); // exactly 16 bits
    }

    #[test]
    fn initial_ksn_rules() {
        let i = Ksn::parse_initial_hex("FFFF9876543210E00000").unwrap();
        assert!(i.is_initial());
        assert!(Ksn::parse_initial_hex("FFFF9876543210E00001").is_err());
        let a = Ksn::parse_initial_hex("1234567890123456").unwrap();
        assert_eq!(a.to_hex(), "123456789012345600000000");
        assert_eq!(Ksn::initial_from_bytes(a.as_bytes()).unwrap(), a);
        assert!(Ksn::initial_from_bytes(&[1u8; 12]).is_err());
    }

    #[test]
    fn with_counter_rules() {
        let k = Ksn::parse_hex("FFFF9876543210EFF801").unwrap();
        assert_eq!(k.with_counter(5).unwrap().to_hex(), "FFFF9876543210E00005");
        assert!(k.with_counter(0).is_err());
        assert!(k.with_counter(0x20_0000).is_err());
        assert!(k.with_counter(0x7FF).is_err());
        let a = Ksn::parse_hex("123456789012345600000001").unwrap();
        assert_eq!(a.with_counter(0xFFFF_0000).unwrap().counter(), 0xFFFF_0000);
        assert!(a.with_counter(u32::MAX).is_err());
    }

    #[test]
    fn key_debug_hides_bytes() {
        let k = DukptKey::from_slice(&[0xAB; 16]);
        assert_eq!(format!("{k:?}"), "DukptKey(16 bytes, ***)");
        assert_eq!(k.as_bytes(), &[0xAB; 16]);
    }
}
