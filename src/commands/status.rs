//! `conncheck status`: the one screen an on-call engineer reads in five seconds.

use serde::Serialize;

use crate::cli::{Format, StatusArgs};
use crate::clients::{ClientGroup, group_clients};
use crate::connect::{self, ConnectOptions, Connection};
use crate::exit::{self, AppError};
use crate::render::layout::{self, Col};
use crate::render::targets::{self, Row, Tone};
use crate::render::{self, Style};
use crate::snapshot::read::{self, ReadOptions};
use crate::snapshot::{Flavor, Route, Snapshot};
use crate::text::escape;

use super::Context;
use super::diagnose::Rates;
use super::multi::{self, Outcome, Target};

/// Bumped when a field of the status JSON changes meaning or disappears.
pub const STATUS_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub schema_version: u32,
    pub target: String,
    pub server: ServerSummary,
    pub account: AccountSummary,
    pub connections: ConnectionSummary,
    /// Connection, abort and refusal rates over the `--sample` (averages since startup with
    /// `--sample 0`).
    pub rates: Rates,
    pub clients: Vec<ClientGroup>,
}

#[derive(Debug, Serialize)]
pub struct ServerSummary {
    pub flavor: Flavor,
    pub version: String,
    pub uptime_s: u64,
    pub rds: bool,
    /// The server's own name (`@@hostname`), when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AccountSummary {
    pub user: String,
    pub route: Route,
    /// False without PROCESS: only our own sessions are visible.
    pub sees_all_sessions: bool,
    pub can_kill_others: bool,
    pub can_set_globals: bool,
}

#[derive(Debug, Serialize)]
pub struct ConnectionSummary {
    pub max_connections: u64,
    pub threads_connected: u64,
    pub threads_running: u64,
    pub usage_pct: f64,
    pub free: i64,
    pub max_used_connections: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_used_connections_time: Option<String>,
    pub connection_errors_max_connections: u64,
    pub aborted_connects: u64,
    pub aborted_clients: u64,
    pub wait_timeout: u64,
    pub interactive_timeout: u64,
    pub max_user_connections: u64,
}

pub fn run(ctx: &Context, args: &StatusArgs) -> anyhow::Result<u8> {
    if let Some(list) = multi::targets(ctx)? {
        return run_many(ctx, args, &list);
    }
    let (mut conn, opts) = ctx.connect()?;
    let snap = read_for_status(&mut conn, &opts, args.sample)?;
    let report = build(&snap, args.top);
    let text = match args.format {
        Format::Json => render::json(&report),
        Format::Table => human(&report, ctx.style),
    };
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
            server_memory: None,
            local: opts.is_local(),
        },
    )
}

/// Several targets: one summary table (or a JSON array); exit code of the first failed target.
fn run_many(ctx: &Context, args: &StatusArgs, list: &[Target]) -> anyhow::Result<u8> {
    let outcomes = multi::run_all(list, usize::from(ctx.conn.jobs), |t| {
        let r = t.opts.clone().and_then(|opts| {
            let mut conn = connect::open(&opts)?;
            read_for_status(&mut conn, &opts, args.sample).map(|snap| build(&snap, args.top))
        });
        Outcome::of(t, r)
    });
    let text = multi::render_outcomes(&outcomes, args.format, "top client", ctx.style, |r| Row {
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

/// The report from a snapshot. Pure.
pub fn build(snap: &Snapshot, top: usize) -> StatusReport {
    let mut clients = group_clients(&snap.sessions);
    clients.truncate(top);
    let max = snap.max_connections();
    let connected = snap.threads_connected();
    StatusReport {
        schema_version: STATUS_SCHEMA_VERSION,
        target: snap.target.clone(),
        server: ServerSummary {
            flavor: snap.server.flavor,
            version: snap.server.version.clone(),
            uptime_s: snap.server.uptime_s,
            rds: snap.server.rds,
            hostname: snap
                .var_str("hostname")
                .filter(|h| !h.is_empty())
                .map(str::to_string),
        },
        account: AccountSummary {
            user: snap.access.user.clone(),
            route: snap.access.route,
            sees_all_sessions: snap.sees_all_sessions(),
            can_kill_others: snap.access.privileges.can_kill_others(),
            can_set_globals: snap.access.privileges.can_set_globals(),
        },
        connections: ConnectionSummary {
            max_connections: max,
            threads_connected: connected,
            threads_running: snap.status_now_u64("threads_running").unwrap_or(0),
            usage_pct: (snap.usage_pct() * 10.0).round() / 10.0,
            free: max as i64 - connected as i64,
            max_used_connections: snap.status_now_u64("max_used_connections").unwrap_or(0),
            max_used_connections_time: snap
                .status
                .get("max_used_connections_time")
                .filter(|t| !t.is_empty())
                .cloned(),
            connection_errors_max_connections: snap
                .status_now_u64("connection_errors_max_connections")
                .unwrap_or(0),
            aborted_connects: snap.status_now_u64("aborted_connects").unwrap_or(0),
            aborted_clients: snap.status_now_u64("aborted_clients").unwrap_or(0),
            wait_timeout: snap.var_u64("wait_timeout").unwrap_or(0),
            interactive_timeout: snap.var_u64("interactive_timeout").unwrap_or(0),
            max_user_connections: snap.var_u64("max_user_connections").unwrap_or(0),
        },
        rates: Rates::of(snap),
        clients,
    }
}

/// One labelled line of the header (`Peak         …`), wrapped under its text at `width`.
fn row(label: &str, text: &str, width: usize) -> String {
    let pad = format!("{label:<13}");
    format!(
        "{}\n",
        layout::wrap(
            &format!("{pad}{text}"),
            width,
            "",
            &" ".repeat(layout::width_of(&pad))
        )
    )
}

/// Glue `name value` so that a wrapped line never separates a counter from its number.
fn pair(name: &str, value: impl std::fmt::Display) -> String {
    format!("{name}{}{value}", layout::GLUE)
}

/// `Rates        2.5 connections/s, …`: the `Rates` line of `status`, `diagnose` and `watch`.
pub fn rates_line(r: &Rates, style: Style) -> String {
    let window = if r.since_startup {
        "averages since startup".to_string()
    } else {
        format!("over {:.1}s", r.sample_s)
    };
    row(
        "Rates",
        &format!(
            "{}{g}connections/s, {}{g}aborted{g}clients/s, {}{g}aborted{g}connects/s, {}{g}refused/s ({window})",
            format_args!("{:.1}", r.connections_per_s),
            format_args!("{:.2}", r.aborted_clients_per_s),
            format_args!("{:.2}", r.aborted_connects_per_s),
            format_args!("{:.2}", r.refused_per_s),
            g = layout::GLUE,
        ),
        style.width,
    )
}

/// The header lines shared by `status` and `diagnose`: which server and account, then the
/// numbers, each wrapped under its label at the style's width (a counter and its number stay
/// on one line). Every server-provided string is escaped (see [`crate::text`]).
pub fn header(r: &StatusReport, style: Style) -> String {
    let c = &r.connections;
    let width = style.width;
    let mut out = String::new();
    out.push_str(&layout::wrap(
        &render::server_line(&r.target, r.server.hostname.as_deref(), &r.account.user),
        width,
        "",
        "  ",
    ));
    out.push('\n');
    out.push_str(&layout::wrap(
        &format!(
            "{} {}, up {}{}",
            style.bold(r.server.flavor.name()),
            escape(&r.server.version),
            render::secs(r.server.uptime_s),
            if r.server.rds { " (Amazon RDS)" } else { "" }
        ),
        width,
        "",
        "  ",
    ));
    out.push('\n');
    let pct = format!("{:.0}%", c.usage_pct);
    let pct = if c.usage_pct >= 90.0 {
        style.red(&pct)
    } else if c.usage_pct >= 80.0 {
        style.yellow(&pct)
    } else {
        style.green(&pct)
    };
    // The bar gives way first: 30 marks from 100 columns, 20 below.
    let bar = if width >= 100 { 30 } else { 20 };
    out.push_str(&row(
        "Connections",
        &format!(
            "{} {pct}  {} of {} ({} free), {} running",
            render::usage_bar(c.usage_pct, bar),
            c.threads_connected,
            pair("max_connections", c.max_connections),
            c.free.max(0),
            c.threads_running,
        ),
        width,
    ));
    out.push_str(&row(
        "Peak",
        &format!(
            "{}{}",
            pair("Max_used_connections", c.max_used_connections),
            c.max_used_connections_time
                .as_ref()
                .map(|t| format!(" (at {})", escape(t)))
                .unwrap_or_default()
        ),
        width,
    ));
    out.push_str(&row(
        "Refusals",
        &format!(
            "{}, {}, {}",
            pair(
                "Connection_errors_max_connections",
                c.connection_errors_max_connections
            ),
            pair("Aborted_connects", c.aborted_connects),
            pair("Aborted_clients", c.aborted_clients)
        ),
        width,
    ));
    out.push_str(&row(
        "Timeouts",
        &format!(
            "{}, {}, {}",
            pair("wait_timeout", format!("{}s", c.wait_timeout)),
            pair("interactive_timeout", format!("{}s", c.interactive_timeout)),
            pair(
                "max_user_connections",
                if c.max_user_connections == 0 {
                    format!("0{}(unlimited)", layout::GLUE)
                } else {
                    c.max_user_connections.to_string()
                }
            )
        ),
        width,
    ));
    match r.account.route {
        Route::ReservedSlot => out.push_str(&format!(
            "{}\n",
            layout::wrap(
                &style.red("Note: we got in through the one slot reserved for SUPER/CONNECTION_ADMIN: the server is full"),
                width,
                "",
                "  "
            )
        )),
        Route::AdminPort => out.push_str("Note: connected through the admin/extra port\n"),
        Route::Normal => {}
    }
    if !r.account.sees_all_sessions {
        out.push_str(&format!(
            "{}\n",
            layout::wrap(
                &style.red(&format!(
                    "WARNING: {} lacks the PROCESS privilege: only its own sessions are visible, so per-client numbers are incomplete (GRANT PROCESS ON *.* TO ...)",
                    escape(&r.account.user)
                )),
                width,
                "",
                "  "
            )
        ));
    }
    out
}

/// The status screen for people. Pure.
pub fn human(r: &StatusReport, style: Style) -> String {
    let mut out = header(r, style);
    out.push_str(&rates_line(&r.rates, style));
    if r.clients.is_empty() {
        out.push_str("\nNo other sessions.\n");
        return out;
    }
    out.push('\n');
    out.push_str(&format!(
        "Top clients\n{}\n",
        clients_table(&r.clients, style)
    ));
    out
}

/// The top-clients table of `status` (also on the `watch` screen), one line per client at any
/// width (a long user@host is cut with `…`; the counts never are).
pub fn clients_table(clients: &[ClientGroup], style: Style) -> String {
    const COLUMNS: [Col; 5] = [
        Col::cut("client (user@host)", 20, 0),
        Col::keep("total"),
        Col::keep("sleeping"),
        Col::keep("running"),
        Col::keep("oldest idle"),
    ];
    let rows: Vec<Vec<String>> = clients
        .iter()
        .map(|g| {
            vec![
                format!("{}@{}", escape(&g.user), escape(&g.host)),
                g.total.to_string(),
                g.sleeping.to_string(),
                g.running.to_string(),
                if g.sleeping > 0 {
                    render::secs(g.oldest_idle_s)
                } else {
                    "-".into()
                },
            ]
        })
        .collect();
    layout::fit_table(style, &COLUMNS, &rows)
}
