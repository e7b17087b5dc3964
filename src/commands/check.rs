//! `conncheck check`: a health check for CI and monitoring with the monitoring-plugin exit codes
//! (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
//!
//! Every failure to reach a verdict is reported in the chosen format as UNKNOWN (so Nagios shows
//! the reason), except a server that refuses us with ERROR 1040, which is a verdict: CRITICAL.
//! Several targets are checked concurrently and the exit code is the worst state.

use crate::check::{CheckReport, Limits, State};
use crate::cli::{CheckArgs, CheckFormat};
use crate::connect::replay::Replay;
use crate::render::{self, nagios, prometheus, targets};

use super::Context;
use super::diagnose::take_or_refused;
use super::multi::{self, Target};

pub fn run(ctx: &Context, args: &CheckArgs) -> anyhow::Result<u8> {
    let limits = Limits::from(args);
    let sources = ctx.targets()?;
    let check = |t: &Target, source: Option<&str>| match &t.opts {
        Ok(opts) => match take_or_refused(opts, args.sample, limits.th.server_memory) {
            Ok(snap) => {
                if let Err(e) = super::diagnose::thresholds_fit(&limits.th, &snap) {
                    return CheckReport::unknown(&t.label, &e);
                }
                let mut r = crate::check::judge(&snap, &limits);
                let replay = Replay::of_run(&ctx.conn, opts, source);
                crate::diagnose::for_target(&mut r.findings, &replay);
                r
            }
            Err(e) => CheckReport::unknown(&t.label, &e),
        },
        Err(e) => CheckReport::unknown(&t.label, e),
    };
    let (text, state) = match multi::targets(ctx)? {
        None => {
            let opts = ctx.single_target()?;
            let target = Target {
                label: opts.target(),
                opts: Ok(opts),
            };
            let r = check(&target, sources.first().cloned().flatten().as_deref());
            let text = match args.format {
                CheckFormat::Nagios => nagios::render(&r),
                CheckFormat::Json => render::json(&r),
                CheckFormat::Prometheus => prometheus::render(std::slice::from_ref(&r), false),
            };
            (text, r.state)
        }
        Some(list) => {
            // `list` was made from `ctx.targets()`, in the same order.
            let reports = multi::run_all(&list, usize::from(ctx.conn.jobs), |t| {
                let i = list.iter().position(|x| std::ptr::eq(x, t));
                check(t, i.and_then(|i| sources.get(i)).and_then(|s| s.as_deref()))
            });
            let text = match args.format {
                CheckFormat::Nagios => nagios::render_many(&reports, &table(&reports, ctx)),
                CheckFormat::Json => render::json(&reports),
                CheckFormat::Prometheus => prometheus::render(&reports, true),
            };
            (text, State::worst(reports.iter().map(|r| r.state)))
        }
    };
    render::print(&text)?;
    Ok(state.exit_code())
}

fn table(reports: &[CheckReport], ctx: &Context) -> String {
    let rows: Vec<targets::Row> = reports
        .iter()
        .map(|r| targets::Row {
            target: r.target.clone(),
            state: r.state.name().to_string(),
            tone: match r.state {
                State::Ok => targets::Tone::Good,
                State::Warning => targets::Tone::Warn,
                State::Critical => targets::Tone::Bad,
                State::Unknown => targets::Tone::Unknown,
            },
            usage: r.metrics.as_ref().map_or("-".into(), |m| {
                let c = &m.connections;
                targets::usage(c.threads_connected, c.max_connections, c.usage_pct)
            }),
            top: (r.state == State::Unknown)
                .then(|| r.summary.clone())
                .or_else(|| r.reasons.first().map(|x| x.message.clone()))
                .or_else(|| r.findings.first().map(|f| format!("{}: {}", f.id, f.title)))
                .unwrap_or_else(|| "-".into()),
        })
        .collect();
    targets::table(&rows, "top reason", ctx.style)
}
