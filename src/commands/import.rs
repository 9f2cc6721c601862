//! `aegisctl import openbao --out DIR [--namespace NS]`: a topology for what already exists.

use std::path::Path;

use super::session::Session;
use super::{CliError, EXIT_OK, usage};
use crate::model::OpenBaoConn;
use crate::printer::Printer;

pub(super) async fn run(
    printer: &Printer,
    out: &Path,
    namespace: &str,
    ledger: &str,
) -> Result<u8, CliError> {
    let conn = OpenBaoConn {
        address: None,
        token: None,
        ca_cert: None,
    };
    let session = Session::connect_to(printer, &conn)?;
    let report =
        crate::import::import_openbao(&session.bao, &session.registry, namespace, ledger, out)
            .await
            .map_err(|e| {
                usage(
                    e.to_string(),
                    "check the output directory and the token's permissions",
                )
            })?;
    let ns = namespace.trim_matches('/');
    let what = if ns.is_empty() {
        "the root namespace and below".to_owned()
    } else {
        format!("namespace {ns} and below")
    };
    let mut text = format!(
        "Imported {} objects of {what} into {} ({} policy files).\n",
        report.objects,
        report.topology.display(),
        report.policy_files.len()
    );
    if !ns.is_empty() {
        // As the file's header says: its paths are relative to the namespace (a plan without
        // BAO_NAMESPACE would create everything in the root namespace).
        text.push_str(&format!(
            "The file is for namespace {ns} only: its paths are relative to it, so plan and apply it with BAO_NAMESPACE={ns}.\n"
        ));
    }
    if !report.placeholders.is_empty() {
        text.push_str(
            "\nSecret values were not imported. Set these environment variables before planning\n(names are stable across imports: each is derived from the value's path):\n",
        );
        for (var, what) in &report.placeholders {
            text.push_str(&format!("  {var}  ({what})\n"));
        }
    }
    printer.result(&text);
    Ok(EXIT_OK)
}
