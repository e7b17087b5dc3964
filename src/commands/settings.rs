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
use crate::remedy::settings::{self, Applied, Persist, SettingsPlan};
use crate::render::{self, Style};
use crate::snapshot::Snapshot;
use crate::snapshot::read::{self, ReadOptions};

use super::Context;

pub const SETTINGS_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct SettingsReport {
    pub schema_version: u32,
    pub target: String,
    pub dry_run: bool,
    pub plan: SettingsPlan,
    pub applied: Vec<Applied>,
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
    if a.format == Format::Table {
        render::print(&plan_text(&plan, kill_plan.as_ref(), ctx.style))?;
    }
    let mut report = SettingsReport {
        schema_version: SETTINGS_SCHEMA_VERSION,
        target: snap.target.clone(),
        dry_run: a.dry_run,
        plan,
        applied: Vec::new(),
        kill_plan,
        kill_results: Vec::new(),
    };
    let outcome = execute(&mut conn, &snap, a, &mut report);
    match a.format {
        Format::Json => render::print(&render::json(&report))?,
        Format::Table => render::print(&result_text(&report, ctx.style))?,
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
    let unchanged = report
        .plan
        .changes
        .iter()
        .all(|c| c.current.eq_ignore_ascii_case(&c.new));
    let nothing_to_kill = report
        .kill_plan
        .as_ref()
        .is_none_or(|k| k.victims.is_empty());
    if a.dry_run || (unchanged && nothing_to_kill && report.plan.persist != Persist::SetPersist) {
        return Ok(exit::OK);
    }
    if !a.yes {
        super::confirm("Apply this change?", "change server settings", "changed")?;
    }
    report.applied = settings::apply(conn, &report.plan, snap.server.flavor)?;
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

fn plan_text(p: &SettingsPlan, kill: Option<&KillPlan>, style: Style) -> String {
    let mut out = String::new();
    out.push_str(&format!("{}\n", style.bold("Plan:")));
    for c in &p.changes {
        out.push_str(&format!("  {}: {} -> {}\n", c.variable, c.current, c.new));
    }
    for n in &p.notes {
        out.push_str(&format!("  {n}\n"));
    }
    for w in &p.warnings {
        out.push_str(&format!("  {}\n", style.yellow(&format!("Warning: {w}"))));
    }
    match &p.persist {
        Persist::No => {
            out.push_str("  Runtime only: the change is lost at restart (use --persist).\n")
        }
        Persist::SetPersist => out.push_str("  Persisted with SET PERSIST (mysqld-auto.cnf).\n"),
        Persist::Snippet(s) => {
            out.push_str("  This server has no SET PERSIST: add this to my.cnf to keep the change after a restart:\n");
            for l in s.lines() {
                out.push_str(&format!("    {l}\n"));
            }
        }
    }
    if let Some(b) = &p.blocked {
        out.push_str(&format!("  {}\n", style.red(&format!("Blocked: {b}"))));
    }
    out.push_str(&format!("  SQL: {}\n", p.statements().join("; ")));
    if let Some(k) = kill {
        out.push_str(&format!("\nAlso (--kill-existing): {}\n", k.summary()));
        for v in &k.victims {
            out.push_str(&format!(
                "  {} {}@{} idle {}\n",
                v.id,
                v.user,
                v.host,
                render::secs(v.time_s)
            ));
        }
    }
    out
}

fn result_text(r: &SettingsReport, style: Style) -> String {
    if r.dry_run {
        return "Dry run: nothing was changed.".into();
    }
    let mut out = String::new();
    for a in &r.applied {
        out.push_str(&format!(
            "{} {}: {} -> {}\n",
            style.green("Changed"),
            a.variable,
            a.old,
            a.new
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
