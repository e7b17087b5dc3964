//! The connection options of this run, as arguments for the `conncheck …` commands we suggest.
//!
//! A suggested command is copied and pasted under pressure: pasted as printed it must reach the
//! same server as the run that printed it, as the same account. So every suggestion carries the
//! resolved target (`-h HOST -P PORT`, or `-h localhost -S SOCKET`), the user, the option-file
//! flags (`--defaults-file`, `--defaults-extra-file`, `--no-defaults`), `--protocol`, the TLS
//! options and `--admin-port` of the run, and a bare `-p` when the password came from the command
//! line, a URL or the prompt (it would not be found again otherwise). Never a password value.
//! With `--url`, the target is spelled out as `-h/-P/-u` (its password becomes the bare `-p`).
//!
//! Pure: builds words and text, connects to nothing, reads no file (paths are made absolute
//! against the current directory so the command still works from elsewhere).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::flags::{ConnFlags, Protocol, SslMode};

use super::options::{ConnectOptions, Transport};
use super::url as connurl;

/// The connection arguments to put in front of every suggested command (without `conncheck`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replay {
    args: Vec<String>,
}

impl Replay {
    /// No connection options: suggestions print as the heuristics wrote them (unit tests, and
    /// reports with no known target).
    pub fn none() -> Replay {
        Replay::default()
    }

    /// The options of a live run. `target` is the `--url` or `--targets` line this connection
    /// came from, if any (to tell whether its password must be asked for again).
    pub fn of_run(conn: &ConnFlags, opts: &ConnectOptions, target: Option<&str>) -> Replay {
        // Every flag named: a new connection flag does not compile until it is replayed here or
        // said why not.
        let ConnFlags {
            // The target as resolved (flags, URL, option files, environment): `opts.transport`.
            host: _,
            port: _,
            socket: _,
            url: _,
            targets: _,
            // Resolved into `opts.user` (a URL or an option file may name it).
            user: _,
            password,
            // Our statements name their schemas: no suggested command needs a default database.
            database: _,
            protocol,
            // Several targets: a suggested command is for the one server it was judged on.
            jobs: _,
            deadline: _,
            defaults_file,
            defaults_extra_file,
            no_defaults,
            login_path,
            no_login_paths,
            // TLS and the server key as resolved (a URL or an option file may set them): `opts`.
            ssl_mode,
            ssl_ca: _,
            ssl_cert: _,
            ssl_key: _,
            server_public_key_path: _,
            get_server_public_key: _,
            connect_timeout,
            query_timeout,
            admin_port,
        } = conn;
        let password_given = password.is_some()
            || target.is_some_and(|t| connurl::parse(t).is_ok_and(|u| u.password.is_some()));
        let mut args = transport_args(&opts.transport, *protocol);
        args.extend(["-u".to_string(), opts.user.clone()]);
        if password_given {
            args.push("-p".into());
        }
        args.extend(file_args(
            *no_defaults,
            defaults_file.as_deref(),
            defaults_extra_file.as_deref(),
            login_path.as_deref(),
            *no_login_paths,
        ));
        // Resolved TLS settings (they may come from a URL or an option file: spelling them out
        // is harmless and exact). PREFERRED without a CA is the default: not repeated.
        let default_mode = if opts.ssl_ca.is_some() {
            SslMode::VerifyCa
        } else {
            SslMode::Preferred
        };
        if opts.ssl_mode != default_mode || ssl_mode.is_some() {
            args.extend(["--ssl-mode".into(), ssl_mode_name(opts.ssl_mode).into()]);
        }
        args.extend(tls_file_args(
            opts.ssl_ca.as_deref(),
            opts.ssl_cert.as_deref(),
            opts.ssl_key.as_deref(),
        ));
        args.extend(server_key_args(
            opts.server_public_key.as_deref(),
            opts.get_server_public_key,
        ));
        if let Some(port) = opts.admin_port.or(*admin_port) {
            args.extend(["--admin-port".into(), port.to_string()]);
        }
        args.extend(timeout_args(*connect_timeout, *query_timeout));
        Replay { args }
    }

    /// The options for a report judged from a saved snapshot (`diagnose --from`): the target and
    /// login user the snapshot recorded, plus the option-file, TLS and password flags of this run.
    pub fn of_snapshot(conn: &ConnFlags, target: &str, user: Option<&str>) -> Replay {
        // Every flag named, as in `of_run`.
        let ConnFlags {
            // The snapshot recorded the server it was taken on: that target, not this run's.
            host: _,
            port: _,
            socket: _,
            url: _,
            targets: _,
            user: run_user,
            password,
            // Our statements name their schemas: no suggested command needs a default database.
            database: _,
            protocol,
            // Several targets: a suggested command is for the one server it was judged on.
            jobs: _,
            deadline: _,
            defaults_file,
            defaults_extra_file,
            no_defaults,
            login_path,
            no_login_paths,
            ssl_mode,
            ssl_ca,
            ssl_cert,
            ssl_key,
            server_public_key_path,
            get_server_public_key,
            connect_timeout,
            query_timeout,
            admin_port,
        } = conn;
        let mut args = match parse_target(target) {
            Some(t) => transport_args(&t, *protocol),
            None => Vec::new(),
        };
        if let Some(u) = user.filter(|u| !u.is_empty()).or(run_user.as_deref()) {
            args.extend(["-u".to_string(), u.to_string()]);
        }
        if password.is_some() {
            args.push("-p".into());
        }
        args.extend(file_args(
            *no_defaults,
            defaults_file.as_deref(),
            defaults_extra_file.as_deref(),
            login_path.as_deref(),
            *no_login_paths,
        ));
        if let Some(m) = ssl_mode {
            args.extend(["--ssl-mode".into(), ssl_mode_name(*m).into()]);
        }
        args.extend(tls_file_args(
            ssl_ca.as_deref(),
            ssl_cert.as_deref(),
            ssl_key.as_deref(),
        ));
        args.extend(server_key_args(
            server_public_key_path.as_deref(),
            *get_server_public_key,
        ));
        if let Some(port) = admin_port {
            args.extend(["--admin-port".into(), port.to_string()]);
        }
        args.extend(timeout_args(*connect_timeout, *query_timeout));
        Replay { args }
    }

    /// The connection arguments, one word per element.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// The whole command: `conncheck`, the connection options, then `own` (the subcommand and
    /// its flags). A connection option that `own` sets itself (`-u <admin>`, `--admin-port`)
    /// wins over the run's.
    pub fn argv(&self, own: &[String]) -> Vec<String> {
        let overridden = |flag: &str| {
            let names: &[&str] = match flag {
                "-u" | "--user" => &["-u", "--user"],
                "-h" | "--host" => &["-h", "--host"],
                "-P" | "--port" => &["-P", "--port"],
                "-S" | "--socket" => &["-S", "--socket"],
                "--admin-port" => &["--admin-port"],
                _ => &[],
            };
            own.iter().any(|w| names.contains(&w.as_str()))
        };
        let mut argv = vec!["conncheck".to_string()];
        let mut words = self.args.iter().peekable();
        while let Some(w) = words.next() {
            let takes_value =
                w.starts_with('-') && !w.contains('=') && !BARE_FLAGS.contains(&w.as_str());
            if overridden(w) {
                if takes_value {
                    words.next();
                }
                continue;
            }
            argv.push(w.clone());
            if takes_value && let Some(v) = words.next() {
                argv.push(v.clone());
            }
        }
        argv.extend(own.iter().cloned());
        argv
    }

    /// The command as a person pastes it: [`argv`](Self::argv) shell-quoted, and the note after
    /// `#` (a shell comment, so the line still runs as pasted).
    pub fn command_line(&self, own: &[String], note: Option<&str>) -> String {
        let argv = self.argv(own);
        let mut line = argv
            .iter()
            .enumerate()
            .map(|(i, w)| {
                // `-u <admin>`: a placeholder to replace, not a word to run (the only one we
                // write; anything from the server is always quoted).
                let placeholder = i > 0
                    && argv[i - 1] == "-u"
                    && w.len() > 2
                    && w.starts_with('<')
                    && w.ends_with('>')
                    && w[1..w.len() - 1].bytes().all(|b| b.is_ascii_lowercase());
                if placeholder { w.clone() } else { quote(w) }
            })
            .collect::<Vec<_>>()
            .join(" ");
        if let Some(n) = note.filter(|n| !n.is_empty()) {
            line.push_str("   # ");
            line.push_str(n);
        }
        line
    }

    /// Put the connection options into every `` `conncheck …` `` quoted inside prose (advice,
    /// notes), so that those commands reach the same server too.
    pub fn in_prose(&self, text: &str) -> String {
        if self.args.is_empty() {
            return text.to_string();
        }
        let prefix: Vec<String> = self.args.iter().map(|w| quote(w)).collect();
        text.replace("`conncheck ", &format!("`conncheck {} ", prefix.join(" ")))
    }
}

/// `-h HOST -P PORT`, or `-h localhost -S SOCKET`. The host is given even with the socket: a
/// `MYSQL_HOST` or an option file naming another host would otherwise turn `-S` into TCP.
fn transport_args(t: &Transport, protocol: Option<Protocol>) -> Vec<String> {
    let mut args = match t {
        Transport::Tcp { host, port } => vec![
            "-h".to_string(),
            host.clone(),
            "-P".to_string(),
            port.to_string(),
        ],
        Transport::Socket(p) => vec![
            "-h".to_string(),
            "localhost".to_string(),
            "-S".to_string(),
            absolute(p),
        ],
    };
    if let Some(p) = protocol {
        let name = match p {
            Protocol::Tcp => "tcp",
            Protocol::Socket => "socket",
        };
        args.extend(["--protocol".to_string(), name.to_string()]);
    }
    args
}

/// The connection flags we replay that take no value.
const BARE_FLAGS: &[&str] = &[
    "-p",
    "--no-defaults",
    "--no-login-paths",
    "--get-server-public-key",
];

/// `--ssl-ca/--ssl-cert/--ssl-key` for the files given, as absolute paths.
fn tls_file_args(ca: Option<&Path>, cert: Option<&Path>, key: Option<&Path>) -> Vec<String> {
    let mut args = Vec::new();
    for (flag, path) in [("--ssl-ca", ca), ("--ssl-cert", cert), ("--ssl-key", key)] {
        if let Some(p) = path {
            args.extend([flag.to_string(), absolute(p)]);
        }
    }
    args
}

/// How a caching_sha2_password login over TCP without TLS may protect the password: the same
/// key file, or the same permission to ask the server for its key (a command that logs in
/// without them may be refused, exit 19). A key read from standard input cannot be given again.
fn server_key_args(path: Option<&Path>, get: bool) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(p) = path.filter(|p| p.as_os_str() != "-") {
        args.extend(["--server-public-key-path".to_string(), absolute(p)]);
    }
    if get {
        args.push("--get-server-public-key".to_string());
    }
    args
}

/// `--no-defaults`, `--defaults-file`, `--defaults-extra-file` as given: the same option files
/// are read again (they may hold the password).
fn file_args(
    no_defaults: bool,
    defaults_file: Option<&Path>,
    defaults_extra_file: Option<&Path>,
    login_path: Option<&str>,
    no_login_paths: bool,
) -> Vec<String> {
    let mut args = Vec::new();
    if no_defaults {
        args.push("--no-defaults".to_string());
    }
    if let Some(f) = defaults_file {
        args.extend(["--defaults-file".to_string(), absolute(f)]);
    }
    if let Some(f) = defaults_extra_file {
        args.extend(["--defaults-extra-file".to_string(), absolute(f)]);
    }
    if let Some(name) = login_path {
        args.push(format!("--login-path={name}"));
    }
    if no_login_paths {
        args.push("--no-login-paths".to_string());
    }
    args
}

/// `--connect-timeout` / `--query-timeout` when not the defaults (5s, 10s): a slow server needs
/// them again.
fn timeout_args(connect_timeout: Duration, query_timeout: Duration) -> Vec<String> {
    let mut args = Vec::new();
    for (flag, d, default) in [
        ("--connect-timeout", connect_timeout, Duration::from_secs(5)),
        ("--query-timeout", query_timeout, Duration::from_secs(10)),
    ] {
        if d != default && !d.is_zero() {
            let text = if d.subsec_nanos() == 0 {
                format!("{}s", d.as_secs())
            } else {
                format!("{}ms", d.as_millis().max(1))
            };
            args.extend([flag.to_string(), text]);
        }
    }
    args
}

/// A snapshot's `target`: a socket path, `host:port` or `[v6]:port`.
fn parse_target(t: &str) -> Option<Transport> {
    if t.starts_with('/') {
        return Some(Transport::Socket(PathBuf::from(t)));
    }
    let (host, port) = match t.strip_prefix('[') {
        Some(rest) => {
            let (h, p) = rest.split_once("]:")?;
            (h, p)
        }
        None => t.rsplit_once(':')?,
    };
    let port = port.parse().ok()?;
    Some(Transport::Tcp {
        host: host.to_string(),
        port,
    })
}

fn ssl_mode_name(m: SslMode) -> &'static str {
    match m {
        SslMode::Disabled => "DISABLED",
        SslMode::Preferred => "PREFERRED",
        SslMode::Required => "REQUIRED",
        SslMode::VerifyCa => "VERIFY_CA",
        SslMode::VerifyIdentity => "VERIFY_IDENTITY",
    }
}

fn absolute(p: &Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// One word for a POSIX shell: as is when it is made of safe characters, else in single quotes.
pub fn quote(w: &str) -> String {
    let safe = |b: u8| b.is_ascii_alphanumeric() || b"@%_+=:,./-".contains(&b);
    if !w.is_empty() && w.bytes().all(safe) {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

/// Split a command line written for a POSIX shell into words (single and double quotes,
/// backslash escapes) and the comment after an unquoted `#` that starts a word.
pub fn split(line: &str) -> (Vec<String>, Option<String>) {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '#' if !in_word => {
                let note: String = chars.collect();
                let note = note.trim().to_string();
                return (words, (!note.is_empty()).then_some(note));
            }
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' if matches!(chars.peek(), Some('"' | '\\' | '$' | '`')) => {
                            word.extend(chars.next());
                        }
                        q => word.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    (words, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> ConnFlags {
        ConnFlags {
            connect_timeout: Duration::from_secs(5),
            query_timeout: Duration::from_secs(10),
            jobs: 8,
            ..ConnFlags::default()
        }
    }

    fn opts(transport: Transport, user: &str) -> ConnectOptions {
        ConnectOptions {
            transport,
            user: user.into(),
            password: None,
            database: None,
            ssl_mode: SslMode::Preferred,
            ssl_ca: None,
            ssl_cert: None,
            ssl_key: None,
            server_public_key: None,
            get_server_public_key: false,
            connect_timeout: Duration::from_secs(5),
            query_timeout: Duration::from_secs(10),
            admin_port: None,
        }
    }

    fn own(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn tcp_target_user_and_files_are_replayed() {
        let mut c = conn();
        c.defaults_file = Some("/etc/x y.cnf".into());
        let o = opts(
            Transport::Tcp {
                host: "db1".into(),
                port: 3307,
            },
            "admin",
        );
        let r = Replay::of_run(&c, &o, None);
        assert_eq!(
            r.command_line(&own(&["kill-idle", "--older-than", "300s"]), Some("why")),
            "conncheck -h db1 -P 3307 -u admin --defaults-file '/etc/x y.cnf' kill-idle --older-than 300s   # why"
        );
    }

    #[test]
    fn a_password_is_never_replayed_only_asked_for() {
        let mut c = conn();
        c.password = Some(Some("hunter2".into()));
        let o = opts(Transport::Socket("/s.sock".into()), "app");
        let line = Replay::of_run(&c, &o, None).command_line(&own(&["status"]), None);
        assert_eq!(line, "conncheck -h localhost -S /s.sock -u app -p status");
        let url = "mysql://app:hunter2@db:3306/x";
        let o = opts(
            Transport::Tcp {
                host: "db".into(),
                port: 3306,
            },
            "app",
        );
        let line = Replay::of_run(&conn(), &o, Some(url)).command_line(&own(&["status"]), None);
        assert_eq!(line, "conncheck -h db -P 3306 -u app -p status");
        // A password from an option file or MYSQL_PWD is found again: no prompt.
        let line = Replay::of_run(&conn(), &o, None).command_line(&own(&["status"]), None);
        assert!(!line.contains(" -p"), "{line}");
    }

    #[test]
    fn tls_protocol_and_admin_port_are_kept() {
        let mut c = conn();
        c.protocol = Some(Protocol::Tcp);
        let mut o = opts(
            Transport::Tcp {
                host: "127.0.0.1".into(),
                port: 3306,
            },
            "root",
        );
        o.ssl_mode = SslMode::VerifyIdentity;
        o.ssl_ca = Some("/ca.pem".into());
        o.admin_port = Some(33062);
        c.connect_timeout = Duration::from_secs(30);
        c.query_timeout = Duration::from_millis(2500);
        let r = Replay::of_run(&c, &o, None);
        assert_eq!(
            r.args().join(" "),
            "-h 127.0.0.1 -P 3306 --protocol tcp -u root --ssl-mode VERIFY_IDENTITY --ssl-ca /ca.pem --admin-port 33062 --connect-timeout 30s --query-timeout 2500ms"
        );
        // The command's own -u and --admin-port win.
        assert_eq!(
            r.command_line(
                &own(&["-u", "<admin>", "--admin-port", "1", "diagnose"]),
                None
            ),
            "conncheck -h 127.0.0.1 -P 3306 --protocol tcp --ssl-mode VERIFY_IDENTITY --ssl-ca /ca.pem --connect-timeout 30s --query-timeout 2500ms -u <admin> --admin-port 1 diagnose"
        );
    }

    /// A run that let caching_sha2_password encrypt the password with a given or requested key
    /// suggests commands that do the same (else they may be refused, exit 19); a bare flag
    /// (or `--login-path=NAME`) never swallows the option after it when `own` overrides that.
    #[test]
    fn server_key_options_are_kept_and_bare_flags_take_no_value() {
        let mut c = conn();
        c.no_login_paths = true;
        c.login_path = Some("ops".into());
        c.get_server_public_key = true;
        c.admin_port = Some(33062);
        let mut o = opts(
            Transport::Tcp {
                host: "db".into(),
                port: 3306,
            },
            "root",
        );
        o.server_public_key = Some("/keys/db.pem".into());
        o.get_server_public_key = true;
        let r = Replay::of_run(&c, &o, None);
        assert_eq!(
            r.command_line(&own(&["--admin-port", "1", "diagnose"]), None),
            "conncheck -h db -P 3306 -u root --login-path=ops --no-login-paths --server-public-key-path /keys/db.pem --get-server-public-key --admin-port 1 diagnose"
        );
        let r = Replay::of_snapshot(&c, "db:3306", Some("root"));
        assert!(
            r.args().join(" ").contains("--get-server-public-key"),
            "{:?}",
            r.args()
        );
        // A key read from standard input cannot be read again.
        o.server_public_key = Some("-".into());
        o.get_server_public_key = false;
        c.get_server_public_key = false;
        let line = Replay::of_run(&c, &o, None).command_line(&own(&["status"]), None);
        assert!(!line.contains("server-public-key"), "{line}");
    }

    #[test]
    fn snapshot_targets() {
        let c = conn();
        let r = Replay::of_snapshot(&c, "[::1]:3310", Some("app"));
        assert_eq!(r.args().join(" "), "-h ::1 -P 3310 -u app");
        let r = Replay::of_snapshot(&c, "/run/m.sock", None);
        assert_eq!(r.args().join(" "), "-h localhost -S /run/m.sock");
        assert_eq!(Replay::of_snapshot(&c, "garbage", None).args().len(), 0);
    }

    #[test]
    fn quoting_round_trips() {
        for w in [
            "plain",
            "it's",
            "a b",
            "$(rm -rf /)",
            "`x`",
            "#",
            "",
            "é",
            "\"q\"",
        ] {
            let (words, note) = split(&quote(w));
            assert_eq!(words, vec![w.to_string()], "{w}");
            assert_eq!(note, None);
        }
        // Only a placeholder we wrote after -u stays unquoted; the same text from a server is
        // quoted like any other.
        assert_eq!(quote("<admin>"), "'<admin>'");
        assert_eq!(
            Replay::none().command_line(
                &own(&["-u", "<admin>", "sessions", "--match-user", "<admin>"]),
                None
            ),
            "conncheck -u <admin> sessions --match-user '<admin>'"
        );
        assert_eq!(
            split("conncheck sessions --match-user 'o'\\''b' --sleeping   # the pool"),
            (
                own(&["conncheck", "sessions", "--match-user", "o'b", "--sleeping"]),
                Some("the pool".into())
            )
        );
    }

    #[test]
    fn prose_commands_get_the_options() {
        let r = Replay::of_snapshot(&conn(), "db:1", Some("u"));
        assert_eq!(
            r.in_prose("run `conncheck kill-idle --older-than 0s` now"),
            "run `conncheck -h db -P 1 -u u kill-idle --older-than 0s` now"
        );
        assert_eq!(Replay::none().in_prose("`conncheck x`"), "`conncheck x`");
    }
}
