//! `connection-leak`: one client opens connections and never closes them.
//!
//! A leaked connection is used once, right after it connects, and then abandoned: read in
//! connect order, a leak's idle ages fall step by step, a staircase that never fades. The rule
//! that finds it, per client (user@host, same default database and program name when the server
//! shows them), is in `analysis/leaks.rs`: the analysis finds the leaks once, since
//! pool-oversized, the verdict and the suggested wait_timeout leave leaked sessions out too. This
//! file reports them. Nothing here depends on `--idle-threshold`: the kill command it suggests
//! selects exactly the staircase.
//!
//! Severity follows the shared slot scale of [`super::common`] on the leaked sessions, which are
//! the ones listed and the slots at stake. pool-oversized leaves them out of its warm pools.

use super::analysis::{Analysis, Staircase};
use super::common::{ids, of_max, pct, plural, severity_for_slots, shell_arg};
use super::timeouts::timeout_actions;
use super::{Action, Finding, FindingId, Thresholds};
use crate::snapshot::Session;
use crate::units::secs;

pub fn check(a: &Analysis<'_>, _th: &Thresholds) -> Vec<Finding> {
    a.leaks()
        .iter()
        .map(|l| {
            let stale = a.oldest_first(l.leaked.clone());
            finding(a, &l.sleeping, &stale, &l.staircase)
        })
        .collect()
}

fn finding(a: &Analysis<'_>, sleeping: &[&Session], stale: &[&Session], st: &Staircase) -> Finding {
    let max = a.snap.max_connections();
    let s0 = stale[0];
    let youngest = stale[stale.len() - 1];
    let n = stale.len() as u64;
    // Exactly the staircase: its youngest idle age, in whole seconds.
    let older_than = format!(
        "{}s",
        crate::units::float_to_u64(youngest.time_secs_f64()).max(1)
    );
    let mut client = s0.account();
    let mut details: Vec<String> = Vec::new();
    if let Some(db) = &s0.db {
        details.push(format!("db {db}"));
    }
    if let Some(p) = &s0.program {
        details.push(format!("program {p}"));
    }
    if !details.is_empty() {
        client = format!("{client} ({})", details.join(", "));
    }
    let mut ages: Vec<u64> = sleeping.iter().map(|s| s.time_s).collect();
    ages.sort_unstable();
    let q = |p: f64| secs(quantile(&ages, p));
    let mut filter = format!(
        "--match-user {} --match-host {}",
        shell_arg(&crate::filter::user_arg(&s0.user)),
        shell_arg(s0.client_host())
    );
    if let Some(db) = &s0.db {
        filter.push_str(&format!(" --match-db {}", shell_arg(db)));
    }
    let mut f = Finding::new(
        FindingId::ConnectionLeak,
        severity_for_slots(n, max),
        format!("{} is leaking connections", s0.account()),
        format!(
            "{} holds {}, {n} of them ({} of max_connections {max}) idle from {} to {} in the order they connected: a staircase of connections opened and never used again.",
            s0.account(),
            plural(sleeping.len() as u64, "sleeping connection"),
            pct(n, max),
            secs(youngest.time_s),
            secs(s0.time_s),
        ),
    )
    .evidence("client", client)
    .evidence("sleeping connections", sleeping.len())
    .evidence("leaked (idle in connect order)", of_max(n, max))
    .evidence(
        "connect order",
        format!(
            "{} of {n} in a staircase of {} steps: the earlier the connection, the longer idle",
            st.len, st.steps
        ),
    )
    .evidence(
        "idle ages",
        format!(
            "min {}, median {}, p90 {}, max {}",
            q(0.0),
            q(0.5),
            q(0.9),
            q(1.0)
        ),
    )
    .sessions(ids(stale))
    .slots(n)
    .action(Action::command(format!(
        "conncheck kill-idle --older-than {older_than} {filter} --dry-run   # the {n} leaked connections of this client; then without --dry-run"
    )))
    .action(Action::command(format!(
        "conncheck sessions {filter} --sleeping"
    )))
    .action(Action::advice(
        "close every connection you open on every path: finally / try-with-resources (Java), `with` (Python), defer db.Close() / rows.Close() (Go); better, borrow from a pool with leak detection (HikariCP leakDetectionThreshold)",
    ));
    for action in timeout_actions(a) {
        f = f.action(action);
    }
    f
}

/// Nearest-rank quantile of sorted values (`p` in 0..=1).
fn quantile(sorted: &[u64], p: f64) -> u64 {
    let rank = crate::units::float_to_usize((p * sorted.len() as f64).ceil());
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
#[path = "connection_leak_tests.rs"]
mod tests;
