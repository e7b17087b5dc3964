//! Turning flags, URLs, environment and option files into one set of connection settings.
//!
//! Precedence is the mysql client's, lowest first: built-in defaults, environment
//! (`MYSQL_HOST`, `MYSQL_TCP_PORT`, `MYSQL_UNIX_PORT`, `MYSQL_PWD`), option files
//! (`[client]`, `[conncheck]`), then `--url`, then explicit flags. Pure apart from reading the
//! option files: no network here.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::flags::{ConnFlags, Protocol, SslMode};
use super::hostport::{self, SplitError};
use crate::exit::AppError;

use super::loginpath;
use super::optfile::{self, OptionSet};
use super::url as connurl;

/// Option-file groups we read, in this order.
pub const GROUPS: &[&str] = &["client", "client-server", "client-mariadb", "conncheck"];

/// The option groups read: [`GROUPS`] plus `--login-path`'s group.
fn groups(args: &ConnFlags) -> Vec<&str> {
    let mut g = GROUPS.to_vec();
    if let Some(name) = args.login_path.as_deref() {
        g.push(name);
    }
    g
}

/// Where the Unix socket usually is when nothing says otherwise (Debian/Ubuntu, RHEL, tarballs).
const DEFAULT_SOCKETS: &[&str] = &[
    "/run/mysqld/mysqld.sock",
    "/var/run/mysqld/mysqld.sock",
    "/var/lib/mysql/mysql.sock",
    "/tmp/mysql.sock",
];

/// A password that never prints itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Tcp { host: String, port: u16 },
    Socket(PathBuf),
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transport::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Transport::Tcp { host, port } => write!(f, "{host}:{port}"),
            Transport::Socket(p) => write!(f, "{}", p.display()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub transport: Transport,
    pub user: String,
    pub password: Option<Secret>,
    pub database: Option<String>,
    pub ssl_mode: SslMode,
    pub ssl_ca: Option<PathBuf>,
    pub ssl_cert: Option<PathBuf>,
    pub ssl_key: Option<PathBuf>,
    /// `--server-public-key-path`: the server's RSA key for caching_sha2_password without TLS.
    pub server_public_key: Option<PathBuf>,
    /// `--get-server-public-key`: ask the server for that key (unverified).
    pub get_server_public_key: bool,
    pub connect_timeout: Duration,
    pub query_timeout: Duration,
    pub admin_port: Option<u16>,
}

impl ConnectOptions {
    /// host:port or the socket path: safe to print, never holds credentials.
    pub fn target(&self) -> String {
        self.transport.to_string()
    }

    /// Whether the server is on this machine (so /proc/meminfo describes its RAM).
    pub fn is_local(&self) -> bool {
        match &self.transport {
            Transport::Socket(_) => true,
            Transport::Tcp { host, .. } => {
                matches!(host.as_str(), "localhost" | "::1") || host.starts_with("127.")
            }
        }
    }
}

/// Settings before the target-specific parts (URL) are applied.
#[derive(Debug, Clone, Default)]
struct Partial {
    host: Option<String>,
    port: Option<u16>,
    socket: Option<PathBuf>,
    user: Option<String>,
    password: Option<Secret>,
    database: Option<String>,
    ssl_mode: Option<SslMode>,
    ssl_ca: Option<PathBuf>,
    ssl_cert: Option<PathBuf>,
    ssl_key: Option<PathBuf>,
    server_public_key: Option<PathBuf>,
    get_server_public_key: Option<bool>,
    protocol: Option<Protocol>,
}

/// The environment, injectable for tests.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// Everything read once per run and shared by all targets: option files, environment, flags.
#[derive(Debug, Clone)]
pub struct Resolver {
    base: Partial,
    flags: Partial,
    connect_timeout: Duration,
    query_timeout: Duration,
    admin_port: Option<u16>,
    /// Warnings for the user (password on the command line, readable option files).
    pub warnings: Vec<String>,
}

impl Resolver {
    /// Read option files and environment. `prompted_password` is the answer to a bare `-p`.
    pub fn new(
        args: &ConnFlags,
        env: &dyn Env,
        prompted_password: Option<String>,
    ) -> Result<Self, AppError> {
        let mut warnings = Vec::new();
        let mut base = Partial {
            host: env.var("MYSQL_HOST"),
            port: match env.var("MYSQL_TCP_PORT") {
                Some(p) => Some(parse_port(&p, "MYSQL_TCP_PORT")?),
                None => None,
            },
            socket: env.var("MYSQL_UNIX_PORT").map(PathBuf::from),
            password: env.var("MYSQL_PWD").map(Secret),
            ..Partial::default()
        };

        if !args.no_defaults {
            let files = read_option_files(args, env)?;
            warnings.extend(files.warnings.iter().cloned());
            apply_option_set(&mut base, &files)?;
        }
        // The login path file is read last, even with --no-defaults or --defaults-file (as the
        // mysql client does), so its values win over the other files'.
        if !args.no_login_paths {
            let login = read_login_file(args, env)?;
            warnings.extend(login.warnings.iter().cloned());
            apply_option_set(&mut base, &login)?;
        }

        let flag_password = match &args.password {
            Some(Some(p)) => {
                warnings.push(
                    "[Warning] Using a password on the command line interface can be insecure."
                        .to_string(),
                );
                Some(p.clone())
            }
            Some(None) => prompted_password,
            None => None,
        };
        // A URL from CONNCHECK_URL is in the environment, not the argument list.
        let from_env = env.var("CONNCHECK_URL");
        if args.url.iter().any(|u| {
            from_env.as_deref() != Some(u.as_str())
                && crate::argv::url_password(u.as_bytes()).is_some()
        }) {
            warnings.push(
                "[Warning] Using a password in --url on the command line interface can be insecure."
                    .to_string(),
            );
        }
        let flags = Partial {
            host: args.host.clone(),
            port: args.port,
            socket: args.socket.clone(),
            user: args.user.clone(),
            password: flag_password.map(Secret),
            database: args.database.clone(),
            ssl_mode: args.ssl_mode,
            ssl_ca: args.ssl_ca.clone(),
            ssl_cert: args.ssl_cert.clone(),
            ssl_key: args.ssl_key.clone(),
            server_public_key: args.server_public_key_path.clone(),
            get_server_public_key: args.get_server_public_key.then_some(true),
            protocol: args.protocol,
        };
        Ok(Resolver {
            base,
            flags,
            connect_timeout: args.connect_timeout,
            query_timeout: args.query_timeout,
            admin_port: args.admin_port,
            warnings,
        })
    }

    /// Settings for one target: `None` = the flags/files/env alone; `Some(url)` or a bare
    /// `host[:port]` from a targets file layered on top of files and env, under the flags.
    pub fn resolve(&self, target: Option<&str>, env: &dyn Env) -> Result<ConnectOptions, AppError> {
        let mut p = self.base.clone();
        if let Some(t) = target {
            overlay(&mut p, target_partial(t)?);
        }
        overlay(&mut p, self.flags.clone());
        finish(p, self, env)
    }
}

/// `mysql://...` URL, or `host`, `host:port`, `[v6]:port` from a targets file.
fn target_partial(t: &str) -> Result<Partial, AppError> {
    let t = t.trim();
    let lower = t.to_ascii_lowercase();
    if lower.starts_with("mysql://") || lower.starts_with("mariadb://") || t.contains("://") {
        let u = connurl::parse(t).map_err(|e| {
            AppError::usage(format!("bad URL {}: {e}", connurl::redact(t)))
                .hint("use mysql://user:password@host:port/database")
        })?;
        let socket = u.socket.clone().map(PathBuf::from);
        return Ok(Partial {
            host: u.host,
            port: u.port,
            socket: socket.clone(),
            user: u.user,
            password: u.password.map(Secret),
            database: u.database,
            protocol: socket.map(|_| Protocol::Socket),
            ssl_mode: u
                .params
                .iter()
                .find(|(k, _)| {
                    k.eq_ignore_ascii_case("ssl-mode") || k.eq_ignore_ascii_case("ssl_mode")
                })
                .map(|(_, v)| parse_ssl_mode(v))
                .transpose()?,
            ..Partial::default()
        });
    }
    if t.contains('@') {
        // `user:password@host` without a scheme: never taken as a host name (which would put
        // the password in every message and report). Nothing after the first ':' is echoed.
        return Err(AppError::usage(format!(
            "bad target '{}': a target with a user or password needs the mysql:// scheme",
            shown_target(t)
        ))
        .hint("write mysql://user:password@host:port, or give only host[:port] and the credentials in ~/.my.cnf"));
    }
    let (host, port) = split_host_port(t).map_err(|_| {
        AppError::usage(format!(
            "bad target '{}': use host, host:port, [v6]:port or mysql://user@host:port",
            shown_target(t)
        ))
    })?;
    Ok(Partial {
        host: Some(host),
        port,
        ..Partial::default()
    })
}

/// A bare target as it may be quoted in an error: whole when it is `host`, `host:port` or
/// `[v6]:port`; otherwise only up to the first ':' (what follows may be a password).
fn shown_target(t: &str) -> String {
    let plain = !t.contains('@')
        && match t.rsplit_once(':') {
            None => true,
            Some((h, p)) => {
                (!h.contains(':') || (h.starts_with('[') && h.ends_with(']')))
                    && p.bytes().all(|b| b.is_ascii_digit())
            }
        };
    let shown = if plain {
        t.to_string()
    } else {
        format!("{}:…", t.split(':').next().unwrap_or_default())
    };
    crate::text::escape(&shown).into_owned()
}

fn split_host_port(t: &str) -> Result<(String, Option<u16>), AppError> {
    if t.is_empty() {
        return Err(AppError::usage("empty target"));
    }
    match hostport::split(t) {
        Ok((h, port, _)) => Ok((h.to_string(), port.map(|p| parse_port(p, t)).transpose()?)),
        Err(SplitError::Unterminated) => {
            Err(AppError::usage(format!("bad target '{t}': missing ']'")))
        }
        // Several ':' only in a bare IPv6 address (`::1`); anything else is not a host name.
        Err(SplitError::ManyColons) if t.parse::<std::net::Ipv6Addr>().is_ok() => {
            Ok((t.to_string(), None))
        }
        Err(_) => Err(AppError::usage(format!("bad target '{t}'"))),
    }
}

fn parse_port(p: &str, what: &str) -> Result<u16, AppError> {
    hostport::port(p.trim())
        .map_err(|_| AppError::usage(format!("invalid port '{p}' in {what}: use 1-65535")))
}

fn parse_ssl_mode(v: &str) -> Result<SslMode, AppError> {
    use clap::ValueEnum;
    SslMode::from_str(v, true).map_err(|_| {
        AppError::usage(format!(
            "invalid ssl-mode '{v}': use DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY"
        ))
    })
}

fn overlay(p: &mut Partial, top: Partial) {
    macro_rules! take {
        ($($f:ident),*) => { $( if top.$f.is_some() { p.$f = top.$f; } )* };
    }
    take!(
        host,
        port,
        socket,
        user,
        password,
        database,
        ssl_mode,
        ssl_ca,
        ssl_cert,
        ssl_key,
        server_public_key,
        get_server_public_key,
        protocol
    );
}

/// `~/.mylogin.cnf` (or `$MYSQL_TEST_LOGIN_FILE`), decrypted, groups [client] (and the other
/// [`GROUPS`]) and `--login-path`'s. A missing file is normal; a file others may read is ignored
/// with the client's warning; an unreadable or corrupt one is a warning, or an error when
/// `--login-path` asked for it.
fn read_login_file(args: &ConnFlags, env: &dyn Env) -> Result<OptionSet, AppError> {
    let mut set = OptionSet::default();
    let home = env.var("HOME").map(PathBuf::from);
    let test_file = env.var("MYSQL_TEST_LOGIN_FILE");
    let Some(path) = loginpath::path(home.as_deref(), test_file.as_deref()) else {
        return Ok(set);
    };
    let shown = crate::text::path(&path);
    let problem = |set: &mut OptionSet, what: String| -> Result<(), AppError> {
        let msg = format!("login path file {shown}: {what}");
        if args.login_path.is_some() {
            Err(AppError::new(crate::exit::ErrorKind::Usage, msg)
                .hint("recreate it with mysql_config_editor, or skip it with --no-login-paths"))
        } else {
            set.warnings.push(format!("warning: {msg}; ignored"));
            Ok(())
        }
    };
    // A regular file only (a FIFO there would block the run, even under --no-defaults), read
    // with the 1 MiB cap of option files.
    let file = match crate::input::open_regular(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(name) = &args.login_path {
                // mysql says nothing either; but a login path asked for and not found is
                // worth a word.
                set.warnings.push(format!(
                    "warning: --login-path={}: no login path file {shown}",
                    crate::text::escape(name)
                ));
            }
            return Ok(set);
        }
        Err(e) => {
            problem(&mut set, e.to_string())?;
            return Ok(set);
        }
    };
    let meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => {
            problem(&mut set, e.to_string())?;
            return Ok(set);
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // my_default.cc check_file_permissions(): executable or group/other access -> ignored.
        if meta.permissions().mode() & 0o177 != 0 {
            set.warnings.push(format!(
                "warning: {shown} should be readable/writable only by current user; ignored"
            ));
            return Ok(set);
        }
    }
    let _ = meta;
    let bytes = match crate::input::read_bytes(file, crate::input::SMALL_FILE_MAX) {
        Ok(b) => b,
        Err(e) => {
            problem(&mut set, e.to_string())?;
            return Ok(set);
        }
    };
    let text = match loginpath::decrypt(&bytes) {
        Ok(t) => t,
        Err(e) => {
            problem(&mut set, e)?;
            return Ok(set);
        }
    };
    if let Err(e) = optfile::parse_str(&text, &path, &groups(args), &mut set) {
        problem(&mut set, format!("line {}: {}", e.line, e.message))?;
    }
    Ok(set)
}

fn read_option_files(args: &ConnFlags, env: &dyn Env) -> Result<OptionSet, AppError> {
    let mut set = OptionSet::default();
    let groups = groups(args);
    let err = |e: optfile::OptFileError| {
        AppError::new(crate::exit::ErrorKind::Other, format!("option file {e}"))
            .hint("fix the file, or skip option files with --no-defaults")
    };
    if let Some(f) = &args.defaults_file {
        set.read_file(f, &groups, true).map_err(err)?;
    } else {
        let home = env.var("HOME").map(PathBuf::from);
        for f in optfile::default_files(home.as_deref()) {
            set.read_file(&f, &groups, false).map_err(err)?;
        }
    }
    if let Some(f) = &args.defaults_extra_file {
        set.read_file(f, &groups, true).map_err(err)?;
    }
    Ok(set)
}

fn apply_option_set(p: &mut Partial, set: &OptionSet) -> Result<(), AppError> {
    let get = |k: &str| set.get(k).and_then(|v| v.value.clone());
    let at = |k: &str| {
        set.get(k)
            .map(|v| format!("{}:{}", crate::text::path(&v.file), v.line))
            .unwrap_or_default()
    };
    if let Some(h) = get("host") {
        p.host = Some(h);
    }
    if let Some(port) = get("port") {
        p.port = Some(parse_port(&port, &at("port"))?);
    }
    if let Some(s) = get("socket") {
        p.socket = Some(PathBuf::from(s));
    }
    if let Some(u) = get("user") {
        p.user = Some(u);
    }
    // `password` without a value in a file means "prompt" for mysql; we cannot prompt per
    // target, so it is ignored (documented).
    if let Some(pw) = get("password") {
        p.password = Some(Secret(pw));
    }
    if let Some(d) = get("database") {
        p.database = Some(d);
    }
    if let Some(m) = get("ssl_mode") {
        p.ssl_mode = Some(parse_ssl_mode(&m)?);
    }
    if set.get("skip_ssl").is_some()
        || get("ssl").is_some_and(|v| v == "0" || v.eq_ignore_ascii_case("off"))
    {
        p.ssl_mode = Some(SslMode::Disabled);
    }
    for (key, slot) in [
        ("ssl_ca", &mut p.ssl_ca),
        ("ssl_cert", &mut p.ssl_cert),
        ("ssl_key", &mut p.ssl_key),
        ("server_public_key_path", &mut p.server_public_key),
    ] {
        if let Some(v) = get(key) {
            *slot = Some(PathBuf::from(v));
        }
    }
    // A boolean option as the mysql client reads it: bare or 1/ON/TRUE is on, 0/OFF/FALSE off,
    // and a `skip-` prefix turns it off.
    if let Some(v) = set.get("get_server_public_key") {
        p.get_server_public_key = Some(match v.value.as_deref().map(str::to_ascii_lowercase) {
            None => true,
            Some(v) if matches!(v.as_str(), "" | "1" | "on" | "true") => true,
            Some(v) if matches!(v.as_str(), "0" | "off" | "false") => false,
            Some(_) => {
                return Err(AppError::usage(format!(
                    "invalid get-server-public-key value at {}: use 1 or 0",
                    at("get_server_public_key")
                )));
            }
        });
    }
    if set.get("skip_get_server_public_key").is_some() {
        p.get_server_public_key = Some(false);
    }
    if let Some(proto) = get("protocol") {
        p.protocol = match proto.to_ascii_lowercase().as_str() {
            "tcp" => Some(Protocol::Tcp),
            "socket" => Some(Protocol::Socket),
            other => {
                return Err(AppError::usage(format!(
                    "unsupported protocol '{other}' at {}: use tcp or socket",
                    at("protocol")
                )));
            }
        };
    }
    Ok(())
}

fn finish(p: Partial, r: &Resolver, env: &dyn Env) -> Result<ConnectOptions, AppError> {
    let host = p.host.clone().unwrap_or_else(|| "localhost".to_string());
    // As in mysql: `localhost` (or no host) means the Unix socket unless TCP is forced;
    // `--socket` alone also selects the socket.
    let use_socket = match p.protocol {
        Some(Protocol::Socket) => true,
        Some(Protocol::Tcp) => false,
        None => host == "localhost",
    };
    let transport = if use_socket {
        Transport::Socket(p.socket.clone().unwrap_or_else(default_socket))
    } else {
        let host = if host == "localhost" {
            "127.0.0.1".to_string()
        } else {
            host
        };
        Transport::Tcp {
            host,
            port: p.port.unwrap_or(3306),
        }
    };
    let user = p
        .user
        .or_else(|| env.var("USER"))
        .or_else(|| env.var("LOGNAME"))
        .unwrap_or_else(|| "root".to_string());
    if (p.ssl_cert.is_some()) != (p.ssl_key.is_some()) {
        return Err(AppError::usage("--ssl-cert and --ssl-key go together"));
    }
    let ssl_mode = p.ssl_mode.unwrap_or(if p.ssl_ca.is_some() {
        SslMode::VerifyCa
    } else {
        SslMode::Preferred
    });
    Ok(ConnectOptions {
        transport,
        user,
        password: p.password,
        database: p.database,
        ssl_mode,
        ssl_ca: p.ssl_ca,
        ssl_cert: p.ssl_cert,
        ssl_key: p.ssl_key,
        server_public_key: p.server_public_key,
        get_server_public_key: p.get_server_public_key.unwrap_or(false),
        connect_timeout: r.connect_timeout,
        query_timeout: r.query_timeout,
        admin_port: r.admin_port,
    })
}

fn default_socket() -> PathBuf {
    DEFAULT_SOCKETS
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
        .unwrap_or(Path::new(DEFAULT_SOCKETS[0]))
        .to_path_buf()
}

#[cfg(test)]
#[path = "options_tests.rs"]
mod tests;
