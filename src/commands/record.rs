//! `conncheck record`: the flight recorder. Wires the live connection (`commands::live`, shared
//! with `watch`), the sampler (`snapshot::sampling`), the full snapshots (`snapshot::read`) and
//! the incident store into the link of the recorder's state machine (`record::machine`: triggers,
//! cooldown, after snapshot), and ticks it every `--interval` without drifting.
//!
//! One connection for the whole run: when it is lost, reconnects follow the backoff of
//! `connect::persistent`, and the samples resume. Errors at start (bad credentials, unreachable)
//! end the run with their exit code; later ones are logged and retried. One log line per trigger,
//! incident and reconnect goes to stderr (plain text, server text escaped), and one ready line
//! ([`READY`]) once the first sample is taken; the summary goes to stdout at the end.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use crate::cli::RecordArgs;
use crate::connect::ConnectOptions;
use crate::connect::persistent::Reconnect;
use crate::exit::{self, AppError, ErrorKind};
use crate::record::machine::{self, Config, Machine, Totals, Written};
use crate::record::store;
use crate::record::trigger::{self, Trigger};
use crate::render;
use crate::snapshot::Snapshot;
use crate::snapshot::read::{self, ReadOptions};
use crate::snapshot::sample::Sample;
use crate::snapshot::sampling::Sampler;
use crate::text::escape;

use super::Context;
use super::live::{self, Live};

/// A full snapshot reads global status twice at most this far apart (rates for the verdict),
/// so that sampling is not held up long.
const SNAPSHOT_SAMPLE: Duration = Duration::from_millis(500);

/// The line logged once the first sample is taken (documented in the README's `record` section).
pub const READY: &str = "ready: first sample taken, recording";

/// The longest single sleep: signals and `--for` are noticed within it.
const SLEEP_SLICE: Duration = Duration::from_millis(100);

pub fn run(ctx: &Context, args: &RecordArgs) -> anyhow::Result<u8> {
    let triggers: Vec<Trigger> = if args.triggers.is_empty() {
        vec![trigger::parse(trigger::DEFAULT_TRIGGER).expect("the default trigger parses")]
    } else {
        args.triggers.clone()
    };
    store::ensure_dir(&args.dir).map_err(|e| {
        AppError::usage(format!(
            "cannot create the incident directory {}: {e}",
            crate::text::path(&args.dir)
        ))
    })?;
    store::remove_stale_temp(&args.dir);
    let opts = ctx.single_target()?;
    let live = live::open(&opts).map_err(|e| {
        if e.kind == ErrorKind::Other {
            e.hint("the recorder needs PROCESS to see every session")
        } else {
            e
        }
    })?;
    let mut link = Recorder {
        sampler: Sampler::new(live.base()),
        live,
        args,
        opts: &opts,
    };

    // The first SIGINT, SIGTERM or SIGHUP ends the run cleanly (the pending incident is finished),
    // a second one at once (128 + the signal): the program's one handler, `crate::terminal`.
    let _signals = crate::terminal::defer("finishing the pending incident, then stopping", |_| {});
    let stop = || crate::terminal::interrupted().is_some();

    let started = Instant::now();
    let end = args.run_for.map(|d| started + d);
    let triggers_text = triggers
        .iter()
        .map(Trigger::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let mut machine = Machine::new(Config {
        triggers,
        interval: args.interval,
        before: args.before,
        after: args.after,
        cooldown: args.cooldown,
        max_size: args.max_size,
        target: opts.target(),
    });
    log(&format!(
        "recording {} every {} into {} (triggers: {})",
        escape(&opts.target()),
        humantime::format_duration(args.interval),
        crate::text::path(&args.dir),
        triggers_text
    ));

    let mut next_tick = Instant::now();
    let mut ready = false;
    loop {
        if stop() || end.is_some_and(|e| Instant::now() >= e) {
            break;
        }
        machine.tick(&mut link, started.elapsed())?;
        // One line once the first sample is in the ring: from here on what happens on the server
        // is recorded, so scripts (and the tests) wait for it instead of guessing a delay.
        if !ready && machine.totals().samples > 0 {
            ready = true;
            log(READY);
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
    machine.stop(&mut link);
    let totals = machine.totals();
    let why = if stop() { "signal" } else { "--for" };
    log(&format!(
        "stopped ({why}): {} samples, {} incidents",
        totals.samples,
        totals.incidents.len()
    ));
    render::print(&summary(
        totals,
        started.elapsed(),
        &args.dir,
        args.max_size,
        why,
    ))?;
    if totals.not_written > 0 {
        return Err(AppError::new(
            ErrorKind::Other,
            format!(
                "{} of {} triggered incidents could not be written into {}",
                totals.not_written,
                totals.fired,
                crate::text::path(&args.dir)
            ),
        )
        .hint("the log lines above say why; give --dir a writable folder with room")
        .into());
    }
    Ok(exit::OK)
}

/// The recorder's [`machine::Link`]: the live connection, the sampler, the incident store and
/// stderr.
struct Recorder<'a> {
    live: Live,
    sampler: Sampler,
    args: &'a RecordArgs,
    opts: &'a ConnectOptions,
}

impl machine::Link for Recorder<'_> {
    fn connected(&self) -> bool {
        self.live.is_connected()
    }

    fn sample(&mut self) -> Result<(Sample, Option<String>), AppError> {
        let c = self.live.conn().ok_or_else(not_connected)?;
        self.sampler.read(c)
    }

    /// A full snapshot, as `conncheck snapshot -o` reads it.
    fn snapshot(&mut self) -> Result<Snapshot, AppError> {
        let c = self.live.conn().ok_or_else(not_connected)?;
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
        Ok(snap)
    }

    fn lost(&mut self) -> Duration {
        self.live.lost(Instant::now())
    }

    fn reconnect(&mut self) -> Option<Result<(), (AppError, Duration)>> {
        match self.live.reconnect(Instant::now()) {
            Reconnect::NotDue => None,
            Reconnect::Reconnected => {
                self.sampler.reconnected(self.live.base());
                Some(Ok(()))
            }
            Reconnect::Failed { error, retry_in } => Some(Err((error, retry_in))),
        }
    }

    fn write(&mut self, at_ms: u64, files: &[(&str, Vec<u8>)]) -> Result<Written, String> {
        let dir = &self.args.dir;
        let path = store::write_incident(dir, at_ms, files).map_err(|e| {
            format!(
                "cannot write the incident into {}: {e}",
                crate::text::path(dir)
            )
        })?;
        let limit = store::enforce_limit(dir, self.args.max_size, &path, now_ms());
        let (removed, limit_error) = match limit {
            Ok(removed) => (removed, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        Ok(Written {
            path,
            removed,
            limit_error,
        })
    }

    fn log(&mut self, message: &str) {
        log(message);
    }
}

/// The clock, Unix milliseconds.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn not_connected() -> AppError {
    AppError::new(ErrorKind::ConnectionLost, "no connection to the server")
}

/// One journal-friendly line on stderr: a UTC timestamp and the message (already escaped).
fn log(msg: &str) {
    eprintln!(
        "conncheck record: {} {msg}",
        crate::units::utc(SystemTime::now())
    );
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
    if t.not_written > 0 {
        out.push_str(&format!("  not written:       {}\n", t.not_written));
    }
    for p in &t.incidents {
        out.push_str(&format!("    {}\n", crate::text::path(p)));
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
        crate::text::path(dir),
        crate::units::bytes(max)
    ));
    out
}
