//! The `paycrypto` binary itself: every subcommand with published vectors,
//! wrong input (which argument, non-zero exit, no secret echoed), secrets
//! hidden unless asked, and the conformance command with JUnit output.

use assert_cmd::Command;
use paycrypto::algo::{cipher::BlockCipher, pinblock};
use paycrypto::BackendUrl;
use predicates::prelude::*;
use predicates::str::contains;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const ZPK: &str = "13345779133457791334577913345779"; // jPOS test ZPK, KCV 6FB1C8
const AES_ZPK: &str = "AF8CB133A78F8DC2D1359F18527593FB"; // X9.24-3 supplement PIN key
const K0123: &str = "0123456789ABCDEFFEDCBA9876543210"; // KCV 08D7B4
const ARQC_DATA: &str =
    "000000010000000000001000084000000010800840980704001111111158003456A08003242000";

fn bin() -> Command {
    Command::cargo_bin("paycrypto").expect("binary built")
}

fn json(args: &[&str]) -> Value {
    let out = bin().arg("--json").args(args).output().expect("run");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

fn tmp(name: &str, contents: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let p = std::env::temp_dir().join(format!(
        "paycrypto-cli-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::write(&p, contents).expect("write temp file");
    p
}

// ---------------------------------------------------------------- kcv

#[test]
fn kcv_published_values() {
    // pyemv / thalessimulatorlibrary: 08D7B4; openemv/tr31 test8 AES-256: 0A00E3.
    bin()
        .args(["kcv", "--key-hex", K0123])
        .assert()
        .success()
        .stdout(contains("08D7B4"));
    let v = json(&[
        "kcv",
        "--key-hex",
        "BE19E6A07A760F10EF8E83A226B63AAD141F463FDDD4F47DB244B4023EC3CACC",
    ]);
    assert_eq!(v["kcv"], "0A00E3");
    assert_eq!(v["algorithm"], "AES_256");
}

#[test]
fn kcv_wrong_input_names_argument_and_hides_value() {
    bin()
        .args(["kcv", "--key-hex", "0123456789ABCDEZ"])
        .assert()
        .code(2)
        .stderr(contains("--key-hex").and(contains("0123456789ABCDEZ").not()));
    bin()
        .args(["kcv", "--key-hex", "0123456789ABCDEF0123"])
        .assert()
        .code(2)
        .stderr(contains("--key-hex").and(contains("10 bytes")));
    bin()
        .args(["kcv"])
        .assert()
        .code(2)
        .stderr(contains("--key-hex"));
}

// ---------------------------------------------------------------- PIN blocks

#[test]
fn pinblock_encode_and_decode_vectors_with_secrets_hidden() {
    // jPOS: PIN 1234, account 1234567890123, ISO 0 under the test ZPK.
    let enc = [
        "pinblock",
        "encode",
        "--pin",
        "1234",
        "--pan",
        "1234567890123",
        "--format",
        "0",
        "--key-hex",
        ZPK,
    ];
    bin()
        .args(enc)
        .assert()
        .success()
        .stdout(contains("3C0CA40863092C3A").and(contains("041226CBA9876FED").not()))
        .stdout(contains("hidden"));
    let v = json(&[&["--show-secrets"][..], &enc[..]].concat());
    assert_eq!(v["clear_pin_block"], "041226CBA9876FED");
    assert_eq!(v["key_kcv"], "6FB1C8");

    // X9.24-3 supplement: ISO 4 with the published fill.
    let v = json(&[
        "pinblock",
        "encode",
        "--pin",
        "1234",
        "--pan",
        "4111111111111111",
        "--format",
        "4",
        "--key-hex",
        AES_ZPK,
        "--fill",
        "2F69ADDE2E9E7ACE",
    ]);
    assert_eq!(v["pin_block"], "A912150391AB65A67E52883D81CE2D15");
    assert!(v["clear_pin_field"].is_null());

    let dec = [
        "pinblock",
        "decode",
        "--block",
        "3C0CA40863092C3A",
        "--pan",
        "1234567890123",
        "--format",
        "0",
        "--key-hex",
        ZPK,
    ];
    bin()
        .args(dec)
        .assert()
        .success()
        .stdout(contains("valid").and(contains("1234").not()));
    let v = json(&[&["--show-secrets"][..], &dec[..]].concat());
    assert_eq!(v["pin"], "1234");
    assert_eq!(v["pin_length"], 4);
}

#[test]
fn pinblock_wrong_input() {
    bin()
        .args(["pinblock", "encode", "--pin", "1234", "--format", "0"])
        .assert()
        .code(2)
        .stderr(contains("--pan").and(contains("required")));
    bin()
        .args([
            "pinblock",
            "encode",
            "--pin",
            "12a4",
            "--pan",
            "1234567890123",
            "--format",
            "0",
        ])
        .assert()
        .code(2)
        .stderr(contains("--pin").and(contains("12a4").not()));
    bin()
        .args(["pinblock", "encode", "--pin", "1234", "--format", "7"])
        .assert()
        .code(2)
        .stderr(contains("--format"));
    // Wrong PAN: the fill no longer decodes; the PAN is not echoed.
    bin()
        .args([
            "pinblock",
            "decode",
            "--block",
            "3C0CA40863092C3A",
            "--pan",
            "1234567890993",
            "--format",
            "0",
            "--key-hex",
            ZPK,
        ])
        .assert()
        .code(2)
        .stderr(contains("--block").and(contains("1234567890993").not()));
    bin()
        .args([
            "pinblock",
            "encode",
            "--pin",
            "1234",
            "--pan",
            "4111111111111111",
            "--format",
            "0",
            "--key-hex",
            &format!("{ZPK}{ZPK}"),
        ])
        .assert()
        .code(2)
        .stderr(contains("--key-hex").and(contains("TDES key")));
}

// ---------------------------------------------------------------- PIN translate

#[test]
fn pin_translate_zone_and_dukpt() {
    // Same key, same format: the published block comes back unchanged.
    let v = json(&[
        "pin",
        "translate",
        "--in-key-hex",
        ZPK,
        "--in-format",
        "0",
        "--out-key-hex",
        ZPK,
        "--out-format",
        "0",
        "--pan",
        "1234567890123",
        "--block",
        "3C0CA40863092C3A",
    ]);
    assert_eq!(v["pin_block"], "3C0CA40863092C3A");
    assert_eq!(v["key_kcv"], "6FB1C8");

    // X9.24-1 A.4: KSN …E00001, PIN block 1B9C1845EB993A7A → ISO 0 under the ZPK.
    let zc = BlockCipher::tdes(&hex::decode(ZPK).unwrap()).unwrap();
    let want = pinblock::encipher_pin_block(
        &zc,
        paycrypto::PinBlockFormat::Iso0,
        &hex::decode("041274EDCBA9876F").unwrap(),
        None,
    )
    .unwrap();
    let v = json(&[
        "pin",
        "translate",
        "--in-bdk-hex",
        K0123,
        "--ksn",
        "FFFF9876543210E00001",
        "--in-format",
        "0",
        "--out-key-hex",
        ZPK,
        "--out-format",
        "0",
        "--pan",
        "4012345678909",
        "--block",
        "1B9C1845EB993A7A",
    ]);
    assert_eq!(v["pin_block"], hex::encode_upper(want.as_bytes()));

    // To AES ISO 4: decrypts back to the PIN under the AES key.
    let v = json(&[
        "pin",
        "translate",
        "--in-key-hex",
        ZPK,
        "--in-format",
        "0",
        "--out-key-hex",
        AES_ZPK,
        "--out-format",
        "4",
        "--pan",
        "1234567890123",
        "--block",
        "3C0CA40863092C3A",
    ]);
    let out = hex::decode(v["pin_block"].as_str().unwrap()).unwrap();
    let ac = BlockCipher::aes(&hex::decode(AES_ZPK).unwrap()).unwrap();
    let pin = pinblock::decrypt_pin_block(
        &ac,
        paycrypto::PinBlockFormat::Iso4,
        &out,
        Some("1234567890123"),
    )
    .unwrap();
    assert_eq!(pin.as_str(), "1234");
}

#[test]
fn pin_translate_refusals_and_wrong_input() {
    // PCI: ISO 0 to ISO 1 is refused by the backend (exit 3).
    bin()
        .args([
            "pin",
            "translate",
            "--in-key-hex",
            ZPK,
            "--in-format",
            "0",
            "--out-key-hex",
            ZPK,
            "--out-format",
            "1",
            "--pan",
            "1234567890123",
            "--block",
            "3C0CA40863092C3A",
        ])
        .assert()
        .code(3)
        .stderr(contains("format translation"));
    // No incoming key.
    bin()
        .args([
            "pin",
            "translate",
            "--in-format",
            "0",
            "--out-key-hex",
            ZPK,
            "--out-format",
            "0",
            "--pan",
            "1234567890123",
            "--block",
            "3C0CA40863092C3A",
        ])
        .assert()
        .code(2);
    // Nothing listens on a port just released: the connection error says so.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("payshield://{}", l.local_addr().unwrap())
    };
    bin()
        .args([
            "pin",
            "translate",
            "--backend",
            &closed,
            "--in-key",
            "zpk",
            "--in-format",
            "0",
            "--out-key",
            "zpk",
            "--out-format",
            "0",
            "--pan",
            "1234567890123",
            "--block",
            "3C0CA40863092C3A",
        ])
        .assert()
        .code(3)
        .stderr(contains("cannot connect to the payShield"));
    bin()
        .args([
            "pin",
            "translate",
            "--backend",
            "payshield://host",
            "--in-key",
            "zpk",
            "--in-format",
            "0",
            "--out-key",
            "zpk",
            "--out-format",
            "0",
            "--pan",
            "1234567890123",
            "--block",
            "3C0CA40863092C3A",
        ])
        .assert()
        .code(2)
        .stderr(contains("--backend").and(contains("port")));
    bin()
        .args([
            "pin",
            "translate",
            "--in-key-hex",
            ZPK,
            "--in-format",
            "0",
            "--out-key-hex",
            ZPK,
            "--out-format",
            "0",
            "--pan",
            "12345",
            "--block",
            "3C0CA40863092C3A",
        ])
        .assert()
        .code(2)
        .stderr(contains("--pan").and(contains("12 to 19")));
}

// ---------------------------------------------------------------- DUKPT

// psec tests/test_pin.py: PVK 0123…3210, PAN 1122334455667788, PIN 4524 →
// PVV 8523 (PVKI 1); IBM 3624 natural PIN 4524 with the table 1234567890123456.
// The PIN block is PIN 4524 in ISO 0 under the jPOS ZPK.
const PSEC_BLOCK: &str = "6083600C675C1A06";

#[test]
fn pin_generate_and_verify_published_values() {
    let v = json(&[
        "pin",
        "generate",
        "--method",
        "visa-pvv",
        "--pvk-hex",
        K0123,
        "--pek-hex",
        ZPK,
        "--pan",
        "1122334455667788",
        "--pvki",
        "1",
        "--block",
        PSEC_BLOCK,
    ]);
    assert_eq!(v["pvv"], "8523", "{v}");
    assert_eq!(v["pvk_kcv"], "08D7B4");
    assert_eq!(v["pek_kcv"], "6FB1C8");
    // The clear PIN is a secret: hidden unless asked.
    assert!(v["pin"].is_null(), "{v}");
    let v = json(&[
        "--show-secrets",
        "pin",
        "generate",
        "--method",
        "ibm-natural",
        "--pvk-hex",
        K0123,
        "--pek-hex",
        ZPK,
        "--pan",
        "1122334455667788",
        "--validation-data",
        "1122334455667788",
        "--decimalization-table",
        "1234567890123456",
        "--format",
        "3",
    ]);
    assert_eq!(v["pin"], "4524", "{v}");
    assert_eq!(v["pin_offset"], "0000", "{v}");
    assert_eq!(v["format"], 3);
    bin()
        .args([
            "pin",
            "generate",
            "--method",
            "ibm-random",
            "--pvk-hex",
            K0123,
            "--pek-hex",
            ZPK,
            "--pan",
            "1122334455667788",
            "--validation-data",
            "1122334455667788",
        ])
        .assert()
        .success()
        .stdout(contains("pin_offset").and(contains("1 secret value hidden")));
    // Offset 7710 gives PIN 1234; its offset comes back.
    let v = json(&[
        "--show-secrets",
        "pin",
        "generate",
        "--method",
        "ibm-from-offset",
        "--pvk-hex",
        K0123,
        "--pek-hex",
        ZPK,
        "--pan",
        "1122334455667788",
        "--validation-data",
        "1122334455667788",
        "--decimalization-table",
        "1234567890123456",
        "--offset",
        "7710",
    ]);
    assert_eq!(
        (v["pin"].as_str(), v["pin_offset"].as_str()),
        (Some("1234"), Some("7710"))
    );

    // Verify: exit 0 when verified, 1 when not.
    let verify = |extra: &[&str]| {
        let mut c = bin();
        c.args([
            "pin",
            "verify",
            "--pvk-hex",
            K0123,
            "--pek-hex",
            ZPK,
            "--pan",
            "1122334455667788",
            "--block",
            PSEC_BLOCK,
        ])
        .args(extra);
        c.assert()
    };
    verify(&["--pvki", "1", "--pvv", "8523"])
        .success()
        .stdout(contains("verified").and(contains("visa-pvv")));
    verify(&["--pvki", "1", "--pvv", "8524"])
        .code(1)
        .stdout(contains("failed"));
    verify(&[
        "--validation-data",
        "1122334455667788",
        "--decimalization-table",
        "1234567890123456",
        "--offset",
        "0000",
        "--pin-length",
        "4",
    ])
    .success()
    .stdout(contains("ibm3624"));
    verify(&[
        "--validation-data",
        "1122334455667788",
        "--decimalization-table",
        "1234567890123456",
        "--offset",
        "0000",
        "--pin-length",
        "5",
    ])
    .code(1);
    // The published X9.24-1 DUKPT block (PIN 1234) against its IBM offset.
    let v = json(&[
        "pin",
        "verify",
        "--pvk-hex",
        K0123,
        "--bdk-hex",
        K0123,
        "--ksn",
        "FFFF9876543210E00001",
        "--pan",
        "4012345678909",
        "--block",
        "1B9C1845EB993A7A",
        "--validation-data",
        "4012345678",
        "--offset",
        "6381",
    ]);
    assert_eq!(v["verification"], "verified", "{v}");
}

#[test]
fn pin_generate_and_verify_wrong_input() {
    let base = [
        "pin",
        "verify",
        "--pvk-hex",
        K0123,
        "--pek-hex",
        ZPK,
        "--pan",
        "1122334455667788",
        "--block",
        PSEC_BLOCK,
    ];
    for (extra, arg) in [
        (&["--pvki", "7", "--pvv", "8523"][..], "--pvki"),
        (&["--pvki", "1", "--pvv", "85231"][..], "--pvv"),
        (
            &["--pvki", "1", "--pvv", "8523", "--format", "2"][..],
            "--format",
        ),
        (&["--offset", "0000"][..], "--validation-data"),
        (
            &[
                "--offset",
                "0000",
                "--validation-data",
                "1122",
                "--pad",
                "G",
            ][..],
            "--pad",
        ),
        (
            &[
                "--offset",
                "0000",
                "--validation-data",
                "1122",
                "--decimalization-table",
                "123",
            ][..],
            "--decimalization-table",
        ),
        (
            &["--offset", "000", "--validation-data", "1122"][..],
            "--offset",
        ),
    ] {
        bin()
            .args(base)
            .args(extra)
            .assert()
            .code(2)
            .stderr(contains(arg).and(contains("8523").not()));
    }
    // Both PIN data kinds, or neither: a usage error.
    bin()
        .args(base)
        .args(["--pvki", "1", "--pvv", "8523", "--offset", "0000"])
        .assert()
        .code(2);
    bin().args(base).assert().code(2);
    // A PIN length shorter than the offset: refused by the backend (exit 3).
    bin()
        .args(base)
        .args([
            "--offset",
            "000000",
            "--validation-data",
            "1122",
            "--pin-length",
            "4",
        ])
        .assert()
        .code(3)
        .stderr(contains("pin length"));
    // The Visa method without --pvki; --block missing for visa-pvv.
    bin()
        .args([
            "pin",
            "generate",
            "--method",
            "visa-pin",
            "--pvk-hex",
            K0123,
            "--pek-hex",
            ZPK,
            "--pan",
            "1122334455667788",
        ])
        .assert()
        .code(2)
        .stderr(contains("--pvki"));
    bin()
        .args([
            "pin",
            "generate",
            "--method",
            "visa-pvv",
            "--pvki",
            "1",
            "--pvk-hex",
            K0123,
            "--pek-hex",
            ZPK,
            "--pan",
            "1122334455667788",
        ])
        .assert()
        .code(2)
        .stderr(contains("--block"));
}

#[test]
fn dukpt_derive_tdes_and_aes() {
    // X9.24-1:2009 A.4: IPEK 6AC292FAA1315B4D858AB3A3D7D5933A.
    let v = json(&[
        "dukpt",
        "derive",
        "--bdk-hex",
        K0123,
        "--ksn",
        "FFFF9876543210E00001",
    ]);
    let ipek_kcv = paycrypto::algo::cipher::kcv_tdes(
        &hex::decode("6AC292FAA1315B4D858AB3A3D7D5933A").unwrap(),
    )
    .unwrap();
    assert_eq!(v["ipek_kcv"], hex::encode_upper(ipek_kcv));
    assert!(v["ipek"].is_null());
    let v = json(&[
        "--show-secrets",
        "dukpt",
        "derive",
        "--bdk-hex",
        K0123,
        "--ksn",
        "FFFF9876543210E00001",
    ]);
    assert_eq!(v["ipek"], "6AC292FAA1315B4D858AB3A3D7D5933A");
    assert_eq!(v["pin_key"], "042666B49184CF5C68DE9628D0397B36");
    assert_eq!(v["data_request_key"], "448D3F076D8304036A55A3D7E0055A78");
    // Initial KSN: the IPEK only.
    let v = json(&[
        "dukpt",
        "derive",
        "--bdk-hex",
        K0123,
        "--ksn",
        "FFFF9876543210E00000",
    ]);
    assert!(v.get("pin_key_kcv").is_none());

    // X9.24-3:2017 supplement, AES-128 BDK.
    let v = json(&[
        "--show-secrets",
        "dukpt",
        "derive",
        "--bdk-hex",
        "FEDCBA9876543210F1F1F1F1F1F1F1F1",
        "--ksn",
        "123456789012345600000001",
    ]);
    assert_eq!(v["initial_key"], "1273671EA26AC29AFA4D1084127652A1");
    assert_eq!(v["pin_key"], "AF8CB133A78F8DC2D1359F18527593FB");
    assert_eq!(v["data_encrypt_key"], "A35C412EFD41FDB98B69797C02DCD08F");
}

#[test]
fn dukpt_wrong_input() {
    bin()
        .args(["dukpt", "derive", "--bdk-hex", K0123, "--ksn", "FFFF98"])
        .assert()
        .code(2)
        .stderr(contains("--ksn"));
    bin()
        .args([
            "dukpt",
            "derive",
            "--bdk-hex",
            "0123456789ABCDEF",
            "--ksn",
            "FFFF9876543210E00001",
        ])
        .assert()
        .code(2)
        .stderr(contains("--bdk-hex").and(contains("0123456789ABCDEF").not()));
    bin()
        .args([
            "dukpt",
            "derive",
            "--bdk-hex",
            "FEDCBA9876543210F1F1F1F1F1F1F1F1",
            "--ksn",
            "123456789012345600000001",
            "--key-type",
            "aes256",
        ])
        .assert()
        .code(2)
        .stderr(contains("--key-type"));
}

// ---------------------------------------------------------------- CVV

#[test]
fn cvv_generate_and_verify() {
    let base = [
        "--key-hex",
        K0123,
        "--pan",
        "4123456789012",
        "--expiry",
        "8701",
        "--service-code",
        "101",
    ];
    let v = json(&[&["cvv", "generate"][..], &base[..]].concat());
    assert_eq!(v["value"], "370");
    bin()
        .args(["cvv", "verify"])
        .args(base)
        .args(["--value", "370"])
        .assert()
        .success()
        .stdout(contains("verified"));
    bin()
        .args(["cvv", "verify"])
        .args(base)
        .args(["--value", "371"])
        .assert()
        .code(1)
        .stdout(contains("failed"));
    bin()
        .args(["cvv", "verify"])
        .args(base)
        .args(["--value", "12a"])
        .assert()
        .code(2)
        .stderr(contains("--value"));
    bin()
        .args([
            "cvv",
            "generate",
            "--key-hex",
            K0123,
            "--pan",
            "4123456789012",
            "--expiry",
            "8701",
            "--kind",
            "cvv",
        ])
        .assert()
        .code(2)
        .stderr(contains("--service-code"));
    bin()
        .args([
            "cvv",
            "generate",
            "--key-hex",
            K0123,
            "--pan",
            "4123456789012",
            "--expiry",
            "87011",
        ])
        .assert()
        .code(2)
        .stderr(contains("--expiry"));
}

/// The dynamic kinds with the jPOS test IMK (JCESecurityModuleTest@019e9fb):
/// Mastercard CVC3 45423 (464 as its rightmost 3 digits), Visa dCVV 422.
#[test]
fn cvv_dynamic_kinds_published_values() {
    let cvc3 = [
        "--kind",
        "dynamic-cvc3",
        "--key-hex",
        ZPK,
        "--pan",
        "1234567890123456",
        "--psn",
        "00",
        "--atc",
        "2710",
        "--un",
        "00002710",
        "--track-data",
        "1234567890123456D12012061000110000000FFFFFFFFFFF",
    ];
    let v = json(&[&["cvv", "generate"][..], &cvc3[..], &["--length", "5"][..]].concat());
    assert_eq!(v["value"], "45423");
    assert_eq!(v["kind"], "dynamic-cvc3");
    let mut short = cvc3.to_vec();
    short[13] = "1234567890123456D12012061000110000000F";
    let v = json(&[&["cvv", "generate"][..], &short[..]].concat());
    assert_eq!(v["value"], "464");
    bin()
        .args(["cvv", "verify"])
        .args(cvc3)
        .args(["--value", "45423"])
        .assert()
        .success()
        .stdout(contains("verified"));
    let dcvv = [
        "--kind",
        "dynamic-cvv",
        "--key-hex",
        ZPK,
        "--pan",
        "1234567890123456",
        "--expiry",
        "1310",
        "--service-code",
        "226",
        "--psn",
        "00",
        "--atc",
        "3210",
    ];
    let v = json(&[&["cvv", "generate"][..], &dcvv[..]].concat());
    assert_eq!(v["value"], "422");
    bin()
        .args(["cvv", "verify"])
        .args(dcvv)
        .args(["--value", "423"])
        .assert()
        .code(1)
        .stdout(contains("failed"));
    // A flag the kind does not take, a missing one, a bad length.
    bin()
        .args(["cvv", "generate"])
        .args(dcvv)
        .args(["--un", "00002710"])
        .assert()
        .code(2)
        .stderr(contains("--un").and(contains("does not apply")));
    bin()
        .args(["cvv", "generate"])
        .args(&dcvv[..12])
        .assert()
        .code(2)
        .stderr(contains("--atc").and(contains("required")));
    bin()
        .args(["cvv", "generate"])
        .args(dcvv)
        .args(["--length", "6"])
        .assert()
        .code(2)
        .stderr(contains("--length"));
    bin()
        .args(["cvv", "verify"])
        .args(dcvv)
        .args(["--value", "422", "--length", "3"])
        .assert()
        .code(2)
        .stderr(contains("--length"));
    // No public algorithm: the software backend answers unsupported.
    bin()
        .args([
            "cvv",
            "generate",
            "--kind",
            "amex-csc1",
            "--key-hex",
            K0123,
            "--pan",
            "371234567890123",
            "--expiry",
            "2512",
        ])
        .assert()
        .code(3)
        .stderr(contains("unsupported"));
}

#[test]
fn keys_file_names_keys_and_errors_name_fields() {
    let keys = tmp(
        "keys.json",
        &format!(
            r#"{{"keys": {{
                "cvk": {{"id": "issuer/cvk", "usage": "C0", "clear": "{K0123}"}},
                "zpk": {{"usage": "P0", "clear": "{ZPK}"}}
            }}}}"#
        ),
    );
    let k = keys.to_str().unwrap();
    let v = json(&[
        "cvv",
        "generate",
        "--keys",
        k,
        "--key",
        "cvk",
        "--pan",
        "4123456789012",
        "--expiry",
        "8701",
        "--service-code",
        "101",
    ]);
    assert_eq!(v["value"], "370");
    bin()
        .args([
            "cvv",
            "generate",
            "--keys",
            k,
            "--key",
            "nope",
            "--pan",
            "4123456789012",
            "--expiry",
            "8701",
        ])
        .assert()
        .code(2)
        .stderr(contains("--key").and(contains("nope")));
    // A PIN key used for CVVs: the backend refuses on key usage (exit 3).
    bin()
        .args([
            "cvv",
            "generate",
            "--keys",
            k,
            "--key",
            "zpk",
            "--pan",
            "4123456789012",
            "--expiry",
            "8701",
        ])
        .assert()
        .code(3)
        .stderr(contains("key_usage"));
    let bad = tmp(
        "bad.json",
        r#"{"keys": {"cvk": {"usage": "C0", "clear": "0123", "colour": "red"}}}"#,
    );
    bin()
        .args([
            "cvv",
            "generate",
            "--keys",
            bad.to_str().unwrap(),
            "--key",
            "cvk",
            "--pan",
            "4123456789012",
            "--expiry",
            "8701",
        ])
        .assert()
        .code(2)
        .stderr(contains("--keys").and(contains("colour")));
    let _ = std::fs::remove_file(keys);
    let _ = std::fs::remove_file(bad);
}

// ---------------------------------------------------------------- ARQC

#[test]
fn arqc_generate_and_verify_with_arpc() {
    // jPOS testVerifyARQCImpl_VSDC_P00 / testGenerateARPCImpl_VSDC_M1.
    let fields = [
        "--pan",
        "1234567890123456",
        "--session",
        "visa",
        "--padding",
        "1",
        "--data",
        ARQC_DATA,
    ];
    let v = json(&[&["arqc", "generate", "--imk-hex", ZPK][..], &fields[..]].concat());
    assert_eq!(v["arqc"], "26C8A1042D1CAF3E");
    let v = json(
        &[
            &[
                "arqc",
                "verify",
                "--key-hex",
                ZPK,
                "--arqc",
                "26C8A1042D1CAF3E",
                "--arc",
                "3030",
            ][..],
            &fields[..],
        ]
        .concat(),
    );
    assert_eq!(v["verification"], "verified");
    assert_eq!(v["arpc"], "98DE7C7B3D80A831");
    // Mastercard session key (jPOS testVerifyARQCImpl_MCHIP_P00).
    let v = json(&[
        "arqc",
        "generate",
        "--imk-hex",
        ZPK,
        "--pan",
        "1234567890123456",
        "--session",
        "mastercard",
        "--atc",
        "3456",
        "--un",
        "11111111",
        "--padding",
        "1",
        "--data",
        ARQC_DATA,
    ]);
    assert_eq!(v["arqc"], "9FFD1D52AE0EC0F3");
    bin()
        .args([
            "arqc",
            "verify",
            "--key-hex",
            ZPK,
            "--arqc",
            "26C8A1042D1CAF3F",
        ])
        .args(fields)
        .assert()
        .code(1)
        .stdout(contains("failed"));
}

/// ARQC generation is a backend operation: a clear test IMK (--imk-hex or
/// --key-hex) on the software backend gives jPOS's published cryptograms
/// (testGenerateApplicationCryptogram_CSKD_P80, JCESecurityModuleTest@019e9fb).
#[test]
fn arqc_generate_on_the_backend() {
    let fields = [
        "--pan",
        "1234567890123456",
        "--session",
        "emv",
        "--atc",
        "3456",
        "--padding",
        "2",
        "--data",
        ARQC_DATA,
    ];
    for key in ["--imk-hex", "--key-hex"] {
        let v = json(&[&["arqc", "generate", key, ZPK][..], &fields[..]].concat());
        assert_eq!(v["arqc"], "55BE45DD2C9E0CBF", "{key}");
        assert_eq!(v.get("imk_kcv").is_some(), key == "--imk-hex", "{key}");
    }
    // A named key must exist on the backend; one key only.
    bin()
        .args(["arqc", "generate", "--key", "imk/ac"])
        .args(fields)
        .assert()
        .code(3)
        .stderr(contains("key_not_found").and(contains("generate_arqc")));
    bin()
        .args(["arqc", "generate", "--key-hex", ZPK, "--imk-hex", ZPK])
        .args(fields)
        .assert()
        .code(2);
}

#[test]
fn arqc_wrong_input() {
    bin()
        .args([
            "arqc",
            "generate",
            "--imk-hex",
            ZPK,
            "--pan",
            "1234567890123456",
            "--session",
            "mastercard",
            "--atc",
            "3456",
            "--data",
            "00",
        ])
        .assert()
        .code(2)
        .stderr(contains("--un"));
    bin()
        .args([
            "arqc",
            "verify",
            "--key-hex",
            ZPK,
            "--pan",
            "1234567890123456",
            "--session",
            "visa",
            "--data",
            ARQC_DATA,
            "--arqc",
            "26C8",
        ])
        .assert()
        .code(2)
        .stderr(contains("--arqc").and(contains("8 bytes")));
    // Unpadded data of 7 bytes is refused by the backend.
    bin()
        .args([
            "arqc",
            "verify",
            "--key-hex",
            ZPK,
            "--pan",
            "1234567890123456",
            "--session",
            "visa",
            "--data",
            "00112233445566",
            "--arqc",
            "26C8A1042D1CAF3E",
        ])
        .assert()
        .code(3)
        .stderr(contains("invalid"));
}

// ---------------------------------------------------------------- MAC

#[test]
fn mac_generate_and_verify() {
    // ISO 9797-1:2011 B.4 (openemv/crypto): A1C72E74.
    let base = [
        "--key-hex",
        K0123,
        "--algorithm",
        "alg3",
        "--padding",
        "1",
        "--text",
        "Now is the time for all ",
    ];
    let v = json(&[&["mac", "generate", "--length", "4"][..], &base[..]].concat());
    assert_eq!(v["mac"], "A1C72E74");
    bin()
        .args(["mac", "verify"])
        .args(base)
        .args(["--mac", "A1C72E74"])
        .assert()
        .success();
    bin()
        .args(["mac", "verify"])
        .args(base)
        .args(["--mac", "A1C72E75"])
        .assert()
        .code(1);
    // NIST SP 800-38B / RFC 4493 AES-CMAC of the empty message.
    let v = json(&[
        "mac",
        "generate",
        "--key-hex",
        "2B7E151628AED2A6ABF7158809CF4F3C",
        "--aes",
        "--algorithm",
        "cmac",
        "--data",
        "",
    ]);
    assert_eq!(v["mac"], "BB1D6929E95937287FA37D129B756746");
    bin()
        .args(["mac", "generate", "--length", "2"])
        .args(base)
        .assert()
        .code(2)
        .stderr(contains("--length"));
    bin()
        .args([
            "mac",
            "generate",
            "--key-hex",
            K0123,
            "--algorithm",
            "sha1",
            "--data",
            "00",
        ])
        .assert()
        .code(2)
        .stderr(contains("--algorithm"));
    bin()
        .args([
            "mac",
            "generate",
            "--key-hex",
            K0123,
            "--algorithm",
            "hmac",
            "--data",
            "00",
        ])
        .assert()
        .code(2)
        .stderr(contains("--key-hex").and(contains("32 bytes")));
}

// ---------------------------------------------------------------- TR-31 and components

#[test]
fn tr31_unwrap_vector_and_wrap_round_trip() {
    // openemv/tr31 test1 (payShield 10k example).
    let block = "A0072K0TN00N0000F40D5672C6D0EC86F860BA88D44D00F0CA9A8CE8CD2F640287A9A9EB";
    let kbpk = "EFE0853B256B583D868F251CE99EA1D9";
    let v = json(&["tr31", "unwrap", "--kbpk-hex", kbpk, "--block", block]);
    assert_eq!(v["key_usage"], "K0");
    assert_eq!(v["key_kcv"], "5C9405");
    assert!(v["key"].is_null());
    let v = json(&[
        "--show-secrets",
        "tr31",
        "unwrap",
        "--kbpk-hex",
        kbpk,
        "--block",
        block,
    ]);
    assert_eq!(v["key"], "5DB50B454F8389ADCE573BE50861F2BF");

    let w = json(&[
        "tr31",
        "wrap",
        "--kbpk-hex",
        kbpk,
        "--key-hex",
        ZPK,
        "--usage",
        "P0",
        "--version",
        "D",
        "--aes",
    ]);
    // A 16-byte KBPK with version D is AES; ZPK bytes wrapped as an AES key.
    let b = w["key_block"].as_str().unwrap().to_string();
    assert!(b.starts_with('D'), "{b}");
    let v = json(&[
        "--show-secrets",
        "tr31",
        "unwrap",
        "--kbpk-hex",
        kbpk,
        "--block",
        &b,
    ]);
    assert_eq!(v["key"], ZPK);
    assert_eq!(v["key_usage"], "P0");
    assert_eq!(v["key_kcv"], w["key_kcv"]);

    let mut tampered = b.clone();
    tampered.pop();
    tampered.push(if b.ends_with('0') { '1' } else { '0' });
    bin()
        .args(["tr31", "unwrap", "--kbpk-hex", kbpk, "--block", &tampered])
        .assert()
        .code(2)
        .stderr(contains("--block").and(contains("mac")));
    bin()
        .args([
            "tr31",
            "wrap",
            "--kbpk-hex",
            kbpk,
            "--key-hex",
            ZPK,
            "--usage",
            "Q9",
        ])
        .assert()
        .code(2)
        .stderr(contains("--usage"));
}

#[test]
fn components_combine() {
    let (c1, c2) = (K0123, "5B5B5B5B5B5B5B5B5B5B5B5B5B5B5B5B");
    let want = paycrypto::keyload::combine_components(
        paycrypto::KeyAlgorithm::Tdes2,
        &[&hex::decode(c1).unwrap(), &hex::decode(c2).unwrap()],
    )
    .unwrap();
    let v = json(&[
        "components",
        "combine",
        "--component",
        c1,
        "--component",
        c2,
    ]);
    assert_eq!(v["component_1_kcv"], "08D7B4");
    assert_eq!(
        v["key_kcv"],
        hex::encode_upper(paycrypto::algo::cipher::kcv_tdes(&want).unwrap())
    );
    assert!(v["key"].is_null());
    let v = json(&[
        "--show-secrets",
        "components",
        "combine",
        "--component",
        c1,
        "--component",
        c2,
    ]);
    assert_eq!(v["key"], hex::encode_upper(&*want));
    bin()
        .args(["components", "combine", "--component", c1])
        .assert()
        .code(2)
        .stderr(contains("--component").and(contains("2 to 9")));
    bin()
        .args([
            "components",
            "combine",
            "--component",
            c1,
            "--component",
            "5B5B",
        ])
        .assert()
        .code(2)
        .stderr(contains("component 2"));
}

// ---------------------------------------------------------------- serve, conformance, help

/// One host command (after the header) to the payShield protocol server
/// at `addr`, and its response (after the header).
fn exchange(addr: &str, header: &[u8], command: &[u8]) -> Vec<u8> {
    let mut sock = TcpStream::connect(addr).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let len = (header.len() + command.len()) as u16;
    let mut frame = len.to_be_bytes().to_vec();
    frame.extend_from_slice(header);
    frame.extend_from_slice(command);
    sock.write_all(&frame).expect("send");
    let mut n = [0u8; 2];
    sock.read_exact(&mut n).expect("response length");
    let mut payload = vec![0u8; u16::from_be_bytes(n) as usize];
    sock.read_exact(&mut payload).expect("response");
    assert_eq!(&payload[..header.len()], header, "header echoed");
    payload[header.len()..].to_vec()
}

/// `paycrypto serve payshield` running as a child process: its one
/// `listening on` line read, killed (SIGKILL) when dropped.
struct Simulator {
    child: std::process::Child,
    stdout: BufReader<std::process::ChildStdout>,
    addr: String,
}

impl Simulator {
    fn spawn(extra: &[&str]) -> Self {
        Self::spawn_kind("payshield", "tcp", extra)
    }

    /// `paycrypto serve aws`: the AWS Payment Cryptography emulator.
    fn spawn_aws(extra: &[&str]) -> Self {
        Self::spawn_kind("aws", "http", extra)
    }

    fn spawn_kind(kind: &str, scheme: &str, extra: &[&str]) -> Self {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("paycrypto"))
            .args(["serve", kind, "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the simulator");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read the first line");
        let addr = line
            .strip_prefix(&format!("listening on {scheme}://"))
            .and_then(|l| l.strip_suffix('\n'))
            .unwrap_or_else(|| {
                let _ = child.kill();
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!("unexpected first line {line:?}; stderr: {err}")
            })
            .to_string();
        let port: u16 = addr
            .strip_prefix("127.0.0.1:")
            .and_then(|p| p.parse().ok())
            .expect("an address on 127.0.0.1");
        assert_ne!(port, 0, "port 0 must be reported as the real port");
        Self {
            child,
            stdout,
            addr,
        }
    }

    fn url(&self) -> String {
        format!("payshield://{}", self.addr)
    }

    /// The emulator's endpoint URL.
    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// One host command (after the header) and its response (after the header).
    fn exchange(&self, header: &[u8], command: &[u8]) -> Vec<u8> {
        exchange(&self.addr, header, command)
    }

    /// SIGTERM, then the exit status and whatever else it printed.
    #[cfg(unix)]
    fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        let ok = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(ok.success());
        let status = self.child.wait().expect("wait");
        let mut rest = String::new();
        let _ = self.stdout.read_to_string(&mut rest);
        (status, rest)
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An LMK file (20 pairs `NN-NN HEX32`) that is not the test LMK.
fn lmk_file_text(seed: u8) -> String {
    let mut text = String::from("# a lab LMK (not the public test LMK)\n");
    for i in 0..20u8 {
        let pair: String = (0..16u8)
            .map(|j| {
                format!(
                    "{:02X}",
                    seed.wrapping_add(i.wrapping_mul(16)).wrapping_add(j)
                )
            })
            .collect();
        text.push_str(&format!("{:02}-{:02} {pair}\n", 2 * i, 2 * i + 1));
    }
    text
}

/// The public payShield test LMK's check value (NC).
const TEST_LMK_KCV: &str = "7D22274C5745C5A1";

#[test]
fn serve_payshield_answers_host_commands_and_stops_cleanly() {
    let sim = Simulator::spawn(&[]);
    // B2 echo and NC diagnostics, default 4-character header.
    assert_eq!(sim.exchange(b"0001", b"B20004PING"), b"B300PING");
    let nd = sim.exchange(b"0002", b"NC");
    assert_eq!(&nd[..4], b"ND00");
    assert_eq!(String::from_utf8_lossy(&nd[4..20]), TEST_LMK_KCV);
    #[cfg(unix)]
    {
        let (status, rest) = sim.terminate();
        assert!(status.success(), "{status:?}");
        assert_eq!(rest, "", "nothing after the one line");
    }
}

#[test]
fn serve_payshield_options_header_lmk_fault() {
    // Another LMK (from a file) and a 6-character header.
    let lmk_file = tmp("lmk.txt", &lmk_file_text(0x10));
    let sim = Simulator::spawn(&["--header-len", "6", "--lmk", lmk_file.to_str().unwrap()]);
    let nd = sim.exchange(b"HEAD01", b"NC");
    assert_eq!(&nd[..4], b"ND00");
    assert_ne!(String::from_utf8_lossy(&nd[4..20]), TEST_LMK_KCV);
    drop(sim);
    let _ = std::fs::remove_file(lmk_file);

    // drop=1: the connection closes instead of answering.
    let sim = Simulator::spawn(&["--fault", "drop=1"]);
    let mut sock = TcpStream::connect(&sim.addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.write_all(b"\x00\x060001NC").unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        sock.read(&mut buf).unwrap_or(0),
        0,
        "closed without an answer"
    );
    drop(sim);

    for (args, needle) in [
        (&["--listen", "nowhere"][..], "--listen"),
        (
            &["--listen", "127.0.0.1:0", "--fault", "explode=1"][..],
            "--fault",
        ),
        (
            &["--listen", "127.0.0.1:0", "--header-len", "0"][..],
            "--header-len",
        ),
        (
            &["--listen", "127.0.0.1:0", "--lmk", "/nonexistent/lmk"][..],
            "--lmk",
        ),
    ] {
        bin()
            .args(["serve", "payshield"])
            .args(args)
            .assert()
            .code(2)
            .stderr(contains(needle));
    }
}

#[test]
fn serve_payshield_over_tls_with_client_certificates() {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        SanType,
    };
    let ca = |name: &str| {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        (p.self_signed(&key).unwrap(), key)
    };
    let leaf = |issuer: &(rcgen::Certificate, KeyPair), usage| {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        p.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &issuer.0, &issuer.1).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_ca, client_ca) = (ca("hsm CA"), ca("host CA"));
    let (cert, key) = leaf(&server_ca, ExtendedKeyUsagePurpose::ServerAuth);
    let (ccert, ckey) = leaf(&client_ca, ExtendedKeyUsagePurpose::ClientAuth);
    let files: Vec<PathBuf> = [
        ("server.pem", cert),
        ("server.key", key),
        ("ca.pem", server_ca.0.pem()),
        ("client-ca.pem", client_ca.0.pem()),
        ("client.pem", ccert),
        ("client.key", ckey),
    ]
    .iter()
    .map(|(n, t)| tmp(n, t))
    .collect();
    let f = |i: usize| files[i].to_str().unwrap().to_string();
    let sim = Simulator::spawn(&[
        "--tls-cert",
        &f(0),
        "--tls-key",
        &f(1),
        "--tls-client-ca",
        &f(3),
    ]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let with_cert = format!(
            "payshields://{}?ca={}&cert={}&key={}",
            sim.addr,
            f(2),
            f(4),
            f(5)
        );
        let BackendUrl::PayShield(u) = with_cert.parse::<BackendUrl>().unwrap() else {
            panic!("payshield URL")
        };
        let ps = u
            .connect(paycrypto::payshield::KeyTable::new())
            .await
            .unwrap();
        let (kcv, _) = ps.diagnostics().await.unwrap();
        assert_eq!(kcv, TEST_LMK_KCV);
        // Without the client certificate: refused.
        let without = format!("payshields://{}?ca={}&timeout_ms=2000", sim.addr, f(2));
        let BackendUrl::PayShield(u) = without.parse::<BackendUrl>().unwrap() else {
            panic!("payshield URL")
        };
        let e = match u.connect(paycrypto::payshield::KeyTable::new()).await {
            Err(e) => e,
            Ok(ps) => ps.diagnostics().await.unwrap_err(),
        };
        assert!(e.kind().is_transient(), "{e}");
    });
    drop(sim);
    for (args, needle) in [
        (
            vec!["--tls-cert", "/nonexistent/cert.pem", "--tls-key", &f(1)],
            "--tls-cert",
        ),
        (vec!["--tls-cert", &f(0), "--tls-key", &f(0)], "--tls-key"),
        (
            vec![
                "--tls-cert",
                &f(0),
                "--tls-key",
                &f(1),
                "--tls-client-ca",
                &f(1),
            ],
            "--tls-client-ca",
        ),
        (vec!["--tls-key", &f(1)], "--tls-cert"),
    ] {
        bin()
            .args(["serve", "payshield", "--listen", "127.0.0.1:0"])
            .args(args)
            .assert()
            .code(2)
            .stderr(contains(needle));
    }
    for p in files {
        let _ = std::fs::remove_file(p);
    }
}

#[test]
fn operations_on_a_payshield_with_keys_under_lmk_and_test_keys() {
    let sim = Simulator::spawn(&[]);
    // The published CVK under the test LMK (KCV 08D7B4), and a clear test ZPK
    // (loaded under a KEK formed under the test LMK, then TR-31).
    let keys = tmp(
        "ps-keys.json",
        &format!(
            r#"{{"keys": {{
                "cvk": {{"id": "cvk/issuer", "usage": "C0", "lmk": "U9B4934384B19946B040CD702B4D58145", "key_type": "402", "kcv": "08D7B4"}},
                "zpk": {{"usage": "P0", "clear": "{ZPK}"}},
                "pvk": {{"usage": "V2", "clear": "{K0123}"}},
                "ibm": {{"usage": "V1", "clear": "{K0123}"}}
            }}}}"#
        ),
    );
    let url = sim.url();
    let v = json(&[
        "cvv",
        "generate",
        "--backend",
        &url,
        "--keys",
        keys.to_str().unwrap(),
        "--key",
        "cvk",
        "--pan",
        "4123456789012",
        "--expiry",
        "8701",
        "--service-code",
        "101",
    ]);
    assert_eq!(v["value"], "370");
    let v = json(&[
        "pin",
        "translate",
        "--backend",
        &url,
        "--keys",
        keys.to_str().unwrap(),
        "--in-key",
        "zpk",
        "--in-format",
        "0",
        "--out-key",
        "zpk",
        "--out-format",
        "0",
        "--pan",
        "1234567890123",
        "--block",
        "3C0CA40863092C3A",
    ]);
    assert_eq!(v["pin_block"], "3C0CA40863092C3A");

    // Issuer PIN data through DE/EE/DA/EA/DG/DC/EC/JA/JE/JG: the psec values
    // (PIN 4524 under the jPOS ZPK → PVV 8523; natural PIN 4524).
    let ps = |args: &[&str]| {
        let mut c = bin();
        c.args([
            args[0],
            args[1],
            "--backend",
            &url,
            "--keys",
            keys.to_str().unwrap(),
        ])
        .args(&args[2..]);
        c
    };
    let verify_pvv = |pvv: &str| {
        ps(&[
            "pin",
            "verify",
            "--pvk",
            "pvk",
            "--pek",
            "zpk",
            "--pan",
            "1122334455667788",
            "--block",
            PSEC_BLOCK,
            "--pvki",
            "1",
            "--pvv",
            pvv,
        ])
        .assert()
    };
    verify_pvv("8523")
        .success()
        .stdout(contains("verified").and(contains("visa-pvv")));
    verify_pvv("8524").code(1).stdout(contains("failed"));
    let v = json(&[
        "pin",
        "generate",
        "--backend",
        &url,
        "--keys",
        keys.to_str().unwrap(),
        "--method",
        "visa-pvv",
        "--pvk",
        "pvk",
        "--pek",
        "zpk",
        "--pan",
        "1122334455667788",
        "--pvki",
        "1",
        "--block",
        PSEC_BLOCK,
    ]);
    assert_eq!(v["pvv"], "8523", "{v}");
    assert_eq!(v["pvk_kcv"], "08D7B4");
    // The natural PIN comes back as a block under the ZPK; the software
    // backend, holding the same clear keys, verifies it.
    let v = json(&[
        "pin",
        "generate",
        "--backend",
        &url,
        "--keys",
        keys.to_str().unwrap(),
        "--method",
        "ibm-natural",
        "--pvk",
        "ibm",
        "--pek",
        "zpk",
        "--pan",
        "1122334455667788",
        "--validation-data",
        "1122334455667788",
        "--decimalization-table",
        "1234567890123456",
    ]);
    assert_eq!(v["pin_offset"], "0000", "{v}");
    assert!(v["pin"].is_null(), "no clear PIN from a backend: {v}");
    let block = v["pin_block"].as_str().unwrap().to_string();
    bin()
        .args([
            "pin",
            "verify",
            "--pvk-hex",
            K0123,
            "--pek-hex",
            ZPK,
            "--pan",
            "1122334455667788",
            "--block",
            &block,
            "--validation-data",
            "1122334455667788",
            "--decimalization-table",
            "1234567890123456",
            "--offset",
            "0000",
            "--pin-length",
            "4",
        ])
        .assert()
        .success();
    ps(&[
        "pin",
        "verify",
        "--pvk",
        "ibm",
        "--pek",
        "zpk",
        "--pan",
        "1122334455667788",
        "--block",
        &block,
        "--validation-data",
        "1122334455667788",
        "--decimalization-table",
        "1234567890123456",
        "--offset",
        "7710",
    ])
    .assert()
    .code(1);
    // A decimalisation table a payShield refuses: unsupported (exit 3).
    ps(&[
        "pin",
        "generate",
        "--method",
        "ibm-random",
        "--pvk",
        "ibm",
        "--pek",
        "zpk",
        "--pan",
        "1122334455667788",
        "--validation-data",
        "1122334455667788",
        "--decimalization-table",
        "1111111111111111",
    ])
    .assert()
    .code(3)
    .stderr(contains("decimalisation table"));
    // The Visa PVK for IBM 3624: refused by key usage.
    ps(&[
        "pin",
        "verify",
        "--pvk",
        "pvk",
        "--pek",
        "zpk",
        "--pan",
        "1122334455667788",
        "--block",
        PSEC_BLOCK,
        "--validation-data",
        "1122334455667788",
        "--offset",
        "0000",
    ])
    .assert()
    .failure()
    .stderr(contains("V1").or(contains("usage")));

    // A wrong KCV for the key under LMK is refused, naming the key.
    let bad = tmp(
        "ps-bad.json",
        r#"{"keys": {"cvk": {"usage": "C0", "lmk": "U9B4934384B19946B040CD702B4D58145", "kcv": "000000"}}}"#,
    );
    bin()
        .args([
            "cvv",
            "generate",
            "--backend",
            &url,
            "--keys",
            bad.to_str().unwrap(),
            "--key",
            "cvk",
            "--pan",
            "4123456789012",
            "--expiry",
            "8701",
            "--service-code",
            "101",
        ])
        .assert()
        .code(2)
        .stderr(contains("key \"cvk\"").and(contains("kcv")));
    for f in [keys, bad] {
        let _ = std::fs::remove_file(f);
    }
}

#[test]
fn clear_keys_are_refused_by_a_payshield_with_another_lmk() {
    let lmk_file = tmp("lmk2.txt", &lmk_file_text(0x40));
    let sim = Simulator::spawn(&["--lmk", lmk_file.to_str().unwrap()]);
    let keys = tmp(
        "ps-clear.json",
        &format!(r#"{{"keys": {{"zpk": {{"usage": "P0", "clear": "{ZPK}"}}}}}}"#),
    );
    bin()
        .args([
            "pin",
            "translate",
            "--backend",
            &sim.url(),
            "--keys",
            keys.to_str().unwrap(),
            "--in-key",
            "zpk",
            "--in-format",
            "0",
            "--out-key",
            "zpk",
            "--out-format",
            "0",
            "--pan",
            "1234567890123",
            "--block",
            "3C0CA40863092C3A",
        ])
        .assert()
        .code(2)
        .stderr(contains("public test LMK"));
    // The suite loads nothing into it either: every keyed case is skipped, none fails.
    bin()
        .args(["conformance", "--backend", &sim.url(), "--rounds", "1"])
        .assert()
        .success()
        .stdout(contains("another LMK").and(contains("0 failed")));
    for f in [keys, lmk_file] {
        let _ = std::fs::remove_file(f);
    }
}

#[test]
fn conformance_against_a_spawned_payshield_simulator() {
    let sim = Simulator::spawn(&[]);
    let junit = tmp("ps-junit.xml", "");
    bin()
        .args([
            "conformance",
            "--backend",
            &sim.url(),
            "--rounds",
            "2",
            "--seed",
            "11",
            "--junit",
        ])
        .arg(&junit)
        .assert()
        .success()
        .stdout(
            contains("0 failed, 0 skipped")
                .and(contains("public test LMK"))
                .and(contains("unsupported")),
        );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("failures=\"0\""), "{xml}");
    assert!(xml.contains("paycrypto conformance (payshield)"), "{xml}");
    assert!(xml.contains("<skipped message=\"unsupported: "), "{xml}");
    assert!(xml.contains("<testsuite name=\"translate_pin\""), "{xml}");
    let _ = std::fs::remove_file(junit);

    let v = json(&[
        "conformance",
        "--backend",
        &sim.url(),
        "--rounds",
        "1",
        "--filter",
        "card_validation",
    ]);
    assert_eq!(v["failed"], 0);
    // The dynamic CVV / CVC3 generation cases: no host command generates
    // them. PM verifies them: those cases pass.
    assert_eq!(v["unsupported"], 4, "{v}");
    assert!(v["passed"].as_u64().unwrap() >= 8, "{v}");
    let cases = v["cases"].as_array().unwrap();
    for name in [
        "Visa dynamic CVV and Mastercard CVC3 (jPOS), right and wrong values verified",
        "dynamic CVV and CVC3 of the reference verify on random cards, altered ones fail",
    ] {
        let c = cases
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no case {name}: {v}"));
        assert_eq!(c["result"], "pass", "{name}: {c}");
    }
}

/// `serve payshield --lmk keyblock` runs the test key-block LMK (NC check
/// value `9D04A0…`) and the suite over it, through `?lmk=keyblock`, leaves
/// only the two cases no payShield command covers unsupported (besides
/// what no payShield backend declares: ARQC generation, re-encryption, the
/// dynamic CVV / CVC3 kinds, whose PM takes variant-LMK keys only here; and
/// the issuer PIN data cases' ISO 4 / AES DUKPT parts).
#[test]
fn conformance_against_a_key_block_lmk_simulator() {
    let sim = Simulator::spawn(&["--lmk", "keyblock"]);
    let nd = sim.exchange(b"0001", b"NC");
    assert_eq!(&nd[..4], b"ND00");
    assert!(
        nd[4..].starts_with(b"9D04A0"),
        "{}",
        String::from_utf8_lossy(&nd)
    );
    let url = format!("{}?lmk=keyblock", sim.url());
    let v = json(&[
        "conformance",
        "--backend",
        &url,
        "--rounds",
        "1",
        "--seed",
        "7",
    ]);
    assert_eq!(v["failed"], 0, "{v}");
    assert_eq!(v["skipped"], 0, "{v}");
    let unsupported: Vec<String> = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["result"] == "unsupported")
        .filter(|r| !r["operation"].as_str().unwrap().ends_with("pin_data"))
        .filter(|r| r["operation"] != "generate_arqc" && r["operation"] != "re_encrypt_data")
        .filter(|r| !r["name"].as_str().unwrap().contains("dynamic"))
        // HMAC-SHA-224/384/512: no published A0 algorithm code; no
        // asymmetric keys (TR-34, ECDH, certificates) through the client.
        .filter(|r| !r["name"].as_str().unwrap().contains("HMAC-SHA-224/384/512"))
        .filter(|r| !r["name"].as_str().unwrap().contains("HMAC-SHA-384 with"))
        .filter(|r| !r["name"].as_str().unwrap().starts_with("TR-34:"))
        .filter(|r| !r["name"].as_str().unwrap().starts_with("ECDH:"))
        .filter(|r| r["operation"] != "get_public_key_certificate")
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(unsupported.len(), 2, "{unsupported:?}");
    // A key-block LMK from a file: the same key gives the same check value;
    // a malformed file is a usage error naming --lmk.
    let f = tmp(
        "kb-lmk.txt",
        "9B71333A13F9FAE72F9D0E2DAB4AD6784718012F9244033F3F26A2DE0C8AA11A\n",
    );
    let sim2 = Simulator::spawn(&["--lmk", &format!("keyblock:{}", f.to_str().unwrap())]);
    let nd = sim2.exchange(b"0001", b"NC");
    assert!(nd[4..].starts_with(b"9D04A0"));
    let bad = tmp("kb-lmk-bad.txt", "XYZ\n");
    bin()
        .args(["serve", "payshield", "--listen", "127.0.0.1:0", "--lmk"])
        .arg(format!("keyblock:{}", bad.to_str().unwrap()))
        .assert()
        .code(2)
        .stderr(contains("--lmk"));
    for p in [f, bad] {
        let _ = std::fs::remove_file(p);
    }
}

#[test]
fn conformance_on_software_writes_junit_and_passes() {
    let junit = tmp("junit.xml", "");
    bin()
        .args([
            "conformance",
            "--backend",
            "software",
            "--rounds",
            "2",
            "--seed",
            "7",
            "--junit",
        ])
        .arg(&junit)
        .assert()
        .success()
        .stdout(contains("0 failed, 0 skipped").and(contains("translate_pin")));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("failures=\"0\""), "{xml}");
    assert!(xml.contains("<testsuite name=\"verify_arqc\""), "{xml}");
    let _ = std::fs::remove_file(junit);

    let v = json(&["conformance", "--rounds", "2", "--filter", "verify_mac"]);
    assert_eq!(v["failed"], 0);
    assert!(v["passed"].as_u64().unwrap() >= 2);
    assert!(v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["operation"] == "verify_mac"));

    bin()
        .args(["conformance", "--rounds", "0"])
        .assert()
        .code(2)
        .stderr(contains("--rounds"));
}

#[test]
fn conformance_with_configured_keys_skips_with_reasons() {
    let keys = tmp(
        "roles.json",
        &format!(
            r#"{{"keys": {{"cvk": {{"id": "prod/cvk", "usage": "C0", "clear": "{K0123}"}}}}}}"#
        ),
    );
    bin()
        .args(["conformance", "--rounds", "2", "--keys"])
        .arg(&keys)
        .assert()
        .success()
        .stdout(contains("Visa CVV test data").and(contains("not configured in --keys FILE")));
    let _ = std::fs::remove_file(keys);
}

#[test]
fn every_subcommand_has_help_with_an_example() {
    let paths: &[&[&str]] = &[
        &[],
        &["kcv"],
        &["pinblock", "encode"],
        &["pinblock", "decode"],
        &["pin", "translate"],
        &["pin", "generate"],
        &["pin", "verify"],
        &["dukpt", "derive"],
        &["cvv", "generate"],
        &["cvv", "verify"],
        &["arqc", "generate"],
        &["arqc", "verify"],
        &["mac", "generate"],
        &["mac", "verify"],
        &["tr31", "wrap"],
        &["tr31", "unwrap"],
        &["components", "combine"],
        &["serve", "payshield"],
        &["serve", "aws"],
        &["conformance"],
    ];
    for p in paths {
        bin()
            .args(*p)
            .arg("--help")
            .assert()
            .success()
            .stdout(contains("Example").and(contains("paycrypto")));
    }
    bin()
        .arg("frobnicate")
        .assert()
        .code(2)
        .stderr(contains("frobnicate"));
}

// ---------------------------------------------------------------- AWS (emulator)

/// `paycrypto` with no AWS configuration from the environment of the test
/// run (credentials, profile, region): what the tool resolves is what the
/// test gives it.
fn aws_bin() -> Command {
    let mut c = bin();
    for v in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ] {
        c.env_remove(v);
    }
    c
}

/// One raw control-plane call (awsJson1_0) with a syntactically complete
/// SigV4 Authorization header (an emulator without --credentials accepts
/// any signature): the status code and body.
fn aws_control_call(addr: &str, op: &str, body: &str) -> (u16, Value) {
    let mut sock = TcpStream::connect(addr).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: PaymentCryptographyControlPlane.{op}\r\nX-Amz-Date: 20250101T000000Z\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIDCLITEST/20250101/us-east-1/payment-cryptography/aws4_request, \
         SignedHeaders=host;x-amz-date;x-amz-target, Signature={}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        "0".repeat(64),
        body.len()
    );
    sock.write_all(request.as_bytes()).expect("send");
    let mut out = String::new();
    sock.read_to_string(&mut out).expect("response");
    let status = out.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[test]
fn serve_aws_answers_the_control_plane_and_stops_cleanly() {
    let emu = Simulator::spawn_aws(&[]);
    let (status, v) = aws_control_call(&emu.addr, "ListKeys", "{}");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["Keys"], Value::Array(vec![]), "{v}");
    let (status, v) = aws_control_call(&emu.addr, "GetKey", r#"{"KeyIdentifier":"alias/none"}"#);
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["__type"], "ResourceNotFoundException", "{v}");
    // Unsigned requests are refused as AWS refuses them.
    let mut sock = TcpStream::connect(&emu.addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.write_all(
        b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: PaymentCryptographyControlPlane.ListKeys\r\n\
          Content-Length: 2\r\nConnection: close\r\n\r\n{}",
    )
    .unwrap();
    let mut out = String::new();
    sock.read_to_string(&mut out).unwrap();
    assert!(out.contains("MissingAuthenticationTokenException"), "{out}");
    #[cfg(unix)]
    {
        let (status, rest) = emu.terminate();
        assert!(status.success(), "{status:?}");
        assert_eq!(rest, "", "nothing after the one line");
    }
}

#[test]
fn serve_aws_wrong_options_exit_2_without_echoing_secrets() {
    for (args, needle) in [
        (&["--credentials", "no-colon-s3cr3t"][..], "--credentials"),
        (&["--credentials", "AKID:"][..], "--credentials"),
        (&["--region", "EU WEST"][..], "--region"),
        (&["--listen", "nowhere"][..], "--listen"),
    ] {
        let out = aws_bin()
            .args(["serve", "aws"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("s3cr3t"), "{err}");
        assert!(out.stdout.is_empty(), "no listening line on failure");
    }
    // A state file that is not the emulator's.
    let bad = tmp("aws-state-bad.json", "not json");
    aws_bin()
        .args(["serve", "aws", "--listen", "127.0.0.1:0", "--state"])
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(contains("--state"));
    let _ = std::fs::remove_file(bad);
}

/// `cvv generate` on the emulator with the published CVK (08D7B4): 370.
/// Errors go to stderr (without `--json`).
fn aws_cvv(endpoint: &str, keys: &std::path::Path, json: bool) -> assert_cmd::assert::Assert {
    let mut c = aws_bin();
    if json {
        c.arg("--json");
    }
    c.args(["cvv", "generate", "--endpoint-url", endpoint, "--keys"])
        .arg(keys)
        .args([
            "--key",
            "cvk",
            "--pan",
            "4123456789012",
            "--expiry",
            "8701",
            "--service-code",
            "101",
        ])
        .assert()
}

#[test]
fn aws_backend_imports_test_keys_and_state_survives_a_restart() {
    let state = std::env::temp_dir().join(format!(
        "paycrypto-cli-{}-aws-state.json",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&state);
    let clear = tmp(
        "aws-clear.json",
        &format!(
            r#"{{"keys": {{"cvk": {{"id": "issuer/cvk", "usage": "C0", "clear": "{K0123}"}}}}}}"#
        ),
    );
    let named = tmp(
        "aws-named.json",
        r#"{"keys": {"cvk": {"id": "alias/issuer/cvk"}}}"#,
    );
    let emu = Simulator::spawn_aws(&["--state", state.to_str().unwrap()]);
    // The clear test key goes in through the import path (the emulator is a
    // test account); a second run finds it with the same check value.
    for _ in 0..2 {
        let out = aws_cvv(&emu.endpoint(), &clear, true).success();
        let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        assert_eq!(v["value"], "370", "{v}");
    }
    let (_, keys) = aws_control_call(&emu.addr, "ListAliases", "{}");
    let aliases: Vec<&str> = keys["Aliases"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["AliasName"].as_str())
        .collect();
    assert_eq!(aliases, ["alias/issuer/cvk"], "{keys}");
    // Another clear value under the same name is refused, never replaced.
    let other = tmp(
        "aws-other.json",
        &format!(
            r#"{{"keys": {{"cvk": {{"id": "issuer/cvk", "usage": "C0", "clear": "{ZPK}"}}}}}}"#
        ),
    );
    aws_cvv(&emu.endpoint(), &other, false)
        .code(2)
        .stderr(contains("already names another key").and(contains(ZPK).not()));
    drop(emu);

    // Restarted on the same state file: the key is there, by alias.
    let emu = Simulator::spawn_aws(&["--state", state.to_str().unwrap()]);
    let out = aws_cvv(&emu.endpoint(), &named, true).success();
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["value"], "370", "{v}");
    drop(emu);

    // Not a test account: clear keys are refused before any call is made.
    aws_bin()
        .args([
            "cvv",
            "generate",
            "--backend",
            "aws://eu-west-1",
            "--keys",
            clear.to_str().unwrap(),
            "--key",
            "cvk",
            "--pan",
            "4123456789012",
            "--expiry",
            "8701",
            "--service-code",
            "101",
        ])
        .assert()
        .code(2)
        .stderr(contains("--allow-test-key-import").and(contains(K0123).not()));
    aws_bin()
        .args(["conformance", "--backend", "aws://eu-west-1", "--keys"])
        .arg(&clear)
        .assert()
        .code(2)
        .stderr(contains("--allow-test-key-import"));
    for f in [clear, named, other, state] {
        let _ = std::fs::remove_file(f);
    }
}

/// `pin generate` / `pin verify` on the AWS emulator with clear test keys
/// imported through the service's import path.
#[test]
fn pin_data_on_the_aws_emulator() {
    let emu = Simulator::spawn_aws(&[]);
    let keys = tmp(
        "aws-pin.json",
        &format!(
            r#"{{"keys": {{
                "pvk": {{"id": "issuer/pvk", "usage": "V2", "clear": "{K0123}"}},
                "zpk": {{"id": "issuer/zpk", "usage": "P0", "clear": "{ZPK}"}}
            }}}}"#
        ),
    );
    let k = keys.to_str().unwrap().to_string();
    let endpoint = emu.endpoint();
    let common = [
        "--endpoint-url",
        endpoint.as_str(),
        "--keys",
        k.as_str(),
        "--pvk",
        "pvk",
        "--pek",
        "zpk",
        "--pan",
        "1122334455667788",
        "--pvki",
        "1",
    ];
    let out = aws_bin()
        .args([
            "--json", "pin", "generate", "--method", "visa-pvv", "--block", PSEC_BLOCK,
        ])
        .args(common)
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(
        (v["pvv"].as_str(), v["backend"].as_str()),
        (Some("8523"), Some("aws")),
        "{v}"
    );
    aws_bin()
        .args(["pin", "verify", "--block", PSEC_BLOCK, "--pvv", "8523"])
        .args(common)
        .assert()
        .success()
        .stdout(contains("verified"));
    aws_bin()
        .args(["pin", "verify", "--block", PSEC_BLOCK, "--pvv", "8524"])
        .args(common)
        .assert()
        .code(1)
        .stdout(contains("failed"));
    let _ = std::fs::remove_file(keys);
}

#[test]
fn aws_emulator_with_credentials_verifies_signatures() {
    let emu = Simulator::spawn_aws(&["--credentials", "AKIDCLI:cli/secret"]);
    let keys = tmp(
        "aws-cred.json",
        &format!(r#"{{"keys": {{"cvk": {{"usage": "C0", "clear": "{K0123}"}}}}}}"#),
    );
    let run = |secret: &str, json: bool| {
        let mut c = aws_bin();
        if json {
            c.arg("--json");
        }
        c.env("AWS_ACCESS_KEY_ID", "AKIDCLI")
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .args([
                "cvv",
                "generate",
                "--endpoint-url",
                &emu.endpoint(),
                "--keys",
                keys.to_str().unwrap(),
                "--key",
                "cvk",
                "--pan",
                "4123456789012",
                "--expiry",
                "8701",
                "--service-code",
                "101",
            ])
            .assert()
    };
    let out = run("cli/secret", true).success();
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["value"], "370");
    run("wrong/secret", false)
        .code(3)
        .stderr(contains("InvalidSignatureException").and(contains("wrong/secret").not()));
    let _ = std::fs::remove_file(keys);
}

#[test]
fn conformance_against_a_spawned_aws_emulator() {
    let emu = Simulator::spawn_aws(&[]);
    let junit = tmp("aws-junit.xml", "");
    aws_bin()
        .args([
            "conformance",
            "--endpoint-url",
            &emu.endpoint(),
            "--rounds",
            "2",
            "--seed",
            "13",
            "--junit",
        ])
        .arg(&junit)
        .assert()
        .success()
        .stdout(
            contains("0 failed, 0 skipped, 2 unsupported")
                .and(contains("AWS test account"))
                .and(contains("0-byte message")),
        );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("failures=\"0\""), "{xml}");
    assert!(xml.contains("paycrypto conformance (aws)"), "{xml}");
    assert!(xml.contains("<testsuite name=\"verify_arqc\""), "{xml}");
    let _ = std::fs::remove_file(junit);
}

// ---------------------------------------------------------------- load, --metrics

/// `GET /metrics` at `url` (`http://HOST:PORT/metrics`) with a plain socket: the body.
fn scrape_metrics(url: &str) -> String {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (addr, path) = rest.split_once('/').expect("a path");
    let mut s = TcpStream::connect(addr).expect("connect to the metrics endpoint");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

/// The `metrics on http://…` line a command prints on stderr.
fn metrics_url(stderr: &mut impl BufRead) -> String {
    let mut line = String::new();
    stderr.read_line(&mut line).expect("read stderr");
    line.strip_prefix("metrics on ")
        .map(|u| u.trim_end().to_string())
        .unwrap_or_else(|| panic!("expected the metrics line, got {line:?}"))
}

#[test]
fn load_prints_rate_percentiles_and_errors_by_kind() {
    let out = bin()
        .args([
            "load",
            "--backend",
            "software",
            "--rate",
            "200",
            "--duration",
            "1500ms",
            "--mix",
            "translate=50,cvv=30,arqc=20",
            "--seed",
            "5",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    for want in [
        "backend: software",
        "target: 200 ops/s for 1.5 s, mix translate=50,cvv=30,arqc=20, seed 5",
        "requests: 300 sent, 300 completed, 0 unfinished",
        "achieved rate: ",
        "latency ms (from the intended send time): p50 ",
        " p95 ",
        " p99 ",
        " p99.9 ",
        " max ",
        "errors: 0",
        "translate  translate_pin",
        "cvv        verify_card_validation",
        "arqc       verify_arqc",
    ] {
        assert!(stdout.contains(want), "{want:?} not in\n{stdout}");
    }
    // The progress line went to stderr, not stdout.
    assert!(
        stderr.contains("sent ") && stderr.contains("in flight"),
        "{stderr}"
    );
    assert!(!stdout.contains("in flight"), "{stdout}");

    let v = json(&[
        "load",
        "--backend",
        "software",
        "--rate",
        "200",
        "--duration",
        "1s",
        "--mix",
        "mac=1,dukpt=1",
        "--seed",
        "5",
    ]);
    assert_eq!(v["sent"], 200);
    assert_eq!(v["completed"], 200);
    assert_eq!(v["ok"], 200);
    assert_eq!(v["unfinished"], 0);
    assert_eq!(v["errors"], serde_json::json!({}));
    assert_eq!(v["target_rate"], 200.0);
    assert_eq!(v["mix"], "mac=1,dukpt=1");
    assert!(v["achieved_rate"].as_f64().unwrap() > 0.0);
    for p in ["p50_ms", "p95_ms", "p99_ms", "p99_9_ms", "max_ms"] {
        assert!(v["latency"][p].as_f64().unwrap() > 0.0, "{p}: {v}");
    }
    let kinds: Vec<&str> = v["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["mac", "dukpt"]);
}

#[test]
fn load_wrong_arguments_name_the_argument() {
    for (args, name) in [
        (&["--rate", "0"][..], "--rate"),
        (&["--rate", "10", "--duration", "0s"], "--duration"),
        (&["--rate", "10", "--duration", "3 weeks"], "--duration"),
        (&["--rate", "10", "--mix", "pin=3"], "--mix"),
        (&["--rate", "10", "--mix", "cvv=0"], "--mix"),
        (&["--rate", "10", "--max-in-flight", "0"], "--max-in-flight"),
        (
            &["--rate", "10", "--metrics", "127.0.0.1:99999"],
            "--metrics",
        ),
    ] {
        bin()
            .arg("load")
            .args(args)
            .assert()
            .code(2)
            .stderr(contains(name));
    }
}

#[test]
fn load_against_a_spawned_simulator_and_both_metrics_endpoints() {
    let mut sim = Simulator::spawn(&["--metrics", "127.0.0.1:0"]);
    let mut sim_err = BufReader::new(sim.child.stderr.take().expect("stderr"));
    let sim_metrics = metrics_url(&mut sim_err);

    // The load run serves its own metrics while it runs.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("paycrypto"))
        .args([
            "--json",
            "load",
            "--backend",
            &sim.url(),
            "--rate",
            "100",
            "--duration",
            "3s",
            "--mix",
            "translate=50,cvv=30,arqc=20",
            "--metrics",
            "127.0.0.1:0",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let load_metrics = metrics_url(&mut err);
    // Scrape once requests have gone through (the keys load first).
    let mut during = String::new();
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(200));
        during = scrape_metrics(&load_metrics);
        if during.contains("operation=\"verify_arqc\"") {
            break;
        }
    }
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{rest}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["completed"], 300, "{v}");
    assert_eq!(v["ok"], 300, "{v}");
    assert!(v["backend"].as_str().unwrap().contains("payshield"), "{v}");
    for want in [
        "paycrypto_requests_total{operation=\"translate_pin\"",
        "paycrypto_request_duration_seconds_bucket{operation=\"verify_card_validation\"",
        "outcome=\"verified\"",
    ] {
        assert!(during.contains(want), "{want} not in\n{during}");
    }
    // The simulator counted the commands the run sent (CC, CY, KQ).
    let sim_body = scrape_metrics(&sim_metrics);
    for cmd in ["CC", "CY", "KQ"] {
        let want = format!(
            "paycrypto_server_requests_total{{server=\"payshield\",command=\"{cmd}\",outcome=\"00\"}}"
        );
        assert!(sim_body.contains(&want), "{want} not in\n{sim_body}");
    }
    assert!(sim_body.contains("paycrypto_server_request_duration_seconds_bucket"));
}

#[test]
fn load_against_a_spawned_aws_emulator_deletes_its_keys() {
    let emu = Simulator::spawn_aws(&["--metrics", "127.0.0.1:0"]);
    let v = {
        let out = bin()
            .args([
                "--json",
                "load",
                "--endpoint-url",
                &emu.endpoint(),
                "--rate",
                "50",
                "--duration",
                "1s",
                "--mix",
                "cvv=1,mac=1",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    assert_eq!(v["ok"], 50, "{v}");
    // A second run on the same emulator works (its keys have their own prefix).
    bin()
        .args([
            "load",
            "--endpoint-url",
            &emu.endpoint(),
            "--rate",
            "20",
            "--duration",
            "1s",
            "--mix",
            "cvv",
        ])
        .assert()
        .success()
        .stdout(contains("errors: 0"));
}

/// PM on the payShield simulator through the CLI: the jPOS dCVV (422) and
/// 3-digit CVC3 (464) verify, altered values fail, generation is
/// unsupported (no host command), a dCVV with PAN sequence number 01 too.
#[test]
fn dynamic_cvv_and_cvc3_verify_on_a_payshield() {
    let sim = Simulator::spawn(&[]);
    let keys = tmp(
        "ps-dyn-keys.json",
        &format!(
            r#"{{"keys": {{
                "imk-dcvv": {{"usage": "E6", "clear": "{ZPK}"}},
                "imk-cvc3": {{"usage": "E4", "clear": "{ZPK}"}}
            }}}}"#
        ),
    );
    let url = sim.url();
    let k = keys.to_str().unwrap();
    let dcvv = [
        "--backend",
        &url,
        "--keys",
        k,
        "--key",
        "imk-dcvv",
        "--kind",
        "dynamic-cvv",
        "--pan",
        "1234567890123456",
        "--expiry",
        "1310",
        "--service-code",
        "226",
        "--atc",
        "3210",
    ];
    let cvc3 = [
        "--backend",
        &url,
        "--keys",
        k,
        "--key",
        "imk-cvc3",
        "--kind",
        "dynamic-cvc3",
        "--pan",
        "1234567890123456",
        "--psn",
        "00",
        "--atc",
        "2710",
        "--un",
        "00002710",
        "--track-data",
        "1234567890123456D12012061000110000000F",
    ];
    for (args, psn, value, wrong) in [
        (&dcvv[..], Some("00"), "422", "423"),
        (&cvc3[..], None, "464", "465"),
    ] {
        let psn: Vec<&str> = psn.map(|p| vec!["--psn", p]).unwrap_or_default();
        bin()
            .args(["cvv", "verify"])
            .args(args)
            .args(&psn)
            .args(["--value", value])
            .assert()
            .success()
            .stdout(contains("verified"));
        bin()
            .args(["cvv", "verify"])
            .args(args)
            .args(&psn)
            .args(["--value", wrong])
            .assert()
            .code(1)
            .stdout(contains("failed"));
        bin()
            .args(["cvv", "generate"])
            .args(args)
            .args(&psn)
            .assert()
            .code(3)
            .stderr(contains("unsupported"));
    }
    bin()
        .args(["cvv", "verify"])
        .args(dcvv)
        .args(["--psn", "01", "--value", "422"])
        .assert()
        .code(3)
        .stderr(contains("PAN sequence number"));
    let _ = std::fs::remove_file(keys);
}

/// `paycrypto proxy payshield` with a JSON key file and `--metrics`: the
/// one `listening on tcp://HOST:PORT` line, commands passed through to the
/// simulator byte for byte, the metrics line on stderr and a scrape with
/// the proxy's requests and the payShield host's health; SIGTERM exits 0.
#[cfg(unix)]
#[test]
fn proxy_payshield_with_a_json_key_file_and_metrics() {
    let sim = Simulator::spawn(&[]);
    let keys =
        std::env::temp_dir().join(format!("paycrypto-cli-proxy-{}.json", std::process::id()));
    std::fs::write(
        &keys,
        r#"{"keys": [{"name": "alias/zpk", "kcv": "6F1E3F", "key_type": "001"}]}"#,
    )
    .unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("paycrypto"))
        .args(["proxy", "payshield", "--listen", "127.0.0.1:0", "--primary"])
        .arg(sim.url())
        .arg("--keys")
        .arg(&keys)
        .args(["--metrics", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the proxy");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let url = metrics_url(&mut stderr);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .strip_prefix("listening on tcp://")
        .and_then(|l| l.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();
    for cmd in [&b"NC"[..], b"B20005HELLO"] {
        assert_eq!(exchange(&addr, b"0001", cmd), sim.exchange(b"0001", cmd));
    }
    let host = sim.addr.clone();
    let mut body = String::new();
    for _ in 0..100 {
        body = scrape_metrics(&url);
        if body.contains(&format!(
            "paycrypto_payshield_host_healthy{{host=\"{host}\"}} 1"
        )) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        body.contains("paycrypto_proxy_requests_total{outcome=\"passed_through\"} 2"),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "paycrypto_payshield_host_healthy{{host=\"{host}\"}} 1"
        )),
        "{body}"
    );
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    assert!(child.wait().unwrap().success(), "SIGTERM exits 0");
    let mut rest = String::new();
    let _ = stdout.read_to_string(&mut rest);
    assert_eq!(rest, "", "nothing else on stdout");
    let _ = std::fs::remove_file(keys);
}
