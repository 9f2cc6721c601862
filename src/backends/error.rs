//! The one error the engine sees from any backend: observe, diff, the prune guard and the
//! executor handle a failure the same way whichever server it came from, and ask it the same
//! questions (may the write have landed? is the server unreachable? which status?).

use thiserror::Error;

use super::BaoError;
use super::infisical::InfisicalError;
use super::keycloak::KeycloakError;

#[derive(Debug, Error)]
pub enum BackendError {
    #[error(transparent)]
    OpenBao(Box<BaoError>),
    #[error(transparent)]
    Keycloak(Box<KeycloakError>),
    #[error(transparent)]
    Infisical(Box<InfisicalError>),
    /// Refused by aegisctl itself before or instead of a request (a guard, an unknown kind).
    #[error("{0}")]
    Refused(String),
}

impl From<BaoError> for BackendError {
    fn from(e: BaoError) -> Self {
        match e {
            BaoError::Refused(m) => BackendError::Refused(m),
            other => BackendError::OpenBao(Box::new(other)),
        }
    }
}

impl From<KeycloakError> for BackendError {
    fn from(e: KeycloakError) -> Self {
        BackendError::Keycloak(Box::new(e))
    }
}

impl From<InfisicalError> for BackendError {
    fn from(e: InfisicalError) -> Self {
        match e {
            InfisicalError::Refused(m) => BackendError::Refused(m),
            other => BackendError::Infisical(Box::new(other)),
        }
    }
}

impl BackendError {
    /// The HTTP status the server answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            BackendError::OpenBao(e) => e.status(),
            BackendError::Keycloak(e) => e.status(),
            BackendError::Infisical(e) => e.status(),
            BackendError::Refused(_) => None,
        }
    }

    /// Whether the request may have been done all the same (see `BaoError::may_have_landed`).
    pub fn may_have_landed(&self) -> bool {
        match self {
            BackendError::OpenBao(e) => e.may_have_landed(),
            BackendError::Keycloak(e) => e.may_have_landed(),
            BackendError::Infisical(e) => e.may_have_landed(),
            BackendError::Refused(_) => false,
        }
    }

    /// Whether the server could not be reached at all.
    pub fn is_unreachable(&self) -> bool {
        match self {
            BackendError::OpenBao(e) => e.is_unreachable(),
            BackendError::Keycloak(e) => e.is_unreachable(),
            BackendError::Infisical(e) => e.is_unreachable(),
            BackendError::Refused(_) => false,
        }
    }
}

impl miette::Diagnostic for BackendError {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        match self {
            BackendError::OpenBao(e) => e.help(),
            BackendError::Keycloak(e) => e.help(),
            BackendError::Infisical(e) => e.help(),
            BackendError::Refused(_) => None,
        }
    }
}
