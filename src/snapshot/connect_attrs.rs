//! Which program each session belongs to, from its connection attributes.
//!
//! `performance_schema.session_connect_attrs` (MySQL 5.6+, MariaDB 10.0+ with
//! performance_schema ON) holds what each client sent at connect: `program_name` (the mysql
//! client, Connector/J's `connectionAttributes`, many pools) and `_client_name` (the driver:
//! `libmysql`, `libmariadb`, `mysql-connector-java`, ...). Read as its own statement, never
//! joined into the processlist read: on MySQL it needs SELECT on performance_schema
//! (`pfs_readonly_acl` in table_session_connect_attrs.cc, ERROR 1142 otherwise), which the
//! least-privilege account (PROCESS + CONNECTION_ADMIN) lacks, and the processlist must not fail
//! with it. Parsing is pure.
//!
//! Reading the table is not cheap: performance_schema has no index on it in MariaDB, so every
//! read walks every session's attributes (~8 ms of server time at 1,000 sessions, whatever the
//! `WHERE`; BENCHMARKS.md, "Recorder"). The recorder therefore asks only for connection ids it
//! has not seen before and keeps the names in a [`ProgramCache`].

use std::collections::{HashMap, HashSet};

use mysql::Row;

use super::model::Session;
use super::row::{num, text};

/// At most this many attribute rows are read (two per session at most; 10,000 sessions fit).
pub const MAX_ATTR_ROWS: usize = 20_000;

/// The statement: processlist id, attribute name, value.
pub fn sql() -> String {
    format!(
        "SELECT PROCESSLIST_ID, ATTR_NAME, ATTR_VALUE FROM performance_schema.session_connect_attrs \
         WHERE ATTR_NAME IN ('program_name', '_client_name') LIMIT {MAX_ATTR_ROWS}"
    )
}

/// At most this many connection ids are asked for in one [`sql_for`] (the rest wait for the next
/// sample): the statement stays a few kilobytes whatever the number of new sessions.
pub const MAX_IDS_PER_READ: usize = 1_000;

/// The statement for some connection ids only (at most [`MAX_IDS_PER_READ`] of them): processlist
/// id, attribute name, value.
pub fn sql_for(ids: &[u64]) -> String {
    let list = ids
        .iter()
        .take(MAX_IDS_PER_READ)
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    format!(
        "SELECT PROCESSLIST_ID, ATTR_NAME, ATTR_VALUE FROM performance_schema.session_connect_attrs \
         WHERE ATTR_NAME IN ('program_name', '_client_name') AND PROCESSLIST_ID IN ({list}) \
         LIMIT {}",
        2 * MAX_IDS_PER_READ
    )
}

/// The note left when the attributes could not be read.
pub fn note(message: &str) -> String {
    format!(
        "client programs not named (needs SELECT on performance_schema.session_connect_attrs): {message}"
    )
}

/// Fill `Session::program` from the rows: `program_name` where the client sent one, else the
/// driver's `_client_name`. Sessions already named keep their name.
pub fn apply(sessions: &mut [Session], rows: &[(u64, String, String)]) {
    let names = names(rows);
    for s in sessions.iter_mut().filter(|s| s.program.is_none()) {
        if let Some(n) = names.get(&s.id) {
            s.program = Some((*n).to_string());
        }
    }
}

/// The name of each connection in the rows: `program_name` where it was sent, else the driver's
/// `_client_name`; empty values name nothing.
fn names(rows: &[(u64, String, String)]) -> HashMap<u64, &str> {
    let mut by_id: HashMap<u64, (Option<&str>, Option<&str>)> = HashMap::new();
    for (id, name, value) in rows {
        let e = by_id.entry(*id).or_default();
        match name.as_str() {
            "program_name" if !value.is_empty() => e.0 = Some(value),
            "_client_name" if !value.is_empty() => e.1 = Some(value),
            _ => {}
        }
    }
    by_id
        .into_iter()
        .filter_map(|(id, (program, client))| Some((id, program.or(client)?)))
        .collect()
}

/// Two estimates of the server's start time (our clock minus `Uptime`) this close belong to the
/// same run of the server: `Uptime` is whole seconds and the round trip adds a little, so two
/// readings of one run differ by about a second at most.
pub const SAME_START_MS: u64 = 2_000;

/// The program name of every connection seen, by connection id, for one run of the server: a
/// connection's attributes are sent once, at connect, so an id read once needs no second read.
/// The key is (server start time, connection id): a restart starts the ids over, so a new start
/// time forgets every name. Ids no longer connected are forgotten at each sample, so the cache
/// never holds more than the sessions of one processlist.
#[derive(Debug, Clone, Default)]
pub struct ProgramCache {
    /// When the server the ids belong to started (unix milliseconds, our clock), and its
    /// `Uptime` at the last sample.
    run: Option<(u64, u64)>,
    /// None: the connection sent no name.
    names: HashMap<u64, Option<String>>,
}

impl ProgramCache {
    /// Begin a sample taken at `now_ms` of a server up for `uptime_s`. Another run of the server
    /// than the cached one, whose connection ids may repeat the old ones, forgets every name: a
    /// start time (now − `Uptime`) more than [`SAME_START_MS`] away, or an `Uptime` that went
    /// back (a restart within a second or two of the last one). Returns whether it did.
    pub fn server_started(&mut self, now_ms: u64, uptime_s: u64) -> bool {
        let started_ms = now_ms.saturating_sub(uptime_s.saturating_mul(1000));
        let other = self.run.is_some_and(|(start, uptime)| {
            start.abs_diff(started_ms) > SAME_START_MS || uptime_s < uptime
        });
        if other {
            self.names.clear();
        }
        // Follow the estimate, so that a slow drift of either clock never adds up to a restart.
        self.run = Some((started_ms, uptime_s));
        other
    }

    /// Forget every connection not in `present`.
    pub fn keep_only(&mut self, present: &HashSet<u64>) {
        self.names.retain(|id, _| present.contains(id));
    }

    /// The ids of `ids` never read, in the order given.
    pub fn unknown(&self, ids: impl IntoIterator<Item = u64>) -> Vec<u64> {
        ids.into_iter()
            .filter(|id| !self.names.contains_key(id))
            .collect()
    }

    /// Store the attributes read for `asked` ([`sql_for`]'s rows): an id without a row sent no
    /// name and is not asked for again.
    pub fn fill(&mut self, asked: &[u64], rows: &[(u64, String, String)]) {
        let names = names(rows);
        for id in asked {
            self.names
                .insert(*id, names.get(id).map(|n| (*n).to_string()));
        }
    }

    /// The program name of connection `id`, when it was read and sent one.
    pub fn program(&self, id: u64) -> Option<&str> {
        self.names.get(&id)?.as_deref()
    }
}

/// The rows of [`sql`] as (id, name, value).
pub fn rows<R: std::borrow::Borrow<Row>>(
    rows: impl IntoIterator<Item = R>,
) -> Vec<(u64, String, String)> {
    rows.into_iter()
        .filter_map(|r| {
            let r = r.borrow();
            Some((num(r, 0)?, text(r, 1)?, text(r, 2).unwrap_or_default()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(id: u64) -> Session {
        Session {
            id,
            ..Session::default()
        }
    }

    #[test]
    fn program_name_before_client_name() {
        let mut sessions = vec![s(1), s(2), s(3)];
        apply(
            &mut sessions,
            &[
                (1, "_client_name".into(), "libmysql".into()),
                (1, "program_name".into(), "billing-worker".into()),
                (2, "_client_name".into(), "mysql-connector-java".into()),
                (9, "program_name".into(), "gone".into()),
            ],
        );
        assert_eq!(sessions[0].program.as_deref(), Some("billing-worker"));
        assert_eq!(sessions[1].program.as_deref(), Some("mysql-connector-java"));
        assert_eq!(sessions[2].program, None);
    }

    #[test]
    fn empty_values_do_not_name() {
        let mut sessions = vec![s(1)];
        apply(
            &mut sessions,
            &[
                (1, "program_name".into(), String::new()),
                (1, "_client_name".into(), "libmariadb".into()),
            ],
        );
        assert_eq!(sessions[0].program.as_deref(), Some("libmariadb"));
    }

    #[test]
    fn no_processlist_read_joins_the_attributes() {
        // MySQL 8.0.22+: performance_schema.processlist is readable by every account, but a join
        // to session_connect_attrs made the whole read fail with ERROR 1142 for an account
        // without SELECT on performance_schema (audit defect 1).
        use crate::snapshot::flavor::{Flavor, ProcesslistSource};
        for flavor in [
            Flavor::Mysql,
            Flavor::Percona,
            Flavor::Aurora,
            Flavor::Mariadb,
        ] {
            for source in [
                ProcesslistSource::PerformanceSchema,
                ProcesslistSource::InformationSchema,
            ] {
                let q = crate::snapshot::sql::processlist_sql(flavor, source);
                assert!(!q.contains("session_connect_attrs"), "{q}");
                assert!(!q.to_ascii_uppercase().contains("JOIN"), "{q}");
            }
        }
    }

    #[test]
    fn the_statement_is_bounded_and_joins_nothing() {
        let q = sql();
        assert!(q.contains("LIMIT 20000"));
        assert!(!q.to_ascii_uppercase().contains("JOIN"));
        let ids: Vec<u64> = (1..=5000).collect();
        let q = sql_for(&ids);
        assert!(q.contains("PROCESSLIST_ID IN (1,2,3,"), "{q}");
        assert!(q.contains(",1000) LIMIT 2000"), "{q}");
        assert!(!q.contains(",1001"));
        assert!(!q.to_ascii_uppercase().contains("JOIN"));
    }

    fn attrs(id: u64, name: &str, value: &str) -> (u64, String, String) {
        (id, name.into(), value.into())
    }

    #[test]
    fn the_cache_reads_each_connection_once_and_forgets_the_gone() {
        let mut c = ProgramCache::default();
        assert!(!c.server_started(1_100_000, 100));
        assert_eq!(c.unknown([1, 2, 3]), vec![1, 2, 3]);
        // 3 sent no name: cached as such, never asked for again.
        c.fill(
            &[1, 2, 3],
            &[
                attrs(1, "program_name", "api"),
                attrs(2, "_client_name", "libmariadb"),
                attrs(3, "program_name", ""),
            ],
        );
        assert_eq!(c.program(1), Some("api"));
        assert_eq!(c.program(2), Some("libmariadb"));
        assert_eq!(c.program(3), None);
        assert!(c.unknown([1, 2, 3, 4]) == vec![4]);
        // The same run read 1.9 s later (Uptime is whole seconds): nothing forgotten.
        assert!(!c.server_started(1_101_900, 101));
        assert_eq!(c.program(1), Some("api"));
        c.keep_only(&[2, 3].into_iter().collect());
        assert_eq!((c.program(1), c.names.len()), (None, 2));
        assert_eq!(c.unknown([1, 2]), vec![1]);
    }

    #[test]
    fn a_restart_forgets_every_name_because_ids_start_over() {
        let mut c = ProgramCache::default();
        c.server_started(1_000_000, 0);
        c.fill(&[7], &[attrs(7, "program_name", "old-app")]);
        // The server restarted a minute later: connection 7 is another client now.
        assert!(c.server_started(1_061_000, 1));
        assert_eq!(c.program(7), None);
        assert_eq!(c.unknown([7]), vec![7]);
        c.fill(&[7], &[attrs(7, "program_name", "new-app")]);
        assert_eq!(c.program(7), Some("new-app"));
        // A clock that drifts a little each sample never looks like a restart.
        for i in 1..100u64 {
            assert!(!c.server_started(1_061_000 + i * 1_010, 1 + i));
        }
        assert_eq!(c.program(7), Some("new-app"));
        // A server restarted within a second of its start: the start time barely moved, but
        // Uptime went back.
        let mut c = ProgramCache::default();
        c.server_started(1_000_000, 1);
        c.fill(&[7], &[attrs(7, "program_name", "old-app")]);
        assert!(c.server_started(1_000_900, 0));
        assert_eq!(c.program(7), None);
    }
}
