//! `server-full`: the server refused us with ERROR 1040, or every max_connections slot is taken.
//!
//! The server keeps one extra connection for accounts with SUPER / CONNECTION_ADMIN
//! (https://dev.mysql.com/doc/refman/8.0/en/too-many-connections.html), so Threads_connected can
//! reach max_connections + 1 and we may be sitting in that slot ourselves.
//!
//! When we are refused, *when* tells who we are: the server refuses before its greeting only when
//! the reserved slot is taken too (MariaDB `create_new_thread`, MySQL
//! `Connection_handler_manager::check_and_incr_conn_count`), and after the handshake only an
//! account without SUPER / CONNECTION_ADMIN, at max_connections. So an admin account is never told
//! to log in as an admin: before the greeting that would be refused as well.

use super::analysis::Analysis;
use super::{Action, Finding, FindingId, Severity, Thresholds, dur};
use crate::snapshot::Route;

pub fn check(a: &Analysis<'_>, th: &Thresholds) -> Vec<Finding> {
    let snap = a.snap;
    if let Some(r) = &snap.refused {
        let mut f = Finding::new(
            FindingId::ServerFull,
            Severity::Critical,
            "The server is full: it refused conncheck with ERROR 1040",
            if r.before_greeting {
                "Every connection slot is taken, including the one reserved for admins: the server refused us before its greeting.".to_string()
            } else {
                "max_connections is reached: the server refused this account with ERROR 1040 Too many connections.".to_string()
            },
        )
        .evidence("error", &r.message);
        if let Some(p) = r.admin_port_tried {
            f = f.evidence("admin port tried", p);
        }
        let admin_port = Action::command(
            "conncheck --admin-port 33062 diagnose   # MySQL 8.0.14+ admin_address/admin_port, MariaDB extra_port: not counted against max_connections",
        );
        let keep_a_way_in = Action::config(
            "[mysqld]\n# keep a way in for the next incident\nadmin_address = 127.0.0.1   # MySQL 8.0.14+ (admin_port 33062)\nextra_port = 3307            # MariaDB (with extra_max_connections = 5)",
        );
        let f = if r.before_greeting {
            f.action(Action::advice(
                "the reserved admin slot is taken as well, so any other account would be refused too: get in through the admin/extra port if the server has one, or use the session that holds the reserved slot (an admin is probably logged in already)",
            ))
            .action(admin_port)
            .action(keep_a_way_in)
        } else {
            f.evidence(
                "why this account was refused",
                "it has no SUPER / CONNECTION_ADMIN: the server let it log in, then refused it at max_connections",
            )
            .action(Action::command(
                "conncheck -u <admin> diagnose   # an account with SUPER or CONNECTION_ADMIN (MariaDB: CONNECTION ADMIN) gets the one reserved slot",
            ))
            .action(admin_port)
            .action(Action::advice(
                "RDS MySQL before 8.0.36: the master user has neither CONNECTION_ADMIN nor SUPER (no reserved slot, no admin port): raise max_connections in the DB parameter group instead; it is dynamic and applies without a reboot (ApplyMethod=immediate)",
            ))
            .action(Action::command(format!(
                "conncheck -u <admin> kill-idle --older-than {} --dry-run   # then without --dry-run to free slots",
                dur(th.idle)
            )))
            .action(keep_a_way_in)
        };
        return vec![f];
    }
    let max = snap.max_connections();
    let connected = snap.threads_connected();
    if connected < max {
        return vec![];
    }
    let route = match snap.access.route {
        Route::ReservedSlot => "the reserved admin slot (max_connections + 1)",
        Route::AdminPort => "the admin/extra port",
        Route::Normal => "a normal slot",
    };
    let mut f = Finding::new(
        FindingId::ServerFull,
        Severity::Critical,
        "The server is full: every max_connections slot is taken",
        format!(
            "{connected} connections are open against max_connections {max}: new clients get ERROR 1040; conncheck got in through {route}."
        ),
    )
    .evidence("Threads_connected", connected)
    .evidence("max_connections", max)
    .evidence("route", route)
    .slots(connected)
    .action(Action::command(format!(
        "conncheck kill-idle --older-than {} --dry-run   # see which sleeping sessions would go, then confirm",
        dur(th.idle)
    )))
    .action(Action::advice(
        "read the other findings: they say why the slots are taken (leak, idle transactions, lock pile-up, long queries)",
    ));
    let dialect = snap.dialect();
    if dialect.parameter_group() {
        // RDS/Aurora: max_connections is dynamic in the DB parameter group, and kills go through
        // mysql.rds_kill, which the master user may call for any session.
        f = f.action(Action::advice(format!(
            "RDS/Aurora: max_connections is dynamic: raise it in the DB parameter group (aws rds modify-db-parameter-group --db-parameter-group-name <group> --parameters \"ParameterName=max_connections,ParameterValue={},ApplyMethod=immediate\"); it applies without a reboot",
            max + max / 4 + 1
        )));
        if !dialect.master_has_reserved_slot() {
            f = f.action(Action::advice(
                "RDS MySQL before 8.0.36: the master user has neither CONNECTION_ADMIN nor SUPER, so no account you can log in as gets the reserved slot: keep this session open until slots are freed",
            ));
        }
    } else if !snap.access.privileges.can_kill_others() {
        f = f.action(Action::advice(format!(
            "this account cannot kill other sessions: reconnect as an account with {}",
            dialect.kill_privilege()
        )));
    }
    vec![f]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures;
    use crate::snapshot::Refusal;

    #[test]
    fn healthy_server_is_not_full() {
        assert!(check(&Analysis::new(&fixtures::mariadb()), &Thresholds::default()).is_empty());
        assert!(check(&Analysis::new(&fixtures::mysql8()), &Thresholds::default()).is_empty());
    }

    #[test]
    fn full_through_the_reserved_slot() {
        let mut s = fixtures::mariadb();
        s.variables.insert("max_connections".into(), "10".into());
        fixtures::set_status(&mut s, "threads_connected", 11);
        s.access.route = Route::ReservedSlot;
        let f = check(&Analysis::new(&s), &Thresholds::default());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Critical);
        assert!(
            f[0].summary.contains("reserved admin slot"),
            "{}",
            f[0].summary
        );
        assert_eq!(f[0].slots, 11);
    }

    #[test]
    fn rds_full_server_advice_works_there() {
        let mut s = fixtures::mysql8();
        s.server.rds = true;
        s.server.version_number = (8, 0, 35);
        s.access.privileges = crate::snapshot::Privileges {
            process: true,
            ..Default::default()
        };
        s.variables.insert("max_connections".into(), "100".into());
        fixtures::set_status(&mut s, "threads_connected", 100);
        let f = check(&Analysis::new(&s), &Thresholds::default());
        let texts: Vec<&str> = f[0].actions.iter().map(|a| a.text.as_str()).collect();
        assert!(
            texts
                .iter()
                .any(|t| t.contains("modify-db-parameter-group")),
            "{texts:?}"
        );
        assert!(
            texts.iter().any(|t| t.contains("before 8.0.36")),
            "{texts:?}"
        );
        assert!(
            !texts.iter().any(|t| t.contains("reconnect as")),
            "{texts:?}"
        );
        s.server.version_number = (8, 0, 36);
        let f = check(&Analysis::new(&s), &Thresholds::default());
        assert!(
            !f[0]
                .actions
                .iter()
                .any(|a| a.text.contains("before 8.0.36"))
        );
    }

    #[test]
    fn refused_connection_is_reported_with_ways_in() {
        let mut s = fixtures::mysql8();
        s.refused = Some(Refusal {
            code: 1040,
            message: "Too many connections".into(),
            before_greeting: false,
            admin_port_tried: None,
        });
        let f = check(&Analysis::new(&s), &Thresholds::default());
        assert_eq!(f[0].id, FindingId::ServerFull);
        assert!(
            f[0].actions
                .iter()
                .any(|a| a.text.contains("CONNECTION_ADMIN"))
        );
        assert!(f[0].actions.iter().any(|a| a.text.contains("--admin-port")));
    }

    #[test]
    fn no_admin_advice_when_the_reserved_slot_is_taken_too() {
        let mut s = fixtures::mariadb();
        s.refused = Some(Refusal {
            code: 1040,
            message: "Too many connections".into(),
            before_greeting: true,
            admin_port_tried: None,
        });
        let f = check(&Analysis::new(&s), &Thresholds::default());
        assert!(
            !f[0].actions.iter().any(|a| a.text.contains("-u <admin>")),
            "{:?}",
            f[0].actions
        );
        assert!(f[0].actions.iter().any(|a| a.text.contains("--admin-port")));
        assert!(
            f[0].actions
                .iter()
                .any(|a| a.text.contains("reserved admin slot is taken as well"))
        );
    }
}
