//! Human output at a fixed width (issue 11, "readable at 80 columns"): the layouts of every
//! human output pinned with insta at 80 and 120 columns (NO_COLOR, from the recorded snapshots
//! in tests/data), and on a hostile recorded snapshot (long and wide user names, hosts and
//! databases, control characters, long query texts) no line of any output is wider than 80
//! columns.
//!
//! `diagnose --from` runs the binary (it works offline); status, sessions, kill plans and
//! results, settings plans and the watch screen are rendered by their pure renderers from the
//! same snapshots (they need a server to run as commands).
//!
//! In colour every output is the plain one plus escape sequences (widths are measured without
//! them, so nothing wraps earlier), within 80 columns for every recorded snapshot; one coloured
//! layout per report is pinned with the sequences shown as `\e[…m`.

use crate::support;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use conncheck::testing::filter::SessionFilter;
use conncheck::testing::remedy::execute::{KillResult, Outcome};
use conncheck::testing::remedy::plan::{self, Criteria, KillMode, Target};
use conncheck::testing::render::layout::{strip_escapes, width_of};
use conncheck::testing::render::{self, Style};
use conncheck::testing::report;
use conncheck::testing::snapshot::Snapshot;
use serde_json::Value;

const RECORDED: [&str; 4] = [
    "mysql80-incident",
    "rds-mysql-full",
    "aurora-idle",
    "mariadb-mdl-pileup",
];

fn path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/{name}.json"))
}

fn load(p: &Path) -> Snapshot {
    conncheck::testing::snapshot::source::load(p).unwrap()
}

/// `diagnose --from FILE` as a person sees it at `width` columns.
fn diagnose_text(file: &Path, width: usize, verbose: bool) -> String {
    diagnose_run(file, width, verbose, "never")
}

/// The same with `--color always|never`.
fn diagnose_run(file: &Path, width: usize, verbose: bool, color: &str) -> String {
    let mut c = support::conncheck();
    c.env("COLUMNS", width.to_string())
        .args(["--color", color, "diagnose", "--from"])
        .arg(file);
    if verbose {
        c.arg("--verbose");
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn style(width: usize) -> Style {
    Style::plain().with_width(width)
}

fn status_text(snap: &Snapshot, st: Style) -> String {
    render::status::human(&report::status::build(snap, 10), st)
}

fn sessions_text(snap: &Snapshot, st: Style) -> String {
    let r = report::sessions::build(snap, &SessionFilter::default(), None, 25);
    render::sessions::human(&r, st, false)
}

fn criteria(target: Target, secs: u64) -> Criteria {
    Criteria::new(target, KillMode::Connection, Duration::from_secs(secs))
}

fn kill_plan_text(snap: &Snapshot, target: Target, secs: u64, st: Style) -> String {
    let p = plan::plan(snap, &criteria(target, secs));
    render::kill::plan_text(&p, snap, st)
}

/// A result where every third kill was denied and every fifth session was already gone.
fn kill_result_text(snap: &Snapshot, st: Style) -> String {
    let p = plan::plan(snap, &criteria(Target::Idle, 300));
    let results: Vec<KillResult> = p
        .victims
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let (outcome, error) = match i {
                i if i % 3 == 2 => (
                    Outcome::Denied,
                    Some("You are not owner of thread 61075 (ERROR 1095)".to_string()),
                ),
                i if i % 5 == 4 => (Outcome::Gone, None),
                _ => (Outcome::Killed, None),
            };
            KillResult {
                id: v.session.id,
                user: v.session.user.clone(),
                host: v.session.host.clone(),
                command: v.session.command.clone(),
                time_s: v.session.time_s,
                outcome,
                error,
                note: None,
            }
        })
        .collect();
    let n = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
    let report = report::kill::KillReport {
        schema_version: report::kill::KILL_SCHEMA_VERSION,
        event: "result",
        command: "kill-idle",
        time: 0,
        target: snap.target.clone(),
        server_hostname: snap.variables.get("hostname").cloned(),
        account: snap.access.user.clone(),
        dry_run: false,
        summary: p.summary(),
        counts: report::kill::Counts {
            planned: p.victims.len(),
            killed: n(Outcome::Killed),
            gone: n(Outcome::Gone),
            denied: n(Outcome::Denied),
            ..Default::default()
        },
        plan: p,
        results,
        reconnects: Vec::new(),
        interrupted: None,
        notes: Vec::new(),
    };
    render::kill::results_text(&report, st)
}

fn settings_text(snap: &Snapshot, st: Style) -> String {
    let p = conncheck::testing::remedy::settings::timeouts(
        snap,
        Some(Duration::from_secs(600)),
        Some(Duration::from_secs(600)),
        false,
    );
    let kill = plan::plan(snap, &criteria(Target::Idle, 600));
    render::settings::plan_text(&p, Some(&kill), &render::snapshot_server_line(snap), st)
}

fn watch_text(snap: &Snapshot, st: Style) -> String {
    let history: VecDeque<u64> = [120, 180, 240, 276, 300, 276].into_iter().collect();
    render::watch::frame(
        snap,
        &history,
        Duration::from_secs(2),
        &snap.target,
        st,
        UNIX_EPOCH + Duration::from_secs(1_795_462_800),
    )
}

#[test]
fn diagnose_layouts_at_80_and_120_columns() {
    for name in RECORDED {
        for width in [80, 120] {
            insta::assert_snapshot!(
                format!("diagnose_{name}_{width}"),
                diagnose_text(&path(name), width, false)
            );
        }
    }
    insta::assert_snapshot!(
        "diagnose_verbose_mysql80-incident_80",
        diagnose_text(&path("mysql80-incident"), 80, true)
    );
}

#[test]
fn status_sessions_kill_settings_and_watch_layouts() {
    let snap = load(&path("mysql80-incident"));
    let long = load(&path("mariadb-mdl-pileup"));
    for width in [80, 120] {
        insta::assert_snapshot!(format!("status_{width}"), status_text(&snap, style(width)));
        insta::assert_snapshot!(
            format!("sessions_{width}"),
            sessions_text(&long, style(width))
        );
        insta::assert_snapshot!(
            format!("kill_idle_plan_{width}"),
            kill_plan_text(&snap, Target::Idle, 300, style(width))
        );
        insta::assert_snapshot!(
            format!("kill_long_plan_{width}"),
            kill_plan_text(&long, Target::Long, 10, style(width))
        );
        insta::assert_snapshot!(
            format!("kill_result_{width}"),
            kill_result_text(&snap, style(width))
        );
        insta::assert_snapshot!(
            format!("settings_plan_{width}"),
            settings_text(&snap, style(width))
        );
        insta::assert_snapshot!(format!("watch_{width}"), watch_text(&snap, style(width)));
    }
}

/// The recorded MySQL 8.0 incident with every text a database user controls made hostile: user
/// names of 32 characters (MySQL's limit) with wide characters and escapes, 60-character hosts,
/// long database names, states and query texts with controls and long unbroken words.
fn hostile() -> Value {
    let text = std::fs::read_to_string(path("mysql80-incident")).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    for (i, s) in v["sessions"].as_array_mut().unwrap().iter_mut().enumerate() {
        let user = s["user"].as_str().unwrap().to_string();
        if user == "system user" || user == "event_scheduler" {
            continue;
        }
        s["user"] = Value::from(match i % 3 {
            0 => format!("{user}_reporting_service_x\x1b[2J"),
            1 => "報告サービス用のとても長いユーザー名です".to_string(),
            _ => format!("{user}{}", "u".repeat(32 - user.len().min(32))),
        });
        s["host"] = Value::from(format!(
            "ip-10-0-{}-{}.eu-west-1.compute.internal.example.com:{}",
            i % 256,
            i % 7,
            40000 + i
        ));
        if !s["db"].is_null() {
            s["db"] = Value::from("analytics_warehouse_reporting_db\u{202e}x");
        }
        if let Some(q) = s["info"].as_str() {
            s["info"] = Value::from(format!(
                "{q} /* {} \x1b]0;pwned\x07 */ {}",
                "SELECT_SLEEP_1500_".repeat(6),
                "WHERE x IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10) ".repeat(4)
            ));
        }
        if !s["state"].as_str().unwrap_or("").is_empty() {
            s["state"] = Value::from("Waiting for table metadata lock on a very long table");
        }
    }
    v
}

fn assert_fits(what: &str, text: &str, width: usize) {
    let long: Vec<(usize, &str)> = text
        .lines()
        .filter(|l| width_of(l) > width)
        .map(|l| (width_of(l), l))
        .collect();
    assert!(
        long.is_empty(),
        "{what}: {} lines wider than {width}: {long:#?}\n{text}",
        long.len()
    );
    assert!(!text.trim().is_empty(), "{what} is empty");
}

#[test]
fn no_line_is_wider_than_80_columns_on_a_hostile_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hostile.json");
    std::fs::write(&file, serde_json::to_string(&hostile()).unwrap()).unwrap();
    let snap = load(&file);
    assert!(
        snap.sessions.iter().any(|s| s.user.contains('報')),
        "the hostile names are in the snapshot"
    );
    for width in [80, 100] {
        assert_fits("diagnose", &diagnose_text(&file, width, false), width);
        assert_fits("diagnose -v", &diagnose_text(&file, width, true), width);
        assert_fits("status", &status_text(&snap, style(width)), width);
        assert_fits("sessions", &sessions_text(&snap, style(width)), width);
        assert_fits(
            "kill-idle plan",
            &kill_plan_text(&snap, Target::Idle, 300, style(width)),
            width,
        );
        assert_fits(
            "kill-long plan",
            &kill_plan_text(&snap, Target::Long, 10, style(width)),
            width,
        );
        assert_fits("kill result", &kill_result_text(&snap, style(width)), width);
        assert_fits("settings plan", &settings_text(&snap, style(width)), width);
        assert_fits("watch", &watch_text(&snap, style(width)), width);
    }
    // A kill plan is one line per session: 4 lines of frame, 2 of header, 1 per victim.
    let p = plan::plan(&snap, &criteria(Target::Idle, 300));
    let text = kill_plan_text(&snap, Target::Idle, 300, style(80));
    let rows = text.lines().filter(|l| l.starts_with('│')).count();
    assert_eq!(rows, p.victims.len() + 1, "{text}");
    // The sessions table too, and every query text that is cut says so.
    let text = sessions_text(&snap, style(80));
    let rows = text.lines().filter(|l| l.starts_with('│')).count();
    assert_eq!(rows, 25 + 1, "{text}");
    assert!(text.contains('…'), "{text}");
}

#[test]
fn the_width_comes_from_columns_else_80() {
    let file = path("mysql80-incident");
    let mut c = support::conncheck();
    c.env_remove("COLUMNS")
        .args(["diagnose", "--from"])
        .arg(&file);
    let out = String::from_utf8(c.output().unwrap().stdout).unwrap();
    assert_fits("diagnose without COLUMNS and without a terminal", &out, 80);
    assert!(out.lines().any(|l| width_of(l) > 70), "{out}");
    let wide = diagnose_text(&file, 160, false);
    assert!(wide.lines().any(|l| width_of(l) > 100), "{wide}");
}

/// `sessions --full` keeps the whole query text, wrapped inside its column; the other columns
/// keep their content whole.
#[test]
fn sessions_full_wraps_only_the_query_text() {
    let snap = load(&path("mariadb-mdl-pileup"));
    let r = report::sessions::build(&snap, &SessionFilter::default(), None, 8);
    let text = render::sessions::human(&r, style(80), true);
    assert_fits("sessions --full", &text, 80);
    for s in &r.sessions {
        assert!(
            text.contains(&format!("│ {:<5} ┆ {} ", s.session.id, s.session.user)),
            "{}: {text}",
            s.session.id
        );
    }
    insta::assert_snapshot!("sessions_full_80", text);
}

/// A server that refused conncheck itself (ERROR 1040): the report still fits 80 columns.
#[test]
fn a_refused_report_fits_80_columns() {
    use conncheck::testing::exit::{AppError, ErrorKind};
    let target = "orders-prod.cluster-xyz.eu-west-1.rds.amazonaws.com:3306";
    let err = AppError::new(
        ErrorKind::ServerFull,
        "ERROR 1040 (08004): Too many connections",
    );
    let snap = conncheck::testing::snapshot::read::refused(target, &err, Some(33062));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("refused.json");
    std::fs::write(&file, serde_json::to_string(&snap).unwrap()).unwrap();
    let text = diagnose_text(&file, 80, false);
    assert_fits("refused diagnose", &text, 80);
    assert!(text.contains("server-full"), "{text}");
    insta::assert_snapshot!("diagnose_refused_80", text);
}

/// `set-timeouts` after the change: the first variable applied, the second refused.
fn settings_result_text(snap: &Snapshot, st: Style) -> String {
    use conncheck::testing::remedy::settings::{ChangeOutcome, ChangeResult};
    let p = conncheck::testing::remedy::settings::timeouts(
        snap,
        Some(Duration::from_secs(600)),
        Some(Duration::from_secs(600)),
        false,
    );
    let results: Vec<ChangeResult> = p
        .changes
        .iter()
        .enumerate()
        .map(|(i, c)| ChangeResult {
            variable: c.variable,
            from: c.current.clone(),
            to: c.new.clone(),
            outcome: if i == 0 {
                ChangeOutcome::Applied
            } else {
                ChangeOutcome::Failed
            },
            error: (i > 0).then(|| {
                "Access denied; you need (at least one of) the SUPER or SYSTEM_VARIABLES_ADMIN privilege(s) for this operation (ERROR 1227)".to_string()
            }),
            requested: None,
            warnings: Vec::new()
        })
        .collect();
    let r = report::settings::SettingsReport {
        schema_version: report::settings::SETTINGS_SCHEMA_VERSION,
        target: snap.target.clone(),
        dry_run: false,
        applied: results.iter().filter_map(ChangeResult::applied).collect(),
        plan: p,
        results,
        kill_plan: None,
        kill_results: Vec::new(),
    };
    render::settings::result_text(&r, &render::snapshot_server_line(snap), st)
}

/// Every recorded snapshot checked at once, as `check` prints it for several targets (the
/// Nagios summary and the multi-target table).
fn check_many_text(width: usize) -> String {
    use conncheck::testing::cli::CheckFormat;
    use conncheck::testing::report::check::{Limits, judge};
    let limits = Limits {
        th: conncheck::testing::diagnose::Thresholds::default(),
        max_idle: Some(50),
        max_long: None,
        max_idle_trx: None,
        fail_on: None,
        forecast: None,
    };
    let reports: Vec<_> = RECORDED
        .iter()
        .map(|name| judge(&load(&path(name)), &limits))
        .collect();
    render::check::many(&reports, CheckFormat::Nagios, style(width))
}

#[test]
fn grouped_sessions_settings_result_and_multi_target_layouts() {
    let snap = load(&path("mysql80-incident"));
    let long = load(&path("mariadb-mdl-pileup"));
    for width in [80, 120] {
        let grouped = report::sessions::build(
            &long,
            &SessionFilter::default(),
            Some(report::sessions::GroupBy::User),
            25,
        );
        insta::assert_snapshot!(
            format!("sessions_grouped_{width}"),
            render::sessions::human(&grouped, style(width), false)
        );
        insta::assert_snapshot!(
            format!("settings_result_{width}"),
            settings_result_text(&snap, style(width))
        );
        insta::assert_snapshot!(format!("check_many_{width}"), check_many_text(width));
    }
}

/// Every recorded snapshot in tests/data, and the hostile one.
fn all_recorded(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(path("x").parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let hostile_file = dir.join("hostile.json");
    std::fs::write(&hostile_file, serde_json::to_string(&hostile()).unwrap()).unwrap();
    files.push(hostile_file);
    files
}

/// Every human output of one snapshot in a style: (report name, text).
fn every_report(file: &Path, snap: &Snapshot, st: Style) -> Vec<(&'static str, String)> {
    let color = if st.color { "always" } else { "never" };
    vec![
        ("diagnose", diagnose_run(file, st.width, false, color)),
        (
            "diagnose_verbose",
            diagnose_run(file, st.width, true, color),
        ),
        ("status", status_text(snap, st)),
        ("sessions", sessions_text(snap, st)),
        (
            "kill_idle_plan",
            kill_plan_text(snap, Target::Idle, 300, st),
        ),
        ("kill_long_plan", kill_plan_text(snap, Target::Long, 10, st)),
        ("kill_result", kill_result_text(snap, st)),
        ("settings_plan", settings_text(snap, st)),
        ("settings_result", settings_result_text(snap, st)),
        ("watch", watch_text(snap, st)),
    ]
}

/// The escape sequences made visible, for a snapshot file a person can read.
fn visible(text: &str) -> String {
    text.replace('\x1b', "\\e")
}

#[test]
fn coloured_output_is_the_plain_output_plus_colours_within_80_columns() {
    let dir = tempfile::tempdir().unwrap();
    let coloured = Style {
        color: true,
        width: 80,
    };
    for file in all_recorded(dir.path()) {
        let snap = load(&file);
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let plain = every_report(&file, &snap, style(80));
        let colour = every_report(&file, &snap, coloured);
        let mut any_colour = false;
        for ((report, plain), (_, colour)) in plain.iter().zip(&colour) {
            let what = format!("{name}: {report}");
            any_colour |= colour.contains('\x1b');
            let wide: Vec<&str> = colour.lines().filter(|l| width_of(l) > 80).collect();
            assert!(wide.is_empty(), "{what}: wider than 80: {wide:#?}");
            // The same words on the same lines: colour never changes where a line breaks.
            assert_eq!(&strip_escapes(colour), plain, "{what}");
            // Every sequence is closed on its own line (a wrapped line never carries the
            // colour of the one before into the next command a person copies).
            for l in colour.lines() {
                assert_eq!(
                    l.matches("\x1b[0m").count(),
                    l.matches("\x1b[").count() - l.matches("\x1b[0m").count(),
                    "{what}: unbalanced colour on {l:?}"
                );
            }
        }
        assert!(any_colour, "{name}: colour is on");
    }
}

#[test]
fn one_coloured_layout_per_report() {
    let file = path("mysql80-incident");
    let snap = load(&file);
    let st = Style {
        color: true,
        width: 80,
    };
    for (report, text) in every_report(&file, &snap, st) {
        insta::assert_snapshot!(format!("color_{report}_80"), visible(&text));
    }
}
