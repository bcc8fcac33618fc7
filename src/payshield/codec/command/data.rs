//! Data encryption (M0, M2) and MAC (M6, M8) commands.

use super::kb::is_bdk_block;
use super::*;

/// M0 (encrypt) / M2 (decrypt) a data block. Layout (notes;
/// ut-codec-payshield `messages.json` pattern and test.js L2042-2168;
/// dinamo `EFT/m0_m1.sh`, `m2_m3.sh`): mode flag 2N (`00` ECB, `01` CBC,
/// `02`/`03` CFB: not modelled by the simulator) · input format 1N (`0`
/// binary, `1` hex, `2` text) · output format 1N (same) · key type 3H ·
/// key · [KSN descriptor + KSN, key type `009` BDK or a key block with
/// usage `B0`] · [IV 16H (32H under an AES key block), mode ≠ `00`] ·
/// message length 4H · message. Key-block keys come with key type `FFF`
/// (test.js L2072 `M00011FFFS…`).
///
/// The message length counts the characters of the field (dinamo:
/// `0030` for 48 hex characters; ut-codec-payshield's key-block frames
/// disagree, see the research file). The response's IV position (M1/M3
/// in CBC mode): **no public source**; see [`crate::payshield::codec::reply::DataReply`].
#[derive(Clone, PartialEq, Eq)]
pub struct DataCipher {
    /// Mode flag (`00`-`03`).
    pub mode: [u8; 2],
    /// Input format flag.
    pub input_format: u8,
    /// Output format flag.
    pub output_format: u8,
    /// Key type.
    pub key_type: KeyType,
    /// The key under the LMK.
    pub key: EncryptedKey,
    /// DUKPT KSN (key type `009`, or a `B0` key block).
    pub ksn: Option<KsnField>,
    /// IV (modes other than `00`): 8 bytes, 16 under an AES key block.
    pub iv: Option<Vec<u8>>,
    /// The message field as sent (hex text for input format `1`).
    pub message: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for DataCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataCipher")
            .field("mode", &String::from_utf8_lossy(&self.mode))
            .field("key_type", &self.key_type)
            .field("ksn", &self.ksn)
            .field("message_len", &self.message.len())
            .finish_non_exhaustive()
    }
}

impl DataCipher {
    pub(super) fn read(r: &mut Reader<'_>) -> R<Self> {
        let mode = r.array::<2>("mode flag")?;
        if !matches!(&mode, b"00" | b"01" | b"02" | b"03") {
            return Err(CodecError::new("mode flag", "value not recognised"));
        }
        let input_format = flag(r, "input format", b"012")?;
        let output_format = flag(r, "output format", b"012")?;
        let key_type = r.key_type("key type")?;
        let key = r.key("key")?;
        let ksn = if Self::takes_ksn(key_type, &key) {
            Some(KsnField::read(r, is_aes_block(&key))?)
        } else {
            None
        };
        let iv = if &mode == b"00" {
            None
        } else {
            Some(r.hex(2 * card::pin_block_len(&key), "iv")?)
        };
        let message = read_message(r)?;
        Ok(Self {
            mode,
            input_format,
            output_format,
            key_type,
            key,
            ksn,
            iv,
            message,
        })
    }

    /// Whether a KSN follows the key: key type `009`, or a key block
    /// with usage `B0` (**unconfirmed** for key blocks: no public frame
    /// shows M0 / M2 DUKPT under a key-block LMK).
    pub fn takes_ksn(key_type: KeyType, key: &EncryptedKey) -> bool {
        key_type == KeyType::BDK || (key_type == KeyType::KEY_BLOCK && is_bdk_block(key))
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
        out.extend_from_slice(&self.mode);
        out.push(self.input_format);
        out.push(self.output_format);
        out.extend_from_slice(&self.key_type.code());
        self.key.write(out);
        match (&self.ksn, Self::takes_ksn(self.key_type, &self.key)) {
            (Some(k), true) => k.write(out, is_aes_block(&self.key))?,
            (None, false) => {}
            _ => {
                return Err(CodecError::new(
                    "ksn",
                    "present exactly for a BDK (key type 009 or a B0 key block)",
                ))
            }
        }
        match (&self.iv, &self.mode == b"00") {
            (Some(iv), false) if iv.len() == card::pin_block_len(&self.key) => push_hex(out, iv),
            (None, true) => {}
            _ => return Err(CodecError::new("iv", "present exactly when mode is not 00")),
        }
        write_message(out, &self.message)
    }
}

/// M6 (generate) / M8 (verify) a MAC. Layout (the manual's M6/M8 tables
/// and ut-codec-payshield `messages.json` after its commit b1521680 "MAC
/// commands revised for firmware v3.2"; ThalesSim `GenerateMAC_M6.vb`
/// L42-43; frames test.js L2306-2412, ThalesSim tests L624/L630): mode flag
/// 1N · input format 1N (`0` binary, `1` hex, `2` text) · MAC size 1N ·
/// MAC algorithm 1N · padding method 1N · key type 3H (`003` TAK, `008`
/// ZAK) · key · [IV 16H, M6 modes 2/3] · message length 4H · message ·
/// [M8: MAC].
///
/// - MAC algorithm: `1` = ISO 9797-1 MAC algorithm 1, `3` = algorithm 3
///   (X9.19 retail MAC with a double-length key). `2` is not a published
///   value (before firmware 3.2 the same bytes were the 2-digit `01`/`03`).
/// - MAC size `0` = 8H (4 bytes): every public frame. Size `1` = 16H
///   (8 bytes): **no public frame**; kept because the manual has the field.
/// - Key-block LMK (key type `FFF`, test.js L2336 `M602011FFFS…M1…`): MAC
///   algorithm `5` = CMAC (ISO 9797-1:2011 MAC algorithm 5, the numbering
///   of TR-31 usage `M6`) with a TDES or AES key, `6` = HMAC-SHA-256 with
///   an HMAC key block, and MAC sizes `2` = 32H (16 bytes) and `3` = 64H
///   (32 bytes): **no public source** for any of these four values; the
///   client and the simulator use them, a payShield may answer `04`.
/// - Padding `0` none, `1` ISO 9797 method 1, `2` method 2 (manual). `3`
///   (method 3) is **not in any public source**; the codec keeps it so the
///   crate's `Iso9797Padding::Method3` can be sent, and a real HSM may
///   answer `09`.
/// - M8 modes other than `0`: the sources disagree on where the IV goes
///   (ut-codec-payshield: none; ThalesSim XML: modes 1, 2), so only mode
///   `0` is parsed.
#[derive(Clone, PartialEq, Eq)]
pub struct MacCommand {
    /// Mode flag (M6: `0`-`3`; M8: `0`).
    pub mode: u8,
    /// Input format flag.
    pub input_format: u8,
    /// MAC size flag.
    pub mac_size: u8,
    /// MAC algorithm flag.
    pub algorithm: u8,
    /// Padding method flag.
    pub padding: u8,
    /// Key type.
    pub key_type: KeyType,
    /// The MAC key under the LMK.
    pub key: EncryptedKey,
    /// IV (M6 modes 2 and 3).
    pub iv: Option<[u8; 8]>,
    /// The message field as sent.
    pub message: Zeroizing<Vec<u8>>,
    /// M8: the MAC to verify (4 bytes for size `0`, 8 for `1`).
    pub mac: Option<Vec<u8>>,
}

impl fmt::Debug for MacCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MacCommand")
            .field("algorithm", &char::from(self.algorithm))
            .field("key_type", &self.key_type)
            .field("message_len", &self.message.len())
            .finish_non_exhaustive()
    }
}

impl MacCommand {
    /// The MAC algorithm flags: ISO 9797-1 algorithms 1 and 3 (published),
    /// CMAC and HMAC-SHA-256 (unconfirmed, see the type's documentation).
    pub const ALGORITHMS: &'static [u8] = b"1356";
    /// The MAC size flags (`0`, `1` published; `2`, `3` unconfirmed).
    pub const SIZES: &'static [u8] = b"0123";

    /// The MAC length in bytes for the size flag.
    pub fn mac_len(size: u8) -> usize {
        match size {
            b'1' => 8,
            b'2' => 16,
            b'3' => 32,
            _ => 4,
        }
    }

    pub(super) fn read(r: &mut Reader<'_>, verify: bool) -> R<Self> {
        let mode = flag(r, "mode flag", if verify { b"0" } else { b"0123" })?;
        let input_format = flag(r, "input format", b"012")?;
        let mac_size = flag(r, "mac size", Self::SIZES)?;
        let algorithm = flag(r, "mac algorithm", Self::ALGORITHMS)?;
        let padding = flag(r, "padding method", b"0123")?;
        let key_type = r.key_type("key type")?;
        let key = r.key("key")?;
        let iv = if !verify && matches!(mode, b'2' | b'3') {
            Some(r.hex_array::<8>("iv")?)
        } else {
            None
        };
        let message = read_message(r)?;
        let mac = if verify {
            Some(r.hex(Self::mac_len(mac_size) * 2, "mac")?)
        } else {
            None
        };
        Ok(Self {
            mode,
            input_format,
            mac_size,
            algorithm,
            padding,
            key_type,
            key,
            iv,
            message,
            mac,
        })
    }

    pub(super) fn write(&self, out: &mut Vec<u8>, verify: bool) -> R<()> {
        for (v, field, allowed) in [
            (
                self.mode,
                "mode flag",
                if verify { &b"0"[..] } else { b"0123" },
            ),
            (self.input_format, "input format", b"012"),
            (self.mac_size, "mac size", Self::SIZES),
            (self.algorithm, "mac algorithm", Self::ALGORITHMS),
            (self.padding, "padding method", b"0123"),
        ] {
            if !allowed.contains(&v) {
                return Err(CodecError::new(field, "value not recognised"));
            }
            out.push(v);
        }
        out.extend_from_slice(&self.key_type.code());
        self.key.write(out);
        let wants_iv = !verify && matches!(self.mode, b'2' | b'3');
        match (&self.iv, wants_iv) {
            (Some(iv), true) => push_hex(out, iv),
            (None, false) => {}
            _ => {
                return Err(CodecError::new(
                    "iv",
                    "present exactly for M6 modes 2 and 3",
                ))
            }
        }
        write_message(out, &self.message)?;
        match (&self.mac, verify) {
            (Some(m), true) if m.len() == Self::mac_len(self.mac_size) => push_hex(out, m),
            (None, false) => {}
            _ => return Err(CodecError::new("mac", "wrong length for the MAC size")),
        }
        Ok(())
    }
}
