//! Connection faults, each against a fake server or a private MariaDB, asserting the exit code
//! and the one-line message: errors are classified from the server's error code (never from
//! text that happens to contain 1040), the monitoring-plugin codes follow the parsed command,
//! deadlines hold against a trickling server, a panic while connecting is never "no greeting",
//! ed25519 accounts log in, and `--admin-port` falls back to the main port.

use crate::support;

use std::process::{Child, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::child::finish;
use support::fake_server::{Behavior, FakeServer};
use support::{Server, conncheck};

/// A port on 127.0.0.1 where nothing listens, preferring `wanted`.
fn refused_port(wanted: u16) -> u16 {
    if std::net::TcpStream::connect(("127.0.0.1", wanted)).is_err() {
        wanted
    } else {
        support::unused_port()
    }
}

fn run(args: &[&str]) -> Output {
    conncheck().args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit `code`, and stderr is one `conncheck: error:` line containing `needle` plus a hint.
fn assert_error(o: &Output, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("conncheck: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    assert!(errors[0].contains(needle), "wanted {needle:?} in: {err}");
    assert!(!err.contains("CodecError"), "raw driver error: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
}

fn tcp(port: u16) -> Vec<String> {
    [
        "--no-defaults",
        "-h",
        "127.0.0.1",
        "-P",
        &port.to_string(),
        "-u",
        "root",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn with<'a>(base: &'a [String], more: &[&'a str]) -> Vec<&'a str> {
    base.iter()
        .map(String::as_str)
        .chain(more.iter().copied())
        .collect()
}

/// Found by the adversarial review: "1040" anywhere in the error text meant "server full".
#[test]
fn a_port_or_host_containing_1040_is_unreachable_not_a_full_server() {
    let port = refused_port(1040);
    let base = tcp(port);
    assert_error(&run(&with(&base, &["status"])), 14, "connection refused");
    // check: UNKNOWN (3), not CRITICAL (2).
    let o = run(&with(&base, &["check"]));
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("full"));
    let o = run(&[
        "--no-defaults",
        "-h",
        "db1040.invalid",
        "--connect-timeout",
        "5s",
        "status",
    ]);
    // Unreachable (14) when the resolver answers at once, as here; a resolver that cannot be
    // reached may run into the connect timeout (15) instead. Never a full server.
    assert!(matches!(o.status.code(), Some(14 | 15)), "{}", stderr(&o));
    assert!(!stderr(&o).contains("full"), "{}", stderr(&o));
}

/// Found by the adversarial review: `-u check ... status` exited with the Nagios codes.
#[test]
fn the_plugin_exit_codes_follow_the_parsed_command_not_a_word() {
    let port = refused_port(1);
    let p = port.to_string();
    let o = run(&[
        "--no-defaults",
        "-h",
        "127.0.0.1",
        "-P",
        &p,
        "-u",
        "check",
        "status",
    ]);
    assert_error(&o, 14, "connection refused");
    let o = run(&["--no-defaults", "-u", "check", "status", "--bogus"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = run(&["--no-defaults", "check", "--bogus"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
}

#[test]
fn error_1040_instead_of_the_greeting_is_a_full_server() {
    let fake = FakeServer::start(Behavior::ErrorBeforeGreeting {
        code: 1040,
        message: "Too many connections".into(),
    });
    let base = tcp(fake.port);
    assert_error(&run(&with(&base, &["status"])), 11, "before the greeting");
    let o = run(&with(&base, &["check"]));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn a_server_that_is_not_mysql_or_closes_during_login_is_one_clear_error() {
    let garbage = FakeServer::start(Behavior::Garbage(b"\x05\x00\x00\x00\x0bhello".to_vec()));
    let o = run(&with(
        &tcp(garbage.port),
        &["--connect-timeout", "5s", "status"],
    ));
    assert_error(&o, 14, "does not speak the MySQL protocol");

    let close = FakeServer::start(Behavior::GreetingThenClose);
    let o = run(&with(
        &tcp(close.port),
        &["--connect-timeout", "5s", "status"],
    ));
    assert_error(&o, 14, "closed the connection during login");
}

fn spawn(args: &[&str]) -> Child {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_conncheck"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Found by the adversarial review: a server that sends one byte a second kept every command
/// past --query-timeout (the socket timeout restarts with each byte).
#[test]
fn a_trickling_server_cannot_hold_a_statement_past_the_query_timeout() {
    let s = Server::shared();
    let fake = FakeServer::start(Behavior::Trickle {
        upstream: s.port(),
        // Round trip 1 answers; round trip 2 trickles.
        after_queries: 1,
        every: Duration::from_millis(300),
    });
    let base = tcp(fake.port);
    let child = spawn(&with(
        &base,
        &[
            "--connect-timeout",
            "20s",
            "--query-timeout",
            "2s",
            "status",
        ],
    ));
    let (o, took) = finish(child, Duration::from_secs(40));
    assert_error(&o, 15, "did not answer within the query timeout");
    assert!(took < Duration::from_secs(8), "took {took:?}");
}

/// The login as a whole is bounded by --connect-timeout, however the server trickles.
#[test]
fn a_trickling_server_cannot_hold_the_login_past_the_connect_timeout() {
    let s = Server::shared();
    let fake = FakeServer::start(Behavior::Trickle {
        upstream: s.port(),
        after_queries: 0,
        every: Duration::from_millis(300),
    });
    let child = spawn(&with(
        &tcp(fake.port),
        &[
            "--connect-timeout",
            "2s",
            "--query-timeout",
            "30s",
            "status",
        ],
    ));
    let (o, took) = finish(child, Duration::from_secs(40));
    assert_error(&o, 15, "within 2s");
    assert!(took < Duration::from_secs(6), "took {took:?}");
}

/// Found by the adversarial review: an ed25519 account panicked the connect thread (the
/// driver's `client_ed25519` feature was off) and was reported as "sent no greeting", exit 15.
#[test]
fn an_ed25519_account_logs_in() {
    let s = Server::shared();
    s.sql("INSTALL SONAME 'auth_ed25519'");
    s.sql("CREATE USER IF NOT EXISTS 'edu'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('edpw')");
    s.sql("GRANT PROCESS ON *.* TO 'edu'@'%'");
    let o = s
        .conncheck("edu", "edpw")
        .args(["status", "--format", "json"])
        .output()
        .unwrap();
    let j = support::json_ok(&o);
    assert!(j.to_string().contains(&s.port().to_string()), "{j}");
    let o = s.conncheck("edu", "wrong").arg("status").output().unwrap();
    assert_error(&o, 13, "denied access");
}

/// Found by the adversarial review: a full (or broken) extra port made a server at 2 % usage
/// look full. Every failure of the admin port falls back to the main port, with a note.
#[test]
fn a_failing_admin_port_falls_back_to_the_main_port_and_says_so() {
    let s = Server::shared();
    let full = FakeServer::start(Behavior::ErrorBeforeGreeting {
        code: 1040,
        message: "Too many connections".into(),
    });
    let garbage = FakeServer::start(Behavior::Garbage(b"SSH-2.0-OpenSSH_9.2\r\n".to_vec()));
    let refused = refused_port(2);
    for admin in [full.port, garbage.port, refused] {
        let a = admin.to_string();
        let o = s
            .conncheck("root", "")
            .args([
                "--admin-port",
                &a,
                "--connect-timeout",
                "2s",
                "status",
                "--format",
                "json",
            ])
            .output()
            .unwrap();
        let j = support::json_ok(&o);
        let err = stderr(&o);
        assert!(
            err.contains(&format!("admin port {admin} failed"))
                && err.contains(&format!("using the main port {}", s.port())),
            "{err}"
        );
        assert!(
            j.to_string().contains(&format!("127.0.0.1:{}", s.port())),
            "target names the main port: {j}"
        );
        let o = s
            .conncheck("root", "")
            .args(["--admin-port", &a, "--connect-timeout", "2s", "check"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
}

#[test]
fn a_missing_ssl_ca_is_a_tls_error_naming_the_file() {
    let s = Server::shared();
    let o = s
        .conncheck("root", "")
        .args(["--ssl-ca", "/nonexistent/ca.pem", "status"])
        .output()
        .unwrap();
    assert_error(&o, 16, "/nonexistent/ca.pem");
    assert!(!stderr(&o).contains("socket"), "{}", stderr(&o));
    // The driver reads these files whole: never an endless device.
    let o = s
        .conncheck("root", "")
        .args(["--ssl-ca", "/dev/zero", "status"])
        .timeout(Duration::from_secs(10))
        .output()
        .unwrap();
    assert_error(&o, 16, "not a regular file");
    // A FIFO is refused without waiting for a writer.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("ca.pem");
    support::mkfifo(&fifo);
    let o = s
        .conncheck("root", "")
        .arg("--ssl-ca")
        .arg(&fifo)
        .arg("status")
        .timeout(Duration::from_secs(10))
        .output()
        .unwrap();
    assert_error(&o, 16, "not a regular file");
}

/// A CA and a server certificate for `CN=db.example` (so not valid for 127.0.0.1), made with the
/// openssl command; plus a second, unrelated CA.
struct Certs {
    dir: tempfile::TempDir,
}

impl Certs {
    fn make() -> Certs {
        let dir = tempfile::tempdir().unwrap();
        let sh = r#"set -e
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ca.key -out ca.pem
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca -keyout other.key -out other.pem
openssl req -newkey rsa:2048 -nodes -subj /CN=db.example -keyout server.key -out server.csr
printf 'subjectAltName=DNS:db.example\n' > san.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.pem
chmod 644 *.pem *.key
"#;
        let out = std::process::Command::new("sh")
            .args(["-c", sh])
            .current_dir(dir.path())
            .output()
            .expect("openssl (apt-get install openssl; scripts/ensure-deps.sh does this)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Certs { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    fn server(&self, extra: &[&str]) -> Server {
        let mut args = vec![
            format!("--ssl-ca={}", self.path("ca.pem")),
            format!("--ssl-cert={}", self.path("server.pem")),
            format!("--ssl-key={}", self.path("server.key")),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        Server::start(support::ServerOpts {
            extra_args: args,
            ..support::ServerOpts::default()
        })
    }
}

/// Found by the adversarial review: a wrong CA or host name gave exit 10 and a raw
/// `CodecError { ... UnknownIssuer }`; a TLS failure is exit 16 with a plain reason.
#[test]
fn tls_verification_failures_exit_16_with_a_plain_reason() {
    let certs = Certs::make();
    let s = certs.server(&[]);
    let other = certs.path("other.pem");
    let o = s
        .conncheck("root", "")
        .args(["--ssl-mode", "VERIFY_CA", "--ssl-ca", &other, "status"])
        .output()
        .unwrap();
    assert_error(&o, 16, "not signed by the CA given with --ssl-ca");
    let ca = certs.path("ca.pem");
    let o = s
        .conncheck("root", "")
        .args(["--ssl-mode", "VERIFY_IDENTITY", "--ssl-ca", &ca, "status"])
        .output()
        .unwrap();
    assert_error(&o, 16, "not valid for this host name");
    // The right CA without the host name check works.
    let o = s
        .conncheck("root", "")
        .args(["--ssl-mode", "VERIFY_CA", "--ssl-ca", &ca, "status"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// Found by the adversarial review: with require_secure_transport=ON, PREFERRED on 127.0.0.1
/// never tried TLS and looked like a wrong password, while the mariadb client connects.
#[test]
fn require_secure_transport_on_loopback_is_met_by_retrying_with_tls() {
    let certs = Certs::make();
    let s = certs.server(&[]);
    s.sql("SET GLOBAL require_secure_transport = ON");
    let o = s
        .conncheck("root", "")
        .args(["status", "--format", "json"])
        .output()
        .unwrap();
    support::json_ok(&o);
    // DISABLED means plain text: the server's refusal is shown as it is.
    let o = s
        .conncheck("root", "")
        .args(["--ssl-mode", "DISABLED", "status"])
        .output()
        .unwrap();
    assert_error(&o, 13, "denied access");
    // A wrong password is still a wrong password after the retry.
    let o = s
        .conncheck("root", "wrong")
        .args(["status"])
        .output()
        .unwrap();
    assert_error(&o, 13, "denied access");
}

/// Found by the adversarial review: a panic in the driver while connecting (then: an ed25519
/// account) was reported after 0.09 s as "sent no greeting within 30s", exit 15. It is an
/// internal error with the panic's message.
#[test]
fn a_panic_while_connecting_is_an_internal_error_not_a_silent_server() {
    let fake = FakeServer::start(Behavior::ParsecSalt);
    let start = Instant::now();
    let o = run(&with(
        &tcp(fake.port),
        &["--connect-timeout", "20s", "status"],
    ));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(10), "{err}");
    assert_error(&o, 10, "internal error while connecting");
    assert!(!err.contains("greeting"), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

/// MariaDB answers a failed unix_socket login with ERROR 1698: access denied (13), not "other".
#[test]
fn error_1698_is_access_denied() {
    let s = Server::shared();
    s.sql("CREATE USER IF NOT EXISTS 'nosuchosuser'@'localhost' IDENTIFIED VIA unix_socket");
    let o = conncheck()
        .args(["--no-defaults", "-S"])
        .arg(s.socket())
        .args(["-u", "nosuchosuser", "status"])
        .output()
        .unwrap();
    assert_error(&o, 13, "1698");
}

/// Issue "Trust under new attacks", item 17: under a retry storm, the clients being refused hold
/// the reserved slot for moments, so even an admin is refused before the greeting now and then.
/// Such a refusal is retried (jittered, within --connect-timeout) and the note says how many
/// tries it took; a server that keeps refusing is still `server-full`, saying so.
#[test]
fn a_refusal_before_the_greeting_is_retried_and_the_tries_are_told() {
    let s = Server::shared();
    let seen = Arc::new(AtomicUsize::new(0));
    let fake = FakeServer::start(Behavior::RefuseThenProxy {
        refusals: 3,
        upstream: s.port(),
        seen: Arc::clone(&seen),
    });
    let o = run(&with(
        &tcp(fake.port),
        &[
            "--connect-timeout",
            "20s",
            "diagnose",
            "--sample",
            "0",
            "--format",
            "json",
        ],
    ));
    let j = support::json_ok(&o);
    let err = stderr(&o);
    assert!(
        err.contains("refused us with ERROR 1040 before its greeting 3 times")
            && err.contains("got in on try 4"),
        "{err}"
    );
    assert_eq!(seen.load(Ordering::SeqCst), 4, "one connection per try");
    assert!(j["slots"].as_array().is_some_and(|s| !s.is_empty()), "{j}");

    // Refused every time: server-full after a bounded number of tries (whether root may take the
    // reserved slot is known only after logging in), well within the connect timeout.
    let full = FakeServer::start(Behavior::ErrorBeforeGreeting {
        code: 1040,
        message: "Too many connections".into(),
    });
    let base = tcp(full.port);
    let o = run(&with(&base, &["--connect-timeout", "20s", "status"]));
    assert_error(&o, 11, "before the greeting");
    assert!(stderr(&o).contains("(10 tries over"), "{}", stderr(&o));
    assert!(stderr(&o).contains("at most 10"), "{}", stderr(&o));
    assert_eq!(full.accepted.load(Ordering::SeqCst), 10);
    // diagnose still reports the full server, with the tries in its message.
    let o = run(&with(&base, &["diagnose", "--format", "json"]));
    let j = support::json_ok(&o);
    assert_eq!(j["verdict"]["cause"], "server-full", "{j}");
    assert!(j.to_string().contains("10 tries over"), "{j}");
}

/// A refusal after the greeting (SQLSTATE 08004) means the server has judged the account: it
/// may not take the reserved slot, and retrying cannot help.
#[test]
fn a_refusal_after_the_login_is_not_retried() {
    let fake = FakeServer::start(Behavior::TooManyAfterLogin);
    let o = run(&with(&tcp(fake.port), &["status"]));
    assert_error(&o, 11, "max_connections reached");
    assert!(!stderr(&o).contains("tries"), "{}", stderr(&o));
    assert_eq!(fake.accepted.load(Ordering::SeqCst), 1);
}

/// With --admin-port the account is taken for an admin's: the main port is retried for as long
/// as --connect-timeout allows, not a bounded number of times.
#[test]
fn with_an_admin_port_the_retries_last_the_connect_timeout() {
    let full = FakeServer::start(Behavior::ErrorBeforeGreeting {
        code: 1040,
        message: "Too many connections".into(),
    });
    let admin = refused_port(3).to_string();
    let started = Instant::now();
    let o = run(&with(
        &tcp(full.port),
        &["--admin-port", &admin, "--connect-timeout", "3s", "status"],
    ));
    assert_error(&o, 11, "before the greeting");
    assert!(!stderr(&o).contains("at most"), "{}", stderr(&o));
    assert!(
        full.accepted.load(Ordering::SeqCst) > 10,
        "{} tries: {}",
        full.accepted.load(Ordering::SeqCst),
        stderr(&o)
    );
    // Bounded by the window (plus process start-up on a busy machine).
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// A full private server, one account holding every ordinary slot and two clients retrying
/// their refused logins every few milliseconds: each refused client holds the reserved slot for
/// a moment, so about one login in three as root is refused before the greeting (measured on
/// this machine). diagnose, as an account entitled to that slot, still gets in every time and
/// reads the processlist: five runs, each of which without retries would be refused about a
/// third of the time (the fake-server test above fails deterministically without them).
#[test]
fn diagnose_gets_in_under_a_retry_storm() {
    // MariaDB's smallest max_connections.
    let s = Server::start(support::ServerOpts {
        max_connections: 10,
        ..support::ServerOpts::default()
    });
    s.create_user("app", "apppw", "USAGE");
    let filled = s.idle_connections("app", "apppw", 10);
    let stop = AtomicBool::new(false);
    let knocks = AtomicUsize::new(0);
    let runs: Vec<Output> = std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let _ = s.connect("app", "apppw");
                    knocks.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(2));
                }
            });
        }
        // The storm is on before diagnose starts.
        let began = Instant::now();
        while knocks.load(Ordering::Relaxed) < 20 && began.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let runs = (0..5)
            .map(|_| {
                s.conncheck("root", "")
                    .args(["diagnose", "--sample", "0", "--format", "json"])
                    .output()
                    .unwrap()
            })
            .collect();
        stop.store(true, Ordering::Relaxed);
        runs
    });
    let retried = runs
        .iter()
        .filter(|o| stderr(o).contains("refused us with ERROR 1040"))
        .count();
    eprintln!(
        "{retried} of {} runs needed retries; {} knocks",
        runs.len(),
        knocks.load(Ordering::Relaxed)
    );
    for o in &runs {
        let j = support::json_ok(o);
        let full = j["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == "server-full")
            .unwrap_or_else(|| panic!("no server-full finding: {j}"));
        // We got in, through the reserved slot: not "refused".
        assert!(
            full["evidence"]
                .to_string()
                .contains("the reserved admin slot"),
            "{full}"
        );
        // The processlist was read: the ten app sessions are there.
        let app = j["slots"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["client"] == "app@localhost")
            .map(|s| s["count"].as_u64().unwrap())
            .sum::<u64>();
        assert_eq!(app, 10, "{}", j["slots"]);
    }
    drop(filled);
}
