//! Several targets at once (`status`, `check`, `diagnose` with repeated `--url` or `--targets`).
//!
//! A fixed pool of `--jobs` threads takes targets from a shared queue; each target gets its own
//! single connection with the usual connect and query timeouts, so a dead or silent server costs
//! its own timeout and never delays the others. No async runtime: the work is a handful of
//! blocking round trips per target. Results come back in target order.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;

use crate::cli::Format;
use crate::connect::{ConnectOptions, ProcessEnv, url};
use crate::exit::{AppError, ErrorKind};
use crate::render::targets::{self, Row, Tone};
use crate::render::{self, Style};

use super::Context;

/// One target as given, resolved to connection options (or the reason it could not be).
pub struct Target {
    /// host:port or socket path: safe to print.
    pub label: String,
    pub opts: Result<ConnectOptions, AppError>,
}

/// The targets when there are several, None for the usual single target.
pub fn targets(ctx: &Context) -> Result<Option<Vec<Target>>, AppError> {
    let given = ctx.targets()?;
    if given.len() < 2 {
        return Ok(None);
    }
    let resolver = ctx.resolver()?;
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
                Target { label, opts }
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
/// with `row` for each target that answered and the error for each one that did not.
pub fn render_outcomes<R: Serialize>(
    outcomes: &[Outcome<R>],
    format: Format,
    top_header: &'static str,
    style: Style,
    row: impl Fn(&R) -> Row,
) -> String {
    match format {
        Format::Json => render::json(&outcomes),
        Format::Table => {
            let rows: Vec<Row> = outcomes
                .iter()
                .map(|o| match o {
                    Outcome::Report(r) => row(r),
                    Outcome::Failed(f) => failed_row(f),
                })
                .collect();
            targets::table(&rows, top_header, style)
        }
    }
}

/// The summary-table line of a target that could not be read.
fn failed_row(f: &Failed) -> Row {
    Row {
        target: f.target.clone(),
        state: f.error.kind.name(),
        tone: Tone::Bad,
        usage: "-".into(),
        top: f.error.message.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn fake(n: usize) -> Vec<Target> {
        (0..n)
            .map(|i| Target {
                label: format!("t{i}"),
                opts: Err(AppError::usage("unused")),
            })
            .collect()
    }

    #[test]
    fn keeps_order_and_runs_in_parallel() {
        let targets = fake(6);
        let start = Instant::now();
        let out = run_all(&targets, 3, |t| {
            std::thread::sleep(Duration::from_millis(200));
            t.label.clone()
        });
        assert_eq!(out, ["t0", "t1", "t2", "t3", "t4", "t5"]);
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(400),
            "{took:?}: at most 3 at a time"
        );
        assert!(
            took < Duration::from_millis(1100),
            "{took:?}: not one after the other"
        );
        assert!(run_all(&fake(0), 4, |t| t.label.clone()).is_empty());
    }
}
