//! Lock pile-ups built live on private MariaDB servers (each test its own, with the
//! `metadata_lock_info` plugin that names metadata, backup and user-lock holders): a report
//! query holding a metadata lock with an ALTER and 30 queries queued behind it, an idle
//! FLUSH TABLES WITH READ LOCK holder with writers in `Waiting for backup lock`, an idle
//! transaction holding a row lock, a GET_LOCK holder. Each asserts the verdict's relief from a
//! table of scenario -> expected values (command, `frees`, `unblocks`), runs the pasted argv
//! with `--dry-run --format json` and checks that its plan holds the root and no victim, then
//! pastes it for real and checks that the waiters are released.

use crate::support;

use std::thread;
use std::time::Duration;

use mysql::prelude::Queryable;
use serde_json::Value;
use support::{BackgroundQuery, Server, ServerOpts, conn_id, number, relief};

/// How long to wait for a server state before failing.
const WAIT: Duration = Duration::from_secs(60);

/// A server that names lock holders; lock waits outlast the test.
fn server() -> Server {
    server_with(true)
}

/// A server with or without the `metadata_lock_info` plugin.
fn server_with(plugin: bool) -> Server {
    let mut extra_args: Vec<String> = vec![
        "--innodb-lock-wait-timeout=600".into(),
        "--lock-wait-timeout=600".into(),
    ];
    if plugin {
        extra_args.push("--plugin-load-add=metadata_lock_info".into());
    }
    Server::start(ServerOpts {
        extra_args,
        ..ServerOpts::default()
    })
}

/// Sessions whose processlist state is `state`.
fn in_state(c: &mut mysql::Conn, state: &str) -> u64 {
    c.exec_first::<u64, _, _>(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE = ?",
        (state,),
    )
    .unwrap()
    .unwrap_or(0)
}

/// Wait until `n` sessions are in `state`.
fn wait_state(s: &Server, state: &str, n: u64) {
    s.wait_until(&format!("{n} sessions in '{state}'"), WAIT, |c| {
        in_state(c, state) >= n
    });
}

/// Wait until no session is in `state`.
fn wait_until_none(s: &Server, state: &str) {
    s.wait_until(&format!("nobody in '{state}'"), WAIT, |c| {
        in_state(c, state) == 0
    });
}

/// What one scenario's verdict must offer.
struct Expected {
    /// The relief's own words after the connection options.
    command: String,
    frees: u64,
    unblocks: u64,
}

/// The verdict's relief, checked against `want`; its plan, run as pasted with `--dry-run`,
/// must select exactly `root` (no waiter). Returns the argv to paste, the plan and the relief.
fn check_relief(
    s: &Server,
    root: u64,
    victims: &[u64],
    want: &Expected,
) -> (Vec<String>, Value, Value) {
    let v = s.diagnose("root", "", &["--sample", "0"]);
    let relief = &v["verdict"]["relief"];
    let command = relief["command"].as_str().unwrap_or_default();
    assert!(
        command.ends_with(&want.command),
        "relief {command:?}, expected it to end with {:?}\nverdict: {}",
        want.command,
        v["verdict"]
    );
    assert_eq!(relief["frees"], want.frees, "{relief}");
    assert_eq!(relief["unblocks"], want.unblocks, "{relief}");
    // The root is `blocking`, not idle or running.
    let blocking: i64 = v["slots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["bucket"] == "blocking")
        .map(|x| x["count"].as_i64().unwrap())
        .sum();
    assert_eq!(blocking, 1, "{}", v["slots"]);
    let argv = relief::argv(relief);
    let (plan, planned) = relief::dry_run(&argv);
    assert_eq!(planned, vec![root], "the plan: the root only\n{plan}");
    assert!(
        victims.iter().all(|w| !planned.contains(w)),
        "no waiter in the plan"
    );
    (argv, plan, relief.clone())
}

/// Paste the relief for real (confirmed with `--yes`): its one KILL went through. The report.
fn paste(argv: &[String]) -> Value {
    let report = relief::run(argv, &["--yes", "--format", "json"]);
    let outcomes: Vec<&str> = report["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["outcome"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(outcomes, vec!["killed"], "{report}");
    report
}

/// An idle holder's relief: disconnect it (`kill-idle … --id`), one slot freed and every waiter
/// released; checked with `--dry-run`, then pasted.
fn disconnect_idle_holder(s: &Server, holder_id: u64, waiters: &[BackgroundQuery]) {
    let victims: Vec<u64> = waiters.iter().map(|w| w.id).collect();
    let (argv, _, _) = check_relief(
        s,
        holder_id,
        &victims,
        &Expected {
            command: format!("kill-idle --older-than 0s --id {holder_id}"),
            frees: 1,
            unblocks: waiters.len() as u64,
        },
    );
    assert_eq!(paste(&argv)["mode"], "connection");
}

/// A table `pile.<name>` with one row.
fn table(s: &Server, name: &str) -> String {
    s.sql("CREATE DATABASE IF NOT EXISTS pile");
    let t = format!("pile.{name}");
    s.sql(&format!(
        "CREATE TABLE {t} (id INT PRIMARY KEY, v INT) ENGINE=InnoDB"
    ));
    s.sql(&format!("INSERT INTO {t} VALUES (1, 1)"));
    t
}

#[test]
fn a_report_holding_a_metadata_lock_is_stopped_with_kill_query() {
    report_pileup(server(), true);
}

/// MariaDB's default: no metadata_lock_info. The holder is inferred (the oldest statement older
/// than the waits), the relief the same; no DDL alternative, since the queries' holder is not
/// known to be the ALTER.
#[test]
fn without_the_plugin_the_report_is_the_inferred_root() {
    report_pileup(server_with(false), false);
}

fn report_pileup(s: Server, plugin: bool) {
    let t = table(&s, "r");
    // The report: one row, so SLEEP runs once; no transaction of its own.
    let report = s.background_query("root", "", &format!("SELECT SLEEP(300) FROM {t}"));
    wait_state(&s, "User sleep", 1);
    let mdl = "Waiting for table metadata lock";
    let alter = s.background_query("root", "", &format!("ALTER TABLE {t} ADD COLUMN c INT"));
    wait_state(&s, mdl, 1);
    let queued: Vec<BackgroundQuery> = (0..30)
        .map(|i| s.background_query("root", "", &format!("SELECT v FROM {t} WHERE id = {i}")))
        .collect();
    wait_state(&s, mdl, 31);
    let mut victims: Vec<u64> = queued.iter().map(|q| q.id).collect();
    victims.push(alter.id);
    let (argv, _, relief) = check_relief(
        &s,
        report.id,
        &victims,
        &Expected {
            command: format!("kill-long --longer-than 0s --query-only --id {}", report.id),
            frees: 0,
            unblocks: 31,
        },
    );
    let alternative = &relief["alternative"];
    if plugin {
        // The ALTER heads the queue: stopping it instead is offered, labelled as such.
        assert!(
            alternative["command"]
                .as_str()
                .unwrap_or_default()
                .ends_with(&format!(
                    "kill-long --longer-than 0s --query-only --id {}",
                    alter.id
                )),
            "{relief}"
        );
        assert_eq!(alternative["unblocks"], 30, "{relief}");
        assert!(
            alternative["label"]
                .as_str()
                .unwrap_or_default()
                .starts_with("alternative: "),
            "{relief}"
        );
    } else {
        assert!(alternative.is_null(), "{relief}");
    }
    // KILL QUERY: the report's statement ends, its connection is kept.
    assert_eq!(paste(&argv)["mode"], "query");
    // The queue drains: the ALTER and the 30 queries run.
    wait_until_none(&s, mdl);
    s.wait_until("the ALTER has run", WAIT, |c| {
        number(c, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'pile' AND TABLE_NAME = 'r' AND COLUMN_NAME = 'c'")
            == 1
    });
}

#[test]
fn an_idle_global_read_lock_holder_is_the_root_of_the_writers() {
    let s = server();
    let t = table(&s, "w");
    let mut holder = s.root();
    holder.query_drop("FLUSH TABLES WITH READ LOCK").unwrap();
    let holder_id = conn_id(&holder);
    let writers: Vec<BackgroundQuery> = (0..40)
        .map(|i| s.background_query("root", "", &format!("INSERT INTO {t} VALUES ({i} + 10, 0)")))
        .collect();
    let backup = "Waiting for backup lock";
    wait_state(&s, backup, 40);
    disconnect_idle_holder(&s, holder_id, &writers);
    s.wait_until("the 40 writers have written", WAIT, |c| {
        number(c, &format!("SELECT COUNT(*) FROM {t}")) == 41
    });
    drop(writers);
}

#[test]
fn an_idle_transaction_holding_a_row_is_killed_and_rolls_back() {
    let s = server();
    let t = table(&s, "k");
    let mut holder = s.root();
    holder.query_drop("BEGIN").unwrap();
    holder
        .query_drop(format!("UPDATE {t} SET v = v + 1 WHERE id = 1"))
        .unwrap();
    let holder_id = conn_id(&holder);
    let waiters: Vec<BackgroundQuery> = (0..5)
        .map(|_| {
            s.background_query(
                "root",
                "",
                &format!("UPDATE {t} SET v = v + 2 WHERE id = 1"),
            )
        })
        .collect();
    // InnoDB's lock tables are a cache refreshed at most every 100 ms: wait on the processlist.
    wait_state(&s, "Updating", 5);
    thread::sleep(Duration::from_millis(150));
    let victims: Vec<u64> = waiters.iter().map(|w| w.id).collect();
    let (argv, plan, _) = check_relief(
        &s,
        holder_id,
        &victims,
        &Expected {
            command: format!("--id {holder_id}"),
            frees: 1,
            unblocks: 5,
        },
    );
    assert!(argv.iter().any(|w| w == "kill-idle"), "{argv:?}");
    // The plan shows what rolls back before the slot is free.
    let victim = &plan["victims"][0];
    assert_eq!(victim["trx_rows_modified"], 1, "{plan}");
    assert!(
        plan["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("(1 modified rows)"),
        "{plan}"
    );
    assert_eq!(paste(&argv)["mode"], "connection");
    // The holder's update rolled back, the 5 waiters' went through: 1 + 5 × 2.
    s.wait_until("the waiters have updated the row", WAIT, |c| {
        number(c, &format!("SELECT v FROM {t} WHERE id = 1")) == 11
    });
}

#[test]
fn a_get_lock_holder_is_the_root_of_its_waiters() {
    get_lock_pileup(server());
}

/// Without the plugin the holder is asked by name (IS_USED_LOCK), not guessed.
#[test]
fn a_get_lock_holder_is_found_by_name_without_the_plugin() {
    get_lock_pileup(server_with(false));
}

fn get_lock_pileup(s: Server) {
    let mut holder = s.root();
    let got: Option<i64> = holder
        .query_first("SELECT GET_LOCK('pile-job', 0)")
        .unwrap()
        .flatten();
    assert_eq!(got, Some(1));
    let holder_id = conn_id(&holder);
    let waiters: Vec<BackgroundQuery> = (0..5)
        .map(|_| s.background_query("root", "", "SELECT GET_LOCK('pile-job', 300)"))
        .collect();
    wait_state(&s, "User lock", 5);
    disconnect_idle_holder(&s, holder_id, &waiters);
    // The holder is gone: one waiter takes the lock, the others follow.
    s.wait_until("the holder is gone", WAIT, |c| {
        c.query_first::<Option<u64>, _>("SELECT IS_USED_LOCK('pile-job')")
            .unwrap()
            .flatten()
            .is_none_or(|id| id != holder_id)
    });
    // Each waiter in turn takes it and disconnects: none is left waiting.
    wait_until_none(&s, "User lock");
}

/// innodb_deadlock_detect = OFF: three transactions each hold one row and wait for the next's.
/// No session waits for nothing, so there is no root: the pile-up is reported as a cycle and
/// the verdict offers no relief (every session in it is a victim).
#[test]
fn a_cycle_without_deadlock_detection_is_reported_with_no_relief() {
    let s = Server::start(ServerOpts {
        extra_args: vec![
            "--innodb-deadlock-detect=OFF".into(),
            "--innodb-lock-wait-timeout=600".into(),
        ],
        ..ServerOpts::default()
    });
    let t = table(&s, "c");
    s.sql(&format!("INSERT INTO {t} VALUES (2, 2), (3, 3)"));
    let mut holders: Vec<mysql::Conn> = (1..=3)
        .map(|i| {
            let mut c = s.root();
            c.query_drop("BEGIN").unwrap();
            c.query_drop(format!("UPDATE {t} SET v = v + 1 WHERE id = {i}"))
                .unwrap();
            c
        })
        .collect();
    let ids: Vec<u64> = holders.iter().map(conn_id).collect();
    // Each then asks for the next one's row, from its own connection (in the background).
    let waits: Vec<std::thread::JoinHandle<()>> = holders
        .drain(..)
        .enumerate()
        .map(|(i, mut c)| {
            let next = (i + 1) % 3 + 1;
            let sql = format!("UPDATE {t} SET v = v + 1 WHERE id = {next}");
            thread::spawn(move || {
                let _ = c.query_drop(sql);
            })
        })
        .collect();
    wait_state(&s, "Updating", 3);
    thread::sleep(Duration::from_millis(150));
    let v = s.diagnose("root", "", &["--sample", "0"]);
    let pileup = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "lock-pileup")
        .unwrap_or_else(|| panic!("no lock-pileup: {}", v["findings"]));
    let title = pileup["title"].as_str().unwrap();
    assert!(title.starts_with("Lock cycle: 3 sessions"), "{title}");
    assert!(v["verdict"]["relief"].is_null(), "{}", v["verdict"]);
    // Break the cycle: the first KILL lets the others finish (and disconnect).
    let mut root = s.root();
    for id in &ids {
        let _ = root.query_drop(format!("KILL {id}"));
    }
    for w in waits {
        let _ = w.join();
    }
}
