//! paycrypto
#![forbid(unsafe_code)]
pub mod algo;
