//! `thread-cache`: connections pay for a new thread because the thread cache is off or too small.
//!
//! With one thread per connection, every connection the cache cannot serve creates a thread
//! (Threads_created); Threads_created / Connections is the cache miss rate
//! (https://dev.mysql.com/doc/refman/8.0/en/server-status-variables.html#statvar_Threads_created).
//! thread_cache_size 0 is a warning; a miss rate over 10 % after more than 1000 connections is an
//! info, over 50 % a warning. The suggestion follows MySQL's autosizing, 8 + max_connections / 100
//! (https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html#sysvar_thread_cache_size),
//! with at least 16. Skipped under a thread pool (MariaDB pool-of-threads, MySQL Enterprise
//! loaded-dynamically), where the cache is not used (https://mariadb.com/kb/en/thread-pool-in-mariadb/).

use super::common::{pct, share};
use super::globals::change_globals;
use super::{Finding, Severity, Thresholds};
use crate::snapshot::Snapshot;

/// Below this many connections the miss rate says little (a fresh server misses at first).
const MIN_CONNECTIONS: u64 = 1000;
/// thread_cache_size cannot go higher (https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html#sysvar_thread_cache_size).
const MAX_CACHE: u64 = 16_384;

pub fn check(snap: &Snapshot, _th: &Thresholds) -> Vec<Finding> {
    let handling = snap.var_str("thread_handling").unwrap_or_default();
    if handling.contains("pool-of-threads") || handling.contains("loaded-dynamically") {
        return vec![];
    }
    let Some(size) = snap.var_u64("thread_cache_size") else {
        return vec![];
    };
    let connections = snap.status_now_u64("connections").unwrap_or(0);
    let created = snap.status_now_u64("threads_created").unwrap_or(0);
    let miss = share(created, connections);
    let missing = connections > MIN_CONNECTIONS && miss > 0.10;
    let (severity, summary) = if size == 0 {
        (
            Severity::Warning,
            format!(
                "thread_cache_size is 0: every new connection creates a thread ({created} created for {connections} connections since startup)."
            ),
        )
    } else if missing {
        (
            if miss > 0.5 {
                Severity::Warning
            } else {
                Severity::Info
            },
            format!(
                "thread_cache_size {size} misses {} of connections: {created} threads were created for {connections} connections.",
                pct(created, connections)
            ),
        )
    } else {
        return vec![];
    };
    let n = (8 + snap.max_connections() / 100)
        .max(16)
        .max(size.saturating_mul(2))
        .min(MAX_CACHE);
    let value = n.to_string();
    let mut f = Finding::new(
        "thread-cache",
        severity,
        "The thread cache does not serve new connections",
        summary,
    )
    .evidence("thread_cache_size", size)
    .evidence("thread_handling", handling)
    .evidence("Threads_created", created)
    .evidence("Connections", connections)
    .evidence(
        "thread cache hit rate",
        pct(connections.saturating_sub(created), connections),
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

    fn set(s: &mut Snapshot, k: &str, v: &str) {
        s.variables.insert(k.into(), v.into());
    }

    #[test]
    fn healthy_caches() {
        let th = Thresholds::default();
        assert!(check(&fixtures::mariadb(), &th).is_empty());
        assert!(check(&fixtures::mysql8(), &th).is_empty());
    }

    #[test]
    fn cache_off_is_a_warning() {
        let mut s = fixtures::mysql8();
        set(&mut s, "thread_cache_size", "0");
        let f = check(&s, &Thresholds::default());
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
        fixtures::set_status(&mut s, "connections", 10_000);
        fixtures::set_status(&mut s, "threads_created", 1_000); // exactly 10 %
        assert!(check(&s, &th).is_empty());
        fixtures::set_status(&mut s, "threads_created", 1_001);
        let f = check(&s, &th);
        assert_eq!(f[0].severity, Severity::Info);
        assert!(f[0].evidence.iter().any(|e| e.value == "90.0%"));
        assert!(
            f[0].actions
                .iter()
                .any(|a| a.text == "SET GLOBAL thread_cache_size = 20;")
        );
        fixtures::set_status(&mut s, "threads_created", 6_000);
        assert_eq!(check(&s, &th)[0].severity, Severity::Warning);
        // Too few connections to judge.
        fixtures::set_status(&mut s, "connections", 1_000);
        fixtures::set_status(&mut s, "threads_created", 900);
        assert!(check(&s, &th).is_empty());
    }

    #[test]
    fn thread_pool_is_skipped() {
        let mut s = fixtures::mariadb();
        set(&mut s, "thread_cache_size", "0");
        set(&mut s, "thread_handling", "pool-of-threads");
        assert!(check(&s, &Thresholds::default()).is_empty());
        let mut s = fixtures::mysql8();
        set(&mut s, "thread_cache_size", "0");
        set(&mut s, "thread_handling", "loaded-dynamically");
        assert!(check(&s, &Thresholds::default()).is_empty());
    }

    #[test]
    fn rds_uses_the_parameter_group() {
        let mut s = fixtures::mysql8();
        set(&mut s, "thread_cache_size", "0");
        s.server.rds = true;
        let f = check(&s, &Thresholds::default());
        assert_eq!(f[0].actions.len(), 1);
        assert!(
            f[0].actions[0]
                .text
                .contains("ParameterName=thread_cache_size,ParameterValue=16")
        );
    }
}
