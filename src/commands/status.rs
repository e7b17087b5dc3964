//! `conncheck status`: the one screen an on-call engineer reads in five seconds.

use serde::Serialize;

use crate::cli::{Format, StatusArgs};
use crate::clients::{ClientGroup, group_clients};
use crate::connect::{self, ConnectOptions, Connection};
use crate::exit::{self, AppError};
use crate::render::targets::{self, Row, Tone};
use crate::render::{self, Style};
use crate::snapshot::read::{self, ReadOptions};
use crate::snapshot::{Flavor, Route, Snapshot};
use crate::text::escape;

use super::Context;
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
    let snap = read_for_status(&mut conn, &opts)?;
    let report = build(&snap, args.top);
    let text = match args.format {
        Format::Json => render::json(&report),
        Format::Table => human(&report, ctx.style),
    };
    render::print(&text)?;
    Ok(exit::OK)
}

/// What `status` reads: one round trip for variables and status, one for the processlist.
fn read_for_status(conn: &mut Connection, opts: &ConnectOptions) -> Result<Snapshot, AppError> {
    read::read(
        conn,
        ReadOptions {
            sample: std::time::Duration::ZERO,
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
            read_for_status(&mut conn, &opts).map(|snap| build(&snap, args.top))
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
        clients,
    }
}

/// The header lines shared by `status` and `diagnose`: which server and account, then the
/// numbers. Every server-provided string is escaped (see [`crate::text`]).
pub fn header(r: &StatusReport, style: Style) -> String {
    let c = &r.connections;
    let mut out = String::new();
    out.push_str(&render::server_line(
        &r.target,
        r.server.hostname.as_deref(),
        &r.account.user,
    ));
    out.push('\n');
    out.push_str(&format!(
        "{} {}, up {}{}\n",
        style.bold(r.server.flavor.name()),
        escape(&r.server.version),
        render::secs(r.server.uptime_s),
        if r.server.rds { " (Amazon RDS)" } else { "" }
    ));
    let pct = format!("{:.0}%", c.usage_pct);
    let pct = if c.usage_pct >= 90.0 {
        style.red(&pct)
    } else if c.usage_pct >= 80.0 {
        style.yellow(&pct)
    } else {
        style.green(&pct)
    };
    out.push_str(&format!(
        "Connections  {} {pct}  {} of max_connections {} ({} free), {} running\n",
        render::usage_bar(c.usage_pct, 30),
        c.threads_connected,
        c.max_connections,
        c.free.max(0),
        c.threads_running,
    ));
    out.push_str(&format!(
        "Peak         Max_used_connections {}{}\n",
        c.max_used_connections,
        c.max_used_connections_time
            .as_ref()
            .map(|t| format!(" (at {})", escape(t)))
            .unwrap_or_default()
    ));
    out.push_str(&format!(
        "Refusals     Connection_errors_max_connections {}, Aborted_connects {}, Aborted_clients {}\n",
        c.connection_errors_max_connections, c.aborted_connects, c.aborted_clients
    ));
    out.push_str(&format!(
        "Timeouts     wait_timeout {}s, interactive_timeout {}s, max_user_connections {}\n",
        c.wait_timeout,
        c.interactive_timeout,
        if c.max_user_connections == 0 {
            "0 (unlimited)".to_string()
        } else {
            c.max_user_connections.to_string()
        }
    ));
    match r.account.route {
        Route::ReservedSlot => out.push_str(&format!(
            "{}\n",
            style.red("Note: we got in through the one slot reserved for SUPER/CONNECTION_ADMIN: the server is full")
        )),
        Route::AdminPort => out.push_str("Note: connected through the admin/extra port\n"),
        Route::Normal => {}
    }
    if !r.account.sees_all_sessions {
        out.push_str(&format!(
            "{}\n",
            style.red(&format!(
                "WARNING: {} lacks the PROCESS privilege: only its own sessions are visible, so per-client numbers are incomplete (GRANT PROCESS ON *.* TO ...)",
                escape(&r.account.user)
            ))
        ));
    }
    out
}

fn human(r: &StatusReport, style: Style) -> String {
    let mut out = header(r, style);
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

/// The top-clients table of `status` (also on the `watch` screen).
pub fn clients_table(clients: &[ClientGroup], style: Style) -> String {
    let mut t = style.table();
    t.set_header(vec![
        "client (user@host)",
        "total",
        "sleeping",
        "running",
        "oldest idle",
    ]);
    for g in clients {
        t.add_row(vec![
            format!("{}@{}", escape(&g.user), escape(&g.host)),
            g.total.to_string(),
            g.sleeping.to_string(),
            g.running.to_string(),
            if g.sleeping > 0 {
                render::secs(g.oldest_idle_s)
            } else {
                "-".into()
            },
        ]);
    }
    t.to_string()
}
