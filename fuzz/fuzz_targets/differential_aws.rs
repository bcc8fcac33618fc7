//! Differential: the software reference against AWS Payment Cryptography
//! over the emulator, through the official AWS SDK in process (no sockets;
//! `AwsBackend::in_process`). Both hold the fixed test key set; every
//! request (well formed or with a broken field, `testing::RawRequest`) must
//! get the same answer by meaning, or the same refusal. A disagreement is a
//! crash whose message names the operation and what differed.
#![no_main]
use libfuzzer_sys::fuzz_target;
use paycrypto::aws::AwsBackend;
use paycrypto::server::aws::Emulator;
use paycrypto::testing::{self, RawRequest};
use paycrypto::SoftwareBackend;
use std::sync::OnceLock;

struct World {
    rt: tokio::runtime::Runtime,
    reference: SoftwareBackend,
    aws: AwsBackend,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (reference, aws) = rt.block_on(async {
            let reference = testing::software_reference().await;
            let emulator = Emulator::new(Default::default()).expect("emulator");
            let aws = AwsBackend::in_process(emulator).await;
            testing::load(&aws)
                .await
                .expect("test keys on the emulator");
            (reference, aws)
        });
        World { rt, reference, aws }
    })
}

fuzz_target!(|r: RawRequest| {
    // State-changing operations (generate, import, delete) are not compared
    // (as in the shadow layer), and an import through AWS costs an RSA key
    // pair per call: leave them to the other targets.
    if !r.0.operation().is_idempotent() {
        return;
    }
    let w = world();
    w.rt.block_on(async {
        if let Err(d) = testing::differential(&w.reference, &w.aws, r.0).await {
            panic!("software and AWS disagree: {d}");
        }
    });
});
