//! What a realm of many clients costs, counted by a proxy in front of the real Keycloak: apply
//! from nothing, the converged plan's requests per managed object (clients come in pages with
//! their mappers, client roles one list per client: no lookups one by one), and the no-op
//! apply's writes (none). The small size runs with the suite and holds the line on request
//! counts; the large sizes are the benchmark of docs/benchmarks.md (`#[ignore]`d:
//! `cargo test --release --test it keycloak_bench -- --ignored --nocapture`, sizes from
//! `AEGIS_KC_BENCH_SIZES`, default "1000 5000"). No timing is asserted anywhere.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fault_proxy::FaultProxy;
use crate::harness::{Bao, Run, s};
use crate::http_wire::call;
use crate::keycloak::{Keycloak, TestRealm, keycloak, unique_realm};
use crate::keycloak_common::ctl_with;

/// A realm file of `n` clients, each with three `aegis:*` roles and an `aegis_role` mapper;
/// every tenth with a service account holding `aegis:operator`.
fn realm_file(realm: &str, n: usize) -> Value {
    let mut clients = Vec::new();
    let mut roles = serde_json::Map::new();
    let mut users = Vec::new();
    for i in 0..n {
        let id = format!("app-{i:05}");
        let sa = i % 10 == 0;
        clients.push(json!({
            "clientId": id,
            "publicClient": false,
            "serviceAccountsEnabled": sa,
            "standardFlowEnabled": !sa,
            "redirectUris": [format!("https://{id}.example/cb")],
            "protocolMappers": [{
                "name": "aegis_role",
                "protocol": "openid-connect",
                "protocolMapper": "oidc-usermodel-client-role-mapper",
                "config": {"usermodel.clientRoleMapping.clientId": id, "claim.name": "aegis_role",
                           "multivalued": "true", "access.token.claim": "true"}
            }]
        }));
        roles.insert(
            id.clone(),
            json!([{"name": "aegis:admin"}, {"name": "aegis:operator"}, {"name": "aegis:readonly"}]),
        );
        if sa {
            users.push(json!({
                "username": format!("service-account-{id}"),
                "serviceAccountClientId": id,
                "realmRoles": [format!("default-roles-{realm}")],
                "clientRoles": {id.clone(): ["aegis:operator"]}
            }));
        }
    }
    json!({"realm": realm, "enabled": true, "clients": clients,
           "roles": {"client": roles}, "users": users})
}

/// Managed objects of [`realm_file`]: the realm, and per client itself, 3 roles, a mapper, and
/// one service account in ten.
fn objects(n: usize) -> usize {
    1 + n * 5 + n.div_ceil(10)
}

struct Figures {
    objects: usize,
    apply: Duration,
    plan: Duration,
    plan_requests: usize,
    noop_writes: usize,
}

fn ctl(bao: &Bao, url: &str, kc: &Keycloak, args: &[&str]) -> Run {
    ctl_with(bao, kc, Some(url), &[], args)
}

fn measure(realm: &str, n: usize, parallelism: &str) -> Figures {
    let kc = keycloak();
    let bao = Bao::start();
    let proxy = FaultProxy::start(kc.base_url());
    let url = proxy.addr.clone();
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("realm.json"),
        realm_file(realm, n).to_string(),
    )
    .expect("realm file");
    let file = dir.path().join("topology.yaml");
    std::fs::write(
        &file,
        "version: 1\nname: kcbench\nkeycloak:\n  url: env:KEYCLOAK_URL\n  admin:\n    username: env:KEYCLOAK_ADMIN\n    password: env:KEYCLOAK_ADMIN_PASSWORD\n  realms: [file:realm.json]\n",
    )
    .expect("topology");
    let f = s(&file);
    let started = Instant::now();
    let apply = ctl(
        &bao,
        &url,
        kc,
        &["apply", "--auto-approve", "--parallelism", parallelism, f],
    );
    let apply_time = started.elapsed();
    assert_eq!(apply.code, Some(0), "{apply}");

    proxy.clear_requests();
    let started = Instant::now();
    let plan = ctl(
        &bao,
        &url,
        kc,
        &[
            "plan",
            "--detailed-exitcode",
            "--parallelism",
            parallelism,
            f,
        ],
    );
    let plan_time = started.elapsed();
    assert_eq!(plan.code, Some(0), "a converged plan:\n{plan}");
    let plan_requests = proxy.requests().len();

    proxy.clear_requests();
    let noop = ctl(
        &bao,
        &url,
        kc,
        &["apply", "--auto-approve", "--parallelism", parallelism, f],
    );
    assert_eq!(noop.code, Some(0), "{noop}");
    let noop_writes = proxy
        .requests()
        .iter()
        .filter(|r| r.is_write() && !r.path.contains("protocol/openid-connect/token"))
        .count();
    Figures {
        objects: objects(n),
        apply: apply_time,
        plan: plan_time,
        plan_requests,
        noop_writes,
    }
}

#[test]
fn a_converged_plan_of_a_realm_reads_at_most_half_a_request_per_object() {
    let realm = TestRealm {
        kc: keycloak(),
        name: unique_realm("reads"),
    };
    let f = measure(&realm.name, 40, "8");
    let per_object = f.plan_requests as f64 / f.objects as f64;
    eprintln!(
        "converged plan: {} requests for {} objects ({per_object:.3} per object)",
        f.plan_requests, f.objects
    );
    assert!(
        per_object <= 0.5,
        "{} requests for {} objects ({per_object:.2} per object)",
        f.plan_requests,
        f.objects
    );
    assert_eq!(f.noop_writes, 0, "a no-op apply wrote to Keycloak");
}

#[test]
#[ignore = "a benchmark: docs/benchmarks.md"]
fn keycloak_bench() {
    let sizes = std::env::var("AEGIS_KC_BENCH_SIZES").unwrap_or_else(|_| "1000 5000".into());
    println!(
        "| clients | objects | apply from empty | converged plan | requests / object | no-op writes |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    for n in sizes
        .split_whitespace()
        .filter_map(|n| n.parse::<usize>().ok())
    {
        let realm = unique_realm("bench");
        let f = measure(&realm, n, "16");
        println!(
            "| {n} | {} | {:.1} s | {:.1} s | {:.3} ({} requests) | {} |",
            f.objects,
            f.apply.as_secs_f64(),
            f.plan.as_secs_f64(),
            f.plan_requests as f64 / f.objects as f64,
            f.plan_requests,
            f.noop_writes
        );
        // A realm of thousands of objects takes Keycloak longer to delete than the harness
        // waits for a call: delete it with time to spare, and go on if it does not manage.
        let kc = keycloak();
        let url = format!("{}/admin/realms/{realm}", kc.base_url());
        let auth = format!("Bearer {}", kc.admin_token());
        let _ = call(
            "DELETE",
            &url,
            &[("Authorization", auth.as_str())],
            None,
            Duration::from_secs(600),
        );
    }
}
