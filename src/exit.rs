//! Exit codes and the typed error that selects one.
//!
//! Scripts depend on these numbers: changing one is a breaking change. Every code is listed in the
//! README and the man page. `check` follows the monitoring-plugin convention instead (0/1/2/3), see
//! [`nagios`]. Nothing here prints; `main.rs` turns an [`AppError`] into a message and a code.

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
/// Any other failure: unreadable option or snapshot file, unexpected server answer, a `--chart`
/// that could not be written (after the report), `record` when a trigger fired but its incident
/// could not be written (after the summary).
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
/// conncheck refused to send the password: the server asked for it (caching_sha2_password full
/// authentication) over TCP without TLS, and its public key is not known
/// (`--server-public-key-path`) nor may be asked for (`--get-server-public-key`).
pub const INSECURE_AUTH: u8 = 19;
/// SIGHUP (the terminal went away) ended the run: 128 + 1, the shell's convention. A kill batch
/// stops with 3 or 18 instead, after recording every outcome (see `crate::terminal`).
pub const HANGUP: u8 = 129;
/// Ctrl-C (SIGINT) ended the run, e.g. at a confirmation prompt: 128 + 2.
pub const INTERRUPTED: u8 = 130;
/// SIGTERM ended the run: 128 + 15.
pub const TERMINATED: u8 = 143;

/// One documented exit code: the number, the error kind that produces it (None for the codes a
/// command chooses itself) and its meaning as the man page and the README list it.
#[derive(Debug, Clone, Copy)]
pub struct Code {
    pub code: u8,
    pub kind: Option<ErrorKind>,
    pub meaning: &'static str,
    /// What the man page adds after the meaning (the README explains more).
    pub detail: &'static str,
}

/// Every exit code of the commands other than `check`, in order: the one table the man page is
/// generated from and the README's table is tested against (tests/it/exit_codes.rs).
pub const CODES: &[Code] = &[
    Code {
        code: OK,
        kind: None,
        meaning: "success",
        detail: "",
    },
    Code {
        code: FINDINGS,
        kind: None,
        meaning: "diagnose --fail-on: a finding of that severity or worse",
        detail: "",
    },
    Code {
        code: USAGE,
        kind: Some(ErrorKind::Usage),
        meaning: "bad command line",
        detail: "",
    },
    Code {
        code: ACTION_FAILED,
        kind: Some(ErrorKind::ActionFailed),
        meaning: "an action failed for at least one item",
        detail: " (a kill or a settings change)",
    },
    Code {
        code: DECLINED,
        kind: Some(ErrorKind::Declined),
        meaning: "the user answered no at the confirmation prompt; nothing changed",
        detail: "",
    },
    Code {
        code: NEEDS_CONFIRMATION,
        kind: Some(ErrorKind::NeedsConfirmation),
        meaning: "confirmation needed, but no terminal and no --yes; nothing changed",
        detail: "",
    },
    Code {
        code: ERROR,
        kind: Some(ErrorKind::Other),
        meaning: "other error",
        detail: " (option file, snapshot file, server answer, incident not written)",
    },
    Code {
        code: SERVER_FULL,
        kind: Some(ErrorKind::ServerFull),
        meaning: "server full: ERROR 1040 Too many connections",
        detail: "",
    },
    Code {
        code: USER_LIMIT,
        kind: Some(ErrorKind::UserLimit),
        meaning: "per-user connection limit: ERROR 1203 / 1226",
        detail: "",
    },
    Code {
        code: ACCESS_DENIED,
        kind: Some(ErrorKind::AccessDenied),
        meaning: "access denied: ERROR 1045 / 1044 / 1698",
        detail: "",
    },
    Code {
        code: UNREACHABLE,
        kind: Some(ErrorKind::Unreachable),
        meaning: "server unreachable",
        detail: " (refused, no socket, DNS)",
    },
    Code {
        code: TIMEOUT,
        kind: Some(ErrorKind::Timeout),
        meaning: "timeout",
        detail: " (connect, greeting or query)",
    },
    Code {
        code: TLS,
        kind: Some(ErrorKind::Tls),
        meaning: "TLS could not be negotiated or verified",
        detail: "",
    },
    Code {
        code: PRIVILEGE,
        kind: Some(ErrorKind::Privilege),
        meaning: "a privilege is missing",
        detail: "",
    },
    Code {
        code: CONNECTION_LOST,
        kind: Some(ErrorKind::ConnectionLost),
        meaning: "the connection was lost during the run",
        detail: "",
    },
    Code {
        code: INSECURE_AUTH,
        kind: Some(ErrorKind::InsecureAuth),
        meaning: "password not sent: the server asked for it without TLS and its public key is unknown",
        detail: " (caching_sha2_password; see --server-public-key-path)",
    },
    Code {
        code: HANGUP,
        kind: None,
        meaning: "ended by SIGHUP",
        detail: " (a kill batch stops with 3 or 18 instead)",
    },
    Code {
        code: INTERRUPTED,
        kind: Some(ErrorKind::Interrupted),
        meaning: "ended by SIGINT (Ctrl-C), e.g. at a prompt; the terminal is restored",
        detail: "",
    },
    Code {
        code: TERMINATED,
        kind: None,
        meaning: "ended by SIGTERM",
        detail: " (a kill batch stops with 3 or 18 instead)",
    },
];

/// The exit-code section of the man page, from [`CODES`] and [`nagios::CODES`].
pub fn man_section() -> String {
    let check: Vec<String> = nagios::CODES
        .iter()
        .map(|(code, name, _)| format!("{code} {name}"))
        .collect();
    let mut out = format!("Exit codes (check uses {} instead):", check.join(", "));
    for c in CODES {
        out.push_str(&format!("\n  {:<4}{}{}", c.code, c.meaning, c.detail));
    }
    out
}

/// Monitoring-plugin exit codes used by `conncheck check`.
pub mod nagios {
    pub const OK: u8 = 0;
    pub const WARNING: u8 = 1;
    pub const CRITICAL: u8 = 2;
    pub const UNKNOWN: u8 = 3;

    /// `check`'s exit codes: code, state and when (lines after the first are continuations).
    pub const CODES: &[(u8, &str, &str)] = &[
        (OK, "OK", "every rule passed"),
        (
            WARNING,
            "WARNING",
            "usage at --warning or more, more than --max-idle/--max-long/--max-idle-trx,\n\
             or a warning finding with --fail-on warning",
        ),
        (
            CRITICAL,
            "CRITICAL",
            "usage at --critical or more, more than twice --max-idle, connections refused with\n\
             ERROR 1040 during --sample, conncheck itself refused with ERROR 1040, or a\n\
             critical finding with --fail-on",
        ),
        (
            UNKNOWN,
            "UNKNOWN",
            "no verdict: bad arguments, unreachable server, access denied, timeout ...",
        ),
    ];

    /// The exit-code lines of `check --help`, from [`CODES`].
    pub fn help_lines() -> String {
        let mut out = String::new();
        for (code, name, meaning) in CODES {
            for (i, line) in meaning.lines().enumerate() {
                if i == 0 {
                    out.push_str(&format!("  {code} {name:<10}{line}\n"));
                } else {
                    out.push_str(&format!("{:14}{line}\n", ""));
                }
            }
        }
        out
    }
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
    InsecureAuth,
    Declined,
    NeedsConfirmation,
    ActionFailed,
    /// Ctrl-C at a prompt (exit 130).
    Interrupted,
    Other,
}

impl ErrorKind {
    /// The kebab-case name used in JSON, e.g. `server-full`.
    pub fn name(self) -> String {
        match self {
            ErrorKind::Usage => "usage",
            ErrorKind::ServerFull => "server-full",
            ErrorKind::UserLimit => "user-limit",
            ErrorKind::AccessDenied => "access-denied",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Tls => "tls",
            ErrorKind::Privilege => "privilege",
            ErrorKind::ConnectionLost => "connection-lost",
            ErrorKind::InsecureAuth => "insecure-auth",
            ErrorKind::Declined => "declined",
            ErrorKind::NeedsConfirmation => "needs-confirmation",
            ErrorKind::ActionFailed => "action-failed",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::Other => "other",
        }
        .to_string()
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
            ErrorKind::InsecureAuth => INSECURE_AUTH,
            ErrorKind::Declined => DECLINED,
            ErrorKind::NeedsConfirmation => NEEDS_CONFIRMATION,
            ErrorKind::ActionFailed => ACTION_FAILED,
            ErrorKind::Interrupted => INTERRUPTED,
            ErrorKind::Other => ERROR,
        }
    }
}

/// Where an error from talking to a server happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Opening the connection and logging in (network, TLS, authentication, a refusal after
    /// the greeting).
    Connect,
    /// The server sent an error packet instead of its greeting (ERROR 1040 with every slot,
    /// the reserved one too, taken).
    Greeting,
    /// On an established connection: a statement or a batch of statements.
    Query,
}

/// An error whose kind decides the exit code, with the one-line message, an optional hint and
/// the error it came from (the driver's, an I/O error), kept for the chain rather than
/// flattened into the text. Errors from a server also carry its error code and the stage, so
/// that callers decide on those, never on the message text.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
    /// The server's error code (1040, 1045, 1109 ...) when the server refused something.
    pub code: Option<u16>,
    /// Where it happened, for errors from talking to a server.
    pub stage: Option<Stage>,
    #[source]
    pub source: Option<std::sync::Arc<dyn std::error::Error + Send + Sync>>,
}

impl AppError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        AppError {
            kind,
            message: message.into(),
            hint: None,
            code: None,
            stage: None,
            source: None,
        }
    }

    /// Record the stage this error happened at.
    pub fn at(mut self, stage: Stage) -> Self {
        self.stage = Some(stage);
        self
    }

    /// Record the server's error code.
    pub fn server_code(mut self, code: u16) -> Self {
        self.code = Some(code);
        self
    }

    /// Keep the error this one came from (see [`std::error::Error::source`]).
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(std::sync::Arc::new(source));
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }
}

/// The kind of an `anyhow` error chain: the first [`AppError`] found in it, else `Other`.
pub fn kind_of(err: &anyhow::Error) -> ErrorKind {
    app_error(err).map_or(ErrorKind::Other, |e| e.kind)
}

/// The first [`AppError`] in the chain, if any.
pub fn app_error(err: &anyhow::Error) -> Option<&AppError> {
    err.chain().find_map(|e| e.downcast_ref::<AppError>())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [ErrorKind; 15] = [
        ErrorKind::Usage,
        ErrorKind::ServerFull,
        ErrorKind::UserLimit,
        ErrorKind::AccessDenied,
        ErrorKind::Unreachable,
        ErrorKind::Timeout,
        ErrorKind::Tls,
        ErrorKind::Privilege,
        ErrorKind::ConnectionLost,
        ErrorKind::InsecureAuth,
        ErrorKind::Declined,
        ErrorKind::NeedsConfirmation,
        ErrorKind::ActionFailed,
        ErrorKind::Interrupted,
        ErrorKind::Other,
    ];

    #[test]
    fn every_kind_is_in_the_table_with_its_code() {
        for k in KINDS {
            let row = CODES.iter().find(|c| c.kind == Some(k));
            assert_eq!(row.map(|c| c.code), Some(k.exit_code()), "{k:?}");
        }
        let mut codes: Vec<u8> = CODES.iter().map(|c| c.code).collect();
        codes.dedup();
        assert_eq!(codes.len(), CODES.len(), "codes are listed once, in order");
        assert!(codes.is_sorted());
    }

    #[test]
    fn names_are_the_json_names() {
        for k in KINDS {
            assert_eq!(
                serde_json::to_value(k).unwrap().as_str(),
                Some(k.name().as_str())
            );
        }
    }

    #[test]
    fn the_driver_error_stays_in_the_chain() {
        let io = std::io::Error::other("connection reset");
        let e = AppError::new(ErrorKind::ConnectionLost, "lost").with_source(io);
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("connection reset"));
        assert_eq!(e.to_string(), "lost");
    }
}
