//! `slow-query-log-off`: slow queries hold connections, and nothing records which ones.
//!
//! Slow_queries counts statements over long_query_time whether or not the log is on, but only the
//! slow query log says which statements they were
//! (https://dev.mysql.com/doc/refman/8.0/en/slow-query-log.html,
//! https://mariadb.com/kb/en/slow-query-log-overview/). OFF is the default in MySQL and MariaDB:
//! an info (prevention). We suggest long_query_time 1 s, the seed problem statement's value; a new
//! long_query_time applies to sessions that connect afterwards.

use super::analysis::Analysis;
use super::globals::change_globals;
use super::{Finding, FindingId, Severity, Thresholds};

pub fn check(a: &Analysis<'_>, _th: &Thresholds) -> Vec<Finding> {
    let snap = a.snap;
    if snap.var_bool("slow_query_log") != Some(false) {
        return vec![];
    }
    let long = snap.var_f64("long_query_time").unwrap_or(10.0);
    let slow = snap.status_now_u64("slow_queries").unwrap_or(0);
    let mut f = Finding::new(
        FindingId::SlowQueryLogOff,
        Severity::Info,
        "The slow query log is off",
        format!(
            "slow_query_log is OFF: the {slow} queries slower than long_query_time {long}s since startup were counted but not recorded, so the ones holding connections cannot be found."
        ),
    )
    .evidence("slow_query_log", "OFF")
    .evidence("long_query_time", format!("{long}s"))
    .evidence("Slow_queries", slow);
    for a in change_globals(
        snap,
        Some("conncheck set-slow-log on --long-query-time 1s"),
        &[("slow_query_log", "'ON'"), ("long_query_time", "1")],
    ) {
        f = f.action(a);
    }
    vec![f]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures;

    #[test]
    fn healthy_servers_log_slow_queries() {
        let th = Thresholds::default();
        assert!(check(&Analysis::new(&fixtures::mariadb()), &th).is_empty());
        assert!(check(&Analysis::new(&fixtures::mysql8()), &th).is_empty());
    }

    #[test]
    fn off_is_info_with_the_fix() {
        for mut s in [fixtures::mariadb(), fixtures::mysql8()] {
            s.variables.insert("slow_query_log".into(), "OFF".into());
            s.variables
                .insert("long_query_time".into(), "10.000000".into());
            let f = check(&Analysis::new(&s), &Thresholds::default());
            assert_eq!(f.len(), 1);
            assert_eq!(f[0].severity, Severity::Info);
            assert!(
                f[0].summary
                    .contains("the 5 queries slower than long_query_time 10s"),
                "{}",
                f[0].summary
            );
            assert_eq!(
                f[0].actions[0].text,
                "conncheck set-slow-log on --long-query-time 1s"
            );
            assert_eq!(
                f[0].actions[1].text,
                "SET GLOBAL slow_query_log = 'ON'; SET GLOBAL long_query_time = 1;"
            );
        }
    }

    #[test]
    fn unknown_is_not_off() {
        let mut s = fixtures::mysql8();
        s.variables.remove("slow_query_log");
        assert!(check(&Analysis::new(&s), &Thresholds::default()).is_empty());
    }
}
