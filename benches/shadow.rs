//! Overhead of `Shadow` on the primary's latency, software primary and
//! software candidate. Run: `cargo bench --features layers --bench shadow`.
//!
//! Two parts: criterion's mean time per call (`shadow/primary_alone` vs
//! `shadow/shadowed`), then tail latency: per-call latencies of both set-ups
//! measured in alternating rounds and printed as p50/p95/p99 with the
//! overhead at p99. Results, command and machine go in BENCHMARKS.md.
#![allow(missing_docs)]

use criterion::Criterion;
use paycrypto::algo::{cipher::BlockCipher, dukpt, emv, pinblock};
use paycrypto::keyload::{combine_components, kek_from_components, tr31_import};
use paycrypto::layers::{DiscrepancyReport, Shadow};
use paycrypto::ops::*;
use paycrypto::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEK1: &str = "0123456789ABCDEFFEDCBA9876543210";
const KEK2: &str = "1F1F1F1F1F1F1F1F0E0E0E0E0E0E0E0E";
const ZPK_IN: &str = "13345779133457791334577913345779";
const ZPK_OUT: &str = "0123456789ABCDEFFEDCBA9876543210";
const CVK: &str = "4567012389ABCDEFBA98FEDC32107654";
const IMK: &str = "0123456789ABCDEFFEDCBA9876543210";
const BDK: &str = "0123456789ABCDEFFEDCBA9876543210";
const PAN: &str = "4111111111111111";

fn hx(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}
fn id(s: &str) -> KeyId {
    KeyId::new(s).unwrap()
}

async fn loaded(name: &str) -> Arc<SoftwareBackend> {
    let b = SoftwareBackend::with_name(name);
    let (c1, c2) = (hx(KEK1), hx(KEK2));
    b.import_key(kek_from_components(id("kek"), KeyAlgorithm::Tdes2, &[&c1, &c2]).unwrap())
        .await
        .unwrap();
    let kek = combine_components(KeyAlgorithm::Tdes2, &[&c1, &c2]).unwrap();
    for (name, key, usage, modes) in [
        ("zpk/in", ZPK_IN, KeyUsage::PinEncryption, ModesOfUse::BOTH),
        (
            "zpk/out",
            ZPK_OUT,
            KeyUsage::PinEncryption,
            ModesOfUse::BOTH,
        ),
        (
            "cvk",
            CVK,
            KeyUsage::CardVerification,
            ModesOfUse::GENERATE_VERIFY,
        ),
        ("imk", IMK, KeyUsage::EmvAppCryptogram, ModesOfUse::DERIVE),
        ("bdk", BDK, KeyUsage::Bdk, ModesOfUse::DERIVE),
    ] {
        let attrs = KeyAttributes::new(usage, KeyAlgorithm::Tdes2, modes);
        b.import_key(
            tr31_import(
                id("kek"),
                KeyAlgorithm::Tdes2,
                &kek,
                id(name),
                attrs,
                &hx(key),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    }
    Arc::new(b)
}

/// The gateway mix: PIN translate (ISO 0 → ISO 0), DUKPT decrypt, CVV2 verify, ARQC verify.
fn mix() -> Vec<Request> {
    let pan = Pan::new(PAN).unwrap();
    let zpk = BlockCipher::tdes(&hx(ZPK_IN)).unwrap();
    let pin = Pin::new("1234").unwrap();
    let block = pinblock::encrypt_pin_block(
        &zpk,
        PinBlockFormat::Iso0,
        &pin,
        Some(PAN),
        &mut rand::rng(),
    )
    .unwrap();
    let ksn = Ksn::parse_hex("FFFF9876543210E00001").unwrap();
    let dk = dukpt::tdes_working_key(&hx(BDK), &ksn, dukpt::TdesDukptUsage::DataRequest).unwrap();
    let mut data = vec![0x42u8; 32];
    BlockCipher::tdes(dk.as_slice())
        .unwrap()
        .encrypt_cbc(&[0; 8], &mut data)
        .unwrap();
    let atc = [0x00, 0x2A];
    let tx = hx("0000000010000000000000000840000000000008402512240100B1C2D3E45C00002A0380000000");
    let mk = emv::derive_icc_mk(&hx(IMK), PAN, Some("01"), emv::MkDerivation::OptionA).unwrap();
    let sk = emv::derive_session_key(
        mk.as_slice(),
        emv::SessionKeyDerivation::EmvCommonAtc { atc: &atc },
    )
    .unwrap();
    let arqc = emv::generate_ac(sk.as_slice(), &tx, Iso9797Padding::Method2).unwrap();
    vec![
        TranslatePinRequest {
            incoming_key: PinKey::Key(id("zpk/in")),
            incoming_format: PinBlockFormat::Iso0,
            outgoing_key: id("zpk/out"),
            outgoing_format: PinBlockFormat::Iso0,
            pan: pan.clone(),
            pin_block: block,
        }
        .into(),
        DecryptDataRequest {
            key: DataKey::Dukpt {
                dukpt: Dukpt {
                    bdk: id("bdk"),
                    ksn,
                    key_type: KeyAlgorithm::Tdes2,
                },
                variant: DukptVariant::Request,
            },
            mode: CipherMode::Cbc { iv: vec![0; 8] },
            ciphertext: data,
        }
        .into(),
        VerifyCardValidationRequest {
            key: id("cvk"),
            pan: pan.clone(),
            expiry: CardExpiry::new("2512").unwrap(),
            kind: CardValidationKind::Cvv2,
            value: "123".into(),
        }
        .into(),
        VerifyArqcRequest {
            key: id("imk"),
            mk_derivation: emv::MkDerivation::OptionA,
            session: SessionKeyDerivation::EmvCommon { atc },
            pan,
            psn: Psn::new("01").unwrap(),
            transaction_data: tx,
            padding: Iso9797Padding::Method2,
            arqc,
            arpc: Some(ArpcMethod::Method1 { arc: *b"00" }),
        }
        .into(),
    ]
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted.get(i).copied().unwrap_or_default()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let primary = rt.block_on(loaded("primary"));
    let candidate = rt.block_on(loaded("candidate"));
    let report = Arc::new(DiscrepancyReport::new());
    // A queue deep enough that no request is dropped within a measurement
    // (the shadow is flushed between samples): every call is shadowed.
    let shadow = Arc::new(
        Shadow::builder(primary.clone(), candidate, report.clone())
            .queue_capacity(1 << 17)
            .build(),
    );
    let reqs = mix();

    // Part 1: criterion, mean per call of the 4-request mix. The calls run
    // inside a runtime task, as a gateway's handlers do.
    let mut c = Criterion::default().configure_from_args();
    {
        let mut g = c.benchmark_group("shadow");
        let setups: [(&str, Arc<dyn Backend>); 2] = [
            ("primary_alone", primary.clone()),
            ("shadowed", shadow.clone()),
        ];
        for (name, backend) in setups {
            g.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let (backend, reqs) = (backend.clone(), reqs.clone());
                    let elapsed = rt
                        .block_on(rt.spawn(async move {
                            let start = Instant::now();
                            for _ in 0..iters {
                                for r in &reqs {
                                    backend.execute(r.clone()).await.unwrap();
                                }
                            }
                            start.elapsed()
                        }))
                        .unwrap();
                    rt.block_on(shadow.flush());
                    elapsed
                })
            });
        }
        g.finish();
    }
    c.final_summary();

    // Part 2: tail latency, per call, alternating rounds. Only under
    // `cargo bench` (which passes `--bench`), not under `cargo test`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rounds = 20;
    let per_round = 2_000;
    let (mut alone, mut shadowed) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        for (backend, out) in [
            (primary.clone() as Arc<dyn Backend>, &mut alone),
            (shadow.clone() as Arc<dyn Backend>, &mut shadowed),
        ] {
            let reqs = reqs.clone();
            let lat = rt
                .block_on(rt.spawn(async move {
                    let mut lat = Vec::with_capacity(per_round);
                    for i in 0..per_round {
                        let r = reqs[i % reqs.len()].clone();
                        let start = Instant::now();
                        backend.execute(r).await.unwrap();
                        lat.push(start.elapsed());
                    }
                    lat
                }))
                .unwrap();
            out.extend(lat);
            // Let the candidate catch up so no background work spills into
            // the next primary-alone round.
            rt.block_on(shadow.flush());
        }
    }
    alone.sort();
    shadowed.sort();
    println!(
        "\ntail latency per call ({} calls each, mixed operations):",
        alone.len()
    );
    for (name, v) in [("primary_alone", &alone), ("shadowed", &shadowed)] {
        println!(
            "  {name:<14} p50 {:>7.2} µs   p95 {:>7.2} µs   p99 {:>7.2} µs",
            percentile(v, 0.50).as_secs_f64() * 1e6,
            percentile(v, 0.95).as_secs_f64() * 1e6,
            percentile(v, 0.99).as_secs_f64() * 1e6,
        );
    }
    let p99a = percentile(&alone, 0.99).as_secs_f64();
    let p99s = percentile(&shadowed, 0.99).as_secs_f64();
    println!("  overhead at p99: {:+.1} %", (p99s / p99a - 1.0) * 100.0);
    let stats = shadow.stats();
    let snap = report.snapshot();
    println!(
        "  shadow: {} queued, {} dropped, {} compared, {} matched, {} mismatched",
        stats.queued,
        stats.dropped,
        stats.completed,
        snap.sum(|r| r.matched),
        snap.sum(|r| r.mismatched)
    );
}
