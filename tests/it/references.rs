//! Value references: `vault:MOUNT/PATH#key` reads a KV v2 value already in OpenBao at plan time
//! (namespace-aware, sensitive), `validate` leaves it unchecked, and a reference to nothing is a
//! clear error before any write.

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

    let validate = bao
        .aegisctl()
        .env("REF_ENV_VALUE", "from-env")
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        validate.status.success(),
        "{}",
        String::from_utf8_lossy(&validate.stderr)
    );
    assert!(
        String::from_utf8_lossy(&validate.stderr).contains("2 vault: reference(s) not checked")
    );

    let mark = bao.audit_mark();
    let apply = bao
        .aegisctl()
        .env("REF_ENV_VALUE", "from-env")
        .args(["apply", "--auto-approve", "-vvv"])
        .arg(&file)
        .output()
        .unwrap();
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

    let plan = bao
        .aegisctl()
        .env("REF_ENV_VALUE", "from-env")
        .args(["plan", "--detailed-exitcode"])
        .arg(&file)
        .output()
        .unwrap();
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
    let plan = bao
        .aegisctl()
        .env("REF_ENV_VALUE", "from-env")
        .args(["plan", "--detailed-exitcode"])
        .arg(&file)
        .output()
        .unwrap();
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
    let out = bao
        .aegisctl()
        .env("REF_ENV_VALUE", "x")
        .args(["apply", "--auto-approve"])
        .arg(&file)
        .output()
        .unwrap();
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
