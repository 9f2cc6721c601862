//! Human rendering of plans and drift reports, as spec/cli.md shows them.
//!
//! Drift uses the very same block renderer as plans, under "changed outside aegisctl",
//! "deleted outside aegisctl" and "not managed by aegisctl" headings. Changes of tenants are
//! laid out per tenant by `tenants.rs`.

use console::Style;
use serde_json::Value;

use super::tenants::{self, Layout};
use crate::plan::model::{Action, AttrDiff, Change, Drift, Plan, summarise};
use crate::sensitive::REDACTED;

/// Colour on or off; everything else about the output is the same.
#[derive(Clone, Copy, Debug)]
pub struct Styles {
    pub color: bool,
}

impl Styles {
    pub(super) fn paint(&self, action: Action, text: &str) -> String {
        if !self.color {
            return text.to_owned();
        }
        let style = match action {
            Action::Create => Style::new().green(),
            Action::Update => Style::new().yellow(),
            Action::Replace => Style::new().magenta(),
            Action::Delete => Style::new().red(),
        };
        style.force_styling(true).apply_to(text).to_string()
    }

    pub(super) fn bold(&self, text: &str) -> String {
        if self.color {
            Style::new()
                .bold()
                .force_styling(true)
                .apply_to(text)
                .to_string()
        } else {
            text.to_owned()
        }
    }
}

fn kind_and_name(c: &Change) -> (String, String) {
    let name = match &c.id.mount {
        Some(m) => format!("{m}/{}", c.id.name),
        None => c.id.name.clone(),
    };
    (c.id.kind.clone(), name)
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(value_text).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(m) => {
            let inner: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k} = {}", value_text(v)))
                .collect();
            format!("{{ {} }}", inner.join(", "))
        }
        other => other.to_string(),
    }
}

fn is_multiline(v: &Option<Value>) -> bool {
    matches!(v, Some(Value::String(s)) if s.contains('\n'))
}

fn heredoc(out: &mut String, indent: &str, lines: impl Iterator<Item = String>) {
    out.push_str("<<-EOT\n");
    for l in lines {
        let line = format!("{indent}    {l}");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(indent);
    out.push_str("  EOT\n");
}

fn attr_line(out: &mut String, styles: Styles, symbol_action: Action, a: &AttrDiff, width: usize) {
    let indent = "      ";
    let sym = styles.paint(symbol_action, symbol_action.symbol());
    out.push_str(&format!("{indent}{sym} {:<width$} = ", a.name));
    if a.known_after_apply {
        out.push_str("(known after apply)\n");
        return;
    }
    if a.unverified {
        // Nothing to compare with: the server does not answer it and no fingerprint exists.
        let after = match (&a.after, a.sensitive) {
            (Some(v), false) => value_text(v),
            _ => REDACTED.to_owned(),
        };
        out.push_str(&format!("(unverified) -> {after}\n"));
        return;
    }
    if a.sensitive {
        out.push_str(REDACTED);
        out.push('\n');
        return;
    }
    match symbol_action {
        Action::Create => match &a.after {
            Some(Value::String(s)) if s.contains('\n') => {
                heredoc(out, indent, s.lines().map(str::to_owned))
            }
            Some(v) => {
                out.push_str(&value_text(v));
                out.push('\n');
            }
            None => out.push_str("null\n"),
        },
        _ => {
            if is_multiline(&a.before) || is_multiline(&a.after) {
                let before = a.before.as_ref().and_then(Value::as_str).unwrap_or("");
                let after = a.after.as_ref().and_then(Value::as_str).unwrap_or("");
                let diff = similar::TextDiff::from_lines(before, after);
                let lines = diff.iter_all_changes().map(|c| {
                    let tag = match c.tag() {
                        similar::ChangeTag::Delete => "- ",
                        similar::ChangeTag::Insert => "+ ",
                        similar::ChangeTag::Equal => "  ",
                    };
                    format!("{tag}{}", c.value().trim_end_matches('\n'))
                });
                heredoc(out, indent, lines);
                return;
            }
            let before = a
                .before
                .as_ref()
                .map(value_text)
                .unwrap_or_else(|| "(unknown)".into());
            let after = a
                .after
                .as_ref()
                .map(value_text)
                .unwrap_or_else(|| "null".into());
            let forces = if a.forces_replace {
                format!(" {}", styles.paint(Action::Replace, "# forces replacement"))
            } else {
                String::new()
            };
            out.push_str(&format!("{before} -> {after}{forces}\n"));
        }
    }
}

/// One change as a block: comment line, symbol, kind, name, attributes.
pub fn change_block(out: &mut String, styles: Styles, c: &Change, what: &str) {
    let (kind, name) = kind_and_name(c);
    out.push_str(&format!("  # {} {what}\n", styles.bold(&c.address.0)));
    if let Some(w) = &c.warning {
        out.push_str(&format!(
            "  # {} {w}\n",
            styles.paint(Action::Delete, "warning:")
        ));
    }
    if let Some(r) = &c.reason {
        out.push_str(&format!("  # (because {r})\n"));
    }
    if !c.destroys.is_empty() {
        out.push_str(&format!(
            "  # {} it also destroys {} object(s) aegisctl does not manage:\n",
            styles.paint(Action::Delete, "--allow-destroy:"),
            c.destroys.len()
        ));
        for d in &c.destroys {
            out.push_str(&format!("  #   - {d}\n"));
        }
    }
    if let Some(m) = &c.manual {
        let mut lines = m.lines();
        let first = lines.next().unwrap_or_default();
        out.push_str(&format!(
            "  # {} {first}\n",
            styles.paint(Action::Update, "manual step:")
        ));
        for l in lines {
            out.push_str(&format!("  #     {l}\n"));
        }
    }
    let sym = styles.paint(c.action, c.action.symbol());
    if c.attrs.is_empty() {
        out.push_str(&format!("  {sym} {kind} \"{name}\"\n\n"));
        return;
    }
    out.push_str(&format!("  {sym} {kind} \"{name}\" {{\n"));
    let width = c.attrs.iter().map(|a| a.name.len()).max().unwrap_or(0);
    let attr_action = match c.action {
        Action::Create => Action::Create,
        _ => Action::Update,
    };
    for a in &c.attrs {
        attr_line(out, styles, attr_action, a, width);
    }
    out.push_str("    }\n\n");
}

fn action_words(a: Action) -> &'static str {
    match a {
        Action::Create => "will be created",
        Action::Update => "will be updated in-place",
        Action::Replace => "must be replaced",
        Action::Delete => "will be destroyed",
    }
}

/// The plan as a person reads it, every change in full.
pub fn plan(p: &Plan, styles: Styles) -> String {
    plan_as(p, styles, Layout::Full)
}

/// The plan as a person reads it, tenants laid out as `layout` says.
pub fn plan_as(p: &Plan, styles: Styles, layout: Layout) -> String {
    if p.is_empty() {
        return "No changes. The servers match the topology.\n".to_owned();
    }
    let mut out = String::from("aegisctl will perform the following actions:\n\n");
    tenants::blocks(&mut out, styles, layout, &p.changes, &|c| {
        action_words(c.action)
    });
    let s = p.summary();
    out.push_str(&styles.bold(&format!(
        "Plan: {} to add, {} to change, {} to destroy.",
        s.add, s.change, s.destroy
    )));
    out.push('\n');
    out
}

/// The drift report, under its three headings, every change in full.
pub fn drift(d: &Drift, styles: Styles) -> String {
    drift_as(d, styles, Layout::Full)
}

/// The drift report, under its three headings, tenants laid out as `layout` says.
pub fn drift_as(d: &Drift, styles: Styles, layout: Layout) -> String {
    if d.is_empty() {
        return "No drift. The servers match what aegisctl last applied.\n".to_owned();
    }
    let mut out = String::new();
    for (items, heading, what) in [
        (
            &d.changed,
            "Changed outside aegisctl:",
            "changed outside aegisctl",
        ),
        (
            &d.deleted,
            "Deleted outside aegisctl:",
            "deleted outside aegisctl",
        ),
        (
            &d.unmanaged,
            "Not managed by aegisctl:",
            "not managed by aegisctl",
        ),
    ] {
        if items.is_empty() {
            continue;
        }
        out.push_str(&styles.bold(heading));
        out.push_str("\n\n");
        tenants::blocks(&mut out, styles, layout, items, &|_| what);
    }
    out.push_str(&styles.bold(&format!(
        "Drift: {} changed, {} deleted outside aegisctl, {} not managed by aegisctl.",
        d.changed.len(),
        d.deleted.len(),
        d.unmanaged.len()
    )));
    out.push('\n');
    out
}

/// How an apply ended, for its summary line.
#[derive(Clone, Debug, Default)]
pub struct AppliedCounts {
    pub succeeded: Vec<Change>,
    pub failed: usize,
    pub skipped: usize,
    pub manual: usize,
    pub cancelled: usize,
    pub inconsistent: usize,
    /// The ledger could not be written (the error follows).
    pub ledger_error: bool,
    /// The apply lock could not be released (the error follows).
    pub lock_error: bool,
    /// Why dispatching stopped when it was not an interrupt (the server stopped answering,
    /// the lock was lost).
    pub stopped: Option<String>,
}

/// The summary line of an apply: "Apply complete!" only when everything went through.
pub fn applied(c: &AppliedCounts) -> String {
    let s = summarise(&c.succeeded);
    let done = format!(
        "{} added, {} changed, {} destroyed",
        s.add, s.change, s.destroy
    );
    let mut line = if let Some(why) = &c.stopped {
        format!(
            "Apply stopped, {why}: {done}; {} not started, {} failed, {} skipped.",
            c.cancelled, c.failed, c.skipped
        )
    } else if c.cancelled > 0 {
        format!(
            "Apply interrupted: {done}; {} not started, {} failed, {} skipped.",
            c.cancelled, c.failed, c.skipped
        )
    } else if c.failed + c.skipped > 0 {
        format!(
            "Apply failed: {done}; {} failed, {} skipped.",
            c.failed, c.skipped
        )
    } else if c.inconsistent > 0 {
        format!(
            "Apply incomplete: {done}; {} still differ after being written.",
            c.inconsistent
        )
    } else if c.ledger_error {
        format!("Apply incomplete: {done}; the ledger could not be written.")
    } else if c.lock_error {
        format!("Apply incomplete: {done}; the apply lock could not be released.")
    } else {
        format!("Apply complete! Resources: {done}.")
    };
    if c.manual > 0 {
        line.push_str(&format!(
            " {} need a manual step (shown in the plan).",
            c.manual
        ));
    }
    if let Some(next) = next_step(c) {
        line.push('\n');
        line.push_str(&next);
    }
    line
}

/// What the operator does after an apply that did not go through.
fn next_step(c: &AppliedCounts) -> Option<String> {
    let mut steps = Vec::new();
    if c.stopped.is_some() || c.ledger_error {
        steps.push(
            "run `aegisctl apply` again once OpenBao answers: what was done is recorded (writes in doubt as pending), and the re-run converges from where this one stopped",
        );
    } else if c.failed + c.skipped + c.inconsistent > 0 {
        steps.push("fix the causes shown above and run `aegisctl apply` again: what succeeded is recorded and is not redone");
    } else if c.cancelled > 0 {
        steps.push(
            "run `aegisctl apply` again to finish: what succeeded is recorded and is not redone",
        );
    }
    if c.lock_error {
        steps.push("the lock could not be given back: the next apply on this host takes it over, from elsewhere once its lease expires (or run `aegisctl unlock` once no apply runs)");
    }
    (!steps.is_empty()).then(|| format!("Next: {}.", steps.join("; ")))
}
