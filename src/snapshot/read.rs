//! Reading a [`Snapshot`] from a live server, in as few round trips as possible.
//!
//! Round trip 1 (any flavor): our id and account, grants, the variables and status we use.
//! Round trip 2 (flavor-specific, chosen from round trip 1): session guards, the processlist,
//! open transactions and lock waits. Round trip 3 only with `--sample`: global status again.
//! No per-session queries: the cost stays flat as the processlist grows. This is the only module
//! that reads the server; the remedies that execute a confirmed plan are the only others that
//! send SQL.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mysql::{Row, Value};

use crate::connect::Connection;
use crate::exit::AppError;

use super::flavor::{self, Flavor, Identity, ProcesslistSource};
use super::grants::parse_grants;
use super::model::*;

/// Global variables kept in the snapshot.
pub const VARIABLES: &[&str] = &[
    "version",
    "version_comment",
    "basedir",
    "aurora_version",
    "hostname",
    "performance_schema",
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

fn in_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(",")
}

pub fn status_sql() -> String {
    format!(
        "SHOW GLOBAL STATUS WHERE Variable_name IN ({})",
        in_list(STATUS)
    )
}

/// How to read the server.
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    /// Read global status a second time this much later (zero: once).
    pub sample: Duration,
    /// Read INNODB_TRX and the lock tables (diagnose); `status` does not need them.
    pub transactions: bool,
    /// Server RAM given on the command line.
    pub server_memory: Option<u64>,
    /// The server is on this machine (read /proc/meminfo when no RAM is given).
    pub local: bool,
}

/// Read a full snapshot over an open connection.
pub fn read(c: &mut Connection, opts: ReadOptions) -> Result<Snapshot, AppError> {
    let taken_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());

    // Round trip 1: flavor-independent.
    let first = c.batch(
        &[
            "SELECT CONNECTION_ID(), CURRENT_USER()".to_string(),
            "SHOW GRANTS".to_string(),
            format!(
                "SHOW GLOBAL VARIABLES WHERE Variable_name IN ({})",
                in_list(VARIABLES)
            ),
            status_sql(),
        ],
        "reading server variables",
    );
    let mut first = first.into_iter();
    let who = first.next().expect("4 results")?;
    let grants = first.next().expect("4 results")?;
    let variables = name_values(&first.next().expect("4 results")?);
    let status = name_values(&first.next().expect("4 results")?);
    let status_read_at = Instant::now();

    let (connection_id, user) = who
        .first()
        .map(|r| (num(r, 0).unwrap_or(0), text(r, 1).unwrap_or_default()))
        .unwrap_or_default();
    let grant_lines: Vec<String> = grants.iter().filter_map(|r| text(r, 0)).collect();
    let privileges = parse_grants(&grant_lines);

    let server = server_info(&variables, &status);
    let mut notes = Vec::new();

    // Round trip 2: flavor-specific.
    let see_all = privileges.process || privileges.super_;
    let mut stmts: Vec<String> = flavor::session_guards(
        server.flavor,
        server.version_number,
        c.query_timeout.as_secs(),
    );
    let guards = stmts.len();
    stmts.push(processlist_sql(server.flavor, server.processlist_source));
    let want_trx = opts.transactions && see_all;
    if want_trx {
        stmts.push(TRX_SQL.to_string());
        stmts.extend(
            lock_wait_sql(server.flavor, server.version_number)
                .into_iter()
                .map(|(_, sql)| sql),
        );
    }
    let mut results = c.batch(&stmts, "reading the processlist").into_iter();
    for _ in 0..guards {
        // A guard the server does not know (old versions) only costs us the guard.
        if let Some(Err(e)) = results.next() {
            notes.push(format!("session guard not set: {}", e.message));
        }
    }
    let sessions: Vec<Session> = results
        .next()
        .expect("processlist result")?
        .iter()
        .map(session_from_row)
        .filter(|s| s.id != connection_id)
        .collect();
    let mut transactions = Vec::new();
    let mut lock_reads: Vec<(LockRead, Vec<Row>)> = Vec::new();
    if want_trx {
        match results.next().expect("trx result") {
            Ok(rows) => {
                transactions = rows
                    .iter()
                    .map(trx_from_row)
                    .filter(|t| t.session_id != connection_id)
                    .collect()
            }
            Err(e) => notes.push(format!("open transactions not read: {}", e.message)),
        }
        let reads = lock_wait_sql(server.flavor, server.version_number);
        for ((what, _), r) in reads.into_iter().zip(results) {
            match r {
                Ok(rows) => lock_reads.push((what, rows)),
                Err(e) => notes.push(format!("lock waits not read: {}", e.message)),
            }
        }
    }
    // Waits the processlist states show are not stored: they are derived when judging
    // (`snapshot::locks::waits_from_states`), so a saved snapshot holds only what was read.
    let mut lock_waits = lock_waits_from(&lock_reads, &transactions, &mut notes);
    lock_waits.retain(|w| w.waiting_id != connection_id);

    // Round trip 3: the second status reading.
    let (status_after, sample_s) = if opts.sample.is_zero() {
        (None, 0.0)
    } else {
        let elapsed = status_read_at.elapsed();
        if elapsed < opts.sample {
            std::thread::sleep(opts.sample - elapsed);
        }
        let rows = c.rows(&status_sql(), "reading global status")?;
        (
            Some(name_values(&rows)),
            status_read_at.elapsed().as_secs_f64(),
        )
    };

    let host_memory_bytes = opts
        .server_memory
        .or_else(|| opts.local.then(local_memory).flatten());

    let mut snap = Snapshot {
        schema_version: SNAPSHOT_SCHEMA_VERSION,
        taken_at,
        target: c.target.clone(),
        server,
        access: Access {
            user,
            connection_id,
            privileges,
            route: Route::Normal,
        },
        refused: None,
        variables,
        status,
        status_after,
        sample_s,
        sessions,
        transactions,
        lock_waits,
        host_memory_bytes,
        notes,
    };
    snap.access.route = if c.via_admin_port {
        Route::AdminPort
    } else if snap.status_u64("threads_connected").unwrap_or(0) > snap.max_connections() {
        // More threads than max_connections: we hold the extra slot kept for admins.
        Route::ReservedSlot
    } else {
        Route::Normal
    };
    Ok(snap)
}

/// Only global status (for `watch` and repeated checks).
pub fn read_status(c: &mut Connection) -> Result<BTreeMap<String, String>, AppError> {
    Ok(name_values(
        &c.rows(&status_sql(), "reading global status")?,
    ))
}

/// Global status and the processlist in one round trip (each `watch` refresh). `snap` is the
/// full snapshot read when the connection was opened: it names the flavor and our own id.
pub fn read_live(
    c: &mut Connection,
    snap: &Snapshot,
) -> Result<(BTreeMap<String, String>, Vec<Session>), AppError> {
    let mut results = c
        .batch(
            &[
                status_sql(),
                processlist_sql(snap.server.flavor, snap.server.processlist_source),
            ],
            "reading global status and the processlist",
        )
        .into_iter();
    let status = name_values(&results.next().expect("2 results")?);
    let sessions = results
        .next()
        .expect("2 results")?
        .iter()
        .map(session_from_row)
        .filter(|s| s.id != snap.access.connection_id)
        .collect();
    Ok((status, sessions))
}

/// Only the processlist (for re-checking a kill plan right before executing it).
pub fn read_sessions(c: &mut Connection, snap: &Snapshot) -> Result<Vec<Session>, AppError> {
    let rows = c.rows(
        &processlist_sql(snap.server.flavor, snap.server.processlist_source),
        "re-reading the processlist",
    )?;
    Ok(rows
        .iter()
        .map(session_from_row)
        .filter(|s| s.id != snap.access.connection_id)
        .collect())
}

/// A snapshot for a server that refused us with ERROR 1040: nothing could be read.
pub fn refused(target: &str, err: &AppError, admin_port: Option<u16>) -> Snapshot {
    let taken_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Snapshot {
        schema_version: SNAPSHOT_SCHEMA_VERSION,
        taken_at,
        target: target.to_string(),
        server: ServerInfo::default(),
        access: Access::default(),
        refused: Some(Refusal {
            code: 1040,
            message: err.message.clone(),
            before_greeting: err.message.contains("before the greeting"),
            admin_port_tried: admin_port,
        }),
        variables: BTreeMap::new(),
        status: BTreeMap::new(),
        status_after: None,
        sample_s: 0.0,
        sessions: Vec::new(),
        transactions: Vec::new(),
        lock_waits: Vec::new(),
        host_memory_bytes: None,
        notes: Vec::new(),
    }
}

fn server_info(vars: &BTreeMap<String, String>, status: &BTreeMap<String, String>) -> ServerInfo {
    let get = |k: &str| vars.get(k).map(String::as_str).unwrap_or("");
    let id = Identity {
        version: get("version"),
        version_comment: get("version_comment"),
        basedir: get("basedir"),
        aurora_version: vars.get("aurora_version").map(String::as_str),
        performance_schema: parse_bool(get("performance_schema")).unwrap_or(false),
    };
    let (flavor, rds) = flavor::detect(&id);
    let version_number = flavor::parse_version(id.version);
    ServerInfo {
        flavor,
        version: id.version.to_string(),
        version_comment: id.version_comment.to_string(),
        version_number,
        rds,
        aurora_version: id.aurora_version.map(str::to_string),
        processlist_source: flavor::processlist_source(
            flavor,
            version_number,
            id.performance_schema,
        ),
        uptime_s: status.get("uptime").and_then(|v| parse_num(v)).unwrap_or(0),
    }
}

/// The processlist query for this flavor. Columns, in order: id, user, host, db, command, time,
/// state, info, time_ms, query_id, program.
pub fn processlist_sql(flavor: Flavor, source: ProcesslistSource) -> String {
    match (flavor, source) {
        (Flavor::Mariadb, _) => "SELECT ID, USER, HOST, DB, COMMAND, TIME, STATE, INFO, TIME_MS, QUERY_ID, NULL \
             FROM information_schema.PROCESSLIST"
            .to_string(),
        (_, ProcesslistSource::PerformanceSchema) => "SELECT p.ID, p.USER, p.HOST, p.DB, p.COMMAND, p.TIME, p.STATE, p.INFO, NULL, NULL, a.ATTR_VALUE \
             FROM performance_schema.processlist p \
             LEFT JOIN performance_schema.session_connect_attrs a \
             ON a.PROCESSLIST_ID = p.ID AND a.ATTR_NAME = 'program_name'"
            .to_string(),
        (_, ProcesslistSource::InformationSchema) => {
            "SELECT ID, USER, HOST, DB, COMMAND, TIME, STATE, INFO, NULL, NULL, NULL \
             FROM information_schema.PROCESSLIST"
                .to_string()
        }
    }
}

/// Open transactions: id, session, state, age, wait, rows modified, rows locked, query.
pub const TRX_SQL: &str = "SELECT trx_id, trx_mysql_thread_id, trx_state, \
     GREATEST(0, TIMESTAMPDIFF(SECOND, trx_started, NOW())), \
     IF(trx_wait_started IS NULL, NULL, GREATEST(0, TIMESTAMPDIFF(SECOND, trx_wait_started, NOW()))), \
     trx_rows_modified, trx_rows_locked, trx_query \
     FROM information_schema.INNODB_TRX";

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
            // another thread; thread ids mapped to processlist ids through threads.
            (
                LockRead::Metadata,
                format!(
                    "SELECT wt.PROCESSLIST_ID, bt.PROCESSLIST_ID, \
                     CONCAT(w.OBJECT_SCHEMA, '.', w.OBJECT_NAME), wt.PROCESSLIST_TIME \
                     FROM performance_schema.metadata_locks w \
                     JOIN performance_schema.metadata_locks b ON b.OBJECT_TYPE = w.OBJECT_TYPE \
                     AND b.OBJECT_SCHEMA <=> w.OBJECT_SCHEMA AND b.OBJECT_NAME <=> w.OBJECT_NAME \
                     AND b.LOCK_STATUS = 'GRANTED' AND b.OWNER_THREAD_ID <> w.OWNER_THREAD_ID \
                     JOIN performance_schema.threads wt ON wt.THREAD_ID = w.OWNER_THREAD_ID \
                     JOIN performance_schema.threads bt ON bt.THREAD_ID = b.OWNER_THREAD_ID \
                     WHERE w.LOCK_STATUS = 'PENDING' AND w.OBJECT_TYPE = 'TABLE' \
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

/// The lock waits of the lock-table reads, joined with the open transactions here: a wait pair
/// of transactions becomes waiting session, blocking session, the table of the requested lock
/// and how long the waiter's transaction has waited. A waiter listed once per lock ahead of it
/// gives one wait per distinct holder. Rows beyond [`MAX_LOCK_ROWS`] are dropped with a note.
pub fn lock_waits_from(
    reads: &[(LockRead, Vec<Row>)],
    transactions: &[Transaction],
    notes: &mut Vec<String>,
) -> Vec<LockWait> {
    let mut cut = |what: &str, rows: &[Row]| -> usize {
        if rows.len() > MAX_LOCK_ROWS {
            notes.push(format!(
                "lock waits cut: only the first {MAX_LOCK_ROWS} rows of {what} were read; sessions waiting beyond them show as waiting without their holder"
            ));
        }
        rows.len().min(MAX_LOCK_ROWS)
    };
    let mut tables: HashMap<String, String> = HashMap::new();
    for (what, rows) in reads {
        if *what == LockRead::LockTables {
            let n = cut("the lock list", rows);
            tables.extend(
                rows[..n]
                    .iter()
                    .filter_map(|r| Some((text(r, 0)?, text(r, 1)?))),
            );
        }
    }
    let by_trx: HashMap<&str, &Transaction> = transactions
        .iter()
        .map(|t| (t.trx_id.as_str(), t))
        .collect();
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    let mut out = Vec::new();
    for (what, rows) in reads {
        match what {
            LockRead::LockTables => {}
            LockRead::RowWaits => {
                let n = cut("the row-lock waits", rows);
                for r in &rows[..n] {
                    let trx = |i| text(r, i).and_then(|id| by_trx.get(id.as_str()).copied());
                    let (Some(waiter), Some(blocker)) = (trx(0), trx(1)) else {
                        // A transaction that ended between the reads.
                        continue;
                    };
                    if !seen.insert((waiter.session_id, blocker.session_id)) {
                        continue;
                    }
                    out.push(LockWait {
                        kind: LockKind::Row,
                        waiting_id: waiter.session_id,
                        blocking_id: Some(blocker.session_id),
                        object: text(r, 2)
                            .and_then(|l| tables.get(&l))
                            .map(|o| o.replace('`', "")),
                        wait_s: waiter.wait_s.unwrap_or(0),
                    });
                }
            }
            LockRead::Metadata => {
                let n = cut("the metadata-lock waits", rows);
                out.extend(
                    rows[..n]
                        .iter()
                        .filter_map(|r| lock_wait_from_row(r, LockKind::Metadata)),
                );
            }
        }
    }
    out
}

pub fn session_from_row(r: &Row) -> Session {
    Session {
        id: num(r, 0).unwrap_or(0),
        user: text(r, 1).unwrap_or_default(),
        host: text(r, 2).unwrap_or_default(),
        db: text(r, 3),
        command: text(r, 4).unwrap_or_default(),
        time_s: num(r, 5).unwrap_or(0),
        state: text(r, 6).unwrap_or_default(),
        info: text(r, 7),
        time_ms: text(r, 8)
            .and_then(|t| t.parse::<f64>().ok())
            .map(|f| f.max(0.0) as u64),
        query_id: num(r, 9),
        program: text(r, 10),
    }
}

fn trx_from_row(r: &Row) -> Transaction {
    Transaction {
        trx_id: text(r, 0).unwrap_or_default(),
        session_id: num(r, 1).unwrap_or(0),
        state: text(r, 2).unwrap_or_default(),
        age_s: num(r, 3).unwrap_or(0),
        wait_s: num(r, 4),
        rows_modified: num(r, 5).unwrap_or(0),
        rows_locked: num(r, 6).unwrap_or(0),
        query: text(r, 7),
    }
}

fn lock_wait_from_row(r: &Row, kind: LockKind) -> Option<LockWait> {
    Some(LockWait {
        kind,
        waiting_id: num(r, 0)?,
        blocking_id: num(r, 1),
        object: text(r, 2).map(|o| o.replace('`', "")),
        wait_s: num(r, 3).unwrap_or(0),
    })
}

/// `SHOW VARIABLES`/`SHOW STATUS` rows as a lower-case name -> value map.
fn name_values(rows: &[Row]) -> BTreeMap<String, String> {
    rows.iter()
        .filter_map(|r| {
            Some((
                text(r, 0)?.to_ascii_lowercase(),
                text(r, 1).unwrap_or_default(),
            ))
        })
        .collect()
}

/// A column as text (the text protocol sends everything as bytes).
pub fn text(r: &Row, i: usize) -> Option<String> {
    match r.as_ref(i)? {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Int(n) => Some(n.to_string()),
        Value::UInt(n) => Some(n.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(f) => Some(f.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

/// A column as an unsigned number (negative values clamp to 0).
pub fn num(r: &Row, i: usize) -> Option<u64> {
    match r.as_ref(i)? {
        Value::NULL => None,
        Value::Int(n) => Some((*n).max(0) as u64),
        Value::UInt(n) => Some(*n),
        Value::Bytes(b) => {
            let s = std::str::from_utf8(b).ok()?.trim();
            s.parse::<u64>()
                .ok()
                .or_else(|| s.parse::<i64>().ok().map(|n| n.max(0) as u64))
                .or_else(|| s.parse::<f64>().ok().map(|f| f.max(0.0) as u64))
        }
        Value::Float(f) => Some(f.max(0.0) as u64),
        Value::Double(f) => Some(f.max(0.0) as u64),
        _ => None,
    }
}

/// MemTotal from /proc/meminfo, in bytes.
fn local_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
