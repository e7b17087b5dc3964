//! Incident scale, live: what conncheck reads when thousands of sessions are connected. How long
//! it takes is measured by the benchmarks (scripts/bench.sh part 6, `cargo bench --bench
//! judge`), never here.

use crate::support;

use support::*;

/// From 1,000 connections, `diagnose` reads MariaDB's processlist with SHOW FULL PROCESSLIST
/// (information_schema.PROCESSLIST goes through an on-disk temporary table) and says so; the
/// `snapshot` command, like kill plans, keeps the precise source with TIME_MS and QUERY_ID.
#[test]
fn from_1000_connections_diagnose_reads_show_processlist_and_snapshots_stay_precise() {
    let s = Server::start(ServerOpts {
        max_connections: 1_100,
        ..ServerOpts::default()
    });
    s.create_user("many", "pw", "USAGE");
    let held = s.idle_connections("many", "pw", 1_000);

    let out = s
        .conncheck("root", "")
        .args(["diagnose", "--sample", "0", "--format", "json"])
        .output()
        .unwrap();
    let v = json(&out);
    let notes: Vec<&str> = v["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .filter_map(|n| n.as_str())
        .collect();
    assert!(
        notes.iter().any(
            |n| n.starts_with("processlist read with SHOW FULL PROCESSLIST (1001 connections)")
        ),
        "{notes:?}"
    );
    // Judged from that read like any other: 1,001 of 1,100 connections is near the limit.
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "near-limit"),
        "{}",
        v["findings"]
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snap.json");
    s.conncheck("root", "")
        .args(["snapshot", "--sample", "0", "-o"])
        .arg(&file)
        .assert()
        .success();
    let snap: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let sessions = snap["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1_000);
    assert!(
        sessions.iter().all(|x| x["time_ms"].is_u64()),
        "the precise source has TIME_MS"
    );
    assert!(
        !snap["notes"].as_array().is_some_and(|n| n
            .iter()
            .any(|x| x.as_str().unwrap_or("").contains("SHOW FULL"))),
        "{}",
        snap["notes"]
    );
    drop(held);
}
