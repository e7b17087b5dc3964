//! Time in a judgement: how long the server has been up, and when its peak was.
//!
//! Counters such as Max_used_connections and every `since startup` average cover the whole
//! uptime (docs/server-facts.md, "Counters and time"): right after a restart they hold seconds
//! of data, and long after an incident they still hold its peak. So a judgement says when the
//! peak happened (MySQL's `Max_used_connections_time`; on MariaDB, which has no such counter,
//! "within the last <uptime>", unless the sample's own readings reached it), treats a peak the
//! connections are not near now as history rather than today's cause, and judges no pool size
//! while the server is [`settling`]. Pure.

use crate::snapshot::Snapshot;
use crate::units::secs;

/// Pools refill at once after a restart and every idle session is still young: until the server
/// has been up this long (the default `--idle-threshold`), pool sizes and connection rates since
/// startup say nothing about normal load (seconds).
pub const SETTLING_S: u64 = 300;

/// The peak is "now" while the connections are at least this share of it.
const PEAK_NOW_SHARE: f64 = 0.8;

/// Seconds the server has been up (the status value, else the one read at connect).
pub fn uptime_s(snap: &Snapshot) -> u64 {
    snap.status_now_u64("uptime")
        .unwrap_or(snap.server.uptime_s)
}

/// Whether the server started so recently that pools are still filling (see [`SETTLING_S`]):
/// `at_least_s` raises the bar (a longer `--idle-threshold` needs more uptime to tell a warm
/// pool from an idle one).
pub fn settling(snap: &Snapshot, at_least_s: u64) -> bool {
    uptime_s(snap) < SETTLING_S.max(at_least_s)
}

/// The high-water mark of connections since startup (Max_used_connections), or more if open
/// right now.
pub fn peak(snap: &Snapshot) -> u64 {
    snap.status_now_u64("max_used_connections")
        .unwrap_or(0)
        .max(snap.threads_connected())
}

/// Whether the connections now (or any reading of the sample) are near the peak: the peak is
/// this incident, not history.
pub fn peak_is_now(snap: &Snapshot) -> bool {
    let seen = snap
        .trend
        .iter()
        .map(|p| p.threads_connected)
        .chain([snap.threads_connected()])
        .max()
        .unwrap_or(0);
    seen as f64 >= PEAK_NOW_SHARE * peak(snap) as f64
}

/// When the peak happened, as a phrase: `now`, `at 2026-11-23 09:41:17`
/// (Max_used_connections_time, MySQL 8.0.10+), or `within the last 3d4h` (the uptime).
pub fn peak_when(snap: &Snapshot) -> String {
    let reached = snap.threads_connected() >= peak(snap)
        || snap.trend.iter().any(|p| p.threads_connected >= peak(snap));
    if reached {
        return "now (reached during this reading)".into();
    }
    let dated = snap
        .status_after
        .as_ref()
        .and_then(|a| a.get("max_used_connections_time"))
        .or_else(|| snap.status.get("max_used_connections_time"));
    match dated {
        Some(t) if !t.trim().is_empty() => format!("at {}", t.trim()),
        _ => format!("within the last {} (since startup)", secs(uptime_s(snap))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures;
    use crate::snapshot::TrendPoint;

    #[test]
    fn the_peak_is_dated_where_the_server_dates_it() {
        let mut s = fixtures::mysql8();
        fixtures::set_status(&mut s, "max_used_connections", 500);
        fixtures::set_status(&mut s, "threads_connected", 40);
        assert_eq!(peak_when(&s), "at 2026-11-20 03:12:44");
        assert!(!peak_is_now(&s));
        let mut m = fixtures::mariadb();
        fixtures::set_status(&mut m, "max_used_connections", 151);
        fixtures::set_status(&mut m, "threads_connected", 20);
        fixtures::set_status(&mut m, "uptime", 7200);
        assert_eq!(peak_when(&m), "within the last 2h00m (since startup)");
        // A reading of the sample reached it: the peak is now.
        m.trend = vec![TrendPoint {
            at_ms: 0,
            threads_connected: 151,
        }];
        assert!(peak_is_now(&m));
        assert_eq!(peak_when(&m), "now (reached during this reading)");
    }

    #[test]
    fn a_server_up_for_seconds_is_settling() {
        let mut s = fixtures::mariadb();
        fixtures::set_status(&mut s, "uptime", 6);
        assert!(settling(&s, 0));
        fixtures::set_status(&mut s, "uptime", 3600);
        assert!(!settling(&s, 0));
        assert!(settling(&s, 7200));
    }
}
