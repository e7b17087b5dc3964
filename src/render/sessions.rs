//! The `sessions` table for people.

use crate::render::findings::SESSION_COLUMNS;
use crate::render::layout::{self, Col};
use crate::render::session_table::{Cells, Info, SessionLine};
use crate::render::{self, Style};
use crate::report::sessions::SessionsReport;
use crate::text::escape;

/// `--full`: the whole query text, wrapped inside its column (the db, command and state may wrap
/// too); ids, users, hosts and durations keep their content width and are never broken. Columns
/// that do not fit are left out as in the other tables.
fn full_table<S: AsRef<str> + Sync>(rows: &[Vec<S>], style: Style) -> String {
    use comfy_table::{ColumnConstraint, Width};
    let mut cols = SESSION_COLUMNS;
    for c in cols.iter_mut().filter(|c| c.name == "info") {
        c.min = Some(20);
    }
    let fit = layout::choose(style.width, &cols, rows);
    let mut t = style.table();
    t.set_header(fit.keep.iter().map(|&i| cols[i].name).collect::<Vec<_>>());
    for r in rows {
        t.add_row(
            fit.keep
                .iter()
                .map(|&i| r[i].as_ref())
                .collect::<Vec<&str>>(),
        );
    }
    for (k, col) in t.column_iter_mut().enumerate() {
        match cols[fit.keep[k]].name {
            "id" | "user" | "host" | "time" | "trx" => {
                col.set_constraint(ColumnConstraint::ContentWidth);
            }
            "info" => {
                col.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(20)));
            }
            _ => {}
        }
    }
    let mut out = t.to_string();
    if !fit.dropped.is_empty() {
        out.push('\n');
        out.push_str(&layout::dropped_note(style, &cols, &fit.dropped));
    }
    out
}

/// The human table. Pure.
pub fn human(r: &SessionsReport<'_>, style: Style, full: bool) -> String {
    let mut out = String::new();
    if !r.sees_all_sessions {
        out.push_str(&layout::wrap(
            &style
                .red("WARNING: no PROCESS privilege: only this account's own sessions are visible"),
            style.width,
            "",
            "  ",
        ));
        out.push('\n');
    }
    if let Some(groups) = &r.groups {
        const COLUMNS: [Col; 5] = [
            Col::cut("group", 16, 0),
            Col::keep("sessions"),
            Col::keep("sleeping"),
            Col::keep("oldest"),
            Col::keep("total time"),
        ];
        let rows: Vec<Vec<String>> = groups
            .iter()
            .map(|g| {
                vec![
                    escape(&g.key).into_owned(),
                    g.count.to_string(),
                    g.sleeping.to_string(),
                    render::secs(g.oldest_s),
                    render::secs(g.total_time_s),
                ]
            })
            .collect();
        out.push_str(&format!("{}\n", layout::fit_table(style, &COLUMNS, &rows)));
        out.push_str(&format!(
            "{} of {} sessions matched\n",
            r.matched, r.total_sessions
        ));
        return out;
    }
    if r.sessions.is_empty() {
        out.push_str(&format!("No session matched (of {}).\n", r.total_sessions));
        return out;
    }
    let split = r.sessions.len() >= crate::parallel::WORTH_SPLITTING;
    let rows: Vec<Vec<_>> = crate::parallel::map_halves(split, &r.sessions, |s| {
        // `--full` keeps the whole query text and its line breaks, never a control character;
        // otherwise it is cut to the column's width by the table (200 keeps wide terminals
        // useful).
        SessionLine::from(s).cells(&Cells {
            cut: None,
            trx_rows: false,
            info: if full {
                Info::Prose
            } else {
                Info::Snippet(200)
            },
        })
    });
    if full {
        out.push_str(&format!("{}\n", full_table(&rows, style)));
    } else {
        layout::push_table(&mut out, style, &SESSION_COLUMNS, &rows);
        out.push('\n');
    }
    let shown = r.sessions.len();
    if shown < r.matched {
        out.push_str(&format!(
            "showing {shown} of {} matched sessions ({} in all)\n",
            r.matched, r.total_sessions
        ));
    } else {
        out.push_str(&format!(
            "{} of {} sessions matched\n",
            r.matched, r.total_sessions
        ));
    }
    out
}

/// `sessions --format json`: the text [`render::json`] writes of the report, its rows written by
/// hand ([`render::session_json`]: 10,000 rows through serde_json were as long as reading them).
pub fn json(r: &SessionsReport<'_>) -> String {
    use render::session_json::{self, PRETTY_IN_SECTION};
    let rest = render::json(&SessionsReport {
        schema_version: r.schema_version,
        target: r.target.clone(),
        sees_all_sessions: r.sees_all_sessions,
        total_sessions: r.total_sessions,
        matched: r.matched,
        groups: r.groups.clone(),
        sessions: Vec::new(),
    });
    session_json::with_sessions(rest, &r.sessions, 400, |out, row| {
        let trx = (row.trx_age_s, row.trx_rows_modified);
        session_json::object(out, &PRETTY_IN_SECTION, row.session, Some(trx));
    })
    .unwrap_or_else(|| render::json(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::SessionFilter;
    use crate::report::sessions::{GroupBy, build};

    fn generic(r: &SessionsReport<'_>) -> String {
        render::json(r)
    }

    fn by_hand(r: &SessionsReport<'_>) -> String {
        json(r)
    }

    /// The rows written by hand are the text serde_json writes of the report: sessions with and
    /// without transactions, hostile text, groups, and no row at all.
    #[test]
    fn the_json_report_is_what_serde_json_writes() {
        let mut snap = crate::diagnose::fixtures::at_scale(40);
        snap.sessions.extend(
            crate::diagnose::fixtures::sessions_to_write()
                .into_iter()
                .map(|mut s| {
                    s.id = s.id.wrapping_add(5_000);
                    s
                }),
        );
        snap.sessions[3].info = Some("x\n  \"sessions\": []".into());
        let trx = crate::diagnose::fixtures::trx(1_001, "RUNNING", 30, 7, None);
        snap.transactions.push(trx);
        let all = SessionFilter::default();
        for group in [None, Some(GroupBy::User)] {
            let r = build(&snap, &all, group, 0);
            assert!(r.sessions.iter().any(|s| s.trx_age_s.is_some()));
            assert_eq!(by_hand(&r), generic(&r));
        }
        let small = crate::diagnose::fixtures::mariadb();
        let mut empty = build(&small, &all, None, 0);
        empty.sessions.clear();
        assert_eq!(by_hand(&empty), generic(&empty));
    }
}
