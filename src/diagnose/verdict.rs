//! The verdict: where every connection is, the main cause, and the fastest safe relief.
//!
//! Every session the server counts in Threads_connected is put in exactly one bucket, the first
//! that applies, in this order: conncheck itself, `logging-in`, `killed` (killed, not yet gone),
//! `blocking` (a root of the wait graph: holds others up and waits for nothing, idle or
//! running), `waiting-for-lock`, `idle-in-transaction`, `leaked` (connection-leak's staircase), `idle`
//! (sleeping at least `--idle-threshold`), `idle-in-pool` (sleeping less), `long-query`
//! (running at least `--long-query-threshold`), `running`. Replication and system threads are
//! not client connections: they go to a separate `background` list, except a source's `Binlog
//! Dump` threads, which Threads_connected counts: they get the `replication` bucket. `unaccounted`
//! is the counter minus the processlist rows (the two are read a moment apart, and a server may
//! count threads the processlist does not show), so the buckets add up to Threads_connected
//! exactly, and the difference is visible instead of hidden; it is negative when the processlist
//! had more rows.
//!
//! Buckets that belong to a client (`leaked`, `idle`, `idle-in-pool`) get one entry per client
//! (user@host, and the program when the server names it), the biggest first, the rest in one
//! entry without a client. Each entry names the finding that explains it when that finding lists
//! its sessions.
//!
//! The cause is the finding that explains the most connections now ([`cause`], the one function
//! `diagnose`, `check` and `watch` take it from; see `super::weight`): a lock root credited with
//! its waiters, `idle-connections` only for the idle sessions nothing more specific (a leak, a
//! pool, an idle transaction, a lock root) explains, severity breaking ties. Other findings that
//! explain connections follow as `also`. Never prevention advice; a capacity finding
//! (`max-connections-low`) only when no finding names who holds the slots, and never from a past
//! peak alone; a symptom such as `near-limit` or `server-full` only when nothing else explains
//! them. When the counters show refusals and nothing holds the slots now, the summary points to
//! `watch` and `record`. The relief is the cause's own kill command, else the kill command among
//! the causes that frees or releases the most sessions, without `--dry-run` (it still shows its
//! plan and asks before killing).
//!
//! A relief is exact by construction ([`relief_of`]): it names every session it ends with
//! `--id` (the threshold becomes 0 s: the ids select, the re-check before each KILL still
//! applies), and never a session waiting for a lock or a replication or system thread. A lock
//! pile-up's relief targets its roots only: `KILL QUERY` (`kill-long --query-only`) for a root
//! running a statement with no open transaction, `KILL` for a root idle or holding a
//! transaction; a DDL heading a metadata-lock queue may be stopped instead, as a labelled
//! alternative. `frees` is the connections the plan ends (once their rollback finishes, which
//! the plan shows in rows), `unblocks` the waiters released (every holder they wait for is
//! killed or released in turn). A relief that does neither is none. Pure: no I/O.

use std::collections::BTreeMap;

use crate::fast_hash::{HashMap, HashMapExt, HashSet, HashSetExt};

use serde::{Deserialize, Serialize};

use super::analysis::Analysis;
use super::weight::is_capacity;
use super::{ActionKind, Finding, FindingId, Severity, Thresholds, common};
use crate::snapshot::locks::waiting_for;
use crate::snapshot::{Session, SessionKind};

/// Clients listed one by one in a per-client bucket; the rest are summed.
const LISTED_CLIENTS: usize = 5;

/// Where a connection is. Serialized as its kebab-case name (`idle-in-pool`): a JSON contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bucket {
    /// Our own connection.
    Conncheck,
    LoggingIn,
    /// Killed, not yet gone.
    Killed,
    /// Holds others up and waits for nothing (a root of the wait graph).
    Blocking,
    WaitingForLock,
    IdleInTransaction,
    /// connection-leak's staircase.
    Leaked,
    /// Sleeping at least `--idle-threshold`.
    Idle,
    /// Sleeping less.
    IdleInPool,
    /// Running at least `--long-query-threshold`.
    LongQuery,
    Running,
    /// Threads_connected minus the processlist rows.
    Unaccounted,
    /// Background: replication threads.
    Replication,
    /// Background: system threads.
    System,
}

impl Bucket {
    /// The name reports show (`idle-in-pool`), as serialized.
    pub const fn as_str(self) -> &'static str {
        match self {
            Bucket::Conncheck => "conncheck",
            Bucket::LoggingIn => "logging-in",
            Bucket::Killed => "killed",
            Bucket::Blocking => "blocking",
            Bucket::WaitingForLock => "waiting-for-lock",
            Bucket::IdleInTransaction => "idle-in-transaction",
            Bucket::Leaked => "leaked",
            Bucket::Idle => "idle",
            Bucket::IdleInPool => "idle-in-pool",
            Bucket::LongQuery => "long-query",
            Bucket::Running => "running",
            Bucket::Unaccounted => "unaccounted",
            Bucket::Replication => "replication",
            Bucket::System => "system",
        }
    }

    /// The finding that explains the connections of this bucket, when it lists them.
    pub const fn finding(self) -> Option<FindingId> {
        match self {
            Bucket::LoggingIn => Some(FindingId::TrafficSpike),
            Bucket::Blocking | Bucket::WaitingForLock => Some(FindingId::LockPileup),
            Bucket::IdleInTransaction => Some(FindingId::IdleTransactions),
            Bucket::Leaked => Some(FindingId::ConnectionLeak),
            Bucket::Idle => Some(FindingId::IdleConnections),
            Bucket::IdleInPool => Some(FindingId::PoolOversized),
            Bucket::LongQuery => Some(FindingId::LongRunningQueries),
            Bucket::Conncheck
            | Bucket::Killed
            | Bucket::Running
            | Bucket::Unaccounted
            | Bucket::Replication
            | Bucket::System => None,
        }
    }

    /// Whether the bucket gets one entry per client.
    pub const fn per_client(self) -> bool {
        matches!(self, Bucket::Leaked | Bucket::Idle | Bucket::IdleInPool)
    }
}

impl std::fmt::Display for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`: `{:<19}` lines the buckets up in the human report.
        f.pad(self.as_str())
    }
}

/// Ordered by name, as the string buckets were (the order of equal counts in a report).
impl Ord for Bucket {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for Bucket {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// One bucket of connections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slot {
    /// Kebab-case bucket id (`leaked`, `idle-in-pool`, …).
    pub bucket: Bucket,
    /// Connections in it; only `unaccounted` can be negative.
    pub count: i64,
    /// The finding that explains these connections, if any.
    pub finding: Option<FindingId>,
    /// The client (user@host, or the application) for per-client buckets.
    pub client: Option<String>,
}

/// The fastest safe relief: a conncheck command, the slots it frees and the sessions it
/// releases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relief {
    /// The whole command line to paste (connection options included once the report knows its
    /// target).
    pub command: String,
    /// The same, one word per element.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub argv: Vec<String>,
    /// Connections the plan ends (once their transactions have rolled back).
    pub frees: u64,
    /// Sessions waiting for a lock that the plan releases.
    #[serde(default)]
    pub unblocks: u64,
    /// What this relief is when it is not the main one (`alternative: …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Another relief, labelled as one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternative: Option<Box<Relief>>,
    /// The command's own arguments, to add the connection options of a target to.
    #[serde(skip)]
    args: Vec<String>,
}

impl Relief {
    /// Make the command reach `replay`'s server (see `connect::replay`).
    pub fn for_target(&mut self, replay: &crate::connect::replay::Replay) {
        self.command = replay.command_line(&self.args, None);
        self.argv = replay.argv(&self.args);
        if let Some(alt) = &mut self.alternative {
            alt.for_target(replay);
        }
    }
}

/// The answer first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The finding id of the main cause, or None when nothing explains the connections.
    pub cause: Option<FindingId>,
    /// The connections the cause explains now (0 when it holds none, e.g. a symptom).
    #[serde(default)]
    pub explains: u64,
    /// Secondary causes: other findings that explain connections now, the most first.
    #[serde(default)]
    pub also: Vec<FindingId>,
    /// One sentence.
    pub summary: String,
    pub relief: Option<Relief>,
}

/// Where the connections are, and the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accounting {
    pub verdict: Verdict,
    /// Sums to `threads_connected` exactly.
    pub slots: Vec<Slot>,
    /// Threads that are not client connections (replication, system).
    pub background: Vec<Slot>,
    /// Threads_connected as read in the same snapshot.
    pub threads_connected: u64,
}

/// Account the connections of the analysed snapshot against its ranked `findings` (what
/// `report::diagnose` does with the tally made beside the judgement).
#[cfg(test)]
pub fn account(a: &Analysis<'_>, th: &Thresholds, findings: &[Finding]) -> Accounting {
    account_tallied(a, findings, tally(a, th))
}

/// Each session's bucket, counted: what accounting needs of the snapshot alone, so that a
/// judgement of 10,000 sessions can count them while the heuristics run (`report::diagnose`).
#[derive(Debug, Default)]
pub struct Tally {
    /// (bucket, client) -> sessions, for the client sessions and killed rows.
    counts: BTreeMap<(Bucket, Option<String>), i64>,
    /// Replication and system threads by bucket.
    background: BTreeMap<Bucket, i64>,
    /// Processlist rows counted in `counts`.
    rows: i64,
}

/// The buckets of the analysed snapshot's sessions (see [`Tally`]).
pub fn tally(a: &Analysis<'_>, th: &Thresholds) -> Tally {
    let snap = a.snap;
    if snap.refused.is_some() {
        return Tally::default();
    }
    let trx: HashMap<u64, &str> = snap
        .transactions
        .iter()
        .map(|t| (t.session_id, t.state.as_str()))
        .collect();
    let mut waiting: HashSet<u64> = snap.lock_waits.iter().map(|w| w.waiting_id).collect();
    waiting.extend(
        trx.iter()
            .filter(|(_, state)| state.eq_ignore_ascii_case("LOCK WAIT"))
            .map(|(id, _)| *id),
    );
    let leaked = a.leaked_ids();

    // (bucket, client) -> count, counted by the session's (user, client host, program) as they
    // are and named once per group: one `user@host` string per session would be 10,000.
    type Raw<'a> = (&'a str, &'a str, Option<&'a str>);
    let mut raw: HashMap<(Bucket, Option<Raw<'_>>), i64> = HashMap::new();
    let mut background: BTreeMap<Bucket, i64> = BTreeMap::new();
    let mut rows: i64 = 0;
    for s in &snap.sessions {
        let bucket = match s.kind() {
            // A replica's Binlog Dump thread on a source is a connection Threads_connected
            // counts (docs/replication.md): it gets a `replication` slot, never `unaccounted`;
            // the replica's own threads are background, not counted.
            SessionKind::Replication if s.is_binlog_dump() => Bucket::Replication,
            SessionKind::Replication => {
                *background.entry(Bucket::Replication).or_default() += 1;
                continue;
            }
            SessionKind::System => {
                *background.entry(Bucket::System).or_default() += 1;
                continue;
            }
            SessionKind::Killed => Bucket::Killed,
            SessionKind::Client => bucket_of(s, th, a, &waiting, &trx, leaked),
        };
        rows += 1;
        let client = bucket
            .per_client()
            .then(|| (s.user.as_str(), s.client_host(), s.program.as_deref()));
        *raw.entry((bucket, client)).or_default() += 1;
    }
    let mut counts: BTreeMap<(Bucket, Option<String>), i64> = BTreeMap::new();
    for ((bucket, client), n) in raw {
        let name = client.map(|(user, host, program)| client_name(user, host, program));
        *counts.entry((bucket, name)).or_default() += n;
    }
    Tally {
        counts,
        background,
        rows,
    }
}

/// Account the connections of the analysed snapshot against its ranked `findings`, with the
/// sessions already counted by [`tally`] of the same analysis.
pub fn account_tallied(a: &Analysis<'_>, findings: &[Finding], tally: Tally) -> Accounting {
    let snap = a.snap;
    let threads_connected = snap.threads_connected();
    if snap.refused.is_some() {
        return Accounting {
            verdict: verdict(a, findings, &[], threads_connected),
            slots: Vec::new(),
            background: Vec::new(),
            threads_connected,
        };
    }
    // A bucket's finding explains its connections when that finding lists its sessions.
    let lists_sessions = |id: FindingId| {
        findings
            .iter()
            .any(|f| f.id == id && !f.sessions.is_empty())
    };
    let Tally {
        counts,
        background,
        mut rows,
    } = tally;
    // Our own connection: the processlist read leaves it out.
    rows += 1;
    // bucket -> [(client, count)]
    type Clients = Vec<(Option<String>, i64)>;
    let mut per_bucket: BTreeMap<Bucket, Clients> = BTreeMap::new();
    for ((bucket, client), n) in counts {
        per_bucket.entry(bucket).or_default().push((client, n));
    }
    let mut entries: Vec<Slot> = Vec::new();
    for (bucket, mut clients) in per_bucket {
        clients.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let finding = bucket.finding().filter(|id| lists_sessions(*id));
        let rest: i64 = clients.iter().skip(LISTED_CLIENTS).map(|c| c.1).sum();
        for (client, n) in clients.into_iter().take(LISTED_CLIENTS) {
            entries.push(Slot {
                bucket,
                count: n,
                finding,
                client,
            });
        }
        if rest > 0 {
            entries.push(Slot {
                bucket,
                count: rest,
                finding,
                client: None,
            });
        }
    }
    entries.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.bucket.cmp(&b.bucket)));
    let mut slots = entries;
    slots.push(Slot {
        bucket: Bucket::Conncheck,
        count: 1,
        finding: None,
        client: None,
    });
    let unaccounted = i64::try_from(threads_connected).unwrap_or(i64::MAX) - rows;
    if unaccounted != 0 {
        slots.push(Slot {
            bucket: Bucket::Unaccounted,
            count: unaccounted,
            finding: None,
            client: None,
        });
    }
    let background = background
        .into_iter()
        .map(|(bucket, count)| Slot {
            bucket,
            count,
            finding: None,
            client: None,
        })
        .collect();
    Accounting {
        verdict: verdict(a, findings, &slots, threads_connected),
        slots,
        background,
        threads_connected,
    }
}

/// The bucket of one client session: the first that applies (see the module doc).
fn bucket_of(
    s: &Session,
    th: &Thresholds,
    a: &Analysis<'_>,
    waiting: &HashSet<u64>,
    trx: &HashMap<u64, &str>,
    leaked: &HashSet<u64>,
) -> Bucket {
    if common::logging_in(s) {
        Bucket::LoggingIn
    } else if a.waits().is_root(s.id) {
        // Never shown as plain idle: it is why others wait.
        Bucket::Blocking
    } else if waiting.contains(&s.id) || waiting_for(&s.state).is_some() {
        Bucket::WaitingForLock
    } else if s.is_sleeping() && trx.contains_key(&s.id) {
        Bucket::IdleInTransaction
    } else if s.is_sleeping() && leaked.contains(&s.id) {
        Bucket::Leaked
    } else if s.is_sleeping() && common::at_least(s, th.idle) {
        Bucket::Idle
    } else if s.is_sleeping() {
        Bucket::IdleInPool
    } else if common::at_least(s, th.long_query) {
        Bucket::LongQuery
    } else {
        Bucket::Running
    }
}

/// `user@host`, with the program when the server names it (as [`Session::account`] names the
/// account).
fn client_name(user: &str, host: &str, program: Option<&str>) -> String {
    match program {
        Some(p) if !p.is_empty() => format!("{user}@{host} ({p})"),
        _ => format!("{user}@{host}"),
    }
}

/// The main cause of a judgement and the secondary ones, from its ranked findings: the one
/// function `diagnose`, `check` and `watch` take their cause from.
#[derive(Debug, Clone, Default)]
pub struct Cause<'f> {
    /// The finding that explains the most connections now (see [`cause`]).
    pub main: Option<&'f Finding>,
    /// Other findings that explain connections now, the most first, one per id.
    pub also: Vec<&'f Finding>,
    /// The connections each of them explains, in the same order: `main` first when there is
    /// one, then `also`.
    pub held: Vec<u64>,
}

/// The cause of ranked `findings`: the finding that explains the most connections now (see
/// [`super::weight`]: a lock root is credited with its waiters, `idle-connections` counts only
/// the idle sessions nothing more specific explains), severity breaking ties, then the earlier
/// ranked. Capacity findings (the limit is too low) come next, and only when no finding names
/// who holds the slots; then, when nothing holds any, the first warning or worse that explains
/// none (a symptom such as `server-full` last, and a capacity finding from a past peak never:
/// it is history). Prevention advice is never the cause. Pure.
pub fn cause(findings: &[Finding]) -> Cause<'_> {
    let w = super::weight::Weights::of(findings);
    // Each finding weighed once: weighing idle-connections looks each of its sessions up.
    let weighed: Vec<(&Finding, u64)> = findings
        .iter()
        .filter(|f| !f.id.is_prevention())
        .map(|f| (f, w.held(f)))
        .collect();
    let causes: Vec<&Finding> = weighed.iter().map(|&(f, _)| f).collect();
    let holding: Vec<(&Finding, u64)> = weighed.iter().copied().filter(|&(_, h)| h > 0).collect();
    let main = holding
        .iter()
        .copied()
        .fold(None, |best: Option<(&Finding, u64)>, (f, h)| match best {
            Some((b, bh)) if (bh, b.severity) >= (h, f.severity) => Some((b, bh)),
            _ => Some((f, h)),
        })
        .map(|(f, _)| f)
        // The limit is too low for connections that no finding explains, reached now.
        .or_else(|| {
            causes
                .iter()
                .copied()
                .filter(|f| is_capacity(f.id) && f.slots > 0)
                .max_by_key(|f| (f.slots, f.severity))
        })
        .or_else(|| {
            let loud = |f: &&&Finding| f.severity >= Severity::Warning && !is_capacity(f.id);
            causes
                .iter()
                .filter(loud)
                .find(|f| !f.id.is_symptom())
                .or_else(|| causes.iter().find(loud))
                .copied()
        })
        // A refused snapshot has nothing else to name.
        .or_else(|| {
            causes
                .iter()
                .copied()
                .find(|f| f.id == FindingId::ServerFull)
        });
    let mut also: Vec<(&Finding, u64)> = holding
        .iter()
        .copied()
        .filter(|&(f, _)| main.is_none_or(|m| !std::ptr::eq(f, m) && m.id != f.id))
        .collect();
    also.sort_by(|(a, ah), (b, bh)| bh.cmp(ah).then(b.severity.cmp(&a.severity)));
    let mut seen = HashSet::new();
    also.retain(|(f, _)| seen.insert(f.id));
    // A capacity cause explains the connections of its peak, now.
    let held = main
        .iter()
        .map(|f| {
            if is_capacity(f.id) {
                f.slots
            } else {
                w.held(f)
            }
        })
        .chain(also.iter().map(|&(_, h)| h))
        .collect();
    let also = also.into_iter().map(|(f, _)| f).collect();
    Cause { main, also, held }
}

fn verdict(
    a: &Analysis<'_>,
    findings: &[Finding],
    slots: &[Slot],
    threads_connected: u64,
) -> Verdict {
    let found = cause(findings);
    let cause = found.main;
    let causes: Vec<&Finding> = findings.iter().filter(|f| !f.id.is_prevention()).collect();
    // The cause's own relief first (the most targeted kill), else the one that frees or
    // releases the most sessions (the earlier ranked on a tie).
    let relief = cause.and_then(|f| relief_of(a, f)).or_else(|| {
        causes
            .iter()
            .filter_map(|f| relief_of(a, f))
            .fold(None, |best: Option<Relief>, r| match best {
                // Slots freed now and sessions released count alike: both give clients back.
                Some(b) if b.frees + b.unblocks >= r.frees + r.unblocks => Some(b),
                _ => Some(r),
            })
    });
    let held_now = found.held.first().copied().filter(|_| cause.is_some());
    let mut summary = match (cause, held_now) {
        (None, _) => format!(
            "No cause found: {threads_connected} connections, {}.",
            top_buckets(slots)
        ),
        (Some(f), Some(held)) if held > 0 => format!(
            "{} ({}) explains {held} of {threads_connected} connections: {}.",
            f.title,
            f.id,
            top_buckets(slots)
        ),
        (Some(f), _) => format!(
            "{} ({}); {threads_connected} connections: {}.",
            f.title,
            f.id,
            top_buckets(slots)
        ),
    };
    if !found.also.is_empty() {
        let also: Vec<String> = found
            .also
            .iter()
            .zip(found.held.iter().skip(usize::from(cause.is_some())))
            .map(|(f, n)| format!("{} ({n})", f.id))
            .collect();
        summary.push_str(&format!(" Also: {}.", also.join(", ")));
    }
    if let Some(r) = &relief {
        summary.push_str(&format!(" Fastest relief {}.", r.effect()));
    }
    if let Some(note) = refusals_without_holder(a, &found) {
        summary.push(' ');
        summary.push_str(&note);
    }
    Verdict {
        cause: cause.map(|f| f.id),
        explains: held_now.unwrap_or(0),
        also: found.also.iter().map(|f| f.id).collect(),
        summary,
        relief,
    }
}

/// When the counters show refusals but no finding holds slots now, the incident is over (or
/// comes and goes): what was refused cannot be explained from this moment, so say where the next
/// one will be seen.
fn refusals_without_holder(a: &Analysis<'_>, found: &Cause<'_>) -> Option<String> {
    if a.snap.refused.is_some() || found.held.iter().any(|&n| n > 0) {
        return None;
    }
    let refused = a
        .snap
        .status_now_u64("connection_errors_max_connections")
        .unwrap_or(0);
    (refused > 0).then(|| {
        format!(
            "{} refused since startup, but nothing holds the slots now: run `conncheck watch` to see the next pile-up as it happens, or `conncheck record --dir incidents --trigger 'refused > 0'` to keep its evidence.",
            common::plural(refused, "client")
        )
    })
}

/// `120 leaked, 20 idle-in-pool, 1 conncheck`: the biggest buckets, summed per bucket.
fn top_buckets(slots: &[Slot]) -> String {
    let mut per: BTreeMap<Bucket, i64> = BTreeMap::new();
    for s in slots {
        *per.entry(s.bucket).or_default() += s.count;
    }
    let mut v: Vec<(Bucket, i64)> = per.into_iter().filter(|(_, n)| *n != 0).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if v.is_empty() {
        return "none read".into();
    }
    v.iter()
        .take(3)
        .map(|(b, n)| format!("{n} {b}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Sessions a relief that is not a lock pile-up's names one by one at most: a kill-idle
/// relief over more keeps its threshold and filters (a sleeping session never waits for a lock,
/// so they select the same sessions), a kill-long relief names them all.
const NAMED_IDS: usize = 32;

impl Relief {
    /// A relief running `args` (a conncheck command without `conncheck`).
    fn new(args: Vec<String>, frees: u64, unblocks: u64) -> Relief {
        let mut r = Relief {
            command: String::new(),
            argv: Vec::new(),
            frees,
            unblocks,
            label: None,
            alternative: None,
            args,
        };
        r.for_target(&crate::connect::replay::Replay::none());
        r
    }

    /// `frees 3 slots, unblocks 30 sessions`.
    pub fn effect(&self) -> String {
        let mut s = format!("frees {}", common::plural(self.frees, "slot"));
        if self.unblocks > 0 {
            s.push_str(&format!(
                ", unblocks {}",
                common::plural(self.unblocks, "session")
            ));
        }
        s
    }
}

/// The relief of a finding: a lock pile-up's from its roots ([`lock_relief`]), else the
/// finding's own kill command (`kill-idle`, or `kill-long` without `--query-only`) made to run
/// for real (it still asks first) and naming its sessions (see the module doc).
fn relief_of(a: &Analysis<'_>, f: &Finding) -> Option<Relief> {
    // Only a finding that lists its sessions knows what its command frees: a generic kill
    // suggestion (refused-connections' "kill-idle --older-than 300s") frees what it finds.
    if f.sessions.is_empty() {
        return None;
    }
    if f.id == FindingId::LockPileup {
        return lock_relief(a, f);
    }
    let action = f.actions.iter().find(|x| {
        x.kind == ActionKind::Command
            && matches!(
                x.args.first().map(String::as_str),
                Some("kill-idle" | "kill-long")
            )
            && !x.args.iter().any(|w| w == "--query-only")
    })?;
    let idle = action.args.first().map(String::as_str) == Some("kill-idle");
    // What the command may end: clients of the finding, in the command's state, never a
    // session waiting for a lock (killing a victim frees its slot and nothing else), nor for
    // kill-idle a connection of a fixed pool (the pool reopens it at once; kill-idle's plan
    // leaves them out too).
    let pools = a.fixed_pool_ids();
    let may_end = |&id: &u64| {
        a.session(id).is_some_and(|s| {
            s.is_client()
                && !a.waits().is_victim(id)
                && !a.is_waiting(s)
                && s.is_sleeping() == idle
                && !(idle && pools.contains(&id))
                // A lock root whose statement alone holds the lock is stopped with KILL
                // QUERY (lock-pileup's relief), never disconnected.
                && !(!idle && a.waits().is_root(id) && root_kill(a, s).1)
        })
    };
    // 10,000 listed sessions are looked at in two halves at once (see `parallel`).
    let split = f.sessions.len() >= crate::parallel::WORTH_SPLITTING;
    let ids: Vec<u64> = f
        .sessions
        .iter()
        .zip(crate::parallel::map_halves(split, &f.sessions, may_end))
        .filter_map(|(&id, ends)| ends.then_some(id))
        .collect();
    if ids.is_empty() {
        return None;
    }
    let mut args = action.args.clone();
    args.retain(|w| w != "--dry-run");
    if !(idle && ids.len() > NAMED_IDS) {
        name_ids(&mut args, &ids);
    }
    let unblocks = a.waits().released_by(&ids).len() as u64;
    Some(Relief::new(args, ids.len() as u64, unblocks))
}

/// Make a kill command select exactly `ids`: its threshold becomes 0 s and each id is named
/// (the re-check before each KILL still applies).
fn name_ids(args: &mut Vec<String>, ids: &[u64]) {
    for i in 0..args.len().saturating_sub(1) {
        if matches!(args[i].as_str(), "--older-than" | "--longer-than") {
            args[i + 1] = "0s".into();
        }
    }
    for id in ids {
        args.push("--id".into());
        args.push(id.to_string());
    }
}

/// How a root is ended: `(command, query only)`. A statement with no open transaction holds
/// its metadata locks only while it runs, so KILL QUERY releases them and keeps the connection;
/// an idle holder, an open transaction or a lock that outlives the statement needs the
/// connection ended (its transaction rolls back; docs/wait-states.md).
fn root_kill(a: &Analysis<'_>, s: &Session) -> (&'static str, bool) {
    if s.is_sleeping() {
        ("kill-idle", false)
    } else {
        // A global read lock, backup stage or user lock outlives the statement.
        let statement_only = a
            .transaction_of(s.id)
            .is_none_or(|t| t.autocommit_non_locking)
            && !a.waits().holds_session_lock(s.id);
        ("kill-long", statement_only)
    }
}

/// A kill of exactly `ids` with `command` (`--query-only` when `query_only`), with what it frees
/// and releases.
fn kill_relief(a: &Analysis<'_>, command: &str, query_only: bool, ids: &[u64]) -> Option<Relief> {
    let threshold = if command == "kill-idle" {
        "--older-than"
    } else {
        "--longer-than"
    };
    let mut args = vec![command.to_string(), threshold.to_string(), "0s".to_string()];
    if query_only {
        args.push("--query-only".into());
    }
    name_ids(&mut args, ids);
    let unblocks = a.waits().released_by(ids).len() as u64;
    let frees = if query_only { 0 } else { ids.len() as u64 };
    (frees > 0 || unblocks > 0).then(|| Relief::new(args, frees, unblocks))
}

/// A lock pile-up's relief: its roots only, never a waiter or a replication or system thread;
/// roots ended the same way go in one command, the one that releases the most first. The
/// alternative stops the DDL at the head of a metadata-lock queue (it waits and blocks, so it is
/// no root), else ends the other roots. A cycle has no root, so no relief.
fn lock_relief(a: &Analysis<'_>, f: &Finding) -> Option<Relief> {
    let w = a.waits();
    let mine: std::collections::BTreeSet<u64> = f.sessions.iter().copied().collect();
    let mut by_kill: BTreeMap<(&'static str, bool), Vec<u64>> = BTreeMap::new();
    for (&r, _) in w.roots().iter().filter(|(r, _)| mine.contains(r)) {
        if let Some(s) = a.session(r).filter(|s| s.is_client()) {
            by_kill.entry(root_kill(a, s)).or_default().push(r);
        }
    }
    let mut reliefs: Vec<Relief> = by_kill
        .iter()
        .filter_map(|(&(command, query_only), ids)| kill_relief(a, command, query_only, ids))
        .collect();
    reliefs.sort_by_key(|r| std::cmp::Reverse((r.unblocks, r.frees)));
    let mut reliefs = reliefs.into_iter();
    let mut main = reliefs.next()?;
    // The DDL heading a metadata-lock queue: waits itself, and others wait for it.
    let ddl = mine
        .iter()
        .filter_map(|&id| a.session(id))
        .filter(|s| {
            s.is_client()
                && w.is_victim(s.id)
                && waiting_for(&s.state) == Some(crate::snapshot::LockKind::Metadata)
                && super::lock_pileup::is_ddl(s.info.as_deref().unwrap_or(""))
                && !w.blocked_by(s.id).is_empty()
        })
        .max_by_key(|s| (w.blocked_by(s.id).len(), std::cmp::Reverse(s.id)));
    let alternative = match ddl {
        Some(d) => kill_relief(a, "kill-long", true, &[d.id]).map(|mut r| {
            r.label = Some(format!(
                "alternative: stop the DDL at the head of the metadata-lock queue (session {}); the queries behind it run, the DDL is to be retried later with a short lock_wait_timeout",
                d.id
            ));
            r
        }),
        None => reliefs.next().map(|mut r| {
            r.label = Some("alternative: the other roots of this pile-up".into());
            r
        }),
    };
    main.alternative = alternative.map(Box::new);
    Some(main)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::{self, lock_wait, session, trx};
    use crate::diagnose::{Severity, diagnose};
    use crate::snapshot::{LockKind, Snapshot};

    fn total(a: &Accounting) -> i64 {
        a.slots.iter().map(|s| s.count).sum()
    }

    #[test]
    fn every_connection_is_in_one_bucket_and_the_sum_is_exact() {
        let mut s = fixtures::mariadb();
        let mut v: Vec<Session> = (0..12)
            .map(|i| session(i + 1, "app", "10.0.0.7", "Sleep", 900 - i * 30, "", None))
            .collect();
        v.push(session(50, "web", "10.0.0.8", "Sleep", 2, "", None));
        v.push(session(
            51,
            "web",
            "10.0.0.8",
            "Query",
            1,
            "executing",
            Some("SELECT 1"),
        ));
        v.push(session(
            52,
            "report",
            "10.0.0.9",
            "Query",
            500,
            "executing",
            Some("SELECT"),
        ));
        v.push(session(53, "app", "10.0.0.7", "Sleep", 40, "", None));
        v.push(session(60, "system user", "", "Daemon", 0, "", None));
        fixtures::with_sessions(&mut s, v);
        s.transactions = vec![trx(53, "RUNNING", 40, 1, None)];
        // 16 client sessions and ours; the counter read a moment later saw two more (system
        // threads are not counted in Threads_connected).
        let counted = 16 + 1 + 2;
        fixtures::set_status(&mut s, "threads_connected", counted);
        let th = Thresholds::default();
        let f = diagnose(&s, &th);
        let a = account(&Analysis::new(&s), &th, &f);
        assert_eq!(total(&a), i64::try_from(counted).unwrap());
        let get = |b: &str| -> i64 {
            a.slots
                .iter()
                .filter(|x| x.bucket.as_str() == b)
                .map(|x| x.count)
                .sum()
        };
        assert_eq!(get("leaked"), 12);
        assert_eq!(get("idle-in-pool"), 1);
        assert_eq!(get("running"), 1);
        assert_eq!(get("long-query"), 1);
        assert_eq!(get("idle-in-transaction"), 1);
        assert_eq!(get("conncheck"), 1);
        assert_eq!(get("unaccounted"), 2);
        assert_eq!(
            a.background,
            vec![Slot {
                bucket: Bucket::System,
                count: 1,
                finding: None,
                client: None
            }]
        );
        let leaked = a.slots.iter().find(|x| x.bucket == Bucket::Leaked).unwrap();
        assert_eq!(leaked.client.as_deref(), Some("app@10.0.0.7"));
        assert_eq!(leaked.finding, Some(FindingId::ConnectionLeak));
        assert_eq!(a.verdict.cause, Some(f[0].id));
        assert!(!f[0].id.is_prevention());
    }

    #[test]
    fn the_relief_is_the_first_kill_that_frees_slots() {
        let mut s = fixtures::mariadb();
        let v: Vec<Session> = (0..30)
            .map(|i| session(i + 1, "app", "10.0.0.7", "Sleep", 1900 - i * 60, "", None))
            .collect();
        fixtures::with_sessions(&mut s, v);
        let th = Thresholds::default();
        let f = diagnose(&s, &th);
        let a = account(&Analysis::new(&s), &th, &f);
        assert_eq!(a.verdict.cause, Some(FindingId::ConnectionLeak));
        let r = a.verdict.relief.unwrap();
        assert!(
            r.command.starts_with("conncheck kill-idle --older-than "),
            "{}",
            r.command
        );
        assert!(!r.command.contains("--dry-run"), "{}", r.command);
        assert_eq!(r.frees, 30);
        assert!(
            a.verdict.summary.contains("30 leaked"),
            "{}",
            a.verdict.summary
        );
    }

    #[test]
    fn a_quiet_server_has_no_cause_and_no_relief() {
        let s = fixtures::mariadb();
        let th = Thresholds::default();
        let f: Vec<Finding> = diagnose(&s, &th)
            .into_iter()
            .filter(|f| f.severity == Severity::Critical)
            .collect();
        let a = account(&Analysis::new(&s), &th, &f);
        assert_eq!(a.verdict.cause, None);
        assert_eq!(a.verdict.relief, None);
        assert_eq!(total(&a), i64::try_from(s.threads_connected()).unwrap());
    }

    #[test]
    fn a_refused_snapshot_has_no_slots() {
        let mut s = fixtures::mariadb();
        s.refused = Some(crate::snapshot::Refusal {
            code: 1040,
            message: "Too many connections".into(),
            before_greeting: false,
            admin_port_tried: None,
        });
        let th = Thresholds::default();
        let f = diagnose(&s, &th);
        let a = account(&Analysis::new(&s), &th, &f);
        assert!(a.slots.is_empty());
        assert_eq!(a.verdict.cause, Some(FindingId::ServerFull));
    }

    /// A running report (5, no transaction) holds a table an ALTER (6) waits for, and 30
    /// SELECTs queue behind the ALTER: the relief is KILL QUERY of the report, nothing else.
    fn mdl_pileup() -> Snapshot {
        let mut s = fixtures::mariadb();
        let mdl = "Waiting for table metadata lock";
        let mut v = vec![
            session(
                5,
                "report",
                "10.0.0.9",
                "Query",
                500,
                "Sending data",
                Some("SELECT SLEEP(900) FROM r"),
            ),
            session(
                6,
                "dba",
                "localhost",
                "Query",
                60,
                mdl,
                Some("ALTER TABLE r ADD c INT"),
            ),
        ];
        v.extend((0..30).map(|i| {
            session(
                100 + i,
                "app",
                "10.0.0.7",
                "Query",
                50 - i,
                mdl,
                Some("SELECT * FROM r"),
            )
        }));
        v.push(session(9, "app", "10.0.0.7", "Sleep", 900, "", None));
        fixtures::with_sessions(&mut s, v);
        s.lock_waits
            .push(fixtures::lock_wait(LockKind::Metadata, 6, Some(5), 60));
        s.lock_waits.extend(
            (0..30).map(|i| fixtures::lock_wait(LockKind::Metadata, 100 + i, Some(6), 50 - i)),
        );
        s
    }

    fn pileup_relief(s: &Snapshot) -> Option<Relief> {
        let th = Thresholds::default();
        let f = diagnose(s, &th);
        let p = f
            .iter()
            .find(|f| f.id == FindingId::LockPileup)
            .expect("a pile-up");
        relief_of(&Analysis::new(s), p)
    }

    /// The report root also runs past the long-query threshold: the verdict's relief still
    /// stops its statement only (long-running-queries' kill of the connection is no relief for
    /// a root whose statement alone holds the lock).
    #[test]
    fn the_verdict_never_disconnects_a_root_that_kill_query_releases() {
        let s = mdl_pileup();
        let th = Thresholds::default();
        let findings = diagnose(&s, &th);
        let a = Analysis::new(&s);
        let long = findings
            .iter()
            .find(|f| f.id == FindingId::LongRunningQueries && f.sessions.contains(&5))
            .expect("the report runs past the threshold");
        // Its own kill would end the connection (frees 1, unblocks 31): the fallback fold of
        // the verdict would pick it over the pile-up's KILL QUERY when the cause has no relief.
        assert_eq!(relief_of(&a, long), None);
        let r = pileup_relief(&s).expect("the pile-up's relief");
        assert_eq!(
            r.command,
            "conncheck kill-long --longer-than 0s --query-only --id 5"
        );
        assert_eq!((r.frees, r.unblocks), (0, 31));
    }

    #[test]
    fn a_pileup_relief_stops_the_root_statement_and_names_the_ddl_as_alternative() {
        let s = mdl_pileup();
        let r = pileup_relief(&s).unwrap();
        assert_eq!(
            r.command,
            "conncheck kill-long --longer-than 0s --query-only --id 5"
        );
        assert_eq!((r.frees, r.unblocks), (0, 31));
        let alt = r.alternative.as_deref().unwrap();
        assert_eq!(
            alt.command,
            "conncheck kill-long --longer-than 0s --query-only --id 6"
        );
        assert_eq!((alt.frees, alt.unblocks), (0, 30));
        assert!(alt.label.as_deref().unwrap().starts_with("alternative: "));
        // Every relief of every finding leaves the waiters alone.
        let th = Thresholds::default();
        let a = Analysis::new(&s);
        for f in diagnose(&s, &th) {
            if let Some(r) = relief_of(&a, &f) {
                for w in (100..130).map(|i: u64| i.to_string()) {
                    assert!(!r.argv.contains(&w), "{}: {}", f.id, r.command);
                }
            }
        }
        // The root is `blocking`, never idle or running.
        let acc = account(&a, &th, &diagnose(&s, &th));
        let blocking: Vec<&Slot> = acc
            .slots
            .iter()
            .filter(|x| x.bucket == Bucket::Blocking)
            .collect();
        assert_eq!(blocking.len(), 1);
        assert_eq!(blocking[0].count, 1);
    }

    #[test]
    fn an_idle_or_transaction_root_is_killed_and_a_cycle_gets_no_relief() {
        // An autocommit SELECT's own read-only transaction ends with the statement.
        let mut s = mdl_pileup();
        let mut own = trx(5, "RUNNING", 500, 0, None);
        own.autocommit_non_locking = true;
        s.transactions.push(own);
        let r = pileup_relief(&s).unwrap();
        assert_eq!(
            r.command,
            "conncheck kill-long --longer-than 0s --query-only --id 5"
        );
        // The report holds a transaction: its connection must end (frees 1, rolls back).
        let mut s = mdl_pileup();
        s.transactions.push(trx(5, "RUNNING", 500, 7, None));
        let r = pileup_relief(&s).unwrap();
        assert_eq!(r.command, "conncheck kill-long --longer-than 0s --id 5");
        assert_eq!((r.frees, r.unblocks), (1, 31));
        // An idle FLUSH TABLES WITH READ LOCK holder: kill-idle of that one session.
        let mut s = fixtures::mariadb();
        let mut v = vec![session(1, "backup", "localhost", "Sleep", 600, "", None)];
        v.extend((0..40).map(|i| {
            session(
                10 + i,
                "app",
                "10.0.0.7",
                "Query",
                30,
                "Waiting for backup lock",
                Some("INSERT INTO t VALUES (1)"),
            )
        }));
        fixtures::with_sessions(&mut s, v);
        s.lock_waits
            .extend((0..40).map(|i| fixtures::lock_wait(LockKind::Global, 10 + i, Some(1), 30)));
        let r = pileup_relief(&s).unwrap();
        assert_eq!(r.command, "conncheck kill-idle --older-than 0s --id 1");
        assert_eq!((r.frees, r.unblocks), (1, 40));
        assert!(r.alternative.is_none());
        // Holding it while running another statement: KILL QUERY would keep the lock.
        let mut busy = s.clone();
        busy.sessions[0] = session(
            1,
            "backup",
            "localhost",
            "Query",
            5,
            "User sleep",
            Some("SELECT SLEEP(60)"),
        );
        let r = pileup_relief(&busy).unwrap();
        assert_eq!(r.command, "conncheck kill-long --longer-than 0s --id 1");
        assert_eq!((r.frees, r.unblocks), (1, 40));
        // Without the holder named (no metadata_lock_info), no guess and no relief.
        for w in &mut s.lock_waits {
            w.blocking_id = None;
        }
        assert_eq!(pileup_relief(&s), None);
        // A cycle: no root, so no relief, and the finding says so.
        let mut s = fixtures::mariadb();
        let q = |id| {
            session(
                id,
                "app",
                "10.0.0.7",
                "Query",
                40,
                "Updating",
                Some("UPDATE t SET v = v + 1"),
            )
        };
        fixtures::with_sessions(&mut s, vec![q(1), q(2), q(3)]);
        s.transactions = (1..=3).map(|i| trx(i, "LOCK WAIT", 40, 1, None)).collect();
        s.lock_waits = vec![
            fixtures::lock_wait(LockKind::Row, 1, Some(2), 40),
            fixtures::lock_wait(LockKind::Row, 2, Some(3), 40),
            fixtures::lock_wait(LockKind::Row, 3, Some(1), 40),
        ];
        let th = Thresholds::default();
        let f = diagnose(&s, &th);
        let p = f.iter().find(|f| f.id == FindingId::LockPileup).unwrap();
        assert!(p.title.starts_with("Lock cycle: 3 sessions"), "{}", p.title);
        assert!(
            p.actions.iter().all(|x| !x.text.starts_with("KILL")),
            "{:?}",
            p.actions
        );
        let a = Analysis::new(&s);
        assert_eq!(relief_of(&a, p), None);
    }

    fn judged(s: &crate::snapshot::Snapshot) -> (Vec<Finding>, Accounting) {
        let th = Thresholds::default();
        let f = diagnose(s, &th);
        let a = account(&Analysis::new(s), &th, &f);
        (f, a)
    }

    #[test]
    fn the_cause_is_the_finding_that_explains_the_most_connections() {
        // The README demo: the idle transaction is critical (it blocks three sessions) but holds
        // 4 connections with them; the leak is a warning and holds 26 of 42.
        let s = fixtures::demo_incident();
        let (f, a) = judged(&s);
        let trx = f
            .iter()
            .find(|f| f.id == FindingId::IdleTransactions)
            .unwrap();
        assert_eq!((trx.severity, trx.slots), (Severity::Critical, 4));
        assert_eq!(a.verdict.cause, Some(FindingId::ConnectionLeak), "{f:#?}");
        assert_eq!(a.verdict.explains, 26);
        assert!(
            a.verdict
                .summary
                .contains("(connection-leak) explains 26 of 42 connections"),
            "{}",
            a.verdict.summary
        );
        // The secondary causes follow, the most connections first; the relief is the leak's.
        assert!(a.verdict.also.contains(&FindingId::IdleTransactions));
        assert!(a.verdict.also.contains(&FindingId::LockPileup));
        assert!(!a.verdict.also.contains(&FindingId::ConnectionLeak));
        assert_eq!(a.verdict.relief.as_ref().unwrap().frees, 26);
        // The findings are ranked the same way: the leak first.
        assert_eq!(f[0].id, FindingId::ConnectionLeak, "{:?}", ids(&f));
        let w = crate::diagnose::weight::Weights::of(&f);
        let causes: Vec<u64> = f
            .iter()
            .filter(|f| !f.id.is_prevention())
            .map(|x| w.connections(x))
            .collect();
        assert!(
            causes.is_sorted_by(|a, b| a >= b),
            "{causes:?} {:?}",
            ids(&f)
        );
    }

    #[test]
    fn a_root_is_credited_with_the_sessions_it_holds_up() {
        // A report query (not idle) holds the lock 12 sessions wait for, through a chain: the
        // long-running statement explains 13 connections, more than the 8 idle ones.
        let mut s = fixtures::mariadb();
        let mut v: Vec<Session> = (1..=8)
            .map(|i| session(i, "web", "10.0.0.8", "Sleep", 900 + i * 7, "", None))
            .collect();
        v.push(session(
            20,
            "report",
            "10.0.0.9",
            "Query",
            400,
            "Sending data",
            Some("SELECT * FROM t FOR UPDATE"),
        ));
        v.extend((21..=32).map(|i| {
            session(
                i,
                "app",
                "10.0.0.7",
                "Query",
                60,
                "Updating",
                Some("UPDATE t SET v = 1"),
            )
        }));
        fixtures::with_sessions(&mut s, v);
        s.transactions = vec![trx(20, "RUNNING", 400, 0, Some("SELECT"))];
        // 21 waits for 20, every other waiter for 21 (a chain through one waiter).
        s.lock_waits = vec![lock_wait(LockKind::Row, 21, Some(20), 60)];
        s.lock_waits
            .extend((22..=32).map(|i| lock_wait(LockKind::Row, i, Some(21), 50)));
        let (f, a) = judged(&s);
        let long = f
            .iter()
            .find(|f| f.id == FindingId::LongRunningQueries)
            .unwrap();
        assert_eq!(long.slots, 13);
        assert!(
            matches!(
                a.verdict.cause,
                Some(FindingId::LongRunningQueries | FindingId::LockPileup)
            ),
            "{:?} {:?}",
            a.verdict,
            ids(&f)
        );
        assert_ne!(a.verdict.cause, Some(FindingId::IdleConnections));
        assert_eq!(a.verdict.explains, 13);
    }

    #[test]
    fn idle_connections_is_the_cause_only_for_idle_sessions_nothing_else_explains() {
        // 30 leaked in a staircase: the leak explains every idle session.
        let mut s = fixtures::mariadb();
        let v: Vec<Session> = (0..30)
            .map(|i| session(i + 1, "app", "10.0.0.7", "Sleep", 1900 - i * 60, "", None))
            .collect();
        fixtures::with_sessions(&mut s, v.clone());
        let (_, a) = judged(&s);
        assert_eq!(a.verdict.cause, Some(FindingId::ConnectionLeak));
        assert!(!a.verdict.also.contains(&FindingId::IdleConnections));
        // 40 more idle sessions from 40 hosts, no staircase: idle-connections explains more.
        let mut more = v;
        more.extend((0..40).map(|i| {
            session(
                100 + i,
                "web",
                &format!("10.0.1.{i}"),
                "Sleep",
                700,
                "",
                None,
            )
        }));
        fixtures::with_sessions(&mut s, more);
        let (f, a) = judged(&s);
        assert_eq!(
            a.verdict.cause,
            Some(FindingId::IdleConnections),
            "{:?}",
            ids(&f)
        );
        assert_eq!(a.verdict.explains, 40);
        assert_eq!(a.verdict.also.first(), Some(&FindingId::ConnectionLeak));
    }

    #[test]
    fn a_refusal_finding_without_slots_ranks_by_the_clients_refused() {
        let mut v = vec![
            Finding::new(FindingId::RefusedConnections, Severity::Critical, "t", "s").refused(2),
            Finding::new(FindingId::TrafficSpike, Severity::Warning, "t", "s").refused(9),
            Finding::new(FindingId::ConnectionLeak, Severity::Info, "t", "s").slots(5),
        ];
        crate::diagnose::rank(&mut v);
        assert_eq!(
            ids(&v),
            ["traffic-spike", "connection-leak", "refused-connections"]
        );
        // The cause still is what holds the slots.
        assert_eq!(
            cause(&v).main.map(|f| f.id),
            Some(FindingId::ConnectionLeak)
        );
    }

    #[test]
    fn after_the_incident_a_past_peak_is_not_the_cause_and_watch_is_suggested() {
        // The limit was reached and 1873 clients refused since startup; now 11 connections,
        // nothing holds the slots.
        let mut s = fixtures::mysql8();
        fixtures::with_sessions(
            &mut s,
            (1..=10)
                .map(|i| session(i, "web", "10.0.0.8", "Sleep", i % 3, "", None))
                .collect(),
        );
        fixtures::set_status(&mut s, "max_used_connections", 152);
        fixtures::set_status(&mut s, "connection_errors_max_connections", 1873);
        fixtures::set_status(&mut s, "aborted_connects", 1900);
        let (f, a) = judged(&s);
        assert!(
            f.iter().any(|f| f.id == FindingId::MaxConnectionsLow),
            "{:?}",
            ids(&f)
        );
        assert_ne!(
            a.verdict.cause,
            Some(FindingId::MaxConnectionsLow),
            "{:?}",
            a.verdict
        );
        assert!(!a.verdict.also.contains(&FindingId::MaxConnectionsLow));
        assert!(
            a.verdict
                .summary
                .contains("nothing holds the slots now: run `conncheck watch`"),
            "{}",
            a.verdict.summary
        );
        assert!(a.verdict.summary.contains("--trigger 'refused > 0'"));
    }

    fn ids(f: &[Finding]) -> Vec<&str> {
        f.iter().map(|f| f.id.as_str()).collect()
    }

    /// The bucket names are the serialized form (a JSON contract).
    #[test]
    fn bucket_names_are_their_json() {
        for b in [
            Bucket::Conncheck,
            Bucket::LoggingIn,
            Bucket::Killed,
            Bucket::Blocking,
            Bucket::WaitingForLock,
            Bucket::IdleInTransaction,
            Bucket::Leaked,
            Bucket::Idle,
            Bucket::IdleInPool,
            Bucket::LongQuery,
            Bucket::Running,
            Bucket::Unaccounted,
            Bucket::Replication,
            Bucket::System,
        ] {
            assert_eq!(
                serde_json::to_value(b).unwrap(),
                serde_json::Value::String(b.as_str().into())
            );
            assert_eq!(format!("{b:<20}|"), format!("{:<20}|", b.as_str()));
        }
    }
}
