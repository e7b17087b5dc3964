//! The connection flags of a run (`--host`, `--ssl-mode`, `--defaults-file`, …) as plain data:
//! what option-file resolution and the suggested commands' replay start from. The command line
//! converts its clap arguments to this at the edge (`cli.rs`), so `connect` never depends on the
//! parser's types.

use std::path::PathBuf;
use std::time::Duration;

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

/// The connection flags as given on the command line (before option files and environment).
#[derive(Debug, Clone, Default)]
pub struct ConnFlags {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub password: Option<Option<String>>,
    pub socket: Option<PathBuf>,
    pub database: Option<String>,
    pub protocol: Option<Protocol>,
    pub url: Vec<String>,
    pub targets: Option<PathBuf>,
    pub jobs: u16,
    /// Several targets: stop waiting after this long (`--deadline`).
    pub deadline: Option<Duration>,
    pub defaults_file: Option<PathBuf>,
    pub defaults_extra_file: Option<PathBuf>,
    pub no_defaults: bool,
    pub login_path: Option<String>,
    pub no_login_paths: bool,
    pub ssl_mode: Option<SslMode>,
    pub ssl_ca: Option<PathBuf>,
    pub ssl_cert: Option<PathBuf>,
    pub ssl_key: Option<PathBuf>,
    pub server_public_key_path: Option<PathBuf>,
    pub get_server_public_key: bool,
    pub connect_timeout: Duration,
    pub query_timeout: Duration,
    pub admin_port: Option<u16>,
}
