//! The differential fuzz targets' logic, run in every `cargo test`: random
//! requests (`testing::RawRequest` from random bytes, well formed or with a
//! broken field) on the software reference and on the payShield simulator
//! (variant and key-block LMK) and the AWS emulator, both in process (`PayShieldBackend::in_process`,
//! `AwsBackend::in_process`: the real client code, no sockets), compared by
//! `testing::differential`. Also: the in-process payShield link refuses a
//! handler's broken answers with a typed error, never a panic.

use arbitrary::{Arbitrary, Unstructured};
use paycrypto::aws::AwsBackend;
use paycrypto::payshield::{
    HostCommandHandler, KeyBlockLmk, KeyTable, PayShieldBackend, VariantLmk,
};
use paycrypto::server::aws::Emulator;
use paycrypto::server::payshield::Sim;
use paycrypto::testing::{self, KeySet, RawRequest};
use paycrypto::{Backend, ErrorKind, SoftwareBackend};
use proptest::prelude::*;
use std::sync::{Arc, OnceLock};

struct World {
    rt: tokio::runtime::Runtime,
    reference: SoftwareBackend,
    payshield: (PayShieldBackend, KeySet),
    payshield_kb: (PayShieldBackend, KeySet),
    aws: (AwsBackend, KeySet),
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (reference, payshield, payshield_kb, aws) = rt.block_on(async {
            let reference = testing::software_reference().await;
            let sim = Arc::new(Sim::new(VariantLmk::test_lmk(), 4));
            let payshield = PayShieldBackend::in_process(sim, 4, KeyTable::new()).unwrap();
            let ps_keys = testing::load_payshield(&payshield).await.unwrap();
            let sim_kb = Arc::new(
                Sim::new(VariantLmk::test_lmk(), 4).with_key_block_lmk(KeyBlockLmk::test_lmk()),
            );
            let payshield_kb = PayShieldBackend::in_process(sim_kb, 4, KeyTable::new()).unwrap();
            let kb_keys = testing::load_payshield(&payshield_kb).await.unwrap();
            let aws = AwsBackend::in_process(Emulator::new(Default::default()).unwrap()).await;
            let aws_keys = testing::load(&aws).await.unwrap();
            (
                reference,
                (payshield, ps_keys),
                (payshield_kb, kb_keys),
                (aws, aws_keys),
            )
        });
        World {
            rt,
            reference,
            payshield,
            payshield_kb,
            aws,
        }
    })
}

fn run(bytes: &[u8], (candidate, keys): (&dyn Backend, &KeySet)) -> Result<(), TestCaseError> {
    let mut u = Unstructured::new(bytes);
    let Ok(RawRequest(request)) = RawRequest::arbitrary(&mut u) else {
        return Ok(());
    };
    if !request.operation().is_idempotent() || !testing::holds_keys(keys, &request) {
        return Ok(());
    }
    let w = world();
    w.rt.block_on(testing::differential(&w.reference, candidate, request))
        .map_err(|d| TestCaseError::fail(d.to_string()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_payshield_simulator_in_process_agrees_with_software(
        bytes in proptest::collection::vec(any::<u8>(), 0..512)
    ) {
        let (b, k) = &world().payshield;
        run(&bytes, (b, k))?;
    }

    #[test]
    fn the_key_block_payshield_simulator_in_process_agrees_with_software(
        bytes in proptest::collection::vec(any::<u8>(), 0..512)
    ) {
        let (b, k) = &world().payshield_kb;
        run(&bytes, (b, k))?;
    }

    #[test]
    fn the_aws_emulator_in_process_agrees_with_software(
        bytes in proptest::collection::vec(any::<u8>(), 0..512)
    ) {
        let (b, k) = &world().aws;
        run(&bytes, (b, k))?;
    }
}

/// A handler that answers with whatever bytes it was built with.
struct Canned(Vec<u8>);

impl HostCommandHandler for Canned {
    fn handle(&self, _payload: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

#[tokio::test]
async fn the_in_process_link_refuses_broken_answers() {
    let cases: [(&str, &[u8]); 5] = [
        ("nothing", b""),
        ("a cut frame", b"\x00\x0a0000ND00"),
        ("two frames", b"\x00\x080000ND00\x00\x080000ND00"),
        ("another header", b"\x00\x081234ND00"),
        ("another response code", b"\x00\x080000NP00"),
    ];
    for (what, bytes) in cases {
        let ps = PayShieldBackend::in_process(Arc::new(Canned(bytes.to_vec())), 4, KeyTable::new())
            .unwrap();
        let e = ps.diagnostics().await.expect_err(what);
        assert_eq!(e.kind(), ErrorKind::Protocol, "{what}: {e}");
    }
    // A well-formed answer gets through the same path.
    let ok = b"\x00\x210000ND0012345678901234561500-0023".to_vec();
    let ps = PayShieldBackend::in_process(Arc::new(Canned(ok)), 4, KeyTable::new()).unwrap();
    assert!(ps.diagnostics().await.is_ok());
    assert!(PayShieldBackend::in_process(Arc::new(Canned(vec![])), 0, KeyTable::new()).is_err());
}
