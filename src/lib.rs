//! pamform: declarative plan/apply provisioning for Bravura Privilege teams, OTP API users and
//! check-outs. The binary in `main.rs` is a thin shell over this library.
//!
//! Dependencies point one way: `cli` -> {`manifest`, `apply`, `state`, `output`} -> `plan` ->
//! `model`. `plan` and `model` import nothing else of the crate; `target` and `state` know only
//! `model` (and `secret`, `crypto`).

pub mod apply;
pub mod bench;
pub mod cli;
pub mod clock;
pub mod crypto;
pub mod export;
pub mod failpoint;
pub mod fsutil;
pub mod keys;
pub mod manifest;
pub mod model;
pub mod output;
pub mod pamutil;
pub mod plan;
pub mod saved_plan;
pub mod secret;
pub mod state;
pub mod target;
pub mod workspace;
