//! `--trigger 'METRIC OP VALUE'`: when the recorder writes an incident. Parsing and evaluation
//! against two consecutive samples; pure.

use std::fmt;

#[cfg(doc)]
use crate::diagnose::forecast;
use crate::snapshot::host_cache::BLOCKED_COUNTER;
use crate::snapshot::refusals::after_login;
use crate::snapshot::sample::Sample;

/// What a trigger looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Threads_connected as a percentage of max_connections.
    Usage,
    /// Threads_connected.
    Connections,
    /// Threads_running.
    Running,
    /// Clients refused since the last sample: the growth of Connection_errors_max_connections
    /// (ERROR 1040 at accept; on MySQL also after login) plus, where the server has the
    /// counters (MariaDB), the logins refused after authentication
    /// (`snapshot::refusals::after_login`: 1040 after login, 1203, 1226), and ERROR 1129 where
    /// the host cache is readable (`snapshot::host_cache::BLOCKED_COUNTER`).
    Refused,
    /// Growth of the Connections counter (login attempts) per second since the last sample.
    ConnectionsPerSec,
    /// Sessions waiting for a row, table or metadata lock.
    LockWaits,
    /// Seconds until Threads_connected reaches max_connections at the trend of the last
    /// [`forecast::RECENT_WINDOW_S`] (only known while the trend is rising).
    FullIn,
}

/// The metric names, as written on the command line.
pub const METRICS: &[(&str, Metric)] = &[
    ("usage", Metric::Usage),
    ("connections", Metric::Connections),
    ("running", Metric::Running),
    ("refused", Metric::Refused),
    ("connections/s", Metric::ConnectionsPerSec),
    ("lock-waits", Metric::LockWaits),
    ("full-in", Metric::FullIn),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ge,
    Gt,
    Le,
    Lt,
}

impl Op {
    fn text(self) -> &'static str {
        match self {
            Op::Ge => ">=",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Lt => "<",
        }
    }

    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Ge => a >= b,
            Op::Gt => a > b,
            Op::Le => a <= b,
            Op::Lt => a < b,
        }
    }
}

/// One parsed `--trigger`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trigger {
    pub metric: Metric,
    pub op: Op,
    pub value: f64,
}

/// The trigger used when none is given.
pub const DEFAULT_TRIGGER: &str = "usage >= 90";

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = METRICS
            .iter()
            .find(|(_, m)| *m == self.metric)
            .map_or("?", |(n, _)| n);
        write!(f, "{name} {} {}", self.op.text(), self.value)
    }
}

/// `usage >= 90`, `usage>=90%`, `refused > 0`, `connections/s >= 50`, `full-in <= 15m`.
pub fn parse(s: &str) -> Result<Trigger, String> {
    let names = || {
        METRICS
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(at) = s.find(['<', '>']) else {
        return Err(format!(
            "'{s}' has no comparison: write METRIC OP VALUE, e.g. 'usage >= 90' (OP is one of >= > <= <)"
        ));
    };
    let (left, rest) = s.split_at(at);
    let (op, right) = match rest.as_bytes() {
        [b'>', b'=', ..] => (Op::Ge, &rest[2..]),
        [b'<', b'=', ..] => (Op::Le, &rest[2..]),
        [b'>', ..] => (Op::Gt, &rest[1..]),
        _ => (Op::Lt, &rest[1..]),
    };
    let name = left.trim().to_ascii_lowercase();
    if name.is_empty() {
        return Err(format!(
            "'{s}' names no metric: one of {} comes first",
            names()
        ));
    }
    let Some(metric) = METRICS.iter().find(|(n, _)| *n == name).map(|(_, m)| *m) else {
        return Err(format!(
            "'{}' is not a trigger metric: use one of {}",
            left.trim(),
            names()
        ));
    };
    let mut v = right.trim();
    if let Some(p) = v.strip_suffix('%') {
        if metric != Metric::Usage {
            return Err(format!(
                "'{s}': only usage is a percentage (of max_connections)"
            ));
        }
        v = p.trim();
    }
    // `full-in <= 15m`: a duration, or seconds.
    let duration = (metric == Metric::FullIn)
        .then(|| humantime::parse_duration(v).ok())
        .flatten()
        .map(|d| d.as_secs_f64());
    let value: f64 = duration
        .or_else(|| v.parse().ok())
        .filter(|x: &f64| x.is_finite() && *x >= 0.0)
        .ok_or_else(|| format!("'{s}': '{}' is not a number of 0 or more", right.trim()))?;
    if metric == Metric::Usage && value > 100.0 {
        return Err(format!("'{s}': usage is at most 100 (%)"));
    }
    Ok(Trigger { metric, op, value })
}

impl Trigger {
    /// The metric's value at `cur` (`prev` is the sample before it, for growths; `full_in_s` the
    /// forecast's time to full at `cur`), or None when it cannot be known: no previous sample, a
    /// counter that went down (a restart), no max_connections, no rising trend.
    pub fn measure(
        &self,
        prev: Option<&Sample>,
        cur: &Sample,
        full_in_s: Option<f64>,
    ) -> Option<f64> {
        let growth = |f: fn(&Sample) -> u64| {
            let p = prev?;
            f(cur).checked_sub(f(p)).map(|d| (d, p))
        };
        match self.metric {
            Metric::Usage => (cur.max_connections > 0)
                .then(|| cur.threads_connected as f64 * 100.0 / cur.max_connections as f64),
            Metric::Connections => Some(cur.threads_connected as f64),
            Metric::Running => Some(cur.threads_running as f64),
            Metric::LockWaits => Some(cur.lock_waits as f64),
            Metric::FullIn => full_in_s,
            Metric::Refused => {
                let (d, p) = growth(|s| s.refused_total)?;
                // The accept counter is the sample's own field, not one of its counters.
                let after_login = after_login(|name| match name {
                    "connection_errors_max_connections" => {
                        Some((p.refused_total, cur.refused_total))
                    }
                    _ => Some((*p.counters.get(name)?, *cur.counters.get(name)?)),
                })
                .unwrap_or(0);
                // ERROR 1129 from the host cache; emptied between the samples (FLUSH HOSTS), the
                // count starts again from 0.
                let blocked = match (
                    p.counters.get(BLOCKED_COUNTER),
                    cur.counters.get(BLOCKED_COUNTER),
                ) {
                    (Some(a), Some(b)) if b >= a => b - a,
                    (Some(_), Some(b)) => *b,
                    _ => 0,
                };
                Some(d.saturating_add(after_login).saturating_add(blocked) as f64)
            }
            Metric::ConnectionsPerSec => {
                let (d, p) = growth(|s| s.connections_total)?;
                let dt = cur.at_ms.checked_sub(p.at_ms).filter(|dt| *dt > 0)?;
                Some(d as f64 * 1000.0 / dt as f64)
            }
        }
    }

    /// The value when the trigger fires at `cur`.
    pub fn fires(
        &self,
        prev: Option<&Sample>,
        cur: &Sample,
        full_in_s: Option<f64>,
    ) -> Option<f64> {
        self.measure(prev, cur, full_in_s)
            .filter(|v| self.op.holds(*v, self.value))
    }
}

/// The first trigger that fires, with its value.
pub fn first_firing<'a>(
    triggers: &'a [Trigger],
    prev: Option<&Sample>,
    cur: &Sample,
    full_in_s: Option<f64>,
) -> Option<(&'a Trigger, f64)> {
    triggers
        .iter()
        .find_map(|t| t.fires(prev, cur, full_in_s).map(|v| (t, v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_ms: u64, connected: u64, refused: u64, logins: u64) -> Sample {
        Sample {
            at_ms,
            threads_connected: connected,
            threads_running: 3,
            max_connections: 200,
            refused_total: refused,
            connections_total: logins,
            lock_waits: 4,
            ..Default::default()
        }
    }

    #[test]
    fn parses_every_metric_and_operator_with_or_without_spaces() {
        let t = parse("usage >= 90").unwrap();
        assert_eq!((t.metric, t.op, t.value), (Metric::Usage, Op::Ge, 90.0));
        assert_eq!(parse("usage>=90%").unwrap(), t);
        assert_eq!(parse("  USAGE >= 90 % ").unwrap(), t);
        assert_eq!(parse("connections > 15").unwrap().op, Op::Gt);
        assert_eq!(parse("running<=2").unwrap().op, Op::Le);
        assert_eq!(parse("lock-waits < 1").unwrap().op, Op::Lt);
        assert_eq!(parse("refused > 0").unwrap().metric, Metric::Refused);
        let r = parse("connections/s >= 50.5").unwrap();
        assert_eq!((r.metric, r.value), (Metric::ConnectionsPerSec, 50.5));
        assert_eq!(t.to_string(), "usage >= 90");
        assert_eq!(r.to_string(), "connections/s >= 50.5");
        // full-in takes a duration or seconds.
        let f = parse("full-in <= 15m").unwrap();
        assert_eq!((f.metric, f.op, f.value), (Metric::FullIn, Op::Le, 900.0));
        assert_eq!(parse("full-in<600").unwrap().value, 600.0);
        assert!(parse("full-in <= soon").is_err());
    }

    #[test]
    fn full_in_fires_only_on_a_rising_trend() {
        let a = sample(0, 100, 0, 0);
        let t = parse("full-in <= 15m").unwrap();
        assert_eq!(t.fires(None, &a, Some(600.0)), Some(600.0));
        assert_eq!(t.fires(None, &a, Some(1200.0)), None);
        // No rising trend: no time to full, nothing fires (not even `full-in > 0`).
        assert_eq!(t.fires(None, &a, None), None);
        assert_eq!(parse("full-in > 0").unwrap().fires(None, &a, None), None);
    }

    #[test]
    fn bad_triggers_say_what_is_wrong() {
        for (bad, says) in [
            ("usage 90", "no comparison"),
            (">= 90", "names no metric"),
            ("memory >= 90", "not a trigger metric"),
            ("usage >= ", "not a number"),
            ("usage >= abc", "not a number"),
            ("usage >= -1", "not a number"),
            ("usage >= 150", "at most 100"),
            ("connections >= 10%", "only usage"),
            ("usage => 90", "not a trigger metric"),
            ("usage >= NaN", "not a number"),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn refused_counts_logins_refused_after_authentication_too() {
        let counters = |aborted: u64, preauth: u64, denied: u64| {
            [
                ("aborted_connects", aborted),
                ("aborted_connects_preauth", preauth),
                ("access_denied_errors", denied),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
        };
        let mut a = sample(1_000, 100, 5, 1_000);
        let mut b = sample(3_000, 100, 5, 1_100);
        a.counters = counters(10, 2, 1);
        // 6 more failed logins: 1 before authentication, 1 wrong password, 4 refused (1203).
        b.counters = counters(16, 3, 2);
        assert_eq!(
            parse("refused > 0").unwrap().fires(Some(&a), &b, None),
            Some(4.0)
        );
        // 2 refused at accept too (MariaDB counts them in Aborted_connects as well): 6, not 8.
        b.refused_total = 7;
        b.counters = counters(18, 3, 2);
        assert_eq!(
            parse("refused > 0").unwrap().fires(Some(&a), &b, None),
            Some(6.0)
        );
        b.refused_total = 5;
        // ERROR 1129 from the host cache: 3 more; after FLUSH HOSTS the count restarts.
        b.counters = a.counters.clone();
        a.counters.insert(BLOCKED_COUNTER.into(), 10);
        b.counters.insert(BLOCKED_COUNTER.into(), 13);
        assert_eq!(
            parse("refused > 0").unwrap().fires(Some(&a), &b, None),
            Some(3.0)
        );
        b.counters.insert(BLOCKED_COUNTER.into(), 2);
        assert_eq!(
            parse("refused > 0").unwrap().fires(Some(&a), &b, None),
            Some(2.0)
        );
        b.counters = counters(18, 3, 2);
        // Without the MariaDB counters, only the 1040 counter.
        b.counters.remove("aborted_connects_preauth");
        assert_eq!(
            parse("refused > 0").unwrap().fires(Some(&a), &b, None),
            None
        );
    }

    #[test]
    fn evaluates_levels_and_growths() {
        let a = sample(1_000, 100, 5, 1_000);
        let b = sample(3_000, 181, 8, 1_100);
        assert_eq!(
            parse("usage >= 90").unwrap().fires(Some(&a), &b, None),
            Some(90.5)
        );
        assert_eq!(
            parse("usage >= 90").unwrap().fires(Some(&b), &a, None),
            None
        );
        assert_eq!(
            parse("refused > 0").unwrap().fires(Some(&a), &b, None),
            Some(3.0)
        );
        assert_eq!(parse("refused > 0").unwrap().fires(None, &b, None), None);
        assert_eq!(
            parse("connections/s >= 50")
                .unwrap()
                .fires(Some(&a), &b, None),
            Some(50.0)
        );
        // A restart resets the counters: no growth is known.
        assert_eq!(
            parse("refused >= 0").unwrap().fires(Some(&b), &a, None),
            None
        );
        assert_eq!(
            parse("running < 4").unwrap().fires(None, &a, None),
            Some(3.0)
        );
        assert_eq!(
            parse("lock-waits >= 4").unwrap().fires(None, &a, None),
            Some(4.0)
        );
        let mut no_max = a.clone();
        no_max.max_connections = 0;
        assert_eq!(
            parse("usage >= 0").unwrap().fires(None, &no_max, None),
            None
        );
        let ts = [
            parse("running > 10").unwrap(),
            parse("connections >= 100").unwrap(),
        ];
        let (t, v) = first_firing(&ts, None, &a, None).unwrap();
        assert_eq!((t.metric, v), (Metric::Connections, 100.0));
    }
}
