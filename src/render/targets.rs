//! The one table `status`, `check` and `diagnose` print for several targets: target, state,
//! usage, and the most important thing about each.

use super::Style;
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

/// The table; every cell is escaped (targets, users and error texts may quote the server).
pub fn table(rows: &[Row], top_header: &str, style: Style) -> String {
    let mut t = style.table();
    t.set_header(vec!["target", "state", "usage", top_header]);
    for r in rows {
        let plain = escape(&r.state);
        let state = match r.tone {
            Tone::Good => style.green(&plain),
            Tone::Warn => style.yellow(&plain),
            Tone::Bad => style.red(&plain),
            Tone::Unknown => style.dim(&plain),
        };
        t.add_row(vec![
            escape(&r.target).into_owned(),
            state,
            escape(&r.usage).into_owned(),
            escape(&r.top).into_owned(),
        ]);
    }
    format!("{t}\n")
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
