//! Bootstrap: give an unattended container its first OpenBao credential without a password.
//!
//! For each host, `secret_id` mints a response-wrapped, single-use, CIDR-bound AppRole SecretID
//! and records who minted what (accessors only, never a token) in the ledger and a local
//! JSON-lines file; `render` puts the role ID and the wrapped token into cloud-init user-data,
//! an Incus profile or a launcher env file. A host with `infisical_identity` also gets a
//! freshly minted Infisical Universal Auth client secret (`infisical`), recorded by its id. The container unwraps exactly once, so a bootstrap
//! intercepted on the way is self-evident: the real unwrap fails.

pub mod audit;
pub mod infisical;
pub mod render;
pub mod secret_id;

use thiserror::Error;

use crate::backends::openbao::BaoError;

#[derive(Debug, Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Bao(#[from] Box<BaoError>),
    #[error(transparent)]
    Infisical(Box<crate::backends::infisical::InfisicalError>),
    #[error("{0}")]
    Refused(String),
    #[error("template {template}: {reason}")]
    Template { template: String, reason: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
}

impl From<crate::backends::infisical::InfisicalError> for BootstrapError {
    fn from(e: crate::backends::infisical::InfisicalError) -> Self {
        BootstrapError::Infisical(Box::new(e))
    }
}

impl From<BaoError> for BootstrapError {
    fn from(e: BaoError) -> Self {
        BootstrapError::Bao(Box::new(e))
    }
}
