//! Judging a snapshot: why does (or will) the server run out of connections?
//!
//! Pure functions from a [`Snapshot`] and [`Thresholds`] to [`Finding`]s: one file per cause,
//! each with its unit tests, no I/O and no printing. That is what makes every heuristic testable
//! from recorded data, including servers we cannot run here (MySQL 8, RDS, Aurora).
//! Finding ids are stable: scripts depend on them.

pub mod aborted_clients;
pub mod common;
pub mod connection_leak;
pub mod globals;
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
pub mod server_full;
pub mod slow_query_log_off;
pub mod thread_cache;
pub mod traffic_spike;
pub mod wait_timeout_high;

// Public (but hidden) so that the property tests in tests/ and the fuzz targets in fuzz/ start
// from the same realistic snapshots as the unit tests.
#[doc(hidden)]
pub mod fixtures;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cli::{FailOn, Threshold, ThresholdArgs};
use crate::snapshot::Snapshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// Whether this severity meets `--fail-on`.
    pub fn at_least(self, fail_on: FailOn) -> bool {
        match fail_on {
            FailOn::Warning => self >= Severity::Warning,
            FailOn::Critical => self >= Severity::Critical,
        }
    }
}

/// What kind of step an action is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    /// A conncheck command line.
    Command,
    /// SQL to run on the server.
    Sql,
    /// A configuration snippet (my.cnf, parameter group).
    Config,
    /// Advice for the application side (pools, closing connections, slow queries).
    Advice,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub kind: ActionKind,
    pub text: String,
}

impl Action {
    pub fn command(t: impl Into<String>) -> Self {
        Action {
            kind: ActionKind::Command,
            text: t.into(),
        }
    }
    pub fn sql(t: impl Into<String>) -> Self {
        Action {
            kind: ActionKind::Sql,
            text: t.into(),
        }
    }
    pub fn config(t: impl Into<String>) -> Self {
        Action {
            kind: ActionKind::Config,
            text: t.into(),
        }
    }
    pub fn advice(t: impl Into<String>) -> Self {
        Action {
            kind: ActionKind::Advice,
            text: t.into(),
        }
    }
}

/// One named value that supports a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable id, e.g. `connection-leak`.
    pub id: String,
    pub severity: Severity,
    pub title: String,
    /// One sentence with the numbers.
    pub summary: String,
    pub evidence: Vec<Evidence>,
    /// Processlist ids involved.
    pub sessions: Vec<u64>,
    pub actions: Vec<Action>,
    /// Connection slots at stake (for ranking findings of the same severity).
    pub slots: u64,
}

impl Finding {
    pub fn new(
        id: &str,
        severity: Severity,
        title: impl Into<String>,
        summary: impl Into<String>,
    ) -> Self {
        Finding {
            id: id.to_string(),
            severity,
            title: title.into(),
            summary: summary.into(),
            evidence: Vec::new(),
            sessions: Vec::new(),
            actions: Vec::new(),
            slots: 0,
        }
    }

    pub fn evidence(mut self, name: &str, value: impl ToString) -> Self {
        self.evidence.push(Evidence {
            name: name.to_string(),
            value: value.to_string(),
        });
        self
    }

    pub fn action(mut self, a: Action) -> Self {
        self.actions.push(a);
        self
    }

    pub fn sessions(mut self, ids: impl IntoIterator<Item = u64>) -> Self {
        self.sessions.extend(ids);
        self
    }

    pub fn slots(mut self, n: u64) -> Self {
        self.slots = n;
        self
    }
}

/// The thresholds the heuristics judge against (flags with documented defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    pub idle: Duration,
    pub long_query: Duration,
    pub trx: Duration,
    pub warning: Threshold,
    pub critical: Threshold,
    pub server_memory: Option<u64>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            idle: Duration::from_secs(300),
            long_query: Duration::from_secs(60),
            trx: Duration::from_secs(60),
            warning: Threshold::Percent(80.0),
            critical: Threshold::Percent(90.0),
            server_memory: None,
        }
    }
}

impl From<&ThresholdArgs> for Thresholds {
    fn from(a: &ThresholdArgs) -> Self {
        Thresholds {
            idle: a.idle_threshold,
            long_query: a.long_query_threshold,
            trx: a.trx_threshold,
            warning: a.warning,
            critical: a.critical,
            server_memory: a.server_memory,
        }
    }
}

/// Every heuristic, in no particular order (the result is ranked).
const CHECKS: &[fn(&Snapshot, &Thresholds) -> Vec<Finding>] = &[
    server_full::check,
    near_limit::check,
    idle_connections::check,
    connection_leak::check,
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
    slow_query_log_off::check,
    thread_cache::check,
    traffic_spike::check,
    wait_timeout_high::check,
];

/// Run every heuristic and rank: severity first, then slots at stake, then id (stable output).
pub fn diagnose(snap: &Snapshot, th: &Thresholds) -> Vec<Finding> {
    if snap.refused.is_some() {
        // Nothing but the refusal could be read.
        return server_full::check(snap, th);
    }
    // One index (and one wait graph, see lock_pileup) for every heuristic: lookups by id are
    // hash lookups, so each heuristic stays O(n log n) at 10,000 sessions.
    let mut findings: Vec<Finding> =
        snap.with_index(|| CHECKS.iter().flat_map(|c| c(snap, th)).collect());
    rank(&mut findings);
    findings
}

pub fn rank(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.slots.cmp(&a.slots))
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// The worst severity among findings, if any.
pub fn worst(findings: &[Finding]) -> Option<Severity> {
    findings.iter().map(|f| f.severity).max()
}

/// A duration as whole seconds (`300s`), the form conncheck flags and SQL examples use.
pub fn dur(d: Duration) -> String {
    format!("{}s", d.as_secs())
}
