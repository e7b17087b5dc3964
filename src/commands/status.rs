//! `conncheck status`: the one screen an on-call engineer reads in five seconds.

use crate::cli::StatusArgs;
use crate::connect::{self, ConnectOptions, Connection};
use crate::exit::{self, AppError};
use crate::fleet::{self, Failed, Outcome, Target};
use crate::render::targets::{self, Row, Tone};
use crate::render::{self, outcomes};
use crate::report::status::build;
use crate::snapshot::Snapshot;
use crate::snapshot::read::{self, ReadOptions};
use crate::text::escape;

use super::Context;

pub fn run(ctx: &Context, args: &StatusArgs) -> anyhow::Result<u8> {
    if let Some(list) = ctx.fleet()? {
        return run_many(ctx, args, &list);
    }
    let (mut conn, opts) = ctx.connect()?;
    let snap = read_for_status(&mut conn, &opts, args.sample)?;
    let report = build(&snap, args.top);
    let text = render::text(&report, args.format, |r| {
        render::status::human(r, ctx.style)
    });
    render::print(&text)?;
    Ok(exit::OK)
}

/// What `status` reads: one round trip for variables and status, one for the processlist, and
/// with a `--sample` one more for the second status reading the rates come from.
fn read_for_status(
    conn: &mut Connection,
    opts: &ConnectOptions,
    sample: std::time::Duration,
) -> Result<Snapshot, AppError> {
    read::read(
        conn,
        ReadOptions {
            sample,
            transactions: false,
            accounts: false,
            server_memory: None,
            local: opts.is_local(),
        },
    )
}

/// Several targets: one summary table (or a JSON array); exit code of the first failed target.
fn run_many(ctx: &Context, args: &StatusArgs, list: &[Target]) -> anyhow::Result<u8> {
    let (sample, top) = (args.sample, args.top);
    let outcomes = fleet::run_all(
        list,
        ctx.fleet_limits(list.len()),
        connect::open,
        move |t, opened: Result<Connection, AppError>| {
            let r = opened.and_then(|mut conn| {
                let opts = t.opts.as_ref().map_err(Clone::clone)?;
                read_for_status(&mut conn, opts, sample).map(|snap| build(&snap, top))
            });
            Outcome::of(t, r)
        },
        |t, e| Outcome::Failed(Failed::new(&t.label, e)),
    );
    let text =
        outcomes::render_outcomes(&outcomes, args.format, "top client", ctx.style, |r| Row {
            target: r.target.clone(),
            state: "up".into(),
            tone: Tone::Good,
            usage: targets::usage(
                r.connections.threads_connected,
                r.connections.max_connections,
                r.connections.usage_pct,
            ),
            top: r.clients.first().map_or("-".into(), |g| {
                format!(
                    "{}@{} ({} sessions, {} sleeping)",
                    escape(&g.user),
                    escape(&g.host),
                    g.total,
                    g.sleeping
                )
            }),
        });
    render::print(&text)?;
    Ok(Outcome::first_failure(&outcomes).unwrap_or(exit::OK))
}
