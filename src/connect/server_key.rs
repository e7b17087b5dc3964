//! The password is never encrypted with a key the server itself sends.
//!
//! `caching_sha2_password` (MySQL 8's default plugin) logs in with a scramble while the server
//! has the account in its cache. Otherwise (the first login after a restart, after FLUSH
//! PRIVILEGES, or a fake server that simply says so) it asks for the password itself: "perform
//! full authentication". Over TLS or a Unix socket the client sends it as it is. Over plain TCP
//! it encrypts it with the server's RSA public key, and a client that asks the server for that
//! key (the `0x02` request) encrypts it with whatever key answers: a fake server, or anyone in
//! the middle, sends its own and reads the password. The `mysql` client therefore refuses
//! (ERROR 2061 "Authentication requires secure connection") unless `--server-public-key-path`
//! or `--get-server-public-key` is given, and conncheck does the same, with exit code 19.
//! https://dev.mysql.com/doc/refman/8.0/en/caching-sha2-pluggable-authentication.html
//!
//! How the driver is told (mysql 28, which always requests the key when it has no key path and
//! has no switch to refuse): through its own `server_key_path` option, whose documented contract
//! is that the file is read only at that moment (full authentication over non-TLS TCP) and that
//! "file-read errors are returned without falling back to server key retrieval". To refuse, we
//! give it a path that always fails to read ([`REFUSE`], a directory): the handshake stops right
//! there, before the key request and before a byte of the password, with no extra connection
//! and no pre-check the server could get around (it decides on full authentication only after
//! seeing our scramble). A key given with `--server-public-key-path` is read once through
//! [`crate::input`] (capped, a pipe works), checked with the driver's own parser, and handed to
//! the driver through an anonymous pipe, so the driver reads exactly the bytes we checked.
//! `tests/it/security.rs` holds the driver to this with a fake server. docs/server-public-key.md
//! has the upstream proposal for an explicit switch.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::exit::{AppError, ErrorKind, Stage};

use super::options::ConnectOptions;

/// A path whose read always fails (with `EISDIR`): the driver then stops the login instead of
/// asking the server for its key.
const REFUSE: &str = "/";

/// Cap for `--server-public-key-path`: an RSA public key in PEM is 451 bytes at 2048 bits and
/// 2.8 KiB at 16384; 4 KiB also always fits in an empty pipe (at least one page), so handing it
/// to the driver never blocks.
pub const KEY_MAX: u64 = 4096;

/// What the driver may do when the server asks for the password over plain TCP.
#[derive(Debug, Clone)]
pub enum KeyPolicy {
    /// Stop the login: no trusted key (the default).
    Refuse,
    /// Ask the server for its key (`--get-server-public-key`).
    Request,
    /// Encrypt with this key (`--server-public-key-path`), checked PEM bytes.
    Known(Vec<u8>),
}

impl KeyPolicy {
    /// The policy for this run: reads and checks `--server-public-key-path` when given.
    pub fn of(opts: &ConnectOptions) -> Result<KeyPolicy, AppError> {
        match &opts.server_public_key {
            Some(path) => {
                let password = opts.password.as_ref().map_or(0, |p| p.0.len());
                read_key(path, password).map(KeyPolicy::Known)
            }
            None if opts.get_server_public_key => Ok(KeyPolicy::Request),
            None => Ok(KeyPolicy::Refuse),
        }
    }

    /// The driver's `server_key_path` for one connection attempt, and the pipe it reads from
    /// (kept open until the attempt is over).
    pub fn for_driver(&self) -> Result<DriverKey, AppError> {
        Ok(match self {
            KeyPolicy::Refuse => DriverKey {
                path: Some(PathBuf::from(REFUSE)),
                _pipe: None,
            },
            KeyPolicy::Request => DriverKey {
                path: None,
                _pipe: None,
            },
            KeyPolicy::Known(pem) => {
                let (reader, mut writer) = std::io::pipe().map_err(pipe_error)?;
                // At most KEY_MAX bytes into an empty pipe: never blocks.
                writer.write_all(pem).map_err(pipe_error)?;
                drop(writer);
                DriverKey {
                    path: Some(fd_path(&reader)),
                    _pipe: Some(reader),
                }
            }
        })
    }

    /// Whether `e` is the driver stopping the login because we refused (see [`REFUSE`]).
    pub fn refused(&self, e: &mysql::Error) -> bool {
        matches!(self, KeyPolicy::Refuse)
            && matches!(e, mysql::Error::IoError(io) if io.kind() == std::io::ErrorKind::IsADirectory)
    }
}

/// What the driver gets for one attempt.
pub struct DriverKey {
    pub path: Option<PathBuf>,
    /// The read end of the pipe behind `path`, held (never read here) so that the path stays
    /// open for the driver until the attempt is dropped.
    pub _pipe: Option<std::io::PipeReader>,
}

/// The path under which the driver opens our pipe.
fn fd_path(reader: &std::io::PipeReader) -> PathBuf {
    use std::os::fd::AsRawFd;
    #[cfg(target_os = "linux")]
    let dir = "/proc/self/fd";
    #[cfg(not(target_os = "linux"))]
    let dir = "/dev/fd";
    PathBuf::from(format!("{dir}/{}", reader.as_raw_fd()))
}

fn pipe_error(e: std::io::Error) -> AppError {
    AppError::new(
        ErrorKind::Other,
        format!("cannot hand the --server-public-key-path key to the driver: {e}"),
    )
}

/// Read `--server-public-key-path` (capped; `-` is standard input) and check it with the
/// driver's own parser, which panics on anything else than an RSA public key in PEM, and the
/// key's size against the password (RSA-OAEP with SHA-1 encrypts at most the key's size in
/// bytes minus 42; the password goes with a NUL byte). A key read once is kept for the run, so
/// that every target of a fleet and every reconnect use it (standard input cannot be read twice).
fn read_key(path: &Path, password_len: usize) -> Result<Vec<u8>, AppError> {
    static READ: std::sync::Mutex<Vec<(PathBuf, Vec<u8>, usize)>> =
        std::sync::Mutex::new(Vec::new());
    let bad = |why: String| {
        AppError::new(
            ErrorKind::Other,
            format!("--server-public-key-path {}: {why}", path.display()),
        )
        .hint("give the server's RSA public key in PEM: the file named by caching_sha2_password_public_key_path (public_key.pem in the data directory), or SHOW STATUS LIKE 'Caching_sha2_password_rsa_public_key' over a secure connection")
    };
    let mut read = READ
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (pem, octets) = match read.iter().find(|(p, _, _)| p == path) {
        Some((_, pem, octets)) => (pem.clone(), *octets),
        None => {
            let pem = crate::input::read_capped(path, KEY_MAX).map_err(|e| bad(e.to_string()))?;
            let copy = pem.clone();
            let octets = super::driver_thread::catch_driver_panic(move || {
                mysql_common::crypto::rsa::PublicKey::from_pem(&copy).num_octets()
            })
            .map_err(|_| bad("not an RSA public key in PEM (BEGIN PUBLIC KEY)".into()))?;
            read.push((path.to_path_buf(), pem.clone(), octets));
            (pem, octets)
        }
    };
    if octets < password_len + 1 + 42 {
        return Err(bad(format!(
            "a {}-bit key is too small to encrypt this password",
            octets * 8
        )));
    }
    Ok(pem)
}

/// We refused to send the password (exit 19).
pub fn refusal(target: &str, ssl_tried: bool) -> AppError {
    let why = if ssl_tried {
        "the server offers no TLS"
    } else {
        "the connection has no TLS"
    };
    AppError::new(
        ErrorKind::InsecureAuth,
        format!(
            "{target} asked for the password itself (caching_sha2_password full authentication) and {why}: conncheck does not encrypt it with a public key the server sends, since whoever answers in its place can send their own"
        ),
    )
    .hint("use TLS (--ssl-mode=VERIFY_CA --ssl-ca FILE) or the Unix socket (-S), give the server's key with --server-public-key-path FILE, or accept the risk with --get-server-public-key; after one such login the server caches the account and asks no more until it restarts")
    .at(Stage::Connect)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2048-bit RSA public key (tests/data/PROVENANCE.md).
    const PEM: &str = include_str!("../../tests/data/server_public_key.pem");

    fn file(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    #[test]
    fn a_key_file_is_checked_before_connecting() {
        let good = file(PEM.as_bytes());
        assert_eq!(read_key(good.path(), 12).unwrap(), PEM.as_bytes());
        for (bytes, why) in [
            (&b"not a key"[..], "not an RSA public key"),
            (
                b"-----BEGIN PUBLIC KEY-----\n@@@@\n-----END PUBLIC KEY-----\n",
                "not an RSA",
            ),
            (
                b"-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n",
                "not an RSA",
            ),
            (b"", "not an RSA"),
        ] {
            let e = read_key(file(bytes).path(), 12).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Other);
            assert!(e.message.contains(why), "{}", e.message);
        }
        // A password longer than a 2048-bit key can encrypt (256 - 42 - 1 bytes).
        let e = read_key(good.path(), 214).unwrap_err();
        assert!(e.message.contains("too small"), "{}", e.message);
        assert!(read_key(good.path(), 213).is_ok());
        let e = read_key(Path::new("/dev/zero"), 12).unwrap_err();
        assert!(e.message.contains("limit"), "{}", e.message);
        let e = read_key(Path::new("/nonexistent/key.pem"), 12).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Other);
    }

    /// The driver reads exactly the checked bytes from the path it is given (as it does, with
    /// std::fs::read).
    #[test]
    fn the_driver_reads_the_key_through_a_pipe() {
        let key = KeyPolicy::Known(PEM.as_bytes().to_vec())
            .for_driver()
            .unwrap();
        let path = key.path.clone().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), PEM.as_bytes());
    }

    /// The refusal path fails to read the way `refused` recognises, and only then.
    #[test]
    fn the_refusal_path_fails_as_recognised() {
        let key = KeyPolicy::Refuse.for_driver().unwrap();
        let e = std::fs::read(key.path.unwrap()).unwrap_err();
        let driver = mysql::Error::IoError(e);
        assert!(KeyPolicy::Refuse.refused(&driver));
        assert!(!KeyPolicy::Request.refused(&driver));
        let refused_port = mysql::Error::IoError(std::io::ErrorKind::ConnectionRefused.into());
        assert!(!KeyPolicy::Refuse.refused(&refused_port));
        assert!(KeyPolicy::Request.for_driver().unwrap().path.is_none());
    }
}
