//! Asymmetric key exchange shared by the software backend and the AWS
//! emulator: TR-34 key blocks ([`tr34`]), ECDH key agreement ([`ecdh`]) and
//! the key pairs and certificates they use ([`pki`]). One place per rule.

pub(crate) mod ecdh;
pub(crate) mod pki;
pub(crate) mod tr34;
