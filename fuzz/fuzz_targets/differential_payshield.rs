//! Differential: the software reference against the payShield simulator,
//! in process (no sockets), with the variant LMK and with the key-block LMK:
//! `PayShieldBackend::in_process` sends every host command through the
//! client's encoders to the simulator's `Sim::handle` and parses its answer
//! with the client's response parsers. Each holds the fixed test key set
//! (under the public test LMKs); every request (well formed or with a broken
//! field, `testing::RawRequest`) must get the same answer by meaning, or the
//! same refusal. Requests naming a test key a simulator cannot hold (AES
//! keys under the variant LMK) are skipped for it (`testing::holds_keys`);
//! requests it does not declare must be unsupported (`testing::differential`).
//! A disagreement is a crash whose message names the LMK, the operation and
//! what differed.
#![no_main]
use libfuzzer_sys::fuzz_target;
use paycrypto::payshield::{KeyBlockLmk, KeyTable, PayShieldBackend, VariantLmk};
use paycrypto::server::payshield::Sim;
use paycrypto::testing::{self, KeySet, RawRequest};
use paycrypto::SoftwareBackend;
use std::sync::{Arc, OnceLock};

struct World {
    rt: tokio::runtime::Runtime,
    reference: SoftwareBackend,
    /// (LMK name, backend, the test keys it holds).
    payshields: Vec<(&'static str, PayShieldBackend, KeySet)>,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (reference, payshields) = rt.block_on(async {
            let reference = testing::software_reference().await;
            let variant = Sim::new(VariantLmk::test_lmk(), 4);
            let key_block = variant.clone().with_key_block_lmk(KeyBlockLmk::test_lmk());
            let mut payshields = Vec::new();
            for (name, sim) in [("variant", variant), ("key-block", key_block)] {
                let ps = PayShieldBackend::in_process(Arc::new(sim), 4, KeyTable::new())
                    .expect("in-process link");
                let keys = testing::load_payshield(&ps)
                    .await
                    .expect("test keys on the simulator");
                payshields.push((name, ps, keys));
            }
            (reference, payshields)
        });
        World {
            rt,
            reference,
            payshields,
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
    for (lmk, ps, keys) in &w.payshields {
        if !testing::holds_keys(keys, &r.0) {
            continue;
        }
        w.rt.block_on(async {
            if let Err(d) = testing::differential(&w.reference, ps, r.0.clone()).await {
                panic!("software and the payShield simulator ({lmk} LMK) disagree: {d}");
            }
        });
    }
});
