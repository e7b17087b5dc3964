//! Carrying out a confirmed kill plan, race-safely, with one result per session.
//!
//! Right before killing, the processlist is read again in ONE query and every victim is checked:
//! same user, host and command, still over the threshold, and not active since the plan was made
//! (its time in state did not go backwards). Anything else is skipped, never killed. The KILLs
//! then go out as multi-statement batches (one round trip for hundreds of sessions); a batch
//! stops at the first failing KILL, so we record that one and resume after it.

use std::collections::HashMap;

use mysql::prelude::Queryable;
use serde::Serialize;

use crate::connect::{Connection, error};
use crate::exit::{AppError, ErrorKind};
use crate::snapshot::{Flavor, Session};

use super::plan::{Criteria, KillMode, KillPlan, Victim, meets_threshold, protection};

/// How one planned kill ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Killed,
    /// The session had already ended (ERROR 1094, or gone from the processlist).
    Gone,
    /// The session woke up or changed since the plan: left alone.
    SkippedChanged,
    /// ERROR 1095: we may not kill it (missing CONNECTION_ADMIN / SUPER).
    Denied,
    /// Anything else, including a lost connection (not attempted).
    Error,
}

#[derive(Debug, Clone, Serialize)]
pub struct KillResult {
    pub id: u64,
    pub user: String,
    pub host: String,
    pub command: String,
    pub time_s: u64,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How KILL is spelled on this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KillDialect {
    pub flavor: Flavor,
    /// Amazon RDS / Aurora: no SUPER, use the mysql.rds_kill procedures.
    pub rds: bool,
}

impl KillDialect {
    /// The statement that kills this victim. Ids are integers from the server, never user text.
    pub fn statement(&self, v: &Victim, mode: KillMode) -> String {
        match (mode, self.rds) {
            (KillMode::Connection, true) => format!("CALL mysql.rds_kill({})", v.id),
            (KillMode::Query, true) => format!("CALL mysql.rds_kill_query({})", v.id),
            (KillMode::Connection, false) => format!("KILL CONNECTION {}", v.id),
            // MariaDB can kill a statement by its query id, so a session that has moved on to
            // its next statement is never hit (https://mariadb.com/kb/en/kill/).
            (KillMode::Query, false) => match (self.flavor, v.query_id) {
                (Flavor::Mariadb, Some(q)) => format!("KILL QUERY ID {q}"),
                _ => format!("KILL QUERY {}", v.id),
            },
        }
    }
}

/// Check every victim against a fresh processlist: the ones still safe to kill, and the results
/// of the ones that are not.
pub fn recheck<'a>(
    plan: &'a KillPlan,
    c: &Criteria,
    now: &[Session],
) -> (Vec<&'a Victim>, Vec<KillResult>) {
    let by_id: HashMap<u64, &Session> = now.iter().map(|s| (s.id, s)).collect();
    let mut go = Vec::new();
    let mut skipped = Vec::new();
    for v in &plan.victims {
        match by_id.get(&v.id) {
            None => skipped.push(result(
                v,
                Outcome::Gone,
                Some("gone before the kill".into()),
            )),
            Some(s) => match changed(v, s, c) {
                Some(why) => skipped.push(result(v, Outcome::SkippedChanged, Some(why))),
                None => go.push(v),
            },
        }
    }
    (go, skipped)
}

/// Why the session is no longer the one we planned to kill, if it is not.
fn changed(v: &Victim, s: &Session, c: &Criteria) -> Option<String> {
    if s.user != v.user || s.host != v.host {
        return Some(format!("now {}@{}", s.user, s.host));
    }
    if !s.command.eq_ignore_ascii_case(&v.command) {
        return Some(format!(
            "command changed from {} to {}",
            v.command, s.command
        ));
    }
    if v.query_id.is_some() && s.query_id != v.query_id {
        return Some("runs another statement now".into());
    }
    // Time in state only grows while nothing happens; if it went back, the session was active.
    let went_back = match (v.time_ms, s.time_ms) {
        (Some(before), Some(now)) => now < before,
        _ => s.time_s < v.time_s,
    };
    if went_back {
        return Some(format!(
            "active since the plan (time in state {}s, was {}s)",
            s.time_s, v.time_s
        ));
    }
    if let Some(why) = protection(s, c) {
        return Some(why.to_string());
    }
    if !meets_threshold(s, c) {
        return Some("no longer over the threshold".into());
    }
    None
}

fn result(v: &Victim, outcome: Outcome, error: Option<String>) -> KillResult {
    KillResult {
        id: v.id,
        user: v.user.clone(),
        host: v.host.clone(),
        command: v.command.clone(),
        time_s: v.time_s,
        outcome,
        error,
    }
}

/// Statements per round trip: far below any max_allowed_packet, large enough that 1,000 kills
/// cost two round trips.
const BATCH: usize = 500;

/// Kill the victims, one result each. A lost connection ends the run: the remaining victims are
/// reported as not attempted, and the error is returned beside the results.
pub fn kill(
    c: &mut Connection,
    dialect: KillDialect,
    mode: KillMode,
    victims: &[&Victim],
) -> (Vec<KillResult>, Option<AppError>) {
    let mut results = Vec::with_capacity(victims.len());
    let mut next = 0;
    while next < victims.len() {
        let chunk = &victims[next..(next + BATCH).min(victims.len())];
        let sql: Vec<String> = chunk.iter().map(|v| dialect.statement(v, mode)).collect();
        let (done, failure) = run_batch(c, &sql.join(";"));
        for v in &chunk[..done] {
            results.push(result(v, Outcome::Killed, None));
        }
        next += done;
        match failure {
            None => {}
            Some(e) if is_connection_lost(&e) => {
                let err = error::query_error(&e, &c.target, "killing sessions");
                results.extend(not_attempted(
                    victims[next..].iter().copied(),
                    "not attempted: the connection was lost",
                ));
                return (results, Some(err));
            }
            Some(e) => {
                // The failing statement is victims[next]; the server ran none after it.
                results.push(failed(victims[next], &e));
                next += 1;
            }
        }
    }
    (results, None)
}

/// Results for victims we never sent a KILL for, because the connection failed first.
pub fn not_attempted<'a>(
    victims: impl IntoIterator<Item = &'a Victim>,
    why: &str,
) -> Vec<KillResult> {
    victims
        .into_iter()
        .map(|v| result(v, Outcome::Error, Some(why.to_string())))
        .collect()
}

/// Send one multi-statement batch: how many statements succeeded before the first failure.
fn run_batch(c: &mut Connection, sql: &str) -> (usize, Option<mysql::Error>) {
    let mut done = 0;
    match c.conn.query_iter(sql) {
        Err(e) => return (0, Some(e)),
        Ok(mut r) => {
            while let Some(set) = r.iter() {
                for row in set {
                    if let Err(e) = row {
                        return (done, Some(e));
                    }
                }
                done += 1;
            }
        }
    }
    (done, None)
}

fn is_connection_lost(e: &mysql::Error) -> bool {
    error::server_code(e).is_none()
}

fn failed(v: &Victim, e: &mysql::Error) -> KillResult {
    let msg = error::server_message(e);
    let outcome = match error::server_code(e) {
        Some(error::code::NO_SUCH_THREAD) => Outcome::Gone,
        Some(error::code::KILL_DENIED | error::code::SPECIFIC_ACCESS_DENIED) => Outcome::Denied,
        _ => Outcome::Error,
    };
    let text = match outcome {
        Outcome::Denied => format!(
            "{msg}: killing another account's session needs CONNECTION_ADMIN or SUPER (MariaDB: CONNECTION ADMIN; RDS: use mysql.rds_kill)"
        ),
        _ => msg,
    };
    result(v, outcome, Some(text))
}

/// The exit code's kind for a finished run: None when everything was killed or correctly skipped.
pub fn failure_kind(results: &[KillResult]) -> Option<ErrorKind> {
    let denied = results.iter().any(|r| r.outcome == Outcome::Denied);
    let errors = results.iter().any(|r| r.outcome == Outcome::Error);
    match (denied, errors) {
        (_, true) => Some(ErrorKind::ActionFailed),
        (true, false) => Some(ErrorKind::Privilege),
        (false, false) => None,
    }
}

#[cfg(test)]
mod tests {
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
        let m = KillDialect {
            flavor: Flavor::Mariadb,
            rds: false,
        };
        assert_eq!(m.statement(&v, KillMode::Connection), "KILL CONNECTION 42");
        assert_eq!(m.statement(&v, KillMode::Query), "KILL QUERY ID 777");
        let my = KillDialect {
            flavor: Flavor::Mysql,
            rds: false,
        };
        assert_eq!(my.statement(&v, KillMode::Query), "KILL QUERY 42");
        let rds = KillDialect {
            flavor: Flavor::Mysql,
            rds: true,
        };
        assert_eq!(
            rds.statement(&v, KillMode::Connection),
            "CALL mysql.rds_kill(42)"
        );
        assert_eq!(
            rds.statement(&v, KillMode::Query),
            "CALL mysql.rds_kill_query(42)"
        );
    }

    #[test]
    fn victims_never_sent_are_errors_that_say_so() {
        let s = sleeping(&[400, 500]);
        let p = plan(&s, &criteria());
        let r = not_attempted(p.victims.iter(), "not attempted: the connection was lost");
        assert_eq!(r.iter().map(|x| x.id).collect::<Vec<_>>(), vec![2, 1]);
        assert!(r.iter().all(|x| x.outcome == Outcome::Error
            && x.error.as_deref() == Some("not attempted: the connection was lost")));
        assert_eq!(failure_kind(&r), Some(ErrorKind::ActionFailed));
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
    }
}
