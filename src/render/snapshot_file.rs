//! A snapshot file (`snapshot -o`, an incident's `trigger.json` and `after.json`): the layout of
//! [`super::file_text`], with the sessions section written by hand.
//!
//! Serializing 10,000 sessions through serde_json was most of a `snapshot` after the read: a
//! few dozen small writes and two scans of every key and value (serde_json's escaping, then
//! [`super::SafeFormatter`]'s). A session's line is the same text written directly: the keys
//! as literals, numbers with `itoa`, and a string that is printable ASCII without `"` or `\`
//! (nearly every one) copied as it is; any other string goes through serde_json with
//! `SafeFormatter`, so its escapes are exactly theirs. The unit tests compare every line with
//! serde_json's, for sessions with every field set, none set, and hostile text.

use crate::snapshot::{Session, Snapshot};

/// The text of a snapshot file of `snap` (what [`super::file_text`] writes of it).
pub fn snapshot_file(snap: &Snapshot) -> String {
    if snap.sessions.is_empty() {
        return super::file_text(snap);
    }
    // The rest of the snapshot with its sessions section empty, then that section put in: a
    // top-level key is the only text at the start of a line indented two spaces (deeper
    // sections are indented further, their elements are on lines of their own, and a line
    // break inside a string is escaped), so the section is found exactly.
    let rest = super::file_text(&snap.without_sessions());
    const EMPTY: &str = "\n  \"sessions\": []";
    let Some(at) = rest.find(EMPTY).map(|at| at + EMPTY.len() - 2) else {
        return super::file_text(snap);
    };
    let mut out = String::with_capacity(rest.len() + snap.sessions.len() * 176);
    out.push_str(&rest[..at]);
    out.push('[');
    for (i, s) in snap.sessions.iter().enumerate() {
        out.push_str(if i == 0 { "\n    " } else { ",\n    " });
        session_line(&mut out, s);
    }
    out.push_str("\n  ]");
    out.push_str(&rest[at + 2..]);
    out
}

/// One session as serde_json writes it compactly (fields in the struct's order, the optional
/// ones left out as its `skip_serializing_if` leaves them out).
fn session_line(out: &mut String, s: &Session) {
    out.push_str("{\"id\":");
    number(out, s.id);
    out.push_str(",\"user\":");
    string(out, &s.user);
    out.push_str(",\"host\":");
    string(out, &s.host);
    out.push_str(",\"db\":");
    optional(out, s.db.as_deref());
    out.push_str(",\"command\":");
    string(out, &s.command);
    out.push_str(",\"time_s\":");
    number(out, s.time_s);
    if let Some(ms) = s.time_ms {
        out.push_str(",\"time_ms\":");
        number(out, ms);
    }
    out.push_str(",\"state\":");
    string(out, &s.state);
    out.push_str(",\"info\":");
    optional(out, s.info.as_deref());
    if s.info_truncated {
        out.push_str(",\"info_truncated\":true");
    }
    if let Some(id) = s.query_id {
        out.push_str(",\"query_id\":");
        number(out, id);
    }
    if let Some(p) = &s.program {
        out.push_str(",\"program\":");
        string(out, p);
    }
    if let Some(b) = s.memory_bytes {
        out.push_str(",\"memory_bytes\":");
        number(out, b);
    }
    out.push('}');
}

fn number(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

fn optional(out: &mut String, s: Option<&str>) {
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

    fn serde_line(s: &Session) -> String {
        let mut buf = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(
            &mut buf,
            super::super::SafeFormatter(serde_json::ser::CompactFormatter),
        );
        serde::Serialize::serialize(s, &mut ser).unwrap();
        String::from_utf8(buf).unwrap()
    }

    fn line(s: &Session) -> String {
        let mut out = String::new();
        session_line(&mut out, s);
        out
    }

    /// Every field set, none set, and text that needs escaping: the line is serde_json's. A
    /// field added to `Session` shows up here first (serde_json writes it, the line does not).
    #[test]
    fn a_session_line_is_what_serde_json_writes() {
        let every = Session {
            id: u64::MAX,
            user: "app".into(),
            host: "10.0.0.7:41000".into(),
            db: Some("shop".into()),
            command: "Query".into(),
            time_s: 12,
            time_ms: Some(12_345),
            state: "Sending data".into(),
            info: Some("SELECT 1".into()),
            info_truncated: true,
            query_id: Some(99),
            program: Some("php-fpm".into()),
            memory_bytes: Some(87_480),
        };
        let none = Session::default();
        let hostile = Session {
            user: "a\"b\\c".into(),
            host: "\u{1b}[31mred\u{7f}".into(),
            db: Some("tab\there\nnew".into()),
            state: "\u{202e}bidi\u{200b}zero".into(),
            info: Some("漢字 \u{e0041} \u{85}".into()),
            program: Some(String::new()),
            ..every.clone()
        };
        for s in [&every, &none, &hostile] {
            assert_eq!(line(s), serde_line(s));
        }
    }

    #[test]
    fn a_snapshot_file_is_the_generic_layout() {
        let mut snap = crate::diagnose::fixtures::at_scale(2_400);
        // A key's text inside values (one with a line break, escaped) does not move the
        // section.
        snap.sessions[7].info = Some("x\n  \"sessions\": []".into());
        snap.notes.push("\n  \"sessions\": []".into());
        snap.sessions[8].time_ms = Some(5);
        assert!(snapshot_file(&snap) == super::super::file_text(&snap));
        let one = crate::diagnose::fixtures::mariadb();
        assert_eq!(snapshot_file(&one), super::super::file_text(&one));
        let empty = Snapshot {
            sessions: Vec::new(),
            ..one.clone()
        };
        assert_eq!(snapshot_file(&empty), super::super::file_text(&empty));
    }
}
