//! [`Request::key_ids`]: the keys a request names.

use super::*;
use crate::types::KeyId;

impl PinKey {
    /// The key named: the zone PIN key, or the BDK of a DUKPT key.
    pub fn key_id(&self) -> &KeyId {
        match self {
            Self::Key(k) => k,
            Self::Dukpt(d) => &d.bdk,
        }
    }
}

impl DataKey {
    /// The key named: the data key, or the BDK of a DUKPT key.
    pub fn key_id(&self) -> &KeyId {
        match self {
            Self::Key(k) => k,
            Self::Dukpt { dukpt, .. } => &dukpt.bdk,
        }
    }
}

impl EcdhParameters {
    /// The keys named: the key pair and the certificate authority.
    pub fn key_ids(&self) -> Vec<&KeyId> {
        vec![&self.private_key, &self.certificate_authority]
    }
}

impl Request {
    /// The keys this request uses that must already be on the backend (a
    /// BDK for DUKPT, a KEK for a TR-31 import); not the name a
    /// `generate_key` / `import_key` gives its new key. For key mapping
    /// (a proxy resolving names on another backend) and for harnesses that
    /// skip requests naming keys a backend does not hold.
    pub fn key_ids(&self) -> Vec<&KeyId> {
        match self {
            Self::TranslatePin(r) => vec![r.incoming_key.key_id(), &r.outgoing_key],
            Self::EncryptData(r) => vec![r.key.key_id()],
            Self::DecryptData(r) => vec![r.key.key_id()],
            Self::ReEncryptData(r) => vec![r.incoming_key.key_id(), r.outgoing_key.key_id()],
            Self::GenerateCardValidation(r) => vec![&r.key],
            Self::VerifyCardValidation(r) => vec![&r.key],
            Self::VerifyArqc(r) => vec![&r.key],
            Self::GenerateArqc(r) => vec![&r.key],
            Self::GenerateMac(r) => vec![&r.key],
            Self::VerifyMac(r) => vec![&r.key],
            Self::GeneratePinData(r) => vec![&r.generation_key, &r.encryption_key],
            Self::VerifyPinData(r) => vec![&r.verification_key, r.pin_key.key_id()],
            Self::GenerateKey(_) => vec![],
            Self::ImportKey(r) => match &r.material {
                KeyMaterial::Tr31 { kek, .. } => vec![kek],
                KeyMaterial::Components { .. } | KeyMaterial::RootCertificate { .. } => vec![],
                KeyMaterial::TrustedCertificate {
                    certificate_authority,
                    ..
                } => vec![certificate_authority],
                KeyMaterial::Tr34(t) => match &t.krd {
                    Tr34Krd::KeyPair { key, .. } => vec![&t.certificate_authority, key],
                    Tr34Krd::ImportToken(_) => vec![&t.certificate_authority],
                },
                KeyMaterial::Ecdh { params, .. } => params.key_ids(),
            },
            Self::ExportKey(r) => {
                let mut ids = vec![&r.key];
                match &r.method {
                    ExportMethod::Tr31 { kek, .. } => ids.push(kek),
                    ExportMethod::Tr34(t) => {
                        ids.push(&t.certificate_authority);
                        if let Tr34Kdh::KeyPair { key, .. } = &t.kdh {
                            ids.push(key);
                        }
                    }
                    ExportMethod::Ecdh(p) => ids.extend(p.key_ids()),
                }
                ids
            }
            Self::GetKeyInfo(r) => vec![&r.key],
            Self::DeleteKey(r) => vec![&r.key],
            Self::GetPublicKeyCertificate(r) => vec![&r.key],
        }
    }
}
