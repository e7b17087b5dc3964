//! `check` in the format asked for: Nagios (with a summary table for several targets), JSON or
//! Prometheus.

use crate::cli::CheckFormat;
use crate::render::{self, Style, nagios, prometheus, targets};
use crate::report::check::{CheckReport, State};

/// One target's check.
pub fn one(r: &CheckReport, format: CheckFormat) -> String {
    match format {
        CheckFormat::Nagios => nagios::render(r),
        CheckFormat::Json => render::json(r),
        CheckFormat::Prometheus => prometheus::render(std::slice::from_ref(r), false),
    }
}

/// Several targets' checks, in target order.
pub fn many(reports: &[CheckReport], format: CheckFormat, style: Style) -> String {
    match format {
        CheckFormat::Nagios => nagios::render_many(reports, &table(reports, style)),
        CheckFormat::Json => render::json(&reports),
        CheckFormat::Prometheus => prometheus::render(reports, true),
    }
}

/// The summary table of several targets' checks (the Nagios long text).
pub fn table(reports: &[CheckReport], style: Style) -> String {
    let rows: Vec<targets::Row> = reports
        .iter()
        .map(|r| targets::Row {
            target: r.target.clone(),
            state: r.state.name().to_string(),
            tone: match r.state {
                State::Ok => targets::Tone::Good,
                State::Warning => targets::Tone::Warn,
                State::Critical => targets::Tone::Bad,
                State::Unknown => targets::Tone::Unknown,
            },
            usage: r.metrics.as_ref().map_or("-".into(), |m| {
                let c = &m.connections;
                targets::usage(c.threads_connected, c.max_connections, c.usage_pct)
            }),
            top: (r.state == State::Unknown)
                .then(|| r.summary.clone())
                .or_else(|| r.reasons.first().map(|x| x.message.clone()))
                .or_else(|| r.findings.first().map(|f| format!("{}: {}", f.id, f.title)))
                .unwrap_or_else(|| "-".into()),
        })
        .collect();
    targets::table(&rows, "top reason", style)
}
