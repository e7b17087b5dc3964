//! `idle-transactions`: client sessions asleep inside an open transaction older than
//! `--trx-threshold`: the forgotten `BEGIN; UPDATE …` whose client never commits.
//!
//! The session shows `Sleep` in the processlist while INNODB_TRX still lists its transaction
//! (`trx_state RUNNING`, `trx_query NULL`: see docs/server-facts.md). It keeps its
//! slot, its row locks and its metadata locks until the client commits or the connection ends,
//! so the sessions queueing behind it hold slots too. Any such transaction older than the
//! threshold (default 60 s) is a warning; critical when it blocks other sessions or when they
//! hold half the slots (the shared scale of [`super::common`]). Who blocks whom is lock-pileup's
//! attribution ([`Analysis::blocked_by`], the analysis' wait graph): lock waits naming it as the holder, and on
//! MariaDB, which does not show metadata-lock holders, the waits it is the likely holder of (an
//! idle transaction that read a table blocks the `ALTER TABLE` and every query queued behind it).
//! Killing the session rolls its transaction back.

use crate::fast_hash::HashMap;

use super::analysis::Analysis;
use super::common::{ids, pct, plural, severity_for_slots};
use super::globals::persistent_config;
use super::rollback_in_progress::is_rolling_back;
use super::timeouts::IDLE_TRX_TIMEOUT_S;
use super::{Action, Finding, FindingId, Severity, Thresholds, dur};
use crate::units::secs;

pub fn check(a: &Analysis<'_>, th: &Thresholds) -> Vec<Finding> {
    let snap = a.snap;
    let idle_trx = a.oldest_first(
        a.clients()
            .filter(|s| {
                // One rolling back is ending already: rollback-in-progress says to wait.
                s.is_sleeping()
                    && a.transaction_of(s.id)
                        .is_some_and(|t| t.age_s >= th.trx.as_secs() && !is_rolling_back(t))
            })
            .collect(),
    );
    if idle_trx.is_empty() {
        return vec![];
    }
    let max = snap.max_connections();
    let n = idle_trx.len() as u64;
    // Distinct sessions each one holds up, and how many of those only by inference (MariaDB does
    // not name metadata-lock holders): the same attribution lock-pileup makes.
    let blocked: HashMap<u64, (usize, usize)> = idle_trx
        .iter()
        .map(|s| {
            let b = a.blocked_by(s.id);
            let inferred = b.iter().filter(|(_, inferred)| *inferred).count();
            (s.id, (b.len(), inferred))
        })
        .collect();
    let blocks = |id: u64| match blocked[&id] {
        (n, 0) => n.to_string(),
        (n, i) => format!("{n} ({i} inferred: likely holder of the locks they wait for)"),
    };
    let total_blocked: usize = blocked.values().map(|b| b.0).sum();
    let rows = idle_trx
        .iter()
        .filter_map(|s| a.transaction_of(s.id))
        .map(|t| t.rows_modified)
        .fold(0u64, u64::saturating_add);
    let oldest = a.transaction_of(idle_trx[0].id).map_or(0, |t| t.age_s);
    let threshold = dur(th.trx);
    let severity = if total_blocked > 0 {
        Severity::Critical
    } else {
        severity_for_slots(n, max).max(Severity::Warning)
    };
    let blocking = if total_blocked > 0 {
        format!(
            ", blocking {}",
            plural(total_blocked as u64, "other session")
        )
    } else {
        String::new()
    };
    let mut f = Finding::new(
        FindingId::IdleTransactions,
        severity,
        format!(
            "{} idle inside a transaction open for {threshold} or more",
            plural(n, "session")
        ),
        format!(
            "{} ({} of max_connections {max}) holding a transaction open for {threshold} or more, the oldest for {}{blocking}.",
            plural(n, "sleeping session"),
            pct(n, max),
            secs(oldest),
        ),
    )
    .evidence("idle transactions", n)
    .evidence("sessions they block", total_blocked)
    .evidence("rows modified (rolled back if killed)", rows);
    for s in &idle_trx {
        let Some(t) = a.transaction_of(s.id) else {
            continue;
        };
        f = f.evidence(
            &format!("session {}", s.id),
            format!(
                "{}, transaction open {}, idle {}, {} modified, blocks {}",
                s.account(),
                secs(t.age_s),
                secs(s.time_s),
                plural(t.rows_modified, "row"),
                blocks(s.id),
            ),
        );
    }
    f = f
        .sessions(ids(&idle_trx))
        // Credited with every session they hold up, through chains too (the verdict weighs
        // findings by the connections they explain).
        .slots(n + a.held_up_by(idle_trx.iter().map(|s| s.id)) as u64)
        .action(Action::command(if rows > 0 {
            format!(
                "conncheck kill-idle --older-than 0s --trx-older-than {threshold}   # rolls back their transactions ({}); --dry-run first", plural(rows, "modified row")
            )
        } else {
            // Only a transaction that modified rows has anything to roll back.
            format!(
                "conncheck kill-idle --older-than 0s --trx-older-than {threshold}   # ends their transactions (no modified rows: nothing to roll back); --dry-run first"
            )
        }))
        .action(Action::advice(
            "commit or roll back promptly: never keep a transaction open across user think time, remote calls or sleeps; keep autocommit on outside explicit transactions and close transactions in finally / try-with-resources",
        ));
    f = if let Some(variable) = snap.dialect().idle_transaction_timeout() {
        // https://mariadb.com/kb/en/server-system-variables/#idle_transaction_timeout (10.3+).
        f.action(persistent_config(
            snap,
            &[(
                variable,
                &IDLE_TRX_TIMEOUT_S.to_string(),
                "MariaDB 10.3+: close sessions idle that long inside a transaction (also idle_write_transaction_timeout)",
            )],
        ))
    } else {
        f.action(Action::advice(format!(
            "MySQL has no idle-transaction timeout: wait_timeout ends them only after {}; run `conncheck kill-idle --older-than 0s --trx-older-than {threshold} --repeat 30s --for 1h` (or pt-kill) until the application is fixed",
            snap.var_u64("wait_timeout").map_or("wait_timeout".into(), secs)
        )))
    };
    vec![f]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::ActionKind;
    use crate::diagnose::fixtures::ev;
    use crate::diagnose::fixtures::{self, lock_wait, session, trx};
    use crate::snapshot::{LockKind, Session};
    use std::time::Duration;

    fn sleeping(id: u64, idle_s: u64) -> Session {
        session(id, "app", "10.0.0.7", "Sleep", idle_s, "", None)
    }

    #[test]
    fn healthy_servers_have_no_idle_transactions() {
        let th = Thresholds::default();
        assert!(check(&Analysis::new(&fixtures::mariadb()), &th).is_empty());
        assert!(check(&Analysis::new(&fixtures::mysql8()), &th).is_empty());
    }

    #[test]
    fn forgotten_transaction_is_a_warning_and_the_threshold_is_inclusive() {
        // MariaDB live shape: Sleep, State '', INNODB_TRX RUNNING with trx_query NULL.
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(
            &mut s,
            vec![
                sleeping(64, 50),
                sleeping(65, 40),
                sleeping(66, 3000), // no transaction: idle-connections' business
                session(
                    67,
                    "app",
                    "10.0.0.7",
                    "Query",
                    90,
                    "Updating",
                    Some("UPDATE t SET v=1"),
                ),
            ],
        );
        s.transactions = vec![
            trx(64, "RUNNING", 60, 1, None),
            trx(65, "RUNNING", 59, 4, None),
            trx(67, "RUNNING", 90, 7, Some("UPDATE t SET v=1")),
        ];
        let f = check(&Analysis::new(&s), &Thresholds::default());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].id, FindingId::IdleTransactions);
        assert_eq!(f[0].severity, Severity::Warning);
        assert_eq!(f[0].sessions, vec![64]);
        assert_eq!(f[0].slots, 1);
        assert_eq!(
            ev(&f[0], "session 64"),
            "app@10.0.0.7, transaction open 1m00s, idle 50s, 1 row modified, blocks 0"
        );
        assert!(f[0].actions[0].text.starts_with(
            "conncheck kill-idle --older-than 0s --trx-older-than 60s   # rolls back their transactions (1 modified row)"
        ));
        // A read-only transaction has nothing to roll back: the note does not say it will.
        s.transactions[0].rows_modified = 0;
        let f = check(&Analysis::new(&s), &Thresholds::default());
        assert!(
            f[0].actions[0]
                .text
                .contains("# ends their transactions (no modified rows: nothing to roll back)"),
            "{}",
            f[0].actions[0].text
        );
        let config = f[0]
            .actions
            .iter()
            .find(|a| a.kind == ActionKind::Config)
            .unwrap();
        assert!(config.text.contains("idle_transaction_timeout = 300"));
    }

    #[test]
    fn blocking_others_is_critical() {
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(
            &mut s,
            vec![
                sleeping(24, 100),
                session(
                    25,
                    "root",
                    "localhost",
                    "Query",
                    20,
                    "Updating",
                    Some("UPDATE t SET v=v+10 WHERE id=1"),
                ),
                session(
                    26,
                    "root",
                    "localhost",
                    "Query",
                    15,
                    "Updating",
                    Some("UPDATE t SET v=v+1 WHERE id=1"),
                ),
                sleeping(40, 500),
            ],
        );
        s.transactions = vec![
            trx(24, "RUNNING", 120, 1, None),
            trx(
                25,
                "LOCK WAIT",
                20,
                0,
                Some("UPDATE t SET v=v+10 WHERE id=1"),
            ),
            trx(
                26,
                "LOCK WAIT",
                15,
                0,
                Some("UPDATE t SET v=v+1 WHERE id=1"),
            ),
            trx(40, "RUNNING", 600, 12, None),
        ];
        // 26 waits for both 24 and 25 (listed once per holder, as sys.innodb_lock_waits does).
        s.lock_waits = vec![
            lock_wait(LockKind::Row, 25, Some(24), 20),
            lock_wait(LockKind::Row, 26, Some(24), 15),
            lock_wait(LockKind::Row, 26, Some(25), 15),
        ];
        let f = &check(&Analysis::new(&s), &Thresholds::default())[0];
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.sessions, vec![40, 24]);
        assert_eq!(ev(f, "sessions they block"), "2");
        assert_eq!(ev(f, "rows modified (rolled back if killed)"), "13");
        assert!(ev(f, "session 24").ends_with("blocks 2"));
        assert_eq!(f.slots, 4);
        assert!(
            f.summary.contains("blocking 2 other sessions"),
            "{}",
            f.summary
        );
    }

    #[test]
    fn the_inferred_holder_of_a_mariadb_metadata_lock_queue_blocks_it() {
        // MariaDB live shape: 8 read t inside BEGIN and sleeps; 9 is an ALTER waiting for the
        // metadata lock, 10 and 11 SELECTs queued behind it. Only the states show the waits.
        const MDL: &str = "Waiting for table metadata lock";
        let mut s = fixtures::mariadb();
        let mdl = |id, t, sql| session(id, "ddl", "localhost", "Query", t, MDL, Some(sql));
        fixtures::with_sessions(
            &mut s,
            vec![
                session(8, "ddl", "localhost", "Sleep", 95, "", None),
                mdl(9, 90, "ALTER TABLE t ADD COLUMN w INT"),
                mdl(10, 80, "SELECT * FROM t WHERE id = 0"),
                mdl(11, 70, "SELECT * FROM t WHERE id = 1"),
                sleeping(12, 100), // idle, no transaction: blocks nobody
            ],
        );
        s.transactions = vec![trx(8, "RUNNING", 100, 0, None)];
        let f = &check(&Analysis::new(&s), &Thresholds::default())[0];
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.sessions, vec![8]);
        assert_eq!(ev(f, "sessions they block"), "3");
        assert!(
            ev(f, "session 8")
                .ends_with("blocks 3 (3 inferred: likely holder of the locks they wait for)"),
            "{}",
            ev(f, "session 8")
        );
        assert!(
            f.summary.contains("blocking 3 other sessions"),
            "{}",
            f.summary
        );
        // The same attribution as lock-pileup's.
        let p = &crate::diagnose::lock_pileup::check(&Analysis::new(&s), &Thresholds::default())[0];
        assert!(
            p.evidence
                .iter()
                .any(|e| e.name == "blocker" && e.value.starts_with("session 8:"))
        );
    }

    #[test]
    fn rds_mariadb_sets_the_timeout_in_the_parameter_group() {
        let mut s = fixtures::mariadb();
        s.server.rds = true;
        fixtures::with_sessions(&mut s, vec![sleeping(64, 50)]);
        s.transactions = vec![trx(64, "RUNNING", 90, 1, None)];
        let f = &check(&Analysis::new(&s), &Thresholds::default())[0];
        assert!(!f.actions.iter().any(|a| a.kind == ActionKind::Config));
        assert!(f.actions.iter().any(|a| a.text.contains(
            "\"ParameterName=idle_transaction_timeout,ParameterValue=300,ApplyMethod=immediate\""
        )));
    }

    #[test]
    fn half_the_slots_is_critical_without_blocking() {
        let mut s = fixtures::mysql8();
        s.variables.insert("max_connections".into(), "20".into());
        fixtures::with_sessions(&mut s, (1..=10).map(|i| sleeping(i, 100)).collect());
        s.transactions = (1..=10)
            .map(|i| trx(i, "RUNNING", 100 + i, 0, None))
            .collect();
        let f = &check(&Analysis::new(&s), &Thresholds::default())[0];
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.sessions, vec![10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
        fixtures::with_sessions(&mut s, (1..=9).map(|i| sleeping(i, 100)).collect());
        assert_eq!(
            check(&Analysis::new(&s), &Thresholds::default())[0].severity,
            Severity::Warning
        );
    }

    #[test]
    fn mysql_has_no_timeout_and_only_clients_count() {
        let mut s = fixtures::mysql8();
        fixtures::with_sessions(
            &mut s,
            vec![
                sleeping(9, 200),
                session(10, "system user", "", "Sleep", 200, "", None),
                session(11, "app", "10.0.0.7", "Killed", 200, "", None),
            ],
        );
        s.transactions = (9..=11).map(|i| trx(i, "RUNNING", 300, 2, None)).collect();
        let th = Thresholds {
            trx: Duration::from_secs(120),
            ..Thresholds::default()
        };
        let f = &check(&Analysis::new(&s), &th)[0];
        assert_eq!(f.sessions, vec![9]);
        assert!(
            f.actions[0]
                .text
                .starts_with("conncheck kill-idle --older-than 0s --trx-older-than 120s")
        );
        assert!(!f.actions.iter().any(|a| a.kind == ActionKind::Config));
        assert!(
            f.actions
                .iter()
                .any(|a| a.text.starts_with("MySQL has no idle-transaction timeout"))
        );
    }
}
