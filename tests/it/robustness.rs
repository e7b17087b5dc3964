//! Faults in the middle of a run, against private servers: the server killed during `diagnose`
//! and between the kill plan and its execution, a server that stalls mid-query, and lock
//! pile-ups that must not hold our reads. Every case ends with a clear message and its
//! documented exit code, never a hang (each run is bounded).
//!
//! Covered elsewhere, not repeated here: a listener that accepts and never greets
//! (tests/it/cli.rs `a_server_that_never_greets_times_out_with_its_own_message`), a server at
//! max_connections with the reserved slot taken too (tests/it/status.rs
//! `a_full_server_refuses_ordinary_accounts_and_admits_admins_through_the_reserved_slot`), and a
//! connection lost during `watch`, which reconnects (tests/it/watch.rs
//! `a_lost_connection_is_shown_and_reconnected`).

use crate::support;

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use mysql::prelude::Queryable;
use rexpect::process::WaitStatus;
use support::child::finish;
use support::{Server, ServerOpts};

/// conncheck as `user` on `s`, with piped output, started in the background.
fn spawn(s: &Server, user: &str, password: &str, args: &[&str]) -> Child {
    s.process(user, password)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn conncheck")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// One clear error, no panic, no backtrace.
fn assert_clean_error(o: &Output, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "stderr: {err}\nstdout: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(err.contains(needle), "{err}");
    assert_eq!(err.matches("conncheck: error:").count(), 1, "{err}");
    assert!(err.contains("hint:"), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("stack backtrace"),
        "{err}"
    );
}

/// SIGSTOP/SIGCONT a server; the guard resumes it even when the test fails.
struct Stopped(u32);

impl Stopped {
    fn stop(pid: u32) -> Stopped {
        signal("-STOP", pid);
        Stopped(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        signal("-CONT", self.0);
    }
}

fn signal(sig: &str, pid: u32) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {sig} {pid} failed");
}

#[test]
fn server_killed_during_diagnose_sample_is_connection_lost() {
    let mut s = Server::start(ServerOpts::default());
    s.create_user("diag", "dpw", "PROCESS");
    let child = spawn(&s, "diag", "dpw", &["diagnose", "--sample", "5s"]);
    // Connected, first two round trips done: conncheck now waits for the second status reading.
    s.wait_until("diagnose is connected", Duration::from_secs(10), |_| {
        !s.ids_of("diag").is_empty()
    });
    std::thread::sleep(Duration::from_millis(500));
    s.kill9();
    let (out, _) = finish(child, Duration::from_secs(20));
    assert_clean_error(&out, 18, "lost the connection to 127.0.0.1:");
    assert!(
        stderr(&out).contains("reading global status"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("IoError {"), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "no half report on stdout");
}

#[test]
fn a_server_that_stalls_mid_run_trips_the_query_timeout() {
    let s = Server::start(ServerOpts::default());
    s.create_user("stall", "spw", "PROCESS");
    let child = spawn(
        &s,
        "stall",
        "spw",
        &["--query-timeout", "1s", "diagnose", "--sample", "3s"],
    );
    s.wait_until("diagnose is connected", Duration::from_secs(10), |_| {
        !s.ids_of("stall").is_empty()
    });
    std::thread::sleep(Duration::from_millis(300));
    // A wedged server (mutex pile-up, swapping, a frozen VM) keeps the TCP connection open and
    // answers nothing: only our read timeout ends the wait.
    let frozen = Stopped::stop(s.pid());
    let (out, _) = finish(child, Duration::from_secs(20));
    drop(frozen);
    assert_clean_error(&out, 15, "did not answer within the query timeout");
}

#[test]
fn a_stalled_server_at_login_trips_the_connect_timeout() {
    let s = Server::start(ServerOpts::default());
    let frozen = Stopped::stop(s.pid());
    let child = spawn(&s, "root", "", &["--connect-timeout", "1s", "status"]);
    let (out, _) = finish(child, Duration::from_secs(20));
    drop(frozen);
    assert_clean_error(&out, 15, "sent no greeting within 1s");
}

/// Our reads take no table or metadata locks: the classic "Waiting for table metadata lock"
/// pile-up (an open transaction, DDL queued behind it, readers queued behind the DDL) and a
/// global read lock must not hold `diagnose`, `sessions` or a SET GLOBAL. Were one blocked, the
/// session guards (lock_wait_timeout, max_statement_time) and --query-timeout would end it with
/// exit 15 (the stalled-server test shows that path); this checks that nothing waits at all:
/// the pile-ups below last until the test ends them, so a statement that waited would time out.
#[test]
fn lock_pileups_do_not_block_our_statements() {
    let s = Server::shared();
    s.create_user("locker", "lpw", "ALL PRIVILEGES");
    s.sql("CREATE TABLE IF NOT EXISTS locker_db.t (id INT PRIMARY KEY) ENGINE=InnoDB");
    let ours = |what: &str| {
        for args in [
            vec![
                "--query-timeout",
                "10s",
                "diagnose",
                "--sample",
                "0",
                "--format",
                "json",
            ],
            vec!["--query-timeout", "10s", "sessions", "--format", "json"],
            vec![
                "--query-timeout",
                "10s",
                "set-timeouts",
                "--wait-timeout",
                "28800",
                "--yes",
            ],
        ] {
            let child = spawn(s, "root", "", &args);
            let (out, _) = finish(child, Duration::from_secs(20));
            assert_eq!(
                out.status.code(),
                Some(0),
                "{what}: {args:?}: {}",
                stderr(&out)
            );
        }
    };

    // 1. Metadata-lock pile-up.
    let mut holder = s.connect("locker", "lpw").unwrap();
    holder.query_drop("BEGIN").unwrap();
    holder.query_drop("SELECT * FROM locker_db.t").unwrap();
    let waiting = |n: u64| {
        move |c: &mut mysql::Conn| {
            let w: Option<u64> = c
                .query_first(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                     WHERE STATE = 'Waiting for table metadata lock'",
                )
                .unwrap();
            w >= Some(n)
        }
    };
    let ddl = s.background_query("locker", "lpw", "ALTER TABLE locker_db.t ADD COLUMN c INT");
    s.wait_until("the DDL waits", Duration::from_secs(10), waiting(1));
    // Only once the DDL waits does a reader queue behind it.
    let reader = s.background_query("locker", "lpw", "SELECT * FROM locker_db.t");
    s.wait_until("the pile-up forms", Duration::from_secs(10), waiting(2));
    ours("metadata-lock pile-up");
    drop(reader);
    drop(ddl);
    holder.query_drop("ROLLBACK").unwrap();

    // 2. A global read lock (a backup running FLUSH TABLES WITH READ LOCK).
    let mut backup = s.connect("root", "").unwrap();
    backup.query_drop("FLUSH TABLES WITH READ LOCK").unwrap();
    ours("global read lock");
    backup.query_drop("UNLOCK TABLES").unwrap();
}

fn pty(s: &Server, args: &[&str]) -> rexpect::session::PtySession {
    let mut cmd = s.process("root", "");
    cmd.env("COLUMNS", "200").args(args);
    rexpect::session::spawn_command(cmd, Some(30_000)).unwrap()
}

/// The plan is on the screen, the server dies, the user says yes: nothing can be killed, and the
/// report (screen and audit log) says so for every planned session, with exit 18.
#[test]
fn server_killed_between_the_kill_plan_and_the_confirmation() {
    let mut s = Server::start(ServerOpts::default());
    s.create_user("victim", "vpw", "USAGE");
    let idle = s.idle_connections("victim", "vpw", 3);
    let ids: Vec<u64> = idle.iter().map(support::conn_id).collect();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");

    let mut p = pty(
        &s,
        &[
            "kill-idle",
            "--older-than",
            "0s",
            "--match-user",
            "victim",
            "--log",
            log.to_str().unwrap(),
        ],
    );
    p.exp_string("Plan:").unwrap();
    p.exp_string("Kill these 3 sessions?").unwrap();
    p.exp_string("[y/N]").unwrap();
    s.kill9();
    drop(idle);
    // dialoguer discards keys typed before it enters raw mode.
    support::pty::wait_reading_keys(&p);
    p.send("y").unwrap();
    p.flush().unwrap();
    let screen = p.exp_eof().unwrap();
    let code = match p.process().wait().unwrap() {
        WaitStatus::Exited(_, code) => code,
        other => panic!("{other:?}"),
    };
    assert_eq!(code, 18, "{screen}");
    assert!(screen.contains("0 killed"), "{screen}");
    assert!(screen.contains("3 not attempted"), "{screen}");
    assert_eq!(
        screen
            .matches("not attempted: the connection was lost before the kill")
            .count(),
        3,
        "{screen}"
    );
    // The first statement after the answer takes the kill lock (before the re-check read).
    assert!(
        screen.contains("conncheck: error: taking the kill lock: lost the connection"),
        "{screen}"
    );
    assert!(!screen.contains("panicked"), "{screen}");

    // The plan record came first (before any KILL); the result record is the last line.
    let log_text = std::fs::read_to_string(&log).unwrap();
    let record: serde_json::Value = serde_json::from_str(log_text.lines().last().unwrap()).unwrap();
    let results = record["results"].as_array().unwrap();
    let mut logged: Vec<u64> = results.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    logged.sort();
    assert_eq!(logged, ids);
    assert!(
        results.iter().all(|r| r["outcome"] == "not-attempted"),
        "{record}"
    );
    assert_eq!(record["counts"]["killed"], 0);
    assert_eq!(record["counts"]["not_attempted"], 3);
}
