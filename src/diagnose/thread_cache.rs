//! `thread-cache`: connections pay for a new thread because the thread cache is off or too small.
//!
//! With one thread per connection, every connection the cache cannot serve creates a thread
//! (Threads_created; https://dev.mysql.com/doc/refman/8.0/en/server-status-variables.html#statvar_Threads_created).
//! A thread can only be cached after it ended, so the first Max_used_connections threads had to
//! be created whatever the cache size: a server that opened 8,000 connections once and kept them
//! created 8,000 threads and no cache could have served one. Only the churn beyond that ramp-up
//! says anything about the cache:
//!
//! - avoidable misses = Threads_created − Max_used_connections,
//! - churn = Connections − Max_used_connections (connections that could have reused a thread),
//! - miss rate = avoidable misses / churn.
//!
//! thread_cache_size 0 with churn is a warning; a miss rate over 10 % after more than 1000
//! churned connections is an info, over 50 % a warning. The suggestion follows MySQL's
//! autosizing, 8 + max_connections / 100
//! (https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html#sysvar_thread_cache_size),
//! with at least 16 and at least double the current size, but never above max_connections: a
//! cache larger than the number of connections can never fill. Silent when no larger value
//! exists, and under a thread pool (MariaDB pool-of-threads, MySQL Enterprise
//! loaded-dynamically, Aurora thread-pools) where the cache is not used
//! (https://mariadb.com/kb/en/thread-pool-in-mariadb/).

use super::analysis::Analysis;
use super::common::{pct, share};
use super::globals::change_globals;
use super::{Finding, FindingId, Severity, Thresholds};

/// Below this many churned connections the miss rate says little.
const MIN_CHURN: u64 = 1000;
/// thread_cache_size cannot go higher (https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html#sysvar_thread_cache_size).
const MAX_CACHE: u64 = 16_384;

/// Whether the server runs a thread pool, where connections do not own a thread.
fn thread_pool(handling: &str) -> bool {
    crate::snapshot::dialect::Dialect::is_thread_pool(handling)
}

pub fn check(a: &Analysis<'_>, _th: &Thresholds) -> Vec<Finding> {
    let snap = a.snap;
    let handling = snap.var_str("thread_handling").unwrap_or_default();
    if thread_pool(handling) {
        return vec![];
    }
    let Some(size) = snap.var_u64("thread_cache_size") else {
        return vec![];
    };
    let connections = snap.status_now_u64("connections").unwrap_or(0);
    let created = snap.status_now_u64("threads_created").unwrap_or(0);
    let max_used = snap.status_now_u64("max_used_connections").unwrap_or(0);
    let churn = connections.saturating_sub(max_used);
    let avoidable = created.saturating_sub(max_used);
    let miss = share(avoidable, churn);
    let (severity, summary) = if size == 0 && avoidable > 0 {
        (
            Severity::Warning,
            format!(
                "thread_cache_size is 0: every new connection creates a thread ({avoidable} threads created beyond the {max_used} the busiest moment needed)."
            ),
        )
    } else if churn > MIN_CHURN && miss > 0.10 {
        (
            if miss > 0.5 {
                Severity::Warning
            } else {
                Severity::Info
            },
            format!(
                "thread_cache_size {size} misses {} of reconnections: {avoidable} threads were created for {churn} connections beyond the busiest moment ({max_used}).",
                pct(avoidable, churn)
            ),
        )
    } else {
        return vec![];
    };
    let n = (8 + snap.max_connections() / 100)
        .max(16)
        .max(size.saturating_mul(2))
        .min(snap.max_connections())
        .min(MAX_CACHE);
    if n <= size {
        return vec![];
    }
    let value = n.to_string();
    let mut f = Finding::new(
        FindingId::ThreadCache,
        severity,
        "The thread cache does not serve new connections",
        summary,
    )
    .evidence("thread_cache_size", size)
    .evidence("thread_handling", handling)
    .evidence("Threads_created", created)
    .evidence("Connections", connections)
    .evidence("Max_used_connections", max_used)
    .evidence(
        "thread cache hit rate (beyond the busiest moment)",
        pct(churn.saturating_sub(avoidable), churn),
    );
    if let Some(cached) = snap.status_now_u64("threads_cached") {
        f = f.evidence("Threads_cached", cached);
    }
    for a in change_globals(snap, None, &[("thread_cache_size", &value)]) {
        f = f.action(a);
    }
    vec![f]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures;
    use crate::snapshot::Snapshot;

    fn set(s: &mut Snapshot, k: &str, v: &str) {
        s.variables.insert(k.into(), v.into());
    }

    #[test]
    fn healthy_caches() {
        let th = Thresholds::default();
        assert!(check(&Analysis::new(&fixtures::mariadb()), &th).is_empty());
        assert!(check(&Analysis::new(&fixtures::mysql8()), &th).is_empty());
    }

    #[test]
    fn cache_off_is_a_warning() {
        let mut s = fixtures::mysql8();
        set(&mut s, "thread_cache_size", "0");
        let f = check(&Analysis::new(&s), &Thresholds::default());
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(
            f[0].actions
                .iter()
                .any(|a| a.text == "SET GLOBAL thread_cache_size = 16;")
        );
        assert!(
            f[0].actions
                .iter()
                .any(|a| a.text == "[mysqld]\nthread_cache_size = 16")
        );
    }

    #[test]
    fn miss_rate_boundaries() {
        let th = Thresholds::default();
        let mut s = fixtures::mariadb();
        set(&mut s, "thread_cache_size", "10");
        set(&mut s, "max_connections", "1000");
        fixtures::set_status(&mut s, "max_used_connections", 500);
        fixtures::set_status(&mut s, "connections", 10_500);
        fixtures::set_status(&mut s, "threads_created", 1_500); // exactly 10 % of the churn
        assert!(check(&Analysis::new(&s), &th).is_empty());
        fixtures::set_status(&mut s, "threads_created", 1_501);
        let f = check(&Analysis::new(&s), &th);
        assert_eq!(f[0].severity, Severity::Info);
        assert!(f[0].evidence.iter().any(|e| e.value == "90.0%"));
        assert!(
            f[0].actions
                .iter()
                .any(|a| a.text == "SET GLOBAL thread_cache_size = 20;")
        );
        fixtures::set_status(&mut s, "threads_created", 6_500);
        assert_eq!(
            check(&Analysis::new(&s), &th)[0].severity,
            Severity::Warning
        );
        // Too little churn to judge.
        fixtures::set_status(&mut s, "connections", 1_400);
        fixtures::set_status(&mut s, "threads_created", 1_300);
        assert!(check(&Analysis::new(&s), &th).is_empty());
    }

    #[test]
    fn a_ramp_up_is_not_a_miss() {
        // 8,000 connections opened once and kept: no thread ever ended, none could be cached.
        let mut s = fixtures::mariadb();
        set(&mut s, "thread_cache_size", "10");
        set(&mut s, "max_connections", "10000");
        fixtures::set_status(&mut s, "max_used_connections", 8_000);
        fixtures::set_status(&mut s, "connections", 8_100);
        fixtures::set_status(&mut s, "threads_created", 8_000);
        assert!(check(&Analysis::new(&s), &Thresholds::default()).is_empty());
        // Even with the cache off, a ramp-up alone is no reason to turn it on.
        set(&mut s, "thread_cache_size", "0");
        assert!(check(&Analysis::new(&s), &Thresholds::default()).is_empty());
    }

    #[test]
    fn never_suggests_more_than_max_connections() {
        // 88 % hit rate with a cache of 151 on a 151-connection server: nothing larger helps.
        let mut s = fixtures::mariadb();
        set(&mut s, "max_connections", "151");
        set(&mut s, "thread_cache_size", "151");
        fixtures::set_status(&mut s, "max_used_connections", 151);
        fixtures::set_status(&mut s, "connections", 20_151);
        fixtures::set_status(&mut s, "threads_created", 2_551);
        assert!(check(&Analysis::new(&s), &Thresholds::default()).is_empty());
        // A smaller cache is raised, but only up to max_connections.
        set(&mut s, "thread_cache_size", "100");
        let f = check(&Analysis::new(&s), &Thresholds::default());
        assert!(
            f[0].actions
                .iter()
                .any(|a| a.text == "SET GLOBAL thread_cache_size = 151;"),
            "{:?}",
            f[0].actions
        );
    }

    #[test]
    fn thread_pool_is_skipped() {
        let mut s = fixtures::mariadb();
        set(&mut s, "thread_cache_size", "0");
        set(&mut s, "thread_handling", "pool-of-threads");
        assert!(check(&Analysis::new(&s), &Thresholds::default()).is_empty());
        let mut s = fixtures::mysql8();
        set(&mut s, "thread_cache_size", "0");
        set(&mut s, "thread_handling", "loaded-dynamically");
        assert!(check(&Analysis::new(&s), &Thresholds::default()).is_empty());
        // Aurora MySQL's own pool.
        set(&mut s, "thread_handling", "thread-pools");
        assert!(check(&Analysis::new(&s), &Thresholds::default()).is_empty());
    }

    #[test]
    fn rds_uses_the_parameter_group() {
        let mut s = fixtures::mysql8();
        set(&mut s, "thread_cache_size", "0");
        s.server.rds = true;
        let f = check(&Analysis::new(&s), &Thresholds::default());
        assert_eq!(f[0].actions.len(), 1);
        assert!(
            f[0].actions[0]
                .text
                .contains("ParameterName=thread_cache_size,ParameterValue=16")
        );
    }
}
