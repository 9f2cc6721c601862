//! Checks of the fault proxy itself (fault_proxy.rs) against a real OpenBao dev server: plain
//! forwarding works for curl and the `bao` CLI (keep-alive included), and each fault does what
//! it says, so the failure-behaviour tests built on it can trust it.

use std::process::Command;
use std::time::Duration;

use crate::fault_proxy::{Fault, FaultKind, FaultProxy, TokenTrap};
use crate::harness::{Bao, bao_bin};
use crate::http_wire::{CallError, Response, call};

const T: Duration = Duration::from_secs(10);

fn enable(proxy: &FaultProxy, bao: &Bao, name: &str) -> Result<Response, CallError> {
    call(
        "POST",
        &format!("{}/v1/sys/mounts/{name}", proxy.addr),
        &[("X-Vault-Token", &bao.token)],
        Some(r#"{"type":"kv"}"#),
        T,
    )
}

fn mounted(bao: &Bao, name: &str) -> bool {
    bao.read_json("sys/mounts")["data"]
        .as_object()
        .is_some_and(|m| m.contains_key(&format!("{name}/")))
}

#[test]
fn fault_proxy_forwards_curl_and_the_bao_cli_with_keep_alive() {
    let bao = Bao::start();
    let proxy = FaultProxy::start(&bao.addr);
    let out = Command::new(bao_bin())
        .args(["secrets", "enable", "-path=viaproxy", "kv"])
        .env("BAO_ADDR", &proxy.addr)
        .env("BAO_TOKEN", &bao.token)
        .env_remove("BAO_NAMESPACE")
        .output()
        .expect("run bao");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(mounted(&bao, "viaproxy"));
    let seen = proxy.matching("POST", "sys/mounts/viaproxy");
    assert_eq!(seen.len(), 1, "{:?}", proxy.requests());
    assert!(seen[0].forwarded && seen[0].had_token && seen[0].status == Some(204));

    // Two requests on one curl connection (keep-alive): both answered, one connection.
    proxy.clear_requests();
    let url = format!("{}/v1/sys/mounts?probe=1", proxy.addr);
    let out = Command::new("curl")
        .args([
            "-sf",
            "-o",
            "/dev/null",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{num_connects}\n",
        ])
        .args(["-H", &format!("X-Vault-Token: {}", bao.token), &url, &url])
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200 1\n200 0\n");
    let seen = proxy.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].query.as_deref(), Some("probe=1"));
    assert_eq!(seen[0].path, "sys/mounts");

    // A body sent with Expect: 100-continue (curl does so above 1 KiB).
    let big = format!(r#"{{"value":"{}"}}"#, "x".repeat(4000));
    let out = Command::new("curl")
        .args([
            "-sf",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            "--data",
            &big,
        ])
        .args(["-H", &format!("X-Vault-Token: {}", bao.token)])
        .arg(format!("{}/v1/viaproxy/big", proxy.addr))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "204");
    assert_eq!(
        bao.read_json("viaproxy/big")["data"]["value"]
            .as_str()
            .map(str::len),
        Some(4000)
    );
}

#[test]
fn fault_proxy_faults_before_forwarding_never_reach_openbao() {
    let bao = Bao::start();
    let proxy = FaultProxy::start(&bao.addr);

    proxy.set_faults(vec![Fault::too_many(7).writes().prefix("sys/mounts/")]);
    let r = enable(&proxy, &bao, "a").expect("an answer");
    assert_eq!((r.status, r.header("retry-after")), (429, Some("7")));
    // Reads are not matched by `.writes()`.
    let r = call(
        "GET",
        &format!("{}/v1/sys/mounts", proxy.addr),
        &[("X-Vault-Token", &bao.token)],
        None,
        T,
    );
    assert_eq!(r.expect("an answer").status, 200);

    proxy.set_faults(vec![Fault::unavailable().writes()]);
    assert_eq!(enable(&proxy, &bao, "a").expect("an answer").status, 503);

    proxy.set_faults(vec![Fault::no_handler().writes()]);
    let r = enable(&proxy, &bao, "a").expect("an answer");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json()["errors"][0],
        "no handler for route \"sys/mounts/a\". route entry not found."
    );
    // The same shape OpenBao itself answers for a path no mount handles.
    let real = call(
        "POST",
        &format!("{}/v1/nomount/x", bao.addr),
        &[("X-Vault-Token", &bao.token)],
        Some("{}"),
        T,
    )
    .expect("an answer");
    assert_eq!(real.status, 404);
    assert_eq!(
        real.json()["errors"][0],
        "no handler for route \"nomount/x\". route entry not found."
    );

    assert!(!mounted(&bao, "a"), "no faulted request may reach OpenBao");
    let seen = proxy.matching("POST", "sys/mounts/a");
    assert_eq!(seen.len(), 3);
    assert!(
        seen.iter()
            .all(|s| !s.forwarded && s.had_token && s.fault.is_some())
    );
    assert!(
        bao.audit_requests()
            .iter()
            .all(|a| a.path != "sys/mounts/a")
    );
}

#[test]
fn fault_proxy_faults_after_forwarding_reach_openbao() {
    let bao = Bao::start();
    let proxy = FaultProxy::start(&bao.addr);

    proxy.set_faults(vec![Fault::unavailable_after().writes()]);
    assert_eq!(enable(&proxy, &bao, "b").expect("an answer").status, 503);
    assert!(mounted(&bao, "b"), "the upstream processed the request");

    proxy.set_faults(vec![Fault::lost_answer().writes()]);
    let err = enable(&proxy, &bao, "c").expect_err("no answer");
    assert!(matches!(err, CallError::Closed(_)), "{err:?}");
    assert!(mounted(&bao, "c"), "the upstream processed the request");

    let seen = proxy.requests();
    assert_eq!(seen[0].fault, Some(FaultKind::UnavailableAfter));
    assert_eq!((seen[0].forwarded, seen[0].status), (true, Some(503)));
    assert_eq!(seen[1].fault, Some(FaultKind::LostAnswer));
    assert_eq!((seen[1].forwarded, seen[1].status), (true, None));
}

#[test]
fn fault_proxy_redirects_to_another_origin_and_the_trap_tells_tokens() {
    let bao = Bao::start();
    let proxy = FaultProxy::start(&bao.addr);
    let trap = TokenTrap::start();
    proxy.set_faults(vec![
        Fault::redirect(&trap.addr)
            .methods(&["GET"])
            .contains("sys/mounts"),
    ]);
    let r = call(
        "GET",
        &format!("{}/v1/sys/mounts?x=1", proxy.addr),
        &[("X-Vault-Token", &bao.token)],
        None,
        T,
    )
    .expect("an answer");
    assert_eq!(r.status, 307);
    let location = r.header("location").expect("a Location").to_owned();
    assert_eq!(location, format!("{}/v1/sys/mounts?x=1", trap.addr));
    assert!(!proxy.requests()[0].forwarded);

    let r = call("GET", &location, &[], None, T).expect("an answer");
    assert_eq!((r.status, r.text().as_str()), (200, "{}"));
    assert!(!trap.saw_token());
    call("GET", &location, &[("X-Vault-Token", "s.x")], None, T).expect("an answer");
    assert!(trap.saw_token());
    assert_eq!(trap.hits().len(), 2);
    assert_eq!(trap.hits()[1].target, "/v1/sys/mounts?x=1");
}

#[test]
fn fault_proxy_rates_filters_and_upstream_switch() {
    let bao = Bao::start();
    let proxy = FaultProxy::start(&bao.addr);
    let status = |path: &str| {
        call(
            "GET",
            &format!("{}/v1/{path}", proxy.addr),
            &[("X-Vault-Token", &bao.token)],
            None,
            T,
        )
        .map(|r| r.status)
        .unwrap_or(0)
    };

    proxy.set_faults(vec![Fault::unavailable().prefix("sys/mounts").first(2)]);
    assert_eq!(
        status("sys/auth"),
        200,
        "another prefix is neither faulted nor counted"
    );
    let got: Vec<u16> = (0..4).map(|_| status("sys/mounts")).collect();
    assert_eq!(got, [503, 503, 200, 200]);

    proxy.set_faults(vec![Fault::unavailable().contains("mounts").every(3)]);
    let got: Vec<u16> = (0..6).map(|_| status("sys/mounts")).collect();
    assert_eq!(got, [200, 200, 503, 200, 200, 503]);

    let run = |seed| {
        proxy.set_faults(vec![Fault::unavailable().probability(0.5, seed)]);
        (0..20).map(|_| status("sys/mounts")).collect::<Vec<u16>>()
    };
    let (a, b) = (run(42), run(42));
    assert_eq!(a, b, "the same seed gives the same sequence");
    let faulted = a.iter().filter(|s| **s == 503).count();
    assert!((3..=17).contains(&faulted), "about half: {a:?}");

    // The first matching fault that fires wins.
    proxy.set_faults(vec![
        Fault::too_many(1).first(1),
        Fault::unavailable().first(1),
    ]);
    let got: Vec<u16> = (0..3).map(|_| status("sys/mounts")).collect();
    assert_eq!(got, [429, 503, 200]);

    proxy.clear();
    let dead = format!("http://127.0.0.1:{}", crate::harness::free_port());
    proxy.set_upstream(&dead);
    assert_eq!(
        status("sys/mounts"),
        502,
        "an upstream that is down gives a 502"
    );
    proxy.set_upstream(&bao.addr);
    assert_eq!(status("sys/mounts"), 200);
}

#[test]
fn fault_proxy_serves_a_pooled_reqwest_client_on_one_connection() {
    let bao = Bao::start();
    let proxy = FaultProxy::start(&bao.addr);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let statuses = rt.block_on(async {
        let client = reqwest::Client::builder().build().expect("client");
        let mut out = Vec::new();
        for i in 0..6 {
            let resp = client
                .post(format!("{}/v1/secret/data/k{i}", proxy.addr))
                .header("X-Vault-Token", &bao.token)
                .json(&serde_json::json!({ "data": { "n": i } }))
                .send()
                .await
                .expect("an answer");
            out.push(resp.status().as_u16());
            resp.bytes().await.expect("a body");
        }
        out
    });
    assert_eq!(statuses, [200; 6]);
    assert_eq!(proxy.connections(), 1, "reqwest kept its connection alive");
    assert_eq!(proxy.matching("POST", "secret/data/k").len(), 6);
}
