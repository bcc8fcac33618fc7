//! `--backend aws[://REGION]` / `--endpoint-url URL`: the AWS Payment
//! Cryptography backend, from the standard AWS configuration chain or
//! against an endpoint (the emulator, a VPC endpoint).
//!
//! # Key names
//!
//! An `id` in `--keys FILE` (or a `--key NAME` without a file) names the
//! key on the service: a key ARN (`arn:aws:payment-cryptography:…`) or an
//! alias (`alias/…`) is used as is; any other name `N` means the alias
//! `alias/N`.
//!
//! # Clear test keys
//!
//! Entries with `clear` are imported only into a **test account**: an
//! `--endpoint-url` on this machine (127.0.0.0/8, `::1`, `localhost`: the
//! emulator), or any account when `--allow-test-key-import` is given. The
//! tool imports a random session KEK through the service's import path for
//! clear keys (GetParametersForImport, then ImportKey with an RSA-OAEP key
//! cryptogram), each clear key as a TR-31 block under it (version B), and
//! deletes the session KEK again. A key whose alias already exists is kept
//! when its check value matches the clear key's, and refused otherwise —
//! the tool never replaces a key. Without the permission, `clear` entries
//! are refused before any call is made.
//!
//! # Credentials and region
//!
//! As [`crate::BackendUrl`] gives them: from the standard chain
//! (environment, profile, SSO, IMDS…); for an endpoint on this machine only
//! from the environment (`AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, as
//! `paycrypto serve aws --credentials` requires), else placeholder
//! credentials that an emulator started without `--credentials` accepts;
//! the region from `aws://REGION`, `AWS_REGION`, `AWS_DEFAULT_REGION`, else
//! `us-east-1`.

use super::keys::KeyConfig;
use super::output::CliError;
use crate::aws::AwsBackend;
use crate::backend::BackendExt;
use crate::connect::AwsUrl;
use crate::keyload::{combine_components, kek_from_components, tr31_import};
use crate::ops::{DeleteKeyRequest, GetKeyInfoRequest};
use crate::software::key_check_value;
use crate::types::{KeyAlgorithm, KeyId};
use crate::ErrorKind;
use rand::RngCore;

/// AWS options from the command line.
#[derive(Debug, Clone, Default)]
pub(crate) struct AwsOptions {
    /// Import `clear` test keys even into an account reached through the
    /// standard chain (`--allow-test-key-import`): a test account.
    pub(crate) allow_test_key_import: bool,
}

/// Whether clear test keys may be imported into this account: an endpoint
/// on this machine (the emulator), or `--allow-test-key-import`.
pub(crate) fn test_keys_allowed(url: &AwsUrl, opts: &AwsOptions) -> bool {
    opts.allow_test_key_import || url.endpoint_is_local()
}

/// Why clear test keys are refused (names the flag that allows them).
const TEST_KEYS_REFUSED: &str = "clear test keys are imported only into a test account: \
     an --endpoint-url on this machine (the emulator), or with --allow-test-key-import";

/// Builds the AWS backend `url` names and imports the configuration's
/// `clear` entries when allowed (see the module docs).
pub(crate) async fn open_aws(
    url: &AwsUrl,
    config: &KeyConfig,
    opts: &AwsOptions,
) -> Result<AwsBackend, CliError> {
    let has_clear = config.keys.values().any(|e| e.clear.is_some());
    if has_clear && !test_keys_allowed(url, opts) {
        return Err(CliError::arg("--keys", TEST_KEYS_REFUSED));
    }
    let aws = url.connect().await;
    if has_clear {
        import_clear_keys(&aws, config).await?;
    }
    Ok(aws)
}

/// Imports every `clear` entry of `config` under a random session KEK (see
/// the module docs); existing keys with the same check value are kept.
async fn import_clear_keys(aws: &AwsBackend, config: &KeyConfig) -> Result<(), CliError> {
    let key_err = |name: &str, e: &dyn std::fmt::Display| {
        CliError::arg("--keys", format!("key \"{name}\": {e}"))
    };
    let mut todo = Vec::new();
    for (name, e) in &config.keys {
        let (Some(clear), Some(attrs)) = (&e.clear, e.attributes) else {
            continue;
        };
        let want =
            key_check_value(attrs.algorithm, clear.expose()).map_err(|x| key_err(name, &x))?;
        match aws
            .get_key_info(GetKeyInfoRequest { key: e.id.clone() })
            .await
        {
            Ok(info) if info.key_check_value == want => {}
            Ok(info) => {
                return Err(key_err(
                    name,
                    &format!(
                    "{} already names another key (check value {}); the tool never replaces a key",
                    e.id, info.key_check_value
                ),
                ))
            }
            Err(x) if x.kind() == ErrorKind::KeyNotFound => todo.push((name, e, clear, attrs)),
            Err(x) => return Err(CliError::op(format!("key \"{name}\": {x}"))),
        }
    }
    if todo.is_empty() {
        return Ok(());
    }
    let mut suffix = [0u8; 6];
    rand::rng().fill_bytes(&mut suffix);
    let kek = KeyId::new(format!("paycrypto-cli/session-kek-{}", hex::encode(suffix)))?;
    let mut c1 = zeroize::Zeroizing::new(vec![0u8; 16]);
    let mut c2 = zeroize::Zeroizing::new(vec![0u8; 16]);
    rand::rng().fill_bytes(&mut c1);
    rand::rng().fill_bytes(&mut c2);
    crate::algo::cipher::fix_odd_parity(&mut c1);
    crate::algo::cipher::fix_odd_parity(&mut c2);
    let kek_clear = combine_components(KeyAlgorithm::Tdes2, &[&c1, &c2])?;
    aws.import_key(kek_from_components(
        kek.clone(),
        KeyAlgorithm::Tdes2,
        &[&c1, &c2],
    )?)
    .await
    .map_err(|e| CliError::op(format!("cannot import the session KEK: {e}")))?;
    let mut result = Ok(());
    for (name, e, clear, attrs) in todo {
        let r = match tr31_import(
            kek.clone(),
            KeyAlgorithm::Tdes2,
            &kek_clear,
            e.id.clone(),
            attrs,
            clear.expose(),
        ) {
            Ok(req) => aws.import_key(req).await.map(|_| ()),
            Err(x) => Err(x),
        };
        if let Err(x) = r {
            result = Err(key_err(name, &x));
            break;
        }
    }
    // The session KEK has done its job (scheduled for deletion).
    let _ = aws.delete_key(DeleteKeyRequest { key: kek }).await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_accounts() {
        let url = |u: &str| match u.parse::<crate::BackendUrl>().unwrap() {
            crate::BackendUrl::Aws(a) => a,
            other => panic!("{other}"),
        };
        let opts = AwsOptions::default();
        let allow = AwsOptions {
            allow_test_key_import: true,
        };
        assert!(test_keys_allowed(
            &url("aws?endpoint=http://127.0.0.1:1"),
            &opts
        ));
        assert!(test_keys_allowed(
            &url("aws?endpoint=http://[::1]:1"),
            &opts
        ));
        assert!(!test_keys_allowed(&url("aws://eu-west-1"), &opts));
        assert!(!test_keys_allowed(
            &url("aws?endpoint=https://10.0.0.1"),
            &opts
        ));
        assert!(test_keys_allowed(&url("aws://eu-west-1"), &allow));
    }
}
