//! `conncheck status` and connecting like the mysql client, against private MariaDB servers:
//! the numbers match what the test opened, one connection per run, option files, sockets, URLs,
//! and a full server (reserved slot, refusal before the greeting).

use crate::support;

use std::time::Duration;

use mysql::prelude::Queryable;
use predicates::prelude::*;
use support::findings::the;
use support::{Server, ServerOpts, json, json_ok};

#[test]
fn status_counts_what_the_test_opened() {
    let s = Server::start(ServerOpts::default());
    s.create_user("app", "apppw", "USAGE");
    let _idle = s.idle_connections("app", "apppw", 7);
    let _busy: Vec<_> = (0..2)
        .map(|_| s.background_query("app", "apppw", "SELECT SLEEP(60)"))
        .collect();
    s.wait_until("2 busy", Duration::from_secs(10), |c| {
        c.query_first::<u64, _>("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER='app' AND COMMAND='Query'")
            .unwrap()
            == Some(2)
    });
    let out = s
        .conncheck("root", "")
        .args(["status", "--format", "json"])
        .output()
        .unwrap();
    let v = json_ok(&out);
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["server"]["flavor"], "mariadb");
    assert!(v["server"]["version"].as_str().unwrap().contains("MariaDB"));
    assert_eq!(v["connections"]["max_connections"], 200);
    assert!(v["connections"]["threads_connected"].as_u64().unwrap() >= 10);
    assert!(v["connections"]["threads_running"].as_u64().unwrap() >= 3);
    assert!(v["connections"]["max_used_connections"].as_u64().unwrap() >= 10);
    let app = v["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["user"] == "app")
        .expect("app client");
    assert_eq!(app["total"], 9);
    assert_eq!(app["sleeping"], 7);
    assert_eq!(app["running"], 2);
    assert_eq!(app["host"], "localhost");

    let text = s.conncheck("root", "").arg("status").output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("of max_connections 200"), "{text}");
    assert!(text.contains("app@localhost"), "{text}");
}

#[test]
fn one_run_costs_exactly_one_connection() {
    let s = Server::start(ServerOpts::default());
    let mut root = s.root();
    let before: u64 = root.query_first("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='CONNECTIONS'").unwrap().unwrap();
    s.conncheck("root", "").arg("status").assert().success();
    s.conncheck("root", "")
        .args(["diagnose", "--sample", "0"])
        .assert()
        .success();
    let after: u64 = root.query_first("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='CONNECTIONS'").unwrap().unwrap();
    assert_eq!(
        after - before,
        2,
        "status and diagnose each open one connection"
    );
}

#[test]
fn wrong_password_is_access_denied() {
    let s = Server::shared();
    s.create_user("pwuser", "right", "USAGE");
    s.conncheck("pwuser", "wrong")
        .arg("status")
        .assert()
        .code(13)
        .stderr(predicate::str::contains("denied access"))
        .stderr(predicate::str::contains("right").not());
}

#[test]
fn socket_url_and_env_url() {
    let s = Server::shared();
    s.create_user("urluser", "p@ss/w:rd", "USAGE");
    support::conncheck()
        .args([
            "--no-defaults",
            "-S",
            s.socket().to_str().unwrap(),
            "-u",
            "root",
            "status",
            "--format",
            "json",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(s.socket().to_str().unwrap()));
    let url = s.url("urluser", "p@ss/w:rd");
    let out = support::conncheck()
        .args(["--no-defaults", "--url", &url, "status", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        json(&out)["account"]["user"]
            .as_str()
            .unwrap()
            .starts_with("urluser@")
    );
    support::conncheck()
        .args(["--no-defaults", "status"])
        .env("CONNCHECK_URL", &url)
        .assert()
        .success();
    // Flags win over the URL.
    support::conncheck()
        .args([
            "--no-defaults",
            "--url",
            &url,
            "-P",
            &support::unused_port().to_string(),
            "status",
        ])
        .assert()
        .code(14);
}

#[test]
fn option_files_with_includes_and_precedence() {
    let s = Server::shared();
    s.create_user("cnfuser", "cnfpw", "USAGE");
    let dir = tempfile::tempdir().unwrap();
    let inc = dir.path().join("inc.cnf");
    std::fs::write(&inc, "[client]\npassword = \"cnfpw\"\n").unwrap();
    let main = dir.path().join("my.cnf");
    std::fs::write(
        &main,
        format!(
            "# test file\n[client]\nhost = 127.0.0.1\nport = {}\nloose-user = nobody\n[conncheck]\nuser=cnfuser\n[mysqld]\nport = 1\n!include {}\n",
            s.port(),
            inc.display()
        ),
    )
    .unwrap();
    let out = support::conncheck()
        .args([
            "--defaults-file",
            main.to_str().unwrap(),
            "status",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        json(&out)["account"]["user"]
            .as_str()
            .unwrap()
            .starts_with("cnfuser@")
    );
    // The command line wins over the file.
    support::conncheck()
        .args([
            "--defaults-file",
            main.to_str().unwrap(),
            "-u",
            "root",
            "-pwrongpw",
            "status",
        ])
        .assert()
        .code(13);
    // ~/.my.cnf is read by default and names file and line when malformed.
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".my.cnf"),
        "[client]\nuser = root\n[broken\n",
    )
    .unwrap();
    support::conncheck()
        .env("HOME", home.path())
        .args(["-h", "127.0.0.1", "-P", &s.port().to_string(), "status"])
        .assert()
        .code(10)
        .stderr(predicate::str::contains(".my.cnf:3"));
}

#[test]
fn without_process_privilege_the_report_says_so() {
    let s = Server::shared();
    s.create_user("noproc", "np", "USAGE");
    let out = s
        .conncheck("noproc", "np")
        .args(["status", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(json(&out)["account"]["sees_all_sessions"], false);
    s.conncheck("noproc", "np")
        .arg("status")
        .assert()
        .success()
        .stdout(predicate::str::contains("lacks the PROCESS privilege"));
}

#[test]
fn a_full_server_refuses_ordinary_accounts_and_admits_admins_through_the_reserved_slot() {
    let s = Server::start(ServerOpts {
        max_connections: 10,
        ..ServerOpts::default()
    });
    s.create_user("app", "apppw", "USAGE");
    s.create_user("ops", "opspw", "PROCESS, CONNECTION ADMIN");
    let _filled = s.idle_connections("app", "apppw", 10);

    s.conncheck("app", "apppw")
        .arg("status")
        .assert()
        .code(11)
        .stderr(predicate::str::contains("is full"))
        .stderr(predicate::str::contains("CONNECTION_ADMIN"));

    let out = s
        .conncheck("ops", "opspw")
        .args(["status", "--format", "json"])
        .output()
        .unwrap();
    let v = json_ok(&out);
    assert_eq!(v["account"]["route"], "reserved-slot");
    assert_eq!(v["connections"]["threads_connected"], 11);
    assert_eq!(v["connections"]["max_connections"], 10);

    let out = s
        .conncheck("ops", "opspw")
        .args(["diagnose", "--sample", "0", "--format", "json"])
        .output()
        .unwrap();
    let v = json(&out);
    // Full: server-full is critical; the pool that holds the ten slots comes first (the most
    // connections explained) and is the verdict's cause.
    let full = the(&v, "server-full");
    assert_eq!(full["severity"], "critical");
    assert_eq!(v["findings"][0]["id"], "pool-oversized");
    assert_eq!(v["verdict"]["cause"], "pool-oversized");

    // With the reserved slot taken too, the refusal comes before the greeting.
    // The previous run's connection may still be closing on a loaded machine: retry briefly.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let _admin = loop {
        match s.connect("ops", "opspw") {
            Ok(c) => break c,
            Err(e) if std::time::Instant::now() > deadline => panic!("reserved slot: {e}"),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    };
    s.conncheck("ops", "opspw")
        .arg("status")
        .assert()
        .code(11)
        .stderr(predicate::str::contains("before the greeting"));
    // diagnose still reports, and exits 0 (or 1 with --fail-on).
    let out = s
        .conncheck("ops", "opspw")
        .args(["diagnose", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["findings"][0]["id"], "server-full");
    assert!(v["server"].is_null());
    s.conncheck("ops", "opspw")
        .args(["diagnose", "--fail-on", "critical"])
        .assert()
        .code(1);
}

/// Issue 11: status shows connection, abort and refusal rates measured over its sample while a
/// client connects in a loop, and averages since startup with `--sample 0`.
#[test]
fn status_shows_rates_over_its_sample() {
    let s = Server::start(ServerOpts::default());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = {
        let (stop, url) = (stop.clone(), s.url("root", ""));
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                drop(mysql::Conn::new(mysql::Opts::from_url(&url).unwrap()).unwrap());
            }
        })
    };
    let out = s
        .conncheck("root", "")
        .args(["status", "--sample", "1s", "--format", "json"])
        .output()
        .unwrap();
    let human = s
        .conncheck("root", "")
        .args(["status", "--sample", "500ms"])
        .output()
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    churn.join().unwrap();
    let v = json_ok(&out);
    let r = &v["rates"];
    assert_eq!(r["since_startup"], false, "{r}");
    assert!(r["sample_s"].as_f64().unwrap() >= 1.0, "{r}");
    assert!(r["connections_per_s"].as_f64().unwrap() >= 1.0, "{r}");
    for field in [
        "aborted_clients_per_s",
        "aborted_connects_per_s",
        "refused_per_s",
    ] {
        assert!(r[field].as_f64().is_some(), "{field}: {r}");
    }
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("connections/s"), "{text}");
    assert!(text.contains("aborted clients/s"), "{text}");
    assert!(text.contains("(over 0.5s)"), "{text}");

    let once = s
        .conncheck("root", "")
        .args(["status", "--sample", "0"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&once.stdout);
    assert!(text.contains("(averages since startup)"), "{text}");
}
