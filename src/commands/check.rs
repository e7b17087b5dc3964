//! `conncheck check`: a health check for CI and monitoring with the monitoring-plugin exit codes
//! (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
//!
//! Every failure to reach a verdict is reported in the chosen format as UNKNOWN (so Nagios shows
//! the reason), except a server that refuses us with ERROR 1040, which is a verdict: CRITICAL.
//! Several targets are checked concurrently and the exit code is the worst state.

use crate::cli::CheckArgs;
use crate::connect::replay::Replay;
use crate::fleet::{self, Target};
use crate::render;
use crate::report::check::{CheckReport, Limits, State};
use crate::report::diagnose::thresholds_fit;
use crate::snapshot::source::take_or_refused;

use super::Context;

pub fn run(ctx: &Context, args: &CheckArgs) -> anyhow::Result<u8> {
    let limits = Limits::from(args);
    // The forecast's trend is read during the sample: it lasts the window at least.
    let sample = match args.forecast {
        Some(_) => args.sample.max(args.forecast_window),
        None => args.sample,
    };
    let sources = ctx.targets()?;
    let check = |t: &Target, source: Option<&str>| match &t.opts {
        Ok(opts) => match take_or_refused(opts, sample, limits.th.server_memory) {
            Ok(snap) => {
                if let Err(e) = thresholds_fit(&limits.th, &snap) {
                    return CheckReport::unknown(&t.label, &e);
                }
                let mut r = crate::report::check::judge(&snap, &limits);
                let replay = Replay::of_run(&ctx.conn, opts, source);
                crate::diagnose::for_target(&mut r.findings, &replay);
                r
            }
            Err(e) => CheckReport::unknown(&t.label, &e),
        },
        Err(e) => CheckReport::unknown(&t.label, e),
    };
    let (text, state) = match ctx.fleet()? {
        None => {
            let opts = ctx.single_target()?;
            let target = Target {
                label: opts.target(),
                opts: Ok(opts),
                source: sources.first().cloned().flatten(),
            };
            let r = check(&target, target.source.as_deref());
            (render::check::one(&r, args.format), r.state)
        }
        Some(list) => {
            let reports = fleet::run_all(&list, usize::from(ctx.conn.jobs), |t| {
                check(t, t.source.as_deref())
            });
            let text = render::check::many(&reports, args.format, ctx.style);
            (text, State::worst(reports.iter().map(|r| r.state)))
        }
    };
    render::print(&text)?;
    Ok(state.exit_code())
}
