//! `aegisctl env FILE --profile P [--scope ...] [--format dotenv|json|shell] [--out F] [--explain]`:
//! the same resolution as `run`, written out for a process aegisctl does not start. The leases
//! stay (nothing would revoke them when that process ends): they end at their TTL — or with
//! aegisctl's token, whichever is first — and the output says so. `--explain` lists each
//! variable's source, winning scope and lease TTL, never a value, and revokes what it leased.

use std::path::Path;

use super::CliError;
use crate::cli::RuntimeArgs;
use crate::printer::Printer;
use crate::runtime::keymaster;
use crate::runtime::output::{self, ExplainRow, Format};

pub(super) async fn run(
    printer: &Printer,
    args: &RuntimeArgs,
    format: Format,
    out: Option<&Path>,
    explain: bool,
) -> Result<u8, CliError> {
    let (spec, scope) = super::run::prepare(args)?;
    // A refused --out is found before anything is leased or recorded.
    if let Some(path) = out {
        output::check_out(path)?;
    }
    let command = if explain { "env --explain" } else { "env" };
    let req = super::run::request(args, &spec, scope, command, None);
    let opened = keymaster::open(&req).await?;
    for w in &opened.warnings {
        printer.warn(w);
    }
    let (token, resolution) = (opened.token, opened.resolution);
    if explain {
        let rows: Vec<ExplainRow> = resolution
            .vars
            .iter()
            .map(|v| ExplainRow {
                name: v.name.clone(),
                source: v.source.clone(),
                scope: v.scope.clone(),
                lease_ttl: v.lease.as_ref().map(|(_, ttl)| *ttl),
                shadowed: v.shadowed.clone(),
            })
            .collect();
        printer.result(&output::explain(
            &rows,
            &spec.profile.name,
            req.scope.as_ref().map(|s| s.as_text()).as_deref(),
        ));
        // Nothing was handed over: what was leased to find out goes now.
        for w in keymaster::close(&token, &resolution.leases).await {
            printer.warn(&w);
        }
        return Ok(super::EXIT_OK);
    }
    let mut notes = Vec::new();
    if !resolution.leases.is_empty() {
        // aegisctl's own token stays too: revoking it would end the leases it created.
        let bound = if token.created && token.ttl > 0 {
            format!(
                ", or when aegisctl's token ends ({}), whichever is first",
                crate::duration::format(token.ttl)
            )
        } else {
            String::new()
        };
        for l in &resolution.leases {
            notes.push(format!(
                "lease {} ({}) is not revoked by `aegisctl env`: it ends at its TTL ({}){bound}",
                l.lease_id,
                l.path,
                crate::duration::format(l.ttl)
            ));
        }
    }
    let vars: Vec<(String, crate::sensitive::Sensitive<String>)> = resolution
        .vars
        .iter()
        .map(|v| (v.name.clone(), v.value.clone()))
        .collect();
    let text = output::render(format, &vars, &notes);
    match out {
        Some(path) => {
            if let Err(e) = output::write_out(path, &text) {
                // Nothing was handed over: what was leased for it goes now.
                for w in keymaster::close(&token, &resolution.leases).await {
                    printer.warn(&w);
                }
                return Err(e.into());
            }
            for n in &notes {
                printer.info(n);
            }
            printer.info(&format!(
                "wrote {} variables to {} (mode 0600)",
                vars.len(),
                path.display()
            ));
        }
        None => {
            for n in &notes {
                printer.info(n);
            }
            printer.result(text.expose());
        }
    }
    if resolution.leases.is_empty() {
        for w in keymaster::close(&token, &[]).await {
            printer.warn(&w);
        }
    }
    Ok(super::EXIT_OK)
}
