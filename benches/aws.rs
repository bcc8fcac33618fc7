//! Throughput of the AWS backend against the in-process emulator.
//! Run: `cargo bench --features aws,server --bench aws`. Results in BENCHMARKS.md.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use paycrypto::algo::cipher::BlockCipher;
use paycrypto::algo::pinblock;
use paycrypto::aws::AwsBackend;
use paycrypto::keyload::{combine_components, kek_from_components, tr31_import};
use paycrypto::ops::*;
use paycrypto::server::aws::{start, EmulatorConfig};
use paycrypto::*;
use std::sync::Arc;

const ZPK1: &str = "13345779133457791334577913345779";
const ZPK2: &str = "0123456789ABCDEFFEDCBA9876543210";
/// Requests in flight per measured batch.
const BATCH: usize = 64;

fn id(s: &str) -> KeyId {
    KeyId::new(s).unwrap()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (emu, aws) = rt.block_on(async {
        let emu = start(EmulatorConfig::default()).await.unwrap();
        let aws = AwsBackend::builder()
            .endpoint_url(emu.endpoint_url())
            .region("us-east-1")
            .credentials("AKIDBENCH", "bench-secret", None)
            .sdk_retries(false)
            .build()
            .await;
        let (c1, c2) = (hex::decode(ZPK2).unwrap(), vec![0x5B; 16]);
        let kek = combine_components(KeyAlgorithm::Tdes2, &[&c1, &c2]).unwrap();
        aws.import_key(kek_from_components(id("kek"), KeyAlgorithm::Tdes2, &[&c1, &c2]).unwrap())
            .await
            .unwrap();
        for (name, key, usage, modes) in [
            ("zpk1", ZPK1, KeyUsage::PinEncryption, ModesOfUse::BOTH),
            ("zpk2", ZPK2, KeyUsage::PinEncryption, ModesOfUse::BOTH),
            (
                "cvk",
                ZPK2,
                KeyUsage::CardVerification,
                ModesOfUse::GENERATE_VERIFY,
            ),
            (
                "mac",
                ZPK1,
                KeyUsage::MacIso9797Alg3,
                ModesOfUse::GENERATE_VERIFY,
            ),
        ] {
            let attrs = KeyAttributes::new(usage, KeyAlgorithm::Tdes2, modes);
            let req = tr31_import(
                id("kek"),
                KeyAlgorithm::Tdes2,
                &kek,
                id(name),
                attrs,
                &hex::decode(key).unwrap(),
            )
            .unwrap();
            aws.import_key(req).await.unwrap();
        }
        (emu, Arc::new(aws))
    });
    let pan = Pan::new("4111111111111111").unwrap();
    let zpk = BlockCipher::tdes(&hex::decode(ZPK1).unwrap()).unwrap();
    let pin = pinblock::Pin::new("1234").unwrap();
    let block = pinblock::encrypt_pin_block(
        &zpk,
        PinBlockFormat::Iso0,
        &pin,
        Some(pan.expose()),
        &mut rand::rng(),
    )
    .unwrap();
    let translate = Request::TranslatePin(TranslatePinRequest {
        incoming_key: PinKey::Key(id("zpk1")),
        incoming_format: PinBlockFormat::Iso0,
        outgoing_key: id("zpk2"),
        outgoing_format: PinBlockFormat::Iso0,
        pan: pan.clone(),
        pin_block: block,
    });
    let cvv = Request::VerifyCardValidation(VerifyCardValidationRequest {
        key: id("cvk"),
        pan,
        expiry: CardExpiry::new("2512").unwrap(),
        kind: CardValidationKind::Cvv2,
        value: "123".parse().unwrap(),
    });
    let mac = Request::GenerateMac(GenerateMacRequest {
        key: id("mac"),
        algorithm: MacAlgorithm::Iso9797Alg3(paycrypto::algo::mac::Padding::Method2),
        data: vec![0x42; 64],
        mac_length: Some(4),
    });

    let mut g = c.benchmark_group("aws_backend_over_emulator");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(20);
    for (name, req) in [
        ("translate_pin", translate),
        ("verify_cvv2", cvv),
        ("generate_mac", mac),
    ] {
        g.bench_function(format!("{name}_x{BATCH}_concurrent"), |b| {
            b.iter(|| {
                let aws = aws.clone();
                let req = req.clone();
                rt.block_on(async move {
                    let mut set = tokio::task::JoinSet::new();
                    for _ in 0..BATCH {
                        let aws = aws.clone();
                        let req = req.clone();
                        set.spawn(async move { aws.execute(req).await });
                    }
                    while let Some(r) = set.join_next().await {
                        r.unwrap().unwrap();
                    }
                })
            })
        });
    }
    g.finish();
    rt.block_on(emu.shutdown());
}

criterion_group!(benches, bench);
criterion_main!(benches);
