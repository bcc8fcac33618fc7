//! Card validation values and EMV cryptograms (`Generate/VerifyCardValidationData`, `VerifyAuthRequestCryptogram`).

use super::*;

/// Builds an SDK union member, mapping a missing required field to InvalidInput.
macro_rules! member {
    ($ty:ident { $($setter:ident: $value:expr),* $(,)? }) => {
        built(dt::$ty::builder()$(.$setter($value))*.build(), stringify!($ty))
    };
}

/// The SDK's card validation attributes for a request's kind, as the
/// members of `CardGenerationAttributes` / `CardVerificationAttributes`
/// (botocore model `payment-cryptography-data` 2022-02-03; the SDK's
/// `types::CardGenerationAttributes`). Hex fields are sent at their full
/// width (ATC 4 hex digits, unpredictable number 8).
enum CardAttrs {
    Cvv1(dt::CardVerificationValue1),
    Cvv2(dt::CardVerificationValue2),
    Amex1(dt::AmexCardSecurityCodeVersion1),
    Amex2(dt::AmexCardSecurityCodeVersion2),
    Holder(dt::CardHolderVerificationValue),
    Cvc3(dt::DynamicCardVerificationCode),
    Dcvv(dt::DynamicCardVerificationValue),
    Discover(dt::DiscoverDynamicCardVerificationCode),
}

impl CardAttrs {
    fn of(kind: &CardValidationKind, expiry: &str) -> Result<Self> {
        Ok(match kind {
            CardValidationKind::Cvv(_) | CardValidationKind::Icvv => {
                Self::Cvv1(member!(CardVerificationValue1 {
                    card_expiry_date: expiry,
                    service_code: kind.service_code().as_str(),
                })?)
            }
            CardValidationKind::Cvv2 => Self::Cvv2(member!(CardVerificationValue2 {
                card_expiry_date: expiry,
            })?),
            CardValidationKind::AmexCscV1 => Self::Amex1(member!(AmexCardSecurityCodeVersion1 {
                card_expiry_date: expiry,
            })?),
            CardValidationKind::AmexCscV2(sc) => {
                Self::Amex2(member!(AmexCardSecurityCodeVersion2 {
                    card_expiry_date: expiry,
                    service_code: sc.as_str(),
                })?)
            }
            CardValidationKind::CardholderVerificationValue {
                unpredictable_number,
                psn,
                atc,
            } => Self::Holder(member!(CardHolderVerificationValue {
                unpredictable_number: hexu(unpredictable_number),
                pan_sequence_number: psn.as_str(),
                application_transaction_counter: hexu(atc),
            })?),
            CardValidationKind::DynamicCvc3 {
                unpredictable_number,
                psn,
                atc,
                track_data,
            } => Self::Cvc3(member!(DynamicCardVerificationCode {
                unpredictable_number: hexu(unpredictable_number),
                pan_sequence_number: psn.as_str(),
                application_transaction_counter: hexu(atc),
                track_data: hexu(track_data.expose()),
            })?),
            CardValidationKind::DynamicCvv {
                psn,
                service_code,
                atc,
            } => Self::Dcvv(member!(DynamicCardVerificationValue {
                pan_sequence_number: psn.as_str(),
                card_expiry_date: expiry,
                service_code: service_code.as_str(),
                application_transaction_counter: hexu(atc),
            })?),
            CardValidationKind::DiscoverDynamicCvc {
                unpredictable_number,
                atc,
            } => Self::Discover(member!(DiscoverDynamicCardVerificationCode {
                card_expiry_date: expiry,
                unpredictable_number: hexu(unpredictable_number),
                application_transaction_counter: hexu(atc),
            })?),
        })
    }

    fn generation(self) -> Result<dt::CardGenerationAttributes> {
        use dt::CardGenerationAttributes as G;
        Ok(match self {
            Self::Cvv1(a) => G::CardVerificationValue1(a),
            Self::Cvv2(a) => G::CardVerificationValue2(a),
            Self::Amex1(a) => G::AmexCardSecurityCodeVersion1(a),
            Self::Amex2(a) => G::AmexCardSecurityCodeVersion2(a),
            Self::Holder(a) => G::CardHolderVerificationValue(a),
            Self::Cvc3(a) => G::DynamicCardVerificationCode(a),
            Self::Dcvv(a) => G::DynamicCardVerificationValue(a),
            // CardGenerationAttributes has no Discover member (verification only).
            Self::Discover(_) => {
                return Err(Error::unsupported(
                    "Discover dCVC generation (the service only verifies it)",
                ))
            }
        })
    }

    fn verification(self) -> dt::CardVerificationAttributes {
        use dt::CardVerificationAttributes as V;
        match self {
            Self::Cvv1(a) => V::CardVerificationValue1(a),
            Self::Cvv2(a) => V::CardVerificationValue2(a),
            Self::Amex1(a) => V::AmexCardSecurityCodeVersion1(a),
            Self::Amex2(a) => V::AmexCardSecurityCodeVersion2(a),
            Self::Holder(a) => V::CardHolderVerificationValue(a),
            Self::Cvc3(a) => V::DynamicCardVerificationCode(a),
            Self::Dcvv(a) => V::DynamicCardVerificationValue(a),
            Self::Discover(a) => V::DiscoverDynamicCardVerificationCode(a),
        }
    }
}

/// The SDK's session-key derivation attributes (shared by
/// VerifyAuthRequestCryptogram and GenerateAuthRequestCryptogram).
fn session_attrs(
    session: &SessionKeyDerivation,
    pan: &str,
    psn: &str,
) -> Result<dt::SessionKeyDerivation> {
    Ok(match session {
        SessionKeyDerivation::EmvCommon { atc } => dt::SessionKeyDerivation::EmvCommon(built(
            dt::SessionKeyEmvCommon::builder()
                .primary_account_number(pan)
                .pan_sequence_number(psn)
                .application_transaction_counter(hexu(atc))
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
                .application_transaction_counter(hexu(atc))
                .unpredictable_number(hexu(unpredictable_number))
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
    })
}

fn mk_mode(m: MkDerivation) -> dt::MajorKeyDerivationMode {
    match m {
        MkDerivation::OptionA => dt::MajorKeyDerivationMode::EmvOptionA,
        MkDerivation::OptionB => dt::MajorKeyDerivationMode::EmvOptionB,
    }
}

/// The transaction data as the service MACs it: padded here when asked.
fn padded(data: &[u8], padding: Padding) -> Result<Vec<u8>> {
    match padding {
        Padding::None => Ok(data.to_vec()),
        p => pad(data, p, 8),
    }
}

impl AwsBackend {
    pub(super) async fn generate_cv(
        &self,
        r: GenerateCardValidationRequest,
    ) -> Result<GenerateCardValidationResponse> {
        let attrs = CardAttrs::of(&r.kind, r.expiry.as_str())?.generation()?;
        let len = r.length.get();
        let out = self
            .data
            .generate_card_validation_data()
            .key_identifier(key_identifier(&r.key))
            .primary_account_number(r.pan.expose())
            .generation_attributes(attrs)
            .validation_data_length(len as i32)
            .send()
            .await
            .map_err(|e| map(e, "GenerateCardValidationData"))?;
        let value = Cvv::from_ascii(out.validation_data().as_bytes())
            .filter(|v| v.len() == len)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Protocol,
                    format!(
                        "GenerateCardValidationData: ValidationData is not the {len} digits asked for"
                    ),
                )
            })?;
        Ok(GenerateCardValidationResponse {
            value,
            key_check_value: kcv(out.key_check_value())?,
        })
    }

    pub(super) async fn verify_cv(&self, r: VerifyCardValidationRequest) -> Result<VerifyResponse> {
        let attrs = CardAttrs::of(&r.kind, r.expiry.as_str())?.verification();
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

    /// GenerateAuthRequestCryptogram: in the service model the Rust SDK
    /// `aws-sdk-paymentcryptographydata` 1.129.0 is generated from (POST
    /// `/cryptogram/generate`; KeyIdentifier, TransactionData,
    /// MajorKeyDerivationMode, SessionKeyDerivationAttributes → KeyArn,
    /// KeyCheckValue, AuthRequestCryptogram). The botocore model shipped
    /// with botocore 1.43.11 (`payment-cryptography-data` 2022-02-03, 14
    /// operations) predates it, so boto3 and the AWS CLI of that version
    /// cannot call it.
    pub(super) async fn generate_arqc(
        &self,
        r: GenerateArqcRequest,
    ) -> Result<GenerateArqcResponse> {
        let session = session_attrs(&r.session, r.pan.expose(), r.psn.as_str())?;
        let data = padded(&r.transaction_data, r.padding)?;
        let out = self
            .data
            .generate_auth_request_cryptogram()
            .key_identifier(key_identifier(&r.key))
            .transaction_data(hexu(&data))
            .major_key_derivation_mode(mk_mode(r.mk_derivation))
            .session_key_derivation_attributes(session)
            .send()
            .await
            .map_err(|e| map(e, "GenerateAuthRequestCryptogram"))?;
        let arqc: [u8; 8] = unhex("AuthRequestCryptogram", out.auth_request_cryptogram())?
            .try_into()
            .map_err(|_| {
                Error::new(
                    ErrorKind::Protocol,
                    "GenerateAuthRequestCryptogram: AuthRequestCryptogram is not 8 bytes",
                )
            })?;
        Ok(GenerateArqcResponse { arqc })
    }

    pub(super) async fn verify_arqc(&self, r: VerifyArqcRequest) -> Result<VerifyArqcResponse> {
        let pan = r.pan.expose();
        let psn = r.psn.as_str();
        let session = session_attrs(&r.session, pan, psn)?;
        // The service MACs the transaction data as given: apply any padding here.
        let data = padded(&r.transaction_data, r.padding)?;
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
            .major_key_derivation_mode(mk_mode(r.mk_derivation))
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
