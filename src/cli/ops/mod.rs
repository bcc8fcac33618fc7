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
    CardExpiry, CvvLength, KeyAlgorithm, KeyAttributes, KeyId, KeyUsage, ModesOfUse, Psn,
    ServiceCode, Verification,
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
    /// American Express CSC version 1 (expiry).
    AmexCsc1,
    /// American Express CSC version 2 (expiry and --service-code).
    AmexCsc2,
    /// AWS CardHolderVerificationValue (--un, --psn, --atc; EMV master key E6).
    CardholderVerification,
    /// Mastercard dynamic CVC3 (--track-data, --un, --psn, --atc; EMV master key E4).
    DynamicCvc3,
    /// Visa dynamic CVV (expiry, --service-code, --psn, --atc; EMV master key E6).
    DynamicCvv,
    /// Discover dynamic CVC (expiry, --un, --atc; verification only).
    DiscoverDcvc,
}

/// `cvv …`.
#[derive(Subcommand)]
pub enum CvvCommand {
    /// Generate a card validation value (CVV, CVV2, iCVV, Amex CSC, dynamic CVV or CVC3, …).
    #[command(
        after_help = "Examples:\n  paycrypto cvv generate --key-hex 0123456789ABCDEFFEDCBA9876543210 \\\n      --pan 4123456789012 --expiry 8701 --service-code 101\n  paycrypto cvv generate --kind dynamic-cvc3 --key-hex 13345779133457791334577913345779 \\\n      --pan 1234567890123456 --psn 00 --atc 2710 --un 00002710 --length 5 \\\n      --track-data 1234567890123456D12012061000110000000FFFFFFFFFFF"
    )]
    Generate(CvvArgs),
    /// Verify a card validation value (exit code 1 when it does not verify).
    #[command(
        after_help = "Examples:\n  paycrypto cvv verify --key-hex 0123456789ABCDEFFEDCBA9876543210 \\\n      --pan 4123456789012 --expiry 8701 --service-code 101 --value 370\n  paycrypto cvv verify --kind dynamic-cvv --key-hex 13345779133457791334577913345779 \\\n      --pan 1234567890123456 --expiry 1310 --service-code 226 --psn 00 --atc 3210 --value 422"
    )]
    Verify(CvvVerifyArgs),
}

/// `cvv generate`.
#[derive(Args)]
#[command(group(ArgGroup::new("cvk").required(true).args(["key", "key_hex"])))]
pub struct CvvArgs {
    #[command(flatten)]
    backend: BackendArgs,
    /// Card verification key (C0) or, for the dynamic kinds, the issuer master key, by name.
    #[arg(long, value_name = "NAME")]
    key: Option<String>,
    /// The key, clear (software backend only).
    #[arg(long, value_name = "HEX")]
    key_hex: Option<String>,
    /// The PAN.
    #[arg(long)]
    pan: String,
    /// Expiry, four digits as the card carries them (usually YYMM); not
    /// used by cardholder-verification and dynamic-cvc3.
    #[arg(long)]
    expiry: Option<String>,
    /// Which value (default: cvv when --service-code is given, else cvv2).
    #[arg(long, value_enum)]
    kind: Option<CvvKind>,
    /// Service code (cvv, amex-csc2, dynamic-cvv).
    #[arg(long)]
    service_code: Option<String>,
    /// PAN sequence number, 2 digits (cardholder-verification, dynamic-cvc3, dynamic-cvv).
    #[arg(long)]
    psn: Option<String>,
    /// Application transaction counter, 4 hex digits (the dynamic kinds).
    #[arg(long, value_name = "HEX")]
    atc: Option<String>,
    /// Unpredictable number, 8 hex digits (cardholder-verification, dynamic-cvc3, discover-dcvc).
    #[arg(long, value_name = "HEX")]
    un: Option<String>,
    /// Track data the card MACs, hex (dynamic-cvc3).
    #[arg(long, value_name = "HEX")]
    track_data: Option<String>,
    /// Digits to generate, 3 to 5 (generate only; default 3).
    #[arg(long, value_name = "N")]
    length: Option<u8>,
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

/// The flags a kind takes besides the PAN and key.
fn cvv_flags(kind: CvvKind) -> &'static [&'static str] {
    match kind {
        CvvKind::Cvv | CvvKind::AmexCsc2 => &["--expiry", "--service-code"],
        CvvKind::Cvv2 | CvvKind::Icvv | CvvKind::AmexCsc1 => &["--expiry"],
        CvvKind::CardholderVerification => &["--un", "--psn", "--atc"],
        CvvKind::DynamicCvc3 => &["--track-data", "--un", "--psn", "--atc"],
        CvvKind::DynamicCvv => &["--expiry", "--service-code", "--psn", "--atc"],
        CvvKind::DiscoverDcvc => &["--expiry", "--un", "--atc"],
    }
}

fn cvv_kind(a: &CvvArgs) -> Result<(CardValidationKind, CardExpiry), CliError> {
    let kind = a.kind.unwrap_or(if a.service_code.is_some() {
        CvvKind::Cvv
    } else {
        CvvKind::Cvv2
    });
    let takes = cvv_flags(kind);
    let given = [
        ("--expiry", a.expiry.is_some()),
        ("--service-code", a.service_code.is_some()),
        ("--psn", a.psn.is_some()),
        ("--atc", a.atc.is_some()),
        ("--un", a.un.is_some()),
        ("--track-data", a.track_data.is_some()),
    ];
    let name = kind
        .to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default();
    for (flag, set) in given {
        match (set, takes.contains(&flag)) {
            (true, false)
                if flag == "--service-code" && matches!(kind, CvvKind::Cvv2 | CvvKind::Icvv) =>
            {
                return Err(CliError::arg(
                    flag,
                    "applies to --kind cvv only (CVV2 uses 000, iCVV 999)",
                ))
            }
            (true, false) => {
                return Err(CliError::arg(
                    flag,
                    format!("does not apply to --kind {name}"),
                ))
            }
            (false, true) => {
                return Err(CliError::arg(flag, format!("required for --kind {name}")))
            }
            _ => {}
        }
    }
    fn req(o: &Option<String>) -> &str {
        o.as_deref().map(str::trim).unwrap_or_default()
    }
    let sc = || with("--service-code", ServiceCode::new(req(&a.service_code)));
    let psn = || with("--psn", Psn::new(req(&a.psn)));
    let atc = || args::hex_n::<2>("--atc", req(&a.atc));
    let un = || args::hex_n::<4>("--un", req(&a.un));
    let expiry = match &a.expiry {
        Some(e) => with("--expiry", CardExpiry::new(e.trim()))?,
        // Not part of this kind's data (see CardValidationKind::uses_expiry).
        None => with("--expiry", CardExpiry::new("0000"))?,
    };
    let kind = match kind {
        CvvKind::Cvv => CardValidationKind::Cvv(sc()?),
        CvvKind::Cvv2 => CardValidationKind::Cvv2,
        CvvKind::Icvv => CardValidationKind::Icvv,
        CvvKind::AmexCsc1 => CardValidationKind::AmexCscV1,
        CvvKind::AmexCsc2 => CardValidationKind::AmexCscV2(sc()?),
        CvvKind::CardholderVerification => CardValidationKind::CardholderVerificationValue {
            unpredictable_number: un()?,
            psn: psn()?,
            atc: atc()?,
        },
        CvvKind::DynamicCvc3 => CardValidationKind::DynamicCvc3 {
            unpredictable_number: un()?,
            psn: psn()?,
            atc: atc()?,
            track_data: with(
                "--track-data",
                crate::types::TrackData::new(&args::hex("--track-data", req(&a.track_data))?),
            )?,
        },
        CvvKind::DynamicCvv => CardValidationKind::DynamicCvv {
            psn: psn()?,
            service_code: sc()?,
            atc: atc()?,
        },
        CvvKind::DiscoverDcvc => CardValidationKind::DiscoverDynamicCvc {
            unpredictable_number: un()?,
            atc: atc()?,
        },
    };
    Ok((kind, expiry))
}

/// The key usage a kind's key has (AWS "Valid keys for cryptographic operations").
fn cvv_key_usage(kind: &CardValidationKind) -> KeyUsage {
    match kind {
        CardValidationKind::DynamicCvc3 { .. } => KeyUsage::EmvDynamicNumbers,
        CardValidationKind::DynamicCvv { .. }
        | CardValidationKind::CardholderVerificationValue { .. } => KeyUsage::EmvOther,
        _ => KeyUsage::CardVerification,
    }
}

pub(super) async fn cvv(c: &CvvCommand) -> Result<Output, CliError> {
    let (a, value) = match c {
        CvvCommand::Generate(a) => (a, None),
        CvvCommand::Verify(v) => (&v.common, Some(v.value.trim())),
    };
    let pan = args::pan("--pan", &a.pan)?;
    let (kind, expiry) = cvv_kind(a)?;
    if let Some(v) = value {
        if !(3..=5).contains(&v.len()) || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CliError::arg("--value", "expected 3 to 5 decimal digits"));
        }
        if a.length.is_some() {
            return Err(CliError::arg(
                "--length",
                "applies to generate only (verify compares as many digits as --value has)",
            ));
        }
    }
    let length = match a.length {
        Some(n) => with("--length", CvvLength::new(n))?,
        None => CvvLength::THREE,
    };
    let s = Session::open(&a.backend).await?;
    let key = s
        .key(
            "--key",
            a.key.as_ref(),
            a.key_hex.as_ref(),
            cvv_key_usage(&kind),
            false,
        )
        .await?;
    let kind_name = match &kind {
        CardValidationKind::Cvv(sc) => format!("cvv (service code {sc})"),
        CardValidationKind::Cvv2 => "cvv2".into(),
        CardValidationKind::Icvv => "icvv".into(),
        other => a
            .kind
            .and_then(|k| k.to_possible_value())
            .map(|v| v.get_name().to_owned())
            .unwrap_or_else(|| format!("{:?}", other.kind_type())),
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
                    length,
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
