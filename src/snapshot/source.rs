//! Where a snapshot comes from: a live server (or, when it refuses us with ERROR 1040, the
//! "refused" snapshot), a file saved by `conncheck snapshot`, or an incident folder written by
//! `conncheck record` ([`Incident`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::connect::{self, ConnectOptions, Connection};
use crate::exit::{AppError, ErrorKind};
use crate::snapshot::read::{self, ReadOptions};
use crate::snapshot::sample::{
    INCIDENT_KIND, INDEX_FILE, IncidentIndex, MAX_CLIENTS_PER_SAMPLE, SAMPLE_SCHEMA_VERSION,
    SAMPLES_FILE, SampleHistory, cap_clients,
};
use crate::snapshot::{SNAPSHOT_SCHEMA_VERSION, Snapshot};
use crate::units::MAX_TIME_MS;

/// A live snapshot, or the "refused" snapshot when the server is full even for us.
pub fn take_or_refused(
    opts: &ConnectOptions,
    sample: Duration,
    server_memory: Option<u64>,
) -> Result<Snapshot, AppError> {
    read_or_refused(connect::open(opts), opts, sample, server_memory)
}

/// [`take_or_refused`] once the connection to `opts` was attempted (the fleet connects apart
/// from reading): a snapshot read over it, or the "refused" snapshot when the login got ERROR
/// 1040.
pub fn read_or_refused(
    opened: Result<Connection, AppError>,
    opts: &ConnectOptions,
    sample: Duration,
    server_memory: Option<u64>,
) -> Result<Snapshot, AppError> {
    let mut snap = match opened {
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
    let shown = crate::text::path(file);
    let text = crate::input::read_capped(file, crate::input::SNAPSHOT_MAX).map_err(|e| {
        AppError::new(
            ErrorKind::Other,
            format!("cannot read snapshot {shown}: {e}"),
        )
    })?;
    let snap: Snapshot = serde_json::from_slice(&text).map_err(|e| {
        AppError::new(
            ErrorKind::Other,
            format!("{shown} is not a conncheck snapshot: {e}"),
        )
        .hint("create one with `conncheck snapshot -o FILE.json`")
    })?;
    if snap.schema_version > SNAPSHOT_SCHEMA_VERSION {
        return Err(AppError::new(
            ErrorKind::Other,
            format!(
                "{shown} has snapshot schema {}, this conncheck reads up to {SNAPSHOT_SCHEMA_VERSION}",
                snap.schema_version
            ),
        )
        .hint("upgrade conncheck"));
    }
    if let Some(bad) = snapshot_time_error(&snap) {
        return Err(AppError::new(ErrorKind::Other, format!("{shown}: {bad}"))
            .hint("create one with `conncheck snapshot -o FILE.json`"));
    }
    Ok(snap)
}

/// An incident folder written by `conncheck record` (format: [`crate::snapshot::sample`]): its
/// index, the snapshots at the trigger and `--after` later (either may be missing), and the
/// sample history.
#[derive(Debug, Clone)]
pub struct Incident {
    pub dir: PathBuf,
    pub index: IncidentIndex,
    pub trigger: Option<Snapshot>,
    pub after: Option<Snapshot>,
    pub history: SampleHistory,
}

impl Incident {
    /// The snapshot to judge: of the trigger and after snapshots, the one with the highest
    /// Threads_connected (the trigger's on a tie).
    pub fn peak(&self) -> Option<&Snapshot> {
        match (&self.trigger, &self.after) {
            (Some(t), Some(a)) if a.threads_connected() > t.threads_connected() => Some(a),
            (Some(t), _) => Some(t),
            (None, a) => a.as_ref(),
        }
    }

    /// Which file [`Incident::peak`] is (`trigger.json`, `after.json`).
    pub fn peak_file(&self) -> Option<&str> {
        let peak = self.peak()?;
        if self.trigger.as_ref().is_some_and(|t| std::ptr::eq(t, peak)) {
            self.index.trigger_snapshot.as_deref()
        } else {
            self.index.after_snapshot.as_deref()
        }
    }
}

/// What `diagnose --from PATH` reads: a snapshot file or an incident folder.
#[derive(Debug)]
pub enum Saved {
    Snapshot(Box<Snapshot>),
    Incident(Box<Incident>),
}

/// A snapshot file, or an incident folder (a directory with an `index.json`).
pub fn load_saved(path: &Path) -> Result<Saved, AppError> {
    if path.is_dir() {
        Ok(Saved::Incident(Box::new(load_incident(path)?)))
    } else {
        Ok(Saved::Snapshot(Box::new(load(path)?)))
    }
}

/// Why a time in a snapshot cannot be one conncheck wrote: `taken_at` in year 10000 or later
/// (RFC 3339 has four year digits, and a sample's milliseconds would overflow).
fn snapshot_time_error(snap: &Snapshot) -> Option<String> {
    (snap.taken_at >= MAX_TIME_MS / 1000).then(|| {
        format!(
            "taken_at {} is after year 9999: not a time conncheck wrote",
            snap.taken_at
        )
    })
}

/// Why a Unix time in milliseconds read from `file` cannot be one conncheck wrote.
fn time_error(file: &str, field: &str, at_ms: u64) -> Option<String> {
    (at_ms >= MAX_TIME_MS).then(|| {
        format!(
            "{} has {field} {at_ms}, after year 9999: not a time conncheck wrote",
            crate::text::escape(file)
        )
    })
}

fn incident_error(dir: &Path, what: impl std::fmt::Display) -> AppError {
    AppError::new(
        ErrorKind::Other,
        format!(
            "{} is not a readable incident folder: {what}",
            crate::text::path(dir)
        ),
    )
    .hint("give a snapshot file or a folder written by `conncheck record --dir`")
}

/// A file of an incident folder: JSON of type `T`, read with the snapshot cap.
fn read_part<T: serde::de::DeserializeOwned>(
    dir: &Path,
    name: &str,
    what: &str,
) -> Result<T, AppError> {
    // The index names the files: a bare file name inside the folder, never a path elsewhere.
    if Path::new(name).file_name() != Some(std::ffi::OsStr::new(name)) || name == ".." {
        return Err(incident_error(
            dir,
            format!(
                "index.json names {what} {:?}, not a file in the folder",
                crate::text::escape(name)
            ),
        ));
    }
    let file = dir.join(name);
    let shown = crate::text::escape(name);
    // Regular files only: a FIFO planted in the folder must not block the replay.
    let text = crate::input::read_regular(&file, crate::input::SNAPSHOT_MAX)
        .map_err(|e| incident_error(dir, format!("cannot read {shown}: {e}")))?;
    serde_json::from_slice(&text)
        .map_err(|e| incident_error(dir, format!("{shown} is not a conncheck {what}: {e}")))
}

/// Load an incident folder. A missing or foreign index, a broken snapshot or sample history is
/// one clear error, never a panic; a snapshot the index says is absent is simply absent.
pub fn load_incident(dir: &Path) -> Result<Incident, AppError> {
    if dir.join(INDEX_FILE).symlink_metadata().is_err() {
        return Err(incident_error(dir, format!("it has no {INDEX_FILE}")));
    }
    let index: IncidentIndex = read_part(dir, INDEX_FILE, "incident index")?;
    if index.kind != INCIDENT_KIND {
        return Err(incident_error(
            dir,
            format!(
                "{INDEX_FILE} is of kind {:?}, not {INCIDENT_KIND:?}",
                crate::text::escape(&index.kind)
            ),
        ));
    }
    if index.schema_version > SAMPLE_SCHEMA_VERSION {
        return Err(incident_error(
            dir,
            format!(
                "it has incident schema {}, this conncheck reads up to {SAMPLE_SCHEMA_VERSION}",
                index.schema_version
            ),
        )
        .hint("upgrade conncheck"));
    }
    if let Some(bad) = time_error(INDEX_FILE, "triggered_at_ms", index.triggered_at_ms) {
        return Err(incident_error(dir, bad));
    }
    let snapshot = |name: &Option<String>| -> Result<Option<Snapshot>, AppError> {
        let Some(name) = name else { return Ok(None) };
        let snap: Snapshot = read_part(dir, name, "snapshot")?;
        let shown = crate::text::escape(name);
        if snap.schema_version > SNAPSHOT_SCHEMA_VERSION {
            return Err(incident_error(
                dir,
                format!(
                    "{shown} has snapshot schema {}, this conncheck reads up to {SNAPSHOT_SCHEMA_VERSION}",
                    snap.schema_version
                ),
            )
            .hint("upgrade conncheck"));
        }
        if let Some(bad) = snapshot_time_error(&snap) {
            return Err(incident_error(dir, format!("{shown}: {bad}")));
        }
        Ok(Some(snap))
    };
    let trigger = snapshot(&index.trigger_snapshot)?;
    let after = snapshot(&index.after_snapshot)?;
    let samples = if index.samples.is_empty() {
        SAMPLES_FILE.to_string()
    } else {
        index.samples.clone()
    };
    let mut history: SampleHistory = read_part(dir, &samples, "sample history")?;
    if history.schema_version > SAMPLE_SCHEMA_VERSION {
        return Err(incident_error(
            dir,
            format!(
                "{} has sample schema {}, this conncheck reads up to {SAMPLE_SCHEMA_VERSION}",
                crate::text::escape(&samples),
                history.schema_version
            ),
        )
        .hint("upgrade conncheck"));
    }
    if let Some(bad) = history
        .samples
        .iter()
        .find_map(|s| time_error(&samples, "a sample at_ms", s.at_ms))
    {
        return Err(incident_error(dir, bad));
    }
    // At most MAX_CLIENTS_PER_SAMPLE clients per sample, as the recorder writes them (a foreign
    // or hostile file may name thousands): the rest are summed in `other_connections`.
    for s in &mut history.samples {
        if s.clients.len() > MAX_CLIENTS_PER_SAMPLE {
            let rest = cap_clients(&mut s.clients);
            s.other_connections = s.other_connections.saturating_add(rest);
            s.clients.shrink_to_fit();
        }
    }
    // Oldest first, whatever order the file has (a clock that stepped back).
    history.samples.sort_by_key(|s| s.at_ms);
    Ok(Incident {
        dir: dir.to_path_buf(),
        index,
        trigger,
        after,
        history,
    })
}
