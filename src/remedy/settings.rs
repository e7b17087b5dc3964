//! Planning global settings changes: wait_timeout / interactive_timeout, max_connections and the
//! slow query log. Pure: what would change, what it means, what blocks it, and how to make it
//! survive a restart on this flavor. Executing the plan is [`apply`], the only SQL here.

use std::time::Duration;

use serde::Serialize;

use crate::connect::{Connection, error};
use crate::diagnose::capacity::fd_capacity;
use crate::diagnose::connection_cost::{self, Basis, ConnectionCost};
use crate::diagnose::memory;
use crate::exit::{AppError, ErrorKind};
use crate::snapshot::dialect::{DescriptorCap, Dialect, Persistence};
use crate::snapshot::{Snapshot, row};
use crate::units;

/// One global variable to change. `new` is a validated number or ON/OFF, never user text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub variable: &'static str,
    pub current: String,
    pub new: String,
}

/// How the change survives a restart.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "method", content = "text")]
// `SetPersist` is the statement's name (SET PERSIST) and the JSON's "set-persist": a contract.
#[allow(clippy::enum_variant_names)]
pub enum Persist {
    /// Runtime only (no --persist).
    No,
    /// MySQL 8.0+: SET PERSIST writes mysqld-auto.cnf.
    SetPersist,
    /// MariaDB and MySQL 5.7 have no SET PERSIST: this my.cnf snippet must be added by hand.
    Snippet(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct SettingsPlan {
    pub changes: Vec<Change>,
    /// What the change means (shown before confirmation).
    pub notes: Vec<String>,
    pub warnings: Vec<String>,
    /// Why nothing may be executed (RDS without SUPER, open-files cap without --force).
    pub blocked: Option<String>,
    pub persist: Persist,
    /// set-max-connections: what the new limit costs, measured and worst case, and which one
    /// the plan relies on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<ConnectionCost>,
}

impl SettingsPlan {
    fn new(snap: &Snapshot, changes: Vec<Change>, persist: bool) -> SettingsPlan {
        let persist = if !persist {
            Persist::No
        } else if snap.dialect().persistence() == Persistence::SetPersist {
            Persist::SetPersist
        } else {
            Persist::Snippet(snippet(&changes))
        };
        let blocked = (snap.dialect().persistence() == Persistence::ParameterGroup).then(|| {
            let params: Vec<String> = changes
                .iter()
                .map(|c| format!("ParameterName={},ParameterValue={},ApplyMethod=immediate", c.variable, c.new))
                .collect();
            format!(
                "Amazon RDS/Aurora does not allow SET GLOBAL: change the DB parameter group instead, e.g.\n  aws rds modify-db-parameter-group --db-parameter-group-name <your-group> --parameters {}",
                params.join(" ")
            )
        });
        SettingsPlan {
            changes,
            notes: Vec::new(),
            warnings: Vec::new(),
            blocked,
            persist,
            memory: None,
        }
    }

    /// The SQL that carries the plan out.
    pub fn statements(&self) -> Vec<String> {
        let verb = if self.persist == Persist::SetPersist {
            "SET PERSIST"
        } else {
            "SET GLOBAL"
        };
        self.changes
            .iter()
            .map(|c| format!("{verb} {} = {}", c.variable, c.new))
            .collect()
    }
}

fn snippet(changes: &[Change]) -> String {
    let mut s = String::from("[mysqld]\n");
    for c in changes {
        s.push_str(&format!("{} = {}\n", c.variable, c.new));
    }
    s
}

fn current(snap: &Snapshot, var: &str) -> String {
    snap.var_str(var).unwrap_or("?").to_string()
}

/// Below this, set-timeouts warns: common pool lifetimes (HikariCP's maxLifetime, 30 min), the
/// same floor diagnose suggests wait_timeout from (see `diagnose::timeouts`).
const POOL_IDLE_FLOOR_S: u64 = crate::diagnose::timeouts::WAIT_TIMEOUT_MIN_S;

pub fn timeouts(
    snap: &Snapshot,
    wait: Option<Duration>,
    interactive: Option<Duration>,
    persist: bool,
) -> SettingsPlan {
    let mut changes = Vec::new();
    for (var, d) in [("wait_timeout", wait), ("interactive_timeout", interactive)] {
        if let Some(d) = d {
            changes.push(Change {
                variable: var,
                current: current(snap, var),
                new: d.as_secs().max(1).to_string(),
            });
        }
    }
    let mut plan = SettingsPlan::new(snap, changes, persist);
    plan.notes.push(
        "The new global values apply to sessions that connect from now on; open sessions keep the timeout they started with (use --kill-existing to close the ones already idle longer)."
            .into(),
    );
    let lowest = [wait, interactive]
        .into_iter()
        .flatten()
        .map(|d| d.as_secs())
        .min()
        .unwrap_or(0);
    if lowest < POOL_IDLE_FLOOR_S {
        plan.warnings.push(format!(
            "{lowest}s is below common pool lifetimes ({POOL_IDLE_FLOOR_S}s, HikariCP's default maxLifetime of 30 min; idleTimeout 10 min): set each pool's idleTimeout/maxLifetime below {lowest}s first, or applications will get 'MySQL server has gone away' / 'Communications link failure' on connections the server closed."
        ));
    }
    let idle_longer = snap
        .sessions
        .iter()
        .filter(|s| s.is_client() && s.is_sleeping() && s.time_s >= lowest)
        .count();
    if idle_longer > 0 {
        plan.notes.push(if idle_longer == 1 {
            format!("1 session is already idle longer than {lowest}s.")
        } else {
            format!("{idle_longer} sessions are already idle longer than {lowest}s.")
        });
    }
    plan
}

pub fn max_connections(
    snap: &Snapshot,
    new: u64,
    force: bool,
    host_memory: Option<u64>,
    persist: bool,
) -> SettingsPlan {
    let cur = snap.max_connections();
    let mut plan = SettingsPlan::new(
        snap,
        vec![Change {
            variable: "max_connections",
            current: cur.to_string(),
            new: new.to_string(),
        }],
        persist,
    );
    let est = memory::estimate(snap, new, host_memory);
    let cost = connection_cost::cost(snap, new, host_memory);
    plan.notes.push(format!(
        "Worst-case memory at {new} connections: {} ({} global buffers + {} per connection x {new}); a theoretical maximum, each idle connection holds about {}.",
        units::bytes(est.worst_case_bytes),
        units::bytes(est.global_bytes),
        units::bytes(est.per_connection_bytes),
        units::bytes(est.baseline_per_connection_bytes),
    ));
    plan.notes.push(format!(
        "Memory: {}. Relies on the {} figure.",
        crate::text::capitalize(&cost.sentence()),
        cost.relies_on.name()
    ));
    let ram = units::bytes(cost.host_memory_bytes.unwrap_or(0));
    match (cost.share(), cost.worst_case_share(), cost.relies_on) {
        (Some(share), _, Basis::Measured) if share > 1.0 => plan.warnings.push(format!(
            "at the measured cost {new} connections need {:.0}% of the server's {ram} RAM: the server could be killed by the OOM killer",
            share * 100.0
        )),
        (Some(share), _, Basis::WorstCase) if share > 1.0 => plan.warnings.push(format!(
            "the worst case is {:.0}% of the server's {ram} RAM (memory per connection is not measured here): under load the server could be killed by the OOM killer",
            share * 100.0
        )),
        (Some(share), Some(worst), Basis::Measured) if worst > 1.0 => plan.notes.push(format!(
            "The worst case is {:.0}% of the server's {ram} RAM, the measured cost {:.0}%: fine at today's per-connection use, not if every session sorts and joins with the largest buffers at once.",
            worst * 100.0,
            share * 100.0
        )),
        (Some(_), _, _) => {}
        (None, _, _) => plan.notes.push("Server RAM unknown (pass --server-memory 16G to compare).".into()),
    }
    plan.memory = Some(cost);
    if new > cur {
        plan.notes.push(
            "More connections is rarely the fix on its own: check `conncheck diagnose` for leaks, idle pools and long transactions first."
                .into(),
        );
    }
    if let Some((min, product)) = known_minimum(snap, "max_connections", new) {
        plan.warnings.push(format!(
            "{product} accepts max_connections from {min}: the server will set {min}, not {new} (docs/settings-ranges.md)"
        ));
    }
    let connected = snap.threads_connected();
    if new < connected {
        plan.warnings.push(format!(
            "{connected} connections are open now: they stay, but no new client gets in until fewer than {new} remain"
        ));
    }
    // Only raising can run into the descriptor limit: lowering is the safe direction.
    if let Some(cap) = fd_capacity(snap).filter(|cap| new > *cap && new > cur) {
        let why = if snap.dialect().descriptor_cap() == DescriptorCap::TableCacheReserved {
            format!(
                "open_files_limit {} holds about {cap} connections: beyond that new clients hang without a greeting (raise LimitNOFILE / open_files_limit and restart)",
                current(snap, "open_files_limit")
            )
        } else {
            format!(
                "open_files_limit {} caps max_connections at {cap} (open_files_limit - 810): raise LimitNOFILE / open_files_limit and restart",
                current(snap, "open_files_limit")
            )
        };
        if force {
            plan.warnings.push(format!("--force: {why}"));
        } else if plan.blocked.is_none() {
            plan.blocked = Some(format!("{why}; pass --force to set it anyway"));
        }
    }
    plan
}

pub fn slow_log(
    snap: &Snapshot,
    on: bool,
    long_query_time: Option<Duration>,
    persist: bool,
) -> SettingsPlan {
    let mut changes = vec![Change {
        variable: "slow_query_log",
        current: current(snap, "slow_query_log"),
        new: if on { "ON" } else { "OFF" }.into(),
    }];
    if let Some(d) = long_query_time {
        changes.push(Change {
            variable: "long_query_time",
            current: current(snap, "long_query_time"),
            new: format!("{:.3}", d.as_secs_f64()),
        });
    }
    let mut plan = SettingsPlan::new(snap, changes, persist);
    if on {
        plan.notes.push(
            "Queries slower than long_query_time are written to the slow log (see @@slow_query_log_file): the ones that hold connections open. Summarize it with pt-query-digest or mariadb-dumpslow."
                .into(),
        );
    }
    plan
}

/// Old and verified new value of one variable whose value changed (the `applied` list of the
/// settings JSON, kept for scripts written before `results`).
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    pub variable: &'static str,
    pub old: String,
    pub new: String,
}

/// What happened to one planned variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeOutcome {
    /// The server accepted the statement and now has the value in `to`.
    Applied,
    /// The statement failed (or was not sent after the connection was lost): `error` says why.
    Failed,
    /// The value was already what was asked (nothing sent), or the server kept it.
    Unchanged,
}

/// One planned variable after execution: `from` the value before, `to` the value the server
/// reports now (the requested value when the change failed).
#[derive(Debug, Clone, Serialize)]
pub struct ChangeResult {
    pub variable: &'static str,
    pub from: String,
    pub to: String,
    pub outcome: ChangeOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The value asked for, when the server set another one (it clamps values outside the
    /// variable's range: MariaDB's max_connections 1 becomes 10; docs/settings-ranges.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested: Option<String>,
    /// The warnings the server gave for the statement (`Warning 1292: Truncated incorrect
    /// max_connections value: '1'`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl ChangeResult {
    /// "the server set 10, not 1", when it did.
    pub fn adjusted(&self) -> Option<String> {
        self.requested
            .as_ref()
            .map(|asked| format!("the server set {}, not {asked}", self.to))
    }

    /// The entry of the `applied` list, for a change that took effect.
    pub fn applied(&self) -> Option<Applied> {
        (self.outcome == ChangeOutcome::Applied).then(|| Applied {
            variable: self.variable,
            old: self.from.clone(),
            new: self.to.clone(),
        })
    }
}

impl Change {
    /// Whether the server already has the new value (`ON` = `1`, `0.5` = `0.500000`).
    pub fn is_noop(&self) -> bool {
        same_value(&self.current, &self.new)
    }
}

/// Two spellings of one variable value: case-insensitive text, booleans, or equal numbers.
pub fn same_value(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    let as_bool = |v: &str| match v.to_ascii_uppercase().as_str() {
        "ON" | "1" | "TRUE" | "YES" => Some(true),
        "OFF" | "0" | "FALSE" | "NO" => Some(false),
        _ => None,
    };
    if let (Some(x), Some(y)) = (as_bool(a), as_bool(b)) {
        return x == y;
    }
    matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(x), Ok(y)) if x == y)
}

/// The value read back, spelled like the plan: `SELECT @@GLOBAL.slow_query_log` answers `1`
/// where the plan said `ON`.
fn spelled_like(read_back: &str, planned: &str) -> String {
    let upper = planned.to_ascii_uppercase();
    if upper == "ON" || upper == "OFF" {
        match read_back.trim() {
            "1" => return "ON".into(),
            "0" => return "OFF".into(),
            _ => {}
        }
    }
    read_back.to_string()
}

/// Execute the plan's statements one by one and read each value back. Every planned variable
/// gets a result, also after a failure: a change that failed after another one succeeded must be
/// reported as exactly that. The error of the first failure is returned beside the results (the
/// caller chooses the exit code); after a lost connection nothing more is sent.
pub fn apply(
    c: &mut Connection,
    plan: &SettingsPlan,
    dialect: Dialect,
) -> (Vec<ChangeResult>, Option<AppError>) {
    let mut out = Vec::new();
    let mut first_error: Option<AppError> = None;
    let mut lost = false;
    for (change, sql) in plan.changes.iter().zip(plan.statements()) {
        let result = |outcome, to: String, error: Option<String>| ChangeResult {
            variable: change.variable,
            from: change.current.clone(),
            to,
            outcome,
            error,
            requested: None,
            warnings: Vec::new(),
        };
        if lost {
            out.push(result(
                ChangeOutcome::Failed,
                change.new.clone(),
                Some("not sent: the connection was lost".into()),
            ));
            continue;
        }
        // SET PERSIST is still worth sending for an unchanged value: it writes mysqld-auto.cnf.
        if change.is_noop() && plan.persist != Persist::SetPersist {
            out.push(result(
                ChangeOutcome::Unchanged,
                change.current.clone(),
                None,
            ));
            continue;
        }
        // Up to three round trips under --query-timeout each, whatever the server trickles.
        let deadline = c.deadline(3);
        let mut warnings = Vec::new();
        let mut sent = c
            .send_drop(&sql)
            .map_err(|e| set_error(&e, &c.target, change.variable, &dialect))
            .and_then(|()| {
                // A value out of range is clamped with a warning, not refused
                // (docs/settings-ranges.md): read them when the OK packet counts any.
                if c.warnings() > 0 {
                    warnings = server_warnings(c);
                }
                // As a raw row: a value that is not valid UTF-8 becomes U+FFFD, never a panic.
                c.send_first(&format!("SELECT @@GLOBAL.{}", change.variable))
                    .map_err(|e| error::query_error(&e, &c.target, "verifying the change"))
                    .map(|row| row.and_then(|r| row::text(&r, 0)))
            });
        if deadline.passed() {
            sent = Err(error::deadline_passed(
                &c.target,
                "changing a setting",
                deadline.budget,
            ));
        }
        match sent {
            Ok(now) => {
                let now = spelled_like(&now.unwrap_or_default(), &change.new);
                let outcome = if same_value(&now, &change.current) {
                    ChangeOutcome::Unchanged
                } else {
                    ChangeOutcome::Applied
                };
                let mut r = result(outcome, now, None);
                r.requested = (!same_value(&r.to, &change.new)).then(|| change.new.clone());
                r.warnings = warnings;
                out.push(r);
            }
            Err(e) => {
                lost = e.kind == ErrorKind::ConnectionLost;
                out.push(result(
                    ChangeOutcome::Failed,
                    change.new.clone(),
                    Some(e.message.clone()),
                ));
                first_error.get_or_insert(e);
            }
        }
    }
    (out, first_error)
}

/// `SHOW WARNINGS` of the last statement as `Warning 1292: text` (escaped server text), at most
/// a few: best effort, a failure leaves them out (the value read back still tells).
fn server_warnings(c: &mut Connection) -> Vec<String> {
    let rows: Vec<mysql::Row> = c.send_rows("SHOW WARNINGS LIMIT 5").unwrap_or_default();
    rows.iter()
        .map(|r| {
            format!(
                "{} {}: {}",
                row::text(r, 0).unwrap_or_default(),
                row::num(r, 1).unwrap_or(0),
                crate::text::escape(&row::text(r, 2).unwrap_or_default())
            )
        })
        .collect()
}

/// The value the server would set instead of `asked`, and the product, when `asked` is below
/// the minimum this server is known to accept (docs/settings-ranges.md).
pub fn known_minimum(snap: &Snapshot, variable: &str, asked: u64) -> Option<(u64, &'static str)> {
    let (min, product) = match variable {
        "max_connections" => snap.dialect().max_connections_minimum(),
        _ => return None,
    };
    (asked < min).then_some((min, product))
}

fn set_error(e: &mysql::Error, target: &str, var: &str, dialect: &Dialect) -> AppError {
    match error::server_code(e) {
        Some(error::code::SPECIFIC_ACCESS_DENIED) => AppError::new(
            ErrorKind::Privilege,
            format!("cannot set {var}: {}", error::server_message(e)),
        )
        .hint(dialect.set_global_privilege_hint()),
        _ => error::query_error(e, target, &format!("setting {var}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures;

    #[test]
    fn timeouts_warn_below_pool_lifetimes_and_persist_per_flavor() {
        let s = fixtures::mariadb();
        let p = timeouts(&s, Some(Duration::from_secs(120)), None, true);
        assert_eq!(
            p.changes,
            vec![Change {
                variable: "wait_timeout",
                current: "600".into(),
                new: "120".into()
            }]
        );
        assert!(p.warnings[0].contains("maxLifetime"));
        assert_eq!(
            p.persist,
            Persist::Snippet("[mysqld]\nwait_timeout = 120\n".into())
        );
        assert_eq!(p.statements(), vec!["SET GLOBAL wait_timeout = 120"]);
        // 5 minutes is still below a 30-minute pool lifetime.
        let p = timeouts(&s, Some(Duration::from_secs(300)), None, false);
        assert!(
            p.warnings[0].contains("below common pool lifetimes (1800s"),
            "{:?}",
            p.warnings
        );
        // What diagnose suggests (30 minutes at least) gets no warning: advice and command agree.
        let p = timeouts(&s, Some(Duration::from_secs(1800)), None, false);
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let m = timeouts(
            &fixtures::mysql8(),
            Some(Duration::from_secs(3600)),
            Some(Duration::from_secs(3600)),
            true,
        );
        assert_eq!(m.persist, Persist::SetPersist);
        assert!(m.warnings.is_empty());
        assert_eq!(
            m.statements(),
            vec![
                "SET PERSIST wait_timeout = 3600",
                "SET PERSIST interactive_timeout = 3600"
            ]
        );
    }

    #[test]
    fn max_connections_relies_on_the_measured_cost_and_keeps_the_worst_case() {
        // 10 sessions of 256 KiB on an 8 GiB host; 2,000 connections: worst case far over RAM,
        // measured about 0.7 GiB.
        let mut s = fixtures::mariadb();
        s.host_memory_bytes = Some(8 << 30);
        let sessions = (1..=10)
            .map(|i| {
                let mut x = fixtures::session(i, "app", "10.0.0.1", "Sleep", 10, "", None);
                x.memory_bytes = Some(256 << 10);
                x
            })
            .collect();
        fixtures::with_sessions(&mut s, sessions);
        let p = max_connections(&s, 2000, true, None, false);
        let m = p.memory.as_ref().unwrap();
        assert_eq!(m.relies_on, Basis::Measured);
        assert_eq!(m.raise_cost_bytes, Some(1849 * (256 << 10)));
        assert!(
            p.notes[1].starts_with(
                "Memory: Measured ≈ 256 KiB per connection (p95 256 KiB, 10 sessions, information_schema.PROCESSLIST.MEMORY_USED); raising to 2000 costs ≈ 462 MiB (1849 more × p95); worst case"
            ),
            "{:?}",
            p.notes
        );
        assert!(
            p.warnings.iter().all(|w| !w.contains("OOM")),
            "{:?}",
            p.warnings
        );
        assert!(
            p.notes
                .iter()
                .any(|n| n.starts_with("The worst case is ") && n.contains("the measured cost")),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn max_connections_shows_memory_and_respects_the_open_files_cap() {
        let mut s = fixtures::mysql8();
        s.variables.insert("open_files_limit".into(), "1024".into());
        let p = max_connections(&s, 500, false, None, false);
        assert!(
            p.notes[0].starts_with("Worst-case memory at 500 connections"),
            "{:?}",
            p.notes
        );
        assert!(
            p.notes[1].starts_with("Memory: Not measured per connection")
                && p.notes[1].ends_with("Relies on the worst case figure."),
            "{:?}",
            p.notes
        );
        assert_eq!(p.memory.as_ref().unwrap().relies_on, Basis::WorstCase);
        assert!(
            p.blocked.as_deref().unwrap().contains("214"),
            "{:?}",
            p.blocked
        );
        let forced = max_connections(&s, 500, true, None, false);
        assert!(forced.blocked.is_none());
        assert!(forced.warnings.iter().any(|w| w.starts_with("--force")));
        // Lowering is the safe direction: never blocked, never needs --force.
        s.variables.insert("max_connections".into(), "2000".into());
        let lower = max_connections(&s, 1000, false, None, false);
        assert!(lower.blocked.is_none(), "{:?}", lower.blocked);
        let ok = max_connections(&fixtures::mariadb(), 300, false, Some(1 << 30), false);
        assert!(ok.blocked.is_none());
        assert!(
            ok.warnings.iter().any(|w| w.contains("OOM")),
            "{:?}",
            ok.warnings
        );
    }

    #[test]
    fn a_value_below_the_known_minimum_is_told_in_the_plan() {
        let m = fixtures::mariadb();
        assert_eq!(
            known_minimum(&m, "max_connections", 1),
            Some((10, "MariaDB"))
        );
        assert_eq!(known_minimum(&m, "max_connections", 10), None);
        assert_eq!(
            known_minimum(&fixtures::mysql8(), "max_connections", 1),
            None
        );
        let p = max_connections(&m, 1, false, None, false);
        assert!(
            p.warnings.iter().any(|w| w.starts_with(
                "MariaDB accepts max_connections from 10: the server will set 10, not 1"
            )),
            "{:?}",
            p.warnings
        );
        let r = ChangeResult {
            variable: "max_connections",
            from: "151".into(),
            to: "10".into(),
            outcome: ChangeOutcome::Applied,
            error: None,
            requested: Some("1".into()),
            warnings: vec![],
        };
        assert_eq!(r.adjusted().as_deref(), Some("the server set 10, not 1"));
    }

    #[test]
    fn rds_runs_nothing_and_names_the_parameter_group_change() {
        let mut s = fixtures::mysql8();
        s.server.rds = true;
        let p = max_connections(&s, 400, false, None, false);
        let b = p.blocked.unwrap();
        assert!(
            b.contains("ParameterName=max_connections,ParameterValue=400"),
            "{b}"
        );
    }

    #[test]
    fn values_compare_across_spellings() {
        assert!(same_value("ON", "1"));
        assert!(same_value("off", "OFF"));
        assert!(same_value("0.500000", "0.500"));
        assert!(same_value("300", "300"));
        assert!(!same_value("OFF", "ON"));
        assert!(!same_value("28800", "300"));
        assert!(!same_value("", "0"));
        assert_eq!(spelled_like("1", "ON"), "ON");
        assert_eq!(spelled_like("0", "OFF"), "OFF");
        assert_eq!(spelled_like("300", "300"), "300");
        let c = Change {
            variable: "slow_query_log",
            current: "OFF".into(),
            new: "OFF".into(),
        };
        assert!(c.is_noop());
    }

    #[test]
    fn slow_log() {
        let p = super::slow_log(
            &fixtures::mariadb(),
            true,
            Some(Duration::from_millis(500)),
            false,
        );
        assert_eq!(
            p.statements(),
            vec![
                "SET GLOBAL slow_query_log = ON",
                "SET GLOBAL long_query_time = 0.500"
            ]
        );
    }
}
