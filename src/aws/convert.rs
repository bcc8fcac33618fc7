//! Conversions between the crate's types and the SDK's.

use crate::error::{Error, ErrorKind, Result};
use crate::ops::KeyInfo;
use crate::types::{
    Exportability, Kcv, KeyAlgorithm, KeyAttributes, KeyClass, KeyId, KeyUsage, ModesOfUse,
};
use aws_sdk_paymentcryptography::types as ctl;

/// The service identifier for a key name: ARNs and `alias/…` pass through,
/// anything else becomes `alias/<name>`.
pub(crate) fn key_identifier(id: &KeyId) -> String {
    let s = id.as_str();
    if s.starts_with("arn:") || s.starts_with("alias/") {
        s.to_owned()
    } else {
        format!("alias/{s}")
    }
}

/// The alias a new key is bound to (an ARN cannot name a new key).
pub(crate) fn alias_for_new_key(id: &KeyId) -> Result<String> {
    if id.as_str().starts_with("arn:") {
        return Err(Error::invalid(
            "key id",
            "a new key needs a name or an alias/…, not an ARN",
        ));
    }
    Ok(key_identifier(id))
}

/// The crate algorithm of an AWS algorithm name.
pub(crate) fn algorithm(s: &str) -> Result<KeyAlgorithm> {
    KeyAlgorithm::from_aws_name(s).ok_or_else(|| Error::unsupported(format!("key algorithm {s}")))
}

pub(crate) fn modes_to_sdk(m: ModesOfUse) -> ctl::KeyModesOfUse {
    ctl::KeyModesOfUse::builder()
        .encrypt(m.encrypt)
        .decrypt(m.decrypt)
        .wrap(m.wrap)
        .unwrap(m.unwrap)
        .generate(m.generate)
        .sign(m.sign)
        .verify(m.verify)
        .derive_key(m.derive_key)
        .no_restrictions(m.no_restrictions)
        .build()
}

pub(crate) fn modes_from_sdk(m: &ctl::KeyModesOfUse) -> ModesOfUse {
    ModesOfUse {
        encrypt: m.encrypt(),
        decrypt: m.decrypt(),
        wrap: m.wrap(),
        unwrap: m.unwrap(),
        generate: m.generate(),
        sign: m.sign(),
        verify: m.verify(),
        derive_key: m.derive_key(),
        no_restrictions: m.no_restrictions(),
    }
}

/// SDK `KeyAttributes` for a new key: a symmetric key, or an asymmetric
/// key pair for the RSA and ECC algorithms.
pub(crate) fn attributes_to_sdk(a: &KeyAttributes) -> Result<ctl::KeyAttributes> {
    attributes_of_class(
        a,
        if a.algorithm.is_symmetric() {
            KeyClass::Symmetric
        } else {
            KeyClass::AsymmetricKeyPair
        },
    )
}

/// SDK `KeyAttributes` with an explicit key class (public keys).
pub(crate) fn attributes_of_class(
    a: &KeyAttributes,
    class: KeyClass,
) -> Result<ctl::KeyAttributes> {
    ctl::KeyAttributes::builder()
        .key_usage(ctl::KeyUsage::from(a.usage.aws_name()))
        .key_class(ctl::KeyClass::from(class.aws_name()))
        .key_algorithm(ctl::KeyAlgorithm::from(a.algorithm.aws_name()))
        .key_modes_of_use(modes_to_sdk(a.modes))
        .build()
        .map_err(|e| Error::invalid("key attributes", "incomplete").with_source(e))
}

/// The crate's view of an SDK `Key`, named `key_id`.
pub(crate) fn key_info(key_id: KeyId, k: &ctl::Key) -> Result<KeyInfo> {
    let a = k
        .key_attributes()
        .ok_or_else(|| Error::new(ErrorKind::Protocol, "key without attributes"))?;
    let usage = KeyUsage::from_aws_name(a.key_usage().as_str())
        .map_err(|_| Error::unsupported(format!("key usage {}", a.key_usage().as_str())))?;
    let algorithm = algorithm(a.key_algorithm().as_str())?;
    let modes = a.key_modes_of_use().map(modes_from_sdk).unwrap_or_default();
    let exportability = if k.exportable() {
        Exportability::Exportable
    } else {
        Exportability::NonExportable
    };
    Ok(KeyInfo {
        key_id,
        attributes: KeyAttributes::new(usage, algorithm, modes).with_exportability(exportability),
        key_check_value: kcv(k.key_check_value())?,
        key_class: KeyClass::from_aws_name(a.key_class().as_str())
            .ok_or_else(|| Error::unsupported(format!("key class {}", a.key_class().as_str())))?,
    })
}

/// Parses a KCV from the service (6 or more hex digits).
pub(crate) fn kcv(s: &str) -> Result<Kcv> {
    Kcv::from_hex(s).map_err(|_| Error::new(ErrorKind::Protocol, "service returned an invalid KCV"))
}

/// Decodes hex from the service.
pub(crate) fn unhex(field: &'static str, s: &str) -> Result<Vec<u8>> {
    hex::decode(s).map_err(|_| {
        Error::new(
            ErrorKind::Protocol,
            format!("service returned invalid hex in {field}"),
        )
    })
}

/// A certificate from an AWS Payment Cryptography certificate field
/// (`CertificateType`: base64 of PEM, as `GetPublicKeyCertificate` and
/// `GetParametersForImport` answer), or PEM text.
pub fn certificate_from_api(field: &str) -> Result<crate::ops::Certificate> {
    crate::ops::Certificate::from_der(crate::x509::api_certificate_der(field)?)
}

/// A certificate as AWS Payment Cryptography takes it: base64 of its PEM.
pub fn certificate_to_api(cert: &crate::ops::Certificate) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(crate::x509::der_to_pem(cert.der()))
}

/// The SDK's symmetric algorithm for the key an ECDH agreement derives.
pub(crate) fn symmetric_algorithm(a: KeyAlgorithm) -> Result<ctl::SymmetricKeyAlgorithm> {
    if !a.is_symmetric() {
        return Err(Error::invalid(
            "derive key algorithm",
            "must be a symmetric algorithm",
        ));
    }
    Ok(ctl::SymmetricKeyAlgorithm::from(a.aws_name()))
}

/// The SDK's `ImportDiffieHellmanTr31KeyBlock` / `ExportDiffieHellmanTr31KeyBlock`
/// members, as strings and enums.
pub(crate) struct EcdhSdk {
    pub(crate) private_key: String,
    pub(crate) ca: String,
    pub(crate) certificate: String,
    pub(crate) derive: ctl::SymmetricKeyAlgorithm,
    pub(crate) kdf: ctl::KeyDerivationFunction,
    pub(crate) hash: ctl::KeyDerivationHashAlgorithm,
    pub(crate) data: ctl::DiffieHellmanDerivationData,
}

/// The SDK members of ECDH parameters.
pub(crate) fn ecdh_to_sdk(p: &crate::ops::EcdhParameters) -> Result<EcdhSdk> {
    Ok(EcdhSdk {
        private_key: key_identifier(&p.private_key),
        ca: key_identifier(&p.certificate_authority),
        certificate: certificate_to_api(&p.public_key_certificate),
        derive: symmetric_algorithm(p.derive_key_algorithm)?,
        kdf: ctl::KeyDerivationFunction::from(p.kdf.aws_name()),
        hash: ctl::KeyDerivationHashAlgorithm::from(p.hash.aws_name()),
        data: ctl::DiffieHellmanDerivationData::SharedInformation(hex::encode_upper(
            &p.shared_information,
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        let id = |s: &str| KeyId::new(s).unwrap();
        assert_eq!(key_identifier(&id("zpk/acq-7")), "alias/zpk/acq-7");
        assert_eq!(key_identifier(&id("alias/x")), "alias/x");
        let arn = "arn:aws:payment-cryptography:us-east-1:111122223333:key/abcdefghijklmnop";
        assert_eq!(key_identifier(&id(arn)), arn);
        assert!(alias_for_new_key(&id(arn)).is_err());
    }

    #[test]
    fn modes_round_trip() {
        for m in [
            ModesOfUse::BOTH,
            ModesOfUse::GENERATE_VERIFY,
            ModesOfUse::DERIVE,
            ModesOfUse::ANY,
        ] {
            assert_eq!(modes_from_sdk(&modes_to_sdk(m)), m);
        }
    }
}
