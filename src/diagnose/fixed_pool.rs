//! `fixed-pool`: a client's connections opened together and idle together are a fixed-size pool,
//! not a leak (see [`super::analysis::pools`] for the rule).
//!
//! A pool that never shrinks (HikariCP's minimumIdle defaults to maximumPoolSize) keeps every
//! connection while its application is quiet. Killing them frees nothing: the pool opens them
//! again at once, and the application pays the reconnects. The relief is the pool's
//! configuration: a small minimum idle and an idle timeout, so the pool gives back what it does
//! not use; kill plans leave these connections out by default (`kill-idle --include-pools` to
//! override). Severity from the shared slot scale.

use super::analysis::Analysis;
use super::common::{of_max, plural, severity_for_slots};
use super::{Action, Finding, FindingId, Thresholds};
use crate::units::secs;

/// Pools listed one by one in the evidence.
const LISTED: usize = 10;

pub fn check(a: &Analysis<'_>, _th: &Thresholds) -> Vec<Finding> {
    let pools = a.fixed_pools();
    if pools.is_empty() {
        return vec![];
    }
    let max = a.snap.max_connections();
    let n: u64 = pools.iter().map(|p| p.members.len() as u64).sum();
    let mut f = Finding::new(
        FindingId::FixedPool,
        severity_for_slots(n, max),
        format!(
            "{} of fixed size idle together",
            plural(pools.len() as u64, "connection pool")
        ),
        format!(
            "{} from {} opened together and idle together: {} that never shrink, not a leak; killing them is pointless, the pool reopens them at once.",
            plural(n, "connection"),
            plural(pools.len() as u64, "client"),
            if pools.len() == 1 { "a pool" } else { "pools" },
        ),
    )
    .evidence("pool connections", of_max(n, max));
    for p in pools.iter().take(LISTED) {
        let (first, last) = p.ids();
        f = f.evidence(
            &format!("pool {}", p.account()),
            format!(
                "{} connections, ids {first}–{last}, idle {}–{}",
                p.members.len(),
                secs(crate::units::float_to_u64(p.idle_s.0)),
                secs(crate::units::float_to_u64(p.idle_s.1))
            ),
        );
    }
    if pools.len() > LISTED {
        f = f.evidence("not listed", format!("{} more pools", pools.len() - LISTED));
    }
    vec![
        f.sessions(pools.iter().flat_map(|p| p.members.iter().map(|s| s.id)))
            .slots(n)
            .action(Action::advice(
                "let each pool shrink when idle: HikariCP minimumIdle=2 and idleTimeout=600000 (10 min; it only applies when minimumIdle < maximumPoolSize); Go database/sql SetMaxIdleConns(2) and SetConnMaxIdleTime(10*time.Minute); c3p0 minPoolSize and maxIdleTime",
            ))
            .action(Action::advice(
                "size maximumPoolSize to the connections an instance really uses at peak: every instance keeps its whole pool open",
            ))
            .action(Action::advice(
                "do not KILL these connections: the pool reopens them at once (kill-idle leaves them out unless --include-pools)",
            )),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::{self, session};

    #[test]
    fn three_fixed_pools_are_one_finding_with_configuration_relief() {
        let mut s = fixtures::mariadb();
        s.variables.insert("max_connections".into(), "200".into());
        let v = (0..168)
            .map(|i| {
                let host = format!("10.0.0.{}", i % 3 + 1);
                session(1000 + i, "app", &host, "Sleep", 300, "", None)
            })
            .collect();
        fixtures::with_sessions(&mut s, v);
        let f = check(&Analysis::new(&s), &Thresholds::default());
        assert_eq!(f.len(), 1);
        let f = &f[0];
        assert_eq!(f.slots, 168);
        assert_eq!(f.sessions.len(), 168);
        assert_eq!(
            fixtures::ev(f, "pool app@10.0.0.1"),
            "56 connections, ids 1000–1165, idle 5m00s–5m00s"
        );
        assert!(
            f.actions
                .iter()
                .all(|a| !a.text.contains("kill-idle --older"))
        );
        assert!(f.actions[0].text.contains("minimumIdle"));
        // idle-connections does not promise their slots: kill-idle leaves them out.
        let idle =
            crate::diagnose::idle_connections::check(&Analysis::new(&s), &Thresholds::default());
        assert_eq!(
            fixtures::ev(&idle[0], "slots freed by kill-idle --older-than 300s"),
            "0 (the 168 connections of fixed pools stay: see fixed-pool)"
        );
    }

    #[test]
    fn nothing_without_a_pool() {
        let s = fixtures::mariadb();
        assert!(check(&Analysis::new(&s), &Thresholds::default()).is_empty());
    }
}
