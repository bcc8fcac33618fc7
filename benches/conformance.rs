//! The conformance suite end to end on the software backend: how long a CI
//! run of `paycrypto conformance` costs beyond the backend's own latency.
//! With the payShield features, also the suite against the payShield
//! backend over the in-process simulator (TCP on 127.0.0.1).
//! Run: `cargo bench --bench conformance --features conformance`
//! (`--features conformance,payshield,server` for the payShield part).
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use paycrypto::conformance::{provision, run, run_self_provisioned, ProvisionOptions, RunOptions};
use paycrypto::SoftwareBackend;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let opts = RunOptions {
        rounds: 8,
        seed: 1,
        filter: None,
    };
    let mut g = c.benchmark_group("conformance");
    g.sample_size(20);
    g.bench_function("self_provisioned_run_rounds_8", |b| {
        b.iter(|| {
            let r = rt.block_on(run_self_provisioned(&SoftwareBackend::new(), &opts));
            assert!(r.is_success());
            black_box(r)
        })
    });
    let backend = SoftwareBackend::new();
    let keys = rt
        .block_on(provision(
            &backend,
            &ProvisionOptions::with_prefix("bench/"),
        ))
        .keys;
    g.bench_function("run_only_rounds_8", |b| {
        b.iter(|| black_box(rt.block_on(run(&backend, &keys, &opts))))
    });
    g.finish();
}

#[cfg(all(feature = "payshield", feature = "server"))]
fn bench_payshield(c: &mut Criterion) {
    use paycrypto::conformance::{payshield_test_lmk_options, run_self_provisioned_with};
    use paycrypto::payshield::{KeyTable, PayShieldBackend, PayShieldConfig};
    use paycrypto::server::payshield::{start, SimConfig};

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (_sim, ps) = rt.block_on(async {
        let sim = start(SimConfig::default()).await.expect("simulator");
        let ps = PayShieldBackend::connect(
            PayShieldConfig::new(sim.addr().to_string()),
            KeyTable::new(),
        )
        .await
        .expect("connect");
        (sim, ps)
    });
    let opts = RunOptions {
        rounds: 8,
        seed: 1,
        filter: None,
    };
    let mut g = c.benchmark_group("conformance");
    g.sample_size(20);
    let mut n = 0u64;
    g.bench_function("payshield_simulator_self_provisioned_rounds_8", |b| {
        b.iter(|| {
            n += 1;
            let r = rt.block_on(async {
                let p = payshield_test_lmk_options(&ps, format!("bench-{n}/"))
                    .await
                    .expect("test LMK");
                let r = run_self_provisioned_with(&ps, &opts, &p).await;
                for k in p.existing_keks.values() {
                    let _ = ps.keys().remove(&k.id);
                }
                r
            });
            assert!(r.is_success());
            black_box(r)
        })
    });
    g.finish();
}

#[cfg(not(all(feature = "payshield", feature = "server")))]
fn bench_payshield(_: &mut Criterion) {}

criterion_group!(benches, bench, bench_payshield);
criterion_main!(benches);
