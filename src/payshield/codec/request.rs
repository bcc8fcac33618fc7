//! Request encoders used by the client: each appends the command code and
//! fields (no frame, no header) to `out`, through the typed encoder of
//! [`command`] (or [`super::kq::encode_kq`], [`super::kw::encode_kw`]), so what the client writes is what the
//! simulator's parser reads.

use super::command::{
    A8Export, Bu, DataCipher, KeyUnderZmk, KsnField, MacCommand, PinTranslate, Tr31Export, A0, A6,
    A8, G0,
};
use super::kq::{encode_kq, KqRequest, KqScheme};
use super::*;
use zeroize::Zeroizing;

fn encode(out: &mut Vec<u8>, c: Command) -> R<()> {
    encode_request(out, &Request::from(c))
}

/// NC: diagnostics.
pub fn nc(out: &mut Vec<u8>) {
    out.extend_from_slice(b"NC");
}

/// B2: echo `data` (at most 65535 bytes are sent).
pub fn b2(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(b"B2");
    let n = data.len().min(0xFFFF);
    out.extend_from_slice(format!("{n:04X}").as_bytes());
    out.extend_from_slice(data.get(..n).unwrap_or(data));
}

/// A0 mode 0: generate a key of `kt` under the LMK with `scheme`.
pub fn a0(out: &mut Vec<u8>, kt: KeyType, scheme: KeyScheme) {
    // No key-block fields: nothing can fail.
    let _ = A0 {
        key_type: kt,
        scheme,
        export: None,
        key_block: None,
    }
    .write_to(out);
}

/// A6: import a TR-31 key block under `zmk` as `kt` with LMK `scheme`.
pub fn a6_tr31(
    out: &mut Vec<u8>,
    kt: KeyType,
    zmk: &EncryptedKey,
    block: &str,
    scheme: KeyScheme,
) -> R<()> {
    encode(
        out,
        Command::A6(A6 {
            key_type: kt,
            zmk: zmk.clone(),
            key: KeyUnderZmk::Tr31(block.to_owned()),
            scheme,
            atalla: None,
        }),
    )
}

/// A8: export `key` (type `kt`) under `zmk` as a TR-31 block of
/// `version` (`A`, `B`, `C`) with the given header attributes (usage 2,
/// mode of use 1, key version `00`, exportability 1, no optional
/// blocks). The `&` fields end with the mandatory optional-block count
/// `00`, then `!` + version (see [`command::Tr31Export`]).
#[allow(clippy::too_many_arguments)]
pub fn a8_tr31(
    out: &mut Vec<u8>,
    kt: KeyType,
    zmk: &EncryptedKey,
    key: &EncryptedKey,
    usage: &str,
    mode: u8,
    exportability: u8,
    version: u8,
) -> R<()> {
    let usage: [u8; 2] = usage
        .as_bytes()
        .try_into()
        .map_err(|_| CodecError::new("key usage", "expected 2 characters"))?;
    encode(
        out,
        Command::A8(A8 {
            key_type: kt,
            flag: None,
            zmk: zmk.clone(),
            key: key.clone(),
            export: A8Export::Tr31(Tr31Export {
                usage,
                mode_of_use: mode,
                key_version: *b"00",
                exportability,
                optional_blocks: Vec::new(),
                version: Some(version),
            }),
        }),
    )
}

/// BU: key check value of `key` (type `kt`, via key type code `FF`).
pub fn bu(out: &mut Vec<u8>, kt: KeyType, key: &EncryptedKey) {
    Bu {
        key_type: kt,
        long_form: true,
        length_flag: match (key.scheme, key.scheme.key_len()) {
            (KeyScheme::S, _) => b'F',
            (_, 8) => b'0',
            (_, 16) => b'1',
            _ => b'2',
        },
        key: key.clone(),
        kcv_type: None,
    }
    .write_to(out)
    // The FF form without a KCV type has no field that can fail.
    .unwrap_or(());
}

/// The full PAN field of an ISO format 4 translation: the PAN when
/// either format code is `48` (see [`command::PinTranslate::pan`]).
fn iso4_pan(src_fmt: &[u8; 2], dst_fmt: &[u8; 2], pan: &str) -> Option<Zeroizing<String>> {
    (src_fmt == b"48" || dst_fmt == b"48").then(|| Zeroizing::new(pan.to_owned()))
}

/// CA / CC: translate a PIN block (`cmd` = `CA` or `CC`) with maximum
/// PIN length 12. `pan` is the full PAN: its account number field is
/// sent, and for ISO format 4 the PAN itself.
#[allow(clippy::too_many_arguments)]
pub fn pin_translate(
    out: &mut Vec<u8>,
    cmd: &[u8; 2],
    src: &EncryptedKey,
    dst: &EncryptedKey,
    pin_block: &[u8],
    src_fmt: &[u8; 2],
    dst_fmt: &[u8; 2],
    pan: &str,
) -> R<()> {
    let p = PinTranslate {
        source_key: src.clone(),
        destination_key: dst.clone(),
        max_pin_len: 12,
        pin_block: pin_block.to_vec(),
        source_format: *src_fmt,
        destination_format: *dst_fmt,
        account: Zeroizing::new(account_field(pan)),
        pan: iso4_pan(src_fmt, dst_fmt, pan),
    };
    match cmd {
        b"CA" => encode(out, Command::Ca(p)),
        b"CC" => encode(out, Command::Cc(p)),
        _ => Err(CodecError::new("command code", "CA or CC")),
    }
}

/// G0: translate a DUKPT PIN block to a ZPK. The KSN descriptor is
/// derived from the KSN's length (`A05` for the 10-byte TDES KSN; none
/// for the 12-byte AES KSN). `pan` as for [`pin_translate`].
#[allow(clippy::too_many_arguments)]
pub fn g0(
    out: &mut Vec<u8>,
    bdk: &EncryptedKey,
    zpk: &EncryptedKey,
    ksn: &[u8],
    pin_block: &[u8],
    src_fmt: &[u8; 2],
    dst_fmt: &[u8; 2],
    pan: &str,
) -> R<()> {
    encode(
        out,
        Command::G0(G0 {
            bdk: bdk.clone(),
            zpk: zpk.clone(),
            ksn: KsnField::from_bytes(ksn)?,
            pin_block: pin_block.to_vec(),
            source_format: *src_fmt,
            destination_format: *dst_fmt,
            account: Zeroizing::new(account_field(pan)),
            pan: iso4_pan(src_fmt, dst_fmt, pan),
        }),
    )
}

/// M0 / M2: encrypt / decrypt with binary input and output. `ksn` is set
/// for DUKPT (key type 009, or `FFF` with a `B0` key block; descriptor
/// derived from its length), `iv` for CBC (mode `01`; 8 bytes, 16 under
/// an AES key).
pub fn m0_m2(
    out: &mut Vec<u8>,
    encrypt: bool,
    kt: KeyType,
    key: &EncryptedKey,
    ksn: Option<&[u8]>,
    iv: Option<&[u8]>,
    data: &[u8],
) -> R<()> {
    let d = DataCipher {
        mode: if iv.is_some() { *b"01" } else { *b"00" },
        input_format: b'0',
        output_format: b'0',
        key_type: kt,
        key: key.clone(),
        ksn: ksn.map(KsnField::from_bytes).transpose()?,
        iv: iv.map(<[u8]>::to_vec),
        message: Zeroizing::new(data.to_vec()),
    };
    encode(
        out,
        if encrypt {
            Command::M0(d)
        } else {
            Command::M2(d)
        },
    )
}

/// CW: generate a CVV.
pub fn cw(out: &mut Vec<u8>, cvk: &EncryptedKey, pan: &str, expiry: &str, service_code: &str) {
    out.extend_from_slice(b"CW");
    cvk.write(out);
    out.extend_from_slice(pan.as_bytes());
    out.push(b';');
    out.extend_from_slice(expiry.as_bytes());
    out.extend_from_slice(service_code.as_bytes());
}

/// CY: verify a CVV.
pub fn cy(
    out: &mut Vec<u8>,
    cvk: &EncryptedKey,
    cvv: &[u8],
    pan: &str,
    expiry: &str,
    service_code: &str,
) {
    out.extend_from_slice(b"CY");
    cvk.write(out);
    out.extend_from_slice(cvv);
    out.extend_from_slice(pan.as_bytes());
    out.push(b';');
    out.extend_from_slice(expiry.as_bytes());
    out.extend_from_slice(service_code.as_bytes());
}

/// KQ: verify an ARQC (`arc` `None`: mode 0, no ARC on the wire), or
/// verify it and generate an ARPC (mode 1); `data` `None` with an ARC
/// is mode 2 (ARPC only). `scheme` is `b'0'` (Visa) or `b'1'` (M/Chip).
#[allow(clippy::too_many_arguments)]
pub fn kq(
    out: &mut Vec<u8>,
    scheme: u8,
    mk: &EncryptedKey,
    pan_psn: &[u8; 8],
    atc: &[u8; 2],
    un: &[u8; 4],
    data: Option<&[u8]>,
    arqc: &[u8; 8],
    arc: Option<&[u8; 2]>,
) -> R<()> {
    encode_kq(
        out,
        &KqRequest {
            scheme: KqScheme::from_code(scheme).ok_or(CodecError::new("scheme id", "0 or 1"))?,
            mk: mk.clone(),
            pan_psn: *pan_psn,
            atc: *atc,
            un: *un,
            data: data.map(<[u8]>::to_vec),
            arqc: *arqc,
            arc: arc.copied(),
        },
    )
}

/// M6 / M8: generate / verify a MAC over binary data (mode `0`, a
/// single block). `algorithm` is `b'1'` (ISO 9797-1 algorithm 1) or
/// `b'3'` (algorithm 3).
#[allow(clippy::too_many_arguments)]
pub fn m6_m8(
    out: &mut Vec<u8>,
    verify: Option<&[u8]>,
    mac_size: u8,
    algorithm: u8,
    padding: u8,
    kt: KeyType,
    key: &EncryptedKey,
    data: &[u8],
) -> R<()> {
    let m = MacCommand {
        mode: b'0',
        input_format: b'0',
        mac_size,
        algorithm,
        padding,
        key_type: kt,
        key: key.clone(),
        iv: None,
        message: Zeroizing::new(data.to_vec()),
        mac: verify.map(<[u8]>::to_vec),
    };
    encode(
        out,
        if verify.is_some() {
            Command::M8(m)
        } else {
            Command::M6(m)
        },
    )
}
