//! Test support: private, throw-away MariaDB servers for integration tests.
//!
//! Every test file (tests/it/*.rs) gets its own servers; nothing here ever
//! touches a server it did not start itself (in particular not the one that
//! may run on 127.0.0.1:3306).
//!
//! Life cycle of a server:
//! * its files live in a short temp dir `<tmp>/conncheck-tests/sXXXXXX/`
//!   (data/, mysqld.sock, mysqld.pid, error.log, owner);
//! * `mariadbd` is spawned through `setpriv --pdeathsig KILL` from a dedicated
//!   spawner thread that lives as long as the test process, so the server gets
//!   SIGKILL as soon as the test binary exits (this matters for `shared()`,
//!   whose static is never dropped);
//! * a tiny `sh` "cleaner" per server waits on a pipe held by the test process;
//!   when the test process dies (normally or not) it SIGKILLs the server and
//!   removes the temp dir;
//! * as a last resort, `Server::start` removes leftover dirs of dead test
//!   processes.
#![allow(dead_code)]

pub mod child;
pub mod err_proxy;
pub mod fake_server;
pub mod findings;
pub mod proxy;
pub mod pty;
pub mod relief;

use std::collections::HashMap;
use std::fs;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;

/// Read/write timeout of every connection the harness opens.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// TCP connect timeout of every connection the harness opens.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `Server::start` waits for a server to answer.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How many ports `Server::start` tries when the chosen one is taken.
const PORT_ATTEMPTS: usize = 5;

const NOT_FOUND: &str = "mariadbd not found: install it with `apt-get install -y mariadb-server` (scripts/test.sh does this)";

/// Options of a private server.
#[derive(Debug, Clone)]
pub struct ServerOpts {
    pub max_connections: u32,
    /// Appended last to the `mariadbd` command line (so they override ours).
    pub extra_args: Vec<String>,
}

impl Default for ServerOpts {
    fn default() -> Self {
        ServerOpts {
            max_connections: 200,
            extra_args: Vec::new(),
        }
    }
}

/// A private `mariadbd` listening on 127.0.0.1:`port()` and on `socket()`,
/// root with an empty password. Stopped (and its files removed) on drop.
pub struct Server {
    dir: Option<tempfile::TempDir>,
    datadir: PathBuf,
    socket: PathBuf,
    error_log: PathBuf,
    port: u16,
    pid: u32,
    max_connections: u32,
    child: Option<Child>,
    cleaner: Option<(Child, ChildStdin)>,
    /// The program and command line it was started with, for [`Server::restart`].
    command: Option<(PathBuf, Vec<String>)>,
}

impl Server {
    /// Start a private mariadbd and wait until it answers `SELECT 1` over TCP.
    /// Panics (with the tail of error.log) when it does not within 30 s.
    pub fn start(opts: ServerOpts) -> Server {
        let mariadbd = find_program("mariadbd", &[]).unwrap_or_else(|| panic!("{NOT_FOUND}"));
        let base = base_dir();
        fs::create_dir_all(&base)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", base.display()));
        remove_stale_dirs(&base);

        let dir = tempfile::Builder::new()
            .prefix("s")
            .tempdir_in(&base)
            .unwrap_or_else(|e| panic!("cannot create a temp dir in {}: {e}", base.display()));
        let root = dir.path().to_path_buf();
        write_owner(&root);
        let datadir = root.join("data");
        let socket = root.join("mysqld.sock");
        let pid_file = root.join("mysqld.pid");
        let error_log = root.join("error.log");
        assert!(
            socket.as_os_str().len() < 100,
            "socket path too long: {}",
            socket.display()
        );

        // From here on, `server`'s Drop (also on panic) and, should this
        // process die, the cleaner take care of the directory.
        let mut server = Server {
            cleaner: spawn_cleaner(&root),
            dir: Some(dir),
            datadir,
            socket,
            error_log,
            port: 0,
            pid: 0,
            max_connections: opts.max_connections,
            child: None,
            command: None,
        };

        let tmpdir = root.join("tmp");
        fs::create_dir(&tmpdir).expect("cannot create the server's tmpdir");
        let template = datadir_template(&mariadbd, &base);
        copy_dir(&template, &server.datadir).unwrap_or_else(|e| {
            panic!(
                "cannot copy {} to {}: {e}",
                template.display(),
                server.datadir.display()
            )
        });

        let mut last_failure = String::new();
        for attempt in 1..=PORT_ATTEMPTS {
            let port = unused_port();
            // A fresh log per attempt, so that we only look at this attempt's errors.
            let _ = fs::remove_file(&server.error_log);
            let mut args: Vec<String> = vec![
                "--no-defaults".into(),
                format!("--datadir={}", server.datadir.display()),
                format!("--socket={}", server.socket.display()),
                format!("--port={port}"),
                "--bind-address=127.0.0.1".into(),
                format!("--pid-file={}", pid_file.display()),
                format!("--log-error={}", server.error_log.display()),
                // Private tmpdir: at startup mariadbd deletes every `#sql*` file
                // in its tmpdir, which breaks other servers sharing /tmp.
                format!("--tmpdir={}", tmpdir.display()),
                format!("--max-connections={}", opts.max_connections),
            ];
            if is_root() {
                args.push("--user=root".into());
            }
            args.extend(SERVER_TUNING.iter().map(|s| s.to_string()));
            args.extend(opts.extra_args.iter().cloned());

            let mut child = spawn_server(&mariadbd, &args).unwrap_or_else(|e| {
                panic!("cannot spawn {}: {e}", mariadbd.display());
            });
            // For the cleaner (mariadbd writes its own pid file only later).
            let _ = fs::write(root.join("server.pid"), child.id().to_string());
            match wait_ready(&mut child, port, &server.socket) {
                Ok(()) => {
                    server.port = port;
                    server.pid = child.id();
                    server.child = Some(child);
                    server.command = Some((mariadbd.clone(), args));
                    return server;
                }
                Err(why) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log = fs::read_to_string(&server.error_log).unwrap_or_default();
                    let tail = tail_lines(&log, 40);
                    if is_bind_error(&log) && attempt < PORT_ATTEMPTS {
                        last_failure = format!("port {port} taken: {tail}");
                        continue;
                    }
                    panic!(
                        "mariadbd (port {port}, attempt {attempt}) did not start: {why}\n--- tail of {} ---\n{tail}",
                        server.error_log.display()
                    );
                }
            }
        }
        panic!("mariadbd did not start after {PORT_ATTEMPTS} attempts: {last_failure}");
    }

    /// One server per test binary (max_connections 200), started on first use.
    /// It is SIGKILLed and its files are removed when the test binary exits.
    /// The server shared by the tests of one test file (started on first use). All tests live
    /// in one binary: keying by the calling file keeps each file's tests on their own server, as
    /// when every file was a binary of its own.
    #[track_caller]
    pub fn shared() -> &'static Server {
        static SHARED: OnceLock<Mutex<HashMap<&'static str, &'static Server>>> = OnceLock::new();
        let file = std::panic::Location::caller().file();
        let servers = SHARED.get_or_init(Default::default);
        let mut servers = servers.lock().unwrap_or_else(|e| e.into_inner());
        servers
            .entry(file)
            .or_insert_with(|| Box::leak(Box::new(Server::start(ServerOpts::default()))))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn datadir(&self) -> &Path {
        &self.datadir
    }

    pub fn max_connections(&self) -> u32 {
        self.max_connections
    }

    /// Path of the server's error log.
    pub fn error_log(&self) -> &Path {
        &self.error_log
    }

    /// The last `n` lines of the server's error log (for panic messages).
    pub fn error_log_tail(&self, n: usize) -> String {
        tail_lines(&fs::read_to_string(&self.error_log).unwrap_or_default(), n)
    }

    /// `mysql://user:pass@127.0.0.1:PORT/` (percent-encoded; empty password -> no `:`).
    pub fn url(&self, user: &str, password: &str) -> String {
        let pass = if password.is_empty() {
            String::new()
        } else {
            format!(":{}", percent_encode(password))
        };
        format!(
            "mysql://{}{}@127.0.0.1:{}/",
            percent_encode(user),
            pass,
            self.port
        )
    }

    /// Connection options for user/password over TCP with the harness timeouts.
    pub fn opts(&self, user: &str, password: &str) -> mysql::OptsBuilder {
        tcp_opts(self.port, user, password)
    }

    /// A root connection over TCP. Panics if the server does not accept it.
    ///
    /// Root may take the reserved slot of a full server, but a client the server has just
    /// refused with 1040 still counts in Threads_connected for a moment, so root's login can
    /// be refused too while other clients knock: that refusal is retried (bounded), any other
    /// error is not.
    pub fn root(&self) -> mysql::Conn {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.connect("root", "") {
                Ok(conn) => return conn,
                Err(mysql::Error::MySqlError(e)) if e.code == 1040 && Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!(
                    "root connection to 127.0.0.1:{} failed: {e}\n--- error.log ---\n{}",
                    self.port,
                    self.error_log_tail(20)
                ),
            }
        }
    }

    /// A connection as user/password over TCP.
    pub fn connect(&self, user: &str, password: &str) -> mysql::Result<mysql::Conn> {
        mysql::Conn::new(self.opts(user, password))
    }

    /// A connection as user/password over the server's unix socket.
    pub fn connect_socket(&self, user: &str, password: &str) -> mysql::Result<mysql::Conn> {
        let opts = mysql::OptsBuilder::new()
            .socket(Some(self.socket.to_string_lossy().into_owned()))
            .user(Some(user))
            .pass(non_empty(password))
            .read_timeout(Some(IO_TIMEOUT))
            .write_timeout(Some(IO_TIMEOUT));
        mysql::Conn::new(opts)
    }

    /// Create user@'%' and user@'localhost' with `password`, global `privileges`
    /// (e.g. "USAGE", "PROCESS, CONNECTION ADMIN") and ALL on database `<user>_db`
    /// (created too). Idempotent.
    pub fn create_user(&self, user: &str, password: &str, privileges: &str) {
        let mut conn = self.root();
        let u = sql_string(user);
        let p = sql_string(password);
        let db = sql_ident(&format!("{user}_db"));
        let stmts = [
            format!("DROP USER IF EXISTS {u}@'%', {u}@'localhost'"),
            format!("CREATE USER {u}@'%' IDENTIFIED BY {p}"),
            format!("CREATE USER {u}@'localhost' IDENTIFIED BY {p}"),
            format!("GRANT {privileges} ON *.* TO {u}@'%', {u}@'localhost'"),
            format!("CREATE DATABASE IF NOT EXISTS {db}"),
            format!("GRANT ALL PRIVILEGES ON {db}.* TO {u}@'%', {u}@'localhost'"),
        ];
        for stmt in stmts {
            conn.query_drop(&stmt)
                .unwrap_or_else(|e| panic!("create_user({user}): `{stmt}` failed: {e}"));
        }
    }

    /// Open `n` idle connections as user (each ran `SELECT 1` once).
    /// They stay open until the returned Vec is dropped.
    pub fn idle_connections(&self, user: &str, password: &str, n: usize) -> Vec<mysql::Conn> {
        (0..n)
            .map(|i| {
                let mut conn = self.connect(user, password).unwrap_or_else(|e| {
                    panic!("idle connection {}/{n} as {user} failed: {e}", i + 1)
                });
                conn.query_drop("SELECT 1").unwrap_or_else(|e| {
                    panic!("idle connection {}/{n}: SELECT 1 failed: {e}", i + 1)
                });
                conn
            })
            .collect()
    }

    /// Run `sql` on a new connection of user in a background thread.
    /// Dropping the handle KILLs the connection and joins the thread (bounded).
    pub fn background_query(&self, user: &str, password: &str, sql: &str) -> BackgroundQuery {
        // The query may legitimately run longer than IO_TIMEOUT (SLEEP(60)...);
        // the handle kills it anyway.
        let opts = self
            .opts(user, password)
            .read_timeout(Some(Duration::from_secs(600)));
        let mut conn = mysql::Conn::new(opts)
            .unwrap_or_else(|e| panic!("background_query: connect as {user} failed: {e}"));
        let id = u64::from(conn.connection_id());
        let sql = sql.to_string();
        let (tx, rx) = mpsc::channel();
        let thread = thread::Builder::new()
            .name(format!("bg-query-{id}"))
            .spawn(move || {
                let result = conn.query_drop(&sql).map_err(|e| e.to_string());
                let _ = tx.send(result);
            })
            .expect("cannot spawn background query thread");
        BackgroundQuery {
            id,
            port: self.port,
            done: rx,
            result: None,
            thread: Some(thread),
        }
    }

    /// `SHOW GLOBAL STATUS` value as u64 (e.g. "Connections", "Threads_connected").
    pub fn status(&self, name: &str) -> u64 {
        status_of(&mut self.root(), name)
    }

    /// Poll `predicate(&mut root_conn)` every 50 ms until true; panic after `timeout`.
    pub fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        predicate: impl FnMut(&mut mysql::Conn) -> bool,
    ) {
        self.wait_until_every(what, timeout, Duration::from_millis(50), predicate);
    }

    /// [`Server::wait_until`] polling every `every` (the pause between polls, not a guess at
    /// how long anything takes).
    pub fn wait_until_every(
        &self,
        what: &str,
        timeout: Duration,
        every: Duration,
        mut predicate: impl FnMut(&mut mysql::Conn) -> bool,
    ) {
        let start = Instant::now();
        let mut conn = self.root();
        loop {
            if predicate(&mut conn) {
                return;
            }
            if start.elapsed() >= timeout {
                panic!("timed out after {timeout:?} waiting until {what}");
            }
            thread::sleep(every);
        }
    }

    /// Wait until the server shows the InnoDB transaction of session `id` at least `secs` old,
    /// computed as conncheck computes it (`TIMESTAMPDIFF(SECOND, trx_started, NOW())`).
    /// Polled every 150 ms: MariaDB refreshes its INNODB_TRX cache only when the previous read
    /// is over 100 ms old (`CACHE_MIN_IDLE_TIME_US`, storage/innobase/trx/trx0i_s.cc), so faster
    /// polling would keep a stale cache without the transaction forever.
    pub fn wait_trx_aged(&self, id: u64, secs: u64) {
        let sql = format!(
            "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = {id} \
             AND TIMESTAMPDIFF(SECOND, trx_started, NOW()) >= {secs}"
        );
        self.wait_until_every(
            &format!("the transaction of session {id} is {secs} s old"),
            Duration::from_secs(60),
            Duration::from_millis(150),
            |c| {
                use mysql::prelude::Queryable;
                c.query_first::<u64, _>(&sql).unwrap() == Some(1)
            },
        );
    }

    /// Wait until the server shows every session of `ids` in `command` (`Sleep`, `Query`) for at
    /// least `ms` milliseconds (information_schema.PROCESSLIST.TIME_MS, MariaDB): ages come from
    /// the server's clock, never from a sleep in the test.
    pub fn wait_aged_ids(&self, ids: &[u64], command: &str, ms: u64) {
        let list = ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
        let sql = format!(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
             WHERE ID IN ({list}) AND COMMAND = {} AND TIME_MS >= {ms}",
            sql_string(command)
        );
        let what = format!("sessions {list} in {command} for {ms} ms");
        self.wait_until(&what, Duration::from_secs(60), |c| {
            use mysql::prelude::Queryable;
            c.query_first::<u64, _>(&sql).unwrap() == Some(ids.len() as u64)
        });
    }

    /// SIGTERM, wait up to 10 s, then SIGKILL. Idempotent, never panics.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(None) = child.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.pid.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if !wait_child(&mut child, Duration::from_secs(10)) {
                let _ = child.kill();
            }
        }
        let _ = child.wait();
        self.forget_pid();
    }

    /// Stop the server (SIGTERM) and start it again on the same port and datadir; waits until it
    /// answers. Panics (with the tail of error.log) when it does not come back within 30 s.
    pub fn restart(&mut self) {
        self.stop();
        let (program, args) = self.command.clone().expect("a started server");
        let mut child = spawn_server(&program, &args)
            .unwrap_or_else(|e| panic!("cannot spawn {}: {e}", program.display()));
        if let Some(dir) = &self.dir {
            let _ = fs::write(dir.path().join("server.pid"), child.id().to_string());
        }
        if let Err(why) = wait_ready(&mut child, self.port, &self.socket) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "mariadbd did not restart on port {}: {why}\n{}",
                self.port,
                self.error_log_tail(40)
            );
        }
        self.pid = child.id();
        self.child = Some(child);
    }

    /// SIGKILL the server right now (fault injection). The files stay until drop.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            self.forget_pid();
        }
    }

    /// The process is reaped: its pid may be reused, the cleaner must not kill it.
    fn forget_pid(&self) {
        if let Some(dir) = &self.dir {
            let _ = fs::remove_file(dir.path().join("server.pid"));
        }
    }

    fn kill_cleaner(&mut self) {
        if let Some((mut cleaner, stdin)) = self.cleaner.take() {
            let _ = cleaner.kill();
            drop(stdin);
            let _ = cleaner.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        self.kill_cleaner();
        // `dir` (TempDir) is removed when dropped right after this.
    }
}

/// A query running on its own connection in a background thread.
pub struct BackgroundQuery {
    /// The server's connection id (`CONNECTION_ID()`, processlist `Id`).
    pub id: u64,
    port: u16,
    done: mpsc::Receiver<Result<(), String>>,
    result: Option<Result<(), String>>,
    thread: Option<JoinHandle<()>>,
}

impl BackgroundQuery {
    /// Has the query finished (successfully, with an error, or killed)?
    pub fn is_finished(&mut self) -> bool {
        self.poll(Duration::ZERO)
    }

    /// Wait up to `timeout` for the query to end; its result (error as text).
    pub fn wait(&mut self, timeout: Duration) -> Option<Result<(), String>> {
        self.poll(timeout);
        self.result.clone()
    }

    fn poll(&mut self, timeout: Duration) -> bool {
        if self.result.is_none() {
            match self.done.recv_timeout(timeout) {
                Ok(r) => self.result = Some(r),
                Err(mpsc::RecvTimeoutError::Timeout) => return false,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.result = Some(Err("background thread panicked".into()))
                }
            }
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        true
    }
}

impl Drop for BackgroundQuery {
    fn drop(&mut self) {
        // Never panic here: the server may be gone (kill9) or full (1040).
        // Retry the KILL for up to 10 s; if the thread still does not end,
        // leave it detached rather than hang.
        let start = Instant::now();
        let mut killed = false;
        while !self.is_finished() && start.elapsed() < Duration::from_secs(10) {
            if !killed && let Ok(mut root) = mysql::Conn::new(tcp_opts(self.port, "root", "")) {
                // Error 1094 (unknown thread) if it just ended: fine.
                let _ = root.query_drop(format!("KILL CONNECTION {}", self.id));
                killed = true;
            }
            self.poll(Duration::from_millis(100));
        }
    }
}

/// A TCP listener on 127.0.0.1 that accepts connections and never sends anything.
pub struct SilentListener {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SilentListener {
    pub fn start() -> SilentListener {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        listener
            .set_nonblocking(true)
            .expect("set_nonblocking on listener");
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name(format!("silent-listener-{port}"))
            .spawn(move || {
                let mut held = Vec::new();
                while !stop2.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => held.push(stream),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            thread::sleep(Duration::from_millis(10))
                        }
                        Err(_) => thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
            .expect("cannot spawn silent listener thread");
        SilentListener {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for SilentListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A free TCP port on 127.0.0.1 that nobody listens on (right now).
/// `mkfifo PATH`: a named pipe no one writes to (opening it for reading blocks).
pub fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo")
        .success();
    assert!(ok, "mkfifo {}", path.display());
}

pub fn unused_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

// ---------------------------------------------------------------------------
// internals

/// Keep the servers small and fast to start (2 cores, many servers at once).
/// The InnoDB file sizes must match between mariadb-install-db and mariadbd.
const INNODB_FILES: [&str; 2] = [
    "--innodb-log-file-size=8M",
    "--innodb-data-file-path=ibdata1:10M:autoextend",
];
const SERVER_TUNING: [&str; 17] = [
    "--innodb-log-file-size=8M",
    "--innodb-data-file-path=ibdata1:10M:autoextend",
    "--innodb-buffer-pool-size=16M",
    "--innodb-flush-log-at-trx-commit=0",
    "--innodb-doublewrite=0",
    "--aria-pagecache-buffer-size=8M",
    "--key-buffer-size=1M",
    "--performance-schema=OFF",
    "--skip-log-bin",
    "--thread-cache-size=16",
    "--table-open-cache=200",
    "--host-cache-size=0",
    "--max-connect-errors=1000000",
    "--loose-feedback=OFF",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_general_ci",
    "--log-warnings=2",
];

fn tcp_opts(port: u16, user: &str, password: &str) -> mysql::OptsBuilder {
    mysql::OptsBuilder::new()
        .ip_or_hostname(Some("127.0.0.1"))
        .tcp_port(port)
        .prefer_socket(false)
        .user(Some(user))
        .pass(non_empty(password))
        .tcp_connect_timeout(Some(CONNECT_TIMEOUT))
        .read_timeout(Some(IO_TIMEOUT))
        .write_timeout(Some(IO_TIMEOUT))
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

pub fn status_of(conn: &mut mysql::Conn, name: &str) -> u64 {
    let row: Option<(String, String)> = conn
        .query_first(format!("SHOW GLOBAL STATUS LIKE {}", sql_string(name)))
        .unwrap_or_else(|e| panic!("SHOW GLOBAL STATUS LIKE '{name}' failed: {e}"));
    let (_, value) = row.unwrap_or_else(|| panic!("no global status variable {name}"));
    value
        .parse()
        .unwrap_or_else(|_| panic!("status {name} = {value:?} is not a u64"))
}

/// A number from a query (`SELECT COUNT(*) …`); NULL or no row is 0.
pub fn number(c: &mut mysql::Conn, sql: &str) -> u64 {
    c.query_first::<Option<u64>, _>(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .flatten()
        .unwrap_or(0)
}

/// `'...'` SQL string literal.
fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// `` `...` `` SQL identifier.
fn sql_ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn is_bind_error(log: &str) -> bool {
    log.contains("Address already in use") || log.contains("Bind on TCP/IP port")
}

fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

fn pid_alive(pid: &str) -> bool {
    let pid = pid.trim();
    !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && Path::new("/proc").join(pid).exists()
}

/// `<tmp>/conncheck-tests`, or `/tmp/conncheck-tests` if TMPDIR is so long that
/// the socket path would not fit in sun_path.
fn base_dir() -> PathBuf {
    let tmp = std::env::temp_dir();
    let tmp = if tmp.as_os_str().len() > 40 {
        PathBuf::from("/tmp")
    } else {
        tmp
    };
    tmp.join("conncheck-tests")
}

/// Mark `dir` as owned by this process (atomically: a concurrent
/// `remove_stale_dirs` must never see an empty owner file).
fn write_owner(dir: &Path) {
    let tmp = dir.join("owner.tmp");
    fs::write(&tmp, std::process::id().to_string())
        .and_then(|()| fs::rename(&tmp, dir.join("owner")))
        .unwrap_or_else(|e| panic!("cannot write {}/owner: {e}", dir.display()));
}

/// Remove server dirs left behind by test processes that died (e.g. SIGKILL).
fn remove_stale_dirs(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        // Finished templates are kept; half-built ones and server dirs go
        // when their owner is dead.
        if !path.is_dir() || (name.starts_with("template-") && !name.contains(".building-")) {
            continue;
        }
        // An owner file is written atomically (rename), so a half-written one
        // is never seen; treat anything unparsable like a missing one anyway.
        let owner = fs::read_to_string(path.join("owner"))
            .ok()
            .filter(|o| !o.trim().is_empty() && o.trim().bytes().all(|b| b.is_ascii_digit()));
        let server_alive = ["mysqld.pid", "server.pid"].iter().any(|f| {
            fs::read_to_string(path.join(f))
                .ok()
                .is_some_and(|pid| pid_alive(&pid))
        });
        let stale = match &owner {
            Some(owner) => !pid_alive(owner) && !server_alive,
            // Being created right now, or very old garbage.
            None => entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(600)),
        };
        if stale {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

fn find_program(name: &str, extra_dirs: &[PathBuf]) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(extra_dirs.iter().cloned());
    dirs.extend(
        [
            "/usr/sbin",
            "/usr/local/sbin",
            "/usr/local/mysql/bin",
            "/usr/bin",
            "/usr/local/bin",
            "/usr/local/mysql/scripts",
        ]
        .map(PathBuf::from),
    );
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// The datadir made by `mariadb-install-db`, built once per machine (and
/// MariaDB version) at `<base>/template-<version>/data` and copied for each
/// server: a copy takes ~20 ms, an install ~0.6 s (more when several test
/// binaries start at once).
///
/// Lock-free and safe with concurrent test binaries: each builder installs
/// into its own `template-<key>.building-<pid>-<n>` dir and renames it into
/// place; renaming onto an existing (non-empty) template fails, and the loser
/// throws its copy away. So `template-<key>/` only ever exists complete.
fn datadir_template(mariadbd: &Path, base: &Path) -> PathBuf {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    static BUILD: Mutex<()> = Mutex::new(());
    if let Some(t) = TEMPLATE.get() {
        return t.clone();
    }
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(t) = TEMPLATE.get() {
        return t.clone();
    }
    let key = template_key(mariadbd);
    let finished = base.join(format!("template-{key}"));
    if !finished.join("data").join("mysql").is_dir() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let build = base.join(format!(
            "template-{key}.building-{}-{nanos}",
            std::process::id()
        ));
        fs::create_dir_all(build.join("tmp"))
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", build.display()));
        write_owner(&build);
        install_db(mariadbd, &build);
        let _ = fs::remove_dir_all(build.join("tmp"));
        if fs::rename(&build, &finished).is_err() {
            // Somebody else was faster (or the rename failed): use theirs.
            let _ = fs::remove_dir_all(&build);
            assert!(
                finished.join("data").join("mysql").is_dir(),
                "cannot rename {} to {}",
                build.display(),
                finished.display()
            );
        }
    }
    let data = finished.join("data");
    let _ = TEMPLATE.set(data.clone());
    data
}

/// `<version>-<binary mtime>-<layout>`: a new template when MariaDB changes
/// or when the install options below change (bump the layout number then).
fn template_key(mariadbd: &Path) -> String {
    const LAYOUT: &str = "l1";
    let version = Command::new(mariadbd)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let version = version
        .split_whitespace()
        .skip_while(|w| *w != "Ver")
        .nth(1)
        .unwrap_or("unknown");
    let mtime = fs::metadata(mariadbd)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let key: String = format!("{version}-{mtime}-{LAYOUT}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    key
}

fn copy_dir(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// `mariadb-install-db` into `<dir>/data` (tmpdir `<dir>/tmp`, log
/// `<dir>/install.log`); about 0.6 s with the small InnoDB files.
fn install_db(mariadbd: &Path, dir: &Path) {
    let datadir = dir.join("data");
    let root = dir;
    let bin_dir = mariadbd.parent().map(Path::to_path_buf).unwrap_or_default();
    let extra = [
        bin_dir.clone(),
        bin_dir.join("../bin"),
        bin_dir.join("../scripts"),
    ];
    let install = find_program("mariadb-install-db", &extra).unwrap_or_else(|| {
        panic!("mariadb-install-db not found: install it with `apt-get install -y mariadb-server` (scripts/test.sh does this)")
    });
    let log_path = root.join("install.log");
    let log = fs::File::create(&log_path).expect("create install.log");
    let mut cmd = Command::new(&install);
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", datadir.display()))
        .arg("--auth-root-authentication-method=normal")
        .arg("--skip-test-db")
        .arg(format!("--tmpdir={}", dir.join("tmp").display()))
        .args(INNODB_FILES)
        .arg("--innodb-buffer-pool-size=16M");
    if is_root() {
        cmd.arg("--user=root");
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup log fd"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", install.display()));
    let ok = if wait_child(&mut child, Duration::from_secs(120)) {
        child.wait().map(|s| s.success()).unwrap_or(false)
    } else {
        let _ = child.kill();
        let _ = child.wait();
        false
    };
    if !ok {
        let text = fs::read_to_string(&log_path).unwrap_or_default();
        panic!("{} failed:\n{}", install.display(), tail_lines(&text, 40));
    }
}

/// Poll until the child exits (true) or `timeout` passes (false).
fn wait_child(child: &mut Child, timeout: Duration) -> bool {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if start.elapsed() >= timeout => return false,
            Ok(None) => thread::sleep(Duration::from_millis(20)),
        }
    }
}

type SpawnRequest = (Vec<String>, mpsc::Sender<io::Result<Child>>);

/// Spawn mariadbd from a thread that lives as long as the process.
///
/// PR_SET_PDEATHSIG (set by `setpriv --pdeathsig KILL`) fires when the parent
/// *thread* exits, not the process; test functions run on short-lived threads,
/// so the spawning must happen on a thread that never ends.
fn spawn_server(program: &Path, args: &[String]) -> io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let sender = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        thread::Builder::new()
            .name("mariadbd-spawner".into())
            .spawn(move || {
                // Never returns: the sender lives in a static.
                for (argv, reply) in rx {
                    let mut cmd = Command::new(&argv[0]);
                    cmd.args(&argv[1..])
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null());
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("cannot spawn the mariadbd spawner thread");
        Mutex::new(tx)
    });
    let mut argv: Vec<String> = Vec::new();
    if let Some(setpriv) = find_program("setpriv", &[]) {
        argv.push(setpriv.to_string_lossy().into_owned());
        argv.extend(["--pdeathsig".into(), "KILL".into(), "--".into()]);
    }
    argv.push(program.to_string_lossy().into_owned());
    argv.extend(args.iter().cloned());
    let (reply_tx, reply_rx) = mpsc::channel();
    sender
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((argv, reply_tx))
        .map_err(|_| io::Error::other("spawner thread is gone"))?;
    reply_rx
        .recv_timeout(Duration::from_secs(30))
        .map_err(|_| io::Error::other("spawner thread did not answer"))?
}

/// A `sh` that waits for EOF on its stdin, i.e. for the test process to die,
/// whatever the way (the pipe's write end is close-on-exec and held only by
/// this process), then SIGKILLs the server named in `<dir>/server.pid`, if
/// any, and removes `dir`. Killed by `Server`'s Drop in the normal case.
fn spawn_cleaner(dir: &Path) -> Option<(Child, ChildStdin)> {
    const SCRIPT: &str = r#"read _ignored
pid=$(cat "$1/server.pid" 2>/dev/null)
if [ -n "$pid" ]; then
  kill -9 "$pid" 2>/dev/null
  i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
fi
rm -rf "$1""#;
    let mut child = Command::new("sh")
        .args(["-c", SCRIPT, "conncheck-test-cleaner"])
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let stdin = child.stdin.take()?;
    Some((child, stdin))
}

/// Wait until the server answers `SELECT 1` over TCP and is really ours.
fn wait_ready(child: &mut Child, port: u16, socket: &Path) -> Result<(), String> {
    let start = Instant::now();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut last_error = String::from("no attempt");
    while start.elapsed() < START_TIMEOUT {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("mariadbd exited with {status}"));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
            let probe = tcp_opts(port, "root", "").read_timeout(Some(Duration::from_secs(5)));
            match mysql::Conn::new(probe).and_then(|mut c| {
                c.query_drop("SELECT 1")?;
                c.query_first::<(u16, String), _>("SELECT @@port, @@socket")
            }) {
                Ok(Some((p, s))) if p == port && Path::new(&s) == socket => return Ok(()),
                Ok(other) => {
                    // Somebody else's server on our port: ours will fail to bind.
                    last_error = format!("foreign server on port {port}: {other:?}");
                }
                Err(e) => last_error = e.to_string(),
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "no answer within {START_TIMEOUT:?} (last error: {last_error})"
    ))
}

/// The conncheck binary, hermetic: environment cleared (no MYSQL_* variables, HOME is an empty
/// directory so no ~/.my.cnf), no colors, a fixed terminal width.
pub fn conncheck() -> assert_cmd::Command {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    let home = HOME.get_or_init(|| tempfile::tempdir().expect("temp home"));
    let mut c = assert_cmd::Command::new(env!("CARGO_BIN_EXE_conncheck"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("USER", "nobody-here")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "200")
        .timeout(Duration::from_secs(60));
    c
}

impl Server {
    /// conncheck connected to this server over TCP as `user` (password through MYSQL_PWD, so no
    /// command-line warning), ignoring the machine's option files.
    pub fn conncheck(&self, user: &str, password: &str) -> assert_cmd::Command {
        let mut c = conncheck();
        c.args(self.login_args(user));
        if !password.is_empty() {
            c.env("MYSQL_PWD", password);
        }
        c
    }

    /// `conncheck diagnose --format json` as `user` with `args`: the report (the run must succeed).
    pub fn diagnose(&self, user: &str, password: &str, args: &[&str]) -> serde_json::Value {
        let out = self
            .conncheck(user, password)
            .arg("diagnose")
            .args(args)
            .args(["--format", "json"])
            .output()
            .unwrap();
        json_ok(&out)
    }

    /// The same as a plain `std::process::Command`, for tests that need a child process (spawn
    /// and kill, a pseudo-terminal): TERM=xterm, no colour, no option files.
    pub fn process(&self, user: &str, password: &str) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_conncheck"));
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", "/nonexistent")
            .env("TERM", "xterm")
            .env("NO_COLOR", "1")
            .args(self.login_args(user));
        if !password.is_empty() {
            c.env("MYSQL_PWD", password);
        }
        c
    }

    /// TCP to this server as `user`, ignoring the machine's option files.
    fn login_args(&self, user: &str) -> [String; 6] {
        [
            "--no-defaults".into(),
            "-h".into(),
            "127.0.0.1".into(),
            "-P".into(),
            self.port().to_string(),
            format!("--user={user}"),
        ]
    }

    /// Run SQL as root.
    pub fn sql(&self, sql: &str) {
        self.root()
            .query_drop(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The host the processlist shows for our TCP connections, without the port (`localhost`
    /// when the server resolves 127.0.0.1).
    pub fn client_host(&self) -> String {
        self.root()
            .query_first(
                "SELECT SUBSTRING_INDEX(HOST, ':', 1) FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()",
            )
            .unwrap()
            .expect("our own processlist row")
    }

    /// Processlist ids of `user`'s sessions.
    pub fn ids_of(&self, user: &str) -> Vec<u64> {
        self.root()
            .exec(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ? ORDER BY ID",
                (user,),
            )
            .unwrap()
    }
}

/// The connection id of an open harness connection.
pub fn conn_id(c: &mysql::Conn) -> u64 {
    u64::from(c.connection_id())
}

/// Parse stdout as JSON.
/// The JSON on stdout of a run that must have succeeded (its stderr in the failure message).
pub fn json_ok(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    json(out)
}

pub fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}
