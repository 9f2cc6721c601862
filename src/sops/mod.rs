//! Native decryption of SOPS files for `sops:PATH#/json/pointer` references.
//!
//! Topology values may point into a SOPS-encrypted YAML or JSON file. Shelling out to `sops`
//! would make a Go binary a runtime dependency and put secrets on a pipe, and the `rops` crate
//! does not read ordinary `age-keygen` files (see DEPENDENCIES.md), so this module implements the
//! part of SOPS 3.x that aegisctl needs: age recipients (also inside key groups), AES-256-GCM
//! values, the four encryption rules and the MAC, which is always verified. Every decrypted value
//! is a [`Sensitive`] and no error message carries decrypted content.
//!
//! [`SopsStore`] decrypts each file once and answers any number of pointers into it.

mod cipher;
mod decrypt;
mod error;
mod format;
mod keys;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use error::SopsError;

use crate::sensitive::Sensitive;
use decrypt::Plain;
use format::Unusable;
use keys::IdentitySet;

/// Where identities come from: the caller, or the environment (read on first use).
enum Identities {
    Given(IdentitySet),
    Environment(Option<IdentitySet>),
}

/// Decrypted SOPS files for one run. A file is decrypted (and its MAC verified) once, however
/// many references point into it; the decrypted values are zeroized when the store is dropped.
pub struct SopsStore {
    identities: Identities,
    files: HashMap<PathBuf, Plain>,
}

impl fmt::Debug for SopsStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SopsStore")
            .field("decrypted_files", &self.files.len())
            .finish_non_exhaustive()
    }
}

impl Default for SopsStore {
    fn default() -> Self {
        Self::new()
    }
}

impl SopsStore {
    /// A store that reads age identities from the environment as `sops` does
    /// (`SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE`, `SOPS_AGE_KEY_CMD`, the user's `sops/age/keys.txt`),
    /// lazily: nothing is read until the first file is decrypted.
    pub fn new() -> Self {
        SopsStore {
            identities: Identities::Environment(None),
            files: HashMap::new(),
        }
    }

    /// A store that uses exactly these identities (tests, or a caller with its own key source).
    pub fn with_identities(ids: Vec<age::x25519::Identity>) -> Self {
        SopsStore {
            identities: Identities::Given(IdentitySet::given(ids)),
            files: HashMap::new(),
        }
    }

    /// The value at `pointer` (RFC 6901 JSON pointer, e.g. "/db/password" or "/list/0") in the
    /// SOPS file at `path`. Strings come back as they are; integers, floats and booleans as text
    /// (`42`, `3.5`, `true`).
    pub fn value(&mut self, path: &Path, pointer: &str) -> Result<Sensitive<String>, SopsError> {
        let tokens = parse_pointer(pointer)?;
        let cache_key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if !self.files.contains_key(&cache_key) {
            let plain = self.decrypt_file(path)?;
            self.files.insert(cache_key.clone(), plain);
        }
        match self.files.get(&cache_key) {
            Some(plain) => lookup(plain, &tokens, path, pointer),
            None => Err(SopsError::NotSops {
                path: path.to_owned(),
                reason: "internal error: decrypted file missing from the cache".to_owned(),
            }),
        }
    }

    fn identities(&mut self) -> Result<&IdentitySet, SopsError> {
        match &mut self.identities {
            Identities::Given(set) => Ok(set),
            Identities::Environment(slot) => {
                if slot.is_none() {
                    *slot = Some(keys::from_environment(|k| std::env::var_os(k))?);
                }
                match slot {
                    Some(set) => Ok(set),
                    None => Err(SopsError::Identities {
                        source_name: "the environment".to_owned(),
                        reason: "internal error".to_owned(),
                    }),
                }
            }
        }
    }

    fn decrypt_file(&mut self, path: &Path) -> Result<Plain, SopsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SopsError::Read {
            path: path.to_owned(),
            source,
        })?;
        let (data, meta) = parse_file(path, &text)?;
        let ids = self.identities()?;
        let key = keys::data_key(&meta, ids, path)?;
        decrypt::decrypt_document(&data, &meta, &key, path)
    }
}

type Parsed = (Vec<(String, format::Tree)>, format::Metadata);

fn parse_file(path: &Path, text: &str) -> Result<Parsed, SopsError> {
    let fmt = format::detect_format(path, text).map_err(|what| SopsError::Unsupported {
        path: path.to_owned(),
        what,
    })?;
    let tree = format::parse_tree(text, fmt).map_err(|message| SopsError::Parse {
        path: path.to_owned(),
        format: fmt.name(),
        message,
    })?;
    format::split_document(tree).map_err(|e| match e {
        Unusable::NotSops(reason) => SopsError::NotSops {
            path: path.to_owned(),
            reason,
        },
        Unusable::Unsupported(what) => SopsError::Unsupported {
            path: path.to_owned(),
            what,
        },
    })
}

/// RFC 6901: "" is the whole document, otherwise "/"-separated tokens with `~1` = `/` and
/// `~0` = `~`.
fn parse_pointer(pointer: &str) -> Result<Vec<String>, SopsError> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let bad = |reason: &str| SopsError::Pointer {
        pointer: pointer.to_owned(),
        reason: reason.to_owned(),
    };
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(bad(
            "a JSON pointer starts with \"/\" (e.g. \"/db/password\")",
        ));
    };
    rest.split('/')
        .map(|token| {
            let mut out = String::with_capacity(token.len());
            let mut chars = token.chars();
            while let Some(c) = chars.next() {
                if c == '~' {
                    match chars.next() {
                        Some('0') => out.push('~'),
                        Some('1') => out.push('/'),
                        _ => return Err(bad("\"~\" must be followed by 0 or 1")),
                    }
                } else {
                    out.push(c);
                }
            }
            Ok(out)
        })
        .collect()
}

fn escape_token(t: &str) -> String {
    t.replace('~', "~0").replace('/', "~1")
}

fn location(tokens: &[String]) -> String {
    if tokens.is_empty() {
        "the top level".to_owned()
    } else {
        let p: String = tokens
            .iter()
            .map(|t| format!("/{}", escape_token(t)))
            .collect();
        format!("{p:?}")
    }
}

fn key_list(items: &[(String, Plain)]) -> String {
    if items.is_empty() {
        "no keys".to_owned()
    } else {
        let keys: Vec<String> = items.iter().map(|(k, _)| format!("{k:?}")).collect();
        format!("keys {}", keys.join(", "))
    }
}

fn lookup(
    root: &Plain,
    tokens: &[String],
    path: &Path,
    pointer: &str,
) -> Result<Sensitive<String>, SopsError> {
    let mut node = root;
    for (i, token) in tokens.iter().enumerate() {
        let at = location(&tokens[..i]);
        let not_found = |available: String| SopsError::NotFound {
            path: path.to_owned(),
            pointer: pointer.to_owned(),
            at: at.clone(),
            available,
        };
        node = match node {
            Plain::Map(items) => match items.iter().find(|(k, _)| k == token) {
                Some((_, v)) => v,
                None => {
                    return Err(not_found(format!(
                        "has no key {token:?}; it has {}",
                        key_list(items)
                    )));
                }
            },
            Plain::List(items) => {
                let index = if token == "0" || (!token.starts_with('0') && !token.is_empty()) {
                    token.parse::<usize>().ok()
                } else {
                    None
                };
                match index.and_then(|i| items.get(i)) {
                    Some(v) => v,
                    None => {
                        return Err(not_found(format!(
                            "is a list of {} items; {token:?} is not an index into it",
                            items.len()
                        )));
                    }
                }
            }
            Plain::Value(_) => {
                return Err(not_found(
                    "is a single value, not a mapping or list".to_owned(),
                ));
            }
            Plain::Null => return Err(not_found("is null".to_owned())),
        };
    }
    match node {
        Plain::Value(v) => Ok(v.clone()),
        Plain::Null => Err(SopsError::Null {
            path: path.to_owned(),
            pointer: pointer.to_owned(),
        }),
        Plain::Map(items) => Err(SopsError::NotScalar {
            path: path.to_owned(),
            pointer: pointer.to_owned(),
            kind: "a mapping",
            contents: format!("it has {}", key_list(items)),
        }),
        Plain::List(items) => Err(SopsError::NotScalar {
            path: path.to_owned(),
            pointer: pointer.to_owned(),
            kind: "a list",
            contents: format!("it has {} items (use /0, /1, ...)", items.len()),
        }),
    }
}

/// Entry points for the fuzzer (`fuzz/`) and property tests. Not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    use std::path::Path;

    /// Parse one `ENC[...]` value.
    pub fn parse_enc_value(s: &str) -> bool {
        super::cipher::parse(s).is_ok()
    }

    /// Parse a whole file (YAML or JSON by `name`'s extension), then decrypt it with a fixed data
    /// key: exercises the parser, the metadata reader, the value parser, AES-GCM and the MAC.
    pub fn parse_and_decrypt(name: &str, text: &str) -> bool {
        let path = Path::new(name);
        let Ok((data, meta)) = super::parse_file(path, text) else {
            return false;
        };
        let _ = meta.recipients();
        super::decrypt::decrypt_document(&data, &meta, &[0x42; 32], path).is_ok()
    }
}

#[cfg(test)]
mod tests;
