//! Tenants against the real OpenBao and the real Keycloak: two slugs expanded from one template
//! into namespace + realm pairs whose pairing is wired (each namespace's JWT auth trusts only
//! its own realm; each realm's confidential client's secret reaches its own namespace through
//! the keymaster and the OIDC configuration). The proofs of isolation: an AppRole token of
//! tenant A cannot read tenant B's secrets; a service account of realm A logs into namespace A
//! and reads its secret, and is refused by namespace B (and B's by A). Drift in one tenant is
//! reported under that tenant's addresses only; a slug added plans exactly its tenant, a slug
//! removed is destroyed only with `--prune`.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{Bao, Run, s};
use crate::http_wire::call;
use crate::keycloak::{Keycloak, keycloak, unique_realm};
use crate::keycloak_common::ctl;

/// A tenant template: a KV secret naming its tenant, a reader policy, AppRole, and JWT auth
/// trusting the tenant's realm (with the realm's `vault` client as its OIDC client, whose
/// generated secret is an output reference); the realm with a service-account client `worker`
/// whose tokens carry the audience `openbao`.
pub fn template(slugs: &[String]) -> String {
    let list = slugs.join(", ");
    format!(
        r#"version: 1
keycloak:
  url: env:KEYCLOAK_URL
  admin: {{ username: env:KEYCLOAK_ADMIN, password: env:KEYCLOAK_ADMIN_PASSWORD }}
  client_secrets: {{ openbao_kv: "secret/keycloak/{{clientId}}" }}
tenants:
  slugs: [{list}]
  openbao:
    policies:
      tenant-reader: |
        path "secret/data/app/*" {{ capabilities = ["read"] }}
    secrets:
      secret:
        type: kv-v2
        kv:
          app/config: {{ owner: "{{{{ slug }}}}" }}
    auth:
      approle:
        type: approle
        roles:
          agent: {{ token_policies: [tenant-reader], secret_id_num_uses: 0, token_ttl: 10m }}
      jwt:
        type: jwt
        config:
          oidc_discovery_url: "{{{{ keycloak_url }}}}/realms/{{{{ realm }}}}"
          oidc_client_id: vault
          oidc_client_secret: "keycloak:{{{{ realm }}}}/vault#secret"
        roles:
          service:
            role_type: jwt
            user_claim: sub
            bound_audiences: [openbao]
            token_policies: [tenant-reader]
            token_ttl: 10m
  keycloak:
    enabled: true
    displayName: "Tenant {{{{ slug }}}}"
    clients:
      - clientId: vault
        publicClient: false
        standardFlowEnabled: true
        redirectUris: ["http://localhost:8250/oidc/callback"]
      - clientId: worker
        publicClient: false
        standardFlowEnabled: false
        serviceAccountsEnabled: true
        protocolMappers:
          - name: openbao-audience
            protocol: openid-connect
            protocolMapper: oidc-audience-mapper
            config: {{ included.custom.audience: openbao, access.token.claim: "true" }}
"#
    )
}

/// A client-credentials access token of `client` in `realm`, its secret read from Keycloak.
pub fn service_token(kc: &Keycloak, realm: &str, client: &str) -> String {
    let id = kc
        .get(&format!("/admin/realms/{realm}/clients?clientId={client}"))
        .json()[0]["id"]
        .as_str()
        .expect("client")
        .to_owned();
    let secret = kc
        .get(&format!("/admin/realms/{realm}/clients/{id}/client-secret"))
        .json()["value"]
        .as_str()
        .expect("secret")
        .to_owned();
    let body = format!("grant_type=client_credentials&client_id={client}&client_secret={secret}");
    let token = call(
        "POST",
        &format!(
            "{}/realms/{realm}/protocol/openid-connect/token",
            kc.base_url()
        ),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&body),
        Duration::from_secs(30),
    )
    .expect("token endpoint")
    .json();
    token["access_token"]
        .as_str()
        .expect("access token")
        .to_owned()
}

/// `bao` with `args` in namespace `ns` and `token`: (success, stdout+stderr).
fn bao_as(bao: &Bao, ns: &str, token: &str, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(crate::harness::bao_bin())
        .args(args)
        .env("BAO_ADDR", &bao.addr)
        .env("BAO_TOKEN", token)
        .env("BAO_NAMESPACE", ns)
        .output()
        .expect("bao");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A JWT login to namespace `ns`: the token, or the refusal.
fn jwt_login(bao: &Bao, ns: &str, jwt: &str) -> Result<String, String> {
    let (ok, text) = bao_as(
        bao,
        ns,
        "",
        &[
            "write",
            "-format=json",
            "auth/jwt/login",
            "role=service",
            &format!("jwt={jwt}"),
        ],
    );
    if !ok {
        return Err(text);
    }
    let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    Ok(v["auth"]["client_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

fn run(bao: &Bao, kc: &Keycloak, args: &[&str]) -> Run {
    ctl(bao, kc, args)
}

#[test]
fn tenants_are_isolated_pairs_and_their_lifecycle_is_their_own() {
    let kc = keycloak();
    let a = unique_realm("ta");
    let b = unique_realm("tb");
    let (ra, rb) = (format!("tenant-{a}"), format!("tenant-{b}"));
    let bao = Bao::start();
    // The dev server's own `secret/` mount is not this topology's: out of the way, so that
    // drift has nothing to say outside the tenants.
    bao.bao_ok(&["secrets", "disable", "secret"]);
    let dir = bao.dir.path().join("tenants");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("topology.yaml");
    std::fs::write(&file, template(&[a.clone(), b.clone()])).unwrap();
    let f = s(&file);
    let apply = run(&bao, kc, &["apply", "--auto-approve", f]);
    assert_eq!(apply.code, Some(0), "{apply}");
    let again = run(&bao, kc, &["plan", "--detailed-exitcode", f]);
    assert_eq!(again.code, Some(0), "{again}");

    // Proof 1: an AppRole token of tenant A reads A's secret and not B's.
    let role_id = bao_as(
        &bao,
        &ra,
        &bao.token,
        &["read", "-field=role_id", "auth/approle/role/agent/role-id"],
    )
    .1;
    let secret_id = bao_as(
        &bao,
        &ra,
        &bao.token,
        &[
            "write",
            "-f",
            "-field=secret_id",
            "auth/approle/role/agent/secret-id",
        ],
    )
    .1;
    let (ok, login) = bao_as(
        &bao,
        &ra,
        "",
        &[
            "write",
            "-field=token",
            "auth/approle/login",
            &format!("role_id={}", role_id.trim()),
            &format!("secret_id={}", secret_id.trim()),
        ],
    );
    assert!(ok, "{login}");
    let token_a = login.trim().to_owned();
    let (ok, own) = bao_as(
        &bao,
        &ra,
        &token_a,
        &["kv", "get", "-field=owner", "secret/app/config"],
    );
    assert!(
        ok && own.trim() == a,
        "tenant A reads its own secret: {own}"
    );
    let (ok, other) = bao_as(
        &bao,
        &rb,
        &token_a,
        &["kv", "get", "-field=owner", "secret/app/config"],
    );
    assert!(
        !ok,
        "tenant A's AppRole token reads tenant B's secret: {other}"
    );

    // Proof 2: a service account of realm A logs into namespace A through its JWT auth and
    // reads A's secret; namespace B refuses it; B's refuses... and A refuses B's.
    let jwt_a = service_token(kc, &ra, "worker");
    let jwt_b = service_token(kc, &rb, "worker");
    let vault_a = jwt_login(&bao, &ra, &jwt_a).expect("realm A's token opens namespace A");
    let (ok, own) = bao_as(
        &bao,
        &ra,
        &vault_a,
        &["kv", "get", "-field=owner", "secret/app/config"],
    );
    assert!(ok && own.trim() == a, "{own}");
    assert!(
        jwt_login(&bao, &rb, &jwt_a).is_err(),
        "realm A's token opens namespace B"
    );
    assert!(
        jwt_login(&bao, &ra, &jwt_b).is_err(),
        "realm B's token opens namespace A"
    );
    jwt_login(&bao, &rb, &jwt_b).expect("realm B's token opens namespace B");
    // The keymaster put each realm's OIDC client secret in its own namespace.
    let (ok, kv) = bao_as(
        &bao,
        &ra,
        &bao.token,
        &["kv", "get", "-field=client_id", "secret/keycloak/vault"],
    );
    assert!(ok && kv.trim() == "vault", "{kv}");

    // Proof 4: drift in one tenant is reported under that tenant's addresses only.
    let policy = std::process::Command::new(crate::harness::bao_bin())
        .args(["policy", "write", "tenant-reader", "-"])
        .env("BAO_ADDR", &bao.addr)
        .env("BAO_TOKEN", &bao.token)
        .env("BAO_NAMESPACE", &ra)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(b"path \"secret/*\" { capabilities = [\"read\", \"list\"] }\n")?;
            c.wait()
        })
        .expect("policy write");
    assert!(policy.success());
    let worker_b = kc
        .get(&format!("/admin/realms/{rb}/clients?clientId=worker"))
        .json()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        kc.call(
            "DELETE",
            &format!("/admin/realms/{rb}/clients/{worker_b}"),
            None
        )
        .status,
        204
    );
    let drift = run(&bao, kc, &["drift", f]);
    assert_eq!(drift.code, Some(2), "{drift}");
    assert!(
        drift
            .stdout
            .contains(&format!(r#"openbao[{ra}].policy["tenant-reader"]"#)),
        "{drift}"
    );
    assert!(
        drift
            .stdout
            .contains(&format!(r#"keycloak[{rb}].client["worker"]"#)),
        "{drift}"
    );
    for line in drift
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("# "))
    {
        assert!(
            line.contains(&format!("[{ra}]")) || line.contains(&format!("[{rb}]")),
            "drift outside the two edited tenants: {line}\n{drift}"
        );
        // And within them, only what was edited (and what follows from it: the keymaster's
        // copy of the deleted client's secret).
        assert!(
            line.contains("policy[\"tenant-reader\"]")
                || line.contains("client[\"worker\"]")
                || line.contains("worker/openbao-audience")
                || line.contains("secret/keycloak/worker"),
            "{line}\n{drift}"
        );
    }
    assert!(
        !drift.stdout.contains(&format!(r#"openbao[{rb}].policy"#)),
        "{drift}"
    );
    assert!(
        !drift.stdout.contains(&format!(r#"keycloak[{ra}].client"#)),
        "{drift}"
    );
    let converge = run(&bao, kc, &["apply", "--auto-approve", f]);
    assert_eq!(converge.code, Some(0), "{converge}");
    assert_eq!(
        run(&bao, kc, &["plan", "--detailed-exitcode", f]).code,
        Some(0)
    );

    // Lifecycle: a third slug plans exactly its tenant; removing it needs --prune.
    let c = unique_realm("tc");
    let rc = format!("tenant-{c}");
    std::fs::write(&file, template(&[a.clone(), b.clone(), c.clone()])).unwrap();
    let plan = run(&bao, kc, &["plan", f]);
    assert_eq!(plan.code, Some(0), "{plan}");
    for line in plan
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("# "))
    {
        assert!(
            line.contains(&format!("[{rc}]")) || line.contains(&format!("\"{rc}\"")),
            "not the new tenant's: {line}\n{plan}"
        );
    }
    assert!(
        plan.stdout.contains(&format!(
            r#"openbao[root].namespace["{rc}"] will be created"#
        )),
        "{plan}"
    );
    assert!(
        plan.stdout
            .contains(&format!(r#"keycloak[{rc}].realm["{rc}"] will be created"#)),
        "{plan}"
    );
    // One tenant alone: --target tenant[SLUG].
    let one = run(&bao, kc, &["plan", "--target", &format!("tenant[{a}]"), f]);
    assert_eq!(one.code, Some(0), "{one}");
    assert!(
        one.stdout.contains("No changes."),
        "tenant A alone is converged:\n{one}"
    );
    let only_c = run(&bao, kc, &["plan", "--target", &format!("tenant[{c}]"), f]);
    assert!(only_c.stdout.contains(&format!("Tenant {c} ")), "{only_c}");
    assert!(
        !only_c.stdout.contains(&ra) && !only_c.stdout.contains(&rb),
        "{only_c}"
    );
    assert_eq!(run(&bao, kc, &["apply", "--auto-approve", f]).code, Some(0));
    // Someone keeps a secret of their own in tenant C's namespace.
    let (ok, out) = bao_as(
        &bao,
        &rc,
        &bao.token,
        &["kv", "put", "secret/by-hand", "k=v"],
    );
    assert!(ok, "{out}");
    std::fs::write(&file, template(&[a.clone(), b.clone()])).unwrap();
    let kept = run(&bao, kc, &["plan", "--detailed-exitcode", f]);
    assert_eq!(
        kept.code,
        Some(0),
        "without --prune a removed tenant stays:\n{kept}"
    );
    let refused = run(&bao, kc, &["apply", "--auto-approve", "--prune", f]);
    assert_eq!(
        refused.code,
        Some(1),
        "the namespace holds what the ledger does not know:\n{refused}"
    );
    assert!(refused.all().contains("--allow-destroy"), "{refused}");
    assert!(
        refused.all().contains("by-hand"),
        "the unmanaged secret is named:\n{refused}"
    );
    let (ok, _) = bao_as(&bao, &rc, &bao.token, &["kv", "get", "secret/by-hand"]);
    assert!(ok, "nothing was destroyed");
    let pruned = run(&bao, kc, &["plan", "--prune", "--allow-destroy", f]);
    assert!(
        pruned.stdout.contains(&format!(
            r#"openbao[root].namespace["{rc}"] will be destroyed"#
        )),
        "{pruned}"
    );
    assert!(
        pruned.stdout.contains(&format!(
            r#"keycloak[{rc}].realm["{rc}"] will be destroyed"#
        )),
        "{pruned}"
    );
    let gone = run(
        &bao,
        kc,
        &["apply", "--auto-approve", "--prune", "--allow-destroy", f],
    );
    assert_eq!(gone.code, Some(0), "{gone}");
    assert_eq!(
        run(&bao, kc, &["plan", "--detailed-exitcode", "--prune", f]).code,
        Some(0)
    );
    for realm in [&ra, &rb] {
        kc.delete_realm(realm);
    }
}
