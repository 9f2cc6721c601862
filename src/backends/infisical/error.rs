//! Everything that can go wrong talking to Infisical, each with the help an operator needs, and
//! which failures may hide a write that landed (the caller then re-reads).
//!
//! Messages name the address, method, path and status and quote Infisical's own words (its
//! `message`, a zod issue list flattened by `message.rs`), scrubbed of the client secret, the
//! access token and every secret the request carried.

use thiserror::Error;

use crate::backends::http;

/// Everything that can go wrong talking to Infisical.
#[derive(Debug, Error)]
pub enum InfisicalError {
    #[error("cannot reach Infisical at {address}: {reason}")]
    Unreachable { address: String, reason: String },
    /// The request went out and no answer came back: it may have been done.
    #[error("Infisical at {address} did not answer {method} {path}: {reason}")]
    Lost {
        address: String,
        method: String,
        path: String,
        reason: String,
    },
    #[error("Infisical at {address}: TLS verification failed: {reason}")]
    Tls { address: String, reason: String },
    #[error("{0}")]
    Redirect(String),
    #[error("Infisical at {address} answered {status} ({error}) to {method} {path}: {message}")]
    Status {
        address: String,
        method: String,
        path: String,
        status: u16,
        /// The body's `error` name (`BadRequest`, `PermissionDenied`, `ValidationFailure`...).
        error: String,
        message: String,
        /// The request was sent more than once: an earlier attempt may have been done, and
        /// this answer (a 400 "already exists" to a create) may be about it.
        retried: bool,
    },
    /// The server has no such route at all (Fastify's own 404): an older Infisical.
    #[error(
        "Infisical at {address} has no route {method} {path}: this Infisical server predates /api/v1/projects (about late 2024)"
    )]
    NoRoute {
        address: String,
        method: String,
        path: String,
    },
    /// The Universal Auth login itself was refused.
    #[error("Infisical at {address} refused the Universal Auth login: {reason}")]
    Login { address: String, reason: String },
    #[error("Infisical at {address} sent an unreadable answer to {method} {path}: {reason}")]
    Decode {
        address: String,
        method: String,
        path: String,
        reason: String,
    },
    #[error("{0}")]
    Setup(String),
    /// A name that cannot be sent, or a request aegisctl will not make.
    #[error("{0}")]
    Refused(String),
    /// More than one identity carries the name: aegisctl cannot tell which one is meant.
    #[error(
        "Infisical has {count} machine identities named `{name}`: aegisctl addresses identities by name and cannot tell which one is meant"
    )]
    Ambiguous { name: String, count: usize },
}

/// The licence refusal of IP allowlisting on an unlicensed server (contract §5).
pub const LICENCE_HELP: &str = "trusted IPs other than 0.0.0.0/0 and ::/0 need an Infisical Enterprise licence on a self-hosted server: declare `[0.0.0.0/0, ::/0]` (or leave them out) or license the server";

impl InfisicalError {
    /// Why a request ended without an answer, as an Infisical error.
    pub(super) fn from_send(
        address: &str,
        method: &reqwest::Method,
        path: &str,
        e: http::SendError,
    ) -> InfisicalError {
        let address = address.to_owned();
        match e {
            http::SendError::Unreachable { reason } => {
                InfisicalError::Unreachable { address, reason }
            }
            e @ http::SendError::BudgetSpent { .. } => InfisicalError::Unreachable {
                address,
                reason: e.to_string(),
            },
            http::SendError::Lost { reason } => InfisicalError::Lost {
                address,
                method: method.to_string(),
                path: path.to_owned(),
                reason,
            },
            http::SendError::Tls { reason } => InfisicalError::Tls { address, reason },
            e @ http::SendError::CrossOrigin { .. } => {
                InfisicalError::Redirect(format!("Infisical at {e}"))
            }
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            InfisicalError::Status { status, .. } => Some(*status),
            InfisicalError::NoRoute { .. } => Some(404),
            _ => None,
        }
    }

    /// The server's message, when it answered one.
    pub fn message(&self) -> &str {
        match self {
            InfisicalError::Status { message, .. } => message,
            _ => "",
        }
    }

    /// Whether the server said the object is not there: 404 (not a missing route), the legacy
    /// 500 "Failed to find project", the 400 "does not have universal auth" and "doesn't have
    /// membership" (contract §12: these all mean absent).
    pub fn is_absent(&self) -> bool {
        let InfisicalError::Status {
            status,
            message,
            error,
            ..
        } = self
        else {
            return false;
        };
        let m = message.to_ascii_lowercase();
        match status {
            404 => true,
            500 => m.contains("failed to find project") || error.contains("Failed to find project"),
            400 => {
                m.contains("does not have universal auth")
                    || m.contains("doesn't have membership")
                    || m.contains("does not have membership")
            }
            _ => false,
        }
    }

    /// Whether the server refused a create as a duplicate (current 400 "already exist(s)",
    /// legacy 500 `error: "Create"`, "already configured", "already a member").
    pub fn is_duplicate(&self) -> bool {
        let InfisicalError::Status {
            status,
            message,
            error,
            ..
        } = self
        else {
            return false;
        };
        let m = message.to_ascii_lowercase();
        (*status == 400
            && (m.contains("already exist")
                || m.contains("already configured")
                || m.contains("already a member")))
            || (*status == 500 && error == "Create")
    }

    /// Whether this is a validation failure (422, or `ValidationFailure` whatever the status:
    /// legacy servers answer it with 401).
    /// Also the business-rule refusals that are about the body's values (contract §5: a TTL
    /// above the max TTL is 400 on some builds and 422 on others; an IP that does not parse).
    pub fn is_validation(&self) -> bool {
        match self {
            InfisicalError::Status { status: 422, .. } => true,
            InfisicalError::Status { error, .. } if error == "ValidationFailure" => true,
            InfisicalError::Status {
                status: 400,
                message,
                ..
            } => {
                message.contains("cannot be greater than")
                    || message.contains("is not a valid IPv4, IPv6, or CIDR")
            }
            _ => false,
        }
    }

    /// Whether this is the licence refusal of IP allowlisting.
    pub fn is_licence_refusal(&self) -> bool {
        let InfisicalError::Status {
            status: 400,
            message,
            ..
        } = self
        else {
            return false;
        };
        let m = message.to_ascii_lowercase();
        m.contains("plan restriction") && m.contains("ip access range")
    }

    /// Whether the request this error answers may have been done by the server all the same:
    /// its answer was lost, or it was retried and the retry was refused as a duplicate or
    /// failed with a 500. The caller re-reads to know.
    pub fn may_have_landed(&self) -> bool {
        match self {
            InfisicalError::Lost { .. } => true,
            InfisicalError::Status {
                retried: true,
                status: 500,
                ..
            } => true,
            e @ InfisicalError::Status { retried: true, .. } => e.is_duplicate(),
            _ => false,
        }
    }

    /// Whether the server could not be reached at all (down, or the run's budget spent).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            InfisicalError::Unreachable { .. } | InfisicalError::Lost { .. }
        )
    }

    /// What to do about it: one text per case (see [`miette::Diagnostic::help`]).
    pub fn help_text(&self) -> Option<String> {
        let text = match self {
            InfisicalError::Unreachable { .. } => {
                "check that Infisical is running and that infisical.url is right; a longer outage can be ridden through with --retry-budget SECONDS".into()
            }
            InfisicalError::Lost { .. } => {
                "the server may have done it: run `aegisctl plan` once Infisical answers again to see where things stand".into()
            }
            InfisicalError::Tls { .. } => {
                "the server's certificate is not trusted for this address: set infisical.ca_cert to the CA that signed it, or fix the address's host name".into()
            }
            InfisicalError::Redirect(_) => {
                "point infisical.url at the address Infisical redirects to (its public site URL)".into()
            }
            InfisicalError::NoRoute { .. } => {
                "upgrade the Infisical server: aegisctl needs the /api/v1/projects routes of Infisical releases from about late 2024 on".into()
            }
            InfisicalError::Login { .. } => {
                "check the tool's Universal Auth client id and client secret (an expired or used-up client secret is revoked by Infisical: mint a new one), the client secret's trusted IPs, and whether the identity is locked out after failed logins (wait for the lockout to pass, or clear it in Infisical)".into()
            }
            InfisicalError::Ambiguous { name, count } => format!(
                "rename or delete the duplicates in Infisical so that exactly one machine identity is named `{name}` ({count} are)"
            ),
            e if e.is_licence_refusal() => LICENCE_HELP.into(),
            e if e.is_validation() => format!(
                "Infisical rejected the request body: {}",
                e.message()
            ),
            InfisicalError::Status { status: 404, .. } => {
                "not found in the organization: it may belong to another organization, or the tool's identity is not a member of the project".into()
            }
            InfisicalError::Status {
                status: 403, error, ..
            } if error == "PermissionDenied" || error == "PermissionBoundaryError" => {
                "the tool's identity lacks a permission: it needs the org role `admin` (or a custom org role that manages identities and creates projects), and `admin` in each project it manages through a project membership (it gets one for every project it creates)".into()
            }
            InfisicalError::Status {
                status: 403,
                message,
                ..
            } if message.contains("organization") => {
                "the tool's identity does not belong to that organization: set infisical.organization to the id of the organization the identity was created in".into()
            }
            InfisicalError::Status { status: 403, .. } => {
                "Infisical refused it: check delete protection, and that the tool's identity is a member of the project".into()
            }
            e if e.is_duplicate() && e.may_have_landed() => {
                "the object exists; the first attempt of this request may have created it: run `aegisctl plan` to see where things stand".into()
            }
            e if e.is_duplicate() => {
                "the object already exists (perhaps created outside aegisctl, or invisible to the tool's identity): import it, rename it, or add the tool's identity to its project".into()
            }
            InfisicalError::Status {
                status: 500..=599, ..
            } => {
                "Infisical failed (\"Something went wrong\", retried already): check the server's log".into()
            }
            InfisicalError::Setup(_) => "check infisical.url and infisical.ca_cert".into(),
            _ => return None,
        };
        Some(text)
    }
}

impl miette::Diagnostic for InfisicalError {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help_text()
            .map(|t| Box::new(t) as Box<dyn std::fmt::Display>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16, error: &str, message: &str, retried: bool) -> InfisicalError {
        InfisicalError::Status {
            address: "http://inf".into(),
            method: "POST".into(),
            path: "v1/x".into(),
            status,
            error: error.into(),
            message: message.into(),
            retried,
        }
    }

    #[test]
    fn the_licence_refusal_says_what_to_do() {
        let e = status(
            400,
            "BadRequest",
            "Failed to add IP access range to service token due to plan restriction. Upgrade plan to add IP access range.",
            false,
        );
        assert!(e.is_licence_refusal());
        let help = e.help_text().unwrap_or_default();
        assert!(
            help.contains("Enterprise licence") && help.contains("0.0.0.0/0"),
            "{help}"
        );
    }

    #[test]
    fn validation_absence_and_duplicates() {
        let legacy = status(401, "ValidationFailure", "name: Required", false);
        assert!(legacy.is_validation());
        assert!(
            legacy
                .help_text()
                .unwrap_or_default()
                .contains("name: Required")
        );
        assert!(
            status(
                500,
                "Failed to find project by slug",
                "Something went wrong",
                false
            )
            .is_absent()
        );
        assert!(
            status(
                400,
                "BadRequest",
                "The identity does not have universal auth",
                false
            )
            .is_absent()
        );
        assert!(status(400, "BadRequest", "Identity doesn't have membership", false).is_absent());
        assert!(!status(400, "BadRequest", "Secret already exist", false).is_absent());
        let dup = status(400, "BadRequest", "Secret already exist", true);
        assert!(dup.is_duplicate() && dup.may_have_landed());
        assert!(status(500, "Create", "Something went wrong", false).is_duplicate());
        assert!(!status(400, "BadRequest", "Secret already exist", false).may_have_landed());
        assert!(
            status(
                400,
                "BadRequest",
                "Access token TTL cannot be greater than max TTL",
                false
            )
            .is_validation()
        );
        assert!(
            status(404, "NotFound", "x", false)
                .help_text()
                .unwrap_or_default()
                .contains("another organization")
        );
    }
}
