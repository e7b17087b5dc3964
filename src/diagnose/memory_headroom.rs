//! `memory-headroom`: can the host's RAM hold max_connections connections in the worst case?
//!
//! Compares [`memory::estimate`] for the configured max_connections (global buffers + every
//! per-connection buffer × max_connections, MySQLTuner's formula, a theoretical maximum) with the
//! host's RAM (`--server-memory`, or /proc/meminfo for a local server): over 100 % is a warning
//! (the server can be killed by the OOM killer before it refuses anyone), over 80 % an info.
//! Per-connection buffers: https://dev.mysql.com/doc/refman/8.0/en/memory-use.html,
//! https://mariadb.com/kb/en/mariadb-memory-allocation/. With RAM unknown the worst case is
//! still shown, as an info, so the cost of the limit is never hidden.

use super::common::pct;
use super::{Action, Finding, Severity, Thresholds, memory};
use crate::snapshot::Snapshot;
use crate::units::bytes;

/// Worst case above this share of RAM is worth knowing (info); above 1.0 it is a warning.
const INFO_SHARE: f64 = 0.8;

pub fn check(snap: &Snapshot, th: &Thresholds) -> Vec<Finding> {
    let max = snap.max_connections();
    let est = memory::estimate(snap, max, th.server_memory);
    let worst = bytes(est.worst_case_bytes);
    let per_conn = bytes(est.per_connection_bytes);
    let global = bytes(est.global_bytes);
    let could_use = format!(
        "With all {max} connections using every per-connection buffer ({per_conn} each) next to {global} of global buffers, the server could use {worst}"
    );
    let mut f = match (est.host_memory_bytes, est.worst_case_share()) {
        (Some(ram), Some(share)) if share > INFO_SHARE => {
            let severity = if share > 1.0 {
                Severity::Warning
            } else {
                Severity::Info
            };
            // Connections the RAM could hold in the worst case, next to the global buffers.
            let fits = ram.saturating_sub(est.global_bytes) / est.per_connection_bytes.max(1);
            Finding::new(
                "memory-headroom",
                severity,
                format!(
                    "The theoretical maximum memory is {} of the host's RAM",
                    pct(est.worst_case_bytes, ram)
                ),
                format!(
                    "{could_use}, {} of {} RAM (a theoretical maximum; RAM holds about {fits} such connections).",
                    pct(est.worst_case_bytes, ram),
                    bytes(ram)
                ),
            )
            .slots(max.saturating_sub(fits))
            .action(Action::advice(
                "do not raise max_connections on this host without more RAM; keep per-connection buffers (sort_buffer_size, join_buffer_size, read_rnd_buffer_size) small globally and raise them per session only for the queries that need them",
            ))
        }
        (Some(_), _) => return vec![],
        (None, _) => Finding::new(
            "memory-headroom",
            Severity::Info,
            "Host RAM unknown: the theoretical maximum memory cannot be judged",
            format!("{could_use} (a theoretical maximum); the host's RAM is unknown."),
        )
        .action(Action::command(
            "conncheck diagnose --server-memory 16G   # the host's real RAM, to judge the worst case",
        ))
        .action(Action::advice(format!(
            "weigh this before raising max_connections: each extra connection can cost up to {per_conn}"
        ))),
    };
    for (name, v) in est.per_connection_items.iter().chain(&est.global_items) {
        f = f.evidence(name, bytes(*v));
    }
    f = f
        .evidence("per connection", &per_conn)
        .evidence("global buffers", &global)
        .evidence("max_connections", max)
        .evidence(
            "worst case",
            format!("{global} + {max} × {per_conn} = {worst}"),
        );
    if let Some(ram) = est.host_memory_bytes {
        f = f
            .evidence("host RAM", bytes(ram))
            .evidence("share of RAM", pct(est.worst_case_bytes, ram));
    }
    vec![f]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures;

    fn finding(s: &Snapshot, th: &Thresholds) -> Option<Finding> {
        check(s, th).into_iter().next()
    }

    #[test]
    fn healthy_servers_fit_in_16g() {
        let th = Thresholds::default();
        assert!(finding(&fixtures::mariadb(), &th).is_none());
        assert!(finding(&fixtures::mysql8(), &th).is_none());
    }

    #[test]
    fn share_thresholds() {
        let s = fixtures::mariadb();
        let worst = memory::estimate(&s, 151, None).worst_case_bytes;
        let at = |ram: u64| {
            finding(
                &s,
                &Thresholds {
                    server_memory: Some(ram),
                    ..Thresholds::default()
                },
            )
        };
        // Exactly 80 % and exactly 100 % are not over the line.
        assert!(at(worst * 5 / 4).is_none());
        assert_eq!(at(worst * 5 / 4 - 1).unwrap().severity, Severity::Info);
        assert_eq!(at(worst).unwrap().severity, Severity::Info);
        let f = at(worst - 1).unwrap();
        assert_eq!(f.severity, Severity::Warning);
        assert!(f.summary.contains("theoretical maximum"), "{}", f.summary);
        assert!(
            f.evidence
                .iter()
                .any(|e| e.name == "sort_buffer_size" && e.value == "2.0 MiB")
        );
        assert!(
            f.evidence
                .iter()
                .any(|e| e.name == "innodb_buffer_pool_size")
        );
        assert!(f.slots > 0);
    }

    #[test]
    fn mysql8_with_many_connections_on_a_small_host() {
        let mut s = fixtures::mysql8();
        s.variables.insert("max_connections".into(), "2000".into());
        s.host_memory_bytes = Some(8 << 30);
        let f = finding(&s, &Thresholds::default()).unwrap();
        assert_eq!(f.severity, Severity::Warning);
        assert!(!f.evidence.iter().any(|e| e.name == "query_cache_size"));
    }

    #[test]
    fn unknown_ram_is_only_info() {
        let mut s = fixtures::mysql8();
        s.host_memory_bytes = None;
        let f = finding(&s, &Thresholds::default()).unwrap();
        assert_eq!(f.severity, Severity::Info);
        assert!(f.summary.contains("RAM is unknown"), "{}", f.summary);
        assert!(f.evidence.iter().any(|e| e.name == "worst case"));
        assert!(!f.evidence.iter().any(|e| e.name == "host RAM"));
    }
}
