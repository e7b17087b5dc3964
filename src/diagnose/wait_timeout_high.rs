//! `wait-timeout-high`: idle sessions may keep their slots for hours.
//!
//! The server closes a sleeping session after wait_timeout (interactive clients:
//! interactive_timeout), 28800 s = 8 hours by default
//! (https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html#sysvar_wait_timeout,
//! https://mariadb.com/kb/en/server-system-variables/#wait_timeout). Above an hour while idle
//! client sessions pile up (10 of them, or 10 % of max_connections, sleeping over
//! `--idle-threshold`) is a warning; the 8-hour default without a pile-up is an info
//! (prevention). We suggest [`suggested_wait_timeout`]: 30 minutes (common pool lifetimes, see
//! `timeouts`), never `--idle-threshold` (a probe setting, not a production value), the same
//! value the idle-session findings suggest. A new value only applies to sessions
//! that connect afterwards (the session copies it at connect).

use super::analysis::Analysis;
use super::common::{at_least, is_many};
use super::globals::change_globals;
use super::timeouts::{IDLE_TRX_TIMEOUT_S, suggested_wait_timeout};
use super::{Action, Finding, FindingId, Severity, Thresholds, dur};

/// The compiled-in default of both timeouts (8 hours) in MySQL and MariaDB.
const DEFAULT_TIMEOUT: u64 = 28_800;
/// Above this, idle sessions hold their slots longer than any pool needs.
const SENSIBLE_MAX: u64 = 3_600;
pub fn check(a: &Analysis<'_>, th: &Thresholds) -> Vec<Finding> {
    let snap = a.snap;
    let wait = snap.var_u64("wait_timeout").unwrap_or(DEFAULT_TIMEOUT);
    let interactive = snap
        .var_u64("interactive_timeout")
        .unwrap_or(DEFAULT_TIMEOUT);
    let highest = wait.max(interactive);
    let idle: Vec<_> = a
        .clients()
        .filter(|s| s.is_sleeping() && at_least(s, th.idle))
        .collect();
    let pileup = is_many(idle.len() as u64, snap.max_connections());
    let severity = if highest > SENSIBLE_MAX && pileup {
        Severity::Warning
    } else if highest >= DEFAULT_TIMEOUT {
        Severity::Info
    } else {
        return vec![];
    };
    let summary = if pileup {
        format!(
            "{} client sessions have been sleeping over {} while wait_timeout is {wait}s and interactive_timeout {interactive}s: idle connections keep their slots for up to {}.",
            idle.len(),
            dur(th.idle),
            crate::units::secs(highest)
        )
    } else {
        format!(
            "wait_timeout is {wait}s and interactive_timeout {interactive}s: a leaked or forgotten connection keeps its slot for up to {} before the server closes it.",
            crate::units::secs(highest)
        )
    };
    let mut f = Finding::new(
        FindingId::WaitTimeoutHigh,
        severity,
        "Idle sessions are closed only after a long timeout",
        summary,
    )
    .evidence("wait_timeout", format!("{wait}s"))
    .evidence("interactive_timeout", format!("{interactive}s"))
    .evidence(
        &format!("client sessions sleeping over {}", dur(th.idle)),
        idle.len(),
    )
    .sessions(idle.iter().map(|s| s.id))
    .slots(idle.len() as u64);
    let suggested = suggested_wait_timeout(a);
    if suggested >= highest {
        // Nothing lower fits the pools seen here.
        return vec![];
    }
    let s = suggested.to_string();
    let command = format!(
        "conncheck set-timeouts --wait-timeout {suggested}s --interactive-timeout {suggested}s"
    );
    for a in change_globals(
        snap,
        Some(&command),
        &[("wait_timeout", &s), ("interactive_timeout", &s)],
    ) {
        f = f.action(a);
    }
    f = f.action(Action::advice(format!(
        "keep wait_timeout above the apps' pool idle timeout / maxLifetime, or pools will hand out connections the server already closed; the new value only applies to new sessions: existing ones keep theirs (`conncheck kill-idle --older-than {suggested}s` clears those idle longer than the new value)"
    )));
    // MariaDB can also end sessions idle inside an open transaction
    // (https://mariadb.com/kb/en/server-system-variables/#idle_transaction_timeout).
    let idle_in_trx = idle
        .iter()
        .filter(|s| a.transaction_of(s.id).is_some())
        .count();
    if snap.var_u64("idle_transaction_timeout") == Some(0) && idle_in_trx > 0 {
        f = f.evidence("idle sessions with an open transaction", idle_in_trx);
        let t = IDLE_TRX_TIMEOUT_S.to_string();
        for a in change_globals(snap, None, &[("idle_transaction_timeout", &t)]) {
            f = f.action(a);
        }
    }
    vec![f]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::{ActionKind, fixtures};
    use crate::snapshot::Snapshot;

    fn timeouts(mut s: Snapshot, wait: u64, interactive: u64) -> Snapshot {
        s.variables.insert("wait_timeout".into(), wait.to_string());
        s.variables
            .insert("interactive_timeout".into(), interactive.to_string());
        s
    }

    fn idle(s: &mut Snapshot, n: u64, secs: u64) {
        fixtures::with_sessions(
            s,
            (1..=n)
                .map(|i| fixtures::session(i, "app", "10.0.0.1", "Sleep", secs, "", None))
                .collect(),
        );
    }

    #[test]
    fn healthy_servers_have_short_timeouts() {
        let th = Thresholds::default();
        assert!(check(&Analysis::new(&fixtures::mariadb()), &th).is_empty());
        assert!(check(&Analysis::new(&fixtures::mysql8()), &th).is_empty());
    }

    #[test]
    fn default_without_pileup_is_info() {
        let th = Thresholds::default();
        let f = check(
            &Analysis::new(&timeouts(fixtures::mysql8(), 28_800, 28_800)),
            &th,
        );
        assert_eq!(f[0].severity, Severity::Info);
        assert!(f[0].summary.contains("8h00m"), "{}", f[0].summary);
        assert!(
            f[0].actions.iter().any(|a| a.text
                == "conncheck set-timeouts --wait-timeout 1800s --interactive-timeout 1800s")
        );
        assert!(
            f[0].actions.iter().any(|a| a.text
                == "SET GLOBAL wait_timeout = 1800; SET GLOBAL interactive_timeout = 1800;")
        );
        // High but not the default, no pile-up: nothing.
        assert!(
            check(
                &Analysis::new(&timeouts(fixtures::mysql8(), 7_200, 600)),
                &th
            )
            .is_empty()
        );
    }

    /// A probe threshold never becomes a server setting: `--idle-threshold 5s` still suggests a
    /// production value, the same one the idle-session findings suggest.
    #[test]
    fn never_suggests_the_idle_threshold() {
        let th = Thresholds {
            idle: std::time::Duration::from_secs(5),
            ..Thresholds::default()
        };
        let f = check(
            &Analysis::new(&timeouts(fixtures::mysql8(), 28_800, 28_800)),
            &th,
        );
        assert!(
            f[0].actions.iter().any(|a| a.text
                == "conncheck set-timeouts --wait-timeout 1800s --interactive-timeout 1800s"),
            "{:?}",
            f[0].actions
        );
        assert!(!f[0].actions.iter().any(|a| a.text.contains("= 5;")));
    }

    #[test]
    fn pileup_with_a_high_timeout_is_a_warning() {
        let th = Thresholds::default();
        let mut s = timeouts(fixtures::mariadb(), 3_601, 600);
        idle(&mut s, 10, 300);
        let f = check(&Analysis::new(&s), &th);
        assert_eq!(f[0].severity, Severity::Warning);
        assert_eq!(f[0].sessions.len(), 10);
        assert_eq!(f[0].slots, 10);
        // Exactly an hour is fine.
        let s = timeouts(s, 3_600, 600);
        assert!(check(&Analysis::new(&s), &th).is_empty());
        // Nine sessions on 151 slots are no pile-up; sleeping under the threshold don't count.
        let mut s = timeouts(fixtures::mariadb(), 7_200, 600);
        idle(&mut s, 9, 900);
        assert!(check(&Analysis::new(&s), &th).is_empty());
        idle(&mut s, 20, 299);
        assert!(check(&Analysis::new(&s), &th).is_empty());
    }

    #[test]
    fn mariadb_idle_transactions_and_rds() {
        let th = Thresholds::default();
        let mut s = timeouts(fixtures::mariadb(), 28_800, 28_800);
        s.variables
            .insert("idle_transaction_timeout".into(), "0".into());
        idle(&mut s, 12, 1_000);
        s.transactions = vec![fixtures::trx(3, "RUNNING", 1_000, 1, None)];
        let f = check(&Analysis::new(&s), &th);
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(
            f[0].actions
                .iter()
                .any(|a| a.text == "SET GLOBAL idle_transaction_timeout = 300;")
        );
        s.server.rds = true;
        let f = check(&Analysis::new(&s), &th);
        assert!(!f[0].actions.iter().any(|a| a.kind == ActionKind::Sql));
        assert!(
            f[0].actions
                .iter()
                .any(|a| a.text.contains("ParameterName=wait_timeout"))
        );
    }
}
