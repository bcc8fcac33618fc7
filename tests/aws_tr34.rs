//! TR-34 with the emulator. Import: blocks built here the way AWS's own
//! sample builds them for APC (aws-samples/samples-for-payment-cryptography-service,
//! key_import_export/tr34/import_app/import_tr34_raw_key_to_apc.py): hand
//! DER, RSA-OAEP and PKCS #1 v1.5 with aws-lc-rs, TDES/AES-CBC with the
//! crate's ciphers. Export: the emulator's blocks taken apart here with the
//! same tools and the KRD's private key. And one emulator's export imported
//! into another.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature as sig;
use base64::Engine;
use paycrypto::algo::cipher::BlockCipher;
use paycrypto::server::aws::{start, EmulatorConfig, RunningEmulator};
use paycrypto::KeyAlgorithm;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const OID_SHA256: &str = "608648016503040201";
const OID_MGF1: &str = "2A864886F70D010108";
const OID_DES_EDE3_CBC: &str = "2A864886F70D0307";
const OID_AES128_CBC: &str = "608648016503040102";
const OID_DATA: &str = "2A864886F70D010701";
const OID_OAEP: &str = "2A864886F70D010107";
const OID_P_SPECIFIED: &str = "2A864886F70D010109";
const OID_CONTENT_TYPE: &str = "2A864886F70D010903";
const OID_MESSAGE_DIGEST: &str = "2A864886F70D010904";
const OID_SIGNING_TIME: &str = "2A864886F70D010905";
const OID_RSA: &str = "2A864886F70D010101";
const OID_SIGNED_DATA: &str = "2A864886F70D010702";
const OID_ENVELOPED_DATA: &str = "2A864886F70D010703";
const OID_NONCE: &str = "2A864886F70D01091903";

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[0x81, n as u8]);
    } else {
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    der(0x30, &parts.concat())
}

fn oid(s: &str) -> Vec<u8> {
    der(0x06, &h(s))
}

/// (tag, whole, content, rest)
fn tlv(b: &[u8]) -> (u8, &[u8], &[u8], &[u8]) {
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
    (b[0], &b[..hdr + len], &b[hdr..hdr + len], &b[hdr + len..])
}

fn kids(mut c: &[u8]) -> Vec<(u8, Vec<u8>, Vec<u8>)> {
    let mut v = Vec::new();
    while !c.is_empty() {
        let (t, w, i, r) = tlv(c);
        v.push((t, w.to_vec(), i.to_vec()));
        c = r;
    }
    v
}

fn field_der(field: &str) -> Vec<u8> {
    let pem = String::from_utf8(B64.decode(field).unwrap()).unwrap();
    B64.decode(
        pem.lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>(),
    )
    .unwrap()
}

/// (IssuerAndSerialNumber, SubjectPublicKeyInfo) of a DER certificate.
fn id_and_spki(cert: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (_, _, body, _) = tlv(cert);
    let (_, _, tbs, _) = tlv(body);
    let mut f: Vec<_> = kids(tbs);
    if f[0].0 == 0xA0 {
        f.remove(0);
    }
    (seq(&[f[2].1.clone(), f[0].1.clone()]), f[5].1.clone())
}

fn cert_field(c: &rcgen::Certificate) -> String {
    B64.encode(c.pem())
}

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

fn rsa_ca(cn: &str) -> (rcgen::KeyPair, rcgen::Certificate) {
    let key = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = p.self_signed(&key).unwrap();
    (key, cert)
}

fn rsa_leaf(
    cn: &str,
    ca: &rcgen::Certificate,
    ca_key: &rcgen::KeyPair,
) -> (rcgen::KeyPair, rcgen::Certificate) {
    let key = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    let cert = p.signed_by(&key, ca, ca_key).unwrap();
    (key, cert)
}

async fn import_root(emu: &RunningEmulator, cert: &str) -> Value {
    ok(emu, "ImportKey", json!({ "KeyMaterial": { "RootCertificatePublicKey": {
        "KeyAttributes": { "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE", "KeyClass": "PUBLIC_KEY",
            "KeyAlgorithm": "RSA_2048", "KeyModesOfUse": { "Verify": true } },
        "PublicKeyCertificate": cert } } }))
    .await["Key"]["KeyArn"]
        .clone()
}

/// A TR-34 block as the AWS sample builds it.
struct Kdh {
    key: rcgen::KeyPair,
    cert: rcgen::Certificate,
}

impl Kdh {
    fn block(
        &self,
        krd_cert: &[u8],
        clear: &[u8],
        header: &str,
        aes: bool,
        nonce: Option<&[u8]>,
    ) -> Vec<u8> {
        let (krd_id, krd_spki) = id_and_spki(krd_cert);
        let (kdh_id, _) = id_and_spki(self.cert.der());
        let header_attr = seq(&[oid(OID_DATA), der(0x31, &der(0x04, header.as_bytes()))]);
        let mut block = seq(&[
            der(0x02, &[1]),
            kdh_id.clone(),
            der(0x04, clear),
            header_attr.clone(),
        ]);
        let (cipher_oid, bs, kl) = if aes {
            (OID_AES128_CBC, 16, 16)
        } else {
            (OID_DES_EDE3_CBC, 8, 24)
        };
        let n = bs - block.len() % bs;
        block.extend(std::iter::repeat_n(n as u8, n));
        let ephemeral: Vec<u8> = (0..kl as u8)
            .map(|i| i.wrapping_mul(37).wrapping_add(11))
            .collect();
        let iv = vec![0x24u8; bs];
        let c = if aes {
            BlockCipher::aes(&ephemeral)
        } else {
            BlockCipher::tdes(&ephemeral)
        }
        .unwrap();
        c.encrypt_cbc(&iv, &mut block).unwrap();
        let pk = aws_lc_rs::rsa::OaepPublicEncryptingKey::new(
            aws_lc_rs::rsa::PublicEncryptingKey::from_der(&krd_spki).unwrap(),
        )
        .unwrap();
        let mut enc = vec![0u8; pk.ciphertext_size()];
        let n = pk
            .encrypt(
                &aws_lc_rs::rsa::OAEP_SHA256_MGF1SHA256,
                &ephemeral,
                &mut enc,
                None,
            )
            .unwrap()
            .len();
        enc.truncate(n);
        let envelope = [
            der(0x02, &[0]),
            der(
                0x31,
                &seq(&[
                    der(0x02, &[0]),
                    krd_id,
                    seq(&[
                        oid(OID_OAEP),
                        seq(&[
                            seq(&[oid(OID_SHA256), der(0x05, &[])]),
                            seq(&[oid(OID_MGF1), seq(&[oid(OID_SHA256)])]),
                            seq(&[oid(OID_P_SPECIFIED), der(0x04, &[])]),
                        ]),
                    ]),
                    der(0x04, &enc),
                ]),
            ),
            seq(&[
                oid(OID_DATA),
                seq(&[oid(cipher_oid), der(0x04, &iv), der(0x80, &block)]),
            ]),
        ]
        .concat();
        let freshness = match nonce {
            Some(n) => seq(&[oid(OID_NONCE), der(0x31, &der(0x04, n))]),
            None => seq(&[
                oid(OID_SIGNING_TIME),
                der(0x31, &der(0x17, b"260101000000Z")),
            ]),
        };
        let attrs = [
            seq(&[oid(OID_CONTENT_TYPE), der(0x31, &oid(OID_ENVELOPED_DATA))]),
            freshness,
            header_attr,
            seq(&[
                oid(OID_MESSAGE_DIGEST),
                der(0x31, &der(0x04, &Sha256::digest(&envelope))),
            ]),
        ]
        .concat();
        let signer = sig::RsaKeyPair::from_pkcs8(&self.key.serialize_der()).unwrap();
        let mut signature = vec![0u8; signer.public_modulus_len()];
        signer
            .sign(
                &sig::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                &der(0x31, &attrs),
                &mut signature,
            )
            .unwrap();
        seq(&[
            oid(OID_SIGNED_DATA),
            der(
                0xA0,
                &seq(&[
                    der(0x02, &[1]),
                    der(0x31, &seq(&[oid(OID_SHA256)])),
                    seq(&[oid(OID_ENVELOPED_DATA), der(0xA0, &der(0x04, &envelope))]),
                    der(
                        0x31,
                        &seq(&[
                            der(0x02, &[1]),
                            kdh_id,
                            seq(&[oid(OID_SHA256)]),
                            der(0xA0, &attrs),
                            seq(&[oid(OID_RSA), der(0x05, &[])]),
                            der(0x04, &signature),
                        ]),
                    ),
                ]),
            ),
        ])
    }
}

fn kcv(alg: KeyAlgorithm, key: &[u8]) -> String {
    paycrypto::software::key_check_value(alg, key)
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_blocks_built_as_the_aws_sample_builds_them() {
    let emu = start(EmulatorConfig::default()).await.unwrap();
    let (ca_key, ca) = rsa_ca("KDH CA");
    let ca_arn = import_root(&emu, &cert_field(&ca)).await;
    let (key, cert) = rsa_leaf("KDH", &ca, &ca_key);
    let kdh = Kdh { key, cert };
    let p = ok(
        &emu,
        "GetParametersForImport",
        json!({ "KeyMaterialType": "TR34_KEY_BLOCK", "WrappingKeyAlgorithm": "RSA_2048" }),
    )
    .await;
    let krd = field_der(p["WrappingKeyCertificate"].as_str().unwrap());
    let token = p["ImportToken"].as_str().unwrap().to_owned();
    let nonce = h("0102030405060708");
    let tdes = h("8A8349794C9EE9A4C2927098F249FED6");
    let aes = h("00112233445566778899AABBCCDDEEFF");
    let req = |block: &[u8], nonce: Option<&[u8]>| {
        let mut m = json!({
            "CertificateAuthorityPublicKeyIdentifier": ca_arn, "ImportToken": token,
            "KeyBlockFormat": "X9_TR34_2012", "SigningKeyCertificate": cert_field(&kdh.cert),
            "WrappedKeyBlock": hex::encode_upper(block),
        });
        if let Some(n) = nonce {
            m["RandomNonce"] = json!(hex::encode_upper(n));
        }
        json!({ "KeyMaterial": { "Tr34KeyBlock": m } })
    };
    // Two-pass TDES KEK (the sample's defaults: K0, T, B, E), ephemeral 3DES.
    let block = kdh.block(&krd, &tdes, "D9999K0TB00E0000", false, Some(&nonce));
    let k = ok(&emu, "ImportKey", req(&block, Some(&nonce))).await;
    assert_eq!(k["Key"]["KeyCheckValue"], kcv(KeyAlgorithm::Tdes2, &tdes));
    assert_eq!(
        k["Key"]["KeyAttributes"]["KeyUsage"],
        "TR31_K0_KEY_ENCRYPTION_KEY"
    );
    assert_eq!(k["Key"]["KeyAttributes"]["KeyAlgorithm"], "TDES_2KEY");
    assert_eq!(k["Key"]["KeyOrigin"], "EXTERNAL");
    // One-pass AES-128 data key, ephemeral AES-128.
    let block = kdh.block(&krd, &aes, "D9999D0AB00N0000", true, None);
    let k = ok(&emu, "ImportKey", req(&block, None)).await;
    assert_eq!(k["Key"]["KeyCheckValue"], kcv(KeyAlgorithm::Aes128, &aes));
    assert_eq!(k["Key"]["Exportable"], false);
    // Refusals: the nonce missing or wrong, a tampered block, a KDH the CA
    // did not certify.
    let block = kdh.block(&krd, &tdes, "D9999K0TB00E0000", false, Some(&nonce));
    let mut tampered = block.clone();
    let at = tampered.len() - 5;
    tampered[at] ^= 1;
    let (other_ca_key, other_ca) = rsa_ca("other CA");
    let (sk, sc) = rsa_leaf("stranger", &other_ca, &other_ca_key);
    let stranger = Kdh { key: sk, cert: sc };
    let mut forged = req(
        &stranger.block(&krd, &tdes, "D9999K0TB00E0000", false, Some(&nonce)),
        Some(&nonce),
    );
    forged["KeyMaterial"]["Tr34KeyBlock"]["SigningKeyCertificate"] =
        json!(cert_field(&stranger.cert));
    for (name, body) in [
        ("no nonce", req(&block, None)),
        ("wrong nonce", req(&block, Some(&h("0807060504030201")))),
        ("tampered", req(&tampered, Some(&nonce))),
        ("foreign KDH", forged),
    ] {
        let (st, v) = control(&emu, "ImportKey", body).await;
        assert_eq!(
            (st, v["__type"].as_str()),
            (400, Some("ValidationException")),
            "{name}: {v}"
        );
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exported_blocks_open_with_the_krd_key_and_import_elsewhere() {
    let emu = start(EmulatorConfig::default()).await.unwrap();
    let (ca_key, ca) = rsa_ca("KRD CA");
    let ca_arn = import_root(&emu, &cert_field(&ca)).await;
    let (krd_key, krd_cert) = rsa_leaf("KRD", &ca, &ca_key);
    let p = ok(
        &emu,
        "GetParametersForExport",
        json!({ "KeyMaterialType": "TR34_KEY_BLOCK", "SigningKeyAlgorithm": "RSA_2048" }),
    )
    .await;
    let kdh_cert = field_der(p["SigningKeyCertificate"].as_str().unwrap());
    let kek = ok(&emu, "CreateKey", json!({
        "KeyAttributes": { "KeyUsage": "TR31_K0_KEY_ENCRYPTION_KEY", "KeyClass": "SYMMETRIC_KEY",
            "KeyAlgorithm": "TDES_3KEY", "KeyModesOfUse": { "Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true } },
        "Exportable": true,
    }))
    .await;
    let nonce = "A1A2A3A4A5A6A7A8";
    let out = ok(&emu, "ExportKey", json!({
        "ExportKeyIdentifier": kek["Key"]["KeyArn"],
        "KeyMaterial": { "Tr34KeyBlock": {
            "CertificateAuthorityPublicKeyIdentifier": ca_arn, "WrappingKeyCertificate": cert_field(&krd_cert),
            "ExportToken": p["ExportToken"], "KeyBlockFormat": "X9_TR34_2012", "RandomNonce": nonce } },
    }))
    .await;
    assert_eq!(
        out["WrappedKey"]["WrappedKeyMaterialFormat"],
        "TR34_KEY_BLOCK"
    );
    let block = h(out["WrappedKey"]["KeyMaterial"].as_str().unwrap());
    // Take it apart as a KRD would.
    let (_, _, ci, _) = tlv(&block);
    let ci = kids(ci);
    assert_eq!(ci[0].2, h(OID_SIGNED_DATA));
    let sd = kids(&kids(&ci[1].2)[0].2);
    let encap = kids(&sd[2].2);
    assert_eq!(encap[0].2, h(OID_ENVELOPED_DATA));
    let envelope = kids(&encap[1].2)[0].2.clone();
    let si = kids(&kids(&sd[3].2)[0].2);
    let (kdh_id, kdh_spki) = id_and_spki(&kdh_cert);
    assert_eq!(si[1].1, kdh_id, "signed by the export token's key");
    let mut attrs = si[3].1.clone();
    attrs[0] = 0x31;
    let (_, _, spki_body, _) = tlv(&kdh_spki);
    let bits = &kids(spki_body)[1].2[1..];
    sig::UnparsedPublicKey::new(&sig::RSA_PKCS1_2048_8192_SHA256, bits)
        .verify(&attrs, &si[5].2)
        .expect("the KDH signature verifies");
    let signed: Vec<_> = kids(&si[3].2).into_iter().map(|a| kids(&a.2)).collect();
    let get = |o: &str| {
        signed
            .iter()
            .find(|a| a[0].2 == h(o))
            .map(|a| kids(&a[1].2)[0].2.clone())
    };
    assert_eq!(get(OID_NONCE), Some(h(nonce)));
    assert_eq!(
        get(OID_MESSAGE_DIGEST),
        Some(Sha256::digest(&envelope).to_vec())
    );
    let env = kids(&envelope);
    let ktri = kids(&kids(&env[1].2)[0].2);
    assert_eq!(ktri[1].1, id_and_spki(krd_cert.der()).0, "for the KRD");
    let private = aws_lc_rs::rsa::OaepPrivateDecryptingKey::new(
        aws_lc_rs::rsa::PrivateDecryptingKey::from_pkcs8(&krd_key.serialize_der()).unwrap(),
    )
    .unwrap();
    let mut buf = vec![0u8; private.min_output_size()];
    let ephemeral = private
        .decrypt(
            &aws_lc_rs::rsa::OAEP_SHA256_MGF1SHA256,
            &ktri[3].2,
            &mut buf,
            None,
        )
        .unwrap()
        .to_vec();
    let alg = kids(&kids(&env[2].2)[1].2);
    assert_eq!(
        alg[0].2,
        h(OID_DES_EDE3_CBC),
        "a TDES key goes under a 3DES ephemeral key"
    );
    let mut content = alg[2].2.clone();
    BlockCipher::tdes(&ephemeral)
        .unwrap()
        .decrypt_cbc(&alg[1].2, &mut content)
        .unwrap();
    let pad = *content.last().unwrap() as usize;
    content.truncate(content.len() - pad);
    let kb = kids(&kids(&content)[0].2);
    assert_eq!(kb[1].1, kdh_id);
    assert_eq!(
        kcv(KeyAlgorithm::Tdes3, &kb[2].2),
        kek["Key"]["KeyCheckValue"].as_str().unwrap()
    );
    let header = kids(&kids(&kb[3].2)[1].2)[0].2.clone();
    assert_eq!(&header[5..12], b"K0TB00E");

    // Into another emulator: its KRD certificate goes to the exporter, the
    // exporter's KDH certificate to the importer, each as a root.
    let other = start(EmulatorConfig::default()).await.unwrap();
    let ip = ok(
        &other,
        "GetParametersForImport",
        json!({ "KeyMaterialType": "TR34_KEY_BLOCK", "WrappingKeyAlgorithm": "RSA_2048" }),
    )
    .await;
    let krd_root = import_root(&emu, ip["WrappingKeyCertificate"].as_str().unwrap()).await;
    let kdh_root = import_root(&other, p["SigningKeyCertificate"].as_str().unwrap()).await;
    let out = ok(&emu, "ExportKey", json!({
        "ExportKeyIdentifier": kek["Key"]["KeyArn"],
        "KeyMaterial": { "Tr34KeyBlock": {
            "CertificateAuthorityPublicKeyIdentifier": krd_root, "WrappingKeyCertificate": ip["WrappingKeyCertificate"],
            "ExportToken": p["ExportToken"], "KeyBlockFormat": "X9_TR34_2012" } },
    }))
    .await;
    let k = ok(
        &other,
        "ImportKey",
        json!({ "KeyMaterial": { "Tr34KeyBlock": {
        "CertificateAuthorityPublicKeyIdentifier": kdh_root, "ImportToken": ip["ImportToken"],
        "KeyBlockFormat": "X9_TR34_2012", "SigningKeyCertificate": p["SigningKeyCertificate"],
        "WrappedKeyBlock": out["WrappedKey"]["KeyMaterial"] } } }),
    )
    .await;
    assert_eq!(k["Key"]["KeyCheckValue"], kek["Key"]["KeyCheckValue"]);
    // AES-256 is not carried by TR-34.
    let big = ok(&emu, "CreateKey", json!({
        "KeyAttributes": { "KeyUsage": "TR31_K0_KEY_ENCRYPTION_KEY", "KeyClass": "SYMMETRIC_KEY",
            "KeyAlgorithm": "AES_256", "KeyModesOfUse": { "Wrap": true, "Unwrap": true } },
        "Exportable": true,
    }))
    .await;
    let (st, v) = control(&emu, "ExportKey", json!({
        "ExportKeyIdentifier": big["Key"]["KeyArn"],
        "KeyMaterial": { "Tr34KeyBlock": {
            "CertificateAuthorityPublicKeyIdentifier": ca_arn, "WrappingKeyCertificate": cert_field(&krd_cert),
            "ExportToken": p["ExportToken"], "KeyBlockFormat": "X9_TR34_2012" } },
    }))
    .await;
    assert_eq!(
        (st, v["__type"].as_str()),
        (400, Some("ValidationException")),
        "{v}"
    );
    other.shutdown().await;
    emu.shutdown().await;
}
