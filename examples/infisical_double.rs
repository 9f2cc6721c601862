//! The Infisical test double (`tests/doubles/infisical`, built from
//! `contracts/infisical-api.md`) as a process of its own, for the demo: no registry ships
//! Infisical's server, so the demo's Infisical is this **stand-in**, and the README says so.
//!
//! `infisical_double --env-file PATH [--ip-allowlisting]` starts it on a free loopback port,
//! writes `INFISICAL_URL`, `INFISICAL_CLIENT_ID`, `INFISICAL_CLIENT_SECRET` (the tool's own
//! Universal Auth login, an org admin) and `INFISICAL_ORG_ID` to PATH (mode 0600, shell
//! syntax), and serves until it is sent SIGTERM or SIGINT. `--ip-allowlisting` makes it behave
//! as a licensed server (trusted IPs other than 0.0.0.0/0 and ::/0 accepted).

#[path = "../tests/doubles/infisical/mod.rs"]
mod infisical_double;

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let env_file = match args.iter().position(|a| a == "--env-file") {
        Some(i) if i + 1 < args.len() => args[i + 1].clone(),
        _ => {
            eprintln!("usage: infisical_double --env-file PATH [--ip-allowlisting]");
            return ExitCode::from(1);
        }
    };
    let config = infisical_double::Config {
        ip_allowlisting: args.iter().any(|a| a == "--ip-allowlisting"),
        ..infisical_double::Config::default()
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("infisical_double: cannot start a runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async {
        let double = infisical_double::Infisical::start(config).await;
        let (client_id, secret) = double.admin();
        let text = format!(
            "INFISICAL_URL={}\nINFISICAL_CLIENT_ID={client_id}\nINFISICAL_CLIENT_SECRET={secret}\nINFISICAL_ORG_ID={}\n",
            double.url(),
            double.org_id()
        );
        if let Err(e) = write_private(&env_file, &text) {
            eprintln!("infisical_double: cannot write {env_file}: {e}");
            return ExitCode::from(1);
        }
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("infisical_double: cannot wait for SIGTERM: {e}");
                return ExitCode::from(1);
            }
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        ExitCode::SUCCESS
    })
}

/// The login secret is in the file: only its owner may read it.
fn write_private(path: &str, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}
