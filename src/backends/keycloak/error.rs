//! Everything that can go wrong talking to Keycloak, each with the help an operator needs, and
//! which failures may hide a write that landed (the caller then re-reads).
//!
//! Messages name the address, method, path and status and quote Keycloak's own words (its
//! `errorMessage`, or `error` and `error_description`), scrubbed of every secret the request
//! carried; they never carry a token, the admin password or a client secret.

use thiserror::Error;

use crate::backends::http;

/// Everything that can go wrong talking to Keycloak.
#[derive(Debug, Error)]
pub enum KeycloakError {
    #[error("cannot reach Keycloak at {address}: {reason}")]
    Unreachable { address: String, reason: String },
    /// The request went out and no answer came back: it may have been done.
    #[error("Keycloak at {address} did not answer {method} {path}: {reason}")]
    Lost {
        address: String,
        method: String,
        path: String,
        reason: String,
    },
    #[error("Keycloak at {address}: TLS verification failed: {reason}")]
    Tls { address: String, reason: String },
    #[error("{0}")]
    Redirect(String),
    #[error("Keycloak at {address} answered {status} to {method} {path}: {message}")]
    Status {
        address: String,
        method: String,
        path: String,
        status: u16,
        message: String,
        /// The request was sent more than once: an earlier attempt may have been done, and
        /// this answer (a 409 "already exists" to a create) may be about it.
        retried: bool,
    },
    /// The login itself was refused: wrong admin password, client secret, client or realm.
    #[error("Keycloak at {address} refused the admin login in realm {realm}: {reason}")]
    Token {
        address: String,
        realm: String,
        reason: String,
    },
    #[error("Keycloak at {address} sent an unreadable answer to {method} {path}: {reason}")]
    Decode {
        address: String,
        method: String,
        path: String,
        reason: String,
    },
    #[error("{0}")]
    Setup(String),
    /// A name that cannot be sent as a path segment (`.`, `..`, empty, control characters).
    #[error("{0}")]
    Refused(String),
}

impl KeycloakError {
    /// Why a request ended without an answer, as a Keycloak error.
    pub(super) fn from_send(
        address: &str,
        method: &reqwest::Method,
        path: &str,
        e: http::SendError,
    ) -> KeycloakError {
        let address = address.to_owned();
        match e {
            http::SendError::Unreachable { reason } => {
                KeycloakError::Unreachable { address, reason }
            }
            e @ http::SendError::BudgetSpent { .. } => KeycloakError::Unreachable {
                address,
                reason: e.to_string(),
            },
            http::SendError::Lost { reason } => KeycloakError::Lost {
                address,
                method: method.to_string(),
                path: path.to_owned(),
                reason,
            },
            http::SendError::Tls { reason } => KeycloakError::Tls { address, reason },
            e @ http::SendError::CrossOrigin { .. } => {
                KeycloakError::Redirect(format!("Keycloak at {e}"))
            }
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            KeycloakError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the request this error answers may have been done by the server all the same:
    /// its answer was lost, or it was retried and the retry was refused as a duplicate (409)
    /// or failed (500, an optimistic-lock clash with our own first attempt). The caller re-reads
    /// to know.
    pub fn may_have_landed(&self) -> bool {
        matches!(
            self,
            KeycloakError::Lost { .. }
                | KeycloakError::Status {
                    retried: true,
                    status: 409 | 500,
                    ..
                }
        )
    }

    /// Whether the server could not be reached at all (down, or the run's budget spent).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            KeycloakError::Unreachable { .. } | KeycloakError::Lost { .. }
        )
    }
}

impl miette::Diagnostic for KeycloakError {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        let text = match self {
            KeycloakError::Unreachable { .. } => {
                "check that Keycloak is running and that keycloak.url is right; a longer outage can be ridden through with --retry-budget SECONDS"
            }
            KeycloakError::Lost { .. } => {
                "the server may have done it: run `aegisctl plan` once Keycloak answers again to see where things stand"
            }
            KeycloakError::Tls { .. } => {
                "the server's certificate is not trusted for this address: set keycloak.ca_cert to the CA that signed it, or fix the address's host name"
            }
            KeycloakError::Redirect(_) => {
                "point keycloak.url at the address Keycloak redirects to (its public hostname)"
            }
            KeycloakError::Token { .. } => {
                "check the admin credentials: for a password login the user name and password (and that the user has no pending required action), for a service account the client id, its secret, and that the client is confidential with service accounts enabled; check also the login realm"
            }
            KeycloakError::Status { status: 401, .. } => {
                "Keycloak refused a fresh admin token: the login realm may not be allowed to administer this realm (a token of realm X only administers X)"
            }
            KeycloakError::Status { status: 403, .. } => {
                "the admin account lacks a role for this: give it the realm-management roles (manage-realm, manage-clients, ...) or `admin` in master"
            }
            KeycloakError::Status {
                status: 409,
                retried: true,
                ..
            } => {
                "the object exists; the first attempt of this request may have created it: run `aegisctl plan` to see where things stand"
            }
            KeycloakError::Status { status: 409, .. } => {
                "the object already exists (perhaps created outside aegisctl): import it or rename it"
            }
            KeycloakError::Status { status: 400, .. } => {
                "Keycloak rejected the request: check the declared fields against Keycloak's representation for this object"
            }
            KeycloakError::Status {
                status: 500..=599, ..
            } => {
                "Keycloak failed (retried already): check the server's log; concurrent writes in one realm can clash"
            }
            KeycloakError::Setup(_) => "check keycloak.url and keycloak.ca_cert",
            _ => return None,
        };
        Some(Box::new(text))
    }
}
