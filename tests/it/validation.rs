//! Inputs that used to do harm or nothing: each is now understood or refused before anything
//! happens, with one usage error (exit 2; `check`: UNKNOWN 3, the monitoring-plugin code).
//!
//! * `--exclude-user` / `--match-user` take `user@host`, the form conncheck prints everywhere
//!   (it used to exclude and match nothing);
//! * `set-timeouts` refuses 0 and sub-second values (applied as wait_timeout = 1 server-wide)
//!   and wants `--force` below 10 s;
//! * `--warning` must be below `--critical`, percentages within 0–100 %, and a percentage is
//!   compared with a count once max_connections is known;
//! * `watch --count 0` (printed nothing, exit 0).

use crate::support;

use std::process::Output;

use mysql::prelude::Queryable;
use serde_json::Value;
use support::{Server, ServerOpts, conncheck, json_ok};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A usage error: `code`, one error line naming `what`, nothing on stdout.
fn refused(out: &Output, code: i32, what: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(err.contains("error"), "{err}");
    assert!(err.contains(what), "expected {what:?} in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// The ids a kill plan (JSON, `--dry-run`) would kill.
fn planned(v: &Value) -> Vec<u64> {
    let victims = v["victims"]
        .as_array()
        .or_else(|| v["plan"]["victims"].as_array())
        .unwrap_or_else(|| panic!("no victims in {v}"));
    let mut ids: Vec<u64> = victims.iter().map(|x| x["id"].as_u64().unwrap()).collect();
    ids.sort_unstable();
    ids
}

/// The processlist host of a session as conncheck prints it in `user@host` (without the port).
fn shown_host(s: &Server, id: u64) -> String {
    let host: String = s
        .root()
        .exec_first(
            "SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = ?",
            (id,),
        )
        .unwrap()
        .unwrap();
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h.to_string(),
        _ => host,
    }
}

#[test]
fn users_are_matched_and_excluded_as_user_at_host() {
    let s = Server::start(ServerOpts::default());
    s.create_user("app", "app-pw", "USAGE");
    s.create_user("web", "web-pw", "USAGE");
    let app = s.idle_connections("app", "app-pw", 2);
    let web = s.idle_connections("web", "web-pw", 2);
    let app_ids: Vec<u64> = app.iter().map(support::conn_id).collect();
    let web_ids: Vec<u64> = web.iter().map(support::conn_id).collect();
    let account = format!("app@{}", shown_host(&s, app_ids[0]));
    // conncheck itself prints the account that way.
    let out = s.conncheck("root", "").arg("status").output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&account),
        "{account} not printed by status"
    );

    let plan = |extra: &[&str]| -> Vec<u64> {
        let out = s
            .conncheck("root", "")
            .args([
                "kill-idle",
                "--older-than",
                "0s",
                "--dry-run",
                "--format",
                "json",
            ])
            .args(["--match-user", "app", "--match-user", "web"])
            .args(extra)
            .output()
            .unwrap();
        planned(&json_ok(&out))
    };
    let mut all = [app_ids.clone(), web_ids.clone()].concat();
    all.sort_unstable();
    assert_eq!(plan(&[]), all);
    // The printed account excludes exactly those sessions.
    assert_eq!(plan(&["--exclude-user", &account]), web_ids);
    assert_eq!(plan(&["--exclude-user", "'app'@'%'"]), web_ids);
    // Another host of the same user excludes nothing.
    assert_eq!(plan(&["--exclude-user", "app@192.0.2.1"]), all);

    // --match-user with user@host selects them (and `sessions` agrees).
    let out = s
        .conncheck("root", "")
        .args([
            "kill-idle",
            "--older-than",
            "0s",
            "--dry-run",
            "--format",
            "json",
        ])
        .args(["--match-user", &account])
        .output()
        .unwrap();
    assert_eq!(planned(&json_ok(&out)), app_ids);
    let out = s
        .conncheck("root", "")
        .args(["sessions", "--format", "json", "--match-user", &account])
        .output()
        .unwrap();
    let v = json_ok(&out);
    let mut ids: Vec<u64> = v["sessions"]
        .as_array()
        .unwrap_or_else(|| panic!("no sessions in {v}"))
        .iter()
        .map(|x| x["id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, app_ids);
    drop((app, web));
}

#[test]
fn set_timeouts_refuses_zero_and_sub_second_values_and_wants_force_below_10s() {
    let s = Server::start(ServerOpts::default());
    let before: u64 = s
        .root()
        .query_first("SELECT @@global.wait_timeout")
        .unwrap()
        .unwrap();
    for value in ["0", "0s", "0.5s", "1ns", "500ms", "1500ms"] {
        let out = s
            .conncheck("root", "")
            .args(["set-timeouts", "--yes", "--wait-timeout", value])
            .output()
            .unwrap();
        refused(&out, 2, value);
        let out = s
            .conncheck("root", "")
            .args([
                "set-timeouts",
                "--yes",
                "--force",
                "--interactive-timeout",
                value,
            ])
            .output()
            .unwrap();
        refused(&out, 2, value);
    }
    for value in ["1s", "5", "9s"] {
        let out = s
            .conncheck("root", "")
            .args(["set-timeouts", "--yes", "--wait-timeout", value])
            .output()
            .unwrap();
        refused(&out, 2, "--force");
    }
    let now: u64 = s
        .root()
        .query_first("SELECT @@global.wait_timeout")
        .unwrap()
        .unwrap();
    assert_eq!(now, before, "a refused value was applied");

    // With --force a short value is applied as asked; 10s and more need no --force.
    let out = s
        .conncheck("root", "")
        .args(["set-timeouts", "--yes", "--force", "--wait-timeout", "5s"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let now: u64 = s
        .root()
        .query_first("SELECT @@global.wait_timeout")
        .unwrap()
        .unwrap();
    assert_eq!(now, 5);
    let out = s
        .conncheck("root", "")
        .args(["set-timeouts", "--yes", "--wait-timeout", "10s"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    s.sql(&format!("SET GLOBAL wait_timeout = {before}"));
}

#[test]
fn warning_must_be_below_critical_and_percentages_within_100() {
    for (args, what) in [
        (
            vec!["--warning", "90%", "--critical", "80%"],
            "--warning 90%",
        ),
        (
            vec!["--warning", "80%", "--critical", "80%"],
            "--warning 80%",
        ),
        (vec!["--critical", "200%"], "200%"),
        (vec!["--warning", "101%"], "101%"),
        (
            vec!["--warning", "500", "--critical", "400"],
            "--warning 500",
        ),
        (vec!["--critical", "50%"], "--warning 80%"),
    ] {
        let out = conncheck().arg("diagnose").args(&args).output().unwrap();
        refused(&out, 2, what);
        let out = conncheck().arg("check").args(&args).output().unwrap();
        refused(&out, 3, what);
    }
}

#[test]
fn a_percentage_and_a_count_are_compared_on_the_servers_max_connections() {
    // max_connections 200: 150 connections are 75%.
    let s = Server::start(ServerOpts::default());
    let out = s
        .conncheck("root", "")
        .args(["diagnose", "--warning", "150", "--critical", "70%"])
        .output()
        .unwrap();
    refused(&out, 2, "--warning 150 must be below --critical 70%");
    assert!(
        stderr(&out).contains("max_connections 200"),
        "{}",
        stderr(&out)
    );
    let out = s
        .conncheck("root", "")
        .args(["check", "--warning", "90%", "--critical", "150"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("CONNCHECK UNKNOWN"), "{text}");
    assert!(
        text.contains("--warning 90% must be below --critical 150"),
        "{text}"
    );
    // Consistent on this server: accepted.
    let out = s
        .conncheck("root", "")
        .args(["check", "--warning", "100", "--critical", "80%"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = s
        .conncheck("root", "")
        .args(["diagnose", "--warning", "70%", "--critical", "150"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn watch_count_zero_is_a_usage_error() {
    let out = conncheck()
        .args(["watch", "--count", "0"])
        .output()
        .unwrap();
    refused(&out, 2, "--count");
}
