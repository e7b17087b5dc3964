//! Every statement the reader sends, per dialect (the read plans `snapshot::read` executes:
//! `plan::first` and `Dialect::plan`), checked against the servers' own table definitions: for MySQL 8.0/8.4, Percona, RDS and Aurora against the column lists
//! taken from mysql/mysql-server source (tests/data/reference/mysql-columns.tsv, see
//! tests/data/PROVENANCE.md); for MariaDB by running each statement on the private server. Then
//! the privilege matrix, live on MariaDB: which reads a PROCESS-only account, a PROCESS +
//! CONNECTION ADMIN account and a USAGE account can do, against what `Read::needs` says.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};

use conncheck::testing::snapshot::Flavor;
use conncheck::testing::snapshot::dialect::Dialect;
use conncheck::testing::snapshot::plan::{self, Needs, Read};
use mysql::prelude::Queryable;
use support::{Server, ServerOpts};

/// Every statement the reader may send to a server of this dialect: round trip 1, then round trip
/// 2 with every optional read, exactly as `snapshot::read` builds them.
fn reads(d: &Dialect) -> Vec<Read> {
    plan::first()
        .reads()
        .iter()
        .chain(d.plan(&Needs::everything(10)).reads())
        .cloned()
        .collect()
}

/// (schema, table) -> columns, from the reference file; `five_seven`: the 5.7-era rows only,
/// else every other (8.x) row.
fn columns(five_seven: bool) -> BTreeMap<(String, String), BTreeSet<String>> {
    let text = include_str!("../data/reference/mysql-columns.tsv");
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
    "like",
    "group",
    "by",
    "order",
    "desc",
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
        for r in reads(&d) {
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

/// The recorder's processlist read (`snapshot::sampling`; `SHOW PROCESSLIST` names no table)
/// and its read of the connection attributes of new sessions name real tables and columns on
/// every MySQL flavor.
#[test]
fn the_recorder_sample_names_real_tables_and_columns() {
    let mut checked = 0;
    for (name, d) in mysql_dialects() {
        let defs = columns(d.version < (8, 0, 0));
        let mut reads = vec![conncheck::testing::snapshot::sampling::sessions_sql(
            d.processlist_source(),
        )];
        if d.reads_connect_attrs() {
            reads.push(conncheck::testing::snapshot::connect_attrs::sql_for(&[
                1, 2,
            ]));
        }
        // The rollbacks read again with the second status reading (`snapshot::read`).
        reads.push(conncheck::testing::snapshot::sql::ROLLING_BACK_SQL.to_string());
        if d.reads_host_cache() {
            reads.push(conncheck::testing::snapshot::host_cache::blocked_sum_sql().to_string());
        }
        for sql in reads.into_iter().filter(|q| !q.starts_with("SHOW ")) {
            match unknown_columns(&sql, &defs) {
                Ok(bad) => assert!(bad.is_empty(), "{name}: unknown {bad:?} in {sql}"),
                Err(e) => panic!("{name}: {e}: {sql}"),
            }
            checked += 1;
        }
    }
    assert!(checked >= 4, "{checked}");
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
        let reads = reads(&d);
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
            assert!(
                plan::LOCK_READS.iter().all(|k| by(k.what).is_empty()),
                "{name}"
            );
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
    let v = conncheck::testing::snapshot::flavor::parse_version(&version);
    let d = Dialect {
        flavor: Flavor::Mariadb,
        version: v,
        rds: false,
        performance_schema: true,
    };
    let reads = reads(&d);
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
                // SHOW ALL SLAVES STATUS: SLAVE MONITOR (10.5.9+) or SUPER; only root has them.
                && (!r.needs.contains("SLAVE MONITOR") || user == "root")
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

/// What names a flavor or a version gate: outside `src/snapshot/` these are decisions the
/// `Dialect` should answer (`Flavor::` and `.flavor`, `is_mariadb()`, `.rds`, `aurora_version`,
/// `version_number`).
fn flavor_branch(line: &str) -> bool {
    let word_after = |pat: &str| {
        line.match_indices(pat).any(|(i, _)| {
            !line[i + pat.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    };
    line.contains("is_mariadb()")
        || line.contains("Flavor::")
        || line.contains("flavor ==")
        || line.contains("flavor !=")
        || line.contains("aurora_version")
        || line.contains("version_number")
        || word_after(".flavor")
        || word_after(".rds")
}

/// Lines outside `src/snapshot/` that may name the flavor, each with why it is not a decision.
const FLAVOR_ALLOWED: &[(&str, &str)] = &[
    // The status report copies the detected identity into its JSON fields (a contract).
    ("src/report/status.rs", "flavor: snap.server.flavor,"),
    ("src/report/status.rs", "rds: snap.server.rds,"),
    // The status header shows that identity, worded by snapshot::flavor::describe.
    (
        "src/render/status.rs",
        "let (name, hosted) = flavor::describe(r.server.flavor, r.server.rds);",
    ),
    // The `--rds` flag of the kill commands, handed to the Dialect.
    (
        "src/commands/kill.rs",
        "let dialect = snap.dialect().with_rds_procedures(self.args.rds);",
    ),
];

/// An attribute that compiles its item only for tests (the diagnose fixtures also for the
/// `fixtures` feature the integration tests turn on).
fn test_cfg(line: &str) -> bool {
    line == "#[cfg(test)]" || line == "#[cfg(any(test, feature = \"fixtures\"))]"
}

/// Files included only in tests (`#[cfg(test)] mod x;`, with or without `#[path]`).
fn test_only_files(file: &std::path::Path, text: &str, out: &mut BTreeSet<std::path::PathBuf>) {
    let dir = file.parent().unwrap();
    let stem = file.file_stem().unwrap().to_str().unwrap();
    let children = if ["mod", "lib", "main"].contains(&stem) {
        dir.to_path_buf()
    } else {
        dir.join(stem)
    };
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    for (i, l) in lines.iter().enumerate() {
        if !test_cfg(l) {
            continue;
        }
        let mut path = None;
        for next in &lines[i + 1..] {
            if let Some(p) = next
                .strip_prefix("#[path = \"")
                .and_then(|r| r.strip_suffix("\"]"))
            {
                path = Some(dir.join(p));
            } else {
                if let Some(name) = next
                    .strip_prefix("mod ")
                    .or_else(|| next.strip_prefix("pub mod "))
                    .and_then(|r| r.strip_suffix(';'))
                {
                    out.insert(path.unwrap_or_else(|| children.join(format!("{name}.rs"))));
                }
                break;
            }
        }
    }
}

/// A file's lines outside `#[cfg(test)]` items, with their numbers.
fn non_test_lines(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut skipping = false;
    let mut depth = 0i64;
    let mut opened = false;
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if !skipping && test_cfg(t) {
            skipping = true;
            depth = 0;
            opened = false;
            continue;
        }
        if skipping {
            depth += i64::try_from(t.matches('{').count()).unwrap()
                - i64::try_from(t.matches('}').count()).unwrap();
            opened |= t.contains('{');
            // An item without a body (`mod x;`, `use …;`) or a closed block ends the skip.
            if (opened && depth <= 0) || (!opened && t.ends_with(';')) {
                skipping = false;
            }
            continue;
        }
        out.push((n + 1, line));
    }
    out
}

/// The Dialect is the only place that knows flavors: no `src/` file outside `src/snapshot/`
/// branches on the flavor, RDS or a version (test modules and fixtures aside). A new flavor
/// question gets a `Dialect` method instead.
#[test]
fn no_flavor_branch_outside_the_dialect() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut stack = vec![root.join("src")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut test_only = BTreeSet::new();
    for f in &files {
        test_only_files(f, &std::fs::read_to_string(f).unwrap(), &mut test_only);
    }
    assert!(
        test_only
            .iter()
            .any(|p| p.ends_with("diagnose/fixtures.rs")),
        "the test-only file detection found {test_only:?}"
    );
    let mut found = Vec::new();
    let mut allowed_seen = BTreeSet::new();
    for f in &files {
        let rel = f
            .strip_prefix(root)
            .unwrap()
            .to_str()
            .unwrap()
            .replace('\\', "/");
        if rel.starts_with("src/snapshot/") || test_only.contains(f) {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in non_test_lines(&text) {
            if !flavor_branch(line) {
                continue;
            }
            let allowed = FLAVOR_ALLOWED
                .iter()
                .position(|(p, l)| *p == rel && *l == line.trim());
            match allowed {
                Some(i) => {
                    allowed_seen.insert(i);
                }
                None => found.push(format!("{rel}:{n}: {}", line.trim())),
            }
        }
    }
    assert!(
        found.is_empty(),
        "flavor knowledge outside src/snapshot/ (ask a Dialect method instead, src/snapshot/dialect.rs):\n{}",
        found.join("\n")
    );
    // A stale allowance would let its line come back as something else.
    assert_eq!(
        allowed_seen.len(),
        FLAVOR_ALLOWED.len(),
        "unused FLAVOR_ALLOWED entries: {:?}",
        FLAVOR_ALLOWED
            .iter()
            .enumerate()
            .filter(|(i, _)| !allowed_seen.contains(i))
            .collect::<Vec<_>>()
    );
}
