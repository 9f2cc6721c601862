//! What many Infisical projects cost, counted by the double (every request it answers): apply
//! from nothing, the converged plan's wall time and requests per managed object (projects come
//! in one list with their environments, secrets one list per folder: no reads one by one), and
//! the no-op apply's writes (none). The small size runs with the suite and holds the line on
//! request counts; the benchmark of docs/benchmarks.md is `#[ignore]`d:
//! `cargo test --release --test it infisical_bench -- --ignored --nocapture` (sizes from
//! `AEGIS_IFS_BENCH`, default "100x3x50": projects × environments × secrets). No timing is
//! asserted anywhere.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::harness::s;
use crate::infisical_common::{HEAD, start};
use crate::infisical_double::Config;

fn topology(projects: usize, envs: usize, secrets: usize) -> String {
    let mut y = format!("{HEAD}  projects:\n");
    for p in 0..projects {
        let _ = writeln!(y, "    bench-{p:04}:\n      environments:");
        for e in 0..envs {
            let _ = writeln!(y, "        env-{e}: {{ name: Env {e} }}");
        }
        let _ = writeln!(y, "      secrets:");
        for e in 0..envs {
            let _ = writeln!(y, "        env-{e}:\n          /:");
            for k in 0..secrets {
                let _ = writeln!(y, "            KEY_{k:03}: value-{p}-{e}-{k}");
            }
        }
    }
    y
}

struct Figures {
    objects: usize,
    apply: Duration,
    apply_requests: usize,
    plan: Duration,
    plan_requests: usize,
    noop_writes: usize,
}

fn measure(projects: usize, envs: usize, secrets: usize) -> Figures {
    let env = start(Config::default());
    let file = env.topology("bench", &topology(projects, envs, secrets));
    let f = s(&file);
    let objects = projects * (1 + envs + envs * secrets);
    env.dbl.clear_requests();
    let began = Instant::now();
    let apply = env.ctl(&["apply", "--auto-approve", f]);
    let apply_time = began.elapsed();
    assert_eq!(apply.code, Some(0), "{apply}");
    let apply_requests = env.dbl.requests().len();
    env.dbl.clear_requests();
    let began = Instant::now();
    let plan = env.ctl(&["plan", "--detailed-exitcode", f]);
    let plan_time = began.elapsed();
    assert_eq!(plan.code, Some(0), "{plan}");
    let plan_requests = env.dbl.requests().len();
    env.dbl.clear_requests();
    let noop = env.ctl(&["apply", "--auto-approve", f]);
    assert_eq!(noop.code, Some(0), "{noop}");
    let noop_writes = env
        .dbl
        .requests()
        .iter()
        .filter(|r| r.method != "GET" && !r.path.ends_with("/universal-auth/login"))
        .count();
    Figures {
        objects,
        apply: apply_time,
        apply_requests,
        plan: plan_time,
        plan_requests,
        noop_writes,
    }
}

#[test]
fn a_converged_plan_reads_in_bulk_and_a_noop_apply_writes_nothing() {
    let f = measure(3, 3, 10);
    let per_object = f.plan_requests as f64 / f.objects as f64;
    assert!(
        per_object <= 0.2,
        "{} requests for {} objects: reads one by one?",
        f.plan_requests,
        f.objects
    );
    assert_eq!(f.noop_writes, 0, "a converged apply writes nothing");
}

#[test]
#[ignore = "benchmark: cargo test --release --test it infisical_bench -- --ignored --nocapture"]
fn infisical_bench() {
    let sizes = std::env::var("AEGIS_IFS_BENCH").unwrap_or_else(|_| "100x3x50".into());
    for size in sizes.split_whitespace() {
        let n: Vec<usize> = size.split('x').map(|p| p.parse().expect("PxExS")).collect();
        let f = measure(n[0], n[1], n[2]);
        println!(
            "infisical {size}: {} objects; apply from empty {:.1} s, {} requests ({:.3}/object); converged plan {:.1} s, {} requests ({:.4}/object); no-op apply writes {}",
            f.objects,
            f.apply.as_secs_f64(),
            f.apply_requests,
            f.apply_requests as f64 / f.objects as f64,
            f.plan.as_secs_f64(),
            f.plan_requests,
            f.plan_requests as f64 / f.objects as f64,
            f.noop_writes
        );
    }
}
