//! One module per subcommand: each only wires arguments through connect → snapshot → judgement
//! → plan → action → report → text, calling the modules that do the work (reports are built in
//! [`crate::report`], rendered by [`crate::render`]). No command imports another; shared plumbing
//! (targets, the resolver, prompts) lives here.

pub mod check;
pub mod diagnose;
pub mod generate;
pub mod kill;
pub mod live;
pub mod record;
pub mod sessions;
pub mod settings;
pub mod status;
pub mod watch;

use std::io::IsTerminal;
use std::path::Path;

use crate::cli::ColorChoice;
use crate::connect::ConnFlags;
use crate::connect::{self, ConnectOptions, Connection, ProcessEnv, Resolver};
use crate::exit::{AppError, ErrorKind};
use crate::render::Style;

/// What every command gets: the connection arguments and the terminal style.
pub struct Context {
    pub conn: ConnFlags,
    pub style: Style,
    /// `--targets` is read once (it may be a pipe or standard input).
    targets: std::sync::OnceLock<Result<Vec<Option<String>>, AppError>>,
    /// Option files are read (a FIFO can be read only once), the password prompted for and
    /// warnings printed once per run.
    resolver: std::sync::OnceLock<Result<Resolver, AppError>>,
}

impl Context {
    pub fn new(conn: ConnFlags, color: ColorChoice) -> Self {
        Context {
            conn,
            style: Style::detect(color),
            targets: std::sync::OnceLock::new(),
            resolver: std::sync::OnceLock::new(),
        }
    }

    /// Read option files and environment once, prompting for a bare `-p`. Warnings go to stderr.
    pub fn resolver(&self) -> Result<Resolver, AppError> {
        self.resolver.get_or_init(|| self.read_resolver()).clone()
    }

    fn read_resolver(&self) -> Result<Resolver, AppError> {
        let prompted = match &self.conn.password {
            Some(None) => Some(prompt_password()?),
            _ => None,
        };
        let r = Resolver::new(&self.conn, &ProcessEnv, prompted)?;
        for w in &r.warnings {
            eprintln!("conncheck: {w}");
        }
        Ok(r)
    }

    /// The targets named by repeated `--url` and `--targets FILE`; `[None]` means "the one
    /// server the flags, environment and option files describe".
    pub fn targets(&self) -> Result<Vec<Option<String>>, AppError> {
        self.targets.get_or_init(|| self.read_targets()).clone()
    }

    fn read_targets(&self) -> Result<Vec<Option<String>>, AppError> {
        let mut t: Vec<Option<String>> = self.conn.url.iter().cloned().map(Some).collect();
        if let Some(file) = &self.conn.targets {
            t.extend(read_targets(file)?.into_iter().map(Some));
        }
        if t.is_empty() {
            t.push(None);
        }
        Ok(t)
    }

    /// How much of a fleet of `targets` targets runs at once (`--jobs`, `--deadline`).
    pub fn fleet_limits(&self, targets: usize) -> crate::fleet::Limits {
        crate::fleet::Limits::new(self.conn.jobs, self.conn.deadline, targets)
    }

    /// The targets when there are several (run by [`crate::fleet`]), None for the usual one.
    pub fn fleet(&self) -> Result<Option<Vec<crate::fleet::Target>>, AppError> {
        crate::fleet::targets(&self.targets()?, || self.resolver())
    }

    /// Options for the single target of a command that handles only one.
    pub fn single_target(&self) -> Result<ConnectOptions, AppError> {
        let targets = self.targets()?;
        if targets.len() > 1 {
            return Err(AppError::usage(
                "this command works on one server: give at most one --url (status, check and diagnose take several)",
            ));
        }
        self.resolver()?.resolve(targets[0].as_deref(), &ProcessEnv)
    }

    /// The connection options of the single target, for the `conncheck …` commands we suggest
    /// (see `connect::replay`).
    pub fn replay(&self, opts: &ConnectOptions) -> Result<connect::replay::Replay, AppError> {
        let source = self.targets()?.into_iter().next().flatten();
        Ok(connect::replay::Replay::of_run(
            &self.conn,
            opts,
            source.as_deref(),
        ))
    }

    /// Connect to the single target.
    pub fn connect(&self) -> Result<(Connection, ConnectOptions), AppError> {
        let opts = self.single_target()?;
        let c = connect::open(&opts)?;
        Ok((c, opts))
    }
}

/// One target per line: a URL or host[:port]; blank lines and `#` comments are skipped.
pub fn read_targets(file: &Path) -> Result<Vec<String>, AppError> {
    let text = crate::input::read_capped(file, crate::input::SMALL_FILE_MAX).map_err(|e| {
        AppError::usage(format!(
            "cannot read targets file {}: {e}",
            crate::text::path(file)
        ))
    })?;
    let text = String::from_utf8_lossy(&text);
    let targets: Vec<String> = text
        .lines()
        .map(|l| l.split_once('#').map_or(l, |(a, _)| a).trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if targets.is_empty() {
        return Err(AppError::usage(format!(
            "targets file {} lists no targets",
            crate::text::path(file)
        )));
    }
    Ok(targets)
}

fn prompt_password() -> Result<String, AppError> {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(AppError::usage(
            "-p without a value needs a terminal to prompt for the password",
        )
        .hint(
            "attach the value (-pSECRET), or use MYSQL_PWD or a [client] password in ~/.my.cnf",
        ));
    }
    let guard = crate::terminal::prompt("no password was read; nothing was done");
    match dialoguer::Password::new()
        .with_prompt("Enter password")
        .allow_empty_password(true)
        .interact()
    {
        Ok(p) => Ok(p),
        Err(e) if crate::terminal::is_ctrl_c(&e) => Err(guard.interrupted()),
        Err(e) => Err(AppError::new(
            ErrorKind::Other,
            format!("cannot read the password: {e}"),
        )),
    }
}

/// Whether we may ask the user a question: stdin and stderr are both terminals.
pub fn can_prompt() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Ask before a destructive step. Without a terminal this refuses (the caller skips it with
/// `--yes`); "no" is [`ErrorKind::Declined`]. `action` completes "refusing to ... without
/// confirmation" and "nothing ...: declined", e.g. ("kill 3 sessions", "killed").
pub fn confirm(question: &str, action: &str, nothing: &str) -> Result<(), AppError> {
    if !can_prompt() {
        return Err(AppError::new(
            ErrorKind::NeedsConfirmation,
            format!("refusing to {action} without confirmation: no terminal to ask on"),
        )
        .hint("review the plan with --dry-run, then pass --yes to run non-interactively"));
    }
    // Ctrl-C, SIGTERM or SIGHUP while it waits: cursor and terminal back, `nothing ...`, exit
    // 128 + the signal (130 for Ctrl-C).
    let guard = crate::terminal::prompt(&format!("nothing {nothing}"));
    let yes = match dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()
    {
        Ok(yes) => yes,
        Err(e) if crate::terminal::is_ctrl_c(&e) => return Err(guard.interrupted()),
        Err(e) => {
            return Err(AppError::new(
                ErrorKind::Other,
                format!("cannot read the answer: {e}"),
            ));
        }
    };
    drop(guard);
    if yes {
        Ok(())
    } else {
        Err(AppError::new(
            ErrorKind::Declined,
            format!("nothing {nothing}: declined at the prompt"),
        ))
    }
}
