//! A runtime profile reading Infisical (`infisical:PROJECT/ENV/PATH/NAME`), against the
//! Infisical double beside the real OpenBao: the value reaches the child, the Infisical login's
//! own variables do not, and the audit record names the reference, never the value.

use crate::infisical_common::{HEAD, start};
use crate::infisical_double::Config;

#[test]
fn an_infisical_secret_reaches_the_child_and_the_infisical_login_does_not() {
    let env = start(Config::default());
    let value = "canary-infisical-3b9e41";
    let file = env.topology(
        "rt.yaml",
        &format!(
            "{HEAD}  projects:
    runtime-apps:
      environments: {{ prod: {{ name: Production }} }}
      folders: {{ prod: [/tools] }}
      secrets:
        prod:
          /tools:
            APP_KEY: {value}
runtime:
  login:
    token: env:RT_TOKEN
  profiles:
    app:
      env:
        APP_KEY: infisical:runtime-apps/prod/tools/APP_KEY
"
        ),
    );
    let f = file.display().to_string();
    let apply = env.ctl(&["apply", "--auto-approve", &f]);
    assert_eq!(apply.code, Some(0), "{apply}");
    let dir = file.parent().unwrap().to_path_buf();
    let script = format!(
        "printf %s \"$APP_KEY\" > {0}/got; env | cut -d= -f1 > {0}/names",
        dir.display()
    );
    let run = env.ctl_with(
        &[("RT_TOKEN", env.bao.token.as_str())],
        &[
            "run",
            &f,
            "--profile",
            "app",
            "--reason",
            "infisical",
            "--",
            "sh",
            "-c",
            &script,
        ],
    );
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(std::fs::read_to_string(dir.join("got")).unwrap(), value);
    let names = std::fs::read_to_string(dir.join("names")).unwrap();
    for withheld in [
        "INFISICAL_CLIENT_ID",
        "INFISICAL_CLIENT_SECRET",
        "RT_TOKEN",
        "BAO_TOKEN",
    ] {
        assert!(
            !names.lines().any(|n| n == withheld),
            "{withheld} reached the child"
        );
    }
    assert!(!run.all().contains(value), "{run}");
    let audit = std::fs::read_to_string(dir.join("runtime-audit.jsonl")).unwrap();
    assert!(
        audit.contains("infisical:runtime-apps/prod/tools/APP_KEY"),
        "{audit}"
    );
    assert!(!audit.contains(value));

    // A secret that is not there fails before the start, naming the variable and reference.
    let missing = dir.join("missing.yaml").display().to_string();
    std::fs::write(
        &missing,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace("tools/APP_KEY\n", "tools/NOPE\n"),
    )
    .unwrap();
    let run = env.ctl_with(
        &[("RT_TOKEN", env.bao.token.as_str())],
        &["run", &missing, "--profile", "app", "--", "true"],
    );
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr
            .contains("APP_KEY = infisical:runtime-apps/prod/tools/NOPE"),
        "{run}"
    );
}
