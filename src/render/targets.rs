//! The one table `status`, `check` and `diagnose` print for several targets: target, state,
//! usage, and the most important thing about each.

use super::Style;
use super::layout::{self, Col};
use crate::text::escape;

/// How a state reads at a glance (its colour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Warn,
    Bad,
    Unknown,
}

/// One target's line.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// host:port or socket path (never a URL with a password).
    pub target: String,
    pub state: String,
    pub tone: Tone,
    /// `12/151 (8%)`, or `-` when the server could not be read.
    pub usage: String,
    /// Top finding, reason, client or error.
    pub top: String,
}

/// `12/151 (8%)`.
pub fn usage(connected: u64, max: u64, pct: f64) -> String {
    format!("{connected}/{max} ({pct:.0}%)")
}

/// The table, one line per target at the style's width (a long target or top item is cut with
/// `…`); every cell is escaped (targets, users and error texts may quote the server).
pub fn table(rows: &[Row], top_header: &'static str, style: Style) -> String {
    let cols = [
        Col::cut("target", 20, 0),
        Col::keep("state"),
        Col::keep("usage"),
        Col::cut(top_header, 16, 0),
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let plain = escape(&r.state);
            let state = match r.tone {
                Tone::Good => style.green(&plain),
                Tone::Warn => style.yellow(&plain),
                Tone::Bad => style.red(&plain),
                Tone::Unknown => style.dim(&plain),
            };
            vec![
                escape(&r.target).into_owned(),
                state,
                escape(&r.usage).into_owned(),
                escape(&r.top).into_owned(),
            ]
        })
        .collect();
    format!("{}\n", layout::fit_table(style, &cols, &cells))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_target() {
        let rows = [Row {
            target: "db1:3306".into(),
            state: "OK".into(),
            tone: Tone::Good,
            usage: usage(12, 151, 7.9),
            top: "-".into(),
        }];
        let t = table(&rows, "top finding", Style::plain());
        assert!(t.contains("db1:3306") && t.contains("12/151 (8%)"), "{t}");
        assert!(t.contains("top finding"));
    }

    #[test]
    fn a_long_top_item_is_cut_never_wrapped() {
        let rows = [Row {
            target: "db-prod-1.internal.example.com:3306".into(),
            state: "critical".into(),
            tone: Tone::Bad,
            usage: usage(499, 500, 99.8),
            top: "connection-leak: shop@10.0.4.17 is leaking connections and keeps leaking".into(),
        }];
        let t = table(&rows, "top finding", Style::plain());
        assert_eq!(t.lines().count(), 5, "one line per target:\n{t}");
        assert!(t.lines().all(|l| layout::width_of(l) <= 80), "{t}");
        assert!(t.contains("499/500 (100%)") && t.contains('…'), "{t}");
    }

    #[test]
    fn cells_are_terminal_safe() {
        let rows = [Row {
            target: "db\x1b]0;x\x07:3306".into(),
            state: "server-full".into(),
            tone: Tone::Bad,
            usage: "-".into(),
            top: "ERROR 1045 Access denied for user 'a\x1b[2J'@'h'\nline".into(),
        }];
        let t = table(&rows, "top", Style::plain());
        assert!(crate::text::is_safe(&t.replace('\n', "")), "{t:?}");
        assert!(t.contains("db\\e]0;x\\x07:3306"), "{t}");
    }
}
