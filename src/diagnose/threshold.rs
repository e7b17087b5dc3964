//! Usage thresholds (`--warning`, `--critical`) and when a finding fails a run (`--fail-on`).
//! Domain types: the command line converts to them (see `cli.rs`); nothing here knows clap's
//! parser beyond the value names.

use std::time::Duration;

/// The thresholds the heuristics judge against (flags with documented defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    pub idle: Duration,
    pub long_query: Duration,
    pub trx: Duration,
    pub warning: Threshold,
    pub critical: Threshold,
    pub server_memory: Option<u64>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            idle: Duration::from_secs(300),
            long_query: Duration::from_secs(60),
            trx: Duration::from_secs(60),
            warning: Threshold::Percent(80.0),
            critical: Threshold::Percent(90.0),
            server_memory: None,
        }
    }
}

/// When `--fail-on` makes `diagnose` exit with FINDINGS: at a warning or only at a critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum FailOn {
    Warning,
    Critical,
}

/// A usage threshold: a share of max_connections or an absolute count.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Threshold {
    Percent(f64),
    Count(u64),
}

impl Threshold {
    /// The threshold as a connection count for a server with `max_connections`.
    pub fn connections(self, max_connections: u64) -> f64 {
        match self {
            Threshold::Percent(p) => p / 100.0 * max_connections as f64,
            Threshold::Count(n) => n as f64,
        }
    }
}

impl std::fmt::Display for Threshold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Threshold::Percent(p) => write!(f, "{p}%"),
            Threshold::Count(n) => write!(f, "{n}"),
        }
    }
}

/// Why `--warning` and `--critical` cannot both be meant, once `max_connections` is known (it
/// is needed only to compare a percentage with a count): the warning must come first.
pub fn threshold_conflict(
    warning: Threshold,
    critical: Threshold,
    max_connections: Option<u64>,
) -> Option<String> {
    let (w, c) = match (warning, critical, max_connections) {
        (Threshold::Percent(w), Threshold::Percent(c), _) => (w, c),
        (Threshold::Count(w), Threshold::Count(c), _) => (w as f64, c as f64),
        (w, c, Some(max)) => (w.connections(max), c.connections(max)),
        (_, _, None) => return None,
    };
    if w < c {
        return None;
    }
    let on = match (warning, critical, max_connections) {
        (Threshold::Percent(_), Threshold::Count(_), Some(max))
        | (Threshold::Count(_), Threshold::Percent(_), Some(max)) => format!(
            " ({} against {} connections with max_connections {max})",
            fmt_connections(w),
            fmt_connections(c)
        ),
        _ => String::new(),
    };
    Some(format!(
        "--warning {warning} must be below --critical {critical}{on}"
    ))
}

fn fmt_connections(n: f64) -> String {
    let r = (n * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}
