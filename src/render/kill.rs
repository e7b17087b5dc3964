//! Kill plans and results for people.

use crate::remedy::execute::{self, KillResult, Outcome};
use crate::remedy::plan::KillPlan;
use crate::render::Style;
use crate::render::layout::{self, Col};
use crate::render::session_table::{Cells, Info, SessionLine};
use crate::report::kill::KillReport;
use crate::snapshot::Snapshot;
use crate::text;

/// `Target: 127.0.0.1:3306 (db1) as root@localhost`: the server a plan or a result is about.
fn target_line(target: &str, hostname: Option<&str>, account: &str) -> String {
    let host = hostname
        .filter(|h| !h.is_empty())
        .map(|h| format!(" ({})", text::escape(h)))
        .unwrap_or_default();
    format!(
        "Target: {}{host} as {}",
        text::escape(target),
        text::escape(account)
    )
}

/// The kill plan's columns: at 80 columns empty ones go first, then the db, the command and
/// the state; the query is cut; ids, users, hosts, times, open transactions and the reason stay.
const PLAN_COLUMNS: [Col; 10] = [
    Col::keep("id"),
    Col::cut("user", 32, 0),
    Col::cut("host", 21, 0),
    Col::cut("db", 8, 5),
    Col::whole("command", 3),
    Col::keep("time"),
    Col::cut("state", 10, 4),
    Col::whole("open trx", 1),
    Col::cut("query", 12, 2),
    Col::whole("why", 6),
];

/// The plan as a table with its summary: one line per session at any width (columns give way,
/// see [`PLAN_COLUMNS`]), every server string escaped.
pub fn plan_text(plan: &KillPlan, snap: &Snapshot, style: Style) -> String {
    let mut out = layout::wrap(
        &target_line(
            &snap.target,
            snap.variables.get("hostname").map(String::as_str),
            &snap.access.user,
        ),
        style.width,
        "",
        "  ",
    );
    out.push('\n');
    if plan.victims.is_empty() {
        let mut nothing = format!(
            "Nothing to kill: no session matches ({}) among {} sessions.",
            text::escape(&plan.criteria.join(", ")),
            plan.total_sessions
        );
        if !plan.protected.is_empty() {
            nothing.push_str(&format!(
                " {} protected session(s) were left alone.",
                plan.protected.len()
            ));
        }
        out.push_str(&layout::wrap(&nothing, style.width, "", "  "));
        return out;
    }
    out.push_str(&layout::wrap(
        &format!("{} {}", style.bold("Plan:"), plan.summary()),
        style.width,
        "",
        "  ",
    ));
    out.push('\n');
    out.push_str(&layout::wrap(
        &format!("Criteria: {}", text::escape(&plan.criteria.join(", "))),
        style.width,
        "",
        "  ",
    ));
    out.push('\n');
    let rows: Vec<Vec<String>> = plan
        .victims
        .iter()
        .map(|v| {
            let mut cells = SessionLine::from(v).cells(&Cells {
                cut: Some([32, 40, 24, 20, 30]),
                trx_rows: true,
                info: Info::Snippet(40),
            });
            cells.push(text::escape(&v.reason).into_owned());
            cells
        })
        .collect();
    // One line per session, whatever the width: a wrapped row is easy to misread.
    out.push_str(&format!(
        "{}\n",
        layout::fit_table(style, &PLAN_COLUMNS, &rows)
    ));
    let own = snap.access.user.split('@').next().unwrap_or("");
    let others = plan.victims.iter().filter(|v| v.user != own).count();
    if others > 0
        && !snap.access.privileges.can_kill_others()
        && snap.dialect().kill_checks_own_privileges()
    {
        out.push_str(&layout::wrap(
            &style.yellow(&format!(
                "Warning: {others} of these belong to other accounts and {} lacks CONNECTION_ADMIN/SUPER: those kills will be denied.",
                text::escape(&snap.access.user)
            )),
            style.width,
            "",
            "  ",
        ));
        out.push('\n');
    } else if others > 0
        && snap.dialect().system_user_guards_kill()
        && !snap.access.privileges.system_user
        && snap.dialect().kill_checks_own_privileges()
    {
        out.push_str(&layout::wrap(
            &style.yellow(&format!(
                "Warning: {} lacks SYSTEM_USER: kills of sessions whose account has SYSTEM_USER (root, other admins) will be denied (MySQL 8.0.16+).",
                text::escape(&snap.access.user)
            )),
            style.width,
            "",
            "  ",
        ));
        out.push('\n');
    }
    out
}

/// The result of a round for people. Pure.
pub fn results_text(r: &KillReport, style: Style) -> String {
    if r.plan.victims.is_empty() {
        return String::new();
    }
    if r.dry_run {
        return "Dry run: nothing was killed.".into();
    }
    let c = &r.counts;
    let mut out = String::new();
    for x in &r.reconnects {
        let what = match (x.reconnected, x.connection_id) {
            (true, Some(id)) => format!("reconnected as connection {id}"),
            _ => format!(
                "could not reconnect: {}",
                x.error.as_deref().unwrap_or("unknown error")
            ),
        };
        out.push_str(&layout::wrap(
            &format!(
                "Reconnect: lost the connection while {}; {}.",
                text::escape(&x.during),
                text::escape(&what)
            ),
            style.width,
            "",
            "  ",
        ));
        out.push('\n');
    }
    let mut line = format!(
        "{} {}{}killed",
        style.bold("Result:"),
        c.killed,
        layout::GLUE
    );
    if c.confirmed_after_reconnect > 0 {
        line.push_str(&format!(
            " ({} {})",
            c.confirmed_after_reconnect,
            execute::CONFIRMED_AFTER_RECONNECT
        ));
    }
    // A count stays on the line of what it counts.
    let g = layout::GLUE;
    line.push_str(&format!(
        ", {}{g}already gone, {}{g}skipped (changed since the plan), {}{g}denied, {}{g}errors",
        c.gone, c.skipped_changed, c.denied, c.errors
    ));
    for (n, what) in [
        (c.not_killed, "not killed (still there after reconnecting)"),
        (c.unknown, "unknown (no answer, server unreachable)"),
        (c.not_attempted, "not attempted"),
        (
            c.skipped_concurrent,
            "skipped (another kill run held the kill lock)",
        ),
    ] {
        if n > 0 {
            line.push_str(&format!(", {n}{}{what}", layout::GLUE));
        }
    }
    out.push_str(&layout::wrap(&line, style.width, "", "  "));
    if let Some(sig) = r.interrupted {
        out.push('\n');
        out.push_str(&layout::wrap(
            &style.yellow(&format!(
                "Interrupted: {sig} arrived; no KILL was sent after it, the ones in flight were settled, and every session above has its outcome."
            )),
            style.width,
            "",
            "  ",
        ));
    }
    for note in &r.notes {
        out.push('\n');
        out.push_str(&layout::wrap(
            &style.yellow(&format!("Note: {}", text::escape(note))),
            style.width,
            "",
            "  ",
        ));
    }
    out.push_str(&format!(
        "\n{}\n",
        layout::wrap(
            &target_line(&r.target, r.server_hostname.as_deref(), &r.account),
            style.width,
            "",
            "  "
        )
    ));
    let not_killed: Vec<&KillResult> = r
        .results
        .iter()
        .filter(|x| x.outcome != Outcome::Killed)
        .collect();
    if !not_killed.is_empty() {
        const COLUMNS: [Col; 4] = [
            Col::keep("id"),
            Col::cut("user", 32, 0),
            Col::keep("outcome"),
            Col::cut("detail", 16, 0),
        ];
        let rows: Vec<Vec<String>> = not_killed
            .into_iter()
            .map(|x| {
                vec![
                    x.id.to_string(),
                    text::snippet(&x.user, 32),
                    serde_json::to_value(x.outcome)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    text::snippet(x.error.as_deref().unwrap_or_default(), 120),
                ]
            })
            .collect();
        out.push_str(&format!("{}\n", layout::fit_table(style, &COLUMNS, &rows)));
    }
    out
}
