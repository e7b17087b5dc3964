//! `conncheck sessions`: every filter and grouping against real sessions of known users.

use crate::support;

use std::time::Duration;

use mysql::prelude::Queryable;
use support::{Server, json_ok};

fn ids(v: &serde_json::Value) -> Vec<u64> {
    let mut ids: Vec<u64> = v["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_u64().unwrap())
        .collect();
    ids.sort();
    ids
}

fn sessions(s: &Server, args: &[&str]) -> serde_json::Value {
    let out = s
        .conncheck("root", "")
        .arg("sessions")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    json_ok(&out)
}

#[test]
fn filters_match_exactly_and_combine() {
    let s = Server::shared();
    s.create_user("sf_idle", "pw", "USAGE");
    s.create_user("sf_busy", "pw", "USAGE");
    let idle = s.idle_connections("sf_idle", "pw", 3);
    let mut in_db = s.connect("sf_idle", "pw").unwrap();
    in_db.query_drop("USE sf_idle_db").unwrap();
    let busy = s.background_query("sf_busy", "pw", "SELECT SLEEP(60) /* marker-42 */");
    s.wait_until("busy query running", Duration::from_secs(10), |c| {
        c.query_first::<u64, _>("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE '%marker-42%' AND USER='sf_busy'").unwrap() == Some(1)
    });
    let idle_ids: Vec<u64> = {
        let mut v: Vec<u64> = idle.iter().map(support::conn_id).collect();
        v.push(support::conn_id(&in_db));
        v.sort();
        v
    };
    // Idle past --min-time 1s below, by the server's clock.
    s.wait_aged_ids(&idle_ids, "Sleep", 1000);
    assert_eq!(ids(&sessions(s, &["--match-user", "sf_idle"])), idle_ids);
    assert_eq!(
        ids(&sessions(s, &["--match-user", "sf_busy"])),
        vec![busy.id]
    );
    assert_eq!(
        ids(&sessions(
            s,
            &["--match-user", "sf_idle", "--match-db", "sf_idle_db"]
        )),
        vec![support::conn_id(&in_db)]
    );
    assert_eq!(
        ids(&sessions(s, &["--match-user", "sf_busy", "--busy"])),
        vec![busy.id]
    );
    assert_eq!(
        ids(&sessions(s, &["--match-user", "sf_busy", "--sleeping"])),
        Vec::<u64>::new()
    );
    assert_eq!(
        ids(&sessions(
            s,
            &[
                "--match-user",
                "sf_idle",
                "--match-user",
                "sf_busy",
                "--match-command",
                "query"
            ]
        )),
        vec![busy.id]
    );
    assert_eq!(
        ids(&sessions(s, &["--match-info", "marker-42"])),
        vec![busy.id]
    );
    assert_eq!(
        ids(&sessions(s, &["--match-info", "^marker-42"])),
        Vec::<u64>::new()
    );
    assert!(ids(&sessions(s, &["--match-state", "^User sleep$"])).contains(&busy.id));
    assert_eq!(
        ids(&sessions(
            s,
            &[
                "--match-user",
                "sf_idle",
                "--match-host",
                "localhost",
                "--min-time",
                "1s"
            ]
        )),
        idle_ids
    );
    assert_eq!(
        ids(&sessions(
            s,
            &["--match-user", "sf_idle", "--min-time", "1h"]
        )),
        Vec::<u64>::new()
    );
    assert_eq!(
        ids(&sessions(
            s,
            &["--match-user", "sf_idle", "--match-host", "10.9.9.9"]
        )),
        Vec::<u64>::new()
    );

    let row = &sessions(s, &["--match-user", "sf_busy"])["sessions"][0];
    for field in [
        "id",
        "user",
        "host",
        "db",
        "command",
        "time_s",
        "state",
        "info",
        "trx_age_s",
    ] {
        assert!(row.get(field).is_some(), "missing {field}: {row}");
    }
    assert_eq!(row["command"], "Query");
    assert!(row["info"].as_str().unwrap().contains("marker-42"));
}

#[test]
fn open_transactions_show_their_age() {
    let s = Server::shared();
    s.create_user("sf_trx", "pw", "USAGE");
    let mut c = s.connect("sf_trx", "pw").unwrap();
    c.query_drop("CREATE TABLE IF NOT EXISTS sf_trx_db.t (id INT PRIMARY KEY, v INT)")
        .unwrap();
    c.query_drop("INSERT IGNORE INTO sf_trx_db.t VALUES (1, 0)")
        .unwrap();
    c.query_drop("BEGIN").unwrap();
    c.query_drop("UPDATE sf_trx_db.t SET v = v + 1").unwrap();
    s.wait_trx_aged(support::conn_id(&c), 1);
    let v = sessions(s, &["--match-user", "sf_trx"]);
    let row = &v["sessions"][0];
    assert_eq!(row["id"].as_u64().unwrap(), support::conn_id(&c));
    assert!(row["trx_age_s"].as_u64().unwrap() >= 1, "{row}");
    assert_eq!(row["trx_rows_modified"], 1);
}

#[test]
fn group_by_counts_oldest_and_total() {
    let s = Server::shared();
    s.create_user("sf_grp", "pw", "USAGE");
    let _idle = s.idle_connections("sf_grp", "pw", 4);
    let v = sessions(s, &["--match-user", "sf_grp", "--group-by", "user"]);
    let g = &v["groups"][0];
    assert_eq!(g["key"], "sf_grp");
    assert_eq!(g["count"], 4);
    assert_eq!(g["sleeping"], 4);
    let v = sessions(s, &["--match-user", "sf_grp", "--group-by", "command"]);
    assert_eq!(v["groups"][0]["key"], "Sleep");
    let text = s
        .conncheck("root", "")
        .args(["sessions", "--match-user", "sf_grp", "--group-by", "host"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("localhost") && text.contains("4 of"),
        "{text}"
    );
}
