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
    assert_eq!(go.iter().map(|v| v.id).collect::<Vec<_>>(), vec![1]);
    let outcome = |id| skipped.iter().find(|r| r.id == id).unwrap().outcome;
    assert_eq!(outcome(2), Outcome::SkippedChanged);
    assert_eq!(outcome(3), Outcome::SkippedChanged);
    assert_eq!(outcome(4), Outcome::Gone);
}

#[test]
fn kill_statements_per_flavor() {
    let v = Victim {
        id: 42,
        user: "app".into(),
        host: "h".into(),
        db: None,
        command: "Query".into(),
        time_s: 100,
        time_ms: None,
        state: String::new(),
        info: None,
        query_id: Some(777),
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
        Ok(self.sessions.clone())
    }
    fn send(&mut self, stmts: &[String]) -> Answer {
        self.sent.extend(stmts.iter().cloned());
        let (executed, answered) = self.script.pop_front().unwrap_or((stmts.len(), None));
        for s in &stmts[..executed] {
            let id: u64 = s.rsplit(' ').next().unwrap().parse().unwrap();
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
    // The server runs 3 of the 4 KILLs (oldest first: 1, 2, 3), one answer arrives.
    link.script.push_back((3, Some(1)));
    let x = execute(&mut link, &p, &c, dialect());
    assert_eq!(
        outcomes(&x),
        vec![
            (1, Outcome::Killed),
            (2, Outcome::Killed),
            (3, Outcome::Killed),
            (4, Outcome::NotKilled)
        ]
    );
    let note = |id| x.results.iter().find(|r| r.id == id).unwrap().note.clone();
    assert_eq!(note(1), None, "answered by the server");
    assert!(note(2).unwrap().starts_with(CONFIRMED_AFTER_RECONNECT));
    assert!(x.fatal.is_none());
    assert_eq!(x.reconnects.len(), 1);
    assert!(x.reconnects[0].reconnected);
    assert_eq!(x.reconnects[0].connection_id, Some(1001));
    assert_eq!(link.announced.len(), 2, "{:?}", link.announced);
    assert_eq!(failure_kind(&x.results), Some(ErrorKind::ActionFailed));
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
    // The server has run one KILL when the answers are lost; the old connection runs the
    // other two while we reconnect and look.
    link.script.push_back((1, Some(0)));
    link.old_busy_reads = 2;
    link.late = vec![2, 3];
    let x = execute(&mut link, &p, &c, dialect());
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
    let x = execute(&mut link, &p, &c, dialect());
    assert_eq!(
        outcomes(&x),
        vec![
            (1, Outcome::Killed),
            (2, Outcome::Unknown),
            (3, Outcome::Unknown)
        ]
    );
    assert_eq!(x.fatal.as_ref().unwrap().kind, ErrorKind::ConnectionLost);
    assert_eq!(failure_kind(&x.results), Some(ErrorKind::ConnectionLost));
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
    let x = execute(&mut link, &p, &c, dialect());
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
    let x = execute(&mut link, &p, &c, dialect());
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
    let woke = p.victims[BATCH].id;
    link.sessions
        .iter_mut()
        .find(|x| x.id == woke)
        .unwrap()
        .time_s = 0;
    let x = execute(&mut link, &p, &c, dialect());
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
    assert_eq!(
        failure_kind(&[
            r(Outcome::Killed),
            r(Outcome::Gone),
            r(Outcome::SkippedChanged)
        ]),
        None
    );
    assert_eq!(
        failure_kind(&[r(Outcome::Killed), r(Outcome::Denied)]),
        Some(ErrorKind::Privilege)
    );
    assert_eq!(
        failure_kind(&[r(Outcome::Denied), r(Outcome::Error)]),
        Some(ErrorKind::ActionFailed)
    );
    assert_eq!(
        failure_kind(&[r(Outcome::Killed), r(Outcome::NotKilled)]),
        Some(ErrorKind::ActionFailed)
    );
    assert_eq!(
        failure_kind(&[r(Outcome::NotKilled), r(Outcome::Unknown)]),
        Some(ErrorKind::ConnectionLost)
    );
}
