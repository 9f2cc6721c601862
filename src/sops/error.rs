//! `SopsError`: everything that can go wrong between a `sops:` reference and its value.
//!
//! The messages are written for the person who has to fix the topology or the key setup, so
//! they name the file, the key path, the recipients and where identities were looked for. They
//! never carry decrypted content: the only strings they hold are file paths, map keys (which SOPS
//! stores in clear text), recipients (public keys), the caller's own pointer and fixed reasons.

use std::path::PathBuf;

/// Why a value could not be read from a SOPS file. See the module documentation.
#[derive(Debug, thiserror::Error)]
pub enum SopsError {
    #[error("cannot read SOPS file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot parse SOPS file {} as {format}: {message}", path.display())]
    Parse {
        path: PathBuf,
        format: &'static str,
        message: String,
    },

    #[error("{} is not a usable SOPS file: {reason}", path.display())]
    NotSops { path: PathBuf, reason: String },

    #[error("{}: {what} is not supported by aegisctl's SOPS decryption", path.display())]
    Unsupported { path: PathBuf, what: String },

    #[error(
        "{} has no age recipients; its data key is encrypted only with key types aegisctl \
         cannot use: {}. Add an age recipient (sops updatekeys) or decrypt with sops",
        path.display(),
        types.join(", ")
    )]
    UnsupportedKeyTypes { path: PathBuf, types: Vec<String> },

    #[error(
        "{} splits its data key with Shamir secret sharing (threshold {threshold} of {groups} key \
         groups), which aegisctl does not support; re-encrypt it with one key group",
        path.display()
    )]
    Shamir {
        path: PathBuf,
        threshold: i64,
        groups: usize,
    },

    #[error("cannot load age identities from {source_name}: {reason}")]
    Identities { source_name: String, reason: String },

    #[error(
        "no age identity can decrypt {}; the file's age recipients are: {}; identities were \
         looked for in: {}{}",
        path.display(),
        list_or_none(recipients),
        list_or_none(looked_in),
        notes_suffix(notes)
    )]
    NoMatchingIdentity {
        path: PathBuf,
        recipients: Vec<String>,
        looked_in: Vec<String>,
        notes: Vec<String>,
    },

    #[error("{}: cannot recover the data key: {reason}", path.display())]
    DataKey { path: PathBuf, reason: String },

    #[error("{}: malformed encrypted value at {key_path}: {reason}", path.display())]
    MalformedValue {
        path: PathBuf,
        key_path: String,
        reason: String,
    },

    #[error(
        "{}: the value at {key_path} fails authentication: the file was modified after \
         encryption (or values were moved between keys)",
        path.display()
    )]
    Authentication { path: PathBuf, key_path: String },

    #[error("{}: the file was modified after encryption (MAC mismatch){detail}", path.display())]
    MacMismatch { path: PathBuf, detail: &'static str },

    #[error("invalid JSON pointer {pointer:?}: {reason}")]
    Pointer { pointer: String, reason: String },

    #[error("{}: nothing at {pointer:?}: {at} {available}", path.display())]
    NotFound {
        path: PathBuf,
        pointer: String,
        at: String,
        available: String,
    },

    #[error(
        "{}: {pointer:?} points to {kind}, not to a single value; {contents}",
        path.display()
    )]
    NotScalar {
        path: PathBuf,
        pointer: String,
        kind: &'static str,
        contents: String,
    },

    #[error("{}: the value at {pointer:?} is null", path.display())]
    Null { path: PathBuf, pointer: String },
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        items.join(", ")
    }
}

fn notes_suffix(notes: &[String]) -> String {
    if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join("; "))
    }
}
