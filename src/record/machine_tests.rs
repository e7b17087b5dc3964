//! Unit tests of `record::machine` (kept beside it, out of the way of its code): a scripted
//! [`Link`] is fed samples and times, and the tests assert what the machine asks of it.

use std::collections::VecDeque;

use super::*;
use crate::diagnose::fixtures;
use crate::exit::ErrorKind;

const S: Duration = Duration::from_secs(1);
/// The wall clock of the first sample (2026-12-04, ms).
const T0_MS: u64 = 1_796_400_000_000;

/// What the machine asked the link for, in order.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Call {
    Sample,
    Snapshot,
    Lost,
    Reconnect,
    Write(u64),
}

#[derive(Default)]
struct Fake {
    connected: bool,
    /// The readings to give, oldest first; an empty script is a test error.
    samples: VecDeque<Result<Sample, AppError>>,
    /// Snapshot answers; when empty, a snapshot succeeds.
    snapshots: VecDeque<Result<Snapshot, AppError>>,
    /// Reconnect answers when an attempt is due; when empty, no attempt is due.
    reconnects: VecDeque<Result<(), AppError>>,
    /// Folders `write` reports as removed (--max-size), per write.
    removed: VecDeque<Vec<PathBuf>>,
    /// Every write fails (a full disk).
    full: bool,
    calls: Vec<Call>,
    logs: Vec<String>,
    written: Vec<Vec<(String, Vec<u8>)>>,
    snapshots_taken: u32,
}

impl Fake {
    fn new() -> Fake {
        Fake {
            connected: true,
            ..Fake::default()
        }
    }

    fn index(&self, n: usize) -> IncidentIndex {
        let files = &self.written[n];
        let (_, bytes) = files.iter().find(|(f, _)| f == INDEX_FILE).unwrap();
        serde_json::from_slice(bytes).unwrap()
    }

    fn history(&self, n: usize) -> SampleHistory {
        let files = &self.written[n];
        let (_, bytes) = files.iter().find(|(f, _)| f == SAMPLES_FILE).unwrap();
        serde_json::from_slice(bytes).unwrap()
    }

    fn file_names(&self, n: usize) -> Vec<&str> {
        self.written[n].iter().map(|(f, _)| f.as_str()).collect()
    }

    /// The calls since the last look.
    fn take_calls(&mut self) -> Vec<Call> {
        std::mem::take(&mut self.calls)
    }
}

impl Link for Fake {
    fn connected(&self) -> bool {
        self.connected
    }
    fn sample(&mut self) -> Result<(Sample, Option<String>), AppError> {
        assert!(self.connected, "sampled without a connection");
        self.calls.push(Call::Sample);
        let s = self.samples.pop_front().expect("a scripted sample")?;
        Ok((s, None))
    }
    fn snapshot(&mut self) -> Result<Snapshot, AppError> {
        assert!(self.connected, "a snapshot without a connection");
        self.calls.push(Call::Snapshot);
        self.snapshots_taken += 1;
        self.snapshots.pop_front().unwrap_or_else(|| {
            let mut s = fixtures::mariadb();
            s.taken_at = u64::from(self.snapshots_taken);
            let long = format!("SELECT '{}'", "x".repeat(5000));
            let busy = fixtures::session(7, "app", "10.0.0.1", "Query", 3, "", Some(&long));
            fixtures::with_sessions(&mut s, vec![busy]);
            Ok(s)
        })
    }
    fn lost(&mut self) -> Duration {
        self.calls.push(Call::Lost);
        self.connected = false;
        S
    }
    fn reconnect(&mut self) -> Option<Result<(), (AppError, Duration)>> {
        let r = self.reconnects.pop_front()?;
        self.calls.push(Call::Reconnect);
        self.connected = r.is_ok();
        Some(r.map_err(|e| (e, 2 * S)))
    }
    fn write(&mut self, at_ms: u64, files: &[(&str, Vec<u8>)]) -> Result<Written, String> {
        self.calls.push(Call::Write(at_ms));
        if self.full {
            return Err(
                "cannot write the incident into /incidents: No space left on device".into(),
            );
        }
        self.written.push(
            files
                .iter()
                .map(|(f, b)| (f.to_string(), b.clone()))
                .collect(),
        );
        Ok(Written {
            path: PathBuf::from(format!("/incidents/{at_ms}")),
            removed: self.removed.pop_front().unwrap_or_default(),
            limit_error: None,
        })
    }
    fn log(&mut self, message: &str) {
        self.logs.push(message.to_string());
    }
}

fn config(triggers: &[&str]) -> Config {
    Config {
        triggers: triggers
            .iter()
            .map(|t| trigger::parse(t).unwrap())
            .collect(),
        interval: S,
        before: 2 * S,
        after: 3 * S,
        cooldown: 60 * S,
        max_size: 100 << 20,
        target: "db1:3306".into(),
    }
}

/// The reading of second `t` with `connected` sessions of 100.
fn at(t: u64, connected: u64) -> Sample {
    Sample {
        at_ms: T0_MS + t * 1000,
        threads_connected: connected,
        threads_running: 1,
        max_connections: 100,
        ..Sample::default()
    }
}

fn lost(what: &str) -> AppError {
    AppError::new(ErrorKind::ConnectionLost, what)
}

/// A statement the server refused (the connection stays in step).
fn refused(what: &str) -> AppError {
    AppError::new(ErrorKind::Privilege, what)
}

/// Run ticks at seconds `from..to` (one scripted sample each when connected).
fn ticks(m: &mut Machine, link: &mut Fake, from: u64, to: u64) {
    for t in from..to {
        m.tick(link, Duration::from_secs(t)).unwrap();
    }
}

#[test]
fn a_crossing_fires_once_and_the_incident_waits_for_its_after_snapshot() {
    let mut m = Machine::new(config(&["connections >= 10"]));
    let mut link = Fake::new();
    link.samples.extend(
        [5, 5, 5, 12, 12, 13, 14, 15, 9, 12]
            .iter()
            .enumerate()
            .map(|(t, n)| Ok(at(t as u64, *n))),
    );
    ticks(&mut m, &mut link, 0, 3);
    assert_eq!(
        link.take_calls(),
        [Call::Sample, Call::Sample, Call::Sample]
    );
    // Second 3 crosses: the trigger snapshot at once.
    m.tick(&mut link, 3 * S).unwrap();
    assert_eq!(link.take_calls(), [Call::Sample, Call::Snapshot]);
    assert!(
        link.logs[0].starts_with("trigger 'connections >= 10' fired: 12 (connections 12/100"),
        "{:?}",
        link.logs
    );
    // Seconds 4 and 5: still above, but one incident at a time; --after (3 s) is due at 6.
    ticks(&mut m, &mut link, 4, 6);
    assert_eq!(link.take_calls(), [Call::Sample, Call::Sample]);
    m.tick(&mut link, 6 * S).unwrap();
    let fired_ms = T0_MS + 3000;
    assert_eq!(
        link.take_calls(),
        [Call::Sample, Call::Snapshot, Call::Write(fired_ms)]
    );
    assert_eq!(
        link.file_names(0),
        [
            INDEX_FILE,
            SAMPLES_FILE,
            TRIGGER_SNAPSHOT_FILE,
            AFTER_SNAPSHOT_FILE
        ]
    );
    let idx = link.index(0);
    assert_eq!(
        (idx.kind.as_str(), idx.trigger.as_str(), idx.value),
        (INCIDENT_KIND, "connections >= 10", 12.0)
    );
    assert_eq!(idx.triggered_at_ms, fired_ms);
    assert_eq!(idx.target, "db1:3306");
    assert!(idx.notes.is_empty(), "{:?}", idx.notes);
    assert_eq!(
        (
            idx.trigger_snapshot.as_deref(),
            idx.after_snapshot.as_deref()
        ),
        (Some(TRIGGER_SNAPSHOT_FILE), Some(AFTER_SNAPSHOT_FILE))
    );
    // The samples from --before (2 s) ahead of the trigger up to the after snapshot.
    let h = link.history(0);
    assert_eq!(h.interval_ms, 1000);
    let seconds: Vec<u64> = h.samples.iter().map(|s| (s.at_ms - T0_MS) / 1000).collect();
    assert_eq!(seconds, [1, 2, 3, 4, 5, 6]);
    assert!(
        link.logs
            .iter()
            .any(|l| l == &format!("incident written to /incidents/{fired_ms} (6 samples)"))
    );
    // Back below and above again within the cooldown: nothing more.
    ticks(&mut m, &mut link, 7, 10);
    assert_eq!(link.take_calls(), [Call::Sample; 3]);
    let t = m.totals();
    assert_eq!((t.samples, t.fired, t.incidents.len()), (10, 1, 1));
}

#[test]
fn the_cooldown_counts_from_the_trigger() {
    let mut c = config(&["usage >= 90"]);
    c.cooldown = 10 * S;
    c.after = 2 * S;
    let mut m = Machine::new(c);
    let mut link = Fake::new();
    link.samples.extend((0..25).map(|t| Ok(at(t, 95))));
    let mut fired_at = Vec::new();
    for t in 0..25 {
        let before = m.totals().fired;
        m.tick(&mut link, Duration::from_secs(t)).unwrap();
        if m.totals().fired > before {
            fired_at.push(t);
        }
    }
    assert_eq!(fired_at, [0, 10, 20]);
    assert_eq!(m.totals().incidents.len(), 3);
}

#[test]
fn a_growth_trigger_needs_the_sample_before() {
    let mut m = Machine::new(config(&["refused > 0"]));
    let mut link = Fake::new();
    for (t, refused) in [5, 5, 7].into_iter().enumerate() {
        let mut s = at(t as u64, 50);
        s.refused_total = refused;
        link.samples.push_back(Ok(s));
    }
    ticks(&mut m, &mut link, 0, 2);
    assert_eq!(m.totals().fired, 0, "no growth from the first sample alone");
    m.tick(&mut link, 2 * S).unwrap();
    assert_eq!(m.totals().fired, 1);
    assert!(
        link.logs[0].starts_with("trigger 'refused > 0' fired: 2 "),
        "{:?}",
        link.logs
    );
}

#[test]
fn a_lost_connection_is_noted_in_the_incident_and_sampling_resumes_after_a_reconnect() {
    let mut c = config(&["connections >= 10"]);
    c.after = 5 * S;
    let mut m = Machine::new(c);
    let mut link = Fake::new();
    link.samples
        .extend([Ok(at(0, 5)), Ok(at(1, 12)), Err(lost("server gone away"))]);
    ticks(&mut m, &mut link, 0, 3);
    assert_eq!(
        link.take_calls(),
        [
            Call::Sample,
            Call::Sample,
            Call::Snapshot,
            Call::Sample,
            Call::Lost
        ]
    );
    assert!(
        link.logs
            .contains(&"connection lost: server gone away; reconnecting in 1s".to_string()),
        "{:?}",
        link.logs
    );
    // Second 3: no attempt due. Second 4: it fails. Second 5: back, and a sample at once.
    m.tick(&mut link, 3 * S).unwrap();
    assert_eq!(link.take_calls(), []);
    link.reconnects.push_back(Err(lost("connection refused")));
    m.tick(&mut link, 4 * S).unwrap();
    assert_eq!(link.take_calls(), [Call::Reconnect]);
    assert!(
        link.logs
            .contains(&"reconnect failed: connection refused; next attempt in 2s".to_string())
    );
    link.reconnects.push_back(Ok(()));
    link.samples.push_back(Ok(at(5, 14)));
    m.tick(&mut link, 5 * S).unwrap();
    assert_eq!(link.take_calls(), [Call::Reconnect, Call::Sample]);
    assert!(link.logs.contains(&"reconnected to db1:3306".to_string()));
    // Second 6: --after is due; the incident says what happened in between.
    link.samples.push_back(Ok(at(6, 14)));
    m.tick(&mut link, 6 * S).unwrap();
    assert_eq!(
        link.take_calls(),
        [Call::Sample, Call::Snapshot, Call::Write(T0_MS + 1000)]
    );
    let idx = link.index(0);
    assert_eq!(
        idx.notes,
        ["connection lost: server gone away", "reconnected"]
    );
    assert_eq!(idx.after_snapshot.as_deref(), Some(AFTER_SNAPSHOT_FILE));
    let t = m.totals();
    assert_eq!((t.samples, t.failed_samples, t.reconnects), (4, 1, 1));
}

#[test]
fn without_a_connection_when_after_is_due_the_incident_is_written_without_it() {
    let mut m = Machine::new(config(&["connections >= 10"]));
    let mut link = Fake::new();
    link.samples.extend([Ok(at(0, 12)), Err(lost("gone"))]);
    ticks(&mut m, &mut link, 0, 3);
    m.tick(&mut link, 3 * S).unwrap();
    assert_eq!(
        link.take_calls(),
        [
            Call::Sample,
            Call::Snapshot,
            Call::Sample,
            Call::Lost,
            Call::Write(T0_MS)
        ]
    );
    let idx = link.index(0);
    assert_eq!(idx.after_snapshot, None);
    assert_eq!(
        idx.notes,
        [
            "connection lost: gone",
            "after snapshot not taken: no connection to the server"
        ]
    );
    assert_eq!(
        link.file_names(0),
        [INDEX_FILE, SAMPLES_FILE, TRIGGER_SNAPSHOT_FILE]
    );
}

#[test]
fn a_refused_trigger_snapshot_keeps_the_connection_a_lost_one_drops_it() {
    for (error, drops) in [
        (refused("SELECT command denied (ERROR 1142)"), false),
        (lost("server gone away"), true),
    ] {
        let mut m = Machine::new(config(&["connections >= 10"]));
        let mut link = Fake::new();
        link.samples.push_back(Ok(at(0, 12)));
        link.snapshots.push_back(Err(error.clone()));
        m.tick(&mut link, Duration::ZERO).unwrap();
        let mut want = vec![Call::Sample, Call::Snapshot];
        if drops {
            want.push(Call::Lost);
        }
        assert_eq!(link.take_calls(), want, "{error:?}");
        assert!(
            link.logs
                .contains(&format!("trigger snapshot failed: {}", error.message))
        );
        m.stop(&mut link);
        let idx = link.index(0);
        assert_eq!(idx.trigger_snapshot, None);
        assert_eq!(
            idx.notes[0],
            format!("trigger snapshot failed: {}", error.message)
        );
    }
}

#[test]
fn a_refused_first_sample_ends_the_run_and_later_failures_are_retried() {
    let mut m = Machine::new(config(&["usage >= 90"]));
    let mut link = Fake::new();
    link.samples
        .push_back(Err(refused("PROCESS privilege needed (ERROR 1227)")));
    let e = m.tick(&mut link, Duration::ZERO).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Privilege);

    let mut m = Machine::new(config(&["usage >= 90"]));
    let mut link = Fake::new();
    link.samples.extend([
        Ok(at(0, 5)),
        Err(refused("PROCESS privilege needed (ERROR 1227)")),
    ]);
    ticks(&mut m, &mut link, 0, 2);
    assert_eq!(link.take_calls(), [Call::Sample, Call::Sample, Call::Lost]);
    assert_eq!(m.totals().failed_samples, 1);
}

#[test]
fn stopping_writes_the_incident_in_progress_with_an_early_after_snapshot() {
    let mut m = Machine::new(config(&["connections >= 10"]));
    let mut link = Fake::new();
    link.samples.extend([Ok(at(0, 12)), Ok(at(1, 12))]);
    ticks(&mut m, &mut link, 0, 2);
    m.stop(&mut link);
    assert_eq!(
        link.take_calls(),
        [
            Call::Sample,
            Call::Snapshot,
            Call::Sample,
            Call::Snapshot,
            Call::Write(T0_MS)
        ]
    );
    assert_eq!(
        link.index(0).notes,
        ["the recorder stopped before --after: the after snapshot was taken early"]
    );
    // Nothing in progress: stopping writes nothing.
    m.stop(&mut link);
    assert_eq!(link.take_calls(), []);
}

#[test]
fn the_disk_bound_is_reported_and_removed_incidents_leave_the_summary() {
    let mut c = config(&["connections >= 10"]);
    c.cooldown = Duration::ZERO;
    c.after = Duration::ZERO;
    let mut m = Machine::new(c);
    let mut link = Fake::new();
    link.samples.extend([Ok(at(0, 12)), Ok(at(1, 12))]);
    let first = PathBuf::from(format!("/incidents/{T0_MS}"));
    link.removed.extend([vec![], vec![first.clone()]]);
    ticks(&mut m, &mut link, 0, 2);
    assert_eq!(
        link.take_calls(),
        [
            Call::Sample,
            Call::Snapshot,
            Call::Snapshot,
            Call::Write(T0_MS),
            Call::Sample,
            Call::Snapshot,
            Call::Snapshot,
            Call::Write(T0_MS + 1000)
        ]
    );
    assert!(
        link.logs
            .contains(&format!("removed {} (--max-size)", first.display()))
    );
    let t = m.totals();
    assert_eq!(t.removed, 1);
    assert_eq!(
        t.incidents,
        [PathBuf::from(format!("/incidents/{}", T0_MS + 1000))]
    );
}

#[test]
fn server_text_in_log_lines_is_escaped() {
    let mut m = Machine::new(config(&["usage >= 90"]));
    let mut link = Fake::new();
    link.samples
        .extend([Ok(at(0, 5)), Err(lost("gone \x1b[2J"))]);
    ticks(&mut m, &mut link, 0, 2);
    assert!(
        link.logs.iter().all(|l| !l.contains('\x1b')),
        "{:?}",
        link.logs
    );
    assert!(
        link.logs.iter().any(|l| l.contains("gone \\e[2J")),
        "{:?}",
        link.logs
    );
}

#[test]
fn an_incident_fits_in_max_size_and_says_what_it_left_out() {
    let mut c = config(&["connections >= 10"]);
    c.before = 600 * S;
    c.after = Duration::ZERO;
    // Room for a few samples: the oldest go.
    c.max_size = 4 << 10;
    let mut m = Machine::new(c);
    let mut link = Fake::new();
    link.samples
        .extend((0..60).map(|t| Ok(at(t, if t == 59 { 12 } else { 5 }))));
    ticks(&mut m, &mut link, 0, 60);
    let idx = link.index(0);
    let h = link.history(0);
    assert!(h.samples.len() < 60, "{}", h.samples.len());
    assert_eq!(
        h.samples.last().unwrap().at_ms,
        T0_MS + 59_000,
        "the newest are kept"
    );
    let left_out = format!(
        "{SAMPLES_FILE}: the {} oldest samples were left out to stay within --max-size",
        60 - h.samples.len()
    );
    assert!(idx.notes.contains(&left_out), "{:?}", idx.notes);
    // The snapshots stay, their query texts cut.
    assert_eq!(
        link.file_names(0),
        [
            INDEX_FILE,
            SAMPLES_FILE,
            TRIGGER_SNAPSHOT_FILE,
            AFTER_SNAPSHOT_FILE
        ]
    );
    for f in [TRIGGER_SNAPSHOT_FILE, AFTER_SNAPSHOT_FILE] {
        let note = format!("{f}: 1 query texts cut to 0 characters to stay within --max-size");
        assert!(idx.notes.contains(&note), "{:?}", idx.notes);
    }
}

#[test]
fn an_incident_that_cannot_be_written_is_counted_and_logged() {
    let mut m = Machine::new(config(&["connections >= 10"]));
    let mut link = Fake::new();
    link.full = true;
    link.samples.push_back(Ok(at(0, 12)));
    m.tick(&mut link, Duration::ZERO).unwrap();
    m.stop(&mut link);
    assert_eq!(
        link.take_calls(),
        [
            Call::Sample,
            Call::Snapshot,
            Call::Snapshot,
            Call::Write(T0_MS)
        ]
    );
    assert!(
        link.logs
            .iter()
            .any(|l| l.ends_with("No space left on device")),
        "{:?}",
        link.logs
    );
    let t = m.totals();
    assert_eq!((t.fired, t.not_written, t.incidents.len()), (1, 1, 0));
}
