//! The AWS CLI (the `awscli` package, its own models, serializers and
//! SigV4 signer) drives the emulator over both planes: key management,
//! tags, policies, replication, import and export, and the data plane's
//! cryptography, each command's JSON output checked. Skips when the CLI is
//! not installed (`python3 -m pip install awscli`).

use paycrypto::server::aws::{start, Credentials, EmulatorConfig};
use serde_json::Value;
use std::process::Command;

const AK: &str = "AKIDCLISMOKE";
const SK: &str = "cli/smoke/secret";

/// How to run the CLI here: `aws`, or `python3 -m awscli` when only the
/// package is installed. `None` when neither works.
fn cli() -> Option<Vec<String>> {
    for argv in [vec!["aws"], vec!["python3", "-m", "awscli"]] {
        let ok = Command::new(argv[0])
            .args(&argv[1..])
            .arg("--version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if ok {
            return Some(argv.into_iter().map(String::from).collect());
        }
    }
    None
}

struct Cli {
    argv: Vec<String>,
    url: String,
    home: std::path::PathBuf,
    commands: usize,
}

impl Cli {
    /// Runs `aws payment-cryptography[-data] <args>`: (success, stdout JSON
    /// or Null, stderr).
    fn run(&mut self, data_plane: bool, args: &[&str]) -> (bool, Value, String) {
        let service = if data_plane {
            "payment-cryptography-data"
        } else {
            "payment-cryptography"
        };
        let out = Command::new(&self.argv[0])
            .args(&self.argv[1..])
            .arg(service)
            .args(args)
            .args(["--endpoint-url", &self.url, "--output", "json"])
            .env("AWS_ACCESS_KEY_ID", AK)
            .env("AWS_SECRET_ACCESS_KEY", SK)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", self.home.join("config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.home.join("credentials"))
            .env("AWS_MAX_ATTEMPTS", "1")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .output()
            .expect("run the AWS CLI");
        self.commands += 1;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let v = if stdout.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&stdout).unwrap_or(Value::Null)
        };
        (out.status.success(), v, stderr)
    }

    /// A command that must succeed; its JSON output.
    fn ok(&mut self, data_plane: bool, args: &[&str]) -> Value {
        let (ok, v, err) = self.run(data_plane, args);
        assert!(ok, "aws {args:?} failed: {err}");
        v
    }
}

fn attrs(usage: &str, alg: &str, modes: &str) -> String {
    format!(
        r#"{{"KeyUsage":"{usage}","KeyClass":"SYMMETRIC_KEY","KeyAlgorithm":"{alg}","KeyModesOfUse":{modes}}}"#
    )
}

const BOTH: &str = r#"{"Encrypt":true,"Decrypt":true,"Wrap":true,"Unwrap":true}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_cli_drives_both_planes() {
    let Some(argv) = cli() else {
        eprintln!("SKIPPED: the AWS CLI is not installed (python3 -m pip install awscli)");
        return;
    };
    let emu = start(EmulatorConfig {
        credentials: Credentials::parse(&format!("{AK}:{SK}")),
        ..Default::default()
    })
    .await
    .expect("start emulator");
    let home = std::env::temp_dir().join(format!("paycrypto-aws-cli-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let url = emu.endpoint_url();
    let result = tokio::task::spawn_blocking(move || {
        let mut c = Cli {
            argv,
            url,
            home,
            commands: 0,
        };
        smoke(&mut c);
        let _ = std::fs::remove_dir_all(&c.home);
        c.commands
    })
    .await;
    emu.shutdown().await;
    let commands = result.expect("the CLI session");
    println!("aws cli: {commands} commands");
    assert!(commands >= 20, "{commands} commands");
}

fn smoke(c: &mut Cli) {
    let key = |v: &Value, f: &str| v["Key"][f].as_str().unwrap_or_default().to_owned();

    // Control plane: keys, aliases, tags, policies, replication, state.
    let dek = c.ok(
        false,
        &[
            "create-key",
            "--exportable",
            "--key-attributes",
            &attrs("TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "AES_128", BOTH),
            "--tags",
            "Key=env,Value=test",
        ],
    );
    let dek_arn = key(&dek, "KeyArn");
    assert_eq!(key(&dek, "KeyState"), "CREATE_COMPLETE", "{dek}");
    let dek2 = c.ok(
        false,
        &[
            "create-key",
            "--no-exportable",
            "--key-attributes",
            &attrs("TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "TDES_2KEY", BOTH),
        ],
    );
    let dek2_arn = key(&dek2, "KeyArn");
    let got = c.ok(false, &["get-key", "--key-identifier", &dek_arn]);
    assert_eq!(got["Key"]["KeyCheckValue"], dek["Key"]["KeyCheckValue"]);
    let list = c.ok(false, &["list-keys"]);
    assert!(
        list["Keys"].as_array().is_some_and(|k| k.len() >= 2),
        "{list}"
    );
    c.ok(
        false,
        &[
            "create-alias",
            "--alias-name",
            "alias/cli/dek",
            "--key-arn",
            &dek_arn,
        ],
    );
    let a = c.ok(false, &["get-alias", "--alias-name", "alias/cli/dek"]);
    assert_eq!(a["Alias"]["KeyArn"].as_str(), Some(dek_arn.as_str()));
    let aliases = c.ok(false, &["list-aliases"]);
    assert!(aliases["Aliases"].as_array().is_some_and(|a| !a.is_empty()));
    c.ok(
        false,
        &[
            "update-alias",
            "--alias-name",
            "alias/cli/dek",
            "--key-arn",
            &dek2_arn,
        ],
    );
    c.ok(
        false,
        &[
            "tag-resource",
            "--resource-arn",
            &dek_arn,
            "--tags",
            "Key=team,Value=payments",
        ],
    );
    let tags = c.ok(
        false,
        &["list-tags-for-resource", "--resource-arn", &dek_arn],
    );
    assert_eq!(tags["Tags"].as_array().map(Vec::len), Some(2), "{tags}");
    c.ok(
        false,
        &[
            "untag-resource",
            "--resource-arn",
            &dek_arn,
            "--tag-keys",
            "env",
        ],
    );
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"payment-cryptography:DecryptData","Resource":"*"}]}"#;
    c.ok(
        false,
        &[
            "put-resource-policy",
            "--resource-arn",
            &dek_arn,
            "--policy",
            policy,
        ],
    );
    let p = c.ok(false, &["get-resource-policy", "--resource-arn", &dek_arn]);
    assert_eq!(p["Policy"].as_str(), Some(policy));
    c.ok(
        false,
        &["delete-resource-policy", "--resource-arn", &dek_arn],
    );
    c.ok(
        false,
        &[
            "enable-default-key-replication-regions",
            "--replication-regions",
            "eu-west-1",
        ],
    );
    let d = c.ok(false, &["get-default-key-replication-regions"]);
    assert_eq!(d["EnabledReplicationRegions"][0], "eu-west-1", "{d}");
    c.ok(
        false,
        &[
            "disable-default-key-replication-regions",
            "--replication-regions",
            "eu-west-1",
        ],
    );
    let r = c.ok(
        false,
        &[
            "add-key-replication-regions",
            "--key-identifier",
            &dek_arn,
            "--replication-regions",
            "us-west-2",
        ],
    );
    assert_eq!(
        r["Key"]["ReplicationStatus"]["us-west-2"]["Status"], "SYNCHRONIZED",
        "{r}"
    );
    let params = c.ok(
        false,
        &[
            "get-parameters-for-import",
            "--key-material-type",
            "KEY_CRYPTOGRAM",
            "--wrapping-key-algorithm",
            "RSA_2048",
        ],
    );
    assert!(params["ImportToken"]
        .as_str()
        .is_some_and(|t| t.starts_with("import-token-")));

    // TR-31 export and import under a KEK.
    let kek = c.ok(
        false,
        &[
            "create-key",
            "--exportable",
            "--key-attributes",
            &attrs("TR31_K0_KEY_ENCRYPTION_KEY", "AES_256", BOTH),
        ],
    );
    let kek_arn = key(&kek, "KeyArn");
    let material = format!(r#"{{"Tr31KeyBlock":{{"WrappingKeyIdentifier":"{kek_arn}"}}}}"#);
    let w = c.ok(
        false,
        &[
            "export-key",
            "--export-key-identifier",
            &dek_arn,
            "--key-material",
            &material,
        ],
    );
    let block = w["WrappedKey"]["KeyMaterial"].as_str().unwrap().to_owned();
    assert!(block.starts_with('D'), "{w}");
    let material = format!(
        r#"{{"Tr31KeyBlock":{{"WrappingKeyIdentifier":"{kek_arn}","WrappedKeyBlock":"{block}"}}}}"#
    );
    let imported = c.ok(false, &["import-key", "--key-material", &material]);
    assert_eq!(
        imported["Key"]["KeyCheckValue"],
        dek["Key"]["KeyCheckValue"]
    );
    assert_eq!(imported["Key"]["KeyOrigin"], "EXTERNAL");

    // Data plane.
    let ct = c.ok(
        true,
        &[
            "encrypt-data",
            "--key-identifier",
            &dek_arn,
            "--plain-text",
            "00112233445566778899AABBCCDDEEFF",
            "--encryption-attributes",
            r#"{"Symmetric":{"Mode":"ECB"}}"#,
        ],
    );
    let ct = ct["CipherText"].as_str().unwrap().to_owned();
    let pt = c.ok(
        true,
        &[
            "decrypt-data",
            "--key-identifier",
            &dek_arn,
            "--cipher-text",
            &ct,
            "--decryption-attributes",
            r#"{"Symmetric":{"Mode":"ECB"}}"#,
        ],
    );
    assert_eq!(pt["PlainText"], "00112233445566778899AABBCCDDEEFF");
    let re = c.ok(
        true,
        &[
            "re-encrypt-data",
            "--incoming-key-identifier",
            &dek_arn,
            "--outgoing-key-identifier",
            &dek2_arn,
            "--cipher-text",
            &ct,
            "--incoming-encryption-attributes",
            r#"{"Symmetric":{"Mode":"ECB"}}"#,
            "--outgoing-encryption-attributes",
            r#"{"Symmetric":{"Mode":"ECB"}}"#,
        ],
    );
    let back = c.ok(
        true,
        &[
            "decrypt-data",
            "--key-identifier",
            &dek2_arn,
            "--cipher-text",
            re["CipherText"].as_str().unwrap(),
            "--decryption-attributes",
            r#"{"Symmetric":{"Mode":"ECB"}}"#,
        ],
    );
    assert_eq!(back["PlainText"], "00112233445566778899AABBCCDDEEFF");

    let cvk = c.ok(
        false,
        &[
            "create-key",
            "--exportable",
            "--key-attributes",
            &attrs(
                "TR31_C0_CARD_VERIFICATION_KEY",
                "TDES_2KEY",
                r#"{"Generate":true,"Verify":true}"#,
            ),
        ],
    );
    let cvk_arn = key(&cvk, "KeyArn");
    let gen = r#"{"CardVerificationValue2":{"CardExpiryDate":"1230"}}"#;
    let cvv = c.ok(
        true,
        &[
            "generate-card-validation-data",
            "--key-identifier",
            &cvk_arn,
            "--primary-account-number",
            "4111111111111111",
            "--generation-attributes",
            gen,
        ],
    );
    let cvv = cvv["ValidationData"].as_str().unwrap().to_owned();
    c.ok(
        true,
        &[
            "verify-card-validation-data",
            "--key-identifier",
            &cvk_arn,
            "--primary-account-number",
            "4111111111111111",
            "--verification-attributes",
            gen,
            "--validation-data",
            &cvv,
        ],
    );

    let hmac = c.ok(
        false,
        &[
            "create-key",
            "--exportable",
            "--key-attributes",
            &attrs(
                "TR31_M7_HMAC_KEY",
                "HMAC_SHA256",
                r#"{"Generate":true,"Verify":true}"#,
            ),
        ],
    );
    let hmac_arn = key(&hmac, "KeyArn");
    let m = c.ok(
        true,
        &[
            "generate-mac",
            "--key-identifier",
            &hmac_arn,
            "--message-data",
            "48656C6C6F",
            "--generation-attributes",
            "Algorithm=HMAC_SHA256",
        ],
    );
    let mac = m["Mac"].as_str().unwrap().to_owned();
    assert_eq!(mac.len(), 64, "a full HMAC-SHA-256: {m}");
    c.ok(
        true,
        &[
            "verify-mac",
            "--key-identifier",
            &hmac_arn,
            "--message-data",
            "48656C6C6F",
            "--mac",
            &mac,
            "--verification-attributes",
            "Algorithm=HMAC_SHA256",
        ],
    );
    // A wrong MAC: exit status non-zero, VerificationFailedException.
    let (ok, _, err) = c.run(
        true,
        &[
            "verify-mac",
            "--key-identifier",
            &hmac_arn,
            "--message-data",
            "48656C6C6F",
            "--mac",
            &mac.replace(&mac[..2], "00"),
            "--verification-attributes",
            "Algorithm=HMAC_SHA256",
        ],
    );
    assert!(!ok && err.contains("VerificationFailedException"), "{err}");

    let pvk = c.ok(
        false,
        &[
            "create-key",
            "--exportable",
            "--key-attributes",
            &attrs(
                "TR31_V2_VISA_PIN_VERIFICATION_KEY",
                "TDES_2KEY",
                r#"{"Generate":true,"Verify":true}"#,
            ),
        ],
    );
    let pek = c.ok(
        false,
        &[
            "create-key",
            "--exportable",
            "--key-attributes",
            &attrs("TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", BOTH),
        ],
    );
    let pek2 = c.ok(
        false,
        &[
            "create-key",
            "--exportable",
            "--key-attributes",
            &attrs("TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", BOTH),
        ],
    );
    let (pvk_arn, pek_arn, pek2_arn) = (
        key(&pvk, "KeyArn"),
        key(&pek, "KeyArn"),
        key(&pek2, "KeyArn"),
    );
    let g = c.ok(
        true,
        &[
            "generate-pin-data",
            "--generation-key-identifier",
            &pvk_arn,
            "--encryption-key-identifier",
            &pek_arn,
            "--primary-account-number",
            "171234567890123",
            "--pin-block-format",
            "ISO_FORMAT_0",
            "--generation-attributes",
            r#"{"VisaPin":{"PinVerificationKeyIndex":1}}"#,
        ],
    );
    let block = g["EncryptedPinBlock"].as_str().unwrap().to_owned();
    let pvv = g["PinData"]["VerificationValue"]
        .as_str()
        .unwrap()
        .to_owned();
    c.ok(
        true,
        &[
            "verify-pin-data",
            "--verification-key-identifier",
            &pvk_arn,
            "--encryption-key-identifier",
            &pek_arn,
            "--primary-account-number",
            "171234567890123",
            "--pin-block-format",
            "ISO_FORMAT_0",
            "--encrypted-pin-block",
            &block,
            "--verification-attributes",
            &format!(
                r#"{{"VisaPin":{{"PinVerificationKeyIndex":1,"VerificationValue":"{pvv}"}}}}"#
            ),
        ],
    );
    let t = c.ok(
        true,
        &[
            "translate-pin-data",
            "--incoming-key-identifier",
            &pek_arn,
            "--outgoing-key-identifier",
            &pek2_arn,
            "--encrypted-pin-block",
            &block,
            "--incoming-translation-attributes",
            r#"{"IsoFormat0":{"PrimaryAccountNumber":"171234567890123"}}"#,
            "--outgoing-translation-attributes",
            r#"{"IsoFormat0":{"PrimaryAccountNumber":"171234567890123"}}"#,
        ],
    );
    assert_eq!(t["KeyArn"].as_str(), Some(pek2_arn.as_str()), "{t}");

    // Key state, and the not-found error the CLI reports.
    c.ok(false, &["stop-key-usage", "--key-identifier", &dek2_arn]);
    c.ok(false, &["start-key-usage", "--key-identifier", &dek2_arn]);
    let del = c.ok(
        false,
        &[
            "delete-key",
            "--key-identifier",
            &dek2_arn,
            "--delete-key-in-days",
            "3",
        ],
    );
    assert_eq!(del["Key"]["KeyState"], "DELETE_PENDING", "{del}");
    c.ok(false, &["restore-key", "--key-identifier", &dek2_arn]);
    c.ok(false, &["delete-alias", "--alias-name", "alias/cli/dek"]);
    let (ok, _, err) = c.run(false, &["get-alias", "--alias-name", "alias/cli/dek"]);
    assert!(!ok && err.contains("ResourceNotFoundException"), "{err}");
}
