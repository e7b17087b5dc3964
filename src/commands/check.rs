//! `conncheck check`: a health check for CI and monitoring with the monitoring-plugin exit codes
//! (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
//!
//! Every failure to reach a verdict is reported in the chosen format as UNKNOWN (so Nagios shows
//! the reason), except a server that refuses us with ERROR 1040, which is a verdict: CRITICAL.
//! Several targets are checked concurrently and the exit code is the worst state.

use crate::cli::CheckArgs;
use crate::connect::replay::Replay;
use crate::connect::{self, Connection};
use crate::exit::{AppError, ErrorKind};
use crate::fleet::{self, Target};
use crate::render;
use crate::report::check::{CheckReport, Limits, State};
use crate::report::diagnose::thresholds_fit;
use crate::snapshot::source::read_or_refused;

use super::Context;

/// The reason id of a target not finished by `--deadline` (JSON `reasons[].id`, Prometheus
/// `conncheck_unknown_reason{reason}`).
pub const DEADLINE: &str = "deadline";

pub fn run(ctx: &Context, args: &CheckArgs) -> anyhow::Result<u8> {
    let limits = Limits::from(args);
    // The forecast's trend is read during the sample: it lasts the window at least.
    let sample = match args.forecast {
        Some(_) => args.sample.max(args.forecast_window),
        None => args.sample,
    };
    let sources = ctx.targets()?;
    let flags = ctx.conn.clone();
    // One target once its connection was attempted (the fleet connects apart from reading).
    let check = move |t: &Target, opened: Result<Connection, AppError>| match &t.opts {
        Ok(opts) => match read_or_refused(opened, opts, sample, limits.th.server_memory) {
            Ok(snap) => {
                if let Err(e) = thresholds_fit(&limits.th, &snap) {
                    return CheckReport::unknown(&t.label, &e);
                }
                let mut r = crate::report::check::judge(&snap, &limits);
                crate::parallel::drop_behind(snap.sessions.len(), snap);
                let replay = Replay::of_run(&flags, opts, t.source.as_deref());
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
            let opened = connect::open(&opts);
            let target = Target {
                label: opts.target(),
                opts: Ok(opts),
                source: sources.first().cloned().flatten(),
            };
            let r = check(&target, opened);
            (render::check::one(&r, args.format), r.state)
        }
        Some(list) => {
            let reports = fleet::run_all(
                &list,
                ctx.fleet_limits(list.len()),
                connect::open,
                check,
                |t, e| {
                    let mut r = CheckReport::unknown(&t.label, e);
                    // The fleet reports a target as a timeout here only when --deadline passed.
                    if e.kind == ErrorKind::Timeout {
                        r.reasons.iter_mut().for_each(|x| x.id = DEADLINE.into());
                    }
                    r
                },
            );
            let text = render::check::many(&reports, args.format, ctx.style);
            (text, State::worst(reports.iter().map(|r| r.state)))
        }
    };
    render::print(&text)?;
    Ok(state.exit_code())
}
