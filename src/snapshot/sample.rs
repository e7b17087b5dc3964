//! The cheap, frequent reading of a server (`record`, `watch`): counters and connections per
//! client, and the incident folder `record` writes. Plain data, no SQL and no I/O: the recorder
//! reads samples, `diagnose --from DIR` replays them into a timeline, and the trend fit forecasts
//! from them.
//!
//! An incident folder (named by its UTC time, e.g. `2026-12-04T17-40-03Z`) holds:
//! - `index.json`: an [`IncidentIndex`];
//! - `trigger.json` and `after.json`: full snapshots (the file `conncheck snapshot -o` writes), at
//!   the trigger and `--after` later (either may be missing when the server could not be read);
//! - `samples.json`: a [`SampleHistory`], the samples of the `--before` window up to the
//!   `after` snapshot.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Snapshot;

/// Bumped whenever a field of a sample or an incident index changes meaning or disappears.
pub const SAMPLE_SCHEMA_VERSION: u32 = 1;

/// The file names inside an incident folder.
pub const INDEX_FILE: &str = "index.json";
pub const TRIGGER_SNAPSHOT_FILE: &str = "trigger.json";
pub const AFTER_SNAPSHOT_FILE: &str = "after.json";
pub const SAMPLES_FILE: &str = "samples.json";

/// One reading: what the trigger, the timeline and the forecast need, and nothing more.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Sample {
    /// Unix time in milliseconds when the reading was taken.
    pub at_ms: u64,
    pub threads_connected: u64,
    pub threads_running: u64,
    pub max_connections: u64,
    /// Connection_errors_max_connections: logins refused with ERROR 1040 since startup.
    pub refused_total: u64,
    /// Connections: login attempts since startup.
    pub connections_total: u64,
    /// Sessions waiting for a row, metadata or table lock at that moment.
    #[serde(default)]
    pub lock_waits: u64,
    /// Other global status counters (lower-case names) the recorder keeps, for the ticket.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counters: BTreeMap<String, u64>,
    /// Client connections grouped by user, host (without the port) and application name,
    /// largest first. Our own connection and replication/system threads are left out.
    /// At most [`MAX_CLIENTS_PER_SAMPLE`] entries: a server with thousands of client hosts
    /// would otherwise make every sample as large as a processlist.
    #[serde(default)]
    pub clients: Vec<ClientCount>,
    /// Connections of the clients beyond [`MAX_CLIENTS_PER_SAMPLE`], summed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub other_connections: u64,
}

/// The clients a sample keeps, largest first; the rest are summed in `other_connections`.
pub const MAX_CLIENTS_PER_SAMPLE: usize = 100;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Connections of one client at one sample.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct ClientCount {
    pub user: String,
    /// Client host without the port.
    pub host: String,
    /// Connection attribute `program_name`, where the server exposes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    pub connections: u64,
    /// Of those, how many were running a statement (not Sleep).
    #[serde(default)]
    pub running: u64,
}

impl ClientCount {
    /// `user@host`, the name a client goes by in every report.
    pub fn account(&self) -> String {
        format!("{}@{}", self.user, self.host)
    }
}

impl Sample {
    /// A sample from a full snapshot (its second status reading when it has one): the clients
    /// come from its processlist. Pure; `watch` and the snapshots `record` takes use it.
    pub fn from_snapshot(snap: &Snapshot) -> Sample {
        let status = snap.status_after.as_ref().unwrap_or(&snap.status);
        let num = |k: &str| {
            status
                .get(k)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        let mut groups: BTreeMap<(&str, &str, Option<&str>), (u64, u64)> = BTreeMap::new();
        for s in snap.sessions.iter().filter(|s| s.is_client()) {
            let g = groups
                .entry((&s.user, s.client_host(), s.program.as_deref()))
                .or_default();
            g.0 += 1;
            g.1 += u64::from(!s.is_sleeping());
        }
        let mut clients: Vec<ClientCount> = groups
            .into_iter()
            .map(|((user, host, app), (connections, running))| ClientCount {
                user: user.to_string(),
                host: host.to_string(),
                app: app.map(str::to_string),
                connections,
                running,
            })
            .collect();
        let other_connections = cap_clients(&mut clients);
        Sample {
            at_ms: snap
                .taken_at
                .saturating_mul(1000)
                .saturating_add(crate::units::float_to_u64(snap.sample_s * 1000.0)),
            threads_connected: num("threads_connected"),
            threads_running: num("threads_running"),
            max_connections: snap.var_u64("max_connections").unwrap_or(0),
            refused_total: num("connection_errors_max_connections"),
            connections_total: num("connections"),
            lock_waits: snap.lock_waits.len() as u64,
            counters: BTreeMap::new(),
            clients,
            other_connections,
        }
    }
}

/// Sort the clients ([`sort_clients`]) and keep the [`MAX_CLIENTS_PER_SAMPLE`] largest; returns
/// the connections of those left out.
pub fn cap_clients(clients: &mut Vec<ClientCount>) -> u64 {
    sort_clients(clients);
    let rest = clients.split_off(clients.len().min(MAX_CLIENTS_PER_SAMPLE));
    // Saturating: a recorded file may hold any number.
    rest.iter()
        .map(|c| c.connections)
        .fold(0, u64::saturating_add)
}

/// Largest client first, then by name, so that the order is stable between samples.
pub fn sort_clients(clients: &mut [ClientCount]) {
    clients.sort_by(|a, b| {
        b.connections
            .cmp(&a.connections)
            .then_with(|| (&a.user, &a.host, &a.app).cmp(&(&b.user, &b.host, &b.app)))
    });
}

/// `samples.json`: the samples of an incident, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SampleHistory {
    pub schema_version: u32,
    /// Where the samples were read, without credentials (as in a snapshot).
    pub target: String,
    /// The interval the recorder asked for, milliseconds.
    pub interval_ms: u64,
    pub samples: Vec<Sample>,
}

/// `index.json`: what an incident folder holds and why it was written.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct IncidentIndex {
    pub schema_version: u32,
    /// Always `conncheck-incident`, so that a foreign folder is told apart.
    pub kind: String,
    pub target: String,
    /// Unix time in milliseconds of the sample that fired the trigger.
    pub triggered_at_ms: u64,
    /// The trigger as given (`usage >= 90`) and the value that fired it.
    pub trigger: String,
    pub value: f64,
    /// File names in the folder, relative to it; absent when that part could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_snapshot: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_snapshot: Option<String>,
    pub samples: String,
    /// Problems met while recording this incident (a snapshot that failed, a reconnect).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The `kind` of an [`IncidentIndex`].
pub const INCIDENT_KIND: &str = "conncheck-incident";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Session;

    #[test]
    fn sample_from_snapshot_groups_clients_and_skips_system_threads() {
        let mut snap = Snapshot {
            schema_version: 1,
            taken_at: 100,
            target: "t".into(),
            server: Default::default(),
            access: Default::default(),
            refused: None,
            variables: [("max_connections".to_string(), "151".to_string())].into(),
            status: [
                ("threads_connected".to_string(), "4".to_string()),
                (
                    "connection_errors_max_connections".to_string(),
                    "7".to_string(),
                ),
            ]
            .into(),
            status_after: None,
            sample_s: 0.0,
            trend: Vec::new(),
            sessions: vec![],
            transactions: vec![],
            lock_waits: vec![],
            rollbacks_after: Vec::new(),
            host_memory_bytes: None,
            host_cpu_cores: None,
            replication: Vec::new(),
            server_rss_bytes: None,
            accounts: None,
            host_cache: None,
            host_cache_after: None,
            system_user_accounts: vec![],
            notes: vec![],
        };
        let s = |id, user: &str, host: &str, cmd: &str| Session {
            id,
            user: user.into(),
            host: host.into(),
            command: cmd.into(),
            ..Default::default()
        };
        snap.sessions = vec![
            s(1, "app", "10.0.0.1:5000", "Sleep"),
            s(2, "app", "10.0.0.1:5001", "Query"),
            s(3, "web", "10.0.0.2:1", "Sleep"),
            s(4, "system user", "", "Connect"),
        ];
        let sample = Sample::from_snapshot(&snap);
        assert_eq!(sample.at_ms, 100_000);
        assert_eq!(sample.threads_connected, 4);
        assert_eq!(sample.refused_total, 7);
        assert_eq!(sample.max_connections, 151);
        assert_eq!(sample.clients.len(), 2);
        assert_eq!(sample.clients[0].account(), "app@10.0.0.1");
        assert_eq!(
            (sample.clients[0].connections, sample.clients[0].running),
            (2, 1)
        );
        assert_eq!(sample.clients[1].account(), "web@10.0.0.2");
        assert_eq!(sample.other_connections, 0);
    }

    #[test]
    fn clients_beyond_the_cap_are_summed() {
        let mut clients: Vec<ClientCount> = (0..150)
            .map(|i| ClientCount {
                user: format!("u{i}"),
                host: "h".into(),
                connections: 1 + i % 3,
                ..Default::default()
            })
            .collect();
        let total: u64 = clients.iter().map(|c| c.connections).sum();
        let other = cap_clients(&mut clients);
        assert_eq!(clients.len(), MAX_CLIENTS_PER_SAMPLE);
        assert_eq!(
            clients.iter().map(|c| c.connections).sum::<u64>() + other,
            total
        );
        assert!(
            clients
                .windows(2)
                .all(|w| w[0].connections >= w[1].connections)
        );
    }
}
