//! `aborted-clients`: connections die without a proper close, or fail before they start.
//!
//! Aborted_clients counts connections that ended without COM_QUIT: apps that never close their
//! connections (the server closes them after wait_timeout), pools handing out connections the
//! server already timed out, killed sessions. Aborted_connects counts failed attempts: bad
//! passwords, missing privileges, connect_timeout, and on MariaDB the ERROR 1040 given at login
//! (https://dev.mysql.com/doc/refman/8.0/en/communication-errors.html; docs/server-facts.md).
//!
//! A KILLed connection also ends without COM_QUIT and counts as an aborted client. Those are not
//! the application's fault (conncheck's own `kill-idle`, pt-kill, a DBA), so Aborted_clients is
//! judged net of Com_kill, the server-wide count of KILL statements
//! (https://mariadb.com/kb/en/server-status-variables/#com_kill). Com_kill also counts
//! `KILL QUERY`, which leaves the client connected, so the net figure can only be too low, never
//! blame the application for a kill.
//!
//! Each counter is judged against Connections: more than 1 % of all connections since startup
//! (and more than 100 of them) is an info; growing during the sample by at least 5 and more than
//! 1 % of the sample's connections is a warning: it is happening now.

use super::analysis::Analysis;
use super::common::{pct, per_sec, rate_basis, share};
use super::globals::change_globals;
use super::{Action, Finding, FindingId, Severity, Thresholds};
use crate::snapshot::Snapshot;

/// Share of all connections above which a counter is high.
const HIGH_SHARE: f64 = 0.01;
/// Fewer aborted connections than this since startup are noise.
const MIN_TOTAL: u64 = 100;
/// Fewer than this during the sample are noise.
const MIN_DELTA: u64 = 5;

/// What part of a counter KILL statements explain: Com_kill for Aborted_clients, nothing else.
fn killed(snap: &Snapshot, name: &str, delta: bool) -> u64 {
    if name != "aborted_clients" {
        return 0;
    }
    if delta {
        snap.status_delta("com_kill").unwrap_or(0)
    } else {
        snap.status_now_u64("com_kill").unwrap_or(0)
    }
}

/// A counter since startup, net of what KILL statements explain.
fn net_total(snap: &Snapshot, name: &str) -> Option<u64> {
    Some(
        snap.status_now_u64(name)?
            .saturating_sub(killed(snap, name, false)),
    )
}

/// How one counter looks, and how bad.
fn judge(snap: &Snapshot, name: &str) -> Option<(Severity, String)> {
    let total = net_total(snap, name)?;
    let connections = snap.status_now_u64("connections").unwrap_or(0);
    let lifetime = share(total, connections);
    if let Some(d) = snap
        .status_delta(name)
        .map(|d| d.saturating_sub(killed(snap, name, true)))
    {
        let new = snap.status_delta("connections").unwrap_or(0);
        if d >= MIN_DELTA && d as f64 > HIGH_SHARE * new as f64 {
            return Some((
                Severity::Warning,
                format!(
                    "{d} {} ({})",
                    rate_basis(snap),
                    per_sec(snap.status_rate(name).unwrap_or(0.0))
                ),
            ));
        }
    }
    (total > MIN_TOTAL && lifetime > HIGH_SHARE).then(|| {
        (
            Severity::Info,
            format!(
                "{total} since startup ({} of connections)",
                pct(total, connections)
            ),
        )
    })
}

pub fn check(a: &Analysis<'_>, _th: &Thresholds) -> Vec<Finding> {
    let snap = a.snap;
    let clients = judge(snap, "aborted_clients");
    let connects = judge(snap, "aborted_connects");
    let counters = [
        ("Aborted_clients", "aborted_clients", &clients),
        ("Aborted_connects", "aborted_connects", &connects),
    ];
    let Some(severity) = counters
        .iter()
        .filter_map(|c| c.2.as_ref().map(|j| j.0))
        .max()
    else {
        return vec![];
    };
    let parts: Vec<String> = counters
        .iter()
        .filter_map(|(label, _, j)| j.as_ref().map(|(_, text)| format!("{label} {text}")))
        .collect();
    let connections = snap.status_now_u64("connections").unwrap_or(0);
    let mut f = Finding::new(
        FindingId::AbortedClients,
        severity,
        "Connections are dropped without a proper close or fail to connect",
        format!("{}.", parts.join("; ")),
    )
    .evidence("Connections", connections);
    for (label, name, _) in counters {
        let Some(total) = net_total(snap, name) else {
            continue;
        };
        f = f
            .evidence(
                label,
                format!("{total} ({} of connections)", pct(total, connections)),
            )
            .evidence(
                &format!("{label} rate"),
                format!(
                    "{} {}",
                    per_sec(snap.status_rate(name).unwrap_or(0.0)),
                    rate_basis(snap)
                ),
            );
    }
    if clients.is_some() && killed(snap, "aborted_clients", false) > 0 {
        f = f.evidence(
            "KILL statements (Com_kill), not counted above",
            killed(snap, "aborted_clients", false),
        );
    }
    // MariaDB tells bad passwords apart.
    if let Some(denied) = snap.status_now_u64("access_denied_errors") {
        f = f.evidence("Access_denied_errors", denied);
    }
    let wait = snap.var_u64("wait_timeout").unwrap_or(28_800);
    f = f.evidence("wait_timeout", format!("{wait}s"));
    if clients.is_some() {
        f = f
            .action(Action::advice(
                "close connections in finally blocks / try-with-resources (or return them to the pool) on every code path, including errors",
            ))
            .action(Action::advice(format!(
                "set the pool's maxLifetime and idle timeout below wait_timeout ({wait}s) and let it validate connections (e.g. HikariCP keepaliveTime), so it never hands out a connection the server already closed"
            )));
    }
    if connects.is_some() {
        f = f.action(Action::advice(
            "failed connects: look for `Access denied` (wrong password / host) and `Too many connections` in the error log, and for clients slower than connect_timeout (network, TLS, DNS: skip_name_resolve)",
        ));
        // MariaDB's counters split the failed connects of the sample by when they failed
        // (docs/refusals.md "ERROR 1040"): each kind has its finding.
        if let (Some(pre), Some(denied), Some(after)) = (
            snap.status_delta("aborted_connects_preauth"),
            snap.status_delta("access_denied_errors"),
            snap.refused_after_login(),
        ) {
            f = f.evidence(
                "failed connects during the sample, by kind",
                format!(
                    "{pre} before login (bad handshakes, blocked hosts, timed-out handshakes: host-blocked, handshake-stall), {denied} wrong passwords (Access_denied_errors), {after} refused after login (ERROR 1040/1203/1226: refused-connections, user-limit-reached)"
                ),
            );
        }
    }
    // Log each aborted connection with user and host: MySQL 8 logs them as notes at
    // log_error_verbosity 3 (https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html#sysvar_log_error_verbosity),
    // MariaDB from log_warnings 2 on (https://mariadb.com/kb/en/server-system-variables/#log_warnings).
    let (var, level) = snap.dialect().aborted_connection_logging();
    // Only when the current level is known to be lower: no advice that is already in effect.
    if snap.var_u64(var).is_some_and(|v| v < level) {
        for a in change_globals(snap, None, &[(var, &level.to_string())]) {
            f = f.action(a);
        }
    }
    vec![f]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures;

    fn finding(s: &Snapshot) -> Option<Finding> {
        check(&Analysis::new(s), &Thresholds::default())
            .into_iter()
            .next()
    }

    #[test]
    fn healthy_servers_close_properly() {
        assert!(finding(&fixtures::mariadb()).is_none());
        assert!(finding(&fixtures::mysql8()).is_none());
    }

    #[test]
    fn lifetime_share_is_info() {
        let mut s = fixtures::mariadb();
        fixtures::set_status(&mut s, "aborted_clients", 500); // exactly 1 % of 50000
        assert!(finding(&s).is_none());
        fixtures::set_status(&mut s, "aborted_clients", 501);
        let f = finding(&s).unwrap();
        assert_eq!(f.severity, Severity::Info);
        assert!(
            f.summary
                .starts_with("Aborted_clients 501 since startup (1.0% of"),
            "{}",
            f.summary
        );
        assert!(f.actions.iter().any(|a| a.text.contains("maxLifetime")));
        assert!(!f.actions.iter().any(|a| a.text.contains("Access denied")));
        // Over 1 % but too few to matter.
        let mut s = fixtures::mysql8();
        fixtures::set_status(&mut s, "connections", 5_000);
        fixtures::set_status(&mut s, "aborted_connects", 100);
        assert!(finding(&s).is_none());
    }

    #[test]
    fn rising_during_the_sample_is_a_warning() {
        let mut s = fixtures::mysql8();
        s.variables.insert("log_error_verbosity".into(), "2".into());
        fixtures::sample(
            &mut s,
            2.0,
            &[("connections", 50_100), ("aborted_connects", 8)],
        );
        let f = finding(&s).unwrap();
        assert_eq!(f.severity, Severity::Warning);
        assert!(
            f.summary
                .contains("Aborted_connects 5 during the 2s sample (2.50/s)"),
            "{}",
            f.summary
        );
        assert!(f.actions.iter().any(|a| a.text.contains("Access denied")));
        assert!(
            f.actions
                .iter()
                .any(|a| a.text == "SET GLOBAL log_error_verbosity = 3;")
        );
        // 4 new is below the noise floor.
        fixtures::sample(
            &mut s,
            2.0,
            &[("connections", 50_100), ("aborted_connects", 7)],
        );
        assert!(finding(&s).is_none());
        // 5 of 1000 new connections is only 0.5 %.
        fixtures::sample(
            &mut s,
            2.0,
            &[("connections", 51_000), ("aborted_connects", 8)],
        );
        assert!(finding(&s).is_none());
    }

    #[test]
    fn mariadb_failed_connects_are_split_by_kind() {
        let mut s = fixtures::mariadb();
        fixtures::set_status(&mut s, "aborted_connects_preauth", 0);
        fixtures::set_status(&mut s, "access_denied_errors", 0);
        fixtures::sample(
            &mut s,
            2.0,
            &[
                ("connections", 50_100),
                ("aborted_connects", 13),
                ("aborted_connects_preauth", 6),
                ("access_denied_errors", 1),
            ],
        );
        let f = finding(&s).unwrap();
        assert_eq!(
            fixtures::ev(&f, "failed connects during the sample, by kind"),
            "6 before login (bad handshakes, blocked hosts, timed-out handshakes: host-blocked, handshake-stall), 1 wrong passwords (Access_denied_errors), 3 refused after login (ERROR 1040/1203/1226: refused-connections, user-limit-reached)"
        );
    }

    #[test]
    fn mariadb_logging_hint() {
        let mut s = fixtures::mariadb();
        s.variables.insert("log_warnings".into(), "1".into());
        fixtures::sample(&mut s, 1.0, &[("aborted_clients", 20)]);
        let f = finding(&s).unwrap();
        assert!(
            f.actions
                .iter()
                .any(|a| a.text == "SET GLOBAL log_warnings = 2;")
        );
        s.variables.insert("log_warnings".into(), "2".into());
        let f = finding(&s).unwrap();
        assert!(!f.actions.iter().any(|a| a.text.contains("log_warnings")));
    }

    #[test]
    fn our_own_kills_are_not_the_applications_fault() {
        // 215 sessions killed during the sample: 215 aborted clients, 215 KILL statements.
        let mut s = fixtures::mariadb();
        fixtures::set_status(&mut s, "aborted_clients", 0);
        fixtures::set_status(&mut s, "com_kill", 0);
        fixtures::sample(&mut s, 2.0, &[("aborted_clients", 215), ("com_kill", 215)]);
        assert!(finding(&s).is_none());
        // Since startup too.
        let mut s = fixtures::mariadb();
        fixtures::set_status(&mut s, "aborted_clients", 900);
        fixtures::set_status(&mut s, "com_kill", 800);
        assert!(finding(&s).is_none());
        // What the kills do not explain is still reported, with the kills as evidence.
        fixtures::set_status(&mut s, "aborted_clients", 1_900);
        let f = finding(&s).unwrap();
        assert!(
            f.summary.starts_with("Aborted_clients 1100 since startup"),
            "{}",
            f.summary
        );
        assert!(
            f.evidence
                .iter()
                .any(|e| e.name.contains("Com_kill") && e.value == "800")
        );
    }

    #[test]
    fn no_logging_advice_when_unknown_or_in_effect() {
        let mut s = fixtures::mariadb();
        fixtures::sample(&mut s, 1.0, &[("aborted_clients", 20)]);
        s.variables.remove("log_warnings");
        let f = finding(&s).unwrap();
        assert!(!f.actions.iter().any(|a| a.text.contains("log_warnings")));
        s.variables.insert("log_warnings".into(), "3".into());
        let f = finding(&s).unwrap();
        assert!(!f.actions.iter().any(|a| a.text.contains("log_warnings")));
    }
}
