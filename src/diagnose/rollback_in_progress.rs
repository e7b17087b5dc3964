//! `rollback-in-progress`: a transaction is rolling back (typically a big write that was
//! killed), and keeps its slot and its locks until every row it changed is undone.
//!
//! INNODB_TRX shows it in `ROLLING BACK`, with `trx_rows_modified` the rows still to undo; the
//! reader reads those rows again with the second status reading (`snapshot::read`), so the
//! finding gives the rows left, the rate and the time left (docs/server-facts.md, "Rollback of
//! a killed transaction"). Nothing makes it faster: killing the session again does nothing, and a
//! restart only moves the same undo into crash recovery, with the server down or the locks
//! still held meanwhile. So the finding offers no kill and no "commit promptly": it says to wait,
//! and what to do next time. It explains its own slot and every session waiting for its locks.
//! Warning; critical when it holds others up. Pure.

use super::analysis::Analysis;
use super::common::plural;
use super::{Action, Finding, FindingId, Severity, Thresholds};
use crate::snapshot::Transaction;
use crate::snapshot::sql::ROLLBACKS_NOT_READ_AGAIN as NOT_READ_AGAIN;
use crate::units::secs;

/// Whether INNODB_TRX says the transaction is rolling back.
pub fn is_rolling_back(t: &Transaction) -> bool {
    t.state.trim().eq_ignore_ascii_case("ROLLING BACK")
}

pub fn check(a: &Analysis<'_>, _th: &Thresholds) -> Vec<Finding> {
    let snap = a.snap;
    let rolling: Vec<&Transaction> = snap
        .transactions
        .iter()
        .filter(|t| is_rolling_back(t))
        .collect();
    if rolling.is_empty() {
        return vec![];
    }
    let held_up = a.held_up_by(rolling.iter().map(|t| t.session_id));
    let n = rolling.len() as u64;
    let mut rows_left_all: u64 = 0;
    let mut evidence: Vec<(String, String)> = Vec::new();
    let mut slowest_eta: Option<f64> = None;
    for t in &rolling {
        // The second reading, when the reader took one; a transaction that is no longer listed
        // there has finished rolling back.
        let again = snap
            .rollbacks_after
            .iter()
            .find(|r| r.trx_id == t.trx_id)
            .map(|r| r.rows_left);
        // Read again unless the reader said it could not (a note).
        let read_again = snap.status_after.is_some()
            && snap.sample_s > 0.0
            && !snap.notes.iter().any(|n| n.starts_with(NOT_READ_AGAIN));
        let left = match (read_again, again) {
            (true, None) => 0,
            (_, Some(l)) => l,
            (false, None) => t.rows_modified,
        };
        rows_left_all = rows_left_all.saturating_add(left);
        let undone = t.rows_modified.saturating_sub(left);
        let progress = if read_again && again.is_none() {
            format!(
                "{} undone: the rollback finished during the {:.0}s sample",
                plural(t.rows_modified, "row"),
                snap.sample_s
            )
        } else if let (true, Some(l)) = (read_again, again) {
            let rate = undone as f64 / snap.sample_s;
            if rate > 0.0 {
                let eta = l as f64 / rate;
                slowest_eta = Some(slowest_eta.map_or(eta, |e: f64| e.max(eta)));
                format!(
                    "{} to undo, {:.0} rows/s over the {:.0}s sample: about {} left",
                    plural(l, "row"),
                    rate,
                    snap.sample_s,
                    secs(crate::units::float_to_u64(eta.ceil()))
                )
            } else {
                format!(
                    "{} to undo, none undone during the {:.0}s sample: no time left can be given",
                    plural(l, "row"),
                    snap.sample_s
                )
            }
        } else {
            format!(
                "{} to undo (read once: the rate needs --sample)",
                plural(left, "row")
            )
        };
        let who = a
            .session(t.session_id)
            .map_or(String::new(), |s| format!("{}, ", s.account()));
        evidence.push((
            format!("session {}", t.session_id),
            format!("{who}transaction open {}, {progress}", secs(t.age_s)),
        ));
    }
    let eta = slowest_eta.map_or(String::new(), |e| {
        format!(
            ", about {} to go",
            secs(crate::units::float_to_u64(e.ceil()))
        )
    });
    let blocking = if held_up > 0 {
        format!(
            "; {} wait for its locks meanwhile",
            plural(held_up as u64, "session")
        )
    } else {
        String::new()
    };
    let mut f = Finding::new(
        FindingId::RollbackInProgress,
        if held_up > 0 {
            Severity::Critical
        } else {
            Severity::Warning
        },
        format!(
            "{} rolling back: {} still to undo",
            plural(n, "transaction"),
            plural(rows_left_all, "row")
        ),
        format!(
            "{} rolling back with {} still to undo{eta}{blocking}: do not restart the server and do not kill it again.",
            plural(n, "transaction"),
            plural(rows_left_all, "row"),
        ),
    )
    .evidence("rows still to undo", rows_left_all)
    .evidence("sessions waiting for its locks", held_up);
    for (name, value) in evidence {
        f = f.evidence(&name, value);
    }
    f = f
        .sessions(rolling.iter().map(|t| t.session_id))
        .slots(n + held_up as u64)
        .action(Action::advice(
            "do not restart, do not kill again: a rollback cannot be stopped or sped up; KILL of the session does nothing more, and a restart only moves the same undo into crash recovery (the server down, or the rows still locked, until it is done). Wait for it, and follow it with `conncheck diagnose` (rows still to undo)",
        ))
        .action(Action::advice(
            "next time, change big tables in batches (a few thousand rows per transaction, committed each time): a killed batch rolls back in seconds",
        ));
    vec![f]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::{self, ev, session, trx};
    use crate::snapshot::RollbackReading;

    fn killed_big_write() -> crate::snapshot::Snapshot {
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(
            &mut s,
            vec![session(
                7,
                "etl",
                "10.0.0.5",
                "Killed",
                40,
                "Rollback",
                Some("INSERT INTO t SELECT * FROM big"),
            )],
        );
        let mut t = trx(7, "ROLLING BACK", 900, 12_000_000, None);
        t.trx_id = "4711".into();
        s.transactions = vec![t];
        s
    }

    #[test]
    fn rows_left_rate_and_time_left_from_the_second_reading() {
        let mut s = killed_big_write();
        fixtures::sample(&mut s, 2.0, &[]);
        s.rollbacks_after = vec![RollbackReading {
            trx_id: "4711".into(),
            session_id: 7,
            rows_left: 11_990_000,
        }];
        let f = &check(&Analysis::new(&s), &Thresholds::default())[0];
        assert_eq!(f.id, FindingId::RollbackInProgress);
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(f.sessions, vec![7]);
        assert_eq!(f.slots, 1);
        assert_eq!(ev(f, "rows still to undo"), "11990000");
        // 10,000 rows in 2 s: 5,000/s; 11,990,000 left: 2398 s.
        assert_eq!(
            ev(f, "session 7"),
            "etl@10.0.0.5, transaction open 15m00s, 11990000 rows to undo, 5000 rows/s over the 2s sample: about 39m58s left"
        );
        assert!(
            f.summary
                .contains("do not restart the server and do not kill it again"),
            "{}",
            f.summary
        );
        // No kill, no "commit promptly".
        assert!(
            f.actions
                .iter()
                .all(|a| a.kind == crate::diagnose::ActionKind::Advice)
        );
        assert!(!f.actions.iter().any(|a| a.text.contains("promptly")));
    }

    #[test]
    fn a_rollback_holding_locks_is_waited_for_not_killed() {
        let mut s = killed_big_write();
        let mut v = s.sessions.clone();
        v.extend((8..=10).map(|i| {
            session(
                i,
                "app",
                "10.0.0.7",
                "Query",
                30,
                "Updating",
                Some("UPDATE big SET v = 1 WHERE id = 3"),
            )
        }));
        fixtures::with_sessions(&mut s, v);
        s.lock_waits = (8..=10)
            .map(|i| fixtures::lock_wait(crate::snapshot::LockKind::Row, i, Some(7), 30))
            .collect();
        let th = Thresholds::default();
        let f = &check(&Analysis::new(&s), &th)[0];
        assert_eq!((f.severity, f.slots), (Severity::Critical, 4));
        let p = &crate::diagnose::lock_pileup::check(&Analysis::new(&s), &th)[0];
        assert!(
            !p.actions.iter().any(|a| a.text.contains("KILL 7")),
            "{:?}",
            p.actions
        );
        assert!(!p.actions.iter().any(|a| a.text.contains("promptly")));
        assert!(
            p.actions
                .iter()
                .any(|a| a.text.contains("do not kill it again"))
        );
    }

    #[test]
    fn read_once_or_finished_during_the_sample() {
        let mut s = killed_big_write();
        let f = &check(&Analysis::new(&s), &Thresholds::default())[0];
        assert!(ev(f, "session 7").ends_with("(read once: the rate needs --sample)"));
        // Read again, no longer listed: finished.
        fixtures::sample(&mut s, 1.0, &[]);
        let f = &check(&Analysis::new(&s), &Thresholds::default())[0];
        assert_eq!(ev(f, "rows still to undo"), "0");
        assert!(ev(f, "session 7").ends_with("the rollback finished during the 1s sample"));
        // The reader could not read them again: as read once.
        s.notes.push(format!("{NOT_READ_AGAIN}: denied"));
        let f = &check(&Analysis::new(&s), &Thresholds::default())[0];
        assert_eq!(ev(f, "rows still to undo"), "12000000");
        assert!(check(&Analysis::new(&fixtures::mariadb()), &Thresholds::default()).is_empty());
    }
}
