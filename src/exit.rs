//! Exit codes and the typed error that selects one.
//!
//! Scripts depend on these numbers: changing one is a breaking change. Every code is listed in the
//! README and the man page. `check` follows the monitoring-plugin convention instead (0/1/2/3), see
//! [`nagios`]. Nothing here prints; `main.rs` turns an [`AppError`] into a message and a code.

use std::fmt;

/// Success: the report was produced, every planned action was carried out or correctly skipped.
pub const OK: u8 = 0;
/// `diagnose --fail-on`: a finding at or above the requested severity was found.
pub const FINDINGS: u8 = 1;
/// Bad command line: unknown flag, bad duration, bad URL, conflicting options.
pub const USAGE: u8 = 2;
/// A kill or settings change was attempted and at least one item failed (see the per-item results).
pub const ACTION_FAILED: u8 = 3;
/// The user answered "no" at the confirmation prompt; nothing was changed.
pub const DECLINED: u8 = 4;
/// Confirmation was needed but there is no terminal and `--yes` was not given; nothing was changed.
pub const NEEDS_CONFIRMATION: u8 = 5;
/// Any other failure: unreadable option or snapshot file, unexpected server answer.
pub const ERROR: u8 = 10;
/// The server refused the connection with ERROR 1040 (Too many connections).
pub const SERVER_FULL: u8 = 11;
/// A per-user connection limit refused us: ERROR 1203 or 1226.
pub const USER_LIMIT: u8 = 12;
/// ERROR 1045/1044: wrong user, password or database grant.
pub const ACCESS_DENIED: u8 = 13;
/// The server could not be reached: refused port, missing socket, DNS failure, no route.
pub const UNREACHABLE: u8 = 14;
/// Connect or query timeout: the server accepted but did not answer in time.
pub const TIMEOUT: u8 = 15;
/// TLS could not be negotiated or verified.
pub const TLS: u8 = 16;
/// Our account lacks a privilege the requested action needs (PROCESS, CONNECTION_ADMIN, SUPER ...).
pub const PRIVILEGE: u8 = 17;
/// The connection was lost in the middle of the run (server restarted, killed, network cut).
pub const CONNECTION_LOST: u8 = 18;

/// Monitoring-plugin exit codes used by `conncheck check`.
pub mod nagios {
    pub const OK: u8 = 0;
    pub const WARNING: u8 = 1;
    pub const CRITICAL: u8 = 2;
    pub const UNKNOWN: u8 = 3;
}

/// What went wrong, as far as the exit code is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    Usage,
    ServerFull,
    UserLimit,
    AccessDenied,
    Unreachable,
    Timeout,
    Tls,
    Privilege,
    ConnectionLost,
    Declined,
    NeedsConfirmation,
    ActionFailed,
    Other,
}

impl ErrorKind {
    /// The kebab-case name used in JSON, e.g. `server-full`.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "other".into())
    }

    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Usage => USAGE,
            ErrorKind::ServerFull => SERVER_FULL,
            ErrorKind::UserLimit => USER_LIMIT,
            ErrorKind::AccessDenied => ACCESS_DENIED,
            ErrorKind::Unreachable => UNREACHABLE,
            ErrorKind::Timeout => TIMEOUT,
            ErrorKind::Tls => TLS,
            ErrorKind::Privilege => PRIVILEGE,
            ErrorKind::ConnectionLost => CONNECTION_LOST,
            ErrorKind::Declined => DECLINED,
            ErrorKind::NeedsConfirmation => NEEDS_CONFIRMATION,
            ErrorKind::ActionFailed => ACTION_FAILED,
            ErrorKind::Other => ERROR,
        }
    }
}

/// An error whose kind decides the exit code, with the one-line message and an optional hint.
#[derive(Debug, Clone)]
pub struct AppError {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
}

impl AppError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        AppError {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AppError {}

/// The kind of an `anyhow` error chain: the first [`AppError`] found in it, else `Other`.
pub fn kind_of(err: &anyhow::Error) -> ErrorKind {
    app_error(err).map_or(ErrorKind::Other, |e| e.kind)
}

/// The first [`AppError`] in the chain, if any.
pub fn app_error(err: &anyhow::Error) -> Option<&AppError> {
    err.chain().find_map(|e| e.downcast_ref::<AppError>())
}
