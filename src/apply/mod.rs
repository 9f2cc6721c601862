//! Apply: the executor that walks a plan's dependency graph, the lock that keeps two applies
//! apart, and the plan file that lets a reviewed plan be applied later.

pub mod executor;
pub mod lock;
pub mod planfile;

pub use executor::{ApplyReport, Outcome, Reporter, execute};
