//! The recorder's cheap reading ([`Sample`]): what the triggers and the ring need, read at
//! 1,000 sessions every second for well under 1 % of a server core (BENCHMARKS.md, "Recorder").
//!
//! One round trip per sample: the status counters a sample keeps ([`status_sql`]),
//! `@@max_connections`, and the processlist read the cheapest way the server offers: `SHOW
//! PROCESSLIST` (MariaDB sends its rows straight from the thread list; information_schema
//! .PROCESSLIST goes through a temporary table and cost twice the server time at 1,000 sessions),
//! or MySQL 8's narrow `performance_schema.processlist` read (no global mutex). Its rows are
//! folded as they arrive: one [`Session`] each (five columns filled), never more than
//! [`MAX_SESSION_ROWS`].
//!
//! The program names come from `performance_schema.session_connect_attrs`, read only for the
//! connection ids not seen before (one more round trip, in the samples that see new sessions)
//! and cached per (server start, id) in a [`ProgramCache`]: joining the table into every sample
//! cost a fifth of a core at 1,000 sessions. When the read is refused (SELECT on
//! performance_schema missing, see `connect_attrs`), samples go on without names, with one note.

use std::collections::{BTreeMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use mysql::Row;

use crate::connect::Connection;
use crate::exit::{AppError, ErrorKind};

use super::connect_attrs::{self, ProgramCache};
use super::dialect::Dialect;
use super::flavor::ProcesslistSource;
use super::host_cache;
use super::model::{Session, Snapshot, strip_port};
use super::row::{num, text};
use super::sample::{ClientCount, Sample, cap_clients};

/// Status counters a sample keeps besides its own fields, for the ticket.
pub const EXTRA_COUNTERS: &[&str] = &[
    "aborted_clients",
    "aborted_connects",
    "aborted_connects_preauth",
    "access_denied_errors",
    "innodb_row_lock_current_waits",
    "max_used_connections",
    "questions",
    "slow_queries",
    "threads_created",
    "uptime",
];

/// The global status the triggers read (besides [`EXTRA_COUNTERS`], whose
/// `innodb_row_lock_current_waits` counts row-lock waits and whose `uptime` dates the server's
/// start for the [`ProgramCache`]).
pub const TRIGGER_STATUS: &[&str] = &[
    "threads_connected",
    "threads_running",
    "connections",
    "connection_errors_max_connections",
];

/// At most this many processlist rows are kept per sample: MariaDB's largest max_connections
/// (https://mariadb.com/kb/en/server-system-variables/#max_connections). More rows are read
/// and dropped; the counters still come from global status.
pub const MAX_SESSION_ROWS: usize = 100_000;

/// The status statement of a sample: [`TRIGGER_STATUS`] and [`EXTRA_COUNTERS`], nothing else.
pub fn status_sql() -> String {
    let names = TRIGGER_STATUS
        .iter()
        .chain(EXTRA_COUNTERS)
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(",");
    format!("SHOW GLOBAL STATUS WHERE Variable_name IN ({names})")
}

/// The processlist statement of a sample. Columns as `SHOW PROCESSLIST` sends them: Id, User,
/// Host, db, Command, Time, State (and more, ignored).
pub fn sessions_sql(source: ProcesslistSource) -> String {
    match source {
        // Readable by every account (PFS_readonly_processlist_acl), no global mutex.
        ProcesslistSource::PerformanceSchema => format!(
            "SELECT ID, USER, HOST, DB, COMMAND, TIME, STATE FROM performance_schema.processlist \
             WHERE ID <> CONNECTION_ID() LIMIT {MAX_SESSION_ROWS}"
        ),
        ProcesslistSource::InformationSchema => "SHOW PROCESSLIST".to_string(),
    }
}

/// Reads samples over the recorder's connection, and remembers the program names it has read.
#[derive(Debug, Clone)]
pub struct Sampler {
    source: ProcesslistSource,
    /// Read the connection attributes (until refused once).
    attrs: bool,
    /// Read the ERROR 1129 count of the host cache (performance_schema ON; until refused once).
    host_cache: bool,
    programs: ProgramCache,
}

impl Sampler {
    /// A sampler for the server `snap` (read when the connection was opened) describes.
    pub fn new(snap: &Snapshot) -> Sampler {
        let mut s = Sampler {
            source: ProcesslistSource::InformationSchema,
            attrs: false,
            host_cache: false,
            programs: ProgramCache::default(),
        };
        s.reconnected(snap);
        s
    }

    /// After a reconnect: the server may have changed (an upgrade, performance_schema turned
    /// on). The program names stay cached as long as the server's start time is the same.
    pub fn reconnected(&mut self, snap: &Snapshot) {
        let d = Dialect::new(&snap.server, &snap.variables);
        self.source = d.processlist_source();
        self.attrs = d.reads_connect_attrs();
        self.host_cache = d.reads_host_cache();
    }

    /// One sample: one round trip, and one more when it shows connections not seen before. The
    /// second value is a note when the program names stopped being read (the read was
    /// refused).
    pub fn read(&mut self, c: &mut Connection) -> Result<(Sample, Option<String>), AppError> {
        let own = c.id();
        let Reading {
            status,
            max_connections,
            sessions,
        } = read_round_trip(c, self.source, own)?;
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, crate::units::millis);
        self.programs
            .server_started(at_ms, status.get("uptime").copied().unwrap_or(0));
        let present: HashSet<u64> = sessions.iter().map(|s| s.id).collect();
        self.programs.keep_only(&present);
        let mut note = None;
        if self.attrs {
            // Sessions still logging in have not sent their attributes yet: next sample.
            let new = self.programs.unknown(
                sessions
                    .iter()
                    .filter(|s| s.user != "unauthenticated user")
                    .map(|s| s.id),
            );
            if !new.is_empty() {
                let asked = &new[..new.len().min(connect_attrs::MAX_IDS_PER_READ)];
                match c.rows(
                    &connect_attrs::sql_for(asked),
                    "reading connection attributes",
                ) {
                    Ok(rows) => self.programs.fill(asked, &connect_attrs::rows(&rows)),
                    Err(e) if super::batch::is_statement_error(&e) => {
                        note = Some(connect_attrs::note(&e.message));
                        self.attrs = false;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let mut sample = build_sample(at_ms, &status, max_connections, &sessions, |id| {
            self.programs.program(id)
        });
        if self.host_cache {
            // The `refused` trigger counts ERROR 1129 too (docs/refusals.md "ERROR 1129").
            match c.rows(host_cache::blocked_sum_sql(), "reading the host cache") {
                Ok(rows) => {
                    let n = rows.first().and_then(|r| num(r, 0)).unwrap_or(0);
                    sample
                        .counters
                        .insert(host_cache::BLOCKED_COUNTER.to_string(), n);
                }
                Err(e) if super::batch::is_statement_error(&e) => {
                    note = note.or_else(|| Some(host_cache::note(&e.message)));
                    self.host_cache = false;
                }
                Err(e) => return Err(e),
            }
        }
        Ok((sample, note))
    }
}

/// What the first round trip of a sample reads.
struct Reading {
    /// Global status, lower-case names.
    status: BTreeMap<String, u64>,
    max_connections: u64,
    /// Every session but ours.
    sessions: Vec<Session>,
}

/// The first round trip of a sample.
fn read_round_trip(
    c: &mut Connection,
    source: ProcesslistSource,
    own: u64,
) -> Result<Reading, AppError> {
    let what = "reading a sample (global status and the processlist)";
    let sql = [
        status_sql(),
        "SELECT @@GLOBAL.max_connections".to_string(),
        sessions_sql(source),
    ]
    .join(";\n");
    let (sets, status, max, sessions) = c.with_deadline(1, what, |c| {
        c.send(&sql, |mut result| {
            let mut status = BTreeMap::new();
            let mut max = 0;
            let mut sessions = Vec::new();
            let mut sets = 0;
            while let Some(set) = result.iter() {
                for row in set {
                    let row = row?;
                    match sets {
                        0 => {
                            if let Some(name) = text(&row, 0) {
                                status.insert(name.to_ascii_lowercase(), num(&row, 1).unwrap_or(0));
                            }
                        }
                        1 => max = num(&row, 0).unwrap_or(0),
                        _ => {
                            let s = session_row(&row);
                            if s.id != own && sessions.len() < MAX_SESSION_ROWS {
                                sessions.push(s);
                            }
                        }
                    }
                }
                sets += 1;
            }
            Ok((sets, status, max, sessions))
        })
    })?;
    if sets < 3 {
        return Err(AppError::new(
            ErrorKind::Other,
            format!("{what}: the server returned fewer results than statements"),
        ));
    }
    Ok(Reading {
        status,
        max_connections: max,
        sessions,
    })
}

/// Waiting for a table or metadata lock (MariaDB and MySQL spell every such state
/// `Waiting for ... lock`; row-lock waits are counted by InnoDB instead).
fn waits_for_a_lock(s: &Session) -> bool {
    let state = s.state.to_ascii_lowercase();
    state
        .strip_prefix("waiting for")
        .is_some_and(|rest| rest.contains("lock"))
}

/// One session of the processlist, as much as a sample needs: id, user, host, command and
/// state (what [`Session::kind`] and the grouping read); the rest stays empty.
fn session_row(r: &Row) -> Session {
    Session {
        id: num(r, 0).unwrap_or(0),
        user: text(r, 1).unwrap_or_default(),
        host: text(r, 2).unwrap_or_default(),
        command: text(r, 4).unwrap_or_default(),
        state: text(r, 6).unwrap_or_default(),
        ..Session::default()
    }
}

/// The sample from status counters and the sessions, `program` naming each session's program
/// by id. Pure. Replication and system threads are left out as [`Session::kind`] says; row-lock
/// waits come from `Innodb_row_lock_current_waits`, table and metadata-lock waits from the
/// processlist states.
pub fn build_sample<'a>(
    at_ms: u64,
    status: &BTreeMap<String, u64>,
    max_connections: u64,
    sessions: &[Session],
    program: impl Fn(u64) -> Option<&'a str>,
) -> Sample {
    let get = |k: &str| status.get(k).copied().unwrap_or(0);
    let mut merged: BTreeMap<(&str, &str, Option<&str>), (u64, u64)> = BTreeMap::new();
    let mut table_lock_waits = 0;
    for s in sessions {
        if !s.is_client() {
            continue;
        }
        table_lock_waits += u64::from(waits_for_a_lock(s));
        let e = merged
            .entry((&s.user, strip_port(&s.host), program(s.id)))
            .or_default();
        e.0 += 1;
        e.1 += u64::from(!s.is_sleeping());
    }
    let mut clients: Vec<ClientCount> = merged
        .into_iter()
        .map(|((user, host, app), (connections, running))| ClientCount {
            user: user.to_string(),
            host: host.to_string(),
            app: app.map(str::to_string),
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

    fn s(id: u64, user: &str, host: &str, command: &str, state: &str) -> Session {
        Session {
            id,
            user: user.into(),
            host: host.into(),
            command: command.into(),
            state: state.into(),
            ..Session::default()
        }
    }

    #[test]
    fn sessions_merge_by_account_and_program_and_skip_system_threads() {
        let status: BTreeMap<String, u64> = [
            ("threads_connected".to_string(), 12),
            ("innodb_row_lock_current_waits".to_string(), 2),
            ("connections".to_string(), 100),
        ]
        .into();
        let mut sessions: Vec<Session> = (1..=5)
            .map(|i| s(i, "app", &format!("10.0.0.1:{}", 5000 + i), "Sleep", ""))
            .collect();
        sessions.push(s(
            6,
            "app",
            "10.0.0.1:1",
            "Query",
            "Waiting for table metadata lock",
        ));
        sessions.push(s(7, "app", "10.0.0.1:2", "Query", "Sending data"));
        sessions.push(s(
            8,
            "app",
            "10.0.0.1:3",
            "Query",
            "waiting for TABLE level LOCK",
        ));
        sessions.push(s(9, "app", "2001:db8::5:40001", "Sleep", ""));
        sessions.push(s(10, "app", "2001:db8::5:40002", "Sleep", ""));
        sessions.push(s(11, "system user", "", "Connect", ""));
        sessions.push(s(12, "event_scheduler", "localhost", "Daemon", ""));
        sessions.push(s(13, "web", "localhost", "Sleep", ""));
        // A replica's I/O thread under an ordinary account name is not a client either.
        sessions.push(s(
            14,
            "repl",
            "10.0.0.9:1",
            "Query",
            "Waiting for master to send event",
        ));
        let program = |id: u64| (id <= 8).then_some("api");
        let x = build_sample(5, &status, 151, &sessions, program);
        assert_eq!(x.threads_connected, 12);
        assert_eq!(x.max_connections, 151);
        assert_eq!(x.lock_waits, 2 + 2, "InnoDB's and the two lock states");
        assert_eq!(x.clients.len(), 3);
        assert_eq!(x.clients[0].account(), "app@10.0.0.1");
        assert_eq!(x.clients[0].app.as_deref(), Some("api"));
        assert_eq!((x.clients[0].connections, x.clients[0].running), (8, 3));
        assert_eq!(x.clients[1].account(), "app@2001:db8::5");
        assert_eq!(x.clients[1].app, None);
        assert_eq!(x.clients[2].account(), "web@localhost");
        assert_eq!(x.counters.get("connections"), None);
        assert_eq!(x.connections_total, 100);
    }

    #[test]
    fn the_sample_reads_no_join_and_only_what_it_keeps() {
        let pfs = sessions_sql(ProcesslistSource::PerformanceSchema);
        assert!(pfs.contains("performance_schema.processlist"), "{pfs}");
        assert!(pfs.contains("CONNECTION_ID()") && pfs.contains("LIMIT 100000"));
        assert_eq!(
            sessions_sql(ProcesslistSource::InformationSchema),
            "SHOW PROCESSLIST"
        );
        for q in [pfs, status_sql()] {
            assert!(!q.contains("session_connect_attrs"), "{q}");
            assert!(!q.to_ascii_uppercase().contains("JOIN"), "{q}");
        }
        // Every counter a sample keeps is read, and nothing else.
        let st = status_sql();
        for k in EXTRA_COUNTERS {
            assert!(st.contains(&format!("'{k}'")), "{k}");
        }
        assert_eq!(
            st.matches('\'').count(),
            2 * (TRIGGER_STATUS.len() + EXTRA_COUNTERS.len())
        );
    }
}
