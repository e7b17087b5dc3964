//! Carrying out a confirmed kill plan, race-safely, with one truthful result per session.
//!
//! Right before killing, every victim is checked against the processlist read in ONE query:
//! same user, host and command, still over the threshold, not active since the plan was made
//! (its time in state did not go backwards), not already `Killed`. Anything else is skipped,
//! never killed. That read is the plan's own when nothing waited since it (no prompt, and it is
//! at most [`FRESH`] old), else a new one. The KILLs then go out as multi-statement batches (a
//! quarter of them each, 500 to 5,000 a round trip), newest connection first; a batch stops at
//! the first failing KILL, so we record that one and send the rest again.
//!
//! Two runs never kill the same session: each holds the server-wide user lock [`KILL_LOCK`]
//! (`GET_LOCK`) from the read its victims are re-checked against until its last KILL, since a
//! KILL of a session another run already killed still answers OK. A run that cannot get it
//! within the wait reports its victims `skipped-concurrent`.
//!
//! A signal (see [`crate::terminal::defer`]) stops the batches: the KILLs in flight are settled,
//! the ones never sent are `not-attempted`, and the execution says which signal it was.
//!
//! A KILL that was sent but never answered (the connection was cut or stalled past the query
//! timeout) is never reported as "not attempted": we reconnect (after dropping the old
//! connection, so there are never two), read the processlist again and settle each such victim
//! by what the server shows: gone or `Killed` means killed, still there means not killed. Victims
//! of later batches, never sent, are re-checked against that fresh processlist like before the
//! first KILL and then killed. When we cannot reconnect, the unanswered ones are `unknown`.
//!
//! Everything that talks to the server goes through [`Link`], so the settling logic is tested
//! here without one.

use std::collections::HashMap;

use serde::Serialize;

use crate::connect::{self, ConnectOptions, Connection, error};
use crate::exit::{AppError, ErrorKind};
use crate::snapshot::dialect::Dialect;
use crate::snapshot::row;
use crate::snapshot::{ProcesslistSource, Session, SessionKind, Snapshot};
use crate::text;

use super::plan::{Criteria, KillMode, KillPlan, Victim, meets_threshold, protection};

/// How one planned kill ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The server confirmed the KILL, or, after a lost answer, the session is gone or `Killed`
    /// in a fresh processlist (then `note` says so).
    Killed,
    /// The session had already ended before our KILL (ERROR 1094, or gone from the processlist
    /// at the re-check).
    Gone,
    /// The session woke up or changed since the plan: left alone.
    SkippedChanged,
    /// ERROR 1095: we may not kill it (missing CONNECTION_ADMIN / SUPER).
    Denied,
    /// The KILL failed with another server error.
    Error,
    /// The KILL was sent but not answered, and after reconnecting the session is still there.
    NotKilled,
    /// The KILL was sent but not answered, and the server could not be reached again to check.
    Unknown,
    /// No KILL was sent for it: the connection was lost before, and could not be restored (or
    /// the processlist could not be read to re-check it), or a signal stopped the run first.
    NotAttempted,
    /// No KILL was sent for it: another kill run held the kill lock ([`KILL_LOCK`]) longer than
    /// we waited for it.
    SkippedConcurrent,
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
    /// How a `killed` outcome was established when not from the KILL's own answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The words on a result settled from a fresh processlist after reconnecting.
pub const CONFIRMED_AFTER_RECONNECT: &str = "confirmed after reconnecting";

/// The statement that kills this victim on this server (spelled by [`Dialect`]).
pub fn statement(dialect: &Dialect, v: &Victim, mode: KillMode) -> String {
    match mode {
        KillMode::Connection => dialect.kill_connection(v.session.id),
        KillMode::Query => dialect.kill_query(v.session.id, v.session.query_id),
    }
}

/// Check every victim against a fresh processlist: the ones still safe to kill, and the results
/// of the ones that are not.
pub fn recheck<'a>(
    plan: &'a KillPlan,
    c: &Criteria,
    now: &[Session],
) -> (Vec<&'a Victim>, Vec<KillResult>) {
    recheck_victims(plan.victims.iter(), c, now)
}

/// [`recheck`] for some of the plan's victims.
fn recheck_victims<'a>(
    victims: impl IntoIterator<Item = &'a Victim>,
    c: &Criteria,
    now: &[Session],
) -> (Vec<&'a Victim>, Vec<KillResult>) {
    let by_id: HashMap<u64, &Session> = now.iter().map(|s| (s.id, s)).collect();
    let mut go = Vec::new();
    let mut skipped = Vec::new();
    for v in victims {
        match by_id.get(&v.session.id) {
            None => skipped.push(result(
                v,
                Outcome::Gone,
                Some("gone before the kill".into()),
            )),
            // Ended by someone else's KILL (another run, a person): ours would answer OK too.
            Some(s) if s.kind() == SessionKind::Killed => skipped.push(result(
                v,
                Outcome::Gone,
                Some("already being ended (Killed) before our KILL".into()),
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
    if s.user != v.session.user || s.host != v.session.host {
        return Some(format!("now {}@{}", s.user, s.host));
    }
    if !s.command.eq_ignore_ascii_case(&v.session.command) {
        return Some(format!(
            "command changed from {} to {}",
            v.session.command, s.command
        ));
    }
    if v.session.query_id.is_some() && s.query_id != v.session.query_id {
        return Some("runs another statement now".into());
    }
    if went_back(v, s) {
        return Some(format!(
            "active since the plan (time in state {}s, was {}s)",
            s.time_s, v.session.time_s
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

/// Time in state only grows while nothing happens; if it went back, the session was active.
fn went_back(v: &Victim, s: &Session) -> bool {
    match (v.session.time_ms, s.time_ms) {
        (Some(before), Some(now)) => now < before,
        _ => s.time_s < v.session.time_s,
    }
}

fn result(v: &Victim, outcome: Outcome, error: Option<String>) -> KillResult {
    KillResult {
        id: v.session.id,
        user: v.session.user.clone(),
        host: v.session.host.clone(),
        command: v.session.command.clone(),
        time_s: v.session.time_s,
        outcome,
        error,
        note: None,
    }
}

/// Statements per round trip, at least: large enough that 1,000 kills cost two round trips.
const BATCH: usize = 500;
/// ... and at most: 5,000 statements are at most 210 KB (the longest, an RDS `CALL` with a
/// 20-digit id, is 42 bytes), far below any max_allowed_packet (1 MB, the smallest default,
/// MySQL 5.5's).
const BATCH_MAX: usize = 5_000;

/// The statements per round trip for a run of `total` KILLs: a quarter of them, within
/// [`BATCH`] and [`BATCH_MAX`]. Every round trip waits for the server to answer and our thread
/// to be scheduled again, behind the threads the batch just ended: 10,000 kills in 20 batches
/// of 500 spent ~80 ms more than in one packet. Four batches keep that small, and a signal
/// still finds at most a quarter in flight.
fn batch_len(total: usize) -> usize {
    total.div_ceil(4).clamp(BATCH, BATCH_MAX)
}

/// At most this many reconnects in one execution: a server that drops every connection we open
/// ends the run (the victims left are `unknown` or `not-attempted`) instead of looping.
const MAX_RECONNECTS: usize = 3;

/// A server error answering one KILL.
#[derive(Debug, Clone)]
pub struct ServerError {
    pub code: u16,
    pub message: String,
}

/// A statement or read that did not get its answer.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The connection is unusable (cut, closed, or stalled past the query timeout): reconnect.
    pub lost: bool,
    pub error: AppError,
}

/// What came back for one batch of KILL statements.
#[derive(Debug)]
pub enum Answer {
    /// The first `done` statements succeeded; then either the end of the batch, or a server
    /// error for statement `done` (the server runs no statement after a failing one).
    Answered {
        done: usize,
        error: Option<ServerError>,
    },
    /// The first `done` statements succeeded, then the connection failed: the statements after
    /// them were sent but got no answer.
    Lost { done: usize, failure: Failure },
}

/// The one connection an execution talks through, and how to open it again.
pub trait Link {
    /// The processlist now, without our own session.
    fn processlist(&mut self) -> Result<Vec<Session>, Failure>;
    /// Send these statements in one round trip.
    fn send(&mut self, stmts: &[String]) -> Answer;
    /// Drop the current connection, then open a new one: its connection id.
    fn reconnect(&mut self) -> Result<u64, AppError>;
    /// Tell the person watching (stderr): every reconnect is announced as it happens.
    fn announce(&mut self, message: &str);
    /// Our connection id on the server (None: not connected).
    fn connection_id(&mut self) -> Option<u64>;
    /// Take [`KILL_LOCK`] on the current connection, waiting a bounded time (at once when this
    /// connection already holds it).
    fn lock(&mut self) -> Result<Lock, Failure>;
    /// Give [`KILL_LOCK`] back (best effort: closing the connection also releases it).
    fn unlock(&mut self);
    /// The signal that asked the run to stop, if one did ([`crate::terminal::defer`]).
    fn interrupted(&mut self) -> Option<crate::terminal::Signal> {
        crate::terminal::interrupted()
    }
}

/// The server-wide user lock every kill run holds from its re-check read to its last KILL
/// (https://mariadb.com/kb/en/get_lock/, https://dev.mysql.com/doc/refman/8.0/en/locking-functions.html):
/// one session holds it at a time, and it is released when that session ends.
pub const KILL_LOCK: &str = "conncheck-kill";

/// What asking for [`KILL_LOCK`] gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lock {
    /// We hold it.
    Held,
    /// Another session held it for the whole wait (`GET_LOCK` returned 0).
    Busy { waited_s: u64 },
    /// The server cannot take user locks (e.g. Galera refuses `GET_LOCK`): the run goes on
    /// without excluding concurrent runs, and says so.
    Unavailable(String),
}

/// The plan's own processlist read, which the re-check may use instead of reading again when
/// nothing waited since (see [`FRESH`]).
pub struct Prior<'a> {
    pub sessions: &'a [Session],
    /// When the read came back.
    pub read_at: std::time::Instant,
    /// The kill lock as asked for right before that read.
    pub lock: Lock,
}

/// How old the plan's read may be when the first KILL goes out for it to serve as the re-check
/// read: the plan is printed (and logged) in between, and a terminal or log that stalls longer
/// costs one more read. Only without a prompt: an answer always takes longer.
pub const FRESH: std::time::Duration = std::time::Duration::from_millis(50);

/// One reconnect during an execution, as the report and the audit log record it.
#[derive(Debug, Clone, Serialize)]
pub struct Reconnect {
    /// What we were doing when the connection failed.
    pub during: String,
    /// Why the old connection was given up.
    pub reason: String,
    pub reconnected: bool,
    /// Our new connection id on the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<u64>,
    /// Why reconnecting failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The outcome of an execution: one result per victim of the plan, the reconnects, and the
/// error that ended it early (the connection was lost and could not be restored).
#[derive(Debug, Default)]
pub struct Execution {
    pub results: Vec<KillResult>,
    pub reconnects: Vec<Reconnect>,
    pub fatal: Option<AppError>,
    /// The signal that stopped the batches (`SIGTERM`), when one did.
    pub interrupted: Option<&'static str>,
    /// What the run could not guarantee (no kill lock on this server).
    pub notes: Vec<String>,
}

/// Re-check the plan against the processlist (the plan's own read when `prior` is fresh, else a
/// new one, under [`KILL_LOCK`]) and kill what still qualifies; settle every KILL whose answer
/// was lost. One result per victim of the plan, in the plan's order (the KILLs went out in
/// another: [`newest_first`]).
pub fn execute(
    link: &mut dyn Link,
    plan: &KillPlan,
    c: &Criteria,
    dialect: Dialect,
    prior: Option<Prior<'_>>,
) -> Execution {
    let mut x = carry_out(link, plan, c, dialect, prior);
    in_plan_order(&mut x.results, plan);
    // On every way out: the lock may have been taken before the plan's read.
    link.unlock();
    // A signal that came while the run ended another way (a connection lost for good) is
    // still recorded.
    if x.interrupted.is_none() {
        x.interrupted = link.interrupted().map(crate::terminal::Signal::name);
    }
    x
}

fn carry_out(
    link: &mut dyn Link,
    plan: &KillPlan,
    c: &Criteria,
    dialect: Dialect,
    prior: Option<Prior<'_>>,
) -> Execution {
    let mut x = Execution::default();
    if let Some(sig) = link.interrupted() {
        x.interrupted = Some(sig.name());
        x.results.extend(with_outcome(
            plan.victims.iter(),
            Outcome::NotAttempted,
            &format!(
                "not attempted: {} arrived before the first KILL",
                sig.name()
            ),
        ));
        return x;
    }
    let fresh = prior.filter(|p| p.read_at.elapsed() <= FRESH);
    let read = match fresh {
        Some(Prior {
            lock: Lock::Busy { waited_s },
            ..
        }) => Ok(Reading {
            sessions: Vec::new(),
            busy: Some(waited_s),
        }),
        Some(p) => {
            if let Lock::Unavailable(why) = &p.lock {
                x.notes.push(why.clone());
            }
            Ok(Reading {
                sessions: p.sessions.to_vec(),
                busy: None,
            })
        }
        None => read_locked(
            link,
            &mut x,
            "re-reading the processlist before the kill",
            None,
        ),
    };
    let now = match read {
        Ok(Reading {
            busy: Some(waited_s),
            ..
        }) => {
            x.results.extend(with_outcome(
                plan.victims.iter(),
                Outcome::SkippedConcurrent,
                &busy_text(waited_s),
            ));
            return x;
        }
        Ok(r) => r.sessions,
        Err(e) => {
            let why = if e.kind == ErrorKind::ConnectionLost {
                "not attempted: the connection was lost before the kill and could not be restored"
                    .to_string()
            } else {
                format!("not attempted: {}", e.message)
            };
            x.results.extend(with_outcome(
                plan.victims.iter(),
                Outcome::NotAttempted,
                &why,
            ));
            x.fatal = Some(e);
            return x;
        }
    };
    let (mut queue, skipped) = recheck(plan, c, &now);
    x.results.extend(skipped);
    newest_first(&mut queue);
    send_all(link, &mut x, &mut queue, plan.mode, dialect, Some(c));
    x
}

/// The order the KILLs go out in: newest connection (highest id) first. MariaDB finds a KILL's
/// target by walking its thread list from the newest thread (`find_thread_by_id`), so oldest
/// first walks past every victim not yet killed, n²/2 steps: 10,000 idle sessions took 3.3-3.8 s
/// to kill oldest first and 0.27-0.41 s newest first (docs/kill-order.md). The plan keeps its
/// own order (longest idle first); the outcomes do not depend on this one.
fn newest_first(queue: &mut [&Victim]) {
    queue.sort_unstable_by_key(|v| std::cmp::Reverse(v.session.id));
}

/// Sort `results` into the order of the plan's victims (a stable sort: a result of no victim,
/// never made, would go last).
fn in_plan_order(results: &mut [KillResult], plan: &KillPlan) {
    let position: HashMap<u64, usize> = plan
        .victims
        .iter()
        .enumerate()
        .map(|(i, v)| (v.session.id, i))
        .collect();
    results.sort_by_key(|r| position.get(&r.id).copied().unwrap_or(usize::MAX));
}

fn busy_text(waited_s: u64) -> String {
    format!(
        "another kill run held the lock '{KILL_LOCK}' for the {waited_s}s we waited: left to it (run again to re-check)"
    )
}

/// Send the KILLs for `queue` in batches, settling lost answers after reconnecting; the victims
/// not yet sent after a reconnect are re-checked under `c` first (when given).
fn send_all(
    link: &mut dyn Link,
    x: &mut Execution,
    queue: &mut Vec<&Victim>,
    mode: KillMode,
    dialect: Dialect,
    c: Option<&Criteria>,
) {
    let batch = batch_len(queue.len());
    while !queue.is_empty() {
        if let Some(sig) = link.interrupted() {
            x.interrupted = Some(sig.name());
            x.results.extend(with_outcome(
                queue.drain(..),
                Outcome::NotAttempted,
                &format!(
                    "not attempted: {} arrived, so no further KILL was sent",
                    sig.name()
                ),
            ));
            return;
        }
        let chunk: Vec<&Victim> = queue.drain(..batch.min(queue.len())).collect();
        let sql: Vec<String> = chunk.iter().map(|v| statement(&dialect, v, mode)).collect();
        match link.send(&sql) {
            Answer::Answered { done, error } => {
                let done = done.min(chunk.len());
                x.results.extend(
                    chunk[..done]
                        .iter()
                        .map(|v| result(v, Outcome::Killed, None)),
                );
                let rest = &chunk[done..];
                match (error, rest.split_first()) {
                    (Some(e), Some((v, after))) => {
                        x.results.push(failed(v, &e));
                        // The server runs no statement after a failing one: send them again.
                        queue.splice(0..0, after.iter().copied());
                    }
                    // Fewer answers than statements and no error (never seen): say so rather
                    // than send them again forever.
                    _ => x.results.extend(with_outcome(
                        rest.iter().copied(),
                        Outcome::Error,
                        "the server returned no answer for this KILL",
                    )),
                }
            }
            Answer::Lost { done, failure } => {
                let done = done.min(chunk.len());
                x.results.extend(
                    chunk[..done]
                        .iter()
                        .map(|v| result(v, Outcome::Killed, None)),
                );
                let unanswered = &chunk[done..];
                let during = format!("killing ({done} of {} KILLs answered)", chunk.len());
                let old = link.connection_id();
                match read_locked(link, x, &during, Some(&failure.error)) {
                    Ok(read) => {
                        let (now, old_busy) = wait_for_old_connection(link, read.sessions, old);
                        let by_id: HashMap<u64, &Session> = now.iter().map(|s| (s.id, s)).collect();
                        x.results
                            .extend(unanswered.iter().map(|v| settle(v, mode, &by_id, old_busy)));
                        if let Some(waited_s) = read.busy {
                            // The new connection does not hold the lock, and another run does.
                            x.results.extend(with_outcome(
                                queue.drain(..),
                                Outcome::SkippedConcurrent,
                                &busy_text(waited_s),
                            ));
                        } else if let Some(c) = c {
                            let (go, skipped) = recheck_victims(queue.drain(..), c, &now);
                            x.results.extend(skipped);
                            *queue = go;
                        }
                    }
                    Err(e) => {
                        x.results.extend(with_outcome(
                            unanswered.iter().copied(),
                            Outcome::Unknown,
                            "KILL sent, but no answer came and the server could not be reached again to check",
                        ));
                        x.results.extend(with_outcome(
                            queue.drain(..),
                            Outcome::NotAttempted,
                            "not attempted: the connection was lost and could not be restored",
                        ));
                        x.fatal = Some(e);
                        return;
                    }
                }
            }
        }
    }
}

/// A processlist read under [`KILL_LOCK`], and whether another run kept the lock (`busy`: the
/// seconds waited; the processlist is read anyway, to settle what is in flight).
struct Reading {
    sessions: Vec<Session>,
    busy: Option<u64>,
}

/// Take [`KILL_LOCK`] and read the processlist; when the connection turns out to be gone (or
/// `cause` says it is), reconnect (announced and recorded) and do both on the new one. An error
/// here means the server could not be reached again ([`ErrorKind::ConnectionLost`]) or refused
/// the read.
fn read_locked(
    link: &mut dyn Link,
    x: &mut Execution,
    during: &str,
    cause: Option<&AppError>,
) -> Result<Reading, AppError> {
    let mut cause = cause.cloned();
    loop {
        if let Some(why) = cause.take() {
            reconnect(link, x, during, &why)?;
        }
        let busy = match link.lock() {
            Ok(Lock::Held) => None,
            Ok(Lock::Busy { waited_s }) => Some(waited_s),
            Ok(Lock::Unavailable(why)) => {
                if !x.notes.contains(&why) {
                    x.notes.push(why);
                }
                None
            }
            Err(f) if f.lost => {
                cause = Some(f.error);
                continue;
            }
            Err(f) => return Err(f.error),
        };
        match link.processlist() {
            Ok(sessions) => return Ok(Reading { sessions, busy }),
            Err(f) if f.lost => cause = Some(f.error),
            Err(f) => return Err(f.error),
        }
    }
}

/// Reconnect once, announced and recorded; at most [`MAX_RECONNECTS`] per execution.
fn reconnect(
    link: &mut dyn Link,
    x: &mut Execution,
    during: &str,
    cause: &AppError,
) -> Result<(), AppError> {
    if x.reconnects.len() >= MAX_RECONNECTS {
        return Err(lost_for_good(cause, "too many reconnects"));
    }
    link.announce(&format!(
        "lost the connection while {during}: {}; reconnecting",
        cause.message
    ));
    match link.reconnect() {
        Err(e) => {
            x.reconnects.push(Reconnect {
                during: during.to_string(),
                reason: cause.message.clone(),
                reconnected: false,
                connection_id: None,
                error: Some(e.message.clone()),
            });
            link.announce(&format!("could not reconnect: {}", e.message));
            Err(lost_for_good(cause, &e.message))
        }
        Ok(id) => {
            x.reconnects.push(Reconnect {
                during: during.to_string(),
                reason: cause.message.clone(),
                reconnected: true,
                connection_id: Some(id),
                error: None,
            });
            link.announce(&format!(
                "reconnected (connection id {id}); checking every victim against a fresh processlist"
            ));
            Ok(())
        }
    }
}

fn lost_for_good(cause: &AppError, why: &str) -> AppError {
    AppError::new(
        ErrorKind::ConnectionLost,
        format!(
            "{}; reconnecting failed ({why})",
            cause.message.trim_end_matches('.')
        ),
    )
    .hint("check the server with `conncheck sessions` before retrying: sessions marked unknown may or may not have been killed")
}

/// How long to wait for our previous connection to finish (or abandon) its batch of KILLs
/// before settling: the server keeps running a multi-statement batch after the client is gone,
/// until it fails to send an answer.
const OLD_CONNECTION_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Re-read the processlist until our previous connection `old` is gone or idle (bounded by
/// [`OLD_CONNECTION_WAIT`]): the processlist to settle by, and whether `old` is still busy.
fn wait_for_old_connection(
    link: &mut dyn Link,
    mut now: Vec<Session>,
    old: Option<u64>,
) -> (Vec<Session>, bool) {
    let busy =
        |now: &[Session]| old.is_some_and(|o| now.iter().any(|s| s.id == o && !s.is_sleeping()));
    let started = std::time::Instant::now();
    while busy(&now) && started.elapsed() < OLD_CONNECTION_WAIT {
        std::thread::sleep(std::time::Duration::from_millis(50));
        match link.processlist() {
            Ok(n) => now = n,
            Err(_) => break,
        }
    }
    let still = busy(&now);
    (now, still)
}

/// What a fresh processlist says about a victim whose KILL went unanswered. `old_busy`: our
/// previous connection was still running its batch, so a victim still there may yet be killed.
fn settle(v: &Victim, mode: KillMode, now: &HashMap<u64, &Session>, old_busy: bool) -> KillResult {
    let killed = |why: &str| {
        let mut r = result(v, Outcome::Killed, None);
        r.note = Some(format!("{CONFIRMED_AFTER_RECONNECT}: {why}"));
        r
    };
    // An id is only the same session with the same account (ids restart with the server).
    let same = now
        .get(&v.session.id)
        .filter(|s| s.user == v.session.user && s.host == v.session.host);
    let Some(s) = same else {
        return killed("the session is gone");
    };
    if s.kind() == SessionKind::Killed {
        return killed("the server is ending it");
    }
    let still_running = match mode {
        KillMode::Connection => true,
        // KILL QUERY leaves the connection: the statement is what must be gone.
        KillMode::Query => {
            !s.is_sleeping()
                && match (v.session.query_id, s.query_id) {
                    (Some(a), Some(b)) => a == b,
                    _ => !went_back(v, s),
                }
        }
    };
    if still_running && old_busy {
        result(
            v,
            Outcome::Unknown,
            Some(
                "KILL sent but not answered; still on the server, and our previous connection was still running its KILLs"
                    .to_string(),
            ),
        )
    } else if still_running {
        result(
            v,
            Outcome::NotKilled,
            Some("KILL sent but not answered; still on the server after reconnecting".to_string()),
        )
    } else {
        killed("its statement is no longer running")
    }
}

/// The same outcome and words for several victims.
fn with_outcome<'a>(
    victims: impl IntoIterator<Item = &'a Victim>,
    outcome: Outcome,
    why: &str,
) -> Vec<KillResult> {
    victims
        .into_iter()
        .map(|v| result(v, outcome, Some(why.to_string())))
        .collect()
}

fn failed(v: &Victim, e: &ServerError) -> KillResult {
    let outcome = match e.code {
        crate::connect::error::code::NO_SUCH_THREAD => Outcome::Gone,
        crate::connect::error::code::KILL_DENIED
        | crate::connect::error::code::SPECIFIC_ACCESS_DENIED => Outcome::Denied,
        _ => Outcome::Error,
    };
    let text = match outcome {
        Outcome::Denied => format!(
            "{}: killing another account's session needs CONNECTION_ADMIN or SUPER, and on MySQL 8.0.16+ also SYSTEM_USER when that session's account has SYSTEM_USER (MariaDB: CONNECTION ADMIN; RDS: use mysql.rds_kill)",
            e.message
        ),
        _ => e.message.clone(),
    };
    result(v, outcome, Some(text))
}

/// Our own session's `wait_timeout` and `interactive_timeout` while a kill may wait (at the
/// confirmation prompt, between `--repeat` rounds): the server default
/// (https://mariadb.com/kb/en/server-system-variables/#wait_timeout), so a short server-wide
/// value (as diagnose may advise) cannot close our session meanwhile.
pub const OWN_WAIT_TIMEOUT_S: u64 = 28_800;

/// The [`Link`] to a real server: the run's one connection (never two at once: the old one is
/// dropped before a new one is opened) and the options to open it again.
pub struct ServerLink<'a> {
    conn: Option<Connection>,
    /// None: this link cannot reconnect.
    opts: Option<&'a ConnectOptions>,
    target: String,
    dialect: Dialect,
    source: ProcesslistSource,
    keep_alive: bool,
    /// Whether our account may take the reserved slot, once a snapshot has told.
    slot: connect::ReservedSlot,
    /// The current connection holds [`KILL_LOCK`].
    locked: bool,
}

impl<'a> ServerLink<'a> {
    /// `opts`: how to reconnect (None: a lost connection stays lost).
    pub fn new(conn: Connection, opts: Option<&'a ConnectOptions>) -> Self {
        ServerLink {
            target: conn.target.clone(),
            conn: Some(conn),
            opts,
            dialect: Dialect::default(),
            source: ProcesslistSource::default(),
            keep_alive: false,
            slot: connect::ReservedSlot::Unknown,
            locked: false,
        }
    }

    /// Learn from a snapshot how to read this server's processlist.
    pub fn learn(&mut self, snap: &Snapshot) {
        self.dialect = snap.dialect();
        self.source = self.dialect.recheck_source();
        self.slot = snap.access.privileges.reserved_slot();
    }

    /// The current connection (for reading a snapshot).
    pub fn conn(&mut self) -> Result<&mut Connection, AppError> {
        self.conn.as_mut().ok_or_else(|| {
            AppError::new(
                ErrorKind::ConnectionLost,
                format!("not connected to {} any more", self.target),
            )
        })
    }

    /// Set our session's wait_timeout long ([`OWN_WAIT_TIMEOUT_S`]), now and after every
    /// reconnect. Best effort: a server that refuses it only costs us the protection.
    pub fn keep_alive(&mut self) {
        self.keep_alive = true;
        if let Some(c) = self.conn.as_mut() {
            let _deadline = c.deadline(1);
            let _ = c.send_drop(&format!(
                "SET SESSION wait_timeout = {OWN_WAIT_TIMEOUT_S}, interactive_timeout = {OWN_WAIT_TIMEOUT_S}"
            ));
        }
    }

    fn not_connected(&self) -> Failure {
        Failure {
            lost: true,
            error: AppError::new(
                ErrorKind::ConnectionLost,
                format!("not connected to {} any more", self.target),
            ),
        }
    }
}

impl Link for ServerLink<'_> {
    fn processlist(&mut self) -> Result<Vec<Session>, Failure> {
        let (dialect, source) = (self.dialect, self.source);
        match self.conn.as_mut() {
            Some(c) => processlist_on(c, dialect, source),
            None => Err(self.not_connected()),
        }
    }

    fn send(&mut self, stmts: &[String]) -> Answer {
        match self.conn.as_mut() {
            Some(c) => send_on(c, stmts),
            None => Answer::Lost {
                done: 0,
                failure: self.not_connected(),
            },
        }
    }

    fn reconnect(&mut self) -> Result<u64, AppError> {
        // Drop (and so close) the old connection first: never two at once. Its lock goes with it.
        self.conn = None;
        self.locked = false;
        let opts = self.opts.ok_or_else(|| {
            AppError::new(ErrorKind::ConnectionLost, "this step does not reconnect")
        })?;
        let mut c = connect::open_as(opts, self.slot)?;
        for sql in self.dialect.session_guards(c.query_timeout.as_secs()) {
            let _deadline = c.deadline(1);
            let _ = c.send_drop(&sql);
        }
        let id = c.id();
        self.conn = Some(c);
        if self.keep_alive {
            self.keep_alive();
        }
        Ok(id)
    }

    fn announce(&mut self, message: &str) {
        eprintln!("conncheck: {}", text::escape(message));
    }

    fn connection_id(&mut self) -> Option<u64> {
        self.conn.as_ref().map(Connection::id)
    }

    fn lock(&mut self) -> Result<Lock, Failure> {
        let Some(c) = self.conn.as_mut() else {
            return Err(self.not_connected());
        };
        lock_on(c, &mut self.locked)
    }

    fn unlock(&mut self) {
        if let Some(c) = self.conn.as_mut() {
            unlock_on(c, &mut self.locked);
        }
    }
}

/// The processlist on `c`, without our own session.
fn processlist_on(
    c: &mut Connection,
    dialect: Dialect,
    source: ProcesslistSource,
) -> Result<Vec<Session>, Failure> {
    let own = c.id();
    // Under --query-timeout as a whole: a stalled server shuts the socket, which reads as lost.
    let _deadline = c.deadline(1);
    let rows: Result<Vec<mysql::Row>, mysql::Error> = c.send_rows(&dialect.processlist_sql(source));
    match rows {
        Ok(rows) => Ok(rows
            .iter()
            .map(row::session_from_row)
            .filter(|s| s.id != own)
            .collect()),
        Err(e) => Err(failure(c, &e, "re-reading the processlist")),
    }
}

fn failure(c: &Connection, e: &mysql::Error, what: &str) -> Failure {
    Failure {
        lost: error::server_code(e).is_none(),
        error: error::query_error(e, &c.target, what),
    }
}

/// How long a run waits for [`KILL_LOCK`]: half the query timeout (the statement runs under it,
/// and under the server-side `max_statement_time` guard of the same length), 1 to 10 seconds.
fn lock_wait_s(c: &Connection) -> u64 {
    (c.query_timeout.as_secs() / 2).clamp(1, 10)
}

/// `GET_LOCK` on `c` unless `held` already: 1 is ours, 0 is another session's for the whole
/// wait, NULL or a server error is a server that cannot lock (the run goes on, and says so).
fn lock_on(c: &mut Connection, held: &mut bool) -> Result<Lock, Failure> {
    if *held {
        return Ok(Lock::Held);
    }
    let wait = lock_wait_s(c);
    let _deadline = c.deadline(1);
    let got: Result<Option<mysql::Row>, mysql::Error> =
        c.send_first(&format!("SELECT GET_LOCK('{KILL_LOCK}', {wait})"));
    let unavailable = |why: &str| {
        Lock::Unavailable(format!(
            "the kill lock '{KILL_LOCK}' could not be taken ({why}): another conncheck kill run at the same time could report a session killed twice"
        ))
    };
    match got {
        Ok(row) => match row.as_ref().and_then(|r| row::num(r, 0)) {
            Some(1) => {
                *held = true;
                Ok(Lock::Held)
            }
            Some(0) => Ok(Lock::Busy { waited_s: wait }),
            _ => Ok(unavailable("GET_LOCK returned NULL")),
        },
        Err(e) if error::server_code(&e).is_some() => {
            Ok(unavailable(&text::escape(&error::server_message(&e))))
        }
        Err(e) => Err(failure(c, &e, "taking the kill lock")),
    }
}

fn unlock_on(c: &mut Connection, held: &mut bool) {
    if std::mem::take(held) {
        let _deadline = c.deadline(1);
        let _ = c.send_drop(&format!("DO RELEASE_LOCK('{KILL_LOCK}')"));
    }
}

/// A link over a borrowed connection that does not reconnect.
struct Borrowed<'c> {
    conn: &'c mut Connection,
    dialect: Dialect,
    locked: bool,
}

impl Link for Borrowed<'_> {
    fn processlist(&mut self) -> Result<Vec<Session>, Failure> {
        let source = self.dialect.recheck_source();
        processlist_on(self.conn, self.dialect, source)
    }
    fn send(&mut self, stmts: &[String]) -> Answer {
        send_on(self.conn, stmts)
    }
    fn reconnect(&mut self) -> Result<u64, AppError> {
        Err(AppError::new(
            ErrorKind::ConnectionLost,
            "this step does not reconnect",
        ))
    }
    fn announce(&mut self, message: &str) {
        eprintln!("conncheck: {}", text::escape(message));
    }
    fn connection_id(&mut self) -> Option<u64> {
        Some(self.conn.id())
    }
    fn lock(&mut self) -> Result<Lock, Failure> {
        lock_on(self.conn, &mut self.locked)
    }
    fn unlock(&mut self) {
        unlock_on(self.conn, &mut self.locked);
    }
}

/// One batch of KILLs on `c`, and what came back.
fn send_on(c: &mut Connection, stmts: &[String]) -> Answer {
    let (done, e) = run_batch(c, &stmts.join(";"));
    match e {
        None if done < stmts.len() => Answer::Lost {
            done,
            failure: Failure {
                lost: true,
                error: AppError::new(
                    ErrorKind::ConnectionLost,
                    "killing sessions: the server answered fewer KILLs than were sent",
                ),
            },
        },
        None => Answer::Answered { done, error: None },
        Some(e) => match error::server_code(&e) {
            Some(code) => Answer::Answered {
                done,
                error: Some(ServerError {
                    code,
                    message: error::server_message(&e),
                }),
            },
            None => Answer::Lost {
                done,
                failure: Failure {
                    lost: true,
                    error: error::query_error(&e, &c.target, "killing sessions"),
                },
            },
        },
    }
}

/// Send one multi-statement batch: how many statements succeeded before the first failure.
fn run_batch(c: &mut Connection, sql: &str) -> (usize, Option<mysql::Error>) {
    // One round trip under --query-timeout as a whole, whatever the server trickles: when it
    // passes the socket is shut down and the unanswered KILLs are settled as lost ones.
    let _deadline = c.deadline(1);
    let mut done = 0;
    let sent = c.send(sql, |mut r| {
        while let Some(set) = r.iter() {
            for row in set {
                row?;
            }
            done += 1;
        }
        Ok(())
    });
    (done, sent.err())
}

/// Carry out `plan` over `c` without reconnecting (used by `set-timeouts --kill-existing`): the
/// same re-check under [`KILL_LOCK`], batches and outcomes as [`execute`]. A KILL whose answer
/// is lost is `unknown`, the victims never sent `not-attempted`, and `fatal` says why.
pub fn execute_on(
    c: &mut Connection,
    plan: &KillPlan,
    criteria: &Criteria,
    dialect: Dialect,
) -> Execution {
    let mut link = Borrowed {
        conn: c,
        dialect,
        locked: false,
    };
    execute(&mut link, plan, criteria, dialect, None)
}

/// The exit code's kind for a finished run: None when everything was killed or correctly skipped.
/// A run stopped by a signal is `ActionFailed` (3) at least, `ConnectionLost` (18) when an
/// outcome is unknown.
pub fn failure_kind(results: &[KillResult], interrupted: bool) -> Option<ErrorKind> {
    let has = |o: Outcome| results.iter().any(|r| r.outcome == o);
    if has(Outcome::Unknown) {
        return Some(ErrorKind::ConnectionLost);
    }
    if interrupted
        || has(Outcome::Error)
        || has(Outcome::NotKilled)
        || has(Outcome::NotAttempted)
        || has(Outcome::SkippedConcurrent)
    {
        return Some(ErrorKind::ActionFailed);
    }
    if has(Outcome::Denied) {
        return Some(ErrorKind::Privilege);
    }
    None
}

#[cfg(test)]
#[path = "execute_tests.rs"]
mod tests;
