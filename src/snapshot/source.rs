//! Where a snapshot comes from: a live server (or, when it refuses us with ERROR 1040, the
//! "refused" snapshot), or a file saved by `conncheck snapshot`.

use std::path::Path;
use std::time::Duration;

use crate::connect::{self, ConnectOptions};
use crate::exit::{AppError, ErrorKind};
use crate::snapshot::read::{self, ReadOptions};
use crate::snapshot::{SNAPSHOT_SCHEMA_VERSION, Snapshot};

/// A live snapshot, or the "refused" snapshot when the server is full even for us.
pub fn take_or_refused(
    opts: &ConnectOptions,
    sample: Duration,
    server_memory: Option<u64>,
) -> Result<Snapshot, AppError> {
    let mut snap = match connect::open(opts) {
        Ok(mut c) => read::read_to_judge(
            &mut c,
            ReadOptions {
                sample,
                transactions: true,
                accounts: true,
                server_memory,
                local: opts.is_local(),
            },
        )?,
        Err(e) if e.kind == ErrorKind::ServerFull => {
            read::refused(&opts.target(), &e, opts.admin_port)
        }
        Err(e) => return Err(e),
    };
    snap.access.login_user = opts.user.clone();
    Ok(snap)
}

/// Load a saved snapshot. Malformed or foreign files are one clear error, never a panic.
pub fn load(file: &Path) -> Result<Snapshot, AppError> {
    let text = crate::input::read_capped(file, crate::input::SNAPSHOT_MAX).map_err(|e| {
        AppError::new(
            ErrorKind::Other,
            format!("cannot read snapshot {}: {e}", file.display()),
        )
    })?;
    let snap: Snapshot = serde_json::from_slice(&text).map_err(|e| {
        AppError::new(
            ErrorKind::Other,
            format!("{} is not a conncheck snapshot: {e}", file.display()),
        )
        .hint("create one with `conncheck snapshot -o FILE.json`")
    })?;
    if snap.schema_version > SNAPSHOT_SCHEMA_VERSION {
        return Err(AppError::new(
            ErrorKind::Other,
            format!(
                "{} has snapshot schema {}, this conncheck reads up to {SNAPSHOT_SCHEMA_VERSION}",
                file.display(),
                snap.schema_version
            ),
        )
        .hint("upgrade conncheck"));
    }
    Ok(snap)
}
