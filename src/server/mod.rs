//! Simulators: network services that speak a real product's wire protocol,
//! built on the software reference backend, so users can develop and run CI
//! offline.

#[cfg(feature = "server")]
pub mod aws;
