//! Parser for connection URLs of the form
//! `mysql://[user[:password]@][host][:port][/database][?k=v&k2=v2]`
//! (also `mariadb://`), plus `redact` for printing a URL without its password.
//!
//! This module only splits and percent-decodes text. It must not resolve
//! hosts, choose between socket and TCP, or validate parameter meanings, and
//! it must never put the password into an error message or a redacted string,
//! nor panic on any input.

use std::net::Ipv6Addr;

use super::hostport::{self, PortError, SplitError};

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
    let (host, port, bracketed) = hostport::split(hostport).map_err(|e| match e {
        SplitError::Unterminated => err("unterminated '[' in IPv6 host of URL"),
        SplitError::AfterBracket => err("unexpected text after ']' in URL host"),
        SplitError::ManyColons => {
            err("IPv6 addresses in URLs must be in brackets, e.g. mysql://[::1]:3306")
        }
    })?;
    let host = if bracketed {
        let addr = decode(host, "host")?;
        // Allow a zone id (fe80::1%eth0, written %25eth0 in URLs).
        let bare = addr.split('%').next().unwrap_or("");
        if bare.parse::<Ipv6Addr>().is_err() {
            return Err(err("invalid IPv6 address in URL"));
        }
        Some(addr)
    } else {
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
        (!host.is_empty()).then_some(host)
    };
    let port = port.map(parse_port).transpose()?;
    Ok((host, port))
}

fn parse_port(text: &str) -> Result<u16, UrlError> {
    // Echo at most a short prefix so garbage input can't flood the message.
    let shown: String = text.chars().take(20).collect();
    hostport::port(text).map_err(|e| match e {
        PortError::Empty => err("empty port after ':' in URL"),
        PortError::NotDigits => err(format!("invalid port '{shown}' in URL")),
        PortError::OutOfRange => err(format!("invalid port '{shown}' in URL (must be 1-65535)")),
    })
}

/// Strict percent-decoding (every `%` must start a `%XX` escape); `what` names the component
/// (never its value).
fn decode(text: &str, what: &str) -> Result<String, UrlError> {
    let b = text.as_bytes();
    let well_formed = b.iter().enumerate().all(|(i, c)| {
        *c != b'%'
            || (b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return Err(err(format!("invalid percent-encoding in {what} of URL")));
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| {
            err(format!(
                "{what} in URL is not valid UTF-8 after percent-decoding"
            ))
        })
}

/// Lenient decoding for `redact`, which must accept anything.
fn percent_decode_lossy(text: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(text).collect()
}

#[cfg(test)]
#[path = "url_tests.rs"]
mod tests;
