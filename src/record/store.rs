//! Incident folders on disk (the layout is documented in `snapshot::sample`): written
//! atomically (a hidden temp folder in `--dir`, every file fsynced, then one rename), files
//! 0600 and folders 0700, and the disk bound (`--max-size`) kept by removing the oldest
//! incidents. Only folders whose `index.json` says `conncheck-incident` are ever removed, the
//! newest never, and symlinks are never followed.

use std::fs::{self, DirBuilder, File};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use crate::snapshot::sample::{INCIDENT_KIND, INDEX_FILE, IncidentIndex};

/// Prefix of the temp folders an incident is written into before its rename.
pub const TEMP_PREFIX: &str = ".conncheck-incident-";

/// `2026-12-04T17-40-03Z`: the UTC second of `at_ms`, with `-` for `:` (valid on every file
/// system and sorted by time).
pub fn folder_name(at_ms: u64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(at_ms / 1000);
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .replace(':', "-")
}

/// Create `dir` (0700) if missing.
pub fn ensure_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Write one incident folder named after `at_ms` (with `-2`, `-3` … when that name exists) from
/// `files` (name, contents), atomically. Returns its path.
pub fn write_incident(dir: &Path, at_ms: u64, files: &[(&str, Vec<u8>)]) -> io::Result<PathBuf> {
    ensure_dir(dir)?;
    let temp = dir.join(format!("{TEMP_PREFIX}{}-{at_ms}", std::process::id()));
    if temp.symlink_metadata().is_ok() {
        fs::remove_dir_all(&temp)?;
    }
    DirBuilder::new().mode(0o700).create(&temp)?;
    let written = (|| {
        for (name, bytes) in files {
            let path = temp.join(name);
            crate::input::write_private(&path, bytes)?;
            File::open(&path)?.sync_all()?;
        }
        File::open(&temp)?.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_dir_all(&temp);
        return Err(e);
    }
    let base = folder_name(at_ms);
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
    crate::input::read_capped(&index, crate::input::SMALL_FILE_MAX)
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
pub fn enforce_limit(dir: &Path, max_bytes: u64, keep: &Path) -> io::Result<Vec<PathBuf>> {
    let all = incidents(dir)?;
    let mut total: u64 = all.iter().map(|i| i.bytes).sum();
    let newest = all.last().map(|i| i.path.clone());
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
        assert_eq!(folder_name(1_796_406_003_999), "2026-12-04T17-40-03Z");
        assert_eq!(folder_name(0), "1970-01-01T00-00-00Z");
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
        let removed = enforce_limit(dir, per * 2, &c).unwrap();
        assert_eq!(removed, vec![a.clone()]);
        assert!(!a.exists() && b.exists() && c.exists());
        assert!(dir.join("0000-mine/big").exists());
        assert!(dir.join("0001-other/index.json").exists());
        // A bound smaller than one incident still keeps the newest.
        let removed = enforce_limit(dir, 1, &c).unwrap();
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
