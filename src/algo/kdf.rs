//! Hash-based key derivation from a shared secret (ECDH key agreement):
//! the NIST SP 800-56C Rev. 2 one-step KDF (§4.1, hash option) and the ANSI
//! X9.63 KDF (as in SEC 1 v2 §3.6.1), with SHA-256, SHA-384 or SHA-512.
//!
//! - one-step: `K(i) = H(counter_i || Z || FixedInfo)`, counter a 32-bit
//!   big-endian integer from 1 (the "Concat KDF" of SP 800-56A; RFC 7518
//!   Appendix C publishes an example, checked below);
//! - X9.63: `K(i) = H(Z || counter_i || SharedInfo)`, counter likewise from 1
//!   (NIST CAVS `ansx963_2001.rsp` vectors, checked below).
//!
//! The output is the leftmost `len` bytes of `K(1) || K(2) || …`.

use super::{AlgoError, AlgoResult};
use sha2::{Digest, Sha256, Sha384, Sha512};
use zeroize::Zeroizing;

/// The hash a KDF uses (AWS `KeyDerivationHashAlgorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KdfHash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl KdfHash {
    /// The AWS enum value (`SHA_256`, …).
    pub fn aws_name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA_256",
            Self::Sha384 => "SHA_384",
            Self::Sha512 => "SHA_512",
        }
    }

    /// The hash for an AWS enum value.
    pub fn from_aws_name(s: &str) -> Option<Self> {
        [Self::Sha256, Self::Sha384, Self::Sha512]
            .into_iter()
            .find(|h| h.aws_name() == s)
    }

    fn digest(self, parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            Zeroizing::new(d.finalize().to_vec())
        }
        match self {
            Self::Sha256 => run::<Sha256>(parts),
            Self::Sha384 => run::<Sha384>(parts),
            Self::Sha512 => run::<Sha512>(parts),
        }
    }
}

/// Most key bytes either KDF gives here (far above any key length).
const MAX_LEN: usize = 1024;

fn derive(
    len: usize,
    mut block: impl FnMut(&[u8; 4]) -> Zeroizing<Vec<u8>>,
) -> AlgoResult<Zeroizing<Vec<u8>>> {
    if len == 0 || len > MAX_LEN {
        return Err(AlgoError::new(
            "key length",
            format!("{len} bytes; 1 to {MAX_LEN}"),
        ));
    }
    let mut out = Zeroizing::new(Vec::with_capacity(len + 64));
    let mut counter: u32 = 1;
    while out.len() < len {
        out.extend_from_slice(&block(&counter.to_be_bytes()));
        counter = counter.saturating_add(1);
    }
    out.truncate(len);
    Ok(out)
}

/// NIST SP 800-56C Rev. 2 one-step KDF (hash): `len` bytes from the shared
/// secret `z` and `fixed_info`. Errors: `key length` (0 or over 1024).
pub fn one_step_kdf(
    hash: KdfHash,
    z: &[u8],
    fixed_info: &[u8],
    len: usize,
) -> AlgoResult<Zeroizing<Vec<u8>>> {
    derive(len, |c| hash.digest(&[c, z, fixed_info]))
}

/// ANSI X9.63 KDF: `len` bytes from the shared secret `z` and
/// `shared_info`. Errors: `key length` (0 or over 1024).
pub fn x963_kdf(
    hash: KdfHash,
    z: &[u8],
    shared_info: &[u8],
    len: usize,
) -> AlgoResult<Zeroizing<Vec<u8>>> {
    derive(len, |c| hash.digest(&[z, c, shared_info]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NIST CAVS ansx963_2001.rsp, [SHA-256], shared secret 192 bits, no
    /// SharedInfo, 128-bit key: COUNT 0 and 1.
    #[test]
    fn x963_nist_cavs_vectors() {
        for (z, want) in [
            (
                "96c05619d56c328ab95fe84b18264b08725b85e33fd34f08",
                "443024c3dae66b95e6f5670601558f71",
            ),
            (
                "96f600b73ad6ac5629577eced51743dd2c24c21b1ac83ee4",
                "b6295162a7804f5667ba9070f82fa522",
            ),
        ] {
            let k = x963_kdf(KdfHash::Sha256, &hex::decode(z).unwrap(), &[], 16).unwrap();
            assert_eq!(hex::encode(&*k), want);
        }
    }

    /// RFC 7518 Appendix C (ECDH-ES): Concat KDF with SHA-256 over the
    /// published Z and OtherInfo (AlgorithmID "A128GCM", PartyUInfo "Alice",
    /// PartyVInfo "Bob", SuppPubInfo 128), 16 bytes.
    #[test]
    fn one_step_rfc7518_appendix_c() {
        let z: [u8; 32] = [
            158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156, 251, 49,
            110, 163, 218, 128, 106, 72, 246, 218, 167, 121, 140, 254, 144, 196,
        ];
        let mut info = Vec::new();
        for part in [&b"A128GCM"[..], b"Alice", b"Bob"] {
            info.extend_from_slice(&(part.len() as u32).to_be_bytes());
            info.extend_from_slice(part);
        }
        info.extend_from_slice(&128u32.to_be_bytes());
        let k = one_step_kdf(KdfHash::Sha256, &z, &info, 16).unwrap();
        assert_eq!(
            &k[..],
            &[86, 170, 141, 234, 248, 35, 109, 32, 92, 34, 40, 205, 113, 167, 16, 26]
        );
    }

    #[test]
    fn lengths_span_blocks_and_bad_lengths_are_errors() {
        let a = x963_kdf(KdfHash::Sha384, b"z", b"i", 100).unwrap();
        let b = x963_kdf(KdfHash::Sha384, b"z", b"i", 48).unwrap();
        assert_eq!(a.len(), 100);
        assert_eq!(&a[..48], &b[..]);
        assert_ne!(&a[48..96], &b[..]);
        assert_eq!(
            one_step_kdf(KdfHash::Sha512, b"z", b"", 0)
                .unwrap_err()
                .field,
            "key length"
        );
        assert!(x963_kdf(KdfHash::Sha256, b"z", b"", 1025).is_err());
    }
}
