//! What each session costs in memory on MySQL 8, from performance_schema.
//!
//! MariaDB has it in the processlist itself (`information_schema.PROCESSLIST.MEMORY_USED`, read
//! with it). MySQL 8.0.31+ keeps it per thread in `performance_schema.threads.TOTAL_MEMORY`
//! ("controlled or not", one row per thread: table_threads.cc); earlier 8.0 releases only in
//! `memory_summary_by_thread_by_event_name` (one row per thread and memory instrument, summed
//! here per thread; CURRENT_NUMBER_OF_BYTES_USED is signed, memory freed by another thread can
//! make it negative). Both need SELECT on performance_schema (CHECK_GRANT in
//! table_threads.cc and table_mems_by_thread_by_event_name.cc) and performance_schema ON, and
//! count only instrumented memory (the `memory/%` instruments, on by default in 8.0), so the
//! read is its own statement, optional, and a refusal leaves a note. Parsing is pure.

use mysql::Row;

use super::flavor::Flavor;
use super::model::Session;
use super::row::text;

/// At most this many rows (one per thread; 10,000 sessions and their background threads fit).
pub const MAX_ROWS: usize = 20_000;

/// Where the per-session figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// MariaDB: a column of the processlist read.
    ProcesslistMemoryUsed,
    /// MySQL 8.0.31+.
    ThreadsTotalMemory,
    /// MySQL 8.0.0–8.0.30.
    MemorySummaryByThread,
}

impl Source {
    /// As reports name it.
    pub fn name(self) -> &'static str {
        match self {
            Source::ProcesslistMemoryUsed => "information_schema.PROCESSLIST.MEMORY_USED",
            Source::ThreadsTotalMemory => "performance_schema.threads.TOTAL_MEMORY",
            Source::MemorySummaryByThread => {
                "performance_schema.memory_summary_by_thread_by_event_name"
            }
        }
    }
}

/// Where the per-session figure comes from on this server; None where conncheck does not read
/// it per session (`Dialect::memory` asks with the server's answers).
pub fn source(
    flavor: Flavor,
    version: (u16, u16, u16),
    performance_schema: bool,
) -> Option<Source> {
    if flavor.is_mariadb() {
        Some(Source::ProcesslistMemoryUsed)
    } else if !performance_schema || version < (8, 0, 0) {
        None
    } else if version >= (8, 0, 31) {
        Some(Source::ThreadsTotalMemory)
    } else {
        Some(Source::MemorySummaryByThread)
    }
}

/// The MySQL statement (processlist id, bytes), or None where the processlist read has it
/// (MariaDB).
pub fn sql(source: Source) -> Option<String> {
    match source {
        Source::ProcesslistMemoryUsed => None,
        Source::ThreadsTotalMemory => Some(format!(
            "SELECT PROCESSLIST_ID, TOTAL_MEMORY FROM performance_schema.threads \
             WHERE PROCESSLIST_ID IS NOT NULL LIMIT {MAX_ROWS}"
        )),
        Source::MemorySummaryByThread => Some(format!(
            "SELECT t.PROCESSLIST_ID, SUM(m.CURRENT_NUMBER_OF_BYTES_USED) \
             FROM performance_schema.memory_summary_by_thread_by_event_name m \
             JOIN performance_schema.threads t ON t.THREAD_ID = m.THREAD_ID \
             WHERE t.PROCESSLIST_ID IS NOT NULL GROUP BY t.PROCESSLIST_ID LIMIT {MAX_ROWS}"
        )),
    }
}

/// The note left when the figures could not be read.
pub fn note(message: &str) -> String {
    format!("memory per connection not measured (needs SELECT on performance_schema): {message}")
}

/// The rows as (processlist id, bytes); a negative sum counts as 0.
pub fn rows<R: std::borrow::Borrow<Row>>(rows: impl IntoIterator<Item = R>) -> Vec<(u64, u64)> {
    rows.into_iter()
        .filter_map(|r| {
            let r = r.borrow();
            let id = text(r, 0)?.parse().ok()?;
            let bytes = text(r, 1)?.parse::<f64>().ok()?;
            Some((id, crate::units::float_to_u64(bytes)))
        })
        .collect()
}

/// Fill `Session::memory_bytes` from the rows.
pub fn apply(sessions: &mut [Session], rows: &[(u64, u64)]) {
    let by_id: std::collections::HashMap<u64, u64> = rows.iter().copied().collect();
    for s in sessions.iter_mut() {
        if let Some(b) = by_id.get(&s.id) {
            s.memory_bytes = Some(*b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mysql(version: (u16, u16, u16), ps: bool) -> Option<Source> {
        source(Flavor::Mysql, version, ps)
    }

    #[test]
    fn the_source_follows_flavor_version_and_performance_schema() {
        let maria = source(Flavor::Mariadb, (10, 11, 6), false);
        assert_eq!(maria, Some(Source::ProcesslistMemoryUsed));
        assert_eq!(
            Source::ProcesslistMemoryUsed.name(),
            "information_schema.PROCESSLIST.MEMORY_USED"
        );
        assert_eq!(maria.and_then(sql), None, "read with the processlist");
        assert_eq!(mysql((8, 0, 36), true), Some(Source::ThreadsTotalMemory));
        assert!(
            mysql((8, 4, 0), true)
                .and_then(sql)
                .unwrap()
                .contains("TOTAL_MEMORY")
        );
        assert!(
            mysql((8, 0, 30), true)
                .and_then(sql)
                .unwrap()
                .contains("SUM(m.CURRENT_NUMBER_OF_BYTES_USED)")
        );
        assert_eq!(mysql((8, 0, 36), false), None);
        assert_eq!(mysql((5, 7, 44), true), None);
    }

    #[test]
    fn figures_fill_the_sessions_they_belong_to() {
        let mut sessions = vec![
            Session {
                id: 5,
                ..Session::default()
            },
            Session {
                id: 6,
                ..Session::default()
            },
        ];
        apply(&mut sessions, &[(5, 120_000), (99, 1)]);
        assert_eq!(sessions[0].memory_bytes, Some(120_000));
        assert_eq!(sessions[1].memory_bytes, None);
    }
}
