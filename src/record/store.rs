//! Incident folders on disk (the layout is documented in `snapshot::sample`): written
//! atomically (a hidden temp folder with a random name in `--dir`, every file fsynced, then one
//! rename), files 0600 and folders 0700, and the disk bound (`--max-size`) kept by removing the
//! oldest incidents. Only folders whose `index.json` says `conncheck-incident` are ever removed,
//! the newest never (a folder dated in the future does not count as the newest), and symlinks
//! are never followed.

use std::fs::{self, DirBuilder, File};
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::snapshot::sample::{INCIDENT_KIND, INDEX_FILE, IncidentIndex};
use crate::units::MAX_TIME_MS;

/// A folder dated more than this far ahead of the clock was written by a clock that was ahead:
/// its name says nothing about its age, so it never counts as the newest incident.
pub const FUTURE_SLACK_MS: u64 = 24 * 3600 * 1000;

/// Prefix of the temp folders an incident is written into before its rename.
pub const TEMP_PREFIX: &str = ".conncheck-incident-";

/// `2026-12-04T17-40-03Z`: the UTC second of `at_ms`, with `-` for `:` (valid on every file
/// system and sorted by time). An error for a time in year 10000 or later (a clock far ahead).
pub fn folder_name(at_ms: u64) -> io::Result<String> {
    if at_ms >= MAX_TIME_MS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the clock says {at_ms} ms after 1970, after year 9999: no folder name for it"),
        ));
    }
    Ok(crate::units::utc_ms(at_ms).replace(':', "-"))
}

/// The time (Unix milliseconds, to the second) a folder name made by [`folder_name`] stands
/// for, with or without a `-2`, `-3` … suffix; none for any other name.
pub fn folder_time_ms(name: &str) -> Option<u64> {
    // YYYY-MM-DDTHH-MM-SSZ: 20 ASCII characters.
    let stamp = name.get(..20)?;
    let rest = &name[20..];
    if !(rest.is_empty()
        || rest
            .strip_prefix('-')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
    {
        return None;
    }
    let b = stamp.as_bytes();
    if b[10] != b'T' || b[13] != b'-' || b[16] != b'-' {
        return None;
    }
    let rfc = format!("{}:{}:{}", &stamp[..13], &stamp[14..16], &stamp[17..]);
    let t = humantime::parse_rfc3339(&rfc).ok()?;
    t.duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs().saturating_mul(1000))
}

/// Create `dir` (0700) if missing.
pub fn ensure_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Write one incident folder named after `at_ms` (with `-2`, `-3` … when that name exists) from
/// `files` (name, contents), atomically: every file is written with
/// [`crate::output::write_atomic`] into a temp folder with a random name (0700, created
/// exclusively), which is then renamed. Returns its path.
pub fn write_incident(dir: &Path, at_ms: u64, files: &[(&str, Vec<u8>)]) -> io::Result<PathBuf> {
    let base = folder_name(at_ms)?;
    ensure_dir(dir)?;
    let temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .permissions(fs::Permissions::from_mode(0o700))
        .tempdir_in(dir)?;
    for (name, bytes) in files {
        crate::output::write_atomic(&temp.path().join(name), bytes)?;
    }
    // From here on the folder is ours to rename, or to remove on failure.
    let temp = temp.keep();
    let mut n = 1;
    let target = loop {
        let name = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        let p = dir.join(name);
        if p.symlink_metadata().is_err() {
            break p;
        }
        n += 1;
    };
    if let Err(e) = fs::rename(&temp, &target) {
        let _ = fs::remove_dir_all(&temp);
        return Err(e);
    }
    File::open(dir)?.sync_all()?;
    Ok(target)
}

/// One incident folder found in `--dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub path: PathBuf,
    pub bytes: u64,
    /// The time its name stands for ([`folder_time_ms`]); none for a name of another form.
    pub at_ms: Option<u64>,
}

/// The incident folders in `dir`, oldest first (by name: UTC time). A folder counts only when it
/// is a real directory (not a symlink) holding a regular `index.json` of kind
/// `conncheck-incident`; hidden folders (temp folders) never count.
pub fn incidents(dir: &Path) -> io::Result<Vec<Incident>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') || !entry.file_type()?.is_dir() {
            continue;
        }
        let path = entry.path();
        if !is_incident(&path) {
            continue;
        }
        out.push(Incident {
            bytes: folder_bytes(&path),
            at_ms: folder_time_ms(&name.to_string_lossy()),
            path,
        });
    }
    out.sort_by(|a, b| a.path.file_name().cmp(&b.path.file_name()));
    Ok(out)
}

fn is_incident(path: &Path) -> bool {
    let index = path.join(INDEX_FILE);
    let Ok(meta) = index.symlink_metadata() else {
        return false;
    };
    if !meta.is_file() {
        return false;
    }
    crate::input::read_regular(&index, crate::input::SMALL_FILE_MAX)
        .ok()
        .and_then(|b| serde_json::from_slice::<IncidentIndex>(&b).ok())
        .is_some_and(|i| i.kind == INCIDENT_KIND)
}

/// The bytes of the regular files directly in `path` (incident folders have no subfolders;
/// symlinks are not followed).
fn folder_bytes(path: &Path) -> u64 {
    fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.path().symlink_metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Remove the oldest incidents until all of them fit in `max_bytes`, never `keep` (the one just
/// written) nor the newest. Returns the removed folders.
///
/// A folder whose name is no time, or a time more than [`FUTURE_SLACK_MS`] after `now_ms` (a
/// clock that was ahead), cannot be placed in time: it goes first, so that it never stays the
/// "newest" while every real incident is removed after it.
pub fn enforce_limit(
    dir: &Path,
    max_bytes: u64,
    keep: &Path,
    now_ms: u64,
) -> io::Result<Vec<PathBuf>> {
    let mut all = incidents(dir)?;
    let placed = |i: &Incident| {
        i.at_ms
            .is_some_and(|t| t <= now_ms.saturating_add(FUTURE_SLACK_MS))
    };
    // Stable: by name (UTC time) within each group.
    all.sort_by_key(|i| placed(i));
    let mut total: u64 = all.iter().map(|i| i.bytes).sum();
    let newest = all.last().filter(|i| placed(i)).map(|i| i.path.clone());
    let mut removed = Vec::new();
    for i in &all {
        if total <= max_bytes {
            break;
        }
        if i.path == keep || Some(&i.path) == newest.as_ref() {
            continue;
        }
        fs::remove_dir_all(&i.path)?;
        total -= i.bytes;
        removed.push(i.path.clone());
    }
    Ok(removed)
}

/// Bytes used by the incidents in `dir`.
pub fn disk_used(dir: &Path) -> u64 {
    incidents(dir).map_or(0, |v| v.iter().map(|i| i.bytes).sum())
}

/// Remove temp folders this program left behind (a crash mid-write). Only our own prefix.
pub fn remove_stale_temp(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && e.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::sample::SAMPLE_SCHEMA_VERSION;
    use std::os::unix::fs::PermissionsExt;

    fn index() -> Vec<u8> {
        serde_json::to_vec(&IncidentIndex {
            schema_version: SAMPLE_SCHEMA_VERSION,
            kind: INCIDENT_KIND.into(),
            samples: "samples.json".into(),
            ..Default::default()
        })
        .unwrap()
    }

    fn write(dir: &Path, at_ms: u64, pad: usize) -> PathBuf {
        write_incident(
            dir,
            at_ms,
            &[(INDEX_FILE, index()), ("samples.json", vec![b' '; pad])],
        )
        .unwrap()
    }

    #[test]
    fn folder_names_are_utc_seconds() {
        assert_eq!(
            folder_name(1_796_406_003_999).unwrap(),
            "2026-12-04T17-40-03Z"
        );
        assert_eq!(folder_name(0).unwrap(), "1970-01-01T00-00-00Z");
        assert_eq!(
            folder_time_ms("2026-12-04T17-40-03Z"),
            Some(1_796_406_003_000)
        );
        assert_eq!(
            folder_time_ms("2026-12-04T17-40-03Z-12"),
            Some(1_796_406_003_000)
        );
        for other in [
            "2026-12-04T17-40-03Z-",
            "2026-12-04T17-40-03Zx",
            "2026-12-04 17-40-03Z",
            "2026-13-04T17-40-03Z",
            "10000-01-01T00-00-00Z",
            "keep-this-one",
            "2026-12-04T17-40-0é",
        ] {
            assert_eq!(folder_time_ms(other), None, "{other}");
        }
    }

    /// Found by the adversarial review: the clock in year 10000 panicked in the folder name.
    #[test]
    fn a_clock_past_year_9999_is_an_error_not_a_panic() {
        let tmp = tempfile::tempdir().unwrap();
        for at in [MAX_TIME_MS, u64::MAX] {
            let e = write_incident(tmp.path(), at, &[(INDEX_FILE, index())]).unwrap_err();
            assert!(e.to_string().contains("after year 9999"), "{e}");
        }
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    /// Found by the adversarial review: a folder from a clock that was ahead stayed the
    /// "newest" for ever, so every real incident was removed after it.
    #[test]
    fn a_folder_dated_in_the_future_never_counts_as_the_newest() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let day = 24 * 3600 * 1000;
        let now = 1_796_406_003_000;
        let ahead = write(dir, now + 3 * day, 1_000);
        let a = write(dir, now - 2000, 1_000);
        let b = write(dir, now - 1000, 1_000);
        let c = write(dir, now, 1_000);
        let per = incidents(dir).unwrap()[0].bytes;
        let removed = enforce_limit(dir, per * 2, &c, now).unwrap();
        assert_eq!(removed, vec![ahead, a], "the future folder goes first");
        assert!(b.exists() && c.exists());
        // Within the slack (a clock a few hours ahead) a folder is still placed by its name.
        let soon = write(dir, now + day / 2, 1_000);
        let removed = enforce_limit(dir, per, &c, now).unwrap();
        assert_eq!(removed, vec![b]);
        assert!(soon.exists() && c.exists());
    }

    #[test]
    fn writes_private_files_and_suffixes_a_taken_name() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("incidents");
        let a = write(&dir, 1_000, 10);
        let b = write(&dir, 1_500, 10);
        assert_eq!(a.file_name().unwrap(), "1970-01-01T00-00-01Z");
        assert_eq!(b.file_name().unwrap(), "1970-01-01T00-00-01Z-2");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&a), 0o700);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&a.join(INDEX_FILE)), 0o600);
        assert_eq!(mode(&a.join("samples.json")), 0o600);
        // No temp folder is left behind.
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2);
    }

    #[test]
    fn the_disk_bound_removes_the_oldest_incidents_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let a = write(dir, 1_000, 1_000);
        let b = write(dir, 2_000, 1_000);
        let c = write(dir, 3_000, 1_000);
        // Not incidents: a foreign folder, one with another kind, a symlink to an incident.
        fs::create_dir(dir.join("0000-mine")).unwrap();
        fs::write(dir.join("0000-mine/big"), vec![0u8; 100_000]).unwrap();
        fs::create_dir(dir.join("0001-other")).unwrap();
        fs::write(dir.join("0001-other/index.json"), br#"{"kind":"other"}"#).unwrap();
        std::os::unix::fs::symlink(&a, dir.join("0002-link")).unwrap();
        let per = incidents(dir).unwrap()[0].bytes;
        assert_eq!(incidents(dir).unwrap().len(), 3);
        let removed = enforce_limit(dir, per * 2, &c, 3_000).unwrap();
        assert_eq!(removed, vec![a.clone()]);
        assert!(!a.exists() && b.exists() && c.exists());
        assert!(dir.join("0000-mine/big").exists());
        assert!(dir.join("0001-other/index.json").exists());
        // A bound smaller than one incident still keeps the newest.
        let removed = enforce_limit(dir, 1, &c, 3_000).unwrap();
        assert_eq!(removed, vec![b]);
        assert!(c.exists());
        assert_eq!(disk_used(dir), per);
    }

    #[test]
    fn stale_temp_folders_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let stale = tmp.path().join(format!("{TEMP_PREFIX}1-2"));
        fs::create_dir(&stale).unwrap();
        fs::create_dir(tmp.path().join(".other")).unwrap();
        remove_stale_temp(tmp.path());
        assert!(!stale.exists());
        assert!(tmp.path().join(".other").exists());
    }
}
