//! `conncheck record`: the flight recorder. Wires one connection, the sampler
//! (`snapshot::sampling`), the triggers, ring buffer and incident store (`record`), and the full
//! snapshots (`snapshot::read`) into a loop that ticks every `--interval` without drifting.
//!
//! One connection for the whole run: when it is lost, reconnects follow [`Backoff`], and the
//! samples resume. Errors at start (bad credentials, unreachable) end the run with their exit
//! code; later ones are logged and retried. One log line per trigger, incident and reconnect goes
//! to stderr (plain text, server text escaped); the summary goes to stdout at the end.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::cli::RecordArgs;
use crate::connect::backoff::Backoff;
use crate::connect::{self, ConnectOptions, Connection};
use crate::diagnose::forecast;
use crate::exit::{self, AppError, ErrorKind};
use crate::record::ring::Ring;
use crate::record::store;
use crate::record::trigger::{self, Trigger};
use crate::render;
use crate::snapshot::Snapshot;
use crate::snapshot::batch::is_statement_error;
use crate::snapshot::read::{self, ReadOptions};
use crate::snapshot::sample::{
    AFTER_SNAPSHOT_FILE, INCIDENT_KIND, INDEX_FILE, IncidentIndex, SAMPLE_SCHEMA_VERSION,
    SAMPLES_FILE, Sample, SampleHistory, TRIGGER_SNAPSHOT_FILE,
};
use crate::snapshot::sampling::Sampler;
use crate::text::escape;

use super::Context;

/// A full snapshot reads global status twice at most this far apart (rates for the verdict),
/// so that sampling is not held up long.
const SNAPSHOT_SAMPLE: Duration = Duration::from_millis(500);

/// The longest single sleep: signals and `--for` are noticed within it.
const SLEEP_SLICE: Duration = Duration::from_millis(100);

/// An incident between its trigger and its `--after` snapshot.
struct Pending {
    at_ms: u64,
    trigger: String,
    value: f64,
    trigger_json: Option<String>,
    notes: Vec<String>,
    due: Instant,
}

/// What the summary reports.
#[derive(Default)]
struct Totals {
    samples: u64,
    failed_samples: u64,
    fired: u64,
    incidents: Vec<PathBuf>,
    removed: u64,
    reconnects: u64,
}

pub fn run(ctx: &Context, args: &RecordArgs) -> anyhow::Result<u8> {
    let triggers: Vec<Trigger> = if args.triggers.is_empty() {
        vec![trigger::parse(trigger::DEFAULT_TRIGGER).expect("the default trigger parses")]
    } else {
        args.triggers.clone()
    };
    store::ensure_dir(&args.dir).map_err(|e| {
        AppError::usage(format!(
            "cannot create the incident directory {}: {e}",
            args.dir.display()
        ))
    })?;
    store::remove_stale_temp(&args.dir);
    let opts = ctx.single_target()?;
    let (c, base) = open(&opts)?;
    let mut sampler = Sampler::new(&base);
    let mut conn: Option<Connection> = Some(c);

    // The first SIGINT, SIGTERM or SIGHUP ends the run cleanly (the pending incident is finished),
    // a second one at once (128 + the signal): the program's one handler, `crate::terminal`.
    let _signals = crate::terminal::defer("finishing the pending incident, then stopping", |_| {});
    let stop = || crate::terminal::interrupted().is_some();

    let started = Instant::now();
    let end = args.run_for.map(|d| started + d);
    // Room for --before and --after, and at least the minute the `full-in` forecast is fitted to.
    let keep = (args.before + args.after).max(Duration::from_secs_f64(forecast::RECENT_WINDOW_S));
    let mut ring = Ring::new(keep + args.interval, args.interval);
    let mut prev: Option<Sample> = None;
    let mut pending: Option<Pending> = None;
    let mut last_incident: Option<Instant> = None;
    let mut backoff = Backoff::default();
    let mut retry_at = Instant::now();
    let mut totals = Totals::default();
    let rec = Recorder {
        args,
        opts: &opts,
        target: opts.target(),
    };
    log(&format!(
        "recording {} every {} into {} (triggers: {})",
        escape(&rec.target),
        humantime::format_duration(args.interval),
        args.dir.display(),
        triggers
            .iter()
            .map(Trigger::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    ));

    let mut next_tick = Instant::now();
    loop {
        if stop() || end.is_some_and(|e| Instant::now() >= e) {
            break;
        }
        match conn.as_mut() {
            Some(c) => match sampler.read(c) {
                Ok((s, note)) => {
                    if let Some(n) = note {
                        log(&escape(&n));
                    }
                    totals.samples += 1;
                    ring.push(s.clone());
                    let forecast = forecast::of_recent_samples(ring.iter());
                    let full_in_s = forecast.as_ref().and_then(|f| f.full_in_s);
                    let cooled = last_incident.is_none_or(|t| t.elapsed() >= args.cooldown);
                    if pending.is_none()
                        && cooled
                        && let Some((t, value)) =
                            trigger::first_firing(&triggers, prev.as_ref(), &s, full_in_s)
                    {
                        totals.fired += 1;
                        last_incident = Some(Instant::now());
                        log(&format!(
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
                            trigger_json: None,
                            notes: Vec::new(),
                            due: Instant::now() + args.after,
                        };
                        match rec.snapshot(c) {
                            Ok(json) => p.trigger_json = Some(json),
                            Err(e) => {
                                p.notes
                                    .push(format!("trigger snapshot failed: {}", e.message));
                                log(&format!("trigger snapshot failed: {}", escape(&e.message)));
                                if !is_statement_error(&e) {
                                    conn = None;
                                    backoff = Backoff::default();
                                    retry_at = Instant::now() + backoff.delay();
                                }
                            }
                        }
                        pending = Some(p);
                    }
                    prev = Some(s);
                }
                Err(e) if is_statement_error(&e) && totals.samples == 0 => {
                    return Err(e.into());
                }
                Err(e) => {
                    totals.failed_samples += 1;
                    conn = None;
                    backoff = Backoff::default();
                    let d = backoff.delay();
                    retry_at = Instant::now() + d;
                    log(&format!(
                        "connection lost: {}; reconnecting in {}s",
                        escape(&e.message),
                        d.as_secs()
                    ));
                    if let Some(p) = pending.as_mut() {
                        p.notes.push(format!("connection lost: {}", e.message));
                    }
                }
            },
            None if Instant::now() >= retry_at => match open(&opts) {
                Ok((c, snap)) => {
                    totals.reconnects += 1;
                    sampler = Sampler::new(&snap);
                    conn = Some(c);
                    backoff = Backoff::default();
                    log(&format!("reconnected to {}", escape(&rec.target)));
                    if let Some(p) = pending.as_mut() {
                        p.notes.push("reconnected".to_string());
                    }
                    // Sample at once on the new connection.
                    continue;
                }
                Err(e) => {
                    let d = backoff.delay();
                    retry_at = Instant::now() + d;
                    log(&format!(
                        "reconnect failed: {}; next attempt in {}s",
                        escape(&e.message),
                        d.as_secs()
                    ));
                }
            },
            None => {}
        }
        if pending.as_ref().is_some_and(|p| Instant::now() >= p.due) {
            let p = pending.take().expect("pending");
            rec.finish(p, conn.as_mut(), &ring, &mut totals);
        }
        // Sleep to the next tick; ticks missed (a slow snapshot) are skipped, not caught up.
        next_tick += args.interval;
        let now = Instant::now();
        if next_tick < now {
            next_tick = now + args.interval;
        }
        while !stop() {
            let now = Instant::now();
            let until = end.map_or(next_tick, |e| e.min(next_tick));
            if now >= until {
                break;
            }
            std::thread::sleep((until - now).min(SLEEP_SLICE));
        }
    }
    if let Some(mut p) = pending.take() {
        p.notes
            .push("the recorder stopped before --after: the after snapshot was taken early".into());
        rec.finish(p, conn.as_mut(), &ring, &mut totals);
    }
    let why = if stop() { "signal" } else { "--for" };
    log(&format!(
        "stopped ({why}): {} samples, {} incidents",
        totals.samples,
        totals.incidents.len()
    ));
    render::print(&summary(
        &totals,
        started.elapsed(),
        &args.dir,
        args.max_size,
        why,
    ))?;
    Ok(exit::OK)
}

struct Recorder<'a> {
    args: &'a RecordArgs,
    opts: &'a ConnectOptions,
    target: String,
}

impl Recorder<'_> {
    /// A full snapshot, as `conncheck snapshot -o` writes it.
    fn snapshot(&self, c: &mut Connection) -> Result<String, AppError> {
        let mut snap: Snapshot = read::read_to_judge(
            c,
            ReadOptions {
                sample: SNAPSHOT_SAMPLE.min(self.args.interval),
                transactions: true,
                accounts: true,
                server_memory: None,
                local: self.opts.is_local(),
            },
        )?;
        snap.access.login_user = self.opts.user.clone();
        Ok(render::json(&snap) + "\n")
    }

    /// Take the after snapshot (when connected) and write the folder.
    fn finish(
        &self,
        mut p: Pending,
        conn: Option<&mut Connection>,
        ring: &Ring,
        totals: &mut Totals,
    ) {
        let after = match conn {
            Some(c) => match self.snapshot(c) {
                Ok(j) => Some(j),
                Err(e) => {
                    p.notes
                        .push(format!("after snapshot failed: {}", e.message));
                    None
                }
            },
            None => {
                p.notes
                    .push("after snapshot not taken: no connection to the server".into());
                None
            }
        };
        let from = p.at_ms.saturating_sub(self.args.before.as_millis() as u64);
        let history = SampleHistory {
            schema_version: SAMPLE_SCHEMA_VERSION,
            target: self.target.clone(),
            interval_ms: self.args.interval.as_millis() as u64,
            samples: ring.since(from),
        };
        let index = IncidentIndex {
            schema_version: SAMPLE_SCHEMA_VERSION,
            kind: INCIDENT_KIND.to_string(),
            target: self.target.clone(),
            triggered_at_ms: p.at_ms,
            trigger: p.trigger.clone(),
            value: p.value,
            trigger_snapshot: p
                .trigger_json
                .as_ref()
                .map(|_| TRIGGER_SNAPSHOT_FILE.to_string()),
            after_snapshot: after.as_ref().map(|_| AFTER_SNAPSHOT_FILE.to_string()),
            samples: SAMPLES_FILE.to_string(),
            notes: p.notes.clone(),
        };
        let mut files: Vec<(&str, Vec<u8>)> = vec![
            (INDEX_FILE, (render::json(&index) + "\n").into_bytes()),
            (SAMPLES_FILE, (render::json(&history) + "\n").into_bytes()),
        ];
        if let Some(j) = p.trigger_json {
            files.push((TRIGGER_SNAPSHOT_FILE, j.into_bytes()));
        }
        if let Some(j) = after {
            files.push((AFTER_SNAPSHOT_FILE, j.into_bytes()));
        }
        match store::write_incident(&self.args.dir, p.at_ms, &files) {
            Ok(path) => {
                log(&format!(
                    "incident written to {} ({} samples{})",
                    path.display(),
                    history.samples.len(),
                    if index.notes.is_empty() {
                        String::new()
                    } else {
                        format!(", {} notes", index.notes.len())
                    }
                ));
                match store::enforce_limit(&self.args.dir, self.args.max_size, &path) {
                    Ok(removed) => {
                        for r in &removed {
                            log(&format!("removed {} (--max-size)", r.display()));
                        }
                        totals.removed += removed.len() as u64;
                        totals.incidents.retain(|i| !removed.contains(i));
                    }
                    Err(e) => log(&format!("cannot keep --max-size: {e}")),
                }
                totals.incidents.push(path);
            }
            Err(e) => log(&format!(
                "cannot write the incident into {}: {e}",
                self.args.dir.display()
            )),
        }
    }
}

/// Connect and read the snapshot the samples build on (flavor, processlist source).
fn open(opts: &ConnectOptions) -> Result<(Connection, Snapshot), AppError> {
    let mut c = connect::open(opts)?;
    let snap = read::read(
        &mut c,
        ReadOptions {
            sample: Duration::ZERO,
            transactions: false,
            accounts: false,
            server_memory: None,
            local: opts.is_local(),
        },
    )
    .map_err(|e| {
        if e.kind == ErrorKind::Other {
            e.hint("the recorder needs PROCESS to see every session")
        } else {
            e
        }
    })?;
    Ok((c, snap))
}

/// One journal-friendly line on stderr: a UTC timestamp and the message (already escaped).
fn log(msg: &str) {
    eprintln!(
        "conncheck record: {} {msg}",
        humantime::format_rfc3339_seconds(SystemTime::now())
    );
}

fn round(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    format!("{r}")
}

fn summary(t: &Totals, ran: Duration, dir: &Path, max: u64, why: &str) -> String {
    let ran = Duration::from_secs(ran.as_secs());
    let mut out = format!(
        "conncheck record: stopped after {} ({why})\n  samples taken:     {}{}\n  triggers fired:    {}\n  incidents written: {}\n",
        humantime::format_duration(ran),
        t.samples,
        if t.failed_samples > 0 {
            format!(" ({} failed)", t.failed_samples)
        } else {
            String::new()
        },
        t.fired,
        t.incidents.len() as u64 + t.removed,
    );
    for p in &t.incidents {
        out.push_str(&format!("    {}\n", p.display()));
    }
    if t.removed > 0 {
        out.push_str(&format!(
            "  removed (--max-size): {} older incidents\n",
            t.removed
        ));
    }
    out.push_str(&format!(
        "  reconnects:        {}\n  disk used:         {} in {} (limit {})",
        t.reconnects,
        crate::units::bytes(store::disk_used(dir)),
        dir.display(),
        crate::units::bytes(max)
    ));
    out
}
