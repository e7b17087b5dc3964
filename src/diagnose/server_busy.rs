//! `server-busy`: more statements running at once than the server has CPU cores.
//!
//! Forty copies of one CPU-bound query hold forty connections because each runs slowly, and each
//! runs slowly because forty share the cores: that is a busy server, not a connection storm
//! (traffic-spike is about connections *arriving*). Counted: client sessions running a statement
//! (`Query`, `Execute`) for a second or more, that neither wait for a lock (lock-pileup) nor are
//! still logging in nor sleep in `SLEEP()` (state `User sleep`); a snapshot of a healthy server catches many statements of a few
//! milliseconds, which say nothing about load.
//!
//! The cores are known only when the server runs on this machine (localhost, 127.x, a socket:
//! `std::thread::available_parallelism`, see `Snapshot::host_cpu_cores`); then the finding
//! fires when the running statements exceed them. For a remote server it falls back to
//! [`MIN_RUNNING`] statements that are also half the connections, and says the cores are
//! unknown. The evidence groups the statements by digest, so forty copies are one line.

use super::analysis::Analysis;
use super::analysis::statements::by_digest;
use super::common::{ids, logging_in, plural};
use super::long_running_queries::digest_line;
use super::{Action, Finding, FindingId, Severity, Thresholds};
use crate::snapshot::Session;

/// Statements running at once that count as busy when the server's cores are unknown (and they
/// must be half the connections: otherwise the connections are other findings' to explain).
pub const MIN_RUNNING: u64 = 20;
/// Seconds a statement has run before it counts as load.
const MIN_RUNNING_S: f64 = 1.0;
/// Digest groups listed in the evidence.
const LISTED: usize = 5;

/// A client statement working (not waiting for a lock, not logging in) for a second or more.
fn working(a: &Analysis<'_>, s: &Session) -> bool {
    let busy = s.command.eq_ignore_ascii_case("Query") || s.command.eq_ignore_ascii_case("Execute");
    // `SELECT SLEEP(n)` shows state `User sleep`: it holds a connection but no core.
    let sleeping = s.state.eq_ignore_ascii_case("User sleep");
    busy && !sleeping && !a.is_waiting(s) && !logging_in(s) && s.time_secs_f64() >= MIN_RUNNING_S
}

pub fn check(a: &Analysis<'_>, th: &Thresholds) -> Vec<Finding> {
    let snap = a.snap;
    let running: Vec<&Session> = a.oldest_first(a.clients().filter(|s| working(a, s)).collect());
    let n = running.len() as u64;
    let connected = snap.threads_connected();
    let cores = snap.host_cpu_cores.filter(|c| *c > 0);
    let busy = match cores {
        Some(c) => n > c,
        None => n >= MIN_RUNNING && n.saturating_mul(2) >= connected,
    };
    if !busy {
        return vec![];
    }
    let max = snap.max_connections();
    let near_full = connected as f64 >= th.critical.connections(max);
    let severity = if near_full {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let groups = by_digest(&running);
    let against = match cores {
        Some(c) => format!(
            "on {} (the server runs on this machine)",
            plural(c, "CPU core")
        ),
        None => format!(
            "with {connected} connected; the server's CPU cores are unknown (it is not on this machine): compare with its core count"
        ),
    };
    let mut f = Finding::new(
        FindingId::ServerBusy,
        severity,
        "More statements running than the server can run at once",
        format!(
            "{} running at once for a second or more {against}; {} distinct {}.",
            plural(n, "client statement"),
            groups.len(),
            if groups.len() == 1 {
                "statement"
            } else {
                "statements"
            },
        ),
    )
    .evidence("statements running ≥ 1s", n)
    .evidence(
        "CPU cores",
        cores.map_or("unknown (remote server)".to_string(), |c| c.to_string()),
    );
    if let Some(r) = snap.status_now_u64("threads_running") {
        f = f.evidence("Threads_running", r);
    }
    for g in groups.iter().take(LISTED) {
        f = f.evidence(&format!("digest ×{}", g.count()), digest_line(g));
    }
    if groups.len() > LISTED {
        let rest: usize = groups.iter().skip(LISTED).map(|g| g.sessions.len()).sum();
        f = f.evidence("not listed", format!("{rest} more statements"));
    }
    vec![
        f.sessions(ids(&running))
            .slots(n)
            .action(Action::advice(
                "the server is CPU-bound, not short of connections: more connections make every statement slower; raising max_connections makes it worse",
            ))
            .action(Action::advice(
                "EXPLAIN the top digest above and add the missing index or cache its result: one statement shape run by many sessions is one fix",
            ))
            .action(Action::advice(
                "cap the application pools near the server's cores (a few connections per core) and let requests queue in the application, not in the server",
            ))
            .action(Action::command(
                "conncheck sessions --group-by user   # which accounts run them",
            )),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::{self, session};
    use crate::diagnose::traffic_spike;

    fn query(id: u64, sql: &str) -> Session {
        session(
            id,
            "app",
            "10.0.0.2",
            "Query",
            30,
            "Sending data",
            Some(sql),
        )
    }

    fn finding(s: &crate::snapshot::Snapshot) -> Option<Finding> {
        check(&Analysis::new(s), &Thresholds::default())
            .into_iter()
            .next()
    }

    /// Forty identical CPU-bound queries on a local 8-core server: busy, one digest line, and
    /// no traffic-spike (no connection arrives).
    #[test]
    fn identical_cpu_bound_queries_are_a_busy_server_not_a_storm() {
        let mut s = fixtures::mariadb();
        s.host_cpu_cores = Some(8);
        let v = (1..=40)
            .map(|i| {
                query(
                    i,
                    &format!("SELECT SUM(SQRT(seq + {i})) FROM seq_1_to_100000000"),
                )
            })
            .collect();
        fixtures::with_sessions(&mut s, v);
        let f = finding(&s).expect("server-busy");
        assert_eq!(f.slots, 40);
        assert!(
            f.summary.starts_with(
                "40 client statements running at once for a second or more on 8 CPU cores"
            ),
            "{}",
            f.summary
        );
        assert!(f.summary.contains("1 distinct statement."), "{}", f.summary);
        let digest = fixtures::ev(&f, "digest ×40");
        assert!(
            digest.starts_with(
                "SELECT SUM(SQRT(seq + ?)) FROM seq_1_to_100000000; clients app@10.0.0.2 ×40"
            ),
            "{digest}"
        );
        assert!(
            traffic_spike::check(&Analysis::new(&s), &Thresholds::default()).is_empty(),
            "running statements are no connection storm"
        );
        // Eight on eight cores is not over.
        fixtures::with_sessions(&mut s, (1..=8).map(|i| query(i, "SELECT 1")).collect());
        assert!(finding(&s).is_none());
        fixtures::with_sessions(&mut s, (1..=9).map(|i| query(i, "SELECT 1")).collect());
        assert_eq!(finding(&s).unwrap().slots, 9);
    }

    #[test]
    fn remote_servers_need_many_running_and_say_cores_are_unknown() {
        let mut s = fixtures::mariadb();
        assert_eq!(s.host_cpu_cores, None);
        fixtures::with_sessions(&mut s, (1..=19).map(|i| query(i, "SELECT 1")).collect());
        assert!(finding(&s).is_none());
        let mut v: Vec<Session> = (1..=20).map(|i| query(i, "SELECT 1")).collect();
        fixtures::with_sessions(&mut s, v.clone());
        let f = finding(&s).unwrap();
        assert!(f.summary.contains("CPU cores are unknown"), "{}", f.summary);
        assert_eq!(fixtures::ev(&f, "CPU cores"), "unknown (remote server)");
        // Under half of the connections: the sleepers are other findings' to explain.
        v.extend((21..=42).map(|i| session(i, "app", "10.0.0.2", "Sleep", 5, "", None)));
        fixtures::with_sessions(&mut s, v);
        assert!(finding(&s).is_none());
    }

    /// Lock waiters, logins and statements of a few milliseconds are no load.
    #[test]
    fn waiters_logins_and_short_statements_are_not_counted() {
        let mut s = fixtures::mariadb();
        s.host_cpu_cores = Some(2);
        let mut v: Vec<Session> = (1..=25)
            .map(|i| {
                session(
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
        v.extend((26..=30).map(|i| {
            session(
                i,
                "app",
                "10.0.0.2",
                "Query",
                0,
                "Sending data",
                Some("SELECT 1"),
            )
        }));
        v.extend((31..=35).map(|i| {
            session(
                i,
                "unauthenticated user",
                "10.0.0.2",
                "Connect",
                5,
                "login",
                None,
            )
        }));
        fixtures::with_sessions(&mut s, v);
        assert!(finding(&s).is_none());
    }

    #[test]
    fn near_the_limit_it_is_critical() {
        let mut s = fixtures::mariadb();
        s.host_cpu_cores = Some(4);
        s.variables.insert("max_connections".into(), "20".into());
        fixtures::with_sessions(&mut s, (1..=19).map(|i| query(i, "SELECT 1")).collect());
        assert_eq!(finding(&s).unwrap().severity, Severity::Critical);
    }
}
