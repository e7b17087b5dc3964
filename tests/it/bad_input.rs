//! Garbage for every flag of every subcommand, found by walking the clap definition itself (so a
//! new flag is covered the day it is added): negative and overflowing numbers and durations,
//! unknown enum values, empty strings, non-UTF-8 bytes. The answer is always one clear `error`
//! message and the documented exit code (2, or 3 UNKNOWN for `check`), never a panic or a
//! backtrace. Flags that take free text (names, paths, URLs, regexes) may accept it; then the run
//! must still end cleanly (nothing listens on the port we point at). Also: option files that are
//! not UTF-8 or not valid, and values that parse but make no sense.

use crate::support;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;
use std::process::Output;

use clap::CommandFactory;
use conncheck::testing::cli::Cli;
use support::{conncheck, unused_port};

/// Arguments that take free text: any UTF-8 value parses; what it means is checked later (a file
/// that cannot be read, a host that does not answer, a regex that does not compile, ...).
const FREE_TEXT: &[&str] = &[
    "host",
    // Any option group name (a missing group reads nothing, as in mysql).
    "login_path",
    "user",
    "password",
    "socket",
    "database",
    "url",
    "targets",
    "defaults_file",
    "defaults_extra_file",
    "ssl_ca",
    "ssl_cert",
    "ssl_key",
    "server_public_key_path",
    "match_user",
    "match_host",
    "match_db",
    "match_command",
    "match_state",
    "match_info",
    "exclude_user",
    "log",
    "output",
    "from",
    "dir",
];

/// Values no validated flag may accept.
fn garbage() -> Vec<OsString> {
    let mut v: Vec<OsString> = [
        "",
        " ",
        "-1",
        "-5s",
        "nope",
        "99999999999999999999999999",
        "18446744073709551616",
        "NaN",
        "1e309",
        "%",
        "0x10",
        "é",
        "5 parsecs",
        "(",
        "[z-a]",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    v.push(OsString::from_vec(vec![b'5', 0xff, 0xfe, b's']));
    v
}

/// A command line that parses, for each subcommand: its required arguments.
fn base(sub: &str, dir: &Path) -> Vec<OsString> {
    let v: Vec<String> = match sub {
        "kill-idle" => vec!["--older-than".into(), "1h".into()],
        "kill-long" => vec!["--longer-than".into(), "1h".into()],
        "set-timeouts" => vec!["--wait-timeout".into(), "1h".into()],
        "set-max-connections" => vec!["500".into()],
        "set-slow-log" => vec!["on".into()],
        "watch" => vec!["--count".into(), "1".into()],
        "record" => vec![
            "--dir".into(),
            dir.join("rec").display().to_string(),
            "--for".into(),
            "1s".into(),
        ],
        "completions" => vec!["bash".into()],
        "man" => vec![dir.join("man").display().to_string()],
        _ => vec![],
    };
    v.into_iter().map(OsString::from).collect()
}

/// Connection flags that make any run end fast: nothing listens on the port.
fn prefix(port: &str) -> Vec<OsString> {
    [
        "--no-defaults",
        "-h",
        "127.0.0.1",
        "-P",
        port,
        "--connect-timeout",
        "1s",
    ]
    .iter()
    .map(OsString::from)
    .collect()
}

struct Case {
    what: String,
    args: Vec<OsString>,
    free_text: bool,
    is_check: bool,
    is_man: bool,
}

fn run(case: &Case, cwd: &Path) -> Output {
    conncheck()
        .current_dir(cwd)
        .args(&case.args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap()
}

fn check_output(case: &Case, out: &Output) -> Result<(), String> {
    let err = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code();
    let fail = |why: &str| Err(format!("{}: {why}: exit {code:?}\n{err}", case.what));
    if err.contains("panicked") || err.contains("backtrace") || err.contains("RUST_BACKTRACE") {
        return fail("panic");
    }
    let usage = if case.is_check { 3 } else { 2 };
    let ok_codes: &[i32] = if case.is_check {
        &[3]
    } else if case.free_text {
        // Usage, other (unreadable file), access denied, unreachable, timeout, TLS (an
        // unreadable --ssl-ca/--ssl-cert/--ssl-key); man writes pages.
        if case.is_man {
            &[0, 2, 10]
        } else {
            &[2, 10, 13, 14, 15, 16]
        }
    } else {
        &[usage]
    };
    match code {
        Some(c) if ok_codes.contains(&c) => {}
        _ => return fail(&format!("expected one of {ok_codes:?}")),
    }
    if code != Some(0) {
        let errors = err
            .lines()
            .filter(|l| l.starts_with("error:") || l.starts_with("conncheck: error:"))
            .count();
        if errors != 1 {
            return fail("expected exactly one error line");
        }
    }
    Ok(())
}

fn cases(dir: &Path) -> Vec<Case> {
    let port = unused_port().to_string();
    let cli = Cli::command();
    let mut out = Vec::new();
    let mut add = |sub: &str, arg: &clap::Arg, base_args: Vec<OsString>| {
        let id = arg.get_id().as_str().to_string();
        let free_text = FREE_TEXT.contains(&id.as_str());
        for value in garbage() {
            let mut args = prefix(&port);
            let mut rest = base_args.clone();
            match arg.get_long() {
                Some(long) => {
                    let mut flag = OsString::from(format!("--{long}="));
                    flag.push(&value);
                    rest.push(flag);
                }
                // A positional: the garbage replaces the valid value.
                None => rest = vec![value.clone()],
            }
            if sub.is_empty() {
                // A global (connection) flag: before the subcommand, as users write it.
                args.extend(rest.iter().skip(base_args.len()).cloned());
                args.push("status".into());
            } else {
                args.push(sub.into());
                args.extend(rest);
            }
            out.push(Case {
                what: format!(
                    "{} --{id}={value:?}",
                    if sub.is_empty() { "<global>" } else { sub }
                ),
                args,
                free_text,
                is_check: sub == "check",
                is_man: sub == "man",
            });
        }
    };
    let takes_value = |a: &clap::Arg| a.get_action().takes_values();
    for arg in cli.get_arguments().filter(|a| takes_value(a)) {
        add("", arg, vec![]);
    }
    for sub in cli.get_subcommands() {
        let name = sub.get_name();
        for arg in sub.get_arguments().filter(|a| takes_value(a)) {
            add(name, arg, base(name, dir));
        }
    }
    out
}

#[test]
fn every_flag_given_garbage_gets_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let all = cases(dir.path());
    assert!(all.len() > 500, "only {} cases", all.len());
    // Every subcommand and the global flags are covered.
    for sub in [
        "<global>",
        "status",
        "kill-idle",
        "set-max-connections",
        "check",
        "watch",
    ] {
        assert!(all.iter().any(|c| c.what.starts_with(sub)), "{sub}");
    }
    let failures: Vec<String> = std::thread::scope(|scope| {
        let chunks: Vec<&[Case]> = all.chunks(all.len().div_ceil(4)).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let cwd = dir.path();
                scope.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|c| check_output(c, &run(c, cwd)).err())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n---\n")
    );
}

/// Values that parse as their type but make no sense; each is a usage error, not a hang or a
/// busy loop.
#[test]
fn values_of_the_right_type_that_make_no_sense() {
    let port = unused_port().to_string();
    for args in [
        // A zero socket timeout means "wait forever" to the OS.
        vec!["--connect-timeout", "0s", "status"],
        vec!["--query-timeout", "0", "status"],
        vec!["--query-timeout", "1ns", "status"],
        // Rounds of kills with no pause would hammer the server for the whole --for.
        vec![
            "kill-idle",
            "--older-than",
            "1h",
            "--repeat",
            "0s",
            "--for",
            "1m",
        ],
        vec!["watch", "--interval", "0s"],
        vec!["watch", "--window", "0"],
        vec!["--jobs", "0", "status"],
        vec!["--jobs", "257", "status"],
        vec!["set-max-connections", "0"],
        vec!["set-max-connections", "100001"],
        vec!["diagnose", "--warning", "1001%"],
        vec!["diagnose", "--warning", "inf%"],
        vec!["diagnose", "--server-memory", "16384P"],
        vec!["diagnose", "--server-memory", "17179869184G"],
        vec!["kill-idle", "--older-than", "11y"],
        // Selects by open transaction and excludes every open transaction: nothing, ever.
        vec![
            "kill-idle",
            "--older-than",
            "0s",
            "--trx-older-than",
            "1m",
            "--with-open-trx",
            "skip",
        ],
    ] {
        let out = conncheck()
            .args(["--no-defaults", "-h", "127.0.0.1", "-P", &port])
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        let errors = err
            .lines()
            .filter(|l| l.starts_with("error:") || l.starts_with("conncheck: error:"))
            .count();
        assert_eq!(errors, 1, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn option_file_that_is_not_utf8_is_read_lossily_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("my.cnf");
    let mut bytes = b"[client]\nuser=app\xff\xfe\nhost=127.0.0.1\nport=".to_vec();
    bytes.extend(unused_port().to_string().as_bytes());
    bytes.extend(b"\n# caf\xe9\n");
    std::fs::write(&f, bytes).unwrap();
    let out = conncheck()
        .args(["--defaults-file", f.to_str().unwrap(), "status"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // The file was used (host and port from it: nothing listens there) ...
    assert_eq!(out.status.code(), Some(14), "{err}");
    // ... and the user was told about the bytes.
    assert!(err.contains("is not valid UTF-8"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn option_file_syntax_errors_name_the_line_and_exit_10() {
    let dir = tempfile::tempdir().unwrap();
    for (text, line) in [
        ("user=app\n", 1),
        ("[client]\nuser=\"unterminated\n", 2),
        ("[client\n", 1),
        ("[client]\n!bogus x\n", 2),
        ("[client]\npassword Zq9Secret\n", 2),
        ("[client]\nport=99999\n", 2),
    ] {
        let f = dir.path().join("bad.cnf");
        std::fs::write(&f, text).unwrap();
        let out = conncheck()
            .args(["--defaults-file", f.to_str().unwrap(), "status"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code();
        // A bad port value is a usage error; everything else is the file's own error.
        assert!(code == Some(10) || code == Some(2), "{text:?}: {err}");
        assert!(err.contains(&format!("bad.cnf:{line}")), "{text:?}: {err}");
        assert_eq!(
            err.matches("conncheck: error:").count(),
            1,
            "{text:?}: {err}"
        );
        assert!(!err.contains("Zq9Secret"), "{text:?}: {err}");
        assert!(!err.contains("panicked"), "{text:?}: {err}");
    }
}

#[test]
fn non_utf8_and_odd_arguments_anywhere() {
    for args in [
        vec![OsString::from_vec(vec![0xff, 0xfe])],
        vec![
            OsString::from("status"),
            OsString::from_vec(vec![b'-', 0xff]),
        ],
        vec![
            OsString::from_vec(b"-p\xff".to_vec()),
            OsString::from("status"),
        ],
        vec![
            OsString::from("-p"),
            OsString::from("--"),
            OsString::from("status"),
        ],
        vec![OsString::from("--"), OsString::from("status")],
        vec![OsString::from("kill-idle"), OsString::from("--older-than")],
    ] {
        let out = conncheck().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("error"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo")
        .success();
    assert!(ok, "mkfifo {}", path.display());
}

/// Write `body` into the FIFO `path` from a thread (the reader opens it once).
fn feed_fifo(path: &Path, body: Vec<u8>) -> std::thread::JoinHandle<()> {
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&path) {
            use std::io::Write;
            let _ = f.write_all(&body);
        }
    })
}

/// Found by the adversarial review: `--from /dev/zero` and `--targets /dev/urandom` read until
/// out of memory. Every file input has a cap and is one quick, clear error past it.
#[test]
fn endless_inputs_are_a_quick_clear_error() {
    for (args, what) in [
        (vec!["diagnose", "--from", "/dev/zero"], "64 MiB"),
        (vec!["--targets", "/dev/urandom", "status"], "1 MiB"),
        (vec!["--targets", "/dev/zero", "check"], "1 MiB"),
        (vec!["--defaults-file", "/dev/zero", "status"], "1 MiB"),
        (
            vec!["--defaults-extra-file", "/dev/urandom", "status"],
            "1 MiB",
        ),
    ] {
        let start = std::time::Instant::now();
        let out = conncheck().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("larger than the {what} limit")),
            "{args:?}: {err}"
        );
        assert_ne!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            // A hang, not a speed limit: the capped read itself takes milliseconds.
            start.elapsed() < std::time::Duration::from_secs(60),
            "{args:?} took {:?}",
            start.elapsed()
        );
    }
}

/// Found by the adversarial review: a FIFO hung, and `--targets /dev/stdin` read the pipe twice
/// and found nothing. Each input is read once; `-` is standard input; a UTF-8 BOM is accepted.
#[test]
fn pipes_and_standard_input_are_read_once() {
    let port = unused_port();
    let dir = tempfile::tempdir().unwrap();
    let target = format!("\u{feff}127.0.0.1:{port}\n");

    for file in ["/dev/stdin", "-"] {
        let out = conncheck()
            .args(["--no-defaults", "--targets", file, "status"])
            .write_stdin(target.clone())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        // The target was read (nothing listens there): exit 14 naming it.
        assert_eq!(out.status.code(), Some(14), "{file}: {err}");
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{file}: {err}");
    }

    let fifo = dir.path().join("targets.fifo");
    mkfifo(&fifo);
    let writer = feed_fifo(&fifo, target.clone().into_bytes());
    let out = conncheck()
        .args([
            "--no-defaults",
            "--targets",
            fifo.to_str().unwrap(),
            "status",
        ])
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .unwrap();
    writer.join().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(14), "fifo: {err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "fifo: {err}");

    let cnf = dir.path().join("my.fifo");
    mkfifo(&cnf);
    let body = format!("\u{feff}[client]\nhost=127.0.0.1\nport={port}\n").into_bytes();
    let writer = feed_fifo(&cnf, body);
    let out = conncheck()
        .args(["--defaults-file", cnf.to_str().unwrap(), "status"])
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .unwrap();
    writer.join().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(14), "option fifo: {err}");
    assert!(
        err.contains(&format!("127.0.0.1:{port}")),
        "option fifo: {err}"
    );
}

/// A snapshot through a pipe and with a byte-order mark loads like the file itself.
#[test]
fn a_snapshot_from_standard_input_with_a_bom_loads() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let Some(snap) = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .min()
    else {
        panic!("no snapshot in {}", dir.display());
    };
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend(std::fs::read(&snap).unwrap());
    let out = conncheck()
        .args(["diagnose", "--from", "-", "--format", "json"])
        .write_stdin(body)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}: {err}",
        snap.display()
    );
    support::json(&out);
}
