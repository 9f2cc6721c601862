//! Unit tests of the redactor (compiled under #[cfg(test)] only).

use proptest::prelude::*;

use super::redact;

/// Redacts `text` and checks: same length and line breaks, no `secret` left, `shown` kept.
#[track_caller]
fn check(text: &str, secrets: &[&str], shown: &[&str]) -> String {
    let r = redact(text);
    assert_eq!(r.len(), text.len(), "length changed:\n{r}");
    assert_eq!(breaks(&r), breaks(text), "line breaks moved:\n{r}");
    for s in secrets {
        assert!(!r.contains(s), "{s:?} left in:\n{r}");
    }
    for s in shown {
        assert!(r.contains(s), "{s:?} masked in:\n{r}");
    }
    r
}

#[test]
fn masks_kv_values_and_secret_fields_keeping_offsets() {
    let text = "secrets:\n  s:\n    type: kv-v2\n    kv:\n      a/b:\n        k: hunter2\n        r: env:X\n    description: shown\nconnections:\n  c:\n    password: s3cret\n    username: u\n";
    check(
        text,
        &["hunter2", "s3cret"],
        &["env:X", "description: shown", "username: u", "a/b:", "k: *"],
    );
    check("    kv: { a/b: { k: hunter2 } }\n", &["hunter2"], &["a/b"]);
}

#[test]
fn flow_mapping_with_a_nested_secret_key() {
    let text = "config:\n  root: { region: eu-west-1, secret_key: hunter2, access_key: env:AK }\n  description: shown\n";
    check(
        text,
        &["hunter2"],
        &[
            "region: eu-west-1",
            "secret_key: *******",
            "env:AK",
            "description: shown",
        ],
    );
    check(
        "a: [ { b: { password: hunter2 } } ]\n",
        &["hunter2"],
        &["password:"],
    );
}

#[test]
fn quoted_scalars_spanning_lines() {
    let text =
        "c:\n  password: \"hun\n     ter2\"\n  client_secret: 's3c\n     r3t2'\n  username: u\n";
    check(
        text,
        &["hun", "ter2", "s3c", "r3t2"],
        &["username: u", "password: ****"],
    );
    // A plain scalar can span lines too.
    check(
        "password: hun\n  ter2\nusername: u\n",
        &["hun", "ter2"],
        &["username: u"],
    );
}

#[test]
fn block_scalars_with_chomping_indicators() {
    for header in ["|", "|-", "|+", ">", ">-", ">+", "|2", ">2-"] {
        let text = format!(
            "c:\n  password: {header}\n    hun\n     ter2\n\n    more\n  username: u\ndescription: shown\n"
        );
        check(
            &text,
            &["hun", "ter2", "more"],
            &[
                "username: u",
                "description: shown",
                &format!("password: {header}"),
            ],
        );
    }
}

#[test]
fn anchors_defined_under_non_secret_keys_are_masked_when_an_alias_is_secret() {
    let text = "defaults:\n  note: &pw hunter2\n  description: shown\nc:\n  password: *pw\n  username: u\n";
    check(
        text,
        &["hunter2"],
        &["&pw", "*pw", "description: shown", "username: u"],
    );
    // An anchor nobody uses as a secret stays visible.
    check("a: &n shown\nb: *n\n", &[], &["&n shown"]);
    // Quoted and block anchored scalars.
    check(
        "a: &q \"hun\n  ter2\"\nb: &r |\n  block2\nc: { password: *q, secret_key: *r }\n",
        &["hun", "ter2", "block2"],
        &[],
    );
}

#[test]
fn anchored_collections_under_kv_or_a_secret_key() {
    let text = "shared: &creds\n  k: hunter2\n  list: [a1b2, c3d4]\nother: &seq\n  - s3q\nsecrets:\n  app:\n    type: kv-v2\n    kv:\n      a/b: *creds\n      c/d: { list: *seq }\ndescription: shown\n";
    check(
        text,
        &["hunter2", "a1b2", "c3d4", "s3q"],
        &["k: ", "list: [", "description: shown", "type: kv-v2"],
    );
    // An anchor whose own alias leads to another anchor: both are masked.
    let chain = "inner: &i hunter2\nouter: &o { x: *i, y: also2 }\nc: { password: *o }\n";
    check(chain, &["hunter2", "also2"], &["x: *i"]);
}

#[test]
fn everything_below_a_secret_key_at_any_depth() {
    let block = "c:\n  password:\n    a:\n      - hunter2\n      - { b: [deep2] }\n    c: |\n      lit2\n  username: u\n";
    check(
        block,
        &["hunter2", "deep2", "lit2"],
        &["username: u", "a:", "b: ["],
    );
    let flow = "c: { client_secret: { a: [hunter2, { b: deep2 }] }, username: u }\n";
    check(flow, &["hunter2", "deep2"], &["username: u"]);
}

#[test]
fn kv_blocks_in_flow_and_block_style_but_not_a_mount_named_kv() {
    let text = "openbao:\n  secrets:\n    kv:\n      type: kv-v2\n      kv:\n        a/b:\n          k: hunter2\n          l: [x9y8]\n        c/d: { k: flow2, r: sops:s.yaml#/k }\n      description: shown\n";
    check(
        text,
        &["hunter2", "x9y8", "flow2"],
        &[
            "type: kv-v2",
            "description: shown",
            "sops:s.yaml#/k",
            "a/b:",
            "c/d:",
        ],
    );
    check(
        "secrets: { m: { type: kv-v2, kv: { p: { k: hunter2 } } } }\n",
        &["hunter2"],
        &["type: kv-v2"],
    );
}

#[test]
fn literal_openbao_token_and_connection_url() {
    let text = "version: 1\nopenbao:\n  address: https://bao:8200\n  token: s.hunter2\n";
    check(
        text,
        &["hunter2"],
        &["address: https://bao:8200", "token: *"],
    );
    check("openbao: { token: \"s.hunter2\" }\n", &["hunter2"], &[]);
    check(
        "openbao:\n  token: env:BAO_TOKEN\n",
        &[],
        &["token: env:BAO_TOKEN"],
    );
    let db = "connections:\n  c:\n    connection_url: postgresql://vault:hunter2@db:5432/x\n    username: vault\n";
    check(
        db,
        &["hunter2", "db:5432"],
        &["username: vault", "connection_url: "],
    );
}

#[test]
fn references_stay_visible_unless_spread_over_lines() {
    let text = "c:\n  password: env:PW\n  secret_key: file:../k\n  client_secret: 'vault:m/p#k'\n  oidc_client_secret: sops:a.yaml#/b\n";
    check(
        text,
        &[],
        &["env:PW", "file:../k", "'vault:m/p#k'", "sops:a.yaml#/b"],
    );
    check(
        "password: |\n  env:X\n  hunter2\n",
        &["hunter2", "env:X"],
        &[],
    );
}

#[test]
fn a_key_that_is_an_alias_or_a_collection_hides_its_value() {
    check("k: &k password\nc: { *k : hunter2 }\n", &["hunter2"], &[]);
    check("? [a, b]\n: hunter2\n", &["hunter2"], &[]);
}

#[test]
fn broken_yaml_masks_values_after_the_error_and_keeps_keys() {
    // A syntax error a line below a flow-style secret.
    let text = "config:\n  root: { region: eu-west-1, secret_key: hunter2 }\n   bad: indent\n  lease: 1h\n";
    check(
        text,
        &["hunter2", "indent", "1h"],
        &["root: {", "bad:", "lease:"],
    );
    // Secrets after the error, in every style.
    let after = "a:\n  - b\n c: d\npassword: hunter2\nx: \"quo\n  ted2\"\ny: |\n  blk2: not a key\nz: { secret_key: flow2 }\nw: 'it''s2' # comm2\n";
    check(
        after,
        &[
            "hunter2", "quo", "ted2", "blk2", "flow2", "it", "s2", "comm2",
        ],
        &["password:", "x:", "y: |", "z: { secret_key:", "w: '"],
    );
    // An anchor defined before the error, used as a secret after it.
    check(
        "a: &pw hunter2\nb: [unclosed\npassword: *pw\n",
        &["hunter2"],
        &["a: &pw"],
    );
    // The error inside an open flow collection, with a tab.
    check(
        "c: { password: x,\n\tsecret_key: hunter2 }\n",
        &["hunter2"],
        &[],
    );
}

#[test]
fn empty_and_odd_inputs() {
    for text in [
        "",
        "\n",
        "#",
        "---\n...\n",
        "&",
        "*",
        "\"",
        "'",
        "|",
        "a: |",
        "{",
        "[",
        "]",
        "}",
        "a:",
        ": :",
        "- - -",
        "\t",
        "é: ü\npassword: ñ\n",
        "a: b\0c\n",
        "\u{feff}a: 1\n",
    ] {
        check(text, &[], &[]);
    }
    check("password: pâsswörd\n", &["â", "ö"], &["password: "]);
    check("x: [\npassword: ünïcødé", &["nïc"], &[]);
}

/// The line breaks of a text, to compare.
fn breaks(s: &str) -> Vec<usize> {
    s.match_indices('\n').map(|(i, _)| i).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics_and_keeps_length_and_line_breaks(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let text = String::from_utf8_lossy(&bytes);
        let r = redact(&text);
        prop_assert_eq!(r.len(), text.len());
        prop_assert_eq!(breaks(&r), breaks(&text));
    }

    #[test]
    fn yaml_like_text_never_panics_and_keeps_offsets(
        text in "([a-z_]{0,6}|[ \n\t:#,&*!|>'\"{}\\[\\]?-]|password|kv|token|openbao|env:X|é){0,60}"
    ) {
        let r = redact(&text);
        prop_assert_eq!(r.len(), text.len());
        prop_assert_eq!(breaks(&r), breaks(&text));
    }
}
