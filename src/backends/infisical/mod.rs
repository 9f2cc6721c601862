//! Infisical: the API client the Infisical kinds share, and the kinds (`kinds/`).
//!
//! Infisical is driven through its REST API with a client of our own (see DEPENDENCIES.md): one
//! Universal Auth login per run whose token is renewed before it expires, bodies as
//! `serde_json::Value`, names percent-encoded as path data
//! ([`crate::backends::path::ApiPath`]), and secret values digested the moment they are read.
//! The server behaviour it is written against is `contracts/infisical-api.md` (current
//! generation; its §12 legacy rows where the tool must tolerate them).

pub mod calls;
pub mod client;
pub mod error;
pub mod ips;
pub mod kinds;
mod login;
mod message;
pub mod routes;

pub use client::InfisicalClient;
pub use error::InfisicalError;
