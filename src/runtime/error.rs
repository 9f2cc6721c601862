//! What can go wrong between a profile and a running process, each with what to do. No variant
//! carries a value: references, paths, names and the servers' own words only.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

use crate::backends::BaoError;
use crate::backends::infisical::InfisicalError;

#[derive(Debug, Error, Diagnostic)]
pub enum RuntimeError {
    #[error("cannot log in to OpenBao ({how}): {source}")]
    #[diagnostic(help(
        "check the login's role ID and secret ID (a SecretID may be single-use, expired or bound to another address), or the token"
    ))]
    Login {
        how: String,
        #[source]
        source: Box<BaoError>,
    },
    #[error("{at}: {name} = {reference}: {why}")]
    #[diagnostic(help("{help}"))]
    Unresolved {
        at: String,
        name: String,
        reference: String,
        why: String,
        help: String,
    },
    #[error("{at}: {name} = {reference}: {source}")]
    #[diagnostic(help(
        "check that the secret exists and that the login's policy allows reading it; nothing was started and nothing is left leased"
    ))]
    Read {
        at: String,
        name: String,
        reference: String,
        #[source]
        source: Box<BaoError>,
    },
    #[error("{at}: {name} = {reference}: {source}")]
    #[diagnostic(help(
        "check the Infisical secret and the identity's access; nothing was started and nothing is left leased"
    ))]
    Infisical {
        at: String,
        name: String,
        reference: String,
        #[source]
        source: Box<InfisicalError>,
    },
    #[error("the scope `{scope}` is not ORG, ORG/TEAM or ORG/TEAM/WORKSPACE: {why}")]
    #[diagnostic(help(
        "write --scope ORG/TEAM/WORKSPACE, e.g. --scope acme/platform/search; each part is a plain name"
    ))]
    BadScope { scope: String, why: String },
    #[error("reading the scoped secrets at {path}: {source}")]
    #[diagnostic(help(
        "check the scopes mount and that the login's policy allows reading it; nothing was started and nothing is left leased"
    ))]
    Scope {
        path: String,
        #[source]
        source: Box<BaoError>,
    },
    #[error("--scope was given, but the topology's runtime block has no `scopes:`")]
    #[diagnostic(help("add `runtime.scopes.mount: MOUNT` (a KV v2 mount), or drop --scope"))]
    NoScopes,
    #[error("cannot write the audit file {}: {reason}", path.display())]
    #[diagnostic(help(
        "every resolution is recorded before any value is handed over: make the file writable (or choose another with --audit-file); nothing was started and nothing is left leased"
    ))]
    AuditFile { path: PathBuf, reason: String },
    #[error("cannot write the audit record {path} (namespace `{namespace}`): {source}")]
    #[diagnostic(help(
        "every resolution is recorded in OpenBao before any value is handed over: give the login's policy `create` on that path (e.g. path \"MOUNT/data/PREFIX/*\" {{ capabilities = [\"create\"] }}); nothing was started and nothing is left leased"
    ))]
    AuditOpenBao {
        path: String,
        namespace: String,
        #[source]
        source: Box<BaoError>,
    },
    #[error("cannot start `{program}`: {reason}")]
    #[diagnostic(help("check the command and its PATH; the leases minted for it were revoked"))]
    Spawn { program: String, reason: String },
    #[error("{what} {}: {reason}", path.display())]
    #[diagnostic(help("{help}"))]
    Output {
        what: String,
        path: PathBuf,
        reason: String,
        help: String,
    },
    #[error("{0}")]
    #[diagnostic(help("{1}"))]
    Setup(String, String),
}
