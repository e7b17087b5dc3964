//! `max-connections-low`: max_connections is too low for the peak the server has seen.
//!
//! Fires when Max_used_connections reached max_connections, or when max_connections is still the
//! compiled-in default 151 (MySQL 8.0/8.4 and MariaDB 10.11,
//! https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html#sysvar_max_connections,
//! https://mariadb.com/kb/en/server-system-variables/#max_connections) and the peak reached 80 %
//! of it. Max_used_connections is the high-water mark since startup or FLUSH STATUS
//! (https://dev.mysql.com/doc/refman/8.0/en/server-status-variables.html#statvar_Max_used_connections).
//!
//! A higher limit is never suggested without its memory cost, measured where the server reports
//! it and always in the worst case ([`connection_cost`]), and
//! when idle sessions pile up, pooling and timeouts come first: more slots only give a leak more
//! room.
//!
//! Max_used_connections covers the whole uptime: the finding says when the peak was
//! ([`super::history`]), and a peak the connections are not near now explains no connection
//! (its slots are 0): it stays advice for the next peak, never this moment's cause.

use super::analysis::Analysis;
use super::capacity::fd_capacity;
use super::common::{at_least, is_many, pct};
use super::globals::change_globals;
use super::{Action, ActionKind, Finding, FindingId, Severity, Thresholds, connection_cost, dur};
use crate::snapshot::Snapshot;
use crate::units::bytes;

/// The compiled-in default of max_connections in MySQL 8.0/8.4 and MariaDB 10.11.
pub const DEFAULT_MAX_CONNECTIONS: u64 = 151;

/// A value for max_connections: the peak + 25 %, at least the current value + 50, rounded up to a
/// multiple of 50.
pub fn suggest(snap: &Snapshot) -> u64 {
    let peak = peak(snap);
    // Saturating: the numbers come from the server or a snapshot file and may be absurd.
    peak.saturating_add(peak.div_ceil(4))
        .max(snap.max_connections().saturating_add(50))
        .checked_next_multiple_of(50)
        .unwrap_or(u64::MAX)
}

use super::history::{peak, peak_is_now, peak_when};

pub fn check(a: &Analysis<'_>, th: &Thresholds) -> Vec<Finding> {
    let snap = a.snap;
    let max = snap.max_connections();
    let peak = peak(snap);
    let default_busy =
        max == DEFAULT_MAX_CONNECTIONS && peak.saturating_mul(10) >= max.saturating_mul(8);
    if peak < max && !default_busy {
        return vec![];
    }
    let n = suggest(snap);
    let measured = connection_cost::cost(snap, n, th.server_memory);
    let extra = measured.worst_case_raise_bytes;
    let worst = match measured.host_memory_bytes {
        Some(ram) => format!(
            "{} worst case in total, {} of {} RAM",
            bytes(measured.worst_case_bytes),
            pct(measured.worst_case_bytes, ram),
            bytes(ram)
        ),
        None => format!(
            "{} worst case in total, host RAM unknown",
            bytes(measured.worst_case_bytes)
        ),
    };
    // The measured cost first where the server reports memory per session.
    let cost = match measured.raise_cost_bytes {
        Some(m) => format!(
            "≈ +{} measured (p95 per connection), +{} worst-case memory, {worst}",
            bytes(m),
            bytes(extra)
        ),
        None => format!("+{} worst-case memory, {worst}", bytes(extra)),
    };
    let default_note = if max == DEFAULT_MAX_CONNECTIONS {
        " (the default)"
    } else {
        ""
    };
    // A peak the connections are not near now is history: worth a higher limit, but it holds
    // no slot now and is not this moment's cause (docs/server-facts.md, "Counters and time").
    let now = peak_is_now(snap);
    let when = peak_when(snap);
    let history = if now {
        String::new()
    } else {
        format!(
            " That peak is history: {} connected now, so it is not what holds the slots today.",
            snap.threads_connected()
        )
    };
    let mut f = Finding::new(
        FindingId::MaxConnectionsLow,
        Severity::Warning,
        format!("max_connections {max}{default_note} is low for the peak of {peak} connections"),
        format!(
            "The peak reached {peak} of max_connections {max}{default_note} ({}) {when}; {n} would leave room for {} more connections at {cost}.{history}",
            pct(peak, max),
            n - max
        ),
    )
    .evidence("Max_used_connections", peak)
    .evidence("peak reached", &when)
    .evidence("max_connections", format!("{max}{default_note}"))
    .evidence("peak / limit", pct(peak, max))
    .evidence("suggested max_connections", n)
    .evidence("extra worst-case memory", bytes(extra))
    .evidence("worst case at suggestion", worst)
    .slots(if now { snap.threads_connected() } else { 0 });
    if let Some(m) = measured.raise_cost_bytes {
        f = f.evidence("extra measured memory", bytes(m));
    }
    f = f.evidence("memory relies on", measured.relies_on.name());
    let idle = a
        .clients()
        .filter(|s| s.is_sleeping() && at_least(s, th.idle))
        .count();
    let pool_first = is_many(idle as u64, max);
    if pool_first {
        f = f
            .evidence(format!("sessions idle over {}", dur(th.idle)).as_str(), idle)
            .action(Action::advice(format!(
                "{idle} client sessions have been idle over {}: fix pooling and timeouts first (pool max size × app instances below max_connections, idle timeout), more slots only give a leak more room",
                dur(th.idle)
            )))
            .action(Action::command(format!(
                "conncheck kill-idle --older-than {} --dry-run",
                dur(th.idle)
            )));
    }
    if let Some(cap) = fd_capacity(snap) {
        f = f.evidence("connections the open-files limit holds", cap);
        if cap < n {
            f = f.action(Action::advice(format!(
                "the open-files limit holds only {cap} connections: raise LimitNOFILE / open_files_limit first (see max-connections-capped)"
            )));
        }
    }
    if measured.share().is_some_and(|s| s > 1.0) {
        f = f.action(Action::advice(match measured.relies_on {
            connection_cost::Basis::Measured => {
                "at this value even the measured cost exceeds the host's RAM: pool connections rather than raise the limit (see memory-headroom)"
            }
            connection_cost::Basis::WorstCase => {
                "at this value the theoretical worst case exceeds the host's RAM: lower per-connection buffers or pool connections rather than raise the limit (see memory-headroom)"
            }
        }));
    }
    let value = n.to_string();
    let command = format!("conncheck set-max-connections {n}   # {cost}");
    for mut a in change_globals(snap, Some(&command), &[("max_connections", &value)]) {
        // The memory cost goes next to every way of raising the limit.
        match a.kind {
            ActionKind::Command => {}
            ActionKind::Sql => a.text.push_str(&format!("   -- {cost}")),
            ActionKind::Config => a.text.push_str(&format!("   # {cost}")),
            ActionKind::Advice => a.text.push_str(&format!(" ({cost})")),
        }
        f = f.action(a);
    }
    if !pool_first {
        f = f.action(Action::advice(
            "connection pooling is often the better fix: size each app's pool (max size × instances) to fit under max_connections instead of raising it",
        ));
    }
    vec![f]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures;

    fn peak_of(mut s: Snapshot, peak: u64) -> Snapshot {
        fixtures::set_status(&mut s, "max_used_connections", peak);
        s
    }

    #[test]
    fn healthy_servers_are_not_low() {
        let th = Thresholds::default();
        assert!(check(&Analysis::new(&fixtures::mariadb()), &th).is_empty());
        assert!(check(&Analysis::new(&fixtures::mysql8()), &th).is_empty());
    }

    #[test]
    fn a_past_peak_is_dated_and_holds_no_slot_now() {
        let th = Thresholds::default();
        // MySQL dates its peak; 12 connected now.
        let mut s = peak_of(fixtures::mysql8(), 152);
        fixtures::set_status(&mut s, "threads_connected", 12);
        let f = &check(&Analysis::new(&s), &th)[0];
        assert_eq!(f.slots, 0);
        assert_eq!(
            crate::diagnose::fixtures::ev(f, "peak reached"),
            "at 2026-11-20 03:12:44"
        );
        assert!(f.summary.contains("That peak is history"), "{}", f.summary);
        // MariaDB does not: within the uptime. Full now: the peak is now and holds the slots.
        let mut m = peak_of(fixtures::mariadb(), 152);
        fixtures::set_status(&mut m, "uptime", 7200);
        fixtures::set_status(&mut m, "threads_connected", 150);
        let f = &check(&Analysis::new(&m), &th)[0];
        assert_eq!(f.slots, 150);
        assert_eq!(
            crate::diagnose::fixtures::ev(f, "peak reached"),
            "within the last 2h00m (since startup)"
        );
        assert!(!f.summary.contains("history"), "{}", f.summary);
    }

    #[test]
    fn suggestion_rounds_up() {
        assert_eq!(suggest(&peak_of(fixtures::mariadb(), 151)), 250);
        assert_eq!(suggest(&peak_of(fixtures::mariadb(), 300)), 400);
        let mut s = peak_of(fixtures::mysql8(), 400);
        s.variables.insert("max_connections".into(), "400".into());
        assert_eq!(suggest(&s), 500);
    }

    #[test]
    fn default_limit_at_80_percent() {
        let th = Thresholds::default();
        // 80 % of 151 is 120.8.
        assert!(check(&Analysis::new(&peak_of(fixtures::mariadb(), 120)), &th).is_empty());
        let f = check(&Analysis::new(&peak_of(fixtures::mariadb(), 121)), &th);
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(f[0].title.contains("(the default)"), "{}", f[0].title);
        let set = f[0]
            .actions
            .iter()
            .find(|a| a.kind == ActionKind::Command)
            .unwrap();
        assert!(set.text.starts_with("conncheck set-max-connections 250"));
        assert!(set.text.contains("worst-case memory"), "{}", set.text);
        assert!(
            f[0].actions
                .iter()
                .any(|a| a.text.starts_with("[mysqld]\nmax_connections = 250   # +"))
        );
        assert!(f[0].actions.iter().any(|a| a.text.contains("pooling")));
    }

    #[test]
    fn non_default_limit_only_when_reached() {
        let th = Thresholds::default();
        let mut s = peak_of(fixtures::mysql8(), 399);
        s.variables.insert("max_connections".into(), "400".into());
        assert!(check(&Analysis::new(&s), &th).is_empty());
        let s = peak_of(s, 400);
        let f = check(&Analysis::new(&s), &th);
        assert_eq!(f.len(), 1);
        assert!(f[0].summary.contains("100.0%"), "{}", f[0].summary);
        // MySQL 8 defaults: 20 MiB... per connection; 16 GiB host.
        let extra = crate::diagnose::memory::estimate(&s, 500, None).per_connection_bytes * 100;
        assert!(
            f[0].evidence
                .iter()
                .any(|e| e.name == "extra worst-case memory" && e.value == bytes(extra))
        );
    }

    #[test]
    fn idle_pileup_puts_pooling_first() {
        let th = Thresholds::default();
        let mut s = fixtures::mariadb();
        s.variables.insert("max_connections".into(), "20".into());
        fixtures::with_sessions(
            &mut s,
            (1..=19)
                .map(|i| fixtures::session(i, "app", "10.0.0.1", "Sleep", 900, "", None))
                .collect(),
        );
        let f = check(&Analysis::new(&s), &th);
        assert!(
            f[0].actions[0]
                .text
                .contains("fix pooling and timeouts first")
        );
        let first_set = f[0]
            .actions
            .iter()
            .position(|a| a.text.contains("set-max-connections"))
            .unwrap();
        assert!(first_set > 1);
    }

    #[test]
    fn unknown_ram_and_rds() {
        let mut s = peak_of(fixtures::mysql8(), 151);
        s.host_memory_bytes = None;
        s.server.rds = true;
        let f = check(&Analysis::new(&s), &Thresholds::default());
        assert!(
            f[0].summary.contains("host RAM unknown"),
            "{}",
            f[0].summary
        );
        assert!(
            f[0].actions
                .iter()
                .any(|a| a.text.contains("ParameterName=max_connections"))
        );
        assert!(!f[0].actions.iter().any(|a| a.kind == ActionKind::Sql));
    }
}
