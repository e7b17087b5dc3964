//! `conncheck kill-idle` and `conncheck kill-long`: plan, show, confirm, re-check, kill, report.
//!
//! Nothing is killed without the plan printed first and a "yes" (interactive) or `--yes`
//! (scripts); `--dry-run` always works. `--repeat EVERY --for TOTAL` runs bounded rounds on the
//! same connection, the pt-kill use case without a daemon.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::cli::{Format, KillArgs, KillIdleArgs, KillLongArgs, WithOpenTrx};
use crate::exit::{self, AppError, ErrorKind};
use crate::filter::SessionFilter;
use crate::remedy::execute::{self, KillDialect, KillResult, Outcome, Reconnect, ServerLink};
use crate::remedy::plan::{self, Criteria, KillMode, KillPlan, Target};
use crate::render::layout::{self, Col};
use crate::render::{self, Style};
use crate::snapshot::Snapshot;
use crate::snapshot::read::{self, ReadOptions};
use crate::text;

use super::Context;

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
}

/// The audit log's `"event": "plan"` record: what is about to be killed, written (and synced)
/// before the first KILL.
#[derive(Debug, Serialize)]
struct PlanRecord<'a> {
    schema_version: u32,
    event: &'static str,
    command: &'static str,
    time: u64,
    target: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_hostname: Option<&'a str>,
    account: &'a str,
    summary: String,
    #[serde(flatten)]
    plan: &'a KillPlan,
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
    /// Never sent: the connection was lost first and not restored.
    pub not_attempted: usize,
    /// Of `killed`: established from a fresh processlist after reconnecting.
    pub confirmed_after_reconnect: usize,
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
            not_killed: n(Outcome::NotKilled),
            unknown: n(Outcome::Unknown),
            not_attempted: n(Outcome::NotAttempted),
            confirmed_after_reconnect: results
                .iter()
                .filter(|r| r.outcome == Outcome::Killed && r.note.is_some())
                .count(),
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
    // The audit log is opened before anything else: if it cannot be, nothing is killed.
    let mut log = match &a.log {
        Some(path) => Some(AuditLog::open(path)?),
        None => None,
    };
    let (conn, opts) = ctx.connect()?;
    let mut link = ServerLink::new(conn, Some(&opts));
    let session = KillSession {
        command,
        criteria: c,
        args: a,
        style: ctx.style,
    };
    session.run(&mut link, log.as_mut())
}

struct KillSession<'a> {
    command: &'static str,
    criteria: Criteria,
    args: &'a KillArgs,
    style: Style,
}

impl KillSession<'_> {
    fn run(&self, link: &mut ServerLink, mut log: Option<&mut AuditLog>) -> anyhow::Result<u8> {
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
            let snap = read::read(
                link.conn()?,
                ReadOptions {
                    sample: Duration::ZERO,
                    transactions: true,
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
            if self.args.format == Format::Table {
                render::print(&plan_text(&plan, &snap, self.style))?;
            }
            let mut execution = execute::Execution::default();
            if !plan.victims.is_empty() && !self.args.dry_run {
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
                let dialect = KillDialect {
                    flavor: snap.server.flavor,
                    rds: snap.server.rds || self.args.rds,
                };
                execution = execute::execute(link, &plan, &self.criteria, dialect);
            }
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
            };
            // The report reaches the person even when the log cannot take it.
            let logged = match log.as_deref_mut() {
                Some(log) => log.write(&report, "the results shown were not recorded in it"),
                None => Ok(()),
            };
            match self.args.format {
                Format::Json if self.args.repeat.is_some() => {
                    render::print(&serde_json::to_string(&report)?)?
                }
                Format::Json => render::print(&render::json(&report))?,
                Format::Table => render::print(&results_text(&report, self.style))?,
            }
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
            let this = execute::failure_kind(&report.results);
            if rank(this) > rank(worst) {
                worst = this;
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
    format!(
        "--- round {round} at {} ---",
        humantime::format_rfc3339_seconds(at)
    )
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
/// record before the first KILL.
struct AuditLog {
    path: std::path::PathBuf,
    file: File,
}

impl AuditLog {
    fn open(path: &Path) -> Result<AuditLog, AppError> {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map(|file| AuditLog {
                path: path.to_path_buf(),
                file,
            })
            .map_err(|e| Self::error(path, "open", &e, "nothing was killed"))
    }

    /// Append one record; `otherwise` says what the failure means for the kills.
    fn write<T: Serialize>(&mut self, record: &T, otherwise: &str) -> Result<(), AppError> {
        let mut line = serde_json::to_string(record).expect("records serialize");
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_data())
            .map_err(|e| Self::error(&self.path, "write", &e, otherwise))
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

/// `Target: 127.0.0.1:3306 (db1) as root@localhost`: the server a plan or a result is about.
fn target_line(target: &str, hostname: Option<&str>, account: &str) -> String {
    let host = hostname
        .filter(|h| !h.is_empty())
        .map(|h| format!(" ({})", text::escape(h)))
        .unwrap_or_default();
    format!(
        "Target: {}{host} as {}",
        text::escape(target),
        text::escape(account)
    )
}

/// The kill plan's columns: at 80 columns empty ones go first, then the db, the command and
/// the state; the query is cut; ids, users, hosts, times, open transactions and the reason stay.
const PLAN_COLUMNS: [Col; 10] = [
    Col::keep("id"),
    Col::cut("user", 32, 0),
    Col::cut("host", 21, 0),
    Col::cut("db", 8, 5),
    Col::whole("command", 3),
    Col::keep("time"),
    Col::cut("state", 10, 4),
    Col::whole("open trx", 1),
    Col::cut("query", 12, 2),
    Col::whole("why", 6),
];

/// The plan as a table with its summary: one line per session at any width (columns give way,
/// see [`PLAN_COLUMNS`]), every server string escaped.
pub fn plan_text(plan: &KillPlan, snap: &Snapshot, style: Style) -> String {
    let mut out = layout::wrap(
        &target_line(
            &snap.target,
            snap.variables.get("hostname").map(String::as_str),
            &snap.access.user,
        ),
        style.width,
        "",
        "  ",
    );
    out.push('\n');
    if plan.victims.is_empty() {
        let mut nothing = format!(
            "Nothing to kill: no session matches ({}) among {} sessions.",
            text::escape(&plan.criteria.join(", ")),
            plan.total_sessions
        );
        if !plan.protected.is_empty() {
            nothing.push_str(&format!(
                " {} protected session(s) were left alone.",
                plan.protected.len()
            ));
        }
        out.push_str(&layout::wrap(&nothing, style.width, "", "  "));
        return out;
    }
    out.push_str(&layout::wrap(
        &format!("{} {}", style.bold("Plan:"), plan.summary()),
        style.width,
        "",
        "  ",
    ));
    out.push('\n');
    out.push_str(&layout::wrap(
        &format!("Criteria: {}", text::escape(&plan.criteria.join(", "))),
        style.width,
        "",
        "  ",
    ));
    out.push('\n');
    let rows: Vec<Vec<String>> = plan
        .victims
        .iter()
        .map(|v| {
            vec![
                v.id.to_string(),
                text::snippet(&v.user, 32),
                text::snippet(&v.host, 40),
                text::snippet(v.db.as_deref().unwrap_or_default(), 24),
                text::snippet(&v.command, 20),
                render::secs(v.time_s),
                text::snippet(&v.state, 30),
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
                text::escape(&v.reason).into_owned(),
            ]
        })
        .collect();
    // One line per session, whatever the width: a wrapped row is easy to misread.
    out.push_str(&format!(
        "{}\n",
        layout::fit_table(style, &PLAN_COLUMNS, &rows)
    ));
    let own = snap.access.user.split('@').next().unwrap_or("");
    let others = plan.victims.iter().filter(|v| v.user != own).count();
    if others > 0 && !snap.access.privileges.can_kill_others() && !snap.server.rds {
        out.push_str(&layout::wrap(
            &style.yellow(&format!(
                "Warning: {others} of these belong to other accounts and {} lacks CONNECTION_ADMIN/SUPER: those kills will be denied.",
                text::escape(&snap.access.user)
            )),
            style.width,
            "",
            "  ",
        ));
        out.push('\n');
    } else if others > 0
        && snap.dialect().system_user_guards_kill()
        && !snap.access.privileges.system_user
        && !snap.server.rds
    {
        out.push_str(&layout::wrap(
            &style.yellow(&format!(
                "Warning: {} lacks SYSTEM_USER: kills of sessions whose account has SYSTEM_USER (root, other admins) will be denied (MySQL 8.0.16+).",
                text::escape(&snap.access.user)
            )),
            style.width,
            "",
            "  ",
        ));
        out.push('\n');
    }
    out
}

/// The result of a round for people. Pure.
pub fn results_text(r: &KillReport, style: Style) -> String {
    if r.plan.victims.is_empty() {
        return String::new();
    }
    if r.dry_run {
        return "Dry run: nothing was killed.".into();
    }
    let c = &r.counts;
    let mut out = String::new();
    for x in &r.reconnects {
        let what = match (x.reconnected, x.connection_id) {
            (true, Some(id)) => format!("reconnected as connection {id}"),
            _ => format!(
                "could not reconnect: {}",
                x.error.as_deref().unwrap_or("unknown error")
            ),
        };
        out.push_str(&layout::wrap(
            &format!(
                "Reconnect: lost the connection while {}; {}.",
                text::escape(&x.during),
                text::escape(&what)
            ),
            style.width,
            "",
            "  ",
        ));
        out.push('\n');
    }
    let mut line = format!(
        "{} {}{}killed",
        style.bold("Result:"),
        c.killed,
        layout::GLUE
    );
    if c.confirmed_after_reconnect > 0 {
        line.push_str(&format!(
            " ({} {})",
            c.confirmed_after_reconnect,
            execute::CONFIRMED_AFTER_RECONNECT
        ));
    }
    // A count stays on the line of what it counts.
    let g = layout::GLUE;
    line.push_str(&format!(
        ", {}{g}already gone, {}{g}skipped (changed since the plan), {}{g}denied, {}{g}errors",
        c.gone, c.skipped_changed, c.denied, c.errors
    ));
    for (n, what) in [
        (c.not_killed, "not killed (still there after reconnecting)"),
        (c.unknown, "unknown (no answer, server unreachable)"),
        (c.not_attempted, "not attempted"),
    ] {
        if n > 0 {
            line.push_str(&format!(", {n}{}{what}", layout::GLUE));
        }
    }
    out.push_str(&layout::wrap(&line, style.width, "", "  "));
    out.push_str(&format!(
        "\n{}\n",
        layout::wrap(
            &target_line(&r.target, r.server_hostname.as_deref(), &r.account),
            style.width,
            "",
            "  "
        )
    ));
    let not_killed: Vec<&KillResult> = r
        .results
        .iter()
        .filter(|x| x.outcome != Outcome::Killed)
        .collect();
    if !not_killed.is_empty() {
        const COLUMNS: [Col; 4] = [
            Col::keep("id"),
            Col::cut("user", 32, 0),
            Col::keep("outcome"),
            Col::cut("detail", 16, 0),
        ];
        let rows: Vec<Vec<String>> = not_killed
            .into_iter()
            .map(|x| {
                vec![
                    x.id.to_string(),
                    text::snippet(&x.user, 32),
                    serde_json::to_value(x.outcome)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    text::snippet(x.error.as_deref().unwrap_or_default(), 120),
                ]
            })
            .collect();
        out.push_str(&format!("{}\n", layout::fit_table(style, &COLUMNS, &rows)));
    }
    out
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
