//! The errors clients see, live on private MariaDB servers (docs/refusals.md): each test builds
//! the situation, asserts the finding id, its evidence and the refusal code it names, the
//! `check` exit code while clients are being refused, and the server's state after the
//! suggested fix is pasted.
//!
//! Loopback and socket clients never enter the host cache, so the clients of a blocked host
//! connect from 127.0.0.2 (the server also listens there; the client binds its source address).

use crate::support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use mysql::prelude::Queryable;
use support::findings::{actions_of, evidence, the};
use support::{Server, ServerOpts, json};

const SECOND_ADDRESS: &str = "127.0.0.2";
const WAIT: Duration = Duration::from_secs(30);

/// A raw TCP connection to the server from `source` (the host cache sees that address).
fn raw_from(s: &Server, source: &str) -> TcpStream {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let src: SocketAddr = format!("{source}:0").parse().unwrap();
    sock.bind(&src.into()).expect("bind the source address");
    let dst: SocketAddr = format!("127.0.0.1:{}", s.port()).parse().unwrap();
    sock.connect_timeout(&dst.into(), Duration::from_secs(5))
        .expect("connect");
    let stream: TcpStream = sock.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// The login options of `user` from `source`.
fn opts_from(s: &Server, source: &str, user: &str, password: &str) -> mysql::OptsBuilder {
    let src: SocketAddr = format!("{source}:0").parse().unwrap();
    s.opts(user, password).bind_address(Some(src))
}

/// A login as user from `source`.
fn login_from(s: &Server, source: &str, user: &str, password: &str) -> mysql::Result<mysql::Conn> {
    mysql::Conn::new(opts_from(s, source, user, password))
}

/// A connection from `source` that sends garbage instead of a login: one handshake error for
/// that host.
fn handshake_error_from(s: &Server, source: &str) {
    let mut c = raw_from(s, source);
    let mut greeting = [0u8; 512];
    let _ = c.read(&mut greeting).unwrap();
    c.write_all(&[1, 0, 0, 1, 0xff]).unwrap();
    let _ = c.read(&mut greeting);
}

/// The server's error code of a failed login (None when it got in).
fn code_of(r: mysql::Result<mysql::Conn>) -> Option<u16> {
    match r {
        Ok(_) => None,
        Err(mysql::Error::MySqlError(e)) => Some(e.code),
        Err(e) => panic!("not a server error: {e}"),
    }
}

/// Clients knocking until dropped: `attempt` once per 50 ms (the pace of a retrying client, not
/// a synchronisation), counting the attempts that failed with `code`.
struct Knocker {
    stop: Arc<AtomicBool>,
    refused: Arc<AtomicU64>,
    handle: Option<JoinHandle<()>>,
}

impl Knocker {
    fn start(code: u16, attempt: impl Fn() -> Option<u16> + Send + 'static) -> Knocker {
        let stop = Arc::new(AtomicBool::new(false));
        let refused = Arc::new(AtomicU64::new(0));
        let (st, rf) = (stop.clone(), refused.clone());
        let handle = thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                if attempt() == Some(code) {
                    rf.fetch_add(1, Ordering::SeqCst);
                }
                thread::sleep(Duration::from_millis(50));
            }
        });
        Knocker {
            stop,
            refused,
            handle: Some(handle),
        }
    }

    /// Logins with `opts` knocking, counting those refused with `code`.
    fn login(code: u16, opts: mysql::OptsBuilder) -> Knocker {
        Knocker::start(code, move || code_of(mysql::Conn::new(opts.clone())))
    }

    fn refused(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }
}

impl Drop for Knocker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// `check --format json` over a sample while clients are refused: (exit code, report).
fn check(s: &Server, sample: &str) -> (Option<i32>, serde_json::Value) {
    let out = s
        .conncheck("root", "")
        .args(["check", "--format", "json", "--sample", sample])
        .output()
        .unwrap();
    (out.status.code(), json(&out))
}

fn diagnose(s: &Server, sample: &str) -> serde_json::Value {
    let out = s
        .conncheck("root", "")
        .args(["diagnose", "--format", "json", "--sample", sample])
        .output()
        .unwrap();
    json(&out)
}

fn reason<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no reason {id}: {}", report["reasons"]))
}

/// Run each `;`-terminated statement of a suggested SQL action as root (what pasting it does).
fn paste(s: &Server, sql: &str) {
    let mut root = s.root();
    let sql = sql.split("--").next().unwrap();
    for stmt in sql.split(';').map(str::trim).filter(|x| !x.is_empty()) {
        root.query_drop(stmt)
            .unwrap_or_else(|e| panic!("pasted `{stmt}` failed: {e}"));
    }
}

#[test]
fn a_blocked_host_is_named_with_1129_and_flush_hosts_unblocks_it() {
    let s = Server::start(ServerOpts {
        extra_args: vec![
            format!("--bind-address=127.0.0.1,{SECOND_ADDRESS}"),
            "--performance-schema=ON".into(),
            "--host-cache-size=128".into(),
            "--max-connect-errors=2".into(),
        ],
        ..ServerOpts::default()
    });
    s.create_user("app", "apppw", "USAGE");
    // Two connections that send garbage instead of a login: two handshake errors.
    for _ in 0..2 {
        handshake_error_from(&s, SECOND_ADDRESS);
    }
    assert_eq!(
        code_of(login_from(&s, SECOND_ADDRESS, "app", "apppw")),
        Some(1129),
        "the host is blocked"
    );
    let knocker = Knocker::login(1129, opts_from(&s, SECOND_ADDRESS, "app", "apppw"));
    let (code, report) = check(&s, "3s");
    assert!(knocker.refused() > 0);
    assert_eq!(code, Some(2), "{}", report["summary"]);
    assert!(
        reason(&report, "host-blocked")["message"]
            .as_str()
            .unwrap()
            .contains("ERROR 1129"),
        "{}",
        report["reasons"]
    );
    drop(knocker);

    let v = diagnose(&s, "0");
    let f = the(&v, "host-blocked");
    assert!(
        evidence(f, &format!("host {SECOND_ADDRESS}")).contains("SUM_CONNECT_ERRORS 2"),
        "{f}"
    );
    assert!(evidence(f, "error clients see").starts_with("ERROR 1129 (HY000): Host '127.0.0.2'"));
    let sql = actions_of(f, "sql");
    assert_eq!(sql[0], "FLUSH HOSTS;", "{sql:?}");
    paste(&s, &sql[0]);
    assert_eq!(
        code_of(login_from(&s, SECOND_ADDRESS, "app", "apppw")),
        None,
        "FLUSH HOSTS unblocked the host"
    );
    support::findings::absent(&diagnose(&s, "0"), "host-blocked");
}

#[test]
fn stalled_handshakes_are_named_with_their_host_and_killed_by_id() {
    let s = Server::start(ServerOpts {
        extra_args: vec![
            format!("--bind-address=127.0.0.1,{SECOND_ADDRESS}"),
            "--connect-timeout=60".into(),
        ],
        ..ServerOpts::default()
    });
    // Five clients that never answer the greeting.
    // An account for any host: else the server refuses 127.0.0.2 at once (ERROR 1130).
    s.create_user("app", "apppw", "USAGE");
    let silent: Vec<TcpStream> = (0..5).map(|_| raw_from(&s, SECOND_ADDRESS)).collect();
    s.wait_until("five stalled logins of 2s+", WAIT, |c| {
        c.query_first::<u64, _>(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
             WHERE USER = 'unauthenticated user' AND TIME_MS >= 2500",
        )
        .unwrap()
            == Some(5)
    });
    let v = diagnose(&s, "0");
    let f = the(&v, "handshake-stall");
    assert_eq!(f["slots"], 5, "{f}");
    assert_eq!(evidence(f, "source hosts"), "127.0.0.2 ×5");
    assert_eq!(evidence(f, "unresolved hosts"), "127.0.0.2");
    assert_eq!(support::findings::sessions(f).len(), 5);
    assert!(
        !v.to_string().contains("ALTER USER 'unauthenticated user'"),
        "never an ALTER USER for the pseudo-account"
    );
    assert!(
        actions_of(f, "config")
            .iter()
            .any(|c| c.contains("skip_name_resolve = ON")),
        "{f}"
    );
    let sql = actions_of(f, "sql");
    let set = sql
        .iter()
        .find(|a| a.starts_with("SET GLOBAL connect_timeout"))
        .unwrap_or_else(|| panic!("{sql:?}"));
    let kill = sql
        .iter()
        .find(|a| a.starts_with("KILL "))
        .unwrap_or_else(|| panic!("{sql:?}"));
    paste(&s, set);
    paste(&s, kill);
    let mut root = s.root();
    assert_eq!(
        root.query_first::<u64, _>("SELECT @@GLOBAL.connect_timeout")
            .unwrap(),
        Some(10)
    );
    s.wait_until("the stalled logins gone", WAIT, |c| {
        c.query_first::<u64, _>(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'unauthenticated user'",
        )
        .unwrap()
            == Some(0)
    });
    drop(silent);
}

#[test]
fn an_account_at_max_user_connections_is_named_with_1203_and_its_count() {
    let s = Server::start(ServerOpts {
        extra_args: vec!["--max-user-connections=3".into()],
        ..ServerOpts::default()
    });
    s.create_user("app", "apppw", "USAGE");
    let held = s.idle_connections("app", "apppw", 3);
    let knocker = Knocker::login(1203, s.opts("app", "apppw"));
    let (code, report) = check(&s, "3s");
    assert!(knocker.refused() > 0, "the clients saw ERROR 1203");
    assert_eq!(code, Some(2), "{}", report["summary"]);
    let r = reason(&report, "user-limit-reached");
    assert!(r["message"].as_str().unwrap().contains("ERROR 1203"), "{r}");
    assert!(
        report["metrics"]["refused_any_during_sample"]
            .as_u64()
            .unwrap()
            > 0
    );
    drop(knocker);

    let v = diagnose(&s, "0");
    let f = the(&v, "user-limit-reached");
    assert!(
        evidence(f, "account 'app'@'localhost'").starts_with("3 connections of 3 allowed"),
        "{f}"
    );
    assert!(evidence(f, "error clients see").starts_with("ERROR 1203 (42000): User app"));
    let alter = actions_of(f, "sql")
        .into_iter()
        .find(|a| a.starts_with("ALTER USER 'app'@'localhost'"))
        .unwrap_or_else(|| panic!("{f}"));
    paste(&s, &alter);
    let fourth = s.connect("app", "apppw");
    assert!(fourth.is_ok(), "the account's own limit lets a 4th in");
    drop(held);
}

#[test]
fn refusals_after_login_are_1040_and_make_check_critical() {
    let s = Server::start(ServerOpts {
        max_connections: 10,
        ..ServerOpts::default()
    });
    s.create_user("app", "apppw", "USAGE");
    // 9 clients and conncheck fill the 10 normal slots: the next regular login is refused
    // after authentication while the admin slot is still free.
    let held = s.idle_connections("app", "apppw", 9);
    let knocker = Knocker::login(1040, s.opts("app", "apppw"));
    let (code, report) = check(&s, "3s");
    assert!(knocker.refused() > 0, "the clients saw ERROR 1040");
    drop(knocker);
    assert_eq!(code, Some(2), "{}", report["summary"]);
    let f = the(&report, "refused-connections");
    assert!(f["refused"].as_u64().unwrap() > 0, "{f}");
    assert!(f["title"].as_str().unwrap().contains("ERROR 1040"), "{f}");
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("(SQLSTATE 08004) after login"),
        "{f}"
    );
    drop(held);
}

/// Run `record --trigger 'refused > 0'` while `knock` refuses clients; the incident's index.
fn record_refusals(s: &Server, knock: impl FnOnce() -> Knocker) -> serde_json::Value {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("incidents");
    let mut rec = s
        .process("root", "")
        .arg("record")
        .arg("--dir")
        .arg(&dir)
        .args([
            "--trigger",
            "refused > 0",
            "--interval",
            "200ms",
            "--before",
            "5s",
            "--after",
            "1s",
            "--for",
            "60s",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn conncheck record");
    let knocker = knock();
    // Wait (bounded) for the incident folder the trigger writes.
    let start = std::time::Instant::now();
    let index = loop {
        let found = std::fs::read_dir(&dir).ok().and_then(|entries| {
            entries
                .flatten()
                .map(|e| e.path().join("index.json"))
                .find(|p| p.is_file())
        });
        if let Some(p) = found {
            break p;
        }
        if start.elapsed() >= WAIT {
            let _ = rec.kill();
            let _ = rec.wait();
            panic!(
                "no incident within {WAIT:?} ({} refused)",
                knocker.refused()
            );
        }
        thread::sleep(Duration::from_millis(100));
    };
    drop(knocker);
    let _ = rec.kill();
    let _ = rec.wait();
    serde_json::from_slice(&std::fs::read(&index).unwrap()).unwrap()
}

/// `record --trigger 'refused > 0'` fires on ERROR 1203 too: the logins refused after
/// authentication count, not only Connection_errors_max_connections.
#[test]
fn record_triggers_on_refusals_after_login() {
    let s = Server::start(ServerOpts {
        extra_args: vec!["--max-user-connections=2".into()],
        ..ServerOpts::default()
    });
    s.create_user("app", "apppw", "USAGE");
    let held = s.idle_connections("app", "apppw", 2);
    let idx = record_refusals(&s, || Knocker::login(1203, s.opts("app", "apppw")));
    assert_eq!(idx["trigger"], "refused > 0", "{idx}");
    drop(held);
}

/// ... and on ERROR 1129, read from the host cache with each sample.
#[test]
fn record_triggers_on_a_blocked_host() {
    let s = Server::start(ServerOpts {
        extra_args: vec![
            "--performance-schema=ON".into(),
            "--host-cache-size=128".into(),
            "--max-connect-errors=1".into(),
        ],
        ..ServerOpts::default()
    });
    s.create_user("app", "apppw", "USAGE");
    handshake_error_from(&s, SECOND_ADDRESS);
    assert_eq!(
        code_of(login_from(&s, SECOND_ADDRESS, "app", "apppw")),
        Some(1129)
    );
    let idx = record_refusals(&s, || {
        Knocker::login(1129, opts_from(&s, SECOND_ADDRESS, "app", "apppw"))
    });
    assert_eq!(idx["trigger"], "refused > 0", "{idx}");
}

/// performance_schema OFF: the host cache cannot be read, so the finding says what shows
/// (connection attempts failing before login, max_connect_errors) and how to confirm.
#[test]
fn without_performance_schema_a_blocked_host_is_suspected_and_the_way_to_confirm_given() {
    let s = Server::start(ServerOpts {
        extra_args: vec![
            "--host-cache-size=128".into(),
            "--max-connect-errors=2".into(),
        ],
        ..ServerOpts::default()
    });
    s.create_user("app", "apppw", "USAGE");
    let port = s.port();
    // A health check that connects and leaves without logging in, over and over.
    let knocker = Knocker::start(0, move || {
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
        let src: SocketAddr = format!("{SECOND_ADDRESS}:0").parse().unwrap();
        sock.bind(&src.into()).ok()?;
        let dst: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        sock.connect_timeout(&dst.into(), Duration::from_secs(5))
            .ok()?;
        let mut c: TcpStream = sock.into();
        c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut buf = [0u8; 512];
        let _ = c.read(&mut buf);
        let _ = c.write_all(&[1, 0, 0, 1, 0xff]);
        let _ = c.read(&mut buf);
        None
    });
    let v = diagnose(&s, "2s");
    drop(knocker);
    let f = the(&v, "host-blocked");
    assert_eq!(f["severity"], "warning", "{f}");
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("performance_schema is OFF"),
        "{f}"
    );
    assert!(evidence(f, "Aborted_connects_preauth").ends_with("during the 2s sample"));
    assert_eq!(evidence(f, "max_connect_errors"), "2");
    assert!(evidence(f, "error clients see").starts_with("ERROR 1129"));
    assert!(
        support::findings::actions(f)
            .iter()
            .any(|a| a.starts_with("to confirm")),
        "{f}"
    );
}
