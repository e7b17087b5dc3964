//! Choosing which sessions to kill, and saying why: a pure function of the snapshot and the
//! criteria. Nothing is executed here.
//!
//! Never selected, whatever the filters: our own connection, replication threads (Binlog Dump,
//! replica I/O/SQL/worker threads, group replication, clone) and system threads (system user,
//! event_scheduler / Daemon) unless explicitly allowed, and rows already being killed.

use std::time::Duration;

use serde::Serialize;

use crate::diagnose::Analysis;
use crate::diagnose::analysis::SessionIndex;
use crate::filter::SessionFilter;
use crate::snapshot::{Session, SessionKind, Snapshot, Transaction};

/// Which sessions with an open transaction a kill may take (`--with-open-trx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WithOpenTrx {
    /// Kill sessions whether or not they hold an open transaction (the plan warns about rollbacks).
    #[default]
    Include,
    /// Only sessions that hold an open transaction.
    Only,
    /// Never sessions that hold an open transaction.
    Skip,
}

/// What to kill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// Sleeping sessions idle at least the threshold (kill-idle).
    Idle,
    /// Busy sessions running at least the threshold (kill-long).
    Long,
}

/// KILL CONNECTION, or KILL QUERY (the statement only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KillMode {
    Connection,
    Query,
}

#[derive(Debug, Clone)]
pub struct Criteria {
    pub target: Target,
    pub mode: KillMode,
    pub threshold: Duration,
    pub filter: SessionFilter,
    pub exclude_users: Vec<String>,
    pub limit: Option<usize>,
    /// Only these processlist ids (`--id`), when any: a relief names its sessions.
    pub ids: Vec<u64>,
    pub with_open_trx: WithOpenTrx,
    /// Only sessions whose open transaction is at least this old (`--trx-older-than`).
    pub min_trx_age: Option<Duration>,
    pub allow_replication: bool,
    pub allow_system: bool,
    /// Kill connections of fixed-size pools too (`kill-idle --include-pools`): left out by
    /// default, the pool reopens them at once (see `diagnose::analysis::pools`).
    pub include_pools: bool,
}

impl Criteria {
    /// Every session of `target` over `threshold`: no filters, nothing protected made killable.
    pub fn new(target: Target, mode: KillMode, threshold: Duration) -> Self {
        Criteria {
            target,
            mode,
            threshold,
            filter: SessionFilter::default(),
            exclude_users: Vec::new(),
            limit: None,
            ids: Vec::new(),
            with_open_trx: WithOpenTrx::Include,
            min_trx_age: None,
            allow_replication: false,
            allow_system: false,
            include_pools: false,
        }
    }
}

/// One session chosen to be killed, with what we knew about it when choosing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Victim {
    /// The processlist row as read (its fields are the JSON's `id`, `user`, `host`, …; `time_ms`
    /// where known is what the re-check before KILL compares).
    #[serde(flatten)]
    pub session: Session,
    pub trx_age_s: Option<u64>,
    pub trx_rows_modified: Option<u64>,
    /// Why it matched, in words.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct KillPlan {
    /// What the plan selects: idle or long-running sessions.
    #[serde(rename = "selects")]
    pub target: Target,
    pub mode: KillMode,
    pub threshold_s: u64,
    pub criteria: Vec<String>,
    pub victims: Vec<Victim>,
    /// Sessions on the server (without ours).
    pub total_sessions: usize,
    /// Sessions that matched but are protected (replication, system, already killed).
    pub protected: Vec<u64>,
    /// Matching sessions left out by --limit.
    pub over_limit: usize,
    /// Idle sessions that matched but belong to a fixed-size pool, left out: the pool reopens
    /// them (`kill-idle --include-pools` takes them too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pool_connections: Vec<u64>,
    /// Victims whose user or host name holds invisible or control characters (shown escaped):
    /// an account that only looks like another (`app` + U+200B is not `app`).
    pub names_with_invisible_characters: Vec<u64>,
    /// Victims that wait for a lock: killing one frees its slot and releases nobody (the
    /// session holding them up stays; `diagnose` names it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lock_waiters: Vec<u64>,
}

impl Victim {
    /// Whether the user or host name holds characters a terminal would not show (see
    /// [`crate::text`]): they are printed escaped, and the plan says so.
    pub fn has_invisible_name(&self) -> bool {
        !crate::text::is_safe(&self.session.user) || !crate::text::is_safe(&self.session.host)
    }
}

impl KillPlan {
    pub fn with_open_trx(&self) -> usize {
        self.victims
            .iter()
            .filter(|v| v.trx_age_s.is_some())
            .count()
    }

    /// "kill 37 of 212 connections; frees 37 slots; 3 hold open transactions that will roll back first"
    pub fn summary(&self) -> String {
        let n = self.victims.len();
        let mut s = match self.mode {
            KillMode::Connection => format!(
                "kill {n} of {} connections; frees {n} slot{}",
                self.total_sessions,
                if n == 1 { "" } else { "s" }
            ),
            KillMode::Query => format!(
                "kill the running statement of {n} of {} sessions; the connections stay open (no slot is freed)",
                self.total_sessions
            ),
        };
        // Only a transaction that modified rows has anything to roll back: a read-only one
        // ends at once.
        let trx = self.with_open_trx();
        let modifying = self
            .victims
            .iter()
            .filter(|v| v.trx_rows_modified.unwrap_or(0) > 0)
            .count();
        if modifying > 0 {
            let rows = self
                .victims
                .iter()
                .filter_map(|v| v.trx_rows_modified)
                .fold(0u64, u64::saturating_add);
            s.push_str(&format!(
                "; {modifying} hold{} open transactions that will roll back first ({rows} modified rows)",
                if modifying == 1 { "s" } else { "" }
            ));
        }
        if trx > modifying {
            let n = trx - modifying;
            s.push_str(&format!(
                "; {n} hold{} open transactions that modified no rows (nothing to roll back)",
                if n == 1 { "s" } else { "" }
            ));
        }
        if !self.pool_connections.is_empty() {
            let n = self.pool_connections.len();
            s.push_str(&format!(
                "; {n} connection{} of fixed-size pools left alone (the pool reopens {}; --include-pools takes {} too)",
                if n == 1 { "" } else { "s" },
                if n == 1 { "it" } else { "them" },
                if n == 1 { "it" } else { "them" },
            ));
        }
        if !self.protected.is_empty() {
            s.push_str(&format!(
                "; {} protected session{} (replication/system) left alone",
                self.protected.len(),
                if self.protected.len() == 1 { "" } else { "s" }
            ));
        }
        if !self.lock_waiters.is_empty() {
            let n = self.lock_waiters.len();
            s.push_str(&format!(
                "; {n} wait{} for a lock: killing a waiter releases nobody (conncheck diagnose names the session holding them up)",
                if n == 1 { "s" } else { "" }
            ));
        }
        if self.over_limit > 0 {
            s.push_str(&format!(
                "; {} more matched beyond --limit",
                self.over_limit
            ));
        }
        s
    }
}

/// Why a session can never be a victim under these criteria, if it cannot.
pub fn protection(s: &Session, c: &Criteria) -> Option<&'static str> {
    match s.kind() {
        SessionKind::Client => None,
        SessionKind::Killed => Some("already being killed"),
        SessionKind::Replication if !c.allow_replication => Some("replication thread"),
        SessionKind::System if !c.allow_system => Some("system thread"),
        _ => None,
    }
}

/// Whether a session belongs to an account with SYSTEM_USER that our account, lacking it, may
/// not kill (MySQL 8.0.16+, WL#12364: ERROR 1095). Matched by user name, whatever the host: a
/// wrongly spared session is better than a denied kill counted as a freed slot.
pub fn system_user_guarded(snap: &Snapshot, s: &Session) -> bool {
    snap.dialect().system_user_guards_kill()
        && !snap.access.privileges.system_user
        && snap.dialect().kill_checks_own_privileges()
        && snap.system_user_accounts.contains(&s.user)
}

/// Whether a session meets the threshold part of the criteria (command and time).
pub fn meets_threshold(s: &Session, c: &Criteria) -> bool {
    let long_enough = s.time_secs_f64() >= c.threshold.as_secs_f64();
    match c.target {
        Target::Idle => s.is_sleeping() && long_enough,
        Target::Long => !s.is_sleeping() && long_enough,
    }
}

/// The session's open transaction, if any: an autocommit SELECT's own read view
/// (`autocommit_non_locking`) ends with its statement, holds no lock and rolls nothing back, so
/// it is none.
fn open_transaction<'s>(ix: &SessionIndex<'s>, s: &Session) -> Option<&'s Transaction> {
    ix.transaction_of(s.id)
        .filter(|t| !t.autocommit_non_locking)
}

/// Select victims, oldest first.
pub fn plan(snap: &Snapshot, c: &Criteria) -> KillPlan {
    // Killing a fixed pool's idle connections frees nothing: the pool reopens them at once.
    let pools = if c.target == Target::Idle && !c.include_pools {
        Analysis::new(snap).fixed_pool_ids().clone()
    } else {
        Default::default()
    };
    // Lookups by id (a plan may weigh 10,000 sessions): the index judging uses.
    let ix = SessionIndex::of(snap);
    let mut pool_connections = Vec::new();
    let mut protected = Vec::new();
    let mut chosen: Vec<&Session> = Vec::new();
    for s in &snap.sessions {
        if s.id == snap.access.connection_id
            || (!c.ids.is_empty() && !c.ids.contains(&s.id))
            || !meets_threshold(s, c)
            || !c.filter.matches(s)
            || crate::filter::any_user_matches(&c.exclude_users, s)
        {
            continue;
        }
        let trx = open_transaction(&ix, s);
        match c.with_open_trx {
            WithOpenTrx::Only if trx.is_none() => continue,
            WithOpenTrx::Skip if trx.is_some() => continue,
            _ => {}
        }
        if let Some(min) = c.min_trx_age
            && trx.is_none_or(|t| t.age_s < min.as_secs())
        {
            continue;
        }
        if protection(s, c).is_some() || system_user_guarded(snap, s) {
            protected.push(s.id);
            continue;
        }
        if pools.contains(&s.id) {
            pool_connections.push(s.id);
            continue;
        }
        chosen.push(s);
    }
    chosen.sort_by(|a, b| {
        b.time_secs_f64()
            .total_cmp(&a.time_secs_f64())
            .then(a.id.cmp(&b.id))
    });
    let over_limit = c.limit.map_or(0, |l| chosen.len().saturating_sub(l));
    if let Some(l) = c.limit {
        chosen.truncate(l);
    }
    let what = match c.target {
        Target::Idle => "idle",
        Target::Long => "running",
    };
    let victims: Vec<Victim> = chosen
        .into_iter()
        .map(|s| {
            let trx = open_transaction(&ix, s);
            let mut reason = format!("{what} {}s >= {}s", s.time_s, c.threshold.as_secs());
            if let Some(t) = trx {
                reason.push_str(&format!(", open trx {}s", t.age_s));
            }
            Victim {
                session: s.clone(),
                trx_age_s: trx.map(|t| t.age_s),
                trx_rows_modified: trx.map(|t| t.rows_modified),
                reason,
            }
        })
        .collect();
    let mut criteria = vec![format!(
        "{} >= {}s",
        match c.target {
            Target::Idle => "Sleep",
            Target::Long => "busy",
        },
        c.threshold.as_secs()
    )];
    if !c.ids.is_empty() {
        let ids: Vec<String> = c.ids.iter().map(u64::to_string).collect();
        criteria.push(format!("id={}", ids.join("|")));
    }
    criteria.extend(c.filter.describe());
    if !c.exclude_users.is_empty() {
        criteria.push(format!("not user={}", c.exclude_users.join("|")));
    }
    match c.with_open_trx {
        WithOpenTrx::Only => criteria.push("with open transaction".into()),
        WithOpenTrx::Skip => criteria.push("without open transaction".into()),
        WithOpenTrx::Include => {}
    }
    if let Some(min) = c.min_trx_age {
        criteria.push(format!("open transaction >= {}s", min.as_secs()));
    }
    let names_with_invisible_characters = victims
        .iter()
        .filter(|v| v.has_invisible_name())
        .map(|v| v.session.id)
        .collect();
    let lock_waiters = victims
        .iter()
        // A listed wait, an InnoDB `LOCK WAIT`, or a wait state (docs/wait-states.md).
        .filter(|v| ix.is_waiting(&v.session))
        .map(|v| v.session.id)
        .collect();
    KillPlan {
        lock_waiters,
        target: c.target,
        mode: c.mode,
        threshold_s: c.threshold.as_secs(),
        criteria,
        victims,
        total_sessions: snap.sessions.len(),
        protected,
        pool_connections,
        over_limit,
        names_with_invisible_characters,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::{self, session, trx};

    fn criteria(target: Target, secs: u64) -> Criteria {
        Criteria::new(target, KillMode::Connection, Duration::from_secs(secs))
    }

    fn snap() -> Snapshot {
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(
            &mut s,
            vec![
                session(1, "app", "10.0.0.1", "Sleep", 400, "", None),
                session(2, "app", "10.0.0.1", "Sleep", 900, "", None),
                session(3, "app", "10.0.0.2", "Sleep", 100, "", None),
                session(
                    4,
                    "app",
                    "10.0.0.2",
                    "Query",
                    500,
                    "User sleep",
                    Some("SELECT SLEEP(900)"),
                ),
                session(
                    5,
                    "repl",
                    "10.0.0.9",
                    "Binlog Dump GTID",
                    9000,
                    "Master has sent all binlog to slave; waiting for more updates",
                    None,
                ),
                session(
                    6,
                    "event_scheduler",
                    "localhost",
                    "Daemon",
                    9000,
                    "Waiting on empty queue",
                    None,
                ),
                session(
                    7,
                    "system user",
                    "",
                    "Slave_SQL",
                    9000,
                    "Slave has read all relay log; waiting for more updates",
                    None,
                ),
                session(8, "batch", "10.0.0.3", "Sleep", 700, "", None),
                session(9, "app", "10.0.0.1", "Killed", 800, "", None),
            ],
        );
        s.transactions.push(trx(8, "RUNNING", 690, 42, None));
        s
    }

    fn ids(p: &KillPlan) -> Vec<u64> {
        p.victims.iter().map(|v| v.session.id).collect()
    }

    #[test]
    fn kill_idle_selects_sleeping_sessions_over_the_threshold_oldest_first() {
        let p = plan(&snap(), &criteria(Target::Idle, 300));
        assert_eq!(ids(&p), vec![2, 8, 1]);
        assert_eq!(p.with_open_trx(), 1);
        assert!(p.summary().starts_with("kill 3 of 9 connections; frees 3 slots; 1 holds open transactions that will roll back first (42 modified rows)"), "{}", p.summary());
    }

    /// Three fixed pools idle together are left out of kill-idle, unless --include-pools; a
    /// human session idle as long is still killed.
    #[test]
    fn kill_idle_leaves_fixed_pools_alone() {
        let mut s = fixtures::mariadb();
        let mut v: Vec<Session> = (0..30)
            .map(|i| {
                let host = format!("10.0.0.{}", i % 3 + 1);
                session(100 + i, "app", &host, "Sleep", 400, "", None)
            })
            .collect();
        v.push(session(500, "alice", "10.9.9.9", "Sleep", 900, "", None));
        fixtures::with_sessions(&mut s, v);
        let p = plan(&s, &criteria(Target::Idle, 300));
        assert_eq!(ids(&p), vec![500]);
        assert_eq!(p.pool_connections.len(), 30);
        assert!(
            p.summary().starts_with("kill 1 of 31 connections; frees 1 slot; 30 connections of fixed-size pools left alone (the pool reopens them; --include-pools takes them too)"),
            "{}",
            p.summary()
        );
        let mut c = criteria(Target::Idle, 300);
        c.include_pools = true;
        let p = plan(&s, &c);
        assert_eq!(p.victims.len(), 31);
        assert!(p.pool_connections.is_empty());
    }

    /// A transaction that modified no rows has nothing to roll back: the plan does not say it
    /// will.
    #[test]
    fn only_transactions_that_modified_rows_roll_back() {
        let mut s = snap();
        s.transactions.push(trx(2, "RUNNING", 900, 0, None));
        let p = plan(&s, &criteria(Target::Idle, 300));
        assert_eq!(p.with_open_trx(), 2);
        assert!(p.summary().starts_with("kill 3 of 9 connections; frees 3 slots; 1 holds open transactions that will roll back first (42 modified rows); 1 holds open transactions that modified no rows (nothing to roll back)"), "{}", p.summary());
        s.transactions.retain(|t| t.rows_modified == 0);
        let p = plan(&s, &criteria(Target::Idle, 300));
        assert!(!p.summary().contains("roll back first"), "{}", p.summary());
    }

    #[test]
    fn kill_long_never_touches_replication_or_system_threads() {
        let p = plan(&snap(), &criteria(Target::Long, 60));
        assert_eq!(ids(&p), vec![4]);
        assert_eq!(
            p.protected,
            vec![5, 6, 7, 9],
            "replication, system, and the row already being killed"
        );
        let mut c = criteria(Target::Long, 60);
        c.allow_replication = true;
        assert_eq!(ids(&plan(&snap(), &c)), vec![5, 7, 4]);
        c.allow_system = true;
        assert_eq!(ids(&plan(&snap(), &c)), vec![5, 6, 7, 4]);
    }

    #[test]
    fn sessions_of_system_user_accounts_are_spared_without_system_user() {
        // MySQL 8.0.16+: CONNECTION_ADMIN alone cannot kill a SYSTEM_USER account's session.
        let mut s = snap();
        s.server = fixtures::mysql8().server;
        s.system_user_accounts = vec!["batch".into()];
        s.access.privileges.system_user = false;
        let p = plan(&s, &criteria(Target::Idle, 300));
        assert_eq!(ids(&p), vec![2, 1]);
        assert!(p.protected.contains(&8), "{:?}", p.protected);
        // With SYSTEM_USER, or on MariaDB (no such privilege), it is a victim again.
        s.access.privileges.system_user = true;
        assert_eq!(ids(&plan(&s, &criteria(Target::Idle, 300))), vec![2, 8, 1]);
        let mut m = snap();
        m.system_user_accounts = vec!["batch".into()];
        m.access.privileges.system_user = false;
        assert_eq!(ids(&plan(&m, &criteria(Target::Idle, 300))), vec![2, 8, 1]);
    }

    #[test]
    fn never_kills_our_own_connection_or_killed_rows() {
        let mut s = snap();
        s.sessions.push(session(
            s.access.connection_id,
            "root",
            "localhost",
            "Sleep",
            99_999,
            "",
            None,
        ));
        let p = plan(&s, &criteria(Target::Idle, 0));
        assert!(!ids(&p).contains(&s.access.connection_id));
        assert!(!ids(&p).contains(&9));
    }

    #[test]
    fn filters_exclusions_trx_and_limit() {
        let mut c = criteria(Target::Idle, 300);
        c.filter = SessionFilter::default().with_hosts(vec!["10.0.0.1".into()]);
        assert_eq!(ids(&plan(&snap(), &c)), vec![2, 1]);
        let mut c = criteria(Target::Idle, 300);
        c.exclude_users = vec!["batch".into()];
        assert_eq!(ids(&plan(&snap(), &c)), vec![2, 1]);
        let mut c = criteria(Target::Idle, 300);
        c.with_open_trx = WithOpenTrx::Only;
        assert_eq!(ids(&plan(&snap(), &c)), vec![8]);
        c.with_open_trx = WithOpenTrx::Skip;
        assert_eq!(ids(&plan(&snap(), &c)), vec![2, 1]);
        // --trx-older-than: by the transaction's age (690 s), whatever the idle time.
        let mut c = criteria(Target::Idle, 0);
        c.min_trx_age = Some(Duration::from_secs(690));
        let p = plan(&snap(), &c);
        assert_eq!(ids(&p), vec![8]);
        assert!(p.criteria.contains(&"open transaction >= 690s".to_string()));
        c.min_trx_age = Some(Duration::from_secs(691));
        assert!(ids(&plan(&snap(), &c)).is_empty());
        let mut c = criteria(Target::Idle, 300);
        c.limit = Some(2);
        let p = plan(&snap(), &c);
        assert_eq!(ids(&p), vec![2, 8]);
        assert_eq!(p.over_limit, 1);
        assert!(p.summary().contains("1 more matched beyond --limit"));
    }

    #[test]
    fn names_with_invisible_characters_are_flagged() {
        let mut s = snap();
        s.sessions.push(session(
            10,
            "app\u{200b}",
            "10.0.0.1",
            "Sleep",
            500,
            "",
            None,
        ));
        s.sessions.push(session(
            11,
            "app",
            "10.0.0.1\u{202e}",
            "Sleep",
            450,
            "",
            None,
        ));
        let p = plan(&s, &criteria(Target::Idle, 300));
        assert_eq!(ids(&p), vec![2, 8, 10, 11, 1]);
        assert_eq!(p.names_with_invisible_characters, vec![10, 11]);
        assert!(
            plan(&snap(), &criteria(Target::Idle, 300))
                .names_with_invisible_characters
                .is_empty()
        );
    }

    /// `--id`: only the named sessions, and still only those the threshold and the protections
    /// allow (a replication thread named by id stays protected).
    #[test]
    fn ids_select_only_the_named_sessions() {
        let mut c = criteria(Target::Idle, 300);
        c.ids = vec![8, 3, 1, 42];
        let p = plan(&snap(), &c);
        assert_eq!(
            ids(&p),
            vec![8, 1],
            "3 is idle only 100 s; 42 does not exist"
        );
        assert!(
            p.criteria.contains(&"id=8|3|1|42".to_string()),
            "{:?}",
            p.criteria
        );
        let mut c = criteria(Target::Long, 0);
        c.ids = vec![4, 7];
        let p = plan(&snap(), &c);
        assert_eq!(ids(&p), vec![4]);
        assert_eq!(p.protected, vec![7]);
    }

    /// A plan that takes lock waiters says that killing them releases nobody.
    #[test]
    fn lock_waiters_in_a_plan_are_named() {
        let mut s = snap();
        s.sessions.push(session(
            20,
            "app",
            "10.0.0.1",
            "Query",
            400,
            "Waiting for table metadata lock",
            Some("SELECT * FROM t"),
        ));
        let p = plan(&s, &criteria(Target::Long, 60));
        assert_eq!(ids(&p), vec![4, 20]);
        assert_eq!(p.lock_waiters, vec![20]);
        assert!(
            p.summary()
                .contains("1 waits for a lock: killing a waiter releases nobody"),
            "{}",
            p.summary()
        );
        assert!(
            plan(&snap(), &criteria(Target::Long, 60))
                .lock_waiters
                .is_empty()
        );
    }

    /// An autocommit SELECT's own read view is no open transaction: nothing rolls back.
    #[test]
    fn an_autocommit_select_holds_no_open_transaction() {
        let mut s = snap();
        let mut own = trx(4, "RUNNING", 500, 0, None);
        own.autocommit_non_locking = true;
        s.transactions.push(own);
        let mut c = criteria(Target::Long, 60);
        c.mode = KillMode::Query;
        let p = plan(&s, &c);
        assert_eq!(ids(&p), vec![4]);
        assert_eq!(p.with_open_trx(), 0);
        assert!(!p.summary().contains("roll back"), "{}", p.summary());
        c.with_open_trx = WithOpenTrx::Only;
        assert!(ids(&plan(&s, &c)).is_empty());
    }

    #[test]
    fn query_only_frees_no_slot() {
        let mut c = criteria(Target::Long, 60);
        c.mode = KillMode::Query;
        assert!(plan(&snap(), &c).summary().contains("no slot is freed"));
    }

    /// The JSON contract: a victim is still one flat object with the names it always had (the
    /// session is embedded, flattened), in the same order.
    #[test]
    fn victim_json_is_flat_with_its_old_field_names() {
        let v = Victim {
            session: session(
                7,
                "app",
                "10.0.0.1",
                "Query",
                90,
                "Sending data",
                Some("SELECT 1"),
            ),
            trx_age_s: Some(30),
            trx_rows_modified: Some(2),
            reason: "running 90s >= 60s".into(),
        };
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"id":7,"user":"app","host":"10.0.0.1:40007","db":"shop","command":"Query","time_s":90,"state":"Sending data","info":"SELECT 1","trx_age_s":30,"trx_rows_modified":2,"reason":"running 90s >= 60s"}"#
        );
    }
}
