//! The `diagnose` report: the verdict, where the connections are, the findings and the numbers
//! they were judged from. Pure: built from a snapshot, rendered by [`crate::render::diagnose`].

use serde::Serialize;

use crate::connect::replay::Replay;
use crate::diagnose::forecast::{self, Forecast};
use crate::diagnose::verdict::{self, Slot, Verdict};
use crate::diagnose::{self, Analysis, Finding, Thresholds};
use crate::exit::AppError;
use crate::snapshot::Snapshot;
use crate::snapshot::source::Incident;

use super::timeline::{self, Growth, TimelineEntry};

use super::status::{self, ConnectionSummary, Rates, ServerSummary};

/// Bumped when a field of the diagnose JSON changes meaning or disappears.
pub const DIAGNOSE_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct DiagnoseReport {
    pub schema_version: u32,
    pub target: String,
    /// The answer first: the main cause, one sentence, and the fastest safe relief.
    pub verdict: Verdict,
    /// Where the connections are: buckets that add up to `connections.threads_connected`.
    pub slots: Vec<Slot>,
    /// Threads that are not client connections (replication, system).
    pub background: Vec<Slot>,
    /// None when the server refused us (nothing could be read).
    pub server: Option<ServerSummary>,
    pub connections: Option<ConnectionSummary>,
    pub rates: Option<Rates>,
    /// With a sample of 3 s or more: the trend of Threads_connected and the time until
    /// max_connections at that rate (`rate_per_min`, `full_in_s`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast: Option<Forecast>,
    /// Worst severity found, or "ok".
    pub state: String,
    pub findings: Vec<Finding>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// From an incident folder (`diagnose --from DIR`): why and when it was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<IncidentSummary>,
    /// From an incident folder: every sample, oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<TimelineEntry>>,
    /// From an incident folder: what grew before the trigger and who drove it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub growth: Option<Growth>,
}

/// The incident a replayed report is about.
#[derive(Debug, Serialize)]
pub struct IncidentSummary {
    /// The trigger as given (`usage >= 90`), the value that fired it and when.
    pub trigger: String,
    pub value: f64,
    pub triggered_at: String,
    /// The snapshot judged (the one with the highest Threads_connected): `trigger.json` or
    /// `after.json`.
    pub judged: Option<String>,
    /// Problems met while recording.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl DiagnoseReport {
    /// Add the timeline and growth of an incident folder to the report of its peak snapshot.
    pub fn with_incident(&mut self, incident: &Incident) {
        let at = incident.index.triggered_at_ms;
        self.incident = Some(IncidentSummary {
            trigger: incident.index.trigger.clone(),
            value: incident.index.value,
            triggered_at: timeline::rfc3339(at),
            judged: incident.peak_file().map(str::to_string),
            notes: incident.index.notes.clone(),
        });
        self.timeline = Some(timeline::timeline(&incident.history));
        self.growth = timeline::growth(&incident.history, at);
    }
}

/// `--warning` below `--critical` on this server: a percentage and a count can only be compared
/// once max_connections is known (a usage error, as if the flags had been compared at once).
pub fn thresholds_fit(th: &Thresholds, snap: &Snapshot) -> Result<(), AppError> {
    match diagnose::threshold_conflict(th.warning, th.critical, snap.var_u64("max_connections"))
    {
        Some(msg) => Err(AppError::usage(msg).hint(
            "give both thresholds, the warning below the critical one (defaults: --warning 80% --critical 90%)",
        )),
        None => Ok(()),
    }
}

impl DiagnoseReport {
    /// Make every suggested command (and every `` `conncheck …` `` in advice and notes) reach the
    /// server this report is about.
    pub fn for_target(&mut self, replay: &Replay) {
        diagnose::for_target(&mut self.findings, replay);
        if let Some(r) = &mut self.verdict.relief {
            r.for_target(replay);
        }
        // The summary may point to `conncheck watch` / `record`.
        self.verdict.summary = replay.in_prose(&self.verdict.summary);
        for n in &mut self.notes {
            *n = replay.in_prose(n);
        }
    }
}

/// The report from a snapshot. Pure.
pub fn build(snap: &Snapshot, th: &Thresholds) -> DiagnoseReport {
    // One analysis for the judgement and the verdict: what they both derive (the leaked
    // sessions, the wait graph) is computed once.
    let a = Analysis::new(snap);
    // Each session's bucket does not depend on the findings: at 10,000 sessions they are
    // counted while the heuristics run (see `parallel`).
    let split = snap.sessions.len() >= crate::parallel::WORTH_SPLITTING;
    let (findings, tally) =
        crate::parallel::join(split, || diagnose::judge(&a, th), || verdict::tally(&a, th));
    let accounting = verdict::account_tallied(&a, &findings, tally);
    let state = diagnose::worst(&findings)
        .map_or("ok", |s| s.name())
        .to_string();
    let (server, connections, rates) = if snap.refused.is_some() {
        (None, None, None)
    } else {
        let s = status::build(snap, 0);
        (Some(s.server), Some(s.connections), Some(Rates::of(snap)))
    };
    DiagnoseReport {
        schema_version: DIAGNOSE_SCHEMA_VERSION,
        target: snap.target.clone(),
        verdict: accounting.verdict,
        slots: accounting.slots,
        background: accounting.background,
        server,
        connections,
        rates,
        forecast: forecast::of_snapshot(snap),
        state,
        findings,
        notes: snap.notes.clone(),
        incident: None,
        timeline: None,
        growth: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At scale the sessions are counted while the heuristics run (`parallel::join`): the
    /// verdict and the slots are the ones accounted in turn.
    #[test]
    fn a_report_at_scale_accounts_as_in_turn() {
        let snap = crate::diagnose::fixtures::at_scale(2_400);
        assert!(snap.sessions.len() >= crate::parallel::WORTH_SPLITTING);
        let th = Thresholds::default();
        let report = build(&snap, &th);
        let a = Analysis::new(&snap);
        let in_turn = verdict::account(&a, &th, &diagnose::judge(&a, &th));
        assert_eq!(report.verdict, in_turn.verdict);
        assert_eq!(report.slots, in_turn.slots);
        assert_eq!(report.background, in_turn.background);
        assert!(report.verdict.cause.is_some(), "{:?}", report.verdict);
    }
}
