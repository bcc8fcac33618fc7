//! Local calculators on clear test keys: KCV, PIN blocks, DUKPT, TR-31,
//! components. All arithmetic is `crate::algo`; nothing is re-implemented.

use super::args::{self, with};
use super::output::{CliError, Output};
use crate::algo::cipher::BlockCipher;
use crate::algo::dukpt::{self, AesDukptKeyType, AesDukptUsage, TdesDukptUsage};
use crate::algo::kcv::KcvMethod;
use crate::algo::pinblock::{self, PinBlockFormat};
use crate::algo::tr31;
use crate::keyload;
use crate::software::key_check_value;
use crate::types::{Exportability, KeyAlgorithm, KeyAttributes, KeyUsage, ModesOfUse, SecretBytes};
use clap::{Args, Subcommand, ValueEnum};

fn hex_up(b: &[u8]) -> String {
    hex::encode_upper(b)
}

/// Key algorithm family for a clear key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Family {
    /// TDES (16 or 24 bytes).
    Tdes,
    /// AES (16, 24 or 32 bytes).
    Aes,
    /// HMAC-SHA-256 (32 bytes).
    Hmac,
}

/// `kcv`.
#[derive(Args)]
pub struct KcvArgs {
    /// The clear key (hex).
    #[arg(long, value_name = "HEX")]
    key_hex: String,
    /// Key family (default: TDES for 16/24 bytes, AES for 32).
    #[arg(long, value_enum)]
    algorithm: Option<Family>,
}

fn algorithm_of(
    arg: &str,
    key: &SecretBytes,
    family: Option<Family>,
) -> Result<KeyAlgorithm, CliError> {
    match family {
        Some(Family::Hmac) if key.len() == 32 => Ok(KeyAlgorithm::HmacSha256),
        Some(Family::Hmac) => Err(CliError::arg(arg, "an HMAC-SHA-256 key is 32 bytes")),
        Some(Family::Tdes) if key.len() == 32 => {
            Err(CliError::arg(arg, "a TDES key is 16 or 24 bytes"))
        }
        f => args::key_algorithm(arg, key.len(), f == Some(Family::Aes)),
    }
}

pub(super) fn kcv(a: &KcvArgs) -> Result<Output, CliError> {
    let key = args::secret_hex("--key-hex", &a.key_hex)?;
    let alg = algorithm_of("--key-hex", &key, a.algorithm)?;
    let kcv = with("--key-hex", key_check_value(alg, key.expose()))?;
    Ok(Output::new()
        .field("algorithm", alg.aws_name())
        .field("kcv", kcv.to_string())
        .field("method", KcvMethod::default_for(alg).description()))
}

// ------------------------------------------------------------ PIN blocks

/// `pinblock …`.
#[derive(Subcommand)]
pub enum PinblockCommand {
    /// Encode a PIN into a PIN block, and encipher it when a key is given.
    #[command(
        after_help = "Example:\n  paycrypto pinblock encode --pin 1234 --pan 1234567890123 --format 0 \\\n      --key-hex 13345779133457791334577913345779"
    )]
    Encode(PinblockEncodeArgs),
    /// Decipher (when a key is given) and decode a PIN block, checking every format rule.
    #[command(
        after_help = "Example:\n  paycrypto --show-secrets pinblock decode --block 3C0CA40863092C3A \\\n      --pan 1234567890123 --format 0 --key-hex 13345779133457791334577913345779"
    )]
    Decode(PinblockDecodeArgs),
}

/// `pinblock encode`.
#[derive(Args)]
pub struct PinblockEncodeArgs {
    /// The PIN (4 to 12 digits).
    #[arg(long)]
    pin: String,
    /// ISO 9564 format: 0, 1, 2, 3 or 4.
    #[arg(long)]
    format: String,
    /// The PAN (formats 0, 3 and 4).
    #[arg(long)]
    pan: Option<String>,
    /// Clear PIN key (hex): TDES for formats 0-3, AES for format 4.
    #[arg(long, value_name = "HEX")]
    key_hex: Option<String>,
    /// Fixed fill (8 bytes hex) instead of random, for formats 1, 3 and 4 (test vectors).
    #[arg(long, value_name = "HEX")]
    fill: Option<String>,
}

/// `pinblock decode`.
#[derive(Args)]
pub struct PinblockDecodeArgs {
    /// The PIN block (hex; enciphered when --key-hex is given).
    #[arg(long, value_name = "HEX")]
    block: String,
    /// ISO 9564 format: 0, 1, 2, 3 or 4.
    #[arg(long)]
    format: String,
    /// The PAN (formats 0, 3 and 4).
    #[arg(long)]
    pan: Option<String>,
    /// Clear PIN key (hex) to decipher the block first.
    #[arg(long, value_name = "HEX")]
    key_hex: Option<String>,
}

fn pin_cipher(
    arg: &str,
    hexkey: &str,
    fmt: PinBlockFormat,
) -> Result<(BlockCipher, String), CliError> {
    let key = args::secret_hex(arg, hexkey)?;
    let aes = fmt == PinBlockFormat::Iso4;
    let alg = args::key_algorithm(arg, key.len(), aes)?;
    if aes != alg.is_aes() {
        return Err(CliError::arg(
            arg,
            "format 4 needs an AES key; formats 0-3 a TDES key",
        ));
    }
    let c = if aes {
        BlockCipher::aes(key.expose())
    } else {
        BlockCipher::tdes(key.expose())
    };
    let c = c.map_err(|e| CliError::arg(arg, &e.reason))?;
    let kcv = with(arg, key_check_value(alg, key.expose()))?;
    Ok((c, kcv.to_string()))
}

fn need_pan(fmt: PinBlockFormat, pan: &Option<String>) -> Result<Option<crate::Pan>, CliError> {
    match pan {
        Some(p) => Ok(Some(args::pan("--pan", p)?)),
        None if fmt.needs_pan() => Err(CliError::arg(
            "--pan",
            format!("required for PIN block format {}", fmt.code()),
        )),
        None => Ok(None),
    }
}

pub(super) fn pinblock(c: &PinblockCommand, show: bool) -> Result<Output, CliError> {
    match c {
        PinblockCommand::Encode(a) => {
            let fmt = args::format("--format", &a.format)?;
            let pin = args::pin("--pin", &a.pin)?;
            let pan = need_pan(fmt, &a.pan)?;
            let pan_s = pan.as_ref().map(|p| p.expose());
            let clear = match &a.fill {
                Some(f) => {
                    let fill = args::hex_n::<8>("--fill", f)?;
                    pinblock::encode_pin_block_with_fill(fmt, &pin, pan_s, &fill)
                }
                // Random fill as the format asks (A-F for format 3).
                None => pinblock::encode_pin_block(fmt, &pin, pan_s, &mut rand::rng()),
            }
            .map_err(|e| {
                let arg = match e.field {
                    "fill" => "--fill",
                    "pan" => "--pan",
                    _ => "--pin",
                };
                CliError::arg(arg, e.reason)
            })?;
            finish_encode(a, fmt, clear, pan_s, show)
        }
        PinblockCommand::Decode(a) => {
            let fmt = args::format("--format", &a.format)?;
            let pan = need_pan(fmt, &a.pan)?;
            let pan_s = pan.as_ref().map(|p| p.expose());
            let block = args::hex("--block", &a.block)?;
            let mut out = Output::new().field("format", fmt.code());
            let pin = match &a.key_hex {
                Some(k) => {
                    let (c, kcv) = pin_cipher("--key-hex", k, fmt)?;
                    out.push("key_kcv", kcv);
                    pinblock::decrypt_pin_block(&c, fmt, &block, pan_s)
                }
                None => pinblock::decode_pin_block(fmt, &block, pan_s),
            }
            .map_err(|e| CliError::arg("--block", format!("{}: {}", e.field, e.reason)))?;
            Ok(out
                .field("valid", true)
                .field("pin_length", pin.digits().len())
                .secret("pin", || pin.as_str().to_string(), show))
        }
    }
}

fn finish_encode(
    a: &PinblockEncodeArgs,
    fmt: PinBlockFormat,
    clear: pinblock::ClearPinBlock,
    pan: Option<&str>,
    show: bool,
) -> Result<Output, CliError> {
    let name = if fmt == PinBlockFormat::Iso4 {
        "clear_pin_field"
    } else {
        "clear_pin_block"
    };
    let mut out =
        Output::new()
            .field("format", fmt.code())
            .secret(name, || hex_up(clear.as_bytes()), show);
    if let Some(k) = &a.key_hex {
        let (c, kcv) = pin_cipher("--key-hex", k, fmt)?;
        let enc = pinblock::encipher_pin_block(&c, fmt, clear.as_bytes(), pan)
            .map_err(|e| CliError::arg("--key-hex", &e.reason))?;
        out.push("pin_block", hex_up(enc.as_bytes()));
        out.push("key_kcv", kcv);
    }
    Ok(out)
}

// ------------------------------------------------------------ DUKPT

/// `dukpt …`.
#[derive(Subcommand)]
pub enum DukptCommand {
    /// Initial key (IPEK) and working keys for a KSN; KCVs, clear keys with --show-secrets.
    #[command(after_help = "Examples:\n  \
        paycrypto dukpt derive --bdk-hex 0123456789ABCDEFFEDCBA9876543210 --ksn FFFF9876543210E00001\n  \
        paycrypto --show-secrets dukpt derive --bdk-hex FEDCBA9876543210F1F1F1F1F1F1F1F1 \\\n      --ksn 123456789012345600000001 --key-type aes128")]
    Derive(DukptDeriveArgs),
}

/// AES DUKPT working-key type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DukptKeyType {
    /// Two-key TDES.
    Tdes2,
    /// Three-key TDES.
    Tdes3,
    /// AES-128.
    Aes128,
    /// AES-192.
    Aes192,
    /// AES-256.
    Aes256,
}

impl DukptKeyType {
    fn algo(self) -> AesDukptKeyType {
        match self {
            Self::Tdes2 => AesDukptKeyType::Tdes2,
            Self::Tdes3 => AesDukptKeyType::Tdes3,
            Self::Aes128 => AesDukptKeyType::Aes128,
            Self::Aes192 => AesDukptKeyType::Aes192,
            Self::Aes256 => AesDukptKeyType::Aes256,
        }
    }
}

/// `dukpt derive`.
#[derive(Args)]
pub struct DukptDeriveArgs {
    /// Clear BDK (hex): 16 bytes for TDES DUKPT; 16, 24 or 32 for AES DUKPT.
    #[arg(long, value_name = "HEX")]
    bdk_hex: String,
    /// KSN: 20 hex digits (TDES) or 24 (AES); a zero counter gives the initial key only.
    #[arg(long)]
    ksn: String,
    /// AES DUKPT working-key type (default: the BDK's AES type).
    #[arg(long, value_enum)]
    key_type: Option<DukptKeyType>,
}

fn kcv_of(key: &[u8], aes: bool) -> String {
    args::key_algorithm("key", key.len(), aes)
        .ok()
        .and_then(|alg| key_check_value(alg, key).ok())
        .map(|k| k.to_string())
        .unwrap_or_default()
}

fn derived(out: Output, name: &str, key: &[u8], aes: bool, show: bool) -> Output {
    out.field(&format!("{name}_kcv"), kcv_of(key, aes))
        .secret(name, || hex_up(key), show)
}

pub(super) fn dukpt(c: &DukptCommand, show: bool) -> Result<Output, CliError> {
    let DukptCommand::Derive(a) = c;
    let bdk = args::secret_hex("--bdk-hex", &a.bdk_hex)?;
    let ksn = args::ksn("--ksn", &a.ksn)?;
    let bad_bdk = |e: crate::algo::AlgoError| {
        let arg = match e.field {
            "bdk" => "--bdk-hex",
            "key type" => "--key-type",
            _ => "--ksn",
        };
        CliError::arg(arg, e.reason)
    };
    let mut out = Output::new().field("ksn", ksn.to_hex());
    if !ksn.is_aes() {
        if a.key_type.is_some() {
            return Err(CliError::arg(
                "--key-type",
                "TDES DUKPT (a 20-digit KSN) derives double-length TDES keys only",
            ));
        }
        out.push("scheme", "TDES DUKPT (ANSI X9.24-1:2009)");
        out.push("bdk_kcv", kcv_of(bdk.expose(), false));
        let ipek = dukpt::tdes_ipek(bdk.expose(), &ksn).map_err(bad_bdk)?;
        out = derived(out, "ipek", ipek.as_slice(), false, show);
        if ksn.is_initial() {
            return Ok(out);
        }
        out.push("counter", ksn.counter());
        let tk = dukpt::tdes_transaction_key_from_ipek(ipek.as_slice(), &ksn).map_err(bad_bdk)?;
        out = derived(out, "transaction_key", tk.as_slice(), false, show);
        for (name, usage) in [
            ("pin_key", TdesDukptUsage::Pin),
            ("mac_request_key", TdesDukptUsage::MacRequest),
            ("mac_response_key", TdesDukptUsage::MacResponse),
            ("data_request_key", TdesDukptUsage::DataRequest),
            ("data_response_key", TdesDukptUsage::DataResponse),
            (
                "data_request_variant_key",
                TdesDukptUsage::DataRequestVariant,
            ),
            (
                "data_response_variant_key",
                TdesDukptUsage::DataResponseVariant,
            ),
        ] {
            let k = dukpt::tdes_working_key_from_transaction_key(tk.as_slice(), usage)
                .map_err(bad_bdk)?;
            out = derived(out, name, k.as_slice(), false, show);
        }
        return Ok(out);
    }
    out.push("scheme", "AES DUKPT (ANSI X9.24-3:2017)");
    let bdk_type = match bdk.len() {
        16 => DukptKeyType::Aes128,
        24 => DukptKeyType::Aes192,
        32 => DukptKeyType::Aes256,
        n => {
            return Err(CliError::arg(
                "--bdk-hex",
                format!("{n} bytes; an AES BDK is 16, 24 or 32"),
            ))
        }
    };
    let key_type = a.key_type.unwrap_or(bdk_type).algo();
    out.push("bdk_kcv", kcv_of(bdk.expose(), true));
    let ik = dukpt::aes_initial_key(bdk.expose(), &ksn).map_err(bad_bdk)?;
    out = derived(out, "initial_key", ik.as_bytes(), true, show);
    if ksn.is_initial() {
        return Ok(out);
    }
    out.push("counter", ksn.counter());
    let dk = dukpt::aes_transaction_derivation_key(bdk.expose(), &ksn).map_err(bad_bdk)?;
    out = derived(out, "derivation_key", dk.as_bytes(), true, show);
    out.push("working_key_type", format!("{key_type:?}"));
    for (name, usage) in [
        ("pin_key", AesDukptUsage::PinEncryption),
        ("mac_generation_key", AesDukptUsage::MacGeneration),
        ("mac_verification_key", AesDukptUsage::MacVerification),
        ("mac_both_key", AesDukptUsage::MacBoth),
        ("data_encrypt_key", AesDukptUsage::DataEncrypt),
        ("data_decrypt_key", AesDukptUsage::DataDecrypt),
        ("data_both_key", AesDukptUsage::DataBoth),
        ("key_encryption_key", AesDukptUsage::KeyEncryption),
    ] {
        let k = dukpt::aes_working_key_from_derivation_key(dk.as_bytes(), &ksn, usage, key_type)
            .map_err(bad_bdk)?;
        out = derived(out, name, k.as_bytes(), key_type.is_aes(), show);
    }
    Ok(out)
}

// ------------------------------------------------------------ TR-31

/// `tr31 …`.
#[derive(Subcommand)]
pub enum Tr31Command {
    /// Wrap a clear key in a TR-31 key block under a clear KBPK.
    #[command(
        after_help = "Example:\n  paycrypto tr31 wrap --kbpk-hex 89E88CF7931444F334BD7547FC3F380C \\\n      --key-hex 13345779133457791334577913345779 --usage P0 --version B"
    )]
    Wrap(Tr31WrapArgs),
    /// Unwrap a TR-31 key block: header, KCV, and the clear key with --show-secrets.
    #[command(
        after_help = "Example:\n  paycrypto tr31 unwrap --kbpk-hex EFE0853B256B583D868F251CE99EA1D9 \\\n      --block A0072K0TN00N0000F40D5672C6D0EC86F860BA88D44D00F0CA9A8CE8CD2F640287A9A9EB"
    )]
    Unwrap(Tr31UnwrapArgs),
}

/// `tr31 wrap`.
#[derive(Args)]
pub struct Tr31WrapArgs {
    /// Clear key-block protection key (hex).
    #[arg(long, value_name = "HEX")]
    kbpk_hex: String,
    /// Clear key to wrap (hex).
    #[arg(long, value_name = "HEX")]
    key_hex: String,
    /// TR-31 key usage of the wrapped key (P0, B0, C0, E0, K0, M3, D0, …).
    #[arg(long)]
    usage: String,
    /// TR-31 mode of use (default from the usage: B, C or X).
    #[arg(long)]
    mode: Option<String>,
    /// Exportability: E, N or S.
    #[arg(long, default_value = "E")]
    exportability: String,
    /// Key block version: A, B, C (TDES KBPK) or D (AES KBPK). Default: B for
    /// a 16/24-byte KBPK, D for 32 bytes.
    #[arg(long)]
    version: Option<String>,
    /// The wrapped key is AES (16/24-byte keys are TDES otherwise).
    #[arg(long)]
    aes: bool,
}

/// `tr31 unwrap`.
#[derive(Args)]
pub struct Tr31UnwrapArgs {
    /// Clear key-block protection key (hex).
    #[arg(long, value_name = "HEX")]
    kbpk_hex: String,
    /// The key block.
    #[arg(long)]
    block: String,
}

fn one_char(arg: &str, s: &str) -> Result<char, CliError> {
    let mut it = s.trim().chars();
    match (it.next(), it.next()) {
        (Some(c), None) => Ok(c.to_ascii_uppercase()),
        _ => Err(CliError::arg(arg, "expected one character")),
    }
}

pub(super) fn tr31(c: &Tr31Command, show: bool) -> Result<Output, CliError> {
    match c {
        Tr31Command::Wrap(a) => {
            let kbpk = args::secret_hex("--kbpk-hex", &a.kbpk_hex)?;
            let key = args::secret_hex("--key-hex", &a.key_hex)?;
            let version = match &a.version {
                Some(v) => tr31::Version::from_char(one_char("--version", v)?)
                    .ok_or_else(|| CliError::arg("--version", "expected A, B, C or D"))?,
                None if kbpk.len() == 32 => tr31::Version::D,
                None => tr31::Version::B,
            };
            let usage = KeyUsage::from_code(a.usage.trim().to_ascii_uppercase().as_str())
                .map_err(|_| CliError::arg("--usage", "unknown TR-31 key usage"))?;
            let alg = if usage == KeyUsage::MacHmac && key.len() == 32 {
                KeyAlgorithm::HmacSha256
            } else {
                args::key_algorithm("--key-hex", key.len(), a.aes)?
            };
            let modes = match &a.mode {
                Some(m) => ModesOfUse::from_tr31(one_char("--mode", m)?)
                    .map_err(|e| CliError::arg("--mode", e.context()))?,
                None => ModesOfUse::default_for(usage),
            };
            let exp = Exportability::from_tr31(one_char("--exportability", &a.exportability)?)
                .map_err(|e| CliError::arg("--exportability", e.context()))?;
            let attrs = KeyAttributes::new(usage, alg, modes).with_exportability(exp);
            let header = keyload::tr31_header(version, &attrs)
                .map_err(|e| CliError::arg("--usage", e.context()))?;
            let block = tr31::wrap(kbpk.expose(), &header, key.expose(), &mut rand::rng())
                .map_err(|e| {
                    let arg = if e.field == "kbpk" {
                        "--kbpk-hex"
                    } else {
                        "--key-hex"
                    };
                    CliError::arg(arg, e.reason)
                })?;
            let kbpk_alg = if version == tr31::Version::D {
                args::key_algorithm("--kbpk-hex", kbpk.len(), true)?
            } else {
                args::key_algorithm("--kbpk-hex", kbpk.len(), false)?
            };
            Ok(Output::new()
                .field("key_block", block)
                .field(
                    "key_kcv",
                    with("--key-hex", key_check_value(alg, key.expose()))?.to_string(),
                )
                .field(
                    "kbpk_kcv",
                    with("--kbpk-hex", key_check_value(kbpk_alg, kbpk.expose()))?.to_string(),
                ))
        }
        Tr31Command::Unwrap(a) => {
            let kbpk = args::secret_hex("--kbpk-hex", &a.kbpk_hex)?;
            let block = a.block.trim();
            let (h, key) = tr31::unwrap(kbpk.expose(), block).map_err(|e| {
                let arg = if e.field == "kbpk" {
                    "--kbpk-hex"
                } else {
                    "--block"
                };
                CliError::arg(arg, format!("{}: {}", e.field, e.reason))
            })?;
            let alg = KeyAlgorithm::from_tr31(h.algorithm.as_char(), key.len()).ok();
            let kcv = match alg {
                Some(alg) => key_check_value(alg, &key)
                    .map(|k| k.to_string())
                    .unwrap_or_default(),
                None => String::new(),
            };
            let kv = String::from_utf8_lossy(&h.key_version).into_owned();
            Ok(Output::new()
                .field("version", h.version.as_char().to_string())
                .field("key_usage", h.key_usage.as_str())
                .field("algorithm", h.algorithm.as_char().to_string())
                .field("mode_of_use", h.mode_of_use.as_char().to_string())
                .field("key_version", kv)
                .field("exportability", h.exportability.as_char().to_string())
                .field("key_length", key.len())
                .field("key_kcv", kcv)
                .secret("key", || hex_up(&key), show))
        }
    }
}

// ------------------------------------------------------------ components

/// `components …`.
#[derive(Subcommand)]
pub enum ComponentsCommand {
    /// XOR 2 to 9 clear components into a key (TDES: odd parity set); KCVs,
    /// and the key with --show-secrets.
    #[command(
        after_help = "Example:\n  paycrypto components combine --component 0123456789ABCDEFFEDCBA9876543210 \\\n      --component 5B5B5B5B5B5B5B5B5B5B5B5B5B5B5B5B"
    )]
    Combine(CombineArgs),
}

/// `components combine`.
#[derive(Args)]
pub struct CombineArgs {
    /// A clear component (hex); give it 2 to 9 times.
    #[arg(long = "component", value_name = "HEX", required = true)]
    components: Vec<String>,
    /// Key family (default: TDES for 16/24 bytes, AES for 32).
    #[arg(long, value_enum)]
    algorithm: Option<Family>,
}

pub(super) fn components(c: &ComponentsCommand, show: bool) -> Result<Output, CliError> {
    let ComponentsCommand::Combine(a) = c;
    let parts = a
        .components
        .iter()
        .map(|s| args::secret_hex("--component", s))
        .collect::<Result<Vec<_>, _>>()?;
    if !(2..=9).contains(&parts.len()) {
        return Err(CliError::arg(
            "--component",
            format!("{} given, expected 2 to 9", parts.len()),
        ));
    }
    let first = parts.first().map(|p| p.len()).unwrap_or(0);
    if let Some(i) = parts.iter().position(|p| p.len() != first) {
        return Err(CliError::arg(
            "--component",
            format!(
                "component {} is {} bytes but component 1 is {first}",
                i + 1,
                parts.get(i).map_or(0, |p| p.len())
            ),
        ));
    }
    let alg = match a.algorithm {
        Some(Family::Hmac) => {
            return Err(CliError::arg("--algorithm", "components are TDES or AES"))
        }
        f => args::key_algorithm("--component", first, f == Some(Family::Aes))?,
    };
    let mut out = Output::new().field("algorithm", alg.aws_name());
    for (i, p) in parts.iter().enumerate() {
        let kcv = with("--component", key_check_value(alg, p.expose()))?;
        out.push(&format!("component_{}_kcv", i + 1), kcv.to_string());
    }
    let slices: Vec<&[u8]> = parts.iter().map(|p| p.expose()).collect();
    let key = keyload::combine_components(alg, &slices)
        .map_err(|e| CliError::arg("--component", e.context()))?;
    let kcv = with("--component", key_check_value(alg, &key))?;
    if alg.is_tdes() {
        out.push("parity", "odd (adjusted)");
    }
    Ok(out
        .field("key_kcv", kcv.to_string())
        .secret("key", || hex_up(&key), show))
}
