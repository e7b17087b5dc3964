//! The recorder's cheap reading ([`Sample`]): ONE round trip per interval, whatever the number of
//! sessions. Global status, `@@max_connections` and one processlist query grouped by user, host,
//! command and program name, sent together. The grouping happens on the server, so 10,000
//! sessions of three pools cost a few rows, not 10,000.
//!
//! The program name comes from `performance_schema.session_connect_attrs`, joined in where the
//! dialect says it can be read; when that join is refused (SELECT on performance_schema missing,
//! see `connect_attrs`), the query without it is used from then on, with one note.
//!
//! Hosts: SQL strips the text after the last `:` (the client port); [`strip_port`] applied in
//! Rust to one host of each group is the truth, and groups that end up with the same
//! `user@host` are merged again.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use mysql::Row;

use crate::connect::Connection;
use crate::exit::AppError;

use super::batch;
use super::dialect::Dialect;
use super::flavor::ProcesslistSource;
use super::model::{Session, Snapshot, strip_port};
use super::plan::{Key, Plan, Results};
use super::row::{num, text};
use super::sample::{ClientCount, Sample, cap_clients};
use super::sql::status_sql;

/// Status counters a sample keeps besides its own fields, for the ticket.
pub const EXTRA_COUNTERS: &[&str] = &[
    "aborted_clients",
    "aborted_connects",
    "access_denied_errors",
    "innodb_row_lock_current_waits",
    "max_used_connections",
    "questions",
    "slow_queries",
    "threads_created",
    "uptime",
];

/// At most this many grouped rows are read (one per user, host, command and program).
pub const MAX_GROUP_ROWS: usize = 20_000;

/// The grouped processlist query. Columns: user, one full host of the group, command, program
/// (NULL without `attrs`), sessions, sessions waiting for a table or metadata lock.
pub fn grouped_sql(source: ProcesslistSource, attrs: bool) -> String {
    let table = match source {
        ProcesslistSource::PerformanceSchema => "performance_schema.processlist",
        ProcesslistSource::InformationSchema => "information_schema.PROCESSLIST",
    };
    // Everything before the last ':' (the port the processlist appends); hosts without one as
    // they are.
    let host_key = "IF(LOCATE(':', p.HOST) > 0, \
         SUBSTRING(p.HOST, 1, CHAR_LENGTH(p.HOST) - LOCATE(':', REVERSE(p.HOST))), p.HOST)";
    let (program, joins) = if attrs {
        (
            "COALESCE(NULLIF(a.ATTR_VALUE, ''), NULLIF(d.ATTR_VALUE, ''))",
            " LEFT JOIN performance_schema.session_connect_attrs a \
             ON a.PROCESSLIST_ID = p.ID AND a.ATTR_NAME = 'program_name' \
             LEFT JOIN performance_schema.session_connect_attrs d \
             ON d.PROCESSLIST_ID = p.ID AND d.ATTR_NAME = '_client_name'",
        )
    } else {
        ("NULL", "")
    };
    format!(
        "SELECT p.USER, MIN(p.HOST), p.COMMAND, {program}, COUNT(*), \
         COALESCE(SUM(p.STATE LIKE 'Waiting for%lock%'), 0) \
         FROM {table} p{joins} WHERE p.ID <> CONNECTION_ID() \
         GROUP BY p.USER, {host_key}, p.COMMAND, {program} LIMIT {MAX_GROUP_ROWS}"
    )
}

/// A sample's global status: lower-case name -> value (0 when not a number).
const STATUS: Key<BTreeMap<String, u64>> = Key {
    what: "status counters",
    decode: status_counters,
};
const MAX_CONNECTIONS: Key<u64> = Key {
    what: "max_connections",
    decode: max_connections,
};
const GROUPS: Key<Vec<GroupRow>> = Key {
    what: "grouped processlist",
    decode: group_rows,
};

fn status_counters(rows: &[Row]) -> BTreeMap<String, u64> {
    rows.iter()
        .filter_map(|r| Some((text(r, 0)?.to_ascii_lowercase(), num(r, 1).unwrap_or(0))))
        .collect()
}

fn max_connections(rows: &[Row]) -> u64 {
    rows.first().and_then(|r| num(r, 0)).unwrap_or(0)
}

/// Reads samples over one connection; built from the snapshot read when it was opened.
#[derive(Debug, Clone)]
pub struct Sampler {
    source: ProcesslistSource,
    /// Join the connection attributes (until refused once).
    attrs: bool,
}

impl Sampler {
    pub fn new(snap: &Snapshot) -> Sampler {
        let d = Dialect::new(&snap.server, &snap.variables);
        Sampler {
            source: d.processlist_source(),
            attrs: d.reads_connect_attrs(),
        }
    }

    /// The statements of one sample, every one required.
    pub fn plan(&self) -> Plan {
        let mut p = Plan::new();
        p.add(STATUS, status_sql(), true, "")
            .add(MAX_CONNECTIONS, "SELECT @@GLOBAL.max_connections", true, "")
            .add(
                GROUPS,
                grouped_sql(self.source, self.attrs),
                true,
                "PROCESS",
            );
        p
    }

    fn run(&self, c: &mut Connection, what: &str) -> Results {
        let p = self.plan();
        let stmts: Vec<String> = p.reads().iter().map(|r| r.sql.clone()).collect();
        Results::of(&p, c.batch(&stmts, what))
    }

    /// One sample, one round trip. The second value is a note when the program names stopped
    /// being read (the join was refused): that costs one more round trip, once.
    pub fn read(&mut self, c: &mut Connection) -> Result<(Sample, Option<String>), AppError> {
        let what = "reading a sample (global status and the grouped processlist)";
        let mut results = self.run(c, what);
        let mut note = None;
        if self.attrs
            && let Some(e) = results.failed(GROUPS)
            && batch::is_statement_error(e)
            && results.failed(STATUS).is_none()
            && results.failed(MAX_CONNECTIONS).is_none()
        {
            note = Some(super::connect_attrs::note(&e.message));
            self.attrs = false;
            results = self.run(c, what);
        }
        let status = results.required(STATUS)?;
        let max_connections = results.required(MAX_CONNECTIONS)?;
        let groups = results.required(GROUPS)?;
        Ok((
            build_sample(now_ms(), &status, max_connections, &groups),
            note,
        ))
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One grouped row (see [`grouped_sql`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    pub user: String,
    pub host: String,
    pub command: String,
    pub program: Option<String>,
    pub sessions: u64,
    pub lock_waits: u64,
}

fn group_row(r: &Row) -> GroupRow {
    GroupRow {
        user: text(r, 0).unwrap_or_default(),
        host: text(r, 1).unwrap_or_default(),
        command: text(r, 2).unwrap_or_default(),
        program: text(r, 3).filter(|p| !p.is_empty()),
        sessions: num(r, 4).unwrap_or(0),
        lock_waits: num(r, 5).unwrap_or(0),
    }
}

fn group_rows(rows: &[Row]) -> Vec<GroupRow> {
    rows.iter().map(group_row).collect()
}

/// The sample from status counters and grouped rows. Pure. Replication and system threads are
/// left out as [`Session::kind`] says; row-lock waits come from
/// `Innodb_row_lock_current_waits`, table and metadata-lock waits from the processlist states.
pub fn build_sample(
    at_ms: u64,
    status: &BTreeMap<String, u64>,
    max_connections: u64,
    groups: &[GroupRow],
) -> Sample {
    let get = |k: &str| status.get(k).copied().unwrap_or(0);
    let mut merged: BTreeMap<(String, String, Option<String>), (u64, u64)> = BTreeMap::new();
    let mut table_lock_waits = 0;
    for g in groups {
        let probe = Session {
            user: g.user.clone(),
            host: g.host.clone(),
            command: g.command.clone(),
            ..Default::default()
        };
        if !probe.is_client() {
            continue;
        }
        table_lock_waits += g.lock_waits;
        let e = merged
            .entry((
                g.user.clone(),
                strip_port(&g.host).to_string(),
                g.program.clone(),
            ))
            .or_default();
        e.0 += g.sessions;
        if !probe.is_sleeping() {
            e.1 += g.sessions;
        }
    }
    let mut clients: Vec<ClientCount> = merged
        .into_iter()
        .map(|((user, host, app), (connections, running))| ClientCount {
            user,
            host,
            app,
            connections,
            running,
        })
        .collect();
    let other_connections = cap_clients(&mut clients);
    Sample {
        at_ms,
        threads_connected: get("threads_connected"),
        threads_running: get("threads_running"),
        max_connections,
        refused_total: get("connection_errors_max_connections"),
        connections_total: get("connections"),
        lock_waits: get("innodb_row_lock_current_waits") + table_lock_waits,
        counters: EXTRA_COUNTERS
            .iter()
            .filter_map(|k| Some((k.to_string(), *status.get(*k)?)))
            .collect(),
        clients,
        other_connections,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(user: &str, host: &str, command: &str, program: Option<&str>, n: u64) -> GroupRow {
        GroupRow {
            user: user.into(),
            host: host.into(),
            command: command.into(),
            program: program.map(str::to_string),
            sessions: n,
            lock_waits: 0,
        }
    }

    #[test]
    fn groups_merge_by_account_and_program_and_skip_system_threads() {
        let status: BTreeMap<String, u64> = [
            ("threads_connected".to_string(), 12),
            ("innodb_row_lock_current_waits".to_string(), 2),
            ("connections".to_string(), 100),
        ]
        .into();
        let mut waiting = g("app", "10.0.0.1:1", "Query", Some("api"), 3);
        waiting.lock_waits = 1;
        let groups = vec![
            g("app", "10.0.0.1:5000", "Sleep", Some("api"), 5),
            waiting,
            g("app", "2001:db8::5:40001", "Sleep", None, 2),
            g("system user", "", "Connect", None, 2),
            g("event_scheduler", "localhost", "Daemon", None, 1),
            g("web", "localhost", "Sleep", None, 1),
        ];
        let s = build_sample(5, &status, 151, &groups);
        assert_eq!(s.threads_connected, 12);
        assert_eq!(s.max_connections, 151);
        assert_eq!(s.lock_waits, 3);
        assert_eq!(s.clients.len(), 3);
        assert_eq!(s.clients[0].account(), "app@10.0.0.1");
        assert_eq!(s.clients[0].app.as_deref(), Some("api"));
        assert_eq!((s.clients[0].connections, s.clients[0].running), (8, 3));
        assert_eq!(s.clients[1].account(), "app@2001:db8::5");
        assert_eq!(s.counters.get("connections"), None);
        assert_eq!(s.connections_total, 100);
    }

    #[test]
    fn the_grouped_query_joins_program_names_only_when_asked() {
        let with = grouped_sql(ProcesslistSource::InformationSchema, true);
        assert!(with.contains("session_connect_attrs"));
        assert!(with.contains("information_schema.PROCESSLIST"));
        let without = grouped_sql(ProcesslistSource::PerformanceSchema, false);
        assert!(!without.contains("session_connect_attrs"));
        assert!(without.contains("performance_schema.processlist"));
        assert!(without.contains("CONNECTION_ID()"));
    }
}
