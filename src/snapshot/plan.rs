//! The read plan: which statements a reader sends to one server, in order, each under its key.
//!
//! A [`Key`] names one read and decodes its rows into the snapshot's types, so a read's
//! statement and its decoder sit side by side where a plan is built ([`first`] for round trip 1,
//! [`Dialect::plan`] for round trip 2), and the reader takes each result back by key
//! ([`Results::take`]), never by position. Rows are decoded one at a time as they arrive, so a
//! result set is never held whole (10,000 processlist rows). The conformance tests check every
//! statement of these same plans against the servers' own table definitions, and the privilege
//! each one `needs` against what a least-privilege account may do: what they check is what the
//! reader sends.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use mysql::Row;

use crate::connect::Connection;
use crate::exit::{AppError, ErrorKind};

use super::batch;
use super::dialect::Dialect;
use super::locks::{self, LockRows};
use super::mdl::{self, Granted};
use super::model::{Account, HostCacheEntry, Session};
use super::row::{self, Transactions};
use super::sql::{self, LockRead};
use super::{accounts, connect_attrs, host_cache, thread_memory};

/// One kind of read: its name and what its rows decode to.
pub struct Key<T> {
    /// What it reads, as notes and the conformance tests name it; no two keys share it.
    pub what: &'static str,
    /// Its rows, decoded one at a time as they are read. The rows are hostile input: a decoder
    /// never panics. It owns each row, so that text columns move into the snapshot without a
    /// copy (10,000 processlist rows).
    pub decode: fn(&mut dyn Iterator<Item = Row>) -> T,
}

impl<T> Clone for Key<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Key<T> {}

/// `SELECT CONNECTION_ID(), CURRENT_USER()`: our id and account.
pub const IDENTITY: Key<(u64, String)> = Key {
    what: "our id",
    decode: |rows| row::identity(&rows.take(1).collect::<Vec<_>>()),
};
/// `SHOW GRANTS`, one line per row.
pub const GRANTS: Key<Vec<String>> = Key {
    what: "grants",
    decode: |rows| row::first_column(rows),
};
pub const VARIABLES: Key<BTreeMap<String, String>> = Key {
    what: "variables",
    decode: |rows| row::name_values(rows),
};
pub const STATUS: Key<BTreeMap<String, String>> = Key {
    what: "status",
    decode: |rows| row::name_values(rows),
};
/// A `SET SESSION` guard (read for its effect; there may be several).
pub const SESSION_GUARD: Key<()> = Key {
    what: "session guard",
    decode: |rows| row::nothing(rows),
};
pub const PROCESSLIST: Key<Vec<Session>> = Key {
    what: "processlist",
    decode: row::sessions,
};
/// MariaDB's processlist at scale (`SHOW FULL PROCESSLIST`).
pub const SHOW_PROCESSLIST: Key<Vec<Session>> = Key {
    what: "processlist (SHOW FULL PROCESSLIST)",
    decode: row::show_sessions,
};
pub const CLIENT_PROGRAMS: Key<Vec<(u64, String, String)>> = Key {
    what: "client programs",
    decode: |rows| connect_attrs::rows(rows),
};
pub const THREAD_MEMORY: Key<Vec<(u64, u64)>> = Key {
    what: "memory per connection",
    decode: |rows| thread_memory::rows(rows),
};
pub const TRANSACTIONS: Key<Transactions> = Key {
    what: "open transactions",
    decode: |rows| row::transactions(rows),
};
pub const ROW_LOCK_WAITS: Key<LockRows> = Key {
    what: "row-lock waits",
    decode: |rows| locks::row_waits(rows),
};
pub const LOCK_LIST: Key<LockRows> = Key {
    what: "locks waited for",
    decode: |rows| locks::lock_list(rows),
};
pub const METADATA_LOCK_WAITS: Key<LockRows> = Key {
    what: "metadata-lock waits",
    decode: |rows| locks::metadata_waits(rows),
};
/// The lock-table reads, in the order a plan sends them.
pub const LOCK_READS: [Key<LockRows>; 3] = [ROW_LOCK_WAITS, LOCK_LIST, METADATA_LOCK_WAITS];
pub const SYSTEM_USERS: Key<Vec<String>> = Key {
    what: "accounts with SYSTEM_USER",
    decode: |rows| row::first_column(rows),
};
pub const ACCOUNTS: Key<Vec<Account>> = Key {
    what: "account rows",
    decode: |rows| accounts::rows(rows),
};
pub const HOST_CACHE: Key<Vec<HostCacheEntry>> = Key {
    what: "host cache",
    decode: |rows| host_cache::rows(&rows.collect::<Vec<_>>()),
};
/// This server's replication channels as a replica (`SHOW ALL SLAVES STATUS`, `SHOW REPLICA
/// STATUS`).
pub const REPLICAS: Key<Vec<crate::snapshot::ReplicaChannel>> = Key {
    what: "replica status",
    decode: |rows| super::replication::rows(&rows.collect::<Vec<_>>()),
};
pub const METADATA_LOCK_HOLDERS: Key<Vec<Granted>> = Key {
    what: "metadata-lock holders",
    decode: |rows| mdl::rows(rows),
};

/// The key of a lock-table read.
fn lock_key(what: LockRead) -> Key<LockRows> {
    match what {
        LockRead::RowWaits => ROW_LOCK_WAITS,
        LockRead::LockTables => LOCK_LIST,
        LockRead::Metadata => METADATA_LOCK_WAITS,
    }
}

/// One statement of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    /// Its key's name.
    pub what: &'static str,
    pub sql: String,
    /// Whether the whole read fails without it (round trip 1 and the processlist).
    pub required: bool,
    /// The privilege it needs beyond logging in, on this server; "" for none.
    pub needs: &'static str,
}

/// One read's decoded result with its type erased (its key takes it back as its type).
pub type AnyResult = batch::Decoded<Box<dyn Any>>;

/// A key's decoder with its result's type erased, so that one plan holds reads of every type.
type AnyDecoder = Arc<dyn Fn(&mut dyn Iterator<Item = Row>) -> Box<dyn Any>>;

/// Statements sent together, in order.
#[derive(Clone, Default)]
pub struct Plan {
    reads: Vec<Read>,
    /// One per read, in the same order.
    decoders: Vec<AnyDecoder>,
}

/// Plans are compared and shown by their reads (a decoder is its key's, named by `what`).
impl PartialEq for Plan {
    fn eq(&self, other: &Plan) -> bool {
        self.reads == other.reads
    }
}

impl Eq for Plan {}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan").field("reads", &self.reads).finish()
    }
}

impl Plan {
    pub fn new() -> Plan {
        Plan::default()
    }

    /// Add a read: `key` names it and decodes its rows, `sql` reads them.
    pub fn add<T: 'static>(
        &mut self,
        key: Key<T>,
        sql: impl Into<String>,
        required: bool,
        needs: &'static str,
    ) -> &mut Plan {
        self.reads.push(Read {
            what: key.what,
            sql: sql.into(),
            required,
            needs,
        });
        let decode = key.decode;
        self.decoders
            .push(Arc::new(move |rows| Box::new(decode(rows)) as Box<dyn Any>));
        self
    }

    pub fn reads(&self) -> &[Read] {
        &self.reads
    }

    /// Whether the plan reads `key`.
    pub fn has<T>(&self, key: Key<T>) -> bool {
        self.reads.iter().any(|r| r.what == key.what)
    }

    /// Send the plan in one round trip; an optional read the server refuses costs one more for
    /// the reads after it, a required one ends the plan there (see [`batch::run`]).
    pub fn run(&self, c: &mut Connection, what: &str) -> Results {
        let stmts: Vec<String> = self.reads.iter().map(|r| r.sql.clone()).collect();
        let results = batch::run(
            c,
            &stmts,
            |i| self.reads[i].required,
            |i, rows| self.decoders[i](rows),
            what,
        );
        Results::of(self, results)
    }
}

/// The results of a plan, taken back by key.
#[derive(Debug, Default)]
pub struct Results {
    /// (key name, result not taken yet), in plan order.
    entries: Vec<(&'static str, Option<AnyResult>)>,
}

impl Results {
    /// Pair each read of `plan` with its result, in order (results beyond the plan's reads are
    /// ignored; a read without one has none).
    pub fn of(plan: &Plan, results: Vec<AnyResult>) -> Results {
        Results {
            entries: plan
                .reads
                .iter()
                .map(|r| r.what)
                .zip(results.into_iter().map(Some))
                .collect(),
        }
    }

    /// The result of the read `key`, decoded; None when the plan did not read it. A key read
    /// several times gives its results one by one, in plan order.
    pub fn take<T: 'static>(&mut self, key: Key<T>) -> Option<Result<T, AppError>> {
        let (_, slot) = self
            .entries
            .iter_mut()
            .find(|(what, r)| *what == key.what && r.is_some())?;
        let decoded = slot.take()?;
        // The plan decoded this read with the key of the same name (names are unique), so the
        // type matches; a mismatch is a bug, reported rather than a panic.
        Some(decoded.and_then(|d| {
            d.downcast::<T>().map(|t| *t).map_err(|_| {
                AppError::new(
                    ErrorKind::Other,
                    format!("internal error: {} decoded to another type", key.what),
                )
            })
        }))
    }

    /// The error of the read `key` when it failed (and was not taken yet).
    pub fn failed<T>(&self, key: Key<T>) -> Option<&AppError> {
        self.entries
            .iter()
            .find(|(what, r)| *what == key.what && r.is_some())
            .and_then(|(_, r)| r.as_ref()?.as_ref().err())
    }

    /// Every result of the read `key`, in plan order.
    pub fn take_all<T: 'static>(&mut self, key: Key<T>) -> Vec<Result<T, AppError>> {
        std::iter::from_fn(|| self.take(key)).collect()
    }

    /// The result of a read every plan of its kind has (round trip 1, the processlist): a plan
    /// without it is a bug, reported as an error rather than a panic.
    pub fn required<T: 'static>(&mut self, key: Key<T>) -> Result<T, AppError> {
        self.take(key).unwrap_or_else(|| {
            Err(AppError::new(
                ErrorKind::Other,
                format!("internal error: the read plan has no {}", key.what),
            ))
        })
    }
}

/// Round trip 1, the same on every server: our id and account, grants, the variables and
/// status we use. Every read is required.
pub fn first() -> Plan {
    let mut p = first_without_status();
    p.add(STATUS, sql::status_sql(), true, "");
    p
}

/// Round trip 1 without the global status: a kill plan does not use it, and it costs the server
/// a pass over every session (BENCHMARKS.md "Killing at the floor").
pub fn first_without_status() -> Plan {
    let mut p = Plan::new();
    p.add(IDENTITY, sql::IDENTITY_SQL, true, "")
        .add(GRANTS, sql::GRANTS_SQL, true, "")
        .add(VARIABLES, sql::variables_sql(), true, "");
    p
}

/// What a reader asks of the server in round trip 2, besides the processlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// The statement time limit our session guards set, in seconds.
    pub query_timeout_s: u64,
    /// What judging needs beyond the processlist: open transactions, lock waits and their
    /// holders, memory per session, the accounts whose sessions we may not kill.
    pub transactions: bool,
    /// The account rows (mysql.user) for per-account limits.
    pub accounts: bool,
    /// MariaDB's `SHOW FULL PROCESSLIST` instead of the precise source (see
    /// `read::SHOW_PROCESSLIST_FROM`).
    pub show_processlist: bool,
    /// Our account holds SYSTEM_USER (MySQL 8.0.16+): no need to read who else does.
    pub system_user: bool,
}

impl Needs {
    /// Every read the reader may send with the precise processlist (what the conformance tests
    /// check).
    pub fn everything(query_timeout_s: u64) -> Needs {
        Needs {
            query_timeout_s,
            transactions: true,
            accounts: true,
            show_processlist: false,
            system_user: false,
        }
    }
}

impl Dialect {
    /// Round trip 2 on this server: session guards, the processlist, then the optional reads
    /// `needs` asks for, each attempted whatever the grants say (roles and SUPER make the parsed
    /// grants unreliable): a refused one leaves a note and costs one more round trip for the
    /// rest, never the read. MariaDB's metadata-lock holders come last: without the plugin their
    /// failure costs nothing else.
    pub fn plan(&self, needs: &Needs) -> Plan {
        let mut p = Plan::new();
        for g in self.session_guards(needs.query_timeout_s) {
            // A guard the server does not know (old versions) only costs us the guard.
            p.add(SESSION_GUARD, g, false, "");
        }
        let see_all = "PROCESS to see other accounts' sessions";
        if needs.show_processlist {
            p.add(SHOW_PROCESSLIST, sql::SHOW_PROCESSLIST_SQL, true, see_all);
        } else {
            let sql = self.processlist_sql(self.processlist_source());
            p.add(PROCESSLIST, sql, true, see_all);
        }
        let pfs = "SELECT on performance_schema";
        if self.reads_connect_attrs() {
            p.add(CLIENT_PROGRAMS, connect_attrs::sql(), false, pfs);
        }
        let trx = needs.transactions;
        // MySQL 8's memory per session (MariaDB's is in the processlist read), for the
        // judgements and plans that read transactions too.
        if let Some(sql) = self.memory().and_then(thread_memory::sql).filter(|_| trx) {
            p.add(THREAD_MEMORY, sql, false, pfs);
        }
        if trx {
            p.add(TRANSACTIONS, sql::TRX_SQL, false, "PROCESS");
            if self.lock_tables_unavailable().is_none() {
                let needs = if self.has_data_lock_waits() {
                    "PROCESS and SELECT on performance_schema"
                } else {
                    "PROCESS"
                };
                for (what, sql) in sql::lock_wait_sql(self.flavor, self.version) {
                    p.add(lock_key(what), sql, false, needs);
                }
            }
            // MySQL 8.0.16+ without SYSTEM_USER: which accounts' sessions we may not kill.
            if self.system_user_guards_kill() && !needs.system_user {
                p.add(
                    SYSTEM_USERS,
                    sql::SYSTEM_USERS_SQL,
                    false,
                    "SELECT on mysql.global_grants (read only without SYSTEM_USER)",
                );
            }
        }
        if trx {
            // Replication lag and a stalled SQL thread explain a pile-up on a replica.
            p.add(
                REPLICAS,
                self.replica_status_sql(),
                false,
                self.replica_status_needs(),
            );
        }
        if needs.accounts {
            p.add(
                ACCOUNTS,
                accounts::accounts_sql(),
                false,
                "SELECT on mysql.user",
            );
            // Blocked hosts (ERROR 1129) are judged with the accounts' limits (1203, 1226).
            if self.reads_host_cache() {
                p.add(HOST_CACHE, host_cache::sql(), false, pfs);
            }
        }
        if trx && self.reads_metadata_lock_info() {
            // No privilege is checked (seen live on MariaDB 10.11: a USAGE account reads it);
            // it exists only with the plugin.
            p.add(
                METADATA_LOCK_HOLDERS,
                mdl::sql(),
                false,
                "the metadata_lock_info plugin",
            );
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Flavor;

    #[test]
    fn key_names_are_unique() {
        let mut names = vec![
            IDENTITY.what,
            GRANTS.what,
            VARIABLES.what,
            STATUS.what,
            SESSION_GUARD.what,
            PROCESSLIST.what,
            SHOW_PROCESSLIST.what,
            CLIENT_PROGRAMS.what,
            THREAD_MEMORY.what,
            TRANSACTIONS.what,
            SYSTEM_USERS.what,
            ACCOUNTS.what,
            HOST_CACHE.what,
            REPLICAS.what,
            METADATA_LOCK_HOLDERS.what,
        ];
        names.extend(LOCK_READS.iter().map(|k| k.what));
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
    }

    /// The plan of round trip 2 follows what the reader needs: the processlist always, the
    /// optional reads only when asked for, in the order that keeps a refusal cheap.
    #[test]
    fn the_plan_follows_the_needs() {
        let whats = |p: &Plan| p.reads().iter().map(|r| r.what).collect::<Vec<_>>();
        let maria = Dialect {
            flavor: Flavor::Mariadb,
            version: (10, 11, 6),
            rds: false,
            performance_schema: true,
        };
        let all = maria.plan(&Needs::everything(10));
        assert_eq!(
            whats(&all),
            [
                "session guard",
                "session guard",
                "session guard",
                "processlist",
                "client programs",
                "open transactions",
                "row-lock waits",
                "locks waited for",
                "replica status",
                "account rows",
                "host cache",
                "metadata-lock holders",
            ]
        );
        let status = maria.plan(&Needs {
            transactions: false,
            accounts: false,
            show_processlist: true,
            ..Needs::everything(10)
        });
        assert_eq!(
            whats(&status)[3..],
            ["processlist (SHOW FULL PROCESSLIST)", "client programs"]
        );
        assert!(status.reads()[3].required && !status.reads()[4].required);
        // MySQL 8.0.36 without SYSTEM_USER reads who has it; with it, not.
        let my = Dialect {
            version: (8, 0, 36),
            performance_schema: true,
            ..Dialect::default()
        };
        assert!(my.plan(&Needs::everything(10)).has(SYSTEM_USERS));
        assert!(my.plan(&Needs::everything(10)).has(THREAD_MEMORY));
        assert!(!my.plan(&Needs::everything(10)).has(METADATA_LOCK_HOLDERS));
        let sys = Needs {
            system_user: true,
            ..Needs::everything(10)
        };
        assert!(!my.plan(&sys).has(SYSTEM_USERS));
        // Round trip 1 is required throughout.
        assert!(first().reads().iter().all(|r| r.required));
    }

    /// What the server's rows for each read of `p` decode to, as [`Plan::run`] gives them.
    fn decoded(p: &Plan, rows: Vec<Result<Vec<Row>, AppError>>) -> Results {
        let results = rows
            .into_iter()
            .enumerate()
            .map(|(i, r)| r.map(|rows| p.decoders[i](&mut rows.into_iter())))
            .collect();
        Results::of(p, results)
    }

    /// Results come back by key whatever their position, a key read several times gives each
    /// result once, and a read the plan lacks is None (or an error where it is required).
    #[test]
    fn results_come_back_by_key() {
        let mut p = Plan::new();
        p.add(SESSION_GUARD, "SET a", false, "")
            .add(SESSION_GUARD, "SET b", false, "")
            .add(GRANTS, "SHOW GRANTS", true, "");
        let err = AppError::new(ErrorKind::Privilege, "refused (ERROR 1227)");
        let mut r = decoded(&p, vec![Ok(vec![]), Err(err), Ok(vec![])]);
        assert_eq!(r.take(GRANTS).map(|x| x.is_ok()), Some(true));
        assert!(r.take(GRANTS).is_none(), "taken once");
        let guards = r.take_all(SESSION_GUARD);
        assert_eq!(guards.len(), 2);
        assert!(guards[0].is_ok() && guards[1].is_err());
        assert!(r.take(STATUS).is_none());
        assert!(
            r.required(STATUS)
                .unwrap_err()
                .message
                .contains("no status")
        );
        // Fewer results than reads: the reads without one are absent, not a panic.
        let mut short = decoded(&p, vec![Ok(vec![])]);
        assert_eq!(short.take_all(SESSION_GUARD).len(), 1);
        assert!(short.take(GRANTS).is_none());
    }
}
