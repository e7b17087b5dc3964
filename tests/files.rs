//! Files under attack (issue "Trust under new attacks", items 2–10 and 16): every file conncheck
//! writes or reads can be a device, a symlink, a FIFO, 1 GB, or hold hostile names and times.
//! Each test reproduces one attack in a temp folder (or against a private server) and checks the
//! outcome: one clear error with a documented exit code, never a hang, a panic, or a device
//! replaced.

mod support;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use support::conncheck;

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

fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo")
        .success();
    assert!(ok, "mkfifo {}", path.display());
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
        assert!(device.symlink_metadata().unwrap().file_type().is_char_device());
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
