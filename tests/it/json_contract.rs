//! The JSON contract pinned (docs/json.md): one `insta::assert_json_snapshot!` per report and
//! shape, from the recorded snapshots in tests/data (no server): `diagnose --from` (every
//! recorded server and a replayed incident folder) runs the binary; status, sessions, check,
//! the kill plan, its audit record and its results, the settings plans and results and the saved
//! snapshot are built by the same pure builders the commands use and serialized by the same
//! `render::json`. A kill result comes from `remedy::execute` itself, through a scripted
//! [`Link`] that loses its connection mid-batch, so the reconnect fields are real.
//!
//! What is pinned is the shape: every field name, its type and nesting, on real values. Arrays
//! keep their first [`KEEP`] elements (every element has the same shape; the counts are asserted
//! apart), clock times are redacted with insta's redactions (`[time]`, a null stays null) and
//! paths of this checkout read `[repo]`, so a snapshot changes when the contract or a judgement
//! does, not with the clock. Durations come from the recorded files (nothing here is measured),
//! so they are kept. A renamed or removed field fails here; an added one too, until the
//! snapshot is accepted (`INSTA_UPDATE=always` or `cargo insta review`) and docs/json.md and
//! CHANGELOG.md say what was added.

use crate::support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use conncheck::testing::exit::AppError;
use conncheck::testing::filter::SessionFilter;
use conncheck::testing::remedy::execute::{self, Answer, Failure, KillResult, Link, Lock};
use conncheck::testing::remedy::plan::{self, Criteria, KillMode, KillPlan, Target};
use conncheck::testing::remedy::settings::{self, ChangeOutcome, ChangeResult};
use conncheck::testing::render;
use conncheck::testing::report;
use conncheck::testing::report::check::Limits;
use conncheck::testing::report::kill::{Counts, KILL_SCHEMA_VERSION, KillReport, PlanRecord};
use conncheck::testing::report::sessions::GroupBy;
use conncheck::testing::report::settings::{SETTINGS_SCHEMA_VERSION, SettingsReport};
use conncheck::testing::snapshot::{Session, Snapshot};
use serde_json::Value;

/// Every recorded snapshot: MySQL 8.0 and 8.4 (a replica: background threads), RDS with its
/// defaults and full, Aurora, MariaDB.
const RECORDED: [&str; 6] = [
    "mysql80-incident",
    "mysql84-replica",
    "rds-mysql-default",
    "rds-mysql-full",
    "aurora-idle",
    "mariadb-mdl-pileup",
];

/// Elements kept of each array.
const KEEP: usize = 3;

/// Snapshot `$value` (a [`Value`]) as `$name`: arrays cut to [`KEEP`], clock times redacted.
macro_rules! pin {
    ($name:expr, $value:expr) => {
        insta::assert_json_snapshot!($name, first_of_each_array($value), {
            ".time" => clock(),
            ".taken_at" => clock(),
            ".incident.triggered_at" => clock(),
            ".timeline[].time" => clock(),
            ".growth.window_start" => clock(),
            ".growth.trigger_at" => clock(),
            ".growth.started_at" => clock(),
            ".growth.refused.first_at" => clock(),
            ".growth.**.since" => clock()
        })
    };
}

/// `[time]` for a clock time; a null (no such time) stays null, since null is part of the contract.
fn clock() -> insta::internals::Redaction {
    insta::dynamic_redaction(|value, _| {
        if value.is_nil() {
            value
        } else {
            "[time]".into()
        }
    })
}

/// The value with every array cut to its first [`KEEP`] elements.
fn first_of_each_array(v: Value) -> Value {
    match v {
        Value::Array(a) => {
            Value::Array(a.into_iter().take(KEEP).map(first_of_each_array).collect())
        }
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (k, first_of_each_array(v)))
                .collect(),
        ),
        other => other,
    }
}

/// The wall-clock time a kill round stamps, as `commands::kill` does (redacted in snapshots).
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn load(name: &str) -> Snapshot {
    conncheck::testing::snapshot::source::load(&data(&format!("{name}.json"))).unwrap()
}

/// A report as `--format json` prints it, parsed, with this checkout's paths as `[repo]`.
fn as_printed<T: serde::Serialize>(report: &T) -> Value {
    let text = render::json(report);
    redact_paths(serde_json::from_str(&text).expect("--format json is JSON"))
}

/// Every string that names a file of this checkout names it from `[repo]`, wherever the
/// checkout is.
fn redact_paths(v: Value) -> Value {
    let root = env!("CARGO_MANIFEST_DIR");
    match v {
        Value::String(s) => Value::String(s.replace(root, "[repo]")),
        Value::Array(a) => Value::Array(a.into_iter().map(redact_paths).collect()),
        Value::Object(o) => {
            Value::Object(o.into_iter().map(|(k, v)| (k, redact_paths(v))).collect())
        }
        other => other,
    }
}

/// `conncheck diagnose --from PATH --format json`, parsed.
fn diagnose_from(path: &Path) -> Value {
    let out = support::conncheck()
        .args(["diagnose", "--format", "json", "--from"])
        .arg(path)
        .output()
        .unwrap();
    redact_paths(support::json_ok(&out))
}

#[test]
fn diagnose_of_every_recorded_flavor() {
    for name in RECORDED {
        let v = diagnose_from(&data(&format!("{name}.json")));
        assert_eq!(v["schema_version"], 1, "{name}");
        pin!(format!("diagnose_{name}"), v);
    }
}

/// A replayed incident folder adds `incident`, `timeline` and `growth`.
#[test]
fn diagnose_of_a_recorded_incident() {
    let v = diagnose_from(&data("incident-checkout-leak"));
    for field in ["incident", "timeline", "growth"] {
        assert!(v.get(field).is_some(), "{field} is in the replay's JSON");
    }
    pin!("diagnose_replay_incident", v);
}

#[test]
fn status_and_sessions() {
    let snap = load("mysql80-incident");
    pin!("status", as_printed(&report::status::build(&snap, 10)));
    let long = load("mariadb-mdl-pileup");
    let all = report::sessions::build(&long, &SessionFilter::default(), None, 0);
    assert_eq!(all.sessions.len(), long.sessions.len());
    pin!("sessions", as_printed(&all));
    let grouped = report::sessions::build(&long, &SessionFilter::default(), Some(GroupBy::User), 3);
    pin!("sessions_grouped_by_user", as_printed(&grouped));
}

#[test]
fn check_with_default_limits() {
    let snap = load("rds-mysql-full");
    let r = report::check::judge(&snap, &Limits::default());
    pin!("check", as_printed(&r));
}

/// What `snapshot -o FILE` writes (and `diagnose --from` reads back): the model, every field.
#[test]
fn saved_snapshot() {
    let snap = load("mysql80-incident");
    let v = as_printed(&snap);
    let back: Snapshot = serde_json::from_value(v.clone()).expect("a saved snapshot loads");
    assert_eq!(back.sessions.len(), snap.sessions.len());
    pin!("snapshot", v);
}

fn idle_criteria() -> Criteria {
    Criteria::new(Target::Idle, KillMode::Connection, Duration::from_secs(300))
}

/// The report a kill round prints and logs, as `commands::kill` fills it.
fn kill_report(
    snap: &Snapshot,
    plan: KillPlan,
    x: execute::Execution,
    dry_run: bool,
) -> KillReport {
    KillReport {
        schema_version: KILL_SCHEMA_VERSION,
        event: "result",
        command: "kill-idle",
        time: now(),
        target: snap.target.clone(),
        server_hostname: snap.variables.get("hostname").cloned(),
        account: snap.access.user.clone(),
        dry_run,
        summary: plan.summary(),
        counts: Counts::of(plan.victims.len(), &x.results),
        plan,
        results: x.results,
        reconnects: x.reconnects,
        interrupted: x.interrupted,
        notes: x.notes,
    }
}

/// `kill-idle --older-than 300s --dry-run --format json`, and the audit log's plan record.
#[test]
fn kill_plan_and_its_audit_record() {
    let snap = load("mysql80-incident");
    let p = plan::plan(&snap, &idle_criteria());
    assert!(
        !p.victims.is_empty(),
        "the recorded incident has idle sessions"
    );
    let record = PlanRecord {
        schema_version: KILL_SCHEMA_VERSION,
        event: "plan",
        command: "kill-idle",
        time: now(),
        target: &snap.target,
        server_hostname: snap.var_str("hostname"),
        account: &snap.access.user,
        summary: p.summary(),
        plan: &p,
    };
    pin!("kill_plan_record", as_printed(&record));
    let dry = kill_report(&snap, p, execute::Execution::default(), true);
    pin!("kill_plan_dry_run", as_printed(&dry));
}

/// A server as the kill executor sees it: the recorded processlist; the first batch answers two
/// KILLs and then loses the connection; after reconnecting, the first unanswered victim is gone
/// (killed after all) and the others are still there (not killed).
struct Scripted {
    sessions: Vec<Session>,
    batches: usize,
    connection: u64,
}

impl Link for Scripted {
    fn processlist(&mut self) -> Result<Vec<Session>, Failure> {
        Ok(self.sessions.clone())
    }
    fn send(&mut self, stmts: &[String]) -> Answer {
        self.batches += 1;
        if self.batches > 1 || stmts.len() < 4 {
            return Answer::Answered {
                done: stmts.len(),
                error: None,
            };
        }
        // The first two were answered: they are gone; the third was carried out unanswered.
        let gone: Vec<u64> = stmts[..3].iter().filter_map(|s| id_in(s)).collect();
        self.sessions.retain(|s| !gone.contains(&s.id));
        Answer::Lost {
            done: 2,
            failure: Failure {
                lost: true,
                error: AppError::new(
                    conncheck::testing::exit::ErrorKind::ConnectionLost,
                    "the server closed the connection",
                ),
            },
        }
    }
    fn reconnect(&mut self) -> Result<u64, AppError> {
        self.connection += 1;
        Ok(self.connection)
    }
    fn announce(&mut self, _: &str) {}
    fn connection_id(&mut self) -> Option<u64> {
        Some(self.connection)
    }
    fn lock(&mut self) -> Result<Lock, Failure> {
        Ok(Lock::Held)
    }
    fn unlock(&mut self) {}
    fn interrupted(&mut self) -> Option<conncheck::testing::terminal::Signal> {
        None
    }
}

/// The session id a KILL statement names (`KILL CONNECTION 42`, `CALL mysql.rds_kill(42)`).
fn id_in(stmt: &str) -> Option<u64> {
    let digits: String = stmt
        .chars()
        .rev()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.chars().rev().collect::<String>().parse().ok()
}

/// `kill-idle --older-than 300s --yes --format json` after a lost connection: killed, killed
/// confirmed after reconnecting, not-killed, with the reconnect recorded.
#[test]
fn kill_results_after_a_lost_connection() {
    let snap = load("mysql80-incident");
    let c = Criteria {
        limit: Some(5),
        ..idle_criteria()
    };
    let p = plan::plan(&snap, &c);
    assert_eq!(p.victims.len(), 5);
    assert!(p.over_limit > 0, "more idle sessions than --limit 5");
    let mut link = Scripted {
        sessions: snap.sessions.clone(),
        batches: 0,
        connection: 7,
    };
    let mut x = execute::execute(&mut link, &p, &c, snap.dialect(), None);
    // One of each outcome first (the snapshot keeps the first elements of an array).
    x.results.sort_by_key(|r: &KillResult| {
        (
            r.outcome != execute::Outcome::NotKilled,
            r.note.is_none(),
            r.id,
        )
    });
    let r = kill_report(&snap, p, x, false);
    assert_eq!(r.reconnects.len(), 1, "{:?}", r.reconnects);
    assert!(r.counts.confirmed_after_reconnect >= 1, "{:?}", r.counts);
    assert!(r.counts.not_killed >= 1, "{:?}", r.counts);
    pin!("kill_results_reconnected", as_printed(&r));
}

fn settings_report(
    snap: &Snapshot,
    plan: settings::SettingsPlan,
    kill_plan: Option<KillPlan>,
    results: Vec<ChangeResult>,
) -> SettingsReport {
    SettingsReport {
        schema_version: SETTINGS_SCHEMA_VERSION,
        target: snap.target.clone(),
        dry_run: results.is_empty(),
        applied: results.iter().filter_map(ChangeResult::applied).collect(),
        plan,
        results,
        kill_plan,
        kill_results: Vec::new(),
    }
}

/// `set-timeouts --wait-timeout 600s --interactive-timeout 600s --kill-existing --dry-run`,
/// and `set-max-connections 1000 --dry-run` with its memory cost.
#[test]
fn settings_plans() {
    let snap = load("mysql80-incident");
    let ten_min = Some(Duration::from_secs(600));
    let p = settings::timeouts(&snap, ten_min, ten_min, false);
    let kill = plan::plan(
        &snap,
        &Criteria::new(Target::Idle, KillMode::Connection, Duration::from_secs(600)),
    );
    let r = settings_report(&snap, p, Some(kill), Vec::new());
    pin!("settings_plan_timeouts", as_printed(&r));
    let p = settings::max_connections(&snap, 1000, false, Some(16 << 30), true);
    assert!(p.memory.is_some(), "set-max-connections costs the change");
    let r = settings_report(&snap, p, None, Vec::new());
    pin!("settings_plan_max_connections", as_printed(&r));
}

/// A settings result: one variable changed, one the server clamped (with its warning), as
/// `remedy::settings::apply` reports them.
#[test]
fn settings_results() {
    let snap = load("mariadb-mdl-pileup");
    let p = settings::timeouts(
        &snap,
        Some(Duration::from_secs(600)),
        Some(Duration::from_secs(600)),
        false,
    );
    let results = p
        .changes
        .iter()
        .enumerate()
        .map(|(i, c)| ChangeResult {
            variable: c.variable,
            from: c.current.clone(),
            to: if i == 0 { c.new.clone() } else { "900".into() },
            outcome: ChangeOutcome::Applied,
            error: None,
            requested: (i > 0).then(|| c.new.clone()),
            warnings: if i == 0 {
                Vec::new()
            } else {
                vec![format!(
                    "Warning 1292: Truncated incorrect {} value: '{}'",
                    c.variable, c.new
                )]
            },
        })
        .collect();
    let r = settings_report(&snap, p, None, results);
    pin!("settings_results", as_printed(&r));
}

/// Objects whose keys are data (variable and status names, client names), not fields.
const MAPS: [&str; 5] = ["variables", "status", "status_after", "counters", "clients"];

/// Every field name of `v` (not the keys of [`MAPS`]).
fn field_names(v: &Value, into: &mut std::collections::BTreeSet<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                into.insert(k.clone());
                if !(MAPS.contains(&k.as_str()) && x.is_object()) {
                    field_names(x, into);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| field_names(x, into)),
        _ => {}
    }
}

/// docs/json.md names every field the pinned reports have: a field added to a report (and its
/// snapshot accepted) without a line in the docs fails here.
#[test]
fn every_pinned_field_is_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/json.md")).unwrap();
    let mut fields = std::collections::BTreeSet::new();
    let mut snapshots = 0;
    for entry in std::fs::read_dir(root.join("tests/it/snapshots")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("it__json_contract__") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // An insta snapshot: a `---` header, then the JSON.
        let json = text.splitn(3, "---\n").nth(2).expect("an insta header");
        field_names(&serde_json::from_str(json).unwrap(), &mut fields);
        snapshots += 1;
    }
    assert!(snapshots >= 8, "{snapshots} JSON snapshots");
    let missing: Vec<&String> = fields
        .iter()
        .filter(|f| !doc.contains(&format!("`{f}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "fields not in docs/json.md: {missing:?}"
    );
}
