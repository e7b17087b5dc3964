//! `conncheck sessions`: the processlist as DBAs want it, filtered and grouped.

use crate::cli::SessionsArgs;
use crate::exit;
use crate::filter::SessionFilter;
use crate::render;
use crate::report::sessions::build;
use crate::snapshot::read::{self, ReadOptions};

use super::Context;

pub fn run(ctx: &Context, args: &SessionsArgs) -> anyhow::Result<u8> {
    let filter = SessionFilter::try_from(&args.filter)?;
    let (mut conn, opts) = ctx.connect()?;
    let snap = read::read(
        &mut conn,
        ReadOptions {
            sample: std::time::Duration::ZERO,
            transactions: true,
            accounts: false,
            server_memory: None,
            local: opts.is_local(),
        },
    )?;
    let report = build(&snap, &filter, args.group_by, args.limit);
    render::emit_as(&report, args.format, render::sessions::json, |r| {
        render::sessions::human(r, ctx.style, args.full)
    })?;
    // The report borrows the sessions; their strings are what takes long to free.
    drop(report);
    crate::parallel::drop_behind(snap.sessions.len(), snap);
    Ok(exit::OK)
}
