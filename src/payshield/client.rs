//! `PayShieldBackend`: typed operations mapped onto payShield host commands.

use super::cluster::{Cluster, HostHealth};
use super::codec::{self, request as rq, CodecError};
use super::keytable::{key_type_for, scheme_for, KeyTable, TableKey};
use super::link::{HostCommandHandler, Link};
use super::lmk::{KeyScheme, KeyType};
use super::pool::{PayShieldConfig, Pool};
use crate::algo::pinblock::{EncryptedPinBlock, PinBlockFormat};
use crate::backend::{Backend, Capabilities};
use crate::error::{Error, ErrorKind, Result};
use crate::ops::*;
use crate::rules::{self, Purpose};
use crate::types::{Cvv, KeyId, SecretBytes, Verification};
use async_trait::async_trait;
use std::sync::Arc;

mod arqc;
mod dcvv;
mod kb;
mod pindata;

/// Largest data field sent in one M0/M2/M6/M8 command.
const MAX_DATA: usize = 32 * 1024;

/// A raw payShield response (after the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    /// Response code (command + 1).
    pub code: [u8; 2],
    /// Error code (`00` = OK).
    pub error: [u8; 2],
    /// Fields after the error code.
    pub body: Vec<u8>,
}

/// The payShield backend: a pooled, pipelined TCP client with a key table.
///
/// Keys are named: the [`KeyTable`] maps each [`KeyId`] to its key under the
/// LMK, key type and attributes; `import_key` / `generate_key` add to it.
/// The LMK kind is configured ([`PayShieldConfig::lmk`]): with a variant
/// LMK, operations its command set cannot express (AES keys, ISO 4 PIN
/// blocks, AES DUKPT, CMAC/HMAC, …) return [`ErrorKind::Unsupported`];
/// with a key-block LMK the keys are Thales key blocks and those work too.
/// Either way, ARPCs no host command computes (method 2 without the EMV
/// common session key) and clear components stay Unsupported.
#[derive(Debug, Clone)]
pub struct PayShieldBackend {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: String,
    link: Link,
    keys: KeyTable,
    lmk: super::LmkKind,
}

/// What a payShield with a variant LMK can do through its host commands
/// (the key-block LMK's set builds on it: see `client/kb.rs`): TDES keys only (no AES
/// key, AES DUKPT, ISO format 4, CMAC or HMAC without a key-block LMK);
/// ISO formats 0, 1 and 3 (CA/CC/G0); TDES DUKPT with the request and
/// bidirectional data keys (M0/M2); ISO 9797-1 MAC algorithms 1 and 3 of
/// 4 or 8 bytes (M6/M8); ARQC with the Visa (KQ, ARPC method 1) and
/// Mastercard (KQ, no ARPC) session keys and the EMV common session key
/// (KW, ARPC methods 1 and 2), up to 255 bytes of padded transaction data,
/// option B for long PANs through KW only; TR-31 import (A6) and export in
/// version B (A8); no clear components (console only); issuer PIN data
/// (IBM 3624: DA, EA, GO, DE, EE; Visa PVV: DC, EC, GQ, DG; PINs under the
/// LMK: JA, JC, JE, JG) with the limits of [`pindata`]: validation data
/// holding the account's last five digits, decimalisation tables passing
/// the HSM's check, no expected PIN length under DUKPT.
static VARIANT_LMK_CAPABILITIES: std::sync::LazyLock<Capabilities> =
    std::sync::LazyLock::new(|| {
        use crate::capabilities::{ArpcKind, DukptKind, MacKind, SessionKind};
        use crate::types::KeyAlgorithm;
        let mut c = Capabilities::all();
        // KQ / KW verify ARQCs; no host command generates one.
        c.operations.remove(&Operation::GenerateArqc);
        // No asymmetric keys through this client.
        c.operations.remove(&Operation::GetPublicKeyCertificate);
        c.key_exchange.clear();
        // CW / CY compute 3-digit Visa CVVs (CVV, CVV2, iCVV) only.
        let cvv = [
            crate::ops::CardValidationType::Cvv,
            crate::ops::CardValidationType::Cvv2,
            crate::ops::CardValidationType::Icvv,
        ];
        c.card_validation_generate = cvv.into_iter().collect();
        // PM verifies the Visa dynamic CVV (3 digits, PAN sequence number
        // 00) and the Mastercard CVC3 (ThalesSim's layout); no host command
        // is known to generate either (see `client/dcvv.rs`).
        c.card_validation_verify = cvv
            .into_iter()
            .chain([
                crate::ops::CardValidationType::DynamicCvv,
                crate::ops::CardValidationType::DynamicCvc3,
            ])
            .collect();
        c.card_validation.dynamic_cvv_psn_zero = true;
        c.card_value_lengths = [3].into_iter().collect();
        c.pin_data.validation_data_holds_account = true;
        c.pin_data.checked_decimalization_tables = true;
        c.pin_data.no_expected_length_under_dukpt = true;
        // Re-encryption would be M4 (Translate Data Block); not implemented.
        c.operations.remove(&Operation::ReEncryptData);
        c.pin_formats = [
            PinBlockFormat::Iso0,
            PinBlockFormat::Iso1,
            PinBlockFormat::Iso3,
        ]
        .into_iter()
        .collect();
        c.key_algorithms = [KeyAlgorithm::Tdes2, KeyAlgorithm::Tdes3]
            .into_iter()
            .collect();
        c.dukpt = [DukptKind::Tdes].into_iter().collect();
        c.dukpt_data_variants = [DukptVariant::Request, DukptVariant::Bidirectional]
            .into_iter()
            .collect();
        c.mac_algorithms = [MacKind::Iso9797Alg1, MacKind::Iso9797Alg3]
            .into_iter()
            .collect();
        c.mac_lengths = Some([4, 8].into_iter().collect());
        c.arqc = [
            (SessionKind::Visa, ArpcKind::None),
            (SessionKind::Visa, ArpcKind::Method1),
            (SessionKind::Mastercard, ArpcKind::None),
            (SessionKind::EmvCommon, ArpcKind::None),
            (SessionKind::EmvCommon, ArpcKind::Method1),
            (SessionKind::EmvCommon, ArpcKind::Method2),
        ]
        .into_iter()
        .collect();
        c.mk_option_b_long_pan = [SessionKind::EmvCommon].into_iter().collect();
        c.arqc_max_data_len = Some(arqc::MAX_TXN_DATA);
        c.import_components = false;
        c.tr31_export = [Tr31Version::B].into_iter().collect();
        c
    });

fn protocol(e: CodecError) -> Error {
    Error::new(
        ErrorKind::Protocol,
        format!("malformed payShield response: {e}"),
    )
}

/// The crate error for a payShield error code, by its general (payShield
/// 10K) meaning; the backend itself looks the code up by command first
/// (see [`codec::errors`]).
pub fn error_for_code(code: [u8; 2]) -> Error {
    error_for(*b"??", code)
}

/// The crate error for error `code` in the answer to command `cmd`: the
/// same code means different things on different commands (see
/// [`codec::errors`]).
pub fn error_for(cmd: [u8; 2], code: [u8; 2]) -> Error {
    let m = codec::errors::meaning(cmd, code);
    let c = String::from_utf8_lossy(&code).into_owned();
    if cmd == *b"??" {
        Error::new(m.kind, format!("payShield error {c}: {}", m.text))
    } else {
        Error::new(
            m.kind,
            format!(
                "payShield error {c} on {}: {}",
                String::from_utf8_lossy(&cmd),
                m.text
            ),
        )
    }
}

fn encoding(e: CodecError) -> Error {
    Error::invalid(e.field, e.reason)
}

fn fmt_code(f: PinBlockFormat, key_block: bool) -> Result<&'static [u8; 2]> {
    match f {
        PinBlockFormat::Iso4 if !key_block => Err(Error::unsupported(
            "ISO format 4 needs an AES PIN key (key-block LMK)",
        )),
        other => codec::pin_format_code(other)
            .ok_or_else(|| Error::unsupported("no payShield code for this PIN block format")),
    }
}

/// The command code at the start of a request body (`??` if too short).
fn command_code(body: &[u8]) -> [u8; 2] {
    match body {
        [a, b, ..] => [*a, *b],
        _ => *b"??",
    }
}

impl PayShieldBackend {
    /// Connects a pool to the payShield at `config.addr` with key table
    /// `keys`; with [`PayShieldConfig::other_hosts`], a pool per host (a
    /// cluster: requests to the least-loaded healthy host, see
    /// [`PayShieldBackend::hosts`]). Waits until one connection is up, or
    /// fails with [`ErrorKind::Transient`] naming why (refused, TLS
    /// handshake failed…) when the connect timeout passes first.
    pub async fn connect(config: PayShieldConfig, keys: KeyTable) -> Result<Self> {
        let lmk = config.lmk;
        let link = if config.other_hosts.is_empty() {
            Pool::connect(config).await.map(Link::Tcp)
        } else {
            Cluster::connect(config).await.map(Link::Cluster)
        }
        .map_err(|e| e.with_backend("payshield"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                name: "payshield".into(),
                link,
                keys,
                lmk,
            }),
        })
    }

    /// A backend whose host commands go to `handler` in this process (the
    /// simulator's `server::payshield::Sim`, say) instead of a TCP pool:
    /// the same encoders, response parsers and checks, no sockets. For
    /// differential fuzzing and tests; `header_len` is the handler's header
    /// length (at least 1); the LMK kind is the handler's
    /// ([`HostCommandHandler::lmk_kind`]).
    pub fn in_process(
        handler: Arc<dyn HostCommandHandler>,
        header_len: usize,
        keys: KeyTable,
    ) -> Result<Self> {
        if header_len == 0 {
            return Err(Error::invalid(
                "header length",
                "must be at least 1 to match responses",
            ));
        }
        let lmk = handler.lmk_kind();
        Ok(Self {
            inner: Arc::new(Inner {
                name: "payshield".into(),
                link: Link::InProcess {
                    handler,
                    header_len,
                },
                keys,
                lmk,
            }),
        })
    }

    /// The kind of LMK this backend was configured for.
    pub fn lmk_kind(&self) -> super::LmkKind {
        self.inner.lmk
    }

    /// Renames the backend (for reports with several instances).
    pub fn with_name(self, name: impl Into<String>) -> Self {
        let inner = match Arc::try_unwrap(self.inner) {
            Ok(mut i) => {
                i.name = name.into();
                i
            }
            Err(shared) => return Self { inner: shared },
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The key table (shared: changes are visible to this backend).
    pub fn keys(&self) -> &KeyTable {
        &self.inner.keys
    }

    /// Number of live connections (over all hosts).
    pub fn live_connections(&self) -> usize {
        self.inner.link.live_connections()
    }

    /// The health of each payShield host, in configuration order: one for
    /// a single host, one per host of a cluster (ejected hosts show
    /// `healthy: false`), none for an in-process backend.
    pub fn hosts(&self) -> Vec<HostHealth> {
        self.inner.link.hosts()
    }

    /// Sends one raw host command (`command code + fields`) and returns the
    /// response after the header.
    pub async fn command(&self, body: &[u8]) -> Result<RawResponse> {
        let resp = self.inner.link.call(body).await?;
        let h = codec::parse_response(&resp, 0).map_err(protocol)?;
        Ok(RawResponse {
            code: h.code,
            error: h.error,
            body: h.body.to_vec(),
        })
    }

    /// Sends one raw host command and returns the whole response payload
    /// after the header (response code, error code and fields, unparsed):
    /// what a proxy passes back byte for byte.
    pub async fn command_raw(&self, body: &[u8]) -> Result<Vec<u8>> {
        self.inner.link.call(body).await
    }

    /// Sends a command; an error code other than `00` (or `01` when
    /// `verify` is set) becomes an error.
    async fn run(&self, body: &[u8], verify: bool) -> Result<(Verification, Vec<u8>)> {
        let r = self.command(body).await?;
        match &r.error {
            b"00" => Ok((Verification::Verified, r.body)),
            b"01" if verify => Ok((Verification::Failed, r.body)),
            _ => Err(error_for(command_code(body), r.error)),
        }
    }

    /// NC: the LMK check value and firmware number.
    pub async fn diagnostics(&self) -> Result<(String, String)> {
        let mut b = Vec::new();
        rq::nc(&mut b);
        let (_, body) = self.run(&b, false).await?;
        codec::parse_nd(&body).map_err(protocol)
    }

    fn key(&self, id: &KeyId) -> Result<Arc<TableKey>> {
        self.inner.keys.get(id)
    }

    async fn translate_pin(&self, r: TranslatePinRequest) -> Result<TranslatePinResponse> {
        let src_fmt = fmt_code(r.incoming_format, self.is_key_block())?;
        let dst_fmt = fmt_code(r.outgoing_format, self.is_key_block())?;
        let out = self.key(&r.outgoing_key)?;
        rules::check(&r.outgoing_key, &out.attributes, Purpose::PinEncrypt)?;
        let block = r.pin_block.as_bytes();
        if block.len() != r.incoming_format.block_len() {
            return Err(Error::invalid(
                "pin block",
                "wrong length for its ISO format",
            ));
        }
        let pan = r.pan.expose();
        let mut b = Vec::with_capacity(400);
        match &r.incoming_key {
            PinKey::Key(id) => {
                let k = self.key(id)?;
                rules::check(id, &k.attributes, Purpose::PinDecrypt)?;
                // A TPK (variant key type 002, or Thales key-block usage
                // `71`) translates with CA, a zone key with CC.
                let tpk = k.key_type == KeyType::TPK
                    || crate::payshield::keyblock::header_of(&k.key)
                        .is_some_and(|h| &h.usage == b"71");
                let cmd = if tpk { b"CA" } else { b"CC" };
                rq::pin_translate(&mut b, cmd, &k.key, &out.key, block, src_fmt, dst_fmt, pan)
                    .map_err(encoding)?;
            }
            PinKey::Dukpt(d) => {
                let bdk = self.dukpt_bdk(d)?;
                rq::g0(
                    &mut b,
                    &bdk.key,
                    &out.key,
                    d.ksn.as_bytes(),
                    block,
                    src_fmt,
                    dst_fmt,
                    pan,
                )
                .map_err(encoding)?;
            }
        }
        let (_, body) = self.run(&b, false).await?;
        let t = codec::reply::parse_pin_translation_n(&body, r.outgoing_format.block_len())
            .map_err(protocol)?;
        if &t.format != dst_fmt {
            return Err(Error::new(
                ErrorKind::Protocol,
                "payShield returned a different PIN block format",
            ));
        }
        Ok(TranslatePinResponse {
            pin_block: EncryptedPinBlock::from_bytes(&t.pin_block)?,
            format: r.outgoing_format,
            key_check_value: out.kcv,
        })
    }

    fn dukpt_bdk(&self, d: &Dukpt) -> Result<Arc<TableKey>> {
        if d.ksn.is_aes() && !self.is_key_block() {
            return Err(Error::unsupported(
                "AES DUKPT needs an AES BDK (key-block LMK)",
            ));
        }
        let bdk = self.key(&d.bdk)?;
        rules::check_bdk(&bdk.attributes, d)?;
        // G0 and M0/M2 carry no working-key type: an AES BDK derives keys
        // of its own length.
        if d.ksn.is_aes() && d.key_type != bdk.attributes.algorithm {
            return Err(Error::unsupported(
                "payShield AES DUKPT derives working keys of the BDK's own algorithm only",
            ));
        }
        Ok(bdk)
    }

    async fn crypt(
        &self,
        key: &DataKey,
        mode: &CipherMode,
        data: &[u8],
        encrypt: bool,
    ) -> Result<(Vec<u8>, crate::Kcv)> {
        let (k, ksn) = match key {
            DataKey::Key(id) => {
                let k = self.key(id)?;
                rules::check(id, &k.attributes, Purpose::data(encrypt))?;
                (k, None)
            }
            DataKey::Dukpt { dukpt, variant } => {
                if *variant == DukptVariant::Response {
                    return Err(Error::unsupported(
                        "M0/M2 derive the DUKPT data key of the request direction only",
                    ));
                }
                (self.dukpt_bdk(dukpt)?, Some(dukpt.ksn.as_bytes()))
            }
        };
        let block = if k.attributes.algorithm.is_aes() {
            16
        } else {
            8
        };
        let iv = match mode {
            CipherMode::Ecb => None,
            CipherMode::Cbc { iv } if iv.len() == block => Some(iv.as_slice()),
            CipherMode::Cbc { .. } => {
                return Err(Error::invalid(
                    "iv",
                    "expected one cipher block (8 bytes TDES, 16 AES)",
                ))
            }
        };
        if data.len() > MAX_DATA {
            return Err(Error::invalid(
                "data",
                "longer than one payShield command carries (32 KiB)",
            ));
        }
        let kt = if k.key_type == KeyType::KEY_BLOCK {
            KeyType::KEY_BLOCK
        } else if ksn.is_some() {
            KeyType::BDK
        } else {
            k.key_type
        };
        let mut b = Vec::with_capacity(data.len() + 80);
        rq::m0_m2(&mut b, encrypt, kt, &k.key, ksn, iv, data).map_err(encoding)?;
        let (_, body) = self.run(&b, false).await?;
        let out =
            codec::reply::parse_data_iv(&body, iv.map_or(0, <[u8]>::len)).map_err(protocol)?;
        if out.len() != data.len() {
            return Err(Error::new(
                ErrorKind::Protocol,
                "payShield returned data of a different length",
            ));
        }
        Ok((out, k.kcv))
    }

    fn cvk(&self, id: &KeyId, generate: bool) -> Result<Arc<TableKey>> {
        let k = self.key(id)?;
        rules::check(id, &k.attributes, Purpose::cvv(generate))?;
        Ok(k)
    }

    fn mac_request(
        &self,
        id: &KeyId,
        alg: MacAlgorithm,
        generate: bool,
    ) -> Result<(Arc<TableKey>, u8, u8)> {
        let k = self.key(id)?;
        let (code, padding): (u8, Iso9797Padding) = match alg {
            MacAlgorithm::Iso9797Alg1(p) => (b'1', p),
            // M6/M8 MAC algorithm `3` = ISO 9797-1 algorithm 3 (the
            // manual's M6 table, ThalesSim GenerateMAC_M6.vb L42-43,
            // ut-codec-payshield frames); `2` is not a published value.
            MacAlgorithm::Iso9797Alg3(p) => (b'3', p),
            MacAlgorithm::Cmac
            | MacAlgorithm::HmacSha256
            | MacAlgorithm::HmacSha224
            | MacAlgorithm::HmacSha384
            | MacAlgorithm::HmacSha512 => {
                return Err(Error::unsupported(
                    "M6/M8 with a variant LMK: ISO 9797-1 algorithms 1 and 3 only",
                ))
            }
        };
        rules::check(id, &k.attributes, Purpose::mac(alg, generate))?;
        let pad = match padding {
            Iso9797Padding::None => b'0',
            Iso9797Padding::Method1 => b'1',
            Iso9797Padding::Method2 => b'2',
            Iso9797Padding::Method3 => b'3',
        };
        Ok((k, code, pad))
    }

    async fn generate_mac(&self, r: GenerateMacRequest) -> Result<GenerateMacResponse> {
        if self.is_key_block() {
            let k = self.key(&r.key)?;
            let mac = self.generate_mac_kb(&r, &k).await?;
            return Ok(GenerateMacResponse {
                mac,
                key_check_value: k.kcv,
            });
        }
        let (k, alg, pad) = self.mac_request(&r.key, r.algorithm, true)?;
        let (size, len) = match r.mac_length {
            None | Some(8) => (b'1', 8),
            Some(4) => (b'0', 4),
            Some(_) => return Err(Error::unsupported("M6 returns 4- or 8-byte MACs only")),
        };
        if r.data.len() > MAX_DATA {
            return Err(Error::invalid(
                "data",
                "longer than one payShield command carries (32 KiB)",
            ));
        }
        let mut b = Vec::with_capacity(r.data.len() + 64);
        rq::m6_m8(&mut b, None, size, alg, pad, k.key_type, &k.key, &r.data).map_err(encoding)?;
        let (_, body) = self.run(&b, false).await?;
        let mac = codec::parse_mac(&body, len).map_err(protocol)?;
        Ok(GenerateMacResponse {
            mac,
            key_check_value: k.kcv,
        })
    }

    async fn verify_mac(&self, r: VerifyMacRequest) -> Result<VerifyResponse> {
        if self.is_key_block() {
            let k = self.key(&r.key)?;
            let verification = self.verify_mac_kb(&r, &k).await?;
            return Ok(VerifyResponse { verification });
        }
        let (k, alg, pad) = self.mac_request(&r.key, r.algorithm, false)?;
        let size = match r.mac.len() {
            8 => b'1',
            4 => b'0',
            _ => return Err(Error::unsupported("M8 verifies 4- or 8-byte MACs only")),
        };
        if r.data.len() > MAX_DATA {
            return Err(Error::invalid(
                "data",
                "longer than one payShield command carries (32 KiB)",
            ));
        }
        let mut b = Vec::with_capacity(r.data.len() + 80);
        rq::m6_m8(
            &mut b,
            Some(&r.mac),
            size,
            alg,
            pad,
            k.key_type,
            &k.key,
            &r.data,
        )
        .map_err(encoding)?;
        let (v, _) = self.run(&b, true).await?;
        Ok(VerifyResponse { verification: v })
    }

    async fn generate_key(&self, r: GenerateKeyRequest) -> Result<KeyInfo> {
        if self.is_key_block() {
            return self.generate_key_kb(r).await;
        }
        r.attributes.validate()?;
        let kt = key_type_for(&r.attributes)?;
        let scheme = scheme_for(r.attributes.algorithm)?;
        if self.inner.keys.contains(&r.key_id) {
            return Err(Error::new(
                ErrorKind::KeyExists,
                format!("a key named {} already exists", r.key_id),
            ));
        }
        let mut b = Vec::new();
        rq::a0(&mut b, kt, scheme);
        let (_, body) = self.run(&b, false).await?;
        let (key, kcv) = codec::parse_key_kcv(&body).map_err(protocol)?;
        if key.scheme != scheme {
            return Err(Error::new(
                ErrorKind::Protocol,
                "payShield returned a key of another scheme",
            ));
        }
        self.inner.keys.insert(
            r.key_id.clone(),
            TableKey {
                key_type: kt,
                key,
                attributes: r.attributes,
                kcv,
            },
        )?;
        Ok(KeyInfo {
            key_id: r.key_id,
            attributes: r.attributes,
            key_check_value: kcv,
            key_class: crate::types::KeyClass::Symmetric,
        })
    }

    async fn import_key(&self, r: ImportKeyRequest) -> Result<KeyInfo> {
        let (kek_id, block) = match &r.material {
            KeyMaterial::Tr31 { kek, key_block } => (kek, key_block),
            KeyMaterial::Components { .. } => return Err(Error::unsupported(
                "payShield host commands do not take clear components (use the console, A4 with \
                     LMK-encrypted components, or load the key under LMK into the key table)",
            )),
            KeyMaterial::Tr34(_)
            | KeyMaterial::Ecdh { .. }
            | KeyMaterial::RootCertificate { .. }
            | KeyMaterial::TrustedCertificate { .. } => {
                return Err(Error::unsupported(
                    "TR-34, ECDH and public key certificates on a payShield through this client",
                ))
            }
        };
        let kek = self.key(kek_id)?;
        rules::check(kek_id, &kek.attributes, Purpose::KeyUnwrap)?;
        let header = crate::algo::tr31::parse_header(block)?;
        if self.is_key_block() {
            if self.inner.keys.contains(&r.key_id) {
                return Err(Error::new(
                    ErrorKind::KeyExists,
                    format!("a key named {} already exists", r.key_id),
                ));
            }
            return self.import_tr31_kb(&r, &kek, block, &header).await;
        }
        if header.algorithm != crate::algo::tr31::Algorithm::Tdes {
            return Err(Error::unsupported(
                "only TDES keys can be imported under a variant LMK",
            ));
        }
        if self.inner.keys.contains(&r.key_id) {
            return Err(Error::new(
                ErrorKind::KeyExists,
                format!("a key named {} already exists", r.key_id),
            ));
        }
        let probe = crate::keyload::tr31_attributes(&header, 16)?;
        let kt = key_type_for(&probe)?;
        let mut last = None;
        for scheme in [KeyScheme::U, KeyScheme::T] {
            let mut b = Vec::with_capacity(block.len() + 80);
            rq::a6_tr31(&mut b, kt, &kek.key, block, scheme).map_err(encoding)?;
            let resp = self.command(&b).await?;
            match &resp.error {
                b"00" => {
                    let (key, kcv) = codec::parse_key_kcv(&resp.body).map_err(protocol)?;
                    let attributes =
                        crate::keyload::tr31_attributes(&header, key.scheme.key_len())?;
                    attributes.validate()?;
                    if let Some(expected) = r.expected_kcv {
                        if expected != kcv {
                            return Err(Error::invalid(
                                "kcv",
                                "the imported key does not match the expected KCV",
                            ));
                        }
                    }
                    self.inner.keys.insert(
                        r.key_id.clone(),
                        TableKey {
                            key_type: kt,
                            key,
                            attributes,
                            kcv,
                        },
                    )?;
                    return Ok(KeyInfo {
                        key_id: r.key_id,
                        attributes,
                        key_check_value: kcv,
                        key_class: crate::types::KeyClass::Symmetric,
                    });
                }
                b"01" => {
                    return Err(Error::invalid(
                        "key parity",
                        "TDES key does not have odd parity",
                    ))
                }
                b"27" => last = Some(resp.error),
                _ => return Err(error_for(*b"A6", resp.error)),
            }
        }
        Err(error_for(*b"A6", last.unwrap_or(*b"27")))
    }

    async fn export_key(&self, r: ExportKeyRequest) -> Result<ExportKeyResponse> {
        let ExportMethod::Tr31 {
            kek: kek_id,
            version,
        } = &r.method
        else {
            return Err(Error::unsupported(
                "TR-34 and ECDH key exchange on a payShield through this client",
            ));
        };
        let version = *version;
        let key = self.key(&r.key)?;
        rules::check_exportable(&r.key, &key.attributes)?;
        let kek = self.key(kek_id)?;
        rules::check(kek_id, &kek.attributes, Purpose::KeyWrap)?;
        if self.is_key_block() {
            return self.export_key_kb(version, &key, &kek).await;
        }
        if version != Tr31Version::B {
            return Err(Error::unsupported(
                "a variant-LMK payShield exports TR-31 version B under a TDES ZMK",
            ));
        }
        let a = &key.attributes;
        let mode = a.modes.tr31_code()? as u8;
        let mut b = Vec::new();
        // `!B`: ask for the version instead of relying on the HSM's
        // configured default, and check that the block is that version.
        rq::a8_tr31(
            &mut b,
            key.key_type,
            &kek.key,
            &key.key,
            a.usage.code(),
            mode,
            a.exportability.tr31_code() as u8,
            b'B',
        )
        .map_err(encoding)?;
        self.run_export(&b, version, &key).await
    }

    /// Sends an A8 export and checks its answer: a TR-31 block of the
    /// version asked for, holding the key the table names (its KCV).
    async fn run_export(
        &self,
        a8: &[u8],
        version: Tr31Version,
        key: &TableKey,
    ) -> Result<ExportKeyResponse> {
        let (_, body) = self.run(a8, false).await?;
        let (block, kcv) = codec::parse_tr31_export(&body).map_err(protocol)?;
        if crate::algo::tr31::parse_header(&block)
            .map(|h| h.version)
            .ok()
            != Some(version)
        {
            return Err(Error::new(
                ErrorKind::Protocol,
                "payShield returned a key block of another version",
            ));
        }
        if kcv != key.kcv {
            return Err(Error::new(
                ErrorKind::Protocol,
                "exported key KCV does not match the key table",
            ));
        }
        Ok(ExportKeyResponse {
            key_block: block,
            key_check_value: kcv,
        })
    }

    async fn dispatch(&self, request: Request) -> Result<Response> {
        Ok(match request {
            Request::TranslatePin(r) => Response::TranslatePin(self.translate_pin(r).await?),
            Request::EncryptData(r) => {
                let (ct, kcv) = self
                    .crypt(&r.key, &r.mode, r.plaintext.expose(), true)
                    .await?;
                Response::EncryptData(EncryptDataResponse {
                    ciphertext: ct,
                    key_check_value: kcv,
                })
            }
            Request::DecryptData(r) => {
                let (pt, kcv) = self.crypt(&r.key, &r.mode, &r.ciphertext, false).await?;
                Response::DecryptData(DecryptDataResponse {
                    plaintext: SecretBytes::new(pt),
                    key_check_value: kcv,
                })
            }
            Request::GenerateCardValidation(r) => {
                let k = self.cvk(&r.key, true)?;
                let mut b = Vec::new();
                rq::cw(
                    &mut b,
                    &k.key,
                    r.pan.expose(),
                    r.expiry.as_str(),
                    r.kind.service_code().as_str(),
                );
                let (_, body) = self.run(&b, false).await?;
                let v = codec::parse_cx(&body).map_err(protocol)?;
                Response::GenerateCardValidation(GenerateCardValidationResponse {
                    value: Cvv::from_ascii(&v).ok_or_else(|| {
                        Error::new(
                            ErrorKind::Protocol,
                            "malformed payShield response: CX CVV is not 3 digits",
                        )
                    })?,
                    key_check_value: k.kcv,
                })
            }
            Request::VerifyCardValidation(r) => Response::VerifyCardValidation(VerifyResponse {
                verification: self.verify_card_validation(r).await?,
            }),
            Request::VerifyArqc(r) => Response::VerifyArqc(self.verify_arqc(r).await?),
            Request::GenerateMac(r) => Response::GenerateMac(self.generate_mac(r).await?),
            Request::VerifyMac(r) => Response::VerifyMac(self.verify_mac(r).await?),
            // Not declared (see VARIANT_LMK_CAPABILITIES): refused before here.
            Request::GenerateArqc(_) => {
                return Err(Error::unsupported(
                    "ARQC generation on the payShield backend (no host command generates one)",
                ))
            }
            Request::GeneratePinData(r) => {
                Response::GeneratePinData(self.generate_pin_data(r).await?)
            }
            Request::VerifyPinData(r) => Response::VerifyPinData(self.verify_pin_data(r).await?),
            Request::ReEncryptData(_) => {
                return Err(Error::unsupported(
                    "data re-encryption (M4) on the payShield backend",
                ))
            }
            Request::GenerateKey(r) => Response::GenerateKey(self.generate_key(r).await?),
            Request::ImportKey(r) => Response::ImportKey(self.import_key(r).await?),
            Request::ExportKey(r) => Response::ExportKey(self.export_key(r).await?),
            Request::GetKeyInfo(r) => {
                let k = self.key(&r.key)?;
                Response::GetKeyInfo(KeyInfo {
                    key_id: r.key,
                    attributes: k.attributes,
                    key_check_value: k.kcv,
                    key_class: crate::types::KeyClass::Symmetric,
                })
            }
            Request::DeleteKey(r) => {
                self.inner.keys.remove(&r.key)?;
                Response::DeleteKey(DeleteKeyResponse { key: r.key })
            }
            Request::GetPublicKeyCertificate(_) => {
                return Err(Error::unsupported(
                    "public key certificates on a payShield through this client",
                ))
            }
        })
    }
}

#[async_trait]
impl Backend for PayShieldBackend {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn capabilities(&self) -> Capabilities {
        self.caps().clone()
    }

    async fn execute(&self, request: Request) -> Result<Response> {
        let op = request.operation();
        if let Err(e) = request
            .validate()
            .and_then(|()| self.caps().check(&request))
        {
            return Err(e.with_op(op).with_backend(self.inner.name.clone()));
        }
        self.dispatch(request)
            .await
            .map_err(|e| e.with_op(op).with_backend(self.inner.name.clone()))
    }
}
