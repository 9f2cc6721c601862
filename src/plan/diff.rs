//! The differ: Desired + Observed + Ledger → Plan (and → Drift). Pure functions, no I/O.
//!
//! Only declared attributes are compared, after normalisation (`normalise.rs`). An attribute the
//! server does not return, or returns only masked (write-only), is compared through its keyed
//! fingerprint in the ledger, so an unchanged secret never shows a perpetual diff; without a
//! fingerprint it is `(unverified)` and apply sends it, unless `--adopt` takes the server's
//! value as it is. Only objects of this topology's identity are planned or pruned.

use std::collections::{BTreeMap, BTreeSet};

use thiserror::Error;

use super::model::{Action, AttrDiff, Change, Drift, Plan};
use super::normalise::{display, equal_in};
use crate::backends::{Kind, Live, Registry};
use crate::model::{Address, AttrValue, Desired, DesiredResource, ResourceId};
use crate::state::ledger::Ledger;

/// `--target` resolution lives beside the differ; its callers know it as `diff::target_closure`.
pub use super::targets::target_closure;

/// Live state per address: `None` = absent.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub live: BTreeMap<Address, Option<Live>>,
}

#[derive(Debug, Error)]
pub enum PlanError {
    /// The target, and why it selects nothing.
    #[error("--target {0} {1}")]
    UnknownTarget(String, String),
    #[error("the topology names the kind `{0}`, which this aegisctl does not know")]
    UnknownKind(String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PlanOptions {
    pub prune: bool,
    pub targets: Vec<String>,
    pub allow_destroy: bool,
    /// Take write-only fields without a fingerprint as they are, recording a baseline.
    #[serde(default)]
    pub adopt: bool,
}

/// The declared attributes of `res` that differ from `live`. `adopt`: a write-only field with
/// no fingerprint is taken as current instead of unverified.
pub fn attr_diffs(
    kind: &dyn Kind,
    res: &DesiredResource,
    live: &Live,
    ledger: &Ledger,
    adopt: bool,
) -> Vec<AttrDiff> {
    let mut out = Vec::new();
    let recorded = ledger
        .entries
        .get(&res.address)
        .filter(|e| ledger.is_mine(e))
        .map(|e| &e.fp);
    let fixed = kind.fixed_after_create(res);
    for (field, value) in &res.attrs {
        if fixed.contains(&field.as_str()) {
            continue;
        }
        if matches!(value, AttrValue::Output(_)) {
            // Its producer does not exist yet: whatever it will be, apply writes it.
            out.push(AttrDiff {
                name: field.clone(),
                before: None,
                after: None,
                sensitive: true,
                forces_replace: false,
                unverified: false,
                known_after_apply: true,
            });
            continue;
        }
        let ty = res.types.get(field).copied();
        let sensitive = value.is_secret();
        let wire = value.to_wire();
        let mut unverified = false;
        let (same, before) = match live.get(field) {
            Some(lv) if !kind.write_only(field, value) => {
                let same = equal_in(
                    kind.spec(),
                    kind.exact_types(),
                    ty,
                    field,
                    &kind.normalise(field, wire.clone()),
                    &kind.normalise(field, lv.clone()),
                );
                (same, Some(display(ty, lv)))
            }
            _ => match recorded.and_then(|r| r.get(field)) {
                Some(r) => {
                    let fp = ledger.fingerprint(&res.address, field, value);
                    (fp.as_ref() == Some(r), None)
                }
                None => {
                    unverified = !adopt;
                    (adopt, None)
                }
            },
        };
        if same {
            continue;
        }
        out.push(AttrDiff {
            name: field.clone(),
            before: if sensitive { None } else { before },
            after: match value {
                AttrValue::Plain(v) => Some(v.clone()),
                AttrValue::Secret(_) | AttrValue::Vault(_) | AttrValue::Output(_) => None,
            },
            sensitive,
            forces_replace: match live.get(field) {
                Some(lv) => kind.forces_replace(field, lv, &wire),
                None => false,
            },
            unverified,
            known_after_apply: false,
        });
    }
    out
}

/// Whether a live object carries everything a write of `res` sent that the server shows back
/// (fields it never returns cannot be checked and are taken as sent): how a write whose
/// answer was lost, or whose retry was refused, is recognised as done.
pub fn carries(kind: &dyn Kind, res: &DesiredResource, live: &Live) -> bool {
    res.attrs.iter().all(|(field, value)| {
        if kind.write_only(field, value) {
            return true;
        }
        let Some(lv) = live.get(field) else {
            return true;
        };
        let wire = value.to_wire();
        equal_in(
            kind.spec(),
            kind.exact_types(),
            res.types.get(field).copied(),
            field,
            &kind.normalise(field, wire),
            &kind.normalise(field, lv.clone()),
        )
    })
}

fn create_attrs(res: &DesiredResource) -> Vec<AttrDiff> {
    res.attrs
        .iter()
        .map(|(k, v)| AttrDiff {
            name: k.clone(),
            before: None,
            after: match v {
                AttrValue::Plain(v) => Some(v.clone()),
                AttrValue::Secret(_) | AttrValue::Vault(_) | AttrValue::Output(_) => None,
            },
            sensitive: v.is_secret(),
            forces_replace: false,
            unverified: false,
            known_after_apply: matches!(v, AttrValue::Output(_)),
        })
        .collect()
}

fn kind_of<'a>(registry: &'a Registry, id: &ResourceId) -> Result<&'a dyn Kind, PlanError> {
    registry
        .of(id)
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
            None => changes.push(Change::new(
                res.id.clone(),
                Action::Create,
                create_attrs(res),
            )),
            Some(live) => {
                let attrs = attr_diffs(kind, res, &live, ledger, opts.adopt);
                if attrs.is_empty() {
                    continue;
                }
                let replace = attrs.iter().any(|a| a.forces_replace);
                let mut change = Change::new(
                    res.id.clone(),
                    if replace {
                        Action::Replace
                    } else {
                        Action::Update
                    },
                    attrs,
                );
                change.warning = (replace && kind.replace_destroys_data() && !opts.allow_destroy)
                    .then(|| {
                        format!(
                            "replacing this {} destroys {}; apply refuses without --allow-destroy",
                            kind.name(),
                            kind.data_lost()
                        )
                    });
                changes.push(change);
            }
        }
    }
    recreate_children(desired, registry, &mut changes);
    if opts.prune && selected.is_none() {
        let declared: BTreeSet<&Address> = desired.resources.iter().map(|r| &r.address).collect();
        for (addr, entry) in ledger.mine() {
            if declared.contains(addr) || !matches!(observed.live.get(addr), Some(Some(_))) {
                continue;
            }
            let kind = kind_of(registry, &entry.id)?;
            let mut change = Change::new(entry.id.clone(), Action::Delete, Vec::new());
            change.address = addr.clone();
            change.warning = (kind.delete_destroys_data() && !opts.allow_destroy).then(|| {
                format!(
                    "deleting this {} destroys {}; apply refuses without --allow-destroy",
                    kind.name(),
                    kind.data_lost()
                )
            });
            changes.push(change);
        }
    }
    changes.sort_by(|a, b| a.address.cmp(&b.address));
    Ok(Plan { changes })
}

/// A replaced container (a mount whose type changes) takes its contents with it: each declared
/// object inside it is created again in the same apply, after the container.
fn recreate_children(desired: &Desired, registry: &Registry, changes: &mut Vec<Change>) {
    let replaced: BTreeSet<ResourceId> = changes
        .iter()
        .filter(|c| c.action == Action::Replace)
        .map(|c| c.id.clone())
        .collect();
    if replaced.is_empty() {
        return;
    }
    let mut index: BTreeMap<Address, usize> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.address.clone(), i))
        .collect();
    for res in &desired.resources {
        let mut up = registry.container(&res.id);
        let mut inside = None;
        while let Some(c) = up {
            if replaced.contains(&c) {
                inside = Some(c.clone());
                break;
            }
            up = registry.container(&c);
        }
        let Some(container) = inside else { continue };
        let reason = format!(
            "{} is replaced, which deletes what it holds",
            container.address()
        );
        match index.get(&res.address) {
            Some(&i) if changes[i].action == Action::Create => {}
            Some(&i) => {
                changes[i].action = Action::Create;
                changes[i].attrs = create_attrs(res);
                changes[i].reason = Some(reason);
            }
            None => {
                let mut c = Change::new(res.id.clone(), Action::Create, create_attrs(res));
                c.reason = Some(reason);
                index.insert(c.address.clone(), changes.len());
                changes.push(c);
            }
        }
    }
}

/// Desired + Observed + Ledger (+ what exists unmanaged) → Drift.
///
/// Only objects this topology's ledger entries hold can have drifted: a declared object
/// aegisctl never applied is a pending change (plan's business), not drift; an entry only
/// intended (`pending`) that does not exist was never created.
pub fn drift(
    desired: &Desired,
    observed: &Observed,
    ledger: &Ledger,
    registry: &Registry,
    existing: &[ResourceId],
) -> Result<Drift, PlanError> {
    let mut out = Drift::default();
    for res in &desired.resources {
        if !ledger
            .entries
            .get(&res.address)
            .is_some_and(|e| ledger.is_mine(e))
        {
            continue;
        }
        let kind = kind_of(registry, &res.id)?;
        if let Some(Some(live)) = observed.live.get(&res.address) {
            let attrs: Vec<AttrDiff> = attr_diffs(kind, res, live, ledger, false)
                .into_iter()
                .map(|a| AttrDiff {
                    // In a drift report the file is "before" and the server "after".
                    before: a.after,
                    after: a.before,
                    ..a
                })
                .collect();
            if !attrs.is_empty() {
                out.changed
                    .push(Change::new(res.id.clone(), Action::Update, attrs));
            }
        }
    }
    for (addr, entry) in ledger.mine() {
        if !entry.pending && matches!(observed.live.get(addr), Some(None)) {
            let mut c = Change::new(entry.id.clone(), Action::Delete, Vec::new());
            c.address = addr.clone();
            out.deleted.push(c);
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
        out.unmanaged
            .push(Change::new(id.clone(), Action::Create, Vec::new()));
    }
    out.changed.sort_by(|a, b| a.address.cmp(&b.address));
    out.deleted.sort_by(|a, b| a.address.cmp(&b.address));
    out.unmanaged.sort_by(|a, b| a.address.cmp(&b.address));
    Ok(out)
}
