//! `conncheck kill-idle` and `conncheck kill-long`: plan, show, confirm, re-check, kill, report.
//!
//! Nothing is killed without the plan printed first and a "yes" (interactive) or `--yes`
//! (scripts); `--dry-run` always works. `--repeat EVERY --for TOTAL` runs bounded rounds on the
//! same connection, the pt-kill use case without a daemon.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::cli::{Format, KillArgs, KillIdleArgs, KillLongArgs, WithOpenTrx};
use crate::connect::Connection;
use crate::exit::{self, AppError, ErrorKind};
use crate::filter::SessionFilter;
use crate::remedy::execute::{self, KillDialect, KillResult, Outcome};
use crate::remedy::plan::{self, Criteria, KillMode, KillPlan, Target};
use crate::render::{self, Style};
use crate::snapshot::Snapshot;
use crate::snapshot::read::{self, ReadOptions};

use super::Context;

/// Bumped when a field of the kill JSON / audit record changes meaning or disappears.
pub const KILL_SCHEMA_VERSION: u32 = 1;

/// One round: the plan and what happened to it. Also the audit-log record.
#[derive(Debug, Serialize)]
pub struct KillReport {
    pub schema_version: u32,
    pub command: &'static str,
    /// Unix time of the round.
    pub time: u64,
    pub target: String,
    pub account: String,
    pub dry_run: bool,
    pub summary: String,
    #[serde(flatten)]
    pub plan: KillPlan,
    pub results: Vec<KillResult>,
    pub counts: Counts,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Counts {
    pub planned: usize,
    pub killed: usize,
    pub gone: usize,
    pub skipped_changed: usize,
    pub denied: usize,
    pub errors: usize,
}

impl Counts {
    fn of(planned: usize, results: &[KillResult]) -> Counts {
        let n = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
        Counts {
            planned,
            killed: n(Outcome::Killed),
            gone: n(Outcome::Gone),
            skipped_changed: n(Outcome::SkippedChanged),
            denied: n(Outcome::Denied),
            errors: n(Outcome::Error),
        }
    }
}

pub fn run_idle(ctx: &Context, a: &KillIdleArgs) -> anyhow::Result<u8> {
    run(
        ctx,
        "kill-idle",
        Target::Idle,
        KillMode::Connection,
        a.older_than,
        &a.kill,
    )
}

pub fn run_long(ctx: &Context, a: &KillLongArgs) -> anyhow::Result<u8> {
    let mode = if a.query_only {
        KillMode::Query
    } else {
        KillMode::Connection
    };
    run(ctx, "kill-long", Target::Long, mode, a.longer_than, &a.kill)
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
        filter: SessionFilter::from_args(&a.filter)?,
        exclude_users: a.exclude_user.clone(),
        limit: a.limit,
        with_open_trx: a.with_open_trx,
        min_trx_age: a.trx_older_than,
        allow_replication: a.allow_replication,
        allow_system: a.allow_system,
        ..Criteria::new(target, mode, threshold)
    })
}

fn run(
    ctx: &Context,
    command: &'static str,
    target: Target,
    mode: KillMode,
    threshold: Duration,
    a: &KillArgs,
) -> anyhow::Result<u8> {
    let c = criteria(target, mode, threshold, a)?;
    let (mut conn, _) = ctx.connect()?;
    let session = KillSession {
        command,
        criteria: c,
        args: a,
        style: ctx.style,
    };
    session.run(&mut conn)
}

struct KillSession<'a> {
    command: &'static str,
    criteria: Criteria,
    args: &'a KillArgs,
    style: Style,
}

impl KillSession<'_> {
    fn run(&self, conn: &mut Connection) -> anyhow::Result<u8> {
        let started = Instant::now();
        let mut confirmed = self.args.yes;
        let mut worst: Option<ErrorKind> = None;
        let mut round = 0u64;
        loop {
            round += 1;
            let snap = read::read(
                conn,
                ReadOptions {
                    sample: Duration::ZERO,
                    transactions: true,
                    server_memory: None,
                    local: false,
                },
            )?;
            let plan = plan::plan(&snap, &self.criteria);
            if self.args.repeat.is_some() && self.args.format == Format::Table {
                render::print(&format!("--- round {round} ---"))?;
            }
            if self.args.format == Format::Table {
                render::print(&plan_text(&plan, &snap, self.style))?;
            }
            let mut results = Vec::new();
            let mut fatal = None;
            if !plan.victims.is_empty() && !self.args.dry_run {
                if !confirmed {
                    confirm(&plan, self.args.repeat.zip(self.args.for_))?;
                    confirmed = true;
                }
                match read::read_sessions(conn, &snap) {
                    Ok(now) => {
                        let (go, skipped) = execute::recheck(&plan, &self.criteria, &now);
                        let dialect = KillDialect {
                            flavor: snap.server.flavor,
                            rds: snap.server.rds || self.args.rds,
                        };
                        let (killed, err) = execute::kill(conn, dialect, plan.mode, &go);
                        results = killed;
                        results.extend(skipped);
                        fatal = err;
                    }
                    // The server went away (or stalled) while the plan was on screen: nothing
                    // was attempted, and the report and the audit log say so per session.
                    Err(e) => {
                        let why = if e.kind == ErrorKind::ConnectionLost {
                            "not attempted: the connection was lost before the kill".to_string()
                        } else {
                            format!("not attempted: {}", e.message)
                        };
                        results = execute::not_attempted(plan.victims.iter(), &why);
                        fatal = Some(e);
                    }
                }
            }
            let report = KillReport {
                schema_version: KILL_SCHEMA_VERSION,
                command: self.command,
                time: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
                target: snap.target.clone(),
                account: snap.access.user.clone(),
                dry_run: self.args.dry_run,
                summary: plan.summary(),
                counts: Counts::of(plan.victims.len(), &results),
                plan,
                results,
            };
            if let Some(path) = &self.args.log {
                append_log(path, &report)?;
            }
            match self.args.format {
                Format::Json if self.args.repeat.is_some() => {
                    render::print(&serde_json::to_string(&report)?)?
                }
                Format::Json => render::print(&render::json(&report))?,
                Format::Table => render::print(&results_text(&report, self.style))?,
            }
            if let Some(e) = fatal {
                return Err(e.into());
            }
            // Any failed kill outranks a merely denied one across rounds.
            if let Some(k) = execute::failure_kind(&report.results)
                && worst != Some(ErrorKind::ActionFailed)
            {
                worst = Some(k);
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

/// Ask before killing; refuse without a terminal unless --yes.
fn confirm(plan: &KillPlan, repeat: Option<(Duration, Duration)>) -> Result<(), AppError> {
    let question = match repeat {
        Some((every, total)) => format!(
            "Kill these {} sessions now, and whatever matches every {} for {}?",
            plan.victims.len(),
            humantime::format_duration(every),
            humantime::format_duration(total)
        ),
        None => format!("Kill these {} sessions?", plan.victims.len()),
    };
    super::confirm(
        &question,
        &format!("kill {} sessions", plan.victims.len()),
        "killed",
    )
}

fn append_log(path: &Path, report: &KillReport) -> Result<(), AppError> {
    let line = serde_json::to_string(report).expect("report serializes");
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| writeln!(f, "{line}"))
        .map_err(|e| {
            AppError::new(
                ErrorKind::Other,
                format!("cannot write the audit log {}: {e}", path.display()),
            )
        })
}

/// The plan as a table with its summary.
pub fn plan_text(plan: &KillPlan, snap: &Snapshot, style: Style) -> String {
    let mut out = String::new();
    if plan.victims.is_empty() {
        out.push_str(&format!(
            "Nothing to kill: no session matches ({}) among {} sessions.",
            plan.criteria.join(", "),
            plan.total_sessions
        ));
        if !plan.protected.is_empty() {
            out.push_str(&format!(
                " {} protected session(s) were left alone.",
                plan.protected.len()
            ));
        }
        return out;
    }
    out.push_str(&format!("{} {}\n", style.bold("Plan:"), plan.summary()));
    out.push_str(&format!("Criteria: {}\n", plan.criteria.join(", ")));
    let mut t = style.table();
    t.set_header(vec![
        "id", "user", "host", "db", "command", "time", "state", "open trx", "query", "why",
    ]);
    for v in &plan.victims {
        t.add_row(vec![
            v.id.to_string(),
            v.user.clone(),
            v.host.clone(),
            v.db.clone().unwrap_or_default(),
            v.command.clone(),
            render::secs(v.time_s),
            v.state.clone(),
            v.trx_age_s
                .map(|a| {
                    format!(
                        "{} ({} rows)",
                        render::secs(a),
                        v.trx_rows_modified.unwrap_or(0)
                    )
                })
                .unwrap_or_default(),
            render::snippet(v.info.as_deref(), 40),
            v.reason.clone(),
        ]);
    }
    out.push_str(&format!("{t}\n"));
    let own = snap.access.user.split('@').next().unwrap_or("");
    let others = plan.victims.iter().filter(|v| v.user != own).count();
    if others > 0 && !snap.access.privileges.can_kill_others() && !snap.server.rds {
        out.push_str(&style.yellow(&format!(
            "Warning: {others} of these belong to other accounts and {} lacks CONNECTION_ADMIN/SUPER: those kills will be denied.\n",
            snap.access.user
        )));
    }
    out
}

fn results_text(r: &KillReport, style: Style) -> String {
    if r.plan.victims.is_empty() {
        return String::new();
    }
    if r.dry_run {
        return "Dry run: nothing was killed.".into();
    }
    let c = &r.counts;
    let mut out = format!(
        "{} {} killed, {} already gone, {} skipped (changed since the plan), {} denied, {} errors\n",
        style.bold("Result:"),
        c.killed,
        c.gone,
        c.skipped_changed,
        c.denied,
        c.errors
    );
    let not_killed: Vec<&KillResult> = r
        .results
        .iter()
        .filter(|x| x.outcome != Outcome::Killed)
        .collect();
    if !not_killed.is_empty() {
        let mut t = style.table();
        t.set_header(vec!["id", "user", "outcome", "detail"]);
        for x in not_killed {
            t.add_row(vec![
                x.id.to_string(),
                x.user.clone(),
                serde_json::to_value(x.outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                x.error.clone().unwrap_or_default(),
            ]);
        }
        out.push_str(&format!("{t}\n"));
    }
    out
}
