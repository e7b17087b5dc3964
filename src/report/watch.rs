//! What the `watch` screen shows beside the status: the cause line and the extreme sessions.
//! Pure.

use crate::diagnose::{self, Thresholds, common};
use crate::snapshot::{Session, Snapshot};

/// The cause line of the screen: the top-ranked finding (warning or worse) judged from this
/// refresh's data, as `(id, title)`. One place, so that it can later show the diagnosis'
/// verdict instead. A refresh reads the status and the processlist only (no transactions or
/// lock waits), so causes that need those (idle transactions, lock pile-ups) are not seen here;
/// judging is linear in the sessions, cheap enough for every refresh.
pub fn cause(snap: &Snapshot) -> Option<(String, String)> {
    diagnose::diagnose(snap, &Thresholds::default())
        .into_iter()
        .find(|f| f.severity != diagnose::Severity::Info)
        .map(|f| (f.id, f.title))
}

/// The longest-idle sleeping client session and the longest-running busy one. Pure.
pub fn extremes(snap: &Snapshot) -> (Option<&Session>, Option<&Session>) {
    let longest = |sleeping: bool| {
        common::clients(snap)
            .filter(|s| s.is_sleeping() == sleeping)
            .max_by_key(|s| (s.time_s, std::cmp::Reverse(s.id)))
    };
    (longest(true), longest(false))
}
