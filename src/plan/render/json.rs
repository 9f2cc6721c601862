//! The `--json` document of spec/cli.md: `format_version`, `changes` (address, action, before,
//! after, sensitive_paths), `summary`, `diagnostics`. Secrets are `null` with their path listed.

use serde_json::{Map, Value, json};

use crate::plan::model::{Change, Drift, Plan, summarise};

pub const FORMAT_VERSION: &str = "1.0";

fn change(c: &Change, drift: Option<&str>) -> Value {
    let mut before = Map::new();
    let mut after = Map::new();
    let mut sensitive = Vec::new();
    let mut unverified = Vec::new();
    let mut after_apply = Vec::new();
    for a in &c.attrs {
        if a.known_after_apply {
            after_apply.push(Value::String(a.name.clone()));
        }
        before.insert(a.name.clone(), a.before.clone().unwrap_or(Value::Null));
        after.insert(a.name.clone(), a.after.clone().unwrap_or(Value::Null));
        if a.sensitive {
            sensitive.push(Value::String(a.name.clone()));
        }
        if a.unverified {
            unverified.push(Value::String(a.name.clone()));
        }
    }
    let mut v = json!({
        "address": c.address,
        "action": c.action,
        "before": before,
        "after": after,
        "sensitive_paths": sensitive,
    });
    if let Some(d) = drift {
        v["drift"] = json!(d);
    }
    if let Some(w) = &c.warning {
        v["warning"] = json!(w);
    }
    if let Some(m) = &c.manual {
        v["manual"] = json!(m);
    }
    if !unverified.is_empty() {
        v["unverified_paths"] = json!(unverified);
    }
    if !after_apply.is_empty() {
        v["known_after_apply_paths"] = json!(after_apply);
    }
    if let Some(r) = &c.reason {
        v["reason"] = json!(r);
    }
    if !c.destroys.is_empty() {
        v["destroys"] = json!(c.destroys);
    }
    v
}

pub fn plan(p: &Plan, diagnostics: &[String]) -> Value {
    json!({
        "format_version": FORMAT_VERSION,
        "changes": p.changes.iter().map(|c| change(c, None)).collect::<Vec<_>>(),
        "summary": p.summary(),
        "diagnostics": diagnostics,
    })
}

pub fn drift(d: &Drift, diagnostics: &[String]) -> Value {
    let mut changes = Vec::new();
    changes.extend(d.changed.iter().map(|c| change(c, Some("changed"))));
    changes.extend(d.deleted.iter().map(|c| change(c, Some("deleted"))));
    changes.extend(d.unmanaged.iter().map(|c| change(c, Some("unmanaged"))));
    json!({
        "format_version": FORMAT_VERSION,
        "changes": changes,
        "summary": { "changed": d.changed.len(), "deleted": d.deleted.len(), "unmanaged": d.unmanaged.len() },
        "diagnostics": diagnostics,
    })
}

/// The apply document: the plan's changes, each with its outcome.
pub fn apply(
    changes: &[(Change, String, Option<String>)],
    inconsistent: &[Change],
    diagnostics: &[String],
) -> Value {
    let plain: Vec<Change> = changes.iter().map(|(c, _, _)| c.clone()).collect();
    json!({
        "format_version": FORMAT_VERSION,
        "changes": changes.iter().map(|(c, outcome, error)| {
            let mut v = change(c, None);
            v["outcome"] = json!(outcome);
            if let Some(e) = error { v["error"] = json!(e); }
            v
        }).collect::<Vec<_>>(),
        "inconsistent": inconsistent.iter().map(|c| change(c, None)).collect::<Vec<_>>(),
        "summary": summarise(&plain),
        "diagnostics": diagnostics,
    })
}
