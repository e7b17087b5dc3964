//! Several targets for people or scripts: a JSON array, or the summary table.

use serde::Serialize;

use crate::cli::Format;
use crate::fleet::{Failed, Outcome};
use crate::render::targets::{self, Row, Tone};
use crate::render::{self, Style};

/// with `row` for each target that answered and the error for each one that did not.
pub fn render_outcomes<R: Serialize>(
    outcomes: &[Outcome<R>],
    format: Format,
    top_header: &'static str,
    style: Style,
    row: impl Fn(&R) -> Row,
) -> String {
    render::text(&outcomes, format, |outcomes| {
        let rows: Vec<Row> = outcomes
            .iter()
            .map(|o| match o {
                Outcome::Report(r) => row(r),
                Outcome::Failed(f) => failed_row(f),
            })
            .collect();
        targets::table(&rows, top_header, style)
    })
}

/// The summary-table line of a target that could not be read.
fn failed_row(f: &Failed) -> Row {
    Row {
        target: f.target.clone(),
        state: f.error.kind.name(),
        tone: Tone::Bad,
        usage: "-".into(),
        top: f.error.message.clone(),
    }
}
