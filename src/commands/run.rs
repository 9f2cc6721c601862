//! `aegisctl run FILE --profile P [--scope ORG/TEAM/WS] [--reason TEXT] -- CMD...`: the keymaster
//! at a process's start. Resolves the profile (login, every request at once, the access audited),
//! starts CMD with the values in its environment and no OpenBao credential, passes signals on,
//! renews leases while it runs, revokes them and aegisctl's token when it exits — for whatever
//! reason — and exits with its status.

use std::ffi::OsString;
use std::path::Path;

use super::CliError;
use crate::cli::RuntimeArgs;
use crate::printer::Printer;
use crate::runtime::exec;
use crate::runtime::keymaster::{self, Request};
use crate::runtime::profile::RuntimeSpec;
use crate::runtime::renew::Keeper;
use crate::runtime::resolve::Resolution;
use crate::runtime::scopes::Scope;
use crate::runtime::{RuntimeError, profile::Reference};

/// Loads the profile and checks the scope: every mistake of the command line or the file is
/// reported here, before any request.
pub(super) fn prepare(args: &RuntimeArgs) -> Result<(RuntimeSpec, Option<Scope>), CliError> {
    let spec = crate::topology::load_runtime(&args.file, &args.profile, args.namespace.as_deref())?;
    let scope = args.scope.as_deref().map(Scope::parse).transpose()?;
    if scope.is_some() && spec.scopes.is_none() {
        return Err(RuntimeError::NoScopes.into());
    }
    Ok((spec, scope))
}

/// The request for `command`, from the arguments.
pub(super) fn request<'a>(
    args: &RuntimeArgs,
    spec: &'a RuntimeSpec,
    scope: Option<Scope>,
    command: &'a str,
    program: Option<String>,
) -> Request<'a> {
    Request {
        spec,
        scope,
        reason: args.reason.clone(),
        command,
        program,
        audit_file: args
            .audit_file
            .clone()
            .unwrap_or_else(|| spec.audit.file.clone()),
        budget: super::session::budget(),
    }
}

pub(super) async fn run(
    printer: &Printer,
    args: &RuntimeArgs,
    command: &[OsString],
) -> Result<u8, CliError> {
    let (spec, scope) = prepare(args)?;
    let program = command.first().map(|p| {
        Path::new(p)
            .file_name()
            .unwrap_or(p.as_os_str())
            .to_string_lossy()
            .into_owned()
    });
    let req = request(args, &spec, scope, "run", program);
    let mut signals = exec::Signals::watch(&|w| printer.warn(w));
    let opened = keymaster::open(&req).await?;
    for w in &opened.warnings {
        printer.warn(w);
    }
    if let Some(sig) = signals.pending() {
        for w in keymaster::close(&opened.token, &opened.resolution.leases).await {
            printer.warn(&w);
        }
        printer.warn(&format!(
            "stopped by {sig} before the process started; what was leased for it is revoked"
        ));
        return Ok(exec::signal_code(sig));
    }
    let mut token = opened.token;
    let resolution = opened.resolution;
    tracing::info!(
        variables = resolution.vars.len(),
        leases = resolution.leases.len(),
        "resolved; starting the process"
    );
    let mut child = match exec::spawn(command, &resolution.vars, &spec.own_vars) {
        Ok(c) => c,
        Err(e) => {
            for w in keymaster::close(&token, &resolution.leases).await {
                printer.warn(&w);
            }
            return Err(e.into());
        }
    };
    let mut keeper = Keeper::new(&token, &resolution.leases, &lease_vars(&spec, &resolution));
    let status = exec::supervise(
        &mut child,
        &mut signals,
        &mut keeper,
        &mut token,
        &resolution.leases,
        &|w| printer.warn(w),
    )
    .await;
    for w in keymaster::close(&token, &resolution.leases).await {
        printer.warn(&w);
    }
    tracing::info!(
        leases = resolution.leases.len(),
        "the process exited; leases revoked"
    );
    Ok(exec::exit_code(status?))
}

/// For each lease (in the resolution's order), the variables it feeds.
fn lease_vars(spec: &RuntimeSpec, resolution: &Resolution) -> Vec<Vec<String>> {
    resolution
        .leases
        .iter()
        .map(|l| {
            spec.profile
                .entries
                .iter()
                .filter(
                    |e| matches!(&e.reference, Reference::Lease { path, .. } if *path == l.path),
                )
                .map(|e| e.name.clone())
                .collect()
        })
        .collect()
}
