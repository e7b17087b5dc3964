//! What a detected server can do and how to ask it: the answers the readers, judgements and
//! remedies need about a flavor, in one place.
//!
//! Built from [`ServerInfo`] and the global variables already read, so it is pure: unit-tested
//! for every flavor we cannot run here (MySQL 5.7/8.0/8.4, Percona, RDS, Aurora). Each answer
//! names where it comes from (the server source or manual, see
//! `docs/server-facts.md`). Sends no SQL.

use std::collections::BTreeMap;

use super::flavor::{self, Flavor, ProcesslistSource};
use super::model::{ServerInfo, Snapshot, parse_bool};
use super::thread_memory;

/// How a changed global survives a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// `SET PERSIST` (MySQL 8.0+).
    SetPersist,
    /// A `[mysqld]` snippet for my.cnf.
    ConfigFile,
    /// The DB parameter group (RDS/Aurora: no SET GLOBAL).
    ParameterGroup,
}

/// How the open-files limit caps max_connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DescriptorCap {
    /// MySQL: `open_files_limit - 810`.
    Fixed810,
    /// MariaDB: `open_files_limit - 10 - 2 × table_open_cache`.
    TableCacheReserved,
}

/// The dialect of one server. `Default` is a MySQL server of unknown version (what a link uses
/// before it has read the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dialect {
    pub flavor: Flavor,
    pub version: (u16, u16, u16),
    pub rds: bool,
    /// `@@performance_schema` is ON.
    pub performance_schema: bool,
}

impl Dialect {
    pub fn new(server: &ServerInfo, variables: &BTreeMap<String, String>) -> Dialect {
        Dialect {
            flavor: server.flavor,
            version: server.version_number,
            rds: server.rds,
            performance_schema: variables
                .get("performance_schema")
                .and_then(|v| parse_bool(v))
                .unwrap_or(false),
        }
    }

    fn mysql(&self) -> bool {
        !self.flavor.is_mariadb()
    }

    /// Where the main processlist read comes from (see `flavor::processlist_source`).
    pub fn processlist_source(&self) -> ProcesslistSource {
        flavor::processlist_source(self.flavor, self.version, self.performance_schema)
    }

    /// Where the re-read right before a kill comes from: `information_schema.PROCESSLIST`
    /// everywhere, because `performance_schema.processlist` never shows `Killed`
    /// (table_processlist.cc takes COMMAND from `m_command`), and a session still rolling back
    /// after a kill must not be selected again. One read per kill round: its global mutex costs
    /// nothing there.
    pub fn recheck_source(&self) -> ProcesslistSource {
        ProcesslistSource::InformationSchema
    }

    /// Whether `performance_schema.session_connect_attrs` can name each session's program
    /// (`program_name`, `_client_name`): MySQL 5.6+ and MariaDB 10.0+, only with
    /// performance_schema ON (the table is not perpetual: empty when OFF). It needs SELECT on
    /// performance_schema on MySQL (`pfs_readonly_acl`), so it is read on its own and may fail.
    pub fn reads_connect_attrs(&self) -> bool {
        self.performance_schema
    }

    /// Whether `performance_schema.host_cache` can name blocked hosts: it is empty with
    /// performance_schema OFF (docs/refusals.md "ERROR 1129").
    pub fn reads_host_cache(&self) -> bool {
        self.performance_schema
    }

    /// Where each session's memory is measured on this server, if anywhere
    /// ([`thread_memory::source`]).
    pub fn memory(&self) -> Option<thread_memory::Source> {
        thread_memory::source(self.flavor, self.version, self.performance_schema)
    }

    /// The same, as reports name it.
    pub fn memory_source(&self) -> Option<&'static str> {
        self.memory().map(thread_memory::Source::name)
    }

    /// Whether `information_schema.METADATA_LOCK_INFO` (MariaDB's `metadata_lock_info` plugin)
    /// can name metadata-lock holders: MariaDB only; absent until the plugin is installed.
    pub fn reads_metadata_lock_info(&self) -> bool {
        self.flavor.is_mariadb()
    }

    /// The statement that reads this server's replica channels (docs/replication.md): every
    /// named connection on MariaDB, the renamed statement from MySQL 8.0.22.
    pub fn replica_status_sql(&self) -> &'static str {
        if self.flavor.is_mariadb() {
            "SHOW ALL SLAVES STATUS"
        } else if self.version >= (8, 0, 22) {
            "SHOW REPLICA STATUS"
        } else {
            "SHOW SLAVE STATUS"
        }
    }

    /// The statement that restarts a channel's SQL (applier) thread after its error is fixed.
    pub fn start_replica_sql_thread(&self, channel: &str) -> String {
        let quoted = channel.replace('\\', "\\\\").replace('\'', "''");
        if self.flavor.is_mariadb() {
            if channel.is_empty() {
                "START SLAVE SQL_THREAD".into()
            } else {
                format!("START SLAVE '{quoted}' SQL_THREAD")
            }
        } else {
            let verb = if self.version >= (8, 0, 22) {
                "START REPLICA"
            } else {
                "START SLAVE"
            };
            if channel.is_empty() {
                format!("{verb} SQL_THREAD")
            } else {
                format!("{verb} SQL_THREAD FOR CHANNEL '{quoted}'")
            }
        }
    }

    /// The privilege reading the replica status needs (docs/replication.md).
    pub fn replica_status_needs(&self) -> &'static str {
        if self.flavor.is_mariadb() && self.version >= (10, 5, 9) {
            "SLAVE MONITOR or SUPER"
        } else if self.flavor.is_mariadb() && self.version >= (10, 5, 2) {
            "REPLICATION SLAVE ADMIN or SUPER"
        } else {
            "REPLICATION CLIENT or SUPER"
        }
    }

    /// Whether the MySQL 8 lock tables (`data_lock_waits`, `data_locks`, `metadata_locks`,
    /// `threads`) are the lock source. They exist on MySQL 8.0.1+.
    pub fn has_data_lock_waits(&self) -> bool {
        flavor::has_data_lock_waits(self.flavor, self.version)
    }

    /// Why lock holders cannot be named from the lock tables, if they cannot: MySQL 8's
    /// performance_schema lock tables are not perpetual, so with performance_schema OFF (the RDS
    /// default without Performance Insights) they answer with no rows and no error
    /// (ha_perfschema.cc).
    pub fn lock_tables_unavailable(&self) -> Option<String> {
        if self.has_data_lock_waits() && !self.performance_schema {
            let enable = if self.rds {
                "set performance_schema = 1 in the DB parameter group (or turn on Performance Insights) and reboot"
            } else {
                "start the server with performance_schema = ON (my.cnf [mysqld]; not dynamic)"
            };
            Some(format!(
                "lock holders cannot be named: performance_schema is OFF, so data_lock_waits and metadata_locks are empty; waiters are still seen in INNODB_TRX (LOCK WAIT) and the processlist states; to name holders, {enable}"
            ))
        } else {
            None
        }
    }

    /// Whether killing a session of an account with SYSTEM_USER needs SYSTEM_USER too (MySQL
    /// 8.0.16+, WL#12364: ER_KILL_DENIED_ERROR 1095 otherwise).
    pub fn system_user_guards_kill(&self) -> bool {
        self.mysql() && self.version >= (8, 0, 16)
    }

    /// Whether SUPER lets an account see every session. MySQL checks only PROCESS for the
    /// processlist and INNODB_TRX (`PROCESS_ACL`); MariaDB before 10.5.2 let SUPER imply it.
    pub fn super_sees_all(&self) -> bool {
        self.flavor.is_mariadb() && self.version < (10, 5, 2)
    }

    /// The privilege killing another account's session needs, spelled for this server.
    pub fn kill_privilege(&self) -> &'static str {
        if self.rds {
            "the RDS master user (CALL mysql.rds_kill)"
        } else if self.flavor.is_mariadb() {
            "CONNECTION ADMIN or SUPER"
        } else if self.system_user_guards_kill() {
            "CONNECTION_ADMIN or SUPER, plus SYSTEM_USER for sessions of SYSTEM_USER accounts"
        } else {
            "CONNECTION_ADMIN or SUPER"
        }
    }

    /// Whether the account conncheck normally uses on this server can take the reserved
    /// `max_connections + 1` slot. On RDS MySQL the master user has neither CONNECTION_ADMIN nor
    /// SUPER before 8.0.36 (AWS "Master user account privileges"), so no account a customer can
    /// log in as gets that slot; Aurora MySQL 3's master user has CONNECTION_ADMIN.
    pub fn master_has_reserved_slot(&self) -> bool {
        !(self.rds && self.flavor != Flavor::Aurora && self.version < (8, 0, 36))
    }

    /// How a changed global is made to survive a restart.
    pub fn persistence(&self) -> Persistence {
        if self.rds {
            // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithParamGroups.html
            Persistence::ParameterGroup
        } else if self.mysql() && self.version >= (8, 0, 0) {
            // https://dev.mysql.com/doc/refman/8.0/en/persisted-system-variables.html
            Persistence::SetPersist
        } else {
            Persistence::ConfigFile
        }
    }

    /// The server-wide statement time limit: variable name and how many of its units make one
    /// second. MariaDB `max_statement_time` (seconds, every statement, 10.1.1+); MySQL
    /// `max_execution_time` (milliseconds, read-only SELECTs only, 5.7.8+).
    pub fn statement_time_variable(&self) -> (&'static str, u64) {
        if self.flavor.is_mariadb() {
            ("max_statement_time", 1)
        } else {
            ("max_execution_time", 1000)
        }
    }

    /// The variable and level that log each aborted connection with user and host: MySQL 8
    /// `log_error_verbosity` 3, MariaDB `log_warnings` 2.
    pub fn aborted_connection_logging(&self) -> (&'static str, u64) {
        if self.flavor.is_mariadb() {
            ("log_warnings", 2)
        } else {
            ("log_error_verbosity", 3)
        }
    }

    /// How the open-files limit caps max_connections at startup: MySQL keeps
    /// `open_files_limit - 810` (mysqld.cc `adjust_max_connections`), MariaDB
    /// `open_files_limit - 10 - 2 × table_open_cache`.
    pub fn descriptor_cap(&self) -> DescriptorCap {
        if self.flavor.is_mariadb() {
            DescriptorCap::TableCacheReserved
        } else {
            DescriptorCap::Fixed810
        }
    }

    /// Whether `SET GLOBAL max_user_connections` can fail at runtime: MariaDB refuses to raise
    /// it from 0 when the server started with 0 (ERROR 1290, seen live on 10.11), so the limit
    /// goes to the config file for the next restart.
    pub fn max_user_connections_static_from_zero(&self) -> bool {
        self.flavor.is_mariadb()
    }

    /// The lowest `max_connections` the server sets, and the product that says so: MariaDB
    /// clamps anything lower to 10 with warning 1292 (its manual: "Minimum Value 10"; seen live on
    /// 10.11), MySQL accepts 1 (docs/settings-ranges.md).
    pub fn max_connections_minimum(&self) -> (u64, &'static str) {
        if self.flavor.is_mariadb() {
            (10, "MariaDB")
        } else {
            (1, "MySQL")
        }
    }

    /// The systemd unit the server usually runs as.
    pub fn service_name(&self) -> &'static str {
        if self.flavor.is_mariadb() {
            "mariadb"
        } else {
            "mysql"
        }
    }

    /// The same server with the RDS procedures forced for kills (`kill-* --rds`, for an RDS
    /// server conncheck did not recognise).
    pub fn with_rds_procedures(self, force: bool) -> Dialect {
        Dialect {
            rds: self.rds || force,
            ..self
        }
    }

    /// Whether global settings live in a DB parameter group (RDS/Aurora): no `SET GLOBAL`, and
    /// every change (max_connections included, a dynamic parameter there) goes through
    /// `aws rds modify-db-parameter-group`.
    /// https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithParamGroups.html
    pub fn parameter_group(&self) -> bool {
        self.persistence() == Persistence::ParameterGroup
    }

    /// The statement that ends a whole session. RDS/Aurora have no SUPER / CONNECTION_ADMIN for
    /// customers: `CALL mysql.rds_kill(id)`
    /// (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Appendix.MySQL.CommonDBATasks.html#Appendix.MySQL.CommonDBATasks.Kill);
    /// elsewhere `KILL CONNECTION id` (https://dev.mysql.com/doc/refman/8.0/en/kill.html).
    /// Ids are integers from the server, never user text.
    pub fn kill_connection(&self, id: u64) -> String {
        if self.rds {
            format!("CALL mysql.rds_kill({id})")
        } else {
            format!("KILL CONNECTION {id}")
        }
    }

    /// The statement that ends a session's running statement. RDS/Aurora
    /// `CALL mysql.rds_kill_query(id)`; MariaDB kills by query id when known, so a session that
    /// has moved on to its next statement is never hit (`KILL QUERY ID`,
    /// https://mariadb.com/kb/en/kill/); MySQL `KILL QUERY id`.
    pub fn kill_query(&self, id: u64, query_id: Option<u64>) -> String {
        match (self.rds, self.flavor.is_mariadb(), query_id) {
            (true, _, _) => format!("CALL mysql.rds_kill_query({id})"),
            (false, true, Some(q)) => format!("KILL QUERY ID {q}"),
            _ => format!("KILL QUERY {id}"),
        }
    }

    /// The short spelling of a session kill a person pastes: `KILL id` (the manual's form,
    /// CONNECTION is the default), or `CALL mysql.rds_kill(id)` on RDS/Aurora.
    pub fn kill_to_paste(&self, id: u64) -> String {
        if self.rds {
            format!("CALL mysql.rds_kill({id})")
        } else {
            format!("KILL {id}")
        }
    }

    /// How to unblock the hosts blocked with ERROR 1129 (empty the host cache): the statement,
    /// and the admin tool's command. MySQL 8.0.23 deprecated FLUSH HOSTS for a TRUNCATE of the
    /// host cache table; MariaDB keeps FLUSH HOSTS (docs/refusals.md "ERROR 1129").
    pub fn flush_hosts(&self) -> (&'static str, &'static str) {
        if self.mysql() && self.version >= (8, 0, 23) {
            (
                "TRUNCATE TABLE performance_schema.host_cache",
                "mysqladmin flush-hosts",
            )
        } else if self.mysql() {
            ("FLUSH HOSTS", "mysqladmin flush-hosts")
        } else {
            ("FLUSH HOSTS", "mariadb-admin flush-hosts")
        }
    }

    /// Whether a KILL is checked against our own account's privileges (CONNECTION_ADMIN/SUPER
    /// for other accounts' sessions, SYSTEM_USER for theirs). Not on RDS/Aurora: kills go
    /// through `mysql.rds_kill`, a procedure the master user may call for any client session.
    pub fn kill_checks_own_privileges(&self) -> bool {
        !self.rds
    }

    /// The hint for a refused `SET GLOBAL` (ERROR 1227): MariaDB needs SUPER or a narrower admin
    /// privilege (https://mariadb.com/kb/en/set/#global-session); MySQL 8
    /// SYSTEM_VARIABLES_ADMIN or SUPER
    /// (https://dev.mysql.com/doc/refman/8.0/en/system-variable-privileges.html).
    pub fn set_global_privilege_hint(&self) -> &'static str {
        if self.flavor.is_mariadb() {
            "SET GLOBAL needs SUPER (or, for some variables, a narrower admin privilege) on MariaDB: connect as an admin"
        } else {
            "SET GLOBAL needs SYSTEM_VARIABLES_ADMIN or SUPER on MySQL 8: GRANT SYSTEM_VARIABLES_ADMIN ON *.* TO ..."
        }
    }

    /// How to see metadata-lock holders by hand: MariaDB's `metadata_lock_info` plugin
    /// (https://mariadb.com/kb/en/metadata-lock-info-plugin/); MySQL's
    /// `sys.schema_table_lock_waits` (https://dev.mysql.com/doc/refman/8.0/en/sys-schema-table-lock-waits.html).
    pub fn metadata_lock_holders_advice(&self) -> &'static str {
        if self.reads_metadata_lock_info() {
            "to see metadata-lock holders: INSTALL SONAME 'metadata_lock_info'; then SELECT * FROM information_schema.METADATA_LOCK_INFO"
        } else {
            "to see metadata-lock holders: SELECT * FROM sys.schema_table_lock_waits (performance_schema metadata lock instrument)"
        }
    }

    /// Whether one statement or one account can carry its own time limit in seconds, for every
    /// statement: MariaDB's `SET STATEMENT max_statement_time=N FOR …`
    /// (https://mariadb.com/kb/en/set-statement/) and `ALTER USER … WITH MAX_STATEMENT_TIME`
    /// (https://mariadb.com/kb/en/create-user/#resource-limit-options). MySQL has the
    /// `MAX_EXECUTION_TIME` optimizer hint instead, SELECT only, in milliseconds
    /// (https://dev.mysql.com/doc/refman/8.0/en/optimizer-hints.html#optimizer-hints-execution-time).
    pub fn has_set_statement_time(&self) -> bool {
        self.flavor.is_mariadb()
    }

    /// The variable that closes sessions idle inside a transaction, if the server has one:
    /// MariaDB `idle_transaction_timeout` (10.3+,
    /// https://mariadb.com/kb/en/server-system-variables/#idle_transaction_timeout). MySQL has
    /// none (only wait_timeout).
    pub fn idle_transaction_timeout(&self) -> Option<&'static str> {
        self.flavor
            .is_mariadb()
            .then_some("idle_transaction_timeout")
    }

    /// The SQL that re-reads the processlist from `source` on this server.
    pub fn processlist_sql(&self, source: ProcesslistSource) -> String {
        super::sql::processlist_sql(self.flavor, source)
    }

    /// The statements that guard our own session (see `flavor::session_guards`).
    pub fn session_guards(&self, query_timeout_s: u64) -> Vec<String> {
        flavor::session_guards(self.flavor, self.version, query_timeout_s)
    }

    /// Whether `thread_handling` names a thread pool, where connections do not own a thread:
    /// MariaDB `pool-of-threads`, MySQL Enterprise / Percona `loaded-dynamically`, Aurora
    /// `thread-pools` (a real Aurora 3.02.2 capture).
    pub fn is_thread_pool(thread_handling: &str) -> bool {
        thread_handling.contains("pool-of-threads")
            || thread_handling.contains("loaded-dynamically")
            || thread_handling.contains("thread-pools")
    }

    /// Whether a user name is the provider's own (never a client, never killed).
    pub fn is_protected_user(user: &str) -> bool {
        flavor::is_protected_user(user)
    }
}

impl Snapshot {
    /// What this server can do and how to ask it.
    pub fn dialect(&self) -> Dialect {
        Dialect::new(&self.server, &self.variables)
    }

    /// Whether we can see every session (PROCESS privilege) or only our own. SUPER counts only
    /// where the server lets it imply PROCESS (old MariaDB): MySQL checks PROCESS alone.
    pub fn sees_all_sessions(&self) -> bool {
        self.access.privileges.process
            || (self.access.privileges.super_ && self.dialect().super_sees_all())
    }
}

/// Client connections the processlist read does not list, on servers whose processlist hides
/// them: MySQL 8's `performance_schema.processlist` drops every thread that has not finished
/// authenticating (table_processlist.cc `make_row`: "Ignore background threads" skips an empty
/// user), exactly the connections of a login storm (slow DNS, TLS, auth plugins). They are
/// Threads_connected (client connections only, connection_handler_manager.cc) minus the client
/// connections listed, ourselves included. Known only when we see every session; `None`
/// elsewhere (information_schema lists them as `unauthenticated user`).
pub fn unlisted_connections(snap: &Snapshot) -> Option<u64> {
    if snap.server.processlist_source != ProcesslistSource::PerformanceSchema
        || !snap.sees_all_sessions()
    {
        return None;
    }
    let connected = snap.status_u64("threads_connected")?;
    // Server threads are listed but are not connections: the event scheduler, replica
    // receiver/applier/workers (`system user`), daemons.
    let listed = snap
        .sessions
        .iter()
        .filter(|s| {
            !(s.user == "system user"
                || s.user == "event_scheduler"
                || s.command.eq_ignore_ascii_case("daemon"))
        })
        .count() as u64
        + 1;
    Some(connected.saturating_sub(listed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(flavor: Flavor, version: (u16, u16, u16), rds: bool, ps: bool) -> Dialect {
        Dialect {
            flavor,
            version,
            rds,
            performance_schema: ps,
        }
    }

    #[test]
    fn lock_tables_need_performance_schema_on_mysql8() {
        let rds_default = d(Flavor::Mysql, (8, 0, 41), true, false);
        let note = rds_default.lock_tables_unavailable().unwrap();
        assert!(note.contains("performance_schema is OFF"));
        assert!(note.contains("parameter group"));
        assert!(
            d(Flavor::Mysql, (8, 0, 41), false, false)
                .lock_tables_unavailable()
                .unwrap()
                .contains("my.cnf")
        );
        assert_eq!(
            d(Flavor::Mysql, (8, 0, 41), false, true).lock_tables_unavailable(),
            None
        );
        // MariaDB and 5.7 read INNODB_LOCK_WAITS, which does not depend on performance_schema.
        assert_eq!(
            d(Flavor::Mariadb, (10, 11, 6), false, false).lock_tables_unavailable(),
            None
        );
        assert_eq!(
            d(Flavor::Mysql, (5, 7, 44), false, false).lock_tables_unavailable(),
            None
        );
    }

    #[test]
    fn kills_are_rechecked_where_killed_shows() {
        for f in [
            Flavor::Mysql,
            Flavor::Percona,
            Flavor::Aurora,
            Flavor::Mariadb,
        ] {
            assert_eq!(
                d(f, (8, 0, 36), false, true).recheck_source(),
                ProcesslistSource::InformationSchema
            );
        }
    }

    #[test]
    fn system_user_and_super() {
        assert!(d(Flavor::Mysql, (8, 0, 16), false, true).system_user_guards_kill());
        assert!(!d(Flavor::Mysql, (8, 0, 15), false, true).system_user_guards_kill());
        assert!(!d(Flavor::Mariadb, (10, 11, 6), false, true).system_user_guards_kill());
        assert!(
            d(Flavor::Mysql, (8, 4, 0), false, true)
                .kill_privilege()
                .contains("SYSTEM_USER")
        );
        assert!(!d(Flavor::Mysql, (8, 0, 36), false, true).super_sees_all());
        assert!(d(Flavor::Mariadb, (10, 4, 0), false, true).super_sees_all());
        assert!(!d(Flavor::Mariadb, (10, 11, 6), false, true).super_sees_all());
    }

    #[test]
    fn persistence_and_variables_per_flavor() {
        assert_eq!(
            d(Flavor::Mysql, (8, 0, 36), false, true).persistence(),
            Persistence::SetPersist
        );
        assert_eq!(
            d(Flavor::Mysql, (5, 7, 44), false, true).persistence(),
            Persistence::ConfigFile
        );
        assert_eq!(
            d(Flavor::Mariadb, (10, 11, 6), false, false).persistence(),
            Persistence::ConfigFile
        );
        assert_eq!(
            d(Flavor::Aurora, (8, 0, 32), true, true).persistence(),
            Persistence::ParameterGroup
        );
        assert_eq!(
            d(Flavor::Mariadb, (10, 11, 6), false, false).statement_time_variable(),
            ("max_statement_time", 1)
        );
        assert_eq!(
            d(Flavor::Percona, (8, 0, 40), false, true).statement_time_variable(),
            ("max_execution_time", 1000)
        );
        assert!(Dialect::is_thread_pool("thread-pools"));
        assert!(Dialect::is_thread_pool("pool-of-threads"));
        assert!(!Dialect::is_thread_pool("one-thread-per-connection"));
    }

    #[test]
    fn rds_master_reserved_slot() {
        assert!(!d(Flavor::Mysql, (8, 0, 35), true, false).master_has_reserved_slot());
        assert!(d(Flavor::Mysql, (8, 0, 36), true, false).master_has_reserved_slot());
        assert!(d(Flavor::Aurora, (8, 0, 32), true, false).master_has_reserved_slot());
        assert!(d(Flavor::Mysql, (8, 0, 35), false, true).master_has_reserved_slot());
        assert!(Dialect::is_protected_user("rdsadmin"));
        assert!(!Dialect::is_protected_user("app"));
    }

    /// The servers the answers are pinned for: (name, dialect).
    fn servers() -> [(&'static str, Dialect); 7] {
        [
            ("MariaDB", d(Flavor::Mariadb, (10, 11, 6), false, false)),
            ("MySQL 5.7", d(Flavor::Mysql, (5, 7, 44), false, true)),
            ("MySQL 8.0", d(Flavor::Mysql, (8, 0, 36), false, true)),
            ("MySQL 8.4", d(Flavor::Mysql, (8, 4, 0), false, true)),
            ("Percona", d(Flavor::Percona, (8, 0, 40), false, true)),
            ("RDS MySQL", d(Flavor::Mysql, (8, 0, 41), true, false)),
            ("Aurora", d(Flavor::Aurora, (8, 0, 32), true, true)),
        ]
    }

    #[test]
    fn kill_spelling_per_flavor() {
        for (name, x) in servers() {
            let (conn, query, query_by_id, paste, own) = match name {
                "MariaDB" => (
                    "KILL CONNECTION 42",
                    "KILL QUERY 42",
                    "KILL QUERY ID 777",
                    "KILL 42",
                    true,
                ),
                "RDS MySQL" | "Aurora" => (
                    "CALL mysql.rds_kill(42)",
                    "CALL mysql.rds_kill_query(42)",
                    "CALL mysql.rds_kill_query(42)",
                    "CALL mysql.rds_kill(42)",
                    false,
                ),
                _ => (
                    "KILL CONNECTION 42",
                    "KILL QUERY 42",
                    "KILL QUERY 42",
                    "KILL 42",
                    true,
                ),
            };
            assert_eq!(x.kill_connection(42), conn, "{name}");
            assert_eq!(x.kill_query(42, None), query, "{name}");
            assert_eq!(x.kill_query(42, Some(777)), query_by_id, "{name}");
            assert_eq!(x.kill_to_paste(42), paste, "{name}");
            assert_eq!(x.kill_checks_own_privileges(), own, "{name}");
        }
        // `--rds` forces the procedures on a server not recognised as RDS.
        let forced = d(Flavor::Mariadb, (10, 11, 6), false, false).with_rds_procedures(true);
        assert_eq!(
            forced.kill_query(42, Some(777)),
            "CALL mysql.rds_kill_query(42)"
        );
        let kept = d(Flavor::Mysql, (8, 0, 41), true, false).with_rds_procedures(false);
        assert_eq!(kept.kill_connection(42), "CALL mysql.rds_kill(42)");
    }

    #[test]
    fn settings_answers_per_flavor() {
        for (name, x) in servers() {
            let mariadb = name == "MariaDB";
            let managed = name == "RDS MySQL" || name == "Aurora";
            assert_eq!(x.parameter_group(), managed, "{name}");
            assert_eq!(
                x.set_global_privilege_hint().contains("on MariaDB"),
                mariadb,
                "{name}"
            );
            assert_eq!(
                x.set_global_privilege_hint()
                    .contains("SYSTEM_VARIABLES_ADMIN"),
                !mariadb,
                "{name}"
            );
            assert_eq!(x.has_set_statement_time(), mariadb, "{name}");
            assert_eq!(
                x.idle_transaction_timeout(),
                mariadb.then_some("idle_transaction_timeout"),
                "{name}"
            );
            assert_eq!(
                x.metadata_lock_holders_advice()
                    .contains("METADATA_LOCK_INFO"),
                mariadb,
                "{name}"
            );
            assert_eq!(
                x.metadata_lock_holders_advice()
                    .contains("sys.schema_table_lock_waits"),
                !mariadb,
                "{name}"
            );
            assert_eq!(
                x.descriptor_cap(),
                if mariadb {
                    DescriptorCap::TableCacheReserved
                } else {
                    DescriptorCap::Fixed810
                },
                "{name}"
            );
        }
    }

    #[test]
    fn hosts_are_unblocked_per_flavor() {
        assert_eq!(
            d(Flavor::Mariadb, (10, 11, 6), false, true).flush_hosts(),
            ("FLUSH HOSTS", "mariadb-admin flush-hosts")
        );
        assert_eq!(
            d(Flavor::Mysql, (8, 0, 23), false, true).flush_hosts().0,
            "TRUNCATE TABLE performance_schema.host_cache"
        );
        assert_eq!(
            d(Flavor::Mysql, (8, 0, 22), false, true).flush_hosts().0,
            "FLUSH HOSTS"
        );
    }

    #[test]
    fn rereads_use_the_flavor_sql() {
        let m = d(Flavor::Mariadb, (10, 11, 6), false, false);
        assert!(
            m.processlist_sql(ProcesslistSource::InformationSchema)
                .contains("TIME_MS, QUERY_ID")
        );
        assert!(
            m.session_guards(10)
                .contains(&"SET SESSION max_statement_time = 10".to_string())
        );
        let my = d(Flavor::Mysql, (8, 0, 36), false, true);
        assert!(
            !my.processlist_sql(ProcesslistSource::InformationSchema)
                .contains("TIME_MS")
        );
        assert!(
            my.session_guards(10)
                .contains(&"SET SESSION max_execution_time = 10000".to_string())
        );
        // Before the server is read: MySQL of unknown version, no statement limit guard.
        assert_eq!(Dialect::default().session_guards(10).len(), 2);
    }

    /// The replica status statement, its privilege and the restart statement per flavor
    /// (docs/replication.md).
    #[test]
    fn replica_status_per_flavor() {
        let m = d(Flavor::Mariadb, (10, 11, 6), false, true);
        assert_eq!(m.replica_status_sql(), "SHOW ALL SLAVES STATUS");
        assert_eq!(m.replica_status_needs(), "SLAVE MONITOR or SUPER");
        assert_eq!(m.start_replica_sql_thread(""), "START SLAVE SQL_THREAD");
        assert_eq!(
            m.start_replica_sql_thread("e'ast"),
            "START SLAVE 'e''ast' SQL_THREAD"
        );
        let old = d(Flavor::Mariadb, (10, 4, 30), false, true);
        assert_eq!(old.replica_status_needs(), "REPLICATION CLIENT or SUPER");
        let my = d(Flavor::Mysql, (8, 0, 36), false, true);
        assert_eq!(my.replica_status_sql(), "SHOW REPLICA STATUS");
        assert_eq!(
            my.start_replica_sql_thread("east"),
            "START REPLICA SQL_THREAD FOR CHANNEL 'east'"
        );
        let my57 = d(Flavor::Mysql, (5, 7, 44), false, true);
        assert_eq!(my57.replica_status_sql(), "SHOW SLAVE STATUS");
        assert_eq!(my57.start_replica_sql_thread(""), "START SLAVE SQL_THREAD");
    }
}
