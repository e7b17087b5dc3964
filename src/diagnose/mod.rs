//! Judging a snapshot: why does (or will) the server run out of connections?
//!
//! Pure functions from a [`Snapshot`] and [`Thresholds`] to [`Finding`]s: one file per cause,
//! each with its unit tests, no I/O and no printing. That is what makes every heuristic testable
//! from recorded data, including servers we cannot run here (MySQL 8, RDS, Aurora).
//! Finding ids are stable: scripts depend on them.

pub mod aborted_clients;
pub mod capacity;
pub mod common;
pub mod connection_cost;
pub mod connection_leak;
pub mod forecast;
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
pub mod threshold;

pub use threshold::{FailOn, Threshold, threshold_conflict};
pub mod traffic_spike;
pub mod verdict;
pub mod wait_timeout_high;

// Public (but hidden) so that the property tests in tests/ and the fuzz targets in fuzz/ start
// from the same realistic snapshots as the unit tests.
#[doc(hidden)]
/// Snapshot builders for tests and benchmarks: only in test builds and with the `fixtures`
/// feature (which `cargo test` and `cargo bench` turn on through the dev-dependency on this
/// crate), never in the release library.
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;

use std::time::Duration;

use serde::{Deserialize, Serialize};

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
    /// What a person reads: for a command, the whole line to paste (connection options
    /// included once the report knows its target), with the note after `#`.
    pub text: String,
    /// Commands only: the command's own arguments after `conncheck` (subcommand and flags),
    /// without connection options. Heuristics stay pure: the target is added by the report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Commands only: the complete command to run, one word per element, starting with
    /// `conncheck` and the connection options of the run (never a password value).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub argv: Vec<String>,
    /// Commands only: what the command is for (shown after `#`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The server variables this action changes (`wait_timeout`, ...): a report suggests each
    /// setting once, in the highest-ranked finding (see [`suggest_each_setting_once`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<String>,
}

impl Action {
    /// A conncheck command written as for a shell: `conncheck kill-idle --older-than 300s   #
    /// note`. Quoted words (see `common::shell_arg`) keep their spaces; `-u <admin>` style
    /// placeholders are kept as they are.
    pub fn command(t: impl Into<String>) -> Self {
        let (mut words, note) = crate::connect::replay::split(&t.into());
        if words.first().is_some_and(|w| w == "conncheck") {
            words.remove(0);
        }
        Action::conncheck(words, note)
    }
    /// A conncheck command from its own arguments (after `conncheck`) and an optional note.
    pub fn conncheck(args: Vec<String>, note: Option<String>) -> Self {
        let mut a = Action {
            kind: ActionKind::Command,
            text: String::new(),
            args,
            argv: Vec::new(),
            note,
            settings: Vec::new(),
        };
        a.for_target(&crate::connect::replay::Replay::none());
        a
    }
    fn plain(kind: ActionKind, text: String) -> Self {
        Action {
            kind,
            text,
            args: Vec::new(),
            argv: Vec::new(),
            note: None,
            settings: Vec::new(),
        }
    }
    pub fn sql(t: impl Into<String>) -> Self {
        Action::plain(ActionKind::Sql, t.into())
    }
    pub fn config(t: impl Into<String>) -> Self {
        Action::plain(ActionKind::Config, t.into())
    }
    pub fn advice(t: impl Into<String>) -> Self {
        Action::plain(ActionKind::Advice, t.into())
    }
    /// Mark the server variables this action changes.
    pub fn changes<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Self {
        self.settings = names.into_iter().map(str::to_string).collect();
        self
    }

    /// Make the action reach `replay`'s server: a command gets the connection options in front
    /// of its own arguments (`text` and `argv`); prose gets them in every `` `conncheck …` ``.
    pub fn for_target(&mut self, replay: &crate::connect::replay::Replay) {
        match self.kind {
            ActionKind::Command => {
                self.text = replay.command_line(&self.args, self.note.as_deref());
                self.argv = replay.argv(&self.args);
            }
            _ => self.text = replay.in_prose(&self.text),
        }
    }
}

/// Every suggested command of these findings, made to reach `replay`'s server (the one place the
/// connection options are added; see `connect::replay`).
pub fn for_target(findings: &mut [Finding], replay: &crate::connect::replay::Replay) {
    for a in findings.iter_mut().flat_map(|f| f.actions.iter_mut()) {
        a.for_target(replay);
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

/// Findings that advise how to prevent the next incident rather than explain this one. They never
/// outrank a finding that holds slots or blocks sessions, whatever their severity.
const PREVENTION: &[&str] = &[
    "per-user-limit-missing",
    "wait-timeout-high",
    "slow-query-log-off",
    "thread-cache",
    "memory-headroom",
];

/// Whether a finding is prevention advice (see [`PREVENTION`]).
pub fn is_prevention(id: &str) -> bool {
    PREVENTION.contains(&id)
}

/// Run every heuristic, rank, and suggest each setting once.
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
    suggest_each_setting_once(&mut findings);
    findings
}

/// Rank by impact: causes (findings that hold slots or block sessions) before prevention advice,
/// then severity, then slots at stake, then id (stable output).
pub fn rank(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        is_prevention(&a.id)
            .cmp(&is_prevention(&b.id))
            .then(b.severity.cmp(&a.severity))
            .then(b.slots.cmp(&a.slots))
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// A report suggests each server setting once: the highest-ranked finding that changes it keeps
/// its actions, a later one gets a pointer instead of the same change again.
pub fn suggest_each_setting_once(findings: &mut [Finding]) {
    let mut owner: std::collections::BTreeMap<String, String> = Default::default();
    for f in findings.iter_mut() {
        let mut pointers: Vec<(String, String)> = Vec::new();
        let id = f.id.clone();
        f.actions.retain(|a| {
            let earlier = a
                .settings
                .iter()
                .find_map(|s| owner.get(s).filter(|o| **o != id));
            match earlier {
                Some(o) => {
                    let p = (o.clone(), a.settings.join(" and "));
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
                owner.entry(s.clone()).or_insert_with(|| id.clone());
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

/// A duration as whole seconds (`300s`), the form conncheck flags and SQL examples use.
pub fn dur(d: Duration) -> String {
    format!("{}s", d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::{self, session};

    #[test]
    fn prevention_never_outranks_a_cause() {
        let mut v = vec![
            Finding::new("per-user-limit-missing", Severity::Critical, "t", "s").slots(100),
            Finding::new("wait-timeout-high", Severity::Warning, "t", "s").slots(50),
            Finding::new("connection-leak", Severity::Info, "t", "s").slots(12),
            Finding::new("idle-connections", Severity::Warning, "t", "s").slots(12),
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
        assert_eq!(f[0].id, "connection-leak", "{:?}", ids(&f));
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
        let idle = f.iter().find(|f| f.id == "idle-connections").unwrap();
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
