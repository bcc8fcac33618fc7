//! The conformance suite end to end on the software backend: how long a CI
//! run of `paycrypto conformance` costs beyond the backend's own latency.
//! Run: `cargo bench --bench conformance --features conformance`.
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

criterion_group!(benches, bench);
criterion_main!(benches);
