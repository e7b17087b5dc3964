//! The wait graph: who waits for whom, and whom each session holds up, built once per
//! judgement and shared by lock-pileup, idle-transactions and the verdict.
//!
//! Waits come from the snapshot's lock waits (InnoDB row locks with their holder; metadata and
//! table locks, with their holder on MySQL 8, without it on MariaDB where they are known only
//! from the `Waiting for table metadata lock` state) plus any wait state the reader did not list,
//! of client sessions only. Metadata- and table-lock waits without a known holder are attributed
//! to an inferred one: the client session with the oldest open transaction that is not waiting
//! (typically idle in transaction, `Sleep`), else the longest-running statement that is not
//! waiting; either must be older than the longest of those waits, since it took its lock before
//! the queue formed. Row-lock waits without a holder (InnoDB's lists were cut, see
//! `snapshot::locks`) stay unattributed ([`UNKNOWN`]): the waiters INNODB_TRX no longer lists
//! look like running statements. The exception is a server whose lock tables cannot name any
//! holder (MySQL with performance_schema OFF): there every row wait comes from INNODB_TRX alone,
//! which lists every transaction, and the guess is said to be one.
//!
//! Following who waits for whom to a session that is not waiting itself gives a *root* blocker
//! ([`held_by_roots`]): killing a waiter in the middle frees nothing. Building is O(n log n) in
//! sessions, transactions and waits; counting roots O(roots × edges) per group. Pure.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::index::SessionIndex;
use crate::snapshot::locks::waits_from_states;
use crate::snapshot::{LockKind, LockWait, Session, Snapshot};

/// Stands for "a holder nobody could name" in the wait graph (no processlist id is this large).
pub const UNKNOWN: u64 = u64::MAX;

/// One edge of the wait graph: `waiter` waits for `blocker` (or [`UNKNOWN`]) in
/// `WaitGraph::waits[wait]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub wait: usize,
    pub waiter: u64,
    pub blocker: u64,
    /// The server did not name the holder: `blocker` is the likely one.
    pub inferred: bool,
}

/// Every client lock wait (the snapshot's list plus wait states it does not list), the likely
/// holder of the waits whose holder the server does not show, who waits for whom, and whom
/// each session holds up.
#[derive(Debug, Default)]
pub struct WaitGraph {
    /// The client lock waits the edges point into.
    pub waits: Vec<LockWait>,
    /// One per wait, in the order of `waits` (a wait on itself is left out).
    pub edges: Vec<Edge>,
    /// blocker -> the sessions it holds up directly -> whether only by inference.
    blocked: HashMap<u64, BTreeMap<u64, bool>>,
}

impl WaitGraph {
    pub fn of(snap: &Snapshot, ix: &SessionIndex<'_>) -> WaitGraph {
        let is_client = |id: u64| ix.session(id).is_some_and(Session::is_client);
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
            .chain(ix.clients().filter(|s| ix.is_waiting(s)).map(|s| s.id))
            .collect();
        // Only metadata and table locks get an inferred holder, except where the lock tables
        // name no holder at all (see the module doc).
        let no_lock_tables = snap.dialect().lock_tables_unavailable().is_some();
        let inferable =
            |w: &LockWait| w.blocking_id.is_none() && (w.kind != LockKind::Row || no_lock_tables);
        let queued_for = waits
            .iter()
            .filter(|w| inferable(w))
            .map(|w| w.wait_s)
            .max();
        let guess = queued_for.and_then(|q| likely_holder(ix, &waiting, q));
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
        WaitGraph {
            waits,
            edges,
            blocked,
        }
    }

    /// The wait an edge stands for.
    pub fn wait(&self, e: &Edge) -> &LockWait {
        &self.waits[e.wait]
    }

    /// The sessions that `id` holds up directly, each once: `(waiter, inferred)`, where
    /// `inferred` means the server did not name the holder and `id` is the likely one. A waiter
    /// listed both ways counts as listed.
    pub fn blocked_by(&self, id: u64) -> Vec<(u64, bool)> {
        self.blocked
            .get(&id)
            .map(|m| m.iter().map(|(&w, &i)| (w, i)).collect())
            .unwrap_or_default()
    }

    /// The edges of each group of sessions connected by waits, groups in the order of their
    /// lowest session id, edges in graph order.
    pub fn components(&self) -> Vec<Vec<&Edge>> {
        let edges = &self.edges;
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
}

/// For every root of a group (a session it waits for that does not wait itself, or waits for
/// nobody listed), how many of the group's waiters it holds up, directly or through a chain.
/// One reverse walk per root: O(roots x edges) for the group, and a group has few roots.
pub fn held_by_roots(mine: &[&Edge]) -> BTreeMap<u64, usize> {
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

/// The likely holder of locks whose holder the server does not show.
fn likely_holder(ix: &SessionIndex<'_>, waiting: &HashSet<u64>, queued_for: u64) -> Option<u64> {
    let candidates = || {
        ix.clients()
            .filter(|s| !waiting.contains(&s.id) && ix.age_s(s) + 1.0 >= queued_for as f64)
    };
    let oldest_trx = candidates()
        .filter_map(|s| ix.transaction_of(s.id).map(|t| (t.age_s, s.id)))
        .max_by_key(|&(age, id)| (age, std::cmp::Reverse(id)));
    let longest_query = || {
        candidates()
            .filter(|s| !s.is_sleeping())
            .max_by_key(|s| (s.time_s, std::cmp::Reverse(s.id)))
            .map(|s| s.id)
    };
    oldest_trx.map(|(_, id)| id).or_else(longest_query)
}
