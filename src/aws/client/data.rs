//! PIN translation and data encryption (`TranslatePinData`, `EncryptData`, `DecryptData`).

use super::*;

impl AwsBackend {
    pub(super) async fn translate_pin(
        &self,
        r: TranslatePinRequest,
    ) -> Result<TranslatePinResponse> {
        let pan = r.pan.expose();
        let mut b = self
            .data
            .translate_pin_data()
            .outgoing_key_identifier(key_identifier(&r.outgoing_key))
            .incoming_translation_attributes(pin_format(r.incoming_format, pan)?)
            .outgoing_translation_attributes(pin_format(r.outgoing_format, pan)?)
            .encrypted_pin_block(hexu(r.pin_block.as_bytes()));
        b = match &r.incoming_key {
            PinKey::Key(k) => b.incoming_key_identifier(key_identifier(k)),
            PinKey::Dukpt(d) => b
                .incoming_key_identifier(key_identifier(&d.bdk))
                .incoming_dukpt_attributes(built(
                    dt::DukptDerivationAttributes::builder()
                        .key_serial_number(d.ksn.to_hex())
                        .dukpt_key_derivation_type(dukpt_type(d.key_type)?)
                        .build(),
                    "dukpt attributes",
                )?),
        };
        let out = b.send().await.map_err(|e| map(e, "TranslatePinData"))?;
        let block = unhex("PinBlock", out.pin_block())?;
        Ok(TranslatePinResponse {
            pin_block: EncryptedPinBlock::from_bytes(&block).map_err(|_| {
                Error::new(
                    ErrorKind::Protocol,
                    "service returned a PIN block of a bad length",
                )
            })?,
            format: r.outgoing_format,
            key_check_value: kcv(out.key_check_value())?,
        })
    }

    pub(super) fn crypt_attrs(
        key: &DataKey,
        mode: &CipherMode,
    ) -> Result<(String, dt::EncryptionDecryptionAttributes)> {
        let iv = match mode {
            CipherMode::Ecb => None,
            CipherMode::Cbc { iv } => Some(hexu(iv)),
        };
        Ok(match key {
            DataKey::Key(k) => {
                let m = match mode {
                    CipherMode::Ecb => dt::EncryptionMode::Ecb,
                    CipherMode::Cbc { .. } => dt::EncryptionMode::Cbc,
                };
                let a = built(
                    dt::SymmetricEncryptionAttributes::builder()
                        .mode(m)
                        .set_initialization_vector(iv)
                        .build(),
                    "symmetric attributes",
                )?;
                (
                    key_identifier(k),
                    dt::EncryptionDecryptionAttributes::Symmetric(a),
                )
            }
            DataKey::Dukpt { dukpt, variant: v } => {
                let m = match mode {
                    CipherMode::Ecb => dt::DukptEncryptionMode::Ecb,
                    CipherMode::Cbc { .. } => dt::DukptEncryptionMode::Cbc,
                };
                let a = built(
                    dt::DukptEncryptionAttributes::builder()
                        .key_serial_number(dukpt.ksn.to_hex())
                        .mode(m)
                        .dukpt_key_derivation_type(dukpt_type(dukpt.key_type)?)
                        .dukpt_key_variant(variant(*v))
                        .set_initialization_vector(iv)
                        .build(),
                    "dukpt attributes",
                )?;
                (
                    key_identifier(&dukpt.bdk),
                    dt::EncryptionDecryptionAttributes::Dukpt(a),
                )
            }
        })
    }

    pub(super) async fn encrypt_data(&self, r: EncryptDataRequest) -> Result<EncryptDataResponse> {
        let (ident, attrs) = Self::crypt_attrs(&r.key, &r.mode)?;
        let out = self
            .data
            .encrypt_data()
            .key_identifier(ident)
            .plain_text(hexu(r.plaintext.expose()))
            .encryption_attributes(attrs)
            .send()
            .await
            .map_err(|e| map(e, "EncryptData"))?;
        Ok(EncryptDataResponse {
            ciphertext: unhex("CipherText", out.cipher_text())?,
            key_check_value: kcv(out.key_check_value().unwrap_or_default())?,
        })
    }

    pub(super) async fn decrypt_data(&self, r: DecryptDataRequest) -> Result<DecryptDataResponse> {
        let (ident, attrs) = Self::crypt_attrs(&r.key, &r.mode)?;
        let out = self
            .data
            .decrypt_data()
            .key_identifier(ident)
            .cipher_text(hexu(&r.ciphertext))
            .decryption_attributes(attrs)
            .send()
            .await
            .map_err(|e| map(e, "DecryptData"))?;
        let plain = zeroize::Zeroizing::new(unhex("PlainText", out.plain_text())?);
        Ok(DecryptDataResponse {
            plaintext: SecretBytes::from_slice(&plain),
            key_check_value: kcv(out.key_check_value())?,
        })
    }
}

impl AwsBackend {
    /// `ReEncryptData`: the incoming key in the path, both keys' attributes
    /// as `ReEncryptionAttributes` (Symmetric or Dukpt).
    pub(super) async fn re_encrypt_data(
        &self,
        r: ReEncryptDataRequest,
    ) -> Result<ReEncryptDataResponse> {
        let re = |a: dt::EncryptionDecryptionAttributes| match a {
            dt::EncryptionDecryptionAttributes::Symmetric(s) => {
                Ok(dt::ReEncryptionAttributes::Symmetric(s))
            }
            dt::EncryptionDecryptionAttributes::Dukpt(d) => {
                Ok(dt::ReEncryptionAttributes::Dukpt(d))
            }
            _ => Err(Error::unsupported("these re-encryption attributes")),
        };
        let (incoming, in_attrs) = Self::crypt_attrs(&r.incoming_key, &r.incoming_mode)?;
        let (outgoing, out_attrs) = Self::crypt_attrs(&r.outgoing_key, &r.outgoing_mode)?;
        let out = self
            .data
            .re_encrypt_data()
            .incoming_key_identifier(incoming)
            .outgoing_key_identifier(outgoing)
            .cipher_text(hexu(&r.ciphertext))
            .incoming_encryption_attributes(re(in_attrs)?)
            .outgoing_encryption_attributes(re(out_attrs)?)
            .send()
            .await
            .map_err(|e| map(e, "ReEncryptData"))?;
        Ok(ReEncryptDataResponse {
            ciphertext: unhex("CipherText", out.cipher_text())?,
            key_check_value: kcv(out.key_check_value())?,
        })
    }
}

fn pin_format(f: PinBlockFormat, pan: &str) -> Result<dt::TranslationIsoFormats> {
    let f034 = || {
        dt::TranslationPinDataIsoFormat034::builder()
            .primary_account_number(pan)
            .build()
            .map_err(|e| Error::invalid("pan", "missing").with_source(e))
    };
    Ok(match f {
        PinBlockFormat::Iso0 => dt::TranslationIsoFormats::IsoFormat0(f034()?),
        PinBlockFormat::Iso1 => dt::TranslationIsoFormats::IsoFormat1(
            dt::TranslationPinDataIsoFormat1::builder().build(),
        ),
        PinBlockFormat::Iso3 => dt::TranslationIsoFormats::IsoFormat3(f034()?),
        PinBlockFormat::Iso4 => dt::TranslationIsoFormats::IsoFormat4(f034()?),
        PinBlockFormat::Iso2 => {
            return Err(Error::unsupported(
                "ISO format 2 PIN blocks (AWS Payment Cryptography translates ISO 0, 1, 3 and 4)",
            ))
        }
    })
}

pub(super) fn dukpt_type(a: KeyAlgorithm) -> Result<dt::DukptDerivationType> {
    Ok(dt::DukptDerivationType::from(match a {
        KeyAlgorithm::HmacSha256 => {
            return Err(Error::invalid(
                "dukpt key type",
                "HMAC is not a DUKPT working key type",
            ))
        }
        a => a.aws_name(),
    }))
}

fn variant(v: DukptVariant) -> dt::DukptKeyVariant {
    match v {
        DukptVariant::Request => dt::DukptKeyVariant::Request,
        DukptVariant::Response => dt::DukptKeyVariant::Response,
        DukptVariant::Bidirectional => dt::DukptKeyVariant::Bidirectional,
    }
}
