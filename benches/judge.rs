//! Judgement alone, without a server: `diagnose()` over synthetic snapshots shaped like the
//! incidents of issue 12 (BENCHMARKS.md, "Judgement alone"). A benchmark, not a test: it prints
//! timings and asserts only that each shape still produces its finding.
//!
//!   cargo bench --bench judge                 # every shape, full sizes
//!   cargo bench --bench judge -- pileup       # shapes whose name contains "pileup"
//!   JUDGE_SCALE=0.1 cargo bench --bench judge # smaller sizes (quick look at a slow build)
//!   cargo test --bench judge                  # a tenth of the sizes, once: findings only
//!
//! Each shape is judged `JUDGE_RUNS` times (default 7) after one warm-up; the median and the
//! fastest run are printed in milliseconds.

use std::time::{Duration, Instant};

use conncheck::testing::diagnose::fixtures::{self, lock_wait, session, trx};
use conncheck::testing::diagnose::{Thresholds, diagnose};
use conncheck::testing::snapshot::{LockKind, LockWait, Session, Snapshot};

const MDL: &str = "Waiting for table metadata lock";

fn sleeping(id: u64, idle_s: u64) -> Session {
    session(id, "app", "10.0.0.7", "Sleep", idle_s, "", None)
}

fn updating(id: u64, t: u64) -> Session {
    session(
        id,
        "app",
        "10.0.0.8",
        "Query",
        t,
        "Updating",
        Some("UPDATE t SET qty = qty + 1 WHERE id = 1"),
    )
}

fn base(max_connections: u64) -> Snapshot {
    let mut s = fixtures::mariadb();
    s.variables
        .insert("max_connections".into(), max_connections.to_string());
    s
}

/// `n` sessions asleep inside transactions older than the threshold (a leaking ORM).
fn idle_transactions(n: u64) -> Snapshot {
    let mut s = base(n + 100);
    fixtures::with_sessions(&mut s, (1..=n).map(|i| sleeping(i, 30 + i % 50)).collect());
    s.transactions = (1..=n)
        .map(|i| trx(i, "RUNNING", 120 + i % 300, 1, None))
        .collect();
    s
}

/// One idle transaction holding a row lock and `n` sessions queued on it. With `every_ahead`,
/// each waiter lists every lock ahead of it as MySQL 8's data_lock_waits does (the holder and
/// the waiters before it: n(n+1)/2 rows); otherwise one row per waiter.
fn row_pileup(n: u64, every_ahead: bool) -> Snapshot {
    let mut s = base(n + 200);
    let mut v = vec![sleeping(1, 300)];
    v.extend((2..=n + 1).map(|i| updating(i, 60 - (i * 50 / (n + 1)))));
    fixtures::with_sessions(&mut s, v);
    s.transactions = std::iter::once(trx(1, "RUNNING", 400, 1, None))
        .chain((2..=n + 1).map(|i| trx(i, "LOCK WAIT", 60, 0, None)))
        .collect();
    s.lock_waits = (2..=n + 1)
        .flat_map(|i| {
            let ahead = if every_ahead { i - 1 } else { 1 };
            (1..=ahead).map(move |b| lock_wait(LockKind::Row, i, Some(b), 60 - (i * 50 / (n + 1))))
        })
        .collect();
    s
}

/// MariaDB metadata-lock pile-up known only from thread states: an idle transaction read the
/// table, an ALTER waits for it, `n - 1` queries queue behind the ALTER.
fn mdl_pileup(n: u64) -> Snapshot {
    let mut s = base(n + 200);
    let mut v = vec![sleeping(1, 200)];
    v.push(session(
        2,
        "dba",
        "localhost",
        "Query",
        100,
        MDL,
        Some("ALTER TABLE t ADD COLUMN w INT"),
    ));
    v.extend((3..=n + 1).map(|i| {
        session(
            i,
            "app",
            "10.0.0.8",
            "Query",
            90 - (i * 80 / (n + 2)),
            MDL,
            Some("SELECT * FROM t"),
        )
    }));
    fixtures::with_sessions(&mut s, v);
    s.transactions = vec![trx(1, "RUNNING", 300, 0, None)];
    s
}

/// The goal shape: 10,000 sessions, 5,000 of them in transactions, 2,000 of those queued on row
/// locks behind 20 idle transactions (100 each), 3,000 idle in transaction, 5,000 idle without.
fn incident() -> Snapshot {
    let mut s = base(12_000);
    let holders = 20u64;
    let waiters = 2_000u64;
    let in_trx = 5_000u64;
    let total = 10_000u64;
    let mut v = Vec::with_capacity(usize::try_from(total).unwrap());
    let mut t = Vec::new();
    let mut w: Vec<LockWait> = Vec::new();
    for id in 1..=total {
        if id <= holders {
            v.push(sleeping(id, 200));
            t.push(trx(id, "RUNNING", 500, 3, None));
        } else if id <= holders + waiters {
            let holder = 1 + (id % holders);
            v.push(updating(id, 20 + id % 30));
            t.push(trx(id, "LOCK WAIT", 20 + id % 30, 0, None));
            w.push(lock_wait(LockKind::Row, id, Some(holder), 20 + id % 30));
        } else if id <= in_trx {
            v.push(sleeping(id, 10 + id % 100));
            t.push(trx(id, "RUNNING", 100 + id % 400, 1, None));
        } else {
            v.push(sleeping(id, id % 2_000));
        }
    }
    fixtures::with_sessions(&mut s, v);
    s.transactions = t;
    s.lock_waits = w;
    s
}

fn scaled(n: u64, scale: f64) -> u64 {
    // A small positive size times a small positive scale: the cast cannot lose anything.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let scaled = (n as f64 * scale).round() as u64;
    scaled.max(3)
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    // `cargo bench` passes --bench; `cargo test --all-targets` does not: there, only check that
    // every shape still produces its finding, at a tenth of the size and once.
    let benching = std::env::args().any(|a| a == "--bench");
    let scale: f64 = std::env::var("JUDGE_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { 1.0 } else { 0.1 });
    let runs: usize = std::env::var("JUDGE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { 7 } else { 1 })
        .max(1);
    let th = Thresholds::default();
    type Shape = (String, Box<dyn Fn() -> Snapshot>, &'static str);
    let n = move |x| scaled(x, scale);
    let shapes: Vec<Shape> = vec![
        (
            format!("idle-transactions {}", n(2_000)),
            Box::new(move || idle_transactions(n(2_000))),
            "idle-transactions",
        ),
        (
            format!("idle-transactions {}", n(8_000)),
            Box::new(move || idle_transactions(n(8_000))),
            "idle-transactions",
        ),
        (
            format!("row-pileup {}", n(400)),
            Box::new(move || row_pileup(n(400), false)),
            "lock-pileup",
        ),
        (
            format!("row-pileup {}", n(2_000)),
            Box::new(move || row_pileup(n(2_000), false)),
            "lock-pileup",
        ),
        (
            format!("row-pileup {} every-lock-ahead", n(400)),
            Box::new(move || row_pileup(n(400), true)),
            "lock-pileup",
        ),
        (
            format!("mdl-pileup {}", n(500)),
            Box::new(move || mdl_pileup(n(500))),
            "lock-pileup",
        ),
        (
            format!("incident {}", n(10_000)),
            Box::new(incident),
            "lock-pileup",
        ),
    ];
    println!(
        "{:<40} {:>10} {:>10} {:>8}",
        "shape", "median ms", "min ms", "findings"
    );
    for (name, make, expect) in shapes {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        if name.starts_with("incident") && scale != 1.0 {
            continue;
        }
        let snap = make();
        let found = diagnose(&snap, &th);
        assert!(
            found.iter().any(|f| f.id.as_str() == expect),
            "{name}: no {expect} finding"
        );
        let mut times: Vec<Duration> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(diagnose(std::hint::black_box(&snap), &th));
                t.elapsed()
            })
            .collect();
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{:<40} {:>10.2} {:>10.2} {:>8}",
            name,
            ms(times[times.len() / 2]),
            ms(times[0]),
            found.len()
        );
    }
}
