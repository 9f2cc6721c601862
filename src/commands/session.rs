//! A connection to the topology's OpenBao (and Keycloak or Infisical, only when the file has
//! their block) with the registry of kinds bound to them, and the steps plan, apply and drift share:
//! `vault:` references, outputs, the ledger, observation, the field check, the ownership check,
//! and the annotations a plan gets from the servers (manual steps, the prune guard).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use super::{CliError, located, usage};
use crate::backends::Registry;
use crate::backends::openbao::fields::FieldCheck;
use crate::backends::openbao::{BaoClient, OpenBao, Table};
use crate::model::{Address, Desired, OpenBaoConn, ResourceId};
use crate::plan::contents::{handled_by, lost_with};
use crate::plan::diff;
use crate::plan::observe::observe;
use crate::plan::{Action, Observed, Plan, PlanOptions};
use crate::printer::Printer;
use crate::sensitive::Sensitive;
use crate::state::ledger::Ledger;

pub(crate) struct Session {
    pub bao: Arc<OpenBao>,
    /// Keycloak, when the topology declares it.
    pub keycloak: Option<Arc<crate::backends::keycloak::kinds::Keycloak>>,
    /// Infisical, when the topology declares it.
    pub infisical: Option<Arc<crate::backends::infisical::kinds::Infisical>>,
    pub registry: Registry,
    /// The field check's warnings once it has passed: it runs once per run (apply runs it before
    /// its first write, and the plan it makes then does not repeat it).
    fields_checked: std::sync::Mutex<Option<Vec<String>>>,
}

/// The run-wide retry budget (`--retry-budget`), set once from the command line.
static RETRY_BUDGET: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();

pub(crate) fn set_retry_budget(budget: Duration) {
    let _ = RETRY_BUDGET.set(budget);
}

/// The retry budget of this run, per backend.
pub(super) fn budget() -> Duration {
    RETRY_BUDGET
        .get()
        .copied()
        .unwrap_or(crate::backends::http::DEFAULT_BUDGET)
}

impl Session {
    pub fn connect(printer: &Printer, desired: &Desired) -> Result<Session, CliError> {
        let mut session = Self::connect_to(printer, &desired.conn)?;
        if let Some(kc) = &desired.keycloak {
            if let Some(warning) = crate::backends::http::plain_http_warning(&kc.url) {
                printer.warn(&warning);
            }
            let client = crate::backends::keycloak::KeycloakClient::new(
                &kc.url,
                kc.auth.clone(),
                kc.ca_cert.as_deref(),
                Duration::from_secs(30),
                budget(),
            )
            .map_err(|e| CliError::Keycloak(Box::new(e)))?;
            let kinds = Arc::new(crate::backends::keycloak::kinds::Keycloak::new(client));
            crate::backends::keycloak::kinds::register(&mut session.registry, Arc::clone(&kinds));
            session.keycloak = Some(kinds);
        }
        if let Some(inf) = &desired.infisical {
            if let Some(warning) = crate::backends::http::plain_http_warning(&inf.url) {
                printer.warn(&warning);
            }
            let client = crate::backends::infisical::InfisicalClient::from_conn(
                inf,
                Duration::from_secs(30),
                budget(),
            )
            .map_err(|e| CliError::Infisical(Box::new(e)))?;
            let kinds = Arc::new(crate::backends::infisical::kinds::Infisical::new(client));
            crate::backends::infisical::kinds::register(&mut session.registry, Arc::clone(&kinds));
            session.infisical = Some(kinds);
        }
        Ok(session)
    }

    /// Connects with the topology's settings, falling back to the environment.
    pub fn connect_to(printer: &Printer, conn: &OpenBaoConn) -> Result<Session, CliError> {
        let address = conn.address_or_env().ok_or_else(|| {
            usage(
                "no OpenBao address",
                "set openbao.address in the topology, or BAO_ADDR",
            )
        })?;
        let token = match &conn.token {
            Some(t) => t.clone(),
            None => Sensitive::new(
                crate::model::env_either("BAO_TOKEN", "VAULT_TOKEN").ok_or_else(|| {
                    usage(
                        "no OpenBao token",
                        "set openbao.token in the topology (e.g. env:BAO_TOKEN), or BAO_TOKEN",
                    )
                })?,
            ),
        };
        let ca = conn.ca_cert_or_env();
        if let Some(warning) = crate::backends::http::plain_http_warning(&address) {
            printer.warn(&warning);
        }
        let mut client = BaoClient::new(
            &address,
            token,
            ca.as_deref(),
            Duration::from_secs(30),
            budget(),
        )?;
        if let Some(ns) = OpenBaoConn::base_namespace() {
            client = client.with_base_namespace(&ns);
        }
        let bao = Arc::new(OpenBao::new(client));
        let registry = Registry::openbao(Arc::clone(&bao));
        Ok(Session {
            bao,
            keycloak: None,
            infisical: None,
            registry,
            fields_checked: std::sync::Mutex::new(None),
        })
    }

    /// The retry budget and circuit of every server this run talks to, by name.
    pub fn healths(&self) -> Vec<(&'static str, crate::backends::http::Health)> {
        let mut out = vec![("OpenBao", self.client().health().clone())];
        if let Some(kc) = &self.keycloak {
            out.push(("Keycloak", kc.client.health().clone()));
        }
        if let Some(inf) = &self.infisical {
            out.push(("Infisical", inf.client.health().clone()));
        }
        out
    }

    pub fn client(&self) -> &BaoClient {
        &self.bao.client
    }

    /// Before reading live state: a raft standby that lags behind its leader is given a moment
    /// to catch up, and if it does not, the operator is told that what follows may be stale.
    pub async fn wait_for_standby(&self, printer: &Printer) {
        if let Some(warning) = crate::backends::openbao::ha::standby_lag(self.client()).await {
            printer.warn(&warning);
        }
    }

    /// The token's display name, for lock and audit records (best effort).
    pub async fn token_name(&self) -> String {
        match self
            .client()
            .read(
                "",
                &crate::backends::path::ApiPath::route("auth/token/lookup-self"),
            )
            .await
        {
            Ok(Some(v)) => v
                .pointer("/data/display_name")
                .and_then(|d| d.as_str())
                .unwrap_or("token")
                .to_owned(),
            _ => "token".into(),
        }
    }

    /// Whether the ledger mount exists.
    pub async fn ledger_mount_exists(&self, desired: &Desired) -> Result<bool, CliError> {
        let mounts = self.bao.table("", Table::Secrets).await?;
        Ok(mounts.contains_key(&desired.ledger_mount))
    }

    pub async fn ledger(&self, desired: &Desired, parallelism: usize) -> Result<Ledger, CliError> {
        let exists = self.ledger_mount_exists(desired).await?;
        Ok(Ledger::load(
            self.client(),
            &desired.ledger_mount,
            &desired.name,
            exists,
            parallelism,
        )
        .await?)
    }

    /// Reads every declared object plus, when asked, what this topology's ledger holds beyond.
    pub async fn observe(
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
            for (a, e) in ledger.mine() {
                ids.entry(a.clone()).or_insert(&e.id);
            }
        }
        Ok(observe(&self.registry, ids.into_values(), parallelism).await?)
    }

    /// Declared fields against OpenBao's published parameters: an unknown one is an error at
    /// its place in the file; the rest get their types. Returns warnings for what could not be
    /// checked.
    pub async fn check_fields(
        &self,
        desired: &mut Desired,
        observed: &Observed,
    ) -> Result<Vec<String>, CliError> {
        self.check_fields_with(FieldCheck::new(&self.bao), desired, observed)
            .await
    }

    async fn check_fields_with(
        &self,
        check: FieldCheck<'_>,
        desired: &mut Desired,
        observed: &Observed,
    ) -> Result<Vec<String>, CliError> {
        if let Some(warnings) = self.checked_fields() {
            return Ok(warnings);
        }
        let report = check.check(&self.registry, desired, observed).await;
        if !report.unknown.is_empty() {
            let items = report
                .unknown
                .into_iter()
                .map(|u| {
                    let help = match &u.suggestion {
                        Some(s) => format!(
                            "did you mean `{s}`? OpenBao would accept `{}` and ignore it",
                            u.field
                        ),
                        None => format!(
                            "remove it, or check the field names of OpenBao's {} endpoint",
                            u.endpoint
                        ),
                    };
                    (
                        u.address.clone(),
                        Some(u.field.clone()),
                        format!(
                            "`{}` is not a parameter OpenBao knows for {} ({})",
                            u.field, u.address, u.endpoint
                        ),
                        Some(help),
                    )
                })
                .collect();
            return Err(located(desired, items));
        }
        let warnings: Vec<String> = report
            .unchecked
            .into_iter()
            .map(|e| format!("the fields of {e} were not checked: OpenBao publishes no schema for it here and none is bundled"))
            .collect();
        if let Ok(mut checked) = self.fields_checked.lock() {
            *checked = Some(warnings.clone());
        }
        Ok(warnings)
    }

    fn checked_fields(&self) -> Option<Vec<String>> {
        self.fields_checked.lock().ok().and_then(|c| c.clone())
    }

    /// The field check on its own, before anything is written. It reads the declared
    /// namespaces and mounts (which live mounts to ask for their parameters) only when the
    /// bundled schema does not answer for everything declared: otherwise the plan that follows
    /// would read them a second time for nothing.
    pub async fn check_fields_first(
        &self,
        desired: &mut Desired,
        parallelism: usize,
    ) -> Result<Vec<String>, CliError> {
        let mut check = FieldCheck::new(&self.bao);
        let observed = if check.needs_live_mounts(&self.registry, desired).await {
            let containers = desired
                .resources
                .iter()
                .filter(|r| matches!(r.id.kind.as_str(), "namespace" | "mount" | "auth"))
                .map(|r| &r.id);
            observe(&self.registry, containers, parallelism).await?
        } else {
            Observed::default()
        };
        self.check_fields_with(check, desired, &observed).await
    }

    /// A declared object that another topology's ledger entry holds is an error naming it.
    pub fn check_owners(&self, desired: &Desired, ledger: &Ledger) -> Result<(), CliError> {
        let items: Vec<_> = desired
            .resources
            .iter()
            .filter_map(|r| {
                let e = ledger.entries.get(&r.address)?;
                (!ledger.is_mine(e)).then(|| {
                    (
                        r.address.clone(),
                        None,
                        format!(
                            "{} is managed by the topology `{}` (per the ledger `{}`), not by `{}`",
                            r.address, e.owner, ledger.mount, desired.name
                        ),
                        Some(format!(
                            "declare it only in `{}`; if this file is that topology, give it `name: {}`",
                            e.owner, e.owner
                        )),
                    )
                })
            })
            .collect();
        if items.is_empty() {
            Ok(())
        } else {
            Err(located(desired, items))
        }
    }

    /// Desired + live state → the plan, with the servers' annotations.
    pub async fn plan(
        &self,
        desired: &mut Desired,
        ledger: &Ledger,
        opts: &PlanOptions,
        parallelism: usize,
    ) -> Result<(Observed, Plan, Vec<String>), CliError> {
        // Objects only the ledger holds matter only to --prune: read them only then.
        let observed = self
            .observe(desired, ledger, opts.prune, parallelism)
            .await?;
        self.resolve_outputs(desired, &observed).await?;
        let warnings = self.check_fields(desired, &observed).await?;
        self.check_owners(desired, ledger)?;
        let mut plan = diff::plan(desired, &observed, ledger, &self.registry, opts)?;
        self.annotate(desired, &observed, &mut plan, opts).await?;
        Ok((observed, plan, warnings))
    }

    /// Marks the changes the server will not take through its API with what to do instead, and
    /// runs the prune guard on every container a change deletes or replaces.
    async fn annotate(
        &self,
        desired: &Desired,
        observed: &Observed,
        plan: &mut Plan,
        opts: &PlanOptions,
    ) -> Result<(), CliError> {
        let by_addr: BTreeMap<&Address, &crate::model::DesiredResource> =
            desired.resources.iter().map(|r| (&r.address, r)).collect();
        let deleting: BTreeSet<Address> = handled_by(plan);
        for change in plan.changes.iter_mut() {
            let Some(kind) = self.registry.of(&change.id) else {
                continue;
            };
            if matches!(change.action, Action::Create | Action::Replace)
                && let Some(res) = by_addr.get(&change.address).copied()
            {
                change.manual = kind.manual_step(res).await?;
            }
            if !matches!(change.action, Action::Delete | Action::Replace) {
                continue;
            }
            let Some(live) = observed.live.get(&change.address).and_then(Option::as_ref) else {
                continue;
            };
            let lost = lost_with(&self.registry, &change.id, live, &deleting).await?;
            if lost.is_empty() {
                continue;
            }
            let names: Vec<String> = lost.iter().map(|id| id.address().0).collect();
            if opts.allow_destroy {
                change.destroys = names;
            } else {
                let verb = if change.action == Action::Delete {
                    "deleting"
                } else {
                    "replacing"
                };
                change.warning = Some(format!(
                    "{verb} it would also destroy {} object(s) aegisctl does not manage: {}; remove them, declare them, or pass --allow-destroy to destroy them too",
                    names.len(),
                    names.join(", ")
                ));
            }
        }
        Ok(())
    }
}
