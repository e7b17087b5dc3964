//! `conncheck diagnose --from DIR`: replaying an incident folder (issue 15, item 2).
//!
//! - Live: a private MariaDB leaks connections of one client (with a hostile user name) one by
//!   one while two steady clients stay flat; every step is a real `conncheck snapshot -o`, and
//!   the samples are built from those snapshots with `Sample::from_snapshot` (what `record`
//!   writes). The replay must give a verdict, one timeline entry per sample, name the leaking
//!   client and the start of its growth, and draw a chart with the name XML-escaped.
//! - Malformed folders (no index, a foreign kind, broken samples, an index naming a file outside
//!   the folder, no snapshot at all) are one clear error each, never a panic.
//! - The human replay of the committed synthetic folder `tests/data/incident-checkout-leak`
//!   (see PROVENANCE.md) pinned with insta at 80 and 120 columns.

use crate::support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use conncheck::testing::render::layout::width_of;
use conncheck::testing::snapshot::Snapshot;
use conncheck::testing::snapshot::sample::{
    INCIDENT_KIND, IncidentIndex, SAMPLE_SCHEMA_VERSION, Sample, SampleHistory,
};
use serde_json::Value;
use support::{Server, ServerOpts, json_ok};

const HOSTILE: &str = "leak<script>&\"'";

fn synthetic() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/incident-checkout-leak")
}

fn write_json(path: &Path, v: &impl serde::Serialize) {
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap() + "\n").unwrap();
}

fn index(target: &str, at_ms: u64, after: bool) -> IncidentIndex {
    IncidentIndex {
        schema_version: SAMPLE_SCHEMA_VERSION,
        kind: INCIDENT_KIND.into(),
        target: target.into(),
        triggered_at_ms: at_ms,
        trigger: "connections >= 10".into(),
        value: 10.0,
        trigger_snapshot: Some("trigger.json".into()),
        after_snapshot: after.then(|| "after.json".into()),
        samples: "samples.json".into(),
        notes: vec![],
    }
}

/// `conncheck snapshot -o FILE --sample 0` as root, loaded back.
fn snapshot(s: &Server, file: &Path) -> Snapshot {
    s.conncheck("root", "")
        .args(["snapshot", "--sample", "0", "-o"])
        .arg(file)
        .assert()
        .success();
    conncheck::testing::snapshot::source::load(file).unwrap()
}

#[test]
fn a_leak_recorded_from_a_live_server_is_replayed_with_its_driver_and_start() {
    let s = Server::start(ServerOpts {
        max_connections: 40,
        ..Default::default()
    });
    s.create_user(HOSTILE, "pw", "USAGE");
    s.create_user("steady", "pw", "USAGE");
    let _steady = s.idle_connections("steady", "pw", 3);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("2026-12-04T17-40-03Z");
    std::fs::create_dir(&dir).unwrap();
    let mut leaked = Vec::new();
    let mut samples = Vec::new();
    let mut last = None;
    // Two flat samples, then one more leaked connection per sample.
    for step in 0..9 {
        if step >= 2 {
            leaked.extend(s.idle_connections(HOSTILE, "pw", 1));
        }
        let snap = snapshot(&s, &work.path().join(format!("step{step}.json")));
        samples.push(Sample::from_snapshot(&snap));
        last = Some(snap);
        // Samples a second apart, as `record --interval 1s` takes them.
        std::thread::sleep(Duration::from_millis(1050));
    }
    let trigger = last.unwrap();
    std::fs::copy(work.path().join("step8.json"), dir.join("trigger.json")).unwrap();
    // The after snapshot: two more leaked connections, so it is the peak that is judged.
    leaked.extend(s.idle_connections(HOSTILE, "pw", 2));
    let after = snapshot(&s, &dir.join("after.json"));
    samples.push(Sample::from_snapshot(&after));
    let triggered_at = samples[8].at_ms;
    write_json(
        &dir.join("index.json"),
        &index(&trigger.target, triggered_at, true),
    );
    write_json(
        &dir.join("samples.json"),
        &SampleHistory {
            schema_version: SAMPLE_SCHEMA_VERSION,
            target: trigger.target.clone(),
            interval_ms: 1000,
            samples: samples.clone(),
        },
    );

    let chart = work.path().join("chart.svg");
    let out = support::conncheck()
        .args(["diagnose", "--format", "json", "--from"])
        .arg(&dir)
        .arg("--chart")
        .arg(&chart)
        .output()
        .unwrap();
    let v: Value = json_ok(&out);
    assert!(v["verdict"].is_object(), "{v:#}");
    assert_eq!(v["incident"]["judged"], "after.json", "the peak is judged");
    assert_eq!(
        v["connections"]["threads_connected"].as_u64(),
        Some(after.threads_connected())
    );
    let timeline = v["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 10);
    // The host as the server names it (127.0.0.1 resolves to localhost unless skip_name_resolve).
    let host = &samples[8]
        .clients
        .iter()
        .find(|c| c.user == HOSTILE)
        .expect("the leaking client is sampled")
        .host;
    let leaker = format!("{HOSTILE}@{host}");
    assert_eq!(timeline[0]["clients"].get(&leaker), None);
    assert_eq!(timeline[8]["clients"][&leaker], 7, "{:#}", timeline[8]);
    assert_eq!(timeline[9]["clients"][&leaker], 9);
    assert_eq!(timeline[5]["clients"][format!("steady@{host}")], 3);
    for e in timeline {
        assert!(e["time"].as_str().unwrap().ends_with('Z'), "{e}");
        assert!(e["threads_connected"].as_u64().unwrap() >= 4, "{e}");
        assert_eq!(e["refused"], 0);
    }
    let g = &v["growth"];
    assert_eq!(g["samples"], 9, "the window ends at the trigger: {g:#}");
    assert_eq!(g["driver"]["name"], leaker.as_str(), "{g:#}");
    assert_eq!(
        (g["driver"]["from"].as_u64(), g["driver"]["to"].as_u64()),
        (Some(0), Some(7))
    );
    // The growth started after the second sample: that sample is its start.
    assert_eq!(g["started_at"], timeline[1]["time"], "{g:#}");
    assert_eq!(g["driver"]["share"], 1.0);
    let rate = g["driver"]["rate_per_min"].as_f64().unwrap();
    // 7 connections in about 6 × 1.1 s.
    assert!((40.0..=75.0).contains(&rate), "{rate}");

    let svg = std::fs::read_to_string(&chart).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(!svg.contains("<script>"), "the name must be escaped");
    assert!(
        svg.contains(&format!("leak&lt;script&gt;&amp;&quot;&apos;@{host}")),
        "{svg}"
    );
    assert!(svg.contains("max_connections (40)"), "{svg}");
    assert!(svg.contains(&format!("steady@{host}")), "{svg}");
    // Balanced tags, as an XML parser would want them (no text contains a raw `<`).
    assert_eq!(svg.matches('<').count(), svg.matches('>').count());

    // The human report: the usual verdict, then the section, escaped and within 80 columns.
    let out = support::conncheck()
        .env("COLUMNS", "80")
        .args(["diagnose", "--from"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Verdict"), "{text}");
    assert!(text.contains("Before the trigger"), "{text}");
    assert!(
        text.contains(&format!("Driver     {leaker}: +7 since")),
        "{text}"
    );
    assert!(text.lines().all(|l| width_of(l) <= 80), "{text}");
    drop(leaked);
}

/// A folder with a valid index, trigger snapshot and samples, to break one part of.
fn good_folder() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for f in ["index.json", "trigger.json", "samples.json"] {
        std::fs::copy(synthetic().join(f), d.path().join(f)).unwrap();
    }
    d
}

/// `diagnose --from DIR`: the run fails with one error line (and maybe a hint), no panic.
fn fails_with(dir: &Path, args: &[&str], code: i32, message: &str) {
    let out = support::conncheck()
        .args(["diagnose", "--from"])
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(out.stdout.is_empty());
    assert!(!err.contains("panicked"), "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains(message), "{err}");
}

#[test]
fn malformed_incident_folders_are_one_clear_error() {
    let empty = tempfile::tempdir().unwrap();
    fails_with(empty.path(), &[], 10, "it has no index.json");

    let d = good_folder();
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("index.json")).unwrap())
            .unwrap();
    v["kind"] = "pt-stalk".into();
    write_json(&d.path().join("index.json"), &v);
    fails_with(
        d.path(),
        &[],
        10,
        "of kind \"pt-stalk\", not \"conncheck-incident\"",
    );

    let d = good_folder();
    std::fs::write(d.path().join("index.json"), "{not json").unwrap();
    fails_with(
        d.path(),
        &[],
        10,
        "index.json is not a conncheck incident index",
    );

    let d = good_folder();
    std::fs::write(d.path().join("samples.json"), r#"{"samples": 3}"#).unwrap();
    fails_with(
        d.path(),
        &[],
        10,
        "samples.json is not a conncheck sample history",
    );

    let d = good_folder();
    std::fs::remove_file(d.path().join("samples.json")).unwrap();
    fails_with(d.path(), &[], 10, "cannot read samples.json");

    let d = good_folder();
    std::fs::write(d.path().join("trigger.json"), "[]").unwrap();
    fails_with(
        d.path(),
        &[],
        10,
        "trigger.json is not a conncheck snapshot",
    );

    let d = good_folder();
    v["kind"] = INCIDENT_KIND.into();
    v["trigger_snapshot"] = "../../etc/passwd".into();
    write_json(&d.path().join("index.json"), &v);
    fails_with(d.path(), &[], 10, "not a file in the folder");

    let d = good_folder();
    v["trigger_snapshot"] = Value::Null;
    write_json(&d.path().join("index.json"), &v);
    fails_with(d.path(), &[], 10, "holds no snapshot to judge");

    v["schema_version"] = 99.into();
    write_json(&d.path().join("index.json"), &v);
    fails_with(d.path(), &[], 10, "incident schema 99");
}

#[test]
fn chart_needs_an_incident_folder() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mysql80-incident.json");
    let out_dir = tempfile::tempdir().unwrap();
    let chart = out_dir.path().join("c.svg");
    fails_with(
        &file,
        &["--chart", chart.to_str().unwrap()],
        2,
        "needs --from DIR",
    );
    assert!(!chart.exists());
    // Without --from at all, clap refuses it before connecting.
    let out = support::conncheck()
        .args(["diagnose", "--chart", "x.svg"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_synthetic_incident_replays_with_a_chart() {
    let out_dir = tempfile::tempdir().unwrap();
    let chart = out_dir.path().join("chart.svg");
    let out = support::conncheck()
        .args(["diagnose", "--format", "json", "--from"])
        .arg(synthetic())
        .arg("--chart")
        .arg(&chart)
        .output()
        .unwrap();
    let v = json_ok(&out);
    let g = &v["growth"];
    assert_eq!(
        g["driver"]["name"], "shop@10.0.4.17 (checkout-api)",
        "{g:#}"
    );
    assert_eq!(g["driver_app"]["name"], "checkout-api", "{g:#}");
    assert_eq!(g["refused"]["total"], 0, "{g:#}");
    assert_eq!(g["driver"]["from"], 40, "{g:#}");
    assert_eq!(g["driver"]["rate_per_min"], 60.0, "{g:#}");
    assert_eq!(v["timeline"].as_array().unwrap().len(), 131);
    assert_eq!(v["incident"]["judged"], "trigger.json");
    let svg = std::fs::read_to_string(&chart).unwrap();
    assert!(svg.contains("max_connections (500)"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&chart).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Only the chart is left in its folder: the temporary file was renamed over it.
    assert_eq!(std::fs::read_dir(out_dir.path()).unwrap().count(), 1);
}

#[test]
fn layout_of_the_replay() {
    for width in [80, 120] {
        let out = support::conncheck()
            .env("COLUMNS", width.to_string())
            .args(["diagnose", "--from"])
            .arg(synthetic())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let wide: Vec<&str> = text.lines().filter(|l| width_of(l) > width).collect();
        assert!(wide.is_empty(), "wider than {width}: {wide:#?}");
        insta::assert_snapshot!(format!("replay_checkout_leak_{width}"), text);
    }
}

/// Writes `tests/data/incident-checkout-leak` (see tests/data/PROVENANCE.md):
/// `cargo test --test it make_synthetic_incident -- --ignored`.
#[test]
#[ignore]
fn make_synthetic_incident() {
    let recorded = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mysql80-incident.json");
    let snap = conncheck::testing::snapshot::source::load(&recorded).unwrap();
    let at_trigger = Sample::from_snapshot(&snap);
    let leaker = at_trigger.clients[0].clone();
    assert_eq!(leaker.account(), "shop@10.0.4.17");
    let t0 = at_trigger.at_ms;
    // 120 s before the trigger and 10 s after, one sample a second: the leaker holds 40
    // connections until 90 s before the trigger, then gains one a second up to its recorded 130
    // at the trigger (and stays there); everything else is as recorded.
    let samples: Vec<Sample> = (-120i64..=10)
        .map(|k| {
            let mut s = at_trigger.clone();
            s.at_ms = t0.checked_add_signed(k * 1000).unwrap();
            let n = u64::try_from((40 + (k + 90).max(0)).min(130)).unwrap();
            let fewer = leaker.connections - n;
            s.clients[0].connections = n;
            s.clients[0].running = 0;
            s.threads_connected -= fewer;
            conncheck::testing::snapshot::sample::sort_clients(&mut s.clients);
            s
        })
        .collect();
    let dir = synthetic();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&recorded, dir.join("trigger.json")).unwrap();
    let mut idx = index(&snap.target, t0, false);
    idx.trigger = "connections >= 273".into();
    idx.value = at_trigger.threads_connected as f64;
    write_json(&dir.join("index.json"), &idx);
    write_json(
        &dir.join("samples.json"),
        &SampleHistory {
            schema_version: SAMPLE_SCHEMA_VERSION,
            target: snap.target.clone(),
            interval_ms: 1000,
            samples,
        },
    );
}
