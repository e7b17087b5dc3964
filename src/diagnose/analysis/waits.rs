//! The wait graph: who waits for whom, and whom each session holds up, built once per
//! judgement and shared by lock-pileup, idle-transactions and the verdict.
//!
//! Waits come from the snapshot's lock waits (InnoDB row locks with their holder; metadata and
//! table locks, with their holder on MySQL 8, without it on MariaDB where they are known only
//! from the `Waiting for table metadata lock` state) plus any wait state the reader did not list,
//! of client sessions only. Metadata- and table-lock waits without a known holder are attributed
//! to an inferred one: a running statement that waits for nothing and names the table the
//! waiter wants (evidence), else the client session with the oldest open transaction that is not waiting
//! (typically idle in transaction, `Sleep`), else the longest-running statement that is not
//! waiting; either must be older than the longest of those waits, since it took its lock before
//! the queue formed. Row-lock waits without a holder (InnoDB's lists were cut, see
//! `snapshot::locks`) stay unattributed ([`UNKNOWN`]): the waiters INNODB_TRX no longer lists
//! look like running statements. The exception is a server whose lock tables cannot name any
//! holder (MySQL with performance_schema OFF): there every row wait comes from INNODB_TRX alone,
//! which lists every transaction, and the guess is said to be one.
//!
//! Which waits get an inferred holder depends on the lock (docs/wait-states.md): metadata and
//! table locks take the guess above; a table flush waits for statements, so the longest-running
//! statement; the global read lock, backup locks and user locks get none (their holder is
//! typically idle with no transaction, like any pool session, so a guess would name an innocent).
//!
//! Following who waits for whom to a session that is not waiting itself gives a *root* blocker
//! ([`WaitGraph::roots`], [`held_by_roots`]): killing a waiter in the middle frees nothing. Every
//! session that waits is a *victim*. A group of sessions that wait for each other with no root is
//! a *cycle* ([`WaitGraph::cycles`]): a deadlock InnoDB does not break when
//! `innodb_deadlock_detect = OFF` (until `innodb_lock_wait_timeout`); killing one of them kills
//! a victim, so no relief is offered. Building is O(n log n) in sessions, transactions and waits
//! plus O(edges) for roots, releases and cycles. Pure.

use std::collections::{BTreeMap, BTreeSet};

use crate::fast_hash::{HashMap, HashMapExt, HashSet, HashSetExt};

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
    /// Every client session that waits for a lock (listed, `LOCK WAIT`, or a wait state).
    victims: BTreeSet<u64>,
    /// Holders that wait for nothing themselves -> every session they hold up, directly or
    /// through a chain.
    roots: BTreeMap<u64, BTreeSet<u64>>,
    /// Groups of sessions waiting for each other with no root, each sorted.
    cycles: Vec<Vec<u64>>,
    /// Holders of a lock others wait for that outlives a statement (see
    /// [`WaitGraph::holds_session_lock`]).
    session_lock_holders: HashSet<u64>,
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
        // Which waits get an inferred holder, and the guess per kind (see the module doc).
        let no_lock_tables = snap.dialect().lock_tables_unavailable().is_some();
        let inferable = |w: &LockWait| {
            w.blocking_id.is_none()
                && match w.kind {
                    LockKind::Row => no_lock_tables,
                    LockKind::Metadata | LockKind::Table | LockKind::Flush => true,
                    LockKind::Global | LockKind::User => false,
                }
        };
        let queued_for = |flush: bool| {
            waits
                .iter()
                .filter(|w| inferable(w) && (w.kind == LockKind::Flush) == flush)
                .map(|w| w.wait_s)
                .max()
        };
        let lock_guess = queued_for(false).and_then(|q| likely_holder(ix, &waiting, q));
        let flush_guess = queued_for(true).and_then(|q| longest_statement(ix, &waiting, q));
        // Evidence beats the general guess: a running statement, not waiting, that names the
        // table a metadata- or table-lock waiter wants holds a lock on it; an idle transaction
        // may have touched any table.
        let by_table = running_by_table(ix, &waiting);
        let named_holder = |w: &LockWait| {
            let waiter = ix.session(w.waiting_id)?;
            let mut wanted = tables_named(waiter.info.as_deref().unwrap_or(""));
            if let Some(o) = &w.object {
                wanted.push(bare_table(o));
            }
            wanted
                .iter()
                .filter_map(|t| by_table.get(t))
                .flatten()
                .filter(|&&(time_s, _)| time_s.saturating_add(1) >= w.wait_s)
                .max()
                .map(|&(_, id)| id)
        };
        let guess_for = |w: &LockWait| {
            if !inferable(w) {
                None
            } else if w.kind == LockKind::Flush {
                flush_guess
            } else if matches!(w.kind, LockKind::Metadata | LockKind::Table) {
                named_holder(w).or(lock_guess)
            } else {
                lock_guess
            }
        };
        // Listed holders as they are, the others attributed to the guess (or UNKNOWN).
        let edges: Vec<Edge> = waits
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let guess = guess_for(w);
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
        let victims: BTreeSet<u64> = waiting.iter().copied().collect();
        let roots = roots_of(&edges, &victims);
        let cycles = cycles_of(&edges, &roots);
        let session_lock_holders = edges
            .iter()
            .filter(|e| matches!(waits[e.wait].kind, LockKind::Global | LockKind::User))
            .map(|e| e.blocker)
            .collect();
        WaitGraph {
            waits,
            edges,
            blocked,
            victims,
            roots,
            cycles,
            session_lock_holders,
        }
    }

    /// Whether `id` holds a lock others wait for that outlives its statement: the global read
    /// lock, a backup stage or a user lock, held until released or the session ends (so
    /// `KILL QUERY` would not release it; docs/wait-states.md).
    pub fn holds_session_lock(&self, id: u64) -> bool {
        self.session_lock_holders.contains(&id)
    }

    /// Sessions that hold up others and wait for nothing themselves, each with every session
    /// it holds up, directly or through a chain (never [`UNKNOWN`]).
    pub fn roots(&self) -> &BTreeMap<u64, BTreeSet<u64>> {
        &self.roots
    }

    /// Whether the session holds others up and waits for nothing.
    pub fn is_root(&self, id: u64) -> bool {
        self.roots.contains_key(&id)
    }

    /// Every client session that waits for a lock.
    #[cfg(test)]
    pub fn victims(&self) -> &BTreeSet<u64> {
        &self.victims
    }

    /// Whether the session waits for a lock: killing it frees its slot and nothing else.
    pub fn is_victim(&self, id: u64) -> bool {
        self.victims.contains(&id)
    }

    /// Groups of sessions that wait for each other with no root (each sorted by id).
    pub fn cycles(&self) -> &[Vec<u64>] {
        &self.cycles
    }

    /// The waiters released once every session of `killed` is gone: those whose every holder
    /// is killed or released in turn (a waiter also behind a session that stays keeps waiting;
    /// one behind [`UNKNOWN`] is never counted). Kahn's walk: O(edges).
    pub fn released_by(&self, killed: &[u64]) -> BTreeSet<u64> {
        // The walk starts at the killed sessions that hold someone up: a kill of 10,000 idle
        // sessions with no lock wait (the common case) costs nothing but this scan.
        let mut queue: Vec<u64> = killed
            .iter()
            .copied()
            .filter(|b| self.blocked.contains_key(b))
            .collect();
        if queue.is_empty() {
            return BTreeSet::new();
        }
        let killed: HashSet<u64> = killed.iter().copied().collect();
        let mut holders_of: HashMap<u64, BTreeSet<u64>> = HashMap::new();
        for e in &self.edges {
            holders_of.entry(e.waiter).or_default().insert(e.blocker);
        }
        let mut pending: HashMap<u64, usize> =
            holders_of.iter().map(|(&w, h)| (w, h.len())).collect();
        let mut released = BTreeSet::new();
        while let Some(b) = queue.pop() {
            for (w, _) in self.blocked_by(b) {
                let Some(n) = pending.get_mut(&w) else {
                    continue;
                };
                *n = n.saturating_sub(1);
                if *n == 0 && !killed.contains(&w) && released.insert(w) {
                    queue.push(w);
                }
            }
        }
        released
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
        let mut seen: HashSet<u64> = [root].into_iter().collect();
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

/// Roots: blockers (never [`UNKNOWN`]) that are no victim, with every session they hold up.
fn roots_of(edges: &[Edge], victims: &BTreeSet<u64>) -> BTreeMap<u64, BTreeSet<u64>> {
    let mut waiters_of: HashMap<u64, Vec<u64>> = HashMap::new();
    for e in edges {
        waiters_of.entry(e.blocker).or_default().push(e.waiter);
    }
    let waits: HashSet<u64> = edges.iter().map(|e| e.waiter).collect();
    let mut roots = BTreeMap::new();
    for &root in waiters_of.keys() {
        if root == UNKNOWN || victims.contains(&root) || waits.contains(&root) {
            continue;
        }
        let mut seen: BTreeSet<u64> = BTreeSet::new();
        let mut stack = vec![root];
        while let Some(n) = stack.pop() {
            for &w in waiters_of.get(&n).map_or(&[][..], Vec::as_slice) {
                if w != root && seen.insert(w) {
                    stack.push(w);
                }
            }
        }
        roots.insert(root, seen);
    }
    roots
}

/// Groups of waits with no root and no unknown holder: every session in them waits for another
/// of them. Sessions a root holds up, or behind an unknown holder, are not in a cycle.
fn cycles_of(edges: &[Edge], roots: &BTreeMap<u64, BTreeSet<u64>>) -> Vec<Vec<u64>> {
    let explained: HashSet<u64> = roots
        .iter()
        .flat_map(|(r, held)| std::iter::once(*r).chain(held.iter().copied()))
        .collect();
    // Sessions that wait, directly or through a chain, for an unknown holder.
    let mut waiters_of: HashMap<u64, Vec<u64>> = HashMap::new();
    for e in edges {
        waiters_of.entry(e.blocker).or_default().push(e.waiter);
    }
    let mut unknown: HashSet<u64> = HashSet::new();
    let mut stack = vec![UNKNOWN];
    while let Some(n) = stack.pop() {
        for &w in waiters_of.get(&n).map_or(&[][..], Vec::as_slice) {
            if unknown.insert(w) {
                stack.push(w);
            }
        }
    }
    let rest: Vec<Edge> = edges
        .iter()
        .filter(|e| {
            !explained.contains(&e.waiter) && !unknown.contains(&e.waiter) && e.blocker != UNKNOWN
        })
        .cloned()
        .collect();
    let g = WaitGraph {
        edges: rest,
        ..WaitGraph::default()
    };
    // A component is a cycle only when every holder in it waits there too (a holder whose wait
    // the graph does not show is no proof of a cycle).
    g.components()
        .into_iter()
        .filter(|c| {
            let waiters: HashSet<u64> = c.iter().map(|e| e.waiter).collect();
            c.iter().all(|e| waiters.contains(&e.blocker))
        })
        .map(|c| {
            c.iter()
                .flat_map(|e| [e.waiter, e.blocker])
                .collect::<BTreeSet<u64>>()
                .into_iter()
                .collect()
        })
        .collect()
}

/// The likely holder of a table flush: the longest-running statement not waiting itself, older
/// than the longest flush wait.
fn longest_statement(
    ix: &SessionIndex<'_>,
    waiting: &HashSet<u64>,
    queued_for: u64,
) -> Option<u64> {
    ix.clients()
        .filter(|s| !waiting.contains(&s.id) && !s.is_sleeping())
        .filter(|s| s.time_s + 1 >= queued_for)
        .max_by_key(|s| (s.time_s, std::cmp::Reverse(s.id)))
        .map(|s| s.id)
}

/// At most this much of a statement is scanned for the tables it names.
const TABLE_SCAN_BYTES: usize = 4096;

/// The tables a statement names after `FROM`, `JOIN`, `TABLE`, `INTO` or `UPDATE`, lower-case and
/// without schema or quotes: enough to tie a metadata-lock waiter to a running statement on the
/// same table. Bounded: the first [`TABLE_SCAN_BYTES`] of hostile text.
fn tables_named(sql: &str) -> Vec<String> {
    let mut end = sql.len().min(TABLE_SCAN_BYTES);
    while !sql.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = Vec::new();
    let mut words = sql[..end]
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')' || c == ';')
        .filter(|w| !w.is_empty());
    while let Some(w) = words.next() {
        if ["from", "join", "table", "into", "update"]
            .iter()
            .any(|k| w.eq_ignore_ascii_case(k))
            && let Some(name) = words.next()
        {
            let t = bare_table(name);
            if !t.is_empty() && !out.contains(&t) {
                out.push(t);
            }
        }
    }
    out
}

/// `` `shop`.`orders` `` → `orders`.
fn bare_table(name: &str) -> String {
    name.rsplit('.')
        .next()
        .unwrap_or(name)
        .trim_matches(|c| c == '`' || c == '"')
        .to_ascii_lowercase()
}

/// For each table named by a running client statement that waits for nothing: those
/// statements as `(time_s, id)`.
fn running_by_table(
    ix: &SessionIndex<'_>,
    waiting: &HashSet<u64>,
) -> HashMap<String, Vec<(u64, u64)>> {
    let mut map: HashMap<String, Vec<(u64, u64)>> = HashMap::new();
    for s in ix
        .clients()
        .filter(|s| !waiting.contains(&s.id) && !s.is_sleeping())
    {
        for t in tables_named(s.info.as_deref().unwrap_or("")) {
            map.entry(t).or_default().push((s.time_s, s.id));
        }
    }
    map
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::{self, lock_wait, session, trx};
    use crate::snapshot::Snapshot;

    fn graph(s: &Snapshot) -> WaitGraph {
        WaitGraph::of(s, &SessionIndex::of(s))
    }

    fn ids(v: &BTreeSet<u64>) -> Vec<u64> {
        v.iter().copied().collect()
    }

    /// 1 idle in a transaction holds a row 2 and 3 wait for; 4 waits for 3 (a chain); 5 runs
    /// a report holding a table 6 (an ALTER) waits for, and 7, 8 queue behind the ALTER.
    fn two_pileups() -> Snapshot {
        let mut s = fixtures::mariadb();
        let q = |id, time, state: &str, info: &str| {
            session(id, "app", "10.0.0.7", "Query", time, state, Some(info))
        };
        fixtures::with_sessions(
            &mut s,
            vec![
                session(1, "app", "10.0.0.7", "Sleep", 300, "", None),
                q(2, 40, "Updating", "UPDATE t SET v=1 WHERE id=1"),
                q(3, 30, "Updating", "UPDATE t SET v=2 WHERE id=1"),
                q(4, 20, "Updating", "UPDATE t SET v=3 WHERE id=2"),
                q(5, 500, "Sending data", "SELECT SLEEP(900) FROM r"),
                q(
                    6,
                    60,
                    "Waiting for table metadata lock",
                    "ALTER TABLE r ADD c INT",
                ),
                q(7, 50, "Waiting for table metadata lock", "SELECT * FROM r"),
                q(8, 40, "Waiting for table metadata lock", "SELECT * FROM r"),
                session(9, "app", "10.0.0.7", "Sleep", 900, "", None),
            ],
        );
        s.transactions = vec![
            trx(1, "RUNNING", 300, 5, None),
            trx(2, "LOCK WAIT", 40, 0, None),
            trx(3, "LOCK WAIT", 30, 1, None),
            trx(4, "LOCK WAIT", 20, 0, None),
        ];
        s.lock_waits = vec![
            lock_wait(LockKind::Row, 2, Some(1), 40),
            lock_wait(LockKind::Row, 3, Some(1), 30),
            lock_wait(LockKind::Row, 4, Some(3), 20),
            lock_wait(LockKind::Metadata, 6, Some(5), 60),
            lock_wait(LockKind::Metadata, 7, Some(6), 50),
            lock_wait(LockKind::Metadata, 8, Some(6), 40),
        ];
        s
    }

    #[test]
    fn roots_hold_their_chains_and_victims_are_every_waiter() {
        let g = graph(&two_pileups());
        assert!(
            !g.holds_session_lock(5),
            "a table metadata lock ends with the statement"
        );
        let roots: Vec<(u64, Vec<u64>)> = g.roots().iter().map(|(r, h)| (*r, ids(h))).collect();
        assert_eq!(roots, vec![(1, vec![2, 3, 4]), (5, vec![6, 7, 8])]);
        assert_eq!(ids(g.victims()), vec![2, 3, 4, 6, 7, 8]);
        assert!(!g.is_root(6), "the ALTER waits and blocks: no root");
        assert!(
            !g.is_victim(9) && !g.is_root(9),
            "an idle bystander is neither"
        );
        assert!(g.cycles().is_empty());
    }

    #[test]
    fn releases_follow_every_holder() {
        let g = graph(&two_pileups());
        assert_eq!(ids(&g.released_by(&[1])), vec![2, 3, 4]);
        // A killed waiter is ended, not released; order and repeats in the kill list do not
        // matter, and sessions that hold nobody up (the 10,000 idle ones of a kill) add nothing.
        assert_eq!(ids(&g.released_by(&[2, 1, 1])), vec![3, 4]);
        let mut many: Vec<u64> = (100..10_100).collect();
        many.push(5);
        assert_eq!(ids(&g.released_by(&many)), vec![6, 7, 8]);
        assert_eq!(ids(&g.released_by(&[5])), vec![6, 7, 8]);
        // Stopping the ALTER releases the queue behind it, not the ALTER's own wait.
        assert_eq!(ids(&g.released_by(&[6])), vec![7, 8]);
        // A waiter behind two holders is released only when both are gone.
        let mut s = two_pileups();
        s.lock_waits.push(lock_wait(LockKind::Row, 4, Some(1), 20));
        let g = graph(&s);
        assert_eq!(ids(&g.released_by(&[3])), Vec::<u64>::new());
        assert_eq!(ids(&g.released_by(&[1])), vec![2, 3, 4]);
        assert!(g.released_by(&[9]).is_empty());
    }

    /// innodb_deadlock_detect = OFF: 2 waits for 3, 3 for 4, 4 for 2. No root, one cycle; a
    /// pile-up beside it keeps its root.
    #[test]
    fn a_cycle_has_no_root() {
        let mut s = two_pileups();
        s.lock_waits.retain(|w| w.kind != LockKind::Row);
        s.lock_waits.extend([
            lock_wait(LockKind::Row, 2, Some(3), 40),
            lock_wait(LockKind::Row, 3, Some(4), 30),
            lock_wait(LockKind::Row, 4, Some(2), 20),
        ]);
        let g = graph(&s);
        assert_eq!(g.roots().keys().copied().collect::<Vec<_>>(), vec![5]);
        assert_eq!(g.cycles(), &[vec![2, 3, 4]]);
        // Behind an unknown holder, or a holder whose own wait is not shown, is no cycle.
        s.lock_waits[3].blocking_id = None;
        s.lock_waits.pop();
        assert!(graph(&s).cycles().is_empty());
        s.lock_waits[3].blocking_id = Some(3);
        assert!(
            graph(&s).cycles().is_empty(),
            "4 waits, but for no one listed"
        );
    }

    /// A backup-lock or user-lock wait whose holder nobody named gets no guess: the holder is
    /// idle without a transaction, like any pool session.
    #[test]
    fn global_and_user_lock_waits_get_no_guessed_holder() {
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(
            &mut s,
            vec![
                session(1, "backup", "localhost", "Sleep", 600, "", None),
                session(2, "app", "10.0.0.7", "Sleep", 900, "", None),
                session(
                    3,
                    "app",
                    "10.0.0.7",
                    "Query",
                    50,
                    "Waiting for backup lock",
                    Some("INSERT INTO t VALUES (1)"),
                ),
                session(
                    4,
                    "app",
                    "10.0.0.7",
                    "Query",
                    40,
                    "User lock",
                    Some("SELECT GET_LOCK('job', 60)"),
                ),
                session(
                    5,
                    "app",
                    "10.0.0.7",
                    "Query",
                    700,
                    "Sending data",
                    Some("SELECT 1"),
                ),
            ],
        );
        let g = graph(&s);
        assert_eq!(ids(g.victims()), vec![3, 4]);
        assert!(
            g.edges.iter().all(|e| e.blocker == UNKNOWN),
            "{:?}",
            g.edges
        );
        assert!(g.roots().is_empty());
        // Named by the lock tables, they are roots like any holder.
        s.lock_waits = vec![
            lock_wait(LockKind::Global, 3, Some(1), 50),
            lock_wait(LockKind::User, 4, Some(2), 40),
        ];
        let g = graph(&s);
        assert_eq!(g.roots().keys().copied().collect::<Vec<_>>(), vec![1, 2]);
        assert!(g.holds_session_lock(1) && g.holds_session_lock(2));
        // A table flush waits for statements: the longest-running one is the likely holder.
        s.lock_waits.clear();
        s.sessions[2].state = "Waiting for table flush".into();
        let g = graph(&s);
        let e = g.edges.iter().find(|e| e.waiter == 3).unwrap();
        assert_eq!((e.blocker, e.inferred), (5, true));
    }

    /// An idle transaction on `orders` (1) is older than the report on `t` (2) that an ALTER of
    /// `t` (3) and a SELECT (4) wait for: the statement naming `t` is the likely holder, not the
    /// oldest transaction, which keeps its own row-lock waiter (5).
    #[test]
    fn a_running_statement_on_the_wanted_table_beats_an_older_idle_transaction() {
        let mut s = fixtures::mariadb();
        let mdl = "Waiting for table metadata lock";
        fixtures::with_sessions(
            &mut s,
            vec![
                session(1, "etl", "h", "Sleep", 60, "", None),
                session(
                    2,
                    "report",
                    "h",
                    "Query",
                    40,
                    "User sleep",
                    Some("select sleep(600) from t limit 1"),
                ),
                session(
                    3,
                    "dba",
                    "h",
                    "Query",
                    30,
                    mdl,
                    Some("alter table t add column c int"),
                ),
                session(
                    4,
                    "web",
                    "h",
                    "Query",
                    20,
                    mdl,
                    Some("SELECT * FROM `shop`.`t` WHERE id = 1"),
                ),
                session(
                    5,
                    "web",
                    "h",
                    "Query",
                    50,
                    "Updating",
                    Some("update orders set x = 2 where id = 5"),
                ),
            ],
        );
        s.transactions = vec![
            trx(1, "RUNNING", 60, 99, None),
            trx(5, "LOCK WAIT", 50, 0, None),
        ];
        s.lock_waits = vec![lock_wait(LockKind::Row, 5, Some(1), 50)];
        let g = graph(&s);
        let holder = |w: u64| {
            g.edges
                .iter()
                .find(|e| e.waiter == w)
                .map(|e| (e.blocker, e.inferred))
        };
        assert_eq!(holder(3), Some((2, true)));
        assert_eq!(holder(4), Some((2, true)));
        assert_eq!(holder(5), Some((1, false)));
        assert_eq!(
            tables_named("INSERT INTO a.b SELECT * FROM c JOIN `d` ON 1"),
            ["b", "c", "d"]
        );
    }

    /// Found by the fuzz test: a hostile server's TIME of 2^64-1 on the statement naming the
    /// table overflowed the age comparison (overflow checks are on in release too).
    #[test]
    fn a_running_statement_of_any_age_is_compared_without_overflow() {
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(
            &mut s,
            vec![
                session(
                    2,
                    "report",
                    "h",
                    "Query",
                    u64::MAX,
                    "User sleep",
                    Some("select * from t"),
                ),
                session(
                    3,
                    "dba",
                    "h",
                    "Query",
                    30,
                    "Waiting for table metadata lock",
                    Some("alter table t add column c int"),
                ),
            ],
        );
        let g = graph(&s);
        assert!(
            g.edges.iter().any(|e| e.waiter == 3 && e.blocker == 2),
            "{g:?}"
        );
    }
}
