//! `near-limit`: connection usage at or above the warning / critical threshold (default 80 % /
//! 90 % of max_connections), before the server is actually full.

use super::analysis::Analysis;
use super::{Action, Finding, FindingId, Severity, Thresholds};

pub fn check(a: &Analysis<'_>, th: &Thresholds) -> Vec<Finding> {
    let snap = a.snap;
    let max = snap.max_connections();
    let connected = snap.threads_connected();
    if connected >= max {
        return vec![]; // server-full says it louder
    }
    let severity = if connected as f64 >= th.critical.connections(max) {
        Severity::Critical
    } else if connected as f64 >= th.warning.connections(max) {
        Severity::Warning
    } else {
        return vec![];
    };
    let headroom = max - connected;
    vec![
        Finding::new(
            FindingId::NearLimit,
            severity,
            format!("Connection usage is at {:.0}% of max_connections", snap.usage_pct()),
            format!(
                "{connected} of {max} connections are in use: {headroom} left before clients get ERROR 1040 (thresholds: warning {}, critical {})."
            , th.warning, th.critical),
        )
        .evidence("Threads_connected", connected)
        .evidence("max_connections", max)
        .evidence("usage", format!("{:.1}%", snap.usage_pct()))
        .evidence("headroom", headroom)
        .slots(connected)
        .action(Action::command("conncheck sessions --group-by user   # who holds the connections"))
        .action(Action::advice("read the other findings before raising max_connections: idle pools and leaks are the usual cause")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::Threshold;
    use crate::diagnose::fixtures;

    #[test]
    fn thresholds_decide_the_severity() {
        let mut s = fixtures::mariadb();
        s.variables.insert("max_connections".into(), "100".into());
        let th = Thresholds::default();
        fixtures::set_status(&mut s, "threads_connected", 79);
        assert!(check(&Analysis::new(&s), &th).is_empty());
        fixtures::set_status(&mut s, "threads_connected", 80);
        assert_eq!(
            check(&Analysis::new(&s), &th)[0].severity,
            Severity::Warning
        );
        fixtures::set_status(&mut s, "threads_connected", 95);
        let f = check(&Analysis::new(&s), &th);
        assert_eq!(f[0].severity, Severity::Critical);
        assert!(f[0].summary.contains("5 left"), "{}", f[0].summary);
        fixtures::set_status(&mut s, "threads_connected", 100);
        assert!(
            check(&Analysis::new(&s), &th).is_empty(),
            "full is server-full's job"
        );
    }

    #[test]
    fn absolute_thresholds() {
        let mut s = fixtures::mysql8();
        let th = Thresholds {
            warning: Threshold::Count(20),
            critical: Threshold::Count(40),
            ..Thresholds::default()
        };
        fixtures::set_status(&mut s, "threads_connected", 25);
        assert_eq!(
            check(&Analysis::new(&s), &th)[0].severity,
            Severity::Warning
        );
    }
}
