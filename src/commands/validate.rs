//! `aegisctl validate FILE`: parse and resolve the topology offline; sends no request.

use std::path::Path;

use super::{CliError, EXIT_OK, load};
use crate::model::AttrValue;
use crate::plan::render::json;
use crate::printer::Printer;

pub(super) fn run(printer: &Printer, file: &Path) -> Result<u8, CliError> {
    let desired = load(printer, file)?;
    if printer.json {
        printer.document(&serde_json::json!({
            "format_version": json::FORMAT_VERSION,
            "valid": true,
            "name": desired.name,
            "objects": desired.resources.len(),
            "diagnostics": desired.warnings,
        }));
    } else {
        let unchecked = desired
            .resources
            .iter()
            .flat_map(|r| r.attrs.values())
            .filter(|v| matches!(v, AttrValue::Vault(_)))
            .count();
        if unchecked > 0 {
            printer.info(&format!(
                "{unchecked} vault: or infisical: reference(s) not checked: validate sends no request; plan reads them."
            ));
        }
        printer.info(
            "Field names are checked against OpenBao's published parameters by plan and apply.",
        );
        printer.result(&format!(
            "The topology `{}` is valid: {} objects declared in {}.\n",
            desired.name,
            desired.resources.len(),
            file.display()
        ));
    }
    Ok(EXIT_OK)
}
