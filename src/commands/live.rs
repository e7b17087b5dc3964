//! The connection `watch` and `record` keep for their whole run: a [`Persistent`] connection
//! (reopened with backoff when lost) whose base is the snapshot read at each opening (flavor,
//! variables, our connection id), the ground their cheap readings build on.

use std::time::Duration;

use crate::connect::persistent::Persistent;
use crate::connect::{self, ConnectOptions, Connection, ReservedSlot};
use crate::exit::AppError;
use crate::snapshot::Snapshot;
use crate::snapshot::read::{self, ReadOptions};

/// The live connection and the snapshot read when it was (re)opened.
pub type Live = Persistent<Connection, Snapshot>;

/// Open the live connection; the first error is returned, later ones are retried.
pub fn open(opts: &ConnectOptions) -> Result<Live, AppError> {
    let opts = opts.clone();
    Persistent::open(Box::new(move |prev: Option<&Snapshot>| {
        // Whether a reconnect to a full server may keep trying for the reserved slot: known
        // from the grants read at the last opening.
        let slot = prev.map_or(ReservedSlot::Unknown, |b| {
            b.access.privileges.reserved_slot()
        });
        open_once(&opts, slot)
    }))
}

/// Connect and read the snapshot the readings build on: variables and status, the processlist
/// (no transactions, accounts or sample: the readings bring their own).
fn open_once(
    opts: &ConnectOptions,
    slot: ReservedSlot,
) -> Result<(Connection, Snapshot), AppError> {
    let mut c = connect::open_as(opts, slot)?;
    let snap = read::read(
        &mut c,
        ReadOptions {
            sample: Duration::ZERO,
            transactions: false,
            accounts: false,
            server_memory: None,
            local: opts.is_local(),
        },
    )?;
    Ok((c, snap))
}
