//! Unit tests of `connect::optfile` (kept beside it, out of the way of its code).

use super::*;
use std::io::Write;

const SECRET: &str = "Zq9SuperSecretPw";
const GROUPS: &[&str] = &["client", "conncheck"];

fn parse(text: &str) -> Result<OptionSet, OptFileError> {
    let mut set = OptionSet::default();
    parse_str(text, Path::new("/virtual/my.cnf"), GROUPS, &mut set)?;
    Ok(set)
}

fn val(set: &OptionSet, key: &str) -> Option<String> {
    set.get(key).and_then(|v| v.value.clone())
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    let mut f = fs::File::create(&path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
    set_mode(&path, 0o600);
    path
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) {}

fn assert_no_secret(set_or_err: &str) {
    assert!(
        !set_or_err.contains(SECRET) && !set_or_err.contains("SuperSecret"),
        "secret leaked: {set_or_err}"
    );
}

// ---- basic syntax ----

#[test]
fn simple_key_values() {
    let set = parse("[client]\nuser=app\nhost = db1\nport= 3306\n").unwrap();
    assert_eq!(val(&set, "user").as_deref(), Some("app"));
    assert_eq!(val(&set, "host").as_deref(), Some("db1"));
    assert_eq!(val(&set, "port").as_deref(), Some("3306"));
    let host = set.get("host").unwrap();
    assert_eq!(host.line, 3);
    assert_eq!(host.file, Path::new("/virtual/my.cnf"));
}

#[test]
fn flags_without_value() {
    let set = parse("[client]\npassword\nskip-ssl\ncompress # trailing\n").unwrap();
    assert_eq!(set.get("password").unwrap().value, None);
    assert_eq!(set.get("skip_ssl").unwrap().value, None);
    assert_eq!(set.get("compress").unwrap().value, None);
}

#[test]
fn empty_value_is_some_empty() {
    let set = parse("[client]\npassword=\n").unwrap();
    assert_eq!(val(&set, "password").as_deref(), Some(""));
}

#[test]
fn comments_and_blank_lines() {
    let text = "# leading comment\n; another\n\n[client]\n  # indented\n\t; indented\nuser=app # trailing\nhost=db1#nospace\n\n";
    let set = parse(text).unwrap();
    assert_eq!(val(&set, "user").as_deref(), Some("app"));
    assert_eq!(val(&set, "host").as_deref(), Some("db1"));
    assert_eq!(set.values.len(), 2);
}

#[test]
fn semicolon_after_value_is_not_a_comment() {
    let set = parse("[client]\ninit-command=SET a=1; SET b=2\n").unwrap();
    assert_eq!(
        val(&set, "init_command").as_deref(),
        Some("SET a=1; SET b=2")
    );
}

#[test]
fn whitespace_trimmed() {
    let set = parse("   [ client ]   \n   user   =   app   \r\n").unwrap();
    assert_eq!(val(&set, "user").as_deref(), Some("app"));
}

#[test]
fn crlf_and_bom() {
    let set = parse("\u{feff}[client]\r\nuser=app\r\nhost=h\r\n").unwrap();
    assert_eq!(val(&set, "user").as_deref(), Some("app"));
    assert_eq!(val(&set, "host").as_deref(), Some("h"));
}

#[test]
fn value_may_contain_equals() {
    let set = parse("[client]\ninit_command=SET x=1\n").unwrap();
    assert_eq!(val(&set, "init_command").as_deref(), Some("SET x=1"));
}

// ---- groups ----

#[test]
fn only_requested_groups_kept() {
    let text = "[mysqld]\nport=1\n[client]\nport=2\n[mysql]\nuser=x\n[conncheck]\nhost=h\n";
    let set = parse(text).unwrap();
    assert_eq!(val(&set, "port").as_deref(), Some("2"));
    assert_eq!(val(&set, "host").as_deref(), Some("h"));
    assert!(set.get("user").is_none());
}

#[test]
fn group_names_case_insensitive_and_trimmed() {
    let set = parse("[  CLIENT ]\nuser=a\n[ConnCheck]\nhost=b\n").unwrap();
    assert_eq!(val(&set, "user").as_deref(), Some("a"));
    assert_eq!(val(&set, "host").as_deref(), Some("b"));
    let mut set = OptionSet::default();
    parse_str(
        "[client]\nuser=a\n",
        Path::new("x"),
        &[" Client "],
        &mut set,
    )
    .unwrap();
    assert_eq!(val(&set, "user").as_deref(), Some("a"));
}

#[test]
fn group_header_with_trailing_comment() {
    let set = parse("[client] # the client group\nuser=a\n").unwrap();
    assert_eq!(val(&set, "user").as_deref(), Some("a"));
}

#[test]
fn option_before_group_is_error() {
    let e = parse("# c\nuser=app\n[client]\n").unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.message.contains("outside of any [group]"), "{e}");
    assert_eq!(
        e.to_string(),
        "/virtual/my.cnf:2: option outside of any [group]"
    );
}

#[test]
fn malformed_lines_in_other_groups_are_ignored() {
    // MySQL does not parse options of groups it does not read.
    let set = parse("[mysqld]\nfoo=\"unterminated\n[client]\nuser=a\n").unwrap();
    assert_eq!(val(&set, "user").as_deref(), Some("a"));
}

#[test]
fn malformed_group_headers() {
    for (text, needle) in [
        ("[client\nuser=a\n", "missing ']'"),
        ("[]\n", "empty group name"),
        ("[  ]\n", "empty group name"),
        ("[client] junk\n", "unexpected text after group header"),
    ] {
        let e = parse(text).unwrap_err();
        assert_eq!(e.line, 1, "{text}");
        assert!(e.message.contains(needle), "{text}: {e}");
    }
}

#[test]
fn malformed_option_lines() {
    for (text, needle) in [
        ("[client]\n=value\n", "empty name"),
        ("[client]\n  = value\n", "empty name"),
        ("[client]\nloose-=1\n", "empty name"),
        ("[client]\nhost localhost\n", "whitespace"),
    ] {
        let e = parse(text).unwrap_err();
        assert_eq!(e.line, 2, "{text}");
        assert!(e.message.contains(needle), "{text}: {e}");
    }
}

// ---- names ----

#[test]
fn names_normalized() {
    let set = parse(
        "[client]\nSSL-CA=/ca.pem\nloose-default-character-set=utf8mb4\nLoose_Connect_Timeout=5\n",
    )
    .unwrap();
    assert_eq!(val(&set, "ssl_ca").as_deref(), Some("/ca.pem"));
    assert_eq!(val(&set, "ssl-ca").as_deref(), Some("/ca.pem"));
    assert_eq!(val(&set, "SSL_CA").as_deref(), Some("/ca.pem"));
    assert_eq!(
        val(&set, "default_character_set").as_deref(),
        Some("utf8mb4")
    );
    assert_eq!(val(&set, "loose-connect-timeout").as_deref(), Some("5"));
    assert!(set.values.contains_key("connect_timeout"));
    assert!(set.values.keys().all(|k| !k.contains('-')));
}

#[test]
fn dash_and_underscore_same_key_later_wins() {
    let set = parse("[client]\nssl-mode=REQUIRED\nssl_mode=DISABLED\n").unwrap();
    assert_eq!(val(&set, "ssl-mode").as_deref(), Some("DISABLED"));
    assert_eq!(set.get("ssl_mode").unwrap().line, 3);
}

// ---- quoting and escapes ----

#[test]
fn quoted_values() {
    let text = "[client]\na=\"hello world\"\nb='single # not comment'\nc=\"x\" # comment\nd=''\ne=\"it's\"\nf='say \"hi\"'\n";
    let set = parse(text).unwrap();
    assert_eq!(val(&set, "a").as_deref(), Some("hello world"));
    assert_eq!(val(&set, "b").as_deref(), Some("single # not comment"));
    assert_eq!(val(&set, "c").as_deref(), Some("x"));
    assert_eq!(val(&set, "d").as_deref(), Some(""));
    assert_eq!(val(&set, "e").as_deref(), Some("it's"));
    assert_eq!(val(&set, "f").as_deref(), Some("say \"hi\""));
}

#[test]
fn quoted_value_preserves_inner_whitespace() {
    let set = parse("[client]\np=\"  padded  \"\n").unwrap();
    assert_eq!(val(&set, "p").as_deref(), Some("  padded  "));
}

#[test]
fn escapes_in_quotes() {
    let set = parse(
        r#"[client]
a="tab\there"
b="nl\ncr\rbs\b"
c="back\\slash"
d="sp\sace"
e="q\"uote"
f='ap\'os'
g="unknown\xkeep"
"#,
    )
    .unwrap();
    assert_eq!(val(&set, "a").as_deref(), Some("tab\there"));
    assert_eq!(val(&set, "b").as_deref(), Some("nl\ncr\rbs\u{8}"));
    assert_eq!(val(&set, "c").as_deref(), Some("back\\slash"));
    assert_eq!(val(&set, "d").as_deref(), Some("sp ace"));
    assert_eq!(val(&set, "e").as_deref(), Some("q\"uote"));
    assert_eq!(val(&set, "f").as_deref(), Some("ap'os"));
    assert_eq!(val(&set, "g").as_deref(), Some("unknown\\xkeep"));
}

#[test]
fn escapes_unquoted() {
    let set = parse("[client]\na=C:\\\\dir\\sname\nb=trail\\\nc=x\\\"y\n").unwrap();
    assert_eq!(val(&set, "a").as_deref(), Some("C:\\dir name"));
    assert_eq!(val(&set, "b").as_deref(), Some("trail\\"));
    assert_eq!(val(&set, "c").as_deref(), Some("x\"y"));
}

#[test]
fn escaped_backslash_before_closing_quote() {
    let set = parse("[client]\na=\"dir\\\\\" # c\n").unwrap();
    assert_eq!(val(&set, "a").as_deref(), Some("dir\\"));
}

#[test]
fn unterminated_quote_is_error() {
    for text in [
        "[client]\n\nuser=\"abc\n",
        "[client]\n\nuser='abc\n",
        "[client]\n\nuser=\"abc\\\"\n",
    ] {
        let e = parse(text).unwrap_err();
        assert_eq!(e.line, 3, "{text}");
        assert_eq!(e.file, Path::new("/virtual/my.cnf"));
        assert!(e.message.contains("unterminated quote"), "{e}");
        assert!(e.message.contains("'user'"), "{e}");
    }
}

#[test]
fn text_after_closing_quote_is_error() {
    let e = parse("[client]\nuser=\"a\" b\n").unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.message.contains("after closing quote"), "{e}");
}

// ---- precedence ----

#[test]
fn later_line_wins() {
    let set = parse("[client]\nuser=a\n[conncheck]\nuser=b\n[client]\nuser=c\n").unwrap();
    let v = set.get("user").unwrap();
    assert_eq!(v.value.as_deref(), Some("c"));
    assert_eq!(v.line, 6);
}

#[test]
fn later_file_wins_and_earlier_keys_survive() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.cnf", "[client]\nuser=a\nhost=ha\n");
    let b = write(dir.path(), "b.cnf", "[client]\nuser=b\n");
    let mut set = OptionSet::default();
    set.read_file(&a, GROUPS, true).unwrap();
    set.read_file(&b, GROUPS, true).unwrap();
    assert_eq!(val(&set, "user").as_deref(), Some("b"));
    assert_eq!(set.get("user").unwrap().file, b);
    assert_eq!(val(&set, "host").as_deref(), Some("ha"));
    assert_eq!(set.get("host").unwrap().file, a);
}

#[test]
fn error_leaves_set_untouched() {
    let mut set = parse("[client]\nuser=orig\n").unwrap();
    let e = parse_str(
        "[client]\nuser=new\nhost=\"bad\n",
        Path::new("x.cnf"),
        GROUPS,
        &mut set,
    )
    .unwrap_err();
    assert_eq!(e.line, 3);
    assert_eq!(val(&set, "user").as_deref(), Some("orig"));
    assert!(set.get("host").is_none());
}

// ---- files ----

#[test]
fn missing_file_required_vs_optional() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.cnf");
    let mut set = OptionSet::default();
    set.read_file(&missing, GROUPS, false).unwrap();
    assert!(set.values.is_empty());
    assert!(set.warnings.is_empty());
    let e = set.read_file(&missing, GROUPS, true).unwrap_err();
    assert_eq!(e.file, missing);
    assert_eq!(e.line, 0);
    assert!(
        e.to_string()
            .starts_with(&format!("{}: cannot read", missing.display()))
    );
}

#[test]
fn directory_as_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut set = OptionSet::default();
    let e = set.read_file(dir.path(), GROUPS, true).unwrap_err();
    assert_eq!(e.line, 0);
    assert!(e.message.contains("directory"), "{e}");
    set.read_file(dir.path(), GROUPS, false).unwrap();
    assert_eq!(set.warnings.len(), 1);
}

#[test]
fn non_utf8_is_lossy_with_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.cnf");
    fs::write(&path, b"[client]\nuser=caf\xe9\nhost=h\n").unwrap();
    set_mode(&path, 0o600);
    let mut set = OptionSet::default();
    set.read_file(&path, GROUPS, true).unwrap();
    assert_eq!(val(&set, "user").as_deref(), Some("caf\u{fffd}"));
    assert_eq!(val(&set, "host").as_deref(), Some("h"));
    assert_eq!(set.warnings.len(), 1);
    assert!(set.warnings[0].contains("UTF-8"), "{:?}", set.warnings);
}

#[test]
fn default_files_order() {
    assert_eq!(
        default_files(Some(Path::new("/home/u"))),
        vec![
            PathBuf::from("/etc/my.cnf"),
            PathBuf::from("/etc/mysql/my.cnf"),
            PathBuf::from("/home/u/.my.cnf"),
        ]
    );
    assert_eq!(
        default_files(None),
        vec![
            PathBuf::from("/etc/my.cnf"),
            PathBuf::from("/etc/mysql/my.cnf")
        ]
    );
}

// ---- includes ----

#[test]
fn include_file() {
    let dir = tempfile::tempdir().unwrap();
    let inc = write(dir.path(), "inc.cnf", "[client]\nhost=inc-host\nuser=inc\n");
    let main = write(
        dir.path(),
        "main.cnf",
        &format!(
            "[client]\nuser=before\n!include {}\nport=3307\n",
            inc.display()
        ),
    );
    let mut set = OptionSet::default();
    set.read_file(&main, GROUPS, true).unwrap();
    // Included lines are merged at the point of inclusion.
    assert_eq!(val(&set, "user").as_deref(), Some("inc"));
    assert_eq!(set.get("user").unwrap().file, inc);
    assert_eq!(set.get("user").unwrap().line, 3);
    assert_eq!(val(&set, "port").as_deref(), Some("3307"));
    assert_eq!(set.get("port").unwrap().file, main);
}

#[test]
fn value_after_include_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let inc = write(dir.path(), "inc.cnf", "[client]\nuser=inc\n");
    let text = format!("[client]\n!include {}\nuser=after\n", inc.display());
    let mut set = OptionSet::default();
    parse_str(&text, &dir.path().join("main.cnf"), GROUPS, &mut set).unwrap();
    assert_eq!(val(&set, "user").as_deref(), Some("after"));
}

#[test]
fn include_before_any_group_and_group_state_is_per_file() {
    let dir = tempfile::tempdir().unwrap();
    // The included file has its own [group] state: it starts with none.
    let inc = write(dir.path(), "inc.cnf", "[mysqld]\nuser=server\n");
    let text = format!(
        "!include {}\n[client]\nuser=client\n!include {}\nhost=h\n",
        inc.display(),
        inc.display()
    );
    let set = parse(&text).unwrap();
    assert_eq!(val(&set, "user").as_deref(), Some("client"));
    // Still in [client] after the include returns.
    assert_eq!(val(&set, "host").as_deref(), Some("h"));
}

#[test]
fn included_file_without_group_is_error_in_that_file() {
    let dir = tempfile::tempdir().unwrap();
    let inc = write(dir.path(), "inc.cnf", "\nuser=x\n");
    let text = format!("[client]\n!include {}\n", inc.display());
    let e = parse(&text).unwrap_err();
    assert_eq!(e.file, inc);
    assert_eq!(e.line, 2);
}

#[test]
fn missing_include_names_includer() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("gone.cnf");
    let main = write(
        dir.path(),
        "main.cnf",
        &format!("[client]\nuser=a\n\n!include {}\n", missing.display()),
    );
    let mut set = OptionSet::default();
    let e = set.read_file(&main, GROUPS, false).unwrap_err();
    assert_eq!(e.file, main);
    assert_eq!(e.line, 4);
    assert!(e.message.contains("gone.cnf"), "{e}");
    assert!(set.values.is_empty());
}

#[test]
fn include_directive_errors() {
    for text in [
        "[client]\n!include\n",
        "[client]\n!include   \n",
        "[client]\n!includedir\n",
        "[client]\n!bogus x\n",
    ] {
        let e = parse(text).unwrap_err();
        assert_eq!(e.line, 2, "{text}");
    }
}

#[test]
fn error_in_included_file_names_that_file() {
    let dir = tempfile::tempdir().unwrap();
    let inc = write(dir.path(), "inc.cnf", "[client]\nok=1\nbad=\"x\n");
    let main = write(
        dir.path(),
        "main.cnf",
        &format!("[client]\n!include {}\n", inc.display()),
    );
    let e = OptionSet::default()
        .read_file(&main, GROUPS, true)
        .unwrap_err();
    assert_eq!(e.file, inc);
    assert_eq!(e.line, 3);
}

#[test]
fn includedir_reads_cnf_sorted() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf.d");
    fs::create_dir(&conf).unwrap();
    write(&conf, "20-b.cnf", "[client]\nuser=b\nhost=hb\n");
    write(&conf, "10-a.cnf", "[client]\nuser=a\nport=1\n");
    write(&conf, "30-c.cnf", "[mysqld]\nuser=server\n");
    write(&conf, "99-z.conf", "[client]\nuser=not-cnf\n");
    write(&conf, "50-x.cnf.bak", "[client]\nuser=backup\n");
    fs::create_dir(conf.join("sub.cnf")).unwrap();
    let text = format!("[client]\nuser=main\n!includedir {}\n", conf.display());
    let set = parse(&text).unwrap();
    assert_eq!(val(&set, "user").as_deref(), Some("b"));
    assert_eq!(set.get("user").unwrap().file, conf.join("20-b.cnf"));
    assert_eq!(val(&set, "port").as_deref(), Some("1"));
    assert_eq!(val(&set, "host").as_deref(), Some("hb"));
}

#[test]
fn missing_includedir_is_error() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[client]\n!includedir {}\n",
        dir.path().join("nope").display()
    );
    let e = parse(&text).unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.message.contains("nope"), "{e}");
}

#[test]
fn include_self_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("self.cnf");
    let p = write(
        dir.path(),
        "self.cnf",
        &format!("[client]\nuser=a\n!include {}\n", path.display()),
    );
    let e = OptionSet::default()
        .read_file(&p, GROUPS, true)
        .unwrap_err();
    assert_eq!(e.file, p);
    assert_eq!(e.line, 3);
    assert!(e.message.contains("cycle"), "{e}");
}

#[test]
fn include_two_file_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.cnf");
    let b = dir.path().join("b.cnf");
    write(
        dir.path(),
        "a.cnf",
        &format!("[client]\n!include {}\n", b.display()),
    );
    write(
        dir.path(),
        "b.cnf",
        &format!("[client]\nx=1\n!include {}\n", a.display()),
    );
    let e = OptionSet::default()
        .read_file(&a, GROUPS, true)
        .unwrap_err();
    assert_eq!(e.file, b);
    assert_eq!(e.line, 3);
    assert!(e.message.contains("cycle"), "{e}");
}

#[test]
fn includedir_containing_includer_is_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "main.cnf",
        &format!("[client]\n!includedir {}\n", dir.path().display()),
    );
    let e = OptionSet::default()
        .read_file(&main, GROUPS, true)
        .unwrap_err();
    assert!(e.message.contains("cycle"), "{e}");
}

#[test]
fn same_file_included_twice_is_not_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let inc = write(dir.path(), "inc.cnf", "[client]\nport=1\n");
    let text = format!(
        "[client]\n!include {0}\nport=2\n!include {0}\n",
        inc.display()
    );
    let set = parse(&text).unwrap();
    assert_eq!(val(&set, "port").as_deref(), Some("1"));
}

#[test]
fn include_depth_limit() {
    let dir = tempfile::tempdir().unwrap();
    // f0 -> f1 -> ... -> fN; each a distinct file, so no cycle.
    let make_chain = |n: usize| {
        for i in 0..n {
            let next = dir.path().join(format!("d{n}-f{}.cnf", i + 1));
            write(
                dir.path(),
                &format!("d{n}-f{i}.cnf"),
                &format!("[client]\nlevel={i}\n!include {}\n", next.display()),
            );
        }
        write(
            dir.path(),
            &format!("d{n}-f{n}.cnf"),
            &format!("[client]\nlevel={n}\n"),
        );
        dir.path().join(format!("d{n}-f0.cnf"))
    };
    // 10 levels of nesting is allowed.
    let ok = make_chain(10);
    let mut set = OptionSet::default();
    set.read_file(&ok, GROUPS, true).unwrap();
    assert_eq!(val(&set, "level").as_deref(), Some("10"));
    // 11 is not.
    let deep = make_chain(11);
    let e = OptionSet::default()
        .read_file(&deep, GROUPS, true)
        .unwrap_err();
    assert!(e.message.contains("too deeply"), "{e}");
    assert_eq!(e.line, 3);
}

// ---- permissions and secrets ----

#[cfg(unix)]
#[test]
fn password_in_world_readable_file_warns() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "my.cnf",
        &format!("[client]\npassword={SECRET}\n"),
    );
    set_mode(&p, 0o644);
    let mut set = OptionSet::default();
    set.read_file(&p, GROUPS, true).unwrap();
    assert_eq!(val(&set, "password").as_deref(), Some(SECRET));
    assert_eq!(
        set.warnings,
        vec![format!(
            "warning: {0} contains a password and is readable by other users (chmod 600 {0})",
            p.display()
        )]
    );
    for w in &set.warnings {
        assert_no_secret(w);
    }
}

#[cfg(unix)]
#[test]
fn no_warning_for_private_file_or_no_password() {
    let dir = tempfile::tempdir().unwrap();
    let private = write(
        dir.path(),
        "a.cnf",
        &format!("[client]\npassword={SECRET}\n"),
    );
    set_mode(&private, 0o600);
    let public = write(dir.path(), "b.cnf", "[client]\nuser=a\npassword\n");
    set_mode(&public, 0o644);
    // A password in a group we don't read is not "set" by the file for us.
    let other = write(dir.path(), "c.cnf", "[mysqldump]\npassword=x\n");
    set_mode(&other, 0o644);
    let mut set = OptionSet::default();
    for p in [&private, &public, &other] {
        set.read_file(p, GROUPS, true).unwrap();
    }
    assert!(set.warnings.is_empty(), "{:?}", set.warnings);
}

#[cfg(unix)]
#[test]
fn password_warning_names_included_file() {
    let dir = tempfile::tempdir().unwrap();
    let inc = write(
        dir.path(),
        "secret.cnf",
        &format!("[client]\npassword={SECRET}\n"),
    );
    set_mode(&inc, 0o604);
    let main = write(
        dir.path(),
        "main.cnf",
        &format!("!include {}\n", inc.display()),
    );
    let mut set = OptionSet::default();
    set.read_file(&main, GROUPS, true).unwrap();
    assert_eq!(set.warnings.len(), 1);
    assert!(set.warnings[0].contains("secret.cnf"));
    assert_no_secret(&set.warnings[0]);
}

#[cfg(unix)]
#[test]
fn world_writable_file_ignored() {
    let dir = tempfile::tempdir().unwrap();
    for mode in [0o666, 0o602, 0o622] {
        let p = write(
            dir.path(),
            &format!("ww{mode:o}.cnf"),
            &format!("[client]\nuser=evil\npassword={SECRET}\n"),
        );
        set_mode(&p, mode);
        // Named explicitly (--defaults-file): an error, never a silent fall-back.
        let e = OptionSet::default()
            .read_file(&p, GROUPS, true)
            .unwrap_err();
        assert!(e.message.contains("chmod o-w"), "{e}");
        assert_no_secret(&e.to_string());
        // Found on the default search list: skipped with a warning, as mysql does.
        let mut set = OptionSet::default();
        set.read_file(&p, GROUPS, false).unwrap();
        assert!(set.values.is_empty());
        assert_eq!(
            set.warnings,
            vec![format!(
                "warning: World-writable config file '{}' is ignored",
                p.display()
            )]
        );
        assert_no_secret(&set.warnings[0]);
    }
}

/// A world-writable file included from the default search list is skipped with a warning, as
/// mysql does; included from a file named explicitly (`--defaults-file`) it is an error naming
/// the include line: skipping it would silently send the run to another server.
#[cfg(unix)]
#[test]
fn world_writable_include_ignored_from_defaults_refused_from_an_explicit_file() {
    let dir = tempfile::tempdir().unwrap();
    let inc = write(dir.path(), "inc.cnf", "[client]\nhost=evil\n");
    set_mode(&inc, 0o666);
    let main = write(
        dir.path(),
        "main.cnf",
        &format!("[client]\nuser=good\n!include {}\n", inc.display()),
    );
    let mut set = OptionSet::default();
    set.read_file(&main, GROUPS, false).unwrap();
    assert_eq!(val(&set, "user").as_deref(), Some("good"));
    assert_eq!(val(&set, "host"), None);
    assert_eq!(set.warnings.len(), 1);

    let mut set = OptionSet::default();
    let e = set.read_file(&main, GROUPS, true).unwrap_err();
    assert_eq!((e.file.as_path(), e.line), (main.as_path(), 3));
    assert!(e.message.contains("world-writable"), "{e}");
    assert!(e.message.contains("inc.cnf"), "{e}");
    assert!(set.values.is_empty(), "nothing is merged");
}

/// Found by the adversarial review: includes that are no cycle can still fan out (each file
/// including the next one several times), so reading never ended. At most `MAX_FILES` files.
#[test]
fn include_fan_out_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    // f0 includes f1 ten times, f1 includes f2 ten times ... : 10^10 reads without a bound.
    for i in 0..10 {
        let next = dir.path().join(format!("f{}.cnf", i + 1));
        let body = format!("!include {}\n", next.display()).repeat(10);
        write(
            dir.path(),
            &format!("f{i}.cnf"),
            &format!("[client]\n{body}"),
        );
    }
    write(dir.path(), "f10.cnf", "[client]\nuser=deep\n");
    let e = OptionSet::default()
        .read_file(&dir.path().join("f0.cnf"), GROUPS, true)
        .unwrap_err();
    assert!(
        e.message.contains("too many included files (more than 100"),
        "{e}"
    );

    // A folder of more .cnf files than allowed, through !includedir.
    let many = dir.path().join("many");
    fs::create_dir(&many).unwrap();
    for i in 0..=super::MAX_FILES {
        write(&many, &format!("{i:03}.cnf"), "[client]\n");
    }
    let main = write(
        dir.path(),
        "main.cnf",
        &format!("!includedir {}\n", many.display()),
    );
    let e = OptionSet::default()
        .read_file(&main, GROUPS, true)
        .unwrap_err();
    assert!(e.message.contains("too many included files"), "{e}");
    // Exactly the bound is fine: the top file and 99 others.
    for i in 99..=super::MAX_FILES {
        fs::remove_file(many.join(format!("{i:03}.cnf"))).unwrap();
    }
    OptionSet::default().read_file(&main, GROUPS, true).unwrap();
}

/// An included file must be a regular file: a FIFO there would block the run.
#[cfg(unix)]
#[test]
fn an_included_fifo_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("x.cnf");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let main = write(
        dir.path(),
        "main.cnf",
        &format!("[client]\n!include {}\n", fifo.display()),
    );
    let e = OptionSet::default()
        .read_file(&main, GROUPS, true)
        .unwrap_err();
    assert!(e.message.contains("not a regular file"), "{e}");
    // On the default search list it is skipped with a warning.
    let mut set = OptionSet::default();
    set.read_file(&fifo, GROUPS, false).unwrap();
    assert!(
        set.warnings[0].contains("not a regular file"),
        "{:?}",
        set.warnings
    );
}

/// File names reach error messages and warnings escaped (an `!include` line names any bytes).
#[test]
fn file_names_in_errors_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "main.cnf",
        "[client]\n!include /nonexistent/\x1b]0;owned\x07.cnf\n",
    );
    let e = OptionSet::default()
        .read_file(&main, GROUPS, true)
        .unwrap_err();
    let shown = e.to_string();
    assert!(
        !shown.contains('\x1b') && !shown.contains('\x07'),
        "{shown:?}"
    );
    assert!(shown.contains("\\e]0;owned\\x07.cnf"), "{shown}");
    let odd = write(dir.path(), "bad\x1b[2J.cnf", "user=x\n");
    let e = OptionSet::default()
        .read_file(&odd, GROUPS, true)
        .unwrap_err();
    assert!(e.to_string().contains("bad\\e[2J.cnf:1"), "{e}");
}

#[test]
fn password_never_in_errors() {
    let cases = [
        format!("[client]\npassword=\"{SECRET}\n"),
        format!("[client]\npassword='{SECRET}\n"),
        format!("[client]\npassword=\"{SECRET}\" trailing{SECRET}\n"),
        format!("[client]\npassword {SECRET}\n"),
        format!("[client]\npassword\t{SECRET}=x\n"),
        format!("password={SECRET}\n"),
        format!("[client]\n!{SECRET}\n"),
        format!("[client]\n={SECRET}\n"),
        format!("[client{SECRET}\n"),
    ];
    for text in &cases {
        let e = parse(text).unwrap_err();
        assert_no_secret(&e.to_string());
        assert_no_secret(&format!("{e:?}"));
    }
}

#[test]
fn error_display_format() {
    let e = OptFileError {
        file: PathBuf::from("/etc/my.cnf"),
        line: 7,
        message: "boom".into(),
    };
    assert_eq!(e.to_string(), "/etc/my.cnf:7: boom");
    let _: &dyn std::error::Error = &e;
}
