//! The `status` report: which server and account, the connection counters and the top clients.
//! Pure: built from a snapshot, rendered by [`crate::render::status`].

use serde::Serialize;

use crate::clients::{ClientGroup, group_clients};
use crate::snapshot::{Flavor, Route, Snapshot};

/// Bumped when a field of the status JSON changes meaning or disappears.
pub const STATUS_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub schema_version: u32,
    pub target: String,
    pub server: ServerSummary,
    pub account: AccountSummary,
    pub connections: ConnectionSummary,
    /// Connection, abort and refusal rates over the `--sample` (averages since startup with
    /// `--sample 0`).
    pub rates: Rates,
    pub clients: Vec<ClientGroup>,
}

#[derive(Debug, Serialize)]
pub struct ServerSummary {
    pub flavor: Flavor,
    pub version: String,
    pub uptime_s: u64,
    pub rds: bool,
    /// The server's own name (`@@hostname`), when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AccountSummary {
    pub user: String,
    pub route: Route,
    /// False without PROCESS: only our own sessions are visible.
    pub sees_all_sessions: bool,
    pub can_kill_others: bool,
    pub can_set_globals: bool,
}

#[derive(Debug, Serialize)]
pub struct ConnectionSummary {
    pub max_connections: u64,
    pub threads_connected: u64,
    pub threads_running: u64,
    pub usage_pct: f64,
    pub free: i64,
    pub max_used_connections: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_used_connections_time: Option<String>,
    pub connection_errors_max_connections: u64,
    pub aborted_connects: u64,
    pub aborted_clients: u64,
    pub wait_timeout: u64,
    pub interactive_timeout: u64,
    pub max_user_connections: u64,
}

/// The report from a snapshot. Pure.
pub fn build(snap: &Snapshot, top: usize) -> StatusReport {
    let mut clients = group_clients(&snap.sessions);
    clients.truncate(top);
    let max = snap.max_connections();
    let connected = snap.threads_connected();
    StatusReport {
        schema_version: STATUS_SCHEMA_VERSION,
        target: snap.target.clone(),
        server: ServerSummary {
            flavor: snap.server.flavor,
            version: snap.server.version.clone(),
            uptime_s: snap.server.uptime_s,
            rds: snap.server.rds,
            hostname: snap
                .var_str("hostname")
                .filter(|h| !h.is_empty())
                .map(str::to_string),
        },
        account: AccountSummary {
            user: snap.access.user.clone(),
            route: snap.access.route,
            sees_all_sessions: snap.sees_all_sessions(),
            can_kill_others: snap.access.privileges.can_kill_others(),
            can_set_globals: snap.access.privileges.can_set_globals(),
        },
        connections: ConnectionSummary {
            max_connections: max,
            threads_connected: connected,
            threads_running: snap.status_now_u64("threads_running").unwrap_or(0),
            usage_pct: (snap.usage_pct() * 10.0).round() / 10.0,
            // Negative when the server counts more than max_connections (the reserved slot).
            free: i64::try_from(max)
                .unwrap_or(i64::MAX)
                .saturating_sub(i64::try_from(connected).unwrap_or(i64::MAX)),
            max_used_connections: snap.status_now_u64("max_used_connections").unwrap_or(0),
            max_used_connections_time: snap
                .status
                .get("max_used_connections_time")
                .filter(|t| !t.is_empty())
                .cloned(),
            connection_errors_max_connections: snap
                .status_now_u64("connection_errors_max_connections")
                .unwrap_or(0),
            aborted_connects: snap.status_now_u64("aborted_connects").unwrap_or(0),
            aborted_clients: snap.status_now_u64("aborted_clients").unwrap_or(0),
            wait_timeout: snap.var_u64("wait_timeout").unwrap_or(0),
            interactive_timeout: snap.var_u64("interactive_timeout").unwrap_or(0),
            max_user_connections: snap.var_u64("max_user_connections").unwrap_or(0),
        },
        rates: Rates::of(snap),
        clients,
    }
}

/// Per-second rates over the sample (lifetime averages with `--sample 0`).
#[derive(Debug, Serialize)]
pub struct Rates {
    pub sample_s: f64,
    pub connections_per_s: f64,
    pub aborted_connects_per_s: f64,
    pub refused_per_s: f64,
    pub threads_created_per_s: f64,
    /// Clients that went away without closing (Aborted_clients) per second.
    pub aborted_clients_per_s: f64,
    /// True when there was no sample: the rates are averages since the server started.
    pub since_startup: bool,
}

impl Rates {
    /// Per-second growth of the counters over the snapshot's sample. Pure; also used by `watch`.
    pub fn of(snap: &Snapshot) -> Rates {
        let rate = |name: &str| (snap.status_rate(name).unwrap_or(0.0) * 100.0).round() / 100.0;
        Rates {
            sample_s: (snap.sample_s * 1000.0).round() / 1000.0,
            connections_per_s: rate("connections"),
            aborted_connects_per_s: rate("aborted_connects"),
            refused_per_s: rate("connection_errors_max_connections"),
            threads_created_per_s: rate("threads_created"),
            aborted_clients_per_s: rate("aborted_clients"),
            since_startup: snap.status_after.is_none() || snap.sample_s <= 0.0,
        }
    }
}
