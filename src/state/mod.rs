//! What aegisctl keeps between runs, all of it in OpenBao's ledger mount: the ledger of managed
//! objects, the apply lock (with its lease and heartbeat), and (in `bootstrap::audit`) the
//! bootstrap records. Each is a check-and-set document ([`doc`]).

pub mod doc;
mod heartbeat;
mod host;
pub mod ledger;
pub mod lock;
pub mod shards;
