//! Hand-made snapshots for the heuristics' unit tests: a healthy MariaDB 10.11 and a healthy
//! MySQL 8.0 with their real defaults (see docs/server-facts.md), plus builders for sessions,
//! transactions and lock waits. Tests start from one and change what their cause needs.

use std::collections::BTreeMap;

use crate::snapshot::*;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A healthy MariaDB 10.11 with defaults: max_connections 151, 11 connections, root access.
pub fn mariadb() -> Snapshot {
    Snapshot {
        schema_version: SNAPSHOT_SCHEMA_VERSION,
        taken_at: 1_795_000_000,
        target: "127.0.0.1:3306".into(),
        server: ServerInfo {
            flavor: Flavor::Mariadb,
            version: "10.11.19-MariaDB-0+deb12u1".into(),
            version_comment: "Debian 12".into(),
            version_number: (10, 11, 19),
            rds: false,
            aurora_version: None,
            processlist_source: ProcesslistSource::InformationSchema,
            uptime_s: 864_000,
        },
        access: Access {
            user: "root@localhost".into(),
            connection_id: 1000,
            privileges: Privileges {
                process: true,
                super_: true,
                connection_admin: true,
                system_variables_admin: true,
                system_user: true,
            },
            route: Route::Normal,
            login_user: String::new(),
            login_tries: 1,
        },
        refused: None,
        variables: map(&[
            ("version", "10.11.19-MariaDB-0+deb12u1"),
            ("max_connections", "151"),
            ("max_user_connections", "0"),
            ("extra_max_connections", "1"),
            ("extra_port", "0"),
            ("wait_timeout", "600"),
            ("interactive_timeout", "600"),
            ("thread_cache_size", "151"),
            ("thread_handling", "one-thread-per-connection"),
            ("open_files_limit", "32186"),
            ("table_open_cache", "2000"),
            ("slow_query_log", "ON"),
            ("long_query_time", "1.000000"),
            ("sort_buffer_size", "2097152"),
            ("join_buffer_size", "262144"),
            ("read_buffer_size", "131072"),
            ("read_rnd_buffer_size", "262144"),
            ("thread_stack", "299008"),
            ("binlog_cache_size", "32768"),
            ("net_buffer_length", "16384"),
            ("max_allowed_packet", "16777216"),
            ("tmp_table_size", "16777216"),
            ("max_heap_table_size", "16777216"),
            ("innodb_buffer_pool_size", "134217728"),
            ("key_buffer_size", "134217728"),
            ("innodb_log_buffer_size", "16777216"),
            ("query_cache_size", "1048576"),
            ("aria_pagecache_buffer_size", "134217728"),
            ("performance_schema", "OFF"),
        ]),
        status: map(&[
            ("uptime", "864000"),
            ("threads_connected", "11"),
            ("threads_running", "2"),
            ("threads_created", "40"),
            ("threads_cached", "5"),
            ("connections", "50000"),
            ("max_used_connections", "30"),
            ("connection_errors_max_connections", "0"),
            ("aborted_connects", "3"),
            ("aborted_clients", "10"),
            ("questions", "9000000"),
            ("slow_queries", "5"),
        ]),
        status_after: None,
        sample_s: 0.0,
        trend: Vec::new(),
        sessions: (1..=10)
            .map(|i| session(i, "app", "10.0.0.1", "Sleep", 5, "", None))
            .collect(),
        transactions: Vec::new(),
        lock_waits: Vec::new(),
        rollbacks_after: Vec::new(),
        host_memory_bytes: Some(16 << 30),
        host_cpu_cores: None,
        replication: Vec::new(),
        server_rss_bytes: None,
        accounts: None,
        host_cache: None,
        host_cache_after: None,
        system_user_accounts: Vec::new(),
        notes: Vec::new(),
    }
}

/// A healthy MySQL 8.0.36 with defaults (performance_schema on, max_execution_time).
pub fn mysql8() -> Snapshot {
    let mut s = mariadb();
    s.server = ServerInfo {
        flavor: Flavor::Mysql,
        version: "8.0.36".into(),
        version_comment: "MySQL Community Server - GPL".into(),
        version_number: (8, 0, 36),
        rds: false,
        aurora_version: None,
        processlist_source: ProcesslistSource::PerformanceSchema,
        uptime_s: 864_000,
    };
    for (k, v) in [
        ("version", "8.0.36"),
        ("thread_cache_size", "9"),
        ("open_files_limit", "10000"),
        ("table_open_cache", "4000"),
        ("sort_buffer_size", "262144"),
        ("thread_stack", "1048576"),
        ("key_buffer_size", "8388608"),
        ("max_allowed_packet", "67108864"),
        ("performance_schema", "ON"),
        ("admin_port", "33062"),
    ] {
        s.variables.insert(k.into(), v.into());
    }
    for k in [
        "extra_max_connections",
        "extra_port",
        "query_cache_size",
        "aria_pagecache_buffer_size",
    ] {
        s.variables.remove(k);
    }
    s.status.insert(
        "max_used_connections_time".into(),
        "2026-11-20 03:12:44".into(),
    );
    s
}

/// One processlist row (MySQL-style host with a port when `host` is an address).
pub fn session(
    id: u64,
    user: &str,
    host: &str,
    command: &str,
    time_s: u64,
    state: &str,
    info: Option<&str>,
) -> Session {
    Session {
        id,
        user: user.into(),
        host: if host == "localhost" {
            host.into()
        } else {
            format!("{host}:{}", 40000 + id)
        },
        db: Some("shop".into()),
        command: command.into(),
        time_s,
        time_ms: None,
        state: state.into(),
        info: info.map(str::to_string),
        info_truncated: false,
        query_id: None,
        program: None,
        memory_bytes: None,
    }
}

/// A login still in the handshake: no account yet, `Connect`, reading the client's answer.
pub fn login(id: u64, host: &str, time_s: u64) -> Session {
    session(
        id,
        "unauthenticated user",
        host,
        "Connect",
        time_s,
        "Reading from net",
        None,
    )
}

/// An open transaction owned by `session_id`.
pub fn trx(
    session_id: u64,
    state: &str,
    age_s: u64,
    rows_modified: u64,
    query: Option<&str>,
) -> Transaction {
    Transaction {
        trx_id: format!("{}", 5000 + session_id),
        session_id,
        state: state.into(),
        age_s,
        wait_s: (state == "LOCK WAIT").then_some(age_s.min(10)),
        rows_modified,
        rows_locked: rows_modified,
        query: query.map(str::to_string),
        query_truncated: false,
        autocommit_non_locking: false,
    }
}

/// Set a status value in the first reading.
pub fn set_status(s: &mut Snapshot, name: &str, value: u64) {
    s.status.insert(name.into(), value.to_string());
}

/// Add a second status reading `sample_s` later with the given changes.
pub fn sample(s: &mut Snapshot, sample_s: f64, after: &[(&str, u64)]) {
    let mut m = s.status.clone();
    for (k, v) in after {
        m.insert(k.to_string(), v.to_string());
    }
    s.status_after = Some(m);
    s.sample_s = sample_s;
}

/// Replace the sessions and keep Threads_connected consistent (+1 for us).
pub fn with_sessions(s: &mut Snapshot, sessions: Vec<Session>) {
    let n = sessions.len() as u64 + 1;
    s.sessions = sessions;
    set_status(s, "threads_connected", n);
    let running = s.sessions.iter().filter(|x| !x.is_sleeping()).count() as u64 + 1;
    set_status(s, "threads_running", running);
    let max_used = s.status_u64("max_used_connections").unwrap_or(0).max(n);
    set_status(s, "max_used_connections", max_used);
}

/// `waiting_id` waits `wait_s` seconds for a lock held by `blocking_id` (None: unknown holder, as
/// MariaDB shows metadata-lock waits).
pub fn lock_wait(
    kind: LockKind,
    waiting_id: u64,
    blocking_id: Option<u64>,
    wait_s: u64,
) -> LockWait {
    LockWait {
        kind,
        waiting_id,
        blocking_id,
        object: Some("shop.t".into()),
        wait_s,
    }
}

/// The value of the evidence item `name` of a finding (panics listing them all when missing).
pub fn ev<'a>(f: &'a super::Finding, name: &str) -> &'a str {
    evidence_where(f, name, |e| e == name)
}

/// The value of the first evidence item whose name starts with `prefix`.
pub fn ev_starting<'a>(f: &'a super::Finding, prefix: &str) -> &'a str {
    evidence_where(f, prefix, |e| e.starts_with(prefix))
}

fn evidence_where<'a>(f: &'a super::Finding, what: &str, pick: impl Fn(&str) -> bool) -> &'a str {
    f.evidence
        .iter()
        .find(|e| pick(&e.name))
        .map(|e| e.value.as_str())
        .unwrap_or_else(|| panic!("no evidence {what}: {:?}", f.evidence))
}

/// The README demo's incident (scripts/demo.sh, live on MariaDB 10.11): one client leaked 26
/// connections in a staircase and keeps 10 more warm, an idle transaction (session 42) holds a
/// row lock three sessions queue for, and a report query runs on. 42 connections with ours, of
/// max_connections 60.
pub fn demo_incident() -> Snapshot {
    let mut s = mariadb();
    s.variables.insert("max_connections".into(), "60".into());
    let mut v: Vec<Session> = (0..26)
        .map(|i| session(i + 5, "app", "localhost", "Sleep", 1900 - i * 60, "", None))
        .collect();
    v.extend((0..10).map(|i| session(i + 31, "app", "localhost", "Sleep", i % 3, "", None)));
    v.push(session(42, "app", "localhost", "Sleep", 3, "", None));
    let update = "UPDATE shop.orders SET v = v + 1 WHERE id = 1";
    v.extend((0..3).map(|i| {
        session(
            i + 43,
            "app",
            "localhost",
            "Query",
            100 - i,
            "Updating",
            Some(update),
        )
    }));
    v.push(session(
        46,
        "app",
        "localhost",
        "Query",
        300,
        "User sleep",
        Some("SELECT SLEEP(3600)"),
    ));
    with_sessions(&mut s, v);
    s.transactions = vec![trx(42, "RUNNING", 130, 1, None)];
    s.transactions
        .extend((43..46).map(|id| trx(id, "LOCK WAIT", 100, 0, Some(update))));
    s.lock_waits = (43..46)
        .map(|id| lock_wait(LockKind::Row, id, Some(42), 100 - (id - 43)))
        .collect();
    s
}

/// [`mariadb`] with `n` more client sessions (from `parallel::WORTH_SPLITTING`, a judgement is
/// split over two threads): half a leak (ages falling with the id), a quarter a
/// pool in no order, a quarter long queries.
pub fn at_scale(n: u64) -> Snapshot {
    let mut snap = mariadb();
    for i in 0..n {
        let (user, host, command, time_s, state, info) = match i % 4 {
            0 | 1 => (
                "app",
                "10.0.0.7",
                "Sleep",
                (5_000 + n).saturating_sub(i),
                "",
                None,
            ),
            2 => ("web", "10.0.0.9", "Sleep", (i * 37) % 900, "", None),
            _ => (
                "etl",
                "10.0.0.4",
                "Query",
                700 + i % 50,
                "Sending data",
                Some("SELECT 1"),
            ),
        };
        snap.sessions
            .push(session(1_000 + i, user, host, command, time_s, state, info));
    }
    snap
}

/// Sessions as a writer of their JSON must take them: every field set, none set, and text that
/// needs escaping (quotes, backslash, controls, bidi and zero-width characters, an astral one).
pub fn sessions_to_write() -> Vec<Session> {
    let every = Session {
        id: u64::MAX,
        user: "app".into(),
        host: "10.0.0.7:41000".into(),
        db: Some("shop".into()),
        command: "Query".into(),
        time_s: 12,
        time_ms: Some(12_345),
        state: "Sending data".into(),
        info: Some("SELECT 1".into()),
        info_truncated: true,
        query_id: Some(99),
        program: Some("php-fpm".into()),
        memory_bytes: Some(87_480),
    };
    let hostile = Session {
        user: "a\"b\\c".into(),
        host: "\u{1b}[31mred\u{7f}".into(),
        db: Some("tab\there\nnew".into()),
        state: "\u{202e}bidi\u{200b}zero".into(),
        info: Some("漢字 \u{e0041} \u{85}".into()),
        program: Some(String::new()),
        ..every.clone()
    };
    vec![every, Session::default(), hostile]
}
