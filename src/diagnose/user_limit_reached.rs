//! `user-limit-reached`: an account holds as many connections as it may, so its next login is
//! refused (docs/refusals.md "ERROR 1203 and 1226"):
//!
//! - ERROR 1203 (42000) `User u already has more than 'max_user_connections' active connections`
//!   when the global max_user_connections is reached by an account without a limit of its own;
//! - ERROR 1226 (42000) `User 'u' has exceeded the 'max_user_connections' resource` when the
//!   account's own MAX_USER_CONNECTIONS is reached (an account limit overrides the global one),
//!   or the same error for `max_connections_per_hour` (MAX_CONNECTIONS_PER_HOUR).
//!
//! Neither has a status counter: the finding shows each account's count against its limit, from
//! the processlist matched to the account rows (`snapshot::accounts::account_for`; without the
//! rows, sessions are grouped by user name and only the global limit is known). The refusals of
//! the sample are the logins that failed after authentication (`snapshot::refusals`) while the
//! normal slots were not full (then they are ERROR 1040's, `refused-connections`). An hourly
//! limit cannot be counted at all: it is named when such logins failed, nothing else explains
//! them, and an account with sessions has one.
//!
//! Sessions still logging in (`unauthenticated user`) are no account: they are never counted,
//! and never get an ALTER USER (`handshake-stall`).

use super::account_rows::by_account_row;
use super::analysis::Analysis;
use super::common::{dur, sql_quoted};
use super::{Action, Finding, FindingId, Severity, Thresholds};
use crate::snapshot::Account;

/// At most this many accounts are named in one finding (their count is always given).
const MAX_ACCOUNTS_SHOWN: usize = 10;

/// One account at its limit.
struct AtLimit<'a> {
    user: &'a str,
    /// The matched account row; None when the rows could not be read.
    row: Option<&'a Account>,
    count: u64,
    limit: u64,
    /// 1203 (global limit) or 1226 (the account's own).
    code: u16,
    ids: Vec<u64>,
    sleeping_long: u64,
}

impl AtLimit<'_> {
    /// `'app'@'10.0.0.%'`, or `'app'@'%'` with the way to find the real host part.
    fn account(&self) -> String {
        let host = self.row.map(|r| r.host.as_str()).unwrap_or("%");
        format!("'{}'@'{}'", sql_quoted(self.user), sql_quoted(host))
    }

    fn error(&self) -> String {
        match self.code {
            1203 => format!(
                "ERROR 1203 (42000): User {} already has more than 'max_user_connections' active connections",
                self.user
            ),
            _ => format!(
                "ERROR 1226 (42000): User '{}' has exceeded the 'max_user_connections' resource (current value: {})",
                self.user, self.limit
            ),
        }
    }
}

pub fn check(a: &Analysis<'_>, th: &Thresholds) -> Vec<Finding> {
    let snap = a.snap;
    let global = snap.var_u64("max_user_connections").unwrap_or(0);
    let rows = snap.accounts.as_deref();
    // The clients by the account row they logged in as (by user name without the rows).
    let groups = by_account_row(a);
    let mut at_limit: Vec<AtLimit<'_>> = groups
        .into_iter()
        .filter_map(|((user, _), (row, sessions))| {
            let own = row.map(|r| r.max_user_connections).unwrap_or(0);
            let (limit, code) = match (own, global) {
                (0, 0) => return None,
                (0, g) => (g, 1203),
                (o, _) => (o, 1226),
            };
            let count = sessions.len() as u64;
            (count >= limit).then(|| AtLimit {
                user,
                row,
                count,
                limit,
                code,
                ids: sessions.iter().map(|s| s.id).collect(),
                sleeping_long: sessions
                    .iter()
                    .filter(|s| s.is_sleeping() && super::common::at_least(s, th.idle))
                    .count() as u64,
            })
        })
        .collect();
    at_limit.sort_by(|x, y| y.count.cmp(&x.count).then_with(|| x.user.cmp(y.user)));
    // Failed logins after authentication while the normal slots had room: an account's limit.
    let refused = snap
        .refused_after_login()
        .filter(|_| !snap.slots_full_during_sample())
        .unwrap_or(0);
    if at_limit.is_empty() {
        return hourly(a, refused).into_iter().collect();
    }
    let first = &at_limit[0];
    let codes: Vec<String> = {
        let mut c: Vec<u16> = at_limit.iter().map(|x| x.code).collect();
        c.sort_unstable();
        c.dedup();
        c.iter().map(|c| format!("ERROR {c}")).collect()
    };
    let (severity, when) = if refused > 0 {
        (
            Severity::Critical,
            format!(
                "{refused} login{} failed after authentication {}",
                if refused == 1 { "" } else { "s" },
                super::common::rate_basis(snap)
            ),
        )
    } else {
        (Severity::Warning, "its next login is refused".to_string())
    };
    let mut f = Finding::new(
        FindingId::UserLimitReached,
        severity,
        format!(
            "{} at its connection limit: new logins get {}",
            if at_limit.len() == 1 {
                format!("Account {}", first.account())
            } else {
                format!("{} accounts are", at_limit.len())
            },
            codes.join(" / ")
        ),
        format!(
            "{} holds {} of {} allowed connection{} ({}): {when}.",
            first.account(),
            first.count,
            first.limit,
            if first.limit == 1 { "" } else { "s" },
            if first.code == 1203 {
                "the global max_user_connections"
            } else {
                "its own MAX_USER_CONNECTIONS"
            }
        ),
    )
    .refused(refused);
    for x in at_limit.iter().take(MAX_ACCOUNTS_SHOWN) {
        f = f
            .evidence(
                &format!("account {}", x.account()),
                format!(
                    "{} connections of {} allowed ({}), {} sleeping for {} or more",
                    x.count,
                    x.limit,
                    if x.code == 1203 {
                        "global max_user_connections"
                    } else {
                        "MAX_USER_CONNECTIONS"
                    },
                    x.sleeping_long,
                    dur(th.idle)
                ),
            )
            .evidence("error clients see", x.error());
    }
    if at_limit.len() > MAX_ACCOUNTS_SHOWN {
        f = f.evidence(
            "more accounts at their limit",
            at_limit.len() - MAX_ACCOUNTS_SHOWN,
        );
    }
    f = f.evidence("max_user_connections", global);
    if let Some(n) = snap.refused_after_login() {
        f = f.evidence(
            "refused after login (ΔAborted_connects − ΔAborted_connects_preauth − ΔAccess_denied_errors − ΔConnection_errors_max_connections)",
            format!("{n} {}", super::common::rate_basis(snap)),
        );
    }
    if rows.is_none() {
        f = f.evidence(
            "account rows",
            "not readable (SELECT on mysql.user): sessions grouped by user name, own limits unknown",
        );
    }
    f = f.sessions(at_limit.iter().flat_map(|x| x.ids.iter().copied()));
    // Relief: the account's own idle sessions, when it has some; fix: the limit of that account.
    for x in at_limit.iter().take(MAX_ACCOUNTS_SHOWN) {
        if x.sleeping_long > 0 {
            f = f.action(Action::conncheck(
                vec![
                    "kill-idle".into(),
                    "--older-than".into(),
                    dur(th.idle),
                    "--match-user".into(),
                    x.user.to_string(),
                    "--dry-run".into(),
                ],
                Some(format!(
                    "frees {} of {}'s {} connections for its new logins: see the plan, then confirm",
                    x.sleeping_long,
                    x.user,
                    x.count
                )),
            ));
        }
        // Twice the limit, never more than the server's slots but one.
        let raised = x
            .limit
            .saturating_mul(2)
            .min(snap.max_connections().saturating_sub(1))
            .max(x.limit + 1);
        let find_row = if x.row.is_none() {
            format!(
                "   -- use the account's real host part: SELECT user, host FROM mysql.user WHERE user = '{}';",
                sql_quoted(x.user)
            )
        } else {
            String::new()
        };
        f = f.action(Action::sql(format!(
            "ALTER USER {} WITH MAX_USER_CONNECTIONS {raised};{find_row}",
            x.account()
        )));
    }
    f = f.action(Action::advice(
        "raise a limit only to what the application really opens (max pool size × instances); when its sessions sit idle, the application leaks or over-sizes its pool: see the other findings",
    ));
    vec![f]
}

/// Logins refused after authentication with no account at its connection limit and the slots
/// not full: an hourly limit (ERROR 1226 for max_connections_per_hour) when an account with
/// sessions has one. The server shows no hourly count, so this is named as a likelihood.
fn hourly(a: &Analysis<'_>, refused: u64) -> Option<Finding> {
    if refused == 0 {
        return None;
    }
    let rows = a.snap.accounts.as_deref()?;
    let mut limited: Vec<&Account> = rows
        .iter()
        .filter(|r| r.max_connections_per_hour > 0)
        .collect();
    if limited.is_empty() {
        return None;
    }
    limited.sort_by(|x, y| x.user.cmp(&y.user).then_with(|| x.host.cmp(&y.host)));
    let mut f = Finding::new(
        FindingId::UserLimitReached,
        Severity::Warning,
        "Logins failed after authentication: an hourly connection limit may be used up (ERROR 1226)",
        format!(
            "{refused} login{} failed after authentication {} with no account at its connection limit and free slots; {} account{} a MAX_CONNECTIONS_PER_HOUR, whose count the server does not show.",
            if refused == 1 { "" } else { "s" },
            super::common::rate_basis(a.snap),
            limited.len(),
            if limited.len() == 1 { " has" } else { "s have" }
        ),
    )
    .refused(refused);
    for r in limited.iter().take(MAX_ACCOUNTS_SHOWN) {
        f = f.evidence(
            &format!(
                "account '{}'@'{}'",
                sql_quoted(&r.user),
                sql_quoted(&r.host)
            ),
            format!("MAX_CONNECTIONS_PER_HOUR {}", r.max_connections_per_hour),
        );
    }
    Some(
        f.evidence(
            "error clients see",
            "ERROR 1226 (42000): User '…' has exceeded the 'max_connections' resource (the resource MAX_CONNECTIONS_PER_HOUR sets)",
        )
        .action(Action::sql("FLUSH USER_RESOURCES;"))
        .action(Action::advice(
            "FLUSH USER_RESOURCES resets every account's hourly counts now; the application's error log names the account refused with ERROR 1226",
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::{self, ev_starting, session};

    fn acc(user: &str, host: &str, limit: u64, per_hour: u64) -> Account {
        Account {
            user: user.into(),
            host: host.into(),
            max_user_connections: limit,
            max_connections_per_hour: per_hour,
        }
    }

    fn run(s: &crate::snapshot::Snapshot) -> Vec<Finding> {
        check(&Analysis::new(s), &Thresholds::default())
    }

    /// `n` sessions of `user` from 10.0.0.7, sleeping 600 s.
    fn sessions(user: &str, first_id: u64, n: u64) -> Vec<crate::snapshot::Session> {
        (0..n)
            .map(|i| session(first_id + i, user, "10.0.0.7", "Sleep", 600, "", None))
            .collect()
    }

    #[test]
    fn the_global_limit_reached_is_1203_with_the_count() {
        let mut s = fixtures::mariadb();
        s.variables
            .insert("max_user_connections".into(), "5".into());
        let mut v = sessions("app", 10, 5);
        v.extend(sessions("web", 20, 4));
        fixtures::with_sessions(&mut s, v);
        s.accounts = Some(vec![acc("app", "10.0.0.%", 0, 0), acc("web", "%", 0, 0)]);
        let f = run(&s);
        assert_eq!(f.len(), 1);
        let f = &f[0];
        assert_eq!(f.id, FindingId::UserLimitReached);
        assert_eq!(f.severity, Severity::Warning, "no refusal seen yet");
        assert!(f.title.contains("ERROR 1203"), "{}", f.title);
        assert!(
            ev_starting(f, "account 'app'@'10.0.0.%'").starts_with("5 connections of 5 allowed")
        );
        assert!(ev_starting(f, "error clients see").starts_with("ERROR 1203 (42000)"));
        assert_eq!(f.sessions.len(), 5);
        assert!(
            f.actions
                .iter()
                .any(|a| a.text == "ALTER USER 'app'@'10.0.0.%' WITH MAX_USER_CONNECTIONS 10;")
        );
        assert!(
            f.actions
                .iter()
                .any(|a| a.text.contains("--match-user app"))
        );
    }

    #[test]
    fn an_own_limit_is_1226_and_refusals_in_the_sample_are_critical() {
        let mut s = fixtures::mariadb();
        s.variables
            .insert("max_user_connections".into(), "0".into());
        fixtures::with_sessions(&mut s, sessions("app", 10, 3));
        s.accounts = Some(vec![acc("app", "%", 3, 0)]);
        fixtures::set_status(&mut s, "aborted_connects_preauth", 0);
        fixtures::set_status(&mut s, "access_denied_errors", 0);
        fixtures::sample(
            &mut s,
            2.0,
            &[
                ("aborted_connects", 10),
                ("aborted_connects_preauth", 1),
                ("access_denied_errors", 1),
            ],
        );
        let f = &run(&s)[0];
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.refused, 5, "10 - 3 before: 7, less 1 preauth, 1 denied");
        assert!(f.title.contains("ERROR 1226"), "{}", f.title);
        assert!(ev_starting(f, "error clients see").contains("(current value: 3)"));

        // Below the limit: nothing, whatever failed.
        s.accounts = Some(vec![acc("app", "%", 4, 0)]);
        assert!(run(&s).is_empty());
    }

    #[test]
    fn logins_in_progress_are_no_account() {
        let mut s = fixtures::mariadb();
        s.variables
            .insert("max_user_connections".into(), "2".into());
        let v = (0..5)
            .map(|i| fixtures::login(i + 1, "10.0.0.9:4000", 30))
            .collect();
        fixtures::with_sessions(&mut s, v);
        assert!(run(&s).is_empty());
    }

    #[test]
    fn an_hourly_limit_is_named_when_logins_fail_for_no_visible_reason() {
        let mut s = fixtures::mariadb();
        s.variables
            .insert("max_user_connections".into(), "0".into());
        fixtures::with_sessions(&mut s, sessions("app", 10, 3));
        s.accounts = Some(vec![acc("app", "%", 0, 100)]);
        fixtures::set_status(&mut s, "aborted_connects_preauth", 0);
        fixtures::set_status(&mut s, "access_denied_errors", 0);
        fixtures::sample(&mut s, 2.0, &[("aborted_connects", 5)]);
        let f = &run(&s)[0];
        assert_eq!(f.refused, 2);
        assert!(f.title.contains("hourly"), "{}", f.title);
        assert!(f.actions.iter().any(|a| a.text == "FLUSH USER_RESOURCES;"));
    }
}
