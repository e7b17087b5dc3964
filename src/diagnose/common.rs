//! What the heuristics share: rates from the status sample, one severity scale for the connection
//! slots a cause holds, session predicates and grouping, and the wording of counts, shares and
//! quoted values. Imports nothing from the heuristics or the analysis. Pure.
//!
//! The scale, so that findings of different causes rank the same way:
//!
//! | slots at stake                                  | severity |
//! |-------------------------------------------------|----------|
//! | ≥ 50 % of max_connections                       | critical |
//! | ≥ 10 sessions, or ≥ 10 % of max_connections     | warning  |
//! | fewer (but some)                                | info     |
//!
//! Half the slots held by one cause means the next burst of clients gets ERROR 1040. Ten sessions
//! (or a tenth of the slots on a large server) is where a cause stops being background noise: on
//! the default max_connections of 151 it is 6.6 %. Causes that hurt with a single session (a long
//! query, a lock pile-up) start at warning and turn critical at the same "many" bar
//! ([`severity_from_one`]).

use std::collections::BTreeMap;
use std::time::Duration;

use super::Severity;
use crate::snapshot::{Session, Snapshot};

/// A rate for people: `2.50/s`, or per hour when too small to read per second (`3.6/h`:
/// lifetime averages of rare events).
pub fn per_sec(rate: f64) -> String {
    if rate >= 0.01 || rate == 0.0 {
        format!("{rate:.2}/s")
    } else {
        format!("{:.1}/h", rate * 3600.0)
    }
}

/// What a [`Snapshot::status_rate`] is measured over: the sample, or the lifetime average.
pub fn rate_basis(snap: &Snapshot) -> String {
    if snap.status_after.is_some() && snap.sample_s > 0.0 {
        format!("during the {:.0}s sample", snap.sample_s)
    } else {
        "since startup".to_string()
    }
}

/// A duration as whole seconds (`300s`), the form conncheck flags and SQL examples use.
pub fn dur(d: Duration) -> String {
    format!("{}s", d.as_secs())
}

/// From this many sessions a cause is "many" whatever max_connections is.
pub const MANY_SESSIONS: u64 = 10;
/// ... or from this share of max_connections.
pub const MANY_SHARE: f64 = 0.10;
/// The share of max_connections that makes a cause critical.
pub const MOST_SHARE: f64 = 0.50;

/// `n` as a share (0..1) of max_connections.
pub fn share(n: u64, max_connections: u64) -> f64 {
    n as f64 / max_connections.max(1) as f64
}

/// `11.9%`.
pub fn pct(n: u64, max_connections: u64) -> String {
    format!("{:.1}%", share(n, max_connections) * 100.0)
}

/// `1 session`, `2 sessions`.
pub fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `1 client was`, `2 clients were`: a count with its own singular and plural wording.
pub fn count_phrase(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `18 of 151 (11.9%)`.
pub fn of_max(n: u64, max_connections: u64) -> String {
    format!("{n} of {max_connections} ({})", pct(n, max_connections))
}

/// At least [`MANY_SESSIONS`] sessions or [`MANY_SHARE`] of the slots.
pub fn is_many(n: u64, max_connections: u64) -> bool {
    n >= MANY_SESSIONS || share(n, max_connections) >= MANY_SHARE
}

/// The shared scale: critical from half the slots, warning when many, info below.
pub fn severity_for_slots(slots: u64, max_connections: u64) -> Severity {
    if share(slots, max_connections) >= MOST_SHARE {
        Severity::Critical
    } else if is_many(slots, max_connections) {
        Severity::Warning
    } else {
        Severity::Info
    }
}

/// For causes that hurt with one session: warning, critical when many.
pub fn severity_from_one(n: u64, max_connections: u64) -> Severity {
    if is_many(n, max_connections) {
        Severity::Critical
    } else {
        Severity::Warning
    }
}

/// A session still logging in (`unauthenticated user`, state `login`, or `Connect` +
/// `Reading from net`, https://dev.mysql.com/doc/refman/8.0/en/general-thread-states.html):
/// login storms show up here.
pub fn logging_in(s: &Session) -> bool {
    s.user == "unauthenticated user"
        || s.state.eq_ignore_ascii_case("login")
        || (s.command.eq_ignore_ascii_case("Connect")
            && s.state.eq_ignore_ascii_case("Reading from net"))
}

/// Whether the session has been in its current state (idle time for Sleep) at least `d`.
pub fn at_least(s: &Session, d: Duration) -> bool {
    s.time_secs_f64() >= d.as_secs_f64()
}

pub fn ids(v: &[&Session]) -> Vec<u64> {
    v.iter().map(|s| s.id).collect()
}

/// Group sessions by a key, keeping their order inside each group.
pub fn group_by<'a, K: Ord>(
    sessions: impl IntoIterator<Item = &'a Session>,
    key: impl Fn(&'a Session) -> K,
) -> BTreeMap<K, Vec<&'a Session>> {
    let mut m: BTreeMap<K, Vec<&Session>> = BTreeMap::new();
    for s in sessions {
        m.entry(key(s)).or_default().push(s);
    }
    m
}

/// `app@10.0.0.1 ×12, web@10.0.0.2 ×3, …`: the largest clients among `sessions`.
pub fn by_client(sessions: &[&Session], top: usize) -> String {
    // Counted by (user, client host) as read, then named once per pair (one `user@host` string
    // per session would be 10,000); pairs that read the same once named count together.
    let mut pairs: crate::fast_hash::HashMap<(&str, &str), usize> =
        crate::fast_hash::HashMap::default();
    for s in sessions {
        *pairs.entry((s.user.as_str(), s.client_host())).or_default() += 1;
    }
    let mut named: BTreeMap<String, usize> = BTreeMap::new();
    for ((user, host), n) in pairs {
        *named.entry(format!("{user}@{host}")).or_default() += n;
    }
    let mut counts: Vec<(String, usize)> = named.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut out: Vec<String> = counts
        .iter()
        .take(top)
        .map(|(k, n)| format!("{k} ×{n}"))
        .collect();
    if counts.len() > top {
        out.push(format!("{} more clients", counts.len() - top));
    }
    out.join(", ")
}

/// The inside of a single-quoted SQL string literal for a suggested statement: `'` doubled and `\`
/// escaped (the default sql_mode treats a backslash as an escape), so that an account name read
/// from the server cannot end the literal in SQL the user copies.
pub fn sql_quoted(v: &str) -> String {
    v.replace('\\', r"\\").replace('\'', "''")
}

/// A value for a conncheck command line, single-quoted when the shell would split or expand it.
/// A value holding a control or invisible character (a user named `app` + U+200B) is written in
/// bash/zsh ANSI-C quoting, `$'app\u200b'`: plain ASCII a terminal shows as it is, and pasted it
/// is the exact name (the human output would otherwise show it escaped, `app\u{200b}`, which
/// names another user).
pub fn shell_arg(v: &str) -> String {
    if !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%._:-/[]".contains(&b))
    {
        v.to_string()
    } else if !crate::text::is_safe(v) {
        let mut out = String::from("$'");
        for c in v.chars() {
            match c {
                '\\' => out.push_str(r"\\"),
                '\'' => out.push_str(r"\'"),
                // Fixed widths: bash reads up to 2, 4 or 8 hex digits.
                c if crate::text::is_safe(c.encode_utf8(&mut [0; 4])) => out.push(c),
                c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
                c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push_str(&format!("\\U{:08x}", c as u32)),
            }
        }
        out.push('\'');
        out
    } else {
        format!("'{}'", v.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An account name from the server ends up in a suggested `ALTER USER '...'`: a quote or a
    /// trailing backslash must not end the literal.
    #[test]
    fn sql_quoted_escapes_quotes_and_backslashes() {
        assert_eq!(sql_quoted("app"), "app");
        assert_eq!(sql_quoted("o'brien"), "o''brien");
        assert_eq!(sql_quoted("evil\\"), "evil\\\\");
        assert_eq!(sql_quoted("a\\'; DROP"), "a\\\\''; DROP");
    }

    #[test]
    fn the_scale() {
        // max_connections 151: many = 10 sessions (6.6 %), critical from 76 (50.3 %).
        assert_eq!(severity_for_slots(0, 151), Severity::Info);
        assert_eq!(severity_for_slots(9, 151), Severity::Info);
        assert_eq!(severity_for_slots(10, 151), Severity::Warning);
        assert_eq!(severity_for_slots(75, 151), Severity::Warning);
        assert_eq!(severity_for_slots(76, 151), Severity::Critical);
        // A small server: 10 % of 50 is 5 sessions.
        assert_eq!(severity_for_slots(4, 50), Severity::Info);
        assert_eq!(severity_for_slots(5, 50), Severity::Warning);
        assert_eq!(severity_for_slots(25, 50), Severity::Critical);
        assert_eq!(severity_from_one(1, 151), Severity::Warning);
        assert_eq!(severity_from_one(10, 151), Severity::Critical);
        assert_eq!(
            severity_for_slots(1, 0),
            Severity::Critical,
            "no division by 0"
        );
        assert_eq!(of_max(18, 151), "18 of 151 (11.9%)");
        assert_eq!(plural(1, "session"), "1 session");
        assert_eq!(plural(0, "session"), "0 sessions");
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_arg("app"), "app");
        assert_eq!(shell_arg("10.0.0.1"), "10.0.0.1");
        assert_eq!(shell_arg("my user"), "'my user'");
        assert_eq!(shell_arg("o'brien"), r"'o'\''brien'");
        assert_eq!(shell_arg(""), "''");
        // Invisible or control characters: ANSI-C quoting, ASCII only, exact once pasted.
        assert_eq!(shell_arg("app\u{200b}"), r"$'app\u200b'");
        assert_eq!(shell_arg("a b\x1b[2J'\\c"), r"$'a b\x1b[2J\'\\c'");
        assert_eq!(shell_arg("x\u{9b}\u{e0041}1"), r"$'x\u009b\U000e00411'");
        assert_eq!(shell_arg("ü\u{3000}"), r"$'ü\u3000'");
        assert!(crate::text::is_safe(&shell_arg("\u{202e}\u{a0}\x07")));
    }
}
