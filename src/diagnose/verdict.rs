//! The verdict: where every connection is, the main cause, and the fastest safe relief.
//!
//! Every session the server counts in Threads_connected is put in exactly one bucket, the first
//! that applies, in this order: conncheck itself, `logging-in`, `killed` (killed, not yet gone),
//! `waiting-for-lock`, `idle-in-transaction`, `leaked` (connection-leak's staircase), `idle`
//! (sleeping at least `--idle-threshold`), `idle-in-pool` (sleeping less), `long-query`
//! (running at least `--long-query-threshold`), `running`. Replication and system threads are
//! not client connections: they go to a separate `background` list. `unaccounted` is the counter
//! minus the processlist rows (the two are read a moment apart, and a server may count threads
//! the processlist does not show), so the buckets add up to Threads_connected exactly, and the
//! difference is visible instead of hidden; it is negative when the processlist had more rows.
//!
//! Buckets that belong to a client (`leaked`, `idle`, `idle-in-pool`) get one entry per client
//! (user@host, and the program when the server names it), the biggest first, the rest in one
//! entry without a client. Each entry names the finding that explains it when that finding lists
//! its sessions.
//!
//! The cause is the top-ranked finding that explains connections (never prevention advice, see
//! [`super::is_prevention`], and a symptom such as `near-limit` or `server-full` only when
//! nothing else explains them; `idle-connections` gives way to an equally severe
//! `connection-leak`, which says why they are idle); the relief is the cause's own kill command,
//! else the kill command among the causes that frees the most slots, without `--dry-run` (it still shows its plan and asks before killing), with the sessions it
//! ends as the slots it frees (sessions a killed lock holder unblocks come back later, and are
//! not counted). Pure: no I/O.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::analysis::Analysis;
use super::{ActionKind, Finding, FindingId, Thresholds, common};
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
            Bucket::WaitingForLock => Some(FindingId::LockPileup),
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

/// The fastest safe relief: a conncheck command and the slots it frees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relief {
    /// The whole command line to paste (connection options included once the report knows its
    /// target).
    pub command: String,
    /// The same, one word per element.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub argv: Vec<String>,
    pub frees: u64,
    /// The command's own arguments, to add the connection options of a target to.
    #[serde(skip)]
    args: Vec<String>,
}

impl Relief {
    /// Make the command reach `replay`'s server (see `connect::replay`).
    pub fn for_target(&mut self, replay: &crate::connect::replay::Replay) {
        self.command = replay.command_line(&self.args, None);
        self.argv = replay.argv(&self.args);
    }
}

/// The answer first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The finding id of the main cause, or None when nothing explains the connections.
    pub cause: Option<FindingId>,
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

/// Account the connections of the analysed snapshot against its ranked `findings`.
pub fn account(a: &Analysis, th: &Thresholds, findings: &[Finding]) -> Accounting {
    let snap = a.snap;
    let threads_connected = snap.threads_connected();
    if snap.refused.is_some() {
        return Accounting {
            verdict: verdict(findings, &[], threads_connected),
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
    let mut raw: HashMap<(Bucket, Option<Raw>), i64> = HashMap::new();
    let mut background: BTreeMap<Bucket, i64> = BTreeMap::new();
    let mut rows: i64 = 0;
    for s in &snap.sessions {
        let bucket = match s.kind() {
            SessionKind::Replication => {
                *background.entry(Bucket::Replication).or_default() += 1;
                continue;
            }
            SessionKind::System => {
                *background.entry(Bucket::System).or_default() += 1;
                continue;
            }
            SessionKind::Killed => Bucket::Killed,
            SessionKind::Client => bucket_of(s, th, &waiting, &trx, leaked),
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
        verdict: verdict(findings, &slots, threads_connected),
        slots,
        background,
        threads_connected,
    }
}

/// The bucket of one client session: the first that applies (see the module doc).
fn bucket_of(
    s: &Session,
    th: &Thresholds,
    waiting: &HashSet<u64>,
    trx: &HashMap<u64, &str>,
    leaked: &std::collections::BTreeSet<u64>,
) -> Bucket {
    if common::logging_in(s) {
        Bucket::LoggingIn
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

fn verdict(findings: &[Finding], slots: &[Slot], threads_connected: u64) -> Verdict {
    let causes: Vec<&Finding> = findings.iter().filter(|f| !f.id.is_prevention()).collect();
    // A symptom (the server is full) is the cause only when nothing else explains it.
    let mut cause = causes
        .iter()
        .find(|f| !f.id.is_symptom())
        .or_else(|| causes.first())
        .copied();
    // Idle sessions are how a leak shows; the leak says why. Name it when it is as severe.
    if let Some(f) = cause.filter(|f| f.id == FindingId::IdleConnections)
        && let Some(leak) = causes
            .iter()
            .filter(|l| l.id == FindingId::ConnectionLeak && l.severity == f.severity)
            .max_by_key(|l| l.slots)
    {
        cause = Some(leak);
    }
    // The cause's own relief first (the most targeted kill), else the one that frees the most
    // slots (the earlier ranked on a tie).
    let relief = cause.and_then(relief_of).or_else(|| {
        causes.iter().filter_map(|f| relief_of(f)).fold(
            None,
            |best: Option<Relief>, r| match best {
                Some(b) if b.frees >= r.frees => Some(b),
                _ => Some(r),
            },
        )
    });
    let summary = match cause {
        None => format!(
            "No cause found: {threads_connected} connections, {}.",
            top_buckets(slots)
        ),
        Some(f) => {
            let mut s = format!(
                "{} ({}); {threads_connected} connections: {}.",
                f.title,
                f.id,
                top_buckets(slots)
            );
            if let Some(r) = &relief {
                s.push_str(&format!(
                    " Fastest relief frees {}.",
                    common::plural(r.frees, "slot")
                ));
            }
            s
        }
    };
    Verdict {
        cause: cause.map(|f| f.id),
        summary,
        relief,
    }
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

/// The kill command of a finding that frees slots: `kill-idle`, or `kill-long` without
/// `--query-only` (which keeps the connections), made to run for real (it still asks first).
fn relief_of(f: &Finding) -> Option<Relief> {
    // Only a finding that lists its sessions knows what its command frees: a generic kill
    // suggestion (refused-connections' "kill-idle --older-than 300s") frees what it finds.
    if f.sessions.is_empty() {
        return None;
    }
    let a = f.actions.iter().find(|a| {
        a.kind == ActionKind::Command
            && matches!(
                a.args.first().map(String::as_str),
                Some("kill-idle" | "kill-long")
            )
            && !a.args.iter().any(|w| w == "--query-only")
    })?;
    let mut args = a.args.clone();
    args.retain(|w| w != "--dry-run");
    // The sessions the command ends; the slots their waiters then give back are not counted.
    let frees = f.sessions.len() as u64;
    let mut r = Relief {
        command: String::new(),
        argv: Vec::new(),
        frees,
        args,
    };
    r.for_target(&crate::connect::replay::Replay::none());
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::{self, session, trx};
    use crate::diagnose::{Severity, diagnose};

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
        assert_eq!(total(&a), counted as i64);
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
        assert_eq!(total(&a), s.threads_connected() as i64);
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

    /// The bucket names are the serialized form (a JSON contract).
    #[test]
    fn bucket_names_are_their_json() {
        for b in [
            Bucket::Conncheck,
            Bucket::LoggingIn,
            Bucket::Killed,
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
