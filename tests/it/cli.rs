//! The command line without a server: help, bad input, unreachable targets, timeouts. Every
//! user error gets one clear message and its documented exit code, never a panic.

use crate::support;

use predicates::prelude::*;
use support::{SilentListener, conncheck, unused_port};

#[test]
fn help_uses_long_flag_and_h_is_host() {
    conncheck()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("-h, --host"))
        .stdout(predicate::str::contains("kill-idle"));
    conncheck()
        .args(["kill-idle", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--match-user"));
}

#[test]
fn bad_arguments_exit_2_with_one_message() {
    for args in [
        vec!["status", "--bogus"],
        vec!["kill-idle", "--older-than", "-5s"],
        vec!["kill-idle", "--older-than", "soon"],
        vec!["kill-idle", "--older-than", "99999999999999999999s"],
        vec!["kill-idle"],
        vec!["diagnose", "--warning", "eighty"],
        vec!["status", "--ssl-mode", "SOMETIMES"],
        vec!["sessions", "--format", "xml"],
        vec!["--port", "70000", "status"],
        vec!["--port", "", "status"],
        vec!["set-max-connections", "0"],
        vec!["set-max-connections", "99999999999"],
        vec!["sessions", "--match-info", "("],
    ] {
        let out = conncheck().args(&args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(err.contains("error"), "{args:?}: {err}");
    }
}

#[test]
fn bad_url_is_a_usage_error_that_hides_the_password() {
    let out = conncheck()
        .args(["--url", "mysql://app:Sup3rSecret@db:notaport/x", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad URL"), "{err}");
    assert!(!err.contains("Sup3rSecret"), "{err}");
    let out = conncheck()
        .args(["--url", "postgres://x@y/z", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_reports_bad_flags_as_unknown() {
    conncheck().args(["check", "--bogus"]).assert().code(3);
    conncheck()
        .args([
            "--no-defaults",
            "-h",
            "127.0.0.1",
            "-P",
            &unused_port().to_string(),
            "check",
        ])
        .assert()
        .code(3);
}

#[test]
fn unreachable_port_and_missing_socket() {
    let port = unused_port().to_string();
    conncheck()
        .args(["--no-defaults", "-h", "127.0.0.1", "-P", &port, "status"])
        .assert()
        .code(14)
        .stderr(predicate::str::contains("connection refused"))
        .stderr(predicate::str::contains("hint:"));
    conncheck()
        .args(["--no-defaults", "-S", "/nonexistent/mysqld.sock", "status"])
        .assert()
        .code(14)
        .stderr(predicate::str::contains("no server socket"));
}

#[test]
fn unresolvable_host() {
    conncheck()
        .args([
            "--no-defaults",
            "-h",
            "no-such-host.invalid",
            "status",
            "--connect-timeout",
            "3s",
        ])
        .assert()
        .code(14)
        .stderr(predicate::str::contains("no-such-host.invalid"));
}

#[test]
fn a_server_that_never_greets_times_out_with_its_own_message() {
    let l = SilentListener::start();
    conncheck()
        .args([
            "--no-defaults",
            "-h",
            "127.0.0.1",
            "-P",
            &l.port.to_string(),
            "--connect-timeout",
            "1s",
            "status",
        ])
        .assert()
        .code(15)
        // The message names the timeout that fired: 1s, not the 10s default.
        .stderr(predicate::str::contains("sent no greeting within 1s"));
}

#[test]
fn bare_p_without_a_terminal_is_a_clear_error() {
    conncheck()
        .args([
            "--no-defaults",
            "-h",
            "127.0.0.1",
            "-P",
            "1",
            "-p",
            "status",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("needs a terminal"));
}

#[test]
fn password_on_the_command_line_warns_and_never_echoes() {
    let out = conncheck()
        .args([
            "--no-defaults",
            "-h",
            "127.0.0.1",
            "-P",
            &unused_port().to_string(),
            "-pHunter2secret",
            "status",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Using a password on the command line"),
        "{err}"
    );
    assert!(!err.contains("Hunter2secret"));
}

#[test]
fn diagnose_from_a_bad_snapshot_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("snap.json");
    std::fs::write(&f, "{\"not\": \"a snapshot\"}").unwrap();
    conncheck()
        .args(["diagnose", "--from", f.to_str().unwrap()])
        .assert()
        .code(10)
        .stderr(predicate::str::contains("is not a conncheck snapshot"));
    std::fs::write(&f, [0xff, 0xfe, 0x00]).unwrap();
    conncheck()
        .args(["diagnose", "--from", f.to_str().unwrap()])
        .assert()
        .code(10);
    conncheck()
        .args(["diagnose", "--from", "/nonexistent.json"])
        .assert()
        .code(10);
}

#[test]
fn completions_print_a_script() {
    conncheck()
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("_conncheck"));
}

#[test]
fn targets_file_problems() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("targets");
    std::fs::write(&f, "# nothing here\n\n").unwrap();
    conncheck()
        .args(["--targets", f.to_str().unwrap(), "status"])
        .assert()
        .code(2);
    conncheck()
        .args(["--targets", "/nonexistent", "status"])
        .assert()
        .code(2);
}
