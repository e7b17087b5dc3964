//! `performance_schema.host_cache`: which client hosts the server counts connection errors
//! against, and which it blocks (ERROR 1129) once `SUM_CONNECT_ERRORS` reaches
//! `max_connect_errors` (docs/refusals.md "ERROR 1129").
//!
//! The table is empty with performance_schema OFF (it is not perpetual) and holds only TCP
//! clients that are not loopback: socket and 127.0.0.1 clients never enter the host cache. Only
//! the rows with an error are read, at most [`MAX_HOST_ROWS`] (`host_cache_size` bounds the
//! table; a hostile server must not cost unbounded memory). Read once with the snapshot and again
//! with the second status reading, so that the refusals *during* the sample are a difference.

use mysql::Row;

use super::model::HostCacheEntry;
use super::row::{num, text};

/// At most this many rows are read (MySQL's and MariaDB's largest `host_cache_size` is 65536;
/// a blocked host is among the rows with the most errors, read first).
pub const MAX_HOST_ROWS: usize = 1_000;

/// The statement that reads the hosts with connection errors, the most errors first.
pub fn sql() -> String {
    format!(
        "SELECT IP, HOST, SUM_CONNECT_ERRORS, COUNT_HOST_BLOCKED_ERRORS, COUNT_HANDSHAKE_ERRORS \
         FROM performance_schema.host_cache \
         WHERE SUM_CONNECT_ERRORS > 0 OR COUNT_HOST_BLOCKED_ERRORS > 0 \
         ORDER BY SUM_CONNECT_ERRORS DESC LIMIT {MAX_HOST_ROWS}"
    )
}

/// The counter name under which a recorder sample keeps [`blocked_sum_sql`]'s value.
pub const BLOCKED_COUNTER: &str = "host_blocked_errors";

/// ERROR 1129 refusals since the host cache was last emptied, summed over its hosts: one cheap
/// row for every sample of the recorder.
pub fn blocked_sum_sql() -> &'static str {
    "SELECT COALESCE(SUM(COUNT_HOST_BLOCKED_ERRORS), 0) FROM performance_schema.host_cache"
}

/// The rows of [`sql`]. Hostile input: nothing here panics.
pub fn rows(rows: &[Row]) -> Vec<HostCacheEntry> {
    rows.iter()
        .map(|r| HostCacheEntry {
            ip: text(r, 0).unwrap_or_default(),
            host: text(r, 1),
            sum_connect_errors: num(r, 2).unwrap_or(0),
            count_host_blocked_errors: num(r, 3).unwrap_or(0),
            count_handshake_errors: num(r, 4).unwrap_or(0),
        })
        .collect()
}

/// The note left when the table could not be read.
pub fn note(message: &str) -> String {
    format!(
        "host cache not read (blocked hosts, ERROR 1129, unknown; needs SELECT on performance_schema): {message}"
    )
}
