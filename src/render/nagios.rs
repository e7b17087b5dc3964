//! Monitoring-plugin output for `check` (Nagios, Icinga, Naemon, Sensu, Zabbix's Nagios
//! compatibility): `CONNCHECK <STATE> - <summary> | <perfdata>` on the first line, then the long
//! output, one reason per line.
//!
//! Perfdata follows the plugin development guidelines:
//! `'label'=value[UOM];[warn];[crit];[min];[max]`, UOM `%`, `s` or `c` (a counter).
//! <https://www.monitoring-plugins.org/doc/guidelines.html#AEN200>

use crate::report::check::{CheckReport, State};

/// The plugin output for one target.
pub fn render(r: &CheckReport) -> String {
    let mut out = first_line(r.state, &r.summary, &perfdata(r, ""));
    for reason in r.reasons.iter().filter(|x| x.state != State::Ok) {
        out.push_str(&format!(
            "{}: {}\n",
            reason.state.name(),
            clean(&reason.message)
        ));
    }
    out
}

/// The plugin output for several targets: the worst state and the count per state on the first
/// line (perfdata labels prefixed with the target), then `table`, then each target's reasons.
pub fn render_many(reports: &[CheckReport], table: &str) -> String {
    // A target listed twice would repeat its perfdata labels: render it once.
    let mut seen = std::collections::HashSet::new();
    let reports: Vec<&CheckReport> = reports
        .iter()
        .filter(|r| seen.insert(r.target.as_str()))
        .collect();
    let state = State::worst(reports.iter().map(|r| r.state));
    let counts: Vec<String> = [State::Critical, State::Warning, State::Unknown, State::Ok]
        .iter()
        .filter_map(|s| {
            let n = reports.iter().filter(|r| r.state == *s).count();
            (n > 0).then(|| format!("{n} {}", s.name()))
        })
        .collect();
    let summary = format!("{} targets: {}", reports.len(), counts.join(", "));
    let perf: Vec<String> = reports
        .iter()
        .map(|r| perfdata(r, &format!("{} ", r.target)))
        .filter(|p| !p.is_empty())
        .collect();
    let mut out = first_line(state, &summary, &perf.join(" "));
    // A `|` in the long output starts perfdata for the plugin: a target or server message that
    // contains one must not.
    out.push_str(&table.replace('|', "/"));
    if !table.ends_with('\n') {
        out.push('\n');
    }
    for r in reports {
        for reason in r.reasons.iter().filter(|x| x.state != State::Ok) {
            out.push_str(&format!(
                "{} {}: {}\n",
                clean(&r.target),
                reason.state.name(),
                clean(&reason.message)
            ));
        }
    }
    out
}

fn first_line(state: State, summary: &str, perf: &str) -> String {
    let mut line = format!("CONNCHECK {} - {}", state.name(), clean(summary));
    if !perf.is_empty() {
        line.push_str(" | ");
        line.push_str(perf);
    }
    line.push('\n');
    line
}

/// `|` separates perfdata and newlines end the first line: neither may appear in text. Every
/// other control or invisible character is escaped ([`crate::text::escape`]; the line and
/// paragraph separators U+2028/U+2029 too, so a user name holding one never reads like one with
/// a space): reasons and summaries may quote the server, and the output is read on terminals and
/// in web UIs.
fn clean(s: &str) -> String {
    let one_line = s.replace('|', "/").replace(['\n', '\r'], " ");
    crate::text::escape(&one_line).into_owned()
}

/// The perfdata of one report (empty when the server could not be read), labels prefixed.
pub fn perfdata(r: &CheckReport, prefix: &str) -> String {
    let Some(m) = &r.metrics else {
        return String::new();
    };
    let c = &m.connections;
    let max = c.max_connections as f64;
    let pct = |n: f64| {
        if max > 0.0 { n * 100.0 / max } else { 0.0 }
    };
    let items = [
        item(
            prefix,
            "connected",
            c.threads_connected as f64,
            "",
            Some(count_threshold(m.warning_connections)),
            Some(count_threshold(m.critical_connections)),
            Some(max),
        ),
        item(
            prefix,
            "running",
            c.threads_running as f64,
            "",
            None,
            None,
            Some(max),
        ),
        item(
            prefix,
            "usage",
            c.usage_pct,
            "%",
            Some(pct(m.warning_connections)),
            Some(pct(m.critical_connections)),
            Some(100.0),
        ),
        item(
            prefix,
            "max_used",
            c.max_used_connections as f64,
            "",
            None,
            None,
            Some(max),
        ),
        item(
            prefix,
            "refused",
            c.connection_errors_max_connections as f64,
            "c",
            None,
            None,
            None,
        ),
        item(
            prefix,
            "sleeping",
            m.activity.sleeping as f64,
            "",
            None,
            None,
            Some(max),
        ),
        item(
            prefix,
            "oldest_idle",
            m.activity.oldest_idle_s as f64,
            "s",
            None,
            None,
            None,
        ),
        item(
            prefix,
            "longest_query",
            m.activity.longest_query_s as f64,
            "s",
            None,
            None,
            None,
        ),
    ];
    let mut out = items.join(" ");
    // The forecast when the sample had one: `U` (undetermined, as the guidelines allow) when the
    // trend is not rising; with --forecast, alert inside 0..horizon (`@0:900`).
    if let Some(f) = &r.forecast {
        let warn = r
            .forecast_horizon_s
            .map(|h| format!("@0:{h}"))
            .unwrap_or_default();
        let value = f
            .full_in_s
            .map_or_else(|| "U".to_string(), |s| format!("{}s", num(s.round())));
        out.push_str(&format!(
            " '{prefix_clean}time_to_full'={value};{warn};;0; '{prefix_clean}connections_per_min'={};;;;",
            num(f.rate_per_min),
            prefix_clean = label_text(prefix)
        ));
    }
    out
}

/// A plugin threshold `N` means "alert above N", ours "alert at or above x" (80 % of 151 is
/// 120.8): for a whole-number count that is the largest integer below x, 120.
fn count_threshold(x: f64) -> f64 {
    (x.ceil() - 1.0).max(0.0)
}

fn item(
    prefix: &str,
    label: &str,
    value: f64,
    uom: &str,
    warn: Option<f64>,
    crit: Option<f64>,
    max: Option<f64>,
) -> String {
    let opt = |v: Option<f64>| v.map(num).unwrap_or_default();
    let label = label_text(&format!("{prefix}{label}"));
    format!(
        "'{label}'={}{uom};{};{};0;{}",
        num(value),
        opt(warn),
        opt(crit),
        opt(max)
    )
}

/// A quote inside a label is written as two quotes; `=` cannot appear in a label at all, nor
/// `|` (the perfdata separator) or a control character.
fn label_text(label: &str) -> String {
    clean(label).replace('\'', "''").replace('=', "_")
}

/// `12`, `120.8`, `33.33`: integers without decimals, others with at most two.
fn num(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::{self, session};
    use crate::report::check::{Limits, judge};

    #[test]
    fn first_line_and_perfdata() {
        let mut s = fixtures::mariadb();
        fixtures::with_sessions(
            &mut s,
            vec![
                session(1, "app", "10.0.0.1", "Sleep", 35, "", None),
                session(2, "app", "10.0.0.1", "Query", 3, "", Some("SELECT 1")),
            ],
        );
        fixtures::set_status(&mut s, "max_used_connections", 40);
        fixtures::set_status(&mut s, "connection_errors_max_connections", 5);
        let r = judge(&s, &Limits::default());
        let text = render(&r);
        let line = text.lines().next().unwrap();
        assert_eq!(
            line,
            "CONNCHECK OK - 3 of 151 connections (2%), 2 running, 1 sleeping | \
             'connected'=3;120;135;0;151 'running'=2;;;0;151 'usage'=2%;80;90;0;100 \
             'max_used'=40;;;0;151 'refused'=5c;;;0; 'sleeping'=1;;;0;151 \
             'oldest_idle'=35s;;;0; 'longest_query'=3s;;;0;"
        );
        assert_eq!(text.lines().count(), 1, "no long output when OK");
    }

    #[test]
    fn the_forecast_is_time_to_full_perfdata_and_a_warning_reason() {
        let mut s = fixtures::mariadb();
        // One connection every 2 s over 38 s: 30/min, 119 of 151 at the last reading.
        s.trend = (0..20)
            .map(|i| crate::snapshot::TrendPoint {
                at_ms: i * 2000,
                threads_connected: 100 + i,
            })
            .collect();
        let limits = Limits {
            forecast: Some(std::time::Duration::from_secs(900)),
            ..Limits::default()
        };
        let r = judge(&s, &limits);
        let text = render(&r);
        let line = text.lines().next().unwrap();
        assert!(line.starts_with("CONNCHECK WARNING - at +30.0 connections/min the server is full (max_connections 151) in 64 s (trend over 38s, --forecast 15m)"), "{line}");
        assert!(
            line.ends_with(" 'time_to_full'=64s;@0:900;;0; 'connections_per_min'=30;;;;"),
            "{line}"
        );
        // Without --forecast the time is graphed but judges nothing.
        let r = judge(&s, &Limits::default());
        assert_eq!(r.state, State::Ok);
        assert!(render(&r).contains(" 'time_to_full'=64s;;;0; "));
        // A flat trend: undetermined.
        s.trend.iter_mut().for_each(|p| p.threads_connected = 100);
        let r = judge(&s, &limits);
        assert_eq!(r.state, State::Ok);
        assert!(render(&r).contains(" 'time_to_full'=U;@0:900;;0; 'connections_per_min'=0;;;;"));
    }

    #[test]
    fn text_cannot_break_the_format() {
        assert_eq!(clean("a|b\nc"), "a/b c");
        assert_eq!(
            clean("a\u{2028}b\u{2029}c\u{85}"),
            r"a\u{2028}b\u{2029}c\x85"
        );
        assert_ne!(clean("app\u{200b}"), clean("app"));
        assert_eq!(clean("u\x1b]0;t\x07\u{9b}"), "u\\e]0;t\\x07\\x9b");
        assert_eq!(num(120.8), "120.8");
        // At or above 120.8 (121 connections) is "above 120" for a plugin; 80 of 100 is above 79.
        assert_eq!(count_threshold(120.8), 120.0);
        assert_eq!(count_threshold(80.0), 79.0);
        assert_eq!(count_threshold(0.0), 0.0);
        assert_eq!(num(1.0 / 3.0), "0.33");
        assert_eq!(num(7.0), "7");
        assert_eq!(
            item("db'1 ", "x", 1.0, "", None, None, None),
            "'db''1 x'=1;;;0;"
        );
    }
}
