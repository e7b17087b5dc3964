//! Settings plans and results for people.

use crate::remedy::execute;
use crate::remedy::plan::KillPlan;
use crate::remedy::settings::{ChangeOutcome, Persist, SettingsPlan};
use crate::render::{self, Style, layout};
use crate::report::settings::SettingsReport;
use crate::text::{escape, prose};

/// The plan for people. Pure.
pub fn plan_text(p: &SettingsPlan, kill: Option<&KillPlan>, server: &str, style: Style) -> String {
    let mut out = String::new();
    out.push_str(&format!("{}\n", style.bold("Plan:")));
    out.push_str(&format!(
        "{}\n",
        layout::wrap(server, style.width, "  ", "    ")
    ));
    for c in &p.changes {
        out.push_str(&format!(
            "  {}: {} -> {}\n",
            c.variable,
            escape(&c.current),
            escape(&c.new)
        ));
    }
    let width = style.width;
    let para = |text: &str| format!("{}\n", layout::wrap(text, width, "  ", "    "));
    for n in &p.notes {
        out.push_str(&para(&prose(n)));
    }
    for w in &p.warnings {
        out.push_str(&para(&style.yellow(&format!("Warning: {}", prose(w)))));
    }
    match &p.persist {
        Persist::No => {
            out.push_str("  Runtime only: the change is lost at restart (use --persist).\n")
        }
        Persist::SetPersist => out.push_str("  Persisted with SET PERSIST (mysqld-auto.cnf).\n"),
        Persist::Snippet(s) => {
            out.push_str(&para("This server has no SET PERSIST: add this to my.cnf to keep the change after a restart:"));
            for l in s.lines() {
                out.push_str(&format!("    {}\n", escape(l)));
            }
        }
    }
    if let Some(b) = &p.blocked {
        out.push_str(&para(&style.red(&format!("Blocked: {}", prose(b)))));
    }
    out.push_str(&format!(
        "{}\n",
        layout::sql(
            &escape(&p.statements().join("; ")),
            width,
            "  SQL: ",
            "       "
        )
    ));
    if let Some(k) = kill {
        out.push_str(&format!(
            "\n{}\n",
            layout::wrap(
                &format!("Also (--kill-existing): {}", k.summary()),
                width,
                "",
                "  "
            )
        ));
        for v in &k.victims {
            out.push_str(&para(&format!(
                "{} {}@{} idle {}",
                v.session.id,
                escape(&v.session.user),
                escape(&v.session.host),
                render::secs(v.session.time_s)
            )));
        }
        out.push_str(&render::kill::invisible_notes(k, style, "  "));
    }
    out
}

/// One line per planned variable with what really happened, then the kills. Pure.
pub fn result_text(r: &SettingsReport, server: &str, style: Style) -> String {
    if r.dry_run {
        return layout::wrap(
            &format!("Dry run: nothing was changed on {}.", server_name(server)),
            style.width,
            "",
            "  ",
        );
    }
    let mut out = String::new();
    if !r.results.is_empty() {
        out.push_str(&format!(
            "{}\n",
            layout::wrap(&format!("Result ({server}):"), style.width, "", "  ")
        ));
    }
    for c in &r.results {
        let line = match c.outcome {
            ChangeOutcome::Applied => format!(
                "{} {}: {} -> {}",
                style.green("Changed"),
                c.variable,
                escape(&c.from),
                escape(&c.to)
            ),
            ChangeOutcome::Unchanged => format!(
                "{} {}: stays {}",
                style.dim("Unchanged"),
                c.variable,
                escape(&c.to)
            ),
            ChangeOutcome::Failed => format!(
                "{} {}: still {} ({} was not applied: {})",
                style.red("FAILED"),
                c.variable,
                escape(&c.from),
                escape(&c.to),
                escape(c.error.as_deref().unwrap_or("error"))
            ),
        };
        // The server clamped the value: say what it set, and why (its warning).
        let line = match c.adjusted() {
            Some(adjusted) => {
                let why = if c.warnings.is_empty() {
                    String::new()
                } else {
                    format!(": {}", c.warnings.join("; "))
                };
                format!("{line} ({}{why})", style.yellow(&escape(&adjusted)))
            }
            None => line,
        };
        out.push_str(&format!(
            "{}\n",
            layout::wrap(&line, style.width, "  ", "    ")
        ));
    }
    if !r.kill_results.is_empty() {
        let killed = r
            .kill_results
            .iter()
            .filter(|k| k.outcome == execute::Outcome::Killed)
            .count();
        out.push_str(&format!(
            "Killed {killed} of {} idle sessions.\n",
            r.kill_results.len()
        ));
    }
    out
}

/// `127.0.0.1:3306 (db1) as root@localhost` from a `Server: ...` line.
fn server_name(server: &str) -> &str {
    server.strip_prefix("Server: ").unwrap_or(server)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::exit::{AppError, ErrorKind};
    use crate::remedy::plan::{self, Criteria, KillMode, Target};
    use crate::remedy::settings::{self, ChangeResult};
    use crate::report::settings::{SETTINGS_SCHEMA_VERSION, change_failure};

    fn kill_existing(snap: &crate::snapshot::Snapshot, older_than: Duration) -> KillPlan {
        plan::plan(
            snap,
            &Criteria::new(Target::Idle, KillMode::Connection, older_than),
        )
    }

    fn report(results: Vec<ChangeResult>) -> SettingsReport {
        let snap = crate::diagnose::fixtures::mariadb();
        SettingsReport {
            schema_version: SETTINGS_SCHEMA_VERSION,
            target: snap.target.clone(),
            dry_run: false,
            plan: settings::slow_log(&snap, true, None, false),
            applied: results.iter().filter_map(ChangeResult::applied).collect(),
            results,
            kill_plan: None,
            kill_results: Vec::new(),
        }
    }

    fn result(
        variable: &'static str,
        from: &str,
        to: &str,
        outcome: ChangeOutcome,
    ) -> ChangeResult {
        ChangeResult {
            variable,
            from: from.into(),
            to: to.into(),
            outcome,
            error: (outcome == ChangeOutcome::Failed)
                .then(|| "Variable 'x' is a read only variable (ERROR 1238)".into()),
            requested: None,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn the_plan_names_the_server_and_escapes_what_the_server_sent() {
        use crate::diagnose::fixtures::{self, session};
        let mut snap = fixtures::mariadb();
        snap.variables
            .insert("hostname".into(), "db1\x1b]0;x\x07".into());
        fixtures::with_sessions(
            &mut snap,
            vec![session(
                7,
                "a\x1b]0;pwned\x07",
                "10.0.0.1",
                "Sleep",
                900,
                "",
                None,
            )],
        );
        let plan = settings::timeouts(&snap, Some(Duration::from_secs(600)), None, false);
        let kill = kill_existing(&snap, Duration::from_secs(600));
        assert_eq!(kill.victims.len(), 1);
        let server = render::snapshot_server_line(&snap);
        let text = plan_text(&plan, Some(&kill), &server, Style::plain());
        assert!(
            text.contains("  Server: 127.0.0.1:3306 (db1\\e]0;x\\x07) as root@localhost\n"),
            "{text}"
        );
        assert!(
            text.contains("7 a\\e]0;pwned\\x07@10.0.0.1:40007 idle 15m00s"),
            "{text}"
        );
        assert!(crate::text::is_safe(&text.replace('\n', "")), "{text:?}");
    }

    #[test]
    fn a_partial_change_is_reported_per_variable() {
        let r = report(vec![
            result("slow_query_log", "OFF", "ON", ChangeOutcome::Applied),
            result(
                "long_query_time",
                "10.000000",
                "0.500",
                ChangeOutcome::Failed,
            ),
        ]);
        let text = result_text(
            &r,
            "Server: h:1 as root@localhost",
            Style::plain().with_width(200),
        );
        assert!(
            text.contains("Result (Server: h:1 as root@localhost):\n"),
            "{text}"
        );
        assert!(
            text.contains("Changed slow_query_log: OFF -> ON\n"),
            "{text}"
        );
        assert!(
            text.contains("FAILED long_query_time: still 10.000000 (0.500 was not applied: Variable 'x' is a read only variable (ERROR 1238))"),
            "{text}"
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["applied"].as_array().unwrap().len(), 1);
        assert_eq!(json["results"][1]["outcome"], "failed");
        let e = change_failure(&r.results, AppError::usage("x"));
        assert_eq!(e.kind, ErrorKind::ActionFailed);
        assert!(
            e.message
                .starts_with("partial change: slow_query_log changed, long_query_time not"),
            "{}",
            e.message
        );
        let none = [result(
            "long_query_time",
            "10",
            "0.5",
            ChangeOutcome::Failed,
        )];
        assert_eq!(
            change_failure(&none, AppError::new(ErrorKind::Privilege, "denied")).kind,
            ErrorKind::Privilege
        );
    }
}
