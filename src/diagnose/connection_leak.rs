//! `connection-leak`: one client opens connections and never closes them.
//!
//! A leaked connection is used once, right after it connects, and then abandoned: its idle age
//! is its age. Connection ids grow with connect time, so a leak's sessions, read in id order,
//! show idle ages that fall step by step: the earlier a connection came, the longer it has been
//! idle. That order never fades: an hour later every age is an hour longer and the staircase is
//! the same, and on a full server, where no new connection arrives, it stays exactly as it was.
//! A pool that reuses its connections has short ages in no order (or rising with the id, when
//! it hands out its oldest connections first); connections opened together in a burst have one
//! age, not a staircase. So, per client (user@host, same default database and program name when
//! the server shows them), with the candidates = its sleeping sessions idle at least 5 s:
//!
//! - at least 10 candidates and 5 % of max_connections (fewer is noise; idle-connections still
//!   counts them);
//! - read in id order, the longest run whose idle ages never rise (compared in whole seconds)
//!   holds at least 3 of every 4 candidates, spans at least 5 s of idle age and has at least 5
//!   distinct steps: abandoned in the order they connected, not opened in one burst (a burst
//!   spans a second or two, a pool in no order keeps about 2√n of n in such a run).
//!
//! Limits: a leak whose connections were each used for a while before being abandoned still
//! falls, as long as they were abandoned in about the order they connected; a leak younger than
//! 5 s of spread is a burst until it goes on. Finding the run is O(n log n) per client. The idle ages used are
//! milliseconds where the server shows them (MariaDB's TIME_MS). Nothing here depends on
//! `--idle-threshold`: the kill command it suggests selects exactly the staircase.
//!
//! Severity follows the shared slot scale of [`super::common`] on the leaked sessions, which are
//! the ones listed and the slots at stake. pool-oversized leaves them out of its warm pools.

use std::collections::BTreeSet;
use std::rc::Rc;

use super::common::{
    clients, group_by, ids, of_max, oldest_first, pct, plural, severity_for_slots, share,
    shell_arg, timeout_actions,
};
use super::{Action, Finding, FindingId, Thresholds};
use crate::snapshot::{Session, Snapshot};
use crate::units::secs;

/// The fewest leaked sessions from one client that make a leak.
const MIN_STALE: usize = 10;
/// ... and their smallest share of max_connections.
const MIN_SHARE: f64 = 0.05;
/// Sessions idle for less than this may be in use between two statements.
const FLOOR_S: f64 = 5.0;
/// Idle ages are compared in steps of this size: closer than that, opened together.
const STEP_S: f64 = 1.0;
/// A staircase spans at least this many seconds of idle age (a burst spans a second or two).
const MIN_SPREAD_S: f64 = 5.0;
/// A staircase has at least this many distinct steps, and holds this share of the candidates.
const MIN_STEPS: usize = 5;
const MIN_ORDER: f64 = 0.75;

/// How a client's candidates read in connect order: the longest run of them, in id order, whose
/// idle ages never rise (in whole [`STEP_S`] steps), its distinct steps and the ages it spans.
struct Staircase {
    len: usize,
    steps: usize,
    spread_s: f64,
}

fn staircase(candidates: &[&Session]) -> Staircase {
    let mut by_id: Vec<&Session> = candidates.to_vec();
    by_id.sort_by_key(|s| s.id);
    // Longest non-increasing subsequence of the stepped ages, O(n log n) (patience sorting on
    // the negated keys, keeping predecessors to read the run back).
    let keys: Vec<i64> = by_id
        .iter()
        .map(|s| -((s.time_secs_f64() / STEP_S).floor() as i64))
        .collect();
    let mut tails: Vec<usize> = Vec::new();
    let mut prev: Vec<Option<usize>> = vec![None; keys.len()];
    for (i, k) in keys.iter().enumerate() {
        let pos = tails.partition_point(|&t| keys[t] <= *k);
        prev[i] = pos.checked_sub(1).map(|p| tails[p]);
        if pos == tails.len() {
            tails.push(i);
        } else {
            tails[pos] = i;
        }
    }
    let mut run = Vec::new();
    let mut at = tails.last().copied();
    while let Some(i) = at {
        run.push(i);
        at = prev[i];
    }
    let mut steps: Vec<i64> = run.iter().map(|i| keys[*i]).collect();
    steps.dedup();
    let ages = run.iter().map(|i| by_id[*i].time_secs_f64());
    let oldest = ages.clone().fold(f64::MIN, f64::max);
    let youngest = ages.fold(f64::MAX, f64::min);
    Staircase {
        len: run.len(),
        steps: steps.len(),
        spread_s: if run.is_empty() {
            0.0
        } else {
            oldest - youngest
        },
    }
}

/// Whether candidates of one client are a leak under the rule of the module doc.
fn is_leak(snap: &Snapshot, candidates: &[&Session], st: &Staircase) -> bool {
    candidates.len() >= MIN_STALE
        && share(candidates.len() as u64, snap.max_connections()) >= MIN_SHARE
        && st.spread_s >= MIN_SPREAD_S
        && st.steps >= MIN_STEPS
        && st.len as f64 >= MIN_ORDER * candidates.len() as f64
}

type ClientKey<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>);

/// Sleeping client sessions grouped by client, with the leak candidates of each.
fn by_client(snap: &Snapshot) -> Vec<(Vec<&Session>, Vec<&Session>)> {
    let sleeping = clients(snap).filter(|s| s.is_sleeping());
    let groups = group_by(sleeping, |s| -> ClientKey<'_> {
        (
            s.user.as_str(),
            s.client_host(),
            s.db.as_deref(),
            s.program.as_deref(),
        )
    });
    groups
        .into_values()
        .map(|sessions| {
            let candidates = sessions
                .iter()
                .copied()
                .filter(|s| s.time_secs_f64() >= FLOOR_S)
                .collect();
            (sessions, candidates)
        })
        .collect()
}

/// Ids of every session some client leaked (for pool-oversized, which must not count them as
/// a warm pool).
/// Computed once per judgement (several findings and the verdict ask).
pub fn leaked_ids(snap: &Snapshot) -> Rc<BTreeSet<u64>> {
    snap.memo(|| {
        by_client(snap)
            .into_iter()
            .filter(|(_, c)| is_leak(snap, c, &staircase(c)))
            .flat_map(|(_, c)| c.into_iter().map(|s| s.id))
            .collect::<BTreeSet<u64>>()
    })
}

pub fn check(snap: &Snapshot, _th: &Thresholds) -> Vec<Finding> {
    by_client(snap)
        .into_iter()
        .filter_map(|(sessions, candidates)| {
            let st = staircase(&candidates);
            is_leak(snap, &candidates, &st).then(|| {
                let stale = oldest_first(snap, candidates);
                finding(snap, &sessions, &stale, &st)
            })
        })
        .collect()
}

fn finding(snap: &Snapshot, sleeping: &[&Session], stale: &[&Session], st: &Staircase) -> Finding {
    let max = snap.max_connections();
    let s0 = stale[0];
    let youngest = stale[stale.len() - 1];
    let n = stale.len() as u64;
    // Exactly the staircase: its youngest idle age, in whole seconds.
    let older_than = format!("{}s", (youngest.time_secs_f64().floor() as u64).max(1));
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
        shell_arg(&s0.user),
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
    for a in timeout_actions(snap) {
        f = f.action(a);
    }
    f
}

/// Nearest-rank quantile of sorted values (`p` in 0..=1).
fn quantile(sorted: &[u64], p: f64) -> u64 {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
#[path = "connection_leak_tests.rs"]
mod tests;
