//! Message authentication codes: ISO/IEC 9797-1 padding methods 1-3, MAC
//! algorithm 1 (CBC-MAC) and algorithm 3 (the "retail" MAC, ANSI X9.19),
//! CMAC (NIST SP 800-38B) for TDES and AES, and HMAC-SHA-256.
//!
//! Everything here is allocation-free: padding is applied block by block on
//! the stack while the data streams through the chain. Verification compares
//! in constant time, accepts a MAC truncated to 4 or more bytes (leftmost
//! bytes, the payments convention) and reports a mismatch as `Ok(false)`;
//! only malformed input is an error.

use super::cipher::{xor_into, BlockCipher};
use super::{AlgoError, AlgoResult};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The shortest MAC the verification helpers accept (bytes).
pub const MIN_MAC_LEN: usize = 4;

/// Longest MAC this module produces (HMAC-SHA-256, bytes).
const MAX_TAG: usize = 64;

pub use crate::types::Iso9797Padding as Padding;

/// A computed MAC (up to 32 bytes). MACs are not secret, so `Debug` shows hex.
#[derive(Clone, Copy)]
pub struct MacTag {
    bytes: [u8; MAX_TAG],
    len: usize,
}

impl MacTag {
    /// A tag from the leftmost 64 bytes at most of `tag`.
    pub fn from_slice(tag: &[u8]) -> Self {
        let mut bytes = [0u8; MAX_TAG];
        let len = tag.len().min(MAX_TAG);
        for (d, s) in bytes.iter_mut().zip(tag) {
            *d = *s;
        }
        Self { bytes, len }
    }

    /// The full MAC (8 bytes for DES-family ciphers, 16 for AES, 32 for HMAC-SHA-256).
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    /// Length of the full MAC in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a MAC has at least one block.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The leftmost `n` bytes; `n` must be in `4..=len()` (error field `"mac length"`).
    pub fn truncated(&self, n: usize) -> AlgoResult<&[u8]> {
        check_mac_len("mac length", n, self.len)?;
        Ok(self.bytes.get(..n).unwrap_or(&[]))
    }

    /// Constant-time comparison of `received` with the leftmost bytes of this
    /// MAC. `received` must be 4..=len() bytes long (error field `"mac"`);
    /// a mismatch is `Ok(false)`.
    pub fn verify(&self, received: &[u8]) -> AlgoResult<bool> {
        verify_truncated(self.as_bytes(), received)
    }
}

impl AsRef<[u8]> for MacTag {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl std::fmt::Debug for MacTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MacTag({})", hex::encode_upper(self.as_bytes()))
    }
}

fn check_mac_len(field: &'static str, n: usize, full: usize) -> AlgoResult<()> {
    if n < MIN_MAC_LEN || n > full {
        return Err(AlgoError::new(
            field,
            format!("length {n} bytes, expected {MIN_MAC_LEN}..={full}"),
        ));
    }
    Ok(())
}

/// Constant-time check that `received` equals the leftmost `received.len()`
/// bytes of `full`. `received` must be `4..=full.len()` bytes (error field
/// `"mac"`); a mismatch is `Ok(false)`.
pub fn verify_truncated(full: &[u8], received: &[u8]) -> AlgoResult<bool> {
    check_mac_len("mac", received.len(), full.len())?;
    let Some(prefix) = full.get(..received.len()) else {
        return Ok(false);
    };
    Ok(prefix.ct_eq(received).into())
}

fn check_block_size(block_size: usize) -> AlgoResult<()> {
    if block_size != 8 && block_size != 16 {
        return Err(AlgoError::new(
            "block size",
            format!("{block_size} bytes, expected 8 or 16"),
        ));
    }
    Ok(())
}

/// Length of `data_len` bytes after ISO 9797-1 `padding` for `block_size`
/// (8 or 16). Errors: `"block size"`; `"data"` when `Padding::None` is used
/// with a length that is not a positive multiple of the block size.
pub fn padded_len(data_len: usize, padding: Padding, block_size: usize) -> AlgoResult<usize> {
    check_block_size(block_size)?;
    let rem = data_len % block_size;
    let up = |n: usize| n + (block_size - n % block_size) % block_size;
    Ok(match padding {
        Padding::None => {
            if data_len == 0 || rem != 0 {
                return Err(AlgoError::new(
                    "data",
                    format!(
                        "length {data_len} bytes is not a positive multiple of the {block_size}-byte block (padding none)"
                    ),
                ));
            }
            data_len
        }
        Padding::Method1 => up(data_len).max(block_size),
        Padding::Method2 => data_len - rem + block_size,
        Padding::Method3 => block_size + up(data_len),
    })
}

/// Writes `data` padded by ISO 9797-1 `padding` (block size 8 or 16) into the
/// start of `out` and returns the padded length. Errors: those of
/// [`padded_len`], and `"output"` when `out` is too short.
pub fn pad_into(
    data: &[u8],
    padding: Padding,
    block_size: usize,
    out: &mut [u8],
) -> AlgoResult<usize> {
    let total = padded_len(data.len(), padding, block_size)?;
    if out.len() < total {
        return Err(AlgoError::new(
            "output",
            format!("buffer {} bytes, padded data needs {total}", out.len()),
        ));
    }
    let mut pos = 0usize;
    for_each_block(data, padding, block_size, |b| {
        if let Some(dst) = out.get_mut(pos..pos + b.len()) {
            dst.copy_from_slice(b);
        }
        pos += b.len();
        Ok(())
    })?;
    Ok(pos)
}

/// Feeds the padded data to `f` one block at a time, without allocating.
fn for_each_block(
    data: &[u8],
    padding: Padding,
    bs: usize,
    mut f: impl FnMut(&[u8]) -> AlgoResult<()>,
) -> AlgoResult<()> {
    // Validates the block size and the `None` case.
    padded_len(data.len(), padding, bs)?;
    let mut block = [0u8; 16];
    if padding == Padding::Method3 {
        let bits = (data.len() as u128).wrapping_mul(8).to_be_bytes();
        let src = bits.get(16 - bs..).unwrap_or(&[]);
        let dst = block.get_mut(..bs).unwrap_or(&mut []);
        dst.copy_from_slice(src);
        f(dst)?;
        block = [0u8; 16];
    }
    let mut chunks = data.chunks_exact(bs);
    for c in &mut chunks {
        f(c)?;
    }
    let rem = chunks.remainder();
    let n = rem.len();
    if let Some(dst) = block.get_mut(..n) {
        dst.copy_from_slice(rem);
    }
    let last = block.get_mut(..bs).unwrap_or(&mut []);
    match padding {
        Padding::None => {}
        Padding::Method1 => {
            if n != 0 || data.is_empty() {
                f(last)?;
            }
        }
        Padding::Method2 => {
            if let Some(b) = last.get_mut(n) {
                *b = 0x80;
            }
            f(last)?;
        }
        Padding::Method3 => {
            if n != 0 {
                f(last)?;
            }
        }
    }
    Ok(())
}

/// ISO/IEC 9797-1 MAC algorithm 1 (plain CBC-MAC, zero IV, no output
/// transformation) with any [`BlockCipher`]; returns the full last block (the
/// caller truncates). Errors: `"data"` for `Padding::None` with unaligned or
/// empty data.
pub fn cbc_mac(cipher: &BlockCipher, data: &[u8], padding: Padding) -> AlgoResult<MacTag> {
    let bs = cipher.block_size();
    let mut h = [0u8; 16];
    let state = h.get_mut(..bs).unwrap_or(&mut []);
    for_each_block(data, padding, bs, |b| {
        xor_into(state, b);
        cipher.encrypt_ecb(state)
    })?;
    Ok(MacTag::from_slice(state))
}

/// Verifies an ISO 9797-1 algorithm 1 MAC (possibly truncated to 4+ bytes) in
/// constant time. Errors: as [`cbc_mac`], plus `"mac"` for a bad MAC length.
pub fn verify_cbc_mac(
    cipher: &BlockCipher,
    data: &[u8],
    padding: Padding,
    mac: &[u8],
) -> AlgoResult<bool> {
    cbc_mac(cipher, data, padding)?.verify(mac)
}

/// ISO/IEC 9797-1 MAC algorithm 3 (retail MAC, ANSI X9.19): single-DES CBC
/// under the left key half K, then the last chaining value is decrypted under
/// the right half K' and encrypted under K. `key` is a 16-byte double-length
/// key (error `"key"`); data errors as [`cbc_mac`]. Returns all 8 bytes.
pub fn retail_mac(key: &[u8], data: &[u8], padding: Padding) -> AlgoResult<[u8; 8]> {
    let key: &[u8; 16] = key.try_into().map_err(|_| {
        AlgoError::new(
            "key",
            format!(
                "length {} bytes, expected 16 (double-length DES)",
                key.len()
            ),
        )
    })?;
    let (kl, kr) = key.split_at(8);
    let k = BlockCipher::tdes(kl)?;
    let k2 = BlockCipher::tdes(kr)?;
    let mut h = [0u8; 8];
    for_each_block(data, padding, 8, |b| {
        xor_into(&mut h, b);
        k.encrypt_ecb(&mut h)
    })?;
    k2.decrypt_ecb(&mut h)?;
    k.encrypt_ecb(&mut h)?;
    Ok(h)
}

/// Verifies an ISO 9797-1 algorithm 3 MAC (4..=8 leftmost bytes) in constant
/// time. Errors: as [`retail_mac()`], plus `"mac"` for a bad MAC length.
pub fn verify_retail_mac(
    key: &[u8],
    data: &[u8],
    padding: Padding,
    mac: &[u8],
) -> AlgoResult<bool> {
    let full = retail_mac(key, data, padding)?;
    verify_truncated(&full, mac)
}

/// CMAC (NIST SP 800-38B) with a TDES or AES cipher: 8 or 16 bytes. Any
/// data length (including empty) is valid, so this cannot fail.
pub fn cmac(cipher: &BlockCipher, data: &[u8]) -> MacTag {
    let mut out = [0u8; 16];
    let n = cipher.cmac(data, &mut out);
    MacTag::from_slice(out.get(..n).unwrap_or(&[]))
}

/// Verifies a CMAC (4..=block-size leftmost bytes) in constant time.
/// Errors: `"mac"` for a bad MAC length.
pub fn verify_cmac(cipher: &BlockCipher, data: &[u8], mac: &[u8]) -> AlgoResult<bool> {
    cmac(cipher, data).verify(mac)
}

/// HMAC-SHA-256 (RFC 2104) with a key of any length; 32 bytes.
/// Errors: `"key"` if the HMAC implementation rejects the key (not expected).
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> AlgoResult<MacTag> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .map_err(|_| AlgoError::new("key", "rejected by HMAC-SHA-256"))?;
    m.update(data);
    let tag = m.finalize().into_bytes();
    Ok(MacTag::from_slice(&tag))
}

/// Which SHA-2 hash an HMAC uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HmacHash {
    /// SHA-224 (28-byte MAC).
    Sha224,
    /// SHA-256 (32-byte MAC).
    Sha256,
    /// SHA-384 (48-byte MAC).
    Sha384,
    /// SHA-512 (64-byte MAC).
    Sha512,
}

impl HmacHash {
    /// The hash of an HMAC key algorithm (`None` for other algorithms).
    pub fn of_key(alg: crate::types::KeyAlgorithm) -> Option<Self> {
        use crate::types::KeyAlgorithm as A;
        match alg {
            A::HmacSha224 => Some(Self::Sha224),
            A::HmacSha256 => Some(Self::Sha256),
            A::HmacSha384 => Some(Self::Sha384),
            A::HmacSha512 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// Length of the full MAC in bytes.
    pub fn mac_len(self) -> usize {
        match self {
            Self::Sha224 => 28,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
}

fn hmac_with<D>(key: &[u8], data: &[u8]) -> AlgoResult<MacTag>
where
    Hmac<D>: KeyInit + Mac,
    D: hmac::EagerHash,
{
    let mut m = <Hmac<D> as KeyInit>::new_from_slice(key)
        .map_err(|_| AlgoError::new("key", "rejected by HMAC"))?;
    m.update(data);
    Ok(MacTag::from_slice(&m.finalize().into_bytes()))
}

/// HMAC (RFC 2104) with SHA-224, SHA-256, SHA-384 or SHA-512 and a key of
/// any length; the full MAC is the hash's output.
pub fn hmac(hash: HmacHash, key: &[u8], data: &[u8]) -> AlgoResult<MacTag> {
    match hash {
        HmacHash::Sha224 => hmac_with::<sha2::Sha224>(key, data),
        HmacHash::Sha256 => hmac_with::<sha2::Sha256>(key, data),
        HmacHash::Sha384 => hmac_with::<sha2::Sha384>(key, data),
        HmacHash::Sha512 => hmac_with::<sha2::Sha512>(key, data),
    }
}

/// Verifies an HMAC-SHA-256 (4..=32 leftmost bytes) in constant time.
/// Errors: `"mac"` for a bad MAC length.
pub fn verify_hmac_sha256(key: &[u8], data: &[u8], mac: &[u8]) -> AlgoResult<bool> {
    hmac_sha256(key, data)?.verify(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn padded(data: &[u8], p: Padding, bs: usize) -> Vec<u8> {
        let mut out = vec![0u8; 64];
        let n = pad_into(data, p, bs, &mut out).unwrap();
        out.truncate(n);
        out
    }

    #[test]
    fn padding_methods() {
        assert_eq!(padded(&[], Padding::Method1, 8), vec![0u8; 8]);
        assert_eq!(padded(&[1; 8], Padding::Method1, 8), vec![1u8; 8]);
        assert_eq!(
            padded(&[1; 3], Padding::Method1, 8),
            [[1u8; 3].as_slice(), &[0; 5]].concat()
        );
        assert_eq!(
            padded(&[], Padding::Method2, 8),
            [[0x80u8].as_slice(), &[0; 7]].concat()
        );
        assert_eq!(
            padded(&[1; 8], Padding::Method2, 8),
            [[1u8; 8].as_slice(), &[0x80], &[0; 7]].concat()
        );
        assert_eq!(padded(&[], Padding::Method3, 8), vec![0u8; 8]);
        assert_eq!(
            padded(&[1; 3], Padding::Method3, 16),
            [[0u8; 15].as_slice(), &[24], &[1; 3], &[0; 13]].concat()
        );
        assert_eq!(padded(&[2; 16], Padding::None, 16), vec![2u8; 16]);
        for p in [
            Padding::None,
            Padding::Method1,
            Padding::Method2,
            Padding::Method3,
        ] {
            for len in 0..40 {
                if let Ok(n) = padded_len(len, p, 8) {
                    assert_eq!(padded(&vec![9u8; len], p, 8).len(), n);
                }
            }
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert_eq!(padded_len(0, Padding::None, 8).unwrap_err().field, "data");
        assert_eq!(padded_len(9, Padding::None, 8).unwrap_err().field, "data");
        assert_eq!(
            padded_len(8, Padding::Method1, 7).unwrap_err().field,
            "block size"
        );
        assert_eq!(
            pad_into(&[0; 9], Padding::Method2, 8, &mut [0u8; 15])
                .unwrap_err()
                .field,
            "output"
        );
        assert_eq!(
            retail_mac(&[0; 8], b"x", Padding::Method1)
                .unwrap_err()
                .field,
            "key"
        );
        assert_eq!(
            retail_mac(&[0; 16], b"x", Padding::None).unwrap_err().field,
            "data"
        );
        let c = BlockCipher::aes(&[1; 16]).unwrap();
        assert_eq!(
            cbc_mac(&c, &[0; 15], Padding::None).unwrap_err().field,
            "data"
        );
        let t = cmac(&c, b"abc");
        assert_eq!(t.len(), 16);
        assert_eq!(t.verify(&[0; 3]).unwrap_err().field, "mac");
        assert_eq!(t.verify(&[0; 17]).unwrap_err().field, "mac");
        assert_eq!(t.truncated(2).unwrap_err().field, "mac length");
        let mut short = [0u8; 4];
        short.copy_from_slice(&t.as_bytes()[..4]);
        assert!(t.verify(&short).unwrap());
        short[3] ^= 0x10;
        assert!(!t.verify(&short).unwrap());
    }

    // RFC 4231 test case 2 (HMAC-SHA-256, key "Jefe").
    #[test]
    fn hmac_sha256_rfc4231() {
        let t = hmac_sha256(b"Jefe", b"what do ya want for nothing?").unwrap();
        assert_eq!(
            hex::encode(t.as_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(verify_hmac_sha256(
            b"Jefe",
            b"what do ya want for nothing?",
            &t.as_bytes()[..16]
        )
        .unwrap());
        assert!(
            !verify_hmac_sha256(b"Jefe", b"what do ya want for nothing!", t.as_bytes()).unwrap()
        );
    }

    // RFC 4231 section 4: test cases 1 (key 0x0b x 20, "Hi There"), 2 (key
    // "Jefe") and 6 (key 0xaa x 131, larger than the block), each with its
    // HMAC-SHA-224, -256, -384 and -512.
    #[test]
    fn hmac_sha2_rfc4231_cases_1_2_6() {
        let case1 = (vec![0x0bu8; 20], b"Hi There".to_vec());
        let case2 = (b"Jefe".to_vec(), b"what do ya want for nothing?".to_vec());
        let case6 = (
            vec![0xaau8; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
        );
        let want = [
            (&case1, HmacHash::Sha224, "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22"),
            (&case1, HmacHash::Sha256, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
            (&case1, HmacHash::Sha384, "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6"),
            (&case1, HmacHash::Sha512, "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"),
            (&case2, HmacHash::Sha224, "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44"),
            (&case2, HmacHash::Sha256, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
            (&case2, HmacHash::Sha384, "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"),
            (&case2, HmacHash::Sha512, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"),
            (&case6, HmacHash::Sha224, "95e9a0db962095adaebe9b2d6f0dbce2d499f112f2d2b7273fa6870e"),
            (&case6, HmacHash::Sha256, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
            (&case6, HmacHash::Sha384, "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952"),
            (&case6, HmacHash::Sha512, "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"),
        ];
        for ((key, data), hash, mac) in want {
            let t = hmac(hash, key, data).unwrap();
            assert_eq!(hex::encode(t.as_bytes()), mac, "{hash:?}");
            assert_eq!(t.len(), hash.mac_len());
            assert!(t.verify(&t.as_bytes()[..16]).unwrap());
        }
    }

    // Algorithm 1 with a 2-key TDES cipher over one block equals ECB encryption.
    #[test]
    fn cbc_mac_single_block_is_ecb() {
        let key = hex::decode("0123456789ABCDEFFEDCBA9876543210").unwrap();
        let c = BlockCipher::tdes(&key).unwrap();
        let mut z = [0u8; 8];
        c.encrypt_ecb(&mut z).unwrap();
        assert_eq!(cbc_mac(&c, &[], Padding::Method1).unwrap().as_bytes(), z);
        // KCV 08D7B4 (shared vector kind "kcv").
        assert_eq!(&z[..3], [0x08, 0xD7, 0xB4]);
    }

    // Algorithm 3 with K == K' degenerates to single-DES CBC-MAC (alg 1).
    #[test]
    fn retail_mac_with_equal_halves_is_des_cbc_mac() {
        let k = [0x13u8, 0x34, 0x57, 0x79, 0x9B, 0xBC, 0xDF, 0xF1];
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&k);
        key[8..].copy_from_slice(&k);
        let des = BlockCipher::tdes(&k).unwrap();
        let data = b"Now is the time for all";
        assert_eq!(
            retail_mac(&key, data, Padding::Method2).unwrap().as_slice(),
            cbc_mac(&des, data, Padding::Method2).unwrap().as_bytes()
        );
    }
}
