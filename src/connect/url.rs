//! Parser for connection URLs of the form
//! `mysql://[user[:password]@][host][:port][/database][?k=v&k2=v2]`
//! (also `mariadb://`), plus `redact` for printing a URL without its password.
//!
//! This module only splits and percent-decodes text. It must not resolve
//! hosts, choose between socket and TCP, or validate parameter meanings, and
//! it must never put the password into an error message or a redacted string,
//! nor panic on any input.

use std::net::Ipv6Addr;

/// The pieces of a connection URL, percent-decoded. Empty components are `None`
/// (except an explicit empty password `user:@host`, which is `Some("")`).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ConnUrl {
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub socket: Option<String>,
    pub database: Option<String>,
    /// Every query parameter in order (including `socket`), decoded.
    pub params: Vec<(String, String)>,
}

/// By hand, so that a debug print (a log line, a failed test) never shows the password; a
/// `password=` query parameter is hidden too.
impl std::fmt::Debug for ConnUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let params: Vec<(&str, &str)> = self
            .params
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    if is_secret_param(k) {
                        "***"
                    } else {
                        v.as_str()
                    },
                )
            })
            .collect();
        f.debug_struct("ConnUrl")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("socket", &self.socket)
            .field("database", &self.database)
            .field("params", &params)
            .finish()
    }
}

/// Why a URL could not be parsed. The text never contains the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UrlError(pub String);

fn err(msg: impl Into<String>) -> UrlError {
    UrlError(msg.into())
}

/// Parse a `mysql://` or `mariadb://` URL.
pub fn parse(url: &str) -> Result<ConnUrl, UrlError> {
    let url = url.trim();
    let rest =
        strip_scheme(url).ok_or_else(|| err("URL must start with mysql:// or mariadb://"))?;

    // The authority ends at the first '/' or '?'; within it the user info ends
    // at the LAST '@', so an unencoded '@' in a password still works.
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    if userinfo.is_none() && tail.contains('@') {
        // Almost certainly a password with a raw '/' or '?': refuse rather
        // than misparse it (and maybe echo a piece of it as a "port").
        return Err(err(
            "unexpected '@' after the host in URL; percent-encode '/', '?' and '@' in the user name and password (%2F, %3F, %40)",
        ));
    }

    let mut out = ConnUrl::default();

    if let Some(userinfo) = userinfo {
        let (user, password) = match userinfo.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (userinfo, None),
        };
        let user = decode(user, "user name")?;
        out.user = (!user.is_empty()).then_some(user);
        out.password = password.map(|p| decode(p, "password")).transpose()?;
    }

    let (host, port) = split_host_port(hostport)?;
    out.host = host;
    out.port = port;

    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    let path = path.strip_prefix('/').unwrap_or(path);
    if path.contains('/') {
        return Err(err(
            "database name in URL must not contain '/' (percent-encode it as %2F)",
        ));
    }
    if path.contains('@') {
        return Err(err(
            "unexpected '@' in the database name of the URL; percent-encode special characters in the password (%40 for '@')",
        ));
    }
    let database = decode(path, "database name")?;
    out.database = (!database.is_empty()).then_some(database);

    if let Some(query) = query {
        for pair in query.split('&').filter(|s| !s.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode(k, "query parameter name")?;
            if key.is_empty() {
                return Err(err("empty parameter name in URL query"));
            }
            let value = decode(v, "query parameter value")?;
            if key.eq_ignore_ascii_case("socket") {
                if value.is_empty() {
                    return Err(err("empty socket path in URL"));
                }
                out.socket = Some(value.clone());
            }
            out.params.push((key, value));
        }
    }
    Ok(out)
}

/// The URL with the password replaced by `***` (for printing targets), e.g. mysql://app:***@db1:3306/shop
///
/// Works on any text, valid URL or not; it over-redacts rather than leaks.
/// A `password=` query parameter is redacted too.
pub fn redact(url: &str) -> String {
    // Trimmed like `parse` does, so that both agree on where the scheme and the user info end.
    let url = url.trim();
    // Only a real scheme ends at "://": in `app:pw@db/x?ca=file://...` the password comes first.
    let (prefix_len, rest) = match url.find("://") {
        Some(i) if is_scheme(&url[..i]) => (i + 3, &url[i + 3..]),
        _ => (0, url),
    };
    // For a URL that parses, the user info ends where the parser says: at the last '@' before
    // the first '/' or '?'. For anything else, at the last '@' anywhere: with a raw '@' in the
    // user name or a raw '/' or '?' in the password the real end lies beyond the apparent
    // authority, and hiding too much is better than printing a password.
    let at = if parse(url).is_ok() {
        let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
        rest[..auth_end].rfind('@')
    } else {
        rest.rfind('@')
    };

    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..prefix_len]);
    match at {
        Some(at) => {
            let userinfo = &rest[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..=colon]);
                    out.push_str("***");
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&rest[at..]);
        }
        None => out.push_str(rest),
    }
    // The password (which may hold a raw '?') is gone by now, so the first
    // '?' after the scheme starts the query.
    let Some(q) = out[prefix_len..].find('?').map(|q| prefix_len + q) else {
        return out;
    };
    let pairs: Vec<String> = out[q + 1..]
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if is_secret_param(k) => format!("{k}=***"),
            _ => pair.to_string(),
        })
        .collect();
    out.truncate(q + 1);
    out.push_str(&pairs.join("&"));
    out
}

/// RFC 3986: a letter, then letters, digits, `+`, `-` or `.`.
fn is_scheme(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
}

fn is_secret_param(key: &str) -> bool {
    let key = String::from_utf8_lossy(&percent_decode_lossy(key)).to_ascii_lowercase();
    matches!(key.replace('-', "_").as_str(), "password" | "pwd")
}

/// Returns the text after `scheme://` if the scheme is mysql or mariadb.
fn strip_scheme(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    (scheme.eq_ignore_ascii_case("mysql") || scheme.eq_ignore_ascii_case("mariadb")).then_some(rest)
}

fn split_host_port(hostport: &str) -> Result<(Option<String>, Option<u16>), UrlError> {
    let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
        let (addr, after) = inner
            .split_once(']')
            .ok_or_else(|| err("unterminated '[' in IPv6 host of URL"))?;
        let addr = decode(addr, "host")?;
        // Allow a zone id (fe80::1%eth0, written %25eth0 in URLs).
        let bare = addr.split('%').next().unwrap_or("");
        if bare.parse::<Ipv6Addr>().is_err() {
            return Err(err("invalid IPv6 address in URL"));
        }
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| err("unexpected text after ']' in URL host"))?,
            ),
        };
        (Some(addr), port)
    } else {
        let (host, port) = match hostport.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        };
        if port.is_some_and(|p| p.contains(':')) {
            return Err(err(
                "IPv6 addresses in URLs must be in brackets, e.g. mysql://[::1]:3306",
            ));
        }
        let host = decode(host, "host")?;
        if host.contains('/') {
            return Err(err(
                "invalid host in URL; use ?socket=/path/to.sock for a Unix socket",
            ));
        }
        if host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "[]@?\\".contains(c))
        {
            return Err(err("invalid character in host of URL"));
        }
        ((!host.is_empty()).then_some(host), port)
    };
    let port = port.map(parse_port).transpose()?;
    Ok((host, port))
}

fn parse_port(text: &str) -> Result<u16, UrlError> {
    if text.is_empty() {
        return Err(err("empty port after ':' in URL"));
    }
    // Echo at most a short prefix so garbage input can't flood the message.
    let shown: String = text.chars().take(20).collect();
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(format!("invalid port '{shown}' in URL")));
    }
    match text.parse::<u16>() {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(err(format!(
            "invalid port '{shown}' in URL (must be 1-65535)"
        ))),
    }
}

/// Strict percent-decoding; `what` names the component (never its value).
fn decode(text: &str, what: &str) -> Result<String, UrlError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = bytes.get(i + 1).and_then(|b| hex_val(*b));
            let lo = bytes.get(i + 2).and_then(|b| hex_val(*b));
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                _ => return Err(err(format!("invalid percent-encoding in {what} of URL"))),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| {
        err(format!(
            "{what} in URL is not valid UTF-8 after percent-decoding"
        ))
    })
}

/// Lenient decoding for `redact`, which must accept anything.
fn percent_decode_lossy(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%')
            .then(|| {
                let hi = hex_val(*bytes.get(i + 1)?)?;
                let lo = hex_val(*bytes.get(i + 2)?)?;
                Some(hi << 4 | lo)
            })
            .flatten();
        match hex {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
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

    /// Found by tests/fuzz_parsers.rs: a "://" after the password was taken for the scheme's,
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

    // ---- fuzz-style ----

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    const FRAGMENTS: &[&str] = &[
        "mysql://",
        "mariadb://",
        "MYSQL://",
        "://",
        "[",
        "]",
        "=",
        "\"",
        "'",
        "\\",
        "!include",
        "#",
        "\n",
        "%",
        "%4",
        "%40",
        "%zz",
        "%FF",
        "%C3%A9",
        "@",
        ":",
        "[::1]",
        "/",
        "?",
        "&",
        "12345678901234567890",
        "65535",
        "0",
        "-1",
        "socket=",
        "localhost",
        "é",
        " ",
        "\0",
    ];

    fn garbage(rng: &mut XorShift) -> String {
        let mut bytes = Vec::new();
        if rng.below(2) == 0 {
            bytes.extend_from_slice(b"mysql://");
        }
        for _ in 0..rng.below(24) {
            if rng.below(4) == 0 {
                bytes.push(rng.next() as u8);
            } else {
                bytes.extend_from_slice(FRAGMENTS[rng.below(FRAGMENTS.len())].as_bytes());
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn fuzz_parse_and_redact_never_panic() {
        let mut rng = XorShift(0x1234_5678_9ABC_DEF1);
        let mut parsed = 0;
        for _ in 0..20_000 {
            let input = garbage(&mut rng);
            if parse(&input).is_ok() {
                parsed += 1;
            }
            let _ = redact(&input);
        }
        assert!(parsed > 0 && parsed < 20_000, "parsed={parsed}");
    }

    #[test]
    fn fuzz_passwords_never_leak() {
        // Random passwords full of URL-special characters, unencoded.
        let chars: Vec<char> = "abcXYZ019@:/?#%&=[]!$'()*+,;~.-_ é".chars().collect();
        let mut rng = XorShift(0x0BAD_5EED_0BAD_5EED);
        for _ in 0..20_000 {
            let mut pw = String::from("Zq");
            for _ in 0..rng.below(12) + 4 {
                pw.push(chars[rng.below(chars.len())]);
            }
            let url = format!("mysql://user:{pw}@host:3306/db?x=1");
            let red = redact(&url);
            assert!(!red.contains(&pw), "{url} -> {red}");
            assert!(red.starts_with("mysql://user:***@"), "{url} -> {red}");
            match parse(&url) {
                Ok(u) => {
                    if !pw.contains(['%', '/', '?']) {
                        assert_eq!(u.password.as_deref(), Some(pw.as_str()), "{url}");
                        assert_eq!(u.host.as_deref(), Some("host"), "{url}");
                    }
                }
                Err(e) => assert!(!e.to_string().contains(&pw), "{url}: {e}"),
            }
        }
    }
}
