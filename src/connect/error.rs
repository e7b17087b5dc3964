//! Turning driver errors into one clear message, a hint, and the exit code's kind.
//!
//! ERROR 1040 arrives in two shapes (https://mariadb.com/kb/en/e1040/): as a normal error after
//! the handshake (SQLSTATE 08004, the reserved slot still free), and as a bare error packet
//! instead of the greeting (all max_connections + 1 slots taken), which the driver also reports
//! as a server error with its code. Both become [`ErrorKind::ServerFull`]. The kind is decided
//! from the server's error code only, never from free text: a port, a host name or an operating
//! system message that happens to contain `1040` is not a full server. Server text quoted in a
//! message passes through [`crate::text::escape`]. Messages never contain a password: the
//! driver's errors do not carry one, and we never add one.

use std::io;

use mysql::Error as MyError;

use crate::exit::{AppError, ErrorKind, Stage};

/// Server error codes we treat specially.
pub mod code {
    /// ER_CON_COUNT_ERROR: Too many connections.
    pub const TOO_MANY_CONNECTIONS: u16 = 1040;
    /// ER_DBACCESS_DENIED_ERROR.
    pub const DB_ACCESS_DENIED: u16 = 1044;
    /// ER_ACCESS_DENIED_ERROR.
    pub const ACCESS_DENIED: u16 = 1045;
    /// ER_ACCESS_DENIED_NO_PASSWORD_ERROR (MySQL 5.7+: e.g. an auth_socket account).
    pub const ACCESS_DENIED_NO_PASSWORD: u16 = 1698;
    /// MySQL ER_SECURE_TRANSPORT_REQUIRED: `require_secure_transport=ON` and we came in plain.
    pub const SECURE_TRANSPORT_REQUIRED: u16 = 3159;
    /// MariaDB's ER_SECURE_TRANSPORT_REQUIRED (10.5.2+), same meaning.
    pub const MARIADB_SECURE_TRANSPORT_REQUIRED: u16 = 4188;
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
    /// ER_HOST_IS_BLOCKED: our host made max_connect_errors connection errors in a row.
    pub const HOST_IS_BLOCKED: u16 = 1129;
    /// ER_DBACCESS / table access denied.
    pub const TABLE_ACCESS_DENIED: u16 = 1142;
    /// ER_QUERY_INTERRUPTED.
    pub const QUERY_INTERRUPTED: u16 = 1317;
    /// MariaDB ER_STATEMENT_TIMEOUT.
    pub const STATEMENT_TIMEOUT: u16 = 1969;
    /// MySQL ER_QUERY_TIMEOUT.
    pub const QUERY_TIMEOUT: u16 = 3024;
    /// ER_LOCK_WAIT_TIMEOUT.
    pub const LOCK_WAIT_TIMEOUT: u16 = 1205;
    /// ER_UNKNOWN_TABLE (e.g. `information_schema.METADATA_LOCK_INFO` without its plugin).
    pub const UNKNOWN_TABLE: u16 = 1109;
}

/// The server error code, if the driver error is a server error.
pub fn server_code(e: &MyError) -> Option<u16> {
    match e {
        MyError::MySqlError(m) => Some(m.code),
        _ => None,
    }
}

/// The server message without driver decoration (`#08004` prefixes, `ERROR nnnn (...)`), with
/// control characters escaped so that it is safe to show on a terminal.
pub fn server_message(e: &MyError) -> String {
    let m = match e {
        MyError::MySqlError(m) => clean_message(&m.message),
        other => clean_message(&other.to_string()),
    };
    crate::text::escape(&m).into_owned()
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

/// Classify an error that happened while connecting to `target`: the kind, the server's code
/// (if any) and the stage ([`Stage::Greeting`] for a bare error packet instead of the greeting).
pub fn connect_error(e: &MyError, target: &str, user: &str) -> AppError {
    if let MyError::MySqlError(m) = e
        && m.code == code::TOO_MANY_CONNECTIONS
    {
        // 08004 comes after the handshake (the reserved slot is still free); a bare error packet
        // instead of the greeting carries HY000 (every slot, the reserved one too, is taken).
        return server_full(target, m.state != "08004");
    }
    if let Some(code) = server_code(e) {
        return server_error_on_connect(code, &server_message(e), target, user)
            .server_code(code)
            .at(Stage::Connect);
    }
    transport_error(e, target).at(Stage::Connect)
}

/// A connect failure that is not a server's error packet: network, TLS, protocol, driver.
fn transport_error(e: &MyError, target: &str) -> AppError {
    if let Some(tls) = tls_failure(e, target) {
        return tls;
    }
    match e {
        MyError::IoError(io) => io_error_on_connect(io, target),
        MyError::CodecError(mysql_common::proto::codec::error::PacketCodecError::Io(io)) => {
            io_error_on_connect(io, target)
        }
        MyError::CodecError(c) => AppError::new(
            ErrorKind::Unreachable,
            format!("{target} does not speak the MySQL protocol ({c})"),
        )
        .hint("check the port (-P): is a MySQL or MariaDB server listening there?"),
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
        MyError::DriverError(
            mysql::DriverError::UnexpectedPacket
            | mysql::DriverError::PacketOutOfSync
            | mysql::DriverError::Protocol41NotSet
            | mysql::DriverError::UnsupportedProtocol(_),
        ) => AppError::new(
            ErrorKind::Unreachable,
            format!(
                "{target} does not speak the MySQL protocol ({})",
                crate::text::escape(&e.to_string())
            ),
        )
        .hint("check the port (-P): is a MySQL or MariaDB server listening there?"),
        MyError::DriverError(d) => AppError::new(
            ErrorKind::Other,
            format!(
                "could not connect to {target}: {}",
                crate::text::escape(&d.to_string())
            ),
        ),
        other => AppError::new(
            ErrorKind::Other,
            format!(
                "could not connect to {target}: {}",
                crate::text::escape(&other.to_string())
            ),
        ),
    }
}

/// A TLS failure anywhere in the error: the driver's own TLS error, or a rustls error that
/// surfaced as an I/O error of the encrypted stream (unknown issuer, name mismatch ...).
fn tls_failure(e: &MyError, target: &str) -> Option<AppError> {
    let io = match e {
        MyError::TlsError(t) => return Some(tls_error(target, &t.to_string())),
        MyError::IoError(io)
        | MyError::CodecError(mysql_common::proto::codec::error::PacketCodecError::Io(io)) => io,
        _ => return None,
    };
    let inner = io.get_ref()?;
    let tls = inner.downcast_ref::<rustls::Error>()?;
    Some(tls_error(target, &tls_reason(tls)))
}

/// rustls' reason in words a DBA knows.
fn tls_reason(e: &rustls::Error) -> String {
    use rustls::{CertificateError as C, Error as R};
    match e {
        R::InvalidCertificate(C::UnknownIssuer) => {
            "the server certificate is not signed by the CA given with --ssl-ca (unknown issuer)"
                .into()
        }
        R::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            "the server certificate is not valid for this host name (VERIFY_IDENTITY)".into()
        }
        R::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            "the server certificate has expired".into()
        }
        R::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            "the server certificate is not valid yet".into()
        }
        R::InvalidCertificate(other) => format!("the server certificate is invalid ({other:?})"),
        other => other.to_string(),
    }
}

fn tls_error(target: &str, reason: &str) -> AppError {
    AppError::new(
        ErrorKind::Tls,
        format!("TLS with {target} failed: {}", crate::text::escape(reason)),
    )
    .hint("check --ssl-ca and the server certificate, or use --ssl-mode=PREFERRED/DISABLED")
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
        code::ACCESS_DENIED | code::DB_ACCESS_DENIED | code::ACCESS_DENIED_NO_PASSWORD => AppError::new(
            ErrorKind::AccessDenied,
            format!("{target} denied access (ERROR {code}: {msg})"),
        )
        .hint("check the user (-u), the password (-p, MYSQL_PWD, ~/.my.cnf) and the account's host part"),
        // docs/refusals.md "ERROR 1129": a host in the host cache, blocked until it is emptied.
        code::HOST_IS_BLOCKED => AppError::new(
            ErrorKind::Other,
            format!("{target} refused the connection (ERROR {code}: {msg})"),
        )
        .hint("this client host is blocked after max_connect_errors connection errors: from another host or the server's socket run FLUSH HOSTS (MySQL 8.0.23+: TRUNCATE TABLE performance_schema.host_cache), then `conncheck diagnose` names what keeps failing (host-blocked)"),
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
    AppError::new(ErrorKind::ServerFull, message)
        .server_code(code::TOO_MANY_CONNECTIONS)
        .at(if before_greeting {
            Stage::Greeting
        } else {
            Stage::Connect
        })
        .hint(
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
        // The first bytes did not parse as a greeting: something else listens on this port.
        K::InvalidData => AppError::new(
            ErrorKind::Unreachable,
            format!(
                "{target} does not speak the MySQL protocol ({})",
                crate::text::escape(&text)
            ),
        )
        .hint("check the port (-P): is a MySQL or MariaDB server listening there?"),
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
            "{target} accepted the connection but sent no greeting within {}, or did not finish the login in that time (a server out of file descriptors or threads does this)",
            humantime::format_duration(after)
        ),
    )
    .hint("check the server's error log for 'Too many open files' / 'Can't create thread'; raise --connect-timeout if the server is just slow")
    .at(Stage::Connect)
}

/// A bug, not a condition of the server: a panic in the driver while connecting.
pub fn internal(target: &str, what: &str) -> AppError {
    AppError::new(
        ErrorKind::Other,
        format!(
            "internal error while connecting to {target}: {}",
            crate::text::escape(what)
        ),
    )
    .hint("this is a bug in conncheck or its MySQL driver: please report it with the server version and the account's authentication plugin")
    .at(Stage::Connect)
}

/// A statement (or batch) ran past its `--query-timeout` deadline as a whole; the connection was
/// shut down.
pub fn deadline_passed(target: &str, what: &str, budget: std::time::Duration) -> AppError {
    AppError::new(
        ErrorKind::Timeout,
        format!(
            "{what}: {target} did not answer within the query timeout ({} for the statement as a whole); the connection was closed",
            humantime::format_duration(budget)
        ),
    )
    .hint("raise --query-timeout, or check the server's load and the network")
    .at(Stage::Query)
}

/// Classify an error that happened on an established connection ([`Stage::Query`], with the
/// server's code when the server refused the statement).
pub fn query_error(e: &MyError, target: &str, what: &str) -> AppError {
    classify_query_error(e, target, what).at(Stage::Query)
}

fn classify_query_error(e: &MyError, target: &str, what: &str) -> AppError {
    if let Some(code) = server_code(e) {
        let msg = server_message(e);
        let classified = match code {
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
        return classified.server_code(code);
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
        // The bare error packet instead of the greeting: the driver parses it as a server error.
        let e = connect_error(
            &server_err(1040, "HY000", "Too many connections"),
            "db:3306",
            "app",
        );
        assert_eq!(e.kind, ErrorKind::ServerFull);
        assert!(e.message.contains("before the greeting"), "{}", e.message);
        assert_eq!((e.code, e.stage), (Some(1040), Some(Stage::Greeting)));
        let after = connect_error(
            &server_err(1040, "08004", "Too many connections"),
            "db:3306",
            "app",
        );
        assert_eq!(
            (after.code, after.stage),
            (Some(1040), Some(Stage::Connect))
        );
    }

    /// Found by the adversarial review: any text containing 1040 (a port, a host name) was
    /// taken as a full server.
    #[test]
    fn free_text_never_makes_a_full_server() {
        for text in [
            "Too many connections",
            "failed to lookup address information: db1040.invalid",
            "could not connect to 127.0.0.1:1040",
        ] {
            let e = connect_error(&MyError::IoError(io::Error::other(text)), "t:1040", "u");
            assert_ne!(e.kind, ErrorKind::ServerFull, "{text}");
        }
        let refused = MyError::IoError(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(
            connect_error(&refused, "127.0.0.1:1040", "u").kind,
            ErrorKind::Unreachable
        );
    }

    #[test]
    fn access_denied_without_password_is_access_denied() {
        let e = connect_error(
            &server_err(1698, "28000", "Access denied for user 'root'@'localhost'"),
            "t",
            "root",
        );
        assert_eq!(e.kind, ErrorKind::AccessDenied);
    }

    #[test]
    fn server_text_in_messages_is_escaped() {
        let e = connect_error(&server_err(1045, "28000", "denied\x1b[2J\x07"), "t", "u");
        assert!(
            !e.message.chars().any(|c| c.is_control()),
            "{:?}",
            e.message
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
        let blocked = connect_error(
            &server_err(
                1129,
                "HY000",
                "Host '10.0.0.9' is blocked because of many connection errors; unblock with 'mariadb-admin flush-hosts'",
            ),
            "t",
            "u",
        );
        assert!(
            blocked.message.contains("ERROR 1129"),
            "{}",
            blocked.message
        );
        assert!(blocked.hint.unwrap().contains("FLUSH HOSTS"));
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
