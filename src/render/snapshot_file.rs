//! A snapshot file (`snapshot -o`, an incident's `trigger.json` and `after.json`): the layout of
//! [`super::file_text`], with the sessions section written by hand ([`super::session_json`]:
//! serializing 10,000 sessions through serde_json was most of a `snapshot` after the read).

use super::session_json::{self, COMPACT};
use crate::snapshot::Snapshot;

/// The text of a snapshot file of `snap` (what [`super::file_text`] writes of it).
pub fn snapshot_file(snap: &Snapshot) -> String {
    // The rest of the snapshot with its sessions section empty, then that section put in.
    let rest = super::file_text(&snap.without_sessions());
    session_json::with_sessions(rest, &snap.sessions, 176, |out, s| {
        session_json::object(out, &COMPACT, s, None)
    })
    .unwrap_or_else(|| super::file_text(snap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_file_is_the_generic_layout() {
        let mut snap = crate::diagnose::fixtures::at_scale(2_400);
        // A key's text inside values (one with a line break, escaped) does not move the
        // section.
        snap.sessions[7].info = Some("x\n  \"sessions\": []".into());
        snap.notes.push("\n  \"sessions\": []".into());
        snap.sessions[8].time_ms = Some(5);
        assert!(snapshot_file(&snap) == super::super::file_text(&snap));
        let one = crate::diagnose::fixtures::mariadb();
        assert_eq!(snapshot_file(&one), super::super::file_text(&one));
        let empty = Snapshot {
            sessions: Vec::new(),
            ..one.clone()
        };
        assert_eq!(snapshot_file(&empty), super::super::file_text(&empty));
    }
}
