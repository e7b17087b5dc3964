//! Opening exactly one connection to the server, the way the mysql client would.
//!
//! One connection per run and per target, never a pool: on a full server every slot counts.
//! `prefer_socket(false)` stops the driver from opening a second connection to "upgrade" to the
//! socket.
//!
//! Deadlines hold whatever the server sends. The whole login (TCP connect, greeting, TLS,
//! authentication) is bounded by `--connect-timeout`: it runs on a thread that is abandoned when
//! the deadline passes. Each round trip (a statement, or a batch of statements sent together) is
//! bounded as a whole by `--query-timeout`: a watchdog thread shuts the socket down when the
//! deadline passes, so a server that trickles one byte a second cannot keep us past it (the
//! socket read timeout alone restarts with every byte).

pub mod backoff;
mod driver_thread;
pub mod error;
pub mod flags;
pub mod hostport;
pub mod loginpath;
pub mod optfile;
pub mod options;
pub mod persistent;
pub mod replay;
mod retry;
pub mod server_key;
pub mod statement_log;
pub mod url;
pub mod warm;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder, SslOpts};

use crate::exit::{AppError, ErrorKind};

pub use backoff::ReservedSlot;
use driver_thread::{CONNECT_THREAD, panic_text, quiet_connect_panics};
pub use flags::{ConnFlags, SslMode};
pub use options::{ConnectOptions, Env, ProcessEnv, Resolver, Transport};
use server_key::KeyPolicy;

/// An open connection and how we got it.
pub struct Connection {
    /// Private: every statement goes through [`Connection::send`] (`--debug` logs it there).
    conn: Conn,
    /// host:port or socket path, for messages.
    pub target: String,
    /// True when we came in through `--admin-port`.
    pub via_admin_port: bool,
    /// How many tries the login took (more than 1 after refusals with ERROR 1040).
    pub login_tries: u32,
    pub query_timeout: Duration,
    watchdog: Option<Watchdog>,
}

impl Connection {
    fn new(conn: Conn, target: String, query_timeout: Duration) -> Connection {
        let watchdog = Watchdog::start(&conn);
        Connection {
            conn,
            target,
            via_admin_port: false,
            login_tries: 1,
            query_timeout,
            watchdog,
        }
    }

    /// Arm a deadline of `round_trips` × `--query-timeout` for what is sent next; it is
    /// disarmed when the returned guard is dropped. When it passes, the socket is shut down (the
    /// driver's blocked read returns at once; the connection is then unusable) and
    /// [`Deadline::passed`] is true. For code that handles the driver's errors itself:
    /// `let d = c.deadline(1); let r = c.send_rows(sql); if d.passed() { ... }`.
    pub fn deadline(&self, round_trips: usize) -> Deadline {
        let budget = self
            .query_timeout
            .saturating_mul(u32::try_from(round_trips.max(1)).unwrap_or(u32::MAX));
        let watch = self.watchdog.as_ref().map(|w| {
            w.arm(Instant::now() + budget);
            (Arc::clone(&w.shared), Arc::clone(&w.fired))
        });
        Deadline { watch, budget }
    }

    /// Run `f` on the connection under [`Connection::deadline`]. When the deadline passes the
    /// result is a timeout error (exit 15), whatever `f` returned; other errors are classified
    /// by [`error::query_error`].
    pub fn with_deadline<T>(
        &mut self,
        round_trips: usize,
        what: &str,
        f: impl FnOnce(&mut Connection) -> mysql::Result<T>,
    ) -> Result<T, AppError> {
        let deadline = self.deadline(round_trips);
        let result = f(self);
        if deadline.passed() {
            return Err(error::deadline_passed(&self.target, what, deadline.budget));
        }
        result.map_err(|e| error::query_error(&e, &self.target, what).with_source(e))
    }

    /// Send `sql` (one statement, or a batch joined with `;\n`) and read its results with
    /// `read`. The one place a statement leaves this program: with `--debug` it is logged with
    /// the time from sending it to `read` returning ([`statement_log`]). No deadline of its own
    /// (see [`Connection::deadline`]); errors are the driver's, unclassified.
    pub fn send<T>(
        &mut self,
        sql: &str,
        read: impl FnOnce(mysql::QueryResult<'_, '_, '_, mysql::Text>) -> mysql::Result<T>,
    ) -> mysql::Result<T> {
        let started = Instant::now();
        let result = self.conn.query_iter(sql).and_then(read);
        statement_log::record(&self.target, sql, started.elapsed(), result.as_ref().err());
        result
    }

    /// [`send`](Self::send) a statement whose results we do not need (the driver's
    /// `query_drop`: the rest of the results is read and dropped).
    pub fn send_drop(&mut self, sql: &str) -> mysql::Result<()> {
        self.send(sql, |r| {
            drop(r);
            Ok(())
        })
    }

    /// [`send`](Self::send) a statement and collect the rows of its first result set.
    pub fn send_rows(&mut self, sql: &str) -> mysql::Result<Vec<mysql::Row>> {
        self.send(sql, |r| r.collect())
    }

    /// [`send`](Self::send) a statement and keep its first row, if any.
    pub fn send_first(&mut self, sql: &str) -> mysql::Result<Option<mysql::Row>> {
        self.send(sql, |mut r| r.next().transpose())
    }

    /// How many warnings the last statement's OK packet counted.
    pub fn warnings(&self) -> u16 {
        self.conn.warnings()
    }

    /// Run statements whose results we do not need.
    pub fn exec_drop(&mut self, sql: &str, what: &str) -> Result<(), AppError> {
        self.with_deadline(1, what, |c| c.send_drop(sql))
    }

    /// Rows of one statement, with error classification.
    pub fn rows(&mut self, sql: &str, what: &str) -> Result<Vec<mysql::Row>, AppError> {
        self.with_deadline(1, what, |c| c.send_rows(sql))
    }

    /// Several statements in one round trip (multi-statement text protocol). One entry per
    /// statement, in order; after the first failing statement the server runs no more, so the
    /// remaining entries repeat that error. `decode(i, rows)` turns statement `i`'s rows into
    /// its result as they are read, one row at a time: a result set is never held whole (at
    /// 10,000 sessions the rows would double the heap, and with it the page faults).
    pub fn batch<T>(
        &mut self,
        stmts: &[String],
        what: &str,
        decode: &mut dyn FnMut(usize, &mut dyn Iterator<Item = mysql::Row>) -> T,
    ) -> Vec<Result<T, AppError>> {
        let sql = stmts.join(";\n");
        let target = self.target.clone();
        // One round trip: the batch as a whole gets one --query-timeout (its statements are
        // small and bounded on the server side each by the same timeout).
        let collected = self.with_deadline(1, what, |c| {
            let mut sets: Vec<Result<T, AppError>> = Vec::new();
            // A statement that fails mid-batch ends it: its error is its entry, and the round
            // trip is logged with it (`--debug`). An error before any result is the batch's.
            let sent = c.send(&sql, |mut result| {
                while let Some(set) = result.iter() {
                    let mut rows = UntilError {
                        rows: set,
                        error: None,
                    };
                    let decoded = decode(sets.len(), &mut rows);
                    // What the decoder left unread still has to come off the wire before the
                    // next set (and may hold the error that ends this one).
                    rows.by_ref().for_each(drop);
                    match rows.error {
                        None => sets.push(Ok(decoded)),
                        Some(e) => {
                            sets.push(Err(error::query_error(&e, &target, what)));
                            return Err(e);
                        }
                    }
                }
                Ok(())
            });
            match sent {
                Err(e) if !matches!(sets.last(), Some(Err(_))) => Err(e),
                _ => Ok(sets),
            }
        });
        let mut out = match collected {
            Ok(sets) => sets,
            Err(e) => vec![Err(e)],
        };
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

/// The rows of one result set until its first error, which is kept: a decoder reads plain rows,
/// and [`Connection::batch`] reports the error instead of what was decoded before it.
struct UntilError<I> {
    rows: I,
    error: Option<mysql::Error>,
}

impl<I: Iterator<Item = mysql::Result<mysql::Row>>> Iterator for UntilError<I> {
    type Item = mysql::Row;

    fn next(&mut self) -> Option<mysql::Row> {
        if self.error.is_some() {
            return None;
        }
        match self.rows.next()? {
            Ok(row) => Some(row),
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }
}

/// Connect, trying `--admin-port` first when given. Whatever goes wrong there (refused, full,
/// silent, not MySQL), the main port is tried next and a note on stderr says which port was
/// used: a full extra port must never make a healthy server look full. Only a usage error (the
/// same on both ports) stops at the admin port. The first connection of a run: whether the
/// account may take the reserved slot is not known yet (see [`open_as`]).
pub fn open(opts: &ConnectOptions) -> Result<Connection, AppError> {
    open_as(opts, ReservedSlot::Unknown)
}

/// [`open`], for an account whose right to the reserved slot is `slot` (known from an earlier
/// login of this run). On the main port, a refusal with ERROR 1040 before the greeting is
/// retried with jittered waits within `--connect-timeout` ([`backoff::RefusalRetry`]): under a retry
/// storm the clients being refused hold the reserved slot for moments. As many tries as the
/// window allows when the account may take the slot (or `--admin-port` says it is an admin's),
/// at most [`backoff::TRIES_UNKNOWN_ENTITLEMENT`] when that is unknown, none when it may not; a
/// refusal after the greeting (08004) means the server has judged the account and it may not.
pub fn open_as(opts: &ConnectOptions, slot: ReservedSlot) -> Result<Connection, AppError> {
    let key = KeyPolicy::of(opts)?;
    if let (Some(admin), Transport::Tcp { host, port }) = (opts.admin_port, &opts.transport) {
        let mut admin_opts = opts.clone();
        admin_opts.transport = Transport::Tcp {
            host: host.clone(),
            port: admin,
        };
        match open_once(&admin_opts, &key) {
            Ok(mut c) => {
                c.via_admin_port = true;
                return Ok(c);
            }
            // A wrong password is wrong on both ports: a second try would only count as one
            // more failed login (max_connect_errors, FAILED_LOGIN_ATTEMPTS). A password we will
            // not send over this connection we will not send over the other either.
            Err(e)
                if matches!(
                    e.kind,
                    ErrorKind::Usage | ErrorKind::AccessDenied | ErrorKind::InsecureAuth
                ) =>
            {
                return Err(e);
            }
            Err(e) => {
                eprintln!(
                    "conncheck: note: admin port {admin} failed ({}); using the main port {port}",
                    e.message
                );
            }
        }
    }
    let slot = match slot {
        ReservedSlot::Unknown if opts.admin_port.is_some() => ReservedSlot::Entitled,
        other => other,
    };
    retry::open_retrying(opts, slot, |o| open_once(o, &key))
}

impl retry::GotIn for Connection {
    fn got_in(&mut self, tries: u32, after: Duration) {
        self.login_tries = tries;
        if let Some(note) = retry::got_in_note(&self.target, tries, after) {
            eprintln!("{note}");
        }
    }
}

/// One login on `opts`' port, with the TLS fallbacks of `--ssl-mode PREFERRED`.
fn open_once(opts: &ConnectOptions, key: &KeyPolicy) -> Result<Connection, AppError> {
    let target = opts.target();
    let tls = tls_for(opts)?;
    let is_tcp = matches!(opts.transport, Transport::Tcp { .. });
    match connect_with_deadline(opts, tls.clone(), key) {
        // PREFERRED: the driver cannot fall back inside one handshake, so a server without TLS
        // costs one retry in plain text (only on remote TCP; loopback and sockets never try TLS).
        Err(e)
            if opts.ssl_mode == SslMode::Preferred && tls.is_some() && e.kind == ErrorKind::Tls =>
        {
            connect_with_deadline(opts, None, key).map_err(|retry| {
                if retry.key_refused {
                    server_key::refusal(&target, true).into()
                } else {
                    retry
                }
            })
        }
        // PREFERRED on loopback starts in plain text; a caching_sha2_password server that wants
        // the password itself gets it only over TLS (server_key.rs), as the mysql client would
        // have used it: retry once with TLS. When the server has no TLS, we refuse.
        Err(e) if e.key_refused && opts.ssl_mode == SslMode::Preferred && is_tcp => {
            match connect_with_deadline(opts, Some(accept_any_cert(opts)), key) {
                Err(retry) if retry.kind == ErrorKind::Tls => {
                    Err(server_key::refusal(&target, true).into())
                }
                other => other,
            }
        }
        // PREFERRED on loopback starts in plain text; a server with require_secure_transport=ON
        // refuses that (MySQL with 3159, MariaDB with a plain 1045 "Access denied"), where the
        // mariadb/mysql clients would have used TLS: retry once with it. When the server has no
        // TLS at all, the first answer stands.
        Err(e)
            if opts.ssl_mode == SslMode::Preferred
                && tls.is_none()
                && e.secure_transport_required
                && matches!(opts.transport, Transport::Tcp { .. }) =>
        {
            match connect_with_deadline(opts, Some(accept_any_cert(opts)), key) {
                Err(retry) if retry.kind == ErrorKind::Tls => Err(e),
                other => other,
            }
        }
        other => other,
    }
    .map(|conn| Connection::new(conn, target, opts.query_timeout))
    .map_err(|e| e.error)
}

/// Encrypted but not verified, as REQUIRED (and PREFERRED) mean in the mysql client.
fn accept_any_cert(opts: &ConnectOptions) -> SslOpts {
    client_identity(opts)
        .with_danger_accept_invalid_certs(true)
        .with_danger_skip_domain_validation(true)
}

fn client_identity(opts: &ConnectOptions) -> SslOpts {
    let mut s = SslOpts::default();
    if let (Some(cert), Some(key)) = (&opts.ssl_cert, &opts.ssl_key) {
        s = s.with_client_identity(Some(mysql::ClientIdentity::new(
            std::borrow::Cow::<'static, std::path::Path>::Owned(cert.clone()),
            std::borrow::Cow::<'static, std::path::Path>::Owned(key.clone()),
        )));
    }
    s
}

/// `--ssl-ca`, `--ssl-cert` and `--ssl-key` must be readable regular files of at most 1 MiB:
/// checked before connecting so that a typo is a TLS error naming the file, not a network error
/// ("no server socket"), and so that the driver (which reads them whole, possibly more than
/// once) is never handed `/dev/zero` or a pipe.
fn check_tls_files(opts: &ConnectOptions) -> Result<(), AppError> {
    for (flag, path) in [
        ("--ssl-ca", &opts.ssl_ca),
        ("--ssl-cert", &opts.ssl_cert),
        ("--ssl-key", &opts.ssl_key),
    ] {
        let Some(path) = path else { continue };
        // Opened without blocking: a FIFO named here is refused, never waited on.
        if let Err(e) = crate::input::open_regular(path).and_then(|f| {
            let meta = f.metadata()?;
            if meta.len() > crate::input::SMALL_FILE_MAX {
                Err(std::io::Error::other("larger than the 1 MiB limit"))
            } else {
                Ok(())
            }
        }) {
            return Err(AppError::new(
                ErrorKind::Tls,
                format!(
                    "cannot read the {flag} file {}: {e}",
                    crate::text::path(path)
                ),
            )
            .hint(format!("give {flag} a readable PEM file")));
        }
    }
    Ok(())
}

/// The TLS settings for this mode, or None for plain text.
fn tls_for(opts: &ConnectOptions) -> Result<Option<SslOpts>, AppError> {
    if matches!(opts.transport, Transport::Socket(_)) {
        // TLS does not apply to a Unix socket; REQUIRED over a socket is satisfied by the socket
        // itself being local, as in the mysql client.
        return Ok(None);
    }
    if opts.ssl_mode != SslMode::Disabled {
        check_tls_files(opts)?;
    }
    let base = || client_identity(opts);
    Ok(match opts.ssl_mode {
        SslMode::Disabled => None,
        SslMode::Preferred if opts.is_local() => None,
        SslMode::Preferred | SslMode::Required => Some(accept_any_cert(opts)),
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

/// A failed login, whether the server may have refused it for want of TLS, and whether we
/// refused to send the password without TLS (server_key.rs).
struct LoginError {
    error: AppError,
    secure_transport_required: bool,
    key_refused: bool,
}

impl From<AppError> for LoginError {
    fn from(error: AppError) -> Self {
        LoginError {
            key_refused: error.kind == ErrorKind::InsecureAuth,
            error,
            secure_transport_required: false,
        }
    }
}

impl std::ops::Deref for LoginError {
    type Target = AppError;
    fn deref(&self) -> &AppError {
        &self.error
    }
}

/// The client side max_allowed_packet: 1 GiB, the protocol's largest.
const MAX_PACKET: usize = 1 << 30;

/// [`login`], logged with `--debug` ([`statement_log::login`]): the handshake and the
/// authentication, the driver's only round trips before the connection is ours.
fn connect_with_deadline(
    opts: &ConnectOptions,
    tls: Option<SslOpts>,
    key: &KeyPolicy,
) -> Result<Conn, LoginError> {
    let started = Instant::now();
    let with_tls = tls.is_some();
    let result = login(opts, tls, key);
    statement_log::login(
        &opts.target(),
        &opts.user,
        with_tls,
        started.elapsed(),
        result.as_ref().err().map(|e| e.message.as_str()),
    );
    result
}

fn login(opts: &ConnectOptions, tls: Option<SslOpts>, key: &KeyPolicy) -> Result<Conn, LoginError> {
    let target = opts.target();
    // Read by the driver only when the server asks for the password over TCP without TLS.
    let driver_key = key.for_driver()?;
    let mut b = OptsBuilder::new()
        .user(Some(opts.user.clone()))
        .pass(opts.password.as_ref().map(|p| p.0.clone()))
        .db_name(opts.database.clone())
        .prefer_socket(false)
        .tcp_connect_timeout(Some(opts.connect_timeout))
        .read_timeout(Some(opts.query_timeout))
        .write_timeout(Some(opts.query_timeout))
        .stmt_cache_size(0)
        // Given, the driver skips its own `SELECT @@max_allowed_packet` round trip after the
        // login. The protocol's largest (the driver's upper bound, `mysql
        // --max-allowed-packet=1G`): it only bounds what we accept, and a server sends no packet
        // over its own max_allowed_packet, which is at most this.
        .max_allowed_packet(Some(MAX_PACKET))
        .connect_attrs(Some(std::collections::HashMap::from([(
            "program_name",
            "conncheck",
        )])))
        .ssl_opts(tls)
        .server_key_path(driver_key.path.clone());
    b = match &opts.transport {
        Transport::Tcp { host, port } => b.ip_or_hostname(Some(host.clone())).tcp_port(*port),
        Transport::Socket(p) => b.socket(Some(p.to_string_lossy().into_owned())),
    };
    // The driver's read timeout is the query timeout; the login as a whole gets the (usually
    // shorter) connect timeout by waiting on a thread. A login that overruns is abandoned: the
    // thread dies with the process, and the server frees the half-open slot by itself. A panic
    // in the driver is caught and reported as what it is, never as a silent server.
    quiet_connect_panics();
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(CONNECT_THREAD.into())
        .spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Conn::new(b)))
                .map_err(|payload| panic_text(payload.as_ref()));
            // The key's pipe stays open for as long as the login runs.
            drop(driver_key);
            let _ = tx.send(outcome);
        })
        .map_err(|e| {
            AppError::new(
                ErrorKind::Other,
                format!("cannot start connect thread: {e}"),
            )
        })?;
    match rx.recv_timeout(opts.connect_timeout + Duration::from_millis(100)) {
        Ok(Ok(Ok(conn))) => Ok(conn),
        Ok(Ok(Err(e))) if key.refused(&e) => Err(server_key::refusal(&target, false).into()),
        Ok(Ok(Err(e))) => Err(LoginError {
            secure_transport_required: matches!(
                error::server_code(&e),
                Some(
                    error::code::SECURE_TRANSPORT_REQUIRED
                        | error::code::MARIADB_SECURE_TRANSPORT_REQUIRED
                        | error::code::ACCESS_DENIED
                )
            ),
            error: error::connect_error(&e, &target, &opts.user).with_source(e),
            key_refused: false,
        }),
        Ok(Err(panic)) => Err(error::internal(&target, &panic).into()),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(error::internal(&target, "the connect thread ended without an answer").into())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            Err(error::no_greeting(&target, opts.connect_timeout).into())
        }
    }
}

/// An armed deadline from [`Connection::deadline`]; dropping it disarms the watchdog.
pub struct Deadline {
    watch: Option<(Arc<Shared>, Arc<AtomicBool>)>,
    /// The time allowed.
    pub budget: Duration,
}

impl Deadline {
    /// Whether the deadline passed and the connection was shut down.
    pub fn passed(&self) -> bool {
        self.watch
            .as_ref()
            .is_some_and(|(_, fired)| fired.load(Ordering::SeqCst))
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        if let Some((shared, _)) = &self.watch {
            let (lock, cv) = &**shared;
            if let Ok(mut st) = lock.lock() {
                st.deadline = None;
                cv.notify_all();
            }
        }
    }
}

/// Shuts the connection's socket down when a statement's deadline passes. The socket is a
/// duplicate of the driver's descriptor: `shutdown(2)` acts on the socket itself, so the
/// driver's blocked read returns at once.
struct Watchdog {
    shared: Arc<Shared>,
    fired: Arc<AtomicBool>,
}

/// The watchdog's state and the condition variable that wakes it.
type Shared = (Mutex<WatchState>, Condvar);

#[derive(Default)]
struct WatchState {
    deadline: Option<Instant>,
    stop: bool,
}

impl Watchdog {
    fn start(conn: &Conn) -> Option<Watchdog> {
        use std::os::fd::{AsRawFd, BorrowedFd};
        // SAFETY: the descriptor belongs to `conn`, which is alive for this call; we only
        // duplicate it (the duplicate is ours to own and close).
        let fd = unsafe { BorrowedFd::borrow_raw(conn.as_raw_fd()) }
            .try_clone_to_owned()
            .ok()?;
        let socket = std::net::TcpStream::from(fd);
        let shared = Arc::new((Mutex::new(WatchState::default()), Condvar::new()));
        let fired = Arc::new(AtomicBool::new(false));
        let (shared2, fired2) = (Arc::clone(&shared), Arc::clone(&fired));
        std::thread::Builder::new()
            .name("deadline".into())
            .spawn(move || watch(&shared2, &fired2, &socket))
            .ok()?;
        Some(Watchdog { shared, fired })
    }

    fn arm(&self, deadline: Instant) {
        let (lock, cv) = &*self.shared;
        if let Ok(mut st) = lock.lock() {
            st.deadline = Some(deadline);
            cv.notify_all();
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let (lock, cv) = &*self.shared;
        if let Ok(mut st) = lock.lock() {
            st.stop = true;
            cv.notify_all();
        }
    }
}

fn watch(shared: &Shared, fired: &AtomicBool, socket: &std::net::TcpStream) {
    let (lock, cv) = shared;
    let Ok(mut st) = lock.lock() else { return };
    loop {
        if st.stop {
            return;
        }
        st = match st.deadline {
            None => match cv.wait(st) {
                Ok(g) => g,
                Err(_) => return,
            },
            Some(d) if Instant::now() >= d => {
                fired.store(true, Ordering::SeqCst);
                let _ = socket.shutdown(std::net::Shutdown::Both);
                st.deadline = None;
                st
            }
            Some(d) => match cv.wait_timeout(st, d.saturating_duration_since(Instant::now())) {
                Ok((g, _)) => g,
                Err(_) => return,
            },
        };
    }
}
