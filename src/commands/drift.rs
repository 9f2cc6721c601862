//! `aegisctl drift FILE`: what changed outside aegisctl — changed, deleted, and unmanaged
//! objects — in the places this topology manages: its OpenBao namespaces, its Keycloak realms,
//! its Infisical projects and (when it declares identities) its Infisical organization.

use std::collections::BTreeSet;
use std::path::Path;

use super::session::Session;
use super::{CliError, EXIT_CHANGES, EXIT_OK, load};
use crate::cli::RunFlags;
use crate::model::Backend;
use crate::plan::diff;
use crate::plan::observe::{NAMESPACE_KIND, REALM_KIND};
use crate::plan::render::tenants::Layout;
use crate::plan::render::{human, json};
use crate::printer::Printer;

pub(super) async fn run(printer: &Printer, file: &Path, run: &RunFlags) -> Result<u8, CliError> {
    let mut desired = load(printer, file)?;
    let parallelism: usize = run.parallelism.into();
    let session = Session::connect(printer, &desired)?;
    session.wait_for_standby(printer).await;
    session.resolve_vault(&mut desired).await?;
    let ledger = session.ledger(&desired, parallelism).await?;
    let observed = session
        .observe(&desired, &ledger, true, parallelism)
        .await?;
    session.resolve_outputs(&mut desired, &observed).await?;
    let warnings = session.check_fields(&mut desired, &observed).await?;
    // List what exists in every namespace the topology manages (that exists): the root one
    // when it declares anything in OpenBao at all (a Keycloak-only file manages no namespace).
    let mut namespaces: BTreeSet<String> = BTreeSet::new();
    if desired
        .resources
        .iter()
        .any(|r| r.id.backend == Backend::OpenBao)
    {
        namespaces.insert(String::new());
    }
    for r in desired
        .resources
        .iter()
        .filter(|r| r.id.backend == Backend::OpenBao && r.id.kind == NAMESPACE_KIND)
    {
        if matches!(observed.live.get(&r.address), Some(Some(_))) {
            namespaces.insert(r.id.namespace_path());
        }
    }
    // And in every realm the topology declares (that exists).
    let realms: BTreeSet<&String> = desired
        .keycloak
        .iter()
        .flat_map(|kc| &kc.realms)
        .filter(|r| {
            let id = crate::model::ResourceId::on(Backend::Keycloak, r, REALM_KIND, None, r);
            matches!(observed.live.get(&id.address()), Some(Some(_)))
        })
        .collect();
    // And in every Infisical project the topology declares (that exists), and the
    // organization's identities (and projects) when it declares any of the organization's.
    let mut projects: BTreeSet<&String> = BTreeSet::new();
    let org = crate::backends::infisical::kinds::ORG_SCOPE.to_owned();
    if let Some(inf) = &desired.infisical {
        for p in &inf.projects {
            let id = crate::model::ResourceId::on(Backend::Infisical, p, "project", None, p);
            if matches!(observed.live.get(&id.address()), Some(Some(_))) {
                projects.insert(p);
            }
        }
        if desired
            .resources
            .iter()
            .any(|r| r.id.backend == Backend::Infisical && r.id.namespace == org)
        {
            projects.insert(&org);
        }
    }
    let scopes = namespaces
        .iter()
        .map(|ns| (Backend::OpenBao, ns))
        .chain(realms.into_iter().map(|r| (Backend::Keycloak, r)))
        .chain(projects.into_iter().map(|p| (Backend::Infisical, p)));
    let mut existing = Vec::new();
    for (backend, scope) in scopes {
        let declared: Vec<&crate::model::DesiredResource> = desired
            .resources
            .iter()
            .filter(|r| r.id.backend == backend && &r.id.namespace == scope)
            .collect();
        for kind in session.registry.all().filter(|k| k.backend() == backend) {
            existing.extend(kind.list(scope, &declared).await?);
        }
    }
    // The ledger's own mount is aegisctl's, not an unmanaged object.
    existing.retain(|id| {
        !(id.kind == "mount" && id.namespace.is_empty() && id.name == desired.ledger_mount)
    });
    let drift = diff::drift(&desired, &observed, &ledger, &session.registry, &existing)?;
    if printer.json {
        printer.document(&json::drift(&drift, &warnings));
    } else {
        for w in &warnings {
            printer.warn(w);
        }
        if !ledger.mount_exists {
            printer.info("Nothing has been applied yet: the ledger does not exist.");
        }
        printer.result(&human::drift_as(
            &drift,
            printer.styles(),
            Layout::compact(run.compact),
        ));
    }
    Ok(if drift.is_empty() {
        EXIT_OK
    } else {
        EXIT_CHANGES
    })
}
