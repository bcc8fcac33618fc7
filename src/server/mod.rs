//! Simulators: products, not test hacks. Each speaks a real product's wire
//! protocol and is built on the software reference backend, so code tested
//! against it works against the real system, offline.

pub mod aws;
pub mod payshield;
