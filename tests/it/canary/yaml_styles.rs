//! A literal secret in every YAML style, each next to a mistake: `validate` (also `--json` and
//! `-vvv`) refuses the file at the mistake and prints the secret nowhere, neither in the snippet
//! that quotes the file nor in the message.

use super::{LITERAL_CANARY, Runs, code};
use crate::harness::all_output;

/// The canary's halves, for styles that spread a value over lines.
const HEAD: &str = "canary-91c0ffee-";
const TAIL: &str = "literal-in-file";

/// (what, topology with `{S}` for the canary and `{A}`/`{B}` for its halves, `LINE:COL: message`).
/// Each mistake is on a line next to the secret, so that the snippet quotes the secret's line.
const CASES: &[(&str, &str, &str)] = &[
    (
        "flow mapping, secret key nested",
        "version: 1\nopenbao:\n  secrets:\n    aws:\n      type: aws\n      config:\n        root: { region: eu-west-1, secret_key: {S} }\n      descripton: typo\n",
        "8:7: unknown field `descripton`",
    ),
    (
        "double-quoted over two lines",
        "version: 1\nopenbao:\n  secrets:\n    db:\n      type: database\n      connections:\n        c:\n          plugin_name: postgresql-database-plugin\n          password: \"{A}\n            {B}\"\n          max_ttl: 1x\n",
        "11:20: `max_ttl` is not a valid duration",
    ),
    (
        "single-quoted over two lines",
        "version: 1\nopenbao:\n  auth:\n    oidc:\n      config:\n        oidc_client_secret: '{A}\n          {B}'\n      descripton: typo\n",
        "8:7: unknown field `descripton`",
    ),
    (
        "literal block scalar, strip",
        "version: 1\nopenbao:\n  secrets:\n    db:\n      type: database\n      connections:\n        c:\n          password: |-\n            {A}\n            {B}\n      descripton: typo\n",
        "11:7: unknown field `descripton`",
    ),
    (
        "folded block scalar, keep",
        "version: 1\nopenbao:\n  secrets:\n    db:\n      type: database\n      connections:\n        c:\n          password: >+\n            {A}\n            {B}\n      descripton: typo\n",
        "11:7: unknown field `descripton`",
    ),
    (
        "anchor under a non-secret key, alias as the password",
        "version: 1\nopenbao:\n  secrets:\n    db:\n      type: database\n      description: &pw {S}\n      descripton: typo\n      connections:\n        c: { password: *pw }\n",
        "7:7: unknown field `descripton`",
    ),
    (
        "anchored mapping used as KV data",
        "version: 1\nopenbao:\n  namespaces:\n    team:\n      custom_metadata: &data { note: {S} }\n      polices: {}\n  secrets:\n    app:\n      type: kv-v2\n      kv:\n        a/b: *data\n",
        "6:7: unknown field `polices`",
    ),
    (
        "secret mapping and list nested below a password",
        "version: 1\nopenbao:\n  secrets:\n    db:\n      type: database\n      connections:\n        c:\n          password:\n            nested: [{ deeper: {S} }, '{A}\n              {B}']\n          max_ttl: 1x\n",
        "11:20: `max_ttl` is not a valid duration",
    ),
    (
        "kv in flow style",
        "version: 1\nopenbao:\n  secrets:\n    app: { type: kv-v2, descripton: typo, kv: { a/b: { k: {S} } } }\n",
        "4:25: unknown field `descripton`",
    ),
    (
        "literal openbao.token",
        "version: 1\nopenbao:\n  token: {S}\n  polices: {}\n",
        "4:3: unknown field `polices`",
    ),
    (
        "a literal token of the wrong shape",
        "version: 1\nopenbao:\n  token: [{S}, '{A}\n    {B}']\n",
        "3:10: `openbao.token` must be a string",
    ),
    (
        "connection_url with credentials",
        "version: 1\nopenbao:\n  secrets:\n    db:\n      type: database\n      connections:\n        c:\n          connection_url: postgresql://vault:{S}@db:5432/x\n          max_ttl: 1x\n",
        "9:20: `max_ttl` is not a valid duration",
    ),
    (
        "syntax error a line below a flow-style secret",
        "version: 1\nopenbao:\n  secrets:\n    aws:\n      type: aws\n      config:\n        root: { region: eu-west-1, secret_key: {S} }\n     lease: { lease: 15m }\n",
        "8:6: ",
    ),
    (
        "secrets right after a syntax error",
        "version: 1\nopenbao:\n  auth:\n    approle: {}\n   bad: indent\n  token: {S}\n",
        "5:4: ",
    ),
    (
        "a quoted secret left open by a syntax error",
        "version: 1\nopenbao:\n  auth: { approle: {} ]\n  token: \"{A}\n    {B}\n",
        "3:9: ",
    ),
];

#[test]
fn literal_secrets_in_every_yaml_style_stay_out_of_topology_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut runs = Runs::new();
    runs.forbid("91c0ffee");
    runs.forbid(TAIL);
    let mut wrong = Vec::new();
    for (what, template, at) in CASES {
        let text = template
            .replace("{S}", LITERAL_CANARY)
            .replace("{A}", HEAD)
            .replace("{B}", TAIL);
        let path = dir.path().join("broken.yaml");
        std::fs::write(&path, &text).unwrap();
        for args in [
            &["validate"][..],
            &["validate", "--json"],
            &["-vvv", "validate"],
        ] {
            let out = assert_cmd::Command::cargo_bin("aegisctl")
                .unwrap()
                .env("NO_COLOR", "1")
                .args(args)
                .arg(&path)
                .output()
                .unwrap();
            let label = format!("{what} ({})", args.join(" "));
            let stderr = String::from_utf8_lossy(&out.stderr);
            if code(&out) != Some(1) || !stderr.contains(&format!("broken.yaml:{at}")) {
                wrong.push(format!(
                    "{label}: expected exit 1 and `broken.yaml:{at}`:\n{}",
                    all_output(&out)
                ));
            }
            if stderr.contains("panicked") {
                wrong.push(format!("{label}: panic:\n{stderr}"));
            }
            runs.seen.push((label, out));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
    runs.assert_clean();
}

/// A value of the wrong type is not secret by its place (the snippet may show it), but the
/// message line never quotes it: it could be a secret pasted into the wrong field.
#[test]
fn type_errors_do_not_quote_the_value_in_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typed.yaml");
    for (text, at) in [
        (
            format!("version: \"{LITERAL_CANARY}\"\n"),
            "typed.yaml:1:10: invalid",
        ),
        (
            format!(
                "version: 1\nhosts:\n  h: {{ kind: lxc, approle: r, cidr: 10.0.0.1/32, external: {LITERAL_CANARY} }}\n"
            ),
            "typed.yaml:3:60: invalid boolean",
        ),
        (
            format!("version: 1\nopenbao:\n  policies: {LITERAL_CANARY}\n"),
            "typed.yaml:3:13: expected mapping",
        ),
    ] {
        std::fs::write(&path, &text).unwrap();
        let out = assert_cmd::Command::cargo_bin("aegisctl")
            .unwrap()
            .env("NO_COLOR", "1")
            .args(["validate", "--json"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(code(&out), Some(1), "{}", all_output(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = stderr.lines().find(|l| l.contains(at));
        assert!(
            line.is_some_and(|l| !l.contains("91c0ffee")),
            "{at}: {line:?}\n{}",
            all_output(&out)
        );
        assert!(!String::from_utf8_lossy(&out.stdout).contains("91c0ffee"));
    }
}
