//! `handshake-stall`: sessions stuck in the login handshake hold connection slots
//! (docs/refusals.md "Stalled handshakes").
//!
//! A connection counts against max_connections from accept, before the client has said who it
//! is: the processlist shows it as `unauthenticated user`, command `Connect`, state `Reading
//! from net` or `login` (`common::logging_in`). A healthy login leaves that state within
//! milliseconds; one still there after [`STALL_S`] waits for a client that does not answer the
//! greeting (a broken client, a proxy or health check holding the socket open, a slow TLS peer)
//! or for the server's reverse DNS lookup of the client's address. `connect_timeout` bounds the
//! wait for the client, not a DNS lookup: sessions older than it point to name resolution.
//!
//! Relief: a shorter `connect_timeout` for new handshakes, and KILL of the stalled sessions by
//! id (a new connect_timeout does not apply to a read already waiting). Fix: `skip_name_resolve`,
//! offered only when it is OFF and a stalled host is an address the server did not resolve; it
//! is read-only (my.cnf and a restart), and accounts must then be granted by IP.
//! `unauthenticated user` is no account: nothing here (or in any finding) alters it.

use std::net::IpAddr;

use super::analysis::Analysis;
use super::common::{group_by, logging_in, severity_for_slots};
use super::globals::{change_globals, mysqld_config, parameter_group};
use super::{Action, Finding, FindingId, Thresholds};
use crate::snapshot::Session;

/// A login still in progress after this long is stalled: a login takes milliseconds.
pub const STALL_S: f64 = 2.0;

/// The connect_timeout suggested when it is longer: the default of MySQL 8 and MariaDB
/// (docs/refusals.md), long enough for a client on a slow network to answer the greeting.
const CONNECT_TIMEOUT_FIT: u64 = 10;

/// At most this many ids are written into the KILL statement to paste.
const MAX_KILLS_PASTED: usize = 100;

/// Whether the processlist host (without port) is an address rather than a name.
fn unresolved(host: &str) -> bool {
    host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok()
}

pub fn check(a: &Analysis<'_>, _th: &Thresholds) -> Vec<Finding> {
    let snap = a.snap;
    let stalled: Vec<&Session> = a
        .clients()
        .filter(|s| logging_in(s) && s.time_secs_f64() >= STALL_S)
        .collect();
    if stalled.is_empty() {
        return vec![];
    }
    let n = stalled.len() as u64;
    let max = snap.max_connections();
    let oldest = stalled.iter().map(|s| s.time_s).max().unwrap_or(0);
    let timeout = snap.var_u64("connect_timeout");
    let skip_resolve = snap.var_bool("skip_name_resolve");
    let unresolved_hosts: Vec<&str> = {
        let mut v: Vec<&str> = stalled
            .iter()
            .map(|s| s.client_host())
            .filter(|h| unresolved(h))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let past_timeout = timeout.is_some_and(|t| oldest > t);
    let mut f = Finding::new(
        FindingId::HandshakeStall,
        severity_for_slots(n, max),
        "Connections stuck in the login handshake hold slots",
        format!(
            "{n} connection{} from {} {} been in the login handshake (unauthenticated user, Connect) for up to {oldest}s, each holding one of the {max} slots: the client never answered the server's greeting{}.",
            if n == 1 { "" } else { "s" },
            by_client_hosts(&stalled),
            if n == 1 { "has" } else { "have" },
            if past_timeout {
                ", or the server is still resolving the client's address (older than connect_timeout, which does not bound a DNS lookup)"
            } else {
                ""
            }
        ),
    )
    .evidence("sessions in the login handshake", n)
    .evidence("source hosts", by_client_hosts(&stalled))
    .evidence("oldest", format!("{oldest}s"))
    .evidence(
        "connect_timeout",
        timeout.map_or("unknown".to_string(), |t| format!("{t}s")),
    )
    .evidence(
        "skip_name_resolve",
        match skip_resolve {
            Some(true) => "ON",
            Some(false) => "OFF",
            None => "unknown",
        },
    )
    .sessions(stalled.iter().map(|s| s.id))
    .slots(n);
    if !unresolved_hosts.is_empty() {
        f = f.evidence("unresolved hosts", unresolved_hosts.join(", "));
    }
    // Relief 1: new handshakes end sooner.
    match timeout {
        Some(t) if t > CONNECT_TIMEOUT_FIT => {
            let value = CONNECT_TIMEOUT_FIT.to_string();
            for a in change_globals(snap, None, &[("connect_timeout", value.as_str())]) {
                f = f.action(a);
            }
        }
        Some(t) => {
            f = f.action(Action::advice(format!(
                "connect_timeout is {t}s already: new handshakes from a silent client end within it"
            )))
        }
        None => {}
    }
    // Relief 2: the stalled sessions themselves, by id (a new connect_timeout does not reach
    // a read already waiting).
    let d = snap.dialect();
    let kills: Vec<String> = stalled
        .iter()
        .take(MAX_KILLS_PASTED)
        .map(|s| format!("{};", d.kill_to_paste(s.id)))
        .collect();
    f = f.action(Action::sql(kills.join(" ")));
    if stalled.len() > MAX_KILLS_PASTED {
        f = f.action(Action::advice(format!(
            "{} more stalled sessions: run `conncheck diagnose` again for their ids",
            stalled.len() - MAX_KILLS_PASTED
        )));
    }
    // Fix: no reverse DNS at login, when the server resolves names and a stalled host is an
    // address it did not resolve.
    if skip_resolve == Some(false) && !unresolved_hosts.is_empty() {
        let vars = [("skip_name_resolve", "ON")];
        f = f.action(if d.parameter_group() {
            parameter_group(&vars, "pending-reboot")
        } else {
            mysqld_config(&vars)
        });
        f = f.action(Action::advice(format!(
            "skip_name_resolve is read-only: it takes my.cnf (or the parameter group) and a restart, and every account must then be granted by IP address or netmask ('app'@'10.0.0.%'), since host names no longer match{}",
            named_accounts(a)
        )));
    }
    f = f.action(Action::advice(
        "find what opens these connections on the source hosts without logging in (a proxy or load balancer health check, a client stuck in TLS): it will fill the server again",
    ));
    vec![f]
}

/// `10.0.0.9 ×3, 10.0.0.7 ×1`: the stalled sessions by source host (the user is the same
/// pseudo-account for all of them).
fn by_client_hosts(stalled: &[&Session]) -> String {
    let mut counts: Vec<(&str, usize)> = group_by(stalled.iter().copied(), Session::client_host)
        .into_iter()
        .map(|(h, v)| (h, v.len()))
        .collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let mut out: Vec<String> = counts
        .iter()
        .take(5)
        .map(|(h, n)| format!("{h} ×{n}"))
        .collect();
    if counts.len() > 5 {
        out.push(format!("{} more hosts", counts.len() - 5));
    }
    out.join(", ")
}

/// `: these accounts name a host: 'app'@'web1.example'` when the rows are known.
fn named_accounts(a: &Analysis<'_>) -> String {
    let Some(rows) = a.snap.accounts.as_deref() else {
        return String::new();
    };
    let named: Vec<String> = rows
        .iter()
        .filter(|r| {
            let h = r.host.as_str();
            !h.is_empty() && h != "localhost" && !h.contains(['%', '_', '/']) && !unresolved(h)
        })
        .take(10)
        .map(|r| {
            format!(
                "'{}'@'{}'",
                super::common::sql_quoted(&r.user),
                super::common::sql_quoted(&r.host)
            )
        })
        .collect();
    if named.is_empty() {
        String::new()
    } else {
        format!(". Accounts naming a host: {}", named.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::{ActionKind, Severity, fixtures};
    use crate::snapshot::Account;

    fn run(s: &crate::snapshot::Snapshot) -> Vec<Finding> {
        check(&Analysis::new(s), &Thresholds::default())
    }

    #[test]
    fn stalled_logins_are_named_with_their_hosts_and_killed_by_id() {
        let mut s = fixtures::mariadb();
        s.variables.insert("connect_timeout".into(), "60".into());
        s.variables.insert("skip_name_resolve".into(), "OFF".into());
        s.variables.insert("max_connections".into(), "20".into());
        let mut v: Vec<Session> = (1..=8)
            .map(|i| fixtures::login(i, "10.0.0.9", 30))
            .collect();
        v.push(fixtures::login(9, "web1.example", 5));
        // A login in progress for a moment is no stall.
        v.push(fixtures::login(10, "10.0.0.7", 0));
        fixtures::with_sessions(&mut s, v);
        s.accounts = Some(vec![Account {
            user: "app".into(),
            host: "web1.example".into(),
            max_user_connections: 0,
            max_connections_per_hour: 0,
        }]);
        let f = &run(&s)[0];
        assert_eq!(f.id, FindingId::HandshakeStall);
        assert_eq!(f.slots, 9);
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            fixtures::ev(f, "source hosts"),
            "10.0.0.9 ×8, web1.example ×1"
        );
        assert_eq!(fixtures::ev(f, "unresolved hosts"), "10.0.0.9");
        let texts: Vec<&str> = f.actions.iter().map(|a| a.text.as_str()).collect();
        assert!(
            texts
                .iter()
                .any(|t| t.contains("SET GLOBAL connect_timeout = 10")),
            "{texts:?}"
        );
        assert!(
            texts.contains(
                &"KILL 1; KILL 2; KILL 3; KILL 4; KILL 5; KILL 6; KILL 7; KILL 8; KILL 9;"
            )
        );
        assert!(
            f.actions
                .iter()
                .any(|a| a.kind == ActionKind::Config && a.text.contains("skip_name_resolve")),
            "{texts:?}"
        );
        assert!(texts.iter().any(|t| t.contains("'app'@'web1.example'")));
        assert!(!texts.iter().any(|t| t.contains("ALTER USER")));
    }

    #[test]
    fn skip_name_resolve_only_when_off_and_a_host_is_unresolved() {
        let mut s = fixtures::mariadb();
        s.variables.insert("connect_timeout".into(), "10".into());
        s.variables.insert("skip_name_resolve".into(), "ON".into());
        fixtures::with_sessions(&mut s, vec![fixtures::login(1, "10.0.0.9", 5)]);
        let has_fix = |s: &crate::snapshot::Snapshot| {
            run(s)[0]
                .actions
                .iter()
                .any(|a| a.text.contains("skip_name_resolve = ON"))
        };
        assert!(!has_fix(&s));
        s.variables.insert("skip_name_resolve".into(), "OFF".into());
        assert!(has_fix(&s));
        fixtures::with_sessions(&mut s, vec![fixtures::login(1, "web1.example", 5)]);
        assert!(!has_fix(&s));
        // connect_timeout at the default already: no SET GLOBAL.
        assert!(
            !run(&s)[0]
                .actions
                .iter()
                .any(|a| a.text.contains("SET GLOBAL"))
        );
    }
}
