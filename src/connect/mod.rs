//! Opening exactly one connection to the server, the way the mysql client would.
//!
//! One connection per run and per target, never a pool: on a full server every slot counts.
//! `prefer_socket(false)` stops the driver from opening a second connection to "upgrade" to the
//! socket. The whole login (TCP connect, greeting, authentication) is bounded by
//! `--connect-timeout`, so a server that accepts and never answers cannot hang us.

pub mod error;
pub mod optfile;
pub mod options;
pub mod replay;
pub mod url;

use std::sync::mpsc;
use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder, SslOpts};

use crate::cli::SslMode;
use crate::exit::{AppError, ErrorKind};

pub use options::{ConnectOptions, Env, ProcessEnv, Resolver, Secret, Transport};

/// An open connection and how we got it.
pub struct Connection {
    pub conn: Conn,
    /// host:port or socket path, for messages.
    pub target: String,
    /// True when we came in through `--admin-port`.
    pub via_admin_port: bool,
    pub query_timeout: Duration,
}

impl Connection {
    /// Run statements whose results we do not need.
    pub fn exec_drop(&mut self, sql: &str, what: &str) -> Result<(), AppError> {
        self.conn
            .query_drop(sql)
            .map_err(|e| error::query_error(&e, &self.target, what))
    }

    /// Rows of one statement, with error classification.
    pub fn rows(&mut self, sql: &str, what: &str) -> Result<Vec<mysql::Row>, AppError> {
        self.conn
            .query(sql)
            .map_err(|e| error::query_error(&e, &self.target, what))
    }

    /// Several statements in one round trip (multi-statement text protocol). One entry per
    /// statement, in order; after the first failing statement the server runs no more, so the
    /// remaining entries repeat that error.
    pub fn batch(
        &mut self,
        stmts: &[String],
        what: &str,
    ) -> Vec<Result<Vec<mysql::Row>, AppError>> {
        let sql = stmts.join(";\n");
        let mut out: Vec<Result<Vec<mysql::Row>, AppError>> = Vec::with_capacity(stmts.len());
        match self.conn.query_iter(sql) {
            Err(e) => {
                let err = error::query_error(&e, &self.target, what);
                out.push(Err(err));
            }
            Ok(mut result) => {
                while let Some(set) = result.iter() {
                    let rows: Result<Vec<mysql::Row>, mysql::Error> = set.collect();
                    match rows {
                        Ok(r) => out.push(Ok(r)),
                        Err(e) => {
                            out.push(Err(error::query_error(&e, &self.target, what)));
                            break;
                        }
                    }
                }
            }
        }
        // Fill in the statements the server never ran.
        let last_err = out.iter().rev().find_map(|r| r.as_ref().err().cloned());
        while out.len() < stmts.len() {
            out.push(Err(last_err.clone().unwrap_or_else(|| {
                AppError::new(
                    ErrorKind::Other,
                    format!("{what}: the server returned fewer results than statements"),
                )
            })));
        }
        out
    }

    /// The server's connection id for us.
    pub fn id(&self) -> u64 {
        u64::from(self.conn.connection_id())
    }
}

/// Connect, trying `--admin-port` first when given (and falling back to the normal port when
/// nothing answers there).
pub fn open(opts: &ConnectOptions) -> Result<Connection, AppError> {
    if let (Some(admin), Transport::Tcp { host, .. }) = (opts.admin_port, &opts.transport) {
        let mut admin_opts = opts.clone();
        admin_opts.transport = Transport::Tcp {
            host: host.clone(),
            port: admin,
        };
        match open_once(&admin_opts) {
            Ok(mut c) => {
                c.via_admin_port = true;
                return Ok(c);
            }
            Err(e) if matches!(e.kind, ErrorKind::Unreachable | ErrorKind::Timeout) => {}
            Err(e) => return Err(e),
        }
    }
    open_once(opts)
}

fn open_once(opts: &ConnectOptions) -> Result<Connection, AppError> {
    let target = opts.target();
    let tls = tls_for(opts)?;
    match connect_with_deadline(opts, tls.clone()) {
        // PREFERRED: the driver cannot fall back inside one handshake, so a server without TLS
        // costs one retry in plain text (only on remote TCP; loopback and sockets never try TLS).
        Err(e)
            if opts.ssl_mode == SslMode::Preferred && tls.is_some() && e.kind == ErrorKind::Tls =>
        {
            connect_with_deadline(opts, None)
        }
        other => other,
    }
    .map(|conn| Connection {
        conn,
        target,
        via_admin_port: false,
        query_timeout: opts.query_timeout,
    })
}

/// The TLS settings for this mode, or None for plain text.
fn tls_for(opts: &ConnectOptions) -> Result<Option<SslOpts>, AppError> {
    if matches!(opts.transport, Transport::Socket(_)) {
        // TLS does not apply to a Unix socket; REQUIRED over a socket is satisfied by the socket
        // itself being local, as in the mysql client.
        return Ok(None);
    }
    let base = || {
        let mut s = SslOpts::default();
        if let (Some(cert), Some(key)) = (&opts.ssl_cert, &opts.ssl_key) {
            s = s.with_client_identity(Some(mysql::ClientIdentity::new(
                std::borrow::Cow::<'static, std::path::Path>::Owned(cert.clone()),
                std::borrow::Cow::<'static, std::path::Path>::Owned(key.clone()),
            )));
        }
        s
    };
    Ok(match opts.ssl_mode {
        SslMode::Disabled => None,
        SslMode::Preferred if opts.is_local() => None,
        SslMode::Preferred | SslMode::Required => Some(
            base()
                .with_danger_accept_invalid_certs(true)
                .with_danger_skip_domain_validation(true),
        ),
        SslMode::VerifyCa | SslMode::VerifyIdentity => {
            let ca = opts.ssl_ca.clone().ok_or_else(|| {
                AppError::usage("--ssl-mode=VERIFY_CA/VERIFY_IDENTITY needs --ssl-ca FILE")
            })?;
            Some(
                base()
                    .with_root_cert_path(Some(ca))
                    .with_danger_skip_domain_validation(opts.ssl_mode == SslMode::VerifyCa),
            )
        }
    })
}

fn connect_with_deadline(opts: &ConnectOptions, tls: Option<SslOpts>) -> Result<Conn, AppError> {
    let target = opts.target();
    let mut b = OptsBuilder::new()
        .user(Some(opts.user.clone()))
        .pass(opts.password.as_ref().map(|p| p.0.clone()))
        .db_name(opts.database.clone())
        .prefer_socket(false)
        .tcp_connect_timeout(Some(opts.connect_timeout))
        .read_timeout(Some(opts.query_timeout))
        .write_timeout(Some(opts.query_timeout))
        .stmt_cache_size(0)
        .connect_attrs(Some(std::collections::HashMap::from([(
            "program_name",
            "conncheck",
        )])))
        .ssl_opts(tls);
    b = match &opts.transport {
        Transport::Tcp { host, port } => b.ip_or_hostname(Some(host.clone())).tcp_port(*port),
        Transport::Socket(p) => b.socket(Some(p.to_string_lossy().into_owned())),
    };
    // The driver's read timeout is the query timeout; the login as a whole gets the (usually
    // shorter) connect timeout by waiting on a thread. A login that overruns is abandoned: the
    // thread dies with the process, and the server frees the half-open slot by itself.
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("connect".into())
        .spawn(move || {
            let _ = tx.send(Conn::new(b));
        })
        .map_err(|e| {
            AppError::new(
                ErrorKind::Other,
                format!("cannot start connect thread: {e}"),
            )
        })?;
    match rx.recv_timeout(opts.connect_timeout + Duration::from_millis(100)) {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(error::connect_error(&e, &target, &opts.user)),
        Err(_) => Err(error::no_greeting(&target, opts.connect_timeout)),
    }
}
