//! Files under attack (issue "Trust under new attacks", items 2–10 and 16): every file conncheck
//! writes or reads can be a device, a symlink, a FIFO, 1 GB, or hold hostile names and times.
//! Each test reproduces one attack in a temp folder (or against a private server) and checks the
//! outcome: one clear error with a documented exit code, never a hang, a panic, or a device
//! replaced.

use crate::support;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use support::{conncheck, mkfifo};

fn synthetic() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/incident-checkout-leak")
}

/// A copy of the synthetic incident folder, to break one part of.
fn incident_copy() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for f in ["index.json", "trigger.json", "samples.json"] {
        std::fs::copy(synthetic().join(f), d.path().join(f)).unwrap();
    }
    d
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The run failed with `code` and exactly one `error:` line containing `message`, no panic.
fn one_error(out: &Output, code: i32, message: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains(message), "{err}");
}

/// Rewrite the JSON file `name` of `dir` with `edit`.
fn edit_json(dir: &Path, name: &str, edit: impl FnOnce(&mut Value)) {
    let path = dir.join(name);
    let mut v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&path, v.to_string()).unwrap();
}

fn replay(dir: &Path, extra: &[&std::ffi::OsStr]) -> Output {
    conncheck()
        .args(["diagnose", "--format", "json", "--from"])
        .arg(dir)
        .args(extra)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap()
}

/// Items 2 and 3. Found by the adversarial review: `--chart /dev/null` run as root replaced the
/// device with a regular file (and so did a symlink to it), and a chart that could not be
/// written threw the report away. Now anything but a regular file is refused, the report is
/// printed whole, then the chart's error, exit 10.
#[test]
fn the_chart_never_replaces_what_is_not_a_regular_file_and_its_failure_keeps_the_report() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let real = w.join("real.svg");
    std::fs::write(&real, "keep").unwrap();
    let link = w.join("link.svg");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let to_null = w.join("null-link.svg");
    std::os::unix::fs::symlink("/dev/null", &to_null).unwrap();
    let fifo = w.join("fifo.svg");
    mkfifo(&fifo);
    // A device of our own (as root), so that a regression cannot replace the real /dev/null.
    let device = w.join("null");
    let have_device = std::process::Command::new("mknod")
        .arg(&device)
        .args(["c", "1", "3"])
        .status()
        .is_ok_and(|s| s.success());
    let mut cases: Vec<(PathBuf, &str)> = vec![
        (link.clone(), "a symbolic link"),
        (to_null.clone(), "a symbolic link"),
        (fifo.clone(), "a FIFO"),
        (w.to_path_buf(), "a directory"),
        (w.join("no/such/folder/chart.svg"), "No such file"),
    ];
    if have_device {
        cases.push((device.clone(), "a device"));
    }
    for (file, why) in &cases {
        let out = replay(&synthetic(), &["--chart".as_ref(), file.as_os_str()]);
        one_error(&out, 10, "cannot write chart");
        assert!(stderr(&out).contains(why), "{file:?}: {}", stderr(&out));
        // The report came first, whole.
        let v: Value = serde_json::from_slice(&out.stdout).expect("the report is printed");
        assert_eq!(
            v["growth"]["driver"]["name"], "shop@10.0.4.17 (checkout-api)",
            "{file:?}"
        );
    }
    assert_eq!(std::fs::read_to_string(&real).unwrap(), "keep");
    assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
    assert!(to_null.symlink_metadata().unwrap().file_type().is_symlink());
    assert!(fifo.symlink_metadata().unwrap().file_type().is_fifo());
    if have_device {
        assert!(
            device
                .symlink_metadata()
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }
    assert!(
        Path::new("/dev/null")
            .metadata()
            .unwrap()
            .file_type()
            .is_char_device()
    );
    // No temporary file is left behind.
    let left: Vec<_> = std::fs::read_dir(w)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // A regular file is replaced atomically, private.
    let out = replay(&synthetic(), &["--chart".as_ref(), real.as_os_str()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let svg = std::fs::read_to_string(&real).unwrap();
    assert!(svg.starts_with("<svg"));
    assert_eq!(
        std::fs::metadata(&real).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

/// Item 16. `record --max-size` below 1M cannot hold one incident: a usage error before any
/// connection.
#[test]
fn a_max_size_below_one_mebibyte_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    for size in ["512K", "1048575", "0"] {
        let out = conncheck()
            .args([
                "--no-defaults",
                "-h",
                "127.0.0.1",
                "-P",
                "1",
                "record",
                "--dir",
            ])
            .arg(dir.path())
            .args(["--max-size", size])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{size}: {err}");
        assert!(err.contains("below 1M"), "{size}: {err}");
    }
}

/// Item 16. Found by the adversarial review: a recorder whose triggers fired but whose
/// incidents could not be written (here: a folder it may not write into) exited 0, so a
/// supervisor saw nothing wrong. Now the summary counts them and the run exits 10.
#[test]
fn record_exits_non_zero_when_an_incident_could_not_be_written() {
    let s = support::Server::shared();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("incidents");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // Root writes anywhere: run the recorder as nobody, for whom the folder is read-only.
    let root = is_root();
    let mut cmd = if root {
        let mut c = std::process::Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            env!("CARGO_BIN_EXE_conncheck"),
        ]);
        c
    } else {
        std::process::Command::new(env!("CARGO_BIN_EXE_conncheck"))
    };
    let out = cmd
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .env("NO_COLOR", "1")
        .args(["--no-defaults", "-h", "127.0.0.1", "-P"])
        .arg(s.port().to_string())
        .args(["--user=root", "record", "--dir"])
        .arg(&dir)
        .args([
            "--interval",
            "200ms",
            "--trigger",
            "connections >= 1",
            "--after",
            "0s",
            "--for",
            "3s",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let summary = String::from_utf8_lossy(&out.stdout);
    one_error(&out, 10, "1 of 1 triggered incidents could not be written");
    assert!(summary.contains("triggers fired:    1"), "{summary}");
    assert!(summary.contains("not written:       1"), "{summary}");
    assert!(
        stderr(&out).contains("cannot write the incident"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}

/// Whether this test runs as root (the owner of `/proc/self` is our effective user).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Item 6. Found by the adversarial review: a FIFO as the login path file hung the run, even
/// under --no-defaults (the login path file is read in all cases, as MySQL does), and the file
/// was read whole whatever its size. Now it must be a regular file, read with the 1 MiB cap.
#[test]
fn the_login_path_file_is_a_regular_file_of_at_most_one_mebibyte() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("login.fifo");
    mkfifo(&fifo);
    std::fs::set_permissions(&fifo, std::fs::Permissions::from_mode(0o600)).unwrap();
    let big = dir.path().join("big.cnf");
    std::fs::write(&big, vec![0u8; 2 << 20]).unwrap();
    std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o600)).unwrap();
    let port = support::unused_port().to_string();
    for (file, why) in [
        (&fifo, "not a regular file"),
        (&big, "larger than the 1 MiB limit"),
    ] {
        let base = || {
            let mut c = conncheck();
            c.env("MYSQL_TEST_LOGIN_FILE", file)
                .args(["--no-defaults", "-h", "127.0.0.1", "-P", &port])
                .timeout(Duration::from_secs(20));
            c
        };
        // Not asked for: a warning, and the run goes on (nothing listens: exit 14).
        let out = base().arg("status").output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(14), "{err}");
        assert!(err.contains("warning: login path file"), "{err}");
        assert!(err.contains(why), "{err}");
        // Asked for with --login-path: the run stops on it.
        let out = base()
            .args(["--login-path", "prod", "status"])
            .output()
            .unwrap();
        one_error(&out, 2, why);
    }
}

/// Item 6. `!include` chains that are no cycle can fan out: each of ten files including the
/// next ten times is 10^10 reads. The run stops with one clear error (exit 10).
#[test]
fn include_fan_out_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..10 {
        let next = dir.path().join(format!("f{}.cnf", i + 1));
        let body = format!("!include {}\n", next.display()).repeat(10);
        std::fs::write(
            dir.path().join(format!("f{i}.cnf")),
            format!("[client]\n{body}"),
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("f10.cnf"), "[client]\nuser=deep\n").unwrap();
    let out = conncheck()
        .arg("--defaults-file")
        .arg(dir.path().join("f0.cnf"))
        .arg("status")
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    one_error(&out, 10, "too many included files (more than 100 in all)");
}

/// Item 8. Found by the adversarial review: a world-writable file included from an explicit
/// `--defaults-file` was skipped with a warning, and the run silently went to whatever server
/// the rest named (here: a host and port anyone could have changed it from). Now it stops.
#[test]
fn a_world_writable_include_of_an_explicit_defaults_file_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let planted = dir.path().join("planted.cnf");
    std::fs::write(&planted, "[client]\nhost=evil.example\n").unwrap();
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o666)).unwrap();
    let port = support::unused_port();
    let main = dir.path().join("my.cnf");
    std::fs::write(
        &main,
        format!(
            "[client]\nhost=127.0.0.1\nport={port}\n!include {}\n",
            planted.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&main, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = conncheck()
        .arg("--defaults-file")
        .arg(&main)
        .arg("status")
        .output()
        .unwrap();
    one_error(&out, 10, "world-writable");
    let err = stderr(&out);
    assert!(err.contains("my.cnf:4"), "names the include line: {err}");
    assert!(err.contains("chmod o-w"), "{err}");
}

/// Item 7. Found by the adversarial review: file names reached error messages raw, so a name
/// chosen by whoever wrote an incident's `index.json` or an option file could clear the screen
/// or retitle the terminal. They are escaped like server strings.
#[test]
fn file_names_in_errors_never_carry_raw_control_bytes() {
    let d = incident_copy();
    edit_json(d.path(), "index.json", |v| {
        v["trigger_snapshot"] = "trigger\u{1b}[2J\u{1b}]0;owned\u{7}.json".into();
    });
    let out = replay(d.path(), &[]);
    one_error(&out, 10, "cannot read trigger\\e[2J\\e]0;owned\\x07.json");
    assert!(!stderr(&out).contains('\u{1b}'), "{:?}", stderr(&out));

    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("my\u{1b}[2J\u{9b}.cnf");
    std::fs::write(&odd, "user=outside-a-group\n").unwrap();
    let out = conncheck()
        .arg("--defaults-file")
        .arg(&odd)
        .arg("status")
        .output()
        .unwrap();
    one_error(&out, 10, "my\\e[2J\\x9b.cnf:1");
    assert!(!stderr(&out).contains('\u{1b}'), "{:?}", stderr(&out));
}

/// Item 6. Found by the adversarial review: a FIFO in an incident folder hung `diagnose --from`
/// for ever. Every part of a folder must be a regular file.
#[test]
fn a_fifo_in_an_incident_folder_is_refused_without_blocking() {
    for part in ["trigger.json", "samples.json", "index.json"] {
        let d = incident_copy();
        std::fs::remove_file(d.path().join(part)).unwrap();
        mkfifo(&d.path().join(part));
        let out = replay(d.path(), &[]);
        one_error(
            &out,
            10,
            &format!("cannot read {part}: is not a regular file"),
        );
    }
}

/// Item 9. Found by the adversarial review: a time in year 10000 or later (in `index.json`, a
/// sample, a snapshot) panicked while formatting it. It is one clear error, exit 10.
#[test]
fn times_after_year_9999_are_a_clear_error() {
    const YEAR_10000_MS: u64 = 253_402_300_800_000;
    let d = incident_copy();
    edit_json(d.path(), "index.json", |v| {
        v["triggered_at_ms"] = YEAR_10000_MS.into();
    });
    one_error(
        &replay(d.path(), &[]),
        10,
        "index.json has triggered_at_ms 253402300800000, after year 9999",
    );

    let d = incident_copy();
    edit_json(d.path(), "samples.json", |v| {
        v["samples"][3]["at_ms"] = u64::MAX.into();
    });
    one_error(
        &replay(d.path(), &[]),
        10,
        "samples.json has a sample at_ms 18446744073709551615, after year 9999",
    );

    let d = incident_copy();
    edit_json(d.path(), "trigger.json", |v| {
        v["taken_at"] = (YEAR_10000_MS / 1000).into();
    });
    one_error(
        &replay(d.path(), &[]),
        10,
        "trigger.json: taken_at 253402300800",
    );
    let out = replay(&d.path().join("trigger.json"), &[]);
    one_error(&out, 10, "after year 9999");
}

/// Item 10. Found by the adversarial review: a `program_name` holding U+FFFE or U+FFFF (which
/// XML 1.0 forbids) made the chart an SVG no XML parser reads. The chart stays well-formed for
/// any client name, target or trigger text.
#[test]
fn the_chart_is_well_formed_xml_for_any_name() {
    let d = incident_copy();
    let hostile =
        "\u{fffe}\u{ffff}\u{0}\u{1}\u{b}\u{1b}[2J\u{7f}\u{85}\u{fdd0}\u{1fffe}<&>\"'\u{202e}";
    edit_json(d.path(), "samples.json", |v| {
        for s in v["samples"].as_array_mut().unwrap() {
            s["clients"][0]["app"] = hostile.into();
            s["clients"][1]["user"] = hostile.into();
        }
    });
    edit_json(d.path(), "index.json", |v| {
        v["target"] = hostile.into();
        v["trigger"] = hostile.into();
    });
    let chart = d.path().join("chart.svg");
    let out = replay(d.path(), &["--chart".as_ref(), chart.as_os_str()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let svg = std::fs::read_to_string(&chart).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}: {svg}"));
    let text: String = doc
        .descendants()
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        text.contains("\\u{fffe}\\u{ffff}\\0\\x01\\x0b\\e[2J\\x7f\\x85"),
        "{text}"
    );
    assert!(text.contains("<&>\"'"), "{text}");
}

/// Item 4. Found by the adversarial review: 200 sessions running statements with 64 KB query
/// texts (control bytes, six bytes each in JSON) made a snapshot that `diagnose --from` cannot
/// read (over its 64 MiB cap) and an incident of 149 MiB. Query texts are cut at 1024
/// characters and marked `info_truncated`; a snapshot stays readable and an incident fits in
/// `--max-size`, the smallest one (1M) included.
#[test]
fn snapshots_and_incidents_stay_readable_with_huge_query_texts() {
    const CAP: u64 = 64 * 1024 * 1024;
    let s = support::Server::start(support::ServerOpts {
        max_connections: 300,
        ..Default::default()
    });
    s.create_user("big", "pw", "USAGE");
    let sql = format!("SELECT SLEEP(600) /*{}*/", "\u{1}".repeat(64_000));
    let running: Vec<_> = (0..200)
        .map(|_| s.background_query("big", "pw", &sql))
        .collect();
    s.wait_until("200 statements run", Duration::from_secs(120), |c| {
        use mysql::prelude::Queryable;
        c.query_first::<u64, _>(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
             WHERE USER = 'big' AND COMMAND = 'Query' AND LENGTH(INFO) > 64000",
        )
        .ok()
        .flatten()
            == Some(200)
    });
    let work = tempfile::tempdir().unwrap();

    let file = work.path().join("snap.json");
    let out = s
        .conncheck("root", "")
        .args(["snapshot", "--sample", "0", "-o"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::metadata(&file).unwrap().len() <= CAP);
    let v: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let big: Vec<&Value> = v["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["user"] == "big")
        .collect();
    assert_eq!(big.len(), 200);
    for x in &big {
        assert_eq!(x["info_truncated"], true, "{x}");
        assert_eq!(x["info"].as_str().unwrap().chars().count(), 1024);
    }
    let out = replay(&file, &[]);
    assert!(out.status.success(), "{}", stderr(&out));

    let dir = work.path().join("incidents");
    let out = s
        .conncheck("root", "")
        .args(["record", "--dir"])
        .arg(&dir)
        .args([
            "--interval",
            "200ms",
            "--trigger",
            "connections >= 100",
            "--after",
            "0s",
            "--for",
            "3s",
            "--max-size",
            "1M",
        ])
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let folders: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(folders.len(), 1, "{folders:?}\n{}", stderr(&out));
    let total: u64 = std::fs::read_dir(&folders[0])
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(total <= 1 << 20, "{total} bytes");
    let index: Value =
        serde_json::from_slice(&std::fs::read(folders[0].join("index.json")).unwrap()).unwrap();
    assert_eq!(index["trigger_snapshot"], "trigger.json", "{index:#}");
    assert!(
        index["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("query texts cut to")),
        "{index:#}"
    );
    let out = replay(&folders[0], &[]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", stderr(&out));
    });
    assert!(v["verdict"].is_object(), "{v:#}");
    drop(running);
}

/// A `samples.json` of about `bytes` bytes where every sample names clients no other sample
/// has (`clients` per sample): the shape that made replay memory distinct clients × samples.
fn hostile_samples(bytes: usize, clients: usize) -> String {
    let mut out =
        String::from(r#"{"schema_version":1,"target":"t","interval_ms":1000,"samples":["#);
    let t0 = 1_796_406_003_000u64;
    let mut i = 0u64;
    while out.len() < bytes {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            r#"{{"at_ms":{},"threads_connected":5,"threads_running":1,"max_connections":10,"refused_total":0,"connections_total":{i},"clients":["#,
            t0 + i * 1000
        ));
        for k in 0..clients {
            if k > 0 {
                out.push(',');
            }
            out.push_str(&format!(
                r#"{{"user":"u{i}-{k}","host":"h","app":"a{i}-{k}","connections":{}}}"#,
                1 + (i + k as u64) % 7
            ));
        }
        out.push_str("]}");
        i += 1;
    }
    out.push_str("]}");
    out
}

/// The peak memory (max RSS, KiB) of `conncheck diagnose --from DIR --format json` with a
/// `--chart`, run with at most 2 GiB of address space, and its output.
fn replay_peak_kib(dir: &Path) -> (u64, Output) {
    let time = Path::new("/usr/bin/time");
    assert!(time.exists(), "GNU time is needed: apt-get install time");
    let report = dir.join("time.txt");
    // 2 GiB of address space at most: a regression aborts here instead of taking the machine.
    let out = std::process::Command::new("prlimit")
        .args(["--as=2147483648", "--"])
        .arg(time)
        .arg("-o")
        .arg(&report)
        .args(["-f", "%M"])
        .arg(env!("CARGO_BIN_EXE_conncheck"))
        .args(["diagnose", "--format", "json", "--from"])
        .arg(dir)
        .arg("--chart")
        .arg(dir.join("chart.svg"))
        .env_clear()
        .env("HOME", "/nonexistent")
        .output()
        .unwrap();
    let kib = std::fs::read_to_string(&report)
        .unwrap()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("max RSS from /usr/bin/time");
    (kib, out)
}

/// Item 5. Found by the adversarial review: replay memory was distinct clients × samples (one
/// dense series per client), so a 24 MB `samples.json` of samples that each name new clients
/// aborted at 3.5 GB. Memory is now bounded by the file (at most 100 clients per sample on read,
/// as on write; sparse series), and the run gives its report. Run under an address-space limit
/// too, so that a regression fails here rather than taking the machine's memory.
#[test]
fn replay_memory_is_bounded_by_the_file() {
    let cases = [
        // 24 MB, one new client per sample: about 160,000 clients and samples.
        (24_000_000, 1),
        // 24 MB, 1,000 new clients per sample: 10× over the cap of 100.
        (24_000_000, 1_000),
    ];
    for (bytes, clients) in cases {
        let d = incident_copy();
        std::fs::write(
            d.path().join("samples.json"),
            hostile_samples(bytes, clients),
        )
        .unwrap();
        let (kib, out) = replay_peak_kib(d.path());
        assert!(out.status.success(), "{clients}: {}", stderr(&out));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(v["timeline"].as_array().is_some_and(|t| !t.is_empty()));
        if clients > 100 {
            let first = &v["timeline"][0]["clients"];
            assert!(first["other"].as_u64().unwrap() > 0, "{first}");
        }
        // Measured at about 10× the file (200-250 MB here; the JSON report repeats every
        // sample); at most about 20×, far below the gigabytes it took.
        assert!(kib < 500 * 1024, "{clients} clients per sample: {kib} KiB");
        let svg = std::fs::read_to_string(d.path().join("chart.svg")).unwrap();
        roxmltree::Document::parse(&svg).unwrap();
    }
}

/// Item 2, for `snapshot -o`: the same helper writes it, so a symlink (here to a file someone
/// else owns) or a device is refused with exit 10 and left as it was.
#[test]
fn snapshot_output_never_replaces_what_is_not_a_regular_file() {
    let s = support::Server::shared();
    let work = tempfile::tempdir().unwrap();
    let victim = work.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    let link = work.path().join("snap.json");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let out = s
        .conncheck("root", "")
        .args(["snapshot", "--sample", "0", "-o"])
        .arg(&link)
        .output()
        .unwrap();
    one_error(&out, 10, "a symbolic link");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
    // A regular file is replaced whole.
    let file = work.path().join("real.json");
    std::fs::write(&file, "old").unwrap();
    let out = s
        .conncheck("root", "")
        .args(["snapshot", "--sample", "0", "-o"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(v["schema_version"], 1);
}
