//! Keycloak: the admin client the Keycloak kinds share, and the kinds (`kinds/`).
//!
//! Keycloak is driven through its admin REST API with a client of our own (see
//! DEPENDENCIES.md): one admin login per run whose token is renewed before it expires, bodies
//! as `serde_json::Value` so that every declared field passes through, names percent-encoded
//! as path data ([`crate::backends::path::ApiPath`]), and the secrets Keycloak returns in clear
//! taken out of its answers at once ([`redact::redact_client`]). The server behaviour it is
//! written against is `contracts/keycloak-admin-api.md`, its addendum first.

pub mod auth;
pub mod client;
pub mod error;
pub mod ids;
pub mod kinds;
mod message;
pub mod redact;

pub use auth::AdminAuth;
pub use client::{Created, KeycloakClient, admin_realm};
pub use error::KeycloakError;
pub use ids::{IdKind, Ids};
pub use redact::{redact_client, redact_credential};
