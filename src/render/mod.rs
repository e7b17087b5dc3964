//! Turning reports ([`crate::report`]) into text: tables for people (one submodule per report:
//! `status`, `diagnose`, `sessions`, `kill`, `settings`, `watch`, `check`; `findings` and the
//! multi-target `targets`/`outcomes` tables), JSON for programs, Nagios and Prometheus for
//! monitoring. [`text`] is the one place a report and `--format` meet. The same report structs
//! feed every format; nothing here talks to a server or judges.

pub mod chart;
pub mod check;
pub mod diagnose;
pub mod findings;
pub mod kill;
pub mod layout;
pub mod nagios;
pub mod outcomes;
pub mod prometheus;
pub mod session_json;
pub mod session_table;
pub mod sessions;
pub mod settings;
pub mod snapshot_file;
pub mod status;
pub mod targets;
pub mod timeline;
pub mod watch;

use std::io::IsTerminal;

use comfy_table::{ContentArrangement, Table, presets};

use crate::cli::{ColorChoice, Format};

/// How human output looks on this terminal.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    /// Terminal columns human output must fit in (see [`terminal_width`]).
    pub width: usize,
}

/// Narrower terminals are treated as this wide (nothing useful fits in less).
pub const MIN_WIDTH: usize = 40;

/// The width human output fits in: `COLUMNS` when set, else the terminal's width when stdout is
/// a terminal, else 80.
pub fn terminal_width() -> usize {
    if let Some(w) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|w| *w > 0)
    {
        return w.max(MIN_WIDTH);
    }
    if std::io::stdout().is_terminal()
        && let Ok((w, _)) = crossterm::terminal::size()
        && w > 0
    {
        return usize::from(w).max(MIN_WIDTH);
    }
    80
}

impl Style {
    /// auto = stdout is a terminal, NO_COLOR unset, TERM not dumb (as fd does).
    pub fn detect(choice: ColorChoice) -> Style {
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::env::var("TERM").map_or(true, |t| t != "dumb")
            }
        };
        Style {
            color,
            width: terminal_width(),
        }
    }

    /// No color, 80 columns.
    pub fn plain() -> Style {
        Style {
            color: false,
            width: 80,
        }
    }

    /// The same style at another width.
    pub fn with_width(self, width: usize) -> Style {
        Style { width, ..self }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    pub fn red(&self, s: &str) -> String {
        self.paint("1;31", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }
    pub fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }

    /// A table in our house style. comfy-table does not read NO_COLOR, so styling is forced off
    /// unless we decided on color ourselves.
    pub fn table(&self) -> Table {
        let mut t = Table::new();
        t.load_style(presets::UTF8_FULL_CONDENSED);
        t.set_content_arrangement(ContentArrangement::Dynamic);
        t.set_width(u16::try_from(self.width).unwrap_or(u16::MAX));
        if self.color {
            t.enforce_styling();
        } else {
            t.force_no_tty();
        }
        t
    }
}

/// `[########............]  62%`
pub fn usage_bar(pct: f64, width: usize) -> String {
    let filled = crate::units::float_to_usize(((pct / 100.0) * width as f64).round()).min(width);
    format!("[{}{}]", "#".repeat(filled), ".".repeat(width - filled))
}

/// `▁▂▄█▅`: one block per value, scaled from 0 to `top` (the largest value when `top` is 0).
pub fn sparkline(values: &[u64], top: u64) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let top = if top == 0 {
        values.iter().copied().max().unwrap_or(0)
    } else {
        top
    };
    values
        .iter()
        .map(|v| {
            if top == 0 {
                BLOCKS[0]
            } else {
                let i =
                    crate::units::float_to_usize((*v.min(&top) as f64 / top as f64 * 7.0).round());
                BLOCKS[i.min(7)]
            }
        })
        .collect()
}

/// [`sparkline`] of `values` in at most `width` columns: when there are more values than
/// columns, each column shows the highest of the values it stands for (a peak is never lost).
pub fn sparkline_fit(values: &[u64], width: usize, top: u64) -> String {
    if values.len() <= width || width == 0 {
        return sparkline(values, top);
    }
    let cols: Vec<u64> = (0..width)
        .map(|c| {
            let (a, b) = (c * values.len() / width, (c + 1) * values.len() / width);
            values[a..b.max(a + 1)].iter().copied().max().unwrap_or(0)
        })
        .collect();
    sparkline(&cols, top)
}

pub use crate::units::{secs, snippet};

/// `Server: 127.0.0.1:3306 (db1) as root@localhost`: which server a report, plan or result is
/// about (the target as connected, the server's own `@@hostname` when known) and the account we
/// act as (`CURRENT_USER()`). Terminal-safe: the hostname and the account come from the server.
pub fn server_line(target: &str, hostname: Option<&str>, account: &str) -> String {
    use crate::text::escape;
    let mut line = format!("Server: {}", escape(target));
    if let Some(h) = hostname.filter(|h| !h.is_empty()) {
        line.push_str(&format!(" ({})", escape(h)));
    }
    if !account.is_empty() {
        line.push_str(&format!(" as {}", escape(account)));
    }
    line
}

/// The `Server:` line of a snapshot (see [`server_line`]).
pub fn snapshot_server_line(snap: &crate::snapshot::Snapshot) -> String {
    server_line(&snap.target, snap.var_str("hostname"), &snap.access.user)
}

/// Write to stdout; a closed pipe (`| head`) is not an error worth reporting.
pub fn print(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// The one place a report and `--format` become text: JSON for programs, or the report's human
/// renderer (`human`, from this module's submodules) for people.
pub fn text<R: serde::Serialize>(
    report: &R,
    format: Format,
    human: impl FnOnce(&R) -> String,
) -> String {
    match format {
        Format::Json => json(report),
        Format::Table => human(report),
    }
}

/// [`text`] written with [`print`]. JSON is made whole in memory, then written at once: into a
/// `Vec` each of serde_json's small writes (two per element of a list of 10,000 session ids) is
/// an inlined copy, where through a `dyn Write` it was a call (`diagnose` at 10,000 sessions
/// writes 40,000 ids, 660 KB).
pub fn emit<R: serde::Serialize>(
    report: &R,
    format: Format,
    human: impl FnOnce(&R) -> String,
) -> std::io::Result<()> {
    print(&text(report, format, human))
}

/// [`emit`] with the report's own JSON text (the text [`json`] writes, sooner).
pub fn emit_as<R>(
    report: &R,
    format: Format,
    json: impl FnOnce(&R) -> String,
    human: impl FnOnce(&R) -> String,
) -> std::io::Result<()> {
    print(&match format {
        Format::Json => json(report),
        Format::Table => human(report),
    })
}

/// Pretty JSON for `--format json`. The text stays exact, and stays terminal-safe when someone
/// reads it on a terminal: serde_json escapes C0 controls, and [`SafeFormatter`] also writes
/// DEL, the C1 controls and the invisible characters ([`crate::text`]: bidi overrides,
/// zero-width and special spaces) as `\uXXXX` (the same string once parsed).
pub fn json<T: serde::Serialize>(value: &T) -> String {
    let mut out = Vec::new();
    let mut ser =
        serde_json::Serializer::with_formatter(&mut out, SafeFormatter(Pretty::default()));
    value.serialize(&mut ser).expect("report types serialize");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// The layout of a snapshot file (see `snapshot_file::snapshot_file`) for any value: JSON like [`json`], its
/// sections pretty and each element of a section (a session, transaction, lock or sample) on
/// one line. A file of 10,000 sessions is 37 % smaller than fully pretty (1.6 MB, not 2.6) and
/// cheaper to write, and `grep` finds a whole session on its line.
pub fn file_text<T: serde::Serialize>(value: &T) -> String {
    let mut out = Vec::new();
    let mut ser =
        serde_json::Serializer::with_formatter(&mut out, SafeFormatter(Pretty::flat_from(3)));
    value.serialize(&mut ser).expect("snapshots serialize");
    out.push(b'\n');
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// One compact line of JSON (`--repeat` rounds, audit log records), terminal-safe like [`json`].
pub fn json_line<T: serde::Serialize>(value: &T) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        SafeFormatter(serde_json::ser::CompactFormatter),
    );
    value.serialize(&mut ser).expect("report types serialize");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// serde_json's `PrettyFormatter` (two spaces a level), the same bytes, with each line break and
/// its indent written at once: a snapshot of 10,000 sessions has 130,000 keys, and writing the
/// indent two spaces at a time was an eighth of `snapshot`'s work. [`Pretty::flat_from`] writes
/// the containers from a depth on one line each.
#[derive(Debug)]
pub struct Pretty {
    level: usize,
    has_value: bool,
    /// Containers opened at this depth or deeper are written on one line, as serde_json's
    /// `CompactFormatter` writes them.
    flat_from: usize,
}

impl Default for Pretty {
    fn default() -> Self {
        Pretty::flat_from(usize::MAX)
    }
}

/// `,` then a line break and 32 levels of indent: a separator is a slice of it.
const BREAKS: &[u8; 66] = b",\n                                                                ";

impl Pretty {
    /// Pretty down to `depth - 1`; each object or array opened at `depth` (the top-level value
    /// is at 1) or deeper on one line.
    pub fn flat_from(depth: usize) -> Self {
        Pretty {
            level: 0,
            has_value: false,
            flat_from: depth,
        }
    }

    /// Inside a container written on one line.
    fn flat(&self) -> bool {
        self.level >= self.flat_from
    }

    fn line<W: ?Sized + std::io::Write>(&self, w: &mut W, comma: bool) -> std::io::Result<()> {
        if self.flat() {
            return w.write_all(if comma { b"," } else { b"" });
        }
        let from = usize::from(!comma);
        let to = 2 + 2 * self.level;
        match BREAKS.get(from..to) {
            Some(slice) => w.write_all(slice),
            None => {
                w.write_all(&BREAKS[from..2])?;
                (0..self.level).try_for_each(|_| w.write_all(b"  "))
            }
        }
    }

    fn open<W: ?Sized + std::io::Write>(&mut self, w: &mut W, c: &[u8]) -> std::io::Result<()> {
        self.level += 1;
        self.has_value = false;
        w.write_all(c)
    }

    fn close<W: ?Sized + std::io::Write>(&mut self, w: &mut W, c: &[u8]) -> std::io::Result<()> {
        let flat = self.flat();
        self.level = self.level.saturating_sub(1);
        if self.has_value && !flat {
            self.line(w, false)?;
        }
        w.write_all(c)
    }
}

impl serde_json::ser::Formatter for Pretty {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"[")
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.line(w, !first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"{")
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.line(w, !first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(if self.flat() { b":" } else { b": " })
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// A serde_json formatter (pretty or compact), with `\uXXXX` for the characters a terminal acts
/// on or does not show that JSON does not require to be escaped.
pub struct SafeFormatter<F>(pub F);

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for SafeFormatter<F> {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        // Printable ASCII (most of any report: names, states, numbers as text) is safe as is;
        // checked byte by byte, without decoding characters (10,000 sessions' fields).
        if fragment.bytes().all(|b| matches!(b, b' '..=b'~')) {
            return w.write_all(fragment.as_bytes());
        }
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if crate::text::is_safe(c.encode_utf8(&mut [0; 4])) {
                continue;
            }
            w.write_all(&fragment.as_bytes()[start..i])?;
            // JSON's `\u` takes UTF-16 code units: an astral character (a tag, U+E0041) is a
            // surrogate pair (RFC 8259 section 7).
            for unit in c.encode_utf16(&mut [0; 2]) {
                write!(w, "\\u{:04x}", unit)?;
            }
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(secs(45), "45s");
        assert_eq!(secs(303), "5m03s");
        assert_eq!(secs(7800), "2h10m");
        assert_eq!(secs(3 * 86_400 + 4 * 3600), "3d4h");
        assert_eq!(crate::units::bytes(512), "512 B");
        assert_eq!(crate::units::bytes(1536 * 1024 * 1024), "1.5 GiB");
        assert_eq!(usage_bar(50.0, 10), "[#####.....]");
        assert_eq!(usage_bar(150.0, 4), "[####]");
        assert_eq!(sparkline(&[0, 1, 2, 4, 7], 7), "▁▂▃▅█");
        assert_eq!(sparkline(&[3, 6, 12], 0), "▃▅█");
        assert_eq!(sparkline(&[0, 0], 0), "▁▁");
        assert_eq!(sparkline(&[20], 10), "█");
        assert_eq!(sparkline(&[], 10), "");
        assert_eq!(sparkline_fit(&[0, 7, 0, 0, 0, 0], 3, 7), "█▁▁");
        assert_eq!(sparkline_fit(&[1, 2], 5, 2), "▅█");
        assert_eq!(
            sparkline_fit(&(0..100).collect::<Vec<_>>(), 10, 0)
                .chars()
                .count(),
            10
        );
        assert_eq!(snippet(Some("SELECT  *\n FROM t"), 100), "SELECT * FROM t");
        assert_eq!(snippet(Some("abcdef"), 4), "abc…");
        assert_eq!(snippet(None, 4), "");
    }

    #[test]
    fn json_escapes_terminal_controls_and_keeps_the_text() {
        let text = "a\x1b]0;t\x07 \u{9b}2J \u{202e}x \u{7f} ünï\n";
        let out = json(&serde_json::json!({ "user": text, "list": [1, 2] }));
        assert!(crate::text::is_safe(&out.replace('\n', "")), "{out:?}");
        assert!(out.contains("\\u009b2J"), "{out}");
        assert!(out.contains("\\u202ex"), "{out}");
        assert!(out.contains("ünï"), "{out}");
        let back: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back["user"], text);
        assert_eq!(
            out,
            serde_json::to_string_pretty(&serde_json::json!({ "list": [1, 2], "user": "x" }))
                .unwrap()
                .replace(
                    "\"x\"",
                    &serde_json::to_string(text)
                        .unwrap()
                        .replace('\u{9b}', "\\u009b")
                        .replace('\u{202e}', "\\u202e")
                        .replace('\u{7f}', "\\u007f")
                )
        );
    }

    #[test]
    fn pretty_writes_serde_jsons_bytes_at_any_depth() {
        let mut deep = serde_json::json!([1, {"a": [], "b": {}, "c": [[2], {"d": null}]}]);
        for _ in 0..40 {
            deep = serde_json::json!({ "k": [deep, "x"], "e": [] });
        }
        for v in [
            serde_json::json!([]),
            serde_json::json!({}),
            serde_json::json!({"a": 1, "b": [true, "s"]}),
            deep,
        ] {
            assert_eq!(json(&v), serde_json::to_string_pretty(&v).unwrap());
        }
    }

    /// Snapshot files: pretty sections, one line per element below them, the same value.
    #[test]
    fn snapshot_files_put_each_element_of_a_section_on_one_line() {
        // (serde_json's map sorts the keys.)
        let v = serde_json::json!({
            "target": "db1",
            "server": {"version_number": [10, 11, 19], "empty": {}, "none": []},
            "sessions": [{"id": 1, "user": "app", "nested": {"a": [1, {"b": null}]}}, {"id": 2}],
        });
        let text = file_text(&v);
        assert_eq!(
            text,
            r#"{
  "server": {
    "empty": {},
    "none": [],
    "version_number": [10,11,19]
  },
  "sessions": [
    {"id":1,"nested":{"a":[1,{"b":null}]},"user":"app"},
    {"id":2}
  ],
  "target": "db1"
}
"#
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn json_writes_invisible_characters_as_escapes() {
        let text = "app\u{200b}\u{a0}\u{3000}\u{2028}\u{3164}\u{feff}\u{e0041}\u{9b}";
        let value = serde_json::json!({ "user": text, "n": [1] });
        for out in [json(&value), json_line(&value)] {
            assert!(
                out.contains(r#""app\u200b\u00a0\u3000\u2028\u3164\ufeff\udb40\udc41\u009b""#),
                "{out}"
            );
            assert!(out.is_ascii(), "{out}");
            let back: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(back, value);
        }
        assert_eq!(
            json_line(&value),
            serde_json::to_string(&value).unwrap().replace(
                text,
                r"app\u200b\u00a0\u3000\u2028\u3164\ufeff\udb40\udc41\u009b"
            )
        );
    }

    #[test]
    fn server_line_names_target_host_and_account_safely() {
        assert_eq!(
            server_line("127.0.0.1:3306", Some("db1"), "root@localhost"),
            "Server: 127.0.0.1:3306 (db1) as root@localhost"
        );
        assert_eq!(
            server_line("/run/mysqld.sock", Some(""), ""),
            "Server: /run/mysqld.sock"
        );
        assert_eq!(
            server_line("h:1", Some("x\x1b]0;t\x07"), "a\x1b[2J@%"),
            "Server: h:1 (x\\e]0;t\\x07) as a\\e[2J@%"
        );
    }
}
