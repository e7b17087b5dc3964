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
use super::{Action, Finding, FindingId, Thresholds};
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
        FindingId::LockPileup,
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
        f = f.action(Action::sql(format!(
            "{};   -- {why}",
            snap.dialect().kill_to_paste(r)
        )));
    }
    if let (true, Some(why)) = (
        root.is_none() || inferred,
        snap.dialect().lock_tables_unavailable(),
    ) {
        f = f.action(Action::advice(why));
    } else if (root.is_none() || inferred) && non_row {
        f = f.action(Action::advice(
            snap.dialect().metadata_lock_holders_advice(),
        ));
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
#[path = "lock_pileup_tests.rs"]
mod tests;
