//! What our account may do, from the text of `SHOW GRANTS`.
//!
//! Parsing the grant text works the same on MySQL 5.7/8.x (static and dynamic privileges on
//! separate lines) and MariaDB (`CONNECTION ADMIN` with a space). Pure; no SQL here.

use super::model::Privileges;

/// Privileges granted ON *.* in the given `SHOW GRANTS` lines.
pub fn parse_grants<S: AsRef<str>>(lines: &[S]) -> Privileges {
    let mut p = Privileges::default();
    for line in lines {
        let line = line.as_ref();
        let upper = line.to_ascii_uppercase();
        let Some(rest) = upper.strip_prefix("GRANT ") else {
            continue;
        };
        // Only global grants matter for these privileges.
        let Some(end) = rest.find(" ON *.* TO ") else {
            continue;
        };
        for raw in rest[..end].split(',') {
            let name = raw.trim().replace(' ', "_");
            match name.as_str() {
                "ALL" | "ALL_PRIVILEGES" => {
                    p.process = true;
                    p.super_ = true;
                    p.connection_admin = true;
                    p.system_variables_admin = true;
                }
                // ALL on MySQL 8 lists the dynamic privileges one by one (SYSTEM_USER among them).
                "SYSTEM_USER" => p.system_user = true,
                "PROCESS" => p.process = true,
                "SUPER" => p.super_ = true,
                "CONNECTION_ADMIN" => p.connection_admin = true,
                "SYSTEM_VARIABLES_ADMIN" => p.system_variables_admin = true,
                _ => {}
            }
        }
    }
    p
}

/// Whether what the account could read proves it has PROCESS, whatever `SHOW GRANTS` listed:
/// a privilege granted through a role shows there only as the role's name (MySQL 8 without
/// `USING`, MariaDB for a role not set). Only PROCESS shows other accounts' sessions and lets
/// INNODB_TRX be read (MySQL `PROCESS_ACL`, MariaDB the same). `own_login`: the user name of our
/// own processlist row (the login name, which an anonymous or proxied account's CURRENT_USER()
/// does not give).
pub fn process_shown(
    own_login: Option<&str>,
    sessions: &[super::model::Session],
    innodb_trx_read: bool,
) -> bool {
    innodb_trx_read || own_login.is_some_and(|me| sessions.iter().any(|s| s.user != me))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mariadb_grants() {
        let p = parse_grants(&[
            "GRANT PROCESS, CONNECTION ADMIN ON *.* TO `ops`@`%` IDENTIFIED BY PASSWORD '*ABC'",
        ]);
        assert!(p.process && p.connection_admin && !p.super_);
        let root =
            parse_grants(&["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"]);
        assert!(root.process && root.super_ && root.can_kill_others() && root.can_set_globals());
    }

    #[test]
    fn mysql8_dynamic_privileges() {
        let p = parse_grants(&[
            "GRANT PROCESS ON *.* TO `mon`@`%`",
            "GRANT CONNECTION_ADMIN,SYSTEM_VARIABLES_ADMIN ON *.* TO `mon`@`%`",
        ]);
        assert!(p.process && p.connection_admin && p.system_variables_admin && !p.super_);
        assert!(!p.system_user);
        let root = parse_grants(&[
            "GRANT SELECT, PROCESS, SUPER ON *.* TO `root`@`localhost` WITH GRANT OPTION",
            "GRANT CONNECTION_ADMIN,SYSTEM_USER,SYSTEM_VARIABLES_ADMIN ON *.* TO `root`@`localhost` WITH GRANT OPTION",
        ]);
        assert!(root.system_user && root.connection_admin);
    }

    #[test]
    fn process_is_proven_by_what_could_be_read() {
        use crate::snapshot::Session;
        let s = |user: &str| Session {
            user: user.into(),
            ..Session::default()
        };
        assert!(!process_shown(Some("app"), &[s("app"), s("app")], false));
        assert!(process_shown(
            Some("app"),
            &[s("app"), s("event_scheduler")],
            false
        ));
        assert!(process_shown(Some("app"), &[], true));
        // Our own row not seen: nothing is concluded from the others.
        assert!(!process_shown(None, &[s("other")], false));
    }

    #[test]
    fn database_grants_do_not_count() {
        let p = parse_grants(&[
            "GRANT USAGE ON *.* TO `app`@`%`",
            "GRANT ALL PRIVILEGES ON `app`.* TO `app`@`%`",
        ]);
        assert_eq!(p, Privileges::default());
    }
}
