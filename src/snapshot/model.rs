//! The serializable picture of a server that every judgement and report is made from.
//!
//! Plain data only: no SQL, no I/O. A snapshot read live and one loaded from a JSON file (a
//! post-mortem, or a recorded MySQL 8 / RDS server in the tests) are the same thing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::flavor::{Flavor, ProcesslistSource};
use crate::fast_hash::{HashMap, HashMapExt};

/// Bumped whenever a field changes meaning or disappears (adding fields does not bump it).
pub const SNAPSHOT_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    pub schema_version: u32,
    /// Unix time (seconds) when the snapshot was taken.
    pub taken_at: u64,
    /// Where we connected, without credentials (host:port or the socket path).
    pub target: String,
    pub server: ServerInfo,
    pub access: Access,
    /// Set when the server refused our own connection with ERROR 1040: nothing else could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<Refusal>,
    /// Global variables that matter here, lower-case names.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Global status, first reading, lower-case names.
    #[serde(default)]
    pub status: BTreeMap<String, String>,
    /// Global status, second reading `sample_s` later (absent with `--sample 0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_after: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub sample_s: f64,
    /// Threads_connected read about once a second through the sample (first reading at 0): the
    /// trend a forecast is fitted to. Empty without a sample.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trend: Vec<TrendPoint>,
    /// The processlist without our own session.
    #[serde(default)]
    pub sessions: Vec<Session>,
    /// Open InnoDB transactions (empty without the PROCESS privilege).
    #[serde(default)]
    pub transactions: Vec<Transaction>,
    /// Who waits for whom (row locks, metadata locks, table locks).
    #[serde(default)]
    pub lock_waits: Vec<LockWait>,
    /// The transactions that were rolling back, read again with the second status reading
    /// (`sample_s` after the first): how fast their rollback goes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollbacks_after: Vec<RollbackReading>,
    /// RAM of the server host in bytes, when known (flag, or /proc/meminfo for a local server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_memory_bytes: Option<u64>,
    /// CPU cores of the server host, for a local server only (this machine's
    /// `std::thread::available_parallelism`): a remote server's cores are unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_cpu_cores: Option<u64>,
    /// Resident memory (VmRSS) of the server process, for a local server whose process could be
    /// found (@@pid_file, checked to be mariadbd or mysqld).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_rss_bytes: Option<u64>,
    /// Account rows (mysql.user) with their own connection limits; None when not read (no
    /// privilege, or a command that does not need them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Vec<Account>>,
    /// Hosts with connection errors in `performance_schema.host_cache` (first reading); None when
    /// not read (performance_schema OFF, no privilege, or a command that does not judge them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_cache: Option<Vec<HostCacheEntry>>,
    /// The same rows read again with the second status reading (None without a sample).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_cache_after: Option<Vec<HostCacheEntry>>,
    /// User names of accounts with SYSTEM_USER (MySQL 8.0.16+, from mysql.global_grants), read
    /// when our account lacks SYSTEM_USER: their sessions cannot be killed by us (ERROR 1095).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_user_accounts: Vec<String>,
    /// This server's replication channels as a replica (empty on a server that replicates from
    /// nobody, or when the replica status could not be read: see `notes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replication: Vec<ReplicaChannel>,
    /// Problems met while reading optional parts (e.g. lock tables not readable): the rest is valid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ServerInfo {
    pub flavor: Flavor,
    /// `SELECT VERSION()`, e.g. `10.11.19-MariaDB-0+deb12u1` or `8.0.36`.
    pub version: String,
    #[serde(default)]
    pub version_comment: String,
    /// Parsed numeric version (major, minor, patch).
    pub version_number: (u16, u16, u16),
    /// Amazon RDS (basedir under /rdsdbbin/) or Aurora.
    #[serde(default)]
    pub rds: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aurora_version: Option<String>,
    pub processlist_source: ProcesslistSource,
    #[serde(default)]
    pub uptime_s: u64,
}

/// Who we are on the server and what we may do there.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Access {
    /// `CURRENT_USER()`, e.g. `admin@%`.
    pub user: String,
    /// Our own `CONNECTION_ID()` (never shown among the sessions, never killed).
    pub connection_id: u64,
    pub privileges: Privileges,
    pub route: Route,
    /// The user name we logged in as (`-u`), to suggest commands that log in the same way
    /// (`diagnose --from`); empty in snapshots written before it was recorded.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub login_user: String,
    /// How many tries our login took when the server refused us with ERROR 1040 before its
    /// greeting first (a retry storm holding the reserved slot); absent when the first got in.
    #[serde(default, skip_serializing_if = "tried_once")]
    pub login_tries: u32,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn tried_once(tries: &u32) -> bool {
    *tries <= 1
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Privileges {
    /// PROCESS: see every session, read INNODB_TRX and the lock tables.
    pub process: bool,
    /// SUPER: kill any session, set globals, use the reserved connection slot.
    #[serde(rename = "super")]
    pub super_: bool,
    /// CONNECTION_ADMIN (MySQL) / CONNECTION ADMIN (MariaDB): kill others, reserved slot.
    pub connection_admin: bool,
    /// SYSTEM_VARIABLES_ADMIN (MySQL) or SUPER: SET GLOBAL.
    pub system_variables_admin: bool,
    /// SYSTEM_USER (MySQL 8.0.16+): needed besides CONNECTION_ADMIN/SUPER to kill a session of
    /// an account that has it (WL#12364, ERROR 1095 otherwise).
    #[serde(default)]
    pub system_user: bool,
}

impl Privileges {
    /// Whether this account may kill other accounts' sessions at all. On MySQL 8.0.16+ without
    /// [`Privileges::system_user`] that excludes sessions of SYSTEM_USER accounts (root, admins).
    pub fn can_kill_others(&self) -> bool {
        self.super_ || self.connection_admin
    }
    pub fn can_set_globals(&self) -> bool {
        self.super_ || self.system_variables_admin
    }
    /// Whether this account may take the connection slot kept for admins (max_connections + 1),
    /// for reconnecting to a full server: SUPER or CONNECTION_ADMIN (MariaDB: CONNECTION ADMIN)
    /// say it may; without them it stays unknown (the grants may not have been readable).
    pub fn reserved_slot(&self) -> crate::connect::ReservedSlot {
        if self.super_ || self.connection_admin {
            crate::connect::ReservedSlot::Entitled
        } else {
            crate::connect::ReservedSlot::Unknown
        }
    }
}

/// One account row (`mysql.user`); `accounts::account_for` matches sessions to them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub user: String,
    pub host: String,
    /// The account's own MAX_USER_CONNECTIONS; 0 means the global max_user_connections applies.
    pub max_user_connections: u64,
    /// MAX_CONNECTIONS_PER_HOUR (mysql.user `max_connections`); 0 means none. ERROR 1226 once
    /// reached: the server keeps no counter we can read, `FLUSH USER_RESOURCES` resets it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_connections_per_hour: u64,
}

/// One client host of `performance_schema.host_cache` with connection errors (see
/// `snapshot::host_cache`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostCacheEntry {
    pub ip: String,
    /// The resolved name, None when unknown (or with skip_name_resolve).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Connection errors counted towards max_connect_errors (reset by a successful login).
    pub sum_connect_errors: u64,
    /// Connections refused with ERROR 1129 because the host was blocked.
    pub count_host_blocked_errors: u64,
    /// Errors in the wire protocol handshake (health checks that close early, port scanners).
    #[serde(default)]
    pub count_handshake_errors: u64,
}

/// How our connection got in.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Route {
    /// An ordinary slot below max_connections.
    #[default]
    Normal,
    /// The one extra slot (max_connections + 1) kept for SUPER / CONNECTION_ADMIN.
    ReservedSlot,
    /// MySQL admin_port or MariaDB extra_port.
    AdminPort,
}

/// One Threads_connected reading of the sample, `at_ms` after the first status reading.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct TrendPoint {
    pub at_ms: u64,
    pub threads_connected: u64,
}

/// Our own connection was refused with ERROR 1040.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Refusal {
    /// 1040.
    pub code: u16,
    /// The server's message, without driver prefixes.
    pub message: String,
    /// True when the refusal came before the greeting: even the reserved slot is taken.
    pub before_greeting: bool,
    /// The admin port we tried too, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_port_tried: Option<u16>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Session {
    pub id: u64,
    pub user: String,
    /// Client host as reported (`10.0.0.5:51234`, `localhost`).
    pub host: String,
    pub db: Option<String>,
    pub command: String,
    /// Seconds in the current state (idle time for Sleep).
    pub time_s: u64,
    /// Milliseconds in the current state where the server has it (MariaDB TIME_MS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<u64>,
    pub state: String,
    pub info: Option<String>,
    /// True when `info` was cut to fit a file (`snapshot -o`, an incident): at most
    /// [`crate::snapshot::saved::QUERY_TEXT_MAX`] characters of it are kept.
    #[serde(default, skip_serializing_if = "is_false")]
    pub info_truncated: bool,
    /// MariaDB QUERY_ID of the running statement (for `KILL QUERY ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_id: Option<u64>,
    /// Connection attribute program_name where the server exposes it (MySQL performance_schema).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    /// Memory the server has allocated for this session, in bytes, where it is measured:
    /// MariaDB `information_schema.PROCESSLIST.MEMORY_USED`, MySQL 8 performance_schema
    /// (`threads.TOTAL_MEMORY` from 8.0.31, else `memory_summary_by_thread_by_event_name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
}

/// What a processlist row is, for deciding what may be judged or killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionKind {
    /// An ordinary client connection.
    Client,
    /// Replication: a source's Binlog Dump thread, replica I/O / SQL / worker threads, group
    /// replication, clone.
    Replication,
    /// Server-internal: `system user`, `event_scheduler` / Daemon, background threads.
    System,
    /// Already killed, not yet gone.
    Killed,
}

/// Commands of replication threads (MySQL 8 and MariaDB spellings).
const REPLICATION_COMMANDS: &[&str] = &[
    "binlog dump",
    "binlog dump gtid",
    "register replica",
    "register slave",
    "table dump",
    "connect out",
    "slave_io",
    "slave_sql",
    "slave_worker",
    "clone",
    "group replication data stream subscription",
];

/// `items` by the id `id` gives each, the first of a duplicated id winning (as a scan finds it).
fn first_by_id<T>(items: &[T], id: impl Fn(&T) -> u64) -> HashMap<u64, &T> {
    let mut by = HashMap::with_capacity(items.len());
    for item in items {
        by.entry(id(item)).or_insert(item);
    }
    by
}

/// Whether `hay` contains `needle` (lower-case ASCII), ignoring ASCII case.
fn contains_ignore_ascii_case(hay: &str, needle: &str) -> bool {
    hay.len() >= needle.len()
        && hay
            .as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

impl Session {
    /// Classify the row. MySQL runs replica threads as `Connect`/`Query` under `system user`, so
    /// the user is checked before the command.
    pub fn kind(&self) -> SessionKind {
        // Compared case-insensitively in place: called for every session by most heuristics, so
        // no lower-cased copies (10,000 sessions).
        let (cmd, state) = (self.command.as_str(), self.state.as_str());
        if cmd.eq_ignore_ascii_case("killed") || state.eq_ignore_ascii_case("killed") {
            return SessionKind::Killed;
        }
        if REPLICATION_COMMANDS
            .iter()
            .any(|c| cmd.eq_ignore_ascii_case(c))
            || [
                "binlog to replica",
                "binlog to slave",
                "waiting for master to send event",
                "waiting for source to send event",
            ]
            .iter()
            .any(|needle| contains_ignore_ascii_case(state, needle))
        {
            return SessionKind::Replication;
        }
        if self.user == "system user"
            || self.user == "event_scheduler"
            || cmd.eq_ignore_ascii_case("daemon")
            || super::flavor::is_protected_user(&self.user)
        {
            return SessionKind::System;
        }
        SessionKind::Client
    }

    /// A source's `Binlog Dump` thread serving a replica: a connection the replica opened, so
    /// Threads_connected counts it, but background work, never a client's slot.
    pub fn is_binlog_dump(&self) -> bool {
        let cmd = self.command.as_bytes();
        cmd.len() >= 11 && cmd[..11].eq_ignore_ascii_case(b"binlog dump")
    }

    /// An ordinary client session (not replication, system, or already killed).
    pub fn is_client(&self) -> bool {
        self.kind() == SessionKind::Client
    }

    /// The client host without the `:port` suffix.
    pub fn client_host(&self) -> &str {
        strip_port(&self.host)
    }

    pub fn is_sleeping(&self) -> bool {
        self.command.eq_ignore_ascii_case("Sleep")
    }

    /// Time in the current state in seconds, with sub-second precision where known.
    pub fn time_secs_f64(&self) -> f64 {
        self.time_ms
            .map_or(self.time_s as f64, |ms| ms as f64 / 1000.0)
    }

    /// `user@host` without the port: the unit a connection pool or a leak shows up as.
    pub fn account(&self) -> String {
        format!("{}@{}", self.user, self.client_host())
    }
}

/// `10.0.0.5:51234` -> `10.0.0.5`; `[::1]:5000` -> `[::1]`; `2001:db8::5:40001` ->
/// `2001:db8::5` (the processlist appends `:port` to an IPv6 address without brackets:
/// table_processlist.cc, sql_show.cc); `localhost` unchanged. An IPv6 host keeps its last group
/// when what is left would not be an address (`2001:db8::5` has no port).
pub fn strip_port(host: &str) -> &str {
    // Most hosts (`localhost`, a name without a port) have no colon: one pass over a few bytes
    // (inline: memchr's call costs more than the scan on a host name).
    if !host.bytes().any(|b| b == b':') && !host.starts_with('[') {
        return host;
    }
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
        Some((h, p))
            if !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u16>().is_ok()
                && h.parse::<std::net::Ipv6Addr>().is_ok() =>
        {
            h
        }
        _ => host,
    }
}

/// An open InnoDB transaction (`information_schema.INNODB_TRX`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Transaction {
    pub trx_id: String,
    /// The processlist id of the session that owns it.
    pub session_id: u64,
    /// RUNNING, LOCK WAIT, ROLLING BACK, COMMITTING.
    pub state: String,
    /// Seconds since the transaction started.
    pub age_s: u64,
    /// Seconds it has been waiting for a lock, if it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_s: Option<u64>,
    pub rows_modified: u64,
    pub rows_locked: u64,
    pub query: Option<String>,
    /// True when `query` was cut to fit a file, as [`Session::info_truncated`].
    #[serde(default, skip_serializing_if = "is_false")]
    pub query_truncated: bool,
    /// An autocommit SELECT's own read-only transaction (`trx_autocommit_non_locking`): it ends
    /// with the statement and holds no lock beyond it, so KILL QUERY ends it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub autocommit_non_locking: bool,
}

/// A transaction in `ROLLING BACK` read again: `trx_rows_modified` counts the rows still to undo
/// (docs/server-facts.md, "Rollback of a killed transaction").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RollbackReading {
    pub trx_id: String,
    /// The processlist id of the session that owns it.
    pub session_id: u64,
    /// Rows still to undo.
    pub rows_left: u64,
}

fn is_false(b: &bool) -> bool {
    !b
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum LockKind {
    /// InnoDB row lock.
    Row,
    /// Metadata lock (DDL, LOCK TABLES, FLUSH).
    Metadata,
    /// Table-level lock (MyISAM, LOCK TABLES).
    Table,
    /// The global read lock or a backup lock (`FLUSH TABLES WITH READ LOCK`, `BACKUP STAGE`,
    /// `LOCK INSTANCE FOR BACKUP`) and MySQL's commit lock: one holder stops every writer.
    Global,
    /// A user lock (`GET_LOCK`), named in `object`.
    User,
    /// A table flush (`Waiting for table flush`): waits for the statements using the table.
    Flush,
}

/// One session waiting for a lock, and who holds it when the server can tell.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LockWait {
    pub kind: LockKind,
    pub waiting_id: u64,
    /// None when the server does not expose the holder (MariaDB metadata locks without the
    /// metadata_lock_info plugin): the diagnosis then infers it.
    pub blocking_id: Option<u64>,
    /// `schema.table` when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    pub wait_s: u64,
}

impl Snapshot {
    /// A copy of everything but the sessions (left empty): a snapshot file writes its sessions
    /// apart (`render::snapshot_file`), and copying 10,000 of them only to leave them out would
    /// be the largest allocation of a `snapshot`. Every field is named, so that a field added to
    /// the snapshot cannot be left out of the copy.
    pub fn without_sessions(&self) -> Snapshot {
        let Snapshot {
            schema_version,
            taken_at,
            target,
            server,
            access,
            refused,
            variables,
            status,
            status_after,
            sample_s,
            trend,
            sessions: _,
            transactions,
            lock_waits,
            rollbacks_after,
            host_memory_bytes,
            host_cpu_cores,
            server_rss_bytes,
            accounts,
            host_cache,
            host_cache_after,
            system_user_accounts,
            replication,
            notes,
        } = self;
        Snapshot {
            schema_version: *schema_version,
            taken_at: *taken_at,
            target: target.clone(),
            server: server.clone(),
            access: access.clone(),
            refused: refused.clone(),
            variables: variables.clone(),
            status: status.clone(),
            status_after: status_after.clone(),
            sample_s: *sample_s,
            trend: trend.clone(),
            sessions: Vec::new(),
            transactions: transactions.clone(),
            lock_waits: lock_waits.clone(),
            rollbacks_after: rollbacks_after.clone(),
            host_memory_bytes: *host_memory_bytes,
            host_cpu_cores: *host_cpu_cores,
            server_rss_bytes: *server_rss_bytes,
            accounts: accounts.clone(),
            host_cache: host_cache.clone(),
            host_cache_after: host_cache_after.clone(),
            system_user_accounts: system_user_accounts.clone(),
            replication: replication.clone(),
            notes: notes.clone(),
        }
    }

    /// A global variable as a number (`ON`/`OFF` count as 1/0).
    pub fn var_u64(&self, name: &str) -> Option<u64> {
        self.variables.get(name).and_then(|v| parse_num(v))
    }

    pub fn var_f64(&self, name: &str) -> Option<f64> {
        self.variables.get(name).and_then(|v| v.trim().parse().ok())
    }

    pub fn var_str(&self, name: &str) -> Option<&str> {
        self.variables.get(name).map(String::as_str)
    }

    /// A boolean variable: ON/OFF, 1/0, YES/NO, TRUE/FALSE.
    pub fn var_bool(&self, name: &str) -> Option<bool> {
        self.variables.get(name).and_then(|v| parse_bool(v))
    }

    /// A status counter from the first reading.
    pub fn status_u64(&self, name: &str) -> Option<u64> {
        self.status.get(name).and_then(|v| parse_num(v))
    }

    /// A status value from the last reading (the second one when sampling).
    pub fn status_now_u64(&self, name: &str) -> Option<u64> {
        self.status_after
            .as_ref()
            .and_then(|s| s.get(name))
            .and_then(|v| parse_num(v))
            .or_else(|| self.status_u64(name))
    }

    /// How much a counter grew during the sample (None without a second reading).
    pub fn status_delta(&self, name: &str) -> Option<u64> {
        let after = self
            .status_after
            .as_ref()?
            .get(name)
            .and_then(|v| parse_num(v))?;
        Some(after.saturating_sub(self.status_u64(name)?))
    }

    /// Growth per second during the sample, or the lifetime average when there was no sample.
    pub fn status_rate(&self, name: &str) -> Option<f64> {
        match self.status_delta(name) {
            Some(d) if self.sample_s > 0.0 => Some(d as f64 / self.sample_s),
            _ => {
                let uptime = self.status_u64("uptime").filter(|u| *u > 0)?;
                Some(self.status_u64(name)? as f64 / uptime as f64)
            }
        }
    }

    pub fn max_connections(&self) -> u64 {
        self.var_u64("max_connections").unwrap_or(151)
    }

    /// Connections open right now, counting us (Threads_connected, latest reading).
    pub fn threads_connected(&self) -> u64 {
        self.status_now_u64("threads_connected")
            .unwrap_or(self.sessions.len() as u64 + 1)
    }

    /// Threads_connected / max_connections in percent.
    pub fn usage_pct(&self) -> f64 {
        let max = self.max_connections().max(1);
        self.threads_connected() as f64 * 100.0 / max as f64
    }

    /// The session with processlist id `id`: a scan, for reports and plans that look up a few
    /// ids. Judgement looks ids up in its index (`diagnose::Analysis`).
    pub fn session(&self, id: u64) -> Option<&Session> {
        self.sessions.iter().find(|s| s.id == id)
    }

    /// The open transaction of session `session_id`: a scan, like [`Snapshot::session`].
    pub fn transaction_of(&self, session_id: u64) -> Option<&Transaction> {
        self.transactions
            .iter()
            .find(|t| t.session_id == session_id)
    }

    /// Every session by its id (the first row wins, as [`Snapshot::session`] finds it): built
    /// once where thousands of ids are looked up, in place of a scan per id.
    pub fn sessions_by_id(&self) -> HashMap<u64, &Session> {
        first_by_id(&self.sessions, |s| s.id)
    }

    /// Every open transaction by the session that holds it (the first row wins, as
    /// [`Snapshot::transaction_of`] finds it), for the same reason.
    pub fn transactions_by_session(&self) -> HashMap<u64, &Transaction> {
        first_by_id(&self.transactions, |t| t.session_id)
    }

    /// The client sessions (no replication, system or killed rows), in processlist order.
    pub fn clients(&self) -> impl Iterator<Item = &Session> {
        self.sessions.iter().filter(|s| s.is_client())
    }

    // `dialect` and `sees_all_sessions` are in `super::dialect`, which knows what each server
    // can do.
}

/// A numeric variable or status value; ON/OFF style booleans count as 1/0.
pub fn parse_num(v: &str) -> Option<u64> {
    let t = v.trim();
    t.parse::<u64>()
        .ok()
        .or_else(|| {
            t.parse::<f64>()
                .ok()
                .filter(|f| *f >= 0.0)
                .map(crate::units::float_to_u64)
        })
        .or_else(|| parse_bool(t).map(u64::from))
}

pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_uppercase().as_str() {
        "ON" | "1" | "YES" | "TRUE" => Some(true),
        "OFF" | "0" | "NO" | "FALSE" => Some(false),
        _ => None,
    }
}

/// One replication channel of a replica.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReplicaChannel {
    /// MariaDB's `Connection_name` / MySQL's `Channel_Name` ("" for the default one).
    #[serde(default)]
    pub name: String,
    /// `Master_Host` / `Source_Host`.
    #[serde(default)]
    pub source_host: String,
    /// `Slave_IO_Running` / `Replica_IO_Running`: `Yes`, `No` or `Connecting`.
    #[serde(default)]
    pub io_running: String,
    /// `Slave_SQL_Running` / `Replica_SQL_Running`: `Yes` or `No`.
    #[serde(default)]
    pub sql_running: String,
    /// `Seconds_Behind_Master` / `Seconds_Behind_Source`: NULL while a thread is stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_behind: Option<u64>,
    /// `Slave_SQL_Running_State` / `Replica_SQL_Running_State`: what the SQL thread does.
    #[serde(default)]
    pub sql_state: String,
    #[serde(default)]
    pub last_sql_errno: u64,
    #[serde(default)]
    pub last_sql_error: String,
    #[serde(default)]
    pub last_io_errno: u64,
    #[serde(default)]
    pub last_io_error: String,
}

impl ReplicaChannel {
    pub fn sql_running(&self) -> bool {
        self.sql_running.eq_ignore_ascii_case("yes")
    }
    pub fn io_running(&self) -> bool {
        self.io_running.eq_ignore_ascii_case("yes")
    }
    /// `'name'` for statements naming the channel, or nothing for the default one.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            "the default channel".into()
        } else {
            format!("channel '{}'", crate::text::escape(&self.name))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_ports() {
        assert_eq!(strip_port("10.0.0.5:51234"), "10.0.0.5");
        assert_eq!(strip_port("localhost"), "localhost");
        assert_eq!(strip_port("[::1]:5000"), "[::1]");
        assert_eq!(strip_port("fe80::1"), "fe80::1");
        // MySQL 8 performance_schema.processlist and I_S: `host:port` without brackets.
        assert_eq!(strip_port("2001:db8::5:40001"), "2001:db8::5");
        assert_eq!(strip_port("2001:db8::5:40002"), "2001:db8::5");
        assert_eq!(strip_port("::1:53422"), "::1");
        assert_eq!(strip_port("::ffff:10.0.0.5:51234"), "::ffff:10.0.0.5");
        assert_eq!(strip_port("::1"), "::1");
        assert_eq!(strip_port("2001:db8::5:99999"), "2001:db8::5:99999");
        assert_eq!(strip_port("app-1.example.com:3306"), "app-1.example.com");
        assert_eq!(strip_port(""), "");
    }

    #[test]
    fn session_kinds() {
        let s = |user: &str, command: &str, state: &str| Session {
            user: user.into(),
            command: command.into(),
            state: state.into(),
            ..Session::default()
        };
        assert_eq!(s("app", "Sleep", "").kind(), SessionKind::Client);
        assert_eq!(s("app", "Query", "User sleep").kind(), SessionKind::Client);
        assert_eq!(
            s(
                "repl",
                "Binlog Dump GTID",
                "Source has sent all binlog to replica; waiting for more updates"
            )
            .kind(),
            SessionKind::Replication
        );
        assert_eq!(
            s(
                "repl",
                "Binlog Dump",
                "Master has sent all binlog to slave; waiting for more updates"
            )
            .kind(),
            SessionKind::Replication
        );
        assert_eq!(
            s(
                "system user",
                "Slave_IO",
                "Waiting for master to send event"
            )
            .kind(),
            SessionKind::Replication
        );
        assert_eq!(
            s("system user", "Connect", "Waiting for source to send event").kind(),
            SessionKind::Replication
        );
        assert_eq!(
            s(
                "system user",
                "Query",
                "Replica has read all relay log; waiting for more updates"
            )
            .kind(),
            SessionKind::System
        );
        assert_eq!(
            s("event_scheduler", "Daemon", "Waiting on empty queue").kind(),
            SessionKind::System
        );
        assert_eq!(s("app", "Killed", "").kind(), SessionKind::Killed);
        assert_eq!(s("app", "Query", "Killed").kind(), SessionKind::Killed);
        // Case does not matter, anywhere in the state.
        assert_eq!(s("app", "KILLED", "").kind(), SessionKind::Killed);
        assert_eq!(
            s("repl", "BINLOG DUMP GTID", "").kind(),
            SessionKind::Replication
        );
        assert_eq!(
            s(
                "repl",
                "Query",
                "Master has sent all BINLOG TO SLAVE; waiting"
            )
            .kind(),
            SessionKind::Replication
        );
        assert_eq!(s("x", "DAEMON", "").kind(), SessionKind::System);
        assert_eq!(s("app", "Sleep", "binlog").kind(), SessionKind::Client);
        // RDS/Aurora's own sessions are neither clients nor kill candidates.
        assert_eq!(s("rdsadmin", "Sleep", "").kind(), SessionKind::System);
        assert_eq!(s("rdsrepladmin", "Sleep", "").kind(), SessionKind::System);
    }

    #[test]
    fn numbers_and_booleans() {
        assert_eq!(parse_num("151"), Some(151));
        assert_eq!(parse_num("10.000000"), Some(10));
        assert_eq!(parse_num("ON"), Some(1));
        assert_eq!(parse_num("abc"), None);
        assert_eq!(parse_bool("off"), Some(false));
    }
}
