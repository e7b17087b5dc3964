//! Fixed-size pools: a burst of connections from one client, opened together and idle together.
//!
//! A pool whose minimum idle equals its maximum size (HikariCP's default: minimumIdle =
//! maximumPoolSize) opens all its connections at start and keeps them. When its application goes
//! quiet, they sleep side by side: the same idle age, and, opened in one burst, connection ids
//! close together (ids grow with connect time; the processlist shows no connect time). A leak is
//! the opposite shape, a staircase (see [`super::leaks`]): connections abandoned one after the
//! other, the earlier the longer idle. Killing a fixed pool's connections is pointless: the pool
//! opens them again at once. Its relief is the pool's configuration, never a KILL, and kill plans
//! leave its connections out by default.
//!
//! The rule, per client (user, host without port, default database, program, as leaks): its
//! sleeping sessions idle at least [`FLOOR_S`], outside a transaction and not leaked; at least
//! [`MIN_MEMBERS`] of them, and at least 3 of every 4, within a band of idle ages around their
//! median ([`BAND_MIN_S`], or 10 % of the median when larger: idle together); and those members'
//! ids span at most [`ID_SPREAD`] ids per member (opened together, with room for other clients
//! connecting in between: three pools started at once interleave their ids). Limits: a pool that
//! renewed its connections one by one (maxLifetime) no longer shows one burst of ids, and a pool
//! kept warm by keepalive pings sleeps for seconds only: both are pool-oversized's (warm
//! connections), not this. Pure, O(n log n).

use crate::fast_hash::HashSet;

use super::accounts::{ByAccount, by_client};
use super::index::SessionIndex;
use crate::snapshot::Session;

/// The fewest connections that make a fixed pool worth naming.
pub const MIN_MEMBERS: usize = 5;
/// Connections idle for less than this belong to a pool in use (pool-oversized's warm
/// connections): a fixed pool is one that has sat idle.
const FLOOR_S: f64 = 60.0;
/// Idle ages within this many seconds of the median (or 10 % of it) are idle together.
const BAND_MIN_S: f64 = 2.0;
const BAND_SHARE: f64 = 0.10;
/// Share of the client's idle sessions that must be idle together.
const MIN_TOGETHER: f64 = 0.75;
/// Ids a burst may span per member.
const ID_SPREAD: u64 = 8;

/// One client's fixed pool.
#[derive(Debug, Clone)]
pub struct FixedPool<'s> {
    /// The pool's connections, in id order.
    pub members: Vec<&'s Session>,
    /// Their idle ages, youngest and oldest, in seconds.
    pub idle_s: (f64, f64),
}

impl FixedPool<'_> {
    /// `user@host` of the pool's client.
    pub fn account(&self) -> String {
        self.members[0].account()
    }
    /// The first and last connection id.
    pub fn ids(&self) -> (u64, u64) {
        (self.members[0].id, self.members[self.members.len() - 1].id)
    }
}

/// Every fixed pool of the snapshot's clients, and their sessions' ids.
#[derive(Debug, Clone, Default)]
pub struct FixedPools<'s> {
    pub pools: Vec<FixedPool<'s>>,
    pub ids: HashSet<u64>,
}

impl<'s> FixedPools<'s> {
    /// The fixed pools among `ix`'s client sessions, leaving out the `leaked` ones.
    pub fn of(
        ix: &SessionIndex<'s>,
        by_account: &ByAccount<'s>,
        leaked: &HashSet<u64>,
    ) -> FixedPools<'s> {
        let idle = |s: &Session| {
            s.is_sleeping()
                && s.time_secs_f64() >= FLOOR_S
                && ix.transaction_of(s.id).is_none()
                && !leaked.contains(&s.id)
        };
        let pools: Vec<FixedPool<'s>> = by_client(by_account, idle)
            .into_iter()
            .filter_map(fixed_pool)
            .collect();
        let ids = pools
            .iter()
            .flat_map(|p| p.members.iter().map(|s| s.id))
            .collect();
        FixedPools { pools, ids }
    }
}

/// The candidates' fixed pool under the rule of the module doc, if they are one.
fn fixed_pool(candidates: Vec<&Session>) -> Option<FixedPool<'_>> {
    if candidates.len() < MIN_MEMBERS {
        return None;
    }
    let mut ages: Vec<f64> = candidates.iter().map(|s| s.time_secs_f64()).collect();
    ages.sort_by(f64::total_cmp);
    let median = ages[ages.len() / 2];
    let band = BAND_MIN_S.max(BAND_SHARE * median);
    let mut members: Vec<&Session> = candidates
        .iter()
        .copied()
        .filter(|s| (s.time_secs_f64() - median).abs() <= band)
        .collect();
    if members.len() < MIN_MEMBERS || (members.len() as f64) < MIN_TOGETHER * ages.len() as f64 {
        return None;
    }
    members.sort_by_key(|s| s.id);
    let span = members[members.len() - 1].id - members[0].id + 1;
    if span > ID_SPREAD.saturating_mul(members.len() as u64) {
        return None;
    }
    let youngest = members
        .iter()
        .map(|s| s.time_secs_f64())
        .fold(f64::MAX, f64::min);
    let oldest = members
        .iter()
        .map(|s| s.time_secs_f64())
        .fold(0.0, f64::max);
    Some(FixedPool {
        members,
        idle_s: (youngest, oldest),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::Analysis;
    use crate::diagnose::fixtures::{self, session};

    fn pools(sessions: Vec<Session>) -> Vec<(String, usize)> {
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(&mut s, sessions);
        let a = Analysis::new(&s);
        a.fixed_pools()
            .iter()
            .map(|p| (p.account(), p.members.len()))
            .collect()
    }

    /// Three pools of 56 opened together (interleaved ids), idle 300 s: three fixed pools.
    #[test]
    fn three_idle_fixed_pools() {
        let v = (0..168)
            .map(|i| {
                let host = format!("10.0.0.{}", i % 3 + 1);
                session(1000 + i, "app", &host, "Sleep", 300 + (i % 2), "", None)
            })
            .collect();
        assert_eq!(
            pools(v),
            [
                ("app@10.0.0.1".to_string(), 56),
                ("app@10.0.0.2".to_string(), 56),
                ("app@10.0.0.3".to_string(), 56)
            ]
        );
    }

    /// A staircase (leak) is not a pool, nor are connections opened far apart, nor too few.
    #[test]
    fn leaks_scattered_ids_and_small_groups_are_not_pools() {
        // 30 connections leaked one a minute: ages fall with the id.
        let leak = (0..30)
            .map(|i| session(i + 1, "app", "10.0.0.7", "Sleep", 1900 - i * 60, "", None))
            .collect();
        assert!(pools(leak).is_empty());
        // Same age, but ids 100 apart: opened over a long time, each left idle since.
        let scattered = (0..10)
            .map(|i| session(1 + i * 100, "app", "10.0.0.7", "Sleep", 300, "", None))
            .collect();
        assert!(pools(scattered).is_empty());
        let few = (0..4)
            .map(|i| session(1 + i, "app", "10.0.0.7", "Sleep", 300, "", None))
            .collect();
        assert!(pools(few).is_empty());
        // Idle in no common age: a pool in use, handing its connections out in turn.
        let busy = (0..20)
            .map(|i| {
                session(
                    1 + i,
                    "app",
                    "10.0.0.7",
                    "Sleep",
                    5 + (i * 7) % 40,
                    "",
                    None,
                )
            })
            .collect();
        assert!(pools(busy).is_empty());
    }
}
