//! A runtime profile read in a namespace (the profile's own, or `--namespace`), the process's
//! exit status passed through, and `aegisctl audit` listing what was resolved — from the local
//! file and from OpenBao's audit documents — against the real OpenBao.

use crate::harness::{Bao, Run, topology};

const TOPOLOGY: &str = "version: 1
openbao:
  ledger: aegisctl
  namespaces:
    team-a:
      secrets:
        secret:
          type: kv-v2
          kv:
            app/config: { region: eu-west-1 }
runtime:
  login:
    token: env:RT_TOKEN
  profiles:
    in-team:
      namespace: team-a
      env:
        REGION: vault:secret/app/config#region
    anywhere:
      env:
        REGION: vault:secret/app/config#region
";

#[test]
fn a_profile_reads_its_namespace_and_the_exit_status_passes_through() {
    let bao = Bao::start();
    let file = topology(&bao, "ns", TOPOLOGY);
    let f = file.display().to_string();
    let apply = Run::from(
        bao.aegisctl()
            .args(["apply", "--auto-approve", &f])
            .output()
            .unwrap(),
    );
    assert_eq!(apply.code, Some(0), "{apply}");
    let run = |args: &[&str]| {
        Run::from(
            bao.aegisctl()
                .env("RT_TOKEN", &bao.token)
                .args(args)
                .output()
                .expect("aegisctl"),
        )
    };
    let script = "test \"$REGION\" = eu-west-1 || exit 9; exit 5";
    let r = run(&[
        "run",
        &f,
        "--profile",
        "in-team",
        "--reason",
        "ns",
        "--",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(r.code, Some(5), "the child's status must pass through: {r}");
    // The same profile without a namespace finds nothing at the root...
    let r = run(&["run", &f, "--profile", "anywhere", "--", "sh", "-c", script]);
    assert_eq!(r.code, Some(1), "{r}");
    assert!(
        r.stderr.contains("REGION = vault:secret/app/config#region"),
        "{r}"
    );
    // ...and --namespace points it at the team's.
    let r = run(&[
        "run",
        &f,
        "--profile",
        "anywhere",
        "--namespace",
        "team-a",
        "--",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(r.code, Some(5), "{r}");

    // `aegisctl audit` lists the two resolutions that handed something over.
    let audit_file = file
        .parent()
        .unwrap()
        .join("runtime-audit.jsonl")
        .display()
        .to_string();
    let listed = run(&["audit", &audit_file, "--json"]);
    assert_eq!(listed.code, Some(0), "{listed}");
    let doc: serde_json::Value = serde_json::from_str(&listed.stdout).expect("json");
    let records = doc["records"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{doc}");
    assert_eq!(records[0]["namespace"], "team-a");
    assert_eq!(records[0]["reason"], "ns");
    assert_eq!(records[0]["who"]["login"], "token");
    assert_eq!(
        records[0]["variables"][0]["source"],
        "vault:secret/app/config#region"
    );
    let human = run(&["audit", &audit_file, "--since", "1h"]);
    assert!(human.stdout.contains("profile in-team"), "{human}");
    assert!(human.stdout.contains("2 records"), "{human}");
    let none = run(&["audit", &audit_file, "--since", "2099-01-01T00:00:00Z"]);
    assert!(none.stdout.contains("No records"), "{none}");
    let bad = run(&["audit", &audit_file, "--since", "yesterday"]);
    assert_eq!(bad.code, Some(1), "{bad}");

    // Given the topology, the same records from OpenBao's audit documents (any host's).
    let from_bao = run(&["audit", &f, "--json", "--since", "1h"]);
    assert_eq!(from_bao.code, Some(0), "{from_bao}");
    let doc_bao: serde_json::Value = serde_json::from_str(&from_bao.stdout).expect("json");
    assert_eq!(
        doc_bao["records"], doc["records"],
        "OpenBao and the local file disagree"
    );
    let later = run(&["audit", &f, "--since", "2099-01-01T00:00:00Z"]);
    assert!(later.stdout.contains("No records"), "{later}");
}
