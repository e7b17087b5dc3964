//! What the `watch` screen shows beside the status: the cause line, the extreme sessions and
//! the per-client history.
//! Pure.

use std::collections::{HashMap, VecDeque};

use crate::diagnose::{self, FindingId, Thresholds};
use crate::snapshot::sample::Sample;
use crate::snapshot::{Session, Snapshot};

/// What a `watch` refresh reads: the status and the processlist, not transactions or lock waits
/// (`commands::watch::tick` leaves them out), so its cause is judged without lock data.
pub const REFRESH_READS_LOCKS: bool = false;

/// The cause line of the screen: the verdict's cause ([`diagnose::verdict::cause`], the one
/// function `diagnose` and `check` take theirs from) judged from this refresh's data, as
/// `(id, title)`. `locks_read` says what the refresh read: without transactions and lock waits,
/// causes that need them (idle transactions, lock pile-ups) cannot be seen, so the title says
/// it was judged "without lock data". Judging is linear in the sessions, cheap enough for every
/// refresh.
pub fn cause(snap: &Snapshot, locks_read: bool) -> Option<(FindingId, String)> {
    let findings = diagnose::diagnose(snap, &Thresholds::default());
    let main = diagnose::verdict::cause(&findings).main?;
    let title = if locks_read {
        main.title.clone()
    } else {
        format!("{} (without lock data)", main.title)
    };
    Some((main.id, title))
}

/// The longest-idle sleeping client session and the longest-running busy one. Pure.
pub fn extremes(snap: &Snapshot) -> (Option<&Session>, Option<&Session>) {
    let longest = |sleeping: bool| {
        snap.clients()
            .filter(|s| s.is_sleeping() == sleeping)
            .max_by_key(|s| (s.time_s, std::cmp::Reverse(s.id)))
    };
    (longest(true), longest(false))
}

/// Connections per client over the last refreshes, for the screen's per-client sparklines.
/// Bounded: at most `top` clients (the largest at the latest refresh) × `window` values; a
/// client that leaves the top drops out with its history.
#[derive(Debug, Clone, Default)]
pub struct ClientHistory {
    top: usize,
    window: usize,
    /// Largest at the latest refresh first: the client's name and its counts, oldest first.
    clients: Vec<(String, VecDeque<u64>)>,
}

impl ClientHistory {
    pub fn new(top: usize, window: usize) -> ClientHistory {
        ClientHistory {
            top,
            window: window.max(1),
            clients: Vec::new(),
        }
    }

    /// Add one refresh's client counts (a [`Sample`]'s clients, largest first).
    pub fn push(&mut self, sample: &Sample) {
        let mut old: HashMap<String, VecDeque<u64>> =
            std::mem::take(&mut self.clients).into_iter().collect();
        for c in sample.clients.iter().take(self.top) {
            let name = crate::report::timeline::client_name(c);
            let mut values = old.remove(&name).unwrap_or_default();
            values.push_back(c.connections);
            while values.len() > self.window {
                values.pop_front();
            }
            self.clients.push((name, values));
        }
    }

    /// The clients, largest at the latest refresh first, with their counts oldest first.
    pub fn clients(&self) -> &[(String, VecDeque<u64>)] {
        &self.clients
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::sample::ClientCount;

    fn sample(counts: &[(&str, u64)]) -> Sample {
        let mut clients: Vec<ClientCount> = counts
            .iter()
            .map(|(u, n)| ClientCount {
                user: u.to_string(),
                host: "h".into(),
                connections: *n,
                ..Default::default()
            })
            .collect();
        crate::snapshot::sample::sort_clients(&mut clients);
        Sample {
            clients,
            ..Default::default()
        }
    }

    #[test]
    fn client_history_is_bounded_and_drops_clients_that_leave_the_top() {
        let mut h = ClientHistory::new(2, 3);
        for i in 0..10 {
            h.push(&sample(&[("a", 10 + i), ("b", 5), ("c", 1)]));
        }
        assert_eq!(h.clients().len(), 2);
        assert_eq!(h.clients()[0].0, "a@h");
        assert_eq!(Vec::from(h.clients()[0].1.clone()), vec![17, 18, 19]);
        assert_eq!(h.clients()[1].1.len(), 3);
        // c overtakes b: b drops out with its history, c starts afresh.
        h.push(&sample(&[("a", 20), ("b", 0), ("c", 9)]));
        let names: Vec<&str> = h.clients().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a@h", "c@h"]);
        assert_eq!(Vec::from(h.clients()[1].1.clone()), vec![9]);
        h.push(&sample(&[]));
        assert!(h.clients().is_empty());
    }
}
