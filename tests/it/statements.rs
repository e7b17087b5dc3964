//! Statements, replication and pools on private MariaDB servers (issue 19, item 6): running
//! statements grouped by digest, a replica whose applier waits behind a client's lock, and
//! fixed-size pools that kill-idle leaves alone.

use crate::support;

use std::time::Duration;

use mysql::prelude::Queryable;
use serde_json::Value;
use support::findings::*;
use support::{Server, ServerOpts, json_ok, number};

const WAIT: Duration = Duration::from_secs(30);

/// 40 statements that differ only in their literals are one digest line with a count of 40,
/// and 40 sessions in `SELECT SLEEP()` are neither a connection storm nor a busy server.
#[test]
fn forty_statements_differing_in_literals_are_one_digest() {
    let s = Server::start(ServerOpts::default());
    s.create_user("app", "pw", "USAGE");
    let queries: Vec<_> = (0..40)
        .map(|i| {
            s.background_query(
                "app",
                "pw",
                &format!(
                    "SELECT SLEEP(60) /* req {i} */, 'user-{i}', {i} IN ({i}, {}, 3)",
                    i + 1
                ),
            )
        })
        .collect();
    s.wait_until("40 statements running for 1 s", WAIT, |c| {
        number(
            c,
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'app' AND COMMAND = 'Query' AND TIME >= 1",
        ) == 40
    });
    let v = s.diagnose(
        "root",
        "",
        &["--sample", "0", "--long-query-threshold", "1s"],
    );
    let f = the(&v, "long-running-queries");
    let line = evidence(f, "digest ×40");
    assert!(
        line.starts_with("SELECT SLEEP(?), ?, ? IN (...); clients app@") && line.contains(" ×40"),
        "{line}"
    );
    assert!(
        !f["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"].as_str().unwrap().starts_with("session ")),
        "{f}"
    );
    assert_eq!(sessions(f).len(), 40);
    absent(&v, "traffic-spike");
    absent(&v, "server-busy");
    drop(queries);
}

/// A replica whose SQL thread replays an ALTER TABLE behind a client holding the table, with
/// clients queued behind the ALTER: replication-stall with the lag and the pile-up as evidence,
/// the applier named and never killed; once the client's transaction ends, replication goes on.
#[test]
fn a_replica_applier_waiting_behind_a_client_is_a_replication_stall() {
    let primary = Server::start(ServerOpts {
        extra_args: vec!["--log-bin=primary-bin".into(), "--server-id=1".into()],
        ..ServerOpts::default()
    });
    let replica = Server::start(ServerOpts {
        extra_args: vec!["--server-id=2".into()],
        ..ServerOpts::default()
    });
    let mut p = primary.root();
    p.query_drop("CREATE USER 'repl'@'%' IDENTIFIED BY 'rp'")
        .unwrap();
    p.query_drop("GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'")
        .unwrap();
    let (file, pos): (String, u64) = p
        .query_first::<mysql::Row, _>("SHOW MASTER STATUS")
        .unwrap()
        .map(|r| (r.get(0).unwrap(), r.get(1).unwrap()))
        .expect("binary log on");
    p.query_drop("CREATE DATABASE shop").unwrap();
    p.query_drop("CREATE TABLE shop.orders (id INT PRIMARY KEY, total INT) ENGINE=InnoDB")
        .unwrap();
    p.query_drop("INSERT INTO shop.orders VALUES (1, 10)")
        .unwrap();
    let mut r = replica.root();
    r.query_drop(format!(
        "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='repl', MASTER_PASSWORD='rp', MASTER_LOG_FILE='{file}', MASTER_LOG_POS={pos}",
        primary.port()
    ))
    .unwrap();
    r.query_drop("START SLAVE").unwrap();
    replica.wait_until("the row replicated", WAIT, |c| {
        number(c, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'orders'") == 1
            && number(c, "SELECT COUNT(*) FROM shop.orders") == 1
    });
    // A client on the replica holds the table in an open transaction (a report), the source
    // alters it: the applier waits for the metadata lock, and reads queue behind it.
    let mut holder = replica.root();
    holder.query_drop("BEGIN").unwrap();
    holder.query_drop("SELECT * FROM shop.orders").unwrap();
    let holder_id = u64::from(holder.connection_id());
    p.query_drop("ALTER TABLE shop.orders ADD COLUMN note VARCHAR(20)")
        .unwrap();
    replica.wait_until("the applier waits for the metadata lock", WAIT, |c| {
        number(c, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND = 'Slave_SQL' AND STATE = 'Waiting for table metadata lock'") == 1
    });
    let queued: Vec<_> = (0..3)
        .map(|_| replica.background_query("root", "", "SELECT * FROM shop.orders"))
        .collect();
    replica.wait_until("3 reads queued and 2 s of lag", WAIT, |c| {
        let queued = number(c, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND = 'Query' AND STATE = 'Waiting for table metadata lock'");
        let lag = c
            .query_first::<mysql::Row, _>("SHOW SLAVE STATUS")
            .unwrap()
            .and_then(|r| r.get::<Option<u64>, _>("Seconds_Behind_Master").flatten())
            .unwrap_or(0);
        queued == 3 && lag >= 2
    });
    // On the source, the replica's Binlog Dump thread is a counted connection in the
    // `replication` bucket: no stall, nothing unaccounted.
    let src = primary.diagnose("root", "", &["--sample", "0"]);
    absent(&src, "replication-stall");
    let buckets = |key: &str| -> Vec<(String, i64)> {
        src[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["bucket"].as_str().unwrap().to_string(),
                    b["count"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    assert!(
        !buckets("slots").iter().any(|(b, _)| b == "unaccounted"),
        "{:?} {}",
        buckets("slots"),
        src["threads_connected"]
    );
    assert!(
        buckets("slots").contains(&("replication".to_string(), 1)),
        "{:?}",
        buckets("slots")
    );
    assert!(
        !buckets("background")
            .iter()
            .any(|(b, _)| b == "replication")
    );

    let v = replica.diagnose("root", "", &["--sample", "0"]);
    let slots: Vec<&str> = v["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["bucket"].as_str().unwrap())
        .collect();
    assert!(!slots.contains(&"unaccounted"), "{slots:?}");
    let f = the(&v, "replication-stall");
    assert_eq!(f["severity"], "critical", "{f}");
    assert_eq!(f["slots"], 3, "{f}");
    let lag: u64 = evidence(f, "lag").trim_end_matches('s').parse().unwrap();
    assert!(lag >= 2, "{lag}");
    assert!(
        evidence(f, "replication").contains("I/O Yes, SQL Yes"),
        "{}",
        evidence(f, "replication")
    );
    let applier = number(
        &mut replica.root(),
        "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Slave_SQL'",
    );
    assert!(
        evidence(f, &format!("applier session {applier}"))
            .contains("Waiting for table metadata lock: ALTER TABLE shop.orders"),
        "{f}"
    );
    assert!(
        f["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "DDL at the head")
    );
    assert!(actions(f).iter().all(|a| !a.contains("KILL")), "{f}");
    // The holder is the cause, not the applier: ending its transaction lets replication go on.
    assert!(!sessions(f).contains(&holder_id));
    holder.query_drop("ROLLBACK").unwrap();
    replica.wait_until("the ALTER applied", WAIT, |c| {
        number(c, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'orders' AND COLUMN_NAME = 'note'") == 1
    });
    drop(queued);
}

fn kill_idle_dry_run(s: &Server, extra: &[&str]) -> Value {
    let out = s
        .conncheck("root", "")
        .args([
            "kill-idle",
            "--older-than",
            "30s",
            "--dry-run",
            "--format",
            "json",
        ])
        .args(extra)
        .output()
        .unwrap();
    json_ok(&out)
}

fn ids(v: &Value, field: &str) -> Vec<u64> {
    let mut ids: Vec<u64> = v[field]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_u64().or_else(|| x["id"].as_u64()).unwrap())
                .collect()
        })
        .unwrap_or_default();
    ids.sort_unstable();
    ids
}

/// Three pools of 10 connections, each opened in one burst and idle together for a minute, and
/// one person's session idle as long: fixed-pool names the pools with a configuration fix, and
/// kill-idle's plan takes the person's session but none of the pools' (the pools would reopen
/// them), unless --include-pools.
#[test]
fn fixed_pools_are_left_out_of_kill_idle() {
    let s = Server::start(ServerOpts::default());
    for u in ["pool_a", "pool_b", "pool_c", "alice"] {
        s.create_user(u, "pw", "USAGE");
    }
    let alice = s.idle_connections("alice", "pw", 1);
    let pools: Vec<Vec<mysql::Conn>> = ["pool_a", "pool_b", "pool_c"]
        .iter()
        .map(|u| s.idle_connections(u, "pw", 10))
        .collect();
    // The pool rule needs a minute of idleness (a pool used within the last minute is in use).
    s.wait_until("every session idle 62 s", Duration::from_secs(120), |c| {
        number(
            c,
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER IN ('pool_a', 'pool_b', 'pool_c', 'alice') AND COMMAND = 'Sleep' AND TIME >= 62",
        ) == 31
    });
    let pool_ids: Vec<u64> = {
        let mut v: Vec<u64> = pools
            .iter()
            .flatten()
            .map(|c| u64::from(c.connection_id()))
            .collect();
        v.sort_unstable();
        v
    };
    let alice_id = u64::from(alice[0].connection_id());
    let v = s.diagnose("root", "", &["--sample", "0"]);
    let f = the(&v, "fixed-pool");
    assert_eq!(f["slots"], 30, "{f}");
    assert_eq!(sorted(sessions(f)), pool_ids);
    assert!(
        evidence(f, "pool pool_a@localhost").starts_with("10 connections, ids "),
        "{f}"
    );
    assert!(actions(f).iter().any(|a| a.contains("minimumIdle")), "{f}");
    assert!(
        actions(f).iter().all(|a| !a.contains("kill-idle --older")),
        "{f}"
    );
    absent(&v, "connection-leak");

    let plan = kill_idle_dry_run(&s, &[]);
    assert_eq!(ids(&plan, "victims"), vec![alice_id], "{plan}");
    assert_eq!(ids(&plan, "pool_connections"), pool_ids);
    assert!(
        plan["summary"]
            .as_str()
            .unwrap()
            .contains("30 connections of fixed-size pools left alone"),
        "{}",
        plan["summary"]
    );
    let all = kill_idle_dry_run(&s, &["--include-pools"]);
    assert_eq!(ids(&all, "victims").len(), 31, "{all}");
    drop(pools);
    drop(alice);
}
