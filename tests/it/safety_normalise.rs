//! No phantom diffs (issue 8, point 5): what OpenBao answers in another spelling than the file's
//! compares equal. Durations of every kind the schema marks as one (`1h`, `90m`, `768h`, Go's
//! `768h0m0s`, a leeway of `-1`), CIDRs (`/32`, `/128`, IPv6 case), PEM blocks with and without
//! their trailing newline, kv v1 mounts; and the kv → kv-v2 upgrade is an in-place update that
//! keeps the data.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use aegisctl::backends::openbao::schema::{FieldType, bundled};

use crate::harness::{Bao, block, norm, s, topology};
use crate::postgres::{Postgres, SUPERUSER};
use crate::safety_util::{
    apply_ok, assert_drift_on, assert_no_changes, ctl, rsa_public_pem, yaml_str,
};

/// The duration fields of a bundled endpoint, less `skip`.
fn durations(ty: &str, endpoint: &str, skip: &[&str]) -> Vec<String> {
    let table = bundled(ty, endpoint).unwrap_or_else(|| panic!("{ty} {endpoint} is bundled"));
    let all: Vec<String> = table
        .fields
        .iter()
        .filter(|(_, t)| **t == FieldType::Duration)
        .map(|(f, _)| f.clone())
        .collect();
    for f in skip {
        assert!(
            all.iter().any(|a| a == f),
            "{f} is no longer a duration of {ty} {endpoint}"
        );
    }
    all.into_iter()
        .filter(|f| !skip.contains(&f.as_str()))
        .collect()
}

/// A value in a non-second form that the server accepts for `field` next to the others: maxima
/// are the system maximum (768h), leeways alternate between "none" (-1) and 5m.
fn value_for(field: &str, leeways: &mut usize) -> String {
    if field.ends_with("leeway") {
        *leeways += 1;
        return if *leeways % 2 == 1 { "-1" } else { "5m" }.into();
    }
    if field.contains("max") || field == "auto_rotate_period" || field == "delete_version_after" {
        return "768h".into();
    }
    if field.starts_with("secret_id") || field == "max_age" || field == "rotation_period" {
        return "90m".into();
    }
    "1h".into()
}

/// `name: { f1: v1, ... }` lines for `fields`, recording each in `covered` as `kind.field`.
fn body(fields: &[String], kind: &str, covered: &mut BTreeSet<String>) -> String {
    let mut leeways = 0;
    let mut out = String::new();
    for f in fields {
        write!(out, "{f}: {}, ", value_for(f, &mut leeways)).unwrap();
        covered.insert(format!("{kind}.{f}"));
    }
    out
}

#[test]
fn every_duration_field_converges_in_any_spelling() {
    let pg = Postgres::start();
    let bao = Bao::start();
    let pem = rsa_public_pem(bao.dir.path());
    let mut covered = BTreeSet::new();

    // `period` (approle, jwt), `ttl` and `max_ttl` (jwt) are the deprecated names of
    // `token_period`, `token_ttl` and `token_max_ttl`: OpenBao refuses a write with both names.
    let approle = durations("approle", "role/{name}", &["period"]);
    let jwt = durations("jwt", "role/{name}", &["period", "ttl", "max_ttl"]);
    let db_role = durations("database", "roles/{name}", &[]);
    let db_static = durations("database", "static-roles/{name}", &[]);
    // A Transit key's creation and config endpoints share `auto_rotate_period`.
    let mut transit: BTreeSet<String> = durations("transit", "keys/{name}", &[])
        .into_iter()
        .collect();
    transit.extend(durations("transit", "keys/{name}/config", &[]));
    let transit: Vec<String> = transit.into_iter().collect();
    let tune = durations("system", "mounts/{path}/tune", &[]);
    let auth_tune = durations("system", "auth/{path}/tune", &[]);
    let kv_meta = durations("kv", "metadata/{path}", &[]);
    // Not covered: `kv config` (a kv mount's own defaults) and `policies/acl` `ttl` are no
    // fields of any kind the topology declares.

    let yaml = format!(
        r#"version: 1
openbao:
  auth:
    approle:
      tune: {{ {auth_tune} }}
      roles:
        app: {{ {approle} }}
    jwt:
      config:
        jwt_validation_pubkeys: [{pem}]
      roles:
        ci: {{ role_type: jwt, user_claim: sub, bound_audiences: [aegis], {jwt} }}
  secrets:
    kv:
      type: kv-v2
      tune: {{ {tune} }}
      kv_metadata:
        app/config: {{ {kv_meta} }}
    transit:
      type: transit
      keys:
        k: {{ type: aes256-gcm96, {transit} }}
    database:
      type: database
      connections:
        pg:
          plugin_name: postgresql-database-plugin
          connection_url: "postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{port}/postgres"
          username: {SUPERUSER}
          password: env:PG_PASSWORD
          allowed_roles: [dyn, reporting]
      roles:
        dyn:
          db_name: pg
          creation_statements: ["CREATE ROLE \"{{{{name}}}}\" WITH LOGIN PASSWORD '{{{{password}}}}' VALID UNTIL '{{{{expiration}}}}';"]
          {db_role}
      static_roles:
        reporting: {{ db_name: pg, username: reporting, {db_static} }}
"#,
        auth_tune = body(&auth_tune, "auth_tune", &mut covered),
        approle = body(&approle, "approle_role", &mut covered),
        pem = yaml_str(&pem),
        jwt = body(&jwt, "jwt_role", &mut covered),
        tune = body(&tune, "tune", &mut covered),
        kv_meta = body(&kv_meta, "kv_metadata", &mut covered),
        transit = body(&transit, "transit_key", &mut covered),
        port = pg.port,
        db_role = body(&db_role, "database_role", &mut covered)
            .trim_end_matches(", ")
            .replace(", ", "\n          "),
        db_static = body(&db_static, "database_static_role", &mut covered),
    );
    pg.psql_ok("CREATE ROLE reporting WITH LOGIN PASSWORD 'reporting-initial'");
    let env = [("PG_PASSWORD", pg.password.as_str())];
    let file = topology(&bao, "durations", &yaml);
    for expected in [
        "approle_role.token_ttl",
        "approle_role.secret_id_ttl",
        "jwt_role.clock_skew_leeway",
        "jwt_role.expiration_leeway",
        "database_role.default_ttl",
        "database_static_role.rotation_period",
        "transit_key.auto_rotate_period",
        "tune.max_lease_ttl",
        "auth_tune.default_lease_ttl",
        "kv_metadata.delete_version_after",
    ] {
        assert!(
            covered.contains(expected),
            "{expected} not covered: {covered:?}"
        );
    }
    assert!(yaml.contains(": -1,") && yaml.contains(": 5m,"), "{yaml}");

    apply_ok(&bao, &env, &file);
    // The server really holds them, in its own spelling.
    assert_eq!(
        bao.read_json("auth/approle/role/app")["data"]["token_max_ttl"],
        768 * 3600
    );
    let meta = bao.read_json("kv/metadata/app/config");
    assert_eq!(meta["data"]["delete_version_after"], "768h0m0s", "{meta}");
    assert_no_changes(&bao, &env, &file);
    assert_no_changes(&bao, &env, &file);

    // A changed one is still seen: an out-of-band edit of a leeway is drift.
    bao.bao_ok(&[
        "write",
        "auth/jwt/role/ci",
        "role_type=jwt",
        "clock_skew_leeway=30",
    ]);
    assert_drift_on(&bao, &env, &file, r#"openbao[root].jwt_role["jwt/ci"]"#);
}

#[test]
fn cidrs_pem_blocks_and_kv_v1_mounts_plan_no_phantom_changes() {
    let bao = Bao::start();
    let pem = rsa_public_pem(bao.dir.path());
    assert!(pem.ends_with("-----\n"));
    let yaml = format!(
        r#"version: 1
openbao:
  auth:
    approle:
      roles:
        app:
          token_bound_cidrs: [10.0.0.1/32, "2001:DB8::1/128", 10.1.0.0/16, 10.0.0.3]
          secret_id_bound_cidrs: ["10.0.0.2/32", "2001:DB8::2/128"]
    jwt-nl:
      type: jwt
      config: {{ jwt_validation_pubkeys: [{with_nl}] }}
    jwt-bare:
      type: jwt
      config: {{ jwt_validation_pubkeys: [{without_nl}] }}
  secrets:
    kv1:
      type: kv
      kv:
        app/a: {{ user: alice, pass: env:KV1_PASS }}
    kv1-explicit:
      type: kv
      options: {{ version: "1" }}
      kv:
        app/b: {{ user: bob }}
"#,
        with_nl = yaml_str(&pem),
        without_nl = yaml_str(pem.trim_end()),
    );
    let env = [("KV1_PASS", "kv1-pass-61d0")];
    let file = topology(&bao, "phantoms", &yaml);
    apply_ok(&bao, &env, &file);

    // OpenBao answers in its own spelling: bare addresses for /32 and /128, lower-case IPv6.
    let role = bao.read_json("auth/approle/role/app");
    let cidrs = role["data"]["token_bound_cidrs"].to_string();
    assert!(
        cidrs.contains("\"10.0.0.1\"") && cidrs.contains("\"2001:db8::1\""),
        "{role}"
    );
    let options = bao.read_json("sys/mounts/kv1-explicit")["data"]["options"].clone();
    assert_eq!(options["version"], "1", "{options}");
    assert!(bao.bao_ok(&["kv", "get", "kv1/app/a"]).contains("alice"));

    // ... and yet: no change, twice over.
    assert_no_changes(&bao, &env, &file);
    assert_no_changes(&bao, &env, &file);

    // A real change of a kv v1 secret shows (and only there).
    bao.bao_ok(&["kv", "put", "kv1-explicit/app/b", "user=mallory"]);
    let run = assert_drift_on(
        &bao,
        &env,
        &file,
        r#"openbao[root].kv_secret["kv1-explicit/app/b"]"#,
    );
    assert!(
        !run.stdout.contains("kv_secret[\"kv1/app/a\"]") && !run.stdout.contains("approle_role"),
        "{run}"
    );
}

#[test]
fn kv_v1_to_kv_v2_is_an_in_place_upgrade_that_keeps_the_data() {
    let bao = Bao::start();
    let v1 = r#"version: 1
openbao:
  secrets:
    store:
      type: kv
      kv:
        app/a: { user: alice }
"#;
    let file = topology(&bao, "upgrade", v1);
    apply_ok(&bao, &[], &file);
    // Data written before the upgrade, by someone else, must survive it too.
    bao.bao_ok(&["kv", "put", "store/legacy/b", "token=legacy-value-5e1a"]);

    let file = topology(&bao, "upgrade", &v1.replace("type: kv\n", "type: kv-v2\n"));
    let plan = ctl(&bao, &[], &["plan", "--detailed-exitcode", s(&file)]);
    assert_eq!(plan.code, Some(2), "{plan}");
    let blk =
        block(&plan.stdout, r#"openbao[root].mount["store"]"#).unwrap_or_else(|| panic!("{plan}"));
    assert!(blk.contains("will be updated in-place"), "{blk}");
    assert!(norm(&blk).contains(r#"~ type = "kv" -> "kv-v2""#), "{blk}");
    assert!(!plan.stdout.contains("-/+"), "not a replacement:\n{plan}");
    assert!(
        plan.stdout.contains("0 to add, 1 to change, 0 to destroy."),
        "{plan}"
    );

    apply_ok(&bao, &[], &file);
    let options = bao.read_json("sys/mounts/store")["data"]["options"].clone();
    assert_eq!(options["version"], "2", "{options}");
    // The upgrade runs in the background on the server: wait for the data to be readable.
    let mut got = String::new();
    for _ in 0..100 {
        let out = bao.bao(&["kv", "get", "-format=json", "store/legacy/b"]);
        if out.status.success() {
            got = String::from_utf8_lossy(&out.stdout).into_owned();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let v: serde_json::Value =
        serde_json::from_str(&got).expect("kv get answered after the upgrade");
    assert_eq!(v["data"]["data"]["token"], "legacy-value-5e1a", "{v}");
    let a: serde_json::Value =
        serde_json::from_str(&bao.bao_ok(&["kv", "get", "-format=json", "store/app/a"])).unwrap();
    assert_eq!(a["data"]["data"]["user"], "alice", "{a}");
    assert_no_changes(&bao, &[], &file);
}
