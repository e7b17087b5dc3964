//! Every file conncheck reads from the user, and every file it writes, goes through here.
//!
//! Reading: one pass, with a size cap, so `/dev/zero` or `/dev/urandom` is a quick clear error
//! instead of running out of memory, and a FIFO, `/dev/stdin` or `-` (standard input) is read
//! exactly once. A leading UTF-8 byte-order mark is dropped.
//!
//! Writing: files are created with mode 0600 (snapshots and audit logs hold full query texts),
//! and an existing regular file we write to is narrowed to 0600 too.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

/// Cap for option files (`--defaults-file`, `--defaults-extra-file`, `!include`) and
/// `--targets` files: far beyond any real one.
pub const SMALL_FILE_MAX: u64 = 1024 * 1024;
/// Cap for snapshots (`diagnose --from`): a snapshot of 100,000 sessions with long query texts
/// stays well below it.
pub const SNAPSHOT_MAX: u64 = 64 * 1024 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Read `path` (`-` = standard input) in one pass, at most `max` bytes, without a leading BOM.
/// A larger input is an error (`InvalidData`) naming the limit.
pub fn read_capped(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        return read_stream(io::stdin().lock(), max);
    }
    let file = File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(io::Error::other("is a directory"));
    }
    read_stream(file, max)
}

/// [`read_capped`] on an open stream.
pub fn read_stream(stream: impl Read, max: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    stream.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than the {} limit", size(max)),
        ));
    }
    if bytes.starts_with(BOM) {
        bytes.drain(..BOM.len());
    }
    Ok(bytes)
}

fn size(n: u64) -> String {
    if n >= 1024 * 1024 && n.is_multiple_of(1024 * 1024) {
        format!("{} MiB", n / (1024 * 1024))
    } else {
        format!("{n} bytes")
    }
}

/// Create (or truncate) `path` for writing, mode 0600.
pub fn create_private(path: &Path) -> io::Result<File> {
    open_private(path, false)
}

/// Open `path` for appending, creating it with mode 0600 (an audit log).
pub fn append_private(path: &Path) -> io::Result<File> {
    open_private(path, true)
}

/// Write `bytes` to `path`, created with mode 0600.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = create_private(path)?;
    f.write_all(bytes)?;
    f.flush()
}

fn open_private(path: &Path, append: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create(true);
    if append {
        o.append(true);
    } else {
        o.truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        o.mode(0o600);
        let f = o.open(path)?;
        // An existing file keeps its mode on open: narrow a regular file we own to 0600 too
        // (never a device such as /dev/stdout).
        let meta = f.metadata()?;
        if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
            let _ = f.set_permissions(std::fs::Permissions::from_mode(0o600));
        }
        Ok(f)
    }
    #[cfg(not(unix))]
    o.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_strips_bom_and_reads_once() {
        assert_eq!(read_stream(&b"\xEF\xBB\xBFabc"[..], 10).unwrap(), b"abc");
        assert_eq!(read_stream(&b"abc"[..], 3).unwrap(), b"abc");
        let e = read_stream(&b"abcd"[..], 3).unwrap_err();
        assert!(e.to_string().contains("limit"), "{e}");
        let zero = read_capped(Path::new("/dev/zero"), SMALL_FILE_MAX).unwrap_err();
        assert!(zero.to_string().contains("1 MiB"), "{zero}");
    }

    #[cfg(unix)]
    #[test]
    fn files_are_created_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.json");
        write_private(&p, b"x").unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let q = dir.path().join("old.log");
        std::fs::write(&q, b"a\n").unwrap();
        std::fs::set_permissions(&q, std::fs::Permissions::from_mode(0o644)).unwrap();
        writeln!(append_private(&q).unwrap(), "b").unwrap();
        assert_eq!(std::fs::read(&q).unwrap(), b"a\nb\n");
        assert_eq!(
            std::fs::metadata(&q).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
