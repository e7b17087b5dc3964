//! Connection leaks: the clients whose sleeping connections, read in connect order, form a
//! staircase of idle ages. Found once per judgement ([`Leaks`]): connection-leak reports them,
//! pool-oversized leaves them out of its warm pools, the verdict counts them as `leaked`, and the
//! suggested wait_timeout ignores them.
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
//! Pure.

use crate::fast_hash::HashSet;

use super::accounts::{ByAccount, by_client};
use crate::diagnose::common::share;
use crate::snapshot::{Session, Snapshot};

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
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Staircase {
    /// Candidates in the run.
    pub len: usize,
    /// Its distinct steps.
    pub steps: usize,
    /// The idle ages it spans, in seconds.
    pub spread_s: f64,
}

fn staircase(candidates: &[&Session]) -> Staircase {
    // (id, age) read once from each session and sorted by value: sorting the references made
    // every comparison fetch two sessions from all over the heap (1.5 ms of 10,000).
    let mut by_id: Vec<(u64, f64)> = candidates
        .iter()
        .map(|s| (s.id, s.time_secs_f64()))
        .collect();
    if !by_id.is_sorted_by_key(|&(id, _)| id) {
        by_id.sort_unstable_by_key(|&(id, _)| id);
    }
    // Longest non-increasing subsequence of the stepped ages, O(n log n) (patience sorting on
    // the negated keys, keeping predecessors to read the run back).
    let keys: Vec<i64> = by_id
        .iter()
        .map(|&(_, age)| -crate::units::float_to_i64((age / STEP_S).floor()))
        .collect();
    // The tails' keys are kept beside them (the search reads no other memory), and a key that
    // extends the longest run, the common case of a leak read in order, is found without one.
    let mut tails: Vec<usize> = Vec::new();
    let mut tail_keys: Vec<i64> = Vec::new();
    let mut prev: Vec<Option<usize>> = vec![None; keys.len()];
    for (i, &k) in keys.iter().enumerate() {
        let pos = if tail_keys.last().is_none_or(|&last| last <= k) {
            tail_keys.len()
        } else {
            tail_keys.partition_point(|&t| t <= k)
        };
        prev[i] = pos.checked_sub(1).map(|p| tails[p]);
        if pos == tails.len() {
            tails.push(i);
            tail_keys.push(k);
        } else {
            tails[pos] = i;
            tail_keys[pos] = k;
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
    let ages = run.iter().map(|i| by_id[*i].1);
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

/// One client's leak.
#[derive(Debug, Clone)]
pub struct Leak<'s> {
    /// Every sleeping session of the client, in processlist order.
    pub sleeping: Vec<&'s Session>,
    /// The leaked ones (sleeping at least 5 s), in processlist order.
    pub leaked: Vec<&'s Session>,
    pub staircase: Staircase,
}

/// Every leak of a snapshot, and the ids of the sessions leaked.
#[derive(Debug, Clone, Default)]
pub struct Leaks<'s> {
    /// One per leaking client, in the order of the client key (user, host, db, program).
    pub leaks: Vec<Leak<'s>>,
    /// Ids of every session some client leaked (looked up once per session by several
    /// heuristics: hashed).
    pub ids: HashSet<u64>,
}

impl<'s> Leaks<'s> {
    /// The leaks among the client sessions of `snap`: O(n log n).
    pub fn of(snap: &Snapshot, by_account: &ByAccount<'s>) -> Leaks<'s> {
        let leaks: Vec<Leak<'s>> = by_client(by_account, Session::is_sleeping)
            .into_iter()
            .filter_map(|sleeping| {
                let leaked: Vec<&Session> = sleeping
                    .iter()
                    .copied()
                    .filter(|s| s.time_secs_f64() >= FLOOR_S)
                    .collect();
                let staircase = staircase(&leaked);
                is_leak(snap, &leaked, &staircase).then_some(Leak {
                    sleeping,
                    leaked,
                    staircase,
                })
            })
            .collect();
        let mut ids = HashSet::default();
        ids.reserve(leaks.iter().map(|l| l.leaked.len()).sum());
        ids.extend(leaks.iter().flat_map(|l| l.leaked.iter().map(|s| s.id)));
        Leaks { leaks, ids }
    }
}
