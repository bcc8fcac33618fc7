//! MACs (`GenerateMac`, `VerifyMac`).

use super::*;

impl AwsBackend {
    /// Service algorithm and message for a crate MAC request. The service
    /// pads ISO 9797-1 MACs with method 1; other paddings are applied here.
    pub(super) async fn mac_input(
        &self,
        key: &KeyId,
        alg: MacAlgorithm,
        data: &[u8],
    ) -> Result<(dt::MacAlgorithm, Vec<u8>)> {
        let ident = key_identifier(key);
        let padded = |p: Padding, block: usize| -> Result<Vec<u8>> {
            match p {
                Padding::Method1 if !data.is_empty() => Ok(data.to_vec()),
                Padding::None => {
                    if data.is_empty() || !data.len().is_multiple_of(block) {
                        Err(Error::invalid("data", format!("length {} bytes is not a positive multiple of the {block}-byte block (padding none)", data.len())))
                    } else {
                        Ok(data.to_vec())
                    }
                }
                p => pad(data, p, block),
            }
        };
        if data.is_empty() && (alg == MacAlgorithm::Cmac || alg.is_hmac()) {
            // MessageData takes 1 to 4096 bytes (2 to 8192 hex digits).
            return Err(Error::unsupported(
                "MACs of an empty message (AWS Payment Cryptography takes 1 to 4096 bytes of message data)",
            ));
        }
        Ok(match alg {
            MacAlgorithm::Iso9797Alg1(p) => {
                let block = if matches!(p, Padding::Method1) && !data.is_empty() {
                    8
                } else if matches!(p, Padding::None)
                    && !data.is_empty()
                    && data.len().is_multiple_of(16)
                {
                    16
                } else {
                    block_of(self.algorithm_of(&ident).await?)
                };
                (dt::MacAlgorithm::Iso9797Algorithm1, padded(p, block)?)
            }
            MacAlgorithm::Iso9797Alg3(p) => (dt::MacAlgorithm::Iso9797Algorithm3, padded(p, 8)?),
            MacAlgorithm::Cmac => (dt::MacAlgorithm::Cmac, data.to_vec()),
            MacAlgorithm::HmacSha256 => (dt::MacAlgorithm::HmacSha256, data.to_vec()),
            MacAlgorithm::HmacSha224 => (dt::MacAlgorithm::HmacSha224, data.to_vec()),
            MacAlgorithm::HmacSha384 => (dt::MacAlgorithm::HmacSha384, data.to_vec()),
            MacAlgorithm::HmacSha512 => (dt::MacAlgorithm::HmacSha512, data.to_vec()),
        })
    }

    pub(super) async fn generate_mac(&self, r: GenerateMacRequest) -> Result<GenerateMacResponse> {
        let (alg, data) = self.mac_input(&r.key, r.algorithm, &r.data).await?;
        let out = self
            .data
            .generate_mac()
            .key_identifier(key_identifier(&r.key))
            .message_data(hexu(&data))
            .generation_attributes(dt::MacAttributes::Algorithm(alg))
            .send()
            .await
            .map_err(|e| map(e, "GenerateMac"))?;
        let mut mac = unhex("Mac", out.mac())?;
        if let Some(n) = r.mac_length {
            if n < 4 || n > mac.len() {
                return Err(Error::invalid(
                    "mac length",
                    format!("must be 4 to {} bytes", mac.len()),
                ));
            }
            mac.truncate(n);
        }
        Ok(GenerateMacResponse {
            mac,
            key_check_value: kcv(out.key_check_value())?,
        })
    }

    pub(super) async fn verify_mac(&self, r: VerifyMacRequest) -> Result<VerifyResponse> {
        let (alg, data) = self.mac_input(&r.key, r.algorithm, &r.data).await?;
        let len = i32::try_from(r.mac.len()).ok().filter(|n| *n <= 16);
        let res = self
            .data
            .verify_mac()
            .key_identifier(key_identifier(&r.key))
            .message_data(hexu(&data))
            .mac(hexu(&r.mac))
            .verification_attributes(dt::MacAttributes::Algorithm(alg))
            .set_mac_length(len)
            .send()
            .await;
        Ok(VerifyResponse {
            verification: verification(res, "VerifyMac")?,
        })
    }
}
