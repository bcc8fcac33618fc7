//! TR-31 / ANSI X9.143 key blocks: header parsing, unwrap (versions A, B,
//! C, D), wrap, and key-component combination.
//!
//! A key block is `header || hex(encrypted payload) || hex(MAC)` where the
//! payload is `key length in bits (2 bytes, big endian) || key || padding`,
//! padded to the cipher block size.
//!
//! * **A / C** (key variant binding, TDES KBPK): KBEK = KBPK ⊕ `45`…,
//!   KBAK = KBPK ⊕ `4D`…; payload TDES-CBC encrypted with IV = the first 8
//!   header characters; MAC = ISO 9797-1 algorithm 1 (TDES CBC-MAC) over
//!   `header || ciphertext`, leftmost 4 bytes.
//! * **B** (TDES key derivation binding): KBEK/KBAK derived with TDES-CMAC
//!   (X9.143 KDF); MAC = TDES-CMAC (8 bytes) over `header || clear payload`;
//!   payload TDES-CBC encrypted with IV = MAC.
//! * **D** (AES key derivation binding): as B with AES-CMAC, 16-byte MAC and
//!   AES-CBC.
//!
//! The MAC is always checked in constant time before any key is returned.

mod components;
mod header;
mod parse;

pub use components::{combine_components, combine_components_checked, ParityPolicy};
pub use header::{
    Algorithm, Exportability, KeyUsage, ModeOfUse, OptionalBlock, Tr31Header, Version,
    FIXED_HEADER_LEN,
};
pub use parse::parse_header;

use super::cipher::BlockCipher;
use super::{AlgoError, AlgoResult};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Largest key (in bytes) whose bit length fits the 2-byte length prefix
/// and whose block still fits the 4-digit length field.
const MAX_KEY_LEN: usize = 4096;

fn check_kbpk(version: Version, kbpk: &[u8]) -> AlgoResult<()> {
    let ok = match version {
        Version::A | Version::B | Version::C => matches!(kbpk.len(), 16 | 24),
        Version::D => matches!(kbpk.len(), 16 | 24 | 32),
    };
    if ok {
        return Ok(());
    }
    let expected = match version {
        Version::D => "16, 24 or 32 (AES) for version D",
        _ => "16 or 24 (TDES) for versions A, B and C",
    };
    Err(AlgoError::new(
        "kbpk",
        format!("length {} bytes, expected {expected}", kbpk.len()),
    ))
}

/// The key block encryption key (KBEK) and authentication key (KBAK)
/// derived from a KBPK. Zeroized on drop; `Debug` prints `***`.
pub struct BlockKeys {
    /// Key block encryption key.
    pub kbek: Zeroizing<Vec<u8>>,
    /// Key block authentication (MAC) key.
    pub kbak: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for BlockKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlockKeys { kbek: ***, kbak: *** }")
    }
}

/// Derives the key block encryption key (KBEK) and authentication key
/// (KBAK) from the KBPK for `version`: XOR variants `45` / `4D` for A and
/// C; the X9.143 CMAC KDF for B (TDES) and D (AES). Both have the KBPK's
/// length. Errors (`"kbpk"`) if the KBPK length does not fit the version.
pub fn derive_kbek_kbak(version: Version, kbpk: &[u8]) -> AlgoResult<BlockKeys> {
    check_kbpk(version, kbpk)?;
    match version {
        Version::A | Version::C => Ok(BlockKeys {
            kbek: Zeroizing::new(kbpk.iter().map(|b| b ^ 0x45).collect()),
            kbak: Zeroizing::new(kbpk.iter().map(|b| b ^ 0x4D).collect()),
        }),
        Version::B | Version::D => {
            let (cipher, algo, bits): (BlockCipher, u16, u16) = match (version, kbpk.len()) {
                (Version::B, 16) => (BlockCipher::tdes(kbpk)?, 0x0000, 128),
                (Version::B, _) => (BlockCipher::tdes(kbpk)?, 0x0001, 192),
                (_, 16) => (BlockCipher::aes(kbpk)?, 0x0002, 128),
                (_, 24) => (BlockCipher::aes(kbpk)?, 0x0003, 192),
                _ => (BlockCipher::aes(kbpk)?, 0x0004, 256),
            };
            Ok(BlockKeys {
                kbek: kdf(&cipher, 0x0000, algo, bits, kbpk.len()),
                kbak: kdf(&cipher, 0x0001, algo, bits, kbpk.len()),
            })
        }
    }
}

/// X9.143 CMAC counter-mode KDF: CMAC(KBPK, counter || usage || 00 ||
/// algorithm || bit length) for counter = 1, 2, … until `len` bytes.
fn kdf(cipher: &BlockCipher, usage: u16, algo: u16, bits: u16, len: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(len + 16));
    let [u0, u1] = usage.to_be_bytes();
    let [a0, a1] = algo.to_be_bytes();
    let [l0, l1] = bits.to_be_bytes();
    let mut counter = 1u8;
    let mut mac = Zeroizing::new([0u8; 16]);
    while out.len() < len {
        let input = [counter, u0, u1, 0x00, a0, a1, l0, l1];
        let n = cipher.cmac(&input, &mut mac);
        out.extend_from_slice(mac.get(..n).unwrap_or(&[]));
        counter = counter.wrapping_add(1);
    }
    out.truncate(len);
    out
}

/// TDES CBC-MAC (ISO 9797-1 algorithm 1, no padding needed) over `parts`,
/// each a multiple of 8 bytes.
fn cbc_mac_tdes(cipher: &BlockCipher, parts: &[&[u8]]) -> AlgoResult<[u8; 8]> {
    let mut state = [0u8; 8];
    for part in parts {
        if part.len() % 8 != 0 {
            return Err(AlgoError::new(
                "tr31 key block",
                "MAC input is not a multiple of 8 bytes",
            ));
        }
        for chunk in part.chunks_exact(8) {
            for (s, c) in state.iter_mut().zip(chunk) {
                *s ^= c;
            }
            cipher.encrypt8(&mut state)?;
        }
    }
    Ok(state)
}

/// Decodes uppercase hex only (TR-31 key blocks use 0-9 A-F).
fn decode_hex_upper(field: &'static str, s: &[u8], out: &mut [u8]) -> AlgoResult<()> {
    if s.len() != out.len() * 2 {
        return Err(AlgoError::new(field, "wrong hex length"));
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        match pair {
            &[h, l] => match (nib(h), nib(l)) {
                (Some(h), Some(l)) => *o = (h << 4) | l,
                _ => return Err(AlgoError::new(field, "is not uppercase hex")),
            },
            _ => return Err(AlgoError::new(field, "wrong hex length")),
        }
    }
    Ok(())
}

fn mac_failed() -> AlgoError {
    AlgoError::new(
        "tr31 mac",
        "key block authentication failed (wrong KBPK or altered block)",
    )
}

/// Unwraps a TR-31 key block under `kbpk`, returning the parsed header and
/// the clear key.
///
/// The header is parsed first ([`parse_header`] errors), then the KBPK is
/// checked against the version (`"kbpk"`: TDES 16/24 bytes for A/B/C, AES
/// 16/24/32 for D), the payload and MAC must be uppercase hex of whole
/// cipher blocks (`"tr31 key block"`), the MAC is verified in constant time
/// (`"tr31 mac"`), and only then the 2-byte bit-length prefix is decoded
/// (`"tr31 key length"`: a whole number of bytes, non-zero, within the
/// payload). Never panics.
pub fn unwrap(kbpk: &[u8], block: &str) -> AlgoResult<(Tr31Header, Zeroizing<Vec<u8>>)> {
    let (header, hl) = parse::parse_header_len(block)?;
    let version = header.version;
    check_kbpk(version, kbpk)?;
    let b = block.as_bytes();
    let (hdr, body) = (b.get(..hl).unwrap_or(&[]), b.get(hl..).unwrap_or(&[]));
    let bs = version.block_size();
    let mac_len = version.mac_len();
    let ct_hex = body.len().saturating_sub(2 * mac_len);
    if body.len() < 2 * mac_len + 2 * bs || ct_hex % (2 * bs) != 0 {
        return Err(AlgoError::new(
            "tr31 key block",
            format!(
                "payload and MAC are {} characters; expected whole {bs}-byte blocks plus a {mac_len}-byte MAC",
                body.len()
            ),
        ));
    }
    let mut data = Zeroizing::new(vec![0u8; ct_hex / 2]);
    decode_hex_upper(
        "tr31 key block",
        body.get(..ct_hex).unwrap_or(&[]),
        &mut data,
    )?;
    let mut mac = [0u8; 16];
    let mac = mac.get_mut(..mac_len).unwrap_or(&mut []);
    decode_hex_upper("tr31 key block", body.get(ct_hex..).unwrap_or(&[]), mac)?;

    let BlockKeys { kbek, kbak } = derive_kbek_kbak(version, kbpk)?;
    match version {
        Version::A | Version::C => {
            let full = cbc_mac_tdes(&BlockCipher::tdes(&kbak)?, &[hdr, &data])?;
            let ok = full.get(..mac_len).unwrap_or(&[]).ct_eq(mac);
            if !bool::from(ok) {
                return Err(mac_failed());
            }
            let iv = hdr.get(..8).unwrap_or(&[]);
            BlockCipher::tdes(&kbek)?.decrypt_cbc(iv, &mut data)?;
        }
        Version::B | Version::D => {
            let enc = if version == Version::D {
                BlockCipher::aes(&kbek)?
            } else {
                BlockCipher::tdes(&kbek)?
            };
            enc.decrypt_cbc(mac, &mut data)?;
            let auth = if version == Version::D {
                BlockCipher::aes(&kbak)?
            } else {
                BlockCipher::tdes(&kbak)?
            };
            let mut input = Zeroizing::new(Vec::with_capacity(hdr.len() + data.len()));
            input.extend_from_slice(hdr);
            input.extend_from_slice(&data);
            let mut full = Zeroizing::new([0u8; 16]);
            let n = auth.cmac(&input, &mut full);
            let ok = full.get(..n).unwrap_or(&[]).ct_eq(mac);
            if !bool::from(ok) {
                return Err(mac_failed());
            }
        }
    }
    let bits = match data.get(..2) {
        Some(&[h, l]) => usize::from(u16::from_be_bytes([h, l])),
        _ => 0,
    };
    let key_len = bits / 8;
    if bits % 8 != 0 || key_len == 0 || key_len > data.len() - 2 {
        return Err(AlgoError::new(
            "tr31 key length",
            format!("{bits} bits does not fit a {}-byte payload", data.len()),
        ));
    }
    let key = Zeroizing::new(data.get(2..2 + key_len).unwrap_or(&[]).to_vec());
    Ok((header, key))
}

fn check_key_for_algorithm(algorithm: Algorithm, key: &[u8]) -> AlgoResult<()> {
    let n = key.len();
    let (ok, expected) = match algorithm {
        Algorithm::Tdes => (matches!(n, 8 | 16 | 24), "8, 16 or 24 for TDES"),
        Algorithm::Aes => (matches!(n, 16 | 24 | 32), "16, 24 or 32 for AES"),
        Algorithm::Des => (n == 8, "8 for DES"),
        _ => ((1..=MAX_KEY_LEN).contains(&n), "1 to 4096 bytes"),
    };
    if ok {
        Ok(())
    } else {
        Err(AlgoError::new(
            "key",
            format!("length {n} bytes, expected {expected}"),
        ))
    }
}

/// Deterministic wrap: builds the key block for `key` under `kbpk` with
/// the exact `padding` bytes after the key (tests use it to reproduce
/// published blocks; production code should call [`wrap`]).
///
/// The length field and optional-block count are computed here (the
/// header's `length` is ignored); if the optional blocks do not align to
/// the block size a `PB` block is added (see
/// [`Tr31Header::with_padding_block`]). Errors: `"kbpk"` (length for the
/// version), `"key"` (length for the header's algorithm: TDES 8/16/24, AES
/// 16/24/32, DES 8, others 1..4096), `"padding"` (2 + key + padding must be
/// a multiple of the block size), header errors, `"tr31 length"` (> 9999).
pub fn wrap_with_padding(
    kbpk: &[u8],
    header: &Tr31Header,
    key: &[u8],
    padding: &[u8],
) -> AlgoResult<String> {
    let version = header.version;
    check_kbpk(version, kbpk)?;
    check_key_for_algorithm(header.algorithm, key)?;
    let bs = version.block_size();
    let payload_len = 2 + key.len() + padding.len();
    if !payload_len.is_multiple_of(bs) {
        return Err(AlgoError::new(
            "padding",
            format!(
                "2 + key ({}) + padding ({}) bytes is not a multiple of {bs}",
                key.len(),
                padding.len()
            ),
        ));
    }
    let header = header.with_padding_block();
    let total = header.header_len() + 2 * payload_len + 2 * version.mac_len();
    let hdr = header.encode(total)?;
    let bits = u16::try_from(key.len() * 8)
        .map_err(|_| AlgoError::new("key", "too long for the 16-bit length prefix"))?;
    let mut data = Zeroizing::new(Vec::with_capacity(payload_len));
    data.extend_from_slice(&bits.to_be_bytes());
    data.extend_from_slice(key);
    data.extend_from_slice(padding);
    seal(version, kbpk, &hdr, data)
}

/// Encrypts and authenticates the clear payload `data` (whole blocks)
/// under the encoded header `hdr`, returning the complete key block.
fn seal(
    version: Version,
    kbpk: &[u8],
    hdr: &str,
    mut data: Zeroizing<Vec<u8>>,
) -> AlgoResult<String> {
    let BlockKeys { kbek, kbak } = derive_kbek_kbak(version, kbpk)?;
    let mut mac = [0u8; 16];
    let mac_len = version.mac_len();
    match version {
        Version::A | Version::C => {
            let iv = hdr.as_bytes().get(..8).unwrap_or(&[]);
            BlockCipher::tdes(&kbek)?.encrypt_cbc(iv, &mut data)?;
            let full = cbc_mac_tdes(&BlockCipher::tdes(&kbak)?, &[hdr.as_bytes(), &data])?;
            mac[..4].copy_from_slice(&full[..4]);
        }
        Version::B | Version::D => {
            let (enc, auth) = if version == Version::D {
                (BlockCipher::aes(&kbek)?, BlockCipher::aes(&kbak)?)
            } else {
                (BlockCipher::tdes(&kbek)?, BlockCipher::tdes(&kbak)?)
            };
            let mut input = Zeroizing::new(Vec::with_capacity(hdr.len() + data.len()));
            input.extend_from_slice(hdr.as_bytes());
            input.extend_from_slice(&data);
            auth.cmac(&input, &mut mac);
            enc.encrypt_cbc(&mac[..mac_len], &mut data)?;
        }
    }
    let mut out = String::with_capacity(hdr.len() + 2 * (data.len() + mac_len));
    out.push_str(hdr);
    out.push_str(&hex::encode_upper(&*data));
    out.push_str(&hex::encode_upper(&mac[..mac_len]));
    Ok(out)
}

/// Number of padding bytes [`wrap`] uses: X9.143 key-length obfuscation
/// (TDES keys padded as if 24 bytes, AES keys as if 32; other algorithms
/// not obfuscated), then up to the cipher block size.
pub fn padding_len(version: Version, algorithm: Algorithm, key_len: usize) -> usize {
    let masked = match algorithm {
        Algorithm::Tdes => key_len.max(24),
        Algorithm::Aes => key_len.max(32),
        _ => key_len,
    };
    let bs = version.block_size();
    let payload = (2 + masked).div_ceil(bs) * bs;
    payload - 2 - key_len
}

/// Wraps `key` under `kbpk` as a TR-31 key block described by `header`,
/// for every version (A, B, C, D), with random padding from `rng` of
/// [`padding_len`] bytes. Errors as [`wrap_with_padding`].
pub fn wrap<R: rand::CryptoRng + ?Sized>(
    kbpk: &[u8],
    header: &Tr31Header,
    key: &[u8],
    rng: &mut R,
) -> AlgoResult<String> {
    check_key_for_algorithm(header.algorithm, key)?;
    let n = padding_len(header.version, header.algorithm, key.len());
    let mut pad = Zeroizing::new(vec![0u8; n]);
    rng.fill_bytes(&mut pad);
    wrap_with_padding(kbpk, header, key, &pad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn hdr(version: Version, algorithm: Algorithm) -> Tr31Header {
        Tr31Header::new(
            version,
            KeyUsage::PIN_ENCRYPTION,
            algorithm,
            ModeOfUse::EncryptOnly,
            "00",
            Exportability::Exportable,
        )
        .unwrap()
    }

    #[test]
    fn kbpk_type_is_checked() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let key = [0x11u8; 16];
        for v in [Version::A, Version::B, Version::C] {
            let e = wrap(&[1u8; 32], &hdr(v, Algorithm::Tdes), &key, &mut rng).unwrap_err();
            assert_eq!(e.field, "kbpk");
            assert_eq!(derive_kbek_kbak(v, &[0u8; 8]).unwrap_err().field, "kbpk");
        }
        let e = wrap(&[1u8; 8], &hdr(Version::D, Algorithm::Aes), &key, &mut rng).unwrap_err();
        assert_eq!(e.field, "kbpk");
        let block = wrap(
            &[1u8; 16],
            &hdr(Version::B, Algorithm::Tdes),
            &key,
            &mut rng,
        )
        .unwrap();
        assert_eq!(unwrap(&[1u8; 32], &block).unwrap_err().field, "kbpk");
    }

    #[test]
    fn wrong_kbpk_fails_mac() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        for v in [Version::A, Version::B, Version::C, Version::D] {
            let block = wrap(&[7u8; 16], &hdr(v, Algorithm::Tdes), &[3u8; 16], &mut rng).unwrap();
            assert_eq!(unwrap(&[8u8; 16], &block).unwrap_err().field, "tr31 mac");
        }
    }

    #[test]
    fn key_and_padding_lengths_checked() {
        let h = hdr(Version::B, Algorithm::Tdes);
        let kbpk = [5u8; 16];
        assert_eq!(
            wrap_with_padding(&kbpk, &h, &[1u8; 15], &[0u8; 7])
                .unwrap_err()
                .field,
            "key"
        );
        assert_eq!(
            wrap_with_padding(&kbpk, &h, &[1u8; 16], &[0u8; 5])
                .unwrap_err()
                .field,
            "padding"
        );
        let h = hdr(Version::D, Algorithm::Aes);
        assert_eq!(
            wrap_with_padding(&kbpk, &h, &[1u8; 8], &[0u8; 6])
                .unwrap_err()
                .field,
            "key"
        );
        // Way too long for the 4-digit length field.
        let h = hdr(Version::D, Algorithm::Hmac);
        let e = wrap_with_padding(&kbpk, &h, &[1u8; 4097], &[0u8; 15]).unwrap_err();
        assert_eq!(e.field, "key");
        let big = OptionalBlock::new("LB", &"x".repeat(2000)).unwrap();
        let h = h.with_optional_block(big);
        let e = wrap_with_padding(&kbpk, &h, &[1u8; 4094], &[0u8; 0]).unwrap_err();
        assert_eq!(e.field, "tr31 length");
    }

    #[test]
    fn obfuscated_padding_lengths() {
        assert_eq!(padding_len(Version::B, Algorithm::Tdes, 16), 14);
        assert_eq!(padding_len(Version::A, Algorithm::Tdes, 24), 6);
        assert_eq!(padding_len(Version::D, Algorithm::Aes, 16), 30);
        assert_eq!(padding_len(Version::D, Algorithm::Tdes, 16), 14);
        assert_eq!(padding_len(Version::D, Algorithm::Hmac, 30), 0);
    }

    #[test]
    fn malformed_bodies_are_rejected() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let kbpk = [9u8; 16];
        let block = wrap(
            &kbpk,
            &hdr(Version::B, Algorithm::Tdes),
            &[4u8; 16],
            &mut rng,
        )
        .unwrap();
        // Lowercase hex is not accepted.
        let lower = format!("{}{}", &block[..16], block[16..].to_lowercase());
        assert_eq!(unwrap(&kbpk, &lower).unwrap_err().field, "tr31 key block");
        // Payload not whole blocks (length field kept consistent).
        let short = format!("B0094{}{}", &block[5..16], &block[18..]);
        assert_eq!(unwrap(&kbpk, &short).unwrap_err().field, "tr31 key block");
        // Header only.
        assert_eq!(
            unwrap(&kbpk, "B0016P0TE00E0000").unwrap_err().field,
            "tr31 key block"
        );
    }

    #[test]
    fn bad_key_length_prefix_after_valid_mac() {
        // Authentic blocks (correct MAC) whose length prefix is bad: only
        // "tr31 key length" may be reported, never a panic.
        let kbpk = [0x2Au8; 16];
        for v in [Version::A, Version::B, Version::C, Version::D] {
            let h = hdr(v, Algorithm::Tdes).encode(0).unwrap();
            let n = v.block_size() * 2;
            for prefix in [[0xFFu8, 0xFF], [0x00, 0x00], [0x00, 0x41]] {
                let mut data = Zeroizing::new(vec![0x55u8; n]);
                data[..2].copy_from_slice(&prefix);
                let total = 16 + 2 * n + 2 * v.mac_len();
                let h = h.replacen("0000", &format!("{total:04}"), 1);
                let block = seal(v, &kbpk, &h, data).unwrap();
                assert_eq!(block.len(), total);
                let e = unwrap(&kbpk, &block).unwrap_err();
                assert_eq!(e.field, "tr31 key length", "{v:?} {prefix:?}");
            }
            // And a valid prefix through the same path unwraps.
            let mut data = Zeroizing::new(vec![0x55u8; n]);
            data[..2].copy_from_slice(&[0x00, 0x40]);
            let total = 16 + 2 * n + 2 * v.mac_len();
            let block = seal(
                v,
                &kbpk,
                &h.replacen("0000", &format!("{total:04}"), 1),
                data,
            )
            .unwrap();
            assert_eq!(*unwrap(&kbpk, &block).unwrap().1, [0x55u8; 8]);
        }
    }
}
