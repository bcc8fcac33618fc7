//! Issuer PIN data (`GeneratePinData`, `VerifyPinData`).

use super::data::dukpt_type;
use super::*;
use crate::types::{PinOffset, Pvv};

/// The service's `PinBlockFormatForPinData` for `f` (ISO 0, 1, 3, 4).
fn pin_data_format(f: PinBlockFormat) -> Result<dt::PinBlockFormatForPinData> {
    Ok(match f {
        PinBlockFormat::Iso0 => dt::PinBlockFormatForPinData::IsoFormat0,
        PinBlockFormat::Iso1 => dt::PinBlockFormatForPinData::IsoFormat1,
        PinBlockFormat::Iso3 => dt::PinBlockFormatForPinData::IsoFormat3,
        PinBlockFormat::Iso4 => dt::PinBlockFormatForPinData::IsoFormat4,
        PinBlockFormat::Iso2 => {
            return Err(Error::unsupported(
                "ISO format 2 PIN data (the service takes ISO 0, 1, 3 and 4)",
            ))
        }
    })
}

fn pin_block(field: &'static str, s: &str) -> Result<EncryptedPinBlock> {
    EncryptedPinBlock::from_bytes(&unhex(field, s)?).map_err(|_| {
        Error::new(
            ErrorKind::Protocol,
            format!("service returned a {field} of a bad length"),
        )
    })
}

impl AwsBackend {
    pub(super) async fn generate_pin_data(
        &self,
        r: GeneratePinDataRequest,
    ) -> Result<GeneratePinDataResponse> {
        let mut length = None;
        let attrs = match &r.method {
            PinGeneration::VisaPin { pvki, pin_length } => {
                length = Some(pin_length.get());
                dt::PinGenerationAttributes::VisaPin(built(
                    dt::VisaPin::builder()
                        .pin_verification_key_index(i32::from(pvki.get()))
                        .build(),
                    "visa pin attributes",
                )?)
            }
            PinGeneration::VisaPvv { pvki, pin_block } => {
                dt::PinGenerationAttributes::VisaPinVerificationValue(built(
                    dt::VisaPinVerificationValue::builder()
                        .encrypted_pin_block(hexu(pin_block.as_bytes()))
                        .pin_verification_key_index(i32::from(pvki.get()))
                        .build(),
                    "visa pvv attributes",
                )?)
            }
            PinGeneration::Ibm3624NaturalPin { ibm, pin_length } => {
                length = Some(pin_length.get());
                dt::PinGenerationAttributes::Ibm3624NaturalPin(built(
                    dt::Ibm3624NaturalPin::builder()
                        .decimalization_table(ibm.decimalization_table.expose())
                        .pin_validation_data_pad_character(ibm.pad.as_char())
                        .pin_validation_data(ibm.validation_data.expose())
                        .build(),
                    "ibm 3624 attributes",
                )?)
            }
            PinGeneration::Ibm3624RandomPin { ibm, pin_length } => {
                length = Some(pin_length.get());
                dt::PinGenerationAttributes::Ibm3624RandomPin(built(
                    dt::Ibm3624RandomPin::builder()
                        .decimalization_table(ibm.decimalization_table.expose())
                        .pin_validation_data_pad_character(ibm.pad.as_char())
                        .pin_validation_data(ibm.validation_data.expose())
                        .build(),
                    "ibm 3624 attributes",
                )?)
            }
            PinGeneration::Ibm3624PinOffset { ibm, pin_block } => {
                dt::PinGenerationAttributes::Ibm3624PinOffset(built(
                    dt::Ibm3624PinOffset::builder()
                        .encrypted_pin_block(hexu(pin_block.as_bytes()))
                        .decimalization_table(ibm.decimalization_table.expose())
                        .pin_validation_data_pad_character(ibm.pad.as_char())
                        .pin_validation_data(ibm.validation_data.expose())
                        .build(),
                    "ibm 3624 attributes",
                )?)
            }
            PinGeneration::Ibm3624PinFromOffset { ibm, offset } => {
                length = Some(offset.len());
                dt::PinGenerationAttributes::Ibm3624PinFromOffset(built(
                    dt::Ibm3624PinFromOffset::builder()
                        .decimalization_table(ibm.decimalization_table.expose())
                        .pin_validation_data_pad_character(ibm.pad.as_char())
                        .pin_validation_data(ibm.validation_data.expose())
                        .pin_offset(offset.expose())
                        .build(),
                    "ibm 3624 attributes",
                )?)
            }
        };
        let out = self
            .data
            .generate_pin_data()
            .generation_key_identifier(key_identifier(&r.generation_key))
            .encryption_key_identifier(key_identifier(&r.encryption_key))
            .generation_attributes(attrs)
            .set_pin_data_length(length.map(|n| n as i32))
            .primary_account_number(r.pan.expose())
            .pin_block_format(pin_data_format(r.format)?)
            .send()
            .await
            .map_err(|e| map(e, "GeneratePinData"))?;
        let bad = |what: &str| {
            Error::new(
                ErrorKind::Protocol,
                format!("GeneratePinData: the service returned {what}"),
            )
        };
        let pin_data = match out.pin_data() {
            Some(dt::PinData::PinOffset(o)) => {
                PinData::Offset(PinOffset::new(o).map_err(|_| bad("a malformed PinOffset"))?)
            }
            Some(dt::PinData::VerificationValue(v)) => {
                PinData::Pvv(Pvv::new(v).map_err(|_| bad("a malformed VerificationValue"))?)
            }
            _ => return Err(bad("no PinData it models")),
        };
        let expected_offset = !matches!(r.method.scheme(), PinScheme::VisaPvv);
        if expected_offset != matches!(pin_data, PinData::Offset(_)) {
            return Err(bad("PinData of the other scheme"));
        }
        Ok(GeneratePinDataResponse {
            pin_block: pin_block("EncryptedPinBlock", out.encrypted_pin_block())?,
            format: r.format,
            pin_data,
            generation_key_check_value: kcv(out.generation_key_check_value())?,
            encryption_key_check_value: kcv(out.encryption_key_check_value())?,
        })
    }

    pub(super) async fn verify_pin_data(&self, r: VerifyPinDataRequest) -> Result<VerifyResponse> {
        let attrs = match &r.method {
            PinVerification::Ibm3624 { ibm, offset } => {
                dt::PinVerificationAttributes::Ibm3624Pin(built(
                    dt::Ibm3624PinVerification::builder()
                        .decimalization_table(ibm.decimalization_table.expose())
                        .pin_validation_data_pad_character(ibm.pad.as_char())
                        .pin_validation_data(ibm.validation_data.expose())
                        .pin_offset(offset.expose())
                        .build(),
                    "ibm 3624 attributes",
                )?)
            }
            PinVerification::VisaPvv { pvki, pvv } => {
                dt::PinVerificationAttributes::VisaPin(built(
                    dt::VisaPinVerification::builder()
                        .pin_verification_key_index(i32::from(pvki.get()))
                        .verification_value(pvv.expose())
                        .build(),
                    "visa pin attributes",
                )?)
            }
        };
        let mut b = self
            .data
            .verify_pin_data()
            .verification_key_identifier(key_identifier(&r.verification_key))
            .verification_attributes(attrs)
            .encrypted_pin_block(hexu(r.pin_block.as_bytes()))
            .primary_account_number(r.pan.expose())
            .pin_block_format(pin_data_format(r.format)?)
            .set_pin_data_length(r.pin_length.map(|n| n.get() as i32));
        b = match &r.pin_key {
            PinKey::Key(k) => b.encryption_key_identifier(key_identifier(k)),
            PinKey::Dukpt(d) => b
                .encryption_key_identifier(key_identifier(&d.bdk))
                .dukpt_attributes(built(
                    dt::DukptAttributes::builder()
                        .key_serial_number(d.ksn.to_hex())
                        .dukpt_derivation_type(dukpt_type(d.key_type)?)
                        .build(),
                    "dukpt attributes",
                )?),
        };
        let res = b.send().await;
        Ok(VerifyResponse {
            verification: verification(res, "VerifyPinData")?,
        })
    }
}
