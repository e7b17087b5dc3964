//! `no-process-privilege`: conncheck sees only its own account's sessions, so the diagnosis is
//! incomplete.
//!
//! Without PROCESS (or SUPER) the processlist shows only the threads of the current account and
//! INNODB_TRX stays empty (https://dev.mysql.com/doc/refman/8.0/en/privileges-provided.html#priv_process,
//! https://mariadb.com/kb/en/grant/#global-privileges): idle, leak, transaction and lock findings
//! cannot see the sessions that fill the server.

use super::analysis::Analysis;
use super::{Action, Finding, FindingId, Severity, Thresholds};

/// `'user'@'host'` from `CURRENT_USER()` (`app@%`), quotes escaped.
fn account_sql(user_at_host: &str) -> String {
    let (user, host) = user_at_host.rsplit_once('@').unwrap_or((user_at_host, "%"));
    format!(
        "'{}'@'{}'",
        super::common::sql_quoted(user),
        super::common::sql_quoted(host)
    )
}

pub fn check(a: &Analysis<'_>, _th: &Thresholds) -> Vec<Finding> {
    let snap = a.snap;
    if snap.sees_all_sessions() {
        return vec![];
    }
    let visible = snap.sessions.len() as u64 + 1; // + ourselves
    let connected = snap.threads_connected();
    let hidden = connected.saturating_sub(visible);
    vec![
        Finding::new(
            FindingId::NoProcessPrivilege,
            Severity::Warning,
            "The diagnosis is incomplete: this account cannot see other sessions",
            format!(
                "{} has no PROCESS privilege: conncheck sees {visible} of {connected} connections, so {hidden} are judged only by counters.",
                snap.access.user
            ),
        )
        .evidence("account", &snap.access.user)
        .evidence("sessions visible (with ours)", visible)
        .evidence("Threads_connected", connected)
        .slots(hidden)
        .action(Action::sql(format!(
            "GRANT PROCESS ON *.* TO {};",
            account_sql(&snap.access.user)
        )))
        .action(Action::command(
            "conncheck -u <admin> diagnose   # or run as an account that has PROCESS",
        )),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures;
    use crate::snapshot::Privileges;

    #[test]
    fn healthy_servers_with_root_see_everything() {
        let th = Thresholds::default();
        assert!(check(&Analysis::new(&fixtures::mariadb()), &th).is_empty());
        assert!(check(&Analysis::new(&fixtures::mysql8()), &th).is_empty());
    }

    #[test]
    fn without_process_the_grant_is_suggested() {
        for mut s in [fixtures::mariadb(), fixtures::mysql8()] {
            s.access.user = "app@10.0.%".into();
            s.access.privileges = Privileges::default();
            fixtures::set_status(&mut s, "threads_connected", 40);
            s.sessions.truncate(2);
            let f = check(&Analysis::new(&s), &Thresholds::default());
            assert_eq!(f[0].severity, Severity::Warning);
            assert!(f[0].summary.contains("sees 3 of 40"), "{}", f[0].summary);
            assert_eq!(f[0].slots, 37);
            assert_eq!(
                f[0].actions[0].text,
                "GRANT PROCESS ON *.* TO 'app'@'10.0.%';"
            );
        }
    }

    #[test]
    fn super_alone_is_enough_only_where_it_implies_process() {
        // MySQL checks PROCESS alone for the processlist and INNODB_TRX (PROCESS_ACL).
        let mut s = fixtures::mysql8();
        s.access.privileges = Privileges {
            super_: true,
            ..Privileges::default()
        };
        assert!(!s.sees_all_sessions());
        // MariaDB before 10.5.2 let SUPER imply it.
        let mut m = fixtures::mariadb();
        m.access.privileges = s.access.privileges;
        m.server.version_number = (10, 4, 30);
        assert!(m.sees_all_sessions());
        assert!(check(&Analysis::new(&m), &Thresholds::default()).is_empty());
        m.server.version_number = (10, 11, 6);
        assert!(!m.sees_all_sessions());
        assert_eq!(account_sql("o'brien@localhost"), "'o''brien'@'localhost'");
        assert_eq!(account_sql("odd"), "'odd'@'%'");
    }
}
