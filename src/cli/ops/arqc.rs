//! `arqc generate|verify`: EMV application cryptograms.

use super::*;

/// Session key derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SessionKind {
    /// No session key (Visa CVN 10): the ICC master key is used.
    Visa,
    /// EMV common session key (EMV Book 2 A1.3) from the ATC.
    Emv,
    /// Mastercard session key from the ATC and unpredictable number.
    Mastercard,
}

/// ISO 9797-1 padding of the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PaddingArg {
    /// None: the data is already a multiple of 8 bytes.
    None,
    /// Method 1: zeros.
    #[value(name = "1")]
    M1,
    /// Method 2: 0x80 then zeros.
    #[value(name = "2")]
    M2,
    /// Method 3: length block then zeros.
    #[value(name = "3")]
    M3,
}

impl PaddingArg {
    pub(super) fn padding(self) -> Iso9797Padding {
        match self {
            Self::None => Iso9797Padding::None,
            Self::M1 => Iso9797Padding::Method1,
            Self::M2 => Iso9797Padding::Method2,
            Self::M3 => Iso9797Padding::Method3,
        }
    }
}

/// ICC master key derivation option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MkOption {
    /// EMV option A.
    A,
    /// EMV option B.
    B,
}

/// The card and transaction fields of an ARQC.
#[derive(Args)]
pub struct ArqcFields {
    /// The PAN.
    #[arg(long)]
    pan: String,
    /// PAN sequence number (2 digits).
    #[arg(long, default_value = "00")]
    psn: String,
    /// Session key derivation.
    #[arg(long, value_enum, default_value = "emv")]
    session: SessionKind,
    /// Application transaction counter (4 hex digits; emv and mastercard).
    #[arg(long, value_name = "HEX")]
    atc: Option<String>,
    /// Unpredictable number (8 hex digits; mastercard).
    #[arg(long, value_name = "HEX")]
    un: Option<String>,
    /// Transaction data as the card MACs it (hex).
    #[arg(long, value_name = "HEX")]
    data: String,
    /// Padding of the data (none: already padded, as AWS expects).
    #[arg(long, value_enum, default_value = "none")]
    padding: PaddingArg,
    /// ICC master key derivation.
    #[arg(long, value_enum, default_value = "a")]
    option: MkOption,
}

struct Arqc {
    pan: crate::Pan,
    psn: Psn,
    session: SessionKeyDerivation,
    data: Vec<u8>,
    padding: Iso9797Padding,
    mk: MkDerivation,
}

fn arqc_fields(f: &ArqcFields) -> Result<Arqc, CliError> {
    let atc = || -> Result<[u8; 2], CliError> {
        match &f.atc {
            Some(a) => args::hex_n::<2>("--atc", a),
            None => Err(CliError::arg(
                "--atc",
                "required for --session emv and mastercard",
            )),
        }
    };
    let session = match f.session {
        SessionKind::Visa => SessionKeyDerivation::Visa,
        SessionKind::Emv => SessionKeyDerivation::EmvCommon { atc: atc()? },
        SessionKind::Mastercard => SessionKeyDerivation::Mastercard {
            atc: atc()?,
            unpredictable_number: match &f.un {
                Some(u) => args::hex_n::<4>("--un", u)?,
                None => return Err(CliError::arg("--un", "required for --session mastercard")),
            },
        },
    };
    Ok(Arqc {
        pan: args::pan("--pan", &f.pan)?,
        psn: with("--psn", Psn::new(f.psn.trim()))?,
        session,
        data: args::hex("--data", &f.data)?,
        padding: f.padding.padding(),
        mk: match f.option {
            MkOption::A => MkDerivation::OptionA,
            MkOption::B => MkDerivation::OptionB,
        },
    })
}

/// `arqc …`.
#[derive(Subcommand)]
pub enum ArqcCommand {
    /// Generate an ARQC as the card would (test tooling) on a backend: a
    /// named issuer master key (--key), or a clear test key (--imk-hex /
    /// --key-hex, software backend).
    #[command(
        after_help = "Example:\n  paycrypto arqc generate --imk-hex 13345779133457791334577913345779 \\\n      --pan 1234567890123456 --session visa --padding 1 \\\n      --data 000000010000000000001000084000000010800840980704001111111158003456A08003242000"
    )]
    Generate(Box<ArqcGenerateArgs>),
    /// Verify an ARQC on a backend, with an ARPC (method 1 with --arc, method 2 with --csu).
    #[command(
        after_help = "Example:\n  paycrypto arqc verify --key-hex 13345779133457791334577913345779 \\\n      --pan 1234567890123456 --session visa --padding 1 --arqc 26C8A1042D1CAF3E --arc 3030 \\\n      --data 000000010000000000001000084000000010800840980704001111111158003456A08003242000"
    )]
    Verify(Box<ArqcVerifyArgs>),
}

/// `arqc generate`.
#[derive(Args)]
#[command(group(ArgGroup::new("imk").required(true).args(["key", "key_hex", "imk_hex"])))]
pub struct ArqcGenerateArgs {
    #[command(flatten)]
    backend: BackendArgs,
    /// Issuer master key (E0), by name.
    #[arg(long, value_name = "NAME")]
    key: Option<String>,
    /// Issuer master key, clear (software backend only).
    #[arg(long, value_name = "HEX")]
    key_hex: Option<String>,
    /// Clear issuer master key for application cryptograms (hex, 16 bytes;
    /// software backend): as --key-hex, and also prints the check values of
    /// the IMK, the ICC master key and the session key.
    #[arg(long, value_name = "HEX")]
    imk_hex: Option<String>,
    #[command(flatten)]
    fields: ArqcFields,
}

/// `arqc verify`.
#[derive(Args)]
#[command(group(ArgGroup::new("imk").required(true).args(["key", "key_hex"])))]
pub struct ArqcVerifyArgs {
    #[command(flatten)]
    backend: BackendArgs,
    /// Issuer master key (E0), by name.
    #[arg(long, value_name = "NAME")]
    key: Option<String>,
    /// Issuer master key, clear (software backend only).
    #[arg(long, value_name = "HEX")]
    key_hex: Option<String>,
    #[command(flatten)]
    fields: ArqcFields,
    /// The ARQC (16 hex digits).
    #[arg(long, value_name = "HEX")]
    arqc: String,
    /// ARPC method 1: authorisation response code (4 hex digits).
    #[arg(long, value_name = "HEX", conflicts_with = "csu")]
    arc: Option<String>,
    /// ARPC method 2: card status update (8 hex digits).
    #[arg(long, value_name = "HEX")]
    csu: Option<String>,
    /// ARPC method 2: proprietary authentication data (0 to 8 bytes hex).
    #[arg(long, value_name = "HEX", requires = "csu")]
    proprietary_data: Option<String>,
}

pub(crate) async fn arqc(c: &ArqcCommand) -> Result<Output, CliError> {
    match c {
        ArqcCommand::Generate(a) => {
            let f = arqc_fields(&a.fields)?;
            let s = Session::open(&a.backend).await?;
            let key = match &a.imk_hex {
                Some(h) => {
                    s.key("--imk", None, Some(h), KeyUsage::EmvAppCryptogram, false)
                        .await?
                }
                None => {
                    s.key(
                        "--key",
                        a.key.as_ref(),
                        a.key_hex.as_ref(),
                        KeyUsage::EmvAppCryptogram,
                        false,
                    )
                    .await?
                }
            };
            let r = s
                .backend
                .generate_arqc(GenerateArqcRequest {
                    key,
                    mk_derivation: f.mk,
                    session: f.session,
                    pan: f.pan.clone(),
                    psn: f.psn,
                    transaction_data: f.data,
                    padding: f.padding,
                })
                .await?;
            let mut out = Output::new().field("arqc", hex::encode_upper(r.arqc));
            if let Some(h) = &a.imk_hex {
                // The clear test key is known: show the derived keys' check values.
                let imk = args::secret_hex("--imk-hex", h)?;
                let kcv = |k: &[u8]| {
                    crate::algo::cipher::kcv_tdes(k)
                        .map(hex::encode_upper)
                        .unwrap_or_default()
                };
                let icc =
                    emv::derive_icc_mk(imk.expose(), f.pan.expose(), Some(f.psn.as_str()), f.mk)
                        .map_err(|e| CliError::arg("--imk-hex", e.reason))?;
                let sk = emv::derive_session_key(icc.as_slice(), f.session.to_algo())
                    .map_err(|e| CliError::arg("--atc", e.reason))?;
                out.push("imk_kcv", kcv(imk.expose()));
                out.push("icc_master_key_kcv", kcv(icc.as_slice()));
                out.push("session_key_kcv", kcv(sk.as_slice()));
            }
            Ok(out)
        }
        ArqcCommand::Verify(a) => {
            let f = arqc_fields(&a.fields)?;
            let arqc = args::hex_n::<8>("--arqc", &a.arqc)?;
            let arpc = match (&a.arc, &a.csu) {
                (Some(arc), _) => Some(ArpcMethod::Method1 {
                    arc: args::hex_n::<2>("--arc", arc)?,
                }),
                (None, Some(csu)) => {
                    let proprietary_data = match &a.proprietary_data {
                        Some(p) => ProprietaryAuthData::new(&args::hex("--proprietary-data", p)?)
                            .map_err(|_| {
                            CliError::arg("--proprietary-data", "at most 8 bytes")
                        })?,
                        None => ProprietaryAuthData::default(),
                    };
                    Some(ArpcMethod::Method2 {
                        csu: args::hex_n::<4>("--csu", csu)?,
                        proprietary_data,
                    })
                }
                (None, None) => None,
            };
            let s = Session::open(&a.backend).await?;
            let key = s
                .key(
                    "--key",
                    a.key.as_ref(),
                    a.key_hex.as_ref(),
                    KeyUsage::EmvAppCryptogram,
                    false,
                )
                .await?;
            let r = s
                .backend
                .verify_arqc(VerifyArqcRequest {
                    key,
                    mk_derivation: f.mk,
                    session: f.session,
                    pan: f.pan,
                    psn: f.psn,
                    transaction_data: f.data,
                    padding: f.padding,
                    arqc,
                    arpc,
                })
                .await?;
            let mut out = verification(Output::new(), r.verification);
            if let Some(arpc) = r.arpc {
                out.push("arpc", hex::encode_upper(arpc));
            }
            Ok(out)
        }
    }
}
