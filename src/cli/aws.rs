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
//! From the standard chain (environment, profile, SSO, IMDS…). For an
//! endpoint on this machine the tool does not look beyond the environment:
//! credentials come from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (as
//! `paycrypto serve aws --credentials` requires), else placeholder
//! credentials that an emulator started without `--credentials` accepts;
//! the region comes from `aws://REGION`, `AWS_REGION`, `AWS_DEFAULT_REGION`,
//! else `us-east-1`.

use super::keys::KeyConfig;
use super::output::CliError;
use crate::aws::AwsBackend;
use crate::backend::BackendExt;
use crate::keyload::{combine_components, kek_from_components, tr31_import};
use crate::ops::{DeleteKeyRequest, GetKeyInfoRequest};
use crate::software::key_check_value;
use crate::types::{KeyAlgorithm, KeyId};
use crate::ErrorKind;
use rand::RngCore;

/// AWS options from the command line.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// Import `clear` test keys even into an account reached through the
    /// standard chain (`--allow-test-key-import`): a test account.
    pub allow_test_key_import: bool,
}

/// True when `url`'s host is this machine (a loopback address or `localhost`).
pub fn is_local_endpoint(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether clear test keys may be imported into this account.
pub fn test_keys_allowed(endpoint_url: Option<&str>, opts: &AwsOptions) -> bool {
    opts.allow_test_key_import || endpoint_url.is_some_and(is_local_endpoint)
}

/// Why clear test keys are refused (names the flag that allows them).
pub const TEST_KEYS_REFUSED: &str = "clear test keys are imported only into a test account: \
     an --endpoint-url on this machine (the emulator), or with --allow-test-key-import";

/// Builds the AWS backend for `region` / `endpoint_url` and imports the
/// configuration's `clear` entries when allowed (see the module docs).
pub async fn open_aws(
    region: Option<&str>,
    endpoint_url: Option<&str>,
    config: &KeyConfig,
    opts: &AwsOptions,
) -> Result<AwsBackend, CliError> {
    let has_clear = config.keys.values().any(|e| e.clear.is_some());
    if has_clear && !test_keys_allowed(endpoint_url, opts) {
        return Err(CliError::arg("--keys", TEST_KEYS_REFUSED));
    }
    let mut b = AwsBackend::builder();
    if let Some(u) = endpoint_url {
        b = b.endpoint_url(u);
    }
    if let Some(r) = region {
        b = b.region(r);
    }
    if endpoint_url.is_some_and(is_local_endpoint) {
        if region.is_none() {
            let r = ["AWS_REGION", "AWS_DEFAULT_REGION"]
                .iter()
                .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
                .unwrap_or_else(|| "us-east-1".into());
            b = b.region(r);
        }
        let env = |v: &str| std::env::var(v).ok().filter(|s| !s.is_empty());
        b = match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            (Some(ak), Some(sk)) => b.credentials(ak, sk, env("AWS_SESSION_TOKEN")),
            _ => b.credentials("paycrypto-local", "paycrypto-local-placeholder", None),
        };
    }
    let aws = b.build().await;
    if has_clear {
        import_clear_keys(&aws, config).await?;
    }
    Ok(aws)
}

/// Imports every `clear` entry of `config` under a random session KEK (see
/// the module docs); existing keys with the same check value are kept.
pub async fn import_clear_keys(aws: &AwsBackend, config: &KeyConfig) -> Result<(), CliError> {
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
    fn local_endpoints() {
        for u in [
            "http://127.0.0.1:4566",
            "http://127.0.0.2:1/",
            "https://localhost",
            "http://LOCALHOST:80/x",
            "http://[::1]:4566",
            "http://user@127.0.0.1:9",
        ] {
            assert!(is_local_endpoint(u), "{u}");
        }
        for u in [
            "https://dataplane.payment-cryptography.eu-west-1.amazonaws.com",
            "http://10.0.0.1:4566",
            "http://[2001:db8::1]:4566",
            "http://localhost.example.com",
            "http://127.0.0.1.example.com",
        ] {
            assert!(!is_local_endpoint(u), "{u}");
        }
        let opts = AwsOptions::default();
        assert!(test_keys_allowed(Some("http://127.0.0.1:1"), &opts));
        assert!(!test_keys_allowed(None, &opts));
        assert!(test_keys_allowed(
            None,
            &AwsOptions {
                allow_test_key_import: true
            }
        ));
    }
}
