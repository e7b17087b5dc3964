//! `max-connections-capped`: the open-files limit cannot hold max_connections.
//!
//! Every connection needs a file descriptor, and so do the open tables. MySQL asks for
//! `10 + max_connections + 2 × table_open_cache` descriptors at startup; when the process limit is
//! lower it first shrinks table_open_cache (down to 400) and then lowers max_connections to
//! `open_files_limit - 10 - 2 × 400 = open_files_limit - 810`, so the classic 1024-descriptor
//! limit gives max_connections 214 whatever my.cnf says
//! (https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html#sysvar_open_files_limit,
//! https://dev.mysql.com/doc/refman/8.0/en/table-cache.html; docs/server-facts.md).
//! The error log then says `Changed limits: max_connections: 214 (requested 500)`.
//!
//! MariaDB keeps max_connections as configured; when the descriptors run out, new clients hang
//! without a greeting and without ERROR 1040 while the error log fills with
//! `Error in accept: Too many open files`
//! (https://mariadb.com/kb/en/server-system-variables/#open_files_limit).
//! The table cache fills lazily, though: a server with few tables open holds many more
//! connections than the formula says (a 4,000-descriptor MariaDB with table_open_cache 2000
//! took 972 connections while the formula gave 0). So two capacities are reported: *now*, with
//! the descriptors the open files use at the moment (Open_files, or 2 × Open_tables when that
//! is larger), and *when the table cache fills* (MySQL's formula). Below max_connections now is
//! a warning; only once the cache fills, an info. Neither is ever reported below the
//! connections that already got in.

use super::analysis::Analysis;
use super::capacity::{
    CLASSIC_CAP, MYSQL_RESERVED_FDS, SUGGESTED_FDS, TABLE_OPEN_CACHE_MIN, fd_capacity,
    fd_capacity_now, needed,
};
use super::globals::{mysqld_config, parameter_group};
use super::{Action, Finding, FindingId, Severity, Thresholds};
use crate::snapshot::dialect::DescriptorCap;

pub fn check(a: &Analysis<'_>, _th: &Thresholds) -> Vec<Finding> {
    let snap = a.snap;
    let max = snap.max_connections();
    let limit = snap.var_u64("open_files_limit").filter(|l| *l > 0);
    let f = if snap.dialect().descriptor_cap() == DescriptorCap::TableCacheReserved {
        let (Some(limit), Some(full)) = (limit, fd_capacity(snap)) else {
            return vec![];
        };
        // The formula never holds fewer than what already got in.
        let full = full.max(snap.threads_connected());
        if full >= max {
            return vec![];
        }
        let now = fd_capacity_now(snap).unwrap_or(full).max(full);
        let toc = snap.var_u64("table_open_cache").unwrap_or(2000);
        let (severity, holds) = if now < max {
            (
                Severity::Warning,
                format!(
                    "holds only about {now} connections with the files open now ({full} once table_open_cache {toc} fills)"
                ),
            )
        } else {
            (
                Severity::Info,
                format!(
                    "holds about {now} connections with the files open now, but only about {full} once table_open_cache {toc} fills"
                ),
            )
        };
        let mut f = Finding::new(
            FindingId::MaxConnectionsCapped,
            severity,
            "The open-files limit cannot hold max_connections",
            format!(
                "open_files_limit {limit} {holds}, not max_connections {max}: past that, new clients hang without ERROR 1040 (`Error in accept: Too many open files` in the error log)."
            ),
        )
        .evidence("open_files_limit", limit)
        .evidence(
            "descriptors needed",
            format!("10 + {max} + 2 × {toc} = {}", needed(snap, max)),
        )
        .evidence("connections the limit holds now", now)
        .evidence("connections it holds once the table cache fills", full);
        if let Some(files) = snap.status_now_u64("open_files") {
            f = f.evidence("Open_files", files);
        }
        if let Some(tables) = snap.status_now_u64("open_tables") {
            f = f.evidence("Open_tables", tables);
        }
        f.slots(max - now.min(max))
    } else {
        let (cap, how) = match limit {
            Some(l) => (
                l.saturating_sub(MYSQL_RESERVED_FDS),
                format!("open_files_limit {l} - 810"),
            ),
            None => (CLASSIC_CAP, "1024 - 810, the classic cap".to_string()),
        };
        if max < cap || (limit.is_none() && max != CLASSIC_CAP) {
            return vec![];
        }
        let mut f = Finding::new(
            FindingId::MaxConnectionsCapped,
            Severity::Warning,
            "MySQL lowered max_connections to fit the open-files limit",
            format!(
                "max_connections {max} is all that {how} = {cap} allows: MySQL lowers a higher configured value at startup (`Changed limits: max_connections` in the error log)."
            ),
        )
        .evidence("max_connections", max)
        .evidence("cap", format!("{how} = {cap}"))
        .slots(max);
        if let Some(toc) = snap.var_u64("table_open_cache") {
            let note = if toc == TABLE_OPEN_CACHE_MIN {
                " (MySQL's minimum: it shrank the table cache first)"
            } else {
                ""
            };
            f = f.evidence("table_open_cache", format!("{toc}{note}"));
        }
        f
    };
    let fds = SUGGESTED_FDS
        .max(
            needed(snap, max)
                .checked_next_multiple_of(1024)
                .unwrap_or(u64::MAX),
        )
        .to_string();
    let vars = [("open_files_limit", fds.as_str())];
    if snap.dialect().parameter_group() {
        // open_files_limit is static: it needs a reboot.
        return vec![f.action(parameter_group(&vars, "pending-reboot"))];
    }
    let service = snap.dialect().service_name();
    vec![
        f.action(Action::advice(format!(
            "raise the service's descriptor limit: `systemctl edit {service}` with [Service] LimitNOFILE={fds}, then `systemctl daemon-reload`"
        )))
        .action(mysqld_config(&vars))
        .action(Action::advice(
            "both are read only at startup: restart the server, then check the error log for `Changed limits` or `Too many open files`; a restored max_connections costs memory too (see memory-headroom)",
        )),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures;
    use crate::snapshot::Snapshot;

    fn with(mut s: Snapshot, vars: &[(&str, &str)]) -> Snapshot {
        for (k, v) in vars {
            s.variables.insert(k.to_string(), v.to_string());
        }
        s
    }

    #[test]
    fn healthy_servers_have_descriptors() {
        let th = Thresholds::default();
        assert!(check(&Analysis::new(&fixtures::mariadb()), &th).is_empty());
        assert!(check(&Analysis::new(&fixtures::mysql8()), &th).is_empty());
        assert_eq!(fd_capacity(&fixtures::mysql8()), Some(10_000 - 810));
        assert_eq!(fd_capacity(&fixtures::mariadb()), Some(32_186 - 4_010));
    }

    #[test]
    fn mysql_classic_214() {
        let th = Thresholds::default();
        let s = with(
            fixtures::mysql8(),
            &[
                ("open_files_limit", "1024"),
                ("max_connections", "214"),
                ("table_open_cache", "400"),
            ],
        );
        let f = check(&Analysis::new(&s), &th);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(
            f[0].summary.contains("1024 - 810 = 214"),
            "{}",
            f[0].summary
        );
        assert!(
            f[0].actions
                .iter()
                .any(|a| a.text.contains("LimitNOFILE=65535"))
        );
        assert!(
            f[0].actions
                .iter()
                .any(|a| a.text == "[mysqld]\nopen_files_limit = 65535")
        );
        // One below the cap: configured like that, not lowered.
        let s = with(s, &[("max_connections", "213")]);
        assert!(check(&Analysis::new(&s), &th).is_empty());
        // Unknown limit: only the classic value is recognised.
        let mut s = with(s, &[("max_connections", "214")]);
        s.variables.remove("open_files_limit");
        assert_eq!(check(&Analysis::new(&s), &th).len(), 1);
        assert_eq!(fd_capacity(&s), None);
        let s = with(s, &[("max_connections", "300")]);
        assert!(check(&Analysis::new(&s), &th).is_empty());
    }

    #[test]
    fn mariadb_short_of_descriptors() {
        let th = Thresholds::default();
        // 10 + 500 + 2 × 2000 = 4510 needed.
        let s = with(
            fixtures::mariadb(),
            &[("open_files_limit", "4509"), ("max_connections", "500")],
        );
        let f = check(&Analysis::new(&s), &th);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].summary.contains("without ERROR 1040"),
            "{}",
            f[0].summary
        );
        assert!(
            f[0].evidence
                .iter()
                .any(|e| e.value == "10 + 500 + 2 × 2000 = 4510")
        );
        assert_eq!(f[0].slots, 1);
        let s = with(s, &[("open_files_limit", "4510")]);
        assert!(check(&Analysis::new(&s), &th).is_empty());
    }

    #[test]
    fn mariadb_capacity_counts_the_files_open_now() {
        // 4,000 descriptors, table_open_cache 2000: the formula says 0, yet 972 connections got
        // in because only a few tables are open.
        let th = Thresholds::default();
        let mut s = with(
            fixtures::mariadb(),
            &[("open_files_limit", "4000"), ("max_connections", "5000")],
        );
        fixtures::set_status(&mut s, "threads_connected", 972);
        fixtures::set_status(&mut s, "open_files", 40);
        fixtures::set_status(&mut s, "open_tables", 30);
        let f = check(&Analysis::new(&s), &th);
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(
            f[0].summary
                .contains("holds only about 3930 connections with the files open now (972 once"),
            "{}",
            f[0].summary
        );
        assert!(!f[0].summary.contains("about 0"));
        // Room now, but not once the cache fills: an info.
        let s = with(s, &[("max_connections", "1500")]);
        let f = check(&Analysis::new(&s), &th);
        assert_eq!(f[0].severity, Severity::Info, "{}", f[0].summary);
        assert_eq!(f[0].slots, 0);
    }

    #[test]
    fn rds_uses_the_parameter_group() {
        let mut s = with(
            fixtures::mysql8(),
            &[("open_files_limit", "1024"), ("max_connections", "214")],
        );
        s.server.rds = true;
        let f = check(&Analysis::new(&s), &Thresholds::default());
        assert!(
            f[0].actions
                .iter()
                .any(|a| a.text.contains("ApplyMethod=pending-reboot"))
        );
        assert!(!f[0].actions.iter().any(|a| a.text.starts_with("[mysqld]")));
    }
}
