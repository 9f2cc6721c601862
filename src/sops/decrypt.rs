//! Decrypting a whole document and verifying its MAC.
//!
//! A value from a SOPS file can only be trusted once the file's MAC has been checked: each value
//! is authenticated on its own (with its key path as additional data), but only the MAC notices
//! values swapped inside a list, removed keys or edited clear-text values. So a file is decrypted
//! completely, in document order as SOPS's `Tree.Decrypt` walks it, the SHA-512 of the
//! plaintexts is compared with the stored (encrypted) MAC, and only then are values handed out.

use std::path::Path;

use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use super::cipher::{self, OpenError, Plaintext};
use super::error::SopsError;
use super::format::{Metadata, Rules, Tree};
use crate::sensitive::Sensitive;

/// A decrypted document: every scalar is already text (as `sops -d` prints it) and sensitive.
#[derive(Clone, Debug)]
pub(crate) enum Plain {
    Null,
    Value(Sensitive<String>),
    List(Vec<Plain>),
    Map(Vec<(String, Plain)>),
}

/// SOPS's `MACOnlyEncryptedInitialization`: SHA-256 of "sops".
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

const MAX_DEPTH: usize = 512;

struct Walker<'a> {
    key: &'a [u8; 32],
    rules: &'a Rules,
    mac_only_encrypted: bool,
    hash: Sha512,
    file: &'a Path,
}

/// Decrypt `data` (the document without its `sops` key) with `key` and verify the MAC.
pub(crate) fn decrypt_document(
    data: &[(String, Tree)],
    meta: &Metadata,
    key: &[u8; 32],
    file: &Path,
) -> Result<Plain, SopsError> {
    let mut walker = Walker {
        key,
        rules: &meta.rules,
        mac_only_encrypted: meta.mac_only_encrypted,
        hash: Sha512::new(),
        file,
    };
    if meta.mac_only_encrypted {
        walker.hash.update(MAC_ONLY_ENCRYPTED_INIT);
    }
    let mut path = Vec::new();
    let plain = walker.map(data, &mut path, 0)?;
    let computed = hex::encode_upper(walker.hash.finalize());

    let mismatch = |detail| SopsError::MacMismatch {
        path: file.to_owned(),
        detail,
    };
    let enc = cipher::parse(&meta.mac).map_err(|_| mismatch(": sops.mac is malformed"))?;
    let aad = super::format::normalize_lastmodified(&meta.lastmodified);
    let stored = cipher::open(key, &enc, aad.as_bytes()).map_err(|e| match e {
        OpenError::Authentication => mismatch(": the stored MAC or lastmodified was changed"),
        OpenError::Malformed(_) => mismatch(": sops.mac is malformed"),
    })?;
    if stored.as_slice() != computed.as_bytes() {
        return Err(mismatch(""));
    }
    Ok(plain)
}

impl Walker<'_> {
    fn map(
        &mut self,
        items: &[(String, Tree)],
        path: &mut Vec<String>,
        depth: usize,
    ) -> Result<Plain, SopsError> {
        let mut out = Vec::with_capacity(items.len());
        for (k, v) in items {
            path.push(k.clone());
            let value = self.value(v, path, depth + 1);
            path.pop();
            out.push((k.clone(), value?));
        }
        Ok(Plain::Map(out))
    }

    fn value(
        &mut self,
        v: &Tree,
        path: &mut Vec<String>,
        depth: usize,
    ) -> Result<Plain, SopsError> {
        if depth > MAX_DEPTH {
            return Err(SopsError::Unsupported {
                path: self.file.to_owned(),
                what: "a document nested more than 512 levels deep".to_owned(),
            });
        }
        match v {
            Tree::Null => Ok(Plain::Null),
            Tree::Map(items) => self.map(items, path, depth),
            Tree::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.value(item, path, depth + 1)?);
                }
                Ok(Plain::List(out))
            }
            leaf => self.leaf(leaf, path),
        }
    }

    fn key_path(path: &[String]) -> String {
        if path.is_empty() {
            "the top level".to_owned()
        } else {
            path.join(".")
        }
    }

    fn leaf(&mut self, v: &Tree, path: &[String]) -> Result<Plain, SopsError> {
        let encrypted = self.rules.encrypted(path);
        let hash = !self.mac_only_encrypted || encrypted;
        let malformed = |reason: &str| SopsError::MalformedValue {
            path: self.file.to_owned(),
            key_path: Self::key_path(path),
            reason: reason.to_owned(),
        };
        if !encrypted {
            let (text, mac): (String, Option<&'static str>) = match v {
                Tree::Str(s) => (s.clone(), None),
                Tree::Int(i) => (i.to_string(), None),
                Tree::Float(f) => (cipher::go_float(*f), None),
                Tree::Bool(b) => (b.to_string(), Some(cipher::go_bool_mac(*b))),
                _ => return Err(malformed("unexpected value")),
            };
            if hash {
                match mac {
                    Some(m) => self.hash.update(m.as_bytes()),
                    None => self.hash.update(text.as_bytes()),
                }
            }
            return Ok(Plain::Value(Sensitive::new(text)));
        }
        let Tree::Str(s) = v else {
            return Err(malformed(&format!(
                "expected an encrypted value, found {} in clear text",
                v.shape()
            )));
        };
        if s.is_empty() {
            // SOPS leaves empty strings empty.
            return Ok(Plain::Value(Sensitive::new(String::new())));
        }
        let enc = cipher::parse(s).map_err(malformed)?;
        let aad = Zeroizing::new(format!("{}:", path.join(":")));
        let bytes = cipher::open(self.key, &enc, aad.as_bytes()).map_err(|e| match e {
            OpenError::Authentication => SopsError::Authentication {
                path: self.file.to_owned(),
                key_path: Self::key_path(path),
            },
            OpenError::Malformed(reason) => malformed(reason),
        })?;
        let typed = cipher::typed(&enc.ty, &bytes).map_err(malformed)?;
        let text = match &typed {
            Plaintext::Str(s) | Plaintext::Comment(s) => {
                if hash && !matches!(typed, Plaintext::Comment(_)) {
                    self.hash.update(s.as_bytes());
                }
                s.clone()
            }
            Plaintext::Int(i) => {
                let t = i.to_string();
                if hash {
                    self.hash.update(t.as_bytes());
                }
                t
            }
            Plaintext::Float(f) => {
                let t = cipher::go_float(*f);
                if hash {
                    self.hash.update(t.as_bytes());
                }
                t
            }
            Plaintext::Bool(b) => {
                if hash {
                    self.hash.update(cipher::go_bool_mac(*b).as_bytes());
                }
                b.to_string()
            }
            Plaintext::Bytes(b) => {
                if hash {
                    self.hash.update(b);
                }
                String::from_utf8(b.clone())
                    .map_err(|_| malformed("the decrypted bytes value is not UTF-8"))?
            }
        };
        Ok(Plain::Value(Sensitive::new(text)))
    }
}
