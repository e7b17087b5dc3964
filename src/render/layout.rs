//! Fitting human output to the terminal's width (issue 11, "readable at 80 columns").
//!
//! - Tables never wrap a row: [`fit_table`] measures every column, shortens the truncatable ones
//!   (query texts, states, reasons; cut with `…` by [`crate::text::snippet`]) down to their
//!   minimum, and when that is not enough leaves whole columns out, least useful first, and says
//!   so under the table. Ids, counts and durations are never cut.
//! - Prose ([`wrap`]) wraps at spaces with a hanging indent; a number or a `name = value` pair is
//!   never split. A word longer than a whole line (a hostile 200-character user name) is cut
//!   hard: nothing else could keep the line within the width.
//! - Suggested commands ([`command`]) wrap only between shell words, with a trailing ` \` so the
//!   lines still paste as one command; SQL wraps between tokens (the client joins the lines until
//!   `;`). Quoted words stay whole, so a pasted command or statement means what it did on one
//!   line; a single word longer than the line is left long rather than broken.
//!
//! Widths are display columns (`unicode-width`, as comfy-table counts them), so wide characters
//! in a hostile user name cannot push a row past the edge, and the escape sequences of our own
//! colours ([`super::Style`]) take none: coloured text wraps where plain text does. (Server text
//! never carries a raw escape: [`crate::text::escape`] shows it as `\e`.) Nothing here reads the
//! environment: the width comes from [`super::Style`].

use comfy_table::ContentArrangement;
use unicode_width::UnicodeWidthStr;

use super::{MIN_WIDTH, Style};

/// Put between two words that must stay on one line (`Aborted_clients` and its number); shown
/// as a space.
pub const GLUE: char = '\u{e000}';

/// Display width of `s` in terminal columns: escape sequences (colours) take none.
pub fn width_of(s: &str) -> usize {
    // Printable ASCII is one column a byte: most cells of a 10,000-row table.
    if s.bytes().all(|b| matches!(b, b' '..=b'~')) {
        return s.len();
    }
    if !s.contains(ESC) {
        return UnicodeWidthStr::width(s);
    }
    atoms(s)
        .map(|a| {
            if is_sequence(a) {
                0
            } else {
                UnicodeWidthStr::width(a)
            }
        })
        .sum()
}

/// Whether an atom of [`atoms`] is an escape sequence (a lone ESC is a character).
fn is_sequence(atom: &str) -> bool {
    atom.len() > 1 && atom.starts_with(ESC)
}

const ESC: char = '\x1b';

/// `s` cut into its characters, an escape sequence (`ESC [ … final byte`, ECMA-48 CSI, what
/// [`super::Style`] emits) being one piece: a cut never lands inside one.
fn atoms(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = s;
    std::iter::from_fn(move || {
        let c = rest.chars().next()?;
        let mut len = c.len_utf8();
        if c == ESC && rest[len..].starts_with('[') {
            // Parameter and intermediate bytes (0x20-0x3F), then one final byte (0x40-0x7E);
            // anything else is not a sequence, just characters.
            let body = &rest[len + 1..];
            if let Some(i) = body.find(|ch: char| !matches!(ch, ' '..='?'))
                && matches!(body[i..].chars().next(), Some('@'..='~'))
            {
                len += 1 + i + 1;
            }
        }
        let (atom, tail) = rest.split_at(len);
        rest = tail;
        Some(atom)
    })
}

/// `s` without its escape sequences: what a terminal shows.
pub fn strip_escapes(s: &str) -> String {
    atoms(s).filter(|a| !is_sequence(a)).collect()
}

/// `s` cut to at most `max` display columns with `…` (unchanged when it fits). An escape such as
/// `\e` is never cut in half (see [`crate::text::snippet`]); coloured text that must be cut
/// loses its colour rather than keep half a sequence.
pub fn fit(s: &str, max: usize) -> String {
    if width_of(s) <= max {
        return s.to_string();
    }
    if s.contains(ESC) {
        return fit(&strip_escapes(s), max);
    }
    let mut chars = max;
    loop {
        let cut = crate::text::snippet(s, chars);
        let w = width_of(cut.as_str());
        if w <= max || chars == 0 {
            return cut;
        }
        chars = chars.saturating_sub((w - max).max(1));
    }
}

/// How a table column behaves when the table is too wide.
#[derive(Debug, Clone, Copy)]
pub struct Col {
    pub name: &'static str,
    /// Cut with `…` down to this many columns (None: never cut: ids, counts, durations).
    pub min: Option<usize>,
    /// Left out when even the cut table does not fit, highest first (0: never left out).
    pub drop: u8,
}

impl Col {
    /// A column that is never cut or left out.
    pub const fn keep(name: &'static str) -> Col {
        Col {
            name,
            min: None,
            drop: 0,
        }
    }
    /// A column cut down to `min` columns when needed, left out at rank `drop`.
    pub const fn cut(name: &'static str, min: usize, drop: u8) -> Col {
        Col {
            name,
            min: Some(min),
            drop,
        }
    }
    /// A column never cut, left out at rank `drop`.
    pub const fn whole(name: &'static str, drop: u8) -> Col {
        Col {
            name,
            min: None,
            drop,
        }
    }
}

/// comfy-table's condensed UTF-8 style: `│ a ┆ b │` is 3 columns per cell plus 1.
fn table_width(widths: &[usize]) -> usize {
    widths.iter().sum::<usize>() + 3 * widths.len() + 1
}

/// The widths of the kept columns once the truncatable ones are cut, or None if it cannot fit.
fn shrink(cols: &[Col], natural: &[usize], keep: &[usize], width: usize) -> (Vec<usize>, bool) {
    let mut w: Vec<usize> = keep.iter().map(|&i| natural[i]).collect();
    let mut excess = table_width(&w).saturating_sub(width);
    // Cut the columns that may be left out before those that may not (the query before the
    // user), the widest first, so that a cut is shared fairly among them.
    while excess > 0 {
        let Some((k, _)) = keep
            .iter()
            .enumerate()
            .filter_map(|(k, &i)| {
                let min = cols[i].min?.max(width_of(cols[i].name));
                (w[k] > min).then(|| (k, cols[i].drop > 0))
            })
            .max_by_key(|&(k, optional)| (optional, w[k], std::cmp::Reverse(k)))
        else {
            break;
        };
        w[k] -= 1;
        excess -= 1;
    }
    (w, excess == 0)
}

/// Which columns of a table fit `width`, and how wide each kept one is.
#[derive(Debug)]
pub struct Fit {
    /// Indexes of the kept columns, in order.
    pub keep: Vec<usize>,
    /// The width of each kept column.
    pub widths: Vec<usize>,
    /// Indexes of the columns left out.
    pub dropped: Vec<usize>,
}

/// Every cell measured once: choosing the columns, cutting the cells and drawing the table all
/// use these widths (a session table of 10,000 rows has 90,000 cells, and measuring each three
/// or four times was most of `sessions`' work).
struct Measured {
    /// Row-major, one per column of `cols` (a missing cell is empty: 0 wide), with whether the
    /// cell is one line without escape sequences ([`draw`] lays those out itself).
    cells: Vec<(u32, bool)>,
    /// The widest cell of each column, its name included.
    natural: Vec<usize>,
    /// Whether a column is empty in every row.
    empty: Vec<bool>,
}

/// A cell's display width, and whether it is one line without escape sequences: printable
/// ASCII (most cells) is both, found in one pass.
fn measure(s: &str) -> (usize, bool) {
    if s.bytes().all(|b| matches!(b, b' '..=b'~')) {
        return (s.len(), true);
    }
    (width_of(s), !s.contains('\n') && !s.contains(ESC))
}

fn measure_rows<S: AsRef<str> + Sync>(cols: &[Col], rows: &[Vec<S>]) -> Measured {
    // 10,000 rows are measured in two halves at once (see `parallel`).
    let split = rows.len() >= crate::parallel::WORTH_SPLITTING;
    let (first, second) = rows.split_at(rows.len() / 2);
    let (mut m, rest) = crate::parallel::join(
        split,
        || measure_part(cols, first, rows.len()),
        || measure_part(cols, second, second.len()),
    );
    m.cells.extend(rest.cells);
    for (i, (natural, empty)) in rest.natural.into_iter().zip(rest.empty).enumerate() {
        m.natural[i] = m.natural[i].max(natural);
        m.empty[i] &= empty;
    }
    m
}

/// [`measure_rows`] of some of the rows, with room for `capacity` rows' cells.
fn measure_part<S: AsRef<str>>(cols: &[Col], rows: &[Vec<S>], capacity: usize) -> Measured {
    let n = cols.len();
    let mut m = Measured {
        cells: Vec::with_capacity(capacity * n),
        natural: cols.iter().map(|c| width_of(c.name)).collect(),
        empty: vec![true; n],
    };
    for r in rows {
        for i in 0..n {
            let cell = r.get(i).map_or("", AsRef::as_ref);
            let (w, plain) = measure(cell);
            // A cell wider than 4 billion columns is drawn at that width: it cannot be shown
            // on one terminal line anyway, and the column cut cuts it.
            m.cells.push((u32::try_from(w).unwrap_or(u32::MAX), plain));
            m.natural[i] = m.natural[i].max(w);
            m.empty[i] &= cell.is_empty();
        }
    }
    m
}

/// Measure the cells and decide: cut the truncatable columns down to their minimum, and when
/// that is not enough leave columns out, empty ones first, then by rank.
pub fn choose<S: AsRef<str> + Sync>(width: usize, cols: &[Col], rows: &[Vec<S>]) -> Fit {
    choose_measured(width, cols, &measure_rows(cols, rows))
}

fn choose_measured(width: usize, cols: &[Col], m: &Measured) -> Fit {
    let width = width.max(MIN_WIDTH);
    let mut order: Vec<usize> = (0..cols.len()).filter(|&i| cols[i].drop > 0).collect();
    order.sort_by_key(|&i| {
        (
            std::cmp::Reverse(m.empty[i]),
            std::cmp::Reverse(cols[i].drop),
            i,
        )
    });
    let mut keep: Vec<usize> = (0..cols.len()).collect();
    let mut dropped: Vec<usize> = Vec::new();
    let mut next = order.into_iter();
    let widths = loop {
        let (w, fits) = shrink(cols, &m.natural, &keep, width);
        if fits {
            break w;
        }
        match next.next() {
            Some(i) => {
                keep.retain(|&k| k != i);
                dropped.push(i);
            }
            None => break w,
        }
    };
    dropped.sort_unstable();
    Fit {
        keep,
        widths,
        dropped,
    }
}

/// The line under a table naming the columns left out (empty when none was).
pub fn dropped_note(style: Style, cols: &[Col], dropped: &[usize]) -> String {
    if dropped.is_empty() {
        return String::new();
    }
    let width = style.width.max(MIN_WIDTH);
    let names: Vec<&str> = dropped.iter().map(|&i| cols[i].name).collect();
    wrap(
        &style.dim(&format!(
            "(not shown at {width} columns: {}; a wider terminal or --format json shows all)",
            names.join(", ")
        )),
        width,
        "",
        " ",
    )
}

/// A table that fits `style.width` on one line per row: cells cut with `…` where allowed,
/// columns left out (named in a note under the table) when cutting is not enough. `rows` hold
/// terminal-safe text already (escaped by the caller).
pub fn fit_table<S: AsRef<str> + Sync>(style: Style, cols: &[Col], rows: &[Vec<S>]) -> String {
    let mut out = String::new();
    push_table(&mut out, style, cols, rows);
    out
}

/// [`fit_table`] written at the end of `out`: a table of 10,000 rows is not copied into the
/// text around it.
pub fn push_table<S: AsRef<str> + Sync>(
    out: &mut String,
    style: Style,
    cols: &[Col],
    rows: &[Vec<S>],
) {
    let m = measure_rows(cols, rows);
    let chosen = choose_measured(style.width, cols, &m);
    let header: Vec<&str> = chosen.keep.iter().map(|&i| cols[i].name).collect();
    let n = cols.len();
    let text = |r: usize, i: usize| rows[r].get(i).map_or("", AsRef::as_ref);
    // The cells too wide for their column, cut, by (row, kept column): most fit and are
    // borrowed as they are.
    let mut cut: crate::fast_hash::HashMap<(usize, usize), (String, usize, bool)> =
        Default::default();
    for (k, (&i, &w)) in chosen.keep.iter().zip(&chosen.widths).enumerate() {
        if m.natural[i] <= w {
            continue;
        }
        for r in 0..rows.len() {
            if m.cells[r * n + i].0 as usize > w {
                let short = fit(text(r, i), w);
                let (width, plain) = measure(&short);
                cut.insert((r, k), (short, width, plain));
            }
        }
    }
    let cell = |r: usize, k: usize| {
        let i = chosen.keep[k];
        let (width, plain) = m.cells[r * n + i];
        if width as usize > chosen.widths[k]
            && let Some((short, width, plain)) = cut.get(&(r, k))
        {
            return (short.as_str(), *width, *plain);
        }
        (text(r, i), width as usize, plain)
    };
    draw(out, style, &header, rows.len(), cell);
    if !chosen.dropped.is_empty() {
        out.push('\n');
        out.push_str(&dropped_note(style, cols, &chosen.dropped));
    }
}

/// The table comfy-table draws in our house style ([`Style::table`], `UTF8_FULL_CONDENSED`,
/// content arrangement off), drawn directly when every cell is one line: the same bytes
/// (checked against comfy-table in the tests below) for a fraction of the cost, which matters
/// for a kill plan of 1,000 sessions printed before the first KILL (BENCHMARKS.md, "Killing
/// at the floor") and a `sessions` table of 10,000. Anything else goes through comfy-table.
/// `cell(row, column)` is a cell's text, display width and whether it is one line without
/// escape sequences.
fn draw<'c>(
    out: &mut String,
    style: Style,
    header: &[&str],
    rows: usize,
    cell: impl Fn(usize, usize) -> (&'c str, usize, bool) + Sync,
) {
    let n = header.len();
    // 10,000 rows are scanned and drawn in two halves at once (see `parallel`).
    let split = rows >= crate::parallel::WORTH_SPLITTING;
    let mid = rows / 2;
    // Each column's width, the text's size and whether every cell is one line.
    let scan = |range: std::ops::Range<usize>| {
        let mut widths = vec![0; n];
        let (mut plain, mut text_bytes) = (true, 0);
        for r in range {
            for (k, w) in widths.iter_mut().enumerate() {
                let (text, width, one_line) = cell(r, k);
                *w = (*w).max(width);
                text_bytes += text.len();
                plain &= one_line;
            }
        }
        (widths, plain, text_bytes)
    };
    let ((w1, p1, b1), (w2, p2, b2)) =
        crate::parallel::join(split, || scan(0..mid), || scan(mid..rows));
    let widths: Vec<usize> = header
        .iter()
        .zip(w1.iter().zip(&w2))
        .map(|(h, (a, b))| width_of(h).max(*a).max(*b))
        .collect();
    let plain = p1 && p2 && header.iter().all(|h| !h.contains('\n') && !h.contains(ESC));
    let text_bytes = b1 + b2;
    if rows == 0 || !plain {
        let mut t = style.table();
        t.set_content_arrangement(ContentArrangement::Disabled);
        t.set_header(header.to_vec());
        for r in 0..rows {
            t.add_row((0..n).map(|k| cell(r, k).0).collect::<Vec<&str>>());
        }
        out.push_str(&t.to_string());
        return;
    }
    // The whole table in one allocation: besides its text, a row is at most its padding (one
    // byte a column) and 3-byte separators; a rule is at most three times that.
    let line_max: usize = widths.iter().map(|w| w + 2).sum::<usize>() + 3 * (n + 1) + 1;
    out.reserve(text_bytes + line_max * (rows + 1 + 3 * 3));
    let border = |out: &mut String, [left, fill, junction, right]: [char; 4]| {
        out.push(left);
        for (i, w) in widths.iter().enumerate() {
            if i > 0 {
                out.push(junction);
            }
            out.extend(std::iter::repeat_n(fill, w + 2));
        }
        out.push(right);
    };
    // A row is `│ a␣┆ b␣│`, each cell padded to its column's width plus one. What follows a
    // cell (its padding and the separator) is a slice of one string per column: two copies a
    // cell, 90,000 cells.
    let tails: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(k, &w)| {
            let mut t = String::with_capacity(w + 4);
            spaces(&mut t, w);
            t.push_str(if k + 1 < n { " ┆ " } else { " │" });
            t
        })
        .collect();
    border(out, ['┌', '─', '┬', '┐']);
    out.push('\n');
    push_row(out, &tails, header.iter().map(|h| (*h, width_of(h))));
    out.push('\n');
    border(out, ['╞', '═', '╪', '╡']);
    let push_rows = |out: &mut String, range: std::ops::Range<usize>| {
        for r in range {
            out.push('\n');
            push_row(
                out,
                &tails,
                (0..n).map(|k| {
                    let (text, width, _) = cell(r, k);
                    (text, width)
                }),
            );
        }
    };
    let ((), second) = crate::parallel::join(
        split,
        || push_rows(out, 0..mid),
        || {
            let mut half = String::with_capacity(b2 + line_max * (rows - mid));
            push_rows(&mut half, mid..rows);
            half
        },
    );
    out.push_str(&second);
    out.push('\n');
    border(out, ['└', '─', '┴', '┘']);
}

/// One row of [`draw`]: `│ `, then each cell's text (with its display width) followed by the
/// rest of its column's padding and separator (`tails`).
fn push_row<'a>(out: &mut String, tails: &[String], cells: impl Iterator<Item = (&'a str, usize)>) {
    out.push_str("│ ");
    for ((text, width), tail) in cells.zip(tails) {
        out.push_str(text);
        out.push_str(&tail[width..]);
    }
}

/// `n` spaces at the end of `out`, a slice at a time (a table pads 90,000 cells).
fn spaces(out: &mut String, mut n: usize) {
    const SPACES: &str = "                                                                ";
    while n > 0 {
        let k = n.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        n -= k;
    }
}

/// Join `text` into lines of at most `width` columns: the first starts with `first`, the others
/// with `rest` (a hanging indent). Breaks only at spaces (runs of spaces inside a line are kept);
/// a `name = value` pair stays together. Line breaks already in the text are kept (each line is
/// wrapped on its own, with `rest`).
pub fn wrap(text: &str, width: usize, first: &str, rest: &str) -> String {
    let width = width.max(MIN_WIDTH);
    // A terminal shows a tab as up to 8 columns, its measured width is 1: spaces instead.
    let text = &text.replace('\t', "    ");
    let mut out = String::new();
    // Colours carry over line breaks already in the text too (see [`Colours`]).
    let mut colours = Colours::default();
    for (n, para) in text.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let lead = if n == 0 { first } else { rest };
        // Glue `a = b` into one unit (GLUE is turned back into spaces below).
        let glued = para.replace(" = ", &format!("{GLUE}={GLUE}"));
        let mut words: Vec<(String, String)> = Vec::new();
        let mut sep = String::new();
        let mut word = String::new();
        for c in glued.chars() {
            if c == ' ' {
                if !word.is_empty() {
                    words.push((std::mem::take(&mut sep), std::mem::take(&mut word)));
                }
                sep.push(' ');
            } else {
                word.push(if c == GLUE { ' ' } else { c });
            }
        }
        if !word.is_empty() {
            words.push((sep, word));
        }
        out.push_str(&fill(&words, width, lead, rest, "", true, &mut colours));
    }
    out
}

/// Lay out `words` (each with the spaces before it) in lines of at most `width` columns: `lead`
/// before the first, `rest` before the others (the spaces at a break are dropped) and `end` at
/// the end of every line but the last. `hard` cuts a word longer than a whole line (prose);
/// otherwise it stays long (commands). A colour open at a break is closed at the end of the
/// line and opened again after the next line's indent ([`Colours`]).
fn fill(
    words: &[(String, String)],
    width: usize,
    lead: &str,
    rest: &str,
    end: &str,
    hard: bool,
    colours: &mut Colours,
) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = colours.reopen(lead);
    let mut empty = true;
    for (i, (sep, word)) in words.iter().enumerate() {
        // The first word keeps its leading spaces (an indented line of prose).
        let sep = if empty && i > 0 { "" } else { sep.as_str() };
        if !empty && width_of(&line) + width_of(sep) + width_of(word) + width_of(end) > width {
            lines.push(colours.close(line));
            line = colours.reopen(rest);
            empty = true;
        }
        if !empty || i == 0 {
            line.push_str(sep);
        }
        let room = width.saturating_sub(width_of(&line) + width_of(end)).max(1);
        if hard && width_of(word) > room {
            // Cut a word that cannot fit on any line into pieces that do (never inside an
            // escape sequence).
            let mut piece = String::new();
            for c in atoms(word) {
                let mut s = piece.clone();
                s.push_str(c);
                if width_of(&line) + width_of(&s) > width && !piece.is_empty() {
                    line.push_str(&piece);
                    lines.push(colours.close(line));
                    line = colours.reopen(rest);
                    piece = c.to_string();
                } else {
                    piece = s;
                }
                colours.see(c);
            }
            line.push_str(&piece);
        } else {
            line.push_str(word);
            atoms(word).for_each(|a| colours.see(a));
        }
        empty = false;
    }
    lines.push(colours.close(line));
    let n = lines.len();
    lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| if i + 1 < n { format!("{l}{end}") } else { l })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The colour sequences in effect at a point of the text (everything opened since the last
/// reset), so that a wrapped line ends with its colours closed and the next one reopens them:
/// each line stands alone (a pager, a copied command, `grep` never inherit a colour).
#[derive(Default)]
struct Colours {
    open: Vec<String>,
}

const RESET: &str = "\x1b[0m";

impl Colours {
    fn see(&mut self, atom: &str) {
        if !is_sequence(atom) {
            return;
        }
        if atom == RESET || atom == "\x1b[m" {
            self.open.clear();
        } else {
            self.open.push(atom.to_string());
        }
    }

    fn close(&self, mut line: String) -> String {
        if !self.open.is_empty() {
            line.push_str(RESET);
        }
        line
    }

    fn reopen(&self, indent: &str) -> String {
        let mut line = indent.to_string();
        line.extend(self.open.iter().map(String::as_str));
        line
    }
}

/// Shell or SQL words: split at spaces outside quotes and backquotes (a backslash escapes the
/// next character), so a quoted `'my user'@'%'` stays one word.
pub fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match (quote, c) {
            (_, '\\') if quote != Some('\'') => {
                cur.push(c);
                escaped = true;
            }
            (None, ' ') => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            (None, '\'' | '"' | '`') => {
                quote = Some(c);
                cur.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Words joined by single spaces, for [`fill`]; an option stays with its value (`--older-than
/// 300s` is never split over two lines).
fn spaced(words: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut option = false;
    for w in words {
        let value = !w.starts_with('-') && !w.starts_with('#');
        match out.last_mut() {
            Some((_, prev)) if option && value => {
                prev.push(' ');
                prev.push_str(w);
                option = false;
            }
            _ => {
                let sep = if out.is_empty() { "" } else { " " };
                out.push((sep.to_string(), w.clone()));
                option = w.len() > 1 && w.starts_with('-') && !w.contains('=');
            }
        }
    }
    out
}

/// Split off a trailing comment: the first word that starts with `marker` (outside quotes)
/// begins it.
fn comment<'a>(words: &'a [String], marker: &str) -> (&'a [String], Option<String>) {
    match words.iter().position(|w| w.starts_with(marker)) {
        Some(i) => (&words[..i], Some(words[i..].join(" "))),
        None => (words, None),
    }
}

/// A suggested shell command: `first` then the command, wrapped between words with ` \` at the
/// end of each continued line, so that it still pastes as one command. A trailing `# comment`
/// that does not fit goes on lines of its own under the command (a backslash inside a comment
/// would not continue the line: the next line would run as a command).
pub fn command(cmd: &str, width: usize, first: &str, rest: &str) -> String {
    with_comment(cmd, width, first, rest, "#", " \\")
}

/// A SQL statement, wrapped between tokens (never inside a quoted name or string); a trailing
/// `-- comment` that does not fit goes on `-- ` lines of its own under the statement.
pub fn sql(stmt: &str, width: usize, first: &str, rest: &str) -> String {
    with_comment(stmt, width, first, rest, "--", "")
}

fn with_comment(
    text: &str,
    width: usize,
    first: &str,
    rest: &str,
    marker: &str,
    end: &str,
) -> String {
    let width = width.max(MIN_WIDTH);
    let one_line = format!("{first}{text}");
    if width_of(&one_line) <= width {
        return one_line;
    }
    let all = words(text);
    let (code, note) = comment(&all, marker);
    let mut out = fill(
        &spaced(code),
        width,
        first,
        rest,
        end,
        false,
        &mut Colours::default(),
    );
    if let Some(note) = note {
        let body = note.trim_start_matches(marker).trim_start();
        let pad = " ".repeat(width_of(rest));
        out.push('\n');
        out.push_str(&wrap(
            body,
            width,
            &format!("{pad}{marker} "),
            &format!("{pad}{marker} "),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn style(width: usize) -> Style {
        Style {
            color: false,
            width,
        }
    }

    #[test]
    fn colours_take_no_width_and_are_never_cut_in_half() {
        let red = Style {
            color: true,
            width: 80,
        }
        .red("CRITICAL");
        assert_eq!(red, "\x1b[1;31mCRITICAL\x1b[0m");
        assert_eq!(width_of(&red), 8);
        assert_eq!(strip_escapes(&red), "CRITICAL");
        assert_eq!(atoms(&red).count(), 10);
        // A lone ESC or an unfinished sequence is one character, as before.
        assert_eq!(atoms("\x1b[12").count(), 4);
        assert_eq!(width_of("a\x1b"), UnicodeWidthStr::width("a\x1b"));
        // Wrapped coloured prose breaks where plain prose does.
        let words = "the quick brown fox jumps over the lazy dog and keeps running far away";
        let plain = wrap(words, 40, "  ", "    ");
        let coloured: String = words
            .split(' ')
            .map(|w| format!("\x1b[1m{w}\x1b[0m"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(strip_escapes(&wrap(&coloured, 40, "  ", "    ")), plain);
        // A coloured word longer than the line is cut between characters, never in a sequence.
        let long = format!("\x1b[33m{}\x1b[0m", "y".repeat(100));
        let cut = wrap(&long, 40, "", "");
        assert!(cut.lines().all(|l| width_of(l) <= 40), "{cut:?}");
        assert_eq!(strip_escapes(&cut).replace('\n', ""), "y".repeat(100));
        assert_eq!(fit(&red, 5), "CRIT…");
    }

    #[test]
    fn fit_cuts_by_display_width() {
        assert_eq!(fit("abcdef", 10), "abcdef");
        assert_eq!(fit("abcdef", 4), "abc…");
        let wide = "漢字漢字漢字";
        let f = fit(wide, 5);
        assert!(width_of(&f) <= 5, "{f}");
        assert!(f.ends_with('…'));
    }

    #[test]
    fn prose_wraps_at_spaces_with_a_hanging_indent() {
        let text = "the quick brown fox jumps over the lazy dog and keeps running far away 1234567";
        let out = wrap(text, 40, "  ", "    ");
        for l in out.lines() {
            assert!(width_of(l) <= 40, "{l:?}");
        }
        assert!(out.starts_with("  the quick"), "{out}");
        assert!(out.lines().skip(1).all(|l| l.starts_with("    ")), "{out}");
        assert!(out.contains("1234567"), "numbers never split: {out}");
        assert_eq!(out.split_whitespace().collect::<Vec<_>>().join(" "), text);
    }

    #[test]
    fn name_value_pairs_stay_together() {
        let out = wrap(
            "evidence: Threads_connected = 150; max_connections = 151; Aborted_clients = 12345",
            40,
            "",
            "  ",
        );
        for l in out.lines() {
            assert!(!l.trim_end().ends_with('='), "{out}");
            assert!(!l.trim_start().starts_with('='), "{out}");
        }
    }

    #[test]
    fn an_overlong_word_is_cut_to_fit() {
        let long = "x".repeat(100);
        let out = wrap(&format!("user {long} is here"), 40, "", "  ");
        assert!(out.lines().all(|l| width_of(l) <= 40), "{out}");
        assert_eq!(out.matches('x').count(), 100);
    }

    #[test]
    fn commands_wrap_between_words_and_still_paste() {
        let cmd = "conncheck -h db1.example.com -u admin kill-idle --older-than 300s --match-user 'report user'@'%' --yes";
        let out = command(cmd, 40, "    $ ", "        ");
        for l in out.lines() {
            assert!(width_of(l) <= 40, "{l:?}");
        }
        assert!(out.contains("'report user'@'%'"), "{out}");
        // Joining the continued lines as a shell does gives the command back.
        let joined = out
            .trim_start_matches("    $ ")
            .replace(" \\\n        ", " ");
        assert_eq!(joined, cmd);
    }

    #[test]
    fn sql_never_breaks_a_quoted_name() {
        let out = sql(
            "ALTER USER 'a very long user name'@'10.0.0.%' WITH MAX_USER_CONNECTIONS 50;",
            40,
            "    sql> ",
            "         ",
        );
        assert!(out.contains("'a very long user name'@'10.0.0.%'"), "{out}");
    }

    #[test]
    fn tables_are_drawn_as_comfy_table_draws_them() {
        let cells = [
            "",
            "1",
            "app",
            "漢字のユーザー",
            "SELECT * FROM t WHERE x = 1…",
            "10.0.0.1",
            "…",
            "a b  c",
            "Sleep",
            "12345678901234567890",
        ];
        let header = ["id", "user", "host", "query"];
        for n in [1usize, 2, 7, 30] {
            let rows: Vec<Vec<String>> = (0..n)
                .map(|r| {
                    (0..header.len())
                        .map(|c| cells[(r * 7 + c * 3) % cells.len()].to_string())
                        .collect()
                })
                .collect();
            for color in [false, true] {
                let st = Style { color, width: 80 };
                let mut t = st.table();
                t.set_content_arrangement(ContentArrangement::Disabled);
                t.set_header(header.to_vec());
                for r in &rows {
                    t.add_row(r.clone());
                }
                let mut drawn = String::new();
                draw(&mut drawn, st, &header, rows.len(), |r, k| {
                    let (width, plain) = measure(&rows[r][k]);
                    (rows[r][k].as_str(), width, plain)
                });
                assert_eq!(drawn, t.to_string(), "{n} rows");
            }
        }
    }

    /// `fit_table` measures each cell once; the result must be what cutting each cell to its
    /// column and letting comfy-table draw gives, at every width.
    #[test]
    fn fitted_tables_are_what_comfy_table_draws_of_the_cut_cells() {
        let cols = [
            Col::keep("id"),
            Col::cut("user", 8, 0),
            Col::whole("db", 2),
            Col::cut("state", 6, 3),
            Col::cut("query", 10, 1),
        ];
        let texts = [
            "",
            "12345",
            "a_rather_long_user_name",
            "漢字のユーザー名前",
            "SELECT * FROM a_table WHERE x = 1 AND y = 'some value'",
            "\x1b[1mbold\x1b[0m text that is long enough to be cut",
            "two\nlines",
            "Sleep",
        ];
        // With a cell of two lines every table goes through comfy-table; without, most are
        // drawn directly (a coloured cell is drawn directly once cut, which drops its colour).
        let one_line: Vec<&str> = texts
            .iter()
            .copied()
            .filter(|t| !t.contains('\n'))
            .collect();
        // 2,001 rows: scanned and drawn in two halves on two threads (`parallel`).
        const { assert!(2_001 >= crate::parallel::WORTH_SPLITTING) };
        for (n, texts) in [1usize, 3, 12, 2_001]
            .into_iter()
            .flat_map(|n| [(n, &texts[..]), (n, &one_line[..])])
        {
            let rows: Vec<Vec<String>> = (0..n)
                .map(|r| {
                    (0..cols.len())
                        .map(|c| texts[(r * 5 + c * 3) % texts.len()].to_string())
                        .collect()
                })
                .collect();
            for width in [40, 60, 80, 120, 200] {
                let st = Style {
                    color: false,
                    width,
                };
                let chosen = choose(width, &cols, &rows);
                let mut t = st.table();
                t.set_content_arrangement(ContentArrangement::Disabled);
                t.set_header(
                    chosen
                        .keep
                        .iter()
                        .map(|&i| cols[i].name)
                        .collect::<Vec<_>>(),
                );
                for r in &rows {
                    t.add_row(
                        chosen
                            .keep
                            .iter()
                            .zip(&chosen.widths)
                            .map(|(&i, &w)| fit(&r[i], w))
                            .collect::<Vec<_>>(),
                    );
                }
                let mut want = t.to_string();
                if !chosen.dropped.is_empty() {
                    want.push('\n');
                    want.push_str(&dropped_note(st, &cols, &chosen.dropped));
                }
                assert_eq!(fit_table(st, &cols, &rows), want, "{n} rows at {width}");
            }
        }
    }

    #[test]
    fn tables_fit_by_cutting_then_leaving_columns_out() {
        let cols = [
            Col::keep("id"),
            Col::cut("user", 8, 0),
            Col::whole("db", 2),
            Col::cut("query", 10, 1),
        ];
        let rows = vec![vec![
            "123456".to_string(),
            "a_rather_long_user_name".to_string(),
            "some_database_name".to_string(),
            "SELECT * FROM a_table WHERE x = 1".to_string(),
        ]];
        let wide = fit_table(style(120), &cols, &rows);
        assert!(wide.contains("SELECT * FROM a_table WHERE x = 1"), "{wide}");
        let narrow = fit_table(style(40), &cols, &rows);
        for l in narrow.lines() {
            assert!(width_of(l) <= 40, "{l:?}\n{narrow}");
        }
        assert!(narrow.contains("123456"), "{narrow}");
        assert!(narrow.contains("not shown at 40 columns: db"), "{narrow}");
    }
}
