//! `set-timeouts`, `set-max-connections`, `set-slow-log` on a private server: the globals change
//! after confirmation and stay untouched on --dry-run or without a terminal; --persist on MariaDB
//! prints the my.cnf snippet; a missing privilege is named.

use crate::support;

use mysql::prelude::Queryable;
use predicates::prelude::*;
use support::err_proxy::ErrProxy;
use support::pty::{SHOW_CURSOR, at_prompt, ended, pty};
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
    // Idle past the new wait_timeout (2s) by the server's clock.
    let idle_ids: Vec<u64> = idle.iter().map(support::conn_id).collect();
    s.wait_aged_ids(&idle_ids, "Sleep", 2000);
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

/// The second SET GLOBAL of a change fails after the first succeeded (a proxy answers it with the
/// server's "read only variable" error): the table, the JSON and the exit code say exactly that,
/// never `applied: []`, and the change names the server it acted on.
#[test]
fn a_partial_change_is_reported_per_variable_and_exits_3() {
    let s = Server::start(ServerOpts::default());
    let proxy = ErrProxy::start(
        s.port(),
        "SET GLOBAL long_query_time",
        1238,
        "HY000",
        "Variable 'long_query_time' is a read only variable",
    );
    let through_proxy = |format: &str| {
        support::conncheck()
            .args([
                "--no-defaults",
                "-h",
                "127.0.0.1",
                "-P",
                &proxy.port().to_string(),
                "--user=root",
                "--ssl-mode",
                "DISABLED",
                "set-slow-log",
                "on",
                "--long-query-time",
                "2s",
                "--yes",
                "--format",
                format,
            ])
            .output()
            .unwrap()
    };

    let out = through_proxy("json");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(proxy.hits(), 1);
    let v = support::json(&out);
    assert_eq!(v["applied"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["applied"][0]["variable"], "slow_query_log");
    assert_eq!(v["applied"][0]["old"], "OFF");
    assert_eq!(v["applied"][0]["new"], "ON", "read back as ON, not 1: {v}");
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{v}");
    assert_eq!(results[0]["variable"], "slow_query_log");
    assert_eq!(results[0]["from"], "OFF");
    assert_eq!(results[0]["to"], "ON");
    assert_eq!(results[0]["outcome"], "applied");
    assert_eq!(results[1]["variable"], "long_query_time");
    assert_eq!(results[1]["from"], "10.000000");
    assert_eq!(results[1]["to"], "2.000");
    assert_eq!(results[1]["outcome"], "failed");
    assert!(
        results[1]["error"]
            .as_str()
            .unwrap()
            .contains("read only variable"),
        "{v}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("partial change: slow_query_log changed, long_query_time not"),
        "{stderr}"
    );
    assert_eq!(global(&s, "slow_query_log"), "1");
    assert_eq!(global(&s, "long_query_time"), "10.000000");

    s.sql("SET GLOBAL slow_query_log = OFF");
    let out = through_proxy("table");
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("Server: 127.0.0.1:{} (", proxy.port()))
            && text.contains(" as root@"),
        "the plan names the server and the account:\n{text}"
    );
    assert!(
        text.contains("Changed slow_query_log: OFF -> ON\n"),
        "{text}"
    );
    assert!(
        text.contains("FAILED long_query_time: still 10.000000 (2.000 was not applied: "),
        "{text}"
    );
    assert_eq!(global(&s, "slow_query_log"), "1");

    // Asking for what is already there: every variable `unchanged`, nothing sent, exit 0.
    let out = s
        .conncheck("root", "")
        .args(["set-slow-log", "on", "--yes", "--format", "json"])
        .output()
        .unwrap();
    let v = json_ok(&out);
    assert_eq!(v["results"][0]["outcome"], "unchanged", "{v}");
    assert_eq!(v["applied"].as_array().unwrap().len(), 0);
}

/// Issue 15: what a connection really costs. On a private MariaDB with 12 idle connections,
/// `diagnose` measures memory per connection from PROCESSLIST.MEMORY_USED (and the server's RSS,
/// the server being local) and relies on it: with 2 GiB of RAM the worst case of 200
/// connections (every per-connection buffer, ~19 MiB each) is far over RAM, the measured cost
/// is not. `set-max-connections 1000` shows both and says which one it relies on.
#[test]
fn measured_memory_per_connection_is_reported_beside_the_worst_case() {
    let s = Server::start(ServerOpts::default());
    s.create_user("app", "apppw", "USAGE");
    let idle = s.idle_connections("app", "apppw", 12);
    let out = s
        .conncheck("root", "")
        .args(["diagnose", "--sample", "0", "--server-memory", "2G"])
        .args(["--format", "json"])
        .output()
        .unwrap();
    let v = support::json(&out);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "memory-headroom")
        .unwrap_or_else(|| panic!("memory-headroom: {v}"));
    let evidence = |name: &str| -> String {
        f["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {f}"))["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(f["severity"], "info", "{f}");
    assert_eq!(evidence("relies on"), "measured");
    let measured = evidence("measured per connection");
    assert!(
        measured.ends_with("over 12 sessions (information_schema.PROCESSLIST.MEMORY_USED)"),
        "{measured}"
    );
    assert!(
        evidence("server RSS").ends_with("MiB"),
        "the local server's RSS"
    );
    assert!(!evidence("Memory_used").is_empty());

    let out = s
        .conncheck("root", "")
        .args([
            "set-max-connections",
            "1000",
            "--dry-run",
            "--server-memory",
            "2G",
        ])
        .args(["--format", "json"])
        .output()
        .unwrap();
    let v = json_ok(&out);
    let m = &v["plan"]["memory"];
    assert_eq!(m["relies_on"], "measured", "{m}");
    assert_eq!(m["added_connections"], 800);
    let p95 = m["measured"]["p95_per_connection_bytes"].as_u64().unwrap();
    let mean = m["measured"]["mean_per_connection_bytes"].as_u64().unwrap();
    let worst = m["worst_case_per_connection_bytes"].as_u64().unwrap();
    // An idle MariaDB session holds tens of KiB; the formula says ~19 MiB.
    assert!(mean > 1024 && p95 >= mean, "{m}");
    assert!(
        worst > 20 * p95,
        "measured {p95} against worst case {worst}"
    );
    assert_eq!(m["raise_cost_bytes"].as_u64().unwrap(), 800 * p95);
    assert_eq!(m["worst_case_raise_bytes"].as_u64().unwrap(), 800 * worst);
    assert!(m["server_rss_bytes"].as_u64().unwrap() > 10 << 20, "{m}");
    let notes: Vec<&str> = v["plan"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        notes.iter().any(|n| n.starts_with("Memory: Measured ≈ ")
            && n.contains("raising to 1000 costs ≈ ")
            && n.ends_with("Relies on the measured figure.")),
        "{notes:?}"
    );
    drop(idle);
}

/// Ctrl-C at "Apply this change? [y/N]": the cursor the prompt hid is shown again, the run says
/// nothing changed and exits 130 (128 + SIGINT, README "Exit codes"); nothing is changed.
#[test]
fn ctrl_c_at_the_prompt_gives_the_terminal_back_and_exits_130() {
    let s = Server::shared();
    let before = global(s, "max_connections");
    let mut p = pty(s, "root", "", &["set-max-connections", "321"]);
    at_prompt(&mut p, "Apply this change?");
    p.send_control('c').unwrap();
    p.exp_string(SHOW_CURSOR).unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(
        rest.contains("interrupted (SIGINT): nothing changed"),
        "{rest:?}"
    );
    assert!(!rest.contains("error:"), "{rest:?}");
    assert_eq!(ended(&p), Ok(130));
    assert_eq!(global(s, "max_connections"), before, "nothing changed");
}

/// MariaDB clamps `SET GLOBAL max_connections = 1` to 10 with warning 1292: the plan says so
/// before asking, and the result says "the server set 10, not 1" with the warning, in text and
/// JSON (`requested`, `warnings`); the change was not made as asked, so exit 3.
#[test]
fn a_value_the_server_clamps_is_told() {
    let s = Server::start(ServerOpts::default());
    let out = s
        .conncheck("root", "")
        .args(["set-max-connections", "1", "--yes"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    assert!(
        stdout.contains("MariaDB accepts max_connections from 10: the server will set 10, not 1"),
        "the plan warns: {stdout}"
    );
    assert!(
        stdout.contains("max_connections: 200 -> 10 (the server set 10, not 1: Warning 1292:"),
        "{stdout}"
    );
    assert!(
        stderr.contains("conncheck: error: max_connections: the server set 10, not 1"),
        "{stderr}"
    );
    assert_eq!(global(&s, "max_connections"), "10");
    // The JSON keeps what was asked and the server's warning beside what it set.
    s.sql("SET GLOBAL max_connections = 200");
    let out = s
        .conncheck("root", "")
        .args(["set-max-connections", "2", "--yes", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let v = support::json(&out);
    let r = &v["results"][0];
    assert_eq!(r["to"], "10");
    assert_eq!(r["requested"], "2");
    assert_eq!(r["outcome"], "applied");
    let w = r["warnings"][0].as_str().unwrap();
    assert!(
        w.starts_with("Warning 1292: Truncated incorrect max_connections value"),
        "{w}"
    );
    // In range: nothing to tell.
    let out = s
        .conncheck("root", "")
        .args(["set-max-connections", "150", "--yes", "--format", "json"])
        .output()
        .unwrap();
    let v = json_ok(&out);
    assert!(v["results"][0].get("requested").is_none(), "{v}");
    assert!(v["results"][0].get("warnings").is_none(), "{v}");
}
