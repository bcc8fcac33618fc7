//! Issuer PIN data on the software backend: IBM 3624 and Visa PVV over
//! [`crate::algo::pinverify`], with the key rules of [`crate::rules`].

use super::SoftwareBackend;
use crate::algo::pinblock;
use crate::algo::pinverify::{self, random_pin};
use crate::error::Result;
use crate::ops::*;
use crate::rules::{self, Purpose};
use crate::types::{PinOffset, Verification};

impl SoftwareBackend {
    pub(super) fn generate_pin_data(
        &self,
        r: GeneratePinDataRequest,
    ) -> Result<GeneratePinDataResponse> {
        let scheme = r.method.scheme();
        let pvk = self.keys.get(&r.generation_key)?;
        rules::check(
            &r.generation_key,
            &pvk.attributes,
            Purpose::pin_data(scheme, true),
        )?;
        let pek = self.keys.get(&r.encryption_key)?;
        rules::check(&r.encryption_key, &pek.attributes, Purpose::PinEncrypt)?;
        let pvk_cipher = pvk.cipher()?;
        // A PIN block the request brings is under the encryption key.
        let given = |block| {
            self.incoming_pin(
                &PinKey::Key(r.encryption_key.clone()),
                r.format,
                block,
                &r.pan,
            )
        };
        let mut rng = rand::rng();
        let (pin, pin_data) = match &r.method {
            PinGeneration::VisaPin { pvki, pin_length } => {
                let pin = random_pin(*pin_length, &mut rng)?;
                let pvv = pinverify::visa_pvv(pvk_cipher, &r.pan, *pvki, &pin)?;
                (pin, PinData::Pvv(pvv))
            }
            PinGeneration::VisaPvv { pvki, pin_block } => {
                let pin = given(pin_block)?;
                let pvv = pinverify::visa_pvv(pvk_cipher, &r.pan, *pvki, &pin)?;
                (pin, PinData::Pvv(pvv))
            }
            PinGeneration::Ibm3624NaturalPin { ibm, pin_length } => {
                let pin = pinverify::ibm3624_natural_pin(pvk_cipher, &ibm.params(), *pin_length)?;
                let zeros = [0u8; 12];
                let offset = PinOffset::from_values(zeros.get(..pin_length.get()).unwrap_or(&[]))?;
                (pin, PinData::Offset(offset))
            }
            PinGeneration::Ibm3624RandomPin { ibm, pin_length } => {
                let pin = random_pin(*pin_length, &mut rng)?;
                let offset = pinverify::ibm3624_offset(pvk_cipher, &ibm.params(), &pin, None)?;
                (pin, PinData::Offset(offset))
            }
            PinGeneration::Ibm3624PinOffset { ibm, pin_block } => {
                let pin = given(pin_block)?;
                let offset = pinverify::ibm3624_offset(pvk_cipher, &ibm.params(), &pin, None)?;
                (pin, PinData::Offset(offset))
            }
            PinGeneration::Ibm3624PinFromOffset { ibm, offset } => {
                let pin =
                    pinverify::ibm3624_pin_from_offset(pvk_cipher, &ibm.params(), offset, None)?;
                (pin, PinData::Offset(offset.clone()))
            }
        };
        let block = pinblock::encrypt_pin_block(
            pek.cipher()?,
            r.format,
            &pin,
            Some(r.pan.expose()),
            &mut rng,
        )?;
        Ok(GeneratePinDataResponse {
            pin_block: block,
            format: r.format,
            pin_data,
            generation_key_check_value: pvk.kcv,
            encryption_key_check_value: pek.kcv,
        })
    }

    pub(super) fn verify_pin_data(&self, r: VerifyPinDataRequest) -> Result<VerifyResponse> {
        let pvk = self.keys.get(&r.verification_key)?;
        rules::check(
            &r.verification_key,
            &pvk.attributes,
            Purpose::pin_data(r.method.scheme(), false),
        )?;
        let pvk_cipher = pvk.cipher()?;
        let pin = self.incoming_pin(&r.pin_key, r.format, &r.pin_block, &r.pan)?;
        let ok = match &r.method {
            PinVerification::Ibm3624 { ibm, offset } => {
                pinverify::ibm3624_verify(pvk_cipher, &ibm.params(), &pin, offset)?
            }
            PinVerification::VisaPvv { pvki, pvv } => {
                pinverify::visa_pvv_verify(pvk_cipher, &r.pan, *pvki, &pin, pvv)?
            }
        };
        // A PIN of another length than the one expected does not verify
        // (the length is not secret enough to warrant hiding it in timing).
        let length_ok = r.pin_length.is_none_or(|n| n.get() == pin.digits().len());
        Ok(VerifyResponse {
            verification: Verification::from_bool(ok && length_ok),
        })
    }
}
