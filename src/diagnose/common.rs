//! What the heuristics share: rates from the status sample, one severity scale for the connection
//! slots a cause holds, the client-session filter, oldest-first ordering, and the timeout actions.
//! Pure.
//!
//! The scale, so that findings of different causes rank the same way:
//!
//! | slots at stake                                  | severity |
//! |-------------------------------------------------|----------|
//! | ≥ 50 % of max_connections                       | critical |
//! | ≥ 10 sessions, or ≥ 10 % of max_connections     | warning  |
//! | fewer (but some)                                | info     |
//!
//! Half the slots held by one cause means the next burst of clients gets ERROR 1040. Ten sessions
//! (or a tenth of the slots on a large server) is where a cause stops being background noise: on
//! the default max_connections of 151 it is 6.6 %. Causes that hurt with a single session (a long
//! query, a lock pile-up) start at warning and turn critical at the same "many" bar
//! ([`severity_from_one`]).

use std::collections::BTreeMap;
use std::time::Duration;

use super::globals::persistent_config;
use super::{Action, Severity};
use crate::snapshot::locks::waiting_for;
use crate::snapshot::{Session, Snapshot};
use crate::units::secs;

/// A rate for people: `2.50/s`, or per hour when too small to read per second (`3.6/h`:
/// lifetime averages of rare events).
pub fn per_sec(rate: f64) -> String {
    if rate >= 0.01 || rate == 0.0 {
        format!("{rate:.2}/s")
    } else {
        format!("{:.1}/h", rate * 3600.0)
    }
}

/// What a [`Snapshot::status_rate`] is measured over: the sample, or the lifetime average.
pub fn rate_basis(snap: &Snapshot) -> String {
    if snap.status_after.is_some() && snap.sample_s > 0.0 {
        format!("during the {:.0}s sample", snap.sample_s)
    } else {
        "since startup".to_string()
    }
}

/// A duration as whole seconds (`300s`), the form conncheck flags and SQL examples use.
pub fn dur(d: Duration) -> String {
    format!("{}s", d.as_secs())
}

/// From this many sessions a cause is "many" whatever max_connections is.
pub const MANY_SESSIONS: u64 = 10;
/// ... or from this share of max_connections.
pub const MANY_SHARE: f64 = 0.10;
/// The share of max_connections that makes a cause critical.
pub const MOST_SHARE: f64 = 0.50;

/// `n` as a share (0..1) of max_connections.
pub fn share(n: u64, max_connections: u64) -> f64 {
    n as f64 / max_connections.max(1) as f64
}

/// `11.9%`.
pub fn pct(n: u64, max_connections: u64) -> String {
    format!("{:.1}%", share(n, max_connections) * 100.0)
}

/// `1 session`, `2 sessions`.
pub fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `1 client was`, `2 clients were`: a count with its own singular and plural wording.
pub fn count_phrase(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `18 of 151 (11.9%)`.
pub fn of_max(n: u64, max_connections: u64) -> String {
    format!("{n} of {max_connections} ({})", pct(n, max_connections))
}

/// At least [`MANY_SESSIONS`] sessions or [`MANY_SHARE`] of the slots.
pub fn is_many(n: u64, max_connections: u64) -> bool {
    n >= MANY_SESSIONS || share(n, max_connections) >= MANY_SHARE
}

/// The shared scale: critical from half the slots, warning when many, info below.
pub fn severity_for_slots(slots: u64, max_connections: u64) -> Severity {
    if share(slots, max_connections) >= MOST_SHARE {
        Severity::Critical
    } else if is_many(slots, max_connections) {
        Severity::Warning
    } else {
        Severity::Info
    }
}

/// For causes that hurt with one session: warning, critical when many.
pub fn severity_from_one(n: u64, max_connections: u64) -> Severity {
    if is_many(n, max_connections) {
        Severity::Critical
    } else {
        Severity::Warning
    }
}

/// Which sessions are clients, by position: classified once per judgement (see
/// [`Snapshot::memo`]), not once per heuristic.
struct ClientMask(Vec<bool>);

/// The sessions every heuristic judges: clients only (no replication, system or killed rows).
pub fn clients(snap: &Snapshot) -> impl Iterator<Item = &Session> {
    let mask = snap.memo(|| ClientMask(snap.sessions.iter().map(Session::is_client).collect()));
    snap.sessions
        .iter()
        .enumerate()
        .filter(move |(i, _)| mask.0[*i])
        .map(|(_, s)| s)
}

/// A session still logging in (`unauthenticated user`, state `login`, or `Connect` +
/// `Reading from net`, https://dev.mysql.com/doc/refman/8.0/en/general-thread-states.html):
/// login storms show up here.
pub fn logging_in(s: &Session) -> bool {
    s.user == "unauthenticated user"
        || s.state.eq_ignore_ascii_case("login")
        || (s.command.eq_ignore_ascii_case("Connect")
            && s.state.eq_ignore_ascii_case("Reading from net"))
}

/// Whether the session has been in its current state (idle time for Sleep) at least `d`.
pub fn at_least(s: &Session, d: Duration) -> bool {
    s.time_secs_f64() >= d.as_secs_f64()
}

/// How long the session has held its slot for what it does now: the time in its current state,
/// or the age of its open transaction when that is older.
pub fn age_s(snap: &Snapshot, s: &Session) -> f64 {
    let trx = snap.transaction_of(s.id).map_or(0.0, |t| t.age_s as f64);
    s.time_secs_f64().max(trx)
}

/// Sort oldest first (see [`age_s`]), then by id for a stable order.
pub fn oldest_first<'a>(snap: &Snapshot, v: Vec<&'a Session>) -> Vec<&'a Session> {
    // Each age once (a transaction lookup each), not twice per comparison.
    let mut aged: Vec<(f64, &Session)> = v.into_iter().map(|s| (age_s(snap, s), s)).collect();
    aged.sort_by(|(a_age, a), (b_age, b)| b_age.total_cmp(a_age).then(a.id.cmp(&b.id)));
    aged.into_iter().map(|(_, s)| s).collect()
}

pub fn ids(v: &[&Session]) -> Vec<u64> {
    v.iter().map(|s| s.id).collect()
}

/// Whether the session waits for a lock (listed wait, InnoDB `LOCK WAIT`, or a wait state).
pub fn is_waiting(snap: &Snapshot, s: &Session) -> bool {
    snap.has_lock_wait(s.id)
        || snap
            .transaction_of(s.id)
            .is_some_and(|t| t.state.eq_ignore_ascii_case("LOCK WAIT"))
        || waiting_for(&s.state).is_some()
}

/// Group sessions by a key, keeping their order inside each group.
pub fn group_by<'a, K: Ord>(
    sessions: impl IntoIterator<Item = &'a Session>,
    key: impl Fn(&'a Session) -> K,
) -> BTreeMap<K, Vec<&'a Session>> {
    let mut m: BTreeMap<K, Vec<&Session>> = BTreeMap::new();
    for s in sessions {
        m.entry(key(s)).or_default().push(s);
    }
    m
}

/// `app@10.0.0.1 ×12, web@10.0.0.2 ×3, …`: the largest clients among `sessions`.
pub fn by_client(sessions: &[&Session], top: usize) -> String {
    let mut counts: Vec<(String, usize)> = group_by(sessions.iter().copied(), Session::account)
        .into_iter()
        .map(|(k, v)| (k, v.len()))
        .collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut out: Vec<String> = counts
        .iter()
        .take(top)
        .map(|(k, n)| format!("{k} ×{n}"))
        .collect();
    if counts.len() > top {
        out.push(format!("{} more clients", counts.len() - top));
    }
    out.join(", ")
}

/// The inside of a single-quoted SQL string literal for a suggested statement: `'` doubled and `\`
/// escaped (the default sql_mode treats a backslash as an escape), so that an account name read
/// from the server cannot end the literal in SQL the user copies.
pub fn sql_quoted(v: &str) -> String {
    v.replace('\\', r"\\").replace('\'', "''")
}

/// A value for a conncheck command line, single-quoted when the shell would split or expand it.
pub fn shell_arg(v: &str) -> String {
    if !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%._:-/[]".contains(&b))
    {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', r"'\''"))
    }
}

/// Idle ages above this belong to no healthy pool: HikariCP's default maxLifetime (30 min,
/// https://github.com/brettwooldridge/HikariCP#frequently-used) retires a pooled connection sooner.
const POOL_LIFETIME_S: f64 = 1800.0;
/// The range of wait_timeout conncheck suggests: never below 5 minutes (pools keep connections
/// idle for minutes and a client that is closed under it sees "server has gone away"), never
/// above 30 minutes (beyond any pool's lifetime, a forgotten connection just holds its slot).
pub const WAIT_TIMEOUT_MIN_S: u64 = 300;
pub const WAIT_TIMEOUT_MAX_S: u64 = 1800;

/// idle_transaction_timeout to suggest (MariaDB): an application that keeps a transaction open
/// and idle for five minutes is broken, and its locks block everyone meanwhile. A constant, never
/// `--trx-threshold` (a probe setting: 2 s would end every slow client's transaction).
pub const IDLE_TRX_TIMEOUT_S: u64 = 300;

/// The wait_timeout to suggest, from what the server shows rather than from `--idle-threshold`
/// (a probe setting, not a production value): half again the longest idle age of a session that
/// may belong to a pool (sleeping, not leaked, idle under 30 minutes), rounded up to a minute,
/// within [`WAIT_TIMEOUT_MIN_S`]..=[`WAIT_TIMEOUT_MAX_S`].
pub fn suggested_wait_timeout(snap: &Snapshot) -> u64 {
    let leaked = super::connection_leak::leaked_ids(snap);
    let longest = clients(snap)
        .filter(|s| s.is_sleeping() && !leaked.contains(&s.id))
        .map(|s| s.time_secs_f64())
        .filter(|t| *t < POOL_LIFETIME_S)
        .fold(0.0, f64::max);
    let v = ((longest * 1.5) as u64).div_ceil(60) * 60;
    v.clamp(WAIT_TIMEOUT_MIN_S, WAIT_TIMEOUT_MAX_S)
}

/// Lower wait_timeout to the [`suggested_wait_timeout`] so the server closes forgotten
/// connections itself, or explain why it does not when it is already that low (clients raise it
/// per session, or are interactive).
pub fn timeout_actions(snap: &Snapshot) -> Vec<Action> {
    let suggested = suggested_wait_timeout(snap);
    match snap.var_u64("wait_timeout") {
        Some(w) if w <= suggested => vec![Action::advice(format!(
            "wait_timeout is already {}: sessions idle longer than that are raised per session (SET SESSION wait_timeout) or count as interactive (interactive_timeout {}); fix that on the client side",
            secs(w),
            snap.var_u64("interactive_timeout").map_or("?".into(), secs),
        ))],
        w => {
            let v = suggested.to_string();
            let config = persistent_config(
                snap,
                &[
                    (
                        "wait_timeout",
                        &v,
                        "seconds idle before the server closes a connection",
                    ),
                    ("interactive_timeout", &v, ""),
                ],
            );
            // RDS/Aurora: set-timeouts would only print the same parameter-group change.
            let command = (!snap.dialect().parameter_group()).then(|| {
                Action::command(format!(
                    "conncheck set-timeouts --wait-timeout {suggested}s --interactive-timeout {suggested}s --dry-run   # wait_timeout is {}; {} covers every pool seen here (1.5 × the longest idle age under 30 min, at least 5 min)",
                    w.map_or("unknown".into(), secs),
                    secs(suggested),
                ))
                .changes(["wait_timeout", "interactive_timeout"])
            });
            command.into_iter().chain([config]).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::ActionKind;
    use crate::diagnose::fixtures::{self, session, trx};

    /// An account name from the server ends up in a suggested `ALTER USER '...'`: a quote or a
    /// trailing backslash must not end the literal.
    #[test]
    fn sql_quoted_escapes_quotes_and_backslashes() {
        assert_eq!(sql_quoted("app"), "app");
        assert_eq!(sql_quoted("o'brien"), "o''brien");
        assert_eq!(sql_quoted("evil\\"), "evil\\\\");
        assert_eq!(sql_quoted("a\\'; DROP"), "a\\\\''; DROP");
    }

    #[test]
    fn the_scale() {
        // max_connections 151: many = 10 sessions (6.6 %), critical from 76 (50.3 %).
        assert_eq!(severity_for_slots(0, 151), Severity::Info);
        assert_eq!(severity_for_slots(9, 151), Severity::Info);
        assert_eq!(severity_for_slots(10, 151), Severity::Warning);
        assert_eq!(severity_for_slots(75, 151), Severity::Warning);
        assert_eq!(severity_for_slots(76, 151), Severity::Critical);
        // A small server: 10 % of 50 is 5 sessions.
        assert_eq!(severity_for_slots(4, 50), Severity::Info);
        assert_eq!(severity_for_slots(5, 50), Severity::Warning);
        assert_eq!(severity_for_slots(25, 50), Severity::Critical);
        assert_eq!(severity_from_one(1, 151), Severity::Warning);
        assert_eq!(severity_from_one(10, 151), Severity::Critical);
        assert_eq!(
            severity_for_slots(1, 0),
            Severity::Critical,
            "no division by 0"
        );
        assert_eq!(of_max(18, 151), "18 of 151 (11.9%)");
        assert_eq!(plural(1, "session"), "1 session");
        assert_eq!(plural(0, "session"), "0 sessions");
    }

    #[test]
    fn clients_and_order() {
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(
            &mut s,
            vec![
                session(1, "app", "10.0.0.1", "Sleep", 10, "", None),
                session(2, "app", "10.0.0.1", "Sleep", 50, "", None),
                session(3, "app", "10.0.0.1", "Sleep", 5, "", None),
                session(4, "system user", "", "Slave_SQL", 900, "", None),
                session(5, "app", "10.0.0.1", "Killed", 900, "", None),
                session(6, "app", "10.0.0.1", "Sleep", 50, "", None),
            ],
        );
        s.transactions.push(trx(3, "RUNNING", 400, 1, None));
        let v = oldest_first(&s, clients(&s).collect());
        assert_eq!(ids(&v), vec![3, 2, 6, 1]);
        assert_eq!(by_client(&v, 5), "app@10.0.0.1 ×4");
    }

    #[test]
    fn waiting_sessions() {
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(
            &mut s,
            vec![
                session(1, "app", "localhost", "Query", 3, "Updating", None),
                session(
                    2,
                    "app",
                    "localhost",
                    "Query",
                    3,
                    "Waiting for table metadata lock",
                    None,
                ),
                session(3, "app", "localhost", "Query", 3, "executing", None),
            ],
        );
        s.transactions.push(trx(1, "LOCK WAIT", 3, 0, None));
        let w: Vec<u64> = s
            .sessions
            .iter()
            .filter(|x| is_waiting(&s, x))
            .map(|x| x.id)
            .collect();
        assert_eq!(w, vec![1, 2]);
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_arg("app"), "app");
        assert_eq!(shell_arg("10.0.0.1"), "10.0.0.1");
        assert_eq!(shell_arg("my user"), "'my user'");
        assert_eq!(shell_arg("o'brien"), r"'o'\''brien'");
        assert_eq!(shell_arg(""), "''");
    }

    #[test]
    fn timeouts() {
        let mut s = fixtures::mariadb(); // wait_timeout 600
        s.variables.insert("wait_timeout".into(), "28800".into());
        let a = timeout_actions(&s);
        assert!(
            a[0].text.starts_with(
                "conncheck set-timeouts --wait-timeout 300s --interactive-timeout 300s --dry-run"
            ),
            "{}",
            a[0].text
        );
        assert!(a[1].text.contains("wait_timeout = 300"));
        s.variables.insert("wait_timeout".into(), "300".into());
        let a = timeout_actions(&s);
        assert_eq!(a.len(), 1);
        assert!(
            a[0].text.contains("SET SESSION wait_timeout"),
            "{}",
            a[0].text
        );
    }

    #[test]
    fn the_suggested_wait_timeout_covers_the_pools_seen() {
        // Never derived from a threshold: 5 minutes at least, whatever the sessions.
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(&mut s, vec![]);
        assert_eq!(suggested_wait_timeout(&s), 300);
        // A pool member idle 9 minutes: 1.5 × 540 s = 810 s, rounded up to 840 s.
        let mut v = vec![session(1, "app", "10.0.0.7", "Sleep", 540, "", None)];
        // Idle beyond any pool's lifetime: not a pool, ignored.
        v.push(session(2, "app", "10.0.0.7", "Sleep", 40_000, "", None));
        fixtures::with_sessions(&mut s, v);
        assert_eq!(suggested_wait_timeout(&s), 840);
        // Capped at 30 minutes.
        fixtures::with_sessions(
            &mut s,
            vec![session(1, "app", "10.0.0.7", "Sleep", 1_700, "", None)],
        );
        assert_eq!(suggested_wait_timeout(&s), 1800);
    }

    #[test]
    fn timeouts_on_rds_go_to_the_parameter_group() {
        let mut s = fixtures::mysql8();
        s.server.rds = true;
        s.variables.insert("wait_timeout".into(), "28800".into());
        let a = timeout_actions(&s);
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].kind, ActionKind::Advice);
        assert!(a[0].text.contains(
            "\"ParameterName=wait_timeout,ParameterValue=300,ApplyMethod=immediate\" \"ParameterName=interactive_timeout,ParameterValue=300,ApplyMethod=immediate\""
        ), "{}", a[0].text);
        assert!(!a.iter().any(|x| x.text.contains("[mysqld]")));
    }
}
