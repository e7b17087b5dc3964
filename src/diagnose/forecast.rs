//! When the server will be full at the current trend: a least-squares line through recent
//! Threads_connected readings, extended to max_connections. Pure; the readings come from a
//! sampled snapshot (`Snapshot::trend`), `watch`'s history or the recorder's ring.
//!
//! A forecast is only given for a trend the readings prove: rising, by at least one connection
//! over the window, and clearly more than the noise (the slope at least [`MIN_T`] standard
//! errors above zero). A flat or falling line, or a pool breathing in and out, has no time to
//! full. Like Prometheus' `predict_linear`, it assumes the recent rate goes on; the window says
//! how recent.

use serde::{Deserialize, Serialize};

use crate::snapshot::Snapshot;
use crate::snapshot::sample::Sample;

/// Fewer readings than this give no forecast.
pub const MIN_POINTS: usize = 5;
/// A window shorter than this gives no forecast (seconds).
pub const MIN_WINDOW_S: f64 = 3.0;
/// How many standard errors above zero the slope must be (a one-sided t test, far past the
/// 99.5 % point of Student's t for five or more readings).
pub const MIN_T: f64 = 4.0;

/// The readings `record` and a replayed incident fit the trend to: the last minute.
pub const RECENT_WINDOW_S: f64 = 60.0;

/// One reading: seconds since the first, and Threads_connected.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub at_s: f64,
    pub connected: f64,
}

/// Where the trend goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trend {
    Rising,
    Flat,
    Falling,
}

/// The fitted trend and, when rising, the time until Threads_connected reaches max_connections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// Fitted growth of Threads_connected, connections per minute (negative: shrinking).
    pub rate_per_min: f64,
    /// Seconds until max_connections is reached at that rate from the last reading; 0 when
    /// already there; None when the trend is not rising.
    pub full_in_s: Option<f64>,
    pub trend: Trend,
    /// Threads_connected at the last reading, and the limit it was extended to.
    pub connected: u64,
    pub max_connections: u64,
    /// The readings the line was fitted to, and the time they span (seconds).
    pub points: usize,
    pub window_s: f64,
}

/// Fit the readings. None when there are too few of them, or they span too short a time, to say
/// anything (the caller then reports no forecast rather than "flat").
pub fn fit(points: &[Point], max_connections: u64) -> Option<Forecast> {
    let n = points.len();
    let first = points.first()?;
    let last = points.last()?;
    let window_s = last.at_s - first.at_s;
    if n < MIN_POINTS || window_s < MIN_WINDOW_S || !points.iter().all(finite) {
        return None;
    }
    let nf = n as f64;
    let mean_t = points.iter().map(|p| p.at_s).sum::<f64>() / nf;
    let mean_c = points.iter().map(|p| p.connected).sum::<f64>() / nf;
    let sxx: f64 = points.iter().map(|p| (p.at_s - mean_t).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = points
        .iter()
        .map(|p| (p.at_s - mean_t) * (p.connected - mean_c))
        .sum();
    let slope = sxy / sxx;
    let intercept = mean_c - slope * mean_t;
    let sse: f64 = points
        .iter()
        .map(|p| (p.connected - (intercept + slope * p.at_s)).powi(2))
        .sum();
    let stderr = (sse / (nf - 2.0) / sxx).sqrt();
    // A perfect line (sse 0) is as significant as it gets.
    let significant = |s: f64| s.abs() >= MIN_T * stderr;
    let moved = (slope * window_s).abs() >= 1.0;
    let trend = if slope > 0.0 && moved && significant(slope) {
        Trend::Rising
    } else if slope < 0.0 && moved && significant(slope) {
        Trend::Falling
    } else {
        Trend::Flat
    };
    let connected = last.connected.max(0.0) as u64;
    let full_in_s = (trend == Trend::Rising).then(|| {
        let left = max_connections.saturating_sub(connected) as f64;
        round1(left / slope)
    });
    Some(Forecast {
        rate_per_min: round1(slope * 60.0),
        full_in_s,
        trend,
        connected,
        max_connections,
        points: n,
        window_s: round1(window_s),
    })
}

/// The forecast from a sampled snapshot's trend readings (None without a sample long enough).
pub fn of_snapshot(snap: &Snapshot) -> Option<Forecast> {
    let points: Vec<Point> = snap
        .trend
        .iter()
        .map(|p| Point {
            at_s: p.at_ms as f64 / 1000.0,
            connected: p.threads_connected as f64,
        })
        .collect();
    fit(&points, snap.max_connections())
}

/// The forecast over the recorder's samples (oldest first) of the last [`RECENT_WINDOW_S`]
/// before the newest, extended to the newest sample's max_connections: the `full-in` trigger
/// and a replayed incident's trend.
/// Walked from the newest back, so that the recorder's per-sample call costs the window, not
/// the whole ring.
pub fn of_recent_samples<'a, I>(samples: I) -> Option<Forecast>
where
    I: IntoIterator<Item = &'a Sample>,
    I::IntoIter: DoubleEndedIterator,
{
    let mut newest_first = samples.into_iter().rev().peekable();
    let last = *newest_first.peek()?;
    let from = last.at_ms.saturating_sub((RECENT_WINDOW_S * 1000.0) as u64);
    let mut recent: Vec<&Sample> = newest_first.take_while(|s| s.at_ms >= from).collect();
    recent.reverse();
    let t0 = recent.first()?.at_ms;
    let points: Vec<Point> = recent
        .iter()
        .map(|s| Point {
            at_s: s.at_ms.saturating_sub(t0) as f64 / 1000.0,
            connected: s.threads_connected as f64,
        })
        .collect();
    fit(&points, last.max_connections)
}

impl Forecast {
    /// True when the server is full within `horizon_s` at this trend.
    pub fn full_within(&self, horizon_s: f64) -> bool {
        self.full_in_s.is_some_and(|s| s <= horizon_s)
    }

    /// "at +3.2 connections/min the server is full in 14 min", or why there is no time to full.
    pub fn sentence(&self) -> String {
        match self.full_in_s {
            Some(s) if s <= 0.0 => format!(
                "at {:+.1} connections/min the server is already at max_connections ({})",
                self.rate_per_min, self.max_connections
            ),
            Some(s) => format!(
                "at {:+.1} connections/min the server is full (max_connections {}) in {}",
                self.rate_per_min,
                self.max_connections,
                about(s)
            ),
            None => format!(
                "no rising trend ({:+.1} connections/min over {:.0}s is {}): no time to full",
                self.rate_per_min,
                self.window_s,
                match self.trend {
                    Trend::Falling => "falling",
                    _ => "within the noise",
                }
            ),
        }
    }
}

/// A duration as people say it: "45 s", "14 min", "3.5 h".
pub fn about(s: f64) -> String {
    if s < 90.0 {
        format!("{:.0} s", s.max(0.0))
    } else if s < 90.0 * 60.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 48.0 * 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.0} days", s / 86_400.0)
    }
}

fn finite(p: &Point) -> bool {
    p.at_s.is_finite() && p.connected.is_finite()
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: &[f64], every_s: f64) -> Vec<Point> {
        values
            .iter()
            .enumerate()
            .map(|(i, c)| Point {
                at_s: i as f64 * every_s,
                connected: *c,
            })
            .collect()
    }

    #[test]
    fn a_steady_leak_is_full_when_the_line_reaches_the_limit() {
        // +1 connection every 2 s: 30/min; 40 connected of 100 leaves 60, so 120 s.
        let values: Vec<f64> = (0..=15).map(|i| 25.0 + i as f64).collect();
        let f = fit(&series(&values, 2.0), 100).unwrap();
        assert_eq!(f.trend, Trend::Rising);
        assert_eq!(f.rate_per_min, 30.0);
        assert_eq!(f.connected, 40);
        assert_eq!(f.full_in_s, Some(120.0));
        assert!(f.full_within(900.0));
        assert!(!f.full_within(60.0));
        assert_eq!(
            f.sentence(),
            "at +30.0 connections/min the server is full (max_connections 100) in 2 min"
        );
    }

    #[test]
    fn a_leak_in_steps_with_noise_is_still_rising() {
        // A connection every 3 s, readings each second jittering by one.
        let values: Vec<f64> = (0..30)
            .map(|i| 50.0 + (i / 3) as f64 + [0.0, 1.0, -1.0][i % 3])
            .collect();
        let f = fit(&series(&values, 1.0), 151).unwrap();
        assert_eq!(f.trend, Trend::Rising, "{f:?}");
        assert!((f.rate_per_min - 20.0).abs() < 4.0, "{f:?}");
        let full = f.full_in_s.unwrap();
        // 151 - 59 = 92 connections at 20/min: about 276 s.
        assert!((200.0..350.0).contains(&full), "{full}");
    }

    #[test]
    fn a_flat_line_or_noise_has_no_time_to_full() {
        let flat = fit(&series(&[40.0; 20], 1.0), 100).unwrap();
        assert_eq!(flat.trend, Trend::Flat);
        assert_eq!(flat.full_in_s, None);
        assert_eq!(flat.rate_per_min, 0.0);
        assert!(!flat.full_within(f64::INFINITY));
        // A pool breathing by a few connections around 40.
        let noise: Vec<f64> = (0..30)
            .map(|i| 40.0 + [0.0, 2.0, -1.0, 1.0, -2.0, 0.0][i % 6])
            .collect();
        let f = fit(&series(&noise, 1.0), 100).unwrap();
        assert_eq!(f.trend, Trend::Flat, "{f:?}");
        assert_eq!(f.full_in_s, None);
        assert!(
            f.sentence().contains("within the noise"),
            "{}",
            f.sentence()
        );
    }

    #[test]
    fn a_shrinking_server_is_falling_and_never_full() {
        let values: Vec<f64> = (0..10).map(|i| 90.0 - 2.0 * i as f64).collect();
        let f = fit(&series(&values, 1.0), 100).unwrap();
        assert_eq!(f.trend, Trend::Falling);
        assert_eq!(f.full_in_s, None);
        assert_eq!(f.rate_per_min, -120.0);
    }

    #[test]
    fn one_connection_more_in_a_long_window_is_not_a_trend() {
        // 0.5 connections over the window: below one connection, however clean.
        let values: Vec<f64> = (0..10).map(|i| 10.0 + 0.05 * i as f64).collect();
        let f = fit(&series(&values, 1.0), 100).unwrap();
        assert_eq!(f.trend, Trend::Flat);
    }

    #[test]
    fn already_full_is_zero_and_too_few_readings_are_no_forecast() {
        let values: Vec<f64> = (0..6).map(|i| 95.0 + i as f64 * 2.0).collect();
        let f = fit(&series(&values, 1.0), 100).unwrap();
        assert_eq!(f.full_in_s, Some(0.0));
        assert!(f.sentence().contains("already at max_connections"));
        assert_eq!(fit(&series(&[1.0, 2.0, 3.0, 4.0], 1.0), 100), None);
        assert_eq!(fit(&series(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.5), 100), None);
        assert_eq!(fit(&[], 100), None);
        let mut bad = series(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 1.0);
        bad[2].connected = f64::NAN;
        assert_eq!(fit(&bad, 100), None);
        // All readings at one instant: no slope to fit.
        let same: Vec<Point> = (0..6)
            .map(|i| Point {
                at_s: 0.0,
                connected: i as f64,
            })
            .collect();
        assert_eq!(fit(&same, 100), None);
    }

    #[test]
    fn the_fit_is_linear_in_the_readings() {
        // 100,000 readings fit in one pass each (no quadratic work).
        let big: Vec<Point> = (0..100_000)
            .map(|i| Point {
                at_s: i as f64,
                connected: (i / 100) as f64,
            })
            .collect();
        let f = fit(&big, 10_000).unwrap();
        assert_eq!(f.trend, Trend::Rising);
        assert_eq!(f.rate_per_min, 0.6);
    }

    #[test]
    fn recent_samples_fit_the_last_minute_only() {
        // An hour-old flat stretch, then a minute of +1 every 2 s up to 90 of 100.
        let mut samples: Vec<Sample> = (0..30)
            .map(|i| Sample {
                at_ms: i * 1000,
                threads_connected: 60,
                max_connections: 100,
                ..Default::default()
            })
            .collect();
        samples.extend((0..=30).map(|i| Sample {
            at_ms: 3_600_000 + i * 2000,
            threads_connected: 60 + i,
            max_connections: 100,
            ..Default::default()
        }));
        let f = of_recent_samples(&samples).unwrap();
        assert_eq!(f.points, 31);
        assert_eq!(f.rate_per_min, 30.0);
        assert_eq!(f.full_in_s, Some(20.0));
        assert_eq!(of_recent_samples(&[]), None);
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(about(45.0), "45 s");
        assert_eq!(about(840.0), "14 min");
        assert_eq!(about(3.5 * 3600.0), "3.5 h");
        assert_eq!(about(5.0 * 86_400.0), "5 days");
    }
}
