//! Turning driver errors into one clear message, a hint, and the exit code's kind.
//!
//! ERROR 1040 arrives in three shapes (https://mariadb.com/kb/en/e1040/): as a normal error after
//! the handshake (SQLSTATE 08004, the reserved slot still free), as a bare error packet instead of
//! the greeting (all max_connections + 1 slots taken), and wrapped in a TLS-handshake complaint.
//! All three become [`ErrorKind::ServerFull`]. Messages never contain a password: the driver's
//! errors do not carry one, and we never add one.

use std::io;

use mysql::Error as MyError;

use crate::exit::{AppError, ErrorKind};

/// Server error codes we treat specially.
pub mod code {
    /// ER_CON_COUNT_ERROR: Too many connections.
    pub const TOO_MANY_CONNECTIONS: u16 = 1040;
    /// ER_DBACCESS_DENIED_ERROR.
    pub const DB_ACCESS_DENIED: u16 = 1044;
    /// ER_ACCESS_DENIED_ERROR.
    pub const ACCESS_DENIED: u16 = 1045;
    /// ER_NO_SUCH_THREAD: the session is already gone.
    pub const NO_SUCH_THREAD: u16 = 1094;
    /// ER_KILL_DENIED_ERROR: not owner of thread.
    pub const KILL_DENIED: u16 = 1095;
    /// ER_TOO_MANY_USER_CONNECTIONS (global max_user_connections).
    pub const TOO_MANY_USER_CONNECTIONS: u16 = 1203;
    /// ER_USER_LIMIT_REACHED (per-account limit).
    pub const USER_LIMIT_REACHED: u16 = 1226;
    /// ER_SPECIFIC_ACCESS_DENIED_ERROR: a privilege is missing.
    pub const SPECIFIC_ACCESS_DENIED: u16 = 1227;
    /// ER_DBACCESS / table access denied.
    pub const TABLE_ACCESS_DENIED: u16 = 1142;
    /// ER_UNKNOWN_SYSTEM_VARIABLE.
    pub const UNKNOWN_SYSTEM_VARIABLE: u16 = 1193;
    /// ER_OPTION_PREVENTS_STATEMENT (read-only, or max_user_connections started at 0).
    pub const OPTION_PREVENTS_STATEMENT: u16 = 1290;
    /// ER_QUERY_INTERRUPTED.
    pub const QUERY_INTERRUPTED: u16 = 1317;
    /// MariaDB ER_STATEMENT_TIMEOUT.
    pub const STATEMENT_TIMEOUT: u16 = 1969;
    /// MySQL ER_QUERY_TIMEOUT.
    pub const QUERY_TIMEOUT: u16 = 3024;
    /// ER_LOCK_WAIT_TIMEOUT.
    pub const LOCK_WAIT_TIMEOUT: u16 = 1205;
}

/// The server error code, if the driver error is a server error.
pub fn server_code(e: &MyError) -> Option<u16> {
    match e {
        MyError::MySqlError(m) => Some(m.code),
        _ => None,
    }
}

/// The server message without driver decoration (`#08004` prefixes, `ERROR nnnn (...)`).
pub fn server_message(e: &MyError) -> String {
    match e {
        MyError::MySqlError(m) => clean_message(&m.message),
        other => clean_message(&other.to_string()),
    }
}

fn clean_message(m: &str) -> String {
    let m = m.trim();
    // Some paths report `#08004Too many connections`.
    // A SQLSTATE is five ASCII letters or digits; anything else is left alone (slicing five bytes
    // off a message starting with `#é` would split a character and panic).
    let m = match m.strip_prefix('#') {
        Some(rest)
            if rest.len() >= 5 && rest.as_bytes()[..5].iter().all(u8::is_ascii_alphanumeric) =>
        {
            &rest[5..]
        }
        _ => m,
    };
    m.trim().to_string()
}

/// Whether the error text says 1040 even though it did not arrive as a normal server error
/// (error packet instead of the greeting, or inside a TLS complaint).
fn mentions_too_many_connections(text: &str) -> bool {
    text.contains("Too many connections") || text.contains("1040")
}

/// Classify an error that happened while connecting to `target`.
pub fn connect_error(e: &MyError, target: &str, user: &str) -> AppError {
    if let MyError::MySqlError(m) = e
        && m.code == code::TOO_MANY_CONNECTIONS
    {
        // 08004 comes after the handshake (the reserved slot is still free); a bare error packet
        // instead of the greeting carries HY000 (every slot, the reserved one too, is taken).
        return server_full(target, m.state != "08004");
    }
    if let Some(code) = server_code(e) {
        return server_error_on_connect(code, &server_message(e), target, user);
    }
    let text = e.to_string();
    if mentions_too_many_connections(&text) {
        return server_full(target, true);
    }
    match e {
        MyError::IoError(io) => io_error_on_connect(io, target),
        MyError::TlsError(t) => {
            AppError::new(ErrorKind::Tls, format!("TLS with {target} failed: {t}")).hint(
                "check --ssl-ca and the server certificate, or use --ssl-mode=PREFERRED/DISABLED",
            )
        }
        MyError::DriverError(mysql::DriverError::TlsNotSupported) => AppError::new(
            ErrorKind::Tls,
            format!("{target} does not support TLS, but --ssl-mode requires it"),
        )
        .hint("enable TLS on the server, or use --ssl-mode=PREFERRED"),
        MyError::DriverError(mysql::DriverError::CouldNotConnect(Some((_, desc, kind)))) => {
            io_error_on_connect(&io::Error::new(*kind, desc.clone()), target)
        }
        MyError::DriverError(mysql::DriverError::ConnectTimeout | mysql::DriverError::Timeout) => {
            io_error_on_connect(&io::Error::from(io::ErrorKind::TimedOut), target)
        }
        MyError::DriverError(d) => AppError::new(
            ErrorKind::Other,
            format!("could not connect to {target}: {d}"),
        ),
        other => AppError::new(
            ErrorKind::Other,
            format!("could not connect to {target}: {other}"),
        ),
    }
}

/// A refusal by the server during login.
fn server_error_on_connect(code: u16, msg: &str, target: &str, user: &str) -> AppError {
    match code {
        code::TOO_MANY_USER_CONNECTIONS | code::USER_LIMIT_REACHED => AppError::new(
            ErrorKind::UserLimit,
            format!("{target} refused {user}: per-user connection limit reached (ERROR {code}: {msg})"),
        )
        .hint(if code == code::USER_LIMIT_REACHED {
            "this account's MAX_USER_CONNECTIONS is used up: connect as another account, or raise it with ALTER USER ... WITH MAX_USER_CONNECTIONS"
        } else {
            "the global max_user_connections is used up for this account: connect as another account (e.g. an admin)"
        }),
        code::ACCESS_DENIED | code::DB_ACCESS_DENIED => AppError::new(
            ErrorKind::AccessDenied,
            format!("{target} denied access (ERROR {code}: {msg})"),
        )
        .hint("check the user (-u), the password (-p, MYSQL_PWD, ~/.my.cnf) and the account's host part"),
        _ => AppError::new(ErrorKind::Other, format!("{target} refused the connection (ERROR {code}: {msg})")),
    }
}

/// The server is full. `before_greeting`: even the reserved SUPER/CONNECTION_ADMIN slot is taken.
pub fn server_full(target: &str, before_greeting: bool) -> AppError {
    let message = if before_greeting {
        format!(
            "{target} is full: ERROR 1040 Too many connections, before the greeting (all max_connections + 1 slots are taken, including the one reserved for admins)"
        )
    } else {
        format!("{target} is full: ERROR 1040 Too many connections (max_connections reached)")
    };
    AppError::new(ErrorKind::ServerFull, message).hint(
        "an account with SUPER or CONNECTION_ADMIN (MariaDB: CONNECTION ADMIN) gets one reserved extra connection: \
         retry as such an account (-u admin); or use MySQL's admin_port / MariaDB's extra_port with --admin-port PORT",
    )
}

fn io_error_on_connect(io: &io::Error, target: &str) -> AppError {
    use io::ErrorKind as K;
    let text = io.to_string();
    match io.kind() {
        K::ConnectionRefused => AppError::new(
            ErrorKind::Unreachable,
            format!("nothing listens at {target} (connection refused)"),
        )
        .hint("check the host and port (-h, -P), and that the server is running"),
        K::NotFound => AppError::new(
            ErrorKind::Unreachable,
            format!("no server socket at {target}"),
        )
        .hint("give the socket with -S PATH, or connect over TCP with -h 127.0.0.1"),
        K::PermissionDenied => AppError::new(
            ErrorKind::Unreachable,
            format!("permission denied opening {target}"),
        )
        .hint("check the socket's permissions, or connect over TCP with -h 127.0.0.1"),
        K::TimedOut | K::WouldBlock => AppError::new(
            ErrorKind::Timeout,
            format!("{target} did not answer in time (connect timeout)"),
        )
        .hint("check the network path and firewall, or raise --connect-timeout"),
        K::UnexpectedEof | K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => {
            AppError::new(
                ErrorKind::Unreachable,
                format!("{target} closed the connection during login ({text})"),
            )
            .hint("the server may be out of file descriptors or threads: check its error log")
        }
        _ if text.contains("lookup")
            || text.contains("resolve")
            || text.contains("Name or service") =>
        {
            AppError::new(
                ErrorKind::Unreachable,
                format!("cannot resolve the host of {target} ({text})"),
            )
            .hint("check the host name (-h) and DNS")
        }
        _ if text.contains("unreachable") => AppError::new(
            ErrorKind::Unreachable,
            format!("{target} is unreachable ({text})"),
        )
        .hint("check the host name and the network route"),
        _ => AppError::new(
            ErrorKind::Unreachable,
            format!("could not connect to {target}: {text}"),
        ),
    }
}

/// The server accepted the connection but never sent its greeting.
pub fn no_greeting(target: &str, after: std::time::Duration) -> AppError {
    AppError::new(
        ErrorKind::Timeout,
        format!(
            "{target} accepted the connection but sent no greeting within {} (a server out of file descriptors or threads does this)",
            humantime::format_duration(after)
        ),
    )
    .hint("check the server's error log for 'Too many open files' / 'Can't create thread'; raise --connect-timeout if the server is just slow")
}

/// Classify an error that happened on an established connection.
pub fn query_error(e: &MyError, target: &str, what: &str) -> AppError {
    if let Some(code) = server_code(e) {
        let msg = server_message(e);
        return match code {
            code::SPECIFIC_ACCESS_DENIED | code::TABLE_ACCESS_DENIED | code::KILL_DENIED => {
                AppError::new(ErrorKind::Privilege, format!("{what}: {msg} (ERROR {code})"))
                    .hint("grant the missing privilege to this account, or connect as an admin")
            }
            code::STATEMENT_TIMEOUT | code::QUERY_TIMEOUT | code::LOCK_WAIT_TIMEOUT | code::QUERY_INTERRUPTED => {
                AppError::new(ErrorKind::Timeout, format!("{what}: {msg} (ERROR {code})"))
                    .hint("the server is too busy to answer in time: raise --query-timeout, or look at its locks")
            }
            _ => AppError::new(ErrorKind::Other, format!("{what}: {msg} (ERROR {code})")),
        };
    }
    match e {
        // A read timeout surfaces as EAGAIN (os error 11), often wrapped in a codec error.
        MyError::IoError(io)
            if matches!(
                io.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
        {
            timed_out(target, what)
        }
        MyError::CodecError(c) if is_timeout_text(&c.to_string()) => timed_out(target, what),
        MyError::IoError(_)
        | MyError::CodecError(_)
        | MyError::DriverError(
            mysql::DriverError::PacketOutOfSync | mysql::DriverError::UnexpectedPacket,
        ) => AppError::new(
            ErrorKind::ConnectionLost,
            format!(
                "{what}: lost the connection to {target} ({})",
                lost_detail(e)
            ),
        )
        .hint(
            "the server went away (restart, crash, or our session was killed): check it and retry",
        ),
        other => AppError::new(ErrorKind::Other, format!("{what}: {other}")),
    }
}

/// The driver's reason without its Debug-style wrapper (`IoError { server disconnected }`).
fn lost_detail(e: &MyError) -> String {
    match e {
        MyError::IoError(io) => io.to_string(),
        MyError::CodecError(c) => c.to_string(),
        other => other.to_string(),
    }
}

fn is_timeout_text(t: &str) -> bool {
    t.contains("os error 11") || t.contains("timed out") || t.contains("temporarily unavailable")
}

fn timed_out(target: &str, what: &str) -> AppError {
    AppError::new(
        ErrorKind::Timeout,
        format!("{what}: {target} did not answer within the query timeout"),
    )
    .hint("raise --query-timeout, or check the server's load")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_err(code: u16, state: &str, message: &str) -> MyError {
        MyError::MySqlError(mysql::MySqlError {
            state: state.into(),
            message: message.into(),
            code,
        })
    }

    #[test]
    fn too_many_connections_in_every_shape() {
        let e = connect_error(
            &server_err(1040, "08004", "Too many connections"),
            "db:3306",
            "app",
        );
        assert_eq!(e.kind, ErrorKind::ServerFull);
        assert!(e.hint.as_deref().unwrap().contains("CONNECTION_ADMIN"));
        let io = MyError::IoError(io::Error::other(
            "Received error packet before completion of TLS handshake: 1040 - Too many connections",
        ));
        assert_eq!(
            connect_error(&io, "db:3306", "app").kind,
            ErrorKind::ServerFull
        );
    }

    #[test]
    fn login_refusals() {
        assert_eq!(
            connect_error(
                &server_err(
                    1045,
                    "28000",
                    "Access denied for user 'u'@'h' (using password: YES)"
                ),
                "t",
                "u"
            )
            .kind,
            ErrorKind::AccessDenied
        );
        assert_eq!(
            connect_error(
                &server_err(
                    1203,
                    "42000",
                    "User u already has more than 'max_user_connections' active connections"
                ),
                "t",
                "u"
            )
            .kind,
            ErrorKind::UserLimit
        );
        assert_eq!(
            connect_error(&server_err(1226, "42000", "x"), "t", "u").kind,
            ErrorKind::UserLimit
        );
    }

    #[test]
    fn network_failures() {
        let refused = MyError::IoError(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(
            connect_error(&refused, "t", "u").kind,
            ErrorKind::Unreachable
        );
        let timeout = MyError::IoError(io::Error::from(io::ErrorKind::TimedOut));
        assert_eq!(connect_error(&timeout, "t", "u").kind, ErrorKind::Timeout);
        let dns = MyError::IoError(io::Error::other(
            "failed to lookup address information: Name or service not known",
        ));
        assert_eq!(connect_error(&dns, "t", "u").kind, ErrorKind::Unreachable);
    }

    #[test]
    fn strips_sqlstate_prefix() {
        assert_eq!(
            clean_message("#08004Too many connections"),
            "Too many connections"
        );
        assert_eq!(
            clean_message("Too many connections"),
            "Too many connections"
        );
    }

    /// Found while auditing for panics: a server message starting with `#` and a multi-byte
    /// character (a localized error message) was sliced inside a character.
    #[test]
    fn non_sqlstate_hash_prefix_is_kept_and_never_panics() {
        assert_eq!(
            clean_message("#éééé trop de connexions"),
            "#éééé trop de connexions"
        );
        assert_eq!(clean_message("#abc"), "#abc");
        assert_eq!(clean_message("#"), "#");
        assert_eq!(clean_message("#HY000"), "");
    }

    #[test]
    fn query_errors() {
        assert_eq!(
            query_error(
                &server_err(
                    1227,
                    "42000",
                    "Access denied; you need (at least one of) the PROCESS privilege(s)"
                ),
                "t",
                "reading"
            )
            .kind,
            ErrorKind::Privilege
        );
        assert_eq!(
            query_error(
                &server_err(
                    1969,
                    "70100",
                    "Query execution was interrupted (max_statement_time exceeded)"
                ),
                "t",
                "reading"
            )
            .kind,
            ErrorKind::Timeout
        );
        let lost = MyError::IoError(io::Error::from(io::ErrorKind::UnexpectedEof));
        assert_eq!(
            query_error(&lost, "t", "reading").kind,
            ErrorKind::ConnectionLost
        );
        let gone = query_error(
            &MyError::IoError(io::Error::other("server disconnected")),
            "db:3306",
            "reading global status",
        );
        assert_eq!(
            gone.message,
            "reading global status: lost the connection to db:3306 (server disconnected)"
        );
    }
}
