//! The `status` screen for people: the header shared with `diagnose` and `watch`, the rates
//! line and the top-clients table.

use crate::clients::ClientGroup;
use crate::render::layout::{self, Col};
use crate::render::{self, Style};
use crate::report::status::Rates;
use crate::report::status::StatusReport;
use crate::snapshot::{Route, flavor};
use crate::text::escape;

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
    let (name, hosted) = flavor::describe(r.server.flavor, r.server.rds);
    out.push_str(&layout::wrap(
        &format!(
            "{} {}, up {}{hosted}",
            style.bold(name),
            escape(&r.server.version),
            render::secs(r.server.uptime_s),
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
            // When it happened: MySQL dates it; elsewhere it is only known to be since startup
            // (docs/server-facts.md, "Counters and time").
            c.max_used_connections_time.as_ref().map_or_else(
                || format!(" (within the last {})", render::secs(r.server.uptime_s)),
                |t| format!(" (at {})", escape(t))
            )
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
