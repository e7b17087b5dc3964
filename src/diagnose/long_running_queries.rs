//! `long-running-queries`: client statements running longer than `--long-query-threshold`.
//!
//! A slow statement holds its connection the whole time, and while it runs the application opens
//! more connections for the requests queueing behind it: a few slow queries are how a busy server
//! climbs to max_connections. Counted: client sessions in command `Query` or `Execute` (a prepared
//! statement) for at least the threshold (default 60 s). Sessions that wait for a lock are left to
//! lock-pileup: killing a waiter frees one slot and fixes nothing, the blocker is the cause.
//! Even one such statement is a warning; many (10, or 10 % of max_connections: the shared "many"
//! bar of [`super::common`]) are critical.

use super::analysis::Analysis;
use super::analysis::statements::{StatementGroup, by_digest};
use super::common::{at_least, by_client, ids, pct, plural, severity_from_one};
use super::globals::persistent_config;
use super::{Action, Finding, FindingId, Thresholds, dur};
use crate::snapshot::Snapshot;
use crate::units::{secs, snippet};

/// Statements listed one by one in the evidence; the rest are counted.
const LISTED: usize = 10;

pub fn check(a: &Analysis<'_>, th: &Thresholds) -> Vec<Finding> {
    let snap = a.snap;
    let busy = |cmd: &str| cmd.eq_ignore_ascii_case("Query") || cmd.eq_ignore_ascii_case("Execute");
    let (waiting, long): (Vec<_>, Vec<_>) = a
        .clients()
        .filter(|s| busy(&s.command) && at_least(s, th.long_query))
        .partition(|s| a.is_waiting(s));
    let long = a.oldest_first(long);
    let Some(oldest) = long.first() else {
        return vec![];
    };
    let max = snap.max_connections();
    let n = long.len() as u64;
    let threshold = dur(th.long_query);
    let mut f = Finding::new(
        FindingId::LongRunningQueries,
        severity_from_one(n, max),
        format!("{} running for {threshold} or more", plural(n, "statement")),
        format!(
            "{} running for {threshold} or more ({} of max_connections {max}); the longest for {} (session {}).",
            plural(n, "client statement"),
            pct(n, max),
            secs(oldest.time_s),
            oldest.id,
        ),
    )
    .evidence("statements", n)
    .evidence("clients", by_client(&long, 5));
    // One line per statement digest: 40 copies of one query with different values are one
    // line with its count, clients and programs, not 40 lines of the same text.
    let groups = by_digest(&long);
    for g in groups.iter().take(LISTED) {
        f = match g.sessions.as_slice() {
            [s] => f.evidence(
                &format!("session {}", s.id),
                format!(
                    "{}, {} {}: {}",
                    s.account(),
                    s.command,
                    secs(s.time_s),
                    snippet(s.info.as_deref(), 100)
                ),
            ),
            _ => f.evidence(&format!("digest ×{}", g.count()), digest_line(g)),
        };
    }
    let unlisted: usize = groups.iter().skip(LISTED).map(|g| g.sessions.len()).sum();
    if unlisted > 0 {
        f = f.evidence("not listed", format!("{unlisted} more"));
    }
    if !waiting.is_empty() {
        f = f.evidence(
            "left out",
            format!(
                "{} long statements waiting for a lock (see lock-pileup)",
                waiting.len()
            ),
        );
    }
    f = f
        .sessions(ids(&long))
        // A statement that holds a lock is credited with the sessions queued behind it.
        .slots(n + a.held_up_by(long.iter().map(|s| s.id)) as u64)
        .action(Action::command(format!(
            "conncheck kill-long --longer-than {threshold} --query-only --dry-run   # KILL QUERY: stop the statements, keep the connections"
        )))
        .action(Action::command(format!(
            "conncheck kill-long --longer-than {threshold} --dry-run   # or end the connections too"
        )))
        .action(Action::advice(
            "EXPLAIN these statements and add the missing indexes (or rewrite them): a query that scans instead of seeking holds its connection for the whole scan",
        ))
        .action(per_query_limit(snap))
        .action(timeout_action(snap));
    if snap.var_bool("slow_query_log") == Some(true) {
        f = f.action(Action::advice(format!(
            "the slow query log is on (long_query_time {}s): rank its statements (pt-query-digest, mysqldumpslow) and fix the top ones",
            snap.var_f64("long_query_time").map_or("?".to_string(), |t| t.to_string()),
        )));
    } else {
        f = f.action(Action::command(
            "conncheck set-slow-log on --long-query-time 1s   # record every statement slower than 1s",
        ));
    }
    vec![f]
}

/// `SELECT … WHERE id = ?; clients app@10.0.0.7 ×40; programs api ×40; longest 2m00s (session
/// 17)`: one digest group of statements (the group's sessions oldest first).
pub fn digest_line(g: &StatementGroup<'_>) -> String {
    let mut line = format!(
        "{}; clients {}",
        crate::text::snippet(&g.digest, 100),
        by_client(&g.sessions, 3)
    );
    let programs = g.programs(3);
    if !programs.is_empty() {
        line.push_str(&format!("; programs {programs}"));
    }
    if let Some(s) = g.sessions.iter().max_by_key(|s| s.time_s) {
        line.push_str(&format!("; longest {} (session {})", secs(s.time_s), s.id));
    }
    line
}

/// The server-wide statement limit conncheck suggests, never `--long-query-threshold` (a probe
/// setting): five minutes leaves room for reports and batch jobs, and still ends a runaway.
const SERVER_STATEMENT_LIMIT_S: u64 = 300;
/// The per-query limit in the example for the application's own statements.
const QUERY_LIMIT_S: u64 = 60;

/// Limit the application's own statements, where the limit can fit each one.
fn per_query_limit(snap: &Snapshot) -> Action {
    if snap.dialect().has_set_statement_time() {
        // https://mariadb.com/kb/en/set-statement/ and
        // https://mariadb.com/kb/en/create-user/#resource-limit-options (MAX_STATEMENT_TIME).
        Action::advice(format!(
            "limit the application's statements where they are issued: `SET STATEMENT max_statement_time={QUERY_LIMIT_S} FOR SELECT …`, or for one account `ALTER USER … WITH MAX_STATEMENT_TIME {QUERY_LIMIT_S}` (seconds); reports and batch jobs keep their own accounts without a limit"
        ))
    } else {
        // https://dev.mysql.com/doc/refman/8.0/en/optimizer-hints.html#optimizer-hints-execution-time
        Action::advice(format!(
            "limit the application's SELECTs where they are issued: `SELECT /*+ MAX_EXECUTION_TIME({}) */ …` (milliseconds), or `SET SESSION max_execution_time = {}` in the application's pool init SQL; reports and batch jobs keep their own sessions without a limit",
            QUERY_LIMIT_S * 1000,
            QUERY_LIMIT_S * 1000
        ))
    }
}

/// A server-wide statement time limit in the flavor's own variable, as a last resort with a
/// production floor: a `[mysqld]` snippet, or the DB parameter group on RDS/Aurora.
fn timeout_action(snap: &Snapshot) -> Action {
    let limit = SERVER_STATEMENT_LIMIT_S;
    let (name, per_second) = snap.dialect().statement_time_variable();
    let note = if per_second == 1 {
        // https://mariadb.com/kb/en/server-system-variables/#max_statement_time: seconds, every
        // statement (MariaDB 10.1+), DDL and batch jobs included.
        "seconds; server-wide, it also aborts reports, batch jobs and ALTER TABLE running longer: prefer the per-query limit"
    } else {
        // https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html#sysvar_max_execution_time:
        // milliseconds, read-only SELECT statements only.
        "milliseconds; server-wide, it aborts any SELECT running longer, reports included (not DDL or writes): prefer the per-query limit"
    };
    let value = limit.saturating_mul(per_second);
    persistent_config(snap, &[(name, &value.to_string(), note)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::ev;
    use crate::diagnose::fixtures::{self, lock_wait, session, trx};
    use crate::diagnose::{ActionKind, Severity};
    use crate::snapshot::{LockKind, Session};
    use std::time::Duration;

    fn query(id: u64, time_s: u64, sql: &str) -> Session {
        session(
            id,
            "app",
            "10.0.0.7",
            "Query",
            time_s,
            "executing",
            Some(sql),
        )
    }

    #[test]
    fn healthy_servers_have_no_long_queries() {
        let th = Thresholds::default();
        assert!(check(&Analysis::new(&fixtures::mariadb()), &th).is_empty());
        assert!(check(&Analysis::new(&fixtures::mysql8()), &th).is_empty());
    }

    #[test]
    fn one_long_query_is_a_warning_and_the_threshold_is_inclusive() {
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(
            &mut s,
            vec![
                query(1, 59, "SELECT 1"),
                query(2, 60, "SELECT * FROM orders WHERE note LIKE '%x%'"),
                session(3, "app", "10.0.0.7", "Sleep", 5000, "", None),
            ],
        );
        let f = check(&Analysis::new(&s), &Thresholds::default());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].id, FindingId::LongRunningQueries);
        assert_eq!(f[0].severity, Severity::Warning);
        assert_eq!(f[0].sessions, vec![2]);
        assert_eq!(f[0].slots, 1);
        assert_eq!(
            ev(&f[0], "session 2"),
            "app@10.0.0.7, Query 1m00s: SELECT * FROM orders WHERE note LIKE '%x%'"
        );
    }

    #[test]
    fn mariadb_time_ms_counts() {
        let mut s = fixtures::mariadb();
        let mut q = query(1, 60, "SELECT SLEEP(120)");
        q.time_ms = Some(59_900); // TIME rounds, TIME_MS does not
        fixtures::with_sessions(&mut s, vec![q]);
        assert!(check(&Analysis::new(&s), &Thresholds::default()).is_empty());
    }

    #[test]
    fn many_long_queries_are_critical() {
        let th = Thresholds::default();
        let mut s = fixtures::mysql8();
        fixtures::with_sessions(
            &mut s,
            (1..=9).map(|i| query(i, 100 + i, "SELECT 1")).collect(),
        );
        assert_eq!(
            check(&Analysis::new(&s), &th)[0].severity,
            Severity::Warning
        );
        let mut v: Vec<Session> = (1..=10).map(|i| query(i, 100 + i, "SELECT 1")).collect();
        v[0].command = "Execute".into();
        fixtures::with_sessions(&mut s, v);
        let f = &check(&Analysis::new(&s), &th)[0];
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.sessions, vec![10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
        assert!(!f.evidence.iter().any(|e| e.name == "not listed"));

        // 10 % of a small server.
        s.variables.insert("max_connections".into(), "40".into());
        fixtures::with_sessions(&mut s, (1..=4).map(|i| query(i, 100, "SELECT 1")).collect());
        assert_eq!(
            check(&Analysis::new(&s), &th)[0].severity,
            Severity::Critical
        );
    }

    #[test]
    fn long_text_is_cut_and_long_lists_are_counted() {
        let mut s = fixtures::mysql8();
        let long_sql = format!("SELECT {} FROM t", "a, ".repeat(60));
        fixtures::with_sessions(
            &mut s,
            (1..=12).map(|i| query(i, 100 + i, &long_sql)).collect(),
        );
        let f = &check(&Analysis::new(&s), &Thresholds::default())[0];
        // Twelve copies of one statement are one digest line.
        let text = ev(f, "digest ×12");
        let sql = text.split_once("; ").unwrap().0;
        assert_eq!(sql.chars().count(), 100);
        assert!(sql.ends_with('…'));
        assert!(
            text.ends_with("clients app@10.0.0.7 ×12; longest 1m52s (session 12)"),
            "{text}"
        );
        assert!(!f.evidence.iter().any(|e| e.name.starts_with("session ")));
        // Twelve different statements are listed one by one, ten of them.
        fixtures::with_sessions(
            &mut s,
            (1..=12)
                .map(|i| query(i, 100 + i, &format!("SELECT c{i} FROM t")))
                .collect(),
        );
        let f = &check(&Analysis::new(&s), &Thresholds::default())[0];
        assert_eq!(
            ev(f, "session 12"),
            "app@10.0.0.7, Query 1m52s: SELECT c12 FROM t"
        );
        assert_eq!(ev(f, "not listed"), "2 more");
        assert!(!f.evidence.iter().any(|e| e.name == "session 1"));
    }

    #[test]
    fn lock_waiters_replication_and_sleepers_are_left_out() {
        // MariaDB shapes: a row-lock waiter shows only `Updating` with trx_state LOCK WAIT, a
        // metadata-lock waiter shows its wait state.
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(
            &mut s,
            vec![
                session(
                    24,
                    "root",
                    "localhost",
                    "Query",
                    300,
                    "User sleep",
                    Some("SELECT SLEEP(600)"),
                ),
                session(
                    25,
                    "root",
                    "localhost",
                    "Query",
                    200,
                    "Updating",
                    Some("UPDATE t SET v=v+10 WHERE id=1"),
                ),
                session(
                    26,
                    "root",
                    "localhost",
                    "Query",
                    200,
                    "Waiting for table metadata lock",
                    Some("ALTER TABLE t ADD COLUMN w INT"),
                ),
                session(
                    27,
                    "root",
                    "localhost",
                    "Query",
                    200,
                    "Sending data",
                    Some("SELECT * FROM big"),
                ),
                session(
                    30,
                    "system user",
                    "",
                    "Slave_SQL",
                    9000,
                    "Slave has read all relay log; waiting for more updates",
                    None,
                ),
                session(31, "app", "10.0.0.7", "Killed", 9000, "", Some("SELECT 1")),
            ],
        );
        s.transactions = vec![
            trx(24, "RUNNING", 310, 1, Some("SELECT SLEEP(600)")),
            trx(25, "LOCK WAIT", 200, 0, None),
        ];
        s.lock_waits
            .push(lock_wait(LockKind::Row, 27, Some(24), 200));
        let f = &check(&Analysis::new(&s), &Thresholds::default())[0];
        assert_eq!(f.sessions, vec![24]);
        assert_eq!(
            ev(f, "left out"),
            "3 long statements waiting for a lock (see lock-pileup)"
        );
    }

    #[test]
    fn actions_follow_the_flavor_and_the_threshold() {
        let th = Thresholds {
            long_query: Duration::from_secs(30),
            ..Thresholds::default()
        };
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(&mut s, vec![query(1, 45, "SELECT 1")]);
        let f = &check(&Analysis::new(&s), &th)[0];
        assert!(
            f.actions[0]
                .text
                .starts_with("conncheck kill-long --longer-than 30s --query-only --dry-run")
        );
        assert!(
            f.actions[1]
                .text
                .starts_with("conncheck kill-long --longer-than 30s --dry-run")
        );
        let config = f
            .actions
            .iter()
            .find(|a| a.kind == ActionKind::Config)
            .unwrap();
        assert!(
            config.text.contains("max_statement_time = 300"),
            "{}",
            config.text
        );
        assert!(
            f.actions
                .iter()
                .any(|a| a.text.contains("long_query_time 1s"))
        );

        let mut s = fixtures::mysql8();
        s.variables.insert("slow_query_log".into(), "OFF".into());
        fixtures::with_sessions(&mut s, vec![query(1, 45, "SELECT 1")]);
        let f = &check(&Analysis::new(&s), &th)[0];
        let config = f
            .actions
            .iter()
            .find(|a| a.kind == ActionKind::Config)
            .unwrap();
        assert!(
            config.text.contains("max_execution_time = 300000"),
            "{}",
            config.text
        );
        assert!(
            f.actions
                .iter()
                .any(|a| a.text.starts_with("conncheck set-slow-log on"))
        );
    }

    #[test]
    fn rds_limits_statements_through_the_parameter_group() {
        let mut s = fixtures::mysql8();
        s.server.rds = true;
        fixtures::with_sessions(&mut s, vec![query(1, 90, "SELECT 1")]);
        let f = &check(&Analysis::new(&s), &Thresholds::default())[0];
        assert!(!f.actions.iter().any(|a| a.kind == ActionKind::Config));
        assert!(f.actions.iter().any(|a| a.kind == ActionKind::Advice
            && a.text.contains(
                "\"ParameterName=max_execution_time,ParameterValue=300000,ApplyMethod=immediate\""
            )));
    }
}
