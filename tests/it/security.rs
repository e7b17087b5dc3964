//! Passwords never leave conncheck: not on stdout or stderr, not in JSON, the audit log, a saved
//! snapshot or `--help` (environment values are hidden), whichever way the password came in
//! (-p, MYSQL_PWD, --url, CONNCHECK_URL, an option file) and whether the run succeeds or fails
//! (wrong password, unreachable server). A password on the command line and a world-readable
//! option file holding one are warned about, as the mysql client does.
//!
//! That user text reaches SQL only as validated integers is checked by reading the code (every
//! statement is a constant or built from server ids and validated numbers, see
//! `snapshot::dialect::Dialect::kill_connection` and `remedy::settings`); filters are applied in Rust.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use support::fake_server::{Behavior, FakeServer, Received};
use support::{Server, conncheck, unused_port};

/// Distinctive, and full of characters that need care in URLs, shells and JSON.
const PW: &str = "Zq9#Secr3t$pw";
/// PW percent-encoded for URLs.
const PW_URL: &str = "Zq9%23Secr3t%24pw";

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn assert_no_password(what: &str, s: &str) {
    for needle in [PW, PW_URL, "Secr3t"] {
        assert!(!s.contains(needle), "{what}: password leaked:\n{s}");
    }
}

/// An option file with `[client]` credentials, mode 600 unless told otherwise.
fn option_file(dir: &Path, name: &str, body: &str, mode: u32) -> PathBuf {
    let f = dir.join(name);
    std::fs::write(&f, body).unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
    f
}

/// How the password is passed: a name, extra arguments, extra environment.
type Way = (&'static str, Vec<String>, Vec<(&'static str, String)>);

/// Every way to pass the password, as extra arguments and environment for `conncheck`.
fn ways(s: &Server, dir: &Path, user: &str, pw_ok: bool) -> Vec<Way> {
    let pw = if pw_ok {
        PW.to_string()
    } else {
        format!("{PW}x")
    };
    let pw_url = if pw_ok {
        PW_URL.to_string()
    } else {
        format!("{PW_URL}x")
    };
    let port = s.port().to_string();
    let conn = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["--no-defaults", "-h", "127.0.0.1", "-P", &port, "-u", user]
            .iter()
            .map(|x| x.to_string())
            .collect();
        v.extend(extra.iter().map(|x| x.to_string()));
        v
    };
    let url = format!("mysql://{user}:{pw_url}@127.0.0.1:{port}/");
    let file = option_file(
        dir,
        &format!("{user}-{pw_ok}.cnf"),
        &format!("[client]\nuser={user}\npassword=\"{pw}\"\nhost=127.0.0.1\nport={port}\n"),
        0o600,
    );
    vec![
        ("-p", conn(&[&format!("-p{pw}")]), vec![]),
        ("--password=", conn(&[&format!("--password={pw}")]), vec![]),
        ("MYSQL_PWD", conn(&[]), vec![("MYSQL_PWD", pw.clone())]),
        (
            "--url",
            vec!["--no-defaults".into(), "--url".into(), url.clone()],
            vec![],
        ),
        (
            "CONNCHECK_URL",
            vec!["--no-defaults".into()],
            vec![("CONNCHECK_URL", url)],
        ),
        (
            "option file",
            vec!["--defaults-file".into(), file.display().to_string()],
            vec![],
        ),
    ]
}

#[test]
fn the_password_appears_nowhere_whichever_way_it_came_in() {
    let s = Server::shared();
    s.create_user("sec_admin", PW, "ALL PRIVILEGES");
    s.create_user("sec_app", "apppw", "USAGE");
    let _idle = s.idle_connections("sec_app", "apppw", 2);
    let dir = tempfile::tempdir().unwrap();
    for (way, args, env) in ways(s, dir.path(), "sec_admin", true) {
        let log = dir
            .path()
            .join(format!("audit-{}.jsonl", way.replace(' ', "_")));
        let snap = dir
            .path()
            .join(format!("snap-{}.json", way.replace(' ', "_")));
        for cmd in [
            vec!["status".to_string()],
            vec!["status".into(), "--format".into(), "json".into()],
            vec![
                "diagnose".into(),
                "--sample".into(),
                "0".into(),
                "-v".into(),
            ],
            vec![
                "diagnose".into(),
                "--sample".into(),
                "0".into(),
                "--format".into(),
                "json".into(),
            ],
            vec![
                "sessions".into(),
                "--format".into(),
                "json".into(),
                "--full".into(),
            ],
            vec![
                "check".into(),
                "--sample".into(),
                "0".into(),
                "--format".into(),
                "json".into(),
            ],
            vec![
                "kill-idle".into(),
                "--older-than".into(),
                "0s".into(),
                "--match-user".into(),
                "sec_app".into(),
                "--dry-run".into(),
                "--log".into(),
                log.display().to_string(),
            ],
            vec![
                "snapshot".into(),
                "--sample".into(),
                "0".into(),
                "-o".into(),
                snap.display().to_string(),
            ],
        ] {
            let mut c = conncheck();
            c.args(&args).args(&cmd);
            for (k, v) in &env {
                c.env(k, v);
            }
            let out = c.output().unwrap();
            let what = format!("{way} {cmd:?}");
            assert!(
                matches!(out.status.code(), Some(0 | 1)),
                "{what}: {}",
                text(&out)
            );
            assert_no_password(&what, &text(&out));
        }
        let log_text = std::fs::read_to_string(&log).unwrap();
        assert!(log_text.contains("\"dry_run\":true"), "{log_text}");
        assert_no_password(&format!("{way} audit log"), &log_text);
        let snap_text = std::fs::read_to_string(&snap).unwrap();
        assert!(snap_text.contains("\"schema_version\""), "{snap_text}");
        assert_no_password(&format!("{way} snapshot"), &snap_text);
    }
}

#[test]
fn error_paths_never_show_the_password() {
    let s = Server::shared();
    s.create_user("sec_err", PW, "USAGE");
    let dir = tempfile::tempdir().unwrap();
    // Wrong password: access denied (13), the message names the user, not the password.
    for (way, args, env) in ways(s, dir.path(), "sec_err", false) {
        let mut c = conncheck();
        c.args(&args).args(["diagnose", "--sample", "0"]);
        for (k, v) in &env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(13), "{way}: {}", text(&out));
        assert!(
            text(&out).contains("denied access"),
            "{way}: {}",
            text(&out)
        );
        assert_no_password(way, &text(&out));
    }
    // Unreachable (14), a bad URL (2), a multi-target run with one bad URL: same.
    let port = unused_port();
    for (args, code) in [
        (
            vec![
                format!("--url=mysql://u:{PW_URL}@127.0.0.1:{port}/"),
                "status".into(),
            ],
            14,
        ),
        (
            vec![
                format!("--url=mysql://u:{PW_URL}@127.0.0.1:{port}/"),
                "check".into(),
            ],
            3,
        ),
        (
            vec![
                format!("--url=mysql://u:{PW}@127.0.0.1:notaport/"),
                "status".into(),
            ],
            2,
        ),
        (
            vec![
                format!("--url=mysql://u:{PW}/x@127.0.0.1/"),
                "status".into(),
            ],
            2,
        ),
        (
            vec![
                format!("--url=mysql://u:{PW_URL}@127.0.0.1:{port}/"),
                format!("--url=mysql://u:{PW}@h:bad/"),
                "status".into(),
                "--format".into(),
                "json".into(),
            ],
            14,
        ),
        (
            vec![
                "-h".into(),
                "127.0.0.1".into(),
                "-P".into(),
                port.to_string(),
                format!("-p{PW}"),
                "diagnose".into(),
            ],
            14,
        ),
    ] {
        let out = conncheck()
            .arg("--no-defaults")
            .args(&args)
            .output()
            .unwrap();
        let what = format!("{args:?}");
        assert_eq!(out.status.code(), Some(code), "{what}: {}", text(&out));
        assert_no_password(&what, &text(&out));
    }
}

/// `--debug` logs every statement sent, with its round-trip time, on stderr; nothing else
/// changes: stdout is the same report (the log never reaches it), a run without the flag logs
/// nothing, and the password (sent in the login, never in a statement) is not in the log.
#[test]
fn debug_logs_each_statement_with_its_time_on_stderr_only() {
    let s = Server::shared();
    s.create_user("sec_debug", PW, "PROCESS");
    let run = |debug: bool| {
        let mut c = s.conncheck("sec_debug", PW);
        if debug {
            c.arg("--debug");
        }
        c.args(["diagnose", "--sample", "0", "--format", "json"])
            .output()
            .unwrap()
    };
    let plain = run(false);
    let logged = run(true);
    let err = String::from_utf8_lossy(&logged.stderr);
    let line = regex::Regex::new(r"^conncheck: debug: \S+ \d+\.\d{2} ms (ok|error \d+|failed): \S")
        .unwrap();
    let timed: Vec<&str> = err.lines().filter(|l| line.is_match(l)).collect();
    assert!(
        err.lines()
            .any(|l| line.is_match(l) && l.contains("login as sec_debug")),
        "the login, timed:\n{err}"
    );
    // At least the login's identity read and the snapshot's batch, each with its time.
    assert!(timed.len() >= 2, "one timed line per round trip:\n{err}");
    assert!(
        err.lines().any(|l| l.starts_with("conncheck: debug: ")
            && l.contains("SHOW GLOBAL VARIABLES")
            && l.contains("'max_connections'")),
        "every statement of a batch on its own line:\n{err}"
    );
    assert!(
        !String::from_utf8_lossy(&plain.stderr).contains("conncheck: debug:"),
        "no log without --debug"
    );
    assert!(!String::from_utf8_lossy(&logged.stdout).contains("debug:"));
    assert_eq!(plain.status.code(), logged.status.code(), "{err}");
    let (a, b) = (support::json(&plain), support::json(&logged));
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&a), keys(&b));
    assert_eq!(a["target"], b["target"]);
    assert_no_password("--debug", &text(&logged));
}

#[test]
fn help_hides_environment_values() {
    let url = format!("mysql://u:{PW_URL}@db1/");
    for args in [
        vec!["--help"],
        vec!["status", "--help"],
        vec!["kill-idle", "--help"],
    ] {
        let out = conncheck()
            .env("CONNCHECK_URL", &url)
            .env("MYSQL_PWD", PW)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let t = text(&out);
        assert!(t.contains("CONNCHECK_URL"), "{t}");
        assert_no_password(&format!("{args:?}"), &t);
    }
}

#[test]
fn a_password_on_the_command_line_is_warned_about() {
    let s = Server::shared();
    s.create_user("sec_warn", PW, "USAGE");
    for pw_arg in [format!("-p{PW}"), format!("--password={PW}")] {
        // No password for the harness (no MYSQL_PWD): it comes from the command line only.
        let out = s
            .conncheck("sec_warn", "")
            .arg(&pw_arg)
            .args(["status"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(
                "[Warning] Using a password on the command line interface can be insecure."
            ),
            "{err}"
        );
        assert_no_password(&pw_arg, &text(&out));
    }
    // MYSQL_PWD and option files do not warn about the command line.
    let out = s.conncheck("sec_warn", PW).arg("status").output().unwrap();
    assert!(!text(&out).contains("command line"), "{}", text(&out));
}

/// `mysql -p secret` is a common slip (the space): the word after a bare `-p` is not taken as the
/// password, and the usage error that follows must not quote it back.
#[test]
fn a_password_typed_after_a_space_is_not_echoed() {
    for args in [
        vec!["-p", PW, "status"],
        vec!["status", "-p", PW],
        vec!["--password", PW, "diagnose"],
    ] {
        let out = conncheck()
            .arg("--no-defaults")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains("hidden"), "{args:?}: {}", text(&out));
        assert_no_password(&format!("{args:?}"), &text(&out));
    }
}

#[test]
fn a_world_readable_option_file_with_a_password_is_warned_about() {
    let s = Server::shared();
    s.create_user("sec_file", PW, "USAGE");
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "[client]\nuser=sec_file\n# quoted: an unquoted # starts a comment\npassword=\"{PW}\"\nhost=127.0.0.1\nport={}\n",
        s.port()
    );
    let readable = option_file(dir.path(), "readable.cnf", &body, 0o644);
    let out = conncheck()
        .args(["--defaults-file", readable.to_str().unwrap(), "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{} contains a password and is readable by other users (chmod 600",
            readable.display()
        )),
        "{err}"
    );
    assert_no_password("readable", &text(&out));

    // Private: no warning. World-writable: ignored entirely (as mysql does), so no credentials.
    let private = option_file(dir.path(), "private.cnf", &body, 0o600);
    let out = conncheck()
        .args(["--defaults-file", private.to_str().unwrap(), "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        !text(&out).contains("readable by other users"),
        "{}",
        text(&out)
    );
    let writable = option_file(dir.path(), "writable.cnf", &body, 0o666);
    let out = conncheck()
        .args([
            "--connect-timeout",
            "2s",
            "--defaults-file",
            writable.to_str().unwrap(),
            "status",
        ])
        .output()
        .unwrap();
    let t = text(&out);
    // Named explicitly, so not skipped silently (which would reach the default server): an
    // error before any connection, with the fix.
    assert_eq!(out.status.code(), Some(10), "{t}");
    assert!(
        t.contains("is world-writable") && t.contains("chmod o-w"),
        "{t}"
    );
    assert!(!t.contains("connect"), "no connection attempted: {t}");
    assert_no_password("writable", &t);
}

/// Found by the adversarial review: `-pX`, `--password=X` and a URL's password stayed readable
/// in `ps` / /proc/PID/cmdline. They are overwritten with `x`, as the mysql client does.
#[test]
fn passwords_are_masked_in_the_process_arguments() {
    // A server that never greets keeps conncheck waiting while we look at its arguments.
    let fake = support::fake_server::FakeServer::start(support::fake_server::Behavior::Silent);
    let url = format!("mysql://u:{PW_URL}@127.0.0.1:{}/", fake.port);
    let mut accepted = 0;
    for args in [
        vec![format!("-p{PW}"), "--url".to_string(), url.clone()],
        vec![format!("--password={PW}"), format!("--url={url}")],
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_conncheck"))
            .env_clear()
            .env("HOME", "/nonexistent")
            .arg("--no-defaults")
            .args(&args)
            .args(["--connect-timeout", "10s", "status"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Wait for this run's connection (the count goes on from the previous run), then read
        // the arguments while it waits for the greeting.
        let before = accepted;
        let start = std::time::Instant::now();
        while fake.accepted.load(std::sync::atomic::Ordering::SeqCst) == before
            && start.elapsed() < std::time::Duration::from_secs(10)
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        accepted = fake.accepted.load(std::sync::atomic::Ordering::SeqCst);
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.id())).unwrap();
        let exited = child.try_wait().unwrap();
        let _ = child.kill();
        let _ = child.wait();
        let shown = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(
            shown.contains("127.0.0.1"),
            "the arguments are there: {shown:?} (exited: {exited:?})"
        );
        assert_no_password(&format!("{args:?}"), &shown);
        assert!(shown.contains("xxxx"), "{shown}");
    }
}

#[test]
fn a_url_password_on_the_command_line_is_warned_about() {
    let s = Server::shared();
    s.create_user("sec_url", PW, "USAGE");
    let url = format!("mysql://sec_url:{PW_URL}@127.0.0.1:{}/", s.port());
    let out = conncheck()
        .args(["--no-defaults", "--url", &url, "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("[Warning] Using a password in --url"),
        "{}",
        text(&out)
    );
    // From the environment: not on the command line, no warning.
    let out = conncheck()
        .env("CONNCHECK_URL", &url)
        .args(["--no-defaults", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!text(&out).contains("Warning"), "{}", text(&out));
}

/// Found by the adversarial review: `lab:SECRET@host` without `mysql://` was taken as a host name
/// and the password appeared in the error, Nagios output, Prometheus label and JSON.
#[test]
fn a_url_without_its_scheme_is_a_usage_error_that_never_echoes_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let bare = format!("lab:{PW}@127.0.0.1:3306");
    let targets = dir.path().join("targets.txt");
    std::fs::write(&targets, format!("{bare}\n")).unwrap();
    let t = targets.to_str().unwrap();
    for args in [
        vec!["--url", &bare, "status"],
        vec!["--url", &bare, "check"],
        vec!["--url", &bare, "check", "--format", "prometheus"],
        vec!["--targets", t, "status", "--format", "json"],
        vec!["--targets", t, "check"],
        vec!["--targets", t, "check", "--format", "prometheus"],
        vec!["--targets", t, "diagnose", "--format", "json"],
    ] {
        let out = conncheck()
            .arg("--no-defaults")
            .args(&args)
            .output()
            .unwrap();
        let shown = text(&out);
        assert_no_password(&format!("{args:?}"), &shown);
        assert!(shown.contains("mysql://"), "{args:?}: {shown}");
        let code = out.status.code();
        let expected = if args.contains(&"check") { 3 } else { 2 };
        assert_eq!(code, Some(expected), "{args:?}: {shown}");
    }
    // Among several targets (each reported on its own: labels, perfdata, JSON).
    let two = dir.path().join("two.txt");
    std::fs::write(&two, format!("{bare}\n127.0.0.1:{}\n", unused_port())).unwrap();
    let t = two.to_str().unwrap();
    for args in [
        vec!["--targets", t, "status", "--format", "json"],
        vec!["--targets", t, "check"],
        vec!["--targets", t, "check", "--format", "prometheus"],
        vec!["--targets", t, "diagnose", "--format", "json"],
    ] {
        let out = conncheck()
            .arg("--no-defaults")
            .args(&args)
            .output()
            .unwrap();
        assert_no_password(&format!("{args:?}"), &text(&out));
        assert_ne!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
    }
}

/// Snapshots and audit logs hold full query texts: created 0600, never 0644.
#[test]
fn files_conncheck_writes_are_private() {
    let s = Server::shared();
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("snap.json");
    let out = s
        .conncheck("root", "")
        .args(["snapshot", "-o", snap.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let mode = std::fs::metadata(&snap).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "snapshot mode {mode:o}");
}

/// A 2048-bit RSA public key (tests/data/PROVENANCE.md): what a server, or one pretending to be
/// it, sends when asked for its key.
const SERVER_KEY: &str = include_str!("../data/server_public_key.pem");

/// A fake caching_sha2_password server that asks for the full password over TCP without TLS.
fn full_auth_server() -> (FakeServer, Received) {
    let received: Received = Default::default();
    let fake = FakeServer::start(Behavior::CachingSha2FullAuth {
        key: SERVER_KEY.as_bytes().to_vec(),
        received: received.clone(),
    });
    (fake, received)
}

/// What the client sent after the greeting, without its COM_QUIT (`0x01`, sent when the driver
/// closes a connection, also one that TLS could not start on).
fn packets(r: &Received) -> Vec<Vec<u8>> {
    r.lock()
        .unwrap()
        .iter()
        .filter(|p| **p != [0x01])
        .cloned()
        .collect()
}

/// conncheck against `port` as root, the password in MYSQL_PWD, with `args` after the
/// connection flags (`--no-defaults` unless `args` names an option file).
fn against_cmd(port: u16, args: &[&str]) -> assert_cmd::Command {
    let files = args.iter().any(|a| a.starts_with("--defaults"));
    let port = port.to_string();
    let mut c = conncheck();
    c.args(if files {
        &[][..]
    } else {
        &["--no-defaults"][..]
    })
    .args(["-h", "127.0.0.1", "-P", &port, "-u", "root"])
    .args(args)
    .env("MYSQL_PWD", PW);
    c
}

/// [`against_cmd`], run.
fn against(port: u16, args: &[&str]) -> Output {
    against_cmd(port, args).output().unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Issue "Trust under new attacks", item 1: over TCP without TLS, a server that asks for the
/// full password used to get it encrypted with an RSA key it sent itself (so a fake server read
/// it). Now conncheck refuses, as the mysql client does, with exit 19, and sends nothing after
/// the scramble: no key request, no password.
#[test]
fn no_password_goes_to_a_key_the_server_sends() {
    let (fake, received) = full_auth_server();
    for (extra, says) in [
        // PREFERRED on loopback: plain, then one try with TLS, which this server lacks.
        (vec![], "the server offers no TLS"),
        (vec!["--ssl-mode", "DISABLED"], "the connection has no TLS"),
    ] {
        received.lock().unwrap().clear();
        let out = against(fake.port, &[&extra[..], &["status"]].concat());
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(19), "{extra:?}: {err}");
        assert!(err.contains("caching_sha2_password"), "{err}");
        assert!(err.contains(says), "{err}");
        assert!(err.contains("--server-public-key-path"), "{err}");
        assert_eq!(err.matches("conncheck: error:").count(), 1, "{err}");
        assert_no_password(&format!("{extra:?}"), &text(&out));
        // Only the handshake response (user and scramble) reached the server.
        let got = packets(&received);
        assert_eq!(got.len(), 1, "{extra:?}: {got:?}");
        assert!(!contains(&got[0], PW.as_bytes()));
    }
    // check: no verdict (UNKNOWN), and still nothing sent.
    received.lock().unwrap().clear();
    let out = against(fake.port, &["check"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(packets(&received).len(), 1);
}

/// With --get-server-public-key the user accepts the risk: the key is requested and the
/// password goes encrypted with it (the fake server then denies access: exit 13). With
/// --server-public-key-path the key is never requested.
#[test]
fn a_known_or_explicitly_requested_key_lets_the_login_proceed() {
    let (fake, received) = full_auth_server();
    let out = against(fake.port, &["--get-server-public-key", "status"]);
    assert_eq!(out.status.code(), Some(13), "{}", text(&out));
    let got = packets(&received);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[1], [0x02], "the key request");
    assert_eq!(
        got[2].len(),
        256,
        "the password, encrypted with the 2048-bit key"
    );
    assert!(got.iter().all(|p| !contains(p, PW.as_bytes())));

    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("public_key.pem");
    std::fs::write(&key, SERVER_KEY).unwrap();
    let key = key.to_str().unwrap();
    // From an option file too, as the mysql client reads it.
    let cnf = option_file(
        dir.path(),
        "key.cnf",
        &format!("[client]\nserver-public-key-path={key}\n"),
        0o600,
    );
    let cnf = cnf.to_str().unwrap();
    for args in [
        ["--server-public-key-path", key, "status"],
        ["--defaults-file", cnf, "status"],
    ] {
        received.lock().unwrap().clear();
        let out = against(fake.port, &args);
        assert_eq!(out.status.code(), Some(13), "{args:?}: {}", text(&out));
        let got = packets(&received);
        assert_eq!(got.len(), 2, "{args:?}: {got:?}");
        assert_eq!(got[1].len(), 256, "encrypted with our copy, no key request");
    }
    // From standard input (read once).
    received.lock().unwrap().clear();
    let out = against_cmd(fake.port, &["--server-public-key-path", "-", "status"])
        .write_stdin(SERVER_KEY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(13), "{}", text(&out));
    assert_eq!(packets(&received).len(), 2);
    // A file that is not a key is one clear error before connecting (exit 10).
    received.lock().unwrap().clear();
    let out = against(
        fake.port,
        &["--server-public-key-path", "/dev/null", "status"],
    );
    assert_eq!(out.status.code(), Some(10), "{}", text(&out));
    assert!(
        text(&out).contains("not an RSA public key"),
        "{}",
        text(&out)
    );
    assert!(packets(&received).is_empty());
}

/// In fleet mode the option file's password goes to every listed host: none of them gets it
/// for a key it sent itself.
#[test]
fn no_host_of_a_fleet_gets_the_shared_password_for_its_own_key() {
    let (a, received_a) = full_auth_server();
    let (b, received_b) = full_auth_server();
    let dir = tempfile::tempdir().unwrap();
    let cnf = option_file(
        dir.path(),
        "fleet.cnf",
        &format!("[client]\nuser=root\npassword=\"{PW}\"\n"),
        0o600,
    );
    let targets = dir.path().join("targets.txt");
    std::fs::write(
        &targets,
        format!("127.0.0.1:{}\n127.0.0.1:{}\n", a.port, b.port),
    )
    .unwrap();
    let out = conncheck()
        .args(["--defaults-file", cnf.to_str().unwrap()])
        .args(["--targets", targets.to_str().unwrap(), "status"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert_no_password("fleet", &text(&out));
    for got in [packets(&received_a), packets(&received_b)] {
        assert_eq!(got.len(), 1, "only the scramble: {got:?}");
        assert!(!contains(&got[0], PW.as_bytes()));
    }
}
