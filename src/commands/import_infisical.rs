//! `aegisctl import infisical --project SLUG --out DIR`: writes `inventories/SLUG.yaml` for a
//! project that already exists (see `import::infisical`). The login comes from the environment
//! (`INFISICAL_URL`, `INFISICAL_CLIENT_ID`, `INFISICAL_CLIENT_SECRET`, `INFISICAL_ORG_ID`), the
//! same variables the written topology names.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::{CliError, EXIT_OK, usage};
use crate::backends::Registry;
use crate::backends::infisical::InfisicalClient;
use crate::backends::infisical::kinds::{Infisical, register};
use crate::printer::Printer;
use crate::sensitive::Sensitive;

pub(super) async fn run(printer: &Printer, project: &str, out: &Path) -> Result<u8, CliError> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let need = |name: &str| {
        env(name).ok_or_else(|| {
            usage(
                format!("{name} is not set"),
                "set INFISICAL_URL, INFISICAL_CLIENT_ID, INFISICAL_CLIENT_SECRET and INFISICAL_ORG_ID (the tool's Universal Auth identity)",
            )
        })
    };
    let url = need("INFISICAL_URL")?;
    let client_id = need("INFISICAL_CLIENT_ID")?;
    let secret = Sensitive::new(need("INFISICAL_CLIENT_SECRET")?);
    let org = need("INFISICAL_ORG_ID")?;
    if let Some(warning) = crate::backends::http::plain_http_warning(&url) {
        printer.warn(&warning);
    }
    let client = InfisicalClient::new(
        url.trim_end_matches('/').trim_end_matches("/api"),
        &client_id,
        secret,
        &org,
        env("INFISICAL_CACERT").as_deref().map(Path::new),
        Duration::from_secs(30),
        crate::backends::http::DEFAULT_BUDGET,
    )
    .map_err(|e| CliError::Infisical(Box::new(e)))?;
    let mut registry = Registry::default();
    register(&mut registry, Arc::new(Infisical::new(client)));
    let report = crate::import::infisical::import_infisical(&registry, project, out)
        .await
        .map_err(|e| match e {
            crate::import::infisical::InfisicalImportError::Backend(b) => CliError::from(b),
            other => usage(
                other.to_string(),
                "check the project's slug, the output directory, and that the tool's identity is a member of the project",
            ),
        })?;
    let mut text = format!(
        "Imported {} objects of project {project} into {}.\n",
        report.objects,
        report.topology.display()
    );
    if !report.secret_variables.is_empty() {
        text.push_str(
            "\nSecret values were not imported. Each secret reads its value from a variable: set them\n(or replace the env: references by sops: ones) before the first plan:\n",
        );
        for (address, var) in &report.secret_variables {
            text.push_str(&format!("  {var:<40} {address}\n"));
        }
    }
    printer.result(&text);
    Ok(EXIT_OK)
}
