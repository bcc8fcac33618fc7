//! Property tests over the software backend: random inputs never panic, bad
//! input gets a typed error, and round trips hold.

mod common;

use common::{id, load, load_kek};
use paycrypto::algo::cipher::{fix_odd_parity, BlockCipher};
use paycrypto::algo::pinblock;
use paycrypto::ops::*;
use paycrypto::*;
use proptest::prelude::*;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn tdes_key(mut k: [u8; 16]) -> [u8; 16] {
    fix_odd_parity(&mut k);
    k
}

fn format_of(i: u8) -> PinBlockFormat {
    PinBlockFormat::from_code(i % 5).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random zone keys, PANs, PINs and format pairs: a translate either
    /// succeeds and keeps the PIN, or is refused with a typed error that the
    /// PCI rules or key/format rules explain.
    #[test]
    fn translate_keeps_pin_or_refuses(
        k1 in any::<[u8; 16]>(), k2 in any::<[u8; 16]>(), aes in any::<[u8; 16]>(),
        pan in "[0-9]{12,19}", pin in "[0-9]{4,12}", fin in 0u8..5, fout in 0u8..5,
    ) {
        rt().block_on(async {
            let b = SoftwareBackend::new();
            load_kek(&b).await;
            let (k1, k2) = (tdes_key(k1), tdes_key(k2));
            load(&b, "in", KeyUsage::PinEncryption, KeyAlgorithm::Tdes2, ModesOfUse::BOTH, &k1).await.unwrap();
            load(&b, "out", KeyUsage::PinEncryption, KeyAlgorithm::Tdes2, ModesOfUse::BOTH, &k2).await.unwrap();
            load(&b, "out-aes", KeyUsage::PinEncryption, KeyAlgorithm::Aes128, ModesOfUse::BOTH, &aes).await.unwrap();
            let (fin, fout) = (format_of(fin), format_of(fout));
            let in_cipher = if fin == PinBlockFormat::Iso4 { BlockCipher::aes(&aes) } else { BlockCipher::tdes(&k1) }.unwrap();
            let in_key = if fin == PinBlockFormat::Iso4 { "out-aes" } else { "in" };
            let out_key = if fout == PinBlockFormat::Iso4 { "out-aes" } else { "out" };
            let p = Pin::new(&pin).unwrap();
            let block = pinblock::encrypt_pin_block(&in_cipher, fin, &p, Some(&pan), &mut rand::rng()).unwrap();
            let r = b.translate_pin(TranslatePinRequest {
                incoming_key: PinKey::Key(id(in_key)),
                incoming_format: fin,
                outgoing_key: id(out_key),
                outgoing_format: fout,
                pan: Pan::new(&pan).unwrap(),
                pin_block: block,
            }).await;
            let allowed = pinblock::check_translation(fin, fout).is_ok();
            match r {
                Ok(out) => {
                    prop_assert!(allowed);
                    let c = if fout == PinBlockFormat::Iso4 { BlockCipher::aes(&aes) } else { BlockCipher::tdes(&k2) }.unwrap();
                    let back = pinblock::decrypt_pin_block(&c, fout, out.pin_block.as_bytes(), Some(&pan)).unwrap();
                    prop_assert_eq!(back.as_str(), pin.as_str());
                }
                Err(e) => {
                    prop_assert!(!allowed, "allowed translation refused: {}", e);
                    prop_assert_eq!(e.kind(), ErrorKind::InvalidInput);
                    prop_assert!(!e.to_string().contains(&pan));
                }
            }
            Ok(())
        })?;
    }

    /// Garbage PIN blocks, KSNs and data never panic: typed errors only.
    #[test]
    fn garbage_never_panics(
        block in proptest::collection::vec(any::<u8>(), 8..=16),
        ksn in proptest::collection::vec(any::<u8>(), 0..14),
        data in proptest::collection::vec(any::<u8>(), 0..40),
        iv in proptest::collection::vec(any::<u8>(), 0..20),
        fin in 0u8..5,
    ) {
        rt().block_on(async {
            let b = SoftwareBackend::new();
            load_kek(&b).await;
            let k = tdes_key([0x3C; 16]);
            load(&b, "zpk", KeyUsage::PinEncryption, KeyAlgorithm::Tdes2, ModesOfUse::BOTH, &k).await.unwrap();
            load(&b, "bdk", KeyUsage::Bdk, KeyAlgorithm::Tdes2, ModesOfUse::DERIVE, &k).await.unwrap();
            load(&b, "dek", KeyUsage::DataEncryption, KeyAlgorithm::Aes128, ModesOfUse::BOTH, &[7; 16]).await.unwrap();
            if let Ok(pb) = EncryptedPinBlock::from_bytes(&block) {
                let _ = b.translate_pin(TranslatePinRequest {
                    incoming_key: PinKey::Key(id("zpk")),
                    incoming_format: format_of(fin),
                    outgoing_key: id("zpk"),
                    outgoing_format: PinBlockFormat::Iso0,
                    pan: Pan::new("4111111111111111").unwrap(),
                    pin_block: pb,
                }).await;
            }
            if let Ok(ksn) = Ksn::from_bytes(&ksn) {
                let d = Dukpt { bdk: id("bdk"), ksn, key_type: KeyAlgorithm::Tdes2 };
                let r = b.decrypt_data(DecryptDataRequest {
                    key: DataKey::Dukpt { dukpt: d, variant: DukptVariant::Request },
                    mode: CipherMode::Cbc { iv: iv.clone() },
                    ciphertext: data.clone(),
                }).await;
                if let Err(e) = r { prop_assert!(!e.kind().is_transient()); }
            }
            let r = b.decrypt_data(DecryptDataRequest {
                key: DataKey::Key(id("dek")),
                mode: CipherMode::Cbc { iv },
                ciphertext: data,
            }).await;
            if let Err(e) = r { prop_assert_eq!(e.kind(), ErrorKind::InvalidInput); }
            Ok(())
        })?;
    }

    /// Data encrypt/decrypt round trip for random keys, modes and lengths.
    #[test]
    fn data_round_trip(key in any::<[u8; 32]>(), blocks in 1usize..6, cbc in any::<bool>(), seed in any::<u8>()) {
        rt().block_on(async {
            let b = SoftwareBackend::new();
            load_kek(&b).await;
            load(&b, "dek", KeyUsage::DataEncryption, KeyAlgorithm::Aes256, ModesOfUse::BOTH, &key).await.unwrap();
            let plain: Vec<u8> = (0..blocks * 16).map(|i| (i as u8) ^ seed).collect();
            let mode = if cbc { CipherMode::Cbc { iv: vec![seed; 16] } } else { CipherMode::Ecb };
            let ct = b.encrypt_data(EncryptDataRequest { key: DataKey::Key(id("dek")), mode: mode.clone(), plaintext: SecretBytes::from_slice(&plain) }).await.unwrap();
            prop_assert_ne!(&ct.ciphertext, &plain);
            let pt = b.decrypt_data(DecryptDataRequest { key: DataKey::Key(id("dek")), mode, ciphertext: ct.ciphertext }).await.unwrap();
            prop_assert_eq!(pt.plaintext.expose(), &plain[..]);
            Ok(())
        })?;
    }
}
