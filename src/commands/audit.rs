//! `aegisctl audit FILE [--since WHEN] [--json]`: who resolved which secrets, when, where and
//! why, read back from a host's local audit file — or, given the topology file, from the audit
//! documents in OpenBao, every host's — so that an operator can answer "what touched this
//! credential" without reading JSON lines by hand. The records hold no value, so neither does
//! anything shown here.

use std::path::Path;

use super::{CliError, EXIT_OK, usage};
use crate::printer::Printer;
use crate::runtime::audit::{Record, read_local};

/// Why `--since` was refused, and the two forms it takes.
const SINCE_HELP: &str = "write --since as a duration ago (30m, 2h, 7d, 1h30m) or as an RFC 3339 UTC time (2026-11-26T05:00:00Z)";

pub(super) async fn run(
    printer: &Printer,
    file: &Path,
    since: Option<&str>,
    json: bool,
) -> Result<u8, CliError> {
    let since = since
        .map(|text| parse_since(text, crate::clock::now_unix()))
        .transpose()?;
    let is_topology = file.extension().is_some_and(|e| e == "yaml" || e == "yml");
    let records = if is_topology {
        let (desired, target) = crate::topology::load_runtime_audit(file)?;
        let session = super::session::Session::connect_to(printer, &desired.conn)?;
        let date = since.map(|s| {
            crate::clock::rfc3339(s)
                .chars()
                .take(10)
                .collect::<String>()
        });
        crate::runtime::audit::read_openbao(session.client(), &target, date.as_deref()).await?
    } else {
        read_local(file)?
    };
    let kept = keep_since(records, since);
    if json {
        let records = serde_json::to_value(&kept).map_err(|e| {
            usage(
                format!("cannot render the audit records: {e}"),
                "report this as a bug",
            )
        })?;
        printer.document(&serde_json::json!({ "records": records }));
    } else {
        let mut text = render(&kept);
        text.push_str(&summary(kept.len(), since));
        printer.result(&text);
    }
    Ok(EXIT_OK)
}

/// The records at or after `since` (all of them without it).
fn keep_since(records: Vec<Record>, since: Option<u64>) -> Vec<Record> {
    records
        .into_iter()
        .filter(|r| match (since, crate::clock::parse_rfc3339(&r.time)) {
            (Some(from), Some(at)) => at >= from,
            // A record whose time cannot be read is shown: an audit view must not hide what it
            // cannot place.
            _ => true,
        })
        .collect()
}

/// `--since` as Unix seconds: a duration before `now`, or an RFC 3339 UTC time.
fn parse_since(text: &str, now: u64) -> Result<u64, CliError> {
    if text.contains('T') {
        return crate::clock::parse_rfc3339(text).ok_or_else(|| {
            usage(
                format!("--since {text}: not an RFC 3339 UTC time"),
                SINCE_HELP,
            )
        });
    }
    crate::duration::parse(text)
        .map(|ago| now.saturating_sub(ago))
        .map_err(|why| usage(format!("--since {text}: {why}"), SINCE_HELP))
}

/// The last line: how many records, and since when.
fn summary(count: usize, since: Option<u64>) -> String {
    let since = since
        .map(|s| format!(" since {}", crate::clock::rfc3339(s)))
        .unwrap_or_default();
    match count {
        0 => format!("No records{since}\n"),
        1 => format!("1 record{since}\n"),
        n => format!("{n} records{since}\n"),
    }
}

/// The records as blocks, one per resolution, separated by blank lines.
fn render(records: &[Record]) -> String {
    let mut out = String::new();
    for r in records {
        let mut head = format!(
            "{}  {}  profile {}",
            clean(&r.time),
            clean(&r.command),
            clean(&r.profile)
        );
        if let Some(scope) = &r.scope {
            head.push_str(&format!("  scope {}", clean(scope)));
        }
        if !r.namespace.is_empty() {
            head.push_str(&format!("  namespace {}", clean(&r.namespace)));
        }
        head.push_str(&format!("  host {}", clean(&r.host)));
        out.push_str(&head);
        out.push('\n');
        let mut by = format!(
            "  by {} (display name {}, accessor {})",
            clean(&r.who.login),
            clean(&r.who.display_name),
            clean(&r.who.accessor)
        );
        if let Some(reason) = &r.reason {
            // Debug-quoted: a reason is free text, and a newline in it must not forge a line.
            by.push_str(&format!("  reason {reason:?}"));
        }
        out.push_str(&by);
        out.push('\n');
        if let Some(program) = &r.program {
            out.push_str(&format!("  program {}\n", clean(program)));
        }
        let names: Vec<String> = r.variables.iter().map(|v| clean(&v.name)).collect();
        let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
        for (v, name) in r.variables.iter().zip(&names) {
            let mut line = format!("  {name:<width$}  {}", clean(&v.source));
            if let Some(scope) = &v.scope {
                line.push_str(&format!("  ({})", clean(scope)));
            }
            if let Some(lease) = &v.lease_id {
                line.push_str(&format!("  (lease {})", clean(lease)));
            }
            out.push_str(&line);
            out.push('\n');
        }
        for l in &r.leases {
            out.push_str(&format!(
                "  lease {}  ttl {}{}\n",
                clean(&l.lease_id),
                crate::duration::format(l.ttl_seconds),
                if l.renewable { "  renewable" } else { "" }
            ));
        }
        out.push('\n');
    }
    out
}

/// A field as read from the file, with control characters escaped: the file is plain text that
/// anyone with write access could have edited, and a terminal must not obey what it holds.
fn clean(text: &str) -> String {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
#[path = "audit_tests.rs"]
mod tests;
