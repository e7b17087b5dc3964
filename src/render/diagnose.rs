//! The `diagnose` report for people: the status header, the verdict block, the findings and the
//! notes.

use crate::diagnose::FindingId;
use crate::diagnose::forecast::Forecast;
use crate::render::{self, Style, layout};
use crate::report::diagnose::DiagnoseReport;
use crate::snapshot::Snapshot;
use crate::text::{escape, prose};

/// The verdict block: the cause, the fastest relief, and where every connection is, fitted to
/// the terminal width (the relief command wraps between words with ` \`, so it still pastes).
/// Pure.
pub fn verdict_text(r: &DiagnoseReport, style: Style) -> String {
    let v = &r.verdict;
    let width = style.width;
    let mut out = String::new();
    let cause = match (
        &v.cause,
        r.findings.iter().find(|f| Some(&f.id) == v.cause.as_ref()),
    ) {
        // The connections it explains against those Threads_connected counts.
        (Some(id), Some(f)) if v.explains > 0 && !r.slots.is_empty() => format!(
            "{} ({id}): {} of {} connections",
            escape(&f.title),
            v.explains,
            r.slots.iter().map(|s| s.count).sum::<i64>()
        ),
        (Some(id), Some(f)) => format!("{} ({id})", escape(&f.title)),
        _ => "no cause found".to_string(),
    };
    // Styled before it is wrapped, so that every line closes its own colour.
    let verdict = layout::wrap(
        &style.bold(&format!("Verdict      {cause}")),
        width,
        "",
        "             ",
    );
    out.push_str(&verdict);
    out.push('\n');
    if !v.also.is_empty() {
        let also: Vec<&str> = v.also.iter().map(|id| id.as_str()).collect();
        out.push_str(&layout::wrap(
            &format!("Also         {}", also.join(", ")),
            width,
            "",
            "             ",
        ));
        out.push('\n');
    }
    if let Some(relief) = &v.relief {
        out.push_str(&format!("Relief       {}:\n", relief.effect()));
        push_command(&mut out, &relief.command, width);
        if let Some(alt) = &relief.alternative {
            let label = alt.label.as_deref().unwrap_or("alternative");
            out.push_str(&layout::wrap(
                &format!("  {} ({}):", escape(label), alt.effect()),
                width,
                "",
                "    ",
            ));
            out.push('\n');
            push_command(&mut out, &alt.command, width);
        }
    }
    if !r.slots.is_empty() {
        let total: i64 = r.slots.iter().map(|s| s.count).sum();
        out.push_str(&format!(
            "Where the {total} connections are (Threads_connected):\n"
        ));
        // Bucket, count and finding are short ids; the client is cut to what is left.
        let finding_w = r
            .slots
            .iter()
            .map(|s| s.finding.map_or(0, |f| f.as_str().len()))
            .max()
            .unwrap_or(0);
        let room = width
            .saturating_sub(2 + 19 + 1 + 6 + 2 + 2 + finding_w)
            .max(12);
        let clients: Vec<String> = r
            .slots
            .iter()
            .map(|s| {
                s.client
                    .as_deref()
                    .map(|c| layout::fit(&crate::text::escape(c), room.min(40)))
                    .unwrap_or_default()
            })
            .collect();
        let client_w = clients
            .iter()
            .map(|c| layout::width_of(c))
            .max()
            .unwrap_or(0);
        for (s, client) in r.slots.iter().zip(&clients) {
            let finding = s.finding.map_or("", FindingId::as_str);
            let pad = " ".repeat(client_w - layout::width_of(client));
            let line = format!(
                "  {:<19} {:>6}  {client}{pad}  {finding}",
                s.bucket, s.count
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
        if !r.background.is_empty() {
            let parts: Vec<String> = r
                .background
                .iter()
                .map(|b| format!("{} {}", b.count, b.bucket))
                .collect();
            out.push_str(&layout::wrap(
                &format!(
                    "not counted: {} background thread(s): {}",
                    r.background.iter().map(|b| b.count).sum::<i64>(),
                    parts.join(", ")
                ),
                width,
                "  ",
                "    ",
            ));
            out.push('\n');
        }
    }
    out.push('\n');
    out
}

/// A relief's command (its own or the alternative's) on its own `$ ` lines, wrapped so that it
/// still pastes.
fn push_command(out: &mut String, command: &str, width: usize) {
    out.push_str(&layout::command(&escape(command), width, "  $ ", "      "));
    out.push('\n');
}

/// "at +3.2 connections/min the server is full (max_connections 151) in 14 min", red when
/// within 15 minutes. Shared with `watch`.
pub fn forecast_text(f: &Forecast, style: Style) -> String {
    let text = f.sentence();
    if f.full_within(15.0 * 60.0) {
        style.red(&text)
    } else {
        text
    }
}

/// The human-readable report (the table format). Pure.
pub fn human(r: &DiagnoseReport, snap: &Snapshot, style: Style, verbose: bool) -> String {
    human_with(r, snap, style, verbose, "")
}

/// [`human`] with a section between the verdict and the findings (a replayed incident's
/// "Before the trigger").
pub fn human_with(
    r: &DiagnoseReport,
    snap: &Snapshot,
    style: Style,
    verbose: bool,
    after_verdict: &str,
) -> String {
    let mut out = String::new();
    if snap.refused.is_none() {
        out.push_str(&render::status::header(
            &crate::report::status::build(snap, 0),
            style,
        ));
        if let Some(rates) = &r.rates {
            out.push_str(&render::status::rates_line(rates, style));
        }
        if let Some(f) = &r.forecast {
            out.push_str(&render::layout::wrap(
                &format!("forecast: {}", forecast_text(f, style)),
                style.width,
                "",
                "  ",
            ));
            out.push('\n');
        }
        out.push('\n');
    } else {
        out.push_str(&format!(
            "{}\n{}\n\n",
            render::layout::wrap(
                &render::server_line(&r.target, None, ""),
                style.width,
                "",
                "  "
            ),
            render::layout::wrap(
                &style.red(&format!(
                    "{} refused conncheck: ERROR 1040 Too many connections",
                    escape(&r.target)
                )),
                style.width,
                "",
                "  "
            )
        ));
    }
    out.push_str(&verdict_text(r, style));
    out.push_str(after_verdict);
    out.push_str(&render::findings::findings(
        &r.findings,
        snap,
        style,
        verbose,
    ));
    for n in &r.notes {
        out.push('\n');
        out.push_str(&render::layout::wrap(
            &format!("{} {}", style.dim("note:"), prose(n)),
            style.width,
            "",
            "  ",
        ));
    }
    out
}
