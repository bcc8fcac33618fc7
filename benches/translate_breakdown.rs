//! Where the time of a TDES ISO 0 -> ISO 0 PIN translate goes, measured on a
//! shared (noisy) machine. Every variant runs in short batches, interleaved
//! round after round; a batch during which the thread was preempted
//! (`nonvoluntary_ctxt_switches` in `/proc/thread-self/status` moved) is
//! thrown away and run again, and each round's ratio to the raw TDES
//! baseline is taken within the round, so load that comes and goes hits all
//! variants alike. Run: `cargo bench --bench translate_breakdown` (optional
//! arguments: rounds, default 41; a name filter). Prints per-variant medians
//! and minima (ns per operation) and the median of the per-round ratios.
#![allow(missing_docs)]

use paycrypto::algo::{cipher::BlockCipher, pinblock};
use paycrypto::ops::*;
use paycrypto::*;
use std::future::Future;
use std::hint::black_box;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

const ZPK1: &str = "13345779133457791334577913345779";
const ZPK2: &str = "0123456789ABCDEFFEDCBA9876543210";
const PAN: &str = "4111111111111111";

fn hx(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}
fn id(s: &str) -> KeyId {
    KeyId::new(s).unwrap()
}

fn setup(rt: &tokio::runtime::Runtime) -> SoftwareBackend {
    use paycrypto::keyload::{combine_components, kek_from_components, tr31_import};
    let b = SoftwareBackend::new();
    let (c1, c2) = (hx(ZPK2), vec![0x5B; 16]);
    let kek = combine_components(KeyAlgorithm::Tdes2, &[&c1, &c2]).unwrap();
    rt.block_on(async {
        b.import_key(kek_from_components(id("kek"), KeyAlgorithm::Tdes2, &[&c1, &c2]).unwrap())
            .await
            .unwrap();
        for (name, k) in [("zpk1", ZPK1), ("zpk2", ZPK2)] {
            let attrs = KeyAttributes::new(
                KeyUsage::PinEncryption,
                KeyAlgorithm::Tdes2,
                ModesOfUse::BOTH,
            );
            let req = tr31_import(
                id("kek"),
                KeyAlgorithm::Tdes2,
                &kek,
                id(name),
                attrs,
                &hx(k),
            )
            .unwrap();
            b.import_key(req).await.unwrap();
        }
    });
    b
}

/// Polls a future that completes without waiting (the software backend's do).
fn poll_ready<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the software backend never waits"),
    }
}

const BATCH: usize = 200;

/// How often this thread has been preempted (0 where /proc is unavailable).
fn preemptions() -> u64 {
    std::fs::read_to_string("/proc/thread-self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("nonvoluntary_ctxt_switches:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

type Variant<'a> = (&'static str, Box<dyn FnMut() -> f64 + 'a>);

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(41);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let b = setup(&rt);
    let pin = Pin::new("1234").unwrap();
    let z1 = BlockCipher::tdes(&hx(ZPK1)).unwrap();
    let z2 = BlockCipher::tdes(&hx(ZPK2)).unwrap();
    let mut rng = rand::rng();
    let block =
        pinblock::encrypt_pin_block(&z1, PinBlockFormat::Iso0, &pin, Some(PAN), &mut rng).unwrap();
    let req = TranslatePinRequest {
        incoming_key: PinKey::Key(id("zpk1")),
        incoming_format: PinBlockFormat::Iso0,
        outgoing_key: id("zpk2"),
        outgoing_format: PinBlockFormat::Iso0,
        pan: Pan::new(PAN).unwrap(),
        pin_block: block.clone(),
    };
    // Time BATCH calls of `f`, each on its own pre-made input; ns per call.
    // Batches the scheduler interrupted are run again (up to 50 times).
    fn batched<I, O>(make: impl Fn() -> I, mut f: impl FnMut(I) -> O) -> f64 {
        let mut ns = 0.0;
        for _ in 0..50 {
            let inputs: Vec<I> = (0..BATCH).map(|_| make()).collect();
            let mut outputs = Vec::with_capacity(BATCH);
            let before = preemptions();
            let t = Instant::now();
            for i in inputs {
                outputs.push(f(black_box(i)));
            }
            ns = t.elapsed().as_nanos() as f64 / BATCH as f64;
            let clean = preemptions() == before;
            drop(black_box(outputs));
            if clean {
                break;
            }
        }
        ns
    }
    let mut variants: Vec<Variant> = vec![
        (
            "raw",
            Box::new(|| {
                batched(
                    || (),
                    |()| {
                        let mut blk = [0u8; 8];
                        blk.copy_from_slice(block.as_bytes());
                        z1.decrypt_ecb(black_box(&mut blk)).unwrap();
                        z2.encrypt_ecb(black_box(&mut blk)).unwrap();
                        blk
                    },
                )
            }),
        ),
        (
            "algo",
            Box::new(|| {
                let mut rng = rand::rng();
                batched(
                    || (),
                    |()| {
                        let p = pinblock::decrypt_pin_block(
                            &z1,
                            PinBlockFormat::Iso0,
                            black_box(block.as_bytes()),
                            Some(PAN),
                        )
                        .unwrap();
                        pinblock::encrypt_pin_block(
                            &z2,
                            PinBlockFormat::Iso0,
                            &p,
                            Some(PAN),
                            &mut rng,
                        )
                        .unwrap()
                    },
                )
            }),
        ),
        (
            "rt_block_on",
            Box::new(|| batched(|| (), |()| rt.block_on(async { black_box(1u8) }))),
        ),
        (
            "backend_ext_block_on",
            Box::new(|| batched(|| req.clone(), |r| rt.block_on(b.translate_pin(r)).unwrap())),
        ),
        (
            "backend_ext_poll",
            Box::new(|| batched(|| req.clone(), |r| poll_ready(b.translate_pin(r)).unwrap())),
        ),
        (
            "execute_poll",
            Box::new(|| {
                batched(
                    || Request::TranslatePin(req.clone()),
                    |r| poll_ready(b.execute(r)).unwrap(),
                )
            }),
        ),
        (
            "drop_request",
            Box::new(|| batched(|| Request::TranslatePin(req.clone()), drop)),
        ),
    ];
    // A non-numeric argument keeps `raw` and the variants whose name contains it.
    if let Some(f) = std::env::args()
        .skip(1)
        .find(|a| a.parse::<usize>().is_err() && !a.starts_with('-'))
    {
        variants.retain(|(name, _)| {
            *name == "raw" || *name == "rt_block_on" || name.contains(f.as_str())
        });
    }
    let n = variants.len();
    let mut samples = vec![Vec::with_capacity(rounds); n];
    // Warm up.
    for (_, f) in variants.iter_mut() {
        for _ in 0..20 {
            f();
        }
    }
    for _ in 0..rounds {
        for (i, (_, f)) in variants.iter_mut().enumerate() {
            samples[i].push(f());
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let raw = samples[0].clone();
    let rt_s = samples[2].clone();
    println!(
        "{rounds} rounds of {BATCH} calls per variant, interleaved, preempted batches rerun; ns per call"
    );
    println!(
        "{:<22} {:>9} {:>9} {:>10} {:>14}",
        "variant", "median", "min", "x raw", "x raw (-rt)"
    );
    for (i, (name, _)) in variants.iter().enumerate() {
        let mut ratio: Vec<f64> = samples[i].iter().zip(&raw).map(|(s, r)| s / r).collect();
        let mut ratio_rt: Vec<f64> = samples[i]
            .iter()
            .zip(&raw)
            .zip(&rt_s)
            .map(|((s, r), t)| (s - t) / r)
            .collect();
        let s = &mut samples[i];
        let min = s.iter().cloned().fold(f64::INFINITY, f64::min);
        let med = median(s);
        let rr = median(&mut ratio);
        let rrt = if name.ends_with("block_on") && *name != "rt_block_on" {
            format!("{:>14.3}", median(&mut ratio_rt))
        } else {
            format!("{:>14}", "")
        };
        println!("{name:<22} {med:>9.1} {min:>9.1} {rr:>10.3} {rrt}");
    }
}
