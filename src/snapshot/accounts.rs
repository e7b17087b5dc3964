//! Account rows: which `user@host` account a session logged in as, and that account's own
//! connection limit.
//!
//! The processlist shows the client's user name and host, not the account row that matched it:
//! `app` from 10.0.0.7 may be `'app'@'10.0.0.%'` or `'app'@'%'`, and a suggested `ALTER USER`
//! for the wrong row changes nothing (or fails). The server picks the row as documented in
//! https://dev.mysql.com/doc/refman/8.0/en/connection-access.html: rows whose host matches,
//! the most specific host first (a literal host or IP before a pattern, a longer literal prefix
//! before a shorter one, `%` and then the empty host last), and for equal hosts a named user
//! before the anonymous one. [`account_for`] does the same.
//!
//! The rows come from `mysql.user` (a view over `mysql.global_priv` on MariaDB 10.4+), which needs
//! SELECT on it: without that the read leaves a note and judgement falls back to the global
//! limit. The statement goes out with the snapshot's other optional reads; matching is pure.

use mysql::Row;

use super::model::Account;
use super::row::{num, text};

/// At most this many account rows are read: a server with more is no concern of a limit
/// suggestion, and a hostile catalogue must not cost unbounded memory.
pub const MAX_ACCOUNTS: usize = 10_000;

/// The statement that reads the account rows.
pub fn accounts_sql() -> String {
    format!(
        "SELECT User, Host, max_user_connections, max_connections FROM mysql.user LIMIT {MAX_ACCOUNTS}"
    )
}

/// The account rows of [`accounts_sql`] (read with the other optional statements of the
/// snapshot).
pub fn rows<R: std::borrow::Borrow<Row>>(rows: impl IntoIterator<Item = R>) -> Vec<Account> {
    rows.into_iter()
        .map(|r| {
            let r = r.borrow();
            Account {
                user: text(r, 0).unwrap_or_default(),
                host: text(r, 1).unwrap_or_default(),
                max_user_connections: num(r, 2).unwrap_or(0),
                max_connections_per_hour: num(r, 3).unwrap_or(0),
            }
        })
        .collect()
}

/// The note left when the rows could not be read (no privilege, no table).
pub fn note(message: &str) -> String {
    format!(
        "account rows not read (per-account limits unknown; needs SELECT on mysql.user): {message}"
    )
}

/// The account row the server would have matched for a session of `user` from `host` (the
/// processlist host without its port).
pub fn account_for<'a>(accounts: &'a [Account], user: &str, host: &str) -> Option<&'a Account> {
    accounts
        .iter()
        .filter(|a| (a.user == user || a.user.is_empty()) && host_matches(&a.host, host))
        .max_by_key(|a| (specificity(&a.host), !a.user.is_empty()))
}

/// How specific a host part is: a literal before any pattern, a longer literal prefix first.
fn specificity(pattern: &str) -> (u8, usize) {
    if pattern.is_empty() {
        return (0, 0);
    }
    match pattern.find(['%', '_']) {
        None if !pattern.contains('/') => (3, pattern.len()),
        // An IPv4 address with a netmask: as specific as the literal address part.
        None => (2, pattern.len()),
        Some(i) => (1, i),
    }
}

/// Whether a client host matches an account's host part: `%`/`_` wildcards, `ip/netmask` and
/// `ip/prefix`, case-insensitive names. `localhost` only matches `localhost`.
fn host_matches(pattern: &str, host: &str) -> bool {
    if pattern.is_empty() {
        return true;
    }
    if let Some((ip, mask)) = pattern.split_once('/') {
        return ipv4_in(host, ip, mask);
    }
    like(
        &pattern.to_ascii_lowercase().chars().collect::<Vec<_>>(),
        &host.to_ascii_lowercase().chars().collect::<Vec<_>>(),
    )
}

/// SQL LIKE without escapes: `%` any run, `_` one character. Iterative, linear in practice.
fn like(p: &[char], s: &[char]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == '_' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '%')
}

fn ipv4_in(host: &str, ip: &str, mask: &str) -> bool {
    let parse = |s: &str| s.parse::<std::net::Ipv4Addr>().ok().map(u32::from);
    let (Some(h), Some(net)) = (parse(host), parse(ip)) else {
        return false;
    };
    let mask = match (parse(mask), mask.parse::<u32>()) {
        (Some(m), _) => m,
        (None, Ok(bits)) if bits <= 32 => u32::MAX.checked_shl(32 - bits).unwrap_or(0),
        _ => return false,
    };
    h & mask == net & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(user: &str, host: &str, limit: u64) -> Account {
        Account {
            user: user.into(),
            host: host.into(),
            max_user_connections: limit,
            max_connections_per_hour: 0,
        }
    }

    #[test]
    fn the_most_specific_row_wins() {
        let rows = vec![
            acc("app", "%", 0),
            acc("app", "10.0.0.%", 50),
            acc("app", "10.0.0.7", 20),
            acc("app", "localhost", 10),
            acc("", "%", 0),
        ];
        assert_eq!(
            account_for(&rows, "app", "10.0.0.7").unwrap().host,
            "10.0.0.7"
        );
        assert_eq!(
            account_for(&rows, "app", "10.0.0.8").unwrap().host,
            "10.0.0.%"
        );
        assert_eq!(account_for(&rows, "app", "192.168.1.1").unwrap().host, "%");
        assert_eq!(
            account_for(&rows, "app", "localhost").unwrap().host,
            "localhost"
        );
        // Anonymous rows match any user, after a named row with the same host.
        assert_eq!(account_for(&rows, "other", "10.0.0.7").unwrap().user, "");
        assert!(account_for(&rows[..4], "other", "10.0.0.7").is_none());
    }

    #[test]
    fn patterns_masks_and_names() {
        assert!(host_matches("%.example.com", "web1.EXAMPLE.com"));
        assert!(!host_matches("%.example.com", "example.org"));
        assert!(host_matches("10.0.0._", "10.0.0.7"));
        assert!(!host_matches("10.0.0._", "10.0.0.17"));
        assert!(host_matches("10.0.0.0/255.255.255.0", "10.0.0.42"));
        assert!(!host_matches("10.0.0.0/255.255.255.0", "10.0.1.42"));
        assert!(host_matches("10.0.0.0/24", "10.0.0.42"));
        assert!(host_matches("10.0.0.0/0", "192.168.0.1"));
        assert!(!host_matches("localhost", "127.0.0.1"));
        assert!(host_matches("", "anything"));
        assert!(like(&['%', '%', 'a'], &['b', 'a']));
    }
}
