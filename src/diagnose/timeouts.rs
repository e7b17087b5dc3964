//! The timeouts conncheck suggests, shared by connection-leak, idle-connections,
//! wait-timeout-high and idle-transactions: a wait_timeout fit for the pools the server shows,
//! and the actions that set it. Pure.

use super::Action;
use super::analysis::Analysis;
use super::globals::persistent_config;
use crate::units::secs;

/// The wait_timeout conncheck suggests: 30 minutes, the lifetime a pool commonly gives a
/// connection (HikariCP's default maxLifetime,
/// https://github.com/brettwooldridge/HikariCP#frequently-used). A pool retires its connections
/// before that, so it never meets the timeout; a lower value closes pooled connections under the
/// pool, which the application sees as "server has gone away". Going lower safely needs each
/// client's connection turnover measured over time (a recording), which a snapshot does not
/// have; higher only lets forgotten connections hold their slots longer than any pool needs.
pub const WAIT_TIMEOUT_MIN_S: u64 = 1800;

/// idle_transaction_timeout to suggest (MariaDB): an application that keeps a transaction open
/// and idle for five minutes is broken, and its locks block everyone meanwhile. A constant, never
/// `--trx-threshold` (a probe setting: 2 s would end every slow client's transaction).
pub const IDLE_TRX_TIMEOUT_S: u64 = 300;

/// The wait_timeout to suggest: [`WAIT_TIMEOUT_MIN_S`], never `--idle-threshold` (a probe
/// setting, not a production value) nor the idle ages seen (they say nothing about how long a
/// pool keeps a connection between two uses over a day).
pub fn suggested_wait_timeout(_a: &Analysis<'_>) -> u64 {
    WAIT_TIMEOUT_MIN_S
}

/// Lower wait_timeout to the [`suggested_wait_timeout`] so the server closes forgotten
/// connections itself, or explain why it does not when it is already that low (clients raise it
/// per session, or are interactive).
pub fn timeout_actions(a: &Analysis<'_>) -> Vec<Action> {
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
                    "conncheck set-timeouts --wait-timeout {suggested}s --interactive-timeout {suggested}s --dry-run   # wait_timeout is {}; {} covers every pool seen here (30 min: common pool lifetimes, HikariCP maxLifetime)",
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
    fn the_suggested_wait_timeout_is_a_pool_lifetime() {
        // Never derived from a threshold or the ages seen: 30 minutes, whatever the sessions.
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(&mut s, vec![]);
        assert_eq!(suggested_wait_timeout(&Analysis::new(&s)), 1800);
        let v = vec![
            session(1, "app", "10.0.0.7", "Sleep", 540, "", None),
            session(2, "app", "10.0.0.7", "Sleep", 1_700, "", None),
            session(3, "app", "10.0.0.7", "Sleep", 40_000, "", None),
        ];
        fixtures::with_sessions(&mut s, v);
        assert_eq!(suggested_wait_timeout(&Analysis::new(&s)), 1800);
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
