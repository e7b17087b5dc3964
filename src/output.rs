//! Every file conncheck writes goes through here: the replay chart (`diagnose --chart`), `snapshot
//! -o`, the files of an incident folder (`record`), the man pages; and the one append-only file,
//! the `kill --log` audit log.
//!
//! A whole file is written atomically ([`write_atomic`]): into a temporary file with a random
//! name, created with `O_EXCL` beside the target (so a symlink planted under a name we might pick
//! is never followed), synced, then renamed over the target; a reader sees the old file or the
//! new one, never half of one. A target that exists and is not a regular file (a device such as
//! `/dev/null`, a FIFO, a directory, or a symlink, even to a regular file) is refused: renaming
//! over `/dev/null` as root would replace the device.
//!
//! Files are created with mode 0600 (snapshots, incidents and audit logs hold full query texts).
//! Reading is `crate::input`'s business.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::path::Path;

/// Mode of the files conncheck writes: its owner only.
pub const PRIVATE: u32 = 0o600;
/// Mode of the man pages (`conncheck man DIR`): readable by everyone, as man(1) needs.
pub const PUBLIC: u32 = 0o644;

/// Write `bytes` to `path` atomically, mode 0600. See the module documentation.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_mode(path, bytes, PRIVATE)
}

/// [`write_atomic`] with the given permission bits (before the umask).
pub fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    refuse_non_regular(path)?;
    if path.file_name().is_none() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a file name",
        ));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".conncheck-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = mode;
    // The folder's own error first (missing, not a folder, no permission): tempfile's would name
    // the temporary path, which the user never gave.
    if !std::fs::metadata(dir)?.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            "its folder is not a directory",
        ));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot create a temporary file beside it: {}", e.kind()),
        )
    })?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    // On failure the temporary file is removed when `tmp` (inside the error) is dropped.
    tmp.persist(path).map_err(|e| e.error)?;
    // The rename itself is durable once the folder is synced.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// An error when `path` exists and is not a regular file (symlinks included, whatever they
/// point to).
pub fn refuse_non_regular(path: &Path) -> io::Result<()> {
    match path.symlink_metadata() {
        Ok(meta) if !meta.file_type().is_file() => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "it exists and is not a regular file ({}); conncheck replaces only regular files",
                kind_of(&meta.file_type())
            ),
        )),
        _ => Ok(()),
    }
}

/// What a non-regular file is, for the error above.
fn kind_of(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Open `path` for appending, creating it with mode 0600 (an audit log); an existing regular
/// file others may read is narrowed to 0600 (never a device such as /dev/stdout).
pub fn append_private(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        o.mode(PRIVATE);
        let f = o.open(path)?;
        let meta = f.metadata()?;
        if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
            let _ = f.set_permissions(Permissions::from_mode(PRIVATE));
        }
        Ok(f)
    }
    #[cfg(not(unix))]
    o.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn files_are_written_whole_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.json");
        write_atomic(&p, b"x").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"x");
        assert_eq!(mode(&p), 0o600);
        // An existing file others could read is replaced by a private one.
        std::fs::set_permissions(&p, Permissions::from_mode(0o644)).unwrap();
        write_atomic(&p, b"yz").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"yz");
        assert_eq!(mode(&p), 0o600);
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // A bare file name is written in the current folder's sense (parent ".").
        assert!(write_atomic(Path::new("/"), b"x").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn anything_but_a_regular_file_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::write(&real, b"keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let e = write_atomic(&link, b"x").unwrap_err();
        assert!(e.to_string().contains("a symbolic link"), "{e}");
        assert_eq!(std::fs::read(&real).unwrap(), b"keep");
        assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
        let e = write_atomic(Path::new("/dev/null"), b"x").unwrap_err();
        assert!(e.to_string().contains("a device"), "{e}");
        let e = write_atomic(dir.path(), b"x").unwrap_err();
        assert!(e.to_string().contains("a directory"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn audit_logs_are_appended_and_narrowed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let q = dir.path().join("old.log");
        std::fs::write(&q, b"a\n").unwrap();
        std::fs::set_permissions(&q, Permissions::from_mode(0o644)).unwrap();
        writeln!(append_private(&q).unwrap(), "b").unwrap();
        assert_eq!(std::fs::read(&q).unwrap(), b"a\nb\n");
        assert_eq!(mode(&q), 0o600);
    }
}
