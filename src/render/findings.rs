//! Findings for people: ranked, each with its evidence and the exact steps that fix it.

use crate::diagnose::{ActionKind, Finding, Severity};
use crate::render::session_table::{Cells, Info, SessionLine};
use crate::snapshot::Snapshot;
use crate::text::{escape, prose};

use super::{Style, layout};

pub fn severity_label(s: Severity, style: Style) -> String {
    match s {
        Severity::Critical => style.red("CRITICAL"),
        Severity::Warning => style.yellow("WARNING "),
        Severity::Info => style.dim("INFO    "),
    }
}

/// The findings block of the diagnose report. `verbose` adds a table of the sessions involved.
/// Findings quote what the server sent (user names, hosts, query texts, variable values): every
/// text is escaped here, while the JSON keeps it exact.
pub fn findings(findings: &[Finding], snap: &Snapshot, style: Style, verbose: bool) -> String {
    let mut out = String::new();
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let (crit, warn, info) = (
        count(Severity::Critical),
        count(Severity::Warning),
        count(Severity::Info),
    );
    if crit + warn == 0 {
        out.push_str(&style.green("No problems found"));
        out.push_str(": nothing points to a connection shortage.\n");
    } else {
        out.push_str(&style.bold(&format!(
            "{} finding{}: {crit} critical, {warn} warning, {info} info (most connections first)",
            crit + warn + info,
            if crit + warn + info == 1 { "" } else { "s" }
        )));
        out.push('\n');
    }
    let width = style.width;
    for f in findings {
        out.push('\n');
        out.push_str(&layout::wrap(
            &format!(
                "{}  {}  {}",
                severity_label(f.severity, style),
                style.bold(f.id.as_str()),
                escape(&f.title)
            ),
            width,
            "",
            "    ",
        ));
        out.push('\n');
        out.push_str(&layout::wrap(&prose(&f.summary), width, "  ", "  "));
        out.push('\n');
        if !f.evidence.is_empty() {
            let ev: Vec<String> = f
                .evidence
                .iter()
                .map(|e| format!("{} = {}", escape(&e.name), escape(&e.value)))
                .collect();
            out.push_str(&layout::wrap(
                &format!("{} {}", style.dim("evidence:"), ev.join("; ")),
                width,
                "  ",
                "    ",
            ));
            out.push('\n');
        }
        if !f.sessions.is_empty() {
            if verbose {
                out.push_str(&session_table(&f.sessions, snap, style));
            } else {
                out.push_str(&layout::wrap(
                    &format!("{} {}", style.dim("sessions:"), id_list(&f.sessions, 12)),
                    width,
                    "  ",
                    "    ",
                ));
                out.push('\n');
            }
        }
        if !f.actions.is_empty() {
            out.push_str(&format!("  {}\n", style.dim("fix:")));
            for a in &f.actions {
                out.push_str(&action_text(a.kind, &a.text, width));
            }
        }
    }
    out
}

/// One step of a fix at `width` columns: a command wrapped between its words with ` \` (it still
/// pastes), SQL between its tokens, a config snippet line by line, advice as prose.
fn action_text(kind: ActionKind, text: &str, width: usize) -> String {
    let text = match kind {
        ActionKind::Command => layout::command(&escape(text), width, "    $ ", "        "),
        ActionKind::Sql => layout::sql(&escape(text), width, "    sql> ", "         "),
        ActionKind::Config => {
            let body: Vec<String> = text.lines().map(|l| config_line(l, width)).collect();
            format!("    config:\n{}", body.join("\n"))
        }
        ActionKind::Advice => layout::wrap(&prose(text), width, "    - ", "      "),
    };
    format!("{text}\n")
}

/// A my.cnf line; when it does not fit, its `# comment` goes on comment lines above it (a
/// wrapped setting would not parse).
fn config_line(line: &str, width: usize) -> String {
    let line = escape(line);
    let whole = format!("      {line}");
    if layout::width_of(&whole) <= width {
        return whole;
    }
    match line.split_once(" #") {
        Some((setting, note)) => format!(
            "{}\n      {}",
            layout::wrap(note.trim(), width, "      # ", "      # "),
            setting.trim_end()
        ),
        None => whole,
    }
}

/// `12, 13, 14 … and 40 more`
pub fn id_list(ids: &[u64], max: usize) -> String {
    let shown: Vec<String> = ids.iter().take(max).map(u64::to_string).collect();
    if ids.len() > max {
        format!("{} … and {} more", shown.join(", "), ids.len() - max)
    } else {
        shown.join(", ")
    }
}

/// The columns of a session table and how they give way at narrow widths: ids, users, hosts
/// and durations are never broken; the query is cut first, then empty columns, the trx, db,
/// state and command columns are left out (see [`layout::fit_table`]).
pub const SESSION_COLUMNS: [layout::Col; 9] = [
    layout::Col::keep("id"),
    layout::Col::cut("user", 32, 0),
    layout::Col::cut("host", 21, 0),
    layout::Col::cut("db", 8, 5),
    layout::Col::whole("command", 3),
    layout::Col::keep("time"),
    layout::Col::cut("state", 10, 4),
    layout::Col::whole("trx", 6),
    layout::Col::cut("info", 12, 2),
];

fn session_table(ids: &[u64], snap: &Snapshot, style: Style) -> String {
    // A finding may list 10,000 sessions: looked up by id, not scanned for each.
    let (sessions, trx_of) = (snap.sessions_by_id(), snap.transactions_by_session());
    let rows: Vec<Vec<_>> = ids
        .iter()
        .filter_map(|id| sessions.get(id).copied())
        .map(|s| {
            SessionLine::of_session(s, trx_of.get(&s.id).copied()).cells(&Cells {
                cut: None,
                trx_rows: true,
                info: Info::Snippet(50),
            })
        })
        .collect();
    // Indented by two: the table fits in two columns less.
    let text = layout::fit_table(
        style.with_width(style.width.saturating_sub(2)),
        &SESSION_COLUMNS,
        &rows,
    );
    let indented: Vec<String> = text.lines().map(|l| format!("  {l}")).collect();
    format!("{}\n", indented.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::{Action, FindingId};

    #[test]
    fn lists_ids_compactly() {
        assert_eq!(id_list(&[1, 2, 3], 5), "1, 2, 3");
        assert_eq!(id_list(&[1, 2, 3, 4], 2), "1, 2 … and 2 more");
    }

    #[test]
    fn renders_each_action_kind() {
        let f = Finding::new(FindingId::IdleConnections, Severity::Warning, "t", "s")
            .action(Action::command("conncheck kill-idle --older-than 300s"))
            .action(Action::sql("SET GLOBAL wait_timeout = 300;"))
            .action(Action::config("[mysqld]\nwait_timeout = 300"))
            .action(Action::advice("close connections"));
        let mut snap =
            crate::snapshot::read::refused("t", &crate::exit::AppError::usage("x"), None);
        snap.refused = None;
        let text = findings(&[f], &snap, Style::plain(), false);
        assert!(text.contains("    $ conncheck kill-idle --older-than 300s\n"));
        assert!(text.contains("    sql> SET GLOBAL wait_timeout = 300;\n"));
        assert!(text.contains("      [mysqld]\n      wait_timeout = 300\n"));
        assert!(text.contains("    - close connections\n"));
        assert!(text.contains("WARNING   idle-connections  t"));
    }
}
