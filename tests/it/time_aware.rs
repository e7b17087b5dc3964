//! Time in the judgement, live on private MariaDB servers: a killed big transaction rolling back
//! is `rollback-in-progress` (rows left, rate, "do not restart, do not kill again") and never gets
//! a KILL or "commit promptly"; seconds after a restart, warm pools are not sized, and a peak
//! since startup the connections are not near now is history, not the verdict's cause.

use crate::support;

use std::time::Duration;

use mysql::prelude::Queryable;
use support::findings::*;
use support::{Server, ServerOpts};

/// How long to wait for a server state before failing.
const WAIT: Duration = Duration::from_secs(60);

/// Rows INNODB_TRX lists in `ROLLING BACK` (MariaDB refreshes that cache at most every 100 ms).
fn rolling_back(c: &mut mysql::Conn) -> u64 {
    std::thread::sleep(Duration::from_millis(150));
    c.query_first::<u64, _>(
        "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'ROLLING BACK'",
    )
    .unwrap()
    .unwrap_or(0)
}

fn threads_connected(c: &mut mysql::Conn) -> u64 {
    let row: Option<(String, u64)> = c
        .query_first("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
        .unwrap();
    row.map_or(0, |r| r.1)
}

#[test]
fn a_killed_big_write_rolling_back_is_waited_for_not_killed_again() {
    let s = Server::start(ServerOpts {
        extra_args: vec!["--innodb-buffer-pool-size=64M".into()],
        ..ServerOpts::default()
    });
    s.sql("CREATE DATABASE shop");
    s.sql(
        "CREATE TABLE shop.big (id INT AUTO_INCREMENT PRIMARY KEY, a INT, b INT, pad CHAR(60), \
         KEY(a), KEY(b)) ENGINE=InnoDB",
    );
    s.sql(
        "INSERT INTO shop.big (a, b, pad) SELECT seq % 1000, seq % 777, 'x' FROM shop.seq_1_to_400000",
    );
    // A writer changes every row (and both secondary indexes) in one transaction, then idles
    // with it open; KILL makes InnoDB undo 400,000 rows.
    let mut writer = s.connect("root", "").unwrap();
    let id = u64::from(writer.connection_id());
    writer.query_drop("BEGIN").unwrap();
    writer
        .query_drop("UPDATE shop.big SET a = a + 1, b = b + 1, pad = 'y'")
        .unwrap();
    let mut root = s.root();
    root.query_drop(format!("KILL {id}")).unwrap();
    s.wait_until("the killed transaction rolls back", WAIT, |c| {
        rolling_back(c) > 0
    });
    let v = s.diagnose("root", "", &["--sample", "1s"]);
    let still = rolling_back(&mut root);
    let f = all(&v, "rollback-in-progress");
    if f.is_empty() {
        // Only when the undo finished before conncheck read INNODB_TRX.
        assert_eq!(still, 0, "rolling back, yet no finding: {v:#}");
        return;
    }
    let f = f[0];
    assert_eq!(sessions(f), vec![id]);
    let left: u64 = evidence(f, "rows still to undo").parse().unwrap();
    assert!(left < 400_000, "the sample saw rows undone: {f:#}");
    let progress = evidence(f, &format!("session {id}"));
    assert!(
        progress.contains(" rows/s over the 1s sample: about ")
            || progress.ends_with("the rollback finished during the 1s sample"),
        "{progress}"
    );
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("do not restart the server and do not kill it again"),
        "{f:#}"
    );
    // No finding offers to kill it or to "commit promptly".
    for other in findings(&v) {
        for a in actions(other) {
            assert!(!a.contains(&format!("KILL {id}")), "{a}");
        }
    }
    assert!(!actions(f).iter().any(|a| a.contains("promptly")));
    // The verdict relief does not name it either.
    let relief = v["verdict"]["relief"]["command"].as_str().unwrap_or("");
    assert!(!relief.contains(&id.to_string()), "{relief}");
}

#[test]
fn seconds_after_a_restart_pools_are_not_sized_and_the_peak_is_history() {
    let mut s = Server::start(ServerOpts {
        max_connections: 30,
        ..ServerOpts::default()
    });
    // A peak before the restart does not survive it; reach the limit after: 29 pooled
    // connections and conncheck's make 30 of 30.
    s.restart();
    s.create_user("app", "apppw", "USAGE");
    let pool = s.idle_connections("root", "", 29);
    s.wait_until("the pool is connected", WAIT, |c| {
        threads_connected(c) >= 29
    });
    let v = s.diagnose("root", "", &["--sample", "0s"]);
    let uptime = v["server"]["uptime_s"].as_u64().unwrap();
    assert!(uptime < 300, "just restarted: {uptime}");
    let p = the(&v, "pool-oversized");
    assert_eq!(
        (&p["severity"], &p["slots"]),
        // Info, no sizes; the 29 connections still count as the slots they hold.
        (&"info".into(), &29.into()),
        "{p:#}"
    );
    assert!(
        p["title"].as_str().unwrap().contains("too early to size"),
        "{p:#}"
    );
    assert!(
        !p["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"].as_str().unwrap().starts_with("pool ")),
        "{p:#}"
    );
    // Every slot taken, the admin's too: a client is refused at accept time
    // (Connection_errors_max_connections).
    let mut pool = pool;
    pool.push(s.connect("root", "").unwrap());
    pool.push(s.connect("root", "").unwrap());
    assert!(s.connect("app", "apppw").is_err(), "the server is full");
    // The pool goes: 1 connected now, the peak of 31 is history, not the cause, and the
    // refusals counted since startup point to watch and record.
    drop(pool);
    s.wait_until("the pool is gone", WAIT, |c| threads_connected(c) <= 2);
    let v = s.diagnose("root", "", &["--sample", "0s"]);
    let low = all(&v, "max-connections-low");
    assert!(!low.is_empty(), "the peak reached the limit: {v:#}");
    for f in &low {
        assert_eq!(f["slots"], 0, "{f:#}");
        assert!(
            evidence(f, "peak reached").starts_with("within the last "),
            "{f:#}"
        );
    }
    assert_ne!(
        v["verdict"]["cause"], "max-connections-low",
        "{:#}",
        v["verdict"]
    );
    assert!(
        v["connections"]["connection_errors_max_connections"]
            .as_u64()
            .unwrap()
            > 0
    );
    let summary = v["verdict"]["summary"].as_str().unwrap();
    assert!(
        summary.contains("nothing holds the slots now: run `conncheck -h 127.0.0.1 -P ")
            && summary.contains(" watch` ")
            && summary.contains(" record --dir incidents --trigger 'refused > 0'`"),
        "{summary}"
    );
}
