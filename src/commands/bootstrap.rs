//! `aegisctl bootstrap FILE HOST...`: mint wrapped single-use SecretIDs (and, for a host with
//! `infisical_identity`, an Infisical client secret) and render each host's cloud-init, Incus
//! profile or env file; `--list` and `--revoke HOST` work from the ledger's
//! records.

use std::path::Path;

use super::session::Session;
use super::{CliError, EXIT_OK, load, usage};
use crate::bootstrap::{audit, render, secret_id};
use crate::cli::BootstrapArgs;
use crate::model::Desired;
use crate::printer::Printer;
use crate::sensitive::Sensitive;
use crate::state::ledger::Ledger;

pub(super) async fn run(printer: &Printer, args: &BootstrapArgs) -> Result<u8, CliError> {
    let audit_file = args.audit_file.clone().unwrap_or_else(|| {
        args.file
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join("bootstrap-audit.jsonl")
    });
    if args.list || args.revoke.is_some() {
        // Only the connection is needed: an emergency revoke must not depend on every other
        // reference of the file resolving.
        let conn = crate::topology::load_connection(&args.file)?;
        return list_or_revoke(printer, args, &conn, &audit_file).await;
    }
    mint(printer, args, &audit_file).await
}

async fn list_or_revoke(
    printer: &Printer,
    args: &BootstrapArgs,
    desired: &Desired,
    audit_file: &Path,
) -> Result<u8, CliError> {
    {
        let session = Session::connect(printer, desired)?;
        let client = session.client();
        let ledger = &desired.ledger_mount;
        if let Some(host) = &args.revoke {
            let (mut records, version) = audit::read(client, ledger, host).await?;
            let mut revoked = Vec::new();
            for r in records.iter_mut().filter(|r| !r.revoked) {
                // Once revoked, the wrapping token cannot tell whether it had been unwrapped:
                // keep that evidence first.
                r.status_at_revoke = Some(secret_id::status(client, r).await?);
                secret_id::revoke(client, r).await?;
                if let Some(cs) = r.infisical.as_mut().filter(|cs| !cs.revoked) {
                    let Some(inf) = &session.infisical else {
                        return Err(usage(
                            format!(
                                "{host}'s bootstrap holds an Infisical client secret, and the topology has no `infisical:` block to revoke it with"
                            ),
                            "restore the infisical block (url, auth, organization) and run --revoke again",
                        ));
                    };
                    crate::bootstrap::infisical::revoke(&inf.client, cs).await?;
                    cs.revoked = true;
                }
                r.revoked = true;
                revoked.push(crate::bootstrap::audit::MintRecord {
                    event: "revoke".into(),
                    created: crate::clock::now_rfc3339(),
                    ..r.clone()
                });
            }
            if !revoked.is_empty() {
                audit::write(client, ledger, host, &records, version).await?;
                audit::append_local(audit_file, &revoked)?;
            }
            printer.result(&format!(
                "Revoked {} outstanding bootstrap(s) of {host}: their SecretIDs are destroyed and their wrapping tokens revoked.\n",
                revoked.len()
            ));
            return Ok(EXIT_OK);
        }
        let hosts = if args.hosts.is_empty() {
            audit::hosts(client, ledger).await?
        } else {
            args.hosts.clone()
        };
        let mut rows = Vec::new();
        for host in hosts {
            let (records, _) = audit::read(client, ledger, &host).await?;
            for r in records {
                let st = secret_id::status(client, &r).await?;
                let infisical = match (&r.infisical, &session.infisical) {
                    (Some(cs), Some(inf)) => {
                        Some(crate::bootstrap::infisical::status(&inf.client, cs).await?)
                    }
                    (Some(_), None) => Some("unknown (no infisical: block)".to_owned()),
                    _ => None,
                };
                rows.push((r, st, infisical));
            }
        }
        if printer.json {
            printer.document(&serde_json::json!(
                rows.iter()
                    .map(|(r, s, i)| serde_json::json!({ "record": r, "status": s, "infisical_client_secret": i }))
                    .collect::<Vec<_>>()
            ));
        } else if rows.is_empty() {
            printer.result("No bootstraps recorded.\n");
        } else {
            let with_infisical = rows.iter().any(|(_, _, i)| i.is_some());
            let mut text = format!(
                "{:<16} {:<28} {:<14} {:<22} {:<12} {:<18} {}{}\n",
                "HOST",
                "ROLE",
                "NAMESPACE",
                "MINTED",
                "WRAPPING",
                "SECRET ID",
                "SECRET ID ACCESSOR",
                if with_infisical {
                    "  INFISICAL CLIENT SECRET"
                } else {
                    ""
                }
            );
            for (r, st, inf) in &rows {
                let inf = match (inf, &r.infisical) {
                    (Some(status), Some(cs)) => format!("  {} ({status})", cs.client_secret_id),
                    _ if with_infisical => "  -".to_owned(),
                    _ => String::new(),
                };
                text.push_str(&format!(
                    "{:<16} {:<28} {:<14} {:<22} {:<12} {:<18} {}{inf}\n",
                    r.host,
                    format!("{}/{}", r.approle_mount, r.role),
                    if r.namespace.is_empty() {
                        "root"
                    } else {
                        &r.namespace
                    },
                    r.created.split('.').next().unwrap_or_default(),
                    st.wrapping,
                    st.secret_id,
                    r.secret_id_accessor
                ));
            }
            printer.result(&text);
        }
        Ok(EXIT_OK)
    }
}

async fn mint(printer: &Printer, args: &BootstrapArgs, audit_file: &Path) -> Result<u8, CliError> {
    let desired = load(printer, &args.file)?;
    let hosts: Vec<&crate::model::Host> = if args.all {
        desired.hosts.iter().collect()
    } else {
        let mut out = Vec::new();
        for name in &args.hosts {
            let h = desired
                .hosts
                .iter()
                .find(|h| &h.name == name)
                .ok_or_else(|| {
                    let known: Vec<&str> = desired.hosts.iter().map(|h| h.name.as_str()).collect();
                    usage(
                        format!("the topology declares no host `{name}`"),
                        format!(
                            "hosts declared: {}",
                            if known.is_empty() {
                                "none".to_owned()
                            } else {
                                known.join(", ")
                            }
                        ),
                    )
                })?;
            out.push(h);
        }
        out
    };
    if hosts.is_empty() {
        return Err(usage(
            "no host to bootstrap",
            "name the hosts (aegisctl bootstrap FILE HOST...) or pass --all",
        ));
    }
    let wrap_ttl = match &args.wrap_ttl {
        Some(t) => match crate::duration::parse(t) {
            Ok(secs) if secs > 0 => Some(crate::duration::format(secs)),
            _ => {
                return Err(usage(
                    format!("--wrap-ttl {t} is not a duration"),
                    "write e.g. 5m or 300s",
                ));
            }
        },
        None => None,
    };
    let ca_cert = match &desired.conn.ca_cert {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|e| {
            usage(
                format!("cannot read {}: {e}", p.display()),
                "check openbao.ca_cert",
            )
        })?),
        None => None,
    };
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir).map_err(|e| {
            usage(
                format!("cannot create {}: {e}", dir.display()),
                "check --out-dir",
            )
        })?;
    }

    let session = if args.dry_run {
        None
    } else {
        Some(Session::connect(printer, &desired)?)
    };
    let address = match (&args.address, &session) {
        (Some(a), _) => a.clone(),
        (None, Some(s)) => s.client().address().to_owned(),
        (None, None) => desired
            .conn
            .address
            .clone()
            .or_else(|| std::env::var("BAO_ADDR").ok())
            .unwrap_or_else(|| "https://openbao.example:8200".into()),
    };
    let minted_by = match &session {
        Some(s) => {
            let exists = s.ledger_mount_exists(&desired).await?;
            Ledger::new(&desired.ledger_mount, &desired.name, exists)
                .ensure_mount(s.client())
                .await?;
            s.token_name().await
        }
        None => String::new(),
    };
    let mut rendered = Vec::new();
    for host in hosts {
        let ttl = wrap_ttl.clone().unwrap_or_else(|| host.wrap_ttl.clone());
        let format = args
            .format
            .unwrap_or(render::Format::default_for(host.kind));
        let infisical_url = desired.infisical.as_ref().map_or("", |i| i.url.as_str());
        let placeholder_secret =
            Sensitive::new("<Infisical client secret: minted by aegisctl bootstrap>".to_owned());
        let placeholder_login = |client_id: &'static str| {
            host.infisical.as_ref().map(|_| render::InfisicalLogin {
                url: infisical_url,
                client_id,
                client_secret: &placeholder_secret,
            })
        };
        // Render with placeholders first: a broken template must fail before anything is minted.
        render::render(
            format,
            &render::Inputs {
                host,
                address: &address,
                role_id: "<role-id>",
                wrapped_token: &Sensitive::new("<wrapped-secret-id>".to_owned()),
                ca_cert: ca_cert.as_deref(),
                infisical: placeholder_login("<client-id>"),
            },
        )?;
        let (role_id, wrapped, infisical) = match &session {
            None => (
                format!("<role-id of {}/{}>", host.approle_mount, host.role),
                Sensitive::new("<wrapped SecretID: minted by aegisctl bootstrap>".to_owned()),
                None,
            ),
            Some(s) => {
                let client = s.client();
                let mut m =
                    secret_id::mint(client, host, &ttl, args.allow_multi_use, &minted_by).await?;
                // The Infisical client secret next; whatever happens to it, the SecretID that
                // now exists is recorded below before any error is returned.
                let minted_inf = match (&host.infisical, &s.infisical) {
                    (Some(h), Some(inf)) => {
                        Some(crate::bootstrap::infisical::mint(&inf.client, &host.name, h).await)
                    }
                    (Some(_), None) => Some(Err(crate::bootstrap::BootstrapError::Refused(
                        "the host has `infisical_identity`, and the topology has no `infisical:` block".into(),
                    ))),
                    _ => None,
                };
                if let Some(Ok(i)) = &minted_inf {
                    m.record.infisical = Some(i.record.clone());
                }
                // Record before rendering: a SecretID that exists must be on record.
                let (mut records, version) =
                    audit::read(client, &desired.ledger_mount, &host.name).await?;
                records.push(m.record.clone());
                audit::write(client, &desired.ledger_mount, &host.name, &records, version).await?;
                audit::append_local(audit_file, std::slice::from_ref(&m.record))?;
                printer.info(&format!(
                    "{}: minted a wrapped SecretID (SecretID accessor {}, wrapping accessor {}, unwrap within {})",
                    host.name, m.record.secret_id_accessor, m.record.wrapping_accessor, crate::duration::format(m.record.wrap_ttl_seconds)
                ));
                let infisical = match minted_inf.transpose()? {
                    Some(i) => {
                        if !i.trusted_added.is_empty() {
                            printer.info(&format!(
                                "{}: added {} to the client-secret trusted IPs of Infisical identity {} (the topology declares them; apply would too)",
                                host.name,
                                i.trusted_added.join(", "),
                                i.record.identity
                            ));
                        }
                        printer.info(&format!(
                            "{}: minted an Infisical client secret for identity {} (id {}, {} use(s), expires in {})",
                            host.name,
                            i.record.identity,
                            i.record.client_secret_id,
                            i.record.num_uses_limit,
                            crate::duration::format(i.record.ttl_seconds)
                        ));
                        Some(i)
                    }
                    None => None,
                };
                (m.role_id, m.wrapped_token, infisical)
            }
        };
        let login = match &infisical {
            Some(i) => Some(render::InfisicalLogin {
                url: infisical_url,
                client_id: &i.client_id,
                client_secret: &i.client_secret,
            }),
            None => placeholder_login("<client-id of the identity>"),
        };
        let text = render::render(
            format,
            &render::Inputs {
                host,
                address: &address,
                role_id: &role_id,
                wrapped_token: &wrapped,
                ca_cert: ca_cert.as_deref(),
                infisical: login,
            },
        )?;
        rendered.push((host.name.clone(), format, Sensitive::new(text)));
    }
    match &args.out_dir {
        Some(dir) => {
            for (name, format, text) in &rendered {
                let path = dir.join(format!("{name}.{}", format.extension()));
                write_private(&path, text.expose())?;
                printer.info(&format!("wrote {}", path.display()));
            }
        }
        None => {
            let mut out = String::new();
            for (i, (name, format, text)) in rendered.iter().enumerate() {
                if rendered.len() > 1 {
                    let sep = match format {
                        render::Format::Env => format!("# ---- {name} ----\n"),
                        _ => format!("{}# ---- {name} ----\n", if i > 0 { "---\n" } else { "" }),
                    };
                    out.push_str(&sep);
                }
                out.push_str(text.expose());
            }
            printer.result(&out);
        }
    }
    Ok(EXIT_OK)
}

/// Writes a file only its owner can read (mode 0600 from creation on, never briefly wider).
fn write_private(path: &Path, text: &str) -> Result<(), CliError> {
    use std::io::Write;
    let err = |e: std::io::Error| {
        usage(
            format!("cannot write {}: {e}", path.display()),
            "check --out-dir",
        )
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        // An existing file keeps its mode on open: tighten it first.
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
        }
    }
    let mut f = options.open(path).map_err(err)?;
    f.write_all(text.as_bytes()).map_err(err)
}
