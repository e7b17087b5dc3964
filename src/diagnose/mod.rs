//! Judging a snapshot: why does (or will) the server run out of connections?
//!
//! Pure functions from a [`Snapshot`] and [`Thresholds`] to [`Finding`]s: one file per cause,
//! each with its unit tests, no I/O and no printing. That is what makes every heuristic testable
//! from recorded data, including servers we cannot run here (MySQL 8, RDS, Aurora).
//! Finding ids are stable: scripts depend on them ([`FindingId`]).
//!
//! Here only the wiring: every heuristic in [`CHECKS`], [`diagnose`] runs them and ranks. What a
//! finding is lives in `finding.rs`, the shared scale and wording in `common.rs`.

pub mod aborted_clients;
pub mod account_rows;
pub mod analysis;
pub mod capacity;
pub mod common;
pub mod connection_cost;
pub mod connection_leak;
pub mod finding;
pub mod fixed_pool;
pub mod forecast;
pub mod globals;
pub mod handshake_stall;
pub mod history;
pub mod host_blocked;
pub mod idle_connections;
pub mod idle_transactions;
pub mod lock_pileup;
pub mod long_running_queries;
pub mod max_connections_capped;
pub mod max_connections_low;
pub mod memory;
pub mod memory_headroom;
pub mod near_limit;
pub mod no_process_privilege;
pub mod per_user_limit_missing;
pub mod pool_oversized;
pub mod refused_connections;
pub mod replication_stall;
pub mod rollback_in_progress;
pub mod server_busy;
pub mod server_full;
pub mod slow_query_log_off;
pub mod thread_cache;
pub mod threshold;
pub mod timeouts;
pub mod traffic_spike;
pub mod user_limit_reached;
pub mod verdict;
pub mod wait_timeout_high;
pub mod weight;

pub use analysis::Analysis;
pub use common::dur;
pub use finding::{Action, ActionKind, Finding, FindingId, Severity};
pub use threshold::{FailOn, Threshold, Thresholds, threshold_conflict};

// Public (but hidden) so that the property tests in tests/ and the fuzz targets in fuzz/ start
// from the same realistic snapshots as the unit tests.
#[doc(hidden)]
/// Snapshot builders for tests and benchmarks: only in test builds and with the `fixtures`
/// feature (which `cargo test` and `cargo bench` turn on through the dev-dependency on this
/// crate), never in the release library.
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;

use crate::snapshot::Snapshot;

/// Every suggested command of these findings, made to reach `replay`'s server (the one place the
/// connection options are added; see `connect::replay`).
pub fn for_target(findings: &mut [Finding], replay: &crate::connect::replay::Replay) {
    for a in findings.iter_mut().flat_map(|f| f.actions.iter_mut()) {
        a.for_target(replay);
    }
}

/// Every heuristic, in no particular order (the result is ranked).
const CHECKS: &[fn(&Analysis<'_>, &Thresholds) -> Vec<Finding>] = &[
    server_full::check,
    server_busy::check,
    near_limit::check,
    idle_connections::check,
    connection_leak::check,
    fixed_pool::check,
    idle_transactions::check,
    lock_pileup::check,
    long_running_queries::check,
    pool_oversized::check,
    aborted_clients::check,
    max_connections_capped::check,
    max_connections_low::check,
    memory_headroom::check,
    no_process_privilege::check,
    per_user_limit_missing::check,
    refused_connections::check,
    rollback_in_progress::check,
    user_limit_reached::check,
    host_blocked::check,
    handshake_stall::check,
    replication_stall::check,
    slow_query_log_off::check,
    thread_cache::check,
    traffic_spike::check,
    wait_timeout_high::check,
];

/// Run every heuristic, rank, and suggest each setting once. Builds the [`Analysis`] of `snap`;
/// a caller that needs it again (the verdict) builds it once and calls [`judge`].
pub fn diagnose(snap: &Snapshot, th: &Thresholds) -> Vec<Finding> {
    judge(&Analysis::new(snap), th)
}

/// [`diagnose`] over an analysis already built.
pub fn judge(a: &Analysis<'_>, th: &Thresholds) -> Vec<Finding> {
    if a.snap.refused.is_some() {
        // Nothing but the refusal could be read.
        return server_full::check(a, th);
    }
    // One analysis (index, wait graph, leaks) for every heuristic: lookups by id are hash
    // lookups, so each heuristic stays O(n log n) at 10,000 sessions.
    // The heuristics are independent: at 10,000 sessions they share two threads.
    let split = a.snap.sessions.len() >= crate::parallel::WORTH_SPLITTING;
    let mut findings: Vec<Finding> = crate::parallel::map(split, CHECKS, |c| c(a, th))
        .into_iter()
        .flatten()
        .collect();
    rank(&mut findings);
    suggest_each_setting_once(&mut findings);
    findings
}

/// Rank by the connections explained (see [`weight`]): causes before prevention advice, then
/// the connections each finding explains now (a lock root with its waiters; refusal findings that
/// hold no slots by the clients refused in the sample), then severity, then id (stable output).
pub fn rank(findings: &mut [Finding]) {
    let w = weight::Weights::of(findings);
    findings.sort_by_cached_key(|f| w.rank_key(f));
}

/// A report suggests each server setting once: the highest-ranked finding that changes it keeps
/// its actions, a later one gets a pointer instead of the same change again.
pub fn suggest_each_setting_once(findings: &mut [Finding]) {
    let mut owner: std::collections::BTreeMap<String, FindingId> = Default::default();
    for f in findings.iter_mut() {
        let mut pointers: Vec<(FindingId, String)> = Vec::new();
        let id = f.id;
        f.actions.retain(|a| {
            let earlier = a
                .settings
                .iter()
                .find_map(|s| owner.get(s).filter(|o| **o != id));
            match earlier {
                Some(o) => {
                    let p = (*o, a.settings.join(" and "));
                    if !pointers.contains(&p) {
                        pointers.push(p);
                    }
                    false
                }
                None => true,
            }
        });
        for a in &f.actions {
            for s in &a.settings {
                owner.entry(s.clone()).or_insert(id);
            }
        }
        for (o, names) in pointers {
            f.actions.push(Action::advice(format!(
                "{names}: see the change suggested under {o}"
            )));
        }
    }
}

/// The worst severity among findings, if any.
pub fn worst(findings: &[Finding]) -> Option<Severity> {
    findings.iter().map(|f| f.severity).max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::{self, session};

    /// At scale the heuristics share two threads (`parallel::map`): the findings, their order
    /// and their ranking are the ones made in turn.
    #[test]
    fn a_judgement_split_over_two_threads_is_the_one_made_in_turn() {
        let snap = fixtures::at_scale(2_400);
        assert!(snap.sessions.len() >= crate::parallel::WORTH_SPLITTING);
        let th = Thresholds::default();
        let a = Analysis::new(&snap);
        let mut in_turn: Vec<Finding> = CHECKS.iter().flat_map(|c| c(&a, &th)).collect();
        rank(&mut in_turn);
        suggest_each_setting_once(&mut in_turn);
        assert!(in_turn.len() >= 3, "{in_turn:?}");
        assert_eq!(judge(&a, &th), in_turn);
    }

    #[test]
    fn prevention_never_outranks_a_cause() {
        let mut v = vec![
            Finding::new(FindingId::PerUserLimitMissing, Severity::Critical, "t", "s").slots(100),
            Finding::new(FindingId::WaitTimeoutHigh, Severity::Warning, "t", "s").slots(50),
            Finding::new(FindingId::ConnectionLeak, Severity::Info, "t", "s").slots(12),
            Finding::new(FindingId::IdleConnections, Severity::Warning, "t", "s").slots(12),
        ];
        rank(&mut v);
        let ids: Vec<&str> = v.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "idle-connections",
                "connection-leak",
                "per-user-limit-missing",
                "wait-timeout-high"
            ]
        );
    }

    #[test]
    fn a_simple_leak_puts_the_leak_first_and_suggests_wait_timeout_once() {
        let mut s = fixtures::mariadb();
        s.variables.insert("wait_timeout".into(), "28800".into());
        s.variables
            .insert("interactive_timeout".into(), "28800".into());
        // 30 connections leaked over 30 minutes, in connect order.
        let v = (0..30)
            .map(|i| session(i + 1, "app", "10.0.0.7", "Sleep", 1900 - i * 60, "", None))
            .collect();
        fixtures::with_sessions(&mut s, v);
        let f = diagnose(&s, &Thresholds::default());
        assert_eq!(f[0].id, FindingId::ConnectionLeak, "{:?}", ids(&f));
        let changing: Vec<&str> = f
            .iter()
            .filter(|f| {
                f.actions
                    .iter()
                    .any(|a| a.settings.iter().any(|s| s == "wait_timeout"))
            })
            .map(|f| f.id.as_str())
            .collect();
        assert_eq!(changing, ["connection-leak"], "{:?}", ids(&f));
        let idle = f
            .iter()
            .find(|f| f.id == FindingId::IdleConnections)
            .unwrap();
        assert!(
            idle.actions
                .iter()
                .any(|a| a.text
                    == "wait_timeout and interactive_timeout: see the change suggested under connection-leak"),
            "{:?}",
            idle.actions
        );
    }

    fn ids(f: &[Finding]) -> Vec<&str> {
        f.iter().map(|f| f.id.as_str()).collect()
    }
}
