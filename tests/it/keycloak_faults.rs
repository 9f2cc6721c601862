//! A bad day between aegisctl and the real Keycloak, through the fault proxy: the answer to a
//! client's creation lost after Keycloak made it, a role's creation answered 503 after it was
//! made, a listing answered 429 — the apply still ends converged, with exactly one of each
//! object (no duplicate from a retry, no "already exists" failure), and plans "No changes.".

use serde_json::json;

use crate::fault_proxy::{Fault, FaultKind, FaultProxy};
use crate::harness::{Bao, s};
use crate::keycloak::{TestRealm, keycloak, unique_realm};
use crate::keycloak_common::ctl_with;

#[test]
fn lost_answers_and_503s_after_a_write_leave_exactly_one_of_each_object() {
    let kc = keycloak();
    let realm = TestRealm {
        kc,
        name: unique_realm("faults"),
    };
    let r = realm.name.as_str();
    let clients: Vec<_> = ["web", "api", "cli"]
        .iter()
        .map(|c| json!({"clientId": c, "publicClient": false, "redirectUris": [format!("https://{c}.example/cb")]}))
        .collect();
    let roles = json!({"web": [{"name": "aegis:admin"}, {"name": "aegis:operator"}]});
    let file_realm =
        json!({"realm": r, "enabled": true, "clients": clients, "roles": {"client": roles}});
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("realm.json"), file_realm.to_string()).expect("realm");
    let file = dir.path().join("topology.yaml");
    std::fs::write(
        &file,
        "version: 1\nkeycloak:\n  url: env:KEYCLOAK_URL\n  admin:\n    username: env:KEYCLOAK_ADMIN\n    password: env:KEYCLOAK_ADMIN_PASSWORD\n  realms: [file:realm.json]\n",
    )
    .expect("topology");
    let bao = Bao::start();
    let proxy = FaultProxy::start(kc.base_url());
    proxy.set_faults(vec![
        Fault::new(FaultKind::LostAnswer)
            .methods(&["POST"])
            .contains(&format!("realms/{r}/clients"))
            .first(1),
        Fault::new(FaultKind::UnavailableAfter)
            .methods(&["POST"])
            .contains("/roles")
            .first(1),
        Fault::too_many(1)
            .methods(&["GET"])
            .contains("/clients")
            .first(1),
    ]);
    let apply = ctl_with(
        &bao,
        kc,
        Some(&proxy.addr),
        &[],
        &["apply", "--auto-approve", s(&file)],
    );
    assert_eq!(apply.code, Some(0), "{apply}");
    let hit = proxy
        .requests()
        .iter()
        .filter(|q| q.fault.is_some())
        .count();
    assert_eq!(hit, 3, "every fault was met: {:?}", proxy.requests());
    for c in ["web", "api", "cli"] {
        let found = kc
            .get(&format!("/admin/realms/{r}/clients?clientId={c}"))
            .json();
        assert_eq!(
            found.as_array().map(Vec::len),
            Some(1),
            "one client {c}: {found}"
        );
    }
    let web = kc
        .get(&format!("/admin/realms/{r}/clients?clientId=web"))
        .json()[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let names: Vec<String> = kc
        .get(&format!("/admin/realms/{r}/clients/{web}/roles"))
        .json()
        .as_array()
        .expect("roles")
        .iter()
        .filter_map(|x| x["name"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    proxy.clear();
    let plan = ctl_with(
        &bao,
        kc,
        Some(&proxy.addr),
        &[],
        &["plan", "--detailed-exitcode", s(&file)],
    );
    assert_eq!(plan.code, Some(0), "{plan}");
}

#[test]
fn keycloak_dying_mid_apply_stops_the_run_within_its_budget_and_a_rerun_converges() {
    let kc = keycloak();
    let realm = TestRealm {
        kc,
        name: unique_realm("dies"),
    };
    let r = realm.name.as_str();
    let clients: Vec<_> = (0..300)
        .map(|i| json!({"clientId": format!("app-{i:03}"), "publicClient": true}))
        .collect();
    let dir = tempfile::tempdir().expect("dir");
    let file_realm = json!({"realm": r, "enabled": true, "clients": clients});
    std::fs::write(dir.path().join("realm.json"), file_realm.to_string()).expect("realm");
    let file = dir.path().join("topology.yaml");
    std::fs::write(
        &file,
        "version: 1\nkeycloak:\n  url: env:KEYCLOAK_URL\n  admin:\n    username: env:KEYCLOAK_ADMIN\n    password: env:KEYCLOAK_ADMIN_PASSWORD\n  realms: [file:realm.json]\n",
    )
    .expect("topology");
    let bao = Bao::start();
    let proxy = FaultProxy::start(kc.base_url());
    let bin = crate::harness::aegisctl_cmd().get_program().to_owned();
    let child = std::process::Command::new(bin)
        .env("BAO_ADDR", &bao.addr)
        .env("BAO_TOKEN", &bao.token)
        .env("NO_COLOR", "1")
        .env_remove("BAO_NAMESPACE")
        .env("KEYCLOAK_URL", &proxy.addr)
        .env("KEYCLOAK_ADMIN", kc.admin_user())
        .env("KEYCLOAK_ADMIN_PASSWORD", kc.admin_password())
        .args([
            "apply",
            "--auto-approve",
            "--parallelism",
            "2",
            "--retry-budget",
            "3",
        ])
        .arg(s(&file))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("apply");
    // Keycloak "dies" (every request refused at the proxy) once some clients are made.
    let started = std::time::Instant::now();
    while proxy.matching("POST", "/clients").len() < 20 {
        assert!(
            started.elapsed().as_secs() < 120,
            "the apply never got going"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    proxy.set_faults(vec![Fault::unavailable()]);
    let out = child.wait_with_output().expect("apply ends");
    let run = crate::harness::Run::from(out);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stdout.contains("Keycloak stopped answering"), "{run}");
    assert!(run.stdout.contains("Next:"), "{run}");
    assert!(!run.all().contains(kc.admin_password()), "{run}");
    // Keycloak is back: the re-run takes no lock over (it was released) and converges.
    proxy.clear();
    let again = ctl_with(
        &bao,
        kc,
        Some(&proxy.addr),
        &[],
        &["apply", "--auto-approve", s(&file)],
    );
    assert_eq!(again.code, Some(0), "{again}");
    assert!(
        !again.all().contains("took over"),
        "the dead run's lock was left:\n{again}"
    );
    let plan = ctl_with(
        &bao,
        kc,
        Some(&proxy.addr),
        &[],
        &["plan", "--detailed-exitcode", s(&file)],
    );
    assert_eq!(plan.code, Some(0), "{plan}");
}
