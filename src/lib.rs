//! conncheck: diagnose and remedy MySQL/MariaDB "ERROR 1040: Too many connections".
//!
//! Data flows one way: arguments ([`cli`]) → connection ([`connect`]) → snapshot ([`snapshot`])
//! → judgement ([`diagnose`]) → plan ([`remedy`]) → confirmation → action → report ([`report`])
//! → text ([`render`]). [`commands`] wires one subcommand through that flow (no command imports
//! another); [`fleet`] runs it over several targets. The domain modules (`connect`, `snapshot`,
//! `diagnose`, `remedy`) import nothing from `cli` or `render`: the command line is converted
//! to their types at the edge, and [`units`] holds what judgement and rendering both format.
//!
//! Where things go: a heuristic in `diagnose/<cause>.rs` (and its `CHECKS` list and
//! `FindingId`), an output format in `render/`, a server flavor in `snapshot/flavor.rs` and
//! `snapshot/dialect.rs`. Signals (SIGINT, SIGTERM, SIGHUP) and giving the terminal back are
//! [`terminal`]'s alone.

pub(crate) mod argv;
pub(crate) mod cli;
pub(crate) mod clients;
pub(crate) mod commands;
pub(crate) mod connect;
pub(crate) mod diagnose;
pub(crate) mod errors;
pub(crate) mod exit;
pub(crate) mod fast_hash;
pub(crate) mod filter;
pub(crate) mod fleet;
pub(crate) mod input;
pub(crate) mod output;
pub(crate) mod parallel;
pub(crate) mod record;
pub(crate) mod remedy;
pub(crate) mod render;
pub(crate) mod report;
pub(crate) mod snapshot;
pub(crate) mod terminal;
pub(crate) mod text;
pub(crate) mod units;

#[doc(hidden)]
pub mod testing;

/// What the binary (`src/main.rs`, a crate of its own) calls besides [`run`]: the parser, the
/// messages and exit codes of errors, and the password ranges of argv it masks.
pub mod entry {
    pub use crate::argv::secret_ranges;
    pub use crate::cli::{Cli, Command, parse};
    pub use crate::connect::warm::start as warm_up;
    pub use crate::errors::{clap_error, is_check_attempt, report};
}

use std::process::ExitCode;

use cli::{Cli, Command};

/// Run one parsed command line. Errors carry their exit code as an [`exit::AppError`].
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if cli.debug {
        connect::statement_log::enable();
    }
    let ctx = commands::Context::new(cli.conn, cli.color);
    let code = match cli.command {
        Command::Status(a) => commands::status::run(&ctx, &a)?,
        Command::Sessions(a) => commands::sessions::run(&ctx, &a)?,
        Command::Diagnose(a) => commands::diagnose::run(&ctx, &a)?,
        Command::Snapshot(a) => commands::diagnose::snapshot(&ctx, &a)?,
        Command::KillIdle(a) => commands::kill::run_idle(&ctx, &a)?,
        Command::KillLong(a) => commands::kill::run_long(&ctx, &a)?,
        Command::SetTimeouts(a) => commands::settings::timeouts(&ctx, &a)?,
        Command::SetMaxConnections(a) => commands::settings::max_connections(&ctx, &a)?,
        Command::SetSlowLog(a) => commands::settings::slow_log(&ctx, &a)?,
        Command::Check(a) => commands::check::run(&ctx, &a)?,
        Command::Watch(a) => commands::watch::run(&ctx, &a)?,
        Command::Record(a) => commands::record::run(&ctx, &a)?,
        Command::Completions(a) => commands::generate::completions(&a)?,
        Command::Man(a) => commands::generate::man(&a)?,
    };
    Ok(ExitCode::from(code))
}
