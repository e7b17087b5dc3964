//! Prometheus text exposition format (version 0.0.4) for `check --format prometheus`, meant for
//! node_exporter's textfile collector: write to a `.prom` file atomically (temp file + mv).
//!
//! Where mysqld_exporter has a metric, its name and meaning are used
//! (`mysql_global_status_threads_connected`, `mysql_global_variables_max_connections`,
//! `mysql_global_status_connection_errors_total{error="max_connection"}`, `mysql_up`), so
//! dashboards and alerts written for it work unchanged; conncheck's own judgement is under
//! `conncheck_*`. With several targets every sample gets a `target` label.
//!
//! The format forbids two samples with the same name and labels: findings are counted per
//! `{id, severity}` (two lock pile-ups are one sample with the value 2), and a target listed twice
//! is rendered once.
//! <https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format>

use crate::report::check::{CheckReport, State};

struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

/// The exposition text for one or more reports. `labelled`: add `target="host:port"`. A report
/// whose target was already rendered is skipped (its samples would repeat the same series).
pub fn render(reports: &[CheckReport], labelled: bool) -> String {
    let mut seen = std::collections::HashSet::new();
    let reports: Vec<&CheckReport> = reports
        .iter()
        .filter(|r| seen.insert(r.target.as_str()))
        .collect();
    let mut families: Vec<Family> = Vec::new();
    let mut add = |name, kind, help, labels: Vec<(&'static str, String)>, value: f64| {
        let i = match families.iter().position(|f| f.name == name) {
            Some(i) => i,
            None => {
                families.push(Family {
                    name,
                    kind,
                    help,
                    samples: Vec::new(),
                });
                families.len() - 1
            }
        };
        families[i].samples.push((labels, value));
    };
    for r in reports {
        let base: Vec<(&'static str, String)> = if labelled {
            vec![("target", r.target.clone())]
        } else {
            Vec::new()
        };
        let with = |extra: &[(&'static str, &str)]| {
            let mut l = base.clone();
            l.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
            l
        };
        add(
            "mysql_up",
            "gauge",
            "Whether the MySQL server is up (1 when conncheck could log in and read it).",
            with(&[]),
            f64::from(u8::from(r.metrics.is_some())),
        );
        if let Some(m) = &r.metrics {
            let c = &m.connections;
            let gauges: [(&'static str, &'static str, f64); 4] = [
                (
                    "mysql_global_status_threads_connected",
                    "Currently open connections (Threads_connected).",
                    c.threads_connected as f64,
                ),
                (
                    "mysql_global_status_threads_running",
                    "Threads that are not sleeping (Threads_running).",
                    c.threads_running as f64,
                ),
                (
                    "mysql_global_status_max_used_connections",
                    "Peak of simultaneous connections since startup (Max_used_connections).",
                    c.max_used_connections as f64,
                ),
                (
                    "mysql_global_variables_max_connections",
                    "The max_connections variable.",
                    c.max_connections as f64,
                ),
            ];
            for (name, help, v) in gauges {
                add(name, "gauge", help, with(&[]), v);
            }
            add(
                "mysql_global_status_connection_errors_total",
                "counter",
                "Connection errors by kind; max_connection is Connection_errors_max_connections (ERROR 1040 refusals).",
                with(&[("error", "max_connection")]),
                c.connection_errors_max_connections as f64,
            );
            add(
                "mysql_global_status_aborted_connects",
                "counter",
                "Failed connection attempts (Aborted_connects).",
                with(&[]),
                c.aborted_connects as f64,
            );
            add(
                "mysql_global_status_aborted_clients",
                "counter",
                "Connections closed without a proper COM_QUIT (Aborted_clients).",
                with(&[]),
                c.aborted_clients as f64,
            );
        }
        add(
            "conncheck_check_state",
            "gauge",
            "Verdict of conncheck check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
            with(&[]),
            f64::from(r.state.exit_code()),
        );
        if r.state == State::Unknown {
            let mut ids: Vec<&str> = r.reasons.iter().map(|x| x.id.as_str()).collect();
            ids.dedup();
            for id in ids {
                add(
                    "conncheck_unknown_reason",
                    "gauge",
                    "Why the verdict is UNKNOWN (1 per reason id: deadline, timeout, unreachable, access-denied, ...); the message is in the JSON output.",
                    with(&[("reason", id)]),
                    1.0,
                );
            }
        }
        if let Some(m) = &r.metrics {
            let a = &m.activity;
            let max = m.connections.max_connections.max(1) as f64;
            let ours: [(&'static str, &'static str, f64); 9] = [
                (
                    "conncheck_usage_ratio",
                    "Threads_connected / max_connections (0..1, above 1 on the reserved slot).",
                    m.connections.threads_connected as f64 / max,
                ),
                (
                    "conncheck_warning_connections",
                    "The --warning threshold as a connection count.",
                    m.warning_connections,
                ),
                (
                    "conncheck_critical_connections",
                    "The --critical threshold as a connection count.",
                    m.critical_connections,
                ),
                (
                    "conncheck_sleeping_sessions",
                    "Client sessions in Sleep.",
                    a.sleeping as f64,
                ),
                (
                    "conncheck_idle_sessions",
                    "Client sessions idle at least --idle-threshold.",
                    a.idle_sessions as f64,
                ),
                (
                    "conncheck_long_queries",
                    "Client statements running at least --long-query-threshold.",
                    a.long_queries as f64,
                ),
                (
                    "conncheck_idle_transactions",
                    "Sleeping sessions holding a transaction open at least --trx-threshold.",
                    a.idle_transactions as f64,
                ),
                (
                    "conncheck_oldest_idle_seconds",
                    "Longest idle time among sleeping client sessions.",
                    a.oldest_idle_s as f64,
                ),
                (
                    "conncheck_longest_query_seconds",
                    "Longest running client statement.",
                    a.longest_query_s as f64,
                ),
            ];
            for (name, help, v) in ours {
                add(name, "gauge", help, with(&[]), v);
            }
            if let Some(n) = m.refused_during_sample {
                add(
                    "conncheck_refused_during_sample",
                    "gauge",
                    "Connections refused with ERROR 1040 during the check's sample.",
                    with(&[]),
                    n as f64,
                );
            }
        }
        if let Some(f) = &r.forecast {
            add(
                "conncheck_forecast_connections_per_minute",
                "gauge",
                "Fitted growth of Threads_connected over the sample, connections per minute.",
                with(&[]),
                f.rate_per_min,
            );
            add(
                "conncheck_forecast_full_in_seconds",
                "gauge",
                "Seconds until Threads_connected reaches max_connections at that rate (+Inf: no rising trend).",
                with(&[]),
                f.full_in_s.unwrap_or(f64::INFINITY),
            );
        }
        for ((id, severity), n) in finding_counts(r) {
            add(
                "conncheck_finding",
                "gauge",
                "How many diagnose findings of this id and severity are present on the server.",
                with(&[("id", id), ("severity", severity)]),
                n as f64,
            );
        }
    }
    let mut out = String::new();
    for f in &families {
        out.push_str(&format!("# HELP {} {}\n", f.name, escape_help(f.help)));
        out.push_str(&format!("# TYPE {} {}\n", f.name, f.kind));
        for (labels, v) in &f.samples {
            out.push_str(f.name);
            if !labels.is_empty() {
                let l: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                    .collect();
                out.push_str(&format!("{{{}}}", l.join(",")));
            }
            out.push_str(&format!(" {}\n", value(*v)));
        }
    }
    out
}

/// The findings of one report counted per (id, severity), in the order they first appear.
fn finding_counts(r: &CheckReport) -> Vec<((&str, &'static str), u64)> {
    let mut counts: Vec<((&str, &'static str), u64)> = Vec::new();
    for f in &r.findings {
        let key = (f.id.as_str(), f.severity.name());
        match counts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => counts.push((key, 1)),
        }
    }
    counts
}

/// Label values escape backslash, double quote and newline.
fn escape_label(v: &str) -> String {
    v.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

/// HELP text escapes backslash and newline.
fn escape_help(v: &str) -> String {
    v.replace('\\', r"\\").replace('\n', r"\n")
}

/// Integers without a fraction; other values with at most six decimals, so that floating-point
/// noise (`120.80000000000001`) never reaches the file.
fn value(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.is_finite() {
        let s = format!("{v:.6}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" { "0".into() } else { s.to_string() }
    } else if v.is_nan() {
        "NaN".into()
    } else if v > 0.0 {
        "+Inf".into()
    } else {
        "-Inf".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures;
    use crate::report::check::{Limits, judge};

    #[test]
    fn escaping() {
        assert_eq!(escape_label("a\\b\"c\nd"), r#"a\\b\"c\nd"#);
        assert_eq!(escape_help("x\\y\nz"), r"x\\y\nz");
        assert_eq!(value(3.0), "3");
        assert_eq!(value(0.25), "0.25");
        assert_eq!(value(151.0 * 0.8), "120.8");
        assert_eq!(value(12.0 / 151.0), "0.07947");
        assert_eq!(value(1e-9), "0");
        // The exposition format spells the special values +Inf, -Inf and NaN.
        assert_eq!(value(f64::INFINITY), "+Inf");
        assert_eq!(value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(value(f64::NAN), "NaN");
    }

    /// Every sample line's name and labels, for duplicate checks.
    fn series(text: &str) -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.rsplit_once(' ').unwrap().0.to_string())
            .collect()
    }

    #[test]
    fn findings_are_counted_per_id_and_severity() {
        use crate::diagnose::{Finding, FindingId, Severity};
        let mut r = judge(&fixtures::mariadb(), &Limits::default());
        r.findings = vec![
            Finding::new(FindingId::LockPileup, Severity::Warning, "t", "s"),
            Finding::new(FindingId::IdleConnections, Severity::Info, "t", "s"),
            Finding::new(FindingId::LockPileup, Severity::Warning, "t", "s"),
            Finding::new(FindingId::LockPileup, Severity::Critical, "t", "s"),
        ];
        let text = render(std::slice::from_ref(&r), false);
        assert!(
            text.contains("conncheck_finding{id=\"lock-pileup\",severity=\"warning\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("conncheck_finding{id=\"lock-pileup\",severity=\"critical\"} 1\n"));
        assert!(text.contains("conncheck_finding{id=\"idle-connections\",severity=\"info\"} 1\n"));
        let all = series(&text);
        let unique: std::collections::HashSet<&String> = all.iter().collect();
        assert_eq!(all.len(), unique.len(), "{text}");
    }

    #[test]
    fn a_target_listed_twice_is_rendered_once() {
        let mut a = fixtures::mariadb();
        a.target = "db1:3306".into();
        let mut b = fixtures::mariadb();
        b.target = "db2:3306".into();
        let l = Limits::default();
        let reports = [judge(&a, &l), judge(&b, &l), judge(&a, &l)];
        let text = render(&reports, true);
        let all = series(&text);
        let unique: std::collections::HashSet<&String> = all.iter().collect();
        assert_eq!(all.len(), unique.len(), "{text}");
        assert_eq!(text.matches("mysql_up{target=\"db1:3306\"} 1\n").count(), 1);
        assert_eq!(text.matches("mysql_up{target=\"db2:3306\"} 1\n").count(), 1);
    }

    #[test]
    fn families_once_with_target_labels() {
        let mut a = fixtures::mariadb();
        a.target = "db\"1:3306".into();
        let mut b = fixtures::mariadb();
        b.target = "db2:3306".into();
        let reports = [judge(&a, &Limits::default()), judge(&b, &Limits::default())];
        let text = render(&reports, true);
        assert_eq!(text.matches("# TYPE mysql_up gauge\n").count(), 1);
        assert!(
            text.contains("mysql_up{target=\"db\\\"1:3306\"} 1\n"),
            "{text}"
        );
        assert!(text.contains(
            "mysql_global_status_connection_errors_total{target=\"db2:3306\",error=\"max_connection\"} "
        ));
        assert!(text.contains("conncheck_check_state{target=\"db2:3306\"} 0\n"));
        let single = render(&reports[..1], false);
        assert!(single.contains("\nmysql_global_variables_max_connections 151\n"));
    }
}
