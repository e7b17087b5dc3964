//! `pool-oversized`: connection pools keep more idle connections warm than the server has room
//! for, or clients do not pool at all.
//!
//! A pool's spare connections sleep with short idle times (the pool hands them out in turn or
//! pings them), so neither kill-idle nor wait_timeout ever frees them: each application instance
//! simply reserves its maximumPoolSize. Counted per client (user@host): its sleeping sessions idle
//! for less than `--idle-threshold` and outside a transaction ("warm"); those in a statement or a
//! transaction are in use. When the warm connections of all clients take half of
//! max_connections, the next instance or traffic burst gets ERROR 1040: severity comes from the
//! shared slot scale of [`super::common`], so that is critical.
//!
//! The other failure of pooling is none at all: a high Connections rate (≥ 20 new connections a
//! second, during the sample or since startup) means a connect per request. That is reported as
//! evidence and advice in the same finding, or alone as info (it holds no slots by itself).
//!
//! Recommended pool size per client: twice its connections in use now, at least 5, rounded up to
//! a multiple of 5. One snapshot only sees the present, so the evidence says so.
//!
//! Right after a restart (uptime under the idle threshold, at least [`SETTLING_S`]) pools
//! refill at once and every idle session looks warm: the finding only says it is too early to
//! size them (info, no sizes; the connections still count as the slots they hold), and a
//! connection rate since startup (the reconnect burst) is not taken for churn.
//!
//! Sessions that connection-leak finds leaked are left out: a fresh leak sleeps under the idle
//! threshold too, but no pool size frees it.

use super::analysis::Analysis;
use super::common::{
    at_least, ids, of_max, pct, per_sec, plural, rate_basis, severity_for_slots, share, shell_arg,
};
use super::history::{SETTLING_S, settling, uptime_s};
use super::{Action, Finding, FindingId, Severity, Thresholds, dur};
use crate::snapshot::Session;
use crate::units::secs;

/// Warm idle connections from this share of max_connections make pools oversized.
const POOL_SHARE: f64 = 0.5;
/// New connections a second from which clients are not pooling.
const CHURN_PER_SEC: f64 = 20.0;
/// Pools listed one by one in the evidence.
const LISTED: usize = 10;

struct Pool<'a> {
    account: String,
    user: &'a str,
    host: &'a str,
    total: usize,
    in_use: usize,
    idle: usize,
    warm: Vec<&'a Session>,
}

impl Pool<'_> {
    /// Twice what is in use, at least 5, rounded up to a multiple of 5.
    fn recommended(&self) -> usize {
        (self.in_use * 2).max(5).div_ceil(5) * 5
    }
}

pub fn check(a: &Analysis<'_>, th: &Thresholds) -> Vec<Finding> {
    let snap = a.snap;
    let max = snap.max_connections();
    let in_trx = |s: &Session| a.transaction_of(s.id).is_some();
    // A fresh leak also sleeps under the idle threshold, but it is no pool: connection-leak
    // reports it, with a command that frees its slots.
    let leaked = a.leaked_ids();
    // A fixed pool that sat idle is fixed-pool's: its relief is the same configuration, told
    // there once.
    let fixed = a.fixed_pool_ids();
    let mut pools: Vec<Pool<'_>> = a
        .by_account()
        .iter()
        .map(|(&(user, host), sessions)| {
            let idle: Vec<&Session> = sessions
                .iter()
                .copied()
                .filter(|s| {
                    s.is_sleeping()
                        && !in_trx(s)
                        && !leaked.contains(&s.id)
                        && !fixed.contains(&s.id)
                })
                .collect();
            let leaked_here = sessions
                .iter()
                .filter(|s| leaked.contains(&s.id) || fixed.contains(&s.id))
                .count();
            Pool {
                account: sessions[0].account(),
                user,
                host,
                total: sessions.len(),
                in_use: sessions.len() - idle.len() - leaked_here,
                idle: idle.len(),
                warm: idle.into_iter().filter(|s| !at_least(s, th.idle)).collect(),
            }
        })
        .filter(|p| !p.warm.is_empty())
        .collect();
    pools.sort_by(|x, y| {
        y.warm
            .len()
            .cmp(&x.warm.len())
            .then_with(|| x.account.cmp(&y.account))
    });
    let warm: u64 = pools.iter().map(|p| p.warm.len() as u64).sum();
    // Right after a restart every pool reconnects at once and no session has been idle long:
    // seconds of data size no pool, and the since-startup connection rate is the reconnect
    // burst, not the traffic (docs/server-facts.md, "Counters and time").
    let young = settling(snap, th.idle.as_secs());
    let measured = snap.status_after.is_some() && snap.sample_s > 0.0;
    let churn = snap
        .status_rate("connections")
        .filter(|r| *r >= CHURN_PER_SEC)
        .filter(|_| measured || !young);

    let mut f = if share(warm, max) >= POOL_SHARE && young {
        Finding::new(
            FindingId::PoolOversized,
            Severity::Info,
            format!("Pools hold {warm} idle connections {} after startup: too early to size them", secs(uptime_s(snap))),
            format!(
                "{} keep {warm} connections idle ({} of max_connections {max}), but the server started {} ago: pools refill at once after a restart, so their sizes are judged once it has been up {}.",
                plural(pools.len() as u64, "client"),
                pct(warm, max),
                secs(uptime_s(snap)),
                secs(SETTLING_S.max(th.idle.as_secs())),
            ),
        )
        .evidence("warm idle connections", of_max(warm, max))
        .evidence("uptime", secs(uptime_s(snap)))
        // They hold the slots all the same: the verdict weighs them.
        .sessions(ids(&a.oldest_first(
            pools.iter().flat_map(|p| p.warm.iter().copied()).collect(),
        )))
        .slots(warm)
    } else if share(warm, max) >= POOL_SHARE {
        oversized(a, th, &pools, warm)
    } else if let Some(rate) = churn {
        Finding::new(
            FindingId::PoolOversized,
            Severity::Info,
            "Clients open a new connection for every request: no connection pooling",
            format!(
                "{} new connections a second {}: clients connect per request instead of reusing pooled connections.",
                per_sec(rate),
                rate_basis(snap)
            ),
        )
    } else {
        return vec![];
    };
    if let Some(rate) = churn {
        f = f
            .evidence("new connections (Connections)", format!("{} {}", per_sec(rate), rate_basis(snap)))
            .action(Action::advice(
                "connections churn: open them once and reuse them through a pool (HikariCP, SQLAlchemy QueuePool, database/sql SetMaxIdleConns, PgBouncer-style ProxySQL or MaxScale in front of PHP) instead of connecting per request",
            ));
        if let Some(created) = snap.status_rate("threads_created") {
            f = f.evidence(
                "new threads (Threads_created)",
                format!(
                    "{} {} ({:.0}% of connections missed the thread cache)",
                    per_sec(created),
                    rate_basis(snap),
                    (created / rate * 100.0).min(100.0)
                ),
            );
        }
    }
    vec![f]
}

fn oversized(a: &Analysis<'_>, th: &Thresholds, pools: &[Pool<'_>], warm: u64) -> Finding {
    let max = a.snap.max_connections();
    let recommended: usize = pools.iter().map(Pool::recommended).sum();
    let held: usize = pools.iter().map(|p| p.total).sum();
    let top = &pools[0];
    let mut f = Finding::new(
        FindingId::PoolOversized,
        severity_for_slots(warm, max),
        format!("Connection pools keep {warm} idle connections warm"),
        format!(
            "{} keeping {warm} connections idle in their pools ({} of max_connections {max}, idle under {}): the next instance or burst gets ERROR 1040; pools of about {recommended} connections in all would do.",
            plural(pools.len() as u64, "client"),
            pct(warm, max),
            dur(th.idle),
        ),
    )
    .evidence("warm idle connections", of_max(warm, max))
    .evidence("clients", pools.len())
    .evidence(
        "recommended pool sizes, in all",
        format!("{recommended} (now {held}; twice the connections in use in this snapshot, at least 5)"),
    );
    for p in pools.iter().take(LISTED) {
        f = f.evidence(
            &format!("pool {}", p.account),
            format!(
                "{}: {} in use, {} idle ({} warm) → maximumPoolSize ≈ {}",
                plural(p.total as u64, "connection"),
                p.in_use,
                p.idle,
                p.warm.len(),
                p.recommended()
            ),
        );
    }
    if pools.len() > LISTED {
        f = f.evidence(
            "not listed",
            format!("{} more clients", pools.len() - LISTED),
        );
    }
    let all_warm: Vec<&Session> = pools.iter().flat_map(|p| p.warm.iter().copied()).collect();
    f.sessions(ids(&a.oldest_first(all_warm)))
        .slots(warm)
        .action(Action::command(format!(
            "conncheck sessions --match-user {} --match-host {} --sleeping   # the largest pool",
            shell_arg(&crate::filter::user_arg(top.user)),
            shell_arg(top.host)
        )))
        .action(Action::advice(format!(
            "size pools from the work, not the traffic: HikariCP's rule of thumb is connections = (core_count × 2) + effective_spindle_count of the database server, shared by every instance; pool size × instances, summed over applications, must fit max_connections {max} with room for admins and batch jobs"
        )))
        .action(Action::advice(
            "HikariCP: set maximumPoolSize to the recommendation, minimumIdle smaller than maximumPoolSize with idleTimeout (e.g. 600000 ms) so spare connections are closed, and maxLifetime a little shorter than wait_timeout",
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::ev;
    use crate::diagnose::fixtures::{self, session, trx};

    fn sleeper(id: u64, user: &str, host: &str, idle_s: u64) -> Session {
        session(id, user, host, "Sleep", idle_s, "", None)
    }

    fn busy(id: u64, user: &str, host: &str) -> Session {
        session(id, user, host, "Query", 1, "executing", Some("SELECT 1"))
    }

    #[test]
    fn healthy_servers_have_small_pools_and_little_churn() {
        let th = Thresholds::default();
        assert!(check(&Analysis::new(&fixtures::mariadb()), &th).is_empty());
        assert!(check(&Analysis::new(&fixtures::mysql8()), &th).is_empty());
    }

    #[test]
    fn pools_holding_half_the_slots_are_oversized() {
        // max_connections 151: 76 warm connections are half.
        let mut s = fixtures::mariadb();
        let mut v: Vec<Session> = (1..=50)
            .map(|i| sleeper(i, "app", "10.0.0.1", i % 7))
            .collect();
        v.extend((51..=53).map(|i| busy(i, "app", "10.0.0.1")));
        v.extend((60..=84).map(|i| sleeper(i, "web", "10.0.0.2", 30)));
        v.push(sleeper(85, "web", "10.0.0.2", 30));
        s.transactions.push(trx(85, "RUNNING", 40, 0, None)); // in use, not warm
        v.push(sleeper(86, "web", "10.0.0.2", 4000)); // stale, not warm
        fixtures::with_sessions(&mut s, v.clone());
        let th = Thresholds::default();
        let f = check(&Analysis::new(&s), &th);
        assert!(f.is_empty(), "75 warm connections are under half: {f:?}");

        v.push(sleeper(87, "web", "10.0.0.3", 0));
        fixtures::with_sessions(&mut s, v);
        let f = check(&Analysis::new(&s), &th);
        assert_eq!(f.len(), 1);
        let f = &f[0];
        assert_eq!(f.id, FindingId::PoolOversized);
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.slots, 76);
        assert_eq!(ev(f, "warm idle connections"), "76 of 151 (50.3%)");
        assert_eq!(ev(f, "clients"), "3");
        assert_eq!(
            ev(f, "pool app@10.0.0.1"),
            "53 connections: 3 in use, 50 idle (50 warm) → maximumPoolSize ≈ 10"
        );
        assert_eq!(
            ev(f, "pool web@10.0.0.2"),
            "27 connections: 1 in use, 26 idle (25 warm) → maximumPoolSize ≈ 5"
        );
        assert_eq!(
            ev(f, "pool web@10.0.0.3"),
            "1 connection: 0 in use, 1 idle (1 warm) → maximumPoolSize ≈ 5"
        );
        assert_eq!(
            ev(f, "recommended pool sizes, in all"),
            "20 (now 81; twice the connections in use in this snapshot, at least 5)"
        );
        // Oldest first: web's 30s sleepers, then app's 6s, 5s, … 0s.
        assert_eq!(f.sessions.len(), 76);
        assert_eq!(f.sessions[..3], [60, 61, 62]);
        assert_eq!(f.sessions[25..28], [6, 13, 20]);
        assert_eq!(*f.sessions.last().unwrap(), 87);
        assert!(!f.sessions.contains(&85) && !f.sessions.contains(&86));
        assert_eq!(
            f.actions[0].text.split("   #").next().unwrap(),
            "conncheck sessions --match-user app --match-host 10.0.0.1 --sleeping"
        );
        assert!(f.actions.iter().any(|a| {
            a.text
                .contains("(core_count × 2) + effective_spindle_count")
        }));
        assert!(
            f.actions
                .iter()
                .any(|a| a.text.contains("minimumIdle smaller than maximumPoolSize"))
        );
        assert!(
            !f.evidence
                .iter()
                .any(|e| e.name.starts_with("new connections"))
        );
    }

    #[test]
    fn seconds_after_a_restart_no_pool_is_sized_and_no_reconnect_burst_is_churn() {
        // 6 s after a restart, 100 pooled connections sleep warm and 600 connections were made
        // (100/s since startup: the reconnect burst): too early to judge the pools.
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(
            &mut s,
            (1..=100)
                .map(|i| sleeper(i, "app", "10.0.0.1", i % 3))
                .collect(),
        );
        fixtures::set_status(&mut s, "uptime", 6);
        fixtures::set_status(&mut s, "connections", 600);
        let f = check(&Analysis::new(&s), &Thresholds::default());
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].severity, f[0].slots), (Severity::Info, 100));
        assert!(
            f[0].title.contains("too early to size them"),
            "{}",
            f[0].title
        );
        assert!(!f[0].evidence.iter().any(|e| e.name.starts_with("pool ")));
        assert!(
            !f[0]
                .evidence
                .iter()
                .any(|e| e.name.starts_with("new connections"))
        );
        // An hour later the same pools are judged.
        fixtures::set_status(&mut s, "uptime", 3600);
        let f = check(&Analysis::new(&s), &Thresholds::default());
        assert_eq!((f[0].severity, f[0].slots), (Severity::Critical, 100));
    }

    #[test]
    fn recommendation_rounding() {
        let p = |in_use| Pool {
            account: String::new(),
            user: "",
            host: "",
            total: 0,
            in_use,
            idle: 0,
            warm: vec![],
        };
        assert_eq!(p(0).recommended(), 5);
        assert_eq!(p(2).recommended(), 5);
        assert_eq!(p(3).recommended(), 10);
        assert_eq!(p(5).recommended(), 10);
        assert_eq!(p(6).recommended(), 15);
    }

    #[test]
    fn churn_alone_is_info() {
        let th = Thresholds::default();
        let mut s = fixtures::mysql8();
        // 19 a second during a 2 s sample: fine; 20: no pooling.
        fixtures::sample(
            &mut s,
            2.0,
            &[("connections", 50_038), ("threads_created", 40)],
        );
        assert!(check(&Analysis::new(&s), &th).is_empty());
        fixtures::sample(
            &mut s,
            2.0,
            &[("connections", 50_040), ("threads_created", 60)],
        );
        let f = check(&Analysis::new(&s), &th);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Info);
        assert_eq!(f[0].slots, 0);
        assert!(f[0].sessions.is_empty());
        assert!(f[0].summary.contains("20.00/s"), "{}", f[0].summary);
        assert_eq!(
            ev(&f[0], "new connections (Connections)"),
            "20.00/s during the 2s sample"
        );
        assert_eq!(
            ev(&f[0], "new threads (Threads_created)"),
            "10.00/s during the 2s sample (50% of connections missed the thread cache)"
        );
        assert!(
            f[0].actions
                .iter()
                .any(|a| a.text.contains("reuse them through a pool"))
        );
    }

    #[test]
    fn churn_since_startup_and_with_oversized_pools() {
        let th = Thresholds::default();
        let mut s = fixtures::mariadb();
        s.variables.insert("max_connections".into(), "20".into());
        fixtures::with_sessions(
            &mut s,
            (1..=10).map(|i| sleeper(i, "app", "10.0.0.1", 1)).collect(),
        );
        // Lifetime average without a sample: 17 280 000 connections in 10 days = 20/s.
        fixtures::set_status(&mut s, "connections", 17_280_000);
        let f = &check(&Analysis::new(&s), &th)[0];
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.sessions, (1..=10).collect::<Vec<_>>());
        assert_eq!(
            ev(f, "new connections (Connections)"),
            "20.00/s since startup"
        );
    }

    #[test]
    fn only_clients_count() {
        let mut s = fixtures::mariadb();
        s.variables.insert("max_connections".into(), "10".into());
        let mut v: Vec<Session> = (1..=4).map(|i| sleeper(i, "app", "10.0.0.1", 1)).collect();
        v.push(session(5, "system user", "", "Sleep", 1, "", None));
        v.push(session(6, "app", "10.0.0.1", "Killed", 1, "", None));
        v.push(session(
            7,
            "event_scheduler",
            "localhost",
            "Daemon",
            1,
            "Waiting on empty queue",
            None,
        ));
        fixtures::with_sessions(&mut s, v);
        assert!(
            check(&Analysis::new(&s), &Thresholds::default()).is_empty(),
            "4 of 10 warm"
        );
    }
}
