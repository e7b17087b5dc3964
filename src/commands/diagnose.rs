//! `conncheck diagnose` and `conncheck snapshot`: read once, judge offline.
//!
//! A full server is the normal case here: when our own connection is refused with ERROR 1040,
//! diagnose still reports (`server-full`, with the ways in) and exits 0.

use crate::cli::{DiagnoseArgs, SnapshotArgs};
use crate::connect::replay::Replay;
use crate::connect::{self, Connection};
use crate::diagnose::{self, Severity, Thresholds};
use crate::exit::{self, AppError, ErrorKind};
use crate::fleet::{self, Failed, Outcome, Target};
use crate::render::targets::{self, Row, Tone};
use crate::render::{self, outcomes};
use crate::report::diagnose::{DiagnoseReport, build, thresholds_fit};
use crate::snapshot::Snapshot;
use crate::snapshot::read::{self, ReadOptions};
use crate::snapshot::saved;
use crate::snapshot::source::{Incident, Saved, load_saved, read_or_refused, take_or_refused};
use crate::text::escape;

use super::Context;

pub fn run(ctx: &Context, args: &DiagnoseArgs) -> anyhow::Result<u8> {
    let th = Thresholds::from(&args.thresholds);
    if args.from.is_none()
        && let Some(list) = ctx.fleet()?
    {
        return run_many(ctx, args, &th, &list);
    }
    let (snap, replay, incident) = match &args.from {
        Some(path) => match load_saved(path)? {
            Saved::Snapshot(snap) => {
                let replay = replay_of_snapshot(ctx, &snap);
                (*snap, replay, None)
            }
            Saved::Incident(inc) => {
                let snap = inc.peak().cloned().ok_or_else(|| {
                    AppError::new(
                        ErrorKind::Other,
                        format!(
                            "incident folder {} holds no snapshot to judge (neither trigger nor after could be read)",
                            crate::text::path(path)
                        ),
                    )
                    .hint("its samples.json is still readable as JSON; the index notes say why the snapshots failed")
                })?;
                let replay = replay_of_snapshot(ctx, &snap);
                (snap, replay, Some(inc))
            }
        },
        None => {
            let opts = ctx.single_target()?;
            let snap = take_or_refused(&opts, args.sample, th.server_memory)?;
            (snap, ctx.replay(&opts)?, None)
        }
    };
    if args.chart.is_some() && incident.is_none() {
        return Err(AppError::usage(
            "--chart draws an incident over time and needs --from DIR (an incident folder)",
        )
        .hint("record one with `conncheck record --dir DIR`, then `conncheck diagnose --from DIR/<incident> --chart FILE.svg`")
        .into());
    }
    if let Some(file) = &args.chart
        && file.file_name().is_none()
    {
        return Err(AppError::usage(format!(
            "--chart {} is not a file name",
            crate::text::path(file)
        ))
        .into());
    }
    thresholds_fit(&th, &snap)?;
    let mut report = build(&snap, &th);
    report.for_target(&replay);
    if let Some(inc) = &incident {
        report.with_incident(inc);
    }
    render::emit(&report, args.format, |r| {
        let section = incident.as_ref().map_or(String::new(), |inc| {
            render::timeline::before_trigger(r, &inc.history, ctx.style)
        });
        render::diagnose::human_with(r, &snap, ctx.style, args.verbose, &section)
    })?;
    // The report stands even when the chart cannot be written: its error comes after it.
    if let (Some(inc), Some(file)) = (&incident, &args.chart) {
        write_chart(file, inc)?;
    }
    let code = if fails(args, &report) {
        exit::FINDINGS
    } else {
        exit::OK
    };
    crate::parallel::drop_behind(snap.sessions.len(), (report, snap));
    Ok(code)
}

/// Whether `--fail-on` is met by the report's findings.
fn fails(args: &DiagnoseArgs, report: &DiagnoseReport) -> bool {
    args.fail_on
        .zip(diagnose::worst(&report.findings))
        .is_some_and(|(fail_on, worst)| worst.at_least(fail_on))
}

/// Several targets: one summary table (or a JSON array of reports). The exit code is that of the
/// first target that could not be read, else FINDINGS when `--fail-on` is met on any target.
fn run_many(
    ctx: &Context,
    args: &DiagnoseArgs,
    th: &Thresholds,
    list: &[Target],
) -> anyhow::Result<u8> {
    let (sample, flags, thresholds) = (args.sample, ctx.conn.clone(), th.clone());
    let outcomes = fleet::run_all(
        list,
        ctx.fleet_limits(list.len()),
        connect::open,
        move |t, opened: Result<Connection, AppError>| {
            let th = &thresholds;
            let r = t.opts.as_ref().map_err(Clone::clone).and_then(|opts| {
                let snap = read_or_refused(opened, opts, sample, th.server_memory)?;
                thresholds_fit(th, &snap)?;
                let mut r = build(&snap, th);
                r.for_target(&Replay::of_run(&flags, opts, t.source.as_deref()));
                Ok(r)
            });
            Outcome::of(t, r)
        },
        |t, e| Outcome::Failed(Failed::new(&t.label, e)),
    );
    let text =
        outcomes::render_outcomes(&outcomes, args.format, "top finding", ctx.style, |r| Row {
            target: r.target.clone(),
            state: r.state.clone(),
            tone: match diagnose::worst(&r.findings) {
                Some(Severity::Critical) => Tone::Bad,
                Some(Severity::Warning) => Tone::Warn,
                _ => Tone::Good,
            },
            usage: r.connections.as_ref().map_or("-".into(), |c| {
                targets::usage(c.threads_connected, c.max_connections, c.usage_pct)
            }),
            top: r
                .findings
                .first()
                .map_or("-".into(), |f| format!("{}: {}", f.id, f.title)),
        });
    render::print(&text)?;
    let failed = outcomes
        .iter()
        .any(|o| matches!(o, Outcome::Report(r) if fails(args, r)));
    Ok(Outcome::first_failure(&outcomes).unwrap_or(if failed { exit::FINDINGS } else { exit::OK }))
}

/// The connection options for the commands suggested from a saved snapshot: its target, the user
/// it logged in as (or, in older snapshots, the user part of `CURRENT_USER()`), and this run's
/// option-file, TLS and password flags.
fn replay_of_snapshot(ctx: &Context, snap: &Snapshot) -> Replay {
    let user = Some(snap.access.login_user.as_str())
        .filter(|u| !u.is_empty())
        .or_else(|| snap.access.user.rsplit_once('@').map(|(u, _)| u));
    Replay::of_snapshot(&ctx.conn, &snap.target, user)
}

/// Draw the incident's chart into `file`, atomically ([`crate::output::write_atomic`]): a reader
/// never sees half a chart, and anything but a regular file is never replaced.
fn write_chart(file: &std::path::Path, inc: &Incident) -> Result<(), AppError> {
    let series = crate::report::timeline::client_series(&inc.history, render::chart::CHART_CLIENTS);
    let title = format!(
        "{}: connections per client, trigger {}",
        inc.index.target, inc.index.trigger
    );
    let svg = render::chart::svg(&series, inc.index.triggered_at_ms, &title)
        .map_err(|e| AppError::new(ErrorKind::Other, format!("cannot draw the chart: {e}")))?;
    crate::output::write_atomic(file, svg.as_bytes()).map_err(|e| {
        AppError::new(
            ErrorKind::Other,
            format!("cannot write chart {}: {e}", crate::text::path(file)),
        )
        .hint("the report above is complete; give --chart a new file, or a regular file to replace")
    })?;
    eprintln!("conncheck: chart written to {}", crate::text::path(file));
    Ok(())
}

pub fn snapshot(ctx: &Context, args: &SnapshotArgs) -> anyhow::Result<u8> {
    let (mut c, opts) = ctx.connect()?;
    let mut snap = read::read(
        &mut c,
        ReadOptions {
            sample: args.sample,
            transactions: true,
            accounts: true,
            server_memory: None,
            local: opts.is_local(),
        },
    )?;
    snap.access.login_user = opts.user.clone();
    // Standard output is a file too (`conncheck snapshot > f.json`): the same bound.
    let max = crate::input::SNAPSHOT_MAX;
    let fitted = saved::fit_snapshot(&snap, max, max, render::snapshot_file::snapshot_file)
        .map_err(|e| {
            AppError::new(
                ErrorKind::Other,
                format!("the snapshot of {} is {e}", escape(&snap.target)),
            )
            .hint("judge this server live with `conncheck diagnose` instead")
        })?;
    if fitted.cut_at < saved::QUERY_TEXT_MAX {
        eprintln!(
            "conncheck: {} query texts cut to {} characters to keep the snapshot within {}",
            fitted.texts_cut,
            fitted.cut_at,
            crate::units::bytes(max)
        );
    }
    let json = fitted.text;
    match &args.output {
        Some(path) => {
            crate::output::write_atomic(path, json.as_bytes()).map_err(|e| {
                AppError::new(
                    ErrorKind::Other,
                    format!("cannot write {}: {e}", crate::text::path(path)),
                )
            })?;
            eprintln!(
                "conncheck: snapshot of {} ({} sessions) written to {}",
                escape(&snap.target),
                snap.sessions.len(),
                crate::text::path(path)
            );
        }
        None => render::print(&json)?,
    }
    crate::parallel::drop_behind(snap.sessions.len(), (json, snap));
    Ok(exit::OK)
}
