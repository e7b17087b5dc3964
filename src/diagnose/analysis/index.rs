//! The snapshot's sessions by id: hash lookups instead of scans, built once per judgement.
//!
//! Positions by id into the snapshot's own vectors (session id → session, session id → its
//! transaction, sessions with a listed lock wait), and the client sessions in processlist order.
//! On duplicate ids the first row wins, as a scan would find it. O(n) to build. Pure.

use crate::fast_hash::{HashMap, HashSet};

use crate::snapshot::locks::waiting_for;
use crate::snapshot::{Session, Snapshot, Transaction};

/// Lookups by id over one snapshot.
#[derive(Debug)]
pub struct SessionIndex<'s> {
    snap: &'s Snapshot,
    sessions: HashMap<u64, &'s Session>,
    transactions: HashMap<u64, &'s Transaction>,
    /// Sessions [`Snapshot::lock_waits`] lists as waiting.
    waiting: HashSet<u64>,
    /// Positions of the client sessions ([`Session::is_client`]), in processlist order.
    clients: Vec<usize>,
}

impl<'s> SessionIndex<'s> {
    pub fn of(snap: &'s Snapshot) -> SessionIndex<'s> {
        // The two passes over every session at once at 10,000 (see `parallel`).
        let split = snap.sessions.len() >= crate::parallel::WORTH_SPLITTING;
        let (sessions, clients) = crate::parallel::join(
            split,
            || snap.sessions_by_id(),
            || {
                snap.sessions
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.is_client())
                    .map(|(i, _)| i)
                    .collect()
            },
        );
        SessionIndex {
            snap,
            sessions,
            transactions: snap.transactions_by_session(),
            waiting: snap.lock_waits.iter().map(|w| w.waiting_id).collect(),
            clients,
        }
    }

    /// The session with processlist id `id`.
    pub fn session(&self, id: u64) -> Option<&'s Session> {
        self.sessions.get(&id).copied()
    }

    /// The open transaction of session `session_id`.
    pub fn transaction_of(&self, session_id: u64) -> Option<&'s Transaction> {
        self.transactions.get(&session_id).copied()
    }

    /// Whether [`Snapshot::lock_waits`] lists a wait of session `id`.
    pub fn has_lock_wait(&self, id: u64) -> bool {
        self.waiting.contains(&id)
    }

    /// The sessions every heuristic judges: clients only (no replication, system or killed
    /// rows), in processlist order.
    pub fn clients(&self) -> impl Iterator<Item = &'s Session> + '_ {
        let sessions = &self.snap.sessions;
        self.clients.iter().map(move |&i| &sessions[i])
    }

    /// How long the session has held its slot for what it does now: the time in its current
    /// state, or the age of its open transaction when that is older.
    pub fn age_s(&self, s: &Session) -> f64 {
        let trx = self.transaction_of(s.id).map_or(0.0, |t| t.age_s as f64);
        s.time_secs_f64().max(trx)
    }

    /// Sort oldest first (see [`SessionIndex::age_s`]), then by id for a stable order.
    pub fn oldest_first(&self, v: Vec<&'s Session>) -> Vec<&'s Session> {
        // Each age once (a transaction lookup each), not twice per comparison.
        let mut aged: Vec<(f64, &Session)> = v.into_iter().map(|s| (self.age_s(s), s)).collect();
        aged.sort_by(|(a_age, a), (b_age, b)| b_age.total_cmp(a_age).then(a.id.cmp(&b.id)));
        aged.into_iter().map(|(_, s)| s).collect()
    }

    /// Whether the session waits for a lock (listed wait, InnoDB `LOCK WAIT`, or a wait state).
    pub fn is_waiting(&self, s: &Session) -> bool {
        self.has_lock_wait(s.id)
            || self
                .transaction_of(s.id)
                .is_some_and(|t| t.state.eq_ignore_ascii_case("LOCK WAIT"))
            || waiting_for(&s.state).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::{self, session, trx};
    use crate::snapshot::{LockKind, LockWait};

    fn snap() -> Snapshot {
        let mut s = fixtures::mariadb();
        s.transactions = vec![
            trx(3, "RUNNING", 10, 0, None),
            trx(5, "RUNNING", 20, 0, None),
        ];
        s.lock_waits = vec![LockWait {
            kind: LockKind::Row,
            waiting_id: 4,
            blocking_id: Some(3),
            object: None,
            wait_s: 1,
        }];
        s
    }

    /// Indexed lookups answer like scans, for ids present, absent and duplicated.
    #[test]
    fn lookups_answer_like_scans() {
        let mut s = snap();
        let mut dup = s.sessions[2].clone();
        dup.user = "second".into();
        s.sessions.push(dup);
        let ix = SessionIndex::of(&s);
        for id in 0..=12 {
            assert_eq!(ix.session(id), s.sessions.iter().find(|x| x.id == id));
            assert_eq!(
                ix.transaction_of(id),
                s.transactions.iter().find(|t| t.session_id == id)
            );
            assert_eq!(
                ix.has_lock_wait(id),
                s.lock_waits.iter().any(|w| w.waiting_id == id)
            );
        }
        assert_eq!(ix.session(3).unwrap().user, "app");
        assert!(ix.has_lock_wait(4) && !ix.has_lock_wait(3));
    }

    #[test]
    fn clients_order_and_waiting() {
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(
            &mut s,
            vec![
                session(1, "app", "10.0.0.1", "Sleep", 10, "", None),
                session(2, "app", "10.0.0.1", "Sleep", 50, "", None),
                session(3, "app", "10.0.0.1", "Sleep", 5, "", None),
                session(4, "system user", "", "Slave_SQL", 900, "", None),
                session(5, "app", "10.0.0.1", "Killed", 900, "", None),
                session(6, "app", "10.0.0.1", "Sleep", 50, "", None),
                session(7, "app", "localhost", "Query", 3, "Updating", None),
                session(
                    8,
                    "app",
                    "localhost",
                    "Query",
                    3,
                    "Waiting for table metadata lock",
                    None,
                ),
            ],
        );
        s.transactions.push(trx(3, "RUNNING", 400, 1, None));
        s.transactions.push(trx(7, "LOCK WAIT", 3, 0, None));
        let ix = SessionIndex::of(&s);
        let ids = |v: Vec<&Session>| v.iter().map(|s| s.id).collect::<Vec<u64>>();
        assert_eq!(ids(ix.clients().collect()), vec![1, 2, 3, 6, 7, 8]);
        let v = ix.oldest_first(ix.clients().take(4).collect());
        assert_eq!(ids(v), vec![3, 2, 6, 1]);
        let waiting: Vec<u64> = ix
            .clients()
            .filter(|x| ix.is_waiting(x))
            .map(|x| x.id)
            .collect();
        assert_eq!(waiting, vec![7, 8]);
    }
}
