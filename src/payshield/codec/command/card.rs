//! PIN translation (CA, CC, G0) and CVV (CW, CY) commands.

use super::*;

/// CA (TPK → ZPK) / CC (ZPK → ZPK) translate a PIN block. Layout (notes;
/// the manual's CA/CC tables; ThalesSim tests L191/L216-220;
/// ut-codec-payshield test.js L848/L1056; key blocks: L879, L1081):
/// source key · destination key · maximum PIN length 2N · PIN block 16H
/// (32H when the source key is an AES key block: an ISO format 4 block,
/// see [`is_aes_block`]) · source format 2N · destination format 2N ·
/// account number 12N.
#[derive(Clone, PartialEq, Eq)]
pub struct PinTranslate {
    /// Source TPK (CA) or ZPK (CC).
    pub source_key: EncryptedKey,
    /// Destination ZPK.
    pub destination_key: EncryptedKey,
    /// Maximum PIN length (2 digits).
    pub max_pin_len: u8,
    /// The PIN block under the source key (8 bytes, 16 under an AES key).
    pub pin_block: Vec<u8>,
    /// Source PIN block format code.
    pub source_format: [u8; 2],
    /// Destination PIN block format code.
    pub destination_format: [u8; 2],
    /// The 12 account number digits.
    pub account: Zeroizing<[u8; 12]>,
    /// The full PAN after `;`, for ISO format 4 (a format 4 block is bound
    /// to the whole PAN; **unconfirmed** layout: ut-codec-payshield's G0
    /// pattern has a "destination PAN delimiter" and "destination PAN"
    /// after the account number, no public frame fills them).
    pub pan: Option<Zeroizing<String>>,
}

/// `;` + the full PAN (12 to 19 digits) after the account number: an ISO
/// format 4 PIN block is bound to the whole PAN, which the 12-digit
/// account number field does not carry.
///
/// **Unconfirmed:** ut-codec-payshield's G0 pattern (`messages.json`
/// @4063d5b8 L305) has `pan:12, destinationPanDelimiter, destinationPan`
/// after the account number, but no public frame fills them or names the
/// delimiter; this codec sends `;` + the PAN when a format is `48`, and
/// the simulator reads the same.
pub(super) fn read_iso4_pan(r: &mut Reader<'_>) -> R<Option<Zeroizing<String>>> {
    if !r.eat(b';') {
        return Ok(None);
    }
    let n = r
        .rest()
        .iter()
        .take(19)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if n < 12 {
        return Err(CodecError::new("pan", "expected 12 to 19 digits after ';'"));
    }
    let d = r.take(n, "pan")?;
    Ok(Some(Zeroizing::new(
        String::from_utf8(d.to_vec()).map_err(|_| CodecError::new("pan", "not digits"))?,
    )))
}

pub(super) fn write_iso4_pan(out: &mut Vec<u8>, pan: Option<&Zeroizing<String>>) -> R<()> {
    if let Some(p) = pan {
        if !(12..=19).contains(&p.len()) || !p.bytes().all(|c| c.is_ascii_digit()) {
            return Err(CodecError::new("pan", "12 to 19 digits"));
        }
        out.push(b';');
        out.extend_from_slice(p.as_bytes());
    }
    Ok(())
}

/// Length in bytes of a PIN block under `key` (one cipher block).
pub(super) fn pin_block_len(key: &EncryptedKey) -> usize {
    if is_aes_block(key) {
        16
    } else {
        8
    }
}

fn write_pin_block(out: &mut Vec<u8>, key: &EncryptedKey, block: &[u8]) -> R<()> {
    if block.len() != pin_block_len(key) {
        return Err(CodecError::new(
            "pin block",
            "8 bytes (16 under an AES key)",
        ));
    }
    push_hex(out, block);
    Ok(())
}

impl fmt::Debug for PinTranslate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinTranslate")
            .field(
                "source_format",
                &String::from_utf8_lossy(&self.source_format),
            )
            .field(
                "destination_format",
                &String::from_utf8_lossy(&self.destination_format),
            )
            .finish_non_exhaustive()
    }
}

impl PinTranslate {
    pub(super) fn read(r: &mut Reader<'_>) -> R<Self> {
        let source_key = r.key("source key")?;
        let destination_key = r.key("destination key")?;
        let max_pin_len = r.number(2, "maximum pin length")? as u8;
        let pin_block = r.hex(2 * pin_block_len(&source_key), "pin block")?;
        let source_format = digits::<2>(r, "source format")?;
        let destination_format = digits::<2>(r, "destination format")?;
        let account = Zeroizing::new(digits::<12>(r, "account number")?);
        let pan = read_iso4_pan(r)?;
        Ok(Self {
            source_key,
            destination_key,
            max_pin_len,
            pin_block,
            source_format,
            destination_format,
            account,
            pan,
        })
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
        self.source_key.write(out);
        self.destination_key.write(out);
        if self.max_pin_len > 99 {
            return Err(CodecError::new("maximum pin length", "2 digits"));
        }
        out.extend_from_slice(format!("{:02}", self.max_pin_len).as_bytes());
        write_pin_block(out, &self.source_key, &self.pin_block)?;
        check_digits("source format", &self.source_format)?;
        check_digits("destination format", &self.destination_format)?;
        check_digits("account number", &self.account[..])?;
        out.extend_from_slice(&self.source_format);
        out.extend_from_slice(&self.destination_format);
        out.extend_from_slice(&self.account[..]);
        write_iso4_pan(out, self.pan.as_ref())
    }
}

/// G0 translate a TDES DUKPT PIN block to a ZPK. Layout (the manual's G0
/// table; ThalesSim `TranslatePINFromDUKPTToZPK3DES_G0.xml`;
/// ut-codec-payshield test.js L1136; key blocks L1176): BDK · ZPK · KSN
/// descriptor 3H · KSN · PIN block 16H · source format 2N · destination
/// format 2N · account 12N (no maximum PIN length).
///
/// With an AES BDK (a key block with algorithm `A`: AES DUKPT) the KSN is
/// 24H without a descriptor (see [`KsnField`]) and the PIN block 32H (ISO
/// format 4): **unconfirmed**, no public AES DUKPT frame.
///
/// Format codes: the payShield 9000 G0 table says the source format is
/// "currently only 01" (ANSI X9.8 / ISO 0) and the destination `01` or `04`
/// (PLUS); ThalesSim accepts `01`/`01` only and every public frame sends
/// `0101`. **Unconfirmed:** whether a payShield 10K accepts other codes
/// here (ISO 1 `05`, ISO 3 `47`): the codec carries any two digits, the
/// client sends the caller's formats, and the simulator accepts the same
/// ISO formats as CA/CC.
#[derive(Clone, PartialEq, Eq)]
pub struct G0 {
    /// BDK under the LMK.
    pub bdk: EncryptedKey,
    /// Destination ZPK under the LMK.
    pub zpk: EncryptedKey,
    /// KSN descriptor and KSN.
    pub ksn: KsnField,
    /// The PIN block under the DUKPT PIN key (8 bytes; 16 for AES DUKPT).
    pub pin_block: Vec<u8>,
    /// Source PIN block format code (the 9000 manual: only `01`).
    pub source_format: [u8; 2],
    /// Destination PIN block format code.
    pub destination_format: [u8; 2],
    /// The 12 account number digits.
    pub account: Zeroizing<[u8; 12]>,
    /// The full PAN after `;`, for ISO format 4 (see [`PinTranslate::pan`]).
    pub pan: Option<Zeroizing<String>>,
}

impl fmt::Debug for G0 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("G0")
            .field("ksn", &self.ksn)
            .finish_non_exhaustive()
    }
}

impl G0 {
    pub(super) fn read(r: &mut Reader<'_>) -> R<Self> {
        let bdk = r.key("bdk")?;
        let zpk = r.key("zpk")?;
        let ksn = KsnField::read(r, is_aes_block(&bdk))?;
        let pin_block = r.hex(2 * pin_block_len(&bdk), "pin block")?;
        let source_format = digits::<2>(r, "source format")?;
        let destination_format = digits::<2>(r, "destination format")?;
        let account = Zeroizing::new(digits::<12>(r, "account number")?);
        let pan = read_iso4_pan(r)?;
        Ok(Self {
            bdk,
            zpk,
            ksn,
            pin_block,
            source_format,
            destination_format,
            account,
            pan,
        })
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) -> R<()> {
        self.bdk.write(out);
        self.zpk.write(out);
        self.ksn.write(out, is_aes_block(&self.bdk))?;
        write_pin_block(out, &self.bdk, &self.pin_block)?;
        check_digits("source format", &self.source_format)?;
        check_digits("destination format", &self.destination_format)?;
        check_digits("account number", &self.account[..])?;
        out.extend_from_slice(&self.source_format);
        out.extend_from_slice(&self.destination_format);
        out.extend_from_slice(&self.account[..]);
        write_iso4_pan(out, self.pan.as_ref())
    }
}

// ------------------------------------------------------------------ CVV

/// A key field that takes either a key with a scheme tag or two
/// single-length halves A and B (the CVK of CW/CY, the PVK of DC/EC/DG/GQ).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrPair {
    /// A double (or triple) length key with a scheme tag.
    Key(EncryptedKey),
    /// Key A and key B.
    Pair(EncryptedKey, EncryptedKey),
}

/// The CVK field of CW / CY.
pub type Cvk = KeyOrPair;

/// The field names of a [`KeyOrPair`] in errors: the key, half A, half B.
pub(super) type PairNames = [&'static str; 3];

/// Names of the CVK field.
const CVK: PairNames = ["cvk", "cvk a", "cvk b"];

impl KeyOrPair {
    pub(super) fn read(r: &mut Reader<'_>, names: PairNames) -> R<Self> {
        let [key, a, b] = names;
        if r.peek()
            .and_then(crate::payshield::codec::key_tag)
            .is_some()
        {
            Ok(Self::Key(r.key(key)?))
        } else {
            let a = EncryptedKey {
                scheme: KeyScheme::Z,
                bytes: r.hex(16, a)?,
            };
            let b = EncryptedKey {
                scheme: KeyScheme::Z,
                bytes: r.hex(16, b)?,
            };
            Ok(Self::Pair(a, b))
        }
    }

    pub(super) fn write(&self, out: &mut Vec<u8>, names: PairNames) -> R<()> {
        match self {
            Self::Key(k) if k.scheme != KeyScheme::Z => k.write(out),
            Self::Pair(a, b) if a.scheme == KeyScheme::Z && b.scheme == KeyScheme::Z => {
                a.write(out);
                b.write(out);
            }
            _ => {
                return Err(CodecError::new(
                    names[0],
                    "a tagged key or two single-length keys",
                ))
            }
        }
        Ok(())
    }
}

/// CW (generate) / CY (verify) a Visa CVV. Layout (notes; ThalesSim tests
/// L326-337; ut-codec-payshield test.js L1214-1292; dinamo `EFT/cw_cx.sh`,
/// `cy_cz.sh`): CVK · [CY: CVV 3N] · PAN (up to 19 digits) · `;` · expiry
/// 4N · service code 3N.
#[derive(Clone, PartialEq, Eq)]
pub struct CardValidation {
    /// The CVK.
    pub cvk: Cvk,
    /// CY: the CVV to verify.
    pub cvv: Option<Zeroizing<[u8; 3]>>,
    /// PAN digits.
    pub pan: Zeroizing<String>,
    /// Expiry (4 digits, as on the card's track: YYMM).
    pub expiry: [u8; 4],
    /// Service code (3 digits).
    pub service_code: [u8; 3],
}

impl fmt::Debug for CardValidation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardValidation")
            .field("cvk", &self.cvk)
            .finish_non_exhaustive()
    }
}

impl CardValidation {
    pub(super) fn read(r: &mut Reader<'_>, verify: bool) -> R<Self> {
        let cvk = Cvk::read(r, CVK)?;
        let cvv = if verify {
            Some(Zeroizing::new(digits::<3>(r, "cvv")?))
        } else {
            None
        };
        let pan = r.until(b';', 19, "pan")?;
        if pan.is_empty() || !pan.iter().all(u8::is_ascii_digit) {
            return Err(CodecError::new("pan", "expected 1 to 19 digits then ';'"));
        }
        let pan = Zeroizing::new(
            String::from_utf8(pan.to_vec()).map_err(|_| CodecError::new("pan", "not digits"))?,
        );
        // `until` also stops at the end: the delimiter must have been there.
        let expiry = digits::<4>(r, "expiry")?;
        let service_code = digits::<3>(r, "service code")?;
        Ok(Self {
            cvk,
            cvv,
            pan,
            expiry,
            service_code,
        })
    }

    pub(super) fn write(&self, out: &mut Vec<u8>, verify: bool) -> R<()> {
        self.cvk.write(out, CVK)?;
        match (&self.cvv, verify) {
            (Some(c), true) => {
                check_digits("cvv", &c[..])?;
                out.extend_from_slice(&c[..]);
            }
            (None, false) => {}
            _ => return Err(CodecError::new("cvv", "present exactly in CY")),
        }
        if self.pan.is_empty()
            || self.pan.len() > 19
            || !self.pan.bytes().all(|c| c.is_ascii_digit())
        {
            return Err(CodecError::new("pan", "expected 1 to 19 digits"));
        }
        out.extend_from_slice(self.pan.as_bytes());
        out.push(b';');
        check_digits("expiry", &self.expiry)?;
        check_digits("service code", &self.service_code)?;
        out.extend_from_slice(&self.expiry);
        out.extend_from_slice(&self.service_code);
        Ok(())
    }
}
