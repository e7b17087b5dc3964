//! The `watch` screen and its log line, for one refresh.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use crate::diagnose::Thresholds;
use crate::diagnose::forecast;
use crate::render::{self, Style, layout};
use crate::report::check::Activity;
use crate::report::status::Rates;
use crate::report::watch::{ClientHistory, cause, extremes};
use crate::snapshot::{Session, Snapshot};
use crate::text::escape;

/// How many client groups the screen lists.
pub const TOP_CLIENTS: usize = 5;

/// `2026-11-23T19:40:00Z connected=12/151 (8%) running=2 conn/s=0.5 aborted/s=0.0
/// refused/s=0.0 sleeping=9 oldest_idle=35s longest_query=0s cause=- full_in=-` (`cause` is the
/// id of the screen's cause line, `-` when there is none; `full_in` the forecast's seconds to
/// max_connections, `-` without a rising trend). Pure.
pub fn line(ts: &str, snap: &Snapshot) -> String {
    let c = crate::report::status::build(snap, 0).connections;
    let r = Rates::of(snap);
    let a = Activity::of(snap, &Thresholds::default());
    format!(
        "{ts} connected={}/{} ({:.0}%) running={} conn/s={:.1} aborted/s={:.1} refused/s={:.1} sleeping={} oldest_idle={}s longest_query={}s cause={} full_in={}",
        c.threads_connected,
        c.max_connections,
        c.usage_pct,
        c.threads_running,
        r.connections_per_s,
        r.aborted_connects_per_s,
        r.refused_per_s,
        a.sleeping,
        a.oldest_idle_s,
        a.longest_query_s,
        cause(snap, crate::report::watch::REFRESH_READS_LOCKS)
            .map_or_else(|| "-".to_string(), |(id, _)| id.to_string()),
        forecast::of_snapshot(snap)
            .and_then(|f| f.full_in_s)
            .map_or_else(|| "-".to_string(), |s| format!("{s:.0}s")),
    )
}

/// The whole screen for one refresh (without the clear-screen escape), fitted to the style's
/// width. User names, hosts and query texts are escaped: a user name must never retitle the
/// terminal or clear the screen.
pub fn frame(
    snap: &Snapshot,
    history: &VecDeque<u64>,
    interval: Duration,
    target: &str,
    style: Style,
    at: SystemTime,
) -> String {
    frame_with(
        snap,
        history,
        &ClientHistory::default(),
        interval,
        target,
        style,
        at,
    )
}

/// [`frame`] with one sparkline per top client under the history line:
/// `sparkline  count  user@host (app)`, the name escaped and cut to the width.
pub fn frame_with(
    snap: &Snapshot,
    history: &VecDeque<u64>,
    clients: &ClientHistory,
    interval: Duration,
    target: &str,
    style: Style,
    at: SystemTime,
) -> String {
    let report = crate::report::status::build(snap, TOP_CLIENTS);
    let width = style.width;
    let mut out = layout::wrap(
        &format!(
            "{} {}, every {} (q to quit)  {}",
            style.bold("conncheck watch"),
            escape(target),
            humantime::format_duration(interval),
            timestamp(at),
        ),
        width,
        "",
        "  ",
    );
    out.push_str("\n\n");
    out.push_str(&render::status::header(&report, style));
    let cause = match cause(snap, crate::report::watch::REFRESH_READS_LOCKS) {
        Some((id, title)) => format!("{}: {}", style.bold(id.as_str()), escape(&title)),
        None => "none: nothing points to a connection shortage".to_string(),
    };
    out.push_str(&layout::wrap(
        &format!("Cause        {cause}"),
        width,
        "",
        "             ",
    ));
    out.push('\n');
    let values: Vec<u64> = history.iter().copied().collect();
    let (lo, hi) = (
        values.iter().min().copied().unwrap_or(0),
        values.iter().max().copied().unwrap_or(0),
    );
    out.push_str(&layout::wrap(
        &format!(
            "History      {} Threads_connected {lo}..{hi} over the last {} samples",
            render::sparkline(&values, 0),
            values.len()
        ),
        width,
        "",
        "             ",
    ));
    out.push('\n');
    out.push_str(&client_lines(clients, history.len(), width));
    if let Some(f) = forecast::of_snapshot(snap) {
        out.push_str(&layout::wrap(
            &format!(
                "Forecast     {}",
                render::diagnose::forecast_text(&f, style)
            ),
            width,
            "",
            "             ",
        ));
        out.push('\n');
    }
    // The first screen has no previous reading: its rates are averages since startup.
    out.push_str(&render::status::rates_line(&Rates::of(snap), style));
    let (idle, busy) = extremes(snap);
    let who = |s: &Session| {
        format!(
            "#{} {} {}",
            s.id,
            escape(&s.account()),
            render::secs(s.time_s)
        )
    };
    // One line each, whatever the width: the query text is cut to what is left.
    let room = width.saturating_sub(13).max(20);
    out.push_str(&format!(
        "Oldest idle  {}\nLongest run  {}\n",
        layout::fit(&idle.map_or("-".into(), who), room),
        layout::fit(
            &busy.map_or("-".into(), |s| format!(
                "{} {}",
                who(s),
                render::snippet(s.info.as_deref(), 60)
            )),
            room
        ),
    ));
    if !report.clients.is_empty() {
        out.push_str(&format!(
            "\nTop clients\n{}\n",
            render::status::clients_table(&report.clients, style)
        ));
    }
    out
}

/// The per-client sparklines, indented under the history line; the sparkline is as wide as
/// the history's (the samples kept), its scale that of the busiest client shown.
pub fn client_lines(clients: &ClientHistory, window: usize, width: usize) -> String {
    let list = clients.clients();
    let top = list
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .max()
        .unwrap_or(0);
    let spark_w = window.clamp(1, 40);
    let count_w = list
        .iter()
        .map(|(_, v)| v.back().copied().unwrap_or(0).to_string().len())
        .max()
        .unwrap_or(1);
    let mut out = String::new();
    for (name, values) in list {
        let values: Vec<u64> = values.iter().copied().collect();
        let spark = render::sparkline_fit(&values, spark_w, top);
        // Right-aligned, so that a newly seen client's short line ends where the others do.
        let pad = spark_w.saturating_sub(spark.chars().count());
        let count = values.last().copied().unwrap_or(0);
        let lead = format!(
            "             {}{spark}  {count:>count_w$}  ",
            " ".repeat(pad)
        );
        let room = width
            .max(render::MIN_WIDTH)
            .saturating_sub(layout::width_of(&lead))
            .max(12);
        out.push_str(&lead);
        out.push_str(&layout::fit(&escape(name), room));
        out.push('\n');
    }
    out
}

/// `2026-11-23T19:40:00Z`.
pub fn timestamp(t: SystemTime) -> String {
    crate::units::utc(t)
}
