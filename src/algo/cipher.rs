//! Block-cipher primitives shared by every algorithm: (T)DES and AES in ECB
//! and CBC (no padding), DES parity and key check values.
//!
//! Thin wrappers over the RustCrypto `des`, `aes`, `cbc` and `cmac` crates.
//! Nothing here allocates; key schedules zeroize on drop (crate features).

use super::{AlgoError, AlgoResult};
use ::cipher::{
    Block, BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt,
    BlockSizeUser, InnerIvInit, KeyInit,
};
use cmac::{Cmac, Mac};

/// A keyed block cipher: single DES, two- or three-key TDES (EDE), or AES.
#[derive(Clone)]
pub enum BlockCipher {
    /// Single DES (8-byte key). Only for legacy derivations (ISO 9797-1 alg 3, DUKPT).
    Des(des::Des),
    /// Two-key TDES (16-byte key).
    Tdes2(des::TdesEde2),
    /// Three-key TDES (24-byte key).
    Tdes3(des::TdesEde3),
    /// AES-128.
    Aes128(aes::Aes128),
    /// AES-192.
    Aes192(aes::Aes192),
    /// AES-256.
    Aes256(aes::Aes256),
}

impl std::fmt::Debug for BlockCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Self::Des(_) => "DES",
            Self::Tdes2(_) => "TDES-2KEY",
            Self::Tdes3(_) => "TDES-3KEY",
            Self::Aes128(_) => "AES-128",
            Self::Aes192(_) => "AES-192",
            Self::Aes256(_) => "AES-256",
        };
        write!(f, "BlockCipher({name}, ***)")
    }
}

fn bad_len(field: &'static str, len: usize, expected: &str) -> AlgoError {
    AlgoError::new(field, format!("length {len} bytes, expected {expected}"))
}

macro_rules! each {
    ($self:expr, $c:ident => $body:expr) => {
        match $self {
            BlockCipher::Des($c) => $body,
            BlockCipher::Tdes2($c) => $body,
            BlockCipher::Tdes3($c) => $body,
            BlockCipher::Aes128($c) => $body,
            BlockCipher::Aes192($c) => $body,
            BlockCipher::Aes256($c) => $body,
        }
    };
}

impl BlockCipher {
    /// A DES-family cipher from an 8 (single DES), 16 (TDES 2-key) or 24
    /// (TDES 3-key) byte key. Parity is not checked here (see [`has_odd_parity`]).
    pub fn tdes(key: &[u8]) -> AlgoResult<Self> {
        Ok(match key.len() {
            8 => Self::Des(des::Des::new_from_slice(key).map_err(|_| bad_len("key", 8, "8"))?),
            16 => Self::Tdes2(
                des::TdesEde2::new_from_slice(key).map_err(|_| bad_len("key", 16, "16"))?,
            ),
            24 => Self::Tdes3(
                des::TdesEde3::new_from_slice(key).map_err(|_| bad_len("key", 24, "24"))?,
            ),
            n => return Err(bad_len("key", n, "8, 16 or 24 for (T)DES")),
        })
    }

    /// An AES cipher from a 16, 24 or 32 byte key.
    pub fn aes(key: &[u8]) -> AlgoResult<Self> {
        let e = |n| bad_len("key", n, "16, 24 or 32 for AES");
        Ok(match key.len() {
            16 => Self::Aes128(aes::Aes128::new_from_slice(key).map_err(|_| e(16))?),
            24 => Self::Aes192(aes::Aes192::new_from_slice(key).map_err(|_| e(24))?),
            32 => Self::Aes256(aes::Aes256::new_from_slice(key).map_err(|_| e(32))?),
            n => return Err(e(n)),
        })
    }

    /// Block size in bytes: 8 for the DES family, 16 for AES.
    pub fn block_size(&self) -> usize {
        match self {
            Self::Des(_) | Self::Tdes2(_) | Self::Tdes3(_) => 8,
            _ => 16,
        }
    }

    /// True for AES.
    pub fn is_aes(&self) -> bool {
        self.block_size() == 16
    }

    fn check_blocks(&self, field: &'static str, data: &[u8]) -> AlgoResult<()> {
        let bs = self.block_size();
        if data.is_empty() || !data.len().is_multiple_of(bs) {
            return Err(AlgoError::new(
                field,
                format!(
                    "length {} bytes is not a positive multiple of the {bs}-byte block",
                    data.len()
                ),
            ));
        }
        Ok(())
    }

    /// ECB-encrypts `data` in place; its length must be a positive multiple of the block size.
    pub fn encrypt_ecb(&self, data: &mut [u8]) -> AlgoResult<()> {
        self.check_blocks("data", data)?;
        each!(self, c => BlockCipherEncrypt::encrypt_blocks(c, as_blocks(c, data)));
        Ok(())
    }

    /// ECB-decrypts `data` in place; its length must be a positive multiple of the block size.
    pub fn decrypt_ecb(&self, data: &mut [u8]) -> AlgoResult<()> {
        self.check_blocks("data", data)?;
        each!(self, c => BlockCipherDecrypt::decrypt_blocks(c, as_blocks(c, data)));
        Ok(())
    }

    fn check_iv(&self, iv: &[u8]) -> AlgoResult<()> {
        if iv.len() != self.block_size() {
            return Err(bad_len("iv", iv.len(), &self.block_size().to_string()));
        }
        Ok(())
    }

    /// CBC-encrypts `data` in place with `iv` (no padding: the length must be a
    /// positive multiple of the block size).
    pub fn encrypt_cbc(&self, iv: &[u8], data: &mut [u8]) -> AlgoResult<()> {
        self.check_iv(iv)?;
        self.check_blocks("data", data)?;
        each!(self, c => {
            let mut mode = cbc::Encryptor::inner_iv_slice_init(c.clone(), iv)
                .map_err(|_| bad_len("iv", iv.len(), "one block"))?;
            mode.encrypt_blocks(as_blocks(c, data));
        });
        Ok(())
    }

    /// CBC-decrypts `data` in place with `iv` (no padding).
    pub fn decrypt_cbc(&self, iv: &[u8], data: &mut [u8]) -> AlgoResult<()> {
        self.check_iv(iv)?;
        self.check_blocks("data", data)?;
        each!(self, c => {
            let mut mode = cbc::Decryptor::inner_iv_slice_init(c.clone(), iv)
                .map_err(|_| bad_len("iv", iv.len(), "one block"))?;
            mode.decrypt_blocks(as_blocks(c, data));
        });
        Ok(())
    }

    /// Encrypts one 8-byte block (DES family only).
    pub fn encrypt8(&self, block: &mut [u8; 8]) -> AlgoResult<()> {
        if self.block_size() != 8 {
            return Err(AlgoError::new(
                "key",
                "an 8-byte block needs a DES-family key",
            ));
        }
        self.encrypt_ecb(block)
    }

    /// Encrypts one 16-byte block (AES only).
    pub fn encrypt16(&self, block: &mut [u8; 16]) -> AlgoResult<()> {
        if self.block_size() != 16 {
            return Err(AlgoError::new("key", "a 16-byte block needs an AES key"));
        }
        self.encrypt_ecb(block)
    }

    /// CMAC (NIST SP 800-38B) of `data`, full block length (8 or 16 bytes)
    /// written to the start of `out`; returns the MAC length.
    pub fn cmac(&self, data: &[u8], out: &mut [u8; 16]) -> usize {
        fn run<C: cmac::block_api::CmacCipher + Clone>(
            c: &C,
            data: &[u8],
            out: &mut [u8; 16],
        ) -> usize
        where
            Cmac<C>: cmac::digest::InnerInit<Inner = C>,
        {
            let mut m = <Cmac<C> as cmac::digest::InnerInit>::inner_init(c.clone());
            m.update(data);
            let tag = m.finalize().into_bytes();
            out[..tag.len()].copy_from_slice(&tag);
            tag.len()
        }
        each!(self, c => run(c, data, out))
    }
}

/// Views `data` (already checked to be whole blocks) as cipher blocks.
fn as_blocks<'a, C: BlockSizeUser>(_: &C, data: &'a mut [u8]) -> &'a mut [Block<C>] {
    Block::<C>::slice_as_chunks_mut(data).0
}

/// True when every byte of `key` has odd parity (DES key convention).
pub fn has_odd_parity(key: &[u8]) -> bool {
    key.iter().all(|b| b.count_ones() % 2 == 1)
}

/// Sets the low bit of every byte so that each byte has odd parity.
pub fn fix_odd_parity(key: &mut [u8]) {
    for b in key.iter_mut() {
        if b.count_ones() % 2 == 0 {
            *b ^= 1;
        }
    }
}

/// XORs `src` into `dst` (up to the shorter length).
pub fn xor_into(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= s;
    }
}

/// Key check value by the ANSI X9.24 method: encrypt a zero block with the
/// (T)DES key and keep the leftmost 3 bytes.
pub fn kcv_tdes(key: &[u8]) -> AlgoResult<[u8; 3]> {
    let c = BlockCipher::tdes(key)?;
    let mut z = [0u8; 8];
    c.encrypt_ecb(&mut z)?;
    Ok([z[0], z[1], z[2]])
}

/// Key check value by the CMAC method (X9.24-3 / AWS `CMAC`): AES-CMAC of a
/// zero block, leftmost 3 bytes.
pub fn kcv_aes_cmac(key: &[u8]) -> AlgoResult<[u8; 3]> {
    let c = BlockCipher::aes(key)?;
    let mut out = [0u8; 16];
    c.cmac(&[0u8; 16], &mut out);
    Ok([out[0], out[1], out[2]])
}

#[cfg(test)]
mod tests {
    use super::*;

    // Source: shared vectors kind "kcv" (pyemv test_ac_hsm / thalessimulatorlibrary AW): 08D7B4.
    #[test]
    fn kcv_tdes_known_answer() {
        let key = hex::decode("0123456789ABCDEFFEDCBA9876543210").unwrap();
        assert_eq!(kcv_tdes(&key).unwrap(), [0x08, 0xD7, 0xB4]);
    }

    // NIST SP 800-38B Appendix D (AES-128, empty message) via shared vectors kind "mac_cmac_aes".
    #[test]
    fn aes_cmac_known_answer() {
        let key = hex::decode("2B7E151628AED2A6ABF7158809CF4F3C").unwrap();
        let mut out = [0u8; 16];
        let n = BlockCipher::aes(&key).unwrap().cmac(&[], &mut out);
        assert_eq!(
            hex::encode_upper(&out[..n]),
            "BB1D6929E95937287FA37D129B756746"
        );
    }

    // NIST SP 800-38B Appendix D (TDES 2-key, empty message) via shared vectors kind "mac_cmac_tdes".
    #[test]
    fn tdes_cmac_known_answer() {
        let key = hex::decode("0123456789ABCDEF23456789ABCDEF01").unwrap();
        let mut out = [0u8; 16];
        let n = BlockCipher::tdes(&key).unwrap().cmac(&[], &mut out);
        assert_eq!(hex::encode_upper(&out[..n]), "79CE52A7F786A960");
    }

    #[test]
    fn cbc_round_trip_and_errors() {
        let c = BlockCipher::aes(&[7u8; 32]).unwrap();
        let mut d = [1u8; 32];
        c.encrypt_cbc(&[0u8; 16], &mut d).unwrap();
        assert_ne!(d, [1u8; 32]);
        c.decrypt_cbc(&[0u8; 16], &mut d).unwrap();
        assert_eq!(d, [1u8; 32]);
        assert!(c.encrypt_cbc(&[0u8; 8], &mut d).is_err());
        assert!(c.encrypt_ecb(&mut [0u8; 15]).is_err());
        assert!(BlockCipher::tdes(&[0u8; 15]).is_err());
        assert!(BlockCipher::aes(&[0u8; 8]).is_err());
    }
}
