//! `conncheck diagnose` and `conncheck snapshot`: read once, judge offline.
//!
//! A full server is the normal case here: when our own connection is refused with ERROR 1040,
//! diagnose still reports (`server-full`, with the ways in) and exits 0.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::cli::{DiagnoseArgs, Format, SnapshotArgs};
use crate::connect::replay::Replay;
use crate::connect::{self, ConnectOptions};
use crate::diagnose::verdict::{self, Slot, Verdict};
use crate::diagnose::{self, Finding, Severity, Thresholds};
use crate::exit::{self, AppError, ErrorKind};
use crate::render::targets::{self, Row, Tone};
use crate::render::{self, Style, layout};
use crate::snapshot::read::{self, ReadOptions};
use crate::snapshot::{SNAPSHOT_SCHEMA_VERSION, Snapshot};
use crate::text::{escape, prose};

use super::Context;
use super::multi::{self, Outcome, Target};
use super::status::{self, ConnectionSummary, ServerSummary};

/// Bumped when a field of the diagnose JSON changes meaning or disappears.
pub const DIAGNOSE_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct DiagnoseReport {
    pub schema_version: u32,
    pub target: String,
    /// The answer first: the main cause, one sentence, and the fastest safe relief.
    pub verdict: Verdict,
    /// Where the connections are: buckets that add up to `connections.threads_connected`.
    pub slots: Vec<Slot>,
    /// Threads that are not client connections (replication, system).
    pub background: Vec<Slot>,
    /// None when the server refused us (nothing could be read).
    pub server: Option<ServerSummary>,
    pub connections: Option<ConnectionSummary>,
    pub rates: Option<Rates>,
    /// Worst severity found, or "ok".
    pub state: String,
    pub findings: Vec<Finding>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Per-second rates over the sample (lifetime averages with `--sample 0`).
#[derive(Debug, Serialize)]
pub struct Rates {
    pub sample_s: f64,
    pub connections_per_s: f64,
    pub aborted_connects_per_s: f64,
    pub refused_per_s: f64,
    pub threads_created_per_s: f64,
    /// Clients that went away without closing (Aborted_clients) per second.
    pub aborted_clients_per_s: f64,
    /// True when there was no sample: the rates are averages since the server started.
    pub since_startup: bool,
}

impl Rates {
    /// Per-second growth of the counters over the snapshot's sample. Pure; also used by `watch`.
    pub fn of(snap: &Snapshot) -> Rates {
        let rate = |name: &str| (snap.status_rate(name).unwrap_or(0.0) * 100.0).round() / 100.0;
        Rates {
            sample_s: (snap.sample_s * 1000.0).round() / 1000.0,
            connections_per_s: rate("connections"),
            aborted_connects_per_s: rate("aborted_connects"),
            refused_per_s: rate("connection_errors_max_connections"),
            threads_created_per_s: rate("threads_created"),
            aborted_clients_per_s: rate("aborted_clients"),
            since_startup: snap.status_after.is_none() || snap.sample_s <= 0.0,
        }
    }
}

pub fn run(ctx: &Context, args: &DiagnoseArgs) -> anyhow::Result<u8> {
    let th = Thresholds::from(&args.thresholds);
    if args.from.is_none()
        && let Some(list) = multi::targets(ctx)?
    {
        return run_many(ctx, args, &th, &list);
    }
    let (snap, replay) = match &args.from {
        Some(file) => {
            let snap = load(file)?;
            let replay = replay_of_snapshot(ctx, &snap);
            (snap, replay)
        }
        None => {
            let opts = ctx.single_target()?;
            let snap = take_or_refused(&opts, args.sample, th.server_memory)?;
            (snap, ctx.replay(&opts)?)
        }
    };
    thresholds_fit(&th, &snap)?;
    let mut report = build(&snap, &th);
    report.for_target(&replay);
    let text = match args.format {
        Format::Json => render::json(&report),
        Format::Table => human(&report, &snap, ctx.style, args.verbose),
    };
    render::print(&text)?;
    Ok(if fails(args, &report) {
        exit::FINDINGS
    } else {
        exit::OK
    })
}

/// Whether `--fail-on` is met by the report's findings.
fn fails(args: &DiagnoseArgs, report: &DiagnoseReport) -> bool {
    args.fail_on
        .zip(diagnose::worst(&report.findings))
        .is_some_and(|(fail_on, worst)| worst.at_least(fail_on))
}

/// Several targets: one summary table (or a JSON array of reports). The exit code is that of the
/// first target that could not be read, else FINDINGS when `--fail-on` is met on any target.
fn run_many(
    ctx: &Context,
    args: &DiagnoseArgs,
    th: &Thresholds,
    list: &[Target],
) -> anyhow::Result<u8> {
    let sources = ctx.targets()?;
    let outcomes = multi::run_all(list, usize::from(ctx.conn.jobs), |t| {
        // `list` was made from `ctx.targets()`, in the same order.
        let source = list
            .iter()
            .position(|x| std::ptr::eq(x, t))
            .and_then(|i| sources.get(i).cloned().flatten());
        let r = t.opts.as_ref().map_err(Clone::clone).and_then(|opts| {
            let snap = take_or_refused(opts, args.sample, th.server_memory)?;
            thresholds_fit(th, &snap)?;
            let mut r = build(&snap, th);
            r.for_target(&Replay::of_run(&ctx.conn, opts, source.as_deref()));
            Ok(r)
        });
        Outcome::of(t, r)
    });
    let text = multi::render_outcomes(&outcomes, args.format, "top finding", ctx.style, |r| Row {
        target: r.target.clone(),
        state: r.state.clone(),
        tone: match diagnose::worst(&r.findings) {
            Some(Severity::Critical) => Tone::Bad,
            Some(Severity::Warning) => Tone::Warn,
            _ => Tone::Good,
        },
        usage: r.connections.as_ref().map_or("-".into(), |c| {
            targets::usage(c.threads_connected, c.max_connections, c.usage_pct)
        }),
        top: r
            .findings
            .first()
            .map_or("-".into(), |f| format!("{}: {}", f.id, f.title)),
    });
    render::print(&text)?;
    let failed = outcomes
        .iter()
        .any(|o| matches!(o, Outcome::Report(r) if fails(args, r)));
    Ok(Outcome::first_failure(&outcomes).unwrap_or(if failed { exit::FINDINGS } else { exit::OK }))
}

/// A live snapshot, or the "refused" snapshot when the server is full even for us.
pub fn take_or_refused(
    opts: &ConnectOptions,
    sample: Duration,
    server_memory: Option<u64>,
) -> Result<Snapshot, AppError> {
    let mut snap = match connect::open(opts) {
        Ok(mut c) => read::read_to_judge(
            &mut c,
            ReadOptions {
                sample,
                transactions: true,
                server_memory,
                local: opts.is_local(),
            },
        )?,
        Err(e) if e.kind == ErrorKind::ServerFull => {
            read::refused(&opts.target(), &e, opts.admin_port)
        }
        Err(e) => return Err(e),
    };
    snap.access.login_user = opts.user.clone();
    Ok(snap)
}

/// `--warning` below `--critical` on this server: a percentage and a count can only be compared
/// once max_connections is known (a usage error, as if the flags had been compared at once).
pub fn thresholds_fit(th: &Thresholds, snap: &Snapshot) -> Result<(), AppError> {
    match crate::cli::threshold_conflict(th.warning, th.critical, snap.var_u64("max_connections"))
    {
        Some(msg) => Err(AppError::usage(msg).hint(
            "give both thresholds, the warning below the critical one (defaults: --warning 80% --critical 90%)",
        )),
        None => Ok(()),
    }
}

/// The connection options for the commands suggested from a saved snapshot: its target, the user
/// it logged in as (or, in older snapshots, the user part of `CURRENT_USER()`), and this run's
/// option-file, TLS and password flags.
fn replay_of_snapshot(ctx: &Context, snap: &Snapshot) -> Replay {
    let user = Some(snap.access.login_user.as_str())
        .filter(|u| !u.is_empty())
        .or_else(|| snap.access.user.rsplit_once('@').map(|(u, _)| u));
    Replay::of_snapshot(&ctx.conn, &snap.target, user)
}

pub fn snapshot(ctx: &Context, args: &SnapshotArgs) -> anyhow::Result<u8> {
    let (mut c, opts) = ctx.connect()?;
    let mut snap = read::read(
        &mut c,
        ReadOptions {
            sample: args.sample,
            transactions: true,
            server_memory: None,
            local: opts.is_local(),
        },
    )?;
    snap.access.login_user = opts.user.clone();
    let json = render::json(&snap);
    match &args.output {
        Some(path) => {
            crate::input::write_private(path, (json + "\n").as_bytes()).map_err(|e| {
                AppError::new(
                    ErrorKind::Other,
                    format!("cannot write {}: {e}", path.display()),
                )
            })?;
            eprintln!(
                "conncheck: snapshot of {} ({} sessions) written to {}",
                escape(&snap.target),
                snap.sessions.len(),
                path.display()
            );
        }
        None => render::print(&json)?,
    }
    Ok(exit::OK)
}

/// Load a saved snapshot. Malformed or foreign files are one clear error, never a panic.
pub fn load(file: &Path) -> Result<Snapshot, AppError> {
    let text = crate::input::read_capped(file, crate::input::SNAPSHOT_MAX).map_err(|e| {
        AppError::new(
            ErrorKind::Other,
            format!("cannot read snapshot {}: {e}", file.display()),
        )
    })?;
    let snap: Snapshot = serde_json::from_slice(&text).map_err(|e| {
        AppError::new(
            ErrorKind::Other,
            format!("{} is not a conncheck snapshot: {e}", file.display()),
        )
        .hint("create one with `conncheck snapshot -o FILE.json`")
    })?;
    if snap.schema_version > SNAPSHOT_SCHEMA_VERSION {
        return Err(AppError::new(
            ErrorKind::Other,
            format!(
                "{} has snapshot schema {}, this conncheck reads up to {SNAPSHOT_SCHEMA_VERSION}",
                file.display(),
                snap.schema_version
            ),
        )
        .hint("upgrade conncheck"));
    }
    Ok(snap)
}

impl DiagnoseReport {
    /// Make every suggested command (and every `` `conncheck …` `` in advice and notes) reach the
    /// server this report is about.
    pub fn for_target(&mut self, replay: &Replay) {
        diagnose::for_target(&mut self.findings, replay);
        if let Some(r) = &mut self.verdict.relief {
            r.for_target(replay);
        }
        for n in &mut self.notes {
            *n = replay.in_prose(n);
        }
    }
}

/// The report from a snapshot. Pure.
pub fn build(snap: &Snapshot, th: &Thresholds) -> DiagnoseReport {
    let findings = diagnose::diagnose(snap, th);
    let state = diagnose::worst(&findings)
        .map_or("ok", |s| s.name())
        .to_string();
    let (server, connections, rates) = if snap.refused.is_some() {
        (None, None, None)
    } else {
        let s = status::build(snap, 0);
        (Some(s.server), Some(s.connections), Some(Rates::of(snap)))
    };
    let accounting = verdict::account(snap, th, &findings);
    DiagnoseReport {
        schema_version: DIAGNOSE_SCHEMA_VERSION,
        target: snap.target.clone(),
        verdict: accounting.verdict,
        slots: accounting.slots,
        background: accounting.background,
        server,
        connections,
        rates,
        state,
        findings,
        notes: snap.notes.clone(),
    }
}

/// The verdict block: the cause, the fastest relief, and where every connection is, fitted to
/// the terminal width (the relief command wraps between words with ` \`, so it still pastes).
/// Pure.
pub fn verdict_text(r: &DiagnoseReport, style: Style) -> String {
    let v = &r.verdict;
    let width = style.width;
    let mut out = String::new();
    let cause = match (
        &v.cause,
        r.findings.iter().find(|f| Some(&f.id) == v.cause.as_ref()),
    ) {
        (Some(id), Some(f)) => format!("{} ({id})", escape(&f.title)),
        _ => "no cause found".to_string(),
    };
    let verdict = layout::wrap(&cause, width, "Verdict      ", "             ");
    out.push_str(&style.bold(&verdict));
    out.push('\n');
    if let Some(relief) = &v.relief {
        out.push_str(&format!(
            "Relief       frees {}:\n",
            diagnose::common::plural(relief.frees, "slot")
        ));
        out.push_str(&layout::command(
            &escape(&relief.command),
            width,
            "  $ ",
            "      ",
        ));
        out.push('\n');
    }
    if !r.slots.is_empty() {
        let total: i64 = r.slots.iter().map(|s| s.count).sum();
        out.push_str(&format!(
            "Where the {total} connections are (Threads_connected):\n"
        ));
        // Bucket, count and finding are short ids; the client is cut to what is left.
        let finding_w = r
            .slots
            .iter()
            .map(|s| s.finding.as_deref().map_or(0, str::len))
            .max()
            .unwrap_or(0);
        let room = width
            .saturating_sub(2 + 19 + 1 + 6 + 2 + 2 + finding_w)
            .max(12);
        let clients: Vec<String> = r
            .slots
            .iter()
            .map(|s| {
                s.client
                    .as_deref()
                    .map(|c| crate::text::snippet(c, room.min(40)))
                    .unwrap_or_default()
            })
            .collect();
        let client_w = clients
            .iter()
            .map(|c| layout::width_of(c))
            .max()
            .unwrap_or(0);
        for (s, client) in r.slots.iter().zip(&clients) {
            let finding = s.finding.as_deref().unwrap_or("");
            let pad = " ".repeat(client_w - layout::width_of(client));
            let line = format!(
                "  {:<19} {:>6}  {client}{pad}  {finding}",
                s.bucket, s.count
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
        if !r.background.is_empty() {
            let parts: Vec<String> = r
                .background
                .iter()
                .map(|b| format!("{} {}", b.count, b.bucket))
                .collect();
            out.push_str(&layout::wrap(
                &format!(
                    "not counted: {} background thread(s): {}",
                    r.background.iter().map(|b| b.count).sum::<i64>(),
                    parts.join(", ")
                ),
                width,
                "  ",
                "    ",
            ));
            out.push('\n');
        }
    }
    out.push('\n');
    out
}

/// The human-readable report (the table format). Pure.
pub fn human(r: &DiagnoseReport, snap: &Snapshot, style: Style, verbose: bool) -> String {
    let mut out = String::new();
    if snap.refused.is_none() {
        out.push_str(&status::header(&status::build(snap, 0), style));
        if let Some(rates) = &r.rates {
            out.push_str(&status::rates_line(rates, style));
        }
        out.push('\n');
    } else {
        out.push_str(&format!(
            "{}\n{}\n\n",
            render::layout::wrap(
                &render::server_line(&r.target, None, ""),
                style.width,
                "",
                "  "
            ),
            render::layout::wrap(
                &style.red(&format!(
                    "{} refused conncheck: ERROR 1040 Too many connections",
                    escape(&r.target)
                )),
                style.width,
                "",
                "  "
            )
        ));
    }
    out.push_str(&verdict_text(r, style));
    out.push_str(&render::findings::findings(
        &r.findings,
        snap,
        style,
        verbose,
    ));
    for n in &r.notes {
        out.push('\n');
        out.push_str(&render::layout::wrap(
            &format!("{} {}", style.dim("note:"), prose(n)),
            style.width,
            "",
            "  ",
        ));
    }
    out
}
