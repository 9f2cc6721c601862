//! Reading a SOPS file into an ordered tree and its `sops` metadata.
//!
//! SOPS's MAC covers the values in document order, so the tree must keep the order in which the
//! file wrote its keys: the project's `Node` sorts keys (a `BTreeMap`) and cannot be reused. YAML
//! is read with serde-saphyr (YAML 1.2 booleans, as SOPS's yaml.v3 reads an untyped document),
//! JSON with serde_json (`preserve_order`). Nothing here decrypts: the tree still holds
//! `ENC[...]` strings, so parser errors can only ever quote ciphertext or values that were stored
//! in clear in the file anyway.

use std::fmt;

use regex::Regex;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A document value in file order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tree {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Tree>),
    Map(Vec<(String, Tree)>),
}

impl Tree {
    pub(crate) fn shape(&self) -> &'static str {
        match self {
            Tree::Null => "null",
            Tree::Bool(_) => "a boolean",
            Tree::Int(_) => "an integer",
            Tree::Float(_) => "a number",
            Tree::Str(_) => "a string",
            Tree::List(_) => "a list",
            Tree::Map(_) => "a mapping",
        }
    }
}

/// The two document formats aegisctl reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Yaml,
    Json,
}

impl Format {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Format::Yaml => "YAML",
            Format::Json => "JSON",
        }
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Tree, E> {
        Ok(Tree::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Tree, E> {
        Ok(Tree::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Tree, E> {
        i64::try_from(v)
            .map(Tree::Int)
            .map_err(|_| E::custom("integer too large (SOPS supports 64-bit signed integers)"))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Tree, E> {
        i64::try_from(v)
            .map(Tree::Int)
            .map_err(|_| E::custom("integer too large (SOPS supports 64-bit signed integers)"))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Tree, E> {
        i64::try_from(v)
            .map(Tree::Int)
            .map_err(|_| E::custom("integer too large (SOPS supports 64-bit signed integers)"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Tree, E> {
        Ok(Tree::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Tree, E> {
        Ok(Tree::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Tree, E> {
        Ok(Tree::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }
    fn visit_none<E>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Tree, D::Error> {
        d.deserialize_any(TreeVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Tree>()? {
            items.push(item);
        }
        Ok(Tree::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        let mut items: Vec<(String, Tree)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<Tree>()?;
            if items.iter().any(|(k, _)| *k == key) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            items.push((key, value));
        }
        Ok(Tree::Map(items))
    }
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TreeVisitor)
    }
}

/// Which format a file is in: by extension, else by its first non-blank character.
pub(crate) fn detect_format(path: &std::path::Path, text: &str) -> Result<Format, String> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("json") => Ok(Format::Json),
        Some("yaml" | "yml") => Ok(Format::Yaml),
        Some("env" | "ini") => Err(format!(
            "SOPS {} files are not supported (use a YAML or JSON file)",
            ext.as_deref().unwrap_or_default()
        )),
        _ => {
            if text.trim_start().starts_with('{') {
                Ok(Format::Json)
            } else {
                Ok(Format::Yaml)
            }
        }
    }
}

/// Parse the document text into a tree. The error is a parser message (it may quote a source
/// line of the encrypted file, never decrypted content).
pub(crate) fn parse_tree(text: &str, format: Format) -> Result<Tree, String> {
    match format {
        Format::Yaml => {
            let mut options = serde_saphyr::Options::default();
            options.strict_booleans = true;
            options.with_snippet = false;
            serde_saphyr::from_str_with_options::<Tree>(text, options)
                .map_err(|e| e.without_snippet().to_string())
        }
        Format::Json => {
            let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
            json_to_tree(value, 0)
        }
    }
}

const MAX_DEPTH: usize = 512;

fn json_to_tree(value: serde_json::Value, depth: usize) -> Result<Tree, String> {
    if depth > MAX_DEPTH {
        return Err("document nested too deeply".to_owned());
    }
    Ok(match value {
        serde_json::Value::Null => Tree::Null,
        serde_json::Value::Bool(b) => Tree::Bool(b),
        // SOPS's JSON store reads every number as a Go float64 (and encrypts it as
        // `type:float`), so a clear-text number enters the MAC the same way.
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(f) => Tree::Float(f),
            None => return Err("number out of range".to_owned()),
        },
        serde_json::Value::String(s) => Tree::Str(s),
        serde_json::Value::Array(items) => Tree::List(
            items
                .into_iter()
                .map(|v| json_to_tree(v, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        serde_json::Value::Object(map) => Tree::Map(
            map.into_iter()
                .map(|(k, v)| json_to_tree(v, depth + 1).map(|t| (k, t)))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// One `age` entry of the metadata: a recipient and the data key (or its Shamir part) encrypted
/// to it as an armored age file.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct AgeStanza {
    pub recipient: String,
    pub enc: String,
}

/// A key group: every key in it encrypts the same data key (or the same Shamir part).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct KeyGroup {
    pub age: Vec<AgeStanza>,
    /// Other key types with at least one key in this group (`pgp`, `kms`, ...).
    pub others: Vec<String>,
}

/// Which values SOPS encrypted: the four key-based rules of the metadata.
#[derive(Clone, Debug, Default)]
pub(crate) struct Rules {
    pub unencrypted_suffix: Option<String>,
    pub encrypted_suffix: Option<String>,
    pub unencrypted_regex: Option<Regex>,
    pub encrypted_regex: Option<Regex>,
}

impl Rules {
    /// SOPS's `shouldBeEncrypted` for a value whose map-key path is `path`: later rules override
    /// earlier ones, and any key on the path can decide.
    pub(crate) fn encrypted(&self, path: &[String]) -> bool {
        let mut encrypted = true;
        if let Some(suffix) = &self.unencrypted_suffix
            && path.iter().any(|k| k.ends_with(suffix.as_str()))
        {
            encrypted = false;
        }
        if let Some(suffix) = &self.encrypted_suffix {
            encrypted = path.iter().any(|k| k.ends_with(suffix.as_str()));
        }
        if let Some(re) = &self.unencrypted_regex
            && path.iter().any(|k| re.is_match(k))
        {
            encrypted = false;
        }
        if let Some(re) = &self.encrypted_regex {
            encrypted = path.iter().any(|k| re.is_match(k));
        }
        encrypted
    }
}

/// The `sops` metadata aegisctl uses.
#[derive(Clone, Debug)]
pub(crate) struct Metadata {
    pub groups: Vec<KeyGroup>,
    pub shamir_threshold: Option<i64>,
    pub lastmodified: String,
    pub mac: String,
    pub mac_only_encrypted: bool,
    pub rules: Rules,
}

impl Metadata {
    /// Every age recipient of the file, in file order.
    pub(crate) fn recipients(&self) -> Vec<String> {
        self.groups
            .iter()
            .flat_map(|g| g.age.iter().map(|a| a.recipient.clone()))
            .collect()
    }
}

/// Metadata keys that are not key types.
const NON_KEY_FIELDS: &[&str] = &[
    "age",
    "key_groups",
    "shamir_threshold",
    "lastmodified",
    "mac",
    "mac_only_encrypted",
    "version",
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
];

/// Split a parsed document into its data (the top-level map without `sops`) and its metadata.
/// Errors are plain reasons; the caller adds the path.
pub(crate) fn split_document(tree: Tree) -> Result<(Vec<(String, Tree)>, Metadata), Unusable> {
    let Tree::Map(items) = tree else {
        return Err(Unusable::NotSops(format!(
            "the document is {}, not a mapping with a `sops` key",
            tree.shape()
        )));
    };
    let mut data = Vec::with_capacity(items.len());
    let mut sops = None;
    for (k, v) in items {
        if k == "sops" {
            sops = Some(v);
        } else {
            data.push((k, v));
        }
    }
    let Some(sops) = sops else {
        return Err(Unusable::NotSops(
            "it has no `sops` metadata key (is it encrypted?)".to_owned(),
        ));
    };
    let Tree::Map(meta) = sops else {
        return Err(Unusable::NotSops(format!(
            "its `sops` key is {}, not a mapping",
            sops.shape()
        )));
    };
    Ok((data, metadata(&meta)?))
}

/// Why a parsed document cannot be decrypted.
#[derive(Debug)]
pub(crate) enum Unusable {
    NotSops(String),
    Unsupported(String),
}

fn get<'a>(map: &'a [(String, Tree)], key: &str) -> Option<&'a Tree> {
    map.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn opt_string(map: &[(String, Tree)], key: &str) -> Result<Option<String>, Unusable> {
    match get(map, key) {
        None | Some(Tree::Null) => Ok(None),
        Some(Tree::Str(s)) if s.is_empty() => Ok(None),
        Some(Tree::Str(s)) => Ok(Some(s.clone())),
        Some(other) => Err(Unusable::NotSops(format!(
            "sops.{key} is {}, not a string",
            other.shape()
        ))),
    }
}

fn opt_regex(map: &[(String, Tree)], key: &str) -> Result<Option<Regex>, Unusable> {
    opt_string(map, key)?
        .map(|s| {
            Regex::new(&s).map_err(|e| {
                Unusable::Unsupported(format!("the regular expression in sops.{key} ({e})"))
            })
        })
        .transpose()
}

fn metadata(meta: &[(String, Tree)]) -> Result<Metadata, Unusable> {
    for key in ["unencrypted_comment_regex", "encrypted_comment_regex"] {
        if opt_string(meta, key)?.is_some() {
            return Err(Unusable::Unsupported(format!(
                "sops.{key} (which values are encrypted depends on YAML comments)"
            )));
        }
    }
    let mut rules = Rules {
        unencrypted_suffix: opt_string(meta, "unencrypted_suffix")?,
        encrypted_suffix: opt_string(meta, "encrypted_suffix")?,
        unencrypted_regex: opt_regex(meta, "unencrypted_regex")?,
        encrypted_regex: opt_regex(meta, "encrypted_regex")?,
    };
    if rules.unencrypted_suffix.is_none()
        && rules.encrypted_suffix.is_none()
        && rules.unencrypted_regex.is_none()
        && rules.encrypted_regex.is_none()
    {
        rules.unencrypted_suffix = Some("_unencrypted".to_owned());
    }

    let groups = match get(meta, "key_groups") {
        None | Some(Tree::Null) => vec![key_group(meta, "sops")?],
        Some(Tree::List(groups)) => groups
            .iter()
            .enumerate()
            .map(|(i, g)| match g {
                Tree::Map(m) => key_group(m, &format!("sops.key_groups[{i}]")),
                other => Err(Unusable::NotSops(format!(
                    "sops.key_groups[{i}] is {}, not a mapping",
                    other.shape()
                ))),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(Unusable::NotSops(format!(
                "sops.key_groups is {}, not a list",
                other.shape()
            )));
        }
    };

    let shamir_threshold = match get(meta, "shamir_threshold") {
        None | Some(Tree::Null) => None,
        Some(Tree::Int(i)) => Some(*i),
        Some(Tree::Str(s)) => Some(s.trim().parse::<i64>().map_err(|_| {
            Unusable::NotSops("sops.shamir_threshold is not an integer".to_owned())
        })?),
        Some(other) => {
            return Err(Unusable::NotSops(format!(
                "sops.shamir_threshold is {}, not an integer",
                other.shape()
            )));
        }
    };

    let mac_only_encrypted = match get(meta, "mac_only_encrypted") {
        None | Some(Tree::Null) => false,
        Some(Tree::Bool(b)) => *b,
        Some(Tree::Str(s)) => s.eq_ignore_ascii_case("true"),
        Some(other) => {
            return Err(Unusable::NotSops(format!(
                "sops.mac_only_encrypted is {}, not a boolean",
                other.shape()
            )));
        }
    };

    let lastmodified = opt_string(meta, "lastmodified")?
        .ok_or_else(|| Unusable::NotSops("sops.lastmodified is missing".to_owned()))?;
    let mac = opt_string(meta, "mac")?
        .ok_or_else(|| Unusable::NotSops("sops.mac is missing".to_owned()))?;

    Ok(Metadata {
        groups,
        shamir_threshold,
        lastmodified,
        mac,
        mac_only_encrypted,
        rules,
    })
}

fn key_group(map: &[(String, Tree)], at: &str) -> Result<KeyGroup, Unusable> {
    let mut group = KeyGroup::default();
    for (key, value) in map {
        if key == "age" {
            let Tree::List(entries) = value else {
                if matches!(value, Tree::Null) {
                    continue;
                }
                return Err(Unusable::NotSops(format!(
                    "{at}.age is {}, not a list",
                    value.shape()
                )));
            };
            for (i, entry) in entries.iter().enumerate() {
                let Tree::Map(fields) = entry else {
                    return Err(Unusable::NotSops(format!(
                        "{at}.age[{i}] is {}, not a mapping",
                        entry.shape()
                    )));
                };
                let recipient = opt_string(fields, "recipient")?.unwrap_or_default();
                let enc = opt_string(fields, "enc")?.ok_or_else(|| {
                    Unusable::NotSops(format!("{at}.age[{i}] has no `enc` data key"))
                })?;
                group.age.push(AgeStanza { recipient, enc });
            }
        } else if !NON_KEY_FIELDS.contains(&key.as_str()) {
            let present = match value {
                Tree::List(items) => !items.is_empty(),
                Tree::Map(items) => !items.is_empty(),
                Tree::Null => false,
                _ => false,
            };
            if present {
                group.others.push(key.clone());
            }
        }
    }
    Ok(group)
}

/// The additional data SOPS authenticates the MAC with: `lastmodified` as Go's
/// `time.Format(time.RFC3339)` prints it (no fractional seconds, `Z` for UTC).
pub(crate) fn normalize_lastmodified(s: &str) -> String {
    let s = s.trim();
    // Split "date T time" from the zone.
    let (main, zone) = match s.rfind(['Z', 'z', '+', '-']) {
        Some(i) if i > 10 => (&s[..i], &s[i..]),
        _ => return s.to_owned(),
    };
    let main = match main.find('.') {
        Some(dot) => &main[..dot],
        None => main,
    };
    let zone = match zone {
        "z" | "Z" | "+00:00" | "-00:00" => "Z",
        other => other,
    };
    format!("{main}{zone}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_document_order() {
        let t = parse_tree("b: 1\na: 2\nc: [x, {z: 1, y: 2}]\n", Format::Yaml).unwrap();
        let Tree::Map(items) = t else { panic!() };
        let keys: Vec<_> = items.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "a", "c"]);
        let t = parse_tree(r#"{"b": 1, "a": 2.5, "c": null}"#, Format::Json).unwrap();
        assert_eq!(
            t,
            Tree::Map(vec![
                ("b".into(), Tree::Float(1.0)),
                ("a".into(), Tree::Float(2.5)),
                ("c".into(), Tree::Null)
            ])
        );
    }

    #[test]
    fn yaml_1_2_booleans() {
        let t = parse_tree("a: no\nb: true\nc: 'true'\n", Format::Yaml).unwrap();
        assert_eq!(
            t,
            Tree::Map(vec![
                ("a".into(), Tree::Str("no".into())),
                ("b".into(), Tree::Bool(true)),
                ("c".into(), Tree::Str("true".into()))
            ])
        );
    }

    #[test]
    fn rules_follow_sops() {
        let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let default = Rules {
            unencrypted_suffix: Some("_unencrypted".into()),
            ..Rules::default()
        };
        assert!(default.encrypted(&p(&["a", "b"])));
        assert!(!default.encrypted(&p(&["a_unencrypted", "b"])));
        let enc_re = Rules {
            encrypted_regex: Some(Regex::new("^pass").unwrap()),
            ..Rules::default()
        };
        assert!(enc_re.encrypted(&p(&["db", "password"])));
        assert!(enc_re.encrypted(&p(&["passwords", "x"])));
        assert!(!enc_re.encrypted(&p(&["db", "user"])));
        let enc_suffix = Rules {
            encrypted_suffix: Some("_enc".into()),
            ..Rules::default()
        };
        assert!(enc_suffix.encrypted(&p(&["x_enc", "y"])));
        assert!(!enc_suffix.encrypted(&p(&["x", "y"])));
    }

    #[test]
    fn lastmodified_as_go_prints_it() {
        assert_eq!(
            normalize_lastmodified("2024-01-02T03:04:05Z"),
            "2024-01-02T03:04:05Z"
        );
        assert_eq!(
            normalize_lastmodified("2024-01-02T03:04:05.123456Z"),
            "2024-01-02T03:04:05Z"
        );
        assert_eq!(
            normalize_lastmodified("2024-01-02T03:04:05+00:00"),
            "2024-01-02T03:04:05Z"
        );
        assert_eq!(
            normalize_lastmodified("2024-01-02T03:04:05.5-07:00"),
            "2024-01-02T03:04:05-07:00"
        );
    }
}
