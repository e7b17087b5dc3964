//! `set-timeouts`, `set-max-connections`, `set-slow-log` on a private server: the globals change
//! after confirmation and stay untouched on --dry-run or without a terminal; --persist on MariaDB
//! prints the my.cnf snippet; a missing privilege is named.

mod support;

use std::time::Duration;

use mysql::prelude::Queryable;
use predicates::prelude::*;
use support::{Server, ServerOpts, conn_id, json_ok};

fn global(s: &Server, var: &str) -> String {
    s.root()
        .query_first(format!("SELECT @@GLOBAL.{var}"))
        .unwrap()
        .unwrap()
}

#[test]
fn set_timeouts_changes_the_globals_only_when_confirmed() {
    let s = Server::start(ServerOpts::default());
    s.conncheck("root", "")
        .args(["set-timeouts", "--wait-timeout", "300s", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("wait_timeout: 28800 -> 300"));
    assert_eq!(global(&s, "wait_timeout"), "28800");
    s.conncheck("root", "")
        .args(["set-timeouts", "--wait-timeout", "300s"])
        .assert()
        .code(5);
    assert_eq!(global(&s, "wait_timeout"), "28800");
    let out = s
        .conncheck("root", "")
        .args([
            "set-timeouts",
            "--wait-timeout",
            "5m",
            "--interactive-timeout",
            "600s",
            "--yes",
            "--persist",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let v = json_ok(&out);
    assert_eq!(v["applied"][0]["variable"], "wait_timeout");
    assert_eq!(v["applied"][0]["old"], "28800");
    assert_eq!(v["applied"][0]["new"], "300");
    assert_eq!(v["plan"]["persist"]["method"], "snippet");
    assert!(
        v["plan"]["persist"]["text"]
            .as_str()
            .unwrap()
            .contains("[mysqld]\nwait_timeout = 300\ninteractive_timeout = 600")
    );
    assert_eq!(global(&s, "wait_timeout"), "300");
    assert_eq!(global(&s, "interactive_timeout"), "600");
}

#[test]
fn set_timeouts_can_kill_sessions_already_idle_longer() {
    let s = Server::start(ServerOpts::default());
    s.create_user("st_app", "pw", "USAGE");
    let idle = s.idle_connections("st_app", "pw", 3);
    std::thread::sleep(Duration::from_millis(2100));
    let out = s
        .conncheck("root", "")
        .args([
            "set-timeouts",
            "--wait-timeout",
            "2s",
            // Below 10s: every client pausing 2s would be cut off.
            "--force",
            "--kill-existing",
            "--yes",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let v = json_ok(&out);
    let killed: Vec<u64> = v["kill_results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["outcome"] == "killed")
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    for c in &idle {
        assert!(killed.contains(&conn_id(c)), "{v}");
    }
    assert!(
        v["plan"]["warnings"][0]
            .as_str()
            .unwrap()
            .contains("maxLifetime")
    );
}

#[test]
fn set_max_connections_shows_the_memory_cost_and_verifies() {
    let s = Server::start(ServerOpts::default());
    s.conncheck("root", "")
        .args(["set-max-connections", "300", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("max_connections: 200 -> 300"))
        .stdout(predicate::str::contains(
            "Worst-case memory at 300 connections",
        ));
    assert_eq!(global(&s, "max_connections"), "200");
    s.conncheck("root", "")
        .args(["set-max-connections", "300", "--yes"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Changed max_connections: 200 -> 300",
        ));
    assert_eq!(global(&s, "max_connections"), "300");
    // Far beyond what the open-files limit holds: refused unless forced.
    let limit: u64 = global(&s, "open_files_limit").parse().unwrap();
    s.conncheck("root", "")
        .args([
            "set-max-connections",
            &(limit + 10).min(100_000).to_string(),
            "--yes",
        ])
        .assert()
        .code(17)
        .stderr(predicate::str::contains("--force"));
    assert_eq!(global(&s, "max_connections"), "300");
}

#[test]
fn set_slow_log_and_missing_privilege() {
    let s = Server::start(ServerOpts::default());
    s.conncheck("root", "")
        .args(["set-slow-log", "on", "--long-query-time", "1s", "--yes"])
        .assert()
        .success();
    assert_eq!(global(&s, "slow_query_log"), "1");
    assert_eq!(global(&s, "long_query_time"), "1.000000");
    s.create_user("st_plain", "pw", "USAGE");
    s.conncheck("st_plain", "pw")
        .args(["set-timeouts", "--wait-timeout", "300s", "--yes"])
        .assert()
        .code(17)
        .stderr(predicate::str::contains("SUPER"));
    assert_eq!(global(&s, "wait_timeout"), "28800");
}
