//! Tests of the per-tenant layout (compiled under #[cfg(test)] only, from mod.rs): grouped and
//! `--compact` plans and drift reports as snapshots, and the shapes the compact lines stand for.

use serde_json::json;

use super::human::{self, Styles};
use super::json as js;
use super::tenants::{Layout, Part, Step, shape, shape_line};
use crate::model::{Backend, ResourceId};
use crate::plan::model::{Action, AttrDiff, Change, Drift, Plan};

const PLAIN: Styles = Styles { color: false };

fn attr(name: &str, before: Option<serde_json::Value>, after: serde_json::Value) -> AttrDiff {
    AttrDiff {
        name: name.into(),
        before,
        after: Some(after),
        sensitive: false,
        forces_replace: false,
        unverified: false,
        known_after_apply: false,
    }
}

fn secret(name: &str) -> AttrDiff {
    AttrDiff {
        sensitive: true,
        after: None,
        ..attr(name, None, json!(null))
    }
}

fn bao(ns: &str, kind: &str, mount: Option<&str>, name: &str, action: Action) -> Change {
    Change::new(ResourceId::new(ns, kind, mount, name), action, vec![])
}

fn kc(realm: &str, kind: &str, name: &str, action: Action) -> Change {
    Change::new(
        ResourceId::on(Backend::Keycloak, realm, kind, None, name),
        action,
        vec![],
    )
}

/// What the tenant template makes for a new tenant: its namespace with a mount, a policy and a
/// secret in it, its realm with a client.
fn new_tenant(slug: &str) -> Vec<Change> {
    let scope = format!("tenant-{slug}");
    let mut secret_change = bao(&scope, "kv_secret", Some("kv"), "app/db", Action::Create);
    secret_change.attrs = vec![secret("password")];
    let mut client = kc(&scope, "client", "portal", Action::Create);
    client.attrs = vec![attr(
        "redirectUris",
        None,
        json!([format!("https://{slug}.example/*")]),
    )];
    vec![
        bao("", "namespace", None, &scope, Action::Create),
        bao(&scope, "mount", None, "kv", Action::Create),
        bao(&scope, "policy", None, "app", Action::Create),
        secret_change,
        kc(&scope, "realm", &scope, Action::Create),
        client,
    ]
}

/// Changes outside any tenant, around the tenants' in address order as plans sort them.
fn shared() -> (Change, Change) {
    let mut policy = bao("", "policy", None, "shared", Action::Update);
    policy.attrs = vec![attr(
        "policy",
        Some(json!("path \"a/*\" {}")),
        json!("path \"b/*\" {}"),
    )];
    let client = kc("aegis-system", "client", "aegis-sdk", Action::Create);
    (policy, client)
}

fn sorted(mut changes: Vec<Change>) -> Plan {
    changes.sort_by(|a, b| a.address.cmp(&b.address));
    Plan { changes }
}

fn two_tenants() -> Plan {
    let (policy, client) = shared();
    let mut beta = vec![kc("tenant-beta", "client", "portal", Action::Update)];
    beta[0].attrs = vec![attr("enabled", Some(json!(true)), json!(false))];
    beta.push(bao("tenant-beta", "policy", None, "old", Action::Delete));
    let mut all = new_tenant("acme");
    all.extend(beta);
    all.extend([policy, client]);
    sorted(all)
}

#[test]
fn plan_grouped_per_tenant() {
    insta::assert_snapshot!(human::plan(&two_tenants(), PLAIN));
}

#[test]
fn without_tenants_the_output_is_unchanged() {
    let (policy, client) = shared();
    let plan = sorted(vec![policy.clone(), client.clone()]);
    let mut expected = String::from("aegisctl will perform the following actions:\n\n");
    human::change_block(&mut expected, PLAIN, &client, "will be created");
    human::change_block(&mut expected, PLAIN, &policy, "will be updated in-place");
    expected.push_str("Plan: 1 to add, 1 to change, 0 to destroy.\n");
    assert_eq!(human::plan(&plan, PLAIN), expected);
    assert_eq!(human::plan_as(&plan, PLAIN, Layout::Compact), expected);
}

/// Three new tenants alike, and one whose realm already existed (it differs).
fn four_tenants() -> Plan {
    let (policy, client) = shared();
    let mut all = vec![policy, client];
    for slug in ["acme", "beta", "gamma"] {
        all.extend(new_tenant(slug));
    }
    all.extend(
        new_tenant("delta")
            .into_iter()
            .filter(|c| c.id.kind != "realm"),
    );
    sorted(all)
}

#[test]
fn plan_compact() {
    let plan = four_tenants();
    let text = human::plan_as(&plan, PLAIN, Layout::Compact);
    insta::assert_snapshot!(text);
    // The summary counts every change, folded or not.
    assert!(text.ends_with("Plan: 24 to add, 1 to change, 0 to destroy.\n"));
    // JSON keeps every change whatever the layout.
    let doc = js::plan(&plan, &[]);
    assert_eq!(
        doc["changes"].as_array().map(Vec::len),
        Some(plan.changes.len())
    );
}

#[test]
fn compact_names_three_tenants_then_counts_the_rest() {
    let slugs = ["a1", "a2", "a3", "a4", "a5"];
    let s = vec![Step {
        part: Part::InRealm,
        action: Action::Update,
        count: 1,
    }];
    assert_eq!(
        shape_line(&slugs, &s, PLAIN),
        "5 tenants (a1, a2, a3, … and 2 more), each: ~ 1 object in its realm"
    );
}

#[test]
fn a_tenant_with_a_warning_is_never_folded() {
    let mut all = new_tenant("acme");
    all.extend(new_tenant("beta"));
    all.extend(new_tenant("gamma"));
    if let Some(c) = all.iter_mut().find(|c| c.id.namespace == "tenant-gamma") {
        c.warning = Some("replacing this mount destroys what it holds".into());
    }
    let text = human::plan_as(&sorted(all), PLAIN, Layout::Compact);
    assert!(text.contains("2 tenants (acme, beta), each: "), "{text}");
    assert!(text.contains("Tenant gamma (namespace tenant-gamma, realm tenant-gamma):"));
    assert!(text.contains("replacing this mount destroys what it holds"));
}

#[test]
fn shapes_name_the_namespace_and_realm_and_count_the_rest() {
    let changes = new_tenant("acme");
    let refs: Vec<&Change> = changes.iter().collect();
    let step = |part, action, count| Step {
        part,
        action,
        count,
    };
    assert_eq!(
        shape("acme", &refs),
        vec![
            step(Part::Namespace, Action::Create, 1),
            step(Part::InNamespace, Action::Create, 3),
            step(Part::Realm, Action::Create, 1),
            step(Part::InRealm, Action::Create, 1),
        ]
    );
    let text: Vec<String> = shape("acme", &refs)
        .iter()
        .map(|s| super::tenants::step_text(s, PLAIN))
        .collect();
    assert_eq!(
        text.join(", "),
        "+ namespace, + 3 objects in its namespace, + realm, + 1 object in its realm"
    );
    // Counted per action; a child namespace is an object in the tenant's namespace; the same
    // names on another tenant's scope are not its own namespace or realm.
    let mixed = [
        bao("tenant-acme", "namespace", None, "team", Action::Create),
        bao("tenant-acme/team", "policy", None, "p", Action::Delete),
        bao("tenant-acme", "policy", None, "q", Action::Delete),
        kc("tenant-acme", "client", "c", Action::Update),
        kc("tenant-acme", "realm", "tenant-acme", Action::Update),
    ];
    let refs: Vec<&Change> = mixed.iter().collect();
    assert_eq!(
        shape("acme", &refs),
        vec![
            step(Part::InNamespace, Action::Create, 1),
            step(Part::InNamespace, Action::Delete, 2),
            step(Part::Realm, Action::Update, 1),
            step(Part::InRealm, Action::Update, 1),
        ]
    );
    // Same counts, other names and values: the same shape.
    let mut other = new_tenant("beta");
    other[5].attrs.clear();
    let refs_b: Vec<&Change> = other.iter().collect();
    let refs_a: Vec<&Change> = changes.iter().collect();
    assert_eq!(shape("acme", &refs_a), shape("beta", &refs_b));
}

#[test]
fn drift_grouped_per_tenant_under_each_heading() {
    let mut changed_kc = kc("tenant-acme", "client", "portal", Action::Update);
    changed_kc.attrs = vec![attr("enabled", Some(json!(true)), json!(false))];
    let mut changed_shared = bao("", "policy", None, "shared", Action::Update);
    changed_shared.attrs = vec![attr("policy", Some(json!("a")), json!("b"))];
    let mut changed_beta = bao(
        "tenant-beta",
        "approle_role",
        Some("approle"),
        "app",
        Action::Update,
    );
    changed_beta.attrs = vec![attr("token_ttl", Some(json!("1h")), json!("2h"))];
    let d = Drift {
        changed: vec![changed_kc, changed_shared, changed_beta],
        deleted: vec![bao("tenant-beta", "policy", None, "app", Action::Delete)],
        unmanaged: vec![
            kc("tenant-acme", "client", "rogue", Action::Create),
            bao("", "policy", None, "rogue", Action::Create),
        ],
    };
    let mut d = d;
    for items in [&mut d.changed, &mut d.deleted, &mut d.unmanaged] {
        items.sort_by(|a, b| a.address.cmp(&b.address));
    }
    insta::assert_snapshot!(human::drift(&d, PLAIN));
}

#[test]
fn compact_drift_folds_within_each_heading() {
    let realm_client =
        |slug: &str, action| kc(&format!("tenant-{slug}"), "client", "portal", action);
    let d = Drift {
        changed: vec![
            realm_client("acme", Action::Update),
            realm_client("beta", Action::Update),
        ],
        deleted: vec![
            realm_client("acme", Action::Delete),
            realm_client("beta", Action::Delete),
            bao("tenant-gamma", "policy", None, "p", Action::Delete),
        ],
        unmanaged: vec![],
    };
    let text = human::drift_as(&d, PLAIN, Layout::Compact);
    let changed = text
        .find("Changed outside aegisctl:")
        .expect("changed heading");
    let deleted = text
        .find("Deleted outside aegisctl:")
        .expect("deleted heading");
    let line = "2 tenants (acme, beta), each: ~ 1 object in its realm\n";
    assert!(text[changed..deleted].contains(line), "{text}");
    let after = &text[deleted..];
    assert!(after.contains("2 tenants (acme, beta), each: - 1 object in its realm\n"));
    // Gamma's shape is its own: in full.
    assert!(after.contains("Tenant gamma (namespace tenant-gamma, realm tenant-gamma):\n\n  # "));
    assert!(
        text.ends_with(
            "Drift: 2 changed, 3 deleted outside aegisctl, 0 not managed by aegisctl.\n"
        )
    );
}
