//! Reading a [`Snapshot`] from a live server, in as few round trips as possible.
//!
//! Round trip 1 (any flavor): our id and account, grants, the variables and status we use.
//! Round trip 2 (flavor-specific, chosen from round trip 1): session guards, the processlist,
//! open transactions and lock waits. Round trip 3 only with `--sample`: global status again.
//! No per-session queries: the cost stays flat as the processlist grows. This is the only module
//! that reads the server; the remedies that execute a confirmed plan are the only others that
//! send SQL.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mysql::{Row, Value};

use crate::connect::Connection;
use crate::exit::AppError;

use super::batch;
use super::connect_attrs;
use super::dialect::Dialect;
use super::flavor::{self, Flavor, Identity, ProcesslistSource};
use super::grants::parse_grants;
use super::locks::waits_from_states;
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
    stmts.push(processlist_sql(server.flavor, server.processlist_source));
    let processlist_at = stmts.len() - 1;
    let want_attrs = dialect.reads_connect_attrs();
    if want_attrs {
        stmts.push(connect_attrs::sql());
    }
    let want_trx = opts.transactions;
    let lock_tables_note = dialect.lock_tables_unavailable();
    let mut lock_reads = 0;
    if want_trx {
        stmts.push(TRX_SQL.to_string());
        if lock_tables_note.is_none() {
            let locks = lock_wait_sql(server.flavor, server.version_number);
            lock_reads = locks.len();
            stmts.extend(locks);
        }
    }
    // Kill reads on MySQL 8.0.16+ without SYSTEM_USER: which accounts' sessions we may not kill.
    let want_system_users =
        want_trx && dialect.system_user_guards_kill() && !privileges.system_user;
    if want_system_users {
        stmts.push(SYSTEM_USERS_SQL.to_string());
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
        .map(session_from_row)
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
    let holders_unnamed = want_trx && lock_tables_note.is_some();
    if want_trx && let Some(note) = lock_tables_note {
        notes.push(note);
    }
    let mut transactions = Vec::new();
    let mut trx_read = false;
    let mut lock_waits = Vec::new();
    if want_trx {
        match results.next().expect("trx result") {
            Ok(rows) => {
                trx_read = true;
                transactions = rows
                    .iter()
                    .map(trx_from_row)
                    .filter(|t| t.session_id != connection_id)
                    .collect()
            }
            Err(e) => notes.push(format!("open transactions not read: {}", e.message)),
        }
        for r in results.by_ref().take(lock_reads) {
            match r {
                Ok(rows) => lock_waits.extend(
                    rows.iter()
                        .filter_map(|r| lock_wait_from_row(r, LockKind::Row)),
                ),
                Err(e) => notes.push(format!("lock waits not read: {}", e.message)),
            }
        }
    }
    // Metadata-lock rows come back with the row-lock rows: tell them apart by their object
    // marker (see `lock_wait_sql`).
    for w in &mut lock_waits {
        if let Some(obj) = w.object.as_mut()
            && let Some(rest) = obj.strip_prefix("mdl:")
        {
            *obj = rest.to_string();
            w.kind = LockKind::Metadata;
        }
    }
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
    if want_mdl {
        match results.next().expect("metadata lock result") {
            Ok(rows) => lock_waits.extend(mdl::waits(&sessions, &mdl::rows(&rows))),
            Err(e) if mdl::not_installed(&e.message) => {}
            Err(e) => notes.push(format!("metadata-lock holders not read: {}", e.message)),
        }
    }
    lock_waits.retain(|w| w.waiting_id != connection_id);
    let from_states = waits_from_states(&sessions, &lock_waits);
    lock_waits.extend(from_states);

    // Diagnose only: the account rows behind the sessions, for per-account limits. One more
    // round trip of its own, so that a refusal (no SELECT on mysql.user) costs nothing else.
    let accounts = if opts.transactions {
        super::accounts::read(c)
            .map_err(|note| notes.push(note))
            .ok()
    } else {
        None
    };

    // What the account could read proves PROCESS where SHOW GRANTS does not list it (granted
    // through a role).
    if super::grants::process_shown(own_login.as_deref(), &sessions, trx_read) {
        privileges.process = true;
    }

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
            login_user: String::new(),
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

/// Only the processlist (for re-checking a kill plan right before executing it).
pub fn read_sessions(c: &mut Connection, snap: &Snapshot) -> Result<Vec<Session>, AppError> {
    let rows = c.rows(
        &processlist_sql(snap.server.flavor, snap.dialect().recheck_source()),
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
            "SELECT ID, USER, HOST, DB, COMMAND, TIME, STATE, INFO, TIME_MS, QUERY_ID, NULL \
             FROM information_schema.PROCESSLIST"
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

/// Open transactions: id, session, state, age, wait, rows modified, rows locked, query.
pub const TRX_SQL: &str = "SELECT trx_id, trx_mysql_thread_id, trx_state, \
     GREATEST(0, TIMESTAMPDIFF(SECOND, trx_started, NOW())), \
     IF(trx_wait_started IS NULL, NULL, GREATEST(0, TIMESTAMPDIFF(SECOND, trx_wait_started, NOW()))), \
     trx_rows_modified, trx_rows_locked, trx_query \
     FROM information_schema.INNODB_TRX";

/// Lock-wait queries: columns waiting id, blocking id, object, wait seconds. Metadata-lock rows
/// mark their object with an `mdl:` prefix.
pub fn lock_wait_sql(flavor: Flavor, version: (u16, u16, u16)) -> Vec<String> {
    if flavor::has_data_lock_waits(flavor, version) {
        vec![
            // InnoDB row locks (MySQL 8: performance_schema.data_lock_waits).
            "SELECT r.trx_mysql_thread_id, b.trx_mysql_thread_id, \
             CONCAT(dl.OBJECT_SCHEMA, '.', dl.OBJECT_NAME), \
             GREATEST(0, TIMESTAMPDIFF(SECOND, r.trx_wait_started, NOW())) \
             FROM performance_schema.data_lock_waits w \
             JOIN information_schema.INNODB_TRX r ON r.trx_id = w.REQUESTING_ENGINE_TRANSACTION_ID \
             JOIN information_schema.INNODB_TRX b ON b.trx_id = w.BLOCKING_ENGINE_TRANSACTION_ID \
             LEFT JOIN performance_schema.data_locks dl ON dl.ENGINE_LOCK_ID = w.REQUESTING_ENGINE_LOCK_ID"
                .to_string(),
            // Metadata locks: a PENDING request against a GRANTED lock on the same object held by
            // another thread; thread ids mapped to processlist ids through threads.
            "SELECT wt.PROCESSLIST_ID, bt.PROCESSLIST_ID, \
             CONCAT('mdl:', w.OBJECT_SCHEMA, '.', w.OBJECT_NAME), wt.PROCESSLIST_TIME \
             FROM performance_schema.metadata_locks w \
             JOIN performance_schema.metadata_locks b ON b.OBJECT_TYPE = w.OBJECT_TYPE \
             AND b.OBJECT_SCHEMA <=> w.OBJECT_SCHEMA AND b.OBJECT_NAME <=> w.OBJECT_NAME \
             AND b.LOCK_STATUS = 'GRANTED' AND b.OWNER_THREAD_ID <> w.OWNER_THREAD_ID \
             JOIN performance_schema.threads wt ON wt.THREAD_ID = w.OWNER_THREAD_ID \
             JOIN performance_schema.threads bt ON bt.THREAD_ID = b.OWNER_THREAD_ID \
             WHERE w.LOCK_STATUS = 'PENDING' AND w.OBJECT_TYPE = 'TABLE' \
             AND bt.PROCESSLIST_ID IS NOT NULL"
                .to_string(),
        ]
    } else {
        // MariaDB and MySQL 5.7: INNODB_LOCK_WAITS. Metadata locks come from thread states.
        vec![
            "SELECT r.trx_mysql_thread_id, b.trx_mysql_thread_id, l.lock_table, \
             GREATEST(0, TIMESTAMPDIFF(SECOND, r.trx_wait_started, NOW())) \
             FROM information_schema.INNODB_LOCK_WAITS w \
             JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id \
             JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id \
             LEFT JOIN information_schema.INNODB_LOCKS l ON l.lock_id = w.requested_lock_id"
                .to_string(),
        ]
    }
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
