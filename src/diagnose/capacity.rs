//! File-descriptor capacity: how many connections the open-files limit holds, shared by the
//! `max-connections-capped` and `max-connections-low` heuristics and the `set-max-connections`
//! plan (see `max_connections_capped` for the manual's formula).

use crate::snapshot::Snapshot;
use crate::snapshot::dialect::DescriptorCap;

/// The smallest table cache MySQL shrinks table_open_cache to before it lowers max_connections.
pub const TABLE_OPEN_CACHE_MIN: u64 = 400;
/// What MySQL keeps for itself and a minimal table cache: 10 + 2 × TABLE_OPEN_CACHE_MIN = 810.
pub const MYSQL_RESERVED_FDS: u64 = 10 + 2 * TABLE_OPEN_CACHE_MIN;
/// max_connections when MySQL capped it to a 1024-descriptor limit (1024 - 810).
pub const CLASSIC_CAP: u64 = 214;
/// The descriptor limit we suggest: the usual LimitNOFILE of distribution packages.
pub const SUGGESTED_FDS: u64 = 65_535;

/// Descriptors needed for `max_connections`: 10 + max_connections + 2 × table_open_cache.
pub fn needed(snap: &Snapshot, max_connections: u64) -> u64 {
    let cache = snap.var_u64("table_open_cache").unwrap_or(2000);
    10u64
        .saturating_add(max_connections)
        .saturating_add(cache.saturating_mul(2))
}

/// The largest max_connections this server's open-files limit can hold: open_files_limit - 810
/// on MySQL (what it would keep at startup), open_files_limit - 10 - 2 × table_open_cache on
/// MariaDB. None when the limit is unknown.
pub fn fd_capacity(snap: &Snapshot) -> Option<u64> {
    let limit = snap.var_u64("open_files_limit").filter(|l| *l > 0)?;
    Some(
        if snap.dialect().descriptor_cap() == DescriptorCap::TableCacheReserved {
            limit.saturating_sub(needed(snap, 0))
        } else {
            limit.saturating_sub(MYSQL_RESERVED_FDS)
        },
    )
}

/// Connections the open-files limit holds with the files open now: open_files_limit − 10 − the
/// descriptors tables use at the moment, never fewer than the connections already in. None when
/// the limit or the open-file counters are unknown.
pub fn fd_capacity_now(snap: &Snapshot) -> Option<u64> {
    let limit = snap.var_u64("open_files_limit").filter(|l| *l > 0)?;
    let files = snap.status_now_u64("open_files");
    let tables = snap
        .status_now_u64("open_tables")
        .map(|t| t.saturating_mul(2));
    let in_use = files.max(tables)?;
    Some(
        limit
            .saturating_sub(10)
            .saturating_sub(in_use)
            .max(snap.threads_connected()),
    )
}
