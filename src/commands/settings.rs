//! `set-timeouts`, `set-max-connections`, `set-slow-log`: current → new, what it means, then
//! confirmation (terminal or `--yes`), the change, and the value read back from the server.

use std::time::Duration;

use serde::Serialize;

use crate::cli::{
    ChangeArgs, Format, OnOff, SetMaxConnectionsArgs, SetSlowLogArgs, SetTimeoutsArgs,
};
use crate::connect::Connection;
use crate::exit::{self, AppError, ErrorKind};
use crate::remedy::execute::{self, KillDialect, KillResult};
use crate::remedy::plan::{self, Criteria, KillMode, KillPlan, Target};
use crate::remedy::settings::{self, Applied, ChangeOutcome, ChangeResult, Persist, SettingsPlan};
use crate::render::{self, Style, layout};
use crate::snapshot::Snapshot;
use crate::snapshot::read::{self, ReadOptions};
use crate::text::{escape, prose};

use super::Context;

pub const SETTINGS_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct SettingsReport {
    pub schema_version: u32,
    pub target: String,
    pub dry_run: bool,
    pub plan: SettingsPlan,
    /// The variables whose value changed (kept for scripts written before `results`).
    pub applied: Vec<Applied>,
    /// One entry per planned variable: `applied`, `failed` (with `error`) or `unchanged`. Empty
    /// when nothing was executed (dry run, blocked, declined).
    pub results: Vec<ChangeResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kill_plan: Option<KillPlan>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kill_results: Vec<KillResult>,
}

pub fn timeouts(ctx: &Context, a: &SetTimeoutsArgs) -> anyhow::Result<u8> {
    run(ctx, &a.change, |snap| {
        let plan = settings::timeouts(
            snap,
            a.wait_timeout,
            a.interactive_timeout,
            a.change.persist,
        );
        let kill = a.kill_existing.then(|| {
            let lowest = [a.wait_timeout, a.interactive_timeout]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(Duration::ZERO);
            kill_existing(snap, lowest)
        });
        (plan, kill)
    })
}

pub fn max_connections(ctx: &Context, a: &SetMaxConnectionsArgs) -> anyhow::Result<u8> {
    run(ctx, &a.change, |snap| {
        (
            settings::max_connections(
                snap,
                u64::from(a.value),
                a.force,
                a.server_memory,
                a.change.persist,
            ),
            None,
        )
    })
}

pub fn slow_log(ctx: &Context, a: &SetSlowLogArgs) -> anyhow::Result<u8> {
    run(ctx, &a.change, |snap| {
        (
            settings::slow_log(
                snap,
                a.state == OnOff::On,
                a.long_query_time,
                a.change.persist,
            ),
            None,
        )
    })
}

/// Sessions idle longer than the new timeout: they keep their old one unless killed.
fn kill_existing(snap: &Snapshot, older_than: Duration) -> KillPlan {
    plan::plan(snap, &idle_criteria(older_than))
}

fn idle_criteria(older_than: Duration) -> Criteria {
    Criteria::new(Target::Idle, KillMode::Connection, older_than)
}

fn run(
    ctx: &Context,
    a: &ChangeArgs,
    make: impl FnOnce(&Snapshot) -> (SettingsPlan, Option<KillPlan>),
) -> anyhow::Result<u8> {
    let (mut conn, opts) = ctx.connect()?;
    let snap = read::read(
        &mut conn,
        ReadOptions {
            sample: Duration::ZERO,
            transactions: true,
            server_memory: None,
            local: opts.is_local(),
        },
    )?;
    let (mut plan, kill_plan) = make(&snap);
    // A `conncheck …` in a warning or note must reach this server too.
    let replay = ctx.replay(&opts)?;
    for t in plan.warnings.iter_mut().chain(plan.notes.iter_mut()) {
        *t = replay.in_prose(t);
    }
    let server = render::snapshot_server_line(&snap);
    if a.format == Format::Table {
        render::print(&plan_text(&plan, kill_plan.as_ref(), &server, ctx.style))?;
    }
    let mut report = SettingsReport {
        schema_version: SETTINGS_SCHEMA_VERSION,
        target: snap.target.clone(),
        dry_run: a.dry_run,
        plan,
        applied: Vec::new(),
        results: Vec::new(),
        kill_plan,
        kill_results: Vec::new(),
    };
    let outcome = execute(&mut conn, &snap, a, &mut report);
    match a.format {
        Format::Json => render::print(&render::json(&report))?,
        Format::Table => render::print(&result_text(&report, &server, ctx.style))?,
    }
    outcome
}

/// Carry out the report's plan unless blocked, dry-run or declined; fills in the results.
fn execute(
    conn: &mut Connection,
    snap: &Snapshot,
    a: &ChangeArgs,
    report: &mut SettingsReport,
) -> anyhow::Result<u8> {
    if let Some(why) = &report.plan.blocked {
        return Err(AppError::new(
            ErrorKind::Privilege,
            format!("nothing changed: {}", why.lines().next().unwrap_or(why)),
        )
        .hint("see the plan above for what to do instead")
        .into());
    }
    let unchanged = report.plan.changes.iter().all(|c| c.is_noop());
    let nothing_to_kill = report
        .kill_plan
        .as_ref()
        .is_none_or(|k| k.victims.is_empty());
    if a.dry_run {
        return Ok(exit::OK);
    }
    if unchanged && nothing_to_kill && report.plan.persist != Persist::SetPersist {
        report.results = report
            .plan
            .changes
            .iter()
            .map(|c| ChangeResult {
                variable: c.variable,
                from: c.current.clone(),
                to: c.current.clone(),
                outcome: ChangeOutcome::Unchanged,
                error: None,
            })
            .collect();
        return Ok(exit::OK);
    }
    if !a.yes {
        super::confirm("Apply this change?", "change server settings", "changed")?;
    }
    let (results, failure) = settings::apply(conn, &report.plan, snap.server.flavor);
    report.applied = results.iter().filter_map(ChangeResult::applied).collect();
    report.results = results;
    if let Some(e) = failure {
        return Err(change_failure(&report.results, e).into());
    }
    if let Some(kp) = &report.kill_plan
        && !kp.victims.is_empty()
    {
        let c = idle_criteria(Duration::from_secs(kp.threshold_s));
        let now = read::read_sessions(conn, snap)?;
        let (go, skipped) = execute::recheck(kp, &c, &now);
        let (mut results, fatal) = execute::kill(
            conn,
            KillDialect {
                flavor: snap.server.flavor,
                rds: snap.server.rds,
            },
            KillMode::Connection,
            &go,
        );
        results.extend(skipped);
        report.kill_results = results;
        if let Some(e) = fatal {
            return Err(e.into());
        }
        if let Some(k) = execute::failure_kind(&report.kill_results) {
            return Ok(k.exit_code());
        }
    }
    Ok(exit::OK)
}

/// The error for a change that failed. Nothing changed: the first failure as it is (a missing
/// privilege keeps its exit code). Some variables changed and others not: ACTION_FAILED, naming
/// both, so that nobody believes the change was all or nothing.
fn change_failure(results: &[ChangeResult], first: AppError) -> AppError {
    let names = |o: ChangeOutcome| {
        results
            .iter()
            .filter(|r| r.outcome == o)
            .map(|r| r.variable)
            .collect::<Vec<_>>()
    };
    let (applied, failed) = (names(ChangeOutcome::Applied), names(ChangeOutcome::Failed));
    if applied.is_empty() {
        return first;
    }
    AppError::new(
        ErrorKind::ActionFailed,
        format!(
            "partial change: {} changed, {} not ({})",
            applied.join(", "),
            failed.join(", "),
            first.message
        ),
    )
    .hint("the changed values stay in effect: set them back by hand if the change must be all or nothing")
}

/// The plan for people. Pure.
pub fn plan_text(p: &SettingsPlan, kill: Option<&KillPlan>, server: &str, style: Style) -> String {
    let mut out = String::new();
    out.push_str(&format!("{}\n", style.bold("Plan:")));
    out.push_str(&format!(
        "{}\n",
        layout::wrap(server, style.width, "  ", "    ")
    ));
    for c in &p.changes {
        out.push_str(&format!(
            "  {}: {} -> {}\n",
            c.variable,
            escape(&c.current),
            escape(&c.new)
        ));
    }
    let width = style.width;
    let para = |text: &str| format!("{}\n", layout::wrap(text, width, "  ", "    "));
    for n in &p.notes {
        out.push_str(&para(&prose(n)));
    }
    for w in &p.warnings {
        out.push_str(&para(&style.yellow(&format!("Warning: {}", prose(w)))));
    }
    match &p.persist {
        Persist::No => {
            out.push_str("  Runtime only: the change is lost at restart (use --persist).\n")
        }
        Persist::SetPersist => out.push_str("  Persisted with SET PERSIST (mysqld-auto.cnf).\n"),
        Persist::Snippet(s) => {
            out.push_str(&para("This server has no SET PERSIST: add this to my.cnf to keep the change after a restart:"));
            for l in s.lines() {
                out.push_str(&format!("    {}\n", escape(l)));
            }
        }
    }
    if let Some(b) = &p.blocked {
        out.push_str(&para(&style.red(&format!("Blocked: {}", prose(b)))));
    }
    out.push_str(&format!(
        "{}\n",
        layout::sql(
            &escape(&p.statements().join("; ")),
            width,
            "  SQL: ",
            "       "
        )
    ));
    if let Some(k) = kill {
        out.push_str(&format!(
            "\n{}\n",
            layout::wrap(
                &format!("Also (--kill-existing): {}", k.summary()),
                width,
                "",
                "  "
            )
        ));
        for v in &k.victims {
            out.push_str(&para(&format!(
                "{} {}@{} idle {}",
                v.id,
                escape(&v.user),
                escape(&v.host),
                render::secs(v.time_s)
            )));
        }
    }
    out
}

/// One line per planned variable with what really happened, then the kills. Pure.
pub fn result_text(r: &SettingsReport, server: &str, style: Style) -> String {
    if r.dry_run {
        return layout::wrap(
            &format!("Dry run: nothing was changed on {}.", server_name(server)),
            style.width,
            "",
            "  ",
        );
    }
    let mut out = String::new();
    if !r.results.is_empty() {
        out.push_str(&format!(
            "{}\n",
            layout::wrap(&format!("Result ({server}):"), style.width, "", "  ")
        ));
    }
    for c in &r.results {
        let line = match c.outcome {
            ChangeOutcome::Applied => format!(
                "{} {}: {} -> {}",
                style.green("Changed"),
                c.variable,
                escape(&c.from),
                escape(&c.to)
            ),
            ChangeOutcome::Unchanged => format!(
                "{} {}: stays {}",
                style.dim("Unchanged"),
                c.variable,
                escape(&c.to)
            ),
            ChangeOutcome::Failed => format!(
                "{} {}: still {} ({} was not applied: {})",
                style.red("FAILED"),
                c.variable,
                escape(&c.from),
                escape(&c.to),
                escape(c.error.as_deref().unwrap_or("error"))
            ),
        };
        out.push_str(&format!(
            "{}\n",
            layout::wrap(&line, style.width, "  ", "    ")
        ));
    }
    if !r.kill_results.is_empty() {
        let killed = r
            .kill_results
            .iter()
            .filter(|k| k.outcome == execute::Outcome::Killed)
            .count();
        out.push_str(&format!(
            "Killed {killed} of {} idle sessions.\n",
            r.kill_results.len()
        ));
    }
    out
}

/// `127.0.0.1:3306 (db1) as root@localhost` from a `Server: ...` line.
fn server_name(server: &str) -> &str {
    server.strip_prefix("Server: ").unwrap_or(server)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(results: Vec<ChangeResult>) -> SettingsReport {
        let snap = crate::diagnose::fixtures::mariadb();
        SettingsReport {
            schema_version: SETTINGS_SCHEMA_VERSION,
            target: snap.target.clone(),
            dry_run: false,
            plan: settings::slow_log(&snap, true, None, false),
            applied: results.iter().filter_map(ChangeResult::applied).collect(),
            results,
            kill_plan: None,
            kill_results: Vec::new(),
        }
    }

    fn result(
        variable: &'static str,
        from: &str,
        to: &str,
        outcome: ChangeOutcome,
    ) -> ChangeResult {
        ChangeResult {
            variable,
            from: from.into(),
            to: to.into(),
            outcome,
            error: (outcome == ChangeOutcome::Failed)
                .then(|| "Variable 'x' is a read only variable (ERROR 1238)".into()),
        }
    }

    #[test]
    fn the_plan_names_the_server_and_escapes_what_the_server_sent() {
        use crate::diagnose::fixtures::{self, session};
        let mut snap = fixtures::mariadb();
        snap.variables
            .insert("hostname".into(), "db1\x1b]0;x\x07".into());
        fixtures::with_sessions(
            &mut snap,
            vec![session(
                7,
                "a\x1b]0;pwned\x07",
                "10.0.0.1",
                "Sleep",
                900,
                "",
                None,
            )],
        );
        let plan = settings::timeouts(&snap, Some(Duration::from_secs(600)), None, false);
        let kill = kill_existing(&snap, Duration::from_secs(600));
        assert_eq!(kill.victims.len(), 1);
        let server = render::snapshot_server_line(&snap);
        let text = plan_text(&plan, Some(&kill), &server, Style::plain());
        assert!(
            text.contains("  Server: 127.0.0.1:3306 (db1\\e]0;x\\x07) as root@localhost\n"),
            "{text}"
        );
        assert!(
            text.contains("7 a\\e]0;pwned\\x07@10.0.0.1:40007 idle 15m00s"),
            "{text}"
        );
        assert!(crate::text::is_safe(&text.replace('\n', "")), "{text:?}");
    }

    #[test]
    fn a_partial_change_is_reported_per_variable() {
        let r = report(vec![
            result("slow_query_log", "OFF", "ON", ChangeOutcome::Applied),
            result(
                "long_query_time",
                "10.000000",
                "0.500",
                ChangeOutcome::Failed,
            ),
        ]);
        let text = result_text(
            &r,
            "Server: h:1 as root@localhost",
            Style::plain().with_width(200),
        );
        assert!(
            text.contains("Result (Server: h:1 as root@localhost):\n"),
            "{text}"
        );
        assert!(
            text.contains("Changed slow_query_log: OFF -> ON\n"),
            "{text}"
        );
        assert!(
            text.contains("FAILED long_query_time: still 10.000000 (0.500 was not applied: Variable 'x' is a read only variable (ERROR 1238))"),
            "{text}"
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["applied"].as_array().unwrap().len(), 1);
        assert_eq!(json["results"][1]["outcome"], "failed");
        let e = change_failure(&r.results, AppError::usage("x"));
        assert_eq!(e.kind, ErrorKind::ActionFailed);
        assert!(
            e.message
                .starts_with("partial change: slow_query_log changed, long_query_time not"),
            "{}",
            e.message
        );
        let none = [result(
            "long_query_time",
            "10",
            "0.5",
            ChangeOutcome::Failed,
        )];
        assert_eq!(
            change_failure(&none, AppError::new(ErrorKind::Privilege, "denied")).kind,
            ErrorKind::Privilege
        );
    }
}
