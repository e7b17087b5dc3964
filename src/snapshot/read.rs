//! Reading a [`Snapshot`] from a live server, in as few round trips as possible.
//!
//! Round trip 1 (any flavor): our id and account, grants, the variables and status we use.
//! Round trip 2 (flavor-specific, chosen from round trip 1): session guards, the processlist,
//! open transactions and lock waits. Round trip 3 only with `--sample`: global status again.
//! No per-session queries: the cost stays flat as the processlist grows. This is the only module
//! that reads the server; the remedies that execute a confirmed plan are the only others that
//! send SQL.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mysql::{Row, Value};

use crate::connect::Connection;
use crate::exit::AppError;

use super::batch;
use super::connect_attrs;
use super::dialect::Dialect;
use super::flavor::{self, Flavor, Identity, ProcesslistSource};
use super::grants::parse_grants;
use super::mdl;
use super::model::*;

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

fn in_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The trend reading during a sample (any flavor).
const THREADS_CONNECTED_SQL: &str = "SHOW GLOBAL STATUS LIKE 'Threads_connected'";

/// Samples shorter than this read no trend (`diagnose::forecast` fits none under 3 s).
const TREND_FROM: Duration = Duration::from_secs(3);

/// Time between trend readings: about 30 over the sample, between 250 ms and 5 s apart.
fn trend_tick(sample: Duration) -> Duration {
    (sample / 30).clamp(Duration::from_millis(250), Duration::from_secs(5))
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
    /// Read the account rows (mysql.user) for per-account limits: only what is judged or saved
    /// needs them (diagnose, check, snapshot), not kill plans or `sessions`.
    pub accounts: bool,
    /// Server RAM given on the command line.
    pub server_memory: Option<u64>,
    /// The server is on this machine (read /proc/meminfo when no RAM is given).
    pub local: bool,
}

/// From this many connections (Threads_connected), [`read_to_judge`] reads MariaDB's processlist
/// with `SHOW FULL PROCESSLIST`: MariaDB builds information_schema.PROCESSLIST in an on-disk
/// temporary table (it has BLOB columns), which at 5,000 sessions cost 1.45x the plain command
/// (BENCHMARKS.md, "The processlist source"). Below it the difference is a millisecond or two.
pub const SHOW_PROCESSLIST_FROM: u64 = 1_000;

/// Which processlist read a snapshot uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProcesslistRead {
    /// Always the flavor's precise source (MariaDB: TIME_MS, QUERY_ID, MEMORY_USED available).
    Precise,
    /// `SHOW FULL PROCESSLIST` on MariaDB from [`SHOW_PROCESSLIST_FROM`] connections.
    CheapAtScale,
}

/// Read a full snapshot over an open connection, with the precise processlist (TIME_MS and
/// QUERY_ID on MariaDB): for kill plans, `sessions` and saved snapshots.
pub fn read(c: &mut Connection, opts: ReadOptions) -> Result<Snapshot, AppError> {
    read_with(c, opts, ProcesslistRead::Precise, true)
}

/// Read a snapshot to plan a kill: like [`read`] without the global status, which a kill plan
/// does not use and which costs the server a pass over every session (measured ~2 ms at 1,000
/// connections, BENCHMARKS.md "Killing at the floor"): the snapshot's status is empty.
pub fn read_to_kill(c: &mut Connection, opts: ReadOptions) -> Result<Snapshot, AppError> {
    read_with(c, opts, ProcesslistRead::Precise, false)
}

/// Read a snapshot to judge (`diagnose`, `check`): like [`read`], except that on MariaDB with
/// [`SHOW_PROCESSLIST_FROM`] connections or more the processlist comes from
/// `SHOW FULL PROCESSLIST` (whole-second times, no QUERY_ID), with a note. Kill plans never use
/// it: their re-check and `KILL QUERY ID` need the precise columns.
pub fn read_to_judge(c: &mut Connection, opts: ReadOptions) -> Result<Snapshot, AppError> {
    read_with(c, opts, ProcesslistRead::CheapAtScale, true)
}

fn read_with(
    c: &mut Connection,
    opts: ReadOptions,
    how: ProcesslistRead,
    with_status: bool,
) -> Result<Snapshot, AppError> {
    let taken_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());

    // Round trip 1: flavor-independent.
    let mut stmts = vec![
        "SELECT CONNECTION_ID(), CURRENT_USER()".to_string(),
        "SHOW GRANTS".to_string(),
        format!(
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN ({})",
            in_list(VARIABLES)
        ),
    ];
    if with_status {
        stmts.push(status_sql());
    }
    let mut first = c.batch(&stmts, "reading server variables").into_iter();
    let who = first.next().expect("a result per statement")?;
    let grants = first.next().expect("a result per statement")?;
    let variables = name_values(&first.next().expect("a result per statement")?);
    let status = match first.next() {
        Some(rows) => name_values(&rows?),
        None => BTreeMap::new(),
    };
    let status_read_at = Instant::now();

    let (connection_id, user) = who
        .first()
        .map(|r| (num(r, 0).unwrap_or(0), text(r, 1).unwrap_or_default()))
        .unwrap_or_default();
    let grant_lines: Vec<String> = grants.iter().filter_map(|r| text(r, 0)).collect();
    let mut privileges = parse_grants(&grant_lines);

    let server = server_info(&variables, &status);
    let mut notes = Vec::new();

    // Round trip 2: flavor-specific. Only the processlist is required: every other read is
    // attempted whatever the grants say (roles and SUPER make the parsed grants unreliable) and
    // on failure leaves a note; a refused statement costs one more round trip for the rest
    // (`batch::run`), never the read.
    let dialect = Dialect::new(&server, &variables);
    let mut stmts: Vec<String> = flavor::session_guards(
        server.flavor,
        server.version_number,
        c.query_timeout.as_secs(),
    );
    let guards = stmts.len();
    let connected = status
        .get("threads_connected")
        .and_then(|v| parse_num(v))
        .unwrap_or(0);
    let show_processlist = how == ProcesslistRead::CheapAtScale
        && server.flavor == Flavor::Mariadb
        && connected >= SHOW_PROCESSLIST_FROM;
    if show_processlist {
        stmts.push("SHOW FULL PROCESSLIST".to_string());
        notes.push(format!(
            "processlist read with SHOW FULL PROCESSLIST ({connected} connections): times in whole seconds"
        ));
    } else {
        stmts.push(processlist_sql(server.flavor, server.processlist_source));
    }
    let processlist_at = stmts.len() - 1;
    let want_attrs = dialect.reads_connect_attrs();
    if want_attrs {
        stmts.push(connect_attrs::sql());
    }
    let want_trx = opts.transactions;
    // MySQL 8's memory per session (MariaDB's is in the processlist read), for the judgements
    // and plans that read transactions too.
    let memory_sql = super::thread_memory::sql(&dialect).filter(|_| want_trx);
    if let Some(sql) = &memory_sql {
        stmts.push(sql.clone());
    }
    let lock_tables_note = dialect.lock_tables_unavailable();
    let lock_reads = if want_trx && lock_tables_note.is_none() {
        lock_wait_sql(server.flavor, server.version_number)
    } else {
        Vec::new()
    };
    if want_trx {
        stmts.push(TRX_SQL.to_string());
        stmts.extend(lock_reads.iter().map(|(_, sql)| sql.clone()));
    }
    // Kill reads on MySQL 8.0.16+ without SYSTEM_USER: which accounts' sessions we may not kill.
    let want_system_users =
        want_trx && dialect.system_user_guards_kill() && !privileges.system_user;
    if want_system_users {
        stmts.push(SYSTEM_USERS_SQL.to_string());
    }
    // The account rows behind the sessions, for per-account limits (judging); a refusal
    // (no SELECT on mysql.user) leaves a note.
    let want_accounts = opts.accounts;
    if want_accounts {
        stmts.push(super::accounts::accounts_sql());
    }
    // MariaDB's metadata-lock holders, last: without the plugin its failure costs nothing else.
    let want_mdl = want_trx && dialect.reads_metadata_lock_info();
    if want_mdl {
        stmts.push(mdl::sql());
    }
    let mut results = batch::run(
        c,
        &stmts,
        |i| i == processlist_at,
        "reading the processlist",
    )
    .into_iter();
    for _ in 0..guards {
        // A guard the server does not know (old versions) only costs us the guard.
        if let Some(Err(e)) = results.next() {
            notes.push(format!("session guard not set: {}", e.message));
        }
    }
    let mut sessions: Vec<Session> = results
        .next()
        .expect("processlist result")?
        .iter()
        .map(if show_processlist {
            session_from_show_row
        } else {
            session_from_row
        })
        .collect();
    let own_login = sessions
        .iter()
        .find(|s| s.id == connection_id)
        .map(|s| s.user.clone());
    sessions.retain(|s| s.id != connection_id);
    if want_attrs {
        match results.next().expect("connect attributes result") {
            Ok(rows) => connect_attrs::apply(&mut sessions, &connect_attrs::rows(&rows)),
            Err(e) => notes.push(connect_attrs::note(&e.message)),
        }
    }
    if memory_sql.is_some() {
        match results.next().expect("thread memory result") {
            Ok(rows) => {
                super::thread_memory::apply(&mut sessions, &super::thread_memory::rows(&rows))
            }
            Err(e) => notes.push(super::thread_memory::note(&e.message)),
        }
    }
    let holders_unnamed = want_trx && lock_tables_note.is_some();
    if want_trx && let Some(note) = lock_tables_note {
        notes.push(note);
    }
    let mut transactions = Vec::new();
    let mut trx_read = false;
    // trx id -> the lock it waits for (INNODB_TRX.trx_requested_lock_id): not kept in the
    // snapshot, only used to attribute waiters beyond the bound on the lock rows.
    let mut requested: HashMap<String, String> = HashMap::new();
    let mut lock_rows = LockRows::default();
    if want_trx {
        match results.next().expect("trx result") {
            Ok(rows) => {
                trx_read = true;
                transactions = rows
                    .iter()
                    .map(trx_from_row)
                    .filter(|t| t.session_id != connection_id)
                    .collect();
                requested = rows
                    .iter()
                    .filter_map(|r| Some((text(r, 0)?, text(r, 8)?)))
                    .collect();
            }
            Err(e) => notes.push(format!("open transactions not read: {}", e.message)),
        }
        for ((what, _), r) in lock_reads.into_iter().zip(results.by_ref()) {
            match r {
                Ok(rows) => lock_rows.add(what, &rows),
                Err(e) => notes.push(format!("lock waits not read: {}", e.message)),
            }
        }
    }
    // Waits the processlist states show are not stored: they are derived when judging
    // (`snapshot::locks::waits_from_states`), so a saved snapshot holds only what was read.
    let ids = LockIds {
        requested: &requested,
        pointer_suffix: flavor::has_data_lock_waits(server.flavor, server.version_number),
    };
    let mut lock_waits = lock_waits_from(&lock_rows, &transactions, &ids, &mut notes);
    let mut system_user_accounts = Vec::new();
    if want_system_users {
        match results.next().expect("system user result") {
            Ok(rows) => system_user_accounts = rows.iter().filter_map(|r| text(r, 0)).collect(),
            Err(e) => notes.push(format!(
                "accounts with SYSTEM_USER not read (needs SELECT on mysql.global_grants): kills of their sessions will be denied (ERROR 1095): {}",
                e.message
            )),
        }
    }
    if holders_unnamed {
        let unnamed = super::trx_waits::waits_without_holder(&transactions, &lock_waits);
        lock_waits.extend(unnamed);
    }
    let accounts = if want_accounts {
        super::accounts::from(results.next().expect("account rows result"))
            .map_err(|note| notes.push(note))
            .ok()
    } else {
        None
    };
    if want_mdl {
        match results.next().expect("metadata lock result") {
            Ok(rows) => lock_waits.extend(mdl::waits(&sessions, &mdl::rows(&rows))),
            Err(e) if mdl::not_installed(&e.message) => {}
            Err(e) => notes.push(format!("metadata-lock holders not read: {}", e.message)),
        }
    }
    lock_waits.retain(|w| w.waiting_id != connection_id);

    // What the account could read proves PROCESS where SHOW GRANTS does not list it (granted
    // through a role).
    if super::grants::process_shown(own_login.as_deref(), &sessions, trx_read) {
        privileges.process = true;
    }

    // Round trip 3: the second status reading, with Threads_connected read on the way (one
    // single-row statement per tick) for the trend a forecast is fitted to.
    let mut trend = Vec::new();
    let (status_after, sample_s) = if opts.sample.is_zero() {
        (None, 0.0)
    } else {
        let point = |at: Duration, map: &BTreeMap<String, String>| {
            map.get("threads_connected")
                .and_then(|v| v.parse().ok())
                .map(|threads_connected| TrendPoint {
                    at_ms: u64::try_from(at.as_millis()).unwrap_or(u64::MAX),
                    threads_connected,
                })
        };
        // No trend in a sample too short to fit one to. The readings follow a fixed schedule
        // from the first, stopping half a tick before the final status reading; a slow reply
        // (or a slow round trip 2) skips the ticks it overran instead of firing them back to
        // back at a sick server.
        let with_trend = opts.sample >= TREND_FROM;
        if with_trend {
            trend.extend(point(Duration::ZERO, &status));
            let tick = trend_tick(opts.sample);
            let mut due = tick;
            while due + tick / 2 < opts.sample {
                std::thread::sleep(due.saturating_sub(status_read_at.elapsed()));
                let at = status_read_at.elapsed();
                let rows = c.rows(THREADS_CONNECTED_SQL, "reading global status")?;
                trend.extend(point(at, &name_values(&rows)));
                let now = status_read_at.elapsed();
                due += tick;
                while due <= now {
                    due += tick;
                }
            }
        }
        let elapsed = status_read_at.elapsed();
        if elapsed < opts.sample {
            std::thread::sleep(opts.sample - elapsed);
        }
        let rows = c.rows(&status_sql(), "reading global status")?;
        let at = status_read_at.elapsed();
        let after = name_values(&rows);
        if with_trend {
            trend.extend(point(at, &after));
        }
        (Some(after), at.as_secs_f64())
    };

    let server_rss_bytes = opts
        .local
        .then(|| {
            super::process::server_rss(
                variables.get("pid_file").map(String::as_str),
                server.uptime_s,
            )
        })
        .flatten();
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
            login_user: String::new(),
        },
        refused: None,
        variables,
        status,
        status_after,
        sample_s,
        trend,
        sessions,
        transactions,
        lock_waits,
        host_memory_bytes,
        server_rss_bytes,
        accounts,
        system_user_accounts,
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
        trend: Vec::new(),
        sessions: Vec::new(),
        transactions: Vec::new(),
        lock_waits: Vec::new(),
        host_memory_bytes: None,
        server_rss_bytes: None,
        accounts: None,
        system_user_accounts: Vec::new(),
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

/// Open transactions: id, session, state, age, wait, rows modified, rows locked, query, and the
/// id of the lock it waits for (used by the reader only).
pub const TRX_SQL: &str = "SELECT trx_id, trx_mysql_thread_id, trx_state, \
     GREATEST(0, TIMESTAMPDIFF(SECOND, trx_started, NOW())), \
     IF(trx_wait_started IS NULL, NULL, GREATEST(0, TIMESTAMPDIFF(SECOND, trx_wait_started, NOW()))), \
     trx_rows_modified, trx_rows_locked, trx_query, trx_requested_lock_id \
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

/// What the reader knows about lock ids besides the lock tables.
pub struct LockIds<'a> {
    /// trx id -> the id of the lock it waits for (INNODB_TRX.trx_requested_lock_id).
    pub requested: &'a HashMap<String, String>,
    /// MySQL 8 lock ids end with a pointer (`trx:space:page:heap:ptr`); MariaDB's do not
    /// (`trx:space:page:heap`).
    pub pointer_suffix: bool,
}

impl LockIds<'_> {
    /// What a lock is on, the same for every transaction's lock on it: the lock id without its
    /// transaction (and pointer) part: `space:page:heap` for a record, the table id for a table.
    fn target<'l>(&self, lock_id: &'l str) -> Option<&'l str> {
        let (_, rest) = lock_id.split_once(':')?;
        if self.pointer_suffix {
            rest.rsplit_once(':').map(|(t, _)| t)
        } else {
            Some(rest)
        }
    }
}

/// The lock-table rows as read, each read bounded by [`MAX_LOCK_ROWS`].
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LockRows {
    /// Requesting trx id, blocking trx id, requested lock id.
    pub row_waits: Vec<(String, String, Option<String>)>,
    /// Lock id -> `schema.table` (quotes removed).
    pub tables: HashMap<String, String>,
    /// Metadata-lock waits, already as sessions.
    pub metadata: Vec<LockWait>,
    /// The reads that had more rows than the bound (their extra rows are dropped).
    pub cut: Vec<&'static str>,
}

impl LockRows {
    pub fn add(&mut self, what: LockRead, rows: &[Row]) {
        let (name, n) = match what {
            LockRead::RowWaits => ("the row-lock waits", rows.len()),
            LockRead::LockTables => ("the lock list", rows.len()),
            LockRead::Metadata => ("the metadata-lock waits", rows.len()),
        };
        if n > MAX_LOCK_ROWS {
            self.cut.push(name);
        }
        let rows = &rows[..n.min(MAX_LOCK_ROWS)];
        match what {
            LockRead::RowWaits => self.row_waits.extend(
                rows.iter()
                    .filter_map(|r| Some((text(r, 0)?, text(r, 1)?, text(r, 2)))),
            ),
            LockRead::LockTables => self.tables.extend(
                rows.iter()
                    .filter_map(|r| Some((text(r, 0)?, text(r, 1)?.replace('`', "")))),
            ),
            LockRead::Metadata => self.metadata.extend(
                rows.iter()
                    .filter_map(|r| lock_wait_from_row(r, LockKind::Metadata)),
            ),
        }
    }
}

/// The lock waits of the lock-table rows, joined with the open transactions here: a wait pair
/// of transactions becomes waiting session, blocking session, the table of the requested lock
/// and how long the waiter's transaction has waited. A waiter listed once per lock ahead of it
/// gives one wait per distinct holder. When a read was cut at [`MAX_LOCK_ROWS`], a note says so,
/// and the transactions in `LOCK WAIT` that no row lists are attributed to the holders listed
/// for the same record (every request on one record queues behind the same granted locks), or
/// kept as waits without a known holder. Pure.
pub fn lock_waits_from(
    rows: &LockRows,
    transactions: &[Transaction],
    ids: &LockIds,
    notes: &mut Vec<String>,
) -> Vec<LockWait> {
    for what in &rows.cut {
        notes.push(format!(
            "lock waits cut: only the first {MAX_LOCK_ROWS} rows of {what} were read"
        ));
    }
    let by_trx: HashMap<&str, &Transaction> = transactions
        .iter()
        .map(|t| (t.trx_id.as_str(), t))
        .collect();
    let waits_itself = |t: &Transaction| t.state.eq_ignore_ascii_case("LOCK WAIT");
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    // lock target -> (holders not waiting themselves, table): for the waiters beyond the cut.
    let mut holders: HashMap<String, (BTreeSet<u64>, Option<String>)> = HashMap::new();
    const UNKNOWN_HOLDER: u64 = u64::MAX;
    let mut unlisted_holder = 0;
    let mut out = Vec::new();
    for (waiter, blocker, lock) in &rows.row_waits {
        let trx = |id: &String| by_trx.get(id.as_str()).copied();
        let Some(waiter) = trx(waiter) else {
            // A transaction that ended between the reads.
            continue;
        };
        let object = lock.as_ref().and_then(|l| rows.tables.get(l)).cloned();
        let Some(blocker) = trx(blocker) else {
            // A holder INNODB_TRX does not list: ended between the reads, or beyond InnoDB's
            // memory limit for these tables (MariaDB truncates INNODB_TRX at 16 MiB, ~600
            // transactions behind one row lock). The wait stays, its holder unknown.
            unlisted_holder += 1;
            if seen.insert((waiter.session_id, UNKNOWN_HOLDER)) {
                out.push(LockWait {
                    kind: LockKind::Row,
                    waiting_id: waiter.session_id,
                    blocking_id: None,
                    object,
                    wait_s: waiter.wait_s.unwrap_or(0),
                });
            }
            continue;
        };
        if !waits_itself(blocker)
            && let Some(target) = lock.as_deref().and_then(|l| ids.target(l))
        {
            let h = holders.entry(target.to_string()).or_default();
            h.0.insert(blocker.session_id);
            h.1 = h.1.take().or(object.clone());
        }
        if seen.insert((waiter.session_id, blocker.session_id)) {
            out.push(LockWait {
                kind: LockKind::Row,
                waiting_id: waiter.session_id,
                blocking_id: Some(blocker.session_id),
                object,
                wait_s: waiter.wait_s.unwrap_or(0),
            });
        }
    }
    if unlisted_holder > 0 {
        notes.push(format!(
            "{unlisted_holder} lock-wait rows name a holder transaction that INNODB_TRX does not list (it lists {} transactions; MariaDB truncates it at its 16 MiB limit): those waits are kept without their holder",
            transactions.len()
        ));
    }
    out.extend(rows.metadata.iter().cloned());
    if !rows.cut.is_empty() {
        let listed: HashSet<u64> = out.iter().map(|w| w.waiting_id).collect();
        let (mut attributed, mut unknown) = (0, 0);
        for t in transactions
            .iter()
            .filter(|t| waits_itself(t) && !listed.contains(&t.session_id))
        {
            let queue = ids
                .requested
                .get(&t.trx_id)
                .and_then(|l| ids.target(l))
                .and_then(|k| holders.get(k));
            let Some((hs, object)) = queue else {
                unknown += 1;
                out.push(LockWait {
                    kind: LockKind::Row,
                    waiting_id: t.session_id,
                    blocking_id: None,
                    object: None,
                    wait_s: t.wait_s.unwrap_or(0),
                });
                continue;
            };
            attributed += 1;
            out.extend(
                hs.iter()
                    .filter(|&&h| h != t.session_id)
                    .map(|&h| LockWait {
                        kind: LockKind::Row,
                        waiting_id: t.session_id,
                        blocking_id: Some(h),
                        object: object.clone(),
                        wait_s: t.wait_s.unwrap_or(0),
                    }),
            );
        }
        notes.push(format!(
            "lock waits beyond the cut: {attributed} more waiting transactions attributed to the holders listed for the same record, {unknown} left without a known holder"
        ));
    }
    out
}

/// A `SHOW FULL PROCESSLIST` row (Id, User, Host, db, Command, Time, State, Info, then MariaDB's
/// Progress, which is not a time): the columns of [`session_from_row`] without the precise ones.
pub fn session_from_show_row(r: &Row) -> Session {
    Session {
        time_ms: None,
        query_id: None,
        program: None,
        memory_bytes: None,
        ..session_from_row(r)
    }
}

/// A processlist row in the column order of [`processlist_sql`]: the `SHOW PROCESSLIST`
/// columns, then TIME_MS, QUERY_ID and the program name (NULL where a source has none).
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
        memory_bytes: num(r, 11),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn trx(id: &str, session_id: u64, state: &str, wait_s: Option<u64>) -> Transaction {
        Transaction {
            trx_id: id.into(),
            session_id,
            state: state.into(),
            wait_s,
            ..Transaction::default()
        }
    }

    /// One holder (trx 100, session 1) and `n` waiters (trx 100+k, session 1+k) on the record
    /// `5:3:2`, listed as InnoDB lists them: each waiter once per lock ahead of it.
    fn queue(n: u64) -> (Vec<Transaction>, LockRows, HashMap<String, String>) {
        let mut t = vec![trx("100", 1, "RUNNING", None)];
        let mut rows = LockRows::default();
        let mut requested = HashMap::new();
        for k in 1..=n {
            let id = format!("{}", 100 + k);
            t.push(trx(&id, 1 + k, "LOCK WAIT", Some(k)));
            let lock = format!("{id}:5:3:2");
            requested.insert(id.clone(), lock.clone());
            rows.tables.insert(lock.clone(), "shop.t".into());
            for ahead in 0..k {
                rows.row_waits
                    .push((id.clone(), format!("{}", 100 + ahead), Some(lock.clone())));
            }
        }
        (t, rows, requested)
    }

    #[test]
    fn wait_pairs_become_session_waits_once_per_holder() {
        let (t, rows, requested) = queue(14);
        assert_eq!(rows.row_waits.len(), 105, "InnoDB's multiplicity");
        let ids = LockIds {
            requested: &requested,
            pointer_suffix: false,
        };
        let mut notes = Vec::new();
        let w = lock_waits_from(&rows, &t, &ids, &mut notes);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(w.len(), 105, "pairs of sessions are distinct here");
        let first = &w[0];
        assert_eq!(
            (first.waiting_id, first.blocking_id, first.kind),
            (2, Some(1), LockKind::Row)
        );
        assert_eq!(first.object.as_deref(), Some("shop.t"));
        assert_eq!(first.wait_s, 1);
        // Listed twice (two rows, same pair): one wait.
        let mut rows2 = rows.clone();
        rows2.row_waits.push(rows.row_waits[0].clone());
        assert_eq!(lock_waits_from(&rows2, &t, &ids, &mut notes).len(), 105);
        // A transaction that ended between the reads is skipped.
        let mut t2 = t.clone();
        t2.retain(|x| x.trx_id != "101");
        let w2 = lock_waits_from(&rows, &t2, &ids, &mut notes);
        assert!(w2.iter().all(|x| x.waiting_id != 2));
        // ... and a holder INNODB_TRX does not list (its 16 MiB limit) leaves the waits it
        // held up without a holder, once per waiter, with a note.
        let unknown: Vec<u64> = w2
            .iter()
            .filter(|x| x.blocking_id.is_none())
            .map(|x| x.waiting_id)
            .collect();
        assert_eq!(unknown, (3..=15).collect::<Vec<u64>>());
        assert_eq!(w2.len(), 105 - 14 + 13);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].starts_with("13 lock-wait rows name a holder transaction that INNODB_TRX does not list (it lists 14 transactions"), "{}", notes[0]);
    }

    /// Rows cut at the bound: the waiters no row lists still get the record's holder, and the
    /// note says what happened.
    #[test]
    fn waiters_beyond_the_cut_get_the_holder_of_their_record() {
        let (mut t, mut rows, mut requested) = queue(5);
        // Five more waiters on the same record that the (cut) rows do not list, and one on
        // another record.
        for k in 6..=10u64 {
            let id = format!("{}", 100 + k);
            t.push(trx(&id, 1 + k, "LOCK WAIT", Some(k)));
            requested.insert(id.clone(), format!("{id}:5:3:2"));
        }
        t.push(trx("999", 99, "LOCK WAIT", Some(3)));
        requested.insert("999".into(), "999:7:1:4".into());
        rows.cut.push("the row-lock waits");
        let ids = LockIds {
            requested: &requested,
            pointer_suffix: false,
        };
        let mut notes = Vec::new();
        let w = lock_waits_from(&rows, &t, &ids, &mut notes);
        let to_holder: BTreeSet<u64> = w
            .iter()
            .filter(|x| x.blocking_id == Some(1))
            .map(|x| x.waiting_id)
            .collect();
        assert_eq!(to_holder, (2..=11).collect());
        let other: Vec<&LockWait> = w.iter().filter(|x| x.waiting_id == 99).collect();
        assert_eq!(other.len(), 1);
        assert_eq!(
            other[0].blocking_id, None,
            "no row names the holder of its record"
        );
        assert!(
            w.iter()
                .filter(|x| (7..=11).contains(&x.waiting_id))
                .all(|x| x.object.as_deref() == Some("shop.t") && x.wait_s == x.waiting_id - 1)
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            notes[0].starts_with("lock waits cut: only the first 20000 rows of the row-lock waits")
        );
        assert!(
            notes[1].contains("5 more waiting transactions attributed"),
            "{}",
            notes[1]
        );
        assert!(
            notes[1].contains("1 left without a known holder"),
            "{}",
            notes[1]
        );
    }

    #[test]
    fn lock_targets_drop_the_transaction_and_mysql_pointer() {
        let requested = HashMap::new();
        let mariadb = LockIds {
            requested: &requested,
            pointer_suffix: false,
        };
        let mysql = LockIds {
            requested: &requested,
            pointer_suffix: true,
        };
        assert_eq!(mariadb.target("24:5:3:2"), Some("5:3:2"));
        assert_eq!(mariadb.target("24:17"), Some("17"));
        assert_eq!(
            mysql.target("140211201964816:2:4:2:140211086465800"),
            Some("2:4:2")
        );
        assert_eq!(
            mysql.target("140211201964816:1059:139664350547912"),
            Some("1059")
        );
        assert_eq!(mariadb.target("garbage"), None);
    }
}
