//! The connection flags of a run (`--host`, `--ssl-mode`, `--defaults-file`, …): what
//! option-file resolution and the suggested commands' replay start from. The struct is its own
//! clap definition (flattened into `cli::Cli`, its `///` docs are the `--help`), so a new flag is
//! declared once; `connect` still never names the parser's other types.

use std::path::PathBuf;
use std::time::Duration;

use crate::units::parse_timeout;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    Tcp,
    Socket,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SslMode {
    Disabled,
    Preferred,
    Required,
    VerifyCa,
    VerifyIdentity,
}

/// How to reach the server. Same names and precedence as the mysql client.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Connection")]
pub struct ConnFlags {
    /// Server host name or IP. `localhost` means the Unix socket, `127.0.0.1` means TCP (as in
    /// mysql). Environment: MYSQL_HOST.
    #[arg(short = 'h', long, global = true)]
    pub host: Option<String>,

    /// TCP port [default: 3306]. Environment: MYSQL_TCP_PORT.
    #[arg(short = 'P', long, global = true)]
    pub port: Option<u16>,

    /// User name [default: your login name].
    #[arg(short = 'u', long, global = true)]
    pub user: Option<String>,

    /// Password. A bare -p prompts with hidden input; a value must be attached: -pSECRET or
    /// --password=SECRET (prints a warning, as mysql does). Prefer ~/.my.cnf or MYSQL_PWD.
    #[arg(short = 'p', long, global = true, num_args = 0..=1, require_equals = true, value_name = "PASSWORD")]
    pub password: Option<Option<String>>,

    /// Unix socket file (used when the host is localhost or not given). Environment:
    /// MYSQL_UNIX_PORT.
    #[arg(short = 'S', long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,

    /// Default database for the session.
    #[arg(short = 'D', long, global = true)]
    pub database: Option<String>,

    /// Force the transport: tcp, or socket. By default localhost uses the socket, anything else TCP.
    #[arg(long, global = true, value_enum)]
    pub protocol: Option<Protocol>,

    /// Connection URL: mysql://user:pass@host:port/db (also mariadb://). Repeat it to check several
    /// servers at once (status, check, diagnose).
    #[arg(
        long,
        global = true,
        env = "CONNCHECK_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub url: Vec<String>,

    /// File with one target per line (a URL or host[:port]; # starts a comment). Credentials for
    /// host[:port] lines come from option files and the environment.
    #[arg(long, global = true, value_name = "FILE")]
    pub targets: Option<PathBuf>,

    /// How many targets to read at once when there are several (each has its own connection
    /// and timeouts). Connecting is apart: up to 1,024 connection attempts run at once (fewer
    /// when the open-files limit is lower), so servers that never answer delay no other.
    #[arg(long, global = true, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,

    /// With several targets, stop after this long: the targets not finished by then are
    /// reported UNKNOWN (check) or as a timeout (status, diagnose), with what they were still
    /// doing. Default: wait for every target (each is bounded by its own timeouts).
    #[arg(long, global = true, value_parser = parse_timeout, value_name = "DUR")]
    pub deadline: Option<Duration>,

    /// Read options only from this file (no other option files).
    #[arg(long, global = true, value_name = "FILE")]
    pub defaults_file: Option<PathBuf>,

    /// Read this option file after the usual ones.
    #[arg(long, global = true, value_name = "FILE")]
    pub defaults_extra_file: Option<PathBuf>,

    /// Read no option files (the login path file ~/.mylogin.cnf is still read, as MySQL does;
    /// --no-login-paths skips it).
    #[arg(long, global = true)]
    pub no_defaults: bool,

    /// Also read option group [NAME] of every option file and of the login path file
    /// ~/.mylogin.cnf (written by `mysql_config_editor set --login-path=NAME`).
    #[arg(long, global = true, value_name = "NAME", value_parser = login_path_name)]
    pub login_path: Option<String>,

    /// Do not read the login path file ~/.mylogin.cnf ($MYSQL_TEST_LOGIN_FILE).
    #[arg(long, global = true)]
    pub no_login_paths: bool,

    /// TLS: DISABLED, PREFERRED (default: TLS when offered; loopback and sockets stay plain),
    /// REQUIRED, VERIFY_CA, VERIFY_IDENTITY. TLS never applies to a Unix socket.
    #[arg(long, global = true, value_enum, ignore_case = true)]
    pub ssl_mode: Option<SslMode>,

    /// CA certificate file (PEM) for VERIFY_CA / VERIFY_IDENTITY.
    #[arg(long, global = true, value_name = "FILE")]
    pub ssl_ca: Option<PathBuf>,

    /// Client certificate (PEM) for TLS client authentication.
    #[arg(long, global = true, value_name = "FILE")]
    pub ssl_cert: Option<PathBuf>,

    /// Client private key (PEM) for TLS client authentication.
    #[arg(long, global = true, value_name = "FILE")]
    pub ssl_key: Option<PathBuf>,

    /// The server's RSA public key (PEM, its public_key.pem), for a caching_sha2_password account
    /// over TCP without TLS: when the server asks for the password itself, it is encrypted with
    /// this key. Without it (or TLS, a socket, --get-server-public-key) conncheck refuses (exit 19).
    #[arg(long, global = true, value_name = "FILE")]
    pub server_public_key_path: Option<PathBuf>,

    /// Over TCP without TLS, let a caching_sha2_password login ask the server for its RSA public
    /// key and encrypt the password with it. The key is not verified: whoever answers in the
    /// server's place receives the password. Prefer TLS or --server-public-key-path.
    #[arg(long, global = true)]
    pub get_server_public_key: bool,

    /// Give up connecting after this long (TCP connect, greeting and login together).
    #[arg(long, global = true, value_parser = parse_timeout, default_value = "5s", value_name = "DUR")]
    pub connect_timeout: Duration,

    /// Give up on any single query after this long (network read/write timeout; our statements
    /// also get a server-side limit so they never pile up on a sick server).
    #[arg(long, global = true, value_parser = parse_timeout, default_value = "10s", value_name = "DUR")]
    pub query_timeout: Duration,

    /// Try this port first: MySQL's admin_port (33062) or MariaDB's extra_port, which keep working
    /// when max_connections is reached. Falls back to the normal port.
    #[arg(long, global = true, value_name = "PORT")]
    pub admin_port: Option<u16>,
}

/// A `--login-path` name: an option-file group name (no brackets, no control characters).
fn login_path_name(v: &str) -> Result<String, String> {
    if v.trim().is_empty() {
        return Err("a login path name cannot be empty".into());
    }
    if v.chars().any(|c| c == '[' || c == ']' || c.is_control()) {
        return Err(
            "a login path name is an option group name: no brackets or control characters".into(),
        );
    }
    Ok(v.to_string())
}
