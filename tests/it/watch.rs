//! `conncheck watch` without a terminal: one log line per sample, `--count`, and a lost
//! connection that is shown and reconnected instead of ending the run.

use crate::support;

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use regex::Regex;
use support::Server;

const LINE: &str = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ connected=\d+/\d+ \(\d+%\) running=\d+ conn/s=\d+\.\d aborted/s=\d+\.\d refused/s=\d+\.\d sleeping=\d+ oldest_idle=\d+s longest_query=\d+s cause=(-|[a-z-]+) full_in=(-|\d+s)$";

#[test]
fn one_line_per_sample_and_count() {
    let s = Server::shared();
    s.create_user("watched", "w", "USAGE");
    let _idle = s.idle_connections("watched", "w", 3);
    let start = Instant::now();
    let out = s
        .conncheck("root", "")
        .args(["watch", "--count", "2", "--interval", "200ms"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(start.elapsed() >= Duration::from_millis(400));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let re = Regex::new(LINE).unwrap();
    for l in &lines {
        assert!(re.is_match(l), "{l}");
        assert!(!l.contains('\x1b'), "no escape codes without a terminal");
    }
    assert!(lines[0].contains("/200 ("), "{}", lines[0]);
    let sleeping: u64 = Regex::new(r"sleeping=(\d+)")
        .unwrap()
        .captures(lines[1])
        .unwrap()[1]
        .parse()
        .unwrap();
    assert!(sleeping >= 3, "{}", lines[1]);
}

#[test]
fn bad_arguments_are_usage_errors() {
    support::conncheck()
        .args(["watch", "--interval", "0s"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "'0s' is too short: samples must be at least 100ms apart",
        ));
    support::conncheck()
        .args(["watch", "--count", "many"])
        .assert()
        .code(2);
}

#[test]
fn a_lost_connection_is_shown_and_reconnected() {
    let s = Server::start(support::ServerOpts::default());
    s.create_user("watcher", "wpw", "PROCESS");
    let mut child = s
        .process("watcher", "wpw")
        .args(["watch", "--count", "6", "--interval", "300ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ids = || s.ids_of("watcher");
    s.wait_until("watch is connected", Duration::from_secs(10), |_| {
        !ids().is_empty()
    });
    std::thread::sleep(Duration::from_millis(500));
    let first = ids();
    for id in &first {
        s.root().query_drop(format!("KILL {id}")).unwrap();
    }
    s.wait_until("watch reconnected", Duration::from_secs(10), |_| {
        ids().iter().any(|id| !first.contains(id))
    });
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let status = child.wait().unwrap();
    let mut text = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{text}");
    assert!(text.contains("connection lost:"), "{text}");
    assert!(text.contains("reconnecting in 1s"), "{text}");
    assert!(
        text.contains(&format!("reconnected to 127.0.0.1:{}", s.port())),
        "{text}"
    );
    let re = Regex::new(LINE).unwrap();
    let samples = text.lines().filter(|l| re.is_match(l)).count();
    assert!(samples >= 3, "samples before and after: {text}");
}

#[test]
fn the_terminal_screen_redraws_and_quits_on_q() {
    let s = Server::shared();
    let mut cmd = s.process("root", "");
    cmd.args(["watch", "--interval", "200ms"]);
    let mut p = rexpect::session::spawn_command(cmd, Some(30_000)).unwrap();
    // The alternate screen, the cursor hidden, then home + clear for each frame.
    p.exp_string("\x1b[?1049h").unwrap();
    p.exp_string("\x1b[?25l").unwrap();
    p.exp_string("\x1b[1;1H\x1b[2J").unwrap();
    p.exp_string("q to quit").unwrap();
    p.exp_string("of max_connections 200").unwrap();
    // The second frame has rates (they need two readings) and the sparkline.
    p.exp_string("Rates").unwrap();
    p.exp_string("History").unwrap();
    p.send("q").unwrap();
    p.flush().unwrap();
    // The cursor shown again and the alternate screen left.
    p.exp_string("\x1b[?25h\x1b[?1049l").unwrap();
    p.exp_eof().unwrap();
    match p.process().wait().unwrap() {
        rexpect::process::WaitStatus::Exited(_, code) => assert_eq!(code, 0),
        other => panic!("watch did not exit on q: {other:?}"),
    }
}

/// SIGTERM and SIGHUP (a closed terminal, `timeout`, a service manager) give the terminal back
/// too: the cursor shown, the alternate screen left, raw mode off; the exit code is 128 + the
/// signal.
#[test]
fn a_signal_restores_the_terminal() {
    let s = Server::shared();
    for (sig, name) in [
        (rexpect::process::Signal::SIGTERM, 15),
        (rexpect::process::Signal::SIGHUP, 1),
    ] {
        let mut cmd = s.process("root", "");
        cmd.args(["watch", "--interval", "200ms"]);
        let mut p = rexpect::session::spawn_command(cmd, Some(30_000)).unwrap();
        p.exp_string("q to quit").unwrap();
        p.process_mut().signal(sig).unwrap();
        p.exp_string("\x1b[?25h\x1b[?1049l").unwrap();
        match p.process().wait().unwrap() {
            rexpect::process::WaitStatus::Exited(_, code) => assert_eq!(code, 128 + name),
            other => panic!("watch did not exit after {sig:?}: {other:?}"),
        }
    }
}
