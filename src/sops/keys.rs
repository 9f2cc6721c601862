//! age identities and the file's data key.
//!
//! SOPS users already have their age keys where `sops` finds them, so aegisctl looks in the same
//! places and combines them: `SOPS_AGE_KEY` (one or more keys), `SOPS_AGE_KEY_FILE`,
//! `SOPS_AGE_KEY_CMD` (run with `sh -c`, its standard output holds keys) and the user's
//! `$XDG_CONFIG_HOME/sops/age/keys.txt` (default `~/.config/sops/age/keys.txt`). Key files are
//! `age-keygen` files: comments and blank lines are allowed. Identity text is secret, so no error
//! here ever quotes a line of it: errors give the source and the line number only.
//!
//! The data key is the payload of the armored age file in `sops.age[].enc` (or
//! `sops.key_groups[].age[].enc`). With several key groups SOPS splits the key with Shamir's
//! scheme; a threshold of 1 makes every part the key itself plus a one-byte x coordinate, which
//! is supported, higher thresholds are not.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::x25519::Identity;
use zeroize::Zeroizing;

use super::error::SopsError;
use super::format::Metadata;

/// The identities to try and where they came from (for the "no identity matches" message).
pub(crate) struct IdentitySet {
    pub ids: Vec<Identity>,
    pub looked_in: Vec<String>,
    pub notes: Vec<String>,
}

impl IdentitySet {
    pub(crate) fn given(ids: Vec<Identity>) -> Self {
        let n = ids.len();
        IdentitySet {
            ids,
            looked_in: vec![format!("identities given by the caller ({n})")],
            notes: Vec::new(),
        }
    }
}

fn count(n: usize) -> String {
    if n == 1 {
        "1 key".to_owned()
    } else {
        format!("{n} keys")
    }
}

/// Load identities the way SOPS does, reading variables through `var` (the process environment
/// in production, a map in tests).
pub(crate) fn from_environment(
    var: impl Fn(&str) -> Option<OsString>,
) -> Result<IdentitySet, SopsError> {
    let mut set = IdentitySet {
        ids: Vec::new(),
        looked_in: Vec::new(),
        notes: Vec::new(),
    };

    if let Some(text) = var("SOPS_AGE_KEY") {
        let text = Zeroizing::new(text.to_string_lossy().into_owned());
        let n = parse_identities(&text, "SOPS_AGE_KEY", &mut set)?;
        set.looked_in.push(format!("SOPS_AGE_KEY ({})", count(n)));
    }

    if let Some(file) = var("SOPS_AGE_KEY_FILE") {
        let file = PathBuf::from(file);
        let source = format!("SOPS_AGE_KEY_FILE={}", file.display());
        let text = read_key_file(&file).map_err(|e| SopsError::Identities {
            source_name: source.clone(),
            reason: e.to_string(),
        })?;
        let n = parse_identities(&text, &source, &mut set)?;
        set.looked_in.push(format!("{source} ({})", count(n)));
    }

    if let Some(cmd) = var("SOPS_AGE_KEY_CMD") {
        let text = run_key_command(&cmd)?;
        let n = parse_identities(&text, "the output of SOPS_AGE_KEY_CMD", &mut set)?;
        set.looked_in
            .push(format!("SOPS_AGE_KEY_CMD ({})", count(n)));
    }

    let config_dir = var("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            var("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        });
    match config_dir {
        Some(dir) => {
            let file = dir.join("sops").join("age").join("keys.txt");
            match read_key_file(&file) {
                Ok(text) => {
                    let source = file.display().to_string();
                    let n = parse_identities(&text, &source, &mut set)?;
                    set.looked_in.push(format!("{source} ({})", count(n)));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    set.looked_in
                        .push(format!("{} (no such file)", file.display()));
                }
                Err(e) => {
                    return Err(SopsError::Identities {
                        source_name: file.display().to_string(),
                        reason: e.to_string(),
                    });
                }
            }
        }
        None => set
            .looked_in
            .push("the user key file (neither XDG_CONFIG_HOME nor HOME is set)".to_owned()),
    }
    Ok(set)
}

fn read_key_file(path: &Path) -> std::io::Result<Zeroizing<String>> {
    let mut text = Zeroizing::new(String::new());
    std::fs::File::open(path)?.read_to_string(&mut text)?;
    Ok(text)
}

fn run_key_command(cmd: &OsString) -> Result<Zeroizing<String>, SopsError> {
    let failed = |reason: String| SopsError::Identities {
        source_name: "SOPS_AGE_KEY_CMD".to_owned(),
        reason,
    };
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| failed(format!("cannot run it with sh -c: {e}")))?;
    let stdout = Zeroizing::new(output.stdout);
    if !output.status.success() {
        // Standard error is shown only if it does not look like key material.
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
        let hint = match last {
            Some(l) if !l.to_ascii_uppercase().contains("AGE-") && l.len() <= 300 => {
                format!(": {}", l.trim())
            }
            _ => String::new(),
        };
        return Err(failed(format!(
            "the command failed ({}){hint}",
            output.status
        )));
    }
    String::from_utf8(stdout.to_vec())
        .map(Zeroizing::new)
        .map_err(|_| failed("its output is not UTF-8".to_owned()))
}

/// Add the identities in `text` to `set`; returns how many were added.
pub(crate) fn parse_identities(
    text: &str,
    source: &str,
    set: &mut IdentitySet,
) -> Result<usize, SopsError> {
    let mut n = 0;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("AGE-SECRET-KEY-PQ-") {
            set.notes.push(format!(
                "{source} line {}: post-quantum age identities are not supported; skipped",
                i + 1
            ));
            continue;
        }
        if upper.starts_with("AGE-PLUGIN-") {
            set.notes.push(format!(
                "{source} line {}: age plugin identities are not supported; skipped",
                i + 1
            ));
            continue;
        }
        if !upper.starts_with("AGE-SECRET-KEY-1") {
            return Err(SopsError::Identities {
                source_name: source.to_owned(),
                reason: format!(
                    "line {} is neither a comment nor an age identity (AGE-SECRET-KEY-1...)",
                    i + 1
                ),
            });
        }
        let id = Identity::from_str(line).map_err(|_| SopsError::Identities {
            source_name: source.to_owned(),
            reason: format!("line {} is not a valid age identity", i + 1),
        })?;
        set.ids.push(id);
        n += 1;
    }
    Ok(n)
}

/// Recover the 32-byte data key of a file.
pub(crate) fn data_key(
    meta: &Metadata,
    set: &IdentitySet,
    path: &Path,
) -> Result<Zeroizing<[u8; 32]>, SopsError> {
    let has_age = meta.groups.iter().any(|g| !g.age.is_empty());
    if !has_age {
        let mut types: Vec<String> = meta
            .groups
            .iter()
            .flat_map(|g| g.others.iter().cloned())
            .collect();
        types.sort();
        types.dedup();
        if types.is_empty() {
            return Err(SopsError::NotSops {
                path: path.to_owned(),
                reason: "its metadata names no recipients at all".to_owned(),
            });
        }
        return Err(SopsError::UnsupportedKeyTypes {
            path: path.to_owned(),
            types,
        });
    }
    let groups = meta.groups.len();
    if groups > 1 {
        let threshold = meta.shamir_threshold.unwrap_or(groups as i64);
        if threshold > 1 {
            return Err(SopsError::Shamir {
                path: path.to_owned(),
                threshold,
                groups,
            });
        }
    }

    let mut notes = set.notes.clone();
    let mut problems = Vec::new();
    for group in &meta.groups {
        for stanza in &group.age {
            match decrypt_stanza(&stanza.enc, &set.ids) {
                Ok(Some(part)) => {
                    let key = if groups > 1 {
                        // Shamir with threshold 1: the key followed by the part's x coordinate.
                        if part.len() != 33 {
                            return Err(SopsError::DataKey {
                                path: path.to_owned(),
                                reason: format!(
                                    "the key-group part is {} bytes long, expected 33",
                                    part.len()
                                ),
                            });
                        }
                        &part[..32]
                    } else {
                        &part[..]
                    };
                    let mut out = Zeroizing::new([0u8; 32]);
                    if key.len() != 32 {
                        return Err(SopsError::DataKey {
                            path: path.to_owned(),
                            reason: format!(
                                "the data key is {} bytes long, expected 32",
                                key.len()
                            ),
                        });
                    }
                    out.copy_from_slice(key);
                    return Ok(out);
                }
                Ok(None) => {}
                Err(reason) => problems.push(format!("recipient {}: {reason}", stanza.recipient)),
            }
        }
    }
    let recipients = meta.recipients();
    if recipients.iter().any(|r| r.starts_with("age1pq1")) {
        notes.push(
            "post-quantum age1pq1 recipients cannot be decrypted by aegisctl (the age crate does \
             not implement them); add an X25519 age1... recipient to the file"
                .to_owned(),
        );
    }
    if set.ids.is_empty() {
        notes.push("no age identity was found".to_owned());
    }
    notes.extend(problems);
    Err(SopsError::NoMatchingIdentity {
        path: path.to_owned(),
        recipients,
        looked_in: set.looked_in.clone(),
        notes,
    })
}

/// `Ok(None)`: no identity matches this stanza.
fn decrypt_stanza(enc: &str, ids: &[Identity]) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
    if ids.is_empty() {
        return Ok(None);
    }
    let reader = age::armor::ArmoredReader::new(enc.as_bytes());
    let decryptor = age::Decryptor::new(reader).map_err(|e| format!("invalid age data: {e}"))?;
    let identities = ids.iter().map(|i| i as &dyn age::Identity);
    let mut stream = match decryptor.decrypt(identities) {
        Ok(s) => s,
        Err(age::DecryptError::NoMatchingKeys) => return Ok(None),
        Err(e) => return Err(format!("cannot decrypt its data key: {e}")),
    };
    let mut out = Zeroizing::new(Vec::new());
    stream
        .read_to_end(&mut out)
        .map_err(|e| format!("cannot decrypt its data key: {e}"))?;
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn combines_every_source_like_sops() {
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<Identity> = (0..4).map(|_| Identity::generate()).collect();
        let secret = |i: usize| ids[i].to_string().expose_secret().to_string();
        let key_file = dir.path().join("keys.txt");
        std::fs::write(
            &key_file,
            format!(
                "# created: 2024-01-01\n# public key: {}\n{}\n\n",
                ids[1].to_public(),
                secret(1)
            ),
        )
        .unwrap();
        let cmd_file = dir.path().join("cmd.txt");
        std::fs::write(&cmd_file, format!("{}\n", secret(2))).unwrap();
        let xdg = dir.path().join("xdg");
        std::fs::create_dir_all(xdg.join("sops/age")).unwrap();
        std::fs::write(xdg.join("sops/age/keys.txt"), secret(3)).unwrap();
        let set = from_environment(env(&[
            ("SOPS_AGE_KEY", &format!("# comment\n{}\n", secret(0))),
            ("SOPS_AGE_KEY_FILE", key_file.to_str().unwrap()),
            (
                "SOPS_AGE_KEY_CMD",
                &format!("cat '{}'", cmd_file.to_str().unwrap()),
            ),
            ("XDG_CONFIG_HOME", xdg.to_str().unwrap()),
        ]))
        .unwrap();
        let publics: Vec<String> = set.ids.iter().map(|i| i.to_public().to_string()).collect();
        let expected: Vec<String> = ids.iter().map(|i| i.to_public().to_string()).collect();
        assert_eq!(publics, expected);
        assert_eq!(set.looked_in.len(), 4);
    }

    #[test]
    fn default_key_file_under_home() {
        let dir = tempfile::tempdir().unwrap();
        let set = from_environment(env(&[("HOME", dir.path().to_str().unwrap())])).unwrap();
        assert!(set.ids.is_empty());
        assert!(set.looked_in[0].contains(".config/sops/age/keys.txt (no such file)"));
    }

    #[test]
    fn errors_never_quote_key_lines() {
        let id = Identity::generate();
        let secret = id.to_string().expose_secret().to_string();
        let broken = format!("{}X", &secret[..secret.len() - 1]);
        for text in [broken.clone(), format!("garbage {secret}")] {
            let err = from_environment(env(&[("SOPS_AGE_KEY", &text)]))
                .err()
                .unwrap();
            let msg = format!("{err} {err:?}");
            assert!(msg.contains("line 1"), "{msg}");
            assert!(!msg.contains(&secret[20..]), "{msg}");
            assert!(!msg.contains(&broken[20..]), "{msg}");
        }
        let missing = from_environment(env(&[("SOPS_AGE_KEY_FILE", "/nonexistent/keys.txt")]))
            .err()
            .unwrap();
        assert!(missing.to_string().contains("/nonexistent/keys.txt"));
        let failing = from_environment(env(&[("SOPS_AGE_KEY_CMD", "echo oops >&2; exit 3")]))
            .err()
            .unwrap();
        assert!(failing.to_string().contains("oops"), "{failing}");
    }
}
