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
    let rows: Vec<Vec<_>> = plan
        .victims
        .iter()
        .map(|v| {
            let mut cells = SessionLine::from(v).cells(&Cells {
                cut: Some([32, 40, 24, 20, 30]),
                trx_rows: true,
                info: Info::Snippet(40),
            });
            cells.push(text::escape(&v.reason));
            cells
        })
        .collect();
    // One line per session, whatever the width: a wrapped row is easy to misread.
    out.push_str(&format!(
        "{}\n",
        layout::fit_table(style, &PLAN_COLUMNS, &rows)
    ));
    out.push_str(&invisible_notes(plan, style, ""));
    // CURRENT_USER() is `user@host`; the user name itself may hold `@`, the host never does.
    let own = snap
        .access
        .user
        .rsplit_once('@')
        .map_or(snap.access.user.as_str(), |(u, _)| u);
    let others = plan
        .victims
        .iter()
        .filter(|v| v.session.user != own)
        .count();
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

/// Accounts [`invisible_notes`] names one by one; more are counted.
const NOTED_ACCOUNTS: usize = 5;
/// Session ids a note lists for one account; more are counted.
const NOTED_IDS: usize = 8;

/// One yellow note per account among the victims whose user or host name holds invisible or
/// control characters ([`crate::remedy::plan::Victim::has_invisible_name`]): the table shows them
/// escaped, the note says that this is another account than the one it looks like
/// (`app\u{200b}` is not `app`). Empty when there is none. Lines start with `indent`.
pub fn invisible_notes(plan: &KillPlan, style: Style, indent: &str) -> String {
    let mut accounts: Vec<(&str, &str, Vec<u64>)> = Vec::new();
    for v in plan.victims.iter().filter(|v| v.has_invisible_name()) {
        let host = crate::snapshot::model::strip_port(&v.session.host);
        match accounts
            .iter_mut()
            .find(|(u, h, _)| *u == v.session.user && *h == host)
        {
            Some((_, _, ids)) => ids.push(v.session.id),
            None => accounts.push((&v.session.user, host, vec![v.session.id])),
        }
    }
    let mut out = String::new();
    let rest = format!("{indent}  ");
    let mut note = |text: &str| {
        out.push_str(&layout::wrap(
            &style.yellow(text),
            style.width,
            indent,
            &rest,
        ));
        out.push('\n');
    };
    for (user, host, ids) in accounts.iter().take(NOTED_ACCOUNTS) {
        let mut listed: Vec<String> = ids.iter().take(NOTED_IDS).map(u64::to_string).collect();
        if ids.len() > NOTED_IDS {
            listed.push(format!("{} more", ids.len() - NOTED_IDS));
        }
        let account = format!("{user}@{host}");
        let seen = text::as_seen(&account);
        let looks_like = if seen != account {
            format!("; it only looks like {}", text::escape(&seen))
        } else {
            String::new()
        };
        note(&format!(
            "Note: the account {} (session{} {}) has invisible characters in its name, shown escaped{looks_like}.",
            text::escape(&account),
            if ids.len() == 1 { "" } else { "s" },
            listed.join(", ")
        ));
    }
    if accounts.len() > NOTED_ACCOUNTS {
        note(&format!(
            "Note: {} more accounts have invisible characters in their names, shown escaped.",
            accounts.len() - NOTED_ACCOUNTS
        ));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::{self, session};
    use crate::remedy::plan::{self, Criteria, KillMode, Target};
    use std::time::Duration;

    #[test]
    fn a_plan_flags_names_with_invisible_characters() {
        let mut snap = fixtures::mariadb();
        fixtures::with_sessions(
            &mut snap,
            vec![
                session(1, "app", "10.0.0.1", "Sleep", 900, "", None),
                session(2, "app\u{200b}", "10.0.0.1", "Sleep", 800, "", None),
                session(3, "app\u{200b}", "10.0.0.1", "Sleep", 700, "", None),
                session(4, "\u{3164}", "10.0.0.2", "Sleep", 600, "", None),
            ],
        );
        let c = Criteria::new(Target::Idle, KillMode::Connection, Duration::from_secs(300));
        let p = plan::plan(&snap, &c);
        let out = plan_text(&p, &snap, Style::plain().with_width(200));
        assert!(crate::text::is_safe(&out.replace('\n', "")), "{out}");
        let rows: Vec<&str> = out.lines().filter(|l| l.contains("10.0.0.1:4")).collect();
        assert_eq!(rows.len(), 3, "{out}");
        assert!(
            rows[0].contains(" app ") && rows[1].contains(r" app\u{200b} "),
            "{out}"
        );
        assert!(
            out.contains(r"Note: the account app\u{200b}@10.0.0.1 (sessions 2, 3) has invisible characters in its name, shown escaped; it only looks like app@10.0.0.1."),
            "{out}"
        );
        assert!(
            out.contains(r"Note: the account \u{3164}@10.0.0.2 (session 4) has invisible characters in its name, shown escaped; it only looks like @10.0.0.2."),
            "{out}"
        );
        assert_eq!(out.matches("Note:").count(), 2, "{out}");
        // Nothing to say about a plan of plain names.
        let mut plain = snap.clone();
        plain.sessions.retain(|s| s.id == 1);
        let p = plan::plan(&plain, &c);
        assert!(invisible_notes(&p, Style::plain(), "").is_empty());
    }

    #[test]
    fn notes_are_bounded() {
        let mut snap = fixtures::mariadb();
        let sessions = (1..=70)
            .map(|i| {
                session(
                    i,
                    &format!("u{}\u{200b}", i % 7),
                    "h",
                    "Sleep",
                    900,
                    "",
                    None,
                )
            })
            .collect();
        fixtures::with_sessions(&mut snap, sessions);
        let mut c = Criteria::new(Target::Idle, KillMode::Connection, Duration::from_secs(300));
        // Seven accounts of ten connections opened together, idle together: fixed pools, which
        // a plan leaves out unless told.
        c.include_pools = true;
        let notes = invisible_notes(&plan::plan(&snap, &c), Style::plain().with_width(80), "");
        assert_eq!(
            notes.matches("Note:").count(),
            NOTED_ACCOUNTS + 1,
            "{notes}"
        );
        assert!(
            notes.contains("2 more accounts have invisible characters"),
            "{notes}"
        );
        // 10 sessions each: 8 listed.
        assert!(notes.contains(", 2 more)"), "{notes}");
    }
}
