//! Reading a [`Snapshot`] from a live server, in as few round trips as possible.
//!
//! Round trip 1 (any flavor, [`plan::first`]): our id and account, grants, the variables and
//! status we use. Round trip 2 (flavor-specific, [`Dialect::plan`] from what round trip 1 said):
//! session guards, the processlist, open transactions and lock waits. Round trip 3 only with
//! `--sample`: global status again. No per-session queries: the cost stays flat as the
//! processlist grows. This module executes the plans and assembles what they read (statements
//! in `sql`, row decoders in `row`, the lock join in `locks`); it is the only one that reads the
//! server, and the remedies that execute a confirmed plan are the only others that send SQL.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::connect::Connection;
use crate::exit::AppError;

use super::dialect::Dialect;
use super::flavor::{self, Flavor, Identity};
use super::locks::{LockIds, LockRows, lock_waits_from};
use super::model::*;
use super::plan::{self, Needs, Plan, Results};
use super::row::{name_values, num, text};
use super::sql::{
    ROLLBACKS_NOT_READ_AGAIN, ROLLING_BACK_SQL, THREADS_CONNECTED_SQL, processlist_sql, status_sql,
};
use super::{
    accounts, connect_attrs, grants, host_cache, mdl, process, thread_memory, trx_waits, user_locks,
};

/// Samples shorter than this read no trend (`diagnose::forecast` fits none under 3 s).
const TREND_FROM: Duration = Duration::from_secs(3);

/// Time between trend readings: about 30 over the sample, between 250 ms and 5 s apart.
fn trend_tick(sample: Duration) -> Duration {
    (sample / 30).clamp(Duration::from_millis(250), Duration::from_secs(5))
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
    let first_plan = if with_status {
        plan::first()
    } else {
        plan::first_without_status()
    };
    let mut first = first_plan.run(c, "reading server variables");
    let (connection_id, user) = first.required(plan::IDENTITY)?;
    let grant_lines = first.required(plan::GRANTS)?;
    let variables = first.required(plan::VARIABLES)?;
    let status = if with_status {
        first.required(plan::STATUS)?
    } else {
        BTreeMap::new()
    };
    let status_read_at = Instant::now();
    let mut privileges = grants::parse_grants(&grant_lines);
    let server = server_info(&variables, &status);
    let mut notes = Vec::new();

    // Round trip 2: flavor-specific (see `Dialect::plan`). Only the processlist is required.
    let dialect = Dialect::new(&server, &variables);
    let connected = status
        .get("threads_connected")
        .and_then(|v| parse_num(v))
        .unwrap_or(0);
    let show_processlist = how == ProcesslistRead::CheapAtScale
        && server.flavor == Flavor::Mariadb
        && connected >= SHOW_PROCESSLIST_FROM;
    if show_processlist {
        notes.push(format!(
            "processlist read with SHOW FULL PROCESSLIST ({connected} connections): times in whole seconds"
        ));
    }
    let needs = Needs {
        query_timeout_s: c.query_timeout.as_secs(),
        transactions: opts.transactions,
        accounts: opts.accounts,
        show_processlist,
        system_user: privileges.system_user,
    };
    let mut results = dialect.plan(&needs).run(c, "reading the processlist");
    for guard in results.take_all(plan::SESSION_GUARD) {
        if let Err(e) = guard {
            notes.push(format!("session guard not set: {}", e.message));
        }
    }
    let mut sessions = match results.take(plan::SHOW_PROCESSLIST) {
        Some(read) => read?,
        None => results.required(plan::PROCESSLIST)?,
    };
    let own_login = sessions
        .iter()
        .find(|s| s.id == connection_id)
        .map(|s| s.user.clone());
    sessions.retain(|s| s.id != connection_id);
    match results.take(plan::CLIENT_PROGRAMS) {
        Some(Ok(rows)) => connect_attrs::apply(&mut sessions, &rows),
        Some(Err(e)) => notes.push(connect_attrs::note(&e.message)),
        None => {}
    }
    match results.take(plan::THREAD_MEMORY) {
        Some(Ok(rows)) => thread_memory::apply(&mut sessions, &rows),
        Some(Err(e)) => notes.push(thread_memory::note(&e.message)),
        None => {}
    }
    let lock_tables_note = dialect.lock_tables_unavailable();
    let holders_unnamed = opts.transactions && lock_tables_note.is_some();
    if opts.transactions
        && let Some(note) = lock_tables_note
    {
        notes.push(note);
    }
    let (transactions, trx_read, mut lock_waits) =
        transactions_and_locks(&mut results, &server, connection_id, &mut notes);
    let mut system_user_accounts = Vec::new();
    match results.take(plan::SYSTEM_USERS) {
        Some(Ok(users)) => system_user_accounts = users,
        Some(Err(e)) => notes.push(format!(
            "accounts with SYSTEM_USER not read (needs SELECT on mysql.global_grants): kills of their sessions will be denied (ERROR 1095): {}",
            e.message
        )),
        None => {}
    }
    if holders_unnamed {
        let unnamed = trx_waits::waits_without_holder(&transactions, &lock_waits);
        lock_waits.extend(unnamed);
    }
    let replication = match results.take(plan::REPLICAS) {
        Some(Ok(channels)) => channels,
        Some(Err(e)) => {
            notes.push(format!(
                "replica status not read ({}): {}",
                dialect.replica_status_needs(),
                e.message
            ));
            Vec::new()
        }
        None => Vec::new(),
    };
    let accounts = results.take(plan::ACCOUNTS).and_then(|read| {
        read.map_err(|e| notes.push(accounts::note(&e.message)))
            .ok()
    });
    let host_cache = results.take(plan::HOST_CACHE).and_then(|read| {
        read.map_err(|e| notes.push(host_cache::note(&e.message)))
            .ok()
    });
    match results.take(plan::METADATA_LOCK_HOLDERS) {
        Some(Ok(granted)) => lock_waits.extend(mdl::waits(&sessions, &granted)),
        Some(Err(e)) if mdl::not_installed(&e) => {}
        Some(Err(e)) => notes.push(format!("metadata-lock holders not read: {}", e.message)),
        None => {}
    }
    // User locks whose holder no lock table named: ask the server by name (see `user_locks`).
    let unnamed = user_locks::unnamed(&sessions, &lock_waits);
    if opts.transactions && !unnamed.is_empty() {
        match c.rows(
            &user_locks::sql(unnamed.keys()),
            "reading user-lock holders",
        ) {
            Ok(rows) => lock_waits.extend(user_locks::waits(&unnamed, rows.first())),
            Err(e) => notes.push(format!("user-lock holders not read: {}", e.message)),
        }
    }
    lock_waits.retain(|w| w.waiting_id != connection_id);

    // What the account could read proves PROCESS where SHOW GRANTS does not list it (granted
    // through a role).
    if grants::process_shown(own_login.as_deref(), &sessions, trx_read) {
        privileges.process = true;
    }

    // A rollback in progress is read again with the second status reading: its speed.
    let rolling_back = transactions
        .iter()
        .any(|t| t.state.eq_ignore_ascii_case("ROLLING BACK"));
    let (status_after, sample_s, trend, rollbacks_after) = if opts.sample.is_zero() {
        (None, 0.0, Vec::new(), Vec::new())
    } else {
        let s = sample(c, opts.sample, &status, status_read_at)?;
        let again = if rolling_back {
            rollbacks(c, &mut notes)
        } else {
            Vec::new()
        };
        (Some(s.status), s.sample_s, s.trend, again)
    };
    // The host cache again, with the second status reading: ERROR 1129 refusals during the
    // sample are the growth of COUNT_HOST_BLOCKED_ERRORS.
    let host_cache_after = match (&host_cache, &status_after) {
        (Some(_), Some(_)) => c
            .rows(&host_cache::sql(), "reading the host cache")
            .ok()
            .map(|rows| host_cache::rows(&rows)),
        _ => None,
    };

    let server_rss_bytes = opts
        .local
        .then(|| {
            process::server_rss(
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
            login_tries: c.login_tries,
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
        rollbacks_after,
        host_memory_bytes,
        // Only a server on this machine runs on these cores (localhost, 127.x, a socket).
        host_cpu_cores: opts
            .local
            .then(|| std::thread::available_parallelism().ok())
            .flatten()
            .map(|n| n.get() as u64),
        replication,
        server_rss_bytes,
        accounts,
        host_cache,
        host_cache_after,
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

/// The open transactions round trip 2 read (without ours), whether INNODB_TRX could be read, and
/// the lock waits of the lock tables joined with them (`locks::lock_waits_from`). A read that
/// failed leaves a note.
fn transactions_and_locks(
    results: &mut Results,
    server: &ServerInfo,
    connection_id: u64,
    notes: &mut Vec<String>,
) -> (Vec<Transaction>, bool, Vec<LockWait>) {
    let mut transactions = Vec::new();
    let mut trx_read = false;
    // trx id -> the lock it waits for: only used to attribute waiters beyond the bound on the
    // lock rows.
    let mut requested: HashMap<String, String> = HashMap::new();
    match results.take(plan::TRANSACTIONS) {
        Some(Ok(read)) => {
            trx_read = true;
            transactions = read
                .list
                .into_iter()
                .filter(|t| t.session_id != connection_id)
                .collect();
            requested = read.requested;
        }
        Some(Err(e)) => notes.push(format!("open transactions not read: {}", e.message)),
        None => {}
    }
    let mut lock_rows = LockRows::default();
    for key in plan::LOCK_READS {
        match results.take(key) {
            Some(Ok(rows)) => lock_rows.merge(rows),
            Some(Err(e)) => notes.push(format!("lock waits not read: {}", e.message)),
            None => {}
        }
    }
    // Waits the processlist states show are not stored: they are derived when judging
    // (`snapshot::locks::waits_from_states`), so a saved snapshot holds only what was read.
    let ids = LockIds {
        requested: &requested,
        pointer_suffix: flavor::has_data_lock_waits(server.flavor, server.version_number),
    };
    let lock_waits = lock_waits_from(&lock_rows, &transactions, &ids, notes);
    (transactions, trx_read, lock_waits)
}

/// What round trip 3 read.
struct Sampled {
    /// The second status reading.
    status: BTreeMap<String, String>,
    /// Seconds between the two readings.
    sample_s: f64,
    trend: Vec<TrendPoint>,
}

/// Round trip 3: the second status reading `length` after the first (read at `first_at`), with
/// Threads_connected read on the way (one single-row statement per tick) for the trend a
/// forecast is fitted to.
fn sample(
    c: &mut Connection,
    length: Duration,
    first: &BTreeMap<String, String>,
    first_at: Instant,
) -> Result<Sampled, AppError> {
    let point = |at: Duration, map: &BTreeMap<String, String>| {
        map.get("threads_connected")
            .and_then(|v| v.parse().ok())
            .map(|threads_connected| TrendPoint {
                at_ms: u64::try_from(at.as_millis()).unwrap_or(u64::MAX),
                threads_connected,
            })
    };
    let mut trend = Vec::new();
    // No trend in a sample too short to fit one to. The readings follow a fixed schedule from
    // the first, stopping half a tick before the final status reading; a slow reply (or a slow
    // round trip 2) skips the ticks it overran instead of firing them back to back at a sick
    // server.
    let with_trend = length >= TREND_FROM;
    if with_trend {
        trend.extend(point(Duration::ZERO, first));
        let tick = trend_tick(length);
        let mut due = tick;
        while due + tick / 2 < length {
            std::thread::sleep(due.saturating_sub(first_at.elapsed()));
            let at = first_at.elapsed();
            let rows = c.rows(THREADS_CONNECTED_SQL, "reading global status")?;
            trend.extend(point(at, &name_values(&rows)));
            let now = first_at.elapsed();
            due += tick;
            while due <= now {
                due += tick;
            }
        }
    }
    let elapsed = first_at.elapsed();
    if elapsed < length {
        std::thread::sleep(length - elapsed);
    }
    let rows = c.rows(&status_sql(), "reading global status")?;
    let at = first_at.elapsed();
    let after = name_values(&rows);
    if with_trend {
        trend.extend(point(at, &after));
    }
    Ok(Sampled {
        status: after,
        sample_s: at.as_secs_f64(),
        trend,
    })
}

/// The transactions rolling back now (see [`ROLLING_BACK_SQL`]); a failed read leaves a note.
fn rollbacks(c: &mut Connection, notes: &mut Vec<String>) -> Vec<RollbackReading> {
    match c.rows(ROLLING_BACK_SQL, "reading rollbacks in progress") {
        Ok(rows) => rows
            .iter()
            .filter_map(|r| {
                Some(RollbackReading {
                    trx_id: text(r, 0)?,
                    session_id: num(r, 1)?,
                    rows_left: num(r, 2)?,
                })
            })
            .collect(),
        Err(e) => {
            notes.push(format!("{ROLLBACKS_NOT_READ_AGAIN}: {}", e.message));
            Vec::new()
        }
    }
}

/// Global status and the processlist in one round trip (each `watch` refresh). `snap` is the
/// full snapshot read when the connection was opened: it names the flavor and our own id.
pub fn read_live(
    c: &mut Connection,
    snap: &Snapshot,
) -> Result<(BTreeMap<String, String>, Vec<Session>), AppError> {
    let mut p = Plan::new();
    p.add(plan::STATUS, status_sql(), true, "").add(
        plan::PROCESSLIST,
        processlist_sql(snap.server.flavor, snap.server.processlist_source),
        true,
        "",
    );
    let mut results = p.run(c, "reading global status and the processlist");
    let status = results.required(plan::STATUS)?;
    let mut sessions = results.required(plan::PROCESSLIST)?;
    sessions.retain(|s| s.id != snap.access.connection_id);
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
            before_greeting: err.stage == Some(crate::exit::Stage::Greeting),
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
        rollbacks_after: Vec::new(),
        host_memory_bytes: None,
        host_cpu_cores: None,
        replication: Vec::new(),
        server_rss_bytes: None,
        accounts: None,
        host_cache: None,
        host_cache_after: None,
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

/// MemTotal from /proc/meminfo, in bytes.
fn local_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.saturating_mul(1024))
}
