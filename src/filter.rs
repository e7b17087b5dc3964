//! Selecting sessions: the filters of `sessions`, `kill-idle` and `kill-long`, in one place.
//!
//! Every given criterion must match (AND). Names match exactly; `--command` ignores case;
//! `--state` and `--match-info` are regexes, unanchored unless the user anchors them. A user
//! (`--match-user`, `--exclude-user`) is `user` or `user@host`, the form conncheck prints, or
//! SQL's quoted `'user'@'host'` for a name that holds `@` ([`UserSpec`]). The command line
//! converts to a [`SessionFilter`] at the edge (`cli.rs`). Pure.

use std::time::Duration;

use regex::Regex;

use crate::exit::AppError;
use crate::snapshot::Session;
use crate::snapshot::model::strip_port;

/// A user as given to `--match-user` / `--exclude-user`: `app` (any host), or `app@10.0.0.7`,
/// the account form conncheck prints everywhere (host as shown, without the client's port).
/// `user@host` always means the user `user` from the host `host`, split at the last `@` (a host
/// never holds one). A user whose name holds `@` (or starts with a quote) is written quoted, in
/// SQL's account syntax: `'a@b'@'%'` or `'a@b'` is the user `a@b` from any host, never the user
/// `a` from host `b`. `'app'@'localhost'`, `"app"@localhost`, `` `app` `` work too (a quote
/// inside is doubled: `'o''brien'`); `app@%` is any host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    user: String,
    /// None: any host.
    host: Option<String>,
}

/// The quotes of SQL's account syntax: string quotes and the identifier backtick.
const QUOTES: [char; 3] = ['\'', '"', '`'];

/// `s` starting with a quote: the unquoted text (a doubled quote is one quote) and what follows
/// the closing quote. None when `s` does not start with a quote.
fn quoted(s: &str) -> Option<Result<(String, &str), String>> {
    let q = s.chars().next().filter(|c| QUOTES.contains(c))?;
    let mut text = String::new();
    let mut chars = s.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if c != q {
            text.push(c);
        } else if chars.peek().is_some_and(|&(_, n)| n == q) {
            text.push(q);
            chars.next();
        } else {
            return Some(Ok((text, &s[i + c.len_utf8()..])));
        }
    }
    Some(Err(format!(
        "unclosed {q} in a user name: write 'user'@'host'"
    )))
}

impl UserSpec {
    /// `given` as a user, or what is wrong with it (an unclosed quote, text after the quoted
    /// name, an `@` without a host).
    pub fn try_parse(given: &str) -> Result<UserSpec, String> {
        let g = given.trim();
        let (user, host) = match quoted(g) {
            Some(q) => {
                let (user, rest) = q?;
                match rest.strip_prefix('@') {
                    Some(h) => (user, Some(h)),
                    None if rest.trim().is_empty() => (user, None),
                    None => {
                        return Err(
                            "text after the quoted user name: write 'user'@'host'".to_string()
                        );
                    }
                }
            }
            None => match g.rsplit_once('@') {
                Some((u, h)) => (u.to_string(), Some(h)),
                None => (g.to_string(), None),
            },
        };
        let host = match host.map(str::trim) {
            None => None,
            Some(h) => {
                let h = match quoted(h) {
                    Some(q) => {
                        let (h, rest) = q?;
                        if !rest.trim().is_empty() {
                            return Err(
                                "text after the quoted host: write 'user'@'host'".to_string()
                            );
                        }
                        h
                    }
                    None => h.to_string(),
                };
                if h.is_empty() {
                    return Err(
                        "no host after `@`: write user@host, user@% for any host, or quote a user name that ends in @ ('a@'@'%')".to_string(),
                    );
                }
                let h = h
                    .strip_prefix('[')
                    .and_then(|r| r.strip_suffix(']'))
                    .map_or(h.clone(), str::to_string);
                (h != "%").then_some(h)
            }
        };
        Ok(UserSpec { user, host })
    }

    /// [`UserSpec::try_parse`] for values the command line has already checked; a malformed one
    /// is taken as a user name, whole.
    pub fn parse(given: &str) -> UserSpec {
        UserSpec::try_parse(given).unwrap_or_else(|_| UserSpec {
            user: given.to_string(),
            host: None,
        })
    }

    pub fn matches(&self, s: &Session) -> bool {
        s.user == self.user && self.host.as_deref().is_none_or(|h| host_is(h, &s.host))
    }
}

/// The `--match-user` value that selects exactly the user `user` from any host: the name itself
/// when it reads unambiguously, quoted (`"a@b"@%`) when it holds `@`, starts with a quote or
/// has spaces at either end. Not shell-quoted.
pub fn user_arg(user: &str) -> String {
    if user.contains('@') || user.starts_with(QUOTES) || user.trim() != user {
        format!("\"{}\"@%", user.replace('"', "\"\""))
    } else {
        user.to_string()
    }
}

/// Whether the processlist host `shown` (maybe with the client's port, IPv6 maybe bracketed) is
/// `host`.
fn host_is(host: &str, shown: &str) -> bool {
    let shown = strip_port(shown);
    let shown = shown
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(shown);
    shown == host
        // Unbracketed IPv6 with the client's port: `::1:53422`.
        || shown
            .strip_prefix(host)
            .and_then(|r| r.strip_prefix(':'))
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && host.contains(':'))
}

/// Whether any of `given` (`user` or `user@host`) names the session's user.
pub fn any_user_matches(given: &[String], s: &Session) -> bool {
    given.iter().any(|g| UserSpec::parse(g).matches(s))
}

#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    users: Vec<UserSpec>,
    /// As given, for [`SessionFilter::describe`].
    user_names: Vec<String>,
    hosts: Vec<String>,
    dbs: Vec<String>,
    commands: Vec<String>,
    state: Option<Regex>,
    info: Option<Regex>,
    min_time: Option<Duration>,
    sleeping: bool,
    busy: bool,
}

/// A regex the user gave, bounded in size: it must not eat memory on a 2,000-row processlist.
fn user_regex(flag: &str, pattern: &str) -> Result<Regex, AppError> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| AppError::usage(regex_error(flag, &e)))
}

/// One line for a bad user regex: the regex crate's message spans several lines (pattern, caret,
/// `error: ...`), which would read as a second error after ours.
fn regex_error(flag: &str, e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(text) => {
            let why = text
                .lines()
                .rev()
                .find_map(|l| l.trim().strip_prefix("error:"))
                .map_or_else(|| text.trim().to_string(), |w| w.trim().to_string());
            format!("invalid regex for {flag}: {why}")
        }
        regex::Error::CompiledTooBig(limit) => {
            format!("regex for {flag} is too big (over {limit} bytes compiled)")
        }
        other => format!("invalid regex for {flag}: {other}"),
    }
}

impl SessionFilter {
    /// Only sessions of these users: `user` or `user@host` each (`--match-user`).
    pub fn with_users(mut self, users: Vec<String>) -> Self {
        self.users = users.iter().map(|u| UserSpec::parse(u)).collect();
        self.user_names = users;
        self
    }

    /// Only sessions in these default databases (`--match-db`).
    pub fn with_dbs(mut self, dbs: Vec<String>) -> Self {
        self.dbs = dbs;
        self
    }

    /// Only sessions running these commands, any case (`--match-command`).
    pub fn with_commands(mut self, commands: &[String]) -> Self {
        self.commands = commands.iter().map(|c| c.to_ascii_lowercase()).collect();
        self
    }

    /// Only sessions whose state matches the regex `pattern` (given as `flag`); a bad or huge
    /// regex is a usage error naming the flag.
    pub fn with_state(mut self, flag: &str, pattern: &str) -> Result<Self, AppError> {
        self.state = Some(user_regex(flag, pattern)?);
        Ok(self)
    }

    /// Only sessions whose statement matches the regex `pattern` (given as `flag`).
    pub fn with_info(mut self, flag: &str, pattern: &str) -> Result<Self, AppError> {
        self.info = Some(user_regex(flag, pattern)?);
        Ok(self)
    }

    /// Only sessions at least this long in their current state (the kill thresholds).
    pub fn with_min_time(mut self, d: Duration) -> Self {
        self.min_time = Some(self.min_time.map_or(d, |m| m.max(d)));
        self
    }

    /// Only sessions from these client hosts (`--match-host`).
    pub fn with_hosts(mut self, hosts: Vec<String>) -> Self {
        self.hosts = hosts;
        self
    }

    pub fn sleeping_only(mut self) -> Self {
        self.sleeping = true;
        self
    }

    pub fn busy_only(mut self) -> Self {
        self.busy = true;
        self
    }

    pub fn matches(&self, s: &Session) -> bool {
        (self.users.is_empty() || self.users.iter().any(|u| u.matches(s)))
            && (self.hosts.is_empty() || self.hosts.iter().any(|h| h == s.client_host()))
            && (self.dbs.is_empty() || s.db.as_ref().is_some_and(|d| self.dbs.contains(d)))
            && (self.commands.is_empty() || self.commands.contains(&s.command.to_ascii_lowercase()))
            && self.state.as_ref().is_none_or(|re| re.is_match(&s.state))
            && self
                .info
                .as_ref()
                .is_none_or(|re| s.info.as_deref().is_some_and(|i| re.is_match(i)))
            && self
                .min_time
                .is_none_or(|d| s.time_secs_f64() >= d.as_secs_f64())
            && (!self.sleeping || s.is_sleeping())
            && (!self.busy || !s.is_sleeping())
    }

    /// The criteria in words, for plans and audit logs ("user=app, idle ≥ 300s").
    pub fn describe(&self) -> Vec<String> {
        let mut v = Vec::new();
        let list = |name: &str, xs: &[String], v: &mut Vec<String>| {
            if !xs.is_empty() {
                v.push(format!("{name}={}", xs.join("|")));
            }
        };
        list("user", &self.user_names, &mut v);
        list("host", &self.hosts, &mut v);
        list("db", &self.dbs, &mut v);
        list("command", &self.commands, &mut v);
        if let Some(r) = &self.state {
            v.push(format!("state~/{r}/"));
        }
        if let Some(r) = &self.info {
            v.push(format!("info~/{r}/"));
        }
        if let Some(d) = self.min_time {
            v.push(format!("time>={}", humantime::format_duration(d)));
        }
        if self.sleeping {
            v.push("sleeping".into());
        }
        if self.busy {
            v.push("busy".into());
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::SessionFilterArgs;

    #[test]
    fn a_bad_regex_is_one_line() {
        let a = SessionFilterArgs {
            match_state: Some("(".into()),
            ..SessionFilterArgs::default()
        };
        let e = SessionFilter::try_from(&a).unwrap_err();
        assert_eq!(e.message, "invalid regex for --match-state: unclosed group");
        let a = SessionFilterArgs {
            match_info: Some("\\w{1000}{1000}".into()),
            ..SessionFilterArgs::default()
        };
        let e = SessionFilter::try_from(&a).unwrap_err();
        assert!(!e.message.contains('\n'), "{}", e.message);
        assert!(e.message.contains("too big"), "{}", e.message);
    }

    fn s(
        id: u64,
        user: &str,
        host: &str,
        command: &str,
        time_s: u64,
        info: Option<&str>,
    ) -> Session {
        Session {
            id,
            user: user.into(),
            host: host.into(),
            db: Some("shop".into()),
            command: command.into(),
            time_s,
            state: if command == "Sleep" {
                String::new()
            } else {
                "User sleep".into()
            },
            info: info.map(str::to_string),
            ..Session::default()
        }
    }

    fn f(a: SessionFilterArgs) -> SessionFilter {
        SessionFilter::try_from(&a).unwrap()
    }

    #[test]
    fn filters_are_anded_and_exact() {
        let rows = [
            s(1, "app", "10.0.0.1:5000", "Sleep", 400, None),
            s(
                2,
                "app",
                "10.0.0.2:5001",
                "Query",
                90,
                Some("SELECT SLEEP(100)"),
            ),
            s(3, "application", "10.0.0.1:5002", "Sleep", 900, None),
        ];
        let by_user = f(SessionFilterArgs {
            match_user: vec!["app".into()],
            ..Default::default()
        });
        assert_eq!(rows.iter().filter(|r| by_user.matches(r)).count(), 2);
        let user_and_host = f(SessionFilterArgs {
            match_user: vec!["app".into()],
            match_host: vec!["10.0.0.1".into()],
            ..Default::default()
        });
        let ids: Vec<u64> = rows
            .iter()
            .filter(|r| user_and_host.matches(r))
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, vec![1]);
        let sleeping_old = f(SessionFilterArgs {
            sleeping: true,
            min_time: Some(Duration::from_secs(500)),
            ..Default::default()
        });
        let ids: Vec<u64> = rows
            .iter()
            .filter(|r| sleeping_old.matches(r))
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, vec![3]);
        let cmd = f(SessionFilterArgs {
            match_command: vec!["query".into()],
            ..Default::default()
        });
        assert!(cmd.matches(&rows[1]) && !cmd.matches(&rows[0]));
    }

    #[test]
    fn users_match_as_user_or_as_the_printed_account() {
        let rows = [
            s(1, "app", "localhost", "Sleep", 1, None),
            s(2, "app", "10.0.0.7:5123", "Sleep", 1, None),
            s(3, "app", "[::1]:5124", "Sleep", 1, None),
            s(4, "app", "::1:5125", "Sleep", 1, None),
            s(5, "a@b", "h", "Sleep", 1, None),
            s(6, "application", "localhost", "Sleep", 1, None),
            s(7, "a", "b:5126", "Sleep", 1, None),
            s(8, "o'b", "h", "Sleep", 1, None),
        ];
        let ids = |given: &str| -> Vec<u64> {
            rows.iter()
                .filter(|r| any_user_matches(&[given.to_string()], r))
                .map(|r| r.id)
                .collect()
        };
        assert_eq!(ids("app"), vec![1, 2, 3, 4]);
        // The account as conncheck prints it (Session::account).
        assert_eq!(ids(&rows[0].account()), vec![1]);
        assert_eq!(ids("app@localhost"), vec![1]);
        assert_eq!(ids("app@10.0.0.7"), vec![2]);
        assert_eq!(ids("'app'@'10.0.0.7'"), vec![2]);
        assert_eq!(ids("app@::1"), vec![3, 4]);
        assert_eq!(ids("app@[::1]"), vec![3, 4]);
        assert_eq!(ids("app@%"), vec![1, 2, 3, 4]);
        assert_eq!(ids("app@10.0.0.8"), Vec::<u64>::new());
        // user@host is the user `a` from host `b`, never the user literally named `a@b`.
        assert_eq!(ids("a@b"), vec![7]);
        assert_eq!(ids("a@%"), vec![7]);
        // That one is quoted, as in SQL, or followed by its own host.
        assert_eq!(ids("'a@b'@'%'"), vec![5]);
        assert_eq!(ids("'a@b'"), vec![5]);
        assert_eq!(ids("\"a@b\"@h"), vec![5]);
        assert_eq!(ids("`a@b`@`h`"), vec![5]);
        assert_eq!(ids("'a@b'@'other'"), Vec::<u64>::new());
        assert_eq!(ids("a@b@h"), vec![5]);
        assert_eq!(ids("o'b"), vec![8]);
        assert_eq!(ids("'o''b'@h"), vec![8]);
        let filter = f(SessionFilterArgs {
            match_user: vec!["app@10.0.0.7".into()],
            ..Default::default()
        });
        assert!(filter.matches(&rows[1]) && !filter.matches(&rows[0]));
        assert_eq!(filter.describe(), vec!["user=app@10.0.0.7".to_string()]);
    }

    #[test]
    fn a_malformed_user_says_what_is_wrong() {
        for (given, why) in [
            ("'app", "unclosed '"),
            ("\"app", "unclosed \""),
            ("'app'x", "text after the quoted user name"),
            ("'app'@'h'x", "text after the quoted host"),
            ("app@", "no host after `@`"),
            ("'app'@''", "no host after `@`"),
        ] {
            let e = UserSpec::try_parse(given).unwrap_err();
            assert!(e.contains(why), "{given}: {e}");
        }
        assert_eq!(
            UserSpec::try_parse(" 'a@b'@'%' "),
            Ok(UserSpec {
                user: "a@b".into(),
                host: None
            })
        );
    }

    #[test]
    fn user_arg_selects_exactly_that_user() {
        let names = [
            "app", "a@b", "a@", "@", "'q", "o'b", "x\"y@z", " sp ", "", "`t`",
        ];
        let rows: Vec<Session> = names
            .iter()
            .enumerate()
            .map(|(i, n)| s(i as u64, n, "h:1", "Sleep", 1, None))
            .collect();
        for (i, name) in names.iter().enumerate() {
            let arg = user_arg(name);
            let spec = UserSpec::try_parse(&arg).unwrap_or_else(|e| panic!("{arg}: {e}"));
            let hit: Vec<u64> = rows
                .iter()
                .filter(|r| spec.matches(r))
                .map(|r| r.id)
                .collect();
            assert_eq!(hit, vec![i as u64], "{name:?} as {arg}");
        }
        assert_eq!(user_arg("app"), "app");
        assert_eq!(user_arg("a@b"), "\"a@b\"@%");
    }

    #[test]
    fn regexes_are_unanchored_unless_anchored() {
        let row = s(2, "app", "h", "Query", 90, Some("SELECT SLEEP(100)"));
        assert!(
            f(SessionFilterArgs {
                match_info: Some("SLEEP".into()),
                ..Default::default()
            })
            .matches(&row)
        );
        assert!(
            !f(SessionFilterArgs {
                match_info: Some("^SLEEP".into()),
                ..Default::default()
            })
            .matches(&row)
        );
        assert!(
            f(SessionFilterArgs {
                match_info: Some("(?i)^select".into()),
                ..Default::default()
            })
            .matches(&row)
        );
        // A session without query text never matches an info regex.
        assert!(
            !f(SessionFilterArgs {
                match_info: Some(".*".into()),
                ..Default::default()
            })
            .matches(&s(1, "app", "h", "Sleep", 1, None))
        );
        assert!(
            SessionFilter::try_from(&SessionFilterArgs {
                match_state: Some("(".into()),
                ..Default::default()
            })
            .is_err()
        );
    }

    #[test]
    fn min_time_uses_milliseconds_when_known() {
        let mut row = s(1, "app", "h", "Sleep", 0, None);
        row.time_ms = Some(1500);
        assert!(
            f(SessionFilterArgs::default())
                .with_min_time(Duration::from_secs(1))
                .matches(&row)
        );
        assert!(
            !f(SessionFilterArgs::default())
                .with_min_time(Duration::from_secs(2))
                .matches(&row)
        );
    }
}
