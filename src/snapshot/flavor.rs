//! Which server we talk to, and the SQL dialect that follows from it.
//!
//! Pure functions of what the server says about itself (`VERSION()`, `@@version_comment`,
//! `@@basedir`, `@@aurora_version`, `@@performance_schema`): unit-tested for every flavor we cannot
//! run here (MySQL 5.7/8.0/8.4, Percona, RDS, Aurora). Sends no SQL itself.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Flavor {
    #[default]
    Mysql,
    Percona,
    Mariadb,
    /// Amazon Aurora MySQL (also sets `ServerInfo::rds`).
    Aurora,
}

impl Flavor {
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Mysql => "MySQL",
            Flavor::Percona => "Percona Server",
            Flavor::Mariadb => "MariaDB",
            Flavor::Aurora => "Aurora MySQL",
        }
    }

    pub fn is_mariadb(self) -> bool {
        self == Flavor::Mariadb
    }
}

/// How a person reads the server's identity: the flavor's name and, on Amazon RDS/Aurora, the
/// words that follow the version (`status`'s header).
pub fn describe(flavor: Flavor, rds: bool) -> (&'static str, &'static str) {
    (flavor.name(), if rds { " (Amazon RDS)" } else { "" })
}

/// Accounts the hosting provider runs its own sessions as (RDS/Aurora: monitoring, backups,
/// replication). They are never a client's leak and must never be killed.
/// https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_MySQL.html ("rdsadmin").
pub const PROTECTED_USERS: &[&str] = &["rdsadmin", "rdsrepladmin"];

/// Whether a user name is the provider's own (never a client, never killed).
pub fn is_protected_user(user: &str) -> bool {
    PROTECTED_USERS.contains(&user)
}

/// Where the processlist is read from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum ProcesslistSource {
    /// `performance_schema.processlist` (MySQL 8.0.22+): no global mutex.
    PerformanceSchema,
    /// `information_schema.PROCESSLIST` (MariaDB with TIME_MS and QUERY_ID, older MySQL).
    #[default]
    InformationSchema,
}

/// What the server told us about itself, as read in the first round trip.
#[derive(Debug, Clone, Default)]
pub struct Identity<'a> {
    pub version: &'a str,
    pub version_comment: &'a str,
    pub basedir: &'a str,
    /// `@@aurora_version`, present only on Aurora.
    pub aurora_version: Option<&'a str>,
    pub performance_schema: bool,
}

/// The flavor and whether it runs on Amazon RDS.
pub fn detect(id: &Identity<'_>) -> (Flavor, bool) {
    let rds = id.basedir.starts_with("/rdsdbbin/") || id.aurora_version.is_some();
    let flavor = if id.aurora_version.is_some() {
        Flavor::Aurora
    } else if id.version.to_ascii_lowercase().contains("mariadb")
        || id.version_comment.to_ascii_lowercase().contains("mariadb")
    {
        Flavor::Mariadb
    } else if id.version_comment.starts_with("Percona Server")
        || id.version_comment.starts_with("Percona XtraDB")
    {
        Flavor::Percona
    } else {
        Flavor::Mysql
    };
    (flavor, rds)
}

/// `10.11.19-MariaDB-0+deb12u1` -> (10, 11, 19); `5.5.5-10.11.19-MariaDB` -> (10, 11, 19)
/// (the handshake prefix MariaDB sends for old clients); `8.0.40-31` -> (8, 0, 40).
pub fn parse_version(version: &str) -> (u16, u16, u16) {
    let v = version.strip_prefix("5.5.5-").unwrap_or(version);
    let mut parts = v
        .split(|c: char| !c.is_ascii_digit())
        .take(3)
        .map(|p| p.parse::<u16>().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

/// MySQL 8.0.22+ with performance_schema on reads `performance_schema.processlist` (no global
/// mutex, https://dev.mysql.com/doc/refman/8.0/en/performance-schema-processlist-table.html);
/// everything else, MariaDB included (its P_S is off by default and has no such table), reads
/// `information_schema.PROCESSLIST`.
pub fn processlist_source(
    flavor: Flavor,
    version: (u16, u16, u16),
    performance_schema: bool,
) -> ProcesslistSource {
    if flavor.is_mariadb() || !performance_schema {
        return ProcesslistSource::InformationSchema;
    }
    if version >= (8, 0, 22) {
        ProcesslistSource::PerformanceSchema
    } else {
        ProcesslistSource::InformationSchema
    }
}

/// MySQL 8.0.1+ replaced `INNODB_LOCK_WAITS` with `performance_schema.data_lock_waits`.
pub fn has_data_lock_waits(flavor: Flavor, version: (u16, u16, u16)) -> bool {
    !flavor.is_mariadb() && version >= (8, 0, 1)
}

/// Statements that keep our own session from piling up on a sick server: a metadata-lock wait of
/// a few seconds at most, and a server-side statement limit (MariaDB `max_statement_time` in
/// seconds, MySQL `max_execution_time` in ms, SELECT only).
pub fn session_guards(
    flavor: Flavor,
    version: (u16, u16, u16),
    query_timeout_s: u64,
) -> Vec<String> {
    let t = query_timeout_s.max(1);
    let mut v = vec![
        format!("SET SESSION lock_wait_timeout = {}", t.min(5)),
        format!("SET SESSION innodb_lock_wait_timeout = {}", t.min(5)),
    ];
    if flavor.is_mariadb() {
        if version >= (10, 1, 1) {
            v.push(format!("SET SESSION max_statement_time = {t}"));
        }
    } else if version >= (5, 7, 8) {
        v.push(format!("SET SESSION max_execution_time = {}", t * 1000));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id<'a>(version: &'a str, comment: &'a str) -> Identity<'a> {
        Identity {
            version,
            version_comment: comment,
            performance_schema: true,
            ..Identity::default()
        }
    }

    #[test]
    fn detects_each_flavor() {
        assert_eq!(
            detect(&id("10.11.19-MariaDB-0+deb12u1", "Debian 12")),
            (Flavor::Mariadb, false)
        );
        assert_eq!(
            detect(&id(
                "10.3.10-MariaDB-1:10.3.10+maria~bionic",
                "mariadb.org binary distribution"
            )),
            (Flavor::Mariadb, false)
        );
        assert_eq!(
            detect(&id("8.0.13", "MySQL Community Server - GPL")),
            (Flavor::Mysql, false)
        );
        assert_eq!(
            detect(&id(
                "5.7.23-23",
                "Percona Server (GPL), Release '23', Revision '500fcf5'"
            )),
            (Flavor::Percona, false)
        );
        assert_eq!(
            detect(&id(
                "8.0.40-31",
                "Percona Server (GPL), Release 31, Revision 49317865"
            )),
            (Flavor::Percona, false)
        );
        let rds = Identity {
            basedir: "/rdsdbbin/mysql-8.0.35.R2/",
            ..id("8.0.35", "Source distribution")
        };
        assert_eq!(detect(&rds), (Flavor::Mysql, true));
        let aurora = Identity {
            basedir: "/rdsdbbin/oscar-8.0.mysql_aurora.3.05.2/",
            aurora_version: Some("3.05.2"),
            ..id("8.0.32", "Source distribution")
        };
        assert_eq!(detect(&aurora), (Flavor::Aurora, true));
    }

    #[test]
    fn parses_versions() {
        assert_eq!(parse_version("10.11.19-MariaDB-0+deb12u1"), (10, 11, 19));
        assert_eq!(parse_version("5.5.5-10.11.19-MariaDB"), (10, 11, 19));
        assert_eq!(parse_version("8.0.40-31"), (8, 0, 40));
        assert_eq!(parse_version("5.7.24-0ubuntu0.18.04.1"), (5, 7, 24));
        assert_eq!(parse_version("8.4.3"), (8, 4, 3));
        assert_eq!(parse_version("garbage"), (0, 0, 0));
        assert_eq!(parse_version(""), (0, 0, 0));
    }

    #[test]
    fn chooses_processlist_source_per_flavor() {
        use ProcesslistSource::*;
        assert_eq!(
            processlist_source(Flavor::Mariadb, (10, 11, 19), true),
            InformationSchema
        );
        assert_eq!(
            processlist_source(Flavor::Mariadb, (11, 4, 2), false),
            InformationSchema
        );
        assert_eq!(
            processlist_source(Flavor::Mysql, (8, 0, 36), true),
            PerformanceSchema
        );
        assert_eq!(
            processlist_source(Flavor::Mysql, (8, 4, 0), true),
            PerformanceSchema
        );
        assert_eq!(
            processlist_source(Flavor::Mysql, (8, 0, 21), true),
            InformationSchema
        );
        assert_eq!(
            processlist_source(Flavor::Mysql, (8, 0, 36), false),
            InformationSchema
        );
        assert_eq!(
            processlist_source(Flavor::Mysql, (5, 7, 44), true),
            InformationSchema
        );
        assert_eq!(
            processlist_source(Flavor::Percona, (8, 0, 40), true),
            PerformanceSchema
        );
        assert_eq!(
            processlist_source(Flavor::Aurora, (8, 0, 32), true),
            PerformanceSchema
        );
        assert_eq!(
            processlist_source(Flavor::Aurora, (5, 7, 12), true),
            InformationSchema
        );
    }

    #[test]
    fn lock_tables_per_flavor() {
        assert!(has_data_lock_waits(Flavor::Mysql, (8, 0, 36)));
        assert!(!has_data_lock_waits(Flavor::Mysql, (5, 7, 44)));
        assert!(!has_data_lock_waits(Flavor::Mariadb, (10, 11, 19)));
    }

    #[test]
    fn session_guards_per_flavor() {
        let m = session_guards(Flavor::Mariadb, (10, 11, 0), 10);
        assert!(m.contains(&"SET SESSION max_statement_time = 10".to_string()));
        let my = session_guards(Flavor::Mysql, (8, 0, 36), 10);
        assert!(my.contains(&"SET SESSION max_execution_time = 10000".to_string()));
        assert!(my.iter().all(|s| !s.contains("max_statement_time")));
    }
}
