//! `kill-idle` and `kill-long` against real sessions: exactly the right victims, never our own or
//! system threads, race safety, confirmation through a real pseudo-terminal, exit codes, audit.

use crate::support;

use std::time::Duration;

use mysql::prelude::Queryable;
use predicates::prelude::*;
use support::pty::{SHOW_CURSOR, answer, at_prompt, ended, exit_code, pty};
use support::{Server, ServerOpts, conn_id, json, json_ok};

fn alive(s: &Server, ids: &[u64]) -> Vec<u64> {
    let all: Vec<u64> = s
        .root()
        .query("SELECT ID FROM information_schema.PROCESSLIST")
        .unwrap();
    ids.iter().copied().filter(|id| all.contains(id)).collect()
}

fn killed_ids(v: &serde_json::Value) -> Vec<u64> {
    let mut ids: Vec<u64> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["outcome"] == "killed")
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    ids.sort();
    ids
}

#[test]
fn kill_idle_kills_exactly_the_idle_sessions_over_the_threshold() {
    let s = Server::start(ServerOpts {
        extra_args: vec!["--event-scheduler=ON".into()],
        ..ServerOpts::default()
    });
    s.create_user("leak", "pw", "USAGE");
    let mut old = s.idle_connections("leak", "pw", 5);
    let old_ids: Vec<u64> = old.iter().map(conn_id).collect();
    s.wait_aged_ids(&old_ids, "Sleep", 2000);
    let fresh = s.idle_connections("leak", "pw", 2);
    let busy = s.background_query("leak", "pw", "SELECT SLEEP(60)");
    let root_idle = s.idle_connections("root", "", 1);
    let fresh_ids: Vec<u64> = fresh
        .iter()
        .map(conn_id)
        .chain([conn_id(&root_idle[0])])
        .collect();

    let audit = tempfile::NamedTempFile::new().unwrap();
    let out = s
        .conncheck("root", "")
        .args([
            "kill-idle",
            "--older-than",
            "2s",
            "--yes",
            "--format",
            "json",
            "--log",
        ])
        .arg(audit.path())
        .output()
        .unwrap();
    let v = json_ok(&out);
    assert_eq!(v["dry_run"], false);
    let killed = killed_ids(&v);
    assert!(!killed.contains(&busy.id), "killed a busy session: {v}");
    // The fresh sessions are young when conncheck reads, unless the machine stalled for 2 s:
    // one is then selected only if the plan's own read showed it idle past the threshold.
    let fresh_killed: Vec<u64> = fresh_ids
        .iter()
        .copied()
        .filter(|id| selected_past(&v, *id, 2000))
        .collect();
    let mut expected: Vec<u64> = old_ids.iter().chain(&fresh_killed).copied().collect();
    expected.sort();
    assert_eq!(killed, expected, "exactly the sessions idle past 2s: {v}");
    s.wait_until("victims gone", Duration::from_secs(10), |_| {
        alive(&s, &expected).is_empty()
    });
    let keep: Vec<u64> = fresh_ids
        .iter()
        .copied()
        .filter(|id| !fresh_killed.contains(id))
        .chain([busy.id])
        .collect();
    assert_eq!(
        alive(&s, &keep),
        keep,
        "fresh, busy and root sessions survive"
    );
    // The event scheduler (a system thread) is never selected.
    let ev: Vec<u64> = s
        .root()
        .query("SELECT ID FROM information_schema.PROCESSLIST WHERE USER='event_scheduler'")
        .unwrap();
    assert_eq!(ev.len(), 1);
    assert!(
        !v["victims"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"].as_u64() == Some(ev[0]))
    );
    // A killed connection really is gone for its client.
    assert!(old[0].query_drop("SELECT 1").is_err());
    // The audit log holds the plan (written before the first KILL), then the results.
    let log = std::fs::read_to_string(audit.path()).unwrap();
    let recs: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 2, "{log}");
    assert_eq!(recs[0]["event"], "plan");
    assert_eq!(recs[0]["victims"], v["victims"]);
    assert_eq!(recs[1]["event"], "result");
    assert_eq!(
        usize::try_from(recs[1]["counts"]["killed"].as_u64().unwrap()).unwrap(),
        expected.len()
    );
}

/// Whether the plan `v` selected session `id`; if it did, its read must have shown the session
/// idle for at least `ms` (TIME_MS): a session under the threshold is never a victim.
fn selected_past(v: &serde_json::Value, id: u64, ms: u64) -> bool {
    let Some(victim) = v["victims"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"].as_u64() == Some(id))
    else {
        return false;
    };
    assert!(
        victim["time_ms"].as_u64().is_some_and(|t| t >= ms),
        "session {id} selected under {ms} ms: {victim}"
    );
    true
}

#[test]
fn never_kills_its_own_connection_or_system_threads_even_at_zero() {
    let s = Server::start(ServerOpts {
        extra_args: vec!["--event-scheduler=ON".into()],
        ..ServerOpts::default()
    });
    let out = s
        .conncheck("root", "")
        .args([
            "kill-long",
            "--longer-than",
            "0s",
            "--dry-run",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v = json(&out);
    assert_eq!(v["victims"].as_array().unwrap().len(), 0, "{v}");
    assert_eq!(
        v["protected"].as_array().unwrap().len(),
        1,
        "the event scheduler is protected: {v}"
    );
    let out = s
        .conncheck("root", "")
        .args([
            "kill-idle",
            "--older-than",
            "0s",
            "--yes",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn kill_long_with_and_without_query_only() {
    let s = Server::shared();
    s.create_user("kl_user", "pw", "USAGE");
    let c = s.connect("kl_user", "pw").unwrap();
    let id = conn_id(&c);
    let t = std::thread::spawn(move || {
        let mut c = c;
        let r = c.query_drop("SELECT SLEEP(60)");
        let after = c.query_first::<u64, _>("SELECT 1");
        (r.is_ok(), after.is_ok())
    });
    // Running for longer than --longer-than 1s, by the server's clock.
    s.wait_aged_ids(&[id], "Query", 1000);
    let out = s
        .conncheck("root", "")
        .args([
            "kill-long",
            "--longer-than",
            "1s",
            "--match-user",
            "kl_user",
            "--query-only",
            "--yes",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(killed_ids(&json(&out)), vec![id]);
    let (_, survived) = t.join().unwrap();
    assert!(survived, "--query-only keeps the connection");

    let q = s.background_query("kl_user", "pw", "SELECT SLEEP(60)");
    s.wait_aged_ids(&[q.id], "Query", 1000);
    s.conncheck("root", "")
        .args([
            "kill-long",
            "--longer-than",
            "1s",
            "--match-user",
            "kl_user",
            "--yes",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("1 killed"));
    s.wait_until("connection gone", Duration::from_secs(10), |_| {
        alive(s, &[q.id]).is_empty()
    });
}

#[test]
fn without_a_terminal_it_needs_yes_and_dry_run_kills_nothing() {
    let s = Server::shared();
    s.create_user("kt_user", "pw", "USAGE");
    let idle = s.idle_connections("kt_user", "pw", 2);
    let ids: Vec<u64> = idle.iter().map(conn_id).collect();
    s.conncheck("root", "")
        .args(["kill-idle", "--older-than", "0s", "--match-user", "kt_user"])
        .assert()
        .code(5)
        .stdout(predicate::str::contains("Plan: kill 2"))
        .stderr(predicate::str::contains("--yes"));
    s.conncheck("root", "")
        .args([
            "kill-idle",
            "--older-than",
            "0s",
            "--match-user",
            "kt_user",
            "--dry-run",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("Dry run"));
    assert_eq!(alive(s, &ids), ids);
    s.conncheck("root", "")
        .args([
            "kill-idle",
            "--older-than",
            "1h",
            "--match-user",
            "kt_user",
            "--yes",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("Nothing to kill"));
}

#[test]
fn an_account_without_connection_admin_is_denied() {
    let s = Server::shared();
    s.create_user("kd_victim", "pw", "USAGE");
    s.create_user("kd_watcher", "pw", "PROCESS");
    let idle = s.idle_connections("kd_victim", "pw", 1);
    let out = s
        .conncheck("kd_watcher", "pw")
        .args([
            "kill-idle",
            "--older-than",
            "0s",
            "--match-user",
            "kd_victim",
            "--yes",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(17),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["results"][0]["outcome"], "denied");
    assert!(
        v["results"][0]["error"]
            .as_str()
            .unwrap()
            .contains("CONNECTION_ADMIN")
    );
    assert_eq!(alive(s, &[conn_id(&idle[0])]).len(), 1);
}

#[test]
fn confirmation_through_a_real_terminal() {
    let s = Server::shared();
    s.create_user("kp_user", "pw", "USAGE");
    let idle = s.idle_connections("kp_user", "pw", 2);
    let ids: Vec<u64> = idle.iter().map(conn_id).collect();

    let mut p = pty(
        s,
        "root",
        "",
        &["kill-idle", "--older-than", "0s", "--match-user", "kp_user"],
    );
    answer(&mut p, "Kill these 2 sessions?", "n");
    p.exp_string("Nothing was killed: declined").unwrap();
    assert_eq!(exit_code(&p), 4);
    assert_eq!(alive(s, &ids), ids, "answering no kills nothing");

    let mut p = pty(
        s,
        "root",
        "",
        &["kill-idle", "--older-than", "0s", "--match-user", "kp_user"],
    );
    answer(&mut p, "Kill these 2 sessions?", "y");
    p.exp_string("2 killed").unwrap();
    assert_eq!(exit_code(&p), 0);
    s.wait_until("killed", Duration::from_secs(10), |_| {
        alive(s, &ids).is_empty()
    });
}

/// One session is "this 1 session", and answering no is a plain statement, not an error.
#[test]
fn declining_a_single_session_plan_is_not_an_error() {
    let s = Server::shared();
    s.create_user("kn_user", "pw", "USAGE");
    let idle = s.idle_connections("kn_user", "pw", 1);
    let ids = vec![conn_id(&idle[0])];
    let mut p = pty(
        s,
        "root",
        "",
        &["kill-idle", "--older-than", "0s", "--match-user", "kn_user"],
    );
    answer(&mut p, "Kill this 1 session?", "n");
    let out = p.exp_eof().unwrap();
    assert!(out.contains("Nothing was killed"), "{out}");
    assert!(!out.contains("error"), "{out}");
    assert_eq!(exit_code(&p), 4);
    assert_eq!(alive(s, &ids), ids);
}

#[test]
fn a_session_that_wakes_up_before_the_kill_is_skipped() {
    let s = Server::shared();
    s.create_user("kr_user", "pw", "USAGE");
    let mut idle = s.idle_connections("kr_user", "pw", 2);
    let (waker, sleeper) = (conn_id(&idle[0]), conn_id(&idle[1]));
    s.wait_aged_ids(&[waker, sleeper], "Sleep", 2000);

    let mut p = pty(
        s,
        "root",
        "",
        &[
            "kill-idle",
            "--older-than",
            "2s",
            "--match-user",
            "kr_user",
            "--format",
            "json",
        ],
    );
    p.exp_string("Kill these 2 sessions?").unwrap();
    // Between the plan and the confirmation, one victim runs a statement.
    idle[0].query_drop("SELECT 1").unwrap();
    answer(&mut p, "", "y");
    let out = p.exp_eof().unwrap();
    assert!(out.contains("\"skipped-changed\""), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out[out.find('{').unwrap()..]).unwrap();
    let outcome = |id: u64| {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()["outcome"]
            .clone()
    };
    assert_eq!(outcome(waker), "skipped-changed");
    assert_eq!(outcome(sleeper), "killed");
    assert_eq!(alive(s, &[waker]), vec![waker]);
}

/// `--trx-older-than` picks sessions by the age of their open transaction, not their idle time:
/// the forgotten `BEGIN; UPDATE` goes, a fresh transaction and an idle session without one stay.
#[test]
fn trx_older_than_kills_by_transaction_age() {
    let s = Server::shared();
    s.create_user("trxage", "pw", "ALL");
    s.sql("CREATE DATABASE IF NOT EXISTS trxage");
    s.sql("CREATE TABLE IF NOT EXISTS trxage.t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB");
    s.sql("INSERT IGNORE INTO trxage.t VALUES (1, 0), (2, 0)");
    let mut forgotten = s.connect("trxage", "pw").unwrap();
    forgotten
        .query_drop("BEGIN; UPDATE trxage.t SET v = v + 1 WHERE id = 1")
        .unwrap();
    // Its transaction 2 s old by the server's clock, as conncheck computes it.
    s.wait_trx_aged(conn_id(&forgotten), 2);
    // Opened later: idle just as long as the check below allows, but a young transaction.
    let mut fresh = s.connect("trxage", "pw").unwrap();
    fresh
        .query_drop("BEGIN; UPDATE trxage.t SET v = v + 1 WHERE id = 2")
        .unwrap();
    let plain = s.idle_connections("trxage", "pw", 1);
    let (old_id, fresh_id, plain_id) = (conn_id(&forgotten), conn_id(&fresh), conn_id(&plain[0]));

    let out = s
        .conncheck("root", "")
        .args([
            "kill-idle",
            "--older-than",
            "0s",
            "--trx-older-than",
            "2s",
            "--match-user",
            "trxage",
            "--yes",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let v = json_ok(&out);
    // The young transaction is under 2 s when conncheck reads unless the machine stalled: it is
    // then selected only if the plan's own read showed it 2 s old.
    let fresh_past = v["victims"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"].as_u64() == Some(fresh_id))
        .map(|x| {
            assert!(
                x["trx_age_s"].as_u64() >= Some(2),
                "selected too young: {x}"
            );
        })
        .is_some();
    let mut expected = vec![old_id];
    if fresh_past {
        expected.push(fresh_id);
        expected.sort();
    }
    assert_eq!(killed_ids(&v), expected, "{v}");
    assert!(
        v["criteria"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "open transaction >= 2s"),
        "{v}"
    );
    s.wait_until("victim gone", Duration::from_secs(10), |_| {
        alive(s, &[old_id]).is_empty()
    });
    assert_eq!(alive(s, &[plain_id]), vec![plain_id]);
    if !fresh_past {
        assert_eq!(alive(s, &[fresh_id]), vec![fresh_id]);
        // The young transaction still holds its row.
        fresh.query_drop("COMMIT").unwrap();
    }
    // The old one's update was rolled back.
    let v1: Option<i64> = s
        .root()
        .query_first("SELECT v FROM trxage.t WHERE id = 1")
        .unwrap();
    assert_eq!(v1, Some(0));
}

/// Issue 11: at 80 columns a kill plan is one line per session (the query text is cut with `…`,
/// columns that cannot fit are named under the table), and no line is wider than the terminal.
#[test]
fn an_80_column_kill_plan_is_one_line_per_session() {
    let s = Server::shared();
    let user = "kt_a_rather_long_reporting_user";
    s.create_user(user, "pw", "USAGE");
    let busy: Vec<_> = (0..4)
        .map(|i| {
            s.background_query(
                user,
                "pw",
                &format!(
                    "SELECT SLEEP(30) AS a_long_alias_{i}, 'a long string literal that makes the query text far wider than the terminal'"
                ),
            )
        })
        .collect();
    s.wait_until("4 busy", Duration::from_secs(10), |c| {
        c.query_first::<u64, _>(format!(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER='{user}' AND COMMAND='Query'"
        ))
        .unwrap()
            == Some(4)
    });
    let out = s
        .conncheck("root", "")
        .env("COLUMNS", "80")
        .args([
            "kill-long",
            "--longer-than",
            "0s",
            "--match-user",
            user,
            "--dry-run",
        ])
        .output()
        .unwrap();
    drop(busy);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for l in text.lines() {
        assert!(
            l.chars().count() <= 80,
            "{} columns: {l}\n{text}",
            l.chars().count()
        );
    }
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with('│') && l.contains(user))
        .collect();
    assert_eq!(rows.len(), 4, "one line per session:\n{text}");
    assert!(rows.iter().all(|r| r.contains('…')), "{text}");
}

/// The `id`s of the rows of the list `key` (`victims`, `sessions`), sorted.
fn ids_in(v: &serde_json::Value, key: &str) -> Vec<u64> {
    let mut ids: Vec<u64> = v[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key}[]: {v}"))
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    ids.sort();
    ids
}

/// `--match-user user@host` is the user `user` from host `host`, never a user literally named
/// `user@host` (that one is written `'user@host'@'%'`); `--exclude-user` the same. Two real
/// accounts: `'km'@'127.0.0.1'` and `'km@<host>'@'%'`, where <host> is what the processlist shows
/// for our TCP connections (`localhost` when the server resolves 127.0.0.1).
#[test]
fn match_user_at_host_is_the_account_never_a_user_named_so() {
    let s = Server::shared();
    let shown = s.client_host();
    let named = format!("km@{shown}");
    s.sql("DROP USER IF EXISTS 'km'@'127.0.0.1'");
    s.sql("CREATE USER 'km'@'127.0.0.1' IDENTIFIED BY 'pw'");
    s.create_user(&named, "pw", "USAGE");
    let km = s.idle_connections("km", "pw", 2);
    let at = s.idle_connections(&named, "pw", 2);
    let mut km_ids: Vec<u64> = km.iter().map(conn_id).collect();
    let mut at_ids: Vec<u64> = at.iter().map(conn_id).collect();
    km_ids.sort();
    at_ids.sort();
    assert_eq!(s.ids_of("km"), km_ids, "the user km from {shown}");
    assert_eq!(s.ids_of(&named), at_ids, "the user named {named}");

    let plan = |args: &[&str]| -> Vec<u64> {
        let mut c = s.conncheck("root", "");
        c.args([
            "kill-idle",
            "--older-than",
            "0s",
            "--dry-run",
            "--format",
            "json",
        ])
        .args(args);
        ids_in(&json_ok(&c.output().unwrap()), "victims")
    };
    let account = format!("km@{shown}");
    let quoted = format!("'{named}'@'%'");
    assert_eq!(plan(&["--match-user", &account]), km_ids);
    assert_eq!(plan(&["--match-user", "km"]), km_ids);
    assert_eq!(plan(&["--match-user", &quoted]), at_ids);
    assert_eq!(plan(&["--match-user", &format!("'{named}'")]), at_ids);
    assert_eq!(plan(&["--match-user", &format!("{named}@{shown}")]), at_ids);
    let both = ["--match-user", "km", "--match-user", &quoted];
    assert_eq!(
        plan(&[&both[..], &["--exclude-user", &account]].concat()),
        at_ids
    );
    assert_eq!(
        plan(&[&both[..], &["--exclude-user", &quoted]].concat()),
        km_ids
    );
    // `sessions` selects the same way.
    let v = json_ok(
        &s.conncheck("root", "")
            .args(["sessions", "--format", "json", "--match-user", &account])
            .output()
            .unwrap(),
    );
    assert_eq!(ids_in(&v, "sessions"), km_ids);
    // A malformed value is a usage error, before connecting.
    s.conncheck("root", "")
        .args(["kill-idle", "--older-than", "0s", "--match-user", "'km"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unclosed '"));

    // And the kill takes exactly the user km's sessions.
    let out = s
        .conncheck("root", "")
        .args([
            "kill-idle",
            "--older-than",
            "0s",
            "--match-user",
            &account,
            "--yes",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(killed_ids(&json_ok(&out)), km_ids);
    s.wait_until("km's sessions gone", Duration::from_secs(10), |_| {
        alive(s, &km_ids).is_empty()
    });
    assert_eq!(alive(s, &at_ids), at_ids, "the user named {named} survives");
}

/// SIGTERM (or SIGHUP: the terminal went away) while the kill prompt waits: the terminal modes
/// and the cursor are given back, nothing is killed, exit 143 (128 + SIGTERM).
#[test]
fn sigterm_at_the_kill_prompt_gives_the_terminal_back_and_kills_nothing() {
    let s = Server::shared();
    s.create_user("kt_user", "pw", "USAGE");
    let idle = s.idle_connections("kt_user", "pw", 2);
    let ids: Vec<u64> = idle.iter().map(conn_id).collect();
    let mut p = pty(
        s,
        "root",
        "",
        &["kill-idle", "--older-than", "0s", "--match-user", "kt_user"],
    );
    at_prompt(&mut p, "Kill these 2 sessions?");
    p.process_mut()
        .signal(rexpect::process::Signal::SIGTERM)
        .unwrap();
    p.exp_string(SHOW_CURSOR).unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(
        rest.contains("interrupted (SIGTERM): nothing killed"),
        "{rest:?}"
    );
    assert_eq!(ended(&p), Ok(143));
    assert_eq!(alive(s, &ids), ids, "nothing was killed");
}
