//! `conncheck sessions`: the processlist as DBAs want it, filtered and grouped.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cli::{Format, GroupBy, SessionsArgs};
use crate::exit;
use crate::filter::SessionFilter;
use crate::render::findings::SESSION_COLUMNS;
use crate::render::layout::{self, Col};
use crate::render::{self, Style};
use crate::snapshot::read::{self, ReadOptions};
use crate::snapshot::{Session, Snapshot};
use crate::text::{escape, prose};

use super::Context;

pub const SESSIONS_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct SessionRow {
    pub id: u64,
    pub user: String,
    pub host: String,
    pub db: Option<String>,
    pub command: String,
    pub time_s: u64,
    pub state: String,
    pub info: Option<String>,
    /// Age of the session's open InnoDB transaction, if it has one.
    pub trx_age_s: Option<u64>,
    pub trx_rows_modified: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct Group {
    pub key: String,
    pub count: u64,
    pub sleeping: u64,
    pub oldest_s: u64,
    pub total_time_s: u64,
}

#[derive(Debug, Serialize)]
pub struct SessionsReport {
    pub schema_version: u32,
    pub target: String,
    pub sees_all_sessions: bool,
    pub total_sessions: usize,
    pub matched: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<Group>>,
    pub sessions: Vec<SessionRow>,
}

pub fn run(ctx: &Context, args: &SessionsArgs) -> anyhow::Result<u8> {
    let filter = SessionFilter::from_args(&args.filter)?;
    let (mut conn, opts) = ctx.connect()?;
    let snap = read::read(
        &mut conn,
        ReadOptions {
            sample: std::time::Duration::ZERO,
            transactions: true,
            server_memory: None,
            local: opts.is_local(),
        },
    )?;
    let report = build(&snap, &filter, args.group_by, args.limit);
    let text = match args.format {
        Format::Json => render::json(&report),
        Format::Table => human(&report, ctx.style, args.full),
    };
    render::print(&text)?;
    Ok(exit::OK)
}

/// Filter, sort (longest first) and group. Pure.
pub fn build(
    snap: &Snapshot,
    filter: &SessionFilter,
    group_by: Option<GroupBy>,
    limit: usize,
) -> SessionsReport {
    let mut matched: Vec<&Session> = snap.sessions.iter().filter(|s| filter.matches(s)).collect();
    matched.sort_by(|a, b| {
        b.time_secs_f64()
            .total_cmp(&a.time_secs_f64())
            .then(a.id.cmp(&b.id))
    });
    let groups = group_by.map(|g| group(&matched, g));
    let count = matched.len();
    if limit > 0 {
        matched.truncate(limit);
    }
    SessionsReport {
        schema_version: SESSIONS_SCHEMA_VERSION,
        target: snap.target.clone(),
        sees_all_sessions: snap.sees_all_sessions(),
        total_sessions: snap.sessions.len(),
        matched: count,
        groups,
        sessions: matched
            .into_iter()
            .map(|s| {
                let trx = snap.transaction_of(s.id);
                SessionRow {
                    id: s.id,
                    user: s.user.clone(),
                    host: s.host.clone(),
                    db: s.db.clone(),
                    command: s.command.clone(),
                    time_s: s.time_s,
                    state: s.state.clone(),
                    info: s.info.clone(),
                    trx_age_s: trx.map(|t| t.age_s),
                    trx_rows_modified: trx.map(|t| t.rows_modified),
                }
            })
            .collect(),
    }
}

fn group(sessions: &[&Session], by: GroupBy) -> Vec<Group> {
    let mut m: BTreeMap<String, Group> = BTreeMap::new();
    for s in sessions {
        let key = match by {
            GroupBy::User => s.user.clone(),
            GroupBy::Host => s.client_host().to_string(),
            GroupBy::Db => s.db.clone().unwrap_or_else(|| "(none)".into()),
            GroupBy::Command => s.command.clone(),
            GroupBy::State => {
                if s.state.is_empty() {
                    "(empty)".into()
                } else {
                    s.state.clone()
                }
            }
        };
        let g = m.entry(key.clone()).or_insert(Group {
            key,
            count: 0,
            sleeping: 0,
            oldest_s: 0,
            total_time_s: 0,
        });
        g.count += 1;
        g.sleeping += u64::from(s.is_sleeping());
        g.oldest_s = g.oldest_s.max(s.time_s);
        g.total_time_s += s.time_s;
    }
    let mut v: Vec<Group> = m.into_values().collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    v
}

/// `--full`: the whole query text, wrapped inside its column (the db, command and state may wrap
/// too); ids, users, hosts and durations keep their content width and are never broken. Columns
/// that do not fit are left out as in the other tables.
fn full_table(rows: &[Vec<String>], style: Style) -> String {
    use comfy_table::{ColumnConstraint, Width};
    let mut cols = SESSION_COLUMNS;
    for c in cols.iter_mut().filter(|c| c.name == "info") {
        c.min = Some(20);
    }
    let fit = layout::choose(style.width, &cols, rows);
    let mut t = style.table();
    t.set_header(fit.keep.iter().map(|&i| cols[i].name).collect::<Vec<_>>());
    for r in rows {
        t.add_row(fit.keep.iter().map(|&i| r[i].clone()).collect::<Vec<_>>());
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
pub fn human(r: &SessionsReport, style: Style, full: bool) -> String {
    let mut out = String::new();
    if !r.sees_all_sessions {
        out.push_str(
            &style.red(
                "WARNING: no PROCESS privilege: only this account's own sessions are visible\n",
            ),
        );
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
    let rows: Vec<Vec<String>> = r
        .sessions
        .iter()
        .map(|s| {
            // Every text column comes from the server and any database user controls it:
            // escaped (`--full` keeps the whole query text and its line breaks, never a control
            // character).
            vec![
                s.id.to_string(),
                escape(&s.user).into_owned(),
                escape(&s.host).into_owned(),
                escape(s.db.as_deref().unwrap_or_default()).into_owned(),
                escape(&s.command).into_owned(),
                render::secs(s.time_s),
                escape(&s.state).into_owned(),
                s.trx_age_s.map(render::secs).unwrap_or_default(),
                if full {
                    prose(s.info.as_deref().unwrap_or_default()).into_owned()
                } else {
                    // Cut to the column's width by the table; 200 keeps wide terminals useful.
                    render::snippet(s.info.as_deref(), 200)
                },
            ]
        })
        .collect();
    if full {
        out.push_str(&format!("{}\n", full_table(&rows, style)));
    } else {
        out.push_str(&format!(
            "{}\n",
            layout::fit_table(style, &SESSION_COLUMNS, &rows)
        ));
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
