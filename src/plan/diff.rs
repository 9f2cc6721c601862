//! The differ: Desired + Observed + Ledger → Plan (and → Drift). Pure functions, no I/O.
//!
//! Only declared attributes are compared, after normalisation: durations to seconds, set-like
//! lists sorted, comma strings split where the server answers a list, numbers and numeric
//! strings alike. An attribute the server does not return (write-only) is compared through its
//! keyed fingerprint in the ledger, so an unchanged secret never shows a perpetual diff.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use thiserror::Error;

use super::model::{Action, AttrDiff, Change, Drift, Plan};
use crate::backends::{Kind, Live, Registry};
use crate::duration;
use crate::ledger::Ledger;
use crate::model::{Address, AttrValue, Desired, DesiredResource, ResourceId};

/// Live state per address: `None` = absent.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub live: BTreeMap<Address, Option<Live>>,
}

#[derive(Debug, Error)]
pub enum PlanError {
    #[error("--target {0} matches no address in the topology")]
    UnknownTarget(String),
    #[error("the topology names the kind `{0}`, which this aegisctl does not know")]
    UnknownKind(String),
}

#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    pub prune: bool,
    pub targets: Vec<String>,
    pub allow_destroy: bool,
}

/// Whether a list field is ordered (SQL statements are; policies, CIDRs, roles are sets).
fn ordered_list(field: &str) -> bool {
    field.contains("statements") || field.ends_with("_args") || field == "args"
}

fn as_seconds(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => duration::parse(s).ok(),
        _ => None,
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether a declared value equals the live one, per the rules in the module documentation.
pub fn values_equal(kind: &dyn Kind, field: &str, desired: &Value, live: &Value) -> bool {
    let desired = kind.normalise(field, desired.clone());
    let live = kind.normalise(field, live.clone());
    equal(field, &desired, &live)
}

fn equal(field: &str, desired: &Value, live: &Value) -> bool {
    if desired == live {
        return true;
    }
    if duration::is_duration_field(field)
        && let (Some(a), Some(b)) = (as_seconds(desired), as_seconds(live))
    {
        return a == b;
    }
    match (desired, live) {
        (Value::String(s), Value::Array(_)) => {
            let parts: Vec<Value> = s
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| Value::String(p.to_owned()))
                .collect();
            equal(field, &Value::Array(parts), live)
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                return false;
            }
            if ordered_list(field) {
                return a.iter().zip(b).all(|(x, y)| equal(field, x, y));
            }
            let mut x: Vec<String> = a.iter().map(scalar_text).collect();
            let mut y: Vec<String> = b.iter().map(scalar_text).collect();
            x.sort();
            y.sort();
            x == y
        }
        (Value::Object(a), Value::Object(b)) => a
            .iter()
            .all(|(k, v)| b.get(k).is_some_and(|lv| equal(k, v, lv))),
        (Value::Number(_) | Value::Bool(_), Value::String(_))
        | (Value::String(_), Value::Number(_) | Value::Bool(_)) => {
            scalar_text(desired) == scalar_text(live)
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => false,
    }
}

/// A live value as people read it: durations as `1h` rather than `3600`.
pub fn display_live(field: &str, v: &Value) -> Value {
    if duration::is_duration_field(field)
        && let Some(n) = v.as_u64()
    {
        return Value::String(duration::format(n));
    }
    v.clone()
}

/// Whether a field cannot change in place (`prefix.*` entries cover a whole group).
fn is_immutable(kind: &dyn Kind, field: &str) -> bool {
    kind.immutable().iter().any(|f| match f.strip_suffix('*') {
        Some(prefix) => field.starts_with(prefix),
        None => *f == field,
    })
}

/// The declared attributes of `res` that differ from `live`.
pub fn attr_diffs(
    kind: &dyn Kind,
    res: &DesiredResource,
    live: &Live,
    ledger: &Ledger,
) -> Vec<AttrDiff> {
    let mut out = Vec::new();
    let recorded = ledger.entries.get(&res.address).map(|e| &e.fp);
    let fixed = kind.fixed_after_create(res);
    for (field, value) in &res.attrs {
        if fixed.contains(&field.as_str()) {
            continue;
        }
        let (same, before) = match live.get(field) {
            Some(lv) => {
                let same = values_equal(kind, field, &value.to_wire(), lv);
                (same, Some(display_live(field, lv)))
            }
            None => {
                // Write-only: the server does not return it; compare fingerprints. An object
                // aegisctl has never managed (adopted as it exists, e.g. after `import`) has no
                // baseline: its value is taken as current, and the next apply records the
                // input's fingerprint without sending it, so later input changes do show.
                let same = match recorded {
                    None => true,
                    Some(r) => {
                        let fp = ledger.fingerprint(&res.address, field, value);
                        fp.is_some() && r.get(field) == fp.as_ref()
                    }
                };
                (same, None)
            }
        };
        if same {
            continue;
        }
        let sensitive = value.is_secret();
        out.push(AttrDiff {
            name: field.clone(),
            before: if sensitive { None } else { before },
            after: match value {
                AttrValue::Plain(v) => Some(v.clone()),
                AttrValue::Secret(_) | AttrValue::Vault(_) => None,
            },
            sensitive,
            forces_replace: is_immutable(kind, field),
        });
    }
    out
}

fn create_attrs(res: &DesiredResource) -> Vec<AttrDiff> {
    res.attrs
        .iter()
        .map(|(k, v)| AttrDiff {
            name: k.clone(),
            before: None,
            after: match v {
                AttrValue::Plain(v) => Some(v.clone()),
                AttrValue::Secret(_) | AttrValue::Vault(_) => None,
            },
            sensitive: v.is_secret(),
            forces_replace: false,
        })
        .collect()
}

/// The addresses `--target` selects: each target and, transitively, what it depends on.
pub fn target_closure(
    desired: &Desired,
    targets: &[String],
) -> Result<Option<BTreeSet<Address>>, PlanError> {
    if targets.is_empty() {
        return Ok(None);
    }
    let by_addr: BTreeMap<&Address, &DesiredResource> =
        desired.resources.iter().map(|r| (&r.address, r)).collect();
    let mut out = BTreeSet::new();
    let mut stack: Vec<Address> = Vec::new();
    for t in targets {
        let a = Address(t.clone());
        if !by_addr.contains_key(&a) {
            return Err(PlanError::UnknownTarget(t.clone()));
        }
        stack.push(a);
    }
    while let Some(a) = stack.pop() {
        if out.insert(a.clone())
            && let Some(r) = by_addr.get(&a)
        {
            stack.extend(r.depends_on.iter().cloned());
        }
    }
    Ok(Some(out))
}

fn kind_of<'a>(registry: &'a Registry, id: &ResourceId) -> Result<&'a dyn Kind, PlanError> {
    registry
        .get(&id.kind)
        .map(|k| k.as_ref())
        .ok_or_else(|| PlanError::UnknownKind(id.kind.clone()))
}

/// Desired + Observed + Ledger → Plan.
pub fn plan(
    desired: &Desired,
    observed: &Observed,
    ledger: &Ledger,
    registry: &Registry,
    opts: &PlanOptions,
) -> Result<Plan, PlanError> {
    let selected = target_closure(desired, &opts.targets)?;
    let mut changes = Vec::new();
    for res in &desired.resources {
        if selected.as_ref().is_some_and(|s| !s.contains(&res.address)) {
            continue;
        }
        let kind = kind_of(registry, &res.id)?;
        match observed.live.get(&res.address).cloned().flatten() {
            None => changes.push(Change {
                address: res.address.clone(),
                id: res.id.clone(),
                action: Action::Create,
                attrs: create_attrs(res),
                warning: None,
                manual: None,
            }),
            Some(live) => {
                let attrs = attr_diffs(kind, res, &live, ledger);
                if attrs.is_empty() {
                    continue;
                }
                let replace = attrs.iter().any(|a| a.forces_replace);
                let warning = (replace && kind.replace_destroys_data() && !opts.allow_destroy).then(|| {
                    format!(
                        "replacing this {} destroys its data (key material, stored secrets); apply refuses without --allow-destroy",
                        kind.name()
                    )
                });
                changes.push(Change {
                    address: res.address.clone(),
                    id: res.id.clone(),
                    action: if replace {
                        Action::Replace
                    } else {
                        Action::Update
                    },
                    attrs,
                    warning,
                    manual: None,
                });
            }
        }
    }
    if opts.prune && selected.is_none() {
        let declared: BTreeSet<&Address> = desired.resources.iter().map(|r| &r.address).collect();
        for (addr, entry) in &ledger.entries {
            if declared.contains(addr) {
                continue;
            }
            if matches!(observed.live.get(addr), Some(Some(_))) {
                changes.push(Change {
                    address: addr.clone(),
                    id: entry.id.clone(),
                    action: Action::Delete,
                    attrs: Vec::new(),
                    warning: None,
                    manual: None,
                });
            }
        }
    }
    changes.sort_by(|a, b| a.address.cmp(&b.address));
    Ok(Plan { changes })
}

/// Desired + Observed + Ledger (+ what exists unmanaged) → Drift.
///
/// Only objects the ledger holds can have drifted: a declared object aegisctl never applied is
/// a pending change (plan's business), not drift.
pub fn drift(
    desired: &Desired,
    observed: &Observed,
    ledger: &Ledger,
    registry: &Registry,
    existing: &[ResourceId],
) -> Result<Drift, PlanError> {
    let mut out = Drift::default();
    for res in &desired.resources {
        if !ledger.entries.contains_key(&res.address) {
            continue;
        }
        let kind = kind_of(registry, &res.id)?;
        if let Some(Some(live)) = observed.live.get(&res.address) {
            let attrs: Vec<AttrDiff> = attr_diffs(kind, res, live, ledger)
                .into_iter()
                .map(|a| AttrDiff {
                    // In a drift report the file is "before" and the server "after".
                    before: a.after,
                    after: a.before,
                    ..a
                })
                .collect();
            if !attrs.is_empty() {
                out.changed.push(Change {
                    address: res.address.clone(),
                    id: res.id.clone(),
                    action: Action::Update,
                    attrs,
                    warning: None,
                    manual: None,
                });
            }
        }
    }
    for (addr, entry) in &ledger.entries {
        if matches!(observed.live.get(addr), Some(None)) {
            out.deleted.push(Change {
                address: addr.clone(),
                id: entry.id.clone(),
                action: Action::Delete,
                attrs: Vec::new(),
                warning: None,
                manual: None,
            });
        }
    }
    let declared: BTreeSet<&Address> = desired.resources.iter().map(|r| &r.address).collect();
    let mut seen = BTreeSet::new();
    for id in existing {
        let addr = id.address();
        if declared.contains(&addr)
            || ledger.entries.contains_key(&addr)
            || !seen.insert(addr.clone())
        {
            continue;
        }
        out.unmanaged.push(Change {
            address: addr,
            id: id.clone(),
            action: Action::Create,
            attrs: Vec::new(),
            warning: None,
            manual: None,
        });
    }
    out.changed.sort_by(|a, b| a.address.cmp(&b.address));
    out.deleted.sort_by(|a, b| a.address.cmp(&b.address));
    out.unmanaged.sort_by(|a, b| a.address.cmp(&b.address));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn normalisation_rules() {
        assert!(equal("token_ttl", &json!("1h"), &json!(3600)));
        assert!(!equal("token_ttl", &json!("1h"), &json!(1800)));
        assert!(equal(
            "token_policies",
            &json!(["b", "a"]),
            &json!(["a", "b"])
        ));
        assert!(equal("token_policies", &json!("a, b"), &json!(["b", "a"])));
        assert!(!equal(
            "creation_statements",
            &json!(["b", "a"]),
            &json!(["a", "b"])
        ));
        assert!(equal("secret_id_num_uses", &json!(1), &json!("1")));
        assert!(equal("exportable", &json!(false), &json!(false)));
        assert!(!equal("exportable", &json!(true), &json!(false)));
        assert!(equal("x", &json!({"a": 1}), &json!({"a": 1, "b": 2})));
    }
}
