//! payShield backend throughput: pipelined operations over one loopback
//! connection and over a pool, against the in-process simulator; and the
//! client-side codec cost per operation.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use paycrypto::algo::cipher::kcv_tdes;
use paycrypto::keyload::{combine_components, tr31_import};
use paycrypto::ops::*;
use paycrypto::payshield::codec;
use paycrypto::payshield::{
    KeyScheme, KeyTable, KeyType, PayShieldBackend, PayShieldConfig, TableKey, VariantLmk,
};
use paycrypto::server::payshield::{start, SimConfig};
use paycrypto::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

const C1: &str = "0123456789ABCDEFFEDCBA9876543210";
const C2: &str = "5B5B5B5B5B5B5B5B5B5B5B5B5B5B5B5B";

fn id(s: &str) -> KeyId {
    KeyId::new(s).unwrap()
}

async fn setup(connections: usize) -> (paycrypto::server::payshield::SimHandle, PayShieldBackend) {
    let sim = start(SimConfig::default()).await.unwrap();
    let (c1, c2) = (hex::decode(C1).unwrap(), hex::decode(C2).unwrap());
    let kek = combine_components(KeyAlgorithm::Tdes2, &[&c1, &c2]).unwrap();
    let t = KeyTable::new();
    t.insert(
        id("kek"),
        TableKey {
            key_type: KeyType::ZMK,
            key: VariantLmk::test_lmk()
                .encrypt_key(KeyType::ZMK, KeyScheme::U, &kek)
                .unwrap(),
            attributes: KeyAttributes::new(
                KeyUsage::KeyEncryption,
                KeyAlgorithm::Tdes2,
                ModesOfUse::BOTH,
            ),
            kcv: Kcv(kcv_tdes(&kek).unwrap()),
        },
    )
    .unwrap();
    let mut cfg = PayShieldConfig::new(sim.addr().to_string());
    cfg.connections = connections;
    cfg.max_in_flight = 512;
    let ps = PayShieldBackend::connect(cfg, t).await.unwrap();
    let cvk = hex::decode(C1).unwrap();
    let req = tr31_import(
        id("kek"),
        KeyAlgorithm::Tdes2,
        &kek,
        id("cvk"),
        KeyAttributes::new(
            KeyUsage::CardVerification,
            KeyAlgorithm::Tdes2,
            ModesOfUse::GENERATE_VERIFY,
        ),
        &cvk,
    )
    .unwrap();
    ps.import_key(req).await.unwrap();
    (sim, ps)
}

fn cvv_request(i: usize) -> GenerateCardValidationRequest {
    GenerateCardValidationRequest {
        key: id("cvk"),
        pan: Pan::new(&format!("4{:015}", i)).unwrap(),
        expiry: CardExpiry::new("2512").unwrap(),
        kind: CardValidationKind::Cvv2,
        length: paycrypto::CvvLength::THREE,
    }
}

/// Runs `n` CVV generations with `concurrency` callers in flight.
async fn pipelined(ps: &PayShieldBackend, n: u64, concurrency: usize) -> Duration {
    let ps = Arc::new(ps.clone());
    let per = (n as usize).div_ceil(concurrency);
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for c in 0..concurrency {
        let ps = Arc::clone(&ps);
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                ps.generate_card_validation(cvv_request(c * per + i))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    t0.elapsed()
}

fn throughput(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("payshield_pipelined_cvv");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(5));
    for connections in [1usize, 4] {
        let (_sim, ps) = rt.block_on(setup(connections));
        g.bench_function(format!("{connections}_connection(s)_64_in_flight"), |b| {
            b.iter_custom(|iters| rt.block_on(pipelined(&ps, iters.max(64), 64)))
        });
    }
    g.finish();
}

/// Client-side cost of one operation without the network: encode the
/// request, frame it, split the response frame and parse it.
fn client_codec(c: &mut Criterion) {
    let lmk = VariantLmk::test_lmk();
    let cvk = lmk
        .encrypt_key(KeyType::CVK, KeyScheme::U, &hex::decode(C1).unwrap())
        .unwrap();
    let mut resp = Vec::new();
    codec::write_frame(&mut resp, &[b"0042CX00561"]).unwrap();
    c.bench_function("payshield_client_codec_cw", |b| {
        b.iter(|| {
            let mut body = Vec::with_capacity(64);
            codec::request::cw(&mut body, &cvk, "4111111111111111", "2512", "000");
            let mut frame = Vec::with_capacity(80);
            codec::write_frame(&mut frame, &[b"0042", &body]).unwrap();
            let (_, p) = codec::split_frame(&resp).unwrap();
            let h = codec::parse_response(p, 4).unwrap();
            std::hint::black_box((frame, codec::parse_cx(h.body).unwrap()))
        })
    });
}

/// KW (ARQC with the EMV common session key, ARPC method 2): the client
/// encode alone, and the simulator's whole command (parse, LMK decrypt, ICC
/// MK and session key derivation, MAC, ARPC) on one request payload.
fn kw(c: &mut Criterion) {
    use paycrypto::payshield::codec::kw::{
        encode_kw, pan_psn_16, KwArpc, KwPanPsn, KwRequest, KwScheme,
    };
    let lmk = VariantLmk::test_lmk();
    let req = KwRequest {
        scheme: KwScheme::CommonOptionA,
        mk: lmk
            .encrypt_key(KeyType::MK_AC, KeyScheme::U, &hex::decode(C1).unwrap())
            .unwrap(),
        pan_psn: KwPanPsn::Packed16(pan_psn_16("4111111111111111", "01")),
        atc: [0x00, 0x5B],
        data: Some(vec![0x5A; 40]),
        arqc: [0xA5; 8],
        arpc: KwArpc::Method2 {
            csu: [0, 0x12, 0, 0],
            proprietary: vec![],
        },
    };
    c.bench_function("payshield_client_codec_kw", |b| {
        b.iter(|| {
            let mut body = Vec::with_capacity(128);
            encode_kw(&mut body, std::hint::black_box(&req)).unwrap();
            body
        })
    });
    let sim = paycrypto::server::payshield::Sim::new(lmk, 4);
    let mut payload = b"0042".to_vec();
    encode_kw(&mut payload, &req).unwrap();
    c.bench_function("payshield_sim_kw_verify", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(32);
            sim.handle(std::hint::black_box(&payload), &mut out);
            out
        })
    });
}

criterion_group!(benches, throughput, client_codec, kw);
criterion_main!(benches);
