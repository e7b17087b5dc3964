//! Lookups by id over one snapshot, built once per judgement.
//!
//! [`Snapshot::with_index`] indexes the snapshot (session id → session, session id → its
//! transaction, sessions with a listed lock wait) and runs a closure; while it runs,
//! [`Snapshot::session`], [`Snapshot::transaction_of`] and [`Snapshot::has_lock_wait`] on that
//! snapshot are hash lookups instead of scans, and [`Snapshot::memo`] keeps values derived from
//! it (the wait graph) so that every heuristic shares one. Outside a scope the same methods scan:
//! same answers, only slower.
//!
//! Nothing here is stored in the snapshot, so nothing derived is ever serialized. The scope is
//! keyed by the snapshot's address and lives exactly as long as the shared borrow `with_index`
//! takes: while it runs nobody can change, move or drop that snapshot, so the index cannot go
//! stale. Per thread; nested scopes (of the same or other snapshots) are fine.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use super::model::{Session, Snapshot, Transaction};

/// Positions by id. On duplicate ids the first row wins, as a scan would find it.
struct Index {
    sessions: HashMap<u64, usize>,
    transactions: HashMap<u64, usize>,
    waiting: HashSet<u64>,
    memo: RefCell<HashMap<TypeId, Rc<dyn Any>>>,
}

impl Index {
    fn of(snap: &Snapshot) -> Index {
        let mut sessions = HashMap::with_capacity(snap.sessions.len());
        for (i, s) in snap.sessions.iter().enumerate() {
            sessions.entry(s.id).or_insert(i);
        }
        let mut transactions = HashMap::with_capacity(snap.transactions.len());
        for (i, t) in snap.transactions.iter().enumerate() {
            transactions.entry(t.session_id).or_insert(i);
        }
        Index {
            sessions,
            transactions,
            waiting: snap.lock_waits.iter().map(|w| w.waiting_id).collect(),
            memo: RefCell::new(HashMap::new()),
        }
    }
}

thread_local! {
    /// The snapshots indexed right now on this thread: (address, index).
    static SCOPES: RefCell<Vec<(usize, Rc<Index>)>> = const { RefCell::new(Vec::new()) };
}

fn key(snap: &Snapshot) -> usize {
    std::ptr::from_ref(snap) as usize
}

/// The index of `snap` when a scope for it is active.
fn active(snap: &Snapshot) -> Option<Rc<Index>> {
    let k = key(snap);
    SCOPES.with(|s| {
        s.borrow()
            .iter()
            .rev()
            .find(|(a, _)| *a == k)
            .map(|(_, i)| Rc::clone(i))
    })
}

/// Pops the scope pushed by `with_index`, also when the closure panics.
struct Pop;

impl Drop for Pop {
    fn drop(&mut self) {
        SCOPES.with(|s| {
            s.borrow_mut().pop();
        });
    }
}

impl Snapshot {
    /// Run `f` with this snapshot indexed (see the module doc). Cheap when already indexed.
    pub fn with_index<R>(&self, f: impl FnOnce() -> R) -> R {
        if active(self).is_some() {
            return f();
        }
        let index = Rc::new(Index::of(self));
        SCOPES.with(|s| s.borrow_mut().push((key(self), index)));
        let _pop = Pop;
        f()
    }

    /// The session with processlist id `id`.
    pub fn session(&self, id: u64) -> Option<&Session> {
        match active(self) {
            Some(ix) => ix.sessions.get(&id).map(|&i| &self.sessions[i]),
            None => self.sessions.iter().find(|s| s.id == id),
        }
    }

    /// The open transaction of session `session_id`.
    pub fn transaction_of(&self, session_id: u64) -> Option<&Transaction> {
        match active(self) {
            Some(ix) => ix
                .transactions
                .get(&session_id)
                .map(|&i| &self.transactions[i]),
            None => self
                .transactions
                .iter()
                .find(|t| t.session_id == session_id),
        }
    }

    /// Whether [`Snapshot::lock_waits`] lists a wait of session `id`.
    pub fn has_lock_wait(&self, id: u64) -> bool {
        match active(self) {
            Some(ix) => ix.waiting.contains(&id),
            None => self.lock_waits.iter().any(|w| w.waiting_id == id),
        }
    }

    /// A value derived from this snapshot alone by `build`, computed once per
    /// [`Snapshot::with_index`] scope and shared by everyone in it (outside a scope: every call
    /// builds it). `build` must depend on nothing but the snapshot: one value per type `T`.
    pub fn memo<T: 'static>(&self, build: impl FnOnce() -> T) -> Rc<T> {
        let Some(ix) = active(self) else {
            return Rc::new(build());
        };
        let id = TypeId::of::<T>();
        if let Some(v) = ix.memo.borrow().get(&id) {
            return Rc::clone(v)
                .downcast::<T>()
                .expect("memo keyed by its type");
        }
        // Built without holding the borrow: `build` may use other memos.
        let v = Rc::new(build());
        ix.memo
            .borrow_mut()
            .insert(id, Rc::clone(&v) as Rc<dyn Any>);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{LockKind, LockWait};

    fn snap() -> Snapshot {
        let mut s = crate::diagnose::fixtures::mariadb();
        s.transactions = vec![
            crate::diagnose::fixtures::trx(3, "RUNNING", 10, 0, None),
            crate::diagnose::fixtures::trx(5, "RUNNING", 20, 0, None),
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

    /// Indexed and scanned lookups agree, for ids present, absent and duplicated.
    #[test]
    fn indexed_lookups_answer_like_scans() {
        let mut s = snap();
        let mut dup = s.sessions[2].clone();
        dup.user = "second".into();
        s.sessions.push(dup);
        let scanned: Vec<_> = (0..=12)
            .map(|id| {
                (
                    s.session(id).cloned(),
                    s.transaction_of(id).cloned(),
                    s.has_lock_wait(id),
                )
            })
            .collect();
        let indexed: Vec<_> = s.with_index(|| {
            (0..=12)
                .map(|id| {
                    (
                        s.session(id).cloned(),
                        s.transaction_of(id).cloned(),
                        s.has_lock_wait(id),
                    )
                })
                .collect()
        });
        assert_eq!(scanned, indexed);
        assert_eq!(indexed[3].0.as_ref().unwrap().user, "app");
        assert!(indexed[4].2 && !indexed[3].2);
    }

    /// A scope covers its own snapshot only, ends with the closure (also on panic), and memos
    /// are built once inside it.
    #[test]
    fn scopes_are_per_snapshot_and_end_with_the_closure() {
        let a = snap();
        let mut b = snap();
        b.transactions.clear();
        let builds = std::cell::Cell::new(0);
        a.with_index(|| {
            assert!(active(&a).is_some());
            assert!(active(&b).is_none());
            assert!(b.transaction_of(3).is_none());
            for _ in 0..3 {
                let v = a.memo(|| {
                    builds.set(builds.get() + 1);
                    7u32
                });
                assert_eq!(*v, 7);
            }
            a.with_index(|| assert!(active(&a).is_some()));
            assert!(active(&a).is_some(), "a nested scope leaves the outer one");
        });
        assert_eq!(builds.get(), 1);
        assert!(active(&a).is_none());
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            a.with_index(|| panic!("inside"))
        }));
        assert!(active(&a).is_none());
        // Outside a scope a memo is built on every call.
        a.memo(|| builds.set(builds.get() + 1));
        assert_eq!(builds.get(), 2);
    }
}
