//! `refused-connections`: the server has been refusing clients with ERROR 1040.
//!
//! Connection_errors_max_connections counts the hard refusals, made when every slot including the
//! one reserved for CONNECTION_ADMIN / SUPER (max_connections + 1) is taken
//! (https://dev.mysql.com/doc/refman/8.0/en/server-status-variables.html#statvar_Connection_errors_max_connections,
//! https://dev.mysql.com/doc/refman/8.0/en/too-many-connections.html). A regular account refused
//! while the admin slot is still free gets ERROR 1040 too, but MariaDB 10.11 counts that only in
//! Aborted_connects (observed live, see shared/reference/flavors.md "Counter side effects"), so
//! Aborted_connects growing while usage is at max_connections is reported as well.
//!
//! Any refusal since startup is a warning; a refusal during the sample is critical: it is
//! happening now.

use std::cmp::Ordering;

use super::common::{per_sec, rate_basis};
use super::{Action, Finding, Severity, Thresholds, dur};
use crate::render::secs;
use crate::snapshot::Snapshot;

pub fn check(snap: &Snapshot, th: &Thresholds) -> Vec<Finding> {
    let max = snap.max_connections();
    let connected = snap.threads_connected();
    let total = snap
        .status_now_u64("connection_errors_max_connections")
        .unwrap_or(0);
    let hard_now = snap
        .status_delta("connection_errors_max_connections")
        .unwrap_or(0);
    let aborted_now = snap.status_delta("aborted_connects").unwrap_or(0);
    // Soft refusals: only Aborted_connects moves, and only while the normal slots are all taken.
    let soft_now = if connected >= max { aborted_now } else { 0 };
    if total == 0 && soft_now == 0 {
        return vec![];
    }
    let hard_rate = per_sec(
        snap.status_rate("connection_errors_max_connections")
            .unwrap_or(0.0),
    );
    let uptime = secs(snap.status_u64("uptime").unwrap_or(snap.server.uptime_s));
    let (severity, summary) = if hard_now > 0 {
        (
            Severity::Critical,
            format!(
                "{hard_now} clients were refused with ERROR 1040 {} ({hard_rate}), {total} since startup {uptime} ago.",
                rate_basis(snap),
            ),
        )
    } else if soft_now > 0 {
        (
            Severity::Critical,
            format!(
                "{soft_now} connection attempts failed {} while {connected} of {max} connections were in use: regular accounts are getting ERROR 1040 (counted only in Aborted_connects).",
                rate_basis(snap)
            ),
        )
    } else {
        (
            Severity::Warning,
            format!(
                "{total} clients have been refused with ERROR 1040 since startup {uptime} ago{}.",
                if snap.status_after.is_some() {
                    ", none during the sample"
                } else {
                    ""
                }
            ),
        )
    };
    let mut f = Finding::new(
        "refused-connections",
        severity,
        "Clients have been refused with ERROR 1040 Too many connections",
        summary,
    )
    .evidence("Connection_errors_max_connections", total)
    .evidence(
        "Connection_errors_max_connections rate",
        format!("{hard_rate} {}", rate_basis(snap)),
    );
    if let Some(a) = snap.status_now_u64("aborted_connects") {
        f = f.evidence("Aborted_connects", a).evidence(
            "Aborted_connects rate",
            format!(
                "{} {}",
                per_sec(snap.status_rate("aborted_connects").unwrap_or(0.0)),
                rate_basis(snap)
            ),
        );
    }
    f = f
        .evidence("Threads_connected", connected)
        .evidence("max_connections", max);
    if let Some(peak) = snap.status_now_u64("max_used_connections") {
        let note = match peak.cmp(&max.saturating_add(1)) {
            Ordering::Equal => " (= max_connections + 1: the reserved admin slot was used too)",
            Ordering::Greater => " (above max_connections + 1: the limit was lowered since)",
            Ordering::Less => "",
        };
        f = f.evidence("Max_used_connections", format!("{peak}{note}"));
    }
    // MySQL only: MariaDB 10.11 has no Max_used_connections_time.
    if let Some(t) = snap.status.get("max_used_connections_time") {
        f = f.evidence("Max_used_connections_time", t);
    }
    vec![
        f.slots(connected.max(max))
            .action(Action::advice(
                "every slot was taken when these clients came: the other findings (idle sessions, leaks, long queries, max-connections-low) say why; fix the cause before raising max_connections",
            ))
            .action(Action::command(format!(
                "conncheck kill-idle --older-than {} --dry-run   # free slots now: see which sleeping sessions would go, then confirm",
                dur(th.idle)
            )))
            .action(Action::advice(
                "clients should retry after ERROR 1040 with exponential backoff and jitter, not in a tight loop: a retry storm keeps the server full",
            )),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures;

    fn refused(s: &crate::snapshot::Snapshot) -> Option<Finding> {
        check(s, &Thresholds::default()).into_iter().next()
    }

    #[test]
    fn healthy_servers_refused_nobody() {
        assert!(refused(&fixtures::mariadb()).is_none());
        assert!(refused(&fixtures::mysql8()).is_none());
        let mut s = fixtures::mariadb();
        fixtures::sample(
            &mut s,
            1.0,
            &[("connections", 50_010), ("aborted_connects", 5)],
        );
        assert!(
            refused(&s).is_none(),
            "failed logins below the limit are aborted-clients' job"
        );
    }

    #[test]
    fn old_refusals_are_a_warning() {
        let mut s = fixtures::mysql8();
        fixtures::set_status(&mut s, "connection_errors_max_connections", 42);
        fixtures::set_status(&mut s, "max_used_connections", 152);
        let f = refused(&s).unwrap();
        assert_eq!(f.severity, Severity::Warning);
        assert!(f.summary.contains("42 clients"), "{}", f.summary);
        let ev = |n: &str| f.evidence.iter().find(|e| e.name == n).map(|e| &e.value);
        assert!(
            ev("Max_used_connections")
                .unwrap()
                .contains("reserved admin slot")
        );
        assert_eq!(
            ev("Max_used_connections_time").unwrap(),
            "2026-11-20 03:12:44"
        );

        fixtures::set_status(&mut s, "max_used_connections", 160);
        let f = refused(&s).unwrap();
        assert!(
            f.evidence
                .iter()
                .any(|e| e.value.contains("limit was lowered since"))
        );

        fixtures::sample(&mut s, 1.0, &[]);
        let f = refused(&s).unwrap();
        assert_eq!(f.severity, Severity::Warning);
        assert!(
            f.summary.contains("none during the sample"),
            "{}",
            f.summary
        );
    }

    #[test]
    fn refusals_during_the_sample_are_critical() {
        let mut s = fixtures::mariadb();
        fixtures::set_status(&mut s, "connection_errors_max_connections", 40);
        fixtures::sample(&mut s, 2.0, &[("connection_errors_max_connections", 45)]);
        let f = refused(&s).unwrap();
        assert_eq!(f.severity, Severity::Critical);
        assert!(f.summary.starts_with("5 clients"), "{}", f.summary);
        assert!(f.summary.contains("2.50/s"), "{}", f.summary);
        assert!(
            !f.evidence
                .iter()
                .any(|e| e.name == "Max_used_connections_time"),
            "MariaDB has no such status"
        );
    }

    #[test]
    fn soft_refusals_at_the_limit_are_critical() {
        let mut s = fixtures::mariadb();
        s.variables.insert("max_connections".into(), "10".into());
        fixtures::set_status(&mut s, "threads_connected", 10);
        fixtures::sample(&mut s, 1.0, &[("aborted_connects", 4)]);
        let f = refused(&s).unwrap();
        assert_eq!(f.severity, Severity::Critical);
        assert!(
            f.summary.contains("only in Aborted_connects"),
            "{}",
            f.summary
        );

        // One below the limit: failed logins are not refusals.
        fixtures::set_status(&mut s, "threads_connected", 9);
        fixtures::sample(&mut s, 1.0, &[("aborted_connects", 4)]);
        assert!(refused(&s).is_none());
    }
}
