//! `conncheck kill-idle` and `conncheck kill-long`: plan, show, confirm, re-check, kill, report.
//!
//! Nothing is killed without the plan printed first and a "yes" (interactive) or `--yes`
//! (scripts); `--dry-run` always works. `--repeat EVERY --for TOTAL` runs bounded rounds on the
//! same connection, the pt-kill use case without a daemon.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::cli::{Format, KillArgs, KillIdleArgs, KillLongArgs, WithOpenTrx};
use crate::exit::{self, AppError, ErrorKind};
use crate::filter::SessionFilter;
use crate::remedy::execute::{self, Link, Prior, ServerLink};
use crate::remedy::plan::{self, Criteria, KillMode, KillPlan, Target};
use crate::render::{self, Style};
use crate::report::kill::{Counts, KILL_SCHEMA_VERSION, KillReport, PlanRecord};
use crate::snapshot::read::{self, ReadOptions};
use crate::terminal::{self, Signal};
use crate::text;

use super::Context;

pub fn run_idle(ctx: &Context, a: &KillIdleArgs) -> anyhow::Result<u8> {
    let mut c = criteria(Target::Idle, KillMode::Connection, a.older_than, &a.kill)?;
    c.include_pools = a.include_pools;
    run(ctx, "kill-idle", c, &a.kill)
}

pub fn run_long(ctx: &Context, a: &KillLongArgs) -> anyhow::Result<u8> {
    let mode = if a.query_only {
        KillMode::Query
    } else {
        KillMode::Connection
    };
    let c = criteria(Target::Long, mode, a.longer_than, &a.kill)?;
    run(ctx, "kill-long", c, &a.kill)
}

/// The criteria a kill command's flags describe.
pub fn criteria(
    target: Target,
    mode: KillMode,
    threshold: Duration,
    a: &KillArgs,
) -> Result<Criteria, AppError> {
    if a.trx_older_than.is_some() && a.with_open_trx == WithOpenTrx::Skip {
        return Err(AppError::usage(
            "--trx-older-than selects sessions by their open transaction; --with-open-trx skip leaves all of those out",
        ));
    }
    Ok(Criteria {
        filter: SessionFilter::try_from(&a.filter)?,
        exclude_users: a.exclude_user.clone(),
        limit: a.limit,
        ids: a.ids.clone(),
        with_open_trx: a.with_open_trx,
        min_trx_age: a.trx_older_than,
        allow_replication: a.allow_replication,
        allow_system: a.allow_system,
        ..Criteria::new(target, mode, threshold)
    })
}

fn run(ctx: &Context, command: &'static str, c: Criteria, a: &KillArgs) -> anyhow::Result<u8> {
    // The audit log is opened before anything else: if it cannot be, nothing is killed.
    let mut log = match &a.log {
        Some(path) => Some(AuditLog::open(path)?),
        None => None,
    };
    let (conn, opts) = ctx.connect()?;
    let mut link = ServerLink::new(conn, Some(&opts));
    let replay = ctx.replay(&opts)?;
    let session = KillSession {
        command,
        criteria: c,
        args: a,
        style: ctx.style,
    };
    // A `conncheck …` in the error's hint (`conncheck sessions` after a lost connection) must
    // reach this server too.
    session
        .run(&mut link, log.as_mut())
        .map_err(|e| match e.downcast::<AppError>() {
            Ok(mut app) => {
                app.hint = app.hint.map(|h| replay.in_prose(&h));
                app.into()
            }
            Err(other) => other,
        })
}

struct KillSession<'a> {
    command: &'static str,
    criteria: Criteria,
    args: &'a KillArgs,
    style: Style,
}

impl KillSession<'_> {
    fn run(&self, link: &mut ServerLink<'_>, mut log: Option<&mut AuditLog>) -> anyhow::Result<u8> {
        let started = Instant::now();
        let mut confirmed = self.args.yes;
        let mut worst: Option<ErrorKind> = None;
        let mut round = 0u64;
        // A prompt may wait, and --repeat sleeps between rounds: keep our session open meanwhile.
        if !self.args.dry_run && (!self.args.yes || self.args.repeat.is_some()) {
            link.keep_alive();
        }
        loop {
            round += 1;
            // No prompt ahead: take the kill lock now, so that the plan's read is the re-check read.
            let acting = !self.args.dry_run;
            let lock_before_read = (acting && confirmed).then(|| link.lock().ok()).flatten();
            let read_at = Instant::now();
            let snap = read::read_to_kill(
                link.conn()?,
                ReadOptions {
                    sample: Duration::ZERO,
                    transactions: true,
                    accounts: false,
                    server_memory: None,
                    local: false,
                },
            )?;
            link.learn(&snap);
            let plan = plan::plan(&snap, &self.criteria);
            let hostname = snap.variables.get("hostname").filter(|h| !h.is_empty());
            if self.args.repeat.is_some() && self.args.format == Format::Table {
                render::print(&round_header(round, SystemTime::now()))?;
            }
            let plan_text = || render::kill::plan_text(&plan, &snap, self.style);
            if self.args.format == Format::Table {
                render::print(&plan_text())?;
            } else if !plan.victims.is_empty() && acting && !confirmed && super::can_prompt() {
                // JSON goes to stdout for a program, but a person is about to be asked: the
                // question comes with the plan it is about, on the terminal.
                eprintln!("{}", plan_text());
            }
            let mut execution = execute::Execution::default();
            // Signals wait for the round's record from the plan record on (dropped after it).
            let mut deferred: Option<terminal::Deferred> = None;
            if !plan.victims.is_empty() && acting {
                let prior = match lock_before_read {
                    Some(lock) if confirmed => Some(Prior {
                        sessions: &snap.sessions,
                        read_at,
                        lock,
                    }),
                    _ => None,
                };
                if !confirmed {
                    match confirm(&plan, self.args.repeat.zip(self.args.for_)) {
                        Err(e) if e.kind == ErrorKind::Declined => {
                            eprintln!("Nothing was killed: declined at the prompt.");
                            return Ok(exit::DECLINED);
                        }
                        other => other?,
                    }
                    confirmed = true;
                }
                deferred = Some(terminal::defer(
                    "no further KILL is sent; settling the ones in flight and recording every outcome",
                    log.as_deref().map_or_else(
                        || Box::new(|_| {}) as Box<dyn Fn(Signal) + Send>,
                        |l| l.on_abort(self.command, &snap.target),
                    ),
                ));
                if let Some(log) = log.as_deref_mut() {
                    log.write(
                        &PlanRecord {
                            schema_version: KILL_SCHEMA_VERSION,
                            event: "plan",
                            command: self.command,
                            time: unix_now(),
                            target: &snap.target,
                            server_hostname: hostname.map(String::as_str),
                            account: &snap.access.user,
                            summary: plan.summary(),
                            plan: &plan,
                        },
                        "nothing was killed in this round",
                    )?;
                }
                let dialect = snap.dialect().with_rds_procedures(self.args.rds);
                execution = execute::execute(link, &plan, &self.criteria, dialect, prior);
            }
            // Taken before the read for a plan with nothing to kill: give it back.
            link.unlock();
            let fatal = execution.fatal.take();
            let report = KillReport {
                schema_version: KILL_SCHEMA_VERSION,
                event: "result",
                command: self.command,
                time: unix_now(),
                target: snap.target.clone(),
                server_hostname: hostname.cloned(),
                account: snap.access.user.clone(),
                dry_run: self.args.dry_run,
                summary: plan.summary(),
                counts: Counts::of(plan.victims.len(), &execution.results),
                plan,
                results: execution.results,
                reconnects: execution.reconnects,
                interrupted: execution.interrupted,
                notes: execution.notes,
            };
            // The report reaches the person even when the log cannot take it.
            let logged = match log.as_deref_mut() {
                Some(log) => log.write(&report, "the results shown were not recorded in it"),
                None => Ok(()),
            };
            // Rounds of `--repeat` are JSON lines, one compact record each.
            let text = if self.args.repeat.is_some() && self.args.format == Format::Json {
                render::json_line(&report)
            } else {
                render::text(&report, self.args.format, |r| {
                    render::kill::results_text(r, self.style)
                })
            };
            render::print(&text)?;
            drop(deferred);
            logged?;
            if let Some(e) = fatal {
                return Err(e.into());
            }
            // Across rounds the gravest outcome decides: an unknown one (18) outranks a failed
            // kill (3), which outranks a merely denied one (17).
            let rank = |k: Option<ErrorKind>| match k {
                Some(ErrorKind::ConnectionLost) => 3,
                Some(ErrorKind::ActionFailed) => 2,
                Some(_) => 1,
                None => 0,
            };
            let this = execute::failure_kind(&report.results, report.interrupted.is_some());
            if rank(this) > rank(worst) {
                worst = this;
            }
            // A signal stops the rounds too (also one that came just as the round ended).
            if report.interrupted.is_some() || terminal::interrupted().is_some() {
                break;
            }
            match (self.args.repeat, self.args.for_) {
                (Some(every), Some(total)) if started.elapsed() + every <= total => {
                    std::thread::sleep(every)
                }
                _ => break,
            }
        }
        Ok(worst.map_or(exit::OK, ErrorKind::exit_code))
    }
}

/// `--- round 3 at 2026-11-23T19:40:00Z ---`: which round of `--repeat`, and when.
fn round_header(round: u64, at: SystemTime) -> String {
    format!("--- round {round} at {} ---", crate::units::utc(at))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// "1 session", "2 sessions".
fn sessions(n: usize) -> String {
    format!("{n} session{}", if n == 1 { "" } else { "s" })
}

/// Ask before killing; refuse without a terminal unless --yes.
fn confirm(plan: &KillPlan, repeat: Option<(Duration, Duration)>) -> Result<(), AppError> {
    let n = plan.victims.len();
    let these = if n == 1 { "this" } else { "these" };
    let question = match repeat {
        Some((every, total)) => format!(
            "Kill {these} {} now, and whatever matches every {} for {}?",
            sessions(n),
            humantime::format_duration(every),
            humantime::format_duration(total)
        ),
        None => format!("Kill {these} {}?", sessions(n)),
    };
    super::confirm(&question, &format!("kill {}", sessions(n)), "killed")
}

/// The `--log` file: JSON lines, appended, created readable by its owner only (it holds full
/// query texts). Opened before connecting; every record is written whole and synced, the plan
/// record before the first KILL. Shared with the signal thread, which appends an `aborted`
/// record when a second signal ends a round at once.
struct AuditLog {
    path: std::path::PathBuf,
    file: Arc<Mutex<File>>,
}

/// The audit log's `"event": "aborted"` record: a second signal ended the round before its
/// result record (the outcomes of the KILLs sent are not known to the log).
#[derive(Serialize)]
struct AbortRecord<'a> {
    schema_version: u32,
    event: &'static str,
    command: &'a str,
    time: u64,
    target: &'a str,
    /// The first signal, which asked the round to stop.
    interrupted: &'static str,
    /// The second signal, which ended it at once.
    aborted_by: &'static str,
    note: &'static str,
}

impl AuditLog {
    fn open(path: &Path) -> Result<AuditLog, AppError> {
        // 0600, and an existing log others can read is narrowed: it holds full query texts.
        crate::output::append_private(path)
            .map(|file| AuditLog {
                path: path.to_path_buf(),
                file: Arc::new(Mutex::new(file)),
            })
            .map_err(|e| Self::error(path, "open", &e, "nothing was killed"))
    }

    /// Append one record; `otherwise` says what the failure means for the kills.
    fn write<T: Serialize>(&mut self, record: &T, otherwise: &str) -> Result<(), AppError> {
        append(&self.file, record).map_err(|e| Self::error(&self.path, "write", &e, otherwise))
    }

    /// What the signal thread does when a second signal ends a round at once: append an
    /// `aborted` record (best effort: the process is about to end).
    fn on_abort(&self, command: &'static str, target: &str) -> Box<dyn Fn(Signal) + Send> {
        let file = Arc::clone(&self.file);
        let target = target.to_string();
        Box::new(move |second: Signal| {
            let record = AbortRecord {
                schema_version: KILL_SCHEMA_VERSION,
                event: "aborted",
                command,
                time: unix_now(),
                target: &target,
                interrupted: terminal::interrupted().unwrap_or(second).name(),
                aborted_by: second.name(),
                note: "a second signal ended the run before its result record: the KILLs already sent may or may not have taken effect; check with conncheck sessions",
            };
            let _ = append(&file, &record);
        })
    }

    fn error(path: &Path, what: &str, e: &std::io::Error, otherwise: &str) -> AppError {
        AppError::new(
            ErrorKind::Other,
            format!(
                "cannot {what} the audit log {}: {e}; {otherwise}",
                text::escape(&path.to_string_lossy())
            ),
        )
        .hint("give --log a writable file (its directory must exist), or leave --log out")
    }
}

/// One JSON line, written whole and synced.
fn append<T: Serialize>(file: &Mutex<File>, record: &T) -> std::io::Result<()> {
    // Terminal-safe: people read the log with `tail -f`.
    let mut line = render::json_line(record);
    line.push('\n');
    let mut f = file.lock().unwrap_or_else(|p| p.into_inner());
    f.write_all(line.as_bytes()).and_then(|()| f.sync_data())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeat_rounds_say_when_they_ran() {
        let at = UNIX_EPOCH + Duration::from_secs(1_795_462_800);
        assert_eq!(
            round_header(3, at),
            "--- round 3 at 2026-11-23T19:40:00Z ---"
        );
    }
}
