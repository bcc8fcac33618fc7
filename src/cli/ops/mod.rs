//! Operations that run on a backend (`--backend`): PIN translation, CVV,
//! ARQC / ARPC, MAC. Keys are named (`--key NAME`, resolved through
//! `--keys FILE`) or, on the in-process software backend only, given in
//! clear (`--key-hex`) and loaded through the key-exchange path.

use super::args::{self, with};
use super::backend::{backend_url, open_backend, SoftwareSession};
use super::keys::KeyConfig;
use super::output::{CliError, Output, EXIT_FAILED};
use super::BackendArgs;
use crate::algo::emv::{self, MkDerivation};
use crate::backend::{Backend, BackendExt};
use crate::connect::BackendUrl;
use crate::ops::*;
use crate::types::{
    CardExpiry, KeyAlgorithm, KeyAttributes, KeyId, KeyUsage, ModesOfUse, Psn, ServiceCode,
    Verification,
};
use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use std::sync::Arc;

mod arqc;
mod pin;
pub use arqc::*;
pub use pin::*;

/// An opened backend plus what is needed to name keys on it.
struct Session {
    backend: Arc<dyn Backend>,
    config: KeyConfig,
    have_file: bool,
    software: Option<SoftwareSession>,
}

impl Session {
    async fn open(b: &BackendArgs) -> Result<Self, CliError> {
        let url = backend_url(b)?;
        let config = match &b.keys {
            Some(p) => KeyConfig::load(p)?,
            None => KeyConfig::default(),
        };
        let (backend, software): (Arc<dyn Backend>, _) = if url == BackendUrl::Software {
            let s = SoftwareSession::new().await?;
            s.load_config(&config).await?;
            (Arc::new(s.backend()), Some(s))
        } else {
            (open_backend(&url, &config, b).await?, None)
        };
        Ok(Self {
            backend,
            config,
            have_file: b.keys.is_some(),
            software,
        })
    }

    /// The key named by `--NAME NAME` or given in clear by `--NAME-hex HEX`.
    async fn key(
        &self,
        flag: &str,
        name: Option<&String>,
        clear_hex: Option<&String>,
        usage: KeyUsage,
        aes: bool,
    ) -> Result<KeyId, CliError> {
        let hex_flag = format!("{flag}-hex");
        match (name, clear_hex) {
            (Some(n), None) => self.config.resolve(flag, n, self.have_file),
            (None, Some(h)) => {
                let Some(s) = &self.software else {
                    return Err(CliError::arg(
                        &hex_flag,
                        "clear keys can be loaded only into --backend software; \
                         name a key on the backend with a key NAME instead",
                    ));
                };
                let clear = args::secret_hex(&hex_flag, h)?;
                let alg = if usage == KeyUsage::MacHmac {
                    if clear.len() != 32 {
                        return Err(CliError::arg(&hex_flag, "an HMAC-SHA-256 key is 32 bytes"));
                    }
                    KeyAlgorithm::HmacSha256
                } else {
                    args::key_algorithm(&hex_flag, clear.len(), aes)?
                };
                let id = with(
                    &hex_flag,
                    KeyId::new(format!("cli/{}", flag.trim_start_matches('-'))),
                )?;
                let attrs = KeyAttributes::new(usage, alg, ModesOfUse::default_for(usage));
                s.load(&id, attrs, clear.expose())
                    .await
                    .map_err(|e| CliError::arg(&hex_flag, e.context()))?;
                Ok(id)
            }
            _ => Err(CliError::usage(format!(
                "a key is required: {flag} NAME or {hex_flag} HEX"
            ))),
        }
    }
}

fn verification(out: Output, v: Verification) -> Output {
    let mut out = out.field(
        "verification",
        if v.is_verified() {
            "verified"
        } else {
            "failed"
        },
    );
    if !v.is_verified() {
        out.code = EXIT_FAILED;
    }
    out
}

// ------------------------------------------------------------ CVV

/// Which card validation value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CvvKind {
    /// Magnetic-stripe CVV with --service-code.
    Cvv,
    /// CVV2 (service code 000).
    Cvv2,
    /// iCVV (service code 999).
    Icvv,
}

/// `cvv …`.
#[derive(Subcommand)]
pub enum CvvCommand {
    /// Generate a CVV / CVV2 / iCVV.
    #[command(
        after_help = "Example:\n  paycrypto cvv generate --key-hex 0123456789ABCDEFFEDCBA9876543210 \\\n      --pan 4123456789012 --expiry 8701 --service-code 101"
    )]
    Generate(CvvArgs),
    /// Verify a CVV / CVV2 / iCVV (exit code 1 when it does not verify).
    #[command(
        after_help = "Example:\n  paycrypto cvv verify --key-hex 0123456789ABCDEFFEDCBA9876543210 \\\n      --pan 4123456789012 --expiry 8701 --service-code 101 --value 370"
    )]
    Verify(CvvVerifyArgs),
}

/// `cvv generate`.
#[derive(Args)]
#[command(group(ArgGroup::new("cvk").required(true).args(["key", "key_hex"])))]
pub struct CvvArgs {
    #[command(flatten)]
    backend: BackendArgs,
    /// Card verification key (C0), by name.
    #[arg(long, value_name = "NAME")]
    key: Option<String>,
    /// Card verification key, clear (software backend only).
    #[arg(long, value_name = "HEX")]
    key_hex: Option<String>,
    /// The PAN.
    #[arg(long)]
    pan: String,
    /// Expiry, four digits as the card carries them (usually YYMM).
    #[arg(long)]
    expiry: String,
    /// Which value (default: cvv when --service-code is given, else cvv2).
    #[arg(long, value_enum)]
    kind: Option<CvvKind>,
    /// Service code for the magnetic-stripe CVV.
    #[arg(long)]
    service_code: Option<String>,
}

/// `cvv verify`.
#[derive(Args)]
pub struct CvvVerifyArgs {
    #[command(flatten)]
    common: CvvArgs,
    /// The value to verify.
    #[arg(long)]
    value: String,
}

fn cvv_kind(a: &CvvArgs) -> Result<CardValidationKind, CliError> {
    let kind = a.kind.unwrap_or(if a.service_code.is_some() {
        CvvKind::Cvv
    } else {
        CvvKind::Cvv2
    });
    match (kind, &a.service_code) {
        (CvvKind::Cvv, Some(sc)) => Ok(CardValidationKind::Cvv(with(
            "--service-code",
            ServiceCode::new(sc.trim()),
        )?)),
        (CvvKind::Cvv, None) => Err(CliError::arg("--service-code", "required for --kind cvv")),
        (_, Some(_)) => Err(CliError::arg(
            "--service-code",
            "applies to --kind cvv only (CVV2 uses 000, iCVV 999)",
        )),
        (CvvKind::Cvv2, None) => Ok(CardValidationKind::Cvv2),
        (CvvKind::Icvv, None) => Ok(CardValidationKind::Icvv),
    }
}

pub(super) async fn cvv(c: &CvvCommand) -> Result<Output, CliError> {
    let (a, value) = match c {
        CvvCommand::Generate(a) => (a, None),
        CvvCommand::Verify(v) => (&v.common, Some(v.value.trim())),
    };
    let pan = args::pan("--pan", &a.pan)?;
    let expiry = with("--expiry", CardExpiry::new(a.expiry.trim()))?;
    let kind = cvv_kind(a)?;
    if let Some(v) = value {
        if !(3..=5).contains(&v.len()) || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CliError::arg("--value", "expected 3 decimal digits"));
        }
    }
    let s = Session::open(&a.backend).await?;
    let key = s
        .key(
            "--key",
            a.key.as_ref(),
            a.key_hex.as_ref(),
            KeyUsage::CardVerification,
            false,
        )
        .await?;
    let kind_name = match kind {
        CardValidationKind::Cvv(sc) => format!("cvv (service code {sc})"),
        CardValidationKind::Cvv2 => "cvv2".into(),
        CardValidationKind::Icvv => "icvv".into(),
    };
    let out = Output::new().field("kind", kind_name);
    match value {
        None => {
            let r = s
                .backend
                .generate_card_validation(GenerateCardValidationRequest {
                    key,
                    pan,
                    expiry,
                    kind,
                })
                .await?;
            Ok(out
                .field("value", r.value.expose())
                .field("key_kcv", r.key_check_value.to_string()))
        }
        Some(v) => {
            let r = s
                .backend
                .verify_card_validation(VerifyCardValidationRequest {
                    key,
                    pan,
                    expiry,
                    kind,
                    value: crate::Cvv::new(v)?,
                })
                .await?;
            Ok(verification(out, r.verification))
        }
    }
}

// ------------------------------------------------------------ MAC

/// MAC algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MacAlg {
    /// ISO 9797-1 algorithm 1 (CBC-MAC), key usage M1.
    Alg1,
    /// ISO 9797-1 algorithm 3 (retail MAC), key usage M3.
    Alg3,
    /// CMAC (TDES or AES with --aes), key usage M6.
    Cmac,
    /// HMAC-SHA-256, key usage M7.
    Hmac,
}

/// `mac …`.
#[derive(Subcommand)]
pub enum MacCommand {
    /// Generate a MAC.
    #[command(
        after_help = "Example:\n  paycrypto mac generate --key-hex 0123456789ABCDEFFEDCBA9876543210 \\\n      --algorithm alg3 --padding 1 --text 'Now is the time for all ' --length 4"
    )]
    Generate(MacArgs),
    /// Verify a MAC (exit code 1 when it does not verify).
    #[command(
        after_help = "Example:\n  paycrypto mac verify --key-hex 0123456789ABCDEFFEDCBA9876543210 \\\n      --algorithm alg3 --padding 1 --text 'Now is the time for all ' --mac A1C72E74"
    )]
    Verify(MacVerifyArgs),
}

/// `mac generate`.
#[derive(Args)]
#[command(group(ArgGroup::new("mac_key").required(true).args(["key", "key_hex"])))]
#[command(group(ArgGroup::new("message").required(true).args(["data", "text"])))]
pub struct MacArgs {
    #[command(flatten)]
    backend: BackendArgs,
    /// MAC key, by name.
    #[arg(long, value_name = "NAME")]
    key: Option<String>,
    /// MAC key, clear (software backend only).
    #[arg(long, value_name = "HEX")]
    key_hex: Option<String>,
    /// Algorithm.
    #[arg(long, value_enum)]
    algorithm: MacAlg,
    /// ISO 9797-1 padding for alg1 and alg3.
    #[arg(long, value_enum, default_value = "1")]
    padding: PaddingArg,
    /// The message (hex).
    #[arg(long, value_name = "HEX")]
    data: Option<String>,
    /// The message (text, as UTF-8 bytes).
    #[arg(long)]
    text: Option<String>,
    /// MAC length in bytes (4 to the full length).
    #[arg(long)]
    length: Option<usize>,
    /// A 16- or 24-byte --key-hex is AES (TDES otherwise).
    #[arg(long)]
    aes: bool,
}

/// `mac verify`.
#[derive(Args)]
pub struct MacVerifyArgs {
    #[command(flatten)]
    common: MacArgs,
    /// The MAC to verify (hex).
    #[arg(long, value_name = "HEX")]
    mac: String,
}

pub(super) async fn mac(c: &MacCommand) -> Result<Output, CliError> {
    let (a, mac) = match c {
        MacCommand::Generate(a) => (a, None),
        MacCommand::Verify(v) => (&v.common, Some(args::hex("--mac", &v.mac)?)),
    };
    let data = match (&a.data, &a.text) {
        (Some(d), _) => args::hex("--data", d)?,
        (None, Some(t)) => t.as_bytes().to_vec(),
        (None, None) => {
            return Err(CliError::usage(
                "a message is required: --data HEX or --text TEXT",
            ))
        }
    };
    let (algorithm, usage) = match a.algorithm {
        MacAlg::Alg1 => (
            MacAlgorithm::Iso9797Alg1(a.padding.padding()),
            KeyUsage::MacIso9797Alg1,
        ),
        MacAlg::Alg3 => (
            MacAlgorithm::Iso9797Alg3(a.padding.padding()),
            KeyUsage::MacIso9797Alg3,
        ),
        MacAlg::Cmac => (MacAlgorithm::Cmac, KeyUsage::MacCmac),
        MacAlg::Hmac => (MacAlgorithm::HmacSha256, KeyUsage::MacHmac),
    };
    if let Some(n) = a.length {
        if n < 4 {
            return Err(CliError::arg("--length", "a MAC is at least 4 bytes"));
        }
    }
    if mac.is_some() && a.length.is_some() {
        return Err(CliError::arg(
            "--length",
            "verify takes the length from --mac",
        ));
    }
    let s = Session::open(&a.backend).await?;
    let key = s
        .key("--key", a.key.as_ref(), a.key_hex.as_ref(), usage, a.aes)
        .await?;
    match mac {
        None => {
            let r = s
                .backend
                .generate_mac(GenerateMacRequest {
                    key,
                    algorithm,
                    data,
                    mac_length: a.length,
                })
                .await?;
            Ok(Output::new()
                .field("mac", hex::encode_upper(r.mac))
                .field("key_kcv", r.key_check_value.to_string()))
        }
        Some(mac) => {
            let r = s
                .backend
                .verify_mac(VerifyMacRequest {
                    key,
                    algorithm,
                    data,
                    mac,
                })
                .await?;
            Ok(verification(Output::new(), r.verification))
        }
    }
}
