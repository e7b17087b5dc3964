//! Unit tests of `diagnose::connection_leak` (kept beside it, out of the way of its code).

use super::*;
use crate::diagnose::fixtures::ev;
use crate::diagnose::fixtures::{self, session};
use crate::diagnose::{ActionKind, Severity};
use crate::snapshot::Snapshot;

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
    assert!(check(&Analysis::new(&fixtures::mariadb()), &th).is_empty());
    assert!(check(&Analysis::new(&fixtures::mysql8()), &th).is_empty());
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
    let f = check(&Analysis::new(&s), &Thresholds::default());
    assert_eq!(f.len(), 1);
    let f = &f[0];
    assert_eq!(f.id, FindingId::ConnectionLeak);
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
        let f = check(&Analysis::new(&s), &th);
        assert_eq!(f.len(), 1, "{later}s later");
        assert_eq!(f[0].slots, 15, "{later}s later");
    }
}

#[test]
fn a_fresh_leak_is_found_below_the_idle_threshold() {
    // Default --idle-threshold 300s; the leak is a minute old.
    let mut s = fixtures::mariadb();
    fixtures::with_sessions(&mut s, leak(1, 12, 60, 5));
    let f = check(&Analysis::new(&s), &Thresholds::default());
    assert_eq!(f.len(), 1);
    assert!(
        f[0].actions[0].text.contains("--older-than 5s"),
        "{}",
        f[0].actions[0].text
    );
    assert_eq!(Analysis::new(&s).leaked_ids().len(), 12);
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
    assert!(check(&Analysis::new(&s), &th).is_empty());
    // Opened within a second of each other (ages 120.0 … 120.9 s).
    let v: Vec<Session> = (10..25)
        .map(|i| {
            let mut x = sleeper(i, "app", "10.0.0.7", 120);
            x.time_ms = Some(120_900 - (i - 10) * 60);
            x
        })
        .collect();
    fixtures::with_sessions(&mut s, v);
    assert!(check(&Analysis::new(&s), &th).is_empty());
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
    assert!(check(&Analysis::new(&s), &th).is_empty());
    let v: Vec<Session> = (1..31)
        .map(|i| sleeper(i, "app", "10.0.0.7", 5 + 3 * i))
        .collect();
    fixtures::with_sessions(&mut s, v);
    assert!(check(&Analysis::new(&s), &th).is_empty());
}

#[test]
fn count_and_share_boundaries() {
    let th = Thresholds::default();
    let mut s = fixtures::mariadb();
    fixtures::with_sessions(&mut s, leak(1, 9, 900, 60));
    assert!(
        check(&Analysis::new(&s), &th).is_empty(),
        "9 leaked sessions are not enough"
    );
    fixtures::with_sessions(&mut s, leak(1, 10, 900, 60));
    assert_eq!(check(&Analysis::new(&s), &th).len(), 1);

    // 10 sessions are under 5 % of 201 slots; 11 are not (5.5 %).
    s.variables.insert("max_connections".into(), "201".into());
    assert!(check(&Analysis::new(&s), &th).is_empty());
    fixtures::with_sessions(&mut s, leak(1, 11, 900, 60));
    assert_eq!(check(&Analysis::new(&s), &th).len(), 1);

    // Half the slots: critical.
    s.variables.insert("max_connections".into(), "22".into());
    assert_eq!(
        check(&Analysis::new(&s), &th)[0].severity,
        Severity::Critical
    );
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
    assert!(check(&Analysis::new(&s), &th).is_empty());
    // A fast leak: 36 connections over 7 seconds, five a second (ages in ms).
    let mut v = leak(1, 36, 60, 0);
    for (i, x) in v.iter_mut().enumerate() {
        x.time_ms = Some(67_000 - i as u64 * 200);
    }
    fixtures::with_sessions(&mut s, v);
    assert_eq!(
        check(&Analysis::new(&s), &th).len(),
        1,
        "a fast leak is still a leak"
    );
    // Spread just under 5 s: a burst.
    let mut v = leak(1, 11, 3609, 0);
    for (i, x) in v.iter_mut().enumerate() {
        x.time_ms = Some(3_604_950 - i as u64 * 495);
    }
    fixtures::with_sessions(&mut s, v);
    assert!(check(&Analysis::new(&s), &th).is_empty());
    // 7 of 11 in a falling run (64 %): not in connect order.
    ages(
        &mut s,
        &[400, 380, 360, 390, 340, 320, 395, 300, 385, 290, 375],
    );
    assert!(check(&Analysis::new(&s), &th).is_empty());
    // 9 of 11 (82 %): a leak.
    ages(
        &mut s,
        &[400, 380, 360, 390, 340, 320, 310, 300, 385, 290, 280],
    );
    assert_eq!(check(&Analysis::new(&s), &th).len(), 1);
    // Only 4 distinct steps (ages 400, 399, 398, 397 in whole seconds): no staircase.
    ages(
        &mut s,
        &[400, 400, 400, 399, 399, 399, 398, 398, 398, 397, 397],
    );
    assert!(check(&Analysis::new(&s), &th).is_empty());
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
    let f = check(&Analysis::new(&s), &Thresholds::default());
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
    assert!(check(&Analysis::new(&s), &Thresholds::default()).is_empty());
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

#[test]
fn a_user_name_holding_at_is_quoted_in_the_commands() {
    // `--match-user a@b` would be the user `a` from host `b`: the suggestion quotes the name.
    let mut s = fixtures::mariadb();
    let v = leak(100, 12, 1400, 100)
        .into_iter()
        .map(|mut x| {
            x.user = "a@b".into();
            x
        })
        .collect();
    fixtures::with_sessions(&mut s, v);
    let f = &check(&Analysis::new(&s), &Thresholds::default())[0];
    assert_eq!(
        f.actions[1].text,
        r#"conncheck sessions --match-user '"a@b"@%' --match-host 10.0.0.7 --match-db shop --sleeping"#
    );
    let spec = crate::filter::UserSpec::try_parse(r#""a@b"@%"#).unwrap();
    assert!(
        f.sessions
            .iter()
            .all(|id| spec.matches(s.session(*id).unwrap()))
    );
}
