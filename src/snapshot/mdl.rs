//! MariaDB's metadata-lock holders, from `information_schema.METADATA_LOCK_INFO`.
//!
//! MariaDB shows a metadata-lock wait only as the thread state `Waiting for table metadata
//! lock`, without the holder. With the `metadata_lock_info` plugin installed
//! (`INSTALL SONAME 'metadata_lock_info'`), `METADATA_LOCK_INFO` lists every *granted* metadata
//! lock with its holder's processlist id (`THREAD_ID` is the processlist id there, unlike MySQL's
//! performance_schema). It lists no pending request: a waiting `ALTER` appears only with the lock
//! it already holds (`MDL_SHARED_UPGRADABLE`), a waiting `SELECT` not at all (reference
//! mysql8-locks.md, seen live on 10.11). So, for each session in that wait state:
//!
//! - if it holds a table metadata lock itself (a DDL upgrading its lock), it waits for the other
//!   sessions holding a lock on that same table: those holders are *read*;
//! - otherwise it waits for a new lock, behind the pending upgrade of such a DDL (MariaDB grants
//!   no new shared lock while an exclusive request is queued): when exactly one table has a
//!   waiting upgrader, the waiter is attributed to that upgrader;
//! - anything else is left to the judgement's inference (`blocking_id: None`).
//!
//! The same rows name two more holders (docs/wait-states.md, seen live on 10.11):
//!
//! - `Waiting for backup lock`: the sessions holding `MDL_BACKUP_FTWRL1`/`FTWRL2` (FLUSH TABLES
//!   WITH READ LOCK) or a `BACKUP STAGE` mode. Never any other `Backup lock` row: every DML and
//!   DDL holds a backup mode too (`MDL_BACKUP_TRANS_DML`, `MDL_BACKUP_DDL`, …) and blocks
//!   nobody's write. A backup holder that itself waits (FTWRL waiting for running writes) waits
//!   for the sessions holding those DML/DDL modes that do not wait;
//! - `User lock` (GET_LOCK): the holder of the `User lock` row whose `TABLE_SCHEMA` is the
//!   lock name read from the waiter's statement.
//!
//! Read only on MariaDB, as the last statement of its round trip (a server without the plugin
//! answers ERROR 1109 and that costs nothing else). Matching is pure.

use std::collections::{BTreeMap, BTreeSet};

use mysql::Row;

use super::locks::{user_lock_name, waiting_for};
use super::model::{LockKind, LockWait, Session};
use super::row::{num, text};
use crate::exit::AppError;

/// At most this many lock rows are read.
pub const MAX_MDL_ROWS: usize = 20_000;

/// The statement: holder's processlist id, lock type, schema, table, lock mode.
pub fn sql() -> String {
    format!(
        "SELECT THREAD_ID, LOCK_TYPE, TABLE_SCHEMA, TABLE_NAME, LOCK_MODE \
         FROM information_schema.METADATA_LOCK_INFO LIMIT {MAX_MDL_ROWS}"
    )
}

/// A granted metadata lock.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Granted {
    pub holder: u64,
    /// `schema.table`, for table metadata locks only.
    pub table: Option<String>,
    /// `MDL_BACKUP_FTWRL2`, … for backup locks (upper case); empty for the others.
    pub backup_mode: String,
    /// The lock name, for user locks (GET_LOCK) only.
    pub user_lock: Option<String>,
}

/// Backup-lock modes that stop writers: FLUSH TABLES WITH READ LOCK and the BACKUP STAGE
/// stages (docs/wait-states.md).
const BACKUP_HOLDER_MODES: &[&str] = &[
    "MDL_BACKUP_FTWRL1",
    "MDL_BACKUP_FTWRL2",
    "MDL_BACKUP_START",
    "MDL_BACKUP_FLUSH",
    "MDL_BACKUP_WAIT_FLUSH",
    "MDL_BACKUP_WAIT_DDL",
    "MDL_BACKUP_WAIT_COMMIT",
    "MDL_BACKUP_BLOCK_DDL",
    "MDL_BACKUP_END",
];

impl Granted {
    /// Holds the global read lock or a BACKUP STAGE lock.
    fn stops_writers(&self) -> bool {
        BACKUP_HOLDER_MODES.contains(&self.backup_mode.as_str())
    }

    /// Holds the backup mode of a running write (DML, commit or DDL), which FLUSH TABLES WITH
    /// READ LOCK and BACKUP STAGE wait for.
    fn writes(&self) -> bool {
        !self.backup_mode.is_empty() && !self.stops_writers()
    }
}

pub fn rows<R: std::borrow::Borrow<Row>>(rows: impl IntoIterator<Item = R>) -> Vec<Granted> {
    rows.into_iter()
        .filter_map(|r| {
            let r = r.borrow();
            let holder = num(r, 0)?;
            let kind = text(r, 1).unwrap_or_default().to_ascii_lowercase();
            let table = kind
                .contains("table metadata lock")
                .then(|| Some(format!("{}.{}", text(r, 2)?, text(r, 3)?)))
                .flatten();
            let backup_mode = if kind.contains("backup lock") {
                text(r, 4).unwrap_or_default().to_ascii_uppercase()
            } else {
                String::new()
            };
            let user_lock = kind.contains("user lock").then(|| text(r, 2)).flatten();
            Some(Granted {
                holder,
                table,
                backup_mode,
                user_lock,
            })
        })
        .collect()
}

/// Whether the plugin is simply not installed (ERROR 1109 Unknown table): not worth a note, the
/// lock-pileup finding says how to install it when a holder has to be inferred.
pub fn not_installed(e: &AppError) -> bool {
    e.code == Some(crate::connect::error::code::UNKNOWN_TABLE)
}

/// The metadata-lock waits with their holders, as far as the granted locks tell (see the
/// module docs). Linear in sessions plus locks.
pub fn waits(sessions: &[Session], granted: &[Granted]) -> Vec<LockWait> {
    let waiting: BTreeMap<u64, &Session> = sessions
        .iter()
        .filter(|s| waiting_for(&s.state) == Some(LockKind::Metadata))
        .map(|s| (s.id, s))
        .collect();
    let mut holders: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    let mut held_by: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
    for g in granted {
        if let Some(t) = g.table.as_deref() {
            holders.entry(t).or_default().insert(g.holder);
            held_by.entry(g.holder).or_default().insert(t);
        }
    }
    // Tables with a waiting upgrader (a DDL holding its upgradable lock), and who. A waiting
    // DML statement may hold locks on other tables from earlier in its transaction: those say
    // nothing about what it waits for.
    let upgrading = |s: &Session| is_ddl(s.info.as_deref().unwrap_or(""));
    let mut upgraders: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    for (id, s) in &waiting {
        if !upgrading(s) {
            continue;
        }
        for t in held_by.get(id).into_iter().flatten() {
            upgraders.entry(t).or_default().insert(*id);
        }
    }
    let mut out = Vec::new();
    for (id, s) in &waiting {
        let own = held_by.get(id).filter(|_| upgrading(s));
        let mut add = |blocker: u64, table: &str| {
            out.push(LockWait {
                kind: LockKind::Metadata,
                waiting_id: *id,
                blocking_id: Some(blocker),
                object: Some(table.to_string()),
                wait_s: s.time_s,
            })
        };
        match own {
            Some(tables) => {
                for t in tables {
                    let others: Vec<u64> = holders[t].iter().copied().filter(|h| h != id).collect();
                    // Holders that wait themselves are queued like us; the ones that do not hold
                    // what we wait for.
                    let running: Vec<u64> = others
                        .iter()
                        .copied()
                        .filter(|h| !waiting.contains_key(h))
                        .collect();
                    for h in if running.is_empty() { others } else { running } {
                        add(h, t);
                    }
                }
            }
            None if upgraders.len() == 1 => {
                let (t, ups) = upgraders.iter().next().expect("one table");
                for u in ups {
                    add(*u, t);
                }
            }
            None => {}
        }
    }
    out.extend(backup_waits(sessions, granted));
    out.extend(user_lock_waits(sessions, granted));
    out
}

/// `Waiting for backup lock`: behind the sessions holding FTWRL or a BACKUP STAGE lock; a
/// holder that waits itself (FTWRL behind running writes) waits for the writers that do not.
fn backup_waits(sessions: &[Session], granted: &[Granted]) -> Vec<LockWait> {
    let waiting: BTreeSet<u64> = sessions
        .iter()
        .filter(|s| waiting_for(&s.state).is_some())
        .map(|s| s.id)
        .collect();
    let stoppers: BTreeSet<u64> = granted
        .iter()
        .filter(|g| g.stops_writers())
        .map(|g| g.holder)
        .collect();
    let writers: BTreeSet<u64> = granted
        .iter()
        .filter(|g| g.writes() && !waiting.contains(&g.holder))
        .map(|g| g.holder)
        .collect();
    let mut out = Vec::new();
    for s in sessions
        .iter()
        .filter(|s| waiting_for(&s.state) == Some(LockKind::Global))
    {
        let blockers = if stoppers.contains(&s.id) {
            &writers
        } else {
            &stoppers
        };
        for &b in blockers.iter().filter(|&&b| b != s.id) {
            out.push(LockWait {
                kind: LockKind::Global,
                waiting_id: s.id,
                blocking_id: Some(b),
                object: None,
                wait_s: s.time_s,
            });
        }
    }
    out
}

/// `User lock`: behind the holder of the user lock the waiter's GET_LOCK names.
fn user_lock_waits(sessions: &[Session], granted: &[Granted]) -> Vec<LockWait> {
    let holder: BTreeMap<&str, u64> = granted
        .iter()
        .filter_map(|g| Some((g.user_lock.as_deref()?, g.holder)))
        .collect();
    sessions
        .iter()
        .filter(|s| waiting_for(&s.state) == Some(LockKind::User))
        .filter_map(|s| {
            let name = user_lock_name(s.info.as_deref()?)?;
            let &h = holder.get(name.as_str())?;
            (h != s.id).then_some(LockWait {
                kind: LockKind::User,
                waiting_id: s.id,
                blocking_id: Some(h),
                object: Some(name),
                wait_s: s.time_s,
            })
        })
        .collect()
}

/// Statements that take an upgradable metadata lock and then wait to make it exclusive.
fn is_ddl(info: &str) -> bool {
    let head = info.trim_start().get(..16).unwrap_or(info.trim_start());
    let head = head.to_ascii_uppercase();
    [
        "ALTER", "CREATE", "DROP", "TRUNCATE", "RENAME", "OPTIMIZE", "REPAIR", "ANALYZE", "LOCK",
    ]
    .iter()
    .any(|k| head.starts_with(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(id: u64, state: &str) -> Session {
        Session {
            id,
            state: state.into(),
            time_s: 30,
            ..Session::default()
        }
    }

    fn g(holder: u64, table: Option<&str>) -> Granted {
        Granted {
            holder,
            table: table.map(str::to_string),
            ..Granted::default()
        }
    }

    fn backup(holder: u64, mode: &str) -> Granted {
        Granted {
            holder,
            backup_mode: mode.into(),
            ..Granted::default()
        }
    }

    /// The rows MariaDB 10.11 lists (seen live): session 4 idle after FLUSH TABLES WITH READ
    /// LOCK holds MDL_BACKUP_FTWRL2; 5 and 7 INSERT in `Waiting for backup lock` (5 holds its
    /// table's MDL_SHARED_WRITE); 8 runs an UPDATE (MDL_BACKUP_TRANS_DML) and is no holder.
    #[test]
    fn backup_lock_waiters_attach_only_to_ftwrl_and_backup_stage_holders() {
        let ins = |id| Session {
            info: Some("INSERT INTO shop.t VALUES (3,3)".into()),
            ..s(id, "Waiting for backup lock")
        };
        let sessions = vec![s(4, ""), ins(5), ins(7), s(8, "Updating"), s(9, "")];
        let granted = vec![
            backup(4, "MDL_BACKUP_FTWRL2"),
            g(5, Some("shop.t")),
            backup(8, "MDL_BACKUP_TRANS_DML"),
            backup(9, "MDL_BACKUP_DDL"),
        ];
        let w = waits(&sessions, &granted);
        let pairs: Vec<(u64, Option<u64>, LockKind)> = w
            .iter()
            .map(|w| (w.waiting_id, w.blocking_id, w.kind))
            .collect();
        assert_eq!(
            pairs,
            vec![
                (5, Some(4), LockKind::Global),
                (7, Some(4), LockKind::Global)
            ]
        );
        // FTWRL waiting for a running write: it waits for the writer, the INSERTs for it.
        let mut sessions = sessions;
        sessions[0] = s(4, "Waiting for backup lock");
        let granted = vec![
            backup(4, "MDL_BACKUP_FTWRL1"),
            backup(8, "MDL_BACKUP_TRANS_DML"),
        ];
        let pairs: Vec<(u64, Option<u64>)> = waits(&sessions, &granted)
            .iter()
            .map(|w| (w.waiting_id, w.blocking_id))
            .collect();
        assert_eq!(pairs, vec![(4, Some(8)), (5, Some(4)), (7, Some(4))]);
        // No backup holder listed: nothing is claimed.
        assert!(waits(&sessions, &[backup(8, "MDL_BACKUP_DML")]).is_empty());
    }

    #[test]
    fn user_lock_waiters_attach_to_the_holder_of_that_name() {
        let get = |id, name: &str| Session {
            info: Some(format!("SELECT GET_LOCK('{name}', 30)")),
            ..s(id, "User lock")
        };
        let sessions = vec![s(6, ""), get(7, "job:1"), get(8, "job:2"), s(9, "")];
        let granted = vec![
            Granted {
                holder: 6,
                user_lock: Some("job:1".into()),
                ..Granted::default()
            },
            Granted {
                holder: 9,
                user_lock: Some("other".into()),
                ..Granted::default()
            },
        ];
        let w = waits(&sessions, &granted);
        assert_eq!(w.len(), 1);
        assert_eq!(
            (w[0].waiting_id, w[0].blocking_id, w[0].kind),
            (7, Some(6), LockKind::User)
        );
        assert_eq!(w[0].object.as_deref(), Some("job:1"));
    }

    const MDL: &str = "Waiting for table metadata lock";

    #[test]
    fn the_classic_pileup_names_its_holders() {
        // 24 idle in transaction holds shop.t; 26 ALTERs it (holds SU, waits for X);
        // 27 and 28 SELECT from it behind the ALTER. The rows as MariaDB 10.11 lists them.
        let alter = Session {
            info: Some("ALTER TABLE t ADD COLUMN c INT".into()),
            ..s(26, MDL)
        };
        let sessions = vec![s(24, ""), alter, s(27, MDL), s(28, MDL)];
        let granted = vec![
            g(26, Some("shop.t")),
            g(24, Some("shop.t")),
            g(25, None),
            g(27, None),
        ];
        let w = waits(&sessions, &granted);
        let pairs: Vec<(u64, Option<u64>)> =
            w.iter().map(|w| (w.waiting_id, w.blocking_id)).collect();
        assert_eq!(pairs, vec![(26, Some(24)), (27, Some(26)), (28, Some(26))]);
        assert!(w.iter().all(|w| w.object.as_deref() == Some("shop.t")));
    }

    #[test]
    fn ambiguous_waiters_are_left_to_inference() {
        // Two tables with waiting upgraders: a plain waiter could be behind either.
        let ddl = |id| Session {
            info: Some("  alter table x engine=InnoDB".into()),
            ..s(id, MDL)
        };
        let sessions = vec![s(1, ""), s(2, ""), ddl(10), ddl(11), s(12, MDL)];
        let granted = vec![
            g(1, Some("a.t")),
            g(10, Some("a.t")),
            g(2, Some("b.u")),
            g(11, Some("b.u")),
        ];
        let w = waits(&sessions, &granted);
        assert!(w.iter().all(|w| w.waiting_id != 12));
        assert!(
            w.iter()
                .any(|w| w.waiting_id == 10 && w.blocking_id == Some(1))
        );
        assert!(
            w.iter()
                .any(|w| w.waiting_id == 11 && w.blocking_id == Some(2))
        );
        // A waiting DML statement holding a lock from earlier in its transaction is no upgrader.
        let dml = vec![s(1, ""), s(10, MDL)];
        assert!(waits(&dml, &[g(1, Some("a.t")), g(10, Some("a.t"))]).is_empty());
        // Without the plugin's rows nothing is claimed.
        assert!(waits(&sessions, &[]).is_empty());
    }

    fn refused(code: u16, message: &str) -> AppError {
        let e = mysql::Error::MySqlError(mysql::MySqlError {
            state: "42S02".into(),
            message: message.into(),
            code,
        });
        crate::connect::error::query_error(&e, "t", "reading the processlist")
    }

    /// Decided by the server's code, never by the text (a localized message, or another error
    /// that quotes "(ERROR 1109)", must not change it).
    #[test]
    fn missing_plugin_is_recognised_by_its_code() {
        assert!(not_installed(&refused(
            1109,
            "Unknown table 'METADATA_LOCK_INFO' in information_schema"
        )));
        assert!(not_installed(&refused(
            1109,
            "Table inconnue 'METADATA_LOCK_INFO'"
        )));
        assert!(!not_installed(&refused(1227, "Access denied (ERROR 1109)")));
        assert!(!not_installed(&AppError::new(
            crate::exit::ErrorKind::Other,
            "reading the processlist: Unknown table (ERROR 1109)"
        )));
    }
}
