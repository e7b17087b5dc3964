//! Several targets at once (the fleet) (`status`, `check`, `diagnose` with repeated `--url` or `--targets`).
//!
//! A fixed pool of `--jobs` threads takes targets from a shared queue; each target gets its own
//! single connection with the usual connect and query timeouts, so a dead or silent server costs
//! its own timeout and never delays the others. No async runtime: the work is a handful of
//! blocking round trips per target. Results come back in target order.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;

use crate::connect::{ConnectOptions, ProcessEnv, Resolver, url};
use crate::exit::{AppError, ErrorKind};

/// One target as given, resolved to connection options (or the reason it could not be).
pub struct Target {
    /// host:port or socket path: safe to print.
    pub label: String,
    pub opts: Result<ConnectOptions, AppError>,
    /// The target as named (`--url` or a `--targets` line; None: the flags), for the connection
    /// options of the commands suggested for it.
    pub source: Option<String>,
}

/// The targets when there are several, None for the usual single target.
///
/// `given` are the targets as named (`None`: the one server the flags describe); `resolver` is
/// asked for only when there are several.
pub fn targets(
    given: &[Option<String>],
    resolver: impl FnOnce() -> Result<Resolver, AppError>,
) -> Result<Option<Vec<Target>>, AppError> {
    if given.len() < 2 {
        return Ok(None);
    }
    let resolver = resolver()?;
    let mut seen = std::collections::HashSet::new();
    Ok(Some(
        given
            .iter()
            .map(|t| {
                let opts = resolver.resolve(t.as_deref(), &ProcessEnv);
                let label = match &opts {
                    Ok(o) => o.target(),
                    Err(_) => t.as_deref().map_or_else(|| "default".into(), url::redact),
                };
                Target {
                    label,
                    opts,
                    source: t.clone(),
                }
            })
            // A server listed twice is read once: its rows, perfdata labels and Prometheus
            // series would otherwise repeat (the exposition format forbids duplicate series).
            .filter(|t| {
                let first = seen.insert(t.label.clone());
                if !first {
                    eprintln!(
                        "conncheck: note: {} is listed more than once: checked once",
                        crate::text::escape(&t.label)
                    );
                }
                first
            })
            .collect(),
    ))
}

/// `f` for every target, at most `jobs` at a time; results in target order.
pub fn run_all<T, F>(targets: &[Target], jobs: usize, f: F) -> Vec<T>
where
    T: Send,
    F: Fn(&Target) -> T + Sync,
{
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new(
        std::iter::repeat_with(|| None)
            .take(targets.len())
            .collect(),
    );
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, targets.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(t) = targets.get(i) else { break };
                    let r = f(t);
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.expect("every target ran"))
        .collect()
}

/// A target that produced no report, as an element of the JSON array.
#[derive(Debug, Serialize)]
pub struct Failed {
    pub target: String,
    pub error: ErrorBody,
}

#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub kind: ErrorKind,
    pub exit_code: u8,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Failed {
    pub fn new(target: &str, e: &AppError) -> Failed {
        Failed {
            target: target.to_string(),
            error: ErrorBody {
                kind: e.kind,
                exit_code: e.kind.exit_code(),
                message: e.message.clone(),
                hint: e.hint.clone(),
            },
        }
    }
}

/// A report or the error that prevented it (serialized as one or the other).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Outcome<R> {
    Report(R),
    Failed(Failed),
}

impl<R> Outcome<R> {
    pub fn of(target: &Target, r: Result<R, AppError>) -> Outcome<R> {
        match r {
            Ok(r) => Outcome::Report(r),
            Err(e) => Outcome::Failed(Failed::new(&target.label, &e)),
        }
    }

    /// The exit code of the first failed target (in target order), if any failed.
    pub fn first_failure(outcomes: &[Outcome<R>]) -> Option<u8> {
        outcomes.iter().find_map(|o| match o {
            Outcome::Failed(f) => Some(f.error.exit_code),
            Outcome::Report(_) => None,
        })
    }
}

/// What `status` and `diagnose` print for several targets: a JSON array, or the summary table
#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::{Duration, Instant};

    fn fake(n: usize) -> Vec<Target> {
        (0..n)
            .map(|i| Target {
                label: format!("t{i}"),
                opts: Err(AppError::usage("unused")),
                source: None,
            })
            .collect()
    }

    /// No wall-clock bounds (the machine may be busy): the first three targets wait for each
    /// other, which only ends early when they run at the same time; never more than three run.
    #[test]
    fn keeps_order_and_runs_in_parallel() {
        let targets = fake(6);
        let (started, in_flight, most) = (
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        );
        let out = run_all(&targets, 3, |t| {
            started.fetch_add(1, Ordering::SeqCst);
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            let give_up = Instant::now() + Duration::from_secs(20);
            while started.load(Ordering::SeqCst) < 3 && Instant::now() < give_up {
                std::thread::sleep(Duration::from_millis(1));
            }
            in_flight.fetch_sub(1, Ordering::SeqCst);
            t.label.clone()
        });
        assert_eq!(out, ["t0", "t1", "t2", "t3", "t4", "t5"]);
        assert_eq!(most.load(Ordering::SeqCst), 3, "three at a time, no more");
        assert!(run_all(&fake(0), 4, |t| t.label.clone()).is_empty());
    }
}
