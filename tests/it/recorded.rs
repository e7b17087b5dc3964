//! `conncheck diagnose --from` on recorded snapshots of servers we cannot run here: a MySQL 8.0
//! incident (performance_schema processlist, row-lock waits from data_lock_waits, a leak, long
//! queries), a full RDS MySQL, an Aurora writer full of idle Lambda connections, and a MariaDB
//! metadata-lock pile-up known only from thread states. Each asserts the findings (ids,
//! severities, sessions), flavor-specific advice (RDS: parameter group and mysql.rds_kill), that
//! system, replication and event-scheduler rows are never judged, and that the human report
//! renders. Plans like kill-idle need a live server and are not tested from files.

use crate::support;

use std::collections::BTreeSet;

use serde_json::Value;
use support::findings::*;

fn path(name: &str) -> String {
    format!("{}/tests/data/{name}.json", env!("CARGO_MANIFEST_DIR"))
}

/// The recorded snapshot itself.
fn snapshot(name: &str) -> Value {
    let text = std::fs::read_to_string(path(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// `diagnose --from <file> --format json`.
fn diagnose(name: &str) -> Value {
    let out = support::conncheck()
        .args(["diagnose", "--from", &path(name), "--format", "json"])
        .output()
        .unwrap();
    support::json_ok(&out)
}

/// Ids of the recorded sessions that match.
fn ids_where(snap: &Value, pred: impl Fn(&Value) -> bool) -> Vec<u64> {
    sorted(
        snap["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| pred(s))
            .map(|s| s["id"].as_u64().unwrap()),
    )
}

fn transaction_ids(snap: &Value) -> BTreeSet<u64> {
    snap["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["session_id"].as_u64().unwrap())
        .collect()
}

/// Server-internal, replication and event-scheduler rows appear in no finding.
fn internal_rows_ignored(snap: &Value, v: &Value) {
    let internal = ids_where(snap, |s| {
        s["user"] == "system user"
            || s["user"] == "event_scheduler"
            || s["command"]
                .as_str()
                .unwrap()
                .to_ascii_lowercase()
                .starts_with("binlog dump")
    });
    assert!(internal.len() >= 2, "the file has internal rows");
    for f in findings(v) {
        for id in sessions(f) {
            assert!(
                !internal.contains(&id),
                "{} lists internal row {id}",
                f["id"]
            );
        }
    }
}

/// The human report renders (plain and verbose) and names every finding.
fn renders(name: &str, v: &Value) {
    for verbose in [false, true] {
        let mut cmd = support::conncheck();
        cmd.args(["diagnose", "--from", &path(name)]);
        if verbose {
            cmd.arg("--verbose");
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        for f in findings(v) {
            assert!(text.contains(f["id"].as_str().unwrap()), "{text}");
        }
        assert!(text.contains("  fix:\n"), "{text}");
    }
}

#[test]
fn mysql80_incident() {
    let name = "mysql80-incident";
    let snap = snapshot(name);
    let v = diagnose(name);
    assert_eq!(v["server"]["flavor"], "mysql");
    assert_eq!(v["server"]["version"], "8.0.36");
    assert_eq!(
        v["connections"]["max_used_connections_time"],
        "2026-11-23 09:41:17"
    );
    assert_eq!(
        ranked(&v),
        // The most connections explained first: the leak holds 130; the idle transaction and
        // the pile-up behind it 15; the long statements 4; one idle session no leak explains;
        // the peak of 501 was at 09:41, and the refusals are counted since startup.
        expect(&[
            ("connection-leak", "warning"),
            ("idle-transactions", "critical"),
            ("lock-pileup", "critical"),
            ("long-running-queries", "warning"),
            ("idle-connections", "warning"),
            ("max-connections-low", "warning"),
            ("refused-connections", "warning"),
            // Prevention advice never outranks a cause.
            ("per-user-limit-missing", "warning"),
            ("wait-timeout-high", "warning"),
            ("memory-headroom", "info"),
        ])
    );

    // The leak: every sleeping connection of checkout-api on 10.0.4.17, oldest first.
    let leak = the(&v, "connection-leak");
    let leaked = ids_where(&snap, |s| {
        s["host"].as_str().unwrap().starts_with("10.0.4.17:")
    });
    assert_eq!(leaked.len(), 130);
    assert_eq!(sorted(sessions(leak)), leaked);
    assert_eq!(sessions(leak)[0], 61001, "the oldest first");
    assert_eq!(
        evidence(leak, "client"),
        "shop@10.0.4.17 (db shop, program checkout-api)"
    );
    // The pools of the other instances are busy and young: not a leak, not idle.
    let idle = the(&v, "idle-connections");
    assert_eq!(
        sorted(sessions(idle)),
        sorted(leaked.iter().copied().chain([88213]))
    );

    // Row locks: the idle transaction of order-worker holds up 14 checkouts; data_lock_waits
    // also lists earlier waiters as blocking later ones, which must not hide the root.
    let pile = the(&v, "lock-pileup");
    let waiters: Vec<u64> = (88300..=88313).collect();
    assert_eq!(
        sorted(sessions(pile)),
        sorted(waiters.iter().copied().chain([88213]))
    );
    assert_eq!(sessions(pile)[0], 88213);
    assert_eq!(
        evidence(pile, "blocker found"),
        "from the server's lock tables"
    );
    assert!(evidence(pile, "blocker").starts_with(
        "session 88213: shop@10.0.4.21, Sleep 6m52s, transaction open 7m11s, idle in transaction"
    ));
    assert_eq!(evidence(pile, "waiters"), "14");
    assert_eq!(evidence(pile, "tables"), "shop.inventory");
    let kills = actions_of(pile, "sql");
    assert_eq!(kills.len(), 1, "{kills:?}");
    assert!(kills[0].starts_with("KILL 88213;"));
    let trx = the(&v, "idle-transactions");
    assert_eq!(sessions(trx), vec![88213]);
    assert_eq!(evidence(trx, "sessions they block"), "14");
    assert_eq!(evidence(trx, "rows modified (rolled back if killed)"), "3");

    // Reporting queries, the prepared statement included; the row-lock waiters are not listed.
    let long = the(&v, "long-running-queries");
    assert_eq!(sessions(long), vec![7001, 7002, 7003, 7004]);
    assert!(evidence(long, "session 7003").starts_with("reporting@10.0.7.5, Execute 5m05s: "));
    assert!(
        actions_of(long, "config")[0].contains("max_execution_time = 300000"),
        "MySQL's own limit, with a production floor whatever the threshold"
    );

    // Refusals in the past, none now; the peak took the reserved slot too.
    let refused = the(&v, "refused-connections");
    assert!(sessions(refused).is_empty());
    assert_eq!(
        evidence(refused, "Max_used_connections"),
        "501 (= max_connections + 1: the reserved admin slot was used too)"
    );
    assert_eq!(
        evidence(refused, "Max_used_connections_time"),
        "2026-11-23 09:41:17"
    );
    // More slots only give the leak more room: pooling and timeouts first, with the cost.
    let low = the(&v, "max-connections-low");
    assert!(actions_of(low, "advice")[0].starts_with(
        "131 client sessions have been idle over 300s: fix pooling and timeouts first"
    ));
    assert!(
        actions_of(low, "sql")[0].starts_with("SET GLOBAL max_connections = 650;   -- +"),
        "{:?}",
        actions_of(low, "sql")
    );
    assert_eq!(
        evidence(the(&v, "per-user-limit-missing"), "account"),
        "shop"
    );
    internal_rows_ignored(&snap, &v);
    renders(name, &v);
}

/// The default RDS MySQL shape: performance_schema OFF (no Performance Insights), so the
/// processlist comes from information_schema and the lock tables are empty. The waiters are known
/// only from INNODB_TRX (`LOCK WAIT`): the pile-up is still found, its holder inferred, and both
/// the finding and the note say why holders cannot be named and how to enable it.
#[test]
fn rds_mysql_default_without_performance_schema() {
    let name = "rds-mysql-default";
    let snap = snapshot(name);
    assert_eq!(snap["variables"]["performance_schema"], "OFF");
    assert_eq!(snap["server"]["processlist_source"], "information_schema");
    let v = diagnose(name);
    let pile = the(&v, "lock-pileup");
    assert_eq!(
        sessions(pile),
        vec![7712001, 7712002, 7712003, 7712004, 7712005]
    );
    assert!(
        evidence(pile, "blocker found").starts_with("inferred: performance_schema is OFF"),
        "{}",
        pile["evidence"]
    );
    let advice = actions(pile).join("\n");
    assert!(advice.contains("DB parameter group"), "{advice}");
    assert!(!advice.contains("sys.schema_table_lock_waits"), "{advice}");
    assert!(
        actions_of(pile, "sql")[0]
            .starts_with("CALL mysql.rds_kill(7712001);   -- the likely holder"),
        "{:?}",
        actions_of(pile, "sql")
    );
}

/// A quiet MySQL 8.4 replica with its receiver, coordinator and 4 parallel workers
/// (`replica_parallel_workers` = 4 since 8.0.27): none of them is a client, none is counted as a
/// connection still logging in, and only the reporting account is judged.
#[test]
fn mysql84_replica_threads_are_never_clients() {
    let name = "mysql84-replica";
    let snap = snapshot(name);
    assert_eq!(
        ids_where(&snap, |s| s["state"]
            == "Waiting for an event from Coordinator")
        .len(),
        4
    );
    let v = diagnose(name);
    assert_eq!(
        ranked(&v),
        expect(&[
            ("per-user-limit-missing", "warning"),
            ("memory-headroom", "info"),
            ("wait-timeout-high", "info"),
        ])
    );
    let reporting = ids_where(&snap, |s| s["user"] == "reporting");
    for f in findings(&v) {
        assert!(
            sessions(f).iter().all(|id| reporting.contains(id)),
            "{}: {:?}",
            f["id"],
            sessions(f)
        );
    }
}

#[test]
fn rds_mysql_full() {
    let name = "rds-mysql-full";
    let snap = snapshot(name);
    let v = diagnose(name);
    assert_eq!(v["server"]["rds"], true);
    assert_eq!(v["state"], "critical");
    assert_eq!(
        ranked(&v),
        // The most connections explained first: the pools hold 272 slots; the spike holds only
        // its running statements and logins; the refusal finding ranks by the clients refused
        // during the sample (more than the spike holds), the capacity findings explain none.
        expect(&[
            ("pool-oversized", "critical"),
            ("refused-connections", "critical"),
            ("traffic-spike", "critical"),
            ("idle-connections", "info"),
            ("idle-transactions", "critical"),
            ("lock-pileup", "warning"),
            ("server-full", "critical"),
            ("aborted-clients", "warning"),
            ("max-connections-low", "warning"),
            // Prevention advice never outranks a cause.
            ("per-user-limit-missing", "warning"),
            ("wait-timeout-high", "info"),
            ("memory-headroom", "info"),
            ("slow-query-log-off", "info"),
        ])
    );
    let full = the(&v, "server-full");
    assert!(sessions(full).is_empty());
    // The RDS MySQL master user before 8.0.36 has no CONNECTION_ADMIN or SUPER (AWS master user
    // privileges), so no reserved slot: conncheck holds the last normal one, and the advice is
    // what works there.
    assert_eq!(evidence(full, "route"), "a normal slot");
    let advice = actions(full).join("\n");
    assert!(advice.contains("modify-db-parameter-group"), "{advice}");
    assert!(advice.contains("before 8.0.36"), "{advice}");
    assert!(!advice.contains("reconnect as an account with"), "{advice}");
    let refused = the(&v, "refused-connections");
    assert!(
        refused["summary"]
            .as_str()
            .unwrap()
            .starts_with("132 clients were refused with ERROR 1040 during the 2s sample"),
        "{}",
        refused["summary"]
    );
    let spike = the(&v, "traffic-spike");
    assert!(sessions(spike).is_empty());
    assert_eq!(evidence(spike, "connection rate (sample)"), "85.33/s");

    let in_trx = transaction_ids(&snap);
    let warm = ids_where(&snap, |s| {
        s["command"] == "Sleep"
            && s["time_s"].as_u64().unwrap() < 300
            && s["user"] != "event_scheduler"
            // RDS's own sessions are not clients (and never kill candidates).
            && s["user"] != "rdsadmin"
            && !in_trx.contains(&s["id"].as_u64().unwrap())
    });
    assert_eq!(sorted(sessions(the(&v, "pool-oversized"))), warm);
    let stale = ids_where(&snap, |s| s["user"] == "batch");
    assert_eq!(sorted(sessions(the(&v, "idle-connections"))), stale);
    let pile = the(&v, "lock-pileup");
    assert_eq!(
        sessions(pile),
        vec![7712001, 7712002, 7712003, 7712004, 7712005]
    );
    assert_eq!(sessions(the(&v, "idle-transactions")), vec![7712001]);

    // RDS: kill through the procedure, change settings in the parameter group.
    assert_eq!(
        actions_of(pile, "sql"),
        vec![
            "CALL mysql.rds_kill(7712001);   -- the root blocker: killing it rolls its transaction back and releases its locks"
        ]
    );
    for f in findings(&v) {
        for sql in actions_of(f, "sql") {
            assert!(
                !sql.starts_with("SET GLOBAL") && !sql.starts_with("KILL "),
                "{}: {sql}",
                f["id"]
            );
        }
        assert!(
            actions_of(f, "config").is_empty(),
            "{}: no my.cnf on RDS: {:?}",
            f["id"],
            actions_of(f, "config")
        );
    }
    for (id, var) in [
        ("max-connections-low", "max_connections"),
        ("per-user-limit-missing", "max_user_connections"),
        // Suggested once, by the higher-ranked cause; wait-timeout-high points there.
        ("idle-connections", "wait_timeout"),
        ("slow-query-log-off", "slow_query_log"),
        ("aborted-clients", "log_error_verbosity"),
    ] {
        assert!(
            actions_of(the(&v, id), "advice")
                .iter()
                .any(|a| a.contains("aws rds modify-db-parameter-group")
                    && a.contains(&format!("ParameterName={var},"))),
            "{id}: {:?}",
            actions_of(the(&v, id), "advice")
        );
    }
    internal_rows_ignored_rds(&snap, &v);
    renders(name, &v);
}

/// RDS has no replication rows here: the event scheduler is the internal row.
fn internal_rows_ignored_rds(snap: &Value, v: &Value) {
    let ev = ids_where(snap, |s| s["user"] == "event_scheduler");
    assert_eq!(ev.len(), 1);
    for f in findings(v) {
        assert!(!sessions(f).contains(&ev[0]), "{}", f["id"]);
    }
}

#[test]
fn aurora_idle() {
    let name = "aurora-idle";
    let snap = snapshot(name);
    let v = diagnose(name);
    assert_eq!(v["server"]["flavor"], "aurora");
    assert_eq!(v["server"]["rds"], true);
    assert_eq!(
        ranked(&v),
        expect(&[
            ("idle-connections", "critical"),
            ("per-user-limit-missing", "warning"),
            ("wait-timeout-high", "warning"),
            ("memory-headroom", "info"),
            ("slow-query-log-off", "info"),
        ])
    );
    // 540 Lambda containers on hundreds of hosts, each idle for minutes to hours: idle slots,
    // but no single client leaking.
    let stale = ids_where(&snap, |s| {
        s["user"] == "lambda_app" && s["command"] == "Sleep" && s["time_s"].as_u64().unwrap() >= 300
    });
    assert_eq!(stale.len(), 540);
    let idle = the(&v, "idle-connections");
    assert_eq!(sorted(sessions(idle)), stale);
    assert_eq!(
        evidence(idle, "sessions idle ≥ 300s"),
        "540 of 1000 (54.0%)"
    );
    assert_eq!(sorted(sessions(the(&v, "wait-timeout-high"))), stale);
    for f in findings(&v) {
        assert!(actions_of(f, "config").is_empty(), "{}", f["id"]);
        assert!(
            actions_of(f, "sql")
                .iter()
                .all(|s| !s.starts_with("SET GLOBAL")),
            "{}",
            f["id"]
        );
    }
    assert!(
        actions_of(idle, "advice")
            .iter()
            .any(|a| a.contains("ParameterName=wait_timeout,ParameterValue=1800")),
        "1.5 × the longest idle age under 30 min, capped at 30 min: {:?}",
        actions_of(idle, "advice")
    );
    internal_rows_ignored_rds(&snap, &v);
    renders(name, &v);
}

#[test]
fn mariadb_metadata_lock_pileup_known_only_from_states() {
    let name = "mariadb-mdl-pileup";
    let snap = snapshot(name);
    assert!(
        snap["lock_waits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["blocking_id"].is_null() && w["kind"] == "metadata"),
        "MariaDB names no metadata-lock holder"
    );
    let v = diagnose(name);
    assert_eq!(v["server"]["flavor"], "mariadb");
    assert_eq!(
        ranked(&v),
        expect(&[
            ("idle-transactions", "critical"),
            ("lock-pileup", "critical"),
            // No traffic-spike: Threads_running counts the 38 sessions stuck on the metadata
            // lock, but they are a pile-up, not traffic.
            ("idle-connections", "info"),
        ])
    );
    let pile = the(&v, "lock-pileup");
    let queued = ids_where(&snap, |s| s["state"] == "Waiting for table metadata lock");
    assert_eq!(queued.len(), 38);
    assert_eq!(
        sorted(sessions(pile)),
        sorted(queued.iter().copied().chain([51230]))
    );
    assert_eq!(sessions(pile)[0], 51230);
    assert!(evidence(pile, "blocker").starts_with(
        "session 51230: app@10.2.0.11, Sleep 30m34s, transaction open 30m40s, idle in transaction"
    ));
    assert!(evidence(pile, "blocker found").starts_with("inferred"));
    assert_eq!(
        evidence(pile, "DDL at the head of the queue"),
        "session 51877, waiting 6m52s: ALTER TABLE contacts ADD COLUMN last_seen_at DATETIME NULL"
    );
    assert_eq!(evidence(pile, "waiters"), "38");
    assert_eq!(evidence(pile, "waiting for"), "metadata locks 38");
    assert_eq!(actions_of(pile, "sql").len(), 1);
    assert!(actions_of(pile, "sql")[0].starts_with("KILL 51230;"));
    assert!(
        actions_of(pile, "advice")
            .iter()
            .any(|a| a.contains("INSTALL SONAME 'metadata_lock_info'"))
    );
    let trx = the(&v, "idle-transactions");
    assert_eq!(sessions(trx), vec![51230]);
    assert_eq!(evidence(trx, "sessions they block"), "38");
    assert!(
        actions_of(trx, "config")[0].starts_with("[mysqld]\nidle_transaction_timeout = 300"),
        "{:?}",
        actions_of(trx, "config")
    );
    assert_eq!(sessions(the(&v, "idle-connections")), vec![51230]);
    // The waiters are not long queries: killing them frees nothing.
    assert!(
        findings(&v)
            .iter()
            .all(|f| f["id"] != "long-running-queries")
    );
    internal_rows_ignored(&snap, &v);
    renders(name, &v);
}
