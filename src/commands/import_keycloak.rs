//! `aegisctl import keycloak --realm R --out DIR`: a realm file and a topology for a realm that
//! already exists. Only Keycloak is contacted (the login comes from the environment, as the
//! imported topology will read it).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::{CliError, EXIT_OK, usage};
use crate::backends::Registry;
use crate::backends::keycloak::kinds::{Keycloak, register};
use crate::backends::keycloak::{AdminAuth, KeycloakClient};
use crate::printer::Printer;
use crate::sensitive::Sensitive;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The admin login from the environment.
fn login() -> Result<AdminAuth, CliError> {
    let realm = env("KEYCLOAK_ADMIN_REALM").unwrap_or_else(|| "master".into());
    if let (Some(client_id), Some(secret)) =
        (env("KEYCLOAK_CLIENT_ID"), env("KEYCLOAK_CLIENT_SECRET"))
    {
        return Ok(AdminAuth::ClientCredentials {
            realm,
            client_id,
            client_secret: Sensitive::new(secret),
        });
    }
    match (env("KEYCLOAK_ADMIN"), env("KEYCLOAK_ADMIN_PASSWORD")) {
        (Some(username), Some(password)) => Ok(AdminAuth::Password {
            realm,
            client_id: "admin-cli".into(),
            username,
            password: Sensitive::new(password),
        }),
        _ => Err(usage(
            "no Keycloak admin login in the environment",
            "set KEYCLOAK_ADMIN and KEYCLOAK_ADMIN_PASSWORD, or KEYCLOAK_CLIENT_ID and KEYCLOAK_CLIENT_SECRET",
        )),
    }
}

pub(super) async fn run(printer: &Printer, realm: &str, out: &Path) -> Result<u8, CliError> {
    let url = env("KEYCLOAK_URL").ok_or_else(|| {
        usage(
            "no Keycloak address",
            "set KEYCLOAK_URL, e.g. https://keycloak.example.internal",
        )
    })?;
    if let Some(warning) = crate::backends::http::plain_http_warning(&url) {
        printer.warn(&warning);
    }
    let client = KeycloakClient::new(
        &url,
        login()?,
        env("KEYCLOAK_CACERT").as_deref().map(Path::new),
        Duration::from_secs(30),
        crate::backends::http::DEFAULT_BUDGET,
    )
    .map_err(|e| CliError::Keycloak(Box::new(e)))?;
    let mut registry = Registry::default();
    register(&mut registry, Arc::new(Keycloak::new(client)));
    let report = crate::import::keycloak::import_keycloak(&registry, realm, out)
        .await
        .map_err(|e| match e {
            crate::import::keycloak::KeycloakImportError::Backend(b) => CliError::from(b),
            other => usage(
                other.to_string(),
                "check the realm's name, the output directory and the admin's permissions",
            ),
        })?;
    let mut text = format!(
        "Imported {} objects of realm {realm} into {} and {}.\n",
        report.objects,
        report.realm_file.display(),
        report.topology.display()
    );
    if !report.secrets_left_out.is_empty() {
        text.push_str(
            "\nSecrets were not imported; Keycloak keeps them as they are. To manage one, declare it\nas a reference (env:, file:, sops:, vault:) in the realm file:\n",
        );
        for s in &report.secrets_left_out {
            text.push_str(&format!("  {s}\n"));
        }
    }
    printer.result(&text);
    Ok(EXIT_OK)
}
