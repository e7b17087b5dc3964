//! What connections cost in memory in the worst case: the estimate behind `memory-headroom`,
//! `max-connections-low` and `set-max-connections`, next to the measured cost of
//! [`super::connection_cost`].
//!
//! Worst case per connection follows MySQLTuner's well-known formula (read_buffer_size +
//! read_rnd_buffer_size + sort_buffer_size + join_buffer_size + thread_stack +
//! max_allowed_packet), global buffers are the shared caches. It is a theoretical maximum: real
//! sessions rarely allocate every buffer at once. The baseline is what even an idle connection
//! holds (thread stack, network buffer, binlog cache). Pure.

use serde::Serialize;

use crate::snapshot::Snapshot;

/// Per-connection buffers (allocated on demand, at most once per session for most of them).
pub const PER_CONNECTION: &[&str] = &[
    "read_buffer_size",
    "read_rnd_buffer_size",
    "sort_buffer_size",
    "join_buffer_size",
    "thread_stack",
    "max_allowed_packet",
];

/// Buffers allocated once for the whole server.
pub const GLOBAL: &[&str] = &[
    "innodb_buffer_pool_size",
    "key_buffer_size",
    "innodb_log_buffer_size",
    "query_cache_size",
    "aria_pagecache_buffer_size",
    "tmp_table_size",
];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryEstimate {
    pub max_connections: u64,
    /// Each per-connection buffer and its size.
    pub per_connection_items: Vec<(String, u64)>,
    pub per_connection_bytes: u64,
    /// What an idle connection holds: thread_stack + 2 x net_buffer_length + binlog_cache_size.
    pub baseline_per_connection_bytes: u64,
    pub global_items: Vec<(String, u64)>,
    pub global_bytes: u64,
    /// global + per_connection x max_connections.
    pub worst_case_bytes: u64,
    pub host_memory_bytes: Option<u64>,
}

/// The estimate for `max_connections` connections (the configured value, or a proposed one).
pub fn estimate(snap: &Snapshot, max_connections: u64, host_memory: Option<u64>) -> MemoryEstimate {
    let items = |names: &[&str]| -> Vec<(String, u64)> {
        names
            .iter()
            .filter_map(|n| snap.var_u64(n).map(|v| (n.to_string(), v)))
            .collect()
    };
    let per_connection_items = items(PER_CONNECTION);
    let global_items = items(GLOBAL);
    // Saturating: a hand-edited snapshot (or a server with absurd settings) must not overflow.
    let total = |items: &[(String, u64)]| items.iter().fold(0u64, |t, (_, v)| t.saturating_add(*v));
    let per_connection_bytes = total(&per_connection_items);
    let global_bytes = total(&global_items);
    let baseline_per_connection_bytes = snap
        .var_u64("thread_stack")
        .unwrap_or(262_144)
        .saturating_add(
            snap.var_u64("net_buffer_length")
                .unwrap_or(16_384)
                .saturating_mul(2),
        )
        .saturating_add(snap.var_u64("binlog_cache_size").unwrap_or(32_768));
    MemoryEstimate {
        max_connections,
        per_connection_items,
        per_connection_bytes,
        baseline_per_connection_bytes,
        global_items,
        global_bytes,
        worst_case_bytes: global_bytes
            .saturating_add(per_connection_bytes.saturating_mul(max_connections)),
        host_memory_bytes: host_memory.or(snap.host_memory_bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures;

    #[test]
    fn mariadb_defaults() {
        let s = fixtures::mariadb();
        let e = estimate(&s, 151, None);
        // 131072 + 262144 + 2097152 + 262144 + 299008 + 16777216
        assert_eq!(e.per_connection_bytes, 19_828_736);
        assert_eq!(
            e.global_bytes,
            134_217_728 + 134_217_728 + 16_777_216 + 1_048_576 + 134_217_728 + 16_777_216
        );
        assert_eq!(
            e.worst_case_bytes,
            e.global_bytes + 151 * e.per_connection_bytes
        );
        assert_eq!(e.baseline_per_connection_bytes, 299_008 + 32_768 + 32_768);
    }
}
