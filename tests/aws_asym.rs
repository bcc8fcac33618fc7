//! The emulator's asymmetric keys in the service's JSON: key pairs (RSA
//! 2048/3072/4096, ECC P-256/P-384/P-521) with their usages,
//! `GetPublicKeyCertificate`, `GetCertificateSigningRequest`, root and
//! trusted public key certificate imports, and RSA key cryptogram export to
//! a trusted certificate. Certificates and CSRs are checked here with
//! aws-lc-rs over a DER walk of this file's own, not with the emulator's
//! code; test certificates are made with rcgen.

use aws_lc_rs::signature as sig;
use base64::Engine;
use paycrypto::server::aws::{start, EmulatorConfig, RunningEmulator};
use serde_json::{json, Value};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

async fn control(emu: &RunningEmulator, op: &str, body: Value) -> (u16, Value) {
    let target = format!("PaymentCryptographyControlPlane.{op}");
    let a = emu
        .emulator()
        .handle_json("POST", "/", Some(&target), body.to_string().as_bytes())
        .await;
    (a.status, serde_json::from_slice(&a.body).unwrap())
}

async fn ok(emu: &RunningEmulator, op: &str, body: Value) -> Value {
    let (st, v) = control(emu, op, body).await;
    assert_eq!(st, 200, "{op}: {v}");
    v
}

/// Splits one DER TLV: (tag, whole, content, rest).
fn tlv(b: &[u8]) -> (u8, &[u8], &[u8], &[u8]) {
    let tag = b[0];
    let (len, hdr) = if b[1] < 0x80 {
        (b[1] as usize, 2)
    } else {
        let n = (b[1] & 0x7F) as usize;
        (
            b[2..2 + n]
                .iter()
                .fold(0usize, |a, x| (a << 8) | *x as usize),
            2 + n,
        )
    };
    (tag, &b[..hdr + len], &b[hdr..hdr + len], &b[hdr + len..])
}

/// DER of the base64-of-PEM field the API sends (certificate or CSR).
fn field_der(field: &str) -> Vec<u8> {
    let pem = String::from_utf8(B64.decode(field).expect("base64 of PEM")).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    B64.decode(body).unwrap()
}

/// (signed TLV, signature algorithm OID content, signature) of a
/// certificate or CSR: SEQUENCE { signed, AlgorithmIdentifier, BIT STRING }.
fn signed_parts(der: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let (_, _, body, _) = tlv(der);
    let (_, signed, _, rest) = tlv(body);
    let (_, _, alg, rest) = tlv(rest);
    let (_, _, oid, _) = tlv(alg);
    let (_, _, bits, _) = tlv(rest);
    (signed.to_vec(), oid.to_vec(), bits[1..].to_vec())
}

/// The SubjectPublicKeyInfo of a certificate (7th field of the TBS, after
/// the optional version) or of a CSR (3rd field of the info).
fn spki(der: &[u8], csr: bool) -> Vec<u8> {
    let (_, _, body, _) = tlv(der);
    let (_, _, mut fields, _) = tlv(body);
    let mut n = 0;
    loop {
        let (tag, whole, _, rest) = tlv(fields);
        let skip = !csr && n == 0 && tag == 0xA0;
        if !skip {
            if (csr && n == 2) || (!csr && n == 6) {
                return whole.to_vec();
            }
            n += 1;
        } else {
            n += 1;
        }
        fields = rest;
    }
}

/// The key bytes (BIT STRING content) of a SubjectPublicKeyInfo.
fn spki_key(spki: &[u8]) -> Vec<u8> {
    let (_, _, body, _) = tlv(spki);
    let (_, _, _, rest) = tlv(body);
    let (_, _, bits, _) = tlv(rest);
    bits[1..].to_vec()
}

fn verify(
    alg: &'static dyn sig::VerificationAlgorithm,
    spki_der: &[u8],
    signed: &[u8],
    signature: &[u8],
) -> bool {
    sig::UnparsedPublicKey::new(alg, spki_key(spki_der))
        .verify(signed, signature)
        .is_ok()
}

fn attrs(usage: &str, class: &str, alg: &str, modes: Value) -> Value {
    json!({ "KeyUsage": usage, "KeyClass": class, "KeyAlgorithm": alg, "KeyModesOfUse": modes })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_pairs_certificates_and_csrs() {
    let emu = start(EmulatorConfig::default()).await.unwrap();
    let cases: &[(
        &str,
        &str,
        Value,
        &str,
        &'static dyn sig::VerificationAlgorithm,
    )] = &[
        (
            "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
            "ECC_NIST_P256",
            json!({"Sign": true, "Verify": true}),
            "SHA256",
            &sig::ECDSA_P256_SHA256_ASN1,
        ),
        (
            "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT",
            "ECC_NIST_P384",
            json!({"DeriveKey": true}),
            "SHA384",
            &sig::ECDSA_P384_SHA384_ASN1,
        ),
        (
            "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
            "ECC_NIST_P521",
            json!({"Sign": true, "Verify": true}),
            "SHA512",
            &sig::ECDSA_P521_SHA512_ASN1,
        ),
        (
            "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION",
            "RSA_2048",
            json!({"Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true}),
            "SHA256",
            &sig::RSA_PKCS1_2048_8192_SHA256,
        ),
        (
            "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
            "RSA_3072",
            json!({"Sign": true, "Verify": true}),
            "SHA384",
            &sig::RSA_PKCS1_2048_8192_SHA384,
        ),
        (
            "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
            "RSA_4096",
            json!({"Sign": true, "Verify": true}),
            "SHA512",
            &sig::RSA_PKCS1_2048_8192_SHA512,
        ),
    ];
    for (usage, alg, modes, hash, verifier) in cases {
        let k = ok(
            &emu,
            "CreateKey",
            json!({
                "KeyAttributes": attrs(usage, "ASYMMETRIC_KEY_PAIR", alg, modes.clone()),
                "Exportable": false,
            }),
        )
        .await;
        let arn = k["Key"]["KeyArn"].as_str().unwrap().to_owned();
        assert_eq!(k["Key"]["KeyAttributes"]["KeyClass"], "ASYMMETRIC_KEY_PAIR");
        assert_eq!(k["Key"]["KeyAttributes"]["KeyAlgorithm"], *alg);
        assert_eq!(k["Key"]["KeyCheckValueAlgorithm"], "SHA_1");
        // The CSR: signed by the key pair with the hash asked for, over the
        // subject given.
        let csr = ok(
            &emu,
            "GetCertificateSigningRequest",
            json!({
                "KeyIdentifier": arn, "SigningAlgorithm": hash,
                "CertificateSubject": { "CommonName": "terminal-host", "Country": "US" },
            }),
        )
        .await;
        let csr = field_der(csr["CertificateSigningRequest"].as_str().unwrap());
        let (info, _, signature) = signed_parts(&csr);
        let csr_spki = spki(&csr, true);
        assert!(
            verify(*verifier, &csr_spki, &info, &signature),
            "{alg}: CSR signature"
        );
        assert!(
            info.windows(13).any(|w| w == b"terminal-host"),
            "{alg}: CSR subject"
        );
        // The certificate: the key pair's public key, issued by the chain's key.
        let c = ok(
            &emu,
            "GetPublicKeyCertificate",
            json!({ "KeyIdentifier": arn }),
        )
        .await;
        let cert = field_der(c["KeyCertificate"].as_str().unwrap());
        let chain = field_der(c["KeyCertificateChain"].as_str().unwrap());
        assert_eq!(
            spki(&cert, false),
            csr_spki,
            "{alg}: the certificate certifies the key pair"
        );
        let (tbs, _, signature) = signed_parts(&cert);
        assert!(
            verify(
                &sig::ECDSA_P256_SHA256_ASN1,
                &spki(&chain, false),
                &tbs,
                &signature
            ),
            "{alg}: issued by the chain"
        );
    }
    // Usage and algorithm must fit; SHA224 CSRs are refused by name.
    for (usage, alg, modes) in [
        (
            "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION",
            "ECC_NIST_P256",
            json!({"Encrypt": true}),
        ),
        (
            "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT",
            "RSA_2048",
            json!({"DeriveKey": true}),
        ),
        (
            "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
            "ECC_NIST_P256",
            json!({"Encrypt": true}),
        ),
    ] {
        let (st, v) = control(&emu, "CreateKey", json!({
            "KeyAttributes": attrs(usage, "ASYMMETRIC_KEY_PAIR", alg, modes), "Exportable": false,
        }))
        .await;
        assert_eq!(
            (st, v["__type"].as_str()),
            (400, Some("ValidationException")),
            "{usage} {alg}: {v}"
        );
    }
    let k = ok(&emu, "CreateKey", json!({
        "KeyAttributes": attrs("TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE", "ASYMMETRIC_KEY_PAIR", "RSA_2048", json!({"Sign": true})),
        "Exportable": false,
    }))
    .await;
    let (st, v) = control(
        &emu,
        "GetCertificateSigningRequest",
        json!({
            "KeyIdentifier": k["Key"]["KeyArn"], "SigningAlgorithm": "SHA224",
            "CertificateSubject": { "CommonName": "x" },
        }),
    )
    .await;
    assert!(
        st == 400 && v["Message"].as_str().unwrap_or("").contains("SHA224"),
        "{v}"
    );
    emu.shutdown().await;
}

fn ca(cn: &str) -> (rcgen::KeyPair, rcgen::Certificate) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = p.self_signed(&key).unwrap();
    (key, cert)
}

fn field(cert: &rcgen::Certificate) -> String {
    B64.encode(cert.pem())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_and_trusted_certificates_and_rsa_export_to_them() {
    let emu = start(EmulatorConfig::default()).await.unwrap();
    let (root_key, root) = ca("paycrypto test root");
    let (other_key, other) = ca("someone else");
    let s0_public = |alg: &str| {
        attrs(
            "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
            "PUBLIC_KEY",
            alg,
            json!({"Verify": true}),
        )
    };
    let r = ok(
        &emu,
        "ImportKey",
        json!({ "KeyMaterial": { "RootCertificatePublicKey": {
        "KeyAttributes": s0_public("ECC_NIST_P384"), "PublicKeyCertificate": field(&root) } } }),
    )
    .await;
    let root_arn = r["Key"]["KeyArn"].as_str().unwrap().to_owned();
    assert_eq!(r["Key"]["KeyAttributes"]["KeyClass"], "PUBLIC_KEY");
    assert_eq!(r["Key"]["KeyOrigin"], "EXTERNAL");
    // A root must be self-signed, and its key of the algorithm stated.
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "not a root");
    let issued = p.signed_by(&other_key, &root, &root_key).unwrap();
    for (cert, alg) in [
        (field(&issued), "ECC_NIST_P384"),
        (field(&root), "ECC_NIST_P256"),
    ] {
        let (st, v) = control(
            &emu,
            "ImportKey",
            json!({ "KeyMaterial": { "RootCertificatePublicKey": {
            "KeyAttributes": s0_public(alg), "PublicKeyCertificate": cert } } }),
        )
        .await;
        assert_eq!(
            (st, v["__type"].as_str()),
            (400, Some("ValidationException")),
            "{v}"
        );
    }
    // A trusted RSA wrapping certificate issued by the root.
    let leaf_key =
        rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
            .unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "partner wrapping key");
    let leaf = p.clone().signed_by(&leaf_key, &root, &root_key).unwrap();
    let d1_public = attrs(
        "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION",
        "PUBLIC_KEY",
        "RSA_2048",
        json!({"Encrypt": true, "Wrap": true}),
    );
    let t = ok(
        &emu,
        "ImportKey",
        json!({ "KeyMaterial": { "TrustedCertificatePublicKey": {
        "KeyAttributes": d1_public, "PublicKeyCertificate": field(&leaf),
        "CertificateAuthorityPublicKeyIdentifier": root_arn } } }),
    )
    .await;
    let trusted_arn = t["Key"]["KeyArn"].as_str().unwrap().to_owned();
    let c = ok(
        &emu,
        "GetPublicKeyCertificate",
        json!({ "KeyIdentifier": trusted_arn }),
    )
    .await;
    assert_eq!(
        field_der(c["KeyCertificate"].as_str().unwrap()),
        leaf.der().to_vec()
    );
    assert_eq!(
        field_der(c["KeyCertificateChain"].as_str().unwrap()),
        root.der().to_vec()
    );
    // Issued by another CA: refused.
    let wrong = p.signed_by(&leaf_key, &other, &other_key).unwrap();
    let (st, v) = control(&emu, "ImportKey", json!({ "KeyMaterial": { "TrustedCertificatePublicKey": {
        "KeyAttributes": attrs("TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION", "PUBLIC_KEY", "RSA_2048", json!({"Encrypt": true})),
        "PublicKeyCertificate": field(&wrong), "CertificateAuthorityPublicKeyIdentifier": root_arn } } }))
    .await;
    assert!(
        st == 400 && v["Message"].as_str().unwrap_or("").contains("not signed"),
        "{v}"
    );
    // Export a key as an RSA-OAEP cryptogram to the trusted certificate:
    // the partner's private key recovers it (same KCV).
    let dek = ok(&emu, "CreateKey", json!({
        "KeyAttributes": attrs("TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "SYMMETRIC_KEY", "AES_128", json!({"Encrypt": true, "Decrypt": true})),
        "Exportable": true,
    }))
    .await;
    let w = ok(
        &emu,
        "ExportKey",
        json!({
            "ExportKeyIdentifier": dek["Key"]["KeyArn"],
            "KeyMaterial": { "KeyCryptogram": { "CertificateAuthorityPublicKeyIdentifier": root_arn,
                "WrappingKeyCertificate": field(&leaf), "WrappingSpec": "RSA_OAEP_SHA_256" } },
        }),
    )
    .await;
    let cryptogram = hex::decode(w["WrappedKey"]["KeyMaterial"].as_str().unwrap()).unwrap();
    let private =
        aws_lc_rs::rsa::PrivateDecryptingKey::from_pkcs8(&leaf_key.serialize_der()).unwrap();
    let oaep = aws_lc_rs::rsa::OaepPrivateDecryptingKey::new(private).unwrap();
    let mut out = vec![0u8; oaep.min_output_size()];
    let clear = oaep
        .decrypt(
            &aws_lc_rs::rsa::OAEP_SHA256_MGF1SHA256,
            &cryptogram,
            &mut out,
            None,
        )
        .unwrap()
        .to_vec();
    let kcv =
        paycrypto::software::key_check_value(paycrypto::KeyAlgorithm::Aes128, &clear).unwrap();
    assert_eq!(
        kcv.to_string(),
        dek["Key"]["KeyCheckValue"].as_str().unwrap()
    );
    // A wrapping certificate the CA did not issue is refused.
    let (st, v) = control(
        &emu,
        "ExportKey",
        json!({
            "ExportKeyIdentifier": dek["Key"]["KeyArn"],
            "KeyMaterial": { "KeyCryptogram": { "CertificateAuthorityPublicKeyIdentifier": root_arn,
                "WrappingKeyCertificate": field(&wrong) } },
        }),
    )
    .await;
    assert_eq!(
        (st, v["__type"].as_str()),
        (400, Some("ValidationException")),
        "{v}"
    );
    emu.shutdown().await;
}

/// Asymmetric keys survive a restart through the state file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asymmetric_keys_persist_in_the_state_file() {
    let dir = std::env::temp_dir().join(format!("paycrypto-asym-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = EmulatorConfig {
        state_file: Some(dir.join("state.json")),
        ..Default::default()
    };
    let emu = start(config.clone()).await.unwrap();
    let k = ok(&emu, "CreateKey", json!({
        "KeyAttributes": attrs("TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE", "ASYMMETRIC_KEY_PAIR", "ECC_NIST_P256", json!({"Sign": true, "Verify": true})),
        "Exportable": false,
    }))
    .await;
    let (_, root) = ca("persisted root");
    let r = ok(&emu, "ImportKey", json!({ "KeyMaterial": { "RootCertificatePublicKey": {
        "KeyAttributes": attrs("TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE", "PUBLIC_KEY", "ECC_NIST_P384", json!({"Verify": true})),
        "PublicKeyCertificate": field(&root) } } }))
    .await;
    emu.shutdown().await;
    let emu = start(config).await.unwrap();
    let got = ok(
        &emu,
        "GetKey",
        json!({ "KeyIdentifier": k["Key"]["KeyArn"] }),
    )
    .await;
    assert_eq!(got["Key"], k["Key"]);
    let c = ok(
        &emu,
        "GetPublicKeyCertificate",
        json!({ "KeyIdentifier": r["Key"]["KeyArn"] }),
    )
    .await;
    assert_eq!(
        field_der(c["KeyCertificate"].as_str().unwrap()),
        root.der().to_vec()
    );
    ok(
        &emu,
        "GetCertificateSigningRequest",
        json!({
            "KeyIdentifier": k["Key"]["KeyArn"], "SigningAlgorithm": "SHA256",
            "CertificateSubject": { "CommonName": "after restart" },
        }),
    )
    .await;
    emu.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
