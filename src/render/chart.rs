//! The replay chart (`diagnose --from DIR --chart FILE.svg`): connections per top client over
//! time, the rest as "other", Threads_connected, max_connections as a line and the trigger
//! marked. Pure: SVG text from a [`ClientSeries`], drawn with plotters' SVG backend (no fonts
//! are loaded: the viewer picks a sans-serif one).
//!
//! Client names come from the server, the title from the incident's `index.json`: every text is
//! escaped with [`crate::text::escape`] (no control characters), then [`xml_text`] shows the
//! characters XML 1.0 forbids even so (U+FFFE, U+FFFF) as `\u{fffe}`, and plotters XML-escapes
//! `<&>"'`: the SVG is well-formed whatever the names.

use plotters::prelude::*;

use crate::report::timeline::{ClientSeries, rfc3339};
use crate::text::escape;

/// Clients drawn by name; the others are summed in one "other" line.
pub const CHART_CLIENTS: usize = 5;
/// Longest client name in the legend, in characters.
const LEGEND_NAME: usize = 48;

const SIZE: (u32, u32) = (1000, 560);

/// One colour per client line (a colour-blind-safe palette, Okabe–Ito), then "other".
const COLORS: [RGBColor; 5] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
];
const OTHER: RGBColor = RGBColor(120, 120, 120);
const LIMIT: RGBColor = RGBColor(200, 30, 30);

/// Whether XML 1.0 allows `c` in a document (https://www.w3.org/TR/xml/#charsets: `Char`).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{a}' | '\u{d}' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// `s` as chart text: terminal-safe ([`crate::text::escape`] already applied by the caller) and
/// with every character XML forbids shown as `\u{hex}`.
fn xml_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_xml_char(c) {
            out.push(c);
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    out
}

/// The chart as SVG text. `title` is escaped here.
pub fn svg(s: &ClientSeries, trigger_ms: u64, title: &str) -> Result<String, String> {
    let mut buf = String::new();
    draw(&mut buf, s, trigger_ms, title).map_err(|e| e.to_string())?;
    Ok(buf)
}

fn draw(
    buf: &mut String,
    s: &ClientSeries,
    trigger_ms: u64,
    title: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(buf, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let (first, last) = match (s.at_ms.first(), s.at_ms.last()) {
        (Some(a), Some(b)) => (*a, (*b).max(*a + 1000)),
        _ => (trigger_ms, trigger_ms + 1000),
    };
    let (x0, x1) = (first.min(trigger_ms), last.max(trigger_ms));
    let limit = s.max_connections.iter().copied().max().unwrap_or(0);
    let top = s
        .threads_connected
        .iter()
        .chain(s.other.iter())
        .chain(s.clients.iter().flat_map(|(_, v)| v.iter()))
        .copied()
        .max()
        .unwrap_or(0)
        .max(limit);
    let y1 = (top + top / 10).max(5);
    let mut chart = ChartBuilder::on(&root)
        .caption(xml_text(&escape(title)), ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d(x0..x1, 0u64..y1)?;
    let clock = |ms: &u64| rfc3339(*ms).get(11..19).unwrap_or_default().to_string();
    chart
        .configure_mesh()
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&clock)
        .x_desc(format!(
            "time (UTC), {}",
            rfc3339(x0).get(..10).unwrap_or("")
        ))
        .y_desc("connections")
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    let points =
        |v: &[u64]| -> Vec<(u64, u64)> { s.at_ms.iter().copied().zip(v.iter().copied()).collect() };
    if limit > 0 {
        chart
            .draw_series(LineSeries::new(
                points(&s.max_connections),
                LIMIT.stroke_width(2),
            ))?
            .label(format!("max_connections ({limit})"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], LIMIT.stroke_width(2)));
    }
    chart
        .draw_series(DashedLineSeries::new(
            points(&s.threads_connected),
            6,
            4,
            BLACK.stroke_width(1),
        ))?
        .label("Threads_connected")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.stroke_width(1)));
    for (i, (name, values)) in s.clients.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(points(values), color.stroke_width(3)))?
            .label(xml_text(&crate::text::snippet(name, LEGEND_NAME)))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(3)));
    }
    if s.other.iter().any(|n| *n > 0) {
        chart
            .draw_series(LineSeries::new(points(&s.other), OTHER.stroke_width(2)))?
            .label("other clients")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], OTHER.stroke_width(2)));
    }
    // The trigger: a vertical line across the plot, labelled at the top.
    chart
        .draw_series(DashedLineSeries::new(
            [(trigger_ms, 0), (trigger_ms, y1)],
            4,
            4,
            LIMIT.mix(0.8).stroke_width(1),
        ))?
        .label(format!("trigger at {}", clock(&trigger_ms)))
        .legend(|(x, y)| PathElement::new([(x + 10, y - 6), (x + 10, y + 6)], LIMIT));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .label_font(("sans-serif", 13))
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str) -> ClientSeries {
        ClientSeries {
            at_ms: (0..10).map(|i| 1_000_000 + i * 1000).collect(),
            clients: vec![(name.to_string(), (0..10).collect())],
            other: vec![3; 10],
            max_connections: vec![20; 10],
            threads_connected: (4..14).collect(),
        }
    }

    #[test]
    fn hostile_names_are_escaped() {
        let svg = svg(&series("<script>&\"'\x1b[2J@h"), 1_005_000, "t <b>").unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(!svg.contains('\x1b'));
        assert!(
            svg.contains("&lt;script&gt;&amp;&quot;&apos;\\e[2J@h"),
            "{svg}"
        );
        assert!(svg.contains("max_connections (20)"));
        assert!(svg.contains("trigger at 00:16:45"));
        assert!(svg.contains("t &lt;b&gt;"));
    }

    #[test]
    fn characters_xml_forbids_are_shown_escaped() {
        let name = "a\u{fffe}b\u{ffff}c\u{0}\u{fdd0}\u{1fffe}";
        let svg = svg(&series(name), 1_005_000, name).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        assert!(doc.root_element().has_tag_name("svg"));
        assert!(
            svg.contains("a\\u{fffe}b\\u{ffff}c\\0\u{fdd0}\u{1fffe}"),
            "{svg}"
        );
        assert_eq!(xml_text("tab\there"), "tab\there");
    }

    #[test]
    fn an_empty_series_still_draws() {
        let s = ClientSeries {
            at_ms: vec![],
            clients: vec![],
            other: vec![],
            max_connections: vec![],
            threads_connected: vec![],
        };
        assert!(svg(&s, 5000, "x").unwrap().contains("</svg>"));
    }
}
