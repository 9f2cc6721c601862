//! `aegisctl apply FILE|PLANFILE`: take the lock, read the ledger, plan, ask, execute while
//! recording, settle the ledger, release the lock — whatever happens in between, including an
//! interrupt (SIGINT/SIGTERM: dispatching stops, writes in flight finish, the ledger is written,
//! the lock released, exit 130; a second signal aborts at once).

use std::collections::BTreeMap;
use std::path::Path;

use tokio::signal::unix::{SignalKind, signal};

use super::apply_report::{exit_code, inconsistent, print_report};
use super::plan::options;
use super::session::Session;
use super::{CliError, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, load, usage};
use crate::apply::executor::{self, Cancel, Run};
use crate::apply::planfile::{self, DigestKey, PlanFile};
use crate::apply::record::Recorder;
use crate::apply::{ApplyReport, Outcome};
use crate::cli::{PlanFlags, RunFlags};
use crate::model::Desired;
use crate::plan::diff::target_closure;
use crate::plan::render::tenants::Layout;
use crate::plan::render::{human, json};
use crate::plan::{Action, PlanOptions};
use crate::printer::Printer;
use crate::state::ledger::Ledger;
use crate::state::lock::{self, Lock};

/// The flags of a saved plan, as words.
fn describe(o: &PlanOptions) -> String {
    let mut f = Vec::new();
    if o.prune {
        f.push("--prune".to_owned());
    }
    if o.allow_destroy {
        f.push("--allow-destroy".to_owned());
    }
    if o.adopt {
        f.push("--adopt".to_owned());
    }
    f.extend(o.targets.iter().map(|t| format!("--target {t}")));
    if f.is_empty() {
        "no flags".into()
    } else {
        f.join(" ")
    }
}

pub(super) async fn run(
    printer: &Printer,
    file: &Path,
    auto_approve: bool,
    flags: &PlanFlags,
    run: &RunFlags,
) -> Result<u8, CliError> {
    let saved = PlanFile::read(file)?;
    let (topology_file, opts) = match &saved {
        Some(s) => {
            if flags.any() && options(flags) != s.options {
                return Err(usage(
                    format!(
                        "the plan {} was made with {}, and this command asks for {}",
                        file.display(),
                        describe(&s.options),
                        describe(&options(flags))
                    ),
                    "a saved plan is applied with the flags it was made with: drop them, or make a new plan with the ones you want",
                ));
            }
            (s.topology.clone(), s.options.clone())
        }
        None => (file.to_path_buf(), options(flags)),
    };
    // Decide before any request whether we may ask; a saved plan was reviewed already.
    if saved.is_none() && !auto_approve && !printer.can_prompt() {
        return Err(usage(
            "apply needs confirmation, and there is no terminal to ask on",
            "review with `aegisctl plan`, then run `aegisctl apply --auto-approve`, or save a plan with -out and apply that",
        ));
    }
    let mut desired = load(printer, &topology_file)?;
    target_closure(&desired, &opts.targets)?;
    let parallelism: usize = run.parallelism.into();
    let session = Session::connect(printer, &desired)?;
    session.wait_for_standby(printer).await;
    session.resolve_vault(&mut desired).await?;
    let client = session.client().clone();
    // A field OpenBao does not know is refused before the first write (the ledger mount, the
    // lock): the server is left as it was.
    session
        .check_fields_first(&mut desired, parallelism)
        .await?;

    // The lock lives in the ledger mount: the mount first, then the lock, then the ledger.
    let exists = session.ledger_mount_exists(&desired).await?;
    Ledger::new(&desired.ledger_mount, &desired.name, exists)
        .ensure_mount(&client)
        .await?;
    if !exists {
        // The mount table read before has no ledger: read it again, or the ledger would be
        // taken as empty when an apply racing this one has just filled it.
        session.bao.forget_tables("");
    }
    let holder = session.token_name().await;
    let (mut lock, took_over) =
        Lock::acquire(&client, &desired.ledger_mount, &holder, lock::lease()?).await?;
    if let Some(warning) = took_over {
        printer.warn(&warning);
    }
    let cancel = Cancel::default();
    // A lock lost while running (taken over, or `unlock --force`) stops the dispatching as an
    // interrupt does: two applies must not write side by side.
    let (lost_printer, lost_cancel) = (printer.clone(), cancel.clone());
    lock.keep_alive(move |why| {
        lost_printer.warn(&why);
        lost_cancel.stop(why);
    });
    let signals = watch_signals(printer.clone(), cancel.clone(), topology_file.clone());
    // A circuit opening (a server failing for longer than the retry budget) stops the
    // dispatching: the remaining changes are "not started", not each retried in turn. Each
    // backend the run talks to has its own.
    let outages: Vec<_> = session
        .healths()
        .into_iter()
        .map(|(server, health)| {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                let why = health.opened().await;
                cancel.stop(format!(
                    "{server} stopped answering for the retry budget of {}s ({why})",
                    health.budget().as_secs()
                ));
            })
        })
        .collect();
    let result = locked(
        printer,
        &session,
        &mut desired,
        saved.as_ref(),
        auto_approve,
        &opts,
        parallelism,
        &cancel,
        Layout::compact(run.compact),
    )
    .await;
    let released = lock.release().await;
    signals.abort();
    for outage in &outages {
        outage.abort();
    }
    // The summary comes after the lock is given back, so that it can say when that failed
    // ("Apply complete!" is never followed by an error).
    let result = match result {
        Ok(Finished::Applied {
            report,
            warnings,
            ledger_error,
        }) => {
            let stopped = cancel.reason();
            print_report(
                printer,
                &report,
                &warnings,
                ledger_error.is_some(),
                released.is_err(),
                stopped.clone(),
            );
            match ledger_error {
                Some(e) => Err(e.into()),
                None if stopped.is_some() => Ok(EXIT_ERROR),
                None => Ok(exit_code(&report)),
            }
        }
        Ok(Finished::Early(code)) => Ok(code),
        Err(e) => Err(e),
    };
    match (result, released) {
        (Ok(code), Ok(())) => Ok(code),
        (Ok(_), Err(e)) => Err(e.into()),
        (Err(e), Ok(())) => Err(e),
        (Err(e), Err(r)) => {
            let hint = match r {
                crate::state::lock::LockError::Lost { .. } => "",
                _ => {
                    "; it frees itself when its lease expires, or run `aegisctl unlock` once no apply runs"
                }
            };
            printer.warn(&format!("{r}{hint}"));
            Err(e)
        }
    }
}

/// How an apply under the lock ended.
enum Finished {
    /// Before any change was sent (nothing to do, interrupted, declined), with its exit status.
    Early(u8),
    /// Changes were executed: the summary is printed once the lock is released.
    Applied {
        report: ApplyReport,
        warnings: Vec<String>,
        ledger_error: Option<crate::state::ledger::LedgerError>,
    },
}

/// SIGINT/SIGTERM: the first stops the apply gracefully, the second exits at once.
fn watch_signals(
    printer: Printer,
    cancel: Cancel,
    file: std::path::PathBuf,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        let mut seen = 0;
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            seen += 1;
            if seen == 1 {
                cancel.set();
                printer.warn("interrupted: no new change is started; the ones in flight finish, then the ledger is written and the lock released (interrupt again to abort at once)");
            } else {
                printer.warn(&format!(
                    "aborted: the apply lock is still held; once no apply runs, clear it with `aegisctl unlock {}`",
                    file.display()
                ));
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
        }
    })
}

#[allow(clippy::too_many_arguments)]
async fn locked(
    printer: &Printer,
    session: &Session,
    desired: &mut Desired,
    saved: Option<&PlanFile>,
    auto_approve: bool,
    opts: &PlanOptions,
    parallelism: usize,
    cancel: &Cancel,
    layout: Layout,
) -> Result<Finished, CliError> {
    let client = session.client();
    let mut ledger = session.ledger(desired, parallelism).await?;
    ledger.ensure_key(client).await?;
    let (observed, plan, warnings) = session.plan(desired, &ledger, opts, parallelism).await?;

    if let Some(saved) = saved {
        if planfile::digest_with(desired, &ledger, client, saved.digest_key)
            != saved.topology_digest
        {
            let hint = if saved.digest_key == DigestKey::Token {
                " (a plan made before the ledger existed must be applied with the same OpenBao token)"
            } else {
                ""
            };
            return Err(usage(
                format!(
                    "the topology {} or one of its inputs (secrets included) changed since the plan was saved{hint}",
                    saved.topology.display()
                ),
                "run `aegisctl plan -out PLANFILE` again and review the new plan",
            ));
        }
        if plan != saved.plan {
            let moved: std::collections::BTreeSet<String> = plan
                .changes
                .iter()
                .filter(|c| !saved.plan.changes.contains(c))
                .chain(
                    saved
                        .plan
                        .changes
                        .iter()
                        .filter(|c| !plan.changes.contains(c)),
                )
                .map(|c| c.address.0.clone())
                .collect();
            return Err(usage(
                format!(
                    "live state moved since the plan was saved: {}",
                    moved.into_iter().collect::<Vec<_>>().join(", ")
                ),
                "run `aegisctl plan -out PLANFILE` again and review the new plan",
            ));
        }
    } else if !plan.is_empty() && !printer.json {
        for w in &warnings {
            printer.warn(w);
        }
        printer.result(&human::plan_as(&plan, printer.styles(), layout));
    }

    if let Some(c) = plan.changes.iter().find(|c| c.warning.is_some()) {
        return Err(usage(
            format!(
                "{}: {}",
                c.address,
                c.warning.as_deref().unwrap_or_default()
            ),
            "nothing was changed; resolve the warning (where it names --allow-destroy, that flag allows it) and run again",
        ));
    }
    let selected = target_closure(desired, &opts.targets)?;
    let mut recorder = Recorder::new(client, &mut ledger, &session.registry, desired);
    if plan.is_empty() {
        // Nothing to send; objects that exist as declared become managed.
        recorder
            .settle(
                &observed,
                selected.as_ref(),
                opts.prune,
                opts.adopt,
                &BTreeMap::new(),
            )
            .await?;
        if printer.json {
            printer.document(&json::apply(&[], &[], &warnings));
        } else {
            printer.result("No changes. The servers match the topology.\n");
        }
        return Ok(Finished::Early(EXIT_OK));
    }
    if cancel.is_set() {
        printer.result("Apply interrupted before any change was made.\n");
        return Ok(Finished::Early(EXIT_INTERRUPTED));
    }
    if saved.is_none() && !auto_approve && !confirm(printer)? {
        printer.result("Apply cancelled.\n");
        return Ok(Finished::Early(EXIT_ERROR));
    }

    recorder.intents(&plan).await?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let progress = printer.reporter(plan.changes.len());
    let (results, recorded) = tokio::join!(
        executor::execute(
            &plan,
            Run {
                desired,
                observed: &observed,
                registry: &session.registry,
                parallelism,
                reporter: &progress,
                cancel,
                events: tx,
            },
        ),
        recorder.run(rx, cancel)
    );
    progress.finish();
    // A create whose answer was lost may have happened: ask before forgetting its intent.
    let mut still = BTreeMap::new();
    for (c, o) in &results {
        if matches!(o, Outcome::Failed(_))
            && c.action == Action::Create
            && let Some(kind) = session.registry.of(&c.id)
        {
            still.insert(
                c.address.clone(),
                matches!(kind.read(&c.id).await, Ok(Some(_)) | Err(_)),
            );
        }
    }
    let settled = recorder
        .settle(&observed, selected.as_ref(), opts.prune, opts.adopt, &still)
        .await;
    // Outputs made by this apply (a generated client secret) are known now: what was written
    // with them is checked against them, not against "(known after apply)".
    let known = session.with_made_outputs(desired).await;
    let inconsistent = inconsistent(
        session,
        known.as_ref().unwrap_or(desired),
        &results,
        &recorder,
    );
    let report = ApplyReport {
        results,
        inconsistent,
    };
    Ok(Finished::Applied {
        report,
        warnings,
        ledger_error: recorded.and(settled).err(),
    })
}

fn confirm(printer: &Printer) -> Result<bool, CliError> {
    printer.info("\nDo you want to perform these actions?\n  aegisctl will perform the actions described above.\n  Only 'yes' will be accepted to approve.\n");
    let answer: String = dialoguer::Input::new()
        .with_prompt("  Enter a value")
        .allow_empty(true)
        .interact_text()
        .map_err(|e| {
            usage(
                format!("cannot read the answer: {e}"),
                "run with --auto-approve",
            )
        })?;
    Ok(answer.trim() == "yes")
}
