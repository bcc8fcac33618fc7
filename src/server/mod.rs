//! Simulators: products, not test hacks. Each speaks a real wire protocol so
//! code tested against it works against the real system.

pub mod payshield;
