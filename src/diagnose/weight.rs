//! How much a finding weighs: the connections it explains now, the key findings are ranked by
//! and the verdict picks its cause with.
//!
//! A finding's `slots` are the connections it explains; a lock root's finding already counts
//! the sessions queued behind it (see `Analysis::held_up_by`). Three corrections make the
//! numbers comparable across findings:
//!
//! - `idle-connections` counts only the idle sessions no more specific finding lists (a leak, a
//!   pool, an idle transaction, a lock pile-up): it says how many sessions sit idle, the others
//!   say why, so it leads only when most idle sessions have no other explanation.
//! - A symptom (`server-full`, `near-limit`, `refused-connections`) states the total, not a
//!   reason, and a capacity finding (`max-connections-low`) says the limit is too low for
//!   whoever holds the slots: both weigh the clients refused during the sample
//!   (`Finding::refused`), as every finding that holds no slots does.
//! - Prevention advice is ranked after every cause whatever it weighs (see
//!   [`FindingId::is_prevention`]).
//!
//! Pure.

use crate::fast_hash::HashSet;

use super::{Finding, FindingId};

/// The findings that say *why* sessions sit idle: their sessions are not idle-connections' to
/// explain.
const EXPLAIN_IDLE: &[FindingId] = &[
    FindingId::ConnectionLeak,
    FindingId::FixedPool,
    FindingId::PoolOversized,
    FindingId::IdleTransactions,
    FindingId::LockPileup,
];

/// Whether the finding says the limit is too low for what holds the slots rather than who holds
/// them (`max-connections-low`, `max-connections-capped`): it explains no connection itself, and
/// is the verdict's cause only when no finding names who holds them and its peak is now (slots
/// above 0).
pub fn is_capacity(id: FindingId) -> bool {
    matches!(
        id,
        FindingId::MaxConnectionsLow | FindingId::MaxConnectionsCapped
    )
}

/// The weights of one set of findings (see the module doc).
#[derive(Debug, Default)]
pub struct Weights {
    /// Sessions a more specific finding than idle-connections lists.
    explained_idle: HashSet<u64>,
}

impl Weights {
    pub fn of(findings: &[Finding]) -> Weights {
        // Only idle-connections is weighed by them: without it, nothing to collect (a leak of
        // 10,000 sessions lists them all); with it, room for them all at once.
        if !findings.iter().any(|f| f.id == FindingId::IdleConnections) {
            return Weights::default();
        }
        let explaining = findings.iter().filter(|f| EXPLAIN_IDLE.contains(&f.id));
        let mut explained_idle = HashSet::default();
        explained_idle.reserve(explaining.clone().map(|f| f.sessions.len()).sum());
        explained_idle.extend(explaining.flat_map(|f| f.sessions.iter().copied()));
        Weights { explained_idle }
    }

    /// The connections `f` explains now: 0 for a symptom or a capacity finding, only the idle
    /// sessions nothing more specific lists for idle-connections, else its slots.
    pub fn held(&self, f: &Finding) -> u64 {
        if f.id.is_symptom() || is_capacity(f.id) {
            0
        } else if f.id == FindingId::IdleConnections {
            let elsewhere = f
                .sessions
                .iter()
                .filter(|id| self.explained_idle.contains(id))
                .count() as u64;
            f.slots.saturating_sub(elsewhere)
        } else {
            f.slots
        }
    }

    /// What `f` is ranked by: the connections it explains now, or for a finding that holds
    /// none, the clients refused during the sample.
    pub fn connections(&self, f: &Finding) -> u64 {
        match self.held(f) {
            0 => f.refused,
            held => held,
        }
    }

    /// The ranking key, smallest first: causes before prevention advice, then the connections
    /// explained, then severity, then id (stable output). A key, not a comparison: weighing
    /// idle-connections looks each of its sessions up (10,000 at scale), once per finding
    /// rather than once per comparison.
    pub fn rank_key(
        &self,
        f: &Finding,
    ) -> (
        bool,
        std::cmp::Reverse<u64>,
        std::cmp::Reverse<super::Severity>,
        FindingId,
    ) {
        (
            f.id.is_prevention(),
            std::cmp::Reverse(self.connections(f)),
            std::cmp::Reverse(f.severity),
            f.id,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::Severity;

    fn f(id: FindingId, sev: Severity, slots: u64, sessions: std::ops::Range<u64>) -> Finding {
        Finding::new(id, sev, "t", "s")
            .slots(slots)
            .sessions(sessions)
    }

    #[test]
    fn idle_connections_weighs_only_the_idle_sessions_nothing_else_explains() {
        let v = vec![
            f(FindingId::IdleConnections, Severity::Critical, 40, 1..41),
            f(FindingId::ConnectionLeak, Severity::Warning, 26, 1..27),
            f(FindingId::IdleTransactions, Severity::Warning, 4, 40..41),
        ];
        let w = Weights::of(&v);
        assert_eq!(w.connections(&v[0]), 13);
        assert_eq!(w.connections(&v[1]), 26);
        assert_eq!(w.connections(&v[2]), 4);
    }

    #[test]
    fn symptoms_and_findings_without_slots_weigh_the_clients_refused() {
        let full = f(FindingId::ServerFull, Severity::Critical, 151, 0..0).refused(7);
        let near = f(FindingId::NearLimit, Severity::Critical, 140, 0..0);
        let spike = f(FindingId::TrafficSpike, Severity::Warning, 0, 0..0).refused(3);
        let w = Weights::of(&[]);
        assert_eq!(w.connections(&full), 7);
        assert_eq!(w.connections(&near), 0);
        assert_eq!(w.connections(&spike), 3);
    }
}
