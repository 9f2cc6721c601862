//! The commands: each one wires the pipeline's phases together and hands results to the
//! [`Printer`]. This is the only module that decides what is shown; everything below it reports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use miette::Diagnostic;
use thiserror::Error;

use crate::apply::lock::{Lock, LockError};
use crate::apply::planfile::{self, PlanFile, PlanFileError};
use crate::apply::{ApplyReport, Outcome, execute};
use crate::backends::openbao::{BaoClient, OpenBao, Table};
use crate::backends::{BaoError, Registry};
use crate::cli::{BootstrapArgs, Cli, Command, ImportSource, PlanFlags, RunFlags};
use crate::ledger::{Entry, Ledger, LedgerError};
use crate::model::{Address, AttrValue, Desired, OpenBaoConn, ResourceId};
use crate::plan::diff::{self, attr_diffs, target_closure};
use crate::plan::observe::{NAMESPACE_KIND, observe};
use crate::plan::render::{human, json};
use crate::plan::{Action, Change, Observed, Plan, PlanError, PlanOptions};
use crate::printer::Printer;
use crate::sensitive::Sensitive;
use crate::topology::{self, TopologyError};

/// Exit statuses of spec/cli.md.
pub const EXIT_OK: u8 = 0;
pub const EXIT_ERROR: u8 = 1;
pub const EXIT_CHANGES: u8 = 2;

#[derive(Debug, Error, Diagnostic)]
pub enum CliError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Topology(#[from] TopologyError),
    #[error(transparent)]
    #[diagnostic(help(
        "check that OpenBao is running and that openbao.address / BAO_ADDR and the token are right"
    ))]
    Bao(Box<BaoError>),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    #[diagnostic(help(
        "wait for the other apply to finish; if no apply is running (a killed process), clear it with `aegisctl unlock FILE`"
    ))]
    Lock(#[from] LockError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    PlanFile(#[from] PlanFileError),
    #[error("{message}")]
    #[diagnostic(help("{help}"))]
    Usage { message: String, help: String },
}

impl From<BaoError> for CliError {
    fn from(e: BaoError) -> Self {
        CliError::Bao(Box::new(e))
    }
}

fn usage(message: impl Into<String>, help: impl Into<String>) -> CliError {
    CliError::Usage {
        message: message.into(),
        help: help.into(),
    }
}

/// Runs the parsed command line; returns the exit status.
pub async fn run(cli: Cli) -> Result<u8, (CliError, bool)> {
    let json = match &cli.command {
        Command::Validate { json, .. } => *json,
        Command::Bootstrap(args) => args.json,
        Command::Plan { run, .. } | Command::Apply { run, .. } | Command::Drift { run, .. } => {
            run.json
        }
        _ => false,
    };
    let printer = Printer::new(cli.no_color, cli.quiet, json);
    let result = match cli.command {
        Command::Validate { file, .. } => validate(&printer, &file),
        Command::Plan {
            file,
            out,
            detailed_exitcode,
            plan,
            run,
        } => {
            plan_cmd(
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
        } => apply_cmd(&printer, &file, auto_approve, &plan, &run).await,
        Command::Drift { file, run } => drift_cmd(&printer, &file, &run).await,
        Command::Unlock { file } => unlock_cmd(&printer, &file).await,
        Command::Bootstrap(args) => bootstrap_cmd(&printer, &args).await,
        Command::Import { source } => match source {
            ImportSource::Openbao {
                out,
                namespace,
                ledger,
            } => import_cmd(&printer, &out, &namespace, &ledger).await,
        },
        Command::Completions { .. } | Command::Man => Ok(EXIT_OK),
    };
    result.map_err(|e| (e, json))
}

fn load(printer: &Printer, file: &Path) -> Result<Desired, CliError> {
    let desired = topology::load(file)?;
    for w in &desired.warnings {
        printer.warn(w);
    }
    Ok(desired)
}

fn validate(printer: &Printer, file: &Path) -> Result<u8, CliError> {
    let desired = load(printer, file)?;
    if printer.json {
        printer.document(&serde_json::json!({
            "format_version": json::FORMAT_VERSION,
            "valid": true,
            "objects": desired.resources.len(),
            "diagnostics": desired.warnings,
        }));
    } else {
        let unchecked = desired
            .resources
            .iter()
            .flat_map(|r| r.attrs.values())
            .filter(|v| matches!(v, AttrValue::Vault(_)))
            .count();
        if unchecked > 0 {
            printer.info(&format!(
                "{unchecked} vault: reference(s) not checked: validate sends no request; plan reads them."
            ));
        }
        printer.result(&format!(
            "The topology is valid: {} objects declared in {}.\n",
            desired.resources.len(),
            file.display()
        ));
    }
    Ok(EXIT_OK)
}

/// A connection to the topology's OpenBao, with the registry of kinds bound to it.
struct Session {
    bao: Arc<OpenBao>,
    registry: Registry,
}

impl Session {
    fn connect(desired: &Desired) -> Result<Session, CliError> {
        Self::connect_to(&desired.conn)
    }

    /// Connects with the topology's settings, falling back to the environment.
    fn connect_to(conn: &OpenBaoConn) -> Result<Session, CliError> {
        let env = |a: &str, b: &str| {
            std::env::var(a)
                .ok()
                .or_else(|| std::env::var(b).ok())
                .filter(|v| !v.is_empty())
        };
        let address = conn
            .address
            .clone()
            .or_else(|| env("BAO_ADDR", "VAULT_ADDR"))
            .ok_or_else(|| {
                usage(
                    "no OpenBao address",
                    "set openbao.address in the topology, or BAO_ADDR",
                )
            })?;
        let token = match &conn.token {
            Some(t) => t.clone(),
            None => Sensitive::new(env("BAO_TOKEN", "VAULT_TOKEN").ok_or_else(|| {
                usage(
                    "no OpenBao token",
                    "set openbao.token in the topology (e.g. env:BAO_TOKEN), or BAO_TOKEN",
                )
            })?),
        };
        let ca = conn
            .ca_cert
            .clone()
            .or_else(|| env("BAO_CACERT", "VAULT_CACERT").map(Into::into));
        let mut client = BaoClient::new(&address, token, ca.as_deref(), Duration::from_secs(30))?;
        if let Some(ns) = env("BAO_NAMESPACE", "VAULT_NAMESPACE") {
            client = client.with_base_namespace(&ns);
        }
        let bao = Arc::new(OpenBao::new(client));
        let registry = Registry::openbao(Arc::clone(&bao));
        Ok(Session { bao, registry })
    }

    /// Reads every `vault:MOUNT/PATH#key` reference from OpenBao (KV v2, in the namespace of
    /// the object using it), once per secret, and turns it into a secret value.
    async fn resolve_vault(&self, desired: &mut Desired) -> Result<(), CliError> {
        let mut cache: BTreeMap<
            (String, String),
            Option<serde_json::Map<String, serde_json::Value>>,
        > = BTreeMap::new();
        for res in &mut desired.resources {
            let ns = res.id.namespace.clone();
            for value in res.attrs.values_mut() {
                let AttrValue::Vault(r) = value else { continue };
                let key = (ns.clone(), r.path.clone());
                if !cache.contains_key(&key) {
                    let data = self.read_kv(&ns, &r.path).await?;
                    cache.insert(key.clone(), data);
                }
                let where_ = if ns.is_empty() {
                    String::new()
                } else {
                    format!(" in namespace {ns}")
                };
                let found = cache
                    .get(&key)
                    .and_then(Option::as_ref)
                    .ok_or_else(|| usage(
                        format!("{}: vault:{}#{}: there is no KV v2 secret `{}`{where_}", r.at, r.path, r.key, r.path),
                        "write the secret first (e.g. `bao kv put`), or fix the reference: vault:MOUNT/PATH#key",
                    ))?
                    .get(&r.key)
                    .ok_or_else(|| usage(
                        format!("{}: vault:{}#{}: the secret has no key `{}`{where_}", r.at, r.path, r.key, r.key),
                        "fix the key after `#`",
                    ))?;
                let text = match found {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                *value = AttrValue::Secret(Sensitive::new(text));
            }
        }
        Ok(())
    }

    /// The data of a KV v2 secret given as `MOUNT/PATH`, the mount found by longest prefix.
    async fn read_kv(
        &self,
        ns: &str,
        path: &str,
    ) -> Result<Option<serde_json::Map<String, serde_json::Value>>, CliError> {
        let mounts = self.bao.table(ns, Table::Secrets).await?;
        let mount = mounts
            .keys()
            .filter(|m| path.starts_with(&format!("{m}/")))
            .max_by_key(|m| m.len())
            .cloned();
        let Some(mount) = mount else { return Ok(None) };
        let rest = &path[mount.len() + 1..];
        // The KV secret kind reads it, as plan would.
        let id = ResourceId::new(ns, "kv_secret", Some(&mount), rest);
        match self.registry.get(&id.kind) {
            Some(kind) => Ok(kind.read(&id).await?),
            None => Ok(None),
        }
    }

    /// Marks the changes the server will not take through its API with what to do instead, and
    /// the deletions that must be refused with why.
    async fn annotate(&self, desired: &Desired, plan: &mut Plan) -> Result<(), CliError> {
        let by_addr: BTreeMap<&Address, &crate::model::DesiredResource> =
            desired.resources.iter().map(|r| (&r.address, r)).collect();
        for change in plan
            .changes
            .iter_mut()
            .filter(|c| matches!(c.action, Action::Create | Action::Replace))
        {
            let (Some(kind), Some(res)) = (
                self.registry.get(&change.id.kind),
                by_addr.get(&change.address).copied(),
            ) else {
                continue;
            };
            change.manual = kind.manual_step(res).await?;
        }
        // Deletions the server-side situation forbids are refused now, before anything changes.
        let deleting: BTreeSet<Address> = plan
            .changes
            .iter()
            .filter(|c| c.action == Action::Delete)
            .map(|c| c.address.clone())
            .collect();
        for change in plan
            .changes
            .iter_mut()
            .filter(|c| c.action == Action::Delete)
        {
            if let Some(kind) = self.registry.get(&change.id.kind)
                && let Some(why) = kind.refuse_delete(&change.id, &deleting).await?
            {
                change.warning = Some(why);
            }
        }
        Ok(())
    }

    fn client(&self) -> &BaoClient {
        &self.bao.client
    }

    async fn ledger(&self, desired: &Desired) -> Result<Ledger, CliError> {
        let mounts = self.bao.table("", Table::Secrets).await?;
        Ok(Ledger::load(
            self.client(),
            &desired.ledger_mount,
            mounts.contains_key(&desired.ledger_mount),
        )
        .await?)
    }

    /// Reads every declared object plus, when asked, what the ledger holds beyond them.
    async fn observe(
        &self,
        desired: &Desired,
        ledger: &Ledger,
        with_ledger: bool,
        parallelism: usize,
    ) -> Result<Observed, CliError> {
        let mut ids: BTreeMap<Address, &ResourceId> = desired
            .resources
            .iter()
            .map(|r| (r.address.clone(), &r.id))
            .collect();
        if with_ledger {
            for (a, e) in &ledger.entries {
                ids.entry(a.clone()).or_insert(&e.id);
            }
        }
        Ok(observe(&self.registry, ids.into_values(), parallelism).await?)
    }
}

fn plan_options(flags: &PlanFlags) -> PlanOptions {
    PlanOptions {
        prune: flags.prune,
        targets: flags.targets.clone(),
        allow_destroy: flags.allow_destroy,
    }
}

fn show_plan(printer: &Printer, plan: &Plan) {
    if printer.json {
        printer.document(&json::plan(plan, &[]));
    } else {
        printer.result(&human::plan(plan, printer.styles()));
    }
}

async fn plan_cmd(
    printer: &Printer,
    file: &Path,
    out: Option<&Path>,
    detailed: bool,
    flags: &PlanFlags,
    run: &RunFlags,
) -> Result<u8, CliError> {
    let desired = load(printer, file)?;
    // A target the file does not declare is a mistake in the command: say so before any request.
    target_closure(&desired, &flags.targets)?;
    let session = Session::connect(&desired)?;
    let mut desired = desired;
    session.resolve_vault(&mut desired).await?;
    let ledger = session.ledger(&desired).await?;
    let observed = session
        .observe(&desired, &ledger, flags.prune, run.parallelism.into())
        .await?;
    let mut plan = diff::plan(
        &desired,
        &observed,
        &ledger,
        &session.registry,
        &plan_options(flags),
    )?;
    session.annotate(&desired, &mut plan).await?;
    show_plan(printer, &plan);
    if let Some(path) = out {
        let topology = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
        PlanFile {
            format: planfile::FORMAT.into(),
            aegisctl_version: env!("CARGO_PKG_VERSION").into(),
            topology,
            prune: flags.prune,
            targets: flags.targets.clone(),
            topology_digest: planfile::digest(&desired, &ledger, ledger.has_key()),
            digest_keyed: ledger.has_key(),
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

async fn apply_cmd(
    printer: &Printer,
    file: &Path,
    auto_approve: bool,
    flags: &PlanFlags,
    run: &RunFlags,
) -> Result<u8, CliError> {
    let saved = PlanFile::read(file)?;
    let (topology_file, flags) = match &saved {
        Some(s) => (
            s.topology.clone(),
            PlanFlags {
                targets: s.targets.clone(),
                prune: s.prune,
                allow_destroy: flags.allow_destroy,
            },
        ),
        None => (file.to_path_buf(), flags.clone()),
    };
    // Decide before any request whether we may ask; a saved plan was reviewed already.
    if saved.is_none() && !auto_approve && !printer.can_prompt() {
        return Err(usage(
            "apply needs confirmation, and there is no terminal to ask on",
            "review with `aegisctl plan`, then run `aegisctl apply --auto-approve`, or save a plan with -out and apply that",
        ));
    }
    let mut desired = load(printer, &topology_file)?;
    target_closure(&desired, &flags.targets)?;
    let session = Session::connect(&desired)?;
    session.resolve_vault(&mut desired).await?;
    let client = session.client().clone();

    let mut ledger = session.ledger(&desired).await?;
    ledger.ensure(&client).await?;
    let holder = crate::apply::lock::whoami(&token_name(&client).await);
    let lock = Lock::acquire(&client, &desired.ledger_mount, &holder).await?;
    let result = apply_locked(
        printer,
        &session,
        &desired,
        &mut ledger,
        saved.as_ref(),
        auto_approve,
        &flags,
        run,
    )
    .await;
    let released = lock.release(&client).await;
    let code = result?;
    released?;
    Ok(code)
}

/// The token's display name, for the lock record (best effort).
async fn token_name(client: &BaoClient) -> String {
    match client.read("", "auth/token/lookup-self").await {
        Ok(Some(v)) => v
            .pointer("/data/display_name")
            .and_then(|d| d.as_str())
            .unwrap_or("token")
            .to_owned(),
        _ => "token".into(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn apply_locked(
    printer: &Printer,
    session: &Session,
    desired: &Desired,
    ledger: &mut Ledger,
    saved: Option<&PlanFile>,
    auto_approve: bool,
    flags: &PlanFlags,
    run: &RunFlags,
) -> Result<u8, CliError> {
    let parallelism: usize = run.parallelism.into();
    let opts = plan_options(flags);
    // Objects only the ledger holds matter only to --prune: read them only then.
    let observed = session
        .observe(desired, ledger, opts.prune, parallelism)
        .await?;
    let mut plan = diff::plan(desired, &observed, ledger, &session.registry, &opts)?;
    session.annotate(desired, &mut plan).await?;

    if let Some(saved) = saved {
        if planfile::digest(desired, ledger, saved.digest_keyed) != saved.topology_digest {
            return Err(usage(
                format!(
                    "the topology {} changed since the plan was saved",
                    saved.topology.display()
                ),
                "run `aegisctl plan -out PLANFILE` again and review the new plan",
            ));
        }
        if plan != saved.plan {
            let moved: Vec<String> = plan
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
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            return Err(usage(
                format!(
                    "live state moved since the plan was saved: {}",
                    moved.join(", ")
                ),
                "run `aegisctl plan -out PLANFILE` again and review the new plan",
            ));
        }
    } else if !plan.is_empty() && !printer.json {
        printer.result(&human::plan(&plan, printer.styles()));
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

    if plan.is_empty() {
        record(
            session,
            desired,
            ledger,
            &observed,
            &ApplyReport::default(),
            &opts,
            parallelism,
        )
        .await?;
        if printer.json {
            printer.document(&json::apply(&[], &[], &[]));
        } else {
            printer.result("No changes. The servers match the topology.\n");
        }
        return Ok(EXIT_OK);
    }

    if saved.is_none() && !auto_approve && !confirm(printer)? {
        printer.result("Apply cancelled.\n");
        return Ok(EXIT_ERROR);
    }

    let progress = printer.reporter(plan.changes.len());
    let results = execute(
        &plan,
        desired,
        &observed,
        &session.registry,
        parallelism,
        &progress,
    )
    .await;
    progress.finish();
    let mut report = ApplyReport {
        results,
        inconsistent: Vec::new(),
    };
    report.inconsistent = record(
        session,
        desired,
        ledger,
        &observed,
        &report,
        &opts,
        parallelism,
    )
    .await?;

    if printer.json {
        let rows: Vec<(Change, String, Option<String>)> = report
            .results
            .iter()
            .map(|(c, o)| {
                let err = match o {
                    Outcome::Failed(e) => Some(e.clone()),
                    Outcome::Skipped(up) => Some(format!("upstream {up} failed")),
                    Outcome::Done | Outcome::Manual => None,
                };
                (c.clone(), o.word().to_owned(), err)
            })
            .collect();
        printer.document(&json::apply(&rows, &report.inconsistent, &[]));
    } else {
        if !report.inconsistent.is_empty() {
            let mut text = String::from(
                "\nInconsistent after apply: these objects still differ after being written:\n\n",
            );
            for c in &report.inconsistent {
                human::change_block(&mut text, printer.styles(), c, "is still different");
            }
            printer.result(&text);
        }
        printer.result(&format!(
            "\n{}\n",
            human::applied(
                &report.succeeded(),
                report.failed(),
                report.skipped(),
                report
                    .results
                    .iter()
                    .filter(|(_, o)| *o == Outcome::Manual)
                    .count(),
            )
        ));
    }
    Ok(
        if report.failed() + report.skipped() > 0 || !report.inconsistent.is_empty() {
            EXIT_ERROR
        } else {
            EXIT_OK
        },
    )
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

/// After an apply: re-read what was written, compute fingerprints, write the ledger, and return
/// what is still different ("inconsistent after apply").
async fn record(
    session: &Session,
    desired: &Desired,
    ledger: &mut Ledger,
    observed: &Observed,
    report: &ApplyReport,
    opts: &PlanOptions,
    parallelism: usize,
) -> Result<Vec<Change>, CliError> {
    session.bao.forget_tables();
    let outcomes: BTreeMap<&Address, &Outcome> = report
        .results
        .iter()
        .map(|(c, o)| (&c.address, o))
        .collect();
    let written: BTreeMap<&Address, &Change> = report
        .results
        .iter()
        .filter(|(c, o)| *o == Outcome::Done && c.action != Action::Delete)
        .map(|(c, _)| (&c.address, c))
        .collect();
    let touched: Vec<&ResourceId> = report.results.iter().map(|(c, _)| &c.id).collect();
    let reread = observe(&session.registry, touched, parallelism).await?;
    let live_now = |a: &Address| -> Option<&crate::backends::Live> {
        match reread.live.get(a) {
            Some(v) => v.as_ref(),
            None => observed.live.get(a).and_then(Option::as_ref),
        }
    };

    let mut entries = ledger.entries.clone();
    for (c, o) in &report.results {
        if c.action == Action::Delete && *o == Outcome::Done {
            entries.remove(&c.address);
        }
    }
    let selected = target_closure(desired, &opts.targets)?;
    if opts.prune && selected.is_none() {
        // Ledger entries for objects that are gone and no longer declared are finished with.
        let declared: BTreeSet<&Address> = desired.resources.iter().map(|r| &r.address).collect();
        entries.retain(|a, _| declared.contains(a) || live_now(a).is_some());
    }
    for res in &desired.resources {
        if selected.as_ref().is_some_and(|s| !s.contains(&res.address)) {
            continue;
        }
        let outcome = outcomes.get(&res.address).copied();
        let manual = outcome == Some(&Outcome::Manual);
        let Some(live) = live_now(&res.address) else {
            if manual {
                // Declared and handed to the operator: drift reports it until it exists.
                entries.entry(res.address.clone()).or_insert_with(|| Entry {
                    id: res.id.clone(),
                    fp: BTreeMap::new(),
                });
            }
            continue;
        };
        let was_written = written.contains_key(&res.address);
        let entry = entries.entry(res.address.clone()).or_insert_with(|| Entry {
            id: res.id.clone(),
            fp: BTreeMap::new(),
        });
        if outcome.is_some_and(|o| *o != Outcome::Done) {
            continue;
        }
        for (field, value) in &res.attrs {
            let write_only = !live.contains_key(field);
            if (value.is_secret() || write_only)
                && (was_written || !entry.fp.contains_key(field))
                && let Some(fp) = ledger.fingerprint(&res.address, field, value)
            {
                entry.fp.insert(field.clone(), fp);
            }
        }
    }
    let mut view = ledger.clone();
    view.entries = entries.clone();
    let mut inconsistent = Vec::new();
    for res in &desired.resources {
        let Some(c) = written.get(&res.address) else {
            continue;
        };
        let addr = &res.address;
        let Some(kind) = session.registry.get(&res.id.kind) else {
            continue;
        };
        match reread.live.get(addr).and_then(Option::as_ref) {
            Some(live) => {
                let attrs = attr_diffs(kind.as_ref(), res, live, &view);
                if !attrs.is_empty() {
                    inconsistent.push(Change {
                        action: Action::Update,
                        attrs,
                        ..(*c).clone()
                    });
                }
            }
            None => inconsistent.push(Change {
                action: Action::Create,
                ..(*c).clone()
            }),
        }
    }
    ledger.save(session.client(), entries).await?;
    Ok(inconsistent)
}

async fn drift_cmd(printer: &Printer, file: &Path, run: &RunFlags) -> Result<u8, CliError> {
    let mut desired = load(printer, file)?;
    let session = Session::connect(&desired)?;
    session.resolve_vault(&mut desired).await?;
    let ledger = session.ledger(&desired).await?;
    let observed = session
        .observe(&desired, &ledger, true, run.parallelism.into())
        .await?;
    // List what exists in every namespace the topology manages (that exists).
    let mut namespaces: BTreeSet<String> = BTreeSet::from([String::new()]);
    for r in desired
        .resources
        .iter()
        .filter(|r| r.id.kind == NAMESPACE_KIND)
    {
        if matches!(observed.live.get(&r.address), Some(Some(_))) {
            namespaces.insert(r.id.namespace_path());
        }
    }
    let mut existing = Vec::new();
    for ns in &namespaces {
        let declared: Vec<&crate::model::DesiredResource> = desired
            .resources
            .iter()
            .filter(|r| &r.id.namespace == ns)
            .collect();
        for kind in session.registry.all() {
            existing.extend(kind.list(ns, &declared).await?);
        }
    }
    // The ledger's own mount is aegisctl's, not an unmanaged object.
    existing.retain(|id| {
        !(id.kind == "mount" && id.namespace.is_empty() && id.name == desired.ledger_mount)
    });
    let drift = diff::drift(&desired, &observed, &ledger, &session.registry, &existing)?;
    if printer.json {
        printer.document(&json::drift(&drift, &[]));
    } else {
        if !ledger.mount_exists {
            printer.info("Nothing has been applied yet: the ledger does not exist.");
        }
        printer.result(&human::drift(&drift, printer.styles()));
    }
    Ok(if drift.is_empty() {
        EXIT_OK
    } else {
        EXIT_CHANGES
    })
}

async fn unlock_cmd(printer: &Printer, file: &Path) -> Result<u8, CliError> {
    let desired = load(printer, file)?;
    let session = Session::connect(&desired)?;
    match Lock::force_release(session.client(), &desired.ledger_mount).await? {
        Some((holder, since)) => printer.result(&format!(
            "Released the lock held by {holder} since {since}.\n"
        )),
        None => printer.result("The lock was not held.\n"),
    }
    Ok(EXIT_OK)
}

async fn import_cmd(
    printer: &Printer,
    out: &Path,
    namespace: &str,
    ledger: &str,
) -> Result<u8, CliError> {
    let conn = OpenBaoConn {
        address: None,
        token: None,
        ca_cert: None,
    };
    let session = Session::connect_to(&conn)?;
    let report =
        crate::import::import_openbao(&session.bao, &session.registry, namespace, ledger, out)
            .await
            .map_err(|e| {
                usage(
                    e.to_string(),
                    "check the output directory and the token's permissions",
                )
            })?;
    let mut text = format!(
        "Imported {} objects into {} ({} policy files).\n",
        report.objects,
        report.topology.display(),
        report.policy_files.len()
    );
    if !report.placeholders.is_empty() {
        text.push_str(
            "\nSecret values were not imported. Set these environment variables before planning:\n",
        );
        for (var, what) in &report.placeholders {
            text.push_str(&format!("  {var}  ({what})\n"));
        }
    }
    printer.result(&text);
    Ok(EXIT_OK)
}

impl From<crate::bootstrap::BootstrapError> for CliError {
    fn from(e: crate::bootstrap::BootstrapError) -> Self {
        match e {
            crate::bootstrap::BootstrapError::Bao(b) => CliError::Bao(b),
            other => usage(
                other.to_string(),
                "nothing further was minted; fix the cause and run again",
            ),
        }
    }
}

async fn bootstrap_cmd(printer: &Printer, args: &BootstrapArgs) -> Result<u8, CliError> {
    use crate::bootstrap::{audit, render, secret_id};

    let desired = load(printer, &args.file)?;
    let audit_file = args.audit_file.clone().unwrap_or_else(|| {
        args.file
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join("bootstrap-audit.jsonl")
    });

    if args.list || args.revoke.is_some() {
        let session = Session::connect(&desired)?;
        let client = session.client();
        let ledger = &desired.ledger_mount;
        if let Some(host) = &args.revoke {
            let (mut records, version) = audit::read(client, ledger, host).await?;
            let mut revoked = Vec::new();
            for r in records.iter_mut().filter(|r| !r.revoked) {
                secret_id::revoke(client, r).await?;
                r.revoked = true;
                revoked.push(crate::bootstrap::audit::MintRecord {
                    event: "revoke".into(),
                    created: crate::clock::now_rfc3339(),
                    ..r.clone()
                });
            }
            if !revoked.is_empty() {
                audit::write(client, ledger, host, &records, version).await?;
                audit::append_local(&audit_file, &revoked)?;
            }
            printer.result(&format!(
                "Revoked {} outstanding bootstrap(s) of {host}: their SecretIDs are destroyed and their wrapping tokens revoked.\n",
                revoked.len()
            ));
            return Ok(EXIT_OK);
        }
        let hosts = if args.hosts.is_empty() {
            audit::hosts(client, ledger).await?
        } else {
            args.hosts.clone()
        };
        let mut rows = Vec::new();
        for host in hosts {
            let (records, _) = audit::read(client, ledger, &host).await?;
            for r in records {
                let st = secret_id::status(client, &r).await?;
                rows.push((r, st));
            }
        }
        if printer.json {
            printer.document(&serde_json::json!(
                rows.iter()
                    .map(|(r, s)| serde_json::json!({ "record": r, "status": s }))
                    .collect::<Vec<_>>()
            ));
        } else if rows.is_empty() {
            printer.result("No bootstraps recorded.\n");
        } else {
            let mut text = format!(
                "{:<16} {:<28} {:<14} {:<22} {:<12} {:<18} {}\n",
                "HOST",
                "ROLE",
                "NAMESPACE",
                "MINTED",
                "WRAPPING",
                "SECRET ID",
                "SECRET ID ACCESSOR"
            );
            for (r, st) in &rows {
                text.push_str(&format!(
                    "{:<16} {:<28} {:<14} {:<22} {:<12} {:<18} {}\n",
                    r.host,
                    format!("{}/{}", r.approle_mount, r.role),
                    if r.namespace.is_empty() {
                        "root"
                    } else {
                        &r.namespace
                    },
                    r.created.split('.').next().unwrap_or_default(),
                    st.wrapping,
                    st.secret_id,
                    r.secret_id_accessor
                ));
            }
            printer.result(&text);
        }
        return Ok(EXIT_OK);
    }

    let hosts: Vec<&crate::model::Host> = if args.all {
        desired.hosts.iter().collect()
    } else {
        let mut out = Vec::new();
        for name in &args.hosts {
            let h = desired
                .hosts
                .iter()
                .find(|h| &h.name == name)
                .ok_or_else(|| {
                    let known: Vec<&str> = desired.hosts.iter().map(|h| h.name.as_str()).collect();
                    usage(
                        format!("the topology declares no host `{name}`"),
                        format!(
                            "hosts declared: {}",
                            if known.is_empty() {
                                "none".to_owned()
                            } else {
                                known.join(", ")
                            }
                        ),
                    )
                })?;
            out.push(h);
        }
        out
    };
    if hosts.is_empty() {
        return Err(usage(
            "no host to bootstrap",
            "name the hosts (aegisctl bootstrap FILE HOST...) or pass --all",
        ));
    }
    let wrap_ttl = match &args.wrap_ttl {
        Some(t) => match crate::duration::parse(t) {
            Ok(secs) if secs > 0 => Some(crate::duration::format(secs)),
            _ => {
                return Err(usage(
                    format!("--wrap-ttl {t} is not a duration"),
                    "write e.g. 5m or 300s",
                ));
            }
        },
        None => None,
    };
    let ca_cert = match &desired.conn.ca_cert {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|e| {
            usage(
                format!("cannot read {}: {e}", p.display()),
                "check openbao.ca_cert",
            )
        })?),
        None => None,
    };
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir).map_err(|e| {
            usage(
                format!("cannot create {}: {e}", dir.display()),
                "check --out-dir",
            )
        })?;
    }

    let session = if args.dry_run {
        None
    } else {
        Some(Session::connect(&desired)?)
    };
    let address = match (&args.address, &session) {
        (Some(a), _) => a.clone(),
        (None, Some(s)) => s.client().address().to_owned(),
        (None, None) => desired
            .conn
            .address
            .clone()
            .or_else(|| std::env::var("BAO_ADDR").ok())
            .unwrap_or_else(|| "https://openbao.example:8200".into()),
    };
    let minted_by = match &session {
        Some(s) => {
            let mut ledger = s.ledger(&desired).await?;
            ledger.ensure(s.client()).await?;
            token_name(s.client()).await
        }
        None => String::new(),
    };
    let mut rendered = Vec::new();
    for host in hosts {
        let ttl = wrap_ttl.clone().unwrap_or_else(|| host.wrap_ttl.clone());
        let format = args
            .format
            .unwrap_or(render::Format::default_for(host.kind));
        // Render with placeholders first: a broken template must fail before anything is minted.
        render::render(
            format,
            &render::Inputs {
                host,
                address: &address,
                role_id: "<role-id>",
                wrapped_token: &Sensitive::new("<wrapped-secret-id>".to_owned()),
                ca_cert: ca_cert.as_deref(),
            },
        )?;
        let (role_id, wrapped) = match &session {
            None => (
                format!("<role-id of {}/{}>", host.approle_mount, host.role),
                Sensitive::new("<wrapped SecretID: minted by aegisctl bootstrap>".to_owned()),
            ),
            Some(s) => {
                let client = s.client();
                let m =
                    secret_id::mint(client, host, &ttl, args.allow_multi_use, &minted_by).await?;
                // Record before rendering: a SecretID that exists must be on record.
                let (mut records, version) =
                    audit::read(client, &desired.ledger_mount, &host.name).await?;
                records.push(m.record.clone());
                audit::write(client, &desired.ledger_mount, &host.name, &records, version).await?;
                audit::append_local(&audit_file, std::slice::from_ref(&m.record))?;
                printer.info(&format!(
                    "{}: minted a wrapped SecretID (SecretID accessor {}, wrapping accessor {}, unwrap within {})",
                    host.name, m.record.secret_id_accessor, m.record.wrapping_accessor, crate::duration::format(m.record.wrap_ttl_seconds)
                ));
                (m.role_id, m.wrapped_token)
            }
        };
        let text = render::render(
            format,
            &render::Inputs {
                host,
                address: &address,
                role_id: &role_id,
                wrapped_token: &wrapped,
                ca_cert: ca_cert.as_deref(),
            },
        )?;
        rendered.push((host.name.clone(), format, Sensitive::new(text)));
    }
    match &args.out_dir {
        Some(dir) => {
            for (name, format, text) in &rendered {
                let path = dir.join(format!("{name}.{}", format.extension()));
                write_private(&path, text.expose())?;
                printer.info(&format!("wrote {}", path.display()));
            }
        }
        None => {
            let mut out = String::new();
            for (i, (name, format, text)) in rendered.iter().enumerate() {
                if rendered.len() > 1 {
                    let sep = match format {
                        render::Format::Env => format!("# ---- {name} ----\n"),
                        _ => format!("{}# ---- {name} ----\n", if i > 0 { "---\n" } else { "" }),
                    };
                    out.push_str(&sep);
                }
                out.push_str(text.expose());
            }
            printer.result(&out);
        }
    }
    Ok(EXIT_OK)
}

/// Writes a file only its owner can read (mode 0600 from creation on, never briefly wider).
fn write_private(path: &Path, text: &str) -> Result<(), CliError> {
    use std::io::Write;
    let err = |e: std::io::Error| {
        usage(
            format!("cannot write {}: {e}", path.display()),
            "check --out-dir",
        )
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        // An existing file keeps its mode on open: tighten it first.
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
        }
    }
    let mut f = options.open(path).map_err(err)?;
    f.write_all(text.as_bytes()).map_err(err)
}
