//! Unit tests against fixtures that the real `sops` 3.11.0 encrypted (regenerate with
//! `tests/fixtures/sops/regenerate.sh`), so they run without a `sops` binary; the interop suite
//! in `tests/sops_interop.rs` covers every option against a live `sops`.
//!
//! Test code only: `mod.rs` includes this file under #[cfg(test)].

use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::x25519::Identity;
use proptest::prelude::*;

use super::*;

const CANARY: &str = "CANARY-7f3a9c-do-not-leak";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sops")
        .join(name)
}

fn test_identity() -> Identity {
    let text = std::fs::read_to_string(fixture("test-key.txt")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap();
    Identity::from_str(line).unwrap()
}

fn store() -> SopsStore {
    SopsStore::with_identities(vec![test_identity()])
}

fn get(store: &mut SopsStore, file: &Path, pointer: &str) -> String {
    match store.value(file, pointer) {
        Ok(v) => v.expose().clone(),
        Err(e) => panic!("{pointer}: {e}"),
    }
}

fn err(store: &mut SopsStore, file: &Path, pointer: &str) -> SopsError {
    match store.value(file, pointer) {
        Ok(_) => panic!("{pointer}: expected an error"),
        Err(e) => e,
    }
}

fn assert_clean(e: &SopsError) {
    let text = format!("{e} {e:?}");
    assert!(!text.contains(CANARY), "error leaks the canary: {text}");
    assert!(!text.contains("s3cr3t"), "error leaks a secret: {text}");
    assert!(!text.contains("hidden"), "error leaks a secret: {text}");
}

#[test]
fn yaml_fixture_every_type() {
    let f = fixture("secrets.enc.yaml");
    let mut s = store();
    for (pointer, expected) in [
        ("/canary", CANARY),
        ("/db/user", "admin"),
        ("/db/password", "s3cr3t: with colon"),
        ("/db/port", "5432"),
        ("/db/ratio", "0.75"),
        ("/db/whole_float", "2"),
        ("/db/negative", "-12"),
        ("/db/enabled", "true"),
        ("/db/disabled", "false"),
        ("/db/empty", ""),
        ("/db/quoted_number", "42"),
        ("/db/weird~1key~0name", "slash and tilde"),
        ("/list/0", "first"),
        ("/list/1", "2"),
        ("/list/2", "3.25"),
        ("/list/3", "false"),
        ("/list/4/name", "alice"),
        ("/list/4/roles/1", "dev"),
        ("/list/5/0", "nested"),
        ("/unicode", "héllo wörld ✓"),
        ("/multiline", "line one\nline two\n"),
        ("/token_unencrypted", "visible"),
        ("/data/api_key", "abc"),
    ] {
        assert_eq!(get(&mut s, &f, pointer), expected, "{pointer}");
    }
}

#[test]
fn json_fixture_every_type() {
    let f = fixture("secrets.enc.json");
    let mut s = store();
    for (pointer, expected) in [
        ("/canary", CANARY),
        ("/db/port", "5432"),
        ("/db/ratio", "0.75"),
        ("/db/negative", "-12"),
        // SOPS reads JSON numbers as float64: 2^53 + 1 becomes 2^53.
        ("/db/big", "9007199254740992"),
        ("/db/enabled", "true"),
        ("/db/empty", ""),
        ("/list/4/roles/0", "admin"),
        ("/list/5/1", "list"),
        ("/unicode", "héllo wörld ✓"),
    ] {
        assert_eq!(get(&mut s, &f, pointer), expected, "{pointer}");
    }
}

#[test]
fn pointer_errors_name_keys_not_values() {
    let f = fixture("secrets.enc.yaml");
    let mut s = store();
    let e = err(&mut s, &f, "/db/passwrd");
    let msg = e.to_string();
    assert!(
        msg.contains("\"password\"") && msg.contains("\"user\""),
        "{msg}"
    );
    assert!(msg.contains("\"/db\""), "{msg}");
    assert_clean(&e);
    let e = err(&mut s, &f, "/db");
    assert!(matches!(e, SopsError::NotScalar { .. }), "{e}");
    assert!(e.to_string().contains("\"port\""));
    assert_clean(&e);
    let e = err(&mut s, &f, "");
    assert!(e.to_string().contains("\"canary\""), "{e}");
    assert_clean(&e);
    let e = err(&mut s, &f, "/list");
    assert!(e.to_string().contains("6 items"), "{e}");
    let e = err(&mut s, &f, "/list/9");
    assert!(e.to_string().contains("6 items"), "{e}");
    let e = err(&mut s, &f, "/list/01");
    assert!(matches!(e, SopsError::NotFound { .. }), "{e}");
    let e = err(&mut s, &f, "/canary/x");
    assert!(matches!(e, SopsError::NotFound { .. }), "{e}");
    assert_clean(&e);
    let e = err(&mut s, &f, "/db/nothing");
    assert!(matches!(e, SopsError::Null { .. }), "{e}");
    let e = err(&mut s, &f, "db/user");
    assert!(matches!(e, SopsError::Pointer { .. }), "{e}");
    let e = err(&mut s, &f, "/db/a~2");
    assert!(matches!(e, SopsError::Pointer { .. }), "{e}");
    let e = err(&mut s, &f, "/sops/mac");
    assert!(matches!(e, SopsError::NotFound { .. }), "{e}");
}

#[test]
fn decrypts_each_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("s.enc.yaml");
    std::fs::copy(fixture("secrets.enc.yaml"), &f).unwrap();
    let mut s = store();
    assert_eq!(get(&mut s, &f, "/db/user"), "admin");
    std::fs::remove_file(&f).unwrap();
    // Served from the cache: the file is gone.
    assert_eq!(get(&mut s, &f, "/db/port"), "5432");
    let e = err(&mut SopsStore::with_identities(vec![]), &f, "/db/port");
    assert!(matches!(e, SopsError::Read { .. }), "{e}");
}

#[test]
fn wrong_identity_lists_recipients_and_sources() {
    let f = fixture("secrets.enc.yaml");
    let mut s = SopsStore::with_identities(vec![Identity::generate()]);
    let e = err(&mut s, &f, "/canary");
    let text = std::fs::read_to_string(fixture("test-key.txt")).unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap();
    let msg = e.to_string();
    assert!(matches!(e, SopsError::NoMatchingIdentity { .. }), "{msg}");
    assert!(msg.contains(recipient), "{msg}");
    assert!(msg.contains("identities given by the caller"), "{msg}");
    assert_clean(&e);
    let e = err(&mut SopsStore::with_identities(vec![]), &f, "/canary");
    assert!(e.to_string().contains("no age identity was found"), "{e}");
}

fn tampered(edit: impl FnOnce(&str) -> String) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("t.enc.yaml");
    let text = std::fs::read_to_string(fixture("secrets.enc.yaml")).unwrap();
    let edited = edit(&text);
    assert_ne!(edited, text, "the edit changed nothing");
    std::fs::write(&f, edited).unwrap();
    (dir, f)
}

fn value_of<'a>(text: &'a str, key_line_prefix: &str) -> &'a str {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(key_line_prefix))
        .unwrap();
    line.split_once(": ")
        .map(|(_, v)| v)
        .or_else(|| line.trim_start().strip_prefix("- "))
        .unwrap()
}

fn assert_tamper_detected(f: &Path) {
    let mut s = store();
    for pointer in ["/canary", "/db/password", "/list/0", "/token_unencrypted"] {
        let e = err(&mut s, f, pointer);
        assert!(
            matches!(
                e,
                SopsError::MacMismatch { .. } | SopsError::Authentication { .. }
            ),
            "{pointer}: {e}"
        );
        assert_clean(&e);
    }
}

#[test]
fn tampering_is_an_error_never_a_wrong_value() {
    // Values swapped between two keys: the additional data no longer matches.
    let (_d, f) = tampered(|t| {
        let user = value_of(t, "user:").to_owned();
        let pass = value_of(t, "password:").to_owned();
        t.replace(&user, "@USER@")
            .replace(&pass, &user)
            .replace("@USER@", &pass)
    });
    let e = err(&mut store(), &f, "/db/user");
    assert!(matches!(e, SopsError::Authentication { .. }), "{e}");
    assert!(e.to_string().contains("db.user") || e.to_string().contains("db.password"));
    assert_tamper_detected(&f);

    // Two list items swapped: each still authenticates, only the MAC notices.
    let (_d, f) = tampered(|t| {
        let lines: Vec<&str> = t.lines().collect();
        let i = lines.iter().position(|l| l.trim() == "list:").unwrap();
        let mut lines: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        lines.swap(i + 1, i + 2);
        lines.join("\n") + "\n"
    });
    let e = err(&mut store(), &f, "/list/0");
    assert!(matches!(e, SopsError::MacMismatch { .. }), "{e}");
    assert!(e.to_string().contains("MAC mismatch"));
    assert_tamper_detected(&f);

    // One byte of ciphertext changed.
    let (_d, f) = tampered(|t| {
        let v = value_of(t, "canary:");
        let data = v.split("data:").nth(1).unwrap();
        let first = data.chars().next().unwrap();
        let other = if first == 'A' { 'B' } else { 'A' };
        t.replace(
            v,
            &v.replacen(&format!("data:{first}"), &format!("data:{other}"), 1),
        )
    });
    assert_tamper_detected(&f);

    // The MAC changed.
    let (_d, f) = tampered(|t| {
        let v = value_of(t, "mac:");
        t.replace(v, &v.replacen("data:", "data:AAAA", 1))
    });
    assert_tamper_detected(&f);

    // lastmodified changed.
    let (_d, f) = tampered(|t| {
        let v = value_of(t, "lastmodified:");
        t.replace(v, "\"2001-01-01T00:00:00Z\"")
    });
    assert_tamper_detected(&f);

    // A clear-text value (covered by the MAC) changed.
    let (_d, f) = tampered(|t| t.replace("token_unencrypted: visible", "token_unencrypted: evil"));
    assert_tamper_detected(&f);

    // A key removed.
    let (_d, f) = tampered(|t| {
        t.lines()
            .filter(|l| !l.starts_with("unicode:"))
            .collect::<Vec<_>>()
            .join("\n")
    });
    assert_tamper_detected(&f);

    // A clear-text value where an encrypted one belongs.
    let (_d, f) = tampered(|t| {
        let v = value_of(t, "canary:");
        t.replace(v, "plain-value")
    });
    let e = err(&mut store(), &f, "/db/user");
    assert!(matches!(e, SopsError::MalformedValue { .. }), "{e}");
    assert!(!e.to_string().contains("plain-value"), "{e}");
}

fn with_metadata(edit: impl FnOnce(&str) -> String) -> (tempfile::TempDir, PathBuf) {
    tampered(edit)
}

#[test]
fn unsupported_key_setups_are_clear() {
    // Only PGP and KMS keys.
    let (_d, f) = with_metadata(|t| {
        let start = t.find("    age:\n").unwrap();
        let end = t.find("    lastmodified:").unwrap();
        format!(
            "{}    pgp:\n        - fp: ABCDEF\n          enc: x\n    kms:\n        - arn: arn:aws:kms:x\n          enc: y\n    gcp_kms: []\n{}",
            &t[..start],
            &t[end..]
        )
    });
    let e = err(&mut store(), &f, "/canary");
    let msg = e.to_string();
    assert!(matches!(e, SopsError::UnsupportedKeyTypes { .. }), "{msg}");
    assert!(
        msg.contains("kms, pgp") && !msg.contains("gcp_kms"),
        "{msg}"
    );

    // Shamir threshold 2 over two key groups.
    let (_d, f) = with_metadata(|t| {
        let start = t.find("    age:\n").unwrap();
        let end = t.find("    lastmodified:").unwrap();
        let age = &t[start..end];
        let indented: String = age.lines().map(|l| format!("    {l}\n")).collect();
        let group = indented.replacen("        age:", "      - age:", 1);
        format!(
            "{}    shamir_threshold: 2\n    key_groups:\n{group}{group}{}",
            &t[..start],
            &t[end..]
        )
    });
    let e = err(&mut store(), &f, "/canary");
    assert!(
        matches!(
            e,
            SopsError::Shamir {
                threshold: 2,
                groups: 2,
                ..
            }
        ),
        "{e}"
    );

    // Comment-driven rules.
    let (_d, f) = with_metadata(|t| {
        t.replace(
            "    unencrypted_suffix: _unencrypted\n",
            "    unencrypted_comment_regex: sops:plain\n",
        )
    });
    let e = err(&mut store(), &f, "/canary");
    assert!(matches!(e, SopsError::Unsupported { .. }), "{e}");

    // Post-quantum recipient: named in the error.
    let (_d, f) = with_metadata(|t| {
        let line = t.lines().find(|l| l.contains("recipient: age1")).unwrap();
        t.replace(line, "        - recipient: age1pq1examplerecipient")
    });
    let e = err(
        &mut SopsStore::with_identities(vec![Identity::generate()]),
        &f,
        "/canary",
    );
    assert!(e.to_string().contains("age1pq1"), "{e}");

    // Not a SOPS file at all.
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.yaml");
    std::fs::write(&plain, format!("canary: {CANARY}\n")).unwrap();
    let e = err(&mut store(), &plain, "/canary");
    assert!(matches!(e, SopsError::NotSops { .. }), "{e}");
    assert_clean(&e);
    let env = dir.path().join("x.env");
    std::fs::write(&env, "A=1\n").unwrap();
    let e = err(&mut store(), &env, "/A");
    assert!(matches!(e, SopsError::Unsupported { .. }), "{e}");
    let multi = dir.path().join("multi.yaml");
    let text = std::fs::read_to_string(fixture("secrets.enc.yaml")).unwrap();
    std::fs::write(&multi, format!("{text}---\n{text}")).unwrap();
    let e = err(&mut store(), &multi, "/canary");
    assert!(matches!(e, SopsError::Parse { .. }), "{e}");
    assert_clean(&e);
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "a: [1, 2\n").unwrap();
    let e = err(&mut store(), &broken, "/a");
    assert!(matches!(e, SopsError::Parse { .. }), "{e}");
}

#[test]
fn the_store_never_prints_values() {
    let f = fixture("secrets.enc.yaml");
    let mut s = store();
    let v = s.value(&f, "/canary").unwrap();
    assert_eq!(format!("{v} {v:?}"), "(sensitive value) (sensitive value)");
    assert!(!format!("{s:?}").contains(CANARY));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512)
    ))]

    #[test]
    fn enc_parser_never_panics(s in "\\PC{0,200}") {
        let _ = fuzzing::parse_enc_value(&s);
        let _ = fuzzing::parse_enc_value(&format!("ENC[AES256_GCM,data:{s}"));
    }

    #[test]
    fn enc_parser_structured(data in "[A-Za-z0-9+/=,:\\]]{0,40}", iv in "[A-Za-z0-9+/=,]{0,48}",
                             tag in "[A-Za-z0-9+/=]{0,30}", ty in "[a-z,\\]]{0,8}") {
        let _ = fuzzing::parse_enc_value(&format!("ENC[AES256_GCM,data:{data},iv:{iv},tag:{tag},type:{ty}]"));
    }

    #[test]
    fn file_parser_never_panics(s in "\\PC{0,400}", json in any::<bool>()) {
        let name = if json { "f.json" } else { "f.yaml" };
        let _ = fuzzing::parse_and_decrypt(name, &s);
    }

    #[test]
    fn mutated_fixture_never_panics(pos in any::<prop::sample::Index>(), byte in any::<u8>(), json in any::<bool>()) {
        let name = if json { "secrets.enc.json" } else { "secrets.enc.yaml" };
        let mut bytes = std::fs::read(fixture(name)).unwrap();
        let i = pos.index(bytes.len());
        bytes[i] = byte;
        if let Ok(text) = String::from_utf8(bytes) {
            prop_assert!(!fuzzing::parse_and_decrypt(name, &text));
            let dir = tempfile::tempdir().unwrap();
            let f = dir.path().join(name);
            std::fs::write(&f, &text).unwrap();
            // A single changed byte is either harmless (whitespace, a comment, the recipient
            // label) or an error; it never yields a different value.
            match store().value(&f, "/canary") {
                Ok(v) => prop_assert_eq!(v.expose(), CANARY),
                Err(e) => {
                    let text = format!("{e} {e:?}");
                    prop_assert!(!text.contains(CANARY));
                }
            }
        }
    }
}
