//! Selecting sessions: the filters of `sessions`, `kill-idle` and `kill-long`, in one place.
//!
//! Every given criterion must match (AND). Names match exactly; `--command` ignores case;
//! `--state` and `--match-info` are regexes, unanchored unless the user anchors them. Pure.

use std::time::Duration;

use regex::Regex;

use crate::cli::SessionFilterArgs;
use crate::exit::AppError;
use crate::snapshot::Session;

#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    users: Vec<String>,
    hosts: Vec<String>,
    dbs: Vec<String>,
    commands: Vec<String>,
    state: Option<Regex>,
    info: Option<Regex>,
    min_time: Option<Duration>,
    sleeping: bool,
    busy: bool,
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
    pub fn from_args(a: &SessionFilterArgs) -> Result<Self, AppError> {
        let re = |flag: &str, pat: &Option<String>| -> Result<Option<Regex>, AppError> {
            pat.as_deref()
                .map(|p| {
                    // Size limit: a user regex must not eat memory on a 2,000-row processlist.
                    regex::RegexBuilder::new(p)
                        .size_limit(1 << 20)
                        .build()
                        .map_err(|e| AppError::usage(regex_error(flag, &e)))
                })
                .transpose()
        };
        Ok(SessionFilter {
            users: a.match_user.clone(),
            hosts: a.match_host.clone(),
            dbs: a.match_db.clone(),
            commands: a
                .match_command
                .iter()
                .map(|c| c.to_ascii_lowercase())
                .collect(),
            state: re("--match-state", &a.match_state)?,
            info: re("--match-info", &a.match_info)?,
            min_time: a.min_time,
            sleeping: a.sleeping,
            busy: a.busy,
        })
    }

    /// Only sessions at least this long in their current state (the kill thresholds).
    pub fn with_min_time(mut self, d: Duration) -> Self {
        self.min_time = Some(self.min_time.map_or(d, |m| m.max(d)));
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
        (self.users.is_empty() || self.users.contains(&s.user))
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
        list("user", &self.users, &mut v);
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

    #[test]
    fn a_bad_regex_is_one_line() {
        let a = SessionFilterArgs {
            match_state: Some("(".into()),
            ..SessionFilterArgs::default()
        };
        let e = SessionFilter::from_args(&a).unwrap_err();
        assert_eq!(e.message, "invalid regex for --match-state: unclosed group");
        let a = SessionFilterArgs {
            match_info: Some("\\w{1000}{1000}".into()),
            ..SessionFilterArgs::default()
        };
        let e = SessionFilter::from_args(&a).unwrap_err();
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
        SessionFilter::from_args(&a).unwrap()
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
            SessionFilter::from_args(&SessionFilterArgs {
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
