//! Every file conncheck reads from the user goes through here (writing is `crate::output`'s).
//!
//! One pass, with a size cap, so `/dev/zero` or `/dev/urandom` is a quick clear error instead of
//! running out of memory, and a FIFO, `/dev/stdin` or `-` (standard input) is read exactly once
//! ([`read_capped`]: option files, `--targets`, `diagnose --from FILE`). Files that are never a
//! pipe (the parts of an incident folder, the login path file) are read with [`read_regular`],
//! which refuses a FIFO or a device without blocking. A leading UTF-8 byte-order mark is dropped.

use std::fs::File;
use std::io::{self, Read};
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
    let mut bytes = read_bytes(stream, max)?;
    if bytes.starts_with(BOM) {
        bytes.drain(..BOM.len());
    }
    Ok(bytes)
}

/// At most `max` bytes of a binary stream, exactly as they are (no BOM is dropped); a larger
/// one is an error (`InvalidData`) naming the limit.
pub fn read_bytes(stream: impl Read, max: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    stream.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than the {} limit", size(max)),
        ));
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

/// Open `path` for reading only if it is a regular file (a symlink to one counts). It is opened
/// with `O_NONBLOCK`, so that a FIFO never blocks the open waiting for a writer, then checked with
/// `fstat` on the open file (no window between the check and the read). Anything else (a FIFO, a
/// device, a directory, a socket) is an error saying what it is.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NONBLOCK);
    }
    let file = o.open(path)?;
    let meta = file.metadata()?;
    if meta.is_file() {
        return Ok(file);
    }
    let what = if meta.is_dir() {
        "is a directory"
    } else {
        "is not a regular file (a FIFO, a device or a socket)"
    };
    Err(io::Error::new(io::ErrorKind::InvalidInput, what))
}

/// [`open_regular`], then [`read_stream`] with the cap `max`.
pub fn read_regular(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    read_stream(open_regular(path)?, max)
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
    fn only_regular_files_are_read_and_a_fifo_never_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let ok = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success();
        assert!(ok);
        // No writer: a blocking open would hang here.
        let e = read_regular(&fifo, SMALL_FILE_MAX).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let e = read_regular(Path::new("/dev/zero"), SMALL_FILE_MAX).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let e = read_regular(dir.path(), SMALL_FILE_MAX).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        let file = dir.path().join("f");
        std::fs::write(&file, b"\xEF\xBB\xBFabcd").unwrap();
        assert_eq!(read_regular(&file, 7).unwrap(), b"abcd".to_vec());
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(read_regular(&link, 7).is_ok());
        assert!(read_regular(&file, 6).is_err());
    }
}
