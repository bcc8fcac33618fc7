//! Hot-path benchmarks. Run: `cargo bench --bench hot_paths`.
//! Results, command and machine are recorded in BENCHMARKS.md.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use paycrypto::algo::{cipher::BlockCipher, dukpt, emv, pinblock, pinverify, tr31};
use paycrypto::keyload::{combine_components, kek_from_components, tr31_import};
use paycrypto::ops::*;
use paycrypto::*;
use std::hint::black_box;

const ZPK1: &str = "13345779133457791334577913345779";
const ZPK2: &str = "0123456789ABCDEFFEDCBA9876543210";
const AES1: &str = "AF8CB133A78F8DC2D1359F18527593FB";
const AES2: &str = "FEDCBA9876543210F1F1F1F1F1F1F1F1";
const PAN: &str = "4111111111111111";

fn hx(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}
fn id(s: &str) -> KeyId {
    KeyId::new(s).unwrap()
}

fn setup(rt: &tokio::runtime::Runtime) -> SoftwareBackend {
    let b = SoftwareBackend::new();
    let (c1, c2) = (hx(ZPK2), vec![0x5B; 16]);
    let kek = combine_components(KeyAlgorithm::Tdes2, &[&c1, &c2]).unwrap();
    rt.block_on(async {
        b.import_key(kek_from_components(id("kek"), KeyAlgorithm::Tdes2, &[&c1, &c2]).unwrap())
            .await
            .unwrap();
        let keys = [
            (
                "zpk1",
                ZPK1,
                KeyUsage::PinEncryption,
                KeyAlgorithm::Tdes2,
                ModesOfUse::BOTH,
            ),
            (
                "zpk2",
                ZPK2,
                KeyUsage::PinEncryption,
                KeyAlgorithm::Tdes2,
                ModesOfUse::BOTH,
            ),
            (
                "aes1",
                AES1,
                KeyUsage::PinEncryption,
                KeyAlgorithm::Aes128,
                ModesOfUse::BOTH,
            ),
            (
                "aes2",
                AES2,
                KeyUsage::PinEncryption,
                KeyAlgorithm::Aes128,
                ModesOfUse::BOTH,
            ),
            (
                "cvk",
                ZPK2,
                KeyUsage::CardVerification,
                KeyAlgorithm::Tdes2,
                ModesOfUse::GENERATE_VERIFY,
            ),
            (
                "imk",
                ZPK2,
                KeyUsage::EmvAppCryptogram,
                KeyAlgorithm::Tdes2,
                ModesOfUse::DERIVE,
            ),
            (
                "pvk-ibm",
                ZPK2,
                KeyUsage::PinVerificationIbm3624,
                KeyAlgorithm::Tdes2,
                ModesOfUse::GENERATE_VERIFY,
            ),
            (
                "pvk-visa",
                ZPK2,
                KeyUsage::PinVerificationVisaPvv,
                KeyAlgorithm::Tdes2,
                ModesOfUse::GENERATE_VERIFY,
            ),
        ];
        for (name, k, u, a, m) in keys {
            let req = tr31_import(
                id("kek"),
                KeyAlgorithm::Tdes2,
                &kek,
                id(name),
                KeyAttributes::new(u, a, m),
                &hx(k),
            )
            .unwrap();
            b.import_key(req).await.unwrap();
        }
    });
    b
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let b = setup(&rt);
    let pin = Pin::new("1234").unwrap();
    let z1 = BlockCipher::tdes(&hx(ZPK1)).unwrap();
    let z2 = BlockCipher::tdes(&hx(ZPK2)).unwrap();
    let a1 = BlockCipher::aes(&hx(AES1)).unwrap();
    let mut rng = rand::rng();
    let tdes_block =
        pinblock::encrypt_pin_block(&z1, PinBlockFormat::Iso0, &pin, Some(PAN), &mut rng).unwrap();
    let aes_block =
        pinblock::encrypt_pin_block(&a1, PinBlockFormat::Iso4, &pin, Some(PAN), &mut rng).unwrap();

    // Baseline: the two raw TDES block operations a TDES ISO 0 -> ISO 0 translate needs.
    c.bench_function("raw_tdes_decrypt_plus_encrypt_block", |bn| {
        bn.iter(|| {
            let mut blk = [0u8; 8];
            blk.copy_from_slice(tdes_block.as_bytes());
            z1.decrypt_ecb(black_box(&mut blk)).unwrap();
            z2.encrypt_ecb(black_box(&mut blk)).unwrap();
            blk
        })
    });
    c.bench_function("algo_pin_translate_tdes_iso0_iso0", |bn| {
        let mut rng = rand::rng();
        bn.iter(|| {
            let p = pinblock::decrypt_pin_block(
                &z1,
                PinBlockFormat::Iso0,
                black_box(tdes_block.as_bytes()),
                Some(PAN),
            )
            .unwrap();
            pinblock::encrypt_pin_block(&z2, PinBlockFormat::Iso0, &p, Some(PAN), &mut rng).unwrap()
        })
    });
    // Baseline: what driving one future on the bench's runtime costs by itself.
    c.bench_function("runtime_block_on_ready_future", |bn| {
        bn.iter(|| rt.block_on(async { black_box(1u8) }))
    });
    let tdes_req = TranslatePinRequest {
        incoming_key: PinKey::Key(id("zpk1")),
        incoming_format: PinBlockFormat::Iso0,
        outgoing_key: id("zpk2"),
        outgoing_format: PinBlockFormat::Iso0,
        pan: Pan::new(PAN).unwrap(),
        pin_block: tdes_block.clone(),
    };
    c.bench_function("backend_pin_translate_tdes_iso0_iso0", |bn| {
        bn.iter_batched(
            || tdes_req.clone(),
            |r| rt.block_on(b.translate_pin(black_box(r))).unwrap(),
            BatchSize::SmallInput,
        )
    });
    let aes_req = TranslatePinRequest {
        incoming_key: PinKey::Key(id("aes1")),
        incoming_format: PinBlockFormat::Iso4,
        outgoing_key: id("aes2"),
        outgoing_format: PinBlockFormat::Iso4,
        pan: Pan::new(PAN).unwrap(),
        pin_block: aes_block.clone(),
    };
    c.bench_function("backend_pin_translate_aes_iso4_iso4", |bn| {
        bn.iter_batched(
            || aes_req.clone(),
            |r| rt.block_on(b.translate_pin(black_box(r))).unwrap(),
            BatchSize::SmallInput,
        )
    });
    let cvv_req = VerifyCardValidationRequest {
        key: id("cvk"),
        pan: Pan::new(PAN).unwrap(),
        expiry: CardExpiry::new("2512").unwrap(),
        kind: CardValidationKind::Cvv2,
        value: "123".parse().unwrap(),
    };
    c.bench_function("backend_cvv2_verify", |bn| {
        bn.iter_batched(
            || cvv_req.clone(),
            |r| rt.block_on(b.verify_card_validation(black_box(r))).unwrap(),
            BatchSize::SmallInput,
        )
    });
    let data = vec![0x11u8; 40];
    let icc = emv::derive_icc_mk(&hx(ZPK2), PAN, Some("00"), emv::MkDerivation::OptionA).unwrap();
    let sk = emv::derive_session_key(
        icc.as_slice(),
        emv::SessionKeyDerivation::EmvCommonAtc { atc: &[0, 1] },
    )
    .unwrap();
    let arqc = emv::generate_ac(sk.as_slice(), &data, Iso9797Padding::Method2).unwrap();
    let arqc_req = VerifyArqcRequest {
        key: id("imk"),
        mk_derivation: MkDerivation::OptionA,
        session: SessionKeyDerivation::EmvCommon { atc: [0, 1] },
        pan: Pan::new(PAN).unwrap(),
        psn: Psn::new("00").unwrap(),
        transaction_data: data,
        padding: Iso9797Padding::Method2,
        arqc,
        arpc: Some(ArpcMethod::Method1 { arc: *b"00" }),
    };
    c.bench_function("backend_arqc_verify_with_arpc", |bn| {
        bn.iter_batched(
            || arqc_req.clone(),
            |req| {
                let r = rt.block_on(b.verify_arqc(black_box(req))).unwrap();
                assert!(r.verification.is_verified());
                r
            },
            BatchSize::SmallInput,
        )
    });
    // Issuer PIN verification: the PIN block under the zone key, the psec
    // test PVK (IBM 3624 offset, Visa PVV).
    let pvk = BlockCipher::tdes(&hx(ZPK2)).unwrap();
    let ibm = Ibm3624 {
        decimalization_table: DecimalizationTable::new(DecimalizationTable::STANDARD).unwrap(),
        validation_data: PinValidationData::new("4111111111").unwrap(),
        pad: PadCharacter::F,
    };
    let offset = pinverify::ibm3624_offset(&pvk, &ibm.params(), &pin, None).unwrap();
    let pvki = Pvki::new(1).unwrap();
    let pan = Pan::new(PAN).unwrap();
    let pvv = pinverify::visa_pvv(&pvk, &pan, pvki, &pin).unwrap();
    c.bench_function("algo_ibm3624_verify", |bn| {
        bn.iter(|| {
            pinverify::ibm3624_verify(&pvk, &ibm.params(), black_box(&pin), &offset).unwrap()
        })
    });
    c.bench_function("algo_visa_pvv_verify", |bn| {
        bn.iter(|| pinverify::visa_pvv_verify(&pvk, &pan, pvki, black_box(&pin), &pvv).unwrap())
    });
    let verify_req = |method| VerifyPinDataRequest {
        verification_key: id(match &method {
            PinVerification::Ibm3624 { .. } => "pvk-ibm",
            PinVerification::VisaPvv { .. } => "pvk-visa",
        }),
        pin_key: PinKey::Key(id("zpk1")),
        format: PinBlockFormat::Iso0,
        pan: pan.clone(),
        pin_block: tdes_block.clone(),
        method,
        pin_length: None,
    };
    let ibm_req = verify_req(PinVerification::Ibm3624 {
        ibm: ibm.clone(),
        offset: offset.clone(),
    });
    c.bench_function("backend_ibm3624_verify", |bn| {
        bn.iter_batched(
            || ibm_req.clone(),
            |req| {
                let r = rt.block_on(b.verify_pin_data(black_box(req))).unwrap();
                assert!(r.verification.is_verified());
                r
            },
            BatchSize::SmallInput,
        )
    });
    let pvv_req = verify_req(PinVerification::VisaPvv {
        pvki,
        pvv: pvv.clone(),
    });
    c.bench_function("backend_visa_pvv_verify", |bn| {
        bn.iter_batched(
            || pvv_req.clone(),
            |req| {
                let r = rt.block_on(b.verify_pin_data(black_box(req))).unwrap();
                assert!(r.verification.is_verified());
                r
            },
            BatchSize::SmallInput,
        )
    });
    let tksn = Ksn::parse_hex("FFFF9876543210E00001").unwrap();
    let bdk = hx(ZPK2);
    c.bench_function("dukpt_tdes_pin_key_derive", |bn| {
        bn.iter(|| {
            dukpt::tdes_working_key(black_box(&bdk), &tksn, dukpt::TdesDukptUsage::Pin).unwrap()
        })
    });
    let aksn = Ksn::parse_hex("123456789012345600000001").unwrap();
    let abdk = hx(AES2);
    c.bench_function("dukpt_aes128_pin_key_derive", |bn| {
        bn.iter(|| {
            dukpt::aes_working_key(
                black_box(&abdk),
                &aksn,
                dukpt::AesDukptUsage::PinEncryption,
                dukpt::AesDukptKeyType::Aes128,
            )
            .unwrap()
        })
    });
    let kbpk = hx(ZPK2);
    let hb = paycrypto::keyload::tr31_header(
        Tr31Version::B,
        &KeyAttributes::new(
            KeyUsage::PinEncryption,
            KeyAlgorithm::Tdes2,
            ModesOfUse::BOTH,
        ),
    )
    .unwrap();
    let block_b = tr31::wrap(&kbpk, &hb, &hx(ZPK1), &mut rand::rng()).unwrap();
    c.bench_function("tr31_unwrap_version_b", |bn| {
        bn.iter(|| tr31::unwrap(&kbpk, black_box(&block_b)).unwrap())
    });
    let akbpk = hx(AES2);
    let hd = paycrypto::keyload::tr31_header(
        Tr31Version::D,
        &KeyAttributes::new(
            KeyUsage::PinEncryption,
            KeyAlgorithm::Aes128,
            ModesOfUse::BOTH,
        ),
    )
    .unwrap();
    let block_d = tr31::wrap(&akbpk, &hd, &hx(AES1), &mut rand::rng()).unwrap();
    c.bench_function("tr31_unwrap_version_d", |bn| {
        bn.iter(|| tr31::unwrap(&akbpk, black_box(&block_d)).unwrap())
    });
}

criterion_group!(hot, benches);
criterion_main!(hot);
