//! Everything that can go wrong talking to OpenBao, each with the help an operator needs, and
//! which failures may hide a write that landed (the caller then re-reads).

use thiserror::Error;

/// Everything that can go wrong talking to OpenBao.
#[derive(Debug, Error)]
pub enum BaoError {
    #[error("cannot reach OpenBao at {address}: {reason}")]
    Unreachable { address: String, reason: String },
    /// The request went out and no answer came back: it may have been done.
    #[error("OpenBao at {address} did not answer {method} {path}: {reason}")]
    Lost {
        address: String,
        method: String,
        path: String,
        reason: String,
    },
    #[error("OpenBao at {address}: TLS verification failed: {reason}")]
    Tls { address: String, reason: String },
    #[error("{0}")]
    Redirect(String),
    #[error("OpenBao at {address} answered {status} to {method} {path}{}: {message}", ns_suffix(.namespace))]
    Status {
        address: String,
        method: String,
        path: String,
        namespace: String,
        status: u16,
        message: String,
        /// The request was sent more than once: an earlier attempt may have been done, and
        /// this answer ("already in use", a check-and-set mismatch) may be about it.
        retried: bool,
    },
    #[error("OpenBao at {address} sent an unreadable answer to {method} {path}: {reason}")]
    Decode {
        address: String,
        method: String,
        path: String,
        reason: String,
    },
    #[error("{0}")]
    Setup(String),
    #[error("{0}")]
    Refused(String),
}

impl BaoError {
    pub fn status(&self) -> Option<u16> {
        match self {
            BaoError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the request this error answers may have been done by the server all the same:
    /// its answer was lost, or it was retried and the retry was refused (perhaps because the
    /// first attempt had landed). The caller re-reads to know.
    pub fn may_have_landed(&self) -> bool {
        matches!(
            self,
            BaoError::Lost { .. }
                | BaoError::Status {
                    retried: true,
                    status: 400 | 409 | 500,
                    ..
                }
        )
    }

    /// Whether the server could not be reached at all (down, or the run's budget spent).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, BaoError::Unreachable { .. } | BaoError::Lost { .. })
    }
}

impl miette::Diagnostic for BaoError {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        let text = match self {
            BaoError::Unreachable { .. } => {
                "check that OpenBao is running and that openbao.address / BAO_ADDR is right; a longer outage can be ridden through with --retry-budget SECONDS"
            }
            BaoError::Lost { .. } => {
                "the server may have done it: run `aegisctl plan` once OpenBao answers again to see where things stand"
            }
            BaoError::Tls { .. } => {
                "the server's certificate is not trusted for this address: set openbao.ca_cert / BAO_CACERT to the CA that signed it, or fix the address's host name"
            }
            BaoError::Redirect(_) => {
                "point openbao.address / BAO_ADDR at the address OpenBao redirects to (often the active node of a cluster)"
            }
            BaoError::Status {
                status: 401 | 403, ..
            } => {
                "the token was refused or lacks a capability on this path: check the token (openbao.token / BAO_TOKEN) and its policies"
            }
            BaoError::Status { status: 400, .. } => {
                "OpenBao rejected the request: check the declared fields against OpenBao's API for this path"
            }
            BaoError::Status {
                status: 500..=599, ..
            } => "OpenBao failed (retried already): check the server's log",
            BaoError::Setup(_) => "check openbao.address, openbao.ca_cert and BAO_CACERT",
            _ => return None,
        };
        Some(Box::new(text))
    }
}

fn ns_suffix(ns: &str) -> String {
    if ns.is_empty() {
        String::new()
    } else {
        format!(" (namespace {ns})")
    }
}
