//! `set-timeouts`, `set-max-connections`, `set-slow-log`: current → new, what it means, then
//! confirmation (terminal or `--yes`), the change, and the value read back from the server.

use std::time::Duration;

use crate::cli::{
    ChangeArgs, Format, OnOff, SetMaxConnectionsArgs, SetSlowLogArgs, SetTimeoutsArgs,
};
use crate::connect::Connection;
use crate::exit::{self, AppError, ErrorKind};
use crate::remedy::execute;
use crate::remedy::plan::{self, Criteria, KillMode, KillPlan, Target};
use crate::remedy::settings::{self, ChangeOutcome, ChangeResult, Persist, SettingsPlan};
use crate::render;
use crate::report::settings::{SETTINGS_SCHEMA_VERSION, SettingsReport, change_failure};
use crate::snapshot::Snapshot;
use crate::snapshot::read::{self, ReadOptions};

use super::Context;

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
            accounts: false,
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
    let plan_text = render::settings::plan_text(&plan, kill_plan.as_ref(), &server, ctx.style);
    if a.format == Format::Table {
        render::print(&plan_text)?;
    } else if !a.yes && !a.dry_run && super::can_prompt() {
        // JSON goes to stdout for a program, but a person is about to be asked: the question
        // comes with the plan it is about, on the terminal.
        eprintln!("{plan_text}");
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
    render::print(&render::text(&report, a.format, |r| {
        render::settings::result_text(r, &server, ctx.style)
    }))?;
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
                requested: None,
                warnings: Vec::new(),
            })
            .collect();
        return Ok(exit::OK);
    }
    if !a.yes {
        super::confirm("Apply this change?", "change server settings", "changed")?;
    }
    let (results, failure) = settings::apply(conn, &report.plan, snap.dialect());
    report.applied = results.iter().filter_map(ChangeResult::applied).collect();
    report.results = results;
    if let Some(e) = failure {
        return Err(change_failure(&report.results, e).into());
    }
    if let Some(kp) = &report.kill_plan
        && !kp.victims.is_empty()
    {
        let c = idle_criteria(Duration::from_secs(kp.threshold_s));
        let x = execute::execute_on(conn, kp, &c, snap.dialect());
        report.kill_results = x.results;
        if let Some(e) = x.fatal {
            return Err(e.into());
        }
        if let Some(k) = execute::failure_kind(&report.kill_results, false) {
            return Ok(k.exit_code());
        }
    }
    // A value the server clamped was not set as asked (docs/settings-ranges.md).
    let adjusted: Vec<String> = report
        .results
        .iter()
        .filter_map(|r| r.adjusted().map(|a| format!("{}: {a}", r.variable)))
        .collect();
    if !adjusted.is_empty() {
        return Err(AppError::new(ErrorKind::ActionFailed, adjusted.join("; "))
            .hint("the value outside the variable's range was clamped by the server; see the result above")
            .into());
    }
    Ok(exit::OK)
}
