//! Tests of `--target` resolution (compiled under #[cfg(test)] only, from targets.rs): a tenant
//! target selects exactly that tenant's objects and what they depend on.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::model::{Backend, DesiredResource, OpenBaoConn, ResourceId};

fn res(id: ResourceId, deps: &[&Address]) -> DesiredResource {
    let mut r = DesiredResource::new(id, BTreeMap::new());
    r.depends_on = deps.iter().map(|a| (*a).clone()).collect();
    r
}

fn desired(resources: Vec<DesiredResource>) -> Desired {
    Desired {
        file: "t.yaml".into(),
        name: "t".into(),
        source: None,
        conn: OpenBaoConn {
            address: None,
            token: None,
            ca_cert: None,
        },
        keycloak: None,
        infisical: None,
        ledger_mount: "aegisctl".into(),
        resources,
        hosts: vec![],
        warnings: vec![],
    }
}

/// Two tenants and a shared policy acme's role depends on.
fn topology() -> Desired {
    let shared = ResourceId::new("", "policy", None, "shared");
    let unrelated = ResourceId::new("", "policy", None, "unrelated");
    let mut all = vec![res(shared.clone(), &[]), res(unrelated, &[])];
    for slug in ["acme", "beta"] {
        let scope = format!("tenant-{slug}");
        let ns = ResourceId::new("", "namespace", None, &scope);
        let mount = ResourceId::new(&scope, "mount", None, "approle");
        let role = ResourceId::new(&scope, "approle_role", Some("approle"), "app");
        let realm = ResourceId::on(Backend::Keycloak, &scope, "realm", None, &scope);
        let client = ResourceId::on(Backend::Keycloak, &scope, "client", None, "portal");
        let mut role_deps = vec![ns.address(), mount.address()];
        if slug == "acme" {
            role_deps.push(shared.address());
        }
        let role_deps: Vec<&Address> = role_deps.iter().collect();
        all.extend([
            res(ns.clone(), &[]),
            res(mount.clone(), &[&ns.address()]),
            res(role, &role_deps),
            res(realm.clone(), &[]),
            res(client, &[&realm.address()]),
        ]);
    }
    desired(all)
}

fn addresses(set: &BTreeSet<Address>) -> Vec<&str> {
    set.iter().map(|a| a.0.as_str()).collect()
}

#[test]
fn a_tenant_target_selects_its_objects_and_their_dependencies() {
    let d = topology();
    let selected = target_closure(&d, &["tenant[acme]".to_owned()]);
    let Ok(Some(selected)) = selected else {
        panic!("tenant[acme] resolves: {selected:?}");
    };
    assert_eq!(
        addresses(&selected),
        vec![
            r#"keycloak[tenant-acme].client["portal"]"#,
            r#"keycloak[tenant-acme].realm["tenant-acme"]"#,
            r#"openbao[root].namespace["tenant-acme"]"#,
            r#"openbao[root].policy["shared"]"#,
            r#"openbao[tenant-acme].approle_role["approle/app"]"#,
            r#"openbao[tenant-acme].mount["approle"]"#,
        ]
    );
    // The quoted spelling addresses use selects the same.
    let quoted = target_closure(&d, &[r#"tenant["acme"]"#.to_owned()]);
    assert!(matches!(quoted, Ok(Some(q)) if q == selected));
    // Tenant and address targets combine.
    let both = target_closure(
        &d,
        &[
            "tenant[beta]".to_owned(),
            r#"openbao[root].policy["unrelated"]"#.to_owned(),
        ],
    );
    let Ok(Some(both)) = both else {
        panic!("both resolve: {both:?}");
    };
    assert_eq!(both.len(), 6);
    assert!(both.iter().all(|a| !a.0.contains("acme")), "{both:?}");
}

#[test]
fn an_unknown_tenant_is_an_unknown_target() {
    let d = topology();
    for t in ["tenant[zeta]", "tenant[]"] {
        match target_closure(&d, &[t.to_owned()]) {
            Err(e @ PlanError::UnknownTarget(..)) => {
                let slug = t.trim_start_matches("tenant[").trim_end_matches(']');
                assert_eq!(
                    e.to_string(),
                    format!(
                        "--target {t} matches nothing: no tenant `{slug}` is declared in the topology"
                    )
                );
            }
            other => panic!("{t}: {other:?}"),
        }
    }
    // An unknown address still says so as before.
    let e = target_closure(&d, &[r#"openbao[root].policy["nope"]"#.to_owned()]);
    assert!(
        matches!(&e, Err(e) if e.to_string().ends_with("matches no address in the topology")),
        "{e:?}"
    );
}
