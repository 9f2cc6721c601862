//! Many tenants from one template, against the real OpenBao and the real Keycloak: 200 tenants
//! (each a namespace with a policy, AppRole and JWT auth trusting its own realm, a KV mount and
//! secret, and a realm with two clients, a mapper and the keymaster's copies of its client
//! secrets) converge in one apply, and the plan after it says "No changes.". Requests are
//! counted where they are sent: OpenBao's audit device and a proxy of ours in front of
//! Keycloak. The figures for 20 and 200 tenants are the benchmark of docs/benchmarks.md
//! (`cargo test --release --test it tenants_bench -- --ignored --nocapture`); no timing is
//! asserted anywhere.

use std::time::{Duration, Instant};

use crate::fault_proxy::FaultProxy;
use crate::harness::{Bao, s};
use crate::keycloak::{keycloak, unique_realm};
use crate::keycloak_common::ctl_with;

/// Objects per tenant in `tenants::template`: 9 in its namespace (the namespace, a policy,
/// two auth mounts, a KV mount, a KV secret, an AppRole role, a JWT config and role), 4 in
/// its realm (the realm, two clients, a mapper), and the keymaster's two KV secrets.
const PER_TENANT: usize = 15;

struct Figures {
    objects: usize,
    apply: Duration,
    plan: Duration,
    plan_requests: usize,
    compact: String,
}

fn measure(n: usize) -> Figures {
    let kc = keycloak();
    let bao = Bao::start();
    bao.bao_ok(&["secrets", "disable", "secret"]);
    let proxy = FaultProxy::start(kc.base_url());
    let prefix = unique_realm("s");
    let slugs: Vec<String> = (0..n).map(|i| format!("{prefix}-{i:03}")).collect();
    let dir = bao.dir.path().join("scale");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("topology.yaml");
    std::fs::write(&file, crate::tenants::template(&slugs)).unwrap();
    let f = s(&file);
    let url = proxy.addr.clone();
    let run = |args: &[&str]| ctl_with(&bao, kc, Some(&url), &[], args);
    let began = Instant::now();
    let apply = run(&["apply", "--auto-approve", "--compact", f]);
    let apply_time = began.elapsed();
    assert_eq!(apply.code, Some(0), "{apply}");
    let mark = bao.audit_mark();
    proxy.clear_requests();
    let began = Instant::now();
    let plan = run(&["plan", "--detailed-exitcode", f]);
    let plan_time = began.elapsed();
    assert_eq!(
        plan.code,
        Some(0),
        "{n} tenants converged in one apply:\n{plan}"
    );
    assert!(plan.stdout.contains("No changes."), "{plan}");
    let bao_requests = bao.audit_requests().len() - mark;
    let plan_requests = bao_requests + proxy.requests().len();
    // The figures first: what follows only checks.
    eprintln!(
        "tenants {n}: {} objects; apply from empty {:.1} s; converged plan {:.1} s, {plan_requests} requests ({:.3}/object)",
        n * PER_TENANT,
        apply_time.as_secs_f64(),
        plan_time.as_secs_f64(),
        plan_requests as f64 / (n * PER_TENANT) as f64
    );
    // Every tenant is there: the plan's "No changes." read each realm and its clients; here,
    // each namespace. (No admin call of the harness's own: with hundreds of realms Keycloak
    // answers some of them, such as listing realms in full, only after minutes.)
    let namespaces = bao.bao_ok(&["namespace", "list", "-format=json"]);
    for slug in &slugs {
        assert!(
            namespaces.contains(&format!("tenant-{slug}/")),
            "namespace of {slug}"
        );
    }
    let compact = apply
        .stdout
        .lines()
        .find(|l| l.contains(" tenants ("))
        .unwrap_or("")
        .to_owned();
    for slug in &slugs {
        kc.delete_realm(&format!("tenant-{slug}"));
    }
    Figures {
        objects: n * PER_TENANT,
        apply: apply_time,
        plan: plan_time,
        plan_requests,
        compact,
    }
}

#[test]
fn two_hundred_tenants_converge_in_one_apply() {
    // About 8 minutes on 2 cores, nearly all of it Keycloak creating realms (one at a time:
    // it takes them under a global lock).
    let f = measure(200);
    assert!(
        f.compact.starts_with("200 tenants ("),
        "--compact summarises the 200 alike tenants in one line: {}",
        f.compact
    );
    println!(
        "tenants 200: {} objects; apply {:.1} s; converged plan {:.1} s, {} requests ({:.3}/object)",
        f.objects,
        f.apply.as_secs_f64(),
        f.plan.as_secs_f64(),
        f.plan_requests,
        f.plan_requests as f64 / f.objects as f64
    );
}

#[test]
#[ignore = "benchmark: cargo test --release --test it tenants_bench -- --ignored --nocapture"]
fn tenants_bench() {
    let sizes = std::env::var("AEGIS_TENANT_BENCH").unwrap_or_else(|_| "20 200".into());
    for n in sizes
        .split_whitespace()
        .filter_map(|s| s.parse::<usize>().ok())
    {
        let f = measure(n);
        println!(
            "tenants {n}: {} objects; apply from empty {:.1} s; converged plan {:.1} s, {} requests ({:.3}/object)",
            f.objects,
            f.apply.as_secs_f64(),
            f.plan.as_secs_f64(),
            f.plan_requests,
            f.plan_requests as f64 / f.objects as f64
        );
    }
}
