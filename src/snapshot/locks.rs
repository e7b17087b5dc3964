//! Lock waits the server shows only as a thread state.
//!
//! MariaDB (and MySQL without the metadata-lock instrument) expose metadata-lock and table-lock
//! waits only through the processlist `State`, without the holder. These become [`LockWait`]s
//! with `blocking_id: None`; the diagnosis infers the likely holder. Pure.

use std::collections::HashSet;

use super::model::{LockKind, LockWait, Session};

/// The kind of lock a thread state is waiting for, if any.
pub fn waiting_for(state: &str) -> Option<LockKind> {
    let s = state.to_ascii_lowercase();
    if !s.starts_with("waiting for") {
        return None;
    }
    if s.contains("metadata lock") || s.contains("global read lock") || s.contains("commit lock") {
        Some(LockKind::Metadata)
    } else if s.contains("table level lock") || s.contains("table flush") || s.contains("tables") {
        Some(LockKind::Table)
    } else {
        None
    }
}

/// Waits visible in the processlist states that `known` does not already list.
pub fn waits_from_states(sessions: &[Session], known: &[LockWait]) -> Vec<LockWait> {
    let known: HashSet<u64> = known.iter().map(|w| w.waiting_id).collect();
    sessions
        .iter()
        .filter(|s| !known.contains(&s.id))
        .filter_map(|s| {
            waiting_for(&s.state).map(|kind| LockWait {
                kind,
                waiting_id: s.id,
                blocking_id: None,
                object: None,
                wait_s: s.time_s,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_wait_states() {
        assert_eq!(
            waiting_for("Waiting for table metadata lock"),
            Some(LockKind::Metadata)
        );
        assert_eq!(
            waiting_for("Waiting for global read lock"),
            Some(LockKind::Metadata)
        );
        assert_eq!(
            waiting_for("Waiting for table level lock"),
            Some(LockKind::Table)
        );
        assert_eq!(
            waiting_for("Waiting for table flush"),
            Some(LockKind::Table)
        );
        assert_eq!(waiting_for("Waiting on empty queue"), None);
        assert_eq!(waiting_for("Waiting for source to send event"), None);
        assert_eq!(waiting_for("User sleep"), None);
        assert_eq!(waiting_for(""), None);
    }

    #[test]
    fn adds_only_unknown_waiters() {
        let s = |id, state: &str| Session {
            id,
            state: state.into(),
            time_s: 7,
            ..Session::default()
        };
        let sessions = vec![
            s(1, "Waiting for table metadata lock"),
            s(2, "Waiting for table metadata lock"),
            s(3, ""),
        ];
        let known = vec![LockWait {
            kind: LockKind::Metadata,
            waiting_id: 2,
            blocking_id: Some(9),
            object: None,
            wait_s: 7,
        }];
        let w = waits_from_states(&sessions, &known);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].waiting_id, 1);
        assert_eq!(w[0].blocking_id, None);
    }
}
