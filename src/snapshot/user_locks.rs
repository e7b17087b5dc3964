//! Holders of user locks (GET_LOCK) that no lock table named: `IS_USED_LOCK(name)`.
//!
//! A session waiting in `GET_LOCK('name', …)` shows the state `User lock` and its statement; the
//! lock tables name the holder only with MariaDB's `metadata_lock_info` plugin or MySQL's
//! performance_schema (docs/wait-states.md). Elsewhere the name is read from the statement
//! (`locks::user_lock_name`, a string literal only) and `IS_USED_LOCK(name)` answers the
//! holder's processlist id: one more statement, sent only when such a waiter exists, after the
//! processlist (it needs the names). The names are hostile text: they go to the server as hex
//! literals, never spliced into SQL. Building and matching are pure.

use std::collections::{BTreeMap, HashSet};

use mysql::Row;

use super::locks::{user_lock_name, waiting_for};
use super::model::{LockKind, LockWait, Session};
use super::row::num;

/// At most this many distinct lock names are asked about.
pub const MAX_NAMES: usize = 100;

/// Sessions waiting for a user lock that `known` does not list, with the lock name their
/// statement asks for (when readable), by name (at most [`MAX_NAMES`] names).
pub fn unnamed<'s>(
    sessions: &'s [Session],
    known: &[LockWait],
) -> BTreeMap<String, Vec<&'s Session>> {
    let listed: HashSet<u64> = known.iter().map(|w| w.waiting_id).collect();
    let mut out: BTreeMap<String, Vec<&Session>> = BTreeMap::new();
    for s in sessions {
        if listed.contains(&s.id) || waiting_for(&s.state) != Some(LockKind::User) {
            continue;
        }
        let Some(name) = s.info.as_deref().and_then(user_lock_name) else {
            continue;
        };
        if out.len() < MAX_NAMES || out.contains_key(&name) {
            out.entry(name).or_default().push(s);
        }
    }
    out
}

/// `SELECT IS_USED_LOCK(CONVERT(X'…' USING utf8mb4)), …`: one column per name, in order.
pub fn sql<'n>(names: impl Iterator<Item = &'n String>) -> String {
    let cols: Vec<String> = names
        .map(|n| {
            let hex: String = n.bytes().map(|b| format!("{b:02X}")).collect();
            format!("IS_USED_LOCK(CONVERT(X'{hex}' USING utf8mb4))")
        })
        .collect();
    format!("SELECT {}", cols.join(", "))
}

/// The waits of `unnamed` with the holders the row names (a NULL column: the lock was freed
/// meanwhile, no wait is claimed).
pub fn waits(unnamed: &BTreeMap<String, Vec<&Session>>, row: Option<&Row>) -> Vec<LockWait> {
    let Some(row) = row else {
        return Vec::new();
    };
    let holders: Vec<Option<u64>> = (0..unnamed.len()).map(|i| num(row, i)).collect();
    waits_with(unnamed, &holders)
}

/// [`waits`] from the holder ids, one per name in order.
fn waits_with(unnamed: &BTreeMap<String, Vec<&Session>>, holders: &[Option<u64>]) -> Vec<LockWait> {
    unnamed
        .iter()
        .zip(holders)
        .filter_map(|((name, waiters), h)| Some((name, waiters, (*h)?)))
        .flat_map(|(name, waiters, holder)| {
            waiters
                .iter()
                .filter(move |s| s.id != holder)
                .map(move |s| LockWait {
                    kind: LockKind::User,
                    waiting_id: s.id,
                    blocking_id: Some(holder),
                    object: Some(name.clone()),
                    wait_s: s.time_s,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(id: u64, info: &str) -> Session {
        Session {
            id,
            state: "User lock".into(),
            info: Some(info.into()),
            time_s: 12,
            ..Session::default()
        }
    }

    #[test]
    fn waiters_by_name_holders_from_is_used_lock() {
        let sessions = vec![
            get(2, "SELECT GET_LOCK('job', 60)"),
            get(3, "SELECT GET_LOCK('job', 60)"),
            get(4, "SELECT GET_LOCK('x''); DROP TABLE t; --', 60)"),
            get(5, "SELECT GET_LOCK(CONCAT('a', 1), 60)"),
            get(6, "SELECT GET_LOCK('listed', 60)"),
            Session {
                id: 7,
                state: "User sleep".into(),
                ..Session::default()
            },
        ];
        let known = vec![LockWait {
            kind: LockKind::User,
            waiting_id: 6,
            blocking_id: Some(1),
            object: None,
            wait_s: 1,
        }];
        let u = unnamed(&sessions, &known);
        assert_eq!(
            u.keys().cloned().collect::<Vec<_>>(),
            vec!["job".to_string(), "x'); DROP TABLE t; --".to_string()]
        );
        // Hostile names go as hex: no quote reaches the SQL text.
        let q = sql(u.keys());
        assert_eq!(q.matches("IS_USED_LOCK(CONVERT(X'").count(), 2, "{q}");
        assert!(!q.contains("DROP"), "{q}");
        assert!(q.starts_with("SELECT IS_USED_LOCK(CONVERT(X'6A6F62' USING utf8mb4)), "));
        // job is held by 9; the other lock was freed meanwhile (NULL): no wait claimed.
        let w = waits_with(&u, &[Some(9), None]);
        let pairs: Vec<(u64, Option<u64>)> =
            w.iter().map(|w| (w.waiting_id, w.blocking_id)).collect();
        assert_eq!(pairs, vec![(2, Some(9)), (3, Some(9))]);
        assert!(
            w.iter()
                .all(|w| w.kind == LockKind::User && w.object.as_deref() == Some("job"))
        );
    }
}
