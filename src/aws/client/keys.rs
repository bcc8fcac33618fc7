//! Key management on the control plane (`CreateKey`, `ImportKey`, `ExportKey`, `GetKey`, `DeleteKey`).

use super::*;

impl AwsBackend {
    pub(super) async fn generate_key(&self, r: GenerateKeyRequest) -> Result<KeyInfo> {
        r.attributes.validate()?;
        let alias = alias_for_new_key(&r.key_id)?;
        let exists = self.check_alias_free(&alias).await?;
        let out = self
            .control
            .create_key()
            .key_attributes(convert::attributes_to_sdk(&r.attributes)?)
            .exportable(r.attributes.exportability.allows_export())
            .enabled(true)
            .send()
            .await
            .map_err(|e| map(e, "CreateKey"))?;
        let key = out
            .key()
            .ok_or_else(|| Error::new(ErrorKind::Protocol, "CreateKey returned no key"))?;
        self.bind(&r.key_id, &alias, exists, key).await
    }

    pub(super) async fn import_key(&self, r: ImportKeyRequest) -> Result<KeyInfo> {
        let alias = alias_for_new_key(&r.key_id)?;
        let material = match r.material {
            KeyMaterial::Tr31 { kek, key_block } => {
                cp::types::ImportKeyMaterial::Tr31KeyBlock(built(
                    cp::types::ImportTr31KeyBlock::builder()
                        .wrapping_key_identifier(key_identifier(&kek))
                        .wrapped_key_block(key_block)
                        .build(),
                    "tr31 import",
                )?)
            }
            KeyMaterial::Components {
                attributes,
                components,
                component_kcvs,
            } => {
                attributes.validate()?;
                let clear = crate::keyload::combine_checked_components(
                    attributes.algorithm,
                    &components,
                    &component_kcvs,
                )?;
                let params = self
                    .control
                    .get_parameters_for_import()
                    .key_material_type(cp::types::KeyMaterialType::KeyCryptogram)
                    .wrapping_key_algorithm(cp::types::KeyAlgorithm::Rsa2048)
                    .send()
                    .await
                    .map_err(|e| map(e, "GetParametersForImport"))?;
                let cryptogram = rsa_oaep_sha256(params.wrapping_key_certificate(), &clear)?;
                cp::types::ImportKeyMaterial::KeyCryptogram(built(
                    cp::types::ImportKeyCryptogram::builder()
                        .key_attributes(convert::attributes_to_sdk(&attributes)?)
                        .exportable(attributes.exportability.allows_export())
                        .wrapped_key_cryptogram(hexu(&cryptogram))
                        .import_token(params.import_token())
                        .wrapping_spec(cp::types::WrappingKeySpec::RsaOaepSha256)
                        .build(),
                    "key cryptogram import",
                )?)
            }
            KeyMaterial::RootCertificate {
                attributes,
                certificate,
            } => cp::types::ImportKeyMaterial::RootCertificatePublicKey(built(
                cp::types::RootCertificatePublicKey::builder()
                    .key_attributes(convert::attributes_of_class(
                        &attributes,
                        crate::types::KeyClass::PublicKey,
                    )?)
                    .public_key_certificate(convert::certificate_to_api(&certificate))
                    .build(),
                "root certificate import",
            )?),
            KeyMaterial::TrustedCertificate {
                certificate_authority,
                attributes,
                certificate,
            } => cp::types::ImportKeyMaterial::TrustedCertificatePublicKey(built(
                cp::types::TrustedCertificatePublicKey::builder()
                    .key_attributes(convert::attributes_of_class(
                        &attributes,
                        crate::types::KeyClass::PublicKey,
                    )?)
                    .public_key_certificate(convert::certificate_to_api(&certificate))
                    .certificate_authority_public_key_identifier(key_identifier(
                        &certificate_authority,
                    ))
                    .build(),
                "trusted certificate import",
            )?),
            KeyMaterial::Tr34(t) => {
                let b = cp::types::ImportTr34KeyBlock::builder()
                    .certificate_authority_public_key_identifier(key_identifier(
                        &t.certificate_authority,
                    ))
                    .signing_key_certificate(convert::certificate_to_api(&t.kdh_certificate))
                    .wrapped_key_block(hex::encode_upper(&t.key_block))
                    .key_block_format(cp::types::Tr34KeyBlockFormat::X9Tr342012)
                    .set_random_nonce(t.random_nonce.as_ref().map(hex::encode_upper));
                let b = match &t.krd {
                    Tr34Krd::ImportToken(token) => b.import_token(token),
                    Tr34Krd::KeyPair { key, certificate } => b
                        .wrapping_key_identifier(key_identifier(key))
                        .wrapping_key_certificate(convert::certificate_to_api(certificate)),
                };
                cp::types::ImportKeyMaterial::Tr34KeyBlock(built(b.build(), "tr34 import")?)
            }
            KeyMaterial::Ecdh { params, key_block } => {
                let e = convert::ecdh_to_sdk(&params)?;
                cp::types::ImportKeyMaterial::DiffieHellmanTr31KeyBlock(built(
                    cp::types::ImportDiffieHellmanTr31KeyBlock::builder()
                        .private_key_identifier(e.private_key)
                        .certificate_authority_public_key_identifier(e.ca)
                        .public_key_certificate(e.certificate)
                        .derive_key_algorithm(e.derive)
                        .key_derivation_function(e.kdf)
                        .key_derivation_hash_algorithm(e.hash)
                        .derivation_data(e.data)
                        .wrapped_key_block(key_block)
                        .build(),
                    "ecdh import",
                )?)
            }
        };
        let exists = self.check_alias_free(&alias).await?;
        let out = self
            .control
            .import_key()
            .key_material(material)
            .enabled(true)
            .send()
            .await
            .map_err(|e| map(e, "ImportKey"))?;
        let key = out
            .key()
            .ok_or_else(|| Error::new(ErrorKind::Protocol, "ImportKey returned no key"))?;
        if let Some(expected) = r.expected_kcv {
            if kcv(key.key_check_value())? != expected {
                let _ = self
                    .control
                    .delete_key()
                    .key_identifier(key.key_arn())
                    .delete_key_in_days(3)
                    .send()
                    .await;
                return Err(Error::invalid(
                    "kcv",
                    "the imported key does not match the expected KCV",
                ));
            }
        }
        self.bind(&r.key_id, &alias, exists, key).await
    }

    pub(super) async fn export_key(&self, r: ExportKeyRequest) -> Result<ExportKeyResponse> {
        let (material, version) = match &r.method {
            ExportMethod::Tr31 { kek, version } => {
                if !matches!(version, Tr31Version::B | Tr31Version::D) {
                    return Err(Error::unsupported(
                        "TR-31 versions other than B and D on export",
                    ));
                }
                let m = cp::types::ExportKeyMaterial::Tr31KeyBlock(built(
                    cp::types::ExportTr31KeyBlock::builder()
                        .wrapping_key_identifier(key_identifier(kek))
                        .build(),
                    "tr31 export",
                )?);
                (m, Some(*version))
            }
            ExportMethod::Tr34(t) => {
                let b = cp::types::ExportTr34KeyBlock::builder()
                    .certificate_authority_public_key_identifier(key_identifier(
                        &t.certificate_authority,
                    ))
                    .wrapping_key_certificate(convert::certificate_to_api(&t.krd_certificate))
                    .key_block_format(cp::types::Tr34KeyBlockFormat::X9Tr342012)
                    .set_random_nonce(t.random_nonce.as_ref().map(hex::encode_upper));
                let b = match &t.kdh {
                    Tr34Kdh::ExportToken(token) => b.export_token(token),
                    Tr34Kdh::KeyPair { key, certificate } => b
                        .signing_key_identifier(key_identifier(key))
                        .signing_key_certificate(convert::certificate_to_api(certificate)),
                };
                let m =
                    cp::types::ExportKeyMaterial::Tr34KeyBlock(built(b.build(), "tr34 export")?);
                (m, None)
            }
            ExportMethod::Ecdh(p) => {
                let e = convert::ecdh_to_sdk(p)?;
                let m = cp::types::ExportKeyMaterial::DiffieHellmanTr31KeyBlock(built(
                    cp::types::ExportDiffieHellmanTr31KeyBlock::builder()
                        .private_key_identifier(e.private_key)
                        .certificate_authority_public_key_identifier(e.ca)
                        .public_key_certificate(e.certificate)
                        .derive_key_algorithm(e.derive)
                        .key_derivation_function(e.kdf)
                        .key_derivation_hash_algorithm(e.hash)
                        .derivation_data(e.data)
                        .build(),
                    "ecdh export",
                )?);
                (m, None)
            }
        };
        let out = self
            .control
            .export_key()
            .export_key_identifier(key_identifier(&r.key))
            .key_material(material)
            .send()
            .await
            .map_err(|e| map(e, "ExportKey"))?;
        let w = out
            .wrapped_key()
            .ok_or_else(|| Error::new(ErrorKind::Protocol, "ExportKey returned no key"))?;
        let block = w.key_material().to_owned();
        if let Some(version) = version {
            if !block.starts_with(version.as_char()) {
                return Err(Error::unsupported(format!(
                    "TR-31 version {} under this KEK (the service chose {})",
                    version.as_char(),
                    block.chars().next().unwrap_or('?')
                )));
            }
        }
        Ok(ExportKeyResponse {
            key_block: block,
            key_check_value: kcv(w.key_check_value().unwrap_or_default())?,
        })
    }

    pub(super) async fn get_key_info(&self, r: GetKeyInfoRequest) -> Result<KeyInfo> {
        let out = self
            .control
            .get_key()
            .key_identifier(key_identifier(&r.key))
            .send()
            .await
            .map_err(|e| map(e, "GetKey"))?;
        let k = out
            .key()
            .ok_or_else(|| Error::new(ErrorKind::Protocol, "GetKey returned no key"))?;
        if k.key_state() != &cp::types::KeyState::CreateComplete {
            return Err(Error::new(
                ErrorKind::KeyNotFound,
                format!("key {} is {}", r.key, k.key_state().as_str()),
            ));
        }
        convert::key_info(r.key, k)
    }

    pub(super) async fn public_key_certificate(
        &self,
        r: GetPublicKeyCertificateRequest,
    ) -> Result<PublicKeyCertificate> {
        let out = self
            .control
            .get_public_key_certificate()
            .key_identifier(key_identifier(&r.key))
            .send()
            .await
            .map_err(|e| map(e, "GetPublicKeyCertificate"))?;
        let protocol = |e: Error| {
            Error::new(
                ErrorKind::Protocol,
                "GetPublicKeyCertificate returned an unreadable certificate",
            )
            .with_source(e)
        };
        let chain = crate::x509::api_certificates_der(out.key_certificate_chain())
            .map_err(protocol)?
            .into_iter()
            .map(Certificate::from_der)
            .collect::<Result<Vec<_>>>()
            .map_err(protocol)?;
        Ok(PublicKeyCertificate {
            key: r.key,
            certificate: convert::certificate_from_api(out.key_certificate()).map_err(protocol)?,
            chain,
        })
    }

    pub(super) async fn delete_key(&self, r: DeleteKeyRequest) -> Result<DeleteKeyResponse> {
        let ident = key_identifier(&r.key);
        self.control
            .delete_key()
            .key_identifier(&ident)
            .delete_key_in_days(3)
            .send()
            .await
            .map_err(|e| map(e, "DeleteKey"))?;
        if ident.starts_with("alias/") {
            match self.control.delete_alias().alias_name(&ident).send().await {
                Ok(_) => {}
                Err(e) if code(&e) == Some("ResourceNotFoundException") => {}
                Err(e) => return Err(map(e, "DeleteAlias")),
            }
        }
        self.cache().remove(&ident);
        Ok(DeleteKeyResponse { key: r.key })
    }
}

/// RSA-OAEP (SHA-256) encryption of `key` to the certificate the service gave.
fn rsa_oaep_sha256(cert_field: &str, key: &[u8]) -> Result<Vec<u8>> {
    use aws_lc_rs::rsa::{OaepPublicEncryptingKey, PublicEncryptingKey, OAEP_SHA256_MGF1SHA256};
    let der = crate::x509::api_certificate_der(cert_field)?;
    let spki = crate::x509::spki_of_der(&der)?;
    let protocol = |what: &'static str| Error::new(ErrorKind::Protocol, what);
    let pk = PublicEncryptingKey::from_der(&spki)
        .map_err(|_| protocol("wrapping certificate has no RSA key"))?;
    let pk = OaepPublicEncryptingKey::new(pk).map_err(|_| protocol("wrapping key unusable"))?;
    let mut out = vec![0u8; pk.ciphertext_size()];
    let n = pk
        .encrypt(&OAEP_SHA256_MGF1SHA256, key, &mut out, None)
        .map_err(|_| protocol("RSA-OAEP wrapping failed"))?
        .len();
    out.truncate(n);
    Ok(out)
}
