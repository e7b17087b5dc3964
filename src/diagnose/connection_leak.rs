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

use super::common::{
    clients, group_by, ids, of_max, oldest_first, pct, plural, severity_for_slots, share,
    shell_arg, timeout_actions,
};
use super::{Action, Finding, Thresholds};
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
pub fn leaked_ids(snap: &Snapshot) -> BTreeSet<u64> {
    by_client(snap)
        .into_iter()
        .filter(|(_, c)| is_leak(snap, c, &staircase(c)))
        .flat_map(|(_, c)| c.into_iter().map(|s| s.id))
        .collect()
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
        "connection-leak",
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
mod tests {
    use super::*;
    use crate::diagnose::fixtures::ev;
    use crate::diagnose::fixtures::{self, session};
    use crate::diagnose::{ActionKind, Severity};

    fn sleeper(id: u64, user: &str, host: &str, idle_s: u64) -> Session {
        session(id, user, host, "Sleep", idle_s, "", None)
    }

    /// `n` leaked sessions of app@10.0.0.7, ids from `first` in connect order: the first is idle
    /// longest, `oldest` seconds, each later one `step` seconds less.
    fn leak(first: u64, n: u64, oldest: u64, step: u64) -> Vec<Session> {
        (0..n)
            .map(|i| sleeper(first + i, "app", "10.0.0.7", oldest - i * step))
            .collect()
    }

    /// The same leak `later` seconds on: every age longer, nothing else changed.
    fn aged(v: &[Session], later: u64) -> Vec<Session> {
        v.iter()
            .cloned()
            .map(|mut s| {
                s.time_s += later;
                s
            })
            .collect()
    }

    #[test]
    fn healthy_servers_do_not_leak() {
        let th = Thresholds::default();
        assert!(check(&fixtures::mariadb(), &th).is_empty());
        assert!(check(&fixtures::mysql8(), &th).is_empty());
    }

    #[test]
    fn a_staircase_in_connect_order_is_a_leak() {
        let mut s = fixtures::mariadb();
        // A warm pool of 5 (connected first, reused: idle 2s) plus 12 leaked connections idle
        // 1400s, 1300s … 300s in the order they connected.
        let mut v: Vec<Session> = (1..6).map(|i| sleeper(i, "app", "10.0.0.7", 2)).collect();
        v.extend(leak(100, 12, 1400, 100));
        v.push(sleeper(200, "web", "10.0.0.8", 5000));
        fixtures::with_sessions(&mut s, v);
        let f = check(&s, &Thresholds::default());
        assert_eq!(f.len(), 1);
        let f = &f[0];
        assert_eq!(f.id, "connection-leak");
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(f.sessions, (100..112).collect::<Vec<_>>());
        assert_eq!(f.slots, 12);
        assert_eq!(ev(f, "client"), "app@10.0.0.7 (db shop)");
        assert_eq!(ev(f, "sleeping connections"), "17");
        assert_eq!(ev(f, "leaked (idle in connect order)"), "12 of 151 (7.9%)");
        assert_eq!(
            ev(f, "connect order"),
            "12 of 12 in a staircase of 12 steps: the earlier the connection, the longer idle"
        );
        // 17 ages: five of 2s, then 300..=1400: median is the 9th (600s), p90 the 16th (1300s).
        assert_eq!(
            ev(f, "idle ages"),
            "min 2s, median 10m00s, p90 21m40s, max 23m20s"
        );
        assert!(
            f.summary.contains("17 sleeping connections"),
            "{}",
            f.summary
        );
        assert!(f.summary.contains("5m00s to 23m20s"), "{}", f.summary);
        assert_eq!(
            f.actions[0].text.split("   #").next().unwrap(),
            "conncheck kill-idle --older-than 300s --match-user app --match-host 10.0.0.7 --match-db shop --dry-run"
        );
        assert_eq!(
            f.actions[1].text,
            "conncheck sessions --match-user app --match-host 10.0.0.7 --match-db shop --sleeping"
        );
        assert!(
            f.actions
                .iter()
                .any(|a| a.kind == ActionKind::Advice && a.text.contains("finally"))
        );
    }

    #[test]
    fn a_leak_stays_a_leak_as_it_ages() {
        // Found at idle ages 6–47 s; the same sessions 100 s, an hour and a day later.
        let th = Thresholds::default();
        let mut s = fixtures::mariadb();
        let young = leak(1, 15, 47, 3); // 47, 44, … 5: the youngest just at the 5 s floor
        for later in [0, 100, 3600, 86_400] {
            fixtures::with_sessions(&mut s, aged(&young, later));
            let f = check(&s, &th);
            assert_eq!(f.len(), 1, "{later}s later");
            assert_eq!(f[0].slots, 15, "{later}s later");
        }
    }

    #[test]
    fn a_fresh_leak_is_found_below_the_idle_threshold() {
        // Default --idle-threshold 300s; the leak is a minute old.
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(&mut s, leak(1, 12, 60, 5));
        let f = check(&s, &Thresholds::default());
        assert_eq!(f.len(), 1);
        assert!(
            f[0].actions[0].text.contains("--older-than 5s"),
            "{}",
            f[0].actions[0].text
        );
        assert_eq!(leaked_ids(&s).len(), 12);
    }

    #[test]
    fn a_burst_is_not_a_leak() {
        // 15 connections opened at once, plus an older lock holder of the same client.
        let th = Thresholds::default();
        let mut s = fixtures::mariadb();
        let mut v: Vec<Session> = (10..25)
            .map(|i| sleeper(i, "app", "10.0.0.7", 120))
            .collect();
        v.push(sleeper(3, "app", "10.0.0.7", 900));
        fixtures::with_sessions(&mut s, v);
        assert!(check(&s, &th).is_empty());
        // Opened within a second of each other (ages 120.0 … 120.9 s).
        let v: Vec<Session> = (10..25)
            .map(|i| {
                let mut x = sleeper(i, "app", "10.0.0.7", 120);
                x.time_ms = Some(120_900 - (i - 10) * 60);
                x
            })
            .collect();
        fixtures::with_sessions(&mut s, v);
        assert!(check(&s, &th).is_empty());
    }

    #[test]
    fn a_pool_in_no_order_is_not_a_leak() {
        // 30 pooled connections last used at scattered times, or oldest-first (ages rising with
        // the id): not abandoned in connect order.
        let th = Thresholds::default();
        let mut s = fixtures::mariadb();
        let scattered = [40, 7, 90, 12, 65, 33, 8, 71, 55, 20, 95, 14, 60, 9, 80];
        let v: Vec<Session> = scattered
            .iter()
            .enumerate()
            .map(|(i, a)| sleeper(i as u64 + 1, "app", "10.0.0.7", *a))
            .collect();
        fixtures::with_sessions(&mut s, v);
        assert!(check(&s, &th).is_empty());
        let v: Vec<Session> = (1..31)
            .map(|i| sleeper(i, "app", "10.0.0.7", 5 + 3 * i))
            .collect();
        fixtures::with_sessions(&mut s, v);
        assert!(check(&s, &th).is_empty());
    }

    #[test]
    fn count_and_share_boundaries() {
        let th = Thresholds::default();
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(&mut s, leak(1, 9, 900, 60));
        assert!(
            check(&s, &th).is_empty(),
            "9 leaked sessions are not enough"
        );
        fixtures::with_sessions(&mut s, leak(1, 10, 900, 60));
        assert_eq!(check(&s, &th).len(), 1);

        // 10 sessions are under 5 % of 201 slots; 11 are not (5.5 %).
        s.variables.insert("max_connections".into(), "201".into());
        assert!(check(&s, &th).is_empty());
        fixtures::with_sessions(&mut s, leak(1, 11, 900, 60));
        assert_eq!(check(&s, &th).len(), 1);

        // Half the slots: critical.
        s.variables.insert("max_connections".into(), "22".into());
        assert_eq!(check(&s, &th)[0].severity, Severity::Critical);
    }

    fn ages(s: &mut Snapshot, ages: &[u64]) {
        let v: Vec<Session> = ages
            .iter()
            .enumerate()
            .map(|(i, a)| sleeper(i as u64 + 1, "app", "10.0.0.7", *a))
            .collect();
        fixtures::with_sessions(s, v);
    }

    #[test]
    fn order_and_spread_boundaries() {
        let th = Thresholds::default();
        let mut s = fixtures::mysql8();
        // A stalled batch: 20 connections all idle about an hour.
        fixtures::with_sessions(&mut s, leak(1, 20, 3600, 0));
        assert!(check(&s, &th).is_empty());
        // A fast leak: 36 connections over 7 seconds, five a second (ages in ms).
        let mut v = leak(1, 36, 60, 0);
        for (i, x) in v.iter_mut().enumerate() {
            x.time_ms = Some(67_000 - i as u64 * 200);
        }
        fixtures::with_sessions(&mut s, v);
        assert_eq!(check(&s, &th).len(), 1, "a fast leak is still a leak");
        // Spread just under 5 s: a burst.
        let mut v = leak(1, 11, 3609, 0);
        for (i, x) in v.iter_mut().enumerate() {
            x.time_ms = Some(3_604_950 - i as u64 * 495);
        }
        fixtures::with_sessions(&mut s, v);
        assert!(check(&s, &th).is_empty());
        // 7 of 11 in a falling run (64 %): not in connect order.
        ages(
            &mut s,
            &[400, 380, 360, 390, 340, 320, 395, 300, 385, 290, 375],
        );
        assert!(check(&s, &th).is_empty());
        // 9 of 11 (82 %): a leak.
        ages(
            &mut s,
            &[400, 380, 360, 390, 340, 320, 310, 300, 385, 290, 280],
        );
        assert_eq!(check(&s, &th).len(), 1);
        // Only 4 distinct steps (ages 400, 399, 398, 397 in whole seconds): no staircase.
        ages(
            &mut s,
            &[400, 400, 400, 399, 399, 399, 398, 398, 398, 397, 397],
        );
        assert!(check(&s, &th).is_empty());
    }

    #[test]
    fn clients_are_told_apart_by_host_db_and_program() {
        let mut s = fixtures::mysql8();
        let mut v = leak(1, 10, 900, 60);
        // Same user and host, other port and other program: a different client.
        for (i, x) in leak(11, 10, 900, 60).into_iter().enumerate() {
            let mut x = x;
            x.program = Some("billing".into());
            x.host = format!("10.0.0.7:{}", 50_000 + i);
            v.push(x);
        }
        // Another host, one short of a leak.
        v.extend((0..9).map(|i| sleeper(30 + i, "app", "10.0.0.9", 900 - 60 * i)));
        fixtures::with_sessions(&mut s, v);
        let f = check(&s, &Thresholds::default());
        assert_eq!(f.len(), 2);
        assert_eq!(ev(&f[0], "client"), "app@10.0.0.7 (db shop)");
        assert_eq!(f[0].sessions, (1..=10).collect::<Vec<_>>());
        assert_eq!(
            ev(&f[1], "client"),
            "app@10.0.0.7 (db shop, program billing)"
        );
        assert_eq!(f[1].sessions, (11..=20).collect::<Vec<_>>());
    }

    #[test]
    fn replication_system_and_killed_rows_are_not_clients() {
        let mut s = fixtures::mariadb();
        let mut v = leak(1, 9, 900, 60);
        v.push(session(10, "app", "10.0.0.7", "Killed", 5000, "", None));
        v.push(session(11, "system user", "", "Sleep", 5000, "", None));
        fixtures::with_sessions(&mut s, v);
        assert!(check(&s, &Thresholds::default()).is_empty());
    }

    #[test]
    fn quantiles() {
        let v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        assert_eq!(quantile(&v, 0.0), 1);
        assert_eq!(quantile(&v, 0.5), 5);
        assert_eq!(quantile(&v, 0.9), 9);
        assert_eq!(quantile(&v, 1.0), 10);
        assert_eq!(quantile(&[7], 0.5), 7);
    }
}
