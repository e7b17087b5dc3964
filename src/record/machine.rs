//! The recorder's decisions, one tick at a time: sample, fire a trigger (unless an incident is in
//! progress or the cooldown has not passed), take the trigger snapshot at once and the after
//! snapshot `--after` later, write the incident with the samples of `--before` (every file fitted
//! within `--max-size` and what `diagnose --from` reads, `snapshot::saved`), and what a lost
//! connection does to all of that (a note in the incident, a reconnect, samples resuming).
//!
//! Everything that reads the server, writes files or logs goes through [`Link`], and the time is
//! given in, so the logic is tested without a server or a clock (`machine_tests.rs`): feed it
//! samples and times, assert what it asks the link for. The loop that sleeps between ticks and
//! the real link are in `commands/record.rs`.

use std::path::PathBuf;
use std::time::Duration;

use crate::diagnose::forecast;
use crate::exit::AppError;
use crate::render;
use crate::snapshot::Snapshot;
use crate::snapshot::batch::is_statement_error;
use crate::snapshot::sample::{
    AFTER_SNAPSHOT_FILE, INCIDENT_KIND, INDEX_FILE, IncidentIndex, SAMPLE_SCHEMA_VERSION,
    SAMPLES_FILE, Sample, SampleHistory, TRIGGER_SNAPSHOT_FILE,
};
use crate::snapshot::saved;
use crate::text::escape;

use super::ring::Ring;
use super::trigger::{self, Trigger};

/// What the recorder needs from the world.
pub trait Link {
    /// Whether there is a connection to read from.
    fn connected(&self) -> bool;
    /// One cheap reading, and a note when something about it changed (program names no longer
    /// readable).
    fn sample(&mut self) -> Result<(Sample, Option<String>), AppError>;
    /// A full snapshot, as `conncheck snapshot -o` reads it.
    fn snapshot(&mut self) -> Result<Snapshot, AppError>;
    /// The connection failed: give it up. Returns the delay before the first reconnect attempt.
    fn lost(&mut self) -> Duration;
    /// Reconnect when an attempt is due: None when it is not, else whether it worked (and when
    /// it did not, the delay before the next attempt).
    fn reconnect(&mut self) -> Option<Result<(), (AppError, Duration)>>;
    /// Write one incident folder named after `at_ms` from `files` (name, contents) and keep the
    /// disk bound. The error is the log line that says why it could not be written.
    fn write(&mut self, at_ms: u64, files: &[(&str, Vec<u8>)]) -> Result<Written, String>;
    /// One log line (already escaped).
    fn log(&mut self, message: &str);
}

/// An incident folder written, and the older ones removed to keep `--max-size`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    pub removed: Vec<PathBuf>,
    /// Why the disk bound could not be kept, if it could not.
    pub limit_error: Option<String>,
}

/// The recorder's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Any one fires (never empty: the caller puts the default in).
    pub triggers: Vec<Trigger>,
    pub interval: Duration,
    pub before: Duration,
    pub after: Duration,
    pub cooldown: Duration,
    /// `--max-size`: one incident's files fit in it.
    pub max_size: u64,
    /// Where the samples are read, without credentials.
    pub target: String,
}

/// Room kept in `--max-size` for an incident's `index.json` (its notes are a few lines).
const INDEX_RESERVE: u64 = 16 * 1024;

/// What the summary reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub samples: u64,
    pub failed_samples: u64,
    pub fired: u64,
    /// The incidents written and still on disk.
    pub incidents: Vec<PathBuf>,
    /// Incidents whose folder could not be written.
    pub not_written: u64,
    /// Incidents removed to keep `--max-size`.
    pub removed: u64,
    pub reconnects: u64,
}

/// An incident between its trigger and its `--after` snapshot.
#[derive(Debug, Clone)]
struct Pending {
    at_ms: u64,
    trigger: String,
    value: f64,
    /// The full snapshot at the trigger, when it could be read.
    trigger_snap: Option<Box<Snapshot>>,
    notes: Vec<String>,
    /// When the after snapshot is due (the machine's time).
    due: Duration,
}

/// The recorder's state between ticks.
#[derive(Debug)]
pub struct Machine {
    config: Config,
    ring: Ring,
    prev: Option<Sample>,
    pending: Option<Pending>,
    last_incident: Option<Duration>,
    totals: Totals,
}

impl Machine {
    pub fn new(config: Config) -> Machine {
        // Room for --before and --after, and at least the minute the `full-in` forecast is
        // fitted to.
        let keep =
            (config.before + config.after).max(Duration::from_secs_f64(forecast::RECENT_WINDOW_S));
        Machine {
            ring: Ring::new(keep + config.interval, config.interval),
            config,
            prev: None,
            pending: None,
            last_incident: None,
            totals: Totals::default(),
        }
    }

    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    /// One tick at `now` (time since the recorder started): read a sample (or reconnect when an
    /// attempt is due), fire, and write an incident whose after snapshot is due. An error is
    /// the end of the run: a statement the server refuses at the very first sample (missing
    /// privileges; later ones are retried).
    pub fn tick(&mut self, link: &mut dyn Link, now: Duration) -> Result<(), AppError> {
        if !link.connected() {
            match link.reconnect() {
                None => {}
                Some(Ok(())) => {
                    self.totals.reconnects += 1;
                    link.log(&format!("reconnected to {}", escape(&self.config.target)));
                    self.note("reconnected".into());
                }
                Some(Err((e, retry_in))) => link.log(&format!(
                    "reconnect failed: {}; next attempt in {}s",
                    escape(&e.message),
                    retry_in.as_secs()
                )),
            }
        }
        // Sample at once on a new connection.
        if link.connected() {
            self.sample(link, now)?;
        }
        if self.pending.as_ref().is_some_and(|p| now >= p.due) {
            let p = self.pending.take().expect("pending");
            self.finish(p, link);
        }
        Ok(())
    }

    /// The recorder stops: an incident in progress is written now, its after snapshot early.
    pub fn stop(&mut self, link: &mut dyn Link) {
        if let Some(mut p) = self.pending.take() {
            p.notes.push(
                "the recorder stopped before --after: the after snapshot was taken early".into(),
            );
            self.finish(p, link);
        }
    }

    fn note(&mut self, note: String) {
        if let Some(p) = self.pending.as_mut() {
            p.notes.push(note);
        }
    }

    fn sample(&mut self, link: &mut dyn Link, now: Duration) -> Result<(), AppError> {
        let s = match link.sample() {
            Ok((s, note)) => {
                if let Some(n) = note {
                    link.log(&escape(&n));
                }
                s
            }
            Err(e) if is_statement_error(&e) && self.totals.samples == 0 => return Err(e),
            Err(e) => {
                self.totals.failed_samples += 1;
                let d = link.lost();
                link.log(&format!(
                    "connection lost: {}; reconnecting in {}s",
                    escape(&e.message),
                    d.as_secs()
                ));
                self.note(format!("connection lost: {}", e.message));
                return Ok(());
            }
        };
        self.totals.samples += 1;
        self.ring.push(s.clone());
        let forecast = forecast::of_recent_samples(self.ring.iter());
        let full_in_s = forecast.as_ref().and_then(|f| f.full_in_s);
        let cooled = self
            .last_incident
            .is_none_or(|t| now.saturating_sub(t) >= self.config.cooldown);
        if self.pending.is_none()
            && cooled
            && let Some((t, value)) =
                trigger::first_firing(&self.config.triggers, self.prev.as_ref(), &s, full_in_s)
        {
            self.totals.fired += 1;
            self.last_incident = Some(now);
            link.log(&format!(
                "trigger '{t}' fired: {} (connections {}/{}, running {}{})",
                round(value),
                s.threads_connected,
                s.max_connections,
                s.threads_running,
                forecast
                    .as_ref()
                    .filter(|f| f.full_in_s.is_some())
                    .map(|f| format!("; {}", f.sentence()))
                    .unwrap_or_default()
            ));
            let mut p = Pending {
                at_ms: s.at_ms,
                trigger: t.to_string(),
                value,
                trigger_snap: None,
                notes: Vec::new(),
                due: now + self.config.after,
            };
            match link.snapshot() {
                Ok(snap) => p.trigger_snap = Some(Box::new(snap)),
                Err(e) => {
                    p.notes
                        .push(format!("trigger snapshot failed: {}", e.message));
                    link.log(&format!("trigger snapshot failed: {}", escape(&e.message)));
                    // A refused statement leaves the connection usable; anything else does not.
                    if !is_statement_error(&e) {
                        link.lost();
                    }
                }
            }
            self.pending = Some(p);
        }
        self.prev = Some(s);
        Ok(())
    }

    /// Take the after snapshot (when connected) and write the folder.
    fn finish(&mut self, mut p: Pending, link: &mut dyn Link) {
        let after = if link.connected() {
            match link.snapshot() {
                Ok(j) => Some(j),
                Err(e) => {
                    p.notes
                        .push(format!("after snapshot failed: {}", e.message));
                    None
                }
            }
        } else {
            p.notes
                .push("after snapshot not taken: no connection to the server".into());
            None
        };
        let from = p
            .at_ms
            .saturating_sub(crate::units::millis(self.config.before));
        let history = SampleHistory {
            schema_version: SAMPLE_SCHEMA_VERSION,
            target: self.config.target.clone(),
            interval_ms: crate::units::millis(self.config.interval),
            samples: self.ring.since(from),
        };
        // Every file within what `diagnose --from` reads, and the incident within --max-size:
        // the samples take at most half of it, the snapshots share the rest (their query texts
        // cut shorter as needed), a few KiB are left for the index.
        let max = crate::input::SNAPSHOT_MAX;
        let max_size = self.config.max_size;
        let (samples_json, dropped) =
            saved::fit_history(&history, max.min(max_size / 2), |h| render::json(h) + "\n");
        if dropped > 0 {
            p.notes.push(format!(
                "{SAMPLES_FILE}: the {dropped} oldest samples were left out to stay within --max-size"
            ));
        }
        let snaps = u64::from(p.trigger_snap.is_some()) + u64::from(after.is_some());
        let budget = max_size
            .saturating_sub(samples_json.len() as u64 + INDEX_RESERVE)
            .checked_div(snaps)
            .unwrap_or(0)
            .min(max);
        let mut fit = |snap: Option<&Snapshot>, file: &str| -> Option<String> {
            match saved::fit_snapshot(snap?, budget, max, render::snapshot_file::snapshot_file) {
                Ok(f) => {
                    if f.cut_at < saved::QUERY_TEXT_MAX && f.texts_cut > 0 {
                        p.notes.push(format!(
                            "{file}: {} query texts cut to {} characters to stay within --max-size",
                            f.texts_cut, f.cut_at
                        ));
                    }
                    Some(f.text)
                }
                Err(e) => {
                    p.notes.push(format!("{file} left out: it is {e}"));
                    None
                }
            }
        };
        let trigger_json = fit(p.trigger_snap.as_deref(), TRIGGER_SNAPSHOT_FILE);
        let after_json = fit(after.as_ref(), AFTER_SNAPSHOT_FILE);
        let index = IncidentIndex {
            schema_version: SAMPLE_SCHEMA_VERSION,
            kind: INCIDENT_KIND.to_string(),
            target: self.config.target.clone(),
            triggered_at_ms: p.at_ms,
            trigger: p.trigger.clone(),
            value: p.value,
            trigger_snapshot: trigger_json
                .as_ref()
                .map(|_| TRIGGER_SNAPSHOT_FILE.to_string()),
            after_snapshot: after_json.as_ref().map(|_| AFTER_SNAPSHOT_FILE.to_string()),
            samples: SAMPLES_FILE.to_string(),
            notes: p.notes.clone(),
        };
        let mut files: Vec<(&str, Vec<u8>)> = vec![
            (INDEX_FILE, (render::json(&index) + "\n").into_bytes()),
            (SAMPLES_FILE, samples_json.into_bytes()),
        ];
        if let Some(j) = trigger_json {
            files.push((TRIGGER_SNAPSHOT_FILE, j.into_bytes()));
        }
        if let Some(j) = after_json {
            files.push((AFTER_SNAPSHOT_FILE, j.into_bytes()));
        }
        match link.write(p.at_ms, &files) {
            Ok(w) => {
                link.log(&format!(
                    "incident written to {} ({} samples{})",
                    crate::text::path(&w.path),
                    history.samples.len() - dropped,
                    if index.notes.is_empty() {
                        String::new()
                    } else {
                        format!(", {} notes", index.notes.len())
                    }
                ));
                for r in &w.removed {
                    link.log(&format!("removed {} (--max-size)", crate::text::path(r)));
                }
                if let Some(e) = &w.limit_error {
                    link.log(&format!("cannot keep --max-size: {e}"));
                }
                self.totals.removed += w.removed.len() as u64;
                self.totals.incidents.retain(|i| !w.removed.contains(i));
                self.totals.incidents.push(w.path);
            }
            Err(e) => {
                self.totals.not_written += 1;
                link.log(&e);
            }
        }
    }
}

fn round(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    format!("{r}")
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
