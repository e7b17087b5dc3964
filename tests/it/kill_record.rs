//! The kill record is exact whatever the network does: KILLs whose answers are lost (cut or
//! stalled connection, through a proxy that breaks on cue) are settled from a fresh processlist
//! after reconnecting, an unreachable server gives `unknown` and exit 18, the audit log is
//! written (0600) before the first KILL or nothing is killed, the session survives a short
//! wait_timeout at the prompt, and hostile server text cannot rewrite the plan on screen.
//! Batched KILLs keep one exact outcome per session when one in the middle vanished before its
//! KILL or is refused.

use crate::support;

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use support::proxy::{Fault, Proxy};
use support::pty::{answer, exit_code, pty};
use support::{Server, ServerOpts, conn_id, json};

/// Ids of these sessions still in the processlist.
fn alive(s: &Server, ids: &[u64]) -> Vec<u64> {
    let all: HashSet<u64> = s
        .root()
        .query::<u64, _>("SELECT ID FROM information_schema.PROCESSLIST")
        .unwrap()
        .into_iter()
        .collect();
    ids.iter().copied().filter(|id| all.contains(id)).collect()
}

/// `n` idle sessions of a new user: the connections (keep them) and their ids.
fn victims(s: &Server, user: &str, n: usize) -> (Vec<mysql::Conn>, Vec<u64>) {
    s.create_user(user, "pw", "USAGE");
    let conns = s.idle_connections(user, "pw", n);
    let ids = conns.iter().map(conn_id).collect();
    (conns, ids)
}

/// conncheck as root through the proxy.
fn via(proxy: &Proxy) -> assert_cmd::Command {
    let mut c = support::conncheck();
    c.args([
        "--no-defaults",
        "-h",
        "127.0.0.1",
        "-P",
        &proxy.port().to_string(),
        "--user=root",
    ]);
    c
}

fn ids_with(v: &serde_json::Value, outcome: &str) -> Vec<u64> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["outcome"] == outcome)
        .map(|r| r["id"].as_u64().unwrap())
        .collect()
}

fn count(v: &serde_json::Value, name: &str) -> u64 {
    v["counts"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("no count {name}: {v}"))
}

/// Every `killed` session is gone from the server (a killed session takes a moment to leave the
/// processlist) and every `not-killed` one is still there: the report is the truth.
fn assert_matches_server(s: &Server, v: &serde_json::Value) {
    let killed = ids_with(v, "killed");
    s.wait_until(
        "the killed sessions are gone",
        Duration::from_secs(10),
        |_| alive(s, &killed).is_empty(),
    );
    let not_killed = ids_with(v, "not-killed");
    assert_eq!(
        alive(s, &not_killed),
        not_killed,
        "not-killed must be there"
    );
    assert_eq!(usize::try_from(count(v, "killed")).unwrap(), killed.len());
    assert_eq!(
        usize::try_from(count(v, "not_killed")).unwrap(),
        not_killed.len()
    );
}

/// The audit log's records, in order.
fn records(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Answered KILLs carry no note; the ones settled after reconnecting say so.
fn answered(v: &serde_json::Value) -> usize {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["outcome"] == "killed" && r.get("note").is_none())
        .count()
}

#[test]
fn a_connection_cut_after_some_kills_is_settled_from_the_server() {
    let s = Server::shared();
    let (_conns, ids) = victims(s, "rec_cut", 30);
    let proxy = Proxy::start(s.port(), Fault::CutAfterReplies(10));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let out = via(&proxy)
        .args([
            "kill-idle",
            "--older-than",
            "0s",
            "--match-user",
            "rec_cut",
            "--yes",
            "--format",
            "json",
            "--log",
        ])
        .arg(&log)
        .output()
        .unwrap();
    assert!(proxy.fired(), "the proxy never cut the connection");
    let v = json(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(v["results"].as_array().unwrap().len(), 30, "{v}");
    for bad in ["error", "not-attempted", "unknown"] {
        assert!(ids_with(&v, bad).is_empty(), "{bad}: {v}");
    }
    assert_eq!(count(&v, "killed") + count(&v, "not_killed"), 30);
    assert_eq!(answered(&v), 10, "exactly the 10 answered KILLs: {v}");
    assert_eq!(
        count(&v, "confirmed_after_reconnect"),
        count(&v, "killed") - 10
    );
    assert_matches_server(s, &v);
    let mut planned = ids.clone();
    planned.sort();
    let mut reported: Vec<u64> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    reported.sort();
    assert_eq!(reported, planned);
    let expected_code = if count(&v, "not_killed") > 0 { 3 } else { 0 };
    assert_eq!(out.status.code(), Some(expected_code), "{stderr}");
    // The reconnect is announced as it happens and recorded.
    assert!(stderr.contains("reconnecting"), "{stderr}");
    assert_eq!(v["reconnects"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["reconnects"][0]["reconnected"], true);
    // The log: the plan before the first KILL, then the result.
    let recs = records(&log);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["event"], "plan");
    assert_eq!(recs[0]["victims"].as_array().unwrap().len(), 30);
    assert_eq!(recs[1]["event"], "result");
    assert_eq!(recs[1]["counts"], v["counts"]);
    assert_eq!(recs[1]["reconnects"], v["reconnects"]);
}

#[test]
fn a_kill_batch_cut_before_the_server_read_it_leaves_every_victim_not_killed() {
    let s = Server::shared();
    let (_conns, ids) = victims(s, "rec_req", 30);
    let proxy = Proxy::start(s.port(), Fault::CutRequest);
    let out = via(&proxy)
        .args([
            "kill-idle",
            "--older-than",
            "0s",
            "--match-user",
            "rec_req",
            "--yes",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(proxy.fired());
    let v = json(&out);
    assert_eq!(ids_with(&v, "not-killed").len(), 30, "{v}");
    assert_eq!(count(&v, "killed"), 0);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(alive(s, &ids), ids, "the server ran none of the KILLs");
    assert_matches_server(s, &v);
}

#[test]
fn a_stalled_answer_times_out_reconnects_and_settles() {
    let s = Server::shared();
    let (_conns, _ids) = victims(s, "rec_stall", 30);
    let proxy = Proxy::start(s.port(), Fault::StallAfterReplies(5));
    let started = Instant::now();
    let out = via(&proxy)
        .args([
            "--query-timeout",
            "2s",
            "kill-idle",
            "--older-than",
            "0s",
            "--match-user",
            "rec_stall",
            "--yes",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(proxy.fired());
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let v = json(&out);
    for bad in ["error", "not-attempted", "unknown"] {
        assert!(ids_with(&v, bad).is_empty(), "{bad}: {v}");
    }
    assert_eq!(answered(&v), 5, "{v}");
    assert_eq!(count(&v, "killed") + count(&v, "not_killed"), 30);
    assert_eq!(v["reconnects"][0]["reconnected"], true, "{v}");
    assert_matches_server(s, &v);
}

#[test]
fn when_the_server_cannot_be_reached_again_the_unanswered_are_unknown_and_exit_18() {
    let s = Server::shared();
    let (_conns, _ids) = victims(s, "rec_gone", 30);
    let proxy = Proxy::start(s.port(), Fault::CutAfterReplies(10));
    proxy.refuse_after_fault();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let out = via(&proxy)
        .args([
            "kill-idle",
            "--older-than",
            "0s",
            "--match-user",
            "rec_gone",
            "--yes",
            "--format",
            "json",
            "--log",
        ])
        .arg(&log)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(18), "{stderr}");
    assert!(stderr.contains("conncheck: error:"), "{stderr}");
    let v = json(&out);
    assert_eq!(count(&v, "killed"), 10, "{v}");
    assert_eq!(count(&v, "unknown"), 20, "{v}");
    assert_eq!(count(&v, "not_attempted"), 0, "every KILL was sent: {v}");
    assert_eq!(v["reconnects"][0]["reconnected"], false, "{v}");
    let killed = ids_with(&v, "killed");
    s.wait_until(
        "the answered kills are gone",
        Duration::from_secs(10),
        |_| alive(s, &killed).is_empty(),
    );
    let recs = records(&log);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["event"], "plan");
    assert_eq!(recs[1]["counts"]["unknown"], 20);
}

#[test]
fn an_audit_log_that_cannot_be_written_kills_nothing() {
    let s = Server::shared();
    let (_conns, ids) = victims(s, "rec_nolog", 3);
    let dir = tempfile::tempdir().unwrap();
    // A directory cannot be opened for appending; /dev/full opens, but every write fails.
    for log in [dir.path(), Path::new("/dev/full")] {
        let out = s
            .conncheck("root", "")
            .args([
                "kill-idle",
                "--older-than",
                "0s",
                "--match-user",
                "rec_nolog",
                "--yes",
                "--log",
            ])
            .arg(log)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(10), "{}: {stderr}", log.display());
        assert!(
            stderr.contains("conncheck: error: cannot")
                && stderr.contains("audit log")
                && stderr.contains("hint:"),
            "{stderr}"
        );
        assert!(!stdout.contains("Result:"), "{stdout}");
        assert_eq!(
            alive(s, &ids),
            ids,
            "{}: nothing may be killed",
            log.display()
        );
    }
}

#[test]
fn the_audit_log_is_created_for_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let s = Server::shared();
    let (_conns, _ids) = victims(s, "rec_mode", 1);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    s.conncheck("root", "")
        .args([
            "kill-idle",
            "--older-than",
            "0s",
            "--match-user",
            "rec_mode",
            "--yes",
            "--log",
        ])
        .arg(&log)
        .assert()
        .success();
    let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "audit log mode {mode:o}");
    let recs = records(&log);
    let events: Vec<&str> = recs.iter().map(|r| r["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["plan", "result"]);
    assert!(recs[0]["target"].as_str().unwrap().contains("127.0.0.1"));
    assert!(recs[0]["account"].as_str().unwrap().starts_with("root@"));
}

#[test]
fn hostile_server_text_is_shown_escaped_in_the_plan() {
    let s = Server::shared();
    s.create_user("rec_esc", "pw", "USAGE");
    s.sql("CREATE DATABASE IF NOT EXISTS `rec\x1b[2Jdb`");
    s.sql("GRANT ALL ON `rec\x1b[2Jdb`.* TO 'rec_esc'@'%', 'rec_esc'@'localhost'");
    let query = "SELECT SLEEP(600)/*\x1b[H\x1b[2J\x1b[3J*/";
    let q = s.background_query("rec_esc", "pw", &format!("USE `rec\x1b[2Jdb`; {query}"));
    s.wait_until("the hostile query runs", Duration::from_secs(10), |r| {
        r.query_first::<String, _>(format!(
            "SELECT STATE FROM information_schema.PROCESSLIST WHERE ID={}",
            q.id
        ))
        .unwrap()
        .as_deref()
            == Some("User sleep")
    });
    let out = s
        .conncheck("root", "")
        .args([
            "kill-long",
            "--longer-than",
            "0s",
            "--match-user",
            "rec_esc",
            "--dry-run",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(r"SELECT SLEEP(600)/*\e[H\e[2J\e[3J*/"),
        "{stdout}"
    );
    assert!(stdout.contains(r"rec\e[2Jdb"), "{stdout}");
    let bad: Vec<u8> = out
        .stdout
        .iter()
        .copied()
        .filter(|b| *b < 0x20 && *b != b'\n')
        .collect();
    assert!(bad.is_empty(), "control bytes {bad:?} in:\n{stdout}");
    // The plan names the server and the account it acts on, and lists one line per session.
    assert!(
        stdout.contains(&format!("Target: 127.0.0.1:{}", s.port())) && stdout.contains(" as root@"),
        "{stdout}"
    );
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with(&format!("│ {} ", q.id)))
            .count(),
        1,
        "{stdout}"
    );
    // JSON keeps the exact text.
    let out = s
        .conncheck("root", "")
        .args([
            "kill-long",
            "--longer-than",
            "0s",
            "--match-user",
            "rec_esc",
            "--dry-run",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(v["victims"][0]["info"], query);
    assert_eq!(v["victims"][0]["db"], "rec\x1b[2Jdb");
}

/// A server whose wait_timeout is 2 s (as diagnose may advise) does not close our session while
/// the prompt waits.
#[test]
fn a_short_wait_timeout_does_not_close_our_session_at_the_prompt() {
    let s = Server::start(ServerOpts {
        extra_args: vec!["--wait-timeout=2".into(), "--interactive-timeout=2".into()],
        ..ServerOpts::default()
    });
    s.create_user("rec_wait", "pw", "USAGE");
    let mut conns = s.idle_connections("rec_wait", "pw", 2);
    for c in &mut conns {
        c.query_drop("SET SESSION wait_timeout = 3600").unwrap();
    }
    let ids: Vec<u64> = conns.iter().map(conn_id).collect();
    let mut p = pty(
        &s,
        "root",
        "",
        &[
            "kill-idle",
            "--older-than",
            "0s",
            "--match-user",
            "rec_wait",
        ],
    );
    p.exp_string("Kill these 2 sessions?").unwrap();
    // The prompt waits until the server shows conncheck's session idle past wait_timeout (2 s),
    // still there: a session the timeout applied to would be gone by then.
    s.wait_until(
        "conncheck's session idle 3 s at the prompt",
        Duration::from_secs(60),
        |c| {
            c.query_first::<u64, _>(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'root' \
                 AND ID <> CONNECTION_ID() AND COMMAND = 'Sleep' AND TIME_MS >= 3000",
            )
            .unwrap()
                == Some(1)
        },
    );
    answer(&mut p, "", "y");
    let out = p.exp_eof().unwrap();
    assert!(out.contains("2 killed"), "{out}");
    assert!(!out.contains("econnect"), "no reconnect was needed: {out}");
    assert_eq!(exit_code(&p), 0);
    s.wait_until("killed", Duration::from_secs(10), |_| {
        alive(&s, &ids).is_empty()
    });
}

/// If our session is closed anyway while the prompt waits, conncheck reconnects (and says so),
/// re-checks the plan and kills what still qualifies.
#[test]
fn a_session_closed_at_the_prompt_reconnects_and_rechecks() {
    let s = Server::shared();
    s.create_user("rec_admin", "pw", "ALL PRIVILEGES");
    let (_conns, ids) = victims(s, "rec_closed", 2);
    let mut p = pty(
        s,
        "rec_admin",
        "pw",
        &[
            "kill-idle",
            "--older-than",
            "0s",
            "--match-user",
            "rec_closed",
        ],
    );
    p.exp_string("Kill these 2 sessions?").unwrap();
    for id in s.ids_of("rec_admin") {
        s.sql(&format!("KILL CONNECTION {id}"));
    }
    answer(&mut p, "", "y");
    let out = p.exp_eof().unwrap();
    assert!(out.contains("reconnected"), "{out}");
    assert!(out.contains("2 killed"), "{out}");
    assert_eq!(exit_code(&p), 0, "{out}");
    s.wait_until("killed", Duration::from_secs(10), |_| {
        alive(s, &ids).is_empty()
    });
}

/// The human result names the server, announces the reconnect and says how the outcome was
/// established.
#[test]
fn the_human_result_tells_the_reconnect_and_the_target() {
    let s = Server::shared();
    let (_conns, _ids) = victims(s, "rec_human", 5);
    let proxy = Proxy::start(s.port(), Fault::CutAfterReplies(2));
    let out = via(&proxy)
        .args([
            "kill-idle",
            "--older-than",
            "0s",
            "--match-user",
            "rec_human",
            "--yes",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let target = format!("Target: 127.0.0.1:{}", proxy.port());
    assert_eq!(
        stdout.matches(&target).count(),
        2,
        "plan and result: {stdout}"
    );
    assert!(
        stdout.contains("Reconnect: lost the connection while killing"),
        "{stdout}"
    );
    assert!(stdout.contains("confirmed after reconnecting"), "{stdout}");
    assert!(stderr.contains("reconnected (connection id"), "{stderr}");
}

/// 300 KILLs in multi-statement batches, one session ending on its own between the re-check and
/// its KILL (1094) and one refused (1095, another account's): each stops its batch, the rest are
/// sent again, and every session's outcome is what the server shows.
#[test]
fn batched_kills_stay_exact_when_one_vanished_and_one_is_refused() {
    let s = Server::start(ServerOpts {
        max_connections: 500,
        ..ServerOpts::default()
    });
    // The account that kills: it may end its own sessions, not another account's.
    s.create_user("bk_self", "pw", "PROCESS");
    s.create_user("bk_other", "pw", "USAGE");
    let mut conns = s.idle_connections("bk_self", "pw", 150);
    let other = s.idle_connections("bk_other", "pw", 1);
    conns.extend(s.idle_connections("bk_self", "pw", 150));
    let other_id = conn_id(&other[0]);
    let vanish = conn_id(&conns[200]);
    let proxy = Proxy::start(s.port(), Fault::HoldKills);
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_conncheck"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .env("MYSQL_PWD", "pw")
        .args([
            "--no-defaults",
            "-h",
            "127.0.0.1",
            "-P",
            &proxy.port().to_string(),
            "--user=bk_self",
            "kill-idle",
            "--older-than",
            "0s",
            "--match-user",
            "bk_self",
            "--match-user",
            "bk_other",
            "--yes",
            "--format",
            "json",
        ]);
    let child = c
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    s.wait_until(
        "the first KILL batch is held",
        Duration::from_secs(30),
        |_| proxy.held() > 0,
    );
    // Re-checked and about to be killed: it ends on its own.
    s.sql(&format!("KILL CONNECTION {vanish}"));
    s.wait_until("it is gone", Duration::from_secs(10), |_| {
        alive(&s, &[vanish]).is_empty()
    });
    proxy.release();
    // Its JSON is larger than a pipe holds: read while it runs (bounded: no answer is a hang).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output().unwrap()));
    let out = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("conncheck still running after 60s: it hangs");
    let v = json(&out);
    assert_eq!(v["results"].as_array().unwrap().len(), 301, "{v}");
    assert_eq!(ids_with(&v, "gone"), vec![vanish]);
    assert_eq!(ids_with(&v, "denied"), vec![other_id]);
    assert_eq!(ids_with(&v, "killed").len(), 299);
    assert_eq!(out.status.code(), Some(17), "denied: a missing privilege");
    assert!(
        proxy.held() >= 3,
        "each error stopped its batch: {}",
        proxy.held()
    );
    assert_matches_server(&s, &v);
    assert_eq!(
        alive(&s, &[other_id]),
        vec![other_id],
        "refused: still there"
    );
}
