//! Every statement the reader sends, per dialect (`Dialect::reads`), checked against the servers'
//! own table definitions: for MySQL 8.0/8.4, Percona, RDS and Aurora against the column lists
//! taken from mysql/mysql-server source (tests/data/reference/mysql-columns.tsv, see
//! tests/data/PROVENANCE.md); for MariaDB by running each statement on the private server. Then
//! the privilege matrix, live on MariaDB: which reads a PROCESS-only account, a PROCESS +
//! CONNECTION ADMIN account and a USAGE account can do, against what `Read::needs` says.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use conncheck::snapshot::Flavor;
use conncheck::snapshot::dialect::{Dialect, Read};
use mysql::prelude::Queryable;
use support::{Server, ServerOpts};

/// (schema, table) -> columns, from the reference file; `five_seven`: the 5.7-era rows only,
/// else every other (8.x) row.
fn columns(five_seven: bool) -> BTreeMap<(String, String), BTreeSet<String>> {
    let text = include_str!("data/reference/mysql-columns.tsv");
    let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for line in text.lines().skip(1).filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 5 || f[0].starts_with("5.7") != five_seven {
            continue;
        }
        out.entry((f[1].to_ascii_lowercase(), f[2].to_ascii_lowercase()))
            .or_default()
            .insert(f[4].to_ascii_lowercase());
    }
    if five_seven {
        // Tables the reference holds only in their 8.x form, whose columns read are the same in
        // 5.7 (information_schema.PROCESSLIST: ID..INFO; performance_schema.session_connect_attrs:
        // PROCESSLIST_ID, ATTR_NAME, ATTR_VALUE since 5.6, per the 5.7 manual's table page).
        for (t, cols) in columns(false) {
            if (t.0 == "information_schema" && t.1 == "processlist")
                || (t.0 == "performance_schema" && t.1 == "session_connect_attrs")
            {
                out.entry(t).or_insert(cols);
            }
        }
    }
    out
}

const KEYWORDS: &[&str] = &[
    "select",
    "from",
    "where",
    "and",
    "or",
    "in",
    "limit",
    "join",
    "left",
    "on",
    "as",
    "is",
    "not",
    "null",
    "second",
    "show",
    "global",
    "status",
    "variables",
    "variable_name",
    "set",
    "session",
    "grants",
    "performance_schema",
    "information_schema",
    "mysql",
];

/// Words of a statement outside quotes: (word, followed by `(`, preceded by `.`).
fn words(sql: &str) -> Vec<(String, bool, Option<String>)> {
    let b: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut prev_word: Option<String> = None;
    while i < b.len() {
        let c = b[i];
        if c == '\'' {
            i += 1;
            while i < b.len() && b[i] != '\'' {
                i += 1;
            }
            i += 1;
            prev_word = None;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            let w: String = b[start..i].iter().collect();
            let call = b.get(i) == Some(&'(');
            let qualifier = (start > 0 && b[start - 1] == '.')
                .then(|| prev_word.clone())
                .flatten();
            out.push((w.clone(), call, qualifier));
            prev_word = Some(w);
            continue;
        }
        if c.is_ascii_digit() {
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            continue;
        }
        i += 1;
    }
    out
}

/// Tables of a statement with their aliases: alias (or table name) -> (schema, table).
fn tables(sql: &str) -> BTreeMap<String, (String, String)> {
    let w = words(sql);
    let mut out = BTreeMap::new();
    for (i, (word, _, q)) in w.iter().enumerate() {
        if let Some(schema) = q
            && ["performance_schema", "information_schema", "mysql"]
                .contains(&schema.to_ascii_lowercase().as_str())
        {
            let t = (schema.to_ascii_lowercase(), word.to_ascii_lowercase());
            out.insert(word.to_ascii_lowercase(), t.clone());
            if let Some((alias, false, None)) = w.get(i + 1)
                && !KEYWORDS.contains(&alias.to_ascii_lowercase().as_str())
            {
                out.insert(alias.to_ascii_lowercase(), t);
            }
        }
    }
    out
}

/// Columns a statement names that its tables lack, per the reference.
fn unknown_columns(
    sql: &str,
    defs: &BTreeMap<(String, String), BTreeSet<String>>,
) -> Result<Vec<String>, String> {
    let tabs = tables(sql);
    for t in tabs.values() {
        if !defs.contains_key(t) {
            return Err(format!("{}.{} has no reference definition", t.0, t.1));
        }
    }
    let mut bad = Vec::new();
    for (word, call, qualifier) in words(sql) {
        let lw = word.to_ascii_lowercase();
        if call || KEYWORDS.contains(&lw.as_str()) || tabs.contains_key(&lw) {
            continue;
        }
        let ok = match qualifier.map(|q| q.to_ascii_lowercase()) {
            Some(q)
                if ["performance_schema", "information_schema", "mysql"].contains(&q.as_str()) =>
            {
                true
            }
            Some(q) => tabs.get(&q).is_some_and(|t| defs[t].contains(&lw)),
            None => tabs.values().any(|t| defs[t].contains(&lw)),
        };
        if !ok {
            bad.push(word);
        }
    }
    Ok(bad)
}

fn mysql_dialects() -> Vec<(&'static str, Dialect)> {
    let d = |flavor, version, rds, ps| Dialect {
        flavor,
        version,
        rds,
        performance_schema: ps,
    };
    vec![
        ("MySQL 8.0.36", d(Flavor::Mysql, (8, 0, 36), false, true)),
        ("MySQL 8.4.3", d(Flavor::Mysql, (8, 4, 3), false, true)),
        ("MySQL 8.0.21", d(Flavor::Mysql, (8, 0, 21), false, true)),
        (
            "Percona 8.0.40",
            d(Flavor::Percona, (8, 0, 40), false, true),
        ),
        (
            "RDS MySQL 8.0.41, P_S OFF",
            d(Flavor::Mysql, (8, 0, 41), true, false),
        ),
        (
            "RDS MySQL 8.0.41, P_S ON",
            d(Flavor::Mysql, (8, 0, 41), true, true),
        ),
        (
            "Aurora 3 (8.0.32)",
            d(Flavor::Aurora, (8, 0, 32), true, true),
        ),
        ("MySQL 5.7.44", d(Flavor::Mysql, (5, 7, 44), false, true)),
    ]
}

#[test]
fn every_mysql_statement_names_real_tables_and_columns() {
    let mut checked = 0;
    for (name, d) in mysql_dialects() {
        let defs = columns(d.version < (8, 0, 0));
        for r in d.reads(10, true) {
            let tabs = tables(&r.sql);
            // mysql.user is a grant table, not in the reference; SHOW/SET have no tables.
            if tabs.is_empty() || tabs.values().all(|t| t.0 == "mysql") {
                continue;
            }
            match unknown_columns(&r.sql, &defs) {
                Ok(bad) => assert!(
                    bad.is_empty(),
                    "{name}: {}: unknown {bad:?} in {}",
                    r.what,
                    r.sql
                ),
                Err(e) => panic!("{name}: {}: {e}: {}", r.what, r.sql),
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "{checked}");
}

#[test]
fn the_checker_catches_a_wrong_column() {
    let defs = columns(false);
    assert_eq!(
        unknown_columns(
            "SELECT p.ID, p.PROGRAM FROM performance_schema.processlist p",
            &defs
        ),
        Ok(vec!["PROGRAM".to_string()])
    );
    assert!(
        unknown_columns(
            "SELECT requesting_trx_id FROM information_schema.INNODB_LOCK_WAITS",
            &defs
        )
        .is_err()
    );
    assert_eq!(
        unknown_columns(
            "SELECT trx_id, trx_nope FROM information_schema.INNODB_TRX",
            &defs
        ),
        Ok(vec!["trx_nope".to_string()])
    );
}

/// What each MySQL dialect reads, where: the least-privilege facts of the audit.
#[test]
fn mysql_privilege_needs() {
    for (name, d) in mysql_dialects() {
        let reads = d.reads(10, true);
        let by = |what: &str| {
            reads
                .iter()
                .filter(|r| r.what == what)
                .collect::<Vec<&Read>>()
        };
        // The processlist never needs SELECT on performance_schema (PFS_readonly_processlist_acl).
        let p = &by("processlist")[0];
        assert!(!p.sql.contains("session_connect_attrs"), "{name}");
        assert!(
            p.required && !p.needs.contains("performance_schema"),
            "{name}"
        );
        // The connection attributes need it, are optional, and only asked for with P_S ON.
        assert_eq!(
            by("client programs").len(),
            usize::from(d.performance_schema),
            "{name}"
        );
        assert!(
            by("client programs")
                .iter()
                .all(|r| !r.required && r.needs.contains("performance_schema"))
        );
        // P_S OFF on MySQL 8: no lock tables asked for (they would answer empty).
        if d.version >= (8, 0, 1) && !d.performance_schema {
            assert!(by("lock waits").is_empty(), "{name}");
        }
        // No MariaDB-only syntax.
        // (SHOW GLOBAL VARIABLES/STATUS name MariaDB-only variables harmlessly: absent names
        // return no row.)
        for r in reads.iter().filter(|r| !r.sql.starts_with("SHOW")) {
            assert!(
                !r.sql.contains("max_statement_time")
                    && !r.sql.contains("METADATA_LOCK_INFO")
                    && !r.sql.contains("TIME_MS"),
                "{name}: {}",
                r.sql
            );
            if d.version >= (8, 0, 1) {
                assert!(
                    !r.sql.contains("INNODB_LOCK"),
                    "{name}: removed in 8.0.1: {}",
                    r.sql
                );
            }
        }
    }
}

/// Every MariaDB statement runs on the private server (performance_schema ON, the
/// metadata_lock_info plugin installed), and the privilege matrix holds live: each account can
/// do exactly the reads whose `needs` it meets, and a refused read is a privilege error.
#[test]
fn mariadb_statements_run_and_the_privilege_matrix_holds() {
    let s = Server::start(ServerOpts {
        extra_args: vec!["--performance-schema=ON".into()],
        ..ServerOpts::default()
    });
    s.sql("INSTALL SONAME 'metadata_lock_info'");
    s.create_user("usage_only", "p", "USAGE");
    s.create_user("proc", "p", "PROCESS");
    s.create_user("adm", "p", "PROCESS, CONNECTION ADMIN");
    s.create_user("mon", "p", "PROCESS, CONNECTION ADMIN");
    s.sql("GRANT SELECT ON performance_schema.* TO 'mon'@'%', 'mon'@'localhost'");
    s.sql("GRANT SELECT ON mysql.user TO 'mon'@'%', 'mon'@'localhost'");
    let version: String = s.root().query_first("SELECT VERSION()").unwrap().unwrap();
    let v = conncheck::snapshot::flavor::parse_version(&version);
    let d = Dialect {
        flavor: Flavor::Mariadb,
        version: v,
        rds: false,
        performance_schema: true,
    };
    let reads = d.reads(10, true);
    assert!(reads.iter().any(|r| r.what == "client programs"));
    assert!(reads.iter().any(|r| r.what == "metadata-lock holders"));
    // (account, has PROCESS, may SELECT performance_schema, may SELECT mysql.user)
    let accounts = [
        ("root", true, true, true),
        ("mon", true, true, true),
        ("adm", true, false, false),
        ("proc", true, false, false),
        ("usage_only", false, false, false),
    ];
    let mut matrix = Vec::new();
    for (user, process, pfs, grant_tables) in accounts {
        let pw = if user == "root" { "" } else { "p" };
        let mut c = s.connect(user, pw).unwrap();
        for r in &reads {
            let got = c.query_iter(&r.sql).map(|mut res| {
                while let Some(set) = res.iter() {
                    for row in set {
                        row.unwrap();
                    }
                }
            });
            let expected_ok = (!r.needs.contains("PROCESS") || process)
                && (!r.needs.contains("performance_schema") || pfs)
                && (!r.needs.contains("mysql.user") || grant_tables)
                // PROCESS for the processlist only widens what it shows.
                || r.needs.starts_with("PROCESS to see");
            matrix.push(format!(
                "{user:<10} {:<22} {}",
                r.what,
                if got.is_ok() { "ok" } else { "refused" }
            ));
            match got {
                Ok(()) => assert!(
                    expected_ok,
                    "{user}: {} should be refused: {}",
                    r.what, r.sql
                ),
                Err(e) => {
                    assert!(!expected_ok, "{user}: {} failed: {e}: {}", r.what, r.sql);
                    assert!(!r.required, "{user}: required {} refused: {e}", r.what);
                    let code = match &e {
                        mysql::Error::MySqlError(m) => m.code,
                        _ => 0,
                    };
                    assert!([1142, 1227].contains(&code), "{user}: {}: {e}", r.what);
                }
            }
        }
    }
    eprintln!("{}", matrix.join("\n"));
}
