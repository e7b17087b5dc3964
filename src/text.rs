//! Terminal-safe text. Every string a server, a file or a user's environment hands us passes
//! through one of these functions before a person reads it: any database user controls query
//! texts, user names, host names and database names, and a raw ESC can erase a kill plan from the
//! screen right before the confirmation prompt, or retitle the terminal window.
//!
//! What is escaped: C0 controls (newline and tab too, except in [`prose`]), DEL, ESC, the C1
//! range U+0080–U+009F, and every character a terminal draws as nothing or as a plain space
//! ([`invisible`]: Unicode categories Cf, Zl, Zp, Zs other than U+0020, the Hangul fillers). Cf
//! holds the bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069) that reorder
//! how a line reads ("Trojan Source") and the zero-width characters that make `app` + U+200B look
//! like the account `app`. They are shown visibly: `\e`, `\n`, `\t`, `\r`, `\0` or
//! `\xHH`/`\u{HHHH}` (`app\u{200b}`), so two names that differ only in them never look alike.
//! Invalid UTF-8 becomes U+FFFD ([`lossy`]). JSON output is not passed through here: it keeps the
//! text exact and writes the same characters as `\uXXXX` (`render::json`).
//!
//! Nothing here knows about servers or rendering; `connect` (error messages), `render` and the
//! commands all use it.

pub mod digest;
mod invisible;

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must never reach a terminal raw: a control character, or one drawn as nothing or
/// as a plain space ([`invisible::is_invisible`]).
fn is_dangerous(c: char) -> bool {
    match c {
        ' '..='~' => false,
        '\u{0}'..='\u{1f}' | '\u{7f}' | '\u{80}'..='\u{9f}' => true,
        c => invisible::is_invisible(c),
    }
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\u{1b}' => out.push_str("\\e"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\0' => out.push_str("\\0"),
        c if (c as u32) < 0x100 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

fn escape_where(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| is_dangerous(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_dangerous(c) && !keep(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A clause written lower-case to be quoted inline, as the start of a sentence.
pub fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A value shown on one line (a table cell, a user or host name, a word in a sentence): every
/// control character is escaped, newlines and tabs included.
pub fn escape(s: &str) -> Cow<'_, str> {
    escape_where(s, |_| false)
}

/// A file name on one line, as [`escape`] shows any value: a name is bytes anyone who can create
/// a file chose (an incident folder, an `!include` line), and invalid UTF-8 becomes U+FFFD.
pub fn path(p: &std::path::Path) -> String {
    escape(&p.to_string_lossy()).into_owned()
}

/// Text that may span lines (an error message quoting the server, `sessions --full`): newlines and
/// tabs are kept, every other control character is escaped.
pub fn prose(s: &str) -> Cow<'_, str> {
    escape_where(s, |c| c == '\n' || c == '\t')
}

/// A query text (or any long value) on one line: runs of whitespace become one space, controls
/// are escaped, and the result is cut to at most `max` characters with `…` at the end. An escape
/// such as `\e` is never cut in half.
pub fn snippet(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0usize;
    let mut pending_space = false;
    let mut truncated = false;
    let mut unit = String::new();
    for c in text.chars() {
        if c == ' ' || c == '\n' || c == '\t' || c == '\r' {
            pending_space = count > 0;
            continue;
        }
        unit.clear();
        if pending_space {
            unit.push(' ');
            pending_space = false;
        }
        if is_dangerous(c) {
            push_escaped(&mut unit, c);
        } else {
            unit.push(c);
        }
        let n = unit.chars().count();
        // Keep room for the ellipsis unless this unit ends the text exactly at `max`.
        if count + n > max {
            truncated = true;
            break;
        }
        out.push_str(&unit);
        count += n;
    }
    if truncated {
        while count + 1 > max && !out.is_empty() {
            out.pop();
            count -= 1;
        }
        // Do not leave half an escape (`\x0`) or a trailing space before the ellipsis.
        if let Some(pos) = out.rfind('\\') {
            let tail = &out[pos..];
            if !is_complete_escape(tail) {
                out.truncate(pos);
            }
        }
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        if max > 0 {
            out.push('…');
        }
    }
    out
}

fn is_complete_escape(tail: &str) -> bool {
    let rest = &tail[1..];
    match rest.chars().next() {
        None => false,
        Some('e' | 'n' | 't' | 'r' | '0') => true,
        Some('x') => rest.len() >= 3,
        Some('u') => rest.contains('}'),
        // A backslash the server sent itself, followed by ordinary text.
        Some(_) => true,
    }
}

/// Whether `s` would reach a terminal unchanged.
pub fn is_safe(s: &str) -> bool {
    !s.chars().any(is_dangerous)
}

/// `s` as a person sees it drawn: the invisible characters that are spaces (U+00A0, U+3000,
/// U+2028 ...) as a plain space, the others left out (`app` + U+200B looks like `app`). Controls
/// are kept: escape the result before printing it.
pub fn as_seen(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            c if !invisible::is_invisible(c) => Some(c),
            c if c.is_whitespace() => Some(' '),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls() {
        let hostile = "SLEEP(600)/*\x1b[H\x1b[2J\x1b[3J*/";
        assert_eq!(escape(hostile), "SLEEP(600)/*\\e[H\\e[2J\\e[3J*/");
        assert_eq!(escape("a\x07b\0c\x7f"), "a\\x07b\\0c\\x7f");
        assert_eq!(escape("x\u{9b}31m"), "x\\x9b31m");
        assert_eq!(escape("evil\u{202e}txt"), "evil\\u{202e}txt");
        assert_eq!(escape("two\nlines\t"), "two\\nlines\\t");
        assert!(matches!(escape("plain ünïcode"), Cow::Borrowed(_)));
    }

    #[test]
    fn file_names_are_escaped() {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"/tmp/x\x1b]0;owned\x07\n\xff.cnf");
        assert_eq!(
            path(std::path::Path::new(name)),
            "/tmp/x\\e]0;owned\\x07\\n\u{fffd}.cnf"
        );
    }

    #[test]
    fn invisible_characters_are_shown_escaped() {
        assert_eq!(escape("app\u{200b}"), "app\\u{200b}");
        assert_ne!(escape("app"), escape("app\u{200b}"));
        assert_ne!(escape("app\u{200b}"), escape("app\u{200c}"));
        // Zs other than U+0020 (no-break, ideographic), Cf (soft hyphen, BOM), Zl, Zp, a
        // Hangul filler, an astral tag character.
        assert_eq!(
            escape("a\u{a0}b\u{ad}c\u{3000}d\u{feff}e\u{2028}f\u{2029}g\u{3164}h\u{e0041}"),
            r"a\xa0b\xadc\u{3000}d\u{feff}e\u{2028}f\u{2029}g\u{3164}h\u{e0041}"
        );
        assert_eq!(prose("l1\u{2029}l2\n"), "l1\\u{2029}l2\n");
        assert_eq!(snippet("SELECT\u{200b}  1", 40), r"SELECT\u{200b} 1");
        assert_eq!(snippet("ab\u{200b}cdef", 6), "ab…");
        assert!(!is_safe("app\u{feff}") && !is_safe("\u{115f}"));
        assert_eq!(as_seen("ro\u{200d}ot\u{200b}\x07"), "root\x07");
        assert_eq!(as_seen("a\u{a0}b\u{3000}c\u{2028}d\u{ad}"), "a b c d");
        // A plain space, accents, CJK and emoji stay as they are.
        assert!(matches!(escape("plain ünïcode 日本 ✓"), Cow::Borrowed(_)));
    }

    #[test]
    fn prose_keeps_line_structure() {
        assert_eq!(
            prose("line1\n\tline2\x1b]0;title\x07"),
            "line1\n\tline2\\e]0;title\\x07"
        );
    }

    #[test]
    fn snippets_are_one_line_escaped_and_bounded() {
        assert_eq!(snippet("SELECT  *\n FROM t", 100), "SELECT * FROM t");
        assert_eq!(snippet("abcdef", 4), "abc…");
        assert_eq!(snippet("abcd", 4), "abcd");
        assert_eq!(snippet("  leading", 20), "leading");
        assert_eq!(snippet("ab\x1bcdef", 4), "ab…");
        assert_eq!(snippet("ab\x1bcdef", 5), "ab\\e…");
        assert_eq!(snippet("ab\x1bcdef", 6), "ab\\ec…");
        assert_eq!(snippet("a\x07", 10), "a\\x07");
        assert_eq!(snippet("word another", 6), "word…");
        for max in 0..30 {
            let s = snippet("x\x1b[2J y\u{9b} z\u{202e}", max);
            assert!(s.chars().count() <= max.max(1), "{max}: {s}");
            assert!(is_safe(&s), "{max}: {s:?}");
        }
    }
}
