//! Lock waits as sessions: the lock-table rows joined with the open transactions, and the waits
//! the server shows only as a thread state.
//!
//! The lock tables list transactions and lock ids, bounded at [`MAX_LOCK_ROWS`] rows each
//! (`sql::lock_wait_sql`); [`lock_waits_from`] joins them with INNODB_TRX here, client side, into
//! waiting session, blocking session and table. MariaDB (and MySQL without the metadata-lock
//! instrument) expose metadata-lock and table-lock waits only through the processlist `State`,
//! without the holder: [`waits_from_states`] makes them [`LockWait`]s with `blocking_id: None`,
//! and the diagnosis infers the likely holder. Pure.

use std::borrow::Borrow;
use std::collections::{BTreeSet, HashMap, HashSet};

use mysql::Row;

use super::model::{LockKind, LockWait, Session, Transaction};
use super::row::{lock_wait_from_row, text};
use super::sql::{LockRead, MAX_LOCK_ROWS};

/// The processlist states of a lock wait, per flavor, and the lock each waits for
/// (docs/wait-states.md): matched case-insensitively, a state *starting with* the text. Where
/// the server cannot name the holder, these are the waits the judgement attributes to an
/// inferred holder (or to none: an idle backup or user-lock holder looks like any idle session).
pub const WAIT_STATES: &[(&str, LockKind)] = &[
    // MariaDB 10.4+ (FTWRL and BACKUP STAGE are backup locks) and MySQL 8
    // (LOCK INSTANCE FOR BACKUP).
    ("waiting for backup lock", LockKind::Global),
    // MySQL, and MariaDB before 10.4: FLUSH TABLES WITH READ LOCK held.
    ("waiting for global read lock", LockKind::Global),
    // MySQL: a COMMIT behind FLUSH TABLES WITH READ LOCK, or FTWRL behind a committing
    // transaction.
    ("waiting for commit lock", LockKind::Global),
    // Both: table, schema, stored function/procedure/package, trigger, event metadata locks.
    ("waiting for table metadata lock", LockKind::Metadata),
    ("waiting for schema metadata lock", LockKind::Metadata),
    (
        "waiting for stored function metadata lock",
        LockKind::Metadata,
    ),
    (
        "waiting for stored procedure metadata lock",
        LockKind::Metadata,
    ),
    (
        "waiting for stored package body metadata lock",
        LockKind::Metadata,
    ),
    ("waiting for trigger metadata lock", LockKind::Metadata),
    ("waiting for event metadata lock", LockKind::Metadata),
    ("waiting for tablespace metadata lock", LockKind::Metadata),
    // Both: THR_LOCK (MyISAM, LOCK TABLES).
    ("waiting for table level lock", LockKind::Table),
    // Both: FLUSH TABLES / a DDL waiting for the statements that have the table open, and the
    // statements queued behind it; `Waiting for tables` in old releases.
    ("waiting for table flush", LockKind::Flush),
    ("waiting for tables", LockKind::Flush),
    // Both: GET_LOCK() waiting for a user lock another session holds.
    ("user lock", LockKind::User),
];

/// The kind of lock a thread state is waiting for, if any (see [`WAIT_STATES`]).
pub fn waiting_for(state: &str) -> Option<LockKind> {
    let s = state.trim_start().to_ascii_lowercase();
    WAIT_STATES
        .iter()
        .find(|(prefix, _)| s.starts_with(prefix))
        .map(|&(_, kind)| kind)
        .or_else(|| {
            // Another metadata namespace a newer release may add.
            (s.starts_with("waiting for") && s.ends_with("metadata lock"))
                .then_some(LockKind::Metadata)
        })
}

/// The name of the user lock a `GET_LOCK('name', …)` statement asks for, when it is a plain
/// string literal (a name computed at run time cannot be read from the statement).
pub fn user_lock_name(info: &str) -> Option<String> {
    let lower = info.to_ascii_lowercase();
    let at = lower.find("get_lock")?;
    let rest = info[at + "get_lock".len()..]
        .trim_start()
        .strip_prefix('(')?;
    let rest = rest.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let mut name = String::new();
    let mut chars = rest[1..].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => name.push(chars.next()?),
            c if c == quote => {
                // A doubled quote is one quote character.
                if chars.clone().next() == Some(quote) {
                    chars.next();
                    name.push(quote);
                } else {
                    return Some(name);
                }
            }
            c => name.push(c),
        }
    }
    None
}

/// Waits visible in the processlist states that `known` does not already list.
pub fn waits_from_states(sessions: &[Session], known: &[LockWait]) -> Vec<LockWait> {
    let known: HashSet<u64> = known.iter().map(|w| w.waiting_id).collect();
    sessions
        .iter()
        .filter(|s| !known.contains(&s.id))
        .filter_map(|s| {
            waiting_for(&s.state).map(|kind| LockWait {
                kind,
                waiting_id: s.id,
                blocking_id: None,
                object: None,
                wait_s: s.time_s,
            })
        })
        .collect()
}

/// What the reader knows about lock ids besides the lock tables.
pub struct LockIds<'a> {
    /// trx id -> the id of the lock it waits for (INNODB_TRX.trx_requested_lock_id).
    pub requested: &'a HashMap<String, String>,
    /// MySQL 8 lock ids end with a pointer (`trx:space:page:heap:ptr`); MariaDB's do not
    /// (`trx:space:page:heap`).
    pub pointer_suffix: bool,
}

impl LockIds<'_> {
    /// What a lock is on, the same for every transaction's lock on it: the lock id without its
    /// transaction (and pointer) part: `space:page:heap` for a record, the table id for a table.
    fn target<'l>(&self, lock_id: &'l str) -> Option<&'l str> {
        let (_, rest) = lock_id.split_once(':')?;
        if self.pointer_suffix {
            rest.rsplit_once(':').map(|(t, _)| t)
        } else {
            Some(rest)
        }
    }
}

/// The lock-table rows as read, each read bounded by [`MAX_LOCK_ROWS`].
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LockRows {
    /// Requesting trx id, blocking trx id, requested lock id.
    pub row_waits: Vec<(String, String, Option<String>)>,
    /// Lock id -> `schema.table` (quotes removed).
    pub tables: HashMap<String, String>,
    /// Metadata-lock waits, already as sessions.
    pub metadata: Vec<LockWait>,
    /// The reads that had more rows than the bound (their extra rows are dropped).
    pub cut: Vec<&'static str>,
}

impl LockRows {
    /// The rows of one lock read (a decoder of the read plan): `what` says which.
    pub fn of<R: Borrow<Row>>(what: LockRead, rows: impl IntoIterator<Item = R>) -> LockRows {
        let mut l = LockRows::default();
        l.add(what, rows);
        l
    }

    /// Add the rows of another read.
    pub fn merge(&mut self, other: LockRows) {
        self.row_waits.extend(other.row_waits);
        self.tables.extend(other.tables);
        self.metadata.extend(other.metadata);
        self.cut.extend(other.cut);
    }

    fn add<R: Borrow<Row>>(&mut self, what: LockRead, rows: impl IntoIterator<Item = R>) {
        let name = match what {
            LockRead::RowWaits => "the row-lock waits",
            LockRead::LockTables => "the lock list",
            LockRead::Metadata => "the metadata-lock waits",
        };
        // Rows past the bound are read off the wire (the server asked for one more to say it
        // cut) but not kept.
        for (n, r) in rows.into_iter().enumerate() {
            if n == MAX_LOCK_ROWS {
                self.cut.push(name);
            }
            if n >= MAX_LOCK_ROWS {
                continue;
            }
            let r = r.borrow();
            match what {
                LockRead::RowWaits => self
                    .row_waits
                    .extend(text(r, 0).zip(text(r, 1)).map(|(a, b)| (a, b, text(r, 2)))),
                LockRead::LockTables => self.tables.extend(
                    text(r, 0)
                        .zip(text(r, 1))
                        .map(|(a, b)| (a, b.replace('`', ""))),
                ),
                LockRead::Metadata => {
                    let kind = metadata_kind(text(r, 4).as_deref());
                    self.metadata.extend(lock_wait_from_row(r, kind));
                }
            }
        }
    }
}

/// The kind of wait of a `performance_schema.metadata_locks` OBJECT_TYPE (docs/wait-states.md):
/// `GLOBAL` (FLUSH TABLES WITH READ LOCK), `COMMIT` (its commit lock) and `BACKUP LOCK`
/// (LOCK INSTANCE FOR BACKUP) stop every writer; `USER LEVEL LOCK` is GET_LOCK.
pub fn metadata_kind(object_type: Option<&str>) -> LockKind {
    match object_type.map(str::to_ascii_uppercase).as_deref() {
        Some("GLOBAL" | "COMMIT" | "BACKUP LOCK") => LockKind::Global,
        Some("USER LEVEL LOCK") => LockKind::User,
        _ => LockKind::Metadata,
    }
}

/// The rows of the row-lock waits read (a decoder of the read plan).
pub fn row_waits<R: Borrow<Row>>(rows: impl IntoIterator<Item = R>) -> LockRows {
    LockRows::of(LockRead::RowWaits, rows)
}

/// The rows of the read of the locks being waited for.
pub fn lock_list<R: Borrow<Row>>(rows: impl IntoIterator<Item = R>) -> LockRows {
    LockRows::of(LockRead::LockTables, rows)
}

/// The rows of MySQL's metadata-lock waits read.
pub fn metadata_waits<R: Borrow<Row>>(rows: impl IntoIterator<Item = R>) -> LockRows {
    LockRows::of(LockRead::Metadata, rows)
}

/// The lock waits of the lock-table rows, joined with the open transactions here: a wait pair
/// of transactions becomes waiting session, blocking session, the table of the requested lock
/// and how long the waiter's transaction has waited. A waiter listed once per lock ahead of it
/// gives one wait per distinct holder. When a read was cut at [`MAX_LOCK_ROWS`], a note says so,
/// and the transactions in `LOCK WAIT` that no row lists are attributed to the holders listed
/// for the same record (every request on one record queues behind the same granted locks), or
/// kept as waits without a known holder. Pure.
pub fn lock_waits_from(
    rows: &LockRows,
    transactions: &[Transaction],
    ids: &LockIds<'_>,
    notes: &mut Vec<String>,
) -> Vec<LockWait> {
    for what in &rows.cut {
        notes.push(format!(
            "lock waits cut: only the first {MAX_LOCK_ROWS} rows of {what} were read"
        ));
    }
    let by_trx: HashMap<&str, &Transaction> = transactions
        .iter()
        .map(|t| (t.trx_id.as_str(), t))
        .collect();
    let waits_itself = |t: &Transaction| t.state.eq_ignore_ascii_case("LOCK WAIT");
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    // lock target -> (holders not waiting themselves, table): for the waiters beyond the cut.
    let mut holders: HashMap<String, (BTreeSet<u64>, Option<String>)> = HashMap::new();
    const UNKNOWN_HOLDER: u64 = u64::MAX;
    let mut unlisted_holder = 0;
    let mut out = Vec::new();
    for (waiter, blocker, lock) in &rows.row_waits {
        let trx = |id: &String| by_trx.get(id.as_str()).copied();
        let Some(waiter) = trx(waiter) else {
            // A transaction that ended between the reads.
            continue;
        };
        let object = lock.as_ref().and_then(|l| rows.tables.get(l)).cloned();
        let Some(blocker) = trx(blocker) else {
            // A holder INNODB_TRX does not list: ended between the reads, or beyond InnoDB's
            // memory limit for these tables (MariaDB truncates INNODB_TRX at 16 MiB, ~600
            // transactions behind one row lock). The wait stays, its holder unknown.
            unlisted_holder += 1;
            if seen.insert((waiter.session_id, UNKNOWN_HOLDER)) {
                out.push(LockWait {
                    kind: LockKind::Row,
                    waiting_id: waiter.session_id,
                    blocking_id: None,
                    object,
                    wait_s: waiter.wait_s.unwrap_or(0),
                });
            }
            continue;
        };
        if !waits_itself(blocker)
            && let Some(target) = lock.as_deref().and_then(|l| ids.target(l))
        {
            let h = holders.entry(target.to_string()).or_default();
            h.0.insert(blocker.session_id);
            h.1 = h.1.take().or(object.clone());
        }
        if seen.insert((waiter.session_id, blocker.session_id)) {
            out.push(LockWait {
                kind: LockKind::Row,
                waiting_id: waiter.session_id,
                blocking_id: Some(blocker.session_id),
                object,
                wait_s: waiter.wait_s.unwrap_or(0),
            });
        }
    }
    if unlisted_holder > 0 {
        notes.push(format!(
            "{unlisted_holder} lock-wait rows name a holder transaction that INNODB_TRX does not list (it lists {} transactions; MariaDB truncates it at its 16 MiB limit): those waits are kept without their holder",
            transactions.len()
        ));
    }
    out.extend(rows.metadata.iter().cloned());
    if !rows.cut.is_empty() {
        let listed: HashSet<u64> = out.iter().map(|w| w.waiting_id).collect();
        let (mut attributed, mut unknown) = (0, 0);
        for t in transactions
            .iter()
            .filter(|t| waits_itself(t) && !listed.contains(&t.session_id))
        {
            let queue = ids
                .requested
                .get(&t.trx_id)
                .and_then(|l| ids.target(l))
                .and_then(|k| holders.get(k));
            let Some((hs, object)) = queue else {
                unknown += 1;
                out.push(LockWait {
                    kind: LockKind::Row,
                    waiting_id: t.session_id,
                    blocking_id: None,
                    object: None,
                    wait_s: t.wait_s.unwrap_or(0),
                });
                continue;
            };
            attributed += 1;
            out.extend(
                hs.iter()
                    .filter(|&&h| h != t.session_id)
                    .map(|&h| LockWait {
                        kind: LockKind::Row,
                        waiting_id: t.session_id,
                        blocking_id: Some(h),
                        object: object.clone(),
                        wait_s: t.wait_s.unwrap_or(0),
                    }),
            );
        }
        notes.push(format!(
            "lock waits beyond the cut: {attributed} more waiting transactions attributed to the holders listed for the same record, {unknown} left without a known holder"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_row(cells: &[&str]) -> Row {
        use mysql_common::constants::ColumnType;
        use mysql_common::packets::Column;
        let columns: std::sync::Arc<[Column]> = cells
            .iter()
            .map(|_| Column::new(ColumnType::MYSQL_TYPE_VAR_STRING))
            .collect();
        let values = cells
            .iter()
            .map(|c| mysql::Value::Bytes(c.as_bytes().to_vec()))
            .collect();
        mysql_common::row::new_row(values, columns)
    }

    /// Read a row at a time, a lock read keeps its first [`MAX_LOCK_ROWS`] rows and says it cut
    /// when the server sent more (the one extra row asked for), once; at the bound, no cut.
    #[test]
    fn a_streamed_lock_read_keeps_the_bound_and_says_it_cut_once() {
        let rows = |n: usize| (0..n).map(|i| text_row(&[&format!("{i}"), "7", "7:1:2:3"]));
        let over = row_waits(rows(MAX_LOCK_ROWS + 2));
        assert_eq!(over.row_waits.len(), MAX_LOCK_ROWS);
        assert_eq!(over.cut, ["the row-lock waits"]);
        assert_eq!(
            over.row_waits[0],
            ("0".into(), "7".into(), Some("7:1:2:3".into()))
        );
        let at = lock_list(rows(MAX_LOCK_ROWS));
        assert_eq!(at.tables.len(), MAX_LOCK_ROWS);
        assert!(at.cut.is_empty());
        // A row without its key columns is dropped, not a panic.
        let short = row_waits([text_row(&["1"])]);
        assert!(short.row_waits.is_empty() && short.cut.is_empty());
    }

    #[test]
    fn reads_user_lock_names() {
        assert_eq!(
            user_lock_name("SELECT GET_LOCK('job:1', 30)").as_deref(),
            Some("job:1")
        );
        assert_eq!(
            user_lock_name("select get_lock ( \"a''b\" , 5)").as_deref(),
            Some("a''b")
        );
        assert_eq!(
            user_lock_name("SELECT GET_LOCK('it''s', 5)").as_deref(),
            Some("it's")
        );
        assert_eq!(user_lock_name("SELECT GET_LOCK(CONCAT('a', id), 5)"), None);
        assert_eq!(user_lock_name("SELECT GET_LOCK('unterminated"), None);
        assert_eq!(user_lock_name("SELECT 1"), None);
    }

    /// performance_schema.metadata_locks OBJECT_TYPE values (mysql-server
    /// `MDL_key` namespaces as the table shows them, docs/wait-states.md).
    #[test]
    fn metadata_lock_object_types() {
        for (t, kind) in [
            (Some("TABLE"), LockKind::Metadata),
            (Some("SCHEMA"), LockKind::Metadata),
            (Some("GLOBAL"), LockKind::Global),
            (Some("COMMIT"), LockKind::Global),
            (Some("BACKUP LOCK"), LockKind::Global),
            (Some("USER LEVEL LOCK"), LockKind::User),
            (Some("user level lock"), LockKind::User),
            (None, LockKind::Metadata),
        ] {
            assert_eq!(metadata_kind(t), kind, "{t:?}");
        }
    }

    #[test]
    fn recognises_wait_states() {
        assert_eq!(
            waiting_for("Waiting for table metadata lock"),
            Some(LockKind::Metadata)
        );
        assert_eq!(
            waiting_for("Waiting for global read lock"),
            Some(LockKind::Global)
        );
        assert_eq!(
            waiting_for("Waiting for backup lock"),
            Some(LockKind::Global)
        );
        assert_eq!(
            waiting_for("Waiting for commit lock"),
            Some(LockKind::Global)
        );
        assert_eq!(waiting_for("User lock"), Some(LockKind::User));
        assert_eq!(
            waiting_for("Waiting for tablespace metadata lock"),
            Some(LockKind::Metadata)
        );
        assert_eq!(
            waiting_for("Waiting for sequence metadata lock"),
            Some(LockKind::Metadata)
        );
        assert_eq!(
            waiting_for("Waiting for table level lock"),
            Some(LockKind::Table)
        );
        assert_eq!(
            waiting_for("Waiting for table flush"),
            Some(LockKind::Flush)
        );
        assert_eq!(waiting_for("Waiting for tables"), Some(LockKind::Flush));
        assert_eq!(waiting_for("User sleep"), None);
        assert_eq!(waiting_for("Waiting on empty queue"), None);
        assert_eq!(waiting_for("Waiting for source to send event"), None);
        assert_eq!(waiting_for("User sleep"), None);
        assert_eq!(waiting_for(""), None);
    }

    #[test]
    fn adds_only_unknown_waiters() {
        let s = |id, state: &str| Session {
            id,
            state: state.into(),
            time_s: 7,
            ..Session::default()
        };
        let sessions = vec![
            s(1, "Waiting for table metadata lock"),
            s(2, "Waiting for table metadata lock"),
            s(3, ""),
        ];
        let known = vec![LockWait {
            kind: LockKind::Metadata,
            waiting_id: 2,
            blocking_id: Some(9),
            object: None,
            wait_s: 7,
        }];
        let w = waits_from_states(&sessions, &known);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].waiting_id, 1);
        assert_eq!(w[0].blocking_id, None);
    }

    fn trx(id: &str, session_id: u64, state: &str, wait_s: Option<u64>) -> Transaction {
        Transaction {
            trx_id: id.into(),
            session_id,
            state: state.into(),
            wait_s,
            ..Transaction::default()
        }
    }

    /// One holder (trx 100, session 1) and `n` waiters (trx 100+k, session 1+k) on the record
    /// `5:3:2`, listed as InnoDB lists them: each waiter once per lock ahead of it.
    fn queue(n: u64) -> (Vec<Transaction>, LockRows, HashMap<String, String>) {
        let mut t = vec![trx("100", 1, "RUNNING", None)];
        let mut rows = LockRows::default();
        let mut requested = HashMap::new();
        for k in 1..=n {
            let id = format!("{}", 100 + k);
            t.push(trx(&id, 1 + k, "LOCK WAIT", Some(k)));
            let lock = format!("{id}:5:3:2");
            requested.insert(id.clone(), lock.clone());
            rows.tables.insert(lock.clone(), "shop.t".into());
            for ahead in 0..k {
                rows.row_waits
                    .push((id.clone(), format!("{}", 100 + ahead), Some(lock.clone())));
            }
        }
        (t, rows, requested)
    }

    #[test]
    fn wait_pairs_become_session_waits_once_per_holder() {
        let (t, rows, requested) = queue(14);
        assert_eq!(rows.row_waits.len(), 105, "InnoDB's multiplicity");
        let ids = LockIds {
            requested: &requested,
            pointer_suffix: false,
        };
        let mut notes = Vec::new();
        let w = lock_waits_from(&rows, &t, &ids, &mut notes);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(w.len(), 105, "pairs of sessions are distinct here");
        let first = &w[0];
        assert_eq!(
            (first.waiting_id, first.blocking_id, first.kind),
            (2, Some(1), LockKind::Row)
        );
        assert_eq!(first.object.as_deref(), Some("shop.t"));
        assert_eq!(first.wait_s, 1);
        // Listed twice (two rows, same pair): one wait.
        let mut rows2 = rows.clone();
        rows2.row_waits.push(rows.row_waits[0].clone());
        assert_eq!(lock_waits_from(&rows2, &t, &ids, &mut notes).len(), 105);
        // A transaction that ended between the reads is skipped.
        let mut t2 = t.clone();
        t2.retain(|x| x.trx_id != "101");
        let w2 = lock_waits_from(&rows, &t2, &ids, &mut notes);
        assert!(w2.iter().all(|x| x.waiting_id != 2));
        // ... and a holder INNODB_TRX does not list (its 16 MiB limit) leaves the waits it
        // held up without a holder, once per waiter, with a note.
        let unknown: Vec<u64> = w2
            .iter()
            .filter(|x| x.blocking_id.is_none())
            .map(|x| x.waiting_id)
            .collect();
        assert_eq!(unknown, (3..=15).collect::<Vec<u64>>());
        assert_eq!(w2.len(), 105 - 14 + 13);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].starts_with("13 lock-wait rows name a holder transaction that INNODB_TRX does not list (it lists 14 transactions"), "{}", notes[0]);
    }

    /// Rows cut at the bound: the waiters no row lists still get the record's holder, and the
    /// note says what happened.
    #[test]
    fn waiters_beyond_the_cut_get_the_holder_of_their_record() {
        let (mut t, mut rows, mut requested) = queue(5);
        // Five more waiters on the same record that the (cut) rows do not list, and one on
        // another record.
        for k in 6..=10u64 {
            let id = format!("{}", 100 + k);
            t.push(trx(&id, 1 + k, "LOCK WAIT", Some(k)));
            requested.insert(id.clone(), format!("{id}:5:3:2"));
        }
        t.push(trx("999", 99, "LOCK WAIT", Some(3)));
        requested.insert("999".into(), "999:7:1:4".into());
        rows.cut.push("the row-lock waits");
        let ids = LockIds {
            requested: &requested,
            pointer_suffix: false,
        };
        let mut notes = Vec::new();
        let w = lock_waits_from(&rows, &t, &ids, &mut notes);
        let to_holder: BTreeSet<u64> = w
            .iter()
            .filter(|x| x.blocking_id == Some(1))
            .map(|x| x.waiting_id)
            .collect();
        assert_eq!(to_holder, (2..=11).collect());
        let other: Vec<&LockWait> = w.iter().filter(|x| x.waiting_id == 99).collect();
        assert_eq!(other.len(), 1);
        assert_eq!(
            other[0].blocking_id, None,
            "no row names the holder of its record"
        );
        assert!(
            w.iter()
                .filter(|x| (7..=11).contains(&x.waiting_id))
                .all(|x| x.object.as_deref() == Some("shop.t") && x.wait_s == x.waiting_id - 1)
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            notes[0].starts_with("lock waits cut: only the first 20000 rows of the row-lock waits")
        );
        assert!(
            notes[1].contains("5 more waiting transactions attributed"),
            "{}",
            notes[1]
        );
        assert!(
            notes[1].contains("1 left without a known holder"),
            "{}",
            notes[1]
        );
    }

    #[test]
    fn lock_targets_drop_the_transaction_and_mysql_pointer() {
        let requested = HashMap::new();
        let mariadb = LockIds {
            requested: &requested,
            pointer_suffix: false,
        };
        let mysql = LockIds {
            requested: &requested,
            pointer_suffix: true,
        };
        assert_eq!(mariadb.target("24:5:3:2"), Some("5:3:2"));
        assert_eq!(mariadb.target("24:17"), Some("17"));
        assert_eq!(
            mysql.target("140211201964816:2:4:2:140211086465800"),
            Some("2:4:2")
        );
        assert_eq!(
            mysql.target("140211201964816:1059:139664350547912"),
            Some("1059")
        );
        assert_eq!(mariadb.target("garbage"), None);
    }
}
