//! Unit tests of the schema module (compiled under #[cfg(test)] only).

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

/// `GET auth/approle/role/aegisctl-probe?help=1` from a 2.7.2 dev server, trimmed: six of the
/// write schema's properties, two of the read schema's, descriptions and UI hints dropped.
const APPROLE_ROLE_HELP: &str = r##"{
  "help": "Request:        role/aegisctl-probe\nMatching Route: ^role/(?P<role_name>\\w(([\\w-.]+)?\\w)?)$\n",
  "openapi": {
    "openapi": "3.0.2",
    "paths": {
      "/role/{role_name}": {
        "description": "Register an role with the backend.",
        "parameters": [{"name": "role_name", "in": "path", "schema": {"type": "string"}, "required": true}],
        "x-vault-createSupported": true,
        "get": {"operationId": "app-role-read-role", "responses": {"200": {"description": "OK"}}},
        "post": {
          "operationId": "app-role-write-role",
          "tags": ["auth"],
          "requestBody": {"required": true, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/AppRoleWriteRoleRequest"}}}},
          "responses": {"200": {"description": "OK"}}
        },
        "delete": {"operationId": "app-role-delete-role", "responses": {"204": {"description": "No Content"}}}
      }
    },
    "components": {"schemas": {
      "AppRoleReadRoleResponse": {"type": "object", "properties": {
        "bind_secret_id": {"type": "boolean"},
        "token_ttl": {"type": "integer", "format": "seconds"}}},
      "AppRoleWriteRoleRequest": {"type": "object", "properties": {
        "bind_secret_id": {"type": "boolean", "default": true},
        "role_id": {"type": "string"},
        "secret_id_num_uses": {"type": "integer"},
        "token_policies": {"type": "array", "items": {"type": "string"}},
        "token_ttl": {"type": "integer", "format": "seconds"},
        "token_type": {"type": "string", "default": "default-service"}}}
    }}
  },
  "see_also": null
}"##;

fn approle_help() -> Value {
    serde_json::from_str(APPROLE_ROLE_HELP).unwrap()
}

fn table(fields: &[(&str, FieldType)]) -> FieldTable {
    FieldTable {
        fields: fields.iter().map(|(k, t)| (k.to_string(), *t)).collect(),
        open: false,
    }
}

/// A help answer with one path and an inline request schema of `props`, under `method`.
fn inline_help(route: &str, method: &str, props: Value) -> Value {
    json!({"openapi": {"paths": {route: {method: {"requestBody": {"content": {
        "application/json": {"schema": {"type": "object", "properties": props}}}}}}}}})
}

#[test]
fn from_help_reads_the_write_schema_of_the_one_path() {
    let t = FieldTable::from_help(&approle_help()).unwrap();
    use FieldType::*;
    let want = table(&[
        ("bind_secret_id", Bool),
        ("role_id", String),
        ("secret_id_num_uses", Int),
        ("token_policies", List),
        ("token_ttl", Duration),
        ("token_type", String),
    ]);
    assert_eq!(t, want);
    assert_eq!(t.get("token_ttl"), Some(Duration));
    assert_eq!(t.get("token_tll"), None);
    assert_eq!(
        FieldTable::from_help_for(&approle_help(), "role/{name}"),
        Some(want)
    );
    assert_eq!(
        FieldTable::from_help_for(&approle_help(), "roles/{name}"),
        None
    );
}

#[test]
fn maps_put_and_inline_schemas() {
    let help = inline_help(
        "/config",
        "put",
        json!({"provider_config": {"type": "object", "format": "map"},
               "claim_mappings": {"type": "object", "format": "kvpairs"},
               "rate": {"type": "number", "format": "float"},
               "untyped": {}}),
    );
    use FieldType::*;
    let want = table(&[
        ("claim_mappings", Map),
        ("provider_config", Map),
        ("rate", String),
        ("untyped", String),
    ]);
    assert_eq!(FieldTable::from_help(&help), Some(want.clone()));
    assert_eq!(FieldTable::from_help_for(&help, "config"), Some(want));
}

#[test]
fn post_wins_over_put() {
    let mut help = inline_help("/x", "put", json!({"from_put": {"type": "string"}}));
    help["openapi"]["paths"]["/x"]["post"] = json!({"requestBody": {"content": {
        "application/json": {"schema": {"properties": {"from_post": {"type": "boolean"}}}}}}});
    let t = FieldTable::from_help(&help).unwrap();
    assert_eq!(t, table(&[("from_post", FieldType::Bool)]));
}

#[test]
fn no_write_schema_is_none() {
    // kv v1 `/{path}`: a POST without a request body (any field is data).
    let kv1 = json!({"openapi": {"paths": {"/{path}": {"get": {}, "post": {"responses": {}}}}}});
    assert_eq!(FieldTable::from_help(&kv1), None);
    // A kv v1 mount asked for a kv v2 endpoint answers with its catch-all route.
    assert_eq!(FieldTable::from_help_for(&kv1, "metadata/{path}"), None);
    let read_only = json!({"openapi": {"paths": {"/x": {"get": {}}}}});
    assert_eq!(FieldTable::from_help(&read_only), None);
}

#[test]
fn two_routes_are_ambiguous_without_the_endpoint() {
    // `sys/plugins/catalog/secret/NAME?help=1` matches `{name}` and `{type}/{name}`.
    let mut help = inline_help(
        "/plugins/catalog/{name}",
        "post",
        json!({"type": {"type": "string"}, "command": {"type": "string"}}),
    );
    help["openapi"]["paths"]["/plugins/catalog/{type}/{name}"] = json!({"post": {"requestBody":
        {"content": {"application/json": {"schema": {"properties": {"command": {"type": "string"}}}}}}}});
    assert_eq!(FieldTable::from_help(&help), None);
    let typed = FieldTable::from_help_for(&help, "plugins/catalog/{type}/{name}").unwrap();
    assert_eq!(typed, table(&[("command", FieldType::String)]));
}

#[test]
fn malformed_answers_give_none() {
    let refs = |r: Value| {
        json!({"openapi": {"paths": {"/x": {"post": {"requestBody": {"content": {
            "application/json": {"schema": {"$ref": r}}}}}}},
            "components": {"schemas": {"Loop": {"$ref": "#/components/schemas/Loop"},
                                       "Flat": {"properties": ["not", "a", "map"]}}}}})
    };
    for bad in [
        json!(null),
        json!([]),
        json!("help"),
        json!({"openapi": 5}),
        json!({"openapi": {"paths": []}}),
        json!({"openapi": {"paths": {}}}),
        json!({"openapi": {"paths": {"/x": {"post": {"requestBody": {"content": 1}}}}}}),
        refs(json!("#/components/schemas/Missing")),
        refs(json!("#/components/schemas/Loop")),
        refs(json!("#/components/schemas/Flat")),
        refs(json!("https://example.com/schema")),
        refs(json!(7)),
    ] {
        assert_eq!(FieldTable::from_help(&bad), None, "{bad}");
        assert_eq!(FieldTable::from_help_for(&bad, "x"), None, "{bad}");
    }
}

/// Any JSON, biased towards the keys `from_help` looks for.
fn arb_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("openapi".to_string()),
        Just("paths".to_string()),
        Just("post".to_string()),
        Just("requestBody".to_string()),
        Just("content".to_string()),
        Just("application/json".to_string()),
        Just("schema".to_string()),
        Just("$ref".to_string()),
        Just("properties".to_string()),
        Just("type".to_string()),
        "[a-z/{}#]{0,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(json!("#/components/schemas/A")),
        "[a-z/{}#]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn from_help_never_panics(help in arb_json(), endpoint in "[a-z/{}]{0,12}") {
        let _ = FieldTable::from_help(&help);
        let _ = FieldTable::from_help_for(&help, &endpoint);
        let _ = table_from_help("system", "mounts/{path}/tune", &help);
    }
}

#[test]
fn overrides_fix_what_the_server_publishes_wrong() {
    use FieldType::*;
    let tune = || table(&[("default_lease_ttl", String), ("max_lease_ttl", String)]);
    for endpoint in ["mounts/{path}/tune", "auth/{path}/tune"] {
        let mut t = tune();
        apply_overrides("system", endpoint, &mut t);
        assert_eq!(t.get("default_lease_ttl"), Some(Duration));
        assert_eq!(t.get("max_lease_ttl"), Some(Duration));
    }
    // Only there: a `string` elsewhere stays one, and no field is invented.
    let mut t = tune();
    apply_overrides("system", "mounts/{path}", &mut t);
    assert_eq!(t, tune());
    let mut t = table(&[("description", String)]);
    apply_overrides("system", "auth/{path}/tune", &mut t);
    assert_eq!(t, table(&[("description", String)]));

    let mut db = table(&[("plugin_name", String)]);
    apply_overrides("database", "config/{name}", &mut db);
    assert!(db.open);
    assert_eq!(db.check("connection_url"), Ok(()));
    let mut role = table(&[("db_name", String)]);
    apply_overrides("database", "roles/{name}", &mut role);
    assert!(!role.open);

    let mut meta = table(&[("after", String), ("limit", Int), ("max_versions", Int)]);
    apply_overrides("kv", "metadata/{path}", &mut meta);
    assert_eq!(meta, table(&[("max_versions", Int)]));
}

#[test]
fn suggest_finds_typos_only() {
    let t = FieldTable::from_help(&approle_help()).unwrap();
    assert_eq!(t.suggest("token_tll"), Some("token_ttl"));
    assert_eq!(t.suggest("token-ttl"), Some("token_ttl"));
    assert_eq!(t.suggest("Token_TTL"), Some("token_ttl"));
    assert_eq!(t.suggest("token_polices"), Some("token_policies"));
    assert_eq!(t.suggest("token_policy"), Some("token_policies"));
    assert_eq!(t.suggest("bind_secretid"), Some("bind_secret_id"));
    assert_eq!(t.suggest("secret_id_num_use"), Some("secret_id_num_uses"));
    for unrelated in ["connection_url", "policies", "ttl", "name", "x", "", "🦀"] {
        assert_eq!(t.suggest(unrelated), None, "{unrelated}");
    }
    assert_eq!(t.check("token_ttl"), Ok(()));
    assert_eq!(t.check("token_tll"), Err(Some("token_ttl")));
    assert_eq!(t.check("connection_url"), Err(None));
}

#[test]
fn distance_counts_a_transposition_once() {
    let d = |a: &str, b: &str| distance(&normalise(a), &normalise(b));
    assert_eq!(d("token_tll", "token_ttl"), 1);
    assert_eq!(d("ab", "ba"), 1);
    assert_eq!(d("kitten", "sitting"), 3);
    assert_eq!(d("", "abc"), 3);
    assert_eq!(d("abc", ""), 3);
    assert_eq!(d("same", "same"), 0);
}

#[test]
fn probe_paths() {
    assert_eq!(
        probe_path("approle", "role/{name}", "approle"),
        "auth/approle/role/aegisctl-probe"
    );
    assert_eq!(
        probe_path("oidc", "config", "corp-sso/"),
        "auth/corp-sso/config"
    );
    assert_eq!(
        probe_path("system", "mounts/{path}/tune", "ignored"),
        "sys/mounts/aegisctl-probe/tune"
    );
    assert_eq!(
        probe_path("system", "plugins/catalog/{type}/{name}", ""),
        "sys/plugins/catalog/secret/aegisctl-probe"
    );
    assert_eq!(
        probe_path("kv", "metadata/{path}", "kv2"),
        "kv2/metadata/aegisctl-probe"
    );
    assert_eq!(
        probe_path("transit", "keys/{name}/config", "transit"),
        "transit/keys/aegisctl-probe/config"
    );
    // kubernetes is an auth method and a secrets engine: the caller says which.
    assert_eq!(
        probe_path("kubernetes", "role/{name}", "auth/k8s"),
        "auth/k8s/role/aegisctl-probe"
    );
    assert_eq!(
        probe_path("kubernetes", "roles/{name}", "k8s"),
        "k8s/roles/aegisctl-probe"
    );
}

#[test]
fn field_types_serialise_lowercase() {
    assert_eq!(
        serde_json::to_value(FieldType::Duration).unwrap(),
        "duration"
    );
    let t: FieldTable = serde_json::from_str(r#"{"fields": {"a": "bool"}}"#).unwrap();
    assert_eq!(t, table(&[("a", FieldType::Bool)]));
    assert_eq!(
        serde_json::to_string(&t).unwrap(),
        r#"{"fields":{"a":"bool"}}"#
    );
}

#[test]
fn bundled_snapshot_parses_and_covers_exactly_the_endpoints() {
    let snap = bundled_snapshot().expect("the bundled snapshot parses");
    assert_eq!(snap.openbao_version, BUNDLED_OPENBAO_VERSION);
    let mut listed: Vec<(&str, &str)> = snap
        .tables
        .iter()
        .flat_map(|(ty, eps)| eps.keys().map(move |e| (ty.as_str(), e.as_str())))
        .collect();
    let mut want = ENDPOINTS.to_vec();
    listed.sort();
    want.sort();
    assert_eq!(listed, want);
    for (ty, ep) in ENDPOINTS {
        let t = bundled(ty, ep).unwrap();
        assert!(!t.fields.is_empty(), "{ty} {ep}");
    }
    assert_eq!(bundled("approle", "nope"), None);
    assert_eq!(bundled("nope", "role/{name}"), None);
    // The file is what `to_json` writes: a regenerated snapshot diffs only where it changed.
    assert_eq!(snap.to_json().unwrap(), BUNDLED_JSON);
}

#[test]
fn bundled_tables_have_the_overrides() {
    use FieldType::*;
    let tune = bundled("system", "auth/{path}/tune").unwrap();
    assert_eq!(tune.get("max_lease_ttl"), Some(Duration));
    assert!(bundled("database", "config/{name}").unwrap().open);
    assert_eq!(bundled("kv", "metadata/{path}").unwrap().get("limit"), None);
}
