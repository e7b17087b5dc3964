//! `connection-leak`: one client opens connections and never closes them.
//!
//! A leak leaves a staircase: one client (user@host, same default database and program name when
//! the server shows them) with many sleeping sessions whose idle ages are spread out, one step
//! each time a code path forgot to close its connection. A pool that pings or reuses its
//! connections keeps every idle age short; a job that stalled leaves ages that are all the same.
//! So, per client, with `stale` = its sleeping sessions idle for `--idle-threshold` or more:
//!
//! - at least 10 stale sessions and 5 % of max_connections (fewer is noise; idle-connections
//!   still counts them);
//! - their ages are spread: the oldest is idle at least 1.5 × as long as the youngest (connections
//!   were abandoned over time, not in one burst).
//!
//! Severity follows the shared slot scale of [`super::common`] on the stale sessions (so at least
//! a warning). The stale sessions are the ones listed and the slots at stake: the client's young
//! sleepers are still in use.

use super::common::{
    at_least, clients, group_by, ids, of_max, oldest_first, pct, plural, severity_for_slots, share,
    shell_arg, timeout_actions,
};
use super::{Action, Finding, Thresholds, dur};
use crate::render::secs;
use crate::snapshot::{Session, Snapshot};

/// The fewest stale sessions from one client that make a leak.
const MIN_STALE: usize = 10;
/// ... and their smallest share of max_connections.
const MIN_SHARE: f64 = 0.05;

pub fn check(snap: &Snapshot, th: &Thresholds) -> Vec<Finding> {
    let max = snap.max_connections();
    let sleeping = clients(snap).filter(|s| s.is_sleeping());
    let by_client = group_by(sleeping, |s| {
        (
            s.user.as_str(),
            s.client_host(),
            s.db.as_deref(),
            s.program.as_deref(),
        )
    });
    by_client
        .into_values()
        .filter_map(|sessions| {
            let stale = oldest_first(
                snap,
                sessions
                    .iter()
                    .copied()
                    .filter(|s| at_least(s, th.idle))
                    .collect(),
            );
            let (oldest, youngest) = (stale.first()?.time_s, stale.last()?.time_s);
            let leak = stale.len() >= MIN_STALE
                && share(stale.len() as u64, max) >= MIN_SHARE
                && oldest > youngest
                && 2 * oldest >= 3 * youngest;
            leak.then(|| finding(snap, th, &sessions, &stale))
        })
        .collect()
}

fn finding(snap: &Snapshot, th: &Thresholds, sleeping: &[&Session], stale: &[&Session]) -> Finding {
    let max = snap.max_connections();
    let s0 = stale[0];
    let n = stale.len() as u64;
    let threshold = dur(th.idle);
    let mut client = s0.account();
    let mut details: Vec<String> = Vec::new();
    if let Some(db) = &s0.db {
        details.push(format!("db {db}"));
    }
    if let Some(p) = &s0.program {
        details.push(format!("program {p}"));
    }
    if !details.is_empty() {
        client = format!("{client} ({})", details.join(", "));
    }
    let mut ages: Vec<u64> = sleeping.iter().map(|s| s.time_s).collect();
    ages.sort_unstable();
    let q = |p: f64| secs(quantile(&ages, p));
    let mut filter = format!(
        "--match-user {} --match-host {}",
        shell_arg(&s0.user),
        shell_arg(s0.client_host())
    );
    if let Some(db) = &s0.db {
        filter.push_str(&format!(" --match-db {}", shell_arg(db)));
    }
    let mut f = Finding::new(
        "connection-leak",
        severity_for_slots(n, max),
        format!("{} is leaking connections", s0.account()),
        format!(
            "{} holds {}, {n} of them ({} of max_connections {max}) idle from {} to {}: a staircase of idle ages, connections opened and never closed.",
            s0.account(),
            plural(sleeping.len() as u64, "sleeping connection"),
            pct(n, max),
            secs(stale[stale.len() - 1].time_s),
            secs(s0.time_s),
        ),
    )
    .evidence("client", client)
    .evidence("sleeping connections", sleeping.len())
    .evidence(&format!("idle ≥ {threshold}"), of_max(n, max))
    .evidence(
        "idle ages",
        format!(
            "min {}, median {}, p90 {}, max {}",
            q(0.0),
            q(0.5),
            q(0.9),
            q(1.0)
        ),
    )
    .sessions(ids(stale))
    .slots(n)
    .action(Action::command(format!(
        "conncheck kill-idle --older-than {threshold} {filter} --dry-run   # the {n} stale connections of this client; then without --dry-run"
    )))
    .action(Action::command(format!(
        "conncheck sessions {filter} --sleeping"
    )))
    .action(Action::advice(
        "close every connection you open on every path: finally / try-with-resources (Java), `with` (Python), defer db.Close() / rows.Close() (Go); better, borrow from a pool with leak detection (HikariCP leakDetectionThreshold)",
    ));
    for a in timeout_actions(snap, th.idle) {
        f = f.action(a);
    }
    f
}

/// Nearest-rank quantile of sorted values (`p` in 0..=1).
fn quantile(sorted: &[u64], p: f64) -> u64 {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::ev;
    use crate::diagnose::fixtures::{self, session};
    use crate::diagnose::{ActionKind, Severity};

    fn sleeper(id: u64, user: &str, host: &str, idle_s: u64) -> Session {
        session(id, user, host, "Sleep", idle_s, "", None)
    }

    /// `n` sessions of app@10.0.0.7 idle `start`, `start + step`, … seconds, ids from `first`.
    fn staircase(first: u64, n: u64, start: u64, step: u64) -> Vec<Session> {
        (0..n)
            .map(|i| sleeper(first + i, "app", "10.0.0.7", start + i * step))
            .collect()
    }

    #[test]
    fn healthy_servers_do_not_leak() {
        let th = Thresholds::default();
        assert!(check(&fixtures::mariadb(), &th).is_empty());
        assert!(check(&fixtures::mysql8(), &th).is_empty());
    }

    #[test]
    fn a_staircase_of_stale_connections_is_a_leak() {
        let mut s = fixtures::mariadb();
        // A warm pool of 5 plus 12 leaked connections idle 300s, 400s … 1400s.
        let mut v: Vec<Session> = (100..105)
            .map(|i| sleeper(i, "app", "10.0.0.7", 2))
            .collect();
        v.extend(staircase(1, 12, 300, 100));
        v.push(sleeper(200, "web", "10.0.0.8", 5000));
        fixtures::with_sessions(&mut s, v);
        let f = check(&s, &Thresholds::default());
        assert_eq!(f.len(), 1);
        let f = &f[0];
        assert_eq!(f.id, "connection-leak");
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(f.sessions, vec![12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(f.slots, 12);
        assert_eq!(ev(f, "client"), "app@10.0.0.7 (db shop)");
        assert_eq!(ev(f, "sleeping connections"), "17");
        assert_eq!(ev(f, "idle ≥ 300s"), "12 of 151 (7.9%)");
        // 17 ages: five of 2s, then 300..=1400: median is the 9th (600s), p90 the 16th (1300s).
        assert_eq!(
            ev(f, "idle ages"),
            "min 2s, median 10m00s, p90 21m40s, max 23m20s"
        );
        assert!(
            f.summary.contains("17 sleeping connections"),
            "{}",
            f.summary
        );
        assert!(f.summary.contains("5m00s to 23m20s"), "{}", f.summary);
        assert_eq!(
            f.actions[0].text.split("   #").next().unwrap(),
            "conncheck kill-idle --older-than 300s --match-user app --match-host 10.0.0.7 --match-db shop --dry-run"
        );
        assert_eq!(
            f.actions[1].text,
            "conncheck sessions --match-user app --match-host 10.0.0.7 --match-db shop --sleeping"
        );
        assert!(
            f.actions
                .iter()
                .any(|a| a.kind == ActionKind::Advice && a.text.contains("finally"))
        );
        assert!(f.actions.iter().any(|a| a.text.contains("wait_timeout")));
    }

    #[test]
    fn count_and_share_boundaries() {
        let th = Thresholds::default();
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(&mut s, staircase(1, 9, 300, 60));
        assert!(check(&s, &th).is_empty(), "9 stale sessions are not enough");
        fixtures::with_sessions(&mut s, staircase(1, 10, 300, 60));
        assert_eq!(check(&s, &th).len(), 1);

        // 10 sessions are under 5 % of 201 slots; 11 are not (5.5 %).
        s.variables.insert("max_connections".into(), "201".into());
        assert!(check(&s, &th).is_empty());
        fixtures::with_sessions(&mut s, staircase(1, 11, 300, 60));
        assert_eq!(check(&s, &th).len(), 1);

        // Half the slots: critical.
        s.variables.insert("max_connections".into(), "22".into());
        assert_eq!(check(&s, &th)[0].severity, Severity::Critical);
    }

    #[test]
    fn ages_must_be_spread() {
        let th = Thresholds::default();
        let mut s = fixtures::mysql8();
        // A stalled batch: 20 connections all idle about an hour.
        fixtures::with_sessions(&mut s, staircase(1, 20, 3600, 1));
        assert!(check(&s, &th).is_empty());
        // Oldest at exactly 1.5 × the youngest: a staircase.
        fixtures::with_sessions(&mut s, staircase(1, 11, 400, 20));
        assert_eq!(check(&s, &th).len(), 1);
        // Just under 1.5 ×.
        fixtures::with_sessions(&mut s, staircase(1, 11, 401, 20));
        assert!(check(&s, &th).is_empty());
        // A busy pool keeps every age short: nothing is stale.
        fixtures::with_sessions(&mut s, staircase(1, 60, 0, 3));
        assert!(check(&s, &th).is_empty());
    }

    #[test]
    fn clients_are_told_apart_by_host_db_and_program() {
        let mut s = fixtures::mysql8();
        let mut v = staircase(1, 10, 300, 60);
        // Same user and host, other port and other program: a different client.
        for (i, x) in staircase(11, 10, 300, 60).into_iter().enumerate() {
            let mut x = x;
            x.program = Some("billing".into());
            x.host = format!("10.0.0.7:{}", 50_000 + i);
            v.push(x);
        }
        // Another host, one short of a leak.
        v.extend((0..9).map(|i| sleeper(30 + i, "app", "10.0.0.9", 300 + 60 * i)));
        fixtures::with_sessions(&mut s, v);
        let f = check(&s, &Thresholds::default());
        assert_eq!(f.len(), 2);
        assert_eq!(ev(&f[0], "client"), "app@10.0.0.7 (db shop)");
        assert_eq!(f[0].sessions, (1..=10).rev().collect::<Vec<_>>());
        assert_eq!(
            ev(&f[1], "client"),
            "app@10.0.0.7 (db shop, program billing)"
        );
        assert_eq!(f[1].sessions, (11..=20).rev().collect::<Vec<_>>());
    }

    #[test]
    fn replication_system_and_killed_rows_are_not_clients() {
        let mut s = fixtures::mariadb();
        let mut v = staircase(1, 9, 300, 60);
        v.push(session(10, "app", "10.0.0.7", "Killed", 5000, "", None));
        v.push(session(11, "system user", "", "Sleep", 5000, "", None));
        fixtures::with_sessions(&mut s, v);
        assert!(check(&s, &Thresholds::default()).is_empty());
    }

    #[test]
    fn quantiles() {
        let v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        assert_eq!(quantile(&v, 0.0), 1);
        assert_eq!(quantile(&v, 0.5), 5);
        assert_eq!(quantile(&v, 0.9), 9);
        assert_eq!(quantile(&v, 1.0), 10);
        assert_eq!(quantile(&[7], 0.5), 7);
    }
}
