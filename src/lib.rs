//! aegisctl converges the secrets and identity backbone of a platform from one topology file.
//!
//! The crate reads like its pipeline:
//!
//! ```text
//! topology file ──parse──▶ Raw ──resolve──▶ Desired            (topology, model)
//!    servers    ──observe─▶ Observed                            (backends)
//! Desired+Observed+Ledger ──diff──▶ Plan ──apply──▶ ApplyReport (plan, apply, state)
//! Desired+Observed+Ledger ──drift──▶ Drift                      (plan::drift)
//! ```
//!
//! Libraries report, the CLI prints: nothing below [`commands`] writes to stdout or stderr.

pub mod apply;
pub mod backends;
pub mod bootstrap;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod duration;
pub mod import;
pub mod model;
pub mod plan;
pub mod printer;
pub mod runtime;
pub mod sensitive;
pub mod sops;
pub mod state;
pub mod topology;
