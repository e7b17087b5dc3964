//! The "Before the trigger" section of a replayed incident (`diagnose --from DIR`): the trigger,
//! the server-wide growth, the driver, and one sparkline line per client that grew. Pure; every
//! client name is escaped and every line fits the style's width.

use crate::render::{MIN_WIDTH, Style, layout, sparkline_fit};
use crate::report::diagnose::DiagnoseReport;
use crate::report::timeline::{self, Growth};
use crate::snapshot::sample::SampleHistory;
use crate::text::escape;

/// Columns of a client's sparkline.
pub const SPARK_WIDTH: usize = 20;

/// `17:36:10Z` of an RFC 3339 time (the date is in the window line).
fn clock(t: &str) -> &str {
    t.get(11..).unwrap_or(t)
}

/// The section, or nothing when the report is not about an incident.
pub fn before_trigger(r: &DiagnoseReport, history: &SampleHistory, style: Style) -> String {
    let (Some(inc), Some(g)) = (&r.incident, &r.growth) else {
        return String::new();
    };
    let width = style.width;
    let mut out = format!("{}\n", style.bold("Before the trigger"));
    let line = |label: &str, text: &str| {
        layout::wrap(text, width, &format!("  {label:<11}"), "             ") + "\n"
    };
    let judged = inc
        .judged
        .as_deref()
        .map_or(String::new(), |j| format!(", judged {}", escape(j)));
    out.push_str(&line(
        "Trigger",
        &format!(
            "{} (value {}) at {}{judged}",
            escape(&inc.trigger),
            inc.value,
            inc.triggered_at
        ),
    ));
    out.push_str(&line(
        "Window",
        &format!(
            "{} samples from {} to {}",
            g.samples,
            g.window_start,
            clock(&g.trigger_at)
        ),
    ));
    let refused = match &g.refused.first_at {
        Some(at) => format!("{} from {}", g.refused.total, clock(at)),
        None => "0".to_string(),
    };
    out.push_str(&line(
        "Connected",
        &format!(
            "{} → {} (peak {}), running {} → {} (peak {}), refused {refused}",
            g.threads_connected.from,
            g.threads_connected.to,
            g.threads_connected.peak,
            g.running.from,
            g.running.to,
            g.running.peak
        ),
    ));
    if let Some(f) = &g.forecast {
        out.push_str(&line(
            "Forecast",
            &format!(
                "{} (the minute before the trigger)",
                crate::render::diagnose::forecast_text(f, style)
            ),
        ));
    }
    out.push_str(&line("Driver", &driver(g)));
    if !g.clients.is_empty() {
        out.push_str(&growers(g, history, style));
    }
    for n in &inc.notes {
        out.push_str(&layout::wrap(
            &format!("{} {}", style.dim("recorder:"), crate::text::prose(n)),
            width,
            "  ",
            "    ",
        ));
        out.push('\n');
    }
    out.push('\n');
    out
}

fn driver(g: &Growth) -> String {
    match &g.driver {
        Some(d) => {
            let app = g.driver_app.as_ref().map_or(String::new(), |a| {
                format!(" (application {})", escape(&a.name))
            });
            format!(
                "{}: +{} since {}, {:.1}/min, {:.0}% of the growth{app}",
                escape(&d.name),
                d.grew_by,
                clock(&d.since),
                d.rate_per_min,
                d.share * 100.0
            )
        }
        None if g.clients.is_empty() => "none: no client grew before the trigger".to_string(),
        None => match &g.started_at {
            Some(at) => format!("none: several clients grew alike, from {}", clock(at)),
            None => "none: no client grew much before the trigger".to_string(),
        },
    }
}

/// Two lines per grower: its name (cut to the width), then `sparkline  from → to  since …
/// rate/min  share`.
fn growers(g: &Growth, history: &SampleHistory, style: Style) -> String {
    let window = timeline::window(history, u64::MAX);
    let names: Vec<&str> = g.clients.iter().map(|c| c.name.as_str()).collect();
    let series = timeline::series_for(window, &names);
    let width = style.width.max(MIN_WIDTH);
    let mut out = format!(
        "  {}\n",
        style.dim("Clients that grew (connections over the recorded samples)")
    );
    for (c, values) in g.clients.iter().zip(&series) {
        out.push_str(&format!(
            "  {}\n",
            layout::fit(&escape(&c.name), width.saturating_sub(2))
        ));
        let line = format!(
            "    {}  {} → {} since {}, {:.1}/min, {:.0}% of the growth",
            sparkline_fit(values, SPARK_WIDTH, 0),
            c.from,
            c.to,
            clock(&c.since),
            c.rate_per_min,
            c.share * 100.0
        );
        out.push_str(&layout::wrap(&line, width, "", "      "));
        out.push('\n');
    }
    out
}
