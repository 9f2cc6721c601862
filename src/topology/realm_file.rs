//! One realm file (`keycloak.realms[]`) → the Keycloak objects it declares.
//!
//! The file is Keycloak's own export shape, JSON or YAML, read with the topology's parser (so its
//! problems have a line and a column too) and split by [`super::realm_split`]. Values may be
//! references (`env:`, `file:`, `sops:`, `vault:`, `json:`, `infisical:`), resolved relative to the realm
//! file; a field holding one, or a credential key (`secret`, `password`, `clientSecret`) written
//! literally, becomes a secret as a whole. An export's masked secret (`**********`) is refused:
//! applying it would set the secret to ten asterisks.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::error::Source;
use super::node::{Loc, Node, Raw};
use super::realm_split::{self, RealmObject};
use super::resolve::Resolver;
use crate::backends::keycloak::kinds::spec_of;
use crate::backends::spec::{self, KindSpec};
use crate::model::{AttrValue, Backend, DesiredResource, ResourceId};

/// What Keycloak's export writes in place of every secret.
const MASKED: &str = "**********";

/// Keys whose values are credentials wherever they appear inside a field (an IdP's
/// `config.clientSecret`, `smtpServer.password`); a kind's own secret fields (a client's
/// `secret`) are in its [`KindSpec`].
const CREDENTIAL_KEYS: &[&str] = &["secret", "password", "clientSecret", "client_secret"];

/// The field rules of a realm file's values: Keycloak's lists are sets and its durations plain
/// seconds, so nothing is parsed as `90s`.
const REALM_FILE: KindSpec = spec::keycloak("a realm file", None, &[]);

/// Marks a resolved reference inside the file's JSON until the split is done; never leaves this
/// module (a NUL cannot be written in YAML or JSON text without an escape we never produce).
const SENTINEL: &str = "\u{0}aegis-ref:";

/// A realm file read and split: the realm's name and its objects as declared resources.
pub(super) struct RealmResources {
    pub realm: String,
    pub resources: Vec<DesiredResource>,
}

struct Reader<'a> {
    sub: Resolver<'a>,
    /// Resolved references, by sentinel number.
    refs: Vec<AttrValue>,
    /// `clients[2].protocolMappers[0]`-style paths → where they are written.
    locs: BTreeMap<String, Loc>,
}

impl Reader<'_> {
    fn walk(&mut self, path: &str, key: &str, node: &Node) -> Value {
        self.locs.insert(path.to_owned(), node.loc);
        match &node.raw {
            Raw::Str(s) if s == MASKED => {
                self.sub.problem(
                    node.loc,
                    format!("`{path}` holds `{MASKED}`: Keycloak's export masks secrets"),
                    "write a reference instead (env:NAME, file:PATH, sops:FILE#/pointer or vault:MOUNT/PATH#key)".to_string(),
                );
                Value::Null
            }
            Raw::Str(s)
                if ["env:", "file:", "sops:", "vault:", "json:", "infisical:"]
                    .iter()
                    .any(|p| s.starts_with(p)) =>
            {
                match self.sub.attr(key, node, true) {
                    Some(v) => {
                        self.refs.push(v);
                        Value::String(format!("{SENTINEL}{}", self.refs.len() - 1))
                    }
                    None => Value::Null,
                }
            }
            Raw::List(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, n)| self.walk(&format!("{path}[{i}]"), key, n))
                    .collect(),
            ),
            Raw::Map(m) => Value::Object(
                m.iter()
                    .map(|(k, n)| {
                        let p = if path.is_empty() {
                            k.clone()
                        } else {
                            format!("{path}.{k}")
                        };
                        (k.clone(), self.walk(&p, k, n))
                    })
                    .collect(),
            ),
            _ => self.sub.plain(key, node).unwrap_or(Value::Null),
        }
    }

    /// Where a splitter message (`clients[2].protocolMappers: ...`) points.
    fn loc_of(&self, message: &str) -> Loc {
        let at = message.split(": ").next().unwrap_or("");
        self.locs.get(at).copied().unwrap_or(Loc {
            line: 1,
            column: 1,
            offset: 0,
            len: 1,
        })
    }

    /// A declared attribute of an object of `kind`: plain, or a secret when it holds a
    /// reference or a credential (one of the kind's secret fields, or a credential key inside).
    fn attr(&mut self, kind: &str, at: &str, field: &str, mut v: Value) -> Option<AttrValue> {
        if let Value::String(s) = &v
            && let Some(n) = s.strip_prefix(SENTINEL)
        {
            return n
                .parse::<usize>()
                .ok()
                .and_then(|i| self.refs.get(i).cloned());
        }
        let declared = spec_of(kind).is_some_and(|s| s.secret.has(field));
        let mut secret = declared && !v.is_null();
        let mut vault = false;
        self.fill(&mut v, &mut secret, &mut vault);
        if vault {
            let loc = self.locs.get(&format!("{at}.{field}")).copied();
            self.sub.problem(
                loc.unwrap_or_default(),
                format!("a vault: or infisical: reference inside `{field}` is not supported"),
                "a vault: or infisical: reference must be the whole value of a field (e.g. a client's `secret`); use env:, file: or sops: inside a mapping".to_string(),
            );
            return None;
        }
        Some(if secret {
            AttrValue::secret_json(v)
        } else {
            AttrValue::Plain(v)
        })
    }

    /// Puts resolved values back in place of their sentinels; notes credentials found.
    fn fill(&self, v: &mut Value, secret: &mut bool, vault: &mut bool) {
        match v {
            Value::String(s) => {
                if let Some(i) = s
                    .strip_prefix(SENTINEL)
                    .and_then(|n| n.parse::<usize>().ok())
                {
                    *secret = true;
                    match self.refs.get(i) {
                        Some(AttrValue::Vault(_)) | Some(AttrValue::Output(_)) => *vault = true,
                        Some(r) => *v = r.to_wire(),
                        None => {}
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|x| self.fill(x, secret, vault)),
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if CREDENTIAL_KEYS.contains(&k.as_str())
                        && x.as_str().is_some_and(|s| !s.is_empty())
                    {
                        *secret = true;
                    }
                    self.fill(x, secret, vault);
                }
            }
            _ => {}
        }
    }
}

/// Why a name of `o` cannot travel as a URL segment (empty, `.`, `..`, control characters),
/// if it cannot: checked here so that such a file sends no request at all.
fn bad_name(realm: &str, o: &RealmObject) -> Option<&'static str> {
    let check = crate::backends::path::check_segment;
    let own = if o.kind == "group" {
        // A path: each group's name is a segment of its own.
        o.own.split('/').skip(1).find_map(check)
    } else {
        check(&o.own)
    };
    check(realm).or(own).or(o.parent.as_deref().and_then(check))
}

/// The id of a realm object: its parent (a client, an IdP) in `mount`.
pub fn object_id(realm: &str, o: &RealmObject) -> ResourceId {
    ResourceId::on(
        Backend::Keycloak,
        realm,
        o.kind,
        o.parent.as_deref(),
        &o.own,
    )
}

/// Reads the realm file `node` names (relative to the topology), or records why it cannot.
pub(super) fn read(r: &mut Resolver, node: &Node) -> Option<RealmResources> {
    let Some(text) = node.as_str() else {
        r.problem(
            node.loc,
            format!("a realm file must be a string, found {}", node.shape()),
            "write file:../realms/NAME.yaml".to_string(),
        );
        return None;
    };
    let rel = text.strip_prefix("file:").unwrap_or(text);
    let path = r.dir.join(rel);
    let content = match std::fs::read_to_string(&path) {
        Ok(c) => c,
        Err(e) => {
            r.problem(
                node.loc,
                format!("cannot read the realm file {}: {e}", path.display()),
                "realm files are Keycloak exports (JSON or YAML), relative to the topology file"
                    .to_string(),
            );
            return None;
        }
    };
    from_text(
        r,
        &content,
        &path.display().to_string(),
        &path,
        None,
        node.loc,
    )
}

/// A realm representation given as text (a realm file's, or a tenant's realm template with
/// its `{{ slug }}` filled in): `name` names it in diagnostics, `path` is what its `file:`
/// references are relative to; `realm` is the realm it must be (a tenant's), set when the text
/// does not say, refused when it says another. `at` is where the topology names it.
pub(super) fn from_text(
    r: &mut Resolver,
    content: &str,
    name: &str,
    path: &std::path::Path,
    realm: Option<&str>,
    at: Loc,
) -> Option<RealmResources> {
    let src = Source {
        name: name.to_owned(),
        // Snippets quote the file: a literal client secret is masked like a password.
        text: Arc::new(super::redact::redact_with(content, CREDENTIAL_KEYS)),
    };
    let root: Node = match super::parse(content, &src, r.env) {
        Ok(n) => n,
        Err(e) => {
            r.problems.extend(into_problems(e, &src, at));
            return None;
        }
    };
    let mut sub = Resolver::new(&src, path, r.env);
    sub.rules = &REALM_FILE;
    let mut reader = Reader {
        sub,
        refs: Vec::new(),
        locs: BTreeMap::new(),
    };
    let mut value = reader.walk("", "realm", &root);
    if let (Some(want), Value::Object(map)) = (realm, &mut value) {
        match map.get("realm").and_then(Value::as_str) {
            None => {
                map.insert("realm".into(), Value::String(want.to_owned()));
            }
            Some(named) if named == want => {}
            Some(named) => {
                let loc = reader.locs.get("realm").copied().unwrap_or(at);
                reader.sub.problem(
                    loc,
                    format!("this realm is `{want}`, and the template names it `{named}`"),
                    "leave `realm` out of a tenant's realm template (it is tenant-{{ slug }}), or write realm: tenant-{{ slug }}".to_string(),
                );
                r.problems.append(&mut reader.sub.problems);
                return None;
            }
        }
    }
    let out = match realm_split::split(&value) {
        Ok(objects) => Some(resources(&mut reader, objects, &src)),
        Err(messages) => {
            for m in messages {
                let loc = reader.loc_of(&m);
                reader.sub.problem(
                    loc,
                    m,
                    "a realm file holds what aegisctl converges: see \"Keycloak realms\" in spec/topology.md".to_string(),
                );
            }
            None
        }
    };
    r.problems.append(&mut reader.sub.problems);
    out
}

fn resources(reader: &mut Reader, objects: Vec<RealmObject>, src: &Source) -> RealmResources {
    let realm = objects.first().map(|o| o.name.clone()).unwrap_or_default();
    let mut out = Vec::new();
    for o in objects {
        if let Some(why) = bad_name(&realm, &o) {
            let loc = reader.locs.get(&o.at).copied().unwrap_or_default();
            reader.sub.problem(
                loc,
                format!("the {} `{}` has {why}", o.kind, o.name.escape_debug()),
                "names go into Keycloak's URLs as data: use names without `.` or `..` alone and without control characters".to_string(),
            );
            continue;
        }
        let id = object_id(&realm, &o);
        let mut attrs = BTreeMap::new();
        let mut attr_locs = BTreeMap::new();
        for (field, v) in &o.attrs {
            let at_field = if o.kind == "realm" {
                field.clone()
            } else {
                format!("{}.{field}", o.at)
            };
            if let Some(l) = reader.locs.get(&at_field) {
                attr_locs.insert(field.clone(), *l);
            }
            if let Some(a) = reader.attr(o.kind, &o.at, field, v.clone()) {
                attrs.insert(field.clone(), a);
            }
        }
        let mut res = DesiredResource::new(id, attrs);
        res.loc = reader.locs.get(&o.at).copied();
        res.file = Some(src.clone());
        res.attr_locs = attr_locs;
        out.push(res);
    }
    RealmResources {
        realm,
        resources: out,
    }
}

/// A parse failure of a realm file as problems (pointing into the realm file itself).
fn into_problems(e: super::TopologyError, src: &Source, at: Loc) -> Vec<super::error::Problem> {
    match e {
        super::TopologyError::Invalid(ps) => ps,
        other => vec![src.problem(at, other.to_string(), None)],
    }
}

#[cfg(test)]
#[path = "realm_file_tests.rs"]
mod tests;
