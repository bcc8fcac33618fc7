//! `pin translate|generate|verify`: PIN translation and issuer PIN data
//! (IBM 3624 offsets, Visa PVVs) on a backend.

use super::*;
use crate::algo::cipher::BlockCipher;
use crate::algo::pinblock;
use crate::types::{
    DecimalizationTable, EncryptedPinBlock, PadCharacter, Pan, PinBlockFormat, PinLength,
    PinOffset, PinValidationData, Pvki, Pvv,
};

pub(in crate::cli) async fn pin(c: &PinCommand, show: bool) -> Result<Output, CliError> {
    match c {
        PinCommand::Translate(a) => translate(a).await,
        PinCommand::Generate(a) => generate(a, show).await,
        PinCommand::Verify(a) => verify(a).await,
    }
}

/// `pin …`.
#[derive(Subcommand)]
pub enum PinCommand {
    /// Translate a PIN block from one key (or DUKPT) and format to another.
    #[command(after_help = "Examples:\n  \
        paycrypto pin translate --in-key-hex 13345779133457791334577913345779 --in-format 0 \\\n      \
        --out-key-hex AF8CB133A78F8DC2D1359F18527593FB --out-format 4 \\\n      \
        --pan 1234567890123 --block 3C0CA40863092C3A\n  \
        paycrypto pin translate --backend payshield://127.0.0.1:1500 --keys keys.json \\\n      \
        --in-bdk bdk --ksn FFFF9876543210E00001 --in-format 0 --out-key zpk --out-format 0 \\\n      \
        --pan 4012345678909 --block 1B9C1845EB993A7A")]
    Translate(Box<TranslateArgs>),
    /// Generate issuer PIN data: a PIN (random, IBM 3624 natural or from an
    /// offset) enciphered under a PIN key, with its IBM 3624 offset or Visa
    /// PVV; or the offset / PVV of a given PIN block.
    #[command(
        after_help = "The clear PIN never leaves the backend; with a clear --pek-hex \
        (software backend) --show-secrets also prints it.\n\n\
        Examples:\n  \
        paycrypto pin generate --method visa-pvv --pvk-hex 0123456789ABCDEFFEDCBA9876543210 \\\n      \
        --pek-hex 13345779133457791334577913345779 --pan 1122334455667788 --pvki 1 \\\n      \
        --block 6083600C675C1A06\n  \
        paycrypto pin generate --method ibm-random --pvk pvk-ibm --pek zpk --keys keys.json \\\n      \
        --backend aws --pan 4111111111111111 --validation-data 4111111111 --pin-length 6"
    )]
    Generate(Box<PinGenerateArgs>),
    /// Verify a PIN block against its IBM 3624 offset or Visa PVV (exit code
    /// 1 when it does not verify).
    #[command(after_help = "Examples:\n  \
        paycrypto pin verify --pvk-hex 0123456789ABCDEFFEDCBA9876543210 \\\n      \
        --pek-hex 13345779133457791334577913345779 --pan 1122334455667788 \\\n      \
        --block 6083600C675C1A06 --pvki 1 --pvv 8523\n  \
        paycrypto pin verify --backend payshield://127.0.0.1:1500 --keys keys.json --pvk pvk-ibm \\\n      \
        --bdk bdk --ksn FFFF9876543210E00001 --pan 4012345678909 --block 1B9C1845EB993A7A \\\n      \
        --validation-data 4012345678 --offset 6381")]
    Verify(Box<PinVerifyArgs>),
}

/// `pin translate`.
#[derive(Args)]
#[command(group(ArgGroup::new("incoming").required(true).args(["in_key", "in_key_hex", "in_bdk", "in_bdk_hex"])))]
#[command(group(ArgGroup::new("outgoing").required(true).args(["out_key", "out_key_hex"])))]
pub struct TranslateArgs {
    #[command(flatten)]
    backend: BackendArgs,
    /// Incoming PIN key, by name.
    #[arg(long, value_name = "NAME")]
    in_key: Option<String>,
    /// Incoming PIN key, clear (software backend only).
    #[arg(long, value_name = "HEX")]
    in_key_hex: Option<String>,
    /// Incoming DUKPT BDK, by name (with --ksn).
    #[arg(long, value_name = "NAME", requires = "ksn")]
    in_bdk: Option<String>,
    /// Incoming DUKPT BDK, clear (software backend only; with --ksn).
    #[arg(long, value_name = "HEX", requires = "ksn")]
    in_bdk_hex: Option<String>,
    /// DUKPT key serial number (20 hex digits TDES, 24 AES).
    #[arg(long)]
    ksn: Option<String>,
    /// Incoming format: 0, 1, 3 or 4.
    #[arg(long)]
    in_format: String,
    /// Outgoing PIN key, by name.
    #[arg(long, value_name = "NAME")]
    out_key: Option<String>,
    /// Outgoing PIN key, clear (software backend only).
    #[arg(long, value_name = "HEX")]
    out_key_hex: Option<String>,
    /// Outgoing format: 0, 1, 3 or 4.
    #[arg(long)]
    out_format: String,
    /// The PAN.
    #[arg(long)]
    pan: String,
    /// The encrypted PIN block (hex).
    #[arg(long, value_name = "HEX")]
    block: String,
}

async fn translate(a: &TranslateArgs) -> Result<Output, CliError> {
    let in_fmt = args::format("--in-format", &a.in_format)?;
    let out_fmt = args::format("--out-format", &a.out_format)?;
    let pan = args::pan("--pan", &a.pan)?;
    let block = args::hex("--block", &a.block)?;
    let pin_block = crate::EncryptedPinBlock::from_bytes(&block)
        .map_err(|e| CliError::arg("--block", e.reason))?;
    let s = Session::open(&a.backend).await?;
    let iso4 = |f| f == crate::PinBlockFormat::Iso4;
    let incoming = pin_key(
        &s,
        ("--in-bdk", a.in_bdk.as_ref(), a.in_bdk_hex.as_ref()),
        ("--in-key", a.in_key.as_ref(), a.in_key_hex.as_ref()),
        a.ksn.as_deref(),
        iso4(in_fmt),
    )
    .await?;
    let outgoing = s
        .key(
            "--out-key",
            a.out_key.as_ref(),
            a.out_key_hex.as_ref(),
            KeyUsage::PinEncryption,
            iso4(out_fmt),
        )
        .await?;
    let r = s
        .backend
        .translate_pin(TranslatePinRequest {
            incoming_key: incoming,
            incoming_format: in_fmt,
            outgoing_key: outgoing,
            outgoing_format: out_fmt,
            pan,
            pin_block,
        })
        .await?;
    Ok(Output::new()
        .field("pin_block", hex::encode_upper(r.pin_block.as_bytes()))
        .field("format", r.format.code())
        .field("key_kcv", r.key_check_value.to_string())
        .field("backend", s.backend.name().to_string()))
}

/// How to generate PIN data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PinMethod {
    /// A random PIN and its Visa PVV (AWS VisaPin).
    VisaPin,
    /// The Visa PVV of the PIN in --block (AWS VisaPinVerificationValue).
    VisaPvv,
    /// The IBM 3624 natural PIN (offset all zeros).
    IbmNatural,
    /// A random PIN and its IBM 3624 offset.
    IbmRandom,
    /// The IBM 3624 offset of the PIN in --block.
    IbmOffset,
    /// The PIN an IBM 3624 --offset gives.
    IbmFromOffset,
}

/// The IBM 3624 parameters (for `--method ibm-…` and IBM verification).
#[derive(Args)]
pub struct IbmArgs {
    /// IBM 3624 decimalisation table, 16 digits.
    #[arg(long, value_name = "DIGITS", default_value = DecimalizationTable::STANDARD)]
    decimalization_table: String,
    /// IBM 3624 PIN validation data, 4 to 16 digits (usually part of the PAN).
    #[arg(long, value_name = "DIGITS")]
    validation_data: Option<String>,
    /// Pad character for the validation data (0-9, A-F).
    #[arg(long, value_name = "HEX", default_value = "F")]
    pad: String,
}

impl IbmArgs {
    fn ibm(&self) -> Result<Ibm3624, CliError> {
        let field =
            |arg: &'static str| move |e: crate::types::FieldError| CliError::arg(arg, &e.reason);
        let data = self.validation_data.as_deref().ok_or_else(|| {
            CliError::arg("--validation-data", "required for the IBM 3624 method")
        })?;
        Ok(Ibm3624 {
            decimalization_table: DecimalizationTable::new(self.decimalization_table.trim())
                .map_err(field("--decimalization-table"))?,
            validation_data: PinValidationData::new(data.trim())
                .map_err(field("--validation-data"))?,
            pad: PadCharacter::new(&self.pad.trim().to_ascii_uppercase())
                .map_err(field("--pad"))?,
        })
    }
}

/// `pin generate`.
#[derive(Args)]
#[command(group(ArgGroup::new("pvk_key").required(true).args(["pvk", "pvk_hex"])))]
#[command(group(ArgGroup::new("pek_key").required(true).args(["pek", "pek_hex"])))]
pub struct PinGenerateArgs {
    #[command(flatten)]
    backend: BackendArgs,
    /// What to generate.
    #[arg(long, value_enum)]
    method: PinMethod,
    /// PIN verification key (V1 for IBM 3624, V2 for Visa PVV), by name.
    #[arg(long, value_name = "NAME")]
    pvk: Option<String>,
    /// PIN verification key, clear (software backend only).
    #[arg(long, value_name = "HEX")]
    pvk_hex: Option<String>,
    /// PIN encryption key (P0) the PIN block comes back under, by name.
    #[arg(long, value_name = "NAME")]
    pek: Option<String>,
    /// PIN encryption key, clear (software backend only; AES for format 4).
    #[arg(long, value_name = "HEX")]
    pek_hex: Option<String>,
    /// PIN block format: 0, 1, 3 or 4.
    #[arg(long, default_value = "0")]
    format: String,
    /// The PAN.
    #[arg(long)]
    pan: String,
    /// Length of a PIN the backend creates (random or natural), 4 to 12.
    #[arg(long, default_value_t = 4)]
    pin_length: u8,
    /// Visa PIN verification key index, 0 to 6.
    #[arg(long)]
    pvki: Option<String>,
    /// The PIN block under the PIN encryption key (visa-pvv, ibm-offset).
    #[arg(long, value_name = "HEX")]
    block: Option<String>,
    /// The IBM 3624 offset (ibm-from-offset), 4 to 12 digits.
    #[arg(long, value_name = "DIGITS")]
    offset: Option<String>,
    #[command(flatten)]
    ibm: IbmArgs,
}

fn pvki_arg(s: Option<&String>) -> Result<Pvki, CliError> {
    let s = s.ok_or_else(|| CliError::arg("--pvki", "required for the Visa PVV"))?;
    s.trim()
        .parse()
        .map_err(|e: crate::types::FieldError| CliError::arg("--pvki", &e.reason))
}

fn block_arg(arg: &str, s: &str) -> Result<EncryptedPinBlock, CliError> {
    EncryptedPinBlock::from_bytes(&args::hex(arg, s)?).map_err(|e| CliError::arg(arg, e.reason))
}

fn pin_data_format(arg: &str, s: &str) -> Result<PinBlockFormat, CliError> {
    let f = args::format(arg, s)?;
    if f == PinBlockFormat::Iso2 {
        return Err(CliError::arg(
            arg,
            "PIN data takes ISO formats 0, 1, 3 and 4",
        ));
    }
    Ok(f)
}

async fn generate(a: &PinGenerateArgs, show: bool) -> Result<Output, CliError> {
    let format = pin_data_format("--format", &a.format)?;
    let pan = args::pan("--pan", &a.pan)?;
    let pin_length =
        PinLength::new(a.pin_length).map_err(|e| CliError::arg("--pin-length", &e.reason))?;
    let block = |why: &str| -> Result<EncryptedPinBlock, CliError> {
        match &a.block {
            Some(b) => block_arg("--block", b),
            None => Err(CliError::arg(
                "--block",
                format!("required for --method {why}"),
            )),
        }
    };
    let method = match a.method {
        PinMethod::VisaPin => PinGeneration::VisaPin {
            pvki: pvki_arg(a.pvki.as_ref())?,
            pin_length,
        },
        PinMethod::VisaPvv => PinGeneration::VisaPvv {
            pvki: pvki_arg(a.pvki.as_ref())?,
            pin_block: block("visa-pvv")?,
        },
        PinMethod::IbmNatural => PinGeneration::Ibm3624NaturalPin {
            ibm: a.ibm.ibm()?,
            pin_length,
        },
        PinMethod::IbmRandom => PinGeneration::Ibm3624RandomPin {
            ibm: a.ibm.ibm()?,
            pin_length,
        },
        PinMethod::IbmOffset => PinGeneration::Ibm3624PinOffset {
            ibm: a.ibm.ibm()?,
            pin_block: block("ibm-offset")?,
        },
        PinMethod::IbmFromOffset => {
            let o = a.offset.as_deref().ok_or_else(|| {
                CliError::arg("--offset", "required for --method ibm-from-offset")
            })?;
            PinGeneration::Ibm3624PinFromOffset {
                ibm: a.ibm.ibm()?,
                offset: PinOffset::new(o.trim())
                    .map_err(|e| CliError::arg("--offset", &e.reason))?,
            }
        }
    };
    let pvk_usage = match method.scheme() {
        PinScheme::Ibm3624 => KeyUsage::PinVerificationIbm3624,
        PinScheme::VisaPvv => KeyUsage::PinVerificationVisaPvv,
    };
    let iso4 = format == PinBlockFormat::Iso4;
    let s = Session::open(&a.backend).await?;
    let pvk = s
        .key(
            "--pvk",
            a.pvk.as_ref(),
            a.pvk_hex.as_ref(),
            pvk_usage,
            false,
        )
        .await?;
    let pek = s
        .key(
            "--pek",
            a.pek.as_ref(),
            a.pek_hex.as_ref(),
            KeyUsage::PinEncryption,
            iso4,
        )
        .await?;
    let r = s
        .backend
        .generate_pin_data(GeneratePinDataRequest {
            generation_key: pvk,
            encryption_key: pek,
            format,
            pan: pan.clone(),
            method,
        })
        .await?;
    let mut out = Output::new()
        .field("pin_block", hex::encode_upper(r.pin_block.as_bytes()))
        .field("format", r.format.code());
    out = match &r.pin_data {
        PinData::Offset(o) => out.field("pin_offset", o.expose()),
        PinData::Pvv(p) => out.field("pvv", p.expose()),
    };
    out = out
        .field("pvk_kcv", r.generation_key_check_value.to_string())
        .field("pek_kcv", r.encryption_key_check_value.to_string())
        .field("backend", s.backend.name().to_string());
    // The clear PIN, only from a clear test key given here, only when asked.
    if let Some(h) = &a.pek_hex {
        let clear = args::secret_hex("--pek-hex", h)?;
        let c = if iso4 {
            BlockCipher::aes(clear.expose())
        } else {
            BlockCipher::tdes(clear.expose())
        }
        .map_err(|e| CliError::arg("--pek-hex", &e.reason))?;
        let pin =
            pinblock::decrypt_pin_block(&c, format, r.pin_block.as_bytes(), Some(pan.expose()))
                .map_err(|e| {
                    CliError::op(format!("the returned PIN block does not decode: {e}"))
                })?;
        out = out.secret("pin", || pin.as_str().to_string(), show);
    }
    Ok(out)
}

/// `pin verify`.
#[derive(Args)]
#[command(group(ArgGroup::new("pvk_key").required(true).args(["pvk", "pvk_hex"])))]
#[command(group(ArgGroup::new("pin_key").required(true).args(["pek", "pek_hex", "bdk", "bdk_hex"])))]
#[command(group(ArgGroup::new("pin_data").required(true).args(["pvv", "offset"])))]
pub struct PinVerifyArgs {
    #[command(flatten)]
    backend: BackendArgs,
    /// PIN verification key (V1 for IBM 3624 with --offset, V2 for Visa with --pvv), by name.
    #[arg(long, value_name = "NAME")]
    pvk: Option<String>,
    /// PIN verification key, clear (software backend only).
    #[arg(long, value_name = "HEX")]
    pvk_hex: Option<String>,
    /// Zone PIN key (P0) of the PIN block, by name.
    #[arg(long, value_name = "NAME")]
    pek: Option<String>,
    /// Zone PIN key, clear (software backend only; AES for format 4).
    #[arg(long, value_name = "HEX")]
    pek_hex: Option<String>,
    /// DUKPT BDK of the PIN block, by name (with --ksn).
    #[arg(long, value_name = "NAME", requires = "ksn")]
    bdk: Option<String>,
    /// DUKPT BDK, clear (software backend only; with --ksn).
    #[arg(long, value_name = "HEX", requires = "ksn")]
    bdk_hex: Option<String>,
    /// DUKPT key serial number (20 hex digits TDES, 24 AES).
    #[arg(long)]
    ksn: Option<String>,
    /// PIN block format: 0, 1, 3 or 4.
    #[arg(long, default_value = "0")]
    format: String,
    /// The PAN.
    #[arg(long)]
    pan: String,
    /// The encrypted PIN block (hex).
    #[arg(long, value_name = "HEX")]
    block: String,
    /// The Visa PVV on file (4 digits; with --pvki).
    #[arg(long, value_name = "DIGITS")]
    pvv: Option<String>,
    /// Visa PIN verification key index, 0 to 6.
    #[arg(long, requires = "pvv")]
    pvki: Option<String>,
    /// The IBM 3624 offset on file (4 to 12 digits: the PIN check length).
    #[arg(long, value_name = "DIGITS")]
    offset: Option<String>,
    /// The expected PIN length (a PIN of another length does not verify).
    #[arg(long)]
    pin_length: Option<u8>,
    #[command(flatten)]
    ibm: IbmArgs,
}

async fn verify(a: &PinVerifyArgs) -> Result<Output, CliError> {
    let format = pin_data_format("--format", &a.format)?;
    let pan = args::pan("--pan", &a.pan)?;
    let pin_block = block_arg("--block", &a.block)?;
    let pin_length = a
        .pin_length
        .map(|n| PinLength::new(n).map_err(|e| CliError::arg("--pin-length", &e.reason)))
        .transpose()?;
    let (method, usage) = match (&a.pvv, &a.offset) {
        (Some(p), None) => (
            PinVerification::VisaPvv {
                pvki: pvki_arg(a.pvki.as_ref())?,
                pvv: Pvv::new(p.trim()).map_err(|e| CliError::arg("--pvv", &e.reason))?,
            },
            KeyUsage::PinVerificationVisaPvv,
        ),
        (None, Some(o)) => (
            PinVerification::Ibm3624 {
                ibm: a.ibm.ibm()?,
                offset: PinOffset::new(o.trim())
                    .map_err(|e| CliError::arg("--offset", &e.reason))?,
            },
            KeyUsage::PinVerificationIbm3624,
        ),
        _ => {
            return Err(CliError::usage(
                "give either --pvv (Visa PVV) or --offset (IBM 3624)",
            ))
        }
    };
    let s = Session::open(&a.backend).await?;
    let iso4 = format == PinBlockFormat::Iso4;
    let pin_key = pin_key(
        &s,
        ("--bdk", a.bdk.as_ref(), a.bdk_hex.as_ref()),
        ("--pek", a.pek.as_ref(), a.pek_hex.as_ref()),
        a.ksn.as_deref(),
        iso4,
    )
    .await?;
    let pvk = s
        .key("--pvk", a.pvk.as_ref(), a.pvk_hex.as_ref(), usage, false)
        .await?;
    let r = s
        .backend
        .verify_pin_data(VerifyPinDataRequest {
            verification_key: pvk,
            pin_key,
            format,
            pan: Pan::clone(&pan),
            pin_block,
            method,
            pin_length,
        })
        .await?;
    Ok(verification(
        Output::new()
            .field(
                "scheme",
                match usage {
                    KeyUsage::PinVerificationIbm3624 => "ibm3624",
                    _ => "visa-pvv",
                },
            )
            .field("backend", s.backend.name().to_string()),
        r.verification,
    ))
}

/// The key a PIN block arrives under: DUKPT from a BDK (named or clear) and
/// `--ksn` when a BDK is given, else a zone PIN key. `bdk` and `zone` are
/// (flag, named key, clear hex key); `iso4` asks for AES keys.
async fn pin_key(
    s: &Session,
    bdk: (&str, Option<&String>, Option<&String>),
    zone: (&str, Option<&String>, Option<&String>),
    ksn: Option<&str>,
    iso4: bool,
) -> Result<PinKey, CliError> {
    if bdk.1.is_some() || bdk.2.is_some() {
        let ksn = args::transaction_ksn("--ksn", ksn.unwrap_or_default())?;
        let bdk_aes = ksn.is_aes();
        let id = s.key(bdk.0, bdk.1, bdk.2, KeyUsage::Bdk, bdk_aes).await?;
        let key_type = if bdk_aes && iso4 {
            KeyAlgorithm::Aes128
        } else {
            KeyAlgorithm::Tdes2
        };
        return Ok(PinKey::Dukpt(Dukpt {
            bdk: id,
            ksn,
            key_type,
        }));
    }
    if ksn.is_some() {
        return Err(CliError::arg(
            "--ksn",
            format!("applies only with {0} or {0}-hex", bdk.0),
        ));
    }
    Ok(PinKey::Key(
        s.key(zone.0, zone.1, zone.2, KeyUsage::PinEncryption, iso4)
            .await?,
    ))
}
