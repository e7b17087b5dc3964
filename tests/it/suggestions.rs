//! Every `conncheck …` command that conncheck suggests reaches the server of the run that printed
//! it, as the same account, and never holds a password.
//!
//! A private MariaDB gets idle sessions, an idle transaction and a long query (so diagnose
//! suggests kill-idle, kill-long, set-timeouts, sessions …). diagnose runs with non-default
//! connection options (the server's own socket or port, a user from a defaults file, a password
//! on the command line) and from a saved snapshot; every suggested command, in the JSON and in
//! the human report, is split by a real shell, parsed with conncheck's own CLI definition and
//! resolved like conncheck resolves it: the target and the user must be the run's. One suggested
//! kill command is run as printed (`--dry-run`) and must plan the idle sessions of this server.

use crate::support;

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use conncheck::testing::connect::{Env, Resolver, Transport};
use serde_json::Value;
use support::{Server, ServerOpts, json};

const OPS_PW: &str = "ops-Pw-71x";
const APP_PW: &str = "app-Pw-93q";

/// The environment conncheck's resolver sees in the tests: only a HOME with no option files.
struct TestEnv(HashMap<String, String>);

impl Env for TestEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

/// Split a suggested command line as `sh` does (a quoting mistake shows up here, and the comment
/// after `#` goes away), then parse it with the real CLI and resolve its connection options.
fn resolve(line: &str, home: &Path) -> (Transport, String, Vec<String>) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("printf '%s\\0' {line}"))
        .env_clear()
        .output()
        .unwrap();
    assert!(out.status.success(), "sh cannot split: {line}");
    let words: Vec<String> = out
        .stdout
        .split(|b| *b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8(w.to_vec()).unwrap())
        .collect();
    assert_eq!(words[0], "conncheck", "{line}");
    let cli = conncheck::testing::cli::parse(words.iter().map(OsString::from).collect())
        .unwrap_or_else(|e| panic!("suggested command does not parse: {line}\n{e}"));
    let env = TestEnv(HashMap::from([(
        "HOME".to_string(),
        home.display().to_string(),
    )]));
    let opts = Resolver::new(&cli.conn, &env, None)
        .unwrap_or_else(|e| panic!("{line}: {}", e.message))
        .resolve(cli.conn.url.first().map(String::as_str), &env)
        .unwrap_or_else(|e| panic!("{line}: {}", e.message));
    (opts.transport, opts.user, words)
}

/// Every command in a diagnose JSON report: the `text` of command actions and every
/// `` `conncheck …` `` quoted in other actions. Each command action's `argv` must be its text.
fn json_commands(report: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    for f in report["findings"].as_array().unwrap() {
        for a in f["actions"].as_array().unwrap() {
            let text = a["text"].as_str().unwrap();
            if a["kind"] == "command" {
                let argv: Vec<&str> = a["argv"]
                    .as_array()
                    .unwrap_or_else(|| panic!("no argv in {a}"))
                    .iter()
                    .map(|w| w.as_str().unwrap())
                    .collect();
                assert_eq!(argv[0], "conncheck");
                assert!(text.starts_with("conncheck "), "{text}");
                lines.push(text.to_string());
                // The argv is the same command, word for word.
                let (_, _, words) = resolve(text, Path::new("/nonexistent"));
                assert_eq!(words, argv, "{text}");
            } else {
                lines.extend(quoted_commands(text));
            }
        }
    }
    lines
}

/// `` `conncheck …` `` in prose.
fn quoted_commands(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|c| c.starts_with("conncheck "))
        .map(str::to_string)
        .collect()
}

/// The `$ conncheck …` lines of a human report.
fn human_commands(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("$ "))
        .map(str::to_string)
        .collect();
    // Advice lines quote commands in backticks.
    lines.extend(text.lines().flat_map(quoted_commands));
    lines
}

/// Every command must resolve to `want` as `user`; a placeholder account (`-u <admin>`) is
/// the only other user allowed. Returns how many were checked.
fn assert_all_reach(lines: &[String], want: &Transport, user: &str, home: &Path) -> usize {
    for line in lines {
        for secret in [OPS_PW, APP_PW] {
            assert!(!line.contains(secret), "password in {line}");
        }
        if line.contains("<admin>") {
            continue;
        }
        let (transport, u, _) = resolve(line, home);
        assert_eq!(&transport, want, "{line}");
        assert_eq!(u, user, "{line}");
    }
    lines.len()
}

/// A server with 3 idle sessions of `app`, one idle transaction of `app` and one long query.
struct Incident {
    server: Server,
    _idle: Vec<mysql::Conn>,
    _trx: mysql::Conn,
    _long: support::BackgroundQuery,
    idle_ids: Vec<u64>,
}

fn incident() -> Incident {
    use mysql::prelude::Queryable;
    let server = Server::start(ServerOpts::default());
    server.create_user("ops", OPS_PW, "ALL PRIVILEGES");
    server.create_user("app", APP_PW, "PROCESS");
    let idle = server.idle_connections("app", APP_PW, 3);
    let idle_ids: Vec<u64> = idle.iter().map(support::conn_id).collect();
    server.sql("CREATE TABLE app_db.t (id INT PRIMARY KEY, v INT)");
    server.sql("INSERT INTO app_db.t VALUES (1, 0)");
    let mut trx = server.connect("app", APP_PW).unwrap();
    trx.query_drop("BEGIN").unwrap();
    trx.query_drop("UPDATE app_db.t SET v = v + 1 WHERE id = 1")
        .unwrap();
    let long = server.background_query("app", APP_PW, "SELECT SLEEP(120)");
    // Old enough for every threshold below (1s), by the server's clock.
    server.wait_aged_ids(&idle_ids, "Sleep", 2000);
    server.wait_aged_ids(&[long.id], "Query", 2000);
    server.wait_trx_aged(support::conn_id(&trx), 2);
    Incident {
        server,
        _idle: idle,
        _trx: trx,
        _long: long,
        idle_ids,
    }
}

const THRESHOLDS: [&str; 6] = [
    "--idle-threshold",
    "1s",
    "--long-query-threshold",
    "1s",
    "--trx-threshold",
    "1s",
];

/// A defaults file with the user and password of `ops` and the server's socket, 0600.
fn defaults_file(dir: &Path, server: &Server) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let f = dir.join("ops.cnf");
    std::fs::write(
        &f,
        format!(
            "[client]\nuser=ops\npassword={OPS_PW}\nsocket={}\n",
            server.socket().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
    f
}

fn no_secret(out: &std::process::Output) {
    for stream in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(stream);
        for secret in [OPS_PW, APP_PW] {
            assert!(!text.contains(secret), "password in output:\n{text}");
        }
    }
}

#[test]
fn suggestions_reach_the_socket_and_user_of_a_defaults_file_and_one_runs_as_printed() {
    let inc = incident();
    let dir = tempfile::tempdir().unwrap();
    let cnf = defaults_file(dir.path(), &inc.server);
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let want = Transport::Socket(inc.server.socket().to_path_buf());
    let run = |format: &str| {
        // Wide, so that no suggested command is wrapped (each must be pasted as one line).
        let out = support::conncheck()
            .env("COLUMNS", "1000")
            .env("HOME", &home)
            .arg(format!("--defaults-file={}", cnf.display()))
            .args(["diagnose", "--format", format])
            .args(THRESHOLDS)
            .output()
            .unwrap();
        no_secret(&out);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };

    let report = json(&run("json"));
    let lines = json_commands(&report);
    for id in [
        "idle-connections",
        "idle-transactions",
        "long-running-queries",
    ] {
        assert!(
            report["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["id"] == id),
            "no {id} in {report}"
        );
    }
    assert!(
        assert_all_reach(&lines, &want, "ops", &home) >= 4,
        "{lines:?}"
    );

    let human = String::from_utf8(run("table").stdout).unwrap();
    let lines = human_commands(&human);
    assert!(
        assert_all_reach(&lines, &want, "ops", &home) >= 4,
        "{human}"
    );

    // The kill-idle plan suggested for the idle sessions, run as printed (it is a --dry-run).
    let kill = lines
        .iter()
        .find(|l| l.contains(" kill-idle --older-than 1s --dry-run"))
        .unwrap_or_else(|| panic!("no kill-idle suggestion in\n{human}"));
    let out = Command::new("sh")
        .arg("-c")
        .arg(kill.replacen("conncheck", env!("CARGO_BIN_EXE_conncheck"), 1))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "200")
        .output()
        .unwrap();
    no_secret(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{kill}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("Nothing to kill"), "{kill}:\n{text}");
    for id in &inc.idle_ids {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().any(|w| w == id.to_string())),
            "session {id} not in the plan of {kill}:\n{text}"
        );
    }
}

#[test]
fn suggestions_keep_a_tcp_port_and_ask_for_a_command_line_password_without_showing_it() {
    let inc = incident();
    let home = tempfile::tempdir().unwrap();
    let out = support::conncheck()
        .env("HOME", home.path())
        .args(["--no-defaults", "-h", "127.0.0.1", "-P"])
        .arg(inc.server.port().to_string())
        .args(["-u", "ops", &format!("-p{OPS_PW}")])
        .args(["diagnose", "--format", "json"])
        .args(THRESHOLDS)
        .output()
        .unwrap();
    no_secret(&out);
    let report = json(&out);
    let want = Transport::Tcp {
        host: "127.0.0.1".into(),
        port: inc.server.port(),
    };
    let lines = json_commands(&report);
    assert!(
        assert_all_reach(&lines, &want, "ops", home.path()) >= 4,
        "{lines:?}"
    );
    for line in &lines {
        let (_, _, words) = resolve(line, home.path());
        // Asked for again (bare -p), never given; the option files stay off.
        assert!(words.iter().any(|w| w == "-p"), "{line}");
        assert!(words.iter().any(|w| w == "--no-defaults"), "{line}");
    }
}

#[test]
fn suggestions_from_a_saved_snapshot_reach_the_recorded_target_and_user() {
    let inc = incident();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snap.json");
    let out = inc
        .server
        .conncheck("ops", OPS_PW)
        .args(["snapshot", "-o"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snap: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(snap["access"]["login_user"], "ops", "{}", snap["access"]);

    // Judged later, elsewhere: no connection options given at all.
    let out = support::conncheck()
        .args(["diagnose", "--format", "json", "--from"])
        .arg(&file)
        .args(THRESHOLDS)
        .output()
        .unwrap();
    no_secret(&out);
    let report = json(&out);
    let want = Transport::Tcp {
        host: "127.0.0.1".into(),
        port: inc.server.port(),
    };
    let lines = json_commands(&report);
    assert!(
        assert_all_reach(&lines, &want, "ops", dir.path()) >= 4,
        "{lines:?}"
    );
}

#[test]
fn a_command_in_a_settings_note_reaches_the_same_server() {
    let server = Server::start(ServerOpts::default());
    server.create_user("ops", OPS_PW, "ALL PRIVILEGES");
    let dir = tempfile::tempdir().unwrap();
    let cnf = defaults_file(dir.path(), &server);
    let out = support::conncheck()
        .env("COLUMNS", "1000")
        .env("HOME", dir.path())
        .arg(format!("--defaults-file={}", cnf.display()))
        .args([
            "--connect-timeout",
            "7s",
            "set-max-connections",
            "300",
            "--dry-run",
        ])
        .output()
        .unwrap();
    no_secret(&out);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines = human_commands(&text);
    let want = Transport::Socket(server.socket().to_path_buf());
    assert_eq!(
        assert_all_reach(&lines, &want, "ops", dir.path()),
        1,
        "{text}"
    );
    // A non-default timeout goes along (a slow server stays slow).
    assert!(lines[0].contains(" --connect-timeout 7s "), "{}", lines[0]);
}

mod quoting {
    use conncheck::testing::connect::replay::{Replay, quote, split};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever a server sends as a user or host name, the shell reads back exactly that word
        /// from a suggested command, and runs nothing else.
        #[test]
        fn a_quoted_word_is_one_word_for_sh(word in "\\PC{0,12}|[ '\"`$;&|<>#*?~!(){}\\\\\n\t]{1,8}") {
            prop_assume!(!word.contains('\0'));
            let own = vec!["sessions".to_string(), "--match-user".to_string(), word.clone()];
            let line = Replay::none().command_line(&own, Some("note; $(touch /tmp/x)"));
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf '%s\\0' {line}"))
                .env_clear()
                .output()
                .unwrap();
            let words: Vec<String> = out.stdout.split(|b| *b == 0).map(|w| String::from_utf8_lossy(w).into_owned()).collect();
            prop_assert_eq!(&words[..4], &["conncheck".to_string(), own[0].clone(), own[1].clone(), word.clone()][..], "{}", line);
            // Our own reader agrees with sh.
            let (mine, note) = split(&line);
            prop_assert_eq!(&mine[1..], &own[..]);
            prop_assert_eq!(note.as_deref(), Some("note; $(touch /tmp/x)"));
            prop_assert_eq!(split(&quote(&word)).0, vec![word.clone()]);
        }
    }
}

#[test]
fn with_several_targets_each_report_suggests_its_own_server() {
    let inc = incident();
    let home = tempfile::tempdir().unwrap();
    let tcp = format!("mysql://ops:{OPS_PW}@127.0.0.1:{}/", inc.server.port());
    let socket = format!(
        "mysql://ops@localhost/?socket={}",
        inc.server.socket().display()
    );
    let out = support::conncheck()
        .env("HOME", home.path())
        // The socket URL has no password: it comes from the environment, found again when pasted.
        .env("MYSQL_PWD", OPS_PW)
        .args(["--url", &tcp, "--url", &socket])
        .args(["diagnose", "--format", "json"])
        .args(THRESHOLDS)
        .output()
        .unwrap();
    no_secret(&out);
    let v = json(&out);
    let reports = v.as_array().unwrap_or_else(|| panic!("not an array: {v}"));
    assert_eq!(reports.len(), 2, "{v}");
    let want = [
        Transport::Tcp {
            host: "127.0.0.1".into(),
            port: inc.server.port(),
        },
        Transport::Socket(inc.server.socket().to_path_buf()),
    ];
    for (report, (want, asks)) in reports.iter().zip(want.iter().zip([true, false])) {
        let report = report.get("report").unwrap_or(report);
        let lines = json_commands(report);
        assert!(
            assert_all_reach(&lines, want, "ops", home.path()) >= 4,
            "{lines:?}"
        );
        for line in &lines {
            let (_, _, words) = resolve(line, home.path());
            assert_eq!(words.iter().any(|w| w == "-p"), asks, "{line}");
        }
    }
}
