//! What a judgement says: [`Finding`]s with their stable [`FindingId`], [`Severity`], evidence
//! and [`Action`]s. Plain data, shared by every heuristic, the verdict and every renderer.

use serde::{Deserialize, Serialize};

use super::threshold::FailOn;

/// Declares [`FindingId`] with its kebab-case name per variant (the serialized form and
/// [`FindingId::as_str`], from the one literal), and [`FindingId::ALL`] in the same order: a new id is one line here (the compiler then asks where it stands: prevention,
/// symptom), one row in the docs' table (`tests/finding_ids.rs` compares them).
macro_rules! finding_ids {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// The stable id of a finding. Serialized as its kebab-case name (`connection-leak`):
        /// scripts depend on the names, so a name never changes and an id is only ever added.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum FindingId {
            $($(#[$doc])* #[serde(rename = $name)] $variant,)*
        }

        impl FindingId {
            /// Every id, in the order of the docs' table.
            pub const ALL: &'static [FindingId] = &[$(FindingId::$variant,)*];

            /// The name scripts see (`connection-leak`), as serialized.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(FindingId::$variant => $name,)*
                }
            }
        }
    };
}

finding_ids! {
    /// Refused with 1040, or Threads_connected ≥ max_connections.
    ServerFull => "server-full",
    /// Usage at or above `--warning` / `--critical`.
    NearLimit => "near-limit",
    /// The server refused clients (Connection_errors_max_connections, Aborted_connects).
    RefusedConnections => "refused-connections",
    /// An account at its connection limit: ERROR 1203 (global max_user_connections) or 1226
    /// (its own MAX_USER_CONNECTIONS or an hourly limit).
    UserLimitReached => "user-limit-reached",
    /// A client host blocked after max_connect_errors connection errors: ERROR 1129.
    HostBlocked => "host-blocked",
    /// Sessions stuck in the login handshake (`unauthenticated user`, Connect) hold slots.
    HandshakeStall => "handshake-stall",
    /// max_connections at the default with a peak near it, or the peak reached the limit.
    MaxConnectionsLow => "max-connections-low",
    /// open_files_limit cannot hold max_connections.
    MaxConnectionsCapped => "max-connections-capped",
    /// One client's sleeping connections form a staircase of idle ages.
    ConnectionLeak => "connection-leak",
    /// One client's connections opened together and idle together: a fixed-size pool.
    FixedPool => "fixed-pool",
    /// Idle pool connections crowd out max_connections.
    PoolOversized => "pool-oversized",
    /// Sleeping sessions older than `--idle-threshold`.
    IdleConnections => "idle-connections",
    /// Statements running over `--long-query-threshold`.
    LongRunningQueries => "long-running-queries",
    /// Sleeping sessions with a transaction open over `--trx-threshold`.
    IdleTransactions => "idle-transactions",
    /// Sessions queued behind one lock holder.
    LockPileup => "lock-pileup",
    /// A transaction rolling back (a killed big write): rows left, rate, time left.
    RollbackInProgress => "rollback-in-progress",
    /// Connection rate or Threads_running far above normal, login storms.
    TrafficSpike => "traffic-spike",
    /// A replica's applier is stopped, far behind, or waits for a lock a client holds.
    ReplicationStall => "replication-stall",
    /// More client statements running at once than the server has CPU cores.
    ServerBusy => "server-busy",
    /// wait_timeout / interactive_timeout at 28800 while idle sessions pile up.
    WaitTimeoutHigh => "wait-timeout-high",
    /// max_connections connections against the server's RAM.
    MemoryHeadroom => "memory-headroom",
    /// thread_cache_size 0 or a high thread-cache miss rate.
    ThreadCache => "thread-cache",
    /// Aborted_clients / Aborted_connects high or rising.
    AbortedClients => "aborted-clients",
    /// max_user_connections 0 while one account holds most connections.
    PerUserLimitMissing => "per-user-limit-missing",
    /// The slow query log is off.
    SlowQueryLogOff => "slow-query-log-off",
    /// Only our own sessions are visible: the diagnosis is incomplete.
    NoProcessPrivilege => "no-process-privilege",
}

impl FindingId {
    /// Whether the finding advises how to prevent the next incident rather than explain this
    /// one: it never outranks a finding that holds slots or blocks sessions, whatever its
    /// severity, and is never the verdict's cause.
    pub const fn is_prevention(self) -> bool {
        use FindingId::*;
        match self {
            PerUserLimitMissing | WaitTimeoutHigh | SlowQueryLogOff | ThreadCache
            | MemoryHeadroom => true,
            ServerFull | NearLimit | RefusedConnections | MaxConnectionsLow
            | MaxConnectionsCapped | ConnectionLeak | FixedPool | PoolOversized
            | IdleConnections | LongRunningQueries | IdleTransactions | LockPileup
            | RollbackInProgress | TrafficSpike | ServerBusy | ReplicationStall
            | AbortedClients | NoProcessPrivilege | UserLimitReached | HostBlocked
            | HandshakeStall => false,
        }
    }

    /// Whether the finding says the server is (nearly) full rather than why: the verdict's
    /// cause only when nothing else explains the connections (a refused snapshot has nothing
    /// else).
    pub const fn is_symptom(self) -> bool {
        use FindingId::*;
        match self {
            NearLimit | ServerFull | RefusedConnections => true,
            MaxConnectionsLow | MaxConnectionsCapped | ConnectionLeak | FixedPool
            | PoolOversized | IdleConnections | LongRunningQueries | IdleTransactions
            | LockPileup | RollbackInProgress | TrafficSpike | ServerBusy | ReplicationStall
            | WaitTimeoutHigh | MemoryHeadroom | ThreadCache | AbortedClients
            | PerUserLimitMissing | SlowQueryLogOff | NoProcessPrivilege | UserLimitReached
            | HostBlocked | HandshakeStall => false,
        }
    }
}

impl std::fmt::Display for FindingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, not `write_str`: `{:<24}` in a table pads an id as it padded the string.
        f.pad(self.as_str())
    }
}

/// Ordered by name, as the string ids were: rankings that break ties by id, and maps keyed by
/// id, keep the order they had.
impl Ord for FindingId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for FindingId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::str::FromStr for FindingId {
    type Err = String;

    /// The id named `s` (`connection-leak`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FindingId::ALL
            .iter()
            .copied()
            .find(|id| id.as_str() == s)
            .ok_or_else(|| format!("no finding id {s:?}"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// Whether this severity meets `--fail-on`.
    pub fn at_least(self, fail_on: FailOn) -> bool {
        match fail_on {
            FailOn::Warning => self >= Severity::Warning,
            FailOn::Critical => self >= Severity::Critical,
        }
    }
}

/// What kind of step an action is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    /// A conncheck command line.
    Command,
    /// SQL to run on the server.
    Sql,
    /// A configuration snippet (my.cnf, parameter group).
    Config,
    /// Advice for the application side (pools, closing connections, slow queries).
    Advice,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub kind: ActionKind,
    /// What a person reads: for a command, the whole line to paste (connection options
    /// included once the report knows its target), with the note after `#`.
    pub text: String,
    /// Commands only: the command's own arguments after `conncheck` (subcommand and flags),
    /// without connection options. Heuristics stay pure: the target is added by the report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Commands only: the complete command to run, one word per element, starting with
    /// `conncheck` and the connection options of the run (never a password value).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub argv: Vec<String>,
    /// Commands only: what the command is for (shown after `#`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The server variables this action changes (`wait_timeout`, ...): a report suggests each
    /// setting once, in the highest-ranked finding (see [`super::suggest_each_setting_once`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<String>,
}

impl Action {
    /// A conncheck command written as for a shell: `conncheck kill-idle --older-than 300s   #
    /// note`. Quoted words (see `common::shell_arg`) keep their spaces; `-u <admin>` style
    /// placeholders are kept as they are.
    pub fn command(t: impl Into<String>) -> Self {
        let (mut words, note) = crate::connect::replay::split(&t.into());
        if words.first().is_some_and(|w| w == "conncheck") {
            words.remove(0);
        }
        Action::conncheck(words, note)
    }
    /// A conncheck command from its own arguments (after `conncheck`) and an optional note.
    pub fn conncheck(args: Vec<String>, note: Option<String>) -> Self {
        let mut a = Action {
            kind: ActionKind::Command,
            text: String::new(),
            args,
            argv: Vec::new(),
            note,
            settings: Vec::new(),
        };
        a.for_target(&crate::connect::replay::Replay::none());
        a
    }
    fn plain(kind: ActionKind, text: String) -> Self {
        Action {
            kind,
            text,
            args: Vec::new(),
            argv: Vec::new(),
            note: None,
            settings: Vec::new(),
        }
    }
    pub fn sql(t: impl Into<String>) -> Self {
        Action::plain(ActionKind::Sql, t.into())
    }
    pub fn config(t: impl Into<String>) -> Self {
        Action::plain(ActionKind::Config, t.into())
    }
    pub fn advice(t: impl Into<String>) -> Self {
        Action::plain(ActionKind::Advice, t.into())
    }
    /// Mark the server variables this action changes.
    pub fn changes<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Self {
        self.settings = names.into_iter().map(str::to_string).collect();
        self
    }

    /// Make the action reach `replay`'s server: a command gets the connection options in front
    /// of its own arguments (`text` and `argv`); prose gets them in every `` `conncheck …` ``.
    pub fn for_target(&mut self, replay: &crate::connect::replay::Replay) {
        match self.kind {
            ActionKind::Command => {
                self.text = replay.command_line(&self.args, self.note.as_deref());
                self.argv = replay.argv(&self.args);
            }
            _ => self.text = replay.in_prose(&self.text),
        }
    }
}

/// One named value that supports a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable id, e.g. `connection-leak` (scripts depend on it).
    pub id: FindingId,
    pub severity: Severity,
    pub title: String,
    /// One sentence with the numbers.
    pub summary: String,
    pub evidence: Vec<Evidence>,
    /// Processlist ids involved.
    pub sessions: Vec<u64>,
    pub actions: Vec<Action>,
    /// The connections this finding explains (a lock's root counts its waiters): the verdict's
    /// cause is the finding that explains the most.
    pub slots: u64,
    /// Clients refused during the sample (refusal findings hold no slots: they rank by this).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refused: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Finding {
    pub fn new(
        id: FindingId,
        severity: Severity,
        title: impl Into<String>,
        summary: impl Into<String>,
    ) -> Self {
        Finding {
            id,
            severity,
            title: title.into(),
            summary: summary.into(),
            evidence: Vec::new(),
            sessions: Vec::new(),
            actions: Vec::new(),
            slots: 0,
            refused: 0,
        }
    }

    pub fn evidence(mut self, name: &str, value: impl ToString) -> Self {
        self.evidence.push(Evidence {
            name: name.to_string(),
            value: value.to_string(),
        });
        self
    }

    pub fn action(mut self, a: Action) -> Self {
        self.actions.push(a);
        self
    }

    pub fn sessions(mut self, ids: impl IntoIterator<Item = u64>) -> Self {
        self.sessions.extend(ids);
        self
    }

    pub fn slots(mut self, n: u64) -> Self {
        self.slots = n;
        self
    }

    /// Clients refused during the sample (see [`Finding::refused`]).
    pub fn refused(mut self, n: u64) -> Self {
        self.refused = n;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names are the serialized form, every id once.
    #[test]
    fn names_are_the_serialized_ids() {
        for id in FindingId::ALL {
            assert_eq!(
                serde_json::to_value(id).unwrap(),
                serde_json::Value::String(id.as_str().into())
            );
            assert_eq!(id.as_str().parse::<FindingId>(), Ok(*id));
            assert_eq!(id.to_string(), id.as_str());
            assert_eq!(format!("{id:>25}"), format!("{:>25}", id.as_str()));
        }
        let mut names: Vec<&str> = FindingId::ALL.iter().map(|i| i.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FindingId::ALL.len());
        assert!("nope".parse::<FindingId>().is_err());
    }

    #[test]
    fn prevention_and_symptoms() {
        let prevention: Vec<&str> = FindingId::ALL
            .iter()
            .filter(|i| i.is_prevention())
            .map(|i| i.as_str())
            .collect();
        assert_eq!(
            prevention,
            [
                "wait-timeout-high",
                "memory-headroom",
                "thread-cache",
                "per-user-limit-missing",
                "slow-query-log-off"
            ]
        );
        let symptoms: Vec<&str> = FindingId::ALL
            .iter()
            .filter(|i| i.is_symptom())
            .map(|i| i.as_str())
            .collect();
        assert_eq!(
            symptoms,
            ["server-full", "near-limit", "refused-connections"]
        );
        // Ordered by name, as the string ids were.
        assert!(FindingId::AbortedClients < FindingId::WaitTimeoutHigh);
        assert!(FindingId::ServerFull > FindingId::NearLimit);
    }
}
