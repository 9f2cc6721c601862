//! Apply: the executor that walks a plan's dependency graph, the recorder that writes the
//! ledger as the apply goes, and the plan file that lets a reviewed plan be applied later.

pub mod executor;
mod levels;
pub mod outcome;
mod outputs;
pub mod planfile;
pub mod record;

pub use executor::{ApplyReport, Outcome, Reporter, execute};
