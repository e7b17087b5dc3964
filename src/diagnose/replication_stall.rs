//! `replication-stall`: this server is a replica whose applier is stalled or far behind.
//!
//! On a replica, the SQL (applier) thread, or a parallel worker, replays the source's changes.
//! When it waits for a lock a client session holds (an `ALTER TABLE` from the source behind a
//! report query holding the table, a row a client locked), replication lags, and the clients
//! queued behind the applier's DDL pile up too: the DDL at the head of the metadata-lock queue is
//! then a replication thread, which is never killed (killing it stops replication); the cause is
//! the client session holding the lock. A stopped SQL thread (an error) or I/O thread makes the
//! replica serve older and older data. Facts and sources: docs/replication.md.
//!
//! Read from the replica status (`Snapshot::replication`, one row per channel) and the
//! processlist: the appliers are the replication rows whose command is `Slave_SQL` /
//! `Slave_worker` (MariaDB), or `system user` rows in a lock-wait state (MySQL runs its appliers
//! as `system user` `Query`/`Connect`). Fires when a channel's SQL or I/O thread is not running,
//! when it is [`LAG_S`] or more behind, or when an applier waits for a lock. Critical when
//! replication stopped on an error, is [`LAG_CRITICAL_S`] behind, or client sessions queue for
//! locks while an applier waits or runs DDL (a pile-up it is part of); else a warning. The
//! Binlog Dump thread on a source is background, never a stall.

use super::analysis::Analysis;
use super::common::plural;
use super::{Action, Finding, FindingId, Severity, Thresholds};
use crate::snapshot::{ReplicaChannel, Session, SessionKind};
use crate::units::{secs, snippet};

/// Lag from which a replica is stalling (seconds behind its source).
pub const LAG_S: u64 = 30;
/// Lag that is critical whatever else.
pub const LAG_CRITICAL_S: u64 = 300;

/// Whether the processlist row is a replication applier (SQL thread or parallel worker).
fn is_applier(s: &Session) -> bool {
    // Compared in place: called for every session (no lower-cased copy of each).
    let cmd = s.command.as_str();
    match s.kind() {
        SessionKind::Replication => {
            cmd.eq_ignore_ascii_case("slave_sql") || cmd.eq_ignore_ascii_case("slave_worker")
        }
        // MySQL: appliers are `system user` rows; only they wait for locks among system rows.
        SessionKind::System => s.user == "system user" && waits_for_lock(s),
        _ => false,
    }
}

/// A lock-wait state (`Waiting for table metadata lock`, `… row lock …`, `Waiting for … lock`).
fn waits_for_lock(s: &Session) -> bool {
    let st = s.state.as_bytes();
    st.len() >= 11
        && st[..11].eq_ignore_ascii_case(b"waiting for")
        && st.windows(4).any(|w| w.eq_ignore_ascii_case(b"lock"))
}

fn is_ddl(info: Option<&str>) -> bool {
    let head = info
        .unwrap_or("")
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    matches!(
        head.as_str(),
        "ALTER" | "CREATE" | "DROP" | "RENAME" | "TRUNCATE" | "OPTIMIZE"
    )
}

fn channel_line(c: &ReplicaChannel) -> String {
    let mut line = format!(
        "source {}, I/O {}, SQL {}, {}",
        crate::text::escape(&c.source_host),
        crate::text::escape(&c.io_running),
        crate::text::escape(&c.sql_running),
        c.seconds_behind
            .map_or("lag unknown (a thread is stopped)".into(), |l| format!(
                "{} behind",
                secs(l)
            ))
    );
    if !c.sql_state.is_empty() {
        line.push_str(&format!(
            "; SQL thread: {}",
            snippet(Some(&c.sql_state), 80)
        ));
    }
    if c.last_sql_errno != 0 {
        line.push_str(&format!(
            "; last SQL error {}: {}",
            c.last_sql_errno,
            snippet(Some(&c.last_sql_error), 120)
        ));
    }
    if c.last_io_errno != 0 {
        line.push_str(&format!(
            "; last I/O error {}: {}",
            c.last_io_errno,
            snippet(Some(&c.last_io_error), 120)
        ));
    }
    line
}

pub fn check(a: &Analysis<'_>, _th: &Thresholds) -> Vec<Finding> {
    let snap = a.snap;
    let appliers: Vec<&Session> = snap.sessions.iter().filter(|s| is_applier(s)).collect();
    let waiting: Vec<&Session> = appliers
        .iter()
        .copied()
        .filter(|s| waits_for_lock(s))
        .collect();
    let stalled: Vec<&ReplicaChannel> = snap
        .replication
        .iter()
        .filter(|c| {
            !c.sql_running() || !c.io_running() || c.seconds_behind.is_some_and(|l| l >= LAG_S)
        })
        .collect();
    if stalled.is_empty() && waiting.is_empty() {
        return vec![];
    }
    // Client sessions queued for locks while an applier waits or applies DDL: the pile-up the
    // stall is part of.
    let applier_blocks = !waiting.is_empty() || appliers.iter().any(|s| is_ddl(s.info.as_deref()));
    let queued: Vec<u64> = if applier_blocks {
        a.clients()
            .filter(|s| !s.is_sleeping() && a.is_waiting(s))
            .map(|s| s.id)
            .collect()
    } else {
        Vec::new()
    };
    let lag = snap
        .replication
        .iter()
        .filter_map(|c| c.seconds_behind)
        .max();
    let stopped_on_error = snap
        .replication
        .iter()
        .any(|c| !c.sql_running() && c.last_sql_errno != 0);
    let severity =
        if stopped_on_error || lag.is_some_and(|l| l >= LAG_CRITICAL_S) || !queued.is_empty() {
            Severity::Critical
        } else {
            Severity::Warning
        };
    let mut what = Vec::new();
    if let Some(l) = lag.filter(|l| *l >= LAG_S) {
        what.push(format!("replication is {} behind its source", secs(l)));
    }
    for c in snap.replication.iter().filter(|c| !c.sql_running()) {
        what.push(format!("the SQL thread of {} is stopped", c.label()));
    }
    for c in snap.replication.iter().filter(|c| !c.io_running()) {
        what.push(format!(
            "the I/O thread of {} is {}",
            c.label(),
            if c.io_running.eq_ignore_ascii_case("connecting") {
                "reconnecting"
            } else {
                "stopped"
            }
        ));
    }
    if !waiting.is_empty() {
        what.push(format!(
            "{} {} for a lock",
            plural(waiting.len() as u64, "replication applier"),
            if waiting.len() == 1 { "waits" } else { "wait" }
        ));
    }
    if !queued.is_empty() {
        what.push(format!(
            "{} queued for locks behind it",
            plural(queued.len() as u64, "client session")
        ));
    }
    let mut f = Finding::new(
        FindingId::ReplicationStall,
        severity,
        "Replication on this replica is stalled or behind",
        format!("{}.", crate::text::capitalize(&what.join("; "))),
    );
    for c in &snap.replication {
        let name = if c.name.is_empty() {
            "replication".to_string()
        } else {
            format!("replication channel {}", crate::text::escape(&c.name))
        };
        f = f.evidence(&name, channel_line(c));
    }
    if let Some(l) = lag {
        f = f.evidence("lag", format!("{l}s"));
    }
    for s in &appliers {
        f = f.evidence(
            &format!("applier session {}", s.id),
            format!(
                "{} {}, {}: {}",
                crate::text::escape(&s.command),
                secs(s.time_s),
                snippet(Some(&s.state), 60),
                snippet(s.info.as_deref(), 100)
            ),
        );
    }
    if !queued.is_empty() {
        f = f.evidence("client sessions queued for locks", queued.len());
    }
    if appliers.iter().any(|s| is_ddl(s.info.as_deref())) {
        f = f.evidence(
            "DDL at the head",
            "the statement the queue waits behind is the replication applier's: it is never killed (replication would stop); end the client session holding the lock it waits for",
        );
    }
    let dialect = snap.dialect();
    if !waiting.is_empty() {
        f = f.action(Action::advice(
            "the applier waits for a lock a client session holds (lock-pileup names the holder): end that session, never the replication thread; the applier then proceeds and the queue behind it drains",
        ));
    }
    for c in snap.replication.iter().filter(|c| !c.sql_running()) {
        f = f.action(Action::advice(format!(
            "read the error of {} (`{}`: Last_SQL_Error), fix its cause, then restart it: `{}`",
            c.label(),
            dialect.replica_status_sql(),
            dialect.start_replica_sql_thread(&c.name)
        )));
    }
    if snap.replication.iter().any(|c| !c.io_running()) {
        f = f.action(Action::advice(
            "the I/O thread does not receive the source's changes: check Last_IO_Error (network, the replication account's password or grants, the source's binary logs purged)",
        ));
    }
    if lag.is_some_and(|l| l >= LAG_S) {
        f = f.action(Action::advice(
            "reads on this replica see data that old: route reads that need fresh data to the source until it catches up",
        ));
    }
    vec![
        f.sessions(appliers.iter().map(|s| s.id).chain(queued.iter().copied()))
            .slots(queued.len() as u64),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::{self, session};

    fn channel(sql: &str, lag: Option<u64>) -> ReplicaChannel {
        ReplicaChannel {
            source_host: "10.0.0.1".into(),
            io_running: "Yes".into(),
            sql_running: sql.into(),
            seconds_behind: lag,
            sql_state: "Waiting for table metadata lock".into(),
            ..ReplicaChannel::default()
        }
    }

    fn finding(s: &crate::snapshot::Snapshot) -> Option<Finding> {
        check(&Analysis::new(s), &Thresholds::default())
            .into_iter()
            .next()
    }

    /// The applier's ALTER waits behind a client's report query, 30 clients queue behind the
    /// ALTER, 55 s of lag: critical, with the lag and the pile-up as evidence, and no action
    /// that kills the applier.
    #[test]
    fn an_applier_stuck_behind_a_client_is_part_of_the_pileup() {
        let mut s = fixtures::mariadb();
        let mut v = vec![
            session(
                5,
                "system user",
                "",
                "Slave_SQL",
                55,
                "Waiting for table metadata lock",
                Some("ALTER TABLE orders ADD COLUMN note TEXT"),
            ),
            session(
                4,
                "system user",
                "",
                "Slave_IO",
                900,
                "Waiting for master to send event",
                None,
            ),
            session(
                10,
                "report",
                "10.0.0.9",
                "Query",
                120,
                "Sending data",
                Some("SELECT SUM(total) FROM orders"),
            ),
        ];
        v.extend((11..=40).map(|i| {
            session(
                i,
                "app",
                "10.0.0.2",
                "Query",
                50,
                "Waiting for table metadata lock",
                Some("SELECT * FROM orders WHERE id = 1"),
            )
        }));
        fixtures::with_sessions(&mut s, v);
        s.replication = vec![channel("Yes", Some(55))];
        let f = finding(&s).expect("replication-stall");
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.slots, 30);
        assert!(f.summary.starts_with("Replication is 55s behind its source; 1 replication applier waits for a lock; 30 client sessions queued for locks behind it."), "{}", f.summary);
        assert_eq!(fixtures::ev(&f, "lag"), "55s");
        assert!(
            fixtures::ev(&f, "applier session 5")
                .starts_with("Slave_SQL 55s, Waiting for table metadata lock: ALTER TABLE orders")
        );
        assert!(f.evidence.iter().any(|e| e.name == "DDL at the head"));
        assert!(!f.sessions.contains(&4), "the I/O thread is not involved");
        assert!(f.actions.iter().all(|a| !a.text.contains("KILL")));
    }

    #[test]
    fn a_stopped_sql_thread_says_how_to_restart_it() {
        let mut s = fixtures::mariadb();
        let mut c = channel("No", None);
        c.name = "east".into();
        c.last_sql_errno = 1062;
        c.last_sql_error = "Duplicate entry '1' for key 'PRIMARY'".into();
        c.sql_state = String::new();
        s.replication = vec![c];
        let f = finding(&s).unwrap();
        assert_eq!(f.severity, Severity::Critical);
        assert!(
            f.summary
                .contains("The SQL thread of channel 'east' is stopped"),
            "{}",
            f.summary
        );
        assert!(
            fixtures::ev(&f, "replication channel east")
                .contains("last SQL error 1062: Duplicate entry")
        );
        assert!(
            f.actions
                .iter()
                .any(|a| a.text.contains("`START SLAVE 'east' SQL_THREAD`")),
            "{:?}",
            f.actions
        );
    }

    /// Lag under 30 s, a source's Binlog Dump thread, a server that replicates from nobody:
    /// nothing to say.
    #[test]
    fn healthy_replication_and_sources_are_quiet() {
        let mut s = fixtures::mariadb();
        assert!(finding(&s).is_none());
        fixtures::with_sessions(
            &mut s,
            vec![session(
                3,
                "repl",
                "10.0.0.5",
                "Binlog Dump",
                9000,
                "Master has sent all binlog to slave; waiting for more updates",
                None,
            )],
        );
        assert!(finding(&s).is_none());
        s.replication = vec![channel("Yes", Some(29))];
        assert!(finding(&s).is_none());
        s.replication = vec![channel("Yes", Some(30))];
        let f = finding(&s).unwrap();
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(f.slots, 0);
    }
}
