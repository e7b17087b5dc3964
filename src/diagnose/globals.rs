//! How to change a global variable on this server, as actions: `SET GLOBAL` for the running
//! server plus the `[mysqld]` lines that keep the change after a restart, or the DB parameter
//! group on RDS/Aurora, where SET GLOBAL is refused
//! (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithParamGroups.html).
//! Pure: builds text, sends nothing.

use super::Action;
use crate::snapshot::Snapshot;
use crate::snapshot::dialect::Persistence;

/// Change dynamic globals: the conncheck command (if any), `SET GLOBAL`, and `[mysqld]`; on
/// RDS/Aurora only the parameter group. Values are SQL literals (`300`, `'ON'`).
pub fn change_globals(
    snap: &Snapshot,
    command: Option<&str>,
    vars: &[(&str, &str)],
) -> Vec<Action> {
    if snap.dialect().persistence() == Persistence::ParameterGroup {
        return vec![parameter_group(vars, "immediate")];
    }
    let sql = vars
        .iter()
        .map(|(n, v)| format!("SET GLOBAL {n} = {v};"))
        .collect::<Vec<_>>()
        .join(" ");
    let names = || vars.iter().map(|(n, _)| *n);
    command
        .map(|c| Action::command(c).changes(names()))
        .into_iter()
        .chain([Action::sql(sql).changes(names()), mysqld_config(vars)])
        .collect()
}

/// A `[mysqld]` snippet for my.cnf.
pub fn mysqld_config(vars: &[(&str, &str)]) -> Action {
    mysqld_lines(vars.iter().map(|(n, v)| (*n, *v, "")))
}

/// Settings to keep across restarts, each `(name, value, note)` with a short note on what it does
/// (or `""`): `[mysqld]` lines for my.cnf, or on RDS/Aurora, where there is no my.cnf, the DB
/// parameter group. For advice that stops short of `SET GLOBAL` (see [`change_globals`]).
pub fn persistent_config(snap: &Snapshot, vars: &[(&str, &str, &str)]) -> Action {
    if snap.dialect().persistence() == Persistence::ParameterGroup {
        let pairs: Vec<(&str, &str)> = vars.iter().map(|(n, v, _)| (*n, *v)).collect();
        return parameter_group(&pairs, "immediate");
    }
    mysqld_lines(vars.iter().copied())
}

fn mysqld_lines<'a>(vars: impl Iterator<Item = (&'a str, &'a str, &'a str)>) -> Action {
    let mut names = Vec::new();
    let lines: String = vars
        .map(|(n, v, note)| {
            names.push(n);
            let v = v.trim_matches('\'');
            if note.is_empty() {
                format!("\n{n} = {v}")
            } else {
                format!("\n{n} = {v}   # {note}")
            }
        })
        .collect();
    Action::config(format!("[mysqld]{lines}")).changes(names)
}

/// The RDS/Aurora way: the DB parameter group. `apply` is `immediate` for dynamic variables,
/// `pending-reboot` for static ones.
pub fn parameter_group(vars: &[(&str, &str)], apply: &str) -> Action {
    let params = vars
        .iter()
        .map(|(n, v)| {
            format!(
                "\"ParameterName={n},ParameterValue={},ApplyMethod={apply}\"",
                v.trim_matches('\'')
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    Action::advice(format!(
        "RDS/Aurora does not allow SET GLOBAL: change the DB parameter group instead: aws rds modify-db-parameter-group --db-parameter-group-name <group> --parameters {params}"
    ))
    .changes(vars.iter().map(|(n, _)| *n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::{ActionKind, fixtures};

    #[test]
    fn on_a_server_and_on_rds() {
        let mut s = fixtures::mariadb();
        let vars = [("slow_query_log", "'ON'"), ("long_query_time", "1")];
        let a = change_globals(&s, Some("conncheck set-slow-log on"), &vars);
        assert_eq!(a[0].kind, ActionKind::Command);
        assert_eq!(
            a[1].text,
            "SET GLOBAL slow_query_log = 'ON'; SET GLOBAL long_query_time = 1;"
        );
        assert_eq!(
            a[2].text,
            "[mysqld]\nslow_query_log = ON\nlong_query_time = 1"
        );
        assert_eq!(change_globals(&s, None, &vars).len(), 2);
        s.server.rds = true;
        let a = change_globals(&s, Some("conncheck set-slow-log on"), &vars);
        assert_eq!(a.len(), 1);
        assert!(
            a[0].text.contains(
                "\"ParameterName=slow_query_log,ParameterValue=ON,ApplyMethod=immediate\""
            )
        );
        assert!(!a[0].text.contains("SET GLOBAL slow"));
    }

    #[test]
    fn persistent_config_with_notes_or_the_parameter_group() {
        let mut s = fixtures::mysql8();
        let vars = [
            ("wait_timeout", "300", "seconds idle"),
            ("interactive_timeout", "300", ""),
        ];
        let a = persistent_config(&s, &vars);
        assert_eq!(a.kind, ActionKind::Config);
        assert_eq!(
            a.text,
            "[mysqld]\nwait_timeout = 300   # seconds idle\ninteractive_timeout = 300"
        );
        s.server.rds = true;
        let a = persistent_config(&s, &vars);
        assert_eq!(a.kind, ActionKind::Advice);
        assert!(a.text.ends_with(
            "\"ParameterName=wait_timeout,ParameterValue=300,ApplyMethod=immediate\" \"ParameterName=interactive_timeout,ParameterValue=300,ApplyMethod=immediate\""
        ), "{}", a.text);
    }
}
