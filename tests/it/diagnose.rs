//! `conncheck diagnose` against real situations on private MariaDB servers: each cause a server
//! can show is reproduced for real (a leak, several pools, long queries, an idle transaction, a
//! metadata-lock and a row-lock pile-up, a full server, a connection spike, the default timeouts,
//! the 151 default) and the report must name the right finding, severity and sessions. Plus a
//! healthy server (no warnings), the human report, and the snapshot round trip.
//!
//! Every test starts its own server (global counters and the processlist must be its own) and
//! waits for server states with `wait_until` rather than fixed sleeps.

use crate::support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use mysql::prelude::Queryable;
use serde_json::Value;
use support::findings::*;
use support::{BackgroundQuery, Server, ServerOpts, conn_id, json_ok, number, relief};

/// How long to wait for a server state before failing.
const WAIT: Duration = Duration::from_secs(20);

/// How often to poll InnoDB's transaction tables. MariaDB serves INNODB_TRX and the lock tables
/// from a cache it refreshes only when the previous read is over 100 ms old
/// (`CACHE_MIN_IDLE_TIME_US` in storage/innobase/trx/trx0i_s.cc): polled every 50 ms by
/// `wait_until` it would never change.
const INNODB_POLL: Duration = Duration::from_millis(150);

/// Wait until every session of `user` in `command` has been in its state at least `ms`.
fn wait_aged(s: &Server, user: &str, command: &str, n: u64, ms: u64) {
    let sql = format!(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
         WHERE USER = '{user}' AND COMMAND = '{command}' AND TIME_MS >= {ms}"
    );
    s.wait_until(
        &format!("{n} {command} sessions of {user} aged {ms} ms"),
        WAIT,
        |c| number(c, &sql) >= n,
    );
}

/// Create `<user>_db.t (id, v)` with row (1, 0).
fn table(s: &Server, user: &str) -> String {
    let t = format!("{user}_db.t");
    s.sql(&format!(
        "CREATE TABLE {t} (id INT PRIMARY KEY, v INT) ENGINE=InnoDB"
    ));
    s.sql(&format!("INSERT INTO {t} VALUES (1, 0), (2, 0)"));
    t
}

#[test]
fn a_leak_is_one_account_with_a_staircase_of_idle_ages() {
    let s = Server::start(ServerOpts::default());
    s.create_user("leaky", "pw", "USAGE");
    s.create_user("pooled", "pw", "USAGE");
    s.create_user("burst", "pw", "USAGE");
    // 12 connections opened one by one, 1.3 s apart, never used again: a leak as it happens.
    let mut leaked = Vec::new();
    for step in 0..12 {
        if step > 0 {
            // The next one once the server shows the last one idle for 1.3 s.
            s.wait_aged_ids(&[conn_id(&leaked[step - 1])], "Sleep", 1300);
        }
        leaked.extend(s.idle_connections("leaky", "pw", 1));
    }
    let leaked_ids: Vec<u64> = leaked.iter().map(conn_id).collect();
    // 12 connections opened at once: a burst, not a leak.
    let burst = s.idle_connections("burst", "pw", 12);
    // The youngest leaked connection past the 5 s floor.
    wait_aged(&s, "leaky", "Sleep", 12, 5200);
    // A healthy pool next to it: young idle connections are in use, not leaked.
    let pool = s.idle_connections("pooled", "pw", 3);

    let snapshot = tempfile::NamedTempFile::new().unwrap();
    let out = s
        .conncheck("root", "")
        .args(["snapshot", "--sample", "0", "-o"])
        .arg(snapshot.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = s.diagnose("root", "", &["--sample", "0", "--idle-threshold", "2s"]);
    let leak = the(&v, "connection-leak");
    assert_eq!(leak["severity"], "warning", "12 of 200 slots");
    assert_eq!(sorted(sessions(leak)), sorted(leaked_ids.clone()));
    assert_eq!(sessions(leak)[0], leaked_ids[0], "oldest first");
    assert_eq!(leak["slots"], 12);
    assert_eq!(evidence(leak, "client"), "leaky@localhost");
    assert_eq!(evidence(leak, "sleeping connections"), "12");
    assert_eq!(
        evidence(leak, "leaked (idle in connect order)"),
        "12 of 200 (6.0%)"
    );
    let kill = actions(leak)
        .into_iter()
        .find(|a| a.starts_with("conncheck kill-idle --older-than "))
        .expect("a command that frees the slots");
    assert!(
        kill.contains("--match-user leaky --match-host localhost --dry-run"),
        "{kill}"
    );
    // The burst is one client with one idle age: no leak of its own.
    assert_eq!(all(&v, "connection-leak").len(), 1, "only the leak");
    // The verdict comes first: the leak is the cause, every connection is in one bucket, the
    // buckets add up to Threads_connected, and the relief frees the leaked slots when run.
    assert_eq!(v["verdict"]["cause"], "connection-leak", "{}", v["verdict"]);
    let total: i64 = v["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["count"].as_i64().unwrap())
        .sum();
    assert_eq!(
        total,
        v["connections"]["threads_connected"].as_i64().unwrap(),
        "{}",
        v["slots"]
    );
    let leaked_slot = v["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["bucket"] == "leaked")
        .expect("a leaked bucket");
    assert_eq!(leaked_slot["count"], 12);
    assert_eq!(leaked_slot["client"], "leaky@localhost");
    assert_eq!(leaked_slot["finding"], "connection-leak");
    let relief = &v["verdict"]["relief"];
    assert_eq!(relief["frees"], 12, "{relief}");
    let argv = relief::argv(relief);
    assert!(!argv.iter().any(|w| w == "--dry-run"), "{argv:?}");
    // Run as printed (plus --dry-run and JSON): it selects exactly the leaked sessions.
    let (_, planned) = relief::dry_run(&argv);
    assert_eq!(sorted(planned), sorted(leaked_ids.clone()));
    // idle-connections counts the leaked and the burst sessions, and not the young pool.
    let idle = the(&v, "idle-connections");
    let pool_ids: Vec<u64> = pool.iter().map(conn_id).collect();
    assert!(
        !sessions(idle).iter().any(|id| pool_ids.contains(id)),
        "the pool is not idle"
    );
    drop(burst);

    // The same sessions judged 100 s, an hour and a day later: the leak does not fade.
    let mut snap: Value =
        serde_json::from_str(&std::fs::read_to_string(snapshot.path()).unwrap()).unwrap();
    let base = snap.clone();
    for later in [100u64, 3600, 86_400] {
        for (s_new, s_old) in snap["sessions"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .zip(base["sessions"].as_array().unwrap())
        {
            let t = s_old["time_s"].as_u64().unwrap();
            s_new["time_s"] = (t + later).into();
            if let Some(ms) = s_old["time_ms"].as_u64() {
                s_new["time_ms"] = (ms + later * 1000).into();
            }
        }
        let aged = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(aged.path(), serde_json::to_vec(&snap).unwrap()).unwrap();
        let out = support::conncheck()
            .args(["diagnose", "--format", "json", "--from"])
            .arg(aged.path())
            .output()
            .unwrap();
        let v = json_ok(&out);
        let leak = the(&v, "connection-leak");
        assert_eq!(
            sorted(sessions(leak)),
            sorted(leaked_ids.clone()),
            "{later}s later"
        );
    }
}

#[test]
fn pools_that_fill_half_the_slots_are_oversized() {
    let s = Server::start(ServerOpts {
        max_connections: 20,
        ..ServerOpts::default()
    });
    let mut held = Vec::new();
    for user in ["web", "api", "jobs"] {
        s.create_user(user, "pw", "USAGE");
        held.extend(s.idle_connections(user, "pw", 4));
    }
    // The pools are warm: each connection is reused now and then.
    for c in &mut held {
        c.query_drop("SELECT 1").unwrap();
    }
    let ids: Vec<u64> = held.iter().map(conn_id).collect();

    let v = s.diagnose("root", "", &["--sample", "0"]);
    let f = the(&v, "pool-oversized");
    assert_eq!(sorted(sessions(f)), sorted(ids));
    assert_eq!(f["slots"], 12, "12 of 20 slots");
    assert_eq!(evidence(f, "warm idle connections"), "12 of 20 (60.0%)");
    // The server started seconds ago: the pools hold the slots, but no size is judged from
    // seconds of data (the sizes themselves: pool_oversized's unit tests).
    assert!(v["server"]["uptime_s"].as_u64().unwrap() < 300);
    assert_eq!(f["severity"], "info");
    assert!(
        f["title"]
            .as_str()
            .unwrap()
            .contains("too early to size them"),
        "{f}"
    );
    for user in ["web", "api", "jobs"] {
        assert!(
            !f["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["name"] == format!("pool {user}@localhost")),
            "{f}"
        );
    }
    assert_eq!(v["verdict"]["cause"], "pool-oversized", "{}", v["verdict"]);
    // Short idle times: neither a leak nor idle sessions to kill.
    absent(&v, "connection-leak");
    absent(&v, "idle-connections");
}

#[test]
fn long_queries_are_named_and_the_human_report_shows_the_fix() {
    let s = Server::start(ServerOpts::default());
    s.create_user("slow", "pw", "USAGE");
    let q1 = s.background_query("slow", "pw", "SELECT SLEEP(60)");
    let q2 = s.background_query("slow", "pw", "SELECT SLEEP(60) AS report");
    let _sleeper = s.idle_connections("slow", "pw", 1);
    wait_aged(&s, "slow", "Query", 2, 1500);
    // A statement that just started is not long yet.
    let young = s.background_query("slow", "pw", "SELECT SLEEP(30) AS young");

    let args = ["--sample", "0", "--long-query-threshold", "1s"];
    let v = s.diagnose("root", "", &args);
    let f = the(&v, "long-running-queries");
    assert_eq!(f["severity"], "warning", "2 statements of 200 slots");
    assert_eq!(sorted(sessions(f)), sorted([q1.id, q2.id]));
    assert!(!sessions(f).contains(&young.id));
    assert_eq!(evidence(f, "statements"), "2");
    assert!(
        evidence(f, &format!("session {}", q1.id)).ends_with(": SELECT SLEEP(60)"),
        "{}",
        f["evidence"]
    );
    assert!(has_action(
        f,
        "conncheck kill-long --longer-than 1s --query-only --dry-run"
    ));

    // The same situation for people: the finding, its fix, the exact command.
    let out = s
        .conncheck("root", "")
        .arg("diagnose")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("WARNING   long-running-queries  2 statements running for 1s or more"),
        "{text}"
    );
    assert!(text.contains("  fix:\n"), "{text}");
    // With the connection options of this run, so that it reaches this server when pasted.
    assert!(
        text.contains(&format!(
            "    $ conncheck -h 127.0.0.1 -P {} -u root --no-defaults kill-long --longer-than 1s --query-only --dry-run   # KILL QUERY",
            s.port()
        )),
        "{text}"
    );
    // The 1s probe threshold chooses what is reported, never the server-wide limit suggested.
    assert!(text.contains("max_statement_time = 300"), "{text}");
    assert!(!text.contains("max_statement_time = 1\n"), "{text}");
    assert!(
        text.contains("SET STATEMENT max_statement_time=60 FOR"),
        "{text}"
    );
}

#[test]
fn an_idle_transaction_is_found_with_its_session() {
    let s = Server::start(ServerOpts::default());
    s.create_user("trx", "pw", "USAGE");
    let t = table(&s, "trx");
    let mut open = s.connect("trx", "pw").unwrap();
    open.query_drop("BEGIN").unwrap();
    open.query_drop(format!("UPDATE {t} SET v = v + 1 WHERE id = 1"))
        .unwrap();
    let id = conn_id(&open);
    // Autocommit sessions that sleep hold no transaction.
    let _idle = s.idle_connections("trx", "pw", 2);
    s.wait_trx_aged(id, 2);

    let v = s.diagnose("root", "", &["--sample", "0", "--trx-threshold", "1s"]);
    let f = the(&v, "idle-transactions");
    assert_eq!(f["severity"], "warning", "it blocks nobody");
    assert_eq!(sessions(f), vec![id]);
    assert_eq!(evidence(f, "idle transactions"), "1");
    assert_eq!(evidence(f, "rows modified (rolled back if killed)"), "1");
    assert!(
        evidence(f, &format!("session {id}")).starts_with("trx@localhost, transaction open "),
        "{}",
        f["evidence"]
    );
    assert!(
        evidence(f, &format!("session {id}")).ends_with(", 1 row modified, blocks 0"),
        "{}",
        f["evidence"]
    );
    assert!(has_action(
        f,
        "conncheck kill-idle --older-than 0s --trx-older-than 1s"
    ));
    assert!(
        actions(f)
            .iter()
            .any(|a| a.contains("idle_transaction_timeout = 300")),
        "MariaDB has a timeout for this, at a production value (never the 1s threshold): {:?}",
        actions(f)
    );
    absent(&v, "lock-pileup");
}

#[test]
fn a_metadata_lock_pileup_behind_an_alter_names_the_idle_transaction() {
    let s = Server::start(ServerOpts::default());
    s.create_user("ddl", "pw", "USAGE");
    let t = table(&s, "ddl");
    // A: reads the table inside a transaction and goes to sleep with it open.
    let mut a = s.connect("ddl", "pw").unwrap();
    a.query_drop("BEGIN").unwrap();
    a.query_drop(format!("SELECT * FROM {t}")).unwrap();
    let a_id = conn_id(&a);
    let mdl = "Waiting for table metadata lock";
    let waiting = |n: u64| {
        move |c: &mut mysql::Conn| {
            number(
                c,
                &format!(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE = '{mdl}'"
                ),
            ) >= n
        }
    };
    // B: the ALTER waits for A's shared metadata lock ...
    let b = s.background_query("ddl", "pw", &format!("ALTER TABLE {t} ADD COLUMN w INT"));
    s.wait_until("the ALTER waits", WAIT, waiting(1));
    // ... and C, D, E queue behind the ALTER's exclusive request.
    let queued: Vec<BackgroundQuery> = (0..3)
        .map(|i| s.background_query("ddl", "pw", &format!("SELECT * FROM {t} WHERE id = {i}")))
        .collect();
    s.wait_until("4 sessions wait for the metadata lock", WAIT, waiting(4));
    s.wait_trx_aged(a_id, 2);

    let v = s.diagnose("root", "", &["--sample", "0", "--trx-threshold", "1s"]);
    let f = the(&v, "lock-pileup");
    assert_eq!(f["severity"], "warning", "4 waiters of 200 slots");
    let mut expected = vec![a_id, b.id];
    expected.extend(queued.iter().map(|q| q.id));
    assert_eq!(sorted(sessions(f)), sorted(expected));
    assert_eq!(sessions(f)[0], a_id, "the blocker is the oldest");
    let blocker = evidence(f, "blocker");
    assert!(
        blocker.starts_with(&format!("session {a_id}: ddl@localhost, Sleep "))
            && blocker.ends_with("idle in transaction"),
        "{blocker}"
    );
    assert!(
        evidence(f, "blocker found").starts_with("inferred"),
        "MariaDB does not show metadata-lock holders"
    );
    assert!(
        evidence(f, "DDL at the head of the queue")
            .starts_with(&format!("session {}, waiting ", b.id)),
        "{}",
        f["evidence"]
    );
    assert!(
        evidence(f, "DDL at the head of the queue")
            .ends_with(": ALTER TABLE ddl_db.t ADD COLUMN w INT")
    );
    assert_eq!(evidence(f, "waiters"), "4");
    assert_eq!(evidence(f, "waiting for"), "metadata locks 4");
    assert!(
        f["summary"].as_str().unwrap().contains(", inferred;"),
        "{}",
        f["summary"]
    );
    let kills: Vec<String> = actions(f)
        .into_iter()
        .filter(|a| a.starts_with("KILL "))
        .collect();
    assert_eq!(kills.len(), 1, "{kills:?}");
    assert!(kills[0].starts_with(&format!("KILL {a_id};")));
    assert!(has_action(
        f,
        "to see metadata-lock holders: INSTALL SONAME"
    ));
    // Waiters are not long queries to kill: the blocker is the cause.
    absent(&v, "long-running-queries");
    // A is an idle transaction, and it is what the 4 sessions wait for.
    let trx = the(&v, "idle-transactions");
    assert_eq!(trx["severity"], "critical", "{}", trx["summary"]);
    assert_eq!(sessions(trx), vec![a_id]);
    assert_eq!(evidence(trx, "sessions they block"), "4");
}

#[test]
fn a_row_lock_pileup_names_the_blocker_from_the_lock_tables() {
    let s = Server::start(ServerOpts {
        extra_args: vec!["--innodb-lock-wait-timeout=300".into()],
        ..ServerOpts::default()
    });
    s.create_user("rows", "pw", "USAGE");
    let t = table(&s, "rows");
    let mut blocker = s.connect("rows", "pw").unwrap();
    blocker.query_drop("BEGIN").unwrap();
    blocker
        .query_drop(format!("UPDATE {t} SET v = v + 1 WHERE id = 1"))
        .unwrap();
    let blocker_id = conn_id(&blocker);
    let lock_waits = |c: &mut mysql::Conn| {
        number(
            c,
            "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'",
        )
    };
    let mut waiters = Vec::new();
    for i in 1..=3 {
        waiters.push(s.background_query(
            "rows",
            "pw",
            &format!("UPDATE {t} SET v = v + {i} WHERE id = 1"),
        ));
        s.wait_until_every(&format!("{i} row-lock waiters"), WAIT, INNODB_POLL, |c| {
            lock_waits(c) >= i
        });
    }
    s.wait_trx_aged(blocker_id, 2);

    let v = s.diagnose("root", "", &["--sample", "0", "--trx-threshold", "1s"]);
    let f = the(&v, "lock-pileup");
    assert_eq!(f["severity"], "warning", "3 waiters of 200 slots");
    let waiter_ids: Vec<u64> = waiters.iter().map(|w| w.id).collect();
    assert_eq!(
        sorted(sessions(f)),
        sorted(waiter_ids.iter().copied().chain([blocker_id]))
    );
    assert_eq!(sessions(f)[0], blocker_id, "the blocker is the oldest");
    assert_eq!(
        evidence(f, "blocker found"),
        "from the server's lock tables"
    );
    assert!(
        evidence(f, "blocker")
            .starts_with(&format!("session {blocker_id}: rows@localhost, Sleep ")),
        "{}",
        evidence(f, "blocker")
    );
    assert_eq!(evidence(f, "waiters"), "3");
    assert_eq!(evidence(f, "waiting for"), "row locks 3");
    assert_eq!(evidence(f, "tables"), "rows_db.t");
    let kills: Vec<String> = actions(f)
        .into_iter()
        .filter(|a| a.starts_with("KILL "))
        .collect();
    assert_eq!(kills.len(), 1, "only the root blocker: {kills:?}");
    assert!(kills[0].starts_with(&format!("KILL {blocker_id};")));

    // The blocker is an idle transaction that blocks others: critical.
    let trx = the(&v, "idle-transactions");
    assert_eq!(trx["severity"], "critical");
    assert_eq!(sessions(trx), vec![blocker_id]);
    assert_eq!(evidence(trx, "sessions they block"), "3");
}

#[test]
fn a_full_server_is_critical_and_refusals_during_the_sample_are_counted() {
    let s = Server::start(ServerOpts {
        max_connections: 10,
        ..ServerOpts::default()
    });
    s.create_user("app", "apppw", "USAGE");
    s.create_user("ops", "opspw", "PROCESS, CONNECTION ADMIN");
    let filled = s.idle_connections("app", "apppw", 10);
    let app_ids: Vec<u64> = filled.iter().map(conn_id).collect();
    assert!(s.connect("app", "apppw").is_err(), "the server is full");

    let v = s.diagnose("ops", "opspw", &["--sample", "0"]);
    assert_eq!(v["state"], "critical");
    let full = the(&v, "server-full");
    assert_eq!(full["severity"], "critical");
    // The findings go by the connections they explain: the pool that holds every slot first;
    // the verdict names it, not the symptom.
    assert_eq!(v["findings"][0]["id"], "pool-oversized", "{:?}", ranked(&v));
    assert_eq!(v["verdict"]["cause"], "pool-oversized", "{}", v["verdict"]);
    assert!(sessions(full).is_empty());
    assert_eq!(evidence(full, "Threads_connected"), "11");
    assert_eq!(
        evidence(full, "route"),
        "the reserved admin slot (max_connections + 1)"
    );
    absent(&v, "near-limit");
    // Why it is full: one account's warm pool holds every slot, and nothing limits it.
    let pool = the(&v, "pool-oversized");
    // A server up seconds: the pool holds the slots, its size is not judged yet.
    assert_eq!(pool["severity"], "info");
    assert_eq!(sorted(sessions(pool)), sorted(app_ids.clone()));
    let limit = the(&v, "per-user-limit-missing");
    assert_eq!(limit["severity"], "warning");
    assert_eq!(sorted(sessions(limit)), sorted(app_ids.clone()));
    assert_eq!(evidence(limit, "account"), "app");

    // Clients keep knocking during the sample: with conncheck in the reserved slot, each is a
    // hard refusal.
    // The knocker runs until diagnose has returned, so a slow start on a loaded machine cannot
    // leave the sample window without knocks.
    let port = s.port();
    let done = Arc::new(AtomicBool::new(false));
    let stop = Arc::clone(&done);
    let knocker = thread::spawn(move || {
        let mut refused = 0;
        while !stop.load(Ordering::Relaxed) {
            let opts = mysql::OptsBuilder::new()
                .ip_or_hostname(Some("127.0.0.1"))
                .tcp_port(port)
                .prefer_socket(false)
                .user(Some("app"))
                .pass(Some("apppw"))
                .tcp_connect_timeout(Some(Duration::from_secs(2)));
            if mysql::Conn::new(opts).is_err() {
                refused += 1;
            }
            thread::sleep(Duration::from_millis(50));
        }
        refused
    });
    let v = s.diagnose("ops", "opspw", &["--sample", "2s"]);
    done.store(true, Ordering::Relaxed);
    assert!(knocker.join().unwrap() > 10);
    let f = the(&v, "refused-connections");
    assert_eq!(f["severity"], "critical", "{}", f["summary"]);
    assert!(sessions(f).is_empty());
    assert!(
        evidence(f, "Connection_errors_max_connections")
            .parse::<u64>()
            .unwrap()
            > 0,
        "{}",
        f["evidence"]
    );
    assert!(
        v["rates"]["refused_per_s"].as_f64().unwrap() > 0.0,
        "{}",
        v["rates"]
    );
    assert_eq!(the(&v, "server-full")["severity"], "critical");
    drop(filled);
}

#[test]
fn a_connection_spike_during_the_sample_is_a_traffic_spike() {
    let s = Server::start(ServerOpts::default());
    s.create_user("storm", "pw", "USAGE");
    // The spike is judged against the lifetime average: not on a server a second old.
    s.wait_until("3 s of uptime", WAIT, |c| {
        number(
            c,
            "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'UPTIME'",
        ) >= 3
    });
    let port = s.port();
    // Short connections one after another, from before the sample starts until diagnose ends:
    // the whole sample sees the churn, however fast the machine is.
    let stop = Arc::new(AtomicBool::new(false));
    let made = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let churn = {
        let opts = s.opts("storm", "pw");
        let (stop, made) = (Arc::clone(&stop), Arc::clone(&made));
        thread::spawn(move || {
            let mut ids = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let c = mysql::Conn::new(opts.clone())
                    .unwrap_or_else(|e| panic!("connect to {port}: {e}"));
                ids.push(conn_id(&c));
                drop(c);
                made.fetch_add(1, Ordering::Relaxed);
            }
            ids
        })
    };
    let began = std::time::Instant::now();
    while made.load(Ordering::Relaxed) < 10 {
        assert!(began.elapsed() < WAIT, "the churn never started");
        thread::yield_now();
    }
    let v = s.diagnose("root", "", &["--sample", "2s"]);
    stop.store(true, Ordering::Relaxed);
    let churned = churn.join().unwrap();
    let f = the(&v, "traffic-spike");
    assert_eq!(f["severity"], "warning", "{}", f["summary"]);
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .starts_with("connections arrive at "),
        "{}",
        f["summary"]
    );
    let rate: f64 = evidence(f, "connection rate (sample)")
        .trim_end_matches("/s")
        .parse()
        .unwrap();
    assert!(rate >= 20.0, "{rate}");
    // Only sessions caught logging in are listed: short-lived churn connections, if any.
    assert!(
        sessions(f).iter().all(|id| churned.contains(id)),
        "{:?}",
        sessions(f)
    );
    // A connect per request also means no pooling.
    let pool = the(&v, "pool-oversized");
    assert_eq!(pool["severity"], "info");
    assert!(sessions(pool).is_empty());
    assert!(
        evidence(pool, "new connections (Connections)").ends_with("during the 2s sample"),
        "{}",
        pool["evidence"]
    );
    assert!(v["rates"]["connections_per_s"].as_f64().unwrap() >= 20.0);
}

#[test]
fn the_default_wait_timeout_with_idle_sessions_is_a_warning() {
    let s = Server::start(ServerOpts::default());
    s.create_user("sleepy", "pw", "USAGE");
    let idle = s.idle_connections("sleepy", "pw", 10);
    let ids: Vec<u64> = idle.iter().map(conn_id).collect();
    wait_aged(&s, "sleepy", "Sleep", 10, 1500);

    let v = s.diagnose("root", "", &["--sample", "0", "--idle-threshold", "1s"]);
    let f = the(&v, "wait-timeout-high");
    assert_eq!(f["severity"], "warning", "{}", f["summary"]);
    assert_eq!(sorted(sessions(f)), sorted(ids));
    assert_eq!(evidence(f, "wait_timeout"), "28800s");
    assert_eq!(evidence(f, "interactive_timeout"), "28800s");
    // The change is suggested once per report, by the cause that ranks first (the idle
    // sessions); this prevention finding points there.
    let owners: Vec<&str> = findings(&v)
        .iter()
        .filter(|f| {
            actions(f)
                .iter()
                .any(|a| a.starts_with("conncheck set-timeouts "))
        })
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(owners, ["idle-connections"], "{v}");
    assert!(
        actions(f).iter().any(|a| a
            == "wait_timeout and interactive_timeout: see the change suggested under idle-connections"),
        "{:?}",
        actions(f)
    );
    // A production value, never the 1s probe threshold: 5 minutes for pools this young.
    let idle = the(&v, "idle-connections");
    assert!(
        has_action(
            idle,
            "conncheck set-timeouts --wait-timeout 1800s --interactive-timeout 1800s"
        ),
        "{:?}",
        actions(idle)
    );
    assert!(!v.to_string().contains("wait_timeout = 1;"));
}

#[test]
fn the_151_default_with_a_peak_near_it_is_max_connections_low() {
    let s = Server::start(ServerOpts {
        max_connections: 151,
        ..ServerOpts::default()
    });
    s.create_user("peak", "pw", "USAGE");
    // A burst of 125 connections (83 % of 151), gone again: Max_used_connections remembers it.
    drop(s.idle_connections("peak", "pw", 125));
    s.wait_until("the burst has disconnected", WAIT, |c| {
        number(
            c,
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'peak'",
        ) == 0
    });
    // A few sessions stay: their memory is measured.
    s.create_user("kept", "pw", "USAGE");
    let kept = s.idle_connections("kept", "pw", 4);

    let v = s.diagnose("root", "", &["--sample", "0"]);
    let f = the(&v, "max-connections-low");
    assert_eq!(f["severity"], "warning");
    assert!(sessions(f).is_empty());
    assert_eq!(evidence(f, "max_connections"), "151 (the default)");
    let peak: u64 = evidence(f, "Max_used_connections").parse().unwrap();
    assert!((125..=128).contains(&peak), "{peak}");
    assert_eq!(evidence(f, "suggested max_connections"), "250");
    // Never a higher limit without its memory cost.
    assert!(
        actions(f).iter().any(
            |a| a.starts_with("conncheck set-max-connections 250   # ≈ +")
                && a.contains(" measured (p95 per connection), +")
                && a.contains("worst-case memory")
        ),
        "{:?}",
        actions(f)
    );
    assert!(
        actions(f)
            .iter()
            .any(|a| a.starts_with("SET GLOBAL max_connections = 250;")
                && a.contains("worst-case memory")),
        "{:?}",
        actions(f)
    );
    // MariaDB measures each session's memory: the cost relied on is the measured one.
    assert_eq!(evidence(f, "memory relies on"), "measured");
    absent(&v, "near-limit");
    drop(kept);
}

#[test]
fn a_healthy_server_has_no_warnings() {
    let s = Server::start(ServerOpts::default());
    s.create_user("fine", "pw", "USAGE");
    let _pool = s.idle_connections("fine", "pw", 3);
    let v = s.diagnose("root", "", &["--sample", "0"]);
    assert!(
        v["state"] == "ok" || v["state"] == "info",
        "{:?}",
        ranked(&v)
    );
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["severity"] == "info"),
        "{:?}",
        ranked(&v)
    );
    assert_eq!(v["connections"]["max_connections"], 200);
    let out = s
        .conncheck("root", "")
        .args(["diagnose", "--sample", "0"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("No problems found"), "{text}");
    s.conncheck("root", "")
        .args(["diagnose", "--sample", "0", "--fail-on", "warning"])
        .assert()
        .code(0);
}

/// (id, severity, sessions sorted) of every finding, sorted.
fn comparable(v: &Value) -> Vec<(String, String, Vec<u64>)> {
    let mut out: Vec<(String, String, Vec<u64>)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                sorted(sessions(f)),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_saved_snapshot_gives_the_same_findings_as_the_live_run() {
    let s = Server::start(ServerOpts {
        extra_args: vec!["--innodb-lock-wait-timeout=300".into()],
        ..ServerOpts::default()
    });
    s.create_user("mix", "pw", "USAGE");
    let t = table(&s, "mix");
    // Idle connections, an idle transaction holding a row lock with 3 waiters, a long query.
    let _idle = s.idle_connections("mix", "pw", 5);
    let mut blocker = s.connect("mix", "pw").unwrap();
    blocker.query_drop("BEGIN").unwrap();
    blocker
        .query_drop(format!("UPDATE {t} SET v = 1 WHERE id = 1"))
        .unwrap();
    let _waiters: Vec<BackgroundQuery> = (1..=3)
        .map(|i| s.background_query("mix", "pw", &format!("UPDATE {t} SET v = {i} WHERE id = 1")))
        .collect();
    let _long = s.background_query("mix", "pw", "SELECT SLEEP(60)");
    s.wait_until_every("3 row-lock waiters", WAIT, INNODB_POLL, |c| {
        number(
            c,
            "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'",
        ) == 3
    });
    // Everything well past the 1 s thresholds, so a second more changes nothing.
    wait_aged(&s, "mix", "Sleep", 6, 2500);
    wait_aged(&s, "mix", "Query", 4, 2500);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snap.json");
    s.conncheck("root", "")
        .args(["snapshot", "--sample", "0", "-o"])
        .arg(&file)
        .assert()
        .success();
    let th = [
        "--idle-threshold",
        "1s",
        "--long-query-threshold",
        "1s",
        "--trx-threshold",
        "1s",
    ];
    let mut live_args = vec!["--sample", "0"];
    live_args.extend(th);
    let live = s.diagnose("root", "", &live_args);
    let mut from_args = vec!["--from", file.to_str().unwrap()];
    from_args.extend(th);
    let saved = s.diagnose("root", "", &from_args);

    assert_eq!(comparable(&saved), comparable(&live));
    let ids: BTreeSet<String> = comparable(&live).into_iter().map(|f| f.0).collect();
    for id in [
        "idle-connections",
        "idle-transactions",
        "lock-pileup",
        "long-running-queries",
    ] {
        assert!(ids.contains(id), "{id} missing from {ids:?}");
    }
    // The same server; its uptime may have ticked over a second between the two reads.
    let without_uptime = |v: &Value| {
        let mut s = v["server"].clone();
        s.as_object_mut().unwrap().remove("uptime_s");
        s
    };
    assert_eq!(without_uptime(&saved), without_uptime(&live));
    assert_eq!(saved["target"], live["target"]);
    // The file is a plain snapshot: its sessions are the processlist without conncheck.
    let snap: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(snap["schema_version"], 1);
    assert_eq!(snap["server"]["flavor"], "mariadb");
    let own = snap["access"]["connection_id"].as_u64().unwrap();
    assert!(
        !snap["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"].as_u64() == Some(own))
    );
}

/// The limit suggestion names the account row the sessions really logged in as (the server's own
/// CURRENT_USER() in each session is the truth), and a limit set on that row clears the finding.
#[test]
fn the_per_account_limit_names_the_real_account_and_clears_once_set() {
    let s = Server::start(ServerOpts {
        max_connections: 20,
        ..ServerOpts::default()
    });
    // Both 'app'@'%' and 'app'@'localhost' exist, as in most installs.
    s.create_user("app", "apppw", "USAGE");
    let mut held = s.idle_connections("app", "apppw", 12);
    let truth: String = held[0]
        .query_first("SELECT CURRENT_USER()")
        .unwrap()
        .unwrap();
    let (user, host) = truth.split_once('@').unwrap();
    let account = format!("'{user}'@'{host}'");

    let v = s.diagnose("root", "", &["--sample", "0"]);
    let limit = the(&v, "per-user-limit-missing");
    assert_eq!(evidence(limit, "account"), account);
    let alter = actions_of(limit, "sql")
        .into_iter()
        .find(|a| a.starts_with("ALTER USER"))
        .expect("an ALTER USER")
        .to_string();
    assert!(
        alter.starts_with(&format!(
            "ALTER USER {account} WITH MAX_USER_CONNECTIONS 15;"
        )),
        "{alter}"
    );
    // Pasted as printed, it limits the right row, and the finding clears.
    s.sql(&alter);
    let v = s.diagnose("root", "", &["--sample", "0"]);
    absent(&v, "per-user-limit-missing");
    held.clear();
}

/// Our own KILLs are not the application's fault: sessions killed by `kill-idle` end without a
/// proper close and count as aborted clients, which aborted-clients judges net of Com_kill.
#[test]
fn our_own_kills_do_not_blame_the_application() {
    let s = Server::start(ServerOpts::default());
    s.create_user("killme", "pw", "USAGE");
    let idle = s.idle_connections("killme", "pw", 120);
    let aborted_before = s.status("Aborted_clients");
    let out = s
        .conncheck("root", "")
        .args([
            "kill-idle",
            "--older-than",
            "0s",
            "--match-user",
            "killme",
            "--yes",
        ])
        .args(["--format", "json"])
        .output()
        .unwrap();
    let v = json_ok(&out);
    assert_eq!(v["counts"]["killed"], 120, "{v}");
    s.wait_until("the killed sessions counted as aborted", WAIT, |c| {
        number(c, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'ABORTED_CLIENTS'")
            >= aborted_before + 120
    });
    let v = s.diagnose("root", "", &["--sample", "0"]);
    absent(&v, "aborted-clients");
    drop(idle);
}
