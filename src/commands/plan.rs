//! `aegisctl plan FILE`: what `apply` would do, optionally saved (`-out`) to be applied as it is.

use std::path::Path;

use super::session::Session;
use super::{CliError, EXIT_CHANGES, EXIT_OK, load};
use crate::apply::planfile::{self, PlanFile};
use crate::cli::{PlanFlags, RunFlags};
use crate::plan::diff::target_closure;
use crate::plan::render::tenants::Layout;
use crate::plan::render::{human, json};
use crate::plan::{Plan, PlanOptions};
use crate::printer::Printer;

pub(crate) fn options(flags: &PlanFlags) -> PlanOptions {
    PlanOptions {
        prune: flags.prune,
        targets: flags.targets.clone(),
        allow_destroy: flags.allow_destroy,
        adopt: flags.adopt,
    }
}

pub(crate) fn show(printer: &Printer, plan: &Plan, diagnostics: &[String], layout: Layout) {
    if printer.json {
        printer.document(&json::plan(plan, diagnostics));
    } else {
        for d in diagnostics {
            printer.warn(d);
        }
        printer.result(&human::plan_as(plan, printer.styles(), layout));
    }
}

pub(super) async fn run(
    printer: &Printer,
    file: &Path,
    out: Option<&Path>,
    detailed: bool,
    flags: &PlanFlags,
    run: &RunFlags,
) -> Result<u8, CliError> {
    let mut desired = load(printer, file)?;
    // A target the file does not declare is a mistake in the command: say so before any request.
    target_closure(&desired, &flags.targets)?;
    let parallelism: usize = run.parallelism.into();
    let session = Session::connect(printer, &desired)?;
    session.wait_for_standby(printer).await;
    session.resolve_vault(&mut desired).await?;
    let ledger = session.ledger(&desired, parallelism).await?;
    let opts = options(flags);
    let (_, plan, warnings) = session
        .plan(&mut desired, &ledger, &opts, parallelism)
        .await?;
    show(printer, &plan, &warnings, Layout::compact(run.compact));
    if let Some(path) = out {
        let topology = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
        let (digest, digest_key) = planfile::digest(&desired, &ledger, session.client());
        PlanFile {
            format: planfile::FORMAT.into(),
            aegisctl_version: env!("CARGO_PKG_VERSION").into(),
            topology,
            options: opts,
            topology_digest: digest,
            digest_key,
            plan: plan.clone(),
        }
        .write(path)?;
        printer.info(&format!(
            "\nSaved the plan to {}. Apply exactly it with: aegisctl apply {}",
            path.display(),
            path.display()
        ));
    }
    Ok(if detailed && !plan.is_empty() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    })
}
