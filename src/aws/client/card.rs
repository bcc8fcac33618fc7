//! Card validation values and EMV cryptograms (`Generate/VerifyCardValidationData`, `VerifyAuthRequestCryptogram`).

use super::*;

impl AwsBackend {
    pub(super) fn cv_attrs(
        kind: CardValidationKind,
        expiry: &str,
    ) -> Result<(
        Option<dt::CardVerificationValue1>,
        Option<dt::CardVerificationValue2>,
    )> {
        Ok(match kind {
            CardValidationKind::Cvv(_) | CardValidationKind::Icvv => (
                Some(built(
                    dt::CardVerificationValue1::builder()
                        .card_expiry_date(expiry)
                        .service_code(kind.service_code().as_str())
                        .build(),
                    "cvv attributes",
                )?),
                None,
            ),
            CardValidationKind::Cvv2 => (
                None,
                Some(built(
                    dt::CardVerificationValue2::builder()
                        .card_expiry_date(expiry)
                        .build(),
                    "cvv2 attributes",
                )?),
            ),
        })
    }

    pub(super) async fn generate_cv(
        &self,
        r: GenerateCardValidationRequest,
    ) -> Result<GenerateCardValidationResponse> {
        let attrs = match Self::cv_attrs(r.kind, r.expiry.as_str())? {
            (Some(a), _) => dt::CardGenerationAttributes::CardVerificationValue1(a),
            (_, Some(b)) => dt::CardGenerationAttributes::CardVerificationValue2(b),
            _ => return Err(Error::unsupported("card validation kind")),
        };
        let out = self
            .data
            .generate_card_validation_data()
            .key_identifier(key_identifier(&r.key))
            .primary_account_number(r.pan.expose())
            .generation_attributes(attrs)
            .validation_data_length(3)
            .send()
            .await
            .map_err(|e| map(e, "GenerateCardValidationData"))?;
        Ok(GenerateCardValidationResponse {
            value: Cvv::from_ascii(out.validation_data().as_bytes()).ok_or_else(|| {
                Error::new(
                    ErrorKind::Protocol,
                    "GenerateCardValidationData: ValidationData is not 3 digits",
                )
            })?,
            key_check_value: kcv(out.key_check_value())?,
        })
    }

    pub(super) async fn verify_cv(&self, r: VerifyCardValidationRequest) -> Result<VerifyResponse> {
        let attrs = match Self::cv_attrs(r.kind, r.expiry.as_str())? {
            (Some(a), _) => dt::CardVerificationAttributes::CardVerificationValue1(a),
            (_, Some(b)) => dt::CardVerificationAttributes::CardVerificationValue2(b),
            _ => return Err(Error::unsupported("card validation kind")),
        };
        let res = self
            .data
            .verify_card_validation_data()
            .key_identifier(key_identifier(&r.key))
            .primary_account_number(r.pan.expose())
            .verification_attributes(attrs)
            .validation_data(r.value.expose())
            .send()
            .await;
        Ok(VerifyResponse {
            verification: verification(res, "VerifyCardValidationData")?,
        })
    }

    pub(super) async fn verify_arqc(&self, r: VerifyArqcRequest) -> Result<VerifyArqcResponse> {
        let pan = r.pan.expose();
        let psn = r.psn.as_str();
        let session = match r.session {
            SessionKeyDerivation::EmvCommon { atc } => dt::SessionKeyDerivation::EmvCommon(built(
                dt::SessionKeyEmvCommon::builder()
                    .primary_account_number(pan)
                    .pan_sequence_number(psn)
                    .application_transaction_counter(hexu(&atc))
                    .build(),
                "session key attributes",
            )?),
            SessionKeyDerivation::Mastercard {
                atc,
                unpredictable_number,
            } => dt::SessionKeyDerivation::Mastercard(built(
                dt::SessionKeyMastercard::builder()
                    .primary_account_number(pan)
                    .pan_sequence_number(psn)
                    .application_transaction_counter(hexu(&atc))
                    .unpredictable_number(hexu(&unpredictable_number))
                    .build(),
                "session key attributes",
            )?),
            SessionKeyDerivation::Visa => dt::SessionKeyDerivation::Visa(built(
                dt::SessionKeyVisa::builder()
                    .primary_account_number(pan)
                    .pan_sequence_number(psn)
                    .build(),
                "session key attributes",
            )?),
        };
        // The service MACs the transaction data as given: apply any padding here.
        let data = match r.padding {
            Padding::None => r.transaction_data.clone(),
            p => pad(&r.transaction_data, p, 8)?,
        };
        let arpc = match &r.arpc {
            None => None,
            Some(ArpcMethod::Method1 { arc }) => {
                Some(dt::CryptogramAuthResponse::ArpcMethod1(built(
                    dt::CryptogramVerificationArpcMethod1::builder()
                        .auth_response_code(hexu(arc))
                        .build(),
                    "arpc method 1",
                )?))
            }
            Some(ArpcMethod::Method2 {
                csu,
                proprietary_data,
            }) => Some(dt::CryptogramAuthResponse::ArpcMethod2(built(
                dt::CryptogramVerificationArpcMethod2::builder()
                    .card_status_update(hexu(csu))
                    .set_proprietary_authentication_data(
                        (!proprietary_data.is_empty()).then(|| hexu(proprietary_data.as_bytes())),
                    )
                    .build(),
                "arpc method 2",
            )?)),
        };
        let res = self
            .data
            .verify_auth_request_cryptogram()
            .key_identifier(key_identifier(&r.key))
            .transaction_data(hexu(&data))
            .auth_request_cryptogram(hexu(&r.arqc))
            .major_key_derivation_mode(match r.mk_derivation {
                MkDerivation::OptionA => dt::MajorKeyDerivationMode::EmvOptionA,
                MkDerivation::OptionB => dt::MajorKeyDerivationMode::EmvOptionB,
            })
            .session_key_derivation_attributes(session)
            .set_auth_response_attributes(arpc)
            .send()
            .await;
        match res {
            Ok(out) => Ok(VerifyArqcResponse {
                verification: Verification::Verified,
                arpc: match out.auth_response_value() {
                    Some(v) => Some(unhex("AuthResponseValue", v)?),
                    None => None,
                },
            }),
            Err(e) if code(&e) == Some("VerificationFailedException") => Ok(VerifyArqcResponse {
                verification: Verification::Failed,
                arpc: None,
            }),
            Err(e) => Err(map(e, "VerifyAuthRequestCryptogram")),
        }
    }
}
