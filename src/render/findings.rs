//! Findings for people: ranked, each with its evidence and the exact steps that fix it.

use crate::diagnose::{ActionKind, Finding, Severity};
use crate::snapshot::Snapshot;
use crate::text::{escape, prose};

use super::{Style, secs, snippet};

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
            "{} finding{}: {crit} critical, {warn} warning, {info} info (most urgent first)\n",
            crit + warn + info,
            if crit + warn + info == 1 { "" } else { "s" }
        )));
    }
    for f in findings {
        out.push('\n');
        out.push_str(&format!(
            "{}  {}  {}\n",
            severity_label(f.severity, style),
            style.bold(&escape(&f.id)),
            escape(&f.title)
        ));
        out.push_str(&format!("  {}\n", indent_prose(&f.summary, "  ")));
        if !f.evidence.is_empty() {
            let ev: Vec<String> = f
                .evidence
                .iter()
                .map(|e| format!("{} = {}", escape(&e.name), escape(&e.value)))
                .collect();
            out.push_str(&format!("  {} {}\n", style.dim("evidence:"), ev.join("; ")));
        }
        if !f.sessions.is_empty() {
            if verbose {
                out.push_str(&session_table(&f.sessions, snap, style));
            } else {
                out.push_str(&format!(
                    "  {} {}\n",
                    style.dim("sessions:"),
                    id_list(&f.sessions, 12)
                ));
            }
        }
        if !f.actions.is_empty() {
            out.push_str(&format!("  {}\n", style.dim("fix:")));
            for a in &f.actions {
                out.push_str(&action_text(a.kind, &a.text));
            }
        }
    }
    out
}

fn action_text(kind: ActionKind, text: &str) -> String {
    match kind {
        ActionKind::Command => format!("    $ {}\n", escape(text)),
        ActionKind::Sql => format!("    sql> {}\n", escape(text)),
        ActionKind::Config => {
            let body: Vec<String> = text
                .lines()
                .map(|l| format!("      {}", escape(l)))
                .collect();
            format!("    config:\n{}\n", body.join("\n"))
        }
        ActionKind::Advice => format!("    - {}\n", indent_prose(text, "      ")),
    }
}

/// Multi-line text, terminal-safe, its continuation lines indented like the first.
fn indent_prose(text: &str, indent: &str) -> String {
    prose(text).replace('\n', &format!("\n{indent}"))
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

fn session_table(ids: &[u64], snap: &Snapshot, style: Style) -> String {
    let mut t = style.table();
    t.set_header(vec![
        "id", "user", "host", "db", "command", "time", "state", "trx", "info",
    ]);
    for id in ids {
        let Some(s) = snap.session(*id) else {
            continue;
        };
        let trx = snap.transaction_of(*id);
        t.add_row(vec![
            s.id.to_string(),
            escape(&s.user).into_owned(),
            escape(&s.host).into_owned(),
            escape(s.db.as_deref().unwrap_or_default()).into_owned(),
            escape(&s.command).into_owned(),
            secs(s.time_s),
            escape(&s.state).into_owned(),
            trx.map(|t| format!("{} ({} rows)", secs(t.age_s), t.rows_modified))
                .unwrap_or_default(),
            snippet(s.info.as_deref(), 50),
        ]);
    }
    let text = t.to_string();
    let indented: Vec<String> = text.lines().map(|l| format!("  {l}")).collect();
    format!("{}\n", indented.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::Action;

    #[test]
    fn lists_ids_compactly() {
        assert_eq!(id_list(&[1, 2, 3], 5), "1, 2, 3");
        assert_eq!(id_list(&[1, 2, 3, 4], 2), "1, 2 … and 2 more");
    }

    #[test]
    fn renders_each_action_kind() {
        let f = Finding::new("idle-connections", Severity::Warning, "t", "s")
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
