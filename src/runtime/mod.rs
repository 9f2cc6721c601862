//! The runtime keymaster: `aegisctl run` and `aegisctl env` resolve one process's secrets from
//! the topology's `runtime:` block so that the process never talks to OpenBao itself.
//!
//! The pipeline is the same at every start: log in as the host ([`login`]) → resolve the
//! profile — static KV values, scoped secrets, dynamic credentials, Infisical secrets — with every
//! request in parallel ([`resolve`], [`scopes`], [`leases`]) → record who asked for what
//! ([`audit`], never a value) → hand the values over: a child process ([`exec`]) or a file or
//! stdout ([`output`]). A failure before the hand-over revokes whatever was leased, so nothing is
//! left behind but the audit record.

pub mod audit;
pub mod error;
pub mod exec;
pub mod keymaster;
pub mod kv;
pub mod leases;
pub mod login;
pub mod output;
pub mod profile;
pub mod renew;
pub mod resolve;
pub mod scopes;

pub use error::RuntimeError;
