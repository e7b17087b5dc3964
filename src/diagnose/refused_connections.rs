//! `refused-connections`: the server has been refusing clients with ERROR 1040 (SQLSTATE 08004).
//!
//! Two kinds of 1040 (docs/refusals.md "ERROR 1040"). At accept, when every slot including the
//! one reserved for CONNECTION_ADMIN / SUPER (max_connections + 1) is taken: counted in
//! Connection_errors_max_connections
//! (https://dev.mysql.com/doc/refman/8.0/en/server-status-variables.html#statvar_Connection_errors_max_connections,
//! https://dev.mysql.com/doc/refman/8.0/en/too-many-connections.html). After login, the common
//! one, when a client without SUPER finds the normal slots taken while the admin slot is still
//! free: MariaDB counts it only in Aborted_connects (observed live, docs/server-facts.md
//! "Counters"), so it is counted as ΔAborted_connects − ΔAborted_connects_preauth −
//! ΔAccess_denied_errors over the sample, less the refusals at accept that MariaDB counts in
//! Aborted_connects too (`snapshot::refusals::after_login`), and called 1040
//! when the normal slots were full at some reading of the sample (else those logins failed for
//! an account's limit, `user-limit-reached`, or another reason). MySQL 8 counts the login-time
//! refusal in Connection_errors_max_connections too (connection_handler_manager.cc
//! `valid_connection_count`), and lacks the two MariaDB counters: there the one counter holds
//! both kinds. A server with Aborted_connects but without the other two counters falls back
//! to Aborted_connects growing while the slots were full, when the accept counter did not move.
//!
//! Any refusal since startup is a warning; a refusal during the sample is critical: it is
//! happening now. `Finding::refused` is the clients refused during the sample.
//!
//! The server can also fail to take a connection before any limit is checked: accept() failing
//! (out of file descriptors, Connection_errors_accept), internal errors such as a thread that
//! could not be created (Connection_errors_internal), select()/poll() errors and TCP wrappers
//! (https://dev.mysql.com/doc/refman/8.0/en/server-status-variables.html#statvar_Connection_errors_xxx).
//! Those clients hang or are dropped rather than told 1040, and peers see the same outage, so
//! they are evidence here, and a finding of their own when no 1040 was counted.

use std::cmp::Ordering;

use super::analysis::Analysis;
use super::common::{count_phrase, per_sec, rate_basis};
use super::{Action, Finding, FindingId, Severity, Thresholds, dur};
use crate::snapshot::Snapshot;
use crate::units::secs;

/// Failures to take a connection before any limit is checked, as (evidence label, status name).
const ACCEPT_ERRORS: [(&str, &str); 5] = [
    ("Connection_errors_accept", "connection_errors_accept"),
    ("Connection_errors_internal", "connection_errors_internal"),
    ("Connection_errors_select", "connection_errors_select"),
    (
        "Connection_errors_peer_address",
        "connection_errors_peer_address",
    ),
    ("Connection_errors_tcpwrap", "connection_errors_tcpwrap"),
];

fn accept_value(total: u64, now: u64) -> String {
    if now > 0 {
        format!("{total} since startup, {now} during the sample")
    } else {
        format!("{total} since startup")
    }
}

/// Why Max_used_connections can be above max_connections + 1.
fn peak_note(snap: &Snapshot, peak: u64, max: u64) -> String {
    let extra_port = snap.var_u64("extra_port").filter(|p| *p > 0);
    let admin = snap
        .var_str("admin_address")
        .is_some_and(|a| !a.trim().is_empty());
    match peak.cmp(&max.saturating_add(1)) {
        Ordering::Equal => " (= max_connections + 1: the reserved admin slot was used too)".into(),
        Ordering::Less => String::new(),
        // MariaDB's extra port has its own extra_max_connections on top of max_connections
        // (https://mariadb.com/kb/en/thread-pool-system-status-variables/#extra_port), MySQL's
        // admin interface has no limit at all
        // (https://dev.mysql.com/doc/refman/8.0/en/administrative-connection-interface.html);
        // both count in Max_used_connections.
        Ordering::Greater => match (extra_port, admin) {
            (Some(port), _) => format!(
                " (above max_connections + 1: sessions on the extra port {port} count too, up to extra_max_connections {})",
                snap.var_u64("extra_max_connections").unwrap_or(1)
            ),
            (None, true) => " (above max_connections + 1: sessions on the administrative interface (admin_address) count too)".into(),
            (None, false) => " (above max_connections + 1: the limit was lowered since)".into(),
        },
    }
}

/// A finding for connections the server failed to accept when no ERROR 1040 was counted.
fn accept_failures(snap: &Snapshot, errors: &[(&str, u64, u64)]) -> Option<Finding> {
    if errors.is_empty() {
        return None;
    }
    let now = errors.iter().fold(0u64, |a, e| a.saturating_add(e.2));
    let total = errors.iter().fold(0u64, |a, e| a.saturating_add(e.1));
    let severity = if now > 0 {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let parts: Vec<String> = errors
        .iter()
        .map(|(label, t, n)| format!("{label} {}", accept_value(*t, *n)))
        .collect();
    let mut f = Finding::new(
        FindingId::RefusedConnections,
        severity,
        "The server failed to accept connections before any limit was checked",
        format!(
            "{} could not be taken by the server ({}): such clients hang or are dropped without ERROR 1040.",
            count_phrase(total, "connection", "connections"),
            parts.join("; ")
        ),
    );
    for (label, t, n) in errors {
        f = f.evidence(label, accept_value(*t, *n));
    }
    if let Some(limit) = snap.var_u64("open_files_limit") {
        f = f.evidence("open_files_limit", limit);
    }
    if let Some(open) = snap.status_now_u64("open_files") {
        f = f.evidence("Open_files", open);
    }
    Some(f.action(Action::advice(
        "accept() errors mean the server ran out of file descriptors or threads: check open_files_limit against max_connections + table_open_cache (max-connections-capped), the service's LimitNOFILE and the host's thread and memory limits, and the error log for 'Too many open files' / 'Can't create thread'",
    )))
}

pub fn check(a: &Analysis<'_>, th: &Thresholds) -> Vec<Finding> {
    let snap = a.snap;
    let max = snap.max_connections();
    let connected = snap.threads_connected();
    let total = snap
        .status_now_u64("connection_errors_max_connections")
        .unwrap_or(0);
    let hard_now = snap
        .status_delta("connection_errors_max_connections")
        .unwrap_or(0);
    let full = snap.slots_full_during_sample();
    let after_login = snap.refused_after_login();
    // Refusals after login: only while the normal slots were all taken (else the failed logins
    // were an account's limit or something else).
    let soft_now = match after_login {
        Some(n) if full => n,
        Some(_) => 0,
        // Without the MariaDB counters: Aborted_connects while full, unless the accept counter
        // moved (MySQL counts both kinds there).
        None if full && hard_now == 0 => snap.status_delta("aborted_connects").unwrap_or(0),
        None => 0,
    };
    let accept_errors: Vec<(&str, u64, u64)> = ACCEPT_ERRORS
        .iter()
        .filter_map(|(label, name)| {
            let total = snap.status_now_u64(name).filter(|n| *n > 0)?;
            Some((*label, total, snap.status_delta(name).unwrap_or(0)))
        })
        .collect();
    if total == 0 && soft_now == 0 {
        return accept_failures(snap, &accept_errors).into_iter().collect();
    }
    let hard_rate = per_sec(
        snap.status_rate("connection_errors_max_connections")
            .unwrap_or(0.0),
    );
    let uptime = secs(snap.status_u64("uptime").unwrap_or(snap.server.uptime_s));
    let (severity, summary) = if hard_now > 0 {
        let also = if soft_now > 0 {
            format!(
                ", and {} after login",
                count_phrase(soft_now, "more", "more")
            )
        } else {
            String::new()
        };
        (
            Severity::Critical,
            format!(
                "{} refused with ERROR 1040 {} ({hard_rate}){also}, {total} since startup {uptime} ago.",
                count_phrase(hard_now, "client was", "clients were"),
                rate_basis(snap),
            ),
        )
    } else if soft_now > 0 {
        (
            Severity::Critical,
            format!(
                "{} refused with ERROR 1040 Too many connections (SQLSTATE 08004) after login {} while the {max} normal slots were taken: accounts without SUPER get it while the admin slot is still free.",
                count_phrase(soft_now, "client was", "clients were"),
                rate_basis(snap)
            ),
        )
    } else {
        (
            Severity::Warning,
            format!(
                "{} refused with ERROR 1040 since startup {uptime} ago{}.",
                count_phrase(total, "client has been", "clients have been"),
                if snap.status_after.is_some() {
                    ", none during the sample"
                } else {
                    ""
                }
            ),
        )
    };
    let mut f = Finding::new(
        FindingId::RefusedConnections,
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
    if let Some(n) = after_login {
        f = f.evidence(
            "refused after login (ΔAborted_connects − ΔAborted_connects_preauth − ΔAccess_denied_errors − ΔConnection_errors_max_connections)",
            if full {
                format!("{n} during the sample, while the normal slots were full")
            } else {
                format!("{n} during the sample, the normal slots never full: not ERROR 1040")
            },
        );
    }
    f = f
        .evidence("Threads_connected", connected)
        .evidence("max_connections", max);
    if let Some(peak) = snap.status_now_u64("max_used_connections") {
        f = f.evidence(
            "Max_used_connections",
            format!("{peak}{}", peak_note(snap, peak, max)),
        );
    }
    for (label, total, now) in &accept_errors {
        f = f.evidence(label, accept_value(*total, *now));
    }
    // MySQL only: MariaDB 10.11 has no Max_used_connections_time.
    if let Some(t) = snap.status.get("max_used_connections_time") {
        f = f.evidence("Max_used_connections_time", t);
    }
    vec![
        f.slots(connected.max(max))
            .refused(hard_now.saturating_add(soft_now))
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
        check(&Analysis::new(s), &Thresholds::default())
            .into_iter()
            .next()
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
    fn refusals_after_login_are_counted_from_the_three_counters() {
        let mut s = fixtures::mariadb();
        s.variables.insert("max_connections".into(), "10".into());
        fixtures::set_status(&mut s, "threads_connected", 10);
        fixtures::set_status(&mut s, "aborted_connects_preauth", 0);
        fixtures::set_status(&mut s, "access_denied_errors", 0);
        // 9 failed logins: 3 before authentication (a health check), 2 wrong passwords, 4 refused.
        let after = [
            ("aborted_connects", 12),
            ("aborted_connects_preauth", 3),
            ("access_denied_errors", 2),
        ];
        fixtures::sample(&mut s, 1.0, &after);
        let f = refused(&s).unwrap();
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.refused, 4);
        assert!(
            f.summary.starts_with("4 clients were refused"),
            "{}",
            f.summary
        );
        assert!(f.summary.contains("08004"), "{}", f.summary);
        assert!(
            fixtures::ev_starting(&f, "refused after login")
                .contains("while the normal slots were full")
        );

        // The normal slots never full: those logins failed for another reason.
        fixtures::set_status(&mut s, "threads_connected", 9);
        fixtures::sample(&mut s, 1.0, &after);
        assert!(refused(&s).is_none());
        // ... unless a trend reading of the sample saw them full.
        s.trend = vec![crate::snapshot::TrendPoint {
            at_ms: 500,
            threads_connected: 10,
        }];
        assert_eq!(refused(&s).unwrap().refused, 4);
    }

    #[test]
    fn without_the_mariadb_counters_aborted_connects_at_the_limit_counts() {
        let mut s = fixtures::mariadb();
        s.variables.insert("max_connections".into(), "10".into());
        fixtures::set_status(&mut s, "threads_connected", 10);
        fixtures::sample(&mut s, 1.0, &[("aborted_connects", 4)]);
        let f = refused(&s).unwrap();
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.refused, 1);
        // One below the limit: failed logins are not refusals.
        fixtures::set_status(&mut s, "threads_connected", 9);
        fixtures::sample(&mut s, 1.0, &[("aborted_connects", 4)]);
        assert!(refused(&s).is_none());
    }

    #[test]
    fn one_refusal_reads_right() {
        let mut s = fixtures::mariadb();
        fixtures::set_status(&mut s, "connection_errors_max_connections", 1);
        let f = refused(&s).unwrap();
        assert!(
            f.summary.starts_with("1 client has been refused"),
            "{}",
            f.summary
        );
    }

    #[test]
    fn extra_port_sessions_explain_a_peak_above_the_limit() {
        let mut s = fixtures::mariadb();
        s.variables.insert("max_connections".into(), "151".into());
        s.variables.insert("extra_port".into(), "3307".into());
        s.variables
            .insert("extra_max_connections".into(), "10".into());
        fixtures::set_status(&mut s, "connection_errors_max_connections", 3);
        fixtures::set_status(&mut s, "max_used_connections", 158);
        let f = refused(&s).unwrap();
        let peak = f
            .evidence
            .iter()
            .find(|e| e.name == "Max_used_connections")
            .unwrap();
        assert!(peak.value.contains("extra port 3307"), "{}", peak.value);
        assert!(!peak.value.contains("lowered"), "{}", peak.value);
    }

    #[test]
    fn accept_errors_are_shown_and_reported_alone() {
        // A descriptor-starved server: accept() failed 219 times, no 1040 was ever counted.
        let mut s = fixtures::mariadb();
        fixtures::set_status(&mut s, "connection_errors_accept", 219);
        let f = refused(&s).unwrap();
        assert_eq!(f.severity, Severity::Warning);
        assert!(
            f.summary.starts_with("219 connections could not be taken"),
            "{}",
            f.summary
        );
        assert!(
            f.evidence
                .iter()
                .any(|e| e.name == "Connection_errors_accept" && e.value == "219 since startup")
        );
        fixtures::sample(&mut s, 1.0, &[("connection_errors_accept", 230)]);
        assert_eq!(refused(&s).unwrap().severity, Severity::Critical);
        // Beside real refusals they are evidence.
        fixtures::set_status(&mut s, "connection_errors_max_connections", 5);
        fixtures::sample(
            &mut s,
            1.0,
            &[
                ("connection_errors_accept", 230),
                ("connection_errors_max_connections", 5),
            ],
        );
        let f = refused(&s).unwrap();
        assert!(f.title.contains("ERROR 1040"));
        assert!(
            f.evidence
                .iter()
                .any(|e| e.name == "Connection_errors_accept")
        );
    }
}
