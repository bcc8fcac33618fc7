//! Overhead of `Shadow` on the primary's latency, software primary.
//! Run: `cargo bench --features layers --bench shadow`.
//!
//! Three set-ups, called from one task on a 2-worker Tokio runtime with the
//! same 4-operation mix:
//! - `primary_alone`: the software primary;
//! - `shadowed`: `Shadow` over the primary with a software candidate (every
//!   request compared; the candidate's crypto competes for the 2 cores);
//! - `shadowed_instant`: `Shadow` with a candidate that answers at once (a
//!   clone of the primary's answer, no crypto): what the layer itself costs
//!   on the caller's path.
//!
//! Between calls the caller yields to the runtime (outside the timed
//! region), as a gateway task awaiting its next request does, so the
//! background comparisons run while the primary is being measured rather
//! than piling up until the end of a round.
//!
//! Part 1, criterion: `shadow/*`, mean time per call of the mix for the
//! three set-ups; `shadow_layer_cost/*`, the same with an instant primary
//! too, so the difference is the layer's own cost per call in nanoseconds.
//! Part 2 (under `cargo bench` only): tail latency. Each repeat runs
//! alternating rounds of the three set-ups (same runtime, same requests,
//! the order rotated from round to round, the shadows flushed after every
//! round) and prints p99 per set-up; the summary gives p50/p95/p99 over
//! all repeats and the median and range of the p99 overhead over the
//! repeats. `SHADOW_REPEATS`, `SHADOW_ROUNDS`, `SHADOW_CALLS` change the
//! sizes; `SHADOW_YIELD=0` stops the yielding (the comparisons then wait
//! until the end of each round). Results, command and machine go in
//! BENCHMARKS.md.
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
            value: "123".parse().unwrap(),
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

/// A candidate that answers at once with the primary's answer for the
/// operation (recorded beforehand): no crypto, so a comparison costs only
/// the layer's own work.
struct InstantCandidate {
    answers: Vec<(Operation, Response)>,
}

#[async_trait::async_trait]
impl Backend for InstantCandidate {
    fn name(&self) -> &str {
        "instant"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::all()
    }
    async fn execute(&self, request: Request) -> Result<Response> {
        let op = request.operation();
        self.answers
            .iter()
            .find(|(o, _)| *o == op)
            .map(|(_, r)| r.clone())
            .ok_or_else(|| Error::unsupported("not recorded"))
    }
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted.get(i).copied().unwrap_or_default()
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Runs `calls` calls of the mix on `backend` from one runtime task and
/// returns each call's latency. With `yield_between`, the task yields to
/// the runtime between calls (not timed).
fn round(
    rt: &tokio::runtime::Runtime,
    backend: Arc<dyn Backend>,
    reqs: &[Request],
    calls: usize,
    yield_between: bool,
) -> Vec<Duration> {
    let reqs = reqs.to_vec();
    rt.block_on(rt.spawn(async move {
        let mut lat = Vec::with_capacity(calls);
        for i in 0..calls {
            let r = reqs[i % reqs.len()].clone();
            let start = Instant::now();
            backend.execute(r).await.unwrap();
            lat.push(start.elapsed());
            if yield_between {
                tokio::task::yield_now().await;
            }
        }
        lat
    }))
    .unwrap()
}

/// Mean latency per call over `iters` rounds of the mix on `backend`, from
/// one runtime task, in chunks of 64 rounds with the shadows flushed in
/// between (not timed): nothing is dropped and no backlog carries over.
fn per_call(
    rt: &tokio::runtime::Runtime,
    backend: &Arc<dyn Backend>,
    reqs: &[Request],
    iters: u64,
    flush: &dyn Fn(),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(64);
        left -= n;
        let calls = usize::try_from(n).unwrap() * reqs.len();
        total += round(rt, backend.clone(), reqs, calls, true)
            .into_iter()
            .sum::<Duration>();
        flush();
    }
    total / u32::try_from(reqs.len()).unwrap()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let primary = rt.block_on(loaded("primary"));
    let candidate = rt.block_on(loaded("candidate"));
    let reqs = mix();
    let instant = || InstantCandidate {
        answers: reqs
            .iter()
            .map(|r| {
                let a = rt.block_on(primary.execute(r.clone())).unwrap();
                (r.operation(), a)
            })
            .collect(),
    };
    let report = Arc::new(DiscrepancyReport::new());
    let shadow = Arc::new(Shadow::new(primary.clone(), candidate, report.clone()));
    let report_instant = Arc::new(DiscrepancyReport::new());
    let shadow_instant = Arc::new(Shadow::new(
        primary.clone(),
        instant(),
        report_instant.clone(),
    ));
    let instant_primary: Arc<dyn Backend> = Arc::new(instant());
    let shadow_cost = Arc::new(Shadow::new(
        instant_primary.clone(),
        instant(),
        DiscrepancyReport::new(),
    ));
    let flush = || {
        rt.block_on(async {
            shadow.flush().await;
            shadow_instant.flush().await;
            shadow_cost.flush().await;
        })
    };
    let setups: [(&str, Arc<dyn Backend>); 3] = [
        ("primary_alone", primary.clone()),
        ("shadowed", shadow.clone()),
        ("shadowed_instant", shadow_instant.clone()),
    ];

    // Part 1: criterion.
    let mut c = Criterion::default().configure_from_args();
    for (group, setups) in [
        ("shadow", setups.to_vec()),
        (
            "shadow_layer_cost",
            vec![
                ("instant_alone", instant_primary.clone()),
                ("instant_shadowed", shadow_cost.clone() as Arc<dyn Backend>),
            ],
        ),
    ] {
        let mut g = c.benchmark_group(group);
        for (name, backend) in setups {
            g.bench_function(name, |b| {
                b.iter_custom(|iters| per_call(&rt, &backend, &reqs, iters, &flush))
            });
        }
        g.finish();
    }
    c.final_summary();

    // Part 2: tail latency, per call. Only under `cargo bench` (which
    // passes `--bench`), not under `cargo test`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let repeats = env("SHADOW_REPEATS", 7).max(1);
    let rounds = env("SHADOW_ROUNDS", 21).max(1);
    let per_round = env("SHADOW_CALLS", 2_000).max(1);
    let yield_between = env("SHADOW_YIELD", 1) != 0;
    println!(
        "\ntail latency per call: {repeats} repeats x {rounds} rounds x {per_round} calls \
         per set-up (mixed operations; caller yields between calls: {yield_between})"
    );
    let n = setups.len();
    let mut all: Vec<Vec<Duration>> = vec![Vec::new(); n];
    let mut overheads: Vec<Vec<f64>> = vec![Vec::new(); n];
    for rep in 0..repeats {
        let mut lat: Vec<Vec<Duration>> = vec![Vec::new(); n];
        for r in 0..rounds {
            for k in 0..n {
                // Rotated order: no set-up always runs first or last.
                let i = (r + k) % n;
                let backend = setups[i].1.clone();
                lat[i].extend(round(&rt, backend, &reqs, per_round, yield_between));
                // Let the candidate catch up so no background work spills
                // into another set-up's round.
                flush();
            }
        }
        for v in &mut lat {
            v.sort();
        }
        let base = us(percentile(&lat[0], 0.99));
        print!("  repeat {rep}: p99");
        for (i, (name, _)) in setups.iter().enumerate() {
            let p99 = us(percentile(&lat[i], 0.99));
            if i > 0 {
                overheads[i].push((p99 / base - 1.0) * 100.0);
            }
            print!("  {name} {p99:.2} µs");
            all[i].append(&mut lat[i]);
        }
        println!();
    }
    println!("  all repeats ({} calls per set-up):", all[0].len());
    for (i, (name, _)) in setups.iter().enumerate() {
        all[i].sort();
        let v = &all[i];
        print!(
            "  {name:<17} p50 {:>6.2} µs   p95 {:>6.2} µs   p99 {:>6.2} µs",
            us(percentile(v, 0.50)),
            us(percentile(v, 0.95)),
            us(percentile(v, 0.99)),
        );
        if i > 0 {
            let o = &mut overheads[i];
            o.sort_by(f64::total_cmp);
            print!(
                "   p99 overhead over repeats: median {:+.1} %, min {:+.1} %, max {:+.1} %",
                o[o.len() / 2],
                o[0],
                o[o.len() - 1]
            );
        }
        println!();
    }
    for (name, s, r) in [
        ("shadowed", &shadow, &report),
        ("shadowed_instant", &shadow_instant, &report_instant),
    ] {
        let stats = s.stats();
        let snap = r.snapshot();
        println!(
            "  {name}: {} queued, {} dropped, {} compared, {} matched, {} mismatched",
            stats.queued,
            stats.dropped,
            stats.completed,
            snap.sum(|r| r.matched),
            snap.sum(|r| r.mismatched)
        );
    }
}
