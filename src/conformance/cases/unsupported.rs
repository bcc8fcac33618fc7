//! Every operation a backend does not declare must return Unsupported —
//! not an answer, and not another error.

use crate::algo::pinblock::{EncryptedPinBlock, PinBlockFormat};
use crate::backend::Backend;
use crate::conformance::{fail, Outcome, Stop};
use crate::error::ErrorKind;
use crate::ops::*;
use crate::types::{
    CardExpiry, KeyAlgorithm, KeyAttributes, KeyId, KeyUsage, ModesOfUse, Pan, PinLength, Psn,
    Pvki, Pvv, SecretBytes,
};

/// A well-formed request for `op`, naming a key that need not exist.
pub(crate) fn sample_request(op: Operation) -> crate::Result<Request> {
    let key = KeyId::new("paycrypto-conformance/undeclared")?;
    let pan = Pan::new("4111111111111111")?;
    let attrs = KeyAttributes::new(
        KeyUsage::CardVerification,
        KeyAlgorithm::Tdes2,
        ModesOfUse::GENERATE_VERIFY,
    );
    Ok(match op {
        Operation::TranslatePin => Request::TranslatePin(TranslatePinRequest {
            incoming_key: PinKey::Key(key.clone()),
            incoming_format: PinBlockFormat::Iso0,
            outgoing_key: key,
            outgoing_format: PinBlockFormat::Iso0,
            pan,
            pin_block: EncryptedPinBlock::from_bytes(&[0x11; 8])?,
        }),
        Operation::EncryptData => Request::EncryptData(EncryptDataRequest {
            key: DataKey::Key(key),
            mode: CipherMode::Ecb,
            plaintext: SecretBytes::new(vec![0; 8]),
        }),
        Operation::DecryptData => Request::DecryptData(DecryptDataRequest {
            key: DataKey::Key(key),
            mode: CipherMode::Ecb,
            ciphertext: vec![0; 8],
        }),
        Operation::ReEncryptData => Request::ReEncryptData(ReEncryptDataRequest {
            incoming_key: DataKey::Key(key.clone()),
            incoming_mode: CipherMode::Ecb,
            outgoing_key: DataKey::Key(key),
            outgoing_mode: CipherMode::Ecb,
            ciphertext: vec![0; 8],
        }),
        Operation::GenerateCardValidation => {
            Request::GenerateCardValidation(GenerateCardValidationRequest {
                key,
                pan,
                expiry: CardExpiry::new("2512")?,
                kind: CardValidationKind::Cvv2,
                length: crate::types::CvvLength::THREE,
            })
        }
        Operation::VerifyCardValidation => {
            Request::VerifyCardValidation(VerifyCardValidationRequest {
                key,
                pan,
                expiry: CardExpiry::new("2512")?,
                kind: CardValidationKind::Cvv2,
                value: crate::Cvv::new("123")?,
            })
        }
        Operation::VerifyArqc => Request::VerifyArqc(VerifyArqcRequest {
            key,
            mk_derivation: MkDerivation::OptionA,
            session: SessionKeyDerivation::Visa,
            pan,
            psn: Psn::new("00")?,
            transaction_data: vec![0; 8],
            padding: Iso9797Padding::None,
            arqc: [0; 8],
            arpc: None,
        }),
        Operation::GenerateArqc => Request::GenerateArqc(GenerateArqcRequest {
            key,
            mk_derivation: MkDerivation::OptionA,
            session: SessionKeyDerivation::Visa,
            pan,
            psn: Psn::new("00")?,
            transaction_data: vec![0; 8],
            padding: Iso9797Padding::None,
        }),
        Operation::GenerateMac => Request::GenerateMac(GenerateMacRequest {
            key,
            algorithm: MacAlgorithm::Cmac,
            data: vec![0; 8],
            mac_length: None,
        }),
        Operation::VerifyMac => Request::VerifyMac(VerifyMacRequest {
            key,
            algorithm: MacAlgorithm::Cmac,
            data: vec![0; 8],
            mac: vec![0; 8],
        }),
        Operation::GeneratePinData => Request::GeneratePinData(GeneratePinDataRequest {
            generation_key: key.clone(),
            encryption_key: key,
            format: PinBlockFormat::Iso0,
            pan,
            method: PinGeneration::VisaPin {
                pvki: Pvki::new(1)?,
                pin_length: PinLength::FOUR,
            },
        }),
        Operation::VerifyPinData => Request::VerifyPinData(VerifyPinDataRequest {
            verification_key: key.clone(),
            pin_key: PinKey::Key(key),
            format: PinBlockFormat::Iso0,
            pan,
            pin_block: EncryptedPinBlock::from_bytes(&[0x11; 8])?,
            method: PinVerification::VisaPvv {
                pvki: Pvki::new(1)?,
                pvv: Pvv::new("1234")?,
            },
            pin_length: None,
        }),
        Operation::GenerateKey => Request::GenerateKey(GenerateKeyRequest {
            key_id: key,
            attributes: attrs,
        }),
        Operation::ImportKey => Request::ImportKey(ImportKeyRequest {
            key_id: key.clone(),
            material: KeyMaterial::Tr31 {
                kek: key,
                key_block: "B0000P0TE00E0000".into(),
            },
            expected_kcv: None,
        }),
        Operation::ExportKey => {
            Request::ExportKey(ExportKeyRequest::tr31(key.clone(), key, Tr31Version::B))
        }
        Operation::GetKeyInfo => Request::GetKeyInfo(GetKeyInfoRequest { key }),
        Operation::DeleteKey => Request::DeleteKey(DeleteKeyRequest { key }),
        Operation::GetPublicKeyCertificate => {
            Request::GetPublicKeyCertificate(GetPublicKeyCertificateRequest { key })
        }
    })
}

/// Sends a sample request for the undeclared `op` and expects Unsupported.
pub(crate) async fn check(backend: &dyn Backend, op: Operation) -> Outcome {
    let req = sample_request(op).map_err(|e| fail(format!("sample request: {e}")))?;
    match backend.execute(req).await {
        Ok(_) => Err(fail(format!(
            "{op} is not declared, but the backend answered it"
        ))),
        Err(e) if e.kind() == ErrorKind::Unsupported => Ok(()),
        Err(e) => Err(Stop::Fail(format!(
            "{op} is not declared: expected unsupported, got {} ({e})",
            e.kind()
        ))),
    }
}
