//! Unit tests of `connect::url` (kept beside it, out of the way of its code).

use super::*;

const SECRET: &str = "Zq9SuperSecretPw";

fn ok(url: &str) -> ConnUrl {
    parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
}

fn bad(url: &str) -> String {
    match parse(url) {
        Ok(u) => panic!("{url} parsed as {u:?}"),
        Err(e) => e.to_string(),
    }
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[test]
fn full_url() {
    let u = ok("mysql://app:pw@db1:3306/shop?ssl-mode=REQUIRED&connect-timeout=5");
    assert_eq!(
        u,
        ConnUrl {
            user: s("app"),
            password: s("pw"),
            host: s("db1"),
            port: Some(3306),
            socket: None,
            database: s("shop"),
            params: vec![
                ("ssl-mode".into(), "REQUIRED".into()),
                ("connect-timeout".into(), "5".into())
            ],
        }
    );
}

#[test]
fn schemes_case_insensitive() {
    for url in ["mysql://h", "MySQL://h", "mariadb://h", "MARIADB://h"] {
        assert_eq!(ok(url).host, s("h"), "{url}");
    }
}

#[test]
fn bad_schemes() {
    for url in [
        "",
        "h:3306",
        "postgres://h",
        "mysql:/h",
        "mysql:h",
        "http://u:p@h",
        "mysqlx://h",
        "://h",
    ] {
        assert_eq!(
            bad(url),
            "URL must start with mysql:// or mariadb://",
            "{url}"
        );
    }
}

#[test]
fn minimal_forms() {
    assert_eq!(ok("mysql://"), ConnUrl::default());
    assert_eq!(ok("mysql://h").host, s("h"));
    assert_eq!(ok("mysql://h/").database, None);
    assert_eq!(ok("mysql://h?").params, vec![]);
    let u = ok("mysql:///db");
    assert_eq!((u.host, u.database), (None, s("db")));
    let u = ok("mysql://:3307");
    assert_eq!((u.host, u.port), (None, Some(3307)));
    let u = ok("mysql://u@");
    assert_eq!((u.user, u.password, u.host), (s("u"), None, None));
    assert_eq!(ok("  mysql://h  ").host, s("h"));
}

#[test]
fn user_and_password_forms() {
    let u = ok("mysql://app@h");
    assert_eq!((u.user, u.password), (s("app"), None));
    let u = ok("mysql://app:@h");
    assert_eq!((u.user, u.password), (s("app"), s("")));
    let u = ok("mysql://:pw@h");
    assert_eq!((u.user, u.password), (None, s("pw")));
    let u = ok("mysql://@h");
    assert_eq!((u.user, u.password, u.host), (None, None, s("h")));
}

#[test]
fn percent_decoding() {
    let u = ok("mysql://us%65r%40corp:p%40ss%3Aw%2Frd@h%2Dost/my%20db?k%3D=v%26x%3D1");
    assert_eq!(u.user, s("user@corp"));
    assert_eq!(u.password, s("p@ss:w/rd"));
    assert_eq!(u.host, s("h-ost"));
    assert_eq!(u.database, s("my db"));
    assert_eq!(u.params, vec![("k=".into(), "v&x=1".into())]);
    // Non-ASCII via UTF-8 percent-encoding; '+' is not a space.
    let u = ok("mysql://h/caf%C3%A9?a=b+c");
    assert_eq!(u.database, s("café"));
    assert_eq!(u.params, vec![("a".into(), "b+c".into())]);
}

#[test]
fn invalid_percent_escapes() {
    for (url, part) in [
        ("mysql://u%zz@h", "user name"),
        ("mysql://u:p%4@h", "password"),
        ("mysql://u:p%@h", "password"),
        ("mysql://h%G1", "host"),
        ("mysql://h/d%", "database name"),
        ("mysql://h/d?a=%2", "query parameter value"),
        ("mysql://h/d?%x=1", "query parameter name"),
    ] {
        let e = bad(url);
        assert!(
            e.contains("invalid percent-encoding") && e.contains(part),
            "{url}: {e}"
        );
    }
    assert!(bad("mysql://h/%FF%FE").contains("UTF-8"));
}

#[test]
fn lenient_raw_specials_in_password() {
    let u = ok("mysql://app:p@ss:w@rd@db1:3306/shop");
    assert_eq!(u.user, s("app"));
    assert_eq!(u.password, s("p@ss:w@rd"));
    assert_eq!(u.host, s("db1"));
    assert_eq!(u.port, Some(3306));
    assert_eq!(u.database, s("shop"));
    let u = ok("mysql://app:p#w&d=[x]@db1");
    assert_eq!(u.password, s("p#w&d=[x]"));
}

#[test]
fn raw_slash_or_question_in_password_is_error_without_leak() {
    for url in [
        format!("mysql://app:{SECRET}/x@db1/shop"),
        format!("mysql://app:{SECRET}?x@db1/shop"),
        format!("mysql://app:ab/{SECRET}@db1"),
        format!("mysql://app:{SECRET}/@db1:3306"),
    ] {
        let e = bad(&url);
        assert!(!e.contains(SECRET) && !e.contains("Zq9"), "{e}");
        assert!(e.contains("percent-encode"), "{e}");
    }
}

#[test]
fn ipv6_hosts() {
    let u = ok("mysql://[::1]:3307/db");
    assert_eq!(
        (u.host, u.port, u.database),
        (s("::1"), Some(3307), s("db"))
    );
    let u = ok("mysql://u:p@[2001:db8::10]");
    assert_eq!((u.host, u.port), (s("2001:db8::10"), None));
    assert_eq!(ok("mysql://[fe80::1%25eth0]:3306").host, s("fe80::1%eth0"));
    assert_eq!(ok("mysql://[::ffff:10.0.0.1]").host, s("::ffff:10.0.0.1"));
    assert!(bad("mysql://[::1").contains("unterminated '['"));
    assert!(bad("mysql://[::1]x").contains("after ']'"));
    assert!(bad("mysql://[nothex]:1").contains("invalid IPv6"));
    assert!(bad("mysql://[]").contains("invalid IPv6"));
    assert!(bad("mysql://::1/db").contains("brackets"));
    assert!(bad("mysql://fe80::1:3306").contains("brackets"));
    assert!(bad("mysql://[::1]:").contains("empty port"));
}

#[test]
fn ports() {
    assert_eq!(ok("mysql://h:1").port, Some(1));
    assert_eq!(ok("mysql://h:65535").port, Some(65535));
    assert_eq!(ok("mysql://h:03306").port, Some(3306));
    assert_eq!(bad("mysql://h:abc"), "invalid port 'abc' in URL");
    assert_eq!(bad("mysql://h:-1"), "invalid port '-1' in URL");
    assert_eq!(bad("mysql://h:+1"), "invalid port '+1' in URL");
    assert_eq!(bad("mysql://h:3306x/db"), "invalid port '3306x' in URL");
    assert_eq!(
        bad("mysql://h:0"),
        "invalid port '0' in URL (must be 1-65535)"
    );
    assert_eq!(
        bad("mysql://h:65536"),
        "invalid port '65536' in URL (must be 1-65535)"
    );
    assert_eq!(
        bad("mysql://h:99999"),
        "invalid port '99999' in URL (must be 1-65535)"
    );
    assert!(bad("mysql://h:123456789012345678901234567890").contains("must be 1-65535"));
    assert_eq!(bad("mysql://h:"), "empty port after ':' in URL");
    assert_eq!(bad("mysql://h:/db"), "empty port after ':' in URL");
    assert_eq!(bad("mysql://u:p@h:?a=1"), "empty port after ':' in URL");
    // A long garbage port is truncated in the message.
    assert!(bad(&format!("mysql://h:{}", "x".repeat(1000))).len() < 80);
}

#[test]
fn localhost_stays_localhost() {
    let u = ok("mysql://root@localhost/db");
    assert_eq!((u.host, u.socket), (s("localhost"), None));
}

#[test]
fn socket_param() {
    let u = ok("mysql://root@localhost/db?socket=/run/mysqld/mysqld.sock&x=1");
    assert_eq!(u.socket, s("/run/mysqld/mysqld.sock"));
    assert_eq!(
        u.params,
        vec![
            ("socket".into(), "/run/mysqld/mysqld.sock".into()),
            ("x".into(), "1".into())
        ]
    );
    assert_eq!(
        ok("mysql://?socket=%2Ftmp%2Fa%20b.sock").socket,
        s("/tmp/a b.sock")
    );
    assert_eq!(ok("mysql://?socket=/a&socket=/b").socket, s("/b"));
    assert!(bad("mysql://h?socket=").contains("empty socket"));
}

#[test]
fn query_params_kept_in_order() {
    let u = ok("mysql://h/db?b=2&a=1&&flag&unknown-thing=yes&a=3&");
    assert_eq!(
        u.params,
        vec![
            ("b".into(), "2".into()),
            ("a".into(), "1".into()),
            ("flag".into(), "".into()),
            ("unknown-thing".into(), "yes".into()),
            ("a".into(), "3".into()),
        ]
    );
    assert!(bad("mysql://h/db?=1").contains("empty parameter name"));
    // Query values may contain '/', ':', '?', '@' once user info exists.
    let u = ok("mysql://u@h/db?ssl-ca=/etc/ssl/ca.pem&x=a:b?c@d");
    assert_eq!(u.params[0].1, "/etc/ssl/ca.pem");
    assert_eq!(u.params[1].1, "a:b?c@d");
    assert_eq!(ok("mysql://h?x=1").params, vec![("x".into(), "1".into())]);
}

#[test]
fn database_errors() {
    assert!(bad("mysql://h/db/extra").contains("'/'"));
    assert_eq!(ok("mysql://h/a%2Fb").database, s("a/b"));
    assert!(bad("mysql://u@h/d@b").contains("'@'"));
}

#[test]
fn host_errors() {
    assert!(bad("mysql://%2Ftmp%2Fs.sock/db").contains("socket="));
    assert!(bad("mysql://h%20x").contains("invalid character"));
    assert!(bad("mysql://a]b").contains("invalid character"));
}

#[test]
fn errors_never_contain_password() {
    let cases = [
        format!("mysql://u:{SECRET}@h:abc"),
        format!("mysql://u:{SECRET}@h:0"),
        format!("mysql://u:{SECRET}@h:"),
        format!("mysql://u:{SECRET}%zz@h"),
        format!("mysql://u:{SECRET}%FF@h"),
        format!("mysql://u:{SECRET}@[bad]"),
        format!("mysql://u:{SECRET}@::1"),
        format!("mysql://u:{SECRET}@h/a/b"),
        format!("mysql://u:{SECRET}@h/a@b"),
        format!("mysql://u:{SECRET}@h?=x"),
        format!("mysql://u:{SECRET}@h?socket="),
        format!("mysql://u:{SECRET}@h%2F"),
        format!("mysql://u:{SECRET}@h x"),
        format!("postgres://u:{SECRET}@h"),
        format!("mysql://u:{SECRET}/@h"),
    ];
    for url in &cases {
        let e = bad(url);
        assert!(!e.contains(SECRET), "{url}: {e}");
        assert!(!format!("{:?}", parse(url)).contains(SECRET));
    }
}

#[test]
fn error_type() {
    let e = UrlError("x".into());
    assert_eq!(e.to_string(), "x");
    let _: &dyn std::error::Error = &e;
}

#[test]
fn redact_examples() {
    assert_eq!(
        redact("mysql://app:secret@db1:3306/shop"),
        "mysql://app:***@db1:3306/shop"
    );
    assert_eq!(redact("mysql://app@db1/shop"), "mysql://app@db1/shop");
    assert_eq!(redact("mysql://db1/shop"), "mysql://db1/shop");
    assert_eq!(redact("mysql://app:@db1"), "mysql://app:***@db1");
    assert_eq!(
        redact("MariaDB://app:p%40ss@[::1]:3307/db?x=1"),
        "MariaDB://app:***@[::1]:3307/db?x=1"
    );
    assert_eq!(
        redact("mysql://app:p@ss:w@rd@db1/x"),
        "mysql://app:***@db1/x"
    );
    assert_eq!(redact(""), "");
    assert_eq!(redact("mysql://"), "mysql://");
}

#[test]
fn redact_unparseable() {
    assert_eq!(
        redact("mysql://app:se/cr?et@db1/shop"),
        "mysql://app:***@db1/shop"
    );
    assert_eq!(
        redact("mysql://app:secret@db1:notaport/shop"),
        "mysql://app:***@db1:notaport/shop"
    );
    assert_eq!(
        redact("postgres://app:secret@db1"),
        "postgres://app:***@db1"
    );
    assert_eq!(redact("app:secret@db1"), "app:***@db1");
    assert_eq!(redact("mysql://app:secret%zz@db1"), "mysql://app:***@db1");
    assert_eq!(redact("not a url at all"), "not a url at all");
    assert_eq!(redact("mysql://app:secret"), "mysql://app:secret");
}

/// Found by tests/it/fuzz_parsers.rs: a "://" after the password was taken for the scheme's,
/// and everything before it, the password too, was printed as is.
#[test]
fn redact_when_the_only_scheme_separator_follows_the_password() {
    assert_eq!(
        redact(":Zq9_@db1:3306/shopmysql://"),
        ":***@db1:3306/shopmysql://"
    );
    assert_eq!(
        redact("app:secret@db1/x?ssl-ca=file:///etc/ca.pem"),
        "app:***@db1/x?ssl-ca=file:///etc/ca.pem"
    );
    // Not a scheme: over-redacted, never leaked.
    assert_eq!(redact("a b://u:secret@h"), "a b:***@h");
}

/// Found by fuzz/fuzz_targets/url.rs: a raw '@' in the user name (Azure's `user@server`)
/// and a raw '/' in the password made redact stop at the first '@' and print the rest.
#[test]
fn redact_with_raw_at_in_user_and_slash_in_password() {
    assert_eq!(
        redact("mariadb://u@[::1]:mysql:/)a3307pp:/p%40ss@db1:3306/shop?"),
        "mariadb://u@[:***@db1:3306/shop?"
    );
    assert_eq!(
        redact("mysql://admin@srv:pa/ss@srv.example.com/db"),
        "mysql://admin@srv:***@srv.example.com/db"
    );
    // Leading whitespace hid the scheme from redact but not from parse.
    assert_eq!(
        redact("\n mysql://app:pD40ss@db?x=1\n"),
        "mysql://app:***@db?x=1"
    );
    // A URL that parses keeps its host even with an '@' in a query value.
    assert_eq!(
        redact("mysql://u:p@h/db?ssl-ca=/x@y"),
        "mysql://u:***@h/db?ssl-ca=/x@y"
    );
}

#[test]
fn debug_never_shows_the_password() {
    let u = ok("mysql://app:hunter2@db/x?password=hunter3&ssl-mode=REQUIRED");
    let d = format!("{u:?}");
    assert!(!d.contains("hunter"), "{d}");
    assert!(d.contains("REQUIRED") && d.contains("\"app\""), "{d}");
}

#[test]
fn redact_password_query_param() {
    assert_eq!(
        redact("mysql://db1/shop?user=a&password=secret&x=1"),
        "mysql://db1/shop?user=a&password=***&x=1"
    );
    assert_eq!(
        redact("mysql://u:p@db1/shop?PassWord=secret&pwd=s2"),
        "mysql://u:***@db1/shop?PassWord=***&pwd=***"
    );
    assert_eq!(
        redact("mysql://db1?pass%77ord=secret"),
        "mysql://db1?pass%77ord=***"
    );
}
