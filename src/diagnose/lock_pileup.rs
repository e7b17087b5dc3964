//! `lock-pileup`: sessions queue for a lock behind one blocker, each holding a connection slot
//! while it waits.
//!
//! The waits, who waits for whom and the likely holder of waits the server does not name come
//! from the analysis' wait graph ([`WaitGraph`], `analysis/waits.rs`), shared with
//! idle-transactions. Following who waits for whom to a session that is not waiting itself gives
//! the *root* blocker: killing a waiter in the middle frees nothing. The head of a metadata-lock
//! queue is typically a DDL (`ALTER`, `CREATE INDEX`, …) whose exclusive metadata-lock request
//! makes every later query on the table wait behind it. Everything here is O(n log n) in
//! sessions and waits, except counting roots, O(roots x edges) per pile-up (one or a few roots
//! in practice).
//!
//! Sessions connected by waits form one pile-up, reported as one finding (so two independent
//! pile-ups give two findings with the same id). A pile-up is at least 3 waiters, or 2 when one
//! has waited 10 s or more (a moment of row-lock contention is normal). Warning; critical from
//! the shared "many" bar of [`super::common`] (10 waiters or 10 % of max_connections).

use std::collections::{BTreeMap, BTreeSet};

use crate::fast_hash::{HashMap, HashMapExt};

use super::analysis::waits::held_by_roots;
use super::analysis::{Analysis, Edge, UNKNOWN, WaitGraph};
use super::common::{ids, pct, plural, severity_from_one};
use super::rollback_in_progress::is_rolling_back;
use super::{Action, Finding, FindingId, Thresholds};
use crate::snapshot::{LockKind, Session};
use crate::units::{secs, snippet};

/// Waiters that make a pile-up ...
const MIN_WAITERS: usize = 3;
/// ... or this many when the longest has waited [`LONG_WAIT_S`].
const MIN_WAITERS_LONG: usize = 2;
const LONG_WAIT_S: u64 = 10;

pub fn check(a: &Analysis<'_>, _th: &Thresholds) -> Vec<Finding> {
    let w = a.waits();
    if w.waits.is_empty() {
        return vec![];
    }
    w.components()
        .into_iter()
        .filter_map(|mine| pileup(a, w, &mine))
        .collect()
}

fn pileup(a: &Analysis<'_>, w: &WaitGraph, mine: &[&Edge]) -> Option<Finding> {
    let snap = a.snap;
    let max = snap.max_connections();
    let wait = |e: &Edge| w.wait(e);
    let waiter_ids: BTreeSet<u64> = mine.iter().map(|e| e.waiter).collect();
    let longest = mine.iter().map(|e| wait(e).wait_s).max().unwrap_or(0);
    let n = waiter_ids.len();
    if n < MIN_WAITERS && !(n >= MIN_WAITERS_LONG && longest >= LONG_WAIT_S) {
        return None;
    }
    // Roots by how many waiters they hold up, then the oldest.
    let held = held_by_roots(mine);
    let mut roots: Vec<(u64, usize)> = held.into_iter().filter(|&(r, _)| r != UNKNOWN).collect();
    let age = |id| a.session(id).map_or(0.0, |s| a.age_s(s));
    let mut aged: Vec<(f64, u64, usize)> = roots.iter().map(|&(r, k)| (age(r), r, k)).collect();
    aged.sort_by(|x, y| y.2.cmp(&x.2).then(y.0.total_cmp(&x.0)).then(x.1.cmp(&y.1)));
    roots = aged.into_iter().map(|(_, r, k)| (r, k)).collect();
    let root = roots.first().map(|r| r.0);
    // No root and every holder known: the sessions wait for each other (see `WaitGraph::cycles`).
    let cycle: Option<&Vec<u64>> = root
        .is_none()
        .then(|| w.cycles().iter().find(|c| c.contains(&mine[0].waiter)))
        .flatten();
    let inferred = root.is_some_and(|r| mine.iter().any(|e| e.blocker == r && e.inferred));
    let row_unknown = mine
        .iter()
        .any(|e| e.blocker == UNKNOWN && wait(e).kind == LockKind::Row);
    let non_row = mine.iter().any(|e| wait(e).kind != LockKind::Row);

    let sessions = a.oldest_first(
        waiter_ids
            .iter()
            .chain(roots.iter().map(|r| &r.0))
            .filter_map(|&id| a.session(id))
            .collect(),
    );
    let mut longest_of: HashMap<u64, u64> = HashMap::new();
    for e in mine {
        let l = longest_of.entry(e.waiter).or_default();
        *l = (*l).max(wait(e).wait_s);
    }
    let wait_of = |id: u64| longest_of.get(&id).copied().unwrap_or(0);
    let ddl = waiter_ids
        .iter()
        .filter_map(|&id| a.session(id))
        .filter(|s| is_ddl(s.info.as_deref().unwrap_or("")))
        .max_by_key(|s| (wait_of(s.id), std::cmp::Reverse(s.id)));

    let (title, who) = match root {
        None if cycle.is_some() => (
            format!(
                "Lock cycle: {} waiting for each other",
                plural(n as u64, "session")
            ),
            "each other (a cycle: none of them waits for nothing)".to_string(),
        ),
        Some(r) => (
            format!(
                "Lock pile-up: {} waiting behind session {r}",
                plural(n as u64, "session")
            ),
            format!("session {r} ({})", describe(a, r)),
        ),
        None => (
            format!(
                "Lock pile-up: {} waiting for a lock whose holder is unknown",
                plural(n as u64, "session")
            ),
            "a session the server does not show".to_string(),
        ),
    };
    let mut f = Finding::new(
        FindingId::LockPileup,
        severity_from_one(n as u64, max),
        title,
        format!(
            "{} ({} of max_connections {max}) waiting for locks held by {who}{}; the longest has waited {}.",
            plural(n as u64, "session"),
            pct(n as u64, max),
            if inferred { ", inferred" } else { "" },
            secs(longest),
        ),
    );
    f = match root {
        Some(r) => f.evidence("blocker", format!("session {r}: {}", describe(a, r))),
        None => f.evidence("blocker", "unknown"),
    };
    f = f.evidence(
        "blocker found",
        if inferred && snap.dialect().lock_tables_unavailable().is_some() {
            "inferred: performance_schema is OFF, so the lock tables name no holder; the likely holder is the oldest open transaction not waiting itself, else the longest-running statement"
        } else if inferred {
            "inferred: the server does not show who holds these metadata/table locks (MariaDB without metadata_lock_info); the likely holder is the oldest open transaction not waiting itself, else the longest-running statement"
        } else if root.is_some() {
            "from the server's lock tables"
        } else if cycle.is_some() {
            "from the server's lock tables: every holder waits for another of these sessions"
        } else if mine
            .iter()
            .any(|e| e.blocker == UNKNOWN && matches!(wait(e).kind, LockKind::Global | LockKind::User))
        {
            "no session could be named: the holder of a global read lock, backup lock or user lock is shown only by the metadata_lock_info plugin (MariaDB) or performance_schema (MySQL), or found by the lock name in GET_LOCK; it is typically idle with no transaction, like any pool session, so it is not guessed"
        } else if row_unknown {
            "no session could be named: InnoDB's lock tables did not list the holder of these row locks (see the snapshot's notes)"
        } else {
            "no session could be named: no open transaction or statement is older than the wait"
        },
    );
    for &(r, k) in roots.iter().skip(1) {
        f = f.evidence(
            &format!("also blocking {k}"),
            format!("session {r}: {}", describe(a, r)),
        );
    }
    if let Some(d) = ddl {
        f = f.evidence(
            "DDL at the head of the queue",
            format!(
                "session {}, waiting {}: {}",
                d.id,
                secs(wait_of(d.id)),
                snippet(d.info.as_deref(), 100)
            ),
        );
    }
    let mut kinds: BTreeMap<LockKind, BTreeSet<u64>> = BTreeMap::new();
    for e in mine {
        kinds.entry(wait(e).kind).or_default().insert(e.waiter);
    }
    let objects: BTreeSet<&str> = mine
        .iter()
        .filter_map(|e| wait(e).object.as_deref())
        .collect();
    f = f
        .evidence("waiters", n)
        .evidence("longest wait", secs(longest))
        .evidence(
            "waiting for",
            kinds
                .iter()
                .map(|(k, w)| format!("{} {}", kind_name(*k), w.len()))
                .collect::<Vec<_>>()
                .join(", "),
        );
    if !objects.is_empty() {
        f = f.evidence("tables", objects.into_iter().collect::<Vec<_>>().join(", "));
    }
    f = f.sessions(ids(&sessions)).slots(sessions.len() as u64);
    if let Some(c) = cycle {
        let detect = snap
            .variables
            .get("innodb_deadlock_detect")
            .map_or("unknown", String::as_str);
        let timeout = snap
            .variables
            .get("innodb_lock_wait_timeout")
            .map_or("unknown".to_string(), |t| format!("{t}s"));
        f = f.evidence(
            "cycle",
            c.iter()
                .map(|id| format!("session {id}"))
                .collect::<Vec<_>>()
                .join(" -> "),
        );
        f = f.evidence("innodb_deadlock_detect", detect);
        // No kill: every session of a cycle is a victim of another; the server ends it itself.
        return Some(f.action(Action::advice(format!(
            "no relief: every session here waits for another of them (a deadlock InnoDB does not break with innodb_deadlock_detect = OFF); each ends at innodb_lock_wait_timeout ({}) with ERROR 1205; set innodb_deadlock_detect = ON so InnoDB rolls one back at once",
            timeout
        ))));
    }
    // A root rolling back releases its locks when the undo is done: killing it again does
    // nothing (see rollback-in-progress).
    let rolling_back = |id: u64| {
        a.snap
            .transactions
            .iter()
            .any(|t| t.session_id == id && is_rolling_back(t))
    };
    for (i, &(r, _)) in roots.iter().enumerate() {
        if rolling_back(r) {
            f = f.action(Action::advice(format!(
                "session {r} is rolling back its transaction: its locks go when the rollback is done; do not kill it again (see rollback-in-progress)"
            )));
            continue;
        }
        if !a.session(r).is_some_and(Session::is_client) {
            continue;
        }
        let why = match (i, inferred) {
            (0, true) => {
                "the likely holder: check it first (it is idle in transaction or the oldest statement), killing it rolls its transaction back"
            }
            (0, false) if a.transaction_of(r).is_some() => {
                "the root blocker: killing it rolls its transaction back and releases its locks"
            }
            (0, false) => "the root blocker: killing it releases its locks",
            _ => "also holds a lock these sessions wait for",
        };
        // A statement without a transaction holds its locks only while it runs: stopping it
        // releases them and keeps the connection; a transaction (or an idle holder) needs KILL.
        let statement_only = a.session(r).is_some_and(|s| {
            !s.is_sleeping() && a.transaction_of(r).is_none_or(|t| t.autocommit_non_locking)
        }) && !w.holds_session_lock(r);
        let kill = if statement_only {
            snap.dialect()
                .kill_query(r, a.session(r).and_then(|s| s.query_id))
        } else {
            snap.dialect().kill_to_paste(r)
        };
        let why = if statement_only {
            "the root blocker, a statement without a transaction: stopping it releases its locks and keeps the connection"
        } else {
            why
        };
        f = f.action(Action::sql(format!("{kill};   -- {why}")));
    }
    if let (true, Some(why)) = (
        root.is_none() || inferred,
        snap.dialect().lock_tables_unavailable(),
    ) {
        f = f.action(Action::advice(why));
    } else if (root.is_none() || inferred) && non_row {
        f = f.action(Action::advice(
            snap.dialect().metadata_lock_holders_advice(),
        ));
    }
    if ddl.is_some() {
        f = f.action(Action::advice(
            "run DDL with a short lock wait (SET SESSION lock_wait_timeout = 5, then retry) or online with pt-online-schema-change / gh-ost: a DDL waiting for its metadata lock makes every later query on the table wait behind it",
        ));
    }
    if root.is_some_and(rolling_back) {
        return Some(f);
    }
    Some(f.action(Action::advice(
        "commit or roll back transactions promptly: a transaction keeps its row and metadata locks until it ends, even while its session sleeps",
    )))
}

/// `root@localhost, Sleep 2s, transaction open 2m00s, idle in transaction`.
fn describe(a: &Analysis<'_>, id: u64) -> String {
    let Some(s) = a.session(id) else {
        return "not in the processlist".into();
    };
    let trx = a.transaction_of(id).map_or(String::new(), |t| {
        format!(", transaction open {}", secs(t.age_s))
    });
    let doing = if s.is_sleeping() {
        if trx.is_empty() {
            "idle".to_string()
        } else {
            "idle in transaction".to_string()
        }
    } else {
        snippet(s.info.as_deref(), 100)
    };
    format!(
        "{}, {} {}{trx}, {doing}",
        s.account(),
        s.command,
        secs(s.time_s)
    )
}

fn kind_name(k: LockKind) -> &'static str {
    match k {
        LockKind::Row => "row locks",
        LockKind::Metadata => "metadata locks",
        LockKind::Table => "table locks",
        LockKind::Global => "the global read lock / backup lock",
        LockKind::User => "user locks (GET_LOCK)",
        LockKind::Flush => "a table flush",
    }
}

/// Statements that take an exclusive metadata lock: ALTER, CREATE … INDEX, DROP, RENAME,
/// TRUNCATE, OPTIMIZE.
pub(crate) fn is_ddl(sql: &str) -> bool {
    let words: Vec<String> = sql
        .split_whitespace()
        .take(4)
        .map(str::to_ascii_uppercase)
        .collect();
    match words.first().map(String::as_str) {
        Some("ALTER" | "DROP" | "RENAME" | "TRUNCATE" | "OPTIMIZE") => true,
        Some("CREATE") => words.iter().any(|w| w == "INDEX"),
        _ => false,
    }
}

#[cfg(test)]
#[path = "lock_pileup_tests.rs"]
mod tests;
