//! The `sessions` report: the processlist filtered, sorted (longest first) and grouped. Pure.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::filter::SessionFilter;
use crate::snapshot::{Session, Snapshot};

/// How sessions are grouped (`sessions --group-by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupBy {
    User,
    Host,
    Db,
    Command,
    State,
    /// The running statement's digest (`crate::text::digest`): values become `?`, so one
    /// query shape sent by many sessions is one group.
    Digest,
}

pub const SESSIONS_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct SessionRow<'s> {
    /// The processlist row (its fields are the JSON's `id`, `user`, `host`, …), borrowed from
    /// the snapshot: a report of 10,000 sessions copies none of them.
    #[serde(flatten)]
    pub session: &'s Session,
    /// Age of the session's open InnoDB transaction, if it has one.
    pub trx_age_s: Option<u64>,
    pub trx_rows_modified: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub key: String,
    pub count: u64,
    pub sleeping: u64,
    pub oldest_s: u64,
    pub total_time_s: u64,
}

#[derive(Debug, Serialize)]
pub struct SessionsReport<'s> {
    pub schema_version: u32,
    pub target: String,
    pub sees_all_sessions: bool,
    pub total_sessions: usize,
    pub matched: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<Group>>,
    pub sessions: Vec<SessionRow<'s>>,
}

/// Filter, sort (longest first) and group. Pure.
pub fn build<'s>(
    snap: &'s Snapshot,
    filter: &SessionFilter,
    group_by: Option<GroupBy>,
    limit: usize,
) -> SessionsReport<'s> {
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
    let trx_of = snap.transactions_by_session();
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
                let trx = trx_of.get(&s.id).copied();
                SessionRow {
                    session: s,
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
            GroupBy::Digest => match s.info.as_deref().map(crate::text::digest::normalize) {
                Some(d) if !d.is_empty() => d,
                _ => "(no statement)".into(),
            },
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
        // Saturating: a session's TIME is whatever the server (or a saved file) says.
        g.total_time_s = g.total_time_s.saturating_add(s.time_s);
    }
    let mut v: Vec<Group> = m.into_values().collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::{self, session};

    /// The JSON contract: a row is still one flat object with the names it always had (the
    /// session is embedded, flattened), in the same order.
    #[test]
    fn session_row_json_is_flat_with_its_old_field_names() {
        let row = SessionRow {
            session: &fixtures::session(7, "app", "10.0.0.1", "Sleep", 400, "", None),
            trx_age_s: None,
            trx_rows_modified: None,
        };
        assert_eq!(
            serde_json::to_string(&row).unwrap(),
            r#"{"id":7,"user":"app","host":"10.0.0.1:40007","db":"shop","command":"Sleep","time_s":400,"state":"","info":null,"trx_age_s":null,"trx_rows_modified":null}"#
        );
    }

    /// `--group-by digest`: statements that differ only in values are one group.
    #[test]
    fn group_by_digest() {
        let mut s = fixtures::mariadb();
        let mut v: Vec<Session> = (1..=40)
            .map(|i| {
                session(
                    i,
                    "app",
                    "10.0.0.2",
                    "Query",
                    5,
                    "Sending data",
                    Some(&format!("SELECT * FROM t WHERE id = {i}")),
                )
            })
            .collect();
        v.push(session(50, "app", "10.0.0.2", "Sleep", 5, "", None));
        fixtures::with_sessions(&mut s, v);
        let r = build(&s, &SessionFilter::default(), Some(GroupBy::Digest), 0);
        let g = r.groups.unwrap();
        assert_eq!(g[0].key, "SELECT * FROM t WHERE id = ?");
        assert_eq!(g[0].count, 40);
        assert_eq!(g[1].key, "(no statement)");
    }
}
