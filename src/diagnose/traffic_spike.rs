//! `traffic-spike`: connections arrive much faster than usual.
//!
//! Three signs, any of which fires: during the sample, new connections per second (Connections,
//! https://dev.mysql.com/doc/refman/8.0/en/server-status-variables.html#statvar_Connections) at
//! least 5/s and 5 × the lifetime average; or, whatever the average (a storm running since
//! startup has made itself the average), an absolute storm: at least 100 connections/s and
//! enough to turn over a tenth of max_connections every second, or 50 new threads/s
//! (Threads_created, thread-per-connection servers only: a thread pool creates none per
//! connection); or a login storm, 10 or more sessions
//! still authenticating (`unauthenticated user`, state `login`, or `Connect` + `Reading from net`,
//! https://dev.mysql.com/doc/refman/8.0/en/general-thread-states.html). A warning, critical when
//! usage is also at the critical threshold. Usual causes: an app restart or deploy opening whole
//! pools at once, or clients retrying ERROR 1040 in a tight loop. Many statements running at
//! once open no connection: that is `server-busy` (forty copies of one CPU-bound query are no
//! storm); Threads_running is shown here as evidence only.

use super::analysis::Analysis;
use super::common::{logging_in, per_sec};
use super::{Action, Finding, FindingId, Severity, Thresholds};

/// New connections per second that count as a spike, and how many times the lifetime average.
const MIN_RATE: f64 = 5.0;
const RATE_FACTOR: f64 = 5.0;
/// Connections per second that are a storm whatever the average, and the share of
/// max_connections per second that must also be reached (busy servers legitimately churn).
const STORM_RATE: f64 = 100.0;
const STORM_SHARE_PER_S: f64 = 0.10;
/// New threads per second that are a storm on a thread-per-connection server.
const STORM_THREADS: f64 = 50.0;
/// Sessions authenticating at once that make a login storm.
const MIN_LOGINS: usize = 10;

pub fn check(a: &Analysis<'_>, th: &Thresholds) -> Vec<Finding> {
    let snap = a.snap;
    let connected = snap.threads_connected();
    let mut signs = Vec::new();
    let mut evidence = Vec::new();

    if let (Some(new), true) = (snap.status_delta("connections"), snap.sample_s > 0.0) {
        let rate = new as f64 / snap.sample_s;
        let lifetime = snap
            .status_u64("uptime")
            .filter(|u| *u > 0)
            .map_or(0.0, |u| {
                snap.status_u64("connections").unwrap_or(0) as f64 / u as f64
            });
        evidence.push(("connection rate (sample)", per_sec(rate)));
        evidence.push(("connection rate (lifetime)", per_sec(lifetime)));
        let storm = STORM_RATE.max(STORM_SHARE_PER_S * snap.max_connections() as f64);
        if rate >= MIN_RATE && rate >= RATE_FACTOR * lifetime {
            signs.push(format!(
                "connections arrive at {} during the sample, {:.0}× the lifetime average of {}",
                per_sec(rate),
                rate / lifetime.max(f64::MIN_POSITIVE),
                per_sec(lifetime)
            ));
        } else if rate >= storm {
            signs.push(format!(
                "connections arrive at {} during the sample (a storm from {} on, whatever the lifetime average of {})",
                per_sec(rate),
                per_sec(storm),
                per_sec(lifetime)
            ));
        }
    }
    let pool = snap
        .var_str("thread_handling")
        .is_some_and(|h| h.contains("pool"));
    if let (Some(created), true, false) = (
        snap.status_delta("threads_created"),
        snap.sample_s > 0.0,
        pool,
    ) {
        let rate = created as f64 / snap.sample_s;
        evidence.push(("threads created (sample)", per_sec(rate)));
        if rate >= STORM_THREADS && !signs.iter().any(|s| s.starts_with("connections arrive")) {
            signs.push(format!(
                "{} new threads are created during the sample",
                per_sec(rate)
            ));
        }
    }
    let running = snap.status_now_u64("threads_running").unwrap_or(0);
    // Sessions queued on a lock count as running but are a lock pile-up (its own finding), not
    // traffic: one ALTER TABLE behind a long transaction would otherwise look like a spike.
    let waiting = a
        .clients()
        .filter(|s| !s.is_sleeping() && a.is_waiting(s))
        .count() as u64;
    let working = running.saturating_sub(waiting);
    evidence.push(("Threads_running", running.to_string()));
    if waiting > 0 {
        evidence.push(("of them waiting for a lock", waiting.to_string()));
    }
    evidence.push(("Threads_connected", connected.to_string()));
    // Many statements running at once is a busy server (server-busy), not connections
    // arriving: forty copies of one slow query open no new connection.
    let logins: Vec<u64> = a
        .clients()
        .filter(|s| logging_in(s) && s.time_secs_f64() < super::handshake_stall::STALL_S)
        .map(|s| s.id)
        .collect();
    evidence.push(("sessions logging in", logins.len().to_string()));
    // MySQL 8's performance_schema.processlist does not list connections still authenticating:
    // they are counted from Threads_connected instead.
    let unlisted = crate::snapshot::dialect::unlisted_connections(snap).unwrap_or(0);
    if unlisted > 0 {
        evidence.push((
            "connections not listed (still authenticating: Threads_connected minus the sessions performance_schema.processlist lists)",
            unlisted.to_string(),
        ));
    }
    let logging_in_total = logins.len() as u64 + unlisted;
    if logging_in_total >= MIN_LOGINS as u64 {
        signs.push(format!("{logging_in_total} sessions are still logging in"));
    }
    if signs.is_empty() {
        return vec![];
    }
    let max = snap.max_connections();
    let near_full = connected as f64 >= th.critical.connections(max);
    let (severity, tail) = if near_full {
        (
            Severity::Critical,
            format!(", with {connected} of {max} connections in use"),
        )
    } else {
        (Severity::Warning, String::new())
    };
    let f = Finding::new(
        FindingId::TrafficSpike,
        severity,
        "Connections arrive or pile up much faster than usual",
        format!("{}{tail}.", signs.join("; ")),
    );
    let f = evidence
        .into_iter()
        .fold(f, |f, (name, value)| f.evidence(name, value));
    vec![
        // What the spike itself holds: the logins and the statements running at once (the
        // rest of the connections are other findings' to explain).
        f.sessions(logins.iter().copied())
            .slots(logins.len() as u64 + working)
            .action(Action::advice(
                "look for a retry storm: clients reconnecting in a loop after errors (ERROR 1040, timeouts) need exponential backoff with jitter",
            ))
            .action(Action::advice(
                "warm pools up gradually (a small minimum idle, not the whole pool at start) and stagger app restarts and deploys",
            ))
            .action(Action::command(
                "conncheck sessions --group-by host   # which clients the new connections come from",
            ))
            .action(Action::advice(
                "many running threads mean the server is busy, not just full: see the long-query and lock findings; a warm thread cache (thread-cache) makes connection bursts cheaper",
            )),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::Threshold;
    use crate::diagnose::fixtures;
    use crate::snapshot::Snapshot;

    fn finding(s: &Snapshot) -> Option<Finding> {
        check(&Analysis::new(s), &Thresholds::default())
            .into_iter()
            .next()
    }

    #[test]
    fn a_storm_since_startup_is_still_a_storm() {
        // 2,249 connections/s for the whole uptime: the lifetime average is the storm itself.
        let mut s = fixtures::mariadb();
        fixtures::set_status(&mut s, "uptime", 600);
        fixtures::set_status(&mut s, "connections", 1_349_400);
        fixtures::sample(&mut s, 1.0, &[("connections", 1_351_649)]);
        let f = finding(&s).unwrap();
        assert!(
            f.summary.contains("2249.00/s") || f.summary.contains("2249"),
            "{}",
            f.summary
        );
        assert!(
            f.summary.contains("whatever the lifetime average"),
            "{}",
            f.summary
        );
        // 50/s on a 151-connection server is ordinary churn.
        fixtures::set_status(&mut s, "connections", 30_000);
        fixtures::sample(&mut s, 1.0, &[("connections", 30_050)]);
        assert!(finding(&s).is_none());
    }

    #[test]
    fn thread_creation_storm() {
        let mut s = fixtures::mariadb();
        fixtures::set_status(&mut s, "uptime", 600);
        fixtures::set_status(&mut s, "connections", 30_000);
        fixtures::set_status(&mut s, "threads_created", 100);
        fixtures::sample(
            &mut s,
            2.0,
            &[("connections", 30_100), ("threads_created", 200)],
        );
        let f = finding(&s).unwrap();
        assert!(f.summary.contains("new threads"), "{}", f.summary);
        // A thread pool creates no thread per connection.
        s.variables
            .insert("thread_handling".into(), "pool-of-threads".into());
        assert!(finding(&s).is_none());
    }

    #[test]
    fn healthy_servers_are_calm() {
        assert!(finding(&fixtures::mariadb()).is_none());
        assert!(finding(&fixtures::mysql8()).is_none());
        // A sample at the usual pace (50000 / 864000 s ≈ 0.06/s).
        let mut s = fixtures::mysql8();
        fixtures::sample(&mut s, 1.0, &[("connections", 50_000)]);
        assert!(finding(&s).is_none());
    }

    #[test]
    fn connection_rate_boundaries() {
        let mut s = fixtures::mariadb();
        fixtures::sample(&mut s, 2.0, &[("connections", 50_009)]); // 4.5/s
        assert!(finding(&s).is_none());
        fixtures::sample(&mut s, 2.0, &[("connections", 50_010)]); // 5/s
        let f = finding(&s).unwrap();
        assert_eq!(f.severity, Severity::Warning);
        assert!(
            f.summary.contains("5.00/s during the sample"),
            "{}",
            f.summary
        );
        // 5/s is no spike on a server that always takes 2/s.
        fixtures::set_status(&mut s, "connections", 1_728_000);
        fixtures::sample(&mut s, 2.0, &[("connections", 1_728_010)]);
        assert!(finding(&s).is_none());
    }

    /// Threads running at once are a busy server (server-busy), not connections arriving.
    #[test]
    fn running_threads_alone_are_no_spike() {
        let mut s = fixtures::mysql8();
        s.server.processlist_source = crate::snapshot::ProcesslistSource::InformationSchema;
        fixtures::set_status(&mut s, "threads_connected", 40);
        fixtures::set_status(&mut s, "threads_running", 40);
        assert!(finding(&s).is_none());
    }

    /// 25 sessions queued behind a metadata lock are a lock pile-up, not a traffic spike; 25
    /// really working are a busy server, not one either.
    #[test]
    fn lock_waiters_and_busy_statements_are_not_traffic() {
        let mut s = fixtures::mariadb();
        let waiters: Vec<_> = (1..=25)
            .map(|i| {
                fixtures::session(
                    i,
                    "app",
                    "10.0.0.2",
                    "Query",
                    30,
                    "Waiting for table metadata lock",
                    Some("SELECT * FROM orders"),
                )
            })
            .collect();
        fixtures::with_sessions(&mut s, waiters.clone());
        assert_eq!(s.status_now_u64("threads_running"), Some(26));
        assert!(finding(&s).is_none());
        let busy = waiters
            .into_iter()
            .map(|mut w| {
                w.state = "Sending data".into();
                w
            })
            .collect();
        fixtures::with_sessions(&mut s, busy);
        assert!(finding(&s).is_none());
        let busy = crate::diagnose::server_busy::check(&Analysis::new(&s), &Thresholds::default());
        assert_eq!(busy[0].slots, 25);
    }

    #[test]
    fn stalled_logins_are_no_storm() {
        let mut s = fixtures::mariadb();
        s.variables.insert("max_connections".into(), "20".into());
        let sessions = (1..=15)
            .map(|i| fixtures::login(i, "10.0.0.2", 30))
            .collect();
        fixtures::with_sessions(&mut s, sessions);
        assert!(finding(&s).is_none());
    }

    #[test]
    fn login_storm_near_the_limit_is_critical() {
        let mut s = fixtures::mariadb();
        s.variables.insert("max_connections".into(), "20".into());
        let mut sessions: Vec<_> = (1..=9).map(|i| fixtures::login(i, "10.0.0.2", 0)).collect();
        sessions.push(fixtures::session(
            10, "app", "10.0.0.2", "Sleep", 0, "", None,
        ));
        fixtures::with_sessions(&mut s, sessions.clone());
        assert!(finding(&s).is_none());
        sessions.push(fixtures::session(
            11, "app", "10.0.0.2", "Connect", 0, "login", None,
        ));
        fixtures::with_sessions(&mut s, sessions);
        let f = finding(&s).unwrap();
        assert_eq!(f.sessions.len(), 10);
        assert_eq!(f.severity, Severity::Warning, "12 of 20 is under 90%");
        // 12 of 13 is over 90 %.
        s.variables.insert("max_connections".into(), "13".into());
        let f = finding(&s).unwrap();
        assert_eq!(f.severity, Severity::Critical);
        assert!(
            f.summary.ends_with("with 12 of 13 connections in use."),
            "{}",
            f.summary
        );
    }

    #[test]
    fn login_storm_hidden_by_performance_schema_is_counted() {
        // MySQL 8.0.22+: performance_schema.processlist omits connections still authenticating,
        // so 30 of them show only in Threads_connected.
        let mut s = fixtures::mysql8();
        let sessions: Vec<_> = (1..=20)
            .map(|i| fixtures::session(i, "app", "10.0.0.2:4000", "Sleep", 5, "", None))
            .chain([fixtures::session(
                90,
                "event_scheduler",
                "localhost",
                "Daemon",
                100,
                "Waiting on empty queue",
                None,
            )])
            .collect();
        fixtures::with_sessions(&mut s, sessions);
        fixtures::set_status(&mut s, "threads_connected", 51);
        assert_eq!(crate::snapshot::dialect::unlisted_connections(&s), Some(30));
        let f = finding(&s).expect("a login storm");
        assert!(
            f.summary.contains("30 sessions are still logging in"),
            "{}",
            f.summary
        );
        // Without PROCESS the unlisted count says nothing.
        s.access.privileges.process = false;
        s.access.privileges.super_ = false;
        assert_eq!(crate::snapshot::dialect::unlisted_connections(&s), None);
        // information_schema lists them itself.
        s.access.privileges.process = true;
        s.server.processlist_source = crate::snapshot::ProcesslistSource::InformationSchema;
        assert_eq!(crate::snapshot::dialect::unlisted_connections(&s), None);
    }

    #[test]
    fn critical_threshold_decides() {
        let mut s = fixtures::mariadb();
        s.variables.insert("max_connections".into(), "100".into());
        fixtures::set_status(&mut s, "threads_connected", 30);
        fixtures::sample(&mut s, 2.0, &[("connections", 50_010)]); // 5/s
        assert_eq!(finding(&s).unwrap().severity, Severity::Warning);
        let th = Thresholds {
            critical: Threshold::Count(30),
            ..Thresholds::default()
        };
        assert_eq!(
            check(&Analysis::new(&s), &th)[0].severity,
            Severity::Critical
        );
    }
}
