//! `lock-pileup`: sessions queue for a lock behind one blocker, each holding a connection slot
//! while it waits.
//!
//! Waits come from the snapshot's lock waits (InnoDB row locks with their holder; metadata and
//! table locks, with their holder on MySQL 8, without it on MariaDB where they are known only
//! from the `Waiting for table metadata lock` state) plus any wait state the reader did not list.
//! Following who waits for whom to a session that is not waiting itself gives the *root*
//! blocker: killing a waiter in the middle frees nothing. Metadata- and table-lock waits without a
//! known holder are attributed to an inferred one: the client session with the oldest open
//! transaction that is not waiting (typically idle in transaction, `Sleep`), else the
//! longest-running statement that is not waiting; either must be older than the longest of those
//! waits, since it took its lock before the queue formed. The head of such a queue is typically a DDL (`ALTER`, `CREATE INDEX`, …)
//! whose exclusive metadata-lock request makes every later query on the table wait behind it.
//! Row-lock waits without a holder (InnoDB's lists were cut, see `snapshot::read`) stay
//! unattributed: the waiters INNODB_TRX no longer lists look like running statements.
//!
//! The wait graph is built once per judgement and shared with idle-transactions
//! ([`Snapshot::memo`]); everything here is O(n log n) in sessions and waits, except counting
//! roots, O(roots x edges) per pile-up (one or a few roots in practice).
//!
//! Sessions connected by waits form one pile-up, reported as one finding (so two independent
//! pile-ups give two findings with the same id). A pile-up is at least 3 waiters, or 2 when one
//! has waited 10 s or more (a moment of row-lock contention is normal). Warning; critical from
//! the shared "many" bar of [`super::common`] (10 waiters or 10 % of max_connections).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::common::{
    age_s, clients, ids, is_waiting, oldest_first, pct, plural, severity_from_one,
};
use super::{Action, Finding, Thresholds};
use crate::snapshot::locks::waits_from_states;
use crate::snapshot::{LockKind, LockWait, Session, Snapshot};
use crate::units::{secs, snippet};

/// Waiters that make a pile-up ...
const MIN_WAITERS: usize = 3;
/// ... or this many when the longest has waited [`LONG_WAIT_S`].
const MIN_WAITERS_LONG: usize = 2;
const LONG_WAIT_S: u64 = 10;
/// Stands for "a holder nobody could name" in the wait graph (no processlist id is this large).
const UNKNOWN: u64 = u64::MAX;

/// One edge of the wait graph: `waiter` waits for `blocker` (or [`UNKNOWN`]) in `waits[wait]`.
struct Edge {
    wait: usize,
    waiter: u64,
    blocker: u64,
    inferred: bool,
}

/// The wait graph: every client lock wait (the snapshot's list plus wait states it does not
/// list), the likely holder of the waits whose holder the server does not
/// show, who waits for whom, and whom each session holds up. Built once per judgement
/// ([`Snapshot::memo`]) and shared by this finding and idle-transactions. O(n log n) in sessions,
/// transactions and waits.
struct Waits {
    waits: Vec<LockWait>,
    edges: Vec<Edge>,
    /// blocker -> the sessions it holds up directly -> whether only by inference.
    blocked: HashMap<u64, BTreeMap<u64, bool>>,
}

impl Waits {
    /// The graph of `snap`, shared inside a [`Snapshot::with_index`] scope.
    fn shared(snap: &Snapshot) -> std::rc::Rc<Waits> {
        snap.memo(|| Waits::of(snap))
    }

    fn of(snap: &Snapshot) -> Waits {
        let is_client = |id: u64| snap.session(id).is_some_and(Session::is_client);
        let from_states = waits_from_states(&snap.sessions, &snap.lock_waits);
        let waits: Vec<LockWait> = snap
            .lock_waits
            .iter()
            .chain(&from_states)
            .filter(|w| is_client(w.waiting_id))
            .cloned()
            .collect();
        let waiting: HashSet<u64> = waits
            .iter()
            .map(|w| w.waiting_id)
            .chain(clients(snap).filter(|s| is_waiting(snap, s)).map(|s| s.id))
            .collect();
        // Only metadata and table locks get an inferred holder: a row-lock wait without one
        // comes from InnoDB lists that were cut (see snapshot::read), and its waiting neighbours
        // may look like running statements. The exception is a server whose lock tables cannot
        // name any holder (MySQL with performance_schema OFF): there every row wait comes from
        // INNODB_TRX alone, which lists every transaction, and the guess is said to be one.
        let no_lock_tables = snap.dialect().lock_tables_unavailable().is_some();
        let inferable =
            |w: &LockWait| w.blocking_id.is_none() && (w.kind != LockKind::Row || no_lock_tables);
        let queued_for = waits
            .iter()
            .filter(|w| inferable(w))
            .map(|w| w.wait_s)
            .max();
        let guess = queued_for.and_then(|q| likely_holder(snap, &waiting, q));
        // Listed holders as they are, the others attributed to the guess (or UNKNOWN).
        let edges: Vec<Edge> = waits
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let guess = guess.filter(|_| inferable(w));
                Edge {
                    wait: i,
                    waiter: w.waiting_id,
                    blocker: w.blocking_id.or(guess).unwrap_or(UNKNOWN),
                    inferred: w.blocking_id.is_none() && guess.is_some(),
                }
            })
            .filter(|e| e.blocker != e.waiter)
            .collect();
        // A waiter listed both ways counts as listed.
        let mut blocked: HashMap<u64, BTreeMap<u64, bool>> = HashMap::new();
        for e in &edges {
            let inferred = blocked
                .entry(e.blocker)
                .or_default()
                .entry(e.waiter)
                .or_insert(true);
            *inferred &= e.inferred;
        }
        Waits {
            waits,
            edges,
            blocked,
        }
    }
}

/// The sessions that `id` holds up directly, each once: `(waiter, inferred)`, where `inferred`
/// means the server did not name the holder and `id` is the likely one (see the module doc). A
/// waiter listed both ways counts as listed. For other findings that must agree with this one on
/// who blocks whom (idle-transactions). The wait graph is built once per
/// [`Snapshot::with_index`] scope, so call it inside one when asking for many ids.
pub fn blocked_by(snap: &Snapshot, id: u64) -> Vec<(u64, bool)> {
    snap.with_index(|| {
        Waits::shared(snap)
            .blocked
            .get(&id)
            .map(|m| m.iter().map(|(&w, &i)| (w, i)).collect())
            .unwrap_or_default()
    })
}

pub fn check(snap: &Snapshot, _th: &Thresholds) -> Vec<Finding> {
    snap.with_index(|| {
        let w = Waits::shared(snap);
        if w.waits.is_empty() {
            return vec![];
        }
        components(&w.edges)
            .into_iter()
            .filter_map(|mine| pileup(snap, &w, &mine))
            .collect()
    })
}

/// The likely holder of locks whose holder the server does not show.
fn likely_holder(snap: &Snapshot, waiting: &HashSet<u64>, queued_for: u64) -> Option<u64> {
    let candidates = || {
        clients(snap)
            .filter(|s| !waiting.contains(&s.id) && age_s(snap, s) + 1.0 >= queued_for as f64)
    };
    let oldest_trx = candidates()
        .filter_map(|s| snap.transaction_of(s.id).map(|t| (t.age_s, s.id)))
        .max_by_key(|&(age, id)| (age, std::cmp::Reverse(id)));
    let longest_query = || {
        candidates()
            .filter(|s| !s.is_sleeping())
            .max_by_key(|s| (s.time_s, std::cmp::Reverse(s.id)))
            .map(|s| s.id)
    };
    oldest_trx.map(|(_, id)| id).or_else(longest_query)
}

/// The edges of each group of sessions connected by waits, groups in the order of their lowest
/// session id, edges in graph order.
fn components(edges: &[Edge]) -> Vec<Vec<&Edge>> {
    let nodes: BTreeSet<u64> = edges.iter().flat_map(|e| [e.waiter, e.blocker]).collect();
    let at: HashMap<u64, usize> = nodes.iter().enumerate().map(|(i, &n)| (n, i)).collect();
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for e in edges {
        let (a, b) = (at[&e.waiter], at[&e.blocker]);
        adj[a].push(b);
        adj[b].push(a);
    }
    let mut group = vec![usize::MAX; nodes.len()];
    let mut groups = 0;
    for start in 0..nodes.len() {
        if group[start] != usize::MAX {
            continue;
        }
        let mut stack = vec![start];
        group[start] = groups;
        while let Some(n) = stack.pop() {
            for &m in &adj[n] {
                if group[m] == usize::MAX {
                    group[m] = groups;
                    stack.push(m);
                }
            }
        }
        groups += 1;
    }
    let mut out: Vec<Vec<&Edge>> = vec![Vec::new(); groups];
    for e in edges {
        out[group[at[&e.waiter]]].push(e);
    }
    out
}

/// For every root of a group (a session it waits for that does not wait itself, or waits for
/// nobody listed), how many of the group's waiters it holds up, directly or through a chain.
/// One reverse walk per root: O(roots x edges) for the group, and a group has few roots.
fn held_by_roots(mine: &[&Edge]) -> BTreeMap<u64, usize> {
    let waits_for_someone: HashSet<u64> = mine.iter().map(|e| e.waiter).collect();
    let mut waiters_of: HashMap<u64, Vec<u64>> = HashMap::new();
    for e in mine {
        waiters_of.entry(e.blocker).or_default().push(e.waiter);
    }
    let mut held = BTreeMap::new();
    for root in mine
        .iter()
        .map(|e| e.blocker)
        .filter(|b| !waits_for_someone.contains(b))
        .collect::<BTreeSet<u64>>()
    {
        let mut seen: HashSet<u64> = HashSet::from([root]);
        let mut stack = vec![root];
        while let Some(n) = stack.pop() {
            for &w in waiters_of.get(&n).map_or(&[][..], Vec::as_slice) {
                if seen.insert(w) {
                    stack.push(w);
                }
            }
        }
        held.insert(root, seen.len() - 1);
    }
    held
}

fn pileup(snap: &Snapshot, w: &Waits, mine: &[&Edge]) -> Option<Finding> {
    let max = snap.max_connections();
    let wait = |e: &Edge| &w.waits[e.wait];
    let waiter_ids: BTreeSet<u64> = mine.iter().map(|e| e.waiter).collect();
    let longest = mine.iter().map(|e| wait(e).wait_s).max().unwrap_or(0);
    let n = waiter_ids.len();
    if n < MIN_WAITERS && !(n >= MIN_WAITERS_LONG && longest >= LONG_WAIT_S) {
        return None;
    }
    // Roots by how many waiters they hold up, then the oldest.
    let held = held_by_roots(mine);
    let mut roots: Vec<(u64, usize)> = held.into_iter().filter(|&(r, _)| r != UNKNOWN).collect();
    let age = |id| snap.session(id).map_or(0.0, |s| age_s(snap, s));
    let mut aged: Vec<(f64, u64, usize)> = roots.iter().map(|&(r, k)| (age(r), r, k)).collect();
    aged.sort_by(|a, b| b.2.cmp(&a.2).then(b.0.total_cmp(&a.0)).then(a.1.cmp(&b.1)));
    roots = aged.into_iter().map(|(_, r, k)| (r, k)).collect();
    let root = roots.first().map(|r| r.0);
    let inferred = root.is_some_and(|r| mine.iter().any(|e| e.blocker == r && e.inferred));
    let row_unknown = mine
        .iter()
        .any(|e| e.blocker == UNKNOWN && wait(e).kind == LockKind::Row);
    let non_row = mine.iter().any(|e| wait(e).kind != LockKind::Row);

    let sessions = oldest_first(
        snap,
        waiter_ids
            .iter()
            .chain(roots.iter().map(|r| &r.0))
            .filter_map(|&id| snap.session(id))
            .collect(),
    );
    let mut longest_of: HashMap<u64, u64> = HashMap::new();
    for e in mine {
        let l = longest_of.entry(e.waiter).or_default();
        *l = (*l).max(wait(e).wait_s);
    }
    let wait_of = |id: u64| longest_of.get(&id).copied().unwrap_or(0);
    let ddl = waiter_ids
        .iter()
        .filter_map(|&id| snap.session(id))
        .filter(|s| is_ddl(s.info.as_deref().unwrap_or("")))
        .max_by_key(|s| (wait_of(s.id), std::cmp::Reverse(s.id)));

    let (title, who) = match root {
        Some(r) => (
            format!(
                "Lock pile-up: {} waiting behind session {r}",
                plural(n as u64, "session")
            ),
            format!("session {r} ({})", describe(snap, r)),
        ),
        None => (
            format!(
                "Lock pile-up: {} waiting for a lock whose holder is unknown",
                plural(n as u64, "session")
            ),
            "a session the server does not show".to_string(),
        ),
    };
    let mut f = Finding::new(
        "lock-pileup",
        severity_from_one(n as u64, max),
        title,
        format!(
            "{} ({} of max_connections {max}) waiting for locks held by {who}{}; the longest has waited {}.",
            plural(n as u64, "session"),
            pct(n as u64, max),
            if inferred { ", inferred" } else { "" },
            secs(longest),
        ),
    );
    f = match root {
        Some(r) => f.evidence("blocker", format!("session {r}: {}", describe(snap, r))),
        None => f.evidence("blocker", "unknown"),
    };
    f = f.evidence(
        "blocker found",
        if inferred && snap.dialect().lock_tables_unavailable().is_some() {
            "inferred: performance_schema is OFF, so the lock tables name no holder; the likely holder is the oldest open transaction not waiting itself, else the longest-running statement"
        } else if inferred {
            "inferred: the server does not show who holds these metadata/table locks (MariaDB without metadata_lock_info); the likely holder is the oldest open transaction not waiting itself, else the longest-running statement"
        } else if root.is_some() {
            "from the server's lock tables"
        } else if row_unknown {
            "no session could be named: InnoDB's lock tables did not list the holder of these row locks (see the snapshot's notes)"
        } else {
            "no session could be named: no open transaction or statement is older than the wait"
        },
    );
    for &(r, k) in roots.iter().skip(1) {
        f = f.evidence(
            &format!("also blocking {k}"),
            format!("session {r}: {}", describe(snap, r)),
        );
    }
    if let Some(d) = ddl {
        f = f.evidence(
            "DDL at the head of the queue",
            format!(
                "session {}, waiting {}: {}",
                d.id,
                secs(wait_of(d.id)),
                snippet(d.info.as_deref(), 100)
            ),
        );
    }
    let mut kinds: BTreeMap<LockKind, BTreeSet<u64>> = BTreeMap::new();
    for e in mine {
        kinds.entry(wait(e).kind).or_default().insert(e.waiter);
    }
    let objects: BTreeSet<&str> = mine
        .iter()
        .filter_map(|e| wait(e).object.as_deref())
        .collect();
    f = f
        .evidence("waiters", n)
        .evidence("longest wait", secs(longest))
        .evidence(
            "waiting for",
            kinds
                .iter()
                .map(|(k, w)| format!("{} {}", kind_name(*k), w.len()))
                .collect::<Vec<_>>()
                .join(", "),
        );
    if !objects.is_empty() {
        f = f.evidence("tables", objects.into_iter().collect::<Vec<_>>().join(", "));
    }
    f = f.sessions(ids(&sessions)).slots(sessions.len() as u64);
    for (i, &(r, _)) in roots.iter().enumerate() {
        if !snap.session(r).is_some_and(Session::is_client) {
            continue;
        }
        let why = match (i, inferred) {
            (0, true) => {
                "the likely holder: check it first (it is idle in transaction or the oldest statement), killing it rolls its transaction back"
            }
            (0, false) => {
                "the root blocker: killing it rolls its transaction back and releases its locks"
            }
            _ => "also holds a lock these sessions wait for",
        };
        f = f.action(Action::sql(if snap.server.rds {
            format!("CALL mysql.rds_kill({r});   -- {why}")
        } else {
            format!("KILL {r};   -- {why}")
        }));
    }
    if let (true, Some(why)) = (
        root.is_none() || inferred,
        snap.dialect().lock_tables_unavailable(),
    ) {
        f = f.action(Action::advice(why));
    } else if (root.is_none() || inferred) && non_row {
        f = f.action(Action::advice(if snap.server.flavor.is_mariadb() {
            "to see metadata-lock holders: INSTALL SONAME 'metadata_lock_info'; then SELECT * FROM information_schema.METADATA_LOCK_INFO"
        } else {
            "to see metadata-lock holders: SELECT * FROM sys.schema_table_lock_waits (performance_schema metadata lock instrument)"
        }));
    }
    if ddl.is_some() {
        f = f.action(Action::advice(
            "run DDL with a short lock wait (SET SESSION lock_wait_timeout = 5, then retry) or online with pt-online-schema-change / gh-ost: a DDL waiting for its metadata lock makes every later query on the table wait behind it",
        ));
    }
    Some(f.action(Action::advice(
        "commit or roll back transactions promptly: a transaction keeps its row and metadata locks until it ends, even while its session sleeps",
    )))
}

/// `root@localhost, Sleep 2s, transaction open 2m00s, idle in transaction`.
fn describe(snap: &Snapshot, id: u64) -> String {
    let Some(s) = snap.session(id) else {
        return "not in the processlist".into();
    };
    let trx = snap.transaction_of(id).map_or(String::new(), |t| {
        format!(", transaction open {}", secs(t.age_s))
    });
    let doing = if s.is_sleeping() {
        if trx.is_empty() {
            "idle".to_string()
        } else {
            "idle in transaction".to_string()
        }
    } else {
        snippet(s.info.as_deref(), 100)
    };
    format!(
        "{}, {} {}{trx}, {doing}",
        s.account(),
        s.command,
        secs(s.time_s)
    )
}

fn kind_name(k: LockKind) -> &'static str {
    match k {
        LockKind::Row => "row locks",
        LockKind::Metadata => "metadata locks",
        LockKind::Table => "table locks",
    }
}

/// Statements that take an exclusive metadata lock: ALTER, CREATE … INDEX, DROP, RENAME,
/// TRUNCATE, OPTIMIZE.
fn is_ddl(sql: &str) -> bool {
    let words: Vec<String> = sql
        .split_whitespace()
        .take(4)
        .map(str::to_ascii_uppercase)
        .collect();
    match words.first().map(String::as_str) {
        Some("ALTER" | "DROP" | "RENAME" | "TRUNCATE" | "OPTIMIZE") => true,
        Some("CREATE") => words.iter().any(|w| w == "INDEX"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::ev;
    use crate::diagnose::fixtures::{self, lock_wait, session, trx};
    use crate::diagnose::{ActionKind, Severity};

    const MDL: &str = "Waiting for table metadata lock";

    fn check_default(s: &Snapshot) -> Vec<Finding> {
        check(s, &Thresholds::default())
    }

    #[test]
    fn healthy_servers_have_no_pileup() {
        assert!(check_default(&fixtures::mariadb()).is_empty());
        assert!(check_default(&fixtures::mysql8()).is_empty());
    }

    /// MariaDB 10.11: session 24 sleeps in a transaction that updated a row and read table t; 25
    /// waits for the row (state `Updating`, trx LOCK WAIT, holder from INNODB_LOCK_WAITS); 26 is
    /// an ALTER waiting for the metadata lock; 27..=29 are SELECTs queued behind the ALTER.
    fn mariadb_mdl() -> Snapshot {
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(
            &mut s,
            vec![
                session(24, "root", "localhost", "Sleep", 2, "", None),
                session(
                    25,
                    "root",
                    "localhost",
                    "Query",
                    40,
                    "Updating",
                    Some("UPDATE t SET v=v+10 WHERE id=1"),
                ),
                session(
                    26,
                    "root",
                    "localhost",
                    "Query",
                    30,
                    MDL,
                    Some("ALTER TABLE t ADD COLUMN w INT"),
                ),
                session(
                    27,
                    "app",
                    "10.0.0.7",
                    "Query",
                    20,
                    MDL,
                    Some("SELECT * FROM t WHERE id = 7"),
                ),
                session(
                    28,
                    "app",
                    "10.0.0.7",
                    "Query",
                    12,
                    MDL,
                    Some("SELECT * FROM t WHERE id = 8"),
                ),
                session(
                    29,
                    "app",
                    "10.0.0.7",
                    "Query",
                    3,
                    MDL,
                    Some("SELECT * FROM t WHERE id = 9"),
                ),
                session(30, "app", "10.0.0.7", "Sleep", 1, "", None),
                session(
                    31,
                    "app",
                    "10.0.0.7",
                    "Query",
                    1,
                    "executing",
                    Some("SELECT 1"),
                ),
            ],
        );
        s.transactions = vec![
            trx(24, "RUNNING", 120, 1, None),
            trx(
                25,
                "LOCK WAIT",
                40,
                0,
                Some("UPDATE t SET v=v+10 WHERE id=1"),
            ),
        ];
        // INNODB_LOCK_WAITS names the row-lock holder; the MDL waits come from the states.
        s.lock_waits = vec![lock_wait(LockKind::Row, 25, Some(24), 40)];
        s
    }

    #[test]
    fn mariadb_metadata_pileup_behind_an_idle_transaction() {
        let s = mariadb_mdl();
        let f = check_default(&s);
        assert_eq!(f.len(), 1, "{f:?}");
        let f = &f[0];
        assert_eq!(f.id, "lock-pileup");
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(f.sessions, vec![24, 25, 26, 27, 28, 29]);
        assert_eq!(f.slots, 6);
        assert_eq!(
            ev(f, "blocker"),
            "session 24: root@localhost, Sleep 2s, transaction open 2m00s, idle in transaction"
        );
        assert!(ev(f, "blocker found").starts_with("inferred"));
        assert_eq!(
            ev(f, "DDL at the head of the queue"),
            "session 26, waiting 30s: ALTER TABLE t ADD COLUMN w INT"
        );
        assert_eq!(ev(f, "waiters"), "5");
        assert_eq!(ev(f, "longest wait"), "40s");
        assert_eq!(ev(f, "waiting for"), "row locks 1, metadata locks 4");
        assert_eq!(ev(f, "tables"), "shop.t");
        assert!(f.summary.contains("held by session 24"), "{}", f.summary);
        assert!(f.summary.contains(", inferred;"), "{}", f.summary);
        let kills: Vec<&str> = f
            .actions
            .iter()
            .filter(|a| a.kind == ActionKind::Sql)
            .map(|a| a.text.split("   --").next().unwrap())
            .collect();
        assert_eq!(kills, vec!["KILL 24;"]);
        assert!(
            f.actions
                .iter()
                .any(|a| a.text.contains("metadata_lock_info"))
        );
        assert!(f.actions.iter().any(|a| a.text.contains("gh-ost")));
    }

    #[test]
    fn mariadb_row_lock_chain_follows_to_the_root() {
        // 26 waits for 25, which waits for 24 (running a long statement in its transaction).
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(
            &mut s,
            vec![
                session(
                    24,
                    "root",
                    "localhost",
                    "Query",
                    50,
                    "User sleep",
                    Some("SELECT SLEEP(60)"),
                ),
                session(
                    25,
                    "app",
                    "10.0.0.7",
                    "Query",
                    12,
                    "Updating",
                    Some("UPDATE t SET v=1 WHERE id=1"),
                ),
                session(
                    26,
                    "app",
                    "10.0.0.7",
                    "Query",
                    11,
                    "Updating",
                    Some("UPDATE t SET v=2 WHERE id=2"),
                ),
            ],
        );
        s.transactions = vec![
            trx(24, "RUNNING", 51, 1, Some("SELECT SLEEP(60)")),
            trx(25, "LOCK WAIT", 13, 1, None),
            trx(26, "LOCK WAIT", 11, 0, None),
        ];
        s.lock_waits = vec![
            lock_wait(LockKind::Row, 25, Some(24), 12),
            lock_wait(LockKind::Row, 26, Some(25), 11),
        ];
        let f = check_default(&s);
        assert_eq!(f.len(), 1);
        let f = &f[0];
        assert_eq!(f.sessions, vec![24, 25, 26]);
        assert_eq!(ev(f, "blocker found"), "from the server's lock tables");
        assert_eq!(
            ev(f, "blocker"),
            "session 24: root@localhost, Query 50s, transaction open 51s, SELECT SLEEP(60)"
        );
        assert!(
            !f.evidence
                .iter()
                .any(|e| e.name == "DDL at the head of the queue")
        );
        assert!(f.actions.iter().any(|a| a.text.starts_with("KILL 24;")));
        assert!(!f.actions.iter().any(|a| a.text.starts_with("KILL 25;")));
    }

    #[test]
    fn size_and_wait_boundaries() {
        let mut s = fixtures::mysql8();
        let waiter = |id, t| {
            session(
                id,
                "app",
                "10.0.0.7",
                "Query",
                t,
                "executing",
                Some("UPDATE t SET v=1"),
            )
        };
        fixtures::with_sessions(
            &mut s,
            vec![
                session(1, "app", "10.0.0.7", "Sleep", 100, "", None),
                waiter(2, 9),
                waiter(3, 9),
                waiter(4, 9),
            ],
        );
        s.transactions = vec![trx(1, "RUNNING", 200, 3, None)];
        // Two waiters for 9 s: ordinary contention.
        s.lock_waits = vec![
            lock_wait(LockKind::Row, 2, Some(1), 9),
            lock_wait(LockKind::Row, 3, Some(1), 9),
        ];
        assert!(check_default(&s).is_empty());
        // Two waiters, one for 10 s: a pile-up.
        s.lock_waits[1].wait_s = 10;
        assert_eq!(check_default(&s).len(), 1);
        // Three waiters, short waits: a pile-up.
        s.lock_waits[1].wait_s = 9;
        s.lock_waits.push(lock_wait(LockKind::Row, 4, Some(1), 1));
        let f = &check_default(&s)[0];
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(f.sessions, vec![1, 2, 3, 4]);
        // One waiter is never a pile-up, however long.
        s.lock_waits = vec![lock_wait(LockKind::Row, 2, Some(1), 500)];
        assert!(check_default(&s).is_empty());
    }

    #[test]
    fn many_waiters_are_critical() {
        let mut s = fixtures::mysql8();
        let mut v = vec![session(1, "app", "10.0.0.7", "Sleep", 100, "", None)];
        v.extend((2..=11).map(|i| {
            session(
                i,
                "app",
                "10.0.0.7",
                "Query",
                5,
                "executing",
                Some("UPDATE t SET v=1"),
            )
        }));
        fixtures::with_sessions(&mut s, v);
        s.transactions = vec![trx(1, "RUNNING", 200, 3, None)];
        s.lock_waits = (2..=10)
            .map(|i| lock_wait(LockKind::Row, i, Some(1), 5))
            .collect();
        assert_eq!(check_default(&s)[0].severity, Severity::Warning);
        s.lock_waits.push(lock_wait(LockKind::Row, 11, Some(1), 5));
        let f = &check_default(&s)[0];
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(ev(f, "waiters"), "10");
    }

    #[test]
    fn two_independent_pileups_give_two_findings() {
        let mut s = fixtures::mysql8();
        let q = |id| {
            session(
                id,
                "app",
                "10.0.0.7",
                "Query",
                15,
                "executing",
                Some("UPDATE t SET v=1"),
            )
        };
        fixtures::with_sessions(
            &mut s,
            vec![
                session(1, "app", "10.0.0.7", "Sleep", 100, "", None),
                q(2),
                q(3),
                q(4),
                session(5, "batch", "10.0.0.9", "Sleep", 50, "", None),
                q(6),
                q(7),
            ],
        );
        s.transactions = vec![
            trx(1, "RUNNING", 200, 3, None),
            trx(5, "RUNNING", 90, 8, None),
        ];
        s.lock_waits = vec![
            lock_wait(LockKind::Row, 2, Some(1), 15),
            lock_wait(LockKind::Row, 3, Some(1), 15),
            lock_wait(LockKind::Row, 4, Some(1), 15),
            lock_wait(LockKind::Row, 6, Some(5), 15),
            lock_wait(LockKind::Row, 7, Some(5), 15),
        ];
        let f = check_default(&s);
        assert_eq!(f.len(), 2);
        assert!(f.iter().all(|f| f.id == "lock-pileup"));
        assert_eq!(f[0].sessions, vec![1, 2, 3, 4]);
        assert_eq!(f[1].sessions, vec![5, 6, 7]);
        assert!(f[1].actions.iter().any(|a| a.text.starts_with("KILL 5;")));
    }

    #[test]
    fn mysql8_metadata_locks_name_their_holders() {
        // MySQL 8 lists MDL waits with holders (performance_schema.metadata_locks): the SELECTs
        // wait for the ALTER, the ALTER for the idle transaction. A waiter listed once per holder
        // (sys.innodb_lock_waits style) is counted once.
        let mut s = fixtures::mysql8();
        fixtures::with_sessions(
            &mut s,
            vec![
                session(9, "app", "10.0.0.7", "Sleep", 300, "", None),
                session(
                    10,
                    "dba",
                    "10.0.0.5",
                    "Query",
                    60,
                    MDL,
                    Some("alter table orders add index (created_at)"),
                ),
                session(
                    11,
                    "app",
                    "10.0.0.7",
                    "Query",
                    50,
                    MDL,
                    Some("SELECT * FROM orders"),
                ),
                session(
                    12,
                    "app",
                    "10.0.0.7",
                    "Execute",
                    40,
                    MDL,
                    Some("SELECT * FROM orders"),
                ),
            ],
        );
        s.transactions = vec![trx(9, "RUNNING", 400, 0, None)];
        let mdl = |w, b, t| LockWait {
            object: Some("shop.orders".into()),
            ..lock_wait(LockKind::Metadata, w, Some(b), t)
        };
        s.lock_waits = vec![
            mdl(10, 9, 60),
            mdl(11, 10, 50),
            mdl(11, 9, 50),
            mdl(12, 10, 40),
        ];
        let f = check_default(&s);
        assert_eq!(f.len(), 1);
        let f = &f[0];
        assert_eq!(f.sessions, vec![9, 10, 11, 12]);
        assert_eq!(ev(f, "blocker found"), "from the server's lock tables");
        assert!(
            ev(f, "blocker")
                .starts_with("session 9: app@10.0.0.7, Sleep 5m00s, transaction open 6m40s")
        );
        assert_eq!(
            ev(f, "DDL at the head of the queue"),
            "session 10, waiting 1m00s: alter table orders add index (created_at)"
        );
        assert_eq!(ev(f, "waiters"), "3");
        assert_eq!(ev(f, "waiting for"), "metadata locks 3");
        assert_eq!(ev(f, "tables"), "shop.orders");
        assert!(
            !f.actions
                .iter()
                .any(|a| a.text.contains("sys.schema_table_lock_waits"))
        );
    }

    #[test]
    fn without_a_candidate_the_holder_is_unknown() {
        // FLUSH/LOCK TABLES from a session that is gone: nobody is older than the waits.
        let mut s = fixtures::mysql8();
        fixtures::with_sessions(
            &mut s,
            (1..=3)
                .map(|i| {
                    session(
                        i,
                        "app",
                        "10.0.0.7",
                        "Query",
                        20,
                        MDL,
                        Some("SELECT * FROM t"),
                    )
                })
                .chain([session(
                    4,
                    "app",
                    "10.0.0.7",
                    "Query",
                    2,
                    "executing",
                    Some("SELECT 1"),
                )])
                .collect(),
        );
        let f = &check_default(&s)[0];
        assert_eq!(ev(f, "blocker"), "unknown");
        assert_eq!(f.sessions, vec![1, 2, 3]);
        assert!(!f.actions.iter().any(|a| a.kind == ActionKind::Sql));
        assert!(
            f.actions
                .iter()
                .any(|a| a.text.contains("sys.schema_table_lock_waits"))
        );
    }

    #[test]
    fn without_an_open_transaction_the_longest_statement_is_the_likely_holder() {
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(
            &mut s,
            vec![
                session(
                    5,
                    "etl",
                    "10.0.0.9",
                    "Query",
                    900,
                    "Sending data",
                    Some("SELECT * FROM t INTO OUTFILE '/tmp/t'"),
                ),
                session(
                    6,
                    "dba",
                    "localhost",
                    "Query",
                    100,
                    MDL,
                    Some("TRUNCATE TABLE t"),
                ),
                session(
                    7,
                    "app",
                    "10.0.0.7",
                    "Query",
                    90,
                    MDL,
                    Some("INSERT INTO t VALUES (1)"),
                ),
                session(
                    8,
                    "app",
                    "10.0.0.7",
                    "Query",
                    50,
                    "executing",
                    Some("SELECT 2"),
                ),
            ],
        );
        let f = &check_default(&s)[0];
        assert_eq!(f.sessions, vec![5, 6, 7]);
        assert!(ev(f, "blocker").starts_with("session 5: etl@10.0.0.9, Query 15m00s"));
        assert!(f.actions.iter().any(|a| a.text.starts_with("KILL 5;")));
    }

    #[test]
    fn only_clients_wait_and_rds_kills_by_procedure() {
        let mut s = mariadb_mdl();
        // A killed waiter does not count.
        s.sessions.iter_mut().find(|x| x.id == 29).unwrap().command = "Killed".into();
        s.server.rds = true;
        let f = &check_default(&s)[0];
        assert_eq!(f.sessions, vec![24, 25, 26, 27, 28]);
        assert!(
            f.actions
                .iter()
                .any(|a| a.text.starts_with("CALL mysql.rds_kill(24);"))
        );
    }

    /// Row-lock waits whose holder InnoDB's (cut) lists do not name stay unattributed: the
    /// waiters that INNODB_TRX no longer lists look like running statements and must not be
    /// taken for the holder.
    #[test]
    fn row_waits_without_a_holder_are_not_attributed_to_a_statement() {
        let mut s = fixtures::mariadb();
        let update = |id, t| {
            session(
                id,
                "app",
                "10.0.0.7",
                "Query",
                t,
                "Updating",
                Some("UPDATE t SET v=1 WHERE id=1"),
            )
        };
        fixtures::with_sessions(
            &mut s,
            vec![
                session(1, "app", "10.0.0.7", "Sleep", 100, "", None),
                update(2, 40),
                update(3, 39),
                update(4, 38),
                update(5, 90), // a waiter INNODB_TRX did not list
            ],
        );
        s.transactions = (2..=4).map(|i| trx(i, "LOCK WAIT", 40, 0, None)).collect();
        s.lock_waits = (2..=4)
            .map(|i| lock_wait(LockKind::Row, i, None, 40))
            .collect();
        let f = &check_default(&s)[0];
        assert_eq!(ev(f, "blocker"), "unknown");
        assert!(
            ev(f, "blocker found").contains("InnoDB's lock tables did not list the holder"),
            "{}",
            ev(f, "blocker found")
        );
        assert_eq!(f.sessions, vec![2, 3, 4]);
        assert!(!f.actions.iter().any(|a| a.kind == ActionKind::Sql));
        assert!(
            !f.actions
                .iter()
                .any(|a| a.text.contains("metadata_lock_info"))
        );
    }

    #[test]
    fn ddl_statements() {
        assert!(is_ddl("ALTER TABLE t ADD COLUMN w INT"));
        assert!(is_ddl("  create unique index i on t (a)"));
        assert!(is_ddl("CREATE INDEX i ON t (a)"));
        assert!(is_ddl("drop table t"));
        assert!(is_ddl("RENAME TABLE a TO b"));
        assert!(is_ddl("truncate t"));
        assert!(is_ddl("OPTIMIZE TABLE t"));
        assert!(!is_ddl("CREATE TABLE t (a int)"));
        assert!(!is_ddl("SELECT * FROM alter_log"));
        assert!(!is_ddl(""));
    }
}
