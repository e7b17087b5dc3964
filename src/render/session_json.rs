//! Sessions written as JSON by hand, byte for byte what serde_json writes of them.
//!
//! Serializing 10,000 sessions through serde_json was most of a `snapshot` or a
//! `sessions --format json` after the read: a few dozen small writes a session and two scans of
//! every key and value (serde_json's escaping, then [`super::SafeFormatter`]'s). Here a session
//! is the same text written directly: keys as literals, numbers with `itoa`, and a string that
//! is printable ASCII without `"` or `\` (nearly every one) copied as it is; any other string
//! goes through serde_json with `SafeFormatter`, so its escapes are exactly theirs. The unit
//! tests compare the text with serde_json's, for sessions with every field set, none set, and
//! hostile text, in both layouts. A field added to `Session` fails them until it is written
//! here too.

use crate::snapshot::Session;

/// How one session object is laid out: what comes before its first field, between fields, and
/// at its end (the `{` is always first).
pub struct Layout {
    first: &'static str,
    between: &'static str,
    colon: &'static str,
    close: &'static str,
}

/// On one line, as serde_json's compact formatter (a snapshot file's sessions).
pub const COMPACT: Layout = Layout {
    first: "",
    between: ",",
    colon: ":",
    close: "}",
};

/// Pretty, as an element of a top-level key's array (`render::json`: two spaces a level).
pub const PRETTY_IN_SECTION: Layout = Layout {
    first: "\n      ",
    between: ",\n      ",
    colon: ": ",
    close: "\n    }",
};

/// A transaction's age and rows modified, written after the session's fields (`null` when
/// unknown), as the `sessions` report's rows have them.
pub type Trx = (Option<u64>, Option<u64>);

/// `s` as serde_json writes it in `layout`: the fields in `Session`'s order, the optional ones
/// left out as its `skip_serializing_if` leaves them out, then `trx` when given.
pub fn object(out: &mut String, layout: &Layout, s: &Session, trx: Option<Trx>) {
    let key = |out: &mut String, name: &str| {
        out.push_str(layout.between);
        out.push('"');
        out.push_str(name);
        out.push('"');
        out.push_str(layout.colon);
    };
    out.push('{');
    out.push_str(layout.first);
    out.push_str("\"id\"");
    out.push_str(layout.colon);
    number(out, s.id);
    key(out, "user");
    string(out, &s.user);
    key(out, "host");
    string(out, &s.host);
    key(out, "db");
    optional_string(out, s.db.as_deref());
    key(out, "command");
    string(out, &s.command);
    key(out, "time_s");
    number(out, s.time_s);
    if let Some(ms) = s.time_ms {
        key(out, "time_ms");
        number(out, ms);
    }
    key(out, "state");
    string(out, &s.state);
    key(out, "info");
    optional_string(out, s.info.as_deref());
    if s.info_truncated {
        key(out, "info_truncated");
        out.push_str("true");
    }
    if let Some(id) = s.query_id {
        key(out, "query_id");
        number(out, id);
    }
    if let Some(p) = &s.program {
        key(out, "program");
        string(out, p);
    }
    if let Some(b) = s.memory_bytes {
        key(out, "memory_bytes");
        number(out, b);
    }
    if let Some((age, rows)) = trx {
        key(out, "trx_age_s");
        optional_number(out, age);
        key(out, "trx_rows_modified");
        optional_number(out, rows);
    }
    out.push_str(layout.close);
}

/// `rest` (a top-level object written by `render`, pretty at depth 1, its `sessions` section
/// empty) with `items` in that section, each written by `write` on a line of its own after
/// four spaces. None when `rest` has no such section; `rest` as it is when there is no item (it
/// is then the whole text). A top-level key is the only text at the start of a line indented
/// two spaces (deeper keys are indented further, elements of a section on lines of their own,
/// and a line break inside a string is escaped), so the section is found exactly.
pub fn with_sessions<T>(
    rest: String,
    items: &[T],
    bytes_each: usize,
    write: impl Fn(&mut String, &T),
) -> Option<String> {
    const EMPTY: &str = "\n  \"sessions\": []";
    let at = rest.find(EMPTY)? + EMPTY.len() - 2;
    if items.is_empty() {
        return Some(rest);
    }
    let mut out = String::with_capacity(rest.len() + items.len() * bytes_each);
    out.push_str(&rest[..at]);
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        out.push_str(if i == 0 { "\n    " } else { ",\n    " });
        write(&mut out, item);
    }
    out.push_str("\n  ]");
    out.push_str(&rest[at + 2..]);
    Some(out)
}

fn number(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

fn optional_number(out: &mut String, n: Option<u64>) {
    match n {
        Some(n) => number(out, n),
        None => out.push_str("null"),
    }
}

fn optional_string(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.push_str("null"),
    }
}

/// A JSON string: printable ASCII without `"` or `\` as it is, anything else as serde_json
/// with [`super::SafeFormatter`] writes it.
fn string(out: &mut String, s: &str) {
    if s.bytes()
        .all(|b| matches!(b, b' '..=b'~') && b != b'"' && b != b'\\')
    {
        out.push('"');
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut buf = Vec::with_capacity(s.len() + 8);
    let mut ser = serde_json::Serializer::with_formatter(
        &mut buf,
        super::SafeFormatter(serde_json::ser::CompactFormatter),
    );
    serde::Serialize::serialize(s, &mut ser).expect("a string serializes");
    out.push_str(std::str::from_utf8(&buf).expect("serde_json writes UTF-8"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compact_session_is_what_serde_json_writes() {
        for s in crate::diagnose::fixtures::sessions_to_write() {
            let mut buf = Vec::new();
            let mut ser = serde_json::Serializer::with_formatter(
                &mut buf,
                super::super::SafeFormatter(serde_json::ser::CompactFormatter),
            );
            serde::Serialize::serialize(&s, &mut ser).unwrap();
            let mut line = String::new();
            object(&mut line, &COMPACT, &s, None);
            assert_eq!(line, String::from_utf8(buf).unwrap());
        }
    }
}
