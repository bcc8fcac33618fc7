//! Differential: the software reference against the payShield simulator,
//! in process (no sockets): `PayShieldBackend::in_process` sends every host
//! command through the client's encoders to the simulator's `Sim::handle`
//! and parses its answer with the client's response parsers. Both hold the
//! fixed test key set (on the payShield under the public test LMK); every
//! request (well formed or with a broken field, `testing::RawRequest`) must
//! get the same answer by meaning, or the same refusal. Requests the
//! variant-LMK payShield does not declare are skipped by `differential`
//! (unsupported on the candidate). A disagreement is a crash whose message
//! names the operation and what differed.
#![no_main]
use libfuzzer_sys::fuzz_target;
use paycrypto::payshield::{KeyTable, PayShieldBackend, VariantLmk};
use paycrypto::server::payshield::Sim;
use paycrypto::testing::{self, KeySet, RawRequest};
use paycrypto::SoftwareBackend;
use std::sync::{Arc, OnceLock};

struct World {
    rt: tokio::runtime::Runtime,
    reference: SoftwareBackend,
    payshield: PayShieldBackend,
    /// The test keys the payShield holds (the variant LMK cannot hold the
    /// AES roles).
    keys: KeySet,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (reference, payshield, keys) = rt.block_on(async {
            let reference = testing::software_reference().await;
            let sim = Arc::new(Sim::new(VariantLmk::test_lmk(), 4));
            let payshield =
                PayShieldBackend::in_process(sim, 4, KeyTable::new()).expect("in-process link");
            let keys = testing::load_payshield(&payshield)
                .await
                .expect("test keys on the simulator");
            (reference, payshield, keys)
        });
        World {
            rt,
            reference,
            payshield,
            keys,
        }
    })
}

fuzz_target!(|r: RawRequest| {
    // State-changing operations (generate, import, delete) are not compared,
    // as in the shadow layer.
    if !r.0.operation().is_idempotent() {
        return;
    }
    let w = world();
    if !testing::holds_keys(&w.keys, &r.0) {
        return;
    }
    w.rt.block_on(async {
        if let Err(d) = testing::differential(&w.reference, &w.payshield, r.0).await {
            panic!("software and the payShield simulator disagree: {d}");
        }
    });
});
