//! The commands: each one (a file each) wires the pipeline's phases together and hands results
//! to the [`Printer`]. This is the only module that decides what is shown; everything below it
//! reports.

mod apply;
mod apply_report;
mod audit;
mod bootstrap;
mod drift;
mod env;
mod import;
mod import_infisical;
mod import_keycloak;
mod plan;
mod references;
mod run;
mod session;
mod unlock;
mod validate;

use std::path::Path;

use miette::Diagnostic;
use thiserror::Error;

use crate::apply::planfile::PlanFileError;
use crate::backends::{BackendError, BaoError};
use crate::cli::{Cli, Command, ImportSource};
use crate::model::{Address, Desired};
use crate::plan::PlanError;
use crate::printer::Printer;
use crate::state::ledger::LedgerError;
use crate::state::lock::LockError;
use crate::topology::{self, Problem, TopologyError};

/// Exit statuses of spec/cli.md.
pub const EXIT_OK: u8 = 0;
pub const EXIT_ERROR: u8 = 1;
pub const EXIT_CHANGES: u8 = 2;
/// An apply stopped by SIGINT or SIGTERM (128 + 2, the shell's convention for Ctrl-C).
pub const EXIT_INTERRUPTED: u8 = 130;

#[derive(Debug, Error, Diagnostic)]
pub enum CliError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Topology(#[from] TopologyError),
    /// OpenBao's errors carry their own help (what to check depends on what went wrong).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Bao(Box<BaoError>),
    /// Keycloak's errors, with their own help.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Keycloak(Box<crate::backends::keycloak::KeycloakError>),
    /// Infisical's errors, with their own help.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Infisical(Box<crate::backends::infisical::InfisicalError>),
    #[error(transparent)]
    #[diagnostic(help(
        "nothing further was changed; what was done is recorded as far as OpenBao allowed — check OpenBao, then run again"
    ))]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    PlanFile(#[from] PlanFileError),
    /// `run` and `env`: what went wrong, with what to do.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Runtime(Box<crate::runtime::RuntimeError>),
    #[error("{message}")]
    #[diagnostic(help("{help}"))]
    Usage { message: String, help: String },
}

impl From<BaoError> for CliError {
    fn from(e: BaoError) -> Self {
        CliError::Bao(Box::new(e))
    }
}

impl From<crate::runtime::RuntimeError> for CliError {
    fn from(e: crate::runtime::RuntimeError) -> Self {
        CliError::Runtime(Box::new(e))
    }
}

impl From<BackendError> for CliError {
    fn from(e: BackendError) -> Self {
        match e {
            BackendError::OpenBao(b) => CliError::Bao(b),
            BackendError::Keycloak(k) => CliError::Keycloak(k),
            BackendError::Infisical(i) => CliError::Infisical(i),
            BackendError::Refused(m) => CliError::Bao(Box::new(BaoError::Refused(m))),
        }
    }
}

impl From<crate::bootstrap::BootstrapError> for CliError {
    fn from(e: crate::bootstrap::BootstrapError) -> Self {
        match e {
            crate::bootstrap::BootstrapError::Bao(b) => CliError::Bao(b),
            crate::bootstrap::BootstrapError::Infisical(i) => CliError::Infisical(i),
            other => usage(
                other.to_string(),
                "nothing further was minted; fix the cause and run again",
            ),
        }
    }
}

pub(crate) fn usage(message: impl Into<String>, help: impl Into<String>) -> CliError {
    CliError::Usage {
        message: message.into(),
        help: help.into(),
    }
}

/// Problems found after loading (against the servers), located in the topology file.
pub(crate) fn located(
    desired: &Desired,
    items: Vec<(Address, Option<String>, String, Option<String>)>,
) -> CliError {
    let Some(src) = &desired.source else {
        let text: Vec<String> = items
            .iter()
            .map(|(a, _, m, _)| format!("{a}: {m}"))
            .collect();
        return usage(text.join("; "), "fix the topology and run again");
    };
    let by_addr: std::collections::BTreeMap<&Address, &crate::model::DesiredResource> =
        desired.resources.iter().map(|r| (&r.address, r)).collect();
    let problems: Vec<Problem> = items
        .into_iter()
        .map(|(addr, field, message, help)| {
            let res = by_addr.get(&addr);
            let loc = res
                .and_then(|r| match &field {
                    Some(f) => r.loc_of(f),
                    None => r.loc,
                })
                .unwrap_or_default();
            match res.and_then(|r| r.file.as_ref()) {
                Some(file) => file.problem(loc, message, help),
                None => src.problem(loc, message, help),
            }
        })
        .collect();
    CliError::Topology(TopologyError::Rejected(problems))
}

/// Runs the parsed command line; returns the exit status.
pub async fn run(cli: Cli) -> Result<u8, (CliError, bool)> {
    let json = match &cli.command {
        Command::Validate { json, .. } => *json,
        Command::Bootstrap(args) => args.json,
        Command::Audit { json, .. } => *json,
        Command::Plan { run, .. } | Command::Apply { run, .. } | Command::Drift { run, .. } => {
            run.json
        }
        _ => false,
    };
    let printer = Printer::new(cli.no_color, cli.quiet, json);
    session::set_retry_budget(std::time::Duration::from_secs(cli.retry_budget));
    let result = match cli.command {
        Command::Validate { file, .. } => validate::run(&printer, &file),
        Command::Plan {
            file,
            out,
            detailed_exitcode,
            plan,
            run,
        } => {
            plan::run(
                &printer,
                &file,
                out.as_deref(),
                detailed_exitcode,
                &plan,
                &run,
            )
            .await
        }
        Command::Apply {
            file,
            auto_approve,
            plan,
            run,
        } => apply::run(&printer, &file, auto_approve, &plan, &run).await,
        Command::Drift { file, run } => drift::run(&printer, &file, &run).await,
        Command::Unlock { file, force } => unlock::run(&printer, &file, force).await,
        Command::Bootstrap(args) => bootstrap::run(&printer, &args).await,
        Command::Import { source } => match source {
            ImportSource::Openbao {
                out,
                namespace,
                ledger,
            } => import::run(&printer, &out, &namespace, &ledger).await,
            ImportSource::Keycloak { realm, out } => {
                import_keycloak::run(&printer, &realm, &out).await
            }
            ImportSource::Infisical { project, out } => {
                import_infisical::run(&printer, &project, &out).await
            }
        },
        Command::Run { runtime, command } => run::run(&printer, &runtime, &command).await,
        Command::Env {
            runtime,
            format,
            out,
            explain,
        } => env::run(&printer, &runtime, format, out.as_deref(), explain).await,
        Command::Audit { file, since, json } => {
            audit::run(&printer, &file, since.as_deref(), json).await
        }
        Command::Completions { .. } | Command::Man => Ok(EXIT_OK),
    };
    result.map_err(|e| (e, json))
}

/// Loads the whole topology, printing its warnings.
pub(crate) fn load(printer: &Printer, file: &Path) -> Result<Desired, CliError> {
    let desired = topology::load(file)?;
    for w in &desired.warnings {
        printer.warn(w);
    }
    Ok(desired)
}
