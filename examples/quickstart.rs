//! Quickstart on the software backend: load test keys the way a key ceremony
//! does, translate PIN blocks (zone TDES ISO 0 → AES ISO 4, and DUKPT → zone),
//! verify a CVV2 and an ARQC with its ARPC.
//!
//! Run: `cargo run --example quickstart`

use paycrypto::algo::{cipher::BlockCipher, dukpt, emv, pinblock};
use paycrypto::keyload::{combine_components, kek_from_components, tr31_import};
use paycrypto::ops::*;
use paycrypto::*;

// Clear *test* keys (never use these in production).
const KEK_PART_1: &str = "0123456789ABCDEFFEDCBA9876543210";
const KEK_PART_2: &str = "1F1F1F1F1F1F1F1F0E0E0E0E0E0E0E0E";
const ZPK_TDES: &str = "13345779133457791334577913345779";
const ZPK_AES: &str = "AF8CB133A78F8DC2D1359F18527593FB";
const CVK: &str = "0123456789ABCDEFFEDCBA9876543210";
const IMK_AC: &str = "0123456789ABCDEFFEDCBA9876543210";
const BDK: &str = "0123456789ABCDEFFEDCBA9876543210";

fn hx(s: &str) -> Vec<u8> {
    hex::decode(s).expect("constant hex")
}

fn id(s: &str) -> KeyId {
    KeyId::new(s).expect("constant key id")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> paycrypto::Result<()> {
    let hsm = SoftwareBackend::new();

    // 1. Key ceremony: a KEK from two clear components, then working keys as TR-31 blocks.
    let (p1, p2) = (hx(KEK_PART_1), hx(KEK_PART_2));
    let kek = hsm
        .import_key(kek_from_components(
            id("kek/ceremony"),
            KeyAlgorithm::Tdes2,
            &[&p1, &p2],
        )?)
        .await?;
    let kek_clear = combine_components(KeyAlgorithm::Tdes2, &[&p1, &p2])?;
    println!(
        "KEK loaded from 2 components        KCV {}",
        kek.key_check_value
    );
    let load = [
        (
            "zpk/acquirer",
            ZPK_TDES,
            KeyUsage::PinEncryption,
            KeyAlgorithm::Tdes2,
            ModesOfUse::BOTH,
        ),
        (
            "zpk/issuer-aes",
            ZPK_AES,
            KeyUsage::PinEncryption,
            KeyAlgorithm::Aes128,
            ModesOfUse::BOTH,
        ),
        (
            "cvk/issuer",
            CVK,
            KeyUsage::CardVerification,
            KeyAlgorithm::Tdes2,
            ModesOfUse::GENERATE_VERIFY,
        ),
        (
            "imk-ac/issuer",
            IMK_AC,
            KeyUsage::EmvAppCryptogram,
            KeyAlgorithm::Tdes2,
            ModesOfUse::DERIVE,
        ),
        (
            "bdk/p2pe",
            BDK,
            KeyUsage::Bdk,
            KeyAlgorithm::Tdes2,
            ModesOfUse::DERIVE,
        ),
    ];
    for (name, key, usage, alg, modes) in load {
        let attrs = KeyAttributes::new(usage, alg, modes);
        let info = hsm
            .import_key(tr31_import(
                id("kek/ceremony"),
                KeyAlgorithm::Tdes2,
                &kek_clear,
                id(name),
                attrs,
                &hx(key),
            )?)
            .await?;
        println!(
            "imported {name:<16} via TR-31     KCV {}",
            info.key_check_value
        );
    }

    // 2. PIN translate: a terminal's ISO 0 block under the TDES ZPK → ISO 4 under the AES ZPK.
    let pan = Pan::new("4111111111111111")?;
    let pin = Pin::new("1234")?;
    let zpk = BlockCipher::tdes(&hx(ZPK_TDES))?;
    let block = pinblock::encrypt_pin_block(
        &zpk,
        PinBlockFormat::Iso0,
        &pin,
        Some(pan.expose()),
        &mut rand::rng(),
    )?;
    let out = hsm
        .translate_pin(TranslatePinRequest {
            incoming_key: PinKey::Key(id("zpk/acquirer")),
            incoming_format: PinBlockFormat::Iso0,
            outgoing_key: id("zpk/issuer-aes"),
            outgoing_format: PinBlockFormat::Iso4,
            pan: pan.clone(),
            pin_block: block,
        })
        .await?;
    let aes = BlockCipher::aes(&hx(ZPK_AES))?;
    let back = pinblock::decrypt_pin_block(
        &aes,
        PinBlockFormat::Iso4,
        out.pin_block.as_bytes(),
        Some(pan.expose()),
    )?;
    println!(
        "PIN translate ISO 0 (TDES) -> ISO 4 (AES) for {pan}: {} ({}-byte block, same PIN: {})",
        if back == pin { "ok" } else { "MISMATCH" },
        out.pin_block.as_bytes().len(),
        back == pin
    );

    // 3. DUKPT PIN translate: a PIN pad's block under its DUKPT key → zone ISO 0.
    let ksn = Ksn::parse_hex("FFFF9876543210E00001")?;
    let pin_key = dukpt::tdes_working_key(&hx(BDK), &ksn, dukpt::TdesDukptUsage::Pin)?;
    let pad = BlockCipher::tdes(pin_key.as_slice())?;
    let block = pinblock::encrypt_pin_block(
        &pad,
        PinBlockFormat::Iso0,
        &pin,
        Some(pan.expose()),
        &mut rand::rng(),
    )?;
    let out = hsm
        .translate_pin(TranslatePinRequest {
            incoming_key: PinKey::Dukpt(Dukpt {
                bdk: id("bdk/p2pe"),
                ksn,
                key_type: KeyAlgorithm::Tdes2,
            }),
            incoming_format: PinBlockFormat::Iso0,
            outgoing_key: id("zpk/acquirer"),
            outgoing_format: PinBlockFormat::Iso0,
            pan: pan.clone(),
            pin_block: block,
        })
        .await?;
    let back = pinblock::decrypt_pin_block(
        &zpk,
        PinBlockFormat::Iso0,
        out.pin_block.as_bytes(),
        Some(pan.expose()),
    )?;
    println!(
        "DUKPT PIN translate (KSN FFFF9876543210E00001) -> ISO 0: same PIN: {}",
        back == pin
    );

    // 4. CVV2: generate as the issuer would, verify the right and a wrong value.
    let expiry = CardExpiry::new("2512")?;
    let cvv2 = hsm
        .generate_card_validation(GenerateCardValidationRequest {
            key: id("cvk/issuer"),
            pan: pan.clone(),
            expiry,
            kind: CardValidationKind::Cvv2,
            length: paycrypto::CvvLength::THREE,
        })
        .await?;
    for presented in [cvv2.value.clone(), Cvv::new("000")?] {
        let v = hsm
            .verify_card_validation(VerifyCardValidationRequest {
                key: id("cvk/issuer"),
                pan: pan.clone(),
                expiry,
                kind: CardValidationKind::Cvv2,
                value: presented.clone(),
            })
            .await?;
        // A quickstart on test keys: the CVV is shown on purpose (it is a secret type).
        println!("CVV2 verify {}: {:?}", presented.expose(), v.verification);
    }

    // 5. ARQC: the card computes it (EMV common session key, option A); the host verifies it
    //    and returns an ARPC (method 1).
    let psn = Psn::new("01")?;
    let atc = [0x00, 0x2A];
    let data = hex::decode(
        "0000000010000000000000000840000000000008402512240100B1C2D3E45C00002A0380000000",
    )
    .expect("hex");
    let icc_mk = emv::derive_icc_mk(
        &hx(IMK_AC),
        pan.expose(),
        Some(psn.as_str()),
        emv::MkDerivation::OptionA,
    )?;
    let sk = emv::derive_session_key(
        icc_mk.as_slice(),
        emv::SessionKeyDerivation::EmvCommonAtc { atc: &atc },
    )?;
    let arqc = emv::generate_ac(sk.as_slice(), &data, paycrypto::algo::mac::Padding::Method2)?;
    let v = hsm
        .verify_arqc(VerifyArqcRequest {
            key: id("imk-ac/issuer"),
            mk_derivation: emv::MkDerivation::OptionA,
            session: SessionKeyDerivation::EmvCommon { atc },
            pan: pan.clone(),
            psn,
            transaction_data: data,
            padding: Iso9797Padding::Method2,
            arqc,
            arpc: Some(ArpcMethod::Method1 { arc: *b"00" }),
        })
        .await?;
    println!(
        "ARQC {} verify: {:?}, ARPC {}",
        hex::encode_upper(arqc),
        v.verification,
        v.arpc.as_deref().map(hex::encode_upper).unwrap_or_default()
    );
    Ok(())
}
