//! `idle-connections`: sleeping client sessions idle longer than `--idle-threshold` hold slots
//! that new clients need.
//!
//! A Sleep session waits for its client; one idle past the threshold (default 300 s) is
//! forgotten, leaked, or parked in an oversized pool, and keeps its slot until wait_timeout
//! (28800 s by default) closes it
//! (https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html#sysvar_wait_timeout).
//! These are exactly the sessions `conncheck kill-idle --older-than <threshold>` ends, so the
//! finding counts the slots that command frees. Severity follows the shared slot scale
//! ([`super::common`]): info for a few, warning from 10 sessions or 10 % of max_connections,
//! critical from half of them. connection-leak and pool-oversized say *why* sessions sit idle;
//! this finding says how many slots can be had back now.

use super::analysis::Analysis;
use super::common::{at_least, by_client, ids, of_max, pct, plural, severity_for_slots};
use super::timeouts::timeout_actions;
use super::{Action, Finding, FindingId, Thresholds, dur};
use crate::units::secs;

pub fn check(a: &Analysis<'_>, th: &Thresholds) -> Vec<Finding> {
    let snap = a.snap;
    let idle = a.oldest_first(
        a.clients()
            .filter(|s| s.is_sleeping() && at_least(s, th.idle))
            .collect(),
    );
    let Some(oldest) = idle
        .iter()
        .max_by_key(|s| (s.time_s, std::cmp::Reverse(s.id)))
    else {
        return vec![];
    };
    let max = snap.max_connections();
    let n = idle.len() as u64;
    let in_trx = idle
        .iter()
        // Only a transaction that modified rows has anything to roll back.
        .filter(|s| a.transaction_of(s.id).is_some_and(|t| t.rows_modified > 0))
        .count();
    let threshold = dur(th.idle);
    // kill-idle leaves fixed pools' connections out (the pool reopens them): they are not freed.
    let freed = n - idle
        .iter()
        .filter(|s| a.fixed_pool_ids().contains(&s.id))
        .count() as u64;
    let mut f = Finding::new(
        FindingId::IdleConnections,
        severity_for_slots(n, max),
        format!("{} idle for {threshold} or more", plural(n, "client session")),
        format!(
            "{} idle for {threshold} or more, taking {} of max_connections {max}; the oldest idle for {}.",
            plural(n, "sleeping session"),
            pct(n, max),
            secs(oldest.time_s),
        ),
    )
    .evidence(&format!("sessions idle ≥ {threshold}"), of_max(n, max))
    .evidence(
        &format!("slots freed by kill-idle --older-than {threshold}"),
        match (freed, in_trx) {
            (f, 0) if f == n => n.to_string(),
            (f, 0) => format!("{f} (the {} of fixed pools stay: see fixed-pool)", plural(n - f, "connection")),
            (f, t) if f == n => format!("{f} ({t} of them roll back an open transaction)"),
            (f, t) => format!(
                "{f} ({t} of them roll back an open transaction; the {} of fixed pools stay: see fixed-pool)",
                plural(n - f, "connection")
            ),
        },
    )
    .evidence(
        "oldest idle",
        format!("{} (session {})", secs(oldest.time_s), oldest.id),
    )
    .evidence("clients", by_client(&idle, 5));
    if let Some(w) = snap.var_u64("wait_timeout") {
        f = f.evidence("wait_timeout", secs(w));
    }
    f = f
        .sessions(ids(&idle))
        .slots(n)
        .action(Action::command(format!(
            "conncheck kill-idle --older-than {threshold} --dry-run   # the plan: which {freed} sessions would go"
        )))
        .action(Action::command(format!(
            "conncheck kill-idle --older-than {threshold}   # then free the slots (asks before killing)"
        )));
    for action in timeout_actions(a) {
        f = f.action(action);
    }
    vec![f]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::ev_starting as ev;
    use crate::diagnose::fixtures::{self, session, trx};
    use crate::diagnose::{ActionKind, Severity};
    use crate::snapshot::Session;
    use std::time::Duration;

    fn idle(id: u64, user: &str, time_s: u64) -> Session {
        session(id, user, "10.0.0.7", "Sleep", time_s, "", None)
    }

    #[test]
    fn healthy_servers_have_no_idle_sessions() {
        let th = Thresholds::default();
        assert!(check(&Analysis::new(&fixtures::mariadb()), &th).is_empty());
        assert!(check(&Analysis::new(&fixtures::mysql8()), &th).is_empty());
    }

    #[test]
    fn a_few_old_sleepers_are_info_and_the_threshold_is_inclusive() {
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(
            &mut s,
            vec![
                idle(1, "app", 299),
                idle(2, "app", 300),
                idle(3, "app", 4000),
                session(
                    4,
                    "app",
                    "10.0.0.7",
                    "Query",
                    9000,
                    "executing",
                    Some("SELECT 1"),
                ),
            ],
        );
        let f = check(&Analysis::new(&s), &Thresholds::default());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].id, FindingId::IdleConnections);
        assert_eq!(f[0].severity, Severity::Info);
        assert_eq!(f[0].sessions, vec![3, 2]);
        assert_eq!(f[0].slots, 2);
        assert!(f[0].summary.contains("1.3%"), "{}", f[0].summary);
        assert_eq!(ev(&f[0], "oldest idle"), "1h06m (session 3)");
        assert_eq!(ev(&f[0], "wait_timeout"), "10m00s");
    }

    #[test]
    fn ten_sessions_warn_and_half_the_slots_is_critical() {
        let th = Thresholds::default();
        let mut s = fixtures::mariadb(); // max_connections 151
        fixtures::with_sessions(&mut s, (1..=9).map(|i| idle(i, "app", 600)).collect());
        assert_eq!(check(&Analysis::new(&s), &th)[0].severity, Severity::Info);
        fixtures::with_sessions(&mut s, (1..=10).map(|i| idle(i, "app", 600)).collect());
        assert_eq!(
            check(&Analysis::new(&s), &th)[0].severity,
            Severity::Warning
        );
        fixtures::with_sessions(&mut s, (1..=75).map(|i| idle(i, "app", 600)).collect());
        assert_eq!(
            check(&Analysis::new(&s), &th)[0].severity,
            Severity::Warning
        );
        fixtures::with_sessions(&mut s, (1..=76).map(|i| idle(i, "app", 600)).collect());
        let f = check(&Analysis::new(&s), &th);
        assert_eq!(f[0].severity, Severity::Critical);
        assert_eq!(f[0].slots, 76);
    }

    #[test]
    fn a_small_server_warns_at_ten_percent() {
        let mut s = fixtures::mysql8();
        s.variables.insert("max_connections".into(), "30".into());
        fixtures::with_sessions(&mut s, (1..=3).map(|i| idle(i, "app", 900)).collect());
        assert_eq!(
            check(&Analysis::new(&s), &Thresholds::default())[0].severity,
            Severity::Warning
        );
    }

    #[test]
    fn only_client_sessions_count() {
        let mut s = fixtures::mysql8();
        fixtures::with_sessions(
            &mut s,
            vec![
                idle(1, "app", 900),
                session(
                    2,
                    "event_scheduler",
                    "localhost",
                    "Daemon",
                    900,
                    "Waiting on empty queue",
                    None,
                ),
                session(
                    3,
                    "repl",
                    "10.0.0.9",
                    "Binlog Dump GTID",
                    900,
                    "Source has sent all binlog to replica; waiting for more updates",
                    None,
                ),
                session(4, "app", "10.0.0.7", "Killed", 900, "", None),
                session(5, "system user", "", "Sleep", 900, "", None),
            ],
        );
        let f = check(&Analysis::new(&s), &Thresholds::default());
        assert_eq!(f[0].sessions, vec![1]);
    }

    #[test]
    fn evidence_and_actions_follow_the_threshold() {
        let mut s = fixtures::mariadb();
        let mut v: Vec<Session> = (1..=12).map(|i| idle(i, "app", 100 + i * 10)).collect();
        v.push(session(13, "web", "10.0.0.8", "Sleep", 2000, "", None));
        fixtures::with_sessions(&mut s, v);
        s.transactions.push(trx(13, "RUNNING", 2100, 3, None));
        let th = Thresholds {
            idle: Duration::from_secs(120),
            ..Thresholds::default()
        };
        let f = &check(&Analysis::new(&s), &th)[0];
        // 2..=12 are idle ≥ 120s (120..220s) plus 13.
        assert_eq!(f.sessions, vec![13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2]);
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(ev(f, "sessions idle ≥ 120s"), "12 of 151 (7.9%)");
        assert_eq!(
            ev(f, "slots freed"),
            "12 (1 of them roll back an open transaction)"
        );
        // A read-only transaction has nothing to roll back.
        s.transactions[0].rows_modified = 0;
        let f = &check(&Analysis::new(&s), &th)[0];
        assert_eq!(ev(f, "slots freed"), "12");
        assert_eq!(ev(f, "clients"), "app@10.0.0.7 ×11, web@10.0.0.8 ×1");
        assert_eq!(
            f.actions[0].text.split("   #").next().unwrap(),
            "conncheck kill-idle --older-than 120s --dry-run"
        );
        assert!(
            f.actions[1]
                .text
                .starts_with("conncheck kill-idle --older-than 120s ")
        );
        // wait_timeout (600s) is already below the 30 minutes conncheck would suggest: no
        // change, never the 120s threshold; session 13, idle 2000s, raised it for itself.
        assert!(
            !f.actions
                .iter()
                .any(|a| !a.settings.is_empty() || a.kind == ActionKind::Config)
                && f.actions
                    .iter()
                    .any(|a| a.text.starts_with("wait_timeout is already 10m00s")),
            "{:?}",
            f.actions
        );
    }
}
