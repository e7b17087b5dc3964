//! Sessions grouped by client (user@host without the port): the unit a connection pool or a
//! leak shows up as. Pure; used by `status`, `diagnose`, `check` and `watch`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::snapshot::Session;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClientGroup {
    pub user: String,
    pub host: String,
    pub total: u64,
    pub sleeping: u64,
    pub running: u64,
    /// Longest idle time among its sleeping sessions, seconds.
    pub oldest_idle_s: u64,
    /// Ids of its sessions, in processlist order.
    #[serde(skip)]
    pub ids: Vec<u64>,
}

/// Group sessions by user and client host, largest groups first.
pub fn group_clients(sessions: &[Session]) -> Vec<ClientGroup> {
    // Keyed by borrowed names: the group's own copies are made once per client, not per session.
    let mut groups: BTreeMap<(&str, &str), ClientGroup> = BTreeMap::new();
    for s in sessions {
        let key = (s.user.as_str(), s.client_host());
        let g = groups.entry(key).or_insert_with(|| ClientGroup {
            user: s.user.clone(),
            host: s.client_host().to_string(),
            total: 0,
            sleeping: 0,
            running: 0,
            oldest_idle_s: 0,
            ids: Vec::new(),
        });
        g.total += 1;
        if s.is_sleeping() {
            g.sleeping += 1;
            g.oldest_idle_s = g.oldest_idle_s.max(s.time_s);
        } else {
            g.running += 1;
        }
        g.ids.push(s.id);
    }
    let mut v: Vec<ClientGroup> = groups.into_values().collect();
    v.sort_by(|a, b| {
        b.total
            .cmp(&a.total)
            .then_with(|| a.user.cmp(&b.user))
            .then_with(|| a.host.cmp(&b.host))
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_user_and_host_without_port() {
        let s = |id, user: &str, host: &str, cmd: &str, t| Session {
            id,
            user: user.into(),
            host: host.into(),
            command: cmd.into(),
            time_s: t,
            ..Session::default()
        };
        let g = group_clients(&[
            s(1, "app", "10.0.0.1:1", "Sleep", 30),
            s(2, "app", "10.0.0.1:2", "Sleep", 300),
            s(3, "app", "10.0.0.1:3", "Query", 5),
            s(4, "web", "10.0.0.2:9", "Sleep", 1),
        ]);
        assert_eq!(g.len(), 2);
        assert_eq!(
            (
                g[0].user.as_str(),
                g[0].host.as_str(),
                g[0].total,
                g[0].sleeping,
                g[0].running,
                g[0].oldest_idle_s
            ),
            ("app", "10.0.0.1", 3, 2, 1, 300)
        );
        assert_eq!(g[1].total, 1);
    }
}
