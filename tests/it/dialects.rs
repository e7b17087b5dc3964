//! Reads that degrade, never fail: least-privilege accounts with performance_schema on and off,
//! and a server that refuses a session guard, live on the private MariaDB.

use crate::support;

use std::time::Duration;

use mysql::prelude::Queryable;
use support::findings::{actions, evidence, has_action, sessions, sorted, the};
use support::{BackgroundQuery, Server, ServerOpts, conn_id, json_ok};

fn snapshot(s: &Server, user: &str, pw: &str) -> serde_json::Value {
    let out = s
        .conncheck(user, pw)
        .args(["snapshot", "--sample", "0"])
        .output()
        .unwrap();
    json_ok(&out)
}

fn notes(v: &serde_json::Value) -> Vec<String> {
    v["notes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|n| n.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn has_note(v: &serde_json::Value, what: &str) -> bool {
    notes(v).iter().any(|n| n.contains(what))
}

/// Sessions of `user` in the snapshot, with their program.
fn programs_of(v: &serde_json::Value, user: &str) -> Vec<Option<String>> {
    v["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["user"] == user)
        .map(|s| s["program"].as_str().map(str::to_string))
        .collect()
}

/// The privilege matrix on MariaDB with performance_schema ON: every account gets its snapshot;
/// what it cannot read becomes a note naming the missing privilege; connection attributes name
/// the programs where performance_schema may be read.
#[test]
fn least_privilege_accounts_get_a_snapshot_with_notes() {
    let s = Server::start(ServerOpts {
        extra_args: vec!["--performance-schema=ON".into()],
        ..ServerOpts::default()
    });
    s.create_user("app", "apppw", "USAGE");
    s.create_user("proc", "p", "PROCESS");
    s.create_user("adm", "p", "PROCESS, CONNECTION ADMIN");
    s.create_user("mon", "p", "PROCESS, CONNECTION ADMIN");
    s.sql("GRANT SELECT ON performance_schema.* TO 'mon'@'%', 'mon'@'localhost'");
    let _idle = s.idle_connections("app", "apppw", 3);

    // PROCESS only, and PROCESS + CONNECTION ADMIN: no performance_schema access. The
    // processlist and INNODB_TRX are read; the attributes are not, and a note says why.
    for user in ["proc", "adm"] {
        let v = snapshot(&s, user, "p");
        assert_eq!(programs_of(&v, "app"), vec![None; 3], "{user}");
        assert!(
            has_note(
                &v,
                "client programs not named (needs SELECT on performance_schema.session_connect_attrs)"
            ) && has_note(&v, "ERROR 1142"),
            "{user}: {:?}",
            notes(&v)
        );
        assert!(
            !has_note(&v, "open transactions not read"),
            "{user}: {:?}",
            notes(&v)
        );
        assert!(
            !has_note(&v, "lock waits not read"),
            "{user}: {:?}",
            notes(&v)
        );
    }

    // USAGE only: its own sessions, and a note for each read it may not do; still exit 0.
    let v = snapshot(&s, "app", "apppw");
    assert_eq!(programs_of(&v, "app").len(), 3);
    assert!(
        has_note(&v, "open transactions not read"),
        "{:?}",
        notes(&v)
    );
    assert!(has_note(&v, "PROCESS"), "{:?}", notes(&v));

    // With SELECT on performance_schema the programs are named (the harness's own binary).
    let v = snapshot(&s, "mon", "p");
    let named = programs_of(&v, "app");
    assert_eq!(named.len(), 3);
    let harness = std::env::current_exe().unwrap();
    let harness = harness.file_name().unwrap().to_string_lossy();
    assert!(
        named
            .iter()
            .all(|p| p.as_deref().is_some_and(|p| p.contains(&*harness))),
        "{named:?}"
    );
    assert!(!has_note(&v, "client programs"), "{:?}", notes(&v));
}

/// performance_schema OFF (MariaDB's default): the attributes are not asked for, so no note and
/// no program; nothing else changes.
#[test]
fn performance_schema_off_asks_for_no_attributes() {
    let s = Server::start(ServerOpts::default());
    s.create_user("adm", "p", "PROCESS, CONNECTION ADMIN");
    s.create_user("app", "apppw", "USAGE");
    let _idle = s.idle_connections("app", "apppw", 2);
    let v = snapshot(&s, "adm", "p");
    assert_eq!(programs_of(&v, "app"), vec![None; 2]);
    assert!(!has_note(&v, "client programs"), "{:?}", notes(&v));
}

/// A session guard the server refuses costs only the guard: before, the batch stopped at the
/// refused SET and took the processlist with it (every command failed). InnoDB off makes
/// `SET SESSION innodb_lock_wait_timeout` an unknown variable (ERROR 1193).
#[test]
fn a_refused_session_guard_does_not_abort_the_read() {
    let s = Server::start(ServerOpts {
        extra_args: vec![
            "--skip-innodb".into(),
            "--default-storage-engine=Aria".into(),
            "--default-tmp-storage-engine=Aria".into(),
        ],
        ..ServerOpts::default()
    });
    s.create_user("adm", "p", "PROCESS, CONNECTION ADMIN");
    s.create_user("app", "apppw", "USAGE");
    let _idle = s.idle_connections("app", "apppw", 2);
    let v = snapshot(&s, "adm", "p");
    assert_eq!(programs_of(&v, "app").len(), 2, "{v}");
    assert!(
        has_note(&v, "session guard not set") && has_note(&v, "innodb_lock_wait_timeout"),
        "{:?}",
        notes(&v)
    );
    // The guard after the refused one was still set, and the later reads were still tried.
    assert!(
        notes(&v)
            .iter()
            .filter(|n| n.contains("session guard not set"))
            .count()
            == 1,
        "{:?}",
        notes(&v)
    );
    // `status` and `sessions` work too.
    s.conncheck("adm", "p").args(["status"]).assert().success();
    s.conncheck("adm", "p")
        .args(["sessions"])
        .assert()
        .success();
}

/// With MariaDB's metadata_lock_info plugin the holders of a metadata-lock pile-up are read, not
/// inferred: the ALTER waits for the idle transaction holding the table, the queries queue
/// behind the ALTER, and the finding says the blocker was found in the lock tables. (Without the
/// plugin `tests/it/diagnose.rs` shows the same pile-up with an inferred holder.)
#[test]
fn metadata_lock_holders_are_read_where_the_plugin_is_installed() {
    let s = Server::start(ServerOpts::default());
    s.sql("INSTALL SONAME 'metadata_lock_info'");
    s.create_user("ddl", "pw", "USAGE");
    s.create_user("adm", "p", "PROCESS, CONNECTION ADMIN");
    s.sql("CREATE TABLE ddl_db.t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB");
    s.sql("INSERT INTO ddl_db.t VALUES (1, 0), (2, 0)");
    let mut a = s.connect("ddl", "pw").unwrap();
    a.query_drop("BEGIN").unwrap();
    a.query_drop("SELECT * FROM ddl_db.t").unwrap();
    let a_id = conn_id(&a);
    let waiting = |n: u64| {
        move |c: &mut mysql::Conn| {
            c.query_first::<u64, _>(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                 WHERE STATE = 'Waiting for table metadata lock'",
            )
            .unwrap()
            .unwrap_or(0)
                >= n
        }
    };
    let wait = Duration::from_secs(20);
    let b = s.background_query("ddl", "pw", "ALTER TABLE ddl_db.t ADD COLUMN w INT");
    s.wait_until("the ALTER waits", wait, waiting(1));
    let queued: Vec<BackgroundQuery> = (0..3)
        .map(|i| {
            s.background_query(
                "ddl",
                "pw",
                &format!("SELECT * FROM ddl_db.t WHERE id = {i}"),
            )
        })
        .collect();
    s.wait_until("4 sessions wait", wait, waiting(4));
    // Waiting for a second or more, by the server's clock.
    let ids: Vec<u64> = std::iter::once(b.id)
        .chain(queued.iter().map(|q| q.id))
        .collect();
    s.wait_aged_ids(&ids, "Query", 1000);

    // PROCESS is enough to read METADATA_LOCK_INFO.
    let out = s
        .conncheck("adm", "p")
        .args(["diagnose", "--sample", "0", "--format", "json"])
        .output()
        .unwrap();
    let v = json_ok(&out);
    let f = the(&v, "lock-pileup");
    let mut expected = vec![a_id, b.id];
    expected.extend(queued.iter().map(|q| q.id));
    assert_eq!(sorted(sessions(f)), sorted(expected));
    assert_eq!(sessions(f)[0], a_id);
    assert!(
        !evidence(f, "blocker found").starts_with("inferred"),
        "{}",
        f["evidence"]
    );
    assert!(
        !f["summary"].as_str().unwrap().contains("inferred"),
        "{}",
        f["summary"]
    );
    assert!(
        evidence(f, "tables").contains("ddl_db.t"),
        "{}",
        f["evidence"]
    );
    assert!(
        !has_action(f, "to see metadata-lock holders"),
        "{:?}",
        actions(f)
    );
    assert!(
        actions(f)
            .iter()
            .any(|a| a.starts_with(&format!("KILL {a_id};")) && a.contains("the root blocker")),
        "{:?}",
        actions(f)
    );
    drop(a);
}

/// PROCESS granted through a role: the account sees other accounts' sessions and reads
/// INNODB_TRX, which only PROCESS allows, so conncheck treats it as having PROCESS (no "grant
/// PROCESS" finding). MariaDB also lists the active role's grants in `SHOW GRANTS` (printed
/// below); MySQL 8 lists only the role's name, which the unit test
/// `grants::process_is_proven_by_what_could_be_read` covers.
#[test]
fn process_through_a_role_is_recognised() {
    let s = Server::start(ServerOpts::default());
    s.create_user("app", "apppw", "USAGE");
    s.create_user("viarole", "p", "USAGE");
    s.sql("CREATE ROLE watcher");
    s.sql("GRANT PROCESS ON *.* TO watcher");
    s.sql("GRANT watcher TO 'viarole'@'%', 'viarole'@'localhost'");
    s.sql("SET DEFAULT ROLE watcher FOR 'viarole'@'%'");
    s.sql("SET DEFAULT ROLE watcher FOR 'viarole'@'localhost'");
    let _idle = s.idle_connections("app", "apppw", 3);
    let grants: Vec<String> = s
        .connect("viarole", "p")
        .unwrap()
        .query("SHOW GRANTS")
        .unwrap();
    eprintln!("SHOW GRANTS as viarole: {grants:?}");
    let v = snapshot(&s, "viarole", "p");
    assert_eq!(
        programs_of(&v, "app").len(),
        3,
        "sees the other account's sessions"
    );
    assert_eq!(
        v["access"]["privileges"]["process"], true,
        "{}",
        v["access"]
    );
    let out = s
        .conncheck("viarole", "p")
        .args(["diagnose", "--sample", "0", "--format", "json"])
        .output()
        .unwrap();
    let d = json_ok(&out);
    assert!(
        !d.to_string().contains("\"no-process-privilege\""),
        "{}",
        d["findings"]
    );
}
