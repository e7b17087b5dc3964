//! What a connection really costs, measured, beside the worst case of [`memory::estimate`].
//!
//! The server reports what it has allocated for each session (`Session::memory_bytes`: MariaDB
//! `PROCESSLIST.MEMORY_USED`, MySQL 8 performance_schema; see `snapshot::thread_memory`). From
//! the client sessions of the snapshot: the mean, the 95th percentile and the largest. The
//! projection for N connections is the global buffers plus N × p95: every connection costing
//! what the busiest twentieth cost now, next to fully used caches. The worst case is every
//! per-connection buffer allocated at once in every session (MySQLTuner's formula), routinely
//! 10–100× what servers use. A judgement relies on the measurement when at least
//! [`MIN_SESSIONS`] sessions were measured, otherwise on the worst case, and says which. Pure.

use serde::Serialize;

use super::memory;
use crate::snapshot::Snapshot;
use crate::units::bytes;

/// Fewer measured client sessions than this are not a basis for a projection.
pub const MIN_SESSIONS: usize = 3;

/// The per-session figures of one snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measured {
    /// Where the figures come from (e.g. `information_schema.PROCESSLIST.MEMORY_USED`).
    pub source: String,
    /// Client sessions measured (ours and server threads are not counted).
    pub sessions: usize,
    pub mean_per_connection_bytes: u64,
    pub p95_per_connection_bytes: u64,
    pub max_per_connection_bytes: u64,
    /// All measured sessions together.
    pub total_bytes: u64,
}

/// Which figure a judgement or a plan relies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    Measured,
    WorstCase,
}

impl Basis {
    pub fn name(self) -> &'static str {
        match self {
            Basis::Measured => "measured",
            Basis::WorstCase => "worst case",
        }
    }
}

/// The memory of `max_connections` connections, measured and worst case, and what raising the
/// limit from the current one to it adds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionCost {
    pub max_connections: u64,
    pub measured: Option<Measured>,
    /// global buffers + max_connections × measured p95.
    pub measured_bytes: Option<u64>,
    /// global buffers + max_connections × every per-connection buffer.
    pub worst_case_bytes: u64,
    pub global_bytes: u64,
    pub worst_case_per_connection_bytes: u64,
    /// Connections beyond the current max_connections (0 when not raising).
    pub added_connections: u64,
    /// added × measured p95, and added × every per-connection buffer.
    pub raise_cost_bytes: Option<u64>,
    pub worst_case_raise_bytes: u64,
    /// The server process's resident memory now (a local server), and MariaDB's own count of
    /// the memory it has allocated (`Memory_used`, global buffers included).
    pub server_rss_bytes: Option<u64>,
    pub server_memory_used_bytes: Option<u64>,
    pub host_memory_bytes: Option<u64>,
    pub relies_on: Basis,
}

/// The per-session figures, or None with fewer than [`MIN_SESSIONS`] measured client sessions.
pub fn measured(snap: &Snapshot) -> Option<Measured> {
    let source = snap.dialect().memory_source()?;
    let mut values: Vec<u64> = snap
        .sessions
        .iter()
        .filter(|s| s.is_client())
        .filter_map(|s| s.memory_bytes)
        .collect();
    if values.len() < MIN_SESSIONS {
        return None;
    }
    values.sort_unstable();
    let n = values.len();
    let total = values.iter().fold(0u64, |t, v| t.saturating_add(*v));
    // Nearest rank: the smallest value with at least 95 % of the sessions at or below it.
    let p95 = values[(n * 95).div_ceil(100).clamp(1, n) - 1];
    Some(Measured {
        source: source.to_string(),
        sessions: n,
        mean_per_connection_bytes: total / n as u64,
        p95_per_connection_bytes: p95,
        max_per_connection_bytes: values[n - 1],
        total_bytes: total,
    })
}

/// The cost of `max_connections` connections on this server (the configured value, or the one
/// a plan proposes).
pub fn cost(snap: &Snapshot, max_connections: u64, host_memory: Option<u64>) -> ConnectionCost {
    let est = memory::estimate(snap, max_connections, host_memory);
    let measured = measured(snap);
    let added = max_connections.saturating_sub(snap.max_connections());
    let p95 = measured.as_ref().map(|m| m.p95_per_connection_bytes);
    ConnectionCost {
        max_connections,
        measured_bytes: p95.map(|p| {
            est.global_bytes
                .saturating_add(p.saturating_mul(max_connections))
        }),
        worst_case_bytes: est.worst_case_bytes,
        global_bytes: est.global_bytes,
        worst_case_per_connection_bytes: est.per_connection_bytes,
        added_connections: added,
        raise_cost_bytes: p95.map(|p| p.saturating_mul(added)),
        worst_case_raise_bytes: est.per_connection_bytes.saturating_mul(added),
        server_rss_bytes: snap.server_rss_bytes,
        // MariaDB only: the name does not exist on MySQL.
        server_memory_used_bytes: snap.status_u64("memory_used"),
        host_memory_bytes: est.host_memory_bytes,
        relies_on: if measured.is_some() {
            Basis::Measured
        } else {
            Basis::WorstCase
        },
        measured,
    }
}

impl ConnectionCost {
    /// The figure relied on: the measured projection, or the worst case.
    pub fn relied_bytes(&self) -> u64 {
        self.measured_bytes.unwrap_or(self.worst_case_bytes)
    }

    /// The relied-on figure as a share of the host's RAM, when known.
    pub fn share(&self) -> Option<f64> {
        self.host_memory_bytes
            .filter(|m| *m > 0)
            .map(|m| self.relied_bytes() as f64 / m as f64)
    }

    /// The worst case as a share of the host's RAM, when known.
    pub fn worst_case_share(&self) -> Option<f64> {
        self.host_memory_bytes
            .filter(|m| *m > 0)
            .map(|m| self.worst_case_bytes as f64 / m as f64)
    }

    /// "measured ≈ 150 KiB per connection (p95 210 KiB, 48 sessions); raising to 500 costs
    /// ≈ 72 MiB; worst case 6.6 GiB", and without a measurement why there is none.
    pub fn sentence(&self) -> String {
        let n = self.max_connections;
        match &self.measured {
            Some(_) => {
                let cost = if self.added_connections > 0 {
                    format!(
                        "raising to {n} costs ≈ {} ({} more × p95); worst case {}",
                        bytes(self.raise_cost_bytes.unwrap_or(0)),
                        self.added_connections,
                        bytes(self.worst_case_raise_bytes)
                    )
                } else {
                    format!(
                        "{n} connections ≈ {} with {} of global buffers; worst case {}",
                        bytes(self.measured_bytes.unwrap_or(0)),
                        bytes(self.global_bytes),
                        bytes(self.worst_case_bytes)
                    )
                };
                format!("{}; {cost}", self.measured_clause().unwrap_or_default())
            }
            None => {
                let cost = if self.added_connections > 0 {
                    format!(
                        "raising to {n} costs up to {} ({} more × {}), worst case",
                        bytes(self.worst_case_raise_bytes),
                        self.added_connections,
                        bytes(self.worst_case_per_connection_bytes)
                    )
                } else {
                    format!(
                        "{n} connections: worst case {}",
                        bytes(self.worst_case_bytes)
                    )
                };
                format!(
                    "not measured per connection (fewer than {MIN_SESSIONS} client sessions measured, or the server does not report memory per session); {cost}"
                )
            }
        }
    }

    /// "measured ≈ 150 KiB per connection (p95 210 KiB, 48 sessions, SOURCE)".
    pub fn measured_clause(&self) -> Option<String> {
        self.measured.as_ref().map(|m| {
            format!(
                "measured ≈ {} per connection (p95 {}, {} sessions, {})",
                bytes(m.mean_per_connection_bytes),
                bytes(m.p95_per_connection_bytes),
                m.sessions,
                m.source
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::{self, session};

    /// A MariaDB fixture whose client sessions use these many KiB each.
    fn with_memory(kib: &[u64]) -> Snapshot {
        let mut s = fixtures::mariadb();
        let sessions = kib
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let mut x = session(i as u64 + 1, "app", "10.0.0.1", "Sleep", 10, "", None);
                x.memory_bytes = Some(k * 1024);
                x
            })
            .collect();
        fixtures::with_sessions(&mut s, sessions);
        s
    }

    #[test]
    fn mean_p95_and_max_of_the_client_sessions() {
        // 1..=100 KiB: mean 50.5 KiB, p95 95 KiB (nearest rank), max 100 KiB.
        let kib: Vec<u64> = (1..=100).collect();
        let m = measured(&with_memory(&kib)).unwrap();
        assert_eq!(m.sessions, 100);
        assert_eq!(m.mean_per_connection_bytes, 50 * 1024 + 512);
        assert_eq!(m.p95_per_connection_bytes, 95 * 1024);
        assert_eq!(m.max_per_connection_bytes, 100 * 1024);
        assert_eq!(m.source, "information_schema.PROCESSLIST.MEMORY_USED");
        // Three sessions: p95 is the largest.
        let m = measured(&with_memory(&[100, 200, 300])).unwrap();
        assert_eq!(m.p95_per_connection_bytes, 300 * 1024);
        // Too few to rely on.
        assert_eq!(measured(&with_memory(&[100, 200])), None);
    }

    #[test]
    fn system_threads_and_unmeasured_sessions_do_not_count() {
        let mut s = with_memory(&[100, 100, 100]);
        let mut daemon = session(50, "system user", "", "Daemon", 10, "", None);
        daemon.memory_bytes = Some(1 << 30);
        s.sessions.push(daemon);
        s.sessions
            .push(session(51, "app", "10.0.0.1", "Sleep", 10, "", None));
        let m = measured(&s).unwrap();
        assert_eq!(m.sessions, 3);
        assert_eq!(m.max_per_connection_bytes, 100 * 1024);
    }

    #[test]
    fn raising_costs_p95_per_added_connection_and_relies_on_the_measurement() {
        let s = with_memory(&[100, 150, 200, 250, 300]);
        // The fixture's max_connections is 151.
        let c = cost(&s, 500, None);
        assert_eq!(c.relies_on, Basis::Measured);
        assert_eq!(c.added_connections, 349);
        assert_eq!(c.raise_cost_bytes, Some(349 * 300 * 1024));
        assert_eq!(
            c.worst_case_raise_bytes,
            349 * c.worst_case_per_connection_bytes
        );
        assert!(c.worst_case_raise_bytes > 10 * c.raise_cost_bytes.unwrap());
        assert_eq!(c.measured_bytes, Some(c.global_bytes + 500 * 300 * 1024));
        assert_eq!(c.relied_bytes(), c.measured_bytes.unwrap());
        assert!(c.share().unwrap() < c.worst_case_share().unwrap());
        assert_eq!(
            c.sentence(),
            "measured ≈ 200 KiB per connection (p95 300 KiB, 5 sessions, \
             information_schema.PROCESSLIST.MEMORY_USED); raising to 500 costs ≈ 102 MiB \
             (349 more × p95); worst case 6.4 GiB"
        );
        // At the current limit: the projection, not a raise.
        let at = cost(&s, 151, None);
        assert_eq!(at.added_connections, 0);
        assert!(
            at.sentence().contains("151 connections ≈ "),
            "{}",
            at.sentence()
        );
    }

    #[test]
    fn without_a_measurement_the_worst_case_is_relied_on() {
        let s = fixtures::mysql8();
        let c = cost(&s, 300, None);
        assert_eq!(c.relies_on, Basis::WorstCase);
        assert_eq!(c.measured, None);
        assert_eq!(c.relied_bytes(), c.worst_case_bytes);
        assert!(
            c.sentence().starts_with("not measured per connection"),
            "{}",
            c.sentence()
        );
        assert!(
            c.sentence().contains("raising to 300 costs up to"),
            "{}",
            c.sentence()
        );
        assert_eq!(c.server_memory_used_bytes, None, "MariaDB only");
    }

    #[test]
    fn absurd_figures_saturate() {
        let mut s = with_memory(&[1, 1, 1]);
        for x in &mut s.sessions {
            x.memory_bytes = Some(u64::MAX);
        }
        let c = cost(&s, u64::MAX, None);
        assert_eq!(c.measured_bytes, Some(u64::MAX));
        assert_eq!(c.measured.unwrap().total_bytes, u64::MAX);
    }
}
