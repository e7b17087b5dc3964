//! The timeouts conncheck suggests, shared by connection-leak, idle-connections,
//! wait-timeout-high and idle-transactions: a wait_timeout fit for the pools the server shows,
//! and the actions that set it. Pure.

use super::Action;
use super::analysis::Analysis;
use super::globals::persistent_config;
use crate::units::secs;

/// Idle ages above this belong to no healthy pool: HikariCP's default maxLifetime (30 min,
/// https://github.com/brettwooldridge/HikariCP#frequently-used) retires a pooled connection sooner.
const POOL_LIFETIME_S: f64 = 1800.0;
/// The range of wait_timeout conncheck suggests: never below 30 minutes, the lifetime a pool
/// commonly gives a connection (HikariCP's default maxLifetime, see [`POOL_LIFETIME_S`]): a
/// pool's connection closed under it by the server surfaces as "server has gone away" in the
/// application. A lower value would need each client's connection turnover measured over time
/// (a recording), which a snapshot does not have. Never above an hour (beyond any pool's
/// lifetime, a forgotten connection just holds its slot; wait-timeout-high calls more high).
pub const WAIT_TIMEOUT_MIN_S: u64 = 1800;
pub const WAIT_TIMEOUT_MAX_S: u64 = 3600;

/// idle_transaction_timeout to suggest (MariaDB): an application that keeps a transaction open
/// and idle for five minutes is broken, and its locks block everyone meanwhile. A constant, never
/// `--trx-threshold` (a probe setting: 2 s would end every slow client's transaction).
pub const IDLE_TRX_TIMEOUT_S: u64 = 300;

/// The wait_timeout to suggest, from what the server shows rather than from `--idle-threshold`
/// (a probe setting, not a production value): half again the longest idle age of a session that
/// may belong to a pool (sleeping, not leaked, idle under 30 minutes), rounded up to a minute,
/// within [`WAIT_TIMEOUT_MIN_S`]..=[`WAIT_TIMEOUT_MAX_S`].
pub fn suggested_wait_timeout(a: &Analysis) -> u64 {
    let leaked = a.leaked_ids();
    let longest = a
        .clients()
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
pub fn timeout_actions(a: &Analysis) -> Vec<Action> {
    let snap = a.snap;
    let suggested = suggested_wait_timeout(a);
    match snap.var_u64("wait_timeout") {
        // Already at or below what we would suggest, and nobody idles past it: nothing to say.
        Some(w)
            if w <= suggested
                && !a
                    .clients()
                    .any(|s| s.is_sleeping() && s.time_secs_f64() > w as f64) =>
        {
            vec![]
        }
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
                    "conncheck set-timeouts --wait-timeout {suggested}s --interactive-timeout {suggested}s --dry-run   # wait_timeout is {}; {} covers every pool seen here (1.5 × the longest idle age under 30 min, at least 30 min: common pool lifetimes)",
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
    use crate::diagnose::fixtures::{self, session};

    #[test]
    fn timeouts() {
        let mut s = fixtures::mariadb(); // wait_timeout 600
        s.variables.insert("wait_timeout".into(), "28800".into());
        let a = timeout_actions(&Analysis::new(&s));
        assert!(
            a[0].text.starts_with(
                "conncheck set-timeouts --wait-timeout 1800s --interactive-timeout 1800s --dry-run"
            ),
            "{}",
            a[0].text
        );
        assert!(a[1].text.contains("wait_timeout = 1800"));
        s.variables.insert("wait_timeout".into(), "1800".into());
        assert!(timeout_actions(&Analysis::new(&s)).is_empty());
        // A session idle past wait_timeout raised it for itself.
        fixtures::with_sessions(
            &mut s,
            vec![session(1, "app", "10.0.0.7", "Sleep", 4000, "", None)],
        );
        let a = timeout_actions(&Analysis::new(&s));
        assert_eq!(a.len(), 1);
        assert!(
            a[0].text.contains("SET SESSION wait_timeout"),
            "{}",
            a[0].text
        );
    }

    #[test]
    fn the_suggested_wait_timeout_covers_the_pools_seen() {
        // Never derived from a threshold: 30 minutes at least (common pool lifetimes), whatever
        // the sessions.
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(&mut s, vec![]);
        assert_eq!(suggested_wait_timeout(&Analysis::new(&s)), 1800);
        // A pool member idle 9 minutes: still 30 minutes, never below a pool's lifetime.
        let mut v = vec![session(1, "app", "10.0.0.7", "Sleep", 540, "", None)];
        // Idle beyond any pool's lifetime: not a pool, ignored.
        v.push(session(2, "app", "10.0.0.7", "Sleep", 40_000, "", None));
        fixtures::with_sessions(&mut s, v);
        assert_eq!(suggested_wait_timeout(&Analysis::new(&s)), 1800);
        // A pool member idle 25 minutes: 1.5 × 1500 s = 2250 s, rounded up to 2280 s.
        fixtures::with_sessions(
            &mut s,
            vec![session(1, "app", "10.0.0.7", "Sleep", 1_500, "", None)],
        );
        assert_eq!(suggested_wait_timeout(&Analysis::new(&s)), 2280);
    }

    #[test]
    fn timeouts_on_rds_go_to_the_parameter_group() {
        let mut s = fixtures::mysql8();
        s.server.rds = true;
        s.variables.insert("wait_timeout".into(), "28800".into());
        let a = timeout_actions(&Analysis::new(&s));
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].kind, ActionKind::Advice);
        assert!(a[0].text.contains(
            "\"ParameterName=wait_timeout,ParameterValue=1800,ApplyMethod=immediate\" \"ParameterName=interactive_timeout,ParameterValue=1800,ApplyMethod=immediate\""
        ), "{}", a[0].text);
        assert!(!a.iter().any(|x| x.text.contains("[mysqld]")));
    }
}
