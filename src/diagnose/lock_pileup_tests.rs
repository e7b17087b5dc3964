//! Unit tests of `diagnose::lock_pileup` (kept beside it, out of the way of its code).

use super::*;
use crate::diagnose::fixtures::ev;
use crate::diagnose::fixtures::{self, lock_wait, session, trx};
use crate::diagnose::{ActionKind, Severity};
use crate::snapshot::{LockWait, Snapshot};

const MDL: &str = "Waiting for table metadata lock";

fn check_default(s: &Snapshot) -> Vec<Finding> {
    check(&Analysis::new(s), &Thresholds::default())
}

#[test]
fn healthy_servers_have_no_pileup() {
    assert!(check_default(&fixtures::mariadb()).is_empty());
    assert!(check_default(&fixtures::mysql8()).is_empty());
}

/// MariaDB 10.11: session 24 sleeps in a transaction that updated a row and read table t; 25
/// waits for the row (state `Updating`, trx LOCK WAIT, holder from INNODB_LOCK_WAITS); 26 is
/// an ALTER waiting for the metadata lock; 27..=29 are SELECTs queued behind the ALTER.
fn mariadb_mdl() -> Snapshot {
    let mut s = fixtures::mariadb();
    fixtures::with_sessions(
        &mut s,
        vec![
            session(24, "root", "localhost", "Sleep", 2, "", None),
            session(
                25,
                "root",
                "localhost",
                "Query",
                40,
                "Updating",
                Some("UPDATE t SET v=v+10 WHERE id=1"),
            ),
            session(
                26,
                "root",
                "localhost",
                "Query",
                30,
                MDL,
                Some("ALTER TABLE t ADD COLUMN w INT"),
            ),
            session(
                27,
                "app",
                "10.0.0.7",
                "Query",
                20,
                MDL,
                Some("SELECT * FROM t WHERE id = 7"),
            ),
            session(
                28,
                "app",
                "10.0.0.7",
                "Query",
                12,
                MDL,
                Some("SELECT * FROM t WHERE id = 8"),
            ),
            session(
                29,
                "app",
                "10.0.0.7",
                "Query",
                3,
                MDL,
                Some("SELECT * FROM t WHERE id = 9"),
            ),
            session(30, "app", "10.0.0.7", "Sleep", 1, "", None),
            session(
                31,
                "app",
                "10.0.0.7",
                "Query",
                1,
                "executing",
                Some("SELECT 1"),
            ),
        ],
    );
    s.transactions = vec![
        trx(24, "RUNNING", 120, 1, None),
        trx(
            25,
            "LOCK WAIT",
            40,
            0,
            Some("UPDATE t SET v=v+10 WHERE id=1"),
        ),
    ];
    // INNODB_LOCK_WAITS names the row-lock holder; the MDL waits come from the states.
    s.lock_waits = vec![lock_wait(LockKind::Row, 25, Some(24), 40)];
    s
}

#[test]
fn mariadb_metadata_pileup_behind_an_idle_transaction() {
    let s = mariadb_mdl();
    let f = check_default(&s);
    assert_eq!(f.len(), 1, "{f:?}");
    let f = &f[0];
    assert_eq!(f.id, FindingId::LockPileup);
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.sessions, vec![24, 25, 26, 27, 28, 29]);
    assert_eq!(f.slots, 6);
    assert_eq!(
        ev(f, "blocker"),
        "session 24: root@localhost, Sleep 2s, transaction open 2m00s, idle in transaction"
    );
    assert!(ev(f, "blocker found").starts_with("inferred"));
    assert_eq!(
        ev(f, "DDL at the head of the queue"),
        "session 26, waiting 30s: ALTER TABLE t ADD COLUMN w INT"
    );
    assert_eq!(ev(f, "waiters"), "5");
    assert_eq!(ev(f, "longest wait"), "40s");
    assert_eq!(ev(f, "waiting for"), "row locks 1, metadata locks 4");
    assert_eq!(ev(f, "tables"), "shop.t");
    assert!(f.summary.contains("held by session 24"), "{}", f.summary);
    assert!(f.summary.contains(", inferred;"), "{}", f.summary);
    let kills: Vec<&str> = f
        .actions
        .iter()
        .filter(|a| a.kind == ActionKind::Sql)
        .map(|a| a.text.split("   --").next().unwrap())
        .collect();
    assert_eq!(kills, vec!["KILL 24;"]);
    assert!(
        f.actions
            .iter()
            .any(|a| a.text.contains("metadata_lock_info"))
    );
    assert!(f.actions.iter().any(|a| a.text.contains("gh-ost")));
}

#[test]
fn mariadb_row_lock_chain_follows_to_the_root() {
    // 26 waits for 25, which waits for 24 (running a long statement in its transaction).
    let mut s = fixtures::mariadb();
    fixtures::with_sessions(
        &mut s,
        vec![
            session(
                24,
                "root",
                "localhost",
                "Query",
                50,
                "User sleep",
                Some("SELECT SLEEP(60)"),
            ),
            session(
                25,
                "app",
                "10.0.0.7",
                "Query",
                12,
                "Updating",
                Some("UPDATE t SET v=1 WHERE id=1"),
            ),
            session(
                26,
                "app",
                "10.0.0.7",
                "Query",
                11,
                "Updating",
                Some("UPDATE t SET v=2 WHERE id=2"),
            ),
        ],
    );
    s.transactions = vec![
        trx(24, "RUNNING", 51, 1, Some("SELECT SLEEP(60)")),
        trx(25, "LOCK WAIT", 13, 1, None),
        trx(26, "LOCK WAIT", 11, 0, None),
    ];
    s.lock_waits = vec![
        lock_wait(LockKind::Row, 25, Some(24), 12),
        lock_wait(LockKind::Row, 26, Some(25), 11),
    ];
    let f = check_default(&s);
    assert_eq!(f.len(), 1);
    let f = &f[0];
    assert_eq!(f.sessions, vec![24, 25, 26]);
    assert_eq!(ev(f, "blocker found"), "from the server's lock tables");
    assert_eq!(
        ev(f, "blocker"),
        "session 24: root@localhost, Query 50s, transaction open 51s, SELECT SLEEP(60)"
    );
    assert!(
        !f.evidence
            .iter()
            .any(|e| e.name == "DDL at the head of the queue")
    );
    assert!(f.actions.iter().any(|a| a.text.starts_with("KILL 24;")));
    assert!(!f.actions.iter().any(|a| a.text.starts_with("KILL 25;")));
}

#[test]
fn size_and_wait_boundaries() {
    let mut s = fixtures::mysql8();
    let waiter = |id, t| {
        session(
            id,
            "app",
            "10.0.0.7",
            "Query",
            t,
            "executing",
            Some("UPDATE t SET v=1"),
        )
    };
    fixtures::with_sessions(
        &mut s,
        vec![
            session(1, "app", "10.0.0.7", "Sleep", 100, "", None),
            waiter(2, 9),
            waiter(3, 9),
            waiter(4, 9),
        ],
    );
    s.transactions = vec![trx(1, "RUNNING", 200, 3, None)];
    // Two waiters for 9 s: ordinary contention.
    s.lock_waits = vec![
        lock_wait(LockKind::Row, 2, Some(1), 9),
        lock_wait(LockKind::Row, 3, Some(1), 9),
    ];
    assert!(check_default(&s).is_empty());
    // Two waiters, one for 10 s: a pile-up.
    s.lock_waits[1].wait_s = 10;
    assert_eq!(check_default(&s).len(), 1);
    // Three waiters, short waits: a pile-up.
    s.lock_waits[1].wait_s = 9;
    s.lock_waits.push(lock_wait(LockKind::Row, 4, Some(1), 1));
    let f = &check_default(&s)[0];
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.sessions, vec![1, 2, 3, 4]);
    // One waiter is never a pile-up, however long.
    s.lock_waits = vec![lock_wait(LockKind::Row, 2, Some(1), 500)];
    assert!(check_default(&s).is_empty());
}

#[test]
fn many_waiters_are_critical() {
    let mut s = fixtures::mysql8();
    let mut v = vec![session(1, "app", "10.0.0.7", "Sleep", 100, "", None)];
    v.extend((2..=11).map(|i| {
        session(
            i,
            "app",
            "10.0.0.7",
            "Query",
            5,
            "executing",
            Some("UPDATE t SET v=1"),
        )
    }));
    fixtures::with_sessions(&mut s, v);
    s.transactions = vec![trx(1, "RUNNING", 200, 3, None)];
    s.lock_waits = (2..=10)
        .map(|i| lock_wait(LockKind::Row, i, Some(1), 5))
        .collect();
    assert_eq!(check_default(&s)[0].severity, Severity::Warning);
    s.lock_waits.push(lock_wait(LockKind::Row, 11, Some(1), 5));
    let f = &check_default(&s)[0];
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(ev(f, "waiters"), "10");
}

#[test]
fn two_independent_pileups_give_two_findings() {
    let mut s = fixtures::mysql8();
    let q = |id| {
        session(
            id,
            "app",
            "10.0.0.7",
            "Query",
            15,
            "executing",
            Some("UPDATE t SET v=1"),
        )
    };
    fixtures::with_sessions(
        &mut s,
        vec![
            session(1, "app", "10.0.0.7", "Sleep", 100, "", None),
            q(2),
            q(3),
            q(4),
            session(5, "batch", "10.0.0.9", "Sleep", 50, "", None),
            q(6),
            q(7),
        ],
    );
    s.transactions = vec![
        trx(1, "RUNNING", 200, 3, None),
        trx(5, "RUNNING", 90, 8, None),
    ];
    s.lock_waits = vec![
        lock_wait(LockKind::Row, 2, Some(1), 15),
        lock_wait(LockKind::Row, 3, Some(1), 15),
        lock_wait(LockKind::Row, 4, Some(1), 15),
        lock_wait(LockKind::Row, 6, Some(5), 15),
        lock_wait(LockKind::Row, 7, Some(5), 15),
    ];
    let f = check_default(&s);
    assert_eq!(f.len(), 2);
    assert!(f.iter().all(|f| f.id == FindingId::LockPileup));
    assert_eq!(f[0].sessions, vec![1, 2, 3, 4]);
    assert_eq!(f[1].sessions, vec![5, 6, 7]);
    assert!(f[1].actions.iter().any(|a| a.text.starts_with("KILL 5;")));
}

#[test]
fn mysql8_metadata_locks_name_their_holders() {
    // MySQL 8 lists MDL waits with holders (performance_schema.metadata_locks): the SELECTs
    // wait for the ALTER, the ALTER for the idle transaction. A waiter listed once per holder
    // (sys.innodb_lock_waits style) is counted once.
    let mut s = fixtures::mysql8();
    fixtures::with_sessions(
        &mut s,
        vec![
            session(9, "app", "10.0.0.7", "Sleep", 300, "", None),
            session(
                10,
                "dba",
                "10.0.0.5",
                "Query",
                60,
                MDL,
                Some("alter table orders add index (created_at)"),
            ),
            session(
                11,
                "app",
                "10.0.0.7",
                "Query",
                50,
                MDL,
                Some("SELECT * FROM orders"),
            ),
            session(
                12,
                "app",
                "10.0.0.7",
                "Execute",
                40,
                MDL,
                Some("SELECT * FROM orders"),
            ),
        ],
    );
    s.transactions = vec![trx(9, "RUNNING", 400, 0, None)];
    let mdl = |w, b, t| LockWait {
        object: Some("shop.orders".into()),
        ..lock_wait(LockKind::Metadata, w, Some(b), t)
    };
    s.lock_waits = vec![
        mdl(10, 9, 60),
        mdl(11, 10, 50),
        mdl(11, 9, 50),
        mdl(12, 10, 40),
    ];
    let f = check_default(&s);
    assert_eq!(f.len(), 1);
    let f = &f[0];
    assert_eq!(f.sessions, vec![9, 10, 11, 12]);
    assert_eq!(ev(f, "blocker found"), "from the server's lock tables");
    assert!(
        ev(f, "blocker")
            .starts_with("session 9: app@10.0.0.7, Sleep 5m00s, transaction open 6m40s")
    );
    assert_eq!(
        ev(f, "DDL at the head of the queue"),
        "session 10, waiting 1m00s: alter table orders add index (created_at)"
    );
    assert_eq!(ev(f, "waiters"), "3");
    assert_eq!(ev(f, "waiting for"), "metadata locks 3");
    assert_eq!(ev(f, "tables"), "shop.orders");
    assert!(
        !f.actions
            .iter()
            .any(|a| a.text.contains("sys.schema_table_lock_waits"))
    );
}

#[test]
fn without_a_candidate_the_holder_is_unknown() {
    // FLUSH/LOCK TABLES from a session that is gone: nobody is older than the waits.
    let mut s = fixtures::mysql8();
    fixtures::with_sessions(
        &mut s,
        (1..=3)
            .map(|i| {
                session(
                    i,
                    "app",
                    "10.0.0.7",
                    "Query",
                    20,
                    MDL,
                    Some("SELECT * FROM t"),
                )
            })
            .chain([session(
                4,
                "app",
                "10.0.0.7",
                "Query",
                2,
                "executing",
                Some("SELECT 1"),
            )])
            .collect(),
    );
    let f = &check_default(&s)[0];
    assert_eq!(ev(f, "blocker"), "unknown");
    assert_eq!(f.sessions, vec![1, 2, 3]);
    assert!(!f.actions.iter().any(|a| a.kind == ActionKind::Sql));
    assert!(
        f.actions
            .iter()
            .any(|a| a.text.contains("sys.schema_table_lock_waits"))
    );
}

#[test]
fn without_an_open_transaction_the_longest_statement_is_the_likely_holder() {
    let mut s = fixtures::mariadb();
    fixtures::with_sessions(
        &mut s,
        vec![
            session(
                5,
                "etl",
                "10.0.0.9",
                "Query",
                900,
                "Sending data",
                Some("SELECT * FROM t INTO OUTFILE '/tmp/t'"),
            ),
            session(
                6,
                "dba",
                "localhost",
                "Query",
                100,
                MDL,
                Some("TRUNCATE TABLE t"),
            ),
            session(
                7,
                "app",
                "10.0.0.7",
                "Query",
                90,
                MDL,
                Some("INSERT INTO t VALUES (1)"),
            ),
            session(
                8,
                "app",
                "10.0.0.7",
                "Query",
                50,
                "executing",
                Some("SELECT 2"),
            ),
        ],
    );
    let f = &check_default(&s)[0];
    assert_eq!(f.sessions, vec![5, 6, 7]);
    assert!(ev(f, "blocker").starts_with("session 5: etl@10.0.0.9, Query 15m00s"));
    // A statement with no open transaction: KILL QUERY releases its locks, the connection stays.
    assert!(
        f.actions
            .iter()
            .any(|a| a.text.starts_with("KILL QUERY 5;")),
        "{:?}",
        f.actions
    );
    // With an open transaction it is the connection that must end (and roll back).
    s.transactions.push(trx(5, "RUNNING", 900, 3, None));
    let f = &check_default(&s)[0];
    assert!(f.actions.iter().any(|a| a.text.starts_with("KILL 5;")));
}

#[test]
fn only_clients_wait_and_rds_kills_by_procedure() {
    let mut s = mariadb_mdl();
    // A killed waiter does not count.
    s.sessions.iter_mut().find(|x| x.id == 29).unwrap().command = "Killed".into();
    s.server.rds = true;
    let f = &check_default(&s)[0];
    assert_eq!(f.sessions, vec![24, 25, 26, 27, 28]);
    assert!(
        f.actions
            .iter()
            .any(|a| a.text.starts_with("CALL mysql.rds_kill(24);"))
    );
}

/// Row-lock waits whose holder InnoDB's (cut) lists do not name stay unattributed: the
/// waiters that INNODB_TRX no longer lists look like running statements and must not be
/// taken for the holder.
#[test]
fn row_waits_without_a_holder_are_not_attributed_to_a_statement() {
    let mut s = fixtures::mariadb();
    let update = |id, t| {
        session(
            id,
            "app",
            "10.0.0.7",
            "Query",
            t,
            "Updating",
            Some("UPDATE t SET v=1 WHERE id=1"),
        )
    };
    fixtures::with_sessions(
        &mut s,
        vec![
            session(1, "app", "10.0.0.7", "Sleep", 100, "", None),
            update(2, 40),
            update(3, 39),
            update(4, 38),
            update(5, 90), // a waiter INNODB_TRX did not list
        ],
    );
    s.transactions = (2..=4).map(|i| trx(i, "LOCK WAIT", 40, 0, None)).collect();
    s.lock_waits = (2..=4)
        .map(|i| lock_wait(LockKind::Row, i, None, 40))
        .collect();
    let f = &check_default(&s)[0];
    assert_eq!(ev(f, "blocker"), "unknown");
    assert!(
        ev(f, "blocker found").contains("InnoDB's lock tables did not list the holder"),
        "{}",
        ev(f, "blocker found")
    );
    assert_eq!(f.sessions, vec![2, 3, 4]);
    assert!(!f.actions.iter().any(|a| a.kind == ActionKind::Sql));
    assert!(
        !f.actions
            .iter()
            .any(|a| a.text.contains("metadata_lock_info"))
    );
}

#[test]
fn ddl_statements() {
    assert!(is_ddl("ALTER TABLE t ADD COLUMN w INT"));
    assert!(is_ddl("  create unique index i on t (a)"));
    assert!(is_ddl("CREATE INDEX i ON t (a)"));
    assert!(is_ddl("drop table t"));
    assert!(is_ddl("RENAME TABLE a TO b"));
    assert!(is_ddl("truncate t"));
    assert!(is_ddl("OPTIMIZE TABLE t"));
    assert!(!is_ddl("CREATE TABLE t (a int)"));
    assert!(!is_ddl("SELECT * FROM alter_log"));
    assert!(!is_ddl(""));
}
