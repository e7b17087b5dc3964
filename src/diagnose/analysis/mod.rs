//! What every heuristic judges: the snapshot and what is derived from it once per judgement.
//!
//! [`Analysis::new`] indexes the snapshot's sessions by id ([`SessionIndex`]), builds the wait
//! graph of who waits for whom ([`WaitGraph`]), finds the connection leaks ([`Leaks`]) and groups
//! the client sessions by account: O(n log n) in sessions, transactions and lock waits, paid once.
//! Every heuristic (`fn check(a: &Analysis<'_>, th: &Thresholds)`) and the verdict take it, so a
//! lookup by id is a hash lookup and nothing derived is built twice. Nothing here is stored in
//! the snapshot: a saved snapshot holds only what was read. Pure.
//!
//! A judgement that needs more shared, derived data adds a field here, built in
//! [`Analysis::new`] from a file of its own in this folder (which imports nothing from the
//! heuristics).

pub mod accounts;
pub mod index;
pub mod leaks;
pub mod pools;
pub mod statements;
pub mod waits;

use std::collections::{BTreeMap, BTreeSet};

pub use accounts::ByAccount;
pub use index::SessionIndex;
pub use leaks::{Leak, Leaks, Staircase};
pub use pools::{FixedPool, FixedPools};
pub use waits::{Edge, UNKNOWN, WaitGraph};

use crate::fast_hash::HashSet;
use crate::snapshot::{Session, Snapshot, Transaction};

/// One snapshot, indexed, with what several heuristics derive from it.
#[derive(Debug)]
pub struct Analysis<'s> {
    /// The snapshot judged.
    pub snap: &'s Snapshot,
    index: SessionIndex<'s>,
    waits: WaitGraph,
    leaks: Leaks<'s>,
    pools: FixedPools<'s>,
    by_account: ByAccount<'s>,
}

impl<'s> Analysis<'s> {
    /// Index `snap` and derive the wait graph, the leaks and the accounts (see the module doc).
    pub fn new(snap: &'s Snapshot) -> Analysis<'s> {
        let index = SessionIndex::of(snap);
        // The wait graph and the accounts (with their leaks and pools) are independent: at
        // 10,000 sessions they are built at once (see `parallel`).
        let split = snap.sessions.len() >= crate::parallel::WORTH_SPLITTING;
        let (waits, (by_account, leaks, pools)) = crate::parallel::join(
            split,
            || WaitGraph::of(snap, &index),
            || {
                let mut by_account: ByAccount<'s> = BTreeMap::new();
                for s in index.clients() {
                    by_account
                        .entry((s.user.as_str(), s.client_host()))
                        .or_default()
                        .push(s);
                }
                let leaks = Leaks::of(snap, &by_account);
                let pools = FixedPools::of(&index, &by_account, &leaks.ids);
                (by_account, leaks, pools)
            },
        );
        Analysis {
            snap,
            index,
            waits,
            leaks,
            pools,
            by_account,
        }
    }

    /// The session with processlist id `id` (a hash lookup).
    pub fn session(&self, id: u64) -> Option<&'s Session> {
        self.index.session(id)
    }

    /// The open transaction of session `session_id` (a hash lookup).
    pub fn transaction_of(&self, session_id: u64) -> Option<&'s Transaction> {
        self.index.transaction_of(session_id)
    }

    /// The sessions every heuristic judges: clients only (no replication, system or killed
    /// rows), in processlist order.
    pub fn clients(&self) -> impl Iterator<Item = &'s Session> + '_ {
        self.index.clients()
    }

    /// How long the session has held its slot for what it does now (see
    /// [`SessionIndex::age_s`]).
    pub fn age_s(&self, s: &Session) -> f64 {
        self.index.age_s(s)
    }

    /// Sessions oldest first (see [`SessionIndex::oldest_first`]).
    pub fn oldest_first(&self, v: Vec<&'s Session>) -> Vec<&'s Session> {
        self.index.oldest_first(v)
    }

    /// Whether the session waits for a lock (see [`SessionIndex::is_waiting`]).
    pub fn is_waiting(&self, s: &Session) -> bool {
        self.index.is_waiting(s)
    }

    /// Who waits for whom.
    pub fn waits(&self) -> &WaitGraph {
        &self.waits
    }

    /// The sessions that `id` holds up directly: `(waiter, inferred)` (see
    /// [`WaitGraph::blocked_by`]). lock-pileup, idle-transactions and the verdict agree on it.
    pub fn blocked_by(&self, id: u64) -> Vec<(u64, bool)> {
        self.waits.blocked_by(id)
    }

    /// How many sessions the sessions `ids` hold up, directly or through a chain of waits, each
    /// once and none of `ids` themselves: the waiters roots are credited with when findings are
    /// weighed by the connections they explain. A cycle counts each member once. O(edges
    /// reached).
    pub fn held_up_by(&self, ids: impl IntoIterator<Item = u64>) -> usize {
        let mut stack: Vec<u64> = ids.into_iter().collect();
        let mut seen: BTreeSet<u64> = stack.iter().copied().collect();
        let start = seen.len();
        while let Some(n) = stack.pop() {
            for (w, _) in self.waits.blocked_by(n) {
                if seen.insert(w) {
                    stack.push(w);
                }
            }
        }
        seen.len() - start
    }

    /// The connection leaks, one per leaking client.
    pub fn leaks(&self) -> &[Leak<'s>] {
        &self.leaks.leaks
    }

    /// Ids of every session some client leaked.
    pub fn leaked_ids(&self) -> &HashSet<u64> {
        &self.leaks.ids
    }

    /// The fixed-size pools, one per client (see [`pools`]).
    pub fn fixed_pools(&self) -> &[FixedPool<'s>] {
        &self.pools.pools
    }

    /// Ids of every session of a fixed pool: a kill frees none of them (the pool reopens them).
    pub fn fixed_pool_ids(&self) -> &HashSet<u64> {
        &self.pools.ids
    }

    /// The client sessions by account (user, client host).
    pub fn by_account(&self) -> &ByAccount<'s> {
        &self.by_account
    }
}
