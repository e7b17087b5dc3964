//! The statements the reader sends, in one place: round trip 1 (identity, grants, variables,
//! status), the processlist per flavor, open transactions, the lock tables, the trend reading.
//! The reads of one concern with their own parsing keep their statement beside it
//! (`connect_attrs`, `thread_memory`, `mdl`, `accounts`); `plan` puts them all in order.
//! Pure: builds text, sends nothing.

use super::flavor::{self, Flavor, ProcesslistSource};

/// Our own connection id and the account the server matched (round trip 1).
pub const IDENTITY_SQL: &str = "SELECT CONNECTION_ID(), CURRENT_USER()";

/// What our account may do (parsed by `grants`).
pub const GRANTS_SQL: &str = "SHOW GRANTS";

/// MariaDB's processlist at scale (see `read::SHOW_PROCESSLIST_FROM`): whole-second times, no
/// QUERY_ID, then MariaDB's Progress column.
pub const SHOW_PROCESSLIST_SQL: &str = "SHOW FULL PROCESSLIST";

/// Global variables kept in the snapshot.
pub const VARIABLES: &[&str] = &[
    "version",
    "version_comment",
    "basedir",
    "aurora_version",
    "hostname",
    "performance_schema",
    "pid_file",
    "max_connections",
    "max_user_connections",
    "extra_max_connections",
    "wait_timeout",
    "interactive_timeout",
    "thread_cache_size",
    "thread_handling",
    "thread_pool_size",
    "open_files_limit",
    "table_open_cache",
    "table_definition_cache",
    "back_log",
    "admin_address",
    "admin_port",
    "extra_port",
    "slow_query_log",
    "long_query_time",
    "sort_buffer_size",
    "join_buffer_size",
    "read_buffer_size",
    "read_rnd_buffer_size",
    "thread_stack",
    "binlog_cache_size",
    "net_buffer_length",
    "max_allowed_packet",
    "tmp_table_size",
    "max_heap_table_size",
    "innodb_buffer_pool_size",
    "key_buffer_size",
    "innodb_log_buffer_size",
    "query_cache_size",
    "aria_pagecache_buffer_size",
    "lock_wait_timeout",
    "innodb_lock_wait_timeout",
    "idle_transaction_timeout",
    "max_execution_time",
    "max_statement_time",
    "read_only",
    "log_bin",
    "skip_name_resolve",
    // Refusals (docs/refusals.md): ERROR 1129 after max_connect_errors in a host cache of
    // host_cache_size; connect_timeout bounds a login handshake.
    "max_connect_errors",
    "host_cache_size",
    "connect_timeout",
    "log_warnings",
    "log_error_verbosity",
];

/// Global status values kept in the snapshot.
pub const STATUS: &[&str] = &[
    "uptime",
    "threads_connected",
    "threads_running",
    "threads_created",
    "threads_cached",
    "connections",
    "max_used_connections",
    "max_used_connections_time",
    "connection_errors_max_connections",
    "connection_errors_internal",
    "connection_errors_accept",
    "connection_errors_peer_address",
    "connection_errors_select",
    "connection_errors_tcpwrap",
    "com_kill",
    "aborted_connects",
    "aborted_clients",
    "aborted_connects_preauth",
    "access_denied_errors",
    "innodb_row_lock_current_waits",
    "innodb_row_lock_waits",
    "questions",
    "slow_queries",
    "memory_used",
    "global_connection_memory",
    "threadpool_threads",
    "threadpool_idle_threads",
    "max_statement_time_exceeded",
    "locked_connects",
    "open_files",
    "open_tables",
];

/// `'a','b'`: names for an `IN (…)` list (our own constants, never server text).
pub fn in_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The global variables of [`VARIABLES`].
pub fn variables_sql() -> String {
    format!(
        "SHOW GLOBAL VARIABLES WHERE Variable_name IN ({})",
        in_list(VARIABLES)
    )
}

/// The global status values of [`STATUS`].
pub fn status_sql() -> String {
    format!(
        "SHOW GLOBAL STATUS WHERE Variable_name IN ({})",
        in_list(STATUS)
    )
}

/// The trend reading during a sample (any flavor).
pub const THREADS_CONNECTED_SQL: &str = "SHOW GLOBAL STATUS LIKE 'Threads_connected'";

/// The processlist query for this flavor. Columns, in order: id, user, host, db, command, time,
/// state, info, time_ms, query_id, program.
pub fn processlist_sql(flavor: Flavor, source: ProcesslistSource) -> String {
    match (flavor, source) {
        (Flavor::Mariadb, _) => {
            "SELECT ID, USER, HOST, DB, COMMAND, TIME, STATE, INFO, TIME_MS, QUERY_ID, NULL, \
             MEMORY_USED FROM information_schema.PROCESSLIST"
                .to_string()
        }
        // Readable by every account (PFS_readonly_processlist_acl); the connection attributes
        // need SELECT on performance_schema and are read apart (`connect_attrs`).
        (_, ProcesslistSource::PerformanceSchema) => {
            "SELECT ID, USER, HOST, DB, COMMAND, TIME, STATE, INFO, NULL, NULL, NULL \
             FROM performance_schema.processlist"
                .to_string()
        }
        (_, ProcesslistSource::InformationSchema) => {
            "SELECT ID, USER, HOST, DB, COMMAND, TIME, STATE, INFO, NULL, NULL, NULL \
             FROM information_schema.PROCESSLIST"
                .to_string()
        }
    }
}

/// Accounts holding SYSTEM_USER (MySQL 8.0.16+ dynamic privilege, stored in
/// mysql.global_grants): user names only, bounded.
pub const SYSTEM_USERS_SQL: &str = "SELECT DISTINCT USER FROM mysql.global_grants \
     WHERE PRIV = 'SYSTEM_USER' LIMIT 10000";

/// Open transactions: id, session, state, age, wait, rows modified, rows locked, query, the
/// id of the lock it waits for (used by the reader only), and whether it is an autocommit
/// SELECT's own (`trx_autocommit_non_locking`, MySQL 8 and MariaDB alike).
pub const TRX_SQL: &str = "SELECT trx_id, trx_mysql_thread_id, trx_state, \
     GREATEST(0, TIMESTAMPDIFF(SECOND, trx_started, NOW())), \
     IF(trx_wait_started IS NULL, NULL, GREATEST(0, TIMESTAMPDIFF(SECOND, trx_wait_started, NOW()))), \
     trx_rows_modified, trx_rows_locked, trx_query, trx_requested_lock_id, \
     trx_autocommit_non_locking \
     FROM information_schema.INNODB_TRX";

/// The transactions rolling back, read again with the second status reading: id, session and
/// the rows still to undo (`trx_rows_modified` falls as the rollback goes on).
pub const ROLLING_BACK_SQL: &str = "SELECT trx_id, trx_mysql_thread_id, trx_rows_modified \
     FROM information_schema.INNODB_TRX WHERE trx_state = 'ROLLING BACK'";

/// How the note starts when [`ROLLING_BACK_SQL`] failed: the rollbacks were read once only.
pub const ROLLBACKS_NOT_READ_AGAIN: &str = "rollbacks in progress not read again";

/// At most this many rows are read from each lock table: MySQL 8's `data_lock_waits` lists one
/// row per conflicting lock ahead of each waiter (the holder and every earlier waiter: 14 waiters
/// behind one holder give 105 rows, 2,000 give 2,001,000), so the rows grow with the square of a
/// queue. Beyond the bound the waits are cut and a note says so; the waiters themselves are
/// still known from INNODB_TRX (`LOCK WAIT`).
pub const MAX_LOCK_ROWS: usize = 20_000;

/// What a lock-table query reads (see [`lock_wait_sql`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockRead {
    /// Raw row-lock wait pairs: requesting trx id, blocking trx id, requested lock id. Mapped to
    /// sessions through the transactions read in the same batch.
    RowWaits,
    /// Lock id and table (`schema.table`) of the locks being waited for.
    LockTables,
    /// Metadata-lock waits, already as sessions: waiting id, blocking id, object, wait seconds.
    Metadata,
}

/// The lock-table queries of a flavor, each with what it reads. Each reads one table without
/// joins (plus MySQL's metadata-lock query, over performance_schema's indexed tables), bounded by
/// [`MAX_LOCK_ROWS`] (one more row is asked for, to know when rows were cut): the joins with
/// INNODB_TRX happen here, client side, because MariaDB evaluates the server-side join of its
/// information_schema lock tables in time that grows with the square of the waiters (a
/// 450-waiter pile-up passed the 10 s statement guard).
pub fn lock_wait_sql(flavor: Flavor, version: (u16, u16, u16)) -> Vec<(LockRead, String)> {
    let limit = MAX_LOCK_ROWS + 1;
    if flavor::has_data_lock_waits(flavor, version) {
        vec![
            // InnoDB row locks (MySQL 8: performance_schema.data_lock_waits).
            (
                LockRead::RowWaits,
                format!(
                    "SELECT REQUESTING_ENGINE_TRANSACTION_ID, BLOCKING_ENGINE_TRANSACTION_ID, \
                     REQUESTING_ENGINE_LOCK_ID FROM performance_schema.data_lock_waits LIMIT {limit}"
                ),
            ),
            (
                LockRead::LockTables,
                format!(
                    "SELECT ENGINE_LOCK_ID, CONCAT(OBJECT_SCHEMA, '.', OBJECT_NAME) \
                     FROM performance_schema.data_locks WHERE LOCK_STATUS = 'WAITING' LIMIT {limit}"
                ),
            ),
            // Metadata locks: a PENDING request against a GRANTED lock on the same object held by
            // another thread; thread ids mapped to processlist ids through threads. Table and
            // user locks: every other holder. The global read lock, its commit lock and the
            // backup lock: a writer (INTENTION_EXCLUSIVE) waits only for a SHARED holder
            // (FLUSH TABLES WITH READ LOCK, LOCK INSTANCE FOR BACKUP), and FTWRL (SHARED) only
            // for the writers; writers never block each other (docs/wait-states.md).
            (
                LockRead::Metadata,
                format!(
                    "SELECT wt.PROCESSLIST_ID, bt.PROCESSLIST_ID, \
                     CONCAT_WS('.', w.OBJECT_SCHEMA, w.OBJECT_NAME), wt.PROCESSLIST_TIME, \
                     w.OBJECT_TYPE \
                     FROM performance_schema.metadata_locks w \
                     JOIN performance_schema.metadata_locks b ON b.OBJECT_TYPE = w.OBJECT_TYPE \
                     AND b.OBJECT_SCHEMA <=> w.OBJECT_SCHEMA AND b.OBJECT_NAME <=> w.OBJECT_NAME \
                     AND b.LOCK_STATUS = 'GRANTED' AND b.OWNER_THREAD_ID <> w.OWNER_THREAD_ID \
                     JOIN performance_schema.threads wt ON wt.THREAD_ID = w.OWNER_THREAD_ID \
                     JOIN performance_schema.threads bt ON bt.THREAD_ID = b.OWNER_THREAD_ID \
                     WHERE w.LOCK_STATUS = 'PENDING' \
                     AND (w.OBJECT_TYPE IN ('TABLE', 'USER LEVEL LOCK') \
                     OR (w.OBJECT_TYPE IN ('GLOBAL', 'COMMIT', 'BACKUP LOCK') \
                     AND (w.LOCK_TYPE = 'SHARED') <> (b.LOCK_TYPE = 'SHARED'))) \
                     AND bt.PROCESSLIST_ID IS NOT NULL LIMIT {limit}"
                ),
            ),
        ]
    } else {
        // MariaDB and MySQL 5.7: INNODB_LOCK_WAITS. Metadata locks come from thread states.
        vec![
            (
                LockRead::RowWaits,
                format!(
                    "SELECT requesting_trx_id, blocking_trx_id, requested_lock_id \
                     FROM information_schema.INNODB_LOCK_WAITS LIMIT {limit}"
                ),
            ),
            (
                LockRead::LockTables,
                format!(
                    "SELECT lock_id, lock_table FROM information_schema.INNODB_LOCKS LIMIT {limit}"
                ),
            ),
        ]
    }
}
