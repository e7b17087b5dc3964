//! `per-user-limit-missing`: one account can take every slot because nothing limits it.
//!
//! With max_user_connections 0 (the default: unlimited) a leak or an oversized pool in one app
//! fills max_connections for everybody. A per-account limit makes that app get ERROR 1226 (global
//! limit: 1203) instead of every client getting ERROR 1040
//! (https://dev.mysql.com/doc/refman/8.0/en/user-resources.html,
//! https://mariadb.com/kb/en/server-system-variables/#max_user_connections). Fires when one user
//! (across hosts) holds at least half of the client sessions and either 20 of them or half of
//! max_connections.
//!
//! Per account, not per user name: the sessions are matched to the account rows they logged in
//! as (`snapshot::accounts::account_for`, as the server matches them), an account that has its
//! own MAX_USER_CONNECTIONS is limited already (no finding), and the `ALTER USER` names that
//! exact row. Without SELECT on mysql.user the rows are unknown: sessions are grouped by user
//! name and the suggestion says to look the host part up.
//!
//! MariaDB started with max_user_connections 0 refuses to change it at runtime (ERROR 1290,
//! docs/server-facts.md): there we advise `ALTER USER` and my.cnf, not SET GLOBAL.

use super::account_rows::by_account_row;
use super::analysis::Analysis;
use super::common::{pct, sql_quoted};
use super::globals::{change_globals, mysqld_config, parameter_group};
use super::{Action, Finding, FindingId, Severity, Thresholds};
use crate::snapshot::Account;

/// An account holding this many sessions is worth a limit even when max_connections is large.
const MIN_SESSIONS: usize = 20;

/// The account a group of sessions logged in as: the matched row when the rows are known.
struct Holder<'a> {
    user: &'a str,
    row: Option<&'a Account>,
}

pub fn check(a: &Analysis<'_>, _th: &Thresholds) -> Vec<Finding> {
    let snap = a.snap;
    if snap.var_u64("max_user_connections") != Some(0) {
        return vec![];
    }
    // Sessions still logging in are no account (handshake-stall names them).
    let groups = by_account_row(a);
    let clients: usize = groups.values().map(|(_, v)| v.len()).sum();
    let Some(((user, _), (row, held))) = groups.into_iter().max_by_key(|(_, (_, v))| v.len())
    else {
        return vec![];
    };
    let holder = Holder { user, row };
    let n = held.len();
    let max = snap.max_connections();
    let big = n >= MIN_SESSIONS || n as u64 * 2 >= max;
    if n * 2 < clients || !big {
        return vec![];
    }
    // The account has a limit of its own: the global 0 does not apply to it.
    if holder.row.is_some_and(|r| r.max_user_connections > 0) {
        return vec![];
    }
    let user = holder.user;
    // Leave a quarter of the slots (at least one) to everybody else.
    let limit = max.saturating_sub((max / 4).max(1)).max(1);
    let mut hosts: Vec<&str> = held.iter().map(|s| s.client_host()).collect();
    hosts.sort_unstable();
    hosts.dedup();
    let quoted = sql_quoted(user);
    let (account, alter) = match holder.row {
        Some(r) => {
            let name = format!("'{quoted}'@'{}'", sql_quoted(&r.host));
            (
                name.clone(),
                format!("ALTER USER {name} WITH MAX_USER_CONNECTIONS {limit};"),
            )
        }
        None => (
            user.to_string(),
            format!(
                "ALTER USER '{quoted}'@'%' WITH MAX_USER_CONNECTIONS {limit};   -- use the account's real host part: SELECT user, host FROM mysql.user WHERE user = '{quoted}';"
            ),
        ),
    };
    let mut f = Finding::new(
        FindingId::PerUserLimitMissing,
        Severity::Warning,
        format!("Account {account} holds most connections and nothing limits it"),
        format!(
            "{account} holds {n} of {} client sessions ({}) and neither it nor max_user_connections sets a limit: a leak in that app can take all {max} slots for everybody.",
            clients,
            pct(n as u64, clients as u64)
        ),
    )
    .evidence("account", &account)
    .evidence("sessions", n)
    .evidence("share of client sessions", pct(n as u64, clients as u64))
    .evidence("client hosts", hosts.join(", "))
    .evidence("max_user_connections", 0)
    .evidence(
        "account limit (MAX_USER_CONNECTIONS)",
        if holder.row.is_some() {
            "0 (none)"
        } else {
            "unknown: account rows not readable (SELECT on mysql.user)"
        },
    )
    .evidence("max_connections", max)
    .sessions(held.iter().map(|s| s.id))
    .slots(n as u64)
    .action(Action::sql(alter))
    .action(Action::advice(format!(
        "size the limit to the app's pool (max pool size × instances); {limit} leaves {} slots to other accounts",
        max.saturating_sub(limit)
    )));
    let value = limit.to_string();
    let vars = [("max_user_connections", value.as_str())];
    let global = if !snap.dialect().max_user_connections_static_from_zero() {
        change_globals(snap, None, &vars)
    } else if snap.dialect().parameter_group() {
        vec![parameter_group(&vars, "pending-reboot")]
    } else {
        vec![
            mysqld_config(&vars),
            Action::advice(
                "MariaDB started with max_user_connections = 0 refuses SET GLOBAL max_user_connections (ERROR 1290): set it in my.cnf for the next restart, use ALTER USER now",
            ),
        ]
    };
    for a in global {
        f = f.action(a);
    }
    vec![f]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_in_progress_get_no_alter_user() {
        let mut s = fixtures::mariadb();
        s.variables
            .insert("max_user_connections".into(), "0".into());
        let v = (0..40)
            .map(|i| fixtures::login(i + 1, "10.0.0.9", 30))
            .collect();
        fixtures::with_sessions(&mut s, v);
        assert!(check(&Analysis::new(&s), &Thresholds::default()).is_empty());
    }

    use crate::diagnose::{ActionKind, fixtures};
    use crate::snapshot::Snapshot;

    fn sessions(s: &mut Snapshot, users: &[(&str, u64)]) {
        let mut id = 0;
        let mut all = Vec::new();
        for (user, n) in users {
            for _ in 0..*n {
                id += 1;
                let host = format!("10.0.0.{}", id % 3);
                all.push(fixtures::session(id, user, &host, "Sleep", 5, "", None));
            }
        }
        fixtures::with_sessions(s, all);
    }

    #[test]
    fn healthy_servers_need_no_limit() {
        let th = Thresholds::default();
        assert!(check(&Analysis::new(&fixtures::mariadb()), &th).is_empty());
        assert!(check(&Analysis::new(&fixtures::mysql8()), &th).is_empty());
    }

    #[test]
    fn boundaries() {
        let th = Thresholds::default();
        let mut s = fixtures::mysql8();
        sessions(&mut s, &[("app", 19), ("report", 5)]);
        assert!(
            check(&Analysis::new(&s), &th).is_empty(),
            "19 sessions are too few"
        );
        sessions(&mut s, &[("app", 20), ("report", 20)]);
        assert_eq!(check(&Analysis::new(&s), &th).len(), 1, "exactly half");
        sessions(&mut s, &[("app", 20), ("report", 19), ("web", 2)]);
        assert!(check(&Analysis::new(&s), &th).is_empty(), "under half");
        // Small server: 8 of max_connections 15 is over half of it.
        s.variables.insert("max_connections".into(), "15".into());
        sessions(&mut s, &[("app", 8)]);
        let f = check(&Analysis::new(&s), &th);
        assert!(
            f[0].actions[0].text.contains("MAX_USER_CONNECTIONS 12;"),
            "15 - 15/4"
        );
        s.variables
            .insert("max_user_connections".into(), "10".into());
        assert!(check(&Analysis::new(&s), &th).is_empty(), "a limit is set");
    }

    #[test]
    fn mysql_gets_set_global() {
        let mut s = fixtures::mysql8();
        sessions(&mut s, &[("app", 30), ("o'neil", 2)]);
        let f = &check(&Analysis::new(&s), &Thresholds::default())[0];
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(f.sessions.len(), 30);
        assert!(
            f.summary.contains("30 of 32 client sessions (93.8%)"),
            "{}",
            f.summary
        );
        assert!(
            f.evidence
                .iter()
                .any(|e| e.value == "10.0.0.0, 10.0.0.1, 10.0.0.2")
        );
        assert!(
            f.actions[0]
                .text
                .starts_with("ALTER USER 'app'@'%' WITH MAX_USER_CONNECTIONS 114;")
        );
        assert!(
            f.actions
                .iter()
                .any(|a| a.text == "SET GLOBAL max_user_connections = 114;")
        );
    }

    #[test]
    fn mariadb_gets_config_not_set_global() {
        let mut s = fixtures::mariadb();
        sessions(&mut s, &[("app", 30)]);
        let f = &check(&Analysis::new(&s), &Thresholds::default())[0];
        assert!(!f.actions.iter().any(|a| a.text.starts_with("SET GLOBAL")));
        assert!(
            f.actions
                .iter()
                .any(|a| a.text == "[mysqld]\nmax_user_connections = 114")
        );
        assert!(f.actions.iter().any(|a| a.text.contains("ERROR 1290")));
        s.server.rds = true;
        let f = &check(&Analysis::new(&s), &Thresholds::default())[0];
        assert!(f.actions.iter().any(|a| a.text.contains("pending-reboot")));
        assert_eq!(
            f.actions
                .iter()
                .filter(|a| a.kind == ActionKind::Sql)
                .count(),
            1
        );
    }

    fn row(user: &str, host: &str, limit: u64) -> Account {
        Account {
            user: user.into(),
            host: host.into(),
            max_user_connections: limit,
            max_connections_per_hour: 0,
        }
    }

    #[test]
    fn the_real_account_is_named() {
        let mut s = fixtures::mariadb();
        sessions(&mut s, &[("app", 30)]);
        s.accounts = Some(vec![row("app", "10.0.0.%", 0), row("app", "%", 0)]);
        let f = &check(&Analysis::new(&s), &Thresholds::default())[0];
        assert!(
            f.actions[0]
                .text
                .starts_with("ALTER USER 'app'@'10.0.0.%' WITH MAX_USER_CONNECTIONS 114;"),
            "{}",
            f.actions[0].text
        );
        assert!(!f.actions[0].text.contains("SELECT user, host"));
        assert!(f.title.contains("'app'@'10.0.0.%'"), "{}", f.title);
    }

    #[test]
    fn an_account_with_its_own_limit_is_limited() {
        let mut s = fixtures::mariadb();
        sessions(&mut s, &[("app", 30)]);
        s.accounts = Some(vec![row("app", "10.0.0.%", 40)]);
        assert!(check(&Analysis::new(&s), &Thresholds::default()).is_empty());
        // A limit on another row of the same user does not count.
        s.accounts = Some(vec![row("app", "10.0.0.%", 0), row("app", "localhost", 40)]);
        assert_eq!(check(&Analysis::new(&s), &Thresholds::default()).len(), 1);
    }
}
