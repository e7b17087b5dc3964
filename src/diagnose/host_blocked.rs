//! `host-blocked`: a client host made `max_connect_errors` connection errors in a row (no
//! successful login between them) and every new connection from it is refused with
//! ERROR 1129 (HY000) `Host '…' is blocked because of many connection errors` until the host
//! cache is emptied (docs/refusals.md "ERROR 1129").
//!
//! The blocked host is in `performance_schema.host_cache`: `SUM_CONNECT_ERRORS` at or above
//! max_connect_errors, `COUNT_HOST_BLOCKED_ERRORS` the connections refused since; the second
//! reading of the sample gives the refusals happening now. The errors are mostly handshake errors
//! (`COUNT_HANDSHAKE_ERRORS`): something opens TCP connections and closes them before logging
//! in, typically a load balancer's or monitor's health check. Only TCP clients that are not
//! loopback enter the host cache.
//!
//! With performance_schema OFF the table is empty: then connection attempts failing before
//! login during the sample (Aborted_connects_preauth, MariaDB) are what shows, with
//! max_connect_errors; the finding says how to confirm. No host cache (host_cache_size 0): no
//! host is ever blocked, no finding.
//!
//! Relief: empty the host cache (`Dialect::flush_hosts`: FLUSH HOSTS, on MySQL 8.0.23+ a
//! TRUNCATE of the table), harmless to connected sessions. Fix: the health check, and a
//! max_connect_errors that absorbs its noise.

use super::analysis::Analysis;
use super::common::rate_basis;
use super::globals::change_globals;
use super::{Action, Finding, FindingId, Severity, Thresholds};
use crate::snapshot::{HostCacheEntry, Snapshot};

/// At most this many hosts are named (their number is always given).
const MAX_HOSTS_SHOWN: usize = 10;

/// A max_connect_errors that absorbs a health check's noise between two successful logins (a
/// login resets the host's count) and still stops a password-guessing or scanning host. The
/// default is 100 on MySQL 8 and MariaDB (docs/refusals.md).
const MAX_CONNECT_ERRORS_FIT: u64 = 10_000;

pub fn check(a: &Analysis<'_>, _th: &Thresholds) -> Vec<Finding> {
    let snap = a.snap;
    if snap.var_u64("host_cache_size") == Some(0) {
        return vec![];
    }
    let limit = snap.var_u64("max_connect_errors").unwrap_or(100);
    match snap.host_cache_after.as_ref().or(snap.host_cache.as_ref()) {
        Some(rows) => from_cache(snap, rows, limit).into_iter().collect(),
        None => without_cache(snap, limit).into_iter().collect(),
    }
}

fn name(h: &HostCacheEntry) -> String {
    match h.host.as_deref().filter(|n| !n.is_empty() && *n != h.ip) {
        Some(n) => format!("{} ({n})", h.ip),
        None => h.ip.clone(),
    }
}

/// The error text a blocked client sees, as the server words it.
fn error_text(snap: &Snapshot, ip: &str) -> String {
    format!(
        "ERROR 1129 (HY000): Host '{ip}' is blocked because of many connection errors; unblock with '{}'",
        snap.dialect().flush_hosts().1
    )
}

fn from_cache(snap: &Snapshot, rows: &[HostCacheEntry], limit: u64) -> Option<Finding> {
    let now = snap.refused_host_blocked();
    let by_ip: crate::fast_hash::HashMap<&str, u64> =
        now.iter().map(|(ip, n)| (ip.as_str(), *n)).collect();
    let refused_now = |ip: &str| by_ip.get(ip).copied().unwrap_or(0);
    let mut blocked: Vec<&HostCacheEntry> = rows
        .iter()
        .filter(|h| h.sum_connect_errors >= limit.max(1) || refused_now(&h.ip) > 0)
        .collect();
    if blocked.is_empty() {
        return None;
    }
    blocked.sort_by(|x, y| {
        refused_now(&y.ip)
            .cmp(&refused_now(&x.ip))
            .then(
                y.count_host_blocked_errors
                    .cmp(&x.count_host_blocked_errors),
            )
            .then_with(|| x.ip.cmp(&y.ip))
    });
    let during: u64 = now.iter().map(|(_, n)| *n).fold(0, u64::saturating_add);
    let first = blocked[0];
    let severity = if during > 0 {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let hosts: Vec<String> = blocked
        .iter()
        .take(MAX_HOSTS_SHOWN)
        .map(|h| name(h))
        .collect();
    let summary = if during > 0 {
        format!(
            "{during} connection{} from {} {} refused with ERROR 1129 {}: {} connection errors reached max_connect_errors {limit}.",
            if during == 1 { "" } else { "s" },
            hosts.join(", "),
            if during == 1 { "was" } else { "were" },
            rate_basis(snap),
            first.sum_connect_errors
        )
    } else {
        format!(
            "{} blocked: {} connection errors reached max_connect_errors {limit}, and every new connection from it gets ERROR 1129 ({} refused so far).",
            if blocked.len() == 1 {
                format!("Host {} is", hosts[0])
            } else {
                format!("{} hosts are ({})", blocked.len(), hosts.join(", "))
            },
            first.sum_connect_errors,
            first.count_host_blocked_errors
        )
    };
    let mut f = Finding::new(
        FindingId::HostBlocked,
        severity,
        format!(
            "{} blocked after too many connection errors: its clients get ERROR 1129",
            if blocked.len() == 1 {
                format!("Host {}", hosts[0])
            } else {
                format!("{} client hosts are", blocked.len())
            }
        ),
        summary,
    )
    .refused(during);
    for h in blocked.iter().take(MAX_HOSTS_SHOWN) {
        f = f.evidence(
            &format!("host {}", name(h)),
            format!(
                "SUM_CONNECT_ERRORS {} (max_connect_errors {limit}), COUNT_HANDSHAKE_ERRORS {}, COUNT_HOST_BLOCKED_ERRORS {} ({} during the sample)",
                h.sum_connect_errors,
                h.count_handshake_errors,
                h.count_host_blocked_errors,
                refused_now(&h.ip)
            ),
        );
    }
    if blocked.len() > MAX_HOSTS_SHOWN {
        f = f.evidence("more blocked hosts", blocked.len() - MAX_HOSTS_SHOWN);
    }
    f = f
        .evidence("error clients see", error_text(snap, &first.ip))
        .evidence("max_connect_errors", limit);
    let handshake = blocked
        .iter()
        .all(|h| h.count_handshake_errors * 2 >= h.sum_connect_errors);
    Some(with_actions(snap, f, limit, handshake))
}

fn without_cache(snap: &Snapshot, limit: u64) -> Option<Finding> {
    let preauth = snap
        .status_delta("aborted_connects_preauth")
        .filter(|n| *n > 0)?;
    let why = if snap.var_bool("performance_schema") == Some(false) {
        "performance_schema is OFF, so performance_schema.host_cache is empty"
    } else {
        "performance_schema.host_cache could not be read"
    };
    // Enough failures in one sample for a host to reach the limit: a warning; fewer (a TCP
    // health check now and then on a default MariaDB, performance_schema OFF) is background.
    let severity = if preauth >= limit {
        Severity::Warning
    } else {
        Severity::Info
    };
    let f = Finding::new(
        FindingId::HostBlocked,
        severity,
        "Connections fail before login: a client host may be blocked (ERROR 1129), unconfirmed",
        format!(
            "{preauth} connection attempt{} failed before login {}; {why}: a host that fails max_connect_errors ({limit}) times in a row without a successful login is blocked with ERROR 1129 until the host cache is emptied.",
            if preauth == 1 { "" } else { "s" },
            rate_basis(snap)
        ),
    )
    .evidence(
        "Aborted_connects_preauth",
        format!("{preauth} {}", rate_basis(snap)),
    )
    .evidence(
        "Aborted_connects",
        snap.status_now_u64("aborted_connects").unwrap_or(0),
    )
    .evidence("max_connect_errors", limit)
    .evidence("error clients see", error_text(snap, "…"))
    .action(Action::advice(
        "to confirm: a client on the suspect host gets \"ERROR 1129 … is blocked because of many connection errors\" at login; the application's log shows it too. To name blocked hosts here, start the server with performance_schema = ON (my.cnf [mysqld], restart) and run `SELECT IP, SUM_CONNECT_ERRORS, COUNT_HOST_BLOCKED_ERRORS FROM performance_schema.host_cache`",
    ));
    Some(with_actions(snap, f, limit, true))
}

/// The relief (empty the host cache) and the fix (the health check, max_connect_errors).
fn with_actions(snap: &Snapshot, mut f: Finding, limit: u64, handshake: bool) -> Finding {
    let (sql, tool) = snap.dialect().flush_hosts();
    f = f.action(Action::sql(format!("{sql};"))).action(Action::advice(format!(
        "{sql} unblocks every host now and touches no connected session; from a shell: `{tool}` with the same connection options"
    )));
    if handshake {
        f = f.action(Action::advice(
            "the errors are handshake errors: something on that host opens TCP connections to the server and closes them without logging in (a load balancer or monitoring health check, a port scanner). Make the check log in with its own account (or check another port), else it blocks the host again",
        ));
    }
    if limit < MAX_CONNECT_ERRORS_FIT {
        let value = MAX_CONNECT_ERRORS_FIT.to_string();
        for a in change_globals(snap, None, &[("max_connect_errors", value.as_str())]) {
            f = f.action(a);
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::{self, ev, ev_starting};

    fn host(ip: &str, errors: u64, blocked: u64) -> HostCacheEntry {
        HostCacheEntry {
            ip: ip.into(),
            host: None,
            sum_connect_errors: errors,
            count_host_blocked_errors: blocked,
            count_handshake_errors: errors,
        }
    }

    fn run(s: &Snapshot) -> Vec<Finding> {
        check(&Analysis::new(s), &Thresholds::default())
    }

    #[test]
    fn a_host_refused_during_the_sample_is_critical() {
        let mut s = fixtures::mariadb();
        s.variables.insert("max_connect_errors".into(), "2".into());
        s.variables.insert("host_cache_size".into(), "128".into());
        s.host_cache = Some(vec![host("10.0.0.9", 2, 3), host("10.0.0.5", 1, 0)]);
        fixtures::sample(&mut s, 2.0, &[]);
        s.host_cache_after = Some(vec![host("10.0.0.9", 2, 7), host("10.0.0.5", 1, 0)]);
        let f = run(&s);
        assert_eq!(f.len(), 1);
        let f = &f[0];
        assert_eq!(f.id, FindingId::HostBlocked);
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.refused, 4);
        assert!(
            f.summary.starts_with("4 connections from 10.0.0.9"),
            "{}",
            f.summary
        );
        assert!(ev(f, "host 10.0.0.9").contains("COUNT_HOST_BLOCKED_ERRORS 7 (4 during"));
        assert!(
            !f.evidence.iter().any(|e| e.name.contains("10.0.0.5")),
            "below the limit"
        );
        assert!(
            ev_starting(f, "error clients see").starts_with("ERROR 1129 (HY000): Host '10.0.0.9'")
        );
        assert!(ev_starting(f, "error clients see").ends_with("'mariadb-admin flush-hosts'"));
        let texts: Vec<&str> = f.actions.iter().map(|a| a.text.as_str()).collect();
        assert_eq!(texts[0], "FLUSH HOSTS;");
        assert!(
            texts
                .iter()
                .any(|t| t.contains("SET GLOBAL max_connect_errors = 10000")),
            "{texts:?}"
        );
        assert!(texts.iter().any(|t| t.contains("health check")));
    }

    #[test]
    fn a_blocked_host_nobody_tried_is_a_warning_and_mysql_truncates() {
        let mut s = fixtures::mysql8();
        s.variables
            .insert("max_connect_errors".into(), "100".into());
        s.host_cache = Some(vec![host("10.0.0.9", 100, 12)]);
        let f = &run(&s)[0];
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(f.refused, 0);
        assert!(f.summary.contains("12 refused so far"), "{}", f.summary);
        assert_eq!(
            f.actions[0].text,
            "TRUNCATE TABLE performance_schema.host_cache;"
        );
    }

    #[test]
    fn performance_schema_off_says_what_shows_and_how_to_confirm() {
        let mut s = fixtures::mariadb();
        s.variables
            .insert("performance_schema".into(), "OFF".into());
        s.variables.insert("host_cache_size".into(), "128".into());
        s.variables.insert("max_connect_errors".into(), "2".into());
        fixtures::set_status(&mut s, "aborted_connects_preauth", 10);
        fixtures::sample(&mut s, 2.0, &[("aborted_connects_preauth", 16)]);
        let f = &run(&s)[0];
        assert_eq!(f.severity, Severity::Warning);
        assert!(
            f.summary.contains("performance_schema is OFF"),
            "{}",
            f.summary
        );
        assert_eq!(ev(f, "Aborted_connects_preauth"), "6 during the 2s sample");
        // Fewer failures than max_connect_errors (100 here): background.
        s.variables
            .insert("max_connect_errors".into(), "100".into());
        assert_eq!(run(&s)[0].severity, Severity::Info);
        s.variables.insert("max_connect_errors".into(), "6".into());
        assert!(f.actions.iter().any(|a| a.text.contains("to confirm")));
        // Nothing failed before login: nothing to say.
        fixtures::sample(&mut s, 2.0, &[("aborted_connects_preauth", 10)]);
        assert!(run(&s).is_empty());
        // No host cache at all: no host is ever blocked.
        fixtures::sample(&mut s, 2.0, &[("aborted_connects_preauth", 16)]);
        s.variables.insert("host_cache_size".into(), "0".into());
        assert!(run(&s).is_empty());
    }
}
