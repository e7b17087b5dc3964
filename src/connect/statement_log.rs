//! `--debug`: every statement this program sends, with its round-trip time, on stderr, so a DBA
//! can see what the tool does on a production server. [`Connection::send`](super::Connection)
//! is the one place a statement leaves the program, and the one caller of [`record`].
//!
//! Each login attempt gets one line too (the handshake and authentication, which no `send`
//! sees), naming the account, never the password.
//!
//! Only statement text is written: the password travels in the login handshake, never in a
//! statement, so it cannot appear here. The statements are ours, but they quote names the server
//! gave (a user in `SHOW GRANTS FOR`), so each is shown through [`crate::text::snippet`]: on one
//! line, control characters escaped.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Set once at start by `--debug`; read by every connection of the run (the fleet's threads too).
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Log every statement from now on (`--debug`).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether statements are logged.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Write one round trip to stderr when `--debug` is on: `sql` as sent to `target`, `elapsed`
/// from sending it to having read its last row, and whether the server answered with an error.
pub fn record(target: &str, sql: &str, elapsed: Duration, error: Option<&mysql::Error>) {
    if !enabled() {
        return;
    }
    let text = lines(target, sql, elapsed, error).join("\n");
    // One write per round trip, so lines of the fleet's concurrent connections do not interleave.
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Write one login attempt to stderr when `--debug` is on: the handshake and authentication,
/// timed together (`error` is why it failed).
pub fn login(target: &str, user: &str, tls: bool, elapsed: Duration, error: Option<&str>) {
    if !enabled() {
        return;
    }
    let line = login_line(target, user, tls, elapsed, error);
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn login_line(
    target: &str,
    user: &str,
    tls: bool,
    elapsed: Duration,
    error: Option<&str>,
) -> String {
    let ms = elapsed.as_secs_f64() * 1000.0;
    let outcome = match error {
        None => "ok".to_string(),
        Some(e) => format!("failed ({})", crate::text::escape(e)),
    };
    format!(
        "conncheck: debug: {} {ms:.2} ms {outcome}: login as {} ({})",
        crate::text::escape(target),
        crate::text::escape(user),
        if tls { "TLS" } else { "no TLS" },
    )
}

/// The log lines of one round trip: the first with the target, the time, the outcome and the
/// first statement; one more line per further statement of a batch (joined with `;\n`).
fn lines(target: &str, sql: &str, elapsed: Duration, error: Option<&mysql::Error>) -> Vec<String> {
    let outcome = match error {
        None => "ok".to_string(),
        Some(e) => match super::error::server_code(e) {
            Some(code) => format!("error {code}"),
            None => "failed".to_string(),
        },
    };
    let ms = elapsed.as_secs_f64() * 1000.0;
    let target = crate::text::escape(target);
    let mut out = Vec::new();
    for (i, stmt) in sql.split(";\n").enumerate() {
        let stmt = crate::text::snippet(stmt, usize::MAX);
        if i == 0 {
            out.push(format!(
                "conncheck: debug: {target} {ms:.2} ms {outcome}: {stmt}"
            ));
        } else {
            out.push(format!("conncheck: debug:     {stmt}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_statement_with_time_and_outcome_and_escaped_text() {
        let got = lines(
            "db1:3306",
            "SELECT 1;\nSHOW GRANTS FOR 'a\x1b[2J'@'%'",
            Duration::from_micros(12_345),
            None,
        );
        assert_eq!(
            got,
            [
                "conncheck: debug: db1:3306 12.35 ms ok: SELECT 1",
                "conncheck: debug:     SHOW GRANTS FOR 'a\\e[2J'@'%'",
            ]
        );
    }

    #[test]
    fn multi_line_statements_are_one_line() {
        let got = lines(
            "/tmp/s\nock",
            "SELECT a,\n       b\n  FROM t",
            Duration::ZERO,
            None,
        );
        assert_eq!(
            got,
            ["conncheck: debug: /tmp/s\\nock 0.00 ms ok: SELECT a, b FROM t"]
        );
    }

    #[test]
    fn a_login_names_the_account_never_a_password() {
        assert_eq!(
            login_line("db1:3306", "app\n", true, Duration::from_millis(3), None),
            "conncheck: debug: db1:3306 3.00 ms ok: login as app\\n (TLS)"
        );
        assert!(
            login_line("db1:3306", "app", false, Duration::ZERO, Some("refused"))
                .contains("0.00 ms failed (refused): login as app (no TLS)")
        );
    }
}
