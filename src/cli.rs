//! The command line, as data: clap derive types whose `///` comments are the `--help` text.
//!
//! No logic lives here beyond value parsers for durations and thresholds. `completions/` and `man/`
//! are generated from these types (`conncheck completions`, hidden `conncheck man`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::connect::ConnFlags;
use crate::diagnose::Thresholds;
pub use crate::diagnose::{FailOn, Threshold, threshold_conflict};
use crate::exit::AppError;
use crate::filter::SessionFilter;
pub use crate::remedy::plan::WithOpenTrx;
use crate::report::check::Limits;
pub use crate::report::sessions::GroupBy;
use crate::units::parse_at_least;
pub use crate::units::parse_duration;

const AFTER_HELP: &str = "\
Examples:
  conncheck diagnose                       why is the server running out of connections?
  conncheck -h db1 -u admin -p status      usage, counters and top clients (prompts for the password)
  conncheck sessions --sleeping --min-time 10m --group-by user
  conncheck kill-idle --older-than 300s --match-user app --dry-run
  conncheck check --warning 80% --critical 90%    Nagios/Icinga/CI health check

Connection settings are read like the mysql client reads them: [client] and [conncheck] groups
of /etc/my.cnf, /etc/mysql/my.cnf and ~/.my.cnf, then MYSQL_HOST, MYSQL_TCP_PORT, MYSQL_UNIX_PORT,
MYSQL_PWD, then --url, then the flags. Exit codes are listed in `man conncheck` and the README.";

/// `check --help`'s epilogue: the exit codes from [`crate::exit::nagios::CODES`], then examples.
fn check_after_help() -> String {
    format!(
        "Exit codes (monitoring-plugin convention):\n{}{CHECK_AFTER_CODES}",
        crate::exit::nagios::help_lines()
    )
}

const CHECK_AFTER_CODES: &str = "\
With several targets (repeated --url or --targets FILE) they are checked concurrently (--jobs)
and the exit code is the worst state, in the Nagios order CRITICAL > WARNING > UNKNOWN > OK.

Examples:
  conncheck -h db1 check                              CONNCHECK OK - 12 of 151 connections ...
  conncheck check --warning 70% --critical 400 --max-idle 50
  conncheck check --format prometheus > /var/lib/node_exporter/conncheck.prom.$$
  conncheck --targets fleet.txt check --format json";

const WATCH_AFTER_HELP: &str = "\
On a terminal the screen is redrawn every --interval (usage, history, rates, the cause line: the
top finding judged again at each refresh, top clients); press q (or Ctrl-C) to quit. Otherwise one
line per sample is printed, for logs:
  2026-11-23T19:40:00Z connected=12/151 (8%) running=2 conn/s=0.5 aborted/s=0.0 refused/s=0.0 sleeping=9 oldest_idle=35s longest_query=0s cause=- full_in=-
A lost connection is shown and retried after 1s, 2s, 4s ... (at most 30s) instead of ending the run.

Examples:
  conncheck -h db1 watch --interval 1s
  conncheck watch --count 30 --interval 10s >> connections.log";

const RECORD_AFTER_HELP: &str = "\
Keeps ONE connection and reads a cheap sample every --interval (global status and one grouped
processlist query: connections per user@host and application). When a --trigger fires (any one;
default 'usage >= 90'), it takes a full snapshot at once and another --after later, and writes
them with the samples of the last --before into one incident folder in --dir, named by its UTC
time (e.g. 2026-12-04T17-40-03Z): index.json, trigger.json, after.json, samples.json. Replay it
with `conncheck diagnose --from DIR/2026-12-04T17-40-03Z/trigger.json`.

Triggers: METRIC OP VALUE, OP one of >= > <= <, METRIC one of
  usage          connections in use, % of max_connections (90 or 90%)
  connections    Threads_connected
  running        Threads_running
  refused        clients refused since the previous sample: ERROR 1040, on MariaDB the
                 logins refused after authentication (1040, 1203, 1226), and ERROR 1129
                 where performance_schema.host_cache is readable
  connections/s  login attempts per second since the previous sample
  lock-waits     sessions waiting for a row, table or metadata lock

A lost connection is retried after 1s, 2s, 4s ... (at most 30s). To get back into a FULL server
the account needs SUPER or CONNECTION ADMIN (the one extra connection max_connections reserves
for it); the connection already open keeps recording while the server is full.
One line per trigger, incident and reconnect goes to stderr (the journal under systemd: see
docs/conncheck-record.service); a summary is printed at the end (--for, SIGINT or SIGTERM).

Examples:
  conncheck -h db1 record --dir /var/lib/conncheck/incidents
  conncheck record --dir incidents --trigger 'usage >= 80' --trigger 'refused > 0'
  conncheck record --dir /tmp/inc --interval 200ms --trigger 'connections >= 15' --for 2m";

/// Diagnose and remedy MySQL/MariaDB "ERROR 1040 (HY000): Too many connections".
#[derive(Debug, Parser)]
#[command(
    name = "conncheck",
    version,
    disable_help_flag = true,
    after_help = AFTER_HELP,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub conn: ConnFlags,

    /// When to use colors: auto (a terminal, NO_COLOR unset, TERM not dumb), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Log every statement sent to the server, with its round-trip time, on stderr (never the
    /// password: it is not part of any statement).
    #[arg(long, global = true)]
    pub debug: bool,

    /// Print help (-h is the host, as in the mysql client).
    #[arg(long, global = true, action = clap::ArgAction::Help)]
    pub help: Option<bool>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Human-readable tables.
    #[default]
    Table,
    /// Versioned JSON (every field: docs/json.md).
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Monitoring-plugin output: `CONNCHECK OK - ... | perfdata`.
    Nagios,
    /// JSON with state, reasons and metrics.
    Json,
    /// Prometheus text exposition format (node_exporter textfile collector).
    Prometheus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One screen: flavor, usage against max_connections, counters, timeouts and the top clients.
    Status(StatusArgs),
    /// The processlist with filters, grouping and open-transaction ages.
    Sessions(SessionsArgs),
    /// Find why the server runs out of connections: ranked causes, evidence, and the fix for each.
    Diagnose(DiagnoseArgs),
    /// Save everything diagnose reads to a JSON file (judge it later with `diagnose --from`).
    Snapshot(SnapshotArgs),
    /// Kill sessions idle (Sleep) for at least --older-than, after showing the plan.
    KillIdle(KillIdleArgs),
    /// Kill sessions (or only their statements) running for at least --longer-than.
    KillLong(KillLongArgs),
    /// Lower (or raise) the global wait_timeout / interactive_timeout.
    SetTimeouts(SetTimeoutsArgs),
    /// Change the global max_connections, showing its memory cost first.
    SetMaxConnections(SetMaxConnectionsArgs),
    /// Turn the slow query log on or off (find the queries that hold connections).
    SetSlowLog(SetSlowLogArgs),
    /// Health check for CI and monitoring: Nagios exit codes, JSON or Prometheus output.
    #[command(after_help = check_after_help())]
    Check(CheckArgs),
    /// Live view of connection usage, refreshed every --interval.
    #[command(after_help = WATCH_AFTER_HELP)]
    Watch(WatchArgs),
    /// Flight recorder: sample every --interval, and write an incident folder when a trigger fires.
    #[command(after_help = RECORD_AFTER_HELP)]
    Record(RecordArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Write the man pages into a directory.
    #[command(hide = true)]
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Read global status twice this far apart for the connection, abort and refusal rates
    /// (0 = one reading; the rates are then averages since the server started).
    #[arg(long, value_parser = parse_duration, default_value = "1s", value_name = "DUR")]
    pub sample: Duration,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// How many client groups (user@host) to list.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

/// Filters shared by `sessions`, `kill-idle` and `kill-long`. All given filters must match (AND).
///
/// `-u/--user` and `-h/--host` are the connection (as in mysql), so the filters use pt-kill's
/// `--match-*` names.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Filters (all given must match)")]
pub struct SessionFilterArgs {
    /// Only sessions of this user: `app` (any host) or `app@10.0.0.7`, the user@host form
    /// conncheck prints (host without the client's port; `app@%` is any host). `a@b` is always
    /// the user `a` from host `b`: quote a user name that holds `@`, as in SQL (`'a@b'@'%'`).
    /// Exact match; repeat for several.
    #[arg(long, value_name = "USER[@HOST]", value_parser = user_spec)]
    pub match_user: Vec<String>,
    /// Only sessions from this client host (exact match, without the :port; repeat for several).
    #[arg(long, value_name = "HOST")]
    pub match_host: Vec<String>,
    /// Only sessions whose default database is this (exact; repeat for several).
    #[arg(long, visible_alias = "db", value_name = "DB")]
    pub match_db: Vec<String>,
    /// Only sessions in this command, e.g. Sleep, Query (case-insensitive; repeat for several).
    #[arg(long, visible_alias = "command", value_name = "COMMAND")]
    pub match_command: Vec<String>,
    /// Only sessions whose state matches this regex (unanchored unless you anchor it).
    #[arg(long, visible_alias = "state", value_name = "REGEX")]
    pub match_state: Option<String>,
    /// Only sessions whose query text (Info) matches this regex (unanchored unless you anchor it,
    /// e.g. '^SELECT'; use (?i) for case-insensitive).
    #[arg(long, value_name = "REGEX")]
    pub match_info: Option<String>,
    /// Only sessions at least this long in their current state (e.g. 30s, 5m).
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    pub min_time: Option<Duration>,
    /// Only sleeping (idle) sessions.
    #[arg(long, conflicts_with = "busy")]
    pub sleeping: bool,
    /// Only busy (non-Sleep) sessions.
    #[arg(long)]
    pub busy: bool,
}

#[derive(Debug, Args)]
pub struct SessionsArgs {
    #[command(flatten)]
    pub filter: SessionFilterArgs,
    /// Group the sessions and show counts, oldest and total time per group.
    #[arg(long, value_enum)]
    pub group_by: Option<GroupBy>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Show at most this many rows (0 = all).
    #[arg(long, default_value_t = 0)]
    pub limit: usize,
    /// Show full query texts instead of a 60-character snippet.
    #[arg(long)]
    pub full: bool,
}

/// Thresholds used by the heuristics.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Thresholds")]
pub struct ThresholdArgs {
    /// A sleeping session idle this long counts as idle.
    #[arg(long, value_parser = parse_duration, default_value = "300s", value_name = "DUR")]
    pub idle_threshold: Duration,
    /// A statement running this long counts as long-running.
    #[arg(long, value_parser = parse_duration, default_value = "60s", value_name = "DUR")]
    pub long_query_threshold: Duration,
    /// A transaction open this long while its session sleeps counts as an idle transaction.
    #[arg(long, value_parser = parse_duration, default_value = "60s", value_name = "DUR")]
    pub trx_threshold: Duration,
    /// Connection usage that is a warning: a percentage of max_connections (80%) or a count (400).
    /// Must be below --critical (a percentage and a count are compared on the server's
    /// max_connections).
    #[arg(long, value_parser = parse_threshold, default_value = "80%", value_name = "N|N%")]
    pub warning: Threshold,
    /// Connection usage that is critical: a percentage of max_connections (90%, at most 100%) or a
    /// count.
    #[arg(long, value_parser = parse_threshold, default_value = "90%", value_name = "N|N%")]
    pub critical: Threshold,
    /// Server RAM in bytes, with K/M/G/T suffixes (e.g. 16G), for the memory estimate. Read from
    /// /proc/meminfo when the server is local; otherwise unknown.
    #[arg(long, value_parser = parse_bytes, value_name = "BYTES")]
    pub server_memory: Option<u64>,
}

#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
    /// Read global status twice this far apart to measure rates (0 = one reading). From 3s the
    /// trend of Threads_connected gives a forecast: when the server is full at that rate.
    #[arg(long, value_parser = parse_duration, default_value = "1s", value_name = "DUR")]
    pub sample: Duration,
    /// Judge a saved snapshot (from `conncheck snapshot -o`) instead of connecting, or replay an
    /// incident folder (from `conncheck record --dir`): the verdict at its peak, and what grew
    /// before the trigger.
    #[arg(long, value_name = "FILE|DIR")]
    pub from: Option<PathBuf>,
    /// With `--from DIR` (an incident folder): also draw connections per top client over time,
    /// with max_connections and the trigger, as an SVG file.
    #[arg(long, value_name = "FILE.svg", requires = "from")]
    pub chart: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Also list the sessions behind each finding.
    #[arg(short, long)]
    pub verbose: bool,
    /// Exit with code 1 when a finding of this severity or worse is found.
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOn>,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Write the snapshot here (default: standard output).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Read global status twice this far apart to measure rates (0 = one reading).
    #[arg(long, value_parser = parse_duration, default_value = "1s", value_name = "DUR")]
    pub sample: Duration,
}

/// Options shared by the kill commands.
#[derive(Debug, Args, Clone)]
pub struct KillArgs {
    #[command(flatten)]
    pub filter: SessionFilterArgs,
    /// Never kill sessions of this user: `app` (any host) or `app@10.0.0.7`, the user@host form
    /// conncheck prints (host without the client's port; `app@%` is any host). `a@b` is always
    /// the user `a` from host `b`: quote a user name that holds `@`, as in SQL (`'a@b'@'%'`).
    /// Repeat for several.
    #[arg(long, value_name = "USER[@HOST]", value_parser = user_spec)]
    pub exclude_user: Vec<String>,
    /// Only the session with this processlist id (repeat for several): how a verdict's relief
    /// names the sessions it ends. The threshold and filters still apply, and each session is
    /// re-checked before its KILL.
    #[arg(long = "id", value_name = "N")]
    pub ids: Vec<u64>,
    /// Kill at most this many sessions, oldest first.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Sessions holding an open transaction: include (default; they roll back first), only, skip.
    #[arg(long, value_enum, default_value_t = WithOpenTrx::Include)]
    pub with_open_trx: WithOpenTrx,
    /// Only sessions whose open transaction is at least this old (INNODB_TRX trx_started),
    /// however long they have been idle or running; sessions without one are left alone.
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    pub trx_older_than: Option<Duration>,
    /// Show the plan and kill nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Do not ask for confirmation (needed when there is no terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Use Amazon RDS procedures (CALL mysql.rds_kill) even if RDS is not detected.
    #[arg(long)]
    pub rds: bool,
    /// Also allow killing replication threads (Binlog Dump, replica threads). Dangerous.
    #[arg(long)]
    pub allow_replication: bool,
    /// Also allow killing system threads (system user, event_scheduler). Dangerous.
    #[arg(long)]
    pub allow_system: bool,
    /// Repeat the selection and kill every DUR (with --for), like a bounded pt-kill daemon.
    #[arg(long, value_parser = parse_repeat, value_name = "DUR", requires = "for_")]
    pub repeat: Option<Duration>,
    /// How long to keep repeating (with --repeat).
    #[arg(long = "for", value_parser = parse_duration, value_name = "DUR", requires = "repeat")]
    pub for_: Option<Duration>,
    /// Append the plan and the results as JSON lines to this file (an audit log).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct KillIdleArgs {
    /// Kill sessions idle (Sleep) at least this long, e.g. 300s or 10m.
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    pub older_than: Duration,
    /// Kill connections of fixed-size pools too (one client's connections opened together and
    /// idle together): left out by default, since the pool reopens them at once.
    #[arg(long)]
    pub include_pools: bool,
    #[command(flatten)]
    pub kill: KillArgs,
}

#[derive(Debug, Args)]
pub struct KillLongArgs {
    /// Kill statements running at least this long, e.g. 60s or 2m.
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    pub longer_than: Duration,
    /// Kill only the running statement (KILL QUERY) and keep the connection.
    #[arg(long)]
    pub query_only: bool,
    #[command(flatten)]
    pub kill: KillArgs,
}

/// Options shared by the settings commands.
#[derive(Debug, Args, Clone)]
pub struct ChangeArgs {
    /// Show the plan and change nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Do not ask for confirmation (needed when there is no terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Make the change survive a restart: SET PERSIST on MySQL 8; on MariaDB print the my.cnf
    /// snippet to add.
    #[arg(long)]
    pub persist: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct SetTimeoutsArgs {
    /// New global wait_timeout (idle limit of non-interactive clients), e.g. 300s: whole
    /// seconds, at least 1s; below 10s needs --force.
    #[arg(long, value_parser = parse_server_timeout, value_name = "DUR", required_unless_present = "interactive_timeout")]
    pub wait_timeout: Option<Duration>,
    /// New global interactive_timeout (idle limit of interactive clients such as mysql): whole
    /// seconds, at least 1s; below 10s needs --force.
    #[arg(long, value_parser = parse_server_timeout, value_name = "DUR")]
    pub interactive_timeout: Option<Duration>,
    /// Allow a timeout below 10s: every client that pauses that long between two statements
    /// (a pool between borrows, a person at a prompt) is disconnected by the server.
    #[arg(long)]
    pub force: bool,
    /// Also kill sessions already idle longer than the new timeout (the new value only applies to
    /// new sessions).
    #[arg(long)]
    pub kill_existing: bool,
    #[command(flatten)]
    pub change: ChangeArgs,
}

#[derive(Debug, Args)]
pub struct SetMaxConnectionsArgs {
    /// The new max_connections.
    #[arg(value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub value: u32,
    /// Apply even if the open-files limit cannot hold the new value.
    #[arg(long)]
    pub force: bool,
    /// Server RAM in bytes (K/M/G/T suffixes) for the memory estimate.
    #[arg(long, value_parser = parse_bytes, value_name = "BYTES")]
    pub server_memory: Option<u64>,
    #[command(flatten)]
    pub change: ChangeArgs,
}

#[derive(Debug, Args)]
pub struct SetSlowLogArgs {
    /// on or off.
    #[arg(value_enum)]
    pub state: OnOff,
    /// Also set long_query_time (e.g. 1s, 500ms).
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    pub long_query_time: Option<Duration>,
    #[command(flatten)]
    pub change: ChangeArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
    /// WARNING when more sessions than this are idle over --idle-threshold (CRITICAL over twice).
    #[arg(long, value_name = "N")]
    pub max_idle: Option<u64>,
    /// WARNING when more statements than this run over --long-query-threshold.
    #[arg(long, value_name = "N")]
    pub max_long: Option<u64>,
    /// WARNING when more sessions than this sit in a transaction over --trx-threshold.
    #[arg(long, value_name = "N")]
    pub max_idle_trx: Option<u64>,
    /// Also fail on any diagnose finding of this severity or worse.
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOn>,
    /// Read global status twice this far apart (clients refused during the sample, with ERROR 1040,
    /// 1203, 1226 or 1129, are CRITICAL).
    #[arg(long, value_parser = parse_duration, default_value = "1s", value_name = "DUR")]
    pub sample: Duration,
    /// WARNING when the trend of Threads_connected reaches max_connections within this long
    /// (e.g. 15m); samples for --forecast-window.
    #[arg(long, value_parser = parse_horizon, value_name = "DUR")]
    pub forecast: Option<Duration>,
    /// How long --forecast watches the trend (Threads_connected about once a second).
    #[arg(long, value_parser = parse_forecast_window, default_value = "30s", value_name = "DUR", requires = "forecast")]
    pub forecast_window: Duration,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Nagios)]
    pub format: CheckFormat,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Time between samples (at least 100ms).
    #[arg(long, value_parser = parse_interval, default_value = "2s", value_name = "DUR")]
    pub interval: Duration,
    /// Stop after this many samples, at least 1 (reconnect attempts count too; default: until q
    /// or Ctrl-C).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Number of samples kept for the sparkline.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u16).range(1..))]
    pub window: u16,
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Write incident folders here (created 0700 if missing).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Time between samples (at least 100ms).
    #[arg(long, value_parser = parse_interval, default_value = "1s", value_name = "DUR")]
    pub interval: Duration,
    /// When to write an incident: 'METRIC OP VALUE', e.g. 'usage >= 90' (repeat: any one fires;
    /// default 'usage >= 90').
    #[arg(long = "trigger", value_name = "'METRIC OP VALUE'", value_parser = parse_trigger)]
    pub triggers: Vec<crate::record::trigger::Trigger>,
    /// After an incident, do not start another one for this long.
    #[arg(long, value_parser = parse_duration, default_value = "60s", value_name = "DUR")]
    pub cooldown: Duration,
    /// Take the second snapshot this long after the trigger.
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "DUR")]
    pub after: Duration,
    /// Keep the samples of this long before the trigger in the incident.
    #[arg(long, value_parser = parse_duration, default_value = "300s", value_name = "DUR")]
    pub before: Duration,
    /// Disk bound for all incidents in --dir, at least 1M: the oldest are removed first (never
    /// the newest), and query texts are cut so that one incident fits in it.
    #[arg(long, value_parser = parse_max_size, default_value = "100M", value_name = "SIZE")]
    pub max_size: u64,
    /// Stop after this long (default: until SIGINT or SIGTERM).
    #[arg(long = "for", value_parser = parse_duration, value_name = "DUR")]
    pub run_for: Option<Duration>,
}

/// The smallest `record --max-size`: one incident (two snapshots and the samples) of a busy
/// server needs about this much even with its query texts cut.
pub const MIN_MAX_SIZE: u64 = 1 << 20;

/// `record --max-size`: a size of at least [`MIN_MAX_SIZE`].
fn parse_max_size(s: &str) -> Result<u64, String> {
    let n = parse_bytes(s)?;
    if n < MIN_MAX_SIZE {
        return Err(format!(
            "'{s}' is below 1M: no incident fits in it; use e.g. 100M"
        ));
    }
    Ok(n)
}

/// `record --trigger`: see `record::trigger::parse`.
pub fn parse_trigger(s: &str) -> Result<crate::record::trigger::Trigger, String> {
    crate::record::trigger::parse(s)
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate completions for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Directory to write conncheck.1 and one page per command into.
    #[arg(default_value = "man")]
    pub dir: PathBuf,
}

/// `300s`, `5m`, `1h30m`, `250ms`; a bare number means seconds (as in my.cnf).
/// `--forecast`: a horizon, more than zero.
fn parse_horizon(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err("the horizon must be more than 0, e.g. 15m".into());
    }
    Ok(d)
}

/// `--forecast-window`: long enough to fit a trend to, short enough for a health check.
fn parse_forecast_window(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_secs(5) || d > Duration::from_secs(3600) {
        return Err(format!(
            "'{s}': the window must be between 5s and 1h (a trend needs readings over time)"
        ));
    }
    Ok(d)
}

/// A `--match-user` / `--exclude-user` value, checked ([`crate::filter::UserSpec`]) and kept as
/// given.
fn user_spec(s: &str) -> Result<String, String> {
    crate::filter::UserSpec::try_parse(s).map(|_| s.to_string())
}

/// `--repeat`: at least 1s, since every round reads the whole processlist (0 would spin).
pub fn parse_repeat(s: &str) -> Result<Duration, String> {
    parse_at_least(
        s,
        Duration::from_secs(1),
        "rounds must be at least 1s apart",
    )
}

/// `watch --interval`: at least 100ms, since every sample reads the processlist (0 would spin).
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    parse_at_least(
        s,
        Duration::from_millis(100),
        "samples must be at least 100ms apart",
    )
}

/// `80%` or `400`.
pub fn parse_threshold(s: &str) -> Result<Threshold, String> {
    let t = s.trim();
    if let Some(p) = t.strip_suffix('%') {
        let v: f64 = p
            .trim()
            .parse()
            .map_err(|_| format!("'{s}' is not a percentage: use e.g. 80%"))?;
        // More than 100% of max_connections can never be reached (the +1 admin slot aside).
        if !(0.0..=100.0).contains(&v) || !v.is_finite() {
            return Err(format!("'{s}' must be between 0% and 100%"));
        }
        Ok(Threshold::Percent(v))
    } else {
        t.parse::<u64>()
            .map(Threshold::Count)
            .map_err(|_| format!("'{s}' is neither a count (400) nor a percentage (80%)"))
    }
}

/// The server's maximum wait_timeout / interactive_timeout: 31536000 s, 365 days
/// (https://mariadb.com/kb/en/server-system-variables/#wait_timeout,
/// https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html#sysvar_wait_timeout).
pub const MAX_SERVER_TIMEOUT_S: u64 = 31_536_000;

/// Below this a timeout set by `set-timeouts` needs `--force`.
pub const MIN_SAFE_SERVER_TIMEOUT_S: u64 = 10;

/// `set-timeouts --wait-timeout / --interactive-timeout`: whole seconds from 1s to 365 days. The
/// server takes whole seconds and turns 0 into 1: `0`, `0.5s` or `1ns` would close every idle
/// connection after one second, server-wide.
pub fn parse_server_timeout(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err(format!(
            "'{s}' would make the server close every connection idle for 1 second: use e.g. 300s"
        ));
    }
    if d.subsec_nanos() != 0 {
        return Err(format!(
            "'{s}' is not a whole number of seconds: the server takes wait_timeout in seconds"
        ));
    }
    if d.as_secs() > MAX_SERVER_TIMEOUT_S {
        return Err(format!(
            "'{s}' is above the server's maximum of {MAX_SERVER_TIMEOUT_S}s (365 days)"
        ));
    }
    Ok(d)
}

/// `16G`, `512M`, `1073741824`.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let mult: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("'{s}': unknown unit (use K, M, G or T)")),
            };
            (&t[..i], mult)
        }
        _ => (t, 1),
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a size: use e.g. 16G or 512M"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("'{s}' is too large"))
}

/// The edge: `check`'s arguments as its limits.
impl From<&CheckArgs> for Limits {
    fn from(a: &CheckArgs) -> Self {
        Limits {
            th: Thresholds::from(&a.thresholds),
            max_idle: a.max_idle,
            max_long: a.max_long,
            max_idle_trx: a.max_idle_trx,
            fail_on: a.fail_on,
            forecast: a.forecast,
        }
    }
}

/// The edge: the session filter flags as the filter `sessions` and the kill plans select with
/// (a bad `--match-state` / `--match-info` regex is a usage error).
impl TryFrom<&SessionFilterArgs> for SessionFilter {
    type Error = AppError;

    fn try_from(a: &SessionFilterArgs) -> Result<Self, AppError> {
        let mut f = SessionFilter::default()
            .with_users(a.match_user.clone())
            .with_hosts(a.match_host.clone())
            .with_dbs(a.match_db.clone())
            .with_commands(&a.match_command);
        if let Some(p) = &a.match_state {
            f = f.with_state("--match-state", p)?;
        }
        if let Some(p) = &a.match_info {
            f = f.with_info("--match-info", p)?;
        }
        if let Some(d) = a.min_time {
            f = f.with_min_time(d);
        }
        if a.sleeping {
            f = f.sleeping_only();
        }
        if a.busy {
            f = f.busy_only();
        }
        Ok(f)
    }
}

/// The edge: clap's threshold arguments as the judgement's thresholds.
impl From<&ThresholdArgs> for Thresholds {
    fn from(a: &ThresholdArgs) -> Self {
        Thresholds {
            idle: a.idle_threshold,
            long_query: a.long_query_threshold,
            trx: a.trx_threshold,
            warning: a.warning,
            critical: a.critical,
            server_memory: a.server_memory,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300s"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        for bad in [
            "",
            "-5s",
            "abc",
            "5 parsecs",
            "99999999999999999999",
            "100000y",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timeouts_and_repeat_have_a_floor() {
        assert_eq!(
            crate::units::parse_timeout("1ms"),
            Ok(Duration::from_millis(1))
        );
        assert_eq!(
            crate::units::parse_timeout("5s"),
            Ok(Duration::from_secs(5))
        );
        for bad in ["0", "0s", "1ns", "999us", "-1s", ""] {
            assert!(crate::units::parse_timeout(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_repeat("10s"), Ok(Duration::from_secs(10)));
        for bad in ["0s", "500ms", "-1s"] {
            assert!(parse_repeat(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_interval("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(
            parse_interval("1ns"),
            Err("'1ns' is too short: samples must be at least 100ms apart".into())
        );
    }

    #[test]
    fn thresholds() {
        assert_eq!(parse_threshold("80%"), Ok(Threshold::Percent(80.0)));
        assert_eq!(parse_threshold("400"), Ok(Threshold::Count(400)));
        assert!(parse_threshold("-1%").is_err());
        assert!(parse_threshold("NaN%").is_err());
        assert!(parse_threshold("x").is_err());
        assert_eq!(Threshold::Percent(50.0).connections(200), 100.0);
    }

    #[test]
    fn percentages_stop_at_100_and_the_warning_comes_first() {
        assert_eq!(parse_threshold("100%"), Ok(Threshold::Percent(100.0)));
        assert!(parse_threshold("100.5%").is_err());
        assert!(parse_threshold("200%").is_err());
        let (p, n) = (Threshold::Percent, Threshold::Count);
        assert_eq!(threshold_conflict(p(80.0), p(90.0), None), None);
        assert_eq!(
            threshold_conflict(p(90.0), p(80.0), None).as_deref(),
            Some("--warning 90% must be below --critical 80%")
        );
        assert!(threshold_conflict(p(80.0), p(80.0), None).is_some());
        assert!(threshold_conflict(n(500), n(400), None).is_some());
        // A percentage against a count: only with max_connections.
        assert_eq!(threshold_conflict(n(150), p(70.0), None), None);
        assert_eq!(
            threshold_conflict(n(150), p(70.0), Some(200)).as_deref(),
            Some(
                "--warning 150 must be below --critical 70% (150 against 140 connections with max_connections 200)"
            )
        );
        assert_eq!(threshold_conflict(n(100), p(70.0), Some(200)), None);
        assert_eq!(threshold_conflict(p(90.0), n(150), Some(151)), None);
        assert!(threshold_conflict(p(90.0), n(150), Some(200)).is_some());
    }

    #[test]
    fn server_timeouts_are_whole_seconds_from_1s() {
        assert_eq!(parse_server_timeout("300s"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_server_timeout("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_server_timeout("1000ms"), Ok(Duration::from_secs(1)));
        for bad in ["0", "0s", "0.5s", "1ns", "1500ms", "366days", "-1s"] {
            assert!(parse_server_timeout(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bytes() {
        assert_eq!(parse_bytes("16G"), Ok(16 << 30));
        assert_eq!(parse_bytes("512m"), Ok(512 << 20));
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert!(parse_bytes("99999999999T").is_err());
        assert!(parse_bytes("12Q").is_err());
    }
}

/// Names of the subcommands (and their aliases), read from the clap definition: to tell which
/// words after a bare `-p` are commands.
fn subcommands() -> &'static [String] {
    static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        use clap::CommandFactory;
        let cmd = Cli::command();
        let mut names: Vec<String> = cmd
            .get_subcommands()
            .flat_map(|c| std::iter::once(c.get_name()).chain(c.get_all_aliases()))
            .map(str::to_string)
            .collect();
        // clap adds `help` when it builds the command.
        names.push("help".into());
        names
    })
}

/// Parse the command line. `-pSECRET` is rewritten to `--password=SECRET` first, so that a bare
/// `-p` never swallows the next word (`conncheck -p status` prompts, as mysql does).
///
/// `mysql -p secret` prompts and takes `secret` as the database; here the stray word is a parse
/// error, and clap would quote it. A word right after a bare `-p` may well be a password typed
/// with a space, so it is hidden in the error.
pub fn parse(args: Vec<std::ffi::OsString>) -> Result<Cli, clap::Error> {
    let suspects = words_after_bare_password_flag(&args);
    let cli =
        Cli::try_parse_from(normalize_password_flag(args)).map_err(|e| hide_words(e, &suspects))?;
    match combination_error(&cli.command) {
        Some(msg) => {
            use clap::CommandFactory;
            Err(Cli::command().error(clap::error::ErrorKind::ArgumentConflict, msg))
        }
        None => Ok(cli),
    }
}

/// Values that parse one by one but do harm or nothing together. (A percentage against a count
/// is compared later, once max_connections is known: [`threshold_conflict`].)
fn combination_error(command: &Command) -> Option<String> {
    match command {
        Command::Diagnose(DiagnoseArgs { thresholds: t, .. })
        | Command::Check(CheckArgs { thresholds: t, .. }) => {
            threshold_conflict(t.warning, t.critical, None)
        }
        Command::SetTimeouts(a) if !a.force => [
            ("--wait-timeout", a.wait_timeout),
            ("--interactive-timeout", a.interactive_timeout),
        ]
        .into_iter()
        .find_map(|(flag, d)| {
            d.filter(|d| d.as_secs() < MIN_SAFE_SERVER_TIMEOUT_S).map(|d| {
                format!(
                    "{flag} {}s is below {MIN_SAFE_SERVER_TIMEOUT_S}s: the server would disconnect every client (pools, batch jobs, people at a prompt) that pauses that long; add --force if you mean it",
                    d.as_secs()
                )
            })
        }),
        _ => None,
    }
}

/// Words that follow a bare `-p`/`--password` and are neither an option nor a command name.
fn words_after_bare_password_flag(args: &[std::ffi::OsString]) -> Vec<String> {
    args.windows(2)
        .take_while(|w| w[0] != "--")
        .filter(|w| w[0] == "-p" || w[0] == "--password")
        .filter_map(|w| w[1].to_str())
        .filter(|w| !w.starts_with('-') && !subcommands().iter().any(|n| n == w))
        .map(str::to_string)
        .collect()
}

fn hide_words(e: clap::Error, words: &[String]) -> clap::Error {
    let rendered = e.render().to_string();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    if !quoted.iter().any(|q| rendered.contains(q.as_str())) {
        return e;
    }
    let mut text = rendered;
    for q in &quoted {
        text = text.replace(q.as_str(), "'***'");
    }
    let text = text.strip_prefix("error: ").unwrap_or(&text).trim_end();
    clap::Error::raw(
        e.kind(),
        format!(
            "{text}\n\nnote: the word after -p is hidden in case it is a password: -p prompts when given alone; attach a value as -pSECRET or --password=SECRET\n"
        ),
    )
}

fn normalize_password_flag(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut rest = false;
    for a in args {
        match a.to_str() {
            _ if rest => out.push(a),
            Some("--") => {
                rest = true;
                out.push(a);
            }
            Some(s) if s.starts_with("-p") && s.len() > 2 => {
                let value = s[2..].strip_prefix('=').unwrap_or(&s[2..]);
                out.push(format!("--password={value}").into());
            }
            _ => out.push(a),
        }
    }
    out
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Cli, clap::Error> {
        parse(args.iter().map(|s| (*s).into()).collect())
    }

    #[test]
    fn bare_p_prompts_and_attached_p_is_the_password() {
        let c = p(&["conncheck", "-p", "status"]).unwrap();
        assert_eq!(c.conn.password, Some(None));
        assert!(matches!(c.command, Command::Status(_)));
        let c = p(&["conncheck", "-psecret", "status"]).unwrap();
        assert_eq!(c.conn.password, Some(Some("secret".into())));
        let c = p(&["conncheck", "status", "--password=s e"]).unwrap();
        assert_eq!(c.conn.password, Some(Some("s e".into())));
        let c = p(&["conncheck", "status"]).unwrap();
        assert_eq!(c.conn.password, None);
    }

    #[test]
    fn a_word_after_bare_p_is_hidden_in_errors() {
        let e = p(&["conncheck", "-p", "hunter2", "status"]).unwrap_err();
        let text = e.render().to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("'***'"), "{text}");
        assert_eq!(e.kind(), clap::error::ErrorKind::InvalidSubcommand);
        // Other errors and a value that legitimately follows -p are untouched.
        let e = p(&["conncheck", "-p", "status", "--bogus"]).unwrap_err();
        assert!(e.render().to_string().contains("'--bogus'"));
        assert!(p(&["conncheck", "set-max-connections", "-p", "500", "--dry-run"]).is_ok());
    }

    #[test]
    fn dash_h_is_the_host() {
        let c = p(&["conncheck", "-h", "db1", "-P", "3307", "status"]).unwrap();
        assert_eq!(c.conn.host.as_deref(), Some("db1"));
        assert_eq!(c.conn.port, Some(3307));
        assert!(p(&["conncheck", "--help"]).is_err()); // DisplayHelp
    }

    #[test]
    fn combinations_that_do_harm_are_refused() {
        let refused = |args: &[&str]| {
            let e = p(args).unwrap_err();
            assert_eq!(
                e.kind(),
                clap::error::ErrorKind::ArgumentConflict,
                "{args:?}"
            );
            e.render().to_string()
        };
        let e = refused(&["conncheck", "set-timeouts", "--wait-timeout", "5s"]);
        assert!(e.contains("--wait-timeout 5s is below 10s"), "{e}");
        assert!(e.contains("--force"), "{e}");
        refused(&["conncheck", "set-timeouts", "--interactive-timeout", "9"]);
        assert!(
            p(&[
                "conncheck",
                "set-timeouts",
                "--wait-timeout",
                "5s",
                "--force"
            ])
            .is_ok()
        );
        assert!(p(&["conncheck", "set-timeouts", "--wait-timeout", "10s"]).is_ok());
        let e = refused(&["conncheck", "check", "--warning", "95%"]);
        assert!(
            e.contains("--warning 95% must be below --critical 90%"),
            "{e}"
        );
        refused(&["conncheck", "diagnose", "--critical", "50%"]);
        assert!(
            p(&[
                "conncheck",
                "diagnose",
                "--warning",
                "70%",
                "--critical",
                "400"
            ])
            .is_ok()
        );
        assert!(p(&["conncheck", "watch", "--count", "0"]).is_err());
        assert!(p(&["conncheck", "watch", "--count", "1"]).is_ok());
    }
}
