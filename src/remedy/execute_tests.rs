//! Unit tests of `remedy::execute` (kept beside it, out of the way of its code).

use super::*;
use crate::diagnose::fixtures::{self, session};
use crate::remedy::plan::{Target, plan};
use std::time::Duration;

fn criteria() -> Criteria {
    Criteria::new(Target::Idle, KillMode::Connection, Duration::from_secs(300))
}

/// Sessions 1, 2, … of `app`, sleeping for the given seconds.
fn sleeping(idle_s: &[u64]) -> crate::snapshot::Snapshot {
    let mut s = fixtures::mariadb();
    let sessions = (1..)
        .zip(idle_s)
        .map(|(id, t)| session(id, "app", "10.0.0.1", "Sleep", *t, "", None))
        .collect();
    fixtures::with_sessions(&mut s, sessions);
    s
}

#[test]
fn recheck_skips_sessions_that_woke_up_changed_or_vanished() {
    let s = sleeping(&[400, 500, 600, 700]);
    let c = criteria();
    let p = plan(&s, &c);
    assert_eq!(p.victims.len(), 4);
    let now = vec![
        session(1, "app", "10.0.0.1", "Sleep", 401, "", None), // still idle: kill
        session(
            2,
            "app",
            "10.0.0.1",
            "Query",
            0,
            "starting",
            Some("SELECT 1"),
        ), // woke up
        session(3, "app", "10.0.0.1", "Sleep", 2, "", None),   // ran something, idle again
    ]; // 4 vanished
    let (go, skipped) = recheck(&p, &c, &now);
    assert_eq!(go.iter().map(|v| v.session.id).collect::<Vec<_>>(), vec![1]);
    let outcome = |id| skipped.iter().find(|r| r.id == id).unwrap().outcome;
    assert_eq!(outcome(2), Outcome::SkippedChanged);
    assert_eq!(outcome(3), Outcome::SkippedChanged);
    assert_eq!(outcome(4), Outcome::Gone);
}

#[test]
fn kill_statements_per_flavor() {
    let v = Victim {
        session: Session {
            id: 42,
            user: "app".into(),
            host: "h".into(),
            command: "Query".into(),
            time_s: 100,
            query_id: Some(777),
            ..Session::default()
        },
        trx_age_s: None,
        trx_rows_modified: None,
        reason: String::new(),
    };
    let m = fixtures::mariadb().dialect();
    assert_eq!(
        statement(&m, &v, KillMode::Connection),
        "KILL CONNECTION 42"
    );
    assert_eq!(statement(&m, &v, KillMode::Query), "KILL QUERY ID 777");
    let my = fixtures::mysql8().dialect();
    assert_eq!(statement(&my, &v, KillMode::Query), "KILL QUERY 42");
    let rds = my.with_rds_procedures(true);
    assert_eq!(
        statement(&rds, &v, KillMode::Connection),
        "CALL mysql.rds_kill(42)"
    );
    assert_eq!(
        statement(&rds, &v, KillMode::Query),
        "CALL mysql.rds_kill_query(42)"
    );
}

/// A server in memory: KILL CONNECTION removes a session; a scripted batch may execute only
/// some of its statements and lose the answers after some.
struct Fake {
    sessions: Vec<Session>,
    /// Per batch: (statements the server executes, answers that arrive before the loss).
    script: std::collections::VecDeque<(usize, Option<usize>)>,
    /// Processlist reads that fail as a lost connection before one succeeds.
    lost_reads: usize,
    can_reconnect: bool,
    reconnects: usize,
    announced: Vec<String>,
    sent: Vec<String>,
    /// Reads during which our old connection (999) still runs its batch; when they are used
    /// up it finishes: it leaves and the `late` victims are killed.
    old_busy_reads: usize,
    late: Vec<u64>,
    /// KILLs of these sessions are refused with ERROR 1095.
    denied: Vec<u64>,
    /// Sessions that end on their own right after the re-check read (before the first KILL).
    vanish: Vec<u64>,
    /// Another run holds the kill lock; GET_LOCKs asked; whether we hold it.
    lock_busy: bool,
    locks: usize,
    held: bool,
    /// A signal arrives once this many batches were sent.
    signal_after: Option<usize>,
    batches: usize,
    signal: Option<crate::terminal::Signal>,
    /// Processlist reads that succeeded.
    reads: usize,
}

impl Fake {
    fn new(sessions: Vec<Session>) -> Self {
        Fake {
            sessions,
            script: Default::default(),
            lost_reads: 0,
            can_reconnect: true,
            reconnects: 0,
            announced: Vec::new(),
            sent: Vec::new(),
            old_busy_reads: 0,
            late: Vec::new(),
            denied: Vec::new(),
            vanish: Vec::new(),
            lock_busy: false,
            locks: 0,
            held: false,
            signal_after: None,
            batches: 0,
            signal: None,
            reads: 0,
        }
    }
    fn lost(what: &str) -> Failure {
        Failure {
            lost: true,
            error: AppError::new(ErrorKind::ConnectionLost, what),
        }
    }
}

impl Link for Fake {
    fn processlist(&mut self) -> Result<Vec<Session>, Failure> {
        if self.lost_reads > 0 {
            self.lost_reads -= 1;
            return Err(Fake::lost("reading: lost the connection"));
        }
        if self.old_busy_reads > 0 {
            self.old_busy_reads -= 1;
        } else {
            let late = std::mem::take(&mut self.late);
            self.sessions
                .retain(|s| s.id != 999 && !late.contains(&s.id));
        }
        self.reads += 1;
        Ok(self.sessions.clone())
    }
    fn send(&mut self, stmts: &[String]) -> Answer {
        self.sent.extend(stmts.iter().cloned());
        self.batches += 1;
        if self.signal_after.is_some_and(|n| self.batches >= n) {
            self.signal = Some(crate::terminal::Signal::TERM);
        }
        let vanish = std::mem::take(&mut self.vanish);
        self.sessions.retain(|x| !vanish.contains(&x.id));
        let (executed, answered) = self.script.pop_front().unwrap_or((stmts.len(), None));
        for (i, s) in stmts[..executed].iter().enumerate() {
            let id: u64 = s.rsplit(' ').next().unwrap().parse().unwrap();
            // As a server answers a multi-statement batch: it stops at the first error.
            let refused = if self.denied.contains(&id) {
                Some((1095, format!("You are not owner of thread {id}")))
            } else if !self.sessions.iter().any(|x| x.id == id) {
                Some((1094, format!("Unknown thread id: {id}")))
            } else {
                None
            };
            if let (Some((code, message)), None) = (refused, answered) {
                return Answer::Answered {
                    done: i,
                    error: Some(ServerError { code, message }),
                };
            }
            self.sessions.retain(|x| x.id != id);
        }
        match answered {
            None => Answer::Answered {
                done: executed,
                error: None,
            },
            Some(done) => Answer::Lost {
                done,
                failure: Fake::lost("killing: lost the connection"),
            },
        }
    }
    fn reconnect(&mut self) -> Result<u64, AppError> {
        self.reconnects += 1;
        if self.can_reconnect {
            Ok(1000 + self.reconnects as u64)
        } else {
            Err(AppError::new(ErrorKind::Unreachable, "nothing listens"))
        }
    }
    fn announce(&mut self, message: &str) {
        self.announced.push(message.to_string());
    }
    fn connection_id(&mut self) -> Option<u64> {
        Some(999)
    }
    fn lock(&mut self) -> Result<Lock, Failure> {
        self.locks += 1;
        if self.held {
            Ok(Lock::Held)
        } else if self.lock_busy {
            Ok(Lock::Busy { waited_s: 5 })
        } else {
            self.held = true;
            Ok(Lock::Held)
        }
    }
    fn unlock(&mut self) {
        self.held = false;
    }
    fn interrupted(&mut self) -> Option<crate::terminal::Signal> {
        self.signal
    }
}

fn dialect() -> Dialect {
    fixtures::mariadb().dialect()
}

fn outcomes(x: &Execution) -> Vec<(u64, Outcome)> {
    let mut v: Vec<(u64, Outcome)> = x.results.iter().map(|r| (r.id, r.outcome)).collect();
    v.sort_by_key(|p| p.0);
    v
}

#[test]
fn unanswered_kills_are_settled_by_a_fresh_processlist() {
    let s = sleeping(&[900, 800, 700, 600]);
    let c = criteria();
    let p = plan(&s, &c);
    let mut link = Fake::new(s.sessions.clone());
    // The server runs 3 of the 4 KILLs (newest connection first: 4, 3, 2), one answer arrives.
    link.script.push_back((3, Some(1)));
    let x = execute(&mut link, &p, &c, dialect(), None);
    assert_eq!(
        outcomes(&x),
        vec![
            (1, Outcome::NotKilled),
            (2, Outcome::Killed),
            (3, Outcome::Killed),
            (4, Outcome::Killed)
        ]
    );
    let note = |id| x.results.iter().find(|r| r.id == id).unwrap().note.clone();
    assert_eq!(note(4), None, "answered by the server");
    assert!(note(3).unwrap().starts_with(CONFIRMED_AFTER_RECONNECT));
    assert!(x.fatal.is_none());
    assert_eq!(x.reconnects.len(), 1);
    assert!(x.reconnects[0].reconnected);
    assert_eq!(x.reconnects[0].connection_id, Some(1001));
    assert_eq!(link.announced.len(), 2, "{:?}", link.announced);
    assert_eq!(
        failure_kind(&x.results, false),
        Some(ErrorKind::ActionFailed)
    );
    // Never sent twice.
    assert_eq!(link.sent.len(), 4);
}

#[test]
fn settling_waits_for_our_previous_connection_to_finish_its_batch() {
    let s = sleeping(&[900, 800, 700]);
    let c = criteria();
    let p = plan(&s, &c);
    let mut server = s.sessions.clone();
    server.push(session(
        999,
        "root",
        "localhost",
        "Query",
        0,
        "starting",
        Some("KILL ..."),
    ));
    let mut link = Fake::new(server);
    // The server has run one KILL (of 3, the newest) when the answers are lost; the old
    // connection runs the other two while we reconnect and look.
    link.script.push_back((1, Some(0)));
    link.old_busy_reads = 2;
    link.late = vec![1, 2];
    let x = execute(&mut link, &p, &c, dialect(), None);
    assert_eq!(
        outcomes(&x),
        vec![
            (1, Outcome::Killed),
            (2, Outcome::Killed),
            (3, Outcome::Killed)
        ]
    );
}

#[test]
fn without_a_way_back_the_unanswered_are_unknown_and_the_run_fails_as_lost() {
    let s = sleeping(&[900, 800, 700]);
    let c = criteria();
    let p = plan(&s, &c);
    let mut link = Fake::new(s.sessions.clone());
    link.script.push_back((3, Some(1)));
    link.can_reconnect = false;
    let x = execute(&mut link, &p, &c, dialect(), None);
    assert_eq!(
        outcomes(&x),
        vec![
            (1, Outcome::Unknown),
            (2, Outcome::Unknown),
            (3, Outcome::Killed)
        ]
    );
    assert_eq!(x.fatal.as_ref().unwrap().kind, ErrorKind::ConnectionLost);
    assert_eq!(
        failure_kind(&x.results, false),
        Some(ErrorKind::ConnectionLost)
    );
    assert!(!x.reconnects[0].reconnected);
}

#[test]
fn a_session_closed_at_the_prompt_reconnects_and_rechecks_before_killing() {
    let s = sleeping(&[900, 800]);
    let c = criteria();
    let p = plan(&s, &c);
    let mut now = s.sessions.clone();
    now[1].time_s = 1; // woke up meanwhile
    now[1].time_ms = Some(1000);
    let mut link = Fake::new(now);
    link.lost_reads = 1;
    let x = execute(&mut link, &p, &c, dialect(), None);
    assert_eq!(
        outcomes(&x),
        vec![(1, Outcome::Killed), (2, Outcome::SkippedChanged)]
    );
    assert_eq!(x.reconnects.len(), 1);
    assert_eq!(link.sent, vec!["KILL CONNECTION 1".to_string()]);
    // Unable to come back: nothing was sent, and each victim says so.
    let mut link = Fake::new(s.sessions.clone());
    link.lost_reads = 1;
    link.can_reconnect = false;
    let x = execute(&mut link, &p, &c, dialect(), None);
    assert!(x.results.iter().all(|r| r.outcome == Outcome::NotAttempted));
    assert!(link.sent.is_empty());
    assert_eq!(x.fatal.unwrap().kind, ErrorKind::ConnectionLost);
}

#[test]
fn batches_not_yet_sent_are_rechecked_after_a_reconnect() {
    let idle: Vec<u64> = (0..BATCH as u64 + 2).map(|i| 10_000 - i).collect();
    let s = sleeping(&idle);
    let c = criteria();
    let p = plan(&s, &c);
    let mut link = Fake::new(s.sessions.clone());
    // The first batch runs whole but its answers stop after 10.
    link.script.push_back((BATCH, Some(10)));
    // Meanwhile the second-to-last victim (not yet sent) woke up.
    let woke = p.victims[BATCH].session.id;
    link.sessions
        .iter_mut()
        .find(|x| x.id == woke)
        .unwrap()
        .time_s = 0;
    let x = execute(&mut link, &p, &c, dialect(), None);
    assert_eq!(x.results.len(), p.victims.len());
    let n = |o| x.results.iter().filter(|r| r.outcome == o).count();
    assert_eq!(n(Outcome::Killed), BATCH + 1);
    assert_eq!(n(Outcome::SkippedChanged), 1);
    assert_eq!(
        x.results.iter().filter(|r| r.note.is_some()).count(),
        BATCH - 10
    );
    assert_eq!(link.sent.len(), BATCH + 1, "the woken one is never sent");
}

#[test]
fn kill_query_settles_by_the_statement_not_the_connection() {
    let mut c = criteria();
    c.target = crate::remedy::plan::Target::Long;
    c.mode = KillMode::Query;
    c.threshold = Duration::from_secs(10);
    let mut s = fixtures::mariadb();
    let busy = |id| {
        let mut x = session(
            id,
            "app",
            "10.0.0.1",
            "Query",
            60,
            "User sleep",
            Some("SELECT SLEEP(600)"),
        );
        x.query_id = Some(id * 10);
        x
    };
    fixtures::with_sessions(&mut s, vec![busy(1), busy(2)]);
    let p = plan(&s, &c);
    let mut now = s.sessions.clone();
    now[0] = session(1, "app", "10.0.0.1", "Sleep", 0, "", None);
    let by_id: HashMap<u64, &Session> = now.iter().map(|x| (x.id, x)).collect();
    let r: Vec<Outcome> = p
        .victims
        .iter()
        .map(|v| settle(v, KillMode::Query, &by_id, false).outcome)
        .collect();
    assert_eq!(r, vec![Outcome::Killed, Outcome::NotKilled]);
}

/// Ids with each outcome, sorted.
fn ids(x: &Execution, o: Outcome) -> Vec<u64> {
    let mut v: Vec<u64> = x
        .results
        .iter()
        .filter(|r| r.outcome == o)
        .map(|r| r.id)
        .collect();
    v.sort_unstable();
    v
}

#[test]
fn batched_kills_keep_one_exact_outcome_when_a_victim_vanished_or_errors() {
    // 2 batches' worth; session 3 ends on its own after the re-check, 6 and BATCH + 3 are
    // refused (1095). Each error stops its batch; the statements after it go out again.
    let n = BATCH as u64 + 10;
    let idle: Vec<u64> = (0..n).map(|i| 100_000 - i).collect();
    let s = sleeping(&idle);
    let c = criteria();
    let p = plan(&s, &c);
    let mut link = Fake::new(s.sessions.clone());
    link.vanish = vec![3];
    link.denied = vec![6, BATCH as u64 + 3];
    let x = execute(&mut link, &p, &c, dialect(), None);
    assert_eq!(x.results.len(), p.victims.len(), "one result per victim");
    assert_eq!(ids(&x, Outcome::Gone), vec![3]);
    assert_eq!(ids(&x, Outcome::Denied), vec![6, BATCH as u64 + 3]);
    let killed = ids(&x, Outcome::Killed);
    assert_eq!(killed.len(), p.victims.len() - 3);
    // Exactly what the server no longer has, each once.
    let left: Vec<u64> = link.sessions.iter().map(|x| x.id).collect();
    assert!(killed.iter().all(|id| !left.contains(id)));
    assert_eq!(left, vec![6, BATCH as u64 + 3]);
    // Newest connection first; one the server ran is never sent again.
    assert_eq!(link.sent[0], format!("KILL CONNECTION {n}"));
    assert_eq!(link.sent.iter().filter(|s| **s == link.sent[0]).count(), 1);
    assert_eq!(failure_kind(&x.results, false), Some(ErrorKind::Privilege));
    assert!(!link.held, "the lock is given back");
}

#[test]
fn kills_go_out_newest_connection_first_across_batches_while_the_plan_keeps_its_order() {
    // Idle times out of id order: the plan lists the longest idle first; the KILLs go out by id,
    // highest first (MariaDB finds each target from its newest thread), over two batches.
    let n = BATCH as u64 + 3;
    let idle: Vec<u64> = (1..=n).map(|id| 1_000 + (id * 7919) % n).collect();
    let s = sleeping(&idle);
    let c = criteria();
    let p = plan(&s, &c);
    let planned: Vec<u64> = p.victims.iter().map(|v| v.session.id).collect();
    let idle_of = |id: u64| s.sessions.iter().find(|x| x.id == id).unwrap().time_s;
    assert!(planned.windows(2).all(|w| idle_of(w[0]) >= idle_of(w[1])));
    assert!(
        planned.windows(2).any(|w| w[0] < w[1]),
        "the plan is not by id"
    );
    let mut link = Fake::new(s.sessions.clone());
    let x = execute(&mut link, &p, &c, dialect(), None);
    assert_eq!(link.batches, 2);
    let sent: Vec<u64> = link
        .sent
        .iter()
        .map(|s| s.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(sent, (1..=n).rev().collect::<Vec<_>>());
    assert_eq!(ids(&x, Outcome::Killed), (1..=n).collect::<Vec<_>>());
    // The results read in the plan's order, whatever order the KILLs went out in.
    let results: Vec<u64> = x.results.iter().map(|r| r.id).collect();
    assert_eq!(results, planned);
}

#[test]
fn batches_are_a_quarter_of_the_kills_within_bounds() {
    assert_eq!(batch_len(10), BATCH);
    assert_eq!(batch_len(1_000), BATCH, "1,000 kills: two round trips");
    assert_eq!(batch_len(10_000), 2_500, "10,000 kills: four round trips");
    assert_eq!(batch_len(1_000_000), BATCH_MAX);
    // Through the executor: 10,000 sessions (the fake server's own connection, 999, leaves at
    // the re-check, and one is ours) go out in four batches, each KILL once.
    let idle: Vec<u64> = (0..10_000u64).map(|i| 100_000 - i).collect();
    let s = sleeping(&idle);
    let c = criteria();
    let p = plan(&s, &c);
    let mut link = Fake::new(s.sessions.clone());
    let x = execute(&mut link, &p, &c, dialect(), None);
    assert_eq!(link.batches, 4);
    assert_eq!(link.sent.len(), p.victims.len() - 1);
    assert_eq!(ids(&x, Outcome::Killed).len(), link.sent.len());
}

#[test]
fn a_signal_stops_the_batches_and_every_victim_keeps_its_outcome() {
    let idle: Vec<u64> = (0..BATCH as u64 + 7).map(|i| 100_000 - i).collect();
    let s = sleeping(&idle);
    let c = criteria();
    let p = plan(&s, &c);
    let mut link = Fake::new(s.sessions.clone());
    // SIGTERM while the first batch is in flight: it is answered, nothing more goes out.
    link.signal_after = Some(1);
    let x = execute(&mut link, &p, &c, dialect(), None);
    assert_eq!(x.interrupted, Some("SIGTERM"));
    assert_eq!(ids(&x, Outcome::Killed).len(), BATCH);
    let not_sent = ids(&x, Outcome::NotAttempted);
    assert_eq!(not_sent.len(), 7);
    assert_eq!(link.sent.len(), BATCH);
    assert_eq!(link.sessions.len(), 7, "the 7 never sent are still there");
    assert!(
        x.results
            .iter()
            .filter(|r| r.outcome == Outcome::NotAttempted)
            .all(|r| r.error.as_deref().unwrap().contains("SIGTERM"))
    );
    assert_eq!(
        failure_kind(&x.results, x.interrupted.is_some()),
        Some(ErrorKind::ActionFailed)
    );
    assert!(!link.held);
    // Before the first KILL: nothing is sent, every victim is not-attempted.
    let mut link = Fake::new(s.sessions.clone());
    link.signal = Some(crate::terminal::Signal::INT);
    let x = execute(&mut link, &p, &c, dialect(), None);
    assert_eq!(x.interrupted, Some("SIGINT"));
    assert!(link.sent.is_empty());
    assert_eq!(ids(&x, Outcome::NotAttempted).len(), p.victims.len());
}

#[test]
fn a_signal_while_answers_are_lost_settles_them_and_sends_nothing_more() {
    let idle: Vec<u64> = (0..BATCH as u64 + 3).map(|i| 100_000 - i).collect();
    let s = sleeping(&idle);
    let c = criteria();
    let p = plan(&s, &c);
    let mut link = Fake::new(s.sessions.clone());
    link.signal_after = Some(1);
    // The server runs the first batch whole, 10 answers arrive, then the connection is gone.
    link.script.push_back((BATCH, Some(10)));
    let x = execute(&mut link, &p, &c, dialect(), None);
    assert_eq!(
        ids(&x, Outcome::Killed).len(),
        BATCH,
        "settled from the server"
    );
    assert_eq!(ids(&x, Outcome::NotAttempted).len(), 3);
    assert_eq!(x.reconnects.len(), 1);
    assert_eq!(link.sent.len(), BATCH);
    // Unreachable after the loss: the unanswered are unknown, so the exit is 18.
    let mut link = Fake::new(s.sessions.clone());
    link.signal_after = Some(1);
    link.script.push_back((BATCH, Some(10)));
    link.can_reconnect = false;
    let x = execute(&mut link, &p, &c, dialect(), None);
    assert_eq!(ids(&x, Outcome::Unknown).len(), BATCH - 10);
    assert_eq!(
        failure_kind(&x.results, true),
        Some(ErrorKind::ConnectionLost)
    );
}

#[test]
fn another_run_holding_the_lock_leaves_every_victim_to_it() {
    let s = sleeping(&[900, 800]);
    let c = criteria();
    let p = plan(&s, &c);
    let mut link = Fake::new(s.sessions.clone());
    link.lock_busy = true;
    let x = execute(&mut link, &p, &c, dialect(), None);
    assert_eq!(ids(&x, Outcome::SkippedConcurrent), vec![1, 2]);
    assert!(link.sent.is_empty());
    assert!(x.results[0].error.as_deref().unwrap().contains(KILL_LOCK));
    // A session another run already killed shows `Killed` at our re-check: gone, never ours.
    let mut now = s.sessions.clone();
    now[0].command = "Killed".into();
    let mut link = Fake::new(now);
    let x = execute(&mut link, &p, &c, dialect(), None);
    assert_eq!(ids(&x, Outcome::Gone), vec![1]);
    assert_eq!(ids(&x, Outcome::Killed), vec![2]);
    assert_eq!(link.sent, vec!["KILL CONNECTION 2".to_string()]);
}

#[test]
fn the_plans_own_read_is_the_recheck_only_while_fresh_and_locked() {
    let s = sleeping(&[900, 800]);
    let c = criteria();
    let p = plan(&s, &c);
    let prior = |read_at, lock| Prior {
        sessions: &s.sessions,
        read_at,
        lock,
    };
    let now = std::time::Instant::now();
    let mut link = Fake::new(s.sessions.clone());
    link.held = true;
    let x = execute(&mut link, &p, &c, dialect(), Some(prior(now, Lock::Held)));
    assert_eq!(ids(&x, Outcome::Killed), vec![1, 2]);
    assert_eq!(link.reads, 0, "no second read");
    assert!(!link.held);
    // Older than FRESH (a slow terminal or log): read again, under the lock.
    let mut link = Fake::new(s.sessions.clone());
    let old = now.checked_sub(FRESH * 2).unwrap();
    let x = execute(&mut link, &p, &c, dialect(), Some(prior(old, Lock::Held)));
    assert_eq!(ids(&x, Outcome::Killed), vec![1, 2]);
    assert_eq!((link.reads, link.locks), (1, 1));
    // The lock was busy before the read: nothing is killed, nothing waits twice.
    let mut link = Fake::new(s.sessions.clone());
    let x = execute(
        &mut link,
        &p,
        &c,
        dialect(),
        Some(prior(now, Lock::Busy { waited_s: 5 })),
    );
    assert_eq!(ids(&x, Outcome::SkippedConcurrent), vec![1, 2]);
    assert_eq!((link.reads, link.locks), (0, 0));
}

#[test]
fn failure_kinds() {
    let r = |o| KillResult {
        id: 1,
        user: String::new(),
        host: String::new(),
        command: String::new(),
        time_s: 0,
        outcome: o,
        error: None,
        note: None,
    };
    let kind = |os: &[Outcome], interrupted| {
        failure_kind(&os.iter().map(|o| r(*o)).collect::<Vec<_>>(), interrupted)
    };
    use Outcome::*;
    assert_eq!(kind(&[Killed, Gone, SkippedChanged], false), None);
    assert_eq!(kind(&[Killed, Denied], false), Some(ErrorKind::Privilege));
    assert_eq!(kind(&[Denied, Error], false), Some(ErrorKind::ActionFailed));
    assert_eq!(
        kind(&[Killed, NotKilled], false),
        Some(ErrorKind::ActionFailed)
    );
    assert_eq!(
        kind(&[Killed, SkippedConcurrent], false),
        Some(ErrorKind::ActionFailed)
    );
    assert_eq!(
        kind(&[NotKilled, Unknown], false),
        Some(ErrorKind::ConnectionLost)
    );
    // A signal: 3 when every outcome is known (even if all were killed), 18 when one is not.
    assert_eq!(kind(&[Killed], true), Some(ErrorKind::ActionFailed));
    assert_eq!(
        kind(&[Killed, NotAttempted], true),
        Some(ErrorKind::ActionFailed)
    );
    assert_eq!(
        kind(&[Killed, Unknown, NotAttempted], true),
        Some(ErrorKind::ConnectionLost)
    );
}
