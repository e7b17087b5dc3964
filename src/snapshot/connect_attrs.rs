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

use std::collections::HashMap;

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

/// The note left when the attributes could not be read.
pub fn note(message: &str) -> String {
    format!(
        "client programs not named (needs SELECT on performance_schema.session_connect_attrs): {message}"
    )
}

/// Fill `Session::program` from the rows: `program_name` where the client sent one, else the
/// driver's `_client_name`. Sessions already named keep their name.
pub fn apply(sessions: &mut [Session], rows: &[(u64, String, String)]) {
    let mut by_id: HashMap<u64, (Option<&str>, Option<&str>)> = HashMap::new();
    for (id, name, value) in rows {
        let e = by_id.entry(*id).or_default();
        match name.as_str() {
            "program_name" if !value.is_empty() => e.0 = Some(value),
            "_client_name" if !value.is_empty() => e.1 = Some(value),
            _ => {}
        }
    }
    for s in sessions.iter_mut().filter(|s| s.program.is_none()) {
        if let Some((program, client)) = by_id.get(&s.id) {
            s.program = program.or(*client).map(str::to_string);
        }
    }
}

/// The rows of [`sql`] as (id, name, value).
pub fn rows(rows: &[Row]) -> Vec<(u64, String, String)> {
    rows.iter()
        .filter_map(|r| Some((num(r, 0)?, text(r, 1)?, text(r, 2).unwrap_or_default())))
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
    }
}
