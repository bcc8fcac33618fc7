//! The keys the suite runs with: named roles, the key set, and
//! self-provisioning through the key-exchange operations.

use crate::backend::{Backend, BackendExt};
use crate::keyload::{combine_components, kek_from_components, tr31_import};
use crate::ops::{DeleteKeyRequest, Operation};
use crate::software::{key_check_value, SoftwareBackend};
use crate::types::{
    Exportability, Kcv, KeyAlgorithm, KeyAttributes, KeyId, KeyUsage, ModesOfUse, SecretBytes,
};
use rand::{Rng, RngCore, SeedableRng};
use std::collections::BTreeMap;
use std::fmt;

/// Source of the published TDES test keys used for known answers.
const SRC_JPOS_ZPK: &str = "jPOS JCESecurityModuleTest (ZPK/IMK 1334…; KCV 6FB1C8)";
/// Source of the published PIN verification key of the IBM 3624 and PVV vectors.
const SRC_PSEC_PVK: &str = "psec tests/test_pin.py (IBM 3624 and Visa PVV test PVK 0123…3210)";

macro_rules! roles {
    ($($variant:ident => $name:literal, $usage:ident, $alg:ident, $modes:ident, $export:ident, $published:expr, $doc:literal;)*) => {
        /// The part a key plays in the suite. Each role has a name used in
        /// `--keys FILE` (the JSON key configuration) and fixed attributes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Role {
            $(#[doc = $doc] $variant,)*
        }

        impl Role {
            /// Every role, in provisioning order (KEKs first).
            pub const ALL: &'static [Role] = &[$(Role::$variant,)*];

            /// The role's name in a key configuration file.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name,)* }
            }

            /// The role from its name.
            pub fn from_name(name: &str) -> Option<Self> {
                match name { $($name => Some(Self::$variant),)* _ => None }
            }

            /// The attributes the suite expects the role's key to have.
            pub fn attributes(self) -> KeyAttributes {
                match self {
                    $(Self::$variant => KeyAttributes::new(
                        KeyUsage::$usage, KeyAlgorithm::$alg, ModesOfUse::$modes,
                    ).with_exportability(Exportability::$export),)*
                }
            }

            /// The published test key this role holds when the suite provisions
            /// it (hex, source), so that known-answer cases can run. `None`:
            /// a fresh random key.
            pub fn published(self) -> Option<(&'static str, &'static str)> {
                match self { $(Self::$variant => $published,)* }
            }
        }
    };
}

roles! {
    Kek => "kek", KeyEncryption, Tdes2, BOTH, Exportable, None,
        "TDES key-encryption key (K0) for TR-31 version B imports and exports.";
    KekAes => "kek-aes", KeyEncryption, Aes256, BOTH, Exportable, None,
        "AES-256 key-encryption key (K0) for TR-31 version D (AES keys).";
    Zpk => "zpk", PinEncryption, Tdes2, BOTH, Exportable,
        Some(("13345779133457791334577913345779", SRC_JPOS_ZPK)),
        "TDES zone PIN key (P0), the published jPOS ZPK.";
    Zpk2 => "zpk2", PinEncryption, Tdes2, BOTH, Exportable, None,
        "A second TDES zone PIN key (P0), random.";
    ZpkAes => "zpk-aes", PinEncryption, Aes128, BOTH, Exportable,
        Some(("AF8CB133A78F8DC2D1359F18527593FB", "ANSI X9.24-3:2017 supplement (PIN key, counter 1)")),
        "AES-128 zone PIN key (P0) for ISO format 4.";
    ZpkNonExportable => "zpk-nx", PinEncryption, Tdes2, BOTH, NonExportable, None,
        "A non-exportable TDES PIN key, for the export refusal.";
    Bdk => "bdk", Bdk, Tdes2, DERIVE, Exportable,
        Some(("0123456789ABCDEFFEDCBA9876543210", "ANSI X9.24-1:2009 A.4 test BDK")),
        "TDES DUKPT base derivation key (B0), the X9.24-1 test BDK.";
    BdkAes => "bdk-aes", Bdk, Aes128, DERIVE, Exportable,
        Some(("FEDCBA9876543210F1F1F1F1F1F1F1F1", "ANSI X9.24-3:2017 supplement test BDK")),
        "AES-128 DUKPT base derivation key (B0), the X9.24-3 test BDK.";
    Cvk => "cvk", CardVerification, Tdes2, GENERATE_VERIFY, Exportable,
        Some(("0123456789ABCDEFFEDCBA9876543210", "Visa CVV published test CVK")),
        "Card verification key (C0), the published Visa CVV test key.";
    PvkIbm => "pvk-ibm", PinVerificationIbm3624, Tdes2, GENERATE_VERIFY, Exportable,
        Some(("0123456789ABCDEFFEDCBA9876543210", SRC_PSEC_PVK)),
        "IBM 3624 PIN verification key (V1), the psec test PVK.";
    PvkVisa => "pvk-visa", PinVerificationVisaPvv, Tdes2, GENERATE_VERIFY, Exportable,
        Some(("0123456789ABCDEFFEDCBA9876543210", SRC_PSEC_PVK)),
        "Visa PVV PIN verification key (V2), the psec test PVK.";
    ImkAc => "imk-ac", EmvAppCryptogram, Tdes2, DERIVE, Exportable,
        Some(("13345779133457791334577913345779", SRC_JPOS_ZPK)),
        "EMV issuer master key for application cryptograms (E0), jPOS test IMK.";
    ImkCvc3 => "imk-cvc3", EmvDynamicNumbers, Tdes2, DERIVE, Exportable,
        Some(("13345779133457791334577913345779", SRC_JPOS_ZPK)),
        "EMV master key for dynamic numbers (E4: Mastercard dynamic CVC3), jPOS test IMK-CVC3.";
    ImkDcvv => "imk-dcvv", EmvOther, Tdes2, DERIVE, Exportable,
        Some(("13345779133457791334577913345779", SRC_JPOS_ZPK)),
        "Other EMV master key (E6: Visa dynamic CVV, as AWS Payment Cryptography takes it), jPOS test IMK.";
    MacRetail => "mac-m3", MacIso9797Alg3, Tdes2, GENERATE_VERIFY, Exportable,
        Some(("0123456789ABCDEFFEDCBA9876543210", "ISO 9797-1:2011 Annex B.4")),
        "ISO 9797-1 MAC algorithm 3 key (M3).";
    MacAlg1 => "mac-m1", MacIso9797Alg1, Tdes2, GENERATE_VERIFY, Exportable, None,
        "ISO 9797-1 MAC algorithm 1 key (M1), random.";
    MacCmac => "mac-cmac", MacCmac, Tdes2, GENERATE_VERIFY, Exportable,
        Some(("0123456789ABCDEF23456789ABCDEF01", "NIST SP 800-38B Appendix D (TDES)")),
        "TDES CMAC key (M6), the NIST SP 800-38B key.";
    MacCmacAes => "mac-cmac-aes", MacCmac, Aes128, GENERATE_VERIFY, Exportable,
        Some(("2B7E151628AED2A6ABF7158809CF4F3C", "NIST SP 800-38B Appendix D / RFC 4493")),
        "AES-128 CMAC key (M6), the NIST SP 800-38B key.";
    MacHmac => "mac-hmac", MacHmac, HmacSha256, GENERATE_VERIFY, Exportable, None,
        "HMAC-SHA-256 key (M7), random.";
    MacHmac224 => "mac-hmac224", MacHmac, HmacSha224, GENERATE_VERIFY, Exportable, None,
        "HMAC-SHA-224 key (M7, 28 bytes), random.";
    MacHmac384 => "mac-hmac384", MacHmac, HmacSha384, GENERATE_VERIFY, Exportable, None,
        "HMAC-SHA-384 key (M7, 48 bytes), random.";
    MacHmac512 => "mac-hmac512", MacHmac, HmacSha512, GENERATE_VERIFY, Exportable, None,
        "HMAC-SHA-512 key (M7, 64 bytes), random.";
    Dek => "dek", DataEncryption, Tdes2, BOTH, Exportable, None,
        "TDES data encryption key (D0), random.";
    DekAes => "dek-aes", DataEncryption, Aes128, BOTH, Exportable, None,
        "AES-128 data encryption key (D0), random.";
}

impl Role {
    /// The role's clear test key: the published one where it has one, else
    /// a fixed value derived from the role's name (SHA-256, odd parity for
    /// TDES). Test keys only: every user of this crate knows them.
    pub fn fixed_clear(self) -> Vec<u8> {
        use sha2::Digest;
        if let Some((hex_key, _)) = self.published() {
            if let Ok(k) = hex::decode(hex_key) {
                return k;
            }
        }
        let alg = self.attributes().algorithm;
        let mut out = Vec::with_capacity(alg.key_len());
        let mut counter = 0u8;
        while out.len() < alg.key_len() {
            let d = sha2::Sha256::new()
                .chain_update(b"paycrypto fixed test key ")
                .chain_update(self.as_str())
                .chain_update([counter])
                .finalize();
            out.extend_from_slice(&d);
            counter += 1;
        }
        out.truncate(alg.key_len());
        if alg.is_tdes() {
            crate::algo::cipher::fix_odd_parity(&mut out);
        }
        out
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One key as the suite knows it: its name on the backend and, when known,
/// its attributes, clear value (test keys only) and check value.
#[derive(Debug, Clone)]
pub struct KeyRef {
    /// The key's name on the backend.
    pub id: KeyId,
    /// The clear value, when known (self-provisioned or configured test keys).
    pub clear: Option<SecretBytes>,
    /// The key check value, when known.
    pub kcv: Option<Kcv>,
}

impl KeyRef {
    /// A key known only by name (a production key).
    pub fn named(id: KeyId) -> Self {
        Self {
            id,
            clear: None,
            kcv: None,
        }
    }

    /// Sets the known check value.
    pub fn with_kcv(mut self, kcv: Kcv) -> Self {
        self.kcv = Some(kcv);
        self
    }

    /// Sets the known clear value (test keys only).
    pub fn with_clear(mut self, clear: SecretBytes) -> Self {
        self.clear = Some(clear);
        self
    }
}

/// The keys the suite runs with, by role, and why missing roles are missing.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: BTreeMap<Role, KeyRef>,
    missing: BTreeMap<Role, String>,
    unsupported: BTreeMap<Role, String>,
    default_missing: Option<String>,
    scratch_prefix: Option<String>,
}

impl KeySet {
    /// An empty key set: every case that needs a key is skipped.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the key for `role`.
    pub fn with(mut self, role: Role, key: KeyRef) -> Self {
        self.insert(role, key);
        self
    }

    /// Adds (or replaces) the key for `role`.
    pub fn insert(&mut self, role: Role, key: KeyRef) {
        self.missing.remove(&role);
        self.unsupported.remove(&role);
        self.keys.insert(role, key);
    }

    /// Records that the backend cannot hold `role`'s key at all (it
    /// answered Unsupported, e.g. an AES key on a variant-LMK HSM): cases
    /// that need it are reported as unsupported, not skipped.
    pub fn mark_unsupported(&mut self, role: Role, why: impl Into<String>) {
        self.keys.remove(&role);
        self.missing.remove(&role);
        self.unsupported.insert(role, why.into());
    }

    /// Why the backend cannot hold `role`'s key, when it cannot.
    pub fn why_unsupported(&self, role: Role) -> Option<&str> {
        self.unsupported.get(&role).map(String::as_str)
    }

    /// Records why `role` has no key (shown in the skip reasons).
    pub fn mark_missing(&mut self, role: Role, why: impl Into<String>) {
        self.unsupported.remove(&role);
        self.missing.insert(role, why.into());
    }

    /// The reason given for roles that are neither present nor marked missing.
    pub fn with_default_missing(mut self, why: impl Into<String>) -> Self {
        self.default_missing = Some(why.into());
        self
    }

    /// Allows the suite to create (and delete) scratch keys named
    /// `prefix…` — for backends where keys may be created (simulators, test
    /// HSMs, test accounts). Without it, cases that create keys are skipped.
    pub fn with_scratch_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.scratch_prefix = Some(prefix.into());
        self
    }

    /// The scratch-key prefix, when key creation is allowed.
    pub fn scratch_prefix(&self) -> Option<&str> {
        self.scratch_prefix.as_deref()
    }

    /// The key for `role`, if any.
    pub fn get(&self, role: Role) -> Option<&KeyRef> {
        self.keys.get(&role)
    }

    /// Why `role` has no key.
    pub fn why_missing(&self, role: Role) -> String {
        self.missing
            .get(&role)
            .cloned()
            .or_else(|| self.default_missing.clone())
            .unwrap_or_else(|| format!("no key configured for role `{role}`"))
    }

    /// Every role with a key.
    pub fn roles(&self) -> impl Iterator<Item = (Role, &KeyRef)> {
        self.keys.iter().map(|(r, k)| (*r, k))
    }
}

/// Options for [`provision`]. Built with [`ProvisionOptions::with_prefix`]
/// (or `default()`) and the `with_…` methods, so that new options can be
/// added without breaking callers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProvisionOptions {
    /// Prefix of every key name the suite creates (keep it unique per run).
    pub prefix: String,
    /// KEKs that already exist on the backend and whose clear values the
    /// harness knows (a [`KeyRef`] with `clear`), by KEK role ([`Role::Kek`],
    /// [`Role::KekAes`]). They are used instead of forming the KEK from
    /// clear components — for backends that take components only at a
    /// console (a payShield running the public test LMK, where the harness
    /// loads the KEK under the LMK itself). [`provision`] never creates
    /// them, so [`teardown`] never deletes them.
    pub existing_keks: BTreeMap<Role, KeyRef>,
    /// Roles the harness already knows the backend cannot hold, with why
    /// (e.g. AES keys under a variant LMK). They are not attempted; cases
    /// that need them (or a key under them) are reported as unsupported.
    pub unsupported: BTreeMap<Role, String>,
    /// Give every role without a published key a fixed clear value
    /// ([`Role::fixed_clear`]) instead of a random one, so that two backends
    /// provisioned separately hold the same keys (differential testing).
    pub fixed_keys: bool,
}

impl Default for ProvisionOptions {
    fn default() -> Self {
        Self {
            prefix: format!("conformance-{:08x}/", rand::rng().random::<u32>()),
            existing_keks: BTreeMap::new(),
            unsupported: BTreeMap::new(),
            fixed_keys: false,
        }
    }
}

impl ProvisionOptions {
    /// Default options with `prefix`.
    pub fn with_prefix(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            ..Self::default()
        }
    }

    /// Uses the existing KEK `key` (its clear value must be known) for
    /// `role` instead of forming one from components.
    pub fn with_existing_kek(mut self, role: Role, key: KeyRef) -> Self {
        self.unsupported.remove(&role);
        self.existing_keks.insert(role, key);
        self
    }

    /// Fixed clear values instead of random ones (see
    /// [`ProvisionOptions::fixed_keys`]).
    pub fn with_fixed_keys(mut self) -> Self {
        self.fixed_keys = true;
        self
    }

    /// Declares that the backend cannot hold `role`'s key.
    pub fn with_unsupported(mut self, role: Role, why: impl Into<String>) -> Self {
        self.existing_keks.remove(&role);
        self.unsupported.insert(role, why.into());
        self
    }
}

/// The result of [`provision`]: the key set, the names created (for
/// [`teardown`]) and notes about roles that could not be set up.
#[derive(Debug, Clone, Default)]
pub struct Provisioned {
    /// The keys, by role.
    pub keys: KeySet,
    /// Every key created, in creation order.
    pub created: Vec<KeyId>,
    /// What went wrong, for the report.
    pub notes: Vec<String>,
}

fn random_key(alg: KeyAlgorithm, rng: &mut impl RngCore) -> Vec<u8> {
    let mut k = vec![0u8; alg.key_len()];
    rng.fill_bytes(&mut k);
    if alg.is_tdes() {
        crate::algo::cipher::fix_odd_parity(&mut k);
    }
    k
}

/// Sets up every role on `backend` through key exchange: each KEK from two
/// random clear components (with their KCVs) — or an existing KEK from
/// [`ProvisionOptions::existing_keks`] — then each working key as a TR-31
/// block under a KEK (version B under the TDES KEK for TDES keys, D under
/// the AES KEK for AES and HMAC keys). Roles with a published test key get
/// that key, so known-answer cases run; the others get random keys.
///
/// Never fails as a whole: a role that cannot be set up is marked missing
/// with the backend's error, and cases that need it are skipped with why;
/// a role the backend answers Unsupported for (or that needs a KEK it
/// cannot hold) is marked unsupported, and cases that need it say so.
pub async fn provision(backend: &dyn Backend, opts: &ProvisionOptions) -> Provisioned {
    let mut out = Provisioned {
        keys: KeySet::new().with_scratch_prefix(opts.prefix.clone()),
        ..Provisioned::default()
    };
    let caps = backend.capabilities();
    if !caps.supports(Operation::ImportKey) {
        out.keys = KeySet::new().with_default_missing(
            "the backend does not declare import_key, so the suite cannot set up keys; \
             name existing keys with --keys FILE",
        );
        return out;
    }
    let mut rng = rand::rngs::StdRng::from_rng(&mut rand::rng());
    let mut keks: BTreeMap<Role, zeroize::Zeroizing<Vec<u8>>> = BTreeMap::new();
    for role in Role::ALL.iter().copied() {
        let attrs = role.attributes();
        if let Some(why) = opts.unsupported.get(&role) {
            out.keys.mark_unsupported(role, why.clone());
            continue;
        }
        if !caps.supports_key_algorithm(attrs.algorithm) {
            out.keys.mark_unsupported(
                role,
                format!(
                    "{} keys unsupported: the backend's capabilities leave them out",
                    attrs.algorithm.aws_name()
                ),
            );
            continue;
        }
        if let Some(existing) = opts.existing_keks.get(&role) {
            match &existing.clear {
                Some(c) if c.len() == attrs.algorithm.key_len() => {
                    keks.insert(role, zeroize::Zeroizing::new(c.expose().to_vec()));
                    let kcv = existing
                        .kcv
                        .or_else(|| key_check_value(attrs.algorithm, c.expose()).ok());
                    out.keys.insert(
                        role,
                        KeyRef {
                            id: existing.id.clone(),
                            clear: Some(c.clone()),
                            kcv,
                        },
                    );
                }
                _ => {
                    let why = format!(
                        "the existing `{role}` given to the suite has no clear value of the role's length"
                    );
                    out.notes.push(why.clone());
                    out.keys.mark_missing(role, why);
                }
            }
            continue;
        }
        let name = format!("{}{}", opts.prefix, role.as_str());
        let id = match KeyId::new(name) {
            Ok(id) => id,
            Err(e) => {
                out.keys
                    .mark_missing(role, format!("bad key name prefix: {e}"));
                continue;
            }
        };
        let result = if attrs.usage == KeyUsage::KeyEncryption {
            let c1 = random_key(attrs.algorithm, &mut rng);
            let c2 = random_key(attrs.algorithm, &mut rng);
            let clear = match combine_components(attrs.algorithm, &[&c1, &c2]) {
                Ok(c) => c,
                Err(e) => {
                    out.keys.mark_missing(role, e.to_string());
                    continue;
                }
            };
            let req = kek_from_components(id.clone(), attrs.algorithm, &[&c1, &c2]);
            let r = match req {
                Ok(req) => backend.import_key(req).await,
                Err(e) => Err(e),
            };
            if r.is_ok() {
                keks.insert(role, clear.clone());
            }
            r.map(|info| (info, clear.to_vec()))
        } else {
            let kek_role = if attrs.algorithm.is_tdes() {
                Role::Kek
            } else {
                Role::KekAes
            };
            let Some(kek_clear) = keks.get(&kek_role) else {
                match out.keys.why_unsupported(kek_role) {
                    Some(why) => {
                        let why =
                            format!("needs `{kek_role}`, which the backend cannot hold: {why}");
                        out.keys.mark_unsupported(role, why);
                    }
                    None => {
                        let why = format!(
                            "could not set up `{}`: {}",
                            kek_role,
                            out.keys.why_missing(kek_role)
                        );
                        out.keys.mark_missing(role, why);
                    }
                }
                continue;
            };
            let Some(kek_ref) = out.keys.get(kek_role) else {
                continue;
            };
            let clear = match role.published() {
                Some((hex_key, _)) => hex::decode(hex_key).unwrap_or_default(),
                None if opts.fixed_keys => role.fixed_clear(),
                None => random_key(attrs.algorithm, &mut rng),
            };
            let kek_alg = kek_role.attributes().algorithm;
            let req = tr31_import(
                kek_ref.id.clone(),
                kek_alg,
                kek_clear,
                id.clone(),
                attrs,
                &clear,
            );
            let r = match req {
                Ok(req) => backend.import_key(req).await,
                Err(e) => Err(e),
            };
            r.map(|info| (info, clear))
        };
        match result {
            Ok((info, clear)) => {
                out.created.push(id.clone());
                let kcv = key_check_value(attrs.algorithm, &clear).unwrap_or(info.key_check_value);
                out.keys.insert(
                    role,
                    KeyRef {
                        id,
                        clear: Some(SecretBytes::new(clear)),
                        kcv: Some(kcv),
                    },
                );
            }
            // A KEK is the suite's way in, not a variant under test: a
            // backend that takes no clear components leaves it missing.
            Err(e)
                if e.kind() == crate::ErrorKind::Unsupported
                    && attrs.usage != KeyUsage::KeyEncryption =>
            {
                out.keys
                    .mark_unsupported(role, format!("the backend cannot hold `{role}`: {e}"));
            }
            Err(e) if e.kind() == crate::ErrorKind::Unsupported => {
                let why = format!(
                    "the backend cannot form `{role}` from clear components ({e}); \
                     give the suite an existing KEK, or name existing keys with --keys FILE"
                );
                out.notes.push(why.clone());
                out.keys.mark_missing(role, why);
            }
            Err(e) => {
                let why = format!("setting up `{role}` failed: {e}");
                out.notes.push(why.clone());
                out.keys.mark_missing(role, why);
            }
        }
    }
    out
}

/// Deletes the keys [`provision`] created (when the backend declares
/// delete_key). Returns notes about keys that could not be deleted.
pub async fn teardown(backend: &dyn Backend, created: &[KeyId]) -> Vec<String> {
    let mut notes = Vec::new();
    if !backend.capabilities().supports(Operation::DeleteKey) {
        if !created.is_empty() {
            notes.push(format!(
                "{} keys created by the suite were left on the backend (it does not declare delete_key)",
                created.len()
            ));
        }
        return notes;
    }
    for id in created.iter().rev() {
        if let Err(e) = backend
            .delete_key(DeleteKeyRequest { key: id.clone() })
            .await
        {
            notes.push(format!("could not delete {id}: {e}"));
        }
    }
    notes
}

/// A software reference backend holding the same clear keys under the same
/// names (loaded through the same key-exchange path), for agreement cases.
pub async fn reference_for(keys: &KeySet) -> SoftwareBackend {
    let reference = SoftwareBackend::with_name("reference").with_parity_check(false);
    let mut rng = rand::rngs::StdRng::from_rng(&mut rand::rng());
    let c1 = random_key(KeyAlgorithm::Aes256, &mut rng);
    let c2 = random_key(KeyAlgorithm::Aes256, &mut rng);
    let Ok(kek_clear) = combine_components(KeyAlgorithm::Aes256, &[&c1, &c2]) else {
        return reference;
    };
    let Ok(kek_id) = KeyId::new("reference/kek") else {
        return reference;
    };
    let Ok(req) = kek_from_components(kek_id.clone(), KeyAlgorithm::Aes256, &[&c1, &c2]) else {
        return reference;
    };
    if reference.import_key(req).await.is_err() {
        return reference;
    }
    for (role, key) in keys.roles() {
        let Some(clear) = &key.clear else { continue };
        if let Ok(req) = tr31_import(
            kek_id.clone(),
            KeyAlgorithm::Aes256,
            &kek_clear,
            key.id.clone(),
            role.attributes(),
            clear.expose(),
        ) {
            // A key the reference cannot hold (wrong length for the role)
            // simply makes agreement cases for it fail to find the key.
            let _ = reference.import_key(req).await;
        }
    }
    reference
}
