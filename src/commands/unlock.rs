//! `aegisctl unlock FILE`: clears an apply lock left behind by a killed aegisctl. It needs only
//! the connection settings of the file, so an emergency never depends on every `env:` or `sops:`
//! reference of the topology resolving.

use std::path::Path;

use super::session::Session;
use super::{CliError, EXIT_OK};
use crate::printer::Printer;
use crate::state::lock::Lock;

pub(super) async fn run(printer: &Printer, file: &Path) -> Result<u8, CliError> {
    let conn = crate::topology::load_connection(file)?;
    let session = Session::connect(printer, &conn)?;
    match Lock::force_release(session.client(), &conn.ledger_mount).await? {
        Some((holder, since)) => printer.result(&format!(
            "Released the lock held by {holder} since {since}.\n"
        )),
        None => printer.result("The lock was not held.\n"),
    }
    Ok(EXIT_OK)
}
