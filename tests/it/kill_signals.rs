//! Kill runs under signals and side by side, live: a SIGTERM in the middle of a batch of 1,000
//! stops it with every outcome recorded (log and terminal) and exactly what the server shows; a
//! second signal ends the run at once and the log still says it was interrupted; two runs over
//! the same sessions never both report one as killed (the `conncheck-kill` lock); a run that
//! cannot get the lock leaves its victims `skipped-concurrent`.
//!
//! The batch is kept in flight by a proxy that holds the KILLs' answers until the test has
//! seen conncheck acknowledge the signal: no sleep decides anything here.

use crate::support;

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use support::proxy::{Fault, Proxy};
use support::{Server, ServerOpts, conn_id};

/// One server for this file, room for 1,000 idle sessions and the ones a previous test is still
/// closing; with the guard that runs these tests one at a time (each holds hundreds of
/// connections, and as many descriptors in this process).
fn server() -> (&'static Server, MutexGuard<'static, ()>) {
    static S: OnceLock<Server> = OnceLock::new();
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let s = S.get_or_init(|| {
        Server::start(ServerOpts {
            max_connections: 2_000,
            ..ServerOpts::default()
        })
    });
    (s, guard)
}

/// `n` idle sessions of a new user: the connections (keep them) and their ids.
fn victims(s: &Server, user: &str, n: usize) -> (Vec<mysql::Conn>, Vec<u64>) {
    s.create_user(user, "pw", "USAGE");
    let conns = s.idle_connections(user, "pw", n);
    let ids = conns.iter().map(conn_id).collect();
    (conns, ids)
}

fn alive(s: &Server) -> HashSet<u64> {
    s.root()
        .query::<u64, _>("SELECT ID FROM information_schema.PROCESSLIST")
        .unwrap()
        .into_iter()
        .collect()
}

/// conncheck as root on `port` (the server's or a proxy's), hermetic, output captured.
fn conncheck_on(port: u16, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_conncheck"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "120")
        .args([
            "--no-defaults",
            "-h",
            "127.0.0.1",
            "-P",
            &port.to_string(),
            "--user=root",
        ])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// A running conncheck whose stdout and stderr are collected as they come.
struct Running {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Running {
    fn start(mut c: Command) -> Running {
        let mut child = c.spawn().unwrap();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        for (mut from, to) in [
            (
                Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
                stdout.clone(),
            ),
            (Box::new(child.stderr.take().unwrap()), stderr.clone()),
        ] {
            readers.push(std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = from.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    to.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            }));
        }
        Running {
            child,
            stdout,
            stderr,
            readers,
        }
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    fn signal(&self, sig: i32) {
        let pid = i32::try_from(self.child.id()).unwrap();
        // SAFETY: sends a signal to our own child process.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
    }

    /// Wait (bounded) until stderr says `what`.
    fn wait_stderr(&self, what: &str) {
        let start = Instant::now();
        while !self.stderr().contains(what) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "conncheck never said {what:?}; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Wait (bounded: a run that does not end is a hang) for the exit code, stdout and stderr.
    fn finish(mut self) -> (Option<i32>, String, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if start.elapsed() > Duration::from_secs(90) {
                let _ = self.child.kill();
                panic!("conncheck still running after 90s: {}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        for r in self.readers.drain(..) {
            r.join().unwrap();
        }
        let out = String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned();
        (status.code(), out, self.stderr())
    }
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never happened: {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `[global options…] kill-idle --older-than 0s --match-user USER --yes [more…]`.
fn kill_idle<'a>(global: &[&'a str], user: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut v = global.to_vec();
    v.extend([
        "kill-idle",
        "--older-than",
        "0s",
        "--match-user",
        user,
        "--yes",
    ]);
    v.extend(more);
    v
}

fn records(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Ids of the results with this outcome.
fn with(v: &serde_json::Value, outcome: &str) -> Vec<u64> {
    let mut ids: Vec<u64> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["outcome"] == outcome)
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

/// The result record's outcomes are the server's truth: every `killed` session is gone, every
/// `not-attempted` one still there, and every planned victim has exactly one outcome.
fn assert_exact(s: &Server, rec: &serde_json::Value, planned: &[u64]) {
    let mut all: Vec<u64> = rec["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    all.sort_unstable();
    let mut want = planned.to_vec();
    want.sort_unstable();
    assert_eq!(all, want, "one outcome per planned session");
    let killed = with(rec, "killed");
    wait_for("the killed sessions leave the processlist", || {
        let now = alive(s);
        killed.iter().all(|id| !now.contains(id))
    });
    let now = alive(s);
    let not_attempted = with(rec, "not-attempted");
    assert!(
        not_attempted.iter().all(|id| now.contains(id)),
        "a session reported not-attempted is gone"
    );
}

const N: usize = 1_000;

#[test]
fn sigterm_in_the_middle_of_a_batch_records_every_outcome_exactly() {
    let (s, _one_at_a_time) = server();
    let (_conns, ids) = victims(s, "sig_term", N);
    // The first batch (500 KILLs) is answered up to 100, then held: in flight.
    let proxy = Proxy::start(s.port(), Fault::HoldAfterReplies(100));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let log_arg = log.to_str().unwrap();
    let run = Running::start(conncheck_on(
        proxy.port(),
        &kill_idle(&[], "sig_term", &["--log", log_arg]),
    ));
    wait_for("the batch is in flight", || proxy.fired());
    run.signal(libc::SIGTERM);
    // conncheck acknowledges the signal (it now sends nothing more), then the answers flow.
    run.wait_stderr("SIGTERM received");
    proxy.release();
    let (code, stdout, stderr) = run.finish();
    assert_eq!(code, Some(3), "every outcome is known: {stderr}");
    let recs = records(&log);
    let events: Vec<&str> = recs.iter().map(|r| r["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["plan", "result"], "{stderr}");
    let result = &recs[1];
    assert_eq!(result["interrupted"], "SIGTERM");
    assert_eq!(with(result, "killed").len(), 500, "the batch in flight");
    assert_eq!(with(result, "not-attempted").len(), N - 500);
    assert_eq!(result["counts"]["killed"], 500);
    assert_eq!(result["counts"]["not_attempted"], N - 500);
    assert_exact(s, result, &ids);
    // Exactly the 500 never sent are still on the server.
    let now = alive(s);
    assert_eq!(ids.iter().filter(|id| now.contains(id)).count(), N - 500);
    // The terminal gets the same: the result line and the interruption.
    assert!(stdout.contains("Result: 500 killed"), "{stdout}");
    assert!(stdout.contains("500 not attempted"), "{stdout}");
    assert!(stdout.contains("Interrupted: SIGTERM arrived"), "{stdout}");
    assert_eq!(proxy.kills_seen(), 500, "no KILL went out after the signal");
}

#[test]
fn sigint_with_an_answer_lost_for_good_exits_18_with_the_unknown_ones_recorded() {
    let (s, _one_at_a_time) = server();
    let (_conns, ids) = victims(s, "sig_lost", 600);
    let proxy = Proxy::start(s.port(), Fault::HoldAfterReplies(100));
    proxy.refuse_after_fault();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let run = Running::start(conncheck_on(
        proxy.port(),
        &kill_idle(
            &["--query-timeout", "3s"],
            "sig_lost",
            &["--format", "json", "--log", log.to_str().unwrap()],
        ),
    ));
    wait_for("the batch is in flight", || proxy.fired());
    run.signal(libc::SIGINT);
    // The answers never come: the query timeout cuts the connection, reconnecting is refused.
    let (code, stdout, stderr) = run.finish();
    assert_eq!(code, Some(18), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["interrupted"], "SIGINT");
    assert_eq!(with(&v, "killed").len(), 100);
    assert_eq!(with(&v, "unknown").len(), 400);
    assert_eq!(with(&v, "not-attempted").len(), 100);
    let recs = records(&log);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[1]["interrupted"], "SIGINT");
    assert_eq!(recs[1]["counts"], v["counts"]);
    assert_exact(s, &v, &ids);
}

#[test]
fn a_second_signal_ends_the_run_at_once_and_the_log_says_interrupted() {
    let (s, _one_at_a_time) = server();
    let (_conns, _ids) = victims(s, "sig_twice", 600);
    let proxy = Proxy::start(s.port(), Fault::HoldAfterReplies(10));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let run = Running::start(conncheck_on(
        proxy.port(),
        &kill_idle(&[], "sig_twice", &["--log", log.to_str().unwrap()]),
    ));
    wait_for("the batch is in flight", || proxy.fired());
    run.signal(libc::SIGTERM);
    run.wait_stderr("SIGTERM received");
    run.signal(libc::SIGHUP);
    let (code, _stdout, stderr) = run.finish();
    assert_eq!(code, Some(129), "128 + SIGHUP: {stderr}");
    assert!(stderr.contains("a second signal (SIGHUP)"), "{stderr}");
    let recs = records(&log);
    let events: Vec<&str> = recs.iter().map(|r| r["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["plan", "aborted"]);
    assert_eq!(recs[1]["interrupted"], "SIGTERM");
    assert_eq!(recs[1]["aborted_by"], "SIGHUP");
    proxy.release();
}

/// Whether a session is waiting in `GET_LOCK('conncheck-kill', …)`.
fn waiting_for_the_kill_lock(s: &Server) -> bool {
    let n: Option<u64> = s
        .root()
        .query_first(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
             WHERE INFO LIKE 'SELECT GET_LOCK(''conncheck-kill''%'",
        )
        .unwrap();
    n.unwrap_or(0) > 0
}

#[test]
fn two_runs_over_the_same_sessions_never_both_report_one_killed() {
    let (s, _one_at_a_time) = server();
    let (_conns, ids) = victims(s, "conc_pair", 400);
    // Every KILL query waits at the proxy: without a lock both runs would re-check, then both
    // kill (a KILL of a session already Killed answers OK). With it, the second run waits for
    // the lock while the first one's KILLs are held: let them go then.
    let proxy = Proxy::start(s.port(), Fault::HoldKills);
    let args = kill_idle(&[], "conc_pair", &["--format", "json"]);
    let a = Running::start(conncheck_on(proxy.port(), &args));
    let b = Running::start(conncheck_on(proxy.port(), &args));
    wait_for(
        "both runs reach their KILLs, or one waits for the other",
        || proxy.held() >= 2 || (proxy.held() == 1 && waiting_for_the_kill_lock(s)),
    );
    let held = proxy.held();
    proxy.release();
    let (code_a, out_a, err_a) = a.finish();
    let (code_b, out_b, err_b) = b.finish();
    let va: serde_json::Value = serde_json::from_str(&out_a).expect(&err_a);
    let vb: serde_json::Value = serde_json::from_str(&out_b).expect(&err_b);
    let (ka, kb) = (with(&va, "killed"), with(&vb, "killed"));
    let both: Vec<&u64> = ka.iter().filter(|id| kb.contains(id)).collect();
    assert!(
        both.is_empty(),
        "{} reported killed by both runs: {both:?}",
        both.len()
    );
    let mut union: Vec<u64> = ka.iter().chain(&kb).copied().collect();
    union.sort_unstable();
    let mut want = ids.clone();
    want.sort_unstable();
    assert_eq!(union, want, "between them, every session was killed once");
    wait_for("every session is gone", || {
        let now = alive(s);
        ids.iter().all(|id| !now.contains(id))
    });
    // The second run waited for the lock instead of reaching its KILLs (without the lock both
    // get there: held 2, and some sessions are then reported killed by both), then found
    // nothing left to kill.
    assert_eq!(held, 1, "both runs reached their KILLs at once");
    for (code, err) in [(code_a, &err_a), (code_b, &err_b)] {
        assert_eq!(code, Some(0), "{err}");
    }
}

#[test]
fn a_run_that_cannot_get_the_kill_lock_leaves_its_victims_skipped_concurrent() {
    let (s, _one_at_a_time) = server();
    let (_conns, ids) = victims(s, "conc_held", 5);
    // Another kill run holds the lock (here: a test connection).
    let mut holder = s.root();
    let got: Option<i64> = holder
        .query_first("SELECT GET_LOCK('conncheck-kill', 0)")
        .unwrap();
    assert_eq!(got, Some(1));
    let out = Running::start(conncheck_on(
        s.port(),
        &kill_idle(
            &["--query-timeout", "2s"],
            "conc_held",
            &["--format", "json"],
        ),
    ));
    let (code, stdout, stderr) = out.finish();
    assert_eq!(code, Some(3), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let mut want = ids.clone();
    want.sort_unstable();
    assert_eq!(with(&v, "skipped-concurrent"), want);
    assert_eq!(v["counts"]["skipped_concurrent"], 5);
    let now = alive(s);
    assert!(ids.iter().all(|id| now.contains(id)), "nothing was killed");
    // Once the lock is free the same run kills them.
    holder
        .query_drop("DO RELEASE_LOCK('conncheck-kill')")
        .unwrap();
    let (code, stdout, stderr) = Running::start(conncheck_on(
        s.port(),
        &kill_idle(&[], "conc_held", &["--format", "json"]),
    ))
    .finish();
    assert_eq!(code, Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(with(&v, "killed"), want);
}
