//! The kill report: one round's plan and what happened to it (also the audit log's records).

use serde::Serialize;

use crate::remedy::execute::{KillResult, Outcome, Reconnect};
use crate::remedy::plan::KillPlan;

/// Bumped when a field of the kill JSON / audit record changes meaning or disappears.
pub const KILL_SCHEMA_VERSION: u32 = 1;

/// One round: the plan and what happened to it. Also the audit log's `"event": "result"` record.
#[derive(Debug, Serialize)]
pub struct KillReport {
    pub schema_version: u32,
    /// `result` (the audit log also holds `plan` records, written before the first KILL).
    pub event: &'static str,
    pub command: &'static str,
    /// Unix time of the round.
    pub time: u64,
    pub target: String,
    /// The server's `@@hostname`, when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_hostname: Option<String>,
    pub account: String,
    pub dry_run: bool,
    pub summary: String,
    #[serde(flatten)]
    pub plan: KillPlan,
    pub results: Vec<KillResult>,
    pub counts: Counts,
    /// Every reconnect during the round (a lost or stalled connection), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reconnects: Vec<Reconnect>,
    /// The signal that stopped the round (`SIGTERM`, `SIGINT`, `SIGHUP`): no KILL was sent after
    /// it, the ones in flight were settled, every victim still has its outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<&'static str>,
    /// What the round could not guarantee (e.g. no kill lock on this server).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The audit log's `"event": "plan"` record: what is about to be killed, written (and synced)
/// before the first KILL.
#[derive(Debug, Serialize)]
pub struct PlanRecord<'a> {
    pub schema_version: u32,
    pub event: &'static str,
    pub command: &'static str,
    pub time: u64,
    pub target: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_hostname: Option<&'a str>,
    pub account: &'a str,
    pub summary: String,
    #[serde(flatten)]
    pub plan: &'a KillPlan,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Counts {
    pub planned: usize,
    pub killed: usize,
    pub gone: usize,
    pub skipped_changed: usize,
    pub denied: usize,
    pub errors: usize,
    /// Sent but unanswered, and still on the server after reconnecting.
    pub not_killed: usize,
    /// Sent but unanswered, and the server could not be reached again.
    pub unknown: usize,
    /// Never sent: the connection was lost first and not restored, or a signal stopped the run.
    pub not_attempted: usize,
    /// Never sent: another kill run held the kill lock.
    pub skipped_concurrent: usize,
    /// Of `killed`: established from a fresh processlist after reconnecting.
    pub confirmed_after_reconnect: usize,
}

impl Counts {
    pub fn of(planned: usize, results: &[KillResult]) -> Counts {
        let n = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
        Counts {
            planned,
            killed: n(Outcome::Killed),
            gone: n(Outcome::Gone),
            skipped_changed: n(Outcome::SkippedChanged),
            denied: n(Outcome::Denied),
            errors: n(Outcome::Error),
            not_killed: n(Outcome::NotKilled),
            unknown: n(Outcome::Unknown),
            not_attempted: n(Outcome::NotAttempted),
            skipped_concurrent: n(Outcome::SkippedConcurrent),
            confirmed_after_reconnect: results
                .iter()
                .filter(|r| r.outcome == Outcome::Killed && r.note.is_some())
                .count(),
        }
    }
}
