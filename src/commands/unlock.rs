//! `aegisctl unlock FILE [--force]`: releases an apply lock whose holder is dead (its lease ran
//! out, or its process on this host is gone); one that looks alive only with `--force`, since
//! releasing the lock of a running apply lets a second one run beside it. It needs only the
//! connection settings of the file, so an emergency never depends on every `env:` or `sops:`
//! reference of the topology resolving.

use std::path::Path;

use super::session::Session;
use super::{CliError, EXIT_OK};
use crate::printer::Printer;
use crate::state::lock::{Lock, Unlocked};

pub(super) async fn run(printer: &Printer, file: &Path, force: bool) -> Result<u8, CliError> {
    let conn = crate::topology::load_connection(file)?;
    let session = Session::connect(printer, &conn)?;
    match Lock::unlock(session.client(), &conn.ledger_mount, force).await? {
        Unlocked::Free => printer.result("The lock was not held.\n"),
        Unlocked::Released { who, since, why } => printer.result(&format!(
            "Released the lock held by {who} since {since}: {why}.\n"
        )),
        Unlocked::Forced { who, since, lease } => {
            printer.warn(&format!(
                "the lock's holder looked alive ({lease}): if that apply is still running, it notices at its next heartbeat and starts no new change"
            ));
            printer.result(&format!("Released the lock held by {who} since {since}.\n"));
        }
    }
    Ok(EXIT_OK)
}
