//! `memory-headroom`: can the host's RAM hold max_connections connections?
//!
//! Compares what max_connections connections cost with the host's RAM (`--server-memory`, or
//! /proc/meminfo for a local server): over 100 % is a warning (the server can be killed by the
//! OOM killer before it refuses anyone), over 80 % an info. The cost relied on is the measured
//! one where the server reports memory per session ([`connection_cost`]: global buffers +
//! max_connections × the p95 of the sessions now), else [`memory::estimate`]'s worst case
//! (global buffers + every per-connection buffer × max_connections, MySQLTuner's formula, a
//! theoretical maximum). When only the worst case is over 80 %, an info says both.
//! Per-connection buffers: https://dev.mysql.com/doc/refman/8.0/en/memory-use.html,
//! https://mariadb.com/kb/en/mariadb-memory-allocation/. With RAM unknown the worst case is
//! still shown, as an info, so the cost of the limit is never hidden.

use super::analysis::Analysis;
use super::common::pct;
use super::{Action, Finding, FindingId, Severity, Thresholds, connection_cost, memory};
use crate::units::bytes;

/// Worst case above this share of RAM is worth knowing (info); above 1.0 it is a warning.
const INFO_SHARE: f64 = 0.8;

pub fn check(a: &Analysis<'_>, th: &Thresholds) -> Vec<Finding> {
    let snap = a.snap;
    let max = snap.max_connections();
    let est = memory::estimate(snap, max, th.server_memory);
    let cost = connection_cost::cost(snap, max, th.server_memory);
    let worst = bytes(est.worst_case_bytes);
    let per_conn = bytes(est.per_connection_bytes);
    let global = bytes(est.global_bytes);
    let could_use = format!(
        "With all {max} connections using every per-connection buffer ({per_conn} each) next to {global} of global buffers, the server could use {worst}"
    );
    // "measured ≈ 150 KiB per connection (p95 …); 2000 connections ≈ 808 MiB with the global
    // buffers".
    let measured_line = cost
        .measured_clause()
        .zip(cost.measured_bytes)
        .map(|(clause, at)| {
            format!(
                "{clause}; {max} connections ≈ {} with the global buffers",
                bytes(at)
            )
        });
    let relied = cost.relied_bytes();
    let mut f = match (cost.host_memory_bytes, cost.share(), cost.worst_case_share()) {
        (Some(ram), Some(share), _) if share > INFO_SHARE => {
            let severity = if share > 1.0 {
                Severity::Warning
            } else {
                Severity::Info
            };
            // Connections the RAM could hold at the relied-on cost, next to the global buffers.
            let each = match &cost.measured {
                Some(m) => m.p95_per_connection_bytes,
                None => est.per_connection_bytes,
            };
            let fits = ram.saturating_sub(est.global_bytes) / each.max(1);
            let (summary, detail) = match &measured_line {
                Some(line) => (
                    format!(
                        "At max_connections the measured connections would use {} of the host's RAM",
                        pct(relied, ram)
                    ),
                    format!(
                        "{}: {} of {} RAM (RAM holds about {fits} such connections). {could_use}, a theoretical maximum.",
                        crate::text::capitalize(line),
                        pct(relied, ram),
                        bytes(ram)
                    ),
                ),
                None => (
                    format!(
                        "The theoretical maximum memory is {} of the host's RAM",
                        pct(relied, ram)
                    ),
                    format!(
                        "{could_use}, {} of {} RAM (a theoretical maximum; RAM holds about {fits} such connections).",
                        pct(relied, ram),
                        bytes(ram)
                    ),
                ),
            };
            Finding::new(FindingId::MemoryHeadroom, severity, summary, detail)
                .slots(max.saturating_sub(fits))
                .action(Action::advice(
                    "do not raise max_connections on this host without more RAM; keep per-connection buffers (sort_buffer_size, join_buffer_size, read_rnd_buffer_size) small globally and raise them per session only for the queries that need them",
                ))
        }
        // The worst case alarms (MySQLTuner's figure), the measurement does not: say both.
        (Some(ram), Some(_), Some(worst_share)) if worst_share > INFO_SHARE => {
            let line = measured_line.clone().unwrap_or_default();
            Finding::new(
                FindingId::MemoryHeadroom,
                Severity::Info,
                format!(
                    "The theoretical maximum is {} of the host's RAM, the measured connections {}",
                    pct(est.worst_case_bytes, ram),
                    pct(relied, ram)
                ),
                format!(
                    "{could_use}, {} of {} RAM, a theoretical maximum: every buffer allocated in every session at once. {}: {} of RAM.",
                    pct(est.worst_case_bytes, ram),
                    bytes(ram),
                    crate::text::capitalize(&line),
                    pct(relied, ram)
                ),
            )
            .action(Action::advice(
                "judge a higher max_connections by the measured cost; the worst case needs every session sorting, joining and reading at once, with the largest packets",
            ))
        }
        (Some(_), _, _) => return vec![],
        (None, _, _) => Finding::new(
            FindingId::MemoryHeadroom,
            Severity::Info,
            "Host RAM unknown: the memory of max_connections connections cannot be judged",
            match &measured_line {
                Some(line) => format!(
                    "{}. {could_use} (a theoretical maximum); the host's RAM is unknown.",
                    crate::text::capitalize(line)
                ),
                None => format!("{could_use} (a theoretical maximum); the host's RAM is unknown."),
            },
        )
        .action(Action::command(
            "conncheck diagnose --server-memory 16G   # the host's real RAM, to judge the worst case",
        ))
        .action(Action::advice(match &cost.measured {
            Some(m) => format!(
                "weigh this before raising max_connections: each extra connection costs about {} (p95 measured now), up to {per_conn} in the worst case",
                bytes(m.p95_per_connection_bytes)
            ),
            None => format!(
                "weigh this before raising max_connections: each extra connection can cost up to {per_conn}"
            ),
        })),
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
    if let (Some(m), Some(at_max)) = (&cost.measured, cost.measured_bytes) {
        f = f
            .evidence(
                "measured per connection",
                format!(
                    "{} mean, p95 {}, max {} over {} sessions ({})",
                    bytes(m.mean_per_connection_bytes),
                    bytes(m.p95_per_connection_bytes),
                    bytes(m.max_per_connection_bytes),
                    m.sessions,
                    m.source
                ),
            )
            .evidence(
                "measured at max_connections",
                format!(
                    "{global} + {max} × {} = {}",
                    bytes(m.p95_per_connection_bytes),
                    bytes(at_max)
                ),
            );
    }
    if let Some(rss) = cost.server_rss_bytes {
        f = f.evidence("server RSS", bytes(rss));
    }
    if let Some(used) = cost.server_memory_used_bytes {
        f = f.evidence("Memory_used", bytes(used));
    }
    f = f.evidence("relies on", cost.relies_on.name());
    if let Some(ram) = cost.host_memory_bytes {
        f = f
            .evidence("host RAM", bytes(ram))
            .evidence("share of RAM", pct(relied, ram));
    }
    vec![f]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures;
    use crate::snapshot::Snapshot;

    fn finding(s: &Snapshot, th: &Thresholds) -> Option<Finding> {
        check(&Analysis::new(s), th).into_iter().next()
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

    /// 20 client sessions of `kib` KiB each on a MariaDB fixture with this max_connections.
    fn measured(kib: u64, max: u64, ram: u64) -> Snapshot {
        let mut s = fixtures::mariadb();
        s.variables
            .insert("max_connections".into(), max.to_string());
        s.host_memory_bytes = Some(ram);
        let sessions = (1..=20)
            .map(|i| {
                let mut x = fixtures::session(i, "app", "10.0.0.1", "Sleep", 10, "", None);
                x.memory_bytes = Some(kib * 1024);
                x
            })
            .collect();
        fixtures::with_sessions(&mut s, sessions);
        s
    }

    fn evidence<'a>(f: &'a Finding, name: &str) -> &'a str {
        &f.evidence.iter().find(|e| e.name == name).unwrap().value
    }

    #[test]
    fn the_measurement_is_relied_on_and_the_worst_case_still_shown() {
        // 2,000 connections: worst case ~37 GiB on an 8 GiB host, measured 2,000 × 200 KiB
        // next to 420 MiB of global buffers: about 0.8 GiB.
        let s = measured(200, 2000, 8 << 30);
        let f = finding(&s, &Thresholds::default()).unwrap();
        assert_eq!(f.severity, Severity::Info, "{}", f.summary);
        assert!(f.title.contains("the measured connections"), "{}", f.title);
        assert_eq!(evidence(&f, "relies on"), "measured");
        assert!(evidence(&f, "measured per connection").starts_with("200 KiB mean, p95 200 KiB"));
        assert!(
            f.summary.contains("Measured ≈ 200 KiB per connection"),
            "{}",
            f.summary
        );
        assert!(f.summary.contains("theoretical maximum"), "{}", f.summary);
        assert_eq!(f.slots, 0);
        // Measured connections that do not fit: a warning on the measurement.
        let f = finding(&measured(8 * 1024, 2000, 8 << 30), &Thresholds::default()).unwrap();
        assert_eq!(f.severity, Severity::Warning);
        assert!(
            f.title
                .starts_with("At max_connections the measured connections would use")
        );
        assert!(f.slots > 0 && f.slots < 2000, "{}", f.slots);
        // Comfortable either way: nothing to say.
        assert!(finding(&measured(200, 151, 64 << 30), &Thresholds::default()).is_none());
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
